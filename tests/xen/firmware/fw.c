/*
 * xendm-testfw: start-up, exception reporting, the reset at the end, and the few libc
 * functions gcc may call on its own.
 */
#include "fw.h"

#define I8042_STATUS 0x64
#define I8042_COMMAND 0x64
#define I8042_STATUS_IBF 0x02
#define I8042_PULSE_RESET 0xfe /* pulse output port bit 0: the CPU reset line */
#define PORT92 0x92
#define PORT92_FAST_RESET 0x01
#define SPIN_LIMIT 100000
/*
 * How long a reset or sleep request is given before the firmware calls it ignored. The device
 * model acts on it asynchronously (plain QEMU in its main loop, Xen after the device model's
 * hypercall), which on a loaded machine can take far longer than any spin loop: time it.
 */
#define FW_REQUEST_WAIT_MS 5000
#define IDT_ENTRIES 256 /* the exceptions, then fw_irq_stubs at the vectors pci.c asks for */
#define EXCEPTION_VECTORS 32
#define CODE_SEL 0x08
#define GATE_INTERRUPT_32 0x8e /* present, DPL 0, 32-bit interrupt gate */

struct idt_entry {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t zero;
    uint8_t type;
    uint16_t offset_high;
} __attribute__((packed));

struct idt_pointer {
    uint16_t limit;
    uint32_t base;
} __attribute__((packed));

static struct idt_entry idt[IDT_ENTRIES];

/* The check that is running, so that an exception inside it is reported against it. */
static struct {
    bool armed;
    const char *desc;
    struct fw_jmpbuf jmp;
    struct exc_frame frame;
} guard;

void idt_set_gate(unsigned vector, uint32_t handler)
{
    if (vector >= IDT_ENTRIES)
        return;
    idt[vector].offset_low = (uint16_t)handler;
    idt[vector].selector = CODE_SEL;
    idt[vector].zero = 0;
    idt[vector].type = GATE_INTERRUPT_32;
    idt[vector].offset_high = (uint16_t)(handler >> 16);
}

/* Vectors without a gate stay not-present: a stray interrupt there faults (#NP) visibly. */
void idt_init(void)
{
    struct idt_pointer ptr = { sizeof(idt) - 1, (uint32_t)(uintptr_t)idt };

    for (unsigned i = 0; i < EXCEPTION_VECTORS; i++)
        idt_set_gate(i, fw_exception_stubs[i]);
    __asm__ volatile("lidt %0" : : "m"(ptr));
}

static void print_frame(const struct exc_frame *f)
{
    putstr("exception ");
    putdec(f->vector);
    putstr(" error ");
    puthex(f->error);
    putstr(" at eip ");
    puthex(f->eip);
}

void fw_exception(struct exc_frame *frame)
{
    if (guard.armed) {
        guard.armed = false;
        guard.frame = *frame;
        fw_longjmp(&guard.jmp, 1);
    }
    putstr("Bail out! ");
    print_frame(frame);
    putstr("\n");
    tap_finish();
    fw_reset();
}

void run_guarded(const char *desc, void (*fn)(void))
{
    guard.desc = desc;
    if (fw_setjmp(&guard.jmp) == 0) {
        guard.armed = true;
        fn();
        guard.armed = false;
        return;
    }
    putstr("# ");
    putstr(guard.desc);
    putstr(": ");
    print_frame(&guard.frame);
    putstr("\n");
    check_true(guard.desc, false, "CPU exception (see the line above)");
}

static void wait_i8042_input_empty(void)
{
    for (int i = 0; i < SPIN_LIMIT; i++) {
        if (!(inb(I8042_STATUS) & I8042_STATUS_IBF))
            return;
    }
}

/*
 * The device model turns the i8042 reset pulse into a reboot request (Xen then tears the
 * domain down or restarts it, as xl's on_reboot says); port 0x92 is the fallback. If both
 * are ignored, halting with interrupts off makes Xen power the domain off.
 */
void fw_reset(void)
{
    wait_i8042_input_empty();
    outb(I8042_COMMAND, I8042_PULSE_RESET);
    pit_sleep_ms(FW_REQUEST_WAIT_MS);
    putstr("# i8042 reset ignored, trying port 0x92\n");
    outb(PORT92, inb(PORT92) & (uint8_t)~PORT92_FAST_RESET);
    outb(PORT92, inb(PORT92) | PORT92_FAST_RESET);
    pit_sleep_ms(FW_REQUEST_WAIT_MS);
    putstr("# still alive: halting\n");
    fw_halt();
}

#ifdef TESTFW_END_IDLE
/*
 * testfw-idle.elf: after the checks, halt with interrupts enabled so the domain stays alive
 * (blocked) for scenarios that pause, unpause and destroy a live guest. No interrupt source is
 * programmed, so the vCPU sleeps until the toolstack acts.
 */
static void fw_idle(void)
{
    putstr("# idle: waiting for the toolstack\n");
    for (;;) {
        __asm__ volatile("sti; hlt" ::: "memory");
    }
}
#endif

#if defined(TESTFW_END_POWEROFF) || defined(TESTFW_END_S3)
#define PIIX4_PM_DEVFN PCI_DEVFN(1, 3)
#define PIIX4_PM_ID 0x71138086u
#define PIIX4_PMBA 0x40      /* PIIX4 datasheet §3.3.1: PM base address, bit 0 reads 1 (I/O) */
#define PIIX4_PMREGMISC 0x80 /* bit 0: PM I/O space enable */
#define PM_BASE 0xb000       /* where hvmloader puts it (Xen's ACPI tables say so) */
#define PM1A_CNT (PM_BASE + 4)
#define PM1_CNT_SLP_EN 0x2000 /* ACPI 6.4 §4.8.3.2.1; SLP_TYP 0 is S5 in hvmloader's DSDT */
#define PM1_CNT_SLP_TYP_S5 0x0000
#define PM1_CNT_SLP_TYP_S3 0x0400 /* SLP_TYP 1: _S3 in hvmloader's DSDT */

/*
 * testfw-poweroff.elf and testfw-s3.elf: after the checks, enter ACPI S5 or S3 as an OS would:
 * program the PIIX4 PM base as hvmloader does and write SLP_TYP|SLP_EN to PM1a control. The
 * device model turns S5 into a poweroff (remote_shutdown on Xen; plain QEMU exits) and S3
 * into Xen's S3 (the vCPU parked, the domain alive). A reset follows if nothing happened.
 */
static void fw_sleep(const char *what, uint16_t slp_typ)
{
    if (pci_read32(PIIX4_PM_DEVFN, 0) != PIIX4_PM_ID) {
        putstr("# ");
        putstr(what);
        putstr(": no PIIX4 PM at 00:01.3, resetting instead\n");
        fw_reset();
    }
    putstr("# ");
    putstr(what);
    putstr(slp_typ == PM1_CNT_SLP_TYP_S3 ? ": ACPI S3 through PIIX4 PM1a_CNT at 0xb004\n"
                                         : ": ACPI S5 through PIIX4 PM1a_CNT at 0xb004\n");
    pci_write32(PIIX4_PM_DEVFN, PIIX4_PMBA, PM_BASE | 1);
    pci_write8(PIIX4_PM_DEVFN, PIIX4_PMREGMISC, pci_read8(PIIX4_PM_DEVFN, PIIX4_PMREGMISC) | 1);
    outw(PM1A_CNT, slp_typ | PM1_CNT_SLP_EN);
    pit_sleep_ms(FW_REQUEST_WAIT_MS);
    putstr("# ");
    putstr(what);
    putstr(" ignored, resetting instead\n");
    fw_reset();
}
#endif

void fw_main(uint32_t boot_magic)
{
    idt_init();
    uart_init();
    putstr("\nxendm-testfw " TESTFW_VERSION "\n");
    putstr(boot_magic == MULTIBOOT_BOOT_MAGIC ? "# entered by a Multiboot loader\n"
                                              : "# entered directly (Xen firmware load)\n");
    checks_run();
    tap_finish();
#if defined(TESTFW_END_IDLE)
    fw_idle();
#elif defined(TESTFW_END_HEARTBEAT)
    fw_heartbeat();
#elif defined(TESTFW_END_POWEROFF)
    fw_sleep("poweroff", PM1_CNT_SLP_TYP_S5);
#elif defined(TESTFW_END_BENCH)
    fw_bench();
    fw_reset();
#elif defined(TESTFW_END_S3)
    /* Xen parks the vCPU in S3: nothing after this runs unless the guest is woken. */
    fw_sleep("s3", PM1_CNT_SLP_TYP_S3);
#else
    fw_reset();
#endif
}

/* ---- what gcc may emit calls to even when freestanding ---- */

void *memset(void *dst, int c, size_t n)
{
    uint8_t *d = dst;

    while (n--)
        *d++ = (uint8_t)c;
    return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;

    while (n--)
        *d++ = *s++;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;

    for (; n; n--, x++, y++) {
        if (*x != *y)
            return *x - *y;
    }
    return 0;
}
