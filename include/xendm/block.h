/*
 * Block backends and drives: what a disk or CD-ROM device reads and writes.
 *
 * A block backend is one open image (a raw file or a block device). Requests run on worker
 * threads the block layer owns (or in an io_uring: see enum block_aio_mode), so a slow disk
 * never stalls the event loop; each request's completion callback runs back on the event-loop
 * thread. The buffers are host pointers the device supplies: for DMA, guest memory locked
 * through the mapcache on the event-loop thread (mapcache_lock) and unlocked in the completion
 * callback, so the mapcache itself is never touched off that thread.
 *
 * Durability: writes go straight to the file (pwritev), never into a cache of xendm's own, so
 * a crash of xendm loses nothing a guest wrote; block_flush() makes them durable on the host
 * (fdatasync) before it completes, whatever the cache mode short of "unsafe".
 *
 * A drive is a -drive option made real: an id, where it plugs in (if=ide,index=N, or if=none
 * for a -device to name with drive=ID), disk or CD-ROM, and its backend, which a CD-ROM drive
 * may lack (no medium) or swap (QMP eject / blockdev-change-medium). The machine owns its
 * drives; one device attaches to each.
 */
#ifndef XENDM_BLOCK_H
#define XENDM_BLOCK_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "xendm/keyval.h"

/* ---- backends ---- */

enum block_cache_mode {
    BLOCK_CACHE_WRITEBACK,    /* host page cache; flush = fdatasync (libxl's cache=writeback) */
    BLOCK_CACHE_WRITETHROUGH, /* host page cache; each write durable when it completes */
    BLOCK_CACHE_NONE,         /* O_DIRECT; flush = fdatasync */
    BLOCK_CACHE_DIRECTSYNC,   /* O_DIRECT, each write durable when it completes */
    BLOCK_CACHE_UNSAFE,       /* host page cache; flush does nothing */
};

/*
 * How requests run (-drive aio=). io_uring: reads, writes and flushes go to one io_uring a
 * backend, submitted once per event-loop turn and completed through the same eventfd source
 * as the threads'; discard and write-zeroes (fallocate) and O_DIRECT bounces stay on the
 * worker threads. Where no ring can be made (no liburing, a kernel without io_uring or with
 * kernel.io_uring_disabled, a medium opened after -sandbox) the backend runs on the threads
 * and one warning a process says so. native (QEMU's Linux AIO) is served like io_uring.
 */
enum block_aio_mode {
    BLOCK_AIO_THREADS, /* the default */
    BLOCK_AIO_IO_URING,
    BLOCK_AIO_NATIVE,
};

struct block_open_options {
    const char *filename; /* for messages; opened unless fd >= 0 */
    int fd;               /* >= 0: an open descriptor to use (QMP add-fd); the backend owns it
                           (block_open closes it on failure too) */
    bool read_only;
    enum block_cache_mode cache;
    enum block_aio_mode aio; /* 0: threads */
};

struct block_stats {
    uint64_t rd_bytes, wr_bytes;
    uint64_t rd_operations, wr_operations, flush_operations, discard_operations;
    uint64_t failed_operations;
};

struct block_backend;

/* "writeback", "writethrough", "none", "directsync", "unsafe". */
bool block_cache_mode_parse(const char *text, enum block_cache_mode *mode);

/* "threads", "io_uring", "native". */
bool block_aio_mode_parse(const char *text, enum block_aio_mode *mode);

struct block_backend *block_open(const struct block_open_options *options, GError **err);
void block_close(struct block_backend *bb); /* waits for requests in flight; NULL is fine */

uint64_t block_size(const struct block_backend *bb); /* bytes */
bool block_is_read_only(const struct block_backend *bb);
const char *block_filename(const struct block_backend *bb);
void block_get_stats(const struct block_backend *bb, struct block_stats *stats);
/* What serves the backend: BLOCK_AIO_IO_URING (a ring) or BLOCK_AIO_THREADS. */
enum block_aio_mode block_aio_engine(const struct block_backend *bb);
/*
 * Tests: from now on, making a ring fails with -err (0: as the kernel decides). Returns
 * whether the fallback warning was given since the last call, and re-arms it.
 */
bool block_io_uring_fail_setup(int err);

/* 0 or -errno; runs on the event-loop thread (or inside block_drain). */
typedef void (*block_complete_fn)(void *opaque, int ret);

/*
 * Asynchronous requests. Offsets and lengths are in bytes, any alignment (an O_DIRECT
 * backend bounces what is not aligned). The iovec array is copied; the buffers it points to
 * must stay valid until cb. A request beyond the end of the image, or a write to a read-only
 * backend, completes with -EIO / -EROFS without touching the image. cb is never called
 * before the function returns.
 */
void block_readv(struct block_backend *bb, uint64_t offset, const struct iovec *iov, int iovcnt,
                 block_complete_fn cb, void *opaque);
void block_writev(struct block_backend *bb, uint64_t offset, const struct iovec *iov, int iovcnt,
                  block_complete_fn cb, void *opaque);
void block_flush(struct block_backend *bb, block_complete_fn cb, void *opaque);
/* Deallocates (punches a hole where the file system can); reads afterwards give zeroes. */
void block_discard(struct block_backend *bb, uint64_t offset, uint64_t len, block_complete_fn cb,
                   void *opaque);
void block_write_zeroes(struct block_backend *bb, uint64_t offset, uint64_t len,
                        block_complete_fn cb, void *opaque);

/* Requests submitted and not yet completed (callback not yet run). */
unsigned block_in_flight(const struct block_backend *bb);
/*
 * Waits until every request has finished and runs their callbacks now, on the calling
 * (event-loop) thread: before saving device state, closing, or in tests without a main loop.
 */
void block_drain(struct block_backend *bb);

/* Synchronous read, for tests and tools; 0 or -errno. */
int block_pread(struct block_backend *bb, void *buf, size_t len, uint64_t offset);

/* ---- drives ---- */

enum drive_interface {
    DRIVE_IF_NONE, /* a -device names it with drive=ID */
    DRIVE_IF_IDE,  /* the PIIX3 IDE controller takes it at index 0..3 */
    DRIVE_IF_VIRTIO, /* a virtio-blk-pci of its own (QEMU's shorthand), id "virtioN" */
};

enum drive_media {
    DRIVE_MEDIA_DISK,
    DRIVE_MEDIA_CDROM,
};

/* What the device attached to a drive is told, on the event-loop thread. */
struct drive_device_ops {
    /* QMP eject: may the medium go? false when the guest locked the tray and !force. */
    bool (*eject_request)(void *opaque, bool force);
    /* The medium went away (backend now NULL) or a new one is in. */
    void (*medium_changed)(void *opaque);
    /* For QMP query-block: the tray's lock and whether it is open; may be NULL (neither). */
    void (*tray_state)(void *opaque, bool *locked, bool *open);
};

struct drive {
    char *id;          /* id=, or QEMU's name for if=ide: "ide0-hd0", "ide1-cd0" */
    enum drive_interface interface;
    int index;         /* if=ide: 0..3 (bus = index / 2, unit = index % 2); -1 otherwise */
    enum drive_media media;
    bool read_only;    /* readonly=on, or a CD-ROM */
    enum block_cache_mode cache;
    enum block_aio_mode aio; /* aio=, for this drive's media (a CD-ROM's new ones too) */
    bool discard_unmap; /* discard=unmap: a guest's TRIM deallocates; ignore (default): no-op */
    struct block_backend *backend; /* NULL: no medium */
    /* The device using it (drive_attach); a drive serves one device. */
    const struct drive_device_ops *dev_ops;
    void *dev_opaque;
};

/*
 * A drive from -drive's keys (file=, if=ide|none, index=, media=disk|cdrom, format=raw|
 * host_device, cache=, readonly=on|off, id=, aio=threads|io_uring|native, discard=ignore|
 * unmap; bus=/unit= as another way to say index= for if=ide). Opens the file now, before any
 * restriction takes the file system away. A disk needs a file; a CD-ROM may have none. Unknown
 * keys and formats other than raw are errors.
 */
struct drive *drive_new(struct kv_list *options, GError **err);
void drive_free(struct drive *drive); /* closes the backend */

/* The device that uses the drive; false (err set) when another already does. */
bool drive_attach(struct drive *drive, const struct drive_device_ops *ops, void *opaque,
                  GError **err);
void drive_detach(struct drive *drive);

/*
 * QMP eject: asks the device (a locked tray refuses unless force), then closes the backend.
 * QMP blockdev-change-medium: the same, then opens `options` as the new medium. The device is
 * told through medium_changed. false with err set (QMP's GenericError text) on refusal.
 */
bool drive_eject(struct drive *drive, bool force, GError **err);
bool drive_change_medium(struct drive *drive, const struct block_open_options *options,
                         GError **err);

#endif
