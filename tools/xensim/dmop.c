/*
 * dm_op decode: the real struct xen_dm_op ABI (xen/hvm/dm_op.h), with the
 * argument checks Xen 4.17's dm.c makes. Interrupt calls are appended to the
 * irq event log (every call, not only changes: tests check that a device
 * model sends changes only).
 */
#include <errno.h>
#include <string.h>

#include <stdint.h>
#include <xen/xen.h>
#include <xen/hvm/dm_op.h>

#include "xensim.h"

#define MAX_DIRTY_VRAM_PAGES (1u << 18) /* one range <= 1 GiB */
#define MAX_GFN ((1ull << 40) - 1)

void xsim_irq_log_append(struct xsim_irqs *irqs, const struct xsim_irq_event *ev)
{
    if (irqs->log_len == XSIM_IRQ_LOG_MAX) {
        /* Bounded: the oldest entry goes, the count of dropped entries stays. */
        irqs->log_head = (irqs->log_head + 1) % XSIM_IRQ_LOG_MAX;
        irqs->log_len--;
        irqs->log_dropped++;
    }
    irqs->log[(irqs->log_head + irqs->log_len) % XSIM_IRQ_LOG_MAX] = *ev;
    irqs->log_len++;
}

static unsigned intx_gsi(unsigned dev, unsigned intx)
{
    return (((dev << 2) + (dev >> 3) + intx) & 31) + 16;
}

static unsigned intx_link(unsigned dev, unsigned intx)
{
    return (dev + intx) & 3;
}

/*
 * Line levels as Xen's vIOAPIC sees them (hvm/irq.c): a PCI GSI is the OR of
 * its pins; an ISA IRQ's GSI (ISA 0 is GSI 2) is the ISA line OR'ed with every
 * asserted PCI link routed to that IRQ.
 */
static void recompute_levels(struct xsim_irqs *irqs)
{
    uint8_t link_level[4] = { 0 };
    memset(irqs->gsi_level, 0, sizeof(irqs->gsi_level));
    for (unsigned d = 0; d < 32; d++) {
        for (unsigned p = 0; p < 4; p++) {
            irqs->gsi_level[intx_gsi(d, p)] |= irqs->intx_level[d][p];
            link_level[intx_link(d, p)] |= irqs->intx_level[d][p];
        }
    }
    for (unsigned isa = 0; isa < 16; isa++)
        irqs->gsi_level[isa == 0 ? 2 : isa] |= irqs->isa_level[isa];
    for (unsigned l = 0; l < 4; l++) {
        if (irqs->link_route[l] && link_level[l])
            irqs->gsi_level[irqs->link_route[l]] = 1;
    }
}

static int op_set_isa_irq_level(struct xsim *xs, struct xen_dm_op_set_isa_irq_level *a)
{
    if (a->isa_irq > 15 || a->level > 1)
        return -EINVAL;
    struct xsim_irq_event ev = { .kind = XSIM_IRQ_ISA, .a = a->isa_irq, .b = a->level };
    xsim_irq_log_append(&xs->irqs, &ev);
    xs->irqs.isa_level[a->isa_irq] = a->level;
    recompute_levels(&xs->irqs);
    return 0;
}

static int op_set_pci_intx_level(struct xsim *xs, struct xen_dm_op_set_pci_intx_level *a)
{
    if (a->domain || a->bus || a->device > 31 || a->intx > 3 || a->level > 1)
        return -EINVAL;
    /* Xen's swizzle (hvm/irq.c): the GSI and the PIIX3 link of a device's pin. */
    unsigned dev = a->device, intx = a->intx;
    unsigned gsi = intx_gsi(dev, intx);
    struct xsim_irq_event ev = { .kind = XSIM_IRQ_INTX, .a = a->device, .b = a->intx,
                                 .c = a->level, .gsi = gsi };
    xsim_irq_log_append(&xs->irqs, &ev);
    xs->irqs.intx_level[dev][intx] = a->level;
    recompute_levels(&xs->irqs);
    return 0;
}

static int op_set_pci_link_route(struct xsim *xs, struct xen_dm_op_set_pci_link_route *a)
{
    if (a->link > 3 || a->isa_irq > 15)
        return -EINVAL;
    struct xsim_irq_event ev = { .kind = XSIM_IRQ_LINK, .a = a->link, .b = a->isa_irq };
    xsim_irq_log_append(&xs->irqs, &ev);
    xs->irqs.link_route[a->link] = a->isa_irq;
    recompute_levels(&xs->irqs);
    return 0;
}

static int op_inject_msi(struct xsim *xs, struct xen_dm_op_inject_msi *a)
{
    if (a->pad)
        return -EINVAL;
    struct xsim_irq_event ev = { .kind = XSIM_IRQ_MSI, .addr = a->addr, .data = a->data };
    xsim_irq_log_append(&xs->irqs, &ev);
    return 0;
}

static int op_create(struct xsim *xs, uint32_t caller, struct xen_dm_op_create_ioreq_server *a)
{
    if (a->pad[0] || a->pad[1] || a->pad[2])
        return -EINVAL;
    return xsim_server_create(xs, caller, a->handle_bufioreq, &a->id);
}

static int op_get_info(struct xsim *xs, uint32_t caller,
                       struct xen_dm_op_get_ioreq_server_info *a)
{
    struct xsim_ioreq_server *s;
    if (a->flags & ~XEN_DMOP_no_gfns)
        return -EINVAL;
    int rc = xsim_server_check(xs, caller, a->id, &s);
    if (rc < 0)
        return rc;
    if (!(a->flags & XEN_DMOP_no_gfns)) {
        rc = xsim_server_legacy_gfns(xs, s);
        if (rc < 0)
            return rc;
        a->ioreq_gfn = s->ioreq_gfn;
        a->bufioreq_gfn = s->buf_page == XSIM_NO_PAGE ? 0 : s->bufioreq_gfn;
    }
    a->bufioreq_port = s->buf_port;
    return 0;
}

static int op_range(struct xsim *xs, uint32_t caller, struct xen_dm_op_ioreq_server_range *a,
                    bool map)
{
    struct xsim_ioreq_server *s;
    if (a->pad)
        return -EINVAL;
    int rc = xsim_server_check(xs, caller, a->id, &s);
    if (rc < 0)
        return rc;
    return map ? xsim_server_map_range(s, a->type, a->start, a->end)
               : xsim_server_unmap_range(s, a->type, a->start, a->end);
}

static int op_set_state(struct xsim *xs, uint32_t caller,
                        struct xen_dm_op_set_ioreq_server_state *a)
{
    struct xsim_ioreq_server *s;
    if (a->pad)
        return -EINVAL;
    int rc = xsim_server_check(xs, caller, a->id, &s);
    return rc < 0 ? rc : xsim_server_set_state(xs, s, a->enabled != 0);
}

static int op_destroy(struct xsim *xs, uint32_t caller, struct xen_dm_op_destroy_ioreq_server *a)
{
    struct xsim_ioreq_server *s;
    if (a->pad)
        return -EINVAL;
    int rc = xsim_server_check(xs, caller, a->id, &s);
    return rc < 0 ? rc : xsim_server_destroy(xs, s);
}

static int op_track_dirty_vram(struct xsim *xs, struct xen_dm_op_track_dirty_vram *a,
                               unsigned nr_bufs, uint8_t **bufs, const uint32_t *buf_len)
{
    struct xsim_dirty_vram *d = &xs->mem.dirty;
    if (a->pad)
        return -EINVAL;
    if (a->nr == 0) {
        d->active = false; /* nr = 0 stops tracking */
        return 0;
    }
    if (a->nr > MAX_DIRTY_VRAM_PAGES || a->first_pfn + a->nr < a->first_pfn ||
        a->first_pfn + a->nr > MAX_GFN)
        return -EINVAL;
    size_t bytes = (a->nr + 7) / 8;
    if (nr_bufs < 2 || buf_len[1] < bytes)
        return -EINVAL;
    if (xs->mem.dirty_vram_errno)
        return -xs->mem.dirty_vram_errno;
    if (!d->active || d->first_pfn != a->first_pfn || d->nr != a->nr) {
        /* A new range: the first report says everything is dirty. */
        g_free(d->bitmap);
        d->bitmap = g_malloc0(bytes);
        d->first_pfn = a->first_pfn;
        d->nr = a->nr;
        d->active = true;
        memset(bufs[1], 0xff, bytes);
        return 0;
    }
    memcpy(bufs[1], d->bitmap, bytes);
    memset(d->bitmap, 0, bytes);
    return 0;
}

static int op_modified_memory(struct xen_dm_op_modified_memory *a, unsigned nr_bufs,
                              uint8_t **bufs, const uint32_t *buf_len)
{
    if (a->opaque)
        return -EINVAL;
    size_t need = (size_t)a->nr_extents * sizeof(struct xen_dm_op_modified_memory_extent);
    if (a->nr_extents == 0)
        return 0;
    if (nr_bufs < 2 || buf_len[1] < need)
        return -EINVAL;
    for (uint32_t i = 0; i < a->nr_extents; i++) {
        struct xen_dm_op_modified_memory_extent ext;
        memcpy(&ext, bufs[1] + i * sizeof(ext), sizeof(ext));
        if (ext.pad || ext.first_pfn + ext.nr < ext.first_pfn ||
            ext.first_pfn + ext.nr > MAX_GFN) {
            a->nr_extents = i + 1; /* Xen reports the failing extent, index + 1 */
            return -EINVAL;
        }
    }
    return 0;
}

static int op_set_mem_type(struct xsim *xs, struct xen_dm_op_set_mem_type *a)
{
    if (a->pad || a->mem_type > XSIM_MEM_IOREQ_SERVER || a->mem_type == XSIM_MEM_UNUSED)
        return -EINVAL;
    if (a->first_pfn + a->nr < a->first_pfn || a->first_pfn + a->nr > MAX_GFN)
        return -EINVAL;
    for (uint32_t i = 0; i < a->nr; i++) {
        if (!xsim_mem_lookup(&xs->mem, a->first_pfn + i, NULL, NULL))
            return -EINVAL;
    }
    for (uint32_t i = 0; i < a->nr; i++)
        xsim_mem_set_type(&xs->mem, a->first_pfn + i, a->mem_type);
    return 0;
}

static int op_map_mem_type(struct xsim *xs, uint32_t caller,
                           struct xen_dm_op_map_mem_type_to_ioreq_server *a)
{
    struct xsim_ioreq_server *s;
    if (a->type != XSIM_MEM_IOREQ_SERVER || (a->flags & ~XEN_DMOP_IOREQ_MEM_ACCESS_WRITE) ||
        a->opaque)
        return -EINVAL;
    /* Checked, not modelled: no p2m type routes accesses to a server here. */
    return xsim_server_check(xs, caller, a->id, &s);
}

static int op_remote_shutdown(struct xsim *xs, struct xen_dm_op_remote_shutdown *a)
{
    /* Xen's domain_shutdown() takes the reason as a u8: the upper bits are dropped. */
    uint8_t reason = (uint8_t)a->reason;
    struct xsim_irq_event ev = { .kind = XSIM_IRQ_SHUTDOWN, .data = reason };
    xsim_irq_log_append(&xs->irqs, &ev);
    xsim_domain_shutdown(xs, reason);
    return 0;
}

static int op_relocate(struct xsim *xs, struct xen_dm_op_relocate_memory *a)
{
    if (a->pad)
        return -EINVAL;
    int rc = xsim_mem_relocate(&xs->mem, a->src_gfn, a->dst_gfn, a->size);
    if (rc == 0)
        a->size = 0;
    return rc;
}

static int op_pin_cacheattr(struct xsim *xs, struct xen_dm_op_pin_memory_cacheattr *a)
{
    switch (a->type) {
    case XEN_DMOP_MEM_CACHEATTR_UC: case XEN_DMOP_MEM_CACHEATTR_WC:
    case XEN_DMOP_MEM_CACHEATTR_WT: case XEN_DMOP_MEM_CACHEATTR_WP:
    case XEN_DMOP_MEM_CACHEATTR_WB: case XEN_DMOP_MEM_CACHEATTR_UCM:
    case XEN_DMOP_DELETE_MEM_CACHEATTR:
        break;
    default:
        return -EINVAL;
    }
    if (a->pad || a->start > a->end || a->end > MAX_GFN)
        return -EINVAL;
    /* Recorded (qtest `cacheattr`); xensim has no caches for them to change. */
    return xsim_mem_pin_cacheattr(&xs->mem, a->start, a->end, a->type,
                                  a->type == XEN_DMOP_DELETE_MEM_CACHEATTR);
}

static int dispatch(struct xsim *xs, uint32_t caller, struct xen_dm_op *op, unsigned nr_bufs,
                    uint8_t **bufs, const uint32_t *buf_len)
{
    switch (op->op) {
    case XEN_DMOP_create_ioreq_server:
        return op_create(xs, caller, &op->u.create_ioreq_server);
    case XEN_DMOP_get_ioreq_server_info:
        return op_get_info(xs, caller, &op->u.get_ioreq_server_info);
    case XEN_DMOP_map_io_range_to_ioreq_server:
        return op_range(xs, caller, &op->u.map_io_range_to_ioreq_server, true);
    case XEN_DMOP_unmap_io_range_from_ioreq_server:
        return op_range(xs, caller, &op->u.unmap_io_range_from_ioreq_server, false);
    case XEN_DMOP_set_ioreq_server_state:
        return op_set_state(xs, caller, &op->u.set_ioreq_server_state);
    case XEN_DMOP_destroy_ioreq_server:
        return op_destroy(xs, caller, &op->u.destroy_ioreq_server);
    case XEN_DMOP_track_dirty_vram:
        return op_track_dirty_vram(xs, &op->u.track_dirty_vram, nr_bufs, bufs, buf_len);
    case XEN_DMOP_set_pci_intx_level:
        return op_set_pci_intx_level(xs, &op->u.set_pci_intx_level);
    case XEN_DMOP_set_isa_irq_level:
        return op_set_isa_irq_level(xs, &op->u.set_isa_irq_level);
    case XEN_DMOP_set_pci_link_route:
        return op_set_pci_link_route(xs, &op->u.set_pci_link_route);
    case XEN_DMOP_modified_memory:
        return op_modified_memory(&op->u.modified_memory, nr_bufs, bufs, buf_len);
    case XEN_DMOP_set_mem_type:
        return op_set_mem_type(xs, &op->u.set_mem_type);
    case XEN_DMOP_inject_event:
        return op->u.inject_event.vcpuid < xs->nr_vcpus ? 0 : -EINVAL;
    case XEN_DMOP_inject_msi:
        return op_inject_msi(xs, &op->u.inject_msi);
    case XEN_DMOP_map_mem_type_to_ioreq_server:
        return op_map_mem_type(xs, caller, &op->u.map_mem_type_to_ioreq_server);
    case XEN_DMOP_remote_shutdown:
        return op_remote_shutdown(xs, &op->u.remote_shutdown);
    case XEN_DMOP_relocate_memory:
        return op_relocate(xs, &op->u.relocate_memory);
    case XEN_DMOP_pin_memory_cacheattr:
        return op_pin_cacheattr(xs, &op->u.pin_memory_cacheattr);
    case XEN_DMOP_nr_vcpus:
        op->u.nr_vcpus.vcpus = xs->nr_vcpus;
        return 0;
    default:
        return -EOPNOTSUPP; /* set_irq_level (19) is ARM's; x86 Xen refuses it too */
    }
}

int xsim_dmop(struct xsim *xs, uint32_t caller_domid, unsigned nr_bufs, uint8_t **bufs,
              const uint32_t *buf_len)
{
    struct xen_dm_op op;
    if (nr_bufs == 0)
        return -EFAULT;
    /* Xen copies min(buffer, struct) and zero-fills the rest; it copies back the same way. */
    memset(&op, 0, sizeof(op));
    size_t n = MIN((size_t)buf_len[0], sizeof(op));
    memcpy(&op, bufs[0], n);
    if (op.pad)
        return -EINVAL;
    int rc = dispatch(xs, caller_domid, &op, nr_bufs, bufs, buf_len);
    memcpy(bufs[0], &op, n);
    return rc;
}
