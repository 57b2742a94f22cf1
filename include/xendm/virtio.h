/*
 * virtio: the core every virtio device uses (hw/virtio/virtqueue.c) and the PCI transport
 * (hw/virtio/virtio-pci.c). References are to the virtio 1.2 specification.
 *
 * A device (virtio-rng, later blk, net, console) describes itself with a struct
 * virtio_device_info, creates its function with virtio_pci_create() and gets back a
 * struct virtio_pci. The core owns everything generic: feature negotiation (§2.2), the
 * device status and reset (§2.1, §2.4), the configuration generation (§2.5.1), split
 * virtqueues (§2.7) and interrupts (ISR/INTx or MSI-X, §4.1.5). The device sees:
 *
 *   queue_notify(vq)          the driver kicked vq: pop requests, serve them, push them.
 *   req = virtqueue_pop(vq)   the next available request, or NULL (empty, not ready, broken).
 *   virtqueue_push(req, n)    the request is done, n bytes written into its device-writable
 *                             buffers; frees req. Requests may be pushed in any order and at
 *                             any later time (from a block layer callback, say).
 *   virtqueue_notify_if_needed(vq)   after one or more pushes: interrupt the driver unless it
 *                             suppressed the notification (§2.7.7, EVENT_IDX).
 *
 * Ownership: a request popped belongs to the device until it is pushed (or unpopped). Its
 * iovecs are host pointers locked through the mapcache (mapcache_lock): they stay valid until
 * the push, whatever the guest or Xen do meanwhile (INVALIDATE, a device reset). virtqueue_push
 * unlocks them, reports the written pages dirty and frees the request. A request popped before
 * a device reset is stale: pushing it only releases it; the reset ring is never touched.
 *
 * Everything in a ring comes from the guest. A malformed ring (a chain longer than the queue, a
 * loop, a next index out of range, a buffer outside guest RAM, a bad indirect table, a readable
 * descriptor after a writable one, an available index more than the queue size ahead, a head
 * offered twice) makes the device set DEVICE_NEEDS_RESET and send a configuration change
 * notification (§2.1.2); it then serves no queue until the driver resets it. Logs are
 * rate-limited; xendm keeps serving everything else.
 *
 * Single-threaded: everything runs on the event loop.
 */
#ifndef XENDM_VIRTIO_H
#define XENDM_VIRTIO_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct machine;
struct kv_list;
struct pci_device;

/* ---- constants of the specification ---- */

/* §2.1 Device status field */
#define VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define VIRTIO_STATUS_DRIVER 0x02
#define VIRTIO_STATUS_DRIVER_OK 0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

/* §6 Reserved feature bits */
#define VIRTIO_F_NOTIFY_ON_EMPTY 24 /* legacy only; not offered */
#define VIRTIO_F_ANY_LAYOUT 27
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_BIT(b) (UINT64_C(1) << (b))

/* §2.7.5 descriptor flags, §2.7.6/§2.7.8 ring flags */
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

/* §4.1.4.3: no MSI-X vector for this source. */
#define VIRTIO_MSI_NO_VECTOR 0xffff

/* Device IDs (§5) */
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4

/* ---- xendm's limits ---- */

/* The largest queue a device may offer; also the most descriptors one request may have. */
#define VIRTQ_MAX_SIZE 256u
/* The most queues a device may have (virtio-console with 31 ports needs 64). */
#define VIRTIO_QUEUES_MAX 64u
/* The largest device-specific configuration structure. */
#define VIRTIO_CONFIG_MAX 256u

/* Split ring layout in guest memory (§2.7.5, §2.7.6, §2.7.8): little-endian on x86. */
struct virtq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

struct virtq_used_elem {
    uint32_t id;
    uint32_t len;
};

/* True when the driver asked to be notified once used idx passes event (§2.7.7.1). */
static inline bool vring_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old_idx)
{
    return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old_idx);
}

/* ---- requests ---- */

struct virtq_iovec {
    void *base;   /* host pointer, locked through the mapcache */
    uint32_t len; /* never 0 */
    uint64_t gpa;
};

struct virtqueue;

/*
 * One descriptor chain. "out" buffers are device-readable (driver -> device), "in" buffers
 * device-writable (device -> driver), in chain order; every out precedes every in (§2.7.4.2).
 */
struct virtq_request {
    struct virtqueue *vq;
    uint16_t head;     /* the id written into the used ring */
    uint32_t epoch;    /* the queue's reset epoch when popped (stale after a reset) */
    bool resubmitted;  /* in flight at save time, popped again after the restore */
    unsigned out_num, in_num;
    uint64_t out_len, in_len; /* totals in bytes */
    struct virtq_iovec *out; /* = iov */
    struct virtq_iovec *in;  /* = iov + out_num */
    struct virtq_iovec iov[]; /* out_num + in_num entries, at most VIRTQ_MAX_SIZE */
};

/*
 * The next request of vq, or NULL when none is available, the queue is not ready, or the
 * ring is malformed (then the device is now broken: DEVICE_NEEDS_RESET).
 */
struct virtq_request *virtqueue_pop(struct virtqueue *vq);
/*
 * Completes req: `written` bytes (clamped to in_len) were written at the start of its
 * device-writable buffers. Writes the used element, then used->idx (release), unlocks and
 * frees req. Does not interrupt: call virtqueue_notify_if_needed() after a batch.
 */
void virtqueue_push(struct virtq_request *req, uint32_t written);
/* Gives back the request popped last, unused (it will be popped again); frees req. */
void virtqueue_unpop(struct virtq_request *req);
/* Interrupts the driver for the used entries pushed since the last call, unless suppressed. */
void virtqueue_notify_if_needed(struct virtqueue *vq);
/* Copies up to len bytes from the request's out buffers at offset; returns bytes copied. */
size_t virtq_request_read(const struct virtq_request *req, size_t offset, void *buf, size_t len);
/* Copies into its in buffers at offset; returns bytes copied. */
size_t virtq_request_write(struct virtq_request *req, size_t offset, const void *buf,
                           size_t len);

unsigned virtqueue_index(const struct virtqueue *vq);
struct virtio_device *virtqueue_device(const struct virtqueue *vq);
bool virtqueue_ready(const struct virtqueue *vq);
/* Requests popped and not yet pushed (at most the queue size). */
unsigned virtqueue_in_flight(const struct virtqueue *vq);

/* ---- the device ---- */

struct virtio_device_info {
    const char *name;          /* for logs, e.g. "virtio-rng" */
    uint16_t device_id;        /* §5 */
    uint32_t pci_class;        /* base << 16 | sub-class << 8 | programming interface */
    unsigned num_queues;       /* 1..VIRTIO_QUEUES_MAX */
    uint16_t queue_max_size;   /* power of two, 2..VIRTQ_MAX_SIZE */
    uint64_t features;         /* device-specific bits offered; the core adds its own */
    uint32_t config_len;       /* bytes of device configuration, <= VIRTIO_CONFIG_MAX */
    /* The driver kicked a queue. Required. */
    void (*queue_notify)(void *opaque, struct virtqueue *vq);
    /* The device was reset (status 0, PCI reset, machine reset): drop device state.
     * Requests still in flight become stale (pushing them only frees them). May be NULL. */
    void (*reset)(void *opaque);
    /* The driver wrote `len` bytes of the device configuration at offset (already stored).
     * May be NULL: the configuration is read-only. */
    void (*config_write)(void *opaque, uint32_t offset, uint32_t len);
    /* The driver set DRIVER_OK: queues are live. May be NULL. */
    void (*driver_ok)(void *opaque);
};

/* How the core reaches the transport (the PCI function, a unit test's fake). */
struct virtio_transport_ops {
    /* A used-buffer (config == false, queue vector) or configuration change notification. */
    void (*notify)(void *opaque, bool config, uint16_t vector);
};

struct virtqueue {
    struct virtio_device *vdev;
    unsigned index;
    uint16_t num;     /* queue size the driver chose (power of two) */
    uint16_t vector;  /* MSI-X vector or VIRTIO_MSI_NO_VECTOR */
    bool enabled;     /* queue_enable (modern) or a page frame set (legacy) */
    uint64_t desc_gpa, avail_gpa, used_gpa;
    /* Locked while ready: the three rings in host memory. */
    uint8_t *desc_map, *avail_map, *used_map;
    uint16_t last_avail_idx;
    uint16_t shadow_avail_idx; /* avail->idx as last read */
    uint16_t used_idx;
    uint16_t signalled_used;   /* used idx at the last notification decision */
    bool signalled_used_valid;
    bool pushed_since_notify;
    uint32_t epoch;
    unsigned in_flight;
    uint32_t in_use[VIRTQ_MAX_SIZE / 32]; /* heads popped and not pushed */
    /* Heads in flight when the state was saved: popped again, first, after a restore. */
    uint32_t resubmit[VIRTQ_MAX_SIZE / 32];
};

struct virtio_device {
    struct machine *machine;
    const struct virtio_device_info *info;
    void *opaque; /* the device's, handed to info's callbacks */
    const struct virtio_transport_ops *transport;
    void *transport_opaque;
    uint64_t host_features;
    uint64_t guest_features;
    uint8_t status;
    uint8_t isr; /* bit 0 queue, bit 1 configuration (§4.1.4.5) */
    uint8_t config_generation;
    bool broken;
    char broken_reason[128]; /* why the device needs a reset (for logs and tests) */
    uint16_t config_vector;
    uint8_t config[VIRTIO_CONFIG_MAX];
    struct virtqueue vq[VIRTIO_QUEUES_MAX];
};

/* Sets up vdev for a device; features the core itself offers are added to info->features. */
void virtio_device_init(struct virtio_device *vdev, struct machine *m,
                        const struct virtio_device_info *info, void *opaque,
                        const struct virtio_transport_ops *transport, void *transport_opaque);
/* Status 0: queues unmapped and forgotten, features, ISR, vectors cleared; info->reset. */
void virtio_device_reset(struct virtio_device *vdev);
/* Releases the ring mappings (before the device is freed). */
void virtio_device_cleanup(struct virtio_device *vdev);
/* The driver wrote the status byte (§2.1, §3.1.1): reset on 0, FEATURES_OK checks. */
void virtio_set_status(struct virtio_device *vdev, uint8_t status, bool legacy);
/* The driver wrote its features (legacy drivers: bits 0-31 only). */
void virtio_set_guest_features(struct virtio_device *vdev, uint64_t features);
/* The driver kicked queue `index` (out-of-range indexes are logged and ignored). */
void virtio_queue_kick(struct virtio_device *vdev, unsigned index);
/* Locks the queue's rings from its addresses and size; false (logged) if they are not RAM. */
bool virtio_queue_map(struct virtqueue *vq);
void virtio_queue_unmap(struct virtqueue *vq);
/* The device entered an error state (§2.1.2): DEVICE_NEEDS_RESET, config notification. */
void virtio_device_set_broken(struct virtio_device *vdev, const char *why);
/* The device changed its configuration: bump the generation, notify the driver (§2.5.1). */
void virtio_notify_config(struct virtio_device *vdev);
bool virtio_has_feature(const struct virtio_device *vdev, unsigned bit);

/* ---- saved state ---- */

/*
 * What the core saves for a device, in plain fields a struct vmstate_desc can name: the
 * device embeds one, calls virtio_pci_pre_save before saving and virtio_pci_post_load after
 * loading, and lists VIRTIO_SAVED_FIELDS(its struct, member) in its field table.
 */
struct virtio_saved {
    uint64_t host_features, guest_features;
    uint8_t status, isr, config_generation;
    bool broken;
    uint16_t config_vector;
    uint8_t config[VIRTIO_CONFIG_MAX];
    uint64_t q_desc[VIRTIO_QUEUES_MAX], q_avail[VIRTIO_QUEUES_MAX], q_used[VIRTIO_QUEUES_MAX];
    uint16_t q_num[VIRTIO_QUEUES_MAX], q_vector[VIRTIO_QUEUES_MAX];
    uint16_t q_last_avail[VIRTIO_QUEUES_MAX], q_used_idx[VIRTIO_QUEUES_MAX];
    bool q_enabled[VIRTIO_QUEUES_MAX];
    /* Heads popped and not yet pushed, VIRTQ_MAX_SIZE bits per queue. */
    uint32_t q_in_flight[VIRTIO_QUEUES_MAX * VIRTQ_MAX_SIZE / 32];
    /* transport */
    uint16_t queue_select;
    uint32_t device_feature_select, driver_feature_select;
};

#define VIRTIO_SAVED_FIELDS(st, m)                                                                \
    VMSTATE_U64(st, m.host_features), VMSTATE_U64(st, m.guest_features),                        \
        VMSTATE_U8(st, m.status), VMSTATE_U8(st, m.isr), VMSTATE_U8(st, m.config_generation),    \
        VMSTATE_BOOL(st, m.broken), VMSTATE_U16(st, m.config_vector),                            \
        VMSTATE_U8_ARRAY(st, m.config, VIRTIO_CONFIG_MAX),                                        \
        VMSTATE_FIELD_FULL(#m ".q_desc", st, m.q_desc, VMSTATE_TYPE_U64, 8, VIRTIO_QUEUES_MAX,  \
                           0, 0),                                                                 \
        VMSTATE_FIELD_FULL(#m ".q_avail", st, m.q_avail, VMSTATE_TYPE_U64, 8,                    \
                           VIRTIO_QUEUES_MAX, 0, 0),                                              \
        VMSTATE_FIELD_FULL(#m ".q_used", st, m.q_used, VMSTATE_TYPE_U64, 8, VIRTIO_QUEUES_MAX,  \
                           0, 0),                                                                 \
        VMSTATE_FIELD_FULL(#m ".q_num", st, m.q_num, VMSTATE_TYPE_U16, 2, VIRTIO_QUEUES_MAX,    \
                           VIRTQ_MAX_SIZE, 0),                                                    \
        VMSTATE_FIELD_FULL(#m ".q_vector", st, m.q_vector, VMSTATE_TYPE_U16, 2,                  \
                           VIRTIO_QUEUES_MAX, 0, 0),                                              \
        VMSTATE_FIELD_FULL(#m ".q_last_avail", st, m.q_last_avail, VMSTATE_TYPE_U16, 2,          \
                           VIRTIO_QUEUES_MAX, 0, 0),                                              \
        VMSTATE_FIELD_FULL(#m ".q_used_idx", st, m.q_used_idx, VMSTATE_TYPE_U16, 2,              \
                           VIRTIO_QUEUES_MAX, 0, 0),                                              \
        VMSTATE_BOOL_ARRAY(st, m.q_enabled, VIRTIO_QUEUES_MAX),                                   \
        VMSTATE_FIELD_FULL(#m ".q_in_flight", st, m.q_in_flight, VMSTATE_TYPE_U32, 4,            \
                           VIRTIO_QUEUES_MAX * VIRTQ_MAX_SIZE / 32, 0, 0),                        \
        VMSTATE_U16(st, m.queue_select), VMSTATE_U32(st, m.device_feature_select),               \
        VMSTATE_U32(st, m.driver_feature_select)

/*
 * Core state into saved. Requests in flight are saved as their heads: after a restore the
 * device pops them again (before any new one) and serves them again, as a device model
 * restarted at that point would (a block request is simply reissued).
 */
void virtio_device_save(const struct virtio_device *vdev, struct virtio_saved *saved);
/* saved into the core state; rings of enabled queues are mapped again. Values are checked:
 * a queue that cannot be resumed marks the device broken. */
void virtio_device_load(struct virtio_device *vdev, const struct virtio_saved *saved);

/* ---- the PCI transport (hw/virtio/virtio-pci.c) ---- */

struct virtio_pci;

/*
 * Creates the function for a device: properties addr=, disable-legacy=on|off (default off:
 * transitional, legacy I/O BAR 0), vectors=N (MSI-X vectors, default num_queues + 1, 0: none).
 * Returns NULL with err set.
 */
struct virtio_pci *virtio_pci_create(struct machine *m, struct kv_list *props,
                                     const struct virtio_device_info *info, void *opaque,
                                     GError **err);
void virtio_pci_destroy(struct virtio_pci *vp);
void virtio_pci_reset(struct virtio_pci *vp);
struct virtio_device *virtio_pci_device(struct virtio_pci *vp);
void virtio_pci_pre_save(struct virtio_pci *vp, struct virtio_saved *saved);
void virtio_pci_post_load(struct virtio_pci *vp, const struct virtio_saved *saved);

#endif
