/*
 * Trace points: named, off by default, enabled at run time with
 * `-trace PATTERN` (glob, may be repeated; `-trace help` lists them).
 *
 *   TRACE(serial_write, "port=0x%x val=0x%x", port, val);
 *
 * Each call site owns a static descriptor placed in the "xendm_trace" linker
 * section, so the list is complete without a central table. A disabled trace
 * point costs one predictable branch.
 */
#ifndef XENDM_TRACE_H
#define XENDM_TRACE_H

#include <stdbool.h>
#include "xendm/common.h"

struct trace_point {
    const char *name;
    bool enabled;
};

void trace_emit(const struct trace_point *tp, const char *fmt, ...) XENDM_PRINTF(2, 3);
/* Enables every trace point whose name matches the glob; returns how many matched. */
int trace_enable(const char *pattern);
void trace_list(FILE *out);

#define TRACE(name_, ...)                                                                         \
    do {                                                                                          \
        static struct trace_point trace_tp_##name_                                               \
            __attribute__((section("xendm_trace"), used, aligned(8))) = {#name_, false};         \
        if (__builtin_expect(trace_tp_##name_.enabled, 0))                                       \
            trace_emit(&trace_tp_##name_, __VA_ARGS__);                                           \
    } while (0)

#endif
