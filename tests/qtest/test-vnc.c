/*
 * The VNC server (-vnc, ui/vnc.c) through xensim, with a standard VGA (-device VGA) showing a
 * Bochs VBE picture drawn through the LFB:
 *  - tests/qtest/rfb-client.py (RFB 3.8, raw + DesktopSize) gets frames and compares them pixel
 *    for pixel with QMP screendump, follows a mode switch through DesktopSize, types keys the
 *    guest reads from the i8042 (port 0x60), moves the pointer, logs in with the password of
 *    change-vnc-password / set_password and is refused with a wrong or expired one;
 *  - a real Debian viewer, vncsnapshot, grabs a JPEG whose big areas have the drawn colours;
 *  - query-vnc gives the port (libxl's to=99 search) and the connected viewer;
 *  - start-up fails clearly on a port in use or a bad display string;
 *  - hostile viewers (garbage, a 1 GiB ClientCutText, a disconnect mid-update) leave xendm
 *    serving; and a viewer still connects after -sandbox on has restricted the process.
 *
 * The same program runs against Debian's qemu-xen (suite qtest-qemu-xen) where both agree;
 * qemu-xen's VRAM lives in guest RAM that xensim's writes do not mark dirty, so there the picture
 * the viewer gets is compared with qemu-xen's own screendump, not with the pattern.
 */
#include "qtest-pci.h"
#include "qtest-qmp.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef HAVE_LIBJPEG
#include <jpeglib.h>
#endif

#define CMD(...) g_free(qtest_cmd_ok(__VA_ARGS__))

#define VGA_ID 0x11111234u
#define LFB_ADDR UINT64_C(0xe0000000)
#define MMIO_ADDR UINT64_C(0xe1000000)
#define SCRATCH UINT64_C(0x200000)
#define WIDTH 640
#define HEIGHT 480
#define DETAIL_Y 200 /* rows DETAIL_Y..DETAIL_Y+DETAIL_H carry a per-pixel pattern */
#define DETAIL_H 32

struct vnc_test {
    struct qtest *qt;
    struct qmp *qmp;
    char *qmp_path;
    char *vnc_path; /* unix socket, or NULL */
    char *dm_log;
};


/* ---- machine ---- */

static void vnc_start(struct vnc_test *t, const char *vnc_opts, const char *extra)
{
    g_autofree char *args = NULL;
    g_autofree char *xensim_args = NULL;

    memset(t, 0, sizeof(*t));
    t->qmp_path = qtest_tmp_path("qmp-vnc.sock");
    t->dm_log = qtest_tmp_path("vnc-dm.log");
    if (vnc_opts == NULL) {
        t->vnc_path = qtest_tmp_path("vnc.sock");
        unlink(t->vnc_path);
    }
    args = g_strdup_printf("-chardev socket,id=test-qmp,path=%s,server=on,wait=off "
                           "-mon chardev=test-qmp,mode=control -device VGA,vgamem_mb=16 "
                           "-vnc %s%s%s %s",
                           t->qmp_path, vnc_opts ? "" : "unix:", vnc_opts ? vnc_opts : t->vnc_path,
                           "", extra ? extra : "");
    xensim_args = g_strdup_printf("--serial null --name vnctest --dm-log %s", t->dm_log);
    unlink(t->qmp_path);
    unlink(t->dm_log);
    t->qt = qtest_start(xensim_args, args);
    t->qmp = qmp_open(t->qmp_path);
    qmp_call_ok(t->qmp, "{\"execute\":\"qmp_capabilities\"}");
}

static void vnc_stop(struct vnc_test *t)
{
    g_autofree char *status = qtest_dm_status(t->qt);

    int exit_status;

    g_assert_cmpstr(status, ==, "running");
    qmp_close(t->qmp);
    exit_status = qtest_quit(t->qt);
    if (exit_status != 0) {
        g_autofree char *log = NULL;
        g_file_get_contents(t->dm_log, &log, NULL, NULL);
        g_test_message("device model log:\n%s", log ? log : "(none)");
    }
    g_assert_cmpint(exit_status, ==, 0);
    unlink(t->qmp_path);
    unlink(t->dm_log);
    g_free(t->qmp_path);
    g_free(t->vnc_path);
    g_free(t->dm_log);
}

static unsigned find_vga(struct qtest *qt)
{
    for (unsigned slot = 0; slot < 32; slot++) {
        if (qpci_read(qt, QPCI_DEVFN(slot, 0), 0, 4) == VGA_ID) {
            return QPCI_DEVFN(slot, 0);
        }
    }
    g_assert_not_reached();
}

static void vbe_write(struct qtest *qt, uint16_t index, uint16_t value)
{
    qtest_outw(qt, 0x1ce, index);
    qtest_outw(qt, 0x1cf, value);
}

static void vbe_mode(struct qtest *qt, unsigned w, unsigned h)
{
    vbe_write(qt, 4, 0);
    vbe_write(qt, 1, w);
    vbe_write(qt, 2, h);
    vbe_write(qt, 3, 32);
    vbe_write(qt, 4, 0x41); /* enabled, LFB */
}

static uint32_t detail_pattern(int x, int y)
{
    return (uint32_t)(x * 7 & 0xff) << 16 | (uint32_t)(y * 11 & 0xff) << 8 | ((x + y) & 0xff);
}

static uint32_t quadrant_colour(int x, int y, int w, int h)
{
    static const uint32_t colours[4] = {0xff0000, 0x00ff00, 0x0000ff, 0xffffff};
    return colours[(y >= h / 2) * 2 + (x >= w / 2)];
}

/*
 * Four coloured quadrants and a band of per-pixel detail, a row at a time into the LFB: with
 * the BAR placed, the VRAM frames sit under it as guest RAM (as on Xen), and the device model
 * learns what changed from the dirty-VRAM tracking.
 */
static void draw_pattern(struct vnc_test *t, int w, int h)
{
    unsigned devfn = find_vga(t->qt);
    g_autofree uint32_t *row = g_new(uint32_t, w);

    qpci_write(t->qt, devfn, 0x10, (uint32_t)LFB_ADDR, 4);
    qpci_write(t->qt, devfn, 0x18, (uint32_t)MMIO_ADDR, 4);
    qpci_write(t->qt, devfn, 0x04, 0x0003, 2);
    vbe_mode(t->qt, w, h);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            row[x] = y >= DETAIL_Y && y < DETAIL_Y + DETAIL_H ? detail_pattern(x, y)
                                                              : quadrant_colour(x, y, w, h);
        }
        qtest_memwrite(t->qt, LFB_ADDR + (uint64_t)y * w * 4, row, (size_t)w * 4);
    }
}

/* ---- pictures ---- */

static void assert_same_image(const struct qtest_image *a, const struct qtest_image *b)
{
    unsigned mismatches = 0;

    g_assert_cmpint(a->width, ==, b->width);
    g_assert_cmpint(a->height, ==, b->height);
    for (int y = 0; y < a->height; y++) {
        for (int x = 0; x < a->width; x++) {
            if (qtest_image_pixel(a, x, y) != qtest_image_pixel(b, x, y) && mismatches++ < 5) {
                g_test_message("pixel %d,%d: viewer 0x%06x, screendump 0x%06x", x, y,
                               qtest_image_pixel(a, x, y), qtest_image_pixel(b, x, y));
            }
        }
    }
    g_assert_cmpuint(mismatches, ==, 0);
}

static void assert_pattern(const struct qtest_image *img, int w, int h)
{
    unsigned mismatches = 0;

    g_assert_cmpint(img->width, ==, w);
    g_assert_cmpint(img->height, ==, h);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            uint32_t want = y >= DETAIL_Y && y < DETAIL_Y + DETAIL_H ? detail_pattern(x, y)
                                                                     : quadrant_colour(x, y, w, h);
            if (qtest_image_pixel(img, x, y) != want && mismatches++ < 5) {
                g_test_message("pixel %d,%d: 0x%06x, want 0x%06x", x, y, qtest_image_pixel(img, x, y), want);
            }
        }
    }
    g_assert_cmpuint(mismatches, ==, 0);
}

/* ---- the viewers ---- */

static const char *rfb_client_path(void)
{
    const char *path = g_getenv("RFB_CLIENT");

    g_assert_nonnull(path);
    return path;
}

/* Runs rfb-client.py with TARGET and ARGS (space-separated); returns its exit status. */
static int rfb_run(const char *target, const char *args, char **out)
{
    g_autofree char *cmdline = g_strdup_printf("python3 %s %s %s", rfb_client_path(), target,
                                               args);
    g_autoptr(GError) err = NULL;
    g_autofree char *errout = NULL;
    char *stdout_text = NULL;
    int status = -1;

    g_assert_true(g_spawn_command_line_sync(cmdline, &stdout_text, &errout, &status, &err));
    if (errout != NULL && *errout) {
        g_test_message("rfb-client stderr: %s", errout);
    }
    g_test_message("rfb-client %s: %s", args, stdout_text);
    if (out != NULL) {
        *out = stdout_text;
    } else {
        g_free(stdout_text);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *unix_target(const struct vnc_test *t)
{
    return g_strdup_printf("unix:%s", t->vnc_path);
}

static struct qtest_image viewer_frame(const char *target, const char *options)
{
    g_autofree char *path = qtest_tmp_path("vnc-frame.ppm");
    g_autofree char *args = g_strdup_printf("%s frame %s", options ? options : "", path);
    struct qtest_image img = {0};

    unlink(path);
    g_assert_cmpint(rfb_run(target, args, NULL), ==, 0);
    g_assert_true(qtest_ppm_load(path, &img));
    unlink(path);
    return img;
}

/* A viewer running in the background, with its stdout. */
struct viewer {
    GPid pid;
    int in_fd, out_fd;
};

static struct viewer viewer_spawn(const char *target, const char *args)
{
    g_autofree char *cmdline = g_strdup_printf("python3 %s %s %s", rfb_client_path(), target,
                                               args);
    g_auto(GStrv) argv = NULL;
    g_autoptr(GError) err = NULL;
    struct viewer v;

    g_assert_true(g_shell_parse_argv(cmdline, NULL, &argv, &err));
    g_assert_true(g_spawn_async_with_pipes(NULL, argv, NULL,
                                           G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                                           NULL, &v.pid, &v.in_fd, &v.out_fd, NULL, &err));
    return v;
}

/* Reads the viewer's stdout until a line starting with `prefix`; the line, or NULL at EOF. */
static char *viewer_wait_line(struct viewer *v, const char *prefix)
{
    GString *line = g_string_new(NULL);
    char c;

    while (read(v->out_fd, &c, 1) == 1) {
        if (c != '\n') {
            g_string_append_c(line, c);
            continue;
        }
        if (g_str_has_prefix(line->str, prefix)) {
            return g_string_free(line, FALSE);
        }
        g_test_message("viewer: %s", line->str);
        g_string_truncate(line, 0);
    }
    g_string_free(line, TRUE);
    return NULL;
}

static int viewer_finish(struct viewer *v)
{
    char rest[4096];
    ssize_t n;
    int status;

    close(v->in_fd);
    while ((n = read(v->out_fd, rest, sizeof(rest) - 1)) > 0) {
        rest[n] = '\0';
        g_test_message("viewer: %s", rest);
    }
    close(v->out_fd);
    g_assert_cmpint(waitpid(v->pid, &status, 0), ==, v->pid);
    g_spawn_close_pid(v->pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- tests ---- */

static void test_frame(void)
{
    struct vnc_test t;
    g_autofree char *target = NULL;
    g_autofree char *out = NULL;
    struct qtest_image view, dump;

    vnc_start(&t, NULL, NULL);
    target = unix_target(&t);
    draw_pattern(&t, WIDTH, HEIGHT);
    /* The screendump's refresh also updates the server's copy (else the next 30 Hz tick). */
    dump = qtest_screendump(t.qmp);
    view = viewer_frame(target, NULL);
    assert_same_image(&view, &dump);
    if (qtest_dm_is_xendm()) {
        assert_pattern(&view, WIDTH, HEIGHT);
    }
    g_free(view.rgb);
    g_free(dump.rgb);

    /* The desktop name: QEMU's "QEMU (NAME)"; xendm's says which device model it is. */
    g_assert_cmpint(rfb_run(target, "", &out), ==, 0);
    g_assert_nonnull(strstr(out, qtest_dm_is_xendm() ? "name=xendm" : "name=QEMU"));
    vnc_stop(&t);
}

static void test_resize(void)
{
    struct vnc_test t;
    g_autofree char *target = NULL;
    g_autofree char *first = qtest_tmp_path("vnc-first.ppm");
    g_autofree char *resized = qtest_tmp_path("vnc-resized.ppm");
    g_autofree char *last = qtest_tmp_path("vnc-last.ppm");
    g_autofree char *args = g_strdup_printf("frame %s wait-size 800 600 %s wait-stdin frame %s",
                                            first, resized, last);
    g_autofree char *line = NULL;
    struct viewer v;
    struct qtest_image view, dump;

    if (!qtest_dm_is_xendm()) {
        /* Under xensim qemu-xen's own screendump stays 640x480 after this mode switch. */
        g_test_skip("qemu-xen does not switch to the VBE mode here");
        return;
    }
    unlink(first);
    unlink(last);
    vnc_start(&t, NULL, NULL);
    target = unix_target(&t);
    draw_pattern(&t, WIDTH, HEIGHT);
    v = viewer_spawn(target, args);
    line = viewer_wait_line(&v, "frame-done");
    g_assert_nonnull(line);
    /* The mode switch while the viewer watches: DesktopSize, then the new picture. */
    draw_pattern(&t, 800, 600);
    g_free(viewer_wait_line(&v, "size-done"));
    dump = qtest_screendump(t.qmp);
    g_assert_cmpint(write(v.in_fd, "go\n", 3), ==, 3);
    g_assert_cmpint(viewer_finish(&v), ==, 0);
    g_assert_true(qtest_ppm_load(last, &view));
    assert_same_image(&view, &dump);
    if (qtest_dm_is_xendm()) {
        assert_pattern(&view, 800, 600);
    }
    g_free(view.rgb);
    g_free(dump.rgb);
    unlink(first);
    unlink(resized);
    unlink(last);
    vnc_stop(&t);
}

/* The i8042's output buffer: the next byte the guest reads from port 0x60, or -1. */
static int kbd_read(struct qtest *qt)
{
    for (int i = 0; i < 200; i++) {
        if (qtest_inb(qt, 0x64) & 0x01) {
            return qtest_inb(qt, 0x60);
        }
        g_usleep(10000);
    }
    return -1;
}

/*
 * The i8042 command byte as a BIOS leaves it: translation to scan code set 1 on, interrupts
 * off (this test polls). Reset values differ between device models; a guest never relies on them.
 */
static void kbd_setup(struct qtest *qt)
{
    qtest_outb(qt, 0x64, 0x60);
    qtest_outb(qt, 0x60, 0x44);
}

static void test_keys(void)
{
    struct vnc_test t;
    g_autofree char *target = NULL;

    vnc_start(&t, NULL, NULL);
    target = unix_target(&t);
    kbd_setup(t.qt);
    /* 'a' (keysym 0x61): key A, set-1 make 0x1e, break 0x9e through the i8042's translation. */
    g_assert_cmpint(rfb_run(target, "key 0x61 sleep 0.3", NULL), ==, 0);
    g_assert_cmphex(kbd_read(t.qt), ==, 0x1e);
    g_assert_cmphex(kbd_read(t.qt), ==, 0x9e);
    /* '@' is Shift+2 on a US keyboard: the viewer sends Shift itself, '@' is key 2 (0x03). */
    g_assert_cmpint(rfb_run(target, "keydown 0xffe1 key 0x40 keyup 0xffe1 sleep 0.3", NULL), ==, 0);
    g_assert_cmphex(kbd_read(t.qt), ==, 0x2a);
    g_assert_cmphex(kbd_read(t.qt), ==, 0x03);
    g_assert_cmphex(kbd_read(t.qt), ==, 0x83);
    g_assert_cmphex(kbd_read(t.qt), ==, 0xaa);
    /* QEMU's Extended Key Event: XT 0x10 is the key at Q's place, whatever the keysym. */
    g_assert_cmpint(rfb_run(target, "ext-key 0x10 0x61 sleep 0.3", NULL), ==, 0);
    g_assert_cmphex(kbd_read(t.qt), ==, 0x10);
    g_assert_cmphex(kbd_read(t.qt), ==, 0x90);
    /* An extended key: XT 0xc8 (E0 48) is Up. */
    g_assert_cmpint(rfb_run(target, "ext-key 0xc8 0xff52 sleep 0.3", NULL), ==, 0);
    g_assert_cmphex(kbd_read(t.qt), ==, 0xe0);
    g_assert_cmphex(kbd_read(t.qt), ==, 0x48);
    g_assert_cmphex(kbd_read(t.qt), ==, 0xe0);
    g_assert_cmphex(kbd_read(t.qt), ==, 0xc8);
    g_assert_cmpint(kbd_read(t.qt), ==, -1);
    vnc_stop(&t);
}

static void test_pointer(void)
{
    struct vnc_test t;
    g_autofree char *target = NULL;
    g_autofree char *log = NULL;

    if (!qtest_dm_is_xendm()) {
        g_test_skip("the trace point is xendm's");
        return;
    }
    vnc_start(&t, NULL, "-trace vnc_pointer");
    target = unix_target(&t);
    draw_pattern(&t, WIDTH, HEIGHT);
    /* The far corner is INPUT_ABS_MAX on both axes; the wheel-up press is dz = +1. */
    g_assert_cmpint(rfb_run(target, "pointer 639 479 1 pointer 320 0 8 pointer 320 0 0", NULL),
                    ==, 0);
    qmp_call_ok(t.qmp, "{\"execute\":\"query-status\"}");
    g_assert_true(g_file_get_contents(t.dm_log, &log, NULL, NULL));
    g_assert_nonnull(strstr(log, "x=32767 y=32767 buttons=0x1 dz=0"));
    g_assert_nonnull(strstr(log, "x=16409 y=0 buttons=0x8 dz=1"));
    g_assert_nonnull(strstr(log, "x=16409 y=0 buttons=0x0 dz=0"));
    vnc_stop(&t);
}

static void qmp_ok_fmt(struct vnc_test *t, const char *json)
{
    qmp_call_ok(t->qmp, json);
}

static void test_password(void)
{
    struct vnc_test t;
    g_autofree char *opts = NULL;
    g_autofree char *target = NULL;
    g_autofree char *path = qtest_tmp_path("vnc.sock");

    if (!qtest_dm_is_xendm()) {
        /* Debian's qemu-xen refuses password=on: "Cipher backend does not support DES". */
        g_test_skip("qemu-xen has no VNC auth");
        return;
    }
    opts = g_strdup_printf("unix:%s,password=on", path);
    unlink(path);
    vnc_start(&t, opts, NULL);
    t.vnc_path = g_strdup(path);
    target = unix_target(&t);
    /* password=on and no password yet: nobody gets in. */
    g_assert_cmpint(rfb_run(target, "", NULL), ==, 2);
    g_assert_cmpint(rfb_run(target, "--password x", NULL), ==, 2);
    /* libxl's call: VNC auth takes the first 8 characters. */
    qmp_ok_fmt(&t, "{\"execute\":\"change-vnc-password\","
                   "\"arguments\":{\"password\":\"s3cret-pw\"}}");
    g_assert_cmpint(rfb_run(target, "--password s3cret-p", NULL), ==, 0);
    g_assert_cmpint(rfb_run(target, "--password s3cret-pw", NULL), ==, 0);
    g_assert_cmpint(rfb_run(target, "--password s3cret", NULL), ==, 2);
    g_assert_cmpint(rfb_run(target, "", NULL), ==, 2);
    qmp_ok_fmt(&t, "{\"execute\":\"set_password\",\"arguments\":"
                   "{\"protocol\":\"vnc\",\"password\":\"other\"}}");
    g_assert_cmpint(rfb_run(target, "--password s3cret-pw", NULL), ==, 2);
    g_assert_cmpint(rfb_run(target, "--password other", NULL), ==, 0);
    qmp_call_fails(t.qmp, "{\"execute\":\"set_password\",\"arguments\":{\"protocol\":\"vnc\","
                          "\"password\":\"x\",\"connected\":\"disconnect\"}}",
                   "Invalid parameter 'connected'");
    qmp_ok_fmt(&t, "{\"execute\":\"expire_password\",\"arguments\":"
                   "{\"protocol\":\"vnc\",\"time\":\"now\"}}");
    g_assert_cmpint(rfb_run(target, "--password other", NULL), ==, 2);
    qmp_ok_fmt(&t, "{\"execute\":\"expire_password\",\"arguments\":"
                   "{\"protocol\":\"vnc\",\"time\":\"+3600\"}}");
    g_assert_cmpint(rfb_run(target, "--password other", NULL), ==, 0);
    qmp_ok_fmt(&t, "{\"execute\":\"expire_password\",\"arguments\":"
                   "{\"protocol\":\"vnc\",\"time\":\"never\"}}");
    g_assert_cmpint(rfb_run(target, "--password other", NULL), ==, 0);
    vnc_stop(&t);
}

static void test_password_needs_auth(void)
{
    struct vnc_test t;

    vnc_start(&t, NULL, NULL);
    /* Without password=on there is no VNC auth to give a password to (QEMU's error). */
    qmp_call_fails(t.qmp, "{\"execute\":\"change-vnc-password\",\"arguments\":"
                          "{\"password\":\"x\"}}", "Could not set password");
    vnc_stop(&t);
}

/* A display number whose port nobody listens on now, from `first` up. */
static int free_display(int first)
{
    for (int d = first; d < 100; d++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(5900 + d),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        bool free_port;

        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        free_port = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        close(fd);
        if (free_port) {
            return d;
        }
    }
    g_assert_not_reached();
}

/* Holds port 5900 + d open (listening) until closed. */
static int occupy_display(int d)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(5900 + d),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(bind(fd, (struct sockaddr *)&a, sizeof(a)), ==, 0);
    g_assert_cmpint(listen(fd, 1), ==, 0);
    return fd;
}

#ifdef HAVE_LIBJPEG
static bool jpeg_load(const char *path, struct qtest_image *img)
{
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr jerr;
    FILE *f = fopen(path, "rb");

    if (f == NULL) {
        return false;
    }
    cinfo.err = jpeg_std_error(&jerr);
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, f);
    jpeg_read_header(&cinfo, TRUE);
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    img->width = cinfo.output_width;
    img->height = cinfo.output_height;
    img->rgb = g_malloc((size_t)img->width * img->height * 3);
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = img->rgb + (size_t)cinfo.output_scanline * img->width * 3;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    fclose(f);
    return true;
}

/* The mean colour of a square is `want` within `tolerance` per channel. */
static void assert_area(const struct qtest_image *img, int cx, int cy, uint32_t want, int tolerance)
{
    long sum[3] = {0, 0, 0};
    int n = 0;

    for (int y = cy - 20; y < cy + 20; y++) {
        for (int x = cx - 20; x < cx + 20; x++) {
            uint32_t p = qtest_image_pixel(img, x, y);
            sum[0] += p >> 16;
            sum[1] += (p >> 8) & 0xff;
            sum[2] += p & 0xff;
            n++;
        }
    }
    for (int c = 0; c < 3; c++) {
        int mean = (int)(sum[c] / n), expect = (int)(want >> (16 - 8 * c)) & 0xff;
        g_assert_cmpint(abs(mean - expect), <=, tolerance);
    }
}

static void vncsnapshot_check(int display)
{
    g_autofree char *jpg = qtest_tmp_path("vnc-snapshot.jpg");
    g_autofree char *cmdline = g_strdup_printf("vncsnapshot -quiet -allowblank 127.0.0.1:%d %s",
                                               display, jpg);
    g_autoptr(GError) err = NULL;
    struct qtest_image img;
    int status;

    unlink(jpg);
    g_assert_true(g_spawn_command_line_sync(cmdline, NULL, NULL, &status, &err));
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    g_assert_true(jpeg_load(jpg, &img));
    g_assert_cmpint(img.width, ==, WIDTH);
    g_assert_cmpint(img.height, ==, HEIGHT);
    assert_area(&img, WIDTH / 4, HEIGHT / 4 - 40, 0xff0000, 12);
    assert_area(&img, WIDTH * 3 / 4, HEIGHT / 4 - 40, 0x00ff00, 12);
    assert_area(&img, WIDTH / 4, HEIGHT * 3 / 4, 0x0000ff, 12);
    assert_area(&img, WIDTH * 3 / 4, HEIGHT * 3 / 4, 0xffffff, 12);
    g_free(img.rgb);
    unlink(jpg);
}
#endif

static void test_tcp_query(void)
{
    struct vnc_test t;
    int first = free_display(40);
    int taken = occupy_display(first);
    int display = free_display(first + 1);
    g_autofree char *opts = g_strdup_printf("127.0.0.1:%d,to=99", first);
    g_autofree char *target = NULL;
    g_autofree char *reply = NULL;
    g_autofree char *holding = NULL;
    g_autofree char *port = g_strdup_printf("\"service\":\"%d\"", 5900 + display);
    struct viewer v;

    /* libxl's -vnc 127.0.0.1:D,to=99: display `first` is taken, the next free one serves. */
    vnc_start(&t, opts, NULL);
    close(taken);
    target = g_strdup_printf("127.0.0.1:%d", 5900 + display);
    if (!qtest_dm_is_xendm()) {
        /*
         * xensim passes libxl's "-vnc none" first, and QEMU reports that first display in
         * query-vnc; the viewer still reaches the second one.
         */
        g_assert_cmpint(rfb_run(target, "", NULL), ==, 0);
        vnc_stop(&t);
        return;
    }
    reply = qmp_call(t.qmp, "{\"execute\":\"query-vnc\"}");
    g_test_message("query-vnc: %s", reply);
    g_assert_nonnull(strstr(reply, "\"enabled\":true"));
    g_assert_nonnull(strstr(reply, "\"host\":\"127.0.0.1\""));
    g_assert_nonnull(strstr(reply, "\"family\":\"ipv4\""));
    g_assert_nonnull(strstr(reply, port));
    g_assert_nonnull(strstr(reply, "\"auth\":\"none\""));
    g_assert_nonnull(strstr(reply, "\"clients\":[]"));

    draw_pattern(&t, WIDTH, HEIGHT);
    g_free(qtest_screendump(t.qmp).rgb); /* brings the server's copy up to date */
#ifdef HAVE_LIBJPEG
    vncsnapshot_check(display);
#endif
    v = viewer_spawn(target, "hold");
    holding = viewer_wait_line(&v, "holding");
    g_assert_nonnull(holding);
    g_free(reply);
    reply = qmp_call(t.qmp, "{\"execute\":\"query-vnc\"}");
    g_test_message("query-vnc with a viewer: %s", reply);
    g_assert_nonnull(strstr(reply, "\"clients\":[{"));
    g_assert_nonnull(strstr(reply, "\"websocket\":false"));
    g_assert_cmpint(viewer_finish(&v), ==, 0);
    vnc_stop(&t);
}

/* -vnc [::1]:D: an IPv6 listener, reported as such. */
static void test_ipv6(void)
{
    struct vnc_test t;
    int d = free_display(60);
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 loop = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    g_autofree char *opts = g_strdup_printf("[::1]:%d", d);
    g_autofree char *target = g_strdup_printf("[::1]:%d", 5900 + d);
    g_autofree char *reply = NULL;

    if (probe < 0 || bind(probe, (struct sockaddr *)&loop, sizeof(loop)) < 0) {
        if (probe >= 0) {
            close(probe);
        }
        g_test_skip("no IPv6 loopback here");
        return;
    }
    close(probe);
    vnc_start(&t, opts, NULL);
    g_assert_cmpint(rfb_run(target, "", NULL), ==, 0);
    if (qtest_dm_is_xendm()) {
        reply = qmp_call(t.qmp, "{\"execute\":\"query-vnc\"}");
        g_assert_nonnull(strstr(reply, "\"host\":\"::1\""));
        g_assert_nonnull(strstr(reply, "\"family\":\"ipv6\""));
    }
    vnc_stop(&t);
}

static void test_start_refused(void)
{
    int d = free_display(40);
    int taken = occupy_display(d);
    g_autofree char *args = g_strdup_printf("-vnc 127.0.0.1:%d", d);

    if (!qtest_dm_is_xendm()) {
        close(taken);
        g_test_skip("xendm's messages");
        return;
    }
    /* The user asked for VNC: a port in use without to= is fatal, not a silent headless guest. */
    qtest_assert_start_refused("--serial null", args, "cannot listen on port");
    close(taken);
    qtest_assert_start_refused("--serial null", "-vnc 127.0.0.1", "expected HOST:DISPLAY");
    qtest_assert_start_refused("--serial null", "-vnc :x7", "expected HOST:DISPLAY");
    qtest_assert_start_refused("--serial null", "-vnc :0,websocket=on", "websocket");
    qtest_assert_start_refused("--serial null", "-vnc :0,share=maybe", "share=maybe");
}

static void assert_still_serving(struct vnc_test *t, const char *target)
{
    struct qtest_image view;

    qmp_call_ok(t->qmp, "{\"execute\":\"query-status\"}");
    view = viewer_frame(target, NULL);
    g_assert_cmpint(view.width, ==, WIDTH);
    g_free(view.rgb);
}

static void test_hostile(void)
{
    struct vnc_test t;
    g_autofree char *target = NULL;

    vnc_start(&t, NULL, NULL);
    target = unix_target(&t);
    draw_pattern(&t, WIDTH, HEIGHT);
    /* The server hangs up on each; none may take xendm along. */
    rfb_run(target, "garbage sleep 0.2", NULL);
    assert_still_serving(&t, target);
    rfb_run(target, "cuttext-huge sleep 0.2", NULL);
    assert_still_serving(&t, target);
    for (int i = 0; i < 5; i++) {
        g_assert_cmpint(rfb_run(target, "drop-mid-update", NULL), ==, 0);
    }
    assert_still_serving(&t, target);
    vnc_stop(&t);
}

/* User plus system CPU time of a process, in clock ticks. */
static unsigned long cpu_ticks(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int)pid);
    g_autofree char *text = NULL;
    unsigned long utime = 0, stime = 0;
    const char *p;

    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    p = strrchr(text, ')'); /* after the command name, fields 3.. */
    g_assert_nonnull(p);
    g_assert_cmpint(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
                           &stime), ==, 2);
    return utime + stime;
}

/*
 * Idle costs nothing: a viewer connected with an update request outstanding, a guest that
 * does not draw: no update is sent and the device model does not wake up to poll.
 */
static void test_idle(void)
{
    struct vnc_test t;
    g_autofree char *target = NULL;
    g_autofree char *frame = qtest_tmp_path("vnc-idle.ppm");
    g_autofree char *args = g_strdup_printf("frame %s idle 3", frame);
    g_autofree char *updates = NULL;
    unsigned long before, after;
    struct viewer v;

    if (!qtest_dm_is_xendm()) {
        g_test_skip("measures xendm");
        return;
    }
    vnc_start(&t, NULL, NULL);
    target = unix_target(&t);
    draw_pattern(&t, WIDTH, HEIGHT);
    g_free(qtest_screendump(t.qmp).rgb);
    v = viewer_spawn(target, args);
    g_free(viewer_wait_line(&v, "frame-done"));
    before = cpu_ticks(qtest_dm_pid(t.qt));
    updates = viewer_wait_line(&v, "updates=");
    after = cpu_ticks(qtest_dm_pid(t.qt));
    g_assert_cmpint(viewer_finish(&v), ==, 0);
    g_test_message("idle 3 s with a viewer: %lu ticks of CPU, %s", after - before, updates);
    g_assert_cmpstr(updates, ==, "updates=0");
    g_assert_cmpuint(after - before, <=, 2);
    unlink(frame);
    vnc_stop(&t);
}

static void test_sandbox(void)
{
    struct vnc_test t;
    g_autofree char *target = NULL;
    struct qtest_image view;

    if (!qtest_dm_is_xendm()) {
        g_test_skip("xendm's seccomp list");
        return;
    }
#if defined(__SANITIZE_ADDRESS__)
    /* As in test-restrict and test-vga: the sanitizer's run-time (LeakSanitizer at exit) needs
     * calls outside the allow-list. */
    g_test_skip("a sanitizer's run-time needs system calls outside the allow-list");
    return;
#endif
    vnc_start(&t, NULL, "-sandbox on");
    target = unix_target(&t);
    draw_pattern(&t, WIDTH, HEIGHT);
    /* (No screendump: a restricted xendm opens no path.) The console's next refresh, at most
     * 1/30 s away, brings the server's copy up to date. */
    g_usleep(200 * 1000);
    view = viewer_frame(target, NULL);
    assert_pattern(&view, WIDTH, HEIGHT);
    g_free(view.rgb);
    kbd_setup(t.qt);
    g_assert_cmpint(rfb_run(target, "key 0x61 sleep 0.3", NULL), ==, 0);
    g_assert_cmphex(kbd_read(t.qt), ==, 0x1e);
    vnc_stop(&t);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vnc/frame", test_frame);
    g_test_add_func("/vnc/resize", test_resize);
    g_test_add_func("/vnc/keys", test_keys);
    g_test_add_func("/vnc/pointer", test_pointer);
    g_test_add_func("/vnc/password", test_password);
    g_test_add_func("/vnc/password-needs-auth", test_password_needs_auth);
    g_test_add_func("/vnc/tcp-query", test_tcp_query);
    g_test_add_func("/vnc/ipv6", test_ipv6);
    g_test_add_func("/vnc/start-refused", test_start_refused);
    g_test_add_func("/vnc/hostile", test_hostile);
    g_test_add_func("/vnc/idle", test_idle);
    g_test_add_func("/vnc/sandbox", test_sandbox);
    return g_test_run();
}
