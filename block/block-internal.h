/*
 * The block layer's insides, shared by block.c (checks, worker threads, completion) and
 * block-io-uring.c (the io_uring engine). Nothing outside block/ includes this.
 */
#ifndef XENDM_BLOCK_INTERNAL_H
#define XENDM_BLOCK_INTERNAL_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "xendm/block.h"

/* A request's vector up to this many elements lives in the request itself. */
#define BLOCK_INLINE_IOVS 4

enum block_op {
    BLOCK_OP_READ,
    BLOCK_OP_WRITE,
    BLOCK_OP_FLUSH,
    BLOCK_OP_DISCARD,
    BLOCK_OP_WRITE_ZEROES,
};

struct block_request {
    struct block_backend *bb;
    enum block_op op;
    uint64_t offset;
    uint64_t len;
    struct iovec *iov; /* our copy (iov_inline or allocated); the worker or ring advances it */
    struct iovec *iov_alloc; /* NULL when the copy is iov_inline */
    int iovcnt;
    struct iovec iov_inline[BLOCK_INLINE_IOVS];
    int ret;
    block_complete_fn cb;
    void *opaque;

    /* io_uring only (event-loop thread). */
    uint64_t done_bytes;  /* transferred so far: a short transfer resumes after them */
    size_t ring_bytes;    /* what the SQE in the ring asks for */
    bool gated;           /* holds the O_DIRECT gate (block.c) */
    bool exclusive;       /* ...exclusively: a read-modify-write runs */
};

struct block_uring;

struct block_backend {
    char *filename;
    int fd;
    bool read_only;
    enum block_cache_mode cache;
    bool is_regular;      /* a file (reads past its end give zeroes), not a block device */
    bool direct;          /* O_DIRECT: transfers must be aligned to `align` */
    bool sync_each_write; /* writethrough on a passed fd without O_DSYNC: sync each write */
    size_t align;         /* 1 without O_DIRECT */
    uint64_t size;

    GRWLock rmw_lock;     /* O_DIRECT only: see the top of block.c */

    /* Finished requests, filled by the workers, emptied on the event-loop thread. */
    GMutex done_lock;
    GCond done_cond;        /* broadcast only while drain_waiters > 0 */
    GQueue done;
    bool done_signalled;    /* eventfd written since the event loop last took `done` */
    unsigned drain_waiters; /* block_drain() calls waiting on done_cond */
    int event_fd;           /* also the ring's completion eventfd */
    GSource *source;

    /* aio=io_uring (event-loop thread only); NULL: everything on worker threads. */
    struct block_uring *uring;
    GSource *submit_source;  /* hands the turn's SQEs to the kernel before the loop sleeps */
    unsigned gate_shared;    /* O_DIRECT gate: requests running that hold it shared */
    bool gate_exclusive;     /* ...one running that holds it exclusively */
    GQueue gate_waiting;     /* requests waiting for it, in submission order */

    /* Event-loop thread only. */
    GQueue ready;           /* finished, callbacks not yet run */
    unsigned in_flight;
    unsigned refs;
    struct block_stats stats;
};

/* iovec helpers (block.c). */
void block_iov_advance(struct iovec **iov, int *iovcnt, size_t n);
void block_iov_zero(struct iovec *iov, int iovcnt);

/*
 * The io_uring engine (block-io-uring.c), one ring a backend, used on the event-loop thread
 * only. It runs reads, writes (RWF_DSYNC for sync_each_write) and flushes; finished requests
 * (req->ret set) are appended to the queue block_uring_reap is given.
 */
/* A ring whose completions signal `event_fd`; NULL with err when none can be made. */
struct block_uring *block_uring_new(int event_fd, GError **err);
void block_uring_free(struct block_uring *ring); /* nothing may be in flight; NULL is fine */
/* Queues req for the next submission; held back while the ring is full. */
void block_uring_start(struct block_uring *ring, struct block_request *req);
/* Hands the queued SQEs to the kernel; false when it must be retried (EAGAIN, EBUSY). */
bool block_uring_submit(struct block_uring *ring);
/* Takes the completions the kernel has posted, without waiting. */
void block_uring_reap(struct block_uring *ring, GQueue *finished);
/* Submits and waits until at least one completion is there to reap. */
void block_uring_wait(struct block_uring *ring);
/* Requests given to block_uring_start and not yet reaped as finished. */
unsigned block_uring_busy(const struct block_uring *ring);
/* Tests: block_uring_new fails with -err while err != 0 (see block_io_uring_fail_setup). */
extern int block_uring_injected_setup_error;

#endif
