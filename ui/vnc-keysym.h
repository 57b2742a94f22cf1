/*
 * Key translation for the VNC server (ui/vnc.c): X keysyms of RFB KeyEvents and the XT key
 * numbers of QEMU's Extended Key Event, to the evdev codes of include/xendm/input.h.
 */
#ifndef XENDM_UI_VNC_KEYSYM_H
#define XENDM_UI_VNC_KEYSYM_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The evdev code of the key that produces `keysym` on a US keyboard, or 0. Shifted symbols map
 * to their key ('A' and 'a' to KEY_A, '!' to KEY_1): the client sends Shift itself.
 */
unsigned vnc_keysym_to_evdev_us(uint32_t keysym);

/*
 * The evdev code of an XT key number as QEMU's Extended Key Event carries it (the scan code set 1
 * make code; 0x80 | code for an 0xE0-prefixed key), or 0.
 */
unsigned vnc_xt_to_evdev(uint32_t xt);

/* -k LAYOUT: true when the US table serves it exactly ("en-us", or none given). */
bool vnc_keymap_is_us(const char *layout);

#endif
