/* The qtest client; see libqtest.h and docs/qtest-protocol.md. */
#include "libqtest.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* Generous: an ASan build of both programs on a loaded 2-core machine. */
#define QTEST_REPLY_TIMEOUT_MS 30000

struct qtest {
    pid_t pid;
    int fd;
    GString *inbuf;
    bool exited;
    int exit_status;
};

static char *tmp_dir;

static void remove_tmp_dir(void)
{
    if (!tmp_dir)
        return;
    GDir *dir = g_dir_open(tmp_dir, 0, NULL);
    if (dir) {
        const char *name;
        while ((name = g_dir_read_name(dir))) {
            char *p = g_build_filename(tmp_dir, name, NULL);
            unlink(p);
            g_free(p);
        }
        g_dir_close(dir);
    }
    rmdir(tmp_dir);
    g_free(tmp_dir);
    tmp_dir = NULL;
}

char *qtest_tmp_path(const char *name)
{
    if (!tmp_dir) {
        tmp_dir = g_dir_make_tmp("qtest-XXXXXX", NULL);
        g_assert_nonnull(tmp_dir);
        atexit(remove_tmp_dir);
    }
    return g_build_filename(tmp_dir, name, NULL);
}

const char *qtest_dm_name(void)
{
    const char *dm = g_getenv("QTEST_DM");
    return dm ? dm : "xendm";
}

bool qtest_dm_is_xendm(void)
{
    char *base = g_path_get_basename(qtest_dm_name());
    bool is = g_str_has_prefix(base, "xendm");
    g_free(base);
    return is;
}

static bool split_words(const char *text, GPtrArray *argv, GError **err)
{
    if (!text || !*text)
        return true;
    char **words = NULL;
    if (!g_shell_parse_argv(text, NULL, &words, err))
        return false;
    for (char **w = words; *w; w++)
        g_ptr_array_add(argv, g_strdup(*w));
    g_strfreev(words);
    return true;
}

static GPtrArray *build_argv(const char *xensim_args, const char *dm_args, int qtest_fd,
                             GError **err)
{
    const char *xensim = g_getenv("XENSIM");
    if (!xensim) {
        g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_NOENT, "XENSIM is not set");
        return NULL;
    }
    GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(argv, g_strdup(xensim));
    g_ptr_array_add(argv, g_strdup_printf("--qtest-fd=%d", qtest_fd));
    if (g_getenv("QTEST_DM"))
        g_ptr_array_add(argv, g_strdup_printf("--dm=%s", g_getenv("QTEST_DM")));
    /*
     * xendm must leave cleanly: exit 0 on SIGTERM (no sanitizer report) with its
     * ioreq server destroyed. qemu-xen sometimes dies of the SIGTERM itself.
     */
    if (qtest_dm_is_xendm())
        g_ptr_array_add(argv, g_strdup("--strict-dm-exit"));
    if (g_getenv("XENSIM_LIBDIR"))
        g_ptr_array_add(argv, g_strdup_printf("--libdir=%s", g_getenv("XENSIM_LIBDIR")));
    if (!split_words(xensim_args, argv, err))
        goto fail;
    g_ptr_array_add(argv, g_strdup("--"));
    if (!split_words(dm_args, argv, err))
        goto fail;
    g_ptr_array_add(argv, NULL);
    return argv;
fail:
    g_ptr_array_free(argv, TRUE);
    return NULL;
}

struct qtest *qtest_try_start(const char *xensim_args, const char *dm_args, GError **err)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(errno), "socketpair: %s",
                    g_strerror(errno));
        return NULL;
    }
    /* The child's end becomes fd 3 after dup2, which clears close-on-exec. */
    GPtrArray *argv = build_argv(xensim_args, dm_args, 3, err);
    if (!argv) {
        close(sv[0]);
        close(sv[1]);
        return NULL;
    }
    pid_t pid = fork();
    if (pid == 0) {
        if (dup2(sv[1], 3) < 0)
            _exit(127);
        execv(argv->pdata[0], (char **)argv->pdata);
        fprintf(stderr, "qtest: exec %s: %s\n", (char *)argv->pdata[0], strerror(errno));
        _exit(127);
    }
    g_ptr_array_free(argv, TRUE);
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(errno), "fork: %s",
                    g_strerror(errno));
        return NULL;
    }
    struct qtest *qt = g_new0(struct qtest, 1);
    qt->pid = pid;
    qt->fd = sv[0];
    qt->inbuf = g_string_new(NULL);
    return qt;
}

struct qtest *qtest_start(const char *xensim_args, const char *dm_args)
{
    GError *err = NULL;
    struct qtest *qt = qtest_try_start(xensim_args, dm_args, &err);
    if (!qt)
        g_error("qtest_start: %s", err->message);
    /* xensim serves commands only once the DM is running: prove it answers. */
    char *status = qtest_cmd_ok(qt, "dm_status");
    g_assert_cmpstr(status, ==, "running");
    g_free(status);
    return qt;
}

/* One line without its newline, or NULL on EOF/timeout. */
static char *read_line(struct qtest *qt)
{
    for (;;) {
        char *nl = memchr(qt->inbuf->str, '\n', qt->inbuf->len);
        if (nl) {
            size_t n = (size_t)(nl - qt->inbuf->str);
            char *line = g_strndup(qt->inbuf->str, n);
            g_string_erase(qt->inbuf, 0, (gssize)n + 1);
            return line;
        }
        struct pollfd pfd = {.fd = qt->fd, .events = POLLIN};
        int r = poll(&pfd, 1, QTEST_REPLY_TIMEOUT_MS);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return NULL;
        char buf[4096];
        ssize_t got = read(qt->fd, buf, sizeof(buf));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return NULL;
        g_string_append_len(qt->inbuf, buf, got);
    }
}

static bool send_line(struct qtest *qt, const char *line)
{
    size_t len = strlen(line);
    while (len) {
        ssize_t n = write(qt->fd, line, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        line += n;
        len -= (size_t)n;
    }
    return true;
}

G_GNUC_PRINTF(3, 0)
static char *vcmd(struct qtest *qt, char **err_text, const char *fmt, va_list ap)
{
    char *cmd = g_strdup_vprintf(fmt, ap);
    char *line = g_strconcat(cmd, "\n", NULL);
    bool sent = send_line(qt, line);
    g_free(line);
    if (!sent)
        g_error("qtest: cannot send '%s' (xensim gone?)", cmd);
    char *reply = read_line(qt);
    if (!reply)
        g_error("qtest: no reply to '%s' (xensim gone or hung)", cmd);
    char *result = NULL;
    if (g_str_has_prefix(reply, "OK")) {
        const char *rest = reply + 2;
        while (*rest == ' ')
            rest++;
        result = g_strdup(rest);
        /* Multi-line replies announce their line count: "OK N" for irq_log/servers. */
        if (g_str_has_prefix(cmd, "irq_log") || g_str_has_prefix(cmd, "servers")) {
            guint64 n = g_ascii_strtoull(rest, NULL, 0);
            GString *all = g_string_new(NULL);
            for (guint64 i = 0; i < n; i++) {
                char *more = read_line(qt);
                if (!more)
                    g_error("qtest: truncated reply to '%s'", cmd);
                if (i)
                    g_string_append_c(all, '\n');
                g_string_append(all, more);
                g_free(more);
            }
            g_free(result);
            result = g_string_free(all, FALSE);
        }
    } else if (err_text) {
        *err_text = g_strdup(g_str_has_prefix(reply, "ERR ") ? reply + 4 : reply);
    }
    g_free(reply);
    g_free(cmd);
    return result;
}

char *qtest_cmd(struct qtest *qt, char **err_text, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *r = vcmd(qt, err_text, fmt, ap);
    va_end(ap);
    return r;
}

/* vcmd, with an ERR reply failing the test. */
G_GNUC_PRINTF(2, 0)
static char *vcmd_ok(struct qtest *qt, const char *fmt, va_list ap)
{
    char *err = NULL;
    char *r = vcmd(qt, &err, fmt, ap);
    if (!r)
        g_error("qtest: command failed: %s", err ? err : "?");
    return r;
}

char *qtest_cmd_ok(struct qtest *qt, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *r = vcmd_ok(qt, fmt, ap);
    va_end(ap);
    return r;
}

static uint64_t cmd_value(struct qtest *qt, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static uint64_t cmd_value(struct qtest *qt, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *r = vcmd_ok(qt, fmt, ap);
    va_end(ap);
    char *end = NULL;
    uint64_t v = g_ascii_strtoull(r, &end, 0);
    if (end == r || *end)
        g_error("qtest: expected a value, got '%s'", r);
    g_free(r);
    return v;
}

#define CMD_NO_VALUE(qt, ...) g_free(qtest_cmd_ok(qt, __VA_ARGS__))

void qtest_outb(struct qtest *qt, uint16_t port, uint8_t val) { CMD_NO_VALUE(qt, "outb 0x%x 0x%x", port, val); }
void qtest_outw(struct qtest *qt, uint16_t port, uint16_t val) { CMD_NO_VALUE(qt, "outw 0x%x 0x%x", port, val); }
void qtest_outl(struct qtest *qt, uint16_t port, uint32_t val) { CMD_NO_VALUE(qt, "outl 0x%x 0x%x", port, val); }
uint8_t qtest_inb(struct qtest *qt, uint16_t port) { return (uint8_t)cmd_value(qt, "inb 0x%x", port); }
uint16_t qtest_inw(struct qtest *qt, uint16_t port) { return (uint16_t)cmd_value(qt, "inw 0x%x", port); }
uint32_t qtest_inl(struct qtest *qt, uint16_t port) { return (uint32_t)cmd_value(qt, "inl 0x%x", port); }

void qtest_writeb(struct qtest *qt, uint64_t a, uint8_t v) { CMD_NO_VALUE(qt, "writeb 0x%" G_GINT64_MODIFIER "x 0x%x", a, v); }
void qtest_writel(struct qtest *qt, uint64_t a, uint32_t v) { CMD_NO_VALUE(qt, "writel 0x%" G_GINT64_MODIFIER "x 0x%x", a, v); }
void qtest_writeq(struct qtest *qt, uint64_t a, uint64_t v)
{
    CMD_NO_VALUE(qt, "writeq 0x%" G_GINT64_MODIFIER "x 0x%" G_GINT64_MODIFIER "x", a, v);
}
uint8_t qtest_readb(struct qtest *qt, uint64_t a) { return (uint8_t)cmd_value(qt, "readb 0x%" G_GINT64_MODIFIER "x", a); }
uint32_t qtest_readl(struct qtest *qt, uint64_t a) { return (uint32_t)cmd_value(qt, "readl 0x%" G_GINT64_MODIFIER "x", a); }
uint64_t qtest_readq(struct qtest *qt, uint64_t a) { return cmd_value(qt, "readq 0x%" G_GINT64_MODIFIER "x", a); }

void qtest_memwrite(struct qtest *qt, uint64_t gpa, const void *buf, size_t len)
{
    GString *hex = g_string_sized_new(len * 2);
    for (size_t i = 0; i < len; i++)
        g_string_append_printf(hex, "%02x", ((const uint8_t *)buf)[i]);
    CMD_NO_VALUE(qt, "memwrite 0x%" G_GINT64_MODIFIER "x %s", gpa, hex->str);
    g_string_free(hex, TRUE);
}

void qtest_memread(struct qtest *qt, uint64_t gpa, void *buf, size_t len)
{
    char *hex = qtest_cmd_ok(qt, "memread 0x%" G_GINT64_MODIFIER "x %zu", gpa, len);
    const char *h = hex;
    if (g_str_has_prefix(h, "0x"))
        h += 2;
    g_assert_cmpuint(strlen(h), ==, len * 2);
    for (size_t i = 0; i < len; i++) {
        /* A non-hex reply would shift g_ascii_xdigit_value's -1: reject it first. */
        if (!g_ascii_isxdigit(h[2 * i]) || !g_ascii_isxdigit(h[2 * i + 1]))
            g_error("qtest: memread replied non-hex '%s'", hex);
        ((uint8_t *)buf)[i] = (uint8_t)(g_ascii_xdigit_value(h[2 * i]) << 4 |
                                        g_ascii_xdigit_value(h[2 * i + 1]));
    }
    g_free(hex);
}

uint32_t qtest_pci_config_readl(struct qtest *qt, unsigned bus, unsigned dev, unsigned fn,
                                unsigned reg)
{
    uint32_t addr = 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfc);
    qtest_outl(qt, 0xcf8, addr);
    return qtest_inl(qt, 0xcfc);
}

char **qtest_irq_log(struct qtest *qt)
{
    char *all = qtest_cmd_ok(qt, "irq_log");
    char **lines = *all ? g_strsplit(all, "\n", -1) : g_new0(char *, 1);
    g_free(all);
    return lines;
}

int qtest_isa_level(struct qtest *qt, unsigned irq)
{
    return (int)cmd_value(qt, "isa_level %u", irq);
}

char *qtest_dm_status(struct qtest *qt)
{
    return qtest_cmd_ok(qt, "dm_status");
}

/* The parent pid in /proc/PID/stat: the field after the ")" that ends the command name. */
static pid_t parent_of(const char *pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%s/stat", pid);
    g_autofree char *text = NULL;
    const char *end;
    int ppid = -1;

    if (!g_file_get_contents(path, &text, NULL, NULL) || (end = strrchr(text, ')')) == NULL) {
        return -1;
    }
    if (sscanf(end + 1, " %*c %d", &ppid) != 1) {
        return -1;
    }
    return ppid;
}

pid_t qtest_dm_pid(struct qtest *qt)
{
    return qtest_child_pid(qt->pid);
}

pid_t qtest_child_pid(pid_t parent)
{
    GDir *dir = g_dir_open("/proc", 0, NULL);
    const char *name;
    pid_t found = -1;

    if (dir == NULL) {
        return -1;
    }
    while (found < 0 && (name = g_dir_read_name(dir)) != NULL) {
        if (g_ascii_isdigit(name[0]) && parent_of(name) == parent) {
            found = (pid_t)g_ascii_strtoll(name, NULL, 10);
        }
    }
    g_dir_close(dir);
    return found;
}

unsigned qtest_count_in_file(const char *path, const char *needle)
{
    g_autofree char *text = NULL;
    unsigned n = 0;

    if (!g_file_get_contents(path, &text, NULL, NULL)) {
        return 0;
    }
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle)) {
        n++;
    }
    return n;
}

uint32_t qtest_xorshift32(uint32_t *state)
{
    uint32_t x = *state;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

static void reap(struct qtest *qt, unsigned timeout_ms)
{
    for (unsigned waited = 0; !qt->exited; waited += 10) {
        int status;
        pid_t r = waitpid(qt->pid, &status, WNOHANG);
        if (r == qt->pid) {
            qt->exited = true;
            qt->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            break;
        }
        if (waited >= timeout_ms) {
            kill(qt->pid, SIGKILL);
            timeout_ms = waited + 5000;
        }
        g_usleep(10000);
    }
}

static void qtest_free(struct qtest *qt)
{
    close(qt->fd);
    g_string_free(qt->inbuf, TRUE);
    g_free(qt);
}

int qtest_quit(struct qtest *qt)
{
    if (send_line(qt, "quit\n")) {
        char *reply = read_line(qt);
        g_free(reply);
    }
    reap(qt, 15000);
    int status = qt->exit_status;
    qtest_free(qt);
    return status;
}

void qtest_kill(struct qtest *qt)
{
    /* SIGTERM lets xensim stop its device model; reap() escalates to SIGKILL. */
    kill(qt->pid, SIGTERM);
    reap(qt, 10000);
    qtest_free(qt);
}

void qtest_assert_start_refused(const char *xensim_args, const char *dm_args,
                                const char *expected_message)
{
    static unsigned attempt;
    g_autofree char *name = g_strdup_printf("refused-%u.log", attempt++);
    g_autofree char *log = qtest_tmp_path(name);
    g_autofree char *quoted = g_shell_quote(log);
    g_autofree char *args = g_strdup_printf("%s --dm-log %s", xensim_args ? xensim_args : "",
                                            quoted);
    g_autofree char *said = NULL;
    GError *err = NULL;

    struct qtest *qt = qtest_try_start(args, dm_args, &err);
    g_assert_no_error(err);
    /* xensim's status 20: the device model died before it reported running. */
    g_assert_cmpint(qtest_quit(qt), ==, 20);
    if (!g_file_get_contents(log, &said, NULL, NULL))
        said = g_strdup("");
    if (!strstr(said, expected_message)) {
        g_test_message("%s refused \"%s\" saying:\n%s", qtest_dm_name(), dm_args, said);
        g_assert_cmpstr(said, ==, expected_message); /* shows both */
    }
    unlink(log);
}

char *qtest_wait_file(const char *path, size_t len, unsigned timeout_ms)
{
    for (unsigned waited = 0;; waited += 10) {
        char *data = NULL;
        gsize got = 0;
        if (g_file_get_contents(path, &data, &got, NULL) && got >= len)
            return data;
        g_free(data);
        if (waited >= timeout_ms)
            break;
        g_usleep(10000);
    }
    char *data = NULL;
    if (!g_file_get_contents(path, &data, NULL, NULL))
        data = g_strdup("");
    return data;
}
