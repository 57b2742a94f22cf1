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
#define BENCH_USAGE "ERR usage: bench_io VERB ADDR COUNT"
/* Where the benchmark puts the Xen platform device's (00:02.0) 16 MiB BAR1. */
#define PLATFORM_BAR1 "0xf0000000"

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

/*
 * A synchronous round trip through another process (event to the device model, its answer,
 * the event back) costs microseconds; an access xensim completes itself costs tens of
 * nanoseconds. Half a microsecond tells the two apart with a wide margin on either side.
 */
#define MIN_ROUND_TRIP_NS 500

/*
 * `bench_io VERB ADDR COUNT` (cmd, with count its COUNT): the reply "OK NS" must say that
 * every access waited for the device model's answer.
 */
static void expect_round_trips(struct session *s, const char *cmd, unsigned count)
{
    g_autofree char *line = g_strconcat(cmd, "\n", NULL);
    g_assert_cmpint(send(s->fd, line, strlen(line), MSG_NOSIGNAL), ==, (ssize_t)strlen(line));
    g_autofree char *got = session_line(s);
    g_test_message("%s -> %s", cmd, got);
    g_assert_true(g_str_has_prefix(got, "OK "));
    char *end = NULL;
    int64_t ns = g_ascii_strtoll(got + 3, &end, 10);
    g_assert_true(end != got + 3 && *end == '\0');
    g_assert_cmpint(ns, >=, (int64_t)count * MIN_ROUND_TRIP_NS);
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

/*
 * bench_io refuses what would not measure an MMIO round trip through a device model, and
 * every malformed form; the session keeps serving. The floor (dm-echo) claims
 * 0xf0000000-0xf0ffffff by default.
 */
static void test_bench_io_mmio_errors(struct session *s)
{
    expect(s, "bench_io readl 0xf1000000 10", "ERR unclaimed");
    expect(s, "bench_io writel 0xefffffff 10", "ERR unclaimed");
    expect(s, "bench_io readl 0xf0fffffe 10", "ERR unclaimed");  /* straddles the claim's end */
    expect(s, "bench_io readq 0xeffffffc 10", "ERR unclaimed");  /* and its start */
    expect(s, "bench_io readl 0x1000 10", "ERR Xen answers it: guest RAM");
    expect(s, "bench_io writeb 0xfee00020 10", "ERR Xen answers it: local APIC");
    expect(s, "bench_io readq 0xfffffffffffffffc 1", "ERR bad address");
    expect(s, "bench_io readx 0xf0000000 10", "ERR bad verb or width");
    expect(s, "bench_io read 0xf0000000 10", "ERR bad verb or width");
    expect(s, "bench_io readll 0xf0000000 10", "ERR bad verb or width");
    expect(s, "bench_io inq 0x3f8 10", "ERR bad verb or width");
    expect(s, "bench_io movsl 0xf0000000 10", "ERR bad verb or width");
    expect(s, "bench_io readl 0xf0000000 0", "ERR bad count");
    expect(s, "bench_io readl 0xf0000000 16777217", "ERR bad count");
    expect(s, "bench_io readl 0xf0000000 99999999999999999999", BENCH_USAGE);
    expect(s, "bench_io readl 0xf0000000", BENCH_USAGE);
    expect(s, "bench_io readl 0xf0000000 10 11", BENCH_USAGE);
    expect(s, "bench_io inb 0x10000 10", "ERR bad address");
    expect(s, "readl 0xf0000004", "OK 0xf0000004");              /* still serving */
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
    /* MMIO in dm-echo's default claim: reads echo the address's low bits. */
    expect(&s, "readl 0xf0000010", "OK 0xf0000010");
    expect(&s, "readb 0xf0000013", "OK 0x13");
    expect(&s, "readq 0xf0fffff8", "OK 0xf0fffff8");
    expect(&s, "writel 0xf0000000 0x1234", "OK");
    expect(&s, "readl 0xf1000000", "OK 0xffffffff");    /* unclaimed: Xen's all-ones */
    expect(&s, "readw 0xf0ffffff", "OK 0xffff");        /* straddles the claim: unclaimed */
    for (unsigned i = 0; i < 4; i++) {
        static const char *const verbs[] = { "readl", "writew", "readq", "writeb" };
        g_autofree char *cmd = g_strdup_printf("bench_io %s 0xf0000100 200", verbs[i]);
        expect_round_trips(&s, cmd, 200);
    }
    test_bench_io_mmio_errors(&s);
    expect(&s, "xs_write x two words", "OK");  /* relative: under /local/domain/0 */
    expect(&s, "xs_read /local/domain/0/x", "OK two words");
    g_assert_cmpint(session_end(&s), ==, 0);
}

/* dm-echo's --mmio: another window, and none; its answers follow the claim, not the default. */
static void test_dm_echo_mmio_option(void)
{
    const char *const moved[] = { "--dm", g_getenv("XENSIM_DM_ECHO"), "--raw-dm-args", "--",
                                  "--domid", "1", "--mmio", "0xfe000000-0xfe000fff", NULL };
    const char *const none[] = { "--dm", g_getenv("XENSIM_DM_ECHO"), "--raw-dm-args", "--",
                                 "--domid", "1", "--mmio", "none", NULL };
    struct session s;

    session_start(&s, moved);
    expect(&s, "readl 0xfe000ffc", "OK 0xfe000ffc");
    expect(&s, "readl 0xf0000000", "OK 0xffffffff");       /* the default window: not claimed */
    expect_round_trips(&s, "bench_io readw 0xfe000000 100", 100);
    expect(&s, "bench_io readl 0xf0000000 10", "ERR unclaimed");
    /* A raw ioreq outside the claim reaches dm-echo anyway: nothing there, all-ones. */
    expect(&s, "ioreq copy r 4 1 0xf0000000 0", "OK 0xffffffffffffffff");
    expect(&s, "ioreq copy r 4 1 0xfe000010 0", "OK 0xfe000010");
    expect(&s, "ioreq copy r 3 1 0xfe000010 0", "OK 0xffffffffffffffff"); /* no such size */
    g_assert_cmpint(session_end(&s), ==, 0);

    session_start(&s, none);
    expect(&s, "readl 0xf0000000", "OK 0xffffffff");
    expect(&s, "bench_io readl 0xf0000000 10", "ERR unclaimed");
    expect(&s, "inb 0x3fd", "OK 0xfd");                    /* the ports stay claimed */
    g_assert_cmpint(session_end(&s), ==, 0);
}

/*
 * A xenfv device model (xendm, qemu-xen): BAR1 of the platform device programmed as the
 * benchmark does; both answer its reads with 0. bench_io then reaches the device model
 * through the claim its memory core made, and refuses just outside it.
 */
static void check_platform_bar1_bench(struct session *s)
{
    expect(s, "bench_io readl " PLATFORM_BAR1 " 10", "ERR unclaimed");  /* not decoding yet */
    expect(s, "outl 0xcf8 0x80001014", "OK");
    expect(s, "outl 0xcfc " PLATFORM_BAR1, "OK");
    expect(s, "outl 0xcf8 0x80001004", "OK");
    expect(s, "outw 0xcfc 0x2", "OK");                                /* memory decoding on */
    expect(s, "readl " PLATFORM_BAR1, "OK 0x0");
    expect(s, "readq 0xf0fffff8", "OK 0x0");
    expect_round_trips(s, "bench_io readl " PLATFORM_BAR1 " 500", 500);
    expect_round_trips(s, "bench_io writel 0xf0000040 100", 100);
    expect_round_trips(s, "bench_io readb 0xf0ffffff 100", 100);
    expect(s, "bench_io readl 0xf0fffffe 10", "ERR unclaimed");
    expect(s, "bench_io readl 0xf1000000 10", "ERR unclaimed");
    expect(s, "readl " PLATFORM_BAR1, "OK 0x0");                      /* still serving */
    expect(s, "dm_status", "OK running");
}

/*
 * REP INSB of 6000 bytes from the UART's LSR into a buffer that crosses two page boundaries:
 * xensim splits it as Xen does (no piece's buffer leaves its page), so the device model
 * accepts every piece and each byte reads THR and TSR empty; the byte after is untouched.
 */
static void check_rep_ins_across_pages(struct session *s)
{
    expect(s, "memset 0x10000 0x4000 0", "OK");
    expect(s, "ins 1 0x3fd 0x10ff0 6000", "OK");
    expect(s, "memread 0x10ff0 4", "OK 0x60606060");
    expect(s, "memread 0x10ffe 4", "OK 0x60606060");     /* first page boundary */
    expect(s, "memread 0x11ffe 4", "OK 0x60606060");     /* second */
    expect(s, "memread 0x1275e 4", "OK 0x60600000");     /* its end: 0x10ff0 + 6000 */
    /* Downwards (DF=1) from the same end, across the same boundaries. */
    expect(s, "memset 0x10000 0x4000 0", "OK");
    expect(s, "ins 1 0x3fd 0x1275f 6000 1", "OK");
    expect(s, "memread 0x10fee 4", "OK 0x00006060");
    expect(s, "memread 0x11ffe 4", "OK 0x60606060");
    expect(s, "memread 0x1275e 4", "OK 0x60600000");
}

static void test_xendm(void)
{
    /* The build's xendm, where xensim looks for it by default (../../xendm). */
    g_autofree char *dir = g_path_get_dirname(g_getenv("XENSIM_BIN"));
    g_autofree char *xendm = g_build_filename(dir, "..", "..", "xendm", NULL);
    if (access(xendm, X_OK) < 0) {
        g_test_skip("xendm is not built");
        return;
    }
    const char *const args[] = { "--dm", xendm, "--serial", "null", NULL };
    struct session s;
    session_start(&s, args);
    check_platform_bar1_bench(&s);
    expect(&s, "inb 0x3fd", "OK 0x60");         /* 16550 LSR: THR and TSR empty */
    check_rep_ins_across_pages(&s);
    expect(&s, "dm_status", "OK running");
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
    check_platform_bar1_bench(&s);
    check_rep_ins_across_pages(&s);
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
    g_test_add_func("/xensim/e2e/dm-echo/mmio-option", test_dm_echo_mmio_option);
    g_test_add_func("/xensim/e2e/xendm", test_xendm);
    g_test_add_func("/xensim/e2e/qemu-xen", test_qemu_xen);
    return g_test_run();
}
