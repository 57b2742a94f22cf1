/*
 * The SDL2 window (ui/sdl2.c) in-process, with no display server: SDL's dummy video driver
 * (or offscreen; dummy loads no EGL, whose leaks would drown ASan's report) and its software
 * renderer. A fake display device draws a pattern that the
 * window must show pixel for pixel (read back from the renderer), then changes part of it and
 * its size; keys and mouse events pushed into SDL's queue must reach an input handler as the
 * right evdev codes and motion; the close button presses the power button; the UI thread
 * sleeps while nothing happens and is gone after stop; without a video driver the start
 * fails with SDL's message.
 */
#include <SDL.h>
#include <dirent.h>
#include <glib.h>
#include <linux/input-event-codes.h>
#include <pixman.h>
#include <string.h>
#include "xendm/display.h"
#include "xendm/input.h"
#include "xendm/keyval.h"
#include "xendm/ui.h"

/* ui/sdl2.c's hooks for tests. */
struct sdl_display_test_info {
    char *title;
    uint32_t window_id;
    bool grabbed;
    uint64_t wakeups;
};
bool sdl_display_test_info(struct sdl_display_test_info *out);
uint32_t *sdl_display_test_snapshot(int *width, int *height);

/* ---- helpers ---- */

static unsigned count_threads(void)
{
    DIR *dir = opendir("/proc/self/task");
    struct dirent *de;
    unsigned n = 0;

    g_assert_nonnull(dir);
    while ((de = readdir(dir)) != NULL) {
        n += de->d_name[0] != '.';
    }
    closedir(dir);
    return n;
}

/* Runs the event loop until cond(opaque) holds, for at most 3 s. */
static bool loop_until(bool (*cond)(void *opaque), void *opaque)
{
    int64_t end = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;

    while (!cond(opaque)) {
        if (g_get_monotonic_time() > end) {
            return false;
        }
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
    return true;
}

static void loop_for_ms(unsigned ms)
{
    int64_t end = g_get_monotonic_time() + (int64_t)ms * 1000;

    while (g_get_monotonic_time() < end) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
}

static struct sdl_display_test_info window_info(void)
{
    struct sdl_display_test_info info = {0};

    g_assert_true(sdl_display_test_info(&info));
    return info;
}

static uint32_t window_id(void)
{
    struct sdl_display_test_info info = window_info();

    g_free(info.title);
    return info.window_id;
}

static void push_event(SDL_Event *ev)
{
    g_assert_cmpint(SDL_PushEvent(ev), ==, 1);
}

static void start_window(void)
{
    GError *err = NULL;

    if (!sdl_display_start(NULL, &err)) {
        g_error("sdl_display_start: %s", err->message);
    }
}

/* ---- a fake display device ---- */

struct fake_display {
    struct display_console *con;
    int width, height;
    uint32_t salt;          /* changes the pattern */
    int dirty_y0, dirty_y1; /* rows changed since the last refresh */
    int drawn_width, drawn_height;
};

static uint32_t pattern(const struct fake_display *f, int x, int y)
{
    return ((uint32_t)(x * 7 + f->salt) & 0xff) << 16 | ((uint32_t)(y * 3) & 0xff) << 8 |
           ((uint32_t)(x ^ y) & 0xff);
}

static uint64_t fake_refresh(void *hw, bool full)
{
    struct fake_display *f = hw;
    pixman_image_t *img = display_console_resize(f->con, f->width, f->height);
    int y0, y1;

    /* A new size is a new, black image: draw all of it. */
    if (f->drawn_width != f->width || f->drawn_height != f->height) {
        full = true;
        f->drawn_width = f->width;
        f->drawn_height = f->height;
    }
    y0 = full ? 0 : f->dirty_y0;
    y1 = full ? f->height : f->dirty_y1;

    for (int y = y0; y < y1; y++) {
        uint32_t *row = (uint32_t *)((uint8_t *)pixman_image_get_data(img) +
                                     (size_t)y * pixman_image_get_stride(img));
        for (int x = 0; x < f->width; x++) {
            row[x] = pattern(f, x, y);
        }
    }
    if (y1 > y0) {
        display_console_dirty(f->con, 0, y0, f->width, y1 - y0);
    }
    f->dirty_y0 = f->dirty_y1 = 0;
    return 0;
}

static const struct display_hw_ops fake_ops = {.refresh = fake_refresh};

/* The window shows exactly width x height of expect(). */
static void assert_window_shows(const struct fake_display *f)
{
    int width = 0, height = 0;
    g_autofree uint32_t *px = sdl_display_test_snapshot(&width, &height);

    g_assert_nonnull(px);
    g_assert_cmpint(width, ==, f->width);
    g_assert_cmpint(height, ==, f->height);
    for (int y = 0; y < height; y++) {
        for (int x = 0; x < width; x++) {
            if ((px[y * width + x] & 0xffffff) != pattern(f, x, y)) {
                g_error("pixel (%d,%d) is %06x, expected %06x", x, y,
                        px[y * width + x] & 0xffffff, pattern(f, x, y));
            }
        }
    }
}

static struct fake_display *fake_new(int width, int height)
{
    struct fake_display *f = g_new0(struct fake_display, 1);

    f->width = width;
    f->height = height;
    f->con = display_console_new("fake", &fake_ops, f);
    return f;
}

static void fake_free(struct fake_display *f)
{
    display_console_free(f->con);
    g_free(f);
}

struct refresh_wait {
    struct fake_display *f;
    uint64_t before;
};

static bool refreshed(void *opaque)
{
    struct refresh_wait *rw = opaque;
    return display_console_refresh_count(rw->f->con) > rw->before;
}

/* The guest changed rows [y0, y1): the console refreshes on its timer. */
static void fake_change(struct fake_display *f, int y0, int y1, uint32_t salt)
{
    struct refresh_wait rw = {f, display_console_refresh_count(f->con)};

    f->salt = salt;
    f->dirty_y0 = y0;
    f->dirty_y1 = y1;
    display_console_hw_changed(f->con);
    g_assert_true(loop_until(refreshed, &rw));
}

/* ---- tests ---- */

/* No display device: a black 640x480 window, titled with the guest's name. */
static void test_no_console(void)
{
    unsigned threads = count_threads();
    int width = 0, height = 0;
    g_autofree uint32_t *px = NULL;
    struct sdl_display_test_info info;

    g_assert_null(display_console_first());
    sdl_display_set_guest("guest1", NULL, NULL);
    start_window();
    g_assert_cmpuint(count_threads(), >, threads);
    px = sdl_display_test_snapshot(&width, &height);
    g_assert_nonnull(px);
    g_assert_cmpint(width, ==, DISPLAY_DEFAULT_WIDTH);
    g_assert_cmpint(height, ==, DISPLAY_DEFAULT_HEIGHT);
    for (int i = 0; i < width * height; i++) {
        g_assert_cmphex(px[i] & 0xffffff, ==, 0);
    }
    info = window_info();
    g_assert_cmpstr(info.title, ==, "QEMU (guest1-0)");
    g_free(info.title);
    sdl_display_stop();
    g_assert_cmpuint(count_threads(), ==, threads);
    g_assert_false(sdl_display_test_info(&info));
}

/* The pattern, a partial redraw, a resize; and nothing moves while nothing changes. */
static void test_frames(void)
{
    struct fake_display *f = fake_new(320, 200);
    struct sdl_display_test_info before, after;
    unsigned threads = count_threads();

    start_window(); /* the listener's first full refresh draws the pattern */
    assert_window_shows(f);

    fake_change(f, 50, 60, 0x40); /* only rows 50..59 are redrawn with the new salt */
    {
        int width, height;
        g_autofree uint32_t *px = sdl_display_test_snapshot(&width, &height);
        struct fake_display old = *f;
        old.salt = 0;
        g_assert_cmphex(px[55 * width + 9] & 0xffffff, ==, pattern(f, 9, 55));
        g_assert_cmphex(px[10 * width + 9] & 0xffffff, ==, pattern(&old, 9, 10));
        g_assert_cmphex(pattern(f, 9, 55), !=, pattern(&old, 9, 55));
    }
    f->salt = 0x40;
    fake_change(f, 0, 200, 0x40);
    assert_window_shows(f);

    /* A mode change: the window and its texture follow. */
    f->width = 800;
    f->height = 600;
    f->salt = 0x11;
    fake_change(f, 0, 0, 0x11);
    assert_window_shows(f);
    f->width = 640;
    f->height = 400;
    fake_change(f, 0, 0, 0x23);
    assert_window_shows(f);

    /* Idle: the UI thread sleeps (no wake-up at all in half a second). */
    before = window_info();
    loop_for_ms(500);
    after = window_info();
    g_assert_cmpuint(after.wakeups, ==, before.wakeups);
    g_free(before.title);
    g_free(after.title);

    sdl_display_stop();
    g_assert_cmpuint(count_threads(), ==, threads);
    fake_free(f);
}

struct recorded {
    GArray *keys; /* keycode | down << 16 */
    int dx, dy, dz, rel_events;
    int ax, ay, abs_events;
    unsigned buttons;
};

static void rec_key(void *opaque, unsigned keycode, bool down)
{
    struct recorded *r = opaque;
    unsigned v = keycode | (down ? 1u << 16 : 0);
    g_array_append_val(r->keys, v);
}

static void rec_rel(void *opaque, int dx, int dy, int dz, unsigned buttons)
{
    struct recorded *r = opaque;
    r->dx += dx;
    r->dy += dy;
    r->dz += dz;
    r->buttons = buttons;
    r->rel_events++;
}

static void rec_abs(void *opaque, int x, int y, int dz, unsigned buttons)
{
    struct recorded *r = opaque;
    r->ax = x;
    r->ay = y;
    r->dz += dz;
    r->buttons = buttons;
    r->abs_events++;
}

struct key_wait {
    struct recorded *r;
    guint n;
};

static bool keys_arrived(void *opaque)
{
    struct key_wait *kw = opaque;
    return kw->r->keys->len >= kw->n;
}

static void push_key(SDL_Scancode sc, bool down, Uint16 mod, bool repeat)
{
    SDL_Event ev = {0};

    ev.type = down ? SDL_KEYDOWN : SDL_KEYUP;
    ev.key.state = down ? SDL_PRESSED : SDL_RELEASED;
    ev.key.repeat = repeat;
    ev.key.keysym.scancode = sc;
    ev.key.keysym.mod = mod;
    ev.key.windowID = window_id();
    push_event(&ev);
}

/* A PC keyboard's keys arrive as evdev codes, in order, down and up; repeats do not. */
static void test_keyboard(void)
{
    static const struct {
        SDL_Scancode sc;
        unsigned key;
    } keys[] = {
        {SDL_SCANCODE_A, KEY_A}, {SDL_SCANCODE_Z, KEY_Z}, {SDL_SCANCODE_1, KEY_1},
        {SDL_SCANCODE_0, KEY_0}, {SDL_SCANCODE_RETURN, KEY_ENTER},
        {SDL_SCANCODE_ESCAPE, KEY_ESC}, {SDL_SCANCODE_GRAVE, KEY_GRAVE},
        {SDL_SCANCODE_NONUSBACKSLASH, KEY_102ND}, {SDL_SCANCODE_NONUSHASH, KEY_BACKSLASH},
        {SDL_SCANCODE_F1, KEY_F1}, {SDL_SCANCODE_F12, KEY_F12},
        {SDL_SCANCODE_PRINTSCREEN, KEY_SYSRQ}, {SDL_SCANCODE_SCROLLLOCK, KEY_SCROLLLOCK},
        {SDL_SCANCODE_PAUSE, KEY_PAUSE}, {SDL_SCANCODE_INSERT, KEY_INSERT},
        {SDL_SCANCODE_DELETE, KEY_DELETE}, {SDL_SCANCODE_HOME, KEY_HOME},
        {SDL_SCANCODE_END, KEY_END}, {SDL_SCANCODE_PAGEUP, KEY_PAGEUP},
        {SDL_SCANCODE_PAGEDOWN, KEY_PAGEDOWN}, {SDL_SCANCODE_UP, KEY_UP},
        {SDL_SCANCODE_DOWN, KEY_DOWN}, {SDL_SCANCODE_LEFT, KEY_LEFT},
        {SDL_SCANCODE_RIGHT, KEY_RIGHT}, {SDL_SCANCODE_NUMLOCKCLEAR, KEY_NUMLOCK},
        {SDL_SCANCODE_KP_DIVIDE, KEY_KPSLASH}, {SDL_SCANCODE_KP_MULTIPLY, KEY_KPASTERISK},
        {SDL_SCANCODE_KP_MINUS, KEY_KPMINUS}, {SDL_SCANCODE_KP_PLUS, KEY_KPPLUS},
        {SDL_SCANCODE_KP_ENTER, KEY_KPENTER}, {SDL_SCANCODE_KP_0, KEY_KP0},
        {SDL_SCANCODE_KP_5, KEY_KP5}, {SDL_SCANCODE_KP_9, KEY_KP9},
        {SDL_SCANCODE_KP_PERIOD, KEY_KPDOT}, {SDL_SCANCODE_LCTRL, KEY_LEFTCTRL},
        {SDL_SCANCODE_RCTRL, KEY_RIGHTCTRL}, {SDL_SCANCODE_LSHIFT, KEY_LEFTSHIFT},
        {SDL_SCANCODE_RSHIFT, KEY_RIGHTSHIFT}, {SDL_SCANCODE_LALT, KEY_LEFTALT},
        {SDL_SCANCODE_RALT, KEY_RIGHTALT}, {SDL_SCANCODE_LGUI, KEY_LEFTMETA},
        {SDL_SCANCODE_RGUI, KEY_RIGHTMETA}, {SDL_SCANCODE_APPLICATION, KEY_COMPOSE},
        {SDL_SCANCODE_CAPSLOCK, KEY_CAPSLOCK}, {SDL_SCANCODE_INTERNATIONAL1, KEY_RO},
        {SDL_SCANCODE_INTERNATIONAL3, KEY_YEN}, {SDL_SCANCODE_INTERNATIONAL4, KEY_HENKAN},
        {SDL_SCANCODE_INTERNATIONAL5, KEY_MUHENKAN},
        {SDL_SCANCODE_INTERNATIONAL2, KEY_KATAKANAHIRAGANA},
        {SDL_SCANCODE_LANG1, KEY_HANGEUL}, {SDL_SCANCODE_LANG2, KEY_HANJA},
    };
    struct recorded r = {.keys = g_array_new(FALSE, FALSE, sizeof(unsigned))};
    const struct input_handler h = {.name = "test-kbd", .kinds = INPUT_KIND_KEYBOARD,
                                    .key = rec_key, .opaque = &r};
    struct key_wait kw = {&r, 2 * G_N_ELEMENTS(keys)};

    input_register_handler(&h);
    start_window();
    for (unsigned i = 0; i < G_N_ELEMENTS(keys); i++) {
        push_key(keys[i].sc, true, 0, false);
        push_key(keys[i].sc, true, 0, true); /* auto-repeat: the guest's keyboard does it */
        push_key(keys[i].sc, false, 0, false);
    }
    g_assert_true(loop_until(keys_arrived, &kw));
    loop_for_ms(50);
    g_assert_cmpuint(r.keys->len, ==, 2 * G_N_ELEMENTS(keys));
    for (unsigned i = 0; i < G_N_ELEMENTS(keys); i++) {
        g_assert_cmphex(g_array_index(r.keys, unsigned, 2 * i), ==, keys[i].key | 1u << 16);
        g_assert_cmphex(g_array_index(r.keys, unsigned, 2 * i + 1), ==, keys[i].key);
    }

    /* A key held when the window loses focus is released for the guest. */
    g_array_set_size(r.keys, 0);
    push_key(SDL_SCANCODE_B, true, 0, false);
    {
        SDL_Event ev = {0};
        ev.type = SDL_WINDOWEVENT;
        ev.window.event = SDL_WINDOWEVENT_FOCUS_LOST;
        ev.window.windowID = window_id();
        push_event(&ev);
    }
    kw.n = 2;
    g_assert_true(loop_until(keys_arrived, &kw));
    g_assert_cmphex(g_array_index(r.keys, unsigned, 1), ==, KEY_B);

    sdl_display_stop();
    input_unregister_handler(&h);
    g_array_free(r.keys, TRUE);
}

static bool rel_arrived(void *opaque)
{
    return ((struct recorded *)opaque)->rel_events > 0;
}

static bool abs_arrived(void *opaque)
{
    return ((struct recorded *)opaque)->abs_events > 0;
}

static void push_motion(int x, int y, int xrel, int yrel)
{
    SDL_Event ev = {0};

    ev.type = SDL_MOUSEMOTION;
    ev.motion.windowID = window_id();
    ev.motion.x = x;
    ev.motion.y = y;
    ev.motion.xrel = xrel;
    ev.motion.yrel = yrel;
    push_event(&ev);
}

static void push_button(Uint8 button, bool down, int x, int y)
{
    SDL_Event ev = {0};

    ev.type = down ? SDL_MOUSEBUTTONDOWN : SDL_MOUSEBUTTONUP;
    ev.button.windowID = window_id();
    ev.button.button = button;
    ev.button.state = down ? SDL_PRESSED : SDL_RELEASED;
    ev.button.x = x;
    ev.button.y = y;
    push_event(&ev);
}

static void push_wheel(int y)
{
    SDL_Event ev = {0};

    ev.type = SDL_MOUSEWHEEL;
    ev.wheel.windowID = window_id();
    ev.wheel.y = y;
    ev.wheel.direction = SDL_MOUSEWHEEL_NORMAL;
    push_event(&ev);
}

static bool window_grabbed(void *opaque)
{
    struct sdl_display_test_info info = window_info();

    g_free(info.title);
    return info.grabbed == GPOINTER_TO_INT(opaque);
}

/* A PS/2-like mouse: a click grabs (and is not the guest's), motion is relative, Ctrl-Alt-G
 * lets go; the title says so. */
static void test_mouse_relative(void)
{
    struct recorded r = {.keys = g_array_new(FALSE, FALSE, sizeof(unsigned))};
    const struct input_handler h = {
        .name = "test-mouse", .kinds = INPUT_KIND_POINTER_REL | INPUT_KIND_KEYBOARD,
        .pointer_rel = rec_rel, .key = rec_key, .opaque = &r};
    struct sdl_display_test_info info;

    input_register_handler(&h);
    sdl_display_set_guest("guest2", NULL, NULL);
    start_window();

    /* Not grabbed: motion is the host's. */
    push_motion(10, 10, 5, 5);
    loop_for_ms(100);
    g_assert_cmpint(r.rel_events, ==, 0);

    push_button(SDL_BUTTON_LEFT, true, 10, 10);
    push_button(SDL_BUTTON_LEFT, false, 10, 10);
    g_assert_true(loop_until(window_grabbed, GINT_TO_POINTER(1)));
    info = window_info();
    g_assert_cmpstr(info.title, ==, "QEMU (guest2-0) - Press Ctrl-Alt-G to exit grab");
    g_free(info.title);
    loop_for_ms(100);
    g_assert_cmpint(r.rel_events, ==, 0);

    push_motion(20, 20, 7, -3);
    g_assert_true(loop_until(rel_arrived, &r));
    g_assert_cmpint(r.dx, ==, 7);
    g_assert_cmpint(r.dy, ==, -3);

    r.rel_events = 0;
    push_button(SDL_BUTTON_RIGHT, true, 0, 0);
    g_assert_true(loop_until(rel_arrived, &r));
    g_assert_cmphex(r.buttons, ==, INPUT_BUTTON_RIGHT);
    r.rel_events = 0;
    push_button(SDL_BUTTON_RIGHT, false, 0, 0);
    g_assert_true(loop_until(rel_arrived, &r));
    g_assert_cmphex(r.buttons, ==, 0);

    r.rel_events = 0;
    push_wheel(2);
    g_assert_true(loop_until(rel_arrived, &r));
    g_assert_cmpint(r.dz, ==, 2);

    /* Ctrl-Alt-G: the guest sees Ctrl and Alt but not the G. */
    push_key(SDL_SCANCODE_LCTRL, true, KMOD_LCTRL, false);
    push_key(SDL_SCANCODE_LALT, true, KMOD_LCTRL | KMOD_LALT, false);
    push_key(SDL_SCANCODE_G, true, KMOD_LCTRL | KMOD_LALT, false);
    push_key(SDL_SCANCODE_G, false, KMOD_LCTRL | KMOD_LALT, false);
    push_key(SDL_SCANCODE_LALT, false, KMOD_LCTRL, false);
    push_key(SDL_SCANCODE_LCTRL, false, 0, false);
    g_assert_true(loop_until(window_grabbed, GINT_TO_POINTER(0)));
    {
        struct key_wait kw = {&r, 4};
        g_assert_true(loop_until(keys_arrived, &kw));
    }
    loop_for_ms(50);
    g_assert_cmpuint(r.keys->len, ==, 4);
    for (guint i = 0; i < r.keys->len; i++) {
        g_assert_cmpuint(g_array_index(r.keys, unsigned, i) & 0xffff, !=, KEY_G);
    }
    info = window_info();
    g_assert_cmpstr(info.title, ==, "QEMU (guest2-0)");
    g_free(info.title);

    r.rel_events = 0;
    push_motion(30, 30, 4, 4);
    loop_for_ms(100);
    g_assert_cmpint(r.rel_events, ==, 0);

    sdl_display_stop();
    input_unregister_handler(&h);
    g_array_free(r.keys, TRUE);
}

/* A tablet: positions scaled to 0..INPUT_ABS_MAX over the window, no grab. */
static void test_mouse_absolute(void)
{
    struct fake_display *f = fake_new(640, 480);
    struct recorded r = {0};
    const struct input_handler h = {.name = "test-tablet", .kinds = INPUT_KIND_POINTER_ABS,
                                    .pointer_abs = rec_abs, .opaque = &r};

    input_register_handler(&h);
    start_window();
    assert_window_shows(f); /* the window is 640x480 now */

    push_motion(639, 0, 0, 0);
    g_assert_true(loop_until(abs_arrived, &r));
    g_assert_cmpint(r.ax, ==, INPUT_ABS_MAX);
    g_assert_cmpint(r.ay, ==, 0);

    r.abs_events = 0;
    push_button(SDL_BUTTON_LEFT, true, 0, 479);
    g_assert_true(loop_until(abs_arrived, &r));
    g_assert_cmpint(r.ax, ==, 0);
    g_assert_cmpint(r.ay, ==, INPUT_ABS_MAX);
    g_assert_cmphex(r.buttons, ==, INPUT_BUTTON_LEFT);
    g_assert_true(window_grabbed(GINT_TO_POINTER(0)));

    sdl_display_stop();
    input_unregister_handler(&h);
    fake_free(f);
}

static GThread *powerdown_thread;
static unsigned powerdowns;

static void on_powerdown(void *opaque)
{
    powerdowns++;
    powerdown_thread = g_thread_self();
    g_assert_cmpstr(opaque, ==, "run");
}

static bool powered_down(void *opaque)
{
    return powerdowns > 0;
}

static void push_close(void)
{
    SDL_Event ev = {0};

    ev.type = SDL_WINDOWEVENT;
    ev.window.event = SDL_WINDOWEVENT_CLOSE;
    ev.window.windowID = window_id();
    push_event(&ev);
}

/* The close button presses the guest's power button (on the event loop), or nothing with
 * window-close=off; and the window stays. */
static void test_close(void)
{
    g_autoptr(GError) err = NULL;
    struct kv_list *opts;

    sdl_display_set_guest("guest3", on_powerdown, "run");
    start_window();
    push_close();
    g_assert_true(loop_until(powered_down, NULL));
    g_assert_true(powerdown_thread == g_thread_self());
    g_assert_cmpuint(powerdowns, ==, 1);
    sdl_display_stop();

    opts = kv_parse("sdl,window-close=off", "display", &err);
    g_assert_no_error(err);
    g_assert_true(sdl_display_start(opts, &err));
    push_close();
    loop_for_ms(200);
    g_assert_cmpuint(powerdowns, ==, 1);
    sdl_display_stop();
    kv_free(opts);

    opts = kv_parse("sdl,gl=on", "display", &err);
    g_assert_no_error(err);
    g_assert_false(sdl_display_start(opts, &err));
    g_assert_nonnull(strstr(err->message, "-display sdl: unsupported option 'gl=on'"));
    kv_free(opts);
    sdl_display_set_guest(NULL, NULL, NULL);
}

/* Without a usable video driver the start fails with SDL's words, and leaves no thread. */
static void test_no_video(void)
{
    g_autofree char *saved = g_strdup(g_getenv("SDL_VIDEODRIVER"));
    unsigned threads = count_threads();
    GError *err = NULL;

    g_setenv("SDL_VIDEODRIVER", "no-such-driver", TRUE);
    g_assert_false(sdl_display_start(NULL, &err));
    g_assert_nonnull(err);
    g_test_message("%s", err->message);
    g_assert_true(g_str_has_prefix(err->message, "-display sdl: "));
    g_assert_cmpuint(strlen(err->message), >, strlen("-display sdl: "));
    g_assert_cmpuint(count_threads(), ==, threads);
    g_error_free(err);
    g_setenv("SDL_VIDEODRIVER", saved, TRUE);
}

/* offscreen when SDL has it, dummy otherwise; SDL's software renderer either way. */
static bool choose_driver(void)
{
    static const char *const drivers[] = {"dummy", "offscreen"};

    g_setenv("SDL_RENDER_DRIVER", "software", TRUE);
    for (unsigned i = 0; i < G_N_ELEMENTS(drivers); i++) {
        g_setenv("SDL_VIDEODRIVER", drivers[i], TRUE);
        if (SDL_VideoInit(drivers[i]) == 0) {
            SDL_VideoQuit();
            SDL_Quit();
            return true;
        }
    }
    return false;
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    if (!choose_driver()) {
        g_test_skip("SDL has neither its offscreen nor its dummy video driver");
        return g_test_run();
    }
    g_test_add_func("/sdl2/no-video", test_no_video);
    g_test_add_func("/sdl2/no-console", test_no_console);
    g_test_add_func("/sdl2/frames", test_frames);
    g_test_add_func("/sdl2/keyboard", test_keyboard);
    g_test_add_func("/sdl2/mouse-relative", test_mouse_relative);
    g_test_add_func("/sdl2/mouse-absolute", test_mouse_absolute);
    g_test_add_func("/sdl2/close", test_close);
    return g_test_run();
}
