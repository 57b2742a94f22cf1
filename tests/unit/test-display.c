/*
 * The display surface (ui/console.c) and the VGA renderer (hw/display/vga-core.c) in-process:
 * dirty tracking redraws only the lines the guest touched, refreshes are rate-bounded and idle
 * costs none, PPM and PNG come out well-formed, the VGA device's saved state round-trips and
 * hostile saved values are brought back in range. Also measures a full 1024x768x32 refresh.
 */
#include <glib.h>
#include <pixman.h>
#include <stdio.h>
#include <string.h>
#include "hw/display/vga.h"
#include "xendm/display.h"
#include "xendm/keyval.h"
#include "xendm/machine.h"
#include "xendm/pci.h"

struct recorder {
    unsigned updates, resizes;
    int x, y, w, h;
};

static void rec_update(void *opaque, int x, int y, int w, int h)
{
    struct recorder *r = opaque;
    r->updates++;
    r->x = x;
    r->y = y;
    r->w = w;
    r->h = h;
}

static void rec_resize(void *opaque, int w, int h)
{
    struct recorder *r = opaque;
    r->resizes++;
}

static void vbe_mode(struct vga_state *s, uint16_t x, uint16_t y, uint16_t bpp)
{
    vga_vbe_write(s, VBE_DISPI_INDEX_ENABLE, 0);
    vga_vbe_write(s, VBE_DISPI_INDEX_XRES, x);
    vga_vbe_write(s, VBE_DISPI_INDEX_YRES, y);
    vga_vbe_write(s, VBE_DISPI_INDEX_BPP, bpp);
    vga_vbe_write(s, VBE_DISPI_INDEX_ENABLE, VBE_DISPI_ENABLED | VBE_DISPI_LFB_ENABLED);
}

static uint32_t surface_pixel(struct vga_state *s, int x, int y)
{
    pixman_image_t *img = display_console_image(s->con);
    const uint8_t *row = (const uint8_t *)pixman_image_get_data(img) +
                         (size_t)y * pixman_image_get_stride(img);
    return ((const uint32_t *)row)[x] & 0xffffff;
}

/* Runs the event loop until the console refreshed once more (or 2 s passed). */
static void wait_refresh(struct vga_state *s)
{
    uint64_t before = display_console_refresh_count(s->con);
    int64_t end = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;

    while (display_console_refresh_count(s->con) == before && g_get_monotonic_time() < end) {
        g_main_context_iteration(NULL, TRUE);
    }
    g_assert_cmpuint(display_console_refresh_count(s->con), >, before);
}

static void test_dirty_lines(void)
{
    struct vga_state s = {0};
    struct recorder rec = {0};
    const struct display_listener l = {.update = rec_update, .resize = rec_resize, .opaque = &rec};

    g_assert_true(vga_init(&s, NULL, 16u << 20, "test"));
    vbe_mode(&s, 1024, 768, 32);
    display_console_add_listener(s.con, &l); /* a full refresh for the new viewer */
    g_assert_cmpuint(rec.resizes, ==, 1);
    g_assert_cmpint(rec.w, ==, 1024);
    g_assert_cmpint(rec.h, ==, 768);

    /* Line 200 changes behind the tracker's back: a partial refresh must not redraw it. */
    s.vram.ptr[200 * 4096] = 0x77;
    vga_lfb_write(&s, 100 * 4096 + 8, 0x00123456, 4);
    wait_refresh(&s);
    g_assert_cmpint(rec.y, ==, 100);
    g_assert_cmpint(rec.h, ==, 1);
    g_assert_cmphex(surface_pixel(&s, 2, 100), ==, 0x123456);
    g_assert_cmphex(surface_pixel(&s, 0, 200), ==, 0);

    /* Two lines far apart: one bounding box, and nothing else rendered. */
    vga_lfb_write(&s, 10 * 4096, 0x00ffffff, 4);
    vga_lfb_write(&s, 20 * 4096 + 4092, 0x00010203, 4);
    wait_refresh(&s);
    g_assert_cmpint(rec.y, ==, 10);
    g_assert_cmpint(rec.h, ==, 11);
    g_assert_cmphex(surface_pixel(&s, 1023, 20), ==, 0x010203);
    g_assert_cmphex(surface_pixel(&s, 0, 200), ==, 0);

    /* A full refresh (screendump) sees everything. */
    display_console_refresh(s.con, true);
    g_assert_cmphex(surface_pixel(&s, 0, 200), ==, 0x77);

    display_console_remove_listener(s.con, &l);
    vga_fini(&s);
}

/* 15/16/24 bpp through pixman (aligned rows) and the plain loops (a panned, unaligned start). */
static void test_vbe_depths(void)
{
    static const struct {
        uint16_t bpp;
        uint32_t raw, rgb;
    } cases[] = {
        {16, 0xf800, 0xff0000}, {16, 0x07e0, 0x00ff00}, {16, 0x001f, 0x0000ff},
        {16, 0x8410, 0x848284}, {15, 0x7c00, 0xff0000}, {15, 0x03e0, 0x00ff00},
        {15, 0x4210, 0x848484}, {24, 0x123456, 0x123456}, {32, 0x00abcdef, 0xabcdef},
    };
    struct vga_state s = {0};

    g_assert_true(vga_init(&s, NULL, 16u << 20, "test"));
    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        unsigned bytes = (cases[i].bpp + 7) / 8;
        for (unsigned pan = 0; pan < 2; pan++) {
            vbe_mode(&s, 64, 8, cases[i].bpp);
            vga_vbe_write(&s, VBE_DISPI_INDEX_X_OFFSET, (uint16_t)pan);
            /* Pixel (5, 3) of the visible frame. */
            uint32_t off = 3 * 64 * bytes + (5 + pan) * bytes;
            vga_lfb_write(&s, off, cases[i].raw, bytes);
            display_console_refresh(s.con, true);
            g_assert_cmphex(surface_pixel(&s, 5, 3), ==, cases[i].rgb);
            g_assert_cmphex(surface_pixel(&s, 4, 3), ==, 0);
        }
    }
    vga_fini(&s);
}

/* Mode 3 from the standard tables, written through the ports as a BIOS does. */
static void text_mode3(struct vga_state *s)
{
    static const uint8_t sr[5] = {0x03, 0x00, 0x03, 0x00, 0x02};
    static const uint8_t cr[25] = {0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00,
                                   0x4f, 0x0e, 0x0f, 0x00, 0x00, 0x00, 0x00, 0x9c, 0x8e,
                                   0x8f, 0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff};
    static const uint8_t gr[9] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0e, 0x00, 0xff};

    vga_ioport_write(s, 0x3c2, 0x67);
    for (unsigned i = 0; i < 5; i++) {
        vga_ioport_write(s, 0x3c4, (uint8_t)i);
        vga_ioport_write(s, 0x3c5, sr[i]);
    }
    for (unsigned i = 0; i < 25; i++) {
        vga_ioport_write(s, 0x3d4, (uint8_t)i);
        vga_ioport_write(s, 0x3d5, cr[i]);
    }
    for (unsigned i = 0; i < 9; i++) {
        vga_ioport_write(s, 0x3ce, (uint8_t)i);
        vga_ioport_write(s, 0x3cf, gr[i]);
    }
    vga_ioport_read(s, 0x3da);
    for (unsigned i = 0; i < 16; i++) {
        vga_ioport_write(s, 0x3c0, (uint8_t)i);
        vga_ioport_write(s, 0x3c0, (uint8_t)i);
    }
    vga_ioport_write(s, 0x3c0, 0x10);
    vga_ioport_write(s, 0x3c0, 0x0c); /* blink enabled, line graphics */
    vga_ioport_write(s, 0x3c0, 0x12);
    vga_ioport_write(s, 0x3c0, 0x0f);
    vga_ioport_write(s, 0x3c0, 0x20);
    vga_ioport_write(s, 0x3c8, 7); /* DAC 7: white */
    for (unsigned i = 0; i < 3; i++) {
        vga_ioport_write(s, 0x3c9, 0x3f);
    }
}

/*
 * The cursor (CR0A/CR0B rows, CR0E/CR0F cell) and blinking characters change with time: a
 * text refresh asks to be called again, and over half a second both phases are seen.
 */
static void test_text_cursor_blink(void)
{
    struct vga_state s = {0};
    bool cursor_seen[2] = {false, false}, blink_seen[2] = {false, false};
    int64_t end;

    g_assert_true(vga_init(&s, NULL, 16u << 20, "test"));
    text_mode3(&s);
    vga_window_write(&s, 0x18000 + 2 * 5, 0x00);  /* cell 5: blank glyph, attr 0x07 */
    vga_window_write(&s, 0x18000 + 2 * 5 + 1, 0x07);
    for (unsigned row = 0; row < 16; row++) {
        s.vram.ptr[(1 * 32 + row) * 4 + 2] = 0xff; /* glyph 1 in plane 2: a full block */
    }
    vga_window_write(&s, 0x18000 + 2 * 6, 0x01);  /* cell 6: the block, white, blinking */
    vga_window_write(&s, 0x18000 + 2 * 6 + 1, 0x87);
    vga_ioport_write(&s, 0x3d4, 0x0e);
    vga_ioport_write(&s, 0x3d5, 0x00);
    vga_ioport_write(&s, 0x3d4, 0x0f);
    vga_ioport_write(&s, 0x3d5, 0x05);
    end = g_get_monotonic_time() + 700 * 1000;
    while (g_get_monotonic_time() < end) {
        g_assert_cmpuint(vga_refresh(&s, false), >, 0);
        /* Cursor rows 14-15 of cell 5 (x 45-53); row 0 never has it. */
        cursor_seen[surface_pixel(&s, 46, 14) == 0xffffff] = true;
        g_assert_cmphex(surface_pixel(&s, 46, 0), ==, 0);
        blink_seen[surface_pixel(&s, 56, 8) == 0xffffff] = true;
        g_usleep(10 * 1000);
    }
    g_assert_true(cursor_seen[0] && cursor_seen[1]);
    g_assert_true(blink_seen[0] && blink_seen[1]);
    vga_fini(&s);
}

static void test_rate_and_idle(void)
{
    struct vga_state s = {0};
    struct recorder rec = {0};
    const struct display_listener l = {.update = rec_update, .resize = rec_resize, .opaque = &rec};
    uint64_t before;
    int64_t start, end;

    g_assert_true(vga_init(&s, NULL, 16u << 20, "test"));
    vbe_mode(&s, 640, 480, 32);
    display_console_add_listener(s.con, &l);

    /* Idle: no guest write, no refresh (a VBE mode does not blink). */
    before = display_console_refresh_count(s.con);
    end = g_get_monotonic_time() + 200 * 1000;
    while (g_get_monotonic_time() < end) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
    g_assert_cmpuint(display_console_refresh_count(s.con), ==, before);

    /* A guest drawing without pause for 0.5 s: at most 30 refreshes a second. */
    start = g_get_monotonic_time();
    end = start + 500 * 1000;
    for (uint32_t i = 0; g_get_monotonic_time() < end; i++) {
        vga_lfb_write(&s, (i * 4) % (640 * 480 * 4), i, 4);
        g_main_context_iteration(NULL, FALSE);
    }
    uint64_t n = display_console_refresh_count(s.con) - before;
    g_test_message("%" G_GUINT64_FORMAT " refreshes in 0.5 s of continuous drawing", n);
    g_assert_cmpuint(n, >=, 5);
    g_assert_cmpuint(n, <=, DISPLAY_REFRESH_HZ / 2 + 2);

    display_console_remove_listener(s.con, &l);
    vga_fini(&s);
}

static void bench_full_refresh(void)
{
    struct vga_state s = {0};
    static const uint16_t depths[] = {32, 16, 8};

    g_assert_true(vga_init(&s, NULL, 16u << 20, "bench"));
    for (unsigned d = 0; d < G_N_ELEMENTS(depths); d++) {
        vbe_mode(&s, 1024, 768, depths[d]);
        display_console_refresh(s.con, true);
        int64_t t0 = g_get_monotonic_time();
        for (int i = 0; i < 50; i++) {
            display_console_refresh(s.con, true);
        }
        int64_t us = (g_get_monotonic_time() - t0) / 50;
        g_test_message("1024x768x%u full refresh: %" G_GINT64_FORMAT " us", depths[d], us);
    }
    /* A refresh with nothing dirty costs next to nothing. */
    int64_t t0 = g_get_monotonic_time();
    for (int i = 0; i < 1000; i++) {
        display_console_refresh(s.con, false);
    }
    g_test_message("1024x768x8 refresh, nothing dirty: %.2f us",
           (double)(g_get_monotonic_time() - t0) / 1000);
    vga_fini(&s);
}

static void test_dump_formats(void)
{
    pixman_image_t *img = pixman_image_create_bits(PIXMAN_x8r8g8b8, 3, 2, NULL, 12);
    uint32_t *bits = pixman_image_get_data(img);
    char *buf = NULL;
    size_t len = 0;
    FILE *f;

    bits[0] = 0x00ff0000;
    bits[1] = 0x0000ff00;
    bits[5] = 0xff0000ff; /* the x byte is not a colour */
    f = open_memstream(&buf, &len);
    g_assert_true(display_image_write(img, f, DISPLAY_DUMP_PPM, NULL));
    fclose(f);
    static const char want[] = "P6\n3 2\n255\n\xff\0\0\0\xff\0\0\0\0\0\0\0\0\0\0\0\0\xff";
    g_assert_cmpuint(len, ==, sizeof(want) - 1);
    g_assert_cmpint(memcmp(buf, want, len), ==, 0);
    free(buf);

    f = open_memstream(&buf, &len);
    g_assert_true(display_image_write(img, f, DISPLAY_DUMP_PNG, NULL));
    fclose(f);
    g_assert_cmpuint(len, >, 40);
    g_assert_cmpint(memcmp(buf, "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x03\0\0\0\x02", 24), ==, 0);
    free(buf);
    pixman_image_unref(img);
}

static struct machine *machine_with_vga(void **vga)
{
    struct machine *m = machine_new();
    struct kv_list *props = kv_parse("vgamem_mb=4", NULL, NULL);
    struct kv_list *none = kv_new();
    GError *err = NULL;

    g_assert_nonnull(machine_create_device(m, "i440fx", none, &err)); /* owns bus 0 */
    g_assert_no_error(err);
    kv_free(none);
    *vga = machine_create_device(m, "VGA", props, &err);
    g_assert_no_error(err);
    g_assert_nonnull(*vga);
    kv_free(props);
    return m;
}

static void test_state_round_trip(void)
{
    void *dev_a, *dev_b;
    struct machine *a = machine_with_vga(&dev_a), *b = machine_with_vga(&dev_b);
    struct vga_state *sa = dev_a, *sb = dev_b; /* struct vga_pci starts with its vga_state */
    GError *err = NULL;
    GBytes *state;

    vga_ioport_write(sa, 0x3c2, 0x67);
    vga_ioport_write(sa, 0x3c8, 7);
    vga_ioport_write(sa, 0x3c9, 0x3f);
    vbe_mode(sa, 800, 600, 16);
    vga_vbe_write(sa, VBE_DISPI_INDEX_BANK, 3);
    state = machine_save_state(a);
    g_assert_true(machine_load_state(b, g_bytes_get_data(state, NULL), g_bytes_get_size(state),
                                     &err));
    g_assert_no_error(err);
    g_assert_cmpint(memcmp(&sa->r, &sb->r, sizeof(sa->r)), ==, 0);
    g_bytes_unref(state);

    /* Hostile saved values: a bank past VRAM, a mode larger than VRAM, enabled. */
    sa->r.vbe_regs[VBE_DISPI_INDEX_BANK] = 0xffff;
    sa->r.vbe_regs[VBE_DISPI_INDEX_XRES] = 16000;
    sa->r.vbe_regs[VBE_DISPI_INDEX_YRES] = 12000;
    sa->r.vbe_regs[VBE_DISPI_INDEX_BPP] = 33;
    sa->r.sr_index = 0xff;
    state = machine_save_state(a);
    g_assert_true(machine_load_state(b, g_bytes_get_data(state, NULL), g_bytes_get_size(state),
                                     &err));
    g_assert_cmpuint(sb->r.vbe_bank_offset, ==, 0);
    g_assert_cmphex(sb->r.vbe_regs[VBE_DISPI_INDEX_ENABLE] & VBE_DISPI_ENABLED, ==, 0);
    g_assert_cmpuint(sb->r.sr_index, <, 8);
    display_console_refresh(sb->con, true); /* renders without reaching past VRAM */
    vga_window_write(sb, 0xffff, 1);
    g_bytes_unref(state);
    machine_free(a);
    machine_free(b);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/display/dirty-lines", test_dirty_lines);
    g_test_add_func("/display/vbe-depths", test_vbe_depths);
    g_test_add_func("/display/text-cursor-blink", test_text_cursor_blink);
    g_test_add_func("/display/rate-and-idle", test_rate_and_idle);
    g_test_add_func("/display/dump-formats", test_dump_formats);
    g_test_add_func("/display/state-round-trip", test_state_round_trip);
    g_test_add_func("/display/bench-full-refresh", bench_full_refresh);
    return g_test_run();
}
