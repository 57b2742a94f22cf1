/*
 * ioreq servers with Xen 4.17's rules (reference §1-§2): claims by range and
 * by PCI SBDF, the 0xCF8 latch, the buffered ring for single writes to the
 * VGA window, the synchronous slot protocol, REP MMIO clipping and the
 * INVALIDATE/TIMEOFFSET broadcasts. Also the vCPU side of an access: each
 * access becomes exactly the ioreq a vCPU would produce.
 */
#include <errno.h>
#include <string.h>

#include "xensim.h"

#define VGA_WINDOW_START 0xa0000ull
#define VGA_WINDOW_END 0xbffffull
#define BUF_ADDR_MAX 0xfffffull
/* Legacy (gfn) ioreq pages sit in the special-page area below the BIOS. */
#define LEGACY_GFN_BASE 0xfef00ull
/* Xen's vLAPIC page at the APIC's reset base (x86/hvm/vlapic.c); x2APIC is not modelled. */
#define LAPIC_PAGE_START 0xfee00000ull
#define LAPIC_PAGE_END 0xfee00fffull

static void vcpu_complete(struct xsim *xs, struct xsim_vcpu *v, int status, uint64_t data);

struct xsim_ioreq_server *xsim_server_get(struct xsim *xs, unsigned id)
{
    if (id >= XSIM_MAX_SERVERS || !xs->servers[id].in_use)
        return NULL;
    return &xs->servers[id];
}

struct xsim_ioreq_server *xsim_server_first_enabled(struct xsim *xs)
{
    for (unsigned i = 0; i < XSIM_MAX_SERVERS; i++) {
        if (xs->servers[i].in_use && xs->servers[i].enabled)
            return &xs->servers[i];
    }
    return NULL;
}

static struct xenabi_ioreq *server_slot(struct xsim *xs, struct xsim_ioreq_server *s,
                                        unsigned vcpu)
{
    struct xenabi_ioreq *page = xsim_mem_page_ptr(&xs->mem, s->shared_page);
    return &page[vcpu];
}

/* ------------------------------------------------------------------ rangesets */

/*
 * Like Xen's rangeset: sorted, disjoint, adjacent ranges merged; the limit
 * counts the ranges actually stored.
 */
static bool rangeset_overlaps(GArray *rs, uint64_t start, uint64_t end)
{
    for (guint i = 0; i < rs->len; i++) {
        struct xsim_range *r = &g_array_index(rs, struct xsim_range, i);
        if (r->start <= end && start <= r->end)
            return true;
    }
    return false;
}

static bool rangeset_contains(GArray *rs, uint64_t start, uint64_t end)
{
    for (guint i = 0; i < rs->len; i++) {
        struct xsim_range *r = &g_array_index(rs, struct xsim_range, i);
        if (r->start <= start && end <= r->end)
            return true;
    }
    return false;
}

static void rangeset_merge(GArray *rs)
{
    for (guint i = 0; i + 1 < rs->len;) {
        struct xsim_range *a = &g_array_index(rs, struct xsim_range, i);
        struct xsim_range *b = &g_array_index(rs, struct xsim_range, i + 1);
        if (a->end != UINT64_MAX && a->end + 1 == b->start) {
            a->end = b->end;
            g_array_remove_index(rs, i + 1);
        } else {
            i++;
        }
    }
}

static int rangeset_add(GArray *rs, uint64_t start, uint64_t end)
{
    guint pos = 0;
    while (pos < rs->len && g_array_index(rs, struct xsim_range, pos).start < start)
        pos++;
    struct xsim_range r = { start, end };
    g_array_insert_val(rs, pos, r);
    rangeset_merge(rs);
    if (rs->len > XSIM_MAX_RANGES) {
        /* Undo: Xen refuses the range that would exceed the limit. */
        for (guint i = 0; i < rs->len; i++) {
            struct xsim_range *x = &g_array_index(rs, struct xsim_range, i);
            if (x->start == start && x->end == end) {
                g_array_remove_index(rs, i);
                break;
            }
        }
        return -ENOMEM;
    }
    return 0;
}

static int rangeset_remove(GArray *rs, uint64_t start, uint64_t end)
{
    for (guint i = 0; i < rs->len; i++) {
        struct xsim_range r = g_array_index(rs, struct xsim_range, i);
        if (!(r.start <= start && end <= r.end))
            continue;
        /* Splitting a range adds one: refused at the limit, the set unchanged (as Xen's). */
        if (r.start < start && end < r.end && rs->len >= XSIM_MAX_RANGES)
            return -ENOMEM;
        g_array_remove_index(rs, i);
        if (end < r.end) {
            struct xsim_range tail = { end + 1, r.end };
            g_array_insert_val(rs, i, tail);
        }
        if (r.start < start) {
            struct xsim_range head = { r.start, start - 1 };
            g_array_insert_val(rs, i, head);
        }
        return 0;
    }
    return -ENOENT;
}

/* ------------------------------------------------------------------ server life cycle */

static void on_guest_port(struct xsim *xs, uint32_t port, void *opaque);

static void server_release(struct xsim *xs, struct xsim_ioreq_server *s)
{
    for (unsigned v = 0; v < xs->nr_vcpus; v++) {
        if (s->vcpu_port[v])
            xsim_evtchn_close(xs, &xs->guest_evtchn, s->vcpu_port[v]);
    }
    if (s->buf_port)
        xsim_evtchn_close(xs, &xs->guest_evtchn, s->buf_port);
    if (s->legacy_gfns) {
        xsim_mem_remove(&xs->mem, s->ioreq_gfn);
        if (s->buf_page != XSIM_NO_PAGE)
            xsim_mem_remove(&xs->mem, s->bufioreq_gfn);
    }
    for (unsigned t = 0; t < 3; t++) {
        if (s->ranges[t])
            g_array_free(s->ranges[t], TRUE);
    }
    /* The pages are not reused: the device model may still map them. */
    memset(s, 0, sizeof(*s));
}

static int alloc_guest_port(struct xsim *xs, uint32_t remote, struct xsim_ioreq_server *s)
{
    int port = xsim_evtchn_alloc_unbound(xs, &xs->guest_evtchn, remote);
    if (port < 0)
        return port;
    struct xsim_port *p = xsim_evtchn_port(&xs->guest_evtchn, (uint32_t)port);
    p->handler = on_guest_port;
    p->opaque = s;
    return port;
}

int xsim_server_create(struct xsim *xs, uint32_t caller_domid, uint8_t bufioreq, uint16_t *id)
{
    if (bufioreq > XENABI_BUFIOREQ_ATOMIC)
        return -EINVAL;
    struct xsim_ioreq_server *s = NULL;
    for (unsigned i = 0; i < XSIM_MAX_SERVERS && !s; i++) {
        if (!xs->servers[i].in_use)
            s = &xs->servers[i];
    }
    if (!s)
        return -ENOSPC;
    int rc = 0;
    memset(s, 0, sizeof(*s));
    s->in_use = true;
    s->id = (uint16_t)(s - xs->servers);
    s->bufioreq = bufioreq;
    s->creator_domid = caller_domid;
    s->buf_page = XSIM_NO_PAGE;
    for (unsigned t = 0; t < 3; t++)
        s->ranges[t] = g_array_new(FALSE, FALSE, sizeof(struct xsim_range));
    s->shared_page = xsim_mem_alloc_page(&xs->mem);
    if (s->shared_page == XSIM_NO_PAGE)
        goto nomem;
    if (bufioreq != XENABI_BUFIOREQ_OFF) {
        s->buf_page = xsim_mem_alloc_page(&xs->mem);
        if (s->buf_page == XSIM_NO_PAGE)
            goto nomem;
    }
    /* One unbound channel per vCPU, plus the buffered one; remote end = the creator. */
    for (unsigned v = 0; v < xs->nr_vcpus; v++) {
        rc = alloc_guest_port(xs, caller_domid, s);
        if (rc < 0)
            goto fail;
        s->vcpu_port[v] = (uint32_t)rc;
    }
    if (bufioreq != XENABI_BUFIOREQ_OFF) {
        rc = alloc_guest_port(xs, caller_domid, s);
        if (rc < 0)
            goto fail;
        s->buf_port = (uint32_t)rc;
    }
    *id = s->id;
    return 0;
nomem:
    rc = -ENOMEM;
fail:
    server_release(xs, s);
    return rc;
}

int xsim_server_check(struct xsim *xs, uint32_t caller_domid, unsigned id,
                      struct xsim_ioreq_server **out)
{
    struct xsim_ioreq_server *s = xsim_server_get(xs, id);
    if (!s)
        return -ENOENT;
    if (s->creator_domid != caller_domid)
        return -EPERM;
    *out = s;
    return 0;
}

int xsim_server_destroy(struct xsim *xs, struct xsim_ioreq_server *s)
{
    /* vCPUs blocked on this server: the emulator is gone, they see all-ones. */
    s->enabled = false; /* a completion callback that submits again must not pick it */
    for (unsigned v = 0; v < xs->nr_vcpus; v++) {
        struct xsim_vcpu *vc = &xs->vcpus[v];
        if (vc->wait == XSIM_VCPU_WAITING && vc->server == s->id) {
            vc->has_rest = false;
            vcpu_complete(xs, vc, 0, ~0ull);
        }
    }
    server_release(xs, s);
    return 0;
}

int xsim_server_set_state(struct xsim *xs, struct xsim_ioreq_server *s, bool enabled)
{
    if (enabled && !s->enabled) {
        /* Xen writes each vCPU's port into its slot when the server is enabled. */
        for (unsigned v = 0; v < xs->nr_vcpus; v++)
            server_slot(xs, s, v)->vp_eport = s->vcpu_port[v];
    }
    s->enabled = enabled;
    return 0;
}

int xsim_server_map_range(struct xsim_ioreq_server *s, uint32_t type, uint64_t start,
                          uint64_t end)
{
    if (type > 2 || start > end)
        return -EINVAL;
    if (rangeset_overlaps(s->ranges[type], start, end))
        return -EEXIST;
    return rangeset_add(s->ranges[type], start, end);
}

int xsim_server_unmap_range(struct xsim_ioreq_server *s, uint32_t type, uint64_t start,
                            uint64_t end)
{
    if (type > 2 || start > end)
        return -EINVAL;
    return rangeset_remove(s->ranges[type], start, end);
}

int xsim_server_legacy_gfns(struct xsim *xs, struct xsim_ioreq_server *s)
{
    if (s->resource_mapped)
        return -EPERM; /* a server uses one method only */
    if (!s->legacy_gfns) {
        s->bufioreq_gfn = LEGACY_GFN_BASE + 2ull * s->id;
        s->ioreq_gfn = s->bufioreq_gfn + 1;
        xsim_mem_map_page(&xs->mem, s->ioreq_gfn, s->shared_page, XSIM_MEM_RAM_RW);
        if (s->buf_page != XSIM_NO_PAGE)
            xsim_mem_map_page(&xs->mem, s->bufioreq_gfn, s->buf_page, XSIM_MEM_RAM_RW);
        s->legacy_gfns = true;
    }
    return 0;
}

static const char *const range_names[3] = { "port", "mem", "pci" };

void xsim_server_describe(struct xsim_ioreq_server *s, GString *out)
{
    g_string_append_printf(out, "%u enabled=%d bufioreq=%u ranges=", s->id, s->enabled,
                           s->bufioreq);
    bool first = true;
    for (unsigned t = 0; t < 2; t++) {
        for (guint i = 0; i < s->ranges[t]->len; i++) {
            struct xsim_range *r = &g_array_index(s->ranges[t], struct xsim_range, i);
            g_string_append_printf(out, "%s%s:0x%" G_GINT64_MODIFIER "x-0x%"
                                   G_GINT64_MODIFIER "x", first ? "" : ",", range_names[t],
                                   r->start, r->end);
            first = false;
        }
    }
    g_string_append(out, " pcidevs=");
    first = true;
    for (guint i = 0; i < s->ranges[2]->len; i++) {
        struct xsim_range *r = &g_array_index(s->ranges[2], struct xsim_range, i);
        for (uint64_t sbdf = r->start; sbdf <= r->end && sbdf - r->start < 256; sbdf++) {
            g_string_append_printf(out, "%s%04x:%02x:%02x.%x", first ? "" : ",",
                                   (unsigned)(sbdf >> 16) & 0xffff, (unsigned)(sbdf >> 8) & 0xff,
                                   (unsigned)(sbdf >> 3) & 0x1f, (unsigned)sbdf & 7);
            first = false;
        }
    }
}

/* ------------------------------------------------------------------ buffered ring */

static void buf_rebase(struct xenabi_buffered_iopage *pg)
{
    /* ATOMIC mode: rebase both pointers by a multiple of 511 with one 64-bit CAS. */
    uint64_t *pair = (uint64_t *)pg;
    uint64_t old = __atomic_load_n(pair, __ATOMIC_ACQUIRE);
    for (;;) {
        uint32_t rd = (uint32_t)old, wr = (uint32_t)(old >> 32);
        if (rd < XENABI_IOREQ_BUFFER_SLOT_NUM)
            return;
        uint32_t n = rd / XENABI_IOREQ_BUFFER_SLOT_NUM * XENABI_IOREQ_BUFFER_SLOT_NUM;
        uint64_t want = (uint64_t)(wr - n) << 32 | (rd - n);
        if (__atomic_compare_exchange_n(pair, &old, want, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            return;
    }
}

static bool buf_put(struct xsim *xs, struct xsim_ioreq_server *s, const uint32_t *words,
                    const uint32_t *datas, unsigned n)
{
    if (s->buf_page == XSIM_NO_PAGE)
        return false;
    struct xenabi_buffered_iopage *pg = xsim_mem_page_ptr(&xs->mem, s->buf_page);
    uint32_t rd = __atomic_load_n(&pg->read_pointer, __ATOMIC_ACQUIRE);
    uint32_t wr = pg->write_pointer;
    if (wr - rd > XENABI_IOREQ_BUFFER_SLOT_NUM - n)
        return false; /* full: the caller goes synchronous */
    for (unsigned i = 0; i < n; i++) {
        struct xenabi_buf_ioreq *slot = &pg->slot[(wr + i) % XENABI_IOREQ_BUFFER_SLOT_NUM];
        slot->word = words[i];
        slot->data = datas[i];
    }
    __atomic_store_n(&pg->write_pointer, wr + n, __ATOMIC_RELEASE);
    if (s->bufioreq == XENABI_BUFIOREQ_ATOMIC)
        buf_rebase(pg);
    xsim_evtchn_notify(xs, &xs->guest_evtchn, s->buf_port);
    return true;
}

bool xsim_bufioreq_send(struct xsim *xs, struct xsim_ioreq_server *s, uint8_t type, bool read,
                        uint32_t size, uint64_t addr, uint64_t data)
{
    if (addr > BUF_ADDR_MAX || (size != 1 && size != 2 && size != 4 && size != 8))
        return false;
    uint32_t word = xenabi_buf_encode(type, read, size, (uint32_t)addr);
    uint32_t words[2] = { word, word };
    uint32_t datas[2] = { (uint32_t)data, (uint32_t)(data >> 32) };
    return buf_put(xs, s, words, datas, size == 8 ? 2 : 1);
}

bool xsim_bufioreq_send_raw(struct xsim *xs, struct xsim_ioreq_server *s, uint32_t word,
                            uint32_t data)
{
    return buf_put(xs, s, &word, &data, 1);
}

void xsim_broadcast_timeoffset(struct xsim *xs, int64_t delta_seconds)
{
    for (unsigned i = 0; i < XSIM_MAX_SERVERS; i++) {
        struct xsim_ioreq_server *s = &xs->servers[i];
        if (s->in_use && s->enabled && s->buf_page != XSIM_NO_PAGE)
            xsim_bufioreq_send(xs, s, XENABI_IOREQ_TYPE_TIMEOFFSET, false, 8, 0,
                               (uint64_t)delta_seconds);
    }
}

/* ------------------------------------------------------------------ the vCPU side */

static void domain_crash(struct xsim *xs, struct xsim_vcpu *v, const char *why, unsigned state)
{
    xsim_log("d%u: vCPU %u: %s (state %u): domain crash", xs->domid, v->id, why, state);
    xs->crashed = true;
    v->has_rest = false;
    v->broadcast_mask = 0;
    xsim_access_done done = v->done;
    void *opaque = v->opaque;
    bool orphaned = v->orphaned;
    v->wait = XSIM_VCPU_STOPPED;
    v->done = NULL;
    xsim_domain_shutdown(xs, XSIM_SHUTDOWN_CRASH);
    if (done && !orphaned)
        done(xs, -EIO, 0, opaque);
}

static void send_sync(struct xsim *xs, struct xsim_vcpu *v, struct xsim_ioreq_server *s,
                      const struct xsim_access *acc)
{
    struct xenabi_ioreq *slot = server_slot(xs, s, v->id);
    uint8_t flags = xenabi_ioreq_load_flags(slot);
    if (xenabi_ioreq_state(flags) != XENABI_STATE_IOREQ_NONE) {
        domain_crash(xs, v, "device model set bad IO state", xenabi_ioreq_state(flags));
        return;
    }
    slot->addr = acc->addr;
    slot->data = acc->data;
    slot->count = acc->count;
    slot->size = acc->size;
    slot->type = acc->type;
    flags = (uint8_t)((acc->data_is_ptr ? XENABI_IOREQ_DATA_IS_PTR : 0) |
                      (acc->read ? XENABI_IOREQ_DIR_READ : 0) | (acc->df ? XENABI_IOREQ_DF : 0));
    v->wait = XSIM_VCPU_WAITING;
    v->server = s->id;
    v->prev_state = XENABI_STATE_IOREQ_READY;
    xenabi_ioreq_store_flags(slot, xenabi_ioreq_with_state(flags, XENABI_STATE_IOREQ_READY));
    xsim_evtchn_notify(xs, &xs->guest_evtchn, s->vcpu_port[v->id]);
}

/* The DM notified a vCPU port: look at the slot, as Xen's wait_for_io does. */
static void check_slot(struct xsim *xs, struct xsim_vcpu *v)
{
    struct xsim_ioreq_server *s = xsim_server_get(xs, v->server);
    if (!s)
        return;
    struct xenabi_ioreq *slot = server_slot(xs, s, v->id);
    unsigned state = xenabi_ioreq_state(xenabi_ioreq_load_flags(slot));
    if (state == XENABI_STATE_IOREQ_NONE) {
        /* Xen: only an emulator dying races with a request; the access completes. */
        vcpu_complete(xs, v, 0, ~0ull);
        return;
    }
    if (state < v->prev_state) {
        domain_crash(xs, v, "weird ioreq state transition", state);
        return;
    }
    switch (state) {
    case XENABI_STATE_IORESP_READY: {
        uint64_t data = slot->data;
        uint8_t flags = xenabi_ioreq_load_flags(slot);
        xenabi_ioreq_store_flags(slot, xenabi_ioreq_with_state(flags, XENABI_STATE_IOREQ_NONE));
        vcpu_complete(xs, v, 0, data);
        break;
    }
    case XENABI_STATE_IOREQ_READY:
    case XENABI_STATE_IOREQ_INPROCESS:
        v->prev_state = state;
        break;
    default:
        domain_crash(xs, v, "weird ioreq state", state);
        break;
    }
}

static void on_guest_port(struct xsim *xs, uint32_t port, void *opaque)
{
    struct xsim_ioreq_server *s = opaque;
    for (unsigned i = 0; i < xs->nr_vcpus; i++) {
        if (s->vcpu_port[i] != port)
            continue;
        struct xsim_vcpu *v = &xs->vcpus[i];
        if (v->wait == XSIM_VCPU_WAITING && v->server == s->id)
            check_slot(xs, v);
        return;
    }
    /* The buffered port carries only Xen -> DM notifications: ignore. */
}

static uint64_t size_mask(uint32_t size)
{
    return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

static bool range_for(const struct xsim_access *acc, uint64_t *start, uint64_t *end)
{
    uint32_t size = acc->size ? acc->size : 1;
    uint64_t count = acc->count ? acc->count : 1;
    if (acc->type == XENABI_IOREQ_TYPE_PIO) {
        *start = acc->addr;
        *end = acc->addr + size - 1;
        return true;
    }
    if (acc->type != XENABI_IOREQ_TYPE_COPY)
        return false;
    uint64_t span = size * count;
    if (acc->df) {
        *start = acc->addr - (span - size);
        *end = acc->addr + size - 1;
    } else {
        *start = acc->addr;
        *end = acc->addr + span - 1;
    }
    return *start <= *end;
}

/* Xen's server selection, with the PCI_CONFIG decode of the 0xCF8 latch. */
static struct xsim_ioreq_server *select_server(struct xsim *xs, struct xsim_access *acc)
{
    if (acc->type == XENABI_IOREQ_TYPE_PIO && (acc->addr & ~3ull) == 0xcfc &&
        (xs->pci_cf8 & 0x80000000u)) {
        uint32_t sbdf = (xs->pci_cf8 >> 8) & 0xffff;
        uint32_t reg = (xs->pci_cf8 & 0xfc) | (uint32_t)(acc->addr & 3) |
                       ((xs->pci_cf8 >> 16) & 0xf00); /* AMD extended config: 27:24 -> 11:8 */
        for (int i = XSIM_MAX_SERVERS - 1; i >= 0; i--) {
            struct xsim_ioreq_server *s = &xs->servers[i];
            if (s->in_use && s->enabled && rangeset_contains(s->ranges[2], sbdf, sbdf)) {
                acc->type = XENABI_IOREQ_TYPE_PCI_CONFIG;
                acc->addr = (uint64_t)sbdf << 32 | reg;
                return s;
            }
        }
    }
    uint64_t start, end;
    if (!range_for(acc, &start, &end))
        return NULL;
    unsigned t = acc->type == XENABI_IOREQ_TYPE_PIO ? 0 : 1;
    for (int i = XSIM_MAX_SERVERS - 1; i >= 0; i--) {
        struct xsim_ioreq_server *s = &xs->servers[i];
        if (s->in_use && s->enabled && rangeset_contains(s->ranges[t], start, end))
            return s;
    }
    return NULL;
}

static uint64_t item_gpa(const struct xsim_access *acc, uint64_t base, uint32_t i)
{
    uint64_t step = (uint64_t)i * acc->size;
    return acc->df ? base - step : base + step;
}

/* Nobody claimed it: reads are all-ones, writes vanish (Xen's null handler). */
static uint64_t unclaimed_access(struct xsim *xs, const struct xsim_access *acc)
{
    if (!acc->read)
        return acc->data;
    if (acc->data_is_ptr) {
        uint8_t ones[8];
        memset(ones, 0xff, sizeof(ones));
        for (uint32_t i = 0; i < acc->count; i++)
            xsim_mem_write(&xs->mem, item_gpa(acc, acc->data, i), ones, MIN(acc->size, 8u));
        return acc->data;
    }
    return size_mask(acc->size);
}

/* Ports Xen emulates itself, REP forms item by item through guest RAM. */
static bool platform_access(struct xsim *xs, const struct xsim_access *acc, uint64_t *data)
{
    if (acc->type != XENABI_IOREQ_TYPE_PIO || acc->addr > 0xffff)
        return false;
    uint64_t probe = 0;
    if (!acc->data_is_ptr) {
        probe = acc->data;
        if (!xsim_platform_pio(xs, (uint16_t)acc->addr, acc->size, acc->read, &probe))
            return false;
        *data = acc->read ? probe & size_mask(acc->size) : acc->data;
        return true;
    }
    for (uint32_t i = 0; i < acc->count; i++) {
        uint64_t gpa = item_gpa(acc, acc->data, i);
        uint64_t val = 0;
        if (!acc->read)
            xsim_mem_read(&xs->mem, gpa, &val, MIN(acc->size, 8u));
        if (!xsim_platform_pio(xs, (uint16_t)acc->addr, acc->size, acc->read, &val))
            return false; /* not a platform port: decided on the first item */
        if (acc->read)
            xsim_mem_write(&xs->mem, gpa, &val, MIN(acc->size, 8u));
    }
    *data = acc->data;
    return true;
}

/*
 * How many items of a repeated MMIO access stay in the 4 KiB page of addr (hvmemul_do_io in
 * Xen 4.17's x86/hvm/emulate.c). An item that itself straddles the page goes alone.
 */
static uint32_t rep_limit_mmio(const struct xsim_access *acc)
{
    if (acc->type != XENABI_IOREQ_TYPE_COPY)
        return acc->count;
    uint64_t off = acc->addr & (XENABI_PAGE_SIZE - 1);
    uint64_t max = acc->df ? (off + acc->size) / acc->size
                           : (XENABI_PAGE_SIZE - off) / acc->size;
    return (uint32_t)MIN(max, (uint64_t)acc->count);
}

/*
 * How many items of a REP whose other side is guest RAM (INS/OUTS, MOVS to or from MMIO) keep
 * the buffer in the page of data (hvmemul_do_io_addr in Xen 4.17's x86/hvm/emulate.c). Going
 * down, Xen counts (off + size - 1) / size items, one fewer than fit when off is a multiple
 * of size: at off 0 it sends a single item, as for an item that straddles two pages.
 */
static uint32_t rep_limit_buffer(const struct xsim_access *acc)
{
    if (!acc->data_is_ptr)
        return acc->count;
    uint64_t off = acc->data & (XENABI_PAGE_SIZE - 1);
    uint64_t max = acc->df ? ((off + acc->size - 1) & (XENABI_PAGE_SIZE - 1)) / acc->size
                           : (XENABI_PAGE_SIZE - off) / acc->size;
    return (uint32_t)MIN(max, (uint64_t)acc->count);
}

/*
 * Xen never hands a device model a REP that crosses a page, on the MMIO side or in the RAM
 * buffer: it sends the items that fit, then re-executes the instruction for the rest, each
 * piece a separate ioreq. xendm refuses a request whose items span more than a page.
 */
static void clip_rep(struct xsim_vcpu *v, struct xsim_access *acc)
{
    v->has_rest = false;
    if ((acc->type != XENABI_IOREQ_TYPE_COPY && acc->type != XENABI_IOREQ_TYPE_PIO) ||
        acc->count <= 1 || !acc->size)
        return;
    uint32_t max = MIN(rep_limit_mmio(acc), rep_limit_buffer(acc));
    if (max == 0)
        max = 1;
    if (acc->count <= max)
        return;
    v->rest = *acc;
    v->rest.count = acc->count - max;
    if (acc->type == XENABI_IOREQ_TYPE_COPY)
        v->rest.addr = item_gpa(acc, acc->addr, max);
    if (acc->data_is_ptr)
        v->rest.data = item_gpa(acc, acc->data, max);
    v->has_rest = true;
    acc->count = max;
}

/* True when every byte of [gpa, gpa + len) is guest RAM (ram_rw or ram_ro) in the p2m. */
static bool range_is_ram(struct xsim *xs, uint64_t gpa, uint32_t len, bool *read_only)
{
    *read_only = false;
    for (uint64_t gfn = gpa >> XENABI_PAGE_SHIFT; gfn <= (gpa + len - 1) >> XENABI_PAGE_SHIFT;
         gfn++) {
        unsigned type;
        if (!xsim_mem_lookup(&xs->mem, gfn, NULL, &type) ||
            (type != XSIM_MEM_RAM_RW && type != XSIM_MEM_RAM_RO))
            return false;
        *read_only |= type == XSIM_MEM_RAM_RO;
    }
    return true;
}

/*
 * What Xen resolves before asking any ioreq server (x86/hvm/emulate.c): a single MMIO access
 * that lands in guest RAM is a RAM access (writes to ram_ro are discarded), and the local APIC
 * page is the vLAPIC's. A device model that maps a BAR over either never sees those accesses.
 * XSIM_MMIO_SERVERS when neither owns acc (the servers' claims decide).
 */
static enum xsim_mmio_owner hypervisor_mmio_owner(struct xsim *xs, const struct xsim_access *acc,
                                                  bool *read_only)
{
    *read_only = false;
    if (acc->type != XENABI_IOREQ_TYPE_COPY || acc->data_is_ptr || acc->count != 1 ||
        acc->size < 1 || acc->size > 8 || acc->addr > UINT64_MAX - acc->size)
        return XSIM_MMIO_SERVERS;
    uint64_t last = acc->addr + acc->size - 1;
    if (acc->addr >= LAPIC_PAGE_START && last <= LAPIC_PAGE_END)
        return XSIM_MMIO_LAPIC;
    if (range_is_ram(xs, acc->addr, acc->size, read_only))
        return XSIM_MMIO_RAM;
    return XSIM_MMIO_SERVERS;
}

/* Performs an access Xen owns. xensim does not emulate the APIC: its page reads 0 and ignores
 * writes. */
static bool hypervisor_mmio(struct xsim *xs, const struct xsim_access *acc, uint64_t *data)
{
    bool read_only;
    switch (hypervisor_mmio_owner(xs, acc, &read_only)) {
    case XSIM_MMIO_SERVERS:
    case XSIM_MMIO_UNCLAIMED:
        return false;
    case XSIM_MMIO_LAPIC:
        *data = acc->read ? 0 : acc->data;
        return true;
    case XSIM_MMIO_RAM:
        break;
    }
    if (acc->read) {
        uint64_t v = 0;
        xsim_mem_read(&xs->mem, acc->addr, &v, acc->size);
        *data = v;
    } else {
        if (!read_only)
            xsim_mem_write(&xs->mem, acc->addr, &acc->data, acc->size);
        *data = acc->data;
    }
    return true;
}

/*
 * A repeated access (REP STOS, REP MOVS) whose MMIO side lies in guest RAM, after clipping to
 * one page: Xen's emulator copies it itself (hvmemul_rep_stos/movs find RAM on both sides), so
 * no server sees it. This is how a guest fills a framebuffer relocated under its BAR.
 */
static bool ram_rep_access(struct xsim *xs, const struct xsim_access *acc, uint64_t *data)
{
    uint64_t start, end;
    bool read_only;
    uint32_t n = MIN(acc->size, 8u);

    if (acc->type != XENABI_IOREQ_TYPE_COPY || (acc->count <= 1 && !acc->data_is_ptr) ||
        acc->size < 1 || !range_for(acc, &start, &end) || end - start >= XENABI_PAGE_SIZE ||
        !range_is_ram(xs, start, (uint32_t)(end - start + 1), &read_only))
        return false;
    for (uint32_t i = 0; i < acc->count; i++) {
        uint64_t gpa = item_gpa(acc, acc->addr, i), val = 0;
        if (!acc->data_is_ptr) {
            if (!acc->read && !read_only)
                xsim_mem_write(&xs->mem, gpa, &acc->data, n);
            continue;
        }
        uint64_t other = item_gpa(acc, acc->data, i);
        if (acc->read) {
            xsim_mem_read(&xs->mem, gpa, &val, n);
            xsim_mem_write(&xs->mem, other, &val, n);
        } else {
            xsim_mem_read(&xs->mem, other, &val, n);
            if (!read_only)
                xsim_mem_write(&xs->mem, gpa, &val, n);
        }
    }
    *data = acc->data;
    return true;
}

enum xsim_mmio_owner xsim_mmio_owner(struct xsim *xs, const struct xsim_access *acc)
{
    struct xsim_access probe = *acc;
    bool read_only;
    enum xsim_mmio_owner owner = hypervisor_mmio_owner(xs, &probe, &read_only);
    if (owner != XSIM_MMIO_SERVERS)
        return owner;
    return select_server(xs, &probe) != NULL ? XSIM_MMIO_SERVERS : XSIM_MMIO_UNCLAIMED;
}

static bool is_vga_buffered(const struct xsim_access *acc)
{
    return acc->type == XENABI_IOREQ_TYPE_COPY && !acc->read && acc->count == 1 &&
           !acc->data_is_ptr && acc->addr >= VGA_WINDOW_START && acc->addr <= VGA_WINDOW_END;
}

static void vcpu_issue(struct xsim *xs, struct xsim_vcpu *v, const struct xsim_access *orig)
{
    struct xsim_access acc = *orig;
    uint64_t data;
    if (platform_access(xs, &acc, &data) || hypervisor_mmio(xs, &acc, &data)) {
        v->has_rest = false;
        vcpu_complete(xs, v, 0, data);
        return;
    }
    /* Xen latches 4-byte writes to 0xCF8 and still forwards them to the owner. */
    if (acc.type == XENABI_IOREQ_TYPE_PIO && acc.addr == 0xcf8 && acc.size == 4 && !acc.read &&
        !acc.data_is_ptr)
        xs->pci_cf8 = (uint32_t)acc.data;
    clip_rep(v, &acc);
    if (ram_rep_access(xs, &acc, &data)) {
        vcpu_complete(xs, v, 0, data);
        return;
    }
    struct xsim_ioreq_server *s = select_server(xs, &acc);
    if (!s) {
        vcpu_complete(xs, v, 0, unclaimed_access(xs, &acc));
        return;
    }
    if (is_vga_buffered(&acc) &&
        xsim_bufioreq_send(xs, s, acc.type, false, acc.size, acc.addr, acc.data)) {
        vcpu_complete(xs, v, 0, acc.data);
        return;
    }
    send_sync(xs, v, s, &acc);
}

static void broadcast_next(struct xsim *xs, struct xsim_vcpu *v)
{
    while (v->broadcast_mask) {
        unsigned i = (unsigned)__builtin_ctz(v->broadcast_mask);
        v->broadcast_mask &= ~(1u << i);
        struct xsim_ioreq_server *s = &xs->servers[i];
        if (s->in_use && s->enabled) {
            send_sync(xs, v, s, &v->broadcast);
            return;
        }
    }
    vcpu_complete(xs, v, 0, v->broadcast.data);
}

static void vcpu_complete(struct xsim *xs, struct xsim_vcpu *v, int status, uint64_t data)
{
    if (v->wait == XSIM_VCPU_STOPPED)
        return;
    if (status == 0 && v->has_rest) {
        struct xsim_access rest = v->rest;
        v->has_rest = false;
        vcpu_issue(xs, v, &rest);
        return;
    }
    if (status == 0 && v->broadcast_mask) {
        broadcast_next(xs, v);
        return;
    }
    xsim_access_done done = v->done;
    void *opaque = v->opaque;
    bool orphaned = v->orphaned;
    v->wait = XSIM_VCPU_IDLE;
    v->done = NULL;
    v->orphaned = false;
    if (done && !orphaned)
        done(xs, status, data, opaque);
}

static int vcpu_begin(struct xsim *xs, unsigned vcpu, xsim_access_done done, void *opaque,
                      struct xsim_vcpu **out)
{
    if (vcpu >= xs->nr_vcpus)
        return -EINVAL;
    struct xsim_vcpu *v = &xs->vcpus[vcpu];
    if (xs->crashed || v->wait == XSIM_VCPU_STOPPED)
        return -EIO;
    if (v->wait != XSIM_VCPU_IDLE)
        return -EBUSY;
    v->id = vcpu;
    v->done = done;
    v->opaque = opaque;
    v->orphaned = false;
    v->has_rest = false;
    v->broadcast_mask = 0;
    v->wait = XSIM_VCPU_WAITING; /* busy until completion, even before a slot is used */
    v->server = UINT32_MAX;
    *out = v;
    return 0;
}

int xsim_vcpu_submit(struct xsim *xs, unsigned vcpu, const struct xsim_access *acc,
                     xsim_access_done done, void *opaque)
{
    struct xsim_vcpu *v;
    int rc = vcpu_begin(xs, vcpu, done, opaque, &v);
    if (rc < 0)
        return rc;
    vcpu_issue(xs, v, acc);
    return 0;
}

int xsim_vcpu_submit_raw(struct xsim *xs, unsigned server, const struct xsim_access *acc,
                         xsim_access_done done, void *opaque)
{
    struct xsim_ioreq_server *s = xsim_server_get(xs, server);
    if (!s)
        return -ENOENT;
    struct xsim_vcpu *v;
    int rc = vcpu_begin(xs, 0, done, opaque, &v);
    if (rc < 0)
        return rc;
    send_sync(xs, v, s, acc);
    return 0;
}

int xsim_broadcast_invalidate(struct xsim *xs, xsim_access_done done, void *opaque)
{
    struct xsim_vcpu *v;
    int rc = vcpu_begin(xs, 0, done, opaque, &v);
    if (rc < 0)
        return rc;
    memset(&v->broadcast, 0, sizeof(v->broadcast));
    v->broadcast.type = XENABI_IOREQ_TYPE_INVALIDATE;
    v->broadcast.size = 4;
    v->broadcast.count = 1;
    v->broadcast.data = ~0ull;
    for (unsigned i = 0; i < XSIM_MAX_SERVERS; i++) {
        if (xs->servers[i].in_use && xs->servers[i].enabled)
            v->broadcast_mask |= 1u << i;
    }
    broadcast_next(xs, v);
    return 0;
}

void xsim_vcpu_abandon(struct xsim *xs, unsigned vcpu)
{
    if (vcpu < xs->nr_vcpus && xs->vcpus[vcpu].wait == XSIM_VCPU_WAITING)
        xs->vcpus[vcpu].orphaned = true;
}

void xsim_vcpu_reset_all(struct xsim *xs)
{
    for (unsigned i = 0; i < XSIM_MAX_VCPUS; i++) {
        struct xsim_vcpu *v = &xs->vcpus[i];
        xsim_access_done done = v->wait == XSIM_VCPU_WAITING && !v->orphaned ? v->done : NULL;
        void *opaque = v->opaque;
        memset(v, 0, sizeof(*v));
        v->id = i;
        if (done)
            done(xs, -ECANCELED, 0, opaque);
    }
}
