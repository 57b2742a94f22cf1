/*
 * End-to-end: xensim with a real device model on the drop-in libraries,
 * driven over --qtest-fd. dm-echo always; Debian's unmodified qemu-xen when it
 * is installed (its i440FX and UART must answer through xensim).
 *
 * Environment (set by meson): XENSIM_BIN, XENSIM_DM_ECHO, XENSIM_LIBDIR.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>

#define QEMU_XEN "/usr/libexec/xen-qemu-system-i386"

struct session {
    pid_t pid;
    int fd;
    GString *in;
};

static void session_start(struct session *s, const char *const *extra)
{
    int sv[2];
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(argv, g_strdup(g_getenv("XENSIM_BIN")));
    g_ptr_array_add(argv, g_strdup("--qtest-fd"));
    g_ptr_array_add(argv, g_strdup_printf("%d", sv[1]));
    for (unsigned i = 0; extra[i]; i++)
        g_ptr_array_add(argv, g_strdup(extra[i]));
    g_ptr_array_add(argv, NULL);
    s->pid = fork();
    g_assert_cmpint(s->pid, >=, 0);
    if (s->pid == 0) {
        close(sv[0]);
        execv(argv->pdata[0], (char **)argv->pdata);
        _exit(127);
    }
    g_ptr_array_unref(argv);
    close(sv[1]);
    s->fd = sv[0];
    s->in = g_string_new(NULL);
}

static char *session_line(struct session *s)
{
    for (;;) {
        char *nl = memchr(s->in->str, '\n', s->in->len);
        if (nl) {
            char *line = g_strndup(s->in->str, (gsize)(nl - s->in->str));
            g_string_erase(s->in, 0, nl - s->in->str + 1);
            return line;
        }
        char buf[1024];
        ssize_t n = recv(s->fd, buf, sizeof(buf), 0);
        if (n <= 0)
            return g_strdup("<eof>");
        g_string_append_len(s->in, buf, n);
    }
}

static void expect(struct session *s, const char *cmd, const char *reply)
{
    g_autofree char *line = g_strconcat(cmd, "\n", NULL);
    g_assert_cmpint(send(s->fd, line, strlen(line), MSG_NOSIGNAL), ==, (ssize_t)strlen(line));
    g_autofree char *got = session_line(s);
    g_test_message("%s -> %s", cmd, got);
    g_assert_cmpstr(got, ==, reply);
}

/* For replies that carry a measurement: only the prefix is fixed. */
static void expect_prefix(struct session *s, const char *cmd, const char *prefix)
{
    g_autofree char *line = g_strconcat(cmd, "\n", NULL);
    g_assert_cmpint(send(s->fd, line, strlen(line), MSG_NOSIGNAL), ==, (ssize_t)strlen(line));
    g_autofree char *got = session_line(s);
    g_test_message("%s -> %s", cmd, got);
    g_assert_true(g_str_has_prefix(got, prefix));
}

static int session_end(struct session *s)
{
    expect(s, "quit", "OK");
    int status;
    g_assert_cmpint(waitpid(s->pid, &status, 0), ==, s->pid);
    close(s->fd);
    g_string_free(s->in, TRUE);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_dm_echo(void)
{
    const char *const args[] = { "--dm", g_getenv("XENSIM_DM_ECHO"), "--raw-dm-args", "--",
                                 "--domid", "1", "--ports", "0x3f8-0x3ff", NULL };
    struct session s;
    session_start(&s, args);
    expect(&s, "inb 0x3fd", "OK 0xfd");
    expect(&s, "inw 0x3fe", "OK 0x3fe");
    expect(&s, "outb 0x3f8 0x41", "OK");
    expect(&s, "inb 0x2f8", "OK 0xff");         /* unclaimed */
    expect(&s, "outb 0x70 0x0d", "OK");         /* RTC register D, Xen's own */
    expect(&s, "inb 0x71", "OK 0x80");
    expect(&s, "ins 1 0x3f8 0x1000 4", "OK");   /* REP INS (dm-echo leaves RAM alone) */
    expect(&s, "ins 1 0x2f8 0x1000 2", "OK");   /* unclaimed REP INS: all-ones in RAM */
    expect(&s, "memread 0x1000 2", "OK 0xffff");
    expect(&s, "memset 0x2000 2 0x55", "OK");
    expect(&s, "memread 0x2000 2", "OK 0x5555");
    expect(&s, "memread 0xa0000 1", "ERR not RAM");
    expect(&s, "irq_log", "OK 0");
    expect(&s, "shutdown_reason", "OK none");
    expect(&s, "dm_status", "OK running");
    expect(&s, "xs_read /local/domain/0/device-model/1/state", "OK running");
    expect(&s, "p2m_remove 0x300 1", "OK");     /* INVALIDATE answered */
    /* Accesses that complete inside xensim chain without recursion, however many. */
    expect_prefix(&s, "bench_io inb 0x2f8 300000", "OK ");
    expect_prefix(&s, "bench_io inb 0x3fd 100", "OK ");
    expect(&s, "xs_write x two words", "OK");  /* relative: under /local/domain/0 */
    expect(&s, "xs_read /local/domain/0/x", "OK two words");
    g_assert_cmpint(session_end(&s), ==, 0);
}

static void test_qemu_xen(void)
{
    if (access(QEMU_XEN, X_OK) < 0) {
        g_test_skip("qemu-xen is not installed");
        return;
    }
    if (g_strcmp0(g_getenv("XENSIM_SANITIZED"), "1") == 0) {
        g_test_skip("sanitized libraries cannot load into qemu-xen");
        return;
    }
    const char *const args[] = { "--dm", QEMU_XEN, "--serial", "null", NULL };
    struct session s;
    session_start(&s, args);
    expect(&s, "inb 0x3fd", "OK 0x60");         /* 16550 LSR: THR and TSR empty */
    expect(&s, "outl 0xcf8 0x80000000", "OK");
    expect(&s, "inl 0xcfc", "OK 0x12378086");   /* i440FX, as PCI_CONFIG */
    expect(&s, "outl 0xcf8 0x80000800", "OK");
    expect(&s, "inl 0xcfc", "OK 0x70008086");   /* PIIX3 */
    expect(&s, "outl 0xcf8 0x80000860", "OK");
    expect(&s, "outb 0xcfc 0x0b", "OK");        /* PIRQA -> IRQ 11: set_pci_link_route */
    expect(&s, "dm_status", "OK running");
    g_assert_cmpint(session_end(&s), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (!g_getenv("XENSIM_BIN") || !g_getenv("XENSIM_DM_ECHO")) {
        g_printerr("XENSIM_BIN and XENSIM_DM_ECHO must be set\n");
        return 77;
    }
    g_test_add_func("/xensim/e2e/dm-echo", test_dm_echo);
    g_test_add_func("/xensim/e2e/qemu-xen", test_qemu_xen);
    return g_test_run();
}
