/*
 * "xendm-testdev": a PCI function that exists to exercise the PCI core from a guest or a
 * qtest script: BARs of every kind, INTx, MSI and MSI-X, all driven by register writes.
 *
 *   IDs      vendor 0x1234, device 0x7e57, class 0x00ff00 (unclassified), interrupt pin A
 *   BAR0     32-bit MMIO, 4 KiB of registers (4-byte accesses; narrower reads are widened
 *            by the core, narrower writes dropped):
 *              0x00  magic "XDMT" (0x544d4458), read-only
 *              0x04  scratch, read/write
 *              0x08  INTx level: write 1 asserts, 0 deasserts; reads the level
 *              0x0c  MSI doorbell: write a vector number -> pci_msi_notify
 *              0x10  MSI-X doorbell: write an entry number -> pci_msix_notify
 *              0x14  doorbell writes so far (both doorbells, valid or not), read-only
 *            anything else reads 0 and ignores writes
 *   BAR1     I/O, 256 bytes of scratch RAM (any width)
 *   BAR2+3   64-bit prefetchable MMIO, 1 MiB of scratch RAM (any width). The backing store
 *            is allocated on the first write that is not zero: until then every byte reads
 *            0, so an idle device costs no memory.
 *   BAR4     the MSI-X table and PBA (pci_msix_init_exclusive_bar), 4 entries by default
 *   MSI      capability, 4 vectors by default, 64-bit address, per-vector masking
 *
 * Properties: addr=SLOT[.FN], msix-vectors=N (0 = no MSI-X capability, at most 2048, the
 * table size limit of PCI 3.0 §6.8.2.3), msi-vectors=N (0 = no MSI capability, else a power
 * of two up to 32, PCI 3.0 §6.8.1.3).
 *
 * Every register value comes from the guest: vectors out of range are counted, logged
 * (rate-limited) and ignored.
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

#define TESTDEV_VENDOR_ID 0x1234
#define TESTDEV_DEVICE_ID 0x7e57
#define TESTDEV_CLASS 0x00ff00u
#define TESTDEV_MAGIC 0x544d4458u /* "XDMT" little-endian */

#define TESTDEV_REG_BAR 0
#define TESTDEV_IO_BAR 1
#define TESTDEV_RAM_BAR 2 /* 64-bit: also takes BAR 3 */
#define TESTDEV_MSIX_BAR 4

#define TESTDEV_REG_SIZE 0x1000u
#define TESTDEV_IO_SIZE 0x100u
#define TESTDEV_RAM_SIZE 0x100000u

enum testdev_reg {
    REG_MAGIC = 0x00,
    REG_SCRATCH = 0x04,
    REG_INTX = 0x08,
    REG_MSI_DOORBELL = 0x0c,
    REG_MSIX_DOORBELL = 0x10,
    REG_DOORBELL_COUNT = 0x14,
};

#define TESTDEV_DEFAULT_MSIX_VECTORS 4
#define TESTDEV_DEFAULT_MSI_VECTORS 4
#define TESTDEV_MAX_MSIX_VECTORS 2048 /* PCI 3.0 §6.8.2.3: table size is 11 bits, N - 1 */
#define TESTDEV_MAX_MSI_VECTORS 32    /* PCI 3.0 §6.8.1.3: multiple message capable <= 5 */

struct pci_testdev {
    struct machine *machine;
    struct pci_device *pci;
    unsigned msix_vectors;
    unsigned msi_vectors;
    uint32_t scratch;
    uint32_t doorbell_count;
    bool intx_level;
    uint8_t io_ram[TESTDEV_IO_SIZE];
    uint8_t *ram; /* TESTDEV_RAM_SIZE bytes once written; NULL reads as zeros */
};

static GQuark pci_testdev_error_quark(void)
{
    return g_quark_from_static_string("xendm-pci-testdev-error");
}
#define TESTDEV_ERROR pci_testdev_error_quark()

/* True when [offset, offset + size) lies in a window of `len` bytes. */
static bool testdev_range_ok(uint64_t offset, unsigned size, uint64_t len)
{
    return size >= 1 && size <= 8 && offset < len && size <= len - offset;
}

static uint64_t bytes_load(const uint8_t *base, uint64_t offset, unsigned size)
{
    uint64_t value = 0;

    for (unsigned i = 0; i < size; i++) {
        value |= (uint64_t)base[offset + i] << (8 * i);
    }
    return value;
}

static void bytes_store(uint8_t *base, uint64_t offset, uint64_t value, unsigned size)
{
    for (unsigned i = 0; i < size; i++) {
        base[offset + i] = (uint8_t)(value >> (8 * i));
    }
}

/* ---- BAR0: registers ---- */

static void testdev_set_intx(struct pci_testdev *t, bool level)
{
    if (t->intx_level == level) {
        return;
    }
    t->intx_level = level;
    TRACE(pci_testdev_intx, "level=%d", level);
    pci_set_irq(t->pci, level);
}

static void testdev_msi_doorbell(struct pci_testdev *t, uint32_t vector)
{
    t->doorbell_count++;
    if (vector >= t->msi_vectors) {
        log_guest_error("xendm-testdev: MSI doorbell for vector %" PRIu32 " (device has %u)",
                        vector, t->msi_vectors);
        return;
    }
    TRACE(pci_testdev_msi, "vector=%" PRIu32, vector);
    pci_msi_notify(t->pci, vector);
}

static void testdev_msix_doorbell(struct pci_testdev *t, uint32_t vector)
{
    t->doorbell_count++;
    if (vector >= t->msix_vectors) {
        log_guest_error("xendm-testdev: MSI-X doorbell for entry %" PRIu32 " (device has %u)",
                        vector, t->msix_vectors);
        return;
    }
    TRACE(pci_testdev_msix, "entry=%" PRIu32, vector);
    pci_msix_notify(t->pci, vector);
}

static uint64_t testdev_reg_read(void *opaque, uint64_t offset, unsigned size)
{
    struct pci_testdev *t = opaque;

    if (size != 4 || (offset & 3) || offset >= TESTDEV_REG_SIZE) {
        log_guest_error("xendm-testdev: register read of %u bytes at 0x%" PRIx64, size, offset);
        return all_ones(size);
    }
    switch (offset) {
    case REG_MAGIC:
        return TESTDEV_MAGIC;
    case REG_SCRATCH:
        return t->scratch;
    case REG_INTX:
        return t->intx_level;
    case REG_DOORBELL_COUNT:
        return t->doorbell_count;
    default:
        return 0; /* the doorbells are write-only; the rest of the page is reserved */
    }
}

static void testdev_reg_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct pci_testdev *t = opaque;

    if (size != 4 || (offset & 3) || offset >= TESTDEV_REG_SIZE) {
        log_guest_error("xendm-testdev: register write of %u bytes at 0x%" PRIx64, size,
                        offset);
        return;
    }
    switch (offset) {
    case REG_SCRATCH:
        t->scratch = (uint32_t)value;
        break;
    case REG_INTX:
        testdev_set_intx(t, (value & 1) != 0);
        break;
    case REG_MSI_DOORBELL:
        testdev_msi_doorbell(t, (uint32_t)value);
        break;
    case REG_MSIX_DOORBELL:
        testdev_msix_doorbell(t, (uint32_t)value);
        break;
    default:
        break; /* read-only or reserved: ignored, as hardware would */
    }
}

static const struct region_ops testdev_reg_ops = {
    .read = testdev_reg_read,
    .write = testdev_reg_write,
    .min_access = 4,
    .max_access = 4,
};

/* ---- BAR1: 256 bytes of I/O scratch ---- */

static uint64_t testdev_io_read(void *opaque, uint64_t offset, unsigned size)
{
    struct pci_testdev *t = opaque;

    if (!testdev_range_ok(offset, size, TESTDEV_IO_SIZE)) {
        log_guest_error("xendm-testdev: I/O read of %u bytes at 0x%" PRIx64, size, offset);
        return all_ones(size);
    }
    return bytes_load(t->io_ram, offset, size);
}

static void testdev_io_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct pci_testdev *t = opaque;

    if (!testdev_range_ok(offset, size, TESTDEV_IO_SIZE)) {
        log_guest_error("xendm-testdev: I/O write of %u bytes at 0x%" PRIx64, size, offset);
        return;
    }
    bytes_store(t->io_ram, offset, value, size);
}

static const struct region_ops testdev_io_ops = {
    .read = testdev_io_read,
    .write = testdev_io_write,
    .min_access = 1,
    .max_access = 4,
};

/* ---- BAR2: 1 MiB of memory scratch behind a 64-bit prefetchable BAR ---- */

static uint64_t testdev_ram_read(void *opaque, uint64_t offset, unsigned size)
{
    struct pci_testdev *t = opaque;

    if (!testdev_range_ok(offset, size, TESTDEV_RAM_SIZE)) {
        log_guest_error("xendm-testdev: RAM BAR read of %u bytes at 0x%" PRIx64, size, offset);
        return all_ones(size);
    }
    return t->ram ? bytes_load(t->ram, offset, size) : 0;
}

static void testdev_ram_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct pci_testdev *t = opaque;

    if (!testdev_range_ok(offset, size, TESTDEV_RAM_SIZE)) {
        log_guest_error("xendm-testdev: RAM BAR write of %u bytes at 0x%" PRIx64, size,
                        offset);
        return;
    }
    if (!t->ram) {
        if ((value & all_ones(size)) == 0) {
            return; /* zeros onto zeros: nothing to store yet */
        }
        t->ram = g_malloc0(TESTDEV_RAM_SIZE);
    }
    bytes_store(t->ram, offset, value, size);
}

static const struct region_ops testdev_ram_ops = {
    .read = testdev_ram_read,
    .write = testdev_ram_write,
    .min_access = 1,
    .max_access = 8,
};

/* ---- life cycle ---- */

/* Power-on state of what the device itself owns; the core resets config space and BARs. */
static void testdev_reset_state(struct pci_testdev *t)
{
    t->scratch = 0;
    t->doorbell_count = 0;
    testdev_set_intx(t, false);
    memset(t->io_ram, 0, sizeof(t->io_ram));
    g_free(t->ram);
    t->ram = NULL;
}

static void testdev_pci_reset(struct pci_device *d, void *opaque)
{
    testdev_reset_state(opaque);
}

static const struct pci_device_ops testdev_pci_ops = {
    .reset = testdev_pci_reset,
};

static void pci_testdev_reset(void *dev)
{
    testdev_reset_state(dev);
}

static void pci_testdev_destroy(void *dev)
{
    struct pci_testdev *t = dev;

    if (!t) {
        return;
    }
    if (t->pci) {
        pci_device_remove(t->pci);
    }
    g_free(t->ram);
    g_free(t);
}

static bool is_power_of_two(uint64_t v)
{
    return v && !(v & (v - 1));
}

static bool testdev_parse_props(struct pci_testdev *t, struct kv_list *props, int *devfn,
                                GError **err)
{
    uint64_t msix, msi;

    if (!pci_devfn_from_props(props, devfn, err) ||
        !kv_get_u64(props, "msix-vectors", TESTDEV_DEFAULT_MSIX_VECTORS, false, &msix, err) ||
        !kv_get_u64(props, "msi-vectors", TESTDEV_DEFAULT_MSI_VECTORS, false, &msi, err)) {
        return false;
    }
    if (msix > TESTDEV_MAX_MSIX_VECTORS) {
        g_set_error(err, TESTDEV_ERROR, 0, "msix-vectors=%" PRIu64 ": at most %u", msix,
                    TESTDEV_MAX_MSIX_VECTORS);
        return false;
    }
    if (msi && (msi > TESTDEV_MAX_MSI_VECTORS || !is_power_of_two(msi))) {
        g_set_error(err, TESTDEV_ERROR, 0,
                    "msi-vectors=%" PRIu64 ": 0 or a power of two up to %u", msi,
                    TESTDEV_MAX_MSI_VECTORS);
        return false;
    }
    t->msix_vectors = (unsigned)msix;
    t->msi_vectors = (unsigned)msi;
    return true;
}

static bool testdev_setup_function(struct pci_testdev *t, GError **err)
{
    if (pci_register_bar(t->pci, TESTDEV_REG_BAR, PCI_BAR_MEM32, TESTDEV_REG_SIZE,
                         &testdev_reg_ops, t) < 0 ||
        pci_register_bar(t->pci, TESTDEV_IO_BAR, PCI_BAR_IO, TESTDEV_IO_SIZE, &testdev_io_ops,
                         t) < 0 ||
        pci_register_bar(t->pci, TESTDEV_RAM_BAR, PCI_BAR_MEM64 | PCI_BAR_PREFETCH,
                         TESTDEV_RAM_SIZE, &testdev_ram_ops, t) < 0) {
        g_set_error(err, TESTDEV_ERROR, 0, "xendm-testdev: the PCI core refused a BAR");
        return false;
    }
    if (t->msi_vectors && pci_msi_init(t->pci, t->msi_vectors, true, true) < 0) {
        g_set_error(err, TESTDEV_ERROR, 0, "xendm-testdev: no room for the MSI capability");
        return false;
    }
    if (t->msix_vectors &&
        pci_msix_init_exclusive_bar(t->pci, t->msix_vectors, TESTDEV_MSIX_BAR) < 0) {
        g_set_error(err, TESTDEV_ERROR, 0, "xendm-testdev: MSI-X setup failed");
        return false;
    }
    return true;
}

static void *pci_testdev_create(struct machine *m, struct kv_list *props, GError **err)
{
    static const struct pci_device_id id = {
        .vendor_id = TESTDEV_VENDOR_ID,
        .device_id = TESTDEV_DEVICE_ID,
        .class_code = TESTDEV_CLASS,
        .subsystem_vendor_id = TESTDEV_VENDOR_ID,
        .subsystem_id = TESTDEV_DEVICE_ID,
        .interrupt_pin = 1, /* INTA */
    };
    struct pci_testdev *t = g_new0(struct pci_testdev, 1);
    struct pci_bus *bus = machine_pci_bus(m);
    int devfn;

    t->machine = m;
    if (!bus) {
        g_set_error(err, TESTDEV_ERROR, 0, "xendm-testdev: this machine has no PCI bus");
        goto fail;
    }
    if (!testdev_parse_props(t, props, &devfn, err)) {
        goto fail;
    }
    t->pci = pci_device_add(bus, devfn, "xendm-testdev", &id, &testdev_pci_ops, t, err);
    if (!t->pci || !testdev_setup_function(t, err)) {
        goto fail;
    }
    return t;

fail:
    pci_testdev_destroy(t);
    return NULL;
}

/* Saved: the registers and the I/O BAR's bytes (the memory BAR's RAM is a test fixture and
 * starts over as zeros). The INTx level is the PCI core's. */
static const struct vmstate_field pci_testdev_fields[] = {
    VMSTATE_U32(struct pci_testdev, scratch),
    VMSTATE_U32(struct pci_testdev, doorbell_count),
    VMSTATE_BOOL(struct pci_testdev, intx_level),
    VMSTATE_U8_ARRAY(struct pci_testdev, io_ram, TESTDEV_IO_SIZE),
    VMSTATE_END,
};

static const struct vmstate_desc pci_testdev_vmstate = {
    .name = "xendm-testdev",
    .version = 1,
    .fields = pci_testdev_fields,
};

static const struct device_type pci_testdev_type = {
    .name = "xendm-testdev",
    .description = "PCI test function: register, I/O and 64-bit BARs, INTx, MSI, MSI-X",
    .user_creatable = true,
    .create = pci_testdev_create,
    .reset = pci_testdev_reset,
    .destroy = pci_testdev_destroy,
    .vmstate = &pci_testdev_vmstate,
};
DEVICE_TYPE_REGISTER(pci_testdev_type);
