/*
 * X keysyms (the RFB KeyEvent's key, RFC 6143 §7.5.4) and XT key numbers (QEMU's Extended Key
 * Event) to Linux evdev codes, for the US layout.
 *
 * A keysym names a symbol, not a key: which key gives '@' depends on the layout the viewer's user
 * types with. The table below is the US layout, written from the keysym values of
 * <rfb/keysym.h> (X11's keysymdef.h) and the key codes of <linux/input-event-codes.h>. Viewers
 * that speak QEMU's Extended Key Event (TigerVNC, gtk-vnc, noVNC) send the key's position
 * as well, and then the layout does not matter (vnc_xt_to_evdev).
 */
#include "vnc-keysym.h"

#include <linux/input-event-codes.h>
#include <rfb/keysym.h>
#include <stddef.h>
#include <string.h>

struct keysym_key {
    uint32_t keysym;
    uint16_t key;
};

/* Printable ASCII (0x20-0x7e), each symbol on the US key that types it, shifted or not. */
static const uint16_t ascii_keys[0x7f - 0x20] = {
    [' ' - 0x20] = KEY_SPACE,      ['!' - 0x20] = KEY_1,          ['"' - 0x20] = KEY_APOSTROPHE,
    ['#' - 0x20] = KEY_3,          ['$' - 0x20] = KEY_4,          ['%' - 0x20] = KEY_5,
    ['&' - 0x20] = KEY_7,          ['\'' - 0x20] = KEY_APOSTROPHE, ['(' - 0x20] = KEY_9,
    [')' - 0x20] = KEY_0,          ['*' - 0x20] = KEY_8,          ['+' - 0x20] = KEY_EQUAL,
    [',' - 0x20] = KEY_COMMA,      ['-' - 0x20] = KEY_MINUS,      ['.' - 0x20] = KEY_DOT,
    ['/' - 0x20] = KEY_SLASH,      ['0' - 0x20] = KEY_0,          ['1' - 0x20] = KEY_1,
    ['2' - 0x20] = KEY_2,          ['3' - 0x20] = KEY_3,          ['4' - 0x20] = KEY_4,
    ['5' - 0x20] = KEY_5,          ['6' - 0x20] = KEY_6,          ['7' - 0x20] = KEY_7,
    ['8' - 0x20] = KEY_8,          ['9' - 0x20] = KEY_9,          [':' - 0x20] = KEY_SEMICOLON,
    [';' - 0x20] = KEY_SEMICOLON,  ['<' - 0x20] = KEY_COMMA,      ['=' - 0x20] = KEY_EQUAL,
    ['>' - 0x20] = KEY_DOT,        ['?' - 0x20] = KEY_SLASH,      ['@' - 0x20] = KEY_2,
    ['[' - 0x20] = KEY_LEFTBRACE,  ['\\' - 0x20] = KEY_BACKSLASH, [']' - 0x20] = KEY_RIGHTBRACE,
    ['^' - 0x20] = KEY_6,          ['_' - 0x20] = KEY_MINUS,      ['`' - 0x20] = KEY_GRAVE,
    ['{' - 0x20] = KEY_LEFTBRACE,  ['|' - 0x20] = KEY_BACKSLASH,  ['}' - 0x20] = KEY_RIGHTBRACE,
    ['~' - 0x20] = KEY_GRAVE,
};

/* Letters: 'a'..'z' and 'A'..'Z' share a key; evdev's letter codes follow the keyboard rows. */
static const uint16_t letter_keys[26] = {
    KEY_A, KEY_B, KEY_C, KEY_D, KEY_E, KEY_F, KEY_G, KEY_H, KEY_I, KEY_J, KEY_K, KEY_L, KEY_M,
    KEY_N, KEY_O, KEY_P, KEY_Q, KEY_R, KEY_S, KEY_T, KEY_U, KEY_V, KEY_W, KEY_X, KEY_Y, KEY_Z,
};

/* Function, editing, modifier and keypad keysyms (0xFExx, 0xFFxx). */
static const struct keysym_key special_keys[] = {
    {XK_BackSpace, KEY_BACKSPACE}, {XK_Tab, KEY_TAB}, {XK_ISO_Left_Tab, KEY_TAB},
    {XK_Linefeed, KEY_ENTER}, {XK_Return, KEY_ENTER}, {XK_Pause, KEY_PAUSE},
    {XK_Scroll_Lock, KEY_SCROLLLOCK}, {XK_Sys_Req, KEY_SYSRQ}, {XK_Escape, KEY_ESC},
    {XK_Delete, KEY_DELETE}, {XK_Home, KEY_HOME}, {XK_Left, KEY_LEFT}, {XK_Up, KEY_UP},
    {XK_Right, KEY_RIGHT}, {XK_Down, KEY_DOWN}, {XK_Page_Up, KEY_PAGEUP},
    {XK_Page_Down, KEY_PAGEDOWN}, {XK_End, KEY_END}, {XK_Begin, KEY_HOME},
    {XK_Print, KEY_SYSRQ}, {XK_Insert, KEY_INSERT}, {XK_Menu, KEY_COMPOSE},
    {XK_Break, KEY_PAUSE}, {XK_Num_Lock, KEY_NUMLOCK},
    {XK_KP_Space, KEY_SPACE}, {XK_KP_Tab, KEY_TAB}, {XK_KP_Enter, KEY_KPENTER},
    {XK_KP_Home, KEY_KP7}, {XK_KP_Left, KEY_KP4}, {XK_KP_Up, KEY_KP8}, {XK_KP_Right, KEY_KP6},
    {XK_KP_Down, KEY_KP2}, {XK_KP_Page_Up, KEY_KP9}, {XK_KP_Page_Down, KEY_KP3},
    {XK_KP_End, KEY_KP1}, {XK_KP_Begin, KEY_KP5}, {XK_KP_Insert, KEY_KP0},
    {XK_KP_Delete, KEY_KPDOT}, {XK_KP_Equal, KEY_KPEQUAL}, {XK_KP_Multiply, KEY_KPASTERISK},
    {XK_KP_Add, KEY_KPPLUS}, {XK_KP_Separator, KEY_KPCOMMA}, {XK_KP_Subtract, KEY_KPMINUS},
    {XK_KP_Decimal, KEY_KPDOT}, {XK_KP_Divide, KEY_KPSLASH},
    {XK_KP_0, KEY_KP0}, {XK_KP_1, KEY_KP1}, {XK_KP_2, KEY_KP2}, {XK_KP_3, KEY_KP3},
    {XK_KP_4, KEY_KP4}, {XK_KP_5, KEY_KP5}, {XK_KP_6, KEY_KP6}, {XK_KP_7, KEY_KP7},
    {XK_KP_8, KEY_KP8}, {XK_KP_9, KEY_KP9},
    {XK_F1, KEY_F1}, {XK_F2, KEY_F2}, {XK_F3, KEY_F3}, {XK_F4, KEY_F4}, {XK_F5, KEY_F5},
    {XK_F6, KEY_F6}, {XK_F7, KEY_F7}, {XK_F8, KEY_F8}, {XK_F9, KEY_F9}, {XK_F10, KEY_F10},
    {XK_F11, KEY_F11}, {XK_F12, KEY_F12},
    {XK_Shift_L, KEY_LEFTSHIFT}, {XK_Shift_R, KEY_RIGHTSHIFT},
    {XK_Control_L, KEY_LEFTCTRL}, {XK_Control_R, KEY_RIGHTCTRL},
    {XK_Caps_Lock, KEY_CAPSLOCK}, {XK_Shift_Lock, KEY_CAPSLOCK},
    {XK_Meta_L, KEY_LEFTALT}, {XK_Meta_R, KEY_RIGHTALT},
    {XK_Alt_L, KEY_LEFTALT}, {XK_Alt_R, KEY_RIGHTALT},
    {XK_Super_L, KEY_LEFTMETA}, {XK_Super_R, KEY_RIGHTMETA},
    {XK_Hyper_L, KEY_LEFTMETA}, {XK_Hyper_R, KEY_RIGHTMETA},
    /* AltGr as X servers report it on many layouts. */
    {XK_ISO_Level3_Shift, KEY_RIGHTALT}, {XK_Mode_switch, KEY_RIGHTALT},
};

unsigned vnc_keysym_to_evdev_us(uint32_t keysym)
{
    if (keysym >= 'a' && keysym <= 'z') {
        return letter_keys[keysym - 'a'];
    }
    if (keysym >= 'A' && keysym <= 'Z') {
        return letter_keys[keysym - 'A'];
    }
    if (keysym >= 0x20 && keysym < 0x7f) {
        return ascii_keys[keysym - 0x20];
    }
    for (size_t i = 0; i < sizeof(special_keys) / sizeof(special_keys[0]); i++) {
        if (special_keys[i].keysym == keysym) {
            return special_keys[i].key;
        }
    }
    return 0;
}

/*
 * XT numbers with the 0xE0 prefix (QEMU sends 0x80 | the make code). Without it, codes
 * 0x01-0x58 are the evdev codes themselves: evdev's numbering of the PC keys is scan code
 * set 1's.
 */
static const struct keysym_key xt_extended[] = {
    {0x9c, KEY_KPENTER}, {0x9d, KEY_RIGHTCTRL}, {0xb5, KEY_KPSLASH}, {0xb7, KEY_SYSRQ},
    {0xb8, KEY_RIGHTALT}, {0xc6, KEY_PAUSE}, {0xc7, KEY_HOME}, {0xc8, KEY_UP},
    {0xc9, KEY_PAGEUP}, {0xcb, KEY_LEFT}, {0xcd, KEY_RIGHT}, {0xcf, KEY_END},
    {0xd0, KEY_DOWN}, {0xd1, KEY_PAGEDOWN}, {0xd2, KEY_INSERT}, {0xd3, KEY_DELETE},
    {0xdb, KEY_LEFTMETA}, {0xdc, KEY_RIGHTMETA}, {0xdd, KEY_COMPOSE},
    {0xa0, KEY_MUTE}, {0xae, KEY_VOLUMEDOWN}, {0xb0, KEY_VOLUMEUP}, {0xde, KEY_POWER},
    {0xdf, KEY_SLEEP}, {0xe3, KEY_WAKEUP},
};

/* Unprefixed codes above 0x58 (the international and Japanese keys, keypad '='). */
static const struct keysym_key xt_high[] = {
    {0x59, KEY_KPEQUAL}, {0x70, KEY_KATAKANAHIRAGANA}, {0x73, KEY_RO}, {0x79, KEY_HENKAN},
    {0x7b, KEY_MUHENKAN}, {0x7d, KEY_YEN}, {0x7e, KEY_KPCOMMA},
};

static unsigned lookup(const struct keysym_key *table, size_t n, uint32_t code)
{
    for (size_t i = 0; i < n; i++) {
        if (table[i].keysym == code) {
            return table[i].key;
        }
    }
    return 0;
}

unsigned vnc_xt_to_evdev(uint32_t xt)
{
    if (xt >= 0x01 && xt <= 0x58) {
        return xt;
    }
    if (xt & 0x80) {
        return lookup(xt_extended, sizeof(xt_extended) / sizeof(xt_extended[0]), xt);
    }
    return lookup(xt_high, sizeof(xt_high) / sizeof(xt_high[0]), xt);
}

bool vnc_keymap_is_us(const char *layout)
{
    return layout == NULL || *layout == '\0' || strcmp(layout, "en-us") == 0;
}
