/*
 * Character devices: the backends behind a UART or a debug console.
 *
 * Backends: null, file (path=, append=), stdio, pty (prints and records the
 * /dev/pts path), socket (unix path=, server=on|off, wait=on|off, or fd=N),
 * and "chardev:ID" in -serial to refer to one defined with -chardev.
 *
 * Output never blocks the event loop: bytes a backend cannot take right now
 * (a full pty, no socket client) are dropped and counted, as a UART's line
 * drops characters nobody listens to.
 * Input: the backend reads only while the frontend says it has room
 * (can_receive), so a guest that never drains its FIFO cannot make xendm
 * buffer without bound.
 */
#ifndef XENDM_CHARDEV_H
#define XENDM_CHARDEV_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>
#include "xendm/keyval.h"

struct chardev;

struct chardev_frontend {
    size_t (*can_receive)(void *opaque);
    void (*receive)(void *opaque, const uint8_t *buf, size_t len);
    void *opaque;
};

/* From -chardev BACKEND,id=ID,... (the kv list includes "backend"). */
struct chardev *chardev_new(struct kv_list *opts, GError **err);
/*
 * From the legacy -serial/-debugcon syntax: "null", "stdio", "pty",
 * "file:PATH", "unix:PATH[,server=on,wait=off]", "none" (returns NULL, no error).
 * "chardev:ID" is resolved by the caller with chardev_find().
 */
struct chardev *chardev_new_legacy(const char *spec, const char *id, GError **err);
void chardev_free(struct chardev *chr);

const char *chardev_id(const struct chardev *chr);
/* "pty:/dev/pts/N", "file", "socket", ... as QMP query-chardev reports it. */
const char *chardev_filename(const struct chardev *chr);

/* At most one frontend; NULL detaches. */
void chardev_set_frontend(struct chardev *chr, const struct chardev_frontend *fe);
/* The frontend has room again: resume reading input. */
void chardev_accept_input(struct chardev *chr);
/* Writes what the backend takes now; returns len (dropped bytes are counted, not reported). */
size_t chardev_write(struct chardev *chr, const uint8_t *buf, size_t len);

#endif
