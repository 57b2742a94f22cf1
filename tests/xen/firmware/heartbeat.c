/*
 * testfw-heartbeat.elf's ending: after the checks, leave known state in the devices, then beat
 * forever: every beat re-reads that state and prints "tick N ok" (or "tick N BAD: what").
 * Save/restore scenarios use it: the ticks go on after `xl restore` with the count continuing
 * (guest memory came back) and "ok" (the device model restored the devices' registers).
 */
#include "fw.h"

#define COM1 0x3f8
#define UART_LCR (COM1 + 3)
#define UART_LSR (COM1 + 5)
#define UART_SCR (COM1 + 7)
#define UART_LCR_DLAB 0x80
#define UART_LCR_8N1 0x03
#define TESTDEV_SCRATCH 0xe0
#define TESTDEV_IOMEM 0xff000000u
#define SAVED_SCRATCH 0xc3
#define SAVED_DIVISOR 0x0003 /* 38400 baud: not the 115200 uart_init() programs */
#define SAVED_TESTDEV 0x5eed1234u
#define SPINS_PER_TICK 1000 /* each one an ioreq: a fraction of a second on the TCG rig */

static const uint32_t iomem_pattern[4] = {0x11223344u, 0x55667788u, 0x99aabbccu, 0xddeeff00u};

static bool testdev_present(void)
{
    outl(TESTDEV_SCRATCH, 0xa5a5a5a5u);
    return inl(TESTDEV_SCRATCH) == 0xa5a5a5a5u;
}

static void set_divisor(uint16_t divisor)
{
    outb(UART_LCR, UART_LCR_DLAB | UART_LCR_8N1);
    outb(COM1, divisor & 0xff);
    outb(COM1 + 1, divisor >> 8);
    outb(UART_LCR, UART_LCR_8N1);
}

static uint16_t get_divisor(void)
{
    uint16_t divisor;

    outb(UART_LCR, UART_LCR_DLAB | UART_LCR_8N1);
    divisor = (uint16_t)(inb(COM1) | (inb(COM1 + 1) << 8));
    outb(UART_LCR, UART_LCR_8N1);
    return divisor;
}

static void leave_state(bool testdev)
{
    outb(UART_SCR, SAVED_SCRATCH);
    set_divisor(SAVED_DIVISOR);
    if (testdev) {
        outl(TESTDEV_SCRATCH, SAVED_TESTDEV);
        for (unsigned i = 0; i < 4; i++) {
            mmio_write32(TESTDEV_IOMEM + 4 * i, iomem_pattern[i]);
        }
    }
}

/* NULL when everything reads back as left, else what differs. */
static const char *state_differs(bool testdev)
{
    if (inb(UART_SCR) != SAVED_SCRATCH) {
        return "uart scratch register";
    }
    if (get_divisor() != SAVED_DIVISOR) {
        return "uart divisor latch";
    }
    if (testdev && inl(TESTDEV_SCRATCH) != SAVED_TESTDEV) {
        return "pc-testdev scratch";
    }
    for (unsigned i = 0; testdev && i < 4; i++) {
        if (mmio_read32(TESTDEV_IOMEM + 4 * i) != iomem_pattern[i]) {
            return "pc-testdev iomem";
        }
    }
    return NULL;
}

void fw_heartbeat(void)
{
    bool testdev = testdev_present();

    leave_state(testdev);
    putstr(testdev ? "# heartbeat: uart and pc-testdev state set\n"
                   : "# heartbeat: uart state set (no pc-testdev)\n");
    for (uint32_t tick = 1;; tick++) {
        const char *bad;

        for (int i = 0; i < SPINS_PER_TICK; i++) {
            (void)inb(UART_LSR);
        }
        bad = state_differs(testdev);
        putstr("tick ");
        putdec(tick);
        if (bad == NULL) {
            putstr(" ok\n");
        } else {
            putstr(" BAD: ");
            putstr(bad);
            putstr("\n");
            leave_state(testdev); /* report each loss once */
        }
    }
}
