/*
 * "xen-platform": the Xen platform PCI device, 5853:0001 (reference §6).
 *
 * PV drivers find it on the bus, map their grant table and shared-info frames into BAR1,
 * and through its ports ask the device model to unplug the emulated disks and NICs they
 * are about to replace. Its INTx is Xen's event-channel callback, asserted by Xen itself:
 * this device never drives its pin.
 *
 * Fixed ports 0x10-0x1F (decoded whatever the BARs say):
 *   read  0x10 (16 bit)  magic 0x49D2       read  0x10 (8 bit)  platform flags
 *   read  0x12 (8 bit)   protocol version 1
 *   write 0x10 (32 bit)  PV driver build    write 0x10 (16 bit) unplug mask
 *   write 0x12 (16 bit)  PV product number  write 0x12 (8 bit)  log byte ('\n' flushes)
 *   write 0x10 (8 bit)   platform flags: bit 0 locks the option ROM area (gfns 0xC0-0xFF)
 * BAR0, 256 bytes of I/O, byte registers: @0 flags; @4 write 1 unplugs disks and NICs;
 *   @8 write 1 unplugs disks, 2 NICs, any other value is a log byte.
 * BAR1, 16 MiB of prefetchable memory with nothing behind it: reads 0, writes ignored.
 *
 * Unplug mask bits: 0 every IDE/SATA and SCSI disk (CD-ROMs stay), 1 every emulated NIC,
 * 2 IDE disks except the primary master, 3 NVMe disks. Devices that can be unplugged
 * register with machine_register_unplug(); this device only calls machine_unplug().
 */
#include <glib.h>
#include <inttypes.h>

#include "xendm/common.h"
#include "xendm/keyval.h"
#include "xendm/log.h"
#include "xendm/machine.h"
#include "xendm/memory.h"
#include "xendm/pci.h"
#include "xendm/trace.h"
#include "xendm/vmstate.h"

#define XEN_PLATFORM_TYPE_NAME "xen-platform"

#define FIXED_PORT 0x10
#define FIXED_LEN 16
#define FIXED_MAGIC 0x49d2
#define FIXED_VERSION 1

#define BAR0_SIZE 256
#define BAR0_FLAGS 0
#define BAR0_UNPLUG_ALL 4
#define BAR0_UNPLUG_OR_LOG 8
#define BAR1_SIZE (16u << 20)

#define PLATFORM_FLAG_ROM_LOCK 0x01
#define ROM_AREA_FIRST_GFN 0xc0 /* 0xC0000-0xFFFFF */
#define ROM_AREA_PAGES 0x40

#define UNPLUG_MASK_ALL_DISKS 0x01
#define UNPLUG_MASK_ALL_NICS 0x02
#define UNPLUG_MASK_AUX_IDE_DISKS 0x04
#define UNPLUG_MASK_NVME_DISKS 0x08
#define UNPLUG_MASK_KNOWN 0x0f

/* A guest log line longer than this is flushed in pieces. */
#define PLATFORM_LOG_LINE_MAX 256

struct xen_platform {
    struct machine *machine;
    struct pci_device *dev;
    struct region *fixed;
    uint8_t flags;
    uint16_t product;
    uint32_t build;
    size_t log_len;
    char log_line[PLATFORM_LOG_LINE_MAX + 1];
    struct log_ratelimit log_rl; /* the guest writes its log at will */
};

static GQuark xen_platform_error_quark(void)
{
    return g_quark_from_static_string("xendm-xen-platform-error");
}

/* ---- platform flags ---- */

static void platform_set_flags(struct xen_platform *p, uint8_t value)
{
    bool lock = value & PLATFORM_FLAG_ROM_LOCK;

    if (!machine_set_mem_type(p->machine, ROM_AREA_FIRST_GFN, ROM_AREA_PAGES, lock)) {
        /* The flag keeps reporting what Xen actually did. */
        log_guest_error("xen-platform: could not %s the ROM area", lock ? "lock" : "unlock");
        return;
    }
    TRACE(xen_platform_flags, "rom_lock=%d", lock);
    p->flags = lock ? PLATFORM_FLAG_ROM_LOCK : 0;
}

/* ---- unplug ---- */

static void platform_unplug(struct xen_platform *p, unsigned mask)
{
    unsigned kinds = 0;

    log_guest_event("xen-platform: guest asks to unplug emulated devices, mask 0x%x", mask);
    if (mask & UNPLUG_MASK_ALL_DISKS) {
        kinds |= UNPLUG_KIND_BIT(UNPLUG_IDE_DISK);
    } else if (mask & UNPLUG_MASK_AUX_IDE_DISKS) {
        kinds |= UNPLUG_KIND_BIT(UNPLUG_IDE_DISK_AUX);
    }
    if (mask & UNPLUG_MASK_ALL_NICS) {
        kinds |= UNPLUG_KIND_BIT(UNPLUG_NIC);
    }
    if (mask & UNPLUG_MASK_NVME_DISKS) {
        kinds |= UNPLUG_KIND_BIT(UNPLUG_NVME);
    }
    if (mask & ~UNPLUG_MASK_KNOWN) {
        log_guest_error("xen-platform: unknown unplug bits 0x%x ignored",
                        mask & ~UNPLUG_MASK_KNOWN);
    }
    machine_unplug(p->machine, kinds);
}

/* ---- the guest's log ---- */

static void platform_log_flush(struct xen_platform *p)
{
    p->log_line[p->log_len] = '\0';
    log_limited(&p->log_rl, "xen-platform: guest: %s", p->log_line);
    p->log_len = 0;
}

static void platform_log_byte(struct xen_platform *p, uint8_t c)
{
    if (c == '\n') {
        platform_log_flush(p);
        return;
    }
    /* The guest's bytes end up in the host's log file: keep them printable. */
    p->log_line[p->log_len++] = g_ascii_isprint(c) ? (char)c : '?';
    if (p->log_len == PLATFORM_LOG_LINE_MAX) {
        platform_log_flush(p);
    }
}

/* ---- fixed ports 0x10-0x1F ---- */

static uint64_t fixed_read(void *opaque, uint64_t offset, unsigned size)
{
    struct xen_platform *p = opaque;

    if (offset == 0 && size == 2) {
        return FIXED_MAGIC;
    }
    if (offset == 0 && size == 1) {
        return p->flags;
    }
    if (offset == 2 && size == 1) {
        return FIXED_VERSION;
    }
    return all_ones(size);
}

static void fixed_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct xen_platform *p = opaque;

    if (offset == 0 && size == 4) {
        p->build = (uint32_t)value;
        log_guest_event("xen-platform: PV driver build %" PRIu32 " (product %u)", p->build,
                        p->product);
    } else if (offset == 0 && size == 2) {
        platform_unplug(p, (unsigned)value);
    } else if (offset == 2 && size == 2) {
        p->product = (uint16_t)value;
        log_guest_event("xen-platform: PV driver product number %u", p->product);
    } else if (offset == 0 && size == 1) {
        platform_set_flags(p, (uint8_t)value);
    } else if (offset == 2 && size == 1) {
        platform_log_byte(p, (uint8_t)value);
    } else {
        log_guest_error("xen-platform: %u-byte write to port 0x%" PRIx64 " ignored", size,
                        FIXED_PORT + offset);
    }
}

static const struct region_ops fixed_ops = {
    .read = fixed_read,
    .write = fixed_write,
    .min_access = 1,
    .max_access = 4,
};

/* ---- BAR0: byte registers ---- */

static uint64_t bar0_read(void *opaque, uint64_t offset, unsigned size)
{
    struct xen_platform *p = opaque;

    return offset == BAR0_FLAGS ? p->flags : 0xff;
}

static void bar0_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct xen_platform *p = opaque;
    uint8_t byte = (uint8_t)value;

    switch (offset) {
    case BAR0_FLAGS:
        platform_set_flags(p, byte);
        break;
    case BAR0_UNPLUG_ALL:
        if (byte == 1) {
            platform_unplug(p, UNPLUG_MASK_ALL_DISKS | UNPLUG_MASK_ALL_NICS);
        }
        break;
    case BAR0_UNPLUG_OR_LOG:
        if (byte == 1) {
            platform_unplug(p, UNPLUG_MASK_ALL_DISKS);
        } else if (byte == 2) {
            platform_unplug(p, UNPLUG_MASK_ALL_NICS);
        } else {
            platform_log_byte(p, byte);
        }
        break;
    default:
        break;
    }
}

/* Byte-wide: wider accesses reach the registers byte by byte, low address first. */
static const struct region_ops bar0_ops = {
    .read = bar0_read,
    .write = bar0_write,
    .min_access = 1,
    .max_access = 1,
};

/* ---- BAR1: unbacked memory ---- */

static uint64_t bar1_read(void *opaque, uint64_t offset, unsigned size)
{
    return 0;
}

static void bar1_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
}

static const struct region_ops bar1_ops = {
    .read = bar1_read,
    .write = bar1_write,
    .min_access = 1,
    .max_access = 8,
};

/* ---- PCI function ---- */

static void platform_function_reset(struct pci_device *d, void *opaque)
{
    struct xen_platform *p = opaque;

    if (p->flags & PLATFORM_FLAG_ROM_LOCK) {
        platform_set_flags(p, 0);
    }
    p->flags = 0;
    p->log_len = 0;
}

static const struct pci_device_ops platform_pci_ops = {
    .reset = platform_function_reset,
};

static const struct pci_device_id platform_id = {
    .vendor_id = 0x5853,
    .device_id = 0x0001,
    .revision = 1,
    .class_code = 0xff8000, /* device does not fit any defined class */
    .subsystem_vendor_id = 0x5853,
    .subsystem_id = 0x0001,
    .interrupt_pin = 1,
};

/* ---- life cycle ---- */

static void xen_platform_destroy(void *dev)
{
    struct xen_platform *p = dev;

    if (p == NULL) {
        return;
    }
    region_del(p->fixed);
    if (p->dev != NULL) {
        pci_device_remove(p->dev);
    }
    g_free(p);
}

static bool platform_add_function(struct xen_platform *p, struct pci_bus *bus, int devfn,
                                  GError **err)
{
    p->dev = pci_device_add(bus, devfn, XEN_PLATFORM_TYPE_NAME, &platform_id,
                            &platform_pci_ops, p, err);
    if (p->dev == NULL) {
        return false;
    }
    /*
     * No command preset: qemu-xen presets I/O + memory when it creates the function
     * (reference §6), but its machine reset at start clears them, so guests find 0 and
     * hvmloader enables the function after placing its BARs (tests/qtest/test-pci-compare.c).
     */
    if (pci_register_bar(p->dev, 0, PCI_BAR_IO, BAR0_SIZE, &bar0_ops, p) < 0 ||
        pci_register_bar(p->dev, 1, PCI_BAR_MEM32 | PCI_BAR_PREFETCH, BAR1_SIZE, &bar1_ops,
                         p) < 0) {
        g_set_error(err, xen_platform_error_quark(), 0, "xen-platform: cannot register BARs");
        return false;
    }
    return true;
}

static void *xen_platform_create(struct machine *m, struct kv_list *props, GError **err)
{
    struct pci_bus *bus = machine_pci_bus(m);
    struct xen_platform *p;
    int devfn;

    if (bus == NULL) {
        g_set_error(err, xen_platform_error_quark(), 0, "xen-platform: the machine has no PCI bus");
        return NULL;
    }
    if (!pci_devfn_from_props(props, &devfn, err)) {
        return NULL;
    }
    p = g_new0(struct xen_platform, 1);
    p->machine = m;
    p->fixed = machine_add_io(m, "xen-platform-fixed", FIXED_PORT, FIXED_LEN, &fixed_ops, p);
    if (p->fixed == NULL) {
        g_set_error(err, xen_platform_error_quark(), 0,
                    "xen-platform: ports 0x10-0x1f are in use");
        goto fail;
    }
    if (!platform_add_function(p, bus, devfn, err)) {
        goto fail;
    }
    return p;

fail:
    xen_platform_destroy(p);
    return NULL;
}

/*
 * Saved: the flags (ROM lock) and what the PV drivers told us. The ROM area's memory type is
 * set again on load, as the restored guest expects its ROM locked if it locked it. Which
 * emulated devices were unplugged is the machine's record (machine_load_state unplugs them on
 * the new side, which libxl starts with the same devices, before it loads the others).
 */
static void xen_platform_post_load(void *dev)
{
    struct xen_platform *p = dev;

    platform_set_flags(p, p->flags);
}

static const struct vmstate_field xen_platform_fields[] = {
    VMSTATE_U8(struct xen_platform, flags),
    VMSTATE_U16(struct xen_platform, product),
    VMSTATE_U32(struct xen_platform, build),
    VMSTATE_END,
};

static const struct vmstate_desc xen_platform_vmstate = {
    .name = "xen-platform",
    .version = 1,
    .fields = xen_platform_fields,
    .post_load = xen_platform_post_load,
};

static const struct device_type xen_platform_type = {
    .name = XEN_PLATFORM_TYPE_NAME,
    .description = "Xen platform PCI device (5853:0001): PV driver unplug, grant table BAR",
    .user_creatable = false,
    .create = xen_platform_create,
    /* Reset comes through the bus: the host bridge resets every function. */
    .destroy = xen_platform_destroy,
    .vmstate = &xen_platform_vmstate,
};
DEVICE_TYPE_REGISTER(xen_platform_type);
