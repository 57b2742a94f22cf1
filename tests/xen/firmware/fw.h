/*
 * xendm-testfw: freestanding 32-bit firmware that exercises a device model from a real vCPU.
 * No libc: only gcc's freestanding headers.
 */
#ifndef TESTFW_FW_H
#define TESTFW_FW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TESTFW_VERSION "1.0"
#define MULTIBOOT_BOOT_MAGIC 0x2badb002u

/* ---- port I/O ---- */

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outw(uint16_t port, uint16_t v)
{
    __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint16_t inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

/* ---- MMIO: volatile accesses of exactly the width asked for ---- */

static inline uint8_t mmio_read8(uintptr_t a) { return *(volatile uint8_t *)a; }
static inline uint16_t mmio_read16(uintptr_t a) { return *(volatile uint16_t *)a; }
static inline uint32_t mmio_read32(uintptr_t a) { return *(volatile uint32_t *)a; }
static inline void mmio_write8(uintptr_t a, uint8_t v) { *(volatile uint8_t *)a = v; }
static inline void mmio_write16(uintptr_t a, uint16_t v) { *(volatile uint16_t *)a = v; }
static inline void mmio_write32(uintptr_t a, uint32_t v) { *(volatile uint32_t *)a = v; }

/* ---- console and TAP (console.c) ---- */

void uart_init(void);
void putstr(const char *s);
void puthex(uint32_t v);
void putdec(uint32_t v);
void tap_ok(const char *desc);
void tap_skip(const char *desc, const char *reason);
/* Reports one check: ok when got == expected, else "not ok ...: expected X got Y". */
bool check(const char *desc, uint32_t expected, uint32_t got);
/* For checks whose result is a yes/no (a buffer comparison, say). */
bool check_true(const char *desc, bool cond, const char *what_failed);
/* Compares len bytes; on a difference reports the first one ("... at byte N"). */
bool check_mem(const char *desc, const void *got, const void *want, size_t len);
void tap_finish(void);

/* ---- the checks (checks.c) ---- */

void checks_run(void);
/* Runs fn; a CPU exception inside it becomes one "not ok" line and the run goes on. */
void run_guarded(const char *desc, void (*fn)(void));

/* ---- exceptions (entry.S, fw.c) ---- */

struct exc_frame {
    uint32_t edi, esi, ebp, esp, ebx, edx, ecx, eax; /* pushal */
    uint32_t vector, error;
    uint32_t eip, cs, eflags; /* pushed by the CPU */
};

struct fw_jmpbuf {
    uint32_t ebx, esi, edi, ebp, esp, eip;
};

int fw_setjmp(struct fw_jmpbuf *buf) __attribute__((returns_twice));
void fw_longjmp(struct fw_jmpbuf *buf, int val) __attribute__((noreturn));
void fw_exception(struct exc_frame *frame) __attribute__((noreturn));
void fw_halt(void) __attribute__((noreturn));
extern const uint32_t fw_exception_stubs[32];
void idt_init(void);

void fw_main(uint32_t boot_magic);
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);

/* Ends the run: asks the device model for a reset, then halts. */
void fw_reset(void) __attribute__((noreturn));
/* Real-time waits on PIT channel 2 (pit.c). pit_start_ms arms one count of up to 50 ms;
 * pit_wait_expired polls for its end (false if the PIT never expires); pit_sleep_ms waits. */
#define PIT_MAX_COUNT_MS 50u
void pit_start_ms(unsigned ms);
bool pit_wait_expired(void);
void pit_sleep_ms(unsigned ms);
/* testfw-bench.elf's measurements, before its reset (bench.c). */
void fw_bench(void);
/* testfw-heartbeat.elf's ending (heartbeat.c). */
void fw_heartbeat(void) __attribute__((noreturn));

/* ---- interrupts beyond the exceptions (entry.S, fw.c) ---- */

#define FW_VECTOR_MSIX 0x40
#define FW_VECTOR_MSI 0x41
#define FW_VECTOR_SPURIOUS 0xff
#define FW_IRQ_STUBS 3
/* Stub i counts into fw_irq_counts[i]; stubs 0 and 1 then EOI the local APIC, 2 (spurious)
 * does not (Intel SDM vol. 3 §10.9). */
extern const uint32_t fw_irq_stubs[FW_IRQ_STUBS];
extern volatile uint32_t fw_irq_counts[FW_IRQ_STUBS];
void idt_set_gate(unsigned vector, uint32_t handler);

/* ---- PCI configuration mechanism #1 and the PCI checks (pci.c) ---- */

#define PCI_DEVFN(slot, fn) ((((slot) & 0x1fu) << 3) | ((fn) & 0x7u))
#define PCI_SLOT(devfn) (((devfn) >> 3) & 0x1fu)
#define PCI_FUNC(devfn) ((devfn) & 0x7u)

uint32_t pci_read32(unsigned devfn, unsigned reg);
uint16_t pci_read16(unsigned devfn, unsigned reg);
uint8_t pci_read8(unsigned devfn, unsigned reg);
void pci_write32(unsigned devfn, unsigned reg, uint32_t v);
void pci_write16(unsigned devfn, unsigned reg, uint16_t v);
void pci_write8(unsigned devfn, unsigned reg, uint8_t v);
/* The groups "pci", "platform", "msix" and "msi"; each skips when its device is absent. */
void pci_checks_run(void);

#endif
