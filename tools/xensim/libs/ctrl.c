/*
 * libxenctrl.so.4.17 over xensim: the calls a device model makes for real
 * (interface, populate_physmap, HVM params, shutdown, domain info), the
 * compatibility wrappers over the stable libraries, and Xen's answers for the
 * passthrough calls xensim does not model. Every other exported function is a
 * generated stub failing with ENOSYS (ctrl-stubs.c, gen-ctrl-stubs.py).
 */
#define XC_WANT_COMPAT_MAP_FOREIGN_API 1
#define XC_WANT_COMPAT_EVTCHN_API 1
#define XC_WANT_COMPAT_GNTTAB_API 1
#define XC_WANT_COMPAT_DEVICEMODEL_API 1

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xengnttab.h>

#include "xentoolcore-internal.h"
#include "xsim-conn.h"

struct xc_interface_core {
    struct xsim_conn conn;
    /* Xen's xc_interface_open opens these too; qemu-xen reaches them through us. */
    xenforeignmemory_handle *fmem;
    xendevicemodel_handle *dmod;
    xc_error last_error;
    Xentoolcore__Active_Handle tc_ah;
};

/* The "no buffer" hypercall buffer that callers pass by name; libxenctrl exports it. */
xc_hypercall_buffer_t XC__HYPERCALL_BUFFER_NAME(HYPERCALL_BUFFER_NULL) = {
    .hbuf = NULL,
    .param_shadow = NULL,
};

static int xc_restrict_cb(Xentoolcore__Active_Handle *ah, domid_t domid)
{
    xc_interface *xch = XSIM_CONTAINER_OF(ah, xc_interface, tc_ah);

    return xsim_conn_restrict(&xch->conn, domid);
}

/* ---- the interface ---- */

xc_interface *xc_interface_open(xentoollog_logger *logger, xentoollog_logger *dombuild_logger,
                                unsigned open_flags)
{
    xc_interface *xch = calloc(1, sizeof(*xch));
    int saved;

    if (!xch)
        return NULL;
    xch->conn.fd = -1;
    if (xsim_conn_open(&xch->conn, XSIM_CLIENT_XC, NULL, 0) < 0)
        goto fail;
    xch->fmem = xenforeignmemory_open(logger, 0);
    if (!xch->fmem)
        goto fail;
    xch->dmod = xendevicemodel_open(logger, 0);
    if (!xch->dmod)
        goto fail;
    xch->tc_ah.restrict_callback = xc_restrict_cb;
    xentoolcore__register_active_handle(&xch->tc_ah);
    return xch;

fail:
    saved = errno;
    xenforeignmemory_close(xch->fmem);
    xsim_conn_close(&xch->conn);
    free(xch);
    errno = saved;
    return NULL;
}

int xc_interface_close(xc_interface *xch)
{
    if (!xch)
        return 0;
    xentoolcore__deregister_active_handle(&xch->tc_ah);
    xendevicemodel_close(xch->dmod);
    xenforeignmemory_close(xch->fmem);
    xsim_conn_close(&xch->conn);
    free(xch);
    return 0;
}

struct xenforeignmemory_handle *xc_interface_fmem_handle(xc_interface *xch)
{
    return xch->fmem;
}

struct xendevicemodel_handle *xc_interface_dmod_handle(xc_interface *xch)
{
    return xch->dmod;
}

const xc_error *xc_get_last_error(xc_interface *xch)
{
    return &xch->last_error;
}

void xc_clear_last_error(xc_interface *xch)
{
    xch->last_error.code = XC_ERROR_NONE;
    xch->last_error.message[0] = '\0';
}

const char *xc_error_code_to_desc(int code)
{
    switch (code) {
    case XC_ERROR_NONE:
        return "No error details";
    case XC_INTERNAL_ERROR:
        return "Internal error";
    case XC_INVALID_KERNEL:
        return "Invalid kernel";
    case XC_INVALID_PARAM:
        return "Invalid configuration";
    case XC_OUT_OF_MEMORY:
        return "Out of memory";
    }
    return "Unknown error code";
}

const char *xc_strerror(xc_interface *xch, int errcode)
{
    return strerror(errcode);
}

void *xc_memalign(xc_interface *xch, size_t alignment, size_t size)
{
    void *ptr;

    return posix_memalign(&ptr, alignment, size) ? NULL : ptr;
}

/* ---- memory ---- */

int xc_domain_populate_physmap(xc_interface *xch, uint32_t domid, unsigned long nr_extents,
                               unsigned int extent_order, unsigned int mem_flags,
                               xen_pfn_t *extent_start)
{
    unsigned long done = 0;

    if (nr_extents > INT_MAX) {
        errno = EINVAL;
        return -1;
    }
    /*
     * Batched like foreign maps. xensim answers 0 for a whole batch populated,
     * -errno otherwise (wire.h); like Xen's memory_op we report how many
     * extents are known to be populated, or -1 when none is.
     */
    while (done < nr_extents) {
        unsigned long n = nr_extents - done;
        if (n > XSIM_MAX_MAP_BATCH)
            n = XSIM_MAX_MAP_BATCH;
        struct xsim_xc_populate req = {
            .domid = domid, .extent_order = extent_order, .mem_flags = mem_flags,
            .nr = (uint32_t)n,
        };
        struct iovec iov[2] = {
            { .iov_base = &req, .iov_len = sizeof(req) },
            { .iov_base = extent_start + done, .iov_len = n * sizeof(uint64_t) },
        };
        if (xsim_conn_call(&xch->conn, XSIM_OP_XC_POPULATE_PHYSMAP, iov, 2, NULL, 0,
                           NULL) < 0)
            return done ? (int)done : -1;
        done += n;
    }
    return (int)done;
}

int xc_domain_populate_physmap_exact(xc_interface *xch, uint32_t domid,
                                     unsigned long nr_extents, unsigned int extent_order,
                                     unsigned int mem_flags, xen_pfn_t *extent_start)
{
    int done = xc_domain_populate_physmap(xch, domid, nr_extents, extent_order, mem_flags,
                                          extent_start);

    if (done < 0)
        return -1; /* errno: xensim's reason (Xen's hypercall would say EBUSY) */
    if ((unsigned long)done != nr_extents) {
        errno = EBUSY; /* Xen's libxenctrl: a partial populate is EBUSY */
        return -1;
    }
    return 0;
}

/* ---- HVM parameters ---- */

int xc_hvm_param_get(xc_interface *handle, uint32_t dom, uint32_t param, uint64_t *value)
{
    uint32_t req[2] = { dom, param };
    struct iovec iov = { .iov_base = req, .iov_len = sizeof(req) };
    uint64_t reply;
    size_t got = 0;

    if (xsim_conn_call(&handle->conn, XSIM_OP_XC_HVM_PARAM_GET, &iov, 1, &reply, sizeof(reply),
                       &got) < 0)
        return -1;
    if (got != sizeof(reply)) {
        errno = EPROTO;
        return -1;
    }
    *value = reply;
    return 0;
}

int xc_hvm_param_set(xc_interface *handle, uint32_t dom, uint32_t param, uint64_t value)
{
    struct {
        uint32_t domid;
        uint32_t param;
        uint64_t value;
    } req = { dom, param, value };

    return xsim_conn_call_simple(&handle->conn, XSIM_OP_XC_HVM_PARAM_SET, &req, sizeof(req)) < 0
               ? -1
               : 0;
}

int xc_get_hvm_param(xc_interface *handle, uint32_t dom, int param, unsigned long *value)
{
    uint64_t v;

    if (xc_hvm_param_get(handle, dom, (uint32_t)param, &v) < 0)
        return -1;
    *value = (unsigned long)v;
    return 0;
}

int xc_set_hvm_param(xc_interface *handle, uint32_t dom, int param, unsigned long value)
{
    return xc_hvm_param_set(handle, dom, (uint32_t)param, value);
}

/* ---- domains ---- */

int xc_domain_shutdown(xc_interface *xch, uint32_t domid, int reason)
{
    uint32_t req[2] = { domid, (uint32_t)reason };

    return xsim_conn_call_simple(&xch->conn, XSIM_OP_XC_DOMAIN_SHUTDOWN, req, sizeof(req)) < 0
               ? -1
               : 0;
}

#define DOMINFO_HVM 1u
#define DOMINFO_PAUSED 2u
#define DOMINFO_SHUTDOWN 4u
#define DOMINFO_DYING 8u

/*
 * The domain Xen's getdomaininfo would return for first_domid: the first one
 * at or above it. xensim has one domain (HELLO's domid); dom0 is not modelled.
 * 1 with *info filled, 0 when there is none, -1 with errno.
 */
static int next_domain_info(xc_interface *xch, uint32_t first_domid,
                            struct xsim_xc_dominfo *info)
{
    uint32_t domid = xch->conn.hello.domid;
    struct iovec iov = { .iov_base = &domid, .iov_len = sizeof(domid) };
    size_t got = 0;

    if (first_domid > domid)
        return 0;
    if (xsim_conn_call(&xch->conn, XSIM_OP_XC_DOMAIN_INFO, &iov, 1, info, sizeof(*info),
                       &got) < 0)
        return errno == ESRCH ? 0 : -1;
    if (got != sizeof(*info)) {
        errno = EPROTO;
        return -1;
    }
    return 1;
}

static bool dominfo_running(const struct xsim_xc_dominfo *info)
{
    return !(info->flags & (DOMINFO_PAUSED | DOMINFO_SHUTDOWN | DOMINFO_DYING));
}

int xc_domain_getinfo(xc_interface *xch, uint32_t first_domid, unsigned int max_doms,
                      xc_dominfo_t *info)
{
    struct xsim_xc_dominfo di;
    int found;

    if (max_doms == 0)
        return 0;
    found = next_domain_info(xch, first_domid, &di);
    if (found <= 0)
        return found;
    memset(info, 0, sizeof(*info));
    info->domid = di.domid;
    info->hvm = !!(di.flags & DOMINFO_HVM);
    info->hap = info->hvm;
    info->paused = !!(di.flags & DOMINFO_PAUSED);
    info->shutdown = !!(di.flags & DOMINFO_SHUTDOWN);
    info->dying = !!(di.flags & DOMINFO_DYING);
    info->running = dominfo_running(&di);
    info->shutdown_reason = di.shutdown_reason;
    info->crashed = info->shutdown && di.shutdown_reason == SHUTDOWN_crash;
    info->nr_pages = di.nr_pages;
    info->max_memkb = di.max_pages << (XC_PAGE_SHIFT - 10);
    info->max_vcpu_id = di.max_vcpu_id;
    info->nr_online_vcpus = di.max_vcpu_id + 1;
    return 1;
}

int xc_domain_getinfolist(xc_interface *xch, uint32_t first_domain, unsigned int max_domains,
                          xc_domaininfo_t *info)
{
    struct xsim_xc_dominfo di;
    int found;

    if (max_domains == 0)
        return 0;
    found = next_domain_info(xch, first_domain, &di);
    if (found <= 0)
        return found;
    memset(info, 0, sizeof(*info));
    info->domain = (domid_t)di.domid;
    info->flags = (di.flags & DOMINFO_HVM ? XEN_DOMINF_hvm_guest | XEN_DOMINF_hap : 0) |
                  (di.flags & DOMINFO_PAUSED ? XEN_DOMINF_paused : 0) |
                  (di.flags & DOMINFO_DYING ? XEN_DOMINF_dying : 0) |
                  (dominfo_running(&di) ? XEN_DOMINF_running : 0);
    if (di.flags & DOMINFO_SHUTDOWN)
        info->flags |= XEN_DOMINF_shutdown |
                       (di.shutdown_reason & XEN_DOMINF_shutdownmask) << XEN_DOMINF_shutdownshift;
    info->tot_pages = di.nr_pages;
    info->max_pages = di.max_pages;
    info->max_vcpu_id = di.max_vcpu_id;
    info->nr_online_vcpus = di.max_vcpu_id + 1;
    return 1;
}

/*
 * ---- passthrough: xensim's domain has no host devices ----
 * A device model that is not privileged over host IRQs and I/O memory (as a
 * restricted or stub-domain one) gets EPERM from Xen's permission checks
 * (irq_access_permitted, iomem_access_permitted, ioports_access_permitted);
 * an MSI for a PCI device the host does not have is ENODEV (pci_get_pdev);
 * unmapping a pirq that was never mapped is EINVAL (unmap_domain_pirq).
 */

static int fail_with(int err)
{
    errno = err;
    return -1;
}

int xc_physdev_map_pirq(xc_interface *xch, uint32_t domid, int index, int *pirq)
{
    return fail_with(EPERM);
}

int xc_physdev_map_pirq_msi(xc_interface *xch, uint32_t domid, int index, int *pirq,
                            int devfn, int bus, int entry_nr, uint64_t table_base)
{
    return fail_with(ENODEV);
}

int xc_physdev_unmap_pirq(xc_interface *xch, uint32_t domid, int pirq)
{
    return fail_with(EINVAL);
}

int xc_domain_bind_pt_irq(xc_interface *xch, uint32_t domid, uint8_t machine_irq,
                          uint8_t irq_type, uint8_t bus, uint8_t device, uint8_t intx,
                          uint8_t isa_irq)
{
    return fail_with(EPERM);
}

int xc_domain_unbind_pt_irq(xc_interface *xch, uint32_t domid, uint8_t machine_irq,
                            uint8_t irq_type, uint8_t bus, uint8_t device, uint8_t intx,
                            uint8_t isa_irq)
{
    return fail_with(EPERM);
}

int xc_domain_bind_pt_pci_irq(xc_interface *xch, uint32_t domid, uint8_t machine_irq,
                              uint8_t bus, uint8_t device, uint8_t intx)
{
    return fail_with(EPERM);
}

int xc_domain_bind_pt_isa_irq(xc_interface *xch, uint32_t domid, uint8_t machine_irq)
{
    return fail_with(EPERM);
}

int xc_domain_update_msi_irq(xc_interface *xch, uint32_t domid, uint32_t gvec, uint32_t pirq,
                             uint32_t gflags, uint64_t gtable)
{
    return fail_with(EPERM);
}

int xc_domain_unbind_msi_irq(xc_interface *xch, uint32_t domid, uint32_t gvec, uint32_t pirq,
                             uint32_t gflags)
{
    return fail_with(EPERM);
}

int xc_domain_memory_mapping(xc_interface *xch, uint32_t domid, unsigned long first_gfn,
                             unsigned long first_mfn, unsigned long nr_mfns,
                             uint32_t add_mapping)
{
    return fail_with(EPERM);
}

int xc_domain_ioport_mapping(xc_interface *xch, uint32_t domid, uint32_t first_gport,
                             uint32_t first_mport, uint32_t nr_ports, uint32_t add_mapping)
{
    return fail_with(EPERM);
}

int xc_domain_iomem_permission(xc_interface *xch, uint32_t domid, unsigned long first_mfn,
                               unsigned long nr_mfns, uint8_t allow_access)
{
    return fail_with(EPERM);
}

int xc_domain_ioport_permission(xc_interface *xch, uint32_t domid, uint32_t first_port,
                                uint32_t nr_ports, uint32_t allow_access)
{
    return fail_with(EPERM);
}

int xc_domain_irq_permission(xc_interface *xch, uint32_t domid, uint32_t pirq,
                             bool allow_access)
{
    return fail_with(EPERM);
}
