/*
 * The mapcache: guest memory as the device model sees it, through foreign
 * mappings made by a mapper it is given (Xen's xenforeignmemory in xendm, a
 * plain buffer in the unit tests). It knows nothing of Xen.
 *
 * Guest-physical space is cut into buckets (1 MiB by default). A bucket is
 * mapped whole on first use; a page the mapper could not map is remembered as
 * invalid, and an access touching it fails with -EFAULT (the device then acts
 * as hardware does on a bus error) instead of faulting the process.
 *
 * The number of mapped buckets is bounded (max_buckets); when the bound is
 * reached, the least recently used bucket that no one has locked is unmapped.
 *
 * Two ways to reach memory:
 *  - copies: mapcache_read()/mapcache_write() of any length, across page and
 *    bucket boundaries;
 *  - locked pointers: mapcache_lock() gives a host pointer to a guest range
 *    that stays valid until mapcache_unlock(), whatever else happens (eviction,
 *    invalidate): DMA in flight holds one. A range within one bucket shares the
 *    bucket's mapping; a range that crosses buckets gets a dedicated mapping.
 *
 * mapcache_invalidate() (Xen's INVALIDATE: pages left the p2m) unmaps every
 * bucket nobody holds; a locked bucket is marked stale and unmapped when its
 * last lock is released, so in-flight DMA never loses its memory, and no new
 * lookup is served from a stale bucket.
 *
 * Single-threaded: called only from the event-loop thread.
 */
#ifndef XENDM_MAPCACHE_H
#define XENDM_MAPCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mapcache_mapper {
    /*
     * Map `nr` guest frames starting at `first_gfn` contiguously. err[i] is set
     * to 0 or -errno for each page. Returns the address of the mapping (pages
     * with an error are inaccessible in it) or NULL when nothing was mapped.
     */
    void *(*map)(void *opaque, uint64_t first_gfn, size_t nr, bool writable, int *err);
    void (*unmap)(void *opaque, void *addr, size_t nr);
    void *opaque;
};

struct mapcache_config {
    unsigned bucket_shift; /* log2 of the bucket size; 0 means 20 (1 MiB) */
    size_t max_buckets;    /* 0 means 32 GiB worth of buckets */
};

struct mapcache_stats {
    uint64_t hits, misses, evictions, map_failures;
    size_t mapped_buckets, locked_buckets, stale_buckets, dedicated_mappings;
    /* Times a bucket was mapped beyond max_buckets because every mapped one was locked. */
    uint64_t bound_exceeded;
};

struct mapcache;

struct mapcache *mapcache_new(const struct mapcache_mapper *mapper,
                              const struct mapcache_config *config);
void mapcache_free(struct mapcache *mc);

/*
 * 0, or -EFAULT when any byte is not guest RAM; a failed write may be partial.
 * A failed read fills the bytes it could not read with all-ones (what a bus
 * error reads as). len 0 always succeeds; mc NULL (no guest memory) fails.
 */
int mapcache_read(struct mapcache *mc, uint64_t gpa, void *buf, size_t len);
int mapcache_write(struct mapcache *mc, uint64_t gpa, const void *buf, size_t len);

/*
 * A pointer to `len` contiguous bytes at gpa, held until mapcache_unlock(); NULL on failure
 * (len 0, any page not guest RAM). Unlock each returned pointer once per lock.
 */
void *mapcache_lock(struct mapcache *mc, uint64_t gpa, size_t len, bool writable);
void mapcache_unlock(struct mapcache *mc, void *ptr);

void mapcache_invalidate(struct mapcache *mc);
void mapcache_get_stats(const struct mapcache *mc, struct mapcache_stats *stats);

#endif
