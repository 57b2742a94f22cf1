/*
 * Logging. Messages go to stderr (libxl sends the device model's stderr to
 * /var/log/xen/qemu-dm-NAME.log) with a "xendm: " prefix.
 *
 * log_guest_error() is for anything the guest did wrong. The guest can repeat
 * it at will, so it is rate-limited per call site: a burst of 10, then one
 * message per second, with a count of what was suppressed. log_guest_event() is
 * for what a guest does rightly but can repeat at will (a reset request, a PV
 * driver announcing itself): worth a line, not thousands, so limited the same way.
 */
#ifndef XENDM_LOG_H
#define XENDM_LOG_H

#include <stdint.h>
#include "xendm/common.h"

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

struct log_ratelimit {
    int64_t window_start_us;
    uint32_t in_window;
    uint32_t suppressed;
};

void log_set_level(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) XENDM_PRINTF(2, 3);
void log_limited(struct log_ratelimit *rl, const char *fmt, ...) XENDM_PRINTF(2, 3);
void log_limited_event(struct log_ratelimit *rl, const char *fmt, ...) XENDM_PRINTF(2, 3);

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* Rate-limited, one limiter per call site. */
#define log_guest_error(...)                                                                      \
    do {                                                                                          \
        static struct log_ratelimit log_rl_;                                                      \
        log_limited(&log_rl_, __VA_ARGS__);                                                       \
    } while (0)

#define log_guest_event(...)                                                                      \
    do {                                                                                          \
        static struct log_ratelimit log_rl_;                                                      \
        log_limited_event(&log_rl_, __VA_ARGS__);                                                 \
    } while (0)

#endif
