/*
 * The display surface: what a graphics device shows, as a 32-bit xRGB pixman image in the
 * guest's current mode, and who watches it.
 *
 *   guest writes VRAM or registers -> display_console_hw_changed(): if a listener watches,
 *       a one-shot timer, at most DISPLAY_REFRESH_HZ times a second
 *   timer (or a screendump) -> hw_ops->refresh(hw, full): the device redraws what changed
 *       through display_console_resize() and display_console_dirty()
 *   -> each listener's resize() and update(bounding box of the redrawn pixels): VNC and
 *       SDL2 read the pixman image from there (a later round)
 *
 * Idle costs nothing: the console arms its timer only when the device reports a change and
 * someone listens; with no listener (-display none) the device renders only when a screendump
 * asks. Everything runs on the event-loop thread.
 *
 * This header does not include pixman.h, so code that only names a console (the monitor)
 * needs no pixman flags; the image is pixman's `pixman_image_t` (union pixman_image).
 */
#ifndef XENDM_DISPLAY_H
#define XENDM_DISPLAY_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

union pixman_image;
struct display_console;

/* Refresh rate bound while a listener watches and the guest keeps drawing. */
#define DISPLAY_REFRESH_HZ 30u
/* A console with no mode yet (or a blanked screen before any mode) shows this much black. */
#define DISPLAY_DEFAULT_WIDTH 640
#define DISPLAY_DEFAULT_HEIGHT 480
/* Largest surface the console allocates (a guest-chosen size beyond it is refused). */
#define DISPLAY_MAX_WIDTH 16384
#define DISPLAY_MAX_HEIGHT 16384

/* What the device supplies. */
struct display_hw_ops {
    /*
     * Bring the surface up to date with the guest's state through display_console_resize()
     * and display_console_dirty(); full: redraw everything, not only what changed.
     * Returns the delay in ns after which the picture changes by itself (text blink), or 0.
     */
    uint64_t (*refresh)(void *hw, bool full);
};

/* A front end (VNC, SDL2, tests). */
struct display_listener {
    /* The surface changed size (and content); the new image is display_console_image(). */
    void (*resize)(void *opaque, int width, int height);
    /* After a refresh: the bounding box of what was redrawn. */
    void (*update)(void *opaque, int x, int y, int width, int height);
    void *opaque;
};

/* ---- the device's side ---- */

/* A console for one display device; the first one created is the default screen. */
struct display_console *display_console_new(const char *name, const struct display_hw_ops *ops,
                                            void *hw);
void display_console_free(struct display_console *con); /* NULL is a no-op */

/*
 * The surface becomes width x height (kept when unchanged, black when new) and is returned.
 * NULL when the size is out of range (0, or beyond DISPLAY_MAX_*): the old surface stays.
 */
union pixman_image *display_console_resize(struct display_console *con, int width, int height);
/* The current surface (always present: DISPLAY_DEFAULT_* black until the device sets one). */
union pixman_image *display_console_image(struct display_console *con);
/* Pixels in the rectangle were redrawn (clipped to the surface). */
void display_console_dirty(struct display_console *con, int x, int y, int width, int height);
/* The guest changed something visible: refresh soon if anyone watches (rate-bounded). */
void display_console_hw_changed(struct display_console *con);

/* ---- the front ends' side ---- */

struct display_console *display_console_first(void); /* NULL when there is no display */
const char *display_console_name(const struct display_console *con);
void display_console_add_listener(struct display_console *con, const struct display_listener *l);
void display_console_remove_listener(struct display_console *con,
                                     const struct display_listener *l);
/* Refreshes now (full or only what changed) and tells the listeners. */
void display_console_refresh(struct display_console *con, bool full);
/* How many refreshes ran (tests: idle costs nothing, the rate is bounded). */
uint64_t display_console_refresh_count(const struct display_console *con);

enum display_dump_format { DISPLAY_DUMP_PPM, DISPLAY_DUMP_PNG };

/* Refreshes, then writes the whole surface to fd (not closed) as a binary PPM (P6) or PNG. */
bool display_console_screendump(struct display_console *con, int fd,
                                enum display_dump_format format, GError **err);
/* Writes an x8r8g8b8 image (any pixman image of that format) to out. */
bool display_image_write(union pixman_image *image, FILE *out, enum display_dump_format format,
                         GError **err);

#endif
