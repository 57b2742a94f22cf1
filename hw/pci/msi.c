/*
 * The MSI capability (PCI Local Bus 3.0 §6.8.1): message control, address, data, and with
 * per-vector masking the mask and pending registers. Layout from the capability start:
 *
 *   +0 id, +2 control, +4 address (bits 1:0 reserved),
 *   32-bit: +8 data, +0xc mask, +0x10 pending
 *   64-bit: +8 upper address, +0xc data, +0x10 mask, +0x14 pending
 *
 * The core stores guest writes through wmask; this file then clamps the multiple message
 * enable field and delivers vectors that were pending and are now unmasked.
 */
#include <glib.h>
#include <inttypes.h>

#include "hw/pci/pci-internal.h"
#include "xendm/log.h"
#include "xendm/machine.h"
#include "xendm/trace.h"

#define MSI_CTRL 2u
#define MSI_ADDR_LO 4u
#define MSI_CTRL_ENABLE 0x0001u
#define MSI_CTRL_MMC_SHIFT 1           /* multiple message capable, 3:1 */
#define MSI_CTRL_MME_SHIFT 4           /* multiple message enable, 6:4 */
#define MSI_CTRL_MME_MASK 0x0070u
#define MSI_CTRL_64BIT 0x0080u
#define MSI_CTRL_PER_VECTOR_MASK 0x0100u
#define MSI_MAX_VECTORS 32u

static unsigned msi_data_reg(const struct pci_msi_state *msi)
{
    return msi->addr64 ? 0xcu : 0x8u;
}

static unsigned msi_mask_reg(const struct pci_msi_state *msi)
{
    return msi_data_reg(msi) + 4u;
}

static unsigned msi_pending_reg(const struct pci_msi_state *msi)
{
    return msi_data_reg(msi) + 8u;
}

static unsigned msi_cap_size(const struct pci_msi_state *msi)
{
    /* Data is 16 bits; without per-vector masking the capability ends after it. */
    return msi->per_vector_mask ? msi_pending_reg(msi) + 4u : msi_data_reg(msi) + 2u;
}

static uint16_t msi_control(const struct pci_device *d)
{
    return pci_get_word(d, (uint32_t)d->msi.cap + MSI_CTRL);
}

static unsigned msi_enabled_vectors(const struct pci_device *d)
{
    return 1u << ((msi_control(d) & MSI_CTRL_MME_MASK) >> MSI_CTRL_MME_SHIFT);
}

bool pci_msi_enabled(const struct pci_device *d)
{
    return d->msi.cap >= 0 && (msi_control(d) & MSI_CTRL_ENABLE) != 0;
}

static uint64_t msi_address(const struct pci_device *d)
{
    uint32_t cap = (uint32_t)d->msi.cap;
    uint64_t addr = pci_get_long(d, cap + MSI_ADDR_LO);

    if (d->msi.addr64) {
        addr |= (uint64_t)pci_get_long(d, cap + MSI_ADDR_LO + 4) << 32;
    }
    return addr;
}

static uint16_t msi_data(const struct pci_device *d)
{
    return pci_get_word(d, (uint32_t)d->msi.cap + msi_data_reg(&d->msi));
}

/*
 * Xen maps some MSIs onto pirqs (vector 0 in the data, reference §3): the guest masks those
 * through event channels, so the capability's mask bit must not hold them back.
 */
static bool msi_vector_masked(const struct pci_device *d, unsigned vector)
{
    uint32_t cap = (uint32_t)d->msi.cap;

    if (!d->msi.per_vector_mask || (msi_data(d) & 0xffu) == 0) {
        return false;
    }
    return (pci_get_long(d, cap + msi_mask_reg(&d->msi)) >> vector) & 1u;
}

static void msi_set_pending(struct pci_device *d, unsigned vector, bool pending)
{
    uint32_t reg = (uint32_t)d->msi.cap + msi_pending_reg(&d->msi);
    uint32_t bits = pci_get_long(d, reg);

    bits = pending ? (bits | (1u << vector)) : (bits & ~(1u << vector));
    pci_set_long(d, reg, bits);
}

static bool msi_pending(const struct pci_device *d, unsigned vector)
{
    uint32_t reg = (uint32_t)d->msi.cap + msi_pending_reg(&d->msi);

    return d->msi.per_vector_mask && ((pci_get_long(d, reg) >> vector) & 1u);
}

/* §6.8.1.6: with N messages enabled the function modifies the low log2(N) bits of data. */
static void msi_send(struct pci_device *d, unsigned vector)
{
    uint32_t data = msi_data(d);
    uint64_t addr = msi_address(d);
    unsigned count = msi_enabled_vectors(d);

    data = (data & ~(count - 1u)) | vector;
    TRACE(pci_msi, "%s vector=%u addr=0x%" PRIx64 " data=0x%x", d->name, vector, addr, data);
    pci_msi_deliver(d, addr, data);
}

int pci_msi_init(struct pci_device *d, unsigned nr_vectors, bool addr64, bool per_vector_mask)
{
    struct pci_msi_state *msi = &d->msi;
    unsigned log2 = 0;
    uint16_t control;
    int cap;

    if (msi->cap >= 0 || nr_vectors == 0 || nr_vectors > MSI_MAX_VECTORS ||
        (nr_vectors & (nr_vectors - 1)) != 0) {
        log_error("pci: %s: bad MSI request (%u vectors)", d->name, nr_vectors);
        return -1;
    }
    while ((1u << log2) < nr_vectors) {
        log2++;
    }
    msi->nr_vectors = nr_vectors;
    msi->addr64 = addr64;
    msi->per_vector_mask = per_vector_mask;
    cap = pci_add_capability(d, PCI_CAP_ID_MSI, 0, (uint8_t)msi_cap_size(msi));
    if (cap < 0) {
        return -1;
    }
    msi->cap = cap;
    control = (uint16_t)(log2 << MSI_CTRL_MMC_SHIFT);
    control |= addr64 ? MSI_CTRL_64BIT : 0;
    control |= per_vector_mask ? MSI_CTRL_PER_VECTOR_MASK : 0;
    pci_set_word(d, (uint32_t)cap + MSI_CTRL, control);
    pci_set_wmask(d, (uint32_t)cap + MSI_CTRL, MSI_CTRL_ENABLE | MSI_CTRL_MME_MASK, 2);
    pci_set_wmask(d, (uint32_t)cap + MSI_ADDR_LO, 0xfffffffcu, 4);
    if (addr64) {
        pci_set_wmask(d, (uint32_t)cap + MSI_ADDR_LO + 4, 0xffffffffu, 4);
    }
    pci_set_wmask(d, (uint32_t)cap + msi_data_reg(msi), 0xffffu, 2);
    if (per_vector_mask) {
        uint32_t mask = nr_vectors == 32 ? 0xffffffffu : (1u << nr_vectors) - 1u;
        pci_set_wmask(d, (uint32_t)cap + msi_mask_reg(msi), mask, 4);
    }
    return cap;
}

void pci_msi_notify(struct pci_device *d, unsigned vector)
{
    /* A vector beyond what the guest enabled has nowhere to go (§6.8.1.3). */
    if (!pci_msi_enabled(d) || vector >= d->msi.nr_vectors || vector >= msi_enabled_vectors(d)) {
        return;
    }
    if (msi_vector_masked(d, vector)) {
        msi_set_pending(d, vector, true);
        return;
    }
    msi_send(d, vector);
}

static void msi_deliver_unmasked(struct pci_device *d)
{
    unsigned count;

    if (!pci_msi_enabled(d) || !d->msi.per_vector_mask) {
        return;
    }
    count = msi_enabled_vectors(d);
    for (unsigned v = 0; v < count; v++) {
        if (msi_pending(d, v) && !msi_vector_masked(d, v)) {
            msi_set_pending(d, v, false);
            msi_send(d, v);
        }
    }
}

void pci_msi_config_written(struct pci_device *d, uint32_t offset, unsigned size)
{
    uint32_t cap = (uint32_t)d->msi.cap;
    uint16_t control, mme, mmc;

    if (d->msi.cap < 0 || !pci_range_overlaps(offset, size, cap, msi_cap_size(&d->msi))) {
        return;
    }
    /* Software must not enable more messages than capable (§6.8.1.3); clamp if it does. */
    control = msi_control(d);
    mme = (control & MSI_CTRL_MME_MASK) >> MSI_CTRL_MME_SHIFT;
    mmc = (control >> MSI_CTRL_MMC_SHIFT) & 0x7u;
    if (mme > mmc) {
        control = (uint16_t)((control & ~MSI_CTRL_MME_MASK) | (mmc << MSI_CTRL_MME_SHIFT));
        pci_set_word(d, cap + MSI_CTRL, control);
    }
    pci_intx_update(d);
    msi_deliver_unmasked(d);
}

void pci_msi_state_loaded(struct pci_device *d, const uint8_t *saved_config)
{
    uint32_t reg;
    uint32_t vectors_mask;

    if (d->msi.cap < 0 || !d->msi.per_vector_mask) {
        return;
    }
    reg = (uint32_t)d->msi.cap + msi_pending_reg(&d->msi);
    vectors_mask = d->msi.nr_vectors >= 32 ? UINT32_MAX : (1u << d->msi.nr_vectors) - 1u;
    pci_set_long(d, reg,
                 ((uint32_t)saved_config[reg] | (uint32_t)saved_config[reg + 1] << 8 |
                  (uint32_t)saved_config[reg + 2] << 16 | (uint32_t)saved_config[reg + 3] << 24) &
                     vectors_mask);
}

void pci_msi_reset(struct pci_device *d)
{
    uint32_t cap = (uint32_t)d->msi.cap;
    uint8_t *config = pci_config(d);

    if (d->msi.cap < 0) {
        return;
    }
    for (uint32_t i = cap + MSI_CTRL; i < cap + msi_cap_size(&d->msi); i++) {
        config[i] &= (uint8_t)~d->wmask[i];
    }
    if (d->msi.per_vector_mask) {
        pci_set_long(d, cap + msi_pending_reg(&d->msi), 0);
    }
}
