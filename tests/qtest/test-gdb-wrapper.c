/*
 * scripts/xendm-gdb as the device model: it records libxl's argv, xendm comes up under
 * xensim as it would under libxl, a real gdb attaches through the wrapper's gdbserver, reads a
 * backtrace and detaches, and xendm goes on serving the guest. When xendm exits, the
 * wrapper's gdbserver goes too.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "libqtest.h"

#define COM1_SCRATCH 0x3ff

static int free_tcp_port(void)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    g_assert_cmpint(getsockname(fd, (struct sockaddr *)&addr, &len), ==, 0);
    close(fd);
    return ntohs(addr.sin_port);
}

static bool tcp_port_open(int port)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bool open = connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;

    close(fd);
    return open;
}

/* The xendm process whose environment names our recording directory. */
static int find_xendm_pid(const char *gdb_dir)
{
    g_autofree char *needle = g_strdup_printf("XENDM_GDB_DIR=%s", gdb_dir);
    DIR *proc = opendir("/proc");
    struct dirent *de;
    int found = -1;

    g_assert_nonnull(proc);
    while (found < 0 && (de = readdir(proc)) != NULL) {
        g_autofree char *environ_path = g_strdup_printf("/proc/%s/environ", de->d_name);
        g_autofree char *exe_path = g_strdup_printf("/proc/%s/exe", de->d_name);
        g_autofree char *env = NULL;
        g_autofree char *exe = g_file_read_link(exe_path, NULL);
        gsize len = 0;

        if (exe == NULL || !g_str_has_suffix(exe, "/xendm") ||
            !g_file_get_contents(environ_path, &env, &len, NULL)) {
            continue;
        }
        for (gsize off = 0; off < len; off += strlen(env + off) + 1) {
            if (strcmp(env + off, needle) == 0) {
                found = atoi(de->d_name);
                break;
            }
        }
    }
    closedir(proc);
    return found;
}

static void scratch_round_trip(struct qtest *qt, uint8_t value)
{
    qtest_outb(qt, COM1_SCRATCH, value);
    g_assert_cmphex(qtest_inb(qt, COM1_SCRATCH), ==, value);
}

static void test_attach_and_detach(void)
{
    g_autofree char *dir = g_dir_make_tmp("xendm-gdb-XXXXXX", NULL);
    g_autofree char *argv_file = NULL, *recorded = NULL, *gdb_out = NULL, *gdb_err = NULL;
    g_autofree char *target = NULL, *attach = NULL, *port_text = NULL, *first_line = NULL;
    int port, pid, status = -1;
    struct qtest *qt;

    g_autofree char *gdb = g_find_program_in_path("gdb");
    g_autofree char *gdbserver = g_find_program_in_path("gdbserver");

    if (gdb == NULL || gdbserver == NULL) {
        g_test_skip("gdb or gdbserver is not installed");
        return;
    }
    port = free_tcp_port();
    port_text = g_strdup_printf("%d", port);
    g_assert_nonnull(dir);
    g_setenv("XENDM_GDB_DIR", dir, TRUE);
    g_setenv("XENDM_GDB_PORT", port_text, TRUE);
    g_setenv("XENDM_GDB_LISTEN", "127.0.0.1", TRUE);
    qt = qtest_start("--serial null", NULL);

    /* libxl's argv, recorded: the binary, then -xen-domid first as libxl orders it. */
    argv_file = g_strdup_printf("%s/xendm-1.argv", dir);
    g_assert_true(g_file_get_contents(argv_file, &recorded, NULL, NULL));
    first_line = g_strndup(recorded, strcspn(recorded, "\n"));
    g_assert_true(g_str_has_suffix(first_line, "/xendm"));
    g_assert_nonnull(strstr(recorded, "\n-xen-domid\n1\n"));
    g_assert_nonnull(strstr(recorded, "\n-mon\n"));

    scratch_round_trip(qt, 0x5a);
    pid = find_xendm_pid(dir);
    g_assert_cmpint(pid, >, 0);

    /* A real gdb: attach through the wrapper's gdbserver, read a backtrace, detach. */
    target = g_strdup_printf("target extended-remote 127.0.0.1:%d", port);
    attach = g_strdup_printf("attach %d", pid);
    const char *gdb_argv[] = {"gdb", "-batch", "-nx", "-ex", "set pagination off",
                              "-ex", "set sysroot /", "-ex", target, "-ex", attach, "-ex", "bt", "-ex", "detach",
                              NULL};
    g_assert_true(g_spawn_sync(NULL, (char **)gdb_argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               &gdb_out, &gdb_err, &status, NULL));
    if (!g_spawn_check_wait_status(status, NULL) || strstr(gdb_out, "detached]") == NULL) {
        g_test_message("gdb stdout:\n%s\ngdb stderr:\n%s", gdb_out, gdb_err);
    }
    g_assert_true(g_spawn_check_wait_status(status, NULL));
    g_assert_nonnull(strstr(gdb_out, "main"));           /* the backtrace reached main() */
    g_assert_nonnull(strstr(gdb_out, "detached]"));

    /* Detached, xendm serves the guest as before. */
    scratch_round_trip(qt, 0xa5);
    g_assert_cmpint(qtest_quit(qt), ==, 0);

    /* xendm is gone: the wrapper's watcher ends gdbserver within a couple of seconds. */
    for (int i = 0; i < 50 && tcp_port_open(port); i++) {
        g_usleep(100 * 1000);
    }
    g_assert_false(tcp_port_open(port));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/gdb-wrapper/attach-and-detach", test_attach_and_detach);
    return g_test_run();
}
