/* Small helpers every xendm file may use. */
#ifndef XENDM_COMMON_H
#define XENDM_COMMON_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#define XENDM_MIN(a, b) ((a) < (b) ? (a) : (b))
#define XENDM_MAX(a, b) ((a) > (b) ? (a) : (b))
#define XENDM_UNUSED __attribute__((unused))
#define XENDM_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define XENDM_MUST_CHECK __attribute__((warn_unused_result))

/* All-ones of an access `size` bytes wide (1, 2, 4 or 8): what an absent device answers. */
static inline uint64_t all_ones(unsigned size)
{
    return size >= 8 ? UINT64_MAX : (UINT64_C(1) << (size * 8)) - 1;
}

#endif
