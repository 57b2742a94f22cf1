/*
 * libxenforeignmemory.so.1 over xensim: guest frames and xensim's own pages
 * (ioreq pages) are pages of one memfd, received in the HELLO reply.
 *
 * A map reserves the whole range PROT_NONE first, then maps runs of
 * consecutive memfd pages over it MAP_SHARED|MAP_FIXED. Pages that failed
 * stay PROT_NONE, so touching them faults, as with privcmd. Mappings refer to
 * memfd pages (frames), not gfns, so they survive a later gfn relocation.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xenforeignmemory.h>

#include "xentoolcore-internal.h"
#include "xsim-conn.h"

/* The wire carries gfns as u64: on x86_64 a xen_pfn_t array goes out as it is. */
_Static_assert(sizeof(xen_pfn_t) == sizeof(uint64_t), "xen_pfn_t is not 64 bits");

struct xenforeignmemory_handle {
    struct xsim_conn conn;
    int memfd;
    Xentoolcore__Active_Handle tc_ah;
};

struct xenforeignmemory_resource_handle {
    domid_t domid;
    unsigned int type;
    unsigned int id;
    unsigned long frame;
    unsigned long nr_frames;
    void *addr;
};

static int fmem_restrict_cb(Xentoolcore__Active_Handle *ah, domid_t domid)
{
    xenforeignmemory_handle *fmem = XSIM_CONTAINER_OF(ah, xenforeignmemory_handle, tc_ah);

    return xenforeignmemory_restrict(fmem, domid);
}

xenforeignmemory_handle *xenforeignmemory_open(struct xentoollog_logger *logger,
                                               unsigned open_flags)
{
    xenforeignmemory_handle *fmem = calloc(1, sizeof(*fmem));

    if (!fmem)
        return NULL;
    if (xsim_conn_open(&fmem->conn, XSIM_CLIENT_FMEM, &fmem->memfd, 1) < 0) {
        int saved = errno;
        free(fmem);
        errno = saved;
        return NULL;
    }
    fmem->tc_ah.restrict_callback = fmem_restrict_cb;
    xentoolcore__register_active_handle(&fmem->tc_ah);
    return fmem;
}

int xenforeignmemory_close(xenforeignmemory_handle *fmem)
{
    if (!fmem)
        return 0;
    /* Existing mappings stay valid: they hold their own reference to the memfd. */
    xentoolcore__deregister_active_handle(&fmem->tc_ah);
    close(fmem->memfd);
    xsim_conn_close(&fmem->conn);
    free(fmem);
    return 0;
}

int xenforeignmemory_restrict(xenforeignmemory_handle *fmem, domid_t domid)
{
    return xsim_conn_restrict(&fmem->conn, domid);
}

static size_t err_array_bytes(size_t nr)
{
    return (nr * sizeof(int32_t) + 7) & ~(size_t)7; /* page[] is 8-aligned (wire.h) */
}

/* One FMEM_MAP round trip for nr <= XSIM_MAX_MAP_BATCH gfns. */
static int fetch_frames(xenforeignmemory_handle *fmem, uint32_t dom, int prot, size_t nr,
                        const xen_pfn_t *gfns, int *err, uint64_t *pages)
{
    struct xsim_fmem_map req = { .domid = dom, .prot = (uint32_t)prot, .nr = (uint32_t)nr };
    struct iovec iov[2] = {
        { .iov_base = &req, .iov_len = sizeof(req) },
        { .iov_base = (void *)gfns, .iov_len = nr * sizeof(uint64_t) },
    };
    size_t err_bytes = err_array_bytes(nr);
    size_t want = err_bytes + nr * sizeof(uint64_t);
    unsigned char *reply = malloc(want);
    size_t got = 0;
    int ret = -1;

    if (!reply)
        return -1;
    if (xsim_conn_call(&fmem->conn, XSIM_OP_FMEM_MAP, iov, 2, reply, want, &got) < 0)
        goto out;
    if (got != want) {
        errno = EPROTO;
        goto out;
    }
    for (size_t i = 0; i < nr; i++) {
        int32_t e;
        memcpy(&e, reply + i * sizeof(e), sizeof(e));
        memcpy(&pages[i], reply + err_bytes + i * sizeof(uint64_t), sizeof(uint64_t));
        if (e > 0 || e < -4095) {
            errno = EPROTO;
            goto out;
        }
        err[i] = e;
    }
    ret = 0;
out:
    free(reply);
    return ret;
}

/* Reserves `pages` pages of address space, PROT_NONE, honouring the hint. */
static void *reserve_range(void *addr, size_t pages, int flags)
{
    int fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
    void *base = mmap(addr, pages << XSIM_PAGE_SHIFT, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | fixed, -1, 0);

    return base == MAP_FAILED ? NULL : base;
}

/* The pages the memfd holds now (xensim only grows it). 0, or -1 with errno. */
static int memfd_pages(int memfd, uint64_t *pages)
{
    struct stat st;

    if (fstat(memfd, &st) < 0)
        return -1;
    *pages = (uint64_t)st.st_size >> XSIM_PAGE_SHIFT;
    return 0;
}

/*
 * Maps each run of consecutive memfd pages whose err[] is 0 (err may be
 * NULL: all good) over the reservation at base. A page past the memfd's end
 * is xensim's protocol error: mapped, it would raise SIGBUS at first touch.
 */
static int map_runs(int memfd, void *base, int prot, size_t pages, const int *err,
                    const uint64_t *frames)
{
    uint64_t limit;
    size_t i = 0;

    if (memfd_pages(memfd, &limit) < 0)
        return -1;
    while (i < pages) {
        if (err && err[i]) {
            i++;
            continue;
        }
        size_t run = 1;
        while (i + run < pages && !(err && err[i + run]) &&
               frames[i + run] == frames[i] + run)
            run++;
        if (frames[i] >= limit || run > limit - frames[i]) {
            errno = EPROTO;
            return -1;
        }
        void *at = (char *)base + (i << XSIM_PAGE_SHIFT);
        void *m = mmap(at, run << XSIM_PAGE_SHIFT, prot, MAP_SHARED | MAP_FIXED, memfd,
                       (off_t)(frames[i] << XSIM_PAGE_SHIFT));
        if (m == MAP_FAILED)
            return -1;
        i += run;
    }
    return 0;
}

static bool bad_page_count(size_t pages)
{
    return pages == 0 || pages > (SIZE_MAX >> (XSIM_PAGE_SHIFT + 1));
}

static void unmap_keep_errno(void *addr, size_t pages)
{
    int saved = errno;

    munmap(addr, pages << XSIM_PAGE_SHIFT);
    errno = saved;
}

void *xenforeignmemory_map2(xenforeignmemory_handle *fmem, uint32_t dom, void *addr, int prot,
                            int flags, size_t pages, const xen_pfn_t arr[], int err[])
{
    int *errs = err;
    uint64_t *frames = NULL;
    void *base = NULL;

    if (bad_page_count(pages)) {
        errno = EINVAL;
        return NULL;
    }
    if (!errs)
        errs = malloc(pages * sizeof(*errs));
    frames = malloc(pages * sizeof(*frames));
    if (!errs || !frames)
        goto fail;
    base = reserve_range(addr, pages, flags);
    if (!base)
        goto fail;
    for (size_t i = 0; i < pages; i += XSIM_MAX_MAP_BATCH) {
        size_t n = pages - i < XSIM_MAX_MAP_BATCH ? pages - i : XSIM_MAX_MAP_BATCH;
        if (fetch_frames(fmem, dom, prot, n, arr + i, errs + i, frames + i) < 0)
            goto fail;
    }
    if (!err) {
        /* Without err[] the caller wants all or nothing: errno of the first failure. */
        for (size_t i = 0; i < pages; i++) {
            if (errs[i]) {
                errno = -errs[i];
                goto fail;
            }
        }
    }
    if (map_runs(fmem->memfd, base, prot, pages, errs, frames) < 0)
        goto fail;
    if (errs != err)
        free(errs);
    free(frames);
    return base;

fail:
    if (base)
        unmap_keep_errno(base, pages);
    if (errs != err)
        free(errs);
    free(frames);
    return NULL;
}

void *xenforeignmemory_map(xenforeignmemory_handle *fmem, uint32_t dom, int prot, size_t pages,
                           const xen_pfn_t arr[], int err[])
{
    return xenforeignmemory_map2(fmem, dom, NULL, prot, 0, pages, arr, err);
}

int xenforeignmemory_unmap(xenforeignmemory_handle *fmem, void *addr, size_t pages)
{
    return munmap(addr, pages << XSIM_PAGE_SHIFT);
}

static int resource_frames(xenforeignmemory_handle *fmem,
                           const xenforeignmemory_resource_handle *fres, uint64_t *frames)
{
    for (unsigned long done = 0; done < fres->nr_frames; done += XSIM_MAX_MAP_BATCH) {
        unsigned long n = fres->nr_frames - done;
        if (n > XSIM_MAX_MAP_BATCH)
            n = XSIM_MAX_MAP_BATCH;
        struct xsim_fmem_resource req = {
            .domid = fres->domid, .type = fres->type, .id = fres->id,
            .frame = fres->frame + done, .nr = n,
        };
        struct iovec iov = { .iov_base = &req, .iov_len = sizeof(req) };
        size_t got = 0;
        if (xsim_conn_call(&fmem->conn, XSIM_OP_FMEM_MAP_RESOURCE, &iov, 1, frames + done,
                           n * sizeof(uint64_t), &got) < 0)
            return -1;
        if (got != n * sizeof(uint64_t)) {
            errno = EPROTO;
            return -1;
        }
    }
    return 0;
}

static int query_resource_size(xenforeignmemory_handle *fmem, domid_t domid, unsigned type,
                               unsigned id, unsigned long *nr_frames)
{
    struct xsim_fmem_resource req = { .domid = domid, .type = type, .id = id };
    int nr = xsim_conn_call_simple(&fmem->conn, XSIM_OP_FMEM_RESOURCE_SIZE, &req, sizeof(req));

    if (nr < 0)
        return -1;
    *nr_frames = (unsigned long)nr;
    return 0;
}

xenforeignmemory_resource_handle *xenforeignmemory_map_resource(
    xenforeignmemory_handle *fmem, domid_t domid, unsigned int type, unsigned int id,
    unsigned long frame, unsigned long nr_frames, void **paddr, int prot, int flags)
{
    xenforeignmemory_resource_handle *fres = calloc(1, sizeof(*fres));
    uint64_t *frames = NULL;
    void *hint = paddr ? *paddr : NULL;

    if (!fres)
        return NULL;
    *fres = (xenforeignmemory_resource_handle){
        .domid = domid, .type = type, .id = id, .frame = frame, .nr_frames = nr_frames,
    };
    if (nr_frames == 0 && !hint) {
        /* As privcmd: a request for no frames and no address asks the size. */
        if (query_resource_size(fmem, domid, type, id, &fres->nr_frames) < 0)
            goto fail;
        return fres;
    }
    if (bad_page_count(nr_frames)) {
        errno = EINVAL;
        goto fail;
    }
    frames = malloc(nr_frames * sizeof(*frames));
    if (!frames)
        goto fail;
    if (resource_frames(fmem, fres, frames) < 0)
        goto fail;
    fres->addr = reserve_range(hint, nr_frames, flags);
    if (!fres->addr)
        goto fail;
    if (map_runs(fmem->memfd, fres->addr, prot, nr_frames, NULL, frames) < 0)
        goto fail;
    free(frames);
    if (paddr)
        *paddr = fres->addr;
    return fres;

fail:
    if (fres->addr)
        unmap_keep_errno(fres->addr, nr_frames);
    free(frames);
    free(fres);
    return NULL;
}

int xenforeignmemory_unmap_resource(xenforeignmemory_handle *fmem,
                                    xenforeignmemory_resource_handle *fres)
{
    int ret = 0;

    if (!fres)
        return 0;
    if (fres->addr)
        ret = munmap(fres->addr, fres->nr_frames << XSIM_PAGE_SHIFT);
    free(fres);
    return ret;
}

int xenforeignmemory_resource_size(xenforeignmemory_handle *fmem, domid_t domid,
                                   unsigned int type, unsigned int id, size_t *size)
{
    unsigned long nr;

    if (query_resource_size(fmem, domid, type, id, &nr) < 0)
        return -1;
    *size = nr << XSIM_PAGE_SHIFT;
    return 0;
}
