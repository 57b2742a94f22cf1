/* A helper program's pipes, for bench-ioreq: see bench-helper.h. */
#include "bench-helper.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The helper quits its xensim, which gives the device model 5 s: a little more. */
#define QUIT_GRACE_MS 8000

#define HELPER_ERROR (g_quark_from_static_string("bench-helper"))

struct bench_helper {
    pid_t pid;
    int to, from; /* its stdin, its stdout */
    GString *in;
};

static void child_exec(char *const *argv, char **envp, int in, int out, int log_fd)
{
    /* bench-ioreq ignores SIGPIPE; the helper, xensim and the device model get the default. */
    signal(SIGPIPE, SIG_DFL);
    if ((log_fd >= 0 && dup2(log_fd, STDERR_FILENO) < 0) || dup2(in, STDIN_FILENO) < 0 ||
        dup2(out, STDOUT_FILENO) < 0) {
        _exit(127);
    }
    execve(argv[0], argv, envp);
    fprintf(stderr, "bench: exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

static char *read_line(struct bench_helper *h, unsigned timeout_ms, GError **err)
{
    int64_t deadline = g_get_monotonic_time() + (int64_t)timeout_ms * 1000;

    for (;;) {
        char *nl = memchr(h->in->str, '\n', h->in->len);
        if (nl != NULL) {
            char *line = g_strndup(h->in->str, (size_t)(nl - h->in->str));
            g_string_erase(h->in, 0, nl - h->in->str + 1);
            return line;
        }
        int64_t left_ms = (deadline - g_get_monotonic_time()) / 1000;
        struct pollfd pfd = { .fd = h->from, .events = POLLIN };
        int r = left_ms > 0 ? poll(&pfd, 1, (int)MIN(left_ms, INT32_MAX)) : 0;
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            g_set_error(err, HELPER_ERROR, 0, "no answer within %u ms", timeout_ms);
            return NULL;
        }
        char buf[4096];
        ssize_t got = read(h->from, buf, sizeof(buf));
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            g_set_error(err, HELPER_ERROR, 0, "the helper ended (see the log)");
            return NULL;
        }
        g_string_append_len(h->in, buf, got);
    }
}

struct bench_helper *bench_helper_start(char *const *argv, const char *dm_path, int log_fd,
                                        unsigned timeout_ms, char **greeting, GError **err)
{
    g_auto(GStrv) envp = g_environ_setenv(g_get_environ(), "QTEST_DM", dm_path, TRUE);
    int to[2], from[2];
    pid_t pid;

    if (pipe2(to, O_CLOEXEC) < 0) {
        g_set_error(err, HELPER_ERROR, 0, "pipe: %s", g_strerror(errno));
        return NULL;
    }
    if (pipe2(from, O_CLOEXEC) < 0) {
        g_set_error(err, HELPER_ERROR, 0, "pipe: %s", g_strerror(errno));
        close(to[0]);
        close(to[1]);
        return NULL;
    }
    pid = fork();
    if (pid == 0) {
        child_exec(argv, envp, to[0], from[1], log_fd);
    }
    close(to[0]);
    close(from[1]);
    struct bench_helper *h = g_new0(struct bench_helper, 1);
    h->pid = pid;
    h->to = to[1];
    h->from = from[0];
    h->in = g_string_new(NULL);
    if (pid < 0) {
        g_set_error(err, HELPER_ERROR, 0, "fork: %s", g_strerror(errno));
        goto fail;
    }
    *greeting = read_line(h, timeout_ms, err);
    if (*greeting == NULL) {
        goto fail;
    }
    return h;
fail:
    bench_helper_end(h);
    return NULL;
}

char *bench_helper_cmd(struct bench_helper *h, unsigned timeout_ms, GError **err,
                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *cmd = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_autofree char *line = g_strconcat(cmd, "\n", NULL);
    char *reply;

    if (write(h->to, line, strlen(line)) != (ssize_t)strlen(line)) {
        g_set_error(err, HELPER_ERROR, 0, "the helper ended (see the log)");
        return NULL;
    }
    reply = read_line(h, timeout_ms, err);
    if (reply != NULL && !g_str_has_prefix(reply, "ok ")) {
        g_set_error(err, HELPER_ERROR, 0, "unexpected answer '%s'", reply);
        g_clear_pointer(&reply, g_free);
    } else if (reply != NULL) {
        memmove(reply, reply + 3, strlen(reply + 3) + 1);
    }
    return reply;
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

void bench_helper_end(struct bench_helper *h)
{
    static const char quit[] = "quit\n";

    if (h == NULL) {
        return;
    }
    if (h->pid > 0) {
        /* A helper that already went only needs reaping; a stuck one is killed (its own
         * xensim session then ends with the socket). */
        if (write(h->to, quit, sizeof(quit) - 1) < 0) {
            /* reaped below either way */
        }
        close(h->to);
        h->to = -1;
        if (!reap(h->pid, QUIT_GRACE_MS)) {
            kill(h->pid, SIGKILL);
            reap(h->pid, QUIT_GRACE_MS);
        }
    }
    if (h->to >= 0) {
        close(h->to);
    }
    close(h->from);
    g_string_free(h->in, TRUE);
    g_free(h);
}
