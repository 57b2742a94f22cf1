/*
 * The standard VGA (`-device VGA,vgamem_mb=16`, as libxl passes it for vga="stdvga") through
 * xensim, as a BIOS and a guest driver program it: PCI identity and BAR sizes; register
 * read-back for each group; a text screen (font loaded into plane 2, characters through the
 * 0xB8000 window) and mode 13h drawn through the window, and a Bochs VBE 32-bpp mode drawn
 * through the LFB BAR, each checked pixel by pixel in a QMP screendump decoded here; hostile
 * sequences after which the device model must still answer.
 *
 * The same program runs against Debian's qemu-xen (suite qtest-qemu-xen); what only xendm
 * promises (Bochs' refusal of a mode larger than VRAM) is checked on xendm alone.
 */
#include "qtest-pci.h"
#include "qtest-qmp.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CMD(...) g_free(qtest_cmd_ok(__VA_ARGS__))

#define VGA_VENDOR 0x1234
#define VGA_DEVICE 0x1111
#define LFB_ADDR UINT64_C(0xe0000000)
#define MMIO_ADDR UINT64_C(0xe1000000)
#define ROM_ADDR UINT64_C(0xe2000000)
#define SCRATCH UINT64_C(0x200000) /* guest RAM the REP forms copy from */

struct vga_test {
    struct qtest *qt;
    struct qmp *qmp;
    unsigned devfn;
};

/* ---- machine ---- */

static unsigned find_vga(struct qtest *qt)
{
    for (unsigned slot = 0; slot < 32; slot++) {
        uint32_t id = qpci_read(qt, QPCI_DEVFN(slot, 0), 0, 4);
        if (id == (VGA_DEVICE << 16 | VGA_VENDOR)) {
            return QPCI_DEVFN(slot, 0);
        }
    }
    g_assert_not_reached();
}

static void vga_start(struct vga_test *t, const char *extra)
{
    g_autofree char *qmp_path = qtest_tmp_path("qmp-vga.sock");
    g_autofree char *args = g_strdup_printf(
        "-chardev socket,id=test-qmp,path=%s,server=on,wait=off "
        "-mon chardev=test-qmp,mode=control -device VGA,vgamem_mb=16 %s", qmp_path,
        extra ? extra : "");

    unlink(qmp_path);
    t->qt = qtest_start("--serial null", args);
    t->qmp = qmp_open(qmp_path);
    qmp_call_ok(t->qmp, "{\"execute\":\"qmp_capabilities\"}");
    t->devfn = find_vga(t->qt);
}

static void vga_stop(struct vga_test *t)
{
    g_autofree char *status = qtest_dm_status(t->qt);

    g_assert_cmpstr(status, ==, "running");
    qmp_close(t->qmp);
    g_assert_cmpint(qtest_quit(t->qt), ==, 0);
}

static void map_bars(struct vga_test *t)
{
    qpci_write(t->qt, t->devfn, 0x10, (uint32_t)LFB_ADDR, 4);
    qpci_write(t->qt, t->devfn, 0x18, (uint32_t)MMIO_ADDR, 4);
    qpci_write(t->qt, t->devfn, 0x04, 0x0003, 2);
}

/* ---- register programming ---- */

/* Index, then data: sequencer, graphics controller, CRTC (colour ports). */
static void seq(struct qtest *qt, uint8_t i, uint8_t v)
{
    qtest_outb(qt, 0x3c4, i);
    qtest_outb(qt, 0x3c5, v);
}

static void gfx(struct qtest *qt, uint8_t i, uint8_t v)
{
    qtest_outb(qt, 0x3ce, i);
    qtest_outb(qt, 0x3cf, v);
}

static void crtc(struct qtest *qt, uint8_t i, uint8_t v)
{
    qtest_outb(qt, 0x3d4, i);
    qtest_outb(qt, 0x3d5, v);
}

static void vbe_write(struct qtest *qt, uint16_t index, uint16_t value)
{
    qtest_outw(qt, 0x1ce, index);
    qtest_outw(qt, 0x1cf, value);
}

static uint16_t vbe_read(struct qtest *qt, uint16_t index)
{
    qtest_outw(qt, 0x1ce, index);
    return qtest_inw(qt, 0x1cf);
}

/* A mode from the standard register tables (IBM VGA Technical Reference, BIOS mode sets). */
struct vga_mode_regs {
    uint8_t misc, sr[5], cr[25], gr[9], ar[21];
};

static const struct vga_mode_regs mode3 = {
    .misc = 0x67,
    .sr = {0x03, 0x00, 0x03, 0x00, 0x02},
    .cr = {0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00, 0x4f, 0x20, 0x0e, 0x00,
           0x00, 0x00, 0x00, 0x9c, 0x8e, 0x8f, 0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff},
    .gr = {0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0e, 0x00, 0xff},
    .ar = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3a, 0x3b, 0x3c,
           0x3d, 0x3e, 0x3f, 0x0c, 0x00, 0x0f, 0x08, 0x00},
};

static const struct vga_mode_regs mode13 = {
    .misc = 0x63,
    .sr = {0x03, 0x01, 0x0f, 0x00, 0x0e},
    .cr = {0x5f, 0x4f, 0x50, 0x82, 0x54, 0x80, 0xbf, 0x1f, 0x00, 0x41, 0x00, 0x00, 0x00,
           0x00, 0x00, 0x00, 0x9c, 0x8e, 0x8f, 0x28, 0x40, 0x96, 0xb9, 0xa3, 0xff},
    .gr = {0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x05, 0x0f, 0xff},
    .ar = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c,
           0x0d, 0x0e, 0x0f, 0x41, 0x00, 0x0f, 0x00, 0x00},
};

static void set_mode(struct qtest *qt, const struct vga_mode_regs *m)
{
    qtest_outb(qt, 0x3c2, m->misc);
    for (unsigned i = 0; i < 5; i++) {
        seq(qt, (uint8_t)i, m->sr[i]);
    }
    crtc(qt, 0x11, 0x0e); /* unprotect CR0-7 */
    for (unsigned i = 0; i < 25; i++) {
        crtc(qt, (uint8_t)i, m->cr[i]);
    }
    for (unsigned i = 0; i < 9; i++) {
        gfx(qt, (uint8_t)i, m->gr[i]);
    }
    qtest_inb(qt, 0x3da); /* flip-flop to index */
    for (unsigned i = 0; i < 21; i++) {
        qtest_outb(qt, 0x3c0, (uint8_t)i);
        qtest_outb(qt, 0x3c0, m->ar[i]);
    }
    qtest_outb(qt, 0x3c0, 0x20); /* palette address source: the screen shows */
}

/* DAC entries through the 3-write cycle; components 0 or 0x3f (8 bits: 0 or 0xff anywhere). */
static uint32_t dac_rgb(unsigned i)
{
    return ((i & 4) ? 0xff0000u : 0) | ((i & 2) ? 0xff00u : 0) | ((i & 1) ? 0xffu : 0);
}

static void load_dac(struct qtest *qt)
{
    uint8_t pal[768];

    for (unsigned i = 0; i < 256; i++) {
        pal[3 * i] = (i & 4) ? 0x3f : 0;
        pal[3 * i + 1] = (i & 2) ? 0x3f : 0;
        pal[3 * i + 2] = (i & 1) ? 0x3f : 0;
    }
    qtest_memwrite(qt, SCRATCH, pal, sizeof(pal));
    qtest_outb(qt, 0x3c8, 0);
    CMD(qt, "outs 1 0x3c9 0x%" PRIx64 " 768", SCRATCH);
}

/* Copies bytes into the VGA window through REP MOVS (one ioreq per page). */
static void window_write(struct qtest *qt, uint32_t offset, const uint8_t *buf, size_t len)
{
    qtest_memwrite(qt, SCRATCH, buf, len);
    CMD(qt, "movs_to_mmio 1 0x%x 0x%" PRIx64 " %zu", 0xa0000 + offset, SCRATCH, len);
}

/* ---- tests ---- */

static uint32_t bar_size_mask(struct vga_test *t, unsigned reg, uint32_t all_ones)
{
    uint32_t old = qpci_read(t->qt, t->devfn, reg, 4), mask;

    qpci_write(t->qt, t->devfn, reg, all_ones, 4);
    mask = qpci_read(t->qt, t->devfn, reg, 4);
    qpci_write(t->qt, t->devfn, reg, old, 4);
    return mask;
}

static void test_pci_identity(void)
{
    struct vga_test t;
    uint32_t rom_mask;

    vga_start(&t, NULL);
    g_assert_cmphex(qpci_read(t.qt, t.devfn, 0x08, 4), ==, 0x03000002); /* class, rev 2 */
    g_assert_cmphex(qpci_read(t.qt, t.devfn, 0x2c, 4), ==, 0x11001af4);
    g_assert_cmphex(qpci_read(t.qt, t.devfn, 0x3d, 1), ==, 0);
    g_assert_cmphex(bar_size_mask(&t, 0x10, 0xffffffff), ==, 0xff000008); /* 16 MiB, prefetch */
    g_assert_cmphex(bar_size_mask(&t, 0x14, 0xffffffff), ==, 0);
    g_assert_cmphex(bar_size_mask(&t, 0x18, 0xffffffff), ==, 0xfffff000); /* 4 KiB MMIO */
    rom_mask = bar_size_mask(&t, 0x30, 0xfffff800);
    g_assert_cmphex(rom_mask & 0xfffff800, !=, 0);
    g_assert_cmphex(~(rom_mask & 0xfffff800) + 1, >=, 32 * 1024); /* the VGA BIOS fits */

    /* The ROM shows the VGA BIOS signature once enabled. */
    qpci_write(t.qt, t.devfn, 0x30, (uint32_t)ROM_ADDR | 1, 4);
    map_bars(&t);
    g_assert_cmphex(qtest_readb(t.qt, ROM_ADDR), ==, 0x55);
    g_assert_cmphex(qtest_readb(t.qt, ROM_ADDR + 1), ==, 0xaa);

    /* BAR2: VBE registers at 0x500, the VGA ports at 0x400. */
    g_assert_cmphex(qmem_read(t.qt, MMIO_ADDR + 0x500, 2), ==, 0xb0c5);
    g_assert_cmphex(qmem_read(t.qt, MMIO_ADDR + 0x500 + 2 * 0xa, 2), ==, 16 * 1024 / 64);
    qmem_write(t.qt, MMIO_ADDR + 0x400 + 0x04, 0x02, 1); /* 0x3c4 */
    qmem_write(t.qt, MMIO_ADDR + 0x400 + 0x05, 0x0a, 1);
    g_assert_cmphex(qtest_inb(t.qt, 0x3c5), ==, 0x0a);
    vga_stop(&t);
}

static void test_registers(void)
{
    struct vga_test t;
    struct qtest *qt;
    uint8_t a, b;

    vga_start(&t, NULL);
    qt = t.qt;
    /* Misc output, read at 0x3CC; bit 0 moves the CRTC between 0x3Bx and 0x3Dx. */
    qtest_outb(qt, 0x3c2, 0x67);
    g_assert_cmphex(qtest_inb(qt, 0x3cc), ==, 0x67);
    crtc(qt, 0x0c, 0x12);
    g_assert_cmphex(qtest_inb(qt, 0x3d5), ==, 0x12);
    qtest_outb(qt, 0x3c2, 0x66);
    qtest_outb(qt, 0x3b4, 0x0c);
    g_assert_cmphex(qtest_inb(qt, 0x3b5), ==, 0x12);
    g_assert_cmphex(qtest_inb(qt, 0x3d4), ==, 0xff); /* not decoded in mono */
    qtest_outb(qt, 0x3c2, 0x67);

    /* CR11 bit 7 protects CR0-7 (except CR7 bit 4). */
    crtc(qt, 0x11, 0x00);
    crtc(qt, 0x01, 0x4f);
    crtc(qt, 0x11, 0x80);
    crtc(qt, 0x01, 0x27);
    qtest_outb(qt, 0x3d4, 0x01);
    g_assert_cmphex(qtest_inb(qt, 0x3d5), ==, 0x4f);
    crtc(qt, 0x11, 0x00);

    /* Sequencer and graphics controller, index and data. */
    seq(qt, 0x02, 0x0f);
    g_assert_cmphex(qtest_inb(qt, 0x3c4), ==, 0x02);
    g_assert_cmphex(qtest_inb(qt, 0x3c5), ==, 0x0f);
    seq(qt, 0x04, 0x0e);
    g_assert_cmphex(qtest_inb(qt, 0x3c5), ==, 0x0e);
    gfx(qt, 0x08, 0xa5);
    g_assert_cmphex(qtest_inb(qt, 0x3ce), ==, 0x08);
    g_assert_cmphex(qtest_inb(qt, 0x3cf), ==, 0xa5);
    gfx(qt, 0x05, 0x40);
    g_assert_cmphex(qtest_inb(qt, 0x3cf), ==, 0x40);
    /* A word write is index then data. */
    qtest_outw(qt, 0x3ce, 0x0703);
    qtest_outb(qt, 0x3ce, 0x03);
    g_assert_cmphex(qtest_inb(qt, 0x3cf), ==, 0x07);

    /* Attribute controller: reading input status 1 resets the flip-flop to index. */
    qtest_inb(qt, 0x3da);
    qtest_outb(qt, 0x3c0, 0x05);
    qtest_outb(qt, 0x3c0, 0x2a);
    g_assert_cmphex(qtest_inb(qt, 0x3c0), ==, 0x05);
    g_assert_cmphex(qtest_inb(qt, 0x3c1), ==, 0x2a);
    qtest_outb(qt, 0x3c0, 0x12); /* flip-flop went back to index after the data write */
    qtest_outb(qt, 0x3c0, 0x0f);
    qtest_outb(qt, 0x3c0, 0x12);
    g_assert_cmphex(qtest_inb(qt, 0x3c1), ==, 0x0f);
    qtest_inb(qt, 0x3da);
    qtest_outb(qt, 0x3c0, 0x20);

    /* DAC: three writes per entry, three reads, the index advancing. */
    qtest_outb(qt, 0x3c8, 0x10);
    for (unsigned i = 0; i < 6; i++) {
        qtest_outb(qt, 0x3c9, (uint8_t)(0x01 + 7 * i));
    }
    g_assert_cmphex(qtest_inb(qt, 0x3c8), ==, 0x12);
    qtest_outb(qt, 0x3c7, 0x10);
    g_assert_cmphex(qtest_inb(qt, 0x3c7), ==, 0x03);
    for (unsigned i = 0; i < 6; i++) {
        g_assert_cmphex(qtest_inb(qt, 0x3c9), ==, 0x01 + 7 * i);
    }
    if (qtest_dm_is_xendm()) {
        /* The PEL mask reads back as written (qemu-xen ignores it and reads 0). */
        qtest_outb(qt, 0x3c6, 0xfe);
        g_assert_cmphex(qtest_inb(qt, 0x3c6), ==, 0xfe);
        qtest_outb(qt, 0x3c6, 0xff);
    }

    /* Input status 1: retrace and display-enable change for a polling BIOS. */
    bool changed = false;
    a = qtest_inb(qt, 0x3da);
    for (unsigned i = 0; i < 200 && !changed; i++) {
        b = qtest_inb(qt, 0x3da);
        changed = ((a ^ b) & 0x08) != 0;
    }
    g_assert_true(changed);

    /* VBE DISPI through the ports. */
    g_assert_cmphex(vbe_read(qt, 0), ==, 0xb0c5);
    g_assert_cmphex(vbe_read(qt, 0xa), ==, 256);
    vbe_write(qt, 1, 800);
    vbe_write(qt, 2, 600);
    vbe_write(qt, 3, 16);
    g_assert_cmpuint(vbe_read(qt, 1), ==, 800);
    g_assert_cmpuint(vbe_read(qt, 2), ==, 600);
    g_assert_cmpuint(vbe_read(qt, 3), ==, 16);
    vga_stop(&t);
}

/* Glyphs the test loads into plane 2 (16 rows); every other character is blank. */
static const uint8_t glyph_A[16] = {0x00, 0x00, 0x10, 0x38, 0x6c, 0xc6, 0xc6, 0xfe,
                                    0xc6, 0xc6, 0xc6, 0xc6, 0x00, 0x00, 0x00, 0x00};
static const uint8_t glyph_line[16] = {0, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0, 0, 0, 0, 0, 0};
static const uint8_t glyph_bar[16] = {0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
                                      0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01};

static const uint8_t *glyph_of(uint8_t c)
{
    switch (c) {
    case 'A': return glyph_A;
    case 0xc4: return glyph_line; /* line graphics: the 9th column repeats the 8th */
    case 0x7c: return glyph_bar;  /* outside 0xC0-0xDF: the 9th column is background */
    default: return NULL;
    }
}

static void load_font(struct qtest *qt)
{
    /* Plane 2, sequential addressing (the BIOS's font-load sequence). */
    seq(qt, 0x02, 0x04);
    seq(qt, 0x04, 0x07);
    gfx(qt, 0x04, 0x02);
    gfx(qt, 0x05, 0x00);
    gfx(qt, 0x06, 0x04);
    const uint8_t chars[] = {'A', 0xc4, 0x7c};
    for (unsigned i = 0; i < sizeof(chars); i++) {
        window_write(qt, chars[i] * 32u, glyph_of(chars[i]), 16);
    }
    seq(qt, 0x02, 0x03);
    seq(qt, 0x04, 0x02);
    gfx(qt, 0x04, 0x00);
    gfx(qt, 0x05, 0x10);
    gfx(qt, 0x06, 0x0e);
}

static void test_text_mode(void)
{
    struct vga_test t;
    uint8_t screen[80 * 25 * 2] = {0};
    struct qtest_image img;
    unsigned mismatches = 0;

    vga_start(&t, NULL);
    set_mode(t.qt, &mode3);
    load_dac(t.qt);
    load_font(t.qt);
    /* Row 0: "AAA" white on blue; row 3: line graphics, red on black; row 24: bars. */
    for (unsigned c = 0; c < 3; c++) {
        screen[2 * c] = 'A';
        screen[2 * c + 1] = 0x1f;
    }
    for (unsigned c = 10; c < 20; c++) {
        screen[2 * (3 * 80 + c)] = 0xc4;
        screen[2 * (3 * 80 + c) + 1] = 0x04;
    }
    for (unsigned c = 0; c < 80; c++) {
        screen[2 * (24 * 80 + c)] = 0x7c;
        screen[2 * (24 * 80 + c) + 1] = 0x27;
    }
    window_write(t.qt, 0x18000, screen, sizeof(screen));
    /* Odd/even: the bytes read back through the window as written. */
    g_assert_cmphex(qtest_readb(t.qt, 0xb8000), ==, 'A');
    g_assert_cmphex(qtest_readb(t.qt, 0xb8001), ==, 0x1f);

    img = qtest_screendump(t.qmp);
    g_assert_cmpint(img.width, ==, 720);
    g_assert_cmpint(img.height, ==, 400);
    for (int y = 0; y < 400; y++) {
        for (int x = 0; x < 720; x++) {
            int col = x / 9, row = y / 16, gx = x % 9, gy = y % 16;
            uint8_t chr = screen[2 * (row * 80 + col)], attr = screen[2 * (row * 80 + col) + 1];
            const uint8_t *g = glyph_of(chr);
            /* AR maps 0-5 and 7 to DAC 0-7, 6 to 0x14, 8-15 to 0x38-0x3f (bits 0-2 equal). */
            uint32_t fg = dac_rgb(attr & 0x0f), bg = dac_rgb((attr >> 4) & 7);
            bool on = false;
            if (g && gx < 8) {
                on = g[gy] & (0x80 >> gx);
            } else if (g && chr >= 0xc0 && chr <= 0xdf) {
                on = g[gy] & 1;
            }
            if (qtest_image_pixel(&img, x, y) != (on ? fg : bg) && mismatches++ < 5) {
                g_test_message("text pixel %d,%d: 0x%06x, want 0x%06x", x, y, qtest_image_pixel(&img, x, y),
                               on ? fg : bg);
            }
        }
    }
    g_assert_cmpuint(mismatches, ==, 0);
    g_free(img.rgb);

    /* PNG too: a signature and an IHDR of the same size (Debian's qemu-xen has no libpng). */
    if (!qtest_dm_is_xendm()) {
        vga_stop(&t);
        return;
    }
    g_autofree char *png = qtest_tmp_path("vga-dump.png");
    g_autofree char *cmd = g_strdup_printf(
        "{\"execute\":\"screendump\",\"arguments\":{\"filename\":\"%s\",\"format\":\"png\"}}",
        png);
    g_autofree gchar *data = NULL;
    gsize len;
    qmp_call_ok(t.qmp, cmd);
    g_assert_true(g_file_get_contents(png, &data, &len, NULL));
    g_assert_cmpuint(len, >, 33);
    g_assert_cmpint(memcmp(data, "\x89PNG\r\n\x1a\n", 8), ==, 0);
    g_assert_cmphex(GUINT32_FROM_BE(*(uint32_t *)(data + 16)), ==, 720);
    g_assert_cmphex(GUINT32_FROM_BE(*(uint32_t *)(data + 20)), ==, 400);
    unlink(png);
    vga_stop(&t);
}

static void test_mode13h(void)
{
    struct vga_test t;
    uint8_t line[320];
    struct qtest_image img;
    unsigned mismatches = 0;

    vga_start(&t, NULL);
    set_mode(t.qt, &mode13);
    load_dac(t.qt);
    /* Rows 0-19: colour (x / 8 + y) & 7, chain-4 through 0xA0000. */
    for (unsigned y = 0; y < 20; y++) {
        for (unsigned x = 0; x < 320; x++) {
            line[x] = (uint8_t)((x / 8 + y) & 7);
        }
        window_write(t.qt, y * 320, line, sizeof(line));
    }
    qtest_writeb(t.qt, 0xa0000 + 199 * 320 + 319, 0x05);
    g_assert_cmphex(qtest_readb(t.qt, 0xa0000 + 199 * 320 + 319), ==, 0x05);

    img = qtest_screendump(t.qmp);
    g_assert_cmpint(img.width, ==, 640);
    g_assert_cmpint(img.height, ==, 400);
    for (int y = 0; y < 400; y++) {
        for (int x = 0; x < 640; x++) {
            int px = x / 2, py = y / 2;
            unsigned index = py < 20 ? (unsigned)((px / 8 + py) & 7) : 0;
            if (px == 319 && py == 199) {
                index = 5;
            }
            if (qtest_image_pixel(&img, x, y) != dac_rgb(index) && mismatches++ < 5) {
                g_test_message("13h pixel %d,%d: 0x%06x, want 0x%06x", x, y, qtest_image_pixel(&img, x, y),
                               dac_rgb(index));
            }
        }
    }
    g_assert_cmpuint(mismatches, ==, 0);
    g_free(img.rgb);
    vga_stop(&t);
}

static const struct vga_mode_regs mode12 = {
    .misc = 0xe3,
    .sr = {0x03, 0x01, 0x0f, 0x00, 0x06},
    .cr = {0x5f, 0x4f, 0x50, 0x82, 0x54, 0x80, 0x0b, 0x3e, 0x00, 0x40, 0x00, 0x00, 0x00,
           0x00, 0x00, 0x00, 0xea, 0x8c, 0xdf, 0x28, 0x00, 0xe7, 0x04, 0xe3, 0xff},
    .gr = {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x0f, 0xff},
    .ar = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3a, 0x3b, 0x3c,
           0x3d, 0x3e, 0x3f, 0x01, 0x00, 0x0f, 0x00, 0x00},
};

/*
 * Mode 12h (640x480, 16 colours, four planes): the write modes, latches, bit mask, set/reset
 * and both read modes as a planar driver uses them, checked in the picture and by reading.
 */
static void test_mode12h(void)
{
    struct vga_test t;
    struct qtest *qt;
    static uint8_t colour[480][640]; /* the expected 4-bit pixels */
    uint8_t bytes[80];
    struct qtest_image img;
    unsigned mismatches = 0;

    vga_start(&t, NULL);
    qt = t.qt;
    set_mode(qt, &mode12);
    load_dac(qt);
    memset(colour, 0, sizeof(colour));

    /* Write mode 2, bit mask 0xff: lines 0-15, byte b of line y in colour (b + y) & 15. */
    gfx(qt, 0x05, 0x02);
    for (unsigned y = 0; y < 16; y++) {
        for (unsigned b = 0; b < 80; b++) {
            bytes[b] = (uint8_t)((b + y) & 15);
            memset(&colour[y][b * 8], bytes[b], 8);
        }
        window_write(qt, y * 80, bytes, sizeof(bytes));
    }
    /* Line 20: colour 5 everywhere, then colour 0xA through bit mask 0x0f (latched). */
    memset(bytes, 5, sizeof(bytes));
    window_write(qt, 20 * 80, bytes, sizeof(bytes));
    gfx(qt, 0x08, 0x0f);
    for (unsigned b = 0; b < 4; b++) {
        qtest_readb(qt, 0xa0000 + 20 * 80 + b); /* load the latches */
        qtest_writeb(qt, 0xa0000 + 20 * 80 + b, 0x0a);
    }
    for (unsigned x = 0; x < 640; x++) {
        colour[20][x] = (x < 32 && (x & 7) >= 4) ? 0x0a : 5;
    }
    /* Write mode 0 with set/reset on all planes: colour 3 through bit mask 0xc0 on line 30. */
    gfx(qt, 0x05, 0x00);
    gfx(qt, 0x00, 0x03);
    gfx(qt, 0x01, 0x0f);
    gfx(qt, 0x08, 0xc0);
    qtest_readb(qt, 0xa0000 + 30 * 80 + 10);
    qtest_writeb(qt, 0xa0000 + 30 * 80 + 10, 0x00);
    colour[30][80] = colour[30][81] = 3;
    /* Write mode 0 without set/reset, map mask 0x04 only: plane 2 bits 0b10101010, line 40. */
    gfx(qt, 0x01, 0x00);
    gfx(qt, 0x08, 0xff);
    seq(qt, 0x02, 0x04);
    qtest_writeb(qt, 0xa0000 + 40 * 80 + 2, 0xaa);
    seq(qt, 0x02, 0x0f);
    for (unsigned i = 0; i < 8; i += 2) {
        colour[40][16 + i] = 4;
    }

    /* Read mode 0: plane 2 of that byte; read mode 1: colour compare on line 20. */
    gfx(qt, 0x04, 0x02);
    g_assert_cmphex(qtest_readb(qt, 0xa0000 + 40 * 80 + 2), ==, 0xaa);
    gfx(qt, 0x05, 0x08);
    gfx(qt, 0x02, 0x0a);
    gfx(qt, 0x07, 0x0f);
    g_assert_cmphex(qtest_readb(qt, 0xa0000 + 20 * 80 + 1), ==, 0x0f);
    gfx(qt, 0x07, 0x00); /* no plane cares: every pixel matches */
    g_assert_cmphex(qtest_readb(qt, 0xa0000 + 20 * 80 + 1), ==, 0xff);
    gfx(qt, 0x05, 0x00);

    img = qtest_screendump(t.qmp);
    g_assert_cmpint(img.width, ==, 640);
    g_assert_cmpint(img.height, ==, 480);
    for (int y = 0; y < 480; y++) {
        for (int x = 0; x < 640; x++) {
            uint32_t want = dac_rgb(mode12.ar[colour[y][x]]);
            if (qtest_image_pixel(&img, x, y) != want && mismatches++ < 5) {
                g_test_message("12h pixel %d,%d: 0x%06x, want 0x%06x", x, y, qtest_image_pixel(&img, x, y),
                               want);
            }
        }
    }
    g_assert_cmpuint(mismatches, ==, 0);
    g_free(img.rgb);
    vga_stop(&t);
}

static uint32_t vbe_pattern(int x, int y)
{
    return (uint32_t)(x * 5 & 0xff) << 16 | (uint32_t)(y * 3 & 0xff) << 8 | ((x ^ y) & 0xff);
}

static void test_vbe_lfb(void)
{
    struct vga_test t;
    struct qtest_image img;
    unsigned mismatches = 0;

    vga_start(&t, NULL);
    map_bars(&t);
    vbe_write(t.qt, 4, 0);
    vbe_write(t.qt, 1, 640);
    vbe_write(t.qt, 2, 480);
    vbe_write(t.qt, 3, 32);
    vbe_write(t.qt, 4, 0x41); /* enabled, LFB */
    g_assert_cmphex(vbe_read(t.qt, 4) & 0x41, ==, 0x41);
    g_assert_cmpuint(vbe_read(t.qt, 6), ==, 640);
    /* Rows 100-103 through the LFB, and a diagonal of single writes. */
    for (int y = 100; y < 104; y++) {
        for (int x = 0; x < 640; x++) {
            qtest_writel(t.qt, LFB_ADDR + ((uint64_t)y * 640 + x) * 4, vbe_pattern(x, y));
        }
    }
    for (int i = 0; i < 480; i += 7) {
        qtest_writel(t.qt, LFB_ADDR + ((uint64_t)i * 640 + i) * 4, vbe_pattern(i, i));
    }
    g_assert_cmphex(qtest_readl(t.qt, LFB_ADDR + (101 * 640 + 3) * 4), ==, vbe_pattern(3, 101));

    img = qtest_screendump(t.qmp);
    g_assert_cmpint(img.width, ==, 640);
    g_assert_cmpint(img.height, ==, 480);
    /*
     * qemu-xen puts its VRAM in guest RAM under the BAR and redraws what Xen's dirty-VRAM
     * tracking reports; xensim's qtest writes to that RAM are not reported, so its picture
     * stays black here. Compared on xendm only.
     */
    for (int y = 0; y < 480 && qtest_dm_is_xendm(); y++) {
        for (int x = 0; x < 640; x++) {
            bool drawn = (y >= 100 && y < 104) || (x == y && x % 7 == 0);
            uint32_t want = drawn ? vbe_pattern(x, y) : 0;
            if (qtest_image_pixel(&img, x, y) != want && mismatches++ < 5) {
                g_test_message("VBE pixel %d,%d: 0x%06x, want 0x%06x", x, y, qtest_image_pixel(&img, x, y),
                               want);
            }
        }
    }
    g_assert_cmpuint(mismatches, ==, 0);
    g_free(img.rgb);

    /* Banked access: bank 1 of the 0xA0000 window is LFB offset 64 KiB. */
    vbe_write(t.qt, 5, 1);
    qtest_writel(t.qt, 0xa0010, 0x00abcdef);
    g_assert_cmphex(qtest_readl(t.qt, 0xa0010), ==, 0x00abcdef);
    if (qtest_dm_is_xendm()) {
        /* (qemu-xen's LFB is guest RAM here: read directly, it can pass the buffered write.) */
        g_assert_cmphex(qtest_readl(t.qt, LFB_ADDR + 0x10010), ==, 0x00abcdef);
    }
    vga_stop(&t);
}

/* ---- VRAM as guest RAM: where xensim's p2m has its frames ---- */

/*
 * The VRAM frames' home: right after the -m RAM (xensim's default 64 MiB, no video RAM in
 * its headless config, so libxl's -m is 64), where qemu-xen populates them too.
 */
#define VRAM_HOME_GFN UINT64_C(0x4000)
#define VRAM_PAGES 4096u /* 16 MiB */

/* The memfd page behind gfn (a frame keeps it when it moves), or -1 when absent. */
static int64_t p2m_page(struct qtest *qt, uint64_t gfn)
{
    g_autofree char *reply = qtest_cmd(qt, NULL, "p2m 0x%" PRIx64, gfn);

    return reply ? (int64_t)g_ascii_strtoull(reply, NULL, 0) : -1;
}

static char *mmio_owner(struct qtest *qt, uint64_t addr)
{
    return qtest_cmd_ok(qt, "mmio_owner 0x%" PRIx64 " 4", addr);
}

static void assert_owner(struct qtest *qt, uint64_t addr, const char *want)
{
    g_autofree char *owner = mmio_owner(qt, addr);

    g_assert_cmpstr(owner, ==, want);
}

/* The first, a middle and the last VRAM frame sit at gfn (and the same frames as at home). */
static void assert_vram_at(struct qtest *qt, uint64_t gfn, const int64_t home_pages[3])
{
    static const unsigned probe[3] = {0, VRAM_PAGES / 2, VRAM_PAGES - 1};

    for (unsigned i = 0; i < 3; i++) {
        g_assert_cmpint(p2m_page(qt, gfn + probe[i]), ==, home_pages[i]);
        if (gfn != VRAM_HOME_GFN) {
            g_assert_cmpint(p2m_page(qt, VRAM_HOME_GFN + probe[i]), ==, -1);
        }
    }
}

static void record_home(struct qtest *qt, int64_t home_pages[3])
{
    home_pages[0] = p2m_page(qt, VRAM_HOME_GFN);
    home_pages[1] = p2m_page(qt, VRAM_HOME_GFN + VRAM_PAGES / 2);
    home_pages[2] = p2m_page(qt, VRAM_HOME_GFN + VRAM_PAGES - 1);
    for (unsigned i = 0; i < 3; i++) {
        g_assert_cmpint(home_pages[i], >=, 0);
    }
    /* Nothing beyond: the block is exactly vgamem_mb (option ROMs, if any, come later). */
    g_assert_cmpint(p2m_page(qt, VRAM_HOME_GFN - 1), >=, 0); /* the last -m RAM frame */
}

static void vbe_640x480x32(struct qtest *qt)
{
    vbe_write(qt, 4, 0);
    vbe_write(qt, 1, 640);
    vbe_write(qt, 2, 480);
    vbe_write(qt, 3, 32);
    vbe_write(qt, 4, 0x41);
}

/* Rows y0..y1 of vbe_pattern through the LFB at `lfb`. */
static void draw_rows(struct qtest *qt, uint64_t lfb, int y0, int y1)
{
    for (int y = y0; y < y1; y++) {
        for (int x = 0; x < 640; x += 4) {
            qtest_writel(qt, lfb + ((uint64_t)y * 640 + x) * 4, vbe_pattern(x, y));
        }
    }
}

static unsigned picture_mismatches(struct vga_test *t, int y0, int y1)
{
    struct qtest_image img = qtest_screendump(t->qmp);
    unsigned bad = 0;

    g_assert_cmpint(img.width, ==, 640);
    g_assert_cmpint(img.height, ==, 480);
    for (int y = 0; y < 480; y++) {
        for (int x = 0; x < 640; x++) {
            uint32_t want = y >= y0 && y < y1 && x % 4 == 0 ? vbe_pattern(x, y) : 0;
            if (qtest_image_pixel(&img, x, y) != want && bad++ < 5) {
                g_test_message("pixel %d,%d: 0x%06x, want 0x%06x", x, y, qtest_image_pixel(&img, x, y),
                               want);
            }
        }
    }
    g_free(img.rgb);
    return bad;
}

/*
 * Populated at start above the -m RAM; BAR0 placed with decoding on moves the frames under it
 * (write-back pinned) and framebuffer accesses become RAM accesses Xen answers; a BAR move
 * moves them, disabling decoding brings them home. qemu-xen does the same under
 * xensim, frame for frame.
 */
static void test_lfb_relocation(void)
{
    struct vga_test t;
    int64_t home[3];

    vga_start(&t, NULL);
    record_home(t.qt, home);
    g_assert_cmpint(p2m_page(t.qt, LFB_ADDR >> 12), ==, -1);

    map_bars(&t);
    assert_vram_at(t.qt, LFB_ADDR >> 12, home);
    assert_owner(t.qt, LFB_ADDR, "ram");
    assert_owner(t.qt, LFB_ADDR + (16u << 20) - 4, "ram");
    assert_owner(t.qt, MMIO_ADDR, "dm"); /* BAR2 stays the device model's */
    {
        g_autofree char *attr = qtest_cmd_ok(t.qt, "cacheattr 0x%" PRIx64, LFB_ADDR >> 12);
        g_assert_cmpstr(attr, ==, "6"); /* write-back, on both */
    }

    vbe_640x480x32(t.qt);
    draw_rows(t.qt, LFB_ADDR, 200, 210);
    /* REP STOS into the frames: Xen's emulator fills the RAM itself. */
    CMD(t.qt, "stos 4 0x%" PRIx64 " 0x00ff00ff 640", LFB_ADDR + 220 * 640 * 4);
    g_assert_cmphex(qtest_readl(t.qt, LFB_ADDR + (220 * 640 + 639) * 4), ==, 0x00ff00ff);
    CMD(t.qt, "stos 4 0x%" PRIx64 " 0 640", LFB_ADDR + 220 * 640 * 4);
    if (qtest_dm_is_xendm()) {
        g_assert_cmpuint(picture_mismatches(&t, 200, 210), ==, 0);
    }

    if (!qtest_dm_is_xendm()) {
        /*
         * qemu-xen 7.2 relocates a moved BAR's frames from their home gfns, where they no
         * longer are (relocate_memory EINVAL under xensim, as it would be on Xen): they stay
         * at the old address. xendm brings them home first.
         */
        vga_stop(&t);
        return;
    }
    /* Moved while a mode is set: the frames follow, the old place is nobody's. */
    qpci_write(t.qt, t.devfn, 0x10, 0xd0000000, 4);
    assert_vram_at(t.qt, 0xd0000, home);
    assert_owner(t.qt, 0xd0000000, "ram");
    assert_owner(t.qt, LFB_ADDR, "unclaimed");
    g_assert_cmphex(qtest_readl(t.qt, 0xd0000000 + (200 * 640 + 8) * 4), ==, vbe_pattern(8, 200));
    {
        g_autofree char *attr = qtest_cmd_ok(t.qt, "cacheattr 0x%" PRIx64, LFB_ADDR >> 12);
        g_assert_cmpstr(attr, ==, "none"); /* the old pin went with the frames */
        g_assert_cmpuint(picture_mismatches(&t, 200, 210), ==, 0);
    }

    /* Memory decoding off: home, and the BAR answers nothing. */
    qpci_write(t.qt, t.devfn, 0x04, 0x0001, 2);
    assert_vram_at(t.qt, VRAM_HOME_GFN, home);
    g_assert_cmpint(p2m_page(t.qt, 0xd0000), ==, -1);
    assert_owner(t.qt, 0xd0000000, "unclaimed");
    qpci_write(t.qt, t.devfn, 0x04, 0x0003, 2);
    assert_vram_at(t.qt, 0xd0000, home);
    g_assert_cmphex(qtest_readl(t.qt, 0xd0000000 + (209 * 640 + 636) * 4), ==,
                    vbe_pattern(636, 209));

    /* (QMP system_reset reboots a Xen domain: a new one gets fresh RAM and device model.) */
    vga_stop(&t);
}

/*
 * A BAR over guest RAM or the APIC/BIOS range keeps the frames home and the BAR on ioreqs
 * (xendm only: qemu-xen relocates wherever the guest says); a BAR moved many times a second
 * costs a bounded number of relocations and settles where the guest left it.
 */
static void test_lfb_hostile_placement(void)
{
    struct vga_test t;
    int64_t home[3], ram0;
    uint32_t v;

    if (!qtest_dm_is_xendm()) {
        g_test_skip("qemu-xen relocates over guest RAM");
        return;
    }
    vga_start(&t, NULL);
    record_home(t.qt, home);
    ram0 = p2m_page(t.qt, 0x100);
    map_bars(&t);
    vbe_640x480x32(t.qt);
    draw_rows(t.qt, LFB_ADDR, 0, 2);

    /* Over the guest's RAM: its own RAM stays; Xen answers the guest from that RAM. */
    qpci_write(t.qt, t.devfn, 0x10, 0x00000000, 4);
    assert_vram_at(t.qt, VRAM_HOME_GFN, home);
    g_assert_cmpint(p2m_page(t.qt, 0x100), ==, ram0);
    /* Over 0xFEC00000-0xFFFFFFFF: the BAR is served by ioreqs into the same VRAM. */
    qpci_write(t.qt, t.devfn, 0x10, 0xfe000000, 4);
    assert_vram_at(t.qt, VRAM_HOME_GFN, home);
    assert_owner(t.qt, 0xfe000000, "dm");
    g_assert_cmphex(qtest_readl(t.qt, 0xfe000000 + 8 * 4), ==, vbe_pattern(8, 0));
    qtest_writel(t.qt, 0xfe000000 + 0x1000, 0x00123456);
    qtest_memread(t.qt, (VRAM_HOME_GFN << 12) + 0x1000, &v, 4);
    g_assert_cmphex(v, ==, 0x00123456);
    qtest_writel(t.qt, 0xfe000000 + 0x1000, vbe_pattern(384, 1));
    /* Unaligned low bits are the BAR's read-only size bits: the place is 16 MiB aligned. */
    qpci_write(t.qt, t.devfn, 0x10, 0xc0000fff, 4);
    assert_vram_at(t.qt, 0xc0000, home);

    /* A storm of moves: bounded work, the device model keeps answering, then it settles. */
    for (unsigned i = 0; i < 200; i++) {
        qpci_write(t.qt, t.devfn, 0x10, i & 1 ? 0xd0000000 : 0xc0000000, 4);
    }
    qpci_write(t.qt, t.devfn, 0x10, 0xd0000000, 4);
    g_assert_cmphex(qtest_readl(t.qt, 0xd0000000 + 8 * 4), ==, vbe_pattern(8, 0));
    for (unsigned tries = 0; p2m_page(t.qt, 0xd0000) != home[0] && tries < 30; tries++) {
        g_usleep(100 * 1000);
    }
    assert_vram_at(t.qt, 0xd0000, home);
    g_assert_cmpuint(picture_mismatches(&t, 0, 2), ==, 0);
    vga_stop(&t);
}

/*
 * xl save / xl restore: the frames are home in the saved memory image, the restored device
 * model finds them there (populates nothing over them) and places them under the BAR again;
 * the picture survives.
 */
static void test_lfb_save_restore(void)
{
    struct vga_test t;
    g_autofree char *file = qtest_tmp_path("vga-save.bin");
    g_autofree char *qmp_path = qtest_tmp_path("qmp-vga.sock");
    int64_t home[3];

    vga_start(&t, NULL);
    record_home(t.qt, home);
    map_bars(&t);
    vbe_640x480x32(t.qt);
    draw_rows(t.qt, LFB_ADDR, 40, 48);
    assert_vram_at(t.qt, LFB_ADDR >> 12, home);

    qmp_close(t.qmp);
    CMD(t.qt, "dm_save %s", file);
    assert_vram_at(t.qt, VRAM_HOME_GFN, home);
    assert_owner(t.qt, LFB_ADDR, "unclaimed"); /* stopped: its server is disabled */
    CMD(t.qt, "dm_restore %s", file);
    for (unsigned tries = 0; p2m_page(t.qt, LFB_ADDR >> 12) != home[0] && tries < 50; tries++) {
        g_usleep(20 * 1000);
    }
    assert_vram_at(t.qt, LFB_ADDR >> 12, home);
    t.qmp = qmp_open(qmp_path);
    qmp_call_ok(t.qmp, "{\"execute\":\"qmp_capabilities\"}");
    g_assert_cmpuint(picture_mismatches(&t, 40, 48), ==, 0);
    unlink(file);
    vga_stop(&t);
}

static void test_screendump_no_mode(void)
{
    struct vga_test t;
    struct qtest_image img;

    vga_start(&t, NULL);
    img = qtest_screendump(t.qmp); /* nothing programmed: some blank picture, no crash */
    g_assert_cmpint(img.width, >, 0);
    /* xendm blanks an unprogrammed VGA (AR index PAS clear); qemu-xen draws its reset text. */
    for (int i = 0; i < img.width * img.height && qtest_dm_is_xendm(); i++) {
        g_assert_cmphex(qtest_image_pixel(&img, i % img.width, i / img.width), ==, 0);
    }
    g_free(img.rgb);
    g_autofree char *reply = qmp_call(
        t.qmp, "{\"execute\":\"screendump\",\"arguments\":{\"filename\":\"/nonexistent/x\"}}");
    g_assert_nonnull(strstr(reply, "\"class\":\"GenericError\""));
    vga_stop(&t);
}

static void hostile_vbe(struct vga_test *t)
{
    struct qtest *qt = t->qt;
    static const uint16_t sizes[][3] = {
        {16000, 12000, 32}, {0, 0, 32}, {65535, 65535, 32}, {4096, 4096, 32}, {1, 65535, 24},
    };

    map_bars(t);
    for (unsigned i = 0; i < G_N_ELEMENTS(sizes); i++) {
        vbe_write(qt, 4, 0);
        vbe_write(qt, 1, sizes[i][0]);
        vbe_write(qt, 2, sizes[i][1]);
        vbe_write(qt, 3, sizes[i][2]);
        vbe_write(qt, 4, 0x41);
        if (qtest_dm_is_xendm() && (vbe_read(qt, 4) & 1)) {
            /* Bochs refuses a mode that does not fit in VRAM: what is enabled fits. */
            uint64_t bytes = (uint64_t)vbe_read(qt, 1) * vbe_read(qt, 2) * 4;
            g_assert_cmpuint(bytes, <=, 16 * 1024 * 1024);
            g_assert_cmpuint(vbe_read(qt, 1) * vbe_read(qt, 2), >, 0);
        } else if (qtest_dm_is_xendm()) {
            uint64_t bytes = (uint64_t)vbe_read(qt, 1) * vbe_read(qt, 2) * 4;
            g_assert_true(bytes == 0 || bytes > 16 * 1024 * 1024);
        }
        g_free(qtest_screendump(t->qmp).rgb);
    }
    /* A valid mode, then panning and virtual widths past the end, and banks past it. */
    vbe_write(qt, 4, 0);
    vbe_write(qt, 1, 1024);
    vbe_write(qt, 2, 768);
    vbe_write(qt, 3, 32);
    vbe_write(qt, 4, 0x41);
    vbe_write(qt, 6, 65535);
    vbe_write(qt, 8, 65535);
    vbe_write(qt, 9, 65535);
    vbe_write(qt, 3, 7);
    vbe_write(qt, 5, 0xffff);
    vbe_write(qt, 5, 256);
    qtest_writel(qt, 0xa0000, 0x12345678);
    qtest_readl(qt, 0xaffff);
    vbe_write(qt, 0x4242, 1);
    vbe_read(qt, 0x4242);
    qtest_outb(qt, 0x1cf, 0x12); /* a lone byte at the 16-bit data port */
    qtest_outl(qt, 0x1ce, 0xffffffff);
    qmem_write(qt, MMIO_ADDR + 0x500 + 2 * 5, 0xffff, 2);
    qmem_write(qt, MMIO_ADDR + 0x501, 0xff, 1);
    qmem_write(qt, MMIO_ADDR + 0xffc, 0xffffffff, 4);
    qmem_read(qt, MMIO_ADDR + 0xffc, 4);
    qtest_writel(qt, LFB_ADDR + 16 * 1024 * 1024 - 4, 0xdeadbeef);
    qmem_write(qt, LFB_ADDR + 16 * 1024 * 1024 - 8, UINT64_C(0x0123456789abcdef), 8);
    g_free(qtest_screendump(t->qmp).rgb);
    vbe_write(qt, 4, 0);
}

static void hostile_crtc(struct vga_test *t, const struct vga_mode_regs *mode)
{
    struct qtest *qt = t->qt;
    static const uint8_t values[] = {0x00, 0x1f, 0x80, 0x9f, 0xff};

    set_mode(qt, mode);
    for (unsigned i = 0; i < G_N_ELEMENTS(values); i++) {
        crtc(qt, 0x0c, 0xff); /* start address 0xFFFF */
        crtc(qt, 0x0d, 0xff);
        crtc(qt, 0x13, 0xff); /* longest line offset */
        crtc(qt, 0x09, values[i]); /* character heights 1..32, scan doubling */
        crtc(qt, 0x01, values[i]);
        crtc(qt, 0x12, values[i]);
        crtc(qt, 0x07, values[i]);
        crtc(qt, 0x0e, 0xff);
        crtc(qt, 0x0f, 0xff);
        crtc(qt, 0x0a, values[i]);
        crtc(qt, 0x0b, values[i]);
        seq(qt, 0x01, values[i] & 0x09);
        seq(qt, 0x03, values[i]);
        g_free(qtest_screendump(t->qmp).rgb);
    }
}

static void test_hostile(void)
{
    struct vga_test t;
    struct qtest *qt;

    vga_start(&t, NULL);
    qt = t.qt;
    hostile_vbe(&t);
    hostile_crtc(&t, &mode3);
    hostile_crtc(&t, &mode13);
    /* Planar mode: every write mode, read mode, memory map and the highest addresses. */
    seq(qt, 0x04, 0x06);
    for (unsigned map = 0; map < 4; map++) {
        gfx(qt, 0x06, (uint8_t)(0x01 | map << 2));
        for (unsigned wm = 0; wm < 4; wm++) {
            gfx(qt, 0x05, (uint8_t)(wm | (wm & 1) << 3));
            gfx(qt, 0x03, (uint8_t)(wm << 3 | wm));
            qtest_writeb(qt, 0xbffff, 0x5a);
            qtest_writel(qt, 0xa0000, 0xffffffff);
            qtest_readb(qt, 0xbffff);
            qtest_readb(qt, 0xa0000);
        }
    }
    /* The DAC index wraps; odd index sequences. */
    qtest_outb(qt, 0x3c8, 0xff);
    for (unsigned i = 0; i < 10; i++) {
        qtest_outb(qt, 0x3c9, 0x3f);
    }
    qtest_outb(qt, 0x3c7, 0xff);
    for (unsigned i = 0; i < 10; i++) {
        qtest_inb(qt, 0x3c9);
    }
    for (unsigned port = 0x3b0; port < 0x3e0; port++) {
        qtest_outb(qt, (uint16_t)port, 0xff);
        qtest_inb(qt, (uint16_t)port);
    }
    qtest_inb(qt, 0x3da);
    qtest_outb(qt, 0x3c0, 0x3f);
    qtest_outb(qt, 0x3c0, 0xff);
    g_free(qtest_screendump(t.qmp).rgb);
    /* Still serving: a register reads back. */
    qtest_outb(qt, 0x3c2, 0x67);
    g_assert_cmphex(qtest_inb(qt, 0x3cc), ==, 0x67);
    vga_stop(&t);
}

/*
 * Under libxl's -sandbox (xendm's seccomp allow-list refuses to name files after start-up) a
 * screendump goes to a file the client passes with add-fd, as libxl passes its save file.
 */
static void test_screendump_sandboxed(void)
{
    struct vga_test t;
    g_autofree char *png = qtest_tmp_path("vga-sandbox.png");
    g_autofree char *reply = NULL;
    g_autofree gchar *data = NULL;
    gsize len;
    int fd;

    if (!qtest_dm_is_xendm()) {
        g_test_skip("xendm's own sandbox");
        return;
    }
#if defined(__SANITIZE_ADDRESS__)
    /* As in test-restrict: the sanitizer's run-time needs calls outside the allow-list. */
    g_test_skip("a sanitizer's run-time needs system calls outside the allow-list");
    return;
#endif
    vga_start(&t, "-sandbox on,obsolete=deny,elevateprivileges=allow,spawn=deny,"
                  "resourcecontrol=deny");
    set_mode(t.qt, &mode3);
    fd = open(png, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    g_assert_cmpint(fd, >=, 0);
    reply = qmp_call_fd(t.qmp, fd, "{\"execute\":\"add-fd\",\"arguments\":{\"fdset-id\":7}}");
    close(fd);
    g_assert_nonnull(strstr(reply, "\"fdset-id\":7"));
    qmp_call_ok(t.qmp, "{\"execute\":\"screendump\",\"arguments\":"
                       "{\"filename\":\"/dev/fdset/7\",\"format\":\"png\"}}");
    g_assert_true(g_file_get_contents(png, &data, &len, NULL));
    g_assert_cmpuint(len, >, 33);
    g_assert_cmpint(memcmp(data, "\x89PNG", 4), ==, 0);
    unlink(png);
    vga_stop(&t);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vga/pci-identity", test_pci_identity);
    g_test_add_func("/vga/registers", test_registers);
    g_test_add_func("/vga/text-mode", test_text_mode);
    g_test_add_func("/vga/mode13h", test_mode13h);
    g_test_add_func("/vga/mode12h-planar", test_mode12h);
    g_test_add_func("/vga/vbe-lfb", test_vbe_lfb);
    g_test_add_func("/vga/screendump-no-mode", test_screendump_no_mode);
    g_test_add_func("/vga/lfb-relocation", test_lfb_relocation);
    g_test_add_func("/vga/lfb-hostile-placement", test_lfb_hostile_placement);
    if (qtest_dm_is_xendm()) {
        g_test_add_func("/vga/lfb-save-restore", test_lfb_save_restore);
    }
    g_test_add_func("/vga/hostile", test_hostile);
    g_test_add_func("/vga/screendump-sandboxed", test_screendump_sandboxed);
    return g_test_run();
}
