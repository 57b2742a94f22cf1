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
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "xendm/keyval.h"

struct chardev;

/* What happened to the peer of a connection-oriented backend (a socket). */
enum chardev_event {
    CHARDEV_EVENT_OPENED, /* a peer connected; also reported by set_frontend if one already is */
    CHARDEV_EVENT_CLOSED, /* the peer went away or was disconnected */
};

struct chardev_frontend {
    size_t (*can_receive)(void *opaque);
    void (*receive)(void *opaque, const uint8_t *buf, size_t len);
    void *opaque;
    /* Optional: a peer connected or went away (a protocol restarts its session). */
    void (*event)(void *opaque, enum chardev_event event);
    /* Optional: output has room again, after chardev_notify_writable(). */
    void (*write_ready)(void *opaque);
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

/*
 * For frontends that must not lose bytes (a protocol such as QMP): writes what the backend
 * takes now, drops nothing, and returns the count taken (0 when full), or -1 when there is no
 * peer or output failed. The frontend keeps the rest and waits for chardev_notify_writable().
 */
ssize_t chardev_write_partial(struct chardev *chr, const uint8_t *buf, size_t len);
/* Calls the frontend's write_ready() once, when output has room again. */
void chardev_notify_writable(struct chardev *chr);
/* Drops the connected peer (socket: a server then listens again); no-op for other backends. */
void chardev_disconnect(struct chardev *chr);
/* Whether a frontend is attached (QMP query-chardev "frontend-open"). */
bool chardev_has_frontend(const struct chardev *chr);

/*
 * File descriptors a Unix socket peer passed with SCM_RIGHTS (QMP add-fd). They arrive with
 * the bytes they were sent with, before receive() sees those bytes; at most
 * CHARDEV_MAX_RECEIVED_FDS wait (more are closed at once), and those not taken are closed
 * when the peer goes away. Returns the oldest one, now the caller's, or -1 if none waits.
 */
#define CHARDEV_MAX_RECEIVED_FDS 16
int chardev_take_fd(struct chardev *chr);

#endif
