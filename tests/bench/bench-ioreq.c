/*
 * make bench: xendm against Debian's qemu-xen and against the floor, side by
 * side in one run. docs/performance.md explains the method and keeps results.
 *
 * Subjects: xendm, qemu-xen (/usr/libexec/xen-qemu-system-i386, unmodified)
 * and the floor (dm-echo: a device model that answers at once), each run by
 * its own xensim; optionally an earlier xendm binary (xendm-before) for an
 * improvement's before/after. Each round opens one session per subject, side
 * by side, and measures:
 *   - start: xensim's exec of the device model -> "running" in xenstore;
 *   - PIO round trips: `bench_io inb 0x3fd N` (the UART's LSR), N synchronous
 *     ioreqs issued back to back inside xensim's loop: no test socket in it;
 *   - MMIO round trips the same way: `bench_io readl 0xf0000000 N`, routed
 *     reads of the Xen platform device's BAR1 (00:02.0, programmed at
 *     0xf0000000; both models answer 0 without side effects). The floor
 *     claims that window too and echoes the address; xensim refuses the
 *     command if nobody claims the address, so no subject can measure
 *     Xen's all-ones answer instead of a round trip;
 *   - PIO and MMIO round trips, pipelined: N identical qtest commands written
 *     in batches, so xensim runs them back to back (its parsing and replies
 *     are in the figure, the client's wake-ups are not). MMIO is a raw COPY
 *     read of BAR1 (`ioreq copy r 4 1 0xf0000000 0`), to the first enabled
 *     server, as in earlier runs (the floor once claimed no MMIO);
 *   - device-model CPU per ioreq for each of those (all its threads);
 *   - RSS after the workload, without the guest-RAM mappings (the memfd
 *     xensim shares as guest memory, ioreq pages included).
 * The round trips run in slices, subjects in turn within each slice (A B C A
 * B C ...), so load from elsewhere falls on every subject alike.
 * Once per round: bench-mapcache (xendm only: no qemu-xen counterpart); then figure 2,
 * virtio-blk (bench-vblk: xendm on threads and on io_uring, qemu-xen; each case run in
 * turns A B C A B C), and figure 4, VGA full-frame changes (bench-vga: screendump and VNC
 * viewer, xendm and qemu-xen in turn), each helper one xensim session of one subject.
 * Once: the binaries' sizes given with --size/--static-size.
 *
 * Prints medians, spread (min..max) and ratios against qemu-xen and the floor,
 * then the targets next to the measured ratios, and writes every raw
 * sample as JSON. A benchmark prints; it never fails a build.
 *
 *   bench-ioreq [--rounds N] [--count N] [--json FILE] [--log FILE]
 *               [--size DM=FILE]... [--static-size DM=FILE]...
 * Environment: XENSIM, XENSIM_LIBDIR, BENCH_XENDM, BENCH_QEMU_XEN, BENCH_FLOOR,
 *              BENCH_MAPCACHE (the bench-mapcache binary), BENCH_VBLK and BENCH_VGA (the
 *              helpers; unset: figures 2 and 4 left out), BENCH_SCRATCH (their images and
 *              sockets, default /dev/shm), BENCH_VBLK_MS (one virtio-blk run, default 250),
 *              BENCH_VGA_FRAMES (per round and path, default 20).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench-client.h"
#include "bench-helper.h"

/* Where the platform device's 16 MiB BAR1 goes: in the PCI hole, below the LAPIC. */
#define PLATFORM_BAR1_ADDR 0xf0000000u
#define PLATFORM_CFG(reg) (0x80000000u | (2u << 11) | (reg)) /* 00:02.0 via 0xCF8 */
#define PCI_COMMAND_MEMORY 0x2u
#define UART_LSR_PORT 0x3fd
#define KIB 1024.0
/* Each round-trip sample is taken in this many slices, interleaved across subjects. */
#define ROUND_SLICES 10u

/* DM_XENDM_BEFORE: an earlier xendm binary, for an improvement's before/after in one run. */
/* DM_XENDM_URING: xendm with aio=io_uring, a subject of figure 2 only. */
enum subject_id { DM_XENDM, DM_XENDM_BEFORE, DM_QEMU_XEN, DM_FLOOR, DM_XENDM_URING, NR_SUBJECTS };

static const char *const subject_label[NR_SUBJECTS] = { "xendm", "xendm-before", "qemu-xen",
                                                        "floor", "xendm-uring" };

/* Figure 2's cases: each gives requests per second, MiB per second and CPU per request. */
static const struct vblk_case {
    const char *name; /* as the table says it */
    const char *id;   /* in the JSON */
    bool write;
    unsigned depth;
    uint32_t len;
    bool sequential;
} vblk_cases[] = {
    { "QD1 4K read", "4k_rand_read_qd1", false, 1, 4096, false },
    { "QD32 4K read", "4k_rand_read_qd32", false, 32, 4096, false },
    { "QD1 1M read", "1m_seq_read_qd1", false, 1, 1u << 20, true },
    { "QD32 1M read", "1m_seq_read_qd32", false, 32, 1u << 20, true },
    { "QD1 4K write", "4k_rand_write_qd1", true, 1, 4096, false },
    { "QD32 4K write", "4k_rand_write_qd32", true, 32, 4096, false },
    { "QD1 1M write", "1m_seq_write_qd1", true, 1, 1u << 20, true },
    { "QD32 1M write", "1m_seq_write_qd32", true, 32, 1u << 20, true },
};
#define NR_VBLK_CASES G_N_ELEMENTS(vblk_cases)
#define VBLK_CASE_COUNT 8 /* for the figure enum */
G_STATIC_ASSERT(NR_VBLK_CASES == VBLK_CASE_COUNT);
enum vblk_metric { VBLK_RATE, VBLK_MIBS, VBLK_CPU, NR_VBLK_METRICS };
#define FIG_VBLK(c, m) (FIG_VBLK_FIRST + (int)(c) * NR_VBLK_METRICS + (int)(m))
/* Figure 2's subjects, with the drive's aio= for each. */
static const struct {
    enum subject_id subject;
    const char *aio;
} vblk_subjects[] = { { DM_XENDM, "threads" }, { DM_XENDM_URING, "io_uring" },
                      { DM_QEMU_XEN, NULL } };
#define NR_VBLK_SUBJECTS G_N_ELEMENTS(vblk_subjects)
/* Figure 4's subjects. */
static const enum subject_id vga_subjects[] = { DM_XENDM, DM_QEMU_XEN };
#define NR_VGA_SUBJECTS G_N_ELEMENTS(vga_subjects)

enum figure_id {
    FIG_START,
    FIG_PIO_RATE,
    FIG_PIO_CPU,
    FIG_MMIO_RATE,
    FIG_MMIO_CPU,
    FIG_PIO_PIPE_RATE,
    FIG_PIO_PIPE_CPU,
    FIG_MMIO_PIPE_RATE,
    FIG_MMIO_PIPE_CPU,
    FIG_RSS,
    FIG_RSS_GUEST,
    FIG_SIZE_DYNAMIC,
    FIG_SIZE_STATIC,
    FIG_MC_HIT_SAME,
    FIG_MC_HIT_OTHER,
    FIG_MC_LOCK,
    FIG_MC_MISS,
    FIG_MC_MAPPER,
    FIG_VBLK_FIRST, /* NR_VBLK_CASES x NR_VBLK_METRICS, see FIG_VBLK() */
    FIG_VGA_DUMP_CPU = FIG_VBLK_FIRST + VBLK_CASE_COUNT * NR_VBLK_METRICS,
    FIG_VGA_DUMP_WALL,
    FIG_VGA_VNC_CPU,
    FIG_VGA_VNC_WALL,
    NR_FIGURES,
};

struct figure {
    const char *id;
    const char *title;
    bool higher_better;
    GArray *samples[NR_SUBJECTS]; /* double */
    const char *absent[NR_SUBJECTS]; /* why a subject has no sample, when that is by design */
};

struct bench {
    const char *path[NR_SUBJECTS];
    bool available[NR_SUBJECTS];
    const char *mapcache_path;
    /* figures 2 and 4: their helper programs, where their images and sockets go */
    const char *vblk_path, *vga_path, *scratch;
    unsigned vblk_slice_ms, vga_frames;
    unsigned rounds, count;
    int log_fd;
    struct figure fig[NR_FIGURES];
    bool told_bar_unclaimed[NR_SUBJECTS];
    GPtrArray *owned_text; /* absent[] texts built at run time */
};

static const char *const no_mapcache_ref = "no reference (qemu-xen's mapcache is not separable)";

static void figure_init(struct bench *b, enum figure_id f, const char *id, const char *title,
                        bool higher_better)
{
    b->fig[f].id = id;
    b->fig[f].title = title;
    b->fig[f].higher_better = higher_better;
    for (int s = 0; s < NR_SUBJECTS; s++) {
        b->fig[f].samples[s] = g_array_new(FALSE, FALSE, sizeof(double));
    }
    b->fig[f].absent[DM_XENDM_URING] = "-";
}

/* A title built at run time, kept until the end. */
static const char *owned(struct bench *b, char *text)
{
    g_ptr_array_add(b->owned_text, text);
    return text;
}

/* Figures 2 and 4: the subjects each has, the others left out. */
static void device_figures_init(struct bench *b)
{
    static const char *const metric_id[NR_VBLK_METRICS] = { "kreqs", "mibs", "cpu_us" };
    static const char *const metric_unit[NR_VBLK_METRICS] = {
        "thousand requests/s", "MiB/s", "device-model CPU per request, us" };

    for (size_t c = 0; c < NR_VBLK_CASES; c++) {
        for (int m = 0; m < NR_VBLK_METRICS; m++) {
            int f = FIG_VBLK(c, m);
            figure_init(b, f, owned(b, g_strdup_printf("vblk_%s_%s", vblk_cases[c].id,
                                                       metric_id[m])),
                        owned(b, g_strdup_printf("2. virtio-blk %s (%s)", vblk_cases[c].name,
                                                 metric_unit[m])),
                        m != VBLK_CPU);
            b->fig[f].absent[DM_XENDM_URING] = NULL;
            b->fig[f].absent[DM_FLOOR] = "-";
            b->fig[f].absent[DM_XENDM_BEFORE] = "-";
        }
    }
    figure_init(b, FIG_VGA_DUMP_CPU, "vga_dump_cpu_ms",
                "4. VGA 1024x768x32 full-frame change + QMP screendump: device-model CPU (ms)",
                false);
    figure_init(b, FIG_VGA_DUMP_WALL, "vga_dump_wall_ms",
                "   screendump's QMP round trip (ms)", false);
    figure_init(b, FIG_VGA_VNC_CPU, "vga_vnc_cpu_ms",
                "4. VGA full-frame change to a VNC viewer: device-model CPU (ms)", false);
    figure_init(b, FIG_VGA_VNC_WALL, "vga_vnc_wall_ms",
                "   frame written -> the viewer holds all of it (ms)", false);
    for (int f = FIG_VGA_DUMP_CPU; f <= FIG_VGA_VNC_WALL; f++) {
        b->fig[f].absent[DM_FLOOR] = "-";
        b->fig[f].absent[DM_XENDM_BEFORE] = "-";
    }
}

static void figures_init(struct bench *b)
{
    figure_init(b, FIG_START, "start_ms", "5. start-up: exec -> running in xenstore (ms)", false);
    figure_init(b, FIG_PIO_RATE, "pio_kops",
                "1. PIO round trips, bench_io inside xensim (thousand/s)", true);
    figure_init(b, FIG_PIO_CPU, "pio_cpu_us", "   device-model CPU per PIO ioreq (us)", false);
    figure_init(b, FIG_MMIO_RATE, "mmio_kops",
                "1. MMIO round trips, bench_io inside xensim (thousand/s)", true);
    figure_init(b, FIG_MMIO_CPU, "mmio_cpu_us", "   device-model CPU per MMIO ioreq (us)",
                false);
    figure_init(b, FIG_PIO_PIPE_RATE, "pio_pipe_kops",
                "1. PIO round trips, pipelined qtest commands (thousand/s)", true);
    figure_init(b, FIG_PIO_PIPE_CPU, "pio_pipe_cpu_us",
                "   device-model CPU per PIO ioreq, pipelined (us)", false);
    figure_init(b, FIG_MMIO_PIPE_RATE, "mmio_pipe_kops",
                "1. MMIO round trips (platform BAR1 reads), pipelined (thousand/s)", true);
    figure_init(b, FIG_MMIO_PIPE_CPU, "mmio_pipe_cpu_us",
                "   device-model CPU per MMIO ioreq, pipelined (us)", false);
    figure_init(b, FIG_RSS, "rss_mib", "6. RSS with the guest running, guest RAM excluded (MiB)",
                false);
    figure_init(b, FIG_RSS_GUEST, "rss_guest_mib",
                "   guest RAM resident in the device model (MiB, excluded above)", false);
    figure_init(b, FIG_SIZE_DYNAMIC, "size_dynamic_kib",
                "6. binary size, dynamic, stripped (KiB; shared libraries not counted)", false);
    figure_init(b, FIG_SIZE_STATIC, "size_static_kib", "6. binary size, static, stripped (KiB)",
                false);
    figure_init(b, FIG_MC_HIT_SAME, "mapcache_hit_same_ns",
                "7. mapcache hit, same bucket as the last access (ns)", false);
    figure_init(b, FIG_MC_HIT_OTHER, "mapcache_hit_other_ns",
                "7. mapcache hit, cycling over 8 buckets (ns)", false);
    figure_init(b, FIG_MC_LOCK, "mapcache_lock_ns", "7. mapcache lock + unlock, mapped (ns)",
                false);
    figure_init(b, FIG_MC_MISS, "mapcache_miss_ns",
                "7. mapcache miss: map a 1 MiB bucket, evict the LRU one (ns)", false);
    figure_init(b, FIG_MC_MAPPER, "mapcache_mapper_ns",
                "   of which the fake mapper alone: mmap + touch + munmap (ns)", false);
    for (int f = FIG_MC_HIT_SAME; f <= FIG_MC_MAPPER; f++) {
        b->fig[f].absent[DM_QEMU_XEN] = no_mapcache_ref;
        b->fig[f].absent[DM_FLOOR] = "-";
        b->fig[f].absent[DM_XENDM_BEFORE] = "-";
    }
    b->fig[FIG_SIZE_STATIC].absent[DM_XENDM] = "not measured (no static build)";
    b->fig[FIG_SIZE_STATIC].absent[DM_QEMU_XEN] = "not measured (Debian ships it dynamic)";
    b->fig[FIG_SIZE_STATIC].absent[DM_FLOOR] = "-";
    b->fig[FIG_SIZE_STATIC].absent[DM_XENDM_BEFORE] = "-";
    device_figures_init(b);
}

static void figures_free(struct bench *b)
{
    for (int f = 0; f < NR_FIGURES; f++) {
        for (int s = 0; s < NR_SUBJECTS; s++) {
            g_array_unref(b->fig[f].samples[s]);
        }
    }
    g_ptr_array_unref(b->owned_text);
}

static void add_sample(struct bench *b, enum figure_id f, enum subject_id s, double v)
{
    g_array_append_val(b->fig[f].samples[s], v);
}

/* ---- measurements inside one xensim session ---- */

static double dm_cpu_ns(struct bench_session *sess)
{
    g_autofree char *text = bench_cmd(sess, NULL, "dm_cpu_time");
    return text != NULL ? g_ascii_strtod(text, NULL) : -1;
}

static void warn(struct bench *b, enum subject_id s, const char *what, GError *err)
{
    fprintf(stderr, "bench: %s: %s: %s\n", subject_label[s], what, err ? err->message : "failed");
    g_clear_error(&err);
}

/* ---- round-trip workloads, run in slices ---- */

enum workload { WL_PIO_LOOP, WL_MMIO_LOOP, WL_PIO_PIPE, WL_MMIO_PIPE, NR_WORKLOADS };

static const struct {
    enum figure_id rate, cpu;
} workload_figure[NR_WORKLOADS] = {
    [WL_PIO_LOOP] = { FIG_PIO_RATE, FIG_PIO_CPU },
    [WL_MMIO_LOOP] = { FIG_MMIO_RATE, FIG_MMIO_CPU },
    [WL_PIO_PIPE] = { FIG_PIO_PIPE_RATE, FIG_PIO_PIPE_CPU },
    [WL_MMIO_PIPE] = { FIG_MMIO_PIPE_RATE, FIG_MMIO_PIPE_CPU },
};

/* One subject's totals for one workload over the slices of a round. */
struct tally {
    double ns, cpu_ns;
    unsigned done;
    bool cpu_unknown, failed;
};

static bool workload_in_loop(enum workload w)
{
    return w == WL_PIO_LOOP || w == WL_MMIO_LOOP;
}

/* Elapsed nanoseconds of `count` ioreqs of workload w, or -1 with *err. */
static double run_workload(struct bench_session *sess, enum workload w, unsigned count,
                           GError **err)
{
    if (workload_in_loop(w)) {
        g_autofree char *ns = w == WL_PIO_LOOP
            ? bench_cmd(sess, err, "bench_io inb %#x %u", UART_LSR_PORT, count)
            : bench_cmd(sess, err, "bench_io readl %#x %u", PLATFORM_BAR1_ADDR, count);
        return ns != NULL ? g_ascii_strtod(ns, NULL) : -1;
    }
    g_autofree char *line = w == WL_PIO_PIPE
                                ? g_strdup_printf("inb %#x", UART_LSR_PORT)
                                : g_strdup_printf("ioreq copy r 4 1 %#x 0", PLATFORM_BAR1_ADDR);
    return (double)bench_pipeline(sess, line, count, err);
}

static void run_slice(struct bench *b, struct bench_session *sess, enum subject_id s,
                      enum workload w, unsigned count, struct tally *t)
{
    GError *err = NULL;

    if (t->failed) {
        return;
    }
    double cpu0 = dm_cpu_ns(sess);
    double ns = run_workload(sess, w, count, &err);
    double cpu1 = dm_cpu_ns(sess);
    if (ns < 0) {
        t->failed = true;
        return warn(b, s, workload_in_loop(w) ? "bench_io" : "pipelined ioreqs", err);
    }
    t->ns += ns;
    t->done += count;
    if (cpu0 >= 0 && cpu1 >= cpu0) {
        t->cpu_ns += cpu1 - cpu0;
    } else {
        t->cpu_unknown = true;
    }
}

static void record_tally(struct bench *b, enum subject_id s, enum workload w,
                         const struct tally *t)
{
    if (t->failed || t->done == 0 || t->ns <= 0) {
        return;
    }
    add_sample(b, workload_figure[w].rate, s, t->done / (t->ns / 1e9) / 1000.0);
    if (!t->cpu_unknown) {
        add_sample(b, workload_figure[w].cpu, s, t->cpu_ns / 1000.0 / t->done);
    }
}

/*
 * Puts BAR1 of the platform device at PLATFORM_BAR1_ADDR and enables memory
 * decoding, as firmware would, then checks that a routed read reaches the
 * device model (0, not the all-ones of an unclaimed address). The floor has
 * no PCI device: the cycles go nowhere, and its default MMIO claim covers the
 * same window, where it answers with the address itself.
 */
static void program_platform_bar(struct bench *b, struct bench_session *sess, enum subject_id s)
{
    /* The writes' replies carry nothing: the read below tells whether they took. */
    g_free(bench_cmd(sess, NULL, "outl 0xcf8 %#x", PLATFORM_CFG(0x14)));
    g_free(bench_cmd(sess, NULL, "outl 0xcfc %#x", PLATFORM_BAR1_ADDR));
    g_free(bench_cmd(sess, NULL, "outl 0xcf8 %#x", PLATFORM_CFG(0x04)));
    g_free(bench_cmd(sess, NULL, "outw 0xcfc %#x", PCI_COMMAND_MEMORY));
    g_autofree char *val = bench_cmd(sess, NULL, "readl %#x", PLATFORM_BAR1_ADDR);
    g_autofree char *expected = g_strdup_printf("0x%x", s == DM_FLOOR ? PLATFORM_BAR1_ADDR : 0);

    if ((val == NULL || strcmp(val, expected) != 0) && !b->told_bar_unclaimed[s]) {
        fprintf(stderr, "bench: %s: platform BAR1 read %s, not %s: the MMIO figures may not "
                "measure a device\n", subject_label[s], val ? val : "failed", expected);
        b->told_bar_unclaimed[s] = true;
    }
}

/*
 * Resident memory of the device model from /proc/PID/smaps: every mapping's
 * Rss, split into guest RAM (mappings of xensim's guest-RAM memfd, which is
 * also where the ioreq pages live) and the rest. Xen's foreign mappings are
 * the same split on a real host.
 */
static bool dm_rss_kib(pid_t pid, double *own_kib, double *guest_kib)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/smaps", (int)pid);
    g_autofree char *text = NULL;
    bool in_guest = false;

    if (!g_file_get_contents(path, &text, NULL, NULL)) {
        return false;
    }
    *own_kib = *guest_kib = 0;
    for (char *line = text, *next; line != NULL && *line; line = next) {
        next = strchr(line, '\n');
        if (next != NULL) {
            *next++ = '\0';
        }
        unsigned long long start, end, kib;
        if (sscanf(line, "%llx-%llx ", &start, &end) == 2) {
            in_guest = strstr(line, "/memfd:xensim-guest-ram") != NULL;
        } else if (sscanf(line, "Rss: %llu kB", &kib) == 1) {
            *(in_guest ? guest_kib : own_kib) += (double)kib;
        }
    }
    return true;
}

static void measure_rss(struct bench *b, struct bench_session *sess, enum subject_id s)
{
    pid_t pid = bench_session_dm_pid(sess);
    double own, guest;

    if (pid <= 0 || !dm_rss_kib(pid, &own, &guest)) {
        fprintf(stderr, "bench: %s: cannot read the device model's smaps\n", subject_label[s]);
        return;
    }
    add_sample(b, FIG_RSS, s, own / KIB);
    add_sample(b, FIG_RSS_GUEST, s, guest / KIB);
}

/* A session ready to measure: start-up recorded, BAR1 programmed, warmed up; NULL if none. */
static struct bench_session *open_session(struct bench *b, enum subject_id s)
{
    GError *err = NULL;
    struct bench_session *sess = bench_session_start(b->path[s], b->log_fd, &err);

    if (sess == NULL) {
        warn(b, s, "start", err);
        return NULL;
    }
    g_autofree char *us = bench_cmd(sess, NULL, "dm_start_time");
    if (us != NULL) {
        add_sample(b, FIG_START, s, g_ascii_strtod(us, NULL) / 1000.0);
    }
    program_platform_bar(b, sess, s);
    /* Warm-up: first-touch faults and lazy set-up are not the steady state. */
    g_free(bench_cmd(sess, NULL, "bench_io inb %#x 1000", UART_LSR_PORT));
    g_free(bench_cmd(sess, NULL, "bench_io readl %#x 1000", PLATFORM_BAR1_ADDR));
    return sess;
}

/*
 * One round: every subject's session is open side by side (an idle device model uses no
 * CPU), and each workload runs in ROUND_SLICES slices, subjects in turn within each slice:
 * a burst of load from elsewhere on the machine then falls on all subjects alike instead of
 * on whichever happened to be measured. A round gives one sample per subject and figure.
 *
 * Position matters too: an A/A run (xendm-before the same binary as xendm) measured the
 * second subject 6 to 12% faster than the first when the order was fixed. So the order in
 * which sessions open rotates with the round, and the subject that starts a slice rotates
 * with the slice: over a run every subject holds every position alike.
 */
static void measure_round(struct bench *b, unsigned round)
{
    struct bench_session *sess[NR_SUBJECTS] = { NULL };
    struct tally tally[NR_SUBJECTS][NR_WORKLOADS] = { { { 0 } } };
    unsigned slice = MAX(1u, b->count / ROUND_SLICES);

    for (unsigned i = 0; i < NR_SUBJECTS; i++) {
        unsigned s = (round + i) % NR_SUBJECTS;
        sess[s] = b->available[s] ? open_session(b, s) : NULL;
    }
    for (unsigned k = 0; k < ROUND_SLICES; k++) {
        for (int w = 0; w < NR_WORKLOADS; w++) {
            for (unsigned i = 0; i < NR_SUBJECTS; i++) {
                unsigned s = (round + k + i) % NR_SUBJECTS;
                if (sess[s] != NULL) {
                    run_slice(b, sess[s], s, w, slice, &tally[s][w]);
                }
            }
        }
    }
    for (int s = 0; s < NR_SUBJECTS; s++) {
        if (sess[s] == NULL) {
            continue;
        }
        for (int w = 0; w < NR_WORKLOADS; w++) {
            record_tally(b, s, w, &tally[s][w]);
        }
        measure_rss(b, sess[s], s);
        bench_session_end(sess[s]);
    }
}

/* ---- figure 7: bench-mapcache's one line ---- */

static void measure_mapcache(struct bench *b)
{
    static const struct { const char *key; enum figure_id fig; } keys[] = {
        { "hit_same=", FIG_MC_HIT_SAME }, { "hit_other=", FIG_MC_HIT_OTHER },
        { "lock=", FIG_MC_LOCK }, { "miss=", FIG_MC_MISS }, { "mapper=", FIG_MC_MAPPER },
    };
    const char *argv[] = { b->mapcache_path, NULL };
    g_autofree char *out = NULL;
    GError *err = NULL;
    int status;

    if (b->mapcache_path == NULL) {
        return;
    }
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL,
                      &status, &err) || !g_spawn_check_wait_status(status, &err)) {
        return warn(b, DM_XENDM, "bench-mapcache", err);
    }
    g_auto(GStrv) words = g_strsplit_set(g_strstrip(out), " ", -1);
    for (char **w = words; *w; w++) {
        for (size_t k = 0; k < G_N_ELEMENTS(keys); k++) {
            if (g_str_has_prefix(*w, keys[k].key)) {
                add_sample(b, keys[k].fig, DM_XENDM,
                           g_ascii_strtod(*w + strlen(keys[k].key), NULL));
            }
        }
    }
}

/* ---- figures 2 and 4: helper programs, one session per subject ---- */

/* A helper's start-up includes xensim's and the device model's, and a 64 MiB image. */
#define HELPER_START_MS 60000
/* Beyond a run's own length: the drain, and a data check of up to 32 MiB read back. */
#define HELPER_RUN_SLACK_MS 60000
/* Each case runs this many times a round per subject, subjects in turn (A B C A B C). */
#define VBLK_SLICES 2u
#define MIB (1024.0 * 1024.0)

struct vblk_tally {
    double done, ns, cpu_ns;
    bool failed;
};

static struct bench_helper *start_vblk(struct bench *b, size_t i)
{
    enum subject_id s = vblk_subjects[i].subject;
    const char *dm = b->path[s == DM_XENDM_URING ? DM_XENDM : s];
    char *argv[] = { (char *)b->vblk_path, (char *)b->scratch, (char *)vblk_subjects[i].aio,
                     NULL };
    g_autofree char *greeting = NULL;
    GError *err = NULL;
    struct bench_helper *h = bench_helper_start(argv, dm, b->log_fd, HELPER_START_MS,
                                                &greeting, &err);

    if (h == NULL) {
        warn(b, s, "virtio-blk session", err);
        return NULL;
    }
    /* "ready 1": the device model holds an io_uring; xendm falls back to threads silently. */
    if (s == DM_XENDM_URING && strcmp(greeting, "ready 1") != 0) {
        for (size_t c = 0; c < NR_VBLK_CASES; c++) {
            for (int m = 0; m < NR_VBLK_METRICS; m++) {
                b->fig[FIG_VBLK(c, m)].absent[s] =
                    "not measured (io_uring not available here: xendm ran on threads)";
            }
        }
        bench_helper_end(h);
        return NULL;
    }
    return h;
}

/* One run of case c on helper h, added to t; false when the helper is gone. */
static bool run_vblk(struct bench *b, struct bench_helper *h, enum subject_id s, size_t c,
                     struct vblk_tally *t)
{
    const struct vblk_case *vc = &vblk_cases[c];
    double done, ns, cpu;
    char check[4];
    GError *err = NULL;
    g_autofree char *reply = bench_helper_cmd(
        h, b->vblk_slice_ms + HELPER_RUN_SLACK_MS, &err, "run %c %u %u %s %u",
        vc->write ? 'w' : 'r', vc->depth, vc->len, vc->sequential ? "seq" : "rand",
        b->vblk_slice_ms);

    if (reply == NULL || sscanf(reply, "%lf %lf %lf %3s", &done, &ns, &cpu, check) != 4) {
        t->failed = true;
        warn(b, s, "virtio-blk run", err);
        return false;
    }
    if (strcmp(check, "0") == 0) {
        /* Numbers from a driver whose data went wrong say nothing. */
        fprintf(stderr, "bench: %s: virtio-blk %s: the data check failed\n", subject_label[s],
                vc->name);
        t->failed = true;
    }
    t->done += done;
    t->ns += ns;
    t->cpu_ns += cpu;
    return true;
}

static void record_vblk(struct bench *b, enum subject_id s, size_t c, const struct vblk_tally *t)
{
    if (t->failed || t->done <= 0 || t->ns <= 0) {
        return;
    }
    double rate = t->done / (t->ns / 1e9);
    add_sample(b, FIG_VBLK(c, VBLK_RATE), s, rate / 1000.0);
    add_sample(b, FIG_VBLK(c, VBLK_MIBS), s, rate * vblk_cases[c].len / MIB);
    add_sample(b, FIG_VBLK(c, VBLK_CPU), s, t->cpu_ns / 1000.0 / t->done);
}

/*
 * Figure 2, one round: a session per subject, side by side (idle ones use no CPU), each case
 * run VBLK_SLICES times per subject with the subjects in turn, positions rotated by round
 * and slice as for the round trips.
 */
static void measure_vblk_round(struct bench *b, unsigned round)
{
    struct bench_helper *h[NR_VBLK_SUBJECTS] = { NULL };
    struct vblk_tally t[NR_VBLK_SUBJECTS][VBLK_CASE_COUNT] = { { { 0 } } };

    for (size_t i = 0; i < NR_VBLK_SUBJECTS; i++) {
        size_t j = (round + i) % NR_VBLK_SUBJECTS;
        h[j] = b->available[vblk_subjects[j].subject == DM_XENDM_URING
                                ? DM_XENDM : vblk_subjects[j].subject]
                   ? start_vblk(b, j) : NULL;
    }
    for (unsigned k = 0; k < VBLK_SLICES; k++) {
        for (size_t c = 0; c < NR_VBLK_CASES; c++) {
            for (size_t i = 0; i < NR_VBLK_SUBJECTS; i++) {
                size_t j = (round + k + i) % NR_VBLK_SUBJECTS;
                if (h[j] != NULL && !run_vblk(b, h[j], vblk_subjects[j].subject, c, &t[j][c])) {
                    bench_helper_end(h[j]);
                    h[j] = NULL;
                }
            }
        }
    }
    for (size_t j = 0; j < NR_VBLK_SUBJECTS; j++) {
        for (size_t c = 0; c < NR_VBLK_CASES && h[j] != NULL; c++) {
            record_vblk(b, vblk_subjects[j].subject, c, &t[j][c]);
        }
        bench_helper_end(h[j]);
    }
}

/* One figure-4 command ("dump N" or "vnc N") on h: per-frame samples, false if h is gone. */
static bool run_vga(struct bench *b, struct bench_helper *h, enum subject_id s, const char *cmd,
                    enum figure_id cpu_fig, enum figure_id wall_fig)
{
    double frames, cpu, wall;
    int check;
    GError *err = NULL;
    g_autofree char *reply = bench_helper_cmd(h, HELPER_RUN_SLACK_MS + 100 * b->vga_frames,
                                              &err, "%s %u", cmd, b->vga_frames);

    if (reply == NULL || sscanf(reply, "%lf %lf %lf %d", &frames, &cpu, &wall, &check) != 4) {
        warn(b, s, cmd, err);
        return false;
    }
    if (!check) {
        fprintf(stderr, "bench: %s: VGA %s: the display did not show the frame\n",
                subject_label[s], cmd);
    } else if (frames > 0) {
        add_sample(b, cpu_fig, s, cpu / 1e6 / frames);
        add_sample(b, wall_fig, s, wall / 1e6 / frames);
    }
    return true;
}

/* Figure 4, one round: screendumps, then the VNC viewer, subjects in turn. */
static void measure_vga_round(struct bench *b, unsigned round)
{
    struct bench_helper *h[NR_VGA_SUBJECTS] = { NULL };
    static const struct {
        const char *cmd;
        enum figure_id cpu, wall;
    } parts[] = { { "dump", FIG_VGA_DUMP_CPU, FIG_VGA_DUMP_WALL },
                  { "vnc", FIG_VGA_VNC_CPU, FIG_VGA_VNC_WALL } };

    for (size_t i = 0; i < NR_VGA_SUBJECTS; i++) {
        size_t j = (round + i) % NR_VGA_SUBJECTS;
        enum subject_id s = vga_subjects[j];
        char *argv[] = { (char *)b->vga_path, (char *)b->scratch, NULL };
        g_autofree char *greeting = NULL;
        GError *err = NULL;

        if (b->available[s]) {
            h[j] = bench_helper_start(argv, b->path[s], b->log_fd, HELPER_START_MS, &greeting,
                                      &err);
            if (h[j] == NULL) {
                warn(b, s, "VGA session", err);
            } else {
                /* The first frame after the mode set is not the steady state. */
                g_free(bench_helper_cmd(h[j], HELPER_RUN_SLACK_MS, NULL, "dump 2"));
            }
        }
    }
    for (size_t p = 0; p < G_N_ELEMENTS(parts); p++) {
        for (size_t i = 0; i < NR_VGA_SUBJECTS; i++) {
            size_t j = (round + p + i) % NR_VGA_SUBJECTS;
            if (h[j] != NULL &&
                !run_vga(b, h[j], vga_subjects[j], parts[p].cmd, parts[p].cpu, parts[p].wall)) {
                bench_helper_end(h[j]);
                h[j] = NULL;
            }
        }
    }
    for (size_t j = 0; j < NR_VGA_SUBJECTS; j++) {
        bench_helper_end(h[j]);
    }
}

/* ---- figure 6: sizes, given as DM=FILE ---- */

static void record_size(struct bench *b, enum figure_id f, const char *spec)
{
    g_auto(GStrv) kv = g_strsplit(spec, "=", 2);
    struct stat st;

    for (int s = 0; kv[0] && kv[1] && s < NR_SUBJECTS; s++) {
        if (strcmp(kv[0], subject_label[s]) != 0) {
            continue;
        }
        if (stat(kv[1], &st) == 0) {
            add_sample(b, f, s, (double)st.st_size / KIB);
        } else {
            char *why = g_strdup_printf("not measured (%s: %s)", kv[1], g_strerror(errno));
            g_ptr_array_add(b->owned_text, why);
            b->fig[f].absent[s] = why;
        }
        return;
    }
    fprintf(stderr, "bench: ignoring size spec '%s' (want a subject's name=FILE)\n", spec);
}

/* ---- statistics and the table ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(GArray *v, double *lo, double *hi)
{
    if (v->len == 0) {
        *lo = *hi = 0;
        return 0;
    }
    double *sorted = g_memdup2(v->data, v->len * sizeof(double));
    qsort(sorted, v->len, sizeof(double), cmp_double);
    *lo = sorted[0];
    *hi = sorted[v->len - 1];
    double m = v->len % 2 ? sorted[v->len / 2]
                          : (sorted[v->len / 2 - 1] + sorted[v->len / 2]) / 2;
    g_free(sorted);
    return m;
}

static double figure_median(const struct bench *b, enum figure_id f, enum subject_id s)
{
    double lo, hi;
    return median(b->fig[f].samples[s], &lo, &hi);
}

static void format_ratio(char *buf, size_t len, double value, double ref)
{
    if (ref > 0 && value > 0) {
        g_snprintf(buf, len, "%.2fx", value / ref);
    } else {
        g_strlcpy(buf, "-", len);
    }
}

static void print_figure(const struct bench *b, enum figure_id f)
{
    const struct figure *fig = &b->fig[f];
    double ref = figure_median(b, f, DM_QEMU_XEN), floor_v = figure_median(b, f, DM_FLOOR);

    printf("\n%s, %s is better\n", fig->title, fig->higher_better ? "higher" : "lower");
    printf("  %-12s %10s %22s %11s %9s\n", "", "median", "spread (min..max)", "vs qemu-xen",
           "vs floor");
    for (int s = 0; s < NR_SUBJECTS; s++) {
        GArray *v = fig->samples[s];
        if (v->len == 0) {
            const char *why = fig->absent[s] ? fig->absent[s]
                              : b->available[s] ? "no sample (see the log)" : "not available";
            if (strcmp(why, "-") != 0 && (s != DM_XENDM_BEFORE || b->available[s])) {
                printf("  %-12s %10s   %s\n", subject_label[s], "n/a", why);
            }
            continue;
        }
        double lo, hi, m = median(v, &lo, &hi);
        char r1[16], r2[16], spread[32];
        format_ratio(r1, sizeof(r1), m, ref);
        format_ratio(r2, sizeof(r2), m, floor_v);
        g_snprintf(spread, sizeof(spread), "%.2f..%.2f", lo, hi);
        printf("  %-12s %10.2f %22s %11s %9s\n", subject_label[s], m, spread, r1, r2);
    }
    double before = figure_median(b, f, DM_XENDM_BEFORE);
    if (before > 0 && fig->samples[DM_XENDM]->len > 0) {
        printf("  xendm / xendm-before: %.2fx\n", figure_median(b, f, DM_XENDM) / before);
    }
}

/* "N req/s" (or MiB/s, us) with its spread, or why there is none. */
static void format_vblk(const struct bench *b, int f, enum subject_id s, double scale,
                        const char *unit, char *buf, size_t len)
{
    double lo, hi, m = median(b->fig[f].samples[s], &lo, &hi);

    if (b->fig[f].samples[s]->len == 0) {
        const char *why = b->fig[f].absent[s];
        if (why == NULL) {
            why = b->available[s == DM_XENDM_URING ? DM_XENDM : s] ? "no sample (see the log)"
                                                                    : "not available";
        }
        g_strlcpy(buf, why, len);
    } else {
        g_snprintf(buf, len, "%.0f %s (spread %.0f..%.0f)", m * scale, unit, lo * scale,
                   hi * scale);
    }
}

/*
 * Figure 2, two lines a case: requests per second of xendm (threads), of xendm on io_uring and
 * of qemu-xen with the ratios; MiB/s and device-model CPU per request beside.
 */
static void print_vblk(const struct bench *b)
{
    printf("\n2. virtio-blk through xensim, requests kept at the queue depth (4K: scrambled "
           "blocks, 1M: sequential), 64 MiB image on %s; higher rate, lower CPU is better\n",
           b->scratch);
    for (size_t c = 0; c < NR_VBLK_CASES; c++) {
        int rate = FIG_VBLK(c, VBLK_RATE), cpu = FIG_VBLK(c, VBLK_CPU);
        double ref = figure_median(b, rate, DM_QEMU_XEN);
        char x[96], u[96], q[96], rx[16], ru[16];

        format_vblk(b, rate, DM_XENDM, 1000, "req/s", x, sizeof(x));
        format_vblk(b, rate, DM_XENDM_URING, 1000, "req/s", u, sizeof(u));
        format_vblk(b, rate, DM_QEMU_XEN, 1000, "req/s", q, sizeof(q));
        format_ratio(rx, sizeof(rx), figure_median(b, rate, DM_XENDM), ref);
        format_ratio(ru, sizeof(ru), figure_median(b, rate, DM_XENDM_URING), ref);
        printf("  virtio-blk %s: xendm %s, qemu-xen %s, ratio %s; xendm io_uring %s, ratio %s\n",
               vblk_cases[c].name, x, q, rx, u, ru);
        printf("    MiB/s %.1f / %.1f / %.1f; CPU per request %.1f / %.1f / %.1f us "
               "(xendm / io_uring / qemu-xen)\n",
               figure_median(b, FIG_VBLK(c, VBLK_MIBS), DM_XENDM),
               figure_median(b, FIG_VBLK(c, VBLK_MIBS), DM_XENDM_URING),
               figure_median(b, FIG_VBLK(c, VBLK_MIBS), DM_QEMU_XEN),
               figure_median(b, cpu, DM_XENDM), figure_median(b, cpu, DM_XENDM_URING),
               figure_median(b, cpu, DM_QEMU_XEN));
    }
}

/* One target line: the measured figure beside what the issue asks. */
static void print_target(const char *what, double measured, const char *unit,
                         const char *target)
{
    if (measured > 0) {
        char value[32];
        g_snprintf(value, sizeof(value), "%.2f%s", measured, unit);
        printf("  %-52s %10s   (target %s)\n", what, value, target);
    } else {
        printf("  %-52s %10s   (target %s)\n", what, "n/a", target);
    }
}

static double ratio(double a, double b_)
{
    return a > 0 && b_ > 0 ? a / b_ : 0;
}

/* xendm's median of figure f over another subject's. */
static double xendm_over(const struct bench *b, enum figure_id f, enum subject_id other)
{
    return ratio(figure_median(b, f, DM_XENDM), figure_median(b, f, other));
}

static void print_targets(const struct bench *b)
{
    printf("\nagainst the issue's targets (medians of this run)\n");
    print_target("PIO rate, xendm / qemu-xen", xendm_over(b, FIG_PIO_RATE, DM_QEMU_XEN), "x",
                 ">= 1.5x");
    print_target("MMIO rate, xendm / qemu-xen", xendm_over(b, FIG_MMIO_RATE, DM_QEMU_XEN), "x",
                 ">= 1.5x");
    print_target("MMIO rate, pipelined, xendm / qemu-xen",
                 xendm_over(b, FIG_MMIO_PIPE_RATE, DM_QEMU_XEN), "x", ">= 1.5x");
    /* Round-trip time is the inverse of the rate: the floor's rate over xendm's. */
    print_target("PIO round-trip time, xendm / floor",
                 ratio(1, xendm_over(b, FIG_PIO_RATE, DM_FLOOR)), "x", "<= 1.3x");
    print_target("MMIO round-trip time, xendm / floor",
                 ratio(1, xendm_over(b, FIG_MMIO_RATE, DM_FLOOR)), "x", "<= 1.3x");
    print_target("MMIO round-trip time, pipelined, xendm / floor",
                 ratio(1, xendm_over(b, FIG_MMIO_PIPE_RATE, DM_FLOOR)), "x", "<= 1.3x");
    print_target("CPU per PIO ioreq, xendm / floor", xendm_over(b, FIG_PIO_CPU, DM_FLOOR), "x",
                 "<= 1.3x");
    print_target("CPU per MMIO ioreq, xendm / floor", xendm_over(b, FIG_MMIO_CPU, DM_FLOOR), "x",
                 "<= 1.3x");
    print_target("start-up, xendm", figure_median(b, FIG_START, DM_XENDM), " ms",
                 "<= 20 ms");
    print_target("start-up, xendm / qemu-xen", ratio(figure_median(b, FIG_START, DM_XENDM),
                 figure_median(b, FIG_START, DM_QEMU_XEN)), "x", "<= 0.1x");
    print_target("RSS without guest RAM, xendm", figure_median(b, FIG_RSS, DM_XENDM),
                 " MiB", "<= 10 MiB");
    for (size_t c = 0; c < NR_VBLK_CASES && b->vblk_path != NULL; c++) {
        g_autofree char *what = g_strdup_printf("virtio-blk %s rate, xendm / qemu-xen",
                                                vblk_cases[c].name);
        print_target(what, xendm_over(b, FIG_VBLK(c, VBLK_RATE), DM_QEMU_XEN), "x", ">= 1.2x");
    }
}

/* ---- JSON ---- */

static void json_string(GString *out, const char *s)
{
    g_string_append_c(out, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            g_string_append_c(out, '\\');
        }
        if ((unsigned char)*s < 0x20) {
            g_string_append_printf(out, "\\u%04x", *s);
        } else {
            g_string_append_c(out, *s);
        }
    }
    g_string_append_c(out, '"');
}

static char *machine_description(void)
{
    g_autofree char *cpuinfo = NULL;
    g_autofree char *model = NULL;
    struct utsname u;

    if (g_file_get_contents("/proc/cpuinfo", &cpuinfo, NULL, NULL)) {
        char *p = strstr(cpuinfo, "model name");
        if (p != NULL && (p = strchr(p, ':')) != NULL) {
            model = g_strndup(p + 2, strcspn(p + 2, "\n"));
        }
    }
    uname(&u);
    return g_strdup_printf("%s, %ld CPUs, %s %s", model ? model : "unknown CPU",
                           sysconf(_SC_NPROCESSORS_ONLN), u.sysname, u.release);
}

static void json_figure(GString *out, const struct figure *fig)
{
    g_autofree char *title = g_strstrip(g_strdup(fig->title));

    g_string_append(out, "{\"id\":");
    json_string(out, fig->id);
    g_string_append(out, ",\"title\":");
    json_string(out, title);
    g_string_append_printf(out, ",\"better\":\"%s\",\"results\":[",
                           fig->higher_better ? "higher" : "lower");
    bool first = true;
    for (int s = 0; s < NR_SUBJECTS; s++) {
        GArray *v = fig->samples[s];
        double lo, hi, m = median(v, &lo, &hi);
        /* "-" marks a subject the figure does not concern: left out, not explained. */
        if (v->len == 0 && (fig->absent[s] == NULL || !strcmp(fig->absent[s], "-") ||
                            s == DM_XENDM_BEFORE)) {
            continue;
        }
        g_string_append_printf(out, "%s{\"dm\":\"%s\"", first ? "" : ",", subject_label[s]);
        first = false;
        if (v->len == 0) {
            g_string_append(out, ",\"absent\":");
            json_string(out, fig->absent[s]);
            g_string_append(out, "}");
            continue;
        }
        g_string_append_printf(out, ",\"median\":%.4f,\"min\":%.4f,\"max\":%.4f,\"samples\":[",
                               m, lo, hi);
        for (guint k = 0; k < v->len; k++) {
            g_string_append_printf(out, "%s%.4f", k ? "," : "", g_array_index(v, double, k));
        }
        g_string_append(out, "]}");
    }
    g_string_append(out, "]}");
}

static void write_json(const struct bench *b, const char *path)
{
    g_autoptr(GString) out = g_string_new("{\"date\":");
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autofree char *date = g_date_time_format_iso8601(now);
    g_autofree char *machine = machine_description();

    json_string(out, date);
    g_string_append(out, ",\"machine\":");
    json_string(out, machine);
    g_string_append_printf(out, ",\"rounds\":%u,\"count\":%u,\"vblk_run_ms\":%u,"
                           "\"vblk_runs_per_round\":%u,\"vga_frames\":%u,\"scratch\":",
                           b->rounds, b->count, b->vblk_slice_ms, VBLK_SLICES, b->vga_frames);
    json_string(out, b->scratch);
    g_string_append(out, ",\"figures\":[");
    for (int f = 0; f < NR_FIGURES; f++) {
        if (f > 0) {
            g_string_append_c(out, ',');
        }
        json_figure(out, &b->fig[f]);
    }
    g_string_append(out, "]}\n");
    if (!g_file_set_contents(path, out->str, (gssize)out->len, NULL)) {
        fprintf(stderr, "bench: cannot write %s\n", path);
    } else {
        printf("\nraw samples: %s\n", path);
    }
}

/* ---- main ---- */

static bool parse_args(struct bench *b, int argc, char **argv, const char **json_path,
                       GPtrArray *sizes, GPtrArray *static_sizes)
{
    const char *log_path = NULL;

    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (val == NULL) {
            return false;
        }
        i++;
        if (!strcmp(opt, "--rounds")) {
            b->rounds = (unsigned)atoi(val);
        } else if (!strcmp(opt, "--count")) {
            b->count = (unsigned)atoi(val);
        } else if (!strcmp(opt, "--json")) {
            *json_path = val;
        } else if (!strcmp(opt, "--log")) {
            log_path = val;
        } else if (!strcmp(opt, "--size")) {
            g_ptr_array_add(sizes, (char *)val);
        } else if (!strcmp(opt, "--static-size")) {
            g_ptr_array_add(static_sizes, (char *)val);
        } else {
            return false;
        }
    }
    if (b->rounds == 0 || b->count == 0 || b->count > (1u << 24)) {
        return false;
    }
    if (log_path != NULL) {
        b->log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
        if (b->log_fd < 0) {
            fprintf(stderr, "bench: %s: %s\n", log_path, g_strerror(errno));
        }
    }
    return true;
}

static void find_subjects(struct bench *b)
{
    static const char *const env[NR_SUBJECTS] = { "BENCH_XENDM", "BENCH_XENDM_BEFORE",
                                                  "BENCH_QEMU_XEN", "BENCH_FLOOR", NULL };

    for (int s = 0; s < NR_SUBJECTS; s++) {
        if (env[s] == NULL) {
            continue; /* xendm-uring: xendm's binary, figure 2's sessions only */
        }
        b->path[s] = g_getenv(env[s]);
        b->available[s] = b->path[s] != NULL && access(b->path[s], X_OK) == 0;
        if (!b->available[s] && s != DM_XENDM_BEFORE) {
            fprintf(stderr, "bench: %s not available (%s)\n", subject_label[s],
                    b->path[s] ? b->path[s] : "unset");
        }
    }
    b->mapcache_path = g_getenv("BENCH_MAPCACHE");
    if (b->mapcache_path != NULL && access(b->mapcache_path, X_OK) != 0) {
        b->mapcache_path = NULL;
    }
    b->path[DM_XENDM_URING] = b->path[DM_XENDM];
    b->vblk_path = g_getenv("BENCH_VBLK");
    b->vga_path = g_getenv("BENCH_VGA");
    for (const char **p = (const char *[]){ b->vblk_path, b->vga_path, NULL }; *p; p++) {
        if (access(*p, X_OK) != 0) {
            fprintf(stderr, "bench: %s not available: its figure is not measured\n", *p);
        }
    }
    if (b->vblk_path != NULL && access(b->vblk_path, X_OK) != 0) {
        b->vblk_path = NULL;
    }
    if (b->vga_path != NULL && access(b->vga_path, X_OK) != 0) {
        b->vga_path = NULL;
    }
    /* Scratch images and sockets on a tmpfs: the figures are the device models', not a disk's. */
    b->scratch = g_getenv("BENCH_SCRATCH");
    if (b->scratch == NULL) {
        b->scratch = g_file_test("/dev/shm", G_FILE_TEST_IS_DIR) ? "/dev/shm" : g_get_tmp_dir();
    }
    b->vblk_slice_ms = (unsigned)g_ascii_strtoull(g_getenv("BENCH_VBLK_MS") ?: "250", NULL, 10);
    b->vga_frames = (unsigned)g_ascii_strtoull(g_getenv("BENCH_VGA_FRAMES") ?: "20", NULL, 10);
    if (b->vblk_slice_ms == 0) {
        b->vblk_path = NULL;
    }
    if (b->vga_frames == 0) {
        b->vga_path = NULL;
    }
}

int main(int argc, char **argv)
{
    struct bench b = { .rounds = 5, .count = 20000, .log_fd = -1 };
    const char *json_path = "bench.json";
    g_autoptr(GPtrArray) sizes = g_ptr_array_new();
    g_autoptr(GPtrArray) static_sizes = g_ptr_array_new();

    if (!parse_args(&b, argc, argv, &json_path, sizes, static_sizes)) {
        fprintf(stderr, "usage: %s [--rounds N] [--count N] [--json FILE] [--log FILE]\n"
                "       [--size DM=FILE]... [--static-size DM=FILE]...\n", argv[0]);
        return 2;
    }
    /* A helper that died must cost its samples, not the bench (its pipe's SIGPIPE). */
    signal(SIGPIPE, SIG_IGN);
    b.owned_text = g_ptr_array_new_with_free_func(g_free);
    figures_init(&b);
    find_subjects(&b);
    for (guint i = 0; i < sizes->len; i++) {
        record_size(&b, FIG_SIZE_DYNAMIC, sizes->pdata[i]);
    }
    for (guint i = 0; i < static_sizes->len; i++) {
        record_size(&b, FIG_SIZE_STATIC, static_sizes->pdata[i]);
    }
    printf("xendm benchmarks: %u rounds; each round-trip sample is %u ioreqs in %u slices, "
           "subjects in turn\n", b.rounds, b.count, ROUND_SLICES);
    for (unsigned r = 0; r < b.rounds; r++) {
        measure_round(&b, r);
        measure_mapcache(&b);
        if (b.vblk_path != NULL) {
            measure_vblk_round(&b, r);
        }
        if (b.vga_path != NULL) {
            measure_vga_round(&b, r);
        }
        fprintf(stderr, "bench: round %u of %u done\n", r + 1, b.rounds);
    }
    for (int f = 0; f < NR_FIGURES; f++) {
        if (f < FIG_VBLK_FIRST || (f >= FIG_VGA_DUMP_CPU && b.vga_path != NULL)) {
            print_figure(&b, f);
        }
        if (f == FIG_VBLK_FIRST && b.vblk_path != NULL) {
            print_vblk(&b);
        }
    }
    if (b.vblk_path == NULL || b.vga_path == NULL) {
        printf("\nnot measured (BENCH_DEVICES=0, or the helper is missing):%s%s\n",
               b.vblk_path == NULL ? " 2. virtio-blk" : "", b.vga_path == NULL ? " 4. VGA" : "");
    }
    print_targets(&b);
    write_json(&b, json_path);
    figures_free(&b);
    if (b.log_fd >= 0) {
        close(b.log_fd);
    }
    return 0;
}
