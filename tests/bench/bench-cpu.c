/* A device model's CPU time that survives its threads' exits: see bench-cpu.h. */
#include "bench-cpu.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

void bench_cpu_init(struct bench_cpu *c, pid_t pid)
{
    c->pid = pid;
    c->latest = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    c->gone_ns = 0;
}

void bench_cpu_free(struct bench_cpu *c)
{
    g_hash_table_unref(c->latest);
}

/* The first field of /proc/PID/task/TID/schedstat: time on a CPU, in nanoseconds. */
static bool thread_ns(pid_t pid, const char *tid, uint64_t *ns)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/task/%s/schedstat", (int)pid, tid);
    g_autofree char *text = NULL;

    return g_file_get_contents(path, &text, NULL, NULL) &&
           sscanf(text, "%" SCNu64, ns) == 1;
}

uint64_t bench_cpu_ns(struct bench_cpu *c)
{
    g_autofree char *dir_path = g_strdup_printf("/proc/%d/task", (int)c->pid);
    GDir *dir = c->pid > 0 ? g_dir_open(dir_path, 0, NULL) : NULL;
    const char *tid;
    uint64_t total;
    GHashTableIter it;
    gpointer value;

    if (dir == NULL) {
        return 0;
    }
    while ((tid = g_dir_read_name(dir)) != NULL) {
        gpointer key = GINT_TO_POINTER(atoi(tid));
        uint64_t *seen = g_hash_table_lookup(c->latest, key);
        uint64_t ns;

        if (!thread_ns(c->pid, tid, &ns)) {
            continue; /* gone while we looked: its last reading stays */
        }
        if (seen == NULL) {
            seen = g_new0(uint64_t, 1);
            g_hash_table_insert(c->latest, key, seen);
        } else if (ns < *seen) {
            c->gone_ns += *seen; /* the tid was reused by a new thread */
        }
        *seen = ns;
    }
    g_dir_close(dir);
    total = c->gone_ns;
    g_hash_table_iter_init(&it, c->latest);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        total += *(uint64_t *)value;
    }
    return total;
}
