/*
 * The checks. Each access below is one VM exit on Xen, and the device model sees the ioreq
 * Xen's emulator builds from it: plain PIO, REP INS/OUTS as data_is_ptr PIO with count > 1,
 * MMIO as COPY (REP MOVS between RAM and MMIO as data_is_ptr COPY, REP STOS as COPY with
 * count > 1). Expected values are the devices' documented behaviour, which xendm, qemu-xen
 * and plain QEMU share.
 */
#include "fw.h"

#define PAGE_SIZE 4096u

/* 16550 (NS16550A datasheet register map), COM1 */
#define COM1 0x3f8
#define UART_RBR 0
#define UART_THR 0
#define UART_DLL 0
#define UART_DLM 1
#define UART_IIR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7
#define LCR_DLAB 0x80
#define LCR_8N1 0x03
#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define LSR_DR 0x01
#define LSR_TEMT 0x40
#define LSR_IDLE 0x60 /* THRE | TEMT, nothing received, no error */
#define MSR_INPUTS 0xf0
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_DCD 0x80
#define IIR_FIFO_NO_INT 0xc1 /* FIFOs enabled (bits 7:6), no interrupt pending (bit 0) */

/* 8042 keyboard controller */
#define I8042_DATA 0x60
#define I8042_STATUS 0x64
#define I8042_STATUS_OBF 0x01
#define I8042_STATUS_IBF 0x02
#define I8042_STATUS_SYS 0x04
#define I8042_SELF_TEST 0xaa
#define I8042_SELF_TEST_OK 0x55

/* A port nobody decodes on Xen's HVM platform, on xenfv and on QEMU's pc (0x510 is fw_cfg). */
#define UNCLAIMED_PORT 0x520

/* pc-testdev (QEMU's register map) */
#define TESTDEV_SCRATCH 0xe0
#define TESTDEV_SCRATCH_BYTE 0xe8
#define TESTDEV_IOMEM 0xff000000u
#define TESTDEV_IOMEM_SIZE 0x10000u

#define SPIN_LIMIT 100000

/* Three pages of RAM, so that a run can cross a page boundary at ram_buf + PAGE_SIZE. */
static uint8_t ram_buf[3 * PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static bool testdev_present;

static void fill_pattern(void *buf, size_t len, uint8_t seed)
{
    uint8_t *b = buf;

    for (size_t i = 0; i < len; i++)
        b[i] = (uint8_t)(seed + i * 13);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- string instructions, with DF=1 kept inside one asm statement ---- */

#define STRING_OP(backwards, insn, ...)                                                           \
    do {                                                                                          \
        if (backwards)                                                                            \
            __asm__ volatile("std\n\trep " insn "\n\tcld" __VA_ARGS__);                           \
        else                                                                                      \
            __asm__ volatile("rep " insn __VA_ARGS__);                                            \
    } while (0)

/* `src` (and `dst` below) name the first element; with DF=1 the run goes downwards. */
static void rep_outs(unsigned size, uint16_t port, const void *src, uint32_t n, bool back)
{
    if (size == 1)
        STRING_OP(back, "outsb", : "+S"(src), "+c"(n) : "d"(port) : "memory", "cc");
    else if (size == 2)
        STRING_OP(back, "outsw", : "+S"(src), "+c"(n) : "d"(port) : "memory", "cc");
    else
        STRING_OP(back, "outsl", : "+S"(src), "+c"(n) : "d"(port) : "memory", "cc");
}

static void rep_ins(unsigned size, uint16_t port, void *dst, uint32_t n, bool back)
{
    if (size == 1)
        STRING_OP(back, "insb", : "+D"(dst), "+c"(n) : "d"(port) : "memory", "cc");
    else if (size == 2)
        STRING_OP(back, "insw", : "+D"(dst), "+c"(n) : "d"(port) : "memory", "cc");
    else
        STRING_OP(back, "insl", : "+D"(dst), "+c"(n) : "d"(port) : "memory", "cc");
}

static void rep_movs(unsigned size, uintptr_t dst, uintptr_t src, uint32_t n, bool back)
{
    if (size == 1)
        STRING_OP(back, "movsb", : "+D"(dst), "+S"(src), "+c"(n) : : "memory", "cc");
    else
        STRING_OP(back, "movsl", : "+D"(dst), "+S"(src), "+c"(n) : : "memory", "cc");
}

static void rep_stosl(uintptr_t dst, uint32_t value, uint32_t n, bool back)
{
    STRING_OP(back, "stosl", : "+D"(dst), "+c"(n) : "a"(value) : "memory", "cc");
}

/* 8-byte accesses without SSE: MMX MOVQ (CR0.EM clear, CR0.MP set; see mmx_enable). */
static void mmx_enable(void)
{
    uint32_t cr0;

    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    cr0 &= ~(uint32_t)((1u << 2) | (1u << 3)); /* EM, TS */
    cr0 |= 1u << 1;                           /* MP */
    __asm__ volatile("mov %0, %%cr0\n\tfninit" : : "r"(cr0));
}

static void mmx_store64(uintptr_t dst, const uint32_t value[2])
{
    __asm__ volatile("movq (%0), %%mm0\n\tmovq %%mm0, (%1)\n\temms"
                     : : "r"(value), "r"(dst) : "memory");
}

static void mmx_load64(uintptr_t src, uint32_t value[2])
{
    __asm__ volatile("movq (%0), %%mm0\n\tmovq %%mm0, (%1)\n\temms"
                     : : "r"(src), "r"(value) : "memory");
}

/* ---- 16550 ---- */

static void uart_wait_idle(void)
{
    for (int i = 0; i < SPIN_LIMIT; i++) {
        if (inb(COM1 + UART_LSR) & LSR_TEMT)
            return;
    }
}

static void uart_drain_rx(void)
{
    for (int i = 0; i < 64 && (inb(COM1 + UART_LSR) & LSR_DR); i++)
        (void)inb(COM1 + UART_RBR);
}

static void check_uart_registers(void)
{
    uint32_t got;

    outb(COM1 + UART_SCR, 0x5a);
    got = (uint32_t)inb(COM1 + UART_SCR) << 8;
    outb(COM1 + UART_SCR, 0xa5);
    got |= inb(COM1 + UART_SCR);
    check("uart: scratch register 0x3ff keeps a byte (0x5a, then 0xa5)", 0x5aa5, got);

    uart_wait_idle();
    outb(COM1 + UART_LCR, LCR_DLAB | LCR_8N1);
    outb(COM1 + UART_DLL, 0x34);
    outb(COM1 + UART_DLM, 0x12);
    got = (uint32_t)inb(COM1 + UART_DLM) << 8 | inb(COM1 + UART_DLL);
    uint16_t word = inw(COM1 + UART_DLL);
    uint32_t dword = inl(COM1 + UART_DLL);
    outb(COM1 + UART_DLL, 1); /* back to 115200 before anything is printed */
    outb(COM1 + UART_DLM, 0);
    outb(COM1 + UART_LCR, LCR_8N1);
    check("uart: divisor latch round trip with DLAB set (byte accesses)", 0x1234, got);
    check("uart: divisor latch as one word read (inw 0x3f8)", 0x1234, word);
    check("uart: DLL, DLM, IIR, LCR as one dword read (inl 0x3f8)",
          (uint32_t)(LCR_DLAB | LCR_8N1) << 24 | IIR_FIFO_NO_INT << 16 | 0x1234, dword);
    check("uart: LCR reads back 8N1 with DLAB clear", LCR_8N1, inb(COM1 + UART_LCR));

    uart_wait_idle();
    uart_drain_rx();
    check("uart: LSR idle is THRE|TEMT", LSR_IDLE, inb(COM1 + UART_LSR));
    check("uart: MSR inputs outside loopback are DCD|DSR|CTS", MSR_DCD | MSR_DSR | MSR_CTS,
          inb(COM1 + UART_MSR) & MSR_INPUTS);
}

/* Nothing may be printed while the transmitter is looped back to the receiver. */
static void check_uart_loopback(void)
{
    static const uint8_t sent[3] = { 'T', 'f', 'w' };
    uint8_t received[3] = { 0, 0, 0 };
    uint8_t old_mcr = inb(COM1 + UART_MCR);

    uart_wait_idle();
    uart_drain_rx();
    outb(COM1 + UART_MCR, MCR_LOOP | MCR_OUT2 | MCR_RTS);
    uint8_t msr = inb(COM1 + UART_MSR) & MSR_INPUTS;
    for (unsigned i = 0; i < sizeof(sent); i++) {
        outb(COM1 + UART_THR, sent[i]);
        for (int spin = 0; spin < SPIN_LIMIT; spin++) {
            if (inb(COM1 + UART_LSR) & LSR_DR) {
                received[i] = inb(COM1 + UART_RBR);
                break;
            }
        }
    }
    uint8_t lsr_after = inb(COM1 + UART_LSR) & LSR_DR;
    outb(COM1 + UART_MCR, old_mcr);
    check("uart: in loopback MSR mirrors MCR (RTS->CTS, OUT2->DCD)", MSR_CTS | MSR_DCD, msr);
    check_mem("uart: loopback returns THR bytes through RBR", received, sent, sizeof(sent));
    check("uart: loopback receiver empty after reading", 0, lsr_after);
}

/* ---- 8042 ---- */

static bool i8042_read(uint8_t *out)
{
    for (int i = 0; i < SPIN_LIMIT; i++) {
        if (inb(I8042_STATUS) & I8042_STATUS_OBF) {
            *out = inb(I8042_DATA);
            return true;
        }
    }
    return false;
}

static void check_i8042(void)
{
    uint8_t status = inb(I8042_STATUS), reply = 0, discard;

    check_true("i8042: status register 0x64 is decoded", status != 0xff, "reads 0xff");
    for (int i = 0; i < 16 && (inb(I8042_STATUS) & I8042_STATUS_OBF); i++)
        (void)i8042_read(&discard);
    for (int i = 0; i < SPIN_LIMIT && (inb(I8042_STATUS) & I8042_STATUS_IBF); i++) {
    }
    outb(I8042_STATUS, I8042_SELF_TEST);
    if (!i8042_read(&reply))
        reply = 0;
    check("i8042: controller self-test 0xaa answers 0x55", I8042_SELF_TEST_OK, reply);
    check("i8042: self-test sets the system flag", I8042_STATUS_SYS,
          inb(I8042_STATUS) & I8042_STATUS_SYS);
}

/* ---- unclaimed ports ---- */

static void check_unclaimed_port(void)
{
    outb(UNCLAIMED_PORT, 0x12);
    check("unclaimed port 0x520: byte read is 0xff after a write", 0xff, inb(UNCLAIMED_PORT));
    outw(UNCLAIMED_PORT, 0x1234);
    check("unclaimed port 0x520: word read is 0xffff after a write", 0xffff,
          inw(UNCLAIMED_PORT));
    outl(UNCLAIMED_PORT, 0x12345678);
    check("unclaimed port 0x520: dword read is all-ones after a write", 0xffffffff,
          inl(UNCLAIMED_PORT));
}

/* ---- pc-testdev ports ---- */

static void check_testdev_scratch(void)
{
    uint32_t bytes = 0;

    outl(TESTDEV_SCRATCH, 0x12345678);
    check("pc-testdev: scratch 0xe0 dword write/read", 0x12345678, inl(TESTDEV_SCRATCH));
    for (unsigned i = 0; i < 4; i++)
        bytes |= (uint32_t)inb(TESTDEV_SCRATCH + i) << (8 * i);
    check("pc-testdev: scratch read back as bytes 0xe0-0xe3", 0x12345678, bytes);
    outw(TESTDEV_SCRATCH + 2, 0xbeef);
    outb(TESTDEV_SCRATCH, 0x01);
    check("pc-testdev: word write at 0xe2 and byte write at 0xe0", 0xbeef5601,
          inl(TESTDEV_SCRATCH));
    check("pc-testdev: word read at 0xe2", 0xbeef, inw(TESTDEV_SCRATCH + 2));
    /* 0xe8-0xeb: the same register, decoded byte by byte (a dword avoids Xen's port 0xe9). */
    check("pc-testdev: byte-implemented alias 0xe8 dword read", 0xbeef5601,
          inl(TESTDEV_SCRATCH_BYTE));
    outl(TESTDEV_SCRATCH_BYTE, 0xa1b2c3d4);
    check("pc-testdev: dword write at 0xe8 lands in the register", 0xa1b2c3d4,
          inl(TESTDEV_SCRATCH));
}

/* REP OUTS puts every element on the same register: the element written last stays. */
static void check_testdev_rep_outs(void)
{
    uint8_t *edge = ram_buf + PAGE_SIZE;

    fill_pattern(ram_buf, sizeof(ram_buf), 0x21);
    outl(TESTDEV_SCRATCH, 0xffffffff);
    rep_outs(1, TESTDEV_SCRATCH, edge - 5, 9, false);
    check("pc-testdev: rep outsb x9 across a page leaves the last byte", 0xffffff00 | edge[3],
          inl(TESTDEV_SCRATCH));
    rep_outs(2, TESTDEV_SCRATCH, edge - 3, 4, false);
    check("pc-testdev: rep outsw x4 (odd address) across a page leaves the last word",
          0xffff0000 | edge[3] | edge[4] << 8, inl(TESTDEV_SCRATCH));
    rep_outs(4, TESTDEV_SCRATCH, edge - 8, 5, false);
    check("pc-testdev: rep outsd x5 across a page leaves the last dword", le32(edge + 8),
          inl(TESTDEV_SCRATCH));
    rep_outs(4, TESTDEV_SCRATCH, edge + 6, 4, true);
    check("pc-testdev: rep outsd x4 with DF=1 across a page ends at the lowest dword",
          le32(edge - 6), inl(TESTDEV_SCRATCH));
    rep_outs(1, TESTDEV_SCRATCH, edge + 2, 6, true);
    check("pc-testdev: rep outsb x6 with DF=1 across a page ends at the lowest byte",
          (le32(edge - 6) & 0xffffff00) | edge[-3], inl(TESTDEV_SCRATCH));
}

/* REP INS fills every element with the register; the bytes around the run stay. */
static void check_testdev_rep_ins(void)
{
    uint8_t *edge = ram_buf + PAGE_SIZE;
    uint8_t want[32];

    outl(TESTDEV_SCRATCH, 0x44332211);
    memset(edge - 16, 0xcc, 32);
    memset(want, 0xcc, sizeof(want));
    rep_ins(4, TESTDEV_SCRATCH, edge - 10, 5, false);
    for (unsigned i = 0; i < 5; i++)
        memcpy(want + 6 + 4 * i, "\x11\x22\x33\x44", 4);
    check_mem("pc-testdev: rep insd x5 across a page fills exactly 20 bytes", edge - 16, want,
              32);

    memset(edge - 16, 0xcc, 32);
    memset(want, 0xcc, sizeof(want));
    rep_ins(2, TESTDEV_SCRATCH, edge + 3, 6, true);
    for (unsigned i = 0; i < 6; i++)
        memcpy(want + 16 + 3 - 2 * i, "\x11\x22", 2);
    check_mem("pc-testdev: rep insw x6 with DF=1 across a page", edge - 16, want, 32);

    memset(edge - 16, 0xcc, 32);
    memset(want, 0xcc, sizeof(want));
    rep_ins(1, TESTDEV_SCRATCH + 1, edge - 2, 4, false);
    memset(want + 14, 0x22, 4);
    check_mem("pc-testdev: rep insb x4 from 0xe1 across a page", edge - 16, want, 32);
}

/* ---- pc-testdev MMIO window ---- */

static void mmio_fill(uintptr_t addr, uint32_t value, unsigned dwords)
{
    for (unsigned i = 0; i < dwords; i++)
        mmio_write32(addr + 4 * i, value);
}

static void mmio_copy_out(void *dst, uintptr_t addr, size_t len)
{
    uint8_t *d = dst;

    for (size_t i = 0; i < len; i++)
        d[i] = mmio_read8(addr + i);
}

static void check_mmio_widths(void)
{
    const uintptr_t m = TESTDEV_IOMEM;

    mmio_write32(m + 0x10, 0);
    mmio_write8(m + 0x10, 0xa5);
    check("mmio: byte store/load", 0xa5, mmio_read8(m + 0x10));
    mmio_write16(m + 0x12, 0xbeef);
    check("mmio: word store/load", 0xbeef, mmio_read16(m + 0x12));
    mmio_write32(m + 0x14, 0xcafef00d);
    check("mmio: dword store/load", 0xcafef00d, mmio_read32(m + 0x14));
    check("mmio: dword load sees the byte and word stores", 0xbeef00a5, mmio_read32(m + 0x10));
    check("mmio: unaligned word load inside a dword", 0xfef0, mmio_read16(m + 0x15));
    mmio_write32(m + 0xfffc, 0x600dcafe);
    check("mmio: last dword of the 64 KiB window", 0x600dcafe, mmio_read32(m + 0xfffc));
}

static void check_mmio_64bit(void)
{
    const uintptr_t m = TESTDEV_IOMEM;
    const uint32_t value[2] = { 0x89abcdef, 0x01234567 };
    uint32_t loaded[2] = { 0, 0 };

    mmx_enable();
    mmx_store64(m + 0x20, value);
    check("mmio: 8-byte store (MMX movq), low dword", value[0], mmio_read32(m + 0x20));
    check("mmio: 8-byte store (MMX movq), high dword", value[1], mmio_read32(m + 0x24));
    mmio_write32(m + 0x28, 0x11223344);
    mmio_write32(m + 0x2c, 0x55667788);
    mmx_load64(m + 0x28, loaded);
    check("mmio: 8-byte load (MMX movq), low dword", 0x11223344, loaded[0]);
    check("mmio: 8-byte load (MMX movq), high dword", 0x55667788, loaded[1]);
}

static void check_mmio_unaligned(void)
{
    const uintptr_t m = TESTDEV_IOMEM;

    mmio_write32(m + 0x100, 0);
    mmio_write32(m + 0x104, 0);
    mmio_write32(m + 0x101, 0xdeadbeef);
    check("mmio: unaligned dword store/load at +0x101", 0xdeadbeef, mmio_read32(m + 0x101));
    check("mmio: aligned dword around it at +0x100", 0xadbeef00, mmio_read32(m + 0x100));
    mmio_write32(m + 0xffe, 0x44332211);
    check("mmio: dword across the 4 KiB page boundary at +0xffe", 0x44332211,
          mmio_read32(m + 0xffe));
    check("mmio: its upper half in the next page", 0x4433, mmio_read16(m + 0x1000));
}

static void check_mmio_rep_movs(void)
{
    const uintptr_t mmio = TESTDEV_IOMEM + 0x1000 - 24; /* 64 bytes over the page boundary */
    uint8_t *ram_src = ram_buf + PAGE_SIZE - 20, *ram_dst = ram_buf + 2 * PAGE_SIZE - 28;
    uint8_t got[72], want[72];

    fill_pattern(ram_src, 64, 0x5c);
    mmio_fill(mmio - 4, 0xcccccccc, 18);
    rep_movs(1, mmio, (uintptr_t)ram_src, 64, false);
    memset(want, 0xcc, sizeof(want));
    memcpy(want + 4, ram_src, 64);
    mmio_copy_out(got, mmio - 4, sizeof(got));
    check_mem("mmio: rep movsb x64 RAM->MMIO, both sides across a page", got, want, 72);

    memset(ram_dst - 4, 0xcc, 72);
    rep_movs(4, (uintptr_t)ram_dst, mmio, 16, false);
    check_mem("mmio: rep movsd x16 MMIO->RAM, both sides across a page", ram_dst - 4, want, 72);

    fill_pattern(ram_src, 64, 0x93);
    rep_movs(4, mmio + 60, (uintptr_t)ram_src + 60, 16, true);
    memcpy(want + 4, ram_src, 64);
    mmio_copy_out(got, mmio - 4, sizeof(got));
    check_mem("mmio: rep movsd x16 RAM->MMIO with DF=1", got, want, 72);

    memset(ram_dst - 4, 0xcc, 72);
    rep_movs(1, (uintptr_t)ram_dst + 63, mmio + 63, 64, true);
    check_mem("mmio: rep movsb x64 MMIO->RAM with DF=1", ram_dst - 4, want, 72);
}

static void check_mmio_rep_stos(void)
{
    const uintptr_t mmio = TESTDEV_IOMEM + 0x2000 - 20;
    uint32_t got[12], want[12];

    mmio_fill(mmio - 4, 0x01010101, 12);
    rep_stosl(mmio, 0x5a5aa5a5, 10, false);
    for (unsigned i = 0; i < 12; i++)
        want[i] = (i == 0 || i == 11) ? 0x01010101 : 0x5a5aa5a5;
    mmio_copy_out(got, mmio - 4, sizeof(got));
    check_mem("mmio: rep stosd x10 across a page, neighbours untouched", got, want,
              sizeof(want));

    rep_stosl(mmio + 36, 0x76543210, 10, true);
    for (unsigned i = 1; i < 11; i++)
        want[i] = 0x76543210;
    mmio_copy_out(got, mmio - 4, sizeof(got));
    check_mem("mmio: rep stosd x10 with DF=1", got, want, sizeof(want));
}

/* ---- the run ---- */

static bool probe_testdev(void)
{
    outl(TESTDEV_SCRATCH, 0x5aa5c33c);
    return inl(TESTDEV_SCRATCH) == 0x5aa5c33c;
}

static void run_testdev(const char *desc, void (*fn)(void))
{
    if (testdev_present)
        run_guarded(desc, fn);
    else
        tap_skip(desc, "pc-testdev absent (no -device pc-testdev)");
}

void checks_run(void)
{
    run_guarded("uart: registers", check_uart_registers);
    run_guarded("uart: loopback", check_uart_loopback);
    run_guarded("i8042", check_i8042);
    run_guarded("unclaimed port", check_unclaimed_port);
    testdev_present = probe_testdev();
    run_testdev("pc-testdev: scratch register", check_testdev_scratch);
    run_testdev("pc-testdev: rep outs", check_testdev_rep_outs);
    run_testdev("pc-testdev: rep ins", check_testdev_rep_ins);
    run_testdev("mmio: widths", check_mmio_widths);
    run_testdev("mmio: 8-byte accesses", check_mmio_64bit);
    run_testdev("mmio: unaligned and page-crossing", check_mmio_unaligned);
    run_testdev("mmio: rep movs", check_mmio_rep_movs);
    run_testdev("mmio: rep stos", check_mmio_rep_stos);
    pci_checks_run();
}
