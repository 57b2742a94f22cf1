/*
 * make bench, figure 7: what a mapcache hit and a miss cost, in nanoseconds.
 *
 * The mapcache (xen-mapcache.c) runs with a fake mapper over a memfd, as in
 * tests/unit/test-mapcache.c: a map is one mmap of the bucket, an unmap one
 * munmap. On Xen a map is a privcmd hypercall that costs far more, so the
 * miss figure here is the mapcache's own overhead plus the cheapest mapper
 * there is; "mapper" is that mapper alone (map, touch a page, unmap), and
 * miss - mapper is what the mapcache adds on a miss.
 *
 *   hit_same:  8-byte mapcache_read in the bucket the last access used;
 *   hit_other: 8-byte reads cycling over 8 mapped buckets (the hash lookup);
 *   lock:      mapcache_lock + mapcache_unlock of 8 bytes in a mapped bucket;
 *   miss:      8-byte reads cycling over more buckets than max_buckets allows,
 *              so every access maps a bucket and evicts the least recently used;
 *   mapper:    the fake mapper's map + first touch + unmap of one bucket.
 *
 * Prints one line "hit_same=NS hit_other=NS lock=NS miss=NS mapper=NS" for
 * bench-ioreq, which runs this once per round.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "xendm/mapcache.h"

#define PAGE_SIZE 4096u
#define BUCKET_SHIFT 20
#define BUCKET_SIZE (UINT64_C(1) << BUCKET_SHIFT)
#define BUCKET_PAGES (BUCKET_SIZE / PAGE_SIZE)
#define RAM_BUCKETS 64u
#define RAM_SIZE (RAM_BUCKETS * BUCKET_SIZE)
#define MISS_MAX_BUCKETS 4u
#define HIT_BUCKETS 8u

struct fake_ram {
    int memfd;
};

static void *fake_map(void *opaque, uint64_t first_gfn, size_t nr, bool writable, int *err)
{
    struct fake_ram *f = opaque;
    int prot = PROT_READ | (writable ? PROT_WRITE : 0);

    if ((first_gfn + nr) * PAGE_SIZE > RAM_SIZE) {
        return NULL; /* err[] stays as the mapcache preset it: every page invalid */
    }
    void *p = mmap(NULL, nr * PAGE_SIZE, prot, MAP_SHARED, f->memfd,
                   (off_t)(first_gfn * PAGE_SIZE));
    if (p == MAP_FAILED) {
        return NULL;
    }
    for (size_t i = 0; i < nr; i++) {
        err[i] = 0;
    }
    return p;
}

static void fake_unmap(void *opaque, void *addr, size_t nr)
{
    munmap(addr, nr * PAGE_SIZE);
}

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* gpa of access i when cycling over `buckets` buckets, at a page that varies too. */
static uint64_t cycle_gpa(unsigned i, unsigned buckets)
{
    return (uint64_t)(i % buckets) * BUCKET_SIZE + (uint64_t)(i % BUCKET_PAGES) * PAGE_SIZE;
}

static double per_read_ns(struct mapcache *mc, unsigned n, unsigned buckets, bool *ok)
{
    uint64_t sink = 0, v;
    double t0 = now_ns();

    for (unsigned i = 0; i < n; i++) {
        if (mapcache_read(mc, buckets ? cycle_gpa(i, buckets) : 64, &v, sizeof(v)) != 0) {
            *ok = false;
        }
        sink += v;
    }
    double t1 = now_ns();
    /* The loads are real work: keep the compiler from dropping them. */
    __asm__ volatile("" : : "r"(sink));
    return (t1 - t0) / n;
}

static double per_lock_ns(struct mapcache *mc, unsigned n, bool *ok)
{
    double t0 = now_ns();

    for (unsigned i = 0; i < n; i++) {
        void *p = mapcache_lock(mc, 4096 + (i % 64) * 8, 8, false);
        if (p == NULL) {
            *ok = false;
            continue;
        }
        mapcache_unlock(mc, p);
    }
    return (now_ns() - t0) / n;
}

static double mapper_alone_ns(struct fake_ram *f, unsigned n, bool *ok)
{
    int err[BUCKET_PAGES];
    double t0 = now_ns();

    for (unsigned i = 0; i < n; i++) {
        volatile uint8_t *p = fake_map(f, (i % RAM_BUCKETS) * BUCKET_PAGES, BUCKET_PAGES, true,
                                       err);
        if (p == NULL) {
            *ok = false;
            continue;
        }
        (void)p[(i % BUCKET_PAGES) * PAGE_SIZE];
        fake_unmap(f, (void *)p, BUCKET_PAGES);
    }
    return (now_ns() - t0) / n;
}

int main(int argc, char **argv)
{
    unsigned hits = 2000000, misses = 20000;
    struct fake_ram ram;
    bool ok = true;

    if (argc > 1 && !strcmp(argv[1], "--quick")) {
        hits /= 20;
        misses /= 20;
    }
    ram.memfd = memfd_create("bench-guest-ram", MFD_CLOEXEC);
    if (ram.memfd < 0 || ftruncate(ram.memfd, RAM_SIZE) < 0) {
        perror("bench-mapcache: memfd");
        return 1;
    }
    struct mapcache_mapper mapper = { fake_map, fake_unmap, &ram };
    struct mapcache_config roomy = { .bucket_shift = BUCKET_SHIFT };
    struct mapcache_config tight = { .bucket_shift = BUCKET_SHIFT,
                                     .max_buckets = MISS_MAX_BUCKETS };
    struct mapcache *mc = mapcache_new(&mapper, &roomy);

    /* Warm: every bucket the hit loops touch is mapped, and its pages faulted in. */
    per_read_ns(mc, HIT_BUCKETS * BUCKET_PAGES, HIT_BUCKETS, &ok);
    double hit_same = per_read_ns(mc, hits, 0, &ok);
    double hit_other = per_read_ns(mc, hits, HIT_BUCKETS, &ok);
    double lock = per_lock_ns(mc, hits, &ok);
    mapcache_free(mc);

    mc = mapcache_new(&mapper, &tight);
    double miss = per_read_ns(mc, misses, RAM_BUCKETS, &ok);
    struct mapcache_stats st;
    mapcache_get_stats(mc, &st);
    mapcache_free(mc);
    double mapper_ns = mapper_alone_ns(&ram, misses, &ok);

    if (!ok || st.misses < misses) {
        fprintf(stderr, "bench-mapcache: an access failed or hit where a miss was due\n");
        return 1;
    }
    printf("hit_same=%.1f hit_other=%.1f lock=%.1f miss=%.1f mapper=%.1f\n", hit_same, hit_other,
           lock, miss, mapper_ns);
    close(ram.memfd);
    return 0;
}
