/*
 * bench-ioreq's side of a helper program (bench-vblk, bench-vga): the helper runs one xensim
 * session with one device model and answers one line per command on its stdout; its stderr
 * (and the output of xensim and the device model) goes to the bench's log. A helper that
 * fails ends, which costs the bench that subject's samples and nothing else.
 */
#ifndef BENCH_HELPER_H
#define BENCH_HELPER_H

#include <glib.h>
#include <sys/types.h>

struct bench_helper;

/*
 * Runs argv (NULL-terminated) with QTEST_DM=dm_path added to the environment, stderr to
 * log_fd (if >= 0), and waits up to timeout_ms for its first line, returned in *greeting
 * (caller frees).
 */
struct bench_helper *bench_helper_start(char *const *argv, const char *dm_path, int log_fd,
                                        unsigned timeout_ms, char **greeting, GError **err);
/* One command line; the reply line after "ok " (caller frees), or NULL with *err. */
char *bench_helper_cmd(struct bench_helper *h, unsigned timeout_ms, GError **err,
                       const char *fmt, ...) G_GNUC_PRINTF(4, 5);
/* Sends quit, reaps the helper (killing it after a grace period) and frees h. */
void bench_helper_end(struct bench_helper *h);

#endif
