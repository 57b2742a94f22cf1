/*
 * Trace points. Every TRACE() call site puts its descriptor in the
 * "xendm_trace" section; the linker provides __start_/__stop_ symbols around
 * it. They are weak so that a program without any trace point still links
 * (both are then NULL and the section is empty).
 */
#include <glib.h>
#include <stdarg.h>

#include "xendm/trace.h"

extern struct trace_point __start_xendm_trace[] __attribute__((weak));
extern struct trace_point __stop_xendm_trace[] __attribute__((weak));

static size_t trace_point_count(void)
{
    if (__start_xendm_trace == NULL || __stop_xendm_trace == NULL) {
        return 0;
    }
    return (size_t)(__stop_xendm_trace - __start_xendm_trace);
}

void trace_emit(const struct trace_point *tp, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "trace: %" G_GINT64_FORMAT " %s %s\n", g_get_monotonic_time(), tp->name, msg);
    g_free(msg);
}

int trace_enable(const char *pattern)
{
    size_t n = trace_point_count();
    int matched = 0;

    for (size_t i = 0; i < n; i++) {
        struct trace_point *tp = &__start_xendm_trace[i];
        if (g_pattern_match_simple(pattern, tp->name)) {
            tp->enabled = true;
            matched++;
        }
    }
    return matched;
}

static int trace_name_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void trace_list(FILE *out)
{
    size_t n = trace_point_count();
    GPtrArray *names = g_ptr_array_new();

    /* A name used at several call sites has several descriptors: list it once. */
    for (size_t i = 0; i < n; i++) {
        g_ptr_array_add(names, (gpointer)__start_xendm_trace[i].name);
    }
    g_ptr_array_sort(names, trace_name_cmp);
    for (guint i = 0; i < names->len; i++) {
        const char *name = g_ptr_array_index(names, i);
        if (i == 0 || strcmp(name, g_ptr_array_index(names, i - 1)) != 0) {
            fprintf(out, "%s\n", name);
        }
    }
    g_ptr_array_free(names, TRUE);
}
