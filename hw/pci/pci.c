/*
 * The PCI core: bus 0, the configuration space of its functions (type 0 headers), BARs and
 * the expansion ROM, the capability list and INTx (PCI Local Bus Specification 3.0).
 * MSI and MSI-X live in msi.c and msix.c.
 *
 * Every function has 256 bytes of configuration space plus two masks per byte: wmask (the
 * bits a guest write may change) and w1cmask (the bits a guest write of 1 clears). A guest
 * write is stored through the masks first; then the core acts on what it owns (command
 * register, BARs, ROM, MSI/MSI-X) and finally tells the device (ops->config_write).
 *
 * A BAR is mapped into m->io or m->mmio only while it decodes: the command enable bit for
 * its kind is set and its address is valid. The region is always the core's trampoline,
 * which routes the MSI-X table and PBA to msix.c and everything else to the device's
 * region_ops at the offset within the BAR.
 *
 * The capability list is kept in the order capabilities were added: 0x34 points at the
 * oldest, each new one is linked at the tail.
 */
#include <glib.h>
#include <inttypes.h>
#include <string.h>

#include "hw/pci/pci-internal.h"
#include "xendm/keyval.h"
#include "xendm/log.h"
#include "xendm/machine.h"
#include "xendm/trace.h"

#define PCI_ERROR (g_quark_from_static_string("xendm-pci"))

#define PCI_HEADER_SIZE 0x40u
#define PCI_DEVFN_MAX 256u
#define PCI_IO_SPACE_END 0x10000ull
#define PCI_MEM32_END 0x100000000ull
#define PCI_IO_BAR_MAX_SIZE 256u
#define PCI_MEM_BAR_MIN_SIZE 16u
#define PCI_IO_ADDR_MASK (~UINT64_C(0x3))
#define PCI_MEM_ADDR_MASK (~UINT64_C(0xf))
#define PCI_ROM_ENABLE 0x1u
#define PCI_ROM_ADDR_MASK 0xfffff800u
#define PCI_ROM_MIN_SIZE 0x800u
#define PCI_ROM_MAX_SIZE 0x80000000u
/* Bounds a walk of the capability list (at most 48 dword-aligned places above the header). */
#define PCI_CAP_WALK_MAX 48
/* Command bits a guest may set (PCI 3.0 §6.2.2): I/O, memory, bus master, parity, SERR#,
 * INTx disable. The others are hardwired to 0 on this platform. */
#define PCI_COMMAND_PARITY 0x0040
#define PCI_COMMAND_WRITABLE                                                                      \
    (PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY |             \
     PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)
/* Status error bits, write-1-to-clear (§6.2.3): 15:11 and 8 (master data parity error). */
#define PCI_STATUS_W1C 0xf900u

#define PCI_INTX_PINS 4u

struct pci_bus {
    struct machine *m;
    struct pci_device *devs[PCI_DEVFN_MAX];
    /*
     * The functions of a slot share its four INTx wires (wired-OR), and Xen keeps one level per
     * slot and pin: how many functions drive each, so that only 0 <-> 1 reaches Xen.
     */
    uint8_t intx_drivers[PCI_SLOT_MAX][PCI_INTX_PINS];
};

/* ---- the bus ---- */

static uint64_t bus_sbdf_read(void *opaque, uint32_t sbdf, uint32_t reg, unsigned size)
{
    struct pci_bus *bus = opaque;

    /* Only segment 0, bus 0 exists: there is no bridge to forward type 1 cycles. */
    if (sbdf >= PCI_DEVFN_MAX) {
        log_guest_error("pci: config read of %04x:%02x:%02x.%u (no such bus)", sbdf >> 16,
                        (sbdf >> 8) & 0xff, PCI_SLOT(sbdf), PCI_FUNC(sbdf));
        return all_ones(size);
    }
    return pci_bus_config_read(bus, sbdf, reg, size);
}

static void bus_sbdf_write(void *opaque, uint32_t sbdf, uint32_t reg, uint64_t val, unsigned size)
{
    struct pci_bus *bus = opaque;

    if (sbdf >= PCI_DEVFN_MAX) {
        log_guest_error("pci: config write to %04x:%02x:%02x.%u (no such bus)", sbdf >> 16,
                        (sbdf >> 8) & 0xff, PCI_SLOT(sbdf), PCI_FUNC(sbdf));
        return;
    }
    pci_bus_config_write(bus, sbdf, reg, (uint32_t)val, size);
}

struct pci_bus *pci_bus_new(struct machine *m)
{
    struct pci_bus *bus;

    if (m->pci_bus != NULL) {
        log_error("pci: the machine already has a PCI bus");
        return NULL;
    }
    bus = g_new0(struct pci_bus, 1);
    bus->m = m;
    m->pci_bus = bus;
    m->pci_config_read = bus_sbdf_read;
    m->pci_config_write = bus_sbdf_write;
    m->pci_opaque = bus;
    return bus;
}

void pci_bus_free(struct pci_bus *bus)
{
    struct machine *m;

    if (bus == NULL) {
        return;
    }
    for (unsigned devfn = 0; devfn < PCI_DEVFN_MAX; devfn++) {
        if (bus->devs[devfn] != NULL) {
            pci_device_remove(bus->devs[devfn]);
        }
    }
    m = bus->m;
    if (m->pci_bus == bus) {
        m->pci_bus = NULL;
        m->pci_config_read = NULL;
        m->pci_config_write = NULL;
        m->pci_opaque = NULL;
    }
    g_free(bus);
}

struct pci_bus *machine_pci_bus(struct machine *m)
{
    return m->pci_bus;
}

struct pci_device *pci_bus_find(struct pci_bus *bus, unsigned devfn)
{
    return devfn < PCI_DEVFN_MAX ? bus->devs[devfn] : NULL;
}

/* A function other than 0 answers only when function 0 of its slot exists (PCI 3.0 §6.1). */
static struct pci_device *visible_function(struct pci_bus *bus, unsigned devfn)
{
    struct pci_device *d = pci_bus_find(bus, devfn);

    if (d != NULL && PCI_FUNC(devfn) != 0 && bus->devs[PCI_DEVFN(PCI_SLOT(devfn), 0)] == NULL) {
        return NULL;
    }
    return d;
}

/* ---- raw configuration bytes ---- */

static bool config_range_ok(uint32_t offset, unsigned size)
{
    return size <= PCI_CONFIG_SPACE_SIZE && offset <= PCI_CONFIG_SPACE_SIZE - size;
}

uint8_t *pci_config(struct pci_device *d)
{
    return d->config;
}

static uint32_t get_le(const uint8_t *bytes, uint32_t offset, unsigned size)
{
    uint32_t v = 0;

    if (!config_range_ok(offset, size)) {
        return (uint32_t)all_ones(size);
    }
    for (unsigned i = 0; i < size; i++) {
        v |= (uint32_t)bytes[offset + i] << (8 * i);
    }
    return v;
}

static void set_le(uint8_t *bytes, uint32_t offset, uint32_t v, unsigned size)
{
    if (!config_range_ok(offset, size)) {
        log_error("pci: device code accessed config offset 0x%x size %u", offset, size);
        return;
    }
    for (unsigned i = 0; i < size; i++) {
        bytes[offset + i] = (uint8_t)(v >> (8 * i));
    }
}

uint8_t pci_get_byte(const struct pci_device *d, uint32_t offset)
{
    return (uint8_t)get_le(d->config, offset, 1);
}

uint16_t pci_get_word(const struct pci_device *d, uint32_t offset)
{
    return (uint16_t)get_le(d->config, offset, 2);
}

uint32_t pci_get_long(const struct pci_device *d, uint32_t offset)
{
    return get_le(d->config, offset, 4);
}

void pci_set_byte(struct pci_device *d, uint32_t offset, uint8_t v)
{
    set_le(d->config, offset, v, 1);
}

void pci_set_word(struct pci_device *d, uint32_t offset, uint16_t v)
{
    set_le(d->config, offset, v, 2);
}

void pci_set_long(struct pci_device *d, uint32_t offset, uint32_t v)
{
    set_le(d->config, offset, v, 4);
}

void pci_set_wmask(struct pci_device *d, uint32_t offset, uint32_t mask, unsigned size)
{
    set_le(d->wmask, offset, mask, size);
}

void pci_set_w1cmask(struct pci_device *d, uint32_t offset, uint32_t mask, unsigned size)
{
    set_le(d->w1cmask, offset, mask, size);
}

bool pci_range_overlaps(uint32_t a, unsigned a_len, uint32_t b, unsigned b_len)
{
    return a < b + b_len && b < a + a_len;
}

/* ---- functions ---- */

unsigned pci_device_devfn(const struct pci_device *d)
{
    return d->devfn;
}

const char *pci_device_name(const struct pci_device *d)
{
    return d->name;
}

struct machine *pci_device_machine(const struct pci_device *d)
{
    return d->bus->m;
}

static void init_header(struct pci_device *d)
{
    const struct pci_device_id *id = &d->id;

    pci_set_word(d, PCI_VENDOR_ID, id->vendor_id);
    pci_set_word(d, PCI_DEVICE_ID, id->device_id);
    pci_set_byte(d, PCI_REVISION_ID, id->revision);
    pci_set_byte(d, PCI_CLASS_PROG, (uint8_t)id->class_code);
    pci_set_word(d, PCI_CLASS_DEVICE, (uint16_t)(id->class_code >> 8));
    pci_set_byte(d, PCI_HEADER_TYPE, id->multifunction ? 0x80 : 0x00);
    if (id->subsystem_vendor_id == 0 && id->subsystem_id == 0) {
        pci_set_word(d, PCI_SUBSYSTEM_VENDOR_ID, PCI_SUBSYSTEM_VENDOR_ID_QEMU);
        pci_set_word(d, PCI_SUBSYSTEM_ID, PCI_SUBSYSTEM_ID_QEMU);
    } else {
        pci_set_word(d, PCI_SUBSYSTEM_VENDOR_ID, id->subsystem_vendor_id);
        pci_set_word(d, PCI_SUBSYSTEM_ID, id->subsystem_id);
    }
    pci_set_byte(d, PCI_INTERRUPT_PIN, id->interrupt_pin);

    pci_set_wmask(d, PCI_COMMAND, PCI_COMMAND_WRITABLE, 2);
    pci_set_w1cmask(d, PCI_STATUS, PCI_STATUS_W1C, 2);
    pci_set_wmask(d, PCI_CACHE_LINE_SIZE, 0xff, 1);
    pci_set_wmask(d, PCI_LATENCY_TIMER, 0xff, 1);
    pci_set_wmask(d, PCI_INTERRUPT_LINE, 0xff, 1);
    for (unsigned i = 0; i < PCI_HEADER_SIZE; i++) {
        d->cap_used[i] = true;
    }
}

static int auto_devfn(const struct pci_bus *bus)
{
    for (unsigned slot = 1; slot < PCI_SLOT_MAX; slot++) {
        bool free = true;
        for (unsigned fn = 0; fn < PCI_FUNC_MAX; fn++) {
            free = free && bus->devs[PCI_DEVFN(slot, fn)] == NULL;
        }
        if (free) {
            return (int)PCI_DEVFN(slot, 0);
        }
    }
    return -1;
}

struct pci_device *pci_device_add(struct pci_bus *bus, int devfn, const char *name,
                                  const struct pci_device_id *id,
                                  const struct pci_device_ops *ops, void *opaque, GError **err)
{
    struct pci_device *d;

    if (devfn == PCI_DEVFN_AUTO) {
        devfn = auto_devfn(bus);
        if (devfn < 0) {
            g_set_error(err, PCI_ERROR, 0, "%s: no free PCI slot", name);
            return NULL;
        }
    }
    if (devfn < 0 || (unsigned)devfn >= PCI_DEVFN_MAX) {
        g_set_error(err, PCI_ERROR, 0, "%s: PCI devfn %d out of range", name, devfn);
        return NULL;
    }
    if (bus->devs[devfn] != NULL) {
        g_set_error(err, PCI_ERROR, 0, "%s: PCI address 00:%02x.%u is taken by %s", name,
                    PCI_SLOT(devfn), PCI_FUNC(devfn), bus->devs[devfn]->name);
        return NULL;
    }
    d = g_new0(struct pci_device, 1);
    d->bus = bus;
    d->devfn = (unsigned)devfn;
    d->name = g_strdup(name);
    d->id = *id;
    d->ops = ops;
    d->opaque = opaque;
    d->msi.cap = -1;
    d->msix.cap = -1;
    for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
        d->bars[i].dev = d;
        d->bars[i].index = i;
    }
    init_header(d);
    bus->devs[devfn] = d;
    /* For segment 0, bus 0 the SBDF is the devfn. */
    machine_claim_pcidev(bus->m, d->devfn, true);
    pci_state_register(d);
    return d;
}

static void bar_unmap(struct pci_bar *b);
static void rom_unmap(struct pci_device *d);

void pci_device_remove(struct pci_device *d)
{
    struct machine *m;

    if (d == NULL) {
        return;
    }
    m = d->bus->m;
    for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
        bar_unmap(&d->bars[i]);
        g_free(d->bars[i].region_name);
    }
    rom_unmap(d);
    /* A departing function must not leave its interrupt line asserted. */
    d->intx_level = false;
    pci_intx_update(d);
    machine_claim_pcidev(m, d->devfn, false);
    pci_state_unregister(d);
    d->bus->devs[d->devfn] = NULL;
    pci_msix_free(d);
    g_free(d->rom);
    g_free(d->rom_region_name);
    g_free(d->name);
    g_free(d);
}

/* ---- guest configuration cycles ---- */

/*
 * A configuration cycle carries one dword with byte enables (PCI 3.0 §3.2.2.3.2), so an
 * access of 1, 2 or 4 bytes inside one dword is valid even when not aligned to its size
 * (a word at 0xCFD reaches register 1-2; qemu-xen serves it too). Anything wider, or
 * crossing a dword or the end of the 256 bytes, is refused.
 */
static bool guest_access_ok(unsigned devfn, uint32_t offset, unsigned size, const char *what)
{
    if ((size != 1 && size != 2 && size != 4) || offset >= PCI_CONFIG_SPACE_SIZE ||
        offset % 4 + size > 4) {
        log_guest_error("pci: %s of %u bytes at 00:%02x.%u offset 0x%x refused", what, size,
                        PCI_SLOT(devfn), PCI_FUNC(devfn), offset);
        return false;
    }
    return true;
}

static uint32_t device_config_read(struct pci_device *d, uint32_t offset, unsigned size)
{
    uint32_t v = get_le(d->config, offset, size);

    if (d->ops != NULL && d->ops->config_read != NULL) {
        v = d->ops->config_read(d, d->opaque, offset, size, v) & (uint32_t)all_ones(size);
    }
    TRACE(pci_config_read, "%s 00:%02x.%u off=0x%x size=%u val=0x%x", d->name,
          PCI_SLOT(d->devfn), PCI_FUNC(d->devfn), offset, size, v);
    return v;
}

uint32_t pci_bus_config_read(struct pci_bus *bus, unsigned devfn, uint32_t offset, unsigned size)
{
    struct pci_device *d = visible_function(bus, devfn);
    unsigned read_size = size > 4 ? 4 : size;

    if (d == NULL) {
        /* Enumeration probes every devfn: an absent function is normal, not a guest error. */
        return (uint32_t)all_ones(read_size);
    }
    if (!guest_access_ok(devfn, offset, size, "config read")) {
        return (uint32_t)all_ones(read_size);
    }
    if (offset % size != 0) {
        /* Byte by byte, so the device's hooks only ever see aligned accesses. */
        uint32_t v = 0;
        for (unsigned i = 0; i < size; i++) {
            v |= device_config_read(d, offset + i, 1) << (8 * i);
        }
        return v;
    }
    return device_config_read(d, offset, size);
}

/* What the core does after a stored write: command, BARs, ROM, MSI, MSI-X. */
static void after_config_write(struct pci_device *d, uint32_t offset, unsigned size)
{
    bool command = pci_range_overlaps(offset, size, PCI_COMMAND, 2);

    if (command || pci_range_overlaps(offset, size, PCI_BASE_ADDRESS_0, 4 * PCI_NUM_BARS) ||
        pci_range_overlaps(offset, size, PCI_ROM_ADDRESS, 4)) {
        pci_update_mappings(d);
    }
    if (command) {
        pci_intx_update(d);
    }
    pci_msi_config_written(d, offset, size);
    pci_msix_config_written(d, offset, size);
}

static void device_config_write(struct pci_device *d, uint32_t offset, uint32_t value,
                                unsigned size)
{
    TRACE(pci_config_write, "%s 00:%02x.%u off=0x%x size=%u val=0x%x", d->name,
          PCI_SLOT(d->devfn), PCI_FUNC(d->devfn), offset, size, value);
    for (unsigned i = 0; i < size; i++) {
        uint32_t o = offset + i;
        uint8_t byte = (uint8_t)(value >> (8 * i));
        d->config[o] = (uint8_t)((d->config[o] & ~d->wmask[o]) | (byte & d->wmask[o]));
        d->config[o] &= (uint8_t)~(byte & d->w1cmask[o]);
    }
    after_config_write(d, offset, size);
    if (d->ops != NULL && d->ops->config_write != NULL) {
        d->ops->config_write(d, d->opaque, offset, value, size);
    }
}

void pci_bus_config_write(struct pci_bus *bus, unsigned devfn, uint32_t offset, uint32_t value,
                          unsigned size)
{
    struct pci_device *d = visible_function(bus, devfn);

    if (d == NULL) {
        log_guest_error("pci: config write to absent function 00:%02x.%u", PCI_SLOT(devfn),
                        PCI_FUNC(devfn));
        return;
    }
    if (!guest_access_ok(devfn, offset, size, "config write")) {
        return;
    }
    if (offset % size != 0) {
        for (unsigned i = 0; i < size; i++) {
            device_config_write(d, offset + i, (value >> (8 * i)) & 0xff, 1);
        }
        return;
    }
    device_config_write(d, offset, value, size);
}

/* ---- BARs ---- */

static uint32_t bar_reg(unsigned bar)
{
    return PCI_BASE_ADDRESS_0 + 4 * bar;
}

static bool bar_is_io(const struct pci_bar *b)
{
    return (b->kind & PCI_BAR_IO) != 0;
}

static bool bar_is_64(const struct pci_bar *b)
{
    return !bar_is_io(b) && (b->kind & PCI_BAR_MEM64) != 0;
}

static bool bar_request_ok(const struct pci_device *d, unsigned bar, unsigned kind, uint64_t size)
{
    bool io = (kind & PCI_BAR_IO) != 0;
    bool mem64 = !io && (kind & PCI_BAR_MEM64) != 0;

    if (bar >= PCI_NUM_BARS || (mem64 && bar + 1 >= PCI_NUM_BARS)) {
        return false;
    }
    if (d->bars[bar].registered || d->bars[bar].upper_half ||
        (mem64 && (d->bars[bar + 1].registered || d->bars[bar + 1].upper_half))) {
        return false;
    }
    if ((io && kind != PCI_BAR_IO) || (!io && (kind & ~(PCI_BAR_MEM64 | PCI_BAR_PREFETCH)))) {
        return false;
    }
    if (size == 0 || (size & (size - 1)) != 0) {
        return false;
    }
    if (io) {
        return size >= 4 && size <= PCI_IO_BAR_MAX_SIZE;
    }
    return size >= PCI_MEM_BAR_MIN_SIZE && (mem64 ? size <= (UINT64_C(1) << 63)
                                                   : size <= (UINT64_C(1) << 31));
}

static uint64_t bar_read(void *opaque, uint64_t offset, unsigned size);
static void bar_write(void *opaque, uint64_t offset, uint64_t value, unsigned size);

int pci_register_bar(struct pci_device *d, unsigned bar, unsigned kind, uint64_t size,
                     const struct region_ops *ops, void *opaque)
{
    struct pci_bar *b;
    uint64_t addr_mask;

    if (!bar_request_ok(d, bar, kind, size)) {
        log_error("pci: %s: bad BAR%u request (kind 0x%x size 0x%" PRIx64 ")", d->name, bar,
                  kind, size);
        return -1;
    }
    b = &d->bars[bar];
    b->registered = true;
    b->kind = kind;
    b->size = size;
    b->ops = ops;
    b->opaque = opaque;
    g_free(b->region_name);
    b->region_name = g_strdup_printf("%s BAR%u", d->name, bar);
    /* Sizing (PCI 3.0 §6.2.5.1): the bits below the size read back 0, so an all-ones write
     * reads back ~(size - 1) with the kind bits. */
    addr_mask = ~(size - 1) & ((kind & PCI_BAR_IO) ? PCI_IO_ADDR_MASK : PCI_MEM_ADDR_MASK);
    pci_set_long(d, bar_reg(bar), kind);
    pci_set_wmask(d, bar_reg(bar), (uint32_t)addr_mask, 4);
    if (bar_is_64(b)) {
        d->bars[bar + 1].upper_half = true;
        pci_set_long(d, bar_reg(bar + 1), 0);
        pci_set_wmask(d, bar_reg(bar + 1), (uint32_t)(addr_mask >> 32), 4);
    }
    pci_update_mappings(d);
    return 0;
}

/* The address the guest programmed (kind bits stripped), as one 64-bit value. */
static uint64_t bar_programmed_address(const struct pci_device *d, const struct pci_bar *b)
{
    uint64_t addr = pci_get_long(d, bar_reg(b->index));

    if (bar_is_64(b)) {
        addr |= (uint64_t)pci_get_long(d, bar_reg(b->index + 1)) << 32;
    }
    return addr & (bar_is_io(b) ? PCI_IO_ADDR_MASK : PCI_MEM_ADDR_MASK);
}

/* The writable address bits: what a sizing write leaves in the register. */
static uint64_t bar_sizing_address(const struct pci_device *d, const struct pci_bar *b)
{
    uint64_t mask = get_le(d->wmask, bar_reg(b->index), 4);

    if (bar_is_64(b)) {
        mask |= (uint64_t)get_le(d->wmask, bar_reg(b->index + 1), 4) << 32;
    }
    return mask;
}

/* Where the BAR decodes now, or PCI_BAR_UNMAPPED. */
static uint64_t bar_decode_address(const struct pci_device *d, const struct pci_bar *b)
{
    uint16_t command = pci_get_word(d, PCI_COMMAND);
    uint64_t addr, end;

    if (!b->registered || b->upper_half) {
        return PCI_BAR_UNMAPPED;
    }
    if (!(command & (bar_is_io(b) ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY))) {
        return PCI_BAR_UNMAPPED;
    }
    addr = bar_programmed_address(d, b);
    if (addr == 0 || addr == bar_sizing_address(d, b)) {
        return PCI_BAR_UNMAPPED;
    }
    if (__builtin_add_overflow(addr, b->size, &end)) {
        return PCI_BAR_UNMAPPED;
    }
    if (bar_is_io(b) ? end > PCI_IO_SPACE_END : (!bar_is_64(b) && end > PCI_MEM32_END)) {
        return PCI_BAR_UNMAPPED;
    }
    return addr;
}

static struct address_space *bar_space(const struct pci_bar *b)
{
    struct machine *m = b->dev->bus->m;

    return bar_is_io(b) ? m->io : m->mmio;
}

/*
 * The access widths the region accepts. Without MSI-X structures in the BAR they are the
 * device's own, so the address space splits and widens accesses for it; a BAR holding the
 * MSI-X table must see every width (the table refuses 1- and 2-byte accesses itself), and
 * the trampoline adapts the widths for the device's part.
 */
static void bar_trampoline_ops(struct pci_bar *b)
{
    struct region_ops *t = &b->trampoline;

    memset(t, 0, sizeof(*t));
    t->read = bar_read;
    t->write = bar_write;
    if (b->ops != NULL && !pci_msix_in_bar(b->dev, b->index)) {
        t->min_access = b->ops->min_access;
        t->max_access = b->ops->max_access;
    }
}

static void trace_bar_map(const struct pci_bar *b, uint64_t addr)
{
    TRACE(pci_bar_map, "%s addr=0x%" PRIx64 " size=0x%" PRIx64, b->region_name, addr, b->size);
}

static void trace_bar_unmap(const struct pci_bar *b, uint64_t addr)
{
    TRACE(pci_bar_unmap, "%s addr=0x%" PRIx64, b->region_name, addr);
}

static void bar_unmap(struct pci_bar *b)
{
    if (b->region == NULL) {
        return;
    }
    trace_bar_unmap(b, region_base(b->region));
    region_del_clear(&b->region);
}

static void bar_update(struct pci_bar *b)
{
    uint64_t want = bar_decode_address(b->dev, b);

    if (b->region != NULL) {
        if (want == region_base(b->region)) {
            return;
        }
        if (want != PCI_BAR_UNMAPPED) {
            uint64_t old = region_base(b->region);
            if (region_move(b->region, want)) {
                trace_bar_unmap(b, old);
                trace_bar_map(b, want);
                return;
            }
            log_guest_error("pci: %s at 0x%" PRIx64 " overlaps another region: left unmapped",
                            b->region_name, want);
        }
        bar_unmap(b);
        return;
    }
    if (want == PCI_BAR_UNMAPPED) {
        return;
    }
    bar_trampoline_ops(b);
    b->region = region_add(bar_space(b), b->region_name, want, b->size, &b->trampoline, b);
    if (b->region == NULL) {
        log_guest_error("pci: %s at 0x%" PRIx64 " overlaps another region: left unmapped",
                        b->region_name, want);
        return;
    }
    trace_bar_map(b, want);
}

void pci_bar_remap(struct pci_device *d, unsigned bar)
{
    if (bar < PCI_NUM_BARS) {
        bar_unmap(&d->bars[bar]);
        bar_update(&d->bars[bar]);
    }
}

uint64_t pci_bar_address(const struct pci_device *d, unsigned bar)
{
    if (bar >= PCI_NUM_BARS || d->bars[bar].region == NULL) {
        return PCI_BAR_UNMAPPED;
    }
    return region_base(d->bars[bar].region);
}

/* The device's widths: 0 means 1 (min) and 4 for ports or 8 for memory (max). */
static void device_widths(const struct pci_bar *b, unsigned *min, unsigned *max)
{
    *min = b->ops->min_access != 0 ? b->ops->min_access : 1;
    *max = b->ops->max_access != 0 ? b->ops->max_access : (bar_is_io(b) ? 4 : 8);
}

static uint64_t bar_device_read(struct pci_bar *b, uint64_t offset, unsigned size)
{
    unsigned min, max;
    uint64_t start, value;

    if (b->ops == NULL) {
        return 0; /* unbacked BAR */
    }
    if (b->ops->read == NULL) {
        return all_ones(size);
    }
    device_widths(b, &min, &max);
    if (size > max) {
        value = 0;
        for (unsigned done = 0; done < size; done += max) {
            value |= (b->ops->read(b->opaque, offset + done, max) & all_ones(max)) << (8 * done);
        }
        return value;
    }
    if (size >= min) {
        return b->ops->read(b->opaque, offset, size);
    }
    start = offset & ~(uint64_t)(min - 1);
    if (start + min > b->size) {
        return all_ones(size);
    }
    value = b->ops->read(b->opaque, start, min);
    return (value >> (8 * (offset - start))) & all_ones(size);
}

static void bar_device_write(struct pci_bar *b, uint64_t offset, uint64_t value, unsigned size)
{
    unsigned min, max;

    if (b->ops == NULL || b->ops->write == NULL) {
        return;
    }
    device_widths(b, &min, &max);
    if (size < min) {
        log_guest_error("pci: %s: dropped %u-byte write at offset 0x%" PRIx64
                        " (needs %u-byte accesses)", b->region_name, size, offset, min);
        return;
    }
    if (size > max) {
        for (unsigned done = 0; done < size; done += max) {
            b->ops->write(b->opaque, offset + done, (value >> (8 * done)) & all_ones(max), max);
        }
        return;
    }
    b->ops->write(b->opaque, offset, value, size);
}

static uint64_t bar_read(void *opaque, uint64_t offset, unsigned size)
{
    struct pci_bar *b = opaque;
    uint64_t value;

    if (pci_msix_bar_read(b->dev, b->index, offset, size, &value)) {
        return value;
    }
    return bar_device_read(b, offset, size);
}

static void bar_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct pci_bar *b = opaque;

    if (pci_msix_bar_write(b->dev, b->index, offset, value, size)) {
        return;
    }
    bar_device_write(b, offset, value, size);
}

/* ---- expansion ROM ---- */

static uint64_t rom_read(void *opaque, uint64_t offset, unsigned size)
{
    struct pci_device *d = opaque;
    uint64_t value = 0;

    if (offset >= d->rom_size || size > d->rom_size - offset) {
        return all_ones(size);
    }
    for (unsigned i = 0; i < size; i++) {
        value |= (uint64_t)d->rom[offset + i] << (8 * i);
    }
    return value;
}

static void rom_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct pci_device *d = opaque;

    log_guest_error("pci: %s: write to the expansion ROM at offset 0x%" PRIx64 " ignored",
                    d->name, offset);
}

static const struct region_ops rom_ops = {
    .read = rom_read,
    .write = rom_write,
};

static void rom_unmap(struct pci_device *d)
{
    region_del_clear(&d->rom_region);
}

static uint64_t rom_decode_address(const struct pci_device *d)
{
    uint32_t reg = pci_get_long(d, PCI_ROM_ADDRESS);
    uint64_t addr = reg & PCI_ROM_ADDR_MASK;

    if (d->rom_size == 0 || !(reg & PCI_ROM_ENABLE) ||
        !(pci_get_word(d, PCI_COMMAND) & PCI_COMMAND_MEMORY)) {
        return PCI_BAR_UNMAPPED;
    }
    if (addr == 0 || addr == (get_le(d->wmask, PCI_ROM_ADDRESS, 4) & PCI_ROM_ADDR_MASK) ||
        addr + d->rom_size > PCI_MEM32_END) {
        return PCI_BAR_UNMAPPED;
    }
    return addr;
}

static void rom_update(struct pci_device *d)
{
    uint64_t want = rom_decode_address(d);

    if (d->rom_region != NULL && want == region_base(d->rom_region)) {
        return;
    }
    if (d->rom_region != NULL && want != PCI_BAR_UNMAPPED && region_move(d->rom_region, want)) {
        return;
    }
    rom_unmap(d);
    if (want == PCI_BAR_UNMAPPED) {
        return;
    }
    d->rom_region = region_add(d->bus->m->mmio, d->rom_region_name, want, d->rom_size, &rom_ops,
                               d);
    if (d->rom_region == NULL) {
        log_guest_error("pci: %s at 0x%" PRIx64 " overlaps another region: left unmapped",
                        d->rom_region_name, want);
    }
}

int pci_register_rom(struct pci_device *d, const void *data, size_t len)
{
    uint64_t size = PCI_ROM_MIN_SIZE;

    if (d->rom != NULL || data == NULL || len == 0 || len > PCI_ROM_MAX_SIZE) {
        log_error("pci: %s: bad expansion ROM (%zu bytes)", d->name, len);
        return -1;
    }
    while (size < len) {
        size <<= 1;
    }
    d->rom = g_malloc0(size);
    memcpy(d->rom, data, len);
    d->rom_size = size;
    d->rom_region_name = g_strdup_printf("%s ROM", d->name);
    pci_set_long(d, PCI_ROM_ADDRESS, 0);
    pci_set_wmask(d, PCI_ROM_ADDRESS, (uint32_t)(~(size - 1) & PCI_ROM_ADDR_MASK) | PCI_ROM_ENABLE,
                  4);
    return 0;
}

void pci_update_mappings(struct pci_device *d)
{
    for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
        bar_update(&d->bars[i]);
    }
    rom_update(d);
}

/* ---- capabilities ---- */

static bool cap_range_free(const struct pci_device *d, unsigned offset, unsigned size)
{
    for (unsigned i = offset; i < offset + size; i++) {
        /* Bytes the device made writable are its own registers, even outside a capability. */
        if (d->cap_used[i] || d->wmask[i] != 0 || d->w1cmask[i] != 0) {
            return false;
        }
    }
    return true;
}

static int cap_place(const struct pci_device *d, unsigned offset, unsigned size)
{
    if (offset != 0) {
        bool ok = offset >= PCI_HEADER_SIZE && offset % 4 == 0 &&
                  offset + size <= PCI_CONFIG_SPACE_SIZE && cap_range_free(d, offset, size);
        return ok ? (int)offset : -1;
    }
    for (unsigned o = PCI_HEADER_SIZE; o + size <= PCI_CONFIG_SPACE_SIZE; o += 4) {
        if (cap_range_free(d, o, size)) {
            return (int)o;
        }
    }
    return -1;
}

int pci_add_capability(struct pci_device *d, uint8_t cap_id, uint8_t offset, uint8_t size)
{
    int where;
    unsigned link = PCI_CAPABILITY_LIST;

    where = size >= 2 ? cap_place(d, offset, size) : -1;
    if (where < 0) {
        log_error("pci: %s: no room for capability 0x%02x (offset 0x%x, %u bytes)", d->name,
                  cap_id, offset, size);
        return -1;
    }
    for (unsigned i = 0; i < size; i++) {
        d->cap_used[where + i] = true;
    }
    d->config[where] = cap_id;
    d->config[where + 1] = 0;
    /* Link at the tail: the list reads in the order the capabilities were added. */
    for (int steps = 0; d->config[link] != 0 && steps < PCI_CAP_WALK_MAX; steps++) {
        link = (d->config[link] & 0xfcu) + 1;
    }
    d->config[link] = (uint8_t)where;
    pci_set_word(d, PCI_STATUS, pci_get_word(d, PCI_STATUS) | PCI_STATUS_CAP_LIST);
    return where;
}

int pci_find_capability(const struct pci_device *d, uint8_t cap_id)
{
    unsigned pos;

    if (!(pci_get_word(d, PCI_STATUS) & PCI_STATUS_CAP_LIST)) {
        return -1;
    }
    pos = d->config[PCI_CAPABILITY_LIST] & 0xfcu;
    for (int steps = 0; pos >= PCI_HEADER_SIZE && steps < PCI_CAP_WALK_MAX; steps++) {
        if (d->config[pos] == cap_id) {
            return (int)pos;
        }
        pos = d->config[pos + 1] & 0xfcu;
    }
    return -1;
}

/* ---- INTx ---- */

static void trace_intx(const struct pci_device *d, unsigned pin, bool line)
{
    TRACE(pci_intx, "%s slot=%u pin=%u level=%d", d->name, PCI_SLOT(d->devfn), pin, line);
}

/*
 * The line Xen sees: the device's level unless INTx is disabled by the command register or
 * replaced by MSI/MSI-X (PCI 3.0 §6.8.1.3, §6.8.2.3). Level changes only.
 */
void pci_intx_update(struct pci_device *d)
{
    uint8_t pin = pci_get_byte(d, PCI_INTERRUPT_PIN);
    bool line = d->intx_level && pin >= 1 && pin <= 4 &&
                !(pci_get_word(d, PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE) &&
                !pci_msi_enabled(d) && !pci_msix_enabled(d);

    uint8_t *drivers;

    if (line == d->intx_line) {
        return;
    }
    d->intx_line = line;
    if (line) {
        d->intx_pin = pin - 1u;
    }
    /* Lowering uses the pin that raised, should the device have changed its pin since. */
    drivers = &d->bus->intx_drivers[PCI_SLOT(d->devfn)][d->intx_pin];
    *drivers = line ? *drivers + 1 : (*drivers > 0 ? *drivers - 1 : 0);
    if (*drivers == (line ? 1 : 0)) {
        trace_intx(d, d->intx_pin, line);
        machine_set_pci_intx(d->bus->m, PCI_SLOT(d->devfn), d->intx_pin, line);
    }
}

void pci_bus_recount_intx(struct pci_bus *bus)
{
    memset(bus->intx_drivers, 0, sizeof(bus->intx_drivers));
    for (unsigned devfn = 0; devfn < PCI_DEVFN_MAX; devfn++) {
        const struct pci_device *d = bus->devs[devfn];
        if (d != NULL && d->intx_line) {
            bus->intx_drivers[PCI_SLOT(devfn)][d->intx_pin]++;
        }
    }
}

void pci_set_irq(struct pci_device *d, bool level)
{
    uint16_t status = pci_get_word(d, PCI_STATUS);

    if (level == d->intx_level) {
        return;
    }
    d->intx_level = level;
    status = level ? (status | PCI_STATUS_INTERRUPT) : (status & ~PCI_STATUS_INTERRUPT);
    pci_set_word(d, PCI_STATUS, status);
    pci_intx_update(d);
}

/* ---- MSI and MSI-X messages ---- */

/*
 * The local APIC window is decided by the low 32 bits alone: Xen reads the upper ones as the
 * high bits of a pirq when the vector is 0 (hvm_inject_msi), which is how Linux PV-on-HVM
 * guests program emulated devices' MSI, so a nonzero upper half is still an interrupt.
 */
#define MSI_ADDR_APIC_MASK 0xfff00000u
#define MSI_ADDR_APIC_BASE 0xfee00000u

void pci_msi_deliver(struct pci_device *d, uint64_t addr, uint32_t data)
{
    uint8_t bytes[4] = {(uint8_t)data, (uint8_t)(data >> 8), (uint8_t)(data >> 16),
                        (uint8_t)(data >> 24)};

    if (!(pci_get_word(d, PCI_COMMAND) & PCI_COMMAND_MASTER)) {
        log_guest_error("pci: %s: MSI with bus mastering off: not sent", d->name);
        return;
    }
    if (((uint32_t)addr & MSI_ADDR_APIC_MASK) == MSI_ADDR_APIC_BASE) {
        machine_inject_msi(d->bus->m, addr, data);
        return;
    }
    /* Not an interrupt: the message is a DWORD write to wherever the guest pointed it. */
    log_guest_error("pci: %s: MSI address 0x%" PRIx64 " is outside the local APIC window: "
                    "written to memory", d->name, addr);
    if (guest_write(d->bus->m, addr, bytes, sizeof(bytes)) != 0) {
        log_guest_error("pci: %s: MSI write to 0x%" PRIx64 " hit no RAM", d->name, addr);
    }
}

/* ---- reset ---- */

static void clear_writable(struct pci_device *d, uint32_t offset, unsigned size)
{
    for (unsigned i = offset; i < offset + size; i++) {
        d->config[i] &= (uint8_t)~(d->wmask[i] | d->w1cmask[i]);
    }
}

static void device_reset_core(struct pci_device *d)
{
    clear_writable(d, PCI_COMMAND, 4); /* command and status */
    clear_writable(d, PCI_CACHE_LINE_SIZE, 2);
    clear_writable(d, PCI_INTERRUPT_LINE, 1);
    for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
        const struct pci_bar *b = &d->bars[i];
        if (b->registered) {
            pci_set_long(d, bar_reg(i), b->kind);
        } else if (b->upper_half) {
            pci_set_long(d, bar_reg(i), 0);
        }
    }
    if (d->rom_size != 0) {
        pci_set_long(d, PCI_ROM_ADDRESS, 0);
    }
    pci_msi_reset(d);
    pci_msix_reset(d);
    pci_update_mappings(d);
    d->intx_level = false;
    pci_set_word(d, PCI_STATUS, pci_get_word(d, PCI_STATUS) & ~PCI_STATUS_INTERRUPT);
    pci_intx_update(d);
}

void pci_bus_reset(struct pci_bus *bus)
{
    for (unsigned devfn = 0; devfn < PCI_DEVFN_MAX; devfn++) {
        if (bus->devs[devfn] != NULL) {
            device_reset_core(bus->devs[devfn]);
        }
    }
    for (unsigned devfn = 0; devfn < PCI_DEVFN_MAX; devfn++) {
        struct pci_device *d = bus->devs[devfn];
        if (d != NULL && d->ops != NULL && d->ops->reset != NULL) {
            d->ops->reset(d, d->opaque);
        }
    }
}

/* ---- `-device ...,addr=` and `info pci` ---- */

static bool parse_hex(const char *text, const char **end, unsigned limit, unsigned *out)
{
    char *stop;
    guint64 v;

    if (!g_ascii_isxdigit(text[0])) {
        return false;
    }
    v = g_ascii_strtoull(text, &stop, 16);
    if (stop == text || v > limit) {
        return false;
    }
    *end = stop;
    *out = (unsigned)v;
    return true;
}

bool pci_devfn_from_props(struct kv_list *props, int *devfn, GError **err)
{
    const char *addr = kv_get(props, "addr");
    const char *rest;
    unsigned slot, fn = 0;

    if (addr == NULL) {
        *devfn = PCI_DEVFN_AUTO;
        return true;
    }
    if (!parse_hex(addr, &rest, PCI_SLOT_MAX - 1, &slot)) {
        goto bad;
    }
    if (*rest == '.') {
        if (!parse_hex(rest + 1, &rest, PCI_FUNC_MAX - 1, &fn)) {
            goto bad;
        }
    }
    if (*rest != '\0') {
        goto bad;
    }
    *devfn = (int)PCI_DEVFN(slot, fn);
    return true;
bad:
    g_set_error(err, PCI_ERROR, 0,
                "Property 'addr' value '%s' is not a PCI address (SLOT or SLOT.FN, slot 0-1f, "
                "function 0-7)", addr);
    return false;
}

static const char *bar_kind_name(const struct pci_bar *b)
{
    if (bar_is_io(b)) {
        return "io";
    }
    return bar_is_64(b) ? "mem64" : "mem32";
}

static void describe_bars(const struct pci_device *d, GString *out)
{
    for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
        const struct pci_bar *b = &d->bars[i];
        if (!b->registered) {
            continue;
        }
        g_string_append_printf(out, " BAR%u %s%s ", i, bar_kind_name(b),
                               (b->kind & PCI_BAR_PREFETCH) && !bar_is_io(b) ? " pref" : "");
        if (b->region != NULL) {
            g_string_append_printf(out, "0x%" PRIx64, region_base(b->region));
        } else {
            g_string_append(out, "unmapped");
        }
        g_string_append_printf(out, " size %" PRIu64, b->size);
    }
    if (d->rom_size != 0) {
        g_string_append(out, " ROM ");
        if (d->rom_region != NULL) {
            g_string_append_printf(out, "0x%" PRIx64, region_base(d->rom_region));
        } else {
            g_string_append(out, "unmapped");
        }
        g_string_append_printf(out, " size %" PRIu64, d->rom_size);
    }
}

void pci_bus_describe(struct pci_bus *bus, GString *out)
{
    for (unsigned devfn = 0; devfn < PCI_DEVFN_MAX; devfn++) {
        const struct pci_device *d = bus->devs[devfn];
        uint8_t pin;
        if (d == NULL) {
            continue;
        }
        pin = pci_get_byte(d, PCI_INTERRUPT_PIN);
        g_string_append_printf(out, "00:%02x.%u %04x:%04x class %04x %s", PCI_SLOT(devfn),
                               PCI_FUNC(devfn), pci_get_word(d, PCI_VENDOR_ID),
                               pci_get_word(d, PCI_DEVICE_ID),
                               pci_get_word(d, PCI_CLASS_DEVICE), d->name);
        if (pin >= 1 && pin <= 4) {
            g_string_append_printf(out, " INT%c line %u", 'A' + pin - 1,
                                   pci_get_byte(d, PCI_INTERRUPT_LINE));
        }
        describe_bars(d, out);
        if (d->msi.cap >= 0) {
            g_string_append_printf(out, " MSI %u%s", d->msi.nr_vectors,
                                   pci_msi_enabled(d) ? " on" : "");
        }
        if (d->msix.cap >= 0) {
            g_string_append_printf(out, " MSI-X %u%s", d->msix.nr_vectors,
                                   pci_msix_enabled(d) ? " on" : "");
        }
        g_string_append_c(out, '\n');
    }
}
