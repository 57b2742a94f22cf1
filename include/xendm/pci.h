/*
 * The PCI core: bus 0 of the machine, its functions' configuration space, BARs,
 * capabilities, INTx, MSI and MSI-X (PCI Local Bus 3.0; MSI/MSI-X per PCI 3.0 §6.8).
 *
 * A device file creates a function with pci_device_add(), fills its header
 * (IDs come from struct pci_device_id), registers BARs with region callbacks,
 * adds capabilities, and raises interrupts with pci_set_irq(), pci_msi_notify()
 * or pci_msix_notify(). The core owns everything generic:
 *  - config reads and writes from the guest (PCI_CONFIG ioreqs, or the 0xCF8/0xCFC
 *    ports the host bridge serves), with per-byte writable (wmask) and
 *    write-1-to-clear (w1cmask) masks; accesses beyond 256 bytes read all-ones and
 *    drop writes; misaligned or odd-sized accesses are refused the same way;
 *  - command register semantics: a BAR decodes (is mapped into the I/O or MMIO
 *    address space) only while its enable bit is set and its address is valid;
 *    BAR sizing (all-ones writes read back the size mask); a moved BAR stops
 *    answering at the old address; a BAR that would overlap another region stays
 *    unmapped (logged) until moved;
 *  - INTx disable (command bit 10) and the interrupt status bit (status bit 3);
 *  - MSI and MSI-X capability registers, the MSI-X table and PBA inside the BARs
 *    that hold them, masking and pending bits, delivery through
 *    machine_inject_msi() with the full 64-bit address;
 *  - claiming each function's SBDF from the accelerator when it is added.
 * Devices never see raw ioreqs and never call Xen.
 */
#ifndef XENDM_PCI_H
#define XENDM_PCI_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include "xendm/memory.h"

struct machine;
struct pci_bus;
struct pci_device;

#define PCI_CONFIG_SPACE_SIZE 256u
#define PCI_SLOT_MAX 32u
#define PCI_FUNC_MAX 8u
#define PCI_DEVFN(slot, fn) ((((slot) & 0x1fu) << 3) | ((fn) & 0x7u))
#define PCI_SLOT(devfn) (((devfn) >> 3) & 0x1fu)
#define PCI_FUNC(devfn) ((devfn) & 0x7u)
#define PCI_DEVFN_AUTO (-1) /* pci_device_add: the first free slot from 1 up, function 0 */

/* Standard header registers (type 0). */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION_ID 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_CLASS_DEVICE 0x0a
#define PCI_CACHE_LINE_SIZE 0x0c
#define PCI_LATENCY_TIMER 0x0d
#define PCI_HEADER_TYPE 0x0e
#define PCI_BASE_ADDRESS_0 0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_ROM_ADDRESS 0x30
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d

#define PCI_COMMAND_IO 0x0001
#define PCI_COMMAND_MEMORY 0x0002
#define PCI_COMMAND_MASTER 0x0004
#define PCI_COMMAND_SERR 0x0100
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_STATUS_INTERRUPT 0x0008
#define PCI_STATUS_CAP_LIST 0x0010

#define PCI_CAP_ID_PM 0x01
#define PCI_CAP_ID_MSI 0x05
#define PCI_CAP_ID_VNDR 0x09
#define PCI_CAP_ID_MSIX 0x11

/* BAR kinds: the low bits as they appear in the BAR register (PCI 3.0 §6.2.5.1). */
#define PCI_BAR_IO 0x1u
#define PCI_BAR_MEM32 0x0u
#define PCI_BAR_MEM64 0x4u
#define PCI_BAR_PREFETCH 0x8u
#define PCI_NUM_BARS 6u
#define PCI_BAR_UNMAPPED UINT64_MAX

#define PCI_SUBSYSTEM_VENDOR_ID_QEMU 0x1af4
#define PCI_SUBSYSTEM_ID_QEMU 0x1100

struct pci_device_id {
    uint16_t vendor_id;
    uint16_t device_id;
    uint8_t revision;
    uint32_t class_code; /* base << 16 | sub-class << 8 | programming interface */
    /*
     * 0, 0: the IDs qemu-xen gives every device that sets none, 1af4:1100 ("QEMU virtual
     * machine"). Guests depend on them: SeaBIOS recognises the i440FX as QEMU's by them, and
     * Windows binds drivers by SUBSYS_11001AF4, so a guest installed under qemu-xen finds the
     * same devices under xendm.
     */
    uint16_t subsystem_vendor_id;
    uint16_t subsystem_id;
    uint8_t interrupt_pin; /* 0: none, 1..4: INTA..INTD */
    bool multifunction;    /* header type bit 7 (set on function 0 of a multi-function slot) */
};

/* What a device adds to the generic behaviour. Every hook may be NULL. */
struct pci_device_ops {
    /*
     * After the core stored a guest write (masked) and acted on what it owns (command,
     * BARs, capabilities it manages): device-specific side effects, e.g. PIIX3's PIRQ
     * route registers. offset is aligned to size (1, 2 or 4).
     */
    void (*config_write)(struct pci_device *d, void *opaque, uint32_t offset, uint32_t value,
                         unsigned size);
    /* A read of a register whose value is live (not stored); returns the value to read. */
    uint32_t (*config_read)(struct pci_device *d, void *opaque, uint32_t offset, unsigned size,
                            uint32_t stored);
    /* After the core reset the header, BARs (unmapped) and capabilities to power-on values. */
    void (*reset)(struct pci_device *d, void *opaque);
};

/* ---- the bus (the host bridge creates it; one per machine) ---- */

/* Creates bus 0 and installs it as the machine's PCI config handler (machine->pci_*). */
struct pci_bus *pci_bus_new(struct machine *m);
void pci_bus_free(struct pci_bus *bus); /* removes any function still on it */
struct pci_bus *machine_pci_bus(struct machine *m); /* NULL until a host bridge exists */
/* Config access by devfn (the host bridge's 0xCF8/0xCFC path and tests); absent -> all-ones. */
uint32_t pci_bus_config_read(struct pci_bus *bus, unsigned devfn, uint32_t offset, unsigned size);
void pci_bus_config_write(struct pci_bus *bus, unsigned devfn, uint32_t offset, uint32_t value,
                          unsigned size);
struct pci_device *pci_bus_find(struct pci_bus *bus, unsigned devfn);
void pci_bus_reset(struct pci_bus *bus); /* every function, then their ops->reset */

/* ---- functions ---- */

/*
 * Adds a function at devfn (or PCI_DEVFN_AUTO) and claims its SBDF from the accelerator.
 * Fails (err set) when the devfn is taken or out of range. name is copied (for logs and
 * `info pci`). Initial command register: 0; the device may preset it (the platform device
 * presets I/O + memory, reference §6).
 */
struct pci_device *pci_device_add(struct pci_bus *bus, int devfn, const char *name,
                                  const struct pci_device_id *id,
                                  const struct pci_device_ops *ops, void *opaque, GError **err);
void pci_device_remove(struct pci_device *d); /* unmaps BARs, releases the SBDF */
unsigned pci_device_devfn(const struct pci_device *d);
const char *pci_device_name(const struct pci_device *d);
struct machine *pci_device_machine(const struct pci_device *d);

/* Direct access to the config bytes, for the device's own setup and hooks. */
uint8_t *pci_config(struct pci_device *d);
uint8_t pci_get_byte(const struct pci_device *d, uint32_t offset);
uint16_t pci_get_word(const struct pci_device *d, uint32_t offset);
uint32_t pci_get_long(const struct pci_device *d, uint32_t offset);
void pci_set_byte(struct pci_device *d, uint32_t offset, uint8_t v);
void pci_set_word(struct pci_device *d, uint32_t offset, uint16_t v);
void pci_set_long(struct pci_device *d, uint32_t offset, uint32_t v);
/* Which bits the guest may write (default: none beyond what the core sets up). */
void pci_set_wmask(struct pci_device *d, uint32_t offset, uint32_t mask, unsigned size);
/* Which bits a guest write of 1 clears (status-style registers). */
void pci_set_w1cmask(struct pci_device *d, uint32_t offset, uint32_t mask, unsigned size);

/*
 * BAR `bar` (0..5; a 64-bit BAR also takes bar + 1). size: a power of two, at least 4 for
 * I/O (at most 256) and 16 for memory. ops/opaque serve accesses at offsets within the BAR;
 * the core calls them only while the BAR decodes, and routes the MSI-X table/PBA ranges
 * itself. Returns 0, or -1 (logged) on a bad request from the device code.
 */
int pci_register_bar(struct pci_device *d, unsigned bar, unsigned kind, uint64_t size,
                     const struct region_ops *ops, void *opaque);
uint64_t pci_bar_address(const struct pci_device *d, unsigned bar); /* or PCI_BAR_UNMAPPED */
/* Expansion ROM (0x30): read-only contents, size rounded up to a power of two >= 2 KiB. */
int pci_register_rom(struct pci_device *d, const void *data, size_t len);

struct kv_list;
/*
 * The path of firmware file `name` (hw/pci/pci-romfile.c): a path with a slash as it is, a bare
 * name in /usr/share/qemu, /usr/lib/ipxe/qemu or /usr/share/seabios. NULL when absent; g_free.
 */
char *pci_find_firmware(const char *name);
/*
 * The expansion ROM from `-device ...,romfile=NAME`, or from default_name when the property is
 * absent (it marks the property used). romfile= (empty) or a NULL default: no ROM. A default
 * that is not installed: a warning and no ROM. false with err set when a named file is missing
 * or unreadable, or is no ROM's size.
 */
bool pci_load_romfile(struct pci_device *d, struct kv_list *props, const char *default_name,
                      GError **err);

/* Adds a capability of `size` bytes; offset 0 = the first free dword-aligned place >= 0x40.
 * Links it into the list and sets status bit 4. Returns its offset, or -1. */
int pci_add_capability(struct pci_device *d, uint8_t cap_id, uint8_t offset, uint8_t size);
int pci_find_capability(const struct pci_device *d, uint8_t cap_id); /* offset or -1 */

/* ---- interrupts ---- */

/*
 * INTx: drives the function's pin (PCI_INTERRUPT_PIN) to level. The status interrupt
 * bit follows the device's level; the line to Xen (set_pci_intx_level with the slot and
 * pin - 1, no swizzle: reference §3) carries level && !INTx-disable, and changes only.
 */
void pci_set_irq(struct pci_device *d, bool level);

/* MSI capability: nr_vectors 1, 2, 4, ..., 32; 64-bit address; per-vector masking. */
int pci_msi_init(struct pci_device *d, unsigned nr_vectors, bool addr64, bool per_vector_mask);
bool pci_msi_enabled(const struct pci_device *d);
/* Sends vector (< the enabled count), or records it pending while masked. */
void pci_msi_notify(struct pci_device *d, unsigned vector);

/*
 * MSI-X capability with the table at table_bar + table_offset and the PBA at
 * pba_bar + pba_offset (8-byte aligned; the BARs must be registered first and large
 * enough). Table entries reset masked. Returns the capability offset, or -1.
 */
int pci_msix_init(struct pci_device *d, unsigned nr_vectors, unsigned table_bar,
                  uint32_t table_offset, unsigned pba_bar, uint32_t pba_offset);
/* Convenience: registers a dedicated 32-bit memory BAR holding the table, then the PBA. */
int pci_msix_init_exclusive_bar(struct pci_device *d, unsigned nr_vectors, unsigned bar);
bool pci_msix_enabled(const struct pci_device *d);
/* Sends entry `vector`, or sets its pending bit while it or the function is masked; a
 * pending vector is delivered once when unmasked. */
void pci_msix_notify(struct pci_device *d, unsigned vector);

/*
 * The devfn a `-device DRIVER,addr=...` asks for: "SLOT" or "SLOT.FN" with SLOT in hex as
 * QEMU takes it ("3", "0x3", "03.0"); PCI_DEVFN_AUTO when addr is absent. Reads the
 * property with kv_get (which marks it used). false with err set on a malformed or
 * out-of-range value.
 */
bool pci_devfn_from_props(struct kv_list *props, int *devfn, GError **err);

/* `info pci` for QMP/HMP: one line per function. */
void pci_bus_describe(struct pci_bus *bus, GString *out);

#endif
