/*
 * `-device VGA`: the standard VGA as QEMU's stdvga presents it on PCI, which libxl 4.17 asks
 * for with vga="stdvga" (`-device VGA,vgamem_mb=16`).
 *
 *   1234:1111 rev 2, class 0x030000, subsystem 1af4:1100
 *   BAR0  VRAM, prefetchable 32-bit memory, vgamem_mb MiB (a power of two, 1..256)
 *   BAR2  4 KiB MMIO: 0x000 EDID (reads 0: none yet), 0x400 the VGA ports 0x3C0-0x3DF,
 *         0x500 the VBE DISPI registers (16-bit, index * 2), 0x600 QEMU's extended registers
 *         (size, framebuffer byte order) that Linux's bochs DRM driver reads
 *   ROM   Debian's SeaBIOS vgabios-stdvga.bin (romfile= to change, romfile= empty for none)
 * plus the legacy ports, window and VBE ports of vga-core.c, decoded whatever the command
 * register says, as on any PC's VGA.
 *
 * VRAM is guest RAM the device model owns (vga.h). While BAR0 decodes at a place in the MMIO
 * hole its frames are moved there, as qemu-xen does, and the guest's framebuffer accesses
 * cost no ioreq; they go home when the BAR moves, decoding stops, on reset and before the
 * state is saved (so that the memory image holds them at home, where a restored xendm finds
 * them). Otherwise BAR0 is served by ioreqs into the same bytes. Buffered ioreqs (single
 * writes to the window) need nothing here: the accelerator drains the buffered ring before
 * each synchronous request, so the guest's order holds (reference §1.6).
 */
#include <glib.h>
#include <inttypes.h>
#include <string.h>
#include "vga.h"
#include "xendm/guest-ram.h"
#include "xendm/keyval.h"
#include "xendm/log.h"
#include "xendm/machine.h"
#include "xendm/pci.h"
#include "xendm/vmstate.h"

#define VGA_PCI_VENDOR 0x1234
#define VGA_PCI_DEVICE 0x1111
#define VGA_PCI_REVISION 2
#define VGA_PCI_CLASS 0x030000
#define VGA_MMIO_SIZE 0x1000
#define VGA_MMIO_PORTS 0x400 /* 0x3C0-0x3DF */
#define VGA_MMIO_VBE 0x500
#define VGA_MMIO_QEXT 0x600
#define VGA_QEXT_SIZE 8
#define VGA_QEXT_LITTLE_ENDIAN 0x1e1e1e1eu
#define VGA_DEFAULT_VGAMEM_MB 16
#define VGA_ROM_DEFAULT "vgabios-stdvga.bin"
/*
 * A guest may move BAR0 at will; each move costs two relocations of every VRAM frame in Xen.
 * Beyond this many placements a second the frames stay home (ioreqs serve the BAR) until the
 * second is over.
 */
#define LFB_PLACEMENTS_PER_SECOND 8u
#define NS_PER_SECOND INT64_C(1000000000)

struct vga_pci {
    struct vga_state vga;
    struct pci_device *pci;
    struct timer *lfb_timer;   /* a placement put off (rate bound, after save or load) */
    int64_t lfb_window_start;  /* the current one-second window of the rate bound */
    unsigned lfb_placements;   /* placements in that window */
};

/* ---- where the framebuffer's frames are ---- */

static bool lfb_rate_allows(struct vga_pci *d)
{
    int64_t now = clock_now_ns();

    if (now - d->lfb_window_start >= NS_PER_SECOND) {
        d->lfb_window_start = now;
        d->lfb_placements = 0;
    }
    if (d->lfb_placements >= LFB_PLACEMENTS_PER_SECOND) {
        if (!timer_pending(d->lfb_timer)) {
            timer_arm_ns(d->lfb_timer, (uint64_t)(d->lfb_window_start + NS_PER_SECOND - now));
            log_guest_event("VGA: framebuffer BAR moved more than %u times a second: served "
                            "by ioreqs for now", LFB_PLACEMENTS_PER_SECOND);
        }
        return false;
    }
    d->lfb_placements++;
    return true;
}

/*
 * The frames follow BAR0: at its address while it decodes (the PCI core maps it only with
 * the memory enable bit set and a valid address), home otherwise. Called after every config
 * write, reset and load.
 */
static void lfb_update(struct vga_pci *d)
{
    uint64_t want = pci_bar_address(d->pci, 0);
    uint64_t now = vga_lfb_placed_at(&d->vga);

    if (want == PCI_BAR_UNMAPPED) {
        want = GUEST_RAM_HOME;
    }
    if (want == now) {
        return;
    }
    if (now != GUEST_RAM_HOME) {
        /* The old address no longer decodes: the frames must leave it whatever follows. */
        vga_lfb_place(&d->vga, GUEST_RAM_HOME);
    }
    if (want != GUEST_RAM_HOME && lfb_rate_allows(d)) {
        vga_lfb_place(&d->vga, want);
    }
}

static void lfb_timer_fired(void *opaque)
{
    lfb_update(opaque);
}

static void vga_pci_config_write(struct pci_device *pci, void *opaque, uint32_t offset,
                                 uint32_t value, unsigned size)
{
    lfb_update(opaque);
}

static const struct pci_device_ops vga_pci_ops = {
    .config_write = vga_pci_config_write,
};

/* ---- BAR0: the linear framebuffer ---- */

static uint64_t vram_bar_read(void *opaque, uint64_t offset, unsigned size)
{
    struct vga_pci *d = opaque;
    return vga_lfb_read(&d->vga, offset, size);
}

static void vram_bar_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct vga_pci *d = opaque;
    vga_lfb_write(&d->vga, offset, value, size);
}

static const struct region_ops vram_bar_ops = {
    .read = vram_bar_read, .write = vram_bar_write, .min_access = 1, .max_access = 8,
};

/* ---- BAR2: registers ---- */

static uint8_t mmio_read_byte(struct vga_pci *d, uint32_t offset)
{
    if (offset >= VGA_MMIO_PORTS && offset < VGA_MMIO_PORTS + 0x20) {
        return vga_ioport_read(&d->vga, (uint16_t)(0x3c0 + offset - VGA_MMIO_PORTS));
    }
    if (offset >= VGA_MMIO_VBE && offset < VGA_MMIO_VBE + 2 * VBE_DISPI_INDEX_NB) {
        unsigned reg = (offset - VGA_MMIO_VBE) / 2, shift = 8 * ((offset - VGA_MMIO_VBE) & 1);
        return (uint8_t)(vga_vbe_read(&d->vga, reg) >> shift);
    }
    if (offset >= VGA_MMIO_QEXT && offset < VGA_MMIO_QEXT + VGA_QEXT_SIZE) {
        uint32_t reg = offset < VGA_MMIO_QEXT + 4 ? VGA_QEXT_SIZE : VGA_QEXT_LITTLE_ENDIAN;
        return (uint8_t)(reg >> (8 * (offset & 3)));
    }
    return 0;
}

static uint64_t mmio_read(void *opaque, uint64_t offset, unsigned size)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < size; i++) {
        v |= (uint64_t)mmio_read_byte(opaque, (uint32_t)offset + i) << (8 * i);
    }
    return v;
}

static void mmio_write_vbe(struct vga_pci *d, uint32_t rel, uint64_t value, unsigned size)
{
    if (size == 1) {
        /* A byte of a 16-bit register: the rest keeps its value. */
        unsigned reg = rel / 2, shift = 8 * (rel & 1);
        uint16_t old = vga_vbe_read(&d->vga, reg);
        uint16_t v = (uint16_t)((old & ~(0xffu << shift)) | (value & 0xff) << shift);
        vga_vbe_write(&d->vga, reg, v);
        return;
    }
    for (unsigned i = 0; i < size; i += 2) {
        vga_vbe_write(&d->vga, (rel + i) / 2, (uint16_t)(value >> (8 * i)));
    }
}

static void mmio_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct vga_pci *d = opaque;

    if (offset >= VGA_MMIO_PORTS && offset < VGA_MMIO_PORTS + 0x20) {
        for (unsigned i = 0; i < size && offset + i < VGA_MMIO_PORTS + 0x20; i++) {
            vga_ioport_write(&d->vga, (uint16_t)(0x3c0 + offset + i - VGA_MMIO_PORTS),
                             (uint8_t)(value >> (8 * i)));
        }
    } else if (offset >= VGA_MMIO_VBE && offset < VGA_MMIO_VBE + 2 * VBE_DISPI_INDEX_NB) {
        mmio_write_vbe(d, (uint32_t)(offset - VGA_MMIO_VBE), value, size);
    } else if (offset == VGA_MMIO_QEXT + 4 && size == 4 && value != VGA_QEXT_LITTLE_ENDIAN) {
        log_guest_error("VGA: big-endian framebuffer requested (only little-endian is served)");
    }
}

static const struct region_ops mmio_bar_ops = {
    .read = mmio_read, .write = mmio_write, .min_access = 1, .max_access = 4,
};

/* ---- the device ---- */

static void vga_pci_destroy(void *opaque)
{
    struct vga_pci *d = opaque;

    if (!d) {
        return;
    }
    if (d->pci) {
        pci_device_remove(d->pci);
    }
    timer_free(d->lfb_timer);
    vga_fini(&d->vga);
    g_free(d);
}

static bool vgamem_from_props(struct kv_list *props, uint32_t *bytes, GError **err)
{
    uint64_t mb;

    if (!kv_get_u64(props, "vgamem_mb", VGA_DEFAULT_VGAMEM_MB, false, &mb, err)) {
        return false;
    }
    if (mb < 1 || mb > 256 || (mb & (mb - 1)) != 0) {
        g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "VGA: vgamem_mb=%" PRIu64 ": a power of two from 1 to 256", mb);
        return false;
    }
    *bytes = (uint32_t)mb << 20;
    return true;
}

static bool vga_pci_setup(struct vga_pci *d, struct machine *m, struct kv_list *props,
                          uint32_t vram_size, GError **err)
{
    static const struct pci_device_id id = {
        .vendor_id = VGA_PCI_VENDOR, .device_id = VGA_PCI_DEVICE,
        .revision = VGA_PCI_REVISION, .class_code = VGA_PCI_CLASS,
    };
    struct pci_bus *bus = machine_pci_bus(m);
    int devfn;

    if (!bus) {
        g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "VGA: no PCI bus");
        return false;
    }
    if (!pci_devfn_from_props(props, &devfn, err)) {
        return false;
    }
    d->pci = pci_device_add(bus, devfn, "VGA", &id, &vga_pci_ops, d, err);
    if (!d->pci) {
        return false;
    }
    if (pci_register_bar(d->pci, 0, PCI_BAR_MEM32 | PCI_BAR_PREFETCH, vram_size, &vram_bar_ops,
                         d) < 0 ||
        pci_register_bar(d->pci, 2, PCI_BAR_MEM32, VGA_MMIO_SIZE, &mmio_bar_ops, d) < 0) {
        g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "VGA: BARs refused");
        return false;
    }
    if (!pci_load_romfile(d->pci, props, VGA_ROM_DEFAULT, err)) {
        return false;
    }
    if (!vga_register_legacy(&d->vga, m)) {
        g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                    "VGA: the legacy ports or window 0xA0000 are taken (a second VGA?)");
        return false;
    }
    return true;
}

static void *vga_pci_create(struct machine *m, struct kv_list *props, GError **err)
{
    struct vga_pci *d = g_new0(struct vga_pci, 1);
    uint32_t vram_size;

    if (!vgamem_from_props(props, &vram_size, err)) {
        g_free(d);
        return NULL;
    }
    if (!vga_init(&d->vga, m, vram_size, "VGA")) {
        g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                    "VGA: cannot allocate %u MiB of VRAM", vram_size >> 20);
        g_free(d);
        return NULL;
    }
    d->lfb_timer = timer_new(lfb_timer_fired, d);
    if (!vga_pci_setup(d, m, props, vram_size, err)) {
        vga_pci_destroy(d);
        return NULL;
    }
    return d;
}

static void vga_pci_reset(void *opaque)
{
    struct vga_pci *d = opaque;

    vga_reset(&d->vga);
    timer_cancel(d->lfb_timer);
    lfb_update(d); /* the PCI core unmapped the BARs: home */
}

/*
 * The memory image libxc saves after this holds the frames at home, where a restored xendm
 * finds them. The guest is stopped (libxl's `stop` comes first) and timers wait for `cont`:
 * a domain that goes on running gets its framebuffer back at the BAR then.
 */
static void vga_pci_pre_save(void *opaque)
{
    struct vga_pci *d = opaque;

    if (vga_lfb_placed_at(&d->vga) != GUEST_RAM_HOME) {
        vga_lfb_place(&d->vga, GUEST_RAM_HOME);
        /* A live migration's last pass must send the home gfns, which Xen's log did not see
         * change: reported as modified (only while the global dirty log runs). */
        vga_vram_mark_dirty(&d->vga.vram, 0, d->vga.vram.size);
    }
    timer_arm_ns(d->lfb_timer, 0);
}

static void vga_pci_post_load(void *opaque)
{
    struct vga_pci *d = opaque;

    vga_post_load(&d->vga);
    /* The BARs are mapped once every section is applied: place the frames after that. */
    timer_arm_ns(d->lfb_timer, 0);
}

/*
 * The registers. VRAM is guest memory, saved with the guest's RAM (at home: see pre_save).
 */
#define VGA_REG(fname, member, vtype, width, n)                                                   \
    VMSTATE_FIELD_FULL(fname, struct vga_pci, vga.r.member, vtype, width, n, 0, 0)
#define VGA_U8(fname, member) VGA_REG(fname, member, VMSTATE_TYPE_U8, 1, 1)
#define VGA_U8S(fname, member, n) VGA_REG(fname, member, VMSTATE_TYPE_U8, 1, n)

static const struct vmstate_field vga_fields[] = {
    VGA_U8("misc_output", misc_output),
    VGA_U8("feature_control", feature_control),
    VGA_U8("sr_index", sr_index),
    VGA_U8S("sr", sr, 8),
    VGA_U8("gr_index", gr_index),
    VGA_U8S("gr", gr, 16),
    VGA_U8("ar_index", ar_index),
    VGA_U8S("ar", ar, 32),
    VGA_REG("ar_flip_flop", ar_flip_flop, VMSTATE_TYPE_BOOL, 1, 1),
    VGA_U8("cr_index", cr_index),
    VGA_U8S("cr", cr, 32),
    VGA_U8("dac_state", dac_state),
    VGA_U8("dac_read_index", dac_read_index),
    VGA_U8("dac_write_index", dac_write_index),
    VMSTATE_FIELD_FULL("dac_sub_index", struct vga_pci, vga.r.dac_sub_index, VMSTATE_TYPE_U8,
                       1, 1, 2, 0),
    VGA_U8S("dac_cache", dac_cache, 3),
    VGA_U8("dac_pel_mask", dac_pel_mask),
    VGA_U8S("palette", palette, 768),
    VGA_U8("st01_toggle", st01_toggle),
    VGA_REG("latch", latch, VMSTATE_TYPE_U32, 4, 1),
    VGA_REG("vbe_index", vbe_index, VMSTATE_TYPE_U16, 2, 1),
    VGA_REG("vbe_regs", vbe_regs, VMSTATE_TYPE_U16, 2, VBE_DISPI_INDEX_NB),
    VGA_REG("vbe_start", vbe_start, VMSTATE_TYPE_U32, 4, 1),
    VGA_REG("vbe_line_offset", vbe_line_offset, VMSTATE_TYPE_U32, 4, 1),
    VGA_REG("vbe_bank_offset", vbe_bank_offset, VMSTATE_TYPE_U32, 4, 1),
    VMSTATE_END,
};

static const struct vmstate_desc vga_vmstate = {
    .name = "vga",
    .version = 1,
    .fields = vga_fields,
    .pre_save = vga_pci_pre_save,
    .post_load = vga_pci_post_load,
};

static const struct device_type vga_pci_type = {
    .name = "VGA",
    .description = "standard VGA with Bochs VBE extensions (PCI 1234:1111, vgamem_mb=16)",
    .user_creatable = true,
    .create = vga_pci_create,
    .reset = vga_pci_reset,
    .destroy = vga_pci_destroy,
    .vmstate = &vga_vmstate,
};

DEVICE_TYPE_REGISTER(vga_pci_type);
