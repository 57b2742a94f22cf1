/* The qtest programs' QMP client (qtest-qmp.h). */
#include "qtest-qmp.h"
#include "libqtest.h"

#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define QMP_TIMEOUT_MS 10000

struct qmp {
    int fd;
    GString *in;
};

static int unix_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpuint(strlen(path), <, sizeof(sa.sun_path));
    strcpy(sa.sun_path, path);
    g_assert_cmpint(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    return fd;
}

/* JSON text without the whitespace between tokens (strings kept as they are). */
static char *json_squeeze(const char *text)
{
    GString *out = g_string_sized_new(strlen(text));
    bool in_string = false, escaped = false;

    for (const char *p = text; *p; p++) {
        if (in_string) {
            in_string = escaped || *p != '"';
            escaped = !escaped && *p == '\\';
        } else if (g_ascii_isspace(*p)) {
            continue;
        } else {
            in_string = *p == '"';
        }
        g_string_append_c(out, *p);
    }
    return g_string_free(out, FALSE);
}

static char *qmp_read_line(struct qmp *q)
{
    for (;;) {
        char *nl = strchr(q->in->str, '\n');
        struct pollfd pfd = {.fd = q->fd, .events = POLLIN};
        char buf[4096];
        ssize_t n;

        if (nl != NULL) {
            char *line = g_strndup(q->in->str, (gsize)(nl - q->in->str));
            char *squeezed;

            g_string_erase(q->in, 0, nl - q->in->str + 1);
            squeezed = json_squeeze(line);
            g_free(line);
            return squeezed;
        }
        g_assert_cmpint(poll(&pfd, 1, QMP_TIMEOUT_MS), ==, 1);
        n = read(q->fd, buf, sizeof(buf));
        g_assert_cmpint(n, >, 0);
        g_string_append_len(q->in, buf, n);
    }
}

struct qmp *qmp_open(const char *path)
{
    struct qmp *q = g_new0(struct qmp, 1);
    g_autofree char *greeting = NULL;

    q->fd = unix_connect(path);
    q->in = g_string_new(NULL);
    greeting = qmp_read_line(q);
    g_assert_nonnull(strstr(greeting, "{\"QMP\":"));
    return q;
}

void qmp_close(struct qmp *q)
{
    close(q->fd);
    g_string_free(q->in, TRUE);
    g_free(q);
}

static void send_with_fd(struct qmp *q, int fd, const char *wire)
{
    struct iovec iov = {.iov_base = (void *)wire, .iov_len = strlen(wire)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

    if (fd >= 0) {
        struct cmsghdr *c;
        memset(&ctl, 0, sizeof(ctl));
        msg.msg_control = ctl.buf;
        msg.msg_controllen = sizeof(ctl.buf);
        c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    g_assert_cmpint(sendmsg(q->fd, &msg, MSG_NOSIGNAL), ==, (ssize_t)iov.iov_len);
}

char *qmp_call_fd(struct qmp *q, int fd, const char *json)
{
    g_autofree char *wire = g_strdup_printf("%s\r\n", json);

    send_with_fd(q, fd, wire);
    for (;;) {
        char *line = qmp_read_line(q);
        if (!g_str_has_prefix(line, "{\"event\"") && strstr(line, ",\"event\":") == NULL) {
            g_test_message("%s -> %s", json, line);
            return line;
        }
        g_test_message("QMP event: %s", line);
        g_free(line);
    }
}

char *qmp_call(struct qmp *q, const char *json)
{
    return qmp_call_fd(q, -1, json);
}

void qmp_call_ok(struct qmp *q, const char *json)
{
    g_autofree char *reply = qmp_call(q, json);

    g_assert_nonnull(strstr(reply, "\"return\":"));
}

void qmp_call_fails(struct qmp *q, const char *json, const char *desc)
{
    g_autofree char *reply = qmp_call(q, json);
    g_autofree char *want = g_strdup_printf("\"desc\":\"%s\"", desc);

    g_assert_nonnull(strstr(reply, "\"class\":\"GenericError\""));
    g_assert_nonnull(strstr(reply, want));
}

/* ---- screendumps ---- */

bool qtest_ppm_parse(const void *data, size_t len, struct qtest_image *img)
{
    g_autofree char *text = g_strndup(data, MIN(len, 64)); /* the header, NUL-terminated */
    int w, h, max, n = 0;

    if (sscanf(text, "P6 %d %d %d%n", &w, &h, &max, &n) != 3 || max != 255 || w <= 0 ||
        h <= 0 || (size_t)n + 1 + (size_t)w * h * 3 != len) {
        return false;
    }
    img->width = w;
    img->height = h;
    img->rgb = g_memdup2((const uint8_t *)data + n + 1, (size_t)w * h * 3);
    return true;
}

bool qtest_ppm_load(const char *path, struct qtest_image *img)
{
    g_autofree gchar *data = NULL;
    gsize len = 0;

    return g_file_get_contents(path, &data, &len, NULL) && qtest_ppm_parse(data, len, img);
}

struct qtest_image qtest_screendump(struct qmp *q)
{
    g_autofree char *path = qtest_tmp_path("screendump.ppm");
    g_autofree char *cmd = g_strdup_printf(
        "{\"execute\":\"screendump\",\"arguments\":{\"filename\":\"%s\"}}", path);
    struct qtest_image img = {0};

    unlink(path);
    qmp_call_ok(q, cmd);
    g_assert_true(qtest_ppm_load(path, &img));
    unlink(path);
    return img;
}

uint32_t qtest_image_pixel(const struct qtest_image *img, int x, int y)
{
    const uint8_t *p = &img->rgb[((size_t)y * img->width + x) * 3];

    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}
