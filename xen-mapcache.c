/*
 * The mapcache: guest memory through foreign mappings, in buckets.
 *
 * Structure
 * ---------
 * Guest-physical space (below 2^52, the x86-64 architectural limit) is cut into
 * buckets of 1 << bucket_shift bytes. A bucket is mapped whole, with one mapper
 * call, the first time anything in it is touched; per-page validity comes from
 * the mapper's err[] and is kept as a bitmap, so a guest pointing a DMA at a
 * hole gets -EFAULT rather than a fault in our process.
 *
 * Live buckets sit in a GHashTable keyed by bucket index (O(1) lookup), and a
 * one-entry "last bucket" fast path makes the common case (a device reading a
 * descriptor in the bucket it just used) a compare plus a memcpy.
 *
 * Why LRU. The number of mapped buckets is bounded (max_buckets, 32 GiB worth
 * by default: the device model's address space and the hypervisor's mapping
 * bookkeeping are finite). Upstream QEMU is effectively direct-mapped (slot =
 * index % slots), so two hot buckets that collide keep evicting each other;
 * an LRU list costs two pointer updates per lookup and evicts what is really
 * cold. Only unlocked buckets are on the list, so eviction is O(1): take the
 * tail. When every mapped bucket is locked we map beyond the bound rather than
 * fail the access (counted in bound_exceeded) and shrink back as locks go.
 *
 * Locks. mapcache_lock() hands out a host pointer that stays valid until
 * mapcache_unlock(), whatever happens meanwhile. A range inside one bucket
 * shares the bucket's mapping and pins the bucket (lock_count); a range that
 * crosses buckets gets a dedicated mapping of exactly its pages, which lives
 * only as long as its lock. Every returned pointer is a key of the `locks`
 * table (pointer -> entry and count), so unlock is one hash lookup. Mappings
 * never overlap, so a pointer identifies its entry unambiguously.
 *
 * Why stale entries. mapcache_invalidate() (Xen's IOREQ_TYPE_INVALIDATE: pages
 * left the guest p2m) must drop every mapping it can, but a locked one is
 * memory a DMA may be using right now: unmapping it is the use-after-unmap
 * behind QEMU's "Locked DMA mapping while invalidating mapcache!". So a locked
 * bucket is taken out of the lookup table and marked stale instead: in-flight
 * users keep their pointer, no new lookup is served from it (the next lookup
 * of that index maps a fresh bucket, seeing the p2m as it is now), and it is
 * unmapped when its last lock is released.
 *
 * Bucket size. 1 MiB by default, as QEMU on 64-bit hosts: 256 pages is one
 * cheap mapper call that covers a typical DMA ring plus its buffers, small
 * enough that a locked bucket pins little, and large enough that the bucket
 * count (32768 at the default bound) keeps the hash table and LRU small.
 *
 * A page the mapper could not map stays invalid until the bucket is remapped:
 * an access that touches one, on a bucket nobody holds, remaps the bucket once
 * (the page may have been populated since, which Xen does not announce) before
 * failing with -EFAULT.
 *
 * Single-threaded: only the event-loop thread calls in.
 */
#include <glib.h>
#include <inttypes.h>
#include "xendm/common.h"
#include "xendm/log.h"
#include "xendm/mapcache.h"
#include "xendm/trace.h"

#define MC_PAGE_SHIFT 12 /* x86 guest frames are 4 KiB */
#define MC_PAGE_SIZE (UINT64_C(1) << MC_PAGE_SHIFT)
#define MC_PAGE_MASK (MC_PAGE_SIZE - 1)
#define MC_GPA_LIMIT (UINT64_C(1) << 52) /* MAXPHYADDR <= 52 (Intel SDM vol. 3 §4.1.4) */
#define MC_DEFAULT_BUCKET_SHIFT 20
#define MC_MAX_BUCKET_SHIFT 30
#define MC_DEFAULT_CACHE_BYTES (UINT64_C(32) << 30)
#define MC_BITS_PER_WORD 64

enum mc_entry_kind { MC_BUCKET, MC_DEDICATED };

struct mc_entry {
    enum mc_entry_kind kind;
    uint64_t index; /* bucket index: the hash key (buckets only) */
    uint64_t first_gfn;
    size_t nr_pages;
    uint8_t *addr;
    uint64_t *valid; /* bitmap of mapped pages */
    bool all_valid;  /* shortcut for the common case */
    bool stale;
    unsigned lock_count;
    GList lru_link; /* on mc->lru iff an unlocked live bucket */
};

/* One pointer handed out by mapcache_lock(), locked `count` times. */
struct mc_lock {
    struct mc_entry *entry;
    unsigned count;
};

struct mapcache {
    struct mapcache_mapper mapper;
    unsigned bucket_shift;
    uint64_t bucket_size;
    size_t pages_per_bucket;
    size_t max_buckets;
    GHashTable *buckets; /* &entry->index -> live bucket */
    GQueue lru;          /* unlocked live buckets, most recently used at the head */
    GHashTable *stale;   /* set of stale, still locked buckets */
    GHashTable *locks;   /* returned pointer -> struct mc_lock */
    struct mc_entry *last;
    int *map_err; /* scratch err[] for bucket maps */
    size_t nr_locked_buckets;
    size_t nr_dedicated;
    uint64_t hits, misses, evictions, map_failures, bound_exceeded;
};

/* ---- entries ---- */

static bool gpa_range_ok(uint64_t gpa, size_t len)
{
    return len <= MC_GPA_LIMIT && gpa <= MC_GPA_LIMIT - len;
}

static void entry_set_validity(struct mc_entry *e, const int *err)
{
    size_t words = (e->nr_pages + MC_BITS_PER_WORD - 1) / MC_BITS_PER_WORD;

    e->valid = g_new0(uint64_t, words);
    e->all_valid = true;
    for (size_t i = 0; i < e->nr_pages; i++) {
        if (err[i] == 0)
            e->valid[i / MC_BITS_PER_WORD] |= UINT64_C(1) << (i % MC_BITS_PER_WORD);
        else
            e->all_valid = false;
    }
}

static bool entry_page_valid(const struct mc_entry *e, size_t page)
{
    return (e->valid[page / MC_BITS_PER_WORD] >> (page % MC_BITS_PER_WORD)) & 1;
}

/* Whether every page under [offset, offset + len) of the entry is mapped; len > 0. */
static bool entry_range_valid(const struct mc_entry *e, uint64_t offset, uint64_t len)
{
    if (e->all_valid)
        return true;
    for (uint64_t page = offset >> MC_PAGE_SHIFT; page <= (offset + len - 1) >> MC_PAGE_SHIFT;
         page++) {
        if (!entry_page_valid(e, page))
            return false;
    }
    return true;
}

/* Maps `nr` frames into a new entry; NULL (counted) when the mapper mapped nothing. */
static struct mc_entry *entry_map(struct mapcache *mc, enum mc_entry_kind kind, uint64_t first_gfn,
                                  size_t nr, bool writable, int *err)
{
    void *addr;
    struct mc_entry *e;

    for (size_t i = 0; i < nr; i++)
        err[i] = -EFAULT; /* a mapper that forgets a slot must not make it valid */
    addr = mc->mapper.map(mc->mapper.opaque, first_gfn, nr, writable, err);
    TRACE(mapcache_map, "gfn=0x%" PRIx64 " nr=%zu addr=%p", first_gfn, nr, addr);
    if (!addr) {
        mc->map_failures++;
        log_guest_error("mapcache: mapping %zu frames at gfn 0x%" PRIx64 " failed", nr,
                        first_gfn);
        return NULL;
    }
    e = g_new0(struct mc_entry, 1);
    e->kind = kind;
    e->first_gfn = first_gfn;
    e->nr_pages = nr;
    e->addr = addr;
    e->lru_link.data = e;
    entry_set_validity(e, err);
    return e;
}

static void entry_destroy(struct mapcache *mc, struct mc_entry *e)
{
    TRACE(mapcache_unmap, "gfn=0x%" PRIx64 " nr=%zu addr=%p", e->first_gfn, e->nr_pages,
          (void *)e->addr);
    if (mc->last == e)
        mc->last = NULL;
    mc->mapper.unmap(mc->mapper.opaque, e->addr, e->nr_pages);
    g_free(e->valid);
    g_free(e);
}

/* ---- buckets ---- */

static size_t bucket_count(const struct mapcache *mc)
{
    return g_hash_table_size(mc->buckets) + g_hash_table_size(mc->stale);
}

/* Unmaps a live, unlocked bucket. */
static void bucket_drop(struct mapcache *mc, struct mc_entry *e)
{
    g_queue_unlink(&mc->lru, &e->lru_link);
    g_hash_table_remove(mc->buckets, &e->index);
    entry_destroy(mc, e);
}

static bool evict_lru_tail(struct mapcache *mc)
{
    GList *tail = g_queue_peek_tail_link(&mc->lru);

    if (!tail)
        return false;
    TRACE(mapcache_evict, "index=0x%" PRIx64, ((struct mc_entry *)tail->data)->index);
    bucket_drop(mc, tail->data);
    mc->evictions++;
    return true;
}

/* Brings the bucket count down to `limit` as far as unlocked buckets allow. */
static void shrink_to(struct mapcache *mc, size_t limit)
{
    while (bucket_count(mc) > limit && evict_lru_tail(mc))
        ;
}

static struct mc_entry *bucket_map(struct mapcache *mc, uint64_t index)
{
    struct mc_entry *e;

    mc->misses++;
    shrink_to(mc, mc->max_buckets - 1);
    if (bucket_count(mc) >= mc->max_buckets)
        mc->bound_exceeded++;
    e = entry_map(mc, MC_BUCKET, index << (mc->bucket_shift - MC_PAGE_SHIFT),
                  mc->pages_per_bucket, true, mc->map_err);
    if (!e)
        return NULL;
    e->index = index;
    g_hash_table_insert(mc->buckets, &e->index, e);
    g_queue_push_head_link(&mc->lru, &e->lru_link);
    mc->last = e;
    return e;
}

static void lru_touch(struct mapcache *mc, struct mc_entry *e)
{
    if (e->lock_count == 0 && mc->lru.head != &e->lru_link) {
        g_queue_unlink(&mc->lru, &e->lru_link);
        g_queue_push_head_link(&mc->lru, &e->lru_link);
    }
}

static struct mc_entry *bucket_lookup(struct mapcache *mc, uint64_t index)
{
    struct mc_entry *e = mc->last;

    if (!e || e->index != index) {
        e = g_hash_table_lookup(mc->buckets, &index);
        if (!e)
            return NULL;
        mc->last = e;
    }
    lru_touch(mc, e);
    return e;
}

/*
 * The live bucket `index` with every page under [offset, offset + len) mapped,
 * or NULL. A cached bucket with a hole there is remapped once if nobody holds it.
 */
static struct mc_entry *bucket_get(struct mapcache *mc, uint64_t index, uint64_t offset,
                                   uint64_t len)
{
    struct mc_entry *e = bucket_lookup(mc, index);

    if (e && entry_range_valid(e, offset, len)) {
        mc->hits++;
        return e;
    }
    if (e) {
        if (e->lock_count > 0)
            goto not_ram;
        bucket_drop(mc, e);
    }
    e = bucket_map(mc, index);
    if (e && entry_range_valid(e, offset, len))
        return e;
not_ram:
    log_guest_error("mapcache: gpa 0x%" PRIx64 "+0x%" PRIx64 " is not guest RAM",
                    (index << mc->bucket_shift) + offset, len);
    return NULL;
}

/* ---- locks ---- */

static void entry_hold(struct mapcache *mc, struct mc_entry *e)
{
    if (e->lock_count++ == 0 && e->kind == MC_BUCKET) {
        g_queue_unlink(&mc->lru, &e->lru_link);
        mc->nr_locked_buckets++;
    }
}

static void entry_release(struct mapcache *mc, struct mc_entry *e)
{
    if (--e->lock_count > 0)
        return;
    if (e->kind == MC_DEDICATED) {
        mc->nr_dedicated--;
        entry_destroy(mc, e);
        return;
    }
    mc->nr_locked_buckets--;
    if (e->stale) {
        g_hash_table_remove(mc->stale, e);
        entry_destroy(mc, e);
        return;
    }
    g_queue_push_head_link(&mc->lru, &e->lru_link);
    shrink_to(mc, mc->max_buckets); /* we may have gone past the bound while it was held */
}

static void *lock_record(struct mapcache *mc, struct mc_entry *e, uint8_t *ptr)
{
    struct mc_lock *rec = g_hash_table_lookup(mc->locks, ptr);

    if (!rec) {
        rec = g_new0(struct mc_lock, 1);
        rec->entry = e;
        g_hash_table_insert(mc->locks, ptr, rec);
    }
    rec->count++;
    entry_hold(mc, e);
    return ptr;
}

static void *lock_dedicated(struct mapcache *mc, uint64_t gpa, size_t len, bool writable)
{
    uint64_t first_gfn = gpa >> MC_PAGE_SHIFT;
    size_t nr = ((gpa + len - 1) >> MC_PAGE_SHIFT) - first_gfn + 1;
    int *err;
    struct mc_entry *e;

    /* A guest-sized length must not make us map more than the whole cache may hold. */
    if (nr / mc->pages_per_bucket > mc->max_buckets) {
        log_guest_error("mapcache: lock of 0x%zx bytes at 0x%" PRIx64 " is too large", len, gpa);
        return NULL;
    }
    mc->misses++;
    err = g_new(int, nr);
    e = entry_map(mc, MC_DEDICATED, first_gfn, nr, writable, err);
    g_free(err);
    if (!e)
        return NULL;
    if (!e->all_valid) {
        log_guest_error("mapcache: gpa 0x%" PRIx64 "+0x%zx is not guest RAM", gpa, len);
        entry_destroy(mc, e);
        return NULL;
    }
    mc->nr_dedicated++;
    return lock_record(mc, e, e->addr + (gpa & MC_PAGE_MASK));
}

void *mapcache_lock(struct mapcache *mc, uint64_t gpa, size_t len, bool writable)
{
    uint64_t index, offset;
    struct mc_entry *e;

    if (!mc || len == 0 || !gpa_range_ok(gpa, len)) {
        log_guest_error("mapcache: lock of gpa 0x%" PRIx64 "+0x%zx refused", gpa, len);
        return NULL;
    }
    index = gpa >> mc->bucket_shift;
    offset = gpa & (mc->bucket_size - 1);
    if (len > mc->bucket_size - offset)
        return lock_dedicated(mc, gpa, len, writable);
    /* Buckets are always mapped writable, so `writable` needs nothing more here. */
    e = bucket_get(mc, index, offset, len);
    if (!e)
        return NULL;
    return lock_record(mc, e, e->addr + offset);
}

void mapcache_unlock(struct mapcache *mc, void *ptr)
{
    struct mc_lock *rec;
    struct mc_entry *e;

    if (!mc || !ptr)
        return;
    rec = g_hash_table_lookup(mc->locks, ptr);
    if (!rec) {
        /* A device bug, not a guest action; still no reason to abort. */
        log_guest_error("mapcache: unlock of %p, which is not locked", ptr);
        return;
    }
    e = rec->entry;
    if (--rec->count == 0)
        g_hash_table_remove(mc->locks, ptr);
    entry_release(mc, e);
}

/* ---- copies ---- */

/*
 * Copies guest memory to `to_host` (a read) or from `from_host` (a write; to_host NULL), until
 * done or a byte that is not guest RAM; *done says how far it got.
 */
static int mapcache_copy(struct mapcache *mc, uint64_t gpa, uint8_t *to_host,
                         const uint8_t *from_host, size_t len, size_t *done)
{
    *done = 0;
    if (!mc || !gpa_range_ok(gpa, len)) {
        log_guest_error("mapcache: access to gpa 0x%" PRIx64 "+0x%zx refused", gpa, len);
        return -EFAULT;
    }
    while (*done < len) {
        uint64_t index = gpa >> mc->bucket_shift;
        uint64_t offset = gpa & (mc->bucket_size - 1);
        size_t chunk = XENDM_MIN(len - *done, mc->bucket_size - offset);
        struct mc_entry *e = bucket_get(mc, index, offset, chunk);

        if (!e)
            return -EFAULT;
        if (to_host)
            memcpy(to_host + *done, e->addr + offset, chunk);
        else
            memcpy(e->addr + offset, from_host + *done, chunk);
        gpa += chunk;
        *done += chunk;
    }
    return 0;
}

int mapcache_read(struct mapcache *mc, uint64_t gpa, void *buf, size_t len)
{
    uint8_t *dst = buf;
    size_t done;
    int ret;

    if (len == 0)
        return 0;
    ret = mapcache_copy(mc, gpa, dst, NULL, len, &done);
    if (ret < 0)
        memset(dst + done, 0xff, len - done); /* the unreadable part reads as a bus error */
    return ret;
}

int mapcache_write(struct mapcache *mc, uint64_t gpa, const void *buf, size_t len)
{
    size_t done;

    if (len == 0)
        return 0;
    return mapcache_copy(mc, gpa, NULL, buf, len, &done);
}

/* ---- invalidate, stats, life cycle ---- */

void mapcache_invalidate(struct mapcache *mc)
{
    GHashTableIter iter;
    gpointer value;

    if (!mc)
        return;
    TRACE(mapcache_invalidate, "buckets=%u locks=%u", g_hash_table_size(mc->buckets),
          g_hash_table_size(mc->locks));
    mc->last = NULL;
    g_hash_table_iter_init(&iter, mc->buckets);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        struct mc_entry *e = value;

        g_hash_table_iter_steal(&iter);
        if (e->lock_count > 0) {
            /* In-flight DMA holds it: keep the memory, serve no new lookup from it. */
            e->stale = true;
            g_hash_table_add(mc->stale, e);
        } else {
            g_queue_unlink(&mc->lru, &e->lru_link);
            entry_destroy(mc, e);
        }
    }
    /* Dedicated mappings need nothing: each is unmapped when its only lock is released. */
}

void mapcache_get_stats(const struct mapcache *mc, struct mapcache_stats *stats)
{
    memset(stats, 0, sizeof(*stats));
    if (!mc)
        return;
    stats->hits = mc->hits;
    stats->misses = mc->misses;
    stats->evictions = mc->evictions;
    stats->map_failures = mc->map_failures;
    stats->bound_exceeded = mc->bound_exceeded;
    stats->mapped_buckets = bucket_count(mc);
    stats->locked_buckets = mc->nr_locked_buckets;
    stats->stale_buckets = g_hash_table_size(mc->stale);
    stats->dedicated_mappings = mc->nr_dedicated;
}

struct mapcache *mapcache_new(const struct mapcache_mapper *mapper,
                              const struct mapcache_config *config)
{
    unsigned shift = config && config->bucket_shift ? config->bucket_shift
                                                    : MC_DEFAULT_BUCKET_SHIFT;
    size_t max_buckets = config ? config->max_buckets : 0;
    struct mapcache *mc;

    if (!mapper || !mapper->map || !mapper->unmap) {
        log_error("mapcache: no mapper");
        return NULL;
    }
    if (shift < MC_PAGE_SHIFT || shift > MC_MAX_BUCKET_SHIFT) {
        log_error("mapcache: bucket_shift %u outside %d..%d", shift, MC_PAGE_SHIFT,
                  MC_MAX_BUCKET_SHIFT);
        return NULL;
    }
    mc = g_new0(struct mapcache, 1);
    mc->mapper = *mapper;
    mc->bucket_shift = shift;
    mc->bucket_size = UINT64_C(1) << shift;
    mc->pages_per_bucket = (size_t)1 << (shift - MC_PAGE_SHIFT);
    mc->max_buckets = max_buckets ? max_buckets : (size_t)(MC_DEFAULT_CACHE_BYTES >> shift);
    mc->buckets = g_hash_table_new(g_int64_hash, g_int64_equal);
    g_queue_init(&mc->lru);
    mc->stale = g_hash_table_new(g_direct_hash, g_direct_equal);
    mc->locks = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    mc->map_err = g_new(int, mc->pages_per_bucket);
    return mc;
}

static void destroy_entries_of(struct mapcache *mc, GHashTable *table)
{
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init(&iter, table);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        g_hash_table_iter_steal(&iter);
        entry_destroy(mc, value);
    }
}

/* Shutdown: everything goes, locked or not; outstanding lock pointers die with it. */
void mapcache_free(struct mapcache *mc)
{
    GHashTableIter iter;
    gpointer value;

    if (!mc)
        return;
    g_hash_table_iter_init(&iter, mc->locks);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        struct mc_lock *rec = value;

        if (rec->entry->kind == MC_DEDICATED)
            entry_destroy(mc, rec->entry);
        g_hash_table_iter_remove(&iter);
    }
    destroy_entries_of(mc, mc->buckets);
    destroy_entries_of(mc, mc->stale);
    g_hash_table_destroy(mc->locks);
    g_hash_table_destroy(mc->buckets);
    g_hash_table_destroy(mc->stale);
    g_free(mc->map_err);
    g_free(mc);
}
