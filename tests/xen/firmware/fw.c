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
#define IDT_ENTRIES 32
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

void idt_init(void)
{
    struct idt_pointer ptr = { sizeof(idt) - 1, (uint32_t)(uintptr_t)idt };

    for (unsigned i = 0; i < IDT_ENTRIES; i++) {
        uint32_t handler = fw_exception_stubs[i];
        idt[i].offset_low = (uint16_t)handler;
        idt[i].selector = CODE_SEL;
        idt[i].zero = 0;
        idt[i].type = GATE_INTERRUPT_32;
        idt[i].offset_high = (uint16_t)(handler >> 16);
    }
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
    for (volatile int i = 0; i < SPIN_LIMIT; i++) {
    }
    putstr("# i8042 reset ignored, trying port 0x92\n");
    outb(PORT92, inb(PORT92) & (uint8_t)~PORT92_FAST_RESET);
    outb(PORT92, inb(PORT92) | PORT92_FAST_RESET);
    for (volatile int i = 0; i < SPIN_LIMIT; i++) {
    }
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
