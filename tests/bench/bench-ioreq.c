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
 * Once per round: bench-mapcache (xendm only: no qemu-xen counterpart).
 * Once: the binaries' sizes given with --size/--static-size.
 *
 * Prints medians, spread (min..max) and ratios against qemu-xen and the floor,
 * then the targets next to the measured ratios, and writes every raw
 * sample as JSON. A benchmark prints; it never fails a build.
 *
 *   bench-ioreq [--rounds N] [--count N] [--json FILE] [--log FILE]
 *               [--size DM=FILE]... [--static-size DM=FILE]...
 * Environment: XENSIM, XENSIM_LIBDIR, BENCH_XENDM, BENCH_QEMU_XEN, BENCH_FLOOR,
 *              BENCH_MAPCACHE (the bench-mapcache binary).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench-client.h"

/* Where the platform device's 16 MiB BAR1 goes: in the PCI hole, below the LAPIC. */
#define PLATFORM_BAR1_ADDR 0xf0000000u
#define PLATFORM_CFG(reg) (0x80000000u | (2u << 11) | (reg)) /* 00:02.0 via 0xCF8 */
#define PCI_COMMAND_MEMORY 0x2u
#define UART_LSR_PORT 0x3fd
#define KIB 1024.0
/* Each round-trip sample is taken in this many slices, interleaved across subjects. */
#define ROUND_SLICES 10u

/* DM_XENDM_BEFORE: an earlier xendm binary, for an improvement's before/after in one run. */
enum subject_id { DM_XENDM, DM_XENDM_BEFORE, DM_QEMU_XEN, DM_FLOOR, NR_SUBJECTS };

static const char *const subject_label[NR_SUBJECTS] = { "xendm", "xendm-before", "qemu-xen",
                                                        "floor" };

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
    g_string_append_printf(out, ",\"rounds\":%u,\"count\":%u,\"figures\":[", b->rounds, b->count);
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
                                                  "BENCH_QEMU_XEN", "BENCH_FLOOR" };

    for (int s = 0; s < NR_SUBJECTS; s++) {
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
    figures_init(&b);
    b.owned_text = g_ptr_array_new_with_free_func(g_free);
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
        fprintf(stderr, "bench: round %u of %u done\n", r + 1, b.rounds);
    }
    for (int f = 0; f < NR_FIGURES; f++) {
        print_figure(&b, f);
    }
    print_targets(&b);
    write_json(&b, json_path);
    figures_free(&b);
    if (b.log_fd >= 0) {
        close(b.log_fd);
    }
    return 0;
}
