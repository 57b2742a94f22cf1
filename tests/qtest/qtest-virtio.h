/*
 * The guest driver's side of a virtio-pci function (virtio 1.2 §4.1, §3.1.1, §2.7) for
 * qtests: find the capabilities, place the BARs, negotiate features, lay out split queues in
 * guest memory, post descriptor chains, kick, and read what the device used. Works against
 * xendm and qemu-xen alike (qemu-xen's functions have no MSI-X under Xen: qvirtio_msix_enable
 * says so).
 */
#ifndef QTEST_VIRTIO_H
#define QTEST_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "libqtest.h"

/* §2.1 device status */
#define QVIRTIO_ST_ACK 0x01
#define QVIRTIO_ST_DRIVER 0x02
#define QVIRTIO_ST_DRIVER_OK 0x04
#define QVIRTIO_ST_FEATURES_OK 0x08
#define QVIRTIO_ST_NEEDS_RESET 0x40

/* §6 reserved feature bits */
#define QVIRTIO_F_INDIRECT_DESC 28
#define QVIRTIO_F_EVENT_IDX 29
#define QVIRTIO_F_VERSION_1 32
#define QVIRTIO_BIT(b) (UINT64_C(1) << (b))

/* §2.7.5 descriptor flags */
#define QVIRTQ_DESC_F_NEXT 1
#define QVIRTQ_DESC_F_WRITE 2
#define QVIRTQ_DESC_F_INDIRECT 4

/* §4.1.4.3 common configuration registers */
#define QVIRTIO_CC_DFSELECT 0x00
#define QVIRTIO_CC_DF 0x04
#define QVIRTIO_CC_GFSELECT 0x08
#define QVIRTIO_CC_GF 0x0c
#define QVIRTIO_CC_MSIX_CONFIG 0x10
#define QVIRTIO_CC_NUM_QUEUES 0x12
#define QVIRTIO_CC_STATUS 0x14
#define QVIRTIO_CC_Q_SELECT 0x16
#define QVIRTIO_CC_Q_SIZE 0x18
#define QVIRTIO_CC_Q_MSIX 0x1a
#define QVIRTIO_CC_Q_ENABLE 0x1c
#define QVIRTIO_CC_Q_NOTIFY_OFF 0x1e
#define QVIRTIO_CC_Q_DESC 0x20
#define QVIRTIO_CC_Q_DRIVER 0x28
#define QVIRTIO_CC_Q_DEVICE 0x30

#define QVIRTIO_NO_VECTOR 0xffff

struct qvirtio_cap {
    int off; /* in configuration space, or -1 */
    uint8_t bar;
    uint32_t offset, length;
};

struct qvirtio {
    struct qtest *qt;
    unsigned devfn;
    uint64_t bar_addr[6];
    bool bar_io[6];
    struct qvirtio_cap common, notify, isr, device, pci_cfg;
    uint32_t notify_multiplier;
    bool msix; /* MSI-X enabled by the test */
};

/* One split queue the test drives; its rings live at `base` in guest memory. */
struct qvirtqueue {
    struct qvirtio *dev;
    unsigned index;
    uint16_t size;
    uint64_t desc, avail, used;
    uint16_t avail_idx; /* the driver's next available index */
};

/* Finds the capabilities and places the BARs at mem_base / io_base (firmware's job). */
struct qvirtio *qvirtio_open(struct qtest *qt, unsigned devfn, uint64_t mem_base,
                             uint32_t io_base);
void qvirtio_close(struct qvirtio *d);

uint64_t qvirtio_cap_addr(const struct qvirtio *d, const struct qvirtio_cap *c, uint32_t offset);
uint64_t qvirtio_cc_read(struct qvirtio *d, uint32_t reg, unsigned size);
void qvirtio_cc_write(struct qvirtio *d, uint32_t reg, uint64_t v, unsigned size);
uint8_t qvirtio_status(struct qvirtio *d);
uint8_t qvirtio_isr_read(struct qvirtio *d);
uint64_t qvirtio_config_read(struct qvirtio *d, uint32_t offset, unsigned size);
void qvirtio_config_write(struct qvirtio *d, uint32_t offset, uint64_t v, unsigned size);

/* All 64 feature bits the device offers. */
uint64_t qvirtio_device_features(struct qvirtio *d);
/*
 * §3.1.1 steps 1-6: reset, ACK, DRIVER, the features (VERSION_1 added), FEATURES_OK; true
 * when the device kept FEATURES_OK. config_vector goes to msix_config.
 */
bool qvirtio_negotiate(struct qvirtio *d, uint64_t features, uint16_t config_vector);
/* §3.1.1 step 7-8: queue `index` of size `size` (0: the device's) at base, then enabled. */
void qvirtqueue_setup(struct qvirtio *d, struct qvirtqueue *vq, unsigned index, uint64_t base,
                      uint16_t size, uint16_t vector);
void qvirtio_driver_ok(struct qvirtio *d);
void qvirtio_reset(struct qvirtio *d);

void qvirtqueue_set_desc(struct qvirtqueue *vq, unsigned i, uint64_t addr, uint32_t len,
                         uint16_t flags, uint16_t next);
/* A descriptor of an indirect table at table_gpa. */
void qvirtq_write_desc(struct qtest *qt, uint64_t table_gpa, unsigned i, uint64_t addr,
                       uint32_t len, uint16_t flags, uint16_t next);
/* Puts `n` heads in the available ring, then publishes them with one index write. */
void qvirtqueue_add_avail(struct qvirtqueue *vq, const uint16_t *heads, unsigned n);
void qvirtqueue_kick(struct qvirtqueue *vq);
uint16_t qvirtqueue_used_idx(struct qvirtqueue *vq);
void qvirtqueue_used_elem(struct qvirtqueue *vq, uint16_t i, uint32_t *id, uint32_t *len);
/* Waits (up to timeout_ms) for used idx to reach `want`. */
bool qvirtqueue_wait_used(struct qvirtqueue *vq, uint16_t want, unsigned timeout_ms);
/* EVENT_IDX (§2.7.10): the driver's used_event, and the device's avail_event. */
void qvirtqueue_set_used_event(struct qvirtqueue *vq, uint16_t v);
uint16_t qvirtqueue_avail_event(struct qvirtqueue *vq);

/*
 * Enables MSI-X and programs table entry n to send `data` to APIC 0. False when the function
 * has no MSI-X capability (qemu-xen's virtio functions under Xen).
 */
bool qvirtio_msix_enable(struct qvirtio *d, unsigned n, uint32_t data);
/* The interrupt events of one kind ("msi ", "intx ") until `want` came or ~timeout_ms. */
char **qvirtio_wait_events(struct qtest *qt, const char *kind, unsigned want,
                           unsigned timeout_ms);

#endif
