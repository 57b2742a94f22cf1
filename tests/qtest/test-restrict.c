/*
 * dm_restrict under xensim: xendm with -xen-domid-restrict (every library
 * handle restricted to the guest's domain, as xensim's wire server sees it),
 * with -sandbox on (a whole qtest and QMP session still works, and the device
 * model exits cleanly), and with -S on a QMP socket pre-opened by the
 * toolstack (the guest's accesses are not served until QMP cont).
 *
 * xendm only: these are xendm's own options' behaviour. The test plays the
 * part of libxl's QMP client itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "libqtest.h"
#include "qtest-qmp.h"

#define COM1_SCR 0x3ff /* the UART's scratch register: reads back what was written */

static void assert_status(struct qmp *q, const char *status)
{
    g_autofree char *reply = qmp_call(q, "{\"execute\": \"query-status\"}");
    g_autofree char *want = g_strdup_printf("\"status\":\"%s\"", status);
    g_test_message("query-status -> %s", reply);
    g_assert_nonnull(strstr(reply, want));
}

/* ---- helpers ---- */

static bool sanitized(void)
{
#if defined(__SANITIZE_ADDRESS__)
    return true;
#else
    return false;
#endif
}

static void assert_scratch_works(struct qtest *qt, uint8_t value)
{
    qtest_outb(qt, COM1_SCR, value);
    g_assert_cmphex(qtest_inb(qt, COM1_SCR), ==, value);
}

/* Whether every handle is restricted to domain 1, as xensim's wire server records it. */
static bool all_restricted(struct qtest *qt, char **last)
{
    g_autofree char *r = qtest_cmd_ok(qt, "restrictions");
    g_auto(GStrv) words = g_strsplit(r, " ", -1);
    unsigned n = (unsigned)g_ascii_strtoull(words[0], NULL, 10);

    g_free(*last);
    *last = g_strdup(r);
    g_assert_cmpuint(g_strv_length(words), ==, n + 2);
    /* evtchn, foreignmemory, devicemodel and xenctrl at least. */
    if (n < 4) {
        return false;
    }
    for (unsigned i = 2; words[i] != NULL; i++) {
        if (!g_str_has_suffix(words[i], ":d1")) {
            return false;
        }
    }
    return true;
}

/*
 * xensim lets the vCPUs run once "running" is in xenstore, which xendm writes just
 * before restricting: wait (up to 5 s) for the restriction to follow.
 */
static void assert_all_restricted(struct qtest *qt)
{
    g_autofree char *last = NULL;

    for (unsigned i = 0; i < 500 && !all_restricted(qt, &last); i++) {
        g_usleep(10 * 1000);
    }
    g_test_message("restrictions: %s", last);
    g_assert_true(all_restricted(qt, &last));
    g_assert_nonnull(strstr(last, "refused=0")); /* xendm never names another domain */
}

/* A listening socket the "toolstack" made, at an fd number above what libqtest uses. */
static int preopened_listener(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0); /* inherited: no close-on-exec */
    int high;

    g_assert_cmpint(fd, >=, 0);
    strcpy(sa.sun_path, path);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    g_assert_cmpint(listen(fd, 1), ==, 0);
    high = fcntl(fd, F_DUPFD, 20);
    g_assert_cmpint(high, >=, 20);
    close(fd);
    return high;
}

/* ---- the tests ---- */

static void test_domid_restrict(void)
{
    g_autofree char *out = qtest_tmp_path("com1.out");
    g_autofree char *xs_args = g_strdup_printf("--serial file:%s", out);
    struct qtest *qt = qtest_start(xs_args, "-xen-domid-restrict");
    g_autofree char *state = NULL;
    g_autofree char *why = NULL;

    assert_all_restricted(qt);
    /*
     * As qemu-xen: no xenstore state when restricted (xensim, like libxl, polled QMP
     * query-status instead; libxl trips over a DM that answers both ways).
     */
    state = qtest_cmd(qt, &why, "xs_read /local/domain/0/device-model/1/state");
    g_assert_null(state);
    g_assert_cmpstr(why, ==, "ENOENT");
    assert_scratch_works(qt, 0x5a);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void test_sandbox_session(void)
{
    g_autofree char *out = qtest_tmp_path("com1.out");
    g_autofree char *qmp_path = qtest_tmp_path("qmp.sock");
    g_autofree char *xs_args = g_strdup_printf("--serial file:%s", out);
    g_autofree char *dm_args = g_strdup_printf(
        "-xen-domid-restrict -sandbox on -chardev socket,id=tq,path=%s,server=on,wait=off "
        "-mon chardev=tq,mode=control", qmp_path);
    struct qtest *qt;
    struct qmp *q;
    int pipefd[2];

    if (sanitized()) {
        g_test_skip("a sanitizer's run-time needs system calls outside the allow-list");
        return;
    }
    qt = qtest_start(xs_args, dm_args);
    assert_all_restricted(qt);
    assert_scratch_works(qt, 0xa5);
    qtest_outb(qt, 0x3f8, 'Z'); /* the file chardev's write */

    q = qmp_open(qmp_path);
    qmp_call_ok(q, "{\"execute\": \"qmp_capabilities\"}");
    assert_status(q, "running");
    qmp_call_ok(q, "{\"execute\": \"stop\"}");
    assert_status(q, "paused");
    qmp_call_ok(q, "{\"execute\": \"cont\"}");
    assert_status(q, "running");
    qmp_call_ok(q, "{\"execute\": \"query-chardev\"}");
    {
        g_autofree char *reply = qmp_call(q, "{\"execute\": \"no-such-command\"}");
        g_assert_nonnull(strstr(reply, "\"error\""));
    }
    /* An fd passed with SCM_RIGHTS to add-fd: received under the filter. */
    g_assert_cmpint(pipe(pipefd), ==, 0);
    {
        g_autofree char *reply = qmp_call_fd(q, pipefd[1], "{\"execute\": \"add-fd\"}");
        g_test_message("add-fd -> %s", reply);
        g_assert_nonnull(strstr(reply, "\"fdset-id\""));
    }
    close(pipefd[0]);
    close(pipefd[1]);
    assert_scratch_works(qt, 0x3c);
    qmp_close(q);

    /* Still alive after the QMP client went away, then a clean exit under the filter. */
    {
        g_autofree char *status = qtest_cmd_ok(qt, "dm_status");
        g_assert_cmpstr(status, ==, "running");
    }
    g_assert_cmpint(qtest_quit(qt), ==, 0);
    {
        g_autofree char *text = qtest_wait_file(out, 1, 2000);
        g_assert_cmpstr(text, ==, "Z");
    }
}

static void test_paused_until_cont(void)
{
    g_autofree char *out = qtest_tmp_path("com1.out");
    g_autofree char *qmp_path = qtest_tmp_path("qmp-libxl.sock");
    g_autofree char *xs_args = g_strdup_printf("--serial file:%s", out);
    int listener = preopened_listener(qmp_path);
    g_autofree char *dm_args = g_strdup_printf(
        "-xen-domid-restrict -S -chardev socket,id=pre-opened,fd=%d,server=on,wait=off "
        "-mon chardev=pre-opened,mode=control", listener);
    struct qtest *qt = qtest_start(xs_args, dm_args);
    g_autofree char *servers = NULL;
    struct qmp *q;

    close(listener); /* xendm has its own copy */
    /* The server exists with its claims, disabled: Xen routes nothing to it. */
    servers = qtest_cmd_ok(qt, "servers");
    g_test_message("servers: %s", servers);
    g_assert_nonnull(strstr(servers, "enabled=0"));
    g_assert_nonnull(strstr(servers, "port:"));
    qtest_outb(qt, COM1_SCR, 0x77);
    g_assert_cmphex(qtest_inb(qt, COM1_SCR), ==, 0xff); /* unclaimed: all-ones */

    /* libxl: query-status says prelaunch, then cont. */
    q = qmp_open(qmp_path);
    qmp_call_ok(q, "{\"execute\": \"qmp_capabilities\"}");
    assert_status(q, "prelaunch");
    qmp_call_ok(q, "{\"execute\": \"cont\"}");
    assert_status(q, "running");
    g_free(servers);
    servers = qtest_cmd_ok(qt, "servers");
    g_assert_nonnull(strstr(servers, "enabled=1"));
    /* The write before cont never reached the UART. */
    g_assert_cmphex(qtest_inb(qt, COM1_SCR), ==, 0x00);
    assert_scratch_works(qt, 0x42);

    /* stop disables it again, as qemu-xen does. */
    qmp_call_ok(q, "{\"execute\": \"stop\"}");
    g_assert_cmphex(qtest_inb(qt, COM1_SCR), ==, 0xff);
    qmp_call_ok(q, "{\"execute\": \"cont\"}");
    g_assert_cmphex(qtest_inb(qt, COM1_SCR), ==, 0x42);
    qmp_close(q);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void test_not_xendm(void)
{
    /* qemu-xen writes no xenstore state when restricted and its -sandbox is a deny-list. */
    g_test_skip("xendm's restriction: not run against qemu-xen");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    if (!qtest_dm_is_xendm()) {
        g_test_add_func("/restrict/not-xendm", test_not_xendm);
        return g_test_run();
    }
    g_test_add_func("/restrict/domid-restrict", test_domid_restrict);
    g_test_add_func("/restrict/sandbox-session", test_sandbox_session);
    g_test_add_func("/restrict/paused-until-cont", test_paused_until_cont);
    return g_test_run();
}
