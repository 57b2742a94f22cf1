/*
 * Hostile guests against the ISA devices, through real ioreqs: long deterministic storms of
 * random reads and writes over every register of the 16550, the i8042 and port 0x92 (widths
 * 1, 2 and 4, in every state the storm reaches), and a guest that piles up i8042 replies it
 * never reads. Afterwards each device must still work as a driver expects, its queues must
 * have stayed bounded, and xendm must leave cleanly (--strict-dm-exit). Runs against qemu-xen
 * too: the reference survives the same storms.
 */
#include "libqtest.h"

#include <string.h>

#define COM1 0x3f8
#define I8042_DATA 0x60
#define I8042_CMD 0x64
#define STATUS_OBF 0x01
#define PORT92 0x92

static void random_access(struct qtest *qt, uint16_t base, unsigned span, uint32_t *rng)
{
    uint32_t r = qtest_xorshift32(rng);
    uint16_t port = (uint16_t)(base + r % span);
    unsigned width = 1u << ((r >> 8) % 3);
    uint32_t value = qtest_xorshift32(rng);
    bool write = (r >> 12) & 1;

    switch (width) {
    case 1:
        write ? qtest_outb(qt, port, (uint8_t)value) : (void)qtest_inb(qt, port);
        break;
    case 2:
        write ? qtest_outw(qt, port, (uint16_t)value) : (void)qtest_inw(qt, port);
        break;
    default:
        write ? qtest_outl(qt, port, value) : (void)qtest_inl(qt, port);
        break;
    }
}

/* Reads the i8042 output buffer until it is empty; returns how many bytes came out. */
static unsigned i8042_drain(struct qtest *qt, unsigned limit)
{
    unsigned n = 0;

    while (n < limit && (qtest_inb(qt, I8042_CMD) & STATUS_OBF)) {
        (void)qtest_inb(qt, I8042_DATA);
        n++;
    }
    return n;
}

static void test_uart_storm(void)
{
    struct qtest *qt = qtest_start("--serial null", NULL);
    uint32_t rng = 0x16550a;

    for (int i = 0; i < 20000; i++) {
        random_access(qt, COM1, 8, &rng);
    }
    /* A driver's initialisation brings it back: 8N1, FIFOs cleared, no loopback. */
    qtest_outb(qt, COM1 + 3, 0x03);
    qtest_outb(qt, COM1 + 1, 0x00);
    qtest_outb(qt, COM1 + 4, 0x00);
    qtest_outb(qt, COM1 + 2, 0x07);
    (void)qtest_inb(qt, COM1);
    (void)qtest_inb(qt, COM1 + 5);
    g_assert_cmphex(qtest_inb(qt, COM1 + 5) & 0x61, ==, 0x60); /* THRE|TEMT, no data */
    qtest_outb(qt, COM1 + 7, 0xa5);
    g_assert_cmphex(qtest_inb(qt, COM1 + 7), ==, 0xa5);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void test_i8042_storm(void)
{
    struct qtest *qt = qtest_start("--serial null", NULL);
    uint32_t rng = 0x8042;

    for (int i = 0; i < 20000; i++) {
        random_access(qt, I8042_DATA, 5, &rng); /* 0x60..0x64 */
    }
    g_assert_cmpuint(i8042_drain(qt, 4096), <, 4096);
    /* The controller still answers its self-test. */
    qtest_outb(qt, I8042_CMD, 0xaa);
    g_assert_cmpuint(qtest_inb(qt, I8042_CMD) & STATUS_OBF, ==, STATUS_OBF);
    g_assert_cmphex(qtest_inb(qt, I8042_DATA), ==, 0x55);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* 5000 keyboard identify commands, no reply read: what piles up is bounded. */
static void test_i8042_unread_replies(void)
{
    struct qtest *qt = qtest_start("--serial null", NULL);
    unsigned drained;

    for (int i = 0; i < 5000; i++) {
        qtest_outb(qt, I8042_DATA, 0xf2);
    }
    drained = i8042_drain(qt, 20000);
    g_test_message("%s kept %u of 15000 reply bytes", qtest_dm_name(), drained);
    g_assert_cmpuint(drained, >=, 1);
    g_assert_cmpuint(drained, <=, 1024);
    qtest_outb(qt, I8042_CMD, 0xaa);
    g_assert_cmphex(qtest_inb(qt, I8042_DATA), ==, 0x55);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void test_port92_storm(void)
{
    struct qtest *qt = qtest_start("--serial null", NULL);
    uint32_t rng = 0x92;

    for (int i = 0; i < 5000; i++) {
        /* Bit 0 would ask for a reset: a socket session only records it. */
        random_access(qt, PORT92, 1, &rng);
    }
    qtest_outb(qt, PORT92, 0x02);
    g_assert_cmphex(qtest_inb(qt, PORT92) & 0x02, ==, 0x02); /* A20 reads back */
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/hostile-isa/uart-storm", test_uart_storm);
    g_test_add_func("/hostile-isa/i8042-storm", test_i8042_storm);
    g_test_add_func("/hostile-isa/i8042-unread-replies", test_i8042_unread_replies);
    g_test_add_func("/hostile-isa/port92-storm", test_port92_storm);
    return g_test_run();
}
