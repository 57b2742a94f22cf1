/*
 * The VGA hardware any VGA variant shares (hw/display/vga-core.c): the registers at
 * 0x3B0-0x3DF, the legacy window 0xA0000-0xBFFFF, the Bochs VBE DISPI interface, and the
 * rendering of text, planar, 256-colour and VBE linear modes into a display console.
 *
 * References: IBM VGA Technical Reference; FreeVGA (www.osdever.net/FreeVGA): "VGA/SVGA Video
 * Programming" register pages; Bochs VBE DISPI interface (vbe_display_api.txt, ID 0xB0C5).
 *
 * Memory model: VRAM holds the four 64 KiB planes interleaved, plane p of byte address a at
 * vram[a * 4 + p], so that chain-4 (plane = address & 3) and the 256-colour modes see one
 * linear buffer, as VBE does beyond the first 256 KiB.
 */
#ifndef XENDM_HW_VGA_H
#define XENDM_HW_VGA_H

#include <stdbool.h>
#include <stdint.h>
#include "xendm/display.h"

struct machine;

/* Ports and window. */
#define VGA_IO_BASE 0x3b0
#define VGA_IO_SIZE 0x30
#define VGA_WINDOW_BASE 0xa0000
#define VGA_WINDOW_SIZE 0x20000
#define VBE_DISPI_IO_BASE 0x1ce
#define VBE_DISPI_IO_SIZE 3 /* index 0x1CE, data 0x1CF (16-bit, so it reaches 0x1D0) */
#define VGA_PLANES_SIZE (256u * 1024) /* what the legacy modes address */

/* Bochs VBE DISPI registers (index values) and ENABLE bits. */
#define VBE_DISPI_INDEX_ID 0x0
#define VBE_DISPI_INDEX_XRES 0x1
#define VBE_DISPI_INDEX_YRES 0x2
#define VBE_DISPI_INDEX_BPP 0x3
#define VBE_DISPI_INDEX_ENABLE 0x4
#define VBE_DISPI_INDEX_BANK 0x5
#define VBE_DISPI_INDEX_VIRT_WIDTH 0x6
#define VBE_DISPI_INDEX_VIRT_HEIGHT 0x7
#define VBE_DISPI_INDEX_X_OFFSET 0x8
#define VBE_DISPI_INDEX_Y_OFFSET 0x9
#define VBE_DISPI_INDEX_VIDEO_MEMORY_64K 0xa
#define VBE_DISPI_INDEX_NB 0xb
#define VBE_DISPI_ID0 0xb0c0
#define VBE_DISPI_ID5 0xb0c5
#define VBE_DISPI_DISABLED 0x00
#define VBE_DISPI_ENABLED 0x01
#define VBE_DISPI_GETCAPS 0x02
#define VBE_DISPI_8BIT_DAC 0x20
#define VBE_DISPI_LFB_ENABLED 0x40
#define VBE_DISPI_NOCLEARMEM 0x80
#define VBE_DISPI_MAX_XRES 16000
#define VBE_DISPI_MAX_YRES 12000
#define VBE_DISPI_MAX_BPP 32

/*
 * The VRAM: guest RAM the device model owns (include/xendm/guest-ram.h), mapped once. While
 * the framebuffer BAR decodes at a place in the MMIO hole its frames are there and the guest
 * writes them directly; Xen's dirty-VRAM log then says what changed. Otherwise (BAR not
 * placed, decoding off, a place over RAM, no accelerator) the BAR is served by ioreqs into
 * the same bytes. Writes xendm makes mark 4 KiB pages dirty for the renderer.
 */
#define VGA_VRAM_PAGE_SHIFT 12
struct guest_ram;
struct vga_vram {
    uint8_t *ptr;
    uint32_t size;          /* a power of two, at least 1 MiB */
    unsigned long *dirty;   /* one bit per page written since the last refresh */
    struct guest_ram *ram;  /* the backing */
    unsigned long *xen_dirty; /* what Xen's log reported, before it is merged into dirty */
};

/* With m NULL (or no accelerator for guest RAM) the VRAM is a plain allocation. */
bool vga_vram_init(struct vga_vram *v, struct machine *m, uint32_t size);
void vga_vram_free(struct vga_vram *v);
void vga_vram_mark_dirty(struct vga_vram *v, uint32_t offset, uint32_t len);
/* Whether any page of [offset, offset + len) is dirty (the range is clipped to VRAM). */
bool vga_vram_test_dirty(const struct vga_vram *v, uint32_t offset, uint32_t len);
void vga_vram_clear_dirty(struct vga_vram *v);

/* Saved registers: plain bytes, so the vmstate table can name them. */
struct vga_regs {
    uint8_t misc_output;
    uint8_t feature_control;
    uint8_t sr_index;
    uint8_t sr[8];
    uint8_t gr_index;
    uint8_t gr[16];
    uint8_t ar_index;     /* bits 0-4 index, bit 5 palette address source (PAS) */
    uint8_t ar[32];
    bool ar_flip_flop;    /* true: the next 0x3C0 write is data */
    uint8_t cr_index;
    uint8_t cr[32];
    uint8_t dac_state;    /* 0: last index written was the write index, 3: the read index */
    uint8_t dac_read_index;
    uint8_t dac_write_index;
    uint8_t dac_sub_index; /* 0..2: red, green, blue of the current entry */
    uint8_t dac_cache[3];
    uint8_t dac_pel_mask;
    uint8_t palette[768];
    uint8_t st01_toggle;  /* input status 1: retrace and display-enable as the BIOS polls them */
    uint32_t latch;
    uint16_t vbe_index;
    uint16_t vbe_regs[VBE_DISPI_INDEX_NB];
    uint32_t vbe_start;   /* byte offset of the visible VBE frame (X/Y_OFFSET) */
    uint32_t vbe_line_offset;
    uint32_t vbe_bank_offset;
};

struct vga_state {
    struct machine *m;
    struct vga_vram vram;
    struct vga_regs r;
    struct display_console *con;
    struct region *io_region, *window_region, *vbe_region;
    /* The 0x1CF data port's low byte of a 16-bit access the core split in two (see io). */
    bool vbe_data_low_pending;
    uint8_t vbe_data_low;
    /* Renderer cache: what was drawn last, to know when everything must be redrawn. */
    bool full_update;
    int last_kind, last_width, last_height;
    bool last_blink_on, last_cursor_on;
    /* Stops Xen's dirty log once no incremental refresh has asked for a while. */
    struct timer *dirty_idle_timer;
};

/* Creates the state with VRAM of vram_size bytes (power of two >= 1 MiB) and its console. */
bool vga_init(struct vga_state *s, struct machine *m, uint32_t vram_size, const char *name);
void vga_fini(struct vga_state *s);
void vga_reset(struct vga_state *s);
/* After the registers were loaded from saved state. */
void vga_post_load(struct vga_state *s);

/* Registers the legacy ports, the window and the VBE ports on the machine; false if taken. */
bool vga_register_legacy(struct vga_state *s, struct machine *m);
void vga_unregister_legacy(struct vga_state *s);

/* The VGA ports by address (0x3B0..0x3DF), byte-wide; the MMIO BAR's 0x400 window uses them. */
uint8_t vga_ioport_read(struct vga_state *s, uint16_t port);
void vga_ioport_write(struct vga_state *s, uint16_t port, uint8_t value);
/* VBE DISPI register `index` (the MMIO BAR's 0x500 window and the data port). */
uint16_t vga_vbe_read(struct vga_state *s, unsigned index);
void vga_vbe_write(struct vga_state *s, unsigned index, uint16_t value);
/* The legacy window, offset from 0xA0000. */
uint8_t vga_window_read(struct vga_state *s, uint32_t offset);
void vga_window_write(struct vga_state *s, uint32_t offset, uint8_t value);
/* The linear framebuffer (the VRAM BAR), any size 1/2/4/8 within VRAM. */
uint64_t vga_lfb_read(struct vga_state *s, uint64_t offset, unsigned size);
void vga_lfb_write(struct vga_state *s, uint64_t offset, uint64_t value, unsigned size);

/*
 * The framebuffer's frames go to gpa (the BAR) or, with GUEST_RAM_HOME, home; false when
 * they stay home (refused place, no guest RAM). The picture is redrawn in full after a move.
 */
bool vga_lfb_place(struct vga_state *s, uint64_t gpa);
/* Where the guest sees the frames: the BAR address, or GUEST_RAM_HOME (ioreqs serve it). */
uint64_t vga_lfb_placed_at(const struct vga_state *s);

/* Renders into the console (the display_hw_ops refresh). */
uint64_t vga_refresh(void *opaque, bool full);

#endif
