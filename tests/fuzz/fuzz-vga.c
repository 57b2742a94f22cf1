/*
 * fuzz-vga: the standard VGA (hw/display/vga-core.c, vga-pci.c) driven by a compact language
 * of register writes, window and framebuffer accesses and render steps, so that the fuzzer
 * reaches the register/window state machine (memory modes, write modes, latches, VBE banks)
 * and, above all, the renderer over whatever mode the registers describe, where a read past
 * VRAM would be.
 *
 * The machine is fuzz-ioreq's smallest (fuzz-machine.h) plus the VGA (config .vga: 00:0b.0,
 * 16 MiB of VRAM, no ROM). Before the program runs, the harness does what firmware does:
 * BAR0 (VRAM) at 0xF0000000, BAR2 (MMIO) at 0xF1000000, memory decoding on. Guest RAM at
 * RAM_BUF holds a pattern, the source and target of REP MOVS.
 *
 * Program: a sequence of steps, an op byte (% OP_COUNT) and its operands, little-endian;
 * operands past the end read as zero.
 *
 *   REG       kind u8 | index u8 | value u8   an indexed register as a driver writes it;
 *             kind % 6: SR, GR, CRTC (at 0x3D4, or 0x3B4 if kind & 0x80), AR (0x3DA read,
 *             then index and data to 0x3C0), DAC (0x3C8 index, three data bytes, value and
 *             its neighbours), misc output. Index < 0x80: one of the real indexes of that
 *             register file (index % count); else the raw byte
 *   PORT      mode u8 | port u8 | value u16   one access: port % 51 -> 0x3B0-0x3DF, 0x1CE-0x1D0;
 *             mode bit 0 read, bit 1 16-bit
 *   VBE       index u8 | value u16            the 16-bit index then data at 0x1CE/0x1CF
 *             (index % 16 unless >= 0xF0: raw); a VBE_READ reads it back
 *   WINDOW    mode u8 | offset u32 | value u64 | count u16: the legacy window 0xA0000 + offset
 *             % 128 KiB; mode bits 0-1 size (1, 2, 4, 8), bit 2 read, bit 3 buffered (a write
 *             through the buffered ring, ahead of a sync request), bit 4 REP MOVS to or from
 *             guest RAM (data_is_ptr), bit 5 DF; count % 512 + 1 > 1: REP STOS
 *   LFB       mode u8 | offset u32 | value u64 | count u16: BAR0 (wherever it is now) at
 *             offset % 16 MiB, or at the raw offset if mode bit 6; count % (4 KiB / size) + 1
 *   MMIO      mode u8 | area u8 | off u8 | value u32: BAR2 at off into one of its areas
 *             (area % 4: 0x000 EDID, 0x400 ports, 0x500 VBE, 0x600 QEMU's extension)
 *   PCI       reg u8 | size code u8 | value u32: a configuration write to 00:0b.0 (BAR moves,
 *             command register)
 *   MODE      which u8 | sub u8: a whole mode set as the VGA BIOS does: 3 (text, with the
 *             font loaded through plane 2 when sub & 1), 13h, 12h, or a VBE mode (sub picks
 *             the size and depth, sub & 0x80 NOCLEARMEM)
 *   RENDER    full u8: the display's refresh, as its timer or a screendump runs it
 *   DUMP      a screendump to a PPM in tmpfs (at most once per input: it is slow); with
 *             FUZZ_VGA_DUMP=FILE it goes to FILE instead, to see what an input draws
 *   SAVE_LOAD fuzz_machine_check_save_load() (at most once per input), then a full render
 *   RESET     machine_reset()
 *
 * Checked beyond the sanitizers (VRAM is an allocation of its own, so a render that reads past
 * it is an ASan report) and every check of the machine: after each render the surface is
 * within what VRAM and the CRTC can describe, and in a VBE mode it is exactly that mode; an
 * incremental render (graphics and VBE modes) leaves the same pixels as a full one
 * (`vga-stale-pixels`); the console goes with the machine.
 */
#include <errno.h>
#include <fcntl.h>
#include <pixman.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz-machine.h"
#include "fuzz-target.h"
#include "xendm/display.h"
#include "xendm/mapcache.h"

#define MAX_STEPS 512
#define VGA_SLOT 0x0bu
#define VGA_DEVFN (VGA_SLOT << 3)
#define VRAM_SIZE (16u << 20) /* vgamem_mb=16 in fuzz-machine.c */
#define LFB_BASE UINT64_C(0xf0000000)
#define MMIO_BASE UINT64_C(0xf1000000)
#define WINDOW_BASE 0xa0000u
#define WINDOW_SIZE 0x20000u
#define RAM_BUF 0x10000u
#define RAM_BUF_SIZE 0x8000u
#define RAM_PALETTE 0x18000u /* 256 DAC entries, 6 bits a component, as the BIOS loads them */
/* The legacy modes' largest surface: 256 character clocks of 9 dots (text) or 8 dots doubled
 * (planar, SR1 bit 3), 1024 lines (CR12 with its two overflow bits). */
#define LEGACY_MAX_WIDTH (256 * 9 * 2)
#define LEGACY_MAX_HEIGHT 1024

enum op {
    OP_REG,
    OP_PORT,
    OP_VBE,
    OP_VBE_READ,
    OP_WINDOW,
    OP_LFB,
    OP_MMIO,
    OP_PCI,
    OP_MODE,
    OP_RENDER,
    OP_DUMP,
    OP_SAVE_LOAD,
    OP_RESET,
    OP_COUNT
};

enum reg_kind { REG_SR, REG_GR, REG_CR, REG_AR, REG_DAC, REG_MISC, REG_KINDS };

struct harness {
    struct fuzz_machine *fm;
    struct display_console *con;
    bool dumped, saved;
};

static int dump_fd = -1; /* a memfd: tmpfs, no path to clean up */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *keep = g_getenv("FUZZ_VGA_DUMP");

    fuzz_quiet_logs();
    /* FUZZ_VGA_DUMP=FILE keeps the last screendump there, to look at what a seed draws. */
    dump_fd = keep ? open(keep, O_RDWR | O_CREAT | O_CLOEXEC, 0644)
                   : memfd_create("fuzz-vga-dump", MFD_CLOEXEC);
    FUZZ_CHECK(dump_fd >= 0, "screendump file: %s", g_strerror(errno));
    return 0;
}

/* ---- accesses ---- */

static uint64_t pio(struct harness *h, bool read, unsigned size, uint16_t port, uint32_t value)
{
    return fuzz_machine_request(h->fm, XENABI_IOREQ_TYPE_PIO, read, size, port, value, 1, false);
}

static void outb(struct harness *h, uint16_t port, uint8_t value)
{
    pio(h, false, 1, port, value);
}

static void pci_write(struct harness *h, unsigned reg, unsigned size, uint32_t value)
{
    fuzz_machine_request(h->fm, XENABI_IOREQ_TYPE_PCI_CONFIG, false, size,
                         (uint64_t)VGA_DEVFN << 32 | reg, value, 1, false);
}

/* Runs a one-step ioreq program (fuzz-machine.c's interpreter: BAR lookup, buffered ring). */
static void run_program(struct harness *h, GByteArray *prog)
{
    fuzz_machine_run(h->fm, prog->data, prog->len);
    g_byte_array_set_size(prog, 0);
}

static void vbe_write(struct harness *h, uint16_t index, uint16_t value)
{
    pio(h, false, 2, 0x1ce, index);
    pio(h, false, 2, 0x1cf, value);
}

/* ---- REG: indexed registers with their real indexes most of the time ---- */

static void reg_step(struct harness *h, struct fuzz_cursor *c)
{
    static const unsigned counts[REG_KINDS] = {5, 9, 25, 21, 256, 1};
    unsigned kind = (unsigned)fuzz_take(c, 1);
    unsigned raw = (unsigned)fuzz_take(c, 1);
    uint8_t value = (uint8_t)fuzz_take(c, 1);
    uint8_t index = raw < 0x80 ? (uint8_t)(raw % counts[kind % REG_KINDS]) : (uint8_t)raw;
    uint16_t crtc = (kind & 0x80) ? 0x3b4 : 0x3d4;

    switch ((enum reg_kind)(kind % REG_KINDS)) {
    case REG_SR: outb(h, 0x3c4, index); outb(h, 0x3c5, value); break;
    case REG_GR: outb(h, 0x3ce, index); outb(h, 0x3cf, value); break;
    case REG_CR: outb(h, crtc, index); outb(h, (uint16_t)(crtc + 1), value); break;
    case REG_AR:
        pio(h, true, 1, (kind & 0x80) ? 0x3ba : 0x3da, 0); /* the flip-flop to "index" */
        outb(h, 0x3c0, (uint8_t)(index | (kind & 0x40 ? 0 : 0x20)));
        outb(h, 0x3c0, value);
        break;
    case REG_DAC:
        outb(h, 0x3c8, index);
        outb(h, 0x3c9, value);
        outb(h, 0x3c9, (uint8_t)(value + 1));
        outb(h, 0x3c9, (uint8_t)(value + 2));
        break;
    default:
        outb(h, 0x3c2, value);
        break;
    }
}

static void port_step(struct harness *h, struct fuzz_cursor *c)
{
    unsigned mode = (unsigned)fuzz_take(c, 1), sel = (unsigned)fuzz_take(c, 1) % 51;
    uint16_t port = (uint16_t)(sel < 48 ? 0x3b0 + sel : 0x1ce + (sel - 48));
    uint32_t value = (uint32_t)fuzz_take(c, 2);

    pio(h, mode & 1, (mode & 2) ? 2 : 1, port, value);
}

/* ---- the window, the LFB and the MMIO BAR ---- */

static const unsigned sizes[4] = {1, 2, 4, 8};

static void window_step(struct harness *h, struct fuzz_cursor *c, GByteArray *prog)
{
    unsigned mode = (unsigned)fuzz_take(c, 1), size = sizes[mode & 3];
    uint32_t addr = WINDOW_BASE + (uint32_t)fuzz_take(c, 4) % WINDOW_SIZE;
    uint64_t value = fuzz_take(c, 8);
    uint32_t count = (uint32_t)fuzz_take(c, 2) % 512 + 1;
    bool read = (mode & 4) != 0;

    if ((mode & 8) && !read) {
        const struct fuzz_buf_entry e = {XENABI_IOREQ_TYPE_COPY, addr, value, size};
        fuzz_emit_buffered(prog, &e, 1);
        run_program(h, prog);
    } else if (mode & 0x10) {
        /* REP MOVS between the window and RAM_BUF: count * size stays within the buffer. */
        uint32_t gpa = RAM_BUF + (uint32_t)(value % (RAM_BUF_SIZE - count * size + 1));
        unsigned flags = (read ? FUZZ_F_READ : 0) | ((mode & 0x20) ? FUZZ_F_DF : 0);
        if (mode & 0x20) {
            gpa += (count - 1) * size; /* DF: the buffer is walked down from its last element */
        }
        fuzz_emit_mmio_rep(prog, flags, size, addr, (uint16_t)count, gpa);
        run_program(h, prog);
    } else {
        fuzz_machine_request(h->fm, XENABI_IOREQ_TYPE_COPY, read, size, addr, value,
                             read ? 1 : count, false);
    }
}

static void lfb_step(struct harness *h, struct fuzz_cursor *c, GByteArray *prog)
{
    unsigned mode = (unsigned)fuzz_take(c, 1), size = sizes[mode & 3];
    uint32_t offset = (uint32_t)fuzz_take(c, 4);
    uint64_t value = fuzz_take(c, 8);
    /* Xen clips a repeat to a page: what it sends covers at most 4 KiB. */
    uint16_t count = (uint16_t)(fuzz_take(c, 2) % (4096 / size) + 1);
    bool read = (mode & 4) != 0;

    if (!(mode & 0x40)) {
        offset %= VRAM_SIZE;
    }
    fuzz_emit_bar(prog, read, size, VGA_DEVFN, 0, offset, value, read ? 1 : count);
    run_program(h, prog);
}

static void mmio_step(struct harness *h, struct fuzz_cursor *c, GByteArray *prog)
{
    unsigned mode = (unsigned)fuzz_take(c, 1), size = sizes[mode & 3];
    static const uint32_t areas[4] = {0x000, 0x400, 0x500, 0x600}; /* EDID, ports, VBE, ext */
    unsigned area = (unsigned)fuzz_take(c, 1) % 4, off = (unsigned)fuzz_take(c, 1);
    uint32_t value = (uint32_t)fuzz_take(c, 4);

    fuzz_emit_bar(prog, (mode & 4) != 0, size, VGA_DEVFN, 2, areas[area] + off, value, 1);
    run_program(h, prog);
}

static void pci_step(struct harness *h, struct fuzz_cursor *c)
{
    static const unsigned pci_sizes[4] = {1, 2, 4, 4};
    unsigned reg = (unsigned)fuzz_take(c, 1);
    unsigned size = pci_sizes[fuzz_take(c, 1) % 4];

    pci_write(h, reg & ~(size - 1), size, (uint32_t)fuzz_take(c, 4));
}

/* ---- MODE: what the VGA BIOS writes for the standard modes (IBM VGA Technical Reference) ---- */

struct legacy_mode {
    uint8_t misc, sr[5], cr[25], gr[9], ar[21];
};

static const struct legacy_mode mode_03 = {
    0x67, {0x03, 0x00, 0x03, 0x00, 0x02},
    {0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00, 0x4f, 0x0d, 0x0e, 0x00, 0x00, 0x00,
     0x00, 0x9c, 0x8e, 0x8f, 0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff},
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0e, 0x00, 0xff},
    {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e,
     0x3f, 0x0c, 0x00, 0x0f, 0x08, 0x00},
};

static const struct legacy_mode mode_13 = {
    0x63, {0x03, 0x01, 0x0f, 0x00, 0x0e},
    {0x5f, 0x4f, 0x50, 0x82, 0x54, 0x80, 0xbf, 0x1f, 0x00, 0x41, 0x00, 0x00, 0x00, 0x00, 0x00,
     0x00, 0x9c, 0x8e, 0x8f, 0x28, 0x40, 0x96, 0xb9, 0xa3, 0xff},
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x05, 0x0f, 0xff},
    {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
     0x0f, 0x41, 0x00, 0x0f, 0x00, 0x00},
};

static const struct legacy_mode mode_12 = {
    0xe3, {0x03, 0x01, 0x0f, 0x00, 0x06},
    {0x5f, 0x4f, 0x50, 0x82, 0x54, 0x80, 0x0b, 0x3e, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00,
     0x00, 0xea, 0x8c, 0xdf, 0x28, 0x00, 0xe7, 0x04, 0xe3, 0xff},
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x0f, 0xff},
    {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e,
     0x3f, 0x01, 0x00, 0x0f, 0x00, 0x00},
};

static void set_legacy_mode(struct harness *h, const struct legacy_mode *m, GByteArray *prog)
{
    vbe_write(h, 4, 0); /* VBE off: the legacy registers rule again */
    outb(h, 0x3c2, m->misc);
    outb(h, 0x3c4, 0);
    outb(h, 0x3c5, 0x01); /* SR0 synchronous reset while the sequencer changes */
    for (uint8_t i = 1; i < 5; i++) {
        outb(h, 0x3c4, i);
        outb(h, 0x3c5, m->sr[i]);
    }
    outb(h, 0x3c4, 0);
    outb(h, 0x3c5, m->sr[0]);
    outb(h, 0x3d4, 0x11);
    outb(h, 0x3d5, m->cr[0x11] & 0x7f); /* CR11 bit 7 write-protects CR0-CR7 */
    for (uint8_t i = 0; i < 25; i++) {
        outb(h, 0x3d4, i);
        outb(h, 0x3d5, m->cr[i]);
    }
    for (uint8_t i = 0; i < 9; i++) {
        outb(h, 0x3ce, i);
        outb(h, 0x3cf, m->gr[i]);
    }
    pio(h, true, 1, 0x3da, 0);
    for (uint8_t i = 0; i < 21; i++) {
        outb(h, 0x3c0, i);
        outb(h, 0x3c0, m->ar[i]);
    }
    outb(h, 0x3c0, 0x20); /* PAS: the palette is loaded, the screen shows */
    outb(h, 0x3c8, 0);
    fuzz_emit_pio_rep(prog, 0, 1, 0x3c9, 768, RAM_PALETTE); /* REP OUTSB of the DAC */
    run_program(h, prog);
}

/* The BIOS's font load: plane 2 alone, sequential addressing at 0xA0000, 32 bytes a glyph. */
static void load_font(struct harness *h, uint8_t seed)
{
    static const uint8_t plane2[][2] = {{0x02, 0x04}, {0x04, 0x07}};
    static const uint8_t gr_font[][2] = {{0x04, 0x02}, {0x05, 0x00}, {0x06, 0x04}};

    for (size_t i = 0; i < G_N_ELEMENTS(plane2); i++) {
        outb(h, 0x3c4, plane2[i][0]);
        outb(h, 0x3c5, plane2[i][1]);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(gr_font); i++) {
        outb(h, 0x3ce, gr_font[i][0]);
        outb(h, 0x3cf, gr_font[i][1]);
    }
    for (uint32_t glyph = 0; glyph < 256; glyph += 8) {
        fuzz_machine_request(h->fm, XENABI_IOREQ_TYPE_COPY, false, 8, WINDOW_BASE + glyph * 32,
                             0x0102040810204080ull * (uint64_t)(seed | 1) + glyph, 16, false);
    }
    outb(h, 0x3c4, 0x02);
    outb(h, 0x3c5, mode_03.sr[2]);
    outb(h, 0x3c4, 0x04);
    outb(h, 0x3c5, mode_03.sr[4]);
    outb(h, 0x3ce, 0x04);
    outb(h, 0x3cf, mode_03.gr[4]);
    outb(h, 0x3ce, 0x05);
    outb(h, 0x3cf, mode_03.gr[5]);
    outb(h, 0x3ce, 0x06);
    outb(h, 0x3cf, mode_03.gr[6]);
}

static void set_vbe_mode(struct harness *h, uint8_t sub)
{
    static const uint16_t vbe_modes[8][3] = {
        {640, 480, 8}, {800, 600, 16}, {1024, 768, 32}, {1024, 768, 24},
        {320, 200, 15}, {1280, 1024, 32}, {1600, 1200, 24}, {2560, 1600, 32},
    };
    const uint16_t *m = vbe_modes[sub & 7];

    vbe_write(h, 4, 0);
    vbe_write(h, 1, m[0]);
    vbe_write(h, 2, m[1]);
    vbe_write(h, 3, m[2]);
    vbe_write(h, 4, (uint16_t)(0x01 | ((sub & 0x08) ? 0 : 0x40) | ((sub & 0x10) ? 0x20 : 0) |
                               ((sub & 0x80) ? 0x80 : 0)));
}

static void mode_step(struct harness *h, struct fuzz_cursor *c, GByteArray *prog)
{
    unsigned which = (unsigned)fuzz_take(c, 1) % 4;
    uint8_t sub = (uint8_t)fuzz_take(c, 1);

    switch (which) {
    case 0:
        set_legacy_mode(h, &mode_03, prog);
        if (sub & 1) {
            load_font(h, sub);
        }
        break;
    case 1: set_legacy_mode(h, &mode_13, prog); break;
    case 2: set_legacy_mode(h, &mode_12, prog); break;
    default: set_vbe_mode(h, sub); break;
    }
}

/* ---- rendering and its checks ---- */

/*
 * Whether VBE is enabled, and its mode, read back through the ports as a driver would (the
 * index is restored; a lone low byte the guest left at 0x1CF is dropped, as any access does).
 */
static bool vbe_mode_now(struct harness *h, uint16_t mode[3])
{
    uint16_t saved_index = (uint16_t)pio(h, true, 2, 0x1ce, 0);
    uint16_t enable;

    pio(h, false, 2, 0x1ce, 4);
    enable = (uint16_t)pio(h, true, 2, 0x1cf, 0);
    for (unsigned i = 0; i < 3; i++) {
        pio(h, false, 2, 0x1ce, 1 + i);
        mode[i] = (uint16_t)pio(h, true, 2, 0x1cf, 0);
    }
    pio(h, false, 2, 0x1ce, saved_index);
    return (enable & 0x03) == 0x01; /* ENABLED, and GETCAPS clear so the values are real */
}

static void check_surface(struct harness *h)
{
    pixman_image_t *img = display_console_image(h->con);
    uint64_t w = (uint64_t)pixman_image_get_width(img);
    uint64_t hgt = (uint64_t)pixman_image_get_height(img);
    uint16_t mode[3];

    FUZZ_CHECK(w > 0 && hgt > 0 && w <= DISPLAY_MAX_WIDTH && hgt <= DISPLAY_MAX_HEIGHT,
               "VGA surface %" G_GUINT64_FORMAT "x%" G_GUINT64_FORMAT " out of range", w, hgt);
    /* A VBE surface holds at least a byte of VRAM per pixel; a legacy one the CRTC's span. */
    FUZZ_CHECK((w <= LEGACY_MAX_WIDTH && hgt <= LEGACY_MAX_HEIGHT) || w * hgt <= VRAM_SIZE,
               "VGA surface %" G_GUINT64_FORMAT "x%" G_GUINT64_FORMAT " beyond VRAM", w, hgt);
    if (vbe_mode_now(h, mode) && mode[0] > 0 && mode[1] > 0) {
        unsigned bytes = mode[2] == 8 ? 1 : mode[2] == 32 ? 4 : mode[2] == 24 ? 3 : 2;
        FUZZ_CHECK((uint64_t)mode[0] * mode[1] * bytes <= VRAM_SIZE,
                   "VBE mode %ux%ux%u enabled beyond VRAM", mode[0], mode[1], mode[2]);
        FUZZ_CHECK(w == mode[0] && hgt == mode[1],
                   "VBE mode %ux%u but the surface is %" G_GUINT64_FORMAT "x%" G_GUINT64_FORMAT,
                   mode[0], mode[1], w, hgt);
    }
}

/* Whether the registers select a text mode (GR6 bit 0 clear, VBE off): its blink runs on the
 * clock, so two renders may differ by themselves. GR's index is put back as it was. */
static bool text_mode_now(struct harness *h)
{
    uint16_t mode[3];
    uint8_t gr_index = (uint8_t)pio(h, true, 1, 0x3ce, 0), gr6;

    outb(h, 0x3ce, 6);
    gr6 = (uint8_t)pio(h, true, 1, 0x3cf, 0);
    outb(h, 0x3ce, gr_index);
    return !vbe_mode_now(h, mode) && !(gr6 & 0x01);
}

/* The largest surface whose incremental render is compared with a full one (16 MiB of it). */
#define COMPARE_MAX_PIXELS (4u << 20)

/*
 * An incremental render must leave what a full one draws: a VRAM write the dirty tracking
 * missed, or a register change that should have forced a full redraw, shows as stale pixels.
 */
static void check_incremental(struct harness *h)
{
    pixman_image_t *img = display_console_image(h->con);
    int w = pixman_image_get_width(img), hgt = pixman_image_get_height(img);
    size_t stride = (size_t)pixman_image_get_stride(img), len = stride * (size_t)hgt;
    g_autofree uint8_t *before = NULL;
    const uint8_t *after;

    if ((uint64_t)w * (uint64_t)hgt > COMPARE_MAX_PIXELS || text_mode_now(h)) {
        return;
    }
    before = g_memdup2(pixman_image_get_data(img), len);
    display_console_refresh(h->con, true);
    img = display_console_image(h->con);
    if (pixman_image_get_width(img) != w || pixman_image_get_height(img) != hgt) {
        fuzz_fail_named("vga-stale-pixels", "a full render changed the surface from %dx%d", w,
                        hgt);
        return;
    }
    after = (const uint8_t *)pixman_image_get_data(img);
    for (size_t off = 0; off < len; off += 4) {
        if (memcmp(before + off, after + off, 4) != 0) {
            fuzz_fail_named("vga-stale-pixels", "pixel %zu,%zu of %dx%d: 0x%08x after an "
                            "incremental render, 0x%08x after a full one", off % stride / 4,
                            off / stride, w, hgt, *(const uint32_t *)(before + off),
                            *(const uint32_t *)(after + off));
            return;
        }
    }
}

static void render(struct harness *h, bool full)
{
    display_console_refresh(h->con, full);
    check_surface(h);
    if (!full) {
        check_incremental(h);
    }
}

static void dump_step(struct harness *h)
{
    GError *err = NULL;

    if (h->dumped) {
        return;
    }
    h->dumped = true;
    FUZZ_CHECK(ftruncate(dump_fd, 0) == 0 && lseek(dump_fd, 0, SEEK_SET) == 0,
               "dump file: %s", g_strerror(errno));
    FUZZ_CHECK(display_console_screendump(h->con, dump_fd, DISPLAY_DUMP_PPM, &err),
               "screendump failed: %s", err ? err->message : "?");
    check_surface(h);
}

static void run_step(struct harness *h, enum op op, struct fuzz_cursor *c, GByteArray *prog)
{
    switch (op) {
    case OP_REG: reg_step(h, c); break;
    case OP_PORT: port_step(h, c); break;
    case OP_VBE: {
        unsigned index = (unsigned)fuzz_take(c, 1);
        vbe_write(h, (uint16_t)(index >= 0xf0 ? index : index % 16), (uint16_t)fuzz_take(c, 2));
        break;
    }
    case OP_VBE_READ:
        pio(h, false, 2, 0x1ce, (uint32_t)fuzz_take(c, 1) % 16);
        pio(h, true, 2, 0x1cf, 0);
        break;
    case OP_WINDOW: window_step(h, c, prog); break;
    case OP_LFB: lfb_step(h, c, prog); break;
    case OP_MMIO: mmio_step(h, c, prog); break;
    case OP_PCI: pci_step(h, c); break;
    case OP_MODE: mode_step(h, c, prog); break;
    case OP_RENDER: render(h, (fuzz_take(c, 1) & 1) != 0); break;
    case OP_DUMP: dump_step(h); break;
    case OP_SAVE_LOAD:
        if (!h->saved) {
            h->saved = true;
            fuzz_machine_check_save_load(h->fm);
            render(h, true);
        }
        break;
    case OP_RESET: machine_reset(h->fm->m); break;
    default: break;
    }
}

/* An EGA colour component: its primary bit gives 2/3 of full scale, its secondary 1/3. */
static uint8_t ega_level(unsigned colour, unsigned primary, unsigned secondary)
{
    return (uint8_t)(((colour >> primary) & 1) * 42 + ((colour >> secondary) & 1) * 21);
}

/* The BIOS's palette: entries 0-63 the EGA colours of their rgbRGB bits, then ramps. */
static void write_palette(struct harness *h)
{
    uint8_t dac[768];

    for (unsigned i = 0; i < 256; i++) {
        unsigned c = i & 0x3f;
        dac[3 * i] = i < 64 ? ega_level(c, 2, 5) : (uint8_t)c;
        dac[3 * i + 1] = i < 64 ? ega_level(c, 1, 4) : (uint8_t)((i >> 2) & 0x3f);
        dac[3 * i + 2] = i < 64 ? ega_level(c, 0, 3) : (uint8_t)(0x3f - c);
    }
    FUZZ_CHECK(mapcache_write(h->fm->mc, RAM_PALETTE, dac, sizeof(dac)) == 0,
               "RAM write failed");
}

/* What firmware leaves: both BARs placed, memory decoding on; patterns in RAM. */
static void firmware_setup(struct harness *h)
{
    uint8_t pattern[256];

    pci_write(h, 0x10, 4, (uint32_t)LFB_BASE);
    pci_write(h, 0x18, 4, (uint32_t)MMIO_BASE);
    pci_write(h, 0x04, 2, 0x0003);
    for (unsigned i = 0; i < sizeof(pattern); i++) {
        pattern[i] = (uint8_t)(i * 37 + 11);
    }
    for (uint32_t off = 0; off < RAM_BUF_SIZE; off += sizeof(pattern)) {
        FUZZ_CHECK(mapcache_write(h->fm->mc, RAM_BUF + off, pattern, sizeof(pattern)) == 0,
                   "RAM write failed");
    }
    write_palette(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct fuzz_machine_config cfg = {.vga = true};
    struct harness h = {0};
    struct fuzz_cursor c = {data, size};
    GByteArray *prog = g_byte_array_new();

    h.fm = fuzz_machine_new(&cfg);
    h.con = display_console_first();
    FUZZ_CHECK(h.con != NULL, "the VGA has no console");
    firmware_setup(&h);
    for (unsigned steps = 0; c.left > 0 && steps < MAX_STEPS; steps++) {
        run_step(&h, (enum op)(fuzz_take(&c, 1) % OP_COUNT), &c, prog);
        fuzz_machine_check_lines(h.fm);
    }
    render(&h, false); /* whatever the input left, drawn once more */
    fuzz_machine_free(h.fm);
    FUZZ_CHECK(display_console_first() == NULL, "the VGA's console outlived the machine");
    g_byte_array_free(prog, TRUE);
    return 0;
}
