/*
 * Network backends (-netdev) and the API a NIC uses to reach one (net/net.c, net/tap.c,
 * net/socket.c). virtio-net uses it now; the emulated NICs (rtl8139, e1000) will too.
 *
 *   -netdev tap,id=ID,ifname=IF[,br=BR][,script=no][,downscript=no][,vnet_hdr=on|off]
 *   -netdev tap,id=ID,fd=N                 a tap descriptor the caller opened
 *   -netdev socket,id=ID,connect=HOST:PORT | listen=HOST:PORT | fd=N
 *                                          a stream: each frame is a 4-byte big-endian length
 *                                          then the frame (QEMU's framing)
 *   -netdev socket,id=ID,udp=HOST:PORT,localaddr=HOST:PORT
 *                                          one frame per datagram, sent to udp=, received on
 *                                          localaddr=
 *
 * xendm runs no scripts: the hotplug script of the toolstack attaches the tap to its bridge
 * (br= is accepted for that reason). script=/downscript= other than "no" are refused.
 *
 * Frames. A backend with a vnet header (a tap that offers IFF_VNET_HDR) carries, before every
 * frame in both directions, the 12-byte struct net_vnet_hdr (virtio 1.2 §5.1.6, num_buffers
 * included and ignored by the kernel): checksum and segmentation offloads travel in it. A
 * backend without one carries bare Ethernet frames: the NIC offers no offloads then.
 *
 * Flow control. The backend asks can_receive() before it reads; when it returns false the
 * backend stops reading. A frame receive() refuses (returns false) is kept by the backend,
 * which also stops reading. Either way the NIC calls net_backend_rx_resume() once it has room
 * again (virtio-net: the driver posted RX buffers) and the backend delivers the kept frame
 * first. What piles up meanwhile waits in the kernel (socket buffers, the tap's queue, which
 * drops as a full NIC would).
 *
 * Sending never blocks the event loop: a frame the kernel cannot take now is queued (at most
 * NET_TX_QUEUE_FRAMES frames / NET_TX_QUEUE_BYTES bytes) and written when the descriptor is
 * writable; beyond that it is dropped and counted, as a NIC whose wire is busy drops.
 *
 * Single-threaded: everything runs on the event loop (GLib's default context).
 */
#ifndef XENDM_NET_H
#define XENDM_NET_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct kv_list;

/* The largest frame a backend carries, without a vnet header: 64 KiB of GSO payload plus an
 * Ethernet header with a VLAN tag, as a tap hands out. Larger frames are refused. */
#define NET_FRAME_MAX (65536u + 18u)
#define NET_TX_QUEUE_FRAMES 256u
#define NET_TX_QUEUE_BYTES (1024u * 1024u)

/* virtio 1.2 §5.1.6 struct virtio_net_hdr, little-endian, as TUNSETVNETHDRSZ 12 lays it out. */
struct net_vnet_hdr {
    uint8_t flags;
    uint8_t gso_type;
    uint16_t hdr_len;
    uint16_t gso_size;
    uint16_t csum_start;
    uint16_t csum_offset;
    uint16_t num_buffers;
};
#define NET_VNET_HDR_LEN 12u
#define NET_HDR_F_NEEDS_CSUM 1
#define NET_HDR_F_DATA_VALID 2
#define NET_HDR_GSO_NONE 0
#define NET_HDR_GSO_TCPV4 1
#define NET_HDR_GSO_UDP 3
#define NET_HDR_GSO_TCPV6 4
#define NET_HDR_GSO_ECN 0x80

/* Offloads the NIC's driver accepts on receive (TUNSETOFFLOAD), NET_OFFLOAD_* bits. */
#define NET_OFFLOAD_CSUM 0x01
#define NET_OFFLOAD_TSO4 0x02
#define NET_OFFLOAD_TSO6 0x04
#define NET_OFFLOAD_TSO_ECN 0x08

enum net_backend_kind {
    NET_BACKEND_TAP,
    NET_BACKEND_SOCKET_STREAM,
    NET_BACKEND_SOCKET_DGRAM,
};

/* What a backend tells its NIC. */
struct net_client_ops {
    /* May the backend read a frame now? NULL: always. */
    bool (*can_receive)(void *opaque);
    /*
     * One frame (after the vnet header when the backend has one, see net_backend_has_vnet_hdr).
     * True: consumed (delivered or dropped by the NIC). False: not now; the backend keeps it
     * and stops reading until net_backend_rx_resume().
     */
    bool (*receive)(void *opaque, const uint8_t *frame, size_t len);
};

struct net_stats {
    uint64_t rx_frames, rx_bytes;  /* delivered to the NIC */
    uint64_t tx_frames, tx_bytes;  /* written to the kernel (queued frames once written) */
    uint64_t tx_dropped;           /* the send queue was full, or the peer is gone */
    uint64_t rx_errors;            /* malformed stream lengths, short reads */
};

struct net_backend;

/*
 * Creates the backend from -netdev's keys (the first is "type"). Every key must be known:
 * an unknown one, a missing id=, a script to run, an address that does not resolve or a
 * descriptor that is no socket or tap is an error. Connects, listens or opens now (before
 * restriction takes those rights away).
 */
struct net_backend *net_backend_new(struct kv_list *opts, GError **err);

/*
 * A NIC's MAC from its mac= property (xx:xx:xx:xx:xx:xx, unicast), or, with text NULL, the next
 * of QEMU's defaults 52:54:00:12:34:56, 57, ... counted across every NIC of the process, so that
 * two NICs of different models never get the same one.
 */
bool net_nic_mac(const char *text, uint8_t mac[6], GError **err);
void net_backend_free(struct net_backend *nb);
const char *net_backend_id(const struct net_backend *nb);
enum net_backend_kind net_backend_kind(const struct net_backend *nb);

/* One NIC per backend. False with err set when another NIC holds it. */
bool net_backend_attach(struct net_backend *nb, const struct net_client_ops *ops, void *opaque,
                        GError **err);
/* The NIC goes away: the backend stops reading, a kept frame is dropped. */
void net_backend_detach(struct net_backend *nb);

/* True when frames in both directions carry struct net_vnet_hdr (12 bytes). */
bool net_backend_has_vnet_hdr(const struct net_backend *nb);
/* The offloads the guest accepts on receive (NET_OFFLOAD_*); a no-op without a vnet header. */
void net_backend_set_offloads(struct net_backend *nb, unsigned offloads);

/*
 * Sends one frame gathered from iov (with the vnet header first when the backend has one).
 * Returns false when it was dropped (queue full, no peer, too large).
 */
bool net_backend_send(struct net_backend *nb, const struct iovec *iov, unsigned iovcnt);
/* The NIC has room again: deliver a kept frame, read again. */
void net_backend_rx_resume(struct net_backend *nb);

const struct net_stats *net_backend_stats(const struct net_backend *nb);

#endif
