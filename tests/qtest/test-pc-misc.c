/*
 * The small PC devices through real ioreqs: the SeaBIOS debug console at
 * 0x402, the i8042 controller (self-test, command byte, the reset line) and
 * System Control Port A (0x92: A20, fast reset). Runs against xendm and
 * Debian's qemu-xen, which emulates the same devices.
 */
#include "libqtest.h"

#include <string.h>

#define I8042_DATA 0x60
#define I8042_CMD 0x64
#define I8042_STATUS 0x64
#define STATUS_OBF 0x01
#define STATUS_SYS 0x04

static void test_debugcon(void)
{
    char *out = qtest_tmp_path("debugcon.out");
    char *dm = g_strdup_printf("-chardev file,id=seabios,path=%s "
                               "-device isa-debugcon,iobase=0x402,chardev=seabios", out);
    struct qtest *qt = qtest_start("--serial null", dm);
    const char *msg = "SeaBIOS (version test)\n";
    for (const char *p = msg; *p; p++)
        qtest_outb(qt, 0x402, (uint8_t)*p);
    /* Reads return the readback value, 0xe9 by default, so firmware can probe for it. */
    g_assert_cmphex(qtest_inb(qt, 0x402), ==, 0xe9);
    char *text = qtest_wait_file(out, strlen(msg), 5000);
    g_assert_cmpstr(text, ==, msg);
    g_free(text);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
    g_free(dm);
    g_free(out);
}

/* Waits for the output buffer and reads it, as firmware polls OBF. */
static uint8_t i8042_read_data(struct qtest *qt)
{
    for (int i = 0; i < 100; i++) {
        if (qtest_inb(qt, I8042_STATUS) & STATUS_OBF)
            return qtest_inb(qt, I8042_DATA);
    }
    g_error("i8042: no output byte");
}

static void test_i8042_self_test_and_command_byte(void)
{
    struct qtest *qt = qtest_start("--serial null", NULL);
    qtest_outb(qt, I8042_CMD, 0xaa); /* controller self-test */
    g_assert_cmphex(i8042_read_data(qt), ==, 0x55);
    g_assert_cmphex(qtest_inb(qt, I8042_STATUS) & STATUS_SYS, ==, STATUS_SYS);
    qtest_outb(qt, I8042_CMD, 0xab); /* keyboard interface test */
    g_assert_cmphex(i8042_read_data(qt), ==, 0x00);
    qtest_outb(qt, I8042_CMD, 0x60); /* write command byte */
    qtest_outb(qt, I8042_DATA, 0x45);
    qtest_outb(qt, I8042_CMD, 0x20); /* read it back */
    g_assert_cmphex(i8042_read_data(qt), ==, 0x45);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void test_i8042_keyboard_reset_reply(void)
{
    struct qtest *qt = qtest_start("--serial null", NULL);
    qtest_outb(qt, I8042_CMD, 0x60);
    qtest_outb(qt, I8042_DATA, 0x00); /* no interrupts: the test polls */
    qtest_outb(qt, I8042_DATA, 0xff); /* keyboard reset */
    g_assert_cmphex(i8042_read_data(qt), ==, 0xfa); /* ACK */
    g_assert_cmphex(i8042_read_data(qt), ==, 0xaa); /* basic assurance test passed */
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void assert_shutdown(struct qtest *qt, const char *want)
{
    char *reason = qtest_cmd_ok(qt, "shutdown_reason");
    g_assert_cmpstr(reason, ==, want);
    g_free(reason);
}

static void test_i8042_reset_pulse(void)
{
    struct qtest *qt = qtest_start("--serial null", NULL);
    assert_shutdown(qt, "none");
    qtest_outb(qt, I8042_CMD, 0xfe); /* pulse output bit 0: the CPU reset line */
    assert_shutdown(qt, "reboot");
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void test_port92_a20_and_fast_reset(void)
{
    struct qtest *qt = qtest_start("--serial null", NULL);
    qtest_outb(qt, 0x92, 0x02); /* A20 on, no reset */
    g_assert_cmphex(qtest_inb(qt, 0x92) & 0x03, ==, 0x02);
    assert_shutdown(qt, "none");
    qtest_outb(qt, 0x92, 0x03); /* bit 0 from 0 to 1: fast reset */
    assert_shutdown(qt, "reboot");
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/pc/debugcon", test_debugcon);
    g_test_add_func("/pc/i8042/self-test", test_i8042_self_test_and_command_byte);
    g_test_add_func("/pc/i8042/keyboard-reset", test_i8042_keyboard_reset_reply);
    g_test_add_func("/pc/i8042/reset-pulse", test_i8042_reset_pulse);
    g_test_add_func("/pc/port92", test_port92_a20_and_fast_reset);
    return g_test_run();
}
