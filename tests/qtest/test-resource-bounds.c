/*
 * A guest cannot make xendm spin or flood: an idle device model uses no CPU to speak of, and
 * a guest hammering a device with nonsense gets a bounded number of log lines (the
 * per-call-site rate limit of util/log.c: a burst of 10, then one a second) while every access
 * is still answered.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

#include "libqtest.h"
#include "qtest-pci.h"

#define TESTDEV_IRQ_BASE 0x2000 /* pc-testdev: 0x2000 + line drives ISA line `line` */
#define COM1_SCRATCH 0x3ff
#define COM1_DATA 0x3f8

/* The Xen platform device (5853:0001): slot 2 on xenfv without VGA, in both device models. */
#define PLATFORM_DEVFN QPCI_DEVFN(2, 0)
#define PLATFORM_ID 0x00015853u
#define PCI_COMMAND 0x04
#define PCI_COMMAND_IO 0x1
#define PCI_COMMAND_MEMORY 0x2
#define PCI_BAR0 0x10
#define PCI_BAR1 0x14
#define CHURN_ROUNDS 8
#define CHURN_MOVES_PER_ROUND 150
/* Allocator slack and glib's caches settle in the first round; a leak of even a few dozen bytes
 * per move shows as far more over the later rounds' 1050 BAR moves and 7350 accesses. */
#define CHURN_GROWTH_LIMIT_KIB 64

static int64_t dm_cpu_ns(struct qtest *qt)
{
    g_autofree char *reply = qtest_cmd_ok(qt, "dm_cpu_time");

    return g_ascii_strtoll(reply, NULL, 10);
}

/* An idle guest (vCPUs halted, no timers armed by devices): well under 2% of a CPU. */
static void test_idle_cpu(void)
{
    struct qtest *qt = qtest_start("--serial null", NULL);
    int64_t before, after;

    g_usleep(200 * 1000); /* start-up work is done */
    before = dm_cpu_ns(qt);
    g_assert_cmpint(before, >=, 0);
    g_usleep(1000 * 1000);
    after = dm_cpu_ns(qt);
    g_test_message("%s used %" G_GINT64_FORMAT " us of CPU in 1 s idle", qtest_dm_name(),
                   (after - before) / 1000);
    g_assert_cmpint(after - before, <, 20 * 1000 * 1000);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* 5000 writes to a line pc-testdev does not have: each one logged would be 5000 lines. */
static void test_log_flood_bounded(void)
{
    g_autofree char *log = qtest_tmp_path("dm.log");
    g_autofree char *xensim_args = g_strdup_printf("--serial null --dm-log %s", log);
    struct qtest *qt;
    unsigned lines;

    if (!qtest_dm_is_xendm()) {
        g_test_skip("qemu-xen aborts on an ISA line above 15 (hw/misc/pc-testdev.c)");
        return;
    }
    qt = qtest_start(xensim_args, "-device pc-testdev");
    for (int i = 0; i < 5000; i++) {
        qtest_outb(qt, TESTDEV_IRQ_BASE + 20, 1);
    }
    /* Still serving, and promptly. */
    qtest_outb(qt, COM1_SCRATCH, 0x77);
    g_assert_cmphex(qtest_inb(qt, COM1_SCRATCH), ==, 0x77);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
    lines = qtest_count_in_file(log, "does not exist");
    g_test_message("5000 bad writes gave %u log lines", lines);
    g_assert_cmpuint(lines, >=, 1);
    g_assert_cmpuint(lines, <=, 10 + 30); /* the burst, then at most one a second */
}

/* Anonymous memory only: guest RAM and the ioreq pages are shared mappings (RssShmem/File). */
static long dm_rss_anon_kib(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)pid);
    g_autofree char *text = NULL;
    const char *line;

    if (!g_file_get_contents(path, &text, NULL, NULL) ||
        (line = strstr(text, "RssAnon:")) == NULL) {
        return -1;
    }
    return strtol(line + strlen("RssAnon:"), NULL, 10);
}

/*
 * One round of what a guest can repeat for ever: move the platform device's I/O and memory
 * BARs (each move unclaims and claims ranges and replaces regions), switch decoding off and
 * on, read through the new places, and push bytes out of COM1 (to a null backend).
 */
static void churn_round(struct qtest *qt)
{
    for (unsigned i = 0; i < CHURN_MOVES_PER_ROUND; i++) {
        uint32_t io = 0xc000 + 0x100 * (i % 4);
        uint32_t mem = 0xf0000000u + 0x1000000u * (i % 2);

        qpci_write(qt, PLATFORM_DEVFN, PCI_COMMAND, 0, 2);
        qpci_write(qt, PLATFORM_DEVFN, PCI_BAR0, io, 4);
        qpci_write(qt, PLATFORM_DEVFN, PCI_BAR1, mem, 4);
        qpci_write(qt, PLATFORM_DEVFN, PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY, 2);
        (void)qtest_inb(qt, (uint16_t)io);
        (void)qtest_readl(qt, mem);
        qtest_outb(qt, COM1_DATA, (uint8_t)('a' + i % 26));
    }
}

/* A guest repeating device work for ever does not make the device model grow. */
static void test_memory_flat_under_churn(void)
{
    struct qtest *qt = qtest_start("--serial null", NULL);
    pid_t pid = qtest_dm_pid(qt);
    long first, last;

    g_assert_cmpint(pid, >, 0);
    g_assert_cmphex(qpci_read(qt, PLATFORM_DEVFN, 0, 4), ==, PLATFORM_ID);
    churn_round(qt);
    first = dm_rss_anon_kib(pid);
    g_assert_cmpint(first, >, 0);
    for (unsigned round = 1; round < CHURN_ROUNDS; round++) {
        churn_round(qt);
    }
    last = dm_rss_anon_kib(pid);
    g_test_message("%s anonymous RSS after the first round %ld KiB, after %u rounds %ld KiB",
                   qtest_dm_name(), first, CHURN_ROUNDS, last);
    qtest_outb(qt, COM1_SCRATCH, 0x5a);
    g_assert_cmphex(qtest_inb(qt, COM1_SCRATCH), ==, 0x5a);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
#if defined(__SANITIZE_ADDRESS__)
    /* ASan keeps freed blocks in its quarantine (up to 256 MiB): RSS grows without a leak.
     * LeakSanitizer checks this build for leaks at exit instead. */
    g_test_message("growth not checked under AddressSanitizer");
#else
    if (qtest_dm_is_xendm()) {
        g_assert_cmpint(last - first, <=, CHURN_GROWTH_LIMIT_KIB);
    }
#endif
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/resource-bounds/idle-cpu", test_idle_cpu);
    g_test_add_func("/resource-bounds/log-flood", test_log_flood_bounded);
    g_test_add_func("/resource-bounds/memory-flat-under-churn", test_memory_flat_under_churn);
    return g_test_run();
}
