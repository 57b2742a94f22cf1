/*
 * xendm with an SDL2 window (-display sdl, libxl's -sdl) under xensim, on SDL's dummy video
 * driver (no display server here): the window's UI thread runs beside the event loop, a
 * guest that sets a VBE mode and draws still gets a correct QMP screendump, and xendm exits
 * cleanly with the window open. Without a usable video driver, or with no display server,
 * xendm refuses to start and says why, in SDL's words.
 *
 * xendm only: Debian's qemu-xen is built without SDL ("-display help" lists none).
 */
#include "libqtest.h"
#include "qtest-qmp.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CMD(...) g_free(qtest_cmd_ok(__VA_ARGS__))

static bool dm_has_thread(pid_t pid, const char *name)
{
    g_autofree char *dir_path = g_strdup_printf("/proc/%d/task", (int)pid);
    DIR *dir = opendir(dir_path);
    struct dirent *de;
    bool found = false;

    g_assert_nonnull(dir);
    while (!found && (de = readdir(dir)) != NULL) {
        g_autofree char *comm_path = NULL;
        g_autofree char *comm = NULL;
        if (de->d_name[0] == '.') {
            continue;
        }
        comm_path = g_strdup_printf("%s/%s/comm", dir_path, de->d_name);
        if (g_file_get_contents(comm_path, &comm, NULL, NULL)) {
            found = strcmp(g_strstrip(comm), name) == 0;
        }
    }
    closedir(dir);
    return found;
}

static void vbe_write(struct qtest *qt, uint16_t index, uint16_t value)
{
    qtest_outw(qt, 0x1ce, index);
    qtest_outw(qt, 0x1cf, value);
}

/* The first pixels of a screendump, and its size. */
static void screendump(struct qmp *qmp, int *width, int *height, uint8_t rgb[6])
{
    struct qtest_image img = qtest_screendump(qmp);

    *width = img.width;
    *height = img.height;
    g_assert_cmpint(img.width * img.height, >=, 2);
    memcpy(rgb, img.rgb, 6);
    g_free(img.rgb);
}

static void test_window_and_screendump(void)
{
    g_autofree char *qmp_path = qtest_tmp_path("qmp-sdl.sock");
    g_autofree char *log_path = qtest_tmp_path("sdl-dm.log");
    g_autofree char *xensim_args = g_strdup_printf("--serial null --dm-log %s", log_path);
    g_autofree char *args = g_strdup_printf(
        "-chardev socket,id=test-qmp,path=%s,server=on,wait=off "
        "-mon chardev=test-qmp,mode=control -device VGA,vgamem_mb=16 -display sdl", qmp_path);
    g_autofree char *log = NULL;
    g_autofree char *status = NULL;
    struct qtest *qt;
    struct qmp *qmp;
    int width, height;
    uint8_t rgb[6];

    g_setenv("SDL_VIDEODRIVER", "dummy", TRUE); /* offscreen would load EGL: leaks under ASan */
    g_setenv("SDL_RENDER_DRIVER", "software", TRUE);
    unlink(qmp_path);
    qt = qtest_start(xensim_args, args);
    qmp = qmp_open(qmp_path);
    qmp_call_ok(qmp, "{\"execute\":\"qmp_capabilities\"}");
    g_assert_true(dm_has_thread(qtest_dm_pid(qt), "sdl-ui"));

    /* Bochs VBE 320x200x32, banked: two pixels through the 0xA0000 window. */
    vbe_write(qt, 4, 0);      /* ENABLE */
    vbe_write(qt, 1, 320);    /* XRES */
    vbe_write(qt, 2, 200);    /* YRES */
    vbe_write(qt, 3, 32);     /* BPP */
    vbe_write(qt, 4, 0x01);   /* ENABLED, banked */
    qtest_writel(qt, 0xa0000, 0x00ff8000);
    qtest_writel(qt, 0xa0004, 0x000080ff);
    /* Window writes travel the buffered ring; a read is synchronous and comes after them,
     * while QMP is another channel: without it the screendump may beat the writes. */
    g_assert_cmphex(qtest_readl(qt, 0xa0004), ==, 0x000080ff);
    screendump(qmp, &width, &height, rgb);
    g_assert_cmpint(width, ==, 320);
    g_assert_cmpint(height, ==, 200);
    g_assert_cmphex(rgb[0] << 16 | rgb[1] << 8 | rgb[2], ==, 0xff8000);
    g_assert_cmphex(rgb[3] << 16 | rgb[4] << 8 | rgb[5], ==, 0x0080ff);

    /* The window refreshes at its bounded rate meanwhile; the device model keeps serving. */
    g_usleep(100 * 1000);
    status = qtest_dm_status(qt);
    g_assert_cmpstr(status, ==, "running");
    qmp_close(qmp);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
    g_assert_true(g_file_get_contents(log_path, &log, NULL, NULL));
    g_assert_nonnull(strstr(log, "-display sdl: window open (dummy video, VGA"));
    unlink(log_path);
}

/* No video: a refusal naming the option and SDL's reason, not a crash. */
static void test_no_video(void)
{
    g_setenv("SDL_VIDEODRIVER", "no-such-driver", TRUE);
    qtest_assert_start_refused("--serial null", "-display sdl",
                               "-display sdl: no-such-driver not available");
}

/*
 * A host without X or Wayland: SDL itself would fall back to its invisible offscreen driver;
 * xendm refuses instead and gives each real driver's reason. (Not where a DRM device exists:
 * SDL's KMSDRM driver could take over the console there.)
 */
static void test_no_display_server(void)
{
    if (g_file_test("/dev/dri", G_FILE_TEST_EXISTS)) {
        g_test_skip("/dev/dri exists: SDL's KMSDRM driver might open a window");
        return;
    }
    g_unsetenv("SDL_VIDEODRIVER");
    g_unsetenv("DISPLAY");
    g_unsetenv("WAYLAND_DISPLAY");
    g_setenv("XDG_RUNTIME_DIR", "/nonexistent", TRUE);
    qtest_assert_start_refused("--serial null", "-sdl",
                               "-display sdl: no display to show a window on "
                               "(DISPLAY and WAYLAND_DISPLAY are unset; x11: ");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    if (!qtest_dm_is_xendm()) {
        g_test_skip("only xendm has an SDL window");
        return g_test_run();
    }
    g_test_add_func("/sdl2/window-and-screendump", test_window_and_screendump);
    g_test_add_func("/sdl2/no-video", test_no_video);
    g_test_add_func("/sdl2/no-display-server", test_no_display_server);
    return g_test_run();
}
