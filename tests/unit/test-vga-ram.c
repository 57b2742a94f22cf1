/*
 * The VGA's VRAM as guest RAM the device model owns (include/xendm/guest-ram.h), in-process
 * over a fake accelerator that keeps a p2m, moves frames and keeps Xen's dirty-VRAM log as
 * Xen 4.17 does (the first report of a range is every page, nr 0 stops, or -ENODATA when
 * asked): frames follow BAR0 while it decodes and go home when it moves, stops decoding, on
 * reset and before a save; places over RAM or the APIC/BIOS range are refused; a storm of BAR
 * moves costs a bounded number of relocations; with the frames at the BAR only the lines Xen
 * reports dirty are redrawn, everything after -ENODATA; the log starts only for an
 * incremental refresh and stops once nobody watches.
 */
#include <errno.h>
#include <glib.h>
#include <pixman.h>
#include <string.h>
#include "hw/display/vga.h"
#include "xendm/display.h"
#include "xendm/guest-ram.h"
#include "xendm/keyval.h"
#include "xendm/machine.h"
#include "xendm/mapcache.h"
#include "xendm/pci.h"

#define PAGE 4096u
#define RAM_SIZE (UINT64_C(64) << 20)
#define HOME_GFN UINT64_C(0x4000) /* right after the 64 MiB of -m */
#define VRAM_PAGES 4096u          /* 16 MiB */
#define LFB UINT64_C(0xe0000000)
#define FRAMES (VRAM_PAGES + 16)

/* ---- the fake Xen ---- */

struct fake_xen {
    uint8_t *frames;       /* the frames' contents, FRAMES pages */
    unsigned next_frame;
    GHashTable *p2m;       /* gfn -> frame + 1 */
    unsigned relocations, populates, dirty_calls, dirty_stops;
    bool dirty_active;
    uint64_t dirty_first;
    uint32_t dirty_nr;
    unsigned long dirty[VRAM_PAGES / (8 * sizeof(unsigned long))]; /* the guest's writes */
    int dirty_errno;       /* every report fails with it (an older Xen, shadow paging) */
    GString *log;          /* "relocate ...; stop; " in call order */
};

static struct fake_xen fx;

static unsigned frame_of(uint64_t gfn)
{
    gpointer v = g_hash_table_lookup(fx.p2m, GSIZE_TO_POINTER(gfn));
    return v ? GPOINTER_TO_UINT(v) - 1 : UINT32_MAX;
}

static void *fake_map(void *opaque, uint64_t first_gfn, size_t nr, bool writable, int *err)
{
    unsigned first = frame_of(first_gfn);
    bool any = false;

    for (size_t i = 0; i < nr; i++) {
        err[i] = first != UINT32_MAX && frame_of(first_gfn + i) == first + i ? 0 : -EFAULT;
        any |= err[i] == 0;
    }
    return any ? fx.frames + (size_t)first * PAGE : NULL;
}

static void fake_unmap(void *opaque, void *addr, size_t nr)
{
}

static bool fake_populate(void *opaque, uint64_t first_gfn, uint64_t nr)
{
    fx.populates++;
    for (uint64_t i = 0; i < nr; i++) {
        if (frame_of(first_gfn + i) == UINT32_MAX) {
            g_assert_cmpuint(fx.next_frame, <, FRAMES);
            g_hash_table_insert(fx.p2m, GSIZE_TO_POINTER(first_gfn + i),
                                GUINT_TO_POINTER(++fx.next_frame));
        }
    }
    return true;
}

static bool fake_relocate(void *opaque, uint64_t src, uint64_t dst, uint64_t nr, bool from_mmio,
                          bool to_mmio)
{
    g_autofree unsigned *moved = g_new(unsigned, nr);

    fx.relocations++;
    g_string_append_printf(fx.log, "relocate 0x%" G_GINT64_MODIFIER "x->0x%" G_GINT64_MODIFIER
                           "x %s%s; ", src, dst, from_mmio ? "from-mmio" : "from-home",
                           to_mmio ? " to-mmio" : "");
    for (uint64_t i = 0; i < nr; i++) {
        moved[i] = frame_of(src + i);
        g_assert_cmpuint(moved[i], !=, UINT32_MAX); /* Xen: EINVAL */
        g_hash_table_remove(fx.p2m, GSIZE_TO_POINTER(src + i));
    }
    for (uint64_t i = 0; i < nr; i++) {
        g_hash_table_insert(fx.p2m, GSIZE_TO_POINTER(dst + i), GUINT_TO_POINTER(moved[i] + 1));
    }
    return true;
}

static int fake_track_dirty(void *opaque, uint64_t first, uint32_t nr, unsigned long *bitmap)
{
    size_t bytes = (nr + 7) / 8;

    fx.dirty_calls++;
    if (nr == 0) {
        fx.dirty_stops++;
        fx.dirty_active = false;
        g_string_append(fx.log, "stop; ");
        return 0;
    }
    g_assert_cmpuint(nr, ==, VRAM_PAGES);
    if (fx.dirty_errno) {
        return -fx.dirty_errno;
    }
    if (!fx.dirty_active || first != fx.dirty_first || nr != fx.dirty_nr) {
        fx.dirty_active = true;
        fx.dirty_first = first;
        fx.dirty_nr = nr;
        memset(fx.dirty, 0, sizeof(fx.dirty));
        memset(bitmap, 0xff, bytes);
        return 0;
    }
    memcpy(bitmap, fx.dirty, bytes);
    memset(fx.dirty, 0, sizeof(fx.dirty));
    return 0;
}

/* The guest writes VRAM byte `offset` through the BAR: RAM, logged by Xen. */
static void guest_write_vram(uint64_t offset, uint32_t value)
{
    uint64_t gfn = (LFB >> 12) + offset / PAGE;
    unsigned frame = frame_of(gfn);

    g_assert_cmpuint(frame, !=, UINT32_MAX);
    memcpy(fx.frames + (size_t)frame * PAGE + offset % PAGE, &value, 4);
    if (fx.dirty_active && gfn >= fx.dirty_first && gfn - fx.dirty_first < fx.dirty_nr) {
        uint64_t bit = gfn - fx.dirty_first;
        fx.dirty[bit / (8 * sizeof(unsigned long))] |= 1ul << (bit % (8 * sizeof(unsigned long)));
    }
}

static const struct accel_ops fake_ops = {
    .ram_populate = fake_populate,
    .ram_relocate = fake_relocate,
    .ram_track_dirty = fake_track_dirty,
};

/* ---- the machine ---- */

struct rig {
    struct machine *m;
    struct pci_bus *bus;
    struct vga_state *vga; /* struct vga_pci starts with its vga_state */
    unsigned devfn;
};

static void rig_new(struct rig *r)
{
    static const struct mapcache_mapper mapper = {fake_map, fake_unmap, NULL};
    struct kv_list *props = kv_parse("vgamem_mb=16", NULL, NULL);
    struct kv_list *none = kv_new();
    GError *err = NULL;

    memset(&fx, 0, sizeof(fx));
    fx.frames = g_malloc0((size_t)FRAMES * PAGE);
    fx.p2m = g_hash_table_new(g_direct_hash, g_direct_equal);
    fx.log = g_string_new(NULL);
    r->m = machine_new();
    r->m->ram_size = RAM_SIZE;
    r->m->accel = &fake_ops;
    r->m->mapcache = mapcache_new(&mapper, NULL);
    g_assert_nonnull(machine_create_device(r->m, "i440fx", none, &err));
    g_assert_no_error(err);
    r->vga = machine_create_device(r->m, "VGA", props, &err);
    g_assert_no_error(err);
    g_assert_nonnull(r->vga);
    r->bus = machine_pci_bus(r->m);
    for (r->devfn = 0; pci_bus_config_read(r->bus, r->devfn, 0, 4) != 0x11111234; r->devfn++) {
        g_assert_cmpuint(r->devfn, <, 256);
    }
    kv_free(props);
    kv_free(none);
}

static void rig_free(struct rig *r)
{
    struct mapcache *mc = r->m->mapcache;

    machine_free(r->m); /* the VGA unlocks its VRAM mapping */
    mapcache_free(mc);
    g_hash_table_destroy(fx.p2m);
    g_string_free(fx.log, TRUE);
    g_free(fx.frames);
}

static void place_bar(struct rig *r, uint32_t addr, uint16_t command)
{
    pci_bus_config_write(r->bus, r->devfn, 0x10, addr, 4);
    pci_bus_config_write(r->bus, r->devfn, 0x04, command, 2);
}

/* The VRAM's 4096 frames are at gfn, in order, and nowhere else. */
static void assert_frames_at(uint64_t gfn)
{
    unsigned first = frame_of(gfn);

    g_assert_cmpuint(first, !=, UINT32_MAX);
    for (unsigned i = 0; i < VRAM_PAGES; i += 511) {
        g_assert_cmpuint(frame_of(gfn + i), ==, first + i);
    }
    g_assert_cmpuint(frame_of(gfn + VRAM_PAGES - 1), ==, first + VRAM_PAGES - 1);
    g_assert_cmpuint(g_hash_table_size(fx.p2m), ==, VRAM_PAGES);
}

static void run_loop_for(unsigned ms)
{
    int64_t end = g_get_monotonic_time() + ms * 1000;

    while (g_get_monotonic_time() < end) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
}

/* ---- placement ---- */

static void test_placement(void)
{
    struct rig r;
    GBytes *state;

    rig_new(&r);
    /* Populated once at start, at home, and mapped: VRAM is those frames. */
    g_assert_cmpuint(fx.populates, ==, 1);
    assert_frames_at(HOME_GFN);
    g_assert_cmphex(guest_ram_home(r.vga->vram.ram), ==, HOME_GFN << 12);
    r.vga->vram.ptr[0x1234] = 0x5a;
    g_assert_cmphex(fx.frames[(size_t)frame_of(HOME_GFN + 1) * PAGE + 0x234], ==, 0x5a);

    /* The address alone does not place it; decoding does. */
    place_bar(&r, (uint32_t)LFB, 0);
    assert_frames_at(HOME_GFN);
    place_bar(&r, (uint32_t)LFB, 3);
    assert_frames_at(LFB >> 12);
    g_assert_cmphex(vga_lfb_placed_at(r.vga), ==, LFB);

    /* Moved: home first (nothing is ever relocated onto frames it still covers). */
    g_string_truncate(fx.log, 0);
    pci_bus_config_write(r.bus, r.devfn, 0x10, 0xe1000000, 4);
    assert_frames_at(0xe1000);
    g_assert_cmpstr(fx.log->str, ==, "relocate 0xe0000->0x4000 from-mmio; "
                                     "relocate 0x4000->0xe1000 from-home to-mmio; ");
    /* Decoding off, then on. */
    pci_bus_config_write(r.bus, r.devfn, 0x04, 1, 2);
    assert_frames_at(HOME_GFN);
    pci_bus_config_write(r.bus, r.devfn, 0x04, 3, 2);
    assert_frames_at(0xe1000);

    /* Saved at home (the memory image holds them there), back once the loop runs again. */
    state = machine_save_state(r.m);
    assert_frames_at(HOME_GFN);
    run_loop_for(20);
    assert_frames_at(0xe1000);
    g_bytes_unref(state);

    /* A reset unmaps the BARs: home. */
    machine_reset(r.m);
    assert_frames_at(HOME_GFN);
    rig_free(&r);
}

static void test_hostile_placement(void)
{
    struct rig r;
    unsigned before;

    rig_new(&r);
    /* Over the -m RAM, over the VRAM's own home, over the APIC/BIOS range: refused. */
    static const uint32_t refused[] = {0x00000000, 0x03000000, 0x04000000, 0xff000000,
                                       0xfe000000};
    for (unsigned i = 0; i < G_N_ELEMENTS(refused); i++) {
        place_bar(&r, refused[i], 3);
        assert_frames_at(HOME_GFN);
        g_assert_cmphex(vga_lfb_placed_at(r.vga), ==, GUEST_RAM_HOME);
    }
    g_assert_true(guest_ram_target_ok(r.m, 0xfd000000, 16u << 20));
    g_assert_true(guest_ram_target_ok(r.m, 0xfd000000, 28u << 20)); /* up to 0xFEC00000 */
    g_assert_false(guest_ram_target_ok(r.m, 0xfd000000, 29u << 20));
    g_assert_false(guest_ram_target_ok(r.m, 0xfd000800, 16u << 20));
    g_assert_false(guest_ram_target_ok(r.m, UINT64_MAX - 0xfff, 0x2000));
    /* Above 4 GiB nothing but the MMIO hole's top exists with 64 MiB of RAM. */
    g_assert_true(guest_ram_target_ok(r.m, UINT64_C(0x100000000), 16u << 20));

    /* A storm: at most LFB_PLACEMENTS_PER_SECOND placements (each with its way home). */
    before = fx.relocations;
    for (unsigned i = 0; i < 1000; i++) {
        pci_bus_config_write(r.bus, r.devfn, 0x10, i & 1 ? 0xd0000000 : 0xc0000000, 4);
    }
    g_assert_cmpuint(fx.relocations - before, <=, 2 * 8);
    /* Then it settles where the guest left it. */
    pci_bus_config_write(r.bus, r.devfn, 0x10, 0xd0000000, 4);
    run_loop_for(1100);
    assert_frames_at(0xd0000);
    rig_free(&r);
}

/* ---- dirty tracking ---- */

struct recorder {
    unsigned updates;
    int x, y, w, h;
};

static void rec_update(void *opaque, int x, int y, int w, int h)
{
    struct recorder *rec = opaque;

    rec->updates++;
    rec->x = x;
    rec->y = y;
    rec->w = w;
    rec->h = h;
}

static void wait_refresh(struct vga_state *s)
{
    uint64_t before = display_console_refresh_count(s->con);
    int64_t end = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;

    while (display_console_refresh_count(s->con) == before && g_get_monotonic_time() < end) {
        g_main_context_iteration(NULL, TRUE);
    }
    g_assert_cmpuint(display_console_refresh_count(s->con), >, before);
}

static uint32_t surface_pixel(struct vga_state *s, int x, int y)
{
    pixman_image_t *img = display_console_image(s->con);
    const uint8_t *row = (const uint8_t *)pixman_image_get_data(img) +
                         (size_t)y * pixman_image_get_stride(img);

    return ((const uint32_t *)row)[x] & 0xffffff;
}

static void vbe_1024x768x32(struct vga_state *s)
{
    vga_vbe_write(s, VBE_DISPI_INDEX_ENABLE, 0);
    vga_vbe_write(s, VBE_DISPI_INDEX_XRES, 1024);
    vga_vbe_write(s, VBE_DISPI_INDEX_YRES, 768);
    vga_vbe_write(s, VBE_DISPI_INDEX_BPP, 32);
    vga_vbe_write(s, VBE_DISPI_INDEX_ENABLE, VBE_DISPI_ENABLED | VBE_DISPI_LFB_ENABLED);
}

static void test_dirty_tracking(void)
{
    struct rig r;
    struct recorder rec = {0};
    const struct display_listener l = {.update = rec_update, .opaque = &rec};

    rig_new(&r);
    place_bar(&r, (uint32_t)LFB, 3);
    vbe_1024x768x32(r.vga);
    /* A screendump (full refresh, nobody watching) draws from the frames without a log. */
    display_console_refresh(r.vga->con, true);
    g_assert_cmpuint(fx.dirty_calls, ==, 0);

    /* A viewer: a full refresh, then the console polls; the log's first report is all. */
    display_console_add_listener(r.vga->con, &l);
    wait_refresh(r.vga);
    g_assert_true(fx.dirty_active);
    g_assert_cmphex(fx.dirty_first, ==, LFB >> 12);
    g_assert_cmpint(rec.h, ==, 768);

    /* The guest draws line 300 (one page: 1024 x 4 bytes): only that line is redrawn. */
    rec.updates = 0;
    guest_write_vram(300 * 4096 + 16, 0x00abcdef);
    wait_refresh(r.vga);
    g_assert_cmpuint(rec.updates, ==, 1);
    g_assert_cmpint(rec.y, ==, 300);
    g_assert_cmpint(rec.h, ==, 1);
    g_assert_cmphex(surface_pixel(r.vga, 4, 300), ==, 0xabcdef);
    /* Idle: the console keeps polling at its bound, nothing is redrawn. */
    rec.updates = 0;
    wait_refresh(r.vga);
    g_assert_cmpuint(rec.updates, ==, 0);

    /* No log for the range (-ENODATA): everything is redrawn. */
    fx.dirty_errno = ENODATA;
    guest_write_vram(500 * 4096, 0x00123456);
    fx.dirty_active = false; /* what the guest wrote is in no report */
    wait_refresh(r.vga);
    g_assert_cmpint(rec.y, ==, 0);
    g_assert_cmpint(rec.h, ==, 768);
    g_assert_cmphex(surface_pixel(r.vga, 0, 500), ==, 0x123456);
    fx.dirty_errno = 0;

    /* A BAR move stops the log before the frames leave; the next report is all again. */
    wait_refresh(r.vga);
    g_string_truncate(fx.log, 0);
    pci_bus_config_write(r.bus, r.devfn, 0x10, 0xd0000000, 4);
    g_assert_true(g_str_has_prefix(fx.log->str, "stop; relocate 0xe0000->0x4000"));

    /* Nobody watches: the console stops polling and the log stops within a second. */
    display_console_remove_listener(r.vga->con, &l);
    fx.dirty_stops = 0;
    run_loop_for(1300);
    g_assert_false(fx.dirty_active);
    g_assert_cmpuint(fx.dirty_stops, <=, 1);
    rig_free(&r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vga-ram/placement", test_placement);
    g_test_add_func("/vga-ram/hostile-placement", test_hostile_placement);
    g_test_add_func("/vga-ram/dirty-tracking", test_dirty_tracking);
    return g_test_run();
}
