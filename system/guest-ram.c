/*
 * Guest RAM the device model owns (include/xendm/guest-ram.h). The Xen calls are the
 * accelerator's (accel_ops ram_*); this file keeps the layout, the checks on guest-chosen
 * addresses and where each block is.
 */
#include "xendm/guest-ram.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include "xendm/log.h"
#include "xendm/machine.h"
#include "xendm/trace.h"

#define PAGE_SHIFT 12
#define PAGE_SIZE (UINT64_C(1) << PAGE_SHIFT)
#define GIB (UINT64_C(1) << 30)
/* Xen's default start of the MMIO hole below 4 GiB (HVM_BELOW_4G_RAM_END). */
#define LOWMEM_LIMIT UINT64_C(0xf0000000)
/* IOAPIC, HPET, LAPIC and the BIOS image: never a place for relocated frames. */
#define PLATFORM_RESERVED_START UINT64_C(0xfec00000)
#define FOUR_GIB (UINT64_C(1) << 32)
/* QEMU places each RAM block at an offset aligned to 64 pages (its dirty bitmap words). */
#define BLOCK_ALIGN (UINT64_C(64) << PAGE_SHIFT)
/* Guest-physical addresses Xen accepts (52 bits, as dm.c checks gfns). */
#define GPA_LIMIT (UINT64_C(1) << 52)

struct guest_ram {
    struct machine *m;
    char *name;
    uint8_t *ptr;
    uint64_t size;
    uint64_t home;       /* GUEST_RAM_HOME: a plain allocation */
    uint64_t exposed_at; /* GUEST_RAM_HOME: at home */
    bool dirty_active;
};

/* Where the -m RAM ends as libxl and hvmloader lay it out, i.e. where owned blocks start. */
static uint64_t ram_top(const struct machine *m)
{
    if (m->ram_size <= LOWMEM_LIMIT) {
        return m->ram_size;
    }
    return FOUR_GIB + (m->ram_size - LOWMEM_LIMIT);
}

static bool overlaps(uint64_t a, uint64_t a_len, uint64_t b, uint64_t b_len)
{
    return a < b + b_len && b < a + a_len;
}

bool guest_ram_target_ok(struct machine *m, uint64_t gpa, uint64_t size)
{
    uint64_t low = XENDM_MIN(m->ram_size, LOWMEM_LIMIT);
    uint64_t owned_start = ram_top(m);

    if (size == 0 || (gpa | size) & (PAGE_SIZE - 1) || gpa >= GPA_LIMIT ||
        size > GPA_LIMIT - gpa) {
        return false;
    }
    if (overlaps(gpa, size, 0, low) ||
        overlaps(gpa, size, PLATFORM_RESERVED_START, FOUR_GIB - PLATFORM_RESERVED_START)) {
        return false;
    }
    if (m->ram_size > LOWMEM_LIMIT && overlaps(gpa, size, FOUR_GIB, m->ram_size - LOWMEM_LIMIT)) {
        return false;
    }
    return m->dm_ram_end <= owned_start ||
           !overlaps(gpa, size, owned_start, m->dm_ram_end - owned_start);
}

static bool accel_has_ram(const struct machine *m)
{
    const struct accel_ops *a = m ? m->accel : NULL;

    return a && a->ram_populate && a->ram_relocate && a->ram_track_dirty && m->mapcache;
}

/* Populates the block's frames at the next home and maps them, locked. */
static bool ram_from_guest(struct guest_ram *r)
{
    struct machine *m = r->m;
    uint64_t start = XENDM_MAX(m->dm_ram_end, ram_top(m));

    start = (start + BLOCK_ALIGN - 1) & ~(BLOCK_ALIGN - 1);
    if (start >= GPA_LIMIT || r->size > GPA_LIMIT - start) {
        return false;
    }
    if (!m->accel->ram_populate(m->accel_opaque, start >> PAGE_SHIFT, r->size >> PAGE_SHIFT)) {
        log_error("%s: cannot populate %" PRIu64 " KiB of guest RAM at 0x%" PRIx64, r->name,
                  r->size >> 10, start);
        return false;
    }
    r->ptr = mapcache_lock(m->mapcache, start, r->size, true);
    if (!r->ptr) {
        log_error("%s: cannot map its guest RAM at 0x%" PRIx64, r->name, start);
        return false;
    }
    r->home = start;
    m->dm_ram_end = start + r->size;
    TRACE(guest_ram, "%s home=0x%" PRIx64 " size=0x%" PRIx64, r->name, start, r->size);
    return true;
}

struct guest_ram *guest_ram_new(struct machine *m, const char *name, uint64_t size)
{
    struct guest_ram *r;

    if (size == 0 || (size & (PAGE_SIZE - 1)) || size > GUEST_RAM_MAX_SIZE) {
        return NULL;
    }
    r = g_new0(struct guest_ram, 1);
    r->m = m;
    r->name = g_strdup(name);
    r->size = size;
    r->home = GUEST_RAM_HOME;
    r->exposed_at = GUEST_RAM_HOME;
    if (accel_has_ram(m)) {
        if (!ram_from_guest(r)) {
            guest_ram_free(r);
            return NULL;
        }
        return r;
    }
    /* An allocation of its own, so that ASan sees every overrun of it (fuzz-vga). */
    r->ptr = g_try_malloc0(size);
    if (!r->ptr) {
        guest_ram_free(r);
        return NULL;
    }
    return r;
}

void guest_ram_free(struct guest_ram *r)
{
    if (!r) {
        return;
    }
    if (r->home == GUEST_RAM_HOME) {
        g_free(r->ptr);
    } else if (r->ptr) {
        /* The frames stay in the guest (the domain is going, or a restore reuses them). */
        mapcache_unlock(r->m->mapcache, r->ptr);
    }
    g_free(r->name);
    g_free(r);
}

uint8_t *guest_ram_ptr(const struct guest_ram *r)
{
    return r->ptr;
}

uint64_t guest_ram_size(const struct guest_ram *r)
{
    return r->size;
}

bool guest_ram_is_guest_memory(const struct guest_ram *r)
{
    return r->home != GUEST_RAM_HOME;
}

uint64_t guest_ram_home(const struct guest_ram *r)
{
    return r->home;
}

uint64_t guest_ram_exposed_at(const struct guest_ram *r)
{
    return r->exposed_at;
}

static bool relocate(struct guest_ram *r, uint64_t from, uint64_t to)
{
    const struct accel_ops *a = r->m->accel;

    TRACE(guest_ram, "%s 0x%" PRIx64 " -> 0x%" PRIx64, r->name, from, to);
    return a->ram_relocate(r->m->accel_opaque, from >> PAGE_SHIFT, to >> PAGE_SHIFT,
                           r->size >> PAGE_SHIFT, from != r->home, to != r->home);
}

void guest_ram_withdraw(struct guest_ram *r)
{
    if (r->exposed_at == GUEST_RAM_HOME) {
        return;
    }
    /* Xen logs by gfn: a log of the old place would say nothing about the new one. */
    guest_ram_stop_dirty(r);
    if (!relocate(r, r->exposed_at, r->home)) {
        /* The frames stay where they are; nothing else may be placed over them. */
        log_error("%s: moving the frames back from 0x%" PRIx64 " failed", r->name,
                  r->exposed_at);
        return;
    }
    r->exposed_at = GUEST_RAM_HOME;
}

bool guest_ram_expose(struct guest_ram *r, uint64_t gpa)
{
    if (r->home == GUEST_RAM_HOME) {
        return false;
    }
    if (gpa == r->exposed_at) {
        return true;
    }
    guest_ram_withdraw(r);
    if (r->exposed_at != GUEST_RAM_HOME) {
        return false;
    }
    if (!guest_ram_target_ok(r->m, gpa, r->size)) {
        log_guest_error("%s: 0x%" PRIx64 "+0x%" PRIx64 " is not in the MMIO hole: served by "
                        "ioreqs", r->name, gpa, r->size);
        return false;
    }
    if (!relocate(r, r->home, gpa)) {
        log_guest_error("%s: Xen refused to move the frames to 0x%" PRIx64, r->name, gpa);
        return false;
    }
    r->exposed_at = gpa;
    return true;
}

int guest_ram_collect_dirty(struct guest_ram *r, unsigned long *bitmap)
{
    int rc;

    if (r->exposed_at == GUEST_RAM_HOME) {
        return -ENOTSUP;
    }
    rc = r->m->accel->ram_track_dirty(r->m->accel_opaque, r->exposed_at >> PAGE_SHIFT,
                                      (uint32_t)(r->size >> PAGE_SHIFT), bitmap);
    /* Xen keeps its log running whatever the outcome: stop it when nobody watches. */
    r->dirty_active = true;
    return rc;
}

void guest_ram_stop_dirty(struct guest_ram *r)
{
    if (!r->dirty_active) {
        return;
    }
    r->dirty_active = false;
    r->m->accel->ram_track_dirty(r->m->accel_opaque, 0, 0, NULL);
}

bool guest_ram_dirty_active(const struct guest_ram *r)
{
    return r->dirty_active;
}

void guest_ram_mark_modified(struct guest_ram *r, uint64_t offset, uint64_t len)
{
    uint64_t base;

    if (!r->m || !r->m->dirty_log || r->home == GUEST_RAM_HOME || offset >= r->size) {
        return;
    }
    base = r->exposed_at != GUEST_RAM_HOME ? r->exposed_at : r->home;
    machine_mark_dirty(r->m, base + offset, (size_t)XENDM_MIN(len, r->size - offset));
}
