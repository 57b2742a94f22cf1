/*
 * libxenctrl's compatibility API (xenctrl_compat.h): the pre-4.7 names of
 * event channels, grant tables, foreign maps and HVM ops. As in Xen, each is
 * a thin wrapper over the stable library that replaced it.
 */
#define XC_WANT_COMPAT_MAP_FOREIGN_API 1
#define XC_WANT_COMPAT_EVTCHN_API 1
#define XC_WANT_COMPAT_GNTTAB_API 1
#define XC_WANT_COMPAT_DEVICEMODEL_API 1

#include <errno.h>
#include <stdlib.h>

#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xengnttab.h>

/* ---- event channels ---- */

xc_evtchn *xc_evtchn_open(xentoollog_logger *logger, unsigned open_flags)
{
    return xenevtchn_open(logger, open_flags);
}

int xc_evtchn_close(xc_evtchn *xce)
{
    return xenevtchn_close(xce);
}

int xc_evtchn_fd(xc_evtchn *xce)
{
    return xenevtchn_fd(xce);
}

int xc_evtchn_notify(xc_evtchn *xce, evtchn_port_t port)
{
    return xenevtchn_notify(xce, port);
}

xc_evtchn_port_or_error_t xc_evtchn_bind_unbound_port(xc_evtchn *xce, uint32_t domid)
{
    return xenevtchn_bind_unbound_port(xce, domid);
}

xc_evtchn_port_or_error_t xc_evtchn_bind_interdomain(xc_evtchn *xce, uint32_t domid,
                                                     evtchn_port_t remote_port)
{
    return xenevtchn_bind_interdomain(xce, domid, remote_port);
}

xc_evtchn_port_or_error_t xc_evtchn_bind_virq(xc_evtchn *xce, unsigned int virq)
{
    return xenevtchn_bind_virq(xce, virq);
}

int xc_evtchn_unbind(xc_evtchn *xce, evtchn_port_t port)
{
    return xenevtchn_unbind(xce, port);
}

xc_evtchn_port_or_error_t xc_evtchn_pending(xc_evtchn *xce)
{
    return xenevtchn_pending(xce);
}

int xc_evtchn_unmask(xc_evtchn *xce, evtchn_port_t port)
{
    return xenevtchn_unmask(xce, port);
}

/* ---- grant tables ---- */

xc_gnttab *xc_gnttab_open(xentoollog_logger *logger, unsigned open_flags)
{
    return xengnttab_open(logger, open_flags);
}

int xc_gnttab_close(xc_gnttab *xcg)
{
    return xengnttab_close(xcg);
}

void *xc_gnttab_map_grant_ref(xc_gnttab *xcg, uint32_t domid, uint32_t ref, int prot)
{
    return xengnttab_map_grant_ref(xcg, domid, ref, prot);
}

void *xc_gnttab_map_grant_refs(xc_gnttab *xcg, uint32_t count, uint32_t *domids,
                               uint32_t *refs, int prot)
{
    return xengnttab_map_grant_refs(xcg, count, domids, refs, prot);
}

void *xc_gnttab_map_domain_grant_refs(xc_gnttab *xcg, uint32_t count, uint32_t domid,
                                      uint32_t *refs, int prot)
{
    return xengnttab_map_domain_grant_refs(xcg, count, domid, refs, prot);
}

void *xc_gnttab_map_grant_ref_notify(xc_gnttab *xcg, uint32_t domid, uint32_t ref, int prot,
                                     uint32_t notify_offset, evtchn_port_t notify_port)
{
    return xengnttab_map_grant_ref_notify(xcg, domid, ref, prot, notify_offset, notify_port);
}

int xc_gnttab_munmap(xc_gnttab *xcg, void *start_address, uint32_t count)
{
    return xengnttab_unmap(xcg, start_address, count);
}

int xc_gnttab_set_max_grants(xc_gnttab *xcg, uint32_t count)
{
    return xengnttab_set_max_grants(xcg, count);
}

xc_gntshr *xc_gntshr_open(xentoollog_logger *logger, unsigned open_flags)
{
    return xengntshr_open(logger, open_flags);
}

int xc_gntshr_close(xc_gntshr *xcg)
{
    return xengntshr_close(xcg);
}

void *xc_gntshr_share_pages(xc_gntshr *xcg, uint32_t domid, int count, uint32_t *refs,
                            int writable)
{
    return xengntshr_share_pages(xcg, domid, count, refs, writable);
}

void *xc_gntshr_share_page_notify(xc_gntshr *xcg, uint32_t domid, uint32_t *ref, int writable,
                                  uint32_t notify_offset, evtchn_port_t notify_port)
{
    return xengntshr_share_page_notify(xcg, domid, ref, writable, notify_offset, notify_port);
}

int xc_gntshr_munmap(xc_gntshr *xcg, void *start_address, uint32_t count)
{
    return xengntshr_unshare(xcg, start_address, count);
}

/* ---- foreign maps ---- */

void *xc_map_foreign_pages(xc_interface *xch, uint32_t dom, int prot, const xen_pfn_t *arr,
                           int num)
{
    if (num < 0) {
        errno = EINVAL;
        return NULL;
    }
    return xenforeignmemory_map(xc_interface_fmem_handle(xch), dom, prot, (size_t)num, arr,
                                NULL);
}

void *xc_map_foreign_bulk(xc_interface *xch, uint32_t dom, int prot, const xen_pfn_t *arr,
                          int *err, unsigned int num)
{
    return xenforeignmemory_map(xc_interface_fmem_handle(xch), dom, prot, num, arr, err);
}

void *xc_map_foreign_range(xc_interface *xch, uint32_t dom, int size, int prot,
                           unsigned long mfn)
{
    int num;
    xen_pfn_t *arr;
    void *ret;

    if (size <= 0) {
        errno = EINVAL;
        return NULL;
    }
    num = (int)(((unsigned long)size + XC_PAGE_SIZE - 1) >> XC_PAGE_SHIFT);
    arr = calloc((size_t)num, sizeof(*arr));
    if (!arr)
        return NULL;
    for (int i = 0; i < num; i++)
        arr[i] = mfn + (unsigned long)i;
    ret = xc_map_foreign_pages(xch, dom, prot, arr, num);
    free(arr);
    return ret;
}

/* ---- HVM operations, now dm_ops ---- */

int xc_hvm_create_ioreq_server(xc_interface *xch, uint32_t domid, int handle_bufioreq,
                               ioservid_t *id)
{
    return xendevicemodel_create_ioreq_server(xc_interface_dmod_handle(xch), (domid_t)domid,
                                              handle_bufioreq, id);
}

int xc_hvm_get_ioreq_server_info(xc_interface *xch, uint32_t domid, ioservid_t id,
                                 xen_pfn_t *ioreq_pfn, xen_pfn_t *bufioreq_pfn,
                                 evtchn_port_t *bufioreq_port)
{
    return xendevicemodel_get_ioreq_server_info(xc_interface_dmod_handle(xch), (domid_t)domid,
                                                id, ioreq_pfn, bufioreq_pfn, bufioreq_port);
}

int xc_hvm_map_io_range_to_ioreq_server(xc_interface *xch, uint32_t domid, ioservid_t id,
                                        int is_mmio, uint64_t start, uint64_t end)
{
    return xendevicemodel_map_io_range_to_ioreq_server(xc_interface_dmod_handle(xch),
                                                       (domid_t)domid, id, is_mmio, start, end);
}

int xc_hvm_unmap_io_range_from_ioreq_server(xc_interface *xch, uint32_t domid, ioservid_t id,
                                            int is_mmio, uint64_t start, uint64_t end)
{
    return xendevicemodel_unmap_io_range_from_ioreq_server(
        xc_interface_dmod_handle(xch), (domid_t)domid, id, is_mmio, start, end);
}

int xc_hvm_map_pcidev_to_ioreq_server(xc_interface *xch, uint32_t domid, ioservid_t id,
                                      uint16_t segment, uint8_t bus, uint8_t device,
                                      uint8_t function)
{
    return xendevicemodel_map_pcidev_to_ioreq_server(
        xc_interface_dmod_handle(xch), (domid_t)domid, id, segment, bus, device, function);
}

int xc_hvm_unmap_pcidev_from_ioreq_server(xc_interface *xch, uint32_t domid, ioservid_t id,
                                          uint16_t segment, uint8_t bus, uint8_t device,
                                          uint8_t function)
{
    return xendevicemodel_unmap_pcidev_from_ioreq_server(
        xc_interface_dmod_handle(xch), (domid_t)domid, id, segment, bus, device, function);
}

int xc_hvm_destroy_ioreq_server(xc_interface *xch, uint32_t domid, ioservid_t id)
{
    return xendevicemodel_destroy_ioreq_server(xc_interface_dmod_handle(xch), (domid_t)domid,
                                               id);
}

int xc_hvm_set_ioreq_server_state(xc_interface *xch, uint32_t domid, ioservid_t id,
                                  int enabled)
{
    return xendevicemodel_set_ioreq_server_state(xc_interface_dmod_handle(xch), (domid_t)domid,
                                                 id, enabled);
}

int xc_hvm_set_pci_intx_level(xc_interface *xch, uint32_t domid, uint16_t segment,
                              uint8_t bus, uint8_t device, uint8_t intx, unsigned int level)
{
    return xendevicemodel_set_pci_intx_level(xc_interface_dmod_handle(xch), (domid_t)domid,
                                             segment, bus, device, intx, level);
}

int xc_hvm_set_isa_irq_level(xc_interface *xch, uint32_t domid, uint8_t irq,
                             unsigned int level)
{
    return xendevicemodel_set_isa_irq_level(xc_interface_dmod_handle(xch), (domid_t)domid, irq,
                                            level);
}

int xc_hvm_set_pci_link_route(xc_interface *xch, uint32_t domid, uint8_t link, uint8_t irq)
{
    return xendevicemodel_set_pci_link_route(xc_interface_dmod_handle(xch), (domid_t)domid,
                                             link, irq);
}

int xc_hvm_inject_msi(xc_interface *xch, uint32_t domid, uint64_t msi_addr, uint32_t msi_data)
{
    return xendevicemodel_inject_msi(xc_interface_dmod_handle(xch), (domid_t)domid, msi_addr,
                                     msi_data);
}

int xc_hvm_track_dirty_vram(xc_interface *xch, uint32_t domid, uint64_t first_pfn,
                            uint32_t nr, unsigned long *dirty_bitmap)
{
    return xendevicemodel_track_dirty_vram(xc_interface_dmod_handle(xch), (domid_t)domid,
                                           first_pfn, nr, dirty_bitmap);
}

int xc_hvm_modified_memory(xc_interface *xch, uint32_t domid, uint64_t first_pfn, uint32_t nr)
{
    return xendevicemodel_modified_memory(xc_interface_dmod_handle(xch), (domid_t)domid,
                                          first_pfn, nr);
}

int xc_hvm_set_mem_type(xc_interface *xch, uint32_t domid, hvmmem_type_t type,
                        uint64_t first_pfn, uint32_t nr)
{
    return xendevicemodel_set_mem_type(xc_interface_dmod_handle(xch), (domid_t)domid, type,
                                       first_pfn, nr);
}

int xc_hvm_inject_trap(xc_interface *xch, uint32_t domid, int vcpu, uint8_t vector,
                       uint8_t type, uint32_t error_code, uint8_t insn_len, uint64_t cr2)
{
    return xendevicemodel_inject_event(xc_interface_dmod_handle(xch), (domid_t)domid, vcpu,
                                       vector, type, error_code, insn_len, cr2);
}

int xc_domain_pin_memory_cacheattr(xc_interface *xch, uint32_t domid, uint64_t start,
                                   uint64_t end, uint32_t type)
{
    return xendevicemodel_pin_memory_cacheattr(xc_interface_dmod_handle(xch), (domid_t)domid,
                                               start, end, type);
}
