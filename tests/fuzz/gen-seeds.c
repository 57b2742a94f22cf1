/*
 * Writes the fuzz targets' seed corpus (tests/fuzz/corpus/): small, meaningful inputs from
 * which the fuzzer starts, one behaviour each.
 *
 *   fuzz-gen-seeds CORPUS_DIR LIBXL_ARGV_FIXTURE_DIR
 *
 * ioreq: a program per device, as a driver would talk to it (fuzz-machine.c's format); vmstate:
 * streams saved from real machines after such programs, followed by a program to run on the
 * loaded state; qmp: libxl's session and others; options: the argv libxl gave on the rig
 * (tests/fixtures/libxl-argv) and command lines that build each device.
 */
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "fuzz-ide.h"
#include "fuzz-machine.h"
#include "xendm/pci.h"
#include "xendm/vmstate.h"

#define COM1 0x3f8
#define I8042_DATA 0x60
#define I8042_CMD 0x64
#define DEBUGCON 0x402
#define TESTDEV_SCRATCH 0xe0
#define TESTDEV_FLUSH 0xe4
#define TESTDEV_SCRATCH_BYTE 0xe8
#define TESTDEV_IRQ 0x2000
#define TESTDEV_IOMEM 0xff000000ull
#define DMA_BUF 0x10000u

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char *path = g_build_filename(dir, name, NULL);
    GError *err = NULL;

    if (!g_file_set_contents(path, data, (gssize)len, &err)) {
        fprintf(stderr, "gen-seeds: %s\n", err->message);
        exit(1);
    }
    g_free(path);
}

static void write_bytes(const char *dir, const char *name, GByteArray *bytes)
{
    write_file(dir, name, bytes->data, bytes->len);
    g_byte_array_free(bytes, TRUE);
}

/* ---- ioreq programs, one per device ---- */

static void out8(GByteArray *p, uint16_t port, uint8_t v) { fuzz_emit_pio(p, false, 1, port, v); }
static void in8(GByteArray *p, uint16_t port) { fuzz_emit_pio(p, true, 1, port, 0); }

/* A 16550 driver: 115200 8N1 with FIFOs, interrupts on, loopback, then REP OUTSB to THR. */
static GByteArray *prog_serial(void)
{
    GByteArray *p = g_byte_array_new();
    static const char text[] = "hello, uart\n";

    out8(p, COM1 + 3, 0x80);           /* LCR: DLAB */
    out8(p, COM1 + 0, 0x01);           /* DLL */
    out8(p, COM1 + 1, 0x00);           /* DLM */
    out8(p, COM1 + 3, 0x03);           /* LCR: 8N1 */
    out8(p, COM1 + 2, 0xc7);           /* FCR: enable, reset both, trigger 14 */
    out8(p, COM1 + 1, 0x0f);           /* IER: all */
    out8(p, COM1 + 4, 0x1b);           /* MCR: DTR RTS OUT2 LOOP */
    for (unsigned i = 0; i < 18; i++) { /* overrun the 16-byte receive FIFO in loopback */
        out8(p, COM1, (uint8_t)('a' + i));
    }
    in8(p, COM1 + 2);                  /* IIR */
    in8(p, COM1 + 5);                  /* LSR */
    for (unsigned i = 0; i < 4; i++) {
        in8(p, COM1);
    }
    fuzz_emit_pio(p, true, 4, COM1, 0); /* an inl across four registers */
    in8(p, COM1 + 6);                  /* MSR */
    out8(p, COM1 + 7, 0x5a);           /* scratch */
    fuzz_emit_ram(p, DMA_BUF, text, sizeof(text) - 1);
    fuzz_emit_pio_rep(p, 0, 1, COM1, sizeof(text) - 1, DMA_BUF);
    fuzz_emit_pio_rep(p, FUZZ_F_READ, 1, COM1, 8, DMA_BUF + 0x100);
    out8(p, COM1 + 4, 0x08);           /* leave loopback */
    fuzz_emit_host_input(p, 0, "typed on the pty", 16);
    in8(p, COM1 + 5);
    in8(p, COM1);
    fuzz_emit_simple(p, FUZZ_OP_TIMERS);
    fuzz_emit_simple(p, FUZZ_OP_SAVE_LOAD);
    return p;
}

/* A PS/2 driver: self test, command byte, keyboard reset and LEDs, mouse enable, A20, reset. */
static GByteArray *prog_i8042(void)
{
    GByteArray *p = g_byte_array_new();

    in8(p, I8042_CMD);
    out8(p, I8042_CMD, 0xaa); in8(p, I8042_DATA);           /* controller self test */
    out8(p, I8042_CMD, 0x20); in8(p, I8042_DATA);           /* read command byte */
    out8(p, I8042_CMD, 0x60); out8(p, I8042_DATA, 0x47);    /* write command byte */
    out8(p, I8042_CMD, 0xa8);                               /* enable aux */
    out8(p, I8042_DATA, 0xff); in8(p, I8042_DATA); in8(p, I8042_DATA); /* keyboard reset */
    out8(p, I8042_DATA, 0xed); out8(p, I8042_DATA, 0x07);   /* LEDs */
    out8(p, I8042_DATA, 0xf0); out8(p, I8042_DATA, 0x02);   /* scancode set 2 */
    out8(p, I8042_DATA, 0xee); in8(p, I8042_DATA);          /* echo */
    out8(p, I8042_CMD, 0xd4); out8(p, I8042_DATA, 0xf4);    /* mouse: enable reporting */
    out8(p, I8042_CMD, 0xd4); out8(p, I8042_DATA, 0xf3);
    out8(p, I8042_CMD, 0xd4); out8(p, I8042_DATA, 200);     /* sample rate */
    out8(p, I8042_CMD, 0xd4); out8(p, I8042_DATA, 0xe9);    /* status request */
    for (unsigned i = 0; i < 5; i++) {
        in8(p, I8042_CMD);
        in8(p, I8042_DATA);
    }
    out8(p, I8042_CMD, 0xd1); out8(p, I8042_DATA, 0xdf);    /* output port: A20 on */
    out8(p, I8042_CMD, 0xd0); in8(p, I8042_DATA);
    fuzz_emit_simple(p, FUZZ_OP_SAVE_LOAD);
    out8(p, I8042_CMD, 0xfe);                               /* pulse reset */
    return p;
}

static GByteArray *prog_port92(void)
{
    GByteArray *p = g_byte_array_new();

    in8(p, 0x92);
    out8(p, 0x92, 0x02); /* A20 */
    in8(p, 0x92);
    out8(p, 0x92, 0x03); /* fast reset */
    fuzz_emit_simple(p, FUZZ_OP_RESET);
    in8(p, 0x92);
    return p;
}

static GByteArray *prog_debugcon(void)
{
    GByteArray *p = g_byte_array_new();
    static const char text[] = "firmware says hi\n";

    in8(p, DEBUGCON);
    out8(p, DEBUGCON, 'X');
    fuzz_emit_ram(p, DMA_BUF, text, sizeof(text) - 1);
    fuzz_emit_pio_rep(p, 0, 1, DEBUGCON, sizeof(text) - 1, DMA_BUF);
    fuzz_emit_pio(p, false, 2, DEBUGCON, 0x4142);
    return p;
}

/* kvm-unit-tests style: scratch widths, IRQ lines, flush page, MMIO with REP MOVS/STOS. */
static GByteArray *prog_testdev(void)
{
    GByteArray *p = g_byte_array_new();
    static const uint8_t pattern[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

    fuzz_emit_pio(p, false, 4, TESTDEV_SCRATCH, 0xdeadbeef);
    fuzz_emit_pio(p, true, 2, TESTDEV_SCRATCH + 1, 0);
    fuzz_emit_pio(p, false, 4, TESTDEV_SCRATCH_BYTE, 0x12345678);
    fuzz_emit_pio(p, true, 4, TESTDEV_SCRATCH_BYTE, 0);
    fuzz_emit_pio(p, false, 4, TESTDEV_FLUSH, DMA_BUF);
    out8(p, TESTDEV_IRQ + 4, 1);  /* raise ISA 4 */
    out8(p, TESTDEV_IRQ + 10, 1);
    fuzz_emit_simple(p, FUZZ_OP_SAVE_LOAD);
    out8(p, TESTDEV_IRQ + 4, 0);
    out8(p, TESTDEV_IRQ + 20, 1); /* a line beyond the ISA 16 */
    fuzz_emit_mmio(p, false, 8, TESTDEV_IOMEM + 0x100, 0x0123456789abcdefull, 1);
    fuzz_emit_mmio(p, true, 4, TESTDEV_IOMEM + 0x104, 0, 1);
    fuzz_emit_mmio(p, false, 4, TESTDEV_IOMEM + 0x200, 0xa5a5a5a5, 16); /* REP STOSD */
    fuzz_emit_ram(p, DMA_BUF, pattern, sizeof(pattern));
    fuzz_emit_mmio_rep(p, 0, 4, TESTDEV_IOMEM + 0x300, 4, DMA_BUF);          /* RAM -> MMIO */
    fuzz_emit_mmio_rep(p, FUZZ_F_READ, 8, TESTDEV_IOMEM + 0x300, 2, DMA_BUF + 0x40000);
    fuzz_emit_mmio_rep(p, FUZZ_F_READ | FUZZ_F_DF, 2, TESTDEV_IOMEM + 0xffe, 8, DMA_BUF + 0x20);
    fuzz_emit_simple(p, FUZZ_OP_INVALIDATE);
    fuzz_emit_mmio_rep(p, 0, 1, TESTDEV_IOMEM + 0xf000, 16, DMA_BUF);
    fuzz_emit_mmio(p, true, 8, TESTDEV_IOMEM + 0xfff8, 0, 1);
    return p;
}

/* Writes Xen buffered (port I/O and low MMIO), drained ahead of a synchronous read. */
static GByteArray *prog_buffered(void)
{
    GByteArray *p = g_byte_array_new();
    static const struct fuzz_buf_entry entries[] = {
        {XENABI_IOREQ_TYPE_PIO, TESTDEV_SCRATCH, 0x11223344, 4},
        {XENABI_IOREQ_TYPE_PIO, COM1 + 7, 0x77, 1},
        {XENABI_IOREQ_TYPE_COPY, 0xa0000, 0x0102030405060708ull, 8}, /* the VGA's window */
        {XENABI_IOREQ_TYPE_PIO, DEBUGCON, 'B', 1},
        {XENABI_IOREQ_TYPE_PIO, TESTDEV_SCRATCH, 0xbeef, 2},
    };

    fuzz_emit_buffered(p, entries, G_N_ELEMENTS(entries));
    fuzz_emit_pio(p, true, 4, TESTDEV_SCRATCH, 0);
    in8(p, COM1 + 7);
    return p;
}

/* Requests Xen never sends but a broken or hostile emulator path could: all refused. */
static GByteArray *prog_bad_requests(void)
{
    GByteArray *p = g_byte_array_new();
    struct xenabi_ioreq req = {0};

    fuzz_emit_pio(p, true, 8, COM1, 0);                                 /* PIO of 8 bytes */
    fuzz_emit_pio_rep(p, FUZZ_F_READ, 4, COM1, 2000, DMA_BUF);          /* beyond a page */
    fuzz_emit_pio_rep(p, 0, 1, DEBUGCON, 16, 0xa0ff8);                   /* into the hole */
    fuzz_emit_pio_rep(p, FUZZ_F_READ, 1, COM1, 16, 0xffff8);             /* off RAM's end */
    fuzz_emit_mmio(p, true, 4, TESTDEV_IOMEM, 0, 0);                     /* count 0 */
    fuzz_emit_mmio_rep(p, FUZZ_F_READ, 8, TESTDEV_IOMEM + 0xff8, 4, DMA_BUF); /* crosses */
    fuzz_emit_mmio(p, true, 8, 0xfffffffffffffffcull, 0, 1);             /* wraps */
    fuzz_emit_pci(p, true, 4, 0x0000, 0x00, 0);                         /* 00:00.0 vendor */
    fuzz_emit_pci(p, true, 4, 0x0008, 0xffe, 0);                        /* beyond 4 KiB */
    fuzz_emit_pci(p, false, 2, 0x0010, 0x04, 0x0007);
    fuzz_emit_timeoffset(p, 3600);
    fuzz_emit_timeoffset(p, INT64_MAX);                                 /* saturates */
    req.type = 0x42;                                                    /* unknown type */
    req.size = 4;
    req.count = 1;
    req.flags = XENABI_STATE_IOREQ_READY | XENABI_IOREQ_DIR_READ;
    fuzz_emit_raw(p, &req);
    req.type = XENABI_IOREQ_TYPE_PIO;
    req.flags = XENABI_STATE_IOREQ_INPROCESS;                          /* spurious event */
    fuzz_emit_raw(p, &req);
    return p;
}

/* ---- PCI: the xenfv functions and the xendm-testdevs of fuzz_machine_full_config ---- */

#define CONFADD 0xcf8
#define CONFDATA 0xcfc
#define CONFADD_ENABLE 0x80000000u
#define PCI_CMD_IO 0x1u
#define PCI_CMD_MEMORY 0x2u
#define PCI_CMD_MASTER 0x4u
#define REG_COMMAND 0x04
#define REG_BAR(n) (0x10u + 4u * (n))
#define REG_INTERRUPT_LINE 0x3c

#define DEVFN_PIIX3 0x08
#define DEVFN_PM 0x0b
#define DEVFN_PLATFORM 0x10
#define DEVFN_TD3 0x18  /* 00:03.0: 4 MSI vectors, 4 MSI-X entries */
#define DEVFN_TD4 0x20  /* 00:04.0: 32 MSI vectors, 65 MSI-X entries */
#define DEVFN_TD41 0x21 /* 00:04.1: INTx only, shares INTA of slot 4 */

/* Where our "hvmloader" puts each BAR: memory from 0xF0000000 largest first, ports from
 * 0xC000, as hvmloader's pci_setup does. */
struct bar_plan {
    uint8_t devfn, bar;
    uint32_t addr;
    bool mem64;
};

static const struct bar_plan bar_plan[] = {
    {DEVFN_PLATFORM, 1, 0xf0000000u, false}, /* 16 MiB, prefetchable */
    {DEVFN_TD3, 2, 0xf1000000u, true},       /* 1 MiB scratch */
    {DEVFN_TD4, 2, 0xf1100000u, true},
    {DEVFN_TD41, 2, 0xf1200000u, true},
    {DEVFN_TD3, 0, 0xf1300000u, false},      /* 4 KiB registers */
    {DEVFN_TD3, 4, 0xf1301000u, false},      /* MSI-X table and PBA */
    {DEVFN_TD4, 0, 0xf1302000u, false},
    {DEVFN_TD4, 4, 0xf1303000u, false},
    {DEVFN_TD41, 0, 0xf1304000u, false},
    {DEVFN_PLATFORM, 0, 0xc000u, false},     /* 256 ports */
    {DEVFN_TD3, 1, 0xc100u, false},
    {DEVFN_TD4, 1, 0xc200u, false},
    {DEVFN_TD41, 1, 0xc300u, false},
};

#define TD3_REGS 0xf1300000ull
#define TD3_MSIX 0xf1301000ull
#define TD4_REGS 0xf1302000ull
#define TD4_MSIX 0xf1303000ull
#define TD41_REGS 0xf1304000ull
#define TD3_RAM 0xf1000000ull
#define PLATFORM_IO 0xc000u
#define TD_REG_SCRATCH 0x04
#define TD_REG_INTX 0x08
#define TD_REG_MSI_DOORBELL 0x0c
#define TD_REG_MSIX_DOORBELL 0x10

static void cfg_latch(GByteArray *p, unsigned devfn, unsigned reg)
{
    fuzz_emit_pio(p, false, 4, CONFADD, CONFADD_ENABLE | devfn << 8 | (reg & 0xfcu));
}

/* Mechanism #1 through the ports, as firmware running before any claim would see it. */
static void cfg_port_read(GByteArray *p, unsigned devfn, unsigned reg, unsigned size)
{
    cfg_latch(p, devfn, reg);
    fuzz_emit_pio(p, true, size, (uint16_t)(CONFDATA + (reg & 3u)), 0);
}

static void cfg_port_write(GByteArray *p, unsigned devfn, unsigned reg, unsigned size,
                           uint32_t value)
{
    cfg_latch(p, devfn, reg);
    fuzz_emit_pio(p, false, size, (uint16_t)(CONFDATA + (reg & 3u)), value);
}

/* PCI_CONFIG ioreqs: what Xen sends for the SBDFs xendm claimed. */
static void cfg_read(GByteArray *p, unsigned devfn, unsigned reg, unsigned size)
{
    fuzz_emit_pci(p, true, size, devfn, (uint16_t)reg, 0);
}

static void cfg_write(GByteArray *p, unsigned devfn, unsigned reg, unsigned size, uint32_t v)
{
    fuzz_emit_pci(p, false, size, devfn, (uint16_t)reg, v);
}

/*
 * hvmloader's pci_setup, in short: probe every function of slots 0-5 (vendor, class,
 * header type), route the PIRQ links over IRQs 5, 10, 11, set up PIIX4 PM (PMBA 0xB000,
 * PMIOSE, SCI on 9), size every BAR (all-ones, read back, restore), place them, enable
 * decoding, and give each function with a pin its interrupt line.
 */
static void hvmloader_pci_setup(GByteArray *p, uint16_t extra_command)
{
    static const uint8_t link_irq[4] = {5, 10, 11, 5};
    static const uint8_t functions[] = {0x00, DEVFN_PIIX3, DEVFN_PM, DEVFN_PLATFORM, DEVFN_TD3,
                                        DEVFN_TD4, DEVFN_TD41};

    for (unsigned devfn = 0; devfn < PCI_DEVFN(6, 0); devfn++) {
        cfg_port_read(p, devfn, 0x00, 2); /* vendor: 0xffff where nothing answers */
    }
    for (size_t i = 0; i < G_N_ELEMENTS(functions); i++) {
        cfg_port_read(p, functions[i], 0x0a, 2); /* class */
        cfg_port_read(p, functions[i], 0x0e, 1); /* header type */
    }
    for (unsigned link = 0; link < 4; link++) {
        cfg_port_write(p, DEVFN_PIIX3, 0x60 + link, 1, link_irq[link]);
    }
    cfg_port_write(p, DEVFN_PM, 0x40, 4, 0xb001);       /* PMBA */
    cfg_port_write(p, DEVFN_PM, 0x80, 1, 0x01);         /* PMREGMISC.PMIOSE */
    cfg_port_write(p, DEVFN_PM, REG_INTERRUPT_LINE, 1, 9);
    for (size_t i = 0; i < G_N_ELEMENTS(bar_plan); i++) {
        const struct bar_plan *b = &bar_plan[i];
        cfg_write(p, b->devfn, REG_BAR(b->bar), 4, 0xffffffff);
        cfg_read(p, b->devfn, REG_BAR(b->bar), 4);
        if (b->mem64) {
            cfg_write(p, b->devfn, REG_BAR(b->bar + 1), 4, 0xffffffff);
            cfg_read(p, b->devfn, REG_BAR(b->bar + 1), 4);
            cfg_write(p, b->devfn, REG_BAR(b->bar + 1), 4, 0);
        }
        cfg_write(p, b->devfn, REG_BAR(b->bar), 4, b->addr);
    }
    for (size_t i = 3; i < G_N_ELEMENTS(functions); i++) {
        unsigned devfn = functions[i];
        cfg_write(p, devfn, REG_COMMAND, 2, PCI_CMD_IO | PCI_CMD_MEMORY | extra_command);
        cfg_read(p, devfn, 0x3d, 1); /* pin */
        cfg_write(p, devfn, REG_INTERRUPT_LINE, 1,
                  link_irq[(PCI_SLOT(devfn) + 0u) & 3u]); /* INTA swizzled by slot */
    }
}

static GByteArray *prog_pci_enumeration(void)
{
    GByteArray *p = g_byte_array_new();

    hvmloader_pci_setup(p, 0);
    /* A driver's first look: magic, scratch, the I/O and RAM BARs by address and by BAR. */
    fuzz_emit_mmio(p, true, 4, TD3_REGS, 0, 1);
    fuzz_emit_mmio(p, false, 4, TD3_REGS + TD_REG_SCRATCH, 0x5ca7c4, 1);
    fuzz_emit_mmio(p, true, 2, TD3_REGS + TD_REG_SCRATCH + 2, 0, 1); /* widened by the core */
    fuzz_emit_pio(p, false, 4, 0xc104, 0x01020304);
    fuzz_emit_pio(p, true, 1, 0xc106, 0);
    fuzz_emit_mmio(p, false, 8, TD3_RAM + 0xffff8, 0x1122334455667788ull, 1);
    fuzz_emit_mmio(p, false, 4, TD3_RAM + 0x100, 0xabababab, 64); /* REP STOSD */
    fuzz_emit_bar(p, true, 8, DEVFN_TD4, 2, 0x100, 0, 1);
    fuzz_emit_bar(p, false, 2, DEVFN_TD41, 1, 0xfe, 0xbeef, 1);
    /* Moving a BAR: the old place stops answering. */
    cfg_write(p, DEVFN_TD3, REG_BAR(0), 4, 0xf1400000);
    fuzz_emit_mmio(p, true, 4, TD3_REGS, 0, 1);
    fuzz_emit_bar(p, true, 4, DEVFN_TD3, 0, 0, 0, 1);
    /* Decoding off, then a reset: every BAR unmapped, every claim released. */
    cfg_write(p, DEVFN_TD4, REG_COMMAND, 2, 0);
    fuzz_emit_simple(p, FUZZ_OP_RESET);
    cfg_read(p, DEVFN_TD3, REG_BAR(0), 4);
    return p;
}

/* Capability offsets as the PCI core placed them (MSI first, then MSI-X, from 0x40). */
static int find_cap(unsigned devfn, uint8_t cap_id)
{
    struct fuzz_machine *fm = fuzz_machine_new(&fuzz_machine_full_config);
    int cap = pci_find_capability(pci_bus_find(machine_pci_bus(fm->m), devfn), cap_id);

    fuzz_machine_free(fm);
    if (cap < 0) {
        fprintf(stderr, "gen-seeds: 00:%02x.%u has no capability 0x%02x\n", devfn >> 3,
                devfn & 7, cap_id);
        exit(1);
    }
    return cap;
}

static void msix_entry(GByteArray *p, uint64_t table, unsigned entry, uint64_t addr,
                       uint32_t data, bool masked)
{
    uint64_t e = table + 16u * entry;

    fuzz_emit_mmio(p, false, 8, e, addr, 1); /* a qword for the address, as Linux does */
    fuzz_emit_mmio(p, false, 4, e + 8, data, 1);
    fuzz_emit_mmio(p, false, 4, e + 12, masked, 1);
}

/* Linux's MSI-X bring-up: enable with the function masked, program, unmask, ring. */
static GByteArray *prog_msix(void)
{
    GByteArray *p = g_byte_array_new();
    unsigned cap = (unsigned)find_cap(DEVFN_TD3, 0x11);
    uint64_t pba = TD3_MSIX + 4 * 16;

    hvmloader_pci_setup(p, PCI_CMD_MASTER);
    cfg_read(p, DEVFN_TD3, 0x34, 1);
    cfg_read(p, DEVFN_TD3, cap, 4);
    cfg_read(p, DEVFN_TD3, cap + 4, 4); /* table BIR/offset */
    cfg_read(p, DEVFN_TD3, cap + 8, 4); /* PBA BIR/offset */
    cfg_write(p, DEVFN_TD3, cap + 2, 2, 0xc000); /* enable + function mask */
    msix_entry(p, TD3_MSIX, 0, 0xfee00000, 0x41, false);
    msix_entry(p, TD3_MSIX, 1, 0xfee01000, 0x42, true);
    msix_entry(p, TD3_MSIX, 2, 0x00000100fee02000ull, 0x00, true); /* pirq: never masked */
    fuzz_emit_mmio(p, false, 4, TD3_REGS + TD_REG_MSIX_DOORBELL, 0, 1); /* pending: fn mask */
    fuzz_emit_mmio(p, true, 8, pba, 0, 1);
    cfg_write(p, DEVFN_TD3, cap + 2, 2, 0x8000); /* unmask the function: entry 0 goes out */
    fuzz_emit_mmio(p, false, 4, TD3_REGS + TD_REG_MSIX_DOORBELL, 1, 1); /* entry masked */
    fuzz_emit_mmio(p, true, 4, pba, 0, 1);
    fuzz_emit_mmio(p, false, 4, TD3_MSIX + 16 + 12, 0, 1); /* unmask entry 1: delivered */
    fuzz_emit_mmio(p, false, 4, TD3_REGS + TD_REG_MSIX_DOORBELL, 2, 1);
    fuzz_emit_mmio(p, false, 4, TD3_REGS + TD_REG_MSIX_DOORBELL, 4, 1); /* no such entry */
    fuzz_emit_mmio(p, true, 8, TD3_MSIX + 16, 0, 1);
    fuzz_emit_mmio(p, true, 2, TD3_MSIX + 2, 0, 1);              /* refused width */
    fuzz_emit_mmio(p, false, 4, pba, 0xffffffff, 1);             /* read-only */
    fuzz_emit_bar(p, true, 4, DEVFN_TD4, 4, 65 * 16 + 8, 0, 1);  /* 2nd PBA qword of 00:04.0 */
    fuzz_emit_mmio(p, true, 4, TD3_REGS + 0x14, 0, 1);           /* doorbell count */
    fuzz_emit_simple(p, FUZZ_OP_SAVE_LOAD);
    return p;
}

/*
 * A virtio 1.2 driver bringing up virtio-blk-pci (00:05.0 of fuzz_machine_full_config) as
 * Linux's virtio_pci and virtio_blk do (§3.1.1, §4.1.4, §5.2.6): BARs, MSI-X, the status dance,
 * queue 0 in guest RAM, one read of sector 0 (header, data, status), a notify; the completion
 * comes back as an MSI-X message.
 */
#define DEVFN_VIRTIO_BLK 0x28
#define VBLK_MODERN 0xf1500000ull /* BAR4: common 0x0000, ISR 0x1000, device 0x2000, notify */
#define VBLK_MSIX 0xf1504000ull   /* BAR1 */
#define VQ_DESC 0x10000u
#define VQ_AVAIL 0x10800u
#define VQ_USED 0x11000u
#define VREQ_HDR 0x12000u
#define VREQ_DATA 0x13000u
#define VREQ_STATUS 0x14000u

static void virtq_desc(GByteArray *p, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                       uint16_t next)
{
    uint8_t d[16];

    for (unsigned b = 0; b < 8; b++) {
        d[b] = (uint8_t)(addr >> (8 * b));
    }
    for (unsigned b = 0; b < 4; b++) {
        d[8 + b] = (uint8_t)(len >> (8 * b));
    }
    d[12] = (uint8_t)flags;
    d[13] = (uint8_t)(flags >> 8);
    d[14] = (uint8_t)next;
    d[15] = (uint8_t)(next >> 8);
    fuzz_emit_ram(p, VQ_DESC + 16 * i, d, sizeof(d));
}

static GByteArray *prog_virtio_blk(void)
{
    GByteArray *p = g_byte_array_new();
    unsigned cap = (unsigned)find_cap(DEVFN_VIRTIO_BLK, 0x11);
    const uint8_t hdr[16] = {0}; /* VIRTIO_BLK_T_IN, sector 0 */
    const uint8_t avail[6] = {0, 0, 1, 0, 0, 0}; /* flags, idx 1, ring[0] = head 0 */
    const uint64_t cc = VBLK_MODERN;

    hvmloader_pci_setup(p, PCI_CMD_MASTER);
    cfg_write(p, DEVFN_VIRTIO_BLK, REG_BAR(4), 4, 0xffffffff);
    cfg_read(p, DEVFN_VIRTIO_BLK, REG_BAR(4), 4);
    cfg_write(p, DEVFN_VIRTIO_BLK, REG_BAR(4), 4, (uint32_t)VBLK_MODERN);
    cfg_write(p, DEVFN_VIRTIO_BLK, REG_BAR(5), 4, 0);
    cfg_write(p, DEVFN_VIRTIO_BLK, REG_BAR(1), 4, (uint32_t)VBLK_MSIX);
    cfg_write(p, DEVFN_VIRTIO_BLK, REG_BAR(0), 4, 0xc400);
    cfg_write(p, DEVFN_VIRTIO_BLK, REG_COMMAND, 2, PCI_CMD_IO | PCI_CMD_MEMORY | PCI_CMD_MASTER);
    cfg_write(p, DEVFN_VIRTIO_BLK, cap + 2, 2, 0x8000); /* MSI-X on */
    msix_entry(p, VBLK_MSIX, 0, 0xfee00000, 0x51, false);
    msix_entry(p, VBLK_MSIX, 1, 0xfee00000, 0x52, false);
    fuzz_emit_mmio(p, false, 1, cc + 0x14, 0, 1);    /* device_status: reset */
    fuzz_emit_mmio(p, false, 1, cc + 0x14, 0x01, 1); /* ACKNOWLEDGE */
    fuzz_emit_mmio(p, false, 1, cc + 0x14, 0x03, 1); /* DRIVER */
    fuzz_emit_mmio(p, false, 4, cc + 0x00, 1, 1);    /* device_feature_select 1 */
    fuzz_emit_mmio(p, true, 4, cc + 0x04, 0, 1);
    fuzz_emit_mmio(p, false, 4, cc + 0x08, 1, 1);    /* driver_feature_select 1 */
    fuzz_emit_mmio(p, false, 4, cc + 0x0c, 1, 1);    /* VERSION_1 */
    fuzz_emit_mmio(p, false, 1, cc + 0x14, 0x0b, 1); /* FEATURES_OK */
    fuzz_emit_mmio(p, true, 1, cc + 0x14, 0, 1);
    fuzz_emit_mmio(p, false, 2, cc + 0x10, 0, 1);    /* config vector 0 */
    fuzz_emit_mmio(p, false, 2, cc + 0x16, 0, 1);    /* queue_select 0 */
    fuzz_emit_mmio(p, true, 2, cc + 0x18, 0, 1);
    fuzz_emit_mmio(p, false, 2, cc + 0x18, 8, 1);    /* queue_size 8 */
    fuzz_emit_mmio(p, false, 2, cc + 0x1a, 1, 1);    /* queue vector 1 */
    fuzz_emit_mmio(p, false, 8, cc + 0x20, VQ_DESC, 1);
    fuzz_emit_mmio(p, false, 8, cc + 0x28, VQ_AVAIL, 1);
    fuzz_emit_mmio(p, false, 8, cc + 0x30, VQ_USED, 1);
    fuzz_emit_mmio(p, false, 2, cc + 0x1c, 1, 1);    /* queue_enable */
    fuzz_emit_mmio(p, false, 1, cc + 0x14, 0x0f, 1); /* DRIVER_OK */
    fuzz_emit_mmio(p, true, 8, cc + 0x2000, 0, 1);   /* capacity */
    fuzz_emit_ram(p, VREQ_HDR, hdr, sizeof(hdr));
    virtq_desc(p, 0, VREQ_HDR, sizeof(hdr), 1, 1);        /* NEXT */
    virtq_desc(p, 1, VREQ_DATA, 512, 1 | 2, 2);           /* NEXT | WRITE */
    virtq_desc(p, 2, VREQ_STATUS, 1, 2, 0);               /* WRITE */
    fuzz_emit_ram(p, VQ_AVAIL, avail, sizeof(avail));
    fuzz_emit_mmio(p, true, 2, cc + 0x1e, 0, 1);          /* queue_notify_off */
    fuzz_emit_mmio(p, false, 2, cc + 0x3000, 0, 1);       /* notify queue 0 */
    fuzz_emit_mmio(p, true, 1, cc + 0x1000, 0, 1);        /* ISR */
    fuzz_emit_simple(p, FUZZ_OP_SAVE_LOAD);
    return p;
}

static const char *expect_one_msi(const struct fuzz_accel_record *a)
{
    return a->msis >= 1 ? NULL : "no MSI-X message reached Xen";
}

/* Multi-message MSI with per-vector masking on 00:04.0, then INTx after MSI is off. */
static GByteArray *prog_msi(void)
{
    GByteArray *p = g_byte_array_new();
    unsigned cap = (unsigned)find_cap(DEVFN_TD4, 0x05);

    hvmloader_pci_setup(p, PCI_CMD_MASTER);
    cfg_read(p, DEVFN_TD4, cap + 2, 2);
    cfg_write(p, DEVFN_TD4, cap + 4, 4, 0xfee00000);
    cfg_write(p, DEVFN_TD4, cap + 8, 4, 0);
    cfg_write(p, DEVFN_TD4, cap + 0xc, 2, 0x60);  /* data: vectors 0x60-0x7f */
    cfg_write(p, DEVFN_TD4, cap + 0x10, 4, 0x8);  /* mask vector 3 */
    cfg_write(p, DEVFN_TD4, cap + 2, 2, 0x0051);  /* enable, 32 messages */
    fuzz_emit_mmio(p, false, 4, TD4_REGS + TD_REG_MSI_DOORBELL, 1, 1);
    fuzz_emit_mmio(p, false, 4, TD4_REGS + TD_REG_MSI_DOORBELL, 3, 1); /* pending */
    cfg_read(p, DEVFN_TD4, cap + 0x14, 4);
    cfg_write(p, DEVFN_TD4, cap + 0x10, 4, 0);    /* unmask: vector 3 delivered */
    fuzz_emit_mmio(p, false, 4, TD4_REGS + TD_REG_MSI_DOORBELL, 31, 1);
    fuzz_emit_mmio(p, false, 4, TD4_REGS + TD_REG_MSI_DOORBELL, 32, 1); /* beyond */
    cfg_write(p, DEVFN_TD4, cap + 2, 2, 0x0071);  /* more than capable: clamped */
    /* INTx while MSI is on is held back; it shows once MSI is off. */
    fuzz_emit_mmio(p, false, 4, TD4_REGS + TD_REG_INTX, 1, 1);
    cfg_write(p, DEVFN_TD4, cap + 2, 2, 0);
    cfg_write(p, DEVFN_TD4, REG_COMMAND, 2, 0x0407); /* INTx disable */
    cfg_write(p, DEVFN_TD4, REG_COMMAND, 2, 0x0007);
    cfg_read(p, DEVFN_TD4, 0x06, 2);                 /* status: interrupt bit */
    fuzz_emit_mmio(p, false, 4, TD4_REGS + TD_REG_INTX, 0, 1);
    return p;
}

/* The PIRQ route registers byte by byte and in wider accesses, disabled and reserved bits. */
static GByteArray *prog_pirq(void)
{
    GByteArray *p = g_byte_array_new();

    cfg_write(p, DEVFN_PIIX3, 0x60, 1, 0x05);
    cfg_write(p, DEVFN_PIIX3, 0x61, 1, 0x0a);
    cfg_write(p, DEVFN_PIIX3, 0x60, 4, 0x800b0a05); /* D disabled */
    cfg_write(p, DEVFN_PIIX3, 0x62, 2, 0x7f70);     /* reserved bits 6:4 */
    cfg_port_write(p, DEVFN_PIIX3, 0x63, 1, 0x0f);
    cfg_port_read(p, DEVFN_PIIX3, 0x60, 4);
    cfg_write(p, DEVFN_PIIX3, 0x61, 2, 0x0b0b);     /* word at an odd offset: bytewise */
    cfg_read(p, DEVFN_PIIX3, 0x4c, 4);
    cfg_write(p, DEVFN_PIIX3, 0x60, 4, 0x80808080);
    fuzz_emit_simple(p, FUZZ_OP_RESET);
    cfg_read(p, DEVFN_PIIX3, 0x60, 4);
    return p;
}

#define PM_BASE 0xb000
#define PM1_STS (PM_BASE + 0)
#define PM1_EN (PM_BASE + 2)
#define PM1_CNT (PM_BASE + 4)
#define PM_TMR (PM_BASE + 8)
#define SLP_EN 0x2000u
#define SLP_TYP(n) ((n) << 10)

/* ACPI: PM block, SCI from GPE0 and the power button bits, then S3, S5 and 0xCF9 resets. */
static GByteArray *prog_acpi_sleep(void)
{
    GByteArray *p = g_byte_array_new();

    cfg_write(p, DEVFN_PM, 0x40, 4, PM_BASE | 1);
    cfg_write(p, DEVFN_PM, 0x80, 1, 1);
    fuzz_emit_pio(p, false, 2, PM1_CNT, 1);           /* SCI_EN */
    fuzz_emit_pio(p, false, 2, PM1_EN, 0x0121);       /* power button, GBL, timer */
    fuzz_emit_pio(p, true, 4, PM_TMR, 0);
    fuzz_emit_pio(p, true, 2, PM1_STS, 0);
    fuzz_emit_pio(p, false, 2, 0xafe2, 0x0004);       /* GPE0_EN bit 2 */
    fuzz_emit_pio(p, true, 4, 0xafe0, 0);
    fuzz_emit_pio(p, false, 2, 0xafe0, 0xffff);       /* W1C */
    fuzz_emit_pio(p, true, 4, 0xaf00, 0);             /* CPU bitmap */
    fuzz_emit_pio(p, false, 4, 0xae08, 0x10);         /* eject: ignored */
    fuzz_emit_pio(p, false, 2, PM1_CNT, SLP_TYP(1) | SLP_EN | 1); /* S3 */
    fuzz_emit_simple(p, FUZZ_OP_RESET);
    cfg_write(p, DEVFN_PM, 0x40, 4, PM_BASE | 1);
    cfg_write(p, DEVFN_PM, 0x80, 1, 1);
    fuzz_emit_pio(p, false, 1, PM1_CNT + 1, (SLP_TYP(5) | SLP_EN) >> 8); /* undefined type */
    fuzz_emit_pio(p, false, 1, PM1_CNT + 1, (SLP_TYP(0) | SLP_EN) >> 8); /* S5 */
    fuzz_emit_simple(p, FUZZ_OP_RESET);
    fuzz_emit_pio(p, true, 1, 0xcf9, 0);
    fuzz_emit_pio(p, false, 1, 0xcf9, 0x02);          /* SRST alone: no reset */
    fuzz_emit_pio(p, false, 1, 0xcf9, 0x06);          /* hard reset */
    fuzz_emit_pio(p, false, 2, 0xcf8, 0x0600);        /* not CONFADD, not the RCR byte */
    return p;
}

#define SMB 0xb100 /* SMBBA at reset, as on qemu-xen */

/* One SMBus host transaction (82371AB §7.4): clear status, address, command, start. */
static void smbus_transaction(GByteArray *p, uint8_t addr7, bool read, uint8_t cmd,
                              uint8_t protocol, uint8_t data0)
{
    fuzz_emit_pio(p, false, 1, SMB + 0x00, 0xff);
    fuzz_emit_pio(p, false, 1, SMB + 0x04, (uint8_t)(addr7 << 1 | read));
    fuzz_emit_pio(p, false, 1, SMB + 0x03, cmd);
    fuzz_emit_pio(p, false, 1, SMB + 0x05, data0);
    fuzz_emit_pio(p, false, 1, SMB + 0x02, (uint8_t)(0x40 | protocol << 2 | 1)); /* START */
    fuzz_emit_pio(p, true, 1, SMB + 0x00, 0);
    fuzz_emit_pio(p, true, 2, SMB + 0x05, 0);
}

/* i2c-piix4 reading the SPD EEPROMs: byte, word and block reads, a write, errors, KILL. */
static GByteArray *prog_smbus_spd(void)
{
    GByteArray *p = g_byte_array_new();

    cfg_read(p, DEVFN_PM, 0x90, 4);
    cfg_read(p, DEVFN_PM, 0xd2, 1);
    smbus_transaction(p, 0x50, true, 0x00, 2, 0);   /* byte data */
    smbus_transaction(p, 0x50, true, 0x02, 3, 0);   /* word data */
    smbus_transaction(p, 0x51, true, 0x00, 5, 0);   /* block */
    fuzz_emit_pio(p, true, 1, SMB + 0x02, 0);       /* resets the block index */
    fuzz_emit_pio_rep(p, FUZZ_F_READ, 1, SMB + 0x07, 33, DMA_BUF);
    smbus_transaction(p, 0x52, false, 0x10, 2, 0x5a); /* byte write */
    smbus_transaction(p, 0x30, true, 0x00, 2, 0);   /* nobody there: DEV_ERR, SCI */
    fuzz_emit_pio(p, false, 1, SMB + 0x02, 0x02);   /* KILL */
    fuzz_emit_pio(p, true, 4, SMB + 0x08, 0);
    fuzz_emit_pio(p, false, 1, SMB + 0x00, 0xff);
    cfg_write(p, DEVFN_PM, 0x90, 4, 0xb201);        /* move the host registers */
    cfg_write(p, DEVFN_PM, 0xd2, 1, 0x00);          /* and disable them */
    fuzz_emit_pio(p, true, 1, 0xb200, 0);
    fuzz_emit_simple(p, FUZZ_OP_SAVE_LOAD);
    return p;
}

/* PV drivers' start-up: magic, version, product and build, log, unplug, ROM lock. */
static GByteArray *prog_platform_unplug(void)
{
    GByteArray *p = g_byte_array_new();
    static const char line[] = "xen pv drivers\n";

    fuzz_emit_pio(p, true, 2, 0x10, 0);      /* magic 0x49d2 */
    fuzz_emit_pio(p, true, 1, 0x12, 0);      /* protocol version */
    fuzz_emit_pio(p, false, 2, 0x12, 3);     /* product number */
    fuzz_emit_pio(p, false, 4, 0x10, 0x1234); /* build */
    for (size_t i = 0; i < sizeof(line) - 1; i++) {
        fuzz_emit_pio(p, false, 1, 0x12, (uint8_t)line[i]);
    }
    fuzz_emit_pio(p, false, 2, 0x10, 0x0003); /* unplug disks and NICs */
    fuzz_emit_pio(p, false, 2, 0x10, 0x00f4); /* aux IDE, and unknown bits */
    fuzz_emit_pio(p, false, 1, 0x10, 0x01);   /* lock the ROM area */
    fuzz_emit_pio(p, true, 1, 0x10, 0);
    fuzz_emit_pio(p, false, 1, 0x10, 0x00);   /* unlock */
    fuzz_emit_pio(p, false, 1, 0x11, 0x01);   /* nothing there */
    /* The same through BAR0, where hvmloader put it. */
    cfg_write(p, DEVFN_PLATFORM, REG_BAR(0), 4, PLATFORM_IO);
    cfg_write(p, DEVFN_PLATFORM, REG_COMMAND, 2, PCI_CMD_IO | PCI_CMD_MEMORY);
    fuzz_emit_pio(p, false, 1, PLATFORM_IO + 0, 1);
    fuzz_emit_pio(p, false, 1, PLATFORM_IO + 4, 1);
    fuzz_emit_pio(p, false, 1, PLATFORM_IO + 8, 2);
    fuzz_emit_pio(p, false, 4, PLATFORM_IO + 8, 0x0a216968); /* "hi!\n", byte by byte */
    fuzz_emit_pio(p, true, 4, PLATFORM_IO, 0);
    fuzz_emit_simple(p, FUZZ_OP_RESET);       /* unlocks the ROM area again */
    return p;
}

/*
 * Two functions of slot 4 assert INTA, then one lets go. The pin is wired-OR across the
 * slot's functions (PCI 3.0 §2.2.6), and Xen keeps one bit per slot and pin, not a count
 * (reference §3): the line must stay up until both have let go.
 */
static GByteArray *prog_intx_shared_slot(void)
{
    GByteArray *p = g_byte_array_new();

    hvmloader_pci_setup(p, 0);
    fuzz_emit_mmio(p, false, 4, TD4_REGS + TD_REG_INTX, 1, 1);
    fuzz_emit_mmio(p, false, 4, TD41_REGS + TD_REG_INTX, 1, 1);
    fuzz_emit_mmio(p, false, 4, TD4_REGS + TD_REG_INTX, 0, 1);
    fuzz_emit_mmio(p, false, 4, TD41_REGS + TD_REG_INTX, 0, 1);
    return p;
}

/* MSI-X entry 0 of 00:03.0 programmed with `addr`, unmasked and rung. */
static GByteArray *msix_one_message(uint16_t extra_command, uint64_t addr)
{
    GByteArray *p = g_byte_array_new();
    unsigned cap = (unsigned)find_cap(DEVFN_TD3, 0x11);

    hvmloader_pci_setup(p, extra_command);
    cfg_write(p, DEVFN_TD3, cap + 2, 2, 0x8000);
    msix_entry(p, TD3_MSIX, 0, addr, 0x41, false);
    fuzz_emit_mmio(p, false, 4, TD3_REGS + TD_REG_MSIX_DOORBELL, 0, 1);
    return p;
}

/*
 * An MSI is a memory write; one whose address is not in the local APIC window
 * 0xFEE00000-0xFEEFFFFF (Intel SDM vol. 3 §10.11.1) is a DMA write to that address, not an
 * interrupt. Xen's inject_msi takes whatever it is given and decodes the destination from
 * bits 19:12, so the guest gets an interrupt real hardware would not give.
 */
static GByteArray *prog_msi_outside_apic(void)
{
    return msix_one_message(PCI_CMD_MASTER, 0x1000);
}

/* Bus mastering off: the function cannot write, so it cannot signal MSI (PCI 3.0 §6.2.2). */
static GByteArray *prog_msi_without_bus_master(void)
{
    return msix_one_message(0, 0xfee00000);
}

/* ---- what each seed must have made the machine do (it would be no seed otherwise) ---- */

/* ---- fuzz-ide programs (fuzz-ide.c's language) ---- */

#define ATA_DEV_LBA 0xe0u   /* LBA, device 0 (bits 7 and 5 obsolete, set) */
#define IDE_DMA_BUF 0x40000u

static void ide_put(GByteArray *p, uint64_t v, unsigned width)
{
    for (unsigned i = 0; i < width; i++) {
        uint8_t b = (uint8_t)(v >> (8 * i));
        g_byte_array_append(p, &b, 1);
    }
}

static void ide_op(GByteArray *p, enum fuzz_ide_op op)
{
    ide_put(p, op, 1);
}

/* The task file and a command; LBA48 (flags & FUZZ_IDE_LBA48) takes 16-bit counts. */
static void ide_command(GByteArray *p, unsigned flags, uint8_t feature, uint16_t count,
                        uint64_t lba, uint8_t device, uint8_t command)
{
    ide_op(p, FUZZ_IDE_COMMAND);
    ide_put(p, flags, 1);
    ide_put(p, feature, 1);
    ide_put(p, count & 0xff, 1);
    ide_put(p, lba & 0xffffff, 3);
    ide_put(p, device, 1);
    ide_put(p, command, 1);
    if (flags & FUZZ_IDE_LBA48) {
        ide_put(p, count >> 8, 1);
        ide_put(p, (lba >> 24) & 0xffffff, 3);
        ide_put(p, 0, 1);
    }
}

static void ide_data(GByteArray *p, bool in, unsigned flags, uint16_t items, uint32_t fill)
{
    ide_op(p, in ? FUZZ_IDE_DATA_IN : FUZZ_IDE_DATA_OUT);
    ide_put(p, flags, 1);
    ide_put(p, items, 2);
    if (!in) {
        ide_put(p, fill, 4);
    }
}

static void ide_packet(GByteArray *p, unsigned flags, uint16_t limit, const uint8_t cdb[12])
{
    ide_op(p, FUZZ_IDE_PACKET);
    ide_put(p, flags, 1);
    ide_put(p, limit, 2);
    g_byte_array_append(p, cdb, 12);
}

static void ide_reg_read(GByteArray *p, unsigned ch, unsigned reg)
{
    ide_op(p, FUZZ_IDE_REG_READ);
    ide_put(p, ch | reg << 1, 1);
}

static void ide_devctl(GByteArray *p, unsigned ch, uint8_t value)
{
    ide_op(p, FUZZ_IDE_DEVCTL);
    ide_put(p, ch, 1);
    ide_put(p, value, 1);
}

/* Bus-master register `reg` of channel ch: 1-byte accesses (the command and status). */
static void ide_bm_write(GByteArray *p, unsigned ch, unsigned reg, uint8_t value)
{
    ide_op(p, FUZZ_IDE_BM_WRITE);
    ide_put(p, ch | reg << 1, 1);
    ide_put(p, value, 4);
}

static void ide_bm_read(GByteArray *p, unsigned ch, unsigned reg)
{
    ide_op(p, FUZZ_IDE_BM_READ);
    ide_put(p, ch | reg << 1, 1);
}

static void ide_prd(GByteArray *p, unsigned ch, bool eot, uint8_t entry, uint32_t addr,
                    uint16_t count)
{
    ide_op(p, FUZZ_IDE_PRD);
    ide_put(p, ch | (eot ? FUZZ_IDE_EOT : 0), 1);
    ide_put(p, entry, 1);
    ide_put(p, addr, 4);
    ide_put(p, count, 2);
}

static void ide_medium(GByteArray *p, uint8_t which, uint8_t action)
{
    ide_op(p, FUZZ_IDE_MEDIUM);
    ide_put(p, which, 1);
    ide_put(p, action, 1);
}

/* A status read, as a driver's interrupt handler acknowledges the interrupt. */
static void ide_ack(GByteArray *p, unsigned ch)
{
    ide_reg_read(p, ch, 7);
}

static void cdb10(uint8_t *cdb, uint8_t op, uint32_t lba, uint16_t len)
{
    memset(cdb, 0, 12);
    cdb[0] = op;
    cdb[2] = (uint8_t)(lba >> 24);
    cdb[3] = (uint8_t)(lba >> 16);
    cdb[4] = (uint8_t)(lba >> 8);
    cdb[5] = (uint8_t)lba;
    cdb[7] = (uint8_t)(len >> 8);
    cdb[8] = (uint8_t)len;
}

static void cdb6(uint8_t *cdb, uint8_t op, uint8_t b1, uint8_t b2, uint8_t b4)
{
    memset(cdb, 0, 12);
    cdb[0] = op;
    cdb[1] = b1;
    cdb[2] = b2;
    cdb[4] = b4;
}

/* IDENTIFY DEVICE on both disks, IDENTIFY PACKET DEVICE on the CD-ROM, a disk's ABRT. */
static GByteArray *ide_identify(void)
{
    GByteArray *p = g_byte_array_new();

    ide_command(p, 0, 0, 0, 0, 0xa0, 0xec);
    ide_ack(p, 0);
    ide_data(p, true, 0, 256, 0);
    ide_command(p, FUZZ_IDE_UNIT1, 0, 0, 0, 0xb0, 0xec);
    ide_data(p, true, FUZZ_IDE_DWORDS, 128, 0);
    ide_command(p, FUZZ_IDE_CH1, 0, 0, 0, 0xa0, 0xec);     /* a CD-ROM aborts IDENTIFY */
    ide_reg_read(p, 1, 4);
    ide_reg_read(p, 1, 5);                                  /* 14h EBh: the ATAPI signature */
    ide_command(p, FUZZ_IDE_CH1, 0, 0, 0, 0xa0, 0xa1);
    ide_data(p, true, FUZZ_IDE_CH1 | FUZZ_IDE_REP, 256, 0);
    ide_command(p, 0, 0x03, 0x45, 0, 0xa0, 0xef);           /* SET FEATURES: UDMA 5 */
    ide_command(p, 0, 0x82, 0, 0, 0xa0, 0xef);              /* write cache off */
    ide_command(p, 0, 0, 0, 0, 0xa0, 0xe5);                 /* CHECK POWER MODE */
    ide_reg_read(p, 0, 2);
    return p;
}

/* PIO READ SECTORS and WRITE SECTORS, each block after its interrupt. */
static GByteArray *ide_pio_read_write(void)
{
    GByteArray *p = g_byte_array_new();

    ide_command(p, 0, 0, 3, 2, ATA_DEV_LBA, 0x20);
    for (unsigned i = 0; i < 3; i++) {
        ide_op(p, FUZZ_IDE_DRAIN);
        ide_ack(p, 0);
        ide_data(p, true, 0, 256, 0);
    }
    ide_command(p, 0, 0, 2, 10, ATA_DEV_LBA, 0x30);
    ide_data(p, false, 0, 256, 0xa55a);
    ide_op(p, FUZZ_IDE_DRAIN);
    ide_ack(p, 0);
    ide_data(p, false, FUZZ_IDE_DWORDS, 128, 0x12345678);
    ide_op(p, FUZZ_IDE_DRAIN);
    ide_ack(p, 0);
    /* CHS: cylinder 0, head 1, sector 5 of the default 16/63 geometry. */
    ide_command(p, 0, 0, 1, 5, 0xa1, 0x20);
    ide_op(p, FUZZ_IDE_DRAIN);
    ide_data(p, true, 0, 256, 0);
    /* The read-only disk refuses a write; a read past its end is IDNF. */
    ide_command(p, FUZZ_IDE_UNIT1, 0, 1, 0, ATA_DEV_LBA | 0x10, 0x30);
    ide_command(p, FUZZ_IDE_UNIT1, 0, 2, 66, ATA_DEV_LBA | 0x10, 0x20);
    ide_ack(p, 0);
    ide_command(p, 0, 0, 1, 0, ATA_DEV_LBA, 0xe7);          /* FLUSH CACHE */
    ide_op(p, FUZZ_IDE_DRAIN);
    ide_ack(p, 0);
    return p;
}

/* SET MULTIPLE 8, READ MULTIPLE of 20 sectors (8 + 8 + 4), WRITE MULTIPLE of 10. */
static GByteArray *ide_read_multiple(void)
{
    GByteArray *p = g_byte_array_new();

    ide_command(p, 0, 0, 8, 0, ATA_DEV_LBA, 0xc6);
    ide_ack(p, 0);
    ide_command(p, 0, 0, 20, 100, ATA_DEV_LBA, 0xc4);
    for (unsigned block = 0; block < 3; block++) {
        ide_op(p, FUZZ_IDE_DRAIN);
        ide_ack(p, 0);
        ide_data(p, true, FUZZ_IDE_REP, block < 2 ? 8 * 256 : 4 * 256, 0);
    }
    ide_command(p, 0, 0, 10, 200, ATA_DEV_LBA, 0xc5);
    ide_data(p, false, FUZZ_IDE_DWORDS, 8 * 128, 0xdeadbeef);
    ide_op(p, FUZZ_IDE_DRAIN);
    ide_ack(p, 0);
    ide_data(p, false, 0, 2 * 256, 0x0101);
    ide_op(p, FUZZ_IDE_DRAIN);
    ide_ack(p, 0);
    ide_command(p, 0, 0, 3, 0, ATA_DEV_LBA, 0xc6);          /* not a power of two: ABRT */
    return p;
}

/* READ DMA of 16 sectors through two PRD entries, WRITE DMA, then 512 sectors (chunks). */
static GByteArray *ide_dma_read_write(void)
{
    GByteArray *p = g_byte_array_new();

    ide_prd(p, 0, false, 0, IDE_DMA_BUF, 0x1000);
    ide_prd(p, 0, true, 1, IDE_DMA_BUF + 0x10000, 0x1000);
    ide_command(p, 0, 0, 16, 8, ATA_DEV_LBA, 0xc8);
    ide_bm_write(p, 0, 0, 0x09);                            /* start, bus master writes */
    ide_op(p, FUZZ_IDE_DRAIN);
    ide_bm_read(p, 0, 2);
    ide_ack(p, 0);
    ide_bm_write(p, 0, 0, 0x00);
    ide_bm_write(p, 0, 2, 0x06);                            /* clear INTR and ERROR */
    ide_command(p, 0, 0, 8, 300, ATA_DEV_LBA, 0xca);
    ide_bm_write(p, 0, 0, 0x01);
    ide_op(p, FUZZ_IDE_DRAIN);
    ide_ack(p, 0);
    ide_bm_write(p, 0, 0, 0x00);
    /* 256 KiB: two chunks of the bus master, four 64 KiB entries (count 0). */
    for (unsigned i = 0; i < 4; i++) {
        ide_prd(p, 0, i == 3, (uint8_t)i, IDE_DMA_BUF + i * 0x10000, 0);
    }
    ide_command(p, 0, 0, 0, 512, ATA_DEV_LBA, 0xc8);        /* count 0: 256 sectors */
    ide_bm_write(p, 0, 0, 0x09);
    ide_op(p, FUZZ_IDE_DRAIN);
    ide_bm_read(p, 0, 2);
    ide_ack(p, 0);
    ide_bm_write(p, 0, 0, 0x00);
    /* A table shorter than the transfer: no interrupt, ACTIVE clear. */
    ide_prd(p, 0, true, 0, IDE_DMA_BUF, 0x200);
    ide_command(p, 0, 0, 4, 0, ATA_DEV_LBA, 0xc8);
    ide_bm_write(p, 0, 0, 0x09);
    ide_op(p, FUZZ_IDE_DRAIN);
    ide_bm_read(p, 0, 2);
    ide_bm_write(p, 0, 0, 0x00);
    return p;
}

/* LBA48: READ SECTORS EXT, READ DMA EXT, READ NATIVE MAX EXT, an address past the end. */
static GByteArray *ide_lba48(void)
{
    GByteArray *p = g_byte_array_new();

    ide_command(p, FUZZ_IDE_LBA48, 0, 2, 0x7fe, 0x40, 0x24);
    ide_op(p, FUZZ_IDE_DRAIN);
    ide_data(p, true, 0, 256, 0);
    ide_op(p, FUZZ_IDE_DRAIN);
    ide_data(p, true, 0, 256, 0);
    ide_prd(p, 0, true, 0, IDE_DMA_BUF, 0);
    ide_command(p, FUZZ_IDE_LBA48, 0, 0x40, 0x10, 0x40, 0x25);
    ide_bm_write(p, 0, 0, 0x09);
    ide_op(p, FUZZ_IDE_DRAIN);
    ide_bm_write(p, 0, 0, 0x00);
    ide_command(p, FUZZ_IDE_LBA48, 0, 0, 0, 0x40, 0x27);
    ide_devctl(p, 0, 0x80);                                 /* HOB: the high bytes */
    ide_reg_read(p, 0, 3);
    ide_devctl(p, 0, 0x00);
    ide_command(p, FUZZ_IDE_LBA48, 0, 1, 0x100000000ull, 0x40, 0x24);
    ide_command(p, FUZZ_IDE_LBA48, 0, 0, 0, 0x40, 0x34);    /* count 0: 65536 sectors */
    ide_ack(p, 0);
    return p;
}

/* ATAPI by PIO: INQUIRY, the unit attention, REQUEST SENSE, READ CAPACITY, READ(10). */
static GByteArray *ide_atapi_pio(void)
{
    GByteArray *p = g_byte_array_new();
    uint8_t cdb[12];
    const unsigned ch = FUZZ_IDE_CH1;

    cdb6(cdb, 0x12, 0, 0, 36);
    ide_packet(p, ch, 0xfffe, cdb);
    ide_ack(p, 1);
    ide_reg_read(p, 1, 2);                                  /* interrupt reason */
    ide_data(p, true, ch, 18, 0);
    ide_ack(p, 1);
    cdb6(cdb, 0x00, 0, 0, 0);                               /* TEST UNIT READY */
    ide_packet(p, ch, 0, cdb);
    ide_reg_read(p, 1, 1);
    cdb6(cdb, 0x03, 0, 0, 18);                              /* REQUEST SENSE */
    ide_packet(p, ch, 18, cdb);
    ide_data(p, true, ch, 9, 0);
    cdb10(cdb, 0x25, 0, 0);
    ide_packet(p, ch, 8, cdb);
    ide_data(p, true, ch, 4, 0);
    /* READ(10) of the volume descriptors, in DRQ blocks of 2048 bytes. */
    cdb10(cdb, 0x28, 16, 2);
    ide_packet(p, ch, 2048, cdb);
    for (unsigned i = 0; i < 2; i++) {
        ide_op(p, FUZZ_IDE_DRAIN);
        ide_ack(p, 1);
        ide_reg_read(p, 1, 4);
        ide_data(p, true, ch | FUZZ_IDE_REP, 1024, 0);
    }
    ide_ack(p, 1);
    /* An odd byte count limit: blocks of whole words but the last. */
    cdb10(cdb, 0x43, 0, 0x20);                              /* READ TOC */
    ide_packet(p, ch, 7, cdb);
    ide_data(p, true, ch, 16, 0);
    return p;
}

/* ATAPI by DMA: INQUIRY from the drive's buffer, READ(10) of 4 sectors from the medium. */
static GByteArray *ide_atapi_dma(void)
{
    GByteArray *p = g_byte_array_new();
    uint8_t cdb[12];
    const unsigned ch = FUZZ_IDE_CH1 | FUZZ_IDE_DMA;

    ide_prd(p, 1, true, 0, IDE_DMA_BUF, 0x2000);
    cdb6(cdb, 0x00, 0, 0, 0);
    ide_packet(p, FUZZ_IDE_CH1, 0, cdb);                    /* the unit attention, by PIO */
    cdb6(cdb, 0x12, 0, 0, 96);
    ide_packet(p, ch, 0, cdb);
    ide_bm_write(p, 1, 0, 0x09);
    ide_op(p, FUZZ_IDE_DRAIN);
    ide_bm_read(p, 1, 2);
    ide_ack(p, 1);
    ide_bm_write(p, 1, 0, 0x00);
    ide_bm_write(p, 1, 2, 0x06);
    cdb10(cdb, 0x28, 15, 4);
    ide_packet(p, ch, 0, cdb);
    ide_bm_write(p, 1, 0, 0x09);
    ide_op(p, FUZZ_IDE_DRAIN);
    ide_ack(p, 1);
    ide_bm_write(p, 1, 0, 0x00);
    /* READ(12) past the end of the medium: CHECK CONDITION, nothing moves. */
    memset(cdb, 0, sizeof(cdb));
    cdb[0] = 0xa8;
    cdb[5] = 47;
    cdb[9] = 2;
    ide_packet(p, ch, 0, cdb);
    ide_reg_read(p, 1, 1);
    return p;
}

/* The empty drive and the loaded one: sense, events, mode pages, configuration. */
static GByteArray *ide_request_sense(void)
{
    GByteArray *p = g_byte_array_new();
    uint8_t cdb[12];
    const unsigned empty = FUZZ_IDE_CH1 | FUZZ_IDE_UNIT1;

    cdb6(cdb, 0x00, 0, 0, 0);
    ide_packet(p, empty, 0, cdb);                           /* NOT READY, 3A/01 */
    ide_reg_read(p, 1, 1);
    cdb6(cdb, 0x03, 0, 0, 252);
    ide_packet(p, empty, 0xfffe, cdb);
    ide_data(p, true, empty, 9, 0);
    memset(cdb, 0, sizeof(cdb));
    cdb[0] = 0x4a;                                          /* GET EVENT STATUS, media */
    cdb[1] = 1;
    cdb[4] = 0x10;
    cdb[8] = 8;
    ide_packet(p, FUZZ_IDE_CH1, 0xfffe, cdb);
    ide_data(p, true, FUZZ_IDE_CH1, 4, 0);
    cdb10(cdb, 0x5a, 0, 0xffff);                            /* MODE SENSE(10), all pages */
    cdb[2] = 0x3f;
    ide_packet(p, FUZZ_IDE_CH1, 0xfffe, cdb);
    ide_data(p, true, FUZZ_IDE_CH1 | FUZZ_IDE_REP, 64, 0);
    cdb10(cdb, 0x46, 0, 0x1000);                            /* GET CONFIGURATION */
    ide_packet(p, FUZZ_IDE_CH1, 0x100, cdb);
    ide_data(p, true, FUZZ_IDE_CH1, 128, 0);
    return p;
}

/* Software reset mid-PIO, mid-DMA with a request in flight, and mid-ATAPI reply. */
static GByteArray *ide_srst_mid_transfer(void)
{
    GByteArray *p = g_byte_array_new();
    uint8_t cdb[12];

    ide_command(p, 0, 0, 64, 0, ATA_DEV_LBA, 0xc4);         /* READ MULTIPLE, 16 a block */
    ide_op(p, FUZZ_IDE_DRAIN);
    ide_data(p, true, 0, 100, 0);
    ide_devctl(p, 0, 0x04);
    ide_ack(p, 0);
    ide_devctl(p, 0, 0x00);
    ide_ack(p, 0);
    ide_reg_read(p, 0, 1);                                  /* diagnostic code 01h */
    ide_prd(p, 0, true, 0, IDE_DMA_BUF, 0);
    ide_command(p, 0, 0, 128, 0, ATA_DEV_LBA, 0xc8);
    ide_bm_write(p, 0, 0, 0x09);                            /* in flight now */
    ide_devctl(p, 0, 0x04);
    ide_devctl(p, 0, 0x00);
    ide_op(p, FUZZ_IDE_DRAIN);
    ide_bm_read(p, 0, 2);
    ide_bm_write(p, 0, 0, 0x00);
    ide_command(p, 0, 0, 8, 0, ATA_DEV_LBA, 0x30);          /* WRITE, then reset mid-block */
    ide_data(p, false, 0, 100, 0x1111);
    ide_devctl(p, 0, 0x06);
    ide_devctl(p, 0, 0x02);
    cdb10(cdb, 0x28, 0, 8);
    ide_packet(p, FUZZ_IDE_CH1, 0x800, cdb);
    ide_op(p, FUZZ_IDE_DRAIN);
    ide_data(p, true, FUZZ_IDE_CH1, 300, 0);
    ide_devctl(p, 1, 0x04);
    ide_devctl(p, 1, 0x00);
    ide_ack(p, 1);
    ide_command(p, 0, 0, 4, 0, ATA_DEV_LBA, 0x20);          /* a machine reset in flight */
    ide_op(p, FUZZ_IDE_RESET);
    return p;
}

/* The tray locked by the guest, QMP eject refused then forced, a new medium, PV unplug. */
static GByteArray *ide_medium_and_unplug(void)
{
    GByteArray *p = g_byte_array_new();
    uint8_t cdb[12];

    cdb6(cdb, 0x1e, 0, 0, 1);                               /* PREVENT MEDIUM REMOVAL */
    ide_packet(p, FUZZ_IDE_CH1, 0, cdb);
    ide_medium(p, 0, 0);                                    /* refused: locked */
    ide_medium(p, 0, 1);                                    /* forced */
    cdb6(cdb, 0x00, 0, 0, 0);
    ide_packet(p, FUZZ_IDE_CH1, 0, cdb);
    ide_medium(p, 0, 3);                                    /* the small disc */
    ide_medium(p, 1, 2);                                    /* the empty drive gets one */
    ide_packet(p, FUZZ_IDE_CH1, 0, cdb);
    cdb10(cdb, 0x28, 4, 2);                                 /* past the small disc's end */
    ide_packet(p, FUZZ_IDE_CH1, 0x800, cdb);
    ide_reg_read(p, 1, 1);
    cdb6(cdb, 0x1b, 0, 0, 0x02);                            /* START STOP: open the tray */
    ide_packet(p, FUZZ_IDE_CH1 | FUZZ_IDE_UNIT1, 0, cdb);
    /* A PIO read on the disk, then the PV drivers take the disks away. */
    ide_command(p, 0, 0, 8, 0, ATA_DEV_LBA, 0x20);
    ide_op(p, FUZZ_IDE_PIO);
    ide_put(p, 1 | 1u << 2, 1);                             /* inw 0x10: the magic */
    ide_put(p, 0x10, 2);
    ide_put(p, 0, 4);
    ide_op(p, FUZZ_IDE_PIO);
    ide_put(p, 1u << 2, 1);                                 /* outw 0x10: unplug IDE disks */
    ide_put(p, 0x10, 2);
    ide_put(p, 0x0001, 4);
    ide_op(p, FUZZ_IDE_DRAIN);
    ide_data(p, true, 0, 16, 0);
    ide_ack(p, 0);
    ide_op(p, FUZZ_IDE_SAVE_LOAD);
    return p;
}

static void write_ide_seeds(const char *dir)
{
    write_bytes(dir, "identify", ide_identify());
    write_bytes(dir, "pio-read-write", ide_pio_read_write());
    write_bytes(dir, "read-write-multiple", ide_read_multiple());
    write_bytes(dir, "dma-read-write", ide_dma_read_write());
    write_bytes(dir, "lba48", ide_lba48());
    write_bytes(dir, "atapi-pio-inquiry-read10", ide_atapi_pio());
    write_bytes(dir, "atapi-dma-inquiry-read10", ide_atapi_dma());
    write_bytes(dir, "atapi-request-sense", ide_request_sense());
    write_bytes(dir, "srst-mid-transfer", ide_srst_mid_transfer());
    write_bytes(dir, "medium-change-and-unplug", ide_medium_and_unplug());
}

/* ---- fuzz-mmc: command packets on a drive whose medium comes and goes ---- */

enum { MMC_IMAGE_NONE, MMC_IMAGE_EMPTY, MMC_IMAGE_SMALL, MMC_IMAGE_CD, MMC_IMAGE_DVD,
       MMC_IMAGE_HUGE };

static void mmc_cdb(GByteArray *p, const uint8_t cdb[12])
{
    ide_put(p, 0, 1);
    g_byte_array_append(p, cdb, 12);
}

static void mmc_medium(GByteArray *p, uint8_t action, uint8_t image)
{
    ide_put(p, 1, 1);
    ide_put(p, action, 1);
    ide_put(p, image, 1);
}

/* What Linux's sr and udev's cdrom_id ask of a new drive, then reads of every kind. */
static GByteArray *mmc_linux_probe(uint8_t image)
{
    GByteArray *p = g_byte_array_new();
    uint8_t cdb[12];

    ide_put(p, image, 1);
    cdb6(cdb, 0x12, 0, 0, 36);
    mmc_cdb(p, cdb);
    cdb6(cdb, 0x12, 1, 0x83, 0xff);                         /* VPD device identification */
    mmc_cdb(p, cdb);
    cdb6(cdb, 0x00, 0, 0, 0);
    mmc_cdb(p, cdb);
    cdb6(cdb, 0x03, 0, 0, 18);
    mmc_cdb(p, cdb);
    cdb10(cdb, 0x25, 0, 0);
    mmc_cdb(p, cdb);
    cdb10(cdb, 0x5a, 0, 0x100);
    cdb[2] = 0x2a;
    mmc_cdb(p, cdb);
    cdb6(cdb, 0x1a, 0, 0x3f, 0xff);
    mmc_cdb(p, cdb);
    cdb10(cdb, 0x46, 0, 0xffff);
    mmc_cdb(p, cdb);
    for (uint8_t format = 0; format < 3; format++) {
        cdb10(cdb, 0x43, 0, 0xffff);
        cdb[1] = 0x02;                                      /* MSF */
        cdb[2] = format;
        mmc_cdb(p, cdb);
    }
    cdb10(cdb, 0x51, 0, 34);
    mmc_cdb(p, cdb);
    cdb10(cdb, 0x52, 0, 48);
    cdb[1] = 1;
    cdb[5] = 1;
    mmc_cdb(p, cdb);
    cdb10(cdb, 0x42, 0, 24);
    cdb[1] = 2;
    cdb[2] = 0x40;
    cdb[3] = 1;
    mmc_cdb(p, cdb);
    memset(cdb, 0, sizeof(cdb));
    cdb[0] = 0x4a;
    cdb[1] = 1;
    cdb[4] = 0x10;
    cdb[8] = 8;
    mmc_cdb(p, cdb);
    cdb10(cdb, 0x28, 16, 2);
    mmc_cdb(p, cdb);
    cdb10(cdb, 0x28, 0xfffffff0u, 0x20);                    /* wraps in 32 bits */
    mmc_cdb(p, cdb);
    memset(cdb, 0, sizeof(cdb));
    cdb[0] = 0xbe;                                          /* READ CD, user data */
    cdb[5] = 3;
    cdb[8] = 1;
    cdb[9] = 0x10;
    mmc_cdb(p, cdb);
    cdb10(cdb, 0x2b, 5, 0);
    mmc_cdb(p, cdb);
    memset(cdb, 0, sizeof(cdb));
    cdb[0] = 0xbd;
    cdb[9] = 8;
    mmc_cdb(p, cdb);
    return p;
}

/* The tray: locked, eject refused, forced, a disc inserted, START STOP UNIT both ways. */
static GByteArray *mmc_tray(void)
{
    GByteArray *p = g_byte_array_new();
    uint8_t cdb[12];

    ide_put(p, MMC_IMAGE_CD, 1);
    cdb6(cdb, 0x1e, 0, 0, 1);
    mmc_cdb(p, cdb);
    mmc_medium(p, 0, 0);
    cdb6(cdb, 0x1b, 0, 0, 0x02);                            /* open: prevented */
    mmc_cdb(p, cdb);
    mmc_medium(p, 1, 0);
    cdb6(cdb, 0x00, 0, 0, 0);
    mmc_cdb(p, cdb);
    mmc_medium(p, 2, MMC_IMAGE_DVD);
    mmc_cdb(p, cdb);                                        /* unit attention */
    cdb10(cdb, 0x46, 0, 0x20);
    cdb[1] = 1;
    mmc_cdb(p, cdb);
    cdb6(cdb, 0x1b, 0, 0, 0x02);
    mmc_cdb(p, cdb);
    cdb6(cdb, 0x1b, 0, 0, 0x03);                            /* close: the disc is back */
    mmc_cdb(p, cdb);
    ide_put(p, 3, 1);                                       /* a failed sector read */
    cdb6(cdb, 0x03, 0, 0, 18);
    mmc_cdb(p, cdb);
    ide_put(p, 2, 1);                                       /* reset */
    mmc_medium(p, 2, MMC_IMAGE_EMPTY);
    cdb10(cdb, 0x25, 0, 0);
    mmc_cdb(p, cdb);
    mmc_cdb(p, cdb);
    return p;
}

static void write_mmc_seeds(const char *dir)
{
    write_bytes(dir, "linux-probe-cd", mmc_linux_probe(MMC_IMAGE_CD));
    write_bytes(dir, "linux-probe-small", mmc_linux_probe(MMC_IMAGE_SMALL));
    write_bytes(dir, "linux-probe-dvd", mmc_linux_probe(MMC_IMAGE_DVD));
    write_bytes(dir, "linux-probe-huge", mmc_linux_probe(MMC_IMAGE_HUGE));
    write_bytes(dir, "linux-probe-no-medium", mmc_linux_probe(MMC_IMAGE_NONE));
    write_bytes(dir, "tray-lock-eject-insert", mmc_tray());
}

/* ---- IDE through plain ioreqs (fuzz-ioreq, fuzz-vmstate) ---- */

#define IDE0 0x1f0u
#define IDE1 0x170u
#define IDE_BM 0xc200u

/* hvmloader's pci_setup for 00:01.1: both channels decoded, BAR4, I/O and bus master. */
static void ide_firmware_setup(GByteArray *p)
{
    fuzz_emit_pci(p, false, 2, FUZZ_IDE_DEVFN, 0x40, 0x8000);
    fuzz_emit_pci(p, false, 2, FUZZ_IDE_DEVFN, 0x42, 0x8000);
    fuzz_emit_pci(p, false, 4, FUZZ_IDE_DEVFN, REG_BAR(4), IDE_BM | 1);
    fuzz_emit_pci(p, false, 2, FUZZ_IDE_DEVFN, REG_COMMAND, PCI_CMD_IO | PCI_CMD_MASTER);
}

static void ata_issue(GByteArray *p, uint16_t base, uint8_t count, uint32_t lba, uint8_t cmd)
{
    out8(p, base + 6, (uint8_t)(0xe0 | ((lba >> 24) & 0x0f)));
    out8(p, base + 2, count);
    out8(p, base + 3, (uint8_t)lba);
    out8(p, base + 4, (uint8_t)(lba >> 8));
    out8(p, base + 5, (uint8_t)(lba >> 16));
    out8(p, base + 7, cmd);
}

static void atapi_issue(GByteArray *p, uint16_t base, bool dma, uint16_t limit,
                        const uint8_t cdb[12])
{
    out8(p, base + 6, 0xa0);
    out8(p, base + 1, dma ? 1 : 0);
    out8(p, base + 4, (uint8_t)limit);
    out8(p, base + 5, (uint8_t)(limit >> 8));
    out8(p, base + 7, 0xa0);
    for (unsigned i = 0; i < 12; i += 2) {
        fuzz_emit_pio(p, false, 2, base, (uint32_t)cdb[i] | (uint32_t)cdb[i + 1] << 8);
    }
}

/* Both channels mid-PIO: READ MULTIPLE 1000 words into its first block; READ(10) by ATAPI
 * 300 words into its first DRQ block. */
static GByteArray *ide_prog_mid_pio(void)
{
    GByteArray *p = g_byte_array_new();
    uint8_t cdb[12];

    ide_firmware_setup(p);
    ata_issue(p, IDE0, 16, 0, 0xc6);
    in8(p, IDE0 + 7);
    ata_issue(p, IDE0, 40, 3, 0xc4);
    fuzz_emit_pio_rep(p, FUZZ_F_READ, 2, IDE0, 1000, DMA_BUF);
    cdb10(cdb, 0x00, 0, 0);
    atapi_issue(p, IDE1, false, 0, cdb);                    /* the unit attention */
    cdb10(cdb, 0x28, 16, 3);
    atapi_issue(p, IDE1, false, 0x800, cdb);
    fuzz_emit_pio_rep(p, FUZZ_F_READ, 2, IDE1, 300, DMA_BUF);
    return p;
}

/* What a driver does next: the rest of both transfers. */
static GByteArray *ide_prog_finish_pio(void)
{
    GByteArray *p = g_byte_array_new();

    fuzz_emit_pio_rep(p, FUZZ_F_READ, 2, IDE0, 2048, DMA_BUF);
    in8(p, IDE0 + 7);
    fuzz_emit_pio_rep(p, FUZZ_F_READ, 4, IDE0, 1024, DMA_BUF);
    fuzz_emit_pio_rep(p, FUZZ_F_READ, 2, IDE1, 1024, DMA_BUF);
    in8(p, IDE1 + 7);
    fuzz_emit_pio_rep(p, FUZZ_F_READ, 2, IDE1, 2048, DMA_BUF);
    in8(p, IDE1 + 2);
    return p;
}

/* A PIO write half done on the disk; an ATAPI INQUIRY by DMA waiting for the bus master. */
static GByteArray *ide_prog_write_and_dma_pending(void)
{
    GByteArray *p = g_byte_array_new();
    static const uint8_t prd[8] = {0x00, 0x00, 0x03, 0x00, 0x00, 0x10, 0x00, 0x80};
    uint8_t cdb[12];

    ide_firmware_setup(p);
    ata_issue(p, IDE0, 4, 20, 0x30);
    for (unsigned i = 0; i < 100; i++) {
        fuzz_emit_pio(p, false, 2, IDE0, 0x5a00 | i);
    }
    fuzz_emit_ram(p, 0x9000, prd, sizeof(prd));             /* 4 KiB at 0x30000, EOT */
    fuzz_emit_pio(p, false, 4, IDE_BM + 8 + 4, 0x9000);
    cdb10(cdb, 0x00, 0, 0);
    atapi_issue(p, IDE1, false, 0, cdb);
    cdb6(cdb, 0x12, 0, 0, 96);
    atapi_issue(p, IDE1, true, 0, cdb);
    return p;
}

static GByteArray *ide_prog_finish_write_and_dma(void)
{
    GByteArray *p = g_byte_array_new();

    fuzz_emit_pio(p, false, 1, IDE_BM + 8, 0x09);           /* start the secondary's master */
    fuzz_emit_pio(p, true, 1, IDE_BM + 8 + 2, 0);
    in8(p, IDE1 + 7);
    for (unsigned i = 0; i < 4 * 256 - 100; i++) {
        fuzz_emit_pio(p, false, 2, IDE0, i);
    }
    in8(p, IDE0 + 7);
    return p;
}

/* For fuzz-ioreq: a disk and the CD-ROM read after the firmware's setup, a medium change. */
static GByteArray *prog_ide(void)
{
    GByteArray *p = ide_prog_mid_pio();
    GByteArray *rest = ide_prog_finish_pio();

    g_byte_array_append(p, rest->data, rest->len);
    g_byte_array_free(rest, TRUE);
    fuzz_emit_medium(p, 0, 3);
    fuzz_emit_medium(p, 1, 2);
    return p;
}

/*
 * The standard VGA at 00:0b.0 as the VGA BIOS, then a VBE driver, drive it: BARs placed, a text
 * mode's registers by 16-bit OUTs (index and data in one), the attribute controller behind its
 * flip-flop, characters into 0xB8000 through the buffered ring, then VBE 1024x768x32 through
 * 0x1CE/0x1CF and a REP STOS into the linear framebuffer, the MMIO BAR's VBE and extension
 * registers, and a save/load with the mode set.
 */
#define DEVFN_VGA 0x58
static GByteArray *prog_vga(void)
{
    static const uint16_t sr_cr_gr[][2] = {
        {0x3c4, 0x0100}, {0x3c4, 0x0001}, {0x3c4, 0x0302}, {0x3c4, 0x0004}, {0x3c4, 0x0204},
        {0x3c4, 0x0300}, {0x3d4, 0x0e11}, {0x3d4, 0x4f01}, {0x3d4, 0x4f09}, {0x3d4, 0x8f12},
        {0x3d4, 0x2813}, {0x3d4, 0x000c}, {0x3d4, 0x000d}, {0x3d4, 0x000e}, {0x3d4, 0x050f},
        {0x3ce, 0x1005}, {0x3ce, 0x0e06}, {0x3ce, 0xff08},
    };
    static const struct fuzz_buf_entry text[] = {
        {XENABI_IOREQ_TYPE_COPY, 0xb8000, 0x1f561f47, 4}, /* "GV" */
        {XENABI_IOREQ_TYPE_COPY, 0xb8004, 0x1f41, 2},     /* "A" */
        {XENABI_IOREQ_TYPE_COPY, 0xb8006, 0x2e, 1},
    };
    static const uint16_t vbe[][2] = {{1, 1024}, {2, 768}, {3, 32}, {4, 0x41}};
    GByteArray *p = g_byte_array_new();

    fuzz_emit_pci(p, false, 4, DEVFN_VGA, 0x10, 0xf0000000);
    fuzz_emit_pci(p, false, 4, DEVFN_VGA, 0x18, 0xf1000000);
    fuzz_emit_pci(p, false, 2, DEVFN_VGA, 0x04, 0x0003);
    out8(p, 0x3c2, 0x67);
    for (size_t i = 0; i < G_N_ELEMENTS(sr_cr_gr); i++) {
        fuzz_emit_pio(p, false, 2, sr_cr_gr[i][0], sr_cr_gr[i][1]);
    }
    in8(p, 0x3da);
    for (uint8_t i = 0; i < 0x10; i++) {
        out8(p, 0x3c0, i);
        out8(p, 0x3c0, i);
    }
    out8(p, 0x3c0, 0x20);
    fuzz_emit_buffered(p, text, G_N_ELEMENTS(text));
    fuzz_emit_mmio(p, true, 2, 0xb8000, 0, 1);
    for (size_t i = 0; i < G_N_ELEMENTS(vbe); i++) {
        fuzz_emit_pio(p, false, 2, 0x1ce, vbe[i][0]);
        fuzz_emit_pio(p, false, 2, 0x1cf, vbe[i][1]);
    }
    fuzz_emit_bar(p, false, 8, DEVFN_VGA, 0, 0x1000, 0x00ff000000ff0000ull, 512);
    fuzz_emit_bar(p, true, 2, DEVFN_VGA, 2, 0x500 + 2 * 7, 0, 1); /* VIRT_HEIGHT */
    fuzz_emit_bar(p, true, 4, DEVFN_VGA, 2, 0x604, 0, 1);         /* byte order */
    fuzz_emit_simple(p, FUZZ_OP_SAVE_LOAD);
    fuzz_emit_mmio(p, false, 4, 0xa0000, 0x01020304, 1);          /* bank 0 of the VBE mode */
    return p;
}

static const char *expect_nothing(const struct fuzz_accel_record *a)
{
    return NULL;
}

static const char *expect_enumeration(const struct fuzz_accel_record *a)
{
    return a->link_route_changes >= 3 && a->range_claims >= 20 ? NULL
                                                               : "no BARs or routes set up";
}

static const char *expect_msis(const struct fuzz_accel_record *a)
{
    return a->msis >= 3 ? NULL : "fewer than 3 MSIs reached Xen";
}

static const char *expect_msi_and_intx(const struct fuzz_accel_record *a)
{
    return a->msis >= 3 && a->intx_changes >= 2 ? NULL : "MSIs or the INTx edges missing";
}

static const char *expect_routes(const struct fuzz_accel_record *a)
{
    return a->link_route_changes >= 6 ? NULL : "fewer than 6 link route changes";
}

static const char *expect_sleeps(const struct fuzz_accel_record *a)
{
    /* S3 is the machine's own state now (machine_enter_s3), not a shutdown request. */
    return a->s3_entries == 1 && a->shutdown_reasons[SHUTDOWN_POWEROFF] == 1 &&
                   a->shutdown_reasons[SHUTDOWN_REBOOT] == 1
               ? NULL
               : "not exactly one S3, one S5 and one 0xCF9 reset";
}

static const char *expect_rom_lock(const struct fuzz_accel_record *a)
{
    return a->mem_type_calls >= 4 && !a->rom_locked ? NULL : "ROM lock/unlock missing";
}

struct ioreq_seed {
    const char *name;
    GByteArray *(*build)(void);
    const char *(*expect)(const struct fuzz_accel_record *a); /* NULL when as expected */
};

static const struct ioreq_seed ioreq_seeds[] = {
    {"serial-16550-driver", prog_serial, expect_nothing},
    {"i8042-ps2-driver", prog_i8042, expect_nothing},
    {"port92-a20-reset", prog_port92, expect_nothing},
    {"debugcon-rep-outsb", prog_debugcon, expect_nothing},
    {"pc-testdev-pio-mmio-dma", prog_testdev, expect_nothing},
    {"buffered-ring", prog_buffered, expect_nothing},
    {"bad-requests", prog_bad_requests, expect_nothing},
    {"pci-hvmloader-enumeration", prog_pci_enumeration, expect_enumeration},
    {"pci-msix-linux-bringup", prog_msix, expect_msis},
    {"pci-msi-multi-message", prog_msi, expect_msi_and_intx},
    {"piix3-pirq-routing", prog_pirq, expect_routes},
    {"piix4-acpi-s3-s5-cf9", prog_acpi_sleep, expect_sleeps},
    {"xen-platform-unplug", prog_platform_unplug, expect_rom_lock},
    {"piix4-smbus-spd", prog_smbus_spd, expect_nothing},
    {"ide-disk-and-cdrom-pio", prog_ide, expect_nothing},
    {"virtio-blk-linux-driver", prog_virtio_blk, expect_one_msi},
    {"vga-text-then-vbe", prog_vga, expect_nothing},
    /* Regression seeds of the PCI findings fixed in hw/pci (docs/security.md, 2 to 4). */
    {"intx-shared-slot", prog_intx_shared_slot, expect_nothing},
    {"msi-outside-apic-window", prog_msi_outside_apic, expect_nothing},
    {"msi-without-bus-master", prog_msi_without_bus_master, expect_nothing},
};

/* Runs the seed on fuzz-ioreq's machine (every check armed) and checks its effect. */
static void check_ioreq_seed(const struct ioreq_seed *seed, GByteArray *prog)
{
    struct fuzz_machine *fm = fuzz_machine_new(&fuzz_machine_full_config);
    const char *problem;

    fuzz_machine_run(fm, prog->data, prog->len);
    problem = seed->expect(&fm->accel);
    if (problem != NULL) {
        fprintf(stderr, "gen-seeds: ioreq seed %s: %s (msis %" G_GUINT64_FORMAT ", INTx edges %"
                G_GUINT64_FORMAT ", route changes %" G_GUINT64_FORMAT ", mem types %"
                G_GUINT64_FORMAT ", shutdowns %" G_GUINT64_FORMAT ")\n", seed->name, problem,
                fm->accel.msis, fm->accel.intx_changes, fm->accel.link_route_changes,
                fm->accel.mem_type_calls, fm->accel.shutdowns);
        exit(1);
    }
    fuzz_machine_free(fm);
}

static void write_ioreq_seeds(const char *dir)
{
    for (size_t i = 0; i < G_N_ELEMENTS(ioreq_seeds); i++) {
        GByteArray *prog = ioreq_seeds[i].build();
        check_ioreq_seed(&ioreq_seeds[i], prog);
        write_bytes(dir, ioreq_seeds[i].name, prog);
    }
}

/* ---- saved states of real machines ---- */

#define VM_FLAG_TESTDEV 0x01u
#define VM_FLAG_DEBUGCON 0x08u
#define VM_FLAG_FIX_DIGEST 0x10u
#define VM_FLAG_PCI_TESTDEVS 0x20u
#define VM_FLAG_DRIVES 0x40u

/* flags | u32 length | the stream machine `cfg` saved after `setup` | `after` */
static void write_vmstate_seed(const char *dir, const char *name, uint8_t flags,
                               GByteArray *setup, GByteArray *after)
{
    struct fuzz_machine_config cfg = {
        .testdev = flags & VM_FLAG_TESTDEV,
        .serials = (flags >> 1) & 3u,
        .debugcon = flags & VM_FLAG_DEBUGCON,
        .pci_testdevs = flags & VM_FLAG_PCI_TESTDEVS,
        .drives = flags & VM_FLAG_DRIVES,
    };
    struct fuzz_machine *fm = fuzz_machine_new(&cfg);
    GByteArray *seed = g_byte_array_new();
    GBytes *state;
    gsize len;
    const uint8_t *data;
    uint8_t header[5];

    fuzz_machine_run(fm, setup->data, setup->len);
    state = machine_save_state(fm->m);
    data = g_bytes_get_data(state, &len);
    header[0] = flags;
    for (unsigned i = 0; i < 4; i++) {
        header[1 + i] = (uint8_t)(len >> (8 * i));
    }
    g_byte_array_append(seed, header, sizeof(header));
    g_byte_array_append(seed, data, (guint)len);
    g_byte_array_append(seed, after->data, after->len);
    write_bytes(dir, name, seed);
    g_bytes_unref(state);
    g_byte_array_free(setup, TRUE);
    g_byte_array_free(after, TRUE);
    fuzz_machine_free(fm);
}

static void write_vmstate_seeds(const char *dir)
{
    /* i8042 and port92 only: the smallest stream, fastest to mutate. */
    write_vmstate_seed(dir, "chipset-after-ps2-driver", VM_FLAG_FIX_DIGEST, prog_i8042(),
                       prog_port92());
    /* Two UARTs mid-conversation (FIFO filled in loopback) and the debug console. */
    write_vmstate_seed(dir, "serials-after-loopback",
                       VM_FLAG_FIX_DIGEST | VM_FLAG_DEBUGCON | (2u << 1), prog_serial(),
                       prog_serial());
    /* Every device, with pc-testdev lines raised; the digest as saved (not rewritten). */
    write_vmstate_seed(dir, "full-machine-testdev", VM_FLAG_TESTDEV | VM_FLAG_DEBUGCON | (3u << 1),
                       prog_testdev(), prog_i8042());
    /* The chipset after hvmloader's PCI setup and ACPI, then MSI-X on the loaded state. */
    write_vmstate_seed(dir, "pci-after-hvmloader", VM_FLAG_FIX_DIGEST | VM_FLAG_PCI_TESTDEVS,
                       prog_pci_enumeration(), prog_msix());
    /* The IDE drives saved mid-transfer (PIO on both channels; a write and an ATAPI DMA
     * waiting for the bus master), then the transfers finished on the loaded state. */
    write_vmstate_seed(dir, "ide-mid-pio-transfers", VM_FLAG_FIX_DIGEST | VM_FLAG_DRIVES,
                       ide_prog_mid_pio(), ide_prog_finish_pio());
    write_vmstate_seed(dir, "ide-write-and-dma-pending", VM_FLAG_FIX_DIGEST | VM_FLAG_DRIVES,
                       ide_prog_write_and_dma_pending(), ide_prog_finish_write_and_dma());
}

/* ---- QMP sessions ---- */

static void write_text(const char *dir, const char *name, const char *text)
{
    write_file(dir, name, text, strlen(text));
}

static void write_qmp_seeds(const char *dir)
{
    /* What libxl 4.17 sends over a domain's life (xl create, pause/unpause, save, destroy). */
    write_text(dir, "libxl-session",
               "{\"execute\":\"qmp_capabilities\",\"id\":1}\r\n"
               "{\"execute\":\"query-chardev\",\"id\":2}\r\n"
               "{\"execute\":\"query-vnc\",\"id\":3}\r\n"
               "{\"execute\":\"query-status\",\"id\":4}\r\n"
               "{\"execute\":\"stop\",\"id\":5}\r\n"
               "{\"execute\":\"xen-set-global-dirty-log\",\"arguments\":{\"enable\":true},"
               "\"id\":6}\r\n"
               "{\"execute\":\"xen-save-devices-state\",\"arguments\":{\"filename\":"
               "\"/dev/fdset/1\",\"live\":false},\"id\":7}\r\n"
               "{\"execute\":\"cont\",\"id\":8}\r\n"
               "{\"execute\":\"quit\",\"id\":9}\r\n");
    write_text(dir, "every-query",
               "{\"execute\":\"qmp_capabilities\",\"arguments\":{\"enable\":[]}}\n"
               "{\"execute\":\"query-commands\"}{\"execute\":\"query-version\"}"
               "{\"execute\":\"query-name\"}{\"execute\":\"query-pci\"}\n"
               "{\"execute\":\"query-cpus-fast\"}{\"execute\":\"query-hotpluggable-cpus\"}\n"
               "{\"execute\":\"query-fdsets\"}\n"
               "{\"execute\":\"add-fd\",\"arguments\":{\"fdset-id\":3,\"opaque\":\"x\"}}\n"
               "{\"execute\":\"remove-fd\",\"arguments\":{\"fdset-id\":3,\"fd\":7}}\n");
    write_text(dir, "human-monitor",
               "{\"execute\":\"qmp_capabilities\"}\n"
               "{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":"
               "\"info status\"},\"id\":\"a\"}\n"
               "{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":"
               "\"info chardev\",\"cpu-index\":0}}\n"
               "{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":"
               "\"help\"}}\n"
               "{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":"
               "\"stop\"}}\n"
               "{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":"
               "\"c\"}}\n"
               "{\"execute\":\"system_reset\"}{\"execute\":\"system_powerdown\"}\n");
    /* Errors a session must survive: before negotiation, bad members, malformed text. */
    write_text(dir, "errors-and-recovery",
               "{\"execute\":\"query-status\"}\n"
               "{\"execute\":\"qmp_capabilities\"}\n"
               "{\"execute\":\"qmp_capabilities\"}\n"
               "{\"execute\":\"no-such-command\",\"id\":[1,{\"a\":null}]}\n"
               "{\"execute\":1}[]\"str\"{\"arguments\":{}}\n"
               "{\"execute\":\"stop\",\"arguments\":{\"unexpected\":true}}\n"
               "{\"execute\":\"xen-set-global-dirty-log\",\"arguments\":{\"enable\":\"yes\"}}\n"
               "{\"execute\":\"cont\",\"execute\":\"stop\"}\n"
               "{\"execute\": \"query-\x01\n"
               "{\"a\":[[[[[[[[[[1]]]]]]]]]]}\n"
               "{\"execute\":\"query-name\",\"id\":1.5e300}\n");
    /* Harness commands: a chunk boundary mid-request, an event, a reconnect. */
    write_text(dir, "sessions-and-events",
               "{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"query-"
               "\xfe" "fstatus\"}\n"
               "\xfe" "e"
               "{\"execute\":\"stop\"}\n"
               "\xfe" "c"
               "{\"execute\":\"query-status\"}\n"
               "{\"execute\":\"qmp_capabilities\"}{\"execute\":\"cont\"}\n"
               "\xfe" "e");
    write_text(dir, "json-values",
               "{\"s\":\"\\u00e9\\ud83d\\ude00\\n\\t\\\"\\\\\\/\",\"n\":[0,-1,9223372036854775807,"
               "-9223372036854775808,9223372036854775808,1.5,-2e-3,1E+2],"
               "\"b\":[true,false,null],\"u\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}");
}

/* ---- command lines ---- */

/* A fixture: one argument per line, '#' comments; the seed: arguments NUL-separated. */
static void write_fixture_seed(const char *dir, const char *fixture_dir, const char *file)
{
    char *path = g_build_filename(fixture_dir, file, NULL);
    char *text = NULL, **lines;
    GByteArray *seed = g_byte_array_new();
    GError *err = NULL;
    char *name;

    if (!g_file_get_contents(path, &text, NULL, &err)) {
        fprintf(stderr, "gen-seeds: %s\n", err->message);
        exit(1);
    }
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        if (**l == '\0' || **l == '#') {
            continue;
        }
        if (seed->len > 0) {
            g_byte_array_append(seed, (const uint8_t *)"", 1);
        }
        g_byte_array_append(seed, (const uint8_t *)*l, (guint)strlen(*l));
    }
    name = g_strdup_printf("libxl-%s", file);
    write_bytes(dir, name, seed);
    g_free(name);
    g_strfreev(lines);
    g_free(text);
    g_free(path);
}

static void write_words(const char *dir, const char *name, const char *const *words)
{
    GByteArray *seed = g_byte_array_new();

    for (size_t i = 0; words[i]; i++) {
        if (i > 0) {
            g_byte_array_append(seed, (const uint8_t *)"", 1);
        }
        g_byte_array_append(seed, (const uint8_t *)words[i], (guint)strlen(words[i]));
    }
    write_bytes(dir, name, seed);
}

static void write_options_seeds(const char *dir, const char *fixture_dir)
{
    static const char *const every_device[] = {
        "-xen-domid", "7", "-machine", "pc,accel=xen", "-m", "size=512M", "-smp",
        "2,maxcpus=8", "-chardev", "null,id=dbg", "-serial", "null", "-serial", "chardev:dbg",
        "-device", "isa-debugcon,iobase=0x402,chardev=dbg,readback=0xe9", "-device",
        "pc-testdev", "-device", "isa-serial,index=2,iobase=0x3e8,irq=4", "-S", NULL,
    };
    static const char *const restricted[] = {
        "-xen-domid", "3", "-xen-domid-restrict", "-chroot", "/", "-runas",
        "1000:1000", "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,"
        "resourcecontrol=deny", "-incoming", "fd:12", "-vnc", "unix:/run/vnc,,sock",
        "-trace", "enable=ioreq*", NULL,
    };
    static const char *const info[] = {"-device", "help", "-trace", "help", "--version", NULL};
    GDir *d;
    const char *file;
    GError *err = NULL;

    write_words(dir, "every-device", every_device);
    write_words(dir, "restricted", restricted);
    write_words(dir, "info-actions", info);
    d = g_dir_open(fixture_dir, 0, &err);
    if (d == NULL) {
        fprintf(stderr, "gen-seeds: %s\n", err->message);
        exit(1);
    }
    while ((file = g_dir_read_name(d)) != NULL) {
        if (g_str_has_suffix(file, ".argv")) {
            write_fixture_seed(dir, fixture_dir, file);
        }
    }
    g_dir_close(d);
}

static char *subdir(const char *root, const char *name)
{
    char *dir = g_build_filename(root, name, NULL);

    if (g_mkdir_with_parents(dir, 0755) != 0) {
        fprintf(stderr, "gen-seeds: mkdir %s: %s\n", dir, g_strerror(errno));
        exit(1);
    }
    return dir;
}

int main(int argc, char **argv)
{
    char *dir;

    if (argc != 3) {
        fprintf(stderr, "usage: %s CORPUS_DIR LIBXL_ARGV_FIXTURE_DIR\n", argv[0]);
        return 2;
    }
    fuzz_quiet_logs();
    dir = subdir(argv[1], "ioreq");
    write_ioreq_seeds(dir);
    g_free(dir);
    dir = subdir(argv[1], "vmstate");
    write_vmstate_seeds(dir);
    g_free(dir);
    dir = subdir(argv[1], "ide");
    write_ide_seeds(dir);
    g_free(dir);
    dir = subdir(argv[1], "mmc");
    write_mmc_seeds(dir);
    g_free(dir);
    dir = subdir(argv[1], "qmp");
    write_qmp_seeds(dir);
    g_free(dir);
    dir = subdir(argv[1], "options");
    write_options_seeds(dir, argv[2]);
    g_free(dir);
    return 0;
}
