/*
 * The benchmark's own qtest client. It speaks the line protocol of
 * docs/qtest-protocol.md like tests/qtest/libqtest, and adds what a benchmark
 * needs and a test does not:
 *   - pipelining: a batch of identical commands written at once and the
 *     replies read afterwards, so xensim runs them back to back and the
 *     client's own wake-up per command is not in the measurement;
 *   - the device model's pid (for its memory figures), which the protocol
 *     does not give;
 *   - xensim's and the device model's output sent to a log file, so the
 *     table stays readable.
 * It never aborts: every failure is a GError, and the figure is then missing.
 */
#ifndef BENCH_CLIENT_H
#define BENCH_CLIENT_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct bench_session;

/*
 * Starts xensim (path $XENSIM, drop-in libraries $XENSIM_LIBDIR) with device
 * model dm_path on an inherited socket; the output of both goes to log_fd
 * (or stays on stderr if log_fd < 0). Waits until xensim answers dm_status
 * with "running".
 */
struct bench_session *bench_session_start(const char *dm_path, int log_fd, GError **err);

/*
 * One command; returns the text after "OK" (caller frees) or NULL with *err
 * holding the ERR message (or the transport failure).
 */
char *bench_cmd(struct bench_session *s, GError **err, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/*
 * Sends `line` (no newline) `count` times in batches and reads every reply.
 * Returns the elapsed nanoseconds, or -1 with *err if any reply was not OK.
 */
int64_t bench_pipeline(struct bench_session *s, const char *line, unsigned count, GError **err);

/* The device model's pid (the child of xensim), or -1. */
pid_t bench_session_dm_pid(struct bench_session *s);

/* Sends quit, reaps xensim (killing it after a grace period) and frees s. */
void bench_session_end(struct bench_session *s);

#endif
