/*
 * Character devices: the generic part (input flow control, non-blocking output, option parsing,
 * the legacy -serial syntax) and the simple backends: null, file, stdio, pty, serial.
 *
 * Input is read only while the frontend has room (can_receive() > 0): the fd watch is removed
 * as soon as the frontend is full and re-added by chardev_accept_input(), so bytes the guest
 * does not drain stay in the kernel (pipe, pty or socket buffer), never in xendm.
 */
#include "chardev-internal.h"

#include <fcntl.h>
#include <glib-unix.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>
#include "xendm/common.h"
#include "xendm/log.h"

/* Bytes read from a backend per wakeup; the frontend usually has room for far fewer. */
#define CHARDEV_READ_CHUNK 256
/* How often a pty without a connected slave is checked again (it reports HUP until then). */
#define PTY_RETRY_SECONDS 1

static GQuark chardev_error_quark(void)
{
    return g_quark_from_static_string("xendm-chardev-error");
}

#define CHARDEV_ERROR chardev_error_quark()

/* ---- fd helpers ---- */

bool chardev_fd_prepare(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return false;
    int fdfl = fcntl(fd, F_GETFD);
    if (fdfl < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0)
        return false;
    return true;
}

void chardev_close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

void chardev_set_filename(struct chardev *chr, const char *filename)
{
    g_free(chr->filename);
    chr->filename = g_strdup(filename);
}

/* ---- input ---- */

static size_t frontend_room(struct chardev *chr)
{
    if (!chr->has_frontend || !chr->frontend.can_receive || !chr->frontend.receive)
        return 0;
    return chr->frontend.can_receive(chr->frontend.opaque);
}

/* ---- fds passed over a Unix socket (SCM_RIGHTS) ---- */

static void chardev_keep_fd(struct chardev *chr, int fd)
{
    if (!chr->received_fds)
        chr->received_fds = g_array_new(FALSE, FALSE, sizeof(int));
    if (chr->received_fds->len >= CHARDEV_MAX_RECEIVED_FDS) {
        /* A peer that sends fds nobody asks for must not exhaust ours. */
        log_warn("chardev '%s': too many passed file descriptors waiting: closing one",
                 chr->id);
        close(fd);
        return;
    }
    g_array_append_val(chr->received_fds, fd);
}

static void chardev_collect_fds(struct chardev *chr, struct msghdr *msg)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        size_t n;
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
            c->cmsg_len < CMSG_LEN(0))
            continue;
        n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            chardev_keep_fd(chr, fd);
        }
    }
}

/* read() that also takes the fds passed with the bytes (close-on-exec from the start). */
static ssize_t chardev_recv_with_fds(struct chardev *chr, int fd, uint8_t *buf, size_t len)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * CHARDEV_MAX_RECEIVED_FDS)];
    } control;
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = control.buf,
        .msg_controllen = sizeof(control.buf),
    };
    ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);

    if (n < 0)
        return n;
    if (msg.msg_flags & MSG_CTRUNC)
        log_warn("chardev '%s': passed file descriptors beyond %d were dropped", chr->id,
                 CHARDEV_MAX_RECEIVED_FDS);
    chardev_collect_fds(chr, &msg);
    return n;
}

int chardev_take_fd(struct chardev *chr)
{
    int fd;

    if (!chr || !chr->received_fds || chr->received_fds->len == 0)
        return -1;
    fd = g_array_index(chr->received_fds, int, 0);
    g_array_remove_index(chr->received_fds, 0);
    return fd;
}

void chardev_drop_received_fds(struct chardev *chr)
{
    if (!chr->received_fds)
        return;
    for (guint i = 0; i < chr->received_fds->len; i++)
        close(g_array_index(chr->received_fds, int, i));
    g_array_set_size(chr->received_fds, 0);
}

static gboolean chardev_input_ready(gint fd, GIOCondition cond, gpointer opaque)
{
    struct chardev *chr = opaque;
    uint8_t buf[CHARDEV_READ_CHUNK];
    size_t room = frontend_room(chr);

    if (room == 0) {
        chr->in_source = 0;
        return G_SOURCE_REMOVE;
    }
    size_t want = XENDM_MIN(room, sizeof(buf));
    ssize_t n = chr->in_takes_fds ? chardev_recv_with_fds(chr, fd, buf, want)
                                  : read(fd, buf, want);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return G_SOURCE_CONTINUE;
    if (n <= 0) {
        /* EOF, or an error (EIO from a pty master whose slave closed): the backend decides. */
        chr->in_source = 0;
        if (chr->backend->input_closed)
            chr->backend->input_closed(chr);
        return G_SOURCE_REMOVE;
    }
    chr->frontend.receive(chr->frontend.opaque, buf, (size_t)n);
    if (frontend_room(chr) == 0) {
        chr->in_source = 0;
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

void chardev_stop_input(struct chardev *chr)
{
    if (chr->in_source) {
        g_source_remove(chr->in_source);
        chr->in_source = 0;
    }
}

void chardev_accept_input(struct chardev *chr)
{
    if (!chr || chr->in_fd < 0 || chr->in_source || chr->retry_source)
        return;
    if (frontend_room(chr) == 0)
        return;
    chr->in_source = g_unix_fd_add(chr->in_fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                   chardev_input_ready, chr);
}

void chardev_report_event(struct chardev *chr, enum chardev_event event)
{
    if (chr->has_frontend && chr->frontend.event)
        chr->frontend.event(chr->frontend.opaque, event);
}

void chardev_set_frontend(struct chardev *chr, const struct chardev_frontend *fe)
{
    if (!chr)
        return;
    chardev_stop_input(chr);
    chardev_stop_output_watch(chr); /* write_ready belonged to the old frontend */
    chr->has_frontend = fe != NULL;
    if (fe)
        chr->frontend = *fe;
    else
        memset(&chr->frontend, 0, sizeof(chr->frontend));
    /* A peer that connected before the frontend came (wait=on, client mode) is news to it. */
    if (fe && chr->connected)
        chardev_report_event(chr, CHARDEV_EVENT_OPENED);
    chardev_accept_input(chr);
}

bool chardev_has_frontend(const struct chardev *chr)
{
    return chr->has_frontend;
}

/* ---- output ---- */

static ssize_t chardev_write_once(struct chardev *chr, const uint8_t *buf, size_t len)
{
    if (chr->out_is_socket)
        return send(chr->out_fd, buf, len, MSG_NOSIGNAL);
    return write(chr->out_fd, buf, len);
}

/*
 * Writes what the backend takes now. Returns the bytes written, or -1 when the peer is gone
 * (the backend has been told through output_failed); stops early when the backend is full.
 */
static ssize_t chardev_write_available(struct chardev *chr, const uint8_t *buf, size_t len)
{
    size_t done = 0;

    while (chr->out_fd >= 0 && done < len) {
        ssize_t n = chardev_write_once(chr, buf + done, len - done);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN) {
            if (chr->backend->output_failed)
                chr->backend->output_failed(chr, errno);
            return -1;
        }
        break; /* full */
    }
    return (ssize_t)done;
}

size_t chardev_write(struct chardev *chr, const uint8_t *buf, size_t len)
{
    ssize_t done;

    if (!chr)
        return len;
    /* What the backend cannot take now, or a peer that went away, drops the rest. */
    done = chardev_write_available(chr, buf, len);
    chr->dropped_bytes += len - (done > 0 ? (size_t)done : 0);
    return len;
}

ssize_t chardev_write_partial(struct chardev *chr, const uint8_t *buf, size_t len)
{
    if (!chr || chr->out_fd < 0)
        return -1;
    /* Full: the frontend keeps the rest. Peer gone: whatever was taken no longer matters. */
    return chardev_write_available(chr, buf, len);
}

static gboolean chardev_output_ready(gint fd, GIOCondition cond, gpointer opaque)
{
    struct chardev *chr = opaque;

    chr->out_source = 0;
    if (chr->has_frontend && chr->frontend.write_ready)
        chr->frontend.write_ready(chr->frontend.opaque);
    return G_SOURCE_REMOVE;
}

void chardev_notify_writable(struct chardev *chr)
{
    if (!chr || chr->out_fd < 0 || chr->out_source)
        return;
    /* HUP and ERR too: the frontend's next write then learns that the peer is gone. */
    chr->out_source = g_unix_fd_add(chr->out_fd, G_IO_OUT | G_IO_HUP | G_IO_ERR,
                                    chardev_output_ready, chr);
}

void chardev_stop_output_watch(struct chardev *chr)
{
    if (chr->out_source) {
        g_source_remove(chr->out_source);
        chr->out_source = 0;
    }
}

void chardev_disconnect(struct chardev *chr)
{
    if (chr && chr->backend->disconnect)
        chr->backend->disconnect(chr);
}

/* ---- null ---- */

static bool null_open(struct chardev *chr, struct kv_list *opts, GError **err)
{
    chardev_set_filename(chr, "null");
    return true;
}

static const struct chardev_backend null_backend = {
    .name = "null",
    .open = null_open,
};

/* ---- file ---- */

static bool file_open(struct chardev *chr, struct kv_list *opts, GError **err)
{
    const char *path = kv_get(opts, "path");
    bool append;

    if (!path || !*path) {
        g_set_error(err, CHARDEV_ERROR, 0, "chardev '%s': file needs path=", chr->id);
        return false;
    }
    if (!kv_get_bool(opts, "append", false, &append, err))
        return false;
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NONBLOCK | (append ? O_APPEND : O_TRUNC);
    chr->out_fd = open(path, flags, 0644);
    if (chr->out_fd < 0) {
        g_set_error(err, CHARDEV_ERROR, 0, "chardev '%s': cannot open %s: %s", chr->id, path,
                    g_strerror(errno));
        return false;
    }
    chardev_set_filename(chr, "file");
    return true;
}

static const struct chardev_backend file_backend = {
    .name = "file",
    .open = file_open,
};

/* ---- stdio ---- */

/* stdin and stdout exist once per process: this module's own record of who holds them. */
static bool stdio_in_use;

static bool stdin_is_input(void)
{
    struct stat st;

    if (isatty(STDIN_FILENO))
        return true;
    return fstat(STDIN_FILENO, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
}

/* Characters go to the guest as typed; with signal=on Ctrl-C still stops xendm. */
static void stdio_make_raw(struct chardev *chr, bool keep_signals)
{
    struct termios raw;

    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &chr->stdin_termios) < 0)
        return;
    chr->stdin_termios_saved = true;
    raw = chr->stdin_termios;
    cfmakeraw(&raw);
    if (keep_signals)
        raw.c_lflag |= ISIG;
    raw.c_oflag |= OPOST | ONLCR; /* keep xendm's own log lines readable on the terminal */
    tcsetattr(STDIN_FILENO, TCSANOW, &raw);
}

static bool stdio_open(struct chardev *chr, struct kv_list *opts, GError **err)
{
    bool keep_signals;

    if (stdio_in_use) {
        g_set_error(err, CHARDEV_ERROR, 0, "chardev '%s': stdio is already in use", chr->id);
        return false;
    }
    if (!kv_get_bool(opts, "signal", true, &keep_signals, err))
        return false;
    stdio_in_use = true;
    chr->stdio_owned = true;
    /* Output must never block the event loop, so stdout becomes non-blocking (restored later). */
    chr->stdout_flags = fcntl(STDOUT_FILENO, F_GETFL);
    if (chr->stdout_flags >= 0) {
        fcntl(STDOUT_FILENO, F_SETFL, chr->stdout_flags | O_NONBLOCK);
        chr->out_fd = STDOUT_FILENO;
    }
    chr->stdin_flags = fcntl(STDIN_FILENO, F_GETFL);
    if (chr->stdin_flags >= 0 && stdin_is_input()) {
        fcntl(STDIN_FILENO, F_SETFL, chr->stdin_flags | O_NONBLOCK);
        stdio_make_raw(chr, keep_signals);
        chr->in_fd = STDIN_FILENO;
    }
    chardev_set_filename(chr, "stdio");
    return true;
}

static void stdio_input_closed(struct chardev *chr)
{
    chr->in_fd = -1; /* EOF on stdin: no more input, ever */
}

static void stdio_close(struct chardev *chr)
{
    if (!chr->stdio_owned)
        return;
    if (chr->stdin_termios_saved)
        tcsetattr(STDIN_FILENO, TCSANOW, &chr->stdin_termios);
    if (chr->stdin_flags >= 0)
        fcntl(STDIN_FILENO, F_SETFL, chr->stdin_flags);
    if (chr->stdout_flags >= 0)
        fcntl(STDOUT_FILENO, F_SETFL, chr->stdout_flags);
    /* The process's stdin/stdout are borrowed, not ours to close. */
    chr->in_fd = -1;
    chr->out_fd = -1;
    stdio_in_use = false;
}

static const struct chardev_backend stdio_backend = {
    .name = "stdio",
    .open = stdio_open,
    .input_closed = stdio_input_closed,
    .close = stdio_close,
};

/* ---- pty ---- */

static gboolean pty_retry(gpointer opaque)
{
    struct chardev *chr = opaque;

    chr->retry_source = 0;
    chardev_accept_input(chr);
    return G_SOURCE_REMOVE;
}

/*
 * A pty master reports HUP (and read() fails with EIO) while no process holds the slave open.
 * Polling it would spin, so look again a second later.
 */
static void pty_input_closed(struct chardev *chr)
{
    if (!chr->retry_source)
        chr->retry_source = g_timeout_add_seconds(PTY_RETRY_SECONDS, pty_retry, chr);
}

static bool pty_open(struct chardev *chr, struct kv_list *opts, GError **err)
{
    char slave[128];
    struct termios tio;
    int fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

    if (fd < 0)
        goto fail;
    if (grantpt(fd) < 0 || unlockpt(fd) < 0 || ptsname_r(fd, slave, sizeof(slave)) != 0)
        goto fail;
    if (!chardev_fd_prepare(fd))
        goto fail;
    /* Raw: the guest's bytes pass unchanged in both directions (no echo, no CR/LF mapping). */
    if (tcgetattr(fd, &tio) == 0) {
        cfmakeraw(&tio);
        tcsetattr(fd, TCSANOW, &tio);
    }
    chr->in_fd = fd;
    chr->out_fd = fd;
    char *name = g_strdup_printf("pty:%s", slave);
    chardev_set_filename(chr, name);
    g_free(name);
    /* The same line QEMU prints: scripts and people look for it. */
    log_info("char device redirected to %s (label %s)", slave, chr->id);
    return true;

fail:
    g_set_error(err, CHARDEV_ERROR, 0, "chardev '%s': cannot create a pty: %s", chr->id,
                g_strerror(errno));
    if (fd >= 0)
        close(fd);
    return false;
}

static void pty_close(struct chardev *chr)
{
    if (chr->retry_source) {
        g_source_remove(chr->retry_source);
        chr->retry_source = 0;
    }
}

static const struct chardev_backend pty_backend = {
    .name = "pty",
    .open = pty_open,
    .input_closed = pty_input_closed,
    .close = pty_close,
};

/* ---- serial: a host terminal device (QEMU's "serial"/"tty", legacy "/dev/...") ---- */

/*
 * In a Linux stub domain libxl passes "-serial /dev/hvc3": the guest's UART is carried over
 * a Xen PV console to the backend in dom0. Any tty (or other character device) works the same.
 */
static bool serial_open(struct chardev *chr, struct kv_list *opts, GError **err)
{
    const char *path = kv_get(opts, "path");
    struct termios tio;
    int fd;

    if (!path || !*path) {
        g_set_error(err, CHARDEV_ERROR, 0, "chardev '%s': serial needs path=", chr->id);
        return false;
    }
    fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        g_set_error(err, CHARDEV_ERROR, 0, "chardev '%s': cannot open %s: %s", chr->id, path,
                    g_strerror(errno));
        return false;
    }
    /* Raw, as for a pty: no echo and no line discipline between the guest and the wire. */
    if (isatty(fd) && tcgetattr(fd, &tio) == 0) {
        cfmakeraw(&tio);
        tcsetattr(fd, TCSANOW, &tio);
    }
    chr->in_fd = fd;
    chr->out_fd = fd;
    chardev_set_filename(chr, path);
    return true;
}

/* A console whose far end is not connected yet may report HUP: look again later, not spin. */
static const struct chardev_backend serial_backend = {
    .name = "serial",
    .alias = "tty",
    .open = serial_open,
    .input_closed = pty_input_closed,
    .close = pty_close,
};

/* ---- creation ---- */

static const struct chardev_backend *const chardev_backends[] = {
    &null_backend, &file_backend,   &stdio_backend,
    &pty_backend,  &serial_backend, &chardev_socket_backend,
};

static const struct chardev_backend *chardev_backend_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(chardev_backends); i++) {
        const struct chardev_backend *b = chardev_backends[i];
        if (strcmp(b->name, name) == 0 || (b->alias != NULL && strcmp(b->alias, name) == 0))
            return b;
    }
    return NULL;
}

static struct chardev *chardev_alloc(const char *id, const struct chardev_backend *backend)
{
    struct chardev *chr = g_new0(struct chardev, 1);

    chr->id = g_strdup(id);
    chr->backend = backend;
    chr->in_fd = -1;
    chr->out_fd = -1;
    chr->listen_fd = -1;
    chr->stdin_flags = -1;
    chr->stdout_flags = -1;
    chr->filename = g_strdup(backend->name);
    return chr;
}

struct chardev *chardev_new(struct kv_list *opts, GError **err)
{
    const char *name = kv_get(opts, "backend");
    const char *id = kv_get(opts, "id");
    const struct chardev_backend *backend;
    struct chardev *chr = NULL;
    const char *unused;

    if (!name || !*name) {
        g_set_error(err, CHARDEV_ERROR, 0, "chardev: no backend given");
        return NULL;
    }
    if (!id || !*id) {
        g_set_error(err, CHARDEV_ERROR, 0, "chardev: '%s' needs id=", name);
        return NULL;
    }
    backend = chardev_backend_find(name);
    if (!backend) {
        g_set_error(err, CHARDEV_ERROR, 0, "chardev '%s': unknown backend '%s'", id, name);
        return NULL;
    }
    chr = chardev_alloc(id, backend);
    if (!backend->open(chr, opts, err))
        goto fail;
    unused = kv_first_unused(opts);
    if (unused) {
        g_set_error(err, CHARDEV_ERROR, 0, "chardev '%s': %s does not take '%s'", id, name,
                    unused);
        goto fail;
    }
    return chr;

fail:
    chardev_free(chr);
    return NULL;
}

void chardev_free(struct chardev *chr)
{
    if (!chr)
        return;
    if (chr->dropped_bytes)
        log_debug("chardev '%s': %" PRIu64 " output bytes dropped", chr->id, chr->dropped_bytes);
    chardev_stop_input(chr);
    chardev_stop_output_watch(chr);
    if (chr->backend->close)
        chr->backend->close(chr);
    chardev_drop_received_fds(chr);
    if (chr->received_fds)
        g_array_free(chr->received_fds, TRUE);
    if (chr->out_fd == chr->in_fd)
        chr->out_fd = -1;
    chardev_close_fd(&chr->in_fd);
    chardev_close_fd(&chr->out_fd);
    g_free(chr->socket_path);
    g_free(chr->filename);
    g_free(chr->id);
    g_free(chr);
}

const char *chardev_id(const struct chardev *chr)
{
    return chr->id;
}

const char *chardev_filename(const struct chardev *chr)
{
    return chr->filename;
}

/* ---- the legacy -serial/-debugcon syntax ---- */

/*
 * "unix:PATH[,server=on|off][,wait=on|off]", also the older bare "server" and "nowait" flags.
 * In PATH a doubled comma stands for one comma, as everywhere in QEMU's option syntax.
 */
static bool legacy_parse_unix(struct kv_list *kv, const char *rest, GError **err)
{
    GString *path = g_string_new(NULL);
    const char *p = rest;
    bool ok = true;

    while (*p && !(p[0] == ',' && p[1] != ',')) {
        g_string_append_c(path, *p);
        p += (p[0] == ',') ? 2 : 1;
    }
    kv_set(kv, "backend", "socket");
    kv_set(kv, "path", path->str);
    g_string_free(path, TRUE);

    gchar **flags = g_strsplit(*p ? p + 1 : p, ",", -1);
    for (gchar **f = flags; *f && ok; f++) {
        char *eq = strchr(*f, '=');
        if (strcmp(*f, "server") == 0) {
            kv_set(kv, "server", "on");
        } else if (strcmp(*f, "nowait") == 0) {
            kv_set(kv, "wait", "off");
        } else if (eq && (g_str_has_prefix(*f, "server=") || g_str_has_prefix(*f, "wait="))) {
            *eq = '\0';
            kv_set(kv, *f, eq + 1);
        } else if (**f) {
            g_set_error(err, CHARDEV_ERROR, 0, "unix chardev: unknown option '%s'", *f);
            ok = false;
        }
    }
    g_strfreev(flags);
    return ok;
}

static bool legacy_fill(struct kv_list *kv, const char *spec, GError **err)
{
    if (strcmp(spec, "null") == 0 || strcmp(spec, "stdio") == 0 || strcmp(spec, "pty") == 0) {
        kv_set(kv, "backend", spec);
        return true;
    }
    if (g_str_has_prefix(spec, "file:")) {
        kv_set(kv, "backend", "file");
        kv_set(kv, "path", spec + strlen("file:"));
        return true;
    }
    if (g_str_has_prefix(spec, "unix:"))
        return legacy_parse_unix(kv, spec + strlen("unix:"), err);
    if (g_str_has_prefix(spec, "/dev/")) {
        kv_set(kv, "backend", "serial");
        kv_set(kv, "path", spec);
        return true;
    }
    g_set_error(err, CHARDEV_ERROR, 0, "unsupported character device '%s'", spec);
    return false;
}

struct chardev *chardev_new_legacy(const char *spec, const char *id, GError **err)
{
    struct chardev *chr = NULL;
    struct kv_list *kv;

    if (!spec || strcmp(spec, "none") == 0)
        return NULL;
    kv = kv_new();
    kv_set(kv, "id", id);
    if (legacy_fill(kv, spec, err))
        chr = chardev_new(kv, err);
    kv_free(kv);
    return chr;
}
