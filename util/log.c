/*
 * Logging to stderr with a "xendm: " prefix, and the per-call-site rate limit
 * for messages the guest can provoke at will.
 */
#include <glib.h>
#include <stdarg.h>
#include <stdio.h>

#include "xendm/log.h"

#define LOG_BURST 10
#define LOG_REFILL_US G_USEC_PER_SEC

/* This module's own verbosity setting; set once at start-up from main. */
static enum log_level log_threshold = LOG_LEVEL_INFO;

static const char *const log_level_tags[] = {
    [LOG_LEVEL_ERROR] = "error: ",
    [LOG_LEVEL_WARN] = "warning: ",
    [LOG_LEVEL_INFO] = "",
    [LOG_LEVEL_DEBUG] = "debug: ",
};

void log_set_level(enum log_level level)
{
    log_threshold = level;
}

static void log_vprint(const char *tag, const char *fmt, va_list ap) XENDM_PRINTF(2, 0);

static void log_vprint(const char *tag, const char *fmt, va_list ap)
{
    /* One fprintf per line keeps lines whole when stderr is shared with children. */
    char *text = g_strdup_vprintf(fmt, ap);
    size_t len = strlen(text);
    const char *newline = (len > 0 && text[len - 1] == '\n') ? "" : "\n";

    fprintf(stderr, "xendm: %s%s%s", tag, text, newline);
    g_free(text);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    va_list ap;

    if (level > log_threshold) {
        return;
    }
    va_start(ap, fmt);
    log_vprint(log_level_tags[level <= LOG_LEVEL_DEBUG ? level : LOG_LEVEL_DEBUG], fmt, ap);
    va_end(ap);
}

/*
 * A token bucket: `in_window` counts the tokens spent, one is given back per
 * second since `window_start_us`. A call site may thus print a burst of
 * LOG_BURST messages, then one per second.
 */
static bool log_ratelimit_take(struct log_ratelimit *rl, int64_t now_us)
{
    if (rl->window_start_us == 0 || now_us < rl->window_start_us) {
        rl->window_start_us = now_us;
    }
    int64_t refill = (now_us - rl->window_start_us) / LOG_REFILL_US;
    if (refill > 0) {
        rl->in_window = refill >= rl->in_window ? 0 : rl->in_window - (uint32_t)refill;
        rl->window_start_us += refill * LOG_REFILL_US;
    }
    if (rl->in_window >= LOG_BURST) {
        return false;
    }
    rl->in_window++;
    return true;
}

static void log_vlimited(struct log_ratelimit *rl, const char *prefix, const char *fmt,
                         va_list ap) XENDM_PRINTF(3, 0);

static void log_vlimited(struct log_ratelimit *rl, const char *prefix, const char *fmt,
                         va_list ap)
{
    if (!log_ratelimit_take(rl, g_get_monotonic_time())) {
        if (rl->suppressed < UINT32_MAX) {
            rl->suppressed++;
        }
        return;
    }
    if (rl->suppressed > 0) {
        fprintf(stderr, "xendm: (%u similar messages suppressed)\n", rl->suppressed);
        rl->suppressed = 0;
    }
    log_vprint(prefix, fmt, ap);
}

void log_limited(struct log_ratelimit *rl, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vlimited(rl, "guest error: ", fmt, ap);
    va_end(ap);
}

void log_limited_event(struct log_ratelimit *rl, const char *fmt, ...)
{
    va_list ap;

    if (LOG_LEVEL_INFO > log_threshold) {
        return;
    }
    va_start(ap, fmt);
    log_vlimited(rl, log_level_tags[LOG_LEVEL_INFO], fmt, ap);
    va_end(ap);
}
