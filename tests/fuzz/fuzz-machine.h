/*
 * The in-process machine the fuzz targets drive: xendm's own devices assembled from a command
 * line exactly as main does (options_parse + xenfv_assemble), over fake guest RAM (a mapcache
 * with a mapper on a buffer whose holes are ASan-poisoned) and a fake accelerator that checks
 * every call the machine makes to it.
 *
 * The fake accelerator plays Xen's side of every call (reference §2-§4): it keeps Xen's view
 * (ISA and PCI INTx levels, link routes, claimed port/MMIO ranges and SBDFs, the ROM lock) and
 * refuses what Xen would refuse or a correct device model would never ask.
 *
 * It also holds the interpreter of the ioreq "program" that fuzz-ioreq and fuzz-vmstate feed it:
 * a byte string decoded into PIO, REP INS/OUTS, MMIO, REP MOVS/STOS, PCI_CONFIG, buffered ring
 * entries, INVALIDATE, TIMEOFFSET, raw 32-byte ioreqs, accesses relative to a PCI BAR and
 * save/load round trips, each served through the shared-slot protocol (ioreq_service_slot) as
 * accel/xen does. The format is in fuzz-machine.c; tests/fuzz/gen-seeds.c writes meaningful
 * programs with the encoders below.
 *
 * Every check that fails calls fuzz_fail(), which prints the reason and aborts: libFuzzer then
 * saves the input as a crash. A check with a name (FUZZ_CHECK_NAMED) can be turned into a
 * counted warning with FUZZ_TOLERATE=name1,name2 (or "all"), so that a run can go on past a
 * finding already reported; CI sets nothing, so every check is fatal there.
 */
#ifndef XENDM_FUZZ_MACHINE_H
#define XENDM_FUZZ_MACHINE_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fuzz-target.h"
#include "xendm/ioreq.h"
#include "xendm/machine.h"

/* Little-endian operands read from a fuzz input; past its end they read as zero. */
struct fuzz_cursor {
    const uint8_t *p;
    size_t left;
};

static inline uint64_t fuzz_take(struct fuzz_cursor *c, unsigned width)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < width; i++) {
        uint64_t byte = 0;
        if (c->left > 0) {
            byte = *c->p++;
            c->left--;
        }
        v |= byte << (8 * i);
    }
    return v;
}

/* 1 MiB of guest RAM with the legacy VGA hole (0xA0000-0xBFFFF) left unmapped. */
#define FUZZ_RAM_SIZE (1024u * 1024u)
#define FUZZ_HOLE_START 0xa0000u
#define FUZZ_HOLE_END 0xc0000u

/* Which devices the machine has; fuzz-ioreq uses the full set (fuzz_machine_full_config). */
struct fuzz_machine_config {
    unsigned serials;  /* COM1.. (0..4), each on a null chardev */
    bool debugcon;     /* isa-debugcon at 0x402 on a null chardev */
    bool testdev;      /* pc-testdev (its MMIO window and IRQ ports) */
    /*
     * xendm-testdev at 00:03.0 (4 MSI vectors, 4 MSI-X entries), at 00:04.0 (32 MSI vectors,
     * 65 MSI-X entries: a two-qword PBA) and at 00:04.1 (INTx only, sharing INTA of slot 4).
     */
    bool pci_testdevs;
    /*
     * IDE drives on piix3-ide (00:01.1, always there): a 1 MiB writable disk (primary master,
     * "ide0-hd0"), a read-only disk of 67 sectors (primary slave, "ide0-hd1"), a CD-ROM with a
     * small ISO 9660 image (secondary master, "ide1-cd0") and an empty CD-ROM drive
     * (secondary slave, "ide1-cd1"). The images are temporary files of the process, restored
     * before each machine so that inputs stay independent.
     */
    bool drives;
    /*
     * Block requests complete on worker threads. By default the machine drains every drive
     * after each program step, so that completions run on the fuzzing thread at a fixed
     * point and a run is deterministic; a target that drains where its input says (fuzz-ide)
     * sets this and calls fuzz_machine_drain() itself.
     */
    bool manual_drain;
    /*
     * virtio functions: virtio-blk-pci at 00:05.0 on the read-only disk (needs drives),
     * virtio-rng-pci at 00:06.0, virtio-net-pci at 00:07.0 on a UDP socket backend whose frames
     * go to the discard port, virtio-serial-pci at 00:08.0 with a virtconsole on a null chardev.
     * An enabled virtqueue keeps its rings locked in the mapcache, so the check that no lock
     * outlives its request is made only after a reset then.
     */
    bool virtio;
    /* rtl8139 at 00:09.0 and e1000 at 00:0a.0, each on a UDP socket backend (discard port),
     * without option ROMs. */
    bool nics;
    /*
     * The standard VGA (-device VGA) at 00:0b.0 with libxl's 16 MiB of VRAM and no option ROM
     * (romfile= empty: nothing is read per input): its legacy ports 0x3B0-0x3DF and
     * 0x1CE-0x1D0, the window 0xA0000-0xBFFFF, the VRAM BAR and the MMIO BAR.
     */
    bool vga;
};

extern const struct fuzz_machine_config fuzz_machine_full_config;

#define FUZZ_PCI_SLOTS 32
#define FUZZ_PCI_PINS 4
#define FUZZ_PCI_LINKS 4
#define FUZZ_SBDFS 256 /* segment 0, bus 0 */
/* The option ROM area the platform device locks (reference §4, set_mem_type). */
#define FUZZ_ROM_FIRST_GFN 0xc0u
#define FUZZ_ROM_PAGES 0x40u

/* One claimed port or MMIO range, inclusive as Xen takes it. */
struct fuzz_range {
    uint64_t start, last;
};

/* What the fake accelerator saw; checked against the machine after every step. */
struct fuzz_accel_record {
    bool isa_level[MACHINE_ISA_IRQS];
    /* Xen keeps one bit per slot and pin (hvm_irq->pci_intx), not a count of sources. */
    bool intx_level[FUZZ_PCI_SLOTS][FUZZ_PCI_PINS];
    uint8_t link_route[FUZZ_PCI_LINKS]; /* 0: disabled, Xen's state at domain creation */
    bool rom_locked;
    bool sbdf_claimed[FUZZ_SBDFS];
    GArray *claimed[2];    /* struct fuzz_range, by enum address_space_kind */
    uint64_t calls;        /* every accel_ops call */
    uint64_t shutdowns;
    uint64_t shutdown_reasons[SHUTDOWN_CRASH + 1];
    uint64_t msis;
    uint64_t intx_changes;
    uint64_t link_route_changes;
    uint64_t mem_type_calls;
    uint64_t range_claims; /* map_io_range calls (the unmaps balance them) */
    uint64_t s3_entries;   /* set_acpi_sleep_state(3): the machine suspends itself */
};

struct fuzz_machine {
    struct machine *m;
    struct mapcache *mc;
    uint8_t *ram;
    GHashTable *live_maps;   /* host address -> page count, of mappings not yet unmapped */
    struct fuzz_accel_record accel;
    struct ioreq_stats stats;
    struct xenabi_ioreq slot;                  /* the vCPU's slot of the shared page */
    struct xenabi_buffered_iopage *buf_page;   /* the buffered ring */
    unsigned save_loads;                       /* FUZZ_OP_SAVE_LOAD steps run */
    bool manual_drain;                         /* from the config */
    bool ring_locks;                           /* config.virtio: enabled queues hold rings */
    /*
     * The device state came from a stream (fuzz-vmstate): what a guest saved may leave its
     * own disk waiting for ever; only the checks that guard xendm itself apply then.
     */
    bool state_from_stream;
};

/* Never returns: prints "fuzz check failed: ..." and aborts. */
#define FUZZ_CHECK(cond, ...)                                                                     \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fuzz_fail(__VA_ARGS__);                                                               \
        }                                                                                         \
    } while (0)

/* Fails as FUZZ_CHECK does unless FUZZ_TOLERATE names `name`: then counts it and goes on. */
void fuzz_fail_named(const char *name, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
#define FUZZ_CHECK_NAMED(name, cond, ...)                                                         \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fuzz_fail_named(name, __VA_ARGS__);                                                   \
        }                                                                                         \
    } while (0)
/* How many failures of tolerated checks were counted so far (all names). */
uint64_t fuzz_tolerated_count(void);

/*
 * Quiets xendm's logging (guest errors are the normal case here) unless FUZZ_VERBOSE is set,
 * and makes GLib warnings and criticals fatal.
 */
void fuzz_quiet_logs(void);

/* Builds a machine; aborts if the fixed command line is refused (that is a bug). */
struct fuzz_machine *fuzz_machine_new(const struct fuzz_machine_config *cfg);
/* Frees it and checks that nothing leaked into the fakes: mappings, raised ISA lines. */
void fuzz_machine_free(struct fuzz_machine *fm);

/* Runs an ioreq program; stops at its end. Checks the invariants after every step. */
void fuzz_machine_run(struct fuzz_machine *fm, const uint8_t *prog, size_t len);

/*
 * save -> load -> save must give the same bytes, and the load must succeed: the stream a
 * machine writes is one it accepts, whatever state the guest drove it into.
 */
void fuzz_machine_check_save_load(struct fuzz_machine *fm);

/*
 * After a load into a fresh machine: Xen restores its own INTx levels and link routes from the
 * same image (its PCI_IRQ and PCI_LINK records), so the fake takes them from the machine.
 */
void fuzz_machine_adopt_loaded_state(struct fuzz_machine *fm);

/* Reads every register of every device once (1 byte each): state left by a load is used. */
void fuzz_machine_probe(struct fuzz_machine *fm);

/*
 * Checks that the accelerator's view matches the machine: each ISA line against its wired-OR
 * count, each PCI INTx bit against the functions of its slot, each link route against PIIX3's
 * PIRQRC registers, and the claimed ranges against the regions of the address spaces.
 */
void fuzz_machine_check_lines(struct fuzz_machine *fm);

/*
 * Runs every completion of every drive's block requests now, on this thread, until none is
 * in flight (a completion may submit the next DMA chunk). Then checks what must hold once
 * the drives are idle: no guest memory locked, no drive left busy.
 */
void fuzz_machine_drain(struct fuzz_machine *fm);
/* Block requests in flight on all the machine's drives. */
unsigned fuzz_machine_in_flight(struct fuzz_machine *fm);

/*
 * One request served through the slot as accel/xen does (and checked as after any step);
 * returns the slot's data afterwards (the value of a read).
 */
uint64_t fuzz_machine_request(struct fuzz_machine *fm, unsigned type, bool read, unsigned size,
                              uint64_t addr, uint64_t value, uint32_t count, bool data_is_ptr);
/* Whether the fake guest RAM has a page at gpa (not a hole, not past the end). */
bool fuzz_gpa_is_ram(uint64_t gpa);

/*
 * The host side of a CD-ROM drive (QMP eject / blockdev-change-medium): which % 2 picks
 * "ide1-cd0" or "ide1-cd1"; action % 4: 0 eject, 1 eject with force, 2 insert the ISO image,
 * 3 insert a second, smaller image whose size is not a whole number of sectors.
 */
void fuzz_machine_medium(struct fuzz_machine *fm, unsigned which, unsigned action);

/*
 * The IDE controller's invariants (indexes within the buffers, nothing locked without a
 * request in flight, a bus master active only while started); `idle`: the drives were just
 * drained, so no drive may stay busy (a guest would wait for ever) unless SRST holds it.
 */
void fuzz_machine_check_ide(struct fuzz_machine *fm, bool idle);

/* ---- encoders of program steps (for the seed generator) ---- */

enum fuzz_op {
    FUZZ_OP_PIO,        /* single IN/OUT */
    FUZZ_OP_PIO_REP,    /* REP INS/OUTS through guest RAM */
    FUZZ_OP_MMIO,       /* single load/store, or REP STOS */
    FUZZ_OP_MMIO_REP,   /* REP MOVS between MMIO and guest RAM */
    FUZZ_OP_PCI,        /* PCI_CONFIG */
    FUZZ_OP_BUFFERED,   /* entries written to the ring, then a sync request drains it */
    FUZZ_OP_TIMEOFFSET,
    FUZZ_OP_INVALIDATE,
    FUZZ_OP_RAW,        /* 32 bytes as the slot holds them */
    FUZZ_OP_RAM,        /* the "guest CPU" writes bytes into RAM (DMA source data) */
    FUZZ_OP_SAVE_LOAD,  /* fuzz_machine_check_save_load() */
    FUZZ_OP_RESET,      /* machine_reset() */
    FUZZ_OP_TIMERS,     /* dispatch timers that are due */
    FUZZ_OP_HOST_INPUT, /* bytes typed into a serial port's chardev (host side, not guest) */
    FUZZ_OP_BAR,        /* MMIO or port I/O at an offset into a PCI BAR, wherever it is now */
    FUZZ_OP_MEDIUM,     /* fuzz_machine_medium(): a CD is ejected or inserted (host side) */
    FUZZ_OP_COUNT
};

/* Access flags of one step: read, data_is_ptr, df. */
#define FUZZ_F_READ 0x01u
#define FUZZ_F_DF 0x02u

void fuzz_emit_pio(GByteArray *out, bool read, unsigned size, uint16_t port, uint32_t value);
void fuzz_emit_pio_rep(GByteArray *out, unsigned flags, unsigned size, uint16_t port,
                       uint16_t count, uint32_t gpa);
void fuzz_emit_mmio(GByteArray *out, bool read, unsigned size, uint64_t addr, uint64_t value,
                    uint16_t count);
void fuzz_emit_mmio_rep(GByteArray *out, unsigned flags, unsigned size, uint64_t addr,
                        uint16_t count, uint32_t gpa);
void fuzz_emit_pci(GByteArray *out, bool read, unsigned size, uint32_t sbdf, uint16_t reg,
                   uint32_t value);
/* A write Xen buffered: port I/O or MMIO (20-bit address); size 8 takes two ring slots. */
struct fuzz_buf_entry {
    unsigned type; /* XENABI_IOREQ_TYPE_PIO or _COPY */
    uint32_t addr;
    uint64_t value;
    unsigned size;
};
void fuzz_emit_buffered(GByteArray *out, const struct fuzz_buf_entry *entries, unsigned n);
void fuzz_emit_timeoffset(GByteArray *out, int64_t delta);
void fuzz_emit_simple(GByteArray *out, enum fuzz_op op); /* INVALIDATE, SAVE_LOAD, RESET, ... */
void fuzz_emit_ram(GByteArray *out, uint32_t gpa, const void *bytes, uint8_t len);
void fuzz_emit_raw(GByteArray *out, const struct xenabi_ioreq *req);
void fuzz_emit_host_input(GByteArray *out, uint8_t serial, const void *bytes, uint8_t len);
void fuzz_emit_medium(GByteArray *out, uint8_t which, uint8_t action);
/* An access at `offset` into BAR `bar` of 00:devfn (count > 1: REP STOS, or REP OUTS by value). */
void fuzz_emit_bar(GByteArray *out, bool read, unsigned size, uint8_t devfn, uint8_t bar,
                   uint32_t offset, uint64_t value, uint16_t count);

#endif
