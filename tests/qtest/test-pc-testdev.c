/*
 * pc-testdev through real ioreqs: the scratch register at 0xe0 (and its byte-implemented
 * alias at 0xe8), REP INS/OUTS to it with data_is_ptr (DF both ways, across a RAM page),
 * the 64 KiB MMIO window at 0xff000000 (every width, unaligned, REP MOVS/STOS both ways and
 * across a page) and the interrupt-line ports at 0x2000. Runs against xendm and against
 * Debian's qemu-xen started with the same -device pc-testdev.
 */
#include "libqtest.h"

#include <inttypes.h>
#include <string.h>

/* A command whose reply carries nothing to check. */
#define CMD(...) g_free(qtest_cmd_ok(__VA_ARGS__))

#define SCRATCH 0xe0
#define FLUSH 0xe4
#define SCRATCH_BYTE 0xe8
#define IRQ_PORT 0x2000
#define IOMEM UINT64_C(0xff000000)
#define IOMEM_SIZE UINT64_C(0x10000)
/* Guest RAM buffers: 64 bytes at RAM_BUF straddle the 4 KiB page boundary at PAGE_EDGE. */
#define RAM_BUF UINT64_C(0x1ffe0)
#define PAGE_EDGE UINT64_C(0x20000)

static struct qtest *start_testdev(void)
{
    return qtest_start("--serial null", "-device pc-testdev");
}

static void fill_pattern(uint8_t *buf, size_t len, uint8_t seed)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(seed + i * 7);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void test_scratch_widths(void)
{
    struct qtest *qt = start_testdev();

    qtest_outl(qt, SCRATCH, 0x12345678);
    g_assert_cmphex(qtest_inl(qt, SCRATCH), ==, 0x12345678);
    g_assert_cmphex(qtest_inb(qt, SCRATCH), ==, 0x78);
    g_assert_cmphex(qtest_inb(qt, SCRATCH + 3), ==, 0x12);
    g_assert_cmphex(qtest_inw(qt, SCRATCH + 2), ==, 0x1234);
    /* A narrow write replaces only the bytes it covers. */
    qtest_outb(qt, SCRATCH + 1, 0xab);
    g_assert_cmphex(qtest_inl(qt, SCRATCH), ==, 0x1234ab78);
    qtest_outw(qt, SCRATCH + 2, 0xcdef);
    g_assert_cmphex(qtest_inl(qt, SCRATCH), ==, 0xcdefab78);
    /* 0xe8-0xeb is the same register, decoded a byte at a time. */
    g_assert_cmphex(qtest_inl(qt, SCRATCH_BYTE), ==, 0xcdefab78);
    g_assert_cmphex(qtest_inb(qt, SCRATCH_BYTE + 2), ==, 0xef);
    qtest_outl(qt, SCRATCH_BYTE, 0x0badf00d);
    g_assert_cmphex(qtest_inl(qt, SCRATCH), ==, 0x0badf00d);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void test_flush_page(void)
{
    struct qtest *qt = start_testdev();

    qtest_outl(qt, FLUSH, 0x00100000);
    g_assert_cmphex(qtest_inl(qt, FLUSH), ==, 0);
    /* The device model is still there and the scratch register untouched. */
    qtest_outl(qt, SCRATCH, 0x55aa55aa);
    g_assert_cmphex(qtest_inl(qt, SCRATCH), ==, 0x55aa55aa);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* REP OUTS: every element lands on the same register, so the last one written remains. */
static void test_rep_outs(void)
{
    struct qtest *qt = start_testdev();
    uint8_t buf[64];

    fill_pattern(buf, sizeof(buf), 0x11);
    /* Forwards, dwords, the run crossing 0x20000. */
    uint64_t start = PAGE_EDGE - 8;
    qtest_memwrite(qt, start, buf, 16);
    CMD(qt, "outs 4 0x%x 0x%" PRIx64 " 4", SCRATCH, start);
    g_assert_cmphex(qtest_inl(qt, SCRATCH), ==, le32(buf + 12));
    /* Backwards: the element at the lowest address is written last. */
    CMD(qt, "outs 4 0x%x 0x%" PRIx64 " 4 1", SCRATCH, start + 12);
    g_assert_cmphex(qtest_inl(qt, SCRATCH), ==, le32(buf));
    /* Bytes and words: only the low byte or word changes. */
    qtest_outl(qt, SCRATCH, 0xffffffff);
    CMD(qt, "outs 1 0x%x 0x%" PRIx64 " 5", SCRATCH, start);
    g_assert_cmphex(qtest_inl(qt, SCRATCH), ==, 0xffffff00u | buf[4]);
    CMD(qt, "outs 2 0x%x 0x%" PRIx64 " 3 1", SCRATCH, start + 4);
    g_assert_cmphex(qtest_inl(qt, SCRATCH), ==, 0xffff0000u | buf[0] | buf[1] << 8);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* REP INS: every element reads the register; memory around the run is untouched. */
static void test_rep_ins(void)
{
    struct qtest *qt = start_testdev();
    uint8_t got[32], want[32];
    uint64_t start = PAGE_EDGE - 12;

    CMD(qt, "memset 0x%" PRIx64 " 32 0xcc", start - 8);
    qtest_outl(qt, SCRATCH, 0xa1b2c3d4);
    CMD(qt, "ins 4 0x%x 0x%" PRIx64 " 5", SCRATCH, start);
    qtest_memread(qt, start - 8, got, sizeof(got));
    memset(want, 0xcc, sizeof(want));
    for (int i = 0; i < 5; i++)
        memcpy(want + 8 + 4 * i, "\xd4\xc3\xb2\xa1", 4);
    g_assert_cmpmem(got, sizeof(got), want, sizeof(want));

    /* Backwards words, ending below the first one. */
    CMD(qt, "memset 0x%" PRIx64 " 32 0xcc", start - 8);
    CMD(qt, "ins 2 0x%x 0x%" PRIx64 " 3 1", SCRATCH, start + 4);
    qtest_memread(qt, start - 8, got, sizeof(got));
    memset(want, 0xcc, sizeof(want));
    for (int i = 0; i < 3; i++)
        memcpy(want + 8 + 2 * i, "\xd4\xc3", 2);
    g_assert_cmpmem(got, sizeof(got), want, sizeof(want));

    /* Bytes through the byte-implemented alias. */
    CMD(qt, "memset 0x%" PRIx64 " 32 0xcc", start - 8);
    CMD(qt, "ins 1 0x%x 0x%" PRIx64 " 4", SCRATCH_BYTE + 2, start);
    qtest_memread(qt, start, got, 5);
    g_assert_cmpmem(got, 5, "\xb2\xb2\xb2\xb2\xcc", 5);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void test_iomem_widths(void)
{
    struct qtest *qt = start_testdev();

    qtest_writeq(qt, IOMEM, 0x0123456789abcdefull);
    g_assert_cmphex(qtest_readq(qt, IOMEM), ==, 0x0123456789abcdefull);
    g_assert_cmphex(qtest_readl(qt, IOMEM + 4), ==, 0x01234567);
    g_assert_cmphex(qtest_readb(qt, IOMEM + 1), ==, 0xcd);
    char *w = qtest_cmd_ok(qt, "readw 0x%" PRIx64 "", IOMEM + 2);
    g_assert_cmpstr(w, ==, "0x89ab");
    g_free(w);
    qtest_writeb(qt, IOMEM + 3, 0x5a);
    g_assert_cmphex(qtest_readl(qt, IOMEM), ==, 0x5aabcdef);
    CMD(qt, "writew 0x%" PRIx64 " 0xbeef", IOMEM + 6);
    g_assert_cmphex(qtest_readq(qt, IOMEM), ==, 0xbeef45675aabcdefull);
    /* Unaligned, and at the far end of the 64 KiB window. */
    qtest_writel(qt, IOMEM + 0x101, 0xdeadbeef);
    g_assert_cmphex(qtest_readl(qt, IOMEM + 0x101), ==, 0xdeadbeef);
    g_assert_cmphex(qtest_readl(qt, IOMEM + 0x100), ==, 0xadbeef00);
    qtest_writeq(qt, IOMEM + IOMEM_SIZE - 8, 0x1122334455667788ull);
    g_assert_cmphex(qtest_readl(qt, IOMEM + IOMEM_SIZE - 4), ==, 0x11223344);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void check_iomem_bytes(struct qtest *qt, uint64_t addr, const uint8_t *want, size_t len)
{
    for (size_t i = 0; i < len; i++)
        g_assert_cmphex(qtest_readb(qt, addr + i), ==, want[i]);
}

/* REP MOVS RAM -> MMIO and back, forwards and backwards, crossing the window's 4 KiB page. */
static void test_iomem_rep_movs(void)
{
    struct qtest *qt = start_testdev();
    uint8_t src[64], back[64];
    uint64_t mmio = IOMEM + 0x1000 - 24; /* 64 bytes: 24 in one page, 40 in the next */

    fill_pattern(src, sizeof(src), 0x3c);
    qtest_memwrite(qt, RAM_BUF, src, sizeof(src));
    CMD(qt, "movs_to_mmio 4 0x%" PRIx64 " 0x%" PRIx64 " 16",
                 mmio, RAM_BUF);
    check_iomem_bytes(qt, mmio, src, sizeof(src));
    CMD(qt, "memset 0x%" PRIx64 " 64 0", PAGE_EDGE - 32);
    CMD(qt, "movs_from_mmio 1 0x%" PRIx64 " 0x%" PRIx64 " 64",
                 mmio, PAGE_EDGE - 32);
    qtest_memread(qt, PAGE_EDGE - 32, back, sizeof(back));
    g_assert_cmpmem(back, sizeof(back), src, sizeof(src));

    /* DF=1: addresses name the highest element; the same bytes land in the same places. */
    fill_pattern(src, sizeof(src), 0x81);
    qtest_memwrite(qt, RAM_BUF, src, sizeof(src));
    CMD(qt, "movs_to_mmio 2 0x%" PRIx64 " 0x%" PRIx64 " 32 1",
                 mmio + 62, RAM_BUF + 62);
    check_iomem_bytes(qt, mmio, src, sizeof(src));
    CMD(qt, "memset 0x%" PRIx64 " 64 0", PAGE_EDGE - 32);
    CMD(qt, "movs_from_mmio 4 0x%" PRIx64 " 0x%" PRIx64 " 16 1",
                 mmio + 60, PAGE_EDGE + 28);
    qtest_memread(qt, PAGE_EDGE - 32, back, sizeof(back));
    g_assert_cmpmem(back, sizeof(back), src, sizeof(src));
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void test_iomem_rep_stos(void)
{
    struct qtest *qt = start_testdev();
    uint64_t mmio = IOMEM + 0x2000 - 8;

    qtest_writel(qt, mmio - 4, 0x01010101);
    qtest_writel(qt, mmio + 16, 0x02020202);
    CMD(qt, "stos 4 0x%" PRIx64 " 0xfeedface 4", mmio);
    for (int i = 0; i < 4; i++)
        g_assert_cmphex(qtest_readl(qt, mmio + 4 * i), ==, 0xfeedface);
    CMD(qt, "stos 2 0x%" PRIx64 " 0x1234 8 1", mmio + 14);
    for (int i = 0; i < 8; i++)
        g_assert_cmphex(qtest_readb(qt, mmio + 2 * i), ==, 0x34);
    /* Neighbours of the run are untouched. */
    g_assert_cmphex(qtest_readl(qt, mmio - 4), ==, 0x01010101);
    g_assert_cmphex(qtest_readl(qt, mmio + 16), ==, 0x02020202);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static bool irq_log_has(char **log, const char *event)
{
    for (char **l = log; *l; l++) {
        if (!strcmp(*l, event))
            return true;
    }
    return false;
}

static void test_irq_lines(void)
{
    struct qtest *qt = start_testdev();
    char **log;

    g_strfreev(qtest_irq_log(qt));
    qtest_outb(qt, IRQ_PORT + 5, 1);
    g_assert_cmpint(qtest_isa_level(qt, 5), ==, 1);
    qtest_outb(qt, IRQ_PORT + 10, 0x80);
    g_assert_cmpint(qtest_isa_level(qt, 10), ==, 1);
    qtest_outb(qt, IRQ_PORT + 5, 0);
    g_assert_cmpint(qtest_isa_level(qt, 5), ==, 0);
    g_assert_cmpint(qtest_isa_level(qt, 10), ==, 1);
    qtest_outb(qt, IRQ_PORT + 10, 0);
    g_assert_cmpint(qtest_isa_level(qt, 10), ==, 0);
    log = qtest_irq_log(qt);
    g_assert_true(irq_log_has(log, "isa 5 1"));
    g_assert_true(irq_log_has(log, "isa 5 0"));
    g_assert_true(irq_log_has(log, "isa 10 1"));
    g_assert_true(irq_log_has(log, "isa 10 0"));
    g_strfreev(log);
    g_assert_cmphex(qtest_inb(qt, IRQ_PORT + 5), ==, 0);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/*
 * What the guest may do that makes no sense. qemu-xen asserts on lines above 15 (its ISA bus
 * has 16), so this part is xendm's alone.
 */
static void test_hostile(void)
{
    struct qtest *qt;

    if (!qtest_dm_is_xendm()) {
        g_test_skip("qemu-xen aborts on interrupt lines above 15");
        return;
    }
    qt = start_testdev();
    g_strfreev(qtest_irq_log(qt));
    for (unsigned line = 16; line < 24; line++)
        qtest_outb(qt, IRQ_PORT + line, 1);
    char **log = qtest_irq_log(qt);
    g_assert_null(log[0]);
    g_strfreev(log);
    /* A flush with a narrow write is dropped; an 8-byte read past the window's end is split. */
    qtest_outb(qt, FLUSH, 0xff);
    qtest_writel(qt, IOMEM + IOMEM_SIZE - 4, 0x44332211);
    char *v = qtest_cmd_ok(qt, "ioreq copy r 8 1 0x%" PRIx64 " 0",
                           IOMEM + IOMEM_SIZE - 4);
    g_assert_cmpstr(v, ==, "0xffffffff44332211");
    g_free(v);
    /* A PIO ioreq of an impossible size is refused and the device keeps working. */
    CMD(qt, "ioreq pio w 3 1 0x%x 0x5", SCRATCH);
    qtest_outl(qt, SCRATCH, 0x600df00d);
    g_assert_cmphex(qtest_inl(qt, SCRATCH), ==, 0x600df00d);
    char *status = qtest_dm_status(qt);
    g_assert_cmpstr(status, ==, "running");
    g_free(status);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/pc-testdev/scratch", test_scratch_widths);
    g_test_add_func("/pc-testdev/flush-page", test_flush_page);
    g_test_add_func("/pc-testdev/rep-outs", test_rep_outs);
    g_test_add_func("/pc-testdev/rep-ins", test_rep_ins);
    g_test_add_func("/pc-testdev/iomem/widths", test_iomem_widths);
    g_test_add_func("/pc-testdev/iomem/rep-movs", test_iomem_rep_movs);
    g_test_add_func("/pc-testdev/iomem/rep-stos", test_iomem_rep_stos);
    g_test_add_func("/pc-testdev/irq-lines", test_irq_lines);
    g_test_add_func("/pc-testdev/hostile", test_hostile);
    return g_test_run();
}
