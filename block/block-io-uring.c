/*
 * The io_uring engine (aio=io_uring, and aio=native): one ring a backend, owned by the
 * event-loop thread, which prepares SQEs, submits them and reaps their completions. No thread
 * of xendm's waits for the disk: the kernel runs the requests (its io-wq workers where they
 * block) and posts one CQE each, which also signals the backend's eventfd
 * (IORING_REGISTER_EVENTFD), so completions reach the event loop through the same GSource as
 * the worker threads' (block.c).
 *
 * Batching: block_uring_start only fills an SQE; block.c's submit source calls
 * block_uring_submit from its GSource prepare(), i.e. once per event-loop turn before the loop
 * sleeps, so every request a turn queued goes to the kernel in one io_uring_enter.
 *
 * Capacity: at most BLOCK_URING_ENTRIES requests are in the ring (prepared or in the kernel).
 * The completion queue has twice that many entries, so it never overflows; a request beyond
 * that waits in `held` and takes the place of the next one to finish.
 *
 * Short transfers resume: the request's own copy of the vector advances past what the CQE
 * says was done, and the rest goes in a new SQE. -EAGAIN and -EINTR are retried as they were.
 * A read that reaches the end of the file (a CQE of 0, or a short O_DIRECT read) zero-fills
 * the rest, as the worker threads' read_vector does.
 *
 * Flush is IORING_OP_FSYNC with IORING_FSYNC_DATASYNC and IOSQE_IO_DRAIN: the kernel starts
 * it only after every SQE submitted before it has completed, so a flush covers each write
 * the guest issued before it (more than block_flush promises, which is the writes completed
 * before it; a short write's remainder, resubmitted after the flush, is in neither).
 *
 * Restriction: the ring is created disabled (IORING_SETUP_R_DISABLED), registered with the
 * eventfd, then limited (IORING_REGISTER_RESTRICTIONS) to READV, WRITEV and FSYNC with no SQE
 * flag but IO_DRAIN and no further io_uring_register, and only then enabled. Operations on a
 * ring are not seen by seccomp, so a compromised xendm must not find in its ring a way to
 * open files that -sandbox forbids; system/sandbox.c allows io_uring_enter but refuses
 * io_uring_setup and io_uring_register (ENOSYS), so no unrestricted ring can be made later.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/uio.h>

#include "block/block-internal.h"
#include "xendm/common.h"
#include "xendm/log.h"

#define BLOCK_URING_ERROR (g_quark_from_static_string("xendm-block-io-uring"))

int block_uring_injected_setup_error;

#ifdef HAVE_LIBURING

#include <liburing.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Requests in the ring at once: a guest's usual queue depth (32) four times over. */
#define BLOCK_URING_ENTRIES 128

struct block_uring {
    struct io_uring ring;
    unsigned in_ring; /* requests with an SQE prepared or in the kernel */
    GQueue held;      /* requests waiting for room, in submission order */
};

/*
 * io_uring_register directly: Debian 12's liburing.so.2.3 leaves io_uring_register_restrictions
 * and io_uring_enable_rings out of its exported symbols (its liburing.a has them).
 */
static int ring_register(struct io_uring *ring, unsigned opcode, const void *arg, unsigned nr)
{
    long ret = syscall(__NR_io_uring_register, ring->ring_fd, opcode, arg, nr);
    return ret < 0 ? -errno : 0;
}

/* What may run in the ring once it is enabled (see the top of the file). */
static int restrict_ring(struct io_uring *ring)
{
    struct io_uring_restriction res[4];

    memset(res, 0, sizeof(res));
    res[0].opcode = IORING_RESTRICTION_SQE_OP;
    res[0].sqe_op = IORING_OP_READV;
    res[1].opcode = IORING_RESTRICTION_SQE_OP;
    res[1].sqe_op = IORING_OP_WRITEV;
    res[2].opcode = IORING_RESTRICTION_SQE_OP;
    res[2].sqe_op = IORING_OP_FSYNC;
    res[3].opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
    res[3].sqe_flags = IOSQE_IO_DRAIN;
    return ring_register(ring, IORING_REGISTER_RESTRICTIONS, res, G_N_ELEMENTS(res));
}

/*
 * A disabled ring. SUBMIT_ALL: an SQE the kernel refuses does not hold back the ones after it.
 * Not COOP_TASKRUN: the event loop sleeps in poll() on the eventfd, and a completion the
 * kernel queues as task work without waking the thread would be posted (and signalled) only
 * when the thread next enters the kernel for something else.
 */
static int setup_ring(struct io_uring *ring)
{
    struct io_uring_params params;
    int ret;

    memset(&params, 0, sizeof(params));
    params.flags = IORING_SETUP_R_DISABLED | IORING_SETUP_SUBMIT_ALL;
    ret = io_uring_queue_init_params(BLOCK_URING_ENTRIES, ring, &params);
    if (ret == -EINVAL) {
        /* Kernels before 5.18 lack SUBMIT_ALL. */
        memset(&params, 0, sizeof(params));
        params.flags = IORING_SETUP_R_DISABLED;
        ret = io_uring_queue_init_params(BLOCK_URING_ENTRIES, ring, &params);
    }
    return ret;
}

struct block_uring *block_uring_new(int event_fd, GError **err)
{
    struct block_uring *u = g_new0(struct block_uring, 1);
    const char *step = "io_uring_setup";
    int ret = -block_uring_injected_setup_error;

    g_queue_init(&u->held);
    if (ret == 0) {
        ret = setup_ring(&u->ring);
    }
    if (ret < 0) {
        goto fail;
    }
    step = "registering the eventfd";
    ret = io_uring_register_eventfd(&u->ring, event_fd);
    if (ret == 0) {
        step = "restricting the ring";
        ret = restrict_ring(&u->ring);
    }
    if (ret == 0) {
        step = "enabling the ring";
        ret = ring_register(&u->ring, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
    }
    if (ret < 0) {
        io_uring_queue_exit(&u->ring);
        goto fail;
    }
    return u;

fail:
    g_set_error(err, BLOCK_URING_ERROR, 0, "%s: %s", step, g_strerror(-ret));
    g_free(u);
    return NULL;
}

void block_uring_free(struct block_uring *u)
{
    if (u == NULL) {
        return;
    }
    io_uring_queue_exit(&u->ring);
    g_free(u);
}

unsigned block_uring_busy(const struct block_uring *u)
{
    return u->in_ring + u->held.length;
}

/* The SQE for what is left of req; the caller has room for it (in_ring counts it). */
static void prepare_sqe(struct block_uring *u, struct block_request *req)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    struct block_backend *bb = req->bb;
    off_t offset = (off_t)(req->offset + req->done_bytes);
    unsigned nr = (unsigned)XENDM_MIN(req->iovcnt, IOV_MAX);

    /* Never NULL: in_ring <= BLOCK_URING_ENTRIES and every SQE of a turn is submitted. */
    g_assert(sqe != NULL);
    req->ring_bytes = 0;
    for (unsigned i = 0; i < nr; i++) {
        req->ring_bytes += req->iov[i].iov_len;
    }
    switch (req->op) {
    case BLOCK_OP_READ:
        io_uring_prep_readv(sqe, bb->fd, req->iov, nr, offset);
        break;
    case BLOCK_OP_WRITE:
        io_uring_prep_writev(sqe, bb->fd, req->iov, nr, offset);
        /* O_DSYNC cannot be added to a passed fd; RWF_DSYNC is the same for one write. */
        if (bb->sync_each_write) {
            sqe->rw_flags = RWF_DSYNC;
        }
        break;
    default: /* BLOCK_OP_FLUSH: block.c sends nothing else */
        io_uring_prep_fsync(sqe, bb->fd, IORING_FSYNC_DATASYNC);
        io_uring_sqe_set_flags(sqe, IOSQE_IO_DRAIN);
        break;
    }
    io_uring_sqe_set_data(sqe, req);
}

void block_uring_start(struct block_uring *u, struct block_request *req)
{
    req->done_bytes = 0;
    if (req->iov != NULL) {
        block_iov_advance(&req->iov, &req->iovcnt, 0); /* no empty elements first */
    }
    if (u->in_ring >= BLOCK_URING_ENTRIES || !g_queue_is_empty(&u->held)) {
        g_queue_push_tail(&u->held, req);
        return;
    }
    u->in_ring++;
    prepare_sqe(u, req);
}

bool block_uring_submit(struct block_uring *u)
{
    static struct log_ratelimit rl;

    while (io_uring_sq_ready(&u->ring) > 0) {
        int ret = io_uring_submit(&u->ring);
        if (ret == -EINTR) {
            continue;
        }
        if (ret == -EAGAIN || ret == -EBUSY) {
            return false; /* the kernel is short of memory or of CQ room: later */
        }
        if (ret <= 0) {
            if (ret < 0) {
                log_limited(&rl, "block: io_uring_enter: %s", g_strerror(-ret));
            }
            return false; /* nothing taken: retried on the loop's next turn */
        }
    }
    return true;
}

/* A request leaves the ring: a held one takes its place. */
static void leave_ring(struct block_uring *u, struct block_request *req, int ret,
                       GQueue *finished)
{
    req->ret = ret;
    g_queue_push_tail(finished, req);
    u->in_ring--;
    struct block_request *next = g_queue_pop_head(&u->held);
    if (next != NULL) {
        u->in_ring++;
        prepare_sqe(u, next);
    }
}

/* A read or write moved `done` bytes of ring_bytes: finished, or the rest goes in again. */
static void transferred(struct block_uring *u, struct block_request *req, size_t done,
                        GQueue *finished)
{
    bool direct_short = req->bb->direct && done < req->ring_bytes;

    req->done_bytes += done;
    block_iov_advance(&req->iov, &req->iovcnt, done);
    if (req->iovcnt == 0) {
        leave_ring(u, req, 0, finished);
    } else if (req->op == BLOCK_OP_READ && (done == 0 || direct_short)) {
        /* The end of the file (an O_DIRECT read cannot resume at an unaligned offset). */
        block_iov_zero(req->iov, req->iovcnt);
        leave_ring(u, req, 0, finished);
    } else if (done == 0) {
        leave_ring(u, req, -ENOSPC, finished); /* a write made no progress: never loop */
    } else {
        prepare_sqe(u, req);
    }
}

static void complete_cqe(struct block_uring *u, struct block_request *req, int res,
                         GQueue *finished)
{
    if (res == -EAGAIN || res == -EINTR) {
        prepare_sqe(u, req); /* the same again */
    } else if (res < 0) {
        leave_ring(u, req, res, finished);
    } else if (req->op == BLOCK_OP_FLUSH) {
        leave_ring(u, req, 0, finished);
    } else {
        transferred(u, req, (size_t)res, finished);
    }
}

void block_uring_reap(struct block_uring *u, GQueue *finished)
{
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;

    io_uring_for_each_cqe(&u->ring, head, cqe) {
        complete_cqe(u, io_uring_cqe_get_data(cqe), cqe->res, finished);
        seen++;
    }
    io_uring_cq_advance(&u->ring, seen);
}

void block_uring_wait(struct block_uring *u)
{
    for (;;) {
        int ret = io_uring_submit_and_wait(&u->ring, 1);
        if (ret >= 0 || io_uring_cq_ready(&u->ring) > 0) {
            return;
        }
        if (ret == -EAGAIN || ret == -EBUSY) {
            g_usleep(100); /* short of kernel memory: let the ring drain */
        } else if (ret != -EINTR) {
            log_error("block: waiting for io_uring completions: %s", g_strerror(-ret));
            g_usleep(1000);
        }
    }
}

#else /* !HAVE_LIBURING: every backend runs on the worker threads */

struct block_uring *block_uring_new(int event_fd, GError **err)
{
    (void)event_fd;
    g_set_error(err, BLOCK_URING_ERROR, 0, "xendm was built without liburing");
    return NULL;
}

void block_uring_free(struct block_uring *u)
{
    (void)u;
}

void block_uring_start(struct block_uring *u, struct block_request *req)
{
    g_assert_not_reached();
}

bool block_uring_submit(struct block_uring *u)
{
    return true;
}

void block_uring_reap(struct block_uring *u, GQueue *finished)
{
}

void block_uring_wait(struct block_uring *u)
{
}

unsigned block_uring_busy(const struct block_uring *u)
{
    return 0;
}

#endif
