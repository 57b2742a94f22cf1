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

/*
 * -vnc DISPLAY[,opts] and -display sdl (or -sdl). False with err when one cannot start.
 * powerdown(opaque): what the window's close button asks for (the guest's ACPI power button).
 */
bool ui_start_frontends(const struct xendm_config *cfg, void (*powerdown)(void *opaque),
                        void *opaque, GError **err);
void ui_stop_frontends(void);

/*
 * VNC: DISPLAY is "HOST:D" (TCP port 5900 + D; HOST may be empty, or [v6]), or "unix:PATH".
 * Options as QEMU 7.2 and libxl use them: to=N (try ports up to 5900 + N when D is taken),
 * password=on (no client may connect until QMP change-vnc-password sets one), share=...
 */
bool vnc_display_start(const char *display, const struct kv_list *opts, GError **err);
void vnc_display_stop(void);
/*
 * -name and -k for the VNC server: the desktop name ("xendm (NAME)") and the key layout of
 * clients without QEMU's Extended Key Event. Call before vnc_display_start; either may be NULL.
 */
bool vnc_display_configure(const char *vm_name, const char *keymap, GError **err);
/* For QMP (monitor/qmp-vnc.c): query-vnc's VncInfo as QEMU 7.2 shapes it. */
struct json_value;
struct json_value *vnc_display_query(void);
/* change-vnc-password / set_password: false when VNC auth is off (no password=on). */
bool vnc_display_set_password(const char *password, GError **err);
/* expire_password's time: "now", "never", "+SECONDS" or an absolute time_t. */
bool vnc_display_expire_password(const char *when, GError **err);

/* SDL2 window, with -display sdl's options. */
bool sdl_display_start(const struct kv_list *opts, GError **err);
void sdl_display_stop(void);
/*
 * Before sdl_display_start: the guest's name (-name; NULL: none) for the window's title, and
 * what the window's close button does (main: as QMP system_powerdown, the guest's ACPI power
 * button; NULL: nothing). opaque is passed to powerdown on the event-loop thread.
 */
void sdl_display_set_guest(const char *name, void (*powerdown)(void *opaque), void *opaque);

#endif
