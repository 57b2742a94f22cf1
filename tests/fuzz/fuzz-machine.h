/*
 * The in-process machine the fuzz targets drive: xendm's own devices assembled from a command
 * line exactly as main does (options_parse + xenfv_assemble), over fake guest RAM (a mapcache
 * with a mapper on a buffer whose holes are ASan-poisoned) and a fake accelerator that checks
 * every call the machine makes to it.
 *
 * It also holds the interpreter of the ioreq "program" that fuzz-ioreq and fuzz-vmstate feed it:
 * a byte string decoded into PIO, REP INS/OUTS, MMIO, REP MOVS/STOS, PCI_CONFIG, buffered ring
 * entries, INVALIDATE, TIMEOFFSET, raw 32-byte ioreqs and save/load round trips, each served
 * through the shared-slot protocol (ioreq_service_slot) as accel/xen does. The format is in
 * fuzz-machine.c; tests/fuzz/gen-seeds.c writes meaningful programs with the encoders below.
 *
 * Every check that fails calls fuzz_fail(), which prints the reason and aborts: libFuzzer then
 * saves the input as a crash.
 */
#ifndef XENDM_FUZZ_MACHINE_H
#define XENDM_FUZZ_MACHINE_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xendm/ioreq.h"
#include "xendm/machine.h"

/* 1 MiB of guest RAM with the legacy VGA hole (0xA0000-0xBFFFF) left unmapped. */
#define FUZZ_RAM_SIZE (1024u * 1024u)
#define FUZZ_HOLE_START 0xa0000u
#define FUZZ_HOLE_END 0xc0000u

/* Which devices the machine has; fuzz-ioreq uses the full set (fuzz_machine_full_config). */
struct fuzz_machine_config {
    unsigned serials;  /* COM1.. (0..4), each on a null chardev */
    bool debugcon;     /* isa-debugcon at 0x402 on a null chardev */
    bool testdev;      /* pc-testdev (its MMIO window and IRQ ports) */
};

extern const struct fuzz_machine_config fuzz_machine_full_config;

/* What the fake accelerator saw; checked against the machine after every step. */
struct fuzz_accel_record {
    bool isa_level[MACHINE_ISA_IRQS];
    uint64_t calls;        /* every accel_ops call */
    uint64_t shutdowns;
    uint64_t msis;
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
};

/* Never returns: prints "fuzz check failed: ..." and aborts. */
void fuzz_fail(const char *fmt, ...) G_GNUC_PRINTF(1, 2) G_GNUC_NORETURN;
#define FUZZ_CHECK(cond, ...)                                                                     \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fuzz_fail(__VA_ARGS__);                                                               \
        }                                                                                         \
    } while (0)

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

/* Reads every register of every device once (1 byte each): state left by a load is used. */
void fuzz_machine_probe(struct fuzz_machine *fm);

/* Checks that the accelerator's view of each ISA line matches the machine's wired-OR count. */
void fuzz_machine_check_lines(struct fuzz_machine *fm);

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

#endif
