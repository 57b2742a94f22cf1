/*
 * libxentoollog.so.1: the logging interface of the Xen tool libraries, with
 * its one stock consumer, the stdio stream logger.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xentoollog.h>

struct xentoollog_logger_stdiostream {
    xentoollog_logger vtable; /* first: the logger pointer is the stream pointer */
    FILE *f;
    xentoollog_level min_level;
    unsigned flags;
    int last_percent;       /* progress already shown for the current activity */
    bool progress_pending;  /* a progress line ends without a newline */
};

static const char *const level_names[XTL_NUM_LEVELS] = {
    [XTL_NONE] = "none",     [XTL_DEBUG] = "debug",       [XTL_VERBOSE] = "verbose",
    [XTL_DETAIL] = "detail", [XTL_PROGRESS] = "progress", [XTL_INFO] = "info",
    [XTL_NOTICE] = "notice", [XTL_WARN] = "warning",      [XTL_ERROR] = "error",
    [XTL_CRITICAL] = "critical",
};

const char *xtl_level_to_string(xentoollog_level level)
{
    if ((unsigned)level >= XTL_NUM_LEVELS)
        return "unknown";
    return level_names[level];
}

void xtl_logv(struct xentoollog_logger *logger, xentoollog_level level, int errnoval,
              const char *context, const char *format, va_list al)
{
    int saved = errno; /* logging must not disturb the caller's errno */

    if (logger && logger->vmessage)
        logger->vmessage(logger, level, errnoval, context, format, al);
    errno = saved;
}

void xtl_log(struct xentoollog_logger *logger, xentoollog_level level, int errnoval,
             const char *context, const char *format, ...)
{
    va_list al;

    va_start(al, format);
    xtl_logv(logger, level, errnoval, context, format, al);
    va_end(al);
}

void xtl_progress(struct xentoollog_logger *logger, const char *context,
                  const char *doing_what, unsigned long done, unsigned long total)
{
    int saved = errno;
    int percent = 0;

    if (!logger || !logger->progress)
        return;
    if (total) {
        /* done * 100 may overflow: scale down first for big totals. */
        if (total > ~0ul / 100)
            percent = (int)(done / (total / 100 ? total / 100 : 1));
        else
            percent = (int)(done * 100 / total);
        if (percent > 100)
            percent = 100;
    }
    logger->progress(logger, context, doing_what, percent, done, total);
    errno = saved;
}

void xtl_logger_destroy(struct xentoollog_logger *logger)
{
    if (logger && logger->destroy)
        logger->destroy(logger);
}

static void stdiostream_end_progress(xentoollog_logger_stdiostream *s)
{
    if (s->progress_pending) {
        fputc('\n', s->f);
        s->progress_pending = false;
    }
}

static void stdiostream_prefix(xentoollog_logger_stdiostream *s)
{
    if (s->flags & XTL_STDIOSTREAM_SHOW_DATE) {
        char buf[32];
        time_t now = time(NULL);
        struct tm tm;
        if (localtime_r(&now, &tm) && strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S %Z", &tm))
            fprintf(s->f, "%s ", buf);
    }
    if (s->flags & XTL_STDIOSTREAM_SHOW_PID)
        fprintf(s->f, "[%ld] ", (long)getpid());
}

/* format and al come from the caller (a vprintf wrapper, as in Xen's own logger). */
__attribute__((format(printf, 5, 0)))
static void stdiostream_vmessage(xentoollog_logger *logger, xentoollog_level level,
                                 int errnoval, const char *context, const char *format,
                                 va_list al)
{
    xentoollog_logger_stdiostream *s = (xentoollog_logger_stdiostream *)logger;

    if (level < s->min_level)
        return;
    stdiostream_end_progress(s);
    stdiostream_prefix(s);
    if (context)
        fprintf(s->f, "%s: ", context);
    if (level != XTL_PROGRESS)
        fprintf(s->f, "%s: ", xtl_level_to_string(level));
    vfprintf(s->f, format, al);
    if (errnoval >= 0)
        fprintf(s->f, ": %s", strerror(errnoval));
    fputc('\n', s->f);
    fflush(s->f);
}

static bool stdiostream_use_cr(xentoollog_logger_stdiostream *s)
{
    if (s->flags & XTL_STDIOSTREAM_PROGRESS_USE_CR)
        return true;
    if (s->flags & XTL_STDIOSTREAM_PROGRESS_NO_CR)
        return false;
    return isatty(fileno(s->f));
}

static void stdiostream_progress(xentoollog_logger *logger, const char *context,
                                 const char *doing_what, int percent, unsigned long done,
                                 unsigned long total)
{
    xentoollog_logger_stdiostream *s = (xentoollog_logger_stdiostream *)logger;

    if ((s->flags & XTL_STDIOSTREAM_HIDE_PROGRESS) || XTL_PROGRESS < s->min_level)
        return;
    /* done == 0 starts a new activity; otherwise print only when the percentage moves. */
    if (done != 0 && percent == s->last_percent)
        return;
    s->last_percent = percent;

    bool cr = stdiostream_use_cr(s);
    if (cr && s->progress_pending)
        fputc('\r', s->f);
    else
        stdiostream_end_progress(s);
    stdiostream_prefix(s);
    if (context)
        fprintf(s->f, "%s: ", context);
    fprintf(s->f, "%s: %d%%", doing_what, percent);
    if (cr && percent < 100) {
        s->progress_pending = true;
    } else {
        fputc('\n', s->f);
        s->progress_pending = false;
    }
    fflush(s->f);
}

static void stdiostream_destroy(xentoollog_logger *logger)
{
    xentoollog_logger_stdiostream *s = (xentoollog_logger_stdiostream *)logger;

    stdiostream_end_progress(s);
    free(s); /* the FILE belongs to the caller */
}

xentoollog_logger_stdiostream *xtl_createlogger_stdiostream(FILE *f,
                                                            xentoollog_level min_level,
                                                            unsigned flags)
{
    xentoollog_logger_stdiostream *s = calloc(1, sizeof(*s));

    if (!s) {
        fprintf(f, "xtl: failed to allocate memory for new message logger\n");
        return NULL;
    }
    s->vtable.vmessage = stdiostream_vmessage;
    s->vtable.progress = stdiostream_progress;
    s->vtable.destroy = stdiostream_destroy;
    s->f = f;
    s->min_level = min_level;
    s->flags = flags;
    s->last_percent = -1;
    return s;
}

void xtl_stdiostream_set_minlevel(xentoollog_logger_stdiostream *s, xentoollog_level min_level)
{
    s->min_level = min_level;
}

void xtl_stdiostream_adjust_flags(xentoollog_logger_stdiostream *s, unsigned set_flags,
                                  unsigned clear_flags)
{
    /* The header: set_flags wins where the two overlap. */
    s->flags = (s->flags & ~clear_flags) | set_flags;
}
