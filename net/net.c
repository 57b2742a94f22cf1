/*
 * The network backend core: -netdev parsing, reading frames under the NIC's flow control, and
 * sending without ever blocking the event loop (include/xendm/net.h). tap.c and socket.c only
 * open descriptors; every byte moves here.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "net/net-int.h"
#include "xendm/common.h"
#include "xendm/keyval.h"
#include "xendm/log.h"

/* Frames read per wake-up: other descriptors get their turn after that many. */
#define RX_BUDGET 64
#define STREAM_LEN_BYTES 4u

static gboolean rx_ready_cb(gint fd, GIOCondition cond, gpointer opaque);
static gboolean tx_ready_cb(gint fd, GIOCondition cond, gpointer opaque);

bool net_fd_nonblocking(int fd, GError **err)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        g_set_error(err, NET_ERROR, 0, "descriptor %d: %s", fd, g_strerror(errno));
        return false;
    }
    return true;
}

static void remove_watch(guint *watch)
{
    if (*watch) {
        g_source_remove(*watch);
        *watch = 0;
    }
}

/* ---- sending ---- */

static void tx_queue_clear(struct net_backend *nb)
{
    struct net_tx_item *item;

    while ((item = g_queue_pop_head(&nb->tx_queue)) != NULL) {
        g_free(item);
    }
    nb->tx_queued_bytes = 0;
    remove_watch(&nb->tx_watch);
}

/* The stream peer went away (or broke the framing): forget it, accept the next one. */
static void stream_disconnect(struct net_backend *nb)
{
    remove_watch(&nb->rx_watch);
    tx_queue_clear(nb);
    if (nb->fd >= 0) {
        close(nb->fd);
        nb->fd = -1;
    }
    nb->rx_have = 0;
    nb->rx_ready = false;
    log_info("netdev %s: peer disconnected", nb->id);
    net_backend_update_rx(nb); /* a listening backend accepts again */
}

static ssize_t write_raw(struct net_backend *nb, const void *buf, size_t len)
{
    if (nb->kind == NET_BACKEND_SOCKET_DGRAM) {
        return sendto(nb->fd, buf, len, MSG_NOSIGNAL, (const struct sockaddr *)&nb->peer,
                      nb->peer_len);
    }
    if (nb->kind == NET_BACKEND_SOCKET_STREAM) {
        return send(nb->fd, buf, len, MSG_NOSIGNAL);
    }
    return write(nb->fd, buf, len);
}

static bool would_block(int e)
{
    return e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS || e == EINTR;
}

/* Writes queued frames in order while the kernel takes them. */
static void tx_flush(struct net_backend *nb)
{
    struct net_tx_item *item;

    while (nb->fd >= 0 && (item = g_queue_peek_head(&nb->tx_queue)) != NULL) {
        ssize_t n = write_raw(nb, item->data + item->done, item->len - item->done);

        if (n < 0 && would_block(errno)) {
            break;
        }
        if (n < 0) {
            log_guest_error("netdev %s: send: %s", nb->id, g_strerror(errno));
            if (nb->kind == NET_BACKEND_SOCKET_STREAM) {
                stream_disconnect(nb);
                return;
            }
            n = (ssize_t)(item->len - item->done); /* a datagram or tap refused: dropped */
            nb->stats.tx_dropped++;
        } else if ((size_t)n == item->len - item->done) {
            nb->stats.tx_frames++;
            nb->stats.tx_bytes += item->len;
        }
        item->done += (size_t)n;
        if (item->done < item->len) {
            break; /* a stream took part of it: the rest when writable */
        }
        g_queue_pop_head(&nb->tx_queue);
        nb->tx_queued_bytes -= item->len;
        g_free(item);
    }
    if (g_queue_is_empty(&nb->tx_queue)) {
        remove_watch(&nb->tx_watch);
    } else if (!nb->tx_watch && nb->fd >= 0) {
        nb->tx_watch = g_unix_fd_add(nb->fd, G_IO_OUT, tx_ready_cb, nb);
    }
}

static gboolean tx_ready_cb(gint fd, GIOCondition cond, gpointer opaque)
{
    struct net_backend *nb = opaque;

    nb->tx_watch = 0;
    tx_flush(nb);
    /* tx_flush installed a new watch if it still has work. */
    return G_SOURCE_REMOVE;
}

/* The frame as the wire carries it: a stream puts its length first (big-endian). */
static struct net_tx_item *tx_item_new(const struct net_backend *nb, const struct iovec *iov,
                                       unsigned iovcnt, size_t frame_len)
{
    size_t prefix = nb->kind == NET_BACKEND_SOCKET_STREAM ? STREAM_LEN_BYTES : 0;
    struct net_tx_item *item = g_malloc(sizeof(*item) + prefix + frame_len);
    size_t at = prefix;

    if (prefix) {
        uint32_t be = GUINT32_TO_BE((uint32_t)frame_len);
        memcpy(item->data, &be, sizeof(be));
    }
    for (unsigned i = 0; i < iovcnt; i++) {
        memcpy(item->data + at, iov[i].iov_base, iov[i].iov_len);
        at += iov[i].iov_len;
    }
    item->len = at;
    item->done = 0;
    return item;
}

bool net_backend_send(struct net_backend *nb, const struct iovec *iov, unsigned iovcnt)
{
    size_t frame_len = 0;
    size_t max = NET_FRAME_MAX + (nb->vnet_hdr ? NET_VNET_HDR_LEN : 0);
    struct net_tx_item *item;

    for (unsigned i = 0; i < iovcnt; i++) {
        frame_len += iov[i].iov_len;
    }
    if (nb->fd < 0 || frame_len == 0 || frame_len > max ||
        g_queue_get_length(&nb->tx_queue) >= NET_TX_QUEUE_FRAMES ||
        nb->tx_queued_bytes + frame_len > NET_TX_QUEUE_BYTES) {
        nb->stats.tx_dropped++;
        return false;
    }
    /*
     * One copy into the queue item, then one write: it keeps a stream frame and its length in
     * one send, and a frame that must wait is already where it waits.
     */
    item = tx_item_new(nb, iov, iovcnt, frame_len);
    g_queue_push_tail(&nb->tx_queue, item);
    nb->tx_queued_bytes += item->len;
    if (!nb->tx_watch) {
        tx_flush(nb);
    }
    return true;
}

/* ---- receiving ---- */

static bool client_can_receive(struct net_backend *nb)
{
    return nb->client != NULL && !nb->rx_stopped &&
           (nb->client->can_receive == NULL || nb->client->can_receive(nb->client_opaque));
}

/*
 * Reads at most one frame into rx_buf. 1: a frame is ready (rx_len), 0: nothing more now,
 * -1: the stream ended or broke (disconnected).
 */
static int read_datagram(struct net_backend *nb)
{
    /* Empty or headless datagrams are skipped; a few of them, then others get their turn. */
    for (unsigned tries = 0; tries < 16; tries++) {
        ssize_t n = read(nb->fd, nb->rx_buf, NET_RX_BUF_LEN);

        if (n < 0) {
            if (!would_block(errno)) {
                log_guest_error("netdev %s: read: %s", nb->id, g_strerror(errno));
                nb->stats.rx_errors++;
            }
            return 0;
        }
        if (n == 0 || (nb->vnet_hdr && (size_t)n <= NET_VNET_HDR_LEN)) {
            nb->stats.rx_errors++;
            continue;
        }
        nb->rx_len = (size_t)n;
        return 1;
    }
    return 0;
}

static uint32_t stream_frame_len(const struct net_backend *nb)
{
    uint32_t be;

    memcpy(&be, nb->rx_buf, sizeof(be));
    return GUINT32_FROM_BE(be);
}

/* A stream arrives in pieces: the 4-byte length, then that many bytes. */
static int read_stream(struct net_backend *nb)
{
    size_t want = STREAM_LEN_BYTES;
    ssize_t n;

    if (nb->rx_have >= STREAM_LEN_BYTES) {
        uint32_t len = stream_frame_len(nb);

        if (len == 0 || len > NET_FRAME_MAX) {
            log_warn("netdev %s: stream frame of %u bytes (at most %u): disconnecting", nb->id,
                     len, NET_FRAME_MAX);
            nb->stats.rx_errors++;
            stream_disconnect(nb);
            return -1;
        }
        want += len;
    }
    n = recv(nb->fd, nb->rx_buf + nb->rx_have, want - nb->rx_have, 0);
    if (n < 0 && would_block(errno)) {
        return 0;
    }
    if (n <= 0) {
        stream_disconnect(nb);
        return -1;
    }
    nb->rx_have += (size_t)n;
    if (nb->rx_have == want && want > STREAM_LEN_BYTES) {
        nb->rx_len = want;
        return 1;
    }
    /* The length is complete: try for the body at once (it usually came with it). */
    return nb->rx_have == STREAM_LEN_BYTES ? read_stream(nb) : 0;
}

/* Hands the ready frame to the NIC; false when the NIC keeps it waiting. */
static bool deliver(struct net_backend *nb)
{
    size_t skip = nb->kind == NET_BACKEND_SOCKET_STREAM ? STREAM_LEN_BYTES : 0;
    size_t len = nb->rx_len - skip;

    if (!nb->client->receive(nb->client_opaque, nb->rx_buf + skip, len)) {
        nb->rx_stopped = true;
        return false;
    }
    nb->stats.rx_frames++;
    nb->stats.rx_bytes += len;
    nb->rx_ready = false;
    nb->rx_have = 0;
    return true;
}

/* Reads and delivers frames while the NIC has room; stops reading when it has none. */
static void rx_pump(struct net_backend *nb)
{
    for (unsigned budget = RX_BUDGET; budget > 0; budget--) {
        int got;

        if (!client_can_receive(nb)) {
            /* Level-triggered watch: stop it, or the loop spins until the NIC has room. */
            nb->rx_stopped = nb->client != NULL;
            break;
        }
        if (!nb->rx_ready) {
            got = nb->kind == NET_BACKEND_SOCKET_STREAM ? read_stream(nb) : read_datagram(nb);
            if (got <= 0) {
                /* Drained (or disconnected): still re-arm the watch below. Called from
                 * net_backend_rx_resume, the watch was removed when the NIC had no room. */
                break;
            }
            nb->rx_ready = true;
        }
        if (!deliver(nb)) {
            break;
        }
    }
    net_backend_update_rx(nb);
}

static gboolean rx_ready_cb(gint fd, GIOCondition cond, gpointer opaque)
{
    struct net_backend *nb = opaque;

    rx_pump(nb);
    return nb->rx_watch ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static gboolean accept_cb(gint fd, GIOCondition cond, gpointer opaque)
{
    struct net_backend *nb = opaque;
    int peer = accept4(nb->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (peer < 0) {
        if (!would_block(errno) && errno != ECONNABORTED) {
            log_warn("netdev %s: accept: %s", nb->id, g_strerror(errno));
        }
        return G_SOURCE_CONTINUE;
    }
    log_info("netdev %s: peer connected", nb->id);
    nb->accept_watch = 0;
    net_backend_set_stream_fd(nb, peer);
    return G_SOURCE_REMOVE;
}

void net_backend_set_stream_fd(struct net_backend *nb, int fd)
{
    nb->fd = fd;
    nb->rx_have = 0;
    nb->rx_ready = false;
    net_backend_update_rx(nb);
}

/*
 * The single place that decides whether the backend watches its descriptors: reading while a
 * NIC is attached and has room, accepting while a listening socket has no peer.
 */
void net_backend_update_rx(struct net_backend *nb)
{
    bool want_rx = nb->fd >= 0 && nb->client != NULL && !nb->rx_stopped && !nb->rx_ready;

    if (nb->listen_fd >= 0 && nb->fd < 0 && !nb->accept_watch) {
        nb->accept_watch = g_unix_fd_add(nb->listen_fd, G_IO_IN, accept_cb, nb);
    }
    if (want_rx && !nb->rx_watch) {
        nb->rx_watch = g_unix_fd_add(nb->fd, G_IO_IN | G_IO_HUP | G_IO_ERR, rx_ready_cb, nb);
    } else if (!want_rx) {
        remove_watch(&nb->rx_watch);
    }
}

void net_backend_rx_resume(struct net_backend *nb)
{
    if (nb->client == NULL) {
        return;
    }
    nb->rx_stopped = false;
    if (nb->rx_ready && !deliver(nb)) {
        return; /* still no room */
    }
    /* Read what waits now rather than at the next loop iteration. */
    if (nb->fd >= 0) {
        rx_pump(nb);
    }
}

/* ---- life cycle ---- */

bool net_backend_attach(struct net_backend *nb, const struct net_client_ops *ops, void *opaque,
                        GError **err)
{
    if (nb->client != NULL) {
        g_set_error(err, NET_ERROR, 0, "netdev %s is already used by another NIC", nb->id);
        return false;
    }
    nb->client = ops;
    nb->client_opaque = opaque;
    nb->rx_stopped = false;
    net_backend_update_rx(nb);
    return true;
}

void net_backend_detach(struct net_backend *nb)
{
    nb->client = NULL;
    nb->client_opaque = NULL;
    nb->rx_ready = false;
    nb->rx_have = 0;
    net_backend_update_rx(nb);
}

bool net_backend_has_vnet_hdr(const struct net_backend *nb)
{
    return nb->vnet_hdr;
}

void net_backend_set_offloads(struct net_backend *nb, unsigned offloads)
{
    if (!nb->vnet_hdr || nb->offloads == offloads) {
        return;
    }
    nb->offloads = offloads;
    net_tap_apply_offloads(nb);
}

const char *net_backend_id(const struct net_backend *nb)
{
    return nb->id;
}

enum net_backend_kind net_backend_kind(const struct net_backend *nb)
{
    return nb->kind;
}

const struct net_stats *net_backend_stats(const struct net_backend *nb)
{
    return &nb->stats;
}

void net_backend_free(struct net_backend *nb)
{
    if (nb == NULL) {
        return;
    }
    remove_watch(&nb->rx_watch);
    remove_watch(&nb->accept_watch);
    tx_queue_clear(nb);
    if (nb->fd >= 0) {
        close(nb->fd);
    }
    if (nb->listen_fd >= 0) {
        close(nb->listen_fd);
    }
    g_free(nb->rx_buf);
    g_free(nb->id);
    g_free(nb);
}

static bool check_unused(struct net_backend *nb, struct kv_list *opts, GError **err)
{
    const char *unused = kv_first_unused(opts);

    if (unused != NULL) {
        g_set_error(err, NET_ERROR, 0, "netdev %s: unknown or misplaced key '%s'", nb->id,
                    unused);
        return false;
    }
    return true;
}

struct net_backend *net_backend_new(struct kv_list *opts, GError **err)
{
    const char *type = kv_get(opts, "type");
    const char *id = kv_get(opts, "id");
    struct net_backend *nb;
    bool ok;

    if (type == NULL) {
        g_set_error(err, NET_ERROR, 0, "-netdev: no type");
        return NULL;
    }
    if (id == NULL || id[0] == '\0') {
        g_set_error(err, NET_ERROR, 0, "-netdev %s: id= is required", type);
        return NULL;
    }
    nb = g_new0(struct net_backend, 1);
    nb->id = g_strdup(id);
    nb->fd = nb->listen_fd = -1;
    g_queue_init(&nb->tx_queue);
    nb->rx_buf = g_malloc(NET_RX_BUF_LEN);
    if (strcmp(type, "tap") == 0) {
        nb->kind = NET_BACKEND_TAP;
        ok = net_tap_open(nb, opts, err);
    } else if (strcmp(type, "socket") == 0) {
        ok = net_socket_open(nb, opts, err);
    } else {
        g_set_error(err, NET_ERROR, 0, "-netdev %s: type '%s' is not supported (tap, socket)",
                    id, type);
        ok = false;
    }
    if (!ok || !check_unused(nb, opts, err)) {
        net_backend_free(nb);
        return NULL;
    }
    net_backend_update_rx(nb); /* a listening socket accepts its peer from now on */
    return nb;
}

static unsigned next_default_mac;

bool net_nic_mac(const char *text, uint8_t mac[6], GError **err)
{
    static const uint8_t base[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    unsigned b[6];
    char tail;

    if (text == NULL) {
        memcpy(mac, base, sizeof(base));
        mac[5] = (uint8_t)(base[5] + next_default_mac++);
        return true;
    }
    if (strlen(text) != 17 ||
        sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
               &tail) != 6 || (b[0] & 1)) {
        g_set_error(err, g_quark_from_static_string("xendm-net-error"), 0,
                    "mac=%s: expected a unicast address xx:xx:xx:xx:xx:xx", text);
        return false;
    }
    for (unsigned i = 0; i < 6; i++) {
        mac[i] = (uint8_t)b[i];
    }
    return true;
}
