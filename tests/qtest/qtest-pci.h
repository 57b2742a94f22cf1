/*
 * PCI helpers for the qtest suites (test-pci, test-pci-hostile, test-chipset): configuration
 * cycles through 0xCF8/0xCFC as firmware makes them (so xensim turns them into PCI_CONFIG
 * ioreqs for claimed functions), capability walks, and the interrupt log.
 */
#ifndef QTEST_PCI_H
#define QTEST_PCI_H

#include "libqtest.h"

#define QPCI_DEVFN(slot, fn) ((((slot) & 0x1fu) << 3) | ((fn) & 0x7u))

/* Configuration register access of size 1, 2 or 4 on bus 0 (reg aligned to size). */
uint32_t qpci_read(struct qtest *qt, unsigned devfn, unsigned reg, unsigned size);
void qpci_write(struct qtest *qt, unsigned devfn, unsigned reg, uint32_t value, unsigned size);
/* Offset of the first capability with this ID, or -1 (walks at most 48 entries). */
int qpci_find_cap(struct qtest *qt, unsigned devfn, uint8_t cap_id);

/* MMIO of any width through the generic command (libqtest has only some widths). */
uint64_t qmem_read(struct qtest *qt, uint64_t addr, unsigned size);
void qmem_write(struct qtest *qt, uint64_t addr, uint64_t value, unsigned size);

/* The interrupt events since the last call, one string each ("intx 5 0 1 36"); g_strfreev. */
char **qirq_events(struct qtest *qt);
/*
 * Fails the test unless the events since the last call that start with `kind` ("link ",
 * "msi ", "intx "; NULL: all of them) are exactly `want` (NULL-terminated), in order.
 */
void qirq_expect(struct qtest *qt, const char *kind, const char *const *want);
/* Xen's GSI for a bus-0 slot and pin (reference §3). */
unsigned qirq_intx_gsi(unsigned slot, unsigned pin);

#endif
