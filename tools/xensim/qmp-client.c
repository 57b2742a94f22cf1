/*
 * The toolstack's QMP client, as libxl 4.17 uses it for save and restore (reference §5.2):
 * connect to the device model's qmp-libxl socket, read the greeting, qmp_capabilities, then
 * one command at a time, each ending in "\r\n"; add-fd passes its fd with SCM_RIGHTS in the
 * same message. Events are skipped, as libxl skips them.
 *
 * While it waits for a reply the main loop keeps running (nested iterations): the device model
 * may need dm_ops or xenstore answers from xensim to finish the command.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "qmp-client.h"
#include "xensim.h"

#define QMP_REPLY_TIMEOUT_US (10 * G_USEC_PER_SEC) /* libxl's QMP command timeout */
#define QMP_LINE_MAX (1024 * 1024)                 /* libxl refuses longer messages */

struct xsim_qmp {
    int fd;
    GString *in;
};

static bool qmp_fail(GError **err, const char *what, int error)
{
    g_set_error(err, XSIM_QMP_ERROR, error, "QMP: %s: %s", what,
                g_strerror(error));
    return false;
}

/* The next line from the device model, without its "\r\n"; NULL on timeout or EOF. */
static char *qmp_read_line(struct xsim_qmp *q, GError **err)
{
    gint64 deadline = g_get_monotonic_time() + QMP_REPLY_TIMEOUT_US;

    for (;;) {
        char *nl = memchr(q->in->str, '\n', q->in->len);
        if (nl) {
            char *line = g_strndup(q->in->str, (gsize)(nl - q->in->str));
            g_string_erase(q->in, 0, nl - q->in->str + 1);
            return g_strchomp(line);
        }
        if (g_get_monotonic_time() > deadline) {
            qmp_fail(err, "no reply", ETIMEDOUT);
            return NULL;
        }
        /* Serve the device model's dm_ops and xenstore requests while we wait. */
        while (g_main_context_iteration(NULL, FALSE))
            ;
        struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
        if (poll(&pfd, 1, 5) <= 0)
            continue;
        char buf[4096];
        ssize_t n = recv(q->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0) {
            qmp_fail(err, "connection closed", n < 0 ? errno : ECONNRESET);
            return NULL;
        }
        if (q->in->len + (size_t)n > QMP_LINE_MAX) {
            qmp_fail(err, "message too long", EMSGSIZE);
            return NULL;
        }
        g_string_append_len(q->in, buf, n);
    }
}

static bool qmp_is_event(const char *line)
{
    return strstr(line, "\"event\"") && !g_str_has_prefix(line, "{\"return\"") &&
           !g_str_has_prefix(line, "{\"error\"");
}

static bool qmp_send(struct xsim_qmp *q, const char *text, int pass_fd, GError **err)
{
    g_autofree char *msg = g_strconcat(text, "\r\n", NULL);
    size_t len = strlen(msg), off = 0;
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;

    while (off < len) {
        struct iovec iov = { .iov_base = msg + off, .iov_len = len - off };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        if (pass_fd >= 0 && off == 0) {
            memset(&control, 0, sizeof(control));
            mh.msg_control = control.buf;
            mh.msg_controllen = sizeof(control.buf);
            struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
        }
        ssize_t n = sendmsg(q->fd, &mh, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return qmp_fail(err, "send", n < 0 ? errno : EPIPE);
        off += (size_t)n;
    }
    return true;
}

bool xsim_qmp_execute(struct xsim_qmp *q, const char *command, int pass_fd, char **reply,
                      GError **err)
{
    if (reply)
        *reply = NULL;
    if (!qmp_send(q, command, pass_fd, err))
        return false;
    for (;;) {
        g_autofree char *line = qmp_read_line(q, err);
        if (!line)
            return false;
        if (qmp_is_event(line))
            continue;
        if (g_str_has_prefix(line, "{\"error\"")) {
            g_set_error(err, XSIM_QMP_ERROR, 0, "QMP %s: %s", command, line);
            return false;
        }
        if (reply)
            *reply = g_steal_pointer(&line);
        return true;
    }
}

struct xsim_qmp *xsim_qmp_connect(const char *path, GError **err)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    struct xsim_qmp *q;

    if (strlen(path) >= sizeof(addr.sun_path)) {
        qmp_fail(err, path, ENAMETOOLONG);
        return NULL;
    }
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        qmp_fail(err, path, errno);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    q = g_new0(struct xsim_qmp, 1);
    q->fd = fd;
    q->in = g_string_new(NULL);
    g_autofree char *greeting = qmp_read_line(q, err);
    if (!greeting || !g_str_has_prefix(greeting, "{\"QMP\"")) {
        if (greeting)
            g_set_error(err, XSIM_QMP_ERROR, 0, "QMP: bad greeting: %.200s",
                        greeting);
        xsim_qmp_close(q);
        return NULL;
    }
    if (!xsim_qmp_execute(q, "{\"execute\": \"qmp_capabilities\"}", -1, NULL, err)) {
        xsim_qmp_close(q);
        return NULL;
    }
    return q;
}

void xsim_qmp_close(struct xsim_qmp *q)
{
    if (!q)
        return;
    close(q->fd);
    g_string_free(q->in, TRUE);
    g_free(q);
}

/* The number after "key": in a compact or spaced JSON line; false if absent. */
bool xsim_qmp_find_int(const char *line, const char *key, int64_t *value)
{
    g_autofree char *needle = g_strdup_printf("\"%s\":", key);
    const char *p = line ? strstr(line, needle) : NULL;
    char *end;

    if (!p)
        return false;
    p += strlen(needle);
    while (*p == ' ')
        p++;
    *value = g_ascii_strtoll(p, &end, 10);
    return end != p;
}

/* The string after "key": (no escapes: run states and such); a new string or NULL. */
char *xsim_qmp_find_string(const char *line, const char *key)
{
    g_autofree char *needle = g_strdup_printf("\"%s\":", key);
    const char *p = line ? strstr(line, needle) : NULL;
    const char *end;

    if (!p)
        return NULL;
    p += strlen(needle);
    while (*p == ' ')
        p++;
    if (*p != '"' || !(end = strchr(p + 1, '"')))
        return NULL;
    return g_strndup(p + 1, (gsize)(end - p - 1));
}
