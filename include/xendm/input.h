/*
 * Input: keyboard and pointer events from the front ends (VNC, the SDL2 window, QMP
 * input-send-event and send-key) to the emulated input devices (the i8042's PS/2 keyboard and
 * mouse), which register themselves as handlers.
 *
 *   front end -> input_key_event() / input_pointer_*_event() -> the newest handler that takes
 *   that kind of event -> the device queues scan codes or mouse packets for the guest
 *
 * Keys are Linux evdev codes (KEY_* of <linux/input-event-codes.h>): a fixed, documented
 * numbering every front end has a table to (X keysyms, SDL scancodes, QEMU's QKeyCode names),
 * and from which the PS/2 keyboard derives its scan code sets 1, 2 and 3.
 *
 * Pointer: relative motion (a PS/2 mouse) or an absolute position scaled to
 * 0..INPUT_ABS_MAX on both axes (a tablet). A front end sends what it has; when no handler takes
 * absolute positions the core turns them into relative motion from the previous position, as
 * a PS/2 mouse behind a VNC viewer must.
 *
 * Everything runs on the event-loop thread; a front end with threads of its own hands its
 * events over to that thread first.
 */
#ifndef XENDM_INPUT_H
#define XENDM_INPUT_H

#include <stdbool.h>
#include <stdint.h>

/* Buttons, as a bit mask. */
#define INPUT_BUTTON_LEFT 0x01u
#define INPUT_BUTTON_RIGHT 0x02u
#define INPUT_BUTTON_MIDDLE 0x04u
#define INPUT_BUTTON_SIDE 0x08u
#define INPUT_BUTTON_EXTRA 0x10u

/* Absolute coordinates run from 0 to this on each axis (QEMU's and virtio-input's range). */
#define INPUT_ABS_MAX 0x7fff

enum input_kind {
    INPUT_KIND_KEYBOARD = 1u << 0,
    INPUT_KIND_POINTER_REL = 1u << 1,
    INPUT_KIND_POINTER_ABS = 1u << 2,
};

/* What a device supplies. Only the callbacks for the kinds in `kinds` are called. */
struct input_handler {
    const char *name;
    unsigned kinds; /* enum input_kind bits */
    /* An evdev KEY_* code went down or up (repeats are the device's business: typematic). */
    void (*key)(void *opaque, unsigned keycode, bool down);
    /* Motion (dx right, dy down), wheel (dz > 0: away from the user) and the buttons held. */
    void (*pointer_rel)(void *opaque, int dx, int dy, int dz, unsigned buttons);
    /* Position in 0..INPUT_ABS_MAX, wheel and buttons. */
    void (*pointer_abs)(void *opaque, int x, int y, int dz, unsigned buttons);
    void *opaque;
};

/* ---- the device's side ---- */

/* The newest registered handler of a kind gets that kind's events. The struct must outlive
 * the registration. */
void input_register_handler(const struct input_handler *h);
void input_unregister_handler(const struct input_handler *h); /* unknown: a no-op */

/* The keyboard's LEDs changed (set by the guest): front ends that show them (SDL) listen. */
#define INPUT_LED_SCROLL_LOCK 0x01u
#define INPUT_LED_NUM_LOCK 0x02u
#define INPUT_LED_CAPS_LOCK 0x04u
void input_set_leds(unsigned leds);

/* ---- the front ends' side ---- */

/* False when no handler took it (no keyboard, say): the front end may say so once. */
bool input_key_event(unsigned keycode, bool down);
bool input_pointer_rel_event(int dx, int dy, int dz, unsigned buttons);
/* x, y in 0..INPUT_ABS_MAX (clamped). */
bool input_pointer_abs_event(int x, int y, int dz, unsigned buttons);
/* True when a handler takes absolute positions (a front end may then hide its own cursor). */
bool input_pointer_is_absolute(void);
/* True when some handler takes one of these kinds (enum input_kind bits): QMP
 * input-send-event refuses events nobody would take, as QEMU does. */
bool input_handler_present(unsigned kinds);
unsigned input_leds(void);

/* QEMU's QKeyCode names ("a", "shift", "ctrl_r", "kp_enter", "print", ...) and evdev codes;
 * 0 / NULL when there is none. */
unsigned input_keycode_from_qcode(const char *qcode);
const char *input_qcode_from_keycode(unsigned keycode);
/* QEMU's key numbers (send-key's "number": the set 1 code, 0x80 for an E0 prefix); 0: none. */
unsigned input_keycode_from_number(unsigned number);

#endif
