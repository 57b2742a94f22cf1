/*
 * The SDL2 window: -display sdl[,window-close=on|off][,show-cursor=on|off][,gl=off], and
 * libxl's -sdl (xl's sdl=1). It shows display_console_first() and feeds its keyboard and
 * mouse to include/xendm/input.h.
 *
 * Threads. SDL's video belongs to the thread that initialised it, and a window must answer
 * its display server promptly, so the window lives on a UI thread of its own that sleeps in
 * SDL_WaitEvent. On X11 and Wayland SDL 2.26 blocks there in poll() on the display
 * connection; SDL_PushEvent from another thread wakes it. Nothing polls on a timer, so an
 * idle window costs no CPU and the GLib loop never calls SDL. (SDL's offscreen and dummy
 * drivers, used by the tests, have no display connection to wait on: SDL polls them
 * internally every millisecond; that is SDL's business and does not happen on X11/Wayland.)
 *
 *   event loop thread                                UI thread (SDL)
 *   console listener update(x, y, w, h):
 *     lock; copy the rectangle into `frame`;
 *     grow the pending rectangle; unlock;
 *     SDL_PushEvent(FRAME) once per pending  ──────▶  lock; SDL_UpdateTexture(pending);
 *                                                     unlock; render, present
 *   drain_input(): input_key_event() ...      ◀──────  key, mouse, close: queued under the
 *     (an idle source on the loop's context)           lock, one idle source per batch
 *
 * The pixel hand-over is a copy under a mutex: the console may replace or redraw its pixman
 * image at any time on its own thread, so the UI thread never reads it; each side holds the
 * lock only for a memcpy of the dirty rectangle. Input goes back to the event-loop thread,
 * which owns every device (input.h requires it), in order and batched.
 */
#include "xendm/ui.h"

#include <SDL.h>
#include <linux/input-event-codes.h>
#include <pixman.h>
#include <string.h>
#include "xendm/display.h"
#include "xendm/input.h"
#include "xendm/keyval.h"
#include "xendm/log.h"

/* What the event-loop thread asks of the UI thread (the user event's code). */
enum ui_request {
    UI_FRAME = 1, /* pixels or a size are pending */
    UI_STOP,
    UI_SNAPSHOT, /* tests: read back what the window shows */
};

/* What the UI thread hands to the event-loop thread. */
enum input_msg_kind { MSG_KEY, MSG_POINTER_REL, MSG_POINTER_ABS, MSG_CLOSE };

struct input_msg {
    enum input_msg_kind kind;
    unsigned keycode;
    bool down;
    int x, y, dz; /* motion (relative) or position (absolute), wheel */
    unsigned buttons;
};

struct sdl_window {
    /* Fixed before the UI thread starts. */
    char *guest_name;
    bool close_powers_down; /* window-close= */
    bool show_cursor;       /* show-cursor= */
    GMainContext *main_ctx;
    GThread *thread;
    Uint32 request_event; /* SDL_RegisterEvents, set before init_done */

    GMutex lock;
    GCond cond;
    /* Under lock: start-up. */
    bool init_done;
    char *init_error;
    /* Under lock: the frame hand-over (a copy of the console's image). */
    uint32_t *frame;
    int frame_width, frame_height;
    bool frame_resized;
    int dirty_x0, dirty_y0, dirty_x1, dirty_y1; /* empty when x0 >= x1 */
    bool frame_wake_pending;
    /* Under lock: input for the event loop. */
    GQueue input_queue; /* struct input_msg * */
    bool input_scheduled;
    /* Under lock: what tests may look at (sdl_display_test_*). */
    char *title;
    uint32_t window_id;
    bool grabbed_shown;
    uint64_t wakeups;
    uint32_t *snapshot;
    int snapshot_width, snapshot_height;
    bool snapshot_done;

    /* Written by the event loop, read by the UI thread. */
    gint pointer_absolute;

    /* UI thread only. */
    SDL_Window *window;
    SDL_Renderer *renderer;
    SDL_Texture *texture;
    int texture_width, texture_height;
    bool grabbed;
    bool cursor_hidden;     /* the guest draws its own (absolute pointing) */
    bool hotkey_down;       /* the G of Ctrl-Alt-G is held: its release is not the guest's */
    unsigned buttons;       /* INPUT_BUTTON_* held, as the guest saw them */
    unsigned swallowed;     /* buttons whose press grabbed the mouse: not the guest's */
    int last_abs_x, last_abs_y;
    bool key_down[SDL_NUM_SCANCODES];

    /* Event loop only. */
    struct display_console *con;
    struct display_listener listener;
};

/* Set by the event-loop thread only; queued input checks it, so none outlives a stop. */
static struct sdl_window *active_window;

/* What main tells us (sdl_display_set_guest). */
static struct {
    char *name;
    void (*powerdown)(void *opaque);
    void *opaque;
} guest_info;

static GQuark sdl_error_quark(void)
{
    return g_quark_from_static_string("xendm-sdl-error");
}

void sdl_display_set_guest(const char *name, void (*powerdown)(void *opaque), void *opaque)
{
    g_free(guest_info.name);
    guest_info.name = g_strdup(name);
    guest_info.powerdown = powerdown;
    guest_info.opaque = opaque;
}

/* ---- keyboard: SDL scancodes (USB HID usages) to evdev KEY_* ---- */

/*
 * SDL's scancodes are the USB HID keyboard page's usage IDs (HID Usage Tables 1.12, §10);
 * the evdev codes for them are those Linux's HID driver gives the same usages, so the guest
 * sees the key at the same place on the keyboard whatever the host's layout.
 */
static const uint16_t scancode_to_evdev[SDL_NUM_SCANCODES] = {
    [SDL_SCANCODE_A] = KEY_A, [SDL_SCANCODE_B] = KEY_B, [SDL_SCANCODE_C] = KEY_C,
    [SDL_SCANCODE_D] = KEY_D, [SDL_SCANCODE_E] = KEY_E, [SDL_SCANCODE_F] = KEY_F,
    [SDL_SCANCODE_G] = KEY_G, [SDL_SCANCODE_H] = KEY_H, [SDL_SCANCODE_I] = KEY_I,
    [SDL_SCANCODE_J] = KEY_J, [SDL_SCANCODE_K] = KEY_K, [SDL_SCANCODE_L] = KEY_L,
    [SDL_SCANCODE_M] = KEY_M, [SDL_SCANCODE_N] = KEY_N, [SDL_SCANCODE_O] = KEY_O,
    [SDL_SCANCODE_P] = KEY_P, [SDL_SCANCODE_Q] = KEY_Q, [SDL_SCANCODE_R] = KEY_R,
    [SDL_SCANCODE_S] = KEY_S, [SDL_SCANCODE_T] = KEY_T, [SDL_SCANCODE_U] = KEY_U,
    [SDL_SCANCODE_V] = KEY_V, [SDL_SCANCODE_W] = KEY_W, [SDL_SCANCODE_X] = KEY_X,
    [SDL_SCANCODE_Y] = KEY_Y, [SDL_SCANCODE_Z] = KEY_Z,
    [SDL_SCANCODE_1] = KEY_1, [SDL_SCANCODE_2] = KEY_2, [SDL_SCANCODE_3] = KEY_3,
    [SDL_SCANCODE_4] = KEY_4, [SDL_SCANCODE_5] = KEY_5, [SDL_SCANCODE_6] = KEY_6,
    [SDL_SCANCODE_7] = KEY_7, [SDL_SCANCODE_8] = KEY_8, [SDL_SCANCODE_9] = KEY_9,
    [SDL_SCANCODE_0] = KEY_0,
    [SDL_SCANCODE_RETURN] = KEY_ENTER, [SDL_SCANCODE_ESCAPE] = KEY_ESC,
    [SDL_SCANCODE_BACKSPACE] = KEY_BACKSPACE, [SDL_SCANCODE_TAB] = KEY_TAB,
    [SDL_SCANCODE_SPACE] = KEY_SPACE, [SDL_SCANCODE_MINUS] = KEY_MINUS,
    [SDL_SCANCODE_EQUALS] = KEY_EQUAL, [SDL_SCANCODE_LEFTBRACKET] = KEY_LEFTBRACE,
    [SDL_SCANCODE_RIGHTBRACKET] = KEY_RIGHTBRACE, [SDL_SCANCODE_BACKSLASH] = KEY_BACKSLASH,
    /* Non-US # and ~ (ISO keyboards, beside Enter) is the same key position as US \ . */
    [SDL_SCANCODE_NONUSHASH] = KEY_BACKSLASH,
    [SDL_SCANCODE_SEMICOLON] = KEY_SEMICOLON, [SDL_SCANCODE_APOSTROPHE] = KEY_APOSTROPHE,
    [SDL_SCANCODE_GRAVE] = KEY_GRAVE, [SDL_SCANCODE_COMMA] = KEY_COMMA,
    [SDL_SCANCODE_PERIOD] = KEY_DOT, [SDL_SCANCODE_SLASH] = KEY_SLASH,
    [SDL_SCANCODE_CAPSLOCK] = KEY_CAPSLOCK,
    [SDL_SCANCODE_F1] = KEY_F1, [SDL_SCANCODE_F2] = KEY_F2, [SDL_SCANCODE_F3] = KEY_F3,
    [SDL_SCANCODE_F4] = KEY_F4, [SDL_SCANCODE_F5] = KEY_F5, [SDL_SCANCODE_F6] = KEY_F6,
    [SDL_SCANCODE_F7] = KEY_F7, [SDL_SCANCODE_F8] = KEY_F8, [SDL_SCANCODE_F9] = KEY_F9,
    [SDL_SCANCODE_F10] = KEY_F10, [SDL_SCANCODE_F11] = KEY_F11, [SDL_SCANCODE_F12] = KEY_F12,
    [SDL_SCANCODE_F13] = KEY_F13, [SDL_SCANCODE_F14] = KEY_F14, [SDL_SCANCODE_F15] = KEY_F15,
    [SDL_SCANCODE_F16] = KEY_F16, [SDL_SCANCODE_F17] = KEY_F17, [SDL_SCANCODE_F18] = KEY_F18,
    [SDL_SCANCODE_F19] = KEY_F19, [SDL_SCANCODE_F20] = KEY_F20, [SDL_SCANCODE_F21] = KEY_F21,
    [SDL_SCANCODE_F22] = KEY_F22, [SDL_SCANCODE_F23] = KEY_F23, [SDL_SCANCODE_F24] = KEY_F24,
    [SDL_SCANCODE_PRINTSCREEN] = KEY_SYSRQ, [SDL_SCANCODE_SCROLLLOCK] = KEY_SCROLLLOCK,
    [SDL_SCANCODE_PAUSE] = KEY_PAUSE,
    /* navigation block and arrows */
    [SDL_SCANCODE_INSERT] = KEY_INSERT, [SDL_SCANCODE_HOME] = KEY_HOME,
    [SDL_SCANCODE_PAGEUP] = KEY_PAGEUP, [SDL_SCANCODE_DELETE] = KEY_DELETE,
    [SDL_SCANCODE_END] = KEY_END, [SDL_SCANCODE_PAGEDOWN] = KEY_PAGEDOWN,
    [SDL_SCANCODE_RIGHT] = KEY_RIGHT, [SDL_SCANCODE_LEFT] = KEY_LEFT,
    [SDL_SCANCODE_DOWN] = KEY_DOWN, [SDL_SCANCODE_UP] = KEY_UP,
    /* keypad */
    [SDL_SCANCODE_NUMLOCKCLEAR] = KEY_NUMLOCK, [SDL_SCANCODE_KP_DIVIDE] = KEY_KPSLASH,
    [SDL_SCANCODE_KP_MULTIPLY] = KEY_KPASTERISK, [SDL_SCANCODE_KP_MINUS] = KEY_KPMINUS,
    [SDL_SCANCODE_KP_PLUS] = KEY_KPPLUS, [SDL_SCANCODE_KP_ENTER] = KEY_KPENTER,
    [SDL_SCANCODE_KP_1] = KEY_KP1, [SDL_SCANCODE_KP_2] = KEY_KP2, [SDL_SCANCODE_KP_3] = KEY_KP3,
    [SDL_SCANCODE_KP_4] = KEY_KP4, [SDL_SCANCODE_KP_5] = KEY_KP5, [SDL_SCANCODE_KP_6] = KEY_KP6,
    [SDL_SCANCODE_KP_7] = KEY_KP7, [SDL_SCANCODE_KP_8] = KEY_KP8, [SDL_SCANCODE_KP_9] = KEY_KP9,
    [SDL_SCANCODE_KP_0] = KEY_KP0, [SDL_SCANCODE_KP_PERIOD] = KEY_KPDOT,
    [SDL_SCANCODE_KP_EQUALS] = KEY_KPEQUAL, [SDL_SCANCODE_KP_COMMA] = KEY_KPCOMMA,
    /* the key left of Z on ISO keyboards, the menu key, power */
    [SDL_SCANCODE_NONUSBACKSLASH] = KEY_102ND, [SDL_SCANCODE_APPLICATION] = KEY_COMPOSE,
    [SDL_SCANCODE_POWER] = KEY_POWER,
    /* Japanese and Korean keys (HID International1-6, LANG1-5) */
    [SDL_SCANCODE_INTERNATIONAL1] = KEY_RO,
    [SDL_SCANCODE_INTERNATIONAL2] = KEY_KATAKANAHIRAGANA,
    [SDL_SCANCODE_INTERNATIONAL3] = KEY_YEN, [SDL_SCANCODE_INTERNATIONAL4] = KEY_HENKAN,
    [SDL_SCANCODE_INTERNATIONAL5] = KEY_MUHENKAN,
    [SDL_SCANCODE_INTERNATIONAL6] = KEY_KPJPCOMMA,
    [SDL_SCANCODE_LANG1] = KEY_HANGEUL, [SDL_SCANCODE_LANG2] = KEY_HANJA,
    [SDL_SCANCODE_LANG3] = KEY_KATAKANA, [SDL_SCANCODE_LANG4] = KEY_HIRAGANA,
    [SDL_SCANCODE_LANG5] = KEY_ZENKAKUHANKAKU,
    /* modifiers, left and right */
    [SDL_SCANCODE_LCTRL] = KEY_LEFTCTRL, [SDL_SCANCODE_LSHIFT] = KEY_LEFTSHIFT,
    [SDL_SCANCODE_LALT] = KEY_LEFTALT, [SDL_SCANCODE_LGUI] = KEY_LEFTMETA,
    [SDL_SCANCODE_RCTRL] = KEY_RIGHTCTRL, [SDL_SCANCODE_RSHIFT] = KEY_RIGHTSHIFT,
    [SDL_SCANCODE_RALT] = KEY_RIGHTALT, [SDL_SCANCODE_RGUI] = KEY_RIGHTMETA,
    /* editing and media keys some keyboards have */
    [SDL_SCANCODE_HELP] = KEY_HELP, [SDL_SCANCODE_MENU] = KEY_MENU,
    [SDL_SCANCODE_SELECT] = KEY_SELECT, [SDL_SCANCODE_STOP] = KEY_STOP,
    [SDL_SCANCODE_AGAIN] = KEY_AGAIN, [SDL_SCANCODE_UNDO] = KEY_UNDO,
    [SDL_SCANCODE_CUT] = KEY_CUT, [SDL_SCANCODE_COPY] = KEY_COPY,
    [SDL_SCANCODE_PASTE] = KEY_PASTE, [SDL_SCANCODE_FIND] = KEY_FIND,
    [SDL_SCANCODE_MUTE] = KEY_MUTE, [SDL_SCANCODE_VOLUMEUP] = KEY_VOLUMEUP,
    [SDL_SCANCODE_VOLUMEDOWN] = KEY_VOLUMEDOWN,
    [SDL_SCANCODE_AUDIONEXT] = KEY_NEXTSONG, [SDL_SCANCODE_AUDIOPREV] = KEY_PREVIOUSSONG,
    [SDL_SCANCODE_AUDIOSTOP] = KEY_STOPCD, [SDL_SCANCODE_AUDIOPLAY] = KEY_PLAYPAUSE,
    [SDL_SCANCODE_AUDIOMUTE] = KEY_MUTE, [SDL_SCANCODE_MEDIASELECT] = KEY_MEDIA,
    [SDL_SCANCODE_WWW] = KEY_WWW, [SDL_SCANCODE_MAIL] = KEY_MAIL,
    [SDL_SCANCODE_CALCULATOR] = KEY_CALC, [SDL_SCANCODE_COMPUTER] = KEY_COMPUTER,
    [SDL_SCANCODE_AC_SEARCH] = KEY_SEARCH, [SDL_SCANCODE_AC_HOME] = KEY_HOMEPAGE,
    [SDL_SCANCODE_AC_BACK] = KEY_BACK, [SDL_SCANCODE_AC_FORWARD] = KEY_FORWARD,
    [SDL_SCANCODE_AC_STOP] = KEY_STOP, [SDL_SCANCODE_AC_REFRESH] = KEY_REFRESH,
    [SDL_SCANCODE_AC_BOOKMARKS] = KEY_BOOKMARKS, [SDL_SCANCODE_SLEEP] = KEY_SLEEP,
    [SDL_SCANCODE_EJECT] = KEY_EJECTCD,
};

/* ---- the event-loop side of the hand-over ---- */

static void push_request(struct sdl_window *w, enum ui_request code)
{
    SDL_Event ev = {0};

    ev.type = w->request_event;
    ev.user.code = code;
    /* Thread-safe, and on X11/Wayland it wakes the UI thread's poll(). */
    if (SDL_PushEvent(&ev) < 0) {
        log_warn("-display sdl: cannot wake the window: %s", SDL_GetError());
    }
}

/* Under w->lock: bring the frame's size to the console's; false when out of memory. */
static bool frame_fit(struct sdl_window *w, int width, int height)
{
    uint32_t *frame;

    if (w->frame && w->frame_width == width && w->frame_height == height) {
        return true;
    }
    frame = g_try_malloc0((size_t)width * (size_t)height * 4);
    if (!frame) {
        return false;
    }
    g_free(w->frame);
    w->frame = frame;
    w->frame_width = width;
    w->frame_height = height;
    w->frame_resized = true;
    w->dirty_x0 = w->dirty_y0 = 0;
    w->dirty_x1 = width;
    w->dirty_y1 = height;
    return true;
}

/* Under w->lock: copy a rectangle of the console's image into the frame. */
static void frame_copy(struct sdl_window *w, pixman_image_t *image, int x, int y, int width,
                       int height)
{
    const uint8_t *src = (const uint8_t *)pixman_image_get_data(image);
    int stride = pixman_image_get_stride(image);

    for (int row = y; row < y + height; row++) {
        memcpy(&w->frame[(size_t)row * w->frame_width + x],
               src + (size_t)row * stride + (size_t)x * 4, (size_t)width * 4);
    }
    w->dirty_x0 = MIN(w->dirty_x0, x);
    w->dirty_y0 = MIN(w->dirty_y0, y);
    w->dirty_x1 = MAX(w->dirty_x1, x + width);
    w->dirty_y1 = MAX(w->dirty_y1, y + height);
}

static void on_console_update(void *opaque, int x, int y, int width, int height)
{
    struct sdl_window *w = opaque;
    pixman_image_t *image = display_console_image(w->con);
    int image_width = pixman_image_get_width(image), image_height = pixman_image_get_height(image);
    bool wake = false;

    g_mutex_lock(&w->lock);
    if (!frame_fit(w, image_width, image_height)) {
        g_mutex_unlock(&w->lock);
        log_warn("-display sdl: no memory for a %dx%d frame", image_width, image_height);
        return;
    }
    /* The console clips to its image; a frame refitted just now takes the whole image. */
    if (w->frame_resized) {
        x = y = 0;
        width = image_width;
        height = image_height;
    }
    frame_copy(w, image, x, y, MIN(width, image_width - x), MIN(height, image_height - y));
    if (!w->frame_wake_pending) {
        w->frame_wake_pending = wake = true;
    }
    g_mutex_unlock(&w->lock);
    /* A device may have switched between relative and absolute pointing. */
    g_atomic_int_set(&w->pointer_absolute, input_pointer_is_absolute());
    if (wake) {
        push_request(w, UI_FRAME);
    }
}

/* The update after a resize carries the pixels; the size alone needs no wake-up of its own. */
static void on_console_resize(void *opaque, int width, int height)
{
}

/* Queued input, on the event-loop thread: in order, and never after the window stopped. */
static gboolean drain_input(gpointer unused)
{
    struct sdl_window *w = active_window;
    GQueue batch = G_QUEUE_INIT;
    struct input_msg *msg;

    if (!w) {
        return G_SOURCE_REMOVE;
    }
    g_mutex_lock(&w->lock);
    batch = w->input_queue;
    g_queue_init(&w->input_queue);
    w->input_scheduled = false;
    g_mutex_unlock(&w->lock);

    while ((msg = g_queue_pop_head(&batch)) != NULL) {
        switch (msg->kind) {
        case MSG_KEY:
            input_key_event(msg->keycode, msg->down);
            break;
        case MSG_POINTER_REL:
            input_pointer_rel_event(msg->x, msg->y, msg->dz, msg->buttons);
            break;
        case MSG_POINTER_ABS:
            input_pointer_abs_event(msg->x, msg->y, msg->dz, msg->buttons);
            break;
        case MSG_CLOSE:
            if (guest_info.powerdown) {
                log_info("-display sdl: window closed: pressing the guest's power button");
                guest_info.powerdown(guest_info.opaque);
            } else {
                log_info("-display sdl: window closed, but nothing can press a power button");
            }
            break;
        }
        g_free(msg);
    }
    /* A device may have switched between relative and absolute since the last batch. */
    g_atomic_int_set(&w->pointer_absolute, input_pointer_is_absolute());
    return G_SOURCE_REMOVE;
}

/* ---- the UI thread ---- */

static void queue_input(struct sdl_window *w, const struct input_msg *msg)
{
    bool schedule;

    g_mutex_lock(&w->lock);
    g_queue_push_tail(&w->input_queue, g_memdup2(msg, sizeof(*msg)));
    schedule = !w->input_scheduled;
    w->input_scheduled = true;
    g_mutex_unlock(&w->lock);
    if (schedule) {
        /*
         * An idle source attached to the loop's context, not g_main_context_invoke(): this
         * thread's thread-default context is that same global default, so invoke would run
         * drain_input right here whenever the event loop is between iterations.
         */
        GSource *source = g_idle_source_new();
        g_source_set_callback(source, drain_input, NULL, NULL);
        g_source_attach(source, w->main_ctx);
        g_source_unref(source);
    }
}

/* QEMU's titles, which users and scripts know: "QEMU (NAME-0)", the grab hint appended. */
static void update_title(struct sdl_window *w)
{
    const char *hint = w->grabbed ? " - Press Ctrl-Alt-G to exit grab" : "";
    g_autofree char *title = w->guest_name
                                 ? g_strdup_printf("QEMU (%s-0)%s", w->guest_name, hint)
                                 : g_strdup_printf("QEMU%s", hint);

    SDL_SetWindowTitle(w->window, title);
    g_mutex_lock(&w->lock);
    g_free(w->title);
    w->title = g_steal_pointer(&title);
    w->grabbed_shown = w->grabbed;
    g_mutex_unlock(&w->lock);
}

static void set_grab(struct sdl_window *w, bool grab)
{
    if (w->grabbed == grab) {
        return;
    }
    w->grabbed = grab;
    /* Relative mode hides the host cursor and reports motion past the window's edges. */
    SDL_SetRelativeMouseMode(grab ? SDL_TRUE : SDL_FALSE);
    SDL_SetWindowGrab(w->window, grab ? SDL_TRUE : SDL_FALSE);
    update_title(w);
}

static void send_key(struct sdl_window *w, SDL_Scancode sc, bool down)
{
    struct input_msg msg = {.kind = MSG_KEY, .down = down};

    if ((unsigned)sc >= SDL_NUM_SCANCODES || scancode_to_evdev[sc] == 0) {
        return;
    }
    w->key_down[sc] = down;
    msg.keycode = scancode_to_evdev[sc];
    queue_input(w, &msg);
}

/* Focus went elsewhere: the keys held now are released there, so the guest must hear it. */
static void release_all_keys(struct sdl_window *w)
{
    for (int sc = 0; sc < SDL_NUM_SCANCODES; sc++) {
        if (w->key_down[sc]) {
            send_key(w, (SDL_Scancode)sc, false);
        }
    }
    w->hotkey_down = false;
}

static void handle_key(struct sdl_window *w, const SDL_KeyboardEvent *key)
{
    SDL_Scancode sc = key->keysym.scancode;
    bool down = key->state == SDL_PRESSED;
    Uint16 mod = key->keysym.mod;

    /* The guest keyboard's typematic repeats on its own. */
    if (key->repeat) {
        return;
    }
    /* Ctrl-Alt-G toggles the grab; the guest sees Ctrl and Alt, but not the G. */
    if (sc == SDL_SCANCODE_G && down && (mod & KMOD_CTRL) && (mod & KMOD_ALT)) {
        w->hotkey_down = true;
        set_grab(w, !w->grabbed);
        return;
    }
    if (sc == SDL_SCANCODE_G && !down && w->hotkey_down) {
        w->hotkey_down = false;
        return;
    }
    send_key(w, sc, down);
}

static unsigned button_bit(Uint8 button)
{
    switch (button) {
    case SDL_BUTTON_LEFT:
        return INPUT_BUTTON_LEFT;
    case SDL_BUTTON_RIGHT:
        return INPUT_BUTTON_RIGHT;
    case SDL_BUTTON_MIDDLE:
        return INPUT_BUTTON_MIDDLE;
    case SDL_BUTTON_X1:
        return INPUT_BUTTON_SIDE;
    case SDL_BUTTON_X2:
        return INPUT_BUTTON_EXTRA;
    default:
        return 0;
    }
}

/* Window pixels to 0..INPUT_ABS_MAX, whatever size the user gave the window. */
static int scale_abs(int pos, int size)
{
    if (size <= 1) {
        return 0;
    }
    pos = CLAMP(pos, 0, size - 1);
    return (int)((int64_t)pos * INPUT_ABS_MAX / (size - 1));
}

static void send_pointer(struct sdl_window *w, bool absolute, int x, int y, int dz)
{
    struct input_msg msg = {.dz = dz, .buttons = w->buttons};

    if (absolute) {
        int width, height;
        SDL_GetWindowSize(w->window, &width, &height);
        msg.kind = MSG_POINTER_ABS;
        msg.x = w->last_abs_x = scale_abs(x, width);
        msg.y = w->last_abs_y = scale_abs(y, height);
    } else {
        msg.kind = MSG_POINTER_REL;
        msg.x = x;
        msg.y = y;
    }
    queue_input(w, &msg);
}

/*
 * Absolute devices (a tablet) follow the host cursor; relative ones (the PS/2 mouse) get
 * motion only while the window holds the mouse, which a click takes and Ctrl-Alt-G gives
 * back, as in QEMU.
 */
static bool pointer_mode_absolute(struct sdl_window *w)
{
    bool absolute = g_atomic_int_get(&w->pointer_absolute);

    if (absolute && w->grabbed) {
        set_grab(w, false);
    }
    if (w->cursor_hidden != (absolute && !w->show_cursor)) {
        w->cursor_hidden = !w->cursor_hidden;
        SDL_ShowCursor(w->cursor_hidden ? SDL_DISABLE : SDL_ENABLE);
    }
    return absolute;
}

static void handle_motion(struct sdl_window *w, const SDL_MouseMotionEvent *m)
{
    if (pointer_mode_absolute(w)) {
        send_pointer(w, true, m->x, m->y, 0);
    } else if (w->grabbed && (m->xrel || m->yrel)) {
        send_pointer(w, false, m->xrel, m->yrel, 0);
    }
}

static void handle_button(struct sdl_window *w, const SDL_MouseButtonEvent *b)
{
    unsigned bit = button_bit(b->button);
    bool absolute = pointer_mode_absolute(w);

    if (bit == 0) {
        return;
    }
    if (b->state == SDL_PRESSED && !absolute && !w->grabbed) {
        /* This click was for the window, not for the guest. */
        w->swallowed |= bit;
        set_grab(w, true);
        return;
    }
    if (b->state == SDL_RELEASED && (w->swallowed & bit)) {
        w->swallowed &= ~bit;
        return;
    }
    if (!absolute && !w->grabbed) {
        return;
    }
    if (b->state == SDL_PRESSED) {
        w->buttons |= bit;
    } else {
        w->buttons &= ~bit;
    }
    send_pointer(w, absolute, absolute ? b->x : 0, absolute ? b->y : 0, 0);
}

static void handle_wheel(struct sdl_window *w, const SDL_MouseWheelEvent *wheel)
{
    /* SDL: y > 0 is away from the user, as input.h's dz, unless the host flips it. */
    int dz = wheel->direction == SDL_MOUSEWHEEL_FLIPPED ? -wheel->y : wheel->y;
    bool absolute = pointer_mode_absolute(w);
    int x, y;

    if (dz == 0 || (!absolute && !w->grabbed)) {
        return;
    }
    if (absolute) {
        SDL_GetMouseState(&x, &y);
        send_pointer(w, true, x, y, dz);
    } else {
        send_pointer(w, false, 0, 0, dz);
    }
}

/*
 * The window's close button. QEMU quits by default; a device model that exits under Xen
 * leaves its domain without devices (libxl then destroys it): a click would pull the plug
 * on a running guest. We press the guest's ACPI power button instead, as QMP
 * system_powerdown (and QEMU's own -no-quit) do, so the guest shuts down cleanly and xl
 * sees an ordinary shutdown; window-close=off ignores the button, as in QEMU.
 */
static void handle_close(struct sdl_window *w)
{
    struct input_msg msg = {.kind = MSG_CLOSE};

    if (w->close_powers_down) {
        queue_input(w, &msg);
    }
}

static void render(struct sdl_window *w)
{
    SDL_SetRenderDrawColor(w->renderer, 0, 0, 0, 255);
    SDL_RenderClear(w->renderer);
    if (w->texture) {
        SDL_RenderCopy(w->renderer, w->texture, NULL, NULL);
    }
    SDL_RenderPresent(w->renderer);
}

/* UI thread, under w->lock: a texture (and the window) of the frame's size. */
static bool texture_fit(struct sdl_window *w)
{
    SDL_Texture *texture;

    if (w->texture && w->texture_width == w->frame_width &&
        w->texture_height == w->frame_height) {
        return true;
    }
    texture = SDL_CreateTexture(w->renderer, SDL_PIXELFORMAT_XRGB8888,
                                SDL_TEXTUREACCESS_STREAMING, w->frame_width, w->frame_height);
    if (!texture) {
        log_warn("-display sdl: no %dx%d texture: %s", w->frame_width, w->frame_height,
                 SDL_GetError());
        return false;
    }
    if (w->texture) {
        SDL_DestroyTexture(w->texture);
    }
    w->texture = texture;
    w->texture_width = w->frame_width;
    w->texture_height = w->frame_height;
    SDL_SetWindowSize(w->window, w->frame_width, w->frame_height);
    return true;
}

static void handle_frame(struct sdl_window *w)
{
    g_mutex_lock(&w->lock);
    w->frame_wake_pending = false;
    if (w->frame && texture_fit(w) && w->dirty_x0 < w->dirty_x1 && w->dirty_y0 < w->dirty_y1) {
        SDL_Rect rect = {w->dirty_x0, w->dirty_y0, w->dirty_x1 - w->dirty_x0,
                         w->dirty_y1 - w->dirty_y0};
        const uint32_t *pixels = &w->frame[(size_t)rect.y * w->frame_width + rect.x];
        if (SDL_UpdateTexture(w->texture, &rect, pixels, w->frame_width * 4) < 0) {
            log_warn("-display sdl: texture update: %s", SDL_GetError());
        }
    }
    w->frame_resized = false;
    w->dirty_x0 = w->dirty_y0 = INT32_MAX;
    w->dirty_x1 = w->dirty_y1 = 0;
    g_mutex_unlock(&w->lock);
    render(w);
}

static void handle_snapshot(struct sdl_window *w)
{
    int width = 0, height = 0;
    uint32_t *pixels = NULL;

    render(w);
    if (SDL_GetRendererOutputSize(w->renderer, &width, &height) == 0 && width > 0 &&
        height > 0) {
        pixels = g_malloc((size_t)width * height * 4);
        if (SDL_RenderReadPixels(w->renderer, NULL, SDL_PIXELFORMAT_XRGB8888, pixels,
                                 width * 4) < 0) {
            log_warn("-display sdl: read back: %s", SDL_GetError());
            g_clear_pointer(&pixels, g_free);
        }
    }
    g_mutex_lock(&w->lock);
    w->snapshot = pixels;
    w->snapshot_width = width;
    w->snapshot_height = height;
    w->snapshot_done = true;
    g_cond_broadcast(&w->cond);
    g_mutex_unlock(&w->lock);
}

static void handle_window_event(struct sdl_window *w, const SDL_WindowEvent *we)
{
    switch (we->event) {
    case SDL_WINDOWEVENT_CLOSE:
        handle_close(w);
        break;
    case SDL_WINDOWEVENT_FOCUS_LOST:
        release_all_keys(w);
        set_grab(w, false);
        break;
    case SDL_WINDOWEVENT_EXPOSED:
    case SDL_WINDOWEVENT_SIZE_CHANGED:
        render(w);
        break;
    default:
        break;
    }
}

/* One event; false when the window must go. */
static bool handle_event(struct sdl_window *w, const SDL_Event *ev)
{
    if (ev->type == w->request_event) {
        switch (ev->user.code) {
        case UI_FRAME:
            handle_frame(w);
            break;
        case UI_SNAPSHOT:
            handle_snapshot(w);
            break;
        case UI_STOP:
            return false;
        }
        return true;
    }
    switch (ev->type) {
    case SDL_KEYDOWN:
    case SDL_KEYUP:
        handle_key(w, &ev->key);
        break;
    case SDL_MOUSEMOTION:
        handle_motion(w, &ev->motion);
        break;
    case SDL_MOUSEBUTTONDOWN:
    case SDL_MOUSEBUTTONUP:
        handle_button(w, &ev->button);
        break;
    case SDL_MOUSEWHEEL:
        handle_wheel(w, &ev->wheel);
        break;
    case SDL_WINDOWEVENT:
        handle_window_event(w, &ev->window);
        break;
    case SDL_QUIT: /* the session asks us to go (last-window quit is off): as the close button */
        handle_close(w);
        break;
    default:
        break;
    }
    return true;
}

/* Drivers that show nothing to anyone: SDL 2.26 falls back to offscreen when all else fails. */
static bool driver_is_invisible(const char *name)
{
    return strcmp(name, "offscreen") == 0 || strcmp(name, "dummy") == 0 ||
           strcmp(name, "evdev") == 0;
}

/*
 * SDL's video on a display someone can see. Asked for by name (SDL_VIDEODRIVER, as the
 * tests do), any driver goes; otherwise the drivers SDL would try, minus the invisible ones,
 * so that a dom0 without X or Wayland refuses -display sdl instead of running a window
 * nobody sees. *error: each driver's reason.
 */
static bool video_init(char **error)
{
    const char *asked = SDL_GetHint(SDL_HINT_VIDEODRIVER); /* the environment's too */
    GString *why = g_string_new(NULL);

    if (asked && *asked) {
        if (SDL_InitSubSystem(SDL_INIT_VIDEO) == 0) {
            g_string_free(why, TRUE);
            return true;
        }
        *error = g_strdup(SDL_GetError());
        g_string_free(why, TRUE);
        return false;
    }
    for (int i = 0; i < SDL_GetNumVideoDrivers(); i++) {
        const char *name = SDL_GetVideoDriver(i);
        if (!name || driver_is_invisible(name)) {
            continue;
        }
        SDL_SetHint(SDL_HINT_VIDEODRIVER, name);
        if (SDL_InitSubSystem(SDL_INIT_VIDEO) == 0) {
            g_string_free(why, TRUE);
            return true;
        }
        g_string_append_printf(why, "%s%s: %s", why->len ? "; " : "", name, SDL_GetError());
    }
    SDL_SetHint(SDL_HINT_VIDEODRIVER, NULL);
    *error = g_strdup_printf("no display to show a window on (%s%s)",
                             !g_getenv("DISPLAY") && !g_getenv("WAYLAND_DISPLAY")
                                 ? "DISPLAY and WAYLAND_DISPLAY are unset; " : "",
                             why->len ? why->str : "SDL has no video driver");
    g_string_free(why, TRUE);
    return false;
}

/* SDL's error when the window cannot exist; NULL when it does. */
static char *ui_open(struct sdl_window *w)
{
    char *error = NULL;

    /* xendm handles SIGINT/SIGTERM/SIGHUP itself; SDL must not turn them into SDL_QUIT. */
    SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
    /* The close button is ours to interpret (handle_close), not a reason to quit. */
    SDL_SetHint(SDL_HINT_QUIT_ON_LAST_WINDOW_CLOSE, "0");
    /* While grabbed, Alt-Tab and friends belong to the guest. */
    SDL_SetHint(SDL_HINT_GRAB_KEYBOARD, "1");
    SDL_SetHint(SDL_HINT_VIDEO_ALLOW_SCREENSAVER, "1");
    if (!video_init(&error)) {
        return error;
    }
    w->request_event = SDL_RegisterEvents(1);
    w->window = SDL_CreateWindow("QEMU", SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED,
                                 DISPLAY_DEFAULT_WIDTH, DISPLAY_DEFAULT_HEIGHT,
                                 SDL_WINDOW_RESIZABLE);
    if (!w->window || w->request_event == (Uint32)-1) {
        return g_strdup(SDL_GetError());
    }
    /* A GPU renderer when there is one, SDL's software renderer otherwise. */
    w->renderer = SDL_CreateRenderer(w->window, -1, 0);
    if (!w->renderer) {
        w->renderer = SDL_CreateRenderer(w->window, -1, SDL_RENDERER_SOFTWARE);
    }
    if (!w->renderer) {
        return g_strdup(SDL_GetError());
    }
    update_title(w);
    render(w); /* black until the console's first frame */
    g_mutex_lock(&w->lock);
    w->window_id = SDL_GetWindowID(w->window);
    g_mutex_unlock(&w->lock);
    return NULL;
}

static void ui_close(struct sdl_window *w)
{
    if (w->texture) {
        SDL_DestroyTexture(w->texture);
    }
    if (w->renderer) {
        SDL_DestroyRenderer(w->renderer);
    }
    if (w->window) {
        SDL_DestroyWindow(w->window);
    }
    SDL_QuitSubSystem(SDL_INIT_VIDEO);
    SDL_Quit();
}

static gpointer ui_thread(gpointer opaque)
{
    struct sdl_window *w = opaque;
    char *error = ui_open(w);
    SDL_Event ev;

    g_mutex_lock(&w->lock);
    w->init_error = error;
    w->init_done = true;
    g_cond_broadcast(&w->cond);
    g_mutex_unlock(&w->lock);

    while (!error) {
        if (!SDL_WaitEvent(&ev)) {
            /* Only a broken SDL fails here; do not spin on it. */
            log_warn("-display sdl: waiting for events: %s", SDL_GetError());
            g_usleep(100 * 1000);
            continue;
        }
        g_mutex_lock(&w->lock);
        w->wakeups++;
        g_mutex_unlock(&w->lock);
        if (!handle_event(w, &ev)) {
            break;
        }
    }
    ui_close(w);
    return NULL;
}

/* ---- start and stop (event-loop thread) ---- */

static bool parse_options(struct sdl_window *w, const struct kv_list *opts, GError **err)
{
    for (size_t i = 0; opts && i < opts->count; i++) {
        const char *key = opts->pairs[i].key, *value = opts->pairs[i].value;
        bool *flag = NULL;

        if (strcmp(key, "display") == 0) {
            continue;
        } else if (strcmp(key, "window-close") == 0) {
            flag = &w->close_powers_down;
        } else if (strcmp(key, "show-cursor") == 0) {
            flag = &w->show_cursor;
        } else if (strcmp(key, "gl") == 0 && strcmp(value, "off") == 0) {
            continue;
        } else {
            g_set_error(err, sdl_error_quark(), 0, "-display sdl: unsupported option '%s=%s'",
                        key, value);
            return false;
        }
        if (strcmp(value, "on") == 0 || strcmp(value, "yes") == 0 || strcmp(value, "true") == 0) {
            *flag = true;
        } else if (strcmp(value, "off") == 0 || strcmp(value, "no") == 0 ||
                   strcmp(value, "false") == 0) {
            *flag = false;
        } else {
            g_set_error(err, sdl_error_quark(), 0, "-display sdl: %s: 'on' or 'off', not '%s'",
                        key, value);
            return false;
        }
    }
    return true;
}

static void window_free(struct sdl_window *w)
{
    g_queue_clear_full(&w->input_queue, g_free);
    g_free(w->frame);
    g_free(w->title);
    g_free(w->snapshot);
    g_free(w->init_error);
    g_free(w->guest_name);
    if (w->main_ctx) {
        g_main_context_unref(w->main_ctx);
    }
    g_mutex_clear(&w->lock);
    g_cond_clear(&w->cond);
    g_free(w);
}

bool sdl_display_start(const struct kv_list *opts, GError **err)
{
    struct sdl_window *w;
    GError *thread_err = NULL;

    if (active_window) {
        g_set_error(err, sdl_error_quark(), 0, "-display sdl: a window is open already");
        return false;
    }
    w = g_new0(struct sdl_window, 1);
    g_mutex_init(&w->lock);
    g_cond_init(&w->cond);
    g_queue_init(&w->input_queue);
    w->close_powers_down = true;
    w->dirty_x0 = w->dirty_y0 = INT32_MAX;
    w->guest_name = g_strdup(guest_info.name);
    w->main_ctx = g_main_context_ref_thread_default();
    w->pointer_absolute = input_pointer_is_absolute();
    if (!parse_options(w, opts, err)) {
        goto fail;
    }
    w->thread = g_thread_try_new("sdl-ui", ui_thread, w, &thread_err);
    if (!w->thread) {
        g_set_error(err, sdl_error_quark(), 0, "-display sdl: %s", thread_err->message);
        g_error_free(thread_err);
        goto fail;
    }
    g_mutex_lock(&w->lock);
    while (!w->init_done) {
        g_cond_wait(&w->cond, &w->lock);
    }
    g_mutex_unlock(&w->lock);
    if (w->init_error) {
        g_thread_join(w->thread);
        g_set_error(err, sdl_error_quark(), 0, "-display sdl: %s", w->init_error);
        goto fail;
    }
    active_window = w;
    w->con = display_console_first();
    if (w->con) {
        w->listener = (struct display_listener){
            .resize = on_console_resize, .update = on_console_update, .opaque = w};
        display_console_add_listener(w->con, &w->listener); /* draws the first frame */
    }
    log_info("-display sdl: window open (%s video, %s)", SDL_GetCurrentVideoDriver(),
             w->con ? display_console_name(w->con) : "no display device");
    return true;
fail:
    window_free(w);
    return false;
}

void sdl_display_stop(void)
{
    struct sdl_window *w = active_window;

    if (!w) {
        return;
    }
    if (w->con) {
        display_console_remove_listener(w->con, &w->listener);
    }
    active_window = NULL; /* input still queued for the event loop is dropped */
    push_request(w, UI_STOP);
    g_thread_join(w->thread);
    window_free(w);
}

/* ---- for tests (tests/unit/test-sdl2.c declares these) ---- */

struct sdl_display_test_info {
    char *title; /* caller frees */
    uint32_t window_id;
    bool grabbed;
    uint64_t wakeups; /* events the UI thread woke for */
};

bool sdl_display_test_info(struct sdl_display_test_info *out);
uint32_t *sdl_display_test_snapshot(int *width, int *height);

bool sdl_display_test_info(struct sdl_display_test_info *out)
{
    struct sdl_window *w = active_window;

    if (!w) {
        return false;
    }
    g_mutex_lock(&w->lock);
    out->title = g_strdup(w->title);
    out->window_id = w->window_id;
    out->grabbed = w->grabbed_shown;
    out->wakeups = w->wakeups;
    g_mutex_unlock(&w->lock);
    return true;
}

/* What the window shows now, after everything pushed before it (x8r8g8b8, caller frees). */
uint32_t *sdl_display_test_snapshot(int *width, int *height)
{
    struct sdl_window *w = active_window;
    uint32_t *pixels;

    if (!w) {
        return NULL;
    }
    g_mutex_lock(&w->lock);
    w->snapshot_done = false;
    g_mutex_unlock(&w->lock);
    push_request(w, UI_SNAPSHOT);
    g_mutex_lock(&w->lock);
    while (!w->snapshot_done) {
        g_cond_wait(&w->cond, &w->lock);
    }
    pixels = g_steal_pointer(&w->snapshot);
    *width = w->snapshot_width;
    *height = w->snapshot_height;
    g_mutex_unlock(&w->lock);
    return pixels;
}
