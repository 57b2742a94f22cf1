/*
 * VGA hardware shared by the VGA variants (hw/display/vga.h): registers, the legacy
 * window with its memory modes, Bochs VBE DISPI, and rendering into a display console.
 *
 * Register facts follow the IBM VGA Technical Reference and FreeVGA's register pages (cited
 * below by register name, e.g. "GR5 Graphics Mode"); VBE DISPI follows Bochs' interface
 * description (ID 0xB0C5). Every guest value is bounded where it is used: VRAM indexes are
 * masked to the 256 KiB the planes span or checked against the VRAM size, a VBE mode or bank
 * that does not fit is refused as Bochs refuses it.
 */
#include "vga.h"

#include <errno.h>
#include <inttypes.h>
#include <pixman.h>
#include <string.h>
#include "xendm/guest-ram.h"
#include "xendm/log.h"
#include "xendm/machine.h"

#define BITS_PER_ULONG (8 * sizeof(unsigned long))
/* Xen's dirty-VRAM log is stopped after this long without an incremental refresh. */
#define DIRTY_LOG_IDLE_NS UINT64_C(1000000000)

/* ---- VRAM ---- */

static size_t vram_dirty_words(const struct vga_vram *v)
{
    return ((v->size >> VGA_VRAM_PAGE_SHIFT) + BITS_PER_ULONG - 1) / BITS_PER_ULONG;
}

bool vga_vram_init(struct vga_vram *v, struct machine *m, uint32_t size)
{
    if (size < (1u << 20) || (size & (size - 1)) != 0) {
        return false;
    }
    v->ram = guest_ram_new(m, "vga.vram", size);
    if (!v->ram) {
        return false;
    }
    v->ptr = guest_ram_ptr(v->ram);
    v->size = size;
    v->dirty = g_new0(unsigned long, vram_dirty_words(v));
    v->xen_dirty = g_new0(unsigned long, vram_dirty_words(v));
    return true;
}

void vga_vram_free(struct vga_vram *v)
{
    guest_ram_free(v->ram);
    g_free(v->dirty);
    g_free(v->xen_dirty);
    memset(v, 0, sizeof(*v));
}

void vga_vram_mark_dirty(struct vga_vram *v, uint32_t offset, uint32_t len)
{
    uint32_t first, last;

    if (len == 0 || offset >= v->size) {
        return;
    }
    len = XENDM_MIN(len, v->size - offset);
    first = offset >> VGA_VRAM_PAGE_SHIFT;
    last = (offset + len - 1) >> VGA_VRAM_PAGE_SHIFT;
    for (uint32_t p = first; p <= last; p++) {
        v->dirty[p / BITS_PER_ULONG] |= 1ul << (p % BITS_PER_ULONG);
    }
    /* Guest frames xendm wrote: libxc must send them again during a live migration. */
    guest_ram_mark_modified(v->ram, offset, len);
}

bool vga_vram_test_dirty(const struct vga_vram *v, uint32_t offset, uint32_t len)
{
    uint32_t first, last;

    if (len == 0 || offset >= v->size) {
        return false;
    }
    len = XENDM_MIN(len, v->size - offset);
    first = offset >> VGA_VRAM_PAGE_SHIFT;
    last = (offset + len - 1) >> VGA_VRAM_PAGE_SHIFT;
    for (uint32_t p = first; p <= last; p++) {
        if (v->dirty[p / BITS_PER_ULONG] & (1ul << (p % BITS_PER_ULONG))) {
            return true;
        }
    }
    return false;
}

void vga_vram_clear_dirty(struct vga_vram *v)
{
    uint32_t pages = v->size >> VGA_VRAM_PAGE_SHIFT;

    memset(v->dirty, 0, (pages + BITS_PER_ULONG - 1) / BITS_PER_ULONG * sizeof(unsigned long));
}

/* ---- register helpers ---- */

/* Writable bits of the sequencer, graphics controller and attribute controller registers. */
static const uint8_t sr_mask[8] = {0x03, 0x3d, 0x0f, 0x3f, 0x0e, 0x00, 0x00, 0x00};
static const uint8_t gr_mask[16] = {0x0f, 0x0f, 0x0f, 0x1f, 0x03, 0x7b, 0x0f, 0x0f, 0xff};
#define AR_REGS 0x15

static uint8_t ar_mask(unsigned index)
{
    if (index < 0x10) {
        return 0x3f; /* palette: 6 bits */
    }
    switch (index) {
    case 0x10: return 0xef; /* Attribute Mode Control: bit 4 reserved */
    case 0x11: return 0xff; /* Overscan */
    case 0x12: return 0x3f; /* Color Plane Enable */
    default: return 0x0f;   /* Horizontal Pel Panning, Color Select */
    }
}

static bool vbe_enabled(const struct vga_state *s)
{
    return (s->r.vbe_regs[VBE_DISPI_INDEX_ENABLE] & VBE_DISPI_ENABLED) != 0;
}

static void changed(struct vga_state *s)
{
    s->full_update = true;
    display_console_hw_changed(s->con);
}

/* Misc Output bit 0 (I/O Address Select): the CRTC and status 1 at 0x3Dx (1) or 0x3Bx (0). */
static bool port_decoded(const struct vga_state *s, uint16_t port)
{
    bool colour = (s->r.misc_output & 0x01) != 0;

    if (port >= 0x3b0 && port <= 0x3bf) {
        return !colour;
    }
    if (port >= 0x3d0 && port <= 0x3df) {
        return colour;
    }
    return true;
}

/* ---- the DAC (0x3C6-0x3C9): three reads or writes per entry, red, green, blue ---- */

static uint8_t dac_data_read(struct vga_state *s)
{
    uint8_t v = s->r.palette[s->r.dac_read_index * 3 + s->r.dac_sub_index];

    if (++s->r.dac_sub_index == 3) {
        s->r.dac_sub_index = 0;
        s->r.dac_read_index++;
    }
    return v;
}

static void dac_data_write(struct vga_state *s, uint8_t value)
{
    bool dac8 = (s->r.vbe_regs[VBE_DISPI_INDEX_ENABLE] & VBE_DISPI_8BIT_DAC) != 0;

    s->r.dac_cache[s->r.dac_sub_index] = dac8 ? value : (value & 0x3f);
    if (++s->r.dac_sub_index == 3) {
        memcpy(&s->r.palette[s->r.dac_write_index * 3], s->r.dac_cache, 3);
        s->r.dac_sub_index = 0;
        s->r.dac_write_index++;
        changed(s);
    }
}

/* ---- ports ---- */

static uint8_t crtc_read(const struct vga_state *s)
{
    return s->r.cr_index < sizeof(s->r.cr) ? s->r.cr[s->r.cr_index] : 0x00;
}

static void crtc_write(struct vga_state *s, uint8_t value)
{
    unsigned index = s->r.cr_index;

    if (index >= sizeof(s->r.cr)) {
        return;
    }
    /* CR11 bit 7 protects CR0-CR7, except CR7 bit 4 (Line Compare bit 8). */
    if ((s->r.cr[0x11] & 0x80) && index <= 7) {
        if (index == 7) {
            s->r.cr[7] = (uint8_t)((s->r.cr[7] & ~0x10) | (value & 0x10));
        }
        return;
    }
    s->r.cr[index] = value;
    changed(s);
}

uint8_t vga_ioport_read(struct vga_state *s, uint16_t port)
{
    if (!port_decoded(s, port)) {
        return 0xff;
    }
    switch (port) {
    case 0x3c0: return s->r.ar_index;
    case 0x3c1: {
        unsigned index = s->r.ar_index & 0x1f;
        return index < AR_REGS ? s->r.ar[index] : 0x00;
    }
    case 0x3c2: return 0x00; /* Input Status 0: no switch sense, no pending interrupt */
    case 0x3c4: return s->r.sr_index;
    case 0x3c5: return s->r.sr[s->r.sr_index & 7];
    case 0x3c6: return s->r.dac_pel_mask;
    case 0x3c7: return s->r.dac_state;
    case 0x3c8: return s->r.dac_write_index;
    case 0x3c9: return dac_data_read(s);
    case 0x3ca: return s->r.feature_control;
    case 0x3cc: return s->r.misc_output;
    case 0x3ce: return s->r.gr_index;
    case 0x3cf: return s->r.gr[s->r.gr_index & 0x0f];
    case 0x3b4: case 0x3d4: return s->r.cr_index;
    case 0x3b5: case 0x3d5: return crtc_read(s);
    case 0x3ba: case 0x3da:
        /*
         * Input Status 1 resets the attribute flip-flop. Bits 0 (display disabled) and 3
         * (vertical retrace) change at every read, so a BIOS polling for a retrace edge
         * sees one in both directions without a clock.
         */
        s->r.ar_flip_flop = false;
        s->r.st01_toggle ^= 0x09;
        return s->r.st01_toggle;
    default:
        return 0xff;
    }
}

static void attr_write(struct vga_state *s, uint8_t value)
{
    unsigned index = s->r.ar_index & 0x1f;

    if (!s->r.ar_flip_flop) {
        s->r.ar_index = value & 0x3f;
        changed(s); /* the PAS bit blanks or shows the screen */
    } else if (index < AR_REGS) {
        s->r.ar[index] = value & ar_mask(index);
        changed(s);
    }
    s->r.ar_flip_flop = !s->r.ar_flip_flop;
}

void vga_ioport_write(struct vga_state *s, uint16_t port, uint8_t value)
{
    if (!port_decoded(s, port)) {
        return;
    }
    switch (port) {
    case 0x3c0: attr_write(s, value); break;
    case 0x3c2: s->r.misc_output = value & ~0x10; changed(s); break;
    case 0x3c4: s->r.sr_index = value & 7; break;
    case 0x3c5:
        s->r.sr[s->r.sr_index & 7] = value & sr_mask[s->r.sr_index & 7];
        changed(s);
        break;
    case 0x3c6: s->r.dac_pel_mask = value; changed(s); break;
    case 0x3c7:
        s->r.dac_read_index = value;
        s->r.dac_sub_index = 0;
        s->r.dac_state = 3;
        break;
    case 0x3c8:
        s->r.dac_write_index = value;
        s->r.dac_sub_index = 0;
        s->r.dac_state = 0;
        break;
    case 0x3c9: dac_data_write(s, value); break;
    case 0x3ce: s->r.gr_index = value & 0x0f; break;
    case 0x3cf:
        s->r.gr[s->r.gr_index & 0x0f] = value & gr_mask[s->r.gr_index & 0x0f];
        changed(s);
        break;
    case 0x3b4: case 0x3d4: s->r.cr_index = value; break;
    case 0x3b5: case 0x3d5: crtc_write(s, value); break;
    case 0x3ba: case 0x3da: s->r.feature_control = value & 0x03; break;
    default: break;
    }
}

/* ---- Bochs VBE DISPI ---- */

static unsigned vbe_bytes_per_pixel(unsigned bpp)
{
    switch (bpp) {
    case 8: return 1;
    case 15: case 16: return 2;
    case 24: return 3;
    case 32: return 4;
    default: return 0;
    }
}

/* Whether xres x yres at bpp, `line_offset` bytes apart from `start`, lies inside VRAM. */
static bool vbe_fits(const struct vga_state *s, uint64_t xres, uint64_t yres, unsigned bpp,
                     uint64_t line_offset, uint64_t start)
{
    unsigned bytes = vbe_bytes_per_pixel(bpp);

    if (bytes == 0 || xres == 0 || yres == 0 || xres > VBE_DISPI_MAX_XRES ||
        yres > VBE_DISPI_MAX_YRES || line_offset < xres * bytes) {
        return false;
    }
    return start + line_offset * (yres - 1) + xres * bytes <= s->vram.size;
}

static bool vbe_mode_valid(const struct vga_state *s)
{
    const uint16_t *r = s->r.vbe_regs;

    return vbe_fits(s, r[VBE_DISPI_INDEX_XRES], r[VBE_DISPI_INDEX_YRES], r[VBE_DISPI_INDEX_BPP],
                    s->r.vbe_line_offset, s->r.vbe_start);
}

static void vbe_set_virt_height(struct vga_state *s)
{
    s->r.vbe_regs[VBE_DISPI_INDEX_VIRT_HEIGHT] =
        (uint16_t)XENDM_MIN(s->vram.size / s->r.vbe_line_offset, 0xffffu);
}

/* ENABLE with the ENABLED bit newly set: check the mode, reset the virtual screen. */
static bool vbe_enable(struct vga_state *s, uint16_t value)
{
    uint16_t *r = s->r.vbe_regs;
    unsigned bytes = vbe_bytes_per_pixel(r[VBE_DISPI_INDEX_BPP]);
    uint64_t line = (uint64_t)r[VBE_DISPI_INDEX_XRES] * bytes;

    if (!vbe_fits(s, r[VBE_DISPI_INDEX_XRES], r[VBE_DISPI_INDEX_YRES], r[VBE_DISPI_INDEX_BPP],
                  line, 0)) {
        log_guest_error("VGA: VBE mode %ux%ux%u refused (%u KiB of VRAM)",
                        r[VBE_DISPI_INDEX_XRES], r[VBE_DISPI_INDEX_YRES],
                        r[VBE_DISPI_INDEX_BPP], s->vram.size >> 10);
        return false;
    }
    s->r.vbe_line_offset = (uint32_t)line;
    s->r.vbe_start = 0;
    r[VBE_DISPI_INDEX_VIRT_WIDTH] = r[VBE_DISPI_INDEX_XRES];
    r[VBE_DISPI_INDEX_X_OFFSET] = 0;
    r[VBE_DISPI_INDEX_Y_OFFSET] = 0;
    vbe_set_virt_height(s);
    if (!(value & VBE_DISPI_NOCLEARMEM)) {
        uint32_t len = s->r.vbe_line_offset * r[VBE_DISPI_INDEX_YRES];
        memset(s->vram.ptr, 0, len);
        vga_vram_mark_dirty(&s->vram, 0, len);
    }
    /* The window becomes a linear 64 KiB bank at 0xA0000 (GR6 graphics, map 1; chain-4). */
    s->r.gr[6] = (uint8_t)((s->r.gr[6] & ~0x0c) | 0x05);
    s->r.sr[4] |= 0x08;
    return true;
}

static void vbe_write_enable(struct vga_state *s, uint16_t value)
{
    uint16_t *r = s->r.vbe_regs;

    if ((value & VBE_DISPI_ENABLED) && !vbe_enabled(s) && !vbe_enable(s, value)) {
        value &= (uint16_t)~VBE_DISPI_ENABLED;
    }
    r[VBE_DISPI_INDEX_ENABLE] = value & (VBE_DISPI_ENABLED | VBE_DISPI_GETCAPS |
                                         VBE_DISPI_8BIT_DAC | VBE_DISPI_LFB_ENABLED |
                                         VBE_DISPI_NOCLEARMEM);
}

static void vbe_write_mode_reg(struct vga_state *s, unsigned index, uint16_t value)
{
    if (vbe_enabled(s)) {
        log_guest_error("VGA: VBE register %u written while a mode is set (ignored)", index);
        return;
    }
    if (index == VBE_DISPI_INDEX_BPP) {
        value = value == 0 ? 8 : value; /* Bochs: 0 means 8 */
        if (vbe_bytes_per_pixel(value) == 0) {
            log_guest_error("VGA: VBE bpp %u refused", value);
            return;
        }
    } else if (value > (index == VBE_DISPI_INDEX_XRES ? VBE_DISPI_MAX_XRES
                                                      : VBE_DISPI_MAX_YRES)) {
        log_guest_error("VGA: VBE %s %u refused", index == VBE_DISPI_INDEX_XRES ? "xres" : "yres",
                        value);
        return;
    }
    s->r.vbe_regs[index] = value;
}

static void vbe_write_virt_width(struct vga_state *s, uint16_t value)
{
    uint16_t *r = s->r.vbe_regs;
    uint64_t line = (uint64_t)value * vbe_bytes_per_pixel(r[VBE_DISPI_INDEX_BPP]);

    if (!vbe_fits(s, r[VBE_DISPI_INDEX_XRES], r[VBE_DISPI_INDEX_YRES], r[VBE_DISPI_INDEX_BPP],
                  line, 0)) {
        log_guest_error("VGA: VBE virtual width %u refused", value);
        return;
    }
    r[VBE_DISPI_INDEX_VIRT_WIDTH] = value;
    r[VBE_DISPI_INDEX_X_OFFSET] = r[VBE_DISPI_INDEX_Y_OFFSET] = 0;
    s->r.vbe_line_offset = (uint32_t)line;
    s->r.vbe_start = 0;
    vbe_set_virt_height(s);
}

static void vbe_write_offset(struct vga_state *s, unsigned index, uint16_t value)
{
    uint16_t *r = s->r.vbe_regs;
    uint64_t x = index == VBE_DISPI_INDEX_X_OFFSET ? value : r[VBE_DISPI_INDEX_X_OFFSET];
    uint64_t y = index == VBE_DISPI_INDEX_Y_OFFSET ? value : r[VBE_DISPI_INDEX_Y_OFFSET];
    uint64_t start = y * s->r.vbe_line_offset +
                     x * vbe_bytes_per_pixel(r[VBE_DISPI_INDEX_BPP]);

    /* Before a mode is set there is no line offset to check against: store for later. */
    if (s->r.vbe_line_offset != 0 &&
        !vbe_fits(s, r[VBE_DISPI_INDEX_XRES], r[VBE_DISPI_INDEX_YRES], r[VBE_DISPI_INDEX_BPP],
                  s->r.vbe_line_offset, start)) {
        log_guest_error("VGA: VBE display offset %" PRIu64 ",%" PRIu64 " past VRAM", x, y);
        return;
    }
    r[index] = value;
    s->r.vbe_start = s->r.vbe_line_offset != 0 ? (uint32_t)start : 0;
}

uint16_t vga_vbe_read(struct vga_state *s, unsigned index)
{
    const uint16_t *r = s->r.vbe_regs;

    if (index >= VBE_DISPI_INDEX_NB) {
        return 0;
    }
    if (r[VBE_DISPI_INDEX_ENABLE] & VBE_DISPI_GETCAPS) {
        switch (index) {
        case VBE_DISPI_INDEX_XRES: return VBE_DISPI_MAX_XRES;
        case VBE_DISPI_INDEX_YRES: return VBE_DISPI_MAX_YRES;
        case VBE_DISPI_INDEX_BPP: return VBE_DISPI_MAX_BPP;
        default: break;
        }
    }
    if (index == VBE_DISPI_INDEX_VIDEO_MEMORY_64K) {
        return (uint16_t)(s->vram.size >> 16);
    }
    return r[index];
}

void vga_vbe_write(struct vga_state *s, unsigned index, uint16_t value)
{
    switch (index) {
    case VBE_DISPI_INDEX_ID:
        if (value >= VBE_DISPI_ID0 && value <= VBE_DISPI_ID5) {
            s->r.vbe_regs[VBE_DISPI_INDEX_ID] = value;
        }
        return;
    case VBE_DISPI_INDEX_XRES: case VBE_DISPI_INDEX_YRES: case VBE_DISPI_INDEX_BPP:
        vbe_write_mode_reg(s, index, value);
        return;
    case VBE_DISPI_INDEX_ENABLE: vbe_write_enable(s, value); break;
    case VBE_DISPI_INDEX_BANK:
        /* 64 KiB banks; a bank whose window would reach past VRAM is ignored, as Bochs does. */
        if (((uint64_t)value << 16) + 0x10000 > s->vram.size) {
            log_guest_error("VGA: VBE bank %u past %u KiB of VRAM", value, s->vram.size >> 10);
            return;
        }
        s->r.vbe_regs[VBE_DISPI_INDEX_BANK] = value;
        s->r.vbe_bank_offset = (uint32_t)value << 16;
        return;
    case VBE_DISPI_INDEX_VIRT_WIDTH: vbe_write_virt_width(s, value); break;
    case VBE_DISPI_INDEX_X_OFFSET: case VBE_DISPI_INDEX_Y_OFFSET:
        vbe_write_offset(s, index, value);
        break;
    default:
        return; /* VIRT_HEIGHT and VIDEO_MEMORY_64K are read-only; others do not exist */
    }
    changed(s);
}

/* ---- the legacy window (GR6 Memory Map Select; FreeVGA "Graphics Registers") ---- */

static bool window_address(const struct vga_state *s, uint32_t offset, uint32_t *addr)
{
    switch ((s->r.gr[6] >> 2) & 3) {
    case 0: /* 0xA0000, 128 KiB */
        *addr = offset;
        return true;
    case 1: /* 0xA0000, 64 KiB: the VBE bank applies */
        if (offset >= 0x10000) {
            return false;
        }
        *addr = offset + (vbe_enabled(s) ? s->r.vbe_bank_offset : 0);
        return true;
    case 2: /* 0xB0000, 32 KiB */
        if (offset < 0x10000 || offset >= 0x18000) {
            return false;
        }
        *addr = offset - 0x10000;
        return true;
    default: /* 0xB8000, 32 KiB */
        if (offset < 0x18000) {
            return false;
        }
        *addr = offset - 0x18000;
        return true;
    }
}

static bool chained(const struct vga_state *s)
{
    return vbe_enabled(s) || (s->r.sr[4] & 0x08); /* SR4 bit 3: Chain 4 */
}

static uint32_t load32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void store32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Four plane bits (b0 = plane 0) -> a 32-bit mask with 0xff in each selected plane's byte. */
static uint32_t expand4(unsigned bits)
{
    uint32_t m = 0;

    for (unsigned p = 0; p < 4; p++) {
        if (bits & (1u << p)) {
            m |= 0xffu << (8 * p);
        }
    }
    return m;
}

uint8_t vga_window_read(struct vga_state *s, uint32_t offset)
{
    uint32_t addr, index;

    if (!window_address(s, offset, &addr)) {
        return 0xff;
    }
    if (chained(s)) {
        return addr < s->vram.size ? s->vram.ptr[addr] : 0xff;
    }
    if (s->r.gr[5] & 0x10) {
        /* GR5 bit 4 Host Odd/Even: address bit 0 picks plane 0/1 (GR4 bit 1: 2/3). */
        unsigned plane = (s->r.gr[4] & 2) | (addr & 1);
        return s->vram.ptr[((addr >> 1) & 0xffff) * 4 + plane];
    }
    index = (addr & 0xffff) * 4;
    s->r.latch = load32(&s->vram.ptr[index]);
    if (!(s->r.gr[5] & 0x08)) {
        return (uint8_t)(s->r.latch >> (8 * (s->r.gr[4] & 3))); /* read mode 0: GR4's plane */
    }
    /* Read mode 1: 1 where every plane GR7 cares about equals GR2's colour compare bit. */
    uint32_t differs = (s->r.latch ^ expand4(s->r.gr[2])) & expand4(s->r.gr[7]);
    return (uint8_t)~(differs | differs >> 8 | differs >> 16 | differs >> 24);
}

/* Write modes 0-3 with set/reset, rotate, logical operation and bit mask (GR0-GR8). */
static uint32_t planar_write_value(struct vga_state *s, uint8_t value)
{
    unsigned rotate = s->r.gr[3] & 7;
    uint8_t bit_mask = s->r.gr[8];
    uint32_t v;

    switch (s->r.gr[5] & 3) {
    case 0:
        value = (uint8_t)((value >> rotate) | (value << (8 - rotate)));
        v = value * 0x01010101u;
        v = (v & ~expand4(s->r.gr[1])) | (expand4(s->r.gr[0]) & expand4(s->r.gr[1]));
        break;
    case 1:
        return s->r.latch;
    case 2:
        v = expand4(value & 0x0f);
        break;
    default:
        value = (uint8_t)((value >> rotate) | (value << (8 - rotate)));
        bit_mask &= value;
        v = expand4(s->r.gr[0]);
        break;
    }
    switch ((s->r.gr[3] >> 3) & 3) {
    case 1: v &= s->r.latch; break;
    case 2: v |= s->r.latch; break;
    case 3: v ^= s->r.latch; break;
    default: break;
    }
    uint32_t mask = bit_mask * 0x01010101u;
    return (v & mask) | (s->r.latch & ~mask);
}

static void write_planes(struct vga_state *s, uint32_t memaddr, uint32_t value, unsigned planes)
{
    uint32_t index = (memaddr & 0xffff) * 4;
    uint32_t mask = expand4(planes);
    uint32_t old = load32(&s->vram.ptr[index]);

    store32(&s->vram.ptr[index], (old & ~mask) | (value & mask));
    vga_vram_mark_dirty(&s->vram, index, 4);
}

void vga_window_write(struct vga_state *s, uint32_t offset, uint8_t value)
{
    uint32_t addr;
    unsigned map_mask = s->r.sr[2] & 0x0f;

    if (!window_address(s, offset, &addr)) {
        return;
    }
    if (vbe_enabled(s)) {
        if (addr < s->vram.size) {
            s->vram.ptr[addr] = value;
            vga_vram_mark_dirty(&s->vram, addr, 1);
        }
    } else if (s->r.sr[4] & 0x08) {
        /* Chain 4: address bits 0-1 pick the plane, if SR2 Map Mask enables it. */
        if (map_mask & (1u << (addr & 3)) && addr < VGA_PLANES_SIZE) {
            s->vram.ptr[addr] = value;
            vga_vram_mark_dirty(&s->vram, addr, 1);
        }
    } else if (!(s->r.sr[4] & 0x04)) {
        /* SR4 bit 2 clear: odd/even, even addresses to planes 0 and 2, odd to 1 and 3. */
        unsigned planes = map_mask & ((addr & 1) ? 0x0a : 0x05);
        write_planes(s, addr >> 1, value * 0x01010101u, planes);
    } else {
        write_planes(s, addr, planar_write_value(s, value), map_mask);
    }
    display_console_hw_changed(s->con);
}

/* ---- the linear framebuffer (VRAM BAR) ---- */

uint64_t vga_lfb_read(struct vga_state *s, uint64_t offset, unsigned size)
{
    uint64_t v = 0;

    if (offset >= s->vram.size || size > s->vram.size - offset) {
        return UINT64_MAX;
    }
    for (unsigned i = 0; i < size; i++) {
        v |= (uint64_t)s->vram.ptr[offset + i] << (8 * i);
    }
    return v;
}

void vga_lfb_write(struct vga_state *s, uint64_t offset, uint64_t value, unsigned size)
{
    if (offset >= s->vram.size || size > s->vram.size - offset) {
        return;
    }
    for (unsigned i = 0; i < size; i++) {
        s->vram.ptr[offset + i] = (uint8_t)(value >> (8 * i));
    }
    vga_vram_mark_dirty(&s->vram, (uint32_t)offset, size);
    display_console_hw_changed(s->con);
}

/* ---- rendering ---- */

enum render_kind { RENDER_NONE, RENDER_BLANK, RENDER_TEXT, RENDER_GRAPHICS, RENDER_VBE };

/* Text blink timing in frames at the 70 Hz of the VGA text modes: cursor 16, characters 32. */
#define FRAME_NS (UINT64_C(1000000000) / 70)

static inline uint32_t rgb(unsigned r, unsigned g, unsigned b)
{
    return (uint32_t)r << 16 | (uint32_t)g << 8 | b;
}

/* A DAC entry as xRGB: 6-bit components widened by repeating their top bits. */
static uint32_t dac_color(const struct vga_state *s, unsigned index)
{
    const uint8_t *p = &s->r.palette[(index & s->r.dac_pel_mask) * 3];

    if (s->r.vbe_regs[VBE_DISPI_INDEX_ENABLE] & VBE_DISPI_8BIT_DAC) {
        return rgb(p[0], p[1], p[2]);
    }
#define C6TO8(c) ((unsigned)(((c) & 0x3f) << 2 | ((c) & 0x3f) >> 4))
    return rgb(C6TO8(p[0]), C6TO8(p[1]), C6TO8(p[2]));
#undef C6TO8
}

/*
 * The 16 attribute colours: AR0-ARF give 6 bits; AR10 bit 7 (P54S) takes bits 5-4 from
 * AR14 bits 1-0; AR14 bits 3-2 give bits 7-6; then the DAC.
 */
static void attr_palette(const struct vga_state *s, uint32_t out[16])
{
    for (unsigned i = 0; i < 16; i++) {
        unsigned v = s->r.ar[i] & 0x3f;
        if (s->r.ar[0x10] & 0x80) {
            v = (v & 0x0f) | ((s->r.ar[0x14] & 3u) << 4);
        }
        v |= (s->r.ar[0x14] & 0x0cu) << 4;
        out[i] = dac_color(s, v);
    }
}

static uint32_t *image_row(pixman_image_t *img, int y)
{
    return (uint32_t *)((uint8_t *)pixman_image_get_data(img) +
                        (size_t)y * (size_t)pixman_image_get_stride(img));
}

/* Vertical Display End + 1 (CR12, CR7 bits 1 and 6). */
static int crtc_height(const struct vga_state *s)
{
    const uint8_t *cr = s->r.cr;

    return (cr[0x12] | (cr[7] & 0x02) << 7 | (cr[7] & 0x40) << 3) + 1;
}

static uint32_t crtc_start(const struct vga_state *s)
{
    return (uint32_t)s->r.cr[0x0c] << 8 | s->r.cr[0x0d];
}

static bool prepare(struct vga_state *s, enum render_kind kind, int w, int h, bool *full,
                    pixman_image_t **img)
{
    *img = display_console_resize(s->con, w, h);
    if (!*img) {
        return false;
    }
    if ((int)kind != s->last_kind || w != s->last_width || h != s->last_height || s->full_update) {
        *full = true;
    }
    s->last_kind = kind;
    s->last_width = w;
    s->last_height = h;
    s->full_update = false;
    return true;
}

static void render_blank(struct vga_state *s, bool full)
{
    pixman_image_t *img = display_console_image(s->con);
    int w = pixman_image_get_width(img), h = pixman_image_get_height(img);

    if (full || s->last_kind != RENDER_BLANK) {
        for (int y = 0; y < h; y++) {
            memset(image_row(img, y), 0, (size_t)w * 4);
        }
        display_console_dirty(s->con, 0, 0, w, h);
    }
    s->last_kind = RENDER_BLANK;
    s->full_update = false;
}

/* ---- VBE ---- */

static void vbe_convert_line(const struct vga_state *s, const uint8_t *src, uint32_t *dst,
                             int w, const uint32_t *pal)
{
    switch (s->r.vbe_regs[VBE_DISPI_INDEX_BPP]) {
    case 8:
        for (int x = 0; x < w; x++) {
            dst[x] = pal[src[x]];
        }
        break;
    case 15:
        for (int x = 0; x < w; x++) {
            unsigned p = src[2 * x] | src[2 * x + 1] << 8;
            unsigned r = (p >> 10) & 31, g = (p >> 5) & 31, b = p & 31;
            dst[x] = rgb(r << 3 | r >> 2, g << 3 | g >> 2, b << 3 | b >> 2);
        }
        break;
    case 16:
        for (int x = 0; x < w; x++) {
            unsigned p = src[2 * x] | src[2 * x + 1] << 8;
            unsigned r = (p >> 11) & 31, g = (p >> 5) & 63, b = p & 31;
            dst[x] = rgb(r << 3 | r >> 2, g << 2 | g >> 4, b << 3 | b >> 2);
        }
        break;
    case 24:
        for (int x = 0; x < w; x++) {
            dst[x] = rgb(src[3 * x + 2], src[3 * x + 1], src[3 * x]);
        }
        break;
    default: /* 32: little-endian B, G, R, X is the surface's own format */
        memcpy(dst, src, (size_t)w * 4);
        break;
    }
}

static pixman_format_code_t vbe_pixman_format(unsigned bpp)
{
    switch (bpp) {
    case 15: return PIXMAN_x1r5g5b5;
    case 16: return PIXMAN_r5g6b5;
    case 24: return PIXMAN_r8g8b8; /* little-endian B, G, R in memory */
    default: return 0;
    }
}

/*
 * Lines [y0, y1) of the VBE frame into the surface. pixman converts 15/16/24 bpp (SIMD) when
 * the rows are 4-byte aligned, as it requires; otherwise, and for 8 and 32 bpp, plain loops.
 */
static void vbe_convert_band(struct vga_state *s, pixman_image_t *img, int y0, int y1,
                             const uint32_t *pal)
{
    int w = s->r.vbe_regs[VBE_DISPI_INDEX_XRES];
    pixman_format_code_t fmt = vbe_pixman_format(s->r.vbe_regs[VBE_DISPI_INDEX_BPP]);
    uint32_t first = s->r.vbe_start + (uint32_t)y0 * s->r.vbe_line_offset;

    if (fmt != 0 && first % 4 == 0 && s->r.vbe_line_offset % 4 == 0) {
        pixman_image_t *src = pixman_image_create_bits(fmt, w, y1 - y0,
                                                       (uint32_t *)(s->vram.ptr + first),
                                                       (int)s->r.vbe_line_offset);
        if (src) {
            pixman_image_composite32(PIXMAN_OP_SRC, src, NULL, img, 0, 0, 0, 0, 0, y0, w,
                                     y1 - y0);
            pixman_image_unref(src);
            return;
        }
    }
    for (int y = y0; y < y1; y++) {
        uint32_t off = s->r.vbe_start + (uint32_t)y * s->r.vbe_line_offset;
        vbe_convert_line(s, &s->vram.ptr[off], image_row(img, y), w, pal);
    }
}

static void render_vbe(struct vga_state *s, bool full)
{
    const uint16_t *r = s->r.vbe_regs;
    int w = r[VBE_DISPI_INDEX_XRES], h = r[VBE_DISPI_INDEX_YRES];
    uint32_t bytes = w * vbe_bytes_per_pixel(r[VBE_DISPI_INDEX_BPP]);
    uint32_t pal[256];
    pixman_image_t *img;
    int y0 = h, y1 = 0, run = -1;

    if (!prepare(s, RENDER_VBE, w, h, &full, &img)) {
        render_blank(s, true);
        return;
    }
    if (r[VBE_DISPI_INDEX_BPP] == 8) {
        for (unsigned i = 0; i < 256; i++) {
            pal[i] = dac_color(s, i);
        }
    }
    /* Runs of dirty lines, each converted in one go. */
    for (int y = 0; y <= h; y++) {
        uint32_t off = s->r.vbe_start + (uint32_t)y * s->r.vbe_line_offset;
        bool dirty = y < h && (full || vga_vram_test_dirty(&s->vram, off, bytes));
        if (dirty && run < 0) {
            run = y;
        } else if (!dirty && run >= 0) {
            vbe_convert_band(s, img, run, y, pal);
            y0 = XENDM_MIN(y0, run);
            y1 = y;
            run = -1;
        }
    }
    if (y1 > y0) {
        display_console_dirty(s->con, 0, y0, w, y1 - y0);
    }
}

/* ---- text (FreeVGA "VGA Text Mode Operation") ---- */

struct text_geometry {
    int cols, rows, cw, ch, scan; /* cell width, glyph rows, scan lines per glyph row */
    uint32_t start, stride;       /* in character cells */
    uint32_t font_offset[2];      /* plane 2 offsets: [0] attribute bit 3 clear, [1] set */
};

static void text_geometry(const struct vga_state *s, struct text_geometry *g, int *w, int *h)
{
    const uint8_t *cr = s->r.cr;
    unsigned sr3 = s->r.sr[3];

    g->cw = (s->r.sr[1] & 0x01) ? 8 : 9; /* SR1 bit 0: 8/9 dot clocks */
    g->cols = cr[0x01] + 1;
    g->ch = (cr[0x09] & 0x1f) + 1;       /* Maximum Scan Line: 1..32 rows */
    g->scan = (cr[0x09] & 0x80) ? 2 : 1; /* scan doubling */
    *w = g->cols * g->cw;
    *h = crtc_height(s);
    g->rows = *h / (g->ch * g->scan);
    g->start = crtc_start(s);
    g->stride = cr[0x13] * 2u;
    /* SR3 Character Map Select: map B (bits 4,1,0) and map A (bits 5,3,2), 8 KiB apart. */
    g->font_offset[0] = (((sr3 & 3) << 1) | ((sr3 >> 4) & 1)) * 0x2000;
    g->font_offset[1] = ((((sr3 >> 2) & 3) << 1) | ((sr3 >> 5) & 1)) * 0x2000;
}

static void draw_cell(struct vga_state *s, pixman_image_t *img, const struct text_geometry *g,
                      int col, int row, const uint32_t pal[16], bool blink_on, bool cursor)
{
    uint32_t cell = ((g->start + row * g->stride + col) & 0xffff) * 4;
    uint8_t chr = s->vram.ptr[cell], attr = s->vram.ptr[cell + 1];
    uint32_t fg = pal[attr & 0x0f], bg;
    uint32_t font = g->font_offset[(attr >> 3) & 1] + chr * 32u;
    /* AR10 bit 2: line graphics, the 9th column repeats the 8th for 0xC0-0xDF. */
    bool dup9 = (s->r.ar[0x10] & 0x04) && chr >= 0xc0 && chr <= 0xdf;
    unsigned cstart = s->r.cr[0x0a] & 0x1f, cend = s->r.cr[0x0b] & 0x1f;

    if (s->r.ar[0x10] & 0x08) { /* AR10 bit 3: bit 7 blinks instead of bright background */
        bg = pal[(attr >> 4) & 7];
        if ((attr & 0x80) && !blink_on) {
            fg = bg;
        }
    } else {
        bg = pal[attr >> 4];
    }
    for (int gy = 0; gy < g->ch; gy++) {
        unsigned bits = s->vram.ptr[((font + gy) & 0xffff) * 4 + 2];
        bool on_cursor = cursor && (unsigned)gy >= cstart && (unsigned)gy <= cend;
        for (int sy = 0; sy < g->scan; sy++) {
            uint32_t *dst = image_row(img, (row * g->ch + gy) * g->scan + sy) + col * g->cw;
            for (int x = 0; x < 8; x++) {
                dst[x] = on_cursor || (bits & (0x80u >> x)) ? fg : bg;
            }
            if (g->cw == 9) {
                dst[8] = on_cursor || (dup9 && (bits & 1)) ? fg : bg;
            }
        }
    }
}

static uint64_t render_text(struct vga_state *s, bool full)
{
    struct text_geometry g;
    uint32_t pal[16];
    pixman_image_t *img;
    int w, h;
    uint64_t frame = (uint64_t)clock_now_ns() / FRAME_NS;
    bool cursor_on = (frame >> 4) & 1, blink_on = (frame >> 5) & 1;
    uint32_t cursor_cell = (uint32_t)s->r.cr[0x0e] << 8 | s->r.cr[0x0f];

    text_geometry(s, &g, &w, &h);
    if (!prepare(s, RENDER_TEXT, w, h, &full, &img)) {
        render_blank(s, true);
        return 0;
    }
    if (!full && blink_on == s->last_blink_on && cursor_on == s->last_cursor_on &&
        !vga_vram_test_dirty(&s->vram, 0, VGA_PLANES_SIZE)) {
        return FRAME_NS * 16;
    }
    s->last_blink_on = blink_on;
    s->last_cursor_on = cursor_on;
    attr_palette(s, pal);
    for (int y = g.rows * g.ch * g.scan; y < h; y++) {
        memset(image_row(img, y), 0, (size_t)w * 4); /* lines below the last whole row */
    }
    for (int row = 0; row < g.rows; row++) {
        for (int col = 0; col < g.cols; col++) {
            uint32_t cell = g.start + row * g.stride + col;
            bool cursor = cursor_on && !(s->r.cr[0x0a] & 0x20) && cell == cursor_cell;
            draw_cell(s, img, &g, col, row, pal, blink_on, cursor);
        }
    }
    display_console_dirty(s->con, 0, 0, w, h);
    return FRAME_NS * 16;
}

/* ---- graphics: 4-bit planar and 256-colour ---- */

static void render_graphics(struct vga_state *s, bool full)
{
    const uint8_t *cr = s->r.cr;
    bool c256 = (s->r.gr[5] & 0x40) != 0;  /* GR5 bit 6: 256-colour shift mode */
    bool halve = (s->r.sr[1] & 0x08) != 0; /* SR1 bit 3: dot clock / 2, pixels doubled */
    int dots = (cr[0x01] + 1) * 8, h = crtc_height(s);
    int w = (halve && !c256) ? dots * 2 : dots;
    unsigned scan = ((cr[0x09] & 0x1fu) + 1) << ((cr[0x09] & 0x80) ? 1 : 0);
    uint32_t start = crtc_start(s), stride = cr[0x13] * 2u, pal16[16], pal256[256];
    pixman_image_t *img;
    int y0 = h, y1 = 0;

    if (!prepare(s, RENDER_GRAPHICS, w, h, &full, &img)) {
        render_blank(s, true);
        return;
    }
    attr_palette(s, pal16);
    for (unsigned i = 0; c256 && i < 256; i++) {
        pal256[i] = dac_color(s, i);
    }
    for (int y = 0; y < h; y++) {
        uint32_t line = (start + (y / scan) * stride) & 0xffff; /* in plane bytes */
        uint32_t *dst = image_row(img, y);
        uint32_t span = (uint32_t)dots / 2; /* VRAM bytes a line spans: 4 planes x dots/8 */

        if (!full && !vga_vram_test_dirty(&s->vram, line * 4, span) &&
            !(line * 4 + span > VGA_PLANES_SIZE && vga_vram_test_dirty(&s->vram, 0, span))) {
            continue;
        }
        for (int x = 0; x < w; x++) {
            if (c256) {
                /* Each 8-bit pixel spans two dot clocks; bytes run linearly across planes. */
                dst[x] = pal256[s->vram.ptr[(line * 4 + (uint32_t)x / 2) & (VGA_PLANES_SIZE - 1)]];
            } else {
                int px = halve ? x / 2 : x;
                uint32_t byte = ((line + (uint32_t)px / 8) & 0xffff) * 4;
                unsigned bit = 7 - (px & 7), index = 0;
                for (unsigned p = 0; p < 4; p++) {
                    index |= ((s->vram.ptr[byte + p] >> bit) & 1u) << p;
                }
                dst[x] = pal16[index & s->r.ar[0x12] & 0x0f];
            }
        }
        y0 = XENDM_MIN(y0, y);
        y1 = y + 1;
    }
    if (y1 > y0) {
        display_console_dirty(s->con, 0, y0, w, y1 - y0);
    }
}

/*
 * With the frames at the BAR the guest writes them without xendm knowing: Xen's dirty-VRAM
 * log says which pages changed. A full redraw (a screendump, a new listener) needs no log and
 * starts none; an incremental one starts it (its first report is every page) and keeps it
 * running; without a report (-ENODATA, an error) everything is redrawn.
 */
static void merge_guest_dirty(struct vga_state *s, bool *full)
{
    struct vga_vram *v = &s->vram;
    int rc;

    if (guest_ram_exposed_at(v->ram) == GUEST_RAM_HOME ||
        (*full && !guest_ram_dirty_active(v->ram))) {
        return;
    }
    rc = guest_ram_collect_dirty(v->ram, v->xen_dirty);
    timer_arm_ns(s->dirty_idle_timer, DIRTY_LOG_IDLE_NS);
    if (rc != 0) {
        if (rc != -ENODATA) {
            log_debug("VGA: track_dirty_vram: %s (full redraw)", g_strerror(-rc));
        }
        *full = true;
        return;
    }
    for (size_t i = 0; i < vram_dirty_words(v); i++) {
        v->dirty[i] |= v->xen_dirty[i];
    }
}

static void dirty_log_idle(void *opaque)
{
    struct vga_state *s = opaque;

    guest_ram_stop_dirty(s->vram.ram);
}

uint64_t vga_refresh(void *opaque, bool full)
{
    struct vga_state *s = opaque;
    uint64_t next = 0;

    merge_guest_dirty(s, &full);
    if (vbe_enabled(s) && vbe_mode_valid(s)) {
        render_vbe(s, full);
    } else if (vbe_enabled(s) || !(s->r.ar_index & 0x20) || (s->r.sr[1] & 0x20)) {
        /* AR index bit 5 clear (palette being loaded) or SR1 bit 5 Screen Off: blank. */
        render_blank(s, full);
    } else if (s->r.gr[6] & 0x01) {
        render_graphics(s, full);
    } else {
        next = render_text(s, full);
    }
    vga_vram_clear_dirty(&s->vram);
    if (guest_ram_exposed_at(s->vram.ram) != GUEST_RAM_HOME) {
        /* Nothing tells xendm of the guest's writes: look again next frame, if anyone
         * watches (the console does nothing otherwise). */
        display_console_hw_changed(s->con);
    }
    return next;
}

bool vga_lfb_place(struct vga_state *s, uint64_t gpa)
{
    struct guest_ram *ram = s->vram.ram;
    bool placed = false;

    if (gpa == guest_ram_exposed_at(ram)) {
        return gpa != GUEST_RAM_HOME;
    }
    if (gpa == GUEST_RAM_HOME) {
        guest_ram_withdraw(ram);
    } else {
        placed = guest_ram_expose(ram, gpa);
    }
    display_console_hw_changed(s->con);
    return placed;
}

uint64_t vga_lfb_placed_at(const struct vga_state *s)
{
    return guest_ram_exposed_at(s->vram.ram);
}

/* ---- life cycle ---- */

static const struct display_hw_ops vga_display_ops = {
    .refresh = vga_refresh,
};

bool vga_init(struct vga_state *s, struct machine *m, uint32_t vram_size, const char *name)
{
    s->m = m;
    if (!vga_vram_init(&s->vram, m, vram_size)) {
        return false;
    }
    s->dirty_idle_timer = timer_new(dirty_log_idle, s);
    s->con = display_console_new(name, &vga_display_ops, s);
    vga_reset(s);
    return true;
}

void vga_fini(struct vga_state *s)
{
    vga_unregister_legacy(s);
    display_console_free(s->con);
    s->con = NULL;
    timer_free(s->dirty_idle_timer);
    s->dirty_idle_timer = NULL;
    vga_vram_free(&s->vram);
}

void vga_reset(struct vga_state *s)
{
    memset(&s->r, 0, sizeof(s->r));
    s->r.dac_pel_mask = 0xff;
    s->r.vbe_regs[VBE_DISPI_INDEX_ID] = VBE_DISPI_ID5;
    s->r.vbe_regs[VBE_DISPI_INDEX_BPP] = 8;
    s->vbe_data_low_pending = false;
    s->last_kind = RENDER_NONE;
    changed(s);
}

void vga_post_load(struct vga_state *s)
{
    uint16_t *r = s->r.vbe_regs;

    /* Saved state is guest-controlled too: bring every derived value back in range. */
    s->r.sr_index &= 7;
    s->r.gr_index &= 0x0f;
    s->r.ar_index &= 0x3f;
    s->r.dac_sub_index %= 3;
    if (vbe_bytes_per_pixel(r[VBE_DISPI_INDEX_BPP]) == 0) {
        r[VBE_DISPI_INDEX_BPP] = 8;
    }
    if (((uint64_t)r[VBE_DISPI_INDEX_BANK] << 16) + 0x10000 > s->vram.size) {
        r[VBE_DISPI_INDEX_BANK] = 0;
    }
    s->r.vbe_bank_offset = (uint32_t)r[VBE_DISPI_INDEX_BANK] << 16;
    if (vbe_enabled(s) && !vbe_mode_valid(s)) {
        r[VBE_DISPI_INDEX_ENABLE] &= (uint16_t)~VBE_DISPI_ENABLED;
    }
    s->vbe_data_low_pending = false;
    s->last_kind = RENDER_NONE;
    changed(s);
}

/* ---- the legacy regions ---- */

static uint64_t io_read(void *opaque, uint64_t offset, unsigned size)
{
    return vga_ioport_read(opaque, (uint16_t)(VGA_IO_BASE + offset));
}

static void io_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    vga_ioport_write(opaque, (uint16_t)(VGA_IO_BASE + offset), (uint8_t)value);
}

/* Byte-wide: the core splits `outw 0x3c4, 0x0f02` into index then data, as the ISA bus does. */
static const struct region_ops vga_io_ops = {
    .read = io_read, .write = io_write, .min_access = 1, .max_access = 1,
};

static uint64_t window_read(void *opaque, uint64_t offset, unsigned size)
{
    return vga_window_read(opaque, (uint32_t)offset);
}

static void window_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    vga_window_write(opaque, (uint32_t)offset, (uint8_t)value);
}

/* Byte-wide: each byte of a wider access goes through the latches and masks on its own. */
static const struct region_ops vga_window_ops = {
    .read = window_read, .write = window_write, .min_access = 1, .max_access = 1,
};

/*
 * VBE DISPI ports: index at 0x1CE, data at 0x1CF, both 16-bit. The memory core aligns
 * accesses within a region, so a 16-bit access at 0x1CF arrives as two bytes, offset 1 then
 * offset 2, within one ioreq: the low byte waits for its high byte. A lone byte at 0x1CF
 * (the data port is 16-bit only) is dropped when anything else arrives.
 */
static uint64_t vbe_port_read(void *opaque, uint64_t offset, unsigned size)
{
    struct vga_state *s = opaque;

    s->vbe_data_low_pending = false;
    switch (offset) {
    case 0: return s->r.vbe_index;
    case 1: return vga_vbe_read(s, s->r.vbe_index) & 0xff;
    default: return vga_vbe_read(s, s->r.vbe_index) >> 8;
    }
}

static void vbe_port_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct vga_state *s = opaque;
    bool pending = s->vbe_data_low_pending;

    s->vbe_data_low_pending = false;
    if (offset == 0) {
        s->r.vbe_index = size == 2 ? (uint16_t)value
                                   : (uint16_t)((s->r.vbe_index & 0xff00) | (value & 0xff));
    } else if (offset == 1) {
        s->vbe_data_low = (uint8_t)value;
        s->vbe_data_low_pending = true;
    } else if (pending) {
        vga_vbe_write(s, s->r.vbe_index, (uint16_t)(s->vbe_data_low | (value & 0xff) << 8));
    } else {
        log_guest_error("VGA: VBE data port written with a lone byte (ignored)");
    }
}

static const struct region_ops vga_vbe_ops = {
    .read = vbe_port_read, .write = vbe_port_write, .min_access = 1, .max_access = 2,
};

bool vga_register_legacy(struct vga_state *s, struct machine *m)
{
    s->io_region = machine_add_io(m, "vga", VGA_IO_BASE, VGA_IO_SIZE, &vga_io_ops, s);
    s->vbe_region = machine_add_io(m, "vbe-dispi", VBE_DISPI_IO_BASE, VBE_DISPI_IO_SIZE,
                                   &vga_vbe_ops, s);
    s->window_region = machine_add_mmio(m, "vga-lowmem", VGA_WINDOW_BASE, VGA_WINDOW_SIZE,
                                        &vga_window_ops, s);
    if (!s->io_region || !s->vbe_region || !s->window_region) {
        vga_unregister_legacy(s);
        return false;
    }
    return true;
}

void vga_unregister_legacy(struct vga_state *s)
{
    region_del_clear(&s->io_region);
    region_del_clear(&s->vbe_region);
    region_del_clear(&s->window_region);
}
