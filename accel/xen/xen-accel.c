/*
 * The Xen accelerator (see xen-accel.h for the bring-up sequence). All Xen
 * library calls of xendm are in this file; the ioreq engine (xen-all.c) does
 * the work on the pages mapped here.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib.h>
#include <inttypes.h>
#include <sched.h>
#include <sys/mman.h>

#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xenstore.h>
#include <xentoolcore.h>

#include "accel/xen/xen-accel.h"
#include "xendm/log.h"
#include "xendm/trace.h"

#define XEN_ACCEL_ERROR (g_quark_from_static_string("xendm-xen"))
#define BUFFERED_POLL_MS 100
/* Resource frames of an ioreq server (xen/memory.h XENMEM_resource_ioreq_server_frame_*). */
#define IOREQ_RESOURCE_TYPE 0 /* XENMEM_resource_ioreq_server */
#define IOREQ_FRAME_BUFFERED 0
#define IOREQ_NR_FRAMES 2
/*
 * Busy polling (see serve_burst and docs/performance.md), adaptive as Linux's halt polling,
 * and only when asked for (-accel xen,poll-us=N, poll_max_us): a request that arrives within
 * poll_max_us of the previous answer grows the spin after each answer (from
 * POLL_SPIN_START_US, doubling, up to poll_max_us); one that arrives later ends the spinning.
 * One wake-up serves for at most POLL_BURST_US before the main loop runs again.
 */
#define POLL_SPIN_START_US 5
#define POLL_BURST_US 1000

struct pcidev_claim {
    uint32_t sbdf;
};

struct xen_range {
    uint64_t start, last; /* guest-physical, inclusive */
};

struct xen_accel {
    uint32_t domid;
    unsigned fallback_vcpus;
    enum xen_accel_step step;
    struct machine *m;

    xenevtchn_handle *xce;
    xenforeignmemory_handle *fmem;
    xendevicemodel_handle *dmod;
    xc_interface *xc;
    struct xs_handle *xsh;

    unsigned nr_vcpus;
    ioservid_t server_id;
    xenforeignmemory_resource_handle *pages_handle;
    struct xenabi_buffered_iopage *buffered;
    struct xenabi_ioreq *shared;
    evtchn_port_t buffered_remote_port;
    /* Local ports; -1 where not bound (yet). */
    int buffered_local_port;
    int *vcpu_local_port;

    GArray *pcidevs; /* struct pcidev_claim: what the machine asked to claim */
    /*
     * MMIO regions the memory core asked to claim, and the ranges where device-model-owned
     * RAM is exposed (a VRAM BAR): what Xen holds as claimed is the first minus the second,
     * since guest RAM at an address is never the ioreq server's (struct xen_range each).
     */
    GArray *mmio_claims;
    GArray *ram_windows;
    guint evtchn_watch;
    guint poll_timer;
    int64_t last_answer_us; /* monotonic time of the latest synchronous answer */
    int64_t spin_us;        /* current busy-polling bound; 0: no polling */
    int64_t poll_max_us;    /* -accel xen,poll-us: spin_us never exceeds it; 0: never poll */
    struct ioreq_stats stats;
    struct mapcache_mapper mapper;
    struct accel_ops ops;

    void (*fatal)(void *opaque);
    void *fatal_opaque;
    bool failed;
    bool server_enabled; /* Xen's view: set_ioreq_server_state last succeeded with this */
    bool restricted;     /* xentoolcore_restrict_all succeeded; xenstore is closed */
};

static bool step_failed(GError **err, unsigned step, const char *what)
{
    int saved = errno;

    g_set_error(err, XEN_ACCEL_ERROR, saved, "xen bring-up step %u (%s) failed: %s", step, what,
                g_strerror(saved));
    return false;
}

static void accel_fatal(struct xen_accel *xa, const char *why)
{
    if (xa->failed) {
        return;
    }
    xa->failed = true;
    log_error("xen: %s; the device model cannot go on", why);
    if (xa->fatal != NULL) {
        xa->fatal(xa->fatal_opaque);
    }
}

/* ---- the mapcache's mapper ---- */

static void *accel_map(void *opaque, uint64_t first_gfn, size_t nr, bool writable, int *err)
{
    struct xen_accel *xa = opaque;
    xen_pfn_t *gfns = g_new(xen_pfn_t, nr);
    void *addr;

    for (size_t i = 0; i < nr; i++) {
        gfns[i] = (xen_pfn_t)(first_gfn + i);
    }
    addr = xenforeignmemory_map(xa->fmem, xa->domid, PROT_READ | (writable ? PROT_WRITE : 0), nr,
                                gfns, err);
    if (addr == NULL) {
        log_debug("xen: mapping %zu frames at gfn 0x%" PRIx64 " failed: %s", nr, first_gfn,
                  g_strerror(errno));
    }
    g_free(gfns);
    return addr;
}

static void accel_unmap(void *opaque, void *addr, size_t nr)
{
    struct xen_accel *xa = opaque;

    if (xenforeignmemory_unmap(xa->fmem, addr, nr) != 0) {
        log_warn("xen: unmapping %zu frames failed: %s", nr, g_strerror(errno));
    }
}

/* ---- accel_ops ---- */

static void op_set_isa_irq(void *opaque, unsigned irq, bool level)
{
    struct xen_accel *xa = opaque;

    TRACE(xen_irq, "isa irq=%u level=%d", irq, level);
    if (xendevicemodel_set_isa_irq_level(xa->dmod, xa->domid, (uint8_t)irq, level) != 0) {
        log_warn("xen: set_isa_irq_level(%u, %d) failed: %s", irq, level, g_strerror(errno));
    }
}

static void op_set_pci_intx(void *opaque, unsigned slot, unsigned pin, bool level)
{
    struct xen_accel *xa = opaque;

    /* Segment 0, bus 0: Xen swizzles the slot and pin itself (reference §3). */
    TRACE(xen_irq, "intx slot=%u pin=%u level=%d", slot, pin, level);
    if (xendevicemodel_set_pci_intx_level(xa->dmod, xa->domid, 0, 0, (uint8_t)slot,
                                          (uint8_t)pin, level) != 0) {
        log_warn("xen: set_pci_intx_level(%u, %u, %d) failed: %s", slot, pin, level,
                 g_strerror(errno));
    }
}

static void op_set_pci_link_route(void *opaque, unsigned link, unsigned isa_irq)
{
    struct xen_accel *xa = opaque;

    TRACE(xen_irq, "link=%u irq=%u", link, isa_irq);
    if (xendevicemodel_set_pci_link_route(xa->dmod, xa->domid, (uint8_t)link,
                                          (uint8_t)isa_irq) != 0) {
        log_warn("xen: set_pci_link_route(%u, %u) failed: %s", link, isa_irq, g_strerror(errno));
    }
}

static bool op_set_mem_type(void *opaque, uint64_t first_gfn, uint32_t nr, bool read_only)
{
    struct xen_accel *xa = opaque;

    TRACE(xen_mem_type, "gfn=0x%" PRIx64 " nr=%u %s", first_gfn, nr, read_only ? "ro" : "rw");
    if (xendevicemodel_set_mem_type(xa->dmod, xa->domid, read_only ? HVMMEM_ram_ro : HVMMEM_ram_rw,
                                    first_gfn, nr) != 0) {
        log_warn("xen: set_mem_type(0x%" PRIx64 ", %u, %s) failed: %s", first_gfn, nr,
                 read_only ? "ram_ro" : "ram_rw", g_strerror(errno));
        return false;
    }
    return true;
}

/*
 * Pages xendm wrote while the global dirty log is on (live migration): Xen re-sends them.
 * The dm_op counts pages in 32 bits, so a huge range goes in pieces.
 */
static void op_modified_memory(void *opaque, uint64_t first_gfn, uint64_t nr)
{
    struct xen_accel *xa = opaque;

    while (nr > 0) {
        uint32_t chunk = nr > UINT32_MAX ? UINT32_MAX : (uint32_t)nr;
        if (xendevicemodel_modified_memory(xa->dmod, xa->domid, first_gfn, chunk) != 0) {
            log_guest_error("xen: modified_memory(0x%" PRIx64 ", %u) failed: %s", first_gfn,
                            chunk, g_strerror(errno));
            return;
        }
        first_gfn += chunk;
        nr -= chunk;
    }
}

static void op_inject_msi(void *opaque, uint64_t addr, uint32_t data)
{
    struct xen_accel *xa = opaque;

    TRACE(xen_irq, "msi addr=0x%" PRIx64 " data=0x%" PRIx32, addr, data);
    if (xendevicemodel_inject_msi(xa->dmod, xa->domid, addr, data) != 0) {
        log_warn("xen: inject_msi(0x%" PRIx64 ", 0x%" PRIx32 ") failed: %s", addr, data,
                 g_strerror(errno));
    }
}

static void op_request_shutdown(void *opaque, enum shutdown_reason reason)
{
    struct xen_accel *xa = opaque;

    /* Immediately: Xen must see it before the response to the request that caused it. */
    TRACE(xen_shutdown, "reason=%d", (int)reason);
    if (xendevicemodel_shutdown(xa->dmod, xa->domid, (unsigned)reason) != 0) {
        log_error("xen: shutdown(%d) failed: %s", (int)reason, g_strerror(errno));
    }
}

/* HVM_PARAM_ACPI_S_STATE, as qemu-xen sets it: 3 parks the vCPUs (S3), 0 wakes them. */
static void op_set_acpi_sleep_state(void *opaque, unsigned state)
{
    struct xen_accel *xa = opaque;

    TRACE(xen_acpi_s_state, "S%u", state);
    if (xc_hvm_param_set(xa->xc, xa->domid, HVM_PARAM_ACPI_S_STATE, state) != 0) {
        log_error("xen: setting the guest's ACPI S-state to %u failed: %s", state,
                  g_strerror(errno));
    }
}

static void pcidev_claim_apply(struct xen_accel *xa, uint32_t sbdf, bool add)
{
    uint16_t seg = (uint16_t)(sbdf >> 16);
    uint8_t bus = (uint8_t)(sbdf >> 8), dev = (sbdf >> 3) & 0x1f, fn = sbdf & 7;
    int rc;

    TRACE(xen_claim, "pci %04x:%02x:%02x.%u %s", seg, bus, dev, fn, add ? "map" : "unmap");
    if (add) {
        rc = xendevicemodel_map_pcidev_to_ioreq_server(xa->dmod, xa->domid, xa->server_id, seg,
                                                       bus, dev, fn);
    } else {
        rc = xendevicemodel_unmap_pcidev_from_ioreq_server(xa->dmod, xa->domid, xa->server_id,
                                                           seg, bus, dev, fn);
    }
    if (rc != 0) {
        log_error("xen: %s PCI %04x:%02x:%02x.%u failed: %s", add ? "claiming" : "releasing",
                  seg, bus, dev, fn, g_strerror(errno));
    }
}

static void op_claim_pcidev(void *opaque, uint32_t sbdf, bool add)
{
    struct xen_accel *xa = opaque;

    /* Remembered, so that claims made before the server exists are made at step 8. */
    for (guint i = 0; i < xa->pcidevs->len; i++) {
        if (g_array_index(xa->pcidevs, struct pcidev_claim, i).sbdf == sbdf) {
            if (add) {
                return;
            }
            g_array_remove_index(xa->pcidevs, i);
            break;
        }
    }
    if (add) {
        struct pcidev_claim claim = {sbdf};
        g_array_append_val(xa->pcidevs, claim);
    }
    if (xa->step >= XEN_ACCEL_CLAIMS) {
        pcidev_claim_apply(xa, sbdf, add);
    }
}

/* ---- the address-space listener: regions become claimed ranges ---- */

static void claim_range_xen(struct xen_accel *xa, enum address_space_kind kind, uint64_t start,
                            uint64_t last, bool add)
{
    int is_mmio = kind == ADDRESS_SPACE_MMIO;
    int rc;

    TRACE(xen_claim, "%s 0x%" PRIx64 "-0x%" PRIx64 " %s", is_mmio ? "mmio" : "io", start, last,
          add ? "map" : "unmap");
    if (add) {
        rc = xendevicemodel_map_io_range_to_ioreq_server(xa->dmod, xa->domid, xa->server_id,
                                                         is_mmio, start, last);
    } else {
        rc = xendevicemodel_unmap_io_range_from_ioreq_server(xa->dmod, xa->domid, xa->server_id,
                                                             is_mmio, start, last);
    }
    if (rc != 0) {
        /* Regions follow guest BAR writes, so this can repeat at the guest's will. */
        log_guest_error("xen: %s %s range 0x%" PRIx64 "-0x%" PRIx64 " failed: %s",
                        add ? "claiming" : "releasing", is_mmio ? "MMIO" : "port", start, last,
                        g_strerror(errno));
    }
}

/* [start, last] minus the RAM windows from index `from` on, each remaining piece to Xen. */
static void claim_outside_windows(struct xen_accel *xa, uint64_t start, uint64_t last, bool add,
                                  guint from)
{
    for (guint i = from; i < xa->ram_windows->len; i++) {
        const struct xen_range *w = &g_array_index(xa->ram_windows, struct xen_range, i);
        if (w->start > last || w->last < start) {
            continue;
        }
        if (start < w->start) {
            claim_outside_windows(xa, start, w->start - 1, add, i + 1);
        }
        if (last > w->last) {
            claim_outside_windows(xa, w->last + 1, last, add, i + 1);
        }
        return;
    }
    claim_range_xen(xa, ADDRESS_SPACE_MMIO, start, last, add);
}

static void claim_range(struct xen_accel *xa, enum address_space_kind kind, uint64_t start,
                        uint64_t last, bool add)
{
    struct xen_range r = {start, last};

    if (kind != ADDRESS_SPACE_MMIO) {
        claim_range_xen(xa, kind, start, last, add);
        return;
    }
    if (add) {
        g_array_append_val(xa->mmio_claims, r);
    } else {
        for (guint i = 0; i < xa->mmio_claims->len; i++) {
            const struct xen_range *c = &g_array_index(xa->mmio_claims, struct xen_range, i);
            if (c->start == start && c->last == last) {
                g_array_remove_index_fast(xa->mmio_claims, i);
                break;
            }
        }
    }
    claim_outside_windows(xa, start, last, add, 0);
}

/*
 * RAM now shows at window w (add) or no longer does: the claimed regions it covers are
 * released from, or given back to, the ioreq server.
 */
static void window_changed(struct xen_accel *xa, const struct xen_range *w, bool add)
{
    for (guint i = 0; i < xa->mmio_claims->len; i++) {
        const struct xen_range *c = &g_array_index(xa->mmio_claims, struct xen_range, i);
        if (c->start <= w->last && w->start <= c->last) {
            claim_range_xen(xa, ADDRESS_SPACE_MMIO, XENDM_MAX(c->start, w->start),
                            XENDM_MIN(c->last, w->last), !add);
        }
    }
}

static void listener_added(void *opaque, enum address_space_kind kind, uint64_t start,
                           uint64_t last)
{
    claim_range(opaque, kind, start, last, true);
}

static void listener_removed(void *opaque, enum address_space_kind kind, uint64_t start,
                             uint64_t last)
{
    claim_range(opaque, kind, start, last, false);
}

/* ---- guest RAM the device model owns (include/xendm/guest-ram.h, reference §4) ---- */

/* Adds the frames of [first_gfn, first_gfn + nr) that cannot be mapped, i.e. do not exist. */
static bool op_ram_populate(void *opaque, uint64_t first_gfn, uint64_t nr)
{
    struct xen_accel *xa = opaque;
    xen_pfn_t *gfns = g_new(xen_pfn_t, nr);
    int *err = g_new0(int, nr);
    unsigned long missing = 0;
    void *probe;
    bool ok = true;

    for (uint64_t i = 0; i < nr; i++) {
        gfns[i] = (xen_pfn_t)(first_gfn + i);
    }
    /* A restored domain has them already (libxc recreated them from the image). */
    probe = xenforeignmemory_map(xa->fmem, xa->domid, PROT_READ, nr, gfns, err);
    for (uint64_t i = 0; i < nr; i++) {
        if (probe == NULL || err[i] != 0) {
            gfns[missing++] = (xen_pfn_t)(first_gfn + i);
        }
    }
    if (probe != NULL) {
        xenforeignmemory_unmap(xa->fmem, probe, nr);
    }
    TRACE(xen_ram, "populate gfn=0x%" PRIx64 " nr=%" PRIu64 " missing=%lu", first_gfn, nr,
          missing);
    if (missing > 0 && xc_domain_populate_physmap_exact(xa->xc, xa->domid, missing, 0, 0,
                                                        gfns) != 0) {
        log_error("xen: populating %lu frames from gfn 0x%" PRIx64 " failed: %s", missing,
                  first_gfn, g_strerror(errno));
        ok = false;
    }
    g_free(err);
    g_free(gfns);
    return ok;
}

static void set_window(struct xen_accel *xa, uint64_t gfn, uint64_t nr, bool add)
{
    struct xen_range w = {gfn << XC_PAGE_SHIFT, ((gfn + nr) << XC_PAGE_SHIFT) - 1};

    if (add) {
        g_array_append_val(xa->ram_windows, w);
        window_changed(xa, &w, true);
        return;
    }
    for (guint i = 0; i < xa->ram_windows->len; i++) {
        const struct xen_range *o = &g_array_index(xa->ram_windows, struct xen_range, i);
        if (o->start == w.start && o->last == w.last) {
            g_array_remove_index_fast(xa->ram_windows, i);
            window_changed(xa, &w, false);
            return;
        }
    }
}

/*
 * Moves frames as qemu-xen does for the VGA framebuffer: relocate_memory, then the range at
 * a BAR pinned write-back (guest RAM, whatever MTRRs the guest set for its MMIO hole). The pin
 * goes when the frames leave: Xen refuses a new pin that overlaps an old one (-EBUSY).
 */
static bool op_ram_relocate(void *opaque, uint64_t src_gfn, uint64_t dst_gfn, uint64_t nr,
                            bool from_mmio, bool to_mmio)
{
    struct xen_accel *xa = opaque;

    TRACE(xen_ram, "relocate 0x%" PRIx64 " -> 0x%" PRIx64 " nr=%" PRIu64, src_gfn, dst_gfn, nr);
    if (nr > UINT32_MAX ||
        xendevicemodel_relocate_memory(xa->dmod, xa->domid, (uint32_t)nr, src_gfn,
                                       dst_gfn) != 0) {
        log_warn("xen: relocating %" PRIu64 " frames 0x%" PRIx64 " -> 0x%" PRIx64 " failed: %s",
                 nr, src_gfn, dst_gfn, g_strerror(errno));
        return false;
    }
    if (from_mmio) {
        xendevicemodel_pin_memory_cacheattr(xa->dmod, xa->domid, src_gfn, src_gfn + nr - 1,
                                            XEN_DMOP_DELETE_MEM_CACHEATTR);
        set_window(xa, src_gfn, nr, false);
    }
    if (to_mmio) {
        set_window(xa, dst_gfn, nr, true);
        if (xendevicemodel_pin_memory_cacheattr(xa->dmod, xa->domid, dst_gfn, dst_gfn + nr - 1,
                                                XEN_DMOP_MEM_CACHEATTR_WB) != 0) {
            log_warn("xen: pinning 0x%" PRIx64 "+%" PRIu64 " write-back failed: %s", dst_gfn,
                     nr, g_strerror(errno));
        }
    }
    return true;
}

static int op_ram_track_dirty(void *opaque, uint64_t first_gfn, uint32_t nr,
                              unsigned long *bitmap)
{
    struct xen_accel *xa = opaque;

    if (xendevicemodel_track_dirty_vram(xa->dmod, xa->domid, first_gfn, nr, bitmap) != 0) {
        int e = errno;
        TRACE(xen_ram, "track_dirty_vram 0x%" PRIx64 " nr=%u: %s", first_gfn, nr, g_strerror(e));
        return e ? -e : -EIO;
    }
    return 0;
}

/* ---- serving ---- */

static gboolean buffered_poll(gpointer opaque);

/* The number of entries executed, or -1 once the accelerator has failed (a corrupt ring does). */
static int drain_buffered_once(struct xen_accel *xa)
{
    int n;

    if (xa->failed) {
        return -1;
    }
    n = ioreq_drain_buffered(xa->m, xa->buffered, &xa->stats);
    if (n < 0) {
        accel_fatal(xa, "the buffered ioreq ring is corrupt");
    }
    return n;
}

static void drain_buffered(struct xen_accel *xa)
{
    /* While entries keep coming, poll as well: the buffered port only carries hints. */
    if (drain_buffered_once(xa) > 0 && xa->poll_timer == 0) {
        xa->poll_timer = g_timeout_add(BUFFERED_POLL_MS, buffered_poll, xa);
    }
}

static gboolean buffered_poll(gpointer opaque)
{
    struct xen_accel *xa = opaque;

    if (drain_buffered_once(xa) <= 0) {
        xa->poll_timer = 0;
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

/* True when a request was answered (false: a spurious wake-up, or the accelerator failed). */
static bool serve_vcpu(struct xen_accel *xa, unsigned vcpu)
{
    drain_buffered(xa);
    if (xa->failed || !ioreq_service_slot(xa->m, &xa->shared[vcpu], NULL, &xa->stats)) {
        return false;
    }
    if (xenevtchn_notify(xa->xce, (evtchn_port_t)xa->vcpu_local_port[vcpu]) != 0) {
        /* Once per request on the hot path: rate-limited. */
        log_guest_error("xen: notifying vCPU %u failed: %s", vcpu, g_strerror(errno));
    }
    return true;
}

/* The first vCPU whose slot holds a request, or -1. */
static int vcpu_with_request(const struct xen_accel *xa)
{
    for (unsigned i = 0; i < xa->nr_vcpus; i++) {
        uint8_t flags = xenabi_ioreq_load_flags(&xa->shared[i]);
        if (xenabi_ioreq_state(flags) == XENABI_STATE_IOREQ_READY) {
            return (int)i;
        }
    }
    return -1;
}

static int spin_for_request(struct xen_accel *xa, int64_t deadline_us)
{
    for (;;) {
        int vcpu = vcpu_with_request(xa);
        if (vcpu >= 0 || g_get_monotonic_time() >= deadline_us) {
            return vcpu;
        }
        /* A task runnable on this CPU (the vCPU's, under xensim) must not wait for us. */
        sched_yield();
    }
}

static void spin_grow(struct xen_accel *xa)
{
    int64_t next = xa->spin_us == 0 ? POLL_SPIN_START_US : xa->spin_us * 2;

    xa->spin_us = MIN(next, xa->poll_max_us);
}

/*
 * After requests served by polling, the event Xen raised for the first of them is still
 * queued, its port masked, and the later ones only left it pending. Left so, the next
 * request's wake-up would cost an extra unmask round trip through Xen before it could be
 * served: take that event now and unmask, so the next request wakes the loop directly. One
 * event only; a queued event of another port is served as usual (without polling).
 */
static void rearm_after_polling(struct xen_accel *xa)
{
    xenevtchn_port_or_error_t port = xenevtchn_pending(xa->xce);

    if (port < 0) {
        return; /* EAGAIN: nothing queued; a real error shows again in evtchn_ready */
    }
    if (xenevtchn_unmask(xa->xce, (evtchn_port_t)port) != 0) {
        log_guest_error("xen: unmasking port %d failed: %s", port, g_strerror(errno));
    }
    if (port == xa->buffered_local_port) {
        drain_buffered(xa);
        return;
    }
    for (unsigned i = 0; i < xa->nr_vcpus; i++) {
        if (xa->vcpu_local_port[i] == port) {
            serve_vcpu(xa, i);
            return;
        }
    }
}

/*
 * Serves vcpu's request, then polls the slots for the next one for up to spin_us instead of
 * returning to poll(): a vCPU in a burst of I/O (a driver polling a status register, a run of
 * port writes) sends it microseconds after our answer, and waiting for its event costs a
 * sleep, a wake-up and three system calls here and a delivery in Xen. Event suppression comes
 * with it: the first request served by polling still raises its event, which masks the port
 * (Xen's rule for a delivered port), so the later ones only mark it pending and cost Xen no
 * delivery. rearm_after_polling takes that event when polling ends; a wake-up that finds the
 * slot already served is a spurious one (ioreq_service_slot answers nothing twice). spin_us
 * adapts to the gaps seen: an idle guest, or one whose requests come further apart than
 * poll_max_us, does not make xendm spin.
 */
static void serve_burst(struct xen_accel *xa, unsigned vcpu)
{
    int64_t woke, end;

    if (xa->poll_max_us == 0) {
        /* No busy polling: nothing to time, not even a clock read per request. */
        serve_vcpu(xa, vcpu);
        return;
    }
    woke = g_get_monotonic_time();
    end = woke + POLL_BURST_US;
    if (!serve_vcpu(xa, vcpu)) {
        return;
    }
    if (woke - xa->last_answer_us <= xa->poll_max_us) {
        spin_grow(xa);
    } else {
        xa->spin_us = 0;
    }
    xa->last_answer_us = g_get_monotonic_time();
    bool polled = false;
    while (xa->spin_us > 0 && xa->last_answer_us < end && !xa->failed) {
        int next = spin_for_request(xa, MIN(xa->last_answer_us + xa->spin_us, end));
        if (next < 0) {
            /*
             * The next wake-up's gap decides whether spinning goes on: ending it here on
             * every empty spin made it thrash (measured: half the rate, 1.4x the CPU).
             */
            if (polled) {
                rearm_after_polling(xa);
            }
            return;
        }
        if (serve_vcpu(xa, (unsigned)next)) {
            xa->last_answer_us = g_get_monotonic_time();
            polled = true;
        }
    }
}

static void dispatch_port(struct xen_accel *xa, evtchn_port_t port)
{
    if ((int)port == xa->buffered_local_port) {
        drain_buffered(xa);
        return;
    }
    for (unsigned i = 0; i < xa->nr_vcpus; i++) {
        if (xa->vcpu_local_port[i] == (int)port) {
            serve_burst(xa, i);
            return;
        }
    }
    /* Possible on every wake-up (a port bound by another user of the handle): rate-limited. */
    log_guest_error("xen: event on unknown port %u ignored", port);
}

/*
 * One pending port per wake-up: the fd is level-triggered, so GLib calls again
 * while more are queued. In the common case of a single event this saves the
 * read that would only return EAGAIN (one syscall of the four or five an
 * ioreq costs).
 */
static gboolean evtchn_ready(gint fd, GIOCondition cond, gpointer opaque)
{
    struct xen_accel *xa = opaque;
    xenevtchn_port_or_error_t port;

    if (xa->failed) {
        /*
         * Nothing reads the fd any more, and it is level-triggered: keeping the watch would
         * wake the loop for ever. The id is cleared so that teardown does not remove it again.
         */
        xa->evtchn_watch = 0;
        return G_SOURCE_REMOVE;
    }
    port = xenevtchn_pending(xa->xce);
    if (port < 0) {
        if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
            accel_fatal(xa, "reading the event channel device failed");
        }
        return G_SOURCE_CONTINUE;
    }
    /* Delivery masked the port; unmask before serving so no later event is lost. */
    if (xenevtchn_unmask(xa->xce, (evtchn_port_t)port) != 0) {
        log_guest_error("xen: unmasking port %d failed: %s", port, g_strerror(errno));
    }
    dispatch_port(xa, (evtchn_port_t)port);
    return G_SOURCE_CONTINUE;
}

/* ---- bring-up steps ---- */

static bool step_open_handles(struct xen_accel *xa, GError **err)
{
    xa->xce = xenevtchn_open(NULL, 0);
    if (xa->xce == NULL) {
        return step_failed(err, 1, "xenevtchn_open");
    }
    xa->fmem = xenforeignmemory_open(NULL, 0);
    if (xa->fmem == NULL) {
        return step_failed(err, 1, "xenforeignmemory_open");
    }
    xa->dmod = xendevicemodel_open(NULL, 0);
    if (xa->dmod == NULL) {
        return step_failed(err, 1, "xendevicemodel_open");
    }
    xa->xc = xc_interface_open(NULL, NULL, 0);
    if (xa->xc == NULL) {
        return step_failed(err, 1, "xc_interface_open");
    }
    xa->xsh = xs_open(0);
    if (xa->xsh == NULL) {
        return step_failed(err, 1, "xs_open");
    }
    xa->step = XEN_ACCEL_HANDLES;
    return true;
}

static bool step_nr_vcpus(struct xen_accel *xa, GError **err)
{
    unsigned vcpus = 0;

    if (xendevicemodel_nr_vcpus(xa->dmod, xa->domid, &vcpus) != 0 || vcpus == 0) {
        log_warn("xen: nr_vcpus failed (%s); assuming %u from -smp", g_strerror(errno),
                 xa->fallback_vcpus);
        vcpus = xa->fallback_vcpus;
    }
    if (vcpus > XENABI_IOREQS_PER_PAGE) {
        /* Xen 4.17 serves one ioreq page: vCPUs beyond it never send requests to us. */
        log_warn("xen: %u vCPUs; serving the first %u", vcpus, XENABI_IOREQS_PER_PAGE);
        vcpus = XENABI_IOREQS_PER_PAGE;
    }
    xa->nr_vcpus = vcpus;
    xa->vcpu_local_port = g_new(int, vcpus);
    for (unsigned i = 0; i < vcpus; i++) {
        xa->vcpu_local_port[i] = -1;
    }
    xa->step = XEN_ACCEL_VCPUS;
    return true;
}

static bool step_create_server(struct xen_accel *xa, GError **err)
{
    if (xendevicemodel_create_ioreq_server(xa->dmod, xa->domid, XENABI_BUFIOREQ_ATOMIC,
                                           &xa->server_id) != 0) {
        return step_failed(err, 3, "create_ioreq_server");
    }
    log_info("xen: domain %u: ioreq server %u created", xa->domid, xa->server_id);
    xa->step = XEN_ACCEL_SERVER;
    return true;
}

static bool step_map_pages(struct xen_accel *xa, GError **err)
{
    void *addr = NULL;

    xa->pages_handle = xenforeignmemory_map_resource(xa->fmem, xa->domid, IOREQ_RESOURCE_TYPE,
                                                     xa->server_id, IOREQ_FRAME_BUFFERED,
                                                     IOREQ_NR_FRAMES, &addr,
                                                     PROT_READ | PROT_WRITE, 0);
    if (xa->pages_handle == NULL) {
        return step_failed(err, 4, "map_resource ioreq_server frames 0-1");
    }
    xa->buffered = addr;
    xa->shared = (struct xenabi_ioreq *)((char *)addr + XENABI_PAGE_SIZE);
    xa->step = XEN_ACCEL_PAGES;
    return true;
}

static bool step_buffered_port(struct xen_accel *xa, GError **err)
{
    if (xendevicemodel_get_ioreq_server_info(xa->dmod, xa->domid, xa->server_id, NULL, NULL,
                                             &xa->buffered_remote_port) != 0) {
        return step_failed(err, 5, "get_ioreq_server_info");
    }
    xa->step = XEN_ACCEL_BUFFERED_PORT;
    return true;
}

static bool step_enable(struct xen_accel *xa, GError **err)
{
    if (xendevicemodel_set_ioreq_server_state(xa->dmod, xa->domid, xa->server_id, 1) != 0) {
        return step_failed(err, 6, "set_ioreq_server_state(enabled)");
    }
    xa->server_enabled = true;
    xa->step = XEN_ACCEL_ENABLED;
    return true;
}

static bool step_bind_ports(struct xen_accel *xa, GError **err)
{
    xenevtchn_port_or_error_t port;

    for (unsigned i = 0; i < xa->nr_vcpus; i++) {
        /* Xen wrote vp_eport when the server was enabled. */
        uint32_t remote = __atomic_load_n(&xa->shared[i].vp_eport, __ATOMIC_ACQUIRE);
        port = xenevtchn_bind_interdomain(xa->xce, xa->domid, remote);
        if (port < 0) {
            /* Formatting the step's name may allocate, and allocation may clobber errno. */
            int saved = errno;
            g_autofree char *what = g_strdup_printf("bind vCPU %u port %u", i, remote);
            errno = saved;
            return step_failed(err, 7, what);
        }
        xa->vcpu_local_port[i] = port;
    }
    port = xenevtchn_bind_interdomain(xa->xce, xa->domid, xa->buffered_remote_port);
    if (port < 0) {
        return step_failed(err, 7, "bind the buffered port");
    }
    xa->buffered_local_port = port;
    xa->step = XEN_ACCEL_BOUND;
    return true;
}

static bool step_claims(struct xen_accel *xa, GError **err)
{
    const struct address_space_listener listener = {
        .region_added = listener_added,
        .region_removed = listener_removed,
        .opaque = xa,
    };

    xa->step = XEN_ACCEL_CLAIMS;
    /* Installing the listener replays every region that exists already. */
    address_space_set_listener(xa->m->io, &listener);
    address_space_set_listener(xa->m->mmio, &listener);
    for (guint i = 0; i < xa->pcidevs->len; i++) {
        pcidev_claim_apply(xa, g_array_index(xa->pcidevs, struct pcidev_claim, i).sbdf, true);
    }
    return true;
}

/*
 * g_unix_fd_add without GLib's blocking of the source around each dispatch:
 * blocking takes the fd out of the poll set and puts it back, which costs two
 * eventfd writes and a spurious wakeup per event on the hot path. Safe because
 * no callback here iterates the main loop recursively.
 */
static guint hot_fd_watch_add(int fd, GIOCondition cond, GUnixFDSourceFunc fn, void *opaque)
{
    GSource *src = g_unix_fd_source_new(fd, cond);
    guint id;

    g_source_set_callback(src, G_SOURCE_FUNC(fn), opaque, NULL);
    g_source_set_can_recurse(src, TRUE);
    id = g_source_attach(src, NULL);
    g_source_unref(src);
    return id;
}

static bool step_serve(struct xen_accel *xa, GError **err)
{
    int fd = xenevtchn_fd(xa->xce);
    int flags = fcntl(fd, F_GETFL);

    /* Non-blocking: the handler reads pending ports until EAGAIN. */
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        return step_failed(err, 9, "set the event channel fd non-blocking");
    }
    xa->evtchn_watch = hot_fd_watch_add(fd, G_IO_IN, evtchn_ready, xa);
    xa->step = XEN_ACCEL_SERVING;
    /* Anything Xen queued before we listened. */
    drain_buffered(xa);
    return true;
}

/* ---- public ---- */

void xen_accel_set_poll_us(struct xen_accel *xa, unsigned max_us)
{
    xa->poll_max_us = MIN((int64_t)max_us, (int64_t)POLL_BURST_US);
}

struct xen_accel *xen_accel_new(uint32_t domid, unsigned fallback_vcpus)
{
    struct xen_accel *xa = g_new0(struct xen_accel, 1);

    xa->domid = domid;
    xa->fallback_vcpus = fallback_vcpus > 0 ? fallback_vcpus : 1;
    xa->buffered_local_port = -1;
    xa->pcidevs = g_array_new(FALSE, FALSE, sizeof(struct pcidev_claim));
    xa->mmio_claims = g_array_new(FALSE, FALSE, sizeof(struct xen_range));
    xa->ram_windows = g_array_new(FALSE, FALSE, sizeof(struct xen_range));
    xa->mapper = (struct mapcache_mapper){accel_map, accel_unmap, xa};
    xa->ops = (struct accel_ops){
        .set_isa_irq = op_set_isa_irq,
        .set_pci_intx = op_set_pci_intx,
        .set_pci_link_route = op_set_pci_link_route,
        .set_mem_type = op_set_mem_type,
        .modified_memory = op_modified_memory,
        .ram_populate = op_ram_populate,
        .ram_relocate = op_ram_relocate,
        .ram_track_dirty = op_ram_track_dirty,
        .inject_msi = op_inject_msi,
        .claim_pcidev = op_claim_pcidev,
        .request_shutdown = op_request_shutdown,
        .set_acpi_sleep_state = op_set_acpi_sleep_state,
    };
    return xa;
}

bool xen_accel_open(struct xen_accel *xa, GError **err)
{
    return step_open_handles(xa, err);
}

const struct mapcache_mapper *xen_accel_mapper(struct xen_accel *xa)
{
    return &xa->mapper;
}

void xen_accel_attach(struct xen_accel *xa, struct machine *m)
{
    xa->m = m;
    m->accel = &xa->ops;
    m->accel_opaque = xa;
}

bool xen_accel_start(struct xen_accel *xa, GError **err)
{
    return xen_accel_start_ex(xa, true, err);
}

bool xen_accel_start_ex(struct xen_accel *xa, bool serving, GError **err)
{
    if (xa->step != XEN_ACCEL_HANDLES || xa->m == NULL) {
        g_set_error(err, XEN_ACCEL_ERROR, 0, "xen: start needs open handles and a machine");
        return false;
    }
    if (!(step_nr_vcpus(xa, err) && step_create_server(xa, err) && step_map_pages(xa, err) &&
          step_buffered_port(xa, err) && step_enable(xa, err) && step_bind_ports(xa, err) &&
          step_claims(xa, err) && step_serve(xa, err))) {
        return false;
    }
    if (!serving) {
        /* The ports are bound and the claims made: only the routing waits for cont. */
        log_info("xen: ioreq server %u disabled until the machine runs (-S)", xa->server_id);
        return xen_accel_set_serving(xa, false, err);
    }
    return true;
}

bool xen_accel_set_serving(struct xen_accel *xa, bool on, GError **err)
{
    if (xa->step != XEN_ACCEL_SERVING) {
        g_set_error(err, XEN_ACCEL_ERROR, EINVAL, "xen: the ioreq server is not started");
        return false;
    }
    if (xa->server_enabled == on) {
        return true;
    }
    if (xendevicemodel_set_ioreq_server_state(xa->dmod, xa->domid, xa->server_id, on) != 0) {
        int saved = errno;
        g_set_error(err, XEN_ACCEL_ERROR, saved, "xen: %s ioreq server %u failed: %s",
                    on ? "enabling" : "disabling", xa->server_id, g_strerror(saved));
        return false;
    }
    xa->server_enabled = on;
    TRACE(xen_server_state, "server %u %s", xa->server_id, on ? "enabled" : "disabled");
    if (on) {
        /* Anything Xen buffered while we were away. */
        drain_buffered(xa);
    }
    return true;
}

bool xen_accel_is_serving(const struct xen_accel *xa)
{
    return xa->step == XEN_ACCEL_SERVING && xa->server_enabled;
}

bool xen_accel_restrict(struct xen_accel *xa, GError **err)
{
    if (xa->step < XEN_ACCEL_HANDLES || xa->restricted) {
        g_set_error(err, XEN_ACCEL_ERROR, EINVAL, "xen: %s",
                    xa->restricted ? "already restricted" : "restricting needs open handles");
        return false;
    }
    /*
     * After restriction libxenstore's fd is /dev/null: a write would fail, a read
     * thread would spin on EOF. xendm has written its state; close it cleanly first.
     */
    if (xa->xsh != NULL) {
        xs_close(xa->xsh);
        xa->xsh = NULL;
    }
    if (xentoolcore_restrict_all((domid_t)xa->domid) < 0) {
        int saved = errno;
        g_set_error(err, XEN_ACCEL_ERROR, saved,
                    "xen: restricting the handles to domain %u failed: %s", xa->domid,
                    g_strerror(saved));
        return false;
    }
    xa->restricted = true;
    log_info("xen: handles restricted to domain %u", xa->domid);
    return true;
}

bool xen_accel_is_restricted(const struct xen_accel *xa)
{
    return xa->restricted;
}

bool xen_accel_set_state(struct xen_accel *xa, const char *state, GError **err)
{
    g_autofree char *path = g_strdup_printf("device-model/%u/state", xa->domid);

    if (xa->restricted) {
        g_set_error(err, XEN_ACCEL_ERROR, EPERM,
                    "xenstore write %s = %s refused: the handles are restricted", path, state);
        return false;
    }
    if (xa->xsh == NULL || !xs_write(xa->xsh, XBT_NULL, path, state, (unsigned)strlen(state))) {
        int saved = errno;
        g_set_error(err, XEN_ACCEL_ERROR, saved, "xenstore write %s = %s failed: %s", path, state,
                    g_strerror(saved));
        return false;
    }
    log_info("xen: %s = %s", path, state);
    return true;
}

void xen_accel_set_fatal_handler(struct xen_accel *xa, void (*fatal)(void *opaque), void *opaque)
{
    xa->fatal = fatal;
    xa->fatal_opaque = opaque;
}

enum xen_accel_step xen_accel_step_reached(const struct xen_accel *xa)
{
    return xa->step;
}

const struct ioreq_stats *xen_accel_stats(const struct xen_accel *xa)
{
    return &xa->stats;
}

static void undo_serving(struct xen_accel *xa)
{
    if (xa->evtchn_watch != 0) {
        g_source_remove(xa->evtchn_watch);
        xa->evtchn_watch = 0;
    }
    if (xa->poll_timer != 0) {
        g_source_remove(xa->poll_timer);
        xa->poll_timer = 0;
    }
}

static void undo_bind(struct xen_accel *xa)
{
    for (unsigned i = 0; i < xa->nr_vcpus; i++) {
        if (xa->vcpu_local_port[i] >= 0) {
            xenevtchn_unbind(xa->xce, (evtchn_port_t)xa->vcpu_local_port[i]);
            xa->vcpu_local_port[i] = -1;
        }
    }
    if (xa->buffered_local_port >= 0) {
        xenevtchn_unbind(xa->xce, (evtchn_port_t)xa->buffered_local_port);
        xa->buffered_local_port = -1;
    }
}

void xen_accel_stop(struct xen_accel *xa)
{
    /* Each case falls through to undo the steps before it. */
    switch (xa->step) {
    case XEN_ACCEL_SERVING:
        undo_serving(xa);
        /* fall through */
    case XEN_ACCEL_CLAIMS:
        /* Ranges go with the server: just stop following the machine. */
        address_space_set_listener(xa->m->io, NULL);
        address_space_set_listener(xa->m->mmio, NULL);
        g_array_set_size(xa->mmio_claims, 0);
        /* fall through */
    case XEN_ACCEL_BOUND:
    case XEN_ACCEL_ENABLED:
        undo_bind(xa); /* the steps of 7 that were reached, even if 7 itself failed */
        xa->server_enabled = false;
        if (xendevicemodel_set_ioreq_server_state(xa->dmod, xa->domid, xa->server_id, 0) != 0 &&
            errno != ESRCH) {
            log_warn("xen: disabling ioreq server %u failed: %s", xa->server_id,
                     g_strerror(errno));
        }
        /* fall through */
    case XEN_ACCEL_BUFFERED_PORT:
    case XEN_ACCEL_PAGES:
        /* Step 4 before step 3: the pages are never mapped without their server. */
        if (xenforeignmemory_unmap_resource(xa->fmem, xa->pages_handle) != 0) {
            log_warn("xen: unmapping ioreq server %u's pages failed: %s", xa->server_id,
                     g_strerror(errno));
        }
        xa->pages_handle = NULL;
        xa->buffered = NULL;
        xa->shared = NULL;
        /* fall through */
    case XEN_ACCEL_SERVER:
        if (xendevicemodel_destroy_ioreq_server(xa->dmod, xa->domid, xa->server_id) == 0) {
            log_info("xen: domain %u: ioreq server %u destroyed", xa->domid, xa->server_id);
        } else if (errno == ESRCH) {
            /* xl destroy: the domain went first, and its ioreq servers with it. */
            log_info("xen: domain %u is gone, and ioreq server %u with it", xa->domid,
                     xa->server_id);
        } else {
            log_warn("xen: destroying ioreq server %u failed: %s", xa->server_id,
                     g_strerror(errno));
        }
        /* fall through */
    case XEN_ACCEL_VCPUS:
        g_free(xa->vcpu_local_port);
        xa->vcpu_local_port = NULL;
        xa->nr_vcpus = 0;
        xa->step = XEN_ACCEL_HANDLES;
        break;
    case XEN_ACCEL_HANDLES:
    case XEN_ACCEL_NONE:
        break;
    }
}

void xen_accel_free(struct xen_accel *xa)
{
    if (xa == NULL) {
        return;
    }
    /* The machine may be gone by now (it is freed before the handles): do not touch it. */
    xen_accel_stop(xa);
    /* Step 1 may have stopped half way: close exactly what was opened. */
    if (xa->xsh != NULL) {
        xs_close(xa->xsh);
    }
    if (xa->xc != NULL) {
        xc_interface_close(xa->xc);
    }
    if (xa->dmod != NULL) {
        xendevicemodel_close(xa->dmod);
    }
    if (xa->fmem != NULL) {
        xenforeignmemory_close(xa->fmem);
    }
    if (xa->xce != NULL) {
        xenevtchn_close(xa->xce);
    }
    g_array_free(xa->pcidevs, TRUE);
    g_array_free(xa->mmio_claims, TRUE);
    g_array_free(xa->ram_windows, TRUE);
    g_free(xa);
}
