/*
 * Unit tests of the PCI core (hw/pci/): configuration space masks, refused accesses, BAR
 * sizing and mapping, the expansion ROM, capabilities, MSI, MSI-X, INTx, SBDF claims and
 * reset, against an in-process machine whose fake accelerator records claims, INTx levels
 * and MSIs.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include "xendm/keyval.h"
#include "xendm/machine.h"
#include "xendm/pci.h"

#define MAX_MSIS 64

struct msi_record {
    uint64_t addr;
    uint32_t data;
};

struct record {
    bool claimed[256];
    unsigned claims, releases;
    bool intx[PCI_SLOT_MAX][4];
    unsigned intx_calls;
    struct msi_record msis[MAX_MSIS];
    unsigned nr_msis;
};

static void fake_claim_pcidev(void *opaque, uint32_t sbdf, bool add)
{
    struct record *rec = opaque;

    g_assert_cmpuint(sbdf, <, 256);
    rec->claimed[sbdf] = add;
    if (add)
        rec->claims++;
    else
        rec->releases++;
}

static void fake_set_pci_intx(void *opaque, unsigned slot, unsigned pin, bool level)
{
    struct record *rec = opaque;

    g_assert_cmpuint(slot, <, PCI_SLOT_MAX);
    g_assert_cmpuint(pin, <, 4);
    rec->intx[slot][pin] = level;
    rec->intx_calls++;
}

static void fake_inject_msi(void *opaque, uint64_t addr, uint32_t data)
{
    struct record *rec = opaque;

    g_assert_cmpuint(rec->nr_msis, <, MAX_MSIS);
    rec->msis[rec->nr_msis].addr = addr;
    rec->msis[rec->nr_msis].data = data;
    rec->nr_msis++;
}

static const struct accel_ops fake_accel = {
    .claim_pcidev = fake_claim_pcidev,
    .set_pci_intx = fake_set_pci_intx,
    .inject_msi = fake_inject_msi,
};

/* A device whose BARs are 256 bytes of registers (repeated through larger BARs). */
struct testdev {
    struct pci_device *pci;
    uint8_t regs[256];
    unsigned reads, writes;
    unsigned last_size;
    uint64_t last_offset;
    unsigned resets;
    unsigned cfg_writes;
    uint32_t last_cfg_offset, last_cfg_value;
};

static uint64_t testdev_read(void *opaque, uint64_t offset, unsigned size)
{
    struct testdev *t = opaque;
    uint64_t v = 0;

    t->reads++;
    t->last_offset = offset;
    t->last_size = size;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)t->regs[(offset + i) & 0xff] << (8 * i);
    return v;
}

static void testdev_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct testdev *t = opaque;

    t->writes++;
    t->last_offset = offset;
    t->last_size = size;
    for (unsigned i = 0; i < size; i++)
        t->regs[(offset + i) & 0xff] = (uint8_t)(value >> (8 * i));
}

static const struct region_ops any_width_ops = {
    .read = testdev_read,
    .write = testdev_write,
};

static const struct region_ops dword_ops = {
    .read = testdev_read,
    .write = testdev_write,
    .min_access = 4,
    .max_access = 4,
};

static void testdev_config_write(struct pci_device *d, void *opaque, uint32_t offset,
                                 uint32_t value, unsigned size)
{
    struct testdev *t = opaque;

    t->cfg_writes++;
    t->last_cfg_offset = offset;
    t->last_cfg_value = value;
}

static void testdev_reset(struct pci_device *d, void *opaque)
{
    struct testdev *t = opaque;

    t->resets++;
}

static const struct pci_device_ops testdev_ops = {
    .config_write = testdev_config_write,
    .reset = testdev_reset,
};

static const struct pci_device_id testdev_id = {
    .vendor_id = 0x1af4,
    .device_id = 0x1110,
    .revision = 2,
    .class_code = 0x010203,
    .subsystem_vendor_id = 0x5853,
    .subsystem_id = 0x0001,
    .interrupt_pin = 1,
};

struct fixture {
    struct machine *m;
    struct pci_bus *bus;
    struct record rec;
    struct testdev dev;
};

#define DEVFN PCI_DEVFN(3, 0)

static void fixture_setup(struct fixture *f, gconstpointer data)
{
    GError *err = NULL;

    memset(f, 0, sizeof(*f));
    f->m = machine_new();
    f->m->accel = &fake_accel;
    f->m->accel_opaque = &f->rec;
    f->bus = pci_bus_new(f->m);
    g_assert_nonnull(f->bus);
    f->dev.pci = pci_device_add(f->bus, DEVFN, "testdev", &testdev_id, &testdev_ops, &f->dev,
                                &err);
    g_assert_no_error(err);
    g_assert_nonnull(f->dev.pci);
    for (unsigned i = 0; i < sizeof(f->dev.regs); i++)
        f->dev.regs[i] = (uint8_t)i;
}

static void fixture_teardown(struct fixture *f, gconstpointer data)
{
    pci_bus_free(f->bus);
    g_assert_null(f->m->pci_bus);
    machine_free(f->m);
}

static uint32_t cfg_read(struct fixture *f, uint32_t offset, unsigned size)
{
    return pci_bus_config_read(f->bus, DEVFN, offset, size);
}

static void cfg_write(struct fixture *f, uint32_t offset, uint32_t value, unsigned size)
{
    pci_bus_config_write(f->bus, DEVFN, offset, value, size);
}

/* ---- configuration space ---- */

static void test_header(struct fixture *f, gconstpointer data)
{
    g_assert_cmphex(cfg_read(f, PCI_VENDOR_ID, 4), ==, 0x11101af4);
    g_assert_cmphex(cfg_read(f, PCI_REVISION_ID, 4), ==, 0x01020302);
    g_assert_cmphex(cfg_read(f, PCI_SUBSYSTEM_VENDOR_ID, 4), ==, 0x00015853);
    g_assert_cmphex(cfg_read(f, PCI_INTERRUPT_PIN, 1), ==, 1);
    g_assert_cmphex(cfg_read(f, PCI_HEADER_TYPE, 1), ==, 0);
    g_assert_cmphex(cfg_read(f, PCI_CAPABILITY_LIST, 1), ==, 0);

    /* Identification, header type and pin are read-only. */
    cfg_write(f, PCI_VENDOR_ID, 0xffffffff, 4);
    cfg_write(f, PCI_REVISION_ID, 0xffffffff, 4);
    cfg_write(f, PCI_INTERRUPT_PIN, 0xff, 1);
    cfg_write(f, PCI_HEADER_TYPE, 0xff, 1);
    g_assert_cmphex(cfg_read(f, PCI_VENDOR_ID, 4), ==, 0x11101af4);
    g_assert_cmphex(cfg_read(f, PCI_REVISION_ID, 4), ==, 0x01020302);
    g_assert_cmphex(cfg_read(f, PCI_INTERRUPT_PIN, 1), ==, 1);
    g_assert_cmphex(cfg_read(f, PCI_HEADER_TYPE, 1), ==, 0);

    /* Writable: interrupt line, cache line, latency timer. */
    cfg_write(f, PCI_INTERRUPT_LINE, 0x0b, 1);
    cfg_write(f, PCI_CACHE_LINE_SIZE, 0xa5a5, 2);
    g_assert_cmphex(cfg_read(f, PCI_INTERRUPT_LINE, 1), ==, 0x0b);
    g_assert_cmphex(cfg_read(f, PCI_CACHE_LINE_SIZE, 2), ==, 0xa5a5);

    /* The device heard of the write, after the core stored it. */
    g_assert_cmpuint(f->dev.last_cfg_offset, ==, PCI_CACHE_LINE_SIZE);
    g_assert_cmphex(f->dev.last_cfg_value, ==, 0xa5a5);
}

static void test_command_status(struct fixture *f, gconstpointer data)
{
    cfg_write(f, PCI_COMMAND, 0xffff, 2);
    g_assert_cmphex(cfg_read(f, PCI_COMMAND, 2), ==, 0x0547);
    cfg_write(f, PCI_COMMAND, 0, 2);
    g_assert_cmphex(cfg_read(f, PCI_COMMAND, 2), ==, 0);

    /* Error bits set by the device clear on a write of 1; other status bits are read-only. */
    pci_set_word(f->dev.pci, PCI_STATUS, 0xf900 | 0x0200);
    cfg_write(f, PCI_STATUS, 0x0100, 2);
    g_assert_cmphex(cfg_read(f, PCI_STATUS, 2), ==, 0xf800 | 0x0200);
    cfg_write(f, PCI_STATUS, 0x0000, 2);
    g_assert_cmphex(cfg_read(f, PCI_STATUS, 2), ==, 0xf800 | 0x0200);
    /* A dword write to command also reaches status. */
    cfg_write(f, PCI_COMMAND, 0xffff0002, 4);
    g_assert_cmphex(cfg_read(f, PCI_COMMAND, 4), ==, 0x02000002);
}

static void test_refused_accesses(struct fixture *f, gconstpointer data)
{
    GError *err = NULL;
    struct pci_device *fn1;

    /* Absent function. */
    g_assert_cmphex(pci_bus_config_read(f->bus, PCI_DEVFN(4, 0), 0, 4), ==, 0xffffffff);
    g_assert_cmphex(pci_bus_config_read(f->bus, PCI_DEVFN(4, 0), 0, 2), ==, 0xffff);
    g_assert_cmphex(pci_bus_config_read(f->bus, PCI_DEVFN(4, 0), 0, 1), ==, 0xff);
    pci_bus_config_write(f->bus, PCI_DEVFN(4, 0), PCI_COMMAND, 3, 2);
    g_assert_cmphex(pci_bus_config_read(f->bus, 999, 0, 4), ==, 0xffffffff);
    /* Beyond 256 bytes, misaligned, odd size: all-ones, writes dropped. */
    g_assert_cmphex(cfg_read(f, 0x100, 4), ==, 0xffffffff);
    g_assert_cmphex(cfg_read(f, 0xfff, 1), ==, 0xff);
    g_assert_cmphex(cfg_read(f, PCI_VENDOR_ID + 2, 4), ==, 0xffffffff);
    g_assert_cmphex(cfg_read(f, PCI_DEVICE_ID + 1, 2), ==, 0xffff); /* crosses a dword */
    g_assert_cmphex(cfg_read(f, PCI_VENDOR_ID, 3), ==, 0xffffff);
    g_assert_cmphex(cfg_read(f, PCI_VENDOR_ID, 8), ==, 0xffffffff);
    cfg_write(f, PCI_INTERRUPT_LINE - 2, 0x55555555, 4);
    cfg_write(f, PCI_INTERRUPT_LINE, 0x555555, 3);
    cfg_write(f, PCI_INTERRUPT_LINE - 1, 0x5555, 2);
    g_assert_cmphex(cfg_read(f, PCI_INTERRUPT_LINE, 1), ==, 0);
    /* Inside one dword, an unaligned access is a valid cycle with byte enables. */
    g_assert_cmphex(cfg_read(f, PCI_VENDOR_ID + 1, 2), ==, 0x101a);
    cfg_write(f, PCI_CACHE_LINE_SIZE + 1, 0x3412, 2); /* latency timer + header type (RO) */
    g_assert_cmphex(cfg_read(f, PCI_CACHE_LINE_SIZE, 4), ==, 0x00001200);
    g_assert_cmpuint(f->dev.last_cfg_offset, ==, PCI_HEADER_TYPE); /* hooks see bytes */

    /* A function other than 0 is invisible without function 0 of its slot. */
    fn1 = pci_device_add(f->bus, PCI_DEVFN(5, 1), "fn1", &testdev_id, NULL, NULL, &err);
    g_assert_no_error(err);
    g_assert_cmphex(pci_bus_config_read(f->bus, PCI_DEVFN(5, 1), 0, 4), ==, 0xffffffff);
    g_assert_nonnull(pci_device_add(f->bus, PCI_DEVFN(5, 0), "fn0", &testdev_id, NULL, NULL,
                                    &err));
    g_assert_cmphex(pci_bus_config_read(f->bus, PCI_DEVFN(5, 1), 0, 4), ==, 0x11101af4);
    g_assert_true(pci_bus_find(f->bus, PCI_DEVFN(5, 1)) == fn1);

    /* The machine's PCI_CONFIG path: segment 0, bus 0 only. */
    g_assert_cmphex(f->m->pci_config_read(f->m->pci_opaque, DEVFN, 0, 4), ==, 0x11101af4);
    g_assert_cmphex(f->m->pci_config_read(f->m->pci_opaque, 0x100 | DEVFN, 0, 4), ==,
                    0xffffffff);
    g_assert_cmphex(f->m->pci_config_read(f->m->pci_opaque, 0x10000 | DEVFN, 0, 2), ==, 0xffff);
    f->m->pci_config_write(f->m->pci_opaque, DEVFN, PCI_INTERRUPT_LINE, 7, 1);
    f->m->pci_config_write(f->m->pci_opaque, 0x100 | DEVFN, PCI_INTERRUPT_LINE, 9, 1);
    g_assert_cmphex(cfg_read(f, PCI_INTERRUPT_LINE, 1), ==, 7);
}

/* ---- BARs ---- */

static void test_bar_sizing(struct fixture *f, gconstpointer data)
{
    struct pci_device *d = f->dev.pci;

    g_assert_cmpint(pci_register_bar(d, 0, PCI_BAR_IO, 32, &any_width_ops, &f->dev), ==, 0);
    g_assert_cmpint(pci_register_bar(d, 1, PCI_BAR_MEM32, 4096, &any_width_ops, &f->dev), ==, 0);
    g_assert_cmpint(pci_register_bar(d, 2, PCI_BAR_MEM64 | PCI_BAR_PREFETCH, 1 << 20,
                                     &any_width_ops, &f->dev), ==, 0);
    /* Bad requests from device code. */
    g_assert_cmpint(pci_register_bar(d, 3, PCI_BAR_MEM32, 4096, NULL, NULL), ==, -1);
    g_assert_cmpint(pci_register_bar(d, 5, PCI_BAR_MEM64, 4096, NULL, NULL), ==, -1);
    g_assert_cmpint(pci_register_bar(d, 4, PCI_BAR_IO, 512, NULL, NULL), ==, -1);
    g_assert_cmpint(pci_register_bar(d, 4, PCI_BAR_MEM32, 3000, NULL, NULL), ==, -1);
    g_assert_cmpint(pci_register_bar(d, 1, PCI_BAR_MEM32, 4096, NULL, NULL), ==, -1);

    g_assert_cmphex(cfg_read(f, 0x10, 4), ==, PCI_BAR_IO);
    g_assert_cmphex(cfg_read(f, 0x18, 4), ==, PCI_BAR_MEM64 | PCI_BAR_PREFETCH);
    for (unsigned reg = 0x10; reg < 0x28; reg += 4)
        cfg_write(f, reg, 0xffffffff, 4);
    g_assert_cmphex(cfg_read(f, 0x10, 4), ==, 0xffffffe1);
    g_assert_cmphex(cfg_read(f, 0x14, 4), ==, 0xfffff000);
    g_assert_cmphex(cfg_read(f, 0x18, 4), ==, 0xfff0000c);
    g_assert_cmphex(cfg_read(f, 0x1c, 4), ==, 0xffffffff);
    g_assert_cmphex(cfg_read(f, 0x20, 4), ==, 0); /* unregistered */
    /* Sizing with decode on maps nothing: all-ones is not an address. */
    cfg_write(f, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY, 2);
    for (unsigned bar = 0; bar < PCI_NUM_BARS; bar++)
        g_assert_cmphex(pci_bar_address(d, bar), ==, PCI_BAR_UNMAPPED);
}

static void test_bar_enable(struct fixture *f, gconstpointer data)
{
    struct pci_device *d = f->dev.pci;

    pci_register_bar(d, 0, PCI_BAR_IO, 32, &any_width_ops, &f->dev);
    pci_register_bar(d, 1, PCI_BAR_MEM32, 4096, &any_width_ops, &f->dev);
    cfg_write(f, 0x10, 0xc000, 4);
    cfg_write(f, 0x14, 0xe0000000, 4);
    g_assert_cmphex(cfg_read(f, 0x10, 4), ==, 0xc001);
    g_assert_cmphex(address_space_read(f->m->io, 0xc004, 1), ==, 0xff);
    g_assert_cmphex(pci_bar_address(d, 0), ==, PCI_BAR_UNMAPPED);

    cfg_write(f, PCI_COMMAND, PCI_COMMAND_IO, 2);
    g_assert_cmphex(pci_bar_address(d, 0), ==, 0xc000);
    g_assert_cmphex(pci_bar_address(d, 1), ==, PCI_BAR_UNMAPPED);
    g_assert_cmphex(address_space_read(f->m->io, 0xc004, 2), ==, 0x0504);
    g_assert_cmpuint(f->dev.last_offset, ==, 4);
    address_space_write(f->m->io, 0xc01f, 0x99, 1);
    g_assert_cmphex(f->dev.regs[0x1f], ==, 0x99);
    g_assert_cmphex(address_space_read(f->m->mmio, 0xe0000008, 4), ==, 0xffffffff);

    cfg_write(f, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    g_assert_cmphex(pci_bar_address(d, 0), ==, PCI_BAR_UNMAPPED);
    g_assert_cmphex(address_space_read(f->m->io, 0xc004, 1), ==, 0xff);
    g_assert_cmphex(address_space_read(f->m->mmio, 0xe0000008, 4), ==, 0x0b0a0908);

    cfg_write(f, PCI_COMMAND, 0, 2);
    g_assert_cmphex(address_space_read(f->m->mmio, 0xe0000008, 4), ==, 0xffffffff);
    g_assert_cmpuint(address_space_count(f->m->mmio), ==, 0);
    g_assert_cmpuint(address_space_count(f->m->io), ==, 0);
}

static void test_bar_move(struct fixture *f, gconstpointer data)
{
    struct pci_device *d = f->dev.pci;

    pci_register_bar(d, 1, PCI_BAR_MEM32, 4096, &any_width_ops, &f->dev);
    cfg_write(f, 0x14, 0xe0000000, 4);
    cfg_write(f, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    g_assert_cmphex(address_space_read(f->m->mmio, 0xe0000010, 1), ==, 0x10);
    cfg_write(f, 0x14, 0xe0100000, 4);
    g_assert_cmphex(pci_bar_address(d, 1), ==, 0xe0100000);
    g_assert_cmphex(address_space_read(f->m->mmio, 0xe0000010, 1), ==, 0xff);
    g_assert_cmphex(address_space_read(f->m->mmio, 0xe0100010, 1), ==, 0x10);
    g_assert_cmpuint(address_space_count(f->m->mmio), ==, 1);
    /* Address 0 and a 32-bit BAR crossing 4 GiB are not decoded. */
    cfg_write(f, 0x14, 0, 4);
    g_assert_cmphex(pci_bar_address(d, 1), ==, PCI_BAR_UNMAPPED);
    /* An I/O BAR must end below 64 KiB. */
    pci_register_bar(d, 0, PCI_BAR_IO, 32, &any_width_ops, &f->dev);
    cfg_write(f, PCI_COMMAND, PCI_COMMAND_IO, 2);
    cfg_write(f, 0x10, 0x1fff0, 4);
    g_assert_cmphex(pci_bar_address(d, 0), ==, PCI_BAR_UNMAPPED);
    cfg_write(f, 0x10, 0xffe0, 4);
    g_assert_cmphex(pci_bar_address(d, 0), ==, 0xffe0);
}

static uint64_t other_read(void *opaque, uint64_t offset, unsigned size)
{
    return 0x42;
}

static const struct region_ops other_ops = {.read = other_read};

static void test_bar_overlap(struct fixture *f, gconstpointer data)
{
    struct pci_device *d = f->dev.pci;
    struct region *other = region_add(f->m->mmio, "other", 0xe0000800, 0x100, &other_ops, NULL);

    g_assert_nonnull(other);
    pci_register_bar(d, 1, PCI_BAR_MEM32, 4096, &any_width_ops, &f->dev);
    cfg_write(f, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    cfg_write(f, 0x14, 0xe0000000, 4);
    /* Refused, but the guest sees its register as written. */
    g_assert_cmphex(pci_bar_address(d, 1), ==, PCI_BAR_UNMAPPED);
    g_assert_cmphex(cfg_read(f, 0x14, 4), ==, 0xe0000000);
    g_assert_cmphex(address_space_read(f->m->mmio, 0xe0000800, 1), ==, 0x42);
    g_assert_cmphex(address_space_read(f->m->mmio, 0xe0000000, 1), ==, 0xff);
    /* Moving it elsewhere recovers. */
    cfg_write(f, 0x14, 0xe0001000, 4);
    g_assert_cmphex(pci_bar_address(d, 1), ==, 0xe0001000);
    g_assert_cmphex(address_space_read(f->m->mmio, 0xe0001001, 1), ==, 0x01);
    /* A mapped BAR moved onto another region is unmapped, not left behind. */
    cfg_write(f, 0x14, 0xe0000000, 4);
    g_assert_cmphex(pci_bar_address(d, 1), ==, PCI_BAR_UNMAPPED);
    g_assert_cmphex(address_space_read(f->m->mmio, 0xe0001001, 1), ==, 0xff);
    region_del(other);
}

static void test_bar64(struct fixture *f, gconstpointer data)
{
    struct pci_device *d = f->dev.pci;

    pci_register_bar(d, 2, PCI_BAR_MEM64 | PCI_BAR_PREFETCH, 1 << 20, &any_width_ops, &f->dev);
    cfg_write(f, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    cfg_write(f, 0x18, 0, 4);
    cfg_write(f, 0x1c, 0x8, 4);
    g_assert_cmphex(pci_bar_address(d, 2), ==, 0x800000000ull);
    g_assert_cmphex(pci_bar_address(d, 3), ==, PCI_BAR_UNMAPPED);
    g_assert_cmphex(address_space_read(f->m->mmio, 0x800000020ull, 8), ==, 0x2726252423222120ull);
    /* Either half moves it. */
    cfg_write(f, 0x18, 0x40000000, 4);
    g_assert_cmphex(pci_bar_address(d, 2), ==, 0x840000000ull);
    cfg_write(f, 0x1c, 0x0, 4);
    g_assert_cmphex(pci_bar_address(d, 2), ==, 0x40000000ull);
    g_assert_cmphex(address_space_read(f->m->mmio, 0x840000020ull, 1), ==, 0xff);
    g_assert_cmphex(address_space_read(f->m->mmio, 0x40000020ull, 1), ==, 0x20);
    g_assert_cmphex(cfg_read(f, 0x18, 4), ==, 0x4000000c);
}

static void test_bar_widths(struct fixture *f, gconstpointer data)
{
    struct pci_device *d = f->dev.pci;

    /* A dword-only device: the address space widens and splits for it. */
    pci_register_bar(d, 1, PCI_BAR_MEM32, 4096, &dword_ops, &f->dev);
    cfg_write(f, 0x14, 0xe0000000, 4);
    cfg_write(f, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    g_assert_cmphex(address_space_read(f->m->mmio, 0xe0000005, 1), ==, 0x05);
    g_assert_cmpuint(f->dev.last_size, ==, 4);
    g_assert_cmphex(address_space_read(f->m->mmio, 0xe0000008, 8), ==, 0x0f0e0d0c0b0a0908ull);
    g_assert_cmpuint(f->dev.last_size, ==, 4);
}

static void test_rom(struct fixture *f, gconstpointer data)
{
    struct pci_device *d = f->dev.pci;
    uint8_t rom[3000];

    for (unsigned i = 0; i < sizeof(rom); i++)
        rom[i] = (uint8_t)(i * 7);
    rom[0] = 0x55;
    rom[1] = 0xaa;
    g_assert_cmpint(pci_register_rom(d, rom, sizeof(rom)), ==, 0);
    cfg_write(f, PCI_ROM_ADDRESS, 0xfffff800, 4);
    g_assert_cmphex(cfg_read(f, PCI_ROM_ADDRESS, 4), ==, 0xfffff000);
    cfg_write(f, PCI_ROM_ADDRESS, 0xfeb00000 | 1, 4);
    g_assert_cmphex(address_space_read(f->m->mmio, 0xfeb00000, 2), ==, 0xffff); /* no MEMORY */
    cfg_write(f, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    g_assert_cmphex(address_space_read(f->m->mmio, 0xfeb00000, 2), ==, 0xaa55);
    g_assert_cmphex(address_space_read(f->m->mmio, 0xfeb00000 + 100, 1), ==, (uint8_t)700);
    g_assert_cmphex(address_space_read(f->m->mmio, 0xfeb00000 + 3500, 4), ==, 0); /* padding */
    address_space_write(f->m->mmio, 0xfeb00000, 0x1234, 2);
    g_assert_cmphex(address_space_read(f->m->mmio, 0xfeb00000, 2), ==, 0xaa55);
    cfg_write(f, PCI_ROM_ADDRESS, 0xfeb00000, 4); /* enable bit off */
    g_assert_cmphex(address_space_read(f->m->mmio, 0xfeb00000, 2), ==, 0xffff);
}

/* romfile=: a named file, none, a missing named file (an error), a missing default (no ROM). */
static void test_romfile(struct fixture *f, gconstpointer data)
{
    struct pci_device *d = f->dev.pci;
    char *dir = g_dir_make_tmp("xendm-romfile-XXXXXX", NULL), *path, *text;
    struct kv_list *props;
    GError *err = NULL;
    uint8_t rom[5000] = {0x55, 0xaa, 0x0a};

    g_assert_nonnull(dir);
    path = g_build_filename(dir, "test.rom", NULL);
    g_assert_true(g_file_set_contents(path, (const char *)rom, sizeof(rom), NULL));

    props = kv_new();
    kv_set(props, "romfile", "");
    g_assert_true(pci_load_romfile(d, props, "efi-rtl8139.rom", &err));
    g_assert_null(kv_first_unused(props));
    kv_free(props);
    cfg_write(f, PCI_ROM_ADDRESS, 0xfffff800, 4);
    g_assert_cmphex(cfg_read(f, PCI_ROM_ADDRESS, 4), ==, 0); /* no ROM: the register is 0 */

    g_assert_true(pci_load_romfile(d, NULL, "xendm-no-such-default.rom", &err));
    g_assert_cmphex(cfg_read(f, PCI_ROM_ADDRESS, 4), ==, 0);

    props = kv_new();
    kv_set(props, "romfile", "xendm-no-such-file.rom");
    g_assert_false(pci_load_romfile(d, props, "efi-rtl8139.rom", &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    kv_free(props);

    props = kv_new();
    kv_set(props, "romfile", path);
    g_assert_true(pci_load_romfile(d, props, "efi-rtl8139.rom", &err));
    kv_free(props);
    cfg_write(f, PCI_ROM_ADDRESS, 0xfffff800, 4);
    g_assert_cmphex(cfg_read(f, PCI_ROM_ADDRESS, 4), ==, 0xffffe000); /* 8 KiB */
    cfg_write(f, PCI_ROM_ADDRESS, 0xfeb00000 | 1, 4);
    cfg_write(f, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    g_assert_cmphex(address_space_read(f->m->mmio, 0xfeb00000, 4), ==, 0x0aaa55);

    text = pci_find_firmware(path);
    g_assert_cmpstr(text, ==, path);
    g_free(text);
    g_assert_null(pci_find_firmware("xendm-no-such-default.rom"));
    g_remove(path);
    g_rmdir(dir);
    g_free(path);
    g_free(dir);
}

/* ---- capabilities ---- */

static void test_capabilities(struct fixture *f, gconstpointer data)
{
    struct pci_device *d = f->dev.pci;
    int vndr, msi, bad;

    vndr = pci_add_capability(d, PCI_CAP_ID_VNDR, 0, 6);
    g_assert_cmpint(vndr, ==, 0x40);
    g_assert_cmphex(cfg_read(f, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, ==, PCI_STATUS_CAP_LIST);
    msi = pci_msi_init(d, 1, false, false);
    g_assert_cmpint(msi, ==, 0x48);
    bad = pci_add_capability(d, PCI_CAP_ID_PM, 0x44, 8); /* overlaps the vendor capability */
    g_assert_cmpint(bad, ==, -1);
    g_assert_cmpint(pci_add_capability(d, PCI_CAP_ID_PM, 0x42, 8), ==, -1); /* misaligned */
    g_assert_cmpint(pci_add_capability(d, PCI_CAP_ID_PM, 0xc0, 8), ==, 0xc0);
    /* The chain, in the order added. */
    g_assert_cmphex(cfg_read(f, PCI_CAPABILITY_LIST, 1), ==, 0x40);
    g_assert_cmphex(cfg_read(f, 0x40, 2), ==, 0x4800 | PCI_CAP_ID_VNDR);
    g_assert_cmphex(cfg_read(f, 0x48, 2), ==, 0xc000 | PCI_CAP_ID_MSI);
    g_assert_cmphex(cfg_read(f, 0xc0, 2), ==, PCI_CAP_ID_PM);
    g_assert_cmpint(pci_find_capability(d, PCI_CAP_ID_PM), ==, 0xc0);
    g_assert_cmpint(pci_find_capability(d, PCI_CAP_ID_MSIX), ==, -1);
    /* The guest cannot rewrite the list. */
    cfg_write(f, 0x40, 0xffff, 2);
    cfg_write(f, PCI_CAPABILITY_LIST, 0, 1);
    g_assert_cmphex(cfg_read(f, 0x40, 2), ==, 0x4800 | PCI_CAP_ID_VNDR);
    g_assert_cmphex(cfg_read(f, PCI_CAPABILITY_LIST, 1), ==, 0x40);
}

/* ---- MSI ---- */

static void test_msi(struct fixture *f, gconstpointer data)
{
    struct pci_device *d = f->dev.pci;
    int cap = pci_msi_init(d, 4, true, true);
    uint32_t ctrl, mask, pending;

    g_assert_cmpint(cap, >=, 0x40);
    ctrl = (uint32_t)cap + 2;
    mask = (uint32_t)cap + 0x10;
    pending = (uint32_t)cap + 0x14;
    g_assert_cmphex(cfg_read(f, ctrl, 2), ==, 0x0100 | 0x0080 | (2 << 1));
    cfg_write(f, ctrl, 0x0070, 2); /* 128 vectors asked, 4 capable */
    g_assert_cmphex(cfg_read(f, ctrl, 2) & 0x70, ==, 2 << 4);
    cfg_write(f, (uint32_t)cap + 4, 0xfee01003, 4);
    cfg_write(f, (uint32_t)cap + 8, 0x1, 4);
    cfg_write(f, (uint32_t)cap + 0xc, 0xffff4423, 4);
    g_assert_cmphex(cfg_read(f, (uint32_t)cap + 4, 4), ==, 0xfee01000);
    g_assert_cmphex(cfg_read(f, (uint32_t)cap + 0xc, 4), ==, 0x4423);
    cfg_write(f, mask, 0xffffffff, 4);
    g_assert_cmphex(cfg_read(f, mask, 4), ==, 0xf);
    cfg_write(f, mask, 0, 4);

    pci_msi_notify(d, 1); /* not enabled yet */
    g_assert_cmpuint(f->rec.nr_msis, ==, 0);
    cfg_write(f, ctrl, 0x0021, 2);
    g_assert_true(pci_msi_enabled(d));
    pci_msi_notify(d, 1); /* bus mastering off: an MSI is a memory write, so none */
    g_assert_cmpuint(f->rec.nr_msis, ==, 0);
    cfg_write(f, PCI_COMMAND, PCI_COMMAND_MASTER, 2);
    pci_msi_notify(d, 1);
    g_assert_cmpuint(f->rec.nr_msis, ==, 1);
    g_assert_cmphex(f->rec.msis[0].addr, ==, 0x1fee01000ull);
    g_assert_cmphex(f->rec.msis[0].data, ==, 0x4421);
    pci_msi_notify(d, 3);
    g_assert_cmphex(f->rec.msis[1].data, ==, 0x4423);
    pci_msi_notify(d, 4); /* beyond the enabled count */
    g_assert_cmpuint(f->rec.nr_msis, ==, 2);

    /* Masked: pending, delivered once on unmask. */
    cfg_write(f, mask, 0x4, 4);
    pci_msi_notify(d, 2);
    pci_msi_notify(d, 2);
    g_assert_cmpuint(f->rec.nr_msis, ==, 2);
    g_assert_cmphex(cfg_read(f, pending, 4), ==, 0x4);
    cfg_write(f, pending, 0, 4); /* pending is read-only */
    g_assert_cmphex(cfg_read(f, pending, 4), ==, 0x4);
    cfg_write(f, mask, 0, 4);
    g_assert_cmpuint(f->rec.nr_msis, ==, 3);
    g_assert_cmphex(f->rec.msis[2].data, ==, 0x4422);
    g_assert_cmphex(cfg_read(f, pending, 4), ==, 0);
    cfg_write(f, mask, 0, 4);
    g_assert_cmpuint(f->rec.nr_msis, ==, 3);

    /* INTx is not signalled while MSI is enabled. */
    pci_set_irq(d, true);
    g_assert_cmpuint(f->rec.intx_calls, ==, 0);
    g_assert_cmphex(cfg_read(f, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, ==, PCI_STATUS_INTERRUPT);
    cfg_write(f, ctrl, 0, 2);
    g_assert_false(pci_msi_enabled(d));
    g_assert_true(f->rec.intx[3][0]);
}

static void test_msi_32bit(struct fixture *f, gconstpointer data)
{
    struct pci_device *d = f->dev.pci;
    int cap = pci_msi_init(d, 1, false, false);

    g_assert_cmpint(pci_msi_init(d, 1, false, false), ==, -1);
    cfg_write(f, PCI_COMMAND, PCI_COMMAND_MASTER, 2);
    cfg_write(f, (uint32_t)cap + 4, 0xfee00000, 4);
    cfg_write(f, (uint32_t)cap + 8, 0x0041, 2);
    cfg_write(f, (uint32_t)cap + 2, 0x0071, 2); /* MME clamped to 1 vector */
    g_assert_cmphex(cfg_read(f, (uint32_t)cap + 2, 2), ==, 0x0001);
    pci_msi_notify(d, 0);
    pci_msi_notify(d, 1);
    g_assert_cmpuint(f->rec.nr_msis, ==, 1);
    g_assert_cmphex(f->rec.msis[0].addr, ==, 0xfee00000);
    g_assert_cmphex(f->rec.msis[0].data, ==, 0x41);
}

/* ---- MSI-X ---- */

#define MSIX_BASE 0xe0000000u
#define TABLE (MSIX_BASE + 0x100)
#define PBA (MSIX_BASE + 0x200)

/* BAR0: 4 KiB of device registers with a 4-entry table at 0x100 and the PBA at 0x200. */
static int msix_setup(struct fixture *f)
{
    struct pci_device *d = f->dev.pci;
    int cap;

    g_assert_cmpint(pci_register_bar(d, 0, PCI_BAR_MEM32, 4096, &dword_ops, &f->dev), ==, 0);
    cfg_write(f, 0x10, MSIX_BASE, 4);
    cfg_write(f, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    cap = pci_msix_init(d, 4, 0, 0x100, 0, 0x200);
    g_assert_cmpint(cap, >=, 0x40);
    return cap;
}

static void test_msix_table(struct fixture *f, gconstpointer data)
{
    struct pci_device *d = f->dev.pci;
    int cap = msix_setup(f);
    struct address_space *mmio = f->m->mmio;

    g_assert_cmphex(cfg_read(f, (uint32_t)cap + 2, 2), ==, 3);
    g_assert_cmphex(cfg_read(f, (uint32_t)cap + 4, 4), ==, 0x100);
    g_assert_cmphex(cfg_read(f, (uint32_t)cap + 8, 4), ==, 0x200);
    cfg_write(f, (uint32_t)cap + 2, 0x07ff, 2); /* table size is read-only */
    g_assert_cmphex(cfg_read(f, (uint32_t)cap + 2, 2), ==, 3);

    /* Entries reset masked. */
    g_assert_cmphex(address_space_read(mmio, TABLE + 0xc, 4), ==, 1);
    g_assert_cmphex(address_space_read(mmio, TABLE + 0x30, 8), ==, 0);
    /* Dword and aligned qword accesses. */
    address_space_write(mmio, TABLE + 0x10, 0xfee02000, 4);
    address_space_write(mmio, TABLE + 0x14, 0x2, 4);
    g_assert_cmphex(address_space_read(mmio, TABLE + 0x10, 8), ==, 0x2fee02000ull);
    address_space_write(mmio, TABLE + 0x18, 0xfffffffe00000051ull, 8);
    g_assert_cmphex(address_space_read(mmio, TABLE + 0x18, 4), ==, 0x51);
    g_assert_cmphex(address_space_read(mmio, TABLE + 0x1c, 4), ==, 0); /* reserved bits */
    /* Bytes, words and misaligned accesses: all-ones, dropped. */
    g_assert_cmphex(address_space_read(mmio, TABLE + 0x18, 1), ==, 0xff);
    g_assert_cmphex(address_space_read(mmio, TABLE + 0x18, 2), ==, 0xffff);
    g_assert_cmphex(address_space_read(mmio, TABLE + 0x1a, 4), ==, 0xffffffff);
    address_space_write(mmio, TABLE + 0x18, 0x77, 1);
    address_space_write(mmio, TABLE + 0x18, 0x7777, 2);
    address_space_write(mmio, TABLE + 0x16, 0x77777777, 4);
    g_assert_cmphex(address_space_read(mmio, TABLE + 0x10, 8), ==, 0x2fee02000ull);
    g_assert_cmphex(address_space_read(mmio, TABLE + 0x18, 4), ==, 0x51);
    /* The PBA is read-only. */
    g_assert_cmphex(address_space_read(mmio, PBA, 8), ==, 0);
    address_space_write(mmio, PBA, 0xf, 4);
    g_assert_cmphex(address_space_read(mmio, PBA, 4), ==, 0);
    g_assert_cmphex(address_space_read(mmio, PBA, 1), ==, 0xff);

    /* The rest of the BAR is the device's, still with its own access widths. */
    f->dev.reads = 0;
    g_assert_cmphex(address_space_read(mmio, MSIX_BASE + 0x21, 1), ==, 0x21);
    g_assert_cmpuint(f->dev.last_size, ==, 4);
    g_assert_cmphex(address_space_read(mmio, MSIX_BASE + 0x20, 8), ==, 0x2726252423222120ull);
    g_assert_cmpuint(f->dev.last_size, ==, 4);
    address_space_write(mmio, MSIX_BASE + 0x40, 0xabcd, 2); /* narrower than the device takes */
    g_assert_cmphex(f->dev.regs[0x40], ==, 0x40);
    address_space_write(mmio, MSIX_BASE + 0x40, 0x11223344, 4);
    g_assert_cmphex(f->dev.regs[0x40], ==, 0x44);
    g_assert_false(pci_msix_enabled(d));
}

static void program_entry(struct fixture *f, unsigned v, uint64_t addr, uint32_t data,
                          bool masked)
{
    address_space_write(f->m->mmio, TABLE + 16 * v, addr, 8);
    address_space_write(f->m->mmio, TABLE + 16 * v + 8, data | (uint64_t)masked << 32, 8);
}

static void test_msix_masking(struct fixture *f, gconstpointer data)
{
    struct pci_device *d = f->dev.pci;
    int cap = msix_setup(f);
    uint32_t ctrl = (uint32_t)cap + 2;
    struct address_space *mmio = f->m->mmio;

    program_entry(f, 1, 0x3fee01000ull, 0x61, false);
    program_entry(f, 2, 0xfee00000ull, 0x62, true);
    pci_msix_notify(d, 1); /* not enabled */
    g_assert_cmpuint(f->rec.nr_msis, ==, 0);
    g_assert_cmphex(address_space_read(mmio, PBA, 8), ==, 0);

    /* Function mask: pending, then exactly one message on unmask. */
    cfg_write(f, ctrl, 0xc000, 2);
    g_assert_true(pci_msix_enabled(d));
    pci_msix_notify(d, 1);
    pci_msix_notify(d, 1);
    g_assert_cmpuint(f->rec.nr_msis, ==, 0);
    g_assert_cmphex(address_space_read(mmio, PBA, 8), ==, 0x2);
    cfg_write(f, ctrl, 0x8000, 2);
    g_assert_cmpuint(f->rec.nr_msis, ==, 1);
    g_assert_cmphex(f->rec.msis[0].addr, ==, 0x3fee01000ull);
    g_assert_cmphex(f->rec.msis[0].data, ==, 0x61);
    g_assert_cmphex(address_space_read(mmio, PBA, 8), ==, 0);
    cfg_write(f, ctrl, 0x8000, 2);
    g_assert_cmpuint(f->rec.nr_msis, ==, 1);
    pci_msix_notify(d, 1);
    g_assert_cmpuint(f->rec.nr_msis, ==, 2);

    /* Entry mask. */
    pci_msix_notify(d, 2);
    g_assert_cmpuint(f->rec.nr_msis, ==, 2);
    g_assert_cmphex(address_space_read(mmio, PBA, 4), ==, 0x4);
    address_space_write(mmio, TABLE + 0x2c, 0, 4);
    g_assert_cmpuint(f->rec.nr_msis, ==, 3);
    g_assert_cmphex(f->rec.msis[2].addr, ==, 0xfee00000ull);
    g_assert_cmphex(f->rec.msis[2].data, ==, 0x62);
    g_assert_cmphex(address_space_read(mmio, PBA, 4), ==, 0);
    address_space_write(mmio, TABLE + 0x2c, 0, 4);
    g_assert_cmpuint(f->rec.nr_msis, ==, 3);

    /* A Xen pirq entry (vector 0 in the data) is masked through event channels, not here. */
    program_entry(f, 3, 0x5fee0a000ull, 0x0, true);
    pci_msix_notify(d, 3);
    g_assert_cmpuint(f->rec.nr_msis, ==, 4);
    g_assert_cmphex(f->rec.msis[3].addr, ==, 0x5fee0a000ull);
    g_assert_cmphex(f->rec.msis[3].data, ==, 0);

    /* Nonexistent vector: ignored. INTx stays off while MSI-X is enabled. */
    pci_msix_notify(d, 4);
    g_assert_cmpuint(f->rec.nr_msis, ==, 4);
    pci_set_irq(d, true);
    g_assert_cmpuint(f->rec.intx_calls, ==, 0);
    cfg_write(f, ctrl, 0, 2);
    g_assert_cmpuint(f->rec.intx_calls, ==, 1);
}

static void test_msix_exclusive_bar(struct fixture *f, gconstpointer data)
{
    struct pci_device *d = f->dev.pci;
    int cap = pci_msix_init_exclusive_bar(d, 70, 4);

    g_assert_cmpint(cap, >=, 0x40);
    cfg_write(f, 0x20, 0xffffffff, 4);
    g_assert_cmphex(cfg_read(f, 0x20, 4), ==, 0xfffff000);
    cfg_write(f, 0x20, 0xe0010000, 4);
    cfg_write(f, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    g_assert_cmphex(cfg_read(f, (uint32_t)cap + 4, 4), ==, 4);
    g_assert_cmphex(cfg_read(f, (uint32_t)cap + 8, 4), ==, 70 * 16 | 4);
    g_assert_cmphex(address_space_read(f->m->mmio, 0xe0010000 + 69 * 16 + 12, 4), ==, 1);
    address_space_write(f->m->mmio, 0xe0010000 + 69 * 16, 0xfee00000, 4);
    address_space_write(f->m->mmio, 0xe0010000 + 69 * 16 + 8, 0x33, 4);
    cfg_write(f, (uint32_t)cap + 2, 0x8000, 2);
    pci_msix_notify(d, 69);
    g_assert_cmphex(address_space_read(f->m->mmio, 0xe0010000 + 70 * 16 + 8, 4), ==, 0x20);
    address_space_write(f->m->mmio, 0xe0010000 + 69 * 16 + 12, 0, 4);
    g_assert_cmpuint(f->rec.nr_msis, ==, 1);
    g_assert_cmphex(f->rec.msis[0].data, ==, 0x33);
    g_assert_cmphex(address_space_read(f->m->mmio, 0xe0010000 + 0xf00, 4), ==, 0);
}

/* Garbage of every width everywhere in the table and PBA; the table still works after. */
static void test_msix_garbage(struct fixture *f, gconstpointer data)
{
    struct pci_device *d = f->dev.pci;
    int cap = pci_msix_init_exclusive_bar(d, 4, 4);
    const uint64_t table = 0xe0010000, pba = table + 64;
    static const unsigned widths[] = {1, 2, 4, 8};

    cfg_write(f, 0x20, (uint32_t)table, 4);
    cfg_write(f, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
    cfg_write(f, (uint32_t)cap + 2, 0x8000, 2);
    for (unsigned w = 0; w < G_N_ELEMENTS(widths); w++) {
        for (uint64_t off = 0; off < 4 * 16 + 4; off++)
            address_space_write(f->m->mmio, table + off,
                                UINT64_C(0xfedcba9876543210) >> (off % 8), widths[w]);
        for (uint64_t off = 0; off < 12; off++)
            address_space_write(f->m->mmio, pba + off, UINT64_MAX, widths[w]);
        for (unsigned v = 0; v < 4; v++)
            pci_msix_notify(d, v);
    }
    for (unsigned i = 0; i < 6; i++)
        cfg_write(f, (uint32_t)cap + 2, i & 1 ? 0xc000 : 0x8000, 2);
    cfg_write(f, (uint32_t)cap + 2, 0x8000, 2);
    f->rec.nr_msis = 0;
    address_space_write(f->m->mmio, table + 16, 0xfee00000, 4);
    address_space_write(f->m->mmio, table + 20, 0, 4);
    address_space_write(f->m->mmio, table + 24, 0x45, 4);
    /* Entry 1 rang while garbage masked it: unmasking sends it with what is programmed now. */
    g_assert_cmphex(address_space_read(f->m->mmio, pba, 8) & 0x2, ==, 0x2);
    address_space_write(f->m->mmio, table + 28, 0, 4);
    g_assert_cmpuint(f->rec.nr_msis, ==, 1);
    g_assert_cmphex(address_space_read(f->m->mmio, pba, 8) & 0x2, ==, 0);
    pci_msix_notify(d, 1);
    g_assert_cmpuint(f->rec.nr_msis, ==, 2);
    for (unsigned i = 0; i < 2; i++) {
        g_assert_cmphex(f->rec.msis[i].addr, ==, 0xfee00000);
        g_assert_cmphex(f->rec.msis[i].data, ==, 0x45);
    }
}

/* ---- INTx ---- */

static void test_intx(struct fixture *f, gconstpointer data)
{
    struct pci_device *d = f->dev.pci;
    struct pci_device *b;
    struct pci_device_id id = testdev_id;
    GError *err = NULL;

    pci_set_irq(d, true);
    g_assert_true(f->rec.intx[3][0]);
    g_assert_cmpuint(f->rec.intx_calls, ==, 1);
    g_assert_cmphex(cfg_read(f, PCI_STATUS, 2), ==, PCI_STATUS_INTERRUPT);
    pci_set_irq(d, true);
    g_assert_cmpuint(f->rec.intx_calls, ==, 1);
    /* INTx disable lowers the line but not the status bit; clearing it raises again. */
    cfg_write(f, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, 2);
    g_assert_false(f->rec.intx[3][0]);
    g_assert_cmpuint(f->rec.intx_calls, ==, 2);
    g_assert_cmphex(cfg_read(f, PCI_STATUS, 2), ==, PCI_STATUS_INTERRUPT);
    cfg_write(f, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE | PCI_COMMAND_IO, 2);
    g_assert_cmpuint(f->rec.intx_calls, ==, 2);
    cfg_write(f, PCI_COMMAND, 0, 2);
    g_assert_true(f->rec.intx[3][0]);
    g_assert_cmpuint(f->rec.intx_calls, ==, 3);
    pci_set_irq(d, false);
    g_assert_false(f->rec.intx[3][0]);
    g_assert_cmphex(cfg_read(f, PCI_STATUS, 2), ==, 0);
    /* While disabled, level changes reach the status bit only. */
    cfg_write(f, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, 2);
    pci_set_irq(d, true);
    pci_set_irq(d, false);
    g_assert_cmpuint(f->rec.intx_calls, ==, 4);

    /* Pin B of slot 6: no swizzle here, Xen does it. */
    id.interrupt_pin = 2;
    b = pci_device_add(f->bus, PCI_DEVFN(6, 0), "pinb", &id, NULL, NULL, &err);
    g_assert_no_error(err);
    pci_set_irq(b, true);
    g_assert_true(f->rec.intx[6][1]);
    /* Removing a function with its line high lowers it. */
    pci_device_remove(b);
    g_assert_false(f->rec.intx[6][1]);
    /* No pin: nothing is signalled. */
    id.interrupt_pin = 0;
    b = pci_device_add(f->bus, PCI_DEVFN(7, 0), "nopin", &id, NULL, NULL, &err);
    pci_set_irq(b, true);
    g_assert_cmpuint(f->rec.intx_calls, ==, 6);
}

/* ---- bus: claims, addresses, reset, description ---- */

static void test_claims(struct fixture *f, gconstpointer data)
{
    GError *err = NULL;
    struct pci_device *a, *b;

    g_assert_true(f->rec.claimed[DEVFN]);
    a = pci_device_add(f->bus, PCI_DEVFN_AUTO, "auto1", &testdev_id, NULL, NULL, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(pci_device_devfn(a), ==, PCI_DEVFN(1, 0));
    g_assert_true(f->rec.claimed[PCI_DEVFN(1, 0)]);
    b = pci_device_add(f->bus, PCI_DEVFN_AUTO, "auto2", &testdev_id, NULL, NULL, &err);
    g_assert_cmpuint(pci_device_devfn(b), ==, PCI_DEVFN(2, 0));
    g_assert_cmpstr(pci_device_name(b), ==, "auto2");
    g_assert_true(pci_device_machine(b) == f->m);
    g_assert_true(machine_pci_bus(f->m) == f->bus);
    /* Function 0 of a multi-function slot says so in its header type. */
    struct pci_device_id multi = testdev_id;
    multi.multifunction = true;
    g_assert_nonnull(pci_device_add(f->bus, PCI_DEVFN(9, 0), "multi", &multi, NULL, NULL, &err));
    g_assert_cmphex(pci_bus_config_read(f->bus, PCI_DEVFN(9, 0), PCI_HEADER_TYPE, 1), ==, 0x80);

    g_assert_null(pci_device_add(f->bus, DEVFN, "dup", &testdev_id, NULL, NULL, &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_null(pci_device_add(f->bus, 256, "big", &testdev_id, NULL, NULL, &err));
    g_assert_nonnull(err);
    g_clear_error(&err);

    pci_device_remove(a);
    g_assert_false(f->rec.claimed[PCI_DEVFN(1, 0)]);
    g_assert_cmphex(pci_bus_config_read(f->bus, PCI_DEVFN(1, 0), 0, 4), ==, 0xffffffff);
    g_assert_cmpuint(f->rec.claims, ==, 4);
    g_assert_cmpuint(f->rec.releases, ==, 1);
    /* A second bus on the same machine is refused. */
    g_assert_null(pci_bus_new(f->m));
}

static void test_bus_free_releases(void)
{
    struct record rec = {0};
    struct machine *m = machine_new();
    struct pci_bus *bus;
    GError *err = NULL;

    m->accel = &fake_accel;
    m->accel_opaque = &rec;
    bus = pci_bus_new(m);
    struct pci_device *d = pci_device_add(bus, 0x08, "x", &testdev_id, NULL, NULL, &err);
    pci_register_bar(d, 0, PCI_BAR_IO, 16, &any_width_ops, NULL);
    pci_bus_config_write(bus, 0x08, 0x10, 0x1000, 4);
    pci_bus_config_write(bus, 0x08, PCI_COMMAND, PCI_COMMAND_IO, 2);
    g_assert_cmpuint(address_space_count(m->io), ==, 1);
    pci_bus_free(bus);
    g_assert_false(rec.claimed[0x08]);
    g_assert_cmpuint(address_space_count(m->io), ==, 0);
    g_assert_null(m->pci_config_read);
    machine_free(m);
}

static void test_reset(struct fixture *f, gconstpointer data)
{
    struct pci_device *d = f->dev.pci;
    int msix = msix_setup(f);
    int msi = pci_msi_init(d, 2, true, true);

    pci_register_bar(d, 2, PCI_BAR_MEM64, 4096, &any_width_ops, &f->dev);
    cfg_write(f, 0x18, 0xe0100000, 4);
    cfg_write(f, 0x1c, 0x1, 4);
    cfg_write(f, PCI_INTERRUPT_LINE, 5, 1);
    program_entry(f, 0, 0xfee00000, 0x70, true);
    cfg_write(f, (uint32_t)msix + 2, 0x8000, 2);
    pci_msix_notify(d, 0);
    g_assert_cmphex(address_space_read(f->m->mmio, PBA, 4), ==, 1);
    cfg_write(f, (uint32_t)msi + 0x10, 1, 4);
    cfg_write(f, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    pci_set_word(d, PCI_STATUS, pci_get_word(d, PCI_STATUS) | 0x8000);
    g_assert_cmphex(pci_bar_address(d, 2), ==, 0x1e0100000ull);
    cfg_write(f, (uint32_t)msix + 2, 0, 2);
    pci_set_irq(d, true);
    g_assert_true(f->rec.intx[3][0]);
    cfg_write(f, (uint32_t)msix + 2, 0x8000, 2);
    g_assert_false(f->rec.intx[3][0]);
    cfg_write(f, (uint32_t)msix + 2, 0, 2);
    cfg_write(f, (uint32_t)msi + 2, 1, 2);

    pci_bus_reset(f->bus);
    g_assert_cmpuint(f->dev.resets, ==, 1);
    g_assert_cmphex(cfg_read(f, PCI_COMMAND, 2), ==, 0);
    g_assert_cmphex(cfg_read(f, PCI_STATUS, 2), ==, PCI_STATUS_CAP_LIST);
    g_assert_cmphex(cfg_read(f, PCI_INTERRUPT_LINE, 1), ==, 0);
    g_assert_cmphex(cfg_read(f, 0x10, 4), ==, 0);
    g_assert_cmphex(cfg_read(f, 0x18, 4), ==, PCI_BAR_MEM64);
    g_assert_cmphex(cfg_read(f, 0x1c, 4), ==, 0);
    g_assert_cmpuint(address_space_count(f->m->mmio), ==, 0);
    g_assert_false(pci_msi_enabled(d));
    g_assert_cmphex(cfg_read(f, (uint32_t)msi + 0x10, 4), ==, 0);
    g_assert_cmphex(cfg_read(f, (uint32_t)msi + 4, 4), ==, 0);
    g_assert_false(pci_msix_enabled(d));
    g_assert_false(f->rec.intx[3][0]);
    /* Remap: the table is masked again and nothing is pending. */
    cfg_write(f, 0x10, MSIX_BASE, 4);
    cfg_write(f, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
    g_assert_cmphex(address_space_read(f->m->mmio, TABLE + 0xc, 4), ==, 1);
    g_assert_cmphex(address_space_read(f->m->mmio, TABLE, 8), ==, 0);
    g_assert_cmphex(address_space_read(f->m->mmio, PBA, 4), ==, 0);
}

static void check_addr(const char *text, int want)
{
    struct kv_list *kv = kv_new();
    GError *err = NULL;
    int devfn = -2;
    bool ok;

    if (text != NULL)
        kv_set(kv, "addr", text);
    ok = pci_devfn_from_props(kv, &devfn, &err);
    if (want == -2) {
        g_assert_false(ok);
        g_assert_nonnull(err);
        g_clear_error(&err);
    } else {
        g_assert_no_error(err);
        g_assert_true(ok);
        g_assert_cmpint(devfn, ==, want);
    }
    g_assert_null(kv_first_unused(kv));
    kv_free(kv);
}

static void test_devfn_props(void)
{
    check_addr(NULL, PCI_DEVFN_AUTO);
    check_addr("3", 0x18);
    check_addr("0x3", 0x18);
    check_addr("03.0", 0x18);
    check_addr("1f.7", 0xff);
    check_addr("2.1", 0x11);
    check_addr("20", -2);
    check_addr("3.8", -2);
    check_addr("x", -2);
    check_addr("", -2);
    check_addr("3.", -2);
    check_addr("-1", -2);
    check_addr("3 ", -2);
}

static void test_describe(struct fixture *f, gconstpointer data)
{
    GString *out = g_string_new("");

    pci_register_bar(f->dev.pci, 0, PCI_BAR_IO, 32, &any_width_ops, &f->dev);
    pci_register_bar(f->dev.pci, 1, PCI_BAR_MEM32 | PCI_BAR_PREFETCH, 4096, NULL, NULL);
    cfg_write(f, 0x10, 0xc000, 4);
    cfg_write(f, PCI_COMMAND, PCI_COMMAND_IO, 2);
    pci_bus_describe(f->bus, out);
    g_assert_nonnull(strstr(out->str, "00:03.0 1af4:1110 class 0102 testdev"));
    g_assert_nonnull(strstr(out->str, "BAR0 io 0xc000 size 32"));
    g_assert_nonnull(strstr(out->str, "BAR1 mem32 pref unmapped size 4096"));
    g_string_free(out, TRUE);
}

/* Two functions of slot 4 on INTA: the wire is their OR; Xen hears 0 -> 1 and 1 -> 0 only. */
static void test_intx_shared_slot(struct fixture *f, gconstpointer data)
{
    struct pci_device_id id = testdev_id;
    GError *err = NULL;
    struct pci_device *fn0, *fn1;

    id.multifunction = true;
    fn0 = pci_device_add(f->bus, PCI_DEVFN(4, 0), "fn0", &id, NULL, NULL, &err);
    g_assert_no_error(err);
    fn1 = pci_device_add(f->bus, PCI_DEVFN(4, 1), "fn1", &testdev_id, NULL, NULL, &err);
    g_assert_no_error(err);
    pci_set_irq(fn0, true);
    g_assert_true(f->rec.intx[4][0]);
    g_assert_cmpuint(f->rec.intx_calls, ==, 1);
    pci_set_irq(fn1, true);
    g_assert_cmpuint(f->rec.intx_calls, ==, 1); /* already high */
    pci_set_irq(fn0, false);
    g_assert_true(f->rec.intx[4][0]);           /* fn1 still drives it */
    g_assert_cmpuint(f->rec.intx_calls, ==, 1);
    pci_device_remove(fn1);                     /* a departing function lets go */
    g_assert_false(f->rec.intx[4][0]);
    g_assert_cmpuint(f->rec.intx_calls, ==, 2);
    pci_device_remove(fn0);
}

static void add(const char *name, void (*fn)(struct fixture *, gconstpointer))
{
    g_test_add(name, struct fixture, NULL, fixture_setup, fn, fixture_teardown);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    add("/pci/config/header", test_header);
    add("/pci/config/command-status", test_command_status);
    add("/pci/config/refused", test_refused_accesses);
    add("/pci/bar/sizing", test_bar_sizing);
    add("/pci/bar/enable", test_bar_enable);
    add("/pci/bar/move", test_bar_move);
    add("/pci/bar/overlap", test_bar_overlap);
    add("/pci/bar/64bit", test_bar64);
    add("/pci/bar/widths", test_bar_widths);
    add("/pci/bar/rom", test_rom);
    add("/pci/bar/romfile", test_romfile);
    add("/pci/capabilities", test_capabilities);
    add("/pci/msi/vectors-and-masking", test_msi);
    add("/pci/msi/32bit", test_msi_32bit);
    add("/pci/msix/table", test_msix_table);
    add("/pci/msix/masking", test_msix_masking);
    add("/pci/msix/exclusive-bar", test_msix_exclusive_bar);
    add("/pci/msix/garbage", test_msix_garbage);
    add("/pci/intx", test_intx);
    add("/pci/intx-shared-slot", test_intx_shared_slot);
    add("/pci/bus/claims", test_claims);
    g_test_add_func("/pci/bus/free-releases", test_bus_free_releases);
    add("/pci/bus/reset", test_reset);
    g_test_add_func("/pci/bus/devfn-props", test_devfn_props);
    add("/pci/bus/describe", test_describe);
    return g_test_run();
}
