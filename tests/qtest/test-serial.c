/*
 * The 16550A UART at COM1 driven through real ioreqs (xensim qtest mode).
 * The same program runs against xendm and, for the behaviour both share,
 * against Debian's qemu-xen (QTEST_DM): register semantics per the National
 * PC16550D datasheet, output on the chardev, and the ISA interrupt line.
 */
#include "libqtest.h"

#include <string.h>

#define COM1 0x3f8
#define RBR_THR (COM1 + 0)
#define IER (COM1 + 1)
#define IIR_FCR (COM1 + 2)
#define LCR (COM1 + 3)
#define MCR (COM1 + 4)
#define LSR (COM1 + 5)
#define MSR (COM1 + 6)
#define SCR (COM1 + 7)

#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define IER_ETBEI 0x02
#define IER_ERBFI 0x01

struct uart_fixture {
    struct qtest *qt;
    char *out_path;
};

static void uart_start(struct uart_fixture *f)
{
    f->out_path = qtest_tmp_path("com1.out");
    char *xs = g_strdup_printf("--serial file:%s", f->out_path);
    f->qt = qtest_start(xs, NULL);
    g_free(xs);
}

static void uart_stop(struct uart_fixture *f)
{
    g_assert_cmpint(qtest_quit(f->qt), ==, 0);
    g_free(f->out_path);
}

static void test_reset_values(void)
{
    struct uart_fixture f;
    uart_start(&f);
    g_assert_cmphex(qtest_inb(f.qt, IER), ==, 0x00);
    g_assert_cmphex(qtest_inb(f.qt, IIR_FCR), ==, 0x01); /* no interrupt pending */
    g_assert_cmphex(qtest_inb(f.qt, LCR), ==, 0x00);
    g_assert_cmphex(qtest_inb(f.qt, LSR), ==, LSR_THRE | LSR_TEMT);
    if (qtest_dm_is_xendm()) /* datasheet: MCR resets to 0 (qemu-xen presets OUT2) */
        g_assert_cmphex(qtest_inb(f.qt, MCR), ==, 0x00);
    uart_stop(&f);
}

static void test_scratch_and_divisor(void)
{
    struct uart_fixture f;
    uart_start(&f);
    qtest_outb(f.qt, SCR, 0x5a);
    g_assert_cmphex(qtest_inb(f.qt, SCR), ==, 0x5a);
    qtest_outb(f.qt, SCR, 0xa5);
    g_assert_cmphex(qtest_inb(f.qt, SCR), ==, 0xa5);

    /* DLAB=1 exposes the divisor latch at offsets 0 and 1 (115200/9600 = 12). */
    qtest_outb(f.qt, LCR, 0x83);
    qtest_outb(f.qt, RBR_THR, 0x0c);
    qtest_outb(f.qt, IER, 0x00);
    g_assert_cmphex(qtest_inb(f.qt, RBR_THR), ==, 0x0c);
    g_assert_cmphex(qtest_inb(f.qt, IER), ==, 0x00);
    qtest_outb(f.qt, LCR, 0x03);
    g_assert_cmphex(qtest_inb(f.qt, LCR), ==, 0x03);
    /* With DLAB=0 offset 1 is IER again, still 0: the divisor write did not leak. */
    g_assert_cmphex(qtest_inb(f.qt, IER), ==, 0x00);
    uart_stop(&f);
}

static void test_transmit_reaches_chardev(void)
{
    struct uart_fixture f;
    uart_start(&f);
    const char *msg = "hello from the guest\n";
    for (const char *p = msg; *p; p++)
        qtest_outb(f.qt, RBR_THR, (uint8_t)*p);
    g_assert_cmphex(qtest_inb(f.qt, LSR) & (LSR_THRE | LSR_TEMT), ==, LSR_THRE | LSR_TEMT);
    char *out = qtest_wait_file(f.out_path, strlen(msg), 5000);
    g_assert_cmpstr(out, ==, msg);
    g_free(out);
    uart_stop(&f);
}

static void test_loopback(void)
{
    struct uart_fixture f;
    uart_start(&f);
    qtest_outb(f.qt, MCR, MCR_LOOP);
    qtest_outb(f.qt, RBR_THR, 'A');
    g_assert_cmphex(qtest_inb(f.qt, LSR) & LSR_DR, ==, LSR_DR);
    g_assert_cmphex(qtest_inb(f.qt, RBR_THR), ==, 'A');
    g_assert_cmphex(qtest_inb(f.qt, LSR) & LSR_DR, ==, 0);
    /* In loopback the byte does not leave the chip. */
    qtest_outb(f.qt, MCR, 0);
    qtest_outb(f.qt, RBR_THR, 'B');
    char *out = qtest_wait_file(f.out_path, 1, 5000);
    g_assert_cmpstr(out, ==, "B");
    g_free(out);
    uart_stop(&f);
}

/* Sets up the THRE interrupt and returns with IRQ 4 asserted. */
static void raise_thre_interrupt(struct qtest *qt)
{
    qtest_outb(qt, MCR, MCR_OUT2); /* OUT2 gates the IRQ on PC hardware */
    qtest_outb(qt, IER, IER_ETBEI);
    g_assert_cmphex(qtest_inb(qt, IIR_FCR) & 0x0f, ==, 0x02); /* THR empty */
}

static void test_thre_interrupt(void)
{
    struct uart_fixture f;
    uart_start(&f);
    g_strfreev(qtest_irq_log(f.qt));
    qtest_outb(f.qt, MCR, MCR_OUT2);
    qtest_outb(f.qt, IER, IER_ETBEI);
    g_assert_cmpint(qtest_isa_level(f.qt, 4), ==, 1);
    /* Reading IIR while THRE is the source clears it (datasheet, IIR table). */
    g_assert_cmphex(qtest_inb(f.qt, IIR_FCR) & 0x0f, ==, 0x02);
    g_assert_cmphex(qtest_inb(f.qt, IIR_FCR) & 0x0f, ==, 0x01);
    g_assert_cmpint(qtest_isa_level(f.qt, 4), ==, 0);
    /* Writing THR re-arms it once the byte is gone. */
    qtest_outb(f.qt, RBR_THR, 'x');
    g_assert_cmpint(qtest_isa_level(f.qt, 4), ==, 1);
    qtest_outb(f.qt, IER, 0);
    g_assert_cmpint(qtest_isa_level(f.qt, 4), ==, 0);

    char **log = qtest_irq_log(f.qt);
    g_assert_cmpuint(g_strv_length(log), >=, 4);
    if (qtest_dm_is_xendm()) {
        /* xendm sends level changes only: up, down, up, down. */
        const char *want[] = {"isa 4 1", "isa 4 0", "isa 4 1", "isa 4 0", NULL};
        g_assert_cmpstrv(log, want);
    }
    g_strfreev(log);
    uart_stop(&f);
}

static void test_out2_gates_irq(void)
{
    struct uart_fixture f;
    uart_start(&f);
    if (!qtest_dm_is_xendm()) {
        /* qemu-xen does not model OUT2 gating. */
        uart_stop(&f);
        g_test_skip("OUT2 gating is xendm's (PC hardware) behaviour");
        return;
    }
    qtest_outb(f.qt, IER, IER_ETBEI);
    /* THRE is pending in the chip, but without OUT2 it does not reach the line. */
    g_assert_cmpint(qtest_isa_level(f.qt, 4), ==, 0);
    qtest_outb(f.qt, MCR, MCR_OUT2);
    g_assert_cmpint(qtest_isa_level(f.qt, 4), ==, 1);
    qtest_outb(f.qt, MCR, 0);
    g_assert_cmpint(qtest_isa_level(f.qt, 4), ==, 0);
    /* Re-arm (IER 0 -> 1 with THR empty) with OUT2 set: the usual driver sequence. */
    qtest_outb(f.qt, IER, 0);
    raise_thre_interrupt(f.qt);
    g_assert_cmpint(qtest_isa_level(f.qt, 4), ==, 0); /* reading IIR acknowledged it */
    uart_stop(&f);
}

static void test_receive_interrupt_in_loopback(void)
{
    struct uart_fixture f;
    uart_start(&f);
    qtest_outb(f.qt, MCR, MCR_LOOP | MCR_OUT2);
    qtest_outb(f.qt, IER, IER_ERBFI);
    g_assert_cmpint(qtest_isa_level(f.qt, 4), ==, 0);
    qtest_outb(f.qt, RBR_THR, 'Z');
    g_assert_cmphex(qtest_inb(f.qt, IIR_FCR) & 0x0f, ==, 0x04); /* received data available */
    if (qtest_dm_is_xendm()) {
        /*
         * PC16550D, loopback: the modem outputs (OUT2 among them) are forced
         * inactive, and on a PC OUT2 gates the interrupt onto the bus: the
         * line stays low although IIR reports the interrupt.
         */
        g_assert_cmpint(qtest_isa_level(f.qt, 4), ==, 0);
    }
    g_assert_cmphex(qtest_inb(f.qt, RBR_THR), ==, 'Z');
    g_assert_cmphex(qtest_inb(f.qt, IIR_FCR) & 0x0f, ==, 0x01);
    /* Out of loopback, with OUT2 effective again, an interrupt does raise the line. */
    qtest_outb(f.qt, MCR, MCR_OUT2);
    qtest_outb(f.qt, IER, IER_ETBEI);
    g_assert_cmpint(qtest_isa_level(f.qt, 4), ==, 1);
    uart_stop(&f);
}

static void test_rep_outsb(void)
{
    struct uart_fixture f;
    uart_start(&f);
    const char *msg = "REP OUTSB via data_is_ptr\n";
    size_t len = strlen(msg);
    qtest_memwrite(f.qt, 0x10000, msg, len);
    g_free(qtest_cmd_ok(f.qt, "outs 1 0x3f8 0x10000 %zu", len));
    char *out = qtest_wait_file(f.out_path, len, 5000);
    g_assert_cmpstr(out, ==, msg);
    g_free(out);
    uart_stop(&f);
}

static void test_rep_outsb_backwards(void)
{
    struct uart_fixture f;
    uart_start(&f);
    /* DF=1: the items step downwards from the last byte. */
    qtest_memwrite(f.qt, 0x20000, "abcdef", 6);
    g_free(qtest_cmd_ok(f.qt, "outs 1 0x3f8 0x20005 6 1"));
    char *out = qtest_wait_file(f.out_path, 6, 5000);
    g_assert_cmpstr(out, ==, "fedcba");
    g_free(out);
    uart_stop(&f);
}

static void test_rep_insb(void)
{
    struct uart_fixture f;
    uart_start(&f);
    qtest_memwrite(f.qt, 0x30000, "\0\0\0\0", 4);
    qtest_outb(f.qt, MCR, MCR_LOOP);
    qtest_outb(f.qt, RBR_THR, 'Q');
    g_free(qtest_cmd_ok(f.qt, "ins 1 0x3f8 0x30000 1"));
    char got[4];
    qtest_memread(f.qt, 0x30000, got, sizeof(got));
    g_assert_cmpint(got[0], ==, 'Q');
    g_assert_cmpint(got[1], ==, 0); /* only COUNT items are written */
    uart_stop(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/serial/reset-values", test_reset_values);
    g_test_add_func("/serial/scratch-and-divisor", test_scratch_and_divisor);
    g_test_add_func("/serial/transmit", test_transmit_reaches_chardev);
    g_test_add_func("/serial/loopback", test_loopback);
    g_test_add_func("/serial/thre-interrupt", test_thre_interrupt);
    g_test_add_func("/serial/out2-gates-irq", test_out2_gates_irq);
    g_test_add_func("/serial/rx-interrupt", test_receive_interrupt_in_loopback);
    g_test_add_func("/serial/rep-outsb", test_rep_outsb);
    g_test_add_func("/serial/rep-outsb-df", test_rep_outsb_backwards);
    g_test_add_func("/serial/rep-insb", test_rep_insb);
    return g_test_run();
}
