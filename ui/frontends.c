/*
 * Starts the display front ends the command line asks for (include/xendm/ui.h). A front end
 * left out of the build is refused with a clear error rather than ignored: an administrator who
 * asked for a window or a VNC server must not get a silently headless guest.
 */
#include <string.h>
#include "xendm/options.h"
#include "xendm/ui.h"

static G_GNUC_UNUSED GQuark ui_error_quark(void)
{
    return g_quark_from_static_string("xendm-ui-error");
}

static bool start_vnc(const struct xendm_config *cfg, GError **err)
{
    if (cfg->vnc == NULL || strcmp(cfg->vnc, "none") == 0) {
        return true;
    }
#ifdef CONFIG_VNC
    return vnc_display_configure(cfg->name, cfg->keymap, err) &&
           vnc_display_start(cfg->vnc, cfg->vnc_opts, err);
#else
    g_set_error(err, ui_error_quark(), 0,
                "-vnc %s: this xendm was built without VNC (meson option vnc)", cfg->vnc);
    return false;
#endif
}

static bool start_sdl(const struct xendm_config *cfg, void (*powerdown)(void *opaque),
                      void *opaque, GError **err)
{
    if (cfg->display == NULL || strcmp(cfg->display, "sdl") != 0) {
        return true;
    }
#ifdef CONFIG_SDL
    sdl_display_set_guest(cfg->name, powerdown, opaque);
    return sdl_display_start(cfg->display_opts, err);
#else
    g_set_error(err, ui_error_quark(), 0,
                "-display sdl: this xendm was built without SDL2 (meson option sdl)");
    return false;
#endif
}

bool ui_start_frontends(const struct xendm_config *cfg, void (*powerdown)(void *opaque),
                        void *opaque, GError **err)
{
    return start_vnc(cfg, err) && start_sdl(cfg, powerdown, opaque, err);
}

void ui_stop_frontends(void)
{
#ifdef CONFIG_SDL
    sdl_display_stop();
#endif
#ifdef CONFIG_VNC
    vnc_display_stop();
#endif
}
