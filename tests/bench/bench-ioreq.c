/*
 * make bench: the device-model cost of the ioreq path, side by side.
 *
 * For each device model -- xendm, Debian's qemu-xen, and the floor (dm-echo,
 * a device model that answers at once) -- in rounds A B C A B C ..., under
 * xensim on this machine in this run:
 *   - start: xensim's exec of the device model -> "running" in xenstore;
 *   - PIO round trips: xensim issues N synchronous `inb` ioreqs to the UART's
 *     LSR back to back inside its event loop (qtest `bench_io`), so the test
 *     socket is not in the measurement. On a machine whose process-to-process
 *     wake-up is slow this rate sits at the wake-up floor for every subject;
 *   - CPU per ioreq: the device model's own CPU time (all threads) over those
 *     N ioreqs, which the wake-up latency does not hide.
 * Prints medians with spread and ratios against qemu-xen and the floor, and
 * writes the raw numbers as JSON. A benchmark prints; it never fails a build.
 *
 *   bench-ioreq [--rounds N] [--count N] [--json FILE]
 * Environment: XENSIM, XENSIM_LIBDIR, BENCH_XENDM, BENCH_QEMU_XEN, BENCH_FLOOR.
 */
#include "libqtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct subject {
    const char *label;
    const char *path;
    GArray *start_ms;   /* double */
    GArray *rate_kops;  /* double: thousand round trips per second */
    GArray *cpu_us;     /* double: device-model CPU microseconds per ioreq */
};

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
    double *s = g_memdup2(v->data, v->len * sizeof(double));
    qsort(s, v->len, sizeof(double), cmp_double);
    *lo = s[0];
    *hi = s[v->len - 1];
    double m = v->len % 2 ? s[v->len / 2] : (s[v->len / 2 - 1] + s[v->len / 2]) / 2;
    g_free(s);
    return m;
}

static bool measure_once(struct subject *s, unsigned count)
{
    g_setenv("QTEST_DM", s->path, TRUE);
    GError *err = NULL;
    struct qtest *qt = qtest_try_start("--serial null", NULL, &err);
    if (!qt) {
        fprintf(stderr, "bench: %s: %s\n", s->label, err->message);
        g_error_free(err);
        return false;
    }
    char *errtext = NULL;
    char *status = qtest_cmd(qt, &errtext, "dm_status");
    if (!status || strcmp(status, "running") != 0) {
        fprintf(stderr, "bench: %s did not start: %s\n", s->label, errtext ? errtext : status);
        g_free(status);
        g_free(errtext);
        qtest_kill(qt);
        return false;
    }
    g_free(status);
    char *us = qtest_cmd(qt, NULL, "dm_start_time");
    if (us) {
        double ms = g_ascii_strtod(us, NULL) / 1000.0;
        g_array_append_val(s->start_ms, ms);
        g_free(us);
    }
    char *cpu0 = qtest_cmd(qt, NULL, "dm_cpu_time");
    char *ns = qtest_cmd(qt, &errtext, "bench_io inb 0x3fd %u", count);
    char *cpu1 = qtest_cmd(qt, NULL, "dm_cpu_time");
    if (cpu0 && cpu1 && ns) {
        double used = g_ascii_strtod(cpu1, NULL) - g_ascii_strtod(cpu0, NULL);
        if (g_ascii_strtod(cpu0, NULL) >= 0 && used > 0) {
            double per = used / 1000.0 / count;
            g_array_append_val(s->cpu_us, per);
        }
    }
    g_free(cpu0);
    g_free(cpu1);
    if (ns) {
        double secs = g_ascii_strtod(ns, NULL) / 1e9;
        double kops = secs > 0 ? count / secs / 1000.0 : 0;
        g_array_append_val(s->rate_kops, kops);
        g_free(ns);
    } else {
        fprintf(stderr, "bench: %s: bench_io: %s\n", s->label, errtext);
        g_free(errtext);
    }
    qtest_quit(qt);
    return true;
}

enum metric { METRIC_START, METRIC_RATE, METRIC_CPU };

static GArray *metric_values(struct subject *s, enum metric m)
{
    return m == METRIC_START ? s->start_ms : m == METRIC_RATE ? s->rate_kops : s->cpu_us;
}

static void print_row(const char *what, struct subject *subjects, size_t n, enum metric metric,
                      GString *json)
{
    double ref = 0, floor_v = 0;
    double med[8], lo[8], hi[8];
    for (size_t i = 0; i < n; i++) {
        GArray *v = metric_values(&subjects[i], metric);
        med[i] = median(v, &lo[i], &hi[i]);
        if (!strcmp(subjects[i].label, "qemu-xen"))
            ref = med[i];
        if (!strcmp(subjects[i].label, "floor"))
            floor_v = med[i];
    }
    printf("\n%s\n", what);
    printf("  %-10s %12s %22s %14s %14s\n", "", "median", "spread (min..max)", "vs qemu-xen",
           "vs floor");
    for (size_t i = 0; i < n; i++) {
        GArray *v = metric_values(&subjects[i], metric);
        if (v->len == 0) {
            printf("  %-10s %12s\n", subjects[i].label, "n/a");
            continue;
        }
        char r1[32] = "-", r2[32] = "-";
        if (ref > 0)
            g_snprintf(r1, sizeof(r1), "%.2fx", med[i] / ref);
        if (floor_v > 0)
            g_snprintf(r2, sizeof(r2), "%.2fx", med[i] / floor_v);
        printf("  %-10s %12.2f %10.2f..%-10.2f %14s %14s\n", subjects[i].label, med[i], lo[i],
               hi[i], r1, r2);
        g_string_append_printf(json, "%s{\"metric\":\"%s\",\"dm\":\"%s\",\"median\":%.4f,"
                               "\"min\":%.4f,\"max\":%.4f,\"samples\":[",
                               json->len > 1 ? "," : "", what, subjects[i].label, med[i], lo[i],
                               hi[i]);
        for (guint k = 0; k < v->len; k++)
            g_string_append_printf(json, "%s%.4f", k ? "," : "", g_array_index(v, double, k));
        g_string_append(json, "]}");
    }
}

int main(int argc, char **argv)
{
    unsigned rounds = 5, count = 20000;
    const char *json_path = "bench.json";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--count") && i + 1 < argc)
            count = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json_path = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--rounds N] [--count N] [--json FILE]\n", argv[0]);
            return 2;
        }
    }
    struct subject subjects[3] = {
        {"xendm", g_getenv("BENCH_XENDM"), NULL, NULL, NULL},
        {"qemu-xen", g_getenv("BENCH_QEMU_XEN"), NULL, NULL, NULL},
        {"floor", g_getenv("BENCH_FLOOR"), NULL, NULL, NULL},
    };
    size_t n = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(subjects); i++) {
        if (!subjects[i].path || access(subjects[i].path, X_OK) != 0) {
            fprintf(stderr, "bench: %s not available (%s)\n", subjects[i].label,
                    subjects[i].path ? subjects[i].path : "unset");
            continue;
        }
        subjects[n] = subjects[i];
        subjects[n].start_ms = g_array_new(FALSE, FALSE, sizeof(double));
        subjects[n].rate_kops = g_array_new(FALSE, FALSE, sizeof(double));
        subjects[n].cpu_us = g_array_new(FALSE, FALSE, sizeof(double));
        n++;
    }
    printf("xendm benchmarks: %u rounds, %u PIO round trips per sample, subjects interleaved\n",
           rounds, count);
    for (unsigned r = 0; r < rounds; r++)
        for (size_t i = 0; i < n; i++)
            measure_once(&subjects[i], count);

    GString *json = g_string_new("[");
    print_row("start: exec -> running (ms, lower is better)", subjects, n, METRIC_START, json);
    print_row("PIO round trips through xensim (thousand/s, higher is better)", subjects, n,
              METRIC_RATE, json);
    print_row("device-model CPU per PIO ioreq (us, lower is better)", subjects, n, METRIC_CPU,
              json);
    g_string_append(json, "]\n");
    if (!g_file_set_contents(json_path, json->str, (gssize)json->len, NULL))
        fprintf(stderr, "bench: cannot write %s\n", json_path);
    else
        printf("\nraw numbers: %s\n", json_path);
    g_string_free(json, TRUE);
    return 0;
}
