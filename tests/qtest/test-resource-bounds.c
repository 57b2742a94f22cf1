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

#define TESTDEV_IRQ_BASE 0x2000 /* pc-testdev: 0x2000 + line drives ISA line `line` */
#define COM1_SCRATCH 0x3ff

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
    qtest_quit(qt);
}

static unsigned count_lines_with(const char *path, const char *needle)
{
    g_autofree char *text = NULL;
    unsigned n = 0;

    if (!g_file_get_contents(path, &text, NULL, NULL)) {
        return 0;
    }
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle)) {
        n++;
    }
    return n;
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
    lines = count_lines_with(log, "does not exist");
    g_test_message("5000 bad writes gave %u log lines", lines);
    g_assert_cmpuint(lines, >=, 1);
    g_assert_cmpuint(lines, <=, 10 + 30); /* the burst, then at most one a second */
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/resource-bounds/idle-cpu", test_idle_cpu);
    g_test_add_func("/resource-bounds/log-flood", test_log_flood_bounded);
    return g_test_run();
}
