/*
 * The ioreq engine: executes Xen's I/O requests on the machine
 * (reference §1). No Xen library call is made here; accel/xen/ owns the
 * pages and event channels and calls in.
 *
 * Every field of a request is guest-controlled through Xen's emulator, so
 * each is validated before use. A bad request is still answered: reads with
 * data_is_ptr = 0 get all-ones, everything else is dropped, and it is logged
 * with a rate limit.
 */
#include <glib.h>
#include <inttypes.h>

#include "xendm/ioreq.h"
#include "xendm/log.h"
#include "xendm/trace.h"

/* Xen clips a repeated access so that it never covers more than one page (§1.4). */
#define IOREQ_MAX_REP_BYTES XENABI_PAGE_SIZE
#define PCI_CONFIG_SPACE_SIZE 4096u

/* Local requests are built from a shared slot or a ring entry; the flags byte is decoded here. */
struct ioreq_view {
    uint64_t addr;
    uint64_t data;
    uint32_t count;
    uint32_t size;
    unsigned type;
    bool is_read;
    bool data_is_ptr;
    bool df;
};

static void view_from_req(const struct xenabi_ioreq *req, struct ioreq_view *v)
{
    v->addr = req->addr;
    v->data = req->data;
    v->count = req->count;
    v->size = req->size;
    v->type = req->type;
    v->is_read = xenabi_ioreq_is_read(req->flags);
    v->data_is_ptr = xenabi_ioreq_data_is_ptr(req->flags);
    v->df = xenabi_ioreq_df(req->flags);
}

/* The address of item i of a repeated access: steps of `size`, downwards with df. */
static uint64_t rep_address(uint64_t base, uint32_t i, uint32_t size, bool df)
{
    uint64_t step = (uint64_t)i * size;
    return df ? base - step : base + step;
}

static void store_le(uint8_t *buf, uint64_t value, unsigned size)
{
    for (unsigned i = 0; i < size; i++) {
        buf[i] = (uint8_t)(value >> (8 * i));
    }
}

static uint64_t load_le(const uint8_t *buf, unsigned size)
{
    uint64_t value = 0;

    for (unsigned i = 0; i < size; i++) {
        value |= (uint64_t)buf[i] << (8 * i);
    }
    return value;
}

/* An access of 1, 2, 4 or 8 bytes; PIO and PCI config further exclude 8. */
static bool is_access_size(uint32_t size)
{
    return size == 1 || size == 2 || size == 4 || size == 8;
}

static const char *ioreq_type_name(unsigned type)
{
    switch (type) {
    case XENABI_IOREQ_TYPE_PIO: return "pio";
    case XENABI_IOREQ_TYPE_COPY: return "copy";
    case XENABI_IOREQ_TYPE_PCI_CONFIG: return "pci-config";
    case XENABI_IOREQ_TYPE_TIMEOFFSET: return "timeoffset";
    case XENABI_IOREQ_TYPE_INVALIDATE: return "invalidate";
    default: return "unknown";
    }
}

/* Answers a request that cannot be executed, as an absent device would. */
static void ioreq_reject(const struct ioreq_view *v, const char *why, struct ioreq_stats *stats)
{
    stats->invalid++;
    TRACE(ioreq_invalid, "type=%u dir=%c size=%u count=%u addr=0x%" PRIx64 " why=%s", v->type,
          v->is_read ? 'r' : 'w', v->size, v->count, v->addr, why);
    log_guest_error("invalid ioreq (%s): type=%u(%s) dir=%s size=%u count=%u ptr=%d"
                    " addr=0x%" PRIx64,
                    why, v->type, ioreq_type_name(v->type), v->is_read ? "read" : "write",
                    v->size, v->count, v->data_is_ptr, v->addr);
}

static void reject_read_value(struct ioreq_view *v)
{
    if (v->is_read && !v->data_is_ptr) {
        v->data = all_ones(is_access_size(v->size) ? v->size : 8);
    }
}

/*
 * Count checks common to PIO and COPY: never 0; a repeated access covers at
 * most the page Xen clips it to.
 */
static const char *check_rep_count(const struct ioreq_view *v)
{
    if (v->count == 0) {
        return "count is 0";
    }
    if ((uint64_t)v->count * v->size > IOREQ_MAX_REP_BYTES) {
        return "repeat spans more than a page";
    }
    return NULL;
}

/* ---- PIO ---- */

static const char *check_pio(const struct ioreq_view *v)
{
    if (!is_access_size(v->size) || v->size == 8) {
        return "bad PIO size";
    }
    if (v->count != 1 && !v->data_is_ptr) {
        return "repeated PIO without a buffer";
    }
    return check_rep_count(v);
}

/* REP INS / REP OUTS: a fixed port, guest RAM at data stepping by size. */
static void pio_rep(struct machine *m, const struct ioreq_view *v)
{
    uint8_t buf[8];

    for (uint32_t i = 0; i < v->count; i++) {
        uint64_t gpa = rep_address(v->data, i, v->size, v->df);
        if (v->is_read) {
            store_le(buf, address_space_read(m->io, v->addr, v->size), v->size);
            if (guest_write(m, gpa, buf, v->size) != 0) {
                log_guest_error("REP INS to port 0x%" PRIx64 ": buffer 0x%" PRIx64
                                " is not guest RAM", v->addr, gpa);
                return;
            }
        } else {
            if (guest_read(m, gpa, buf, v->size) != 0) {
                log_guest_error("REP OUTS to port 0x%" PRIx64 ": buffer 0x%" PRIx64
                                " is not guest RAM", v->addr, gpa);
                return;
            }
            address_space_write(m->io, v->addr, load_le(buf, v->size), v->size);
        }
    }
}

static void execute_pio(struct machine *m, struct ioreq_view *v, struct ioreq_stats *stats)
{
    const char *why = check_pio(v);

    if (why != NULL) {
        ioreq_reject(v, why, stats);
        reject_read_value(v);
        return;
    }
    if (v->data_is_ptr) {
        pio_rep(m, v);
    } else if (v->is_read) {
        v->data = address_space_read(m->io, v->addr, v->size);
    } else {
        address_space_write(m->io, v->addr, v->data & all_ones(v->size), v->size);
    }
}

/* ---- COPY (MMIO) ---- */

/* The span of a repeated access must stay inside the 4 KiB page of addr (§1.4). */
static bool rep_within_page(const struct ioreq_view *v)
{
    uint64_t span = (uint64_t)v->count * v->size;
    uint64_t offset = v->addr & (XENABI_PAGE_SIZE - 1);

    if (v->df) {
        /* Items cover [addr - (count-1)*size, addr + size). */
        return offset + v->size >= span && offset + v->size <= XENABI_PAGE_SIZE;
    }
    return offset + span <= XENABI_PAGE_SIZE;
}

static const char *check_copy(const struct ioreq_view *v)
{
    const char *why;

    if (!is_access_size(v->size)) {
        return "bad MMIO size";
    }
    why = check_rep_count(v);
    if (why != NULL) {
        return why;
    }
    if (v->count > 1 && !rep_within_page(v)) {
        return "repeat crosses a page";
    }
    if (v->count > 1 && !v->data_is_ptr && v->is_read) {
        return "repeated MMIO read without a buffer";
    }
    return NULL;
}

/* REP MOVS between MMIO at addr and guest RAM at data, both stepping. */
static void copy_movs(struct machine *m, const struct ioreq_view *v)
{
    uint8_t buf[8];

    for (uint32_t i = 0; i < v->count; i++) {
        uint64_t mmio = rep_address(v->addr, i, v->size, v->df);
        uint64_t gpa = rep_address(v->data, i, v->size, v->df);
        if (v->is_read) {
            store_le(buf, address_space_read(m->mmio, mmio, v->size), v->size);
            if (guest_write(m, gpa, buf, v->size) != 0) {
                log_guest_error("REP MOVS from MMIO 0x%" PRIx64 ": 0x%" PRIx64
                                " is not guest RAM", mmio, gpa);
                return;
            }
        } else {
            if (guest_read(m, gpa, buf, v->size) != 0) {
                log_guest_error("REP MOVS to MMIO 0x%" PRIx64 ": 0x%" PRIx64
                                " is not guest RAM", mmio, gpa);
                return;
            }
            address_space_write(m->mmio, mmio, load_le(buf, v->size), v->size);
        }
    }
}

static void execute_copy(struct machine *m, struct ioreq_view *v, struct ioreq_stats *stats)
{
    const char *why = check_copy(v);

    if (why != NULL) {
        ioreq_reject(v, why, stats);
        reject_read_value(v);
        return;
    }
    if (v->data_is_ptr) {
        copy_movs(m, v);
    } else if (v->is_read) {
        v->data = address_space_read(m->mmio, v->addr, v->size);
    } else {
        /* count 1 is a plain store, count > 1 REP STOS: the same value at each item. */
        uint64_t value = v->data & all_ones(v->size);
        for (uint32_t i = 0; i < v->count; i++) {
            address_space_write(m->mmio, rep_address(v->addr, i, v->size, v->df), value,
                                v->size);
        }
    }
}

/* ---- PCI_CONFIG ---- */

static const char *check_pci(const struct ioreq_view *v)
{
    if (!is_access_size(v->size) || v->size == 8) {
        return "bad PCI config size";
    }
    if (v->count != 1 || v->data_is_ptr) {
        return "repeated PCI config access";
    }
    if ((uint64_t)xenabi_pci_reg(v->addr) + v->size > PCI_CONFIG_SPACE_SIZE) {
        return "PCI config register beyond 4 KiB";
    }
    return NULL;
}

static void execute_pci(struct machine *m, struct ioreq_view *v, struct ioreq_stats *stats)
{
    const char *why = check_pci(v);
    uint32_t sbdf = xenabi_pci_sbdf(v->addr), reg = xenabi_pci_reg(v->addr);

    if (why != NULL) {
        ioreq_reject(v, why, stats);
        reject_read_value(v);
        return;
    }
    if (v->is_read) {
        v->data = m->pci_config_read != NULL
                      ? m->pci_config_read(m->pci_opaque, sbdf, reg, v->size) & all_ones(v->size)
                      : all_ones(v->size);
    } else if (m->pci_config_write != NULL) {
        m->pci_config_write(m->pci_opaque, sbdf, reg, v->data & all_ones(v->size), v->size);
    }
}

/* ---- TIMEOFFSET, INVALIDATE ---- */

static void execute_timeoffset(struct machine *m, const struct ioreq_view *v)
{
    int64_t delta = (int64_t)v->data, sum;

    /* The value comes from the guest's RTC writes: saturate rather than overflow. */
    if (__builtin_add_overflow(m->rtc_offset_seconds, delta, &sum)) {
        sum = delta > 0 ? INT64_MAX : INT64_MIN;
    }
    m->rtc_offset_seconds = sum;
    if (m->rtc_change_observer != NULL) {
        m->rtc_change_observer(m->rtc_change_observer_opaque, sum);
    }
}

static void execute_invalidate(struct machine *m, struct ioreq_stats *stats)
{
    stats->invalidates++;
    if (m->mapcache != NULL) {
        mapcache_invalidate(m->mapcache);
    }
}

static void execute_view(struct machine *m, struct ioreq_view *v, struct ioreq_stats *stats)
{
    switch (v->type) {
    case XENABI_IOREQ_TYPE_PIO:
        execute_pio(m, v, stats);
        break;
    case XENABI_IOREQ_TYPE_COPY:
        execute_copy(m, v, stats);
        break;
    case XENABI_IOREQ_TYPE_PCI_CONFIG:
        execute_pci(m, v, stats);
        break;
    case XENABI_IOREQ_TYPE_TIMEOFFSET:
        execute_timeoffset(m, v);
        break;
    case XENABI_IOREQ_TYPE_INVALIDATE:
        execute_invalidate(m, stats);
        break;
    default:
        ioreq_reject(v, "unknown type", stats);
        reject_read_value(v);
        break;
    }
}

void ioreq_execute(struct machine *m, struct xenabi_ioreq *req, struct ioreq_stats *stats)
{
    struct ioreq_view v;

    view_from_req(req, &v);
    execute_view(m, &v, stats);
    if (v.is_read && !v.data_is_ptr) {
        req->data = v.data;
    }
}

/* ---- buffered ring (§1.6) ---- */

/* At most two rings' worth per call, so a producer that keeps writing cannot starve the loop. */
#define BUFFERED_MAX_PER_DRAIN (2 * XENABI_IOREQ_BUFFER_SLOT_NUM)
/*
 * Xen moves the read pointer only when it rebases both pointers, once per ring's worth of
 * entries: a snapshot that keeps failing is a broken producer, not a reason to spin.
 */
#define BUFFERED_MAX_SNAPSHOT_RETRIES 64

static void buffered_protocol_error(const char *why, uint32_t r, uint32_t w)
{
    static struct log_ratelimit rl;
    log_limited(&rl, "buffered ioreq ring protocol error: %s (read %u, write %u)", why, r, w);
}

/* Reads both pointers consistently; false when the read pointer moved in between (retry). */
static bool buffered_snapshot(struct xenabi_buffered_iopage *page, uint32_t *r, uint32_t *w)
{
    *r = __atomic_load_n(&page->read_pointer, __ATOMIC_ACQUIRE);
    *w = __atomic_load_n(&page->write_pointer, __ATOMIC_ACQUIRE);
    return __atomic_load_n(&page->read_pointer, __ATOMIC_ACQUIRE) == *r;
}

static struct xenabi_buf_ioreq buffered_slot(struct xenabi_buffered_iopage *page, uint32_t index)
{
    const struct xenabi_buf_ioreq *slot = &page->slot[index % XENABI_IOREQ_BUFFER_SLOT_NUM];
    struct xenabi_buf_ioreq copy;

    copy.word = __atomic_load_n(&slot->word, __ATOMIC_RELAXED);
    copy.data = __atomic_load_n(&slot->data, __ATOMIC_RELAXED);
    return copy;
}

/*
 * Decodes the entry at r into a request of count 1 and returns the number of
 * slots it takes (1 or 2), or 0 on a protocol error.
 */
static unsigned buffered_decode(struct xenabi_buffered_iopage *page, uint32_t r, uint32_t w,
                                struct ioreq_view *v)
{
    struct xenabi_buf_ioreq lo = buffered_slot(page, r);
    unsigned slots = 1;

    memset(v, 0, sizeof(*v));
    v->type = xenabi_buf_type(lo.word);
    v->size = xenabi_buf_size(lo.word);
    v->addr = xenabi_buf_addr(lo.word);
    v->data = lo.data;
    v->count = 1;
    /* Xen buffers writes only; whatever the dir bit says, an entry is executed as a write. */
    v->is_read = false;
    if (v->size == 8) {
        if (w - r < 2) {
            buffered_protocol_error("8-byte entry with only its low half published", r, w);
            return 0;
        }
        v->data |= (uint64_t)buffered_slot(page, r + 1).data << 32;
        slots = 2;
    }
    return slots;
}

int ioreq_drain_buffered(struct machine *m, struct xenabi_buffered_iopage *page,
                         struct ioreq_stats *stats)
{
    int consumed = 0;
    unsigned retries = 0;

    while (consumed < BUFFERED_MAX_PER_DRAIN) {
        struct ioreq_view v;
        uint32_t r, w;
        unsigned slots;

        if (!buffered_snapshot(page, &r, &w)) {
            if (++retries > BUFFERED_MAX_SNAPSHOT_RETRIES) {
                buffered_protocol_error("read pointer never holds still", r, w);
                return -1;
            }
            continue;
        }
        if (r == w) {
            break;
        }
        if (w - r > XENABI_IOREQ_BUFFER_SLOT_NUM) {
            buffered_protocol_error("write pointer too far ahead", r, w);
            return -1;
        }
        slots = buffered_decode(page, r, w, &v);
        if (slots == 0) {
            return -1;
        }
        /* The slots must be read before the read pointer hands them back to Xen. */
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        TRACE(ioreq_buffered, "type=%u size=%u addr=0x%" PRIx64 " data=0x%" PRIx64, v.type,
              v.size, v.addr, v.data);
        execute_view(m, &v, stats);
        stats->buffered++;
        /* Atomic: in ATOMIC mode Xen may rebase both pointers concurrently. */
        __atomic_fetch_add(&page->read_pointer, slots, __ATOMIC_RELEASE);
        consumed++;
    }
    return consumed;
}

/* ---- the synchronous slot (§1.3) ---- */

/*
 * The request, each field loaded exactly once: the page is shared, and a plain struct copy
 * lets the compiler load a field again later, so a value checked could differ from the value
 * used if the producer wrote the slot meanwhile. `flags` is the acquire-loaded byte.
 */
static struct xenabi_ioreq slot_snapshot(const struct xenabi_ioreq *slot, uint8_t flags)
{
    struct xenabi_ioreq req = {0};

    req.addr = __atomic_load_n(&slot->addr, __ATOMIC_RELAXED);
    req.data = __atomic_load_n(&slot->data, __ATOMIC_RELAXED);
    req.count = __atomic_load_n(&slot->count, __ATOMIC_RELAXED);
    req.size = __atomic_load_n(&slot->size, __ATOMIC_RELAXED);
    req.type = __atomic_load_n(&slot->type, __ATOMIC_RELAXED);
    req.flags = flags;
    return req;
}

bool ioreq_service_slot(struct machine *m, struct xenabi_ioreq *slot,
                        struct xenabi_buffered_iopage *buf, struct ioreq_stats *stats)
{
    uint8_t flags = xenabi_ioreq_load_flags(slot);
    struct xenabi_ioreq req;

    if (xenabi_ioreq_state(flags) != XENABI_STATE_IOREQ_READY) {
        return false;
    }
    xenabi_ioreq_store_flags(slot, xenabi_ioreq_with_state(flags, XENABI_STATE_IOREQ_INPROCESS));
    /* Xen does not order the ring against this request: older buffered writes go first. */
    if (buf != NULL && ioreq_drain_buffered(m, buf, stats) < 0) {
        /* Once per request while the ring stays corrupt: rate-limited like any guest error. */
        log_guest_error("buffered ioreq ring is corrupt; serving the synchronous request anyway");
    }
    /* One copy, after the acquire above: the request is checked and used from it only. */
    req = slot_snapshot(slot, flags);
    TRACE(ioreq_sync, "type=%u dir=%c size=%u count=%u ptr=%d df=%d addr=0x%" PRIx64
          " data=0x%" PRIx64, req.type, xenabi_ioreq_is_read(flags) ? 'r' : 'w', req.size,
          req.count, xenabi_ioreq_data_is_ptr(flags), xenabi_ioreq_df(flags), req.addr,
          req.data);
    ioreq_execute(m, &req, stats);
    stats->sync++;
    if (xenabi_ioreq_is_read(flags) && !xenabi_ioreq_data_is_ptr(flags)) {
        slot->data = req.data;
    }
    xenabi_ioreq_store_flags(slot, xenabi_ioreq_with_state(flags, XENABI_STATE_IORESP_READY));
    return true;
}
