/*
 * What the files of the PCI core (pci.c, msi.c, msix.c) share among themselves.
 * Device code uses include/xendm/pci.h only.
 */
#ifndef XENDM_HW_PCI_INTERNAL_H
#define XENDM_HW_PCI_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include "xendm/memory.h"
#include "xendm/pci.h"

struct pci_bar {
    struct pci_device *dev;
    unsigned index;
    bool registered;
    bool upper_half; /* the high dword of the 64-bit BAR index - 1 */
    unsigned kind;   /* PCI_BAR_IO, or PCI_BAR_MEM32/MEM64 with PCI_BAR_PREFETCH */
    uint64_t size;
    const struct region_ops *ops; /* the device's; NULL: unbacked (reads 0) */
    void *opaque;
    struct region_ops trampoline; /* what the mapped region was registered with */
    struct region *region;        /* non-NULL while mapped */
    char *region_name;
};

struct pci_msi_state {
    int cap;           /* offset, or -1 */
    unsigned nr_vectors;
    bool addr64;
    bool per_vector_mask;
};

struct pci_msix_state {
    int cap; /* offset, or -1 */
    unsigned nr_vectors;
    unsigned table_bar;
    uint32_t table_offset;
    unsigned pba_bar;
    uint32_t pba_offset;
    uint8_t *table;   /* 16 bytes per entry, little-endian, as the guest sees it */
    uint64_t *pending; /* one bit per vector, in PBA layout */
    struct pci_msix_saved *saved; /* the block holding table and PBA, and their state section */
};

struct pci_device {
    struct pci_bus *bus;
    unsigned devfn;
    char *name;
    struct pci_device_id id;
    const struct pci_device_ops *ops;
    void *opaque;
    uint8_t config[PCI_CONFIG_SPACE_SIZE];
    uint8_t wmask[PCI_CONFIG_SPACE_SIZE];
    uint8_t w1cmask[PCI_CONFIG_SPACE_SIZE];
    /* Bytes taken by the header and the capabilities (for pci_add_capability's search). */
    bool cap_used[PCI_CONFIG_SPACE_SIZE];
    struct pci_bar bars[PCI_NUM_BARS];
    /* Expansion ROM (0x30). */
    uint8_t *rom;
    uint64_t rom_size; /* power of two >= 2 KiB, 0 when none */
    struct region *rom_region;
    char *rom_region_name;
    /* INTx: the device's level, and what Xen was last told (changes only). */
    bool intx_level;
    bool intx_line;
    unsigned intx_pin; /* 0 = INTA: the pin the line was raised on */
    struct pci_msi_state msi;
    struct pci_msix_state msix;
    /* The configuration space as saved or loaded (pci-state.c merges it into config). */
    uint8_t state_config[PCI_CONFIG_SPACE_SIZE];
};

/* pci.c */
void pci_intx_update(struct pci_device *d);
/*
 * Sends one MSI or MSI-X message as the function's memory write (PCI 3.0 §6.8): nothing while
 * bus mastering is off; an interrupt through Xen for an address in the local APIC window;
 * else a plain write of the data to guest memory, as the bus would do.
 */
void pci_msi_deliver(struct pci_device *d, uint64_t addr, uint32_t data);
/* After a load: how many functions drive each slot's INTx wires, from their saved lines. */
void pci_bus_recount_intx(struct pci_bus *bus);
/* Maps or unmaps every BAR and the ROM as the command register and addresses now say. */
void pci_update_mappings(struct pci_device *d);
bool pci_range_overlaps(uint32_t a, unsigned a_len, uint32_t b, unsigned b_len);
/* Registers the BAR's region again (its access widths change when MSI-X moves in). */
void pci_bar_remap(struct pci_device *d, unsigned bar);

/* msi.c: MSI capability side effects after the core stored a guest write. */
void pci_msi_config_written(struct pci_device *d, uint32_t offset, unsigned size);
void pci_msi_reset(struct pci_device *d);
/* After a load: the pending bits (read-only to the guest) come from the saved config. */
void pci_msi_state_loaded(struct pci_device *d, const uint8_t *saved_config);

/* pci-state.c: the function's section of the saved device state. */
void pci_state_register(struct pci_device *d);
void pci_state_unregister(struct pci_device *d);

/* msix.c */
void pci_msix_config_written(struct pci_device *d, uint32_t offset, unsigned size);
void pci_msix_reset(struct pci_device *d);
void pci_msix_free(struct pci_device *d);
/* True when this BAR holds the MSI-X table or PBA (its region must see every width). */
bool pci_msix_in_bar(const struct pci_device *d, unsigned bar);
/* Serves an access to the table or PBA; false when offset is outside both. */
bool pci_msix_bar_read(struct pci_device *d, unsigned bar, uint64_t offset, unsigned size,
                       uint64_t *value);
bool pci_msix_bar_write(struct pci_device *d, unsigned bar, uint64_t offset, uint64_t value,
                        unsigned size);

#endif
