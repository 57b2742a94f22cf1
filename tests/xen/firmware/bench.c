/*
 * testfw-bench.elf's ending: the cost of a device-model round trip as a real vCPU sees it, for
 * `make bench` on the rig. After the checks it times, with the TSC, a run of port reads of
 * pc-testdev's scratch register (0xE0) and a run of MMIO reads of its window (0xFF000000):
 * every one an ioreq answered by the device model, nothing else on the path. The TSC rate
 * comes from PIT channel 2 counting 50 ms (Xen emulates the PIT itself, so the calibration
 * does not touch the device model). It prints the raw counts; the host does the division:
 *   BENCH calib_ms=50 calib_tsc=HI:LO pio_n=N pio_tsc=HI:LO mmio_n=N mmio_tsc=HI:LO
 * and resets the guest.
 */
#include "fw.h"

#define TESTDEV_SCRATCH 0xe0
#define TESTDEV_IOMEM 0xff000000u
#define BENCH_ROUND_TRIPS 1000

#define CALIB_MS 50u /* one PIT count (pit.c) */

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;

    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

static uint64_t tsc_over_calibration(void)
{
    uint64_t start;

    pit_start_ms(CALIB_MS);
    start = rdtsc();
    (void)pit_wait_expired();
    return rdtsc() - start;
}

static uint64_t tsc_over_pio(void)
{
    uint64_t start = rdtsc();

    for (int i = 0; i < BENCH_ROUND_TRIPS; i++) {
        (void)inl(TESTDEV_SCRATCH);
    }
    return rdtsc() - start;
}

static uint64_t tsc_over_mmio(void)
{
    uint64_t start = rdtsc();

    for (int i = 0; i < BENCH_ROUND_TRIPS; i++) {
        (void)mmio_read32(TESTDEV_IOMEM);
    }
    return rdtsc() - start;
}

static void put_u64(const char *name, uint64_t v)
{
    putstr(name);
    puthex((uint32_t)(v >> 32));
    putstr(":");
    puthex((uint32_t)v);
}

void fw_bench(void)
{
    uint64_t calib = tsc_over_calibration();
    uint64_t pio = tsc_over_pio();
    uint64_t mmio = tsc_over_mmio();

    putstr("BENCH calib_ms=");
    putdec(CALIB_MS);
    put_u64(" calib_tsc=", calib);
    putstr(" pio_n=");
    putdec(BENCH_ROUND_TRIPS);
    put_u64(" pio_tsc=", pio);
    putstr(" mmio_n=");
    putdec(BENCH_ROUND_TRIPS);
    put_u64(" mmio_tsc=", mmio);
    putstr("\n");
}
