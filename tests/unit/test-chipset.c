/*
 * Unit tests of the PC chipset and the Xen devices of the xenfv machine: "i440fx" (config
 * mechanism #1), "piix3" (PIRQ routes, reset control), "piix4-pm" (PM block, sleep, SCI,
 * GPE0, CPU bitmap), "xen-platform" (fixed ports, BARs, unplug) and "xen-pvdevice",
 * assembled by xenfv_assemble() into an in-process machine whose accelerator is a fake
 * that records what would have gone to Xen.
 */
#include <glib.h>
#include <string.h>
#include <unistd.h>

#include "stderr-capture.h"
#include "xendm/acpi.h"
#include "xendm/block.h"
#include "xendm/keyval.h"
#include "xendm/machine.h"
#include "xendm/options.h"
#include "xendm/pci.h"
#include "xendm/xenfv.h"

#define CONFADD 0xcf8
#define CONFDATA 0xcfc
#define RCR_PORT 0xcf9

#define DEVFN_HOST 0x00
#define DEVFN_PIIX3 0x08
#define DEVFN_PM 0x0b
#define DEVFN_PLATFORM 0x10 /* 00:02.0 */

#define PMBA 0xb000
#define PM1_STS (PMBA + 0)
#define PM1_EN (PMBA + 2)
#define PM1_CNT (PMBA + 4)
#define PM_TMR (PMBA + 8)
#define PWRBTN 0x0100
#define SLP_EN 0x2000
#define GPE0_STS 0xafe0
#define GPE0_EN 0xafe2
#define CPU_BITMAP 0xaf00

#define SCI 9
#define ROM_LOCK_GFN 0xc0
#define ROM_LOCK_PAGES 0x40

struct record {
    bool isa_level[MACHINE_ISA_IRQS];
    unsigned route_calls;
    unsigned route[4];
    unsigned shutdowns;
    enum shutdown_reason reason;
    unsigned sleep_state_calls;
    unsigned sleep_state;
    unsigned mem_type_calls;
    uint64_t mem_type_gfn;
    uint32_t mem_type_nr;
    bool mem_type_ro;
    bool refuse_mem_type;
    unsigned unplugs[UNPLUG_KIND_COUNT];
};

static void fake_set_isa_irq(void *opaque, unsigned irq, bool level)
{
    struct record *rec = opaque;

    rec->isa_level[irq] = level;
}

static void fake_set_pci_link_route(void *opaque, unsigned link, unsigned isa_irq)
{
    struct record *rec = opaque;

    g_assert_cmpuint(link, <, 4);
    rec->route_calls++;
    rec->route[link] = isa_irq;
}

static void fake_request_shutdown(void *opaque, enum shutdown_reason reason)
{
    struct record *rec = opaque;

    rec->shutdowns++;
    rec->reason = reason;
}

static void fake_set_acpi_sleep_state(void *opaque, unsigned state)
{
    struct record *rec = opaque;

    rec->sleep_state_calls++;
    rec->sleep_state = state;
}

static bool fake_set_mem_type(void *opaque, uint64_t first_gfn, uint32_t nr, bool read_only)
{
    struct record *rec = opaque;

    rec->mem_type_calls++;
    rec->mem_type_gfn = first_gfn;
    rec->mem_type_nr = nr;
    rec->mem_type_ro = read_only;
    return !rec->refuse_mem_type;
}

static const struct accel_ops fake_accel = {
    .set_isa_irq = fake_set_isa_irq,
    .set_pci_link_route = fake_set_pci_link_route,
    .request_shutdown = fake_request_shutdown,
    .set_acpi_sleep_state = fake_set_acpi_sleep_state,
    .set_mem_type = fake_set_mem_type,
};

/* What a test case builds: the machine type, -smp and -no-acpi. */
struct variant {
    const char *machine_type;
    unsigned smp_cpus;
    bool no_acpi;
};

static const struct variant xenfv_1cpu = {"xenfv", 0, false};
static const struct variant xenfv_9cpus = {"xenfv", 9, false};
static const struct variant pc_no_acpi = {"pc", 0, true};

struct fixture {
    struct machine *m;
    struct record rec;
};

static void fixture_setup(struct fixture *f, gconstpointer data)
{
    const struct variant *v = data;
    struct xendm_config *cfg = config_new();
    GError *err = NULL;

    memset(f, 0, sizeof(*f));
    cfg->machine_type = g_strdup(v->machine_type);
    cfg->smp_cpus = v->smp_cpus;
    cfg->no_acpi = v->no_acpi;
    f->m = machine_new();
    f->m->accel = &fake_accel;
    f->m->accel_opaque = &f->rec;
    g_assert_true(xenfv_assemble(f->m, cfg, &err));
    g_assert_no_error(err);
    config_free(cfg);
}

static void fixture_teardown(struct fixture *f, gconstpointer data)
{
    machine_free(f->m);
}

/* ---- port and config helpers ---- */

static uint32_t in(struct fixture *f, uint16_t port, unsigned size)
{
    return (uint32_t)address_space_read(f->m->io, port, size);
}

static void out(struct fixture *f, uint16_t port, uint32_t value, unsigned size)
{
    address_space_write(f->m->io, port, value, size);
}

static void latch(struct fixture *f, unsigned devfn, uint32_t reg)
{
    out(f, CONFADD, 0x80000000u | devfn << 8 | (reg & 0xfc), 4);
}

static uint32_t cfg_read(struct fixture *f, unsigned devfn, uint32_t reg, unsigned size)
{
    latch(f, devfn, reg);
    return in(f, CONFDATA + (reg & 3), size);
}

static void cfg_write(struct fixture *f, unsigned devfn, uint32_t reg, uint32_t v,
                      unsigned size)
{
    latch(f, devfn, reg);
    out(f, CONFDATA + (reg & 3), v, size);
}

/* hvmloader's programming of the PM function: PMBA 0xB001, PMREGMISC.PMIOSE, IRQ 9. */
static void enable_pm_block(struct fixture *f)
{
    cfg_write(f, DEVFN_PM, 0x40, PMBA | 1, 4);
    cfg_write(f, DEVFN_PM, 0x80, 0x01, 1);
    cfg_write(f, DEVFN_PM, 0x3c, SCI, 1);
}

/* ---- i440FX: configuration mechanism #1 ---- */

static void test_conf_latch(struct fixture *f, gconstpointer data)
{
    out(f, CONFADD, 0x80001234, 4);
    g_assert_cmphex(in(f, CONFADD, 4), ==, 0x80001234);
    /* Reserved bits 30:24 and 1:0 read 0. */
    out(f, CONFADD, 0xffffffff, 4);
    g_assert_cmphex(in(f, CONFADD, 4), ==, 0x80fffffc);
    /* Only dword accesses reach the latch. */
    g_assert_cmphex(in(f, CONFADD, 2), ==, 0xffff);
    out(f, CONFADD, 0x0000, 2);
    g_assert_cmphex(in(f, CONFADD, 4), ==, 0x80fffffc);
}

static void test_conf_data_widths(struct fixture *f, gconstpointer data)
{
    g_assert_cmphex(cfg_read(f, DEVFN_HOST, 0x00, 4), ==, 0x12378086);
    g_assert_cmphex(cfg_read(f, DEVFN_HOST, 0x02, 2), ==, 0x1237);
    g_assert_cmphex(cfg_read(f, DEVFN_HOST, 0x01, 1), ==, 0x80);
    g_assert_cmphex(cfg_read(f, DEVFN_HOST, 0x03, 1), ==, 0x12);
    /* A PAM register written by byte through 0xCFD, read back as part of a dword. */
    cfg_write(f, DEVFN_HOST, 0x59, 0xff, 1);
    g_assert_cmphex(cfg_read(f, DEVFN_HOST, 0x59, 1), ==, 0x30);
    cfg_write(f, DEVFN_HOST, 0x5a, 0xffff, 2);
    g_assert_cmphex(cfg_read(f, DEVFN_HOST, 0x58, 4), ==, 0x33333000);
}

static void test_conf_disabled_and_absent(struct fixture *f, gconstpointer data)
{
    out(f, CONFADD, 0x00000000, 4);
    g_assert_cmphex(in(f, CONFDATA, 4), ==, 0xffffffff);
    out(f, CONFADD, 0x00000000 | DEVFN_HOST << 8, 4); /* enable bit clear */
    g_assert_cmphex(in(f, CONFDATA, 2), ==, 0xffff);
    out(f, CONFADD, 0x80010000, 4); /* bus 1: nothing there */
    g_assert_cmphex(in(f, CONFDATA, 4), ==, 0xffffffff);
    g_assert_cmphex(cfg_read(f, PCI_DEVFN(5, 0), 0, 4), ==, 0xffffffff);
    /* A write to an absent function is dropped without harm. */
    cfg_write(f, PCI_DEVFN(5, 0), 0x04, 0x7, 2);
}

static void test_smram_lock(struct fixture *f, gconstpointer data)
{
    g_assert_cmphex(cfg_read(f, DEVFN_HOST, 0x72, 1), ==, 0x02);
    cfg_write(f, DEVFN_HOST, 0x72, 0x4a, 1); /* D_OPEN | G_SMRAME */
    g_assert_cmphex(cfg_read(f, DEVFN_HOST, 0x72, 1), ==, 0x4a);
    cfg_write(f, DEVFN_HOST, 0x72, 0x5a, 1); /* + D_LCK: D_OPEN clears */
    g_assert_cmphex(cfg_read(f, DEVFN_HOST, 0x72, 1), ==, 0x1a);
    cfg_write(f, DEVFN_HOST, 0x72, 0x62, 1); /* only D_CLS is writable now */
    g_assert_cmphex(cfg_read(f, DEVFN_HOST, 0x72, 1), ==, 0x3a);
    machine_reset(f->m);
    g_assert_cmphex(cfg_read(f, DEVFN_HOST, 0x72, 1), ==, 0x02);
}

/* ---- identities ---- */

static void test_ids(struct fixture *f, gconstpointer data)
{
    /* i440FX 00:00.0 */
    g_assert_cmphex(cfg_read(f, DEVFN_HOST, 0x08, 4), ==, 0x06000002);
    g_assert_cmphex(cfg_read(f, DEVFN_HOST, 0x0e, 1), ==, 0x00);
    /* PIIX3 00:01.0: multi-function */
    g_assert_cmphex(cfg_read(f, DEVFN_PIIX3, 0x00, 4), ==, 0x70008086);
    g_assert_cmphex(cfg_read(f, DEVFN_PIIX3, 0x08, 4) >> 8, ==, 0x060100);
    g_assert_cmphex(cfg_read(f, DEVFN_PIIX3, 0x0e, 1), ==, 0x80);
    /* PIIX4 PM 00:01.3 */
    g_assert_cmphex(cfg_read(f, DEVFN_PM, 0x00, 4), ==, 0x71138086);
    g_assert_cmphex(cfg_read(f, DEVFN_PM, 0x08, 4), ==, 0x06800003);
    g_assert_cmphex(cfg_read(f, DEVFN_PM, 0x3d, 1), ==, 0x01);
    g_assert_cmphex(cfg_read(f, DEVFN_PM, 0x40, 4), ==, 0x00000001);
    /* Xen platform device 00:02.0 (no display) */
    g_assert_cmphex(cfg_read(f, DEVFN_PLATFORM, 0x00, 4), ==, 0x00015853);
    g_assert_cmphex(cfg_read(f, DEVFN_PLATFORM, 0x08, 4), ==, 0xff800001);
    g_assert_cmphex(cfg_read(f, DEVFN_PLATFORM, 0x2c, 4), ==, 0x00015853);
    /* Command 0 after reset, as on qemu-xen: hvmloader enables it after placing the BARs. */
    g_assert_cmphex(cfg_read(f, DEVFN_PLATFORM, 0x04, 2), ==, 0x0000);
    g_assert_cmphex(cfg_read(f, DEVFN_PLATFORM, 0x3d, 1), ==, 0x01);
    /* Nothing else: 00:01.1 (IDE) is a later issue; 00:03.0 is free. */
    g_assert_cmphex(cfg_read(f, PCI_DEVFN(3, 0), 0x00, 4), ==, 0xffffffff);
}

static void test_pc_machine_no_acpi(struct fixture *f, gconstpointer data)
{
    g_assert_cmphex(cfg_read(f, DEVFN_PIIX3, 0x00, 4), ==, 0x70008086);
    /* -no-acpi: no PM function and none of its ports; "pc": no platform device. */
    g_assert_cmphex(cfg_read(f, DEVFN_PM, 0x00, 4), ==, 0xffffffff);
    g_assert_cmphex(cfg_read(f, DEVFN_PLATFORM, 0x00, 4), ==, 0xffffffff);
    g_assert_cmphex(in(f, CPU_BITMAP, 1), ==, 0xff);
    g_assert_cmphex(in(f, 0x10, 2), ==, 0xffff);
    g_assert_false(acpi_press_power_button(f->m));
    g_assert_false(acpi_cpu_plug(f->m, 1));
}

/* ---- PIIX3 ---- */

static void test_pirq_routes(struct fixture *f, gconstpointer data)
{
    g_assert_cmphex(cfg_read(f, DEVFN_PIIX3, 0x60, 4), ==, 0x80808080);
    g_assert_cmpuint(f->rec.route_calls, ==, 0);

    cfg_write(f, DEVFN_PIIX3, 0x60, 0x0b, 1);
    g_assert_cmpuint(f->rec.route_calls, ==, 1);
    g_assert_cmpuint(f->rec.route[0], ==, 11);
    cfg_write(f, DEVFN_PIIX3, 0x60, 0x7b, 1); /* reserved bits 6:4 drop: same route */
    g_assert_cmphex(cfg_read(f, DEVFN_PIIX3, 0x60, 1), ==, 0x0b);
    g_assert_cmpuint(f->rec.route_calls, ==, 1);
    cfg_write(f, DEVFN_PIIX3, 0x60, 0x85, 1); /* bit 7: disabled */
    g_assert_cmpuint(f->rec.route_calls, ==, 2);
    g_assert_cmpuint(f->rec.route[0], ==, 0);

    /* hvmloader's round robin over 5, 10, 11 in one dword: link A unchanged (off). */
    cfg_write(f, DEVFN_PIIX3, 0x60, 0x0a0b0580, 4);
    g_assert_cmpuint(f->rec.route_calls, ==, 5);
    g_assert_cmpuint(f->rec.route[1], ==, 5);
    g_assert_cmpuint(f->rec.route[2], ==, 11);
    g_assert_cmpuint(f->rec.route[3], ==, 10);

    /* Reset: registers back to 0x80, routes back to disabled. */
    machine_reset(f->m);
    g_assert_cmphex(cfg_read(f, DEVFN_PIIX3, 0x60, 4), ==, 0x80808080);
    g_assert_cmpuint(f->rec.route_calls, ==, 8);
    g_assert_cmpuint(f->rec.route[1] | f->rec.route[2] | f->rec.route[3], ==, 0);
}

static void test_piix3_registers(struct fixture *f, gconstpointer data)
{
    g_assert_cmphex(cfg_read(f, DEVFN_PIIX3, 0x4c, 1), ==, 0x4d);
    g_assert_cmphex(cfg_read(f, DEVFN_PIIX3, 0x4e, 2), ==, 0x0003);
    g_assert_cmphex(cfg_read(f, DEVFN_PIIX3, 0x69, 1), ==, 0x02);
    g_assert_cmphex(cfg_read(f, DEVFN_PIIX3, 0xa0, 1), ==, 0x08);
    cfg_write(f, DEVFN_PIIX3, 0x69, 0xf2, 1);
    g_assert_cmphex(cfg_read(f, DEVFN_PIIX3, 0x69, 1), ==, 0xf2);
    cfg_write(f, DEVFN_PIIX3, 0x80, 0x01, 1);
    g_assert_cmphex(cfg_read(f, DEVFN_PIIX3, 0x80, 1), ==, 0x01);
    /* IDs are read-only. */
    cfg_write(f, DEVFN_PIIX3, 0x00, 0xffffffff, 4);
    g_assert_cmphex(cfg_read(f, DEVFN_PIIX3, 0x00, 4), ==, 0x70008086);
}

static void test_reset_control(struct fixture *f, gconstpointer data)
{
    g_assert_cmphex(in(f, RCR_PORT, 1), ==, 0x00);
    out(f, RCR_PORT, 0x02, 1); /* hard reset selected, not started */
    g_assert_cmphex(in(f, RCR_PORT, 1), ==, 0x02);
    g_assert_cmpuint(f->rec.shutdowns, ==, 0);
    out(f, RCR_PORT, 0x06, 1);
    g_assert_cmpuint(f->rec.shutdowns, ==, 1);
    g_assert_cmpint(f->rec.reason, ==, SHUTDOWN_REBOOT);
    out(f, RCR_PORT, 0x04, 1); /* soft reset: the same on Xen */
    g_assert_cmpuint(f->rec.shutdowns, ==, 2);
    g_assert_cmpint(f->rec.reason, ==, SHUTDOWN_REBOOT);
    /* The latch beside it is untouched by byte accesses at 0xCF9. */
    out(f, CONFADD, 0x80000000, 4);
    out(f, RCR_PORT, 0x00, 1);
    g_assert_cmphex(in(f, CONFADD, 4), ==, 0x80000000);
}

/* ---- PIIX4 PM ---- */

static void test_pmba_mapping(struct fixture *f, gconstpointer data)
{
    g_assert_cmphex(in(f, PM1_CNT, 2), ==, 0xffff); /* not decoded yet */
    cfg_write(f, DEVFN_PM, 0x40, 0xffffffff, 4);
    g_assert_cmphex(cfg_read(f, DEVFN_PM, 0x40, 4), ==, 0x0000ffc1);
    cfg_write(f, DEVFN_PM, 0x40, PMBA | 1, 4);
    g_assert_cmphex(cfg_read(f, DEVFN_PM, 0x40, 4), ==, PMBA | 1);
    g_assert_cmphex(in(f, PM1_CNT, 2), ==, 0xffff); /* PMIOSE still clear */
    cfg_write(f, DEVFN_PM, 0x80, 0xff, 1);
    g_assert_cmphex(cfg_read(f, DEVFN_PM, 0x80, 1), ==, 0x01);
    g_assert_cmphex(in(f, PM1_CNT, 2), ==, 0x0000);
    /* Moving PMBA moves the block. */
    cfg_write(f, DEVFN_PM, 0x40, 0xc001, 4);
    g_assert_cmphex(in(f, PM1_CNT, 2), ==, 0xffff);
    g_assert_cmphex(in(f, 0xc004, 2), ==, 0x0000);
    cfg_write(f, DEVFN_PM, 0x80, 0x00, 1);
    g_assert_cmphex(in(f, 0xc004, 2), ==, 0xffff);
}

/* ---- PIIX4 SMBus (hw/i2c/piix4-smbus.c) ---- */

#define SMBBA 0xb100
#define SMB_STS (SMBBA + 0)
#define SMB_CNT (SMBBA + 2)
#define SMB_CMD (SMBBA + 3)
#define SMB_ADD (SMBBA + 4)
#define SMB_DAT0 (SMBBA + 5)
#define SMB_DAT1 (SMBBA + 6)
#define SMB_BLKDAT (SMBBA + 7)
#define SMB_STS_INTER 0x02
#define SMB_STS_DEV_ERR 0x04
#define SMB_BYTE_DATA 0x08
#define SMB_START 0x40
#define SMB_INTEREN 0x01

/* A byte-data transaction; returns SMBHSTSTS after it, cleared again. */
static uint8_t smbus_byte_data(struct fixture *f, uint8_t addr_rw, uint8_t cmd, uint8_t data,
                               uint8_t control)
{
    uint8_t status;

    out(f, SMB_ADD, addr_rw, 1);
    out(f, SMB_CMD, cmd, 1);
    out(f, SMB_DAT0, data, 1);
    out(f, SMB_CNT, SMB_START | SMB_BYTE_DATA | control, 1);
    status = (uint8_t)in(f, SMB_STS, 1);
    out(f, SMB_STS, 0xff, 1);
    return status;
}

/* SMBBA 0xB101 and SMBHSTCFG 0x09 as qemu-xen sets them; their masks; the block follows. */
static void test_smbus_placement(struct fixture *f, gconstpointer data)
{
    g_assert_cmphex(cfg_read(f, DEVFN_PM, 0x90, 4), ==, SMBBA | 1);
    g_assert_cmphex(cfg_read(f, DEVFN_PM, 0xd2, 1), ==, 0x09);
    g_assert_cmphex(in(f, SMB_STS, 1), ==, 0x00); /* decoded from the start */
    cfg_write(f, DEVFN_PM, 0x90, 0xffffffff, 4);
    g_assert_cmphex(cfg_read(f, DEVFN_PM, 0x90, 4), ==, 0x0000fff1);
    cfg_write(f, DEVFN_PM, 0xd2, 0xff, 1);
    g_assert_cmphex(cfg_read(f, DEVFN_PM, 0xd2, 1), ==, 0x0f);
    /* Moved to 0xC010 (bits 15:4); the old place reads all-ones. */
    cfg_write(f, DEVFN_PM, 0x90, 0xc011, 4);
    g_assert_cmphex(in(f, SMB_STS, 1), ==, 0xff);
    out(f, 0xc010 + 3, 0x5a, 1);
    g_assert_cmphex(in(f, 0xc010 + 3, 1), ==, 0x5a);
    /* Host enable clear: not decoded. */
    cfg_write(f, DEVFN_PM, 0xd2, 0x08, 1);
    g_assert_cmphex(in(f, 0xc010 + 3, 1), ==, 0xff);
    /* On the configuration ports: refused, and they keep working. */
    cfg_write(f, DEVFN_PM, 0xd2, 0x09, 1);
    cfg_write(f, DEVFN_PM, 0x90, 0x0cf1, 4);
    g_assert_cmphex(cfg_read(f, DEVFN_PM, 0x90, 4), ==, 0x0cf1);
    cfg_write(f, DEVFN_PM, 0x90, SMBBA | 1, 4);
    g_assert_cmphex(in(f, SMB_CMD, 1), ==, 0x5a);
    /* Base 0 counts as unprogrammed. */
    cfg_write(f, DEVFN_PM, 0x90, 0x0001, 4);
    g_assert_cmphex(in(f, 0x03, 1), !=, 0x5a);
}

static void test_smbus_eeprom(struct fixture *f, gconstpointer data)
{
    /* SPD byte 0 of the EEPROM at 0x50 is 0; nothing answers at 0x20. */
    g_assert_cmphex(smbus_byte_data(f, 0x50 << 1 | 1, 0, 0xee, 0), ==, SMB_STS_INTER);
    g_assert_cmphex(in(f, SMB_DAT0, 1), ==, 0x00);
    g_assert_cmphex(smbus_byte_data(f, 0x20 << 1 | 1, 0, 0, 0), ==, SMB_STS_DEV_ERR);
    /* Written bytes stay, per EEPROM. */
    g_assert_cmphex(smbus_byte_data(f, 0x57 << 1, 0xff, 0xa5, 0), ==, SMB_STS_INTER);
    g_assert_cmphex(smbus_byte_data(f, 0x57 << 1 | 1, 0xff, 0, 0), ==, SMB_STS_INTER);
    g_assert_cmphex(in(f, SMB_DAT0, 1), ==, 0xa5);
    g_assert_cmphex(smbus_byte_data(f, 0x56 << 1 | 1, 0xff, 0, 0), ==, SMB_STS_INTER);
    g_assert_cmphex(in(f, SMB_DAT0, 1), ==, 0x00);
    /* Word read across the end of the array wraps to byte 0. */
    out(f, SMB_ADD, 0x57 << 1 | 1, 1);
    out(f, SMB_CMD, 0xff, 1);
    out(f, SMB_CNT, SMB_START | 0x0c, 1);
    g_assert_cmphex(in(f, SMB_STS, 1), ==, SMB_STS_INTER);
    g_assert_cmphex(in(f, SMB_DAT0, 1), ==, 0xa5);
    g_assert_cmphex(in(f, SMB_DAT1, 1), ==, 0x00);
}

/* INTEREN with SMB_INTRSEL = IRQ 9: the line follows the status bits. */
static void test_smbus_interrupt(struct fixture *f, gconstpointer data)
{
    g_assert_false(f->rec.isa_level[SCI]);
    out(f, SMB_ADD, 0x50 << 1 | 1, 1);
    out(f, SMB_CNT, SMB_START | SMB_BYTE_DATA | SMB_INTEREN, 1);
    g_assert_true(f->rec.isa_level[SCI]);
    out(f, SMB_STS, SMB_STS_INTER, 1);
    g_assert_false(f->rec.isa_level[SCI]);
    /* An error interrupts too; SMB_INTRSEL = SMI (000b) keeps the line low. */
    out(f, SMB_ADD, 0x21 << 1 | 1, 1);
    out(f, SMB_CNT, SMB_START | SMB_BYTE_DATA | SMB_INTEREN, 1);
    g_assert_true(f->rec.isa_level[SCI]);
    cfg_write(f, DEVFN_PM, 0xd2, 0x01, 1);
    g_assert_false(f->rec.isa_level[SCI]);
    cfg_write(f, DEVFN_PM, 0xd2, 0x09, 1);
    g_assert_true(f->rec.isa_level[SCI]);
    /* START is ignored until the status is clear (82371AB §11.5.4.1). */
    out(f, SMB_ADD, 0x50 << 1 | 1, 1);
    out(f, SMB_CNT, SMB_START | SMB_BYTE_DATA | SMB_INTEREN, 1);
    g_assert_cmphex(in(f, SMB_STS, 1), ==, SMB_STS_DEV_ERR);
    out(f, SMB_CNT, 0, 1);
    g_assert_false(f->rec.isa_level[SCI]);
}

/* The EEPROMs and host registers go through the "piix4-smbus" section; reset zeroes them. */
static void test_smbus_state(struct fixture *f, gconstpointer data)
{
    GError *err = NULL;
    GBytes *saved;

    g_assert_cmphex(smbus_byte_data(f, 0x53 << 1, 0x10, 0x77, 0), ==, SMB_STS_INTER);
    in(f, SMB_CNT, 1); /* index 0 */
    out(f, SMB_BLKDAT, 0x11, 1);
    out(f, SMB_CMD, 0x42, 1);
    saved = machine_save_state(f->m);
    g_assert_cmphex(smbus_byte_data(f, 0x53 << 1, 0x10, 0x00, 0), ==, SMB_STS_INTER);
    out(f, SMB_CMD, 0x00, 1);
    g_assert_true(machine_load_state(f->m, g_bytes_get_data(saved, NULL),
                                     g_bytes_get_size(saved), &err));
    g_assert_no_error(err);
    g_assert_cmphex(in(f, SMB_CMD, 1), ==, 0x42);
    in(f, SMB_CNT, 1);
    g_assert_cmphex(in(f, SMB_BLKDAT, 1), ==, 0x11);
    g_assert_cmphex(smbus_byte_data(f, 0x53 << 1 | 1, 0x10, 0, 0), ==, SMB_STS_INTER);
    g_assert_cmphex(in(f, SMB_DAT0, 1), ==, 0x77);
    g_bytes_unref(saved);
    machine_reset(f->m);
    g_assert_cmphex(in(f, SMB_CMD, 1), ==, 0x00);
    g_assert_cmphex(smbus_byte_data(f, 0x53 << 1 | 1, 0x10, 0, 0), ==, SMB_STS_INTER);
    g_assert_cmphex(in(f, SMB_DAT0, 1), ==, 0x00);
}

/* A guest that points PMBA at the configuration ports gets no PM block, and keeps them. */
static void test_pmba_overlap(struct fixture *f, gconstpointer data)
{
    enable_pm_block(f);
    g_assert_cmphex(in(f, PM1_CNT, 2), ==, 0x0000);
    cfg_write(f, DEVFN_PM, 0x40, 0x0cc1, 4); /* 0xCC0-0xCFF covers 0xCF8-0xCFF */
    g_assert_cmphex(in(f, PM1_CNT, 2), ==, 0xffff);
    g_assert_cmphex(cfg_read(f, DEVFN_PM, 0x40, 4), ==, 0x0cc1);
    g_assert_cmphex(in(f, 0xcc4, 2), ==, 0xffff);
    cfg_write(f, DEVFN_PM, 0x40, PMBA | 1, 4); /* and back */
    g_assert_cmphex(in(f, PM1_CNT, 2), ==, 0x0000);
    /* Base 0 is treated as unprogrammed: nothing lands on ports 0x00-0x3F. */
    cfg_write(f, DEVFN_PM, 0x40, 0x0001, 4);
    g_assert_cmphex(in(f, 0x04, 2), ==, 0xffff);
}

static void test_sleep_states(struct fixture *f, gconstpointer data)
{
    enable_pm_block(f);
    out(f, PM1_CNT, 0x0001, 2); /* SCI_EN */
    g_assert_cmphex(in(f, PM1_CNT, 2), ==, 0x0001);
    g_assert_cmpuint(f->rec.shutdowns, ==, 0);
    out(f, PM1_CNT, 0x0001 | (5 << 10) | SLP_EN, 2); /* a type the DSDT does not use */
    g_assert_cmpuint(f->rec.shutdowns, ==, 0);
    /* _S3: not a shutdown; Xen parks the vCPUs, CMOS 0x0F says "resume", as on qemu-xen. */
    out(f, PM1_CNT, 0x0001 | (1 << 10) | SLP_EN, 2);
    g_assert_cmpuint(f->rec.shutdowns, ==, 0);
    g_assert_cmpuint(f->rec.sleep_state_calls, ==, 1);
    g_assert_cmpuint(f->rec.sleep_state, ==, 3);
    g_assert_true(f->m->suspended);
    out(f, 0x70, 0x0f, 1);
    g_assert_cmphex(in(f, 0x71, 1), ==, 0xfe);
    g_assert_cmphex(in(f, PM1_CNT, 2), ==, 0x0401); /* SLP_EN reads 0 */
    /* Woken (QMP system_wakeup): devices reset, vCPUs run. */
    g_assert_true(machine_wakeup(f->m));
    g_assert_false(machine_wakeup(f->m));
    g_assert_cmpuint(f->rec.sleep_state, ==, 0);
    g_assert_false(f->m->suspended);
    enable_pm_block(f);
    out(f, PM1_CNT, 0x0001 | (0 << 10) | SLP_EN, 2); /* _S5 */
    g_assert_cmpuint(f->rec.shutdowns, ==, 1);
    g_assert_cmpint(f->rec.reason, ==, SHUTDOWN_POWEROFF);
}

static void test_power_button(struct fixture *f, gconstpointer data)
{
    enable_pm_block(f);
    g_assert_true(acpi_press_power_button(f->m));
    g_assert_cmphex(in(f, PM1_STS, 2) & PWRBTN, ==, PWRBTN);
    g_assert_false(f->rec.isa_level[SCI]); /* not enabled */
    out(f, PM1_EN, PWRBTN, 2);
    g_assert_cmphex(in(f, PM1_EN, 2), ==, PWRBTN);
    g_assert_true(f->rec.isa_level[SCI]);
    out(f, PM1_STS, PWRBTN, 2); /* write 1 to clear */
    g_assert_cmphex(in(f, PM1_STS, 2) & PWRBTN, ==, 0);
    g_assert_false(f->rec.isa_level[SCI]);
}

static void test_gpe0(struct fixture *f, gconstpointer data)
{
    out(f, GPE0_STS, 0xffff, 2); /* the guest cannot set status bits */
    g_assert_cmphex(in(f, GPE0_STS, 2), ==, 0);
    /* A vCPU plugged is what raises a GPE today (bit 2, hvmloader's CPU hotplug method). */
    g_assert_true(acpi_cpu_plug(f->m, 1));
    g_assert_cmphex(in(f, GPE0_STS, 4), ==, 0x00000004);
    g_assert_false(f->rec.isa_level[SCI]);
    out(f, GPE0_EN, 0x0004, 2);
    g_assert_cmphex(in(f, GPE0_EN, 2), ==, 0x0004);
    g_assert_true(f->rec.isa_level[SCI]);
    out(f, GPE0_STS, 0x0001, 1); /* another bit: no effect */
    g_assert_true(f->rec.isa_level[SCI]);
    out(f, GPE0_STS, 0x0004, 1);
    g_assert_cmphex(in(f, GPE0_STS, 2), ==, 0);
    g_assert_false(f->rec.isa_level[SCI]);
}

static void test_cpu_bitmap_one(struct fixture *f, gconstpointer data)
{
    g_assert_cmphex(in(f, CPU_BITMAP, 4), ==, 0x00000001);
    g_assert_cmphex(in(f, CPU_BITMAP + 31, 1), ==, 0x00);
}

static void test_cpu_bitmap_nine(struct fixture *f, gconstpointer data)
{
    g_assert_cmphex(in(f, CPU_BITMAP, 4), ==, 0x000001ff);
    g_assert_cmphex(in(f, CPU_BITMAP + 1, 1), ==, 0x01);
    out(f, CPU_BITMAP, 0, 4); /* read-only */
    g_assert_cmphex(in(f, CPU_BITMAP, 2), ==, 0x01ff);
}

static void test_pm_timer_and_hotplug(struct fixture *f, gconstpointer data)
{
    uint32_t t1, t2;

    enable_pm_block(f);
    t1 = in(f, PM_TMR, 4);
    g_usleep(2000);
    t2 = in(f, PM_TMR, 4);
    g_assert_cmphex(t1 & 0xff000000u, ==, 0);
    g_assert_cmphex(t2 & 0xff000000u, ==, 0);
    g_assert_cmpuint((t2 - t1) & 0xffffff, >=, 7000); /* 2 ms at 3.58 MHz is ~7159 ticks */
    g_assert_cmphex(in(f, 0xae00, 4), ==, 0);
    g_assert_cmphex(in(f, 0xae04, 4), ==, 0);
    out(f, 0xae08, 0x8, 4); /* eject: logged, ignored */
    g_assert_cmphex(in(f, 0xae08, 4), ==, 0);
}

/* ---- Xen platform device ---- */

static void test_platform_fixed_ports(struct fixture *f, gconstpointer data)
{
    g_assert_cmphex(in(f, 0x10, 2), ==, 0x49d2);
    g_assert_cmphex(in(f, 0x12, 1), ==, 0x01);
    g_assert_cmphex(in(f, 0x10, 1), ==, 0x00);
    g_assert_cmphex(in(f, 0x10, 4), ==, 0xffffffff);
    /* Product and build numbers are accepted. */
    out(f, 0x12, 0x0003, 2);
    out(f, 0x10, 0x12345678, 4);
    g_assert_cmpuint(f->rec.mem_type_calls, ==, 0);
}

static void test_platform_rom_lock(struct fixture *f, gconstpointer data)
{
    out(f, 0x10, 0x01, 1);
    g_assert_cmpuint(f->rec.mem_type_calls, ==, 1);
    g_assert_cmphex(f->rec.mem_type_gfn, ==, ROM_LOCK_GFN);
    g_assert_cmphex(f->rec.mem_type_nr, ==, ROM_LOCK_PAGES);
    g_assert_true(f->rec.mem_type_ro);
    g_assert_cmphex(in(f, 0x10, 1), ==, 0x01);
    out(f, 0x10, 0x00, 1);
    g_assert_false(f->rec.mem_type_ro);
    g_assert_cmphex(in(f, 0x10, 1), ==, 0x00);
    /* When Xen refuses, the flag keeps saying what is true. */
    f->rec.refuse_mem_type = true;
    out(f, 0x10, 0x01, 1);
    g_assert_cmphex(in(f, 0x10, 1), ==, 0x00);
    f->rec.refuse_mem_type = false;
    /* A locked ROM is unlocked by reset. */
    out(f, 0x10, 0x01, 1);
    machine_reset(f->m);
    g_assert_false(f->rec.mem_type_ro);
    g_assert_cmphex(in(f, 0x10, 1), ==, 0x00);
}

static void write_log_line(void *arg)
{
    struct fixture *f = arg;
    const char *text = "PV drivers\x01 up\n";

    for (const char *c = text; *c != '\0'; c++) {
        out(f, 0x12, (uint8_t)*c, 1);
    }
    for (unsigned i = 0; i < 300; i++) { /* no newline: flushed when the buffer is full */
        out(f, 0x12, 'x', 1);
    }
}

static void test_platform_log(struct fixture *f, gconstpointer data)
{
    char *printed = capture_stderr(write_log_line, f);

    g_assert_nonnull(strstr(printed, "guest: PV drivers? up\n"));
    g_assert_cmpuint(count_occurrences(printed, "xen-platform: guest:"), ==, 2);
    g_free(printed);
}

static void fake_unplug(void *opaque, unsigned kind)
{
    struct record *rec = opaque;

    g_assert_cmpuint(kind, <, UNPLUG_KIND_COUNT);
    rec->unplugs[kind]++;
}

static void test_platform_unplug_mask(struct fixture *f, gconstpointer data)
{
    machine_register_unplug(f->m, UNPLUG_KIND_BIT(UNPLUG_IDE_DISK) |
                                      UNPLUG_KIND_BIT(UNPLUG_IDE_DISK_AUX) |
                                      UNPLUG_KIND_BIT(UNPLUG_NIC) |
                                      UNPLUG_KIND_BIT(UNPLUG_NVME),
                            fake_unplug, &f->rec);
    out(f, 0x10, 0x0001, 2);
    g_assert_cmpuint(f->rec.unplugs[UNPLUG_IDE_DISK], ==, 1);
    out(f, 0x10, 0x0004, 2);
    g_assert_cmpuint(f->rec.unplugs[UNPLUG_IDE_DISK_AUX], ==, 1);
    out(f, 0x10, 0x0005, 2); /* all disks include the auxiliary ones */
    g_assert_cmpuint(f->rec.unplugs[UNPLUG_IDE_DISK], ==, 2);
    g_assert_cmpuint(f->rec.unplugs[UNPLUG_IDE_DISK_AUX], ==, 1);
    out(f, 0x10, 0x000a, 2);
    g_assert_cmpuint(f->rec.unplugs[UNPLUG_NIC], ==, 1);
    g_assert_cmpuint(f->rec.unplugs[UNPLUG_NVME], ==, 1);
    machine_unregister_unplug(f->m, &f->rec);
    out(f, 0x10, 0x000f, 2);
    g_assert_cmpuint(f->rec.unplugs[UNPLUG_IDE_DISK] + f->rec.unplugs[UNPLUG_NIC], ==, 3);
}

static void test_platform_bars(struct fixture *f, gconstpointer data)
{
    machine_register_unplug(f->m, UNPLUG_KIND_BIT(UNPLUG_IDE_DISK) |
                                      UNPLUG_KIND_BIT(UNPLUG_NIC),
                            fake_unplug, &f->rec);
    /* Sizing: BAR0 256 bytes of I/O, BAR1 16 MiB prefetchable memory. */
    cfg_write(f, DEVFN_PLATFORM, 0x10, 0xffffffff, 4);
    g_assert_cmphex(cfg_read(f, DEVFN_PLATFORM, 0x10, 4) & 0xffff, ==, 0xff01);
    cfg_write(f, DEVFN_PLATFORM, 0x14, 0xffffffff, 4);
    g_assert_cmphex(cfg_read(f, DEVFN_PLATFORM, 0x14, 4), ==, 0xff000008);
    cfg_write(f, DEVFN_PLATFORM, 0x10, 0xc000, 4);
    cfg_write(f, DEVFN_PLATFORM, 0x14, 0xf1000000, 4);
    /* Nothing decodes until the command register enables it, as firmware then does. */
    g_assert_cmphex(in(f, 0xc000, 1), ==, 0xff);
    cfg_write(f, DEVFN_PLATFORM, 0x04, PCI_COMMAND_IO | PCI_COMMAND_MEMORY, 2);

    g_assert_cmphex(in(f, 0xc000, 1), ==, 0x00);
    g_assert_cmphex(in(f, 0xc001, 1), ==, 0xff);
    out(f, 0xc000, 0x01, 1); /* flags, as at port 0x10 */
    g_assert_true(f->rec.mem_type_ro);
    g_assert_cmphex(in(f, 0x10, 1), ==, 0x01);
    out(f, 0xc004, 0x01, 1);
    g_assert_cmpuint(f->rec.unplugs[UNPLUG_IDE_DISK], ==, 1);
    g_assert_cmpuint(f->rec.unplugs[UNPLUG_NIC], ==, 1);
    out(f, 0xc008, 0x02, 1);
    g_assert_cmpuint(f->rec.unplugs[UNPLUG_NIC], ==, 2);
    out(f, 0xc008, 0x01, 1);
    g_assert_cmpuint(f->rec.unplugs[UNPLUG_IDE_DISK], ==, 2);
    out(f, 0xc008, 'z', 1); /* any other value is a log byte */
    g_assert_cmpuint(f->rec.unplugs[UNPLUG_IDE_DISK], ==, 2);

    g_assert_cmphex(address_space_read(f->m->mmio, 0xf1000000, 4), ==, 0);
    address_space_write(f->m->mmio, 0xf1fffff8, UINT64_MAX, 8);
    g_assert_cmphex(address_space_read(f->m->mmio, 0xf1fffff8, 8), ==, 0);
    /* The platform device never drives its INTx: Xen does. */
    g_assert_cmphex(cfg_read(f, DEVFN_PLATFORM, 0x06, 2) & PCI_STATUS_INTERRUPT, ==, 0);
}

/* ---- xen-pvdevice ---- */

static void *create_pvdevice(struct fixture *f, const char *text, GError **err)
{
    struct kv_list *props = kv_parse(text, "driver", err);
    void *dev;

    g_assert_nonnull(props);
    dev = machine_create_device(f->m, "xen-pvdevice", props, err);
    kv_free(props);
    return dev;
}

static void test_pvdevice(struct fixture *f, gconstpointer data)
{
    GError *err = NULL;

    g_assert_null(create_pvdevice(f, "xen-pvdevice", &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_null(create_pvdevice(f, "xen-pvdevice,device-id=0xc000,size=3", &err));
    g_clear_error(&err);
    g_assert_nonnull(create_pvdevice(f, "xen-pvdevice,device-id=0xc000", &err));
    g_assert_no_error(err);

    /* The first free slot after the platform device. */
    g_assert_cmphex(cfg_read(f, PCI_DEVFN(3, 0), 0x00, 4), ==, 0xc0005853);
    g_assert_cmphex(cfg_read(f, PCI_DEVFN(3, 0), 0x08, 4), ==, 0x08800001);
    g_assert_cmphex(cfg_read(f, PCI_DEVFN(3, 0), 0x2c, 4), ==, 0xc0005853);
    cfg_write(f, PCI_DEVFN(3, 0), 0x14, 0xffffffff, 4);
    g_assert_cmphex(cfg_read(f, PCI_DEVFN(3, 0), 0x14, 4), ==, 0xffc00008);
    cfg_write(f, PCI_DEVFN(3, 0), 0x14, 0xf2000000, 4);
    g_assert_cmphex(address_space_read(f->m->mmio, 0xf2000000, 4), ==, 0xffffffff);

    g_assert_nonnull(create_pvdevice(f, "xen-pvdevice,device-id=0x0002,vendor-id=0x1af4,"
                                        "revision=7,size=0x1000,addr=6", &err));
    g_assert_no_error(err);
    g_assert_cmphex(cfg_read(f, PCI_DEVFN(6, 0), 0x00, 4), ==, 0x00021af4);
    g_assert_cmphex(cfg_read(f, PCI_DEVFN(6, 0), 0x08, 1), ==, 0x07);
}

/* Assembles a xenfv machine from a command line; NULL with *err set when refused. */
static struct machine *assemble_line(const char *line, GError **err)
{
    g_auto(GStrv) words = NULL;
    struct xendm_config *cfg = config_new();
    struct machine *m = NULL;
    g_autofree char *full = g_strconcat("xendm -xen-domid 1 ", line, NULL);

    g_assert_true(g_shell_parse_argv(full, NULL, &words, NULL));
    if (options_parse(cfg, (int)g_strv_length(words), words, err)) {
        m = machine_new();
        m->accel = &fake_accel;
        if (!xenfv_assemble(m, cfg, err)) {
            machine_free(m);
            m = NULL;
        }
    }
    config_free(cfg);
    return m;
}

/* -drive if=ide without index= takes the first free position and QEMU's name for it. */
static void test_ide_drive_placement(void)
{
    g_autofree char *image = NULL;
    g_autofree char *line = NULL;
    g_autofree char *five = NULL;
    GError *err = NULL;
    struct machine *m;
    struct drive *drive;
    int fd = g_file_open_tmp("xendm-drive-XXXXXX", &image, &err);

    g_assert_no_error(err);
    g_assert_cmpint(ftruncate(fd, 1 << 20), ==, 0);
    close(fd);
    line = g_strdup_printf("-drive file=%s,if=ide,index=1,format=raw -drive file=%s,if=ide "
                           "-drive if=ide,media=cdrom -drive if=none,id=cd9",
                           image, image);
    m = assemble_line(line, &err);
    g_assert_no_error(err);
    drive = machine_drive_at(m, DRIVE_IF_IDE, 0);
    g_assert_nonnull(drive);
    g_assert_cmpstr(drive->id, ==, "ide0-hd0");
    g_assert_cmpstr(machine_drive_at(m, DRIVE_IF_IDE, 1)->id, ==, "ide0-hd1");
    drive = machine_drive_at(m, DRIVE_IF_IDE, 2);
    g_assert_cmpstr(drive->id, ==, "ide1-cd0");
    g_assert_null(drive->backend);
    g_assert_nonnull(machine_find_drive(m, "cd9"));
    g_assert_null(machine_drive_at(m, DRIVE_IF_IDE, 3));
    machine_free(m);

    /* A fifth IDE drive, and two drives at one index, are refused. */
    five = g_strdup_printf("%s -drive if=ide,media=cdrom -drive if=ide,media=cdrom", line);
    g_assert_null(assemble_line(five, &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, "too many IDE drives"));
    g_clear_error(&err);
    g_free(line);
    line = g_strdup_printf("-drive file=%s,if=ide,index=0 -drive if=ide,index=0,media=cdrom",
                           image);
    g_assert_null(assemble_line(line, &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, "already in use"));
    g_clear_error(&err);
    unlink(image);
}

/* -drive if=virtio: a virtio-blk-pci of its own, after the -device functions, named virtioN. */
static void test_virtio_drive(void)
{
    g_autofree char *image = NULL;
    g_autofree char *line = NULL;
    GError *err = NULL;
    struct machine *m;
    int fd = g_file_open_tmp("xendm-drive-XXXXXX", &image, &err);

    g_assert_no_error(err);
    g_assert_cmpint(ftruncate(fd, 1 << 20), ==, 0);
    close(fd);
    line = g_strdup_printf("-drive file=%s,if=virtio,format=raw -device pc-testdev", image);
    m = assemble_line(line, &err);
    g_assert_no_error(err);
    g_assert_nonnull(machine_find_drive(m, "virtio0"));
    /* 00:02.0 is the platform device; the virtio disk takes the next free slot. */
    g_assert_cmphex(pci_bus_config_read(machine_pci_bus(m), PCI_DEVFN(3, 0), 0, 4), ==,
                    0x10011af4);
    machine_free(m);
    unlink(image);
}

static void add(const char *name, const struct variant *v,
                void (*fn)(struct fixture *, gconstpointer))
{
    g_test_add(name, struct fixture, v, fixture_setup, fn, fixture_teardown);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    add("/chipset/i440fx/latch", &xenfv_1cpu, test_conf_latch);
    add("/chipset/i440fx/data-widths", &xenfv_1cpu, test_conf_data_widths);
    add("/chipset/i440fx/disabled-and-absent", &xenfv_1cpu, test_conf_disabled_and_absent);
    add("/chipset/i440fx/smram-lock", &xenfv_1cpu, test_smram_lock);
    add("/chipset/xenfv/ids", &xenfv_1cpu, test_ids);
    add("/chipset/xenfv/pc-no-acpi", &pc_no_acpi, test_pc_machine_no_acpi);
    add("/chipset/piix3/pirq-routes", &xenfv_1cpu, test_pirq_routes);
    add("/chipset/piix3/registers", &xenfv_1cpu, test_piix3_registers);
    add("/chipset/piix3/reset-control", &xenfv_1cpu, test_reset_control);
    add("/chipset/piix4-pm/pmba", &xenfv_1cpu, test_pmba_mapping);
    add("/chipset/piix4-pm/pmba-overlap", &xenfv_1cpu, test_pmba_overlap);
    add("/chipset/piix4-pm/sleep", &xenfv_1cpu, test_sleep_states);
    add("/chipset/piix4-pm/power-button", &xenfv_1cpu, test_power_button);
    add("/chipset/piix4-pm/gpe0", &xenfv_1cpu, test_gpe0);
    add("/chipset/piix4-pm/cpu-bitmap-1", &xenfv_1cpu, test_cpu_bitmap_one);
    add("/chipset/piix4-pm/cpu-bitmap-9", &xenfv_9cpus, test_cpu_bitmap_nine);
    add("/chipset/piix4-pm/timer-hotplug", &xenfv_1cpu, test_pm_timer_and_hotplug);
    add("/chipset/piix4-smbus/placement", &xenfv_1cpu, test_smbus_placement);
    g_test_add_func("/chipset/xenfv/ide-drive-placement", test_ide_drive_placement);
    g_test_add_func("/chipset/xenfv/virtio-drive", test_virtio_drive);
    add("/chipset/piix4-smbus/eeprom", &xenfv_1cpu, test_smbus_eeprom);
    add("/chipset/piix4-smbus/interrupt", &xenfv_1cpu, test_smbus_interrupt);
    add("/chipset/piix4-smbus/state", &xenfv_1cpu, test_smbus_state);
    add("/chipset/xen-platform/fixed-ports", &xenfv_1cpu, test_platform_fixed_ports);
    add("/chipset/xen-platform/rom-lock", &xenfv_1cpu, test_platform_rom_lock);
    add("/chipset/xen-platform/log", &xenfv_1cpu, test_platform_log);
    add("/chipset/xen-platform/unplug-mask", &xenfv_1cpu, test_platform_unplug_mask);
    add("/chipset/xen-platform/bars", &xenfv_1cpu, test_platform_bars);
    add("/chipset/xen-pvdevice/identity", &xenfv_1cpu, test_pvdevice);
    return g_test_run();
}
