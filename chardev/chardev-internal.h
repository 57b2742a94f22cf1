/*
 * What the chardev backends share with the generic chardev code. Private to chardev/.
 *
 * A chardev is an output fd, an input fd (often the same one) and the life cycle a backend
 * gives them. The generic code owns reading (only while the frontend has room) and writing
 * (never blocking); a backend opens the fds and decides what end-of-file means for it.
 */
#ifndef XENDM_CHARDEV_INTERNAL_H
#define XENDM_CHARDEV_INTERNAL_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <termios.h>
#include "xendm/chardev.h"
#include "xendm/keyval.h"

struct chardev;

struct chardev_backend {
    const char *name;  /* as in -chardev NAME,... */
    const char *alias; /* another name QEMU accepts for it, or NULL */
    /* Takes its options with kv_get*() and opens the fds; false with *err set on failure. */
    bool (*open)(struct chardev *chr, struct kv_list *opts, GError **err);
    /* Input reached end-of-file or failed. The generic code already stopped reading. */
    void (*input_closed)(struct chardev *chr);
    /* Output failed with errno `error` (not EAGAIN): e.g. a socket peer went away. */
    void (*output_failed)(struct chardev *chr, int error);
    /* Releases what open() acquired beyond in_fd/out_fd (closed by the caller). */
    void (*close)(struct chardev *chr);
    /* Optional: drop the connected peer (chardev_disconnect()). */
    void (*disconnect)(struct chardev *chr);
};

struct chardev {
    char *id;
    char *filename; /* what query-chardev reports; backends update it */
    const struct chardev_backend *backend;

    struct chardev_frontend frontend;
    bool has_frontend;

    int out_fd;       /* -1: output is dropped */
    bool out_is_socket; /* send(MSG_NOSIGNAL): a vanished peer must not raise SIGPIPE */
    int in_fd;        /* -1: no input */
    guint in_source;  /* g_unix_fd_add() id while reading input, else 0 */
    guint retry_source; /* pty: polls for a slave to appear, else 0 */
    uint64_t dropped_bytes;
    guint out_source; /* g_unix_fd_add() id while a frontend waits for write_ready, else 0 */
    bool connected;   /* a connection-oriented backend has a peer (events are reported) */
    /* Unix socket input: fds the peer passed with SCM_RIGHTS wait here (chardev_take_fd). */
    bool in_takes_fds;
    GArray *received_fds; /* int, oldest first; NULL until one arrives */

    /* stdio: what to restore when the chardev goes away */
    bool stdio_owned;
    bool stdin_termios_saved;
    struct termios stdin_termios;
    int stdin_flags;
    int stdout_flags;

    /* socket */
    int listen_fd;
    guint listen_source;
    char *socket_path;
    bool socket_server;
    bool socket_unlink; /* we bound the path: remove it when done */
};

extern const struct chardev_backend chardev_socket_backend;

/* Stops reading input (removes the fd watch). */
void chardev_stop_input(struct chardev *chr);
/* Removes the wait for output room (the output fd is going away). */
void chardev_stop_output_watch(struct chardev *chr);
/* Tells the frontend, if it listens for events, that a peer connected or went away. */
void chardev_report_event(struct chardev *chr, enum chardev_event event);
/* Replaces the filename reported to QMP. */
void chardev_set_filename(struct chardev *chr, const char *filename);
/* O_NONBLOCK and FD_CLOEXEC on fd; false with errno set. */
bool chardev_fd_prepare(int fd);
/* Closes *fd if open and sets it to -1. */
void chardev_close_fd(int *fd);
/* Closes every received fd nobody took (the peer went away). */
void chardev_drop_received_fds(struct chardev *chr);

#endif
