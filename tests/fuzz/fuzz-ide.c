/*
 * fuzz-ide: the PIIX3 IDE controller (hw/ide/) driven by a compact language of IDE command
 * sequences, so that the fuzzer reaches deep ATA and ATAPI states (a READ MULTIPLE half read,
 * a DMA transfer between two chunks, an ATAPI reply in its second DRQ block) within a few
 * steps instead of having to discover port numbers and register layouts first.
 *
 * The machine is fuzz-ioreq's with its drives (fuzz-machine.h): 1 MiB disk at ide0.0, a
 * read-only disk at ide0.1, a CD-ROM with an ISO image at ide1.0 and an empty one at ide1.1.
 * Before the program runs, the harness does what hvmloader does for the function: both
 * channels' decode on (IDETIM), BAR4 at 0xC200, I/O space and bus mastering on, and each
 * channel's PRD table pointer at PRD_TABLE(channel).
 *
 * Block requests stay in flight until the program says DRAIN (or does something that has the
 * harness drain first: writing guest RAM, REP transfers through it, timers), so that a guest's
 * reset, a new command or a bus-master stop can come while a request is outstanding. Every
 * completion runs on this thread, inside a drain, so a run is deterministic.
 *
 * Program: a sequence of steps, an op byte (% FUZZ_IDE_OP_COUNT, fuzz-ide.h) and its operands,
 * little-endian; operands past the end read as zero. "ch" below is bit 0 of the first operand
 * byte.
 *
 *   REG_WRITE   a u8 (ch; bits 1-3 register 0-7) | value u8   (register 0, the data port:
 *               a 16-bit write)
 *   REG_READ    a u8 (ch; bits 1-3 register)                  (register 0: a 16-bit read)
 *   COMMAND     a u8 (ch; bit 1 LBA48: the HOB bytes first; bit 2 unit 1) | feature u8 |
 *               count u8 | lba 3 bytes | device u8 | command u8 [| hob count u8 | hob lba
 *               3 bytes | hob feature u8 if LBA48]: the task file as a driver writes it
 *   DATA_IN     a u8 (ch; bit 1 dwords; bit 2 REP INS into RAM at SCRATCH) | n u16 items
 *   DATA_OUT    a u8 (ch; bit 1 dwords; bit 2 REP OUTS from RAM at SCRATCH) | n u16 items |
 *               fill u32 (each item's value without bit 2)
 *   PACKET      a u8 (ch; bit 1 DMA; bit 2 unit 1) | byte count limit u16 | cdb 12 bytes:
 *               device, features, LBA mid/high, PACKET (A0h), then the packet as 6 words
 *   DEVCTL      a u8 (ch) | value u8                          (nIEN, SRST, HOB)
 *   ALTSTATUS   a u8 (ch)
 *   BM_WRITE    a u8 (ch; bits 1-3 register offset; bits 4-5 size 1/2/4/4) | value u32
 *   BM_READ     a u8 (ch; bits 1-3 offset; bits 4-5 size)
 *   PRD         a u8 (ch; bit 7 EOT) | entry u8 | address u32 | count u16: one entry of the
 *               channel's table at PRD_TABLE(ch) + 8 * entry
 *   RAM         gpa u32 | len u8 | len bytes
 *   DRAIN       every completion runs; then the drives must be idle (fuzz_machine_drain)
 *   PCI         reg u8 | size code u8 | value u32: a configuration write to 00:01.1
 *   MEDIUM      which u8 | action u8 (fuzz_machine_medium: eject, force, insert)
 *   RESET       machine_reset()
 *   SAVE_LOAD   a save -> load -> save round trip (drains first, as the save does)
 *   INVALIDATE  the mapcache is invalidated (Xen's INVALIDATE ioreq) under the bus master
 *   PIO         a u8 (bit 0 read; bits 2-3 size code) | port u16 | value u32: anything else
 *               (the PV unplug port 0x10, the other channel's ports, ...)
 *
 * Checked beyond the sanitizers and every check of the machine (fuzz-machine.c): the IDE
 * invariants after each step (buffer indexes, locked pieces only with a request in flight),
 * and after each drain that no drive is left busy and no guest memory stays locked.
 */
#include <string.h>

#include "fuzz-ide.h"
#include "fuzz-machine.h"
#include "fuzz-target.h"

#define IDE_DEVFN FUZZ_IDE_DEVFN
#define BM_BASE FUZZ_IDE_BM_BASE
#define PRD_TABLE(ch) FUZZ_IDE_PRD_TABLE(ch)
#define SCRATCH FUZZ_IDE_SCRATCH
#define MAX_STEPS 4096u
/* Single data port accesses per step (a 2 KiB ATAPI block); REP moves more. */
#define MAX_SINGLE_ITEMS 1024u

static const uint16_t cmd_base[2] = {0x1f0, 0x170};
static const uint16_t ctl_port[2] = {0x3f6, 0x376};


int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet_logs();
    return 0;
}

static uint64_t pio(struct fuzz_machine *fm, bool read, unsigned size, uint16_t port,
                    uint32_t value)
{
    return fuzz_machine_request(fm, XENABI_IOREQ_TYPE_PIO, read, size, port, value, 1, false);
}

static void pci_write(struct fuzz_machine *fm, unsigned reg, unsigned size, uint32_t value)
{
    fuzz_machine_request(fm, XENABI_IOREQ_TYPE_PCI_CONFIG, false, size,
                         (uint64_t)IDE_DEVFN << 32 | reg, value, 1, false);
}

/* What hvmloader's pci_setup leaves for the function, and a PRD pointer per channel. */
static void firmware_setup(struct fuzz_machine *fm)
{
    pci_write(fm, 0x40, 2, 0x8000);            /* IDETIM primary: decode enable */
    pci_write(fm, 0x42, 2, 0x8000);            /* IDETIM secondary */
    pci_write(fm, 0x20, 4, BM_BASE | 1);       /* BAR4: I/O */
    pci_write(fm, 0x04, 2, 0x0005);            /* I/O space, bus master */
    for (unsigned ch = 0; ch < 2; ch++) {
        pio(fm, false, 4, (uint16_t)(BM_BASE + 8 * ch + 4), PRD_TABLE(ch));
    }
}

/* Writes into guest RAM as the CPU would; the drives first finish what may write there. */
static void ram_write(struct fuzz_machine *fm, uint32_t gpa, const uint8_t *bytes, size_t len)
{
    fuzz_machine_drain(fm);
    for (size_t i = 0; i < len; i++) {
        uint32_t at = (gpa + (uint32_t)i) % FUZZ_RAM_SIZE;
        if (fuzz_gpa_is_ram(at)) {
            fm->ram[at] = bytes[i];
        }
    }
}

static void step_command(struct fuzz_machine *fm, struct fuzz_cursor *c)
{
    uint8_t a = (uint8_t)fuzz_take(c, 1);
    uint16_t base = cmd_base[a & 1];
    uint8_t regs[7], hob[5];

    for (unsigned i = 0; i < 7; i++) {
        regs[i] = (uint8_t)fuzz_take(c, 1); /* feature, count, lba 0-2, device, command */
    }
    if (a & 2) {
        for (unsigned i = 0; i < 5; i++) {
            hob[i] = (uint8_t)fuzz_take(c, 1); /* count, lba 3-5, feature */
        }
    }
    pio(fm, false, 1, base + 6, (regs[5] & ~0x10u) | ((a & 4) ? 0x10u : 0));
    if (a & 2) {
        pio(fm, false, 1, base + 1, hob[4]);
        for (unsigned i = 0; i < 4; i++) {
            pio(fm, false, 1, (uint16_t)(base + 2 + i), hob[i]);
        }
    }
    for (unsigned i = 0; i < 5; i++) {
        pio(fm, false, 1, (uint16_t)(base + 1 + i), regs[i]);
    }
    pio(fm, false, 1, base + 7, regs[6]);
}

/* REP INS/OUTS through SCRATCH, a page at a time as Xen splits them. */
static void data_rep(struct fuzz_machine *fm, bool read, uint16_t port, unsigned size,
                     unsigned items)
{
    unsigned per_page = 4096 / size;

    fuzz_machine_drain(fm);
    while (items > 0) {
        unsigned n = items < per_page ? items : per_page;
        fuzz_machine_request(fm, XENABI_IOREQ_TYPE_PIO, read, size, port, SCRATCH, n, true);
        items -= n;
    }
}

static void step_data(struct fuzz_machine *fm, struct fuzz_cursor *c, bool read)
{
    uint8_t a = (uint8_t)fuzz_take(c, 1);
    unsigned items = (unsigned)fuzz_take(c, 2);
    uint32_t fill = read ? 0 : (uint32_t)fuzz_take(c, 4);
    unsigned size = (a & 2) ? 4 : 2;
    uint16_t port = cmd_base[a & 1];

    if (a & 4) {
        data_rep(fm, read, port, size, items);
        return;
    }
    for (unsigned i = 0; i < items && i < MAX_SINGLE_ITEMS; i++) {
        pio(fm, read, size, port, fill);
    }
}

static void step_packet(struct fuzz_machine *fm, struct fuzz_cursor *c)
{
    uint8_t a = (uint8_t)fuzz_take(c, 1);
    uint16_t limit = (uint16_t)fuzz_take(c, 2), base = cmd_base[a & 1];
    uint8_t cdb[12];

    for (unsigned i = 0; i < sizeof(cdb); i++) {
        cdb[i] = (uint8_t)fuzz_take(c, 1);
    }
    pio(fm, false, 1, base + 6, (a & 4) ? 0xb0 : 0xa0);
    pio(fm, false, 1, base + 1, (a & 2) ? 1 : 0);
    pio(fm, false, 1, base + 4, limit & 0xff);
    pio(fm, false, 1, base + 5, limit >> 8);
    pio(fm, false, 1, base + 7, 0xa0);
    for (unsigned i = 0; i < sizeof(cdb); i += 2) {
        pio(fm, false, 2, base, (uint32_t)cdb[i] | (uint32_t)cdb[i + 1] << 8);
    }
}

static unsigned size_code(uint8_t code)
{
    static const unsigned sizes[4] = {1, 2, 4, 4};
    return sizes[code & 3];
}

static void step_bm(struct fuzz_machine *fm, struct fuzz_cursor *c, bool read)
{
    uint8_t a = (uint8_t)fuzz_take(c, 1);
    uint32_t value = read ? 0 : (uint32_t)fuzz_take(c, 4);
    uint16_t port = (uint16_t)(BM_BASE + 8 * (a & 1) + ((a >> 1) & 7));

    pio(fm, read, size_code(a >> 4), port, value);
}

static void step_prd(struct fuzz_machine *fm, struct fuzz_cursor *c)
{
    uint8_t a = (uint8_t)fuzz_take(c, 1), entry = (uint8_t)fuzz_take(c, 1);
    uint32_t addr = (uint32_t)fuzz_take(c, 4), count = (uint32_t)fuzz_take(c, 2);
    uint32_t flags = count | ((a & 0x80) ? 0x80000000u : 0);
    uint8_t bytes[8];

    for (unsigned i = 0; i < 4; i++) {
        bytes[i] = (uint8_t)(addr >> (8 * i));
        bytes[4 + i] = (uint8_t)(flags >> (8 * i));
    }
    ram_write(fm, PRD_TABLE(a & 1) + 8u * entry, bytes, sizeof(bytes));
}

static void step_ram(struct fuzz_machine *fm, struct fuzz_cursor *c)
{
    uint32_t gpa = (uint32_t)fuzz_take(c, 4);
    uint8_t len = (uint8_t)fuzz_take(c, 1), bytes[UINT8_MAX];

    for (unsigned i = 0; i < len; i++) {
        bytes[i] = (uint8_t)fuzz_take(c, 1);
    }
    ram_write(fm, gpa, bytes, len);
}

static void run_step(struct fuzz_machine *fm, enum fuzz_ide_op op, struct fuzz_cursor *c)
{
    switch (op) {
    case FUZZ_IDE_REG_WRITE: {
        uint8_t a = (uint8_t)fuzz_take(c, 1), reg = (a >> 1) & 7;
        pio(fm, false, reg ? 1 : 2, (uint16_t)(cmd_base[a & 1] + reg), (uint32_t)fuzz_take(c, 1));
        break;
    }
    case FUZZ_IDE_REG_READ: {
        uint8_t a = (uint8_t)fuzz_take(c, 1), reg = (a >> 1) & 7;
        pio(fm, true, reg ? 1 : 2, (uint16_t)(cmd_base[a & 1] + reg), 0);
        break;
    }
    case FUZZ_IDE_COMMAND: step_command(fm, c); break;
    case FUZZ_IDE_DATA_IN: step_data(fm, c, true); break;
    case FUZZ_IDE_DATA_OUT: step_data(fm, c, false); break;
    case FUZZ_IDE_PACKET: step_packet(fm, c); break;
    case FUZZ_IDE_DEVCTL: {
        uint8_t a = (uint8_t)fuzz_take(c, 1);
        pio(fm, false, 1, ctl_port[a & 1], (uint32_t)fuzz_take(c, 1));
        break;
    }
    case FUZZ_IDE_ALTSTATUS: pio(fm, true, 1, ctl_port[fuzz_take(c, 1) & 1], 0); break;
    case FUZZ_IDE_BM_WRITE: step_bm(fm, c, false); break;
    case FUZZ_IDE_BM_READ: step_bm(fm, c, true); break;
    case FUZZ_IDE_PRD: step_prd(fm, c); break;
    case FUZZ_IDE_RAM: step_ram(fm, c); break;
    case FUZZ_IDE_DRAIN: fuzz_machine_drain(fm); break;
    case FUZZ_IDE_PCI: {
        unsigned reg = (unsigned)fuzz_take(c, 1), size = size_code((uint8_t)fuzz_take(c, 1));
        pci_write(fm, reg & ~(size - 1), size, (uint32_t)fuzz_take(c, 4));
        break;
    }
    case FUZZ_IDE_MEDIUM: {
        unsigned which = (unsigned)fuzz_take(c, 1);
        fuzz_machine_medium(fm, which, (unsigned)fuzz_take(c, 1));
        break;
    }
    case FUZZ_IDE_RESET: machine_reset(fm->m); break;
    case FUZZ_IDE_SAVE_LOAD:
        if (fm->save_loads++ == 0) {
            fuzz_machine_check_save_load(fm);
        }
        break;
    case FUZZ_IDE_INVALIDATE:
        fuzz_machine_request(fm, XENABI_IOREQ_TYPE_INVALIDATE, false, 1, 0, 0, 1, false);
        break;
    case FUZZ_IDE_PIO: {
        uint8_t a = (uint8_t)fuzz_take(c, 1);
        uint16_t port = (uint16_t)fuzz_take(c, 2);
        pio(fm, a & 1, size_code(a >> 2), port, (uint32_t)fuzz_take(c, 4));
        break;
    }
    case FUZZ_IDE_OP_COUNT: break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_machine_config cfg = fuzz_machine_full_config;
    struct fuzz_machine *fm;
    struct fuzz_cursor c = {data, size};

    cfg.manual_drain = true;
    cfg.virtio = false; /* the IDE bus alone, and the strict check that no lock outlives DMA */
    fm = fuzz_machine_new(&cfg);
    firmware_setup(fm);
    for (unsigned steps = 0; c.left > 0 && steps < MAX_STEPS; steps++) {
        run_step(fm, (enum fuzz_ide_op)(fuzz_take(&c, 1) % FUZZ_IDE_OP_COUNT), &c);
        fuzz_machine_check_lines(fm);
        fuzz_machine_check_ide(fm, fuzz_machine_in_flight(fm) == 0);
    }
    fuzz_machine_drain(fm);
    fuzz_machine_free(fm);
    return 0;
}
