/*
 * The machine: the address spaces, guest memory, interrupt lines and devices of
 * one guest, and the only door from device code to the accelerator.
 *
 * Device code uses just this header (plus memory.h, chardev.h, keyval.h,
 * log.h, trace.h): register a region, raise or lower an interrupt, read or
 * write guest memory, start a timer, ask for a reset or power-off. It never
 * includes a Xen header; the accelerator (accel/xen/) implements accel_ops.
 */
#ifndef XENDM_MACHINE_H
#define XENDM_MACHINE_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include "xendm/chardev.h"
#include "xendm/common.h"
#include "xendm/keyval.h"
#include "xendm/mapcache.h"
#include "xendm/memory.h"

enum shutdown_reason {
    SHUTDOWN_POWEROFF = 0, /* values are Xen's SHUTDOWN_* codes */
    SHUTDOWN_REBOOT = 1,
    SHUTDOWN_SUSPEND = 2,
    SHUTDOWN_CRASH = 3,
};

/* What the machine needs from the accelerator. Each may be NULL (unit tests). */
struct vmstate_desc;

struct accel_ops {
    void (*set_isa_irq)(void *opaque, unsigned irq, bool level);
    void (*set_pci_intx)(void *opaque, unsigned slot, unsigned pin, bool level);
    void (*set_pci_link_route)(void *opaque, unsigned link, unsigned isa_irq);
    void (*inject_msi)(void *opaque, uint64_t addr, uint32_t data);
    void (*claim_pcidev)(void *opaque, uint32_t sbdf, bool add);
    void (*request_shutdown)(void *opaque, enum shutdown_reason reason);
    /* ACPI sleep state of the guest as Xen keeps it: 3 (S3, its vCPUs parked) or 0 (awake). */
    void (*set_acpi_sleep_state)(void *opaque, unsigned state);
    /* Guest RAM pages [first_gfn, first_gfn + nr) become read-only or writable again. */
    bool (*set_mem_type)(void *opaque, uint64_t first_gfn, uint32_t nr, bool read_only);
    /*
     * The device model wrote guest pages [first_gfn, first_gfn + nr) while the global dirty
     * log is on (live migration): Xen must send them again (reference §4, modified_memory).
     */
    void (*modified_memory)(void *opaque, uint64_t first_gfn, uint64_t nr);
    /*
     * Guest RAM the device model owns (include/xendm/guest-ram.h, reference §4): populate the
     * frames of [first_gfn, first_gfn + nr) that are not populated yet; move nr frames from
     * src_gfn to dst_gfn, where to_mmio says dst is a BAR (its range is then no longer
     * claimed from the ioreq server) and from_mmio that src was one; Xen's dirty-VRAM log of
     * [first_gfn, first_gfn + nr) into bitmap (one bit a page; nr 0 stops it): 0 or -errno.
     */
    bool (*ram_populate)(void *opaque, uint64_t first_gfn, uint64_t nr);
    bool (*ram_relocate)(void *opaque, uint64_t src_gfn, uint64_t dst_gfn, uint64_t nr,
                         bool from_mmio, bool to_mmio);
    int (*ram_track_dirty)(void *opaque, uint64_t first_gfn, uint32_t nr,
                           unsigned long *bitmap);
};

#define MACHINE_ISA_IRQS 16

struct machine {
    struct address_space *io;
    struct address_space *mmio;
    struct mapcache *mapcache;
    const struct accel_ops *accel;
    void *accel_opaque;
    /* Number of asserted sources per ISA line; a level change goes out on 0 <-> 1. */
    unsigned isa_irq_count[MACHINE_ISA_IRQS];
    /* PCI configuration space (the PCI issue installs the bus); NULL: every function absent. */
    uint64_t (*pci_config_read)(void *opaque, uint32_t sbdf, uint32_t reg, unsigned size);
    void (*pci_config_write)(void *opaque, uint32_t sbdf, uint32_t reg, uint64_t val,
                             unsigned size);
    void *pci_opaque;
    struct pci_bus *pci_bus; /* created by the host bridge (include/xendm/pci.h) */
    GPtrArray *unplug_handlers; /* struct unplug_handler *, owned (machine_register_unplug) */
    /* UNPLUG_KIND_BIT()s the guest has unplugged: saved first, so that a restore unplugs the
     * same devices before it matches the rest of the stream (machine_load_state). */
    struct machine_unplug_state {
        uint32_t kinds;
    } unplugged;
    GPtrArray *devices;  /* struct device_instance * */
    /* State the core keeps for devices (a PCI function's config space): struct state_section *,
     * owned; saved and loaded before the devices' own (machine_add_state). */
    GPtrArray *core_state;
    GPtrArray *chardevs; /* struct chardev *, owned */
    GPtrArray *drives;   /* struct drive *, owned (machine_add_drive) */
    GPtrArray *netdevs;  /* struct net_backend *, owned (machine_add_netdev) */
    uint64_t ram_size;
    /* End of the guest RAM the device model owns so far (system/guest-ram.c); 0: none. */
    uint64_t dm_ram_end;
    /* Sum of the guest's RTC changes reported by Xen (TIMEOFFSET), in seconds. */
    int64_t rtc_offset_seconds;
    /* Told the new sum after each TIMEOFFSET (main: QMP RTC_CHANGE); may be NULL. */
    void (*rtc_change_observer)(void *opaque, int64_t offset_seconds);
    void *rtc_change_observer_opaque;
    bool shutdown_requested;
    enum shutdown_reason shutdown_reason;
    bool suspended; /* in ACPI S3 since machine_enter_s3, until machine_wakeup */
    /* QMP xen-set-global-dirty-log: report pages xendm writes (machine_mark_dirty). */
    bool dirty_log;
    /* Told of every shutdown request after the accelerator (main: QMP events); may be NULL. */
    void (*shutdown_observer)(void *opaque, enum shutdown_reason reason);
    void *shutdown_observer_opaque;
    /* Told when the guest enters S3 (true) and wakes (false) (main: QMP SUSPEND/WAKEUP). */
    void (*sleep_observer)(void *opaque, bool asleep);
    void *sleep_observer_opaque;
};

struct machine *machine_new(void);
void machine_free(struct machine *m); /* destroys devices, then chardevs, then spaces */
void machine_reset(struct machine *m);

/* ---- device types: one file per device registers itself ---- */

struct device_type {
    const char *name; /* as in -device NAME */
    const char *description;
    bool user_creatable; /* may be named with -device */
    /* Takes its properties with kv_get*(); a property it did not take is an error. */
    void *(*create)(struct machine *m, struct kv_list *props, GError **err);
    void (*reset)(void *dev);
    /* The guest enters ACPI S3 (machine_enter_s3); may be NULL. */
    void (*suspend)(void *dev);
    void (*destroy)(void *dev);
    /* Its saved state (include/xendm/vmstate.h); NULL: the device has none. */
    const struct vmstate_desc *vmstate;
};

#define DEVICE_TYPE_REGISTER(type_var)                                                            \
    static const struct device_type *const device_type_ptr_##type_var                           \
        __attribute__((section("xendm_device_types"), used, aligned(8))) = &type_var

const struct device_type *device_type_find(const char *name);
void device_type_list(FILE *out);
/* Creates and records a device; fails on unknown type or an unused property. */
void *machine_create_device(struct machine *m, const char *type, struct kv_list *props,
                            GError **err);

/* The first device of type `type_name` created on m, or NULL (board wiring, QMP). */
void *machine_find_device(struct machine *m, const char *type_name);

/* ---- chardevs ---- */
void machine_add_chardev(struct machine *m, struct chardev *chr); /* takes ownership */
struct chardev *machine_find_chardev(struct machine *m, const char *id);

/* ---- drives (include/xendm/block.h) ---- */
struct drive;
enum drive_interface;
void machine_add_drive(struct machine *m, struct drive *drive); /* takes ownership */
struct drive *machine_find_drive(struct machine *m, const char *id);
/* The drive of interface `interface` at `index` (if=ide: 0..3), or NULL. */
struct drive *machine_drive_at(struct machine *m, enum drive_interface interface, int index);

/* ---- network backends (include/xendm/net.h) ---- */
struct net_backend;
void machine_add_netdev(struct machine *m, struct net_backend *nb); /* takes ownership */
struct net_backend *machine_find_netdev(struct machine *m, const char *id);

/* ---- regions ---- */
static inline struct region *machine_add_io(struct machine *m, const char *name, uint64_t base,
                                            uint64_t size, const struct region_ops *ops,
                                            void *opaque)
{
    return region_add(m->io, name, base, size, ops, opaque);
}
static inline struct region *machine_add_mmio(struct machine *m, const char *name, uint64_t base,
                                              uint64_t size, const struct region_ops *ops,
                                              void *opaque)
{
    return region_add(m->mmio, name, base, size, ops, opaque);
}

/* ---- interrupts ---- */

/* An interrupt output of one device; ISA lines are shared by OR of their sources. */
struct irq_line;
struct irq_line *machine_isa_irq(struct machine *m, unsigned irq); /* NULL if irq > 15 */
void irq_set_level(struct irq_line *line, bool level);
bool irq_get_level(const struct irq_line *line);
void irq_line_free(struct irq_line *line); /* lowers it first */

void machine_inject_msi(struct machine *m, uint64_t addr, uint32_t data);
/* PCI INTx of bus 0: slot and the function's own pin (0 = INTA); Xen swizzles. */
void machine_set_pci_intx(struct machine *m, unsigned slot, unsigned pin, bool level);
/* PIIX3 PIRQ routing: link 0..3 to ISA irq (0 = disabled). */
void machine_set_pci_link_route(struct machine *m, unsigned link, unsigned isa_irq);
/* Ask the accelerator to send config cycles of this SBDF here (or stop). */
void machine_claim_pcidev(struct machine *m, uint32_t sbdf, bool add);

/* ---- guest memory types ---- */
/* Makes guest RAM pages read-only (ROM lock) or writable; false when the accelerator refused. */
bool machine_set_mem_type(struct machine *m, uint64_t first_gfn, uint32_t nr, bool read_only);

/* ---- PV unplug: the platform device asks to drop emulated devices (reference §6) ---- */
enum machine_unplug_kind {
    UNPLUG_IDE_DISK,     /* every IDE/SATA and SCSI disk (CD-ROMs stay) */
    UNPLUG_IDE_DISK_AUX, /* IDE disks except the primary master */
    UNPLUG_NIC,          /* every emulated NIC, with its backend */
    UNPLUG_NVME,         /* NVMe disks */
    UNPLUG_KIND_COUNT,
};
#define UNPLUG_KIND_BIT(kind) (1u << (kind))

/*
 * A disk or NIC device asks to be told when the guest unplugs any kind in `kinds_bitmask`
 * (UNPLUG_KIND_BIT()s); cb runs once per matching kind and may unregister itself.
 */
void machine_register_unplug(struct machine *m, unsigned kinds_bitmask,
                             void (*cb)(void *opaque, unsigned kind), void *opaque);
void machine_unregister_unplug(struct machine *m, void *opaque); /* every entry of opaque */
/* Calls the handlers of every kind in kind_bitmask, logs it, records the kinds in
 * m->unplugged; returns how many handlers were called. */
unsigned machine_unplug(struct machine *m, unsigned kind_bitmask);

/* ---- guest memory ---- */

/*
 * Guest pages [gpa, gpa + len) were written by xendm: while the global dirty log is on they
 * are reported to the accelerator. guest_write() calls it; code that writes through a pointer
 * from mapcache_lock(..., writable) calls it itself, once the write is done.
 */
void machine_mark_dirty(struct machine *m, uint64_t gpa, size_t len);
/* QMP xen-set-global-dirty-log. */
void machine_set_dirty_log(struct machine *m, bool enable);

static inline int guest_read(struct machine *m, uint64_t gpa, void *buf, size_t len)
{
    return mapcache_read(m->mapcache, gpa, buf, len);
}
static inline int guest_write(struct machine *m, uint64_t gpa, const void *buf, size_t len)
{
    int rc = mapcache_write(m->mapcache, gpa, buf, len);

    /* A failed write may be partial: report the range all the same. */
    if (m->dirty_log) {
        machine_mark_dirty(m, gpa, len);
    }
    return rc;
}

/* ---- life cycle ---- */
void machine_request_shutdown(struct machine *m, enum shutdown_reason reason);
/*
 * ACPI S3 (suspend to RAM), as qemu-xen does it: every device's `suspend` hook runs (the CMOS
 * shutdown status tells the firmware to resume), then Xen parks the vCPUs
 * (HVM_PARAM_ACPI_S_STATE 3). The domain stays alive; it is not a shutdown.
 */
void machine_enter_s3(struct machine *m);
/* QMP system_wakeup: devices reset (as qemu-xen on wake-up), vCPUs run again. False when the
 * guest is not in S3. */
bool machine_wakeup(struct machine *m);
/*
 * QMP stop (false) and cont (true). While stopped no timer callback runs, so device state
 * holds still for xen-save-devices-state; ioreqs are still answered (libxl pauses the vCPUs).
 */
void machine_set_running(struct machine *m, bool running);

/* ---- device state (include/xendm/vmstate.h) ---- */
/* The state of every device that has some, as a stream; NULL only if m is NULL. */
GBytes *machine_save_state(struct machine *m);
/* Checks all of data against the machine's devices, then applies it; nothing on failure. */
bool machine_load_state(struct machine *m, const uint8_t *data, size_t len, GError **err);
/*
 * A section of state the core keeps on a device's behalf (the PCI core: one per function,
 * instance id = devfn). It is saved before every device's own section and applied before
 * them on load, so a device's post_load sees its configuration space restored. The caller
 * keeps desc and obj alive until machine_remove_state(m, obj).
 */
void machine_add_state(struct machine *m, const struct vmstate_desc *desc, uint32_t instance_id,
                       void *obj);
void machine_remove_state(struct machine *m, void *obj);

/* ---- timers (on the event loop; microsecond resolution) ---- */
struct timer;
struct timer *timer_new(void (*cb)(void *opaque), void *opaque);
void timer_arm_ns(struct timer *t, uint64_t delay_ns); /* re-arming replaces */
void timer_cancel(struct timer *t);
bool timer_pending(const struct timer *t);
void timer_free(struct timer *t);
int64_t clock_now_ns(void); /* monotonic */

#endif
