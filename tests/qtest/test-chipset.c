/*
 * The xenfv chipset as hvmloader and a guest OS meet it: the 0xCF8 address latch, the i440FX
 * host bridge, PIIX3 (PIRQ routing forwarded to Xen as set_pci_link_route, reference §3),
 * PIIX4 power management (S5 through PM1a control becomes remote_shutdown(poweroff)) and the
 * Xen platform device (config header, fixed ports 0x10-0x1f). Runs against xendm and against
 * Debian's qemu-xen, which shares all of it.
 */
#include "qtest-pci.h"

#include <string.h>

#define HOST_BRIDGE QPCI_DEVFN(0, 0)
#define PIIX3 QPCI_DEVFN(1, 0)
#define PIIX4_PM QPCI_DEVFN(1, 3)

#define REG_VENDOR 0x00
#define REG_COMMAND 0x04
#define REG_CLASS 0x08
#define REG_HEADER_TYPE 0x0e
#define REG_SUBSYSTEM 0x2c
#define REG_INT_PIN 0x3d

#define PIIX3_PIRQRC 0x60 /* PIRQ[A-D] route control, 0x60-0x63 (PIIX3 datasheet §2.2.11) */
#define PIIX4_PMBA 0x40    /* PM base address (PIIX4 datasheet §3.3.1: bit 0 reads 1) */
#define PIIX4_PMREGMISC 0x80
#define PM_BASE 0xb000
#define PM1A_CNT (PM_BASE + 4)
#define PM1_CNT_SLP_EN 0x2000

#define PLATFORM_VENDOR_DEVICE 0x00015853u
#define PLATFORM_PORT 0x10
#define PLATFORM_MAGIC 0x49d2

/* The interrupt events (of one kind) since the last look are exactly these, in order. */
#define EXPECT_LINKS(qt, ...) qirq_expect(qt, "link ", (const char *const[]){ __VA_ARGS__, NULL })

static struct qtest *start_machine(void)
{
    return qtest_start("--serial null", NULL);
}

/* The slot of the Xen platform device, or -1. */
static int find_platform_slot(struct qtest *qt)
{
    for (unsigned slot = 1; slot < 32; slot++) {
        if (qpci_read(qt, QPCI_DEVFN(slot, 0), REG_VENDOR, 4) == PLATFORM_VENDOR_DEVICE)
            return (int)slot;
    }
    return -1;
}

/* ---- the configuration mechanism ---- */

static void test_cf8_latch(void)
{
    struct qtest *qt = start_machine();

    /* CONFIG_ADDRESS reads back what a dword write put there (PCI 3.0 §3.2.2.3.2). */
    qtest_outl(qt, 0xcf8, 0x80000808);
    g_assert_cmphex(qtest_inl(qt, 0xcf8), ==, 0x80000808);
    /* Narrower writes are plain I/O, not CONFIG_ADDRESS writes: the latch keeps its value. */
    qtest_outb(qt, 0xcf8, 0x00);
    qtest_outw(qt, 0xcfa, 0x1234);
    g_assert_cmphex(qtest_inl(qt, 0xcf8), ==, 0x80000808);
    /* Byte and word reads at 0xCFC-0xCFF select the bytes of the register. */
    qtest_outl(qt, 0xcf8, 0x80000800); /* PIIX3 vendor/device */
    g_assert_cmphex(qtest_inw(qt, 0xcfc), ==, 0x8086);
    g_assert_cmphex(qtest_inw(qt, 0xcfe), ==, 0x7000);
    g_assert_cmphex(qtest_inb(qt, 0xcfd), ==, 0x80);
    g_assert_cmphex(qtest_inb(qt, 0xcff), ==, 0x70);
    /* Enable bit clear: no configuration cycle, all-ones. */
    qtest_outl(qt, 0xcf8, 0x00000000);
    g_assert_cmphex(qtest_inl(qt, 0xcfc), ==, 0xffffffff);
    /* Absent functions and buses read all-ones. */
    g_assert_cmphex(qpci_read(qt, QPCI_DEVFN(0x1f, 0), REG_VENDOR, 4), ==, 0xffffffff);
    g_assert_cmphex(qpci_read(qt, QPCI_DEVFN(1, 5), REG_VENDOR, 4), ==, 0xffffffff);
    g_assert_cmphex(qtest_pci_config_readl(qt, 1, 0, 0, 0), ==, 0xffffffff);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* ---- what hvmloader expects where it expects it ---- */

static void test_chipset_ids(void)
{
    struct qtest *qt = start_machine();

    g_assert_cmphex(qpci_read(qt, HOST_BRIDGE, REG_VENDOR, 4), ==, 0x12378086);
    g_assert_cmphex(qpci_read(qt, HOST_BRIDGE, REG_CLASS, 4) >> 8, ==, 0x060000);
    g_assert_cmphex(qpci_read(qt, PIIX3, REG_VENDOR, 4), ==, 0x70008086);
    g_assert_cmphex(qpci_read(qt, PIIX3, REG_CLASS, 4) >> 8, ==, 0x060100);
    /* PIIX3 is multi-function (IDE, USB, PM behind it). */
    g_assert_cmphex(qpci_read(qt, PIIX3, REG_HEADER_TYPE, 1) & 0x80, ==, 0x80);
    g_assert_cmphex(qpci_read(qt, PIIX4_PM, REG_VENDOR, 4), ==, 0x71138086);
    g_assert_cmphex(qpci_read(qt, PIIX4_PM, REG_CLASS, 4) >> 8, ==, 0x068000);
    /* qemu-xen's default subsystem IDs, 1af4:1100: SeaBIOS and Windows key on them. */
    g_assert_cmphex(qpci_read(qt, HOST_BRIDGE, 0x2c, 4), ==, 0x11001af4);
    g_assert_cmphex(qpci_read(qt, PIIX3, 0x2c, 4), ==, 0x11001af4);
    g_assert_cmphex(qpci_read(qt, PIIX4_PM, 0x2c, 4), ==, 0x11001af4);
    /* Identification is read-only. */
    qpci_write(qt, HOST_BRIDGE, REG_VENDOR, 0, 4);
    qpci_write(qt, PIIX3, REG_VENDOR, 0, 4);
    g_assert_cmphex(qpci_read(qt, HOST_BRIDGE, REG_VENDOR, 4), ==, 0x12378086);
    g_assert_cmphex(qpci_read(qt, PIIX3, REG_VENDOR, 4), ==, 0x70008086);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void test_platform_device_config(void)
{
    struct qtest *qt = start_machine();
    int slot = find_platform_slot(qt);
    unsigned devfn;

    /* Without VGA (xensim's default config: vga="none") it takes the first free slot, 2. */
    g_assert_cmpint(slot, ==, 2);
    devfn = QPCI_DEVFN((unsigned)slot, 0);
    /* Class 0xff80, revision 1 (reference §6). */
    g_assert_cmphex(qpci_read(qt, devfn, REG_CLASS, 4), ==, 0xff800001);
    g_assert_cmphex(qpci_read(qt, devfn, REG_SUBSYSTEM, 4), ==, PLATFORM_VENDOR_DEVICE);
    g_assert_cmphex(qpci_read(qt, devfn, REG_INT_PIN, 1), ==, 1);
    /*
     * No check of the command register: QEMU presets I/O + memory at realize but its
     * device reset clears the writable command bits again, so qemu-xen's guest sees 0
     * (hvmloader enables decoding itself).
     */
    /* BAR0 256 bytes of I/O, BAR1 16 MiB prefetchable memory. */
    qpci_write(qt, devfn, 0x10, 0xffffffff, 4);
    g_assert_cmphex(qpci_read(qt, devfn, 0x10, 4), ==, 0xffffff01);
    qpci_write(qt, devfn, 0x14, 0xffffffff, 4);
    g_assert_cmphex(qpci_read(qt, devfn, 0x14, 4), ==, 0xff000008);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* ---- PIIX3 PIRQ routing ---- */

static void test_pirq_routing(void)
{
    struct qtest *qt = start_machine();

    /* Reset: every link disabled (bit 7, PIIX3 datasheet). */
    g_assert_cmphex(qpci_read(qt, PIIX3, PIIX3_PIRQRC, 4), ==, 0x80808080);
    g_strfreev(qirq_events(qt));

    /* hvmloader's round robin over 5, 10, 11, byte by byte. */
    qpci_write(qt, PIIX3, PIIX3_PIRQRC + 0, 5, 1);
    qpci_write(qt, PIIX3, PIIX3_PIRQRC + 1, 10, 1);
    qpci_write(qt, PIIX3, PIIX3_PIRQRC + 2, 11, 1);
    qpci_write(qt, PIIX3, PIIX3_PIRQRC + 3, 5, 1);
    EXPECT_LINKS(qt, "link 0 5", "link 1 10", "link 2 11", "link 3 5");
    g_assert_cmphex(qpci_read(qt, PIIX3, PIIX3_PIRQRC, 4), ==, 0x050b0a05);

    /* Bit 7 disables the link (irq 0 to Xen); only the low nibble is an IRQ. */
    qpci_write(qt, PIIX3, PIIX3_PIRQRC + 2, 0x8b, 1);
    qpci_write(qt, PIIX3, PIIX3_PIRQRC + 1, 0x7e, 1);
    EXPECT_LINKS(qt, "link 2 0", "link 1 14");

    /* A dword write routes all four, in register order. */
    qpci_write(qt, PIIX3, PIIX3_PIRQRC, 0x0309040b, 4);
    EXPECT_LINKS(qt, "link 0 11", "link 1 4", "link 2 9", "link 3 3");
    /* A word write touches its two links only. */
    qpci_write(qt, PIIX3, PIIX3_PIRQRC + 2, 0x0c06, 2);
    EXPECT_LINKS(qt, "link 2 6", "link 3 12");
    g_assert_cmphex(qpci_read(qt, PIIX3, PIIX3_PIRQRC, 4), ==, 0x0c06040b);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* ---- PIIX4 power management: S5 ---- */

static void program_pm_base(struct qtest *qt)
{
    qpci_write(qt, PIIX4_PM, PIIX4_PMBA, PM_BASE | 1, 4);
    qpci_write(qt, PIIX4_PM, PIIX4_PMREGMISC, 1, 1);
}

static void test_pm_config(void)
{
    struct qtest *qt = start_machine();

    program_pm_base(qt);
    g_assert_cmphex(qpci_read(qt, PIIX4_PM, PIIX4_PMBA, 4), ==, PM_BASE | 1);
    g_assert_cmphex(qpci_read(qt, PIIX4_PM, PIIX4_PMREGMISC, 1) & 1, ==, 1);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void test_s5_poweroff(void)
{
    struct qtest *qt = start_machine();
    char *reason;
    char **events;
    bool logged = false;

    program_pm_base(qt);
    g_strfreev(qirq_events(qt));
    /* SLP_TYP 0 is S5 in hvmloader's DSDT (and QEMU's); SLP_EN starts the transition. */
    qtest_outw(qt, PM1A_CNT, PM1_CNT_SLP_EN);
    reason = qtest_cmd_ok(qt, "shutdown_reason");
    g_assert_cmpstr(reason, ==, "poweroff");
    g_free(reason);
    events = qirq_events(qt);
    for (char **e = events; *e; e++)
        logged |= !strcmp(*e, "shutdown poweroff");
    g_strfreev(events);
    g_assert_true(logged);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* ---- the platform device's fixed ports ---- */

static void test_platform_ports(void)
{
    struct qtest *qt = start_machine();

    g_assert_cmphex(qtest_inw(qt, PLATFORM_PORT), ==, PLATFORM_MAGIC);
    g_assert_cmphex(qtest_inb(qt, PLATFORM_PORT + 2), ==, 1); /* version */
    /* Flags: bit 0 is the ROM lock (gfns 0xc0-0xff read-only), read back as written. */
    qtest_outb(qt, PLATFORM_PORT, 1);
    g_assert_cmphex(qtest_inb(qt, PLATFORM_PORT), ==, 1);
    qtest_outb(qt, PLATFORM_PORT, 0);
    g_assert_cmphex(qtest_inb(qt, PLATFORM_PORT), ==, 0);
    /* A PV driver's handshake: product number, build, then the unplug of disks and NICs. */
    qtest_outw(qt, PLATFORM_PORT + 2, 3);
    qtest_outl(qt, PLATFORM_PORT, 0x00000001);
    qtest_outw(qt, PLATFORM_PORT, 0x0003);
    /* The log byte port collects a line. */
    for (const char *p = "xendm qtest\n"; *p; p++)
        qtest_outb(qt, PLATFORM_PORT + 2, (uint8_t)*p);
    /* Still there afterwards. */
    g_assert_cmphex(qtest_inw(qt, PLATFORM_PORT), ==, PLATFORM_MAGIC);
    g_assert_cmphex(qpci_read(qt, QPCI_DEVFN(2, 0), REG_VENDOR, 4), ==, PLATFORM_VENDOR_DEVICE);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/chipset/cf8-latch", test_cf8_latch);
    g_test_add_func("/chipset/ids", test_chipset_ids);
    g_test_add_func("/chipset/platform-device-config", test_platform_device_config);
    g_test_add_func("/chipset/pirq-routing", test_pirq_routing);
    g_test_add_func("/chipset/pm-config", test_pm_config);
    g_test_add_func("/chipset/s5-poweroff", test_s5_poweroff);
    g_test_add_func("/chipset/platform-ports", test_platform_ports);
    return g_test_run();
}
