/*
 * "xen-pvdevice": the Xen PV vendor device. libxl adds
 * `-device xen-pvdevice,device-id=0xc000` for `vendor_device="xenserver"` in the guest
 * config, so that Windows Update offers the matching PV drivers. It is an identity only:
 *   vendor "vendor-id" (default 5853), device "device-id" (required), subsystem the same
 *   pair, revision "revision" (default 1), class 0x0880 (system peripheral, other),
 *   interrupt pin A (never driven), command 0 after reset (qemu-xen presets memory decode
 *   when it creates the function, but its machine reset clears it: test-pci-compare);
 *   BAR1 "size" bytes (default 4 MiB, a power of two) of 32-bit prefetchable memory that
 *   reads all-ones and ignores writes.
 */
#include <glib.h>
#include <inttypes.h>

#include "xendm/common.h"
#include "xendm/keyval.h"
#include "xendm/log.h"
#include "xendm/machine.h"
#include "xendm/memory.h"
#include "xendm/pci.h"

#define PVDEVICE_DEFAULT_VENDOR 0x5853
#define PVDEVICE_NO_DEVICE_ID 0xffff /* "not given": 0xFFFF is no valid device ID anyway */
#define PVDEVICE_DEFAULT_REVISION 0x01
#define PVDEVICE_DEFAULT_SIZE 0x400000u
#define PVDEVICE_MIN_SIZE 16u
#define PVDEVICE_MAX_SIZE 0x80000000u /* the largest a 32-bit BAR can hold */
#define PVDEVICE_BAR 1

struct xen_pvdevice {
    struct pci_device *dev;
};

static GQuark xen_pvdevice_error_quark(void)
{
    return g_quark_from_static_string("xendm-xen-pvdevice-error");
}

static uint64_t pvdevice_mmio_read(void *opaque, uint64_t offset, unsigned size)
{
    return all_ones(size);
}

static void pvdevice_mmio_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
}

static const struct region_ops pvdevice_mmio_ops = {
    .read = pvdevice_mmio_read,
    .write = pvdevice_mmio_write,
    .min_access = 1,
    .max_access = 8,
};

/* A property that must fit `max`; false with err set otherwise. */
static bool take_bounded(struct kv_list *props, const char *key, uint64_t def, uint64_t max,
                         uint64_t *out, GError **err)
{
    if (!kv_get_u64(props, key, def, false, out, err)) {
        return false;
    }
    if (*out > max) {
        g_set_error(err, xen_pvdevice_error_quark(), 0,
                    "xen-pvdevice: %s=0x%" PRIx64 " exceeds 0x%" PRIx64, key, *out, max);
        return false;
    }
    return true;
}

static bool pvdevice_take_id(struct kv_list *props, struct pci_device_id *id, uint64_t *size,
                             GError **err)
{
    uint64_t vendor, device, revision;

    if (!take_bounded(props, "vendor-id", PVDEVICE_DEFAULT_VENDOR, 0xffff, &vendor, err) ||
        !take_bounded(props, "device-id", PVDEVICE_NO_DEVICE_ID, 0xffff, &device, err) ||
        !take_bounded(props, "revision", PVDEVICE_DEFAULT_REVISION, 0xff, &revision, err) ||
        !take_bounded(props, "size", PVDEVICE_DEFAULT_SIZE, PVDEVICE_MAX_SIZE, size, err)) {
        return false;
    }
    if (device == PVDEVICE_NO_DEVICE_ID) {
        g_set_error(err, xen_pvdevice_error_quark(), 0,
                    "xen-pvdevice: device-id is required (and may not be 0xffff)");
        return false;
    }
    if (*size < PVDEVICE_MIN_SIZE || (*size & (*size - 1)) != 0) {
        g_set_error(err, xen_pvdevice_error_quark(), 0,
                    "xen-pvdevice: size=0x%" PRIx64 " is not a power of two >= 16", *size);
        return false;
    }
    *id = (struct pci_device_id){
        .vendor_id = (uint16_t)vendor,
        .device_id = (uint16_t)device,
        .revision = (uint8_t)revision,
        .class_code = 0x088000, /* system peripheral, other */
        .subsystem_vendor_id = (uint16_t)vendor,
        .subsystem_id = (uint16_t)device,
        .interrupt_pin = 1,
    };
    return true;
}

static void xen_pvdevice_destroy(void *opaque)
{
    struct xen_pvdevice *pv = opaque;

    if (pv == NULL) {
        return;
    }
    if (pv->dev != NULL) {
        pci_device_remove(pv->dev);
    }
    g_free(pv);
}

static void *xen_pvdevice_create(struct machine *m, struct kv_list *props, GError **err)
{
    struct pci_bus *bus = machine_pci_bus(m);
    struct pci_device_id id;
    struct xen_pvdevice *pv;
    uint64_t size;
    int devfn;

    if (bus == NULL) {
        g_set_error(err, xen_pvdevice_error_quark(), 0, "xen-pvdevice: the machine has no PCI bus");
        return NULL;
    }
    if (!pci_devfn_from_props(props, &devfn, err) || !pvdevice_take_id(props, &id, &size, err)) {
        return NULL;
    }
    pv = g_new0(struct xen_pvdevice, 1);
    pv->dev = pci_device_add(bus, devfn, "xen-pvdevice", &id, NULL, pv, err);
    if (pv->dev == NULL) {
        goto fail;
    }
    if (pci_register_bar(pv->dev, PVDEVICE_BAR, PCI_BAR_MEM32 | PCI_BAR_PREFETCH, size,
                         &pvdevice_mmio_ops, pv) < 0) {
        g_set_error(err, xen_pvdevice_error_quark(), 0, "xen-pvdevice: cannot register BAR1");
        goto fail;
    }
    return pv;

fail:
    xen_pvdevice_destroy(pv);
    return NULL;
}

static const struct device_type xen_pvdevice_type = {
    .name = "xen-pvdevice",
    .description = "Xen PV vendor device (identity for PV driver updates)",
    .user_creatable = true,
    .create = xen_pvdevice_create,
    /* Reset comes through the bus: the host bridge resets every function. */
    .destroy = xen_pvdevice_destroy,
};
DEVICE_TYPE_REGISTER(xen_pvdevice_type);
