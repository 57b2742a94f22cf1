/*
 * The PCI core through xendm-testdev (hw/misc/pci-testdev-xendm.c), as a guest drives it:
 * configuration cycles through 0xCF8/0xCFC become PCI_CONFIG ioreqs, BAR accesses become
 * PIO/COPY ioreqs at wherever the guest put the BAR, and what reaches Xen (set_pci_intx_level,
 * inject_msi) is read back from xensim's interrupt log.
 *
 * Covered: read-only and write-1-to-clear config bits, BAR sizing for 32-bit memory, I/O and
 * 64-bit prefetchable BARs, remapping (a moved BAR answers only at its new place), the command
 * register's decode enables, INTx assert/deassert pairs and INTx disable, MSI-X table
 * programming, entry and function masking with pending bits, MSI with several vectors and
 * per-vector masking. xendm only: qemu-xen has no xendm-testdev.
 */
#include "qtest-pci.h"

#include <inttypes.h>
#include <string.h>


/* The interrupt events (of one kind) since the last look are exactly these, in order. */
#define EXPECT_EVENTS(qt, ...) qirq_expect(qt, NULL, (const char *const[]){ __VA_ARGS__, NULL })
#define EXPECT_NOTHING(qt) qirq_expect(qt, NULL, (const char *const[]){ NULL })

#define TESTDEV_SLOT 5
#define TESTDEV QPCI_DEVFN(TESTDEV_SLOT, 0)
#define TESTDEV_MAGIC 0x544d4458u

/* Config registers (PCI 3.0 §6.1). */
#define REG_VENDOR 0x00
#define REG_COMMAND 0x04
#define REG_STATUS 0x06
#define REG_REVISION 0x08
#define REG_CLASS 0x08 /* dword: class << 8 | revision */
#define REG_HEADER_TYPE 0x0e
#define REG_BAR0 0x10
#define REG_SUBSYSTEM 0x2c
#define REG_ROM 0x30
#define REG_CAP_PTR 0x34
#define REG_INT_LINE 0x3c
#define REG_INT_PIN 0x3d
#define BAR_REG(n) (REG_BAR0 + 4 * (n))

#define CMD_IO 0x0001
#define CMD_MEMORY 0x0002
#define CMD_MASTER 0x0004
#define CMD_INTX_DISABLE 0x0400
#define STATUS_INTERRUPT 0x0008
#define STATUS_CAP_LIST 0x0010

/* testdev registers in BAR0 */
#define TD_MAGIC 0x00
#define TD_SCRATCH 0x04
#define TD_INTX 0x08
#define TD_MSI_DOORBELL 0x0c
#define TD_MSIX_DOORBELL 0x10
#define TD_DOORBELLS 0x14

/* Where the tests put the BARs: below the LAPIC and IOAPIC, above any RAM xensim gives us. */
#define BAR0_ADDR UINT64_C(0xe0000000)
#define BAR0_MOVED UINT64_C(0xe0010000)
#define BAR2_ADDR UINT64_C(0xe0100000)
#define BAR2_HIGH UINT64_C(0x4e0200000) /* above 4 GiB (16 GiB + 3.5 GiB) */
#define BAR4_ADDR UINT64_C(0xe0400000)
#define IO_BAR_ADDR 0xc000
#define IO_BAR_MOVED 0xc100

/* MSI-X capability (PCI 3.0 §6.8.2) */
#define MSIX_CTRL 2
#define MSIX_TABLE 4
#define MSIX_PBA 8
#define MSIX_CTRL_ENABLE 0x8000
#define MSIX_CTRL_MASKALL 0x4000
#define MSIX_ENTRY_SIZE 16
#define MSIX_ENTRY_ADDR_LO 0
#define MSIX_ENTRY_ADDR_HI 4
#define MSIX_ENTRY_DATA 8
#define MSIX_ENTRY_CTRL 12

/* MSI capability, 64-bit with per-vector masking (PCI 3.0 §6.8.1) */
#define MSI_CTRL 2
#define MSI_ADDR_LO 4
#define MSI_ADDR_HI 8
#define MSI_DATA 0x0c
#define MSI_MASK 0x10
#define MSI_PENDING 0x14
#define MSI_CTRL_ENABLE 0x0001
#define MSI_CTRL_64BIT 0x0080
#define MSI_CTRL_PVM 0x0100

#define MSI_ADDR UINT64_C(0xfee00000) /* APIC ID 0, physical destination */

static struct qtest *start_testdev(const char *props)
{
    char *dm = g_strdup_printf("-device xendm-testdev,addr=%u%s%s", TESTDEV_SLOT,
                               props ? "," : "", props ? props : "");
    struct qtest *qt = qtest_start("--serial null", dm);

    g_free(dm);
    return qt;
}

static bool skip_unless_xendm(void)
{
    if (!qtest_dm_is_xendm()) {
        g_test_skip("xendm-testdev exists only in xendm");
        return true;
    }
    return false;
}

static void set_command(struct qtest *qt, uint16_t cmd)
{
    qpci_write(qt, TESTDEV, REG_COMMAND, cmd, 2);
}

static void map_bar0(struct qtest *qt)
{
    qpci_write(qt, TESTDEV, BAR_REG(0), (uint32_t)BAR0_ADDR, 4);
    set_command(qt, CMD_MEMORY | CMD_MASTER);
}

static uint32_t bar_size_mask(struct qtest *qt, unsigned bar)
{
    uint32_t old = qpci_read(qt, TESTDEV, BAR_REG(bar), 4);
    uint32_t mask;

    qpci_write(qt, TESTDEV, BAR_REG(bar), 0xffffffff, 4);
    mask = qpci_read(qt, TESTDEV, BAR_REG(bar), 4);
    qpci_write(qt, TESTDEV, BAR_REG(bar), old, 4);
    return mask;
}

/* ---- identity and masks ---- */

static void test_ids(void)
{
    struct qtest *qt;

    if (skip_unless_xendm())
        return;
    qt = start_testdev(NULL);
    g_assert_cmphex(qpci_read(qt, TESTDEV, REG_VENDOR, 4), ==, 0x7e571234);
    g_assert_cmphex(qpci_read(qt, TESTDEV, REG_CLASS, 4) >> 8, ==, 0x00ff00);
    g_assert_cmphex(qpci_read(qt, TESTDEV, REG_HEADER_TYPE, 1), ==, 0x00);
    g_assert_cmphex(qpci_read(qt, TESTDEV, REG_INT_PIN, 1), ==, 1);
    g_assert_cmphex(qpci_read(qt, TESTDEV, REG_STATUS, 2) & STATUS_CAP_LIST, ==,
                    STATUS_CAP_LIST);
    g_assert_cmpint(qpci_find_cap(qt, TESTDEV, 0x05), >=, 0x40);
    g_assert_cmpint(qpci_find_cap(qt, TESTDEV, 0x11), >=, 0x40);
    /* Function 1 of the slot does not exist. */
    g_assert_cmphex(qpci_read(qt, QPCI_DEVFN(TESTDEV_SLOT, 1), REG_VENDOR, 4), ==, 0xffffffff);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void test_config_masks(void)
{
    struct qtest *qt;
    uint32_t class_rev, cap_ptr, status;

    if (skip_unless_xendm())
        return;
    qt = start_testdev(NULL);
    class_rev = qpci_read(qt, TESTDEV, REG_CLASS, 4);
    cap_ptr = qpci_read(qt, TESTDEV, REG_CAP_PTR, 1);
    status = qpci_read(qt, TESTDEV, REG_STATUS, 2);

    /* Identification, header type, capability pointer and pin are read-only. */
    qpci_write(qt, TESTDEV, REG_VENDOR, 0xffffffff, 4);
    qpci_write(qt, TESTDEV, REG_CLASS, 0, 4);
    qpci_write(qt, TESTDEV, REG_HEADER_TYPE, 0xff, 1);
    qpci_write(qt, TESTDEV, REG_CAP_PTR, 0x00, 1);
    qpci_write(qt, TESTDEV, REG_INT_PIN, 0x04, 1);
    qpci_write(qt, TESTDEV, REG_SUBSYSTEM, 0, 4);
    g_assert_cmphex(qpci_read(qt, TESTDEV, REG_VENDOR, 4), ==, 0x7e571234);
    g_assert_cmphex(qpci_read(qt, TESTDEV, REG_CLASS, 4), ==, class_rev);
    g_assert_cmphex(qpci_read(qt, TESTDEV, REG_HEADER_TYPE, 1), ==, 0);
    g_assert_cmphex(qpci_read(qt, TESTDEV, REG_CAP_PTR, 1), ==, cap_ptr);
    g_assert_cmphex(qpci_read(qt, TESTDEV, REG_INT_PIN, 1), ==, 1);
    g_assert_cmphex(qpci_read(qt, TESTDEV, REG_SUBSYSTEM, 4), ==, 0x7e571234);

    /* Status: capability list and interrupt status are read-only, error bits are W1C
     * (nothing set them, so writing ones leaves the register as it was). */
    qpci_write(qt, TESTDEV, REG_STATUS, 0xffff, 2);
    g_assert_cmphex(qpci_read(qt, TESTDEV, REG_STATUS, 2), ==, status);
    qpci_write(qt, TESTDEV, REG_STATUS, 0x0000, 2);
    g_assert_cmphex(qpci_read(qt, TESTDEV, REG_STATUS, 2), ==, status);

    /* The interrupt line is a plain read/write byte for the OS. */
    qpci_write(qt, TESTDEV, REG_INT_LINE, 0x0b, 1);
    g_assert_cmphex(qpci_read(qt, TESTDEV, REG_INT_LINE, 1), ==, 0x0b);

    /* Command: the decode enables, bus master and INTx disable are writable. */
    set_command(qt, CMD_IO | CMD_MEMORY | CMD_MASTER | CMD_INTX_DISABLE);
    g_assert_cmphex(qpci_read(qt, TESTDEV, REG_COMMAND, 2) &
                    (CMD_IO | CMD_MEMORY | CMD_MASTER | CMD_INTX_DISABLE), ==,
                    CMD_IO | CMD_MEMORY | CMD_MASTER | CMD_INTX_DISABLE);
    set_command(qt, 0);
    g_assert_cmphex(qpci_read(qt, TESTDEV, REG_COMMAND, 2), ==, 0);

    /* A byte write touches only its byte: the dword around the line register. */
    qpci_write(qt, TESTDEV, REG_INT_LINE, 0xffffff05, 4);
    g_assert_cmphex(qpci_read(qt, TESTDEV, REG_INT_LINE, 4) & 0xffff, ==, 0x0105);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* ---- BARs ---- */

static void test_bar_sizing(void)
{
    struct qtest *qt;
    uint32_t msix_mask;

    if (skip_unless_xendm())
        return;
    qt = start_testdev(NULL);
    /* 4 KiB non-prefetchable 32-bit memory; 256 bytes of I/O; 1 MiB 64-bit prefetchable. */
    g_assert_cmphex(bar_size_mask(qt, 0), ==, 0xfffff000);
    g_assert_cmphex(bar_size_mask(qt, 1), ==, 0xffffff01);
    g_assert_cmphex(bar_size_mask(qt, 2), ==, 0xfff0000c);
    g_assert_cmphex(bar_size_mask(qt, 3), ==, 0xffffffff);
    /* The MSI-X BAR: 32-bit memory of a power-of-two size of at least one page. */
    msix_mask = bar_size_mask(qt, 4);
    g_assert_cmphex(msix_mask & 0xf, ==, 0);
    g_assert_cmphex(msix_mask & 0xfff, ==, 0);
    g_assert_true(((~(msix_mask & ~0xfu) + 1) & (~(msix_mask & ~0xfu))) == 0);
    /* No BAR5, no expansion ROM: they read 0 and keep reading 0. */
    g_assert_cmphex(bar_size_mask(qt, 5), ==, 0);
    qpci_write(qt, TESTDEV, REG_ROM, 0xfffff801, 4);
    g_assert_cmphex(qpci_read(qt, TESTDEV, REG_ROM, 4), ==, 0);
    /* Sizing restored the BARs: unprogrammed, the kind bits only. */
    g_assert_cmphex(qpci_read(qt, TESTDEV, BAR_REG(1), 4), ==, 0x1);
    g_assert_cmphex(qpci_read(qt, TESTDEV, BAR_REG(2), 4), ==, 0xc);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void test_bar_remap(void)
{
    struct qtest *qt;

    if (skip_unless_xendm())
        return;
    qt = start_testdev(NULL);
    /* Programmed but not enabled: nothing decodes yet. */
    qpci_write(qt, TESTDEV, BAR_REG(0), (uint32_t)BAR0_ADDR | 0xfff, 4);
    g_assert_cmphex(qpci_read(qt, TESTDEV, BAR_REG(0), 4), ==, (uint32_t)BAR0_ADDR);
    g_assert_cmphex(qtest_readl(qt, BAR0_ADDR + TD_MAGIC), ==, 0xffffffff);
    set_command(qt, CMD_MEMORY);
    g_assert_cmphex(qtest_readl(qt, BAR0_ADDR + TD_MAGIC), ==, TESTDEV_MAGIC);
    qtest_writel(qt, BAR0_ADDR + TD_SCRATCH, 0x600df00d);
    g_assert_cmphex(qtest_readl(qt, BAR0_ADDR + TD_SCRATCH), ==, 0x600df00d);
    /* Narrow reads are widened by the core; the magic's bytes come out in order. */
    g_assert_cmphex(qtest_readb(qt, BAR0_ADDR + 1), ==, 0x44);

    /* Moved: the old place stops answering, the new one answers with the same state. */
    qpci_write(qt, TESTDEV, BAR_REG(0), (uint32_t)BAR0_MOVED, 4);
    g_assert_cmphex(qtest_readl(qt, BAR0_ADDR + TD_MAGIC), ==, 0xffffffff);
    g_assert_cmphex(qtest_readl(qt, BAR0_MOVED + TD_MAGIC), ==, TESTDEV_MAGIC);
    g_assert_cmphex(qtest_readl(qt, BAR0_MOVED + TD_SCRATCH), ==, 0x600df00d);
    qtest_writel(qt, BAR0_ADDR + TD_SCRATCH, 0xdead); /* goes nowhere */
    g_assert_cmphex(qtest_readl(qt, BAR0_MOVED + TD_SCRATCH), ==, 0x600df00d);

    /* Memory decode off: the BAR is gone; on again: back at the programmed address. */
    set_command(qt, 0);
    g_assert_cmphex(qtest_readl(qt, BAR0_MOVED + TD_MAGIC), ==, 0xffffffff);
    set_command(qt, CMD_MEMORY);
    g_assert_cmphex(qtest_readl(qt, BAR0_MOVED + TD_MAGIC), ==, TESTDEV_MAGIC);
    /* Read-only registers ignore writes. */
    qtest_writel(qt, BAR0_MOVED + TD_MAGIC, 0);
    g_assert_cmphex(qtest_readl(qt, BAR0_MOVED + TD_MAGIC), ==, TESTDEV_MAGIC);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void test_io_bar(void)
{
    struct qtest *qt;

    if (skip_unless_xendm())
        return;
    qt = start_testdev(NULL);
    qpci_write(qt, TESTDEV, BAR_REG(1), IO_BAR_ADDR, 4);
    g_assert_cmphex(qpci_read(qt, TESTDEV, BAR_REG(1), 4), ==, IO_BAR_ADDR | 1);
    g_assert_cmphex(qtest_inb(qt, IO_BAR_ADDR), ==, 0xff); /* I/O decode still off */
    set_command(qt, CMD_IO);
    qtest_outl(qt, IO_BAR_ADDR + 0x10, 0x44332211);
    qtest_outb(qt, IO_BAR_ADDR + 0xff, 0x99);
    g_assert_cmphex(qtest_inl(qt, IO_BAR_ADDR + 0x10), ==, 0x44332211);
    g_assert_cmphex(qtest_inw(qt, IO_BAR_ADDR + 0x12), ==, 0x4433);
    g_assert_cmphex(qtest_inb(qt, IO_BAR_ADDR + 0xff), ==, 0x99);
    /* Memory decode alone does not enable an I/O BAR. */
    set_command(qt, CMD_MEMORY);
    g_assert_cmphex(qtest_inl(qt, IO_BAR_ADDR + 0x10), ==, 0xffffffff);
    set_command(qt, CMD_IO);
    qpci_write(qt, TESTDEV, BAR_REG(1), IO_BAR_MOVED, 4);
    g_assert_cmphex(qtest_inl(qt, IO_BAR_ADDR + 0x10), ==, 0xffffffff);
    g_assert_cmphex(qtest_inl(qt, IO_BAR_MOVED + 0x10), ==, 0x44332211);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void program_bar64(struct qtest *qt, uint64_t addr)
{
    qpci_write(qt, TESTDEV, BAR_REG(2), (uint32_t)addr, 4);
    qpci_write(qt, TESTDEV, BAR_REG(3), (uint32_t)(addr >> 32), 4);
}

static void test_bar64(void)
{
    struct qtest *qt;

    if (skip_unless_xendm())
        return;
    qt = start_testdev(NULL);
    set_command(qt, CMD_MEMORY);
    program_bar64(qt, BAR2_HIGH);
    g_assert_cmphex(qpci_read(qt, TESTDEV, BAR_REG(2), 4), ==, (uint32_t)BAR2_HIGH | 0xc);
    g_assert_cmphex(qpci_read(qt, TESTDEV, BAR_REG(3), 4), ==, (uint32_t)(BAR2_HIGH >> 32));
    /* Above 4 GiB: every width, across the window, the last quadword. */
    qtest_writeq(qt, BAR2_HIGH + 0x8, UINT64_C(0x0123456789abcdef));
    g_assert_cmphex(qtest_readq(qt, BAR2_HIGH + 0x8), ==, UINT64_C(0x0123456789abcdef));
    g_assert_cmphex(qtest_readl(qt, BAR2_HIGH + 0xc), ==, 0x01234567);
    g_assert_cmphex(qmem_read(qt, BAR2_HIGH + 0xa, 2), ==, 0x89ab);
    qtest_writeq(qt, BAR2_HIGH + 0xffff8, UINT64_C(0xfeedfacecafebeef));
    g_assert_cmphex(qtest_readq(qt, BAR2_HIGH + 0xffff8), ==, UINT64_C(0xfeedfacecafebeef));
    g_assert_cmphex(qtest_readl(qt, BAR2_HIGH + 0x80000), ==, 0); /* never written */
    /* The low half of the window's address alone does not decode it (nothing is there). */
    g_assert_cmphex(qtest_readl(qt, (uint32_t)BAR2_HIGH + 0x8), ==, 0xffffffff);

    /* Moved below 4 GiB (the high dword first, as firmware does): same contents. */
    qpci_write(qt, TESTDEV, BAR_REG(3), 0, 4);
    qpci_write(qt, TESTDEV, BAR_REG(2), (uint32_t)BAR2_ADDR, 4);
    g_assert_cmphex(qtest_readq(qt, BAR2_ADDR + 0x8), ==, UINT64_C(0x0123456789abcdef));
    g_assert_cmphex(qtest_readq(qt, BAR2_HIGH + 0x8), ==, UINT64_C(0xffffffffffffffff));
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* ---- INTx ---- */

static void test_intx(void)
{
    struct qtest *qt;
    char *assert_ev, *deassert_ev;

    if (skip_unless_xendm())
        return;
    qt = start_testdev(NULL);
    map_bar0(qt);
    assert_ev = g_strdup_printf("intx %u 0 1 %u", TESTDEV_SLOT, qirq_intx_gsi(TESTDEV_SLOT, 0));
    deassert_ev = g_strdup_printf("intx %u 0 0 %u", TESTDEV_SLOT,
                                  qirq_intx_gsi(TESTDEV_SLOT, 0));
    g_strfreev(qirq_events(qt));

    qtest_writel(qt, BAR0_ADDR + TD_INTX, 1);
    g_assert_cmphex(qtest_readl(qt, BAR0_ADDR + TD_INTX), ==, 1);
    g_assert_cmphex(qpci_read(qt, TESTDEV, REG_STATUS, 2) & STATUS_INTERRUPT, ==,
                    STATUS_INTERRUPT);
    qtest_writel(qt, BAR0_ADDR + TD_INTX, 1); /* no change, nothing sent */
    qtest_writel(qt, BAR0_ADDR + TD_INTX, 0);
    g_assert_cmphex(qpci_read(qt, TESTDEV, REG_STATUS, 2) & STATUS_INTERRUPT, ==, 0);
    EXPECT_EVENTS(qt, assert_ev, deassert_ev);

    /* INTx disable masks the line to Xen but not the status bit (PCI 3.0 §6.2.2, §6.2.3). */
    qtest_writel(qt, BAR0_ADDR + TD_INTX, 1);
    set_command(qt, CMD_MEMORY | CMD_INTX_DISABLE);
    g_assert_cmphex(qpci_read(qt, TESTDEV, REG_STATUS, 2) & STATUS_INTERRUPT, ==,
                    STATUS_INTERRUPT);
    set_command(qt, CMD_MEMORY);
    qtest_writel(qt, BAR0_ADDR + TD_INTX, 0);
    EXPECT_EVENTS(qt, assert_ev, deassert_ev, assert_ev, deassert_ev);

    /* Asserted while disabled: nothing reaches Xen until the disable bit clears. */
    set_command(qt, CMD_MEMORY | CMD_INTX_DISABLE);
    qtest_writel(qt, BAR0_ADDR + TD_INTX, 1);
    EXPECT_NOTHING(qt);
    set_command(qt, CMD_MEMORY);
    EXPECT_EVENTS(qt, assert_ev);
    g_free(qtest_cmd_ok(qt, "gsi_level %u", qirq_intx_gsi(TESTDEV_SLOT, 0)));
    qtest_writel(qt, BAR0_ADDR + TD_INTX, 0);
    EXPECT_EVENTS(qt, deassert_ev);
    g_free(assert_ev);
    g_free(deassert_ev);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* ---- MSI-X ---- */

struct msix_layout {
    int cap;
    uint64_t table;
    uint64_t pba;
    unsigned entries;
};

/* Maps BAR0 and the MSI-X BAR and finds the table and PBA from the capability. */
static struct msix_layout msix_setup(struct qtest *qt)
{
    struct msix_layout l;
    uint32_t table_reg, pba_reg;

    l.cap = qpci_find_cap(qt, TESTDEV, 0x11);
    g_assert_cmpint(l.cap, >=, 0x40);
    l.entries = (qpci_read(qt, TESTDEV, l.cap + MSIX_CTRL, 2) & 0x7ff) + 1;
    table_reg = qpci_read(qt, TESTDEV, l.cap + MSIX_TABLE, 4);
    pba_reg = qpci_read(qt, TESTDEV, l.cap + MSIX_PBA, 4);
    g_assert_cmpuint(table_reg & 7, ==, 4); /* BIR: BAR4 */
    g_assert_cmpuint(pba_reg & 7, ==, 4);
    qpci_write(qt, TESTDEV, BAR_REG(4), (uint32_t)BAR4_ADDR, 4);
    map_bar0(qt);
    l.table = BAR4_ADDR + (table_reg & ~7u);
    l.pba = BAR4_ADDR + (pba_reg & ~7u);
    return l;
}

static uint64_t msix_entry(const struct msix_layout *l, unsigned n, unsigned field)
{
    return l->table + (uint64_t)n * MSIX_ENTRY_SIZE + field;
}

static void msix_program(struct qtest *qt, const struct msix_layout *l, unsigned n,
                         uint64_t addr, uint32_t data)
{
    qtest_writel(qt, msix_entry(l, n, MSIX_ENTRY_ADDR_LO), (uint32_t)addr);
    qtest_writel(qt, msix_entry(l, n, MSIX_ENTRY_ADDR_HI), (uint32_t)(addr >> 32));
    qtest_writel(qt, msix_entry(l, n, MSIX_ENTRY_DATA), data);
}

static void msix_set_masked(struct qtest *qt, const struct msix_layout *l, unsigned n, bool m)
{
    qtest_writel(qt, msix_entry(l, n, MSIX_ENTRY_CTRL), m ? 1 : 0);
}

static void test_msix(void)
{
    struct qtest *qt;
    struct msix_layout l;

    if (skip_unless_xendm())
        return;
    qt = start_testdev(NULL);
    l = msix_setup(qt);
    g_assert_cmpuint(l.entries, ==, 4);
    /* Entries come out of reset masked (PCI 3.0 §6.8.2.9). */
    for (unsigned n = 0; n < l.entries; n++)
        g_assert_cmphex(qtest_readl(qt, msix_entry(&l, n, MSIX_ENTRY_CTRL)) & 1, ==, 1);
    g_assert_cmphex(qtest_readl(qt, l.pba), ==, 0);

    msix_program(qt, &l, 0, MSI_ADDR, 0x40);
    msix_program(qt, &l, 2, MSI_ADDR | 0x1000, 0x4062); /* APIC 1, level, vector 0x62 */
    g_assert_cmphex(qtest_readl(qt, msix_entry(&l, 0, MSIX_ENTRY_ADDR_LO)), ==, MSI_ADDR);
    g_assert_cmphex(qtest_readl(qt, msix_entry(&l, 2, MSIX_ENTRY_DATA)), ==, 0x4062);
    g_assert_cmphex(qtest_readq(qt, msix_entry(&l, 2, MSIX_ENTRY_DATA)), ==,
                    UINT64_C(0x100004062));
    qpci_write(qt, TESTDEV, l.cap + MSIX_CTRL, MSIX_CTRL_ENABLE, 2);
    g_strfreev(qirq_events(qt));

    /* Masked (from reset): the doorbell sets the pending bit, sends nothing. */
    qtest_writel(qt, BAR0_ADDR + TD_MSIX_DOORBELL, 0);
    EXPECT_NOTHING(qt);
    g_assert_cmphex(qtest_readl(qt, l.pba) & 1, ==, 1);
    /* Unmasked: the pending message goes out once, with the programmed address and data. */
    msix_set_masked(qt, &l, 0, false);
    EXPECT_EVENTS(qt, "msi 0xfee00000 0x40");
    g_assert_cmphex(qtest_readl(qt, l.pba) & 1, ==, 0);
    qtest_writel(qt, BAR0_ADDR + TD_MSIX_DOORBELL, 0);
    EXPECT_EVENTS(qt, "msi 0xfee00000 0x40");

    /* Masked again: twice rung is still one pending message. */
    msix_set_masked(qt, &l, 0, true);
    qtest_writel(qt, BAR0_ADDR + TD_MSIX_DOORBELL, 0);
    qtest_writel(qt, BAR0_ADDR + TD_MSIX_DOORBELL, 0);
    g_assert_cmphex(qtest_readl(qt, l.pba) & 1, ==, 1);
    EXPECT_NOTHING(qt);
    msix_set_masked(qt, &l, 0, false);
    EXPECT_EVENTS(qt, "msi 0xfee00000 0x40");

    /* Function mask: every entry holds its message until the function is unmasked. */
    msix_set_masked(qt, &l, 2, false);
    qpci_write(qt, TESTDEV, l.cap + MSIX_CTRL, MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL, 2);
    qtest_writel(qt, BAR0_ADDR + TD_MSIX_DOORBELL, 2);
    EXPECT_NOTHING(qt);
    g_assert_cmphex(qtest_readl(qt, l.pba) & 0x4, ==, 0x4);
    qpci_write(qt, TESTDEV, l.cap + MSIX_CTRL, MSIX_CTRL_ENABLE, 2);
    EXPECT_EVENTS(qt, "msi 0xfee01000 0x4062");
    g_assert_cmphex(qtest_readl(qt, l.pba), ==, 0);

    /* The table takes a new address while masked and sends it after unmask. */
    msix_set_masked(qt, &l, 0, true);
    msix_program(qt, &l, 0, MSI_ADDR | 0x3000, 0x41);
    msix_set_masked(qt, &l, 0, false);
    qtest_writel(qt, BAR0_ADDR + TD_MSIX_DOORBELL, 0);
    EXPECT_EVENTS(qt, "msi 0xfee03000 0x41");

    /* The PBA is read-only; an entry past the table size is ignored. */
    qtest_writel(qt, l.pba, 0xffffffff);
    g_assert_cmphex(qtest_readl(qt, l.pba), ==, 0);
    qtest_writel(qt, BAR0_ADDR + TD_MSIX_DOORBELL, l.entries);
    EXPECT_NOTHING(qt);
    g_assert_cmphex(qtest_readl(qt, BAR0_ADDR + TD_DOORBELLS), ==, 7); /* rung so far */

    /* MSI-X disabled: the doorbell is not an interrupt (the device falls back to nothing). */
    qpci_write(qt, TESTDEV, l.cap + MSIX_CTRL, 0, 2);
    qtest_writel(qt, BAR0_ADDR + TD_MSIX_DOORBELL, 0);
    EXPECT_NOTHING(qt);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* ---- MSI ---- */

static void test_msi(void)
{
    struct qtest *qt;
    int cap;
    uint16_t ctrl;

    if (skip_unless_xendm())
        return;
    qt = start_testdev(NULL);
    cap = qpci_find_cap(qt, TESTDEV, 0x05);
    g_assert_cmpint(cap, >=, 0x40);
    ctrl = (uint16_t)qpci_read(qt, TESTDEV, cap + MSI_CTRL, 2);
    /* 64-bit, per-vector masking, 4 vectors requested (multiple message capable = 2). */
    g_assert_cmphex(ctrl & (MSI_CTRL_64BIT | MSI_CTRL_PVM), ==, MSI_CTRL_64BIT | MSI_CTRL_PVM);
    g_assert_cmphex((ctrl >> 1) & 7, ==, 2);
    g_assert_cmphex(ctrl & MSI_CTRL_ENABLE, ==, 0);
    map_bar0(qt);

    qpci_write(qt, TESTDEV, cap + MSI_ADDR_LO, (uint32_t)MSI_ADDR, 4);
    qpci_write(qt, TESTDEV, cap + MSI_ADDR_HI, 0, 4);
    qpci_write(qt, TESTDEV, cap + MSI_DATA, 0x50, 2);
    g_assert_cmphex(qpci_read(qt, TESTDEV, cap + MSI_ADDR_LO, 4), ==, (uint32_t)MSI_ADDR);
    g_assert_cmphex(qpci_read(qt, TESTDEV, cap + MSI_DATA, 2), ==, 0x50);
    g_strfreev(qirq_events(qt));

    /* Not enabled: the doorbell sends nothing. */
    qtest_writel(qt, BAR0_ADDR + TD_MSI_DOORBELL, 0);
    EXPECT_NOTHING(qt);

    /* Enabled with 4 vectors (MME = 2): vector n replaces the low data bits. */
    qpci_write(qt, TESTDEV, cap + MSI_CTRL, MSI_CTRL_ENABLE | 2 << 4, 2);
    g_assert_cmphex(qpci_read(qt, TESTDEV, cap + MSI_CTRL, 2) & 0x71, ==, 0x21);
    qtest_writel(qt, BAR0_ADDR + TD_MSI_DOORBELL, 0);
    qtest_writel(qt, BAR0_ADDR + TD_MSI_DOORBELL, 3);
    EXPECT_EVENTS(qt, "msi 0xfee00000 0x50", "msi 0xfee00000 0x53");

    /* Per-vector mask: vector 1 held as pending, sent once on unmask. */
    qpci_write(qt, TESTDEV, cap + MSI_MASK, 0x2, 4);
    qtest_writel(qt, BAR0_ADDR + TD_MSI_DOORBELL, 1);
    EXPECT_NOTHING(qt);
    g_assert_cmphex(qpci_read(qt, TESTDEV, cap + MSI_PENDING, 4), ==, 0x2);
    qtest_writel(qt, BAR0_ADDR + TD_MSI_DOORBELL, 2); /* other vectors still go */
    qpci_write(qt, TESTDEV, cap + MSI_MASK, 0, 4);
    EXPECT_EVENTS(qt, "msi 0xfee00000 0x52", "msi 0xfee00000 0x51");
    g_assert_cmphex(qpci_read(qt, TESTDEV, cap + MSI_PENDING, 4), ==, 0);
    /* The pending bits are read-only. */
    qpci_write(qt, TESTDEV, cap + MSI_PENDING, 0xf, 4);
    g_assert_cmphex(qpci_read(qt, TESTDEV, cap + MSI_PENDING, 4), ==, 0);

    /* Only one vector enabled (MME = 0): vector 1 is beyond it and sends nothing. */
    qpci_write(qt, TESTDEV, cap + MSI_CTRL, MSI_CTRL_ENABLE, 2);
    qtest_writel(qt, BAR0_ADDR + TD_MSI_DOORBELL, 1);
    qtest_writel(qt, BAR0_ADDR + TD_MSI_DOORBELL, 0);
    EXPECT_EVENTS(qt, "msi 0xfee00000 0x50");

    /* The full 64-bit address reaches Xen (reference §3: pirq-style MSIs use the high half). */
    qpci_write(qt, TESTDEV, cap + MSI_ADDR_HI, 0x12, 4);
    qtest_writel(qt, BAR0_ADDR + TD_MSI_DOORBELL, 0);
    EXPECT_EVENTS(qt, "msi 0x12fee00000 0x50");
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* The properties shape the capabilities. */
static void test_vector_properties(void)
{
    struct qtest *qt;
    int cap;

    if (skip_unless_xendm())
        return;
    qt = start_testdev("msix-vectors=16,msi-vectors=0");
    g_assert_cmpint(qpci_find_cap(qt, TESTDEV, 0x05), ==, -1);
    cap = qpci_find_cap(qt, TESTDEV, 0x11);
    g_assert_cmpint(cap, >=, 0x40);
    g_assert_cmphex(qpci_read(qt, TESTDEV, cap + MSIX_CTRL, 2) & 0x7ff, ==, 15);
    g_assert_cmpint(qtest_quit(qt), ==, 0);

    qt = start_testdev("msix-vectors=0,msi-vectors=32");
    g_assert_cmpint(qpci_find_cap(qt, TESTDEV, 0x11), ==, -1);
    cap = qpci_find_cap(qt, TESTDEV, 0x05);
    g_assert_cmpint(cap, >=, 0x40);
    g_assert_cmphex((qpci_read(qt, TESTDEV, cap + MSI_CTRL, 2) >> 1) & 7, ==, 5);
    g_assert_cmphex(bar_size_mask(qt, 4), ==, 0); /* no MSI-X BAR */
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* A bad property value stops xendm before it reports running. */
static void test_bad_properties(void)
{
    static const struct qtest_refusal bad[] = {
        {"-device xendm-testdev,msi-vectors=3", "msi-vectors=3: 0 or a power of two"},
        {"-device xendm-testdev,msi-vectors=64", "msi-vectors=64: 0 or a power of two"},
        {"-device xendm-testdev,msix-vectors=2049", "msix-vectors=2049: at most 2048"},
        {"-device xendm-testdev,addr=0x20", "'0x20' is not a PCI address"},
        {"-device xendm-testdev,colour=blue", "Property 'colour' not found"},
    };

    if (skip_unless_xendm())
        return;
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
        qtest_assert_start_refused("--serial null", bad[i].args, bad[i].message);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/pci/testdev/ids", test_ids);
    g_test_add_func("/pci/testdev/config-masks", test_config_masks);
    g_test_add_func("/pci/testdev/bar-sizing", test_bar_sizing);
    g_test_add_func("/pci/testdev/bar-remap", test_bar_remap);
    g_test_add_func("/pci/testdev/io-bar", test_io_bar);
    g_test_add_func("/pci/testdev/bar64", test_bar64);
    g_test_add_func("/pci/testdev/intx", test_intx);
    g_test_add_func("/pci/testdev/msix", test_msix);
    g_test_add_func("/pci/testdev/msi", test_msi);
    g_test_add_func("/pci/testdev/vector-properties", test_vector_properties);
    g_test_add_func("/pci/testdev/bad-properties", test_bad_properties);
    return g_test_run();
}
