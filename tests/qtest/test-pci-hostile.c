/*
 * A guest that programs PCI functions badly on purpose: BARs on top of each other, over RAM,
 * over the local APIC, at 0 and at all-ones while decoding; MSI-X table and PBA accesses of
 * every width at every offset; configuration accesses past 256 bytes and of sizes no CPU
 * makes. xendm must answer every ioreq, keep serving, and leave cleanly (the harness runs
 * xensim with --strict-dm-exit, so a sanitizer report or a leaked ioreq server fails the
 * test). xendm only: the tests use xendm-testdev.
 */
#include "qtest-pci.h"

#include <inttypes.h>
#include <string.h>

#define CMD(...) g_free(qtest_cmd_ok(__VA_ARGS__))

/* The interrupt events (of one kind) since the last look are exactly these, in order. */
#define EXPECT_MSIS(qt, ...) qirq_expect(qt, "msi ", (const char *const[]){ __VA_ARGS__, NULL })

#define DEV_A QPCI_DEVFN(5, 0)
#define DEV_B QPCI_DEVFN(6, 0)
#define TESTDEV_MAGIC 0x544d4458u

#define REG_VENDOR 0x00
#define REG_COMMAND 0x04
#define REG_BAR(n) (0x10 + 4 * (n))
#define CMD_IO 0x1
#define CMD_MEMORY 0x2
#define CMD_MASTER 0x4

#define BAR_A UINT64_C(0xe0000000)
#define BAR_B UINT64_C(0xe0010000)
#define BAR_MSIX UINT64_C(0xe0400000)
#define RAM_ADDR UINT64_C(0x00100000)
#define LAPIC_ADDR UINT64_C(0xfee00000)

#define TD_SCRATCH 0x04
#define TD_MSI_DOORBELL 0x0c
#define TD_MSIX_DOORBELL 0x10

static bool skip_unless_xendm(void)
{
    if (!qtest_dm_is_xendm()) {
        g_test_skip("xendm-testdev exists only in xendm");
        return true;
    }
    return false;
}

static struct qtest *start_two(void)
{
    return qtest_start("--serial null",
                       "-device xendm-testdev,addr=5 -device xendm-testdev,addr=6");
}

/* The device model is still there and answering configuration cycles and BAR0 of DEV_A. */
static void assert_alive(struct qtest *qt)
{
    char *status = qtest_dm_status(qt);

    g_assert_cmpstr(status, ==, "running");
    g_free(status);
    g_assert_cmphex(qpci_read(qt, DEV_A, REG_VENDOR, 4), ==, 0x7e571234);
}

static void map_bar0(struct qtest *qt, unsigned devfn, uint64_t addr)
{
    qpci_write(qt, devfn, REG_BAR(0), (uint32_t)addr, 4);
    qpci_write(qt, devfn, REG_COMMAND, CMD_MEMORY | CMD_MASTER, 2);
}

static void test_overlapping_bars(void)
{
    struct qtest *qt;
    uint32_t magic;

    if (skip_unless_xendm())
        return;
    qt = start_two();
    map_bar0(qt, DEV_A, BAR_A);
    qtest_writel(qt, BAR_A + TD_SCRATCH, 0xaaaa);
    /* B's BAR0 lands on A's: one of them may answer there, nothing may break. */
    map_bar0(qt, DEV_B, BAR_A);
    magic = qtest_readl(qt, BAR_A);
    g_assert_true(magic == TESTDEV_MAGIC || magic == 0xffffffff);
    /* B's 1 MiB BAR2 over both BAR0s, and its I/O BAR over the PCI config ports. */
    qpci_write(qt, DEV_B, REG_BAR(2), (uint32_t)BAR_A, 4);
    qpci_write(qt, DEV_B, REG_BAR(3), 0, 4);
    qpci_write(qt, DEV_B, REG_BAR(1), 0xcf8, 4);
    qpci_write(qt, DEV_B, REG_COMMAND, CMD_IO | CMD_MEMORY, 2);
    assert_alive(qt);
    /* Moved apart, both answer at their own places with their own state. */
    qpci_write(qt, DEV_B, REG_BAR(1), 0xc100, 4);
    qpci_write(qt, DEV_B, REG_BAR(2), 0xe0100000, 4);
    qpci_write(qt, DEV_B, REG_BAR(0), (uint32_t)BAR_B, 4);
    g_assert_cmphex(qtest_readl(qt, BAR_A), ==, TESTDEV_MAGIC);
    g_assert_cmphex(qtest_readl(qt, BAR_B), ==, TESTDEV_MAGIC);
    g_assert_cmphex(qtest_readl(qt, BAR_A + TD_SCRATCH), ==, 0xaaaa);
    qtest_writel(qt, BAR_B + TD_SCRATCH, 0xbbbb);
    g_assert_cmphex(qtest_readl(qt, BAR_A + TD_SCRATCH), ==, 0xaaaa);
    g_assert_cmphex(qtest_readl(qt, BAR_B + TD_SCRATCH), ==, 0xbbbb);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void test_bars_over_ram_and_lapic(void)
{
    static const uint8_t pattern[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    uint8_t back[8];
    struct qtest *qt;

    if (skip_unless_xendm())
        return;
    qt = start_two();
    qtest_memwrite(qt, RAM_ADDR, pattern, sizeof(pattern));
    map_bar0(qt, DEV_A, RAM_ADDR);
    map_bar0(qt, DEV_B, LAPIC_ADDR);
    /* Xen resolves RAM and its vLAPIC before asking any ioreq server (xensim as well): the
     * BARs there are never reached, whatever the device model claimed. */
    g_assert_cmphex(qtest_readl(qt, LAPIC_ADDR), !=, TESTDEV_MAGIC);
    qtest_writel(qt, LAPIC_ADDR + 0xb0, 0);
    g_assert_cmphex(qtest_readl(qt, RAM_ADDR), ==, 0x04030201);
    /* The guest's RAM itself is untouched by the device model. */
    qtest_memread(qt, RAM_ADDR, back, sizeof(back));
    g_assert_cmpmem(back, sizeof(back), pattern, sizeof(pattern));
    /* 64-bit BAR over the top of the address space and across 4 GiB. */
    qpci_write(qt, DEV_A, REG_BAR(2), 0xfff00000, 4);
    qpci_write(qt, DEV_A, REG_BAR(3), 0xffffffff, 4);
    (void)qtest_readq(qt, UINT64_C(0xfffffffffff00000));
    qpci_write(qt, DEV_A, REG_BAR(3), 0, 4);
    (void)qtest_readq(qt, UINT64_C(0xfff00000));
    /* Back to sane places: everything works again. */
    map_bar0(qt, DEV_A, BAR_A);
    map_bar0(qt, DEV_B, BAR_B);
    assert_alive(qt);
    g_assert_cmphex(qtest_readl(qt, BAR_A), ==, TESTDEV_MAGIC);
    g_assert_cmphex(qtest_readl(qt, BAR_B), ==, TESTDEV_MAGIC);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void test_zero_and_all_ones_bars(void)
{
    struct qtest *qt;

    if (skip_unless_xendm())
        return;
    qt = start_two();
    /* Decoding on while the guest sizes every BAR and leaves them at 0 or all-ones. */
    qpci_write(qt, DEV_A, REG_COMMAND, CMD_IO | CMD_MEMORY | CMD_MASTER, 2);
    for (unsigned bar = 0; bar < 6; bar++) {
        qpci_write(qt, DEV_A, REG_BAR(bar), 0xffffffff, 4);
        (void)qpci_read(qt, DEV_A, REG_BAR(bar), 4);
    }
    (void)qtest_readl(qt, UINT64_C(0xfffff000));
    (void)qtest_inb(qt, 0xff00);
    (void)qtest_inb(qt, 0xffff);
    for (unsigned bar = 0; bar < 6; bar++)
        qpci_write(qt, DEV_A, REG_BAR(bar), 0, 4);
    (void)qtest_readl(qt, 0);
    (void)qtest_inb(qt, 0);
    /* Byte and word writes into BARs, unaligned ones included. */
    for (unsigned off = 0; off < 24; off++)
        qpci_write(qt, DEV_A, REG_BAR(0) + off, 0xa5, 1);
    for (unsigned off = 0; off < 24; off += 2)
        qpci_write(qt, DEV_A, REG_BAR(0) + off, 0xffff, 2);
    /* Flipping decode on and off with the BARs wherever they ended up. */
    for (unsigned i = 0; i < 8; i++)
        qpci_write(qt, DEV_A, REG_COMMAND, i & 1 ? 0xffff : 0, 2);
    map_bar0(qt, DEV_A, BAR_A);
    assert_alive(qt);
    g_assert_cmphex(qtest_readl(qt, BAR_A), ==, TESTDEV_MAGIC);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* The MSI-X table and PBA location from the capability, with BAR4 mapped at BAR_MSIX. */
static void msix_map(struct qtest *qt, uint64_t *table, uint64_t *pba, int *cap)
{
    *cap = qpci_find_cap(qt, DEV_A, 0x11);
    g_assert_cmpint(*cap, >=, 0x40);
    *table = BAR_MSIX + (qpci_read(qt, DEV_A, *cap + 4, 4) & ~7u);
    *pba = BAR_MSIX + (qpci_read(qt, DEV_A, *cap + 8, 4) & ~7u);
    qpci_write(qt, DEV_A, REG_BAR(4), (uint32_t)BAR_MSIX, 4);
    map_bar0(qt, DEV_A, BAR_A);
}

static void test_msix_table_every_width(void)
{
    static const unsigned widths[] = { 1, 2, 4, 8 };
    struct qtest *qt;
    uint64_t table, pba;
    int cap;

    if (skip_unless_xendm())
        return;
    qt = start_two();
    msix_map(qt, &table, &pba, &cap);
    qpci_write(qt, DEV_A, cap + 2, 0x8000, 2); /* MSI-X on */
    /* Reads of every width at every byte offset of the 4 entries and the PBA, and beyond. */
    for (unsigned w = 0; w < G_N_ELEMENTS(widths); w++) {
        for (uint64_t off = 0; off < 4 * 16 + 4; off++)
            (void)qmem_read(qt, table + off, widths[w]);
        for (uint64_t off = 0; off < 12; off++)
            (void)qmem_read(qt, pba + off, widths[w]);
    }
    /* Writes of every width at every offset: garbage addresses, data and control words. */
    for (unsigned w = 0; w < G_N_ELEMENTS(widths); w++) {
        for (uint64_t off = 0; off < 4 * 16 + 4; off++)
            qmem_write(qt, table + off, UINT64_C(0xfedcba9876543210) >> (off % 8), widths[w]);
        for (uint64_t off = 0; off < 12; off++)
            qmem_write(qt, pba + off, UINT64_MAX, widths[w]);
        /* Ring every entry and some that do not exist after each round. */
        for (uint32_t v = 0; v < 6; v++)
            qtest_writel(qt, BAR_A + TD_MSIX_DOORBELL, v);
    }
    qtest_writel(qt, BAR_A + TD_MSIX_DOORBELL, 0xffffffff);
    qtest_writel(qt, BAR_A + TD_MSI_DOORBELL, 0xffffffff);
    /* Function mask flapping with pending vectors. */
    for (unsigned i = 0; i < 6; i++)
        qpci_write(qt, DEV_A, cap + 2, i & 1 ? 0xc000 : 0x8000, 2);
    qpci_write(qt, DEV_A, cap + 2, 0x8000, 2);
    /* The table still works: program entry 1 properly and ring it. */
    qtest_writel(qt, table + 16, 0xfee00000);
    qtest_writel(qt, table + 20, 0);
    qtest_writel(qt, table + 24, 0x45);
    qtest_writel(qt, table + 28, 0); /* unmasked: a message left pending goes out now */
    g_strfreev(qirq_events(qt));
    qtest_writel(qt, BAR_A + TD_MSIX_DOORBELL, 1);
    EXPECT_MSIS(qt, "msi 0xfee00000 0x45");
    assert_alive(qt);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void test_config_out_of_range(void)
{
    struct qtest *qt;

    if (skip_unless_xendm())
        return;
    qt = start_two();
    /* AMD extended config (latch bits 27:24 -> register 11:8): past 256 bytes. */
    for (uint32_t ext = 1; ext < 16; ext++) {
        uint32_t latch = 0x80000000u | ext << 24 | DEV_A << 8;
        qtest_outl(qt, 0xcf8, latch);
        g_assert_cmphex(qtest_inl(qt, 0xcfc), ==, 0xffffffff);
        qtest_outl(qt, 0xcfc, 0);
        g_assert_cmphex(qtest_inb(qt, 0xcfd), ==, 0xff);
    }
    /* Raw PCI_CONFIG ioreqs: odd sizes, misaligned and far registers, counts != 1,
     * functions and buses nobody registered. The device model must answer each. */
    static const char *const raw[] = {
        "ioreq pci r 4 1 0x0000002800000100 0",
        "ioreq pci w 4 1 0x0000002800000100 0xffffffff",
        "ioreq pci r 4 1 0x0000002800000ffc 0",
        "ioreq pci r 4 1 0x0000002800001000 0",
        "ioreq pci r 4 1 0x00000028ffffffff 0",
        "ioreq pci r 3 1 0x0000002800000000 0",
        "ioreq pci w 3 1 0x0000002800000004 0xffffff",
        "ioreq pci r 8 1 0x0000002800000000 0",
        "ioreq pci w 8 1 0x0000002800000010 0xffffffffffffffff",
        "ioreq pci r 0 1 0x0000002800000000 0",
        "ioreq pci r 16 1 0x0000002800000000 0",
        "ioreq pci r 4 1 0x0000002800000001 0",
        "ioreq pci w 2 1 0x0000002800000005 0xffff",
        "ioreq pci r 4 0 0x0000002800000000 0",
        "ioreq pci w 4 3 0x0000002800000004 0x7",
        "ioreq pci r 4 1 0x0000002900000000 0",
        "ioreq pci r 4 1 0x0001002800000000 0",
        "ioreq pci r 4 1 0xffffffff00000000 0",
        "ioreq pci w 4 1 0x0000003800000010 0xe0000000",
        "ioreq pci r 4 1 0x0000002800000000 0x1000 1",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(raw); i++)
        CMD(qt, "%s", raw[i]);
    /* Odd sizes on the BARs themselves. */
    map_bar0(qt, DEV_A, BAR_A);
    qpci_write(qt, DEV_A, REG_BAR(1), 0xc000, 4);
    qpci_write(qt, DEV_A, REG_COMMAND, CMD_IO | CMD_MEMORY, 2);
    static const char *const raw_bar[] = {
        "ioreq copy r 3 1 0xe0000000 0",
        "ioreq copy w 3 1 0xe0000004 0xffffff",
        "ioreq copy r 16 1 0xe0000000 0",
        "ioreq copy r 4 1 0xe0000ffe 0",
        "ioreq copy w 8 1 0xe0000ffc 0x1",
        "ioreq copy r 0 1 0xe0000000 0",
        "ioreq pio r 3 1 0xc000 0",
        "ioreq pio w 8 1 0xc0fc 0x1",
        "ioreq pio r 4 1 0xc0fe 0",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(raw_bar); i++)
        CMD(qt, "%s", raw_bar[i]);
    /* The registers still read as they should. */
    g_assert_cmphex(qtest_readl(qt, BAR_A), ==, TESTDEV_MAGIC);
    qtest_outl(qt, 0xc000, 0x01020304);
    g_assert_cmphex(qtest_inl(qt, 0xc000), ==, 0x01020304);
    assert_alive(qt);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* Register writes no driver would make: INTx storms, doorbells with wild vectors. */
static void test_register_abuse(void)
{
    struct qtest *qt;

    if (skip_unless_xendm())
        return;
    qt = start_two();
    map_bar0(qt, DEV_A, BAR_A);
    for (unsigned i = 0; i < 64; i++)
        qtest_writel(qt, BAR_A + 0x08, i * 0x01010101u);
    qtest_writel(qt, BAR_A + 0x08, 0);
    for (uint64_t off = 0x18; off < 0x1000; off += 0x1f8)
        qtest_writel(qt, BAR_A + (off & ~UINT64_C(3)), 0xffffffff);
    for (uint64_t off = 0; off < 0x20; off++)
        qtest_writeb(qt, BAR_A + off, 0xff);
    qtest_writeq(qt, BAR_A + 0x08, UINT64_MAX); /* INTx and MSI doorbell in one go */
    qtest_writel(qt, BAR_A + 0x08, 0);
    assert_alive(qt);
    g_assert_cmphex(qtest_readl(qt, BAR_A), ==, TESTDEV_MAGIC);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/pci-hostile/overlapping-bars", test_overlapping_bars);
    g_test_add_func("/pci-hostile/bars-over-ram-and-lapic", test_bars_over_ram_and_lapic);
    g_test_add_func("/pci-hostile/zero-and-all-ones-bars", test_zero_and_all_ones_bars);
    g_test_add_func("/pci-hostile/msix-table-every-width", test_msix_table_every_width);
    g_test_add_func("/pci-hostile/config-out-of-range", test_config_out_of_range);
    g_test_add_func("/pci-hostile/register-abuse", test_register_abuse);
    return g_test_run();
}
