/*
 * Save and restore as libxl does them, through xensim's toolstack (qtest dm_save/dm_restore):
 * QMP stop, add-fd + xen-save-devices-state to "/dev/fdset/N", the device model destroyed
 * (SIGHUP), a new one started with -incoming fd:K, "running" in xenstore, query-status
 * "paused", cont. Checks that UART registers and FIFO contents, the i8042 command byte and
 * output queue, port 0x92, pc-testdev's scratch register, MMIO window and interrupt lines, and
 * guest RAM all survive; and that a corrupt, truncated or version-skewed file makes the new
 * device model exit with a clear error before it starts a half-restored machine.
 */
#include "libqtest.h"
#include "qtest-pci.h"

#include <string.h>

#define CMD(...) g_free(qtest_cmd_ok(__VA_ARGS__))

#define COM1 0x3f8
#define COM2 0x2f8
#define SCRATCH 0xe0
#define IRQ_PORT 0x2000
#define IOMEM UINT64_C(0xff000000)
#define RAM_GPA UINT64_C(0x100000)

static struct qtest *start(const char *dm_log)
{
    g_autofree char *args = g_strdup_printf("--serial null --serial null%s%s",
                                            dm_log ? " --dm-log " : "", dm_log ? dm_log : "");
    return qtest_start(args, "-device pc-testdev");
}

/* State a reset would not produce, in every device. */
static void make_state(struct qtest *qt)
{
    static const char ram[] = "guest memory survives";

    qtest_outb(qt, COM1 + 2, 0xc1);        /* FIFOs on, trigger level 14 */
    qtest_outb(qt, COM1 + 4, 0x18);        /* loopback, OUT2 */
    qtest_outb(qt, COM1 + 0, 'x');
    qtest_outb(qt, COM1 + 0, 'y');
    qtest_outb(qt, COM1 + 0, 'z');
    qtest_outb(qt, COM1 + 7, 0x5a);        /* scratch */
    qtest_outb(qt, COM2 + 3, 0x80);        /* divisor 3 (38400 baud) */
    qtest_outb(qt, COM2 + 0, 0x03);
    qtest_outb(qt, COM2 + 3, 0x1b);        /* 8 data bits, even parity */
    qtest_outb(qt, COM2 + 4, 0x08);        /* OUT2: the interrupt reaches the PIC */
    qtest_outb(qt, COM2 + 1, 0x02);        /* THRE interrupt: IRQ 3 high */
    qtest_outb(qt, 0x64, 0x60);            /* i8042 command byte */
    qtest_outb(qt, 0x60, 0x45);
    qtest_outb(qt, 0x60, 0xf2);            /* keyboard identify: FA AB 83 */
    g_assert_cmphex(qtest_inb(qt, 0x60), ==, 0xfa);
    qtest_outb(qt, 0x92, 0x02);
    qtest_outl(qt, SCRATCH, 0x600dcafe);
    qtest_writeq(qt, IOMEM + 0x100, UINT64_C(0x0123456789abcdef));
    qtest_writel(qt, IOMEM + 0xfffc, 0xfeedf00d);
    qtest_outb(qt, IRQ_PORT + 5, 1);
    qtest_memwrite(qt, RAM_GPA, ram, sizeof(ram));
    g_assert_cmpint(qtest_isa_level(qt, 3), ==, 1);
    g_assert_cmpint(qtest_isa_level(qt, 5), ==, 1);
}

static void check_state(struct qtest *qt)
{
    char ram[32] = {0};
    uint8_t id2;

    /*
     * Xen keeps the line levels in the domain's context; xendm drives its lines again from
     * the restored state (a no-op for Xen, but its own bookkeeping must agree). qemu-xen
     * leaves them to Xen's saved context, which xensim does not model for it.
     */
    if (qtest_dm_is_xendm()) {
        char **log = qtest_irq_log(qt);
        g_assert_true(g_strv_contains((const char *const *)log, "isa 3 1"));
        g_assert_true(g_strv_contains((const char *const *)log, "isa 5 1"));
        g_strfreev(log);
        g_assert_cmpint(qtest_isa_level(qt, 3), ==, 1);
        g_assert_cmpint(qtest_isa_level(qt, 5), ==, 1);
        g_assert_cmpint(qtest_isa_level(qt, 1), ==, 1); /* i8042 output buffer full */
    }
    g_assert_cmphex(qtest_inb(qt, COM1 + 4), ==, 0x18);
    g_assert_cmphex(qtest_inb(qt, COM1 + 7), ==, 0x5a);
    g_assert_cmphex(qtest_inb(qt, COM1 + 2) & 0xc0, ==, 0xc0);
    g_assert_cmphex(qtest_inb(qt, COM1 + 0), ==, 'x');
    g_assert_cmphex(qtest_inb(qt, COM1 + 0), ==, 'y');
    g_assert_cmphex(qtest_inb(qt, COM1 + 0), ==, 'z');
    g_assert_cmphex(qtest_inb(qt, COM1 + 5) & 0x01, ==, 0);
    g_assert_cmphex(qtest_inb(qt, COM2 + 3), ==, 0x1b);
    g_assert_cmphex(qtest_inb(qt, COM2 + 1), ==, 0x02);
    qtest_outb(qt, COM2 + 3, 0x9b);
    g_assert_cmphex(qtest_inb(qt, COM2 + 0), ==, 0x03);
    qtest_outb(qt, COM2 + 3, 0x1b);
    g_assert_cmphex(qtest_inb(qt, 0x64) & 0x01, ==, 0x01);
    g_assert_cmphex(qtest_inb(qt, 0x60), ==, 0xab);
    id2 = qtest_inb(qt, 0x60);
    /* The second ID byte: qemu-xen translates it (0x41) with the command byte's XLATE. */
    if (qtest_dm_is_xendm())
        g_assert_cmphex(id2, ==, 0x83);
    qtest_outb(qt, 0x64, 0x20);
    g_assert_cmphex(qtest_inb(qt, 0x60), ==, 0x45);
    g_assert_cmphex(qtest_inb(qt, 0x92), ==, 0x02);
    if (qtest_dm_is_xendm()) { /* QEMU's pc-testdev has no saved state */
        g_assert_cmphex(qtest_inl(qt, SCRATCH), ==, 0x600dcafe);
        g_assert_cmphex(qtest_readq(qt, IOMEM + 0x100), ==, UINT64_C(0x0123456789abcdef));
        g_assert_cmphex(qtest_readl(qt, IOMEM + 0xfffc), ==, 0xfeedf00d);
    }
    qtest_memread(qt, RAM_GPA, ram, sizeof(ram) - 1);
    g_assert_cmpstr(ram, ==, "guest memory survives");
}

static void test_roundtrip(void)
{
    g_autofree char *file = qtest_tmp_path("state");
    struct qtest *qt = start(NULL);
    g_autofree char *status = NULL;

    make_state(qt);
    CMD(qt, "dm_save %s", file);
    CMD(qt, "dm_restore %s", file);
    status = qtest_dm_status(qt);
    g_assert_cmpstr(status, ==, "running");
    check_state(qt);
    /* A second round trip from the restored device model. */
    CMD(qt, "dm_save %s", file);
    CMD(qt, "dm_restore %s", file);
    g_assert_cmphex(qtest_inb(qt, COM1 + 7), ==, 0x5a);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/*
 * PCI state across a save and restore: BAR addresses and the command register (the restored
 * device model must claim the BARs' ranges again), PIIX3's PIRQ routes, PIIX4 PM's PMBA and
 * PM1a_CNT.SCI_EN (set through the APM port as hvmloader does), and for xendm an MSI-X table
 * entry and a pending bit of xendm-testdev. qemu-xen runs the same steps but for the device
 * it lacks.
 */
#define PLATFORM QPCI_DEVFN(2, 0)
#define PIIX3 QPCI_DEVFN(1, 0)
#define PIIX4_PM QPCI_DEVFN(1, 3)
#define TESTDEV QPCI_DEVFN(3, 0)
#define PLATFORM_IO 0xc000
#define PLATFORM_MMIO UINT32_C(0xf0000000)
#define TESTDEV_REGS UINT32_C(0xf1000000)
#define TESTDEV_MSIX UINT32_C(0xf1001000)
#define PM_BASE 0xb000

static void make_pci_state(struct qtest *qt)
{
    qpci_write(qt, PLATFORM, 0x10, PLATFORM_IO | 1, 4);
    qpci_write(qt, PLATFORM, 0x14, PLATFORM_MMIO, 4);
    qpci_write(qt, PLATFORM, 0x04, 0x0003, 2);
    qpci_write(qt, PIIX3, 0x60, 0x0a, 1);
    qpci_write(qt, PIIX3, 0x63, 0x05, 1);
    qpci_write(qt, PIIX4_PM, 0x40, PM_BASE | 1, 4);
    qpci_write(qt, PIIX4_PM, 0x80, 0x01, 1);
    qtest_outb(qt, 0xb2, 0xf1); /* ACPI_ENABLE: SCI_EN */
    g_assert_cmphex(qtest_inw(qt, PM_BASE + 4) & 1, ==, 1);
    if (!qtest_dm_is_xendm()) {
        return;
    }
    qpci_write(qt, TESTDEV, 0x10, TESTDEV_REGS, 4);
    qpci_write(qt, TESTDEV, 0x20, TESTDEV_MSIX, 4);
    qpci_write(qt, TESTDEV, 0x04, 0x0006, 2);
    int cap = qpci_find_cap(qt, TESTDEV, 0x11);
    g_assert_cmpint(cap, >, 0);
    qmem_write(qt, TESTDEV_MSIX + 0, 0xfee01000, 4);
    qmem_write(qt, TESTDEV_MSIX + 8, 0x4031, 4);
    qmem_write(qt, TESTDEV_MSIX + 12, 1, 4);   /* entry 0 stays masked */
    qpci_write(qt, TESTDEV, (unsigned)cap + 2, 0x8000, 2);
    qmem_write(qt, TESTDEV_REGS + 0x10, 0, 4); /* doorbell: entry 0 becomes pending */
    g_assert_cmphex(qmem_read(qt, TESTDEV_MSIX + 0x40, 4) & 1, ==, 1);
    g_strfreev(qirq_events(qt));
}

static void check_pci_state(struct qtest *qt)
{
    g_assert_cmphex(qpci_read(qt, PLATFORM, 0x10, 4), ==, PLATFORM_IO | 1);
    g_assert_cmphex(qpci_read(qt, PLATFORM, 0x14, 4), ==, PLATFORM_MMIO | 8);
    g_assert_cmphex(qpci_read(qt, PLATFORM, 0x04, 2) & 3, ==, 3);
    /* The BAR decodes at its restored address: the platform flags byte answers. */
    g_assert_cmphex(qtest_inb(qt, PLATFORM_IO), ==, 0);
    g_assert_cmphex(qpci_read(qt, PIIX3, 0x60, 1), ==, 0x0a);
    g_assert_cmphex(qpci_read(qt, PIIX3, 0x63, 1), ==, 0x05);
    g_assert_cmphex(qpci_read(qt, PIIX4_PM, 0x40, 4), ==, PM_BASE | 1);
    g_assert_cmphex(qtest_inw(qt, PM_BASE + 4) & 1, ==, 1);
    if (!qtest_dm_is_xendm()) {
        return;
    }
    g_assert_cmphex(qmem_read(qt, TESTDEV_REGS, 4), ==, 0x544d4458);
    g_assert_cmphex(qmem_read(qt, TESTDEV_MSIX + 0, 4), ==, 0xfee01000);
    g_assert_cmphex(qmem_read(qt, TESTDEV_MSIX + 8, 4), ==, 0x4031);
    g_assert_cmphex(qmem_read(qt, TESTDEV_MSIX + 0x40, 4) & 1, ==, 1);
    /* Unmasking delivers the message that was pending when the state was saved, once. */
    g_strfreev(qirq_events(qt));
    qmem_write(qt, TESTDEV_MSIX + 12, 0, 4);
    qirq_expect(qt, "msi ", (const char *const[]){"msi 0xfee01000 0x4031", NULL});
    g_assert_cmphex(qmem_read(qt, TESTDEV_MSIX + 0x40, 4) & 1, ==, 0);
}

static void test_pci(void)
{
    g_autofree char *file = qtest_tmp_path("state");
    struct qtest *qt = qtest_start("--serial null",
                                   qtest_dm_is_xendm() ? "-device xendm-testdev,addr=3" : "");
    g_autofree char *status = NULL;

    make_pci_state(qt);
    CMD(qt, "dm_save %s", file);
    CMD(qt, "dm_restore %s", file);
    status = qtest_dm_status(qt);
    g_assert_cmpstr(status, ==, "running");
    check_pci_state(qt);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static GByteArray *read_file(const char *path)
{
    gchar *data;
    gsize len;

    g_assert_true(g_file_get_contents(path, &data, &len, NULL));
    return g_byte_array_new_take((guint8 *)data, len);
}

static void write_file(const char *path, const GByteArray *bytes)
{
    g_assert_true(g_file_set_contents(path, (const char *)bytes->data, bytes->len, NULL));
}

/* The stream's trailer is a SHA-256 of the rest: recompute it after an edit. */
static void fix_digest(GByteArray *bytes)
{
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    gsize len = 32;

    g_assert_cmpuint(bytes->len, >, 32);
    g_checksum_update(sum, bytes->data, bytes->len - 32);
    g_checksum_get_digest(sum, bytes->data + bytes->len - 32, &len);
    g_checksum_free(sum);
}

/* Sets the version of section `name` (format: include/xendm/vmstate.h). */
static void set_section_version(GByteArray *bytes, const char *name, uint32_t version)
{
    size_t name_len = strlen(name);

    for (guint i = 0; i + 3 + name_len + 8 <= bytes->len; i++) {
        uint8_t *p = bytes->data + i;
        if (p[0] == 'S' && p[1] == name_len && p[2] == 0 && !memcmp(p + 3, name, name_len)) {
            uint8_t *v = p + 3 + name_len + 4;
            for (unsigned b = 0; b < 4; b++)
                v[b] = (uint8_t)(version >> (8 * b));
            fix_digest(bytes);
            return;
        }
    }
    g_assert_not_reached();
}

enum damage { DAMAGE_FLIP, DAMAGE_TRUNCATE, DAMAGE_VERSION, DAMAGE_GARBAGE };

/* Saves, damages the file, restores: the new device model must refuse and exit. */
static void check_refused(enum damage damage, const char *expected_log)
{
    g_autofree char *file = qtest_tmp_path("state");
    g_autofree char *log = qtest_tmp_path("dm.log");
    struct qtest *qt;
    g_autofree char *err_text = NULL;
    g_autofree char *status = NULL;
    g_autofree char *servers = NULL;
    g_autofree char *log_text = NULL;
    GByteArray *bytes;

    /* QEMU's stream has no checksum: only a wrong magic number is sure to stop it. */
    if (!qtest_dm_is_xendm() && damage != DAMAGE_GARBAGE) {
        g_test_skip("xendm's own format");
        return;
    }
    qt = start(log);
    make_state(qt);
    CMD(qt, "dm_save %s", file);
    bytes = read_file(file);
    switch (damage) {
    case DAMAGE_FLIP:
        bytes->data[bytes->len / 2] ^= 0x10;
        break;
    case DAMAGE_TRUNCATE:
        g_byte_array_set_size(bytes, bytes->len / 2);
        break;
    case DAMAGE_VERSION:
        set_section_version(bytes, "port92", 99);
        break;
    case DAMAGE_GARBAGE:
        memset(bytes->data, 0x41, bytes->len);
        break;
    }
    write_file(file, bytes);
    g_byte_array_free(bytes, TRUE);
    g_assert_null(qtest_cmd(qt, &err_text, "dm_restore %s", file));
    g_assert_nonnull(strstr(err_text, "exited with status 1"));
    status = qtest_dm_status(qt);
    g_assert_cmpstr(status, ==, "exited 1");
    /* No ioreq server was left: the machine never started. */
    servers = qtest_cmd_ok(qt, "servers");
    g_assert_cmpstr(servers, ==, "");
    if (qtest_dm_is_xendm()) {
        g_assert_true(g_file_get_contents(log, &log_text, NULL, NULL));
        if (!strstr(log_text, expected_log))
            g_printerr("device model log:\n%s\n", log_text);
        g_assert_nonnull(strstr(log_text, expected_log));
    }
    qtest_kill(qt);
}

static void test_corrupt(void)
{
    check_refused(DAMAGE_FLIP, "corrupt or truncated (checksum mismatch)");
}

static void test_truncated(void)
{
    check_refused(DAMAGE_TRUNCATE, "corrupt or truncated");
}

static void test_version_skew(void)
{
    check_refused(DAMAGE_VERSION, "version skew");
}

static void test_garbage(void)
{
    check_refused(DAMAGE_GARBAGE, "bad magic");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/save-restore/roundtrip", test_roundtrip);
    g_test_add_func("/save-restore/pci", test_pci);
    g_test_add_func("/save-restore/corrupt", test_corrupt);
    g_test_add_func("/save-restore/truncated", test_truncated);
    g_test_add_func("/save-restore/version-skew", test_version_skew);
    g_test_add_func("/save-restore/garbage", test_garbage);
    return g_test_run();
}
