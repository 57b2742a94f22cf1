/*
 * fuzz-virtqueue: the virtio core's split virtqueue (hw/virtio/virtqueue.c) driven directly, as
 * tests/unit/test-virtqueue.c drives it, over a fake guest RAM behind a real mapcache. The input
 * is a driver: it writes descriptor tables, indirect tables and the available ring, and asks the
 * device to pop, push, unpop, notify, reset and save/load. References are to virtio 1.2.
 *
 * RAM is a 1 MiB memfd with a hole at 0xA0000-0xBFFFF (the mapper refuses those pages; they
 * are PROT_NONE in its views); each mapping is a view of its own, as Xen's are. Buckets are
 * 64 KiB so that buffers crossing a bucket take dedicated mappings.
 *
 * Input: a features byte (bit 0 INDIRECT_DESC, bit 1 EVENT_IDX) and a queue size byte (log2,
 * % 9: 1..256), then steps, an op byte (% OP_COUNT) and its operands, little-endian; operands
 * past the end read as zero:
 *
 *   DESC        table u8 (0: the queue's, 1-3: indirect tables at TABLE_GPA(n)) | index u8 |
 *               addr u32 | addr bits 32-39 u8 | len u32 | flags u8 | next u16
 *   AVAIL_ADD   head u16: ring entry, then avail->idx + 1 (§2.7.13)
 *   AVAIL_IDX   idx u16 (raw: backwards or far ahead)
 *   AVAIL_FLAGS flags u16
 *   USED_EVENT  idx u16
 *   POP         virtqueue_pop, checked against a reference walk of the chain
 *   PUSH        which u8 | written u32: virtqueue_push of a held request
 *   UNPOP       the request popped last (only right after its pop, as the contract says)
 *   NOTIFY      virtqueue_notify_if_needed, checked against §2.7.7.2 / §2.7.10
 *   KICK        queue u8
 *   RESET       status 0, then the driver sets the queue up again as before
 *   SETUP       features u8 | size log2 u8 | custom u8 | desc u32 | avail u32 | used u32:
 *               reset and set up (bit 0 of custom: these ring addresses, else the usual ones)
 *   STATUS      status u8 (as a driver writes it; 0 is a reset)
 *   SAVE_LOAD   mutate u8 | field u8 | value u32: save, optionally change one queue 0 field of
 *               the saved state, load into the same device (requests held become stale)
 *   INVALIDATE  mapcache_invalidate (Xen's INVALIDATE ioreq)
 *   RAM         gpa u32 | len u8 | bytes
 *
 * Checked beyond the sanitizers: a popped request is exactly what an independent walk of the
 * descriptors gives (every buffer inside RAM, host pointer = RAM + gpa, lengths and totals as
 * the descriptors say, outs before ins); a chain the walk finds malformed breaks the device;
 * NULL from a healthy, ready queue only when no entry is available; a push of a current request
 * writes exactly one used element {head, min(written, in_len)}, a stale one writes nothing; a
 * broken device stays broken (NEEDS_RESET, no pops, no kicks) until a reset, and told the driver
 * once; notifications as §2.7.7.2 says; no lock left once nothing is held (at a reset, at the
 * end), and the rings' locks constant while nothing is held.
 */
#include <sanitizer/asan_interface.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz-machine.h"
#include "fuzz-target.h"
#include "xendm/machine.h"
#include "xendm/mapcache.h"
#include "xendm/virtio.h"

#define PAGE_SIZE 4096u
#define RAM_SIZE (1u << 20)
#define HOLE_START 0xa0000u
#define HOLE_END 0xc0000u
#define DESC_GPA 0x1000u
#define AVAIL_GPA 0x2000u
#define USED_GPA 0x3000u
#define TABLE_GPA(n) (0x4000u + 0x1000u * (n)) /* indirect tables 0-2: 256 entries each */
#define MAX_STEPS 4096u
#define CHAIN_BYTES_MAX (UINT64_C(1) << 32)

enum op {
    OP_DESC,
    OP_AVAIL_ADD,
    OP_AVAIL_IDX,
    OP_AVAIL_FLAGS,
    OP_USED_EVENT,
    OP_POP,
    OP_PUSH,
    OP_UNPOP,
    OP_NOTIFY,
    OP_KICK,
    OP_RESET,
    OP_SETUP,
    OP_STATUS,
    OP_SAVE_LOAD,
    OP_INVALIDATE,
    OP_RAM,
    OP_COUNT
};


struct setup {
    uint8_t features;
    unsigned log2;
    uint64_t desc, avail, used;
};

struct harness {
    uint8_t *ram;
    struct mapcache *mc;
    struct machine *m;
    struct virtio_device vdev;
    struct virtio_device_info info;
    struct setup setup;
    uint16_t avail_idx; /* the driver's */
    struct virtq_request *held[VIRTQ_MAX_SIZE];
    unsigned n_held;
    struct virtq_request *last_popped; /* unpoppable: nothing happened since its pop */
    unsigned config_notifications, queue_notifications, kicks;
    bool was_broken;
    size_t ring_locks; /* locked buckets + dedicated mappings of the rings alone, or SIZE_MAX */
    GHashTable *views; /* host address -> struct view, the live mappings */
};

static uint8_t *ram_buffer; /* the harness's own view of the RAM file */
static int ram_fd = -1;

static bool gpa_range_is_ram(uint64_t gpa, uint64_t len)
{
    if (len == 0 || gpa + len < gpa || gpa + len > RAM_SIZE) {
        return false;
    }
    return gpa + len <= HOLE_START || gpa >= HOLE_END;
}

/* ---- fake RAM, transport and device ---- */

/*
 * Each mapping is a view of its own of the RAM file, at an address of its own, as Xen's
 * foreign mappings are: the mapcache keys its locks by host address, so views that shared
 * addresses would confuse it in ways Xen never does. Hole pages are PROT_NONE in a view.
 */
struct view {
    uint64_t first_gfn;
    size_t nr;
};

static bool gfn_is_ram(uint64_t gfn)
{
    return gfn < RAM_SIZE / PAGE_SIZE &&
           !(gfn >= HOLE_START / PAGE_SIZE && gfn < HOLE_END / PAGE_SIZE);
}

static void *fake_map(void *opaque, uint64_t first_gfn, size_t nr, bool writable, int *err)
{
    struct harness *h = opaque;
    struct view *v;
    uint8_t *addr;
    bool any = false;

    for (size_t i = 0; i < nr; i++) {
        bool ok = first_gfn + i >= first_gfn && gfn_is_ram(first_gfn + i);
        err[i] = ok ? 0 : -EFAULT;
        any |= ok;
    }
    if (!any) {
        return NULL;
    }
    /* Pages past the file's end are mapped too (then PROT_NONE): the view stays contiguous. */
    addr = mmap(NULL, nr * PAGE_SIZE, PROT_NONE, MAP_SHARED, ram_fd, 0);
    FUZZ_CHECK(addr != MAP_FAILED, "mmap of %zu pages failed", nr);
    for (size_t i = 0; i < nr; i++) {
        if (err[i] == 0) {
            void *page = mmap(addr + i * PAGE_SIZE, PAGE_SIZE, PROT_READ | PROT_WRITE,
                              MAP_SHARED | MAP_FIXED, ram_fd, (off_t)((first_gfn + i) * PAGE_SIZE));
            FUZZ_CHECK(page != MAP_FAILED, "mmap of gfn 0x%lx failed",
                       (unsigned long)(first_gfn + i));
        }
    }
    v = g_new(struct view, 1);
    *v = (struct view){first_gfn, nr};
    g_hash_table_insert(h->views, addr, v);
    return addr;
}

static void fake_unmap(void *opaque, void *addr, size_t nr)
{
    struct harness *h = opaque;
    struct view *v = g_hash_table_lookup(h->views, addr);

    FUZZ_CHECK(v != NULL && v->nr == nr, "unmap of %p (%zu pages): not a live mapping", addr, nr);
    munmap(addr, nr * PAGE_SIZE);
    g_hash_table_remove(h->views, addr);
}

/* The gfn a host address inside a live view maps, or UINT64_MAX. */
static uint64_t host_to_gpa(struct harness *h, const uint8_t *host)
{
    GHashTableIter it;
    gpointer key, value;

    g_hash_table_iter_init(&it, h->views);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        const uint8_t *base = key;
        const struct view *v = value;

        if (host >= base && host < base + v->nr * PAGE_SIZE) {
            return v->first_gfn * PAGE_SIZE + (uint64_t)(host - base);
        }
    }
    return UINT64_MAX;
}

static void fake_notify(void *opaque, bool config, uint16_t vector)
{
    struct harness *h = opaque;

    if (config) {
        h->config_notifications++;
    } else {
        h->queue_notifications++;
    }
}

static const struct virtio_transport_ops fake_transport = {.notify = fake_notify};

static void count_kick(void *opaque, struct virtqueue *vq)
{
    struct harness *h = opaque;

    h->kicks++;
}

static size_t locks(struct harness *h)
{
    struct mapcache_stats s;

    mapcache_get_stats(h->mc, &s);
    return s.locked_buckets + s.dedicated_mappings;
}

static uint16_t ram16(struct harness *h, uint64_t gpa)
{
    uint16_t v = 0xffff;

    if (gpa_range_is_ram(gpa, 2)) {
        memcpy(&v, h->ram + gpa, 2);
    }
    return v;
}

static void put16(struct harness *h, uint64_t gpa, uint16_t v)
{
    if (gpa_range_is_ram(gpa, 2)) {
        memcpy(h->ram + gpa, &v, 2);
    }
}

static struct virtqueue *queue(struct harness *h)
{
    return &h->vdev.vq[0];
}

static void note_rings(struct harness *h)
{
    h->ring_locks = h->n_held == 0 ? locks(h) : SIZE_MAX;
}

/* Driver initialisation (§3.1.1) as h->setup says. */
static void driver_setup(struct harness *h)
{
    struct virtqueue *vq = queue(h);
    uint64_t features = VIRTIO_BIT(VIRTIO_F_VERSION_1);
    uint8_t ok = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;

    features |= (h->setup.features & 1) ? VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) : 0;
    features |= (h->setup.features & 2) ? VIRTIO_BIT(VIRTIO_F_EVENT_IDX) : 0;
    virtio_set_status(&h->vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, false);
    virtio_set_guest_features(&h->vdev, features);
    virtio_set_status(&h->vdev, ok, false);
    h->avail_idx = 0;
    put16(h, h->setup.avail + 2, 0);
    put16(h, h->setup.used + 2, 0);
    vq->num = (uint16_t)(1u << h->setup.log2);
    vq->desc_gpa = h->setup.desc;
    vq->avail_gpa = h->setup.avail;
    vq->used_gpa = h->setup.used;
    vq->vector = 1;
    vq->enabled = true;
    h->config_notifications = 0;
    /* As the PCI transport does on queue_enable (hw/virtio/virtio-pci.c). */
    if (!virtio_queue_map(vq)) {
        virtio_device_set_broken(&h->vdev, "a queue was enabled on rings it cannot use");
    }
    virtio_set_status(&h->vdev, ok | VIRTIO_STATUS_DRIVER_OK, false);
    h->was_broken = h->vdev.broken;
    note_rings(h);
}

/* Status 0 (§2.4): requests held become stale; with none held nothing stays locked. */
static void device_reset(struct harness *h)
{
    virtio_set_status(&h->vdev, 0, false);
    h->last_popped = NULL;
    h->was_broken = false;
    h->config_notifications = 0;
    h->ring_locks = SIZE_MAX;
    FUZZ_CHECK(!h->vdev.broken && h->vdev.status == 0, "reset left status 0x%x",
               h->vdev.status);
    FUZZ_CHECK(virtqueue_in_flight(queue(h)) == 0, "in flight after a reset");
    FUZZ_CHECK(h->n_held > 0 || locks(h) == 0, "%zu locks after a reset with nothing held",
               locks(h));
}

/* ---- the reference walk (§2.7.5, §2.7.5.3): what pop must return for a head ---- */

struct ref_buf {
    uint64_t gpa;
    uint32_t len;
    bool writable;
};

struct ref_walk {
    struct ref_buf buf[VIRTQ_MAX_SIZE];
    unsigned n;
    uint64_t total;
    bool seen_writable;
};

static bool ref_add(struct ref_walk *r, const struct virtq_desc *d)
{
    bool writable = d->flags & VIRTQ_DESC_F_WRITE;

    if (!writable && r->seen_writable) {
        return false; /* §2.7.4.2: every readable buffer precedes every writable one */
    }
    r->seen_writable |= writable;
    if (d->len == 0) {
        return true;
    }
    r->total += d->len;
    if (r->total > CHAIN_BYTES_MAX || r->n >= VIRTQ_MAX_SIZE ||
        !gpa_range_is_ram(d->addr, d->len)) {
        return false;
    }
    r->buf[r->n++] = (struct ref_buf){d->addr, d->len, writable};
    return true;
}

/* Walks a table; *indirect set when the chain ends in an indirect descriptor. */
static bool ref_table(struct harness *h, struct ref_walk *r, uint64_t table, unsigned entries,
                      unsigned idx, bool nested, struct virtq_desc *indirect)
{
    indirect->flags = 0;
    for (unsigned steps = 0; steps < entries; steps++) {
        struct virtq_desc d;

        memcpy(&d, h->ram + table + 16u * idx, sizeof(d));
        if (d.flags & VIRTQ_DESC_F_INDIRECT) {
            *indirect = d;
            return !nested && !(d.flags & VIRTQ_DESC_F_NEXT);
        }
        if (!ref_add(r, &d)) {
            return false;
        }
        if (!(d.flags & VIRTQ_DESC_F_NEXT)) {
            return true;
        }
        idx = d.next;
        if (idx >= entries) {
            return false;
        }
    }
    return false; /* more steps than descriptors: a loop */
}

static bool ref_chain(struct harness *h, struct ref_walk *r, uint16_t head)
{
    struct virtqueue *vq = queue(h);
    struct virtq_desc ind, nested;

    r->n = 0;
    r->total = 0;
    r->seen_writable = false;
    if (!ref_table(h, r, vq->desc_gpa, vq->num, head, false, &ind)) {
        return false;
    }
    if (!(ind.flags & VIRTQ_DESC_F_INDIRECT)) {
        return true;
    }
    if (!virtio_has_feature(&h->vdev, VIRTIO_F_INDIRECT_DESC) || ind.len == 0 || ind.len % 16 ||
        ind.len / 16 > VIRTQ_MAX_SIZE || !gpa_range_is_ram(ind.addr, ind.len)) {
        return false;
    }
    return ref_table(h, r, ind.addr, ind.len / 16, 0, true, &nested);
}

/* ---- steps ---- */

static bool queue_serving(struct harness *h)
{
    return virtqueue_ready(queue(h)) && !h->vdev.broken &&
           (h->vdev.status & VIRTIO_STATUS_DRIVER_OK);
}

static int resubmit_head(const struct virtqueue *vq)
{
    for (unsigned h = 0; h < VIRTQ_MAX_SIZE; h++) {
        if ((vq->resubmit[h / 32] >> (h % 32)) & 1) {
            return (int)h;
        }
    }
    return -1;
}

static void check_request(struct harness *h, const struct virtq_request *req,
                          const struct ref_walk *r)
{
    uint64_t out_len = 0, in_len = 0;

    FUZZ_CHECK(req->out_num + req->in_num == r->n, "pop: %u+%u buffers, the chain has %u",
               req->out_num, req->in_num, r->n);
    FUZZ_CHECK(req->out == req->iov && req->in == req->iov + req->out_num, "pop: iov layout");
    for (unsigned i = 0; i < r->n; i++) {
        const struct virtq_iovec *v = &req->iov[i];

        FUZZ_CHECK(v->gpa == r->buf[i].gpa && v->len == r->buf[i].len,
                   "pop: buffer %u is 0x%lx+%u, the descriptor says 0x%lx+%u", i,
                   (unsigned long)v->gpa, v->len, (unsigned long)r->buf[i].gpa, r->buf[i].len);
        FUZZ_CHECK((i >= req->out_num) == r->buf[i].writable, "pop: buffer %u direction", i);
        FUZZ_CHECK(host_to_gpa(h, v->base) == v->gpa &&
                   host_to_gpa(h, (uint8_t *)v->base + v->len - 1) == v->gpa + v->len - 1,
                   "pop: buffer %u's host pointer does not map gpa 0x%lx", i,
                   (unsigned long)v->gpa);
        *(i < req->out_num ? &out_len : &in_len) += v->len;
    }
    FUZZ_CHECK(out_len == req->out_len && in_len == req->in_len,
               "pop: totals %lu/%lu, buffers sum to %lu/%lu", (unsigned long)req->out_len,
               (unsigned long)req->in_len, (unsigned long)out_len, (unsigned long)in_len);
}

static void step_pop(struct harness *h)
{
    struct virtqueue *vq = queue(h);
    bool serving = queue_serving(h), expect_broken = false, expect_none = false;
    uint16_t head = 0, last = vq->last_avail_idx;
    int again = resubmit_head(vq);
    struct ref_walk *r = g_malloc(sizeof(*r));
    struct virtq_request *req;

    if (!serving) {
        expect_none = true;
    } else if (again >= 0) {
        head = (uint16_t)again;
        expect_broken = !ref_chain(h, r, head);
    } else {
        uint16_t idx = vq->shadow_avail_idx != last ? vq->shadow_avail_idx
                                                    : ram16(h, vq->avail_gpa + 2);
        uint16_t pending = (uint16_t)(idx - last);

        head = ram16(h, vq->avail_gpa + 4 + 2u * (last & (vq->num - 1)));
        expect_none = pending == 0;
        expect_broken = pending > vq->num ||
                        (pending && (head >= vq->num ||
                                     ((vq->in_use[head / 32] >> (head % 32)) & 1) ||
                                     !ref_chain(h, r, head)));
    }
    req = virtqueue_pop(vq);
    h->last_popped = NULL;
    if (expect_none || expect_broken) {
        FUZZ_CHECK(req == NULL, "pop returned head %u, expected %s", req->head,
                   expect_none ? "nothing" : "a broken device");
        FUZZ_CHECK(!expect_broken || h->vdev.broken, "pop: head %u is malformed, not broken",
                   head);
        FUZZ_CHECK(!(expect_none && serving) || !h->vdev.broken,
                   "pop: an empty queue broke the device (%s)", h->vdev.broken_reason);
        goto out;
    }
    FUZZ_CHECK(req != NULL, "pop: head %u is well formed, yet %s", head,
               h->vdev.broken ? h->vdev.broken_reason : "nothing popped");
    FUZZ_CHECK(req->head == head && req->resubmitted == (again >= 0), "pop: head %u, not %u",
               req->head, head);
    check_request(h, req, r);
    FUZZ_CHECK(vq->last_avail_idx == (uint16_t)(last + (again < 0)), "pop: last_avail_idx");
    FUZZ_CHECK(h->n_held < VIRTQ_MAX_SIZE, "more requests in flight than heads");
    h->held[h->n_held++] = req;
    h->last_popped = req;
out:
    g_free(r);
}

static struct virtq_request *take_held(struct harness *h, unsigned which)
{
    struct virtq_request *req = h->held[which];

    h->held[which] = h->held[--h->n_held];
    return req;
}

static void step_push(struct harness *h, unsigned which, uint32_t written)
{
    struct virtqueue *vq = queue(h);
    struct virtq_request *req;
    struct virtq_used_elem e;
    bool current;
    uint16_t before, ram_before, head, slot;
    uint64_t expect_len;

    if (h->n_held == 0) {
        return;
    }
    req = take_held(h, which % h->n_held);
    current = req->epoch == vq->epoch && virtqueue_ready(vq) && !h->vdev.broken;
    before = vq->used_idx;
    ram_before = ram16(h, vq->used_gpa + 2);
    expect_len = written < req->in_len ? written : req->in_len;
    head = req->head;
    slot = vq->used_idx & (vq->num - 1);
    virtqueue_push(req, written);
    h->last_popped = NULL;
    if (!current) {
        FUZZ_CHECK(vq->used_idx == before && ram16(h, vq->used_gpa + 2) == ram_before,
                   "a stale or broken push moved used idx");
        return;
    }
    FUZZ_CHECK(ram16(h, vq->used_gpa + 2) == (uint16_t)(before + 1), "push: used idx %u -> %u",
               before, ram16(h, vq->used_gpa + 2));
    memcpy(&e, h->ram + vq->used_gpa + 4 + 8u * slot, sizeof(e));
    FUZZ_CHECK(e.id == head && e.len == expect_len, "push: used elem {%u, %u}, not {%u, %lu}",
               e.id, e.len, head, (unsigned long)expect_len);
}

static void step_unpop(struct harness *h)
{
    struct virtqueue *vq = queue(h);
    struct virtq_request *req = h->last_popped;
    uint16_t last = vq->last_avail_idx;
    bool resubmitted;

    if (req == NULL) {
        return;
    }
    resubmitted = req->resubmitted;
    for (unsigned i = 0; i < h->n_held; i++) {
        if (h->held[i] == req) {
            take_held(h, i);
            break;
        }
    }
    virtqueue_unpop(req);
    h->last_popped = NULL;
    FUZZ_CHECK(vq->last_avail_idx == (uint16_t)(last - !resubmitted), "unpop: last_avail_idx");
}

/* §2.7.7.2 with EVENT_IDX (§2.7.10), else the NO_INTERRUPT flag. */
static void step_notify(struct harness *h)
{
    struct virtqueue *vq = queue(h);
    bool expect = vq->pushed_since_notify && virtqueue_ready(vq) && !h->vdev.broken;
    unsigned before = h->queue_notifications;

    if (expect && virtio_has_feature(&h->vdev, VIRTIO_F_EVENT_IDX)) {
        uint16_t used_event = ram16(h, vq->avail_gpa + 4 + 2u * vq->num);
        expect = !vq->signalled_used_valid ||
                 vring_need_event(used_event, vq->used_idx, vq->signalled_used);
    } else if (expect) {
        expect = !(ram16(h, vq->avail_gpa) & VIRTQ_AVAIL_F_NO_INTERRUPT);
    }
    virtqueue_notify_if_needed(vq);
    FUZZ_CHECK(h->queue_notifications - before == (unsigned)expect,
               "notify: %u notifications, expected %d", h->queue_notifications - before, expect);
}

static void step_kick(struct harness *h, unsigned index)
{
    unsigned before = h->kicks;
    bool expect = index == 0 && queue_serving(h);

    virtio_queue_kick(&h->vdev, index);
    FUZZ_CHECK(h->kicks - before == (unsigned)expect, "kick of queue %u delivered %u times",
               index, h->kicks - before);
}

static void step_desc(struct harness *h, struct fuzz_cursor *c)
{
    unsigned table = (unsigned)fuzz_take(c, 1) % 4, index = (unsigned)fuzz_take(c, 1);
    struct virtq_desc d;
    uint64_t base = table ? TABLE_GPA(table - 1) : queue(h)->desc_gpa;

    d.addr = fuzz_take(c, 4) | fuzz_take(c, 1) << 32;
    d.len = (uint32_t)fuzz_take(c, 4);
    d.flags = (uint16_t)fuzz_take(c, 1);
    d.next = (uint16_t)fuzz_take(c, 2);
    if (gpa_range_is_ram(base + 16u * index, sizeof(d))) {
        memcpy(h->ram + base + 16u * index, &d, sizeof(d));
    }
}

static void step_setup(struct harness *h, struct fuzz_cursor *c)
{
    struct setup s = {.features = (uint8_t)fuzz_take(c, 1)};
    bool custom;

    s.log2 = (unsigned)fuzz_take(c, 1) % 9;
    custom = fuzz_take(c, 1) & 1;
    s.desc = custom ? fuzz_take(c, 4) : DESC_GPA;
    s.avail = custom ? fuzz_take(c, 4) : AVAIL_GPA;
    s.used = custom ? fuzz_take(c, 4) : USED_GPA;
    device_reset(h);
    h->setup = s;
    driver_setup(h);
}

static void step_save_load(struct harness *h, struct fuzz_cursor *c)
{
    struct virtio_saved *a = g_malloc0(sizeof(*a)), *b = g_malloc0(sizeof(*b));
    uint8_t mutate = (uint8_t)fuzz_take(c, 1), field = (uint8_t)fuzz_take(c, 1);
    uint32_t value = (uint32_t)fuzz_take(c, 4);
    bool was_broken = h->vdev.broken;

    virtio_device_save(&h->vdev, a);
    if (mutate & 1) {
        switch (field % 6) {
        case 0: a->q_num[0] = (uint16_t)value; break;
        case 1: a->q_last_avail[0] = (uint16_t)value; break;
        case 2: a->q_used_idx[0] = (uint16_t)value; break;
        case 3: a->q_in_flight[value / 32 % 8] ^= 1u << (value % 32); break;
        case 4: a->q_desc[0] = value; break;
        case 5: a->q_enabled[0] = value & 1; break;
        }
    }
    virtio_device_load(&h->vdev, a);
    h->last_popped = NULL;
    FUZZ_CHECK(!was_broken || h->vdev.broken, "a load repaired a broken device");
    if (!(mutate & 1)) {
        /* Unchanged state: save -> load -> save is the identity. */
        virtio_device_save(&h->vdev, b);
        FUZZ_CHECK(memcmp(a, b, sizeof(*a)) == 0, "save -> load -> save differs");
        FUZZ_CHECK(h->vdev.broken == was_broken, "a load broke a healthy device");
    }
    h->was_broken = h->vdev.broken;
    note_rings(h);
    g_free(a);
    g_free(b);
}

static void step_ram(struct harness *h, struct fuzz_cursor *c)
{
    uint32_t gpa = (uint32_t)fuzz_take(c, 4);
    unsigned len = (unsigned)fuzz_take(c, 1);

    for (unsigned i = 0; i < len; i++) {
        uint8_t byte = (uint8_t)fuzz_take(c, 1);
        uint64_t at = ((uint64_t)gpa + i) % RAM_SIZE;

        if (gpa_range_is_ram(at, 1)) {
            h->ram[at] = byte;
        }
    }
}

static void run_step(struct harness *h, enum op op, struct fuzz_cursor *c)
{
    struct virtqueue *vq = queue(h);

    switch (op) {
    case OP_DESC: step_desc(h, c); break;
    case OP_AVAIL_ADD: {
        uint16_t head = (uint16_t)fuzz_take(c, 2);
        put16(h, vq->avail_gpa + 4 + 2u * (h->avail_idx & (vq->num - 1)), head);
        h->avail_idx++;
        put16(h, vq->avail_gpa + 2, h->avail_idx);
        break;
    }
    case OP_AVAIL_IDX:
        h->avail_idx = (uint16_t)fuzz_take(c, 2);
        put16(h, vq->avail_gpa + 2, h->avail_idx);
        break;
    case OP_AVAIL_FLAGS: put16(h, vq->avail_gpa, (uint16_t)fuzz_take(c, 2)); break;
    case OP_USED_EVENT: put16(h, vq->avail_gpa + 4 + 2u * vq->num, (uint16_t)fuzz_take(c, 2)); break;
    case OP_POP: step_pop(h); break;
    case OP_PUSH: {
        unsigned which = (unsigned)fuzz_take(c, 1);
        step_push(h, which, (uint32_t)fuzz_take(c, 4));
        break;
    }
    case OP_UNPOP: step_unpop(h); break;
    case OP_NOTIFY: step_notify(h); break;
    case OP_KICK: step_kick(h, (unsigned)fuzz_take(c, 1)); break;
    case OP_RESET:
        device_reset(h);
        driver_setup(h);
        break;
    case OP_SETUP: step_setup(h, c); break;
    case OP_STATUS: {
        uint8_t status = (uint8_t)fuzz_take(c, 1);
        if (status == 0) {
            device_reset(h);
        } else {
            virtio_set_status(&h->vdev, status, false);
        }
        break;
    }
    case OP_SAVE_LOAD: step_save_load(h, c); break;
    case OP_INVALIDATE: mapcache_invalidate(h->mc); break;
    case OP_RAM: step_ram(h, c); break;
    case OP_COUNT: break;
    }
}

/* After every step. */
static void check_invariants(struct harness *h)
{
    struct virtqueue *vq = queue(h);

    if (h->was_broken) {
        FUZZ_CHECK(h->vdev.broken, "a broken device healed without a reset");
    }
    if (h->vdev.broken) {
        FUZZ_CHECK(h->vdev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET, "broken without NEEDS_RESET");
        if (!h->was_broken && (h->vdev.status & VIRTIO_STATUS_DRIVER_OK)) {
            FUZZ_CHECK(h->config_notifications == 1, "broke with %u config notifications",
                       h->config_notifications);
        }
        h->was_broken = true;
    }
    FUZZ_CHECK(vq->in_flight <= h->n_held, "%u in flight, %u held", vq->in_flight, h->n_held);
    if (h->n_held == 0 && h->ring_locks != SIZE_MAX) {
        FUZZ_CHECK(locks(h) == h->ring_locks, "nothing held, yet %zu locks (rings: %zu)",
                   locks(h), h->ring_locks);
    }
    if (h->n_held == 0 && h->ring_locks == SIZE_MAX) {
        note_rings(h);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet_logs();
    ram_fd = memfd_create("fuzz-virtqueue-ram", 0);
    if (ram_fd < 0 || ftruncate(ram_fd, RAM_SIZE) != 0) {
        fuzz_fail("no memfd for guest RAM");
    }
    ram_buffer = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, ram_fd, 0);
    FUZZ_CHECK(ram_buffer != MAP_FAILED, "mmap of guest RAM failed");
    ASAN_POISON_MEMORY_REGION(ram_buffer + HOLE_START, HOLE_END - HOLE_START);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct mapcache_config cfg = {.bucket_shift = 16, .max_buckets = RAM_SIZE >> 16};
    struct harness *h = g_new0(struct harness, 1);
    struct mapcache_mapper mapper = {.map = fake_map, .unmap = fake_unmap, .opaque = h};
    struct fuzz_cursor c = {data, size};

    h->ram = ram_buffer;
    h->views = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    memset(h->ram, 0, HOLE_START);
    memset(h->ram + HOLE_END, 0, RAM_SIZE - HOLE_END);
    h->mc = mapcache_new(&mapper, &cfg);
    h->m = machine_new();
    h->m->mapcache = h->mc;
    h->info = (struct virtio_device_info){
        .name = "fuzz-virtio",
        .device_id = VIRTIO_ID_RNG,
        .num_queues = 2,
        .queue_max_size = VIRTQ_MAX_SIZE,
        .queue_notify = count_kick,
    };
    virtio_device_init(&h->vdev, h->m, &h->info, h, &fake_transport, h);
    h->setup = (struct setup){.features = (uint8_t)fuzz_take(&c, 1),
                              .log2 = (unsigned)fuzz_take(&c, 1) % 9,
                              .desc = DESC_GPA, .avail = AVAIL_GPA, .used = USED_GPA};
    driver_setup(h);
    for (unsigned steps = 0; c.left > 0 && steps < MAX_STEPS; steps++) {
        run_step(h, (enum op)(fuzz_take(&c, 1) % OP_COUNT), &c);
        check_invariants(h);
    }
    /* Every request completed (some stale): only the rings are locked, then nothing. */
    while (h->n_held > 0) {
        virtqueue_push(take_held(h, h->n_held - 1), 0);
    }
    FUZZ_CHECK(virtqueue_in_flight(queue(h)) == 0, "in flight after every push");
    virtio_device_cleanup(&h->vdev);
    FUZZ_CHECK(locks(h) == 0, "%zu locks after every request was pushed and the rings unmapped",
               locks(h));
    h->m->mapcache = NULL;
    machine_free(h->m);
    mapcache_free(h->mc);
    FUZZ_CHECK(g_hash_table_size(h->views) == 0, "%u mappings outlive the mapcache",
               g_hash_table_size(h->views));
    g_hash_table_destroy(h->views);
    g_free(h);
    return 0;
}
