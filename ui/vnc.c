/*
 * The VNC server: -vnc HOST:D[,password=on][,to=N][,share=...] | unix:PATH, on libvncserver.
 *
 * What a viewer gets: display_console_first()'s picture (a 640x480 black screen without a
 * display), following its size through the DesktopSize pseudo-encoding; RFB 3.3, 3.7 or 3.8 as
 * libvncserver negotiates them; the encodings it offers (raw, copyrect, RRE, hextile, zlib,
 * tight, ZRLE, ...); auth none, or VNC auth with password=on, where nobody gets in until QMP
 * sets a password (change-vnc-password, set_password) and nobody after expire_password's time;
 * several viewers at once, with QEMU's default share policy (a viewer that asks for exclusive
 * access disconnects the others). Keys (X keysyms, US layout; or QEMU's Extended Key Event with
 * the key's XT number) and the pointer (absolute, scaled to 0..INPUT_ABS_MAX, wheel as dz) go
 * to include/xendm/input.h.
 *
 * Desktop name: "xendm (NAME)" (or "xendm" without -name). QEMU says "QEMU (NAME)"; nothing
 * in libxl or `xl vncviewer` reads the name, and a viewer's title then says which device model
 * serves the guest, which is what an administrator comparing the two wants to know.
 *
 * Threads. libvncserver runs in its threaded mode: each viewer has an input thread (reads and
 * handles its messages) and an output thread (encodes and sends updates); xendm accepts the
 * connections itself, on the event loop (a GLib watch per listening socket; a short-lived thread
 * then runs rfbNewClient, which may wait for a WebSocket request, and rfbStartOnHoldClient), so
 * that TCP, IPv6 and Unix sockets and QEMU's port search are ours.
 * Why not drive rfbProcessEvents from GLib watches on the event-loop thread instead: libvncserver
 * reads the rest of a message with blocking waits (rfbReadExact waits up to rfbMaxClientWait,
 * 20 s) and writes an update the same way, so one slow or hostile viewer would stall the event
 * loop, and with it every vCPU waiting on an ioreq. With threads the event loop never waits for
 * a viewer:
 *  - input: the viewer threads queue raw events (keysym, XT number, pointer); an idle source on
 *    the event loop translates them and calls input.h, as input.h requires;
 *  - pixels: the console's update callback copies the redrawn rectangle from the pixman image
 *    into the server's buffer and marks it modified. An output thread encoding at that moment
 *    may send a rectangle half old and half new; the mark makes it send the rectangle again at
 *    the next request, so a tear lasts one update at most;
 *  - resize: the buffer is one reservation of the largest surface (MAP_NORESERVE: pages are
 *    committed as they are used), so an output thread still encoding with the old geometry
 *    reads mapped memory, never freed memory; rfbNewFramebuffer then marks the whole screen
 *    modified and sends DesktopSize to the viewers that asked for it.
 * Idle costs no CPU: output threads wait on a condition variable, input threads sit in select()
 * on their socket (libvncserver's timeout: once a minute), the listening sockets are GLib
 * watches. (While a viewer is in the handshake, libvncserver's output thread naps in 5 ms
 * steps until it is done: that costs CPU only during a login.)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pixman.h>
#include <rfb/rfb.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vnc-keysym.h"
#include "xendm/display.h"
#include "xendm/input.h"
#include "xendm/json.h"
#include "xendm/keyval.h"
#include "xendm/log.h"
#include "xendm/trace.h"
#include "xendm/ui.h"

#define VNC_BASE_PORT 5900
#define VNC_MAX_LISTENERS 4
#define VNC_MAX_CLIENTS 32
/* VNC auth's DES key is the password's first 8 characters (RFC 6143 §7.2.2). */
#define VNC_PASSWORD_KEY_LEN 8
/* Events a viewer may have queued before the event loop takes them; beyond, they are dropped. */
#define VNC_EVENT_QUEUE_MAX 4096
/* RFB pointer mask bits (RFC 6143 §7.5.5): 1 left, 2 middle, 3 right, 4/5 wheel up/down. */
#define RFB_BUTTON_LEFT 0x01
#define RFB_BUTTON_MIDDLE 0x02
#define RFB_BUTTON_RIGHT 0x04
#define RFB_BUTTON_WHEEL_UP 0x08
#define RFB_BUTTON_WHEEL_DOWN 0x10
/* QEMU's client message 255, sub-type 0: the Extended Key Event. */
#define QEMU_MSG_EXT_KEY_EVENT 0

static GQuark vnc_error_quark(void)
{
    return g_quark_from_static_string("xendm-vnc-error");
}
#define VNC_ERROR vnc_error_quark()

enum vnc_event_kind { VNC_EVENT_KEYSYM, VNC_EVENT_XT_KEY, VNC_EVENT_POINTER };

/* What a viewer thread hands to the event loop: raw, translated there. */
struct vnc_event {
    enum vnc_event_kind kind;
    bool down;
    uint32_t code;       /* keysym, or XT number */
    uint32_t keysym;     /* XT events: the keysym sent beside the number (may be 0) */
    int x, y;            /* pointer, in framebuffer pixels */
    int buttons, prev_buttons; /* RFB masks: this event's and the viewer's previous one */
};

/* One connected viewer, for query-vnc; cl->clientData. */
struct vnc_client {
    rfbClientPtr cl;
    char host[NI_MAXHOST];
    char service[NI_MAXSERV];
    const char *family;
    int last_buttons; /* touched by the viewer's input thread only */
    struct vnc_server *server;
    int sock;
};

struct vnc_listener {
    int fd;
    guint watch;
};

struct vnc_server {
    rfbScreenInfoPtr screen;
    struct vnc_listener listeners[VNC_MAX_LISTENERS];
    size_t n_listeners;
    char *unix_path;       /* unlinked on stop */
    /* query-vnc's server part */
    char host[NI_MAXHOST];
    char service[NI_MAXSERV];
    const char *family;
    bool password_auth;
    char *desktop_name;

    /* Shared with the viewer threads. */
    GMutex lock;
    char password[VNC_PASSWORD_KEY_LEN + 1];
    bool has_password;
    int64_t expires; /* time_t after which the password is refused; INT64_MAX: never */
    GPtrArray *clients; /* struct vnc_client * */
    GArray *events;     /* struct vnc_event */
    bool drain_scheduled;
    bool events_dropped;
    unsigned setups_running; /* setup_client threads not finished */
    GCond setups_done;

    /* The picture: event-loop thread only (the viewer threads read fb through libvncserver). */
    uint8_t *fb;
    size_t fb_reserved;
    size_t fb_used;
    int width, height;
    pixman_image_t *fb_image;
    struct display_console *con;
    struct display_listener listener;
    guint drain_source;
};

static struct vnc_server *vnc;
static char *configured_name;
static char *configured_keymap;
static struct log_ratelimit unknown_key_limit;
static struct log_ratelimit accept_limit;

/* ---- libvncserver's log: into xendm's, quiet unless debugging ---- */

static void rfb_log_debug(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static void rfb_log_debug(const char *fmt, ...)
{
    va_list ap;
    g_autofree char *text = NULL;

    va_start(ap, fmt);
    text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_strchomp(text);
    TRACE(vnc_libvncserver, "%s", text);
}

/* ---- the framebuffer ---- */

static bool fb_reserve(struct vnc_server *s, GError **err)
{
    s->fb_reserved = (size_t)DISPLAY_MAX_WIDTH * DISPLAY_MAX_HEIGHT * 4;
    s->fb = mmap(NULL, s->fb_reserved, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (s->fb == MAP_FAILED) {
        s->fb = NULL;
        g_set_error(err, VNC_ERROR, errno, "VNC: cannot reserve the framebuffer: %s",
                    g_strerror(errno));
        return false;
    }
    return true;
}

/*
 * The server's buffer as a pixman image in libvncserver's default 32-bit format on a
 * little-endian host: red in the low byte (rfbInitServerFormat: redShift 0, green 8, blue 16).
 */
static void fb_set_geometry(struct vnc_server *s, int width, int height)
{
    size_t bytes = (size_t)width * height * 4;

    if (s->fb_image != NULL) {
        pixman_image_unref(s->fb_image);
    }
    s->fb_image = pixman_image_create_bits(PIXMAN_x8b8g8r8, width, height, (uint32_t *)s->fb,
                                           width * 4);
    /* Give back what a smaller mode no longer uses; a late reader sees zeros, still mapped. */
    if (bytes < s->fb_used) {
        size_t start = (bytes + 4095) & ~(size_t)4095;
        if (start < s->fb_used) {
            madvise(s->fb + start, s->fb_used - start, MADV_DONTNEED);
        }
    }
    s->fb_used = bytes;
    s->width = width;
    s->height = height;
}

static void fb_copy(struct vnc_server *s, int x, int y, int w, int h)
{
    pixman_image_t *src;

    if (s->con == NULL) {
        return;
    }
    src = (pixman_image_t *)display_console_image(s->con);
    if (x < 0) {
        w += x;
        x = 0;
    }
    if (y < 0) {
        h += y;
        y = 0;
    }
    w = MIN(w, MIN(s->width, pixman_image_get_width(src)) - x);
    h = MIN(h, MIN(s->height, pixman_image_get_height(src)) - y);
    if (w <= 0 || h <= 0) {
        return;
    }
    pixman_image_composite32(PIXMAN_OP_SRC, src, NULL, s->fb_image, x, y, 0, 0, x, y, w, h);
    rfbMarkRectAsModified(s->screen, x, y, x + w, y + h);
}

static void on_console_resize(void *opaque, int width, int height)
{
    struct vnc_server *s = opaque;

    if (width <= 0 || height <= 0 || width > DISPLAY_MAX_WIDTH || height > DISPLAY_MAX_HEIGHT) {
        return;
    }
    TRACE(vnc_resize, "%dx%d", width, height);
    fb_set_geometry(s, width, height);
    pixman_image_composite32(PIXMAN_OP_SRC,
                             (pixman_image_t *)display_console_image(s->con), NULL,
                             s->fb_image, 0, 0, 0, 0, 0, 0, width, height);
    /* Marks everything modified and queues DesktopSize for the viewers that speak it. */
    rfbNewFramebuffer(s->screen, (char *)s->fb, width, height, 8, 3, 4);
}

static void on_console_update(void *opaque, int x, int y, int width, int height)
{
    fb_copy(opaque, x, y, width, height);
}

/* ---- input: viewer threads queue, the event loop delivers ---- */

static unsigned rfb_buttons_to_input(int mask)
{
    return ((mask & RFB_BUTTON_LEFT) ? INPUT_BUTTON_LEFT : 0) |
           ((mask & RFB_BUTTON_MIDDLE) ? INPUT_BUTTON_MIDDLE : 0) |
           ((mask & RFB_BUTTON_RIGHT) ? INPUT_BUTTON_RIGHT : 0);
}

/* Position in pixels -> 0..INPUT_ABS_MAX over the framebuffer's extent. */
static int scale_axis(int pos, int size)
{
    if (size <= 1 || pos <= 0) {
        return 0;
    }
    if (pos >= size - 1) {
        return INPUT_ABS_MAX;
    }
    return (int)((int64_t)pos * INPUT_ABS_MAX / (size - 1));
}

static void deliver_key(unsigned key, bool down, uint32_t keysym)
{
    TRACE(vnc_key, "keysym=0x%x key=%u down=%d", keysym, key, down);
    if (key == 0) {
        log_limited(&unknown_key_limit, "VNC: no key for keysym 0x%x: ignored", keysym);
        return;
    }
    input_key_event(key, down);
}

static void deliver_event(struct vnc_server *s, const struct vnc_event *ev)
{
    switch (ev->kind) {
    case VNC_EVENT_KEYSYM:
        deliver_key(vnc_keysym_to_evdev_us(ev->code), ev->down, ev->code);
        break;
    case VNC_EVENT_XT_KEY: {
        unsigned key = vnc_xt_to_evdev(ev->code);
        /* A number we do not know: the keysym beside it is the next best thing. */
        deliver_key(key ? key : vnc_keysym_to_evdev_us(ev->keysym), ev->down, ev->keysym);
        break;
    }
    case VNC_EVENT_POINTER: {
        int pressed = ev->buttons & ~ev->prev_buttons;
        int dz = ((pressed & RFB_BUTTON_WHEEL_UP) ? 1 : 0) -
                 ((pressed & RFB_BUTTON_WHEEL_DOWN) ? 1 : 0);
        int x = scale_axis(ev->x, s->width), y = scale_axis(ev->y, s->height);
        TRACE(vnc_pointer, "x=%d y=%d buttons=0x%x dz=%d", x, y, ev->buttons, dz);
        input_pointer_abs_event(x, y, dz, rfb_buttons_to_input(ev->buttons));
        break;
    }
    }
}

static gboolean drain_events(gpointer opaque)
{
    struct vnc_server *s = opaque;
    GArray *batch;
    bool dropped;

    g_mutex_lock(&s->lock);
    batch = s->events;
    s->events = g_array_new(FALSE, FALSE, sizeof(struct vnc_event));
    s->drain_scheduled = false;
    s->drain_source = 0;
    dropped = s->events_dropped;
    s->events_dropped = false;
    g_mutex_unlock(&s->lock);

    if (dropped) {
        log_msg(LOG_LEVEL_WARN, "VNC: a viewer sent more than %u events at once: some dropped",
                VNC_EVENT_QUEUE_MAX);
    }
    for (guint i = 0; i < batch->len; i++) {
        deliver_event(s, &g_array_index(batch, struct vnc_event, i));
    }
    g_array_free(batch, TRUE);
    return G_SOURCE_REMOVE;
}

/* Any thread. g_idle_add wakes the default context safely from another thread. */
static void queue_event(struct vnc_server *s, const struct vnc_event *ev)
{
    g_mutex_lock(&s->lock);
    if (s->events->len >= VNC_EVENT_QUEUE_MAX) {
        s->events_dropped = true;
    } else {
        g_array_append_val(s->events, *ev);
    }
    if (!s->drain_scheduled) {
        s->drain_scheduled = true;
        s->drain_source = g_idle_add(drain_events, s);
    }
    g_mutex_unlock(&s->lock);
}

static void on_rfb_key(rfbBool down, rfbKeySym keysym, rfbClientPtr cl)
{
    struct vnc_event ev = {.kind = VNC_EVENT_KEYSYM, .down = down, .code = keysym};

    queue_event(cl->screen->screenData, &ev);
}

static void on_rfb_pointer(int mask, int x, int y, rfbClientPtr cl)
{
    struct vnc_client *c = cl->clientData;
    struct vnc_event ev = {.kind = VNC_EVENT_POINTER, .x = x, .y = y, .buttons = mask};

    if (c != NULL) {
        ev.prev_buttons = c->last_buttons;
        c->last_buttons = mask;
    }
    queue_event(cl->screen->screenData, &ev);
}

/* A viewer's clipboard is not the guest's business (no agent to give it to): ignored.
 * libvncserver refuses a length above 1 MiB before allocating (CVE-2018-7225). */
static void on_rfb_cut_text(char *text, int len, rfbClientPtr cl)
{
    (void)text;
    (void)len;
    (void)cl;
}

/* ---- QEMU's Extended Key Event (pseudo-encoding -258, client message 255/0) ---- */

static int ext_key_encodings[] = {(int)rfbEncodingQemuExtendedKeyEvent, 0};

/*
 * The viewer listed -258 in SetEncodings: acknowledge with a FramebufferUpdate holding one
 * rectangle of that encoding, as QEMU does; the viewer then sends message 255/0.
 */
static rfbBool ext_key_enable(rfbClientPtr cl, void **data, int encoding)
{
    uint8_t msg[4 + 12] = {rfbFramebufferUpdate, 0, 0, 1};
    uint32_t enc = (uint32_t)rfbEncodingQemuExtendedKeyEvent;
    uint16_t w = (uint16_t)cl->screen->width, h = (uint16_t)cl->screen->height;

    (void)data;
    if ((uint32_t)encoding != enc) {
        return FALSE;
    }
    /* x = y = 0, then width, height, encoding, big-endian (RFC 6143 §7.6.1). */
    msg[8] = w >> 8;
    msg[9] = w & 0xff;
    msg[10] = h >> 8;
    msg[11] = h & 0xff;
    msg[12] = enc >> 24;
    msg[13] = (enc >> 16) & 0xff;
    msg[14] = (enc >> 8) & 0xff;
    msg[15] = enc & 0xff;
    /* The output thread sends under sendMutex too: the two messages never interleave. */
    LOCK(cl->sendMutex);
    if (rfbWriteExact(cl, (const char *)msg, sizeof(msg)) < 0) {
        rfbCloseClient(cl);
    }
    UNLOCK(cl->sendMutex);
    return TRUE;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static rfbBool ext_key_message(rfbClientPtr cl, void *data, const rfbClientToServerMsg *message)
{
    uint8_t rest[sz_rfbQemuExtendedKeyEventMsg - 1];
    struct vnc_event ev = {.kind = VNC_EVENT_XT_KEY};

    (void)data;
    if (message->type != rfbQemuEvent) {
        return FALSE;
    }
    if (rfbReadExact(cl, (char *)rest, 1) <= 0) {
        rfbCloseClient(cl);
        return TRUE;
    }
    if (rest[0] != QEMU_MSG_EXT_KEY_EVENT) {
        /* Other sub-types (audio) have lengths we do not know: the stream is lost. */
        rfbLog("VNC: QEMU client message sub-type %u not supported\n", rest[0]);
        rfbCloseClient(cl);
        return TRUE;
    }
    if (rfbReadExact(cl, (char *)rest + 1, sizeof(rest) - 1) <= 0) {
        rfbCloseClient(cl);
        return TRUE;
    }
    ev.down = ((rest[1] << 8) | rest[2]) != 0;
    ev.keysym = be32(rest + 3);
    ev.code = be32(rest + 7);
    queue_event(cl->screen->screenData, &ev);
    return TRUE;
}

static rfbProtocolExtension ext_key_extension = {
    .pseudoEncodings = ext_key_encodings,
    .enablePseudoEncoding = ext_key_enable,
    .handleMessage = ext_key_message,
};
static bool ext_key_registered;

/* ---- VNC auth ---- */

static rfbBool check_password(rfbClientPtr cl, const char *response, int len)
{
    struct vnc_server *s = cl->screen->screenData;
    char key[VNC_PASSWORD_KEY_LEN + 1];
    uint8_t expected[CHALLENGESIZE];
    uint8_t diff = 0;
    bool usable;

    g_mutex_lock(&s->lock);
    /* As QEMU: refused without a password, and once `expires` has passed. */
    usable = s->has_password && s->expires >= (int64_t)time(NULL);
    memcpy(key, s->password, sizeof(key));
    g_mutex_unlock(&s->lock);
    if (!usable || len != CHALLENGESIZE) {
        rfbLog("VNC: authentication refused for %s (%s)\n", cl->host,
               usable ? "bad response" : "no password set, or expired");
        explicit_bzero(key, sizeof(key));
        return FALSE;
    }
    memcpy(expected, cl->authChallenge, CHALLENGESIZE);
    rfbEncryptBytes(expected, key);
    explicit_bzero(key, sizeof(key));
    for (int i = 0; i < CHALLENGESIZE; i++) {
        diff |= expected[i] ^ (uint8_t)response[i];
    }
    if (diff != 0) {
        log_msg(LOG_LEVEL_WARN, "VNC: wrong password from %s", cl->host);
    }
    return diff == 0;
}

/* ---- viewers ---- */

/*
 * libvncserver 0.9.14 frees neither a client's extension records when it goes nor the record in
 * rfbDisableExtension: ours (data NULL) are unlinked and freed here.
 */
static void forget_extensions(rfbClientPtr cl)
{
    rfbExtensionData **link = &cl->extensions;

    while (*link != NULL) {
        rfbExtensionData *e = *link;
        if (e->extension == &ext_key_extension) {
            *link = e->next;
            free(e);
        } else {
            link = &e->next;
        }
    }
}

static void on_client_gone(rfbClientPtr cl)
{
    struct vnc_server *s = cl->screen->screenData;
    struct vnc_client *c = cl->clientData;

    forget_extensions(cl);
    if (c == NULL) {
        return;
    }
    g_mutex_lock(&s->lock);
    g_ptr_array_remove(s->clients, c);
    g_mutex_unlock(&s->lock);
    cl->clientData = NULL;
    g_free(c);
}

/*
 * The record of the connection being set up by this thread's rfbNewClient: handed to the
 * new-client hook, which runs inside it.
 */
static __thread struct vnc_client *accepting;

static enum rfbNewClientAction on_new_client(rfbClientPtr cl)
{
    struct vnc_server *s = cl->screen->screenData;
    struct vnc_client *c = accepting;

    accepting = NULL;
    if (c == NULL) {
        return RFB_CLIENT_REFUSE;
    }
    c->cl = cl;
    cl->clientData = c;
    cl->clientGoneHook = on_client_gone;
    g_mutex_lock(&s->lock);
    g_ptr_array_add(s->clients, c);
    g_mutex_unlock(&s->lock);
    return RFB_CLIENT_ACCEPT;
}

static const char *family_name(int family)
{
    switch (family) {
    case AF_INET:
        return "ipv4";
    case AF_INET6:
        return "ipv6";
    case AF_UNIX:
        return "unix";
    default:
        return "unknown";
    }
}

/* Host and service of a socket address, numeric; a Unix socket's are "" and its path. */
static void describe_address(const struct sockaddr_storage *addr, socklen_t len, char *host,
                             size_t host_len, char *service, size_t service_len)
{
    host[0] = service[0] = '\0';
    if (addr->ss_family == AF_UNIX) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)addr;
        size_t path_len = len > offsetof(struct sockaddr_un, sun_path)
                              ? len - offsetof(struct sockaddr_un, sun_path) : 0;
        g_strlcpy(service, un->sun_path, MIN(service_len, path_len + 1));
        return;
    }
    if (getnameinfo((const struct sockaddr *)addr, len, host, host_len, service, service_len,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        host[0] = service[0] = '\0';
    }
}

/*
 * A new connection's set-up, on a thread of its own: rfbNewClient sends the ProtocolVersion
 * and then waits up to 100 ms for a WebSocket request before it settles on plain RFB, and
 * longer if the peer starts one. The event loop must not wait for that.
 */
static gpointer setup_client(gpointer opaque)
{
    struct vnc_client *c = opaque;
    struct vnc_server *s = c->server;
    rfbClientPtr cl;

    accepting = c;
    cl = rfbNewClient(s->screen, c->sock); /* calls on_new_client */
    if (accepting != NULL) {
        /* rfbNewClient failed before the hook (and closed the socket). */
        accepting = NULL;
        g_free(c);
    } else if (cl != NULL && !cl->onHold) {
        rfbStartOnHoldClient(cl); /* the viewer's input and output threads */
    }
    g_mutex_lock(&s->lock);
    s->setups_running--;
    g_cond_broadcast(&s->setups_done);
    g_mutex_unlock(&s->lock);
    return NULL;
}

static gboolean on_listen_ready(gint fd, GIOCondition cond, gpointer opaque)
{
    struct vnc_server *s = opaque;
    struct sockaddr_storage peer;
    socklen_t len = sizeof(peer);
    struct vnc_client *c;
    GThread *thread;
    GError *err = NULL;
    int sock;

    (void)cond;
    memset(&peer, 0, sizeof(peer));
    sock = accept4(fd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
    if (sock < 0) {
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
            log_limited(&accept_limit, "VNC: accept: %s", g_strerror(errno));
        }
        return G_SOURCE_CONTINUE;
    }
    /* libvncserver's threads select() on the socket: an fd_set holds FD_SETSIZE descriptors. */
    g_mutex_lock(&s->lock);
    if (sock >= FD_SETSIZE || s->clients->len + s->setups_running >= VNC_MAX_CLIENTS) {
        g_mutex_unlock(&s->lock);
        log_limited(&accept_limit, "VNC: too many viewers: connection refused");
        close(sock);
        return G_SOURCE_CONTINUE;
    }
    s->setups_running++;
    g_mutex_unlock(&s->lock);
    c = g_new0(struct vnc_client, 1);
    c->server = s;
    c->sock = sock;
    c->family = family_name(peer.ss_family);
    describe_address(&peer, len, c->host, sizeof(c->host), c->service, sizeof(c->service));
    thread = g_thread_try_new("vnc-setup", setup_client, c, &err);
    if (thread == NULL) {
        log_limited(&accept_limit, "VNC: %s", err->message);
        g_error_free(err);
        close(sock);
        g_free(c);
        g_mutex_lock(&s->lock);
        s->setups_running--;
        g_mutex_unlock(&s->lock);
        return G_SOURCE_CONTINUE;
    }
    g_thread_unref(thread);
    return G_SOURCE_CONTINUE;
}

/* ---- listening: -vnc's display ---- */

struct vnc_options {
    bool password;
    bool has_to;
    uint64_t to;
    bool ipv4_only, ipv6_only;
    bool always_shared;
};

static bool parse_bool(const char *key, const char *value, bool *out, GError **err)
{
    if (value == NULL || !strcmp(value, "on") || !strcmp(value, "yes") ||
        !strcmp(value, "true")) {
        *out = true;
        return true;
    }
    if (!strcmp(value, "off") || !strcmp(value, "no") || !strcmp(value, "false")) {
        *out = false;
        return true;
    }
    g_set_error(err, VNC_ERROR, EINVAL, "-vnc: %s=%s: expected on or off", key, value);
    return false;
}

static bool parse_share(const char *value, bool *always_shared, GError **err)
{
    /* allow-exclusive (QEMU's default): an exclusive viewer disconnects the others; the two
     * others let everybody in side by side, which is libvncserver's alwaysShared. */
    if (value != NULL && !strcmp(value, "allow-exclusive")) {
        *always_shared = false;
        return true;
    }
    if (value != NULL && (!strcmp(value, "force-shared") || !strcmp(value, "ignore"))) {
        *always_shared = true;
        return true;
    }
    g_set_error(err, VNC_ERROR, EINVAL,
                "-vnc: share=%s: expected allow-exclusive, force-shared or ignore",
                value ? value : "");
    return false;
}

/* Options QEMU knows that change nothing here. */
static bool option_ignored(const char *key)
{
    static const char *const ignored[] = {"lossy", "non-adaptive", "key-delay-ms",
                                          "power-control", "id", "connections", NULL};
    for (size_t i = 0; ignored[i] != NULL; i++) {
        if (strcmp(key, ignored[i]) == 0) {
            return true;
        }
    }
    return false;
}

static bool parse_one_option(struct vnc_options *o, const struct kv_pair *p, GError **err)
{
    bool v4 = false, v6 = false;

    if (strcmp(p->key, "vnc") == 0 || option_ignored(p->key)) {
        return true;
    }
    if (strcmp(p->key, "password") == 0) {
        return parse_bool(p->key, p->value, &o->password, err);
    }
    if (strcmp(p->key, "to") == 0) {
        o->has_to = true;
        if (p->value == NULL || !parse_u64(p->value, false, &o->to) ||
            o->to > 65535 - VNC_BASE_PORT) {
            g_set_error(err, VNC_ERROR, EINVAL, "-vnc: to=%s: not a display number",
                        p->value ? p->value : "");
            return false;
        }
        return true;
    }
    if (strcmp(p->key, "share") == 0) {
        return parse_share(p->value, &o->always_shared, err);
    }
    if (strcmp(p->key, "ipv4") == 0) {
        bool ok = parse_bool(p->key, p->value, &v4, err);
        o->ipv4_only = ok && v4;
        return ok;
    }
    if (strcmp(p->key, "ipv6") == 0) {
        bool ok = parse_bool(p->key, p->value, &v6, err);
        o->ipv6_only = ok && v6;
        return ok;
    }
    g_set_error(err, VNC_ERROR, EINVAL,
                "-vnc: option '%s' is not supported (websocket, TLS, SASL and ACLs are not)",
                p->key);
    return false;
}

static bool parse_options(const struct kv_list *opts, struct vnc_options *o, GError **err)
{
    memset(o, 0, sizeof(*o));
    for (size_t i = 0; opts != NULL && i < opts->count; i++) {
        if (!parse_one_option(o, &opts->pairs[i], err)) {
            return false;
        }
    }
    return true;
}

static bool add_listener(struct vnc_server *s, int fd)
{
    struct vnc_listener *l;

    if (s->n_listeners == VNC_MAX_LISTENERS) {
        close(fd);
        return false;
    }
    l = &s->listeners[s->n_listeners++];
    l->fd = fd;
    l->watch = g_unix_fd_add(fd, G_IO_IN, on_listen_ready, s);
    return true;
}

static void close_listeners(struct vnc_server *s)
{
    for (size_t i = 0; i < s->n_listeners; i++) {
        if (s->listeners[i].watch != 0) {
            g_source_remove(s->listeners[i].watch);
        }
        close(s->listeners[i].fd);
    }
    s->n_listeners = 0;
}

static int listen_socket(int family, const struct sockaddr *addr, socklen_t len, int *error)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;

    if (fd < 0) {
        *error = errno;
        return -1;
    }
    if (family != AF_UNIX) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    }
    /* Each IPv6 socket serves IPv6 only, so that the IPv4 one of the same port can bind. */
    if (family == AF_INET6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    if (bind(fd, addr, len) < 0 || listen(fd, 16) < 0) {
        *error = errno;
        close(fd);
        return -1;
    }
    return fd;
}

static bool listen_unix(struct vnc_server *s, const char *path, GError **err)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    struct stat st;
    int error = 0, fd;

    if (*path == '\0' || strlen(path) >= sizeof(addr.sun_path)) {
        g_set_error(err, VNC_ERROR, EINVAL, "-vnc unix:%s: not a usable socket path", path);
        return false;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    /* A socket left by an earlier run is replaced, as QEMU does; never any other file. */
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
        unlink(path);
    }
    fd = listen_socket(AF_UNIX, (struct sockaddr *)&addr, sizeof(addr), &error);
    if (fd < 0) {
        g_set_error(err, VNC_ERROR, error, "-vnc unix:%s: %s", path, g_strerror(error));
        return false;
    }
    add_listener(s, fd);
    s->unix_path = g_strdup(path);
    s->family = "unix";
    g_strlcpy(s->service, path, sizeof(s->service));
    return true;
}

/* Binds every address of one port; false with *error = errno (EADDRINUSE: try the next). */
static bool listen_port(struct vnc_server *s, struct addrinfo *list, const struct vnc_options *o,
                        int *error)
{
    size_t before = s->n_listeners;

    for (struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
        int fd;
        if ((o->ipv4_only && ai->ai_family != AF_INET) ||
            (o->ipv6_only && ai->ai_family != AF_INET6)) {
            continue;
        }
        fd = listen_socket(ai->ai_family, ai->ai_addr, ai->ai_addrlen, error);
        if (fd < 0) {
            /* A host without IPv6 (or IPv4) still serves the other family. */
            if (*error == EAFNOSUPPORT || *error == EADDRNOTAVAIL) {
                continue;
            }
            goto fail;
        }
        if (s->n_listeners == before) {
            struct sockaddr_storage bound;
            socklen_t len = sizeof(bound);
            getsockname(fd, (struct sockaddr *)&bound, &len);
            describe_address(&bound, len, s->host, sizeof(s->host), s->service,
                             sizeof(s->service));
            s->family = family_name(ai->ai_family);
        }
        if (!add_listener(s, fd)) {
            *error = EMFILE;
            goto fail;
        }
    }
    if (s->n_listeners > before) {
        return true;
    }
    if (*error == 0) {
        *error = EADDRNOTAVAIL;
    }
fail:
    while (s->n_listeners > before) {
        struct vnc_listener *l = &s->listeners[--s->n_listeners];
        g_source_remove(l->watch);
        close(l->fd);
    }
    return false;
}

/* "HOST:D", HOST empty (every interface), a name or address, or "[v6]". */
static bool split_host_display(const char *display, char **host, uint64_t *d, GError **err)
{
    const char *colon = strrchr(display, ':');
    g_autofree char *h = NULL;

    if (colon == NULL || !parse_u64(colon + 1, false, d) || colon[1] == '\0' ||
        *d > 65535 - VNC_BASE_PORT) {
        g_set_error(err, VNC_ERROR, EINVAL,
                    "-vnc %s: expected HOST:DISPLAY (display 0 is port 5900) or unix:PATH",
                    display);
        return false;
    }
    h = g_strndup(display, (gsize)(colon - display));
    if (h[0] == '[') {
        size_t n = strlen(h);
        if (n < 2 || h[n - 1] != ']') {
            g_set_error(err, VNC_ERROR, EINVAL, "-vnc %s: unterminated [IPv6 address]", display);
            return false;
        }
        h[n - 1] = '\0';
        memmove(h, h + 1, n - 1);
    }
    *host = h[0] ? g_steal_pointer(&h) : NULL;
    return true;
}

static bool listen_tcp(struct vnc_server *s, const char *display, const struct vnc_options *o,
                       GError **err)
{
    g_autofree char *host = NULL;
    uint64_t first, last;
    int error = 0;

    if (!split_host_display(display, &host, &first, err)) {
        return false;
    }
    /* to=N: QEMU tries displays first..N when the first is taken. */
    last = o->has_to && o->to > first ? o->to : first;
    for (uint64_t d = first; d <= last; d++) {
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
        struct addrinfo *list = NULL;
        char port[8];
        int rc;

        g_snprintf(port, sizeof(port), "%u", (unsigned)(VNC_BASE_PORT + d));
        rc = getaddrinfo(host, port, &hints, &list);
        if (rc != 0) {
            g_set_error(err, VNC_ERROR, EINVAL, "-vnc %s: %s", display, gai_strerror(rc));
            return false;
        }
        error = 0;
        if (listen_port(s, list, o, &error)) {
            freeaddrinfo(list);
            return true;
        }
        freeaddrinfo(list);
        if (error != EADDRINUSE) {
            break;
        }
    }
    if (last > first) {
        g_set_error(err, VNC_ERROR, error, "-vnc %s: cannot listen on ports %u..%u: %s",
                    display, (unsigned)(VNC_BASE_PORT + first), (unsigned)(VNC_BASE_PORT + last),
                    g_strerror(error));
    } else {
        g_set_error(err, VNC_ERROR, error, "-vnc %s: cannot listen on port %u: %s", display,
                    (unsigned)(VNC_BASE_PORT + first), g_strerror(error));
    }
    return false;
}

/* ---- start and stop ---- */

bool vnc_display_configure(const char *vm_name, const char *keymap, GError **err)
{
    (void)err;
    g_free(configured_name);
    configured_name = g_strdup(vm_name);
    g_free(configured_keymap);
    configured_keymap = g_strdup(keymap);
    if (!vnc_keymap_is_us(keymap)) {
        /*
         * Debian ships no keysym table per layout outside QEMU's own data, which xendm does not
         * carry. Viewers with QEMU's Extended Key Event (TigerVNC, gtk-vnc, noVNC) send the key
         * itself and type right on any layout; others are read through the US table.
         */
        log_msg(LOG_LEVEL_WARN,
                "-k %s: VNC keys are mapped with the US layout, except from viewers that send "
                "key codes (QEMU's Extended Key Event)", keymap);
    }
    return true;
}

static void set_desktop_name(struct vnc_server *s)
{
    s->desktop_name = configured_name && *configured_name
                          ? g_strdup_printf("xendm (%s)", configured_name) : g_strdup("xendm");
    s->screen->desktopName = s->desktop_name;
}

static bool screen_init(struct vnc_server *s, const struct vnc_options *o, GError **err)
{
    int argc = 0;

    s->con = display_console_first();
    if (!fb_reserve(s, err)) {
        return false;
    }
    if (s->con != NULL) {
        pixman_image_t *img = (pixman_image_t *)display_console_image(s->con);
        fb_set_geometry(s, pixman_image_get_width(img), pixman_image_get_height(img));
    } else {
        fb_set_geometry(s, DISPLAY_DEFAULT_WIDTH, DISPLAY_DEFAULT_HEIGHT);
    }
    s->screen = rfbGetScreen(&argc, NULL, s->width, s->height, 8, 3, 4);
    if (s->screen == NULL) {
        g_set_error(err, VNC_ERROR, ENOMEM, "VNC: cannot create the server");
        return false;
    }
    s->screen->frameBuffer = (char *)s->fb;
    s->screen->screenData = s;
    s->screen->port = 0;     /* xendm listens itself */
    s->screen->ipv6port = 0;
    s->screen->autoPort = FALSE;
    s->screen->backgroundLoop = TRUE; /* rfbStartOnHoldClient starts the viewer threads */
    s->screen->cursor = NULL;         /* the guest draws its own pointer */
    s->screen->alwaysShared = o->always_shared;
    s->screen->kbdAddEvent = on_rfb_key;
    s->screen->ptrAddEvent = on_rfb_pointer;
    s->screen->setXCutText = on_rfb_cut_text;
    s->screen->newClientHook = on_new_client;
    if (o->password) {
        /* Non-NULL makes libvncserver offer VNC auth; check_password judges the answer. */
        s->screen->authPasswdData = s;
        s->screen->passwordCheck = check_password;
    }
    set_desktop_name(s);
    rfbInitServer(s->screen);
    return true;
}

static void server_free(struct vnc_server *s)
{
    close_listeners(s);
    if (s->unix_path != NULL) {
        unlink(s->unix_path);
        g_free(s->unix_path);
    }
    if (s->con != NULL) {
        display_console_remove_listener(s->con, &s->listener);
    }
    g_mutex_lock(&s->lock);
    while (s->setups_running > 0) {
        g_cond_wait(&s->setups_done, &s->lock);
    }
    g_mutex_unlock(&s->lock);
    if (s->screen != NULL) {
        rfbShutdownServer(s->screen, TRUE); /* closes the viewers, joins their threads */
        rfbScreenCleanup(s->screen);
    }
    if (s->drain_source != 0) {
        g_source_remove(s->drain_source);
    }
    if (s->fb_image != NULL) {
        pixman_image_unref(s->fb_image);
    }
    if (s->fb != NULL) {
        munmap(s->fb, s->fb_reserved);
    }
    g_ptr_array_free(s->clients, TRUE);
    g_array_free(s->events, TRUE);
    g_mutex_clear(&s->lock);
    g_cond_clear(&s->setups_done);
    g_free(s->desktop_name);
    g_free(s);
}

bool vnc_display_start(const char *display, const struct kv_list *opts, GError **err)
{
    struct vnc_server *s;
    struct vnc_options o;
    bool ok;

    if (vnc != NULL) {
        g_set_error(err, VNC_ERROR, EEXIST, "-vnc: a VNC server is already running");
        return false;
    }
    if (!parse_options(opts, &o, err)) {
        return false;
    }
    rfbLog = rfb_log_debug;
    rfbErr = rfb_log_debug;
    s = g_new0(struct vnc_server, 1);
    g_mutex_init(&s->lock);
    g_cond_init(&s->setups_done);
    s->clients = g_ptr_array_new();
    s->events = g_array_new(FALSE, FALSE, sizeof(struct vnc_event));
    s->expires = INT64_MAX;
    s->password_auth = o.password;
    s->family = "unknown";
    if (!screen_init(s, &o, err)) {
        server_free(s);
        return false;
    }
    ok = g_str_has_prefix(display, "unix:") ? listen_unix(s, display + 5, err)
                                             : listen_tcp(s, display, &o, err);
    if (!ok) {
        server_free(s);
        return false;
    }
    if (!ext_key_registered) {
        rfbRegisterProtocolExtension(&ext_key_extension);
        ext_key_registered = true;
    }
    if (s->con != NULL) {
        s->listener = (struct display_listener){.resize = on_console_resize,
                                                .update = on_console_update, .opaque = s};
        display_console_add_listener(s->con, &s->listener);
        fb_copy(s, 0, 0, s->width, s->height);
    }
    vnc = s;
    log_msg(LOG_LEVEL_INFO, "VNC server on %s%s%s (%s)", s->host, *s->host ? ":" : "",
            s->service, s->password_auth ? "VNC auth" : "no auth");
    return true;
}

void vnc_display_stop(void)
{
    if (vnc == NULL) {
        return;
    }
    server_free(vnc);
    vnc = NULL;
}

/* ---- QMP ---- */

static struct json_value *client_info(const struct vnc_client *c)
{
    struct json_value *info = json_object_new();

    json_object_set(info, "host", json_string_new(c->host));
    json_object_set(info, "service", json_string_new(c->service));
    json_object_set(info, "family", json_string_new(c->family));
    json_object_set(info, "websocket", json_bool_new(false));
    return info;
}

struct json_value *vnc_display_query(void)
{
    struct json_value *info = json_object_new();
    struct json_value *clients;

    json_object_set(info, "enabled", json_bool_new(vnc != NULL));
    if (vnc == NULL) {
        return info;
    }
    json_object_set(info, "host", json_string_new(vnc->host));
    json_object_set(info, "family", json_string_new(vnc->family));
    json_object_set(info, "service", json_string_new(vnc->service));
    json_object_set(info, "auth", json_string_new(vnc->password_auth ? "vnc" : "none"));
    clients = json_array_new();
    g_mutex_lock(&vnc->lock);
    for (guint i = 0; i < vnc->clients->len; i++) {
        json_array_append(clients, client_info(g_ptr_array_index(vnc->clients, i)));
    }
    g_mutex_unlock(&vnc->lock);
    json_object_set(info, "clients", clients);
    return info;
}

static bool password_settable(GError **err)
{
    /* QEMU's answer when there is no VNC server or it was started without password=on. */
    if (vnc == NULL || !vnc->password_auth) {
        g_set_error(err, VNC_ERROR, EINVAL, "Could not set password");
        return false;
    }
    return true;
}

bool vnc_display_set_password(const char *password, GError **err)
{
    if (!password_settable(err)) {
        return false;
    }
    g_mutex_lock(&vnc->lock);
    explicit_bzero(vnc->password, sizeof(vnc->password));
    g_strlcpy(vnc->password, password, sizeof(vnc->password)); /* the first 8 characters */
    vnc->has_password = true;
    g_mutex_unlock(&vnc->lock);
    return true;
}

bool vnc_display_expire_password(const char *when, GError **err)
{
    int64_t expires;
    uint64_t n;

    if (vnc == NULL) {
        g_set_error(err, VNC_ERROR, EINVAL, "Could not set password expire time.");
        return false;
    }
    if (strcmp(when, "now") == 0) {
        expires = 0;
    } else if (strcmp(when, "never") == 0) {
        expires = INT64_MAX;
    } else if (when[0] == '+' && parse_u64(when + 1, false, &n) && n < INT32_MAX) {
        expires = (int64_t)time(NULL) + (int64_t)n;
    } else if (parse_u64(when, false, &n) && n < INT64_MAX) {
        expires = (int64_t)n;
    } else {
        g_set_error(err, VNC_ERROR, EINVAL, "Invalid parameter 'time'");
        return false;
    }
    g_mutex_lock(&vnc->lock);
    vnc->expires = expires;
    g_mutex_unlock(&vnc->lock);
    return true;
}
