/*
 * libxendevicemodel.so.1 over xensim: each call builds the real struct
 * xen_dm_op (xen/hvm/dm_op.h) and the extra buffers exactly as the DMOP
 * hypercall takes them, sends them as XSIM_OP_DMOP, and copies the returned
 * buffers back, as the hypercall bounce buffers are copied back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xendevicemodel.h>

#include "xentoolcore-internal.h"
#include "xsim-conn.h"

/* Xen refuses track_dirty_vram over more than 1 GiB (dm.c: GB(1) >> PAGE_SHIFT). */
#define MAX_DIRTY_VRAM_PAGES ((1u << 30) >> XSIM_PAGE_SHIFT)
/* Messages at most this big are marshalled on the stack (the interrupt hot path). */
#define SMALL_REPLY 256

struct xendevicemodel_handle {
    struct xsim_conn conn;
    Xentoolcore__Active_Handle tc_ah;
};

struct dm_buf {
    void *ptr;
    size_t size;
};

static int dmod_restrict_cb(Xentoolcore__Active_Handle *ah, domid_t domid)
{
    xendevicemodel_handle *dmod = XSIM_CONTAINER_OF(ah, xendevicemodel_handle, tc_ah);

    return xendevicemodel_restrict(dmod, domid);
}

xendevicemodel_handle *xendevicemodel_open(struct xentoollog_logger *logger,
                                           unsigned int open_flags)
{
    xendevicemodel_handle *dmod = calloc(1, sizeof(*dmod));

    if (!dmod)
        return NULL;
    if (xsim_conn_open(&dmod->conn, XSIM_CLIENT_DMOD, NULL, 0) < 0) {
        int saved = errno;
        free(dmod);
        errno = saved;
        return NULL;
    }
    dmod->tc_ah.restrict_callback = dmod_restrict_cb;
    xentoolcore__register_active_handle(&dmod->tc_ah);
    return dmod;
}

int xendevicemodel_close(xendevicemodel_handle *dmod)
{
    if (!dmod)
        return 0;
    xentoolcore__deregister_active_handle(&dmod->tc_ah);
    xsim_conn_close(&dmod->conn);
    free(dmod);
    return 0;
}

int xendevicemodel_restrict(xendevicemodel_handle *dmod, domid_t domid)
{
    return xsim_conn_restrict(&dmod->conn, domid);
}

static int check_reply(const struct xsim_dmop *req, const struct xsim_dmop *rep, size_t got,
                       size_t want)
{
    if (got != want || rep->nr_bufs != req->nr_bufs ||
        memcmp(rep->buf_len, req->buf_len, sizeof(req->buf_len)) != 0) {
        errno = EPROTO;
        return -1;
    }
    return 0;
}

/* The DMOP hypercall: bufs[0] is the struct xen_dm_op. 0, or -1 with errno. */
static int dm_op(xendevicemodel_handle *dmod, domid_t domid, struct dm_buf *bufs,
                 unsigned nr_bufs)
{
    struct xsim_dmop head = { .domid = domid, .nr_bufs = nr_bufs };
    struct iovec iov[1 + XSIM_MAX_DMOP_BUFS];
    _Alignas(8) unsigned char small[SMALL_REPLY];
    unsigned char *reply = small;
    size_t total = sizeof(head);
    size_t got = 0;
    int ret = -1;

    iov[0] = (struct iovec){ .iov_base = &head, .iov_len = sizeof(head) };
    for (unsigned i = 0; i < nr_bufs; i++) {
        if (bufs[i].size > XSIM_MAX_PAYLOAD) {
            errno = E2BIG;
            return -1;
        }
        head.buf_len[i] = (uint32_t)bufs[i].size;
        iov[i + 1] = (struct iovec){ .iov_base = bufs[i].ptr, .iov_len = bufs[i].size };
        total += bufs[i].size;
    }
    if (total > sizeof(small)) {
        reply = malloc(total);
        if (!reply)
            return -1;
    }
    if (xsim_conn_call(&dmod->conn, XSIM_OP_DMOP, iov, nr_bufs + 1, reply, total, &got) < 0)
        goto out;
    struct xsim_dmop rep;
    memcpy(&rep, reply, sizeof(rep));
    if (check_reply(&head, &rep, got, total) < 0)
        goto out;
    size_t off = sizeof(rep);
    for (unsigned i = 0; i < nr_bufs; i++) {
        if (bufs[i].size)
            memcpy(bufs[i].ptr, reply + off, bufs[i].size);
        off += bufs[i].size;
    }
    ret = 0;
out:
    if (reply != small)
        free(reply);
    return ret;
}

static int dm_op_simple(xendevicemodel_handle *dmod, domid_t domid, struct xen_dm_op *op)
{
    struct dm_buf buf = { .ptr = op, .size = sizeof(*op) };

    return dm_op(dmod, domid, &buf, 1);
}

int xendevicemodel_create_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                       int handle_bufioreq, ioservid_t *id)
{
    struct xen_dm_op op = { .op = XEN_DMOP_create_ioreq_server };

    op.u.create_ioreq_server.handle_bufioreq = (uint8_t)handle_bufioreq;
    if (dm_op_simple(dmod, domid, &op) < 0)
        return -1;
    *id = op.u.create_ioreq_server.id;
    return 0;
}

int xendevicemodel_get_ioreq_server_info(xendevicemodel_handle *dmod, domid_t domid,
                                         ioservid_t id, xen_pfn_t *ioreq_gfn,
                                         xen_pfn_t *bufioreq_gfn, evtchn_port_t *bufioreq_port)
{
    struct xen_dm_op op = { .op = XEN_DMOP_get_ioreq_server_info };
    struct xen_dm_op_get_ioreq_server_info *info = &op.u.get_ioreq_server_info;

    info->id = id;
    /* Asking for gfns makes Xen map the pages into the guest: only when wanted. */
    if (!ioreq_gfn && !bufioreq_gfn)
        info->flags |= XEN_DMOP_no_gfns;
    if (dm_op_simple(dmod, domid, &op) < 0)
        return -1;
    if (ioreq_gfn)
        *ioreq_gfn = info->ioreq_gfn;
    if (bufioreq_gfn)
        *bufioreq_gfn = info->bufioreq_gfn;
    if (bufioreq_port)
        *bufioreq_port = info->bufioreq_port;
    return 0;
}

static int io_range_op(xendevicemodel_handle *dmod, domid_t domid, uint32_t which,
                       ioservid_t id, uint32_t type, uint64_t start, uint64_t end)
{
    struct xen_dm_op op = { .op = which };
    xen_dm_op_ioreq_server_range_t *range = &op.u.map_io_range_to_ioreq_server;

    range->id = id;
    range->type = type;
    range->start = start;
    range->end = end;
    return dm_op_simple(dmod, domid, &op);
}

int xendevicemodel_map_io_range_to_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                                ioservid_t id, int is_mmio, uint64_t start,
                                                uint64_t end)
{
    return io_range_op(dmod, domid, XEN_DMOP_map_io_range_to_ioreq_server, id,
                       is_mmio ? XEN_DMOP_IO_RANGE_MEMORY : XEN_DMOP_IO_RANGE_PORT, start, end);
}

int xendevicemodel_unmap_io_range_from_ioreq_server(xendevicemodel_handle *dmod,
                                                    domid_t domid, ioservid_t id, int is_mmio,
                                                    uint64_t start, uint64_t end)
{
    return io_range_op(dmod, domid, XEN_DMOP_unmap_io_range_from_ioreq_server, id,
                       is_mmio ? XEN_DMOP_IO_RANGE_MEMORY : XEN_DMOP_IO_RANGE_PORT, start, end);
}

static int pcidev_op(xendevicemodel_handle *dmod, domid_t domid, uint32_t which,
                     ioservid_t id, uint16_t segment, uint8_t bus, uint8_t device,
                     uint8_t function)
{
    /* The SBDF has 5 device and 3 function bits: anything wider is the caller's error. */
    if (device > 0x1f || function > 0x7) {
        errno = EINVAL;
        return -1;
    }
    uint64_t sbdf = XEN_DMOP_PCI_SBDF(segment, bus, device, function);
    return io_range_op(dmod, domid, which, id, XEN_DMOP_IO_RANGE_PCI, sbdf, sbdf);
}

int xendevicemodel_map_pcidev_to_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                              ioservid_t id, uint16_t segment, uint8_t bus,
                                              uint8_t device, uint8_t function)
{
    return pcidev_op(dmod, domid, XEN_DMOP_map_io_range_to_ioreq_server, id, segment, bus,
                     device, function);
}

int xendevicemodel_unmap_pcidev_from_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                                  ioservid_t id, uint16_t segment, uint8_t bus,
                                                  uint8_t device, uint8_t function)
{
    return pcidev_op(dmod, domid, XEN_DMOP_unmap_io_range_from_ioreq_server, id, segment, bus,
                     device, function);
}

int xendevicemodel_map_mem_type_to_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                                ioservid_t id, uint16_t type, uint32_t flags)
{
    struct xen_dm_op op = { .op = XEN_DMOP_map_mem_type_to_ioreq_server };

    op.u.map_mem_type_to_ioreq_server.id = id;
    op.u.map_mem_type_to_ioreq_server.type = type;
    op.u.map_mem_type_to_ioreq_server.flags = flags;
    return dm_op_simple(dmod, domid, &op);
}

int xendevicemodel_destroy_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                        ioservid_t id)
{
    struct xen_dm_op op = { .op = XEN_DMOP_destroy_ioreq_server };

    op.u.destroy_ioreq_server.id = id;
    return dm_op_simple(dmod, domid, &op);
}

int xendevicemodel_set_ioreq_server_state(xendevicemodel_handle *dmod, domid_t domid,
                                          ioservid_t id, int enabled)
{
    struct xen_dm_op op = { .op = XEN_DMOP_set_ioreq_server_state };

    op.u.set_ioreq_server_state.id = id;
    op.u.set_ioreq_server_state.enabled = !!enabled;
    return dm_op_simple(dmod, domid, &op);
}

int xendevicemodel_set_pci_intx_level(xendevicemodel_handle *dmod, domid_t domid,
                                      uint16_t segment, uint8_t bus, uint8_t device,
                                      uint8_t intx, unsigned int level)
{
    struct xen_dm_op op = { .op = XEN_DMOP_set_pci_intx_level };

    op.u.set_pci_intx_level.domain = segment;
    op.u.set_pci_intx_level.bus = bus;
    op.u.set_pci_intx_level.device = device;
    op.u.set_pci_intx_level.intx = intx;
    op.u.set_pci_intx_level.level = (uint8_t)level;
    return dm_op_simple(dmod, domid, &op);
}

int xendevicemodel_set_isa_irq_level(xendevicemodel_handle *dmod, domid_t domid, uint8_t irq,
                                     unsigned int level)
{
    struct xen_dm_op op = { .op = XEN_DMOP_set_isa_irq_level };

    op.u.set_isa_irq_level.isa_irq = irq;
    op.u.set_isa_irq_level.level = (uint8_t)level;
    return dm_op_simple(dmod, domid, &op);
}

int xendevicemodel_set_irq_level(xendevicemodel_handle *dmod, domid_t domid, unsigned int irq,
                                 unsigned int level)
{
    struct xen_dm_op op = { .op = XEN_DMOP_set_irq_level };

    op.u.set_irq_level.irq = irq;
    op.u.set_irq_level.level = (uint8_t)level;
    return dm_op_simple(dmod, domid, &op);
}

int xendevicemodel_set_pci_link_route(xendevicemodel_handle *dmod, domid_t domid, uint8_t link,
                                      uint8_t irq)
{
    struct xen_dm_op op = { .op = XEN_DMOP_set_pci_link_route };

    op.u.set_pci_link_route.link = link;
    op.u.set_pci_link_route.isa_irq = irq;
    return dm_op_simple(dmod, domid, &op);
}

int xendevicemodel_inject_msi(xendevicemodel_handle *dmod, domid_t domid, uint64_t msi_addr,
                              uint32_t msi_data)
{
    struct xen_dm_op op = { .op = XEN_DMOP_inject_msi };

    op.u.inject_msi.addr = msi_addr;
    op.u.inject_msi.data = msi_data;
    return dm_op_simple(dmod, domid, &op);
}

int xendevicemodel_track_dirty_vram(xendevicemodel_handle *dmod, domid_t domid,
                                    uint64_t first_pfn, uint32_t nr,
                                    unsigned long *dirty_bitmap)
{
    struct xen_dm_op op = { .op = XEN_DMOP_track_dirty_vram };
    struct dm_buf bufs[2] = {
        { .ptr = &op, .size = sizeof(op) },
        /* The hypercall writes (nr + 7) / 8 bytes, not whole longs. */
        { .ptr = dirty_bitmap, .size = ((size_t)nr + 7) / 8 },
    };

    if (nr > MAX_DIRTY_VRAM_PAGES) {
        errno = EINVAL;
        return -1;
    }
    op.u.track_dirty_vram.first_pfn = first_pfn;
    op.u.track_dirty_vram.nr = nr;
    return dm_op(dmod, domid, bufs, 2);
}

/* Extents per message, so that one DMOP fits the wire's payload limit. */
#define EXTENTS_PER_DMOP \
    ((XSIM_MAX_PAYLOAD - sizeof(struct xsim_dmop) - sizeof(struct xen_dm_op)) / \
     sizeof(struct xen_dm_op_modified_memory_extent))

int xendevicemodel_modified_memory_bulk(xendevicemodel_handle *dmod, domid_t domid,
                                        struct xen_dm_op_modified_memory_extent extents[],
                                        uint32_t nr)
{
    /* Xen handles the extents in order; a batch boundary changes nothing it sees. */
    for (uint32_t done = 0; done < nr || (nr == 0 && done == 0);) {
        uint32_t n = nr - done > EXTENTS_PER_DMOP ? (uint32_t)EXTENTS_PER_DMOP : nr - done;
        struct xen_dm_op op = { .op = XEN_DMOP_modified_memory };
        struct dm_buf bufs[2] = {
            { .ptr = &op, .size = sizeof(op) },
            { .ptr = extents + done, .size = n * sizeof(extents[0]) },
        };
        op.u.modified_memory.nr_extents = n;
        op.u.modified_memory.opaque = 0;
        if (dm_op(dmod, domid, bufs, 2) < 0)
            return -1;
        if (n == 0)
            break;
        done += n;
    }
    return 0;
}

int xendevicemodel_modified_memory(xendevicemodel_handle *dmod, domid_t domid,
                                   uint64_t first_pfn, uint32_t nr)
{
    struct xen_dm_op_modified_memory_extent extent = { .first_pfn = first_pfn, .nr = nr };

    return xendevicemodel_modified_memory_bulk(dmod, domid, &extent, 1);
}

int xendevicemodel_set_mem_type(xendevicemodel_handle *dmod, domid_t domid,
                                hvmmem_type_t mem_type, uint64_t first_pfn, uint32_t nr)
{
    struct xen_dm_op op = { .op = XEN_DMOP_set_mem_type };

    op.u.set_mem_type.mem_type = (uint16_t)mem_type;
    op.u.set_mem_type.first_pfn = first_pfn;
    op.u.set_mem_type.nr = nr;
    return dm_op_simple(dmod, domid, &op);
}

int xendevicemodel_inject_event(xendevicemodel_handle *dmod, domid_t domid, int vcpu,
                                uint8_t vector, uint8_t type, uint32_t error_code,
                                uint8_t insn_len, uint64_t extra)
{
    struct xen_dm_op op = { .op = XEN_DMOP_inject_event };

    op.u.inject_event.vcpuid = (uint32_t)vcpu;
    op.u.inject_event.vector = vector;
    op.u.inject_event.type = type;
    op.u.inject_event.error_code = error_code;
    op.u.inject_event.insn_len = insn_len;
    op.u.inject_event.cr2 = extra;
    return dm_op_simple(dmod, domid, &op);
}

int xendevicemodel_shutdown(xendevicemodel_handle *dmod, domid_t domid, unsigned int reason)
{
    struct xen_dm_op op = { .op = XEN_DMOP_remote_shutdown };

    op.u.remote_shutdown.reason = reason;
    return dm_op_simple(dmod, domid, &op);
}

int xendevicemodel_relocate_memory(xendevicemodel_handle *dmod, domid_t domid, uint32_t size,
                                   uint64_t src_gfn, uint64_t dst_gfn)
{
    struct xen_dm_op op = { .op = XEN_DMOP_relocate_memory };

    op.u.relocate_memory.size = size;
    op.u.relocate_memory.src_gfn = src_gfn;
    op.u.relocate_memory.dst_gfn = dst_gfn;
    return dm_op_simple(dmod, domid, &op);
}

int xendevicemodel_pin_memory_cacheattr(xendevicemodel_handle *dmod, domid_t domid,
                                        uint64_t start, uint64_t end, uint32_t type)
{
    struct xen_dm_op op = { .op = XEN_DMOP_pin_memory_cacheattr };

    op.u.pin_memory_cacheattr.start = start;
    op.u.pin_memory_cacheattr.end = end;
    op.u.pin_memory_cacheattr.type = type;
    return dm_op_simple(dmod, domid, &op);
}

int xendevicemodel_nr_vcpus(xendevicemodel_handle *dmod, domid_t domid, unsigned int *vcpus)
{
    struct xen_dm_op op = { .op = XEN_DMOP_nr_vcpus };

    if (dm_op_simple(dmod, domid, &op) < 0)
        return -1;
    *vcpus = op.u.nr_vcpus.vcpus;
    return 0;
}
