/*
 * The input router (include/xendm/input.h): front ends hand in key and pointer events, the
 * newest registered handler of each kind takes them. Absolute positions become relative motion
 * when no handler takes them (a PS/2 mouse behind a VNC viewer), measured in pixels of the
 * display when there is one, so a pointer moved across the viewer moves as far in the guest.
 *
 * Also here: QEMU's QKeyCode names (qapi/ui.json of QEMU 7.2, the names QMP send-key and
 * input-send-event take) to Linux evdev KEY_* codes and back.
 */
#include <linux/input-event-codes.h>
#include <pixman.h>
#include <string.h>
#include <glib.h>
#include "xendm/display.h"
#include "xendm/input.h"
#include "xendm/trace.h"

/* Registered handlers, oldest first; the search runs from the end. */
static GPtrArray *input_handlers;
static unsigned input_led_state;

/* The last absolute position, in pixels, for turning positions into motion. */
static bool abs_have_last;
static int abs_last_x, abs_last_y;

/* The screen a position is a fraction of when there is no display (headless QMP). */
#define ABS_FALLBACK_WIDTH 640
#define ABS_FALLBACK_HEIGHT 480

void input_register_handler(const struct input_handler *h)
{
    if (!input_handlers)
        input_handlers = g_ptr_array_new();
    g_ptr_array_remove(input_handlers, (gpointer)h); /* registering again makes it newest */
    g_ptr_array_add(input_handlers, (gpointer)h);
    TRACE(input_register, "handler=%s kinds=0x%x", h->name ? h->name : "?", h->kinds);
}

void input_unregister_handler(const struct input_handler *h)
{
    if (!input_handlers || !g_ptr_array_remove(input_handlers, (gpointer)h))
        return;
    TRACE(input_unregister, "handler=%s", h->name ? h->name : "?");
    if (input_handlers->len == 0) {
        g_ptr_array_free(input_handlers, TRUE);
        input_handlers = NULL;
    }
}

static const struct input_handler *input_find_handler(unsigned kind)
{
    for (guint i = input_handlers ? input_handlers->len : 0; i > 0; i--) {
        const struct input_handler *h = g_ptr_array_index(input_handlers, i - 1);
        if (h->kinds & kind)
            return h;
    }
    return NULL;
}

bool input_handler_present(unsigned kinds)
{
    for (unsigned bit = 1; bit <= INPUT_KIND_POINTER_ABS; bit <<= 1) {
        if ((kinds & bit) && input_find_handler(bit))
            return true;
    }
    return false;
}

void input_set_leds(unsigned leds)
{
    leds &= INPUT_LED_SCROLL_LOCK | INPUT_LED_NUM_LOCK | INPUT_LED_CAPS_LOCK;
    if (leds != input_led_state)
        TRACE(input_leds, "leds=0x%x", leds);
    input_led_state = leds;
}

unsigned input_leds(void)
{
    return input_led_state;
}

bool input_key_event(unsigned keycode, bool down)
{
    const struct input_handler *h = input_find_handler(INPUT_KIND_KEYBOARD);

    TRACE(input_key, "key=%u (%s) %s handler=%s", keycode,
          input_qcode_from_keycode(keycode) ? input_qcode_from_keycode(keycode) : "?",
          down ? "down" : "up", h ? h->name : "none");
    if (!h || keycode == 0 || keycode > KEY_MAX)
        return h != NULL;
    h->key(h->opaque, keycode, down);
    return true;
}

bool input_pointer_rel_event(int dx, int dy, int dz, unsigned buttons)
{
    const struct input_handler *h = input_find_handler(INPUT_KIND_POINTER_REL);

    TRACE(input_pointer_rel, "dx=%d dy=%d dz=%d buttons=0x%x handler=%s", dx, dy, dz, buttons,
          h ? h->name : "none");
    if (!h)
        return false;
    h->pointer_rel(h->opaque, dx, dy, dz, buttons);
    return true;
}

static int abs_clamp(int v)
{
    return v < 0 ? 0 : v > INPUT_ABS_MAX ? INPUT_ABS_MAX : v;
}

/* A position in 0..INPUT_ABS_MAX as a pixel of a screen `size` pixels wide, rounded. */
static int abs_to_pixel(int v, int size)
{
    return (int)(((int64_t)v * (size - 1) + INPUT_ABS_MAX / 2) / INPUT_ABS_MAX);
}

static void abs_screen_size(int *width, int *height)
{
    struct display_console *con = display_console_first();
    pixman_image_t *image = con ? (pixman_image_t *)display_console_image(con) : NULL;

    *width = image ? pixman_image_get_width(image) : ABS_FALLBACK_WIDTH;
    *height = image ? pixman_image_get_height(image) : ABS_FALLBACK_HEIGHT;
    if (*width < 2)
        *width = 2;
    if (*height < 2)
        *height = 2;
}

/* No tablet: motion from the previous position; the first position moves nothing. */
static bool abs_as_relative(int x, int y, int dz, unsigned buttons)
{
    int width, height, px, py, dx = 0, dy = 0;

    if (!input_find_handler(INPUT_KIND_POINTER_REL))
        return input_pointer_rel_event(0, 0, dz, buttons); /* nobody: traced, not recorded */
    abs_screen_size(&width, &height);
    px = abs_to_pixel(x, width);
    py = abs_to_pixel(y, height);
    if (abs_have_last) {
        dx = px - abs_last_x;
        dy = py - abs_last_y;
    }
    abs_have_last = true;
    abs_last_x = px;
    abs_last_y = py;
    return input_pointer_rel_event(dx, dy, dz, buttons);
}

bool input_pointer_abs_event(int x, int y, int dz, unsigned buttons)
{
    const struct input_handler *h = input_find_handler(INPUT_KIND_POINTER_ABS);

    x = abs_clamp(x);
    y = abs_clamp(y);
    TRACE(input_pointer_abs, "x=%d y=%d dz=%d buttons=0x%x handler=%s", x, y, dz, buttons,
          h ? h->name : "none (relative)");
    if (!h)
        return abs_as_relative(x, y, dz, buttons);
    abs_have_last = false; /* a later switch to relative starts afresh */
    h->pointer_abs(h->opaque, x, y, dz, buttons);
    return true;
}

bool input_pointer_is_absolute(void)
{
    return input_find_handler(INPUT_KIND_POINTER_ABS) != NULL;
}

/* ---- QKeyCode names ---- */

struct qcode_name {
    const char *name;
    unsigned keycode;
    /* QEMU's key number: the set 1 make code, 0x80 added for an E0-prefixed key; 0: none. */
    unsigned number;
};

/*
 * QEMU 7.2's QKeyCode values that are keys of a PC keyboard (or of its multimedia and
 * Japanese/Korean variants), in QEMU's order. The first name of a keycode is the one
 * input_qcode_from_keycode() gives; later ones are accepted aliases. The numbers are the set 1
 * codes of the IBM PC/AT keyboard as QEMU numbers them for send-key's {"type": "number"}
 * (Pause: Ctrl+Break's E0 46; the Korean keys have no number).
 */
static const struct qcode_name qcode_names[] = {
    {"shift", KEY_LEFTSHIFT, 0x2a}, {"shift_r", KEY_RIGHTSHIFT, 0x36}, {"alt", KEY_LEFTALT, 0x38},
    {"alt_r", KEY_RIGHTALT, 0xb8}, {"ctrl", KEY_LEFTCTRL, 0x1d}, {"ctrl_r", KEY_RIGHTCTRL, 0x9d},
    {"menu", KEY_MENU, 0xdd}, {"esc", KEY_ESC, 0x01}, {"1", KEY_1, 0x02}, {"2", KEY_2, 0x03},
    {"3", KEY_3, 0x04}, {"4", KEY_4, 0x05}, {"5", KEY_5, 0x06}, {"6", KEY_6, 0x07},
    {"7", KEY_7, 0x08}, {"8", KEY_8, 0x09}, {"9", KEY_9, 0x0a}, {"0", KEY_0, 0x0b},
    {"minus", KEY_MINUS, 0x0c}, {"equal", KEY_EQUAL, 0x0d}, {"backspace", KEY_BACKSPACE, 0x0e},
    {"tab", KEY_TAB, 0x0f}, {"q", KEY_Q, 0x10}, {"w", KEY_W, 0x11}, {"e", KEY_E, 0x12},
    {"r", KEY_R, 0x13}, {"t", KEY_T, 0x14}, {"y", KEY_Y, 0x15}, {"u", KEY_U, 0x16},
    {"i", KEY_I, 0x17}, {"o", KEY_O, 0x18}, {"p", KEY_P, 0x19},
    {"bracket_left", KEY_LEFTBRACE, 0x1a}, {"bracket_right", KEY_RIGHTBRACE, 0x1b},
    {"ret", KEY_ENTER, 0x1c}, {"a", KEY_A, 0x1e}, {"s", KEY_S, 0x1f}, {"d", KEY_D, 0x20},
    {"f", KEY_F, 0x21}, {"g", KEY_G, 0x22}, {"h", KEY_H, 0x23}, {"j", KEY_J, 0x24},
    {"k", KEY_K, 0x25}, {"l", KEY_L, 0x26}, {"semicolon", KEY_SEMICOLON, 0x27},
    {"apostrophe", KEY_APOSTROPHE, 0x28}, {"grave_accent", KEY_GRAVE, 0x29},
    {"backslash", KEY_BACKSLASH, 0x2b}, {"z", KEY_Z, 0x2c}, {"x", KEY_X, 0x2d}, {"c", KEY_C, 0x2e},
    {"v", KEY_V, 0x2f}, {"b", KEY_B, 0x30}, {"n", KEY_N, 0x31}, {"m", KEY_M, 0x32},
    {"comma", KEY_COMMA, 0x33}, {"dot", KEY_DOT, 0x34}, {"slash", KEY_SLASH, 0x35},
    {"asterisk", KEY_KPASTERISK, 0x37}, {"spc", KEY_SPACE, 0x39}, {"caps_lock", KEY_CAPSLOCK, 0x3a},
    {"f1", KEY_F1, 0x3b}, {"f2", KEY_F2, 0x3c}, {"f3", KEY_F3, 0x3d}, {"f4", KEY_F4, 0x3e},
    {"f5", KEY_F5, 0x3f}, {"f6", KEY_F6, 0x40}, {"f7", KEY_F7, 0x41}, {"f8", KEY_F8, 0x42},
    {"f9", KEY_F9, 0x43}, {"f10", KEY_F10, 0x44}, {"num_lock", KEY_NUMLOCK, 0x45},
    {"scroll_lock", KEY_SCROLLLOCK, 0x46}, {"kp_divide", KEY_KPSLASH, 0xb5},
    {"kp_multiply", KEY_KPASTERISK, 0x37}, {"kp_subtract", KEY_KPMINUS, 0x4a},
    {"kp_add", KEY_KPPLUS, 0x4e}, {"kp_enter", KEY_KPENTER, 0x9c}, {"kp_decimal", KEY_KPDOT, 0x53},
    /* PrintScreen/SysRq is one key; Linux calls it KEY_SYSRQ. */
    {"print", KEY_SYSRQ, 0xb7}, {"sysrq", KEY_SYSRQ, 0x54}, {"kp_0", KEY_KP0, 0x52},
    {"kp_1", KEY_KP1, 0x4f}, {"kp_2", KEY_KP2, 0x50}, {"kp_3", KEY_KP3, 0x51},
    {"kp_4", KEY_KP4, 0x4b}, {"kp_5", KEY_KP5, 0x4c}, {"kp_6", KEY_KP6, 0x4d},
    {"kp_7", KEY_KP7, 0x47}, {"kp_8", KEY_KP8, 0x48}, {"kp_9", KEY_KP9, 0x49},
    {"less", KEY_102ND, 0x56}, {"f11", KEY_F11, 0x57}, {"f12", KEY_F12, 0x58},
    {"home", KEY_HOME, 0xc7}, {"pgup", KEY_PAGEUP, 0xc9}, {"pgdn", KEY_PAGEDOWN, 0xd1},
    {"end", KEY_END, 0xcf}, {"left", KEY_LEFT, 0xcb}, {"up", KEY_UP, 0xc8},
    {"down", KEY_DOWN, 0xd0}, {"right", KEY_RIGHT, 0xcd}, {"insert", KEY_INSERT, 0xd2},
    {"delete", KEY_DELETE, 0xd3}, {"stop", KEY_STOP, 0xe8}, {"meta_l", KEY_LEFTMETA, 0xdb},
    {"meta_r", KEY_RIGHTMETA, 0xdc}, {"compose", KEY_COMPOSE, 0xdd}, {"pause", KEY_PAUSE, 0xc6},
    {"ro", KEY_RO, 0x73}, {"henkan", KEY_HENKAN, 0x79}, {"yen", KEY_YEN, 0x7d},
    {"muhenkan", KEY_MUHENKAN, 0x7b}, {"katakanahiragana", KEY_KATAKANAHIRAGANA, 0x70},
    {"kp_comma", KEY_KPCOMMA, 0x7e}, {"kp_equals", KEY_KPEQUAL, 0x59}, {"power", KEY_POWER, 0xde},
    {"sleep", KEY_SLEEP, 0xdf}, {"wake", KEY_WAKEUP, 0xe3}, {"audionext", KEY_NEXTSONG, 0x99},
    {"audioprev", KEY_PREVIOUSSONG, 0x90}, {"audiostop", KEY_STOPCD, 0xa4},
    {"audioplay", KEY_PLAYPAUSE, 0xa2}, {"audiomute", KEY_MUTE, 0xa0},
    {"volumeup", KEY_VOLUMEUP, 0xb0}, {"volumedown", KEY_VOLUMEDOWN, 0xae},
    {"mediaselect", KEY_MEDIA, 0xed}, {"mail", KEY_MAIL, 0xec}, {"calculator", KEY_CALC, 0xa1},
    {"computer", KEY_COMPUTER, 0xeb}, {"ac_home", KEY_HOMEPAGE, 0xb2}, {"ac_back", KEY_BACK, 0xea},
    {"ac_forward", KEY_FORWARD, 0xe9}, {"ac_refresh", KEY_REFRESH, 0xe7},
    {"ac_bookmarks", KEY_BOOKMARKS, 0xe6}, {"lang1", KEY_HANGEUL, 0x00}, {"lang2", KEY_HANJA, 0x00},
    {"f13", KEY_F13, 0x64}, {"f14", KEY_F14, 0x65}, {"f15", KEY_F15, 0x66}, {"f16", KEY_F16, 0x67},
    {"f17", KEY_F17, 0x68}, {"f18", KEY_F18, 0x69}, {"f19", KEY_F19, 0x6a}, {"f20", KEY_F20, 0x6b},
    {"f21", KEY_F21, 0x6c}, {"f22", KEY_F22, 0x6d}, {"f23", KEY_F23, 0x6e}, {"f24", KEY_F24, 0x76},
};

unsigned input_keycode_from_qcode(const char *qcode)
{
    if (!qcode)
        return 0;
    for (size_t i = 0; i < G_N_ELEMENTS(qcode_names); i++) {
        if (strcmp(qcode_names[i].name, qcode) == 0)
            return qcode_names[i].keycode;
    }
    return 0;
}

const char *input_qcode_from_keycode(unsigned keycode)
{
    for (size_t i = 0; keycode && i < G_N_ELEMENTS(qcode_names); i++) {
        if (qcode_names[i].keycode == keycode)
            return qcode_names[i].name;
    }
    return NULL;
}

unsigned input_keycode_from_number(unsigned number)
{
    for (size_t i = 0; number && i < G_N_ELEMENTS(qcode_names); i++) {
        if (qcode_names[i].number == number)
            return qcode_names[i].keycode;
    }
    return 0;
}
