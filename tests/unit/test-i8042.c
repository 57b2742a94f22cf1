/*
 * Unit tests of "i8042" (PS/2 controller, keyboard and mouse command side) and "port92"
 * (System Control Port A): devices driven through m->io, interrupts and shutdown requests
 * recorded by a fake accelerator.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <unistd.h>
#include "stderr-capture.h"
#include "xendm/keyval.h"
#include "xendm/machine.h"

#define DATA 0x60
#define CMD 0x64
#define STATUS 0x64

#define ST_OBF 0x01
#define ST_SYS 0x04
#define ST_CMD 0x08
#define ST_AUX 0x20

struct record {
    bool level[MACHINE_ISA_IRQS];
    unsigned raised[MACHINE_ISA_IRQS];
    unsigned shutdowns;
    enum shutdown_reason reason;
};

static void fake_set_isa_irq(void *opaque, unsigned irq, bool level)
{
    struct record *rec = opaque;

    rec->level[irq] = level;
    if (level)
        rec->raised[irq]++;
}

static void fake_request_shutdown(void *opaque, enum shutdown_reason reason)
{
    struct record *rec = opaque;

    rec->shutdowns++;
    rec->reason = reason;
}

static const struct accel_ops fake_accel = {
    .set_isa_irq = fake_set_isa_irq,
    .request_shutdown = fake_request_shutdown,
};

struct fixture {
    struct machine *m;
    struct record rec;
};

static void fixture_setup(struct fixture *f, gconstpointer data)
{
    struct kv_list *kv = kv_new();
    GError *err = NULL;

    memset(f, 0, sizeof(*f));
    f->m = machine_new();
    f->m->accel = &fake_accel;
    f->m->accel_opaque = &f->rec;
    g_assert_nonnull(machine_create_device(f->m, "i8042", kv, &err));
    g_assert_no_error(err);
    g_assert_nonnull(machine_create_device(f->m, "port92", kv, &err));
    g_assert_no_error(err);
    kv_free(kv);
}

static void fixture_teardown(struct fixture *f, gconstpointer data)
{
    machine_free(f->m);
}

static void outb(struct fixture *f, uint16_t port, uint8_t val)
{
    address_space_write(f->m->io, port, val, 1);
}

static uint8_t inb(struct fixture *f, uint16_t port)
{
    return (uint8_t)address_space_read(f->m->io, port, 1);
}

/* Reads one byte the way firmware does: status first, then data. */
static uint8_t read_output(struct fixture *f)
{
    g_assert_cmphex(inb(f, STATUS) & ST_OBF, ==, ST_OBF);
    return inb(f, DATA);
}

static void assert_empty(struct fixture *f)
{
    g_assert_cmphex(inb(f, STATUS) & ST_OBF, ==, 0);
}

/* ---- controller ---- */

static void test_self_test(struct fixture *f, gconstpointer data)
{
    g_assert_cmphex(inb(f, STATUS) & (ST_OBF | ST_SYS), ==, 0);
    outb(f, CMD, 0xaa);
    g_assert_cmphex(inb(f, STATUS) & ST_CMD, ==, ST_CMD);
    g_assert_cmphex(read_output(f), ==, 0x55);
    assert_empty(f);
    g_assert_cmphex(inb(f, STATUS) & ST_SYS, ==, ST_SYS);
    outb(f, CMD, 0xab);
    g_assert_cmphex(read_output(f), ==, 0x00);
    outb(f, CMD, 0xa9);
    g_assert_cmphex(read_output(f), ==, 0x00);
    assert_empty(f);
    g_assert_cmphex(inb(f, DATA), ==, 0x00); /* empty: the stale byte */
}

static void test_command_byte(struct fixture *f, gconstpointer data)
{
    outb(f, CMD, 0x20);
    g_assert_cmphex(read_output(f), ==, 0x43);
    outb(f, CMD, 0x60);
    outb(f, DATA, 0x65);
    g_assert_cmphex(inb(f, STATUS) & (ST_CMD | ST_SYS), ==, ST_SYS); /* data write, SYS mirrored */
    outb(f, CMD, 0x20);
    g_assert_cmphex(read_output(f), ==, 0x65);
    /* Port enable/disable commands edit bits 4 and 5. */
    outb(f, CMD, 0xad);
    outb(f, CMD, 0xa7);
    outb(f, CMD, 0x20);
    g_assert_cmphex(read_output(f), ==, 0x75);
    outb(f, CMD, 0xae);
    outb(f, CMD, 0xa8);
    outb(f, CMD, 0x20);
    g_assert_cmphex(read_output(f), ==, 0x45);
    /* Controller RAM beyond the command byte. */
    outb(f, CMD, 0x65);
    outb(f, DATA, 0x99);
    outb(f, CMD, 0x25);
    g_assert_cmphex(read_output(f), ==, 0x99);
}

static void test_reset_commands(struct fixture *f, gconstpointer data)
{
    outb(f, CMD, 0xff); /* pulses nothing */
    outb(f, CMD, 0xf2); /* pulses bit 0 only if it is 0: 0xf2 has bit 0 clear */
    g_assert_cmpuint(f->rec.shutdowns, ==, 1);
    g_assert_cmpint(f->rec.reason, ==, SHUTDOWN_REBOOT);
    outb(f, CMD, 0xfe);
    g_assert_cmpuint(f->rec.shutdowns, ==, 2);
    g_assert_true(f->m->shutdown_requested);
    g_assert_cmpint(f->m->shutdown_reason, ==, SHUTDOWN_REBOOT);
}

static void test_output_port(struct fixture *f, gconstpointer data)
{
    outb(f, CMD, 0xd0);
    g_assert_cmphex(read_output(f), ==, 0x03);
    outb(f, CMD, 0xd1);
    outb(f, DATA, 0x01); /* A20 off, reset line high */
    g_assert_cmpuint(f->rec.shutdowns, ==, 0);
    outb(f, CMD, 0xdf);
    outb(f, CMD, 0xd0);
    g_assert_cmphex(inb(f, DATA), ==, 0x03);
    outb(f, CMD, 0xd1);
    outb(f, DATA, 0x02); /* bit 0 clear: the CPU reset line */
    g_assert_cmpuint(f->rec.shutdowns, ==, 1);
    g_assert_cmpint(f->rec.reason, ==, SHUTDOWN_REBOOT);
}

static void test_write_output_buffer(struct fixture *f, gconstpointer data)
{
    outb(f, CMD, 0xd2);
    outb(f, DATA, 0x1c);
    g_assert_cmphex(inb(f, STATUS) & (ST_OBF | ST_AUX), ==, ST_OBF);
    g_assert_true(f->rec.level[1]);
    g_assert_cmphex(inb(f, DATA), ==, 0x1c);
    g_assert_false(f->rec.level[1]);
    outb(f, CMD, 0xd3);
    outb(f, DATA, 0x08);
    g_assert_cmphex(inb(f, STATUS) & (ST_OBF | ST_AUX), ==, ST_OBF | ST_AUX);
    g_assert_true(f->rec.level[12]);
    g_assert_false(f->rec.level[1]);
    g_assert_cmphex(inb(f, DATA), ==, 0x08);
    g_assert_false(f->rec.level[12]);
}

/* ---- keyboard ---- */

static void test_keyboard_commands(struct fixture *f, gconstpointer data)
{
    outb(f, DATA, 0xff);
    g_assert_cmphex(read_output(f), ==, 0xfa);
    g_assert_cmphex(read_output(f), ==, 0xaa);
    assert_empty(f);
    outb(f, DATA, 0xf2);
    g_assert_cmphex(read_output(f), ==, 0xfa);
    g_assert_cmphex(read_output(f), ==, 0xab);
    g_assert_cmphex(read_output(f), ==, 0x83);
    outb(f, DATA, 0xed); /* LEDs: the argument is acknowledged too */
    g_assert_cmphex(read_output(f), ==, 0xfa);
    outb(f, DATA, 0x07);
    g_assert_cmphex(read_output(f), ==, 0xfa);
    outb(f, DATA, 0xf3);
    g_assert_cmphex(read_output(f), ==, 0xfa);
    outb(f, DATA, 0x20);
    g_assert_cmphex(read_output(f), ==, 0xfa);
    outb(f, DATA, 0xf0);
    outb(f, DATA, 0x00); /* get scan code set: ACK, ACK, set 2 */
    g_assert_cmphex(read_output(f), ==, 0xfa);
    g_assert_cmphex(read_output(f), ==, 0xfa);
    g_assert_cmphex(read_output(f), ==, 0x02);
    outb(f, DATA, 0xee);
    g_assert_cmphex(read_output(f), ==, 0xee);
    outb(f, DATA, 0x42); /* not a command */
    g_assert_cmphex(read_output(f), ==, 0xfe);
    assert_empty(f);
}

static void test_keyboard_irq(struct fixture *f, gconstpointer data)
{
    outb(f, DATA, 0xff);
    g_assert_true(f->rec.level[1]);
    g_assert_cmpuint(f->rec.raised[1], ==, 1);
    inb(f, DATA);
    g_assert_true(f->rec.level[1]); /* the next byte: a fresh edge */
    g_assert_cmpuint(f->rec.raised[1], ==, 2);
    inb(f, DATA);
    g_assert_false(f->rec.level[1]);
    /* KBD_INT off: output without interrupt. */
    outb(f, CMD, 0x60);
    outb(f, DATA, 0x40);
    outb(f, DATA, 0xf4);
    g_assert_false(f->rec.level[1]);
    g_assert_cmphex(read_output(f), ==, 0xfa);
}

static void test_keyboard_port_disabled(struct fixture *f, gconstpointer data)
{
    outb(f, CMD, 0xad);
    outb(f, DATA, 0xf2);
    assert_empty(f); /* the keyboard's reply waits while its port is disabled */
    outb(f, CMD, 0xaa); /* controller replies still come */
    g_assert_cmphex(read_output(f), ==, 0x55);
    assert_empty(f);
    outb(f, CMD, 0xae);
    g_assert_cmphex(read_output(f), ==, 0xfa);
    g_assert_cmphex(read_output(f), ==, 0xab);
    g_assert_cmphex(read_output(f), ==, 0x83);
}

/* ---- mouse ---- */

static void test_mouse(struct fixture *f, gconstpointer data)
{
    outb(f, CMD, 0xd4);
    outb(f, DATA, 0xff);
    g_assert_cmphex(inb(f, STATUS) & (ST_OBF | ST_AUX), ==, ST_OBF | ST_AUX);
    g_assert_true(f->rec.level[12]);
    g_assert_cmphex(inb(f, DATA), ==, 0xfa);
    g_assert_cmphex(read_output(f), ==, 0xaa);
    g_assert_cmphex(read_output(f), ==, 0x00);
    g_assert_false(f->rec.level[12]);
    outb(f, CMD, 0xd4);
    outb(f, DATA, 0xf3);
    outb(f, CMD, 0xd4);
    outb(f, DATA, 40);
    g_assert_cmphex(read_output(f), ==, 0xfa);
    g_assert_cmphex(read_output(f), ==, 0xfa);
    outb(f, CMD, 0xd4);
    outb(f, DATA, 0xe9);
    g_assert_cmphex(read_output(f), ==, 0xfa);
    g_assert_cmphex(read_output(f), ==, 0x00);
    g_assert_cmphex(read_output(f), ==, 0x02);
    g_assert_cmphex(read_output(f), ==, 40);
    outb(f, CMD, 0xd4);
    outb(f, DATA, 0xf2);
    g_assert_cmphex(read_output(f), ==, 0xfa);
    g_assert_cmphex(read_output(f), ==, 0x00);
    assert_empty(f);
}

static void test_guest_noise(struct fixture *f, gconstpointer data)
{
    /* Every command and data byte in every order: no crash, bounded output. */
    for (unsigned cmd = 0; cmd < 0x100; cmd++) {
        if (cmd == 0xd1 || (cmd >= 0xf0 && !(cmd & 1)))
            continue; /* reset requests are tested elsewhere */
        outb(f, CMD, (uint8_t)cmd);
        for (unsigned val = 0; val < 0x100; val += 7)
            outb(f, DATA, (uint8_t)val);
    }
    unsigned n = 0;
    while ((inb(f, STATUS) & ST_OBF) && n < 1000) {
        inb(f, DATA);
        n++;
    }
    g_assert_cmpuint(n, <, 1000);
    g_assert_cmpuint(f->rec.shutdowns, ==, 0);
    machine_reset(f->m);
    assert_empty(f);
    g_assert_false(f->rec.level[1]);
    g_assert_false(f->rec.level[12]);
}

/* ---- port 0x92 ---- */

static void test_port92(struct fixture *f, gconstpointer data)
{
    g_assert_cmphex(inb(f, 0x92), ==, 0x00);
    outb(f, 0x92, 0x02); /* A20 on */
    g_assert_cmphex(inb(f, 0x92), ==, 0x02);
    g_assert_cmpuint(f->rec.shutdowns, ==, 0);
    outb(f, 0x92, 0xff); /* reserved bits 2, 4, 5 read 0; bit 0 0 -> 1: fast reset */
    g_assert_cmphex(inb(f, 0x92), ==, 0xcb);
    g_assert_cmpuint(f->rec.shutdowns, ==, 1);
    g_assert_cmpint(f->rec.reason, ==, SHUTDOWN_REBOOT);
    outb(f, 0x92, 0x03); /* bit 0 stays 1: no new reset */
    g_assert_cmpuint(f->rec.shutdowns, ==, 1);
    outb(f, 0x92, 0x02);
    outb(f, 0x92, 0x03);
    g_assert_cmpuint(f->rec.shutdowns, ==, 2);
    machine_reset(f->m);
    g_assert_cmphex(inb(f, 0x92), ==, 0x00);
}

static void pulse_reset_lines(void *arg)
{
    struct fixture *f = arg;

    for (unsigned i = 0; i < 100; i++) {
        outb(f, CMD, 0xfe);                 /* pulse the reset line */
        outb(f, CMD, 0xd1);                 /* write the output port with bit 0 low */
        outb(f, DATA, 0x00);
        outb(f, 0x92, 0x00);                /* fast reset, 0 -> 1 */
        outb(f, 0x92, 0x01);
    }
}

/* A guest that pulses its reset lines in a loop gets every request through, but no log flood. */
static void test_reset_storm(struct fixture *f, gconstpointer data)
{
    char *printed = capture_stderr(pulse_reset_lines, f);
    unsigned lines = count_occurrences(printed, "shutdown requested");

    g_free(printed);

    g_assert_cmpuint(f->rec.shutdowns, ==, 300);
    g_assert_cmpint(f->rec.reason, ==, SHUTDOWN_REBOOT);
    g_assert_true(f->m->shutdown_requested);
    g_assert_cmpuint(lines, >=, 1);
    g_assert_cmpuint(lines, <=, 12); /* the first, then the rate limit's burst */
}

#define ADD(name, fn) g_test_add(name, struct fixture, NULL, fixture_setup, fn, fixture_teardown)

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    ADD("/i8042/self-test", test_self_test);
    ADD("/i8042/command-byte", test_command_byte);
    ADD("/i8042/reset-commands", test_reset_commands);
    ADD("/i8042/output-port", test_output_port);
    ADD("/i8042/write-output-buffer", test_write_output_buffer);
    ADD("/i8042/keyboard-commands", test_keyboard_commands);
    ADD("/i8042/keyboard-irq", test_keyboard_irq);
    ADD("/i8042/keyboard-port-disabled", test_keyboard_port_disabled);
    ADD("/i8042/mouse", test_mouse);
    ADD("/i8042/guest-noise", test_guest_noise);
    ADD("/port92/reset-and-a20", test_port92);
    ADD("/i8042/reset-storm", test_reset_storm);
    return g_test_run();
}
