/*
 * libxengnttab.so.1 over xensim. xensim's guest grants nothing, so every map
 * of a grant reference fails as Xen fails it for an unknown reference, and a
 * grant copy reports GNTST_bad_gntref per segment. The handle still opens
 * (QEMU's backend core opens it unconditionally); maps go to xensim
 * (XSIM_OP_GNTTAB_MAP) so that it can count and, one day, serve them.
 *
 * The grant-sharing half (xengntshr, /dev/xen/gntalloc) behaves as on a host
 * without gntalloc: open fails with ENOENT.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xengnttab.h>

#include "xentoolcore-internal.h"
#include "xsim-conn.h"

struct xengntdev_handle {
    struct xsim_conn conn;
    Xentoolcore__Active_Handle tc_ah;
};

/* /dev/xen/gntdev has no restrict operation: Xen's library makes it unusable instead. */
static int gnttab_restrict_cb(Xentoolcore__Active_Handle *ah, domid_t domid)
{
    xengnttab_handle *xgt = XSIM_CONTAINER_OF(ah, xengnttab_handle, tc_ah);

    return xentoolcore__restrict_by_dup2_null(xgt->conn.fd);
}

xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger, unsigned open_flags)
{
    xengnttab_handle *xgt = calloc(1, sizeof(*xgt));

    if (!xgt)
        return NULL;
    if (xsim_conn_open(&xgt->conn, XSIM_CLIENT_GNTTAB, NULL, 0) < 0) {
        int saved = errno;
        free(xgt);
        errno = saved;
        return NULL;
    }
    xgt->tc_ah.restrict_callback = gnttab_restrict_cb;
    xentoolcore__register_active_handle(&xgt->tc_ah);
    return xgt;
}

int xengnttab_close(xengnttab_handle *xgt)
{
    if (!xgt)
        return 0;
    xentoolcore__deregister_active_handle(&xgt->tc_ah);
    xsim_conn_close(&xgt->conn);
    free(xgt);
    return 0;
}

int xengnttab_fd(xengnttab_handle *xgt)
{
    return xgt->conn.fd;
}

int xengnttab_set_max_grants(xengnttab_handle *xgt, uint32_t nr_grants)
{
    return 0; /* gntdev has no per-file limit any more: Linux accepts and ignores it */
}

static void *map_refs(xengnttab_handle *xgt, uint32_t count, uint32_t domid)
{
    uint32_t req[2] = { domid, count };
    int ret;

    if (count == 0) {
        errno = EINVAL;
        return NULL;
    }
    ret = xsim_conn_call_simple(&xgt->conn, XSIM_OP_GNTTAB_MAP, req, sizeof(req));
    if (ret >= 0)
        errno = EPROTO; /* success would need pages the wire cannot carry yet */
    return NULL;
}

void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid, uint32_t ref, int prot)
{
    return map_refs(xgt, 1, domid);
}

void *xengnttab_map_grant_refs(xengnttab_handle *xgt, uint32_t count, uint32_t *domids,
                               uint32_t *refs, int prot)
{
    return map_refs(xgt, count, count ? domids[0] : 0);
}

void *xengnttab_map_domain_grant_refs(xengnttab_handle *xgt, uint32_t count, uint32_t domid,
                                      uint32_t *refs, int prot)
{
    return map_refs(xgt, count, domid);
}

void *xengnttab_map_grant_ref_notify(xengnttab_handle *xgt, uint32_t domid, uint32_t ref,
                                     int prot, uint32_t notify_offset,
                                     evtchn_port_t notify_port)
{
    return map_refs(xgt, 1, domid);
}

int xengnttab_unmap(xengnttab_handle *xgt, void *start_address, uint32_t count)
{
    errno = EINVAL; /* nothing was ever mapped: gntdev finds no such mapping */
    return -1;
}

int xengnttab_grant_copy(xengnttab_handle *xgt, uint32_t count,
                         xengnttab_grant_copy_segment_t *segs)
{
    /* The hypercall succeeds; each segment carries Xen's verdict on its reference. */
    for (uint32_t i = 0; i < count; i++)
        segs[i].status = GNTST_bad_gntref;
    return 0;
}

int xengnttab_dmabuf_exp_from_refs(xengnttab_handle *xgt, uint32_t domid, uint32_t flags,
                                   uint32_t count, const uint32_t *refs, uint32_t *fd)
{
    errno = EINVAL; /* the references map nothing */
    return -1;
}

int xengnttab_dmabuf_exp_wait_released(xengnttab_handle *xgt, uint32_t fd,
                                       uint32_t wait_to_ms)
{
    errno = ENOENT; /* gntdev: no exported buffer with that fd */
    return -1;
}

int xengnttab_dmabuf_imp_to_refs(xengnttab_handle *xgt, uint32_t domid, uint32_t fd,
                                 uint32_t count, uint32_t *refs)
{
    errno = EINVAL;
    return -1;
}

int xengnttab_dmabuf_imp_release(xengnttab_handle *xgt, uint32_t fd)
{
    errno = ENOENT;
    return -1;
}

xengntshr_handle *xengntshr_open(struct xentoollog_logger *logger, unsigned open_flags)
{
    errno = ENOENT; /* as open("/dev/xen/gntalloc") on a host without it */
    return NULL;
}

int xengntshr_close(xengntshr_handle *xgs)
{
    return 0; /* only NULL can reach here: open never succeeds */
}

int xengntshr_fd(xengntshr_handle *xgs)
{
    errno = EBADF;
    return -1;
}

void *xengntshr_share_pages(xengntshr_handle *xgs, uint32_t domid, int count, uint32_t *refs,
                            int writable)
{
    errno = EBADF;
    return NULL;
}

void *xengntshr_share_page_notify(xengntshr_handle *xgs, uint32_t domid, uint32_t *ref,
                                  int writable, uint32_t notify_offset,
                                  evtchn_port_t notify_port)
{
    errno = EBADF;
    return NULL;
}

int xengntshr_unshare(xengntshr_handle *xgs, void *start_address, uint32_t count)
{
    errno = EBADF;
    return -1;
}
