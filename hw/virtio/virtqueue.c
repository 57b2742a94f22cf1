/*
 * The virtio core: device status, feature negotiation, split virtqueues (virtio 1.2 §2.7),
 * used buffer notifications with EVENT_IDX suppression, and saved state. No transport here:
 * interrupts go out through struct virtio_transport_ops (include/xendm/virtio.h).
 *
 * Everything a ring holds is read once from guest memory and checked before it is used; a
 * malformed ring breaks the device (§2.1.2) instead of xendm.
 */
#include <glib.h>
#include <inttypes.h>

#include "xendm/common.h"
#include "xendm/log.h"
#include "xendm/machine.h"
#include "xendm/mapcache.h"
#include "xendm/trace.h"
#include "xendm/virtio.h"

/* Byte offsets inside the rings (§2.7.6 available ring, §2.7.8 used ring). */
#define AVAIL_FLAGS 0
#define AVAIL_IDX 2
#define AVAIL_RING 4
#define USED_FLAGS 0
#define USED_IDX 2
#define USED_RING 4
#define DESC_SIZE 16u
#define USED_ELEM_SIZE 8u

/* Drivers MUST NOT add a chain longer than 2^32 bytes in total (§2.7.5.2). */
#define CHAIN_BYTES_MAX (UINT64_C(1) << 32)

static size_t desc_table_bytes(uint16_t num)
{
    return (size_t)num * DESC_SIZE;
}

/* flags, idx, ring[num], used_event */
static size_t avail_ring_bytes(uint16_t num)
{
    return AVAIL_RING + 2u * num + 2u;
}

/* flags, idx, ring[num], avail_event */
static size_t used_ring_bytes(uint16_t num)
{
    return USED_RING + (size_t)USED_ELEM_SIZE * num + 2u;
}

static bool is_power_of_two(unsigned v)
{
    return v && !(v & (v - 1));
}

bool virtio_has_feature(const struct virtio_device *vdev, unsigned bit)
{
    return (vdev->guest_features & VIRTIO_BIT(bit)) != 0;
}

unsigned virtqueue_index(const struct virtqueue *vq)
{
    return vq->index;
}

struct virtio_device *virtqueue_device(const struct virtqueue *vq)
{
    return vq->vdev;
}

bool virtqueue_ready(const struct virtqueue *vq)
{
    return vq->enabled && vq->desc_map != NULL;
}

unsigned virtqueue_in_flight(const struct virtqueue *vq)
{
    return vq->in_flight;
}

/* ---- ring access: the rings are locked host memory; the guest may change them any time ---- */

static uint16_t *ring_u16(uint8_t *ring, size_t offset)
{
    return (uint16_t *)(void *)(ring + offset);
}

static uint16_t avail_idx_load(const struct virtqueue *vq)
{
    return __atomic_load_n(ring_u16(vq->avail_map, AVAIL_IDX), __ATOMIC_ACQUIRE);
}

static uint16_t avail_flags_load(const struct virtqueue *vq)
{
    return __atomic_load_n(ring_u16(vq->avail_map, AVAIL_FLAGS), __ATOMIC_ACQUIRE);
}

static uint16_t avail_ring_load(const struct virtqueue *vq, uint16_t slot)
{
    return __atomic_load_n(ring_u16(vq->avail_map, AVAIL_RING + 2u * slot), __ATOMIC_RELAXED);
}

static uint16_t used_event_load(const struct virtqueue *vq)
{
    return __atomic_load_n(ring_u16(vq->avail_map, AVAIL_RING + 2u * vq->num),
                           __ATOMIC_ACQUIRE);
}

static void used_store_u16(struct virtqueue *vq, size_t offset, uint16_t v)
{
    __atomic_store_n(ring_u16(vq->used_map, offset), v, __ATOMIC_RELEASE);
    machine_mark_dirty(vq->vdev->machine, vq->used_gpa + offset, 2);
}

/* §2.7.10: with EVENT_IDX the device tells the driver which avail idx to kick at. */
static void avail_event_store(struct virtqueue *vq, uint16_t v)
{
    if (virtio_has_feature(vq->vdev, VIRTIO_F_EVENT_IDX)) {
        used_store_u16(vq, USED_RING + (size_t)USED_ELEM_SIZE * vq->num, v);
    }
}

/* ---- mapping the rings ---- */

void virtio_queue_unmap(struct virtqueue *vq)
{
    struct mapcache *mc = vq->vdev->machine->mapcache;

    if (vq->desc_map) {
        mapcache_unlock(mc, vq->desc_map);
    }
    if (vq->avail_map) {
        mapcache_unlock(mc, vq->avail_map);
    }
    if (vq->used_map) {
        mapcache_unlock(mc, vq->used_map);
    }
    vq->desc_map = vq->avail_map = vq->used_map = NULL;
}

/* §2.7 alignment table: descriptors 16, available ring 2, used ring 4. */
static bool queue_layout_ok(const struct virtqueue *vq)
{
    const struct virtio_device *vdev = vq->vdev;

    if (!is_power_of_two(vq->num) || vq->num > vdev->info->queue_max_size) {
        log_guest_error("%s: queue %u: size %u is not a power of two up to %u",
                        vdev->info->name, vq->index, vq->num, vdev->info->queue_max_size);
        return false;
    }
    if ((vq->desc_gpa & 15) || (vq->avail_gpa & 1) || (vq->used_gpa & 3)) {
        log_guest_error("%s: queue %u: misaligned rings desc=0x%" PRIx64 " avail=0x%" PRIx64
                        " used=0x%" PRIx64, vdev->info->name, vq->index, vq->desc_gpa,
                        vq->avail_gpa, vq->used_gpa);
        return false;
    }
    return true;
}

bool virtio_queue_map(struct virtqueue *vq)
{
    struct mapcache *mc = vq->vdev->machine->mapcache;

    virtio_queue_unmap(vq);
    if (!queue_layout_ok(vq)) {
        return false;
    }
    vq->desc_map = mapcache_lock(mc, vq->desc_gpa, desc_table_bytes(vq->num), false);
    vq->avail_map = mapcache_lock(mc, vq->avail_gpa, avail_ring_bytes(vq->num), false);
    vq->used_map = mapcache_lock(mc, vq->used_gpa, used_ring_bytes(vq->num), true);
    if (!vq->desc_map || !vq->avail_map || !vq->used_map) {
        log_guest_error("%s: queue %u: rings outside guest RAM (desc=0x%" PRIx64
                        " avail=0x%" PRIx64 " used=0x%" PRIx64 ")", vq->vdev->info->name,
                        vq->index, vq->desc_gpa, vq->avail_gpa, vq->used_gpa);
        virtio_queue_unmap(vq);
        return false;
    }
    vq->shadow_avail_idx = vq->last_avail_idx;
    vq->signalled_used_valid = false;
    vq->pushed_since_notify = false;
    return true;
}

/* ---- device status and errors ---- */

static void send_config_interrupt(struct virtio_device *vdev)
{
    vdev->transport->notify(vdev->transport_opaque, true, vdev->config_vector);
}

void virtio_device_set_broken(struct virtio_device *vdev, const char *why)
{
    log_guest_error("%s: %s: the device needs a reset", vdev->info->name, why);
    if (vdev->broken) {
        return;
    }
    g_strlcpy(vdev->broken_reason, why, sizeof(vdev->broken_reason));
    vdev->broken = true;
    vdev->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    /* §2.1.2: with DRIVER_OK set, the device MUST send a configuration change notification. */
    if (vdev->status & VIRTIO_STATUS_DRIVER_OK) {
        send_config_interrupt(vdev);
    }
}

void virtio_notify_config(struct virtio_device *vdev)
{
    vdev->config_generation++;
    if (vdev->status & VIRTIO_STATUS_DRIVER_OK) {
        send_config_interrupt(vdev);
    }
}

static void queue_reset(struct virtqueue *vq)
{
    virtio_queue_unmap(vq);
    vq->num = vq->vdev->info->queue_max_size;
    vq->vector = VIRTIO_MSI_NO_VECTOR;
    vq->enabled = false;
    vq->desc_gpa = vq->avail_gpa = vq->used_gpa = 0;
    vq->last_avail_idx = vq->shadow_avail_idx = vq->used_idx = 0;
    vq->signalled_used = 0;
    vq->signalled_used_valid = false;
    vq->pushed_since_notify = false;
    /* Requests still in flight carry the old epoch: their push only frees them. */
    vq->epoch++;
    vq->in_flight = 0;
    memset(vq->in_use, 0, sizeof(vq->in_use));
    memset(vq->resubmit, 0, sizeof(vq->resubmit));
}

void virtio_device_reset(struct virtio_device *vdev)
{
    for (unsigned i = 0; i < vdev->info->num_queues; i++) {
        queue_reset(&vdev->vq[i]);
    }
    vdev->status = 0;
    vdev->guest_features = 0;
    vdev->isr = 0;
    vdev->broken = false;
    vdev->broken_reason[0] = '\0';
    vdev->config_vector = VIRTIO_MSI_NO_VECTOR;
    if (vdev->info->reset) {
        vdev->info->reset(vdev->opaque);
    }
}

void virtio_device_init(struct virtio_device *vdev, struct machine *m,
                        const struct virtio_device_info *info, void *opaque,
                        const struct virtio_transport_ops *transport, void *transport_opaque)
{
    memset(vdev, 0, sizeof(*vdev));
    vdev->machine = m;
    vdev->info = info;
    vdev->opaque = opaque;
    vdev->transport = transport;
    vdev->transport_opaque = transport_opaque;
    /* What the core implements itself; ANY_LAYOUT is implied by VERSION_1 (§2.7.4). */
    vdev->host_features = info->features | VIRTIO_BIT(VIRTIO_F_VERSION_1) |
                          VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX) |
                          VIRTIO_BIT(VIRTIO_F_ANY_LAYOUT);
    for (unsigned i = 0; i < VIRTIO_QUEUES_MAX; i++) {
        vdev->vq[i].vdev = vdev;
        vdev->vq[i].index = i;
    }
    for (unsigned i = 0; i < info->num_queues; i++) {
        queue_reset(&vdev->vq[i]);
    }
    vdev->config_vector = VIRTIO_MSI_NO_VECTOR;
}

void virtio_device_cleanup(struct virtio_device *vdev)
{
    for (unsigned i = 0; i < vdev->info->num_queues; i++) {
        virtio_queue_unmap(&vdev->vq[i]);
    }
}

void virtio_set_guest_features(struct virtio_device *vdev, uint64_t features)
{
    if (vdev->status & VIRTIO_STATUS_FEATURES_OK) {
        log_guest_error("%s: driver features written after FEATURES_OK: ignored",
                        vdev->info->name);
        return;
    }
    if (features & ~vdev->host_features) {
        log_guest_error("%s: driver accepts features 0x%" PRIx64 " that were not offered",
                        vdev->info->name, features & ~vdev->host_features);
    }
    vdev->guest_features = features & vdev->host_features;
}

/*
 * §3.1.1 step 5-6: the device refuses FEATURES_OK (leaves the bit clear) when it cannot work
 * with the features accepted. Through the modern interface a driver MUST accept VERSION_1.
 */
static bool features_acceptable(const struct virtio_device *vdev, bool legacy)
{
    return legacy || virtio_has_feature(vdev, VIRTIO_F_VERSION_1);
}

void virtio_set_status(struct virtio_device *vdev, uint8_t status, bool legacy)
{
    uint8_t old = vdev->status;

    TRACE(virtio_set_status, "%s status=0x%x old=0x%x legacy=%d", vdev->info->name, status,
          old, legacy);
    if (status == 0) {
        virtio_device_reset(vdev);
        return;
    }
    if ((status & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK) &&
        !features_acceptable(vdev, legacy)) {
        log_guest_error("%s: FEATURES_OK without VERSION_1 through the modern interface",
                        vdev->info->name);
        status &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
    }
    /* NEEDS_RESET is the device's bit: it stays until a reset. */
    status &= (uint8_t)~VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    vdev->status = status | (vdev->broken ? VIRTIO_STATUS_DEVICE_NEEDS_RESET : 0);
    if ((status & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK) &&
        vdev->info->driver_ok) {
        vdev->info->driver_ok(vdev->opaque);
    }
}

void virtio_queue_kick(struct virtio_device *vdev, unsigned index)
{
    struct virtqueue *vq;

    if (index >= vdev->info->num_queues) {
        log_guest_error("%s: notification for queue %u (device has %u)", vdev->info->name,
                        index, vdev->info->num_queues);
        return;
    }
    vq = &vdev->vq[index];
    TRACE(virtio_queue_notify, "%s queue=%u ready=%d broken=%d", vdev->info->name, index,
          virtqueue_ready(vq), vdev->broken);
    if (!virtqueue_ready(vq) || vdev->broken || !(vdev->status & VIRTIO_STATUS_DRIVER_OK)) {
        return;
    }
    vdev->info->queue_notify(vdev->opaque, vq);
}

/* ---- popping a request: walking a descriptor chain ---- */

struct chain_walk {
    struct virtqueue *vq;
    struct virtq_iovec iov[VIRTQ_MAX_SIZE];
    unsigned n, out_num;
    uint64_t out_len, in_len;
    bool seen_writable;
    const char *error;
};

static void unlock_iovecs(struct mapcache *mc, struct virtq_iovec *iov, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        mapcache_unlock(mc, iov[i].base);
    }
}

/* One buffer descriptor (not indirect) of the chain. */
static bool walk_add_buffer(struct chain_walk *w, const struct virtq_desc *d)
{
    struct mapcache *mc = w->vq->vdev->machine->mapcache;
    bool writable = (d->flags & VIRTQ_DESC_F_WRITE) != 0;
    void *host;

    if (!writable && w->seen_writable) {
        w->error = "device-readable descriptor after a device-writable one";
        return false;
    }
    w->seen_writable |= writable;
    if (d->len == 0) {
        return true; /* nothing to read or write: it adds no buffer */
    }
    if (d->addr + d->len < d->addr) {
        w->error = "buffer wraps the address space";
        return false;
    }
    if (w->out_len + w->in_len + d->len > CHAIN_BYTES_MAX) {
        w->error = "chain longer than 4 GiB";
        return false;
    }
    if (w->n >= VIRTQ_MAX_SIZE) {
        w->error = "too many buffers in one chain";
        return false;
    }
    host = mapcache_lock(mc, d->addr, d->len, writable);
    if (!host) {
        w->error = "buffer outside guest RAM";
        return false;
    }
    w->iov[w->n++] = (struct virtq_iovec){.base = host, .len = d->len, .gpa = d->addr};
    if (writable) {
        w->in_len += d->len;
    } else {
        w->out_num++;
        w->out_len += d->len;
    }
    return true;
}

/* Walks `entries` descriptors of a table from index `first`; *indirect receives a table. */
static bool walk_table(struct chain_walk *w, const uint8_t *table, unsigned entries,
                       unsigned first, bool in_indirect, struct virtq_desc *indirect)
{
    unsigned idx = first;

    memset(indirect, 0, sizeof(*indirect));
    /* A chain visits each descriptor at most once: more steps than entries is a loop. */
    for (unsigned steps = 0;; steps++) {
        struct virtq_desc d;

        if (steps >= entries) {
            w->error = "descriptor chain longer than its table (a loop?)";
            return false;
        }
        memcpy(&d, table + (size_t)idx * DESC_SIZE, sizeof(d));
        if (d.flags & VIRTQ_DESC_F_INDIRECT) {
            if (in_indirect) {
                w->error = "indirect descriptor inside an indirect table";
                return false;
            }
            /* §2.7.5.3.1: INDIRECT with NEXT is forbidden; the table ends the chain. */
            if (d.flags & VIRTQ_DESC_F_NEXT) {
                w->error = "indirect descriptor with NEXT";
                return false;
            }
            *indirect = d;
            return true;
        }
        if (!walk_add_buffer(w, &d)) {
            return false;
        }
        if (!(d.flags & VIRTQ_DESC_F_NEXT)) {
            return true;
        }
        idx = d.next;
        if (idx >= entries) {
            w->error = "next index out of range";
            return false;
        }
    }
}

static bool walk_indirect(struct chain_walk *w, const struct virtq_desc *d)
{
    struct mapcache *mc = w->vq->vdev->machine->mapcache;
    struct virtq_desc nested;
    uint8_t *table;
    bool ok;

    if (!virtio_has_feature(w->vq->vdev, VIRTIO_F_INDIRECT_DESC)) {
        w->error = "indirect descriptor without VIRTIO_F_INDIRECT_DESC";
        return false;
    }
    if (d->len == 0 || d->len % DESC_SIZE || d->len / DESC_SIZE > VIRTQ_MAX_SIZE) {
        w->error = "indirect table of a bad length";
        return false;
    }
    /* No alignment is required of an indirect table: descriptors are copied out of it. */
    table = mapcache_lock(mc, d->addr, d->len, false);
    if (!table) {
        w->error = "indirect table outside guest RAM";
        return false;
    }
    ok = walk_table(w, table, d->len / DESC_SIZE, 0, true, &nested);
    mapcache_unlock(mc, table);
    return ok;
}

static struct virtq_request *request_from_walk(struct chain_walk *w, uint16_t head)
{
    struct virtq_request *req = g_malloc(sizeof(*req) + w->n * sizeof(struct virtq_iovec));

    req->vq = w->vq;
    req->head = head;
    req->epoch = w->vq->epoch;
    req->out_num = w->out_num;
    req->in_num = w->n - w->out_num;
    req->out_len = w->out_len;
    req->in_len = w->in_len;
    memcpy(req->iov, w->iov, w->n * sizeof(struct virtq_iovec));
    req->out = req->iov;
    req->in = req->iov + req->out_num;
    return req;
}

static bool in_use_get(const struct virtqueue *vq, uint16_t head)
{
    return (vq->in_use[head / 32] >> (head % 32)) & 1;
}

static void in_use_set(struct virtqueue *vq, uint16_t head, bool v)
{
    if (v) {
        vq->in_use[head / 32] |= 1u << (head % 32);
    } else {
        vq->in_use[head / 32] &= ~(1u << (head % 32));
    }
}

/* True when a new entry is available; reads avail->idx only when the shadow is used up. */
static bool avail_has_entry(struct virtqueue *vq)
{
    uint16_t pending;

    if (vq->shadow_avail_idx != vq->last_avail_idx) {
        return true;
    }
    vq->shadow_avail_idx = avail_idx_load(vq);
    pending = (uint16_t)(vq->shadow_avail_idx - vq->last_avail_idx);
    if (pending > vq->num) {
        char why[96];

        snprintf(why, sizeof(why), "queue %u: available index moved by %u (queue size %u)",
                 vq->index, pending, vq->num);
        vq->shadow_avail_idx = vq->last_avail_idx;
        virtio_device_set_broken(vq->vdev, why);
        return false;
    }
    if (pending) {
        return true;
    }
    /* Empty: ask for a kick at the next entry, then look again in case one just came. */
    avail_event_store(vq, vq->last_avail_idx);
    vq->shadow_avail_idx = avail_idx_load(vq);
    pending = (uint16_t)(vq->shadow_avail_idx - vq->last_avail_idx);
    if (pending > vq->num) {
        vq->shadow_avail_idx = vq->last_avail_idx;
        virtio_device_set_broken(vq->vdev, "available index moved by more than the queue size");
        return false;
    }
    return pending != 0;
}

static bool walk_chain(struct chain_walk *w, uint16_t head)
{
    struct virtqueue *vq = w->vq;
    struct virtq_desc indirect;

    if (!walk_table(w, vq->desc_map, vq->num, head, false, &indirect)) {
        return false;
    }
    if (indirect.len != 0 || (indirect.flags & VIRTQ_DESC_F_INDIRECT)) {
        return walk_indirect(w, &indirect);
    }
    return true;
}

/* The lowest head to serve again after a restore, or -1. */
static int resubmit_take(struct virtqueue *vq)
{
    for (unsigned i = 0; i < ARRAY_SIZE(vq->resubmit); i++) {
        if (vq->resubmit[i]) {
            unsigned bit = (unsigned)__builtin_ctz(vq->resubmit[i]);

            vq->resubmit[i] &= ~(1u << bit);
            return (int)(i * 32 + bit);
        }
    }
    return -1;
}

/* The head of the next request: one in flight at save time, else the next available. */
static bool next_head(struct virtqueue *vq, uint16_t *head, bool *from_avail)
{
    struct virtio_device *vdev = vq->vdev;
    int again = resubmit_take(vq);

    if (again >= 0) {
        *head = (uint16_t)again;
        *from_avail = false;
        return true;
    }
    if (!avail_has_entry(vq)) {
        return false;
    }
    *head = avail_ring_load(vq, (uint16_t)(vq->last_avail_idx & (vq->num - 1)));
    *from_avail = true;
    if (*head >= vq->num) {
        virtio_device_set_broken(vdev, "available ring names a head out of range");
        return false;
    }
    if (in_use_get(vq, *head)) {
        virtio_device_set_broken(vdev, "available ring offers a head already in flight");
        return false;
    }
    return true;
}

struct virtq_request *virtqueue_pop(struct virtqueue *vq)
{
    struct virtio_device *vdev = vq->vdev;
    struct chain_walk *w;
    struct virtq_request *req = NULL;
    bool from_avail;
    uint16_t head;

    if (!virtqueue_ready(vq) || vdev->broken || !(vdev->status & VIRTIO_STATUS_DRIVER_OK) ||
        !next_head(vq, &head, &from_avail)) {
        return NULL;
    }
    /* Not zeroed (6 KiB): only the first n iovecs are ever read. */
    w = g_malloc(sizeof(*w));
    w->vq = vq;
    w->n = w->out_num = 0;
    w->out_len = w->in_len = 0;
    w->seen_writable = false;
    w->error = NULL;
    if (!walk_chain(w, head)) {
        char why[128];

        unlock_iovecs(vdev->machine->mapcache, w->iov, w->n);
        snprintf(why, sizeof(why), "queue %u head %u: %s", vq->index, head, w->error);
        virtio_device_set_broken(vdev, why);
        goto out;
    }
    req = request_from_walk(w, head);
    req->resubmitted = !from_avail;
    in_use_set(vq, head, true);
    vq->in_flight++;
    if (from_avail) {
        vq->last_avail_idx++;
        avail_event_store(vq, vq->last_avail_idx);
    }
    TRACE(virtio_pop, "%s queue=%u head=%u out=%u/%" PRIu64 " in=%u/%" PRIu64, vdev->info->name,
          vq->index, head, req->out_num, req->out_len, req->in_num, req->in_len);
out:
    g_free(w);
    return req;
}

static void request_release(struct virtq_request *req)
{
    unlock_iovecs(req->vq->vdev->machine->mapcache, req->iov, req->out_num + req->in_num);
    g_free(req);
}

/* The device wrote `written` bytes at the start of the in buffers: report those pages. */
static void mark_written(struct virtq_request *req, uint32_t written)
{
    struct machine *m = req->vq->vdev->machine;

    for (unsigned i = 0; i < req->in_num && written; i++) {
        uint32_t n = XENDM_MIN(written, req->in[i].len);

        machine_mark_dirty(m, req->in[i].gpa, n);
        written -= n;
    }
}

static bool request_current(const struct virtq_request *req)
{
    const struct virtqueue *vq = req->vq;

    return req->epoch == vq->epoch && virtqueue_ready(vq) && in_use_get(vq, req->head);
}

void virtqueue_push(struct virtq_request *req, uint32_t written)
{
    struct virtqueue *vq = req->vq;
    struct virtq_used_elem elem;
    size_t slot;

    if (!request_current(req)) {
        request_release(req); /* popped before a reset: the ring it came from is gone */
        return;
    }
    written = (uint32_t)XENDM_MIN((uint64_t)written, req->in_len);
    mark_written(req, written);
    in_use_set(vq, req->head, false);
    vq->in_flight--;
    if (!vq->vdev->broken) {
        elem.id = req->head;
        elem.len = written;
        slot = USED_RING + (size_t)USED_ELEM_SIZE * (vq->used_idx & (vq->num - 1));
        memcpy(vq->used_map + slot, &elem, sizeof(elem));
        machine_mark_dirty(vq->vdev->machine, vq->used_gpa + slot, sizeof(elem));
        vq->used_idx++;
        /* §2.7.8: the element is visible before the index that publishes it. */
        used_store_u16(vq, USED_IDX, vq->used_idx);
        vq->pushed_since_notify = true;
    }
    TRACE(virtio_push, "%s queue=%u head=%u written=%u used_idx=%u", vq->vdev->info->name,
          vq->index, req->head, written, vq->used_idx);
    request_release(req);
}

void virtqueue_unpop(struct virtq_request *req)
{
    struct virtqueue *vq = req->vq;

    if (request_current(req)) {
        in_use_set(vq, req->head, false);
        vq->in_flight--;
        if (req->resubmitted) {
            vq->resubmit[req->head / 32] |= 1u << (req->head % 32);
        } else {
            vq->last_avail_idx--;
        }
    }
    request_release(req);
}

void virtqueue_notify_if_needed(struct virtqueue *vq)
{
    struct virtio_device *vdev = vq->vdev;
    uint16_t old, new_idx;
    bool was_valid;

    if (!vq->pushed_since_notify || !virtqueue_ready(vq) || vdev->broken) {
        return;
    }
    vq->pushed_since_notify = false;
    /*
     * The used idx store must be visible before the driver's suppression field is read, or a
     * driver that just re-enabled interrupts and found no new entry would wait for one this
     * device decided not to send (§2.7.7.2, §2.7.10). A release store followed by a load may
     * pass each other, even on x86: a full barrier.
     */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (virtio_has_feature(vdev, VIRTIO_F_EVENT_IDX)) {
        /* §2.7.7.2: notify only when used idx passed used_event since the last one. */
        old = vq->signalled_used;
        new_idx = vq->used_idx;
        was_valid = vq->signalled_used_valid;
        vq->signalled_used = new_idx;
        vq->signalled_used_valid = true;
        if (was_valid && !vring_need_event(used_event_load(vq), new_idx, old)) {
            return;
        }
    } else if (avail_flags_load(vq) & VIRTQ_AVAIL_F_NO_INTERRUPT) {
        return;
    }
    vdev->transport->notify(vdev->transport_opaque, false, vq->vector);
}

size_t virtq_request_read(const struct virtq_request *req, size_t offset, void *buf, size_t len)
{
    size_t done = 0;

    for (unsigned i = 0; i < req->out_num && done < len; i++) {
        size_t n;

        if (offset >= req->out[i].len) {
            offset -= req->out[i].len;
            continue;
        }
        n = XENDM_MIN(len - done, req->out[i].len - offset);
        memcpy((uint8_t *)buf + done, (const uint8_t *)req->out[i].base + offset, n);
        done += n;
        offset = 0;
    }
    return done;
}

size_t virtq_request_write(struct virtq_request *req, size_t offset, const void *buf,
                           size_t len)
{
    size_t done = 0;

    for (unsigned i = 0; i < req->in_num && done < len; i++) {
        size_t n;

        if (offset >= req->in[i].len) {
            offset -= req->in[i].len;
            continue;
        }
        n = XENDM_MIN(len - done, req->in[i].len - offset);
        memcpy((uint8_t *)req->in[i].base + offset, (const uint8_t *)buf + done, n);
        done += n;
        offset = 0;
    }
    return done;
}

/* ---- saved state ---- */

void virtio_device_save(const struct virtio_device *vdev, struct virtio_saved *saved)
{
    saved->host_features = vdev->host_features;
    saved->guest_features = vdev->guest_features;
    saved->status = vdev->status;
    saved->isr = vdev->isr;
    saved->config_generation = vdev->config_generation;
    saved->broken = vdev->broken;
    saved->config_vector = vdev->config_vector;
    memcpy(saved->config, vdev->config, sizeof(saved->config));
    for (unsigned i = 0; i < VIRTIO_QUEUES_MAX; i++) {
        const struct virtqueue *vq = &vdev->vq[i];
        bool exists = i < vdev->info->num_queues;

        saved->q_desc[i] = exists ? vq->desc_gpa : 0;
        saved->q_avail[i] = exists ? vq->avail_gpa : 0;
        saved->q_used[i] = exists ? vq->used_gpa : 0;
        saved->q_num[i] = exists ? vq->num : 0;
        saved->q_vector[i] = exists ? vq->vector : VIRTIO_MSI_NO_VECTOR;
        saved->q_last_avail[i] = exists ? vq->last_avail_idx : 0;
        saved->q_used_idx[i] = exists ? vq->used_idx : 0;
        saved->q_enabled[i] = exists && vq->enabled;
        for (unsigned w = 0; w < VIRTQ_MAX_SIZE / 32; w++) {
            /* Both: heads popped again after a restore and not yet re-served stay due. */
            saved->q_in_flight[i * (VIRTQ_MAX_SIZE / 32) + w] =
                exists ? vq->in_use[w] | vq->resubmit[w] : 0;
        }
    }
}

static void queue_load(struct virtqueue *vq, const struct virtio_saved *saved, unsigned i)
{
    queue_reset(vq);
    vq->desc_gpa = saved->q_desc[i];
    vq->avail_gpa = saved->q_avail[i];
    vq->used_gpa = saved->q_used[i];
    vq->num = saved->q_num[i];
    vq->vector = saved->q_vector[i];
    vq->last_avail_idx = vq->shadow_avail_idx = saved->q_last_avail[i];
    vq->used_idx = saved->q_used_idx[i];
    vq->enabled = saved->q_enabled[i];
    if (vq->enabled) {
        for (unsigned w = 0; w < VIRTQ_MAX_SIZE / 32; w++) {
            vq->resubmit[w] = saved->q_in_flight[i * (VIRTQ_MAX_SIZE / 32) + w];
        }
        /* Only heads the restored queue has (a stream is guest-influenced data too). */
        for (unsigned h = vq->num; h < VIRTQ_MAX_SIZE && is_power_of_two(vq->num); h++) {
            vq->resubmit[h / 32] &= ~(1u << (h % 32));
        }
    }
    if (!vq->enabled) {
        if (!is_power_of_two(vq->num) || vq->num > vq->vdev->info->queue_max_size) {
            vq->num = vq->vdev->info->queue_max_size;
        }
        return;
    }
    if (!virtio_queue_map(vq)) {
        virtio_device_set_broken(vq->vdev, "a restored queue cannot be mapped");
    }
}

void virtio_device_load(struct virtio_device *vdev, const struct virtio_saved *saved)
{
    vdev->guest_features = saved->guest_features & vdev->host_features;
    vdev->status = saved->status;
    vdev->isr = saved->isr & 3;
    vdev->config_generation = saved->config_generation;
    vdev->broken = false;
    vdev->config_vector = saved->config_vector;
    memcpy(vdev->config, saved->config, sizeof(vdev->config));
    for (unsigned i = 0; i < vdev->info->num_queues; i++) {
        queue_load(&vdev->vq[i], saved, i);
    }
    if (saved->broken) {
        vdev->broken = true;
        vdev->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    }
}
