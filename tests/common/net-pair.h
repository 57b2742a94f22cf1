/*
 * The far end of a network backend, for tests: the unit tests of net/ hold it directly, the
 * NIC qtests hold the other end of the device model's -netdev socket or tap (and the
 * virtio-serial qtest its chardevs' sockets). Stream sockets with QEMU's framing (a 32-bit
 * big-endian length, then the frame), a loopback listener the device model connects to, and a
 * tap's wire seen through a packet socket.
 *
 * Every read waits a bounded time (NETPAIR_WAIT_MS unless a timeout is given), and every
 * failure fails the test: a device model that stops sending makes a test fail, never hang.
 */
#ifndef TESTS_COMMON_NET_PAIR_H
#define TESTS_COMMON_NET_PAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* How long one read waits for the peer's next bytes. */
#define NETPAIR_WAIT_MS 3000
/* The largest frame a reader accepts: 64 KiB of GSO payload and headers, with room. */
#define NETPAIR_FRAME_MAX 70000u
/* IEEE 802 local experimental EtherType 1: nothing else on a fresh tap sends it. */
#define NETPAIR_ETHERTYPE 0x88b5

/* ---- stream sockets ---- */

/* True when fd has something to read (or end-of-file) within timeout_ms. */
bool netpair_readable(int fd, int timeout_ms);
/* Reads exactly len bytes, each wait at most NETPAIR_WAIT_MS. */
void netpair_read_exact(int fd, void *buf, size_t len);
/* Writes all of buf to a socket in one send. */
void netpair_write_all(int fd, const void *buf, size_t len);
/* Nothing arrives on fd within ms milliseconds. */
void netpair_assert_quiet(int fd, int ms);

/* QEMU's stream framing: one frame (g_free it; *len its length), or one written. */
uint8_t *netpair_read_frame(int fd, size_t *len);
void netpair_write_frame(int fd, const void *frame, uint32_t len);
/* Writes one frame to a peer that may be gone: false (never SIGPIPE) when it is. */
bool netpair_try_write_frame(int fd, const void *frame, uint32_t len);

/* A TCP listener on 127.0.0.1 at a free port (*port), and the one connection it accepts. */
int netpair_listen_local(uint16_t *port);
int netpair_accept(int listen_fd, int timeout_ms);

/* ---- checksums, for verifying what a NIC computed (RFC 1071) ---- */

/* Adds the big-endian 16-bit words of p to sum; an odd last byte counts as its high half. */
uint32_t netpair_ones_sum(uint32_t sum, const void *p, size_t len);
/* Folds a ones' complement sum to 16 bits: 0xffff over a range whose checksum verifies. */
uint16_t netpair_ones_fold(uint32_t sum);

/* ---- a tap's wire ---- */

/*
 * An Ethernet frame of `len` bytes (at least 14) to `dst` from a locally administered
 * address, of NETPAIR_ETHERTYPE, its payload a pattern drawn from `seed`.
 */
void netpair_wire_frame(uint8_t *frame, size_t len, const uint8_t dst[6], uint8_t seed);
/*
 * Brings interface `ifname` up with IPv6 off (no router solicitations on the wire) and
 * returns a packet socket bound to it, or -1 when there is no such interface.
 */
int netpair_tap_wire(const char *ifname);
/*
 * The next frame of NETPAIR_ETHERTYPE the packet socket sees within timeout_ms (others are
 * passed over): its length, or -1 if none came.
 */
ssize_t netpair_wire_read(int pkt, uint8_t *buf, size_t len, int timeout_ms);

#endif
