/*
 * Waiting for real time with the 8254 PIT (Intel 82C54 datasheet): channel 2 in mode 0 counts
 * down once from the loaded value; its OUT shows in port 0x61 bit 5 while the gate (bit 0) is
 * high and the speaker (bit 1) off. Xen emulates the PIT and port 0x61 itself, as does plain
 * QEMU, so these waits never touch the device model under test.
 */
#include "fw.h"

#define PIT_CH2 0x42
#define PIT_MODE 0x43
#define PIT_CH2_MODE0_LOHI 0xb0
#define PORT_B 0x61
#define PORT_B_GATE2 0x01
#define PORT_B_SPEAKER 0x02
#define PORT_B_OUT2 0x20
#define PIT_HZ 1193182u /* PIT_MAX_COUNT_MS is 59659 ticks: fits the 16-bit counter */
/* A PIT that never expires (none emulated) must not hang the firmware: far more reads than
 * 50 ms takes even under TCG. */
#define PIT_POLL_LIMIT 10000000u

void pit_start_ms(unsigned ms)
{
    uint32_t ticks = PIT_HZ * (ms < PIT_MAX_COUNT_MS ? ms : PIT_MAX_COUNT_MS) / 1000u;

    outb(PORT_B, (uint8_t)((inb(PORT_B) & ~PORT_B_SPEAKER) | PORT_B_GATE2));
    outb(PIT_MODE, PIT_CH2_MODE0_LOHI);
    outb(PIT_CH2, (uint8_t)(ticks & 0xff));
    outb(PIT_CH2, (uint8_t)(ticks >> 8));
}

bool pit_wait_expired(void)
{
    for (uint32_t i = 0; i < PIT_POLL_LIMIT; i++) {
        if (inb(PORT_B) & PORT_B_OUT2) {
            return true;
        }
    }
    return false;
}

void pit_sleep_ms(unsigned ms)
{
    while (ms > 0) {
        unsigned chunk = ms < PIT_MAX_COUNT_MS ? ms : PIT_MAX_COUNT_MS;

        pit_start_ms(chunk);
        if (!pit_wait_expired()) {
            return;
        }
        ms -= chunk;
    }
}
