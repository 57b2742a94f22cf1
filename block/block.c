/*
 * Block backends: raw files and block devices, read and written on worker threads.
 *
 * A request is checked on the submitting (event-loop) thread, runs on one of the block layer's
 * worker threads (a pool shared by every backend), and is put on its backend's queue of
 * finished requests; the worker then signals the backend's eventfd. A GSource on the default
 * main context watches that eventfd and runs the callbacks on the event-loop thread;
 * block_drain() runs them on the caller's thread instead. Even a request refused by the checks
 * goes through that queue, so a callback never runs inside the call that submitted it.
 *
 * Both hand-offs are batched, because at a queue depth of 32 a wakeup per request cost more
 * than the requests themselves: a worker runs requests until the pool's queue is empty, and
 * submission wakes a sleeping worker only when none is already on its way; a worker writes
 * the eventfd only for the first request the event loop has not been told of, and the loop
 * then takes every finished request in one go. The pool grows (up to BLOCK_WORKERS_MAX) only
 * when a request finds every worker busy, so a disk that blocks still sees many requests at
 * once, and a worker idle for BLOCK_WORKER_IDLE_US ends.
 *
 * O_DIRECT (cache=none, directsync) needs the file offset, the length and the memory of every
 * transfer aligned to the device's logical block size. Requests that are not are "bounced":
 * read or written through an aligned buffer that covers whole blocks. A bounced write reads
 * the partial blocks at its edges first (read-modify-write), so it must not overlap another
 * request on those blocks: bounced writes take the backend's rmw_lock exclusively, every other
 * request on an O_DIRECT backend takes it shared.
 *
 * aio=io_uring (block-io-uring.c) gives a backend a ring of its own, which runs its reads,
 * writes and flushes; discard and write-zeroes, and bounced requests, still go to the workers.
 * The ring posts its completions to the same eventfd, so completion_ready() and block_drain()
 * serve both kinds alike. On an O_DIRECT backend with a ring, rmw_lock cannot cover requests in
 * the ring (no thread of ours holds anything while the kernel runs them), so the event-loop
 * thread keeps the same rule as a gate: a read-modify-write waits until nothing else runs and
 * runs alone; others wait behind it, in submission order.
 *
 * The block layer issues no ioctl: the size of a block device comes from lseek(SEEK_END) and
 * the alignment from a probing read, because a medium may be opened (QMP
 * blockdev-change-medium) after the -sandbox seccomp filter is in force, and that filter kills
 * xendm on any ioctl but the Xen devices' (system/sandbox.c).
 */
#include <fcntl.h>
#include <glib-unix.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/falloc.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "block/block-internal.h"
#include "xendm/block.h"
#include "xendm/common.h"
#include "xendm/log.h"
#include "xendm/trace.h"

#define BLOCK_ERROR (g_quark_from_static_string("xendm-block"))

/*
 * Worker threads shared by all backends: enough for a queue depth of 32 on a disk that blocks
 * (QEMU's pool allows 64); they exist only while requests keep them busy.
 */
#define BLOCK_WORKERS_MAX 32
#define BLOCK_WORKER_IDLE_US (10 * G_USEC_PER_SEC)
/* A request waited when it took this much longer than it ran; "many" of the last 32 did. */
#define BLOCK_WAITED_US 50
#define BLOCK_WAITED_MANY 4
/* The largest piece a bounced request moves at a time, and the zero buffer's size. */
#define BLOCK_BOUNCE_CHUNK (1024 * 1024)
#define BLOCK_ZERO_CHUNK (64 * 1024)
/* The strictest alignment O_DIRECT may ask for here (4Kn disks); also the probe's buffer. */
#define BLOCK_MAX_ALIGN 4096

static const char *const block_op_names[] = {
    [BLOCK_OP_READ] = "read",
    [BLOCK_OP_WRITE] = "write",
    [BLOCK_OP_FLUSH] = "flush",
    [BLOCK_OP_DISCARD] = "discard",
    [BLOCK_OP_WRITE_ZEROES] = "write_zeroes",
};

/* ---- the worker pool ---- */

static struct {
    GMutex lock;
    GCond work;       /* signalled for a request queued while a worker sleeps */
    GQueue queue;     /* struct block_request *, submitted and not yet taken by a worker */
    unsigned threads; /* workers alive */
    unsigned idle;    /* workers waiting on `work` */
    unsigned busy;    /* workers running a request */
    unsigned cpus;
    uint32_t blocked; /* one bit a request, newest lowest: it waited rather than ran */
    unsigned woken;   /* signals sent and not yet taken up by a waking worker (a lower
                       * bound: an extra signal costs a wakeup, a missing one a stall) */
} block_pool;

static int request_run(struct block_request *req);
static void request_finish(struct block_request *req);
static bool block_pool_grow(void);
static void gate_leave(struct block_backend *bb, struct block_request *req);

/* The fallback from io_uring to threads has been reported (once a process). */
static bool uring_warned;

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0) {
        return 0;
    }
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Whether another worker should run for the request just queued (pool lock held). Workers
 * beyond the host's CPUs only add context switches while requests run on the CPU (the page
 * cache), but they are the queue depth the disk sees while requests wait for it: the pool
 * allows BLOCK_WORKERS_MAX awake when several of the last 32 requests waited, else one a CPU.
 */
static bool block_pool_wants_worker(void)
{
    unsigned awake = block_pool.threads - block_pool.idle + block_pool.woken;
    unsigned limit, waited = 0;

    for (uint32_t b = block_pool.blocked; b != 0; b &= b - 1) {
        waited++;
    }
    limit = waited >= BLOCK_WAITED_MANY ? BLOCK_WORKERS_MAX : block_pool.cpus;
    /* Workers awake and not in a request take queued ones without being told. */
    return awake < limit && g_queue_get_length(&block_pool.queue) > awake - block_pool.busy;
}

/* Runs req; notes whether it spent most of its time waiting (for the disk, most likely). */
static void block_worker_run(struct block_request *req)
{
    int64_t wall = g_get_monotonic_time(), cpu = thread_cpu_ns();
    bool waited;

    req->ret = request_run(req);
    cpu = (thread_cpu_ns() - cpu) / 1000;
    wall = g_get_monotonic_time() - wall;
    waited = wall - cpu > BLOCK_WAITED_US && wall - cpu > cpu;
    request_finish(req);
    g_mutex_lock(&block_pool.lock);
    block_pool.blocked = block_pool.blocked << 1 | waited;
}

/* Runs queued requests until there are none; ends after BLOCK_WORKER_IDLE_US without one. */
static gpointer block_worker(gpointer unused)
{
    (void)unused;
    g_mutex_lock(&block_pool.lock);
    for (;;) {
        struct block_request *req = g_queue_pop_head(&block_pool.queue);

        if (req != NULL) {
            block_pool.busy++;
            g_mutex_unlock(&block_pool.lock);
            block_worker_run(req); /* returns with the lock held */
            block_pool.busy--;
            /* Requests that waited for the disk may now let more workers run. */
            block_pool_grow();
            continue;
        }
        block_pool.idle++;
        bool signalled = g_cond_wait_until(&block_pool.work, &block_pool.lock,
                                           g_get_monotonic_time() + BLOCK_WORKER_IDLE_US);
        block_pool.idle--;
        if (block_pool.woken > 0) {
            block_pool.woken--;
        }
        if (!signalled && g_queue_is_empty(&block_pool.queue)) {
            break;
        }
    }
    block_pool.threads--;
    g_mutex_unlock(&block_pool.lock);
    return NULL;
}

/* A new worker, pool lock held; false (logged once) when no thread can be created. */
static bool block_pool_spawn(void)
{
    static bool warned;
    GError *err = NULL;
    GThread *t = g_thread_try_new("block-worker", block_worker, NULL, &err);

    if (t == NULL) {
        if (!warned) {
            log_error("block: cannot start a worker thread: %s", err->message);
            warned = true;
        }
        g_error_free(err);
        return false;
    }
    g_thread_unref(t); /* detached: it ends by itself */
    block_pool.threads++;
    return true;
}

/*
 * Wakes a sleeping worker, or starts one, if the queue wants another (pool lock held); false
 * only when there is no worker at all to run what is queued.
 */
static bool block_pool_grow(void)
{
    if (!block_pool_wants_worker()) {
        return true;
    }
    if (block_pool.idle > block_pool.woken) {
        block_pool.woken++;
        g_cond_signal(&block_pool.work);
        return true;
    }
    if (block_pool.threads < BLOCK_WORKERS_MAX) {
        return block_pool_spawn() || block_pool.threads > 0;
    }
    return true;
}

/* Queues req for a worker; false when no worker thread can run it. */
static bool block_pool_submit(struct block_request *req)
{
    bool ok;

    g_mutex_lock(&block_pool.lock);
    if (block_pool.cpus == 0) {
        block_pool.cpus = XENDM_MAX(g_get_num_processors(), 1u);
    }
    g_queue_push_tail(&block_pool.queue, req);
    ok = block_pool_grow();
    if (!ok) {
        g_queue_pop_tail(&block_pool.queue);
    }
    g_mutex_unlock(&block_pool.lock);
    return ok;
}

/* ---- iovec helpers ---- */

/* Drops the first `n` bytes of the vector (our private copy). */
void block_iov_advance(struct iovec **iov, int *iovcnt, size_t n)
{
    while (n > 0 && *iovcnt > 0) {
        size_t step = XENDM_MIN(n, (*iov)->iov_len);
        (*iov)->iov_base = (char *)(*iov)->iov_base + step;
        (*iov)->iov_len -= step;
        n -= step;
        if ((*iov)->iov_len == 0) {
            (*iov)++;
            (*iovcnt)--;
        }
    }
    /* Skip empty elements so that the caller never issues a zero-length transfer. */
    while (*iovcnt > 0 && (*iov)->iov_len == 0) {
        (*iov)++;
        (*iovcnt)--;
    }
}

void block_iov_zero(struct iovec *iov, int iovcnt)
{
    for (int i = 0; i < iovcnt; i++) {
        memset(iov[i].iov_base, 0, iov[i].iov_len);
    }
}

/* Copies `n` bytes between buf and the vector, starting `skip` bytes into the vector. */
static void iov_copy(const struct iovec *iov, int iovcnt, size_t skip, void *buf, size_t n,
                     bool to_iov)
{
    char *p = buf;
    for (int i = 0; i < iovcnt && n > 0; i++) {
        if (skip >= iov[i].iov_len) {
            skip -= iov[i].iov_len;
            continue;
        }
        size_t step = XENDM_MIN(n, iov[i].iov_len - skip);
        char *base = (char *)iov[i].iov_base + skip;
        if (to_iov) {
            memcpy(base, p, step);
        } else {
            memcpy(p, base, step);
        }
        p += step;
        n -= step;
        skip = 0;
    }
}

/* ---- transfers (worker threads) ---- */

/*
 * Reads the whole vector from `offset`, resuming after short reads and EINTR. Past the end of
 * the file the vector is zero-filled: a regular file may be shorter than the size a request
 * was checked against (it shrank, or its size is not a multiple of an O_DIRECT block). With
 * O_DIRECT, a short read can only mean the end of the file, and resuming at an unaligned
 * offset would fail, so it ends there.
 */
static int read_vector(int fd, bool direct, struct iovec *iov, int iovcnt, uint64_t offset)
{
    block_iov_advance(&iov, &iovcnt, 0);
    while (iovcnt > 0) {
        ssize_t n = preadv(fd, iov, XENDM_MIN(iovcnt, IOV_MAX), (off_t)offset);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        size_t want = 0;
        for (int i = 0; i < XENDM_MIN(iovcnt, IOV_MAX); i++) {
            want += iov[i].iov_len;
        }
        block_iov_advance(&iov, &iovcnt, (size_t)n);
        offset += (uint64_t)n;
        if (n == 0 || (direct && (size_t)n < want)) {
            block_iov_zero(iov, iovcnt);
            break;
        }
    }
    return 0;
}

/* Writes the whole vector at `offset`, resuming after short writes and EINTR. */
static int write_vector(int fd, struct iovec *iov, int iovcnt, uint64_t offset)
{
    block_iov_advance(&iov, &iovcnt, 0);
    while (iovcnt > 0) {
        ssize_t n = pwritev(fd, iov, XENDM_MIN(iovcnt, IOV_MAX), (off_t)offset);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        if (n == 0) {
            return -ENOSPC; /* no progress: never loop forever */
        }
        block_iov_advance(&iov, &iovcnt, (size_t)n);
        offset += (uint64_t)n;
    }
    return 0;
}

static bool vector_is_aligned(const struct block_backend *bb, uint64_t offset,
                              const struct iovec *iov, int iovcnt)
{
    if (offset % bb->align != 0) {
        return false;
    }
    for (int i = 0; i < iovcnt; i++) {
        if ((uintptr_t)iov[i].iov_base % bb->align != 0 || iov[i].iov_len % bb->align != 0) {
            return false;
        }
    }
    return true;
}

static void *aligned_buffer(size_t align, size_t size)
{
    void *buf = NULL;
    if (posix_memalign(&buf, XENDM_MAX(align, sizeof(void *)), size) != 0) {
        return NULL;
    }
    return buf;
}

/*
 * One aligned chunk [chunk, chunk + chunk_len) of a bounced request covering
 * [offset, offset + len): reads it (whole, for a read; only when the request covers it
 * partially, for a write), then copies between it and the request's vector.
 */
static int bounce_chunk(struct block_backend *bb, bool is_write, const struct iovec *iov,
                        int iovcnt, uint64_t offset, uint64_t len, uint64_t chunk,
                        size_t chunk_len, void *buf)
{
    uint64_t from = XENDM_MAX(chunk, offset);
    uint64_t to = XENDM_MIN(chunk + chunk_len, offset + len);
    struct iovec bounce = {.iov_base = buf, .iov_len = chunk_len};
    bool partial = from > chunk || to < chunk + chunk_len;

    if (!is_write || partial) {
        int ret = read_vector(bb->fd, true, &bounce, 1, chunk);
        if (ret < 0) {
            return ret;
        }
    }
    if (!is_write) {
        iov_copy(iov, iovcnt, from - offset, (char *)buf + (from - chunk), to - from, true);
        return 0;
    }
    iov_copy(iov, iovcnt, from - offset, (char *)buf + (from - chunk), to - from, false);
    bounce = (struct iovec){.iov_base = buf, .iov_len = chunk_len};
    return write_vector(bb->fd, &bounce, 1, chunk);
}

/* A request O_DIRECT cannot take as it is, moved through an aligned buffer chunk by chunk. */
static int bounce_request(struct block_backend *bb, bool is_write, const struct iovec *iov,
                          int iovcnt, uint64_t offset, uint64_t len)
{
    uint64_t start = offset - offset % bb->align;
    uint64_t end = (offset + len + bb->align - 1) / bb->align * bb->align;
    size_t buf_len = (size_t)XENDM_MIN(end - start, (uint64_t)BLOCK_BOUNCE_CHUNK);
    void *buf = aligned_buffer(bb->align, buf_len);
    int ret = 0;

    if (buf == NULL) {
        return -ENOMEM;
    }
    for (uint64_t chunk = start; chunk < end && ret == 0; chunk += buf_len) {
        size_t chunk_len = (size_t)XENDM_MIN(end - chunk, (uint64_t)buf_len);
        ret = bounce_chunk(bb, is_write, iov, iovcnt, offset, len, chunk, chunk_len, buf);
    }
    /* Whole blocks past the end of a file whose size is not a block multiple grew it. */
    if (ret == 0 && is_write && bb->is_regular && end > bb->size) {
        while (ftruncate(bb->fd, (off_t)bb->size) < 0) {
            if (errno != EINTR) {
                ret = -errno;
                break;
            }
        }
    }
    free(buf);
    return ret;
}

static int do_read(struct block_backend *bb, struct iovec *iov, int iovcnt, uint64_t offset,
                   uint64_t len)
{
    if (!bb->direct) {
        return read_vector(bb->fd, false, iov, iovcnt, offset);
    }
    g_rw_lock_reader_lock(&bb->rmw_lock);
    int ret = vector_is_aligned(bb, offset, iov, iovcnt)
                  ? read_vector(bb->fd, true, iov, iovcnt, offset)
                  : bounce_request(bb, false, iov, iovcnt, offset, len);
    g_rw_lock_reader_unlock(&bb->rmw_lock);
    return ret;
}

static int sync_if_writethrough(struct block_backend *bb, int ret)
{
    if (ret == 0 && bb->sync_each_write && fdatasync(bb->fd) < 0) {
        return -errno;
    }
    return ret;
}

static int do_write(struct block_backend *bb, struct iovec *iov, int iovcnt, uint64_t offset,
                    uint64_t len)
{
    int ret;
    if (!bb->direct) {
        ret = write_vector(bb->fd, iov, iovcnt, offset);
    } else if (vector_is_aligned(bb, offset, iov, iovcnt)) {
        g_rw_lock_reader_lock(&bb->rmw_lock);
        ret = write_vector(bb->fd, iov, iovcnt, offset);
        g_rw_lock_reader_unlock(&bb->rmw_lock);
    } else {
        g_rw_lock_writer_lock(&bb->rmw_lock);
        ret = bounce_request(bb, true, iov, iovcnt, offset, len);
        g_rw_lock_writer_unlock(&bb->rmw_lock);
    }
    return sync_if_writethrough(bb, ret);
}

/* Zeroes [offset, offset + len) by writing: when the file system cannot deallocate. */
static int write_zero_bytes(struct block_backend *bb, uint64_t offset, uint64_t len)
{
    enum { ZERO_IOVS = BLOCK_BOUNCE_CHUNK / BLOCK_ZERO_CHUNK };
    struct iovec iov[ZERO_IOVS];
    void *zeroes = aligned_buffer(BLOCK_MAX_ALIGN, BLOCK_ZERO_CHUNK);
    int ret = 0;

    if (zeroes == NULL) {
        return -ENOMEM;
    }
    memset(zeroes, 0, BLOCK_ZERO_CHUNK);
    while (len > 0 && ret == 0) {
        uint64_t piece = XENDM_MIN(len, (uint64_t)BLOCK_BOUNCE_CHUNK);
        int iovcnt = 0;
        for (uint64_t left = piece; left > 0; iovcnt++) {
            size_t step = (size_t)XENDM_MIN(left, (uint64_t)BLOCK_ZERO_CHUNK);
            iov[iovcnt] = (struct iovec){.iov_base = zeroes, .iov_len = step};
            left -= step;
        }
        ret = do_write(bb, iov, iovcnt, offset, piece);
        offset += piece;
        len -= piece;
    }
    free(zeroes);
    return ret;
}

/* fallocate(mode) on the range, else zeroes written; durable at once for writethrough. */
static int do_deallocate(struct block_backend *bb, int mode, uint64_t offset, uint64_t len)
{
    int ret;
    if (len == 0) {
        return 0;
    }
    do {
        ret = fallocate(bb->fd, mode, (off_t)offset, (off_t)len) < 0 ? -errno : 0;
    } while (ret == -EINTR);
    if (ret == -EOPNOTSUPP || ret == -ENOSYS || ret == -EINVAL || ret == -ENODEV) {
        return write_zero_bytes(bb, offset, len);
    }
    if (ret == 0 && (bb->cache == BLOCK_CACHE_WRITETHROUGH ||
                     bb->cache == BLOCK_CACHE_DIRECTSYNC) && fdatasync(bb->fd) < 0) {
        ret = -errno;
    }
    return ret;
}

static int do_flush(struct block_backend *bb)
{
    if (bb->cache == BLOCK_CACHE_UNSAFE) {
        return 0;
    }
    while (fdatasync(bb->fd) < 0) {
        if (errno != EINTR) {
            return -errno;
        }
    }
    return 0;
}

static int request_run(struct block_request *req)
{
    struct block_backend *bb = req->bb;
    switch (req->op) {
    case BLOCK_OP_READ:
        return do_read(bb, req->iov, req->iovcnt, req->offset, req->len);
    case BLOCK_OP_WRITE:
        return do_write(bb, req->iov, req->iovcnt, req->offset, req->len);
    case BLOCK_OP_FLUSH:
        return do_flush(bb);
    case BLOCK_OP_DISCARD:
        return do_deallocate(bb, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, req->offset,
                             req->len);
    case BLOCK_OP_WRITE_ZEROES:
        return do_deallocate(bb, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, req->offset,
                             req->len);
    }
    return -EINVAL;
}

/* Hands a finished request back to the event-loop thread. Any thread. */
static void request_finish(struct block_request *req)
{
    struct block_backend *bb = req->bb;
    const uint64_t one = 1;

    /*
     * Everything that touches bb happens under done_lock: once it is released, the event
     * loop may run the callback, see nothing in flight and free the backend.
     */
    g_mutex_lock(&bb->done_lock);
    g_queue_push_tail(&bb->done, req);
    /* Once per batch: the loop takes everything in `done` when it reads the eventfd. */
    if (!bb->done_signalled) {
        bb->done_signalled = true;
        /* A full counter (EAGAIN) still wakes the loop; nothing else can fail here. */
        if (write(bb->event_fd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
            log_warn("block '%s': cannot signal a completion: %s", bb->filename,
                     strerror(errno));
        }
    }
    if (bb->drain_waiters > 0) {
        g_cond_broadcast(&bb->done_cond);
    }
    g_mutex_unlock(&bb->done_lock);
}

/* ---- completion (event-loop thread) ---- */

static void block_unref(struct block_backend *bb)
{
    if (--bb->refs > 0) {
        return;
    }
    g_rw_lock_clear(&bb->rmw_lock);
    g_mutex_clear(&bb->done_lock);
    g_cond_clear(&bb->done_cond);
    g_free(bb->filename);
    g_free(bb);
}

static void account(struct block_backend *bb, const struct block_request *req)
{
    struct block_stats *st = &bb->stats;
    if (req->ret < 0) {
        st->failed_operations++;
        return;
    }
    switch (req->op) {
    case BLOCK_OP_READ:
        st->rd_operations++;
        st->rd_bytes += req->len;
        break;
    case BLOCK_OP_WRITE:
        st->wr_operations++;
        st->wr_bytes += req->len;
        break;
    case BLOCK_OP_FLUSH:
        st->flush_operations++;
        break;
    case BLOCK_OP_DISCARD:
        st->discard_operations++;
        break;
    case BLOCK_OP_WRITE_ZEROES:
        /* QEMU counts write-zeroes as writes of the range. */
        st->wr_operations++;
        st->wr_bytes += req->len;
        break;
    }
}

static void request_free(struct block_request *req)
{
    g_free(req->iov_alloc);
    g_free(req);
}

/* Moves every finished request from `done` to `ready`, in order. done_lock held. */
static void take_done(struct block_backend *bb)
{
    GQueue *from = &bb->done, *to = &bb->ready;

    if (from->head == NULL) {
        return;
    }
    if (to->tail == NULL) {
        *to = *from;
    } else {
        to->tail->next = from->head;
        from->head->prev = to->tail;
        to->tail = from->tail;
        to->length += from->length;
    }
    g_queue_init(from);
}

/*
 * Runs the callbacks of finished requests, one at a time: a callback may submit more, drain
 * or even close the backend, and whatever it leaves in `ready` or `done` is then still
 * counted in in_flight and found by that drain.
 */
static void run_ready(struct block_backend *bb)
{
    struct block_request *req;

    while ((req = g_queue_pop_head(&bb->ready)) != NULL) {
        if (req->gated) {
            gate_leave(bb, req);
        }
        account(bb, req);
        bb->in_flight--;
        TRACE(block_complete, "file=%s op=%s offset=%" PRIu64 " len=%" PRIu64 " ret=%d",
              bb->filename, block_op_names[req->op], req->offset, req->len, req->ret);
        req->cb(req->opaque, req->ret);
        request_free(req);
    }
}

static gboolean completion_ready(gint fd, GIOCondition condition, gpointer opaque)
{
    struct block_backend *bb = opaque;
    uint64_t count;

    /* Read first: a request finishing after this writes the counter again. */
    while (read(fd, &count, sizeof(count)) < 0 && errno == EINTR) {
    }
    bb->refs++;
    if (bb->uring != NULL) {
        block_uring_reap(bb->uring, &bb->ready);
    }
    g_mutex_lock(&bb->done_lock);
    bb->done_signalled = false;
    take_done(bb);
    g_mutex_unlock(&bb->done_lock);
    run_ready(bb);
    block_unref(bb);
    return G_SOURCE_CONTINUE;
}

/*
 * Blocks until a request has finished: in the ring while it has some (a worker's request
 * finishing meanwhile is found on the next pass), else on the worker threads' `done`.
 */
static void wait_for_finished(struct block_backend *bb)
{
    g_mutex_lock(&bb->done_lock);
    bool none_done = g_queue_is_empty(&bb->done);
    g_mutex_unlock(&bb->done_lock);
    if (none_done && bb->uring != NULL && block_uring_busy(bb->uring) > 0) {
        block_uring_wait(bb->uring);
        block_uring_reap(bb->uring, &bb->ready);
        return;
    }
    g_mutex_lock(&bb->done_lock);
    bb->drain_waiters++;
    while (g_queue_is_empty(&bb->done)) {
        g_cond_wait(&bb->done_cond, &bb->done_lock);
    }
    bb->drain_waiters--;
    take_done(bb);
    g_mutex_unlock(&bb->done_lock);
}

void block_drain(struct block_backend *bb)
{
    if (bb == NULL) {
        return;
    }
    bb->refs++;
    while (bb->in_flight > 0) {
        if (g_queue_is_empty(&bb->ready) && bb->uring != NULL) {
            block_uring_submit(bb->uring);
            block_uring_reap(bb->uring, &bb->ready);
        }
        if (g_queue_is_empty(&bb->ready)) {
            wait_for_finished(bb);
        }
        run_ready(bb);
    }
    block_unref(bb);
}

unsigned block_in_flight(const struct block_backend *bb)
{
    return bb->in_flight;
}

/* ---- submission (event-loop thread) ---- */

static struct block_request *request_new(struct block_backend *bb, enum block_op op,
                                         uint64_t offset, uint64_t len, block_complete_fn cb,
                                         void *opaque)
{
    struct block_request *req = g_new0(struct block_request, 1);
    req->bb = bb;
    req->op = op;
    req->offset = offset;
    req->len = len;
    req->cb = cb;
    req->opaque = opaque;
    return req;
}

/* Whether the ring runs req: reads, writes (aligned ones on O_DIRECT) and flushes. */
static bool runs_in_ring(const struct block_request *req)
{
    const struct block_backend *bb = req->bb;

    switch (req->op) {
    case BLOCK_OP_READ:
    case BLOCK_OP_WRITE:
        return req->len > 0 && (!bb->direct || vector_is_aligned(bb, req->offset, req->iov,
                                                                 req->iovcnt));
    case BLOCK_OP_FLUSH:
        return true;
    default: /* discard, write-zeroes: fallocate on the worker threads */
        return false;
    }
}

/* A checked request starts: in the ring, or on a worker thread. */
static void request_run_async(struct block_request *req)
{
    struct block_backend *bb = req->bb;

    if (req->op == BLOCK_OP_FLUSH && bb->cache == BLOCK_CACHE_UNSAFE) {
        req->ret = 0; /* nothing to do, but never inside the submitting call */
        request_finish(req);
    } else if (bb->uring != NULL && runs_in_ring(req)) {
        block_uring_start(bb->uring, req);
    } else if (!block_pool_submit(req)) {
        req->ret = -EAGAIN;
        request_finish(req);
    }
}

/*
 * The O_DIRECT gate of an io_uring backend: rmw_lock's rule (see the top of the file) kept on
 * the event-loop thread, since requests in the ring hold no lock. A read-modify-write (a
 * bounced write; a discard or write-zeroes, which may fall back to one) runs alone; anything
 * else runs with anything but one; requests wait in submission order.
 */
static bool gate_admits(const struct block_backend *bb, const struct block_request *req)
{
    if (bb->gate_exclusive) {
        return false;
    }
    return !req->exclusive || bb->gate_shared == 0;
}

static void gate_enter(struct block_backend *bb, struct block_request *req)
{
    req->gated = true;
    if (req->exclusive) {
        bb->gate_exclusive = true;
    } else {
        bb->gate_shared++;
    }
    request_run_async(req);
}

static void gate_enter_or_wait(struct block_backend *bb, struct block_request *req)
{
    req->exclusive = req->op == BLOCK_OP_DISCARD || req->op == BLOCK_OP_WRITE_ZEROES ||
                     (req->op == BLOCK_OP_WRITE && !runs_in_ring(req));
    if (g_queue_is_empty(&bb->gate_waiting) && gate_admits(bb, req)) {
        gate_enter(bb, req);
    } else {
        g_queue_push_tail(&bb->gate_waiting, req);
    }
}

/* req finished (its callback runs next): the requests it held back may start. */
static void gate_leave(struct block_backend *bb, struct block_request *req)
{
    struct block_request *next;

    req->gated = false;
    if (req->exclusive) {
        bb->gate_exclusive = false;
    } else {
        bb->gate_shared--;
    }
    while ((next = g_queue_peek_head(&bb->gate_waiting)) != NULL && gate_admits(bb, next)) {
        g_queue_pop_head(&bb->gate_waiting);
        gate_enter(bb, next);
    }
}

/* check: 0 to run the request, or the -errno it completes with without touching the image. */
static void request_submit(struct block_request *req, int check)
{
    struct block_backend *bb = req->bb;

    bb->in_flight++;
    TRACE(block_request, "file=%s op=%s offset=%" PRIu64 " len=%" PRIu64 " check=%d",
          bb->filename, block_op_names[req->op], req->offset, req->len, check);
    if (check != 0) {
        req->ret = check;
        request_finish(req);
    } else if (bb->uring != NULL && bb->direct) {
        gate_enter_or_wait(bb, req);
    } else {
        request_run_async(req);
    }
}

static int check_range(const struct block_backend *bb, uint64_t offset, uint64_t len)
{
    if (offset + len < offset || offset + len > bb->size) {
        return -EIO;
    }
    return 0;
}

static int check_write(const struct block_backend *bb, uint64_t offset, uint64_t len)
{
    return bb->read_only ? -EROFS : check_range(bb, offset, len);
}

/* Copies the vector and sums its length; the -errno of a malformed one. */
static int take_vector(struct block_request *req, const struct iovec *iov, int iovcnt)
{
    if (iov == NULL || iovcnt <= 0 || iovcnt > IOV_MAX) {
        return -EINVAL;
    }
    uint64_t len = 0;
    for (int i = 0; i < iovcnt; i++) {
        if (len + iov[i].iov_len < len) {
            return -EIO;
        }
        len += iov[i].iov_len;
    }
    if (iovcnt <= BLOCK_INLINE_IOVS) {
        req->iov = req->iov_inline;
    } else {
        req->iov = req->iov_alloc = g_new(struct iovec, (size_t)iovcnt);
    }
    memcpy(req->iov, iov, sizeof(*iov) * (size_t)iovcnt);
    req->iovcnt = iovcnt;
    req->len = len;
    return 0;
}

void block_readv(struct block_backend *bb, uint64_t offset, const struct iovec *iov, int iovcnt,
                 block_complete_fn cb, void *opaque)
{
    struct block_request *req = request_new(bb, BLOCK_OP_READ, offset, 0, cb, opaque);
    int check = take_vector(req, iov, iovcnt);
    if (check == 0) {
        check = check_range(bb, offset, req->len);
    }
    request_submit(req, check);
}

void block_writev(struct block_backend *bb, uint64_t offset, const struct iovec *iov, int iovcnt,
                  block_complete_fn cb, void *opaque)
{
    struct block_request *req = request_new(bb, BLOCK_OP_WRITE, offset, 0, cb, opaque);
    int check = take_vector(req, iov, iovcnt);
    if (check == 0) {
        check = check_write(bb, offset, req->len);
    }
    request_submit(req, check);
}

void block_flush(struct block_backend *bb, block_complete_fn cb, void *opaque)
{
    /* A flush of a read-only medium has nothing to do but is no error (QEMU: success). */
    struct block_request *req = request_new(bb, BLOCK_OP_FLUSH, 0, 0, cb, opaque);
    request_submit(req, 0);
}

void block_discard(struct block_backend *bb, uint64_t offset, uint64_t len, block_complete_fn cb,
                   void *opaque)
{
    struct block_request *req = request_new(bb, BLOCK_OP_DISCARD, offset, len, cb, opaque);
    request_submit(req, check_write(bb, offset, len));
}

void block_write_zeroes(struct block_backend *bb, uint64_t offset, uint64_t len,
                        block_complete_fn cb, void *opaque)
{
    struct block_request *req = request_new(bb, BLOCK_OP_WRITE_ZEROES, offset, len, cb, opaque);
    request_submit(req, check_write(bb, offset, len));
}

int block_pread(struct block_backend *bb, void *buf, size_t len, uint64_t offset)
{
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    int ret = check_range(bb, offset, len);
    if (ret == 0) {
        ret = do_read(bb, &iov, 1, offset, len);
    }
    return ret;
}

/* ---- open and close ---- */

bool block_cache_mode_parse(const char *text, enum block_cache_mode *mode)
{
    static const char *const names[] = {
        [BLOCK_CACHE_WRITEBACK] = "writeback",   [BLOCK_CACHE_WRITETHROUGH] = "writethrough",
        [BLOCK_CACHE_NONE] = "none",             [BLOCK_CACHE_DIRECTSYNC] = "directsync",
        [BLOCK_CACHE_UNSAFE] = "unsafe",
    };
    for (size_t i = 0; text != NULL && i < ARRAY_SIZE(names); i++) {
        if (strcmp(text, names[i]) == 0) {
            *mode = (enum block_cache_mode)i;
            return true;
        }
    }
    return false;
}

bool block_aio_mode_parse(const char *text, enum block_aio_mode *mode)
{
    static const char *const names[] = {
        [BLOCK_AIO_THREADS] = "threads",
        [BLOCK_AIO_IO_URING] = "io_uring",
        [BLOCK_AIO_NATIVE] = "native",
    };
    for (size_t i = 0; text != NULL && i < ARRAY_SIZE(names); i++) {
        if (strcmp(text, names[i]) == 0) {
            *mode = (enum block_aio_mode)i;
            return true;
        }
    }
    return false;
}

enum block_aio_mode block_aio_engine(const struct block_backend *bb)
{
    return bb->uring != NULL ? BLOCK_AIO_IO_URING : BLOCK_AIO_THREADS;
}

bool block_io_uring_fail_setup(int err)
{
    bool warned = uring_warned;

    block_uring_injected_setup_error = err;
    uring_warned = false;
    return warned;
}

static bool cache_is_direct(enum block_cache_mode cache)
{
    return cache == BLOCK_CACHE_NONE || cache == BLOCK_CACHE_DIRECTSYNC;
}

static bool cache_is_sync(enum block_cache_mode cache)
{
    return cache == BLOCK_CACHE_WRITETHROUGH || cache == BLOCK_CACHE_DIRECTSYNC;
}

/*
 * The O_DIRECT alignment: the logical block size, found by reading the first 512 bytes (a
 * 4Kn device or file system refuses that with EINVAL). The buffer is aligned to the largest
 * candidate so that only the offset and length are under test.
 */
static size_t probe_direct_alignment(int fd)
{
    void *buf = aligned_buffer(BLOCK_MAX_ALIGN, BLOCK_MAX_ALIGN);
    size_t align = BLOCK_MAX_ALIGN;
    ssize_t n;

    if (buf == NULL) {
        return align;
    }
    do {
        n = pread(fd, buf, 512, 0);
    } while (n < 0 && errno == EINTR);
    if (n >= 0) {
        align = 512;
    }
    free(buf);
    return align;
}

static const char *open_name(const struct block_open_options *options, char *fdname,
                             size_t fdname_len)
{
    if (options->filename != NULL) {
        return options->filename;
    }
    snprintf(fdname, fdname_len, "fd %d", options->fd);
    return fdname;
}

static int open_file(const struct block_open_options *options, const char *name, GError **err)
{
    int flags = (options->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
    if (cache_is_direct(options->cache)) {
        flags |= O_DIRECT;
    }
    if (cache_is_sync(options->cache)) {
        flags |= O_DSYNC;
    }
    int fd = open(options->filename, flags);
    if (fd >= 0) {
        return fd;
    }
    int saved = errno;
    if (saved == EINVAL && (flags & O_DIRECT)) {
        g_set_error(err, BLOCK_ERROR, 0,
                    "Could not open '%s': its file system does not support O_DIRECT "
                    "(cache=none or directsync)", name);
    } else if (!options->read_only && (saved == EROFS || saved == EACCES || saved == EPERM)) {
        g_set_error(err, BLOCK_ERROR, 0, "Could not open '%s' read-write: %s", name,
                    g_strerror(saved));
    } else if (saved == EISDIR) {
        g_set_error(err, BLOCK_ERROR, 0, "Could not open '%s': it is a directory", name);
    } else {
        g_set_error(err, BLOCK_ERROR, 0, "Could not open '%s': %s", name, g_strerror(saved));
    }
    return -1;
}

/* A passed descriptor: its access mode must allow what is asked; O_DIRECT can be added. */
static bool adopt_fd(struct block_backend *bb, const struct block_open_options *options,
                     const char *name, GError **err)
{
    int fl = fcntl(bb->fd, F_GETFL);
    if (fl < 0) {
        g_set_error(err, BLOCK_ERROR, 0, "Could not use '%s': %s", name, g_strerror(errno));
        return false;
    }
    if (!options->read_only && (fl & O_ACCMODE) == O_RDONLY) {
        g_set_error(err, BLOCK_ERROR, 0, "Could not open '%s' read-write: it was opened read-only",
                    name);
        return false;
    }
    if (!options->read_only && (fl & O_ACCMODE) == O_WRONLY) {
        g_set_error(err, BLOCK_ERROR, 0, "Could not use '%s': it was opened write-only", name);
        return false;
    }
    if (bb->direct && !(fl & O_DIRECT) && fcntl(bb->fd, F_SETFL, fl | O_DIRECT) < 0) {
        g_set_error(err, BLOCK_ERROR, 0, "Could not use '%s' with O_DIRECT: %s", name,
                    g_strerror(errno));
        return false;
    }
    /* O_DSYNC cannot be added with F_SETFL: sync after each write instead. */
    bb->sync_each_write = cache_is_sync(options->cache) && !(fl & O_DSYNC);
    if (fcntl(bb->fd, F_SETFD, FD_CLOEXEC) < 0) {
        g_set_error(err, BLOCK_ERROR, 0, "Could not use '%s': %s", name, g_strerror(errno));
        return false;
    }
    return true;
}

static bool learn_size(struct block_backend *bb, const char *name, GError **err)
{
    struct stat st;
    if (fstat(bb->fd, &st) < 0) {
        g_set_error(err, BLOCK_ERROR, 0, "Could not open '%s': %s", name, g_strerror(errno));
        return false;
    }
    if (S_ISDIR(st.st_mode)) {
        g_set_error(err, BLOCK_ERROR, 0, "Could not open '%s': it is a directory", name);
        return false;
    }
    if (S_ISREG(st.st_mode)) {
        bb->is_regular = true;
        bb->size = (uint64_t)st.st_size;
        return true;
    }
    if (!S_ISBLK(st.st_mode)) {
        g_set_error(err, BLOCK_ERROR, 0,
                    "Could not open '%s': it is neither a regular file nor a block device", name);
        return false;
    }
    /* A block device's size, without BLKGETSIZE64 (see the top of the file). */
    off_t end = lseek(bb->fd, 0, SEEK_END);
    if (end < 0) {
        g_set_error(err, BLOCK_ERROR, 0, "Could not find the size of '%s': %s", name,
                    g_strerror(errno));
        return false;
    }
    bb->size = (uint64_t)end;
    return true;
}

static bool attach_completion_source(struct block_backend *bb, const char *name, GError **err)
{
    bb->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (bb->event_fd < 0) {
        g_set_error(err, BLOCK_ERROR, 0, "'%s': cannot create an eventfd: %s", name,
                    g_strerror(errno));
        return false;
    }
    bb->source = g_unix_fd_source_new(bb->event_fd, G_IO_IN);
    g_source_set_callback(bb->source, G_SOURCE_FUNC(completion_ready), bb, NULL);
    g_source_attach(bb->source, NULL);
    return true;
}

/*
 * GSource prepare() of an io_uring backend: runs once per event-loop turn before the loop
 * polls, and hands the kernel every SQE the turn's callbacks queued in one io_uring_enter.
 */
struct submit_source {
    GSource source;
    struct block_backend *bb;
};

static gboolean submit_prepare(GSource *source, gint *timeout)
{
    struct submit_source *ss = (struct submit_source *)source;

    /* A submission the kernel refused for now (EAGAIN) is retried in a millisecond. */
    *timeout = block_uring_submit(ss->bb->uring) ? -1 : 1;
    return FALSE;
}

static gboolean submit_dispatch(GSource *source, GSourceFunc callback, gpointer data)
{
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs submit_source_funcs = {
    .prepare = submit_prepare,
    .dispatch = submit_dispatch,
};

/*
 * aio=io_uring (or native): a ring for the backend, else the worker threads with one warning
 * a process (no io_uring in the kernel, kernel.io_uring_disabled, -sandbox in force, a build
 * without liburing).
 */
static void attach_uring(struct block_backend *bb, enum block_aio_mode aio)
{
    GError *err = NULL;

    if (aio == BLOCK_AIO_THREADS) {
        return;
    }
    bb->uring = block_uring_new(bb->event_fd, &err);
    if (bb->uring == NULL) {
        if (!uring_warned) {
            log_warn("block '%s': io_uring is not available (%s): aio=%s runs on worker threads",
                     bb->filename, err->message, aio == BLOCK_AIO_NATIVE ? "native" : "io_uring");
            uring_warned = true;
        }
        g_error_free(err);
        return;
    }
    bb->submit_source = g_source_new(&submit_source_funcs, sizeof(struct submit_source));
    ((struct submit_source *)bb->submit_source)->bb = bb;
    g_source_attach(bb->submit_source, NULL);
}

static void release_resources(struct block_backend *bb)
{
    if (bb->submit_source != NULL) {
        g_source_destroy(bb->submit_source);
        g_source_unref(bb->submit_source);
        bb->submit_source = NULL;
    }
    block_uring_free(bb->uring);
    bb->uring = NULL;
    if (bb->source != NULL) {
        g_source_destroy(bb->source);
        g_source_unref(bb->source);
        bb->source = NULL;
    }
    if (bb->event_fd >= 0) {
        close(bb->event_fd);
        bb->event_fd = -1;
    }
    if (bb->fd >= 0) {
        close(bb->fd);
        bb->fd = -1;
    }
}

/* On failure a passed fd is closed too: the backend owned it from the call on. */
struct block_backend *block_open(const struct block_open_options *options, GError **err)
{
    char fdname[32];
    const char *name = open_name(options, fdname, sizeof(fdname));
    struct block_backend *bb = g_new0(struct block_backend, 1);

    bb->filename = g_strdup(name);
    bb->read_only = options->read_only;
    bb->cache = options->cache;
    bb->direct = cache_is_direct(options->cache);
    bb->align = 1;
    bb->refs = 1;
    bb->event_fd = -1;
    g_rw_lock_init(&bb->rmw_lock);
    g_mutex_init(&bb->done_lock);
    g_cond_init(&bb->done_cond);
    g_queue_init(&bb->done);
    g_queue_init(&bb->ready);
    g_queue_init(&bb->gate_waiting);

    if (options->fd >= 0) {
        bb->fd = options->fd;
        if (!adopt_fd(bb, options, name, err)) {
            goto fail;
        }
    } else if (options->filename == NULL) {
        bb->fd = -1;
        g_set_error(err, BLOCK_ERROR, 0, "a block backend needs a file name or a descriptor");
        goto fail;
    } else {
        bb->fd = open_file(options, name, err);
        if (bb->fd < 0) {
            goto fail;
        }
    }
    if (!learn_size(bb, name, err)) {
        goto fail;
    }
    if (bb->direct) {
        bb->align = probe_direct_alignment(bb->fd);
    }
    if (!attach_completion_source(bb, name, err)) {
        goto fail;
    }
    attach_uring(bb, options->aio);
    return bb;

fail:
    release_resources(bb);
    block_unref(bb);
    return NULL;
}

void block_close(struct block_backend *bb)
{
    if (bb == NULL) {
        return;
    }
    block_drain(bb);
    release_resources(bb);
    block_unref(bb);
}

uint64_t block_size(const struct block_backend *bb)
{
    return bb->size;
}

bool block_is_read_only(const struct block_backend *bb)
{
    return bb->read_only;
}

const char *block_filename(const struct block_backend *bb)
{
    return bb->filename;
}

void block_get_stats(const struct block_backend *bb, struct block_stats *stats)
{
    *stats = bb->stats;
}
