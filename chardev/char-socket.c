/*
 * The socket chardev: a Unix stream socket, as a server (path= or a pre-opened listening
 * fd=N) or a client (connect to path=).
 *
 * A server talks to one client at a time. While a client is connected the listening socket
 * is not watched, so a second client waits in the kernel's backlog until the first leaves.
 * While nobody is connected, output is dropped, like a UART's line with nothing attached.
 */
#include "chardev-internal.h"

#include <fcntl.h>
#include <limits.h>
#include <glib-unix.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "xendm/common.h"
#include "xendm/log.h"

static GQuark socket_error_quark(void)
{
    return g_quark_from_static_string("xendm-chardev-socket-error");
}

#define SOCKET_ERROR socket_error_quark()

static void socket_update_filename(struct chardev *chr)
{
    bool connected = chr->in_fd >= 0;
    char *name;

    if (chr->socket_path) {
        name = g_strdup_printf("%sunix:%s%s", connected ? "" : "disconnected:", chr->socket_path,
                               chr->socket_server ? ",server=on" : "");
    } else {
        name = g_strdup_printf("%sunix:fd,server=on", connected ? "" : "disconnected:");
    }
    chardev_set_filename(chr, name);
    g_free(name);
}

/* How long the listener rests after accept() failed for lack of resources (EMFILE, ENOBUFS). */
#define SOCKET_ACCEPT_RETRY_SECONDS 1

static gboolean socket_accept_ready(gint fd, GIOCondition cond, gpointer opaque);

static void socket_watch_listener(struct chardev *chr)
{
    if (chr->listen_fd >= 0 && !chr->listen_source && !chr->retry_source)
        chr->listen_source = g_unix_fd_add(chr->listen_fd, G_IO_IN, socket_accept_ready, chr);
}

static void socket_attach_client(struct chardev *chr, int fd)
{
    chr->in_fd = fd;
    chr->out_fd = fd;
    chr->out_is_socket = true;
    chr->in_takes_fds = true; /* QMP add-fd: the peer passes files with SCM_RIGHTS */
    chr->connected = true;
    socket_update_filename(chr);
    /* Before input flows: a protocol frontend greets its new peer first. */
    chardev_report_event(chr, CHARDEV_EVENT_OPENED);
    chardev_accept_input(chr);
}

static void socket_disconnect(struct chardev *chr)
{
    chardev_stop_input(chr);
    chardev_stop_output_watch(chr);
    chr->out_fd = -1;
    chardev_close_fd(&chr->in_fd);
    chardev_drop_received_fds(chr); /* passed with a session that is over */
    chr->connected = false;
    socket_update_filename(chr);
    /* A server listens again for the next client; a client stays disconnected. */
    socket_watch_listener(chr);
    chardev_report_event(chr, CHARDEV_EVENT_CLOSED);
}

/* Errors after which the pending connection is still there: accepting again at once would fail. */
static bool socket_accept_error_persists(int error)
{
    return error != EAGAIN && error != EWOULDBLOCK && error != EINTR && error != ECONNABORTED;
}

/* Accepts one pending client; false when none is pending (or accept failed, errno says why). */
static bool socket_accept_one(struct chardev *chr)
{
    int fd = accept4(chr->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

    if (fd < 0) {
        int error = errno;
        if (socket_accept_error_persists(error))
            log_warn("chardev '%s': accept: %s", chr->id, g_strerror(error));
        errno = error;
        return false;
    }
    socket_attach_client(chr, fd);
    return true;
}

static gboolean socket_accept_retry(gpointer opaque)
{
    struct chardev *chr = opaque;

    chr->retry_source = 0;
    socket_watch_listener(chr);
    return G_SOURCE_REMOVE;
}

static gboolean socket_accept_ready(gint fd, GIOCondition cond, gpointer opaque)
{
    struct chardev *chr = opaque;
    guint self = chr->listen_source;

    /*
     * One client at a time: this watch ends if a client is accepted. Cleared first because the
     * frontend hears OPENED from inside the accept and may lose the client at once (its first
     * write fails); the disconnect then re-arms the listener, which must see no watch here.
     */
    chr->listen_source = 0;
    if (socket_accept_one(chr))
        return G_SOURCE_REMOVE;
    if (!socket_accept_error_persists(errno)) {
        chr->listen_source = self;
        return G_SOURCE_CONTINUE;
    }
    /*
     * Out of fds or memory: the client stays in the backlog and the listening socket stays
     * readable, so watching it now would spin the loop (and the log). Look again later.
     */
    if (!chr->retry_source)
        chr->retry_source = g_timeout_add_seconds(SOCKET_ACCEPT_RETRY_SECONDS,
                                                  socket_accept_retry, chr);
    return G_SOURCE_REMOVE;
}

static bool socket_fill_address(struct sockaddr_un *sa, const char *path, GError **err)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa->sun_path)) {
        g_set_error(err, SOCKET_ERROR, 0, "socket path too long: %s", path);
        return false;
    }
    memcpy(sa->sun_path, path, strlen(path) + 1);
    return true;
}

/* A stale socket left by an earlier run would make bind() fail; anything else is kept. */
static void socket_remove_stale(const char *path)
{
    struct stat st;

    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
}

static bool socket_listen_path(struct chardev *chr, GError **err)
{
    struct sockaddr_un sa;
    int fd = -1;

    if (!socket_fill_address(&sa, chr->socket_path, err))
        return false;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        goto fail;
    socket_remove_stale(chr->socket_path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        goto fail;
    chr->socket_unlink = true;
    if (listen(fd, 1) < 0)
        goto fail;
    chr->listen_fd = fd;
    return true;

fail:
    g_set_error(err, SOCKET_ERROR, 0, "chardev '%s': cannot listen on %s: %s", chr->id,
                chr->socket_path, g_strerror(errno));
    if (fd >= 0)
        close(fd);
    return false;
}

static bool socket_adopt_fd(struct chardev *chr, uint64_t fd, GError **err)
{
    int accepting = 0;
    socklen_t len = sizeof(accepting);

    if (fd > INT_MAX || getsockopt((int)fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) < 0 ||
        !accepting) {
        g_set_error(err, SOCKET_ERROR, 0, "chardev '%s': fd=%" G_GUINT64_FORMAT
                    " is not a listening socket", chr->id, fd);
        return false;
    }
    if (!chardev_fd_prepare((int)fd)) {
        g_set_error(err, SOCKET_ERROR, 0, "chardev '%s': fd=%" G_GUINT64_FORMAT ": %s", chr->id,
                    fd, g_strerror(errno));
        return false;
    }
    chr->listen_fd = (int)fd;
    return true;
}

/* wait=on: QEMU's default for servers. Blocks start-up until the first client arrives. */
static bool socket_wait_for_client(struct chardev *chr, GError **err)
{
    struct pollfd pfd = { .fd = chr->listen_fd, .events = POLLIN };

    log_info("chardev '%s': waiting for a connection on %s", chr->id, chr->filename);
    for (;;) {
        if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
            break;
        if (socket_accept_one(chr))
            return true;
        if (socket_accept_error_persists(errno))
            break; /* polling again would return at once: a busy loop at start-up */
    }
    g_set_error(err, SOCKET_ERROR, 0, "chardev '%s': waiting for a client: %s", chr->id,
                g_strerror(errno));
    return false;
}

static bool socket_connect_path(struct chardev *chr, GError **err)
{
    struct sockaddr_un sa;
    int fd;

    if (!socket_fill_address(&sa, chr->socket_path, err))
        return false;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        !chardev_fd_prepare(fd)) {
        g_set_error(err, SOCKET_ERROR, 0, "chardev '%s': cannot connect to %s: %s", chr->id,
                    chr->socket_path, g_strerror(errno));
        if (fd >= 0)
            close(fd);
        return false;
    }
    socket_attach_client(chr, fd);
    return true;
}

static bool socket_take_options(struct chardev *chr, struct kv_list *opts, bool *wait,
                                bool *has_fd, uint64_t *fd, GError **err)
{
    const char *path = kv_get(opts, "path");
    const char *fd_text = kv_get(opts, "fd");

    if (kv_get(opts, "host") || kv_get(opts, "port")) {
        g_set_error(err, SOCKET_ERROR, 0, "chardev '%s': only Unix sockets are supported",
                    chr->id);
        return false;
    }
    if (!kv_get_bool(opts, "server", false, &chr->socket_server, err) ||
        !kv_get_bool(opts, "wait", true, wait, err))
        return false;
    *has_fd = fd_text != NULL;
    if (*has_fd && (!parse_u64(fd_text, false, fd) || path)) {
        g_set_error(err, SOCKET_ERROR, 0, "chardev '%s': fd= needs a number and no path=",
                    chr->id);
        return false;
    }
    if (!*has_fd && (!path || !*path)) {
        g_set_error(err, SOCKET_ERROR, 0, "chardev '%s': socket needs path= or fd=", chr->id);
        return false;
    }
    if (*has_fd)
        chr->socket_server = true; /* a pre-opened fd is always a listening socket */
    chr->socket_path = g_strdup(path);
    return true;
}

static bool socket_open(struct chardev *chr, struct kv_list *opts, GError **err)
{
    bool wait, has_fd;
    uint64_t fd = 0;

    if (!socket_take_options(chr, opts, &wait, &has_fd, &fd, err))
        return false;
    socket_update_filename(chr);
    if (!chr->socket_server)
        return socket_connect_path(chr, err);
    if (has_fd ? !socket_adopt_fd(chr, fd, err) : !socket_listen_path(chr, err))
        return false;
    if (wait && !socket_wait_for_client(chr, err))
        return false;
    if (chr->in_fd < 0)
        socket_watch_listener(chr);
    return true;
}

/* The peer went away (input EOF, output error) or is dropped (chardev_disconnect()). */
static void socket_drop_peer(struct chardev *chr)
{
    if (chr->in_fd >= 0)
        socket_disconnect(chr);
}

static void socket_output_failed(struct chardev *chr, int error)
{
    socket_drop_peer(chr);
}

static void socket_close(struct chardev *chr)
{
    if (chr->listen_source) {
        g_source_remove(chr->listen_source);
        chr->listen_source = 0;
    }
    if (chr->retry_source) {
        g_source_remove(chr->retry_source);
        chr->retry_source = 0;
    }
    chardev_close_fd(&chr->listen_fd);
    if (chr->socket_unlink && chr->socket_path)
        unlink(chr->socket_path);
}

const struct chardev_backend chardev_socket_backend = {
    .name = "socket",
    .open = socket_open,
    .input_closed = socket_drop_peer,
    .output_failed = socket_output_failed,
    .close = socket_close,
    .disconnect = socket_drop_peer,
};
