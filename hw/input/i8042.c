/*
 * "i8042": the PS/2 keyboard controller at ports 0x60 (data) and 0x64 (status/command), with a
 * PS/2 keyboard and mouse behind it. Facts from the IBM PS/2 Hardware Interface Technical
 * Reference ("Keyboard/Auxiliary Device Controller", "Keyboard and Auxiliary Device", scan code
 * tables) and the 8042 command set as PC firmware uses it.
 *
 * Data flow. The controller has one output buffer byte (status OBF; AUXB says it came from the
 * mouse). Three bounded queues feed it, highest priority first:
 *   - controller replies (self-test, command byte, 0xD2/0xD3 echoes),
 *   - the keyboard's own output buffer (its replies and scan codes, 16 bytes as on the device),
 *   - the mouse's output queue (replies and whole packets).
 * A device queue moves into the output buffer only while its port is enabled in the command byte,
 * as the real controller holds a disabled device's clock line.
 *
 * Input. The device registers with the input router (include/xendm/input.h) as the keyboard and
 * the relative pointer. Keys arrive as evdev codes and leave as scan codes of the keyboard's set
 * (1, 2 or 3); with the command byte's XLATE bit the controller turns set 2 into set 1 as the
 * 8042 does. The keyboard repeats the last key held (typematic). Mouse motion accumulates and
 * leaves as 3- or 4-byte packets no faster than the sample rate.
 *
 * Interrupts: IRQ 1 while the output buffer holds keyboard or controller data and the command
 * byte enables it; IRQ 12 likewise for mouse data. Reading port 0x60 drops the line before the
 * next byte is loaded, so an edge-triggered PIC sees one edge per byte.
 */
#include <glib.h>
#include <linux/input-event-codes.h>
#include "xendm/common.h"
#include "xendm/input.h"
#include "xendm/keyval.h"
#include "xendm/log.h"
#include "xendm/machine.h"
#include "xendm/memory.h"
#include "xendm/trace.h"
#include "xendm/vmstate.h"

#define I8042_DATA_PORT 0x60
#define I8042_COMMAND_PORT 0x64
#define I8042_KBD_IRQ 1
#define I8042_AUX_IRQ 12

/* Status register (port 0x64 read). */
#define STATUS_OBF 0x01
#define STATUS_IBF 0x02 /* never set: every write is handled at once */
#define STATUS_SYS 0x04
#define STATUS_CMD 0x08 /* last write went to 0x64 */
#define STATUS_UNLOCKED 0x10
#define STATUS_AUX_OBF 0x20

/* Command byte (controller RAM byte 0). */
#define CTR_KBD_INT 0x01
#define CTR_AUX_INT 0x02
#define CTR_SYS 0x04
#define CTR_KBD_DISABLE 0x10
#define CTR_AUX_DISABLE 0x20
#define CTR_XLATE 0x40
/* What a BIOS leaves: both interrupts, scan code translation. */
#define CTR_POWER_ON (CTR_KBD_INT | CTR_AUX_INT | CTR_XLATE)

/* Output port (commands 0xD0/0xD1). Bit 0 drives the CPU reset line, active low. */
#define OUTPORT_NOT_RESET 0x01
#define OUTPORT_A20 0x02
#define OUTPORT_KBD_OBF 0x10
#define OUTPORT_AUX_OBF 0x20
#define OUTPORT_POWER_ON (OUTPORT_NOT_RESET | OUTPORT_A20)

#define I8042_RAM_SIZE 32
#define I8042_QUEUE_SIZE 16 /* a PS/2 keyboard buffers 16 bytes */

/* Replies of PS/2 devices. */
#define PS2_ACK 0xfa
#define PS2_RESEND 0xfe
#define PS2_SELF_TEST_OK 0xaa
#define PS2_ECHO 0xee

struct i8042_queue {
    uint8_t data[I8042_QUEUE_SIZE];
    bool from_aux[I8042_QUEUE_SIZE]; /* only the controller queue mixes sources */
    unsigned head;
    unsigned count;
};

/* Keys the keyboard tracks as held: a bit per evdev code. */
#define KBD_HELD_BYTES ((KEY_MAX + 1) / 8)

struct ps2_keyboard {
    uint8_t awaiting_arg; /* command whose argument byte comes next, 0: none */
    bool scanning;
    uint8_t scancode_set;
    uint8_t leds;
    uint8_t typematic;     /* the 0xF3 byte: bits 5-6 delay, bits 0-4 rate */
    uint16_t repeat_key;   /* evdev code of the key repeating (the last one pressed), 0: none */
    uint8_t held[KBD_HELD_BYTES];
    struct timer *typematic_timer;
};

/* Intellimouse device IDs (0xF2's answer). */
#define MOUSE_ID_STANDARD 0
#define MOUSE_ID_WHEEL 3    /* 4-byte packets, wheel in byte 3 */
#define MOUSE_ID_5BUTTON 4  /* wheel in bits 0-3 of byte 3, buttons 4 and 5 in bits 4-5 */
/* Movement the mouse keeps for the next packets; a bound, so a guest that never reads cannot
 * make the counters wrap. */
#define MOUSE_ACC_LIMIT 65535

struct ps2_mouse {
    uint8_t awaiting_arg;
    bool reporting;
    bool remote_mode;
    bool scaling_2to1;
    uint8_t sample_rate;
    uint8_t resolution;
    uint8_t id;
    uint8_t rate_history[3]; /* the last three sample rates set, newest last */
    /* Movement not reported yet, in the mouse's own sense: x right, y up, z toward the user. */
    int32_t acc_dx, acc_dy, acc_dz;
    uint8_t buttons;      /* INPUT_BUTTON_* held now */
    uint8_t sent_buttons; /* as the last packet reported them */
    int64_t last_packet_ns;
    struct timer *packet_timer;
};

struct i8042 {
    struct machine *machine;
    struct region *data_region;
    struct region *command_region;
    struct irq_line *kbd_irq;
    struct irq_line *aux_irq;

    uint8_t ram[I8042_RAM_SIZE]; /* ram[0] is the command byte */
    uint8_t status;              /* SYS and CMD; OBF/AUX_OBF come from the output buffer */
    uint8_t outport;
    uint8_t awaiting_data;       /* controller command whose data byte comes next, 0: none */

    uint8_t obuf;
    bool obuf_full;
    bool obuf_from_aux;

    struct i8042_queue ctrl_queue;
    struct i8042_queue kbd_queue;
    struct i8042_queue aux_queue;
    struct ps2_keyboard kbd;
    struct ps2_mouse mouse;

    struct input_handler kbd_input;
    struct input_handler mouse_input;
    bool inputs_registered;
};

static GQuark i8042_error_quark(void)
{
    return g_quark_from_static_string("xendm-i8042-error");
}

/* ---- queues ---- */

/* A full queue drops the byte, as a device with a full buffer does. */
static void queue_push(struct i8042_queue *q, uint8_t byte, bool from_aux)
{
    if (q->count >= I8042_QUEUE_SIZE)
        return;
    unsigned tail = (q->head + q->count) % I8042_QUEUE_SIZE;
    q->data[tail] = byte;
    q->from_aux[tail] = from_aux;
    q->count++;
}

static bool queue_pop(struct i8042_queue *q, uint8_t *byte, bool *from_aux)
{
    if (!q->count)
        return false;
    *byte = q->data[q->head];
    *from_aux = q->from_aux[q->head];
    q->head = (q->head + 1) % I8042_QUEUE_SIZE;
    q->count--;
    return true;
}

static void queue_clear(struct i8042_queue *q)
{
    q->head = 0;
    q->count = 0;
}

/* ---- output buffer and interrupts ---- */

static uint8_t i8042_command_byte(const struct i8042 *c)
{
    return c->ram[0];
}

static void i8042_update_irqs(struct i8042 *c)
{
    uint8_t ctr = i8042_command_byte(c);

    irq_set_level(c->kbd_irq, c->obuf_full && !c->obuf_from_aux && (ctr & CTR_KBD_INT));
    irq_set_level(c->aux_irq, c->obuf_full && c->obuf_from_aux && (ctr & CTR_AUX_INT));
}

static bool i8042_next_output(struct i8042 *c, uint8_t *byte, bool *from_aux)
{
    uint8_t ctr = i8042_command_byte(c);

    /* Each queued byte carries its source: kbd_reply() and aux_reply() record it. */
    if (queue_pop(&c->ctrl_queue, byte, from_aux))
        return true;
    if (!(ctr & CTR_KBD_DISABLE) && queue_pop(&c->kbd_queue, byte, from_aux))
        return true;
    return !(ctr & CTR_AUX_DISABLE) && queue_pop(&c->aux_queue, byte, from_aux);
}

/* Loads the output buffer if it is empty and something waits, then sets the IRQ lines. */
static void i8042_service(struct i8042 *c)
{
    if (!c->obuf_full && i8042_next_output(c, &c->obuf, &c->obuf_from_aux))
        c->obuf_full = true;
    i8042_update_irqs(c);
}

static void i8042_reply(struct i8042 *c, uint8_t byte)
{
    queue_push(&c->ctrl_queue, byte, false);
}

static void i8042_request_reset(struct i8042 *c)
{
    TRACE(i8042_reset, "reset line pulsed");
    machine_request_shutdown(c->machine, SHUTDOWN_REBOOT);
}

/* ---- the PS/2 keyboard behind port 1 ---- */

static void kbd_reply(struct i8042 *c, uint8_t byte)
{
    queue_push(&c->kbd_queue, byte, false);
}

/*
 * The keys, by evdev code: set 1 and set 2 make codes (0xE0nn: E0-prefixed) and the set 3 code
 * (0: the key has none). Breaks follow from makes (set 1: | 0x80; sets 2 and 3: F0 before the
 * last byte). PrintScreen, Pause and the Korean keys are special (kbd_special_sequence).
 * IBM PS/2 Technical Reference, keyboard scan code tables; the multimedia, Japanese and F13-F24
 * codes as Microsoft's "Keyboard Scan Code Specification" lists them.
 */
struct scancode_entry {
    uint16_t keycode;
    uint16_t set1;
    uint16_t set2;
    uint8_t set3;
};

static const struct scancode_entry scancode_table[] = {
    {KEY_ESC, 0x01, 0x76, 0x08}, {KEY_1, 0x02, 0x16, 0x16}, {KEY_2, 0x03, 0x1e, 0x1e},
    {KEY_3, 0x04, 0x26, 0x26}, {KEY_4, 0x05, 0x25, 0x25}, {KEY_5, 0x06, 0x2e, 0x2e},
    {KEY_6, 0x07, 0x36, 0x36}, {KEY_7, 0x08, 0x3d, 0x3d}, {KEY_8, 0x09, 0x3e, 0x3e},
    {KEY_9, 0x0a, 0x46, 0x46}, {KEY_0, 0x0b, 0x45, 0x45}, {KEY_MINUS, 0x0c, 0x4e, 0x4e},
    {KEY_EQUAL, 0x0d, 0x55, 0x55}, {KEY_BACKSPACE, 0x0e, 0x66, 0x66}, {KEY_TAB, 0x0f, 0x0d, 0x0d},
    {KEY_Q, 0x10, 0x15, 0x15}, {KEY_W, 0x11, 0x1d, 0x1d}, {KEY_E, 0x12, 0x24, 0x24},
    {KEY_R, 0x13, 0x2d, 0x2d}, {KEY_T, 0x14, 0x2c, 0x2c}, {KEY_Y, 0x15, 0x35, 0x35},
    {KEY_U, 0x16, 0x3c, 0x3c}, {KEY_I, 0x17, 0x43, 0x43}, {KEY_O, 0x18, 0x44, 0x44},
    {KEY_P, 0x19, 0x4d, 0x4d}, {KEY_LEFTBRACE, 0x1a, 0x54, 0x54},
    {KEY_RIGHTBRACE, 0x1b, 0x5b, 0x5b}, {KEY_ENTER, 0x1c, 0x5a, 0x5a},
    {KEY_LEFTCTRL, 0x1d, 0x14, 0x11}, {KEY_A, 0x1e, 0x1c, 0x1c}, {KEY_S, 0x1f, 0x1b, 0x1b},
    {KEY_D, 0x20, 0x23, 0x23}, {KEY_F, 0x21, 0x2b, 0x2b}, {KEY_G, 0x22, 0x34, 0x34},
    {KEY_H, 0x23, 0x33, 0x33}, {KEY_J, 0x24, 0x3b, 0x3b}, {KEY_K, 0x25, 0x42, 0x42},
    {KEY_L, 0x26, 0x4b, 0x4b}, {KEY_SEMICOLON, 0x27, 0x4c, 0x4c},
    {KEY_APOSTROPHE, 0x28, 0x52, 0x52}, {KEY_GRAVE, 0x29, 0x0e, 0x0e},
    {KEY_LEFTSHIFT, 0x2a, 0x12, 0x12}, {KEY_BACKSLASH, 0x2b, 0x5d, 0x5c},
    {KEY_Z, 0x2c, 0x1a, 0x1a}, {KEY_X, 0x2d, 0x22, 0x22}, {KEY_C, 0x2e, 0x21, 0x21},
    {KEY_V, 0x2f, 0x2a, 0x2a}, {KEY_B, 0x30, 0x32, 0x32}, {KEY_N, 0x31, 0x31, 0x31},
    {KEY_M, 0x32, 0x3a, 0x3a}, {KEY_COMMA, 0x33, 0x41, 0x41}, {KEY_DOT, 0x34, 0x49, 0x49},
    {KEY_SLASH, 0x35, 0x4a, 0x4a}, {KEY_RIGHTSHIFT, 0x36, 0x59, 0x59},
    {KEY_KPASTERISK, 0x37, 0x7c, 0x7e}, {KEY_LEFTALT, 0x38, 0x11, 0x19},
    {KEY_SPACE, 0x39, 0x29, 0x29}, {KEY_CAPSLOCK, 0x3a, 0x58, 0x14},
    {KEY_F1, 0x3b, 0x05, 0x07}, {KEY_F2, 0x3c, 0x06, 0x0f}, {KEY_F3, 0x3d, 0x04, 0x17},
    {KEY_F4, 0x3e, 0x0c, 0x1f}, {KEY_F5, 0x3f, 0x03, 0x27}, {KEY_F6, 0x40, 0x0b, 0x2f},
    {KEY_F7, 0x41, 0x83, 0x37}, {KEY_F8, 0x42, 0x0a, 0x3f}, {KEY_F9, 0x43, 0x01, 0x47},
    {KEY_F10, 0x44, 0x09, 0x4f}, {KEY_NUMLOCK, 0x45, 0x77, 0x76},
    {KEY_SCROLLLOCK, 0x46, 0x7e, 0x5f}, {KEY_KP7, 0x47, 0x6c, 0x6c}, {KEY_KP8, 0x48, 0x75, 0x75},
    {KEY_KP9, 0x49, 0x7d, 0x7d}, {KEY_KPMINUS, 0x4a, 0x7b, 0x84}, {KEY_KP4, 0x4b, 0x6b, 0x6b},
    {KEY_KP5, 0x4c, 0x73, 0x73}, {KEY_KP6, 0x4d, 0x74, 0x74}, {KEY_KPPLUS, 0x4e, 0x79, 0x7c},
    {KEY_KP1, 0x4f, 0x69, 0x69}, {KEY_KP2, 0x50, 0x72, 0x72}, {KEY_KP3, 0x51, 0x7a, 0x7a},
    {KEY_KP0, 0x52, 0x70, 0x70}, {KEY_KPDOT, 0x53, 0x71, 0x71}, {KEY_102ND, 0x56, 0x61, 0x13},
    {KEY_F11, 0x57, 0x78, 0x56}, {KEY_F12, 0x58, 0x07, 0x5e}, {KEY_KPEQUAL, 0x59, 0x0f, 0},
    {KEY_F13, 0x64, 0x08, 0}, {KEY_F14, 0x65, 0x10, 0}, {KEY_F15, 0x66, 0x18, 0},
    {KEY_F16, 0x67, 0x20, 0}, {KEY_F17, 0x68, 0x28, 0}, {KEY_F18, 0x69, 0x30, 0},
    {KEY_F19, 0x6a, 0x38, 0}, {KEY_F20, 0x6b, 0x40, 0}, {KEY_F21, 0x6c, 0x48, 0},
    {KEY_F22, 0x6d, 0x50, 0}, {KEY_F23, 0x6e, 0x57, 0}, {KEY_F24, 0x76, 0x5f, 0},
    {KEY_KATAKANAHIRAGANA, 0x70, 0x13, 0}, {KEY_RO, 0x73, 0x51, 0}, {KEY_HENKAN, 0x79, 0x64, 0},
    {KEY_MUHENKAN, 0x7b, 0x67, 0}, {KEY_YEN, 0x7d, 0x6a, 0}, {KEY_KPCOMMA, 0x7e, 0x6d, 0},
    {KEY_PREVIOUSSONG, 0xe010, 0xe015, 0}, {KEY_NEXTSONG, 0xe019, 0xe04d, 0},
    {KEY_KPENTER, 0xe01c, 0xe05a, 0x79}, {KEY_RIGHTCTRL, 0xe01d, 0xe014, 0x58},
    {KEY_MUTE, 0xe020, 0xe023, 0}, {KEY_CALC, 0xe021, 0xe02b, 0},
    {KEY_PLAYPAUSE, 0xe022, 0xe034, 0}, {KEY_STOPCD, 0xe024, 0xe03b, 0},
    {KEY_VOLUMEDOWN, 0xe02e, 0xe021, 0}, {KEY_VOLUMEUP, 0xe030, 0xe032, 0},
    {KEY_HOMEPAGE, 0xe032, 0xe03a, 0}, {KEY_KPSLASH, 0xe035, 0xe04a, 0x77},
    {KEY_RIGHTALT, 0xe038, 0xe011, 0x39}, {KEY_HOME, 0xe047, 0xe06c, 0x6e},
    {KEY_UP, 0xe048, 0xe075, 0x63}, {KEY_PAGEUP, 0xe049, 0xe07d, 0x6f},
    {KEY_LEFT, 0xe04b, 0xe06b, 0x61}, {KEY_RIGHT, 0xe04d, 0xe074, 0x6a},
    {KEY_END, 0xe04f, 0xe069, 0x65}, {KEY_DOWN, 0xe050, 0xe072, 0x60},
    {KEY_PAGEDOWN, 0xe051, 0xe07a, 0x6d}, {KEY_INSERT, 0xe052, 0xe070, 0x67},
    {KEY_DELETE, 0xe053, 0xe071, 0x64}, {KEY_LEFTMETA, 0xe05b, 0xe01f, 0x8b},
    {KEY_RIGHTMETA, 0xe05c, 0xe027, 0x8c}, {KEY_COMPOSE, 0xe05d, 0xe02f, 0x8d},
    {KEY_MENU, 0xe05d, 0xe02f, 0x8d}, {KEY_POWER, 0xe05e, 0xe037, 0},
    {KEY_SLEEP, 0xe05f, 0xe03f, 0}, {KEY_WAKEUP, 0xe063, 0xe05e, 0},
    {KEY_BOOKMARKS, 0xe066, 0xe018, 0}, {KEY_REFRESH, 0xe067, 0xe020, 0},
    {KEY_STOP, 0xe068, 0xe028, 0}, {KEY_FORWARD, 0xe069, 0xe030, 0},
    {KEY_BACK, 0xe06a, 0xe038, 0}, {KEY_COMPUTER, 0xe06b, 0xe040, 0},
    {KEY_MAIL, 0xe06c, 0xe048, 0}, {KEY_MEDIA, 0xe06d, 0xe050, 0},
    /* Special sequences (kbd_special_sequence); the set 3 codes are plain. */
    {KEY_SYSRQ, 0xe037, 0xe07c, 0x57}, {KEY_PAUSE, 0xe046, 0xe07e, 0x62},
    {KEY_HANGEUL, 0xf2, 0xf2, 0}, {KEY_HANJA, 0xf1, 0xf1, 0},
};

#define SCANCODE_E0 0xe000

static const struct scancode_entry *scancode_lookup(unsigned keycode)
{
    for (size_t i = 0; i < G_N_ELEMENTS(scancode_table); i++) {
        if (scancode_table[i].keycode == keycode)
            return &scancode_table[i];
    }
    return NULL;
}

/*
 * The 8042's set 2 -> set 1 translation: each key's set 2 code maps to its set 1 code (an E0
 * prefix passes through and keeps both sides aligned). 0x00, set 2's overrun code, becomes set
 * 1's 0xFF; Alt+SysRq's 0x84 becomes 0x54. Codes no key sends pass unchanged. Only scan codes
 * go through it here: the keyboard's replies (ACK, identify's AB 83, the scan code set) reach
 * the guest untranslated, where a real 8042 would turn identify's 83 into 41 (Linux accepts
 * both).
 */
static uint8_t xlate_table[256];

static void xlate_table_init(void)
{
    static bool done;

    if (done)
        return;
    for (unsigned i = 0; i < 256; i++)
        xlate_table[i] = (uint8_t)i;
    for (size_t i = 0; i < G_N_ELEMENTS(scancode_table); i++)
        xlate_table[scancode_table[i].set2 & 0xff] = (uint8_t)scancode_table[i].set1;
    xlate_table[0x00] = 0xff;
    xlate_table[0x84] = 0x54;
    done = true;
}

static bool kbd_translating(const struct i8042 *c)
{
    return i8042_command_byte(c) & CTR_XLATE;
}

/* The code the keyboard sends when its buffer overflows, as the host sees it. */
static uint8_t kbd_overrun_code(const struct i8042 *c)
{
    uint8_t code = c->kbd.scancode_set == 1 ? 0xff : 0x00;

    return kbd_translating(c) ? xlate_table[code] : code;
}

/*
 * One byte into the keyboard's 16-byte buffer. When the buffer is full the last byte becomes
 * the overrun code and the byte is lost, as the keyboard does (IBM PS/2 TR, "Keyboard Buffer").
 */
static void kbd_buffer_byte(struct i8042 *c, uint8_t byte)
{
    struct i8042_queue *q = &c->kbd_queue;

    if (q->count < I8042_QUEUE_SIZE) {
        queue_push(q, byte, false);
        return;
    }
    q->data[(q->head + q->count - 1) % I8042_QUEUE_SIZE] = kbd_overrun_code(c);
    TRACE(i8042_kbd_overrun, "byte=0x%02x lost", byte);
}

/* Scan code bytes as the keyboard sends them, translated on the way when XLATE is set: an F0
 * prefix is swallowed and sets bit 7 of the next byte. */
static void kbd_send(struct i8042 *c, const uint8_t *bytes, size_t n)
{
    bool xlate = kbd_translating(c);
    bool release = false;

    for (size_t i = 0; i < n; i++) {
        if (!xlate) {
            kbd_buffer_byte(c, bytes[i]);
        } else if (bytes[i] == 0xf0) {
            release = true;
        } else {
            kbd_buffer_byte(c, xlate_table[bytes[i]] | (release ? 0x80 : 0));
            release = false;
        }
    }
    i8042_service(c);
}

static bool kbd_key_held(const struct ps2_keyboard *kbd, unsigned keycode)
{
    return kbd->held[keycode / 8] & (1u << (keycode % 8));
}

static void kbd_set_held(struct ps2_keyboard *kbd, unsigned keycode, bool held)
{
    if (held)
        kbd->held[keycode / 8] |= (uint8_t)(1u << (keycode % 8));
    else
        kbd->held[keycode / 8] &= (uint8_t)~(1u << (keycode % 8));
}

static bool kbd_any_held(const struct ps2_keyboard *kbd, unsigned a, unsigned b)
{
    return kbd_key_held(kbd, a) || kbd_key_held(kbd, b);
}

/* PrintScreen's and Pause's sequences in sets 1 and 2 (they depend on the modifiers held), and
 * the Korean keys' make-only codes. Returns the length; 0: the key is sent as an ordinary one;
 * SIZE_MAX: the event sends nothing (the break of a key that has none). */
static size_t kbd_special_sequence(const struct ps2_keyboard *kbd, unsigned keycode, bool down,
                                   uint8_t *out)
{
    bool set1 = kbd->scancode_set == 1;
    bool ctrl = kbd_any_held(kbd, KEY_LEFTCTRL, KEY_RIGHTCTRL);
    bool alt = kbd_any_held(kbd, KEY_LEFTALT, KEY_RIGHTALT);
    bool shift = kbd_any_held(kbd, KEY_LEFTSHIFT, KEY_RIGHTSHIFT);
    static const uint8_t pause1[] = {0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5};
    static const uint8_t pause2[] = {0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77};
    static const uint8_t print1[2][4] = {{0xe0, 0xb7, 0xe0, 0xaa}, {0xe0, 0x2a, 0xe0, 0x37}};
    static const uint8_t print2[2][6] = {{0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12},
                                         {0xe0, 0x12, 0xe0, 0x7c}};

    switch (keycode) {
    case KEY_PAUSE:
        /* Pause has no break; with Ctrl held it is Break, an ordinary E0 key (E0 7E). */
        if (ctrl)
            return 0;
        if (!down)
            return SIZE_MAX;
        memcpy(out, set1 ? pause1 : pause2, set1 ? sizeof(pause1) : sizeof(pause2));
        return set1 ? sizeof(pause1) : sizeof(pause2);
    case KEY_SYSRQ:
        if (alt) { /* SysRq: a plain key, code 0x54 / 0x84 */
            size_t n = 0;
            if (!down && !set1)
                out[n++] = 0xf0;
            out[n++] = set1 ? (down ? 0x54 : 0xd4) : 0x84;
            return n;
        }
        if (ctrl || shift) /* the bare E0 7C / E0 37 */
            return 0;
        if (set1) {
            memcpy(out, print1[down], 4);
            return 4;
        }
        memcpy(out, print2[down], down ? 4 : 6);
        return down ? 4 : 6;
    case KEY_HANGEUL: case KEY_HANJA: /* make only */
        if (!down)
            return SIZE_MAX;
        out[0] = keycode == KEY_HANGEUL ? 0xf2 : 0xf1;
        return 1;
    }
    return 0;
}

/* The bytes one key event makes in the current set; 0 when the key has none there. */
static size_t kbd_scancodes(const struct ps2_keyboard *kbd, unsigned keycode, bool down,
                            uint8_t *out)
{
    const struct scancode_entry *e = scancode_lookup(keycode);
    size_t n = 0;
    uint16_t code;

    if (!e)
        return 0;
    if (kbd->scancode_set == 3) {
        if (!e->set3)
            return 0;
        if (!down)
            out[n++] = 0xf0;
        out[n++] = e->set3;
        return n;
    }
    n = kbd_special_sequence(kbd, keycode, down, out);
    if (n)
        return n == SIZE_MAX ? 0 : n;
    code = kbd->scancode_set == 1 ? e->set1 : e->set2;
    if (code & SCANCODE_E0)
        out[n++] = 0xe0;
    if (kbd->scancode_set == 1) {
        out[n++] = (uint8_t)(code | (down ? 0 : 0x80));
    } else {
        if (!down)
            out[n++] = 0xf0;
        out[n++] = (uint8_t)code;
    }
    return n;
}

/* Delay and period of the typematic byte (0xF3): delay (1 + bits 5-6) * 250 ms +-20%;
 * period (8 + bits 0-2) * 2^(bits 3-4) * 4.17 ms, 33.4 ms (30/s) to 500 ms (2/s). */
static uint64_t kbd_typematic_delay_ns(const struct ps2_keyboard *kbd)
{
    return (uint64_t)(1 + ((kbd->typematic >> 5) & 3)) * 250 * 1000 * 1000;
}

static uint64_t kbd_typematic_period_ns(const struct ps2_keyboard *kbd)
{
    unsigned a = kbd->typematic & 7, b = (kbd->typematic >> 3) & 3;

    return (uint64_t)(8 + a) * (1u << b) * 4170 * 1000;
}

/* Keys that repeat: all but those without a break code. */
static bool kbd_key_repeats(unsigned keycode)
{
    return keycode != KEY_PAUSE && keycode != KEY_HANGEUL && keycode != KEY_HANJA;
}

static void kbd_emit_key(struct i8042 *c, unsigned keycode, bool down)
{
    uint8_t bytes[8];
    size_t n = kbd_scancodes(&c->kbd, keycode, down, bytes);

    TRACE(i8042_kbd_key, "key=%u %s set=%u bytes=%zu", keycode, down ? "make" : "break",
          c->kbd.scancode_set, n);
    if (n)
        kbd_send(c, bytes, n);
}

static void kbd_stop_repeat(struct ps2_keyboard *kbd)
{
    kbd->repeat_key = 0;
    timer_cancel(kbd->typematic_timer);
}

static void kbd_typematic_fire(void *opaque)
{
    struct i8042 *c = opaque;
    struct ps2_keyboard *kbd = &c->kbd;

    if (!kbd->repeat_key || !kbd->scanning || !kbd_key_held(kbd, kbd->repeat_key))
        return;
    kbd_emit_key(c, kbd->repeat_key, true);
    timer_arm_ns(kbd->typematic_timer, kbd_typematic_period_ns(kbd));
}

/* The input router's keyboard callback. */
static void kbd_input_key(void *opaque, unsigned keycode, bool down)
{
    struct i8042 *c = opaque;
    struct ps2_keyboard *kbd = &c->kbd;

    if (!kbd->scanning || keycode > KEY_MAX)
        return; /* a keyboard that does not scan sees no keys */
    if (down == kbd_key_held(kbd, keycode))
        return; /* a front end's own repeat, or a release of a key never pressed */
    kbd_set_held(kbd, keycode, down);
    kbd_emit_key(c, keycode, down);
    /* Only the last key pressed repeats; its release ends the repeat, another's does not. */
    if (down && kbd_key_repeats(keycode)) {
        kbd->repeat_key = (uint16_t)keycode;
        timer_arm_ns(kbd->typematic_timer, kbd_typematic_delay_ns(kbd));
    } else if (down || keycode == kbd->repeat_key) {
        kbd_stop_repeat(kbd);
    }
}

/* Nothing held, nothing repeating: after FF, F5, F6 and a machine reset. */
static void kbd_release_all(struct ps2_keyboard *kbd)
{
    memset(kbd->held, 0, sizeof(kbd->held));
    kbd_stop_repeat(kbd);
}

static void kbd_set_leds(struct ps2_keyboard *kbd, uint8_t leds)
{
    kbd->leds = leds & 0x07; /* bit 0 Scroll, 1 Num, 2 Caps Lock: input.h's order */
    input_set_leds(kbd->leds);
}

static void kbd_set_defaults(struct ps2_keyboard *kbd)
{
    kbd->scancode_set = 2;
    kbd->typematic = 0x2b; /* 10.9 characters/s, 500 ms delay */
    kbd_set_leds(kbd, 0);
    kbd_release_all(kbd);
}

static void kbd_take_argument(struct i8042 *c, uint8_t val)
{
    struct ps2_keyboard *kbd = &c->kbd;
    uint8_t cmd = kbd->awaiting_arg;

    kbd->awaiting_arg = 0;
    switch (cmd) {
    case 0xed: /* set LEDs */
        kbd_set_leds(kbd, val);
        break;
    case 0xf3: /* set typematic rate/delay */
        kbd->typematic = val & 0x7f;
        break;
    case 0xf0: /* get/set scan code set */
        if (val > 3) {
            kbd_reply(c, PS2_RESEND);
            return;
        }
        kbd_reply(c, PS2_ACK);
        if (val == 0)
            kbd_reply(c, kbd->scancode_set);
        else
            kbd->scancode_set = val;
        return;
    }
    kbd_reply(c, PS2_ACK);
}

static void kbd_write(struct i8042 *c, uint8_t val)
{
    struct ps2_keyboard *kbd = &c->kbd;

    TRACE(i8042_kbd_command, "val=0x%02x", val);
    if (kbd->awaiting_arg && val < 0xed) {
        kbd_take_argument(c, val);
        return;
    }
    /* A command replaces one waiting for its argument and clears the keyboard's buffer. */
    kbd->awaiting_arg = 0;
    queue_clear(&c->kbd_queue);
    switch (val) {
    case 0xed: case 0xf3: case 0xf0:
        kbd->awaiting_arg = val;
        kbd_reply(c, PS2_ACK);
        break;
    case 0xee:
        kbd_reply(c, PS2_ECHO);
        break;
    case 0xf2: /* identify: an MF2 keyboard */
        kbd_reply(c, PS2_ACK);
        kbd_reply(c, 0xab);
        kbd_reply(c, 0x83);
        break;
    case 0xf4:
        kbd->scanning = true;
        kbd_reply(c, PS2_ACK);
        break;
    case 0xf5: /* disable: also restores defaults */
        kbd->scanning = false;
        kbd_set_defaults(kbd);
        kbd_reply(c, PS2_ACK);
        break;
    case 0xf6:
        kbd_set_defaults(kbd);
        kbd_reply(c, PS2_ACK);
        break;
    case 0xf7: case 0xf8: case 0xf9: case 0xfa: case 0xfb: case 0xfc: case 0xfd: case 0xfe:
        /* Set 3 key types: every key stays make/break and typematic (what Linux asks with
         * 0xF8 anyway); resend: the last byte was already taken whole. */
        kbd_reply(c, PS2_ACK);
        break;
    case 0xff: /* reset and basic assurance test; the keyboard then scans */
        kbd_set_defaults(kbd);
        kbd->scanning = true;
        kbd_reply(c, PS2_ACK);
        kbd_reply(c, PS2_SELF_TEST_OK);
        break;
    default:
        log_guest_error("i8042: unknown keyboard command 0x%02x", val);
        kbd_reply(c, PS2_RESEND);
        break;
    }
}

/* ---- the PS/2 mouse behind port 2 ---- */

static void aux_reply(struct i8042 *c, uint8_t byte)
{
    queue_push(&c->aux_queue, byte, true);
}

static bool mouse_has_wheel(const struct ps2_mouse *mouse)
{
    return mouse->id == MOUSE_ID_WHEEL || mouse->id == MOUSE_ID_5BUTTON;
}

static unsigned mouse_packet_len(const struct ps2_mouse *mouse)
{
    return mouse_has_wheel(mouse) ? 4 : 3;
}

static bool mouse_has_news(const struct ps2_mouse *mouse)
{
    return mouse->acc_dx || mouse->acc_dy || mouse->acc_dz ||
           mouse->buttons != mouse->sent_buttons;
}

static int32_t clamp_i32(int64_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : v > hi ? hi : (int32_t)v;
}

/* Takes what one packet can carry out of an accumulator; the rest waits for the next one. */
static int32_t mouse_take(int32_t *acc, int32_t lo, int32_t hi)
{
    int32_t part = clamp_i32(*acc, lo, hi);

    *acc -= part;
    return part;
}

/* 2:1 scaling (stream mode only): 1->1, 2->1, 3->3, 4->6, 5->9, n>5 -> 2n, sign kept. */
static int32_t mouse_scale(int32_t v)
{
    static const int32_t small[] = {0, 1, 1, 3, 6, 9};
    int32_t mag = v < 0 ? -v : v;
    int32_t out = mag < 6 ? small[mag] : 2 * mag;

    return v < 0 ? -out : out;
}

/* Byte 0: buttons, bit 3 always set, X/Y sign bits 4/5, X/Y overflow bits 6/7; then X, Y, and
 * for an Intellimouse byte 3 (IBM PS/2 TR "Pointing Device", Microsoft Intellimouse spec). */
static unsigned mouse_build_packet(struct ps2_mouse *mouse, bool scaled, uint8_t *out)
{
    int32_t dx = mouse_take(&mouse->acc_dx, -256, 255);
    int32_t dy = mouse_take(&mouse->acc_dy, -256, 255);
    int32_t dz = 0;
    uint8_t b0 = 0x08 | (mouse->buttons & 0x07);

    if (!mouse_has_wheel(mouse))
        mouse->acc_dz = 0; /* a mouse without a wheel has nowhere to report it */
    else
        dz = mouse_take(&mouse->acc_dz, -8, 7);
    if (scaled) {
        dx = mouse_scale(dx);
        dy = mouse_scale(dy);
    }
    if (dx < -256 || dx > 255) {
        b0 |= 0x40;
        dx = clamp_i32(dx, -256, 255);
    }
    if (dy < -256 || dy > 255) {
        b0 |= 0x80;
        dy = clamp_i32(dy, -256, 255);
    }
    b0 |= (dx < 0 ? 0x10 : 0) | (dy < 0 ? 0x20 : 0);
    out[0] = b0;
    out[1] = (uint8_t)dx;
    out[2] = (uint8_t)dy;
    if (mouse->id == MOUSE_ID_WHEEL)
        out[3] = (uint8_t)dz;
    else if (mouse->id == MOUSE_ID_5BUTTON)
        out[3] = (uint8_t)((dz & 0x0f) | ((mouse->buttons & 0x18) << 1));
    mouse->sent_buttons = mouse->buttons;
    return mouse_packet_len(mouse);
}

static void mouse_queue_packet(struct i8042 *c, bool scaled)
{
    uint8_t packet[4];
    unsigned n = mouse_build_packet(&c->mouse, scaled, packet);

    TRACE(i8042_mouse_packet, "b0=0x%02x dx=0x%02x dy=0x%02x len=%u", packet[0], packet[1],
          packet[2], n);
    for (unsigned i = 0; i < n; i++)
        aux_reply(c, packet[i]);
}

static uint64_t mouse_period_ns(const struct ps2_mouse *mouse)
{
    unsigned rate = mouse->sample_rate ? mouse->sample_rate : 10;

    return UINT64_C(1000000000) / rate;
}

/*
 * Stream mode: one packet when there is news, the sample period has passed since the last
 * one and the whole packet fits the queue; otherwise the movement keeps accumulating and the
 * timer (or the guest reading) tries again.
 */
static void mouse_try_send(struct i8042 *c)
{
    struct ps2_mouse *mouse = &c->mouse;
    int64_t now, due;

    if (!mouse->reporting || mouse->remote_mode || !mouse_has_news(mouse))
        return;
    now = clock_now_ns();
    due = mouse->last_packet_ns + (int64_t)mouse_period_ns(mouse);
    if (mouse->last_packet_ns && now < due) {
        if (!timer_pending(mouse->packet_timer))
            timer_arm_ns(mouse->packet_timer, (uint64_t)(due - now));
        return;
    }
    if (I8042_QUEUE_SIZE - c->aux_queue.count < mouse_packet_len(mouse))
        return; /* read_data tries again once the guest made room */
    mouse_queue_packet(c, mouse->scaling_2to1);
    mouse->last_packet_ns = now;
    i8042_service(c);
    if (mouse_has_news(mouse))
        timer_arm_ns(mouse->packet_timer, mouse_period_ns(mouse));
}

static void mouse_packet_timer_fire(void *opaque)
{
    mouse_try_send(opaque);
}

static void mouse_accumulate(int32_t *acc, int64_t delta)
{
    *acc = clamp_i32((int64_t)*acc + delta, -MOUSE_ACC_LIMIT, MOUSE_ACC_LIMIT);
}

/* The input router's relative-pointer callback: dx right, dy down, dz away from the user. */
static void mouse_input_rel(void *opaque, int dx, int dy, int dz, unsigned buttons)
{
    struct i8042 *c = opaque;
    struct ps2_mouse *mouse = &c->mouse;

    mouse->buttons = (uint8_t)(buttons & 0x1f);
    /* A disabled mouse in stream mode counts nothing; in remote mode the counters run. */
    if (!mouse->reporting && !mouse->remote_mode)
        return;
    mouse_accumulate(&mouse->acc_dx, dx);
    mouse_accumulate(&mouse->acc_dy, -(int64_t)dy); /* PS/2 counts y up */
    mouse_accumulate(&mouse->acc_dz, -(int64_t)dz); /* and the wheel toward the user */
    mouse_try_send(c);
}

static void mouse_clear_motion(struct ps2_mouse *mouse)
{
    mouse->acc_dx = mouse->acc_dy = mouse->acc_dz = 0;
    mouse->sent_buttons = mouse->buttons;
    timer_cancel(mouse->packet_timer);
}

static void mouse_set_defaults(struct ps2_mouse *mouse)
{
    mouse->reporting = false;
    mouse->remote_mode = false;
    mouse->scaling_2to1 = false;
    mouse->sample_rate = 100;
    mouse->resolution = 2; /* 4 counts/mm */
    mouse_clear_motion(mouse);
}

static void mouse_status(struct i8042 *c)
{
    struct ps2_mouse *mouse = &c->mouse;
    uint8_t flags = (mouse->remote_mode ? 0x40 : 0) | (mouse->reporting ? 0x20 : 0) |
                    (mouse->scaling_2to1 ? 0x10 : 0);

    /* Buttons: bit 2 left, bit 1 middle, bit 0 right. */
    flags |= (mouse->buttons & INPUT_BUTTON_LEFT ? 0x04 : 0) |
             (mouse->buttons & INPUT_BUTTON_MIDDLE ? 0x02 : 0) |
             (mouse->buttons & INPUT_BUTTON_RIGHT ? 0x01 : 0);
    aux_reply(c, flags);
    aux_reply(c, mouse->resolution);
    aux_reply(c, mouse->sample_rate);
}

/* The Intellimouse knock: sample rates 200, 100, 80 make a wheel mouse (ID 3); then 200, 200,
 * 80 make a 5-button wheel mouse (ID 4). */
static void mouse_note_rate(struct ps2_mouse *mouse, uint8_t rate)
{
    uint8_t *h = mouse->rate_history;

    h[0] = h[1];
    h[1] = h[2];
    h[2] = rate;
    if (h[0] == 200 && h[1] == 100 && h[2] == 80 && mouse->id == MOUSE_ID_STANDARD)
        mouse->id = MOUSE_ID_WHEEL;
    else if (h[0] == 200 && h[1] == 200 && h[2] == 80 && mouse->id == MOUSE_ID_WHEEL)
        mouse->id = MOUSE_ID_5BUTTON;
}

static void mouse_take_argument(struct i8042 *c, uint8_t val)
{
    struct ps2_mouse *mouse = &c->mouse;

    if (mouse->awaiting_arg == 0xf3) {
        mouse->sample_rate = val;
        mouse_note_rate(mouse, val);
    } else {
        mouse->resolution = val & 0x03;
    }
    mouse->awaiting_arg = 0;
    aux_reply(c, PS2_ACK);
}

/* 0xEB, read data: the movement since the last report, as one packet (unscaled). */
static void mouse_read_data(struct i8042 *c)
{
    aux_reply(c, PS2_ACK);
    mouse_queue_packet(c, false);
}

static void mouse_write(struct i8042 *c, uint8_t val)
{
    struct ps2_mouse *mouse = &c->mouse;

    TRACE(i8042_aux_command, "val=0x%02x", val);
    if (mouse->awaiting_arg) {
        mouse_take_argument(c, val);
        return;
    }
    queue_clear(&c->aux_queue);
    switch (val) {
    case 0xe8: case 0xf3: /* set resolution / sample rate: argument follows */
        mouse->awaiting_arg = val;
        aux_reply(c, PS2_ACK);
        break;
    case 0xe6: case 0xe7:
        mouse->scaling_2to1 = val == 0xe7;
        aux_reply(c, PS2_ACK);
        break;
    case 0xe9:
        aux_reply(c, PS2_ACK);
        mouse_status(c);
        break;
    case 0xea: case 0xf0: /* stream / remote mode: the counters start afresh */
        mouse->remote_mode = val == 0xf0;
        mouse_clear_motion(mouse);
        aux_reply(c, PS2_ACK);
        break;
    case 0xeb:
        mouse_read_data(c);
        break;
    case 0xf2: /* identify */
        aux_reply(c, PS2_ACK);
        aux_reply(c, mouse->id);
        break;
    case 0xf4: case 0xf5:
        mouse->reporting = val == 0xf4;
        mouse_clear_motion(mouse);
        aux_reply(c, PS2_ACK);
        break;
    case 0xec: case 0xee: case 0xf6: case 0xfe:
        if (val == 0xf6)
            mouse_set_defaults(mouse);
        aux_reply(c, PS2_ACK);
        break;
    case 0xff: /* reset: a plain mouse again */
        mouse_set_defaults(mouse);
        mouse->id = MOUSE_ID_STANDARD;
        memset(mouse->rate_history, 0, sizeof(mouse->rate_history));
        aux_reply(c, PS2_ACK);
        aux_reply(c, PS2_SELF_TEST_OK);
        aux_reply(c, mouse->id);
        break;
    default:
        log_guest_error("i8042: unknown mouse command 0x%02x", val);
        aux_reply(c, PS2_RESEND);
        break;
    }
}

/* ---- controller commands (port 0x64) ---- */

static uint8_t i8042_read_outport(const struct i8042 *c)
{
    uint8_t val = c->outport & ~(OUTPORT_KBD_OBF | OUTPORT_AUX_OBF);

    if (c->obuf_full)
        val |= c->obuf_from_aux ? OUTPORT_AUX_OBF : OUTPORT_KBD_OBF;
    return val;
}

static void i8042_write_outport(struct i8042 *c, uint8_t val)
{
    c->outport = val;
    if (!(val & OUTPORT_NOT_RESET))
        i8042_request_reset(c);
}

/* Bits 0-3 of 0xF0-0xFF select output-port lines to pulse low; bit 0 is the reset line. */
static void i8042_pulse_outport(struct i8042 *c, uint8_t cmd)
{
    if (!(cmd & OUTPORT_NOT_RESET))
        i8042_request_reset(c);
}

static void i8042_set_port_disable(struct i8042 *c, uint8_t bit, bool disable)
{
    if (disable)
        c->ram[0] |= bit;
    else
        c->ram[0] &= ~bit;
}

static bool i8042_command_takes_data(uint8_t cmd)
{
    return (cmd >= 0x60 && cmd <= 0x7f) || (cmd >= 0xd1 && cmd <= 0xd4);
}

static void i8042_command(struct i8042 *c, uint8_t cmd)
{
    TRACE(i8042_command, "cmd=0x%02x", cmd);
    c->awaiting_data = i8042_command_takes_data(cmd) ? cmd : 0;
    if (c->awaiting_data)
        return;
    if (cmd >= 0x20 && cmd <= 0x3f) {
        i8042_reply(c, c->ram[cmd & 0x1f]);
        return;
    }
    if (cmd >= 0xf0) {
        i8042_pulse_outport(c, cmd);
        return;
    }
    switch (cmd) {
    case 0xa7: case 0xa8:
        i8042_set_port_disable(c, CTR_AUX_DISABLE, cmd == 0xa7);
        break;
    case 0xa9: case 0xab: /* aux / keyboard interface test: 0 = no error */
        i8042_reply(c, 0x00);
        break;
    case 0xaa: /* controller self-test */
        c->status |= STATUS_SYS;
        i8042_reply(c, 0x55);
        break;
    case 0xad: case 0xae:
        i8042_set_port_disable(c, CTR_KBD_DISABLE, cmd == 0xad);
        break;
    case 0xc0: /* input port: keyboard not inhibited, colour display */
        i8042_reply(c, 0x80);
        break;
    case 0xd0:
        i8042_reply(c, i8042_read_outport(c));
        break;
    case 0xdd: case 0xdf: /* A20 off / on */
        c->outport = (uint8_t)((c->outport & ~OUTPORT_A20) | (cmd == 0xdf ? OUTPORT_A20 : 0));
        break;
    case 0xe0: /* test inputs */
        i8042_reply(c, 0x00);
        break;
    default:
        log_guest_error("i8042: unknown controller command 0x%02x", cmd);
        break;
    }
}

static void i8042_command_data(struct i8042 *c, uint8_t cmd, uint8_t val)
{
    if (cmd >= 0x60 && cmd <= 0x7f) {
        c->ram[cmd & 0x1f] = val;
        if ((cmd & 0x1f) == 0)
            c->status = (uint8_t)((c->status & ~STATUS_SYS) | (val & CTR_SYS));
        return;
    }
    switch (cmd) {
    case 0xd1:
        i8042_write_outport(c, val);
        break;
    case 0xd2: /* as if the keyboard had sent it */
        queue_push(&c->ctrl_queue, val, false);
        break;
    case 0xd3: /* as if the mouse had sent it */
        queue_push(&c->ctrl_queue, val, true);
        break;
    default: /* 0xd4: to the mouse */
        mouse_write(c, val);
        break;
    }
}

/* ---- ports ---- */

static uint8_t i8042_read_data(struct i8042 *c)
{
    uint8_t val = c->obuf; /* empty: the stale byte, as the hardware latch shows */

    c->obuf_full = false;
    i8042_update_irqs(c); /* drop the line first: the next byte gives a fresh edge */
    i8042_service(c);
    mouse_try_send(c); /* movement held back while its queue was full */
    return val;
}

static uint8_t i8042_read_status(const struct i8042 *c)
{
    uint8_t val = c->status | STATUS_UNLOCKED;

    if (c->obuf_full)
        val |= STATUS_OBF | (c->obuf_from_aux ? STATUS_AUX_OBF : 0);
    return val;
}

static void i8042_write_data(struct i8042 *c, uint8_t val)
{
    uint8_t cmd = c->awaiting_data;

    c->status &= ~STATUS_CMD;
    c->awaiting_data = 0;
    if (cmd)
        i8042_command_data(c, cmd, val);
    else
        kbd_write(c, val);
}

static void i8042_data_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct i8042 *c = opaque;

    i8042_write_data(c, (uint8_t)value);
    i8042_service(c);
}

static void i8042_command_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct i8042 *c = opaque;

    c->status |= STATUS_CMD;
    i8042_command(c, (uint8_t)value);
    i8042_service(c);
}

static uint64_t i8042_data_read(void *opaque, uint64_t offset, unsigned size)
{
    return i8042_read_data(opaque);
}

static uint64_t i8042_status_read(void *opaque, uint64_t offset, unsigned size)
{
    return i8042_read_status(opaque);
}

static const struct region_ops i8042_data_ops = {
    .read = i8042_data_read,
    .write = i8042_data_write,
    .min_access = 1,
    .max_access = 1,
};

static const struct region_ops i8042_command_ops = {
    .read = i8042_status_read,
    .write = i8042_command_write,
    .min_access = 1,
    .max_access = 1,
};

/* ---- life cycle ---- */

/* As after power-on: defaults, scanning (the keyboard's power-on BAT leaves it enabled),
 * nothing held; the timers survive. */
static void i8042_reset_keyboard(struct ps2_keyboard *kbd)
{
    struct timer *typematic_timer = kbd->typematic_timer;

    memset(kbd, 0, sizeof(*kbd));
    kbd->typematic_timer = typematic_timer;
    kbd_set_defaults(kbd);
    kbd->scanning = true;
}

static void i8042_reset_mouse(struct ps2_mouse *mouse)
{
    struct timer *packet_timer = mouse->packet_timer;

    memset(mouse, 0, sizeof(*mouse));
    mouse->packet_timer = packet_timer;
    mouse_set_defaults(mouse);
}

static void i8042_reset(void *dev)
{
    struct i8042 *c = dev;

    memset(c->ram, 0, sizeof(c->ram));
    c->ram[0] = CTR_POWER_ON;
    c->status = 0;
    c->outport = OUTPORT_POWER_ON;
    c->awaiting_data = 0;
    c->obuf = 0;
    c->obuf_full = false;
    c->obuf_from_aux = false;
    queue_clear(&c->ctrl_queue);
    queue_clear(&c->kbd_queue);
    queue_clear(&c->aux_queue);
    i8042_reset_keyboard(&c->kbd);
    i8042_reset_mouse(&c->mouse);
    i8042_update_irqs(c);
}

/* ---- saved state ---- */

static void i8042_post_load(void *dev)
{
    struct i8042 *c = dev;

    i8042_update_irqs(c);
    input_set_leds(c->kbd.leds);
    /* Timers are not state: a key still repeating resumes after one period, movement still
     * waiting goes out after one sample period. */
    timer_cancel(c->kbd.typematic_timer);
    if (c->kbd.repeat_key && kbd_key_held(&c->kbd, c->kbd.repeat_key))
        timer_arm_ns(c->kbd.typematic_timer, kbd_typematic_period_ns(&c->kbd));
    c->mouse.last_packet_ns = 0;
    timer_cancel(c->mouse.packet_timer);
    if (mouse_has_news(&c->mouse))
        timer_arm_ns(c->mouse.packet_timer, mouse_period_ns(&c->mouse));
}

/* Version 2 added the input side: held keys and typematic, mouse movement, buttons, ID. */
#define I8042_V2(member, vtype, width, n, maximum)                                                \
    VMSTATE_FIELD_FULL(#member, struct i8042, member, vtype, width, n, maximum, 2)
#define I8042_V2_S32(member) I8042_V2(member, VMSTATE_TYPE_U32, 4, 1, 0)

#define I8042_QUEUE_FIELDS(q)                                                                     \
    VMSTATE_U8_ARRAY(struct i8042, q.data, I8042_QUEUE_SIZE),                                     \
    VMSTATE_BOOL_ARRAY(struct i8042, q.from_aux, I8042_QUEUE_SIZE),                               \
    VMSTATE_U32_MAX(struct i8042, q.head, I8042_QUEUE_SIZE - 1),                                  \
    VMSTATE_U32_MAX(struct i8042, q.count, I8042_QUEUE_SIZE)

static const struct vmstate_field i8042_fields[] = {
    VMSTATE_U8_ARRAY(struct i8042, ram, I8042_RAM_SIZE),
    VMSTATE_U8(struct i8042, status),
    VMSTATE_U8(struct i8042, outport),
    VMSTATE_U8(struct i8042, awaiting_data),
    VMSTATE_U8(struct i8042, obuf),
    VMSTATE_BOOL(struct i8042, obuf_full),
    VMSTATE_BOOL(struct i8042, obuf_from_aux),
    I8042_QUEUE_FIELDS(ctrl_queue),
    I8042_QUEUE_FIELDS(kbd_queue),
    I8042_QUEUE_FIELDS(aux_queue),
    VMSTATE_U8(struct i8042, kbd.awaiting_arg),
    VMSTATE_BOOL(struct i8042, kbd.scanning),
    VMSTATE_U8_MAX(struct i8042, kbd.scancode_set, 3),
    VMSTATE_U8(struct i8042, kbd.leds),
    VMSTATE_U8(struct i8042, kbd.typematic),
    VMSTATE_U8(struct i8042, mouse.awaiting_arg),
    VMSTATE_BOOL(struct i8042, mouse.reporting),
    VMSTATE_BOOL(struct i8042, mouse.remote_mode),
    VMSTATE_BOOL(struct i8042, mouse.scaling_2to1),
    VMSTATE_U8(struct i8042, mouse.sample_rate),
    VMSTATE_U8(struct i8042, mouse.resolution),
    I8042_V2(kbd.repeat_key, VMSTATE_TYPE_U16, 2, 1, KEY_MAX),
    I8042_V2(kbd.held, VMSTATE_TYPE_U8, 1, KBD_HELD_BYTES, 0),
    I8042_V2(mouse.id, VMSTATE_TYPE_U8, 1, 1, MOUSE_ID_5BUTTON),
    I8042_V2(mouse.rate_history, VMSTATE_TYPE_U8, 1, 3, 0),
    I8042_V2_S32(mouse.acc_dx),
    I8042_V2_S32(mouse.acc_dy),
    I8042_V2_S32(mouse.acc_dz),
    I8042_V2(mouse.buttons, VMSTATE_TYPE_U8, 1, 1, 0x1f),
    I8042_V2(mouse.sent_buttons, VMSTATE_TYPE_U8, 1, 1, 0x1f),
    VMSTATE_END,
};

static const struct vmstate_desc i8042_vmstate = {
    .name = "i8042",
    .version = 2,
    .min_version = 1,
    .fields = i8042_fields,
    .post_load = i8042_post_load,
};

static void i8042_destroy(void *dev)
{
    struct i8042 *c = dev;

    if (!c)
        return;
    if (c->inputs_registered) {
        input_unregister_handler(&c->kbd_input);
        input_unregister_handler(&c->mouse_input);
    }
    timer_free(c->kbd.typematic_timer);
    timer_free(c->mouse.packet_timer);
    region_del(c->data_region);
    region_del(c->command_region);
    if (c->kbd_irq)
        irq_line_free(c->kbd_irq);
    if (c->aux_irq)
        irq_line_free(c->aux_irq);
    g_free(c);
}

/* The newest keyboard and pointer win in the router: a machine's i8042 is both. */
static void i8042_register_inputs(struct i8042 *c)
{
    c->kbd_input = (struct input_handler){
        .name = "i8042-keyboard", .kinds = INPUT_KIND_KEYBOARD, .key = kbd_input_key,
        .opaque = c,
    };
    c->mouse_input = (struct input_handler){
        .name = "i8042-mouse", .kinds = INPUT_KIND_POINTER_REL, .pointer_rel = mouse_input_rel,
        .opaque = c,
    };
    input_register_handler(&c->kbd_input);
    input_register_handler(&c->mouse_input);
    c->inputs_registered = true;
}

static void *i8042_create(struct machine *m, struct kv_list *props, GError **err)
{
    struct i8042 *c = g_new0(struct i8042, 1);

    xlate_table_init();
    c->machine = m;
    c->kbd.typematic_timer = timer_new(kbd_typematic_fire, c);
    c->mouse.packet_timer = timer_new(mouse_packet_timer_fire, c);
    c->kbd_irq = machine_isa_irq(m, I8042_KBD_IRQ);
    c->aux_irq = machine_isa_irq(m, I8042_AUX_IRQ);
    c->data_region = machine_add_io(m, "i8042-data", I8042_DATA_PORT, 1, &i8042_data_ops, c);
    c->command_region = machine_add_io(m, "i8042-cmd", I8042_COMMAND_PORT, 1,
                                       &i8042_command_ops, c);
    if (!c->kbd_irq || !c->aux_irq || !c->data_region || !c->command_region) {
        g_set_error(err, i8042_error_quark(), 0, "i8042: ports 0x60/0x64 or IRQ 1/12 in use");
        i8042_destroy(c);
        return NULL;
    }
    i8042_reset(c);
    i8042_register_inputs(c);
    return c;
}

static const struct device_type i8042_type = {
    .name = "i8042",
    .description = "PS/2 keyboard and mouse controller",
    .user_creatable = false,
    .create = i8042_create,
    .reset = i8042_reset,
    .destroy = i8042_destroy,
    .vmstate = &i8042_vmstate,
};
DEVICE_TYPE_REGISTER(i8042_type);
