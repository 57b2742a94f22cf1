/*
 * Guest memory: one memfd holds guest RAM and xensim's own pages (ioreq
 * pages); the p2m maps gfn -> memfd page. Frames keep their memfd page when
 * their gfn moves (relocate_memory), as Xen's mappings refer to frames.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "xensim.h"

#define PAGE_SIZE XENABI_PAGE_SIZE
#define PAGE_SHIFT XENABI_PAGE_SHIFT
/* Grow the memfd in 2 MiB steps: fewer ftruncate/mmap calls. */
#define GROW_PAGES 512u
#define RESERVE_PAGES (64ull << 18) /* 64 GiB of address space */
#define VGA_HOLE_START_GFN 0xa0u
#define VGA_HOLE_END_GFN 0xc0u
#define GFN_4G (1ull << 20)
#define MAX_GFN ((1ull << 40) - 1) /* 52-bit guest-physical space */

static gpointer p2m_key(uint64_t gfn) { return GSIZE_TO_POINTER((gsize)gfn); }
static gpointer p2m_val(uint64_t page, unsigned type)
{
    return GSIZE_TO_POINTER((gsize)((page << 4 | (type & 0xf)) + 1));
}

static int mem_grow(struct xsim_memory *mem, uint64_t want_pages)
{
    if (want_pages <= mem->file_pages)
        return 0;
    uint64_t new_pages = (want_pages + GROW_PAGES - 1) / GROW_PAGES * GROW_PAGES;
    if (new_pages > mem->reserved_pages)
        return -ENOMEM;
    if (ftruncate(mem->memfd, (off_t)(new_pages * PAGE_SIZE)) < 0)
        return -errno;
    uint64_t off = mem->file_pages * PAGE_SIZE;
    void *p = mmap(mem->base + off, (new_pages - mem->file_pages) * PAGE_SIZE,
                   PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, mem->memfd, (off_t)off);
    if (p == MAP_FAILED)
        return -errno;
    mem->file_pages = new_pages;
    return 0;
}

uint64_t xsim_mem_alloc_page(struct xsim_memory *mem)
{
    if (mem_grow(mem, mem->next_page + 1) < 0)
        return XSIM_NO_PAGE;
    uint64_t page = mem->next_page++;
    memset(xsim_mem_page_ptr(mem, page), 0, PAGE_SIZE);
    return page;
}

void *xsim_mem_page_ptr(struct xsim_memory *mem, uint64_t page)
{
    return mem->base + page * PAGE_SIZE;
}

bool xsim_mem_lookup(struct xsim_memory *mem, uint64_t gfn, uint64_t *page, unsigned *type)
{
    gpointer v = g_hash_table_lookup(mem->p2m, p2m_key(gfn));
    if (!v)
        return false;
    gsize raw = GPOINTER_TO_SIZE(v) - 1;
    if (page)
        *page = raw >> 4;
    if (type)
        *type = raw & 0xf;
    return true;
}

int xsim_mem_populate(struct xsim_memory *mem, uint64_t gfn)
{
    if (gfn > MAX_GFN)
        return -EINVAL;
    if (xsim_mem_lookup(mem, gfn, NULL, NULL))
        return 0; /* already backed: nothing to do */
    uint64_t page = xsim_mem_alloc_page(mem);
    if (page == XSIM_NO_PAGE)
        return -ENOMEM;
    g_hash_table_insert(mem->p2m, p2m_key(gfn), p2m_val(page, XSIM_MEM_RAM_RW));
    return 0;
}

void xsim_mem_map_page(struct xsim_memory *mem, uint64_t gfn, uint64_t page, unsigned type)
{
    g_hash_table_insert(mem->p2m, p2m_key(gfn), p2m_val(page, type));
}

bool xsim_mem_remove(struct xsim_memory *mem, uint64_t gfn)
{
    return g_hash_table_remove(mem->p2m, p2m_key(gfn));
}

int xsim_mem_set_type(struct xsim_memory *mem, uint64_t gfn, unsigned type)
{
    uint64_t page;
    if (!xsim_mem_lookup(mem, gfn, &page, NULL))
        return -EINVAL;
    g_hash_table_insert(mem->p2m, p2m_key(gfn), p2m_val(page, type));
    return 0;
}

int xsim_mem_relocate(struct xsim_memory *mem, uint64_t src, uint64_t dst, uint32_t nr)
{
    if (src + nr < src || dst + nr < dst || src + nr > MAX_GFN || dst + nr > MAX_GFN)
        return -EINVAL;
    for (uint32_t i = 0; i < nr; i++) {
        if (!xsim_mem_lookup(mem, src + i, NULL, NULL))
            return -EINVAL;
    }
    /* Collect first: source and destination ranges may overlap. */
    g_autofree gsize *vals = g_new(gsize, nr ? nr : 1);
    for (uint32_t i = 0; i < nr; i++) {
        vals[i] = GPOINTER_TO_SIZE(g_hash_table_lookup(mem->p2m, p2m_key(src + i)));
        g_hash_table_remove(mem->p2m, p2m_key(src + i));
    }
    for (uint32_t i = 0; i < nr; i++)
        g_hash_table_insert(mem->p2m, p2m_key(dst + i), GSIZE_TO_POINTER(vals[i]));
    return 0;
}

typedef void (*chunk_fn)(uint8_t *host, uint8_t *buf, size_t n);

static void copy_out(uint8_t *host, uint8_t *buf, size_t n) { memcpy(buf, host, n); }
static void copy_in(uint8_t *host, uint8_t *buf, size_t n) { memcpy(host, buf, n); }

static int mem_walk(struct xsim_memory *mem, uint64_t gpa, uint8_t *buf, size_t len, chunk_fn fn,
                    bool is_read)
{
    int rc = 0;
    while (len) {
        uint64_t gfn = gpa >> PAGE_SHIFT;
        size_t off = gpa & (PAGE_SIZE - 1);
        size_t n = MIN(len, PAGE_SIZE - off);
        uint64_t page;
        if (gfn <= MAX_GFN && xsim_mem_lookup(mem, gfn, &page, NULL)) {
            fn((uint8_t *)xsim_mem_page_ptr(mem, page) + off, buf, n);
        } else {
            if (is_read)
                memset(buf, 0xff, n); /* a hole reads as all-ones */
            rc = -EFAULT;
        }
        gpa += n;
        buf += n;
        len -= n;
    }
    return rc;
}

int xsim_mem_read(struct xsim_memory *mem, uint64_t gpa, void *buf, size_t len)
{
    return mem_walk(mem, gpa, buf, len, copy_out, true);
}

int xsim_mem_write(struct xsim_memory *mem, uint64_t gpa, const void *buf, size_t len)
{
    xsim_mem_mark_dirty(mem, gpa, len);
    return mem_walk(mem, gpa, (uint8_t *)buf, len, copy_in, false);
}

void xsim_mem_mark_dirty(struct xsim_memory *mem, uint64_t gpa, size_t len)
{
    struct xsim_dirty_vram *d = &mem->dirty;
    if (!d->active || !len)
        return;
    uint64_t first = gpa >> PAGE_SHIFT, last = (gpa + len - 1) >> PAGE_SHIFT;
    for (uint64_t gfn = first; gfn <= last; gfn++) {
        if (gfn >= d->first_pfn && gfn - d->first_pfn < d->nr) {
            uint64_t bit = gfn - d->first_pfn;
            d->bitmap[bit / 8] |= (uint8_t)(1u << (bit % 8));
        }
    }
}

uint64_t xsim_mem_nr_pages(struct xsim_memory *mem)
{
    return g_hash_table_size(mem->p2m);
}

static int populate_range(struct xsim_memory *mem, uint64_t first, uint64_t end)
{
    for (uint64_t gfn = first; gfn < end; gfn++) {
        int rc = xsim_mem_populate(mem, gfn);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/*
 * RAM as libxl and libxc lay it out (libxl__build_hvm, meminit_hvm): [0, ram) below the MMIO
 * hole at lowmem_top, the VGA hole 0xA0000-0xBFFFF left unpopulated (its 32 frames are not
 * added elsewhere), the rest above 4 GiB. The device model's own RAM (VRAM) goes right after
 * the last of these gfns, so nothing of it may be populated here.
 */
int xsim_mem_init(struct xsim_memory *mem, uint64_t ram_mb, uint64_t lowmem_top)
{
    memset(mem, 0, sizeof(*mem));
    mem->memfd = -1;
    mem->p2m = g_hash_table_new(g_direct_hash, g_direct_equal);
    mem->memfd = memfd_create("xensim-guest-ram", MFD_CLOEXEC);
    if (mem->memfd < 0)
        return -errno;
    mem->reserved_pages = RESERVE_PAGES;
    void *base = mmap(NULL, RESERVE_PAGES * PAGE_SIZE, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED)
        return -errno;
    mem->base = base;

    uint64_t ram_pages = ram_mb << (20 - PAGE_SHIFT);
    uint64_t low_limit = lowmem_top >> PAGE_SHIFT;
    uint64_t low_pages = MIN(ram_pages, low_limit);
    int rc = populate_range(mem, 0, MIN(low_pages, VGA_HOLE_START_GFN));
    if (rc == 0 && low_pages > VGA_HOLE_END_GFN)
        rc = populate_range(mem, VGA_HOLE_END_GFN, low_pages);
    mem->lowmem_end_gfn = low_pages;
    uint64_t high_pages = ram_pages - low_pages;
    if (rc == 0 && high_pages)
        rc = populate_range(mem, GFN_4G, GFN_4G + high_pages);
    mem->highmem_end_gfn = high_pages ? GFN_4G + high_pages : 0;
    return rc;
}

/*
 * Xen's pinned cache attributes (hvm_set_mem_pinned_cacheattr): the same range again changes
 * its type, an overlapping other range is -EBUSY, and XEN_DMOP_DELETE_MEM_CACHEATTR removes
 * exactly one range (-ENOENT if there is none).
 */
int xsim_mem_pin_cacheattr(struct xsim_memory *mem, uint64_t start, uint64_t end, uint32_t type,
                           bool delete)
{
    if (!mem->pins)
        mem->pins = g_array_new(FALSE, FALSE, sizeof(struct xsim_pin));
    for (guint i = 0; i < mem->pins->len; i++) {
        struct xsim_pin *p = &g_array_index(mem->pins, struct xsim_pin, i);
        if (p->start == start && p->end == end) {
            if (delete)
                g_array_remove_index(mem->pins, i);
            else
                p->type = type;
            return 0;
        }
        if (!delete && p->start <= end && start <= p->end)
            return -EBUSY;
    }
    if (delete)
        return -ENOENT;
    struct xsim_pin pin = { .start = start, .end = end, .type = type };
    g_array_append_val(mem->pins, pin);
    return 0;
}

int xsim_mem_cacheattr(struct xsim_memory *mem, uint64_t gfn)
{
    for (guint i = 0; mem->pins && i < mem->pins->len; i++) {
        struct xsim_pin *p = &g_array_index(mem->pins, struct xsim_pin, i);
        if (gfn >= p->start && gfn <= p->end)
            return (int)p->type;
    }
    return -1;
}

void xsim_mem_fini(struct xsim_memory *mem)
{
    if (mem->base)
        munmap(mem->base, mem->reserved_pages * PAGE_SIZE);
    if (mem->memfd >= 0)
        close(mem->memfd);
    if (mem->p2m)
        g_hash_table_destroy(mem->p2m);
    g_free(mem->dirty.bitmap);
    if (mem->pins)
        g_array_free(mem->pins, TRUE);
    memset(mem, 0, sizeof(*mem));
    mem->memfd = -1;
}
