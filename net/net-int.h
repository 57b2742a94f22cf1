/*
 * Inside the network layer: the backend object net.c runs and the openers of tap.c and
 * socket.c. Not for devices: they use include/xendm/net.h.
 */
#ifndef XENDM_NET_INT_H
#define XENDM_NET_INT_H

#include <glib.h>
#include <sys/socket.h>

#include "xendm/net.h"

#define NET_ERROR (g_quark_from_static_string("xendm-net"))

/* Room for a vnet header, a 4-byte stream length and the largest frame. */
#define NET_RX_BUF_LEN (NET_VNET_HDR_LEN + 4u + NET_FRAME_MAX)

/* A frame (or the rest of one, for a stream written in part) waiting for the kernel. */
struct net_tx_item {
    size_t len, done;
    uint8_t data[];
};

struct net_backend {
    char *id;
    enum net_backend_kind kind;
    int fd;        /* where frames go: the tap, the connected or datagram socket; -1 none */
    int listen_fd; /* socket listen=: accepts one peer at a time; -1 otherwise */
    bool vnet_hdr;
    unsigned offloads;
    guint rx_watch, tx_watch, accept_watch;
    bool rx_stopped; /* flow control: the NIC has no room */
    const struct net_client_ops *client;
    void *client_opaque;
    /* The frame being read or kept: rx_len bytes at rx_buf (stream: its length field too). */
    uint8_t *rx_buf;
    size_t rx_have;   /* bytes of it read so far (streams read in pieces) */
    size_t rx_len;    /* a complete frame's length once rx_ready */
    bool rx_ready;    /* a complete frame waits for the NIC */
    GQueue tx_queue;  /* struct net_tx_item * */
    size_t tx_queued_bytes;
    /* socket udp=: where datagrams go */
    struct sockaddr_storage peer;
    socklen_t peer_len;
    struct net_stats stats;
};

/* tap.c: type=tap. Sets fd and vnet_hdr. */
bool net_tap_open(struct net_backend *nb, struct kv_list *opts, GError **err);
void net_tap_apply_offloads(struct net_backend *nb);
/* socket.c: type=socket. Sets kind, fd or listen_fd, peer. */
bool net_socket_open(struct net_backend *nb, struct kv_list *opts, GError **err);
/* A peer connected to a listening backend (net.c starts reading it). */
void net_backend_set_stream_fd(struct net_backend *nb, int fd);
/* Puts fd into non-blocking, close-on-exec mode. */
bool net_fd_nonblocking(int fd, GError **err);
/* Reading starts (or resumes) when a NIC is attached and has room. */
void net_backend_update_rx(struct net_backend *nb);

#endif
