/*
 * Unit tests of the virtio core (hw/virtio/virtqueue.c): split virtqueues built by hand in a
 * fake guest RAM (a plain buffer behind the mapcache), driven as a driver would, and every
 * kind of malformed ring a hostile driver can build. References are to virtio 1.2.
 *
 * The fake transport records notifications; a test checks the used ring, the notifications
 * and that no mapcache lock is left behind.
 */
#include <glib.h>
#include <string.h>

#include "xendm/common.h"
#include "xendm/machine.h"
#include "xendm/mapcache.h"
#include "xendm/virtio.h"

#define PAGE_SIZE 4096u
#define RAM_SIZE (4u << 20) /* four 1 MiB buckets: a bucket is wholly RAM or wholly not */
#define QSIZE 16u
#define MAX_QSIZE 64u

#define DESC_GPA 0x10000u
#define AVAIL_GPA 0x11000u
#define USED_GPA 0x12000u
#define TABLE_GPA 0x30000u /* indirect tables */
#define BUF_GPA 0x100000u  /* data buffers, 4 KiB apart */
#define OUTSIDE_RAM UINT64_C(0x10000000)

struct fixture {
    uint8_t *ram;
    struct mapcache *mc;
    struct machine *m;
    struct virtio_device vdev;
    struct virtio_device_info info;
    unsigned queue_notifications, config_notifications, kicks;
    uint16_t last_vector;
    uint16_t avail_idx; /* the driver's */
    struct virtq_request *held; /* a request a hostile case keeps in flight */
};

/* ---- fake RAM and transport ---- */

static void *fake_map(void *opaque, uint64_t first_gfn, size_t nr, bool writable, int *err)
{
    struct fixture *f = opaque;

    if ((first_gfn + nr) * PAGE_SIZE > RAM_SIZE) {
        for (size_t i = 0; i < nr; i++) {
            err[i] = -EFAULT;
        }
        return NULL;
    }
    for (size_t i = 0; i < nr; i++) {
        err[i] = 0;
    }
    return f->ram + first_gfn * PAGE_SIZE;
}

static void fake_unmap(void *opaque, void *addr, size_t nr)
{
}

static void fake_notify(void *opaque, bool config, uint16_t vector)
{
    struct fixture *f = opaque;

    if (config) {
        f->config_notifications++;
    } else {
        f->queue_notifications++;
    }
    f->last_vector = vector;
}

static const struct virtio_transport_ops fake_transport = {.notify = fake_notify};

static void count_kick(void *opaque, struct virtqueue *vq)
{
    struct fixture *f = opaque;

    f->kicks++;
}

/* ---- the driver's side ---- */

static void put16(struct fixture *f, uint64_t gpa, uint16_t v)
{
    memcpy(f->ram + gpa, &v, 2);
}

static uint16_t get16(struct fixture *f, uint64_t gpa)
{
    uint16_t v;

    memcpy(&v, f->ram + gpa, 2);
    return v;
}

static void set_desc_at(struct fixture *f, uint64_t table, unsigned i, uint64_t addr,
                        uint32_t len, uint16_t flags, uint16_t next)
{
    struct virtq_desc d = {.addr = addr, .len = len, .flags = flags, .next = next};

    memcpy(f->ram + table + 16u * i, &d, sizeof(d));
}

static void set_desc(struct fixture *f, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                     uint16_t next)
{
    set_desc_at(f, DESC_GPA, i, addr, len, flags, next);
}

/* Offers head to the device: ring entry, then the index (§2.7.13). */
static void avail_add(struct fixture *f, uint16_t head)
{
    put16(f, AVAIL_GPA + 4 + 2u * (f->avail_idx % QSIZE), head);
    f->avail_idx++;
    put16(f, AVAIL_GPA + 2, f->avail_idx);
}

static uint16_t used_idx(struct fixture *f)
{
    return get16(f, USED_GPA + 2);
}

static struct virtq_used_elem used_elem(struct fixture *f, uint16_t i)
{
    struct virtq_used_elem e;

    memcpy(&e, f->ram + USED_GPA + 4 + 8u * (i % QSIZE), sizeof(e));
    return e;
}

static void set_used_event(struct fixture *f, uint16_t v)
{
    put16(f, AVAIL_GPA + 4 + 2u * QSIZE, v);
}

static uint16_t avail_event(struct fixture *f)
{
    return get16(f, USED_GPA + 4 + 8u * QSIZE);
}

static size_t locked_buckets(struct fixture *f)
{
    struct mapcache_stats s;

    mapcache_get_stats(f->mc, &s);
    return s.locked_buckets + s.dedicated_mappings;
}

/* Driver initialisation (§3.1.1) with `features`, queue 0 of QSIZE entries. */
static void driver_setup(struct fixture *f, uint64_t features)
{
    struct virtqueue *vq = &f->vdev.vq[0];

    virtio_set_status(&f->vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, false);
    virtio_set_guest_features(&f->vdev, features | VIRTIO_BIT(VIRTIO_F_VERSION_1));
    virtio_set_status(&f->vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                      VIRTIO_STATUS_FEATURES_OK, false);
    g_assert_true(f->vdev.status & VIRTIO_STATUS_FEATURES_OK);
    memset(f->ram + DESC_GPA, 0, 0x3000);
    f->avail_idx = 0;
    vq->num = QSIZE;
    vq->desc_gpa = DESC_GPA;
    vq->avail_gpa = AVAIL_GPA;
    vq->used_gpa = USED_GPA;
    vq->vector = 1;
    vq->enabled = true;
    g_assert_true(virtio_queue_map(vq));
    virtio_set_status(&f->vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                      VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK, false);
    f->queue_notifications = f->config_notifications = 0;
}

#define ALL_FEATURES (VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX))

static struct fixture *fixture_new(uint64_t features)
{
    static const struct mapcache_config cfg = {.bucket_shift = 20, .max_buckets = 8};
    struct fixture *f = g_new0(struct fixture, 1);
    struct mapcache_mapper mapper = {.map = fake_map, .unmap = fake_unmap, .opaque = f};

    f->ram = g_malloc0(RAM_SIZE);
    for (unsigned i = 0; i < RAM_SIZE; i++) {
        f->ram[i] = (uint8_t)(i * 7 + 3);
    }
    f->mc = mapcache_new(&mapper, &cfg);
    f->m = machine_new();
    f->m->mapcache = f->mc;
    f->info = (struct virtio_device_info){
        .name = "test-virtio",
        .device_id = VIRTIO_ID_RNG,
        .num_queues = 2,
        .queue_max_size = MAX_QSIZE,
        .queue_notify = count_kick,
    };
    virtio_device_init(&f->vdev, f->m, &f->info, f, &fake_transport, f);
    driver_setup(f, features);
    return f;
}

static void fixture_free(struct fixture *f)
{
    virtio_device_cleanup(&f->vdev);
    g_assert_cmpuint(locked_buckets(f), ==, 0);
    f->m->mapcache = NULL;
    machine_free(f->m);
    mapcache_free(f->mc);
    g_free(f->ram);
    g_free(f);
}

/* The rings hold three locks; anything more is a request's. */
static void assert_only_ring_locks(struct fixture *f)
{
    struct mapcache_stats s;

    mapcache_get_stats(f->mc, &s);
    g_assert_cmpuint(s.dedicated_mappings, ==, 0);
    /* All three rings live in the first bucket. */
    g_assert_cmpuint(s.locked_buckets, ==, 1);
}

/* ---- the normal cases ---- */

static void test_single(void)
{
    struct fixture *f = fixture_new(ALL_FEATURES);
    struct virtq_request *req;
    uint8_t buf[16];

    set_desc(f, 0, BUF_GPA, 16, 0, 0);
    g_assert_null(virtqueue_pop(&f->vdev.vq[0])); /* nothing offered yet */
    avail_add(f, 0);
    req = virtqueue_pop(&f->vdev.vq[0]);
    g_assert_nonnull(req);
    g_assert_cmpuint(req->head, ==, 0);
    g_assert_cmpuint(req->out_num, ==, 1);
    g_assert_cmpuint(req->in_num, ==, 0);
    g_assert_cmpuint(req->out_len, ==, 16);
    g_assert_true(req->out[0].base == f->ram + BUF_GPA); /* zero-copy */
    g_assert_cmpuint(virtq_request_read(req, 0, buf, sizeof(buf)), ==, 16);
    g_assert_cmpmem(buf, 16, f->ram + BUF_GPA, 16);
    g_assert_cmpuint(virtqueue_in_flight(&f->vdev.vq[0]), ==, 1);
    g_assert_null(virtqueue_pop(&f->vdev.vq[0]));
    virtqueue_push(req, 0);
    g_assert_cmpuint(used_idx(f), ==, 1);
    g_assert_cmpuint(used_elem(f, 0).id, ==, 0);
    g_assert_cmpuint(used_elem(f, 0).len, ==, 0);
    g_assert_cmpuint(virtqueue_in_flight(&f->vdev.vq[0]), ==, 0);
    virtqueue_notify_if_needed(&f->vdev.vq[0]);
    g_assert_cmpuint(f->queue_notifications, ==, 1);
    g_assert_cmpuint(f->last_vector, ==, 1);
    /* Nothing pushed since: no second interrupt. */
    virtqueue_notify_if_needed(&f->vdev.vq[0]);
    g_assert_cmpuint(f->queue_notifications, ==, 1);
    assert_only_ring_locks(f);
    fixture_free(f);
}

static void test_chain(void)
{
    struct fixture *f = fixture_new(ALL_FEATURES);
    struct virtq_request *req;
    uint8_t hdr[24], data[40];

    /* Two readable, two writable, linked out of table order. */
    set_desc(f, 3, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 7);
    set_desc(f, 7, BUF_GPA + 0x1000, 16, VIRTQ_DESC_F_NEXT, 1);
    set_desc(f, 1, BUF_GPA + 0x2000, 10, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
    set_desc(f, 2, BUF_GPA + 0x3000, 30, VIRTQ_DESC_F_WRITE, 0);
    avail_add(f, 3);
    req = virtqueue_pop(&f->vdev.vq[0]);
    g_assert_nonnull(req);
    g_assert_cmpuint(req->out_num, ==, 2);
    g_assert_cmpuint(req->in_num, ==, 2);
    g_assert_cmpuint(req->out_len, ==, 24);
    g_assert_cmpuint(req->in_len, ==, 40);
    /* Reads gather across buffers in chain order. */
    g_assert_cmpuint(virtq_request_read(req, 0, hdr, sizeof(hdr)), ==, 24);
    g_assert_cmpmem(hdr, 8, f->ram + BUF_GPA, 8);
    g_assert_cmpmem(hdr + 8, 16, f->ram + BUF_GPA + 0x1000, 16);
    g_assert_cmpuint(virtq_request_read(req, 20, hdr, sizeof(hdr)), ==, 4);
    /* Writes scatter. */
    for (unsigned i = 0; i < sizeof(data); i++) {
        data[i] = (uint8_t)(0xa0 + i);
    }
    g_assert_cmpuint(virtq_request_write(req, 0, data, sizeof(data) + 5), ==, 40);
    g_assert_cmpmem(f->ram + BUF_GPA + 0x2000, 10, data, 10);
    g_assert_cmpmem(f->ram + BUF_GPA + 0x3000, 30, data + 10, 30);
    /* A written length beyond the writable buffers is clamped. */
    virtqueue_push(req, 1000);
    g_assert_cmpuint(used_elem(f, 0).id, ==, 3);
    g_assert_cmpuint(used_elem(f, 0).len, ==, 40);
    assert_only_ring_locks(f);
    fixture_free(f);
}

static void test_indirect(void)
{
    struct fixture *f = fixture_new(ALL_FEATURES);
    struct virtq_request *req;

    set_desc_at(f, TABLE_GPA, 0, BUF_GPA, 12, VIRTQ_DESC_F_NEXT, 2);
    set_desc_at(f, TABLE_GPA, 2, BUF_GPA + 0x1000, 100, VIRTQ_DESC_F_NEXT, 1);
    set_desc_at(f, TABLE_GPA, 1, BUF_GPA + 0x2000, 1, VIRTQ_DESC_F_WRITE, 0);
    /* The WRITE flag on the descriptor naming the table is ignored (§2.7.5.3.2). */
    set_desc(f, 5, TABLE_GPA, 3 * 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
    avail_add(f, 5);
    req = virtqueue_pop(&f->vdev.vq[0]);
    g_assert_nonnull(req);
    g_assert_cmpuint(req->head, ==, 5);
    g_assert_cmpuint(req->out_num, ==, 2);
    g_assert_cmpuint(req->in_num, ==, 1);
    g_assert_cmpuint(req->out_len, ==, 112);
    g_assert_true(req->in[0].base == f->ram + BUF_GPA + 0x2000);
    virtqueue_push(req, 1);

    /* Normal descriptors followed by an indirect one are valid too (§2.7.5.3.2). */
    set_desc(f, 8, BUF_GPA + 0x4000, 4, VIRTQ_DESC_F_NEXT, 9);
    set_desc(f, 9, TABLE_GPA, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
    avail_add(f, 8);
    req = virtqueue_pop(&f->vdev.vq[0]);
    g_assert_nonnull(req);
    g_assert_cmpuint(req->out_num, ==, 3);
    g_assert_cmpuint(req->in_num, ==, 1);
    g_assert_cmpuint(req->out_len, ==, 116);
    virtqueue_push(req, 1);
    /* An indirect table needs no alignment. */
    set_desc_at(f, TABLE_GPA + 0x208, 0, BUF_GPA, 4, VIRTQ_DESC_F_WRITE, 0);
    set_desc(f, 10, TABLE_GPA + 0x208, 16, VIRTQ_DESC_F_INDIRECT, 0);
    avail_add(f, 10);
    req = virtqueue_pop(&f->vdev.vq[0]);
    g_assert_nonnull(req);
    g_assert_cmpuint(req->in_len, ==, 4);
    virtqueue_push(req, 4);
    g_assert_cmpuint(used_idx(f), ==, 3);
    g_assert_false(f->vdev.broken);
    assert_only_ring_locks(f);
    fixture_free(f);
}

/* Requests complete in any order (a block device's do); the used ring records that order. */
static void test_out_of_order(void)
{
    struct fixture *f = fixture_new(ALL_FEATURES);
    struct virtq_request *req[3];

    for (unsigned i = 0; i < 3; i++) {
        set_desc(f, i, BUF_GPA + 0x1000 * i, 64, VIRTQ_DESC_F_WRITE, 0);
        avail_add(f, (uint16_t)i);
    }
    for (unsigned i = 0; i < 3; i++) {
        req[i] = virtqueue_pop(&f->vdev.vq[0]);
        g_assert_nonnull(req[i]);
    }
    g_assert_cmpuint(virtqueue_in_flight(&f->vdev.vq[0]), ==, 3);
    virtqueue_push(req[2], 3);
    virtqueue_push(req[0], 1);
    virtqueue_push(req[1], 2);
    g_assert_cmpuint(used_idx(f), ==, 3);
    g_assert_cmpuint(used_elem(f, 0).id, ==, 2);
    g_assert_cmpuint(used_elem(f, 1).id, ==, 0);
    g_assert_cmpuint(used_elem(f, 2).id, ==, 1);
    g_assert_cmpuint(used_elem(f, 2).len, ==, 2);
    /* A head may be offered again once it was used. */
    avail_add(f, 2);
    req[0] = virtqueue_pop(&f->vdev.vq[0]);
    g_assert_nonnull(req[0]);
    g_assert_cmpuint(req[0]->head, ==, 2);
    virtqueue_push(req[0], 0);
    fixture_free(f);
}

static void test_unpop(void)
{
    struct fixture *f = fixture_new(ALL_FEATURES);
    struct virtq_request *req;

    set_desc(f, 4, BUF_GPA, 64, VIRTQ_DESC_F_WRITE, 0);
    avail_add(f, 4);
    req = virtqueue_pop(&f->vdev.vq[0]);
    g_assert_nonnull(req);
    virtqueue_unpop(req);
    g_assert_cmpuint(virtqueue_in_flight(&f->vdev.vq[0]), ==, 0);
    assert_only_ring_locks(f);
    req = virtqueue_pop(&f->vdev.vq[0]);
    g_assert_nonnull(req);
    g_assert_cmpuint(req->head, ==, 4);
    virtqueue_push(req, 8);
    g_assert_cmpuint(used_idx(f), ==, 1);
    fixture_free(f);
}

/* A zero-length descriptor adds no buffer and is not an error. */
static void test_zero_length(void)
{
    struct fixture *f = fixture_new(ALL_FEATURES);
    struct virtq_request *req;

    set_desc(f, 0, OUTSIDE_RAM, 0, VIRTQ_DESC_F_NEXT, 1);
    set_desc(f, 1, BUF_GPA, 4, VIRTQ_DESC_F_WRITE, 0);
    avail_add(f, 0);
    req = virtqueue_pop(&f->vdev.vq[0]);
    g_assert_nonnull(req);
    g_assert_cmpuint(req->out_num, ==, 0);
    g_assert_cmpuint(req->in_num, ==, 1);
    virtqueue_push(req, 4);
    g_assert_false(f->vdev.broken);
    fixture_free(f);
}

/* A chain of exactly the queue size is the longest allowed (§2.7.5.3.1). */
static void test_longest_chain(void)
{
    struct fixture *f = fixture_new(ALL_FEATURES);
    struct virtq_request *req;

    for (unsigned i = 0; i < QSIZE; i++) {
        set_desc(f, i, BUF_GPA + 0x100 * i, 0x100,
                 i + 1 < QSIZE ? VIRTQ_DESC_F_NEXT : VIRTQ_DESC_F_WRITE, (uint16_t)(i + 1));
    }
    avail_add(f, 0);
    req = virtqueue_pop(&f->vdev.vq[0]);
    g_assert_nonnull(req);
    g_assert_cmpuint(req->out_num + req->in_num, ==, QSIZE);
    virtqueue_push(req, 0);
    fixture_free(f);
}

/* ---- notification suppression ---- */

static void test_vring_need_event(void)
{
    /* Notify when new passes event, i.e. event in [old, new). */
    g_assert_true(vring_need_event(0, 1, 0));
    g_assert_false(vring_need_event(1, 1, 0));
    g_assert_true(vring_need_event(5, 8, 3));
    g_assert_true(vring_need_event(3, 8, 3));
    g_assert_true(vring_need_event(7, 8, 3));
    g_assert_false(vring_need_event(8, 8, 3));
    g_assert_false(vring_need_event(2, 8, 3));
    g_assert_false(vring_need_event(3, 3, 3)); /* nothing new */
    /* Across the 16-bit wrap. */
    g_assert_true(vring_need_event(0xffff, 1, 0xfffe));
    g_assert_true(vring_need_event(0, 1, 0xfffe));
    g_assert_false(vring_need_event(1, 1, 0xfffe));
    g_assert_false(vring_need_event(0xfffd, 1, 0xfffe));
    g_assert_true(vring_need_event(0xfffe, 0x10, 0xfffe));
}

static void push_one(struct fixture *f, uint16_t head)
{
    struct virtq_request *req;

    set_desc(f, head, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
    avail_add(f, head);
    req = virtqueue_pop(&f->vdev.vq[0]);
    g_assert_nonnull(req);
    virtqueue_push(req, 8);
}

static void test_event_idx(void)
{
    struct fixture *f = fixture_new(ALL_FEATURES);
    struct virtqueue *vq = &f->vdev.vq[0];

    /* The first notification is always sent. */
    push_one(f, 0);
    virtqueue_notify_if_needed(vq);
    g_assert_cmpuint(f->queue_notifications, ==, 1);
    /* avail_event tells the driver the next index to kick at (§2.7.10). */
    g_assert_cmpuint(avail_event(f), ==, 1);
    /* used_event 3: no interrupt for used idx 2 and 3, one when it reaches 4. */
    set_used_event(f, 3);
    push_one(f, 1);
    virtqueue_notify_if_needed(vq);
    push_one(f, 2);
    virtqueue_notify_if_needed(vq);
    g_assert_cmpuint(f->queue_notifications, ==, 1);
    push_one(f, 3);
    virtqueue_notify_if_needed(vq);
    g_assert_cmpuint(f->queue_notifications, ==, 2);
    /* A batch that passes used_event in its middle notifies once. */
    set_used_event(f, 5);
    push_one(f, 4);
    push_one(f, 5);
    push_one(f, 6);
    virtqueue_notify_if_needed(vq);
    g_assert_cmpuint(f->queue_notifications, ==, 3);
    /* NO_INTERRUPT in avail->flags is ignored with EVENT_IDX: used_event rules. */
    put16(f, AVAIL_GPA, VIRTQ_AVAIL_F_NO_INTERRUPT);
    set_used_event(f, 7);
    push_one(f, 7);
    virtqueue_notify_if_needed(vq);
    g_assert_cmpuint(f->queue_notifications, ==, 4);
    fixture_free(f);
}

static void test_no_interrupt_flag(void)
{
    struct fixture *f = fixture_new(VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC));
    struct virtqueue *vq = &f->vdev.vq[0];

    put16(f, AVAIL_GPA, VIRTQ_AVAIL_F_NO_INTERRUPT);
    push_one(f, 0);
    virtqueue_notify_if_needed(vq);
    g_assert_cmpuint(f->queue_notifications, ==, 0);
    put16(f, AVAIL_GPA, 0);
    push_one(f, 1);
    virtqueue_notify_if_needed(vq);
    g_assert_cmpuint(f->queue_notifications, ==, 1);
    /* Without EVENT_IDX the device leaves avail_event alone (driver_setup zeroed it). */
    g_assert_cmpuint(avail_event(f), ==, 0);
    fixture_free(f);
}

/* Free-running 16-bit indexes wrap from 0xffff to 0 (§2.7.6, §2.7.8). */
static void test_index_wrap(void)
{
    struct fixture *f = fixture_new(ALL_FEATURES);
    struct virtqueue *vq = &f->vdev.vq[0];

    f->avail_idx = 0xfffd;
    put16(f, AVAIL_GPA + 2, f->avail_idx);
    put16(f, USED_GPA + 2, 0xfffd);
    vq->last_avail_idx = vq->shadow_avail_idx = vq->used_idx = 0xfffd;
    for (unsigned i = 0; i < 6; i++) {
        push_one(f, (uint16_t)i);
        virtqueue_notify_if_needed(vq);
    }
    g_assert_cmpuint(used_idx(f), ==, 3);
    g_assert_cmpuint(vq->last_avail_idx, ==, 3);
    /* 0xfffd % 16 = 13: the entries went to slots 13, 14, 15, 0, 1, 2. */
    g_assert_cmpuint(used_elem(f, 13).id, ==, 0);
    g_assert_cmpuint(used_elem(f, 0).id, ==, 3);
    g_assert_cmpuint(used_elem(f, 2).id, ==, 5);
    g_assert_false(f->vdev.broken);
    fixture_free(f);
}

/* ---- hostile rings: each breaks the device, never xendm ---- */

static void assert_broken(struct fixture *f)
{
    g_assert_true(f->vdev.broken);
    g_assert_true(f->vdev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    /* §2.1.2: with DRIVER_OK the driver is told by a configuration change notification. */
    g_assert_cmpuint(f->config_notifications, ==, 1);
    g_assert_null(virtqueue_pop(&f->vdev.vq[0]));
    /* The driver may keep kicking: the device ignores it. */
    virtio_queue_kick(&f->vdev, 0);
    g_assert_cmpuint(f->kicks, ==, 0);
    /* Writing the status does not clear NEEDS_RESET; only a reset does. */
    virtio_set_status(&f->vdev, f->vdev.status & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET, false);
    g_assert_true(f->vdev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    if (f->held) {
        /* Completing it on a broken device releases it without touching the ring. */
        uint16_t before = used_idx(f);

        virtqueue_push(f->held, 8);
        f->held = NULL;
        g_assert_cmpuint(used_idx(f), ==, before);
    }
    assert_only_ring_locks(f);
}

/* After the reset the driver may set up the queue again and be served. */
static void assert_recovers(struct fixture *f)
{
    struct virtq_request *req;

    virtio_set_status(&f->vdev, 0, false);
    g_assert_false(f->vdev.broken);
    g_assert_cmpuint(f->vdev.status, ==, 0);
    g_assert_cmpuint(locked_buckets(f), ==, 0);
    driver_setup(f, ALL_FEATURES);
    set_desc(f, 0, BUF_GPA, 4, VIRTQ_DESC_F_WRITE, 0);
    avail_add(f, 0);
    req = virtqueue_pop(&f->vdev.vq[0]);
    g_assert_nonnull(req);
    virtqueue_push(req, 4);
    g_assert_cmpuint(used_idx(f), ==, 1);
}

typedef void (*ring_builder)(struct fixture *f);

struct hostile {
    const char *name;
    ring_builder build;
    const char *reason; /* what the device must have found */
};

static void hostile_case(gconstpointer data)
{
    const struct hostile *h = data;
    struct fixture *f = fixture_new(ALL_FEATURES);

    h->build(f);
    g_assert_null(virtqueue_pop(&f->vdev.vq[0]));
    if (!strstr(f->vdev.broken_reason, h->reason)) {
        g_test_message("broken because \"%s\", expected \"%s\"", f->vdev.broken_reason,
                       h->reason);
        g_test_fail();
    }
    assert_broken(f);
    assert_recovers(f);
    fixture_free(f);
}

static void build_loop(struct fixture *f)
{
    set_desc(f, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
    set_desc(f, 1, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 0);
    avail_add(f, 0);
}

static void build_self_loop(struct fixture *f)
{
    set_desc(f, 6, BUF_GPA, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 6);
    avail_add(f, 6);
}

static void build_next_out_of_range(struct fixture *f)
{
    set_desc(f, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, QSIZE);
    avail_add(f, 0);
}

static void build_head_out_of_range(struct fixture *f)
{
    avail_add(f, QSIZE + 3);
}

static void build_head_twice(struct fixture *f)
{
    set_desc(f, 2, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
    avail_add(f, 2);
    avail_add(f, 2);
    /* The first is served (and kept in flight); the second offer of it breaks the device. */
    f->held = virtqueue_pop(&f->vdev.vq[0]);
    g_assert_nonnull(f->held);
}

static void build_avail_jump(struct fixture *f)
{
    set_desc(f, 0, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
    put16(f, AVAIL_GPA + 2, QSIZE + 1);
}

static void build_avail_backwards(struct fixture *f)
{
    put16(f, AVAIL_GPA + 2, 0xffff); /* 65535 ahead of 0: "decremented" */
}

static void build_outside_ram(struct fixture *f)
{
    set_desc(f, 0, OUTSIDE_RAM, 8, VIRTQ_DESC_F_WRITE, 0);
    avail_add(f, 0);
}

static void build_across_ram_end(struct fixture *f)
{
    set_desc(f, 0, RAM_SIZE - 8, 16, 0, 0);
    avail_add(f, 0);
}

static void build_4g_buffer(struct fixture *f)
{
    set_desc(f, 0, BUF_GPA, 0xffffffffu, VIRTQ_DESC_F_WRITE, 0);
    avail_add(f, 0);
}

static void build_wrapping_buffer(struct fixture *f)
{
    set_desc(f, 0, UINT64_MAX - 0xff, 0x200, 0, 0);
    avail_add(f, 0);
}

/* A good buffer before the bad one: its lock must be released too. */
static void build_second_buffer_bad(struct fixture *f)
{
    set_desc(f, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
    set_desc(f, 1, OUTSIDE_RAM, 8, VIRTQ_DESC_F_WRITE, 0);
    avail_add(f, 0);
}

static void build_readable_after_writable(struct fixture *f)
{
    set_desc(f, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
    set_desc(f, 1, BUF_GPA + 0x1000, 8, 0, 0);
    avail_add(f, 0);
}

static void build_indirect_bad_len(struct fixture *f)
{
    set_desc_at(f, TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
    set_desc(f, 0, TABLE_GPA, 24, VIRTQ_DESC_F_INDIRECT, 0);
    avail_add(f, 0);
}

static void build_indirect_zero_len(struct fixture *f)
{
    set_desc(f, 0, TABLE_GPA, 0, VIRTQ_DESC_F_INDIRECT, 0);
    avail_add(f, 0);
}

static void build_indirect_too_long(struct fixture *f)
{
    set_desc(f, 0, TABLE_GPA, 16 * (VIRTQ_MAX_SIZE + 1), VIRTQ_DESC_F_INDIRECT, 0);
    avail_add(f, 0);
}

static void build_indirect_nested(struct fixture *f)
{
    set_desc_at(f, TABLE_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
    set_desc_at(f, TABLE_GPA, 1, TABLE_GPA + 0x100, 16, VIRTQ_DESC_F_INDIRECT, 0);
    set_desc_at(f, TABLE_GPA + 0x100, 0, BUF_GPA, 8, 0, 0);
    set_desc(f, 0, TABLE_GPA, 32, VIRTQ_DESC_F_INDIRECT, 0);
    avail_add(f, 0);
}

static void build_indirect_with_next(struct fixture *f)
{
    set_desc_at(f, TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
    set_desc(f, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
    set_desc(f, 1, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
    avail_add(f, 0);
}

static void build_indirect_outside_ram(struct fixture *f)
{
    set_desc(f, 0, OUTSIDE_RAM, 64, VIRTQ_DESC_F_INDIRECT, 0);
    avail_add(f, 0);
}

static void build_indirect_loop(struct fixture *f)
{
    set_desc_at(f, TABLE_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
    set_desc_at(f, TABLE_GPA, 1, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 0);
    set_desc(f, 0, TABLE_GPA, 32, VIRTQ_DESC_F_INDIRECT, 0);
    avail_add(f, 0);
}

static void build_indirect_next_out_of_range(struct fixture *f)
{
    set_desc_at(f, TABLE_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 2);
    set_desc(f, 0, TABLE_GPA, 32, VIRTQ_DESC_F_INDIRECT, 0);
    avail_add(f, 0);
}

static void build_indirect_readable_after_writable(struct fixture *f)
{
    set_desc(f, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
    set_desc_at(f, TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
    set_desc(f, 1, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
    avail_add(f, 0);
}

/* A full queue of descriptors then an indirect table of 256 more: too many buffers. */
static void build_too_many_buffers(struct fixture *f)
{
    for (unsigned i = 0; i < QSIZE - 1; i++) {
        set_desc(f, i, BUF_GPA, 1, VIRTQ_DESC_F_NEXT, (uint16_t)(i + 1));
    }
    for (unsigned i = 0; i < VIRTQ_MAX_SIZE; i++) {
        set_desc_at(f, TABLE_GPA, i, BUF_GPA, 1, i + 1 < VIRTQ_MAX_SIZE ? VIRTQ_DESC_F_NEXT : 0,
                    (uint16_t)(i + 1));
    }
    set_desc(f, QSIZE - 1, TABLE_GPA, 16 * VIRTQ_MAX_SIZE, VIRTQ_DESC_F_INDIRECT, 0);
    avail_add(f, 0);
}

/* Indirect descriptors without VIRTIO_F_INDIRECT_DESC negotiated. */
static void test_indirect_not_negotiated(void)
{
    struct fixture *f = fixture_new(VIRTIO_BIT(VIRTIO_F_EVENT_IDX));

    set_desc_at(f, TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
    set_desc(f, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
    avail_add(f, 0);
    g_assert_null(virtqueue_pop(&f->vdev.vq[0]));
    assert_broken(f);
    fixture_free(f);
}

/* Rings that cannot be mapped: misaligned, bad size, outside RAM. */
static void test_bad_rings(void)
{
    struct fixture *f = fixture_new(ALL_FEATURES);
    struct virtqueue *vq = &f->vdev.vq[1];

    vq->num = 8;
    vq->desc_gpa = DESC_GPA + 0x2008; /* 8-aligned, not 16 */
    vq->avail_gpa = AVAIL_GPA + 0x2000;
    vq->used_gpa = USED_GPA + 0x2000;
    g_assert_false(virtio_queue_map(vq));
    vq->desc_gpa = DESC_GPA + 0x2000;
    vq->used_gpa = USED_GPA + 0x2002; /* not 4-aligned */
    g_assert_false(virtio_queue_map(vq));
    vq->used_gpa = USED_GPA + 0x2000;
    vq->num = 12; /* not a power of two */
    g_assert_false(virtio_queue_map(vq));
    vq->num = 128; /* above the device's maximum */
    g_assert_false(virtio_queue_map(vq));
    vq->num = 8;
    vq->avail_gpa = RAM_SIZE - 4; /* runs off the end of RAM */
    g_assert_false(virtio_queue_map(vq));
    vq->avail_gpa = AVAIL_GPA + 0x2000;
    g_assert_true(virtio_queue_map(vq));
    virtio_queue_unmap(vq);
    assert_only_ring_locks(f);
    /* Kicks for queues that do not exist, or are not ready, are ignored. */
    virtio_queue_kick(&f->vdev, 1);
    virtio_queue_kick(&f->vdev, 2);
    virtio_queue_kick(&f->vdev, 0xffff);
    g_assert_cmpuint(f->kicks, ==, 0);
    virtio_queue_kick(&f->vdev, 0);
    g_assert_cmpuint(f->kicks, ==, 1);
    g_assert_false(f->vdev.broken);
    fixture_free(f);
}

/* ---- status, features, reset, saved state ---- */

static void test_status_rules(void)
{
    struct fixture *f = fixture_new(ALL_FEATURES);
    struct virtq_request *req;

    /* Before DRIVER_OK the device consumes nothing (§3.1.2)... */
    virtio_set_status(&f->vdev, 0, false);
    driver_setup(f, ALL_FEATURES);
    virtio_set_status(&f->vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                      VIRTIO_STATUS_FEATURES_OK, false);
    set_desc(f, 0, BUF_GPA, 4, VIRTQ_DESC_F_WRITE, 0);
    avail_add(f, 0);
    g_assert_null(virtqueue_pop(&f->vdev.vq[0]));
    g_assert_false(f->vdev.broken);
    /* ...and the features are frozen after FEATURES_OK. */
    virtio_set_guest_features(&f->vdev, VIRTIO_BIT(VIRTIO_F_VERSION_1));
    g_assert_true(virtio_has_feature(&f->vdev, VIRTIO_F_EVENT_IDX));
    virtio_set_status(&f->vdev, f->vdev.status | VIRTIO_STATUS_DRIVER_OK, false);
    req = virtqueue_pop(&f->vdev.vq[0]);
    g_assert_nonnull(req);
    virtqueue_push(req, 0);

    /* A feature the device did not offer is dropped. */
    virtio_set_status(&f->vdev, 0, false);
    virtio_set_guest_features(&f->vdev, VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(60));
    g_assert_false(virtio_has_feature(&f->vdev, 60));
    /* Through the modern interface FEATURES_OK needs VERSION_1: the device refuses it. */
    virtio_set_status(&f->vdev, 0, false);
    virtio_set_guest_features(&f->vdev, VIRTIO_BIT(VIRTIO_F_EVENT_IDX));
    virtio_set_status(&f->vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                      VIRTIO_STATUS_FEATURES_OK, false);
    g_assert_false(f->vdev.status & VIRTIO_STATUS_FEATURES_OK);
    /* A legacy driver negotiates without it. */
    virtio_set_status(&f->vdev, 0, true);
    virtio_set_guest_features(&f->vdev, VIRTIO_BIT(VIRTIO_F_EVENT_IDX));
    virtio_set_status(&f->vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                      VIRTIO_STATUS_DRIVER_OK, true);
    g_assert_true(f->vdev.status & VIRTIO_STATUS_DRIVER_OK);
    fixture_free(f);
}

/* A request popped before a reset: pushing it releases it and leaves the new ring alone. */
static void test_reset_in_flight(void)
{
    struct fixture *f = fixture_new(ALL_FEATURES);
    struct virtq_request *old, *req;

    set_desc(f, 0, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
    avail_add(f, 0);
    old = virtqueue_pop(&f->vdev.vq[0]);
    g_assert_nonnull(old);
    virtio_set_status(&f->vdev, 0, false);
    g_assert_cmpuint(virtqueue_in_flight(&f->vdev.vq[0]), ==, 0);
    driver_setup(f, ALL_FEATURES);
    set_desc(f, 0, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
    avail_add(f, 0);
    req = virtqueue_pop(&f->vdev.vq[0]);
    g_assert_nonnull(req);
    virtqueue_push(old, 8); /* stale: dropped */
    g_assert_cmpuint(used_idx(f), ==, 0);
    virtqueue_push(req, 8);
    g_assert_cmpuint(used_idx(f), ==, 1);
    assert_only_ring_locks(f);
    fixture_free(f);
}

static void test_save_load(void)
{
    struct fixture *f = fixture_new(ALL_FEATURES);
    struct virtio_saved *saved = g_new0(struct virtio_saved, 1);
    struct virtio_device *copy = g_new0(struct virtio_device, 1);
    struct virtq_request *req;

    push_one(f, 0);
    push_one(f, 1);
    virtio_device_save(&f->vdev, saved);
    g_assert_cmpuint(saved->q_last_avail[0], ==, 2);
    g_assert_cmpuint(saved->q_used_idx[0], ==, 2);
    g_assert_true(saved->q_enabled[0]);

    /* A second device (the restored device model) resumes the ring. */
    virtio_device_init(copy, f->m, &f->info, f, &fake_transport, f);
    virtio_device_load(copy, saved);
    g_assert_false(copy->broken);
    g_assert_cmpuint(copy->status, ==, f->vdev.status);
    g_assert_true(virtio_has_feature(copy, VIRTIO_F_EVENT_IDX));
    g_assert_cmpuint(copy->vq[0].vector, ==, 1);
    set_desc(f, 2, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
    avail_add(f, 2);
    req = virtqueue_pop(&copy->vq[0]);
    g_assert_nonnull(req);
    g_assert_cmpuint(req->head, ==, 2);
    virtqueue_push(req, 8);
    g_assert_cmpuint(used_idx(f), ==, 3);
    g_assert_cmpuint(used_elem(f, 2).id, ==, 2);
    virtio_device_cleanup(copy);

    /* A stream whose queue cannot be resumed leaves the device broken, not xendm. */
    saved->q_num[0] = 12;
    virtio_device_load(copy, saved);
    g_assert_true(copy->broken);
    g_assert_true(copy->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    saved->q_num[0] = QSIZE;
    saved->q_desc[0] = OUTSIDE_RAM;
    virtio_device_load(copy, saved);
    g_assert_true(copy->broken);
    virtio_device_cleanup(copy);
    g_free(copy);
    g_free(saved);
    fixture_free(f);
}

static const struct hostile hostile_cases[] = {
    {"loop", build_loop, "longer than its table"},
    {"self-loop", build_self_loop, "longer than its table"},
    {"next-out-of-range", build_next_out_of_range, "next index out of range"},
    {"head-out-of-range", build_head_out_of_range, "head out of range"},
    {"head-twice", build_head_twice, "already in flight"},
    {"avail-jump", build_avail_jump, "moved by 17"},
    {"avail-backwards", build_avail_backwards, "moved by 65535"},
    {"outside-ram", build_outside_ram, "buffer outside guest RAM"},
    {"across-ram-end", build_across_ram_end, "buffer outside guest RAM"},
    {"4g-buffer", build_4g_buffer, "buffer outside guest RAM"},
    {"wrapping-buffer", build_wrapping_buffer, "wraps the address space"},
    {"second-buffer-bad", build_second_buffer_bad, "buffer outside guest RAM"},
    {"readable-after-writable", build_readable_after_writable, "readable descriptor after"},
    {"indirect-bad-len", build_indirect_bad_len, "indirect table of a bad length"},
    {"indirect-zero-len", build_indirect_zero_len, "indirect table of a bad length"},
    {"indirect-too-long", build_indirect_too_long, "indirect table of a bad length"},
    {"indirect-nested", build_indirect_nested, "inside an indirect table"},
    {"indirect-with-next", build_indirect_with_next, "indirect descriptor with NEXT"},
    {"indirect-outside-ram", build_indirect_outside_ram, "indirect table outside guest RAM"},
    {"indirect-loop", build_indirect_loop, "longer than its table"},
    {"indirect-next-out-of-range", build_indirect_next_out_of_range, "next index out of range"},
    {"indirect-readable-after-writable", build_indirect_readable_after_writable,
     "readable descriptor after"},
    {"too-many-buffers", build_too_many_buffers, "too many buffers"},
};


/* Requests in flight at save time are served again, first, by the restored device. */
static void test_save_in_flight(void)
{
    struct fixture *f = fixture_new(ALL_FEATURES);
    struct virtio_saved *saved = g_new0(struct virtio_saved, 1);
    struct virtio_device *copy = g_new0(struct virtio_device, 1);
    struct virtq_request *held[3], *req;

    for (unsigned i = 0; i < 3; i++) {
        set_desc(f, 4 + i, BUF_GPA + 0x1000 * i, 8, VIRTQ_DESC_F_WRITE, 0);
        avail_add(f, (uint16_t)(4 + i));
        held[i] = virtqueue_pop(&f->vdev.vq[0]);
        g_assert_nonnull(held[i]);
    }
    virtqueue_push(held[1], 8); /* head 5 completes before the save */
    virtio_device_save(&f->vdev, saved);
    g_assert_cmphex(saved->q_in_flight[0], ==, (1u << 4) | (1u << 6));

    virtio_device_init(copy, f->m, &f->info, f, &fake_transport, f);
    virtio_device_load(copy, saved);
    set_desc(f, 9, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
    avail_add(f, 9);
    req = virtqueue_pop(&copy->vq[0]);
    g_assert_cmpuint(req->head, ==, 4);
    /* Given back unused, it stays due. */
    virtqueue_unpop(req);
    req = virtqueue_pop(&copy->vq[0]);
    g_assert_cmpuint(req->head, ==, 4);
    virtqueue_push(req, 8);
    req = virtqueue_pop(&copy->vq[0]);
    g_assert_cmpuint(req->head, ==, 6);
    virtqueue_push(req, 8);
    /* Then what the driver offered since. */
    req = virtqueue_pop(&copy->vq[0]);
    g_assert_cmpuint(req->head, ==, 9);
    virtqueue_push(req, 8);
    g_assert_null(virtqueue_pop(&copy->vq[0]));
    g_assert_cmpuint(used_idx(f), ==, 4);
    g_assert_cmpuint(used_elem(f, 1).id, ==, 4);
    g_assert_cmpuint(used_elem(f, 2).id, ==, 6);
    g_assert_cmpuint(used_elem(f, 3).id, ==, 9);
    g_assert_false(copy->broken);
    virtio_device_cleanup(copy);
    /* The original's requests were never completed: the old device model goes away. */
    virtqueue_push(held[0], 0);
    virtqueue_push(held[2], 0);
    g_free(copy);
    g_free(saved);
    fixture_free(f);
}

/* Random descriptors, biased toward almost-valid ones, pop and push until the device breaks,
 * then reset it: nothing may crash, leak a lock or write outside the buffers it was given. */
static uint32_t storm_next(uint32_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    return *state;
}

static uint64_t storm_addr(uint32_t *st)
{
    switch (storm_next(st) % 8) {
    case 0:
        return OUTSIDE_RAM + storm_next(st) % 0x10000;
    case 1:
        return RAM_SIZE - storm_next(st) % 64;
    case 2:
        return ((uint64_t)storm_next(st) << 32) | storm_next(st);
    case 3:
        return TABLE_GPA + 16u * (storm_next(st) % 8);
    default:
        return BUF_GPA + storm_next(st) % 0x100000;
    }
}

static void storm_fill(struct fixture *f, uint32_t *st)
{
    for (unsigned i = 0; i < QSIZE + 64; i++) {
        uint64_t table = i < QSIZE ? DESC_GPA : TABLE_GPA;
        unsigned idx = i < QSIZE ? i : i - QSIZE;
        uint32_t r = storm_next(st);
        uint32_t len = (r & 3) == 0 ? storm_next(st) : storm_next(st) % 0x2000;
        uint16_t flags = (uint16_t)(storm_next(st) % 8);
        uint16_t next = (uint16_t)((r >> 8) % 8 == 0 ? storm_next(st) : (r >> 8) % QSIZE);

        if ((flags & VIRTQ_DESC_F_INDIRECT) && (r >> 16) % 2 == 0) {
            len = 16u * (1 + (r >> 20) % 8);
            set_desc_at(f, table, idx, TABLE_GPA, len, flags, next);
            continue;
        }
        set_desc_at(f, table, idx, storm_addr(st), len, flags, next);
    }
}

static void test_random_storm(void)
{
    struct fixture *f = fixture_new(ALL_FEATURES);
    struct virtq_request *held[QSIZE];
    uint32_t st = 0x2545f491;
    unsigned served = 0, resets = 0;

    for (unsigned round = 0; round < 3000; round++) {
        unsigned nheld = 0;
        struct virtq_request *req;

        storm_fill(f, &st);
        for (unsigned k = storm_next(&st) % 6; k > 0; k--) {
            avail_add(f, (uint16_t)(storm_next(&st) % (QSIZE + 2)));
        }
        if (storm_next(&st) % 50 == 0) {
            put16(f, AVAIL_GPA + 2, (uint16_t)storm_next(&st));
        }
        while (nheld < QSIZE && (req = virtqueue_pop(&f->vdev.vq[0])) != NULL) {
            g_assert_cmpuint(req->out_num + req->in_num, <=, VIRTQ_MAX_SIZE);
            for (unsigned i = 0; i < req->out_num + req->in_num; i++) {
                g_assert_true((uint8_t *)req->iov[i].base >= f->ram);
                g_assert_true((uint8_t *)req->iov[i].base + req->iov[i].len <=
                              f->ram + RAM_SIZE);
            }
            held[nheld++] = req;
            served++;
        }
        /* Complete in reverse order, writing all they allow. */
        while (nheld > 0) {
            req = held[--nheld];
            for (unsigned i = 0; i < req->in_num; i++) {
                memset(req->in[i].base, 0x5a, req->in[i].len);
            }
            virtqueue_push(req, (uint32_t)XENDM_MIN(req->in_len, UINT32_MAX));
        }
        virtqueue_notify_if_needed(&f->vdev.vq[0]);
        assert_only_ring_locks(f);
        if (f->vdev.broken || storm_next(&st) % 40 == 0) {
            virtio_set_status(&f->vdev, 0, false);
            driver_setup(f, ALL_FEATURES);
            resets++;
        }
    }
    g_test_message("%u requests served, %u resets", served, resets);
    g_assert_cmpuint(served, >, 100);
    g_assert_cmpuint(resets, >, 100);
    fixture_free(f);
}

/* `-m perf`: the cost of one pop and push of a 2-descriptor request, notification included. */
static void test_perf_pop_push(void)
{
    struct fixture *f = fixture_new(ALL_FEATURES);
    struct virtqueue *vq = &f->vdev.vq[0];
    const unsigned rounds = 1000000;
    int64_t start;

    start = g_get_monotonic_time();
    for (unsigned i = 0; i < rounds; i++) {
        struct virtq_request *req;
        uint16_t head = (uint16_t)(2 * (i % (QSIZE / 2)));

        set_desc(f, head, BUF_GPA, 16, VIRTQ_DESC_F_NEXT, (uint16_t)(head + 1));
        set_desc(f, head + 1u, BUF_GPA + 0x1000, 512, VIRTQ_DESC_F_WRITE, 0);
        avail_add(f, head);
        req = virtqueue_pop(vq);
        g_assert_nonnull(req);
        virtqueue_push(req, 512);
        virtqueue_notify_if_needed(vq);
    }
    g_test_message("%.1f ns per pop + push + notify decision",
                   (double)(g_get_monotonic_time() - start) * 1000.0 / rounds);
    fixture_free(f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/virtqueue/single", test_single);
    g_test_add_func("/virtqueue/chain", test_chain);
    g_test_add_func("/virtqueue/indirect", test_indirect);
    g_test_add_func("/virtqueue/out-of-order", test_out_of_order);
    g_test_add_func("/virtqueue/unpop", test_unpop);
    g_test_add_func("/virtqueue/zero-length", test_zero_length);
    g_test_add_func("/virtqueue/longest-chain", test_longest_chain);
    g_test_add_func("/virtqueue/vring-need-event", test_vring_need_event);
    g_test_add_func("/virtqueue/event-idx", test_event_idx);
    g_test_add_func("/virtqueue/no-interrupt-flag", test_no_interrupt_flag);
    g_test_add_func("/virtqueue/index-wrap", test_index_wrap);
    g_test_add_func("/virtqueue/status-rules", test_status_rules);
    g_test_add_func("/virtqueue/reset-in-flight", test_reset_in_flight);
    g_test_add_func("/virtqueue/save-load", test_save_load);
    g_test_add_func("/virtqueue/save-in-flight", test_save_in_flight);
    g_test_add_func("/virtqueue/bad-rings", test_bad_rings);
    if (g_test_perf()) {
        g_test_add_func("/virtqueue/perf/pop-push", test_perf_pop_push);
    }
    g_test_add_func("/virtqueue/hostile/indirect-not-negotiated", test_indirect_not_negotiated);
    g_test_add_func("/virtqueue/hostile/random-storm", test_random_storm);
    for (size_t i = 0; i < ARRAY_SIZE(hostile_cases); i++) {
        char *path = g_strdup_printf("/virtqueue/hostile/%s", hostile_cases[i].name);

        g_test_add_data_func(path, &hostile_cases[i], hostile_case);
        g_free(path);
    }
    return g_test_run();
}
