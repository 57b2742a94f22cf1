/*
 * make bench, figure 4: what a full-screen change costs one device model's standard VGA, for
 * bench-ioreq. The guest has set a 1024x768x32 Bochs VBE mode (VBE DISPI registers through
 * ports 0x1ce/0x1cf) with the framebuffer BAR placed and decoding on, so the VRAM frames sit
 * under the BAR as guest RAM (both xendm and qemu-xen relocate them there). A frame is the
 * whole 3 MiB rewritten with one new byte value by xensim (`memset` on guest memory: what a
 * vCPU's stores into RAM do, no ioreq, but marked in the dirty-VRAM log as Xen would).
 *
 *   bench-vga SCRATCH_DIR
 * Environment: XENSIM, XENSIM_LIBDIR, QTEST_DM, as for a qtest.
 *
 * Serves bench-ioreq on stdin/stdout, one line each way:
 *   ready
 *   dump N  -> ok N CPU_NS WALL_NS CHECK
 *              N frames, each followed by a QMP screendump into SCRATCH_DIR (a full render
 *              of the surface and a PPM write: the display brought up to date on demand).
 *              CPU_NS: the device model's CPU time (all threads, bench-cpu.h) from before the
 *              frame's write to the screendump's reply, summed; WALL_NS: the screendumps'
 *              QMP round trips. CHECK 1 when the last dump shows the last frame's colour at
 *              its corners and centre, 0 when it is stale.
 *   vnc N   -> ok N CPU_NS WALL_NS CHECK
 *              the same frames with a VNC viewer attached instead (-vnc on a Unix socket,
 *              a minimal RFB 3.8 client here: raw encoding, 32 bpp, incremental requests):
 *              the device model's own refresh finds the change (track_dirty_vram) and sends
 *              it. A frame ends when every pixel the viewer holds has the new colour. CPU_NS
 *              as above, up to that moment; WALL_NS: the write's end to that moment. CHECK 0:
 *              the viewer did not get a whole frame within VNC_FRAME_TIMEOUT_MS (the figure
 *              is then missing).
 *   quit
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench-cpu.h"
#include "libqtest.h"
#include "qtest-pci.h"
#include "qtest-qmp.h"

#define VGA_ID 0x11111234u
#define LFB_ADDR UINT64_C(0xe0000000)
#define MMIO_ADDR UINT64_C(0xe1000000)
#define WIDTH 1024u
#define HEIGHT 768u
#define FRAME_BYTES (WIDTH * HEIGHT * 4u)
#define MEMSET_MAX (1u << 20) /* xensim's limit per memset */
#define VNC_FRAME_TIMEOUT_MS 10000

struct rfb {
    int fd;
    uint32_t *pixels; /* what the viewer holds, 0x00RRGGBB */
    uint8_t *buf;     /* one rectangle's raw bytes */
};

struct vga {
    struct qtest *qt;
    struct qmp *qmp;
    struct bench_cpu cpu;
    char *dump_path, *qmp_path, *vnc_path;
    struct rfb rfb;
    bool rfb_open;
    uint8_t colour; /* the byte of the latest frame */
    FILE *out;
};

/*
 * Scratch files to remove if a failed assertion or g_error ends this program (a tmpfs keeps them
 * until reboot otherwise). Written before the files exist; the handler only unlinks.
 */
static char abort_cleanup[3][4096];

static void remove_on_abort(int sig)
{
    for (size_t i = 0; i < G_N_ELEMENTS(abort_cleanup); i++) {
        if (abort_cleanup[i][0] != '\0') {
            unlink(abort_cleanup[i]);
        }
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void cleanup_on_abort(unsigned i, const char *path)
{
    g_strlcpy(abort_cleanup[i], path, sizeof(abort_cleanup[i]));
    signal(SIGABRT, remove_on_abort); /* g_assert */
    signal(SIGTRAP, remove_on_abort); /* g_error */
}

static unsigned find_vga(struct qtest *qt)
{
    for (unsigned slot = 0; slot < 32; slot++) {
        if (qpci_read(qt, QPCI_DEVFN(slot, 0), 0, 4) == VGA_ID) {
            return QPCI_DEVFN(slot, 0);
        }
    }
    g_error("bench-vga: no standard VGA on the bus");
}

static void vbe_write(struct qtest *qt, uint16_t index, uint16_t value)
{
    qtest_outw(qt, 0x1ce, index);
    qtest_outw(qt, 0x1cf, value);
}

static void vga_start(struct vga *v, const char *scratch)
{
    g_autofree char *args = NULL;
    unsigned devfn;

    /* Named after this process: the subjects' sessions run side by side. */
    v->qmp_path = g_strdup_printf("%s/xendm-bench-vga-%d-qmp.sock", scratch, (int)getpid());
    v->vnc_path = g_strdup_printf("%s/xendm-bench-vga-%d-vnc.sock", scratch, (int)getpid());
    v->dump_path = g_strdup_printf("%s/xendm-bench-vga-%d.ppm", scratch, (int)getpid());
    cleanup_on_abort(0, v->qmp_path);
    cleanup_on_abort(1, v->vnc_path);
    cleanup_on_abort(2, v->dump_path);
    unlink(v->qmp_path);
    unlink(v->vnc_path);
    args = g_strdup_printf("-chardev socket,id=bench-qmp,path=%s,server=on,wait=off "
                           "-mon chardev=bench-qmp,mode=control -device VGA,vgamem_mb=16 "
                           "-vnc unix:%s", v->qmp_path, v->vnc_path);
    v->qt = qtest_start("--serial null", args);
    v->qmp = qmp_open(v->qmp_path);
    qmp_call_ok(v->qmp, "{\"execute\":\"qmp_capabilities\"}");
    bench_cpu_init(&v->cpu, qtest_dm_pid(v->qt));
    /* Firmware's part: the LFB BAR and the register BAR placed, memory decoding on. */
    devfn = find_vga(v->qt);
    qpci_write(v->qt, devfn, 0x10, (uint32_t)LFB_ADDR, 4);
    qpci_write(v->qt, devfn, 0x18, (uint32_t)MMIO_ADDR, 4);
    qpci_write(v->qt, devfn, 0x04, 0x0003, 2);
    /* The driver's: 1024x768, 32 bpp, enabled with the linear framebuffer (Bochs VBE DISPI). */
    vbe_write(v->qt, 4, 0);
    vbe_write(v->qt, 1, WIDTH);
    vbe_write(v->qt, 2, HEIGHT);
    vbe_write(v->qt, 3, 32);
    vbe_write(v->qt, 4, 0x41);
    /*
     * The attribute controller's palette address source (index register bit 5) on, as the
     * BIOS leaves it after a mode set: with it off the screen shows the overscan colour
     * (qemu-xen then keeps its old surface).
     */
    qtest_inb(v->qt, 0x3da); /* the index/data flip-flop to index */
    qtest_outb(v->qt, 0x3c0, 0x20);
}

/* The next frame: every byte of the framebuffer takes a value it did not have. */
static void write_frame(struct vga *v)
{
    v->colour = (uint8_t)(v->colour + 0x25);
    if (v->colour == 0) {
        v->colour = 0x25;
    }
    for (uint32_t off = 0; off < FRAME_BYTES; off += MEMSET_MAX) {
        g_free(qtest_cmd_ok(v->qt, "memset 0x%" PRIx64 " %u 0x%x", LFB_ADDR + off,
                            MIN(MEMSET_MAX, FRAME_BYTES - off), v->colour));
    }
}

static uint32_t frame_pixel(const struct vga *v)
{
    return (uint32_t)v->colour * 0x010101u;
}

static void screendump(struct vga *v)
{
    g_autofree char *cmd = g_strdup_printf(
        "{\"execute\":\"screendump\",\"arguments\":{\"filename\":\"%s\"}}", v->dump_path);

    qmp_call_ok(v->qmp, cmd);
}

static bool dump_shows_frame(struct vga *v)
{
    struct qtest_image img;
    bool ok;

    if (!qtest_ppm_load(v->dump_path, &img)) {
        return false;
    }
    ok = img.width == (int)WIDTH && img.height == (int)HEIGHT &&
         qtest_image_pixel(&img, 0, 0) == frame_pixel(v) &&
         qtest_image_pixel(&img, WIDTH / 2, HEIGHT / 2) == frame_pixel(v) &&
         qtest_image_pixel(&img, WIDTH - 1, HEIGHT - 1) == frame_pixel(v);
    g_free(img.rgb);
    return ok;
}

static void run_dumps(struct vga *v, unsigned frames)
{
    uint64_t cpu = 0;
    int64_t wall = 0;

    for (unsigned i = 0; i < frames; i++) {
        uint64_t cpu0 = bench_cpu_ns(&v->cpu);
        write_frame(v);
        int64_t t0 = g_get_monotonic_time();
        screendump(v);
        wall += g_get_monotonic_time() - t0;
        cpu += bench_cpu_ns(&v->cpu) - cpu0;
    }
    fprintf(v->out, "ok %u %" PRIu64 " %" PRId64 " %d\n", frames, cpu, wall * 1000,
            dump_shows_frame(v));
}

/* ---- a minimal VNC viewer (RFB 3.8, RFC 6143) ---- */

static bool rfb_read(struct rfb *r, void *buf, size_t len, int64_t deadline)
{
    uint8_t *p = buf;

    while (len > 0) {
        int64_t left_ms = (deadline - g_get_monotonic_time()) / 1000;
        struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
        if (left_ms <= 0 || poll(&pfd, 1, (int)left_ms) <= 0) {
            return false;
        }
        ssize_t n = read(r->fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static void rfb_write(struct rfb *r, const void *buf, size_t len)
{
    g_assert_cmpint(write(r->fd, buf, len), ==, (ssize_t)len);
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* §7.1-7.3: version, security None, ClientInit (shared), ServerInit; then 32 bpp and raw. */
static void rfb_open(struct rfb *r, const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int64_t deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    uint8_t version[12], nsec, types[32], result[4], init[24], name[256];
    /* §7.4.1 SetPixelFormat: 32 bpp, depth 24, little endian, true colour, 8:8:8 at 16/8/0. */
    static const uint8_t set_format[20] = { 0, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255,
                                            16, 8, 0, 0, 0, 0 };
    static const uint8_t set_raw[8] = { 2, 0, 0, 1, 0, 0, 0, 0 }; /* §7.4.2: raw only */

    g_strlcpy(addr.sun_path, path, sizeof(addr.sun_path));
    r->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(connect(r->fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    g_assert_true(rfb_read(r, version, sizeof(version), deadline));
    rfb_write(r, "RFB 003.008\n", 12);
    g_assert_true(rfb_read(r, &nsec, 1, deadline));
    g_assert_cmpuint(nsec, >, 0);
    g_assert_true(rfb_read(r, types, nsec, deadline));
    g_assert_nonnull(memchr(types, 1, nsec));
    rfb_write(r, "\x01", 1);
    g_assert_true(rfb_read(r, result, 4, deadline));
    g_assert_cmpuint(be32(result), ==, 0);
    rfb_write(r, "\x01", 1);
    g_assert_true(rfb_read(r, init, sizeof(init), deadline));
    g_assert_cmpuint(be16(init), ==, WIDTH);
    g_assert_cmpuint(be16(init + 2), ==, HEIGHT);
    uint32_t name_len = be32(init + 20);
    while (name_len > 0) {
        uint32_t n = MIN(name_len, (uint32_t)sizeof(name));
        g_assert_true(rfb_read(r, name, n, deadline));
        name_len -= n;
    }
    rfb_write(r, set_format, sizeof(set_format));
    rfb_write(r, set_raw, sizeof(set_raw));
    r->pixels = g_new0(uint32_t, WIDTH * HEIGHT);
    r->buf = g_malloc(FRAME_BYTES);
}

static void rfb_request(struct rfb *r, bool incremental)
{
    uint8_t req[10] = { 3, incremental, 0, 0, 0, 0, WIDTH >> 8, WIDTH & 0xff, HEIGHT >> 8,
                        HEIGHT & 0xff };

    rfb_write(r, req, sizeof(req));
}

/* One raw rectangle into the viewer's pixels; *matching counts pixels equal to `want`. */
static bool rfb_rect(struct rfb *r, const uint8_t *hdr, uint32_t want, uint64_t *matching,
                     int64_t deadline)
{
    uint32_t x = be16(hdr), y = be16(hdr + 2), w = be16(hdr + 4), h = be16(hdr + 6);

    if (be32(hdr + 8) != 0 || x + w > WIDTH || y + h > HEIGHT) {
        return false; /* only raw was asked for, and only inside the screen */
    }
    if (!rfb_read(r, r->buf, (size_t)w * h * 4, deadline)) {
        return false;
    }
    for (uint32_t row = 0; row < h; row++) {
        for (uint32_t col = 0; col < w; col++) {
            const uint8_t *p = r->buf + 4 * ((size_t)row * w + col);
            uint32_t px = (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
            uint32_t *held = &r->pixels[(size_t)(y + row) * WIDTH + x + col];
            *matching += (px == want) - (*held == want);
            *held = px;
        }
    }
    return true;
}

/* Reads server messages until every pixel is `want`; false on a timeout or a surprise. */
static bool rfb_until_frame(struct rfb *r, uint32_t want, uint64_t *matching, int64_t deadline)
{
    while (*matching < (uint64_t)WIDTH * HEIGHT) {
        uint8_t msg[4], hdr[12];

        rfb_request(r, true);
        if (!rfb_read(r, msg, 4, deadline) || msg[0] != 0) {
            return false; /* §7.5: only FramebufferUpdate comes to a viewer that asks nothing */
        }
        for (unsigned i = 0; i < be16(msg + 2); i++) {
            if (!rfb_read(r, hdr, sizeof(hdr), deadline) ||
                !rfb_rect(r, hdr, want, matching, deadline)) {
                return false;
            }
        }
    }
    return true;
}

static uint64_t rfb_count(const struct rfb *r, uint32_t want)
{
    uint64_t n = 0;

    for (size_t i = 0; i < (size_t)WIDTH * HEIGHT; i++) {
        n += r->pixels[i] == want;
    }
    return n;
}

static void run_vnc(struct vga *v, unsigned frames)
{
    uint64_t cpu = 0;
    int64_t wall = 0;
    bool ok = true;

    if (!v->rfb_open) {
        /* The viewer starts with the whole screen, as one does on connecting. */
        rfb_open(&v->rfb, v->vnc_path);
        v->rfb_open = true;
        write_frame(v);
        rfb_request(&v->rfb, false);
        uint64_t matching = 0; /* the viewer holds zeros, and no frame's colour is 0 */
        ok = rfb_until_frame(&v->rfb, frame_pixel(v), &matching,
                             g_get_monotonic_time() + VNC_FRAME_TIMEOUT_MS * 1000);
    }
    for (unsigned i = 0; i < frames && ok; i++) {
        uint64_t cpu0 = bench_cpu_ns(&v->cpu);
        write_frame(v);
        int64_t t0 = g_get_monotonic_time();
        uint64_t matching = rfb_count(&v->rfb, frame_pixel(v));
        ok = rfb_until_frame(&v->rfb, frame_pixel(v), &matching,
                             t0 + VNC_FRAME_TIMEOUT_MS * 1000);
        wall += g_get_monotonic_time() - t0;
        cpu += bench_cpu_ns(&v->cpu) - cpu0;
    }
    fprintf(v->out, "ok %u %" PRIu64 " %" PRId64 " %d\n", frames, cpu, wall * 1000, ok);
    if (!ok) {
        /* The viewer is out of step with the server now: a later vnc command starts over. */
        close(v->rfb.fd);
        g_free(v->rfb.pixels);
        g_free(v->rfb.buf);
        v->rfb_open = false;
    }
}

int main(int argc, char **argv)
{
    struct vga v = { 0 };
    char line[128];
    unsigned n;
    int proto_fd;

    if (argc != 2) {
        fprintf(stderr, "usage: %s SCRATCH_DIR\n", argv[0]);
        return 2;
    }
    /* xensim and the device model inherit fd 1: it goes to the log, the protocol elsewhere. */
    proto_fd = dup(STDOUT_FILENO);
    if (proto_fd < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
        return 1;
    }
    v.out = fdopen(proto_fd, "w");
    setvbuf(v.out, NULL, _IOLBF, 0);
    vga_start(&v, argv[1]);
    fprintf(v.out, "ready\n");
    while (fgets(line, sizeof(line), stdin) != NULL && strncmp(line, "quit", 4) != 0) {
        if (sscanf(line, "dump %u", &n) == 1) {
            run_dumps(&v, n);
        } else if (sscanf(line, "vnc %u", &n) == 1) {
            run_vnc(&v, n);
        } else {
            g_error("bench-vga: unknown command '%s'", line);
        }
    }
    if (v.rfb_open) {
        close(v.rfb.fd);
        g_free(v.rfb.pixels);
        g_free(v.rfb.buf);
    }
    qmp_close(v.qmp);
    qtest_quit(v.qt);
    bench_cpu_free(&v.cpu);
    unlink(v.dump_path);
    unlink(v.qmp_path);
    unlink(v.vnc_path);
    g_free(v.dump_path);
    g_free(v.qmp_path);
    g_free(v.vnc_path);
    fclose(v.out);
    return 0;
}
