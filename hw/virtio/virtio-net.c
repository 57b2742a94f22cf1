/*
 * virtio-net-pci: the network device (virtio 1.2 §5.1), device ID 1, on a -netdev backend
 * (include/xendm/net.h).
 *
 *   -device virtio-net-pci,netdev=ID[,mac=52:54:00:12:34:56][,disable-legacy=on][,addr=N]
 *
 * Queues: 0 receiveq, 1 transmitq, 2 controlq (one pair: no VIRTIO_NET_F_MQ).
 * Features: MAC, STATUS (the link is always up), MRG_RXBUF, CTRL_VQ with CTRL_RX and
 * CTRL_MAC_ADDR, and, only when the backend carries a vnet header (a tap with IFF_VNET_HDR),
 * CSUM, GUEST_CSUM, HOST_TSO4/6 and GUEST_TSO4/6: the header then passes between guest and
 * tap as it is, and TUNSETOFFLOAD follows what the driver accepted. Without a vnet header no
 * offload is offered: the driver checksums and segments itself.
 *
 * Receive: a frame from the backend goes into the next receive buffer(s); with MRG_RXBUF over
 * as many buffers as it needs (num_buffers in the first header, §5.1.6.4). With no buffer
 * posted the frame waits in the backend, which stops reading (the kernel queues behind it),
 * until the driver kicks the receive queue. Frames that arrive while the driver is not
 * running, that no buffer could ever hold, or that carry offloads the driver did not accept
 * are dropped and counted.
 *
 * Transmit: on a kick every available chain is sent: its first bytes are the header (12 bytes,
 * or 10 for a legacy driver without MRG_RXBUF), the rest the frame. A chain shorter than the
 * header, an empty frame or one over NET_FRAME_MAX, or GSO the backend cannot carry completes
 * with nothing sent (counted, logged). Ring-level hostility breaks the device (the core).
 *
 * In flight: nothing stays popped across event-loop iterations. TX chains are copied into the
 * backend's bounded send queue and pushed at once; an RX frame pops at most a queue's worth of
 * buffers and pushes (or gives back) all of them before returning. So at most one queue's
 * buffers are locked in the mapcache at any time, whatever the guest posts.
 *
 * The control queue accepts RX mode (promiscuous, all-multicast) and MAC table commands and
 * records them; frames are not filtered (the device behaves as promiscuous, as a tap on a
 * bridge does). MAC_ADDR_SET changes the MAC in the configuration.
 */
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>

#include "xendm/common.h"
#include "xendm/keyval.h"
#include "xendm/log.h"
#include "xendm/machine.h"
#include "xendm/net.h"
#include "xendm/virtio.h"
#include "xendm/vmstate.h"

#define NET_QUEUE_SIZE 256
#define RXQ 0
#define TXQ 1
#define CTRLQ 2

/* §5.1.3 feature bits */
#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_F_CTRL_VQ 17
#define VIRTIO_NET_F_CTRL_RX 18
#define VIRTIO_NET_F_CTRL_MAC_ADDR 23

/* §5.1.4 configuration: mac[6], status (le16) */
#define CFG_MAC 0
#define CFG_STATUS 6
#define CFG_LEN 8
#define VIRTIO_NET_S_LINK_UP 1

/* §5.1.6.5 control queue */
#define CTRL_RX 0
#define CTRL_RX_PROMISC 0
#define CTRL_RX_ALLMULTI 1
#define CTRL_MAC 1
#define CTRL_MAC_TABLE_SET 0
#define CTRL_MAC_ADDR_SET 1
#define CTRL_OK 0
#define CTRL_ERR 1

#define LEGACY_HDR_LEN 10u /* §5.1.6.1: without VERSION_1 or MRG_RXBUF, no num_buffers */
#define MAC_LEN 6
#define TX_IOV_MAX (VIRTQ_MAX_SIZE + 1)

struct virtio_net {
    struct machine *machine;
    struct virtio_pci *vp;
    struct virtio_device *vdev;
    struct virtio_device_info info; /* per device: the offloads depend on the backend */
    struct net_backend *nb;         /* NULL: no netdev=, frames go nowhere */
    uint8_t mac[MAC_LEN];           /* mac=, restored on reset */
    bool promisc, allmulti;         /* recorded from the control queue */
    uint32_t mac_table_entries;
    struct timer *tx_timer;         /* more to send than one turn takes */
    uint64_t rx_dropped, tx_errors;
    /* One frame's receive buffers while it is being placed. */
    struct virtq_request *rx_reqs[VIRTQ_MAX_SIZE];
    uint32_t rx_lens[VIRTQ_MAX_SIZE];
    struct iovec tx_iov[TX_IOV_MAX];
    struct virtio_saved saved; /* filled only around save and load */
};

/* ---- header and offloads ---- */

static size_t guest_hdr_len(const struct virtio_net *n)
{
    return virtio_has_feature(n->vdev, VIRTIO_F_VERSION_1) ||
                   virtio_has_feature(n->vdev, VIRTIO_NET_F_MRG_RXBUF)
               ? NET_VNET_HDR_LEN
               : LEGACY_HDR_LEN;
}

static bool backend_vnet(const struct virtio_net *n)
{
    return n->nb != NULL && net_backend_has_vnet_hdr(n->nb);
}

/* What the tap may hand us: only what the driver accepted (§5.1.6.4). */
static unsigned accepted_offloads(const struct virtio_net *n)
{
    unsigned off = 0;

    if (virtio_has_feature(n->vdev, VIRTIO_NET_F_GUEST_CSUM)) {
        off |= NET_OFFLOAD_CSUM;
        if (virtio_has_feature(n->vdev, VIRTIO_NET_F_GUEST_TSO4)) {
            off |= NET_OFFLOAD_TSO4;
        }
        if (virtio_has_feature(n->vdev, VIRTIO_NET_F_GUEST_TSO6)) {
            off |= NET_OFFLOAD_TSO6;
        }
    }
    return off;
}

static void apply_offloads(struct virtio_net *n)
{
    if (n->nb != NULL) {
        net_backend_set_offloads(n->nb, (n->vdev->status & VIRTIO_STATUS_DRIVER_OK)
                                            ? accepted_offloads(n) : 0);
    }
}

/* ---- receive ---- */

static bool rx_live(const struct virtio_net *n)
{
    const struct virtio_device *vdev = n->vdev;

    return (vdev->status & VIRTIO_STATUS_DRIVER_OK) && !vdev->broken &&
           virtqueue_ready(&n->vdev->vq[RXQ]);
}

/* The header the driver gets; false when the frame uses an offload it did not accept. */
static bool rx_header(const struct virtio_net *n, const uint8_t **frame, size_t *len,
                      struct net_vnet_hdr *hdr)
{
    unsigned off = accepted_offloads(n);

    memset(hdr, 0, sizeof(*hdr));
    if (!backend_vnet(n)) {
        return true;
    }
    memcpy(hdr, *frame, NET_VNET_HDR_LEN);
    *frame += NET_VNET_HDR_LEN;
    *len -= NET_VNET_HDR_LEN;
    hdr->num_buffers = 0;
    if (!(off & NET_OFFLOAD_CSUM)) {
        /* A partial checksum queued in the tap before the driver changed its mind: it cannot
         * take that. DATA_VALID is only a hint it did not ask for. */
        if (hdr->flags & NET_HDR_F_NEEDS_CSUM) {
            return false;
        }
        hdr->flags = 0;
    }
    switch (hdr->gso_type & ~NET_HDR_GSO_ECN) {
    case NET_HDR_GSO_NONE:
        return true;
    case NET_HDR_GSO_TCPV4:
        return (off & NET_OFFLOAD_TSO4) != 0;
    case NET_HDR_GSO_TCPV6:
        return (off & NET_OFFLOAD_TSO6) != 0;
    default:
        return false;
    }
}

/* Gives back the buffers popped for a frame, newest first (the core's unpop order). */
static void rx_unpop_all(struct virtio_net *n, unsigned count)
{
    while (count > 0) {
        virtqueue_unpop(n->rx_reqs[--count]);
    }
}

enum rx_fill { RX_FILLED, RX_WAIT, RX_DROP };

/*
 * Pops buffers and copies header and frame into them (§5.1.6.4). Without MRG_RXBUF the frame
 * must fit one chain. On RX_FILLED, *count buffers hold rx_lens[] bytes each.
 */
static enum rx_fill rx_fill_buffers(struct virtio_net *n, const uint8_t *hdr, size_t hdr_len,
                                    const uint8_t *frame, size_t len, unsigned *count)
{
    struct virtqueue *vq = &n->vdev->vq[RXQ];
    bool mergeable = virtio_has_feature(n->vdev, VIRTIO_NET_F_MRG_RXBUF);
    size_t done = 0; /* bytes of the frame placed */
    unsigned k = 0;

    while (k == 0 || done < len) {
        struct virtq_request *req;
        size_t at = 0, chunk;

        if (k == vq->num || (k == 1 && !mergeable)) {
            rx_unpop_all(n, k); /* no set of buffers this queue can offer holds it */
            return RX_DROP;
        }
        req = virtqueue_pop(vq);
        if (req == NULL) {
            rx_unpop_all(n, k);
            return n->vdev->broken ? RX_DROP : RX_WAIT;
        }
        n->rx_reqs[k++] = req;
        if (k == 1) {
            /* §5.1.6.3.1: every receive buffer holds at least the header. */
            if (req->in_len < hdr_len) {
                rx_unpop_all(n, k);
                return RX_DROP;
            }
            virtq_request_write(req, 0, hdr, hdr_len);
            at = hdr_len;
        }
        chunk = (size_t)XENDM_MIN((uint64_t)(len - done), req->in_len - at);
        virtq_request_write(req, at, frame + done, chunk);
        done += chunk;
        n->rx_lens[k - 1] = (uint32_t)(at + chunk);
    }
    *count = k;
    return RX_FILLED;
}

static bool net_receive(void *opaque, const uint8_t *frame, size_t len)
{
    struct virtio_net *n = opaque;
    struct net_vnet_hdr hdr;
    unsigned count = 0;
    enum rx_fill fill;

    if (!rx_live(n) || (backend_vnet(n) && len <= NET_VNET_HDR_LEN) ||
        !rx_header(n, &frame, &len, &hdr)) {
        n->rx_dropped++;
        return true;
    }
    fill = rx_fill_buffers(n, (const uint8_t *)&hdr, guest_hdr_len(n), frame, len, &count);
    if (fill == RX_WAIT) {
        return false; /* the backend keeps it until the driver posts buffers */
    }
    if (fill == RX_DROP) {
        log_guest_event("virtio-net: a %zu-byte frame does not fit the receive buffers", len);
        n->rx_dropped++;
        return true;
    }
    if (guest_hdr_len(n) == NET_VNET_HDR_LEN) {
        uint16_t num_buffers = GUINT16_TO_LE((uint16_t)count);
        virtq_request_write(n->rx_reqs[0], offsetof(struct net_vnet_hdr, num_buffers),
                            &num_buffers, sizeof(num_buffers));
    }
    for (unsigned i = 0; i < count; i++) {
        virtqueue_push(n->rx_reqs[i], n->rx_lens[i]);
    }
    virtqueue_notify_if_needed(&n->vdev->vq[RXQ]);
    return true;
}

static const struct net_client_ops virtio_net_client = {
    .receive = net_receive,
};

static void rx_resume(struct virtio_net *n)
{
    if (n->nb != NULL) {
        net_backend_rx_resume(n->nb);
    }
}

/* ---- transmit ---- */

/* RFC 1071 sum of a byte range, as the partial checksum offload leaves it to the device. */
static uint16_t inet_checksum(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;

    for (size_t i = 0; i + 1 < len; i += 2) {
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    }
    if (len & 1) {
        sum += (uint32_t)p[len - 1] << 8;
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t)~sum;
}

/*
 * NEEDS_CSUM toward a backend without a vnet header (the driver set it though CSUM was not
 * offered): complete the checksum here, as hardware would (§5.1.6.2).
 */
static bool tx_fill_checksum(uint8_t *frame, size_t len, const struct net_vnet_hdr *hdr)
{
    size_t start = GUINT16_FROM_LE(hdr->csum_start);
    size_t field = start + GUINT16_FROM_LE(hdr->csum_offset);
    uint16_t csum;

    if (start >= len || field + 2 > len) {
        return false;
    }
    csum = inet_checksum(frame + start, len - start);
    frame[field] = (uint8_t)(csum >> 8);
    frame[field + 1] = (uint8_t)csum;
    return true;
}

/* The out buffers from byte `skip` on, as an iovec (host pointers into guest memory). */
static unsigned tx_gather(struct virtio_net *n, const struct virtq_request *req, size_t skip,
                          unsigned first)
{
    unsigned cnt = first;

    for (unsigned i = 0; i < req->out_num && cnt < TX_IOV_MAX; i++) {
        size_t len = req->out[i].len;

        if (skip >= len) {
            skip -= len;
            continue;
        }
        n->tx_iov[cnt].iov_base = (uint8_t *)req->out[i].base + skip;
        n->tx_iov[cnt].iov_len = len - skip;
        skip = 0;
        cnt++;
    }
    return cnt;
}

static bool tx_without_vnet(struct virtio_net *n, const struct virtq_request *req,
                            const struct net_vnet_hdr *hdr, size_t hdr_len, size_t frame_len)
{
    struct iovec one;
    uint8_t *copy;
    bool ok;

    if (hdr->gso_type != NET_HDR_GSO_NONE) {
        log_guest_error("virtio-net: GSO type %u sent, but no segmentation was offered",
                        hdr->gso_type);
        return false;
    }
    if (!(hdr->flags & NET_HDR_F_NEEDS_CSUM)) {
        return net_backend_send(n->nb, n->tx_iov, tx_gather(n, req, hdr_len, 0));
    }
    copy = g_malloc(frame_len);
    virtq_request_read(req, hdr_len, copy, frame_len);
    ok = tx_fill_checksum(copy, frame_len, hdr);
    if (!ok) {
        log_guest_error("virtio-net: checksum offsets outside the frame");
    } else {
        one = (struct iovec){.iov_base = copy, .iov_len = frame_len};
        ok = net_backend_send(n->nb, &one, 1);
    }
    g_free(copy);
    return ok;
}

/* Sends one chain's frame; false when it was refused (counted by the caller). */
static bool tx_one(struct virtio_net *n, const struct virtq_request *req)
{
    size_t hdr_len = guest_hdr_len(n);
    struct net_vnet_hdr hdr;
    size_t frame_len;

    if (req->out_len <= hdr_len || req->out_len - hdr_len > NET_FRAME_MAX) {
        log_guest_error("virtio-net: transmit chain of %" PRIu64 " bytes (header %zu, frame "
                        "at most %u)", req->out_len, hdr_len, NET_FRAME_MAX);
        return false;
    }
    frame_len = (size_t)(req->out_len - hdr_len);
    memset(&hdr, 0, sizeof(hdr));
    virtq_request_read(req, 0, &hdr, hdr_len);
    if (n->nb == NULL) {
        return false;
    }
    if (!backend_vnet(n)) {
        return tx_without_vnet(n, req, &hdr, hdr_len, frame_len);
    }
    /* The tap takes virtio's own header (num_buffers is ignored on transmit). */
    hdr.num_buffers = 0;
    n->tx_iov[0] = (struct iovec){.iov_base = &hdr, .iov_len = NET_VNET_HDR_LEN};
    return net_backend_send(n->nb, n->tx_iov, tx_gather(n, req, hdr_len, 1));
}

/* One turn of transmitting: at most a queue's worth, the rest on the next loop turn. */
static void tx_run(struct virtio_net *n)
{
    struct virtqueue *vq = &n->vdev->vq[TXQ];
    struct virtq_request *req = NULL;
    unsigned sent = 0;

    while (sent < vq->num && (req = virtqueue_pop(vq)) != NULL) {
        if (!tx_one(n, req)) {
            n->tx_errors++;
        }
        /* §5.1.6.2.1: the device writes nothing into a transmit chain. */
        virtqueue_push(req, 0);
        sent++;
    }
    virtqueue_notify_if_needed(vq);
    if (sent == vq->num && vq->num != 0) {
        timer_arm_ns(n->tx_timer, 0);
    }
}

static void tx_timer_cb(void *opaque)
{
    struct virtio_net *n = opaque;

    if (virtqueue_ready(&n->vdev->vq[TXQ]) && !n->vdev->broken &&
        (n->vdev->status & VIRTIO_STATUS_DRIVER_OK)) {
        tx_run(n);
    }
}

/* ---- control queue (§5.1.6.5) ---- */

static uint8_t ctrl_rx_mode(struct virtio_net *n, uint8_t cmd, const struct virtq_request *req)
{
    uint8_t on;

    if (!virtio_has_feature(n->vdev, VIRTIO_NET_F_CTRL_RX) || req->out_len != 3 ||
        (cmd != CTRL_RX_PROMISC && cmd != CTRL_RX_ALLMULTI)) {
        return CTRL_ERR;
    }
    virtq_request_read(req, 2, &on, 1);
    if (cmd == CTRL_RX_PROMISC) {
        n->promisc = on != 0;
    } else {
        n->allmulti = on != 0;
    }
    return CTRL_OK;
}

/* Two tables, each a le32 count and that many MACs, filling the command exactly. */
static uint8_t ctrl_mac_table(struct virtio_net *n, const struct virtq_request *req)
{
    uint64_t at = 2;
    uint32_t total = 0;

    for (unsigned table = 0; table < 2; table++) {
        uint32_t entries;

        if (virtq_request_read(req, at, &entries, 4) != 4) {
            return CTRL_ERR;
        }
        entries = GUINT32_FROM_LE(entries);
        at += 4;
        if ((uint64_t)entries * MAC_LEN > req->out_len - at) {
            return CTRL_ERR;
        }
        at += (uint64_t)entries * MAC_LEN;
        total += entries;
    }
    if (at != req->out_len) {
        return CTRL_ERR;
    }
    n->mac_table_entries = total;
    return CTRL_OK;
}

static uint8_t ctrl_mac(struct virtio_net *n, uint8_t cmd, const struct virtq_request *req)
{
    if (cmd == CTRL_MAC_TABLE_SET && virtio_has_feature(n->vdev, VIRTIO_NET_F_CTRL_RX)) {
        return ctrl_mac_table(n, req);
    }
    if (cmd == CTRL_MAC_ADDR_SET && virtio_has_feature(n->vdev, VIRTIO_NET_F_CTRL_MAC_ADDR) &&
        req->out_len == 2 + MAC_LEN) {
        virtq_request_read(req, 2, n->vdev->config + CFG_MAC, MAC_LEN);
        return CTRL_OK;
    }
    return CTRL_ERR;
}

static void ctrl_run(struct virtio_net *n, struct virtqueue *vq)
{
    struct virtq_request *req;

    while ((req = virtqueue_pop(vq)) != NULL) {
        uint8_t cmd[2], ack = CTRL_ERR;

        /* §5.1.6.5: class, command, data out; one ack byte in. */
        if (req->out_len < 2 || req->in_len < 1) {
            log_guest_error("virtio-net: control command of %" PRIu64 " bytes out, %" PRIu64
                            " in", req->out_len, req->in_len);
            virtqueue_push(req, 0);
            continue;
        }
        virtq_request_read(req, 0, cmd, 2);
        if (cmd[0] == CTRL_RX) {
            ack = ctrl_rx_mode(n, cmd[1], req);
        } else if (cmd[0] == CTRL_MAC) {
            ack = ctrl_mac(n, cmd[1], req);
        }
        if (ack != CTRL_OK) {
            log_guest_event("virtio-net: control class %u command %u refused", cmd[0], cmd[1]);
        }
        virtq_request_write(req, 0, &ack, 1);
        virtqueue_push(req, 1);
    }
    virtqueue_notify_if_needed(vq);
}

/* ---- the virtio device ---- */

static void net_queue_notify(void *opaque, struct virtqueue *vq)
{
    struct virtio_net *n = opaque;

    switch (virtqueue_index(vq)) {
    case RXQ:
        rx_resume(n); /* buffers were posted: a waiting frame goes first */
        break;
    case TXQ:
        tx_run(n);
        break;
    default:
        ctrl_run(n, vq);
        break;
    }
}

static void config_defaults(struct virtio_net *n)
{
    uint16_t status = GUINT16_TO_LE(VIRTIO_NET_S_LINK_UP);

    memcpy(n->vdev->config + CFG_MAC, n->mac, MAC_LEN);
    memcpy(n->vdev->config + CFG_STATUS, &status, sizeof(status));
}

static void net_reset(void *opaque)
{
    struct virtio_net *n = opaque;

    if (n->vdev == NULL) {
        return; /* still being created */
    }
    config_defaults(n);
    n->promisc = true; /* until the driver says otherwise, as QEMU's device starts */
    n->allmulti = false;
    n->mac_table_entries = 0;
    timer_cancel(n->tx_timer);
    apply_offloads(n);
    rx_resume(n); /* a frame kept for the old driver is dropped now */
}

/* A legacy driver may write the MAC (§5.1.4 legacy interface); the status is read-only. */
static void net_config_write(void *opaque, uint32_t offset, uint32_t len)
{
    struct virtio_net *n = opaque;
    uint16_t status = GUINT16_TO_LE(VIRTIO_NET_S_LINK_UP);

    memcpy(n->vdev->config + CFG_STATUS, &status, sizeof(status));
}

static void net_driver_ok(void *opaque)
{
    struct virtio_net *n = opaque;

    apply_offloads(n);
    rx_resume(n);
}

static const struct virtio_device_info virtio_net_info_template = {
    .name = "virtio-net-pci",
    .device_id = VIRTIO_ID_NET,
    .pci_class = 0x020000, /* network controller, Ethernet */
    .num_queues = 3,
    .queue_max_size = NET_QUEUE_SIZE,
    .config_len = CFG_LEN,
    .queue_notify = net_queue_notify,
    .reset = net_reset,
    .config_write = net_config_write,
    .driver_ok = net_driver_ok,
};

static uint64_t offered_features(bool vnet)
{
    uint64_t f = VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS) |
                 VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) | VIRTIO_BIT(VIRTIO_NET_F_CTRL_VQ) |
                 VIRTIO_BIT(VIRTIO_NET_F_CTRL_RX) | VIRTIO_BIT(VIRTIO_NET_F_CTRL_MAC_ADDR);

    if (vnet) {
        f |= VIRTIO_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) |
             VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6) |
             VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6);
    }
    return f;
}

static bool parse_net_props(struct virtio_net *n, struct machine *m, struct kv_list *props,
                            GError **err)
{
    const char *netdev = kv_get(props, "netdev");
    const char *mac = kv_get(props, "mac");

    if (!net_nic_mac(mac, n->mac, err)) {
        return false;
    }
    if (netdev == NULL) {
        log_warn("virtio-net-pci: no netdev=: frames sent go nowhere");
        return true;
    }
    n->nb = machine_find_netdev(m, netdev);
    if (n->nb == NULL) {
        g_set_error(err, g_quark_from_static_string("xendm-virtio-net"), 0,
                    "netdev=%s: no -netdev with that id", netdev);
        return false;
    }
    if (!net_backend_attach(n->nb, &virtio_net_client, n, err)) {
        n->nb = NULL;
        return false;
    }
    return true;
}

static void virtio_net_destroy(void *dev)
{
    struct virtio_net *n = dev;

    if (!n) {
        return;
    }
    if (n->nb != NULL) {
        net_backend_detach(n->nb);
    }
    virtio_pci_destroy(n->vp);
    timer_free(n->tx_timer);
    g_free(n);
}

static void *virtio_net_create(struct machine *m, struct kv_list *props, GError **err)
{
    struct virtio_net *n = g_new0(struct virtio_net, 1);

    n->machine = m;
    n->tx_timer = timer_new(tx_timer_cb, n);
    if (!parse_net_props(n, m, props, err)) {
        goto fail;
    }
    n->info = virtio_net_info_template;
    n->info.features = offered_features(backend_vnet(n));
    n->vp = virtio_pci_create(m, props, &n->info, n, err);
    if (!n->vp) {
        goto fail;
    }
    n->vdev = virtio_pci_device(n->vp);
    n->promisc = true;
    config_defaults(n);
    return n;

fail:
    virtio_net_destroy(n);
    return NULL;
}

static void virtio_net_reset(void *dev)
{
    struct virtio_net *n = dev;

    virtio_pci_reset(n->vp);
}

static void virtio_net_pre_save(void *dev)
{
    struct virtio_net *n = dev;

    virtio_pci_pre_save(n->vp, &n->saved);
}

static void virtio_net_post_load(void *dev)
{
    struct virtio_net *n = dev;

    virtio_pci_post_load(n->vp, &n->saved);
    apply_offloads(n);
    rx_resume(n);
}

static const struct vmstate_field virtio_net_fields[] = {
    VIRTIO_SAVED_FIELDS(struct virtio_net, saved),
    VMSTATE_BOOL(struct virtio_net, promisc),
    VMSTATE_BOOL(struct virtio_net, allmulti),
    VMSTATE_END,
};

static const struct vmstate_desc virtio_net_vmstate = {
    .name = "virtio-net-pci",
    .version = 1,
    .fields = virtio_net_fields,
    .pre_save = virtio_net_pre_save,
    .post_load = virtio_net_post_load,
};

static const struct device_type virtio_net_type = {
    .name = "virtio-net-pci",
    .description = "virtio network device on a -netdev (virtio-pci, MSI-X, transitional "
                   "unless disable-legacy=on)",
    .user_creatable = true,
    .create = virtio_net_create,
    .reset = virtio_net_reset,
    .destroy = virtio_net_destroy,
    .vmstate = &virtio_net_vmstate,
};
DEVICE_TYPE_REGISTER(virtio_net_type);
