/*
 * Unit tests of the mapcache, with a fake mapper standing in for Xen.
 *
 * The fake guest RAM is a memfd; map() returns a fresh MAP_SHARED mapping of
 * the requested frames (failed frames stay PROT_NONE in it) and unmap()
 * really munmaps it, so any use of memory the mapcache gave back faults at
 * once. The fake records its calls and its live mappings, can fail chosen
 * pages or whole calls, and fails every frame beyond the end of its RAM.
 */
#include <glib.h>
#include <sys/mman.h>
#include <unistd.h>
#include "xendm/common.h"
#include "xendm/mapcache.h"

#define PAGE_SIZE 4096u
#define RAM_SIZE (64u << 20)
#define RAM_PAGES (RAM_SIZE / PAGE_SIZE)
#define MIB (UINT64_C(1) << 20)
#define GPA_LIMIT (UINT64_C(1) << 52)

struct fake_mapping {
    uint8_t *addr;
    uint64_t first_gfn;
    size_t nr;
};

struct fake_ram {
    int memfd;
    uint8_t *ram; /* the whole RAM, for the test's own checks */
    bool fail_page[RAM_PAGES];
    unsigned fail_next_calls;
    unsigned map_calls, unmap_calls;
    uint64_t last_first_gfn;
    size_t last_nr;
    bool last_writable;
    GPtrArray *live; /* struct fake_mapping * */
};

static bool fake_page_ok(const struct fake_ram *f, uint64_t gfn)
{
    return gfn < RAM_PAGES && !f->fail_page[gfn];
}

/* Maps the good frames in [i, i + run) of a reserved region over the memfd. */
static void fake_map_run(struct fake_ram *f, uint8_t *base, uint64_t first_gfn, size_t i,
                         size_t run, int prot)
{
    void *p = mmap(base + i * PAGE_SIZE, run * PAGE_SIZE, prot, MAP_SHARED | MAP_FIXED,
                   f->memfd, (off_t)((first_gfn + i) * PAGE_SIZE));

    g_assert_true(p == base + i * PAGE_SIZE);
}

static void *fake_map(void *opaque, uint64_t first_gfn, size_t nr, bool writable, int *err)
{
    struct fake_ram *f = opaque;
    int prot = PROT_READ | (writable ? PROT_WRITE : 0);
    struct fake_mapping *m;
    uint8_t *base;
    size_t i = 0;

    f->map_calls++;
    f->last_first_gfn = first_gfn;
    f->last_nr = nr;
    f->last_writable = writable;
    if (f->fail_next_calls > 0) {
        f->fail_next_calls--;
        for (size_t k = 0; k < nr; k++)
            err[k] = -ENOMEM;
        return NULL;
    }
    base = mmap(NULL, nr * PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_assert_true(base != MAP_FAILED);
    while (i < nr) {
        size_t run = 0;

        while (i + run < nr && fake_page_ok(f, first_gfn + i + run))
            err[i + run++] = 0;
        if (run)
            fake_map_run(f, base, first_gfn, i, run, prot);
        i += run;
        for (; i < nr && !fake_page_ok(f, first_gfn + i); i++)
            err[i] = -EFAULT;
    }
    m = g_new0(struct fake_mapping, 1);
    m->addr = base;
    m->first_gfn = first_gfn;
    m->nr = nr;
    g_ptr_array_add(f->live, m);
    return base;
}

static void fake_unmap(void *opaque, void *addr, size_t nr)
{
    struct fake_ram *f = opaque;

    f->unmap_calls++;
    for (unsigned i = 0; i < f->live->len; i++) {
        struct fake_mapping *m = g_ptr_array_index(f->live, i);

        if (m->addr == addr) {
            g_assert_cmpuint(m->nr, ==, nr);
            g_assert_cmpint(munmap(addr, nr * PAGE_SIZE), ==, 0);
            g_ptr_array_remove_index_fast(f->live, i);
            return;
        }
    }
    g_assert_not_reached(); /* unmap of something never mapped, or unmapped twice */
}

/* How many live mappings start at this frame. */
static unsigned fake_live_at(const struct fake_ram *f, uint64_t first_gfn)
{
    unsigned n = 0;

    for (unsigned i = 0; i < f->live->len; i++) {
        const struct fake_mapping *m = g_ptr_array_index(f->live, i);

        n += m->first_gfn == first_gfn;
    }
    return n;
}

static struct fake_ram *fake_new(void)
{
    struct fake_ram *f = g_new0(struct fake_ram, 1);

    f->memfd = memfd_create("fake-guest-ram", MFD_CLOEXEC);
    g_assert_cmpint(f->memfd, >=, 0);
    g_assert_cmpint(ftruncate(f->memfd, RAM_SIZE), ==, 0);
    f->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
    g_assert_true(f->ram != MAP_FAILED);
    for (size_t i = 0; i < RAM_SIZE; i += 4)
        memcpy(f->ram + i, &(uint32_t){(uint32_t)(i * 2654435761u)}, 4);
    f->live = g_ptr_array_new_with_free_func(g_free);
    return f;
}

static void fake_free(struct fake_ram *f)
{
    g_assert_cmpuint(f->live->len, ==, 0); /* the mapcache gave everything back */
    g_ptr_array_free(f->live, true);
    munmap(f->ram, RAM_SIZE);
    close(f->memfd);
    g_free(f);
}

static struct mapcache *mc_new(struct fake_ram *f, unsigned shift, size_t max_buckets)
{
    struct mapcache_mapper mapper = {.map = fake_map, .unmap = fake_unmap, .opaque = f};
    struct mapcache_config config = {.bucket_shift = shift, .max_buckets = max_buckets};
    struct mapcache *mc = mapcache_new(&mapper, &config);

    g_assert_nonnull(mc);
    return mc;
}

static struct mapcache_stats stats_of(struct mapcache *mc)
{
    struct mapcache_stats s;

    mapcache_get_stats(mc, &s);
    return s;
}

static bool all_bytes(const uint8_t *p, size_t len, uint8_t v)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != v)
            return false;
    }
    return true;
}

/* ---- basics ---- */

static void test_read_write(void)
{
    struct fake_ram *f = fake_new();
    struct mapcache *mc = mc_new(f, 0, 0);
    uint8_t buf[64], pattern[64];

    g_assert_cmpint(mapcache_read(mc, 0x12345, buf, sizeof(buf)), ==, 0);
    g_assert_cmpmem(buf, sizeof(buf), f->ram + 0x12345, sizeof(buf));
    for (unsigned i = 0; i < sizeof(pattern); i++)
        pattern[i] = (uint8_t)(0xA0 + i);
    g_assert_cmpint(mapcache_write(mc, 0x2345678, pattern, sizeof(pattern)), ==, 0);
    g_assert_cmpmem(f->ram + 0x2345678, sizeof(pattern), pattern, sizeof(pattern));
    mapcache_free(mc);
    fake_free(f);
}

static void test_default_config(void)
{
    struct fake_ram *f = fake_new();
    struct mapcache_mapper mapper = {.map = fake_map, .unmap = fake_unmap, .opaque = f};
    struct mapcache *mc = mapcache_new(&mapper, NULL);
    uint32_t v;

    g_assert_nonnull(mc);
    g_assert_cmpint(mapcache_read(mc, 3 * MIB + 8, &v, sizeof(v)), ==, 0);
    g_assert_cmpuint(f->last_first_gfn, ==, 3 * 256); /* the whole 1 MiB bucket */
    g_assert_cmpuint(f->last_nr, ==, 256);
    g_assert_true(f->last_writable);
    mapcache_free(mc);
    fake_free(f);
}

static void test_bad_config(void)
{
    struct mapcache_mapper mapper = {.map = fake_map, .unmap = fake_unmap, .opaque = NULL};
    struct mapcache_config too_small = {.bucket_shift = 11};
    struct mapcache_config too_big = {.bucket_shift = 31};
    struct mapcache_mapper no_unmap = {.map = fake_map};

    g_assert_null(mapcache_new(&mapper, &too_small));
    g_assert_null(mapcache_new(&mapper, &too_big));
    g_assert_null(mapcache_new(NULL, NULL));
    g_assert_null(mapcache_new(&no_unmap, NULL));
}

static void test_hits_and_misses(void)
{
    struct fake_ram *f = fake_new();
    struct mapcache *mc = mc_new(f, 16, 0); /* 64 KiB buckets */
    struct mapcache_stats s;
    uint64_t v;

    g_assert_cmpint(mapcache_read(mc, 0x100, &v, sizeof(v)), ==, 0);
    g_assert_cmpuint(f->last_nr, ==, 16);
    g_assert_cmpint(mapcache_read(mc, 0x200, &v, sizeof(v)), ==, 0);
    g_assert_cmpint(mapcache_read(mc, 0xFFF8, &v, sizeof(v)), ==, 0);
    g_assert_cmpint(mapcache_read(mc, 0x10000, &v, sizeof(v)), ==, 0);
    g_assert_cmpint(mapcache_read(mc, 0x300, &v, sizeof(v)), ==, 0);
    s = stats_of(mc);
    g_assert_cmpuint(s.misses, ==, 2);
    g_assert_cmpuint(s.hits, ==, 3);
    g_assert_cmpuint(s.mapped_buckets, ==, 2);
    g_assert_cmpuint(f->map_calls, ==, 2);
    g_assert_cmpuint(s.evictions, ==, 0);
    mapcache_free(mc);
    fake_free(f);
}

/* ---- LRU ---- */

static void touch(struct mapcache *mc, uint64_t gpa)
{
    uint8_t b;

    g_assert_cmpint(mapcache_read(mc, gpa, &b, 1), ==, 0);
}

static void test_lru_order(void)
{
    struct fake_ram *f = fake_new();
    struct mapcache *mc = mc_new(f, 20, 3);
    const uint64_t a = 0, b = 1 * MIB, c = 2 * MIB, d = 3 * MIB;
    struct mapcache_stats s;

    touch(mc, a);
    touch(mc, b);
    touch(mc, c);
    touch(mc, a);
    touch(mc, d);
    s = stats_of(mc);
    g_assert_cmpuint(s.evictions, ==, 1);
    g_assert_cmpuint(s.mapped_buckets, ==, 3);
    g_assert_cmpuint(fake_live_at(f, b >> 12), ==, 0); /* B was least recently used */
    g_assert_cmpuint(fake_live_at(f, a >> 12), ==, 1);
    g_assert_cmpuint(fake_live_at(f, c >> 12), ==, 1);
    g_assert_cmpuint(fake_live_at(f, d >> 12), ==, 1);

    /* A, C, D are still cached; B comes back as a miss and evicts C (now the oldest). */
    touch(mc, a);
    touch(mc, d);
    g_assert_cmpuint(f->map_calls, ==, 4);
    touch(mc, b);
    g_assert_cmpuint(f->map_calls, ==, 5);
    g_assert_cmpuint(fake_live_at(f, c >> 12), ==, 0);
    g_assert_cmpuint(stats_of(mc).evictions, ==, 2);
    mapcache_free(mc);
    fake_free(f);
}

static void test_locked_survives_eviction(void)
{
    struct fake_ram *f = fake_new();
    struct mapcache *mc = mc_new(f, 20, 1);
    struct mapcache_stats s;
    uint8_t *p;

    p = mapcache_lock(mc, 0x1000, 16, true);
    g_assert_nonnull(p);
    g_assert_true(p[0] == f->ram[0x1000]);
    touch(mc, 1 * MIB); /* beyond the bound: every mapped bucket is locked */
    s = stats_of(mc);
    g_assert_cmpuint(s.bound_exceeded, ==, 1);
    g_assert_cmpuint(s.mapped_buckets, ==, 2);
    g_assert_cmpuint(s.locked_buckets, ==, 1);
    touch(mc, 2 * MIB); /* evicts the unlocked 1 MiB bucket, never the locked one */
    s = stats_of(mc);
    g_assert_cmpuint(s.evictions, ==, 1);
    g_assert_cmpuint(s.bound_exceeded, ==, 2);
    g_assert_cmpuint(fake_live_at(f, 0), ==, 1);
    g_assert_cmpuint(fake_live_at(f, 256), ==, 0);

    memset(f->ram + 0x1000, 0x5A, 16); /* the locked pointer still reaches guest RAM */
    g_assert_true(all_bytes(p, 16, 0x5A));
    p[3] = 0x77;
    g_assert_cmpuint(f->ram[0x1003], ==, 0x77);

    mapcache_unlock(mc, p); /* back within the bound */
    s = stats_of(mc);
    g_assert_cmpuint(s.mapped_buckets, ==, 1);
    g_assert_cmpuint(s.locked_buckets, ==, 0);
    g_assert_cmpuint(f->live->len, ==, 1);
    mapcache_free(mc);
    fake_free(f);
}

/* ---- invalidate ---- */

static void test_invalidate_unlocked(void)
{
    struct fake_ram *f = fake_new();
    struct mapcache *mc = mc_new(f, 20, 0);
    struct mapcache_stats s;

    for (unsigned i = 0; i < 5; i++)
        touch(mc, i * MIB + 0x10);
    g_assert_cmpuint(f->live->len, ==, 5);
    mapcache_invalidate(mc);
    g_assert_cmpuint(f->live->len, ==, 0);
    s = stats_of(mc);
    g_assert_cmpuint(s.mapped_buckets, ==, 0);
    g_assert_cmpuint(s.stale_buckets, ==, 0);
    touch(mc, 0x10); /* remapped on demand */
    g_assert_cmpuint(f->map_calls, ==, 6);
    mapcache_free(mc);
    fake_free(f);
}

static void test_locked_survives_invalidate(void)
{
    struct fake_ram *f = fake_new();
    struct mapcache *mc = mc_new(f, 20, 0);
    struct mapcache_stats s;
    uint8_t *p, b;

    touch(mc, 5 * MIB);
    p = mapcache_lock(mc, 0x4000, 32, true);
    g_assert_nonnull(p);
    mapcache_invalidate(mc);
    s = stats_of(mc);
    g_assert_cmpuint(s.stale_buckets, ==, 1);
    g_assert_cmpuint(s.locked_buckets, ==, 1);
    g_assert_cmpuint(s.mapped_buckets, ==, 1);
    g_assert_cmpuint(f->live->len, ==, 1); /* only the locked one stayed */

    memset(f->ram + 0x4000, 0xC3, 32);
    g_assert_true(all_bytes(p, 32, 0xC3));

    /* A new lookup of the same bucket is not served from the stale one. */
    g_assert_cmpint(mapcache_read(mc, 0x4000, &b, 1), ==, 0);
    g_assert_cmpuint(b, ==, 0xC3);
    g_assert_cmpuint(f->map_calls, ==, 3);
    g_assert_cmpuint(fake_live_at(f, 0), ==, 2);

    mapcache_unlock(mc, p);
    g_assert_cmpuint(fake_live_at(f, 0), ==, 1);
    s = stats_of(mc);
    g_assert_cmpuint(s.stale_buckets, ==, 0);
    g_assert_cmpuint(s.locked_buckets, ==, 0);
    g_assert_cmpuint(s.mapped_buckets, ==, 1);
    mapcache_free(mc);
    fake_free(f);
}

static void test_stale_not_reused_by_lock(void)
{
    struct fake_ram *f = fake_new();
    struct mapcache *mc = mc_new(f, 20, 0);
    uint8_t *p1, *p2;

    p1 = mapcache_lock(mc, 0x8000, 8, true);
    g_assert_nonnull(p1);
    mapcache_invalidate(mc);
    p2 = mapcache_lock(mc, 0x8000, 8, true);
    g_assert_nonnull(p2);
    g_assert_true(p1 != p2);
    g_assert_cmpuint(f->map_calls, ==, 2);
    p1[0] = 0x42; /* both map the same frame */
    g_assert_cmpuint(p2[0], ==, 0x42);
    g_assert_cmpuint(stats_of(mc).stale_buckets, ==, 1);
    g_assert_cmpuint(stats_of(mc).locked_buckets, ==, 2);
    mapcache_unlock(mc, p1);
    g_assert_cmpuint(f->live->len, ==, 1);
    g_assert_cmpuint(p2[0], ==, 0x42);
    mapcache_unlock(mc, p2);
    g_assert_cmpuint(f->live->len, ==, 1); /* the fresh bucket stays cached, unlocked */
    g_assert_cmpuint(stats_of(mc).locked_buckets, ==, 0);
    mapcache_free(mc);
    fake_free(f);
}

static void test_dedicated_survives_invalidate(void)
{
    struct fake_ram *f = fake_new();
    struct mapcache *mc = mc_new(f, 20, 0);
    uint8_t *p;

    p = mapcache_lock(mc, MIB - 4, 8, false);
    g_assert_nonnull(p);
    mapcache_invalidate(mc);
    g_assert_cmpuint(f->live->len, ==, 1);
    g_assert_cmpmem(p, 8, f->ram + MIB - 4, 8);
    mapcache_unlock(mc, p);
    g_assert_cmpuint(f->live->len, ==, 0);
    mapcache_free(mc);
    fake_free(f);
}

/* ---- copies across boundaries ---- */

static void test_cross_boundaries(void)
{
    struct fake_ram *f = fake_new();
    struct mapcache *mc = mc_new(f, 16, 0);
    const uint64_t gpas[] = {0x0FFE, 0xFFF0, 0x1FFF7, 3 * MIB - 5};
    const size_t lens[] = {4, 32, 0x10010, 300000};

    for (unsigned i = 0; i < ARRAY_SIZE(gpas); i++) {
        uint8_t *buf = g_malloc(lens[i]);

        g_assert_cmpint(mapcache_read(mc, gpas[i], buf, lens[i]), ==, 0);
        g_assert_cmpmem(buf, lens[i], f->ram + gpas[i], lens[i]);
        for (size_t k = 0; k < lens[i]; k++)
            buf[k] = (uint8_t)(k * 7 + i);
        g_assert_cmpint(mapcache_write(mc, gpas[i], buf, lens[i]), ==, 0);
        g_assert_cmpmem(f->ram + gpas[i], lens[i], buf, lens[i]);
        g_free(buf);
    }
    mapcache_free(mc);
    fake_free(f);
}

/* ---- failures ---- */

static void test_failed_page(void)
{
    struct fake_ram *f = fake_new();
    struct mapcache *mc = mc_new(f, 20, 0);
    uint8_t buf[PAGE_SIZE];
    uint8_t *p;
    unsigned calls;

    f->fail_page[5] = true;
    g_assert_cmpint(mapcache_read(mc, 4 * PAGE_SIZE, buf, PAGE_SIZE), ==, 0);
    g_assert_cmpmem(buf, PAGE_SIZE, f->ram + 4 * PAGE_SIZE, PAGE_SIZE);
    g_assert_cmpint(mapcache_read(mc, 6 * PAGE_SIZE, buf, PAGE_SIZE), ==, 0);
    g_assert_cmpmem(buf, PAGE_SIZE, f->ram + 6 * PAGE_SIZE, PAGE_SIZE);
    g_assert_cmpint(mapcache_read(mc, 5 * PAGE_SIZE - 8, buf, 16), ==, -EFAULT);
    g_assert_true(all_bytes(buf, 16, 0xFF));
    g_assert_cmpint(mapcache_write(mc, 5 * PAGE_SIZE + 8, buf, 1), ==, -EFAULT);
    g_assert_null(mapcache_lock(mc, 5 * PAGE_SIZE, 1, true));
    g_assert_null(mapcache_lock(mc, 6 * PAGE_SIZE - 1, 2, true));
    p = mapcache_lock(mc, 4 * PAGE_SIZE, PAGE_SIZE, true);
    g_assert_nonnull(p);

    /* While the bucket is held, a touch of the hole fails without remapping it. */
    calls = f->map_calls;
    g_assert_cmpint(mapcache_read(mc, 5 * PAGE_SIZE, buf, 1), ==, -EFAULT);
    g_assert_cmpuint(f->map_calls, ==, calls);
    mapcache_unlock(mc, p);

    /* The page appears later (Xen does not tell): the next touch remaps and succeeds. */
    f->fail_page[5] = false;
    g_assert_cmpint(mapcache_read(mc, 5 * PAGE_SIZE, buf, PAGE_SIZE), ==, 0);
    g_assert_cmpmem(buf, PAGE_SIZE, f->ram + 5 * PAGE_SIZE, PAGE_SIZE);
    g_assert_cmpuint(f->map_calls, ==, calls + 1);
    g_assert_cmpuint(f->live->len, ==, 1);
    mapcache_free(mc);
    fake_free(f);
}

static void test_partial_read_across_buckets(void)
{
    struct fake_ram *f = fake_new();
    struct mapcache *mc = mc_new(f, 20, 0);
    uint8_t buf[32], pattern[32];

    f->fail_page[256] = true; /* first page of the second bucket */
    g_assert_cmpint(mapcache_read(mc, MIB - 16, buf, sizeof(buf)), ==, -EFAULT);
    g_assert_cmpmem(buf, 16, f->ram + MIB - 16, 16); /* what could be read was read */
    g_assert_true(all_bytes(buf + 16, 16, 0xFF));
    memset(pattern, 0x3C, sizeof(pattern));
    g_assert_cmpint(mapcache_write(mc, MIB - 16, pattern, sizeof(pattern)), ==, -EFAULT);
    g_assert_true(all_bytes(f->ram + MIB - 16, 16, 0x3C)); /* a failed write may be partial */
    g_assert_null(mapcache_lock(mc, MIB - 16, 32, true)); /* dedicated: a hole fails it */
    g_assert_cmpuint(stats_of(mc).dedicated_mappings, ==, 0);
    mapcache_free(mc);
    fake_free(f);
}

static void test_whole_call_failure(void)
{
    struct fake_ram *f = fake_new();
    struct mapcache *mc = mc_new(f, 20, 0);
    struct mapcache_stats s;
    uint32_t v = 0;

    f->fail_next_calls = 1;
    g_assert_cmpint(mapcache_read(mc, 0x100, &v, sizeof(v)), ==, -EFAULT);
    g_assert_cmpuint(v, ==, UINT32_MAX);
    s = stats_of(mc);
    g_assert_cmpuint(s.map_failures, ==, 1);
    g_assert_cmpuint(s.mapped_buckets, ==, 0);
    /* Not cached as valid: the next access retries and works. */
    g_assert_cmpint(mapcache_read(mc, 0x100, &v, sizeof(v)), ==, 0);
    g_assert_cmpmem(&v, sizeof(v), f->ram + 0x100, sizeof(v));
    g_assert_cmpuint(f->map_calls, ==, 2);

    f->fail_next_calls = 2;
    g_assert_null(mapcache_lock(mc, 5 * MIB, 8, true));
    g_assert_null(mapcache_lock(mc, 6 * MIB - 4, 8, true)); /* dedicated */
    s = stats_of(mc);
    g_assert_cmpuint(s.map_failures, ==, 3);
    g_assert_cmpuint(s.dedicated_mappings, ==, 0);
    g_assert_cmpuint(s.locked_buckets, ==, 0);
    mapcache_free(mc);
    fake_free(f);
}

static void test_beyond_ram(void)
{
    struct fake_ram *f = fake_new();
    struct mapcache *mc = mc_new(f, 20, 0);
    uint8_t buf[8];

    g_assert_cmpint(mapcache_read(mc, RAM_SIZE, buf, sizeof(buf)), ==, -EFAULT);
    g_assert_cmpint(mapcache_read(mc, RAM_SIZE - 4, buf, sizeof(buf)), ==, -EFAULT);
    g_assert_cmpint(mapcache_read(mc, RAM_SIZE - 8, buf, sizeof(buf)), ==, 0);
    g_assert_null(mapcache_lock(mc, RAM_SIZE + 0x10, 4, true));
    mapcache_free(mc);
    fake_free(f);
}

static void test_overflow_and_empty(void)
{
    struct fake_ram *f = fake_new();
    struct mapcache *mc = mc_new(f, 20, 0);
    uint8_t buf[8];

    g_assert_cmpint(mapcache_read(mc, UINT64_MAX - 1, buf, 4), ==, -EFAULT);
    g_assert_true(all_bytes(buf, 4, 0xFF));
    g_assert_cmpint(mapcache_write(mc, UINT64_MAX - 1, buf, 4), ==, -EFAULT);
    g_assert_cmpint(mapcache_read(mc, GPA_LIMIT - 2, buf, 4), ==, -EFAULT);
    g_assert_cmpint(mapcache_read(mc, GPA_LIMIT, buf, 1), ==, -EFAULT);
    g_assert_null(mapcache_lock(mc, UINT64_MAX, 1, true));
    g_assert_null(mapcache_lock(mc, 0, SIZE_MAX, true));
    g_assert_null(mapcache_lock(mc, 0x1000, 0, true));
    g_assert_cmpuint(f->map_calls, ==, 0); /* refused before any mapping */

    /* Huge but in range: refused without mapping the world. */
    g_assert_null(mapcache_lock(mc, 0x1000, (size_t)GPA_LIMIT - 0x1000, true));
    g_assert_cmpuint(f->map_calls, ==, 0);

    g_assert_cmpint(mapcache_read(mc, 0x1000, buf, 0), ==, 0);
    g_assert_cmpint(mapcache_write(mc, 0x1000, buf, 0), ==, 0);
    g_assert_cmpint(mapcache_read(mc, UINT64_MAX, buf, 0), ==, 0);
    g_assert_cmpuint(f->map_calls, ==, 0);

    /* No mapcache at all (a machine without guest RAM). */
    g_assert_cmpint(mapcache_read(NULL, 0, buf, 4), ==, -EFAULT);
    g_assert_cmpint(mapcache_write(NULL, 0, buf, 4), ==, -EFAULT);
    g_assert_null(mapcache_lock(NULL, 0, 4, true));
    mapcache_unlock(NULL, buf);
    mapcache_invalidate(NULL);
    mapcache_free(NULL);
    mapcache_free(mc);
    fake_free(f);
}

/* ---- locks ---- */

static void test_dedicated_lock(void)
{
    struct fake_ram *f = fake_new();
    struct mapcache *mc = mc_new(f, 20, 0);
    struct mapcache_stats s;
    uint8_t *p;

    p = mapcache_lock(mc, MIB - 8, 16, true);
    g_assert_nonnull(p);
    g_assert_cmpuint(f->last_first_gfn, ==, 255); /* exactly the two pages under the range */
    g_assert_cmpuint(f->last_nr, ==, 2);
    g_assert_true(f->last_writable);
    g_assert_cmpmem(p, 16, f->ram + MIB - 8, 16);
    memset(p, 0x99, 16);
    g_assert_true(all_bytes(f->ram + MIB - 8, 16, 0x99));
    s = stats_of(mc);
    g_assert_cmpuint(s.dedicated_mappings, ==, 1);
    g_assert_cmpuint(s.mapped_buckets, ==, 0);
    mapcache_unlock(mc, p);
    g_assert_cmpuint(stats_of(mc).dedicated_mappings, ==, 0);
    g_assert_cmpuint(f->live->len, ==, 0);

    /* A long read-only range over three buckets. */
    p = mapcache_lock(mc, MIB + 0x123, 2 * MIB, false);
    g_assert_nonnull(p);
    g_assert_false(f->last_writable);
    g_assert_cmpuint(f->last_nr, ==, 513);
    g_assert_cmpmem(p, 2 * MIB, f->ram + MIB + 0x123, 2 * MIB);
    mapcache_unlock(mc, p);
    g_assert_cmpuint(f->live->len, ==, 0);
    mapcache_free(mc);
    fake_free(f);
}

static void test_lock_twice(void)
{
    struct fake_ram *f = fake_new();
    struct mapcache *mc = mc_new(f, 20, 0);
    uint8_t *a1, *a2, *d1, *d2;

    a1 = mapcache_lock(mc, 0x3000, 64, true);
    a2 = mapcache_lock(mc, 0x3000, 64, true);
    g_assert_nonnull(a1);
    g_assert_true(a1 == a2);
    d1 = mapcache_lock(mc, 2 * MIB - 1, 2, true);
    d2 = mapcache_lock(mc, 2 * MIB - 1, 2, true);
    g_assert_nonnull(d1);
    g_assert_nonnull(d2);
    g_assert_true(d1 != d2);
    g_assert_cmpuint(stats_of(mc).dedicated_mappings, ==, 2);

    mapcache_unlock(mc, a1);
    g_assert_cmpmem(a2, 64, f->ram + 0x3000, 64); /* still held once */
    g_assert_cmpuint(stats_of(mc).locked_buckets, ==, 1);
    mapcache_invalidate(mc);
    g_assert_cmpuint(fake_live_at(f, 0), ==, 1);  /* stale, still held */
    g_assert_cmpuint(fake_live_at(f, 511), ==, 2); /* both dedicated mappings */
    mapcache_unlock(mc, a2);
    g_assert_cmpuint(fake_live_at(f, 0), ==, 0);

    mapcache_unlock(mc, d1);
    g_assert_cmpmem(d2, 2, f->ram + 2 * MIB - 1, 2);
    mapcache_unlock(mc, d2);
    g_assert_cmpuint(f->live->len, ==, 0);
    mapcache_free(mc);
    fake_free(f);
}

static void test_unlock_unknown(void)
{
    struct fake_ram *f = fake_new();
    struct mapcache *mc = mc_new(f, 20, 0);
    uint8_t *p, stack_byte = 0;

    p = mapcache_lock(mc, 0x1000, 8, true);
    g_assert_nonnull(p);
    mapcache_unlock(mc, p + 1);      /* inside the bucket, but never returned by lock */
    mapcache_unlock(mc, &stack_byte); /* not ours at all */
    mapcache_unlock(mc, NULL);
    g_assert_cmpuint(stats_of(mc).locked_buckets, ==, 1);
    mapcache_unlock(mc, p);
    mapcache_unlock(mc, p); /* one unlock too many is ignored */
    g_assert_cmpuint(stats_of(mc).locked_buckets, ==, 0);
    mapcache_free(mc);
    fake_free(f);
}

static void test_free_with_locks(void)
{
    struct fake_ram *f = fake_new();
    struct mapcache *mc = mc_new(f, 20, 0);

    g_assert_nonnull(mapcache_lock(mc, 0x10, 8, true));
    g_assert_nonnull(mapcache_lock(mc, 3 * MIB - 4, 8, true));
    g_assert_nonnull(mapcache_lock(mc, 5 * MIB, 8, true));
    mapcache_invalidate(mc); /* two stale buckets, one stale dedicated mapping */
    g_assert_nonnull(mapcache_lock(mc, 0x10, 8, true));
    touch(mc, 7 * MIB);
    g_assert_cmpuint(f->live->len, ==, 5);
    mapcache_free(mc); /* shutdown: everything goes, locked or not */
    fake_free(f);
}

/* ---- random operations against the backing buffer ---- */

struct held_lock {
    uint8_t *ptr;
    uint64_t gpa;
    size_t len;
};

static bool range_has_failed_page(const struct fake_ram *f, uint64_t gpa, size_t len)
{
    for (uint64_t pg = gpa / PAGE_SIZE; pg <= (gpa + len - 1) / PAGE_SIZE; pg++) {
        if (!fake_page_ok(f, pg))
            return true;
    }
    return false;
}

static void check_invariants(struct fake_ram *f, struct mapcache *mc, size_t max_buckets)
{
    struct mapcache_stats s = stats_of(mc);

    g_assert_cmpuint(f->live->len, ==, s.mapped_buckets + s.dedicated_mappings);
    g_assert_cmpuint(s.mapped_buckets, <=, XENDM_MAX(max_buckets, s.locked_buckets + 1));
}

static void random_lock(struct fake_ram *f, struct mapcache *mc, GRand *rng, GArray *held,
                        uint64_t span)
{
    struct held_lock h;

    h.len = g_rand_int_range(rng, 1, 5 * PAGE_SIZE);
    h.gpa = g_rand_int_range(rng, 0, (gint32)(span - h.len));
    h.ptr = mapcache_lock(mc, h.gpa, h.len, true);
    g_assert_true((h.ptr != NULL) == !range_has_failed_page(f, h.gpa, h.len));
    if (h.ptr)
        g_array_append_val(held, h);
}

static void random_copy(struct fake_ram *f, struct mapcache *mc, GRand *rng, uint64_t span)
{
    size_t len = g_rand_int_range(rng, 1, 40000);
    uint64_t gpa = g_rand_int_range(rng, 0, (gint32)(span - len));
    bool ok = !range_has_failed_page(f, gpa, len);
    uint8_t *buf = g_malloc(len);

    if (g_rand_boolean(rng)) {
        g_assert_cmpint(mapcache_read(mc, gpa, buf, len), ==, ok ? 0 : -EFAULT);
        if (ok)
            g_assert_cmpmem(buf, len, f->ram + gpa, len);
    } else {
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)g_rand_int(rng);
        g_assert_cmpint(mapcache_write(mc, gpa, buf, len), ==, ok ? 0 : -EFAULT);
        if (ok)
            g_assert_cmpmem(f->ram + gpa, len, buf, len);
    }
    g_free(buf);
}

static void test_random_ops(void)
{
    const uint64_t span = 2 * MIB;
    const size_t max_buckets = 4;
    struct fake_ram *f = fake_new();
    struct mapcache *mc = mc_new(f, 14, max_buckets); /* 16 KiB buckets */
    GRand *rng = g_rand_new_with_seed(20240607);
    GArray *held = g_array_new(false, false, sizeof(struct held_lock));

    for (unsigned pg = 7; pg < span / PAGE_SIZE; pg += 97)
        f->fail_page[pg] = true;
    for (unsigned step = 0; step < 20000; step++) {
        unsigned op = g_rand_int_range(rng, 0, 100);

        if (op < 70) {
            random_copy(f, mc, rng, span);
        } else if (op < 82 && held->len < 8) {
            random_lock(f, mc, rng, held, span);
        } else if (op < 97 && held->len > 0) {
            unsigned i = g_rand_int_range(rng, 0, held->len);
            struct held_lock *h = &g_array_index(held, struct held_lock, i);

            g_assert_cmpmem(h->ptr, h->len, f->ram + h->gpa, h->len);
            mapcache_unlock(mc, h->ptr);
            g_array_remove_index_fast(held, i);
        } else if (op >= 99) {
            mapcache_invalidate(mc);
        }
        for (unsigned i = 0; i < held->len; i++) {
            struct held_lock *h = &g_array_index(held, struct held_lock, i);

            g_assert_true(h->ptr[h->len - 1] == f->ram[h->gpa + h->len - 1]);
        }
        check_invariants(f, mc, max_buckets);
    }
    for (unsigned i = 0; i < held->len; i++)
        mapcache_unlock(mc, g_array_index(held, struct held_lock, i).ptr);
    g_assert_cmpuint(stats_of(mc).locked_buckets, ==, 0);
    g_assert_cmpuint(stats_of(mc).mapped_buckets, <=, max_buckets);
    g_array_free(held, true);
    g_rand_free(rng);
    mapcache_free(mc);
    fake_free(f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/mapcache/read-write", test_read_write);
    g_test_add_func("/mapcache/default-config", test_default_config);
    g_test_add_func("/mapcache/bad-config", test_bad_config);
    g_test_add_func("/mapcache/hits-and-misses", test_hits_and_misses);
    g_test_add_func("/mapcache/lru-order", test_lru_order);
    g_test_add_func("/mapcache/locked-survives-eviction", test_locked_survives_eviction);
    g_test_add_func("/mapcache/invalidate-unlocked", test_invalidate_unlocked);
    g_test_add_func("/mapcache/locked-survives-invalidate", test_locked_survives_invalidate);
    g_test_add_func("/mapcache/stale-not-reused-by-lock", test_stale_not_reused_by_lock);
    g_test_add_func("/mapcache/dedicated-survives-invalidate", test_dedicated_survives_invalidate);
    g_test_add_func("/mapcache/cross-boundaries", test_cross_boundaries);
    g_test_add_func("/mapcache/failed-page", test_failed_page);
    g_test_add_func("/mapcache/partial-read-across-buckets", test_partial_read_across_buckets);
    g_test_add_func("/mapcache/whole-call-failure", test_whole_call_failure);
    g_test_add_func("/mapcache/beyond-ram", test_beyond_ram);
    g_test_add_func("/mapcache/overflow-and-empty", test_overflow_and_empty);
    g_test_add_func("/mapcache/dedicated-lock", test_dedicated_lock);
    g_test_add_func("/mapcache/lock-twice", test_lock_twice);
    g_test_add_func("/mapcache/unlock-unknown", test_unlock_unknown);
    g_test_add_func("/mapcache/free-with-locks", test_free_with_locks);
    g_test_add_func("/mapcache/random-ops", test_random_ops);
    return g_test_run();
}
