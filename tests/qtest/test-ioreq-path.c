/*
 * The ioreq path between xensim (standing in for Xen) and the device model:
 * routing of unclaimed accesses, the buffered ring's ordering against
 * synchronous requests, INVALIDATE, and malformed requests a hostile guest (or
 * a confused emulator) could produce. Runs against xendm and, for what both
 * share, Debian's qemu-xen.
 */
#include "libqtest.h"

#include <string.h>

#define COM1_SCR 0x3ff
#define COM1_LSR 0x3fd

static struct qtest *start_plain(void)
{
    return qtest_start("--serial null", NULL);
}

static void test_unclaimed_ports_read_all_ones(void)
{
    struct qtest *qt = start_plain();
    /* 0x200 (game port) is emulated by nobody: Xen answers all-ones itself. */
    g_assert_cmphex(qtest_inb(qt, 0x200), ==, 0xff);
    g_assert_cmphex(qtest_inw(qt, 0x200), ==, 0xffff);
    g_assert_cmphex(qtest_inl(qt, 0x200), ==, 0xffffffff);
    qtest_outb(qt, 0x200, 0x12); /* dropped, and nothing breaks */
    g_assert_cmphex(qtest_inb(qt, 0x200), ==, 0xff);
    g_assert_cmphex(qtest_readl(qt, 0xfebf0000), ==, 0xffffffff);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void test_absent_pci_function_reads_all_ones(void)
{
    struct qtest *qt = start_plain();
    /* 00:1f.0 exists on no xenfv machine. */
    g_assert_cmphex(qtest_pci_config_readl(qt, 0, 0x1f, 0, 0), ==, 0xffffffff);
    g_assert_cmphex(qtest_pci_config_readl(qt, 0, 0x1f, 0, 0x3c), ==, 0xffffffff);
    g_assert_cmphex(qtest_pci_config_readl(qt, 3, 0, 0, 0), ==, 0xffffffff);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void test_buffered_before_sync(void)
{
    struct qtest *qt = start_plain();
    /*
     * Xen posts buffered writes without waiting and does not order them with
     * the next synchronous request: the device model must drain the ring
     * first. Twenty writes to the UART scratch register, then a read.
     */
    for (unsigned i = 1; i <= 20; i++)
        g_free(qtest_cmd_ok(qt, "bufioreq pio w 1 0x%x 0x%x", COM1_SCR, i));
    g_assert_cmphex(qtest_inb(qt, COM1_SCR), ==, 20);
    g_free(qtest_cmd_ok(qt, "bufioreq pio w 1 0x%x 0x%x", COM1_SCR, 0x77));
    g_assert_cmphex(qtest_inb(qt, COM1_SCR), ==, 0x77);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void test_buffered_ring_wraps(void)
{
    struct qtest *qt = start_plain();
    /* More entries than the ring holds (511), in batches: the pointers wrap and rebase. */
    for (unsigned round = 0; round < 6; round++) {
        for (unsigned i = 0; i < 200; i++)
            g_free(qtest_cmd_ok(qt, "bufioreq pio w 1 0x%x 0x%x", COM1_SCR, (round + i) & 0xff));
        g_assert_cmphex(qtest_inb(qt, COM1_SCR), ==, (round + 199) & 0xff);
    }
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void test_invalidate_answered(void)
{
    char *out = qtest_tmp_path("inval.out");
    char *xs = g_strdup_printf("--serial file:%s", out);
    struct qtest *qt = qtest_start(xs, NULL);
    qtest_memwrite(qt, 0x40000, "ab", 2);
    g_free(qtest_cmd_ok(qt, "outs 1 0x3f8 0x40000 2"));
    g_free(qtest_cmd_ok(qt, "invalidate"));
    /* Guest memory is reached again after the mapcache was emptied. */
    qtest_memwrite(qt, 0x40000, "cd", 2);
    g_free(qtest_cmd_ok(qt, "outs 1 0x3f8 0x40000 2"));
    char *text = qtest_wait_file(out, 4, 5000);
    g_assert_cmpstr(text, ==, "abcd");
    g_free(text);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
    g_free(xs);
    g_free(out);
}

static void assert_still_serving(struct qtest *qt)
{
    char *status = qtest_dm_status(qt);
    g_assert_cmpstr(status, ==, "running");
    g_free(status);
    g_assert_cmphex(qtest_inb(qt, COM1_LSR), ==, 0x60);
}

static void test_garbage_ioreqs(void)
{
    if (!qtest_dm_is_xendm()) {
        g_test_skip("qemu-xen aborts on malformed ioreqs (hw_error)");
        return;
    }
    struct qtest *qt = start_plain();
    static const char *const garbage[] = {
        "ioreq pio r 3 1 0x3f8 0",                       /* size 3 */
        "ioreq pio r 0 1 0x3f8 0",                       /* size 0 */
        "ioreq pio r 8 1 0x3f8 0",                       /* size 8 is not a port size */
        "ioreq copy r 16 1 0xfebf0000 0",                /* size 16 */
        "ioreq 99 r 4 1 0 0",                            /* unknown type */
        "ioreq 5 w 4 1 0 0",                             /* unused type number */
        "ioreq pio w 1 0 0x3f8 0x10000 1",               /* count 0 */
        "ioreq pio w 1 0xffffffff 0x3f8 0x10000 1",      /* huge count */
        "ioreq pio w 4 0x40000000 0x3f8 0x10000 1",      /* count * size overflows 32 bits */
        "ioreq pio r 1 1 0x3f8 0xfffffffff000 1",        /* data_is_ptr to an unmapped gfn */
        "ioreq pio w 1 16 0x3f8 0xffffffffffffffff 1",   /* buffer wraps the address space */
        "ioreq copy w 4 2 0xfffffffffffffffc 0x10000 1", /* MMIO range wraps */
        "ioreq copy r 8 1000 0x10000 0x20000 1",         /* REP MOVS RAM->RAM, unclaimed */
        "ioreq pci r 4 1 0xffffffff00000ffe 0",          /* config register past 4 KiB */
        "ioreq pci w 2 7 0x0000000100000000 0",          /* config with count > 1 */
        "ioreq timeoffset w 8 1 0 0x7fffffffffffffff",   /* huge clock change */
        "ioreq invalidate r 4 1 0 0",                    /* invalidate as a read */
        "ioreq pio r 1 1 0x3f8 0 0 1",                   /* df set on a single access */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(garbage); i++) {
        char *err = NULL;
        char *r = qtest_cmd(qt, &err, "%s", garbage[i]);
        if (!r)
            g_error("'%s' was not answered: %s", garbage[i], err);
        g_free(r);
    }
    /* An unknown-type read answers all-ones. */
    char *r = qtest_cmd_ok(qt, "ioreq 99 r 4 1 0 0");
    g_assert_cmpstr(r, ==, "0xffffffff");
    g_free(r);
    assert_still_serving(qt);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void test_garbage_buffered(void)
{
    if (!qtest_dm_is_xendm()) {
        g_test_skip("malformed buffered entries are xendm-only");
        return;
    }
    struct qtest *qt = start_plain();
    /* A buffered read, an unknown type and an absurd size code, then a sane write. */
    g_free(qtest_cmd_ok(qt, "bufraw 0x%x 0", 0x3ffu << 12 | 1u << 9));
    g_free(qtest_cmd_ok(qt, "bufraw 0x%x 0", 0x3ffu << 12 | 0x42u));
    g_free(qtest_cmd_ok(qt, "bufioreq pio w 1 0x%x 0x5c", COM1_SCR));
    assert_still_serving(qt);
    g_assert_cmphex(qtest_inb(qt, COM1_SCR), ==, 0x5c);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void test_rep_outs_from_removed_page(void)
{
    if (!qtest_dm_is_xendm()) {
        g_test_skip("qemu-xen aborts when a REP buffer is not RAM");
        return;
    }
    struct qtest *qt = start_plain();
    qtest_memwrite(qt, 0x50000, "xy", 2);
    g_free(qtest_cmd_ok(qt, "outs 1 0x3f8 0x50000 2"));
    g_free(qtest_cmd_ok(qt, "p2m_remove 0x50 1"));
    /* The page is gone: the device model answers without touching it, and lives. */
    char *err = NULL;
    char *r = qtest_cmd(qt, &err, "outs 1 0x3f8 0x50000 2");
    g_free(r);
    g_free(err);
    assert_still_serving(qt);
    g_free(qtest_cmd_ok(qt, "p2m_add 0x50 1"));
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/*
 * Each vCPU has its own slot in the shared page and its own event channel:
 * the device model must serve every one of them, not only vCPU 0.
 */
static void test_every_vcpu_served(void)
{
    struct qtest *qt = qtest_start("--vcpus 4 --serial null", NULL);
    for (unsigned v = 0; v < 4; v++) {
        g_free(qtest_cmd_ok(qt, "vcpu %u", v));
        qtest_outb(qt, COM1_SCR, (uint8_t)(0x40 + v));
        g_assert_cmphex(qtest_inb(qt, COM1_SCR), ==, 0x40 + v);
    }
    /* Interleaved: a write from one vCPU is seen by the next. */
    for (unsigned i = 0; i < 16; i++) {
        g_free(qtest_cmd_ok(qt, "vcpu %u", i % 4));
        qtest_outb(qt, COM1_SCR, (uint8_t)i);
        g_free(qtest_cmd_ok(qt, "vcpu %u", (i + 1) % 4));
        g_assert_cmphex(qtest_inb(qt, COM1_SCR), ==, i);
    }
    char *err = NULL;
    g_assert_null(qtest_cmd(qt, &err, "vcpu 4"));
    g_free(err);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ioreq/unclaimed-ports", test_unclaimed_ports_read_all_ones);
    g_test_add_func("/ioreq/absent-pci-function", test_absent_pci_function_reads_all_ones);
    g_test_add_func("/ioreq/buffered-before-sync", test_buffered_before_sync);
    g_test_add_func("/ioreq/buffered-ring-wraps", test_buffered_ring_wraps);
    g_test_add_func("/ioreq/invalidate", test_invalidate_answered);
    g_test_add_func("/ioreq/every-vcpu", test_every_vcpu_served);
    g_test_add_func("/ioreq/garbage", test_garbage_ioreqs);
    g_test_add_func("/ioreq/garbage-buffered", test_garbage_buffered);
    g_test_add_func("/ioreq/rep-from-removed-page", test_rep_outs_from_removed_page);
    return g_test_run();
}
