/*
 * "i440fx": the 82441FX PCI and Memory Controller (PMC) as the host bridge of bus 0.
 *
 * It creates the machine's PCI bus, sits at 00:00.0 as 8086:1237 (what hvmloader looks
 * for), and serves PCI configuration mechanism #1 on ports 0xCF8-0xCFF:
 *   0xCF8  CONFADD, a dword latch: bit 31 enable, bus 23:16, devfn 15:8, register 7:2;
 *          only dword accesses reach it (82441FX datasheet, CONFADD); a byte at 0xCF9 is
 *          PIIX3's Reset Control Register, handed on (include/xendm/pc-chipset.h);
 *   0xCFC  CONFDATA: 1-, 2- or 4-byte accesses at register (CONFADD & 0xFC) | (port & 3)
 *          of the function the latch names; only bus 0 is populated.
 * Under Xen the hypervisor itself turns 0xCFC accesses to the SBDFs we claimed into
 * PCI_CONFIG ioreqs (reference §1.5); what arrives here as plain port I/O is the rest.
 *
 * The PAM and SMRAM registers are writable as the datasheet says and otherwise inert:
 * guest memory, shadowing included, belongs to Xen.
 */
#include <glib.h>
#include <inttypes.h>

#include "xendm/common.h"
#include "xendm/keyval.h"
#include "xendm/log.h"
#include "xendm/machine.h"
#include "xendm/memory.h"
#include "xendm/pc-chipset.h"
#include "xendm/pci.h"
#include "xendm/trace.h"

#define CONF_ADDR_PORT 0xcf8
#define CONF_DATA_PORT 0xcfc
#define CONF_PORT_LEN 4
#define CF9_OFFSET 1 /* 0xCF9 inside the CONFADD window */

/* CONFADD: bit 31 enable; bits 30:24 and 1:0 are reserved and read 0. */
#define CONFADD_ENABLE 0x80000000u
#define CONFADD_MASK 0x80fffffcu
#define CONFADD_BUS(v) (((v) >> 16) & 0xffu)
#define CONFADD_DEVFN(v) (((v) >> 8) & 0xffu)
#define CONFADD_REG(v) ((v) & 0xfcu)

/* Device-specific configuration registers (82441FX datasheet). */
#define I440FX_PAM0 0x59 /* bits 5:4: BIOS area 0xF0000-0xFFFFF */
#define I440FX_PAM_LAST 0x5f
#define I440FX_PAM0_WMASK 0x30
#define I440FX_PAM_WMASK 0x33 /* two 16 KiB segments per register: bits 1:0 and 5:4 */
#define I440FX_SMRAM 0x72
#define SMRAM_D_OPEN 0x40
#define SMRAM_D_CLS 0x20
#define SMRAM_D_LCK 0x10
#define SMRAM_G_SMRAME 0x08
#define SMRAM_C_BASE_SEG 0x02 /* bits 2:0 hardwired 010: SMRAM at 0xA0000 */
#define SMRAM_WMASK (SMRAM_D_OPEN | SMRAM_D_CLS | SMRAM_D_LCK | SMRAM_G_SMRAME)
/*
 * The datasheet's PCISTS reset value is 0x0280, but qemu-xen's i440FX reads 0 and guests
 * installed under it saw 0 (tests/qtest/test-pci-compare.c holds the two side by side).
 */
#define I440FX_STATUS_RESET 0x0000
/*
 * 0x57: guest RAM in 8 MiB units, at most 255. Not an 82441FX register (DRAMC's place):
 * QEMU's i440FX reports it for coreboot, and qemu-xen's guests see it. Read-only.
 */
#define I440FX_RAM_SIZE_8M 0x57
#define RAM_SIZE_UNIT_SHIFT 23
#define RAM_SIZE_UNITS_MAX 255u

struct i440fx {
    struct machine *machine;
    struct pci_bus *bus;
    struct pci_device *dev;
    struct region *conf_addr;
    struct region *conf_data;
    uint32_t confadd;
    const struct region_ops *cf9_ops;
    void *cf9_opaque;
};

static GQuark i440fx_error_quark(void)
{
    return g_quark_from_static_string("xendm-i440fx-error");
}

void i440fx_attach_cf9(struct i440fx *host, const struct region_ops *ops, void *opaque)
{
    host->cf9_ops = ops;
    host->cf9_opaque = ops != NULL ? opaque : NULL;
}

/* ---- CONFADD (0xCF8-0xCFB) ---- */

static uint64_t conf_addr_read(void *opaque, uint64_t offset, unsigned size)
{
    struct i440fx *h = opaque;

    if (offset == 0 && size == 4) {
        return h->confadd;
    }
    if (offset == CF9_OFFSET && size == 1 && h->cf9_ops != NULL && h->cf9_ops->read != NULL) {
        return h->cf9_ops->read(h->cf9_opaque, 0, 1);
    }
    /* Not a configuration cycle and nobody else decodes it on PCI. */
    return all_ones(size);
}

static void conf_addr_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct i440fx *h = opaque;

    if (offset == 0 && size == 4) {
        h->confadd = (uint32_t)value & CONFADD_MASK;
        TRACE(i440fx_confadd, "0x%08" PRIx32, h->confadd);
        return;
    }
    if (offset == CF9_OFFSET && size == 1 && h->cf9_ops != NULL && h->cf9_ops->write != NULL) {
        h->cf9_ops->write(h->cf9_opaque, 0, value & 0xff, 1);
        return;
    }
    log_guest_error("i440fx: %u-byte write of 0x%" PRIx64 " to port 0x%" PRIx64 " ignored",
                    size, value, CONF_ADDR_PORT + offset);
}

static const struct region_ops conf_addr_ops = {
    .read = conf_addr_read,
    .write = conf_addr_write,
    .min_access = 1,
    .max_access = 4,
};

/* ---- CONFDATA (0xCFC-0xCFF) ---- */

/* The function and register an access at CONFDATA + offset names; false: no cycle. */
static bool conf_data_target(const struct i440fx *h, uint64_t offset, unsigned *devfn,
                             uint32_t *reg)
{
    if (!(h->confadd & CONFADD_ENABLE) || CONFADD_BUS(h->confadd) != 0) {
        return false; /* no configuration cycle, or a bus nothing sits on */
    }
    *devfn = CONFADD_DEVFN(h->confadd);
    *reg = CONFADD_REG(h->confadd) | (uint32_t)(offset & 3);
    return true;
}

static uint64_t conf_data_read(void *opaque, uint64_t offset, unsigned size)
{
    struct i440fx *h = opaque;
    unsigned devfn;
    uint32_t reg;

    if (!conf_data_target(h, offset, &devfn, &reg)) {
        return all_ones(size);
    }
    return pci_bus_config_read(h->bus, devfn, reg, size);
}

static void conf_data_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct i440fx *h = opaque;
    unsigned devfn;
    uint32_t reg;

    if (!conf_data_target(h, offset, &devfn, &reg)) {
        return;
    }
    pci_bus_config_write(h->bus, devfn, reg, (uint32_t)value, size);
}

static const struct region_ops conf_data_ops = {
    .read = conf_data_read,
    .write = conf_data_write,
    .min_access = 1,
    .max_access = 4,
};

/* ---- the 00:00.0 function ---- */

static void i440fx_config_init(struct pci_device *d)
{
    uint64_t ram_units = pci_device_machine(d)->ram_size >> RAM_SIZE_UNIT_SHIFT;

    pci_set_word(d, PCI_STATUS, I440FX_STATUS_RESET);
    pci_set_byte(d, I440FX_RAM_SIZE_8M,
                 (uint8_t)(ram_units > RAM_SIZE_UNITS_MAX ? RAM_SIZE_UNITS_MAX : ram_units));
    pci_set_byte(d, I440FX_PAM0, 0);
    pci_set_wmask(d, I440FX_PAM0, I440FX_PAM0_WMASK, 1);
    for (uint32_t reg = I440FX_PAM0 + 1; reg <= I440FX_PAM_LAST; reg++) {
        pci_set_byte(d, reg, 0);
        pci_set_wmask(d, reg, I440FX_PAM_WMASK, 1);
    }
    pci_set_byte(d, I440FX_SMRAM, SMRAM_C_BASE_SEG);
    pci_set_wmask(d, I440FX_SMRAM, SMRAM_WMASK, 1);
}

/*
 * SMRAM.D_LCK: once set, D_OPEN is cleared and D_LCK, D_OPEN and G_SMRAME turn read-only
 * until reset (82441FX datasheet, SMRAM register). D_CLS stays writable.
 */
static void i440fx_config_write(struct pci_device *d, void *opaque, uint32_t offset,
                                uint32_t value, unsigned size)
{
    uint8_t smram;

    if (offset > I440FX_SMRAM || offset + size <= I440FX_SMRAM) {
        return;
    }
    smram = pci_get_byte(d, I440FX_SMRAM);
    if (smram & SMRAM_D_LCK) {
        pci_set_byte(d, I440FX_SMRAM, smram & ~SMRAM_D_OPEN);
        pci_set_wmask(d, I440FX_SMRAM, SMRAM_D_CLS, 1);
    }
}

static void i440fx_function_reset(struct pci_device *d, void *opaque)
{
    i440fx_config_init(d);
}

static const struct pci_device_ops i440fx_pci_ops = {
    .config_write = i440fx_config_write,
    .reset = i440fx_function_reset,
};

static const struct pci_device_id i440fx_id = {
    .vendor_id = 0x8086,
    .device_id = 0x1237,
    .revision = 0x02,
    .class_code = 0x060000, /* bridge, host */
};

/* ---- life cycle ---- */

static void i440fx_reset(void *dev)
{
    struct i440fx *h = dev;

    h->confadd = 0;
    /* Every function on the bus, then their own reset hooks (ours included). */
    pci_bus_reset(h->bus);
}

static void i440fx_destroy(void *dev)
{
    struct i440fx *h = dev;

    if (h == NULL) {
        return;
    }
    region_del(h->conf_data);
    region_del(h->conf_addr);
    if (h->dev != NULL) {
        pci_device_remove(h->dev);
    }
    if (h->bus != NULL) {
        pci_bus_free(h->bus);
    }
    g_free(h);
}

static bool i440fx_add_ports(struct i440fx *h, GError **err)
{
    h->conf_addr = machine_add_io(h->machine, "pci-conf-addr", CONF_ADDR_PORT, CONF_PORT_LEN,
                                  &conf_addr_ops, h);
    h->conf_data = machine_add_io(h->machine, "pci-conf-data", CONF_DATA_PORT, CONF_PORT_LEN,
                                  &conf_data_ops, h);
    if (h->conf_addr == NULL || h->conf_data == NULL) {
        g_set_error(err, i440fx_error_quark(), 0, "i440fx: ports 0xcf8-0xcff are in use");
        return false;
    }
    return true;
}

static void *i440fx_create(struct machine *m, struct kv_list *props, GError **err)
{
    struct i440fx *h;

    if (machine_pci_bus(m) != NULL) {
        g_set_error(err, i440fx_error_quark(), 0, "i440fx: the machine has a PCI host already");
        return NULL;
    }
    h = g_new0(struct i440fx, 1);
    h->machine = m;
    h->bus = pci_bus_new(m);
    if (h->bus == NULL) {
        g_set_error(err, i440fx_error_quark(), 0, "i440fx: cannot create the PCI bus");
        goto fail;
    }
    h->dev = pci_device_add(h->bus, I440FX_DEVFN, I440FX_TYPE_NAME, &i440fx_id,
                            &i440fx_pci_ops, h, err);
    if (h->dev == NULL) {
        goto fail;
    }
    i440fx_config_init(h->dev);
    if (!i440fx_add_ports(h, err)) {
        goto fail;
    }
    return h;

fail:
    i440fx_destroy(h);
    return NULL;
}

static const struct device_type i440fx_type = {
    .name = I440FX_TYPE_NAME,
    .description = "i440FX host bridge (00:00.0) and PCI configuration ports 0xCF8-0xCFF",
    .user_creatable = false,
    .create = i440fx_create,
    .reset = i440fx_reset,
    .destroy = i440fx_destroy,
};
DEVICE_TYPE_REGISTER(i440fx_type);
