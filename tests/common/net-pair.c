/*
 * The far end of a network backend, for tests (see net-pair.h).
 */
#include "net-pair.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- stream sockets ---- */

bool netpair_readable(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n;

    do {
        n = poll(&p, 1, timeout_ms);
    } while (n < 0 && errno == EINTR);
    return n == 1;
}

void netpair_read_exact(int fd, void *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n;

        g_assert_true(netpair_readable(fd, NETPAIR_WAIT_MS));
        n = read(fd, (uint8_t *)buf + got, len - got);
        g_assert_cmpint(n, >, 0);
        got += (size_t)n;
    }
}

void netpair_write_all(int fd, const void *buf, size_t len)
{
    /* A peer that went away fails the test here rather than killing it with SIGPIPE. */
    g_assert_cmpint(send(fd, buf, len, MSG_NOSIGNAL), ==, (ssize_t)len);
}

void netpair_assert_quiet(int fd, int ms)
{
    g_assert_false(netpair_readable(fd, ms));
}

uint8_t *netpair_read_frame(int fd, size_t *len)
{
    uint32_t be;
    uint8_t *frame;

    netpair_read_exact(fd, &be, 4);
    *len = GUINT32_FROM_BE(be);
    g_assert_cmpuint(*len, <=, NETPAIR_FRAME_MAX);
    frame = g_malloc(*len ? *len : 1);
    netpair_read_exact(fd, frame, *len);
    return frame;
}

void netpair_write_frame(int fd, const void *frame, uint32_t len)
{
    uint32_t be = GUINT32_TO_BE(len);

    netpair_write_all(fd, &be, 4);
    netpair_write_all(fd, frame, len);
}

bool netpair_try_write_frame(int fd, const void *frame, uint32_t len)
{
    uint32_t be = GUINT32_TO_BE(len);

    return send(fd, &be, 4, MSG_NOSIGNAL) == 4 &&
           send(fd, frame, len, MSG_NOSIGNAL) == (ssize_t)len;
}

int netpair_listen_local(uint16_t *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&a, sizeof(a)), ==, 0);
    g_assert_cmpint(listen(fd, 1), ==, 0);
    g_assert_cmpint(getsockname(fd, (struct sockaddr *)&a, &len), ==, 0);
    *port = ntohs(a.sin_port);
    return fd;
}

int netpair_accept(int listen_fd, int timeout_ms)
{
    int fd;

    g_assert_true(netpair_readable(listen_fd, timeout_ms));
    fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    g_assert_cmpint(fd, >=, 0);
    return fd;
}

/* ---- checksums ---- */

uint32_t netpair_ones_sum(uint32_t sum, const void *p, size_t len)
{
    const uint8_t *b = p;

    for (size_t i = 0; i + 1 < len; i += 2) {
        sum += (uint32_t)(b[i] << 8 | b[i + 1]);
    }
    if (len & 1) {
        sum += (uint32_t)b[len - 1] << 8;
    }
    return sum;
}

uint16_t netpair_ones_fold(uint32_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t)sum;
}

/* ---- a tap's wire ---- */

void netpair_wire_frame(uint8_t *frame, size_t len, const uint8_t dst[6], uint8_t seed)
{
    /* A locally administered unicast source (IEEE 802 §8.2: bit 1 of the first octet). */
    static const uint8_t src[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};

    g_assert_cmpuint(len, >=, 14);
    for (size_t i = 14; i < len; i++) {
        frame[i] = (uint8_t)(seed ^ (i * 13));
    }
    memcpy(frame, dst, 6);
    memcpy(frame + 6, src, 6);
    frame[12] = NETPAIR_ETHERTYPE >> 8;
    frame[13] = NETPAIR_ETHERTYPE & 0xff;
}

int netpair_tap_wire(const char *ifname)
{
    g_autofree char *v6 = g_strdup_printf("/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
    struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
    struct ifreq ifr;
    int ctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int pkt;

    g_assert_cmpint(ctl, >=, 0);
    memset(&ifr, 0, sizeof(ifr));
    g_strlcpy(ifr.ifr_name, ifname, sizeof(ifr.ifr_name));
    if (ioctl(ctl, SIOCGIFFLAGS, &ifr) < 0) {
        close(ctl);
        return -1;
    }
    /* Best effort: a host without IPv6 has no such file, and no chatter either. */
    g_file_set_contents(v6, "1", 1, NULL);
    ifr.ifr_flags |= IFF_UP;
    g_assert_cmpint(ioctl(ctl, SIOCSIFFLAGS, &ifr), ==, 0);
    close(ctl);
    pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    g_assert_cmpint(pkt, >=, 0);
    ll.sll_ifindex = (int)if_nametoindex(ifname);
    g_assert_cmpint(bind(pkt, (struct sockaddr *)&ll, sizeof(ll)), ==, 0);
    return pkt;
}

ssize_t netpair_wire_read(int pkt, uint8_t *buf, size_t len, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    for (;;) {
        gint64 left_ms = (deadline - g_get_monotonic_time()) / 1000;
        ssize_t n;

        if (left_ms <= 0 || !netpair_readable(pkt, (int)left_ms)) {
            return -1;
        }
        n = read(pkt, buf, len);
        if (n >= 14 && buf[12] == NETPAIR_ETHERTYPE >> 8 && buf[13] == (NETPAIR_ETHERTYPE & 0xff)) {
            return n;
        }
    }
}
