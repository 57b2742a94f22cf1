/*
 * The qtest client: starts xensim with a device model and drives it with the
 * line protocol of docs/qtest-protocol.md. Every access a test makes reaches
 * the device model as the ioreq a vCPU would produce.
 *
 * The device model is $QTEST_DM (xendm, or Debian's qemu-xen for the
 * comparison runs), xensim is $XENSIM and its drop-in libraries $XENSIM_LIBDIR;
 * meson sets all three.
 */
#ifndef LIBQTEST_H
#define LIBQTEST_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct qtest;

/*
 * Starts xensim and the device model. xensim_args and dm_args are shell-style
 * word lists (either may be NULL); dm_args are appended to the device model's
 * command line after what libxl would pass. Aborts the test on failure.
 */
struct qtest *qtest_start(const char *xensim_args, const char *dm_args);
/* Like qtest_start but returns NULL with *err set instead of aborting. */
struct qtest *qtest_try_start(const char *xensim_args, const char *dm_args, GError **err);
/* Sends quit, waits for xensim; returns xensim's exit status. */
int qtest_quit(struct qtest *qt);
/* Kills everything without ceremony (for tests that check crash behaviour). */
void qtest_kill(struct qtest *qt);
/* A device model command line and what the device model says when it refuses it. */
struct qtest_refusal {
    const char *args;
    const char *message;
};

/*
 * Starts the device model with a command line it must refuse: it exits before it reports
 * running (xensim's status 20) and its output (xensim's --dm-log) contains expected_message,
 * so that a refusal for another reason fails the test.
 */
void qtest_assert_start_refused(const char *xensim_args, const char *dm_args,
                                const char *expected_message);

/* True when the device model under test is xendm (not qemu-xen). */
bool qtest_dm_is_xendm(void);
const char *qtest_dm_name(void);

/*
 * Sends one command; returns the text after "OK" (possibly empty, never NULL,
 * caller frees) or NULL when xensim answered ERR (then *err_text, if given,
 * receives the message). Extra reply lines (irq_log, servers) are returned
 * joined with '\n' after the first line.
 */
char *qtest_cmd(struct qtest *qt, char **err_text, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
/* Like qtest_cmd but a failed command fails the test. */
char *qtest_cmd_ok(struct qtest *qt, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

void qtest_outb(struct qtest *qt, uint16_t port, uint8_t val);
void qtest_outw(struct qtest *qt, uint16_t port, uint16_t val);
void qtest_outl(struct qtest *qt, uint16_t port, uint32_t val);
uint8_t qtest_inb(struct qtest *qt, uint16_t port);
uint16_t qtest_inw(struct qtest *qt, uint16_t port);
uint32_t qtest_inl(struct qtest *qt, uint16_t port);

void qtest_writeb(struct qtest *qt, uint64_t addr, uint8_t val);
void qtest_writel(struct qtest *qt, uint64_t addr, uint32_t val);
void qtest_writeq(struct qtest *qt, uint64_t addr, uint64_t val);
uint8_t qtest_readb(struct qtest *qt, uint64_t addr);
uint32_t qtest_readl(struct qtest *qt, uint64_t addr);
uint64_t qtest_readq(struct qtest *qt, uint64_t addr);

void qtest_memwrite(struct qtest *qt, uint64_t gpa, const void *buf, size_t len);
void qtest_memread(struct qtest *qt, uint64_t gpa, void *buf, size_t len);

/* PCI configuration read through 0xCF8/0xCFC, as firmware does. */
uint32_t qtest_pci_config_readl(struct qtest *qt, unsigned bus, unsigned dev, unsigned fn,
                                unsigned reg);

/* Interrupt events since the last call, e.g. "isa 4 1"; caller frees with g_strfreev. */
char **qtest_irq_log(struct qtest *qt);
int qtest_isa_level(struct qtest *qt, unsigned irq);
/* "running", "exited N" or "signalled N". */
char *qtest_dm_status(struct qtest *qt);
/* The device model's pid (xensim runs it as its only child), or -1. */
pid_t qtest_dm_pid(struct qtest *qt);
/* The first child of `parent` found in /proc, or -1 (also for bench-client's sessions). */
pid_t qtest_child_pid(pid_t parent);
/* How many times `needle` occurs in the file at `path` (0 if it cannot be read). */
unsigned qtest_count_in_file(const char *path, const char *needle);
/* xorshift32: the same storm every run, so that a failure replays; state must not be 0. */
uint32_t qtest_xorshift32(uint32_t *state);

/* A fresh temporary file path under the test's directory, removed at exit. */
char *qtest_tmp_path(const char *name);
/* Waits up to timeout_ms for `path` to contain at least `len` bytes; returns its contents. */
char *qtest_wait_file(const char *path, size_t len, unsigned timeout_ms);

#endif
