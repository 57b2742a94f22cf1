/*
 * make bench, figure 2: one device model's virtio-blk under a sustained load, driven through
 * xensim by qtest-virtio.c's load (the driver the virtio-blk qtest checks), for bench-ioreq.
 *
 *   bench-vblk SCRATCH_DIR [AIO]
 * Environment: XENSIM, XENSIM_LIBDIR, QTEST_DM (the device model), as for a qtest.
 *
 * Creates a 64 MiB raw image in SCRATCH_DIR (a tmpfs: the figure is the device model's, not
 * a disk's), starts xensim with a virtio-blk-pci on it (cache=writeback, aio=AIO if given),
 * brings the function up as a Linux driver does (MSI-X where the function has it, EVENT_IDX,
 * one queue) and then serves bench-ioreq on stdin/stdout, one line each way:
 *   ready URING             the device is up; URING 1 if the device model holds an io_uring
 *   run r|w DEPTH LEN rand|seq MS
 *       -> ok DONE NS CPU_NS CHECK
 *                           a case for MS milliseconds: DONE requests in NS nanoseconds, the
 *                           device model's CPU time (all threads, bench-cpu.h) over it; CHECK
 *                           is 1 or 0 after the first run of each case shape in this session
 *                           (every slot's last request compared with the image file), - after
 *                           later ones
 *   quit
 * Anything else, or a failure of the device, ends the program (a failed assertion): the
 * bench then has no sample from this subject, and says so.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench-cpu.h"
#include "libqtest.h"
#include "qtest-pci.h"
#include "qtest-virtio.h"

#define SLOT 5
#define MEM_WINDOW UINT64_C(0xe0000000)
#define IO_WINDOW 0xc000u
#define RING_GPA UINT64_C(0x100000)
#define IMAGE_BYTES (UINT64_C(64) << 20)
/* Polls of used idx that found nothing sleep this long, as the virtio-blk qtest's bench. */
#define POLL_US 20u

static const struct qvblk_layout layout = {
    .hdr_gpa = UINT64_C(0x110000),
    .status_gpa = UINT64_C(0x111000),
    .data_gpa = UINT64_C(0x1000000), /* 32 slots of up to 1 MiB: 16..48 MiB of 64 */
    .data_stride = UINT64_C(1) << 20,
};

struct vblk {
    struct qtest *qt;
    struct qvirtio *d;
    struct qvirtqueue vq;
    struct qvblk_load load;
    struct bench_cpu cpu; /* the device model's, all threads */
    char *image;          /* /proc/self/fd/N: the file is unlinked once the device has it */
    int image_fd;
    FILE *out;            /* the protocol's stdout; fd 1 itself goes to the log */
    GHashTable *verified; /* case shapes checked once */
};

/*
 * Scratch files to remove if a failed assertion or g_error ends this program (a tmpfs keeps them
 * until reboot otherwise). Written before the files exist; the handler only unlinks.
 */
static char abort_cleanup[1][4096];

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

/* Bytes no request size lines up with, so a read from the wrong offset shows. */
static char *make_image(const char *dir)
{
    char *path = g_build_filename(dir, "xendm-bench-vblk-XXXXXX", NULL);
    int fd = g_mkstemp(path);
    uint8_t *buf = g_malloc(1u << 20);

    g_assert_cmpint(fd, >=, 0);
    cleanup_on_abort(0, path);
    for (uint64_t off = 0; off < IMAGE_BYTES; off += 1u << 20) {
        for (size_t i = 0; i < (1u << 20); i++) {
            buf[i] = (uint8_t)((off + i) * 7 + ((off + i) >> 9) * 13);
        }
        g_assert_cmpint(pwrite(fd, buf, 1u << 20, (off_t)off), ==, 1 << 20);
    }
    close(fd);
    g_free(buf);
    return path;
}

static bool dm_has_io_uring(struct qtest *qt)
{
    pid_t pid = qtest_dm_pid(qt);
    g_autofree char *dir_path = g_strdup_printf("/proc/%d/fd", (int)pid);
    DIR *dir = pid > 0 ? opendir(dir_path) : NULL;
    struct dirent *e;
    bool found = false;

    while (dir != NULL && !found && (e = readdir(dir)) != NULL) {
        g_autofree char *link = g_strdup_printf("%s/%s", dir_path, e->d_name);
        char target[64];
        ssize_t n = readlink(link, target, sizeof(target) - 1);

        if (n > 0) {
            target[n] = '\0';
            found = strstr(target, "io_uring") != NULL;
        }
    }
    if (dir != NULL) {
        closedir(dir);
    }
    return found;
}

static void vblk_start(struct vblk *v, const char *scratch, const char *aio)
{
    g_autofree char *path = make_image(scratch);
    g_autofree char *args = NULL;
    bool msix;

    args = g_strdup_printf("-drive if=none,id=vd0,file=%s,format=raw,cache=writeback%s%s "
                           "-device virtio-blk-pci,drive=vd0,addr=%u", path,
                           aio ? ",aio=" : "", aio ? aio : "", SLOT);
    v->qt = qtest_start("--serial null", args);
    /* Nothing is left behind in the scratch directory, however this program ends. */
    v->image_fd = open(path, O_RDONLY | O_CLOEXEC);
    g_assert_cmpint(v->image_fd, >=, 0);
    unlink(path);
    abort_cleanup[0][0] = '\0';
    v->image = g_strdup_printf("/proc/self/fd/%d", v->image_fd);
    v->d = qvirtio_open(v->qt, QPCI_DEVFN(SLOT, 0), MEM_WINDOW, IO_WINDOW);
    /* As Linux: MSI-X where the function has it (qemu-xen's have none under Xen: INTx). */
    msix = qvirtio_msix_enable(v->d, 1, 0x41) && qvirtio_msix_enable(v->d, 0, 0x40);
    g_assert_true(qvirtio_negotiate(v->d, QVIRTIO_BIT(QVIRTIO_F_EVENT_IDX),
                                    msix ? 0 : QVIRTIO_NO_VECTOR));
    qvirtqueue_setup(v->d, &v->vq, 0, RING_GPA, 0, msix ? 1 : QVIRTIO_NO_VECTOR);
    qvirtio_driver_ok(v->d);
    qvblk_load_init(&v->load, &v->vq, true, &layout, IMAGE_BYTES / 512);
    bench_cpu_init(&v->cpu, qtest_dm_pid(v->qt));
    v->verified = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
}

/* Gives write slot k's buffer bytes no other slot has, so a misplaced write shows. */
static void stamp_buffers(struct vblk *v, unsigned depth, uint32_t len)
{
    for (unsigned k = 0; k < depth; k++) {
        g_free(qtest_cmd_ok(v->qt, "memset 0x%" PRIx64 " %u 0x%x",
                            layout.data_gpa + layout.data_stride * k, len, 0x40 + k));
    }
}

static void run_case(struct vblk *v, const char *line)
{
    char dir, order[8];
    unsigned depth, len, ms;
    int64_t elapsed;
    const char *check = "-";

    g_assert_cmpint(sscanf(line, "run %c %u %u %7s %u", &dir, &depth, &len, order, &ms), ==, 5);
    g_assert_true(dir == 'r' || dir == 'w');
    g_assert_cmpuint(len, <=, layout.data_stride);
    if (dir == 'w') {
        stamp_buffers(v, depth, len);
    }
    qvblk_load_start(&v->load, dir == 'w', depth, len, !strcmp(order, "seq"));
    uint64_t cpu0 = bench_cpu_ns(&v->cpu);
    uint64_t done = qvblk_load_run(&v->load, (int64_t)ms * 1000, POLL_US, &elapsed);
    uint64_t cpu1 = bench_cpu_ns(&v->cpu);
    /* The shape is what is after "run ", without the duration. */
    char *shape = g_strndup(line + 4, (size_t)(strrchr(line, ' ') - (line + 4)));
    if (g_hash_table_add(v->verified, shape)) {
        check = qvblk_load_verify(&v->load, v->image) ? "1" : "0";
    }
    fprintf(v->out, "ok %" PRIu64 " %" PRId64 " %" PRIu64 " %s\n", done, elapsed * 1000,
            cpu1 - cpu0, check);
}

int main(int argc, char **argv)
{
    struct vblk v = { 0 };
    char line[256];
    int proto_fd;

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s SCRATCH_DIR [AIO]\n", argv[0]);
        return 2;
    }
    /* xensim and the device model inherit fd 1: it goes to the log, the protocol elsewhere. */
    proto_fd = dup(STDOUT_FILENO);
    if (proto_fd < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
        return 1;
    }
    v.out = fdopen(proto_fd, "w");
    setvbuf(v.out, NULL, _IOLBF, 0);
    vblk_start(&v, argv[1], argc > 2 ? argv[2] : NULL);
    fprintf(v.out, "ready %d\n", dm_has_io_uring(v.qt));
    while (fgets(line, sizeof(line), stdin) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (!strcmp(line, "quit")) {
            break;
        }
        g_assert_true(g_str_has_prefix(line, "run "));
        run_case(&v, line);
    }
    qvirtio_close(v.d);
    qtest_quit(v.qt);
    close(v.image_fd);
    g_free(v.image);
    g_hash_table_unref(v.verified);
    bench_cpu_free(&v.cpu);
    fclose(v.out);
    return 0;
}
