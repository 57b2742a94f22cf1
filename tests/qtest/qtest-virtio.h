/*
 * The guest driver's side of a virtio-pci function (virtio 1.2 §4.1, §3.1.1, §2.7) for
 * qtests: find the capabilities, place the BARs, negotiate features, lay out split queues in
 * guest memory, post descriptor chains, kick, and read what the device used; also the legacy
 * interface of a transitional function, the PCI configuration access capability, INTx and the
 * ISR without MSI-X, and a save and restore of the device model. Works against xendm and
 * qemu-xen alike (qemu-xen's functions may have no MSI-X under Xen: qvirtio_msix_enable says
 * so).
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

/* §4.1.5.1.3 ISR status bits (read clears them and lowers INTx) */
#define QVIRTIO_ISR_QUEUE 0x1
#define QVIRTIO_ISR_CONFIG 0x2

/* §4.1.4.10 the legacy interface of a transitional function: registers in its I/O BAR 0 */
#define QVIRTIO_LEGACY_HOST_FEATURES 0x00
#define QVIRTIO_LEGACY_GUEST_FEATURES 0x04
#define QVIRTIO_LEGACY_QUEUE_PFN 0x08
#define QVIRTIO_LEGACY_QUEUE_SIZE 0x0c
#define QVIRTIO_LEGACY_QUEUE_SELECT 0x0e
#define QVIRTIO_LEGACY_QUEUE_NOTIFY 0x10
#define QVIRTIO_LEGACY_STATUS 0x12
#define QVIRTIO_LEGACY_ISR 0x13
/* Present only while MSI-X is enabled; the device configuration then starts at 0x18. */
#define QVIRTIO_LEGACY_MSIX_CONFIG 0x14
#define QVIRTIO_LEGACY_QUEUE_MSIX 0x16
/* Legacy queues are addressed by page frame (4 KiB) and their used ring is page-aligned. */
#define QVIRTIO_LEGACY_PAGE 4096u

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
    bool legacy;        /* set up through the legacy interface: kicked through its port */
    uint16_t last_used; /* the used entries qvirtqueue_pop_used has consumed */
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
/* Waits (up to timeout_ms) for used idx to reach `want` or pass it (modulo 2^16). */
bool qvirtqueue_wait_used_reach(struct qvirtqueue *vq, uint16_t want, unsigned timeout_ms);
/*
 * The next used element after the last one this returned (a driver's last_used_idx, §2.7.14),
 * waiting up to timeout_ms for it; false if none came.
 */
bool qvirtqueue_pop_used(struct qvirtqueue *vq, uint32_t *id, uint32_t *len,
                         unsigned timeout_ms);

/*
 * The legacy interface (§4.1.4.10) of a transitional function, through its I/O BAR 0:
 * register access of size 1, 2 or 4, and queue `index` set up as a legacy driver does (the
 * device's size, the rings in one block at `base`, a page-aligned address, by QUEUE_PFN).
 * qvirtqueue_kick notifies such a queue through QUEUE_NOTIFY.
 */
uint32_t qvirtio_legacy_read(struct qvirtio *d, unsigned reg, unsigned size);
void qvirtio_legacy_write(struct qvirtio *d, unsigned reg, uint32_t v, unsigned size);
void qvirtqueue_setup_legacy(struct qvirtio *d, struct qvirtqueue *vq, unsigned index,
                             uint64_t base);

/*
 * The PCI configuration access capability (§4.1.4.9): the window (cap.bar, cap.offset,
 * cap.length) set by configuration writes, then pci_cfg_data read or written, all through
 * configuration cycles only. The window is written as given, hostile values included.
 */
void qvirtio_pci_cfg_window(struct qvirtio *d, uint8_t bar, uint32_t offset, uint32_t length);
uint32_t qvirtio_pci_cfg_data_read(struct qvirtio *d);
void qvirtio_pci_cfg_data_write(struct qvirtio *d, uint32_t v);

/*
 * Enables MSI-X and programs table entry n to send `data` to APIC 0. False when the function
 * has no MSI-X capability (qemu-xen's virtio functions under Xen).
 */
bool qvirtio_msix_enable(struct qvirtio *d, unsigned n, uint32_t data);
/* The interrupt events of one kind ("msi ", "intx ") until `want` came or ~timeout_ms. */
char **qvirtio_wait_events(struct qtest *qt, const char *kind, unsigned want,
                           unsigned timeout_ms);
/*
 * Waits up to timeout_ms for an MSI message; fails the test unless the first one carries
 * `data` (and, from xendm, the address 0xfee00000: qemu-xen reports the address Xen's MSI
 * translation gave it). Returns how many MSI messages came within the wait.
 */
unsigned qvirtio_expect_msi(struct qtest *qt, uint32_t data, unsigned timeout_ms);

/*
 * INTx without MSI-X: the event xensim logs when the function's pin goes to `level` ("intx
 * SLOT PIN LEVEL GSI", pin from its Interrupt Pin register; caller frees), and a wait of up
 * to timeout_ms for that event (other events are consumed); true if it came.
 */
char *qvirtio_intx_event(struct qvirtio *d, unsigned level);
bool qvirtio_wait_intx(struct qvirtio *d, unsigned level, unsigned timeout_ms);

/*
 * Saved state: libxl's save of the device model (stop, xen-save-devices-state) into a
 * temporary file named after `name`, then its restore into a new device model (-incoming,
 * cont). Guest memory and `d`'s view of the function (BARs, capabilities) stay valid.
 */
void qvirtio_save_restore(struct qtest *qt, const char *name);

/*
 * A virtio-blk request load at a sustained queue depth (§5.2.6), as fio's iodepth keeps it:
 * whenever requests complete, as many new ones are posted. Shared by the virtio-blk qtest and
 * `make bench` (tests/bench/bench-vblk.c). The driver behaves as Linux's: with EVENT_IDX
 * (§2.7.10) it kicks only when the device's avail_event asks and sets used_event to what it
 * consumed; it polls used idx (xensim has no blocking wait). Each guest access is a round
 * trip through xensim's socket, so a batch costs few: one write for all headers, one or two
 * for the available entries. Slot k uses descriptors 3k..3k+2: header, data, status.
 * Failures fail the test (g_assert).
 */
#define QVBLK_T_IN 0
#define QVBLK_T_OUT 1
#define QVBLK_S_OK 0
#define QVBLK_LOAD_DEPTH_MAX 32u

/* Where the load's buffers sit in guest memory. */
struct qvblk_layout {
    uint64_t hdr_gpa;     /* 16 bytes a slot */
    uint64_t status_gpa;  /* 1 byte a slot */
    uint64_t data_gpa;    /* slot k's data at data_gpa + k * data_stride */
    uint64_t data_stride; /* at least the largest request's length */
};

struct qvblk_load {
    struct qvirtqueue *vq;
    uint64_t notify_addr;
    bool event_idx;
    struct qvblk_layout mem;
    uint64_t capacity; /* sectors; blocks of `len` bytes must number a power of two */
    /* the case */
    bool write;
    unsigned depth;
    uint32_t len;
    bool sequential;
    uint64_t next;                         /* requests generated so far */
    uint64_t sector[QVBLK_LOAD_DEPTH_MAX]; /* of each slot's latest request */
    uint16_t used_seen;                    /* used idx the driver has consumed */
};

/* Binds the load to a set-up, DRIVER_OK queue of a device with `capacity` sectors. */
void qvblk_load_init(struct qvblk_load *l, struct qvirtqueue *vq, bool event_idx,
                     const struct qvblk_layout *mem, uint64_t capacity);
/*
 * Starts a case: `depth` slots of `len`-byte reads (or writes), to sequential blocks or to
 * blocks in a scrambled order that visits every block once before any repeats (so requests
 * in flight never share a block and a write's result is checkable); the first `depth`
 * requests made available. Write data: each slot's buffer as it is in guest memory.
 */
void qvblk_load_start(struct qvblk_load *l, bool write, unsigned depth, uint32_t len,
                      bool sequential);
/*
 * Runs a started case for duration_us, reposting what completes, then lets what is in
 * flight complete; returns the requests completed, and the elapsed time in *elapsed_us.
 * Sleeps poll_us after a poll that found nothing.
 */
uint64_t qvblk_load_run(struct qvblk_load *l, int64_t duration_us, unsigned poll_us,
                        int64_t *elapsed_us);
/*
 * After a run: every slot's last request succeeded, and its data buffer holds what the image
 * file has at its sector (a read's result, or a write's effect with cache=writeback).
 */
bool qvblk_load_verify(struct qvblk_load *l, const char *image);

#endif
