/*
 * Guest RAM the device model owns (VRAM), as qemu-xen keeps it (reference §4): frames of the
 * guest, populated by the device model right after the `-m` RAM (libxl passes -m = maxmem -
 * video RAM, so these frames are the video RAM of the domain's budget) and mapped once,
 * locked. A device exposes them at a BAR: Xen then moves the frames there (relocate_memory)
 * and the guest reads and writes them without any ioreq; withdrawn, they go back to their
 * home gfns and the BAR is served by ioreqs again. While exposed, Xen's dirty-VRAM log says
 * which pages the guest wrote (track_dirty_vram).
 *
 *   home gfn = end of the -m RAM as hvmloader sees it: -m below 0xF0000000 (Xen's default
 *              MMIO hole), else 4 GiB + what lies above the hole; then each block in turn,
 *              256 KiB aligned (QEMU's RAM block placement, so the p2m matches qemu-xen's)
 *
 * Without an accelerator that supports it (unit tests, fuzzers) the block is a plain
 * allocation of its own and never exposed: the device keeps serving its BAR by ioreqs.
 *
 * Save and restore: a device withdraws its block before its state is saved, so the guest's
 * memory image (libxc's) holds the frames at home; a device model started with -incoming
 * finds them populated there and does not populate them again (populate only adds missing
 * frames), then exposes them where the restored BAR says.
 */
#ifndef XENDM_GUEST_RAM_H
#define XENDM_GUEST_RAM_H

#include <stdbool.h>
#include <stdint.h>

struct machine;
struct guest_ram;

/* guest_ram_exposed_at() of a block at home. */
#define GUEST_RAM_HOME UINT64_MAX
/* Xen refuses to track more than 1 GiB of dirty VRAM (dm.c). */
#define GUEST_RAM_MAX_SIZE (UINT64_C(1) << 30)

/*
 * size bytes (a multiple of 4 KiB, at most GUEST_RAM_MAX_SIZE), zeroed when new; NULL when
 * Xen refuses to populate or map it. name is for logs.
 */
struct guest_ram *guest_ram_new(struct machine *m, const char *name, uint64_t size);
void guest_ram_free(struct guest_ram *r); /* NULL is a no-op; frames stay the guest's */
uint8_t *guest_ram_ptr(const struct guest_ram *r);
uint64_t guest_ram_size(const struct guest_ram *r);
/* Whether the block is guest frames (false: a plain allocation that cannot be exposed). */
bool guest_ram_is_guest_memory(const struct guest_ram *r);
/* The guest-physical address of the home frames, or GUEST_RAM_HOME for an allocation. */
uint64_t guest_ram_home(const struct guest_ram *r);
/* Where the guest sees the frames: a BAR address, or GUEST_RAM_HOME. */
uint64_t guest_ram_exposed_at(const struct guest_ram *r);

/*
 * Whether [gpa, gpa + size) may receive relocated frames: page-aligned, and clear of guest
 * RAM (below and above 4 GiB), of the device model's own blocks and of the APIC/HPET/BIOS
 * range 0xFEC00000-0xFFFFFFFF. A guest may program a BAR anywhere: relocating over its RAM
 * would replace that RAM, so such places keep the ioreq path.
 */
bool guest_ram_target_ok(struct machine *m, uint64_t gpa, uint64_t size);
/*
 * Moves the frames to gpa (withdrawing them first if exposed elsewhere). False, with the
 * frames at home, when the block is an allocation, the target is refused (logged,
 * rate-limited) or Xen refuses.
 */
bool guest_ram_expose(struct guest_ram *r, uint64_t gpa);
/* Moves the frames home (no-op at home); stops the dirty log first. */
void guest_ram_withdraw(struct guest_ram *r);

/*
 * While exposed: the pages the guest wrote since the last call, one bit a page (bitmap has
 * room for size / 4 KiB bits, unsigned long words, bit i of word w is page w * BITS + i).
 * The first call starts Xen's log and reports every page. 0, or -errno: -ENODATA (Xen has no
 * log for the range: redraw all), -ENOTSUP (not exposed, or no accelerator) or another.
 */
int guest_ram_collect_dirty(struct guest_ram *r, unsigned long *bitmap);
/* Stops Xen's log (track_dirty_vram with nr 0) if it runs. */
void guest_ram_stop_dirty(struct guest_ram *r);
bool guest_ram_dirty_active(const struct guest_ram *r);
/*
 * The device model wrote bytes [offset, offset + len) of the block: reported as modified
 * while the global dirty log runs (live migration), at the frames' current gfns.
 */
void guest_ram_mark_modified(struct guest_ram *r, uint64_t offset, uint64_t len);

#endif
