/*
 * The MSI-X capability, table and pending bit array (PCI Local Bus 3.0 §6.8.2).
 *
 *   capability: +2 control (10:0 table size - 1, read-only; 14 function mask; 15 enable),
 *               +4 table offset | BIR, +8 PBA offset | BIR
 *   table entry (16 bytes): +0 address low, +4 address high, +8 data, +12 vector control
 *               (bit 0 mask; the other bits reserved, read 0)
 *   PBA: one bit per vector in qwords, read-only
 *
 * Table and PBA accesses are dword or aligned qword (§6.8.2: software uses DWORD or QWORD
 * accesses); anything else reads all-ones and is dropped, with a log.
 */
#include <glib.h>
#include <inttypes.h>

#include "hw/pci/pci-internal.h"
#include "xendm/log.h"
#include "xendm/machine.h"
#include "xendm/trace.h"
#include "xendm/vmstate.h"

#define MSIX_CTRL 2u
#define MSIX_TABLE 4u
#define MSIX_PBA 8u
#define MSIX_CAP_SIZE 12u
#define MSIX_CTRL_TABLE_SIZE 0x07ffu
#define MSIX_CTRL_MASKALL 0x4000u
#define MSIX_CTRL_ENABLE 0x8000u
#define MSIX_MAX_VECTORS 2048u
#define MSIX_ENTRY_SIZE 16u
#define MSIX_ENTRY_ADDR_LO 0u
#define MSIX_ENTRY_ADDR_HI 4u
#define MSIX_ENTRY_DATA 8u
#define MSIX_ENTRY_CTRL 12u
#define MSIX_ENTRY_MASKED 0x1u
#define MSIX_BIR_MASK 0x7u
/* A dedicated BAR is at least a page, so a guest can map the table alone. */
#define MSIX_EXCLUSIVE_BAR_MIN 4096u

static uint32_t msix_table_len(const struct pci_msix_state *x)
{
    return x->nr_vectors * MSIX_ENTRY_SIZE;
}

static uint32_t msix_pba_len(const struct pci_msix_state *x)
{
    return ((x->nr_vectors + 63u) / 64u) * 8u;
}

static uint16_t msix_control(const struct pci_device *d)
{
    return pci_get_word(d, (uint32_t)d->msix.cap + MSIX_CTRL);
}

bool pci_msix_enabled(const struct pci_device *d)
{
    return d->msix.cap >= 0 && (msix_control(d) & MSIX_CTRL_ENABLE) != 0;
}

static uint32_t entry_get(const struct pci_device *d, unsigned vector, unsigned reg)
{
    const uint8_t *p = d->msix.table + vector * MSIX_ENTRY_SIZE + reg;

    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void entry_set(struct pci_device *d, unsigned vector, unsigned reg, uint32_t v)
{
    uint8_t *p = d->msix.table + vector * MSIX_ENTRY_SIZE + reg;

    if (reg == MSIX_ENTRY_CTRL) {
        v &= MSIX_ENTRY_MASKED; /* reserved bits read 0 */
    }
    for (unsigned i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static bool pending_get(const struct pci_device *d, unsigned vector)
{
    return (d->msix.pending[vector / 64] >> (vector % 64)) & 1u;
}

static void pending_set(struct pci_device *d, unsigned vector, bool pending)
{
    uint64_t bit = UINT64_C(1) << (vector % 64);

    if (pending) {
        d->msix.pending[vector / 64] |= bit;
    } else {
        d->msix.pending[vector / 64] &= ~bit;
    }
}

/*
 * Masked by the function mask or the entry's own bit. Entries Xen maps onto pirqs (vector 0
 * in the data, reference §3) are masked through event channels instead, so never here.
 */
static bool msix_vector_masked(const struct pci_device *d, unsigned vector)
{
    uint32_t data = entry_get(d, vector, MSIX_ENTRY_DATA);

    if ((data & 0xffu) == 0 && entry_get(d, vector, MSIX_ENTRY_ADDR_LO) != 0) {
        return false;
    }
    return (msix_control(d) & MSIX_CTRL_MASKALL) ||
           (entry_get(d, vector, MSIX_ENTRY_CTRL) & MSIX_ENTRY_MASKED);
}

static void msix_send(struct pci_device *d, unsigned vector)
{
    uint64_t addr = (uint64_t)entry_get(d, vector, MSIX_ENTRY_ADDR_HI) << 32 |
                    entry_get(d, vector, MSIX_ENTRY_ADDR_LO);
    uint32_t data = entry_get(d, vector, MSIX_ENTRY_DATA);

    TRACE(pci_msix, "%s vector=%u addr=0x%" PRIx64 " data=0x%x", d->name, vector, addr, data);
    pci_msi_deliver(d, addr, data);
}

void pci_msix_notify(struct pci_device *d, unsigned vector)
{
    if (d->msix.cap < 0 || vector >= d->msix.nr_vectors) {
        log_error("pci: %s: MSI-X vector %u does not exist", d->name, vector);
        return;
    }
    if (!pci_msix_enabled(d)) {
        return;
    }
    if (msix_vector_masked(d, vector)) {
        pending_set(d, vector, true);
        return;
    }
    msix_send(d, vector);
}

/* §6.8.2.9: a vector pending when it becomes unmasked is sent then, once. */
static void msix_deliver_unmasked(struct pci_device *d)
{
    if (!pci_msix_enabled(d)) {
        return;
    }
    for (unsigned v = 0; v < d->msix.nr_vectors; v++) {
        if (pending_get(d, v) && !msix_vector_masked(d, v)) {
            pending_set(d, v, false);
            msix_send(d, v);
        }
    }
}

void pci_msix_config_written(struct pci_device *d, uint32_t offset, unsigned size)
{
    if (d->msix.cap < 0 ||
        !pci_range_overlaps(offset, size, (uint32_t)d->msix.cap + MSIX_CTRL, 2)) {
        return;
    }
    pci_intx_update(d);
    msix_deliver_unmasked(d);
}

bool pci_msix_in_bar(const struct pci_device *d, unsigned bar)
{
    return d->msix.cap >= 0 && (bar == d->msix.table_bar || bar == d->msix.pba_bar);
}

static bool in_range(uint64_t offset, uint32_t start, uint32_t len)
{
    return offset >= start && offset - start < len;
}

static bool table_access_ok(const struct pci_device *d, uint64_t rel, uint32_t len, unsigned size,
                            const char *what)
{
    if ((size == 4 || size == 8) && rel % size == 0 && rel + size <= len) {
        return true;
    }
    log_guest_error("pci: %s: %u-byte MSI-X %s access at offset 0x%" PRIx64 " refused", d->name,
                    size, what, rel);
    return false;
}

bool pci_msix_bar_read(struct pci_device *d, unsigned bar, uint64_t offset, unsigned size,
                       uint64_t *value)
{
    const struct pci_msix_state *x = &d->msix;
    uint64_t rel;

    if (!pci_msix_in_bar(d, bar)) {
        return false;
    }
    if (bar == x->table_bar && in_range(offset, x->table_offset, msix_table_len(x))) {
        rel = offset - x->table_offset;
        *value = all_ones(size);
        if (table_access_ok(d, rel, msix_table_len(x), size, "table")) {
            unsigned vector = (unsigned)(rel / MSIX_ENTRY_SIZE), reg = rel % MSIX_ENTRY_SIZE;
            *value = entry_get(d, vector, reg);
            if (size == 8) {
                *value |= (uint64_t)entry_get(d, vector, reg + 4) << 32;
            }
        }
        return true;
    }
    if (bar == x->pba_bar && in_range(offset, x->pba_offset, msix_pba_len(x))) {
        rel = offset - x->pba_offset;
        *value = all_ones(size);
        if (table_access_ok(d, rel, msix_pba_len(x), size, "PBA")) {
            *value = (x->pending[rel / 8] >> (8 * (rel % 8))) & all_ones(size);
        }
        return true;
    }
    return false;
}

bool pci_msix_bar_write(struct pci_device *d, unsigned bar, uint64_t offset, uint64_t value,
                        unsigned size)
{
    const struct pci_msix_state *x = &d->msix;

    if (!pci_msix_in_bar(d, bar)) {
        return false;
    }
    if (bar == x->table_bar && in_range(offset, x->table_offset, msix_table_len(x))) {
        uint64_t rel = offset - x->table_offset;
        if (table_access_ok(d, rel, msix_table_len(x), size, "table")) {
            unsigned vector = (unsigned)(rel / MSIX_ENTRY_SIZE), reg = rel % MSIX_ENTRY_SIZE;
            entry_set(d, vector, reg, (uint32_t)value);
            if (size == 8) {
                entry_set(d, vector, reg + 4, (uint32_t)(value >> 32));
            }
            msix_deliver_unmasked(d);
        }
        return true;
    }
    if (bar == x->pba_bar && in_range(offset, x->pba_offset, msix_pba_len(x))) {
        log_guest_error("pci: %s: write to the read-only MSI-X PBA at offset 0x%" PRIx64
                        " ignored", d->name, offset - x->pba_offset);
        return true;
    }
    return false;
}

static bool msix_bar_usable(const struct pci_device *d, unsigned bar, uint32_t offset,
                            uint32_t len)
{
    const struct pci_bar *b;

    if (bar >= PCI_NUM_BARS) {
        return false;
    }
    b = &d->bars[bar];
    return b->registered && !b->upper_half && !(b->kind & PCI_BAR_IO) && offset % 8 == 0 &&
           (uint64_t)offset + len <= b->size;
}

static void msix_reset_entries(struct pci_device *d)
{
    memset(d->msix.table, 0, msix_table_len(&d->msix));
    for (unsigned v = 0; v < d->msix.nr_vectors; v++) {
        entry_set(d, v, MSIX_ENTRY_CTRL, MSIX_ENTRY_MASKED);
    }
    memset(d->msix.pending, 0, msix_pba_len(&d->msix));
}

/*
 * The table and the PBA live in one block that also carries their "pci-msix" state section
 * (instance id = devfn): the section's fields point straight at the live bytes.
 */
struct pci_msix_saved {
    struct pci_device *d;
    struct vmstate_desc desc;
    struct vmstate_field fields[3];
    uint64_t data[]; /* the table (16 bytes per vector), then the PBA */
};

/* A loaded table may carry reserved bits or pending bits past the last vector: drop them. */
static void msix_state_loaded(void *obj)
{
    struct pci_msix_saved *saved = obj;
    struct pci_device *d = saved->d;
    unsigned tail = d->msix.nr_vectors % 64u;

    for (unsigned v = 0; v < d->msix.nr_vectors; v++) {
        entry_set(d, v, MSIX_ENTRY_CTRL, entry_get(d, v, MSIX_ENTRY_CTRL));
    }
    if (tail != 0) {
        d->msix.pending[d->msix.nr_vectors / 64u] &= (UINT64_C(1) << tail) - 1u;
    }
}

static void msix_storage_new(struct pci_device *d, uint32_t table_len, uint32_t pba_len)
{
    struct pci_msix_saved *saved = g_malloc0(sizeof(*saved) + table_len + pba_len);
    size_t data = offsetof(struct pci_msix_saved, data);

    saved->d = d;
    saved->fields[0] = (struct vmstate_field){
        .name = "table", .type = VMSTATE_TYPE_U8, .offset = data, .count = table_len};
    saved->fields[1] = (struct vmstate_field){
        .name = "pba", .type = VMSTATE_TYPE_U8, .offset = data + table_len, .count = pba_len};
    saved->desc = (struct vmstate_desc){
        .name = "pci-msix", .version = 1, .fields = saved->fields,
        .post_load = msix_state_loaded};
    d->msix.saved = saved;
    d->msix.table = (uint8_t *)saved->data;
    d->msix.pending = saved->data + table_len / sizeof(uint64_t);
    machine_add_state(pci_device_machine(d), &saved->desc, pci_device_devfn(d), saved);
}

int pci_msix_init(struct pci_device *d, unsigned nr_vectors, unsigned table_bar,
                  uint32_t table_offset, unsigned pba_bar, uint32_t pba_offset)
{
    struct pci_msix_state *x = &d->msix;
    uint32_t table_len = nr_vectors * MSIX_ENTRY_SIZE;
    uint32_t pba_len = ((nr_vectors + 63u) / 64u) * 8u;
    int cap;

    if (x->cap >= 0 || nr_vectors == 0 || nr_vectors > MSIX_MAX_VECTORS ||
        !msix_bar_usable(d, table_bar, table_offset, table_len) ||
        !msix_bar_usable(d, pba_bar, pba_offset, pba_len) ||
        (table_bar == pba_bar &&
         pci_range_overlaps(table_offset, table_len, pba_offset, pba_len))) {
        log_error("pci: %s: bad MSI-X request (%u vectors, table BAR%u+0x%x, PBA BAR%u+0x%x)",
                  d->name, nr_vectors, table_bar, table_offset, pba_bar, pba_offset);
        return -1;
    }
    cap = pci_add_capability(d, PCI_CAP_ID_MSIX, 0, MSIX_CAP_SIZE);
    if (cap < 0) {
        return -1;
    }
    x->cap = cap;
    x->nr_vectors = nr_vectors;
    x->table_bar = table_bar;
    x->table_offset = table_offset;
    x->pba_bar = pba_bar;
    x->pba_offset = pba_offset;
    msix_storage_new(d, table_len, pba_len);
    msix_reset_entries(d);
    pci_set_word(d, (uint32_t)cap + MSIX_CTRL, (uint16_t)(nr_vectors - 1u));
    pci_set_wmask(d, (uint32_t)cap + MSIX_CTRL, MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL, 2);
    pci_set_long(d, (uint32_t)cap + MSIX_TABLE, table_offset | table_bar);
    pci_set_long(d, (uint32_t)cap + MSIX_PBA, pba_offset | pba_bar);
    /* The BARs' regions must now see every access width (the table refuses some itself). */
    pci_bar_remap(d, table_bar);
    if (pba_bar != table_bar) {
        pci_bar_remap(d, pba_bar);
    }
    return cap;
}

int pci_msix_init_exclusive_bar(struct pci_device *d, unsigned nr_vectors, unsigned bar)
{
    uint64_t table_len = (uint64_t)nr_vectors * MSIX_ENTRY_SIZE;
    uint64_t pba_len = ((uint64_t)nr_vectors + 63u) / 64u * 8u;
    uint64_t size = MSIX_EXCLUSIVE_BAR_MIN;

    if (nr_vectors == 0 || nr_vectors > MSIX_MAX_VECTORS) {
        log_error("pci: %s: bad MSI-X request (%u vectors)", d->name, nr_vectors);
        return -1;
    }
    while (size < table_len + pba_len) {
        size <<= 1;
    }
    if (pci_register_bar(d, bar, PCI_BAR_MEM32, size, NULL, NULL) < 0) {
        return -1;
    }
    return pci_msix_init(d, nr_vectors, bar, 0, bar, (uint32_t)table_len);
}

void pci_msix_reset(struct pci_device *d)
{
    uint32_t ctrl = (uint32_t)d->msix.cap + MSIX_CTRL;

    if (d->msix.cap < 0) {
        return;
    }
    pci_set_word(d, ctrl, pci_get_word(d, ctrl) & ~(MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL));
    msix_reset_entries(d);
}

void pci_msix_free(struct pci_device *d)
{
    if (d->msix.saved != NULL) {
        machine_remove_state(pci_device_machine(d), d->msix.saved);
        g_free(d->msix.saved);
    }
    d->msix.saved = NULL;
    d->msix.table = NULL;
    d->msix.pending = NULL;
}
