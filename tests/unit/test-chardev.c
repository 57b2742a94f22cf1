/*
 * Unit tests of the chardev backends: option parsing (both syntaxes), file, null, stdio, pty,
 * serial (a terminal by path) and Unix sockets (server, client, pre-opened fd), and input flow control towards a frontend.
 */
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "xendm/chardev.h"
#include "xendm/keyval.h"

struct fake_frontend {
    size_t room;
    GByteArray *got;
};

static size_t fake_can_receive(void *opaque)
{
    struct fake_frontend *fe = opaque;

    return fe->room;
}

static void fake_receive(void *opaque, const uint8_t *buf, size_t len)
{
    struct fake_frontend *fe = opaque;

    g_assert_cmpuint(len, <=, fe->room);
    fe->room -= len;
    g_byte_array_append(fe->got, buf, (guint)len);
}

static void attach(struct chardev *chr, struct fake_frontend *fe, size_t room)
{
    const struct chardev_frontend ops = {
        .can_receive = fake_can_receive,
        .receive = fake_receive,
        .opaque = fe,
    };

    fe->room = room;
    fe->got = g_byte_array_new();
    chardev_set_frontend(chr, &ops);
}

static void detach(struct chardev *chr, struct fake_frontend *fe)
{
    chardev_set_frontend(chr, NULL);
    g_byte_array_unref(fe->got);
}

/* Iterates the default main context until *counter reaches want or a second passes. */
static void pump_until_bytes(struct fake_frontend *fe, guint want)
{
    gint64 deadline = g_get_monotonic_time() + G_USEC_PER_SEC;

    while (fe->got->len < want && g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, FALSE);
}

static void pump_briefly(void)
{
    gint64 deadline = g_get_monotonic_time() + 50000;

    while (g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, FALSE);
}

static struct chardev *new_from(const char *text, GError **err)
{
    struct kv_list *kv = kv_parse(text, "backend", err);
    struct chardev *chr = NULL;

    if (kv)
        chr = chardev_new(kv, err);
    kv_free(kv);
    return chr;
}

static char *tmp_dir(void)
{
    char *dir = g_dir_make_tmp("test-chardev-XXXXXX", NULL);

    g_assert_nonnull(dir);
    return dir;
}

static void remove_dir(char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d)) != NULL) {
        char *path = g_build_filename(dir, name, NULL);
        g_unlink(path);
        g_free(path);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(dir);
    g_free(dir);
}

static void write_str(struct chardev *chr, const char *s)
{
    g_assert_cmpuint(chardev_write(chr, (const uint8_t *)s, strlen(s)), ==, strlen(s));
}

/* ---- parsing ---- */

static void test_parse_errors(void)
{
    /* Each spec, and the part of the error that says it failed for the reason it is here for. */
    static const struct { const char *spec, *why; } bad[] = {
        { "null", "needs id=" },
        { "teletype,id=a", "unknown backend" },
        { "null,id=a,colour=red", "does not take 'colour'" },
        { "file,id=a", "needs path=" },
        { "file,id=a,path=/nonexistent-dir/x", "cannot open" },
        { "file,id=a,path=/tmp/x,append=maybe", "expects 'on' or 'off'" },
        { "socket,id=a", "needs path= or fd=" },
        { "socket,id=a,host=localhost,port=4444", "only Unix sockets" },
        { "socket,id=a,fd=notanumber,server=on,wait=off", "fd= needs a number" },
        { "socket,id=a,fd=0,server=on,wait=off", "not a listening socket" },
        { "socket,id=a,path=/nonexistent-dir/s", "cannot connect" }, /* nobody listens */
    };

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        GError *err = NULL;
        struct chardev *chr = new_from(bad[i].spec, &err);
        g_assert_null(chr);
        g_assert_nonnull(err);
        g_test_message("%s: %s", bad[i].spec, err->message);
        g_assert_nonnull(strstr(err->message, bad[i].why));
        g_clear_error(&err);
    }
}

static void test_legacy(void)
{
    GError *err = NULL;
    char *dir = tmp_dir();

    g_assert_null(chardev_new_legacy("none", "serial0", &err));
    g_assert_no_error(err);

    struct chardev *chr = chardev_new_legacy("null", "serial0", &err);
    g_assert_no_error(err);
    g_assert_cmpstr(chardev_id(chr), ==, "serial0");
    g_assert_cmpstr(chardev_filename(chr), ==, "null");
    write_str(chr, "into the void");
    chardev_free(chr);

    char *spec = g_strdup_printf("file:%s/log", dir);
    chr = chardev_new_legacy(spec, "serial0", &err);
    g_assert_no_error(err);
    g_assert_cmpstr(chardev_filename(chr), ==, "file");
    chardev_free(chr);
    g_free(spec);

    spec = g_strdup_printf("unix:%s/s,,1,server,nowait", dir);
    chr = chardev_new_legacy(spec, "serial1", &err);
    g_assert_no_error(err);
    char *want = g_strdup_printf("disconnected:unix:%s/s,1,server=on", dir);
    g_assert_cmpstr(chardev_filename(chr), ==, want);
    chardev_free(chr);
    g_free(want);
    g_free(spec);

    spec = g_strdup_printf("unix:%s/s,server=on,wait=off", dir);
    chr = chardev_new_legacy(spec, "serial1", &err);
    g_assert_no_error(err);
    chardev_free(chr);
    g_free(spec);

    g_assert_null(chardev_new_legacy("unix:/tmp/x,server=on,bogus", "s", &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_null(chardev_new_legacy("tcp:localhost:4444", "s", &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    remove_dir(dir);
}

/* ---- file ---- */

static void test_file(void)
{
    GError *err = NULL;
    char *dir = tmp_dir();
    char *path = g_build_filename(dir, "out", NULL);
    char *opts = g_strdup_printf("file,id=f,path=%s", path);
    char *text = NULL;

    g_assert_true(g_file_set_contents(path, "old", -1, NULL));
    struct chardev *chr = new_from(opts, &err);
    g_assert_no_error(err);
    write_str(chr, "one");
    chardev_free(chr);
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_assert_cmpstr(text, ==, "one"); /* truncated */
    g_free(text);
    g_free(opts);

    opts = g_strdup_printf("file,id=f,path=%s,append=on", path);
    chr = new_from(opts, &err);
    g_assert_no_error(err);
    write_str(chr, "two");
    chardev_free(chr);
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_assert_cmpstr(text, ==, "onetwo");
    g_free(text);

    GStatBuf st;
    g_assert_cmpint(g_stat(path, &st), ==, 0);
    g_free(opts);
    g_free(path);
    remove_dir(dir);
}

/* ---- stdio ---- */

static void test_stdio_once(void)
{
    GError *err = NULL;
    struct chardev *chr = new_from("stdio,id=s,signal=off", &err);

    g_assert_no_error(err);
    g_assert_cmpstr(chardev_filename(chr), ==, "stdio");
    g_assert_null(new_from("stdio,id=t", &err)); /* one per process */
    g_assert_nonnull(err);
    g_clear_error(&err);
    chardev_free(chr);
    chr = new_from("stdio,id=u", &err); /* free again */
    g_assert_no_error(err);
    chardev_free(chr);
}

/* ---- sockets ---- */

static int connect_to(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    g_assert_cmpint(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    return fd;
}

static int listen_on(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    g_assert_cmpint(listen(fd, 1), ==, 0);
    return fd;
}

static bool wait_connected(struct chardev *chr)
{
    gint64 deadline = g_get_monotonic_time() + G_USEC_PER_SEC;

    while (g_str_has_prefix(chardev_filename(chr), "disconnected:") &&
           g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, FALSE);
    return !g_str_has_prefix(chardev_filename(chr), "disconnected:");
}

static void read_exact(int fd, char *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = read(fd, buf + done, len - done);
        g_assert_cmpint(n, >, 0);
        done += (size_t)n;
    }
    buf[len] = '\0';
}

static void test_socket_server(void)
{
    GError *err = NULL;
    char *dir = tmp_dir();
    char *path = g_build_filename(dir, "sock", NULL);
    char *opts = g_strdup_printf("socket,id=s,path=%s,server=on,wait=off", path);
    struct fake_frontend fe;
    char buf[64];

    struct chardev *chr = new_from(opts, &err);
    g_assert_no_error(err);
    attach(chr, &fe, 3);
    write_str(chr, "dropped"); /* nobody connected: dropped, not queued */

    int client = connect_to(path);
    g_assert_true(wait_connected(chr));
    char *want = g_strdup_printf("unix:%s,server=on", path);
    g_assert_cmpstr(chardev_filename(chr), ==, want);
    g_free(want);
    write_str(chr, "hello");
    read_exact(client, buf, 5);
    g_assert_cmpstr(buf, ==, "hello");

    /* Flow control: only as much as the frontend has room for. */
    g_assert_cmpint(write(client, "abcdefgh", 8), ==, 8);
    pump_until_bytes(&fe, 3);
    pump_briefly();
    g_assert_cmpuint(fe.got->len, ==, 3);
    fe.room = 10;
    pump_briefly();
    g_assert_cmpuint(fe.got->len, ==, 3); /* nothing without chardev_accept_input() */
    chardev_accept_input(chr);
    pump_until_bytes(&fe, 8);
    g_assert_cmpuint(fe.got->len, ==, 8);
    g_assert_cmpmem(fe.got->data, 8, "abcdefgh", 8);

    /* The client leaves; the next one is accepted. */
    close(client);
    gint64 deadline = g_get_monotonic_time() + G_USEC_PER_SEC;
    while (!g_str_has_prefix(chardev_filename(chr), "disconnected:") &&
           g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, FALSE);
    g_assert_true(g_str_has_prefix(chardev_filename(chr), "disconnected:"));
    client = connect_to(path);
    g_assert_true(wait_connected(chr));
    write_str(chr, "again");
    read_exact(client, buf, 5);
    g_assert_cmpstr(buf, ==, "again");
    close(client);
    /* Writing to a vanished peer neither blocks nor raises SIGPIPE. */
    for (int i = 0; i < 4; i++)
        write_str(chr, "into a closed socket");
    g_assert_true(g_str_has_prefix(chardev_filename(chr), "disconnected:"));

    detach(chr, &fe);
    chardev_free(chr);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS)); /* the server removed its socket */
    g_free(opts);
    g_free(path);
    remove_dir(dir);
}

static void test_socket_client_and_fd(void)
{
    GError *err = NULL;
    char *dir = tmp_dir();
    char *path = g_build_filename(dir, "sock", NULL);
    int listener = listen_on(path);
    char buf[16];

    char *opts = g_strdup_printf("socket,id=c,path=%s", path);
    struct chardev *chr = new_from(opts, &err);
    g_assert_no_error(err);
    int peer = accept(listener, NULL, NULL);
    g_assert_cmpint(peer, >=, 0);
    write_str(chr, "client");
    read_exact(peer, buf, 6);
    g_assert_cmpstr(buf, ==, "client");
    close(peer);
    chardev_free(chr);
    g_free(opts);

    /* fd=N: a listening socket handed over by the toolstack (libxl with dm_restrict). */
    opts = g_strdup_printf("socket,id=m,fd=%d,server=on,wait=off", listener);
    chr = new_from(opts, &err);
    g_assert_no_error(err);
    g_assert_cmpint(fcntl(listener, F_GETFD) & FD_CLOEXEC, ==, FD_CLOEXEC);
    int client = connect_to(path);
    g_assert_true(wait_connected(chr));
    write_str(chr, "fd");
    read_exact(client, buf, 2);
    g_assert_cmpstr(buf, ==, "fd");
    close(client);
    chardev_free(chr); /* closes the adopted listener */
    g_assert_cmpint(fcntl(listener, F_GETFD), ==, -1);
    g_free(opts);
    g_free(path);
    remove_dir(dir);
}

/* ---- pty ---- */

static void test_pty(void)
{
    GError *err = NULL;
    struct fake_frontend fe;
    char buf[16];

    struct chardev *chr = chardev_new_legacy("pty", "serial0", &err);
    if (!chr && err) {
        g_test_skip(err->message);
        g_clear_error(&err);
        return;
    }
    g_assert_true(g_str_has_prefix(chardev_filename(chr), "pty:/dev/pts/"));
    attach(chr, &fe, 16);
    pump_briefly(); /* no slave yet: HUP must not spin or lose the watch for good */

    int slave = open(chardev_filename(chr) + strlen("pty:"), O_RDWR | O_NOCTTY);
    g_assert_cmpint(slave, >=, 0);
    write_str(chr, "to\n");
    read_exact(slave, buf, 3);
    g_assert_cmpstr(buf, ==, "to\n"); /* raw: no CR added */
    g_assert_cmpint(write(slave, "from", 4), ==, 4);
    gint64 deadline = g_get_monotonic_time() + 3 * G_USEC_PER_SEC; /* covers the 1 s retry */
    while (fe.got->len < 4 && g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, FALSE);
    g_assert_cmpuint(fe.got->len, ==, 4);
    g_assert_cmpmem(fe.got->data, 4, "from", 4);
    close(slave);
    detach(chr, &fe);
    chardev_free(chr);
}

/* ---- serial: a host terminal by path (libxl's "-serial /dev/hvc3" in a stub domain) ---- */

static void test_serial_device(void)
{
    GError *err = NULL;
    struct fake_frontend fe;
    char slave[128];
    char buf[16];

    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 ||
        ptsname_r(master, slave, sizeof(slave)) != 0) {
        g_test_skip("no pty to stand in for a console");
        if (master >= 0)
            close(master);
        return;
    }
    struct chardev *chr = chardev_new_legacy(slave, "serial0", &err);
    g_assert_no_error(err);
    g_assert_cmpstr(chardev_filename(chr), ==, slave);
    attach(chr, &fe, 16);
    write_str(chr, "out\n");
    read_exact(master, buf, 4);
    g_assert_cmpmem(buf, 4, "out\n", 4); /* raw: no CR added */
    g_assert_cmpint(write(master, "in", 2), ==, 2);
    pump_until_bytes(&fe, 2);
    g_assert_cmpmem(fe.got->data, fe.got->len, "in", 2);
    detach(chr, &fe);
    chardev_free(chr);

    char *opts = g_strdup_printf("tty,id=t0,path=%s", slave);
    chr = new_from(opts, &err);
    g_assert_no_error(err);
    g_assert_nonnull(chr);
    chardev_free(chr);
    g_free(opts);
    close(master);

    g_assert_null(chardev_new_legacy("/dev/nonexistent-console", "serial0", &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/chardev/parse-errors", test_parse_errors);
    g_test_add_func("/chardev/legacy", test_legacy);
    g_test_add_func("/chardev/file", test_file);
    g_test_add_func("/chardev/stdio-once", test_stdio_once);
    g_test_add_func("/chardev/socket-server", test_socket_server);
    g_test_add_func("/chardev/socket-client-and-fd", test_socket_client_and_fd);
    g_test_add_func("/chardev/pty", test_pty);
    g_test_add_func("/chardev/serial-device", test_serial_device);
    return g_test_run();
}
