/*
 * The display front ends: a VNC server (ui/vnc.c, libvncserver) and a local SDL2 window
 * (ui/sdl2.c). Each shows display_console_first() and feeds include/xendm/input.h. Both are
 * optional at build time (meson options vnc and sdl); ui/frontends.c starts what the command
 * line asks for, once the machine is built and before the process is restricted (the
 * listening socket and the X/Wayland connection are opened here).
 */
#ifndef XENDM_UI_H
#define XENDM_UI_H

#include <glib.h>
#include <stdbool.h>

struct kv_list;
struct xendm_config;

/* -vnc DISPLAY[,opts] and -display sdl (or -sdl). False with err when one cannot start. */
bool ui_start_frontends(const struct xendm_config *cfg, GError **err);
void ui_stop_frontends(void);

/*
 * VNC: DISPLAY is "HOST:D" (TCP port 5900 + D; HOST may be empty, or [v6]), or "unix:PATH".
 * Options as QEMU 7.2 and libxl use them: to=N (try ports up to 5900 + N when D is taken),
 * password=on (no client may connect until QMP change-vnc-password sets one), share=...
 */
bool vnc_display_start(const char *display, const struct kv_list *opts, GError **err);
void vnc_display_stop(void);

/* SDL2 window, with -display sdl's options. */
bool sdl_display_start(const struct kv_list *opts, GError **err);
void sdl_display_stop(void);

#endif
