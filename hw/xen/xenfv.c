/*
 * The xenfv machine: the PC devices a Xen HVM guest expects from its device
 * model (Xen itself emulates the PIC, PIT, IOAPIC, RTC and the ACPI PM1a/timer
 * registers; see the reference, §7).
 *
 * PCI layout, as qemu-xen builds it and hvmloader expects it:
 *   00:00.0 i440fx        host bridge 8086:1237; creates the bus, ports 0xCF8-0xCFF
 *   00:01.0 piix3         ISA bridge 8086:7000: PIRQ routing, reset control 0xCF9
 *   00:01.1 piix3-ide     IDE 8086:7010: the if=ide drives, legacy ports, bus-master DMA
 *   00:01.3 piix4-pm      ACPI 8086:7113 (left out with -no-acpi, as qemu-xen does)
 *   00:02.0 display       when one is requested (a later issue; see create_display)
 *   next    xen-platform  5853:0001, "xenfv" only: 00:02.0, or 00:03.0 after a display
 *   then    every -device, PCI ones at addr= or the first free slot.
 * "-machine pc,accel=xen" is the same machine without the platform device.
 */
#include <glib.h>

#include "xendm/block.h"
#include "xendm/log.h"
#include "xendm/net.h"
#include "xendm/pc-chipset.h"
#include "xendm/xenfv.h"

#define XENFV_ERROR (g_quark_from_static_string("xendm-xenfv"))

static bool create_fixed_device(struct machine *m, const char *type, GError **err)
{
    struct kv_list *props = kv_new();
    void *dev = machine_create_device(m, type, props, err);

    kv_free(props);
    return dev != NULL;
}

static bool create_chardevs(struct machine *m, struct xendm_config *cfg, GError **err)
{
    for (guint i = 0; i < cfg->chardevs->len; i++) {
        struct chardev *chr = chardev_new(g_ptr_array_index(cfg->chardevs, i), err);
        if (chr == NULL) {
            g_prefix_error(err, "-chardev: ");
            return false;
        }
        machine_add_chardev(m, chr);
    }
    return true;
}

#define IDE_DRIVE_POSITIONS 4

/*
 * An if=ide drive given no index= takes the first free position, as QEMU does, and QEMU's
 * name for it ("ide1-cd0"). False when all four are taken.
 */
static bool place_ide_drive(struct machine *m, struct drive *drive, GError **err)
{
    for (int index = 0; index < IDE_DRIVE_POSITIONS; index++) {
        if (machine_drive_at(m, DRIVE_IF_IDE, index) == NULL) {
            drive->index = index;
            if (drive->id == NULL) {
                drive->id = g_strdup_printf("ide%d-%s%d", index / 2,
                                            drive->media == DRIVE_MEDIA_CDROM ? "cd" : "hd",
                                            index % 2);
            }
            return true;
        }
    }
    g_set_error(err, XENFV_ERROR, 0, "-drive: too many IDE drives (at most %d)",
                IDE_DRIVE_POSITIONS);
    return false;
}

/*
 * -drive: each opens its image now, before restriction takes the file system away. Two drives
 * may not share an id, nor an IDE position.
 */
static bool create_drives(struct machine *m, struct xendm_config *cfg, GError **err)
{
    unsigned virtio_drives = 0;

    for (guint i = 0; i < cfg->drives->len; i++) {
        struct drive *drive = drive_new(g_ptr_array_index(cfg->drives, i), err);
        if (drive == NULL) {
            g_prefix_error(err, "-drive: ");
            return false;
        }
        if (drive->interface == DRIVE_IF_IDE && drive->index < 0 &&
            !place_ide_drive(m, drive, err)) {
            drive_free(drive);
            return false;
        }
        if (drive->interface == DRIVE_IF_VIRTIO && drive->id == NULL) {
            drive->id = g_strdup_printf("virtio%u", virtio_drives);
        }
        virtio_drives += drive->interface == DRIVE_IF_VIRTIO;
        if (machine_find_drive(m, drive->id) != NULL ||
            (drive->interface == DRIVE_IF_IDE &&
             machine_drive_at(m, DRIVE_IF_IDE, drive->index) != NULL)) {
            g_set_error(err, XENFV_ERROR, 0, "-drive: %s: %s is already in use", drive->id,
                        machine_find_drive(m, drive->id) != NULL ? "the id" : "the IDE index");
            drive_free(drive);
            return false;
        }
        machine_add_drive(m, drive);
    }
    return true;
}

/*
 * -netdev: each backend opens its tap or socket now, before restriction takes that right away,
 * and before the NICs that name it with netdev=. Two backends may not share an id.
 */
static bool create_netdevs(struct machine *m, struct xendm_config *cfg, GError **err)
{
    for (guint i = 0; i < cfg->netdevs->len; i++) {
        struct net_backend *nb = net_backend_new(g_ptr_array_index(cfg->netdevs, i), err);
        if (nb == NULL) {
            g_prefix_error(err, "-netdev: ");
            return false;
        }
        if (machine_find_netdev(m, net_backend_id(nb)) != NULL) {
            g_set_error(err, XENFV_ERROR, 0, "-netdev: id %s is already in use",
                        net_backend_id(nb));
            net_backend_free(nb);
            return false;
        }
        machine_add_netdev(m, nb);
    }
    return true;
}

/* The chardev behind -serial SPEC: a -chardev by id, or a new one named "serialN". */
static struct chardev *serial_backend(struct machine *m, const char *spec, unsigned index,
                                      GError **err)
{
    struct chardev *chr;
    char *id;

    if (g_str_has_prefix(spec, "chardev:")) {
        const char *ref = spec + strlen("chardev:");
        chr = machine_find_chardev(m, ref);
        if (chr == NULL) {
            g_set_error(err, XENFV_ERROR, 0, "-serial %s: no chardev with id '%s'", spec, ref);
        }
        return chr;
    }
    id = g_strdup_printf("serial%u", index);
    chr = chardev_new_legacy(spec, id, err);
    g_free(id);
    if (chr == NULL) {
        if (err != NULL && *err == NULL) {
            g_set_error(err, XENFV_ERROR, 0, "no backend"); /* prefixed below */
        }
        g_prefix_error(err, "-serial %s: ", spec);
        return NULL;
    }
    machine_add_chardev(m, chr);
    return chr;
}

static bool create_serial(struct machine *m, const char *spec, unsigned index, GError **err)
{
    struct chardev *chr = serial_backend(m, spec, index, err);
    struct kv_list *props;
    char value[32];
    void *dev;

    if (chr == NULL) {
        return false;
    }
    props = kv_new();
    kv_set(props, "chardev", chardev_id(chr));
    /* isa-serial derives COMn's I/O base and IRQ from its index. */
    snprintf(value, sizeof(value), "%u", index);
    kv_set(props, "index", value);
    dev = machine_create_device(m, "isa-serial", props, err);
    kv_free(props);
    return dev != NULL;
}

static bool create_user_device(struct machine *m, struct kv_list *props, GError **err)
{
    const char *driver = kv_get(props, "driver");
    const struct device_type *type = driver != NULL ? device_type_find(driver) : NULL;

    if (type == NULL) {
        g_set_error(err, XENFV_ERROR, 0, "-device %s: unknown device type", driver);
        return false;
    }
    if (!type->user_creatable) {
        g_set_error(err, XENFV_ERROR, 0, "-device %s: cannot be created with -device", driver);
        return false;
    }
    if (machine_create_device(m, driver, props, err) == NULL) {
        g_prefix_error(err, "-device %s: ", driver);
        return false;
    }
    return true;
}

/*
 * The CPU presence bitmap (0xAF00) shows the vCPUs present at start: libxl passes them as
 * "-smp AVAIL,maxcpus=MAX" (or "-smp MAX" when all are), QEMU marks the first AVAIL.
 */
static bool create_acpi(struct machine *m, const struct xendm_config *cfg, GError **err)
{
    struct kv_list *props;
    char cpus[16], serial_ports[16];
    void *dev;

    /*
     * qemu-xen (QEMU 7.2, pc_piix.c) creates PIIX4 PM only while ACPI is enabled, and
     * -no-acpi turns it off: hvmloader then finds no 8086:7113 and leaves ACPI PM alone.
     */
    if (cfg->no_acpi) {
        log_info("-no-acpi: no PIIX4 power management function");
        return true;
    }
    props = kv_new();
    snprintf(cpus, sizeof(cpus), "%u", cfg->smp_cpus > 0 ? cfg->smp_cpus : 1);
    kv_set(props, "cpus", cpus);
    snprintf(serial_ports, sizeof(serial_ports), "%u", cfg->serials->len);
    kv_set(props, "serial-ports", serial_ports);
    dev = machine_create_device(m, PIIX4_PM_TYPE_NAME, props, err);
    kv_free(props);
    return dev != NULL;
}

/*
 * The boot order in QEMU's -boot syntax: "cd", or "order=cd[,once=d][,menu=on]..." (libxl
 * passes "order=..."). "once" wins for this boot: on Xen a reboot starts a new device model.
 * Returns NULL when no order is given.
 */
static char *boot_order(const char *boot)
{
    g_auto(GStrv) parts = g_strsplit(boot != NULL ? boot : "", ",", -1);
    const char *order = NULL, *once = NULL;

    for (guint i = 0; parts[i] != NULL; i++) {
        if (g_str_has_prefix(parts[i], "order=")) {
            order = parts[i] + strlen("order=");
        } else if (g_str_has_prefix(parts[i], "once=")) {
            once = parts[i] + strlen("once=");
        } else if (i == 0 && parts[i][0] != '\0' && strchr(parts[i], '=') == NULL) {
            order = parts[i];
        }
    }
    return once != NULL ? g_strdup(once) : g_strdup(order);
}

static bool create_cmos(struct machine *m, const struct xendm_config *cfg, GError **err)
{
    struct kv_list *props = kv_new();
    g_autofree char *order = boot_order(cfg->boot);
    char cpus[16];
    void *dev;

    snprintf(cpus, sizeof(cpus), "%u", cfg->smp_cpus > 0 ? cfg->smp_cpus : 1);
    kv_set(props, "cpus", cpus);
    if (order != NULL) {
        kv_set(props, "boot-order", order);
    }
    dev = machine_create_device(m, "cmos-nvram", props, err);
    kv_free(props);
    if (dev == NULL) {
        g_prefix_error(err, "-boot %s: ", cfg->boot != NULL ? cfg->boot : "");
    }
    return dev != NULL;
}

static bool create_chipset(struct machine *m, const struct xendm_config *cfg, GError **err)
{
    /* qemu-xen's xenfv always has the IDE function at 00:01.1, disks or not: hvmloader and
     * SeaBIOS expect it there, and Windows installed under qemu-xen boots from it. */
    return create_fixed_device(m, I440FX_TYPE_NAME, err) &&
           create_fixed_device(m, PIIX3_TYPE_NAME, err) &&
           create_fixed_device(m, "piix3-ide", err) && create_acpi(m, cfg, err) &&
           create_cmos(m, cfg, err);
}

/*
 * Hook for the display device (VGA arrives with a later issue). It must be created here,
 * before the platform device, so that it takes 00:02.0 as on qemu-xen and the platform
 * device the next free slot.
 */
static bool create_display(struct machine *m, const struct xendm_config *cfg, GError **err)
{
    return true;
}

static bool is_xenfv(const struct xendm_config *cfg)
{
    return cfg->machine_type == NULL || strcmp(cfg->machine_type, "xenfv") == 0;
}

/*
 * -drive if=virtio: a virtio-blk-pci of its own for each, after the -device functions (QEMU
 * creates them last too, so the slots of the others do not move).
 */
static bool create_virtio_drives(struct machine *m, GError **err)
{
    for (guint i = 0; i < m->drives->len; i++) {
        struct drive *drive = g_ptr_array_index(m->drives, i);
        struct kv_list *props;
        void *dev;

        if (drive->interface != DRIVE_IF_VIRTIO) {
            continue;
        }
        props = kv_new();
        kv_set(props, "drive", drive->id);
        dev = machine_create_device(m, "virtio-blk-pci", props, err);
        kv_free(props);
        if (dev == NULL) {
            g_prefix_error(err, "-drive %s,if=virtio: ", drive->id);
            return false;
        }
    }
    return true;
}

bool xenfv_assemble(struct machine *m, struct xendm_config *cfg, GError **err)
{
    if (!create_chardevs(m, cfg, err) || !create_drives(m, cfg, err) ||
        !create_netdevs(m, cfg, err) || !create_chipset(m, cfg, err) ||
        !create_fixed_device(m, "i8042", err) || !create_fixed_device(m, "port92", err)) {
        return false;
    }
    for (guint i = 0; i < cfg->serials->len && i < XENDM_MAX_SERIALS; i++) {
        if (!create_serial(m, g_ptr_array_index(cfg->serials, i), i, err)) {
            return false;
        }
    }
    if (!create_display(m, cfg, err) ||
        (is_xenfv(cfg) && !create_fixed_device(m, "xen-platform", err))) {
        return false;
    }
    for (guint i = 0; i < cfg->devices->len; i++) {
        if (!create_user_device(m, g_ptr_array_index(cfg->devices, i), err)) {
            return false;
        }
    }
    return create_virtio_drives(m, err);
}
