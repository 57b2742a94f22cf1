/*
 * virtio-rng-pci: the entropy device (virtio 1.2 §5.4), device ID 4, one request queue, no
 * configuration. Each device-writable buffer the driver posts is filled from the host's
 * getrandom() (non-blocking) and returned with the number of bytes written.
 *
 * Properties: those of the PCI transport (include/xendm/virtio.h): addr=, disable-legacy=,
 * vectors=.
 */
#include <glib.h>
#include <sys/random.h>

#include "xendm/common.h"
#include "xendm/log.h"
#include "xendm/machine.h"
#include "xendm/vmstate.h"
#include "xendm/virtio.h"

#define RNG_QUEUE_SIZE 64
/* Bytes one request may take: a guest asking for megabytes gets them a slice at a time. */
#define RNG_REQUEST_MAX (64u * 1024)

struct virtio_rng {
    struct virtio_pci *vp;
    struct virtio_saved saved; /* filled only around save and load */
};

/* Fills the request's writable buffers; returns the bytes written, or -1 (no entropy now). */
static long rng_fill(struct virtq_request *req)
{
    size_t want = (size_t)XENDM_MIN(req->in_len, (uint64_t)RNG_REQUEST_MAX);
    size_t done = 0;

    for (unsigned i = 0; i < req->in_num && done < want; i++) {
        size_t n = XENDM_MIN((size_t)req->in[i].len, want - done);
        ssize_t got = getrandom(req->in[i].base, n, GRND_NONBLOCK);

        if (got <= 0) {
            return done ? (long)done : -1;
        }
        done += (size_t)got;
        if ((size_t)got < n) {
            break;
        }
    }
    return (long)done;
}

static void rng_queue_notify(void *opaque, struct virtqueue *vq)
{
    struct virtq_request *req;

    while ((req = virtqueue_pop(vq)) != NULL) {
        long written = rng_fill(req);

        if (written < 0) {
            /* The host pool is not ready yet: the buffer waits for the next kick. */
            log_guest_event("virtio-rng: no host entropy available yet");
            virtqueue_unpop(req);
            break;
        }
        virtqueue_push(req, (uint32_t)written);
    }
    virtqueue_notify_if_needed(vq);
}

static const struct virtio_device_info rng_info = {
    .name = "virtio-rng-pci",
    .device_id = VIRTIO_ID_RNG,
    .pci_class = 0x00ff00, /* unclassified device, as every virtio-rng presents itself */
    .num_queues = 1,
    .queue_max_size = RNG_QUEUE_SIZE,
    .features = 0,
    .config_len = 0,
    .queue_notify = rng_queue_notify,
};

static void virtio_rng_destroy(void *dev)
{
    struct virtio_rng *rng = dev;

    if (!rng) {
        return;
    }
    virtio_pci_destroy(rng->vp);
    g_free(rng);
}

static void *virtio_rng_create(struct machine *m, struct kv_list *props, GError **err)
{
    struct virtio_rng *rng = g_new0(struct virtio_rng, 1);

    rng->vp = virtio_pci_create(m, props, &rng_info, rng, err);
    if (!rng->vp) {
        virtio_rng_destroy(rng);
        return NULL;
    }
    return rng;
}

static void virtio_rng_reset(void *dev)
{
    struct virtio_rng *rng = dev;

    virtio_pci_reset(rng->vp);
}

static void virtio_rng_pre_save(void *dev)
{
    struct virtio_rng *rng = dev;

    virtio_pci_pre_save(rng->vp, &rng->saved);
}

static void virtio_rng_post_load(void *dev)
{
    struct virtio_rng *rng = dev;

    virtio_pci_post_load(rng->vp, &rng->saved);
}

static const struct vmstate_field virtio_rng_fields[] = {
    VIRTIO_SAVED_FIELDS(struct virtio_rng, saved),
    VMSTATE_END,
};

static const struct vmstate_desc virtio_rng_vmstate = {
    .name = "virtio-rng-pci",
    .version = 1,
    .fields = virtio_rng_fields,
    .pre_save = virtio_rng_pre_save,
    .post_load = virtio_rng_post_load,
};

static const struct device_type virtio_rng_type = {
    .name = "virtio-rng-pci",
    .description = "virtio entropy source (virtio-pci, MSI-X, transitional unless "
                   "disable-legacy=on)",
    .user_creatable = true,
    .create = virtio_rng_create,
    .reset = virtio_rng_reset,
    .destroy = virtio_rng_destroy,
    .vmstate = &virtio_rng_vmstate,
};
DEVICE_TYPE_REGISTER(virtio_rng_type);
