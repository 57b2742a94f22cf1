/*
 * virtio-blk-pci: the block device (virtio 1.2 §5.2), device ID 2, on a -drive.
 *
 *   -drive if=none,id=ID,file=IMAGE,format=raw[,cache=...][,readonly=on][,discard=unmap]
 *   -device virtio-blk-pci,drive=ID[,serial=S][,num-queues=N][,addr=][,disable-legacy=on]
 *
 * A request (§5.2.6) is a 16-byte header (type, reserved, sector) in the device-readable
 * buffers, data, and a status byte: the last device-writable byte. With VERSION_1 the
 * driver may frame these however it likes (§2.7.4), so the device finds them by byte offset
 * in the chain, never by descriptor. A chain without a header or a status byte cannot be
 * answered at all: the device breaks (§2.1.2). Anything else that is wrong (a range past the
 * capacity, a length not a multiple of 512, sizes that do not fit the type, a write to a
 * read-only disk) completes with IOERR, and a type the device does not know with UNSUPP,
 * without touching the image.
 *
 * Reads and writes go to the block layer with the request's own iovecs (guest memory the
 * core locked at pop time), many at once, and complete in whatever order the worker threads
 * finish them. A FLUSH waits until every write, discard and write-zeroes accepted before it
 * has completed, then asks the block layer for its flush (fdatasync): when FLUSH completes,
 * what the guest wrote before it is on disk. With the write cache off (CONFIG_WCE, or a
 * driver that cannot flush), each write is followed by a flush before it completes, unless
 * the backend's cache mode already makes every write durable.
 *
 * What the device keeps locked is bounded: a queue pops at most BLK_QUEUE_REQUESTS_MAX
 * requests at a time, and the device as a whole stops popping while BLK_BUFFERS_MAX buffers
 * are in flight (each buffer is one mapcache lock, and one that crosses a mapcache bucket is
 * a mapping of its own). A queue that stopped is served again as requests complete.
 *
 * Completions are pushed as the block layer hands them back, and the driver is interrupted
 * once for all of them (§2.7.7: one used buffer notification may cover many): the decision
 * waits for notify_timer, which runs after every completion the event loop took in that turn.
 * At a queue depth of 32 that is one MSI where there were up to 32, without EVENT_IDX too.
 *
 * Reset (status 0, PCI or machine reset) and saved state drain the backend first: no request
 * of the old life is left writing guest memory, and the saved state has none in flight.
 */
#include <errno.h>
#include <glib.h>
#include <inttypes.h>
#include <string.h>
#include <sys/uio.h>

#include "xendm/block.h"
#include "xendm/common.h"
#include "xendm/keyval.h"
#include "xendm/log.h"
#include "xendm/machine.h"
#include "xendm/trace.h"
#include "xendm/virtio.h"
#include "xendm/vmstate.h"

#define BLK_ERROR (g_quark_from_static_string("xendm-virtio-blk"))

/* §5.2.3 feature bits */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_CONFIG_WCE 11
#define VIRTIO_BLK_F_MQ 12
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* §5.2.6 request types and status values */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2
/* Not a status: the request went to the block layer and completes later. */
#define BLK_STATUS_ASYNC (-1)

/* §5.2.6: the discard / write-zeroes segment and its flags */
#define BLK_SEGMENT_BYTES 16u
#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 1u

#define BLK_HEADER_BYTES 16u
#define BLK_SECTOR_SHIFT 9 /* §5.2.6: sectors are 512 bytes whatever blk_size says */
#define BLK_SECTOR_SIZE (1u << BLK_SECTOR_SHIFT)
#define BLK_ID_BYTES 20u   /* §5.2.6: GET_ID's answer */

/* §5.2.4 device configuration layout (byte offsets) */
#define CFG_CAPACITY 0
#define CFG_SIZE_MAX 8
#define CFG_SEG_MAX 12
#define CFG_BLK_SIZE 20
#define CFG_WRITEBACK 32
#define CFG_NUM_QUEUES 34
#define CFG_MAX_DISCARD_SECTORS 36
#define CFG_MAX_DISCARD_SEG 40
#define CFG_DISCARD_ALIGNMENT 44
#define CFG_MAX_WZ_SECTORS 48
#define CFG_MAX_WZ_SEG 52
#define CFG_WZ_MAY_UNMAP 56
#define BLK_CONFIG_LEN 60 /* through unused1; secure erase is not offered */

#define BLK_QUEUE_SIZE 256
/* The header and the status byte take two descriptors of a chain; data gets the rest. */
#define BLK_SEG_MAX (BLK_QUEUE_SIZE - 2)
/* A segment no larger than a mapcache bucket crosses at most one bucket boundary. */
#define BLK_SIZE_MAX (1u << 20)
/* One discard or write-zeroes range per request (as qemu-xen): 2 GiB at most. */
#define BLK_DISCARD_SECTORS_MAX (1u << 22)
#define BLK_DISCARD_SEG_MAX 1u
#define BLK_NUM_QUEUES_MAX 16u

/*
 * The in-flight bounds (see the top of the file). Worst case: 4096 + 255 buffers locked,
 * each at most one mapping of its own - well inside the kernel's 65530 mappings a process.
 */
#define BLK_QUEUE_REQUESTS_MAX 128u
#define BLK_BUFFERS_MAX 4096u

struct virtio_blk;

struct blk_request {
    struct virtio_blk *blk;
    struct virtq_request *vq_req;
    unsigned queue;
    unsigned buffers;      /* locked buffers it holds, for the device's budget */
    uint32_t type;
    uint64_t write_seq;    /* a write (OUT, DISCARD, WRITE_ZEROES): its number; else 0 */
    bool flush_after;      /* write cache off: flush before completing */
    /* A FLUSH waiting for writes: those numbered up to after_seq, `waiting` of them left. */
    uint64_t after_seq;
    unsigned waiting;
    int iovcnt;
    struct iovec iov[]; /* the data, at most VIRTQ_MAX_SIZE entries */
};

struct virtio_blk {
    struct machine *machine;
    struct virtio_pci *vp;
    struct virtio_device_info info; /* per device: RO and MQ depend on the drive and options */
    struct drive *drive;
    char serial[BLK_ID_BYTES];      /* zero-padded, not NUL-terminated when 20 long */
    uint64_t capacity;              /* in 512-byte sectors */
    bool read_only;
    bool writes_durable;            /* the cache mode makes each write durable by itself */
    bool writeback_default;
    bool writeback;                 /* §5.2.4 writeback: the write cache the driver sees */
    unsigned num_queues;
    unsigned queue_requests[BLK_NUM_QUEUES_MAX]; /* popped and not completed, per queue */
    unsigned buffers_in_flight;
    bool throttled;                 /* a queue stopped popping for the device-wide budget */
    uint64_t write_seq;             /* the number of the last write accepted */
    unsigned writes_in_flight;
    GQueue waiting_flushes;         /* struct blk_request *, FLUSHes waiting for writes */
    bool quiescing;                 /* draining for saved state: pop nothing new */
    struct timer *resume_timer;     /* serves the queues once the machine runs again */
    struct timer *notify_timer;     /* the notification decision for completions */
    bool notify_pending[BLK_NUM_QUEUES_MAX]; /* pushed by a completion, not yet decided */
    struct virtio_saved saved;      /* filled only around save and load */
};

static struct virtio_device *blk_vdev(struct virtio_blk *blk)
{
    return virtio_pci_device(blk->vp);
}

static struct block_backend *blk_backend(struct virtio_blk *blk)
{
    return blk->drive->backend;
}

static void put_le16(uint8_t *p, uint16_t v)
{
    v = GUINT16_TO_LE(v);
    memcpy(p, &v, sizeof(v));
}

static void put_le32(uint8_t *p, uint32_t v)
{
    v = GUINT32_TO_LE(v);
    memcpy(p, &v, sizeof(v));
}

static void put_le64(uint8_t *p, uint64_t v)
{
    v = GUINT64_TO_LE(v);
    memcpy(p, &v, sizeof(v));
}

/* ---- device configuration (§5.2.4) ---- */

static void blk_fill_config(struct virtio_blk *blk)
{
    uint8_t *c = blk_vdev(blk)->config;

    memset(c, 0, BLK_CONFIG_LEN);
    put_le64(c + CFG_CAPACITY, blk->capacity);
    put_le32(c + CFG_SIZE_MAX, BLK_SIZE_MAX);
    put_le32(c + CFG_SEG_MAX, BLK_SEG_MAX);
    put_le32(c + CFG_BLK_SIZE, BLK_SECTOR_SIZE);
    c[CFG_WRITEBACK] = blk->writeback;
    put_le16(c + CFG_NUM_QUEUES, (uint16_t)blk->num_queues);
    if (!blk->read_only) {
        put_le32(c + CFG_MAX_DISCARD_SECTORS, BLK_DISCARD_SECTORS_MAX);
        put_le32(c + CFG_MAX_DISCARD_SEG, BLK_DISCARD_SEG_MAX);
        put_le32(c + CFG_DISCARD_ALIGNMENT, 1);
        put_le32(c + CFG_MAX_WZ_SECTORS, BLK_DISCARD_SECTORS_MAX);
        put_le32(c + CFG_MAX_WZ_SEG, BLK_DISCARD_SEG_MAX);
        c[CFG_WZ_MAY_UNMAP] = blk->drive->discard_unmap;
    }
}

/*
 * The core stored the driver's bytes. Only writeback is writable (§5.2.4, CONFIG_WCE);
 * everything else is put back as the device has it.
 */
static void blk_config_write(void *opaque, uint32_t offset, uint32_t len)
{
    struct virtio_blk *blk = opaque;
    struct virtio_device *vdev = blk_vdev(blk);

    if (offset == CFG_WRITEBACK && len == 1 &&
        (vdev->host_features & VIRTIO_BIT(VIRTIO_BLK_F_CONFIG_WCE))) {
        blk->writeback = vdev->config[CFG_WRITEBACK] != 0;
        TRACE(virtio_blk_writeback, "writeback=%d", blk->writeback);
    } else {
        log_guest_error("virtio-blk: write of %u bytes to read-only configuration at %u",
                        len, offset);
    }
    blk_fill_config(blk);
}

/* ---- completing requests ---- */

static bool request_is_stale(const struct virtq_request *req)
{
    return req->epoch != req->vq->epoch;
}

static void write_finished(struct virtio_blk *blk, uint64_t seq);

/* Writes the status byte, pushes the request and releases what it held. */
static void blk_request_done(struct blk_request *r, uint8_t status)
{
    struct virtio_blk *blk = r->blk;
    struct virtq_request *req = r->vq_req;

    TRACE(virtio_blk_done, "queue=%u head=%u type=%u status=%u", r->queue, req->head, r->type,
          status);
    /* A request of a queue since reset: its buffers may be the driver's again. */
    if (!request_is_stale(req)) {
        virtq_request_write(req, req->in_len - 1, &status, 1);
    }
    /* The status byte is the last writable byte: report the whole writable part. */
    virtqueue_push(req, (uint32_t)XENDM_MIN(req->in_len, (uint64_t)UINT32_MAX));
    blk->queue_requests[r->queue]--;
    blk->buffers_in_flight -= r->buffers;
    if (r->write_seq != 0) {
        write_finished(blk, r->write_seq);
    }
    g_free(r);
}

static void blk_process_queue(struct virtio_blk *blk, struct virtqueue *vq);

static void blk_process_all(struct virtio_blk *blk)
{
    struct virtio_device *vdev = blk_vdev(blk);

    for (unsigned i = 0; i < blk->num_queues; i++) {
        blk_process_queue(blk, &vdev->vq[i]);
    }
}

/* The notification decision for every queue that completions pushed to (§2.7.7). */
static void blk_notify_pending(struct virtio_blk *blk)
{
    struct virtio_device *vdev = blk_vdev(blk);

    for (unsigned i = 0; i < blk->num_queues; i++) {
        if (blk->notify_pending[i]) {
            blk->notify_pending[i] = false;
            virtqueue_notify_if_needed(&vdev->vq[i]);
        }
    }
}

static void blk_notify_timer(void *opaque)
{
    blk_notify_pending(opaque);
}

/* A request finished: serve what waited for room; tell the driver after the batch. */
static void blk_after_completion(struct virtio_blk *blk, struct virtqueue *vq)
{
    blk->notify_pending[virtqueue_index(vq)] = true;
    if (!timer_pending(blk->notify_timer)) {
        timer_arm_ns(blk->notify_timer, 0);
    }
    if (blk->throttled) {
        blk->throttled = false;
        blk_process_all(blk);
    } else {
        blk_process_queue(blk, vq);
    }
}

static void blk_io_complete(void *opaque, int ret)
{
    struct blk_request *r = opaque;
    struct virtio_blk *blk = r->blk;
    struct virtqueue *vq = r->vq_req->vq;

    if (ret == 0 && r->flush_after) {
        r->flush_after = false;
        block_flush(blk_backend(blk), blk_io_complete, r);
        return;
    }
    if (ret < 0) {
        log_guest_event("virtio-blk '%s': request type %u failed: %s", blk->drive->id, r->type,
                        strerror(-ret));
    }
    blk_request_done(r, ret == 0 ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR);
    blk_after_completion(blk, vq);
}

/* ---- FLUSH ordering ---- */

/* A write completed: FLUSHes that waited for it may go to the block layer. */
static void write_finished(struct virtio_blk *blk, uint64_t seq)
{
    GList *l = blk->waiting_flushes.head;

    blk->writes_in_flight--;
    while (l != NULL) {
        GList *next = l->next;
        struct blk_request *f = l->data;

        if (seq <= f->after_seq && --f->waiting == 0) {
            g_queue_delete_link(&blk->waiting_flushes, l);
            block_flush(blk_backend(blk), blk_io_complete, f);
        }
        l = next;
    }
}

/* §5.2.6.1: a FLUSH covers every write completed before it; wait for those in flight. */
static int blk_start_flush(struct virtio_blk *blk, struct blk_request *r)
{
    if (blk->writes_in_flight == 0) {
        block_flush(blk_backend(blk), blk_io_complete, r);
        return BLK_STATUS_ASYNC;
    }
    r->after_seq = blk->write_seq;
    r->waiting = blk->writes_in_flight;
    g_queue_push_tail(&blk->waiting_flushes, r);
    return BLK_STATUS_ASYNC;
}

/* ---- starting requests ---- */

/* The iovecs covering [skip, skip + len) of bufs; returns how many. */
static int slice_iov(const struct virtq_iovec *bufs, unsigned n, uint64_t skip, uint64_t len,
                     struct iovec *out)
{
    int count = 0;

    for (unsigned i = 0; i < n && len > 0; i++) {
        uint64_t take;

        if (skip >= bufs[i].len) {
            skip -= bufs[i].len;
            continue;
        }
        take = XENDM_MIN((uint64_t)bufs[i].len - skip, len);
        out[count++] = (struct iovec){.iov_base = (uint8_t *)bufs[i].base + skip,
                                      .iov_len = (size_t)take};
        len -= take;
        skip = 0;
    }
    return count;
}

/* Sectors [sector, sector + bytes / 512) lie on the disk. */
static bool range_ok(const struct virtio_blk *blk, uint64_t sector, uint64_t bytes)
{
    uint64_t sectors = bytes >> BLK_SECTOR_SHIFT;

    return sector <= blk->capacity && sectors <= blk->capacity - sector;
}

static void blk_note_write(struct virtio_blk *blk, struct blk_request *r)
{
    r->write_seq = ++blk->write_seq;
    blk->writes_in_flight++;
}

/* The driver cannot rely on a write cache: make each write durable before it completes. */
static bool writes_need_flush(struct virtio_blk *blk)
{
    return !blk->writes_durable &&
           (!blk->writeback || !virtio_has_feature(blk_vdev(blk), VIRTIO_BLK_F_FLUSH));
}

static int blk_start_rw(struct virtio_blk *blk, struct blk_request *r, uint64_t sector)
{
    struct virtq_request *req = r->vq_req;
    bool is_write = r->type == VIRTIO_BLK_T_OUT;
    uint64_t len;

    /* Sizes exact: a read has only the header to read, a write only the status to write. */
    if (is_write ? req->in_len != 1 : req->out_len != BLK_HEADER_BYTES) {
        log_guest_error("virtio-blk: %s with %" PRIu64 " readable and %" PRIu64
                        " writable bytes", is_write ? "write" : "read", req->out_len,
                        req->in_len);
        return VIRTIO_BLK_S_IOERR;
    }
    len = is_write ? req->out_len - BLK_HEADER_BYTES : req->in_len - 1;
    if (len % BLK_SECTOR_SIZE != 0 || !range_ok(blk, sector, len)) {
        log_guest_error("virtio-blk: %s of %" PRIu64 " bytes at sector %" PRIu64
                        " (capacity %" PRIu64 ")", is_write ? "write" : "read", len, sector,
                        blk->capacity);
        return VIRTIO_BLK_S_IOERR;
    }
    if (is_write && blk->read_only) {
        log_guest_error("virtio-blk: write to a read-only disk");
        return VIRTIO_BLK_S_IOERR;
    }
    if (len == 0) {
        return VIRTIO_BLK_S_OK;
    }
    if (is_write) {
        r->iovcnt = slice_iov(req->out, req->out_num, BLK_HEADER_BYTES, len, r->iov);
        r->flush_after = writes_need_flush(blk);
        blk_note_write(blk, r);
        block_writev(blk_backend(blk), sector << BLK_SECTOR_SHIFT, r->iov, r->iovcnt,
                     blk_io_complete, r);
    } else {
        r->iovcnt = slice_iov(req->in, req->in_num, 0, len, r->iov);
        block_readv(blk_backend(blk), sector << BLK_SECTOR_SHIFT, r->iov, r->iovcnt,
                    blk_io_complete, r);
    }
    return BLK_STATUS_ASYNC;
}

static int blk_get_id(struct virtio_blk *blk, struct blk_request *r)
{
    struct virtq_request *req = r->vq_req;
    uint64_t len = req->in_len - 1;

    if (req->out_len != BLK_HEADER_BYTES || len > BLK_ID_BYTES) {
        log_guest_error("virtio-blk: GET_ID with a %" PRIu64 "-byte buffer", len);
        return VIRTIO_BLK_S_IOERR;
    }
    virtq_request_write(req, 0, blk->serial, (size_t)len);
    return VIRTIO_BLK_S_OK;
}

/* §5.2.6: one segment {le64 sector, le32 num_sectors, le32 flags} of DISCARD/WRITE_ZEROES. */
static int blk_start_discard(struct virtio_blk *blk, struct blk_request *r)
{
    struct virtq_request *req = r->vq_req;
    bool zeroes = r->type == VIRTIO_BLK_T_WRITE_ZEROES;
    unsigned feature = zeroes ? VIRTIO_BLK_F_WRITE_ZEROES : VIRTIO_BLK_F_DISCARD;
    uint8_t seg[BLK_SEGMENT_BYTES];
    uint64_t sector, bytes;
    uint32_t num, flags;

    if (!virtio_has_feature(blk_vdev(blk), feature)) {
        return VIRTIO_BLK_S_UNSUPP;
    }
    if (req->in_len != 1 || req->out_len - BLK_HEADER_BYTES != BLK_SEGMENT_BYTES) {
        /* No segment, or more than max_*_seg of them. */
        log_guest_error("virtio-blk: discard/write-zeroes with %" PRIu64 " bytes of segments",
                        req->out_len - BLK_HEADER_BYTES);
        return req->in_len != 1 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_UNSUPP;
    }
    virtq_request_read(req, BLK_HEADER_BYTES, seg, sizeof(seg));
    memcpy(&sector, seg, 8);
    memcpy(&num, seg + 8, 4);
    memcpy(&flags, seg + 12, 4);
    sector = GUINT64_FROM_LE(sector);
    num = GUINT32_FROM_LE(num);
    flags = GUINT32_FROM_LE(flags);
    /* §5.2.6.2: unknown flags, or unmap on a discard, are UNSUPP. */
    if ((flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) != 0 || (!zeroes && flags != 0)) {
        return VIRTIO_BLK_S_UNSUPP;
    }
    bytes = (uint64_t)num << BLK_SECTOR_SHIFT;
    if (num > BLK_DISCARD_SECTORS_MAX || !range_ok(blk, sector, bytes) || blk->read_only) {
        log_guest_error("virtio-blk: discard/write-zeroes of %u sectors at %" PRIu64, num,
                        sector);
        return VIRTIO_BLK_S_IOERR;
    }
    /* discard=ignore (the default): a discard is a hint the device may drop (§5.2.6.2). */
    if (num == 0 || (!zeroes && !blk->drive->discard_unmap)) {
        return VIRTIO_BLK_S_OK;
    }
    blk_note_write(blk, r);
    r->flush_after = writes_need_flush(blk);
    /* The block layer's discard reads back as zeroes: an unmapping write-zeroes may use it. */
    if (!zeroes || ((flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) && blk->drive->discard_unmap)) {
        block_discard(blk_backend(blk), sector << BLK_SECTOR_SHIFT, bytes, blk_io_complete, r);
    } else {
        block_write_zeroes(blk_backend(blk), sector << BLK_SECTOR_SHIFT, bytes, blk_io_complete,
                           r);
    }
    return BLK_STATUS_ASYNC;
}

static int blk_dispatch(struct virtio_blk *blk, struct blk_request *r, uint64_t sector)
{
    switch (r->type) {
    case VIRTIO_BLK_T_IN:
    case VIRTIO_BLK_T_OUT:
        return blk_start_rw(blk, r, sector);
    case VIRTIO_BLK_T_FLUSH:
        if (r->vq_req->out_len != BLK_HEADER_BYTES || r->vq_req->in_len != 1) {
            return VIRTIO_BLK_S_IOERR;
        }
        return blk_start_flush(blk, r);
    case VIRTIO_BLK_T_GET_ID:
        return blk_get_id(blk, r);
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES:
        return blk_start_discard(blk, r);
    default:
        log_guest_event("virtio-blk: request type %u is not supported", r->type);
        return VIRTIO_BLK_S_UNSUPP;
    }
}

static void blk_start_request(struct virtio_blk *blk, unsigned queue, struct virtq_request *req)
{
    struct blk_request *r;
    uint8_t hdr[BLK_HEADER_BYTES];
    uint32_t type;
    uint64_t sector;
    int status;

    if (req->out_len < BLK_HEADER_BYTES || req->in_len < 1) {
        /* Nowhere to read the request from or to write its status to (§5.2.6). */
        virtio_device_set_broken(blk_vdev(blk), "request without a 16-byte header or a "
                                                 "writable status byte");
        virtqueue_push(req, 0); /* broken: only releases it */
        return;
    }
    virtq_request_read(req, 0, hdr, sizeof(hdr));
    memcpy(&type, hdr, 4);
    memcpy(&sector, hdr + 8, 8);
    r = g_malloc0(sizeof(*r) + (req->out_num + req->in_num) * sizeof(struct iovec));
    r->blk = blk;
    r->vq_req = req;
    r->queue = queue;
    r->buffers = req->out_num + req->in_num;
    r->type = GUINT32_FROM_LE(type);
    blk->queue_requests[queue]++;
    blk->buffers_in_flight += r->buffers;
    TRACE(virtio_blk_request, "queue=%u head=%u type=%u sector=%" PRIu64 " out=%" PRIu64
          " in=%" PRIu64, queue, req->head, r->type, GUINT64_FROM_LE(sector), req->out_len,
          req->in_len);
    status = blk_dispatch(blk, r, GUINT64_FROM_LE(sector));
    if (status != BLK_STATUS_ASYNC) {
        blk_request_done(r, (uint8_t)status);
    }
}

/*
 * Pops and starts requests while the bounds allow; then notifies for what completed, unless
 * completions' notification is still to come (notify_timer).
 */
static void blk_process_queue(struct virtio_blk *blk, struct virtqueue *vq)
{
    unsigned queue = virtqueue_index(vq);

    while (!blk->quiescing && blk->queue_requests[queue] < BLK_QUEUE_REQUESTS_MAX) {
        struct virtq_request *req;

        if (blk->buffers_in_flight >= BLK_BUFFERS_MAX) {
            blk->throttled = true;
            break;
        }
        req = virtqueue_pop(vq);
        if (req == NULL) {
            break;
        }
        blk_start_request(blk, queue, req);
    }
    if (!blk->notify_pending[queue]) {
        virtqueue_notify_if_needed(vq);
    }
}

static void blk_queue_notify(void *opaque, struct virtqueue *vq)
{
    blk_process_queue(opaque, vq);
}

/* Requests left in the rings while the device could not pop (saved state, restore). */
static void blk_resume(void *opaque)
{
    blk_process_all(opaque);
}

/* Every request in flight completes (and is pushed, or released if stale) before this returns. */
static void blk_drain(struct virtio_blk *blk)
{
    while (block_in_flight(blk_backend(blk)) > 0) {
        block_drain(blk_backend(blk));
    }
}

static void blk_reset(void *opaque)
{
    struct virtio_blk *blk = opaque;

    blk->quiescing = true;
    blk_drain(blk);
    blk->quiescing = false;
    blk->throttled = false;
    /* What was pushed belongs to the old life: no notification for it. */
    memset(blk->notify_pending, 0, sizeof(blk->notify_pending));
    blk->writeback = blk->writeback_default;
    blk_fill_config(blk);
}

/* ---- the device type ---- */

static const struct drive_device_ops blk_drive_ops = {
    .eject_request = NULL, /* a fixed disk: QMP eject refuses */
};

static void virtio_blk_destroy(void *dev)
{
    struct virtio_blk *blk = dev;

    if (blk == NULL) {
        return;
    }
    if (blk->vp != NULL) {
        blk_drain(blk);
    }
    if (blk->resume_timer != NULL) {
        timer_free(blk->resume_timer);
    }
    if (blk->notify_timer != NULL) {
        timer_free(blk->notify_timer);
    }
    virtio_pci_destroy(blk->vp);
    if (blk->drive != NULL) {
        drive_detach(blk->drive);
    }
    g_free(blk);
}

static bool blk_parse_props(struct virtio_blk *blk, struct machine *m, struct kv_list *props,
                            GError **err)
{
    const char *drive_id = kv_get(props, "drive");
    const char *serial = kv_get(props, "serial");
    uint64_t queues;

    if (!kv_get_u64(props, "num-queues", 1, false, &queues, err)) {
        return false;
    }
    if (queues < 1 || queues > BLK_NUM_QUEUES_MAX) {
        g_set_error(err, BLK_ERROR, 0, "num-queues=%" PRIu64 ": 1 to %u", queues,
                    BLK_NUM_QUEUES_MAX);
        return false;
    }
    blk->num_queues = (unsigned)queues;
    if (drive_id == NULL) {
        g_set_error(err, BLK_ERROR, 0, "drive= is required");
        return false;
    }
    blk->drive = machine_find_drive(m, drive_id);
    if (blk->drive == NULL) {
        g_set_error(err, BLK_ERROR, 0, "drive=%s: no such drive", drive_id);
        return false;
    }
    if (blk->drive->backend == NULL) {
        g_set_error(err, BLK_ERROR, 0, "drive=%s: a disk needs an image", drive_id);
        blk->drive = NULL;
        return false;
    }
    if (!drive_attach(blk->drive, &blk_drive_ops, blk, err)) {
        blk->drive = NULL;
        return false;
    }
    /* As QEMU: a longer serial is cut to the 20 bytes GET_ID answers with. */
    if (serial != NULL) {
        memcpy(blk->serial, serial, XENDM_MIN(strlen(serial), sizeof(blk->serial)));
    }
    return true;
}

static void blk_describe(struct virtio_blk *blk)
{
    struct block_backend *bb = blk_backend(blk);
    enum block_cache_mode cache = blk->drive->cache;

    blk->capacity = block_size(bb) >> BLK_SECTOR_SHIFT;
    blk->read_only = blk->drive->read_only || block_is_read_only(bb);
    blk->writes_durable = cache == BLOCK_CACHE_WRITETHROUGH || cache == BLOCK_CACHE_DIRECTSYNC;
    blk->writeback_default = !blk->writes_durable;
    blk->writeback = blk->writeback_default;
    blk->info = (struct virtio_device_info){
        .name = "virtio-blk-pci",
        .device_id = VIRTIO_ID_BLOCK,
        .pci_class = 0x010000, /* mass storage, SCSI: what every virtio-blk presents */
        .num_queues = blk->num_queues,
        .queue_max_size = BLK_QUEUE_SIZE,
        .features = VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) |
                    VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) |
                    VIRTIO_BIT(VIRTIO_BLK_F_CONFIG_WCE),
        .config_len = BLK_CONFIG_LEN,
        .queue_notify = blk_queue_notify,
        .reset = blk_reset,
        .config_write = blk_config_write,
    };
    if (blk->read_only) {
        blk->info.features |= VIRTIO_BIT(VIRTIO_BLK_F_RO);
    } else {
        blk->info.features |= VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) |
                              VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES);
    }
    if (blk->num_queues > 1) {
        blk->info.features |= VIRTIO_BIT(VIRTIO_BLK_F_MQ);
    }
}

static void *virtio_blk_create(struct machine *m, struct kv_list *props, GError **err)
{
    struct virtio_blk *blk = g_new0(struct virtio_blk, 1);

    blk->machine = m;
    g_queue_init(&blk->waiting_flushes);
    if (!blk_parse_props(blk, m, props, err)) {
        goto fail;
    }
    blk_describe(blk);
    blk->vp = virtio_pci_create(m, props, &blk->info, blk, err);
    if (blk->vp == NULL) {
        goto fail;
    }
    blk->resume_timer = timer_new(blk_resume, blk);
    blk->notify_timer = timer_new(blk_notify_timer, blk);
    blk_fill_config(blk);
    return blk;

fail:
    virtio_blk_destroy(blk);
    return NULL;
}

static void virtio_blk_reset(void *dev)
{
    struct virtio_blk *blk = dev;

    virtio_pci_reset(blk->vp);
}

/* Nothing in flight is saved: the requests complete first (their used entries are saved in
 * guest memory); what the device did not pop yet it pops once the machine runs again. */
static void virtio_blk_pre_save(void *dev)
{
    struct virtio_blk *blk = dev;

    blk->quiescing = true;
    blk_drain(blk);
    blk->quiescing = false;
    /* The machine is stopped, so notify_timer would wait: interrupt now, before the state
     * is saved, or a device model restored from it would never send that interrupt. */
    blk_notify_pending(blk);
    virtio_pci_pre_save(blk->vp, &blk->saved);
    timer_arm_ns(blk->resume_timer, 0);
}

static void virtio_blk_post_load(void *dev)
{
    struct virtio_blk *blk = dev;

    virtio_pci_post_load(blk->vp, &blk->saved);
    /* The configuration is the drive's; of the stream only the driver's writeback choice. */
    blk->writeback = blk_vdev(blk)->config[CFG_WRITEBACK] != 0;
    blk_fill_config(blk);
    timer_arm_ns(blk->resume_timer, 0);
}

static const struct vmstate_field virtio_blk_fields[] = {
    VIRTIO_SAVED_FIELDS(struct virtio_blk, saved),
    VMSTATE_END,
};

static const struct vmstate_desc virtio_blk_vmstate = {
    .name = "virtio-blk-pci",
    .version = 1,
    .fields = virtio_blk_fields,
    .pre_save = virtio_blk_pre_save,
    .post_load = virtio_blk_post_load,
};

static const struct device_type virtio_blk_type = {
    .name = "virtio-blk-pci",
    .description = "virtio block device (drive=ID, serial=, num-queues=N; virtio-pci, MSI-X, "
                   "transitional unless disable-legacy=on)",
    .user_creatable = true,
    .create = virtio_blk_create,
    .reset = virtio_blk_reset,
    .destroy = virtio_blk_destroy,
    .vmstate = &virtio_blk_vmstate,
};
DEVICE_TYPE_REGISTER(virtio_blk_type);
