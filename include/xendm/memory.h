/*
 * Address spaces: the port space (64 KiB) and the guest-physical MMIO space.
 *
 * A device registers a region: a base, a size and read/write callbacks that
 * receive the offset into the region. Regions in one space never overlap;
 * lookup is a binary search over a sorted array, O(log n).
 *
 * Access sizes: the core calls a region's callbacks only with sizes between
 * its min_access and max_access, offsets aligned to that size. A wider guest
 * access is split into little-endian pieces (an `inl` on a byte-wide UART reads
 * four consecutive registers, as on real ISA hardware); a narrower or
 * misaligned read is widened and the bytes extracted; a narrower or misaligned
 * write that cannot be widened is dropped and logged. The parts of an access
 * that fall outside any region read all-ones and drop writes.
 *
 * Every region added is claimed from the accelerator (the ioreq server) via
 * the space's listener; a removed region is released. Devices never call Xen.
 */
#ifndef XENDM_MEMORY_H
#define XENDM_MEMORY_H

#include <stdbool.h>
#include <stdint.h>

struct region_ops {
    uint64_t (*read)(void *opaque, uint64_t offset, unsigned size);
    void (*write)(void *opaque, uint64_t offset, uint64_t value, unsigned size);
    unsigned min_access; /* 0 means 1 */
    unsigned max_access; /* 0 means 4 for ports, 8 for MMIO */
};

enum address_space_kind { ADDRESS_SPACE_IO, ADDRESS_SPACE_MMIO };

/* Told about every region that appears or disappears: the accelerator claims it. */
struct address_space_listener {
    void (*region_added)(void *opaque, enum address_space_kind kind, uint64_t start, uint64_t last);
    void (*region_removed)(void *opaque, enum address_space_kind kind, uint64_t start,
                           uint64_t last);
    void *opaque;
};

struct region;
struct address_space;

struct address_space *address_space_new(enum address_space_kind kind, const char *name);
void address_space_free(struct address_space *as); /* regions must be gone */
void address_space_set_listener(struct address_space *as,
                                const struct address_space_listener *listener);

/*
 * Adds [base, base + size). Returns NULL (and logs) when it overlaps an existing
 * region, is empty, or wraps the space. `name` is copied.
 */
struct region *region_add(struct address_space *as, const char *name, uint64_t base, uint64_t size,
                          const struct region_ops *ops, void *opaque);
/* Removes a region; NULL is a no-op, as for free(). */
void region_del(struct region *r);
/* region_del(*rp), then *rp = NULL: for a device that removes a region it may add again. */
void region_del_clear(struct region **rp);
/* Moves a region (a BAR being reprogrammed); false when the new place overlaps. */
bool region_move(struct region *r, uint64_t new_base);
uint64_t region_base(const struct region *r);
uint64_t region_size(const struct region *r);
const char *region_name(const struct region *r);

/*
 * Dispatch one access of `size` bytes (1, 2, 4 or 8) at `addr`. Values are
 * little-endian in the low `size` bytes. Unclaimed bytes read as 0xff.
 */
uint64_t address_space_read(struct address_space *as, uint64_t addr, unsigned size);
void address_space_write(struct address_space *as, uint64_t addr, uint64_t value, unsigned size);

/* The region containing addr, or NULL; for tests and `info mtree`-style dumps. */
const struct region *address_space_lookup(const struct address_space *as, uint64_t addr);
unsigned address_space_count(const struct address_space *as);

#endif
