/*
 * The PS/2 keyboard and mouse behind the i8042, driven as a user drives them: keys and pointer
 * events through QMP (input-send-event, send-key, HMP sendkey), read by the "guest" from port
 * 0x60 with IRQ 1 / IRQ 12 checked. Scan code sets 1, 2 and 3, the controller's translation,
 * E0 keys, Pause and Print Screen, scanning off, typematic repeat, buffer overrun; mouse
 * packets after F4 (buttons, motion, clamping with the rest carried, the IntelliMouse wheel,
 * remote mode's EB) and a save/restore in the middle of it all.
 *
 * The same program runs against Debian's qemu-xen (suite qtest-qemu-xen) and asserts the same
 * bytes where QEMU 7.2 behaves alike. Where it does not, the test says so and checks xendm only:
 * QEMU has no typematic (its front ends repeat), drops bytes on a full buffer without the
 * overrun code, clamps mouse deltas to +-127 (the carried sums agree), refuses absolute events
 * without a tablet, and has no sample-rate pacing.
 */
#include "libqtest.h"
#include "qtest-qmp.h"

#include <string.h>
#include <unistd.h>

#define CMD(...) g_free(qtest_cmd_ok(__VA_ARGS__))

#define DATA 0x60
#define STATUS 0x64
#define ST_OBF 0x01
#define ST_AUX 0x20

/* Command bytes: both interrupts and ports on, with and without set 2 -> set 1 translation. */
#define CTR_XLATE_ON 0x47
#define CTR_XLATE_OFF 0x07

struct ps2 {
    struct qtest *qt;
    struct qmp *qmp;
    char *qmp_path;
};

static void ps2_connect(struct ps2 *t)
{
    t->qmp = qmp_open(t->qmp_path);
    qmp_call_ok(t->qmp, "{\"execute\":\"qmp_capabilities\"}");
}

static void ps2_start(struct ps2 *t)
{
    g_autofree char *args = NULL;

    t->qmp_path = qtest_tmp_path("qmp-ps2.sock");
    args = g_strdup_printf("-chardev socket,id=test-qmp,path=%s,server=on,wait=off "
                           "-mon chardev=test-qmp,mode=control", t->qmp_path);
    unlink(t->qmp_path);
    t->qt = qtest_start("--serial null", args);
    ps2_connect(t);
}

static void ps2_stop(struct ps2 *t)
{
    g_autofree char *status = qtest_dm_status(t->qt);

    g_assert_cmpstr(status, ==, "running");
    qmp_close(t->qmp);
    g_assert_cmpint(qtest_quit(t->qt), ==, 0);
    g_free(t->qmp_path);
}

/* ---- the guest's side ---- */

/* Every byte waiting now, in order; *aux_mask gets bit i set when byte i came from the mouse. */
static size_t read_now(struct ps2 *t, uint8_t *out, size_t max, uint64_t *aux_mask)
{
    size_t n = 0;

    if (aux_mask)
        *aux_mask = 0;
    while (n < max) {
        uint8_t st = qtest_inb(t->qt, STATUS);
        if (!(st & ST_OBF))
            break;
        if ((st & ST_AUX) && aux_mask)
            *aux_mask |= UINT64_C(1) << n;
        out[n++] = qtest_inb(t->qt, DATA);
    }
    return n;
}

/* Bytes arriving within wait_ms (polled), for what timers send. */
static size_t read_for(struct ps2 *t, uint8_t *out, size_t max, unsigned wait_ms)
{
    size_t n = 0;
    gint64 end = g_get_monotonic_time() + (gint64)wait_ms * 1000;

    do {
        n += read_now(t, out + n, max - n, NULL);
        g_usleep(5000);
    } while (n < max && g_get_monotonic_time() < end);
    return n;
}

static void assert_bytes(const uint8_t *got, size_t n, const uint8_t *want, size_t want_n)
{
    GString *gs = g_string_new(NULL), *ws = g_string_new(NULL);

    for (size_t i = 0; i < n; i++)
        g_string_append_printf(gs, " %02x", got[i]);
    for (size_t i = 0; i < want_n; i++)
        g_string_append_printf(ws, " %02x", want[i]);
    g_test_message("got:%s want:%s", gs->str, ws->str);
    g_assert_cmpstr(gs->str, ==, ws->str);
    g_string_free(gs, TRUE);
    g_string_free(ws, TRUE);
}

/* The keyboard's bytes now: exactly want, from the keyboard (not the mouse), IRQ 1 raised. */
#define EXPECT_KBD(t, ...)                                                                        \
    do {                                                                                          \
        static const uint8_t want_[] = {__VA_ARGS__};                                             \
        expect_kbd(t, want_, sizeof(want_));                                                      \
    } while (0)

static void expect_kbd(struct ps2 *t, const uint8_t *want, size_t want_n)
{
    uint8_t got[64];
    uint64_t aux;
    size_t n;

    g_assert_cmpint(qtest_isa_level(t->qt, 1), ==, 1);
    n = read_now(t, got, sizeof(got), &aux);
    assert_bytes(got, n, want, want_n);
    g_assert_cmphex(aux, ==, 0);
    g_assert_cmpint(qtest_isa_level(t->qt, 1), ==, 0);
}

static void expect_nothing(struct ps2 *t)
{
    g_assert_cmphex(qtest_inb(t->qt, STATUS) & ST_OBF, ==, 0);
}

static void controller_command(struct ps2 *t, uint8_t cmd, int data)
{
    qtest_outb(t->qt, STATUS, cmd);
    if (data >= 0)
        qtest_outb(t->qt, DATA, (uint8_t)data);
}

static void set_command_byte(struct ps2 *t, uint8_t ctr)
{
    controller_command(t, 0x60, ctr);
}

/* A keyboard command and its bytes (ACK and any reply). */
static void kbd_command(struct ps2 *t, uint8_t cmd, const uint8_t *reply, size_t reply_n)
{
    uint8_t got[8];
    size_t n;

    qtest_outb(t->qt, DATA, cmd);
    n = read_now(t, got, sizeof(got), NULL);
    assert_bytes(got, n, reply, reply_n);
}

#define KBD_CMD(t, cmd, ...)                                                                      \
    do {                                                                                          \
        static const uint8_t reply_[] = {__VA_ARGS__};                                            \
        kbd_command(t, cmd, reply_, sizeof(reply_));                                              \
    } while (0)

/* A mouse command through 0xD4 and its reply bytes, which must come from the mouse. */
static void mouse_command(struct ps2 *t, uint8_t cmd, const uint8_t *reply, size_t reply_n)
{
    uint8_t got[8];
    uint64_t aux;
    size_t n;

    controller_command(t, 0xd4, cmd);
    n = read_now(t, got, sizeof(got), &aux);
    assert_bytes(got, n, reply, reply_n);
    g_assert_cmphex(aux, ==, (UINT64_C(1) << n) - 1);
}

#define MOUSE_CMD(t, cmd, ...)                                                                    \
    do {                                                                                          \
        static const uint8_t reply_[] = {__VA_ARGS__};                                            \
        mouse_command(t, cmd, reply_, sizeof(reply_));                                            \
    } while (0)

/* ---- the user's side (QMP) ---- */

static void key(struct ps2 *t, const char *qcode, bool down)
{
    g_autofree char *cmd = g_strdup_printf(
        "{\"execute\":\"input-send-event\",\"arguments\":{\"events\":[{\"type\":\"key\","
        "\"data\":{\"down\":%s,\"key\":{\"type\":\"qcode\",\"data\":\"%s\"}}}]}}",
        down ? "true" : "false", qcode);

    qmp_call_ok(t->qmp, cmd);
}

static void tap(struct ps2 *t, const char *qcode)
{
    key(t, qcode, true);
    key(t, qcode, false);
}

static void pointer(struct ps2 *t, const char *events)
{
    g_autofree char *cmd = g_strdup_printf(
        "{\"execute\":\"input-send-event\",\"arguments\":{\"events\":[%s]}}", events);

    qmp_call_ok(t->qmp, cmd);
}

static void rel(struct ps2 *t, int dx, int dy)
{
    g_autofree char *ev = g_strdup_printf(
        "{\"type\":\"rel\",\"data\":{\"axis\":\"x\",\"value\":%d}},"
        "{\"type\":\"rel\",\"data\":{\"axis\":\"y\",\"value\":%d}}", dx, dy);

    pointer(t, ev);
}

static void button(struct ps2 *t, const char *name, bool down)
{
    g_autofree char *ev = g_strdup_printf(
        "{\"type\":\"btn\",\"data\":{\"down\":%s,\"button\":\"%s\"}}", down ? "true" : "false",
        name);

    pointer(t, ev);
}

/* ---- keyboard ---- */

static void test_translated_set1(void)
{
    struct ps2 t;

    ps2_start(&t);
    set_command_byte(&t, CTR_XLATE_ON);
    tap(&t, "a");
    EXPECT_KBD(&t, 0x1e, 0x9e);
    key(&t, "shift", true);
    EXPECT_KBD(&t, 0x2a);
    key(&t, "shift", false);
    EXPECT_KBD(&t, 0xaa);
    tap(&t, "right"); /* E0 74 / E0 F0 74 translated */
    EXPECT_KBD(&t, 0xe0, 0x4d, 0xe0, 0xcd);
    tap(&t, "kp_enter");
    EXPECT_KBD(&t, 0xe0, 0x1c, 0xe0, 0x9c);
    tap(&t, "pause"); /* no break */
    EXPECT_KBD(&t, 0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5);
    tap(&t, "print");
    EXPECT_KBD(&t, 0xe0, 0x2a, 0xe0, 0x37, 0xe0, 0xb7, 0xe0, 0xaa);
    /* A QEMU key number (set 1, 0x80 for E0): 0x9d is the right Ctrl. */
    qmp_call_ok(t.qmp, "{\"execute\":\"input-send-event\",\"arguments\":{\"events\":["
                       "{\"type\":\"key\",\"data\":{\"down\":true,\"key\":{\"type\":\"number\","
                       "\"data\":157}}}]}}");
    EXPECT_KBD(&t, 0xe0, 0x1d);
    ps2_stop(&t);
}

static void test_set2(void)
{
    struct ps2 t;

    ps2_start(&t);
    set_command_byte(&t, CTR_XLATE_OFF);
    tap(&t, "a");
    EXPECT_KBD(&t, 0x1c, 0xf0, 0x1c);
    tap(&t, "right");
    EXPECT_KBD(&t, 0xe0, 0x74, 0xe0, 0xf0, 0x74);
    tap(&t, "ctrl_r");
    EXPECT_KBD(&t, 0xe0, 0x14, 0xe0, 0xf0, 0x14);
    tap(&t, "f7");
    EXPECT_KBD(&t, 0x83, 0xf0, 0x83);
    tap(&t, "pause");
    EXPECT_KBD(&t, 0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77);
    tap(&t, "print");
    EXPECT_KBD(&t, 0xe0, 0x12, 0xe0, 0x7c, 0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12);
    tap(&t, "meta_l");
    EXPECT_KBD(&t, 0xe0, 0x1f, 0xe0, 0xf0, 0x1f);
    ps2_stop(&t);
}

static void test_set1_and_set3(void)
{
    struct ps2 t;

    ps2_start(&t);
    set_command_byte(&t, CTR_XLATE_OFF);
    KBD_CMD(&t, 0xf0, 0xfa);
    KBD_CMD(&t, 0x01, 0xfa);
    KBD_CMD(&t, 0xf0, 0xfa);
    KBD_CMD(&t, 0x00, 0xfa, 0x01);
    tap(&t, "a");
    EXPECT_KBD(&t, 0x1e, 0x9e);
    tap(&t, "up");
    EXPECT_KBD(&t, 0xe0, 0x48, 0xe0, 0xc8);
    tap(&t, "pause");
    EXPECT_KBD(&t, 0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5);

    KBD_CMD(&t, 0xf0, 0xfa);
    KBD_CMD(&t, 0x03, 0xfa);
    KBD_CMD(&t, 0xf0, 0xfa);
    KBD_CMD(&t, 0x00, 0xfa, 0x03);
    tap(&t, "a");
    EXPECT_KBD(&t, 0x1c, 0xf0, 0x1c);
    tap(&t, "ctrl");
    EXPECT_KBD(&t, 0x11, 0xf0, 0x11);
    tap(&t, "f1");
    EXPECT_KBD(&t, 0x07, 0xf0, 0x07);
    tap(&t, "up"); /* no E0 in set 3 */
    EXPECT_KBD(&t, 0x63, 0xf0, 0x63);
    ps2_stop(&t);
}

static void test_scanning_off(void)
{
    struct ps2 t;

    ps2_start(&t);
    set_command_byte(&t, CTR_XLATE_OFF);
    KBD_CMD(&t, 0xf5, 0xfa);
    tap(&t, "b");
    expect_nothing(&t);
    KBD_CMD(&t, 0xf4, 0xfa);
    tap(&t, "b");
    EXPECT_KBD(&t, 0x32, 0xf0, 0x32);
    /* After a reset (FF) the keyboard scans at once, as a real one does after its BAT. */
    KBD_CMD(&t, 0xf5, 0xfa);
    KBD_CMD(&t, 0xff, 0xfa, 0xaa);
    tap(&t, "b");
    EXPECT_KBD(&t, 0x32, 0xf0, 0x32);
    ps2_stop(&t);
}

static void test_send_key_and_sendkey(void)
{
    struct ps2 t;
    uint8_t got[32];
    size_t n;

    ps2_start(&t);
    set_command_byte(&t, CTR_XLATE_OFF);
    /* Pressed in order at once, released in reverse after hold-time. */
    qmp_call_ok(t.qmp, "{\"execute\":\"send-key\",\"arguments\":{\"keys\":["
                       "{\"type\":\"qcode\",\"data\":\"ctrl\"},"
                       "{\"type\":\"qcode\",\"data\":\"alt\"},"
                       "{\"type\":\"qcode\",\"data\":\"delete\"}],\"hold-time\":50}}");
    n = read_for(&t, got, 11, 2000);
    {
        static const uint8_t want[] = {0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71,
                                       0xf0, 0x11, 0xf0, 0x14};
        assert_bytes(got, n, want, sizeof(want));
    }
    /* xl qemu-monitor-command DOM "sendkey ctrl-alt-f1" */
    qmp_call_ok(t.qmp, "{\"execute\":\"human-monitor-command\","
                       "\"arguments\":{\"command-line\":\"sendkey ctrl-alt-f1 20\"}}");
    n = read_for(&t, got, 9, 2000);
    {
        static const uint8_t want[] = {0x14, 0x11, 0x05, 0xf0, 0x05, 0xf0, 0x11, 0xf0, 0x14};
        assert_bytes(got, n, want, sizeof(want));
    }
    ps2_stop(&t);
}

static void test_qmp_errors(void)
{
    struct ps2 t;

    ps2_start(&t);
    qmp_call_fails(t.qmp, "{\"execute\":\"input-send-event\",\"arguments\":{\"events\":["
                          "{\"type\":\"key\",\"data\":{\"down\":true,\"key\":{\"type\":\"qcode\","
                          "\"data\":\"nosuchkey\"}}}]}}",
                   "Parameter 'data' does not accept value 'nosuchkey'");
    qmp_call_fails(t.qmp, "{\"execute\":\"input-send-event\",\"arguments\":{\"events\":["
                          "{\"type\":\"key\",\"data\":{\"key\":{\"type\":\"number\","
                          "\"data\":30}}}]}}",
                   "Parameter 'events[0].data.down' is missing");
    qmp_call_fails(t.qmp, "{\"execute\":\"input-send-event\",\"arguments\":{\"events\":["
                          "{\"type\":\"rel\",\"data\":{\"axis\":\"z\",\"value\":1}}]}}",
                   "Parameter 'axis' does not accept value 'z'");
    qmp_call_fails(t.qmp, "{\"execute\":\"input-send-event\",\"arguments\":{\"events\":["
                          "{\"type\":\"key\"}]}}",
                   "Parameter 'events[0].data' is missing");
    qmp_call_fails(t.qmp, "{\"execute\":\"send-key\",\"arguments\":{\"keys\":["
                          "{\"type\":\"qcode\",\"data\":\"nosuchkey\"}]}}",
                   "Parameter 'data' does not accept value 'nosuchkey'");
    {
        g_autofree char *reply = qmp_call(
            t.qmp, "{\"execute\":\"human-monitor-command\","
                   "\"arguments\":{\"command-line\":\"sendkey ctrl-nosuchkey\"}}");
        g_assert_nonnull(strstr(reply, "invalid parameter: nosuchkey"));
    }
    qmp_call_ok(t.qmp, "{\"execute\":\"stop\"}");
    qmp_call_fails(t.qmp, "{\"execute\":\"input-send-event\",\"arguments\":{\"events\":["
                          "{\"type\":\"key\",\"data\":{\"down\":true,\"key\":{\"type\":\"qcode\","
                          "\"data\":\"a\"}}}]}}",
                   "VM not running");
    qmp_call_ok(t.qmp, "{\"execute\":\"cont\"}");
    ps2_stop(&t);
}

/* Bytes from the typematic timer: count the makes of code in what arrives within ms. */
static unsigned count_repeats(struct ps2 *t, uint8_t code, unsigned ms)
{
    uint8_t got[128];
    size_t n = read_for(t, got, sizeof(got), ms);
    unsigned count = 0;

    for (size_t i = 0; i < n; i++) {
        g_assert_cmphex(got[i], ==, code);
        count++;
    }
    return count;
}

static void test_typematic(void)
{
    struct ps2 t;
    unsigned repeats;

    if (!qtest_dm_is_xendm()) {
        g_test_skip("QEMU's keyboard has no typematic: its front ends repeat keys");
        return;
    }
    ps2_start(&t);
    set_command_byte(&t, CTR_XLATE_OFF);
    KBD_CMD(&t, 0xf3, 0xfa);
    /* 500 ms delay, 15 characters/s: slow enough that a busy test host cannot fill the
     * keyboard's 16 bytes between two polls. */
    KBD_CMD(&t, 0x28, 0xfa);
    key(&t, "a", true);
    EXPECT_KBD(&t, 0x1c);
    /* Nothing before the delay; then a make about every 67 ms. */
    g_assert_cmpuint(count_repeats(&t, 0x1c, 200), ==, 0);
    repeats = count_repeats(&t, 0x1c, 800);
    g_test_message("repeats in 800 ms after 200 ms: %u", repeats);
    g_assert_cmpuint(repeats, >=, 3);
    g_assert_cmpuint(repeats, <=, 14);
    /* Another key takes over the repeat; releasing the first does not stop it. */
    key(&t, "s", true);
    read_now(&t, (uint8_t[64]){0}, 64, NULL);
    key(&t, "a", false);
    {
        uint8_t got[64];
        size_t n = read_now(&t, got, sizeof(got), NULL);
        g_assert_cmpuint(n, >=, 2);
        g_assert_cmphex(got[n - 2], ==, 0xf0);
        g_assert_cmphex(got[n - 1], ==, 0x1c);
    }
    g_assert_cmpuint(count_repeats(&t, 0x1b, 900), >=, 3);
    /* Its release stops it. */
    key(&t, "s", false);
    {
        uint8_t got[64];
        size_t n = read_now(&t, got, sizeof(got), NULL);
        g_assert_cmpuint(n, >=, 2);
        g_assert_cmphex(got[n - 2], ==, 0xf0);
        g_assert_cmphex(got[n - 1], ==, 0x1b);
    }
    g_assert_cmpuint(count_repeats(&t, 0, 300), ==, 0);
    ps2_stop(&t);
}

static void test_overrun(void)
{
    static const char *const keys[] = {"q", "w", "e", "r", "t", "y", "u", "i", "o", "p",
                                       "a", "s", "d", "f", "g", "h", "j", "k", "l", "z"};
    static const uint8_t set2[] = {0x15, 0x1d, 0x24, 0x2d, 0x2c, 0x35, 0x3c, 0x43, 0x44, 0x4d,
                                   0x1c, 0x1b, 0x23, 0x2b, 0x34, 0x33, 0x3b, 0x42, 0x4b, 0x1a};
    uint8_t want[17];
    struct ps2 t;

    if (!qtest_dm_is_xendm()) {
        g_test_skip("QEMU 7.2 drops bytes on a full buffer without the overrun code");
        return;
    }
    ps2_start(&t);
    set_command_byte(&t, CTR_XLATE_OFF);
    /* 20 makes: one in the output buffer, 16 in the keyboard's buffer, the 16th replaced. */
    for (size_t i = 0; i < G_N_ELEMENTS(keys); i++)
        key(&t, keys[i], true);
    memcpy(want, set2, 16);
    want[16] = 0x00;
    {
        uint8_t got[32];
        size_t n = read_now(&t, got, sizeof(got), NULL);
        assert_bytes(got, n, want, sizeof(want));
    }
    /* Room again: the next key arrives whole. */
    key(&t, "x", true);
    EXPECT_KBD(&t, 0x22);
    /* Translated, the overrun code is set 1's 0xFF. */
    set_command_byte(&t, CTR_XLATE_ON);
    for (size_t i = 0; i < G_N_ELEMENTS(keys); i++)
        key(&t, keys[i], false);
    {
        uint8_t got[32];
        size_t n = read_now(&t, got, sizeof(got), NULL);
        g_assert_cmpuint(n, ==, 17);
        g_assert_cmphex(got[0], ==, 0x90); /* q's break */
        g_assert_cmphex(got[16], ==, 0xff);
    }
    ps2_stop(&t);
}

/* ---- mouse ---- */

static void mouse_enable(struct ps2 *t)
{
    set_command_byte(t, CTR_XLATE_ON);
    controller_command(t, 0xa8, -1);
    MOUSE_CMD(t, 0xf4, 0xfa);
}

/* Mouse packets arriving within wait_ms; every byte must come from the mouse with IRQ 12. */
static size_t read_mouse(struct ps2 *t, uint8_t *out, size_t want, unsigned wait_ms)
{
    size_t n = 0;
    gint64 end = g_get_monotonic_time() + (gint64)wait_ms * 1000;

    while (n < want && g_get_monotonic_time() < end) {
        uint8_t st = qtest_inb(t->qt, STATUS);
        if (!(st & ST_OBF)) {
            g_usleep(2000);
            continue;
        }
        g_assert_cmphex(st & ST_AUX, ==, ST_AUX);
        g_assert_cmpint(qtest_isa_level(t->qt, 12), ==, 1);
        out[n++] = qtest_inb(t->qt, DATA);
    }
    return n;
}

#define EXPECT_MOUSE(t, ...)                                                                      \
    do {                                                                                          \
        static const uint8_t want_[] = {__VA_ARGS__};                                             \
        uint8_t got_[sizeof(want_)];                                                              \
        size_t n_ = read_mouse(t, got_, sizeof(want_), 2000);                                     \
        assert_bytes(got_, n_, want_, sizeof(want_));                                             \
    } while (0)

static void test_mouse_packets(void)
{
    struct ps2 t;

    ps2_start(&t);
    /* Before F4 nothing is reported. */
    set_command_byte(&t, CTR_XLATE_ON);
    controller_command(&t, 0xa8, -1);
    rel(&t, 5, 5);
    g_usleep(50000);
    expect_nothing(&t);
    MOUSE_CMD(&t, 0xf4, 0xfa);
    /* Left button and motion right 10, up 5 (PS/2 counts y up): one packet. */
    pointer(&t, "{\"type\":\"btn\",\"data\":{\"down\":true,\"button\":\"left\"}},"
                "{\"type\":\"rel\",\"data\":{\"axis\":\"x\",\"value\":10}},"
                "{\"type\":\"rel\",\"data\":{\"axis\":\"y\",\"value\":-5}}");
    EXPECT_MOUSE(&t, 0x09, 0x0a, 0x05);
    /* Left up, right down, motion left 3, down 4: signs in byte 0. */
    pointer(&t, "{\"type\":\"btn\",\"data\":{\"down\":false,\"button\":\"left\"}},"
                "{\"type\":\"btn\",\"data\":{\"down\":true,\"button\":\"right\"}},"
                "{\"type\":\"rel\",\"data\":{\"axis\":\"x\",\"value\":-3}},"
                "{\"type\":\"rel\",\"data\":{\"axis\":\"y\",\"value\":4}}");
    EXPECT_MOUSE(&t, 0x3a, 0xfd, 0xfc);
    button(&t, "right", false);
    EXPECT_MOUSE(&t, 0x08, 0x00, 0x00);
    g_assert_cmpint(qtest_isa_level(t.qt, 12), ==, 0);
    ps2_stop(&t);
}

/* Motion beyond one packet's range is clamped and the rest carried into later packets. */
static void test_mouse_clamp_carry(void)
{
    struct ps2 t;
    uint8_t got[64];
    int sum_x = 0, sum_y = 0;
    size_t n;

    ps2_start(&t);
    mouse_enable(&t);
    rel(&t, 600, 300); /* right 600, down 300 */
    n = read_mouse(&t, got, sizeof(got), 600);
    g_assert_cmpuint(n % 3, ==, 0);
    g_assert_cmpuint(n, >=, 9);
    for (size_t i = 0; i < n; i += 3) {
        int dx = got[i + 1] - (got[i] & 0x10 ? 256 : 0);
        int dy = got[i + 2] - (got[i] & 0x20 ? 256 : 0);
        g_assert_cmphex(got[i] & 0xc8, ==, 0x08); /* no overflow: the rest was carried */
        sum_x += dx;
        sum_y += dy;
    }
    g_assert_cmpint(sum_x, ==, 600);
    g_assert_cmpint(sum_y, ==, -300);
    if (qtest_dm_is_xendm()) {
        /* The PS/2 range, -256..255, in full (QEMU 7.2 stops at +-127). */
        static const uint8_t want[] = {0x28, 0xff, 0x00, 0x28, 0xff, 0xd4, 0x08, 0x5a, 0x00};
        assert_bytes(got, n, want, sizeof(want));
    }
    ps2_stop(&t);
}

static void test_mouse_wheel(void)
{
    struct ps2 t;

    ps2_start(&t);
    mouse_enable(&t);
    MOUSE_CMD(&t, 0xf2, 0xfa, 0x00);
    /* The IntelliMouse knock: sample rates 200, 100, 80. */
    MOUSE_CMD(&t, 0xf3, 0xfa);
    MOUSE_CMD(&t, 200, 0xfa);
    MOUSE_CMD(&t, 0xf3, 0xfa);
    MOUSE_CMD(&t, 100, 0xfa);
    MOUSE_CMD(&t, 0xf3, 0xfa);
    MOUSE_CMD(&t, 80, 0xfa);
    MOUSE_CMD(&t, 0xf2, 0xfa, 0x03);
    MOUSE_CMD(&t, 0xf4, 0xfa);
    /* One command, one report: QEMU sends a packet on every sync, changed or not. */
    pointer(&t, "{\"type\":\"btn\",\"data\":{\"down\":true,\"button\":\"wheel-up\"}},"
                "{\"type\":\"btn\",\"data\":{\"down\":false,\"button\":\"wheel-up\"}}");
    EXPECT_MOUSE(&t, 0x08, 0x00, 0x00, 0xff); /* away from the user: -1 */
    g_usleep(20000);
    button(&t, "wheel-down", true);
    EXPECT_MOUSE(&t, 0x08, 0x00, 0x00, 0x01);
    /* Then 200, 200, 80: buttons 4 and 5 in bits 4-5 of byte 3. */
    MOUSE_CMD(&t, 0xf3, 0xfa);
    MOUSE_CMD(&t, 200, 0xfa);
    MOUSE_CMD(&t, 0xf3, 0xfa);
    MOUSE_CMD(&t, 200, 0xfa);
    MOUSE_CMD(&t, 0xf3, 0xfa);
    MOUSE_CMD(&t, 80, 0xfa);
    MOUSE_CMD(&t, 0xf2, 0xfa, 0x04);
    MOUSE_CMD(&t, 0xf4, 0xfa);
    button(&t, "side", true);
    EXPECT_MOUSE(&t, 0x08, 0x00, 0x00, 0x10);
    g_usleep(20000);
    pointer(&t, "{\"type\":\"btn\",\"data\":{\"down\":true,\"button\":\"extra\"}},"
                "{\"type\":\"btn\",\"data\":{\"down\":true,\"button\":\"wheel-up\"}}");
    EXPECT_MOUSE(&t, 0x08, 0x00, 0x00, 0x3f);
    /* A reset makes it a plain mouse again. */
    MOUSE_CMD(&t, 0xff, 0xfa, 0xaa, 0x00);
    MOUSE_CMD(&t, 0xf2, 0xfa, 0x00);
    ps2_stop(&t);
}

static void test_mouse_remote(void)
{
    struct ps2 t;

    ps2_start(&t);
    mouse_enable(&t);
    MOUSE_CMD(&t, 0xf0, 0xfa);
    rel(&t, 7, 3);
    button(&t, "middle", true);
    g_usleep(50000);
    expect_nothing(&t); /* remote mode: nothing streams */
    MOUSE_CMD(&t, 0xeb, 0xfa, 0x2c, 0x07, 0xfd);
    MOUSE_CMD(&t, 0xeb, 0xfa, 0x0c, 0x00, 0x00);
    /* Status: remote, reporting, the middle button; resolution 2, rate 100 (the power-on
     * defaults). QEMU 7.2 leaves the buttons out and answers 0 and 0 until F6. */
    if (qtest_dm_is_xendm()) {
        MOUSE_CMD(&t, 0xe9, 0xfa, 0x62, 0x02, 0x64);
    } else {
        uint8_t got[4];
        controller_command(&t, 0xd4, 0xe9);
        g_assert_cmpuint(read_now(&t, got, sizeof(got), NULL), ==, 4);
        g_assert_cmphex(got[1], ==, 0x60);
    }
    ps2_stop(&t);
}

/* Absolute positions without a tablet become relative motion (xendm's router; QEMU refuses). */
static void test_abs_to_rel(void)
{
    struct ps2 t;
    uint8_t got[12];
    size_t n;

    ps2_start(&t);
    mouse_enable(&t);
    if (!qtest_dm_is_xendm()) {
        /* QEMU 7.2 refuses them when no handler takes absolute positions. */
        qmp_call_fails(t.qmp, "{\"execute\":\"input-send-event\",\"arguments\":{\"events\":["
                              "{\"type\":\"abs\",\"data\":{\"axis\":\"x\",\"value\":0}}]}}",
                       "Input handler not found for event type abs");
        ps2_stop(&t);
        return;
    }
    pointer(&t, "{\"type\":\"abs\",\"data\":{\"axis\":\"x\",\"value\":0}},"
                "{\"type\":\"abs\",\"data\":{\"axis\":\"y\",\"value\":0}}");
    g_usleep(30000);
    /* The first position moves nothing (a packet may carry no motion). */
    n = read_now(&t, got, sizeof(got), NULL);
    for (size_t i = 0; i + 2 < n; i += 3) {
        g_assert_cmphex(got[i + 1], ==, 0);
        g_assert_cmphex(got[i + 2], ==, 0);
    }
    /* Half the screen to the right, a quarter down (640x480 without a display). */
    pointer(&t, "{\"type\":\"abs\",\"data\":{\"axis\":\"x\",\"value\":16384}},"
                "{\"type\":\"abs\",\"data\":{\"axis\":\"y\",\"value\":8192}}");
    n = read_mouse(&t, got, 6, 1000);
    {
        int sum_x = 0, sum_y = 0;
        for (size_t i = 0; i < n; i += 3) {
            sum_x += got[i + 1] - (got[i] & 0x10 ? 256 : 0);
            sum_y += got[i + 2] - (got[i] & 0x20 ? 256 : 0);
        }
        g_assert_cmpint(sum_x, ==, 320);
        g_assert_cmpint(sum_y, ==, -120);
    }
    ps2_stop(&t);
}

/* ---- save and restore mid-stream ---- */

static void test_save_restore(void)
{
    g_autofree char *state = qtest_tmp_path("ps2-state");
    struct ps2 t;
    uint8_t got[32];
    size_t n;

    if (!qtest_dm_is_xendm()) {
        g_test_skip("checks xendm's typematic and carried motion across a restore");
        return;
    }
    ps2_start(&t);
    set_command_byte(&t, CTR_XLATE_OFF);
    controller_command(&t, 0xa8, -1);
    KBD_CMD(&t, 0xf3, 0xfa);
    KBD_CMD(&t, 0x7f, 0xfa); /* 1 s delay, 2 characters/s */
    KBD_CMD(&t, 0xf0, 0xfa);
    KBD_CMD(&t, 0x03, 0xfa); /* set 3 */
    MOUSE_CMD(&t, 0xf3, 0xfa);
    MOUSE_CMD(&t, 10, 0xfa); /* 10 packets/s: motion waits in the counters */
    MOUSE_CMD(&t, 0xf4, 0xfa);
    rel(&t, 20, 0);
    g_usleep(10000);
    rel(&t, 30, 0); /* within the sample period: carried */
    key(&t, "d", true);
    /*
     * Unread: the first packet's 08 in the output buffer, the keyboard's 23 (its port goes
     * first), the packet's rest; the carried 30 follows a sample period later, before the save
     * or after the restore: the bytes come in the same order either way.
     */
    CMD(t.qt, "dm_save %s", state);
    qmp_close(t.qmp);
    CMD(t.qt, "dm_restore %s", state);
    ps2_connect(&t);
    n = read_for(&t, got, 7, 1500);
    {
        static const uint8_t want[] = {0x08, 0x23, 0x14, 0x00, 0x08, 0x1e, 0x00};
        assert_bytes(got, n, want, sizeof(want));
    }
    /* The held key still repeats, in set 3, and its release breaks it. */
    g_assert_cmpuint(count_repeats(&t, 0x23, 1200), >=, 1);
    key(&t, "d", false);
    n = read_now(&t, got, sizeof(got), NULL);
    g_assert_cmpuint(n, >=, 2);
    g_assert_cmphex(got[n - 2], ==, 0xf0);
    g_assert_cmphex(got[n - 1], ==, 0x23);
    ps2_stop(&t);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ps2/kbd/translated-set1", test_translated_set1);
    g_test_add_func("/ps2/kbd/set2", test_set2);
    g_test_add_func("/ps2/kbd/set1-set3", test_set1_and_set3);
    g_test_add_func("/ps2/kbd/scanning-off", test_scanning_off);
    g_test_add_func("/ps2/kbd/send-key", test_send_key_and_sendkey);
    g_test_add_func("/ps2/kbd/qmp-errors", test_qmp_errors);
    g_test_add_func("/ps2/kbd/typematic", test_typematic);
    g_test_add_func("/ps2/kbd/overrun", test_overrun);
    g_test_add_func("/ps2/mouse/packets", test_mouse_packets);
    g_test_add_func("/ps2/mouse/clamp-carry", test_mouse_clamp_carry);
    g_test_add_func("/ps2/mouse/wheel", test_mouse_wheel);
    g_test_add_func("/ps2/mouse/remote", test_mouse_remote);
    g_test_add_func("/ps2/mouse/abs-to-rel", test_abs_to_rel);
    g_test_add_func("/ps2/save-restore", test_save_restore);
    return g_test_run();
}
