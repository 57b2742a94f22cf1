/* The benchmark's qtest client: see bench-client.h. */
#include "bench-client.h"
#include "libqtest.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* Generous: qemu-xen's start-up on a loaded 2-core machine. */
#define REPLY_TIMEOUT_MS 30000
/* Commands per pipelined batch: replies of a batch fit the socket buffer many times over. */
#define PIPELINE_BATCH 256u
/* xensim gives the device model 5 s to leave on quit; it gets a little more. */
#define QUIT_GRACE_MS 8000

#define BENCH_ERROR (g_quark_from_static_string("bench"))

struct bench_session {
    pid_t xensim_pid;
    int fd;
    GString *in;
};

static GPtrArray *xensim_argv(const char *dm_path, GError **err)
{
    const char *xensim = g_getenv("XENSIM");
    const char *libdir = g_getenv("XENSIM_LIBDIR");
    GPtrArray *argv;

    if (xensim == NULL) {
        g_set_error(err, BENCH_ERROR, 0, "XENSIM is not set");
        return NULL;
    }
    argv = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(argv, g_strdup(xensim));
    /* The child's end of the socket pair becomes fd 3. */
    g_ptr_array_add(argv, g_strdup("--qtest-fd=3"));
    g_ptr_array_add(argv, g_strdup_printf("--dm=%s", dm_path));
    if (libdir != NULL) {
        g_ptr_array_add(argv, g_strdup_printf("--libdir=%s", libdir));
    }
    g_ptr_array_add(argv, g_strdup("--serial"));
    g_ptr_array_add(argv, g_strdup("null"));
    g_ptr_array_add(argv, NULL);
    return argv;
}

static void child_exec(GPtrArray *argv, int sock, int log_fd)
{
    /* bench-ioreq ignores SIGPIPE; xensim and the device model get the default. */
    signal(SIGPIPE, SIG_DFL);
    /* The log first: it may itself be fd 3, which the socket takes next. */
    if (log_fd >= 0 && (dup2(log_fd, STDOUT_FILENO) < 0 || dup2(log_fd, STDERR_FILENO) < 0)) {
        _exit(127);
    }
    if (dup2(sock, 3) < 0) {
        _exit(127);
    }
    execv(argv->pdata[0], (char **)argv->pdata);
    fprintf(stderr, "bench: exec %s: %s\n", (char *)argv->pdata[0], strerror(errno));
    _exit(127);
}

/* One reply line without its newline, or NULL (with *err) on EOF or timeout. */
static char *read_line(struct bench_session *s, GError **err)
{
    for (;;) {
        char *nl = memchr(s->in->str, '\n', s->in->len);
        if (nl != NULL) {
            size_t n = (size_t)(nl - s->in->str);
            char *line = g_strndup(s->in->str, n);
            g_string_erase(s->in, 0, (gssize)n + 1);
            return line;
        }
        struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
        int r = poll(&pfd, 1, REPLY_TIMEOUT_MS);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            g_set_error(err, BENCH_ERROR, 0, "no reply from xensim within %d ms",
                        REPLY_TIMEOUT_MS);
            return NULL;
        }
        char buf[16384];
        ssize_t got = read(s->fd, buf, sizeof(buf));
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            g_set_error(err, BENCH_ERROR, 0, "xensim closed the qtest socket");
            return NULL;
        }
        g_string_append_len(s->in, buf, got);
    }
}

static bool write_all(struct bench_session *s, const char *buf, size_t len, GError **err)
{
    while (len > 0) {
        ssize_t n = write(s->fd, buf, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            g_set_error(err, BENCH_ERROR, 0, "cannot write to xensim: %s", g_strerror(errno));
            return false;
        }
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

/* The text after "OK", or NULL with *err set from an "ERR ..." line. */
static char *parse_reply(char *line, GError **err)
{
    char *result = NULL;

    if (g_str_has_prefix(line, "OK")) {
        result = g_strdup(g_strchug(line + 2));
    } else {
        g_set_error(err, BENCH_ERROR, 0, "%s", line);
    }
    g_free(line);
    return result;
}

char *bench_cmd(struct bench_session *s, GError **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *cmd = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_autofree char *line = g_strconcat(cmd, "\n", NULL);
    char *reply;

    if (!write_all(s, line, strlen(line), err)) {
        return NULL;
    }
    reply = read_line(s, err);
    return reply != NULL ? parse_reply(reply, err) : NULL;
}

static bool read_batch_replies(struct bench_session *s, unsigned n, GError **err)
{
    for (unsigned i = 0; i < n; i++) {
        char *reply = parse_reply(read_line(s, err) ?: g_strdup("ERR no reply"), err);
        if (reply == NULL) {
            return false;
        }
        g_free(reply);
    }
    return true;
}

int64_t bench_pipeline(struct bench_session *s, const char *line, unsigned count, GError **err)
{
    g_autoptr(GString) batch = g_string_new(NULL);
    int64_t start = g_get_monotonic_time();

    for (unsigned i = 0; i < MIN(count, PIPELINE_BATCH); i++) {
        g_string_append_printf(batch, "%s\n", line);
    }
    size_t per_line = strlen(line) + 1;
    while (count > 0) {
        unsigned n = MIN(count, PIPELINE_BATCH);
        if (!write_all(s, batch->str, n * per_line, err) || !read_batch_replies(s, n, err)) {
            return -1;
        }
        count -= n;
    }
    return (g_get_monotonic_time() - start) * 1000;
}

struct bench_session *bench_session_start(const char *dm_path, int log_fd, GError **err)
{
    g_autoptr(GPtrArray) argv = xensim_argv(dm_path, err);
    int sv[2];

    if (argv == NULL) {
        return NULL;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        g_set_error(err, BENCH_ERROR, 0, "socketpair: %s", g_strerror(errno));
        return NULL;
    }
    pid_t pid = fork();
    if (pid == 0) {
        child_exec(argv, sv[1], log_fd);
    }
    close(sv[1]);
    if (pid < 0) {
        g_set_error(err, BENCH_ERROR, 0, "fork: %s", g_strerror(errno));
        close(sv[0]);
        return NULL;
    }
    struct bench_session *s = g_new0(struct bench_session, 1);
    s->xensim_pid = pid;
    s->fd = sv[0];
    s->in = g_string_new(NULL);
    /* xensim reads commands only once the device model is running. */
    g_autofree char *status = bench_cmd(s, err, "dm_status");
    if (status == NULL || strcmp(status, "running") != 0) {
        if (status != NULL) {
            g_set_error(err, BENCH_ERROR, 0, "device model %s", status);
        }
        bench_session_end(s);
        return NULL;
    }
    return s;
}

pid_t bench_session_dm_pid(struct bench_session *s)
{
    return qtest_child_pid(s->xensim_pid);
}

static bool reap(pid_t pid, int wait_ms)
{
    for (int waited = 0; waited <= wait_ms; waited += 10) {
        pid_t r = waitpid(pid, NULL, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD)) {
            return true;
        }
        g_usleep(10 * 1000);
    }
    return false;
}

void bench_session_end(struct bench_session *s)
{
    if (s == NULL) {
        return;
    }
    /* Best effort: a session whose xensim already went away just gets reaped. */
    static const char quit[] = "quit\n";
    if (write(s->fd, quit, sizeof(quit) - 1) < 0) {
        /* reaped below either way */
    }
    if (!reap(s->xensim_pid, QUIT_GRACE_MS)) {
        /* xensim is stuck: its device model would outlive it, so it goes first. */
        pid_t dm = bench_session_dm_pid(s);
        if (dm > 0) {
            kill(dm, SIGKILL);
        }
        kill(s->xensim_pid, SIGKILL);
        reap(s->xensim_pid, QUIT_GRACE_MS);
    }
    close(s->fd);
    g_string_free(s->in, TRUE);
    g_free(s);
}
