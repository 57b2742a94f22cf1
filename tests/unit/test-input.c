/*
 * Unit tests of the input router (ui/input.c) and of the PS/2 keyboard's scan code tables
 * (hw/input/i8042.c) behind it: newest handler wins and unregistering restores the one before;
 * absolute positions become relative motion without a tablet (the first moves nothing); LEDs;
 * the QKeyCode table round trip and unknown names; and, for every key that has a QKeyCode, the
 * i8042's translated set 2 output equals its set 1 output equals QEMU's key number.
 */
#include <glib.h>
#include <linux/input-event-codes.h>
#include <string.h>
#include "xendm/input.h"
#include "xendm/keyval.h"
#include "xendm/machine.h"
#include "xendm/vmstate.h"

/* ---- a recording handler ---- */

struct recorder {
    struct input_handler h;
    unsigned keys, rels, abses;
    unsigned last_key;
    bool last_down;
    int dx, dy, dz, x, y;
    unsigned buttons;
};

static void rec_key(void *opaque, unsigned keycode, bool down)
{
    struct recorder *r = opaque;

    r->keys++;
    r->last_key = keycode;
    r->last_down = down;
}

static void rec_rel(void *opaque, int dx, int dy, int dz, unsigned buttons)
{
    struct recorder *r = opaque;

    r->rels++;
    r->dx += dx;
    r->dy += dy;
    r->dz += dz;
    r->buttons = buttons;
}

static void rec_abs(void *opaque, int x, int y, int dz, unsigned buttons)
{
    struct recorder *r = opaque;

    r->abses++;
    r->x = x;
    r->y = y;
    r->dz += dz;
    r->buttons = buttons;
}

static void recorder_init(struct recorder *r, const char *name, unsigned kinds)
{
    memset(r, 0, sizeof(*r));
    r->h = (struct input_handler){.name = name, .kinds = kinds, .key = rec_key,
                                  .pointer_rel = rec_rel, .pointer_abs = rec_abs, .opaque = r};
}

/* ---- router ---- */

static void test_no_handler(void)
{
    struct input_handler unknown = {.name = "unknown"};

    g_assert_false(input_handler_present(INPUT_KIND_KEYBOARD | INPUT_KIND_POINTER_REL |
                                         INPUT_KIND_POINTER_ABS));
    g_assert_false(input_key_event(KEY_A, true));
    g_assert_false(input_pointer_rel_event(1, 1, 0, 0));
    g_assert_false(input_pointer_abs_event(100, 100, 0, 0));
    g_assert_false(input_pointer_is_absolute());
    input_unregister_handler(&unknown); /* never registered: a no-op */
}

static void test_newest_wins(void)
{
    struct recorder a, b;

    recorder_init(&a, "a", INPUT_KIND_KEYBOARD | INPUT_KIND_POINTER_REL);
    recorder_init(&b, "b", INPUT_KIND_KEYBOARD);
    input_register_handler(&a.h);
    input_register_handler(&b.h);
    g_assert_true(input_key_event(KEY_Q, true));
    g_assert_cmpuint(b.keys, ==, 1);
    g_assert_cmpuint(a.keys, ==, 0);
    g_assert_cmpuint(b.last_key, ==, KEY_Q);
    g_assert_true(b.last_down);
    /* b takes no pointer: a still gets it. */
    g_assert_true(input_pointer_rel_event(3, -4, 1, INPUT_BUTTON_LEFT));
    g_assert_cmpuint(a.rels, ==, 1);
    g_assert_cmpint(a.dx, ==, 3);
    g_assert_cmpint(a.dy, ==, -4);
    g_assert_cmpint(a.dz, ==, 1);
    g_assert_cmpuint(a.buttons, ==, INPUT_BUTTON_LEFT);
    /* Unregistering b gives the keyboard back to a; registering a again makes it newest. */
    input_unregister_handler(&b.h);
    g_assert_true(input_key_event(KEY_W, false));
    g_assert_cmpuint(a.keys, ==, 1);
    g_assert_false(a.last_down);
    input_register_handler(&b.h);
    input_register_handler(&a.h);
    g_assert_true(input_key_event(KEY_E, true));
    g_assert_cmpuint(a.keys, ==, 2);
    g_assert_cmpuint(b.keys, ==, 1);
    input_unregister_handler(&a.h);
    input_unregister_handler(&a.h); /* twice: a no-op */
    input_unregister_handler(&b.h);
    g_assert_false(input_key_event(KEY_A, true));
    /* Out-of-range key codes never reach a handler. */
    input_register_handler(&a.h);
    input_key_event(KEY_MAX + 1, true);
    input_key_event(0, true);
    g_assert_cmpuint(a.keys, ==, 2);
    input_unregister_handler(&a.h);
}

static void test_abs_to_rel(void)
{
    struct recorder mouse, tablet;

    recorder_init(&mouse, "mouse", INPUT_KIND_POINTER_REL);
    input_register_handler(&mouse.h);
    g_assert_false(input_pointer_is_absolute());
    g_assert_true(input_handler_present(INPUT_KIND_POINTER_ABS | INPUT_KIND_POINTER_REL));
    /* The first position moves nothing; then pixels of a 640x480 screen (no display). */
    g_assert_true(input_pointer_abs_event(INPUT_ABS_MAX / 2, INPUT_ABS_MAX / 2, 0, 0));
    g_assert_cmpuint(mouse.rels, ==, 1);
    g_assert_cmpint(mouse.dx, ==, 0);
    g_assert_cmpint(mouse.dy, ==, 0);
    /* The middle, rounded: 16383 of 32767 is pixel 319 of 0..639 and 239 of 0..479. */
    input_pointer_abs_event(INPUT_ABS_MAX, INPUT_ABS_MAX, 0, INPUT_BUTTON_RIGHT);
    g_assert_cmpint(mouse.dx, ==, 639 - 319);
    g_assert_cmpint(mouse.dy, ==, 479 - 239);
    g_assert_cmpuint(mouse.buttons, ==, INPUT_BUTTON_RIGHT);
    /* Out of range is clamped: no further motion past the edge. */
    input_pointer_abs_event(INPUT_ABS_MAX * 4, -5, 2, 0);
    g_assert_cmpint(mouse.dx, ==, 639 - 319);
    g_assert_cmpint(mouse.dy, ==, 0 - 239);
    g_assert_cmpint(mouse.dz, ==, 2);
    input_pointer_abs_event(0, 0, 0, 0);
    g_assert_cmpint(mouse.dx, ==, -319);
    /* A tablet takes positions as they are. */
    recorder_init(&tablet, "tablet", INPUT_KIND_POINTER_ABS);
    input_register_handler(&tablet.h);
    g_assert_true(input_pointer_is_absolute());
    input_pointer_abs_event(1234, 99999, 0, INPUT_BUTTON_MIDDLE);
    g_assert_cmpuint(tablet.abses, ==, 1);
    g_assert_cmpint(tablet.x, ==, 1234);
    g_assert_cmpint(tablet.y, ==, INPUT_ABS_MAX);
    g_assert_cmpuint(mouse.rels, ==, 4);
    input_unregister_handler(&tablet.h);
    /* Back to the mouse: the next position starts afresh. */
    input_pointer_abs_event(INPUT_ABS_MAX, 0, 0, 0);
    g_assert_cmpuint(mouse.rels, ==, 5);
    g_assert_cmpint(mouse.dx, ==, -319);
    input_unregister_handler(&mouse.h);
}

static void test_leds(void)
{
    input_set_leds(INPUT_LED_CAPS_LOCK | INPUT_LED_NUM_LOCK | 0xf0);
    g_assert_cmpuint(input_leds(), ==, INPUT_LED_CAPS_LOCK | INPUT_LED_NUM_LOCK);
    input_set_leds(0);
    g_assert_cmpuint(input_leds(), ==, 0);
}

/* ---- the QKeyCode table ---- */

static const char *const some_qcodes[] = {
    "a", "z", "0", "9", "f1", "f12", "f13", "f24", "shift", "shift_r", "ctrl", "ctrl_r", "alt",
    "alt_r", "meta_l", "meta_r", "menu", "compose", "kp_0", "kp_9", "kp_enter", "kp_divide",
    "kp_multiply", "kp_decimal", "kp_comma", "kp_equals", "left", "up", "down", "right", "home",
    "end", "pgup", "pgdn", "insert", "delete", "print", "sysrq", "pause", "less", "ro", "yen",
    "henkan", "muhenkan", "katakanahiragana", "lang1", "lang2", "audiomute", "volumeup",
    "volumedown", "power", "sleep", "wake", "mail", "calculator", "computer", "ac_home",
    "ac_back", "ac_forward", "ac_refresh", "ac_bookmarks", "audionext", "audioprev",
    "audiostop", "audioplay", "mediaselect", "stop", "spc", "ret", "esc", "tab", "backspace",
    "caps_lock", "num_lock", "scroll_lock", "grave_accent", "apostrophe", "semicolon",
    "backslash", "bracket_left", "bracket_right", "minus", "equal", "comma", "dot", "slash",
    "asterisk",
};

static void test_qcode_round_trip(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(some_qcodes); i++) {
        unsigned code = input_keycode_from_qcode(some_qcodes[i]);
        const char *back;
        g_test_message("%s -> %u", some_qcodes[i], code);
        g_assert_cmpuint(code, !=, 0);
        g_assert_cmpuint(code, <=, KEY_MAX);
        back = input_qcode_from_keycode(code);
        g_assert_nonnull(back);
        g_assert_cmpuint(input_keycode_from_qcode(back), ==, code);
    }
    g_assert_cmpuint(input_keycode_from_qcode("a"), ==, KEY_A);
    g_assert_cmpuint(input_keycode_from_qcode("ctrl_r"), ==, KEY_RIGHTCTRL);
    g_assert_cmpuint(input_keycode_from_qcode("print"), ==, KEY_SYSRQ);
    g_assert_cmpuint(input_keycode_from_qcode("kp_enter"), ==, KEY_KPENTER);
    g_assert_cmpstr(input_qcode_from_keycode(KEY_ENTER), ==, "ret");
    g_assert_cmpstr(input_qcode_from_keycode(KEY_SYSRQ), ==, "print");
    /* QEMU's key numbers: set 1, 0x80 for E0. */
    g_assert_cmpuint(input_keycode_from_number(0x1e), ==, KEY_A);
    g_assert_cmpuint(input_keycode_from_number(0x9d), ==, KEY_RIGHTCTRL);
    g_assert_cmpuint(input_keycode_from_number(0xc8), ==, KEY_UP);
    g_assert_cmpuint(input_keycode_from_number(0xb7), ==, KEY_SYSRQ);
    g_assert_cmpuint(input_keycode_from_number(0xc6), ==, KEY_PAUSE);
}

static void test_qcode_unknown(void)
{
    g_assert_cmpuint(input_keycode_from_qcode("nosuchkey"), ==, 0);
    g_assert_cmpuint(input_keycode_from_qcode(""), ==, 0);
    g_assert_cmpuint(input_keycode_from_qcode("A"), ==, 0); /* names are lower case */
    g_assert_cmpuint(input_keycode_from_qcode("unmapped"), ==, 0);
    g_assert_cmpuint(input_keycode_from_qcode(NULL), ==, 0);
    g_assert_null(input_qcode_from_keycode(0));
    g_assert_null(input_qcode_from_keycode(KEY_MAX));
    g_assert_cmpuint(input_keycode_from_number(0), ==, 0);
    g_assert_cmpuint(input_keycode_from_number(0xff), ==, 0);
}

/* ---- the i8042's scan codes for every key ---- */

static const struct accel_ops quiet_accel = {0};

struct kbd_rig {
    struct machine *m;
};

static void rig_init(struct kbd_rig *r)
{
    struct kv_list *kv = kv_new();
    GError *err = NULL;

    r->m = machine_new();
    r->m->accel = &quiet_accel;
    g_assert_nonnull(machine_create_device(r->m, "i8042", kv, &err));
    g_assert_no_error(err);
    kv_free(kv);
}

static void outb(struct kbd_rig *r, uint16_t port, uint8_t val)
{
    address_space_write(r->m->io, port, val, 1);
}

static size_t drain(struct kbd_rig *r, uint8_t *out, size_t max)
{
    size_t n = 0;

    while (n < max && (address_space_read(r->m->io, 0x64, 1) & 0x01))
        out[n++] = (uint8_t)address_space_read(r->m->io, 0x60, 1);
    return n;
}

/* The bytes one press and release of keycode make with command byte ctr and scan code set. */
static size_t key_bytes(struct kbd_rig *r, uint8_t ctr, unsigned set, unsigned keycode,
                        uint8_t *out, size_t max)
{
    uint8_t junk[8];

    outb(r, 0x64, 0x60);
    outb(r, 0x60, ctr);
    outb(r, 0x60, 0xf0);
    outb(r, 0x60, (uint8_t)set);
    drain(r, junk, sizeof(junk));
    g_assert_true(input_key_event(keycode, true));
    g_assert_true(input_key_event(keycode, false));
    return drain(r, out, max);
}

static void test_scancodes_every_key(void)
{
    struct kbd_rig r;
    unsigned checked = 0;

    rig_init(&r);
    for (unsigned code = 1; code <= KEY_MAX; code++) {
        const char *name = input_qcode_from_keycode(code);
        uint8_t xlated[16], set1[16], set2[16], set3[16];
        size_t nx, n1, n2, n3;
        if (!name)
            continue;
        nx = key_bytes(&r, 0x47, 2, code, xlated, sizeof(xlated));
        n1 = key_bytes(&r, 0x07, 1, code, set1, sizeof(set1));
        n2 = key_bytes(&r, 0x07, 2, code, set2, sizeof(set2));
        n3 = key_bytes(&r, 0x07, 3, code, set3, sizeof(set3));
        g_test_message("%s: set1 %zu bytes, set2 %zu, set3 %zu", name, n1, n2, n3);
        /* Every key has set 1 and 2 codes; the 8042's translation of set 2 is set 1. */
        g_assert_cmpuint(n1, >, 0);
        g_assert_cmpuint(n2, >, 0);
        g_assert_cmpuint(nx, ==, n1);
        g_assert_cmpmem(xlated, nx, set1, n1);
        /* Plain and E0 keys: make then break, break = make | 0x80; QEMU's number agrees. */
        if (code != KEY_PAUSE && code != KEY_SYSRQ && code != KEY_HANGEUL && code != KEY_HANJA) {
            unsigned number = set1[n1 / 2 - 1] | (n1 == 4 ? 0x80 : 0);
            g_assert_true(n1 == 2 || (n1 == 4 && set1[0] == 0xe0 && set1[2] == 0xe0));
            g_assert_cmphex(set1[n1 - 1], ==, set1[n1 / 2 - 1] | 0x80);
            /* Menu and Compose share E0 5D; the number names Menu. */
            if (code != KEY_COMPOSE)
                g_assert_cmpuint(input_keycode_from_number(number), ==, code);
            g_assert_cmpuint(n2, ==, n1 + 1);
            g_assert_cmphex(set2[n2 - 2], ==, 0xf0);
            g_assert_cmphex(set2[n2 - 1], ==, set2[n1 / 2 - 1]);
        }
        /* Set 3: nothing, or a one-byte make and F0 break. */
        g_assert_true(n3 == 0 || (n3 == 3 && set3[1] == 0xf0 && set3[2] == set3[0]));
        checked++;
    }
    g_assert_cmpuint(checked, >=, 130);
    machine_free(r.m);
    g_assert_false(input_handler_present(INPUT_KIND_KEYBOARD)); /* freed: unregistered */
}

/* Modifier-dependent sequences: Print Screen with Alt is SysRq (84 / F0 84), with Shift the bare
 * E0 7C; Pause with Ctrl is Break, an ordinary E0 7E key with a break code. */
static void test_special_sequences(void)
{
    static const uint8_t sysrq[] = {0x84, 0xf0, 0x84};
    static const uint8_t shifted_print[] = {0xe0, 0x7c, 0xe0, 0xf0, 0x7c};
    static const uint8_t brk[] = {0xe0, 0x7e, 0xe0, 0xf0, 0x7e};
    struct kbd_rig r;
    uint8_t got[16];
    size_t n;

    rig_init(&r);
    key_bytes(&r, 0x07, 2, KEY_A, got, sizeof(got));
    input_key_event(KEY_LEFTALT, true);
    drain(&r, got, sizeof(got));
    input_key_event(KEY_SYSRQ, true);
    input_key_event(KEY_SYSRQ, false);
    n = drain(&r, got, sizeof(got));
    g_assert_cmpmem(got, n, sysrq, sizeof(sysrq));
    input_key_event(KEY_LEFTALT, false);
    input_key_event(KEY_RIGHTSHIFT, true);
    drain(&r, got, sizeof(got));
    input_key_event(KEY_SYSRQ, true);
    input_key_event(KEY_SYSRQ, false);
    n = drain(&r, got, sizeof(got));
    g_assert_cmpmem(got, n, shifted_print, sizeof(shifted_print));
    input_key_event(KEY_RIGHTSHIFT, false);
    input_key_event(KEY_RIGHTCTRL, true);
    drain(&r, got, sizeof(got));
    input_key_event(KEY_PAUSE, true);
    input_key_event(KEY_PAUSE, false);
    n = drain(&r, got, sizeof(got));
    g_assert_cmpmem(got, n, brk, sizeof(brk));
    /* A second press of a held key (a front end's own repeat) makes nothing: typematic is the
     * keyboard's. A release of a key never pressed neither. */
    input_key_event(KEY_B, true);
    input_key_event(KEY_B, true);
    input_key_event(KEY_C, false);
    n = drain(&r, got, sizeof(got));
    g_assert_cmpuint(n, ==, 1);
    g_assert_cmphex(got[0], ==, 0x32);
    machine_free(r.m);
}

/* A section written by the i8042 before the input side existed (version 1) still loads into a
 * fresh device (as -incoming does): the new state keeps its reset values and keys work. */
static void test_i8042_v1_state_loads(void)
{
    const struct vmstate_desc *desc = device_type_find("i8042")->vmstate;
    struct vmstate_field v1_fields[64];
    struct vmstate_desc v1 = *desc;
    struct vmstate_writer *w = vmstate_writer_new();
    struct vmstate_stream *stream;
    struct vmstate_pending *pending;
    struct kv_list *kv = kv_new();
    struct kbd_rig r;
    GError *err = NULL;
    void *dev;
    GBytes *bytes;
    const uint8_t *data;
    size_t n = 0;
    uint8_t got[8];
    gsize len;

    g_assert_cmpuint(desc->version, ==, 2);
    for (const struct vmstate_field *f = desc->fields; f->name; f++) {
        if (f->since < 2) {
            g_assert_cmpuint(n, <, G_N_ELEMENTS(v1_fields) - 1);
            v1_fields[n++] = *f;
        }
    }
    v1_fields[n] = (struct vmstate_field){.name = NULL};
    v1.version = 1;
    v1.fields = v1_fields;
    r.m = machine_new();
    r.m->accel = &quiet_accel;
    dev = machine_create_device(r.m, "i8042", kv, &err);
    g_assert_no_error(err);
    kv_free(kv);
    outb(&r, 0x64, 0x60);
    outb(&r, 0x60, 0x07); /* no translation: saved in the v1 fields */
    vmstate_write_section(w, &v1, 0, dev);
    bytes = vmstate_writer_finish(w);
    data = g_bytes_get_data(bytes, &len);
    stream = vmstate_stream_parse(data, len, &err);
    g_assert_no_error(err);
    pending = vmstate_pending_new(stream, desc, 0, &err);
    g_assert_no_error(err);
    g_assert_nonnull(pending);
    vmstate_pending_apply(pending, dev);
    input_key_event(KEY_A, true);
    g_assert_cmpuint(drain(&r, got, sizeof(got)), ==, 1);
    g_assert_cmphex(got[0], ==, 0x1c);
    vmstate_stream_free(stream);
    g_bytes_unref(bytes);
    machine_free(r.m);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/input/no-handler", test_no_handler);
    g_test_add_func("/input/newest-wins", test_newest_wins);
    g_test_add_func("/input/abs-to-rel", test_abs_to_rel);
    g_test_add_func("/input/leds", test_leds);
    g_test_add_func("/input/qcode-round-trip", test_qcode_round_trip);
    g_test_add_func("/input/qcode-unknown", test_qcode_unknown);
    g_test_add_func("/input/ps2-scancodes-every-key", test_scancodes_every_key);
    g_test_add_func("/input/ps2-special-sequences", test_special_sequences);
    g_test_add_func("/input/i8042-v1-state-loads", test_i8042_v1_state_loads);
    return g_test_run();
}
