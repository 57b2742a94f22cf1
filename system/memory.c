/*
 * Address spaces: the 64 KiB port space and the guest-physical MMIO space.
 *
 * Regions are kept in an array sorted by base; since they never overlap, the
 * region holding an address is the last one whose base is <= the address,
 * found by binary search. Accesses are dispatched one piece at a time and the
 * region is looked up again for every piece, so a device callback may add,
 * move or delete regions (its own included) in the middle of a split access.
 */
#include <glib.h>
#include <inttypes.h>

#include "xendm/common.h"
#include "xendm/log.h"
#include "xendm/memory.h"

#define IO_SPACE_SIZE 0x10000u

struct region {
    struct address_space *as;
    char *name;
    uint64_t base;
    uint64_t size;
    struct region_ops ops; /* min/max_access normalised */
    void *opaque;
};

struct address_space {
    enum address_space_kind kind;
    char *name;
    GPtrArray *regions; /* struct region *, sorted by base */
    struct address_space_listener listener; /* all NULL when none is installed */
};

static uint64_t region_last(const struct region *r)
{
    return r->base + r->size - 1;
}

struct address_space *address_space_new(enum address_space_kind kind, const char *name)
{
    struct address_space *as = g_new0(struct address_space, 1);

    as->kind = kind;
    as->name = g_strdup(name);
    as->regions = g_ptr_array_new();
    return as;
}

void address_space_free(struct address_space *as)
{
    if (as == NULL) {
        return;
    }
    /* Regions should be gone; a leftover one is a device that forgot its region_del(). */
    for (guint i = 0; i < as->regions->len; i++) {
        struct region *r = g_ptr_array_index(as->regions, i);
        log_warn("%s: region '%s' still registered at teardown", as->name, r->name);
        g_free(r->name);
        g_free(r);
    }
    g_ptr_array_free(as->regions, TRUE);
    g_free(as->name);
    g_free(as);
}

static void listener_added(struct address_space *as, const struct region *r)
{
    if (as->listener.region_added != NULL) {
        as->listener.region_added(as->listener.opaque, as->kind, r->base, region_last(r));
    }
}

static void listener_removed(struct address_space *as, const struct region *r)
{
    if (as->listener.region_removed != NULL) {
        as->listener.region_removed(as->listener.opaque, as->kind, r->base, region_last(r));
    }
}

/*
 * Installs (or with NULL removes) the listener. The regions that already
 * exist are replayed as additions, so an accelerator that comes up after the
 * machine is assembled still claims every region.
 */
void address_space_set_listener(struct address_space *as,
                                const struct address_space_listener *listener)
{
    if (listener == NULL) {
        memset(&as->listener, 0, sizeof(as->listener));
        return;
    }
    as->listener = *listener;
    for (guint i = 0; i < as->regions->len; i++) {
        listener_added(as, g_ptr_array_index(as->regions, i));
    }
}

/* Index of the first region whose base is > addr (regions->len when none). */
static guint first_above(const struct address_space *as, uint64_t addr)
{
    guint lo = 0, hi = as->regions->len;

    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        const struct region *r = g_ptr_array_index(as->regions, mid);
        if (r->base <= addr) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

const struct region *address_space_lookup(const struct address_space *as, uint64_t addr)
{
    guint idx = first_above(as, addr);
    const struct region *r;

    if (idx == 0) {
        return NULL;
    }
    r = g_ptr_array_index(as->regions, idx - 1);
    return addr <= region_last(r) ? r : NULL;
}

unsigned address_space_count(const struct address_space *as)
{
    return as->regions->len;
}

/* The region other than `self` that [base, last] would overlap, or NULL. */
static const struct region *range_overlaps(const struct address_space *as, uint64_t base,
                                           uint64_t last, const struct region *self)
{
    guint idx = first_above(as, last);

    /* Only the region just below `last` can overlap: the ones before it end below its base. */
    while (idx > 0) {
        const struct region *r = g_ptr_array_index(as->regions, idx - 1);
        if (r != self) {
            return region_last(r) >= base ? r : NULL;
        }
        idx--;
    }
    return NULL;
}

static bool range_fits_space(const struct address_space *as, uint64_t base, uint64_t size)
{
    if (size == 0 || base + (size - 1) < base) {
        return false;
    }
    return as->kind != ADDRESS_SPACE_IO || (base < IO_SPACE_SIZE && size <= IO_SPACE_SIZE - base);
}

static bool is_access_size(unsigned size)
{
    return size == 1 || size == 2 || size == 4 || size == 8;
}

static bool normalise_ops(const struct address_space *as, const struct region_ops *in,
                          struct region_ops *out)
{
    *out = *in;
    if (out->min_access == 0) {
        out->min_access = 1;
    }
    if (out->max_access == 0) {
        out->max_access = as->kind == ADDRESS_SPACE_IO ? 4 : 8;
    }
    return is_access_size(out->min_access) && is_access_size(out->max_access) &&
           out->min_access <= out->max_access;
}

static void insert_sorted(struct address_space *as, struct region *r)
{
    g_ptr_array_insert(as->regions, (gint)first_above(as, r->base), r);
}

struct region *region_add(struct address_space *as, const char *name, uint64_t base, uint64_t size,
                          const struct region_ops *ops, void *opaque)
{
    struct region_ops norm;
    struct region *r;

    /*
     * Rate-limited: a region can follow guest writes (a BAR enabled at a base the guest chose),
     * so the guest can make this fail in a loop. The caller reports its own error too.
     */
    if (!range_fits_space(as, base, size)) {
        log_guest_error("%s: region '%s' [0x%" PRIx64 " +0x%" PRIx64 "] is empty or outside"
                        " the space", as->name, name, base, size);
        return NULL;
    }
    if (ops == NULL || !normalise_ops(as, ops, &norm)) {
        log_error("%s: region '%s' has invalid access sizes", as->name, name);
        return NULL;
    }
    const struct region *other = range_overlaps(as, base, base + size - 1, NULL);
    if (other != NULL) {
        log_guest_error("%s: region '%s' [0x%" PRIx64 "-0x%" PRIx64 "] overlaps '%s'", as->name,
                        name, base, base + size - 1, other->name);
        return NULL;
    }
    r = g_new0(struct region, 1);
    r->as = as;
    r->name = g_strdup(name);
    r->base = base;
    r->size = size;
    r->ops = norm;
    r->opaque = opaque;
    insert_sorted(as, r);
    listener_added(as, r);
    return r;
}

void region_del(struct region *r)
{
    if (r == NULL) {
        return;
    }
    g_ptr_array_remove(r->as->regions, r);
    listener_removed(r->as, r);
    g_free(r->name);
    g_free(r);
}

void region_del_clear(struct region **rp)
{
    region_del(*rp);
    *rp = NULL;
}

bool region_move(struct region *r, uint64_t new_base)
{
    struct address_space *as = r->as;

    if (new_base == r->base) {
        return true;
    }
    if (!range_fits_space(as, new_base, r->size) ||
        range_overlaps(as, new_base, new_base + r->size - 1, r) != NULL) {
        /* A BAR the guest reprograms: it can fail this in a loop, so rate-limited. */
        log_guest_error("%s: cannot move region '%s' to 0x%" PRIx64, as->name, r->name,
                        new_base);
        return false;
    }
    g_ptr_array_remove(as->regions, r);
    listener_removed(as, r);
    r->base = new_base;
    insert_sorted(as, r);
    listener_added(as, r);
    return true;
}

uint64_t region_base(const struct region *r)
{
    return r->base;
}

uint64_t region_size(const struct region *r)
{
    return r->size;
}

const char *region_name(const struct region *r)
{
    return r->name;
}

/* ---- dispatch ---- */

/*
 * The widest access a region accepts at `offset` for `len` remaining bytes:
 * a power of two no wider than max_access or len, to which offset is aligned.
 * A result below min_access means the piece must be widened.
 */
static unsigned natural_width(const struct region *r, uint64_t offset, uint64_t len)
{
    unsigned width = r->ops.max_access;

    while (width > 1 && (width > len || (offset & (width - 1)) != 0)) {
        width /= 2;
    }
    return width;
}

/*
 * Reads one piece of at most `len` bytes at `offset` inside r. Stores the
 * bytes at `out` and returns how many were produced (>= 1).
 */
static uint64_t region_read_piece(const struct region *r, uint64_t offset, uint64_t len,
                                  uint8_t *out)
{
    unsigned width = natural_width(r, offset, len);
    uint64_t start = offset, skip = 0, take;
    uint64_t value;

    if (width < r->ops.min_access) {
        /* Widen: read the aligned min_access unit around offset and keep the wanted bytes. */
        width = r->ops.min_access;
        start = offset & ~(uint64_t)(width - 1);
        skip = offset - start;
    }
    take = XENDM_MIN(len, width - skip);
    if (start + width > r->size || r->ops.read == NULL) {
        memset(out, 0xff, take);
        return take;
    }
    value = r->ops.read(r->opaque, start, width) & all_ones(width);
    for (uint64_t i = 0; i < take; i++) {
        out[i] = (uint8_t)(value >> (8 * (skip + i)));
    }
    return take;
}

static uint64_t region_write_piece(const struct region *r, uint64_t offset, uint64_t len,
                                   const uint8_t *in)
{
    unsigned width = natural_width(r, offset, len);
    uint64_t value = 0;

    if (width < r->ops.min_access) {
        /*
         * Writing part of a wider register would need a read-modify-write, which
         * has side effects on real devices: drop these bytes instead.
         */
        uint64_t start = offset & ~(uint64_t)(r->ops.min_access - 1);
        uint64_t take = XENDM_MIN(len, r->ops.min_access - (offset - start));
        log_guest_error("%s: dropped %" PRIu64 "-byte write at offset 0x%" PRIx64
                        " (needs %u-byte accesses)",
                        r->name, take, offset, r->ops.min_access);
        return take;
    }
    for (unsigned i = 0; i < width; i++) {
        value |= (uint64_t)in[i] << (8 * i);
    }
    if (r->ops.write != NULL) {
        r->ops.write(r->opaque, offset, value, width);
    }
    return width;
}

/*
 * Bytes at `addr` (at most `len`) that belong to no region: up to the next
 * region's base, or the rest when there is none.
 */
static uint64_t unclaimed_span(const struct address_space *as, uint64_t addr, uint64_t len)
{
    guint idx = first_above(as, addr);

    if (idx < as->regions->len) {
        const struct region *next = g_ptr_array_index(as->regions, idx);
        return XENDM_MIN(len, next->base - addr);
    }
    return len;
}

/* Clips one step of an access to the region holding addr, or to the unclaimed gap. */
static const struct region *access_step(const struct address_space *as, uint64_t addr,
                                        uint64_t len, uint64_t *step_len)
{
    const struct region *r = address_space_lookup(as, addr);

    if (r == NULL) {
        *step_len = unclaimed_span(as, addr, len);
        return NULL;
    }
    *step_len = XENDM_MIN(len, region_last(r) - addr + 1);
    return r;
}

static bool access_size_ok(const struct address_space *as, unsigned size)
{
    if (size >= 1 && size <= 8) {
        return true;
    }
    log_guest_error("%s: access of invalid size %u", as->name, size);
    return false;
}

uint64_t address_space_read(struct address_space *as, uint64_t addr, unsigned size)
{
    uint8_t bytes[8];
    uint64_t done = 0, value = 0;

    if (!access_size_ok(as, size)) {
        return UINT64_MAX;
    }
    while (done < size) {
        uint64_t pos = addr + done, step;
        const struct region *r;

        if (pos < addr) { /* wrapped past the top of the space */
            memset(bytes + done, 0xff, size - done);
            break;
        }
        r = access_step(as, pos, size - done, &step);
        if (r == NULL) {
            memset(bytes + done, 0xff, step);
        } else {
            step = region_read_piece(r, pos - r->base, step, bytes + done);
        }
        done += step;
    }
    for (unsigned i = 0; i < size; i++) {
        value |= (uint64_t)bytes[i] << (8 * i);
    }
    return value;
}

void address_space_write(struct address_space *as, uint64_t addr, uint64_t value, unsigned size)
{
    uint8_t bytes[8];
    uint64_t done = 0;

    if (!access_size_ok(as, size)) {
        return;
    }
    for (unsigned i = 0; i < size; i++) {
        bytes[i] = (uint8_t)(value >> (8 * i));
    }
    while (done < size) {
        uint64_t pos = addr + done, step;
        const struct region *r;

        if (pos < addr) {
            break;
        }
        r = access_step(as, pos, size - done, &step);
        if (r != NULL) {
            step = region_write_piece(r, pos - r->base, step, bytes + done);
        }
        done += step;
    }
}
