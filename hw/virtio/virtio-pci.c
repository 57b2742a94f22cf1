/*
 * The virtio PCI transport (virtio 1.2 §4.1): a function for one virtio device.
 *
 *   IDs      vendor 0x1af4; device 0x1040 + virtio ID (modern only, revision 1) or the
 *            transitional ID (0x1000 net, 0x1001 block, 0x1003 console, 0x1005 entropy;
 *            revision 0), subsystem 0x1af4 : virtio ID for transitional functions (§4.1.2.1)
 *   BAR0     transitional only: the legacy I/O registers (§4.1.4.10)
 *   BAR1     the MSI-X table and PBA (vectors=N, default one per queue plus configuration)
 *   BAR4     64-bit prefetchable memory, 16 KiB: common configuration at 0x0000, ISR at
 *            0x1000, device configuration at 0x2000, notifications at 0x3000 (queue n at
 *            n * 4: notify_off_multiplier 4, queue_notify_off n)
 *   caps     vendor-specific capabilities for each structure (§4.1.4), plus the PCI
 *            configuration access capability (§4.1.4.9) that reaches BAR4 through
 *            configuration cycles alone.
 *
 * Interrupts (§4.1.5.3, §4.1.5.4): with MSI-X enabled, a queue's or the configuration's
 * vector (none: no interrupt); without, the ISR bit and INTx, lowered when the driver reads
 * the ISR.
 */
#include <glib.h>
#include <inttypes.h>

#include "xendm/common.h"
#include "xendm/keyval.h"
#include "xendm/log.h"
#include "xendm/machine.h"
#include "xendm/pci.h"
#include "xendm/trace.h"
#include "xendm/virtio.h"

#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_MODERN_BASE 0x1040

#define LEGACY_BAR 0
#define MSIX_BAR 1
#define MODERN_BAR 4 /* 64-bit: also takes BAR 5 */

#define MODERN_BAR_SIZE 0x4000u
#define COMMON_OFFSET 0x0000u
#define COMMON_LEN 0x38u /* through queue_device (§4.1.4.3); later fields are not offered */
#define ISR_OFFSET 0x1000u
#define DEVICE_OFFSET 0x2000u
#define NOTIFY_OFFSET 0x3000u
#define NOTIFY_MULTIPLIER 4u
#define REGION_LEN 0x1000u

/* §4.1.4 virtio_pci_cap: cfg_type values and field offsets */
#define CAP_COMMON_CFG 1
#define CAP_NOTIFY_CFG 2
#define CAP_ISR_CFG 3
#define CAP_DEVICE_CFG 4
#define CAP_PCI_CFG 5
#define CAP_LEN_OFF 2
#define CAP_TYPE_OFF 3
#define CAP_BAR_OFF 4
#define CAP_ID_OFF 5
#define CAP_OFFSET_OFF 8
#define CAP_LENGTH_OFF 12
#define CAP_SIZE 16u
#define NOTIFY_CAP_SIZE 20u  /* + notify_off_multiplier */
#define PCI_CFG_CAP_SIZE 20u /* + pci_cfg_data[4] */
#define PCI_CFG_DATA_OFF 16

/* §4.1.4.3 common configuration fields */
enum common_reg {
    CR_DFSELECT = 0x00,
    CR_DF = 0x04,
    CR_GFSELECT = 0x08,
    CR_GF = 0x0c,
    CR_MSIX_CONFIG = 0x10,
    CR_NUM_QUEUES = 0x12,
    CR_STATUS = 0x14,
    CR_CFG_GENERATION = 0x15,
    CR_Q_SELECT = 0x16,
    CR_Q_SIZE = 0x18,
    CR_Q_MSIX = 0x1a,
    CR_Q_ENABLE = 0x1c,
    CR_Q_NOTIFY_OFF = 0x1e,
    CR_Q_DESC = 0x20,
    CR_Q_DRIVER = 0x28,
    CR_Q_DEVICE = 0x30,
};

/* §4.1.4.10 legacy I/O registers */
enum legacy_reg {
    LR_HOST_FEATURES = 0x00,
    LR_GUEST_FEATURES = 0x04,
    LR_QUEUE_PFN = 0x08,
    LR_QUEUE_SIZE = 0x0c,
    LR_QUEUE_SELECT = 0x0e,
    LR_QUEUE_NOTIFY = 0x10,
    LR_STATUS = 0x12,
    LR_ISR = 0x13,
    LR_MSIX_CONFIG = 0x14,
    LR_MSIX_QUEUE = 0x16,
};
#define LEGACY_HEADER 0x14u
#define LEGACY_HEADER_MSIX 0x18u
#define LEGACY_PAGE_SHIFT 12
#define LEGACY_ALIGN 4096u /* §2.7.2: Queue Align of the PCI transport */

struct virtio_pci {
    struct machine *machine;
    struct pci_device *pci;
    struct virtio_device vdev;
    bool legacy;      /* transitional: the I/O BAR exists */
    unsigned vectors; /* MSI-X table entries (0: no MSI-X) */
    int pci_cfg_cap;  /* offset of the §4.1.4.9 capability */
    uint16_t queue_select;
    uint32_t device_feature_select, driver_feature_select;
};

static GQuark virtio_pci_error_quark(void)
{
    return g_quark_from_static_string("xendm-virtio-pci-error");
}
#define VIRTIO_PCI_ERROR virtio_pci_error_quark()

static uint64_t le_load(const uint8_t *p, unsigned size)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < size; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

static void le_store(uint8_t *p, uint64_t v, unsigned size)
{
    for (unsigned i = 0; i < size; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* ---- interrupts ---- */

static void update_intx(struct virtio_pci *vp)
{
    pci_set_irq(vp->pci, vp->vdev.isr != 0 && !pci_msix_enabled(vp->pci));
}

static void vp_notify(void *opaque, bool config, uint16_t vector)
{
    struct virtio_pci *vp = opaque;

    if (pci_msix_enabled(vp->pci)) {
        if (vector != VIRTIO_MSI_NO_VECTOR && vector < vp->vectors) {
            pci_msix_notify(vp->pci, vector);
        }
        return;
    }
    vp->vdev.isr |= config ? 2 : 1;
    update_intx(vp);
}

static const struct virtio_transport_ops vp_transport = {
    .notify = vp_notify,
};

/* §4.1.4.5: reading the ISR clears it and lowers INTx. */
static uint8_t isr_read_and_clear(struct virtio_pci *vp)
{
    uint8_t v = vp->vdev.isr;

    vp->vdev.isr = 0;
    update_intx(vp);
    return v;
}

/* §4.1.5.1.2: a vector the table does not have reads back as NO_VECTOR. */
static uint16_t checked_vector(struct virtio_pci *vp, uint16_t vector)
{
    if (vector != VIRTIO_MSI_NO_VECTOR && vector >= vp->vectors) {
        log_guest_error("%s: MSI-X vector %u (function has %u)", vp->vdev.info->name, vector,
                        vp->vectors);
        return VIRTIO_MSI_NO_VECTOR;
    }
    return vector;
}

static struct virtqueue *selected_queue(struct virtio_pci *vp)
{
    if (vp->queue_select >= vp->vdev.info->num_queues) {
        return NULL;
    }
    return &vp->vdev.vq[vp->queue_select];
}

static void transport_reset(struct virtio_pci *vp)
{
    virtio_device_reset(&vp->vdev);
    vp->queue_select = 0;
    vp->device_feature_select = vp->driver_feature_select = 0;
    update_intx(vp);
}

static void set_status(struct virtio_pci *vp, uint8_t status, bool legacy)
{
    if (status == 0) {
        transport_reset(vp);
        return;
    }
    virtio_set_status(&vp->vdev, status, legacy);
}

/* ---- common configuration (§4.1.4.3) ---- */

static void common_image(struct virtio_pci *vp, uint8_t img[COMMON_LEN])
{
    struct virtio_device *vdev = &vp->vdev;
    struct virtqueue *vq = selected_queue(vp);
    uint32_t df = 0, gf = 0;

    memset(img, 0, COMMON_LEN);
    if (vp->device_feature_select < 2) {
        df = (uint32_t)(vdev->host_features >> (32 * vp->device_feature_select));
    }
    if (vp->driver_feature_select < 2) {
        gf = (uint32_t)(vdev->guest_features >> (32 * vp->driver_feature_select));
    }
    le_store(img + CR_DFSELECT, vp->device_feature_select, 4);
    le_store(img + CR_DF, df, 4);
    le_store(img + CR_GFSELECT, vp->driver_feature_select, 4);
    le_store(img + CR_GF, gf, 4);
    le_store(img + CR_MSIX_CONFIG, vdev->config_vector, 2);
    le_store(img + CR_NUM_QUEUES, vdev->info->num_queues, 2);
    img[CR_STATUS] = vdev->status;
    img[CR_CFG_GENERATION] = vdev->config_generation;
    le_store(img + CR_Q_SELECT, vp->queue_select, 2);
    if (!vq) {
        le_store(img + CR_Q_MSIX, VIRTIO_MSI_NO_VECTOR, 2);
        return; /* §4.1.4.3.1: queue_size 0 for a queue that does not exist */
    }
    le_store(img + CR_Q_SIZE, vq->num, 2);
    le_store(img + CR_Q_MSIX, vq->vector, 2);
    le_store(img + CR_Q_ENABLE, vq->enabled, 2);
    le_store(img + CR_Q_NOTIFY_OFF, vq->index, 2);
    le_store(img + CR_Q_DESC, vq->desc_gpa, 8);
    le_store(img + CR_Q_DRIVER, vq->avail_gpa, 8);
    le_store(img + CR_Q_DEVICE, vq->used_gpa, 8);
}

static uint64_t common_read(struct virtio_pci *vp, uint64_t offset, unsigned size)
{
    uint8_t img[COMMON_LEN];

    if (offset >= COMMON_LEN || size > COMMON_LEN - offset) {
        return 0; /* fields of features not offered read as zero */
    }
    common_image(vp, img);
    return le_load(img + offset, size);
}

static void queue_set_size(struct virtio_pci *vp, struct virtqueue *vq, uint16_t size)
{
    /* §2.7: a split queue's size is a power of two; at most the device's maximum. */
    if (size == 0 || (size & (size - 1)) || size > vp->vdev.info->queue_max_size) {
        log_guest_error("%s: queue %u: size %u refused (power of two up to %u)",
                        vp->vdev.info->name, vq->index, size, vp->vdev.info->queue_max_size);
        return;
    }
    vq->num = size;
}

static void queue_enable(struct virtio_pci *vp, struct virtqueue *vq, uint16_t value)
{
    if (value != 1) {
        /* §4.1.4.3.2: the driver MUST NOT write 0 (there is no queue reset here). */
        log_guest_error("%s: queue %u: queue_enable written with %u", vp->vdev.info->name,
                        vq->index, value);
        return;
    }
    vq->enabled = true;
    if (!virtio_queue_map(vq)) {
        virtio_device_set_broken(&vp->vdev, "a queue was enabled on rings it cannot use");
    }
}

/* A 64-bit queue address written whole or as two 32-bit halves. */
static void queue_set_addr(uint64_t *addr, uint64_t rel, uint64_t value, unsigned size)
{
    if (size == 8 && rel == 0) {
        *addr = value;
    } else if (size == 4 && rel == 0) {
        *addr = (*addr & ~UINT64_C(0xffffffff)) | (uint32_t)value;
    } else if (size == 4 && rel == 4) {
        *addr = (*addr & UINT64_C(0xffffffff)) | (value << 32);
    } else {
        log_guest_error("virtio-pci: queue address written with %u bytes at +%" PRIu64, size,
                        rel);
    }
}

static void common_queue_write(struct virtio_pci *vp, uint64_t offset, uint64_t value,
                               unsigned size)
{
    struct virtqueue *vq = selected_queue(vp);

    if (!vq) {
        log_guest_error("%s: write to queue %u that does not exist", vp->vdev.info->name,
                        vp->queue_select);
        return;
    }
    if (offset == CR_Q_MSIX && size == 2) {
        vq->vector = checked_vector(vp, (uint16_t)value);
        return;
    }
    if (vq->enabled) {
        log_guest_error("%s: queue %u: configuration written while enabled",
                        vp->vdev.info->name, vq->index);
        return;
    }
    if (offset == CR_Q_SIZE && size == 2) {
        queue_set_size(vp, vq, (uint16_t)value);
    } else if (offset == CR_Q_ENABLE && size == 2) {
        queue_enable(vp, vq, (uint16_t)value);
    } else if (offset >= CR_Q_DESC && offset < CR_Q_DRIVER) {
        queue_set_addr(&vq->desc_gpa, offset - CR_Q_DESC, value, size);
    } else if (offset >= CR_Q_DRIVER && offset < CR_Q_DEVICE) {
        queue_set_addr(&vq->avail_gpa, offset - CR_Q_DRIVER, value, size);
    } else if (offset >= CR_Q_DEVICE && offset < COMMON_LEN) {
        queue_set_addr(&vq->used_gpa, offset - CR_Q_DEVICE, value, size);
    } else {
        log_guest_error("%s: common configuration write of %u bytes at 0x%" PRIx64,
                        vp->vdev.info->name, size, offset);
    }
}

static void driver_features_write(struct virtio_pci *vp, uint32_t value)
{
    uint64_t f = vp->vdev.guest_features;
    unsigned shift;

    if (vp->driver_feature_select >= 2) {
        return; /* no feature bits beyond 63 */
    }
    shift = 32 * vp->driver_feature_select;
    f = (f & ~(UINT64_C(0xffffffff) << shift)) | ((uint64_t)value << shift);
    virtio_set_guest_features(&vp->vdev, f);
}

static void common_write(struct virtio_pci *vp, uint64_t offset, uint64_t value, unsigned size)
{
    if (offset == CR_DFSELECT && size == 4) {
        vp->device_feature_select = (uint32_t)value;
    } else if (offset == CR_GFSELECT && size == 4) {
        vp->driver_feature_select = (uint32_t)value;
    } else if (offset == CR_GF && size == 4) {
        driver_features_write(vp, (uint32_t)value);
    } else if (offset == CR_MSIX_CONFIG && size == 2) {
        vp->vdev.config_vector = checked_vector(vp, (uint16_t)value);
    } else if (offset == CR_STATUS && size == 1) {
        set_status(vp, (uint8_t)value, false);
    } else if (offset == CR_Q_SELECT && size == 2) {
        vp->queue_select = (uint16_t)value;
    } else if (offset >= CR_Q_SIZE && offset < COMMON_LEN && offset != CR_Q_NOTIFY_OFF) {
        common_queue_write(vp, offset, value, size);
    } else {
        log_guest_error("%s: write of %u bytes to read-only or unknown common register 0x%"
                        PRIx64, vp->vdev.info->name, size, offset);
    }
}

/* ---- device configuration (§4.1.4.6), shared by the modern and legacy paths ---- */

static uint64_t device_config_read(struct virtio_pci *vp, uint64_t offset, unsigned size)
{
    uint32_t len = vp->vdev.info->config_len;

    if (offset >= len || size > len - offset) {
        return 0;
    }
    return le_load(vp->vdev.config + offset, size);
}

static void device_config_write(struct virtio_pci *vp, uint64_t offset, uint64_t value,
                                unsigned size)
{
    uint32_t len = vp->vdev.info->config_len;

    if (offset >= len || size > len - offset || !vp->vdev.info->config_write) {
        log_guest_error("%s: device configuration write of %u bytes at 0x%" PRIx64 " ignored",
                        vp->vdev.info->name, size, offset);
        return;
    }
    le_store(vp->vdev.config + offset, value, size);
    vp->vdev.info->config_write(vp->vdev.opaque, (uint32_t)offset, size);
}

/* ---- BAR4: the modern structures ---- */

static uint64_t modern_read(void *opaque, uint64_t offset, unsigned size)
{
    struct virtio_pci *vp = opaque;

    if (offset < COMMON_OFFSET + REGION_LEN) {
        return common_read(vp, offset - COMMON_OFFSET, size);
    }
    if (offset >= ISR_OFFSET && offset < ISR_OFFSET + REGION_LEN) {
        return offset == ISR_OFFSET ? isr_read_and_clear(vp) : 0;
    }
    if (offset >= DEVICE_OFFSET && offset < DEVICE_OFFSET + REGION_LEN) {
        return device_config_read(vp, offset - DEVICE_OFFSET, size);
    }
    return 0; /* the notification area is write-only */
}

static void modern_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct virtio_pci *vp = opaque;

    if (offset < COMMON_OFFSET + REGION_LEN) {
        common_write(vp, offset - COMMON_OFFSET, value, size);
    } else if (offset >= DEVICE_OFFSET && offset < DEVICE_OFFSET + REGION_LEN) {
        device_config_write(vp, offset - DEVICE_OFFSET, value, size);
    } else if (offset >= NOTIFY_OFFSET && offset < NOTIFY_OFFSET + REGION_LEN) {
        /* §4.1.4.4: queue n's address is n * multiplier; the value is the index (ignored). */
        virtio_queue_kick(&vp->vdev, (unsigned)((offset - NOTIFY_OFFSET) / NOTIFY_MULTIPLIER));
    } else {
        log_guest_error("%s: write to the ISR or unused BAR space at 0x%" PRIx64,
                        vp->vdev.info->name, offset);
    }
}

static const struct region_ops modern_ops = {
    .read = modern_read,
    .write = modern_write,
    .min_access = 1,
    .max_access = 8,
};

/* ---- BAR0: the legacy interface (§4.1.4.10) ---- */

static unsigned legacy_header_len(struct virtio_pci *vp)
{
    return pci_msix_enabled(vp->pci) ? LEGACY_HEADER_MSIX : LEGACY_HEADER;
}

static uint64_t legacy_header_read(struct virtio_pci *vp, uint64_t offset, unsigned size)
{
    struct virtqueue *vq = selected_queue(vp);
    uint8_t img[LEGACY_HEADER_MSIX];

    memset(img, 0, sizeof(img));
    le_store(img + LR_HOST_FEATURES, (uint32_t)vp->vdev.host_features, 4);
    le_store(img + LR_GUEST_FEATURES, (uint32_t)vp->vdev.guest_features, 4);
    if (vq) {
        le_store(img + LR_QUEUE_PFN, vq->enabled ? vq->desc_gpa >> LEGACY_PAGE_SHIFT : 0, 4);
        le_store(img + LR_QUEUE_SIZE, vp->vdev.info->queue_max_size, 2);
        le_store(img + LR_MSIX_QUEUE, vq->vector, 2);
    } else {
        le_store(img + LR_MSIX_QUEUE, VIRTIO_MSI_NO_VECTOR, 2);
    }
    le_store(img + LR_QUEUE_SELECT, vp->queue_select, 2);
    img[LR_STATUS] = vp->vdev.status;
    le_store(img + LR_MSIX_CONFIG, vp->vdev.config_vector, 2);
    if (offset <= LR_ISR && offset + size > LR_ISR) {
        img[LR_ISR] = isr_read_and_clear(vp);
    }
    return le_load(img + offset, size);
}

static uint64_t legacy_read(void *opaque, uint64_t offset, unsigned size)
{
    struct virtio_pci *vp = opaque;
    unsigned header = legacy_header_len(vp);

    if (offset < header) {
        if (size > header - offset) {
            return all_ones(size);
        }
        return legacy_header_read(vp, offset, size);
    }
    return device_config_read(vp, offset - header, size);
}

/* A legacy queue is one block from its page frame on (§2.7.2). */
static void legacy_set_pfn(struct virtio_pci *vp, struct virtqueue *vq, uint32_t pfn)
{
    uint64_t base = (uint64_t)pfn << LEGACY_PAGE_SHIFT;
    uint16_t num = vp->vdev.info->queue_max_size;
    uint64_t avail_end;

    virtio_queue_unmap(vq);
    if (pfn == 0) {
        vq->enabled = false;
        return;
    }
    vq->num = num;
    vq->desc_gpa = base;
    vq->avail_gpa = base + 16u * num;
    avail_end = vq->avail_gpa + 6u + 2u * num;
    vq->used_gpa = (avail_end + LEGACY_ALIGN - 1) & ~(uint64_t)(LEGACY_ALIGN - 1);
    vq->enabled = true;
    if (!virtio_queue_map(vq)) {
        virtio_device_set_broken(&vp->vdev, "a legacy queue was placed outside guest RAM");
    }
}

static void legacy_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct virtio_pci *vp = opaque;
    unsigned header = legacy_header_len(vp);
    struct virtqueue *vq = selected_queue(vp);

    if (offset >= header) {
        device_config_write(vp, offset - header, value, size);
    } else if (offset == LR_GUEST_FEATURES && size == 4) {
        /* A legacy driver sees only bits 0-31: VERSION_1 stays off (§4.1.4.10). */
        virtio_set_guest_features(&vp->vdev, (uint32_t)value);
    } else if (offset == LR_QUEUE_PFN && size == 4 && vq) {
        legacy_set_pfn(vp, vq, (uint32_t)value);
    } else if (offset == LR_QUEUE_SELECT && size == 2) {
        vp->queue_select = (uint16_t)value;
    } else if (offset == LR_QUEUE_NOTIFY && size == 2) {
        virtio_queue_kick(&vp->vdev, (uint16_t)value);
    } else if (offset == LR_STATUS && size == 1) {
        set_status(vp, (uint8_t)value, true);
    } else if (offset == LR_MSIX_CONFIG && size == 2) {
        vp->vdev.config_vector = checked_vector(vp, (uint16_t)value);
    } else if (offset == LR_MSIX_QUEUE && size == 2 && vq) {
        vq->vector = checked_vector(vp, (uint16_t)value);
    } else {
        log_guest_error("%s: legacy write of %u bytes at 0x%" PRIx64 " ignored",
                        vp->vdev.info->name, size, offset);
    }
}

static const struct region_ops legacy_ops = {
    .read = legacy_read,
    .write = legacy_write,
    .min_access = 1,
    .max_access = 4,
};

/* ---- the PCI configuration access capability (§4.1.4.9) ---- */

/*
 * The window the capability names, or false when the driver set up an unusable one. Only a
 * write through such a window is the driver's error: a config space dump reads every byte.
 */
static bool pci_cfg_window(struct virtio_pci *vp, bool writing, uint32_t *offset, unsigned *len)
{
    int cap = vp->pci_cfg_cap;
    uint8_t bar = pci_get_byte(vp->pci, (uint32_t)cap + CAP_BAR_OFF);

    *offset = pci_get_long(vp->pci, (uint32_t)cap + CAP_OFFSET_OFF);
    *len = pci_get_long(vp->pci, (uint32_t)cap + CAP_LENGTH_OFF);
    /* §4.1.4.9.1: length 1, 2 or 4, offset aligned to it, within the BAR. */
    if (bar != MODERN_BAR || (*len != 1 && *len != 2 && *len != 4) || (*offset % *len) ||
        *offset >= MODERN_BAR_SIZE) {
        if (!writing) {
            return false;
        }
        log_guest_error("%s: PCI configuration access to BAR %u offset 0x%x length %u ignored",
                        vp->vdev.info->name, bar, *offset, *len);
        return false;
    }
    return true;
}

static bool pci_cfg_data_touched(struct virtio_pci *vp, uint32_t offset, unsigned size)
{
    uint32_t data = (uint32_t)vp->pci_cfg_cap + PCI_CFG_DATA_OFF;

    return vp->pci_cfg_cap >= 0 && offset < data + 4 && offset + size > data;
}

static uint32_t vp_config_read(struct pci_device *d, void *opaque, uint32_t offset,
                               unsigned size, uint32_t stored)
{
    struct virtio_pci *vp = opaque;
    uint32_t data = (uint32_t)vp->pci_cfg_cap + PCI_CFG_DATA_OFF;
    uint32_t win_offset;
    unsigned len;

    if (!pci_cfg_data_touched(vp, offset, size) || offset < data ||
        !pci_cfg_window(vp, false, &win_offset, &len)) {
        return stored;
    }
    /* The read happens when the driver reads the first byte of pci_cfg_data. */
    if (offset == data) {
        pci_set_long(d, data, (uint32_t)modern_read(vp, win_offset, len));
    }
    return (uint32_t)le_load(pci_config(d) + offset, size);
}

static void vp_config_write(struct pci_device *d, void *opaque, uint32_t offset,
                            uint32_t value, unsigned size)
{
    struct virtio_pci *vp = opaque;
    uint32_t data = (uint32_t)vp->pci_cfg_cap + PCI_CFG_DATA_OFF;
    uint32_t win_offset;
    unsigned len;

    if (!pci_cfg_data_touched(vp, offset, size) || offset != data ||
        !pci_cfg_window(vp, true, &win_offset, &len)) {
        return;
    }
    modern_write(vp, win_offset, pci_get_long(d, data) & (uint32_t)all_ones(len), len);
}

static void vp_pci_reset(struct pci_device *d, void *opaque)
{
    transport_reset(opaque);
}

static const struct pci_device_ops vp_pci_ops = {
    .config_read = vp_config_read,
    .config_write = vp_config_write,
    .reset = vp_pci_reset,
};

/* ---- set-up ---- */

static int add_virtio_cap(struct virtio_pci *vp, uint8_t type, uint8_t len, uint32_t offset,
                          uint32_t length)
{
    int cap = pci_add_capability(vp->pci, PCI_CAP_ID_VNDR, 0, len);

    if (cap < 0) {
        return -1;
    }
    pci_set_byte(vp->pci, (uint32_t)cap + CAP_LEN_OFF, len);
    pci_set_byte(vp->pci, (uint32_t)cap + CAP_TYPE_OFF, type);
    pci_set_byte(vp->pci, (uint32_t)cap + CAP_BAR_OFF, type == CAP_PCI_CFG ? 0 : MODERN_BAR);
    pci_set_long(vp->pci, (uint32_t)cap + CAP_OFFSET_OFF, offset);
    pci_set_long(vp->pci, (uint32_t)cap + CAP_LENGTH_OFF, length);
    return cap;
}

static bool add_capabilities(struct virtio_pci *vp)
{
    const struct virtio_device_info *info = vp->vdev.info;
    int notify;

    if (add_virtio_cap(vp, CAP_COMMON_CFG, CAP_SIZE, COMMON_OFFSET, COMMON_LEN) < 0 ||
        add_virtio_cap(vp, CAP_ISR_CFG, CAP_SIZE, ISR_OFFSET, 1) < 0 ||
        (info->config_len &&
         add_virtio_cap(vp, CAP_DEVICE_CFG, CAP_SIZE, DEVICE_OFFSET, info->config_len) < 0)) {
        return false;
    }
    notify = add_virtio_cap(vp, CAP_NOTIFY_CFG, NOTIFY_CAP_SIZE, NOTIFY_OFFSET,
                            NOTIFY_MULTIPLIER * info->num_queues);
    vp->pci_cfg_cap = add_virtio_cap(vp, CAP_PCI_CFG, PCI_CFG_CAP_SIZE, 0, 0);
    if (notify < 0 || vp->pci_cfg_cap < 0) {
        return false;
    }
    pci_set_long(vp->pci, (uint32_t)notify + CAP_SIZE, NOTIFY_MULTIPLIER);
    /* The driver picks the window: bar, offset, length and the data are writable. */
    pci_set_wmask(vp->pci, (uint32_t)vp->pci_cfg_cap + CAP_BAR_OFF, 0xff, 1);
    pci_set_wmask(vp->pci, (uint32_t)vp->pci_cfg_cap + CAP_OFFSET_OFF, 0xffffffff, 4);
    pci_set_wmask(vp->pci, (uint32_t)vp->pci_cfg_cap + CAP_LENGTH_OFF, 0xffffffff, 4);
    pci_set_wmask(vp->pci, (uint32_t)vp->pci_cfg_cap + PCI_CFG_DATA_OFF, 0xffffffff, 4);
    return true;
}

static uint64_t pow2_at_least(uint64_t v, uint64_t min)
{
    uint64_t size = min;

    while (size < v) {
        size <<= 1;
    }
    return size;
}

static bool setup_bars(struct virtio_pci *vp, GError **err)
{
    uint64_t legacy_size = pow2_at_least(LEGACY_HEADER_MSIX + vp->vdev.info->config_len, 32);

    if ((vp->legacy && pci_register_bar(vp->pci, LEGACY_BAR, PCI_BAR_IO, legacy_size,
                                        &legacy_ops, vp) < 0) ||
        pci_register_bar(vp->pci, MODERN_BAR, PCI_BAR_MEM64 | PCI_BAR_PREFETCH,
                         MODERN_BAR_SIZE, &modern_ops, vp) < 0) {
        g_set_error(err, VIRTIO_PCI_ERROR, 0, "%s: the PCI core refused a BAR",
                    vp->vdev.info->name);
        return false;
    }
    if (vp->vectors && pci_msix_init_exclusive_bar(vp->pci, vp->vectors, MSIX_BAR) < 0) {
        g_set_error(err, VIRTIO_PCI_ERROR, 0, "%s: MSI-X set-up failed", vp->vdev.info->name);
        return false;
    }
    if (!add_capabilities(vp)) {
        g_set_error(err, VIRTIO_PCI_ERROR, 0, "%s: no room for the virtio capabilities",
                    vp->vdev.info->name);
        return false;
    }
    return true;
}

/* §4.1.2.1 transitional device IDs */
static uint16_t transitional_device_id(uint16_t virtio_id)
{
    switch (virtio_id) {
    case VIRTIO_ID_NET:
        return 0x1000;
    case VIRTIO_ID_BLOCK:
        return 0x1001;
    case VIRTIO_ID_CONSOLE:
        return 0x1003;
    case VIRTIO_ID_RNG:
        return 0x1005;
    default:
        return 0;
    }
}

static bool parse_props(struct virtio_pci *vp, struct kv_list *props, int *devfn, GError **err)
{
    const struct virtio_device_info *info = vp->vdev.info;
    bool disable_legacy;
    uint64_t vectors;

    if (!pci_devfn_from_props(props, devfn, err) ||
        !kv_get_bool(props, "disable-legacy", false, &disable_legacy, err) ||
        !kv_get_u64(props, "vectors", info->num_queues + 1, false, &vectors, err)) {
        return false;
    }
    if (vectors > 2048) { /* PCI 3.0 §6.8.2.3: the table size field is 11 bits */
        g_set_error(err, VIRTIO_PCI_ERROR, 0, "vectors=%" PRIu64 ": at most 2048", vectors);
        return false;
    }
    vp->legacy = !disable_legacy && transitional_device_id(info->device_id) != 0;
    vp->vectors = (unsigned)vectors;
    return true;
}

struct virtio_pci *virtio_pci_create(struct machine *m, struct kv_list *props,
                                     const struct virtio_device_info *info, void *opaque,
                                     GError **err)
{
    struct virtio_pci *vp = g_new0(struct virtio_pci, 1);
    struct pci_bus *bus = machine_pci_bus(m);
    struct pci_device_id id = {
        .vendor_id = VIRTIO_PCI_VENDOR,
        .class_code = info->pci_class,
        .subsystem_vendor_id = VIRTIO_PCI_VENDOR,
        .interrupt_pin = 1, /* INTA */
    };
    int devfn;

    vp->machine = m;
    vp->pci_cfg_cap = -1;
    virtio_device_init(&vp->vdev, m, info, opaque, &vp_transport, vp);
    if (!bus) {
        g_set_error(err, VIRTIO_PCI_ERROR, 0, "%s: this machine has no PCI bus", info->name);
        goto fail;
    }
    if (!parse_props(vp, props, &devfn, err)) {
        goto fail;
    }
    if (vp->legacy) {
        id.device_id = transitional_device_id(info->device_id);
        id.subsystem_id = info->device_id;
    } else {
        id.device_id = (uint16_t)(VIRTIO_PCI_MODERN_BASE + info->device_id);
        id.revision = 1; /* §4.1.2.1: non-transitional devices have revision 1 or more */
        id.subsystem_id = PCI_SUBSYSTEM_ID_QEMU;
    }
    vp->pci = pci_device_add(bus, devfn, info->name, &id, &vp_pci_ops, vp, err);
    if (!vp->pci || !setup_bars(vp, err)) {
        goto fail;
    }
    return vp;

fail:
    virtio_pci_destroy(vp);
    return NULL;
}

void virtio_pci_destroy(struct virtio_pci *vp)
{
    if (!vp) {
        return;
    }
    virtio_device_cleanup(&vp->vdev);
    if (vp->pci) {
        pci_device_remove(vp->pci);
    }
    g_free(vp);
}

void virtio_pci_reset(struct virtio_pci *vp)
{
    transport_reset(vp);
}

struct virtio_device *virtio_pci_device(struct virtio_pci *vp)
{
    return &vp->vdev;
}

void virtio_pci_pre_save(struct virtio_pci *vp, struct virtio_saved *saved)
{
    virtio_device_save(&vp->vdev, saved);
    saved->queue_select = vp->queue_select;
    saved->device_feature_select = vp->device_feature_select;
    saved->driver_feature_select = vp->driver_feature_select;
}

void virtio_pci_post_load(struct virtio_pci *vp, const struct virtio_saved *saved)
{
    virtio_device_load(&vp->vdev, saved);
    vp->vdev.config_vector = checked_vector(vp, vp->vdev.config_vector);
    for (unsigned i = 0; i < vp->vdev.info->num_queues; i++) {
        vp->vdev.vq[i].vector = checked_vector(vp, vp->vdev.vq[i].vector);
    }
    vp->queue_select = saved->queue_select;
    vp->device_feature_select = saved->device_feature_select;
    vp->driver_feature_select = saved->driver_feature_select;
    update_intx(vp);
}
