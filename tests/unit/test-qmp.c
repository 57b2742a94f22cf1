/*
 * Unit tests of the QMP monitor (monitor/): real socket chardevs in a temp dir, a client that
 * speaks QMP as libxl does, and a fake vm_control in place of main.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "xendm/chardev.h"
#include "xendm/display.h"
#include "xendm/json.h"
#include "xendm/keyval.h"
#include "xendm/monitor.h"

/* ---- a fake main ---- */

struct fake_vm {
    enum vm_run_state state;
    int stops, conts, resets, powerdowns, quits;
    bool refuse;            /* actions fail with an error */
    bool reply_before_quit; /* quit found its reply already written to the client */
    int quit_peek_fd;
    const char *name;
    GPtrArray *chardevs;
    unsigned vcpus_online, vcpus_max;
};

static enum vm_run_state fake_run_state(void *opaque)
{
    return ((struct fake_vm *)opaque)->state;
}

static bool fake_action(struct fake_vm *vm, int *counter, enum vm_run_state next, GError **err)
{
    if (vm->refuse) {
        g_set_error(err, g_quark_from_static_string("fake"), 0, "refused by the test");
        return false;
    }
    (*counter)++;
    vm->state = next;
    return true;
}

static bool fake_stop(void *opaque, GError **err)
{
    struct fake_vm *vm = opaque;

    return fake_action(vm, &vm->stops, VM_RUN_STATE_PAUSED, err);
}

static bool fake_cont(void *opaque, GError **err)
{
    struct fake_vm *vm = opaque;

    return fake_action(vm, &vm->conts, VM_RUN_STATE_RUNNING, err);
}

static bool fake_reset(void *opaque, GError **err)
{
    struct fake_vm *vm = opaque;

    return fake_action(vm, &vm->resets, vm->state, err);
}

static bool fake_powerdown(void *opaque, GError **err)
{
    struct fake_vm *vm = opaque;

    return fake_action(vm, &vm->powerdowns, vm->state, err);
}

static void fake_quit(void *opaque)
{
    struct fake_vm *vm = opaque;
    char byte;

    vm->quits++;
    vm->reply_before_quit = recv(vm->quit_peek_fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
}

static GPtrArray *fake_chardevs(void *opaque)
{
    return ((struct fake_vm *)opaque)->chardevs;
}

static const char *fake_name(void *opaque)
{
    return ((struct fake_vm *)opaque)->name;
}

static unsigned fake_vcpus(void *opaque, unsigned *max)
{
    struct fake_vm *vm = opaque;

    *max = vm->vcpus_max;
    return vm->vcpus_online;
}

static const struct vm_control fake_control = {
    .run_state = fake_run_state,
    .stop = fake_stop,
    .cont = fake_cont,
    .system_reset = fake_reset,
    .system_powerdown = fake_powerdown,
    .quit = fake_quit,
    .chardevs = fake_chardevs,
    .name = fake_name,
    .vcpus = fake_vcpus,
};

/* ---- the fixture: two QMP sockets as libxl asks for, a pty serial, a null chardev ---- */

struct fixture {
    char *dir;
    char *path[2];
    struct fake_vm vm;
    GPtrArray *chardevs; /* owned */
    struct monitor_set *monitors;
};

static struct chardev *new_chardev(const char *text)
{
    GError *err = NULL;
    struct kv_list *kv = kv_parse(text, "backend", &err);
    struct chardev *chr;

    g_assert_no_error(err);
    chr = chardev_new(kv, &err);
    g_assert_no_error(err);
    kv_free(kv);
    return chr;
}

static void fixture_setup(struct fixture *fx)
{
    static const char *const ids[2] = {"libxl-cmd", "libxenstat-cmd"};
    GError *err = NULL;

    memset(fx, 0, sizeof(*fx));
    fx->dir = g_dir_make_tmp("test-qmp-XXXXXX", &err);
    g_assert_no_error(err);
    fx->chardevs = g_ptr_array_new_with_free_func((GDestroyNotify)chardev_free);
    for (int i = 0; i < 2; i++) {
        fx->path[i] = g_strdup_printf("%s/qmp-%d", fx->dir, i);
        char *opts = g_strdup_printf("socket,id=%s,path=%s,server=on,wait=off", ids[i],
                                     fx->path[i]);
        g_ptr_array_add(fx->chardevs, new_chardev(opts));
        g_free(opts);
    }
    g_ptr_array_add(fx->chardevs, chardev_new_legacy("pty", "serial0", &err));
    g_assert_no_error(err);
    g_ptr_array_add(fx->chardevs, new_chardev("null,id=dbg"));
    fx->vm.state = VM_RUN_STATE_RUNNING;
    fx->vm.chardevs = fx->chardevs;
    fx->vm.quit_peek_fd = -1;

    /* As main does it: from the recorded -mon options. */
    GPtrArray *mons = g_ptr_array_new_with_free_func((GDestroyNotify)kv_free);
    for (int i = 0; i < 2; i++) {
        char *text = g_strdup_printf("chardev=%s,mode=control", ids[i]);
        g_ptr_array_add(mons, kv_parse(text, "chardev", &err));
        g_assert_no_error(err);
        g_free(text);
    }
    fx->monitors = monitor_set_new();
    g_assert_true(monitor_set_add_from_options(fx->monitors, mons, fx->chardevs, &fake_control,
                                               &fx->vm, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(monitor_set_count(fx->monitors), ==, 2);
    g_ptr_array_unref(mons);
}

static void fixture_teardown(struct fixture *fx)
{
    monitor_set_free(fx->monitors); /* before the chardevs */
    g_ptr_array_unref(fx->chardevs);
    for (int i = 0; i < 2; i++) {
        g_assert_false(g_file_test(fx->path[i], G_FILE_TEST_EXISTS));
        g_free(fx->path[i]);
    }
    g_rmdir(fx->dir);
    g_free(fx->dir);
}

/* ---- a QMP client ---- */

struct client {
    int fd;
    GString *in;
};

static void pump(void)
{
    while (g_main_context_iteration(NULL, FALSE)) {
    }
}

static struct client client_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct client c = {.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};

    g_assert_cmpint(c.fd, >=, 0);
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    g_assert_cmpint(connect(c.fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    c.in = g_string_new(NULL);
    return c;
}

static void client_close(struct client *c)
{
    close(c->fd);
    g_string_free(c->in, TRUE);
    pump(); /* let the server see the hangup */
}

/* Reads what is there; false on EOF. */
static bool client_poll(struct client *c)
{
    char buf[65536];
    ssize_t n;

    pump();
    while ((n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
        g_string_append_len(c->in, buf, n);
    return n != 0;
}

/* The next line as JSON, waiting up to 2 s while the loop runs; NULL on EOF or timeout. */
static struct json_value *client_read(struct client *c)
{
    const struct json_limits limits = {.max_size = 64 * 1024 * 1024, .max_depth = 64};
    gint64 deadline = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;

    for (;;) {
        char *eol = strstr(c->in->str, "\r\n");
        if (eol) {
            GError *err = NULL;
            size_t len = (size_t)(eol - c->in->str);
            g_assert_null(memchr(c->in->str, '\n', len)); /* one message per line */
            struct json_value *v = json_parse(c->in->str, len, &limits, &err);
            g_assert_no_error(err);
            g_string_erase(c->in, 0, (gssize)len + 2);
            return v;
        }
        if (!client_poll(c) || g_get_monotonic_time() > deadline)
            return NULL;
        g_usleep(200);
    }
}

/* Writes everything, running the loop so that the server keeps reading. */
static void client_send_len(struct client *c, const char *text, size_t len)
{
    size_t done = 0;
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    while (done < len) {
        ssize_t n = send(c->fd, text + done, len - done, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0)
            done += (size_t)n;
        else
            g_assert_true(errno == EAGAIN);
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        client_poll(c); /* replies may come meanwhile: keep them */
    }
}

static void client_send(struct client *c, const char *text)
{
    client_send_len(c, text, strlen(text));
}

static struct json_value *client_cmd(struct client *c, const char *text)
{
    client_send(c, text);
    return client_read(c);
}

/* Nothing arrives for a while. */
static void client_expect_silence(struct client *c)
{
    gint64 deadline = g_get_monotonic_time() + 50 * 1000;

    while (g_get_monotonic_time() < deadline) {
        client_poll(c);
        g_usleep(1000);
    }
    g_assert_cmpuint(c->in->len, ==, 0);
}

static struct client client_negotiated(const char *path)
{
    struct client c = client_connect(path);
    struct json_value *greeting = client_read(&c);
    struct json_value *ret;

    g_assert_nonnull(json_object_get(greeting, "QMP"));
    json_free(greeting);
    ret = client_cmd(&c, "{\"execute\": \"qmp_capabilities\"}\r\n");
    g_assert_nonnull(json_object_get(ret, "return"));
    json_free(ret);
    return c;
}

/* ---- checks on replies ---- */

static const struct json_value *get_path(const struct json_value *v, const char *dotted)
{
    gchar **keys = g_strsplit(dotted, ".", -1);

    for (gchar **k = keys; *k && v; k++)
        v = json_object_get(v, *k);
    g_strfreev(keys);
    return v;
}

/* The reply is a success and its "return" equals the JSON text `want`. */
static void assert_return(struct json_value *reply, const char *want)
{
    struct json_value *expected = json_parse(want, strlen(want), NULL, NULL);
    const struct json_value *ret = json_object_get(reply, "return");

    g_assert_nonnull(expected);
    if (!json_equal(ret, expected)) {
        char *got = json_to_string(reply);
        g_test_message("reply %s, want return %s", got, want);
        g_free(got);
    }
    g_assert_true(json_equal(ret, expected));
    json_free(expected);
    json_free(reply);
}

/* The reply is an error of that class whose desc contains `fragment`. */
static void assert_error(struct json_value *reply, const char *klass, const char *fragment)
{
    const char *desc = json_get_string(get_path(reply, "error.desc"));

    g_assert_nonnull(reply);
    g_assert_null(json_object_get(reply, "return"));
    g_assert_cmpstr(json_get_string(get_path(reply, "error.class")), ==, klass);
    g_assert_nonnull(desc);
    if (!strstr(desc, fragment))
        g_test_message("desc '%s' lacks '%s'", desc, fragment);
    g_assert_nonnull(strstr(desc, fragment));
    json_free(reply);
}

/* human-monitor-command's text. */
static char *hmp(struct client *c, const char *line)
{
    char *req = g_strdup_printf("{\"execute\": \"human-monitor-command\", \"arguments\": "
                                "{\"command-line\": \"%s\"}}", line);
    struct json_value *reply = client_cmd(c, req);
    char *text = g_strdup(json_get_string(json_object_get(reply, "return")));

    g_assert_nonnull(text);
    json_free(reply);
    g_free(req);
    return text;
}

/* ---- tests ---- */

static void test_greeting(void)
{
    struct fixture fx;
    fixture_setup(&fx);
    struct client c = client_connect(fx.path[0]);
    struct json_value *greeting = client_read(&c);

    g_assert_nonnull(greeting);
    g_assert_cmpint(json_get_int(get_path(greeting, "QMP.version.qemu.major")), ==, 7);
    g_assert_cmpint(json_get_int(get_path(greeting, "QMP.version.qemu.minor")), ==, 2);
    g_assert_cmpint(json_type_of(get_path(greeting, "QMP.version.qemu.micro")), ==, JSON_INT);
    g_assert_cmpstr(json_get_string(get_path(greeting, "QMP.version.package")), ==,
                    "xendm 0.1.0");
    g_assert_cmpint(json_type_of(get_path(greeting, "QMP.capabilities")), ==, JSON_ARRAY);
    json_free(greeting);
    client_close(&c);
    fixture_teardown(&fx);
}

static void test_negotiation(void)
{
    struct fixture fx;
    fixture_setup(&fx);
    struct client c = client_connect(fx.path[0]);

    json_free(client_read(&c));
    assert_error(client_cmd(&c, "{\"execute\": \"query-status\"}"), "CommandNotFound",
                 "qmp_capabilities");
    assert_error(client_cmd(&c, "{\"execute\": \"qmp_capabilities\", \"arguments\": "
                                "{\"enable\": [\"oob\"]}}"),
                 "GenericError", "oob");
    assert_return(client_cmd(&c, "{\"execute\": \"qmp_capabilities\", \"arguments\": "
                                 "{\"enable\": []}}"),
                  "{}");
    assert_error(client_cmd(&c, "{\"execute\": \"qmp_capabilities\"}"), "CommandNotFound",
                 "already complete");
    assert_return(client_cmd(&c, "{\"execute\": \"query-status\"}"),
                  "{\"status\": \"running\", \"singlestep\": false, \"running\": true}");
    client_close(&c);
    fixture_teardown(&fx);
}

static void test_queries(void)
{
    struct fixture fx;
    fixture_setup(&fx);
    struct client c = client_negotiated(fx.path[0]);
    struct json_value *reply;

    assert_return(client_cmd(&c, "{\"execute\": \"query-version\"}"),
                  "{\"qemu\": {\"major\": 7, \"minor\": 2, \"micro\": 0},"
                  " \"package\": \"xendm 0.1.0\"}");
    reply = client_cmd(&c, "{\"execute\": \"query-commands\"}");
    g_assert_cmpuint(json_array_length(json_object_get(reply, "return")), >=, 14);
    bool found = false;
    for (size_t i = 0; i < json_array_length(json_object_get(reply, "return")); i++) {
        const struct json_value *e = json_array_get(json_object_get(reply, "return"), i);
        found |= g_strcmp0(json_get_string(json_object_get(e, "name")), "query-chardev") == 0;
    }
    g_assert_true(found);
    json_free(reply);

    fx.vm.state = VM_RUN_STATE_PRELAUNCH; /* libxl's check with a pre-opened socket */
    assert_return(client_cmd(&c, "{\"execute\": \"query-status\"}"),
                  "{\"status\": \"prelaunch\", \"singlestep\": false, \"running\": false}");
    fx.vm.state = VM_RUN_STATE_PAUSED;
    assert_return(client_cmd(&c, "{\"execute\": \"query-status\"}"),
                  "{\"status\": \"paused\", \"singlestep\": false, \"running\": false}");

    assert_return(client_cmd(&c, "{\"execute\": \"query-name\"}"), "{}");
    fx.vm.name = "guest-1";
    assert_return(client_cmd(&c, "{\"execute\": \"query-name\"}"), "{\"name\": \"guest-1\"}");
    assert_return(client_cmd(&c, "{\"execute\": \"query-vnc\"}"), "{\"enabled\": false}");
    assert_return(client_cmd(&c, "{\"execute\": \"query-pci\"}"),
                  "[{\"bus\": 0, \"devices\": []}]");

    /* query-cpus-fast: libxl's xl save reads "cpu-index" of each online vCPU. */
    fx.vm.vcpus_online = 2;
    fx.vm.vcpus_max = 4;
    reply = client_cmd(&c, "{\"execute\": \"query-cpus-fast\"}");
    const struct json_value *cpus = json_object_get(reply, "return");
    g_assert_cmpuint(json_array_length(cpus), ==, 2);
    for (size_t i = 0; i < 2; i++) {
        const struct json_value *cpu = json_array_get(cpus, i);
        g_assert_cmpint(json_get_int(json_object_get(cpu, "cpu-index")), ==, (int64_t)i);
        g_assert_cmpint(json_get_int(json_object_get(json_object_get(cpu, "props"), "socket-id")),
                        ==, (int64_t)i);
    }
    json_free(reply);
    /* query-hotpluggable-cpus: every possible vCPU, the plugged ones with their qom-path. */
    reply = client_cmd(&c, "{\"execute\": \"query-hotpluggable-cpus\"}");
    const struct json_value *slots = json_object_get(reply, "return");
    g_assert_cmpuint(json_array_length(slots), ==, 4);
    g_assert_null(json_object_get(json_array_get(slots, 0), "qom-path"));  /* vCPU 3 */
    g_assert_nonnull(json_object_get(json_array_get(slots, 3), "qom-path")); /* vCPU 0 */
    json_free(reply);

    /* query-chardev: what libxl reads to find the serial pty. */
    reply = client_cmd(&c, "{\"execute\": \"query-chardev\"}");
    const struct json_value *list = json_object_get(reply, "return");
    g_assert_cmpuint(json_array_length(list), ==, 4);
    const struct json_value *qmp0 = json_array_get(list, 0);
    const struct json_value *serial = json_array_get(list, 2);
    g_assert_cmpstr(json_get_string(json_object_get(qmp0, "label")), ==, "libxl-cmd");
    g_assert_true(g_str_has_prefix(json_get_string(json_object_get(qmp0, "filename")), "unix:"));
    g_assert_cmpstr(json_get_string(json_object_get(serial, "label")), ==, "serial0");
    g_assert_true(g_str_has_prefix(json_get_string(json_object_get(serial, "filename")),
                                   "pty:/dev/pts/"));
    g_assert_false(json_get_bool(json_object_get(serial, "frontend-open")));
    g_assert_true(json_get_bool(json_object_get(qmp0, "frontend-open")));
    json_free(reply);
    client_close(&c);
    fixture_teardown(&fx);
}

static void test_actions(void)
{
    struct fixture fx;
    fixture_setup(&fx);
    struct client c = client_negotiated(fx.path[0]);

    assert_return(client_cmd(&c, "{\"execute\": \"stop\"}"), "{}");
    g_assert_cmpint(fx.vm.stops, ==, 1);
    g_assert_cmpint(fx.vm.state, ==, VM_RUN_STATE_PAUSED);
    assert_return(client_cmd(&c, "{\"execute\": \"cont\"}"), "{}");
    g_assert_cmpint(fx.vm.conts, ==, 1);
    assert_return(client_cmd(&c, "{\"execute\": \"system_reset\"}"), "{}");
    assert_return(client_cmd(&c, "{\"execute\": \"system_powerdown\"}"), "{}");
    g_assert_cmpint(fx.vm.resets, ==, 1);
    g_assert_cmpint(fx.vm.powerdowns, ==, 1);

    fx.vm.refuse = true;
    assert_error(client_cmd(&c, "{\"execute\": \"cont\"}"), "GenericError", "refused by the test");
    fx.vm.refuse = false;

    /* quit: the reply is on its way before main is told. */
    fx.vm.quit_peek_fd = c.fd;
    assert_return(client_cmd(&c, "{\"execute\": \"quit\", \"id\": 9}"), "{}");
    g_assert_cmpint(fx.vm.quits, ==, 1);
    g_assert_true(fx.vm.reply_before_quit);
    client_close(&c);
    fixture_teardown(&fx);
}

static void test_hmp(void)
{
    struct fixture fx;
    fixture_setup(&fx);
    struct client c = client_negotiated(fx.path[0]);
    char *text;

    text = hmp(&c, "info status");
    g_assert_cmpstr(text, ==, "VM status: running\r\n");
    g_free(text);
    fx.vm.state = VM_RUN_STATE_PRELAUNCH;
    text = hmp(&c, "  info   status ");
    g_assert_cmpstr(text, ==, "VM status: paused (prelaunch)\r\n");
    g_free(text);
    text = hmp(&c, "info version");
    g_assert_cmpstr(text, ==, "7.2.0 (xendm 0.1.0)\r\n");
    g_free(text);
    text = hmp(&c, "info chardev");
    g_assert_nonnull(strstr(text, "serial0: filename=pty:/dev/pts/"));
    g_assert_nonnull(strstr(text, "dbg: filename=null\r\n"));
    g_free(text);
    text = hmp(&c, "help");
    g_assert_nonnull(strstr(text, "info [subcommand]"));
    g_free(text);
    text = hmp(&c, "bogus arg");
    g_assert_cmpstr(text, ==, "unknown command: 'bogus'\r\n");
    g_free(text);
    text = hmp(&c, "");
    g_assert_cmpstr(text, ==, "");
    g_free(text);
    text = hmp(&c, "stop");
    g_assert_cmpstr(text, ==, "");
    g_assert_cmpint(fx.vm.stops, ==, 1);
    g_free(text);

    assert_error(client_cmd(&c, "{\"execute\": \"human-monitor-command\"}"), "GenericError",
                 "Parameter 'command-line' is missing");
    assert_error(client_cmd(&c, "{\"execute\": \"human-monitor-command\", \"arguments\": "
                                "{\"command-line\": 5}}"),
                 "GenericError", "Invalid parameter type for 'command-line', expected: string");
    client_close(&c);
    fixture_teardown(&fx);
}

/* A display device for HMP screendump that draws nothing: the console's 640x480 black. */
static uint64_t blank_refresh(void *hw, bool full)
{
    return 0;
}

static void test_hmp_screendump(void)
{
    static const struct display_hw_ops ops = {.refresh = blank_refresh};
    g_autofree char *dir = g_dir_make_tmp("hmp-screendump-XXXXXX", NULL);
    g_autofree char *file = g_build_filename(dir, "s.ppm", NULL);
    g_autofree char *line = g_strdup_printf("screendump %s", file);
    g_autofree char *line_bad_format = g_strdup_printf("screendump %s -f bmp", file);
    g_autofree char *line_bad_device = g_strdup_printf("screendump %s nope", file);
    g_autofree char *line_png = g_strdup_printf("screendump %s -f png", file);
    g_autofree char *contents = NULL;
    struct display_console *con;
    struct fixture fx;
    gsize len = 0;
    char *text;

    fixture_setup(&fx);
    struct client c = client_negotiated(fx.path[0]);
    text = hmp(&c, line);
    g_assert_cmpstr(text, ==, "Error: There is no console to take a screendump from.\r\n");
    g_free(text);

    con = display_console_new("vga", &ops, NULL);
    g_assert_nonnull(con);
    text = hmp(&c, "screendump");
    g_assert_nonnull(strstr(text, "Error: Parameter 'filename' is missing"));
    g_free(text);
    text = hmp(&c, line_bad_format);
    g_assert_cmpstr(text, ==, "Error: Parameter 'format' does not accept value 'bmp'\r\n");
    g_free(text);
    text = hmp(&c, line_bad_device);
    g_assert_cmpstr(text, ==, "Error: Device 'nope' not found\r\n");
    g_free(text);
    g_assert_false(g_file_test(file, G_FILE_TEST_EXISTS));

    text = hmp(&c, line);
    g_assert_cmpstr(text, ==, "");
    g_free(text);
    g_assert_true(g_file_get_contents(file, &contents, &len, NULL));
    g_assert_cmpuint(len, ==, strlen("P6\n640 480\n255\n") + 640 * 480 * 3);
    g_assert_true(g_str_has_prefix(contents, "P6\n640 480\n255\n"));
    g_clear_pointer(&contents, g_free);
    text = hmp(&c, line_png);
    g_assert_cmpstr(text, ==, "");
    g_free(text);
    g_assert_true(g_file_get_contents(file, &contents, &len, NULL));
    g_assert_cmpuint(len, >, 8);
    g_assert_cmpint(memcmp(contents, "\x89PNG\r\n\x1a\n", 8), ==, 0);

    display_console_free(con);
    g_unlink(file);
    g_rmdir(dir);
    client_close(&c);
    fixture_teardown(&fx);
}

static void test_request_errors(void)
{
    struct fixture fx;
    fixture_setup(&fx);
    struct client c = client_negotiated(fx.path[0]);

    assert_error(client_cmd(&c, "{\"execute\": \"savevm\"}"), "CommandNotFound",
                 "The command savevm has not been found");
    assert_error(client_cmd(&c, "{\"execute\": \"add-fd\"}"), "GenericError",
                 "No file descriptor supplied via SCM_RIGHTS");
    assert_error(client_cmd(&c, "{\"execute\": \"stop\", \"arguments\": {\"x\": 1}}"),
                 "GenericError", "Parameter 'x' is unexpected");
    assert_error(client_cmd(&c, "[1, 2]"), "GenericError", "must be a JSON object");
    assert_error(client_cmd(&c, "{\"id\": 1}"), "GenericError", "lacks member 'execute'");
    assert_error(client_cmd(&c, "{\"execute\": 3}"), "GenericError", "'execute' must be a string");
    assert_error(client_cmd(&c, "{\"execute\": \"stop\", \"arguments\": []}"), "GenericError",
                 "'arguments' must be an object");
    assert_error(client_cmd(&c, "{\"execute\": \"stop\", \"extra\": 1}"), "GenericError",
                 "member 'extra' is unexpected");
    g_assert_cmpint(fx.vm.stops, ==, 0);
    client_close(&c);
    fixture_teardown(&fx);
}

static void test_id_echo(void)
{
    static const char *const ids[] = {
        "7", "-1", "\"libxl-3\"", "{\"a\": [1, \"b\"]}", "[true, null]", "null", "2.5",
        "\"\\u00e9\"",
    };
    struct fixture fx;
    fixture_setup(&fx);
    struct client c = client_negotiated(fx.path[0]);

    for (size_t i = 0; i < G_N_ELEMENTS(ids); i++) {
        struct json_value *want = json_parse(ids[i], strlen(ids[i]), NULL, NULL);
        /* A success and an error reply both carry the id back. */
        char *forms[] = {
            g_strdup_printf("{\"execute\": \"query-vnc\", \"id\": %s}", ids[i]),
            g_strdup_printf("{\"id\": %s, \"execute\": \"no-such-command\"}", ids[i]),
        };
        for (size_t f = 0; f < G_N_ELEMENTS(forms); f++) {
            char *req = forms[f];
            struct json_value *reply = client_cmd(&c, req);
            g_assert_nonnull(reply);
            g_assert_true(json_equal(json_object_get(reply, "id"), want));
            json_free(reply);
            g_free(req);
        }
        json_free(want);
    }
    /* No id, no id in the reply. */
    struct json_value *reply = client_cmd(&c, "{\"execute\": \"query-vnc\"}");
    g_assert_null(json_object_get(reply, "id"));
    json_free(reply);
    client_close(&c);
    fixture_teardown(&fx);
}

static void test_framing(void)
{
    struct fixture fx;
    fixture_setup(&fx);
    struct client c = client_negotiated(fx.path[0]);
    const char *split = "{\"execute\": \"query-name\", \"id\": \"split\"}\r\n";
    struct json_value *reply;

    /* Two commands in one write: two replies, in order. */
    client_send(&c, "{\"execute\": \"query-vnc\", \"id\": 1}\r\n"
                    "{\"execute\": \"query-pci\", \"id\": 2}\r\n");
    reply = client_read(&c);
    g_assert_cmpint(json_get_int(json_object_get(reply, "id")), ==, 1);
    json_free(reply);
    reply = client_read(&c);
    g_assert_cmpint(json_get_int(json_object_get(reply, "id")), ==, 2);
    json_free(reply);

    /* One command across many writes, the loop running in between. */
    for (size_t i = 0; i < strlen(split); i++) {
        client_send_len(&c, split + i, 1);
        client_poll(&c);
        if (i + 3 < strlen(split))
            g_assert_cmpuint(c.in->len, ==, 0);
    }
    reply = client_read(&c);
    g_assert_cmpstr(json_get_string(json_object_get(reply, "id")), ==, "split");
    json_free(reply);

    /* A malformed request, then a good one, on the same session. */
    assert_error(client_cmd(&c, "{\"execute\": }"), "GenericError", "JSON parse error");
    assert_return(client_cmd(&c, "{\"execute\": \"query-vnc\"}"), "{\"enabled\": false}");
    client_close(&c);
    fixture_teardown(&fx);
}

static void test_huge_garbage(void)
{
    struct fixture fx;
    fixture_setup(&fx);
    struct client c = client_negotiated(fx.path[0]);
    const size_t huge = 2 * 1024 * 1024;
    char *junk = g_malloc(huge);

    /* 2 MiB inside a request: one error, the rest skipped, the session goes on. */
    memset(junk, 'x', huge);
    client_send(&c, "{\"execute\": \"query-status\", \"arguments\": {\"pad\": \"");
    client_send_len(&c, junk, huge);
    client_send(&c, "\"}}\r\n");
    assert_error(client_read(&c), "GenericError", "too large");
    assert_return(client_cmd(&c, "{\"execute\": \"query-vnc\"}"), "{\"enabled\": false}");

    /* 2 MiB of bare garbage: one error as well. */
    client_send_len(&c, junk, huge);
    client_send(&c, " ");
    assert_error(client_read(&c), "GenericError", "JSON parse error");
    assert_return(client_cmd(&c, "{\"execute\": \"query-vnc\"}"), "{\"enabled\": false}");

    /* A client lost inside an unterminated string resyncs with a control character. */
    client_send(&c, "{\"execute\": \"stop\", \"arguments\": {\"a\": \"never closed");
    client_send(&c, "\x1b");
    assert_error(client_read(&c), "GenericError", "control character");
    assert_return(client_cmd(&c, "{\"execute\": \"query-vnc\"}"), "{\"enabled\": false}");
    g_assert_cmpint(fx.vm.stops, ==, 0);
    g_free(junk);
    client_close(&c);
    fixture_teardown(&fx);
}

static void test_reconnect(void)
{
    struct fixture fx;
    fixture_setup(&fx);
    struct client c = client_negotiated(fx.path[0]);
    struct json_value *greeting;

    assert_return(client_cmd(&c, "{\"execute\": \"query-vnc\"}"), "{\"enabled\": false}");
    client_send(&c, "{\"execute\": \"query-vnc\""); /* half a request, then gone */
    client_close(&c);

    /* libxl connects again for every operation: a fresh greeting, negotiation again. */
    c = client_connect(fx.path[0]);
    greeting = client_read(&c);
    g_assert_nonnull(json_object_get(greeting, "QMP"));
    json_free(greeting);
    assert_error(client_cmd(&c, "{\"execute\": \"query-vnc\"}"), "CommandNotFound",
                 "qmp_capabilities");
    assert_return(client_cmd(&c, "{\"execute\": \"qmp_capabilities\"}"), "{}");
    assert_return(client_cmd(&c, "{\"execute\": \"query-vnc\"}"), "{\"enabled\": false}");
    client_close(&c);
    fixture_teardown(&fx);
}

/* A client gone before its greeting: the write fails inside the accept; the server goes on. */
static void test_vanished_client(void)
{
    struct fixture fx;
    fixture_setup(&fx);
    struct client c = client_connect(fx.path[0]);
    struct json_value *greeting;

    close(c.fd);
    g_string_free(c.in, TRUE);
    pump();
    c = client_connect(fx.path[0]);
    greeting = client_read(&c);
    g_assert_nonnull(greeting);
    g_assert_nonnull(json_object_get(greeting, "QMP"));
    json_free(greeting);
    client_close(&c);
    fixture_teardown(&fx);
}

static void test_events(void)
{
    struct fixture fx;
    fixture_setup(&fx);
    struct client a = client_negotiated(fx.path[0]);
    struct client b = client_connect(fx.path[1]); /* greeted, never negotiates */
    struct json_value *ev;

    json_free(client_read(&b));
    monitor_set_emit(fx.monitors, "STOP", NULL);
    ev = client_read(&a);
    g_assert_cmpstr(json_get_string(json_object_get(ev, "event")), ==, "STOP");
    g_assert_null(json_object_get(ev, "data"));
    g_assert_cmpint(json_get_int(get_path(ev, "timestamp.seconds")), >, 1600000000);
    g_assert_cmpint(json_type_of(get_path(ev, "timestamp.microseconds")), ==, JSON_INT);
    json_free(ev);

    monitor_set_emit(fx.monitors, "SHUTDOWN", monitor_event_reason_data(true, "guest-shutdown"));
    ev = client_read(&a);
    g_assert_cmpstr(json_get_string(json_object_get(ev, "event")), ==, "SHUTDOWN");
    g_assert_true(json_get_bool(get_path(ev, "data.guest")));
    g_assert_cmpstr(json_get_string(get_path(ev, "data.reason")), ==, "guest-shutdown");
    json_free(ev);

    client_expect_silence(&b); /* not negotiated: no events */
    assert_return(client_cmd(&b, "{\"execute\": \"qmp_capabilities\"}"), "{}");
    monitor_set_emit(fx.monitors, "RESUME", NULL);
    ev = client_read(&b);
    g_assert_cmpstr(json_get_string(json_object_get(ev, "event")), ==, "RESUME");
    json_free(ev);
    json_free(client_read(&a));
    client_close(&a);
    client_close(&b);
    fixture_teardown(&fx);
}

/* A reply far larger than the socket buffer arrives whole: the monitor buffers and resumes. */
static void test_large_reply(void)
{
    struct fixture fx;
    fixture_setup(&fx);
    struct client c = client_negotiated(fx.path[0]);
    GPtrArray *many = g_ptr_array_new_with_free_func((GDestroyNotify)chardev_free);
    struct json_value *reply;

    for (int i = 0; i < 6000; i++) {
        char *opts = g_strdup_printf("null,id=a-rather-long-chardev-name-number-%d", i);
        g_ptr_array_add(many, new_chardev(opts));
        g_free(opts);
    }
    fx.vm.chardevs = many;
    client_send(&c, "{\"execute\": \"query-chardev\", \"id\": \"big\"}");
    reply = client_read(&c);
    g_assert_nonnull(reply);
    g_assert_cmpuint(json_array_length(json_object_get(reply, "return")), ==, 6000);
    g_assert_cmpstr(json_get_string(json_object_get(reply, "id")), ==, "big");
    json_free(reply);
    fx.vm.chardevs = fx.chardevs;
    g_ptr_array_unref(many);
    assert_return(client_cmd(&c, "{\"execute\": \"query-vnc\"}"), "{\"enabled\": false}");
    client_close(&c);
    fixture_teardown(&fx);
}

/* A client that never reads is disconnected once its backlog passes the bound. */
static void test_stuck_reader(void)
{
    struct fixture fx;
    fixture_setup(&fx);
    struct client c = client_negotiated(fx.path[0]);
    struct json_value *data = json_object_new();
    char *pad = g_malloc0(4097);
    int sent = 0;

    memset(pad, 'p', 4096);
    json_object_set(data, "pad", json_string_new(pad));
    for (; sent < 2000 && g_str_has_prefix(chardev_filename(g_ptr_array_index(fx.chardevs, 0)),
                                           "unix:");
         sent++) {
        monitor_set_emit(fx.monitors, "BIG", json_copy(data));
        pump();
    }
    g_assert_cmpint(sent, <, 2000); /* about 1 MiB plus the socket buffer */
    g_assert_true(g_str_has_prefix(chardev_filename(g_ptr_array_index(fx.chardevs, 0)),
                                   "disconnected:"));
    json_free(data);
    g_free(pad);
    client_close(&c);

    /* The server listens again. */
    c = client_negotiated(fx.path[0]);
    assert_return(client_cmd(&c, "{\"execute\": \"query-vnc\"}"), "{\"enabled\": false}");
    client_close(&c);
    fixture_teardown(&fx);
}

/*
 * A client that writes many requests before reading any reply is slowed down, not cut off:
 * the monitor stops reading requests while replies pile up, and every reply arrives in order.
 */
static void test_backpressure(void)
{
    enum { REQUESTS = 8000 }; /* ~3 MiB of replies: without the pause, a disconnect */
    struct fixture fx;
    fixture_setup(&fx);
    struct client c = client_negotiated(fx.path[0]);
    GString *reqs = g_string_new(NULL);
    struct chardev *chr = g_ptr_array_index(fx.chardevs, 0);
    gint64 stalled_since = 0;
    size_t done = 0;

    for (int i = 0; i < REQUESTS; i++) /* each reply is ~20 times its request */
        g_string_append_printf(reqs, "{\"execute\": \"query-commands\", \"id\": %d}\r\n", i);
    /* Write without reading until the server stops taking requests for a while. */
    while (done < reqs->len) {
        ssize_t n = send(c.fd, reqs->str + done, reqs->len - done, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            done += (size_t)n;
            stalled_since = 0;
        } else if (!stalled_since) {
            stalled_since = g_get_monotonic_time();
        } else if (g_get_monotonic_time() - stalled_since > 200 * 1000) {
            break;
        }
        pump();
    }
    g_assert_true(g_str_has_prefix(chardev_filename(chr), "unix:")); /* still connected */

    client_send_len(&c, reqs->str + done, reqs->len - done);
    for (int i = 0; i < REQUESTS; i++) {
        struct json_value *reply = client_read(&c);
        g_assert_nonnull(reply);
        g_assert_cmpint(json_get_int(json_object_get(reply, "id")), ==, i);
        json_free(reply);
    }
    g_string_free(reqs, TRUE);
    client_close(&c);
    fixture_teardown(&fx);
}

static void test_options(void)
{
    static const struct {
        const char *text;
        const char *error;
    } cases[] = {
        {"chardev=s", "only mode=control"},
        {"chardev=s,mode=readline", "only mode=control"},
        {"chardev=nope,mode=control", "no chardev with id 'nope'"},
        {"chardev=s,mode=control,pretty=maybe", "pretty"},
    };
    GPtrArray *chardevs = g_ptr_array_new_with_free_func((GDestroyNotify)chardev_free);

    g_ptr_array_add(chardevs, new_chardev("null,id=s"));
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        GError *err = NULL;
        struct monitor_set *set = monitor_set_new();
        GPtrArray *opts = g_ptr_array_new_with_free_func((GDestroyNotify)kv_free);
        g_ptr_array_add(opts, kv_parse(cases[i].text, "chardev", NULL));
        g_assert_false(monitor_set_add_from_options(set, opts, chardevs, &fake_control, NULL,
                                                    &err));
        g_assert_nonnull(err);
        g_assert_nonnull(strstr(err->message, cases[i].error));
        g_error_free(err);
        g_ptr_array_unref(opts);
        monitor_set_free(set);
    }
    g_ptr_array_unref(chardevs);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qmp/greeting", test_greeting);
    g_test_add_func("/qmp/negotiation", test_negotiation);
    g_test_add_func("/qmp/queries", test_queries);
    g_test_add_func("/qmp/actions", test_actions);
    g_test_add_func("/qmp/hmp", test_hmp);
    g_test_add_func("/qmp/hmp-screendump", test_hmp_screendump);
    g_test_add_func("/qmp/request-errors", test_request_errors);
    g_test_add_func("/qmp/id-echo", test_id_echo);
    g_test_add_func("/qmp/framing", test_framing);
    g_test_add_func("/qmp/huge-garbage", test_huge_garbage);
    g_test_add_func("/qmp/reconnect", test_reconnect);
    g_test_add_func("/qmp/vanished-client", test_vanished_client);
    g_test_add_func("/qmp/events", test_events);
    g_test_add_func("/qmp/large-reply", test_large_reply);
    g_test_add_func("/qmp/stuck-reader", test_stuck_reader);
    g_test_add_func("/qmp/backpressure", test_backpressure);
    g_test_add_func("/qmp/options", test_options);
    return g_test_run();
}
