/* Test helper: what a piece of code printed on stderr (log rate-limit tests). */
#ifndef TESTS_STDERR_CAPTURE_H
#define TESTS_STDERR_CAPTURE_H

/* Runs fn(arg) with stderr sent to a temporary file; returns what was printed (g_free it). */
char *capture_stderr(void (*fn)(void *arg), void *arg);
/* How many times `needle` occurs in `text`. */
unsigned count_occurrences(const char *text, const char *needle);

#endif
