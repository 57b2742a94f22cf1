/*
 * The network backends (net/): socket streams with QEMU's framing (fd=, listen=/connect=),
 * UDP pairs, flow control toward the NIC, the bounded send queue, refusals of bad -netdev
 * keys, and the tap when /dev/net/tun is usable here.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/net-pair.h"
#include "xendm/keyval.h"
#include "xendm/net.h"

/* The NIC side: records frames, refuses them while `refuse` is set. */
struct fake_nic {
    GPtrArray *frames; /* GBytes * */
    bool refuse;       /* receive() returns false */
    bool closed;       /* can_receive() returns false */
    unsigned refusals;
};

static bool nic_can_receive(void *opaque)
{
    struct fake_nic *nic = opaque;

    return !nic->closed;
}

static bool nic_receive(void *opaque, const uint8_t *frame, size_t len)
{
    struct fake_nic *nic = opaque;

    if (nic->refuse) {
        nic->refusals++;
        return false;
    }
    g_ptr_array_add(nic->frames, g_bytes_new(frame, len));
    return true;
}

static const struct net_client_ops nic_ops = {
    .can_receive = nic_can_receive,
    .receive = nic_receive,
};

static void nic_init(struct fake_nic *nic)
{
    memset(nic, 0, sizeof(*nic));
    nic->frames = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
}

/* Runs the loop until the NIC holds `want` frames or two seconds pass. */
static bool wait_frames(struct fake_nic *nic, unsigned want)
{
    gint64 end = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;

    while (nic->frames->len < want && g_get_monotonic_time() < end) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(200);
    }
    return nic->frames->len >= want;
}

/* Runs the loop for a while (nothing is expected to happen). */
static void spin(unsigned ms)
{
    gint64 end = g_get_monotonic_time() + ms * 1000;

    while (g_get_monotonic_time() < end) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(200);
    }
}

static struct net_backend *backend_new_ok(const char *spec)
{
    GError *err = NULL;
    struct kv_list *kv = kv_parse(spec, "type", &err);
    struct net_backend *nb;

    g_assert_no_error(err);
    nb = net_backend_new(kv, &err);
    g_assert_no_error(err);
    g_assert_nonnull(nb);
    kv_free(kv);
    return nb;
}

/* An error message containing `expect`. */
static void backend_refused(const char *spec, const char *expect)
{
    GError *err = NULL;
    struct kv_list *kv = kv_parse(spec, "type", &err);

    g_assert_no_error(err);
    g_assert_null(net_backend_new(kv, &err));
    g_assert_nonnull(err);
    if (strstr(err->message, expect) == NULL) {
        g_test_message("'%s': '%s' lacks '%s'", spec, err->message, expect);
        g_assert_not_reached();
    }
    g_error_free(err);
    kv_free(kv);
}

/* A socket-stream backend on one end of a socketpair; the test holds *peer. */
static struct net_backend *stream_pair(int *peer)
{
    int sv[2];
    char spec[64];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    snprintf(spec, sizeof(spec), "socket,id=s0,fd=%d", sv[0]);
    *peer = sv[1];
    return backend_new_ok(spec);
}

static void fill_pattern(uint8_t *buf, size_t len, uint8_t seed)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)(seed + i * 7);
    }
}

static void assert_frame(struct fake_nic *nic, unsigned i, const uint8_t *want, size_t len)
{
    GBytes *got = g_ptr_array_index(nic->frames, i);
    size_t got_len;
    const uint8_t *data = g_bytes_get_data(got, &got_len);

    g_assert_cmpuint(got_len, ==, len);
    g_assert_cmpmem(data, got_len, want, len);
}

/* ---- tests ---- */

static void test_stream_send(void)
{
    int peer;
    struct net_backend *nb = stream_pair(&peer);
    uint8_t frame[1514];
    uint8_t half1[100];
    struct iovec iov[2] = {{half1, sizeof(half1)}, {frame + 100, sizeof(frame) - 100}};
    uint8_t *got;
    size_t got_len;

    fill_pattern(frame, sizeof(frame), 3);
    memcpy(half1, frame, sizeof(half1));
    g_assert_cmpint(net_backend_kind(nb), ==, NET_BACKEND_SOCKET_STREAM);
    g_assert_false(net_backend_has_vnet_hdr(nb));
    /* A gathered frame goes out as one length-prefixed record, byte-exact. */
    g_assert_true(net_backend_send(nb, iov, 2));
    got = netpair_read_frame(peer, &got_len);
    g_assert_cmpmem(got, got_len, frame, sizeof(frame));
    g_free(got);
    g_assert_cmpuint(net_backend_stats(nb)->tx_frames, ==, 1);
    /* Empty and oversized frames are dropped, not sent. */
    iov[0].iov_len = 0;
    g_assert_false(net_backend_send(nb, iov, 1));
    g_assert_cmpuint(net_backend_stats(nb)->tx_dropped, ==, 1);
    net_backend_free(nb);
    close(peer);
}

static void test_stream_receive_framing(void)
{
    struct fake_nic nic;
    int peer;
    struct net_backend *nb = stream_pair(&peer);
    uint8_t a[60], b[1500];
    uint32_t be = GUINT32_TO_BE(sizeof(b));

    nic_init(&nic);
    g_assert_true(net_backend_attach(nb, &nic_ops, &nic, NULL));
    fill_pattern(a, sizeof(a), 1);
    fill_pattern(b, sizeof(b), 9);
    netpair_write_frame(peer, a, sizeof(a));
    g_assert_true(wait_frames(&nic, 1));
    assert_frame(&nic, 0, a, sizeof(a));
    /* The length a byte at a time, the body in two pieces: still one frame. */
    for (unsigned i = 0; i < 4; i++) {
        netpair_write_all(peer, (uint8_t *)&be + i, 1);
        spin(5);
    }
    netpair_write_all(peer, b, 700);
    spin(5);
    g_assert_cmpuint(nic.frames->len, ==, 1);
    netpair_write_all(peer, b + 700, sizeof(b) - 700);
    g_assert_true(wait_frames(&nic, 2));
    assert_frame(&nic, 1, b, sizeof(b));
    g_assert_cmpuint(net_backend_stats(nb)->rx_frames, ==, 2);
    net_backend_free(nb);
    close(peer);
    g_ptr_array_free(nic.frames, TRUE);
}

/* A length of 0 or over the maximum breaks the framing: the peer is dropped. */
static void test_stream_bad_length(void)
{
    struct fake_nic nic;
    uint32_t lengths[] = {0, NET_FRAME_MAX + 1, 0xffffffffu};

    for (unsigned i = 0; i < G_N_ELEMENTS(lengths); i++) {
        int peer;
        struct net_backend *nb = stream_pair(&peer);
        uint32_t be = GUINT32_TO_BE(lengths[i]);
        uint8_t byte;

        nic_init(&nic);
        g_assert_true(net_backend_attach(nb, &nic_ops, &nic, NULL));
        netpair_write_all(peer, &be, 4);
        netpair_write_all(peer, "xxxxxxxx", 8);
        spin(50);
        g_assert_cmpuint(nic.frames->len, ==, 0);
        g_assert_cmpuint(net_backend_stats(nb)->rx_errors, ==, 1);
        /* The backend closed its end: end-of-file, or a reset for the bytes it left unread. */
        g_assert_cmpint(read(peer, &byte, 1), <=, 0);
        /* Sending to a gone peer drops, quietly. */
        g_assert_false(net_backend_send(nb, &(struct iovec){&byte, 1}, 1));
        net_backend_free(nb);
        close(peer);
        g_ptr_array_free(nic.frames, TRUE);
    }
}

/* receive() refusing keeps the frame in the backend, which stops reading until resumed. */
static void test_flow_control_refuse(void)
{
    struct fake_nic nic;
    int peer;
    struct net_backend *nb = stream_pair(&peer);
    uint8_t f[3][100];

    nic_init(&nic);
    g_assert_true(net_backend_attach(nb, &nic_ops, &nic, NULL));
    nic.refuse = true;
    for (unsigned i = 0; i < 3; i++) {
        fill_pattern(f[i], sizeof(f[i]), (uint8_t)(i * 40));
        netpair_write_frame(peer, f[i], sizeof(f[i]));
    }
    spin(100);
    /* One attempt, then silence: no busy loop over the kept frame, no frame lost. */
    g_assert_cmpuint(nic.refusals, ==, 1);
    g_assert_cmpuint(nic.frames->len, ==, 0);
    /* Still no room: resume tries the kept frame once more and stops again. */
    net_backend_rx_resume(nb);
    g_assert_cmpuint(nic.refusals, ==, 2);
    spin(50);
    g_assert_cmpuint(nic.refusals, ==, 2);
    nic.refuse = false;
    net_backend_rx_resume(nb);
    g_assert_true(wait_frames(&nic, 3));
    for (unsigned i = 0; i < 3; i++) {
        assert_frame(&nic, i, f[i], sizeof(f[i]));
    }
    net_backend_free(nb);
    close(peer);
    g_ptr_array_free(nic.frames, TRUE);
}

/* can_receive() false: nothing is read at all until resumed. */
static void test_flow_control_closed(void)
{
    struct fake_nic nic;
    int peer;
    struct net_backend *nb = stream_pair(&peer);
    uint8_t f[64];

    nic_init(&nic);
    nic.closed = true;
    g_assert_true(net_backend_attach(nb, &nic_ops, &nic, NULL));
    fill_pattern(f, sizeof(f), 5);
    netpair_write_frame(peer, f, sizeof(f));
    spin(50);
    g_assert_cmpuint(nic.frames->len, ==, 0);
    nic.closed = false;
    net_backend_rx_resume(nb);
    g_assert_true(wait_frames(&nic, 1));
    assert_frame(&nic, 0, f, sizeof(f));
    /* Detached: frames stay in the socket, nothing is delivered, nothing crashes. */
    net_backend_detach(nb);
    netpair_write_frame(peer, f, sizeof(f));
    spin(30);
    g_assert_cmpuint(nic.frames->len, ==, 1);
    net_backend_free(nb);
    close(peer);
    g_ptr_array_free(nic.frames, TRUE);
}

/* The peer does not read: frames queue up to the bound, then drop; nothing blocks. */
static void test_send_queue_bounded(void)
{
    int peer;
    struct net_backend *nb = stream_pair(&peer);
    uint8_t frame[1500];
    struct iovec iov = {frame, sizeof(frame)};
    unsigned accepted = 0, tries = 0;
    gint64 start = g_get_monotonic_time();
    uint64_t bytes = 0;

    fill_pattern(frame, sizeof(frame), 77);
    while (net_backend_send(nb, &iov, 1) && tries < 100000) {
        accepted++;
        tries++;
    }
    g_assert_cmpuint(net_backend_stats(nb)->tx_dropped, ==, 1);
    g_assert_cmpuint(tries, <, 100000);
    /* It never waited for the peer. */
    g_assert_cmpint(g_get_monotonic_time() - start, <, 2 * G_USEC_PER_SEC);
    /* The peer drains: every accepted frame arrives whole, in order. */
    g_assert_cmpint(fcntl(peer, F_SETFL, O_NONBLOCK), ==, 0);
    for (gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
         bytes < (uint64_t)accepted * (4 + sizeof(frame)) && g_get_monotonic_time() < end;) {
        uint8_t buf[65536];
        ssize_t n = read(peer, buf, sizeof(buf));

        if (n > 0) {
            bytes += (uint64_t)n;
        }
        g_main_context_iteration(NULL, FALSE);
    }
    g_assert_cmpuint(bytes, ==, (uint64_t)accepted * (4 + sizeof(frame)));
    g_assert_cmpuint(net_backend_stats(nb)->tx_frames, ==, accepted);
    net_backend_free(nb);
    close(peer);
}

static uint16_t free_port(int type)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, type, 0);

    g_assert_cmpint(bind(fd, (struct sockaddr *)&a, sizeof(a)), ==, 0);
    g_assert_cmpint(getsockname(fd, (struct sockaddr *)&a, &len), ==, 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Two backends wired to each other: what one sends the other receives. */
static void exchange(struct net_backend *a, struct net_backend *b)
{
    struct fake_nic nic_a, nic_b;
    uint8_t fa[200], fb[1400];

    nic_init(&nic_a);
    nic_init(&nic_b);
    g_assert_true(net_backend_attach(a, &nic_ops, &nic_a, NULL));
    g_assert_true(net_backend_attach(b, &nic_ops, &nic_b, NULL));
    /* Only one NIC per backend. */
    g_assert_false(net_backend_attach(b, &nic_ops, &nic_a, NULL));
    spin(20); /* a listening backend accepts */
    fill_pattern(fa, sizeof(fa), 11);
    fill_pattern(fb, sizeof(fb), 22);
    g_assert_true(net_backend_send(a, &(struct iovec){fa, sizeof(fa)}, 1));
    g_assert_true(net_backend_send(b, &(struct iovec){fb, sizeof(fb)}, 1));
    g_assert_true(wait_frames(&nic_b, 1));
    g_assert_true(wait_frames(&nic_a, 1));
    assert_frame(&nic_b, 0, fa, sizeof(fa));
    assert_frame(&nic_a, 0, fb, sizeof(fb));
    net_backend_free(a);
    net_backend_free(b);
    g_ptr_array_free(nic_a.frames, TRUE);
    g_ptr_array_free(nic_b.frames, TRUE);
}

static void test_listen_connect_pair(void)
{
    uint16_t port = free_port(SOCK_STREAM);
    g_autofree char *l = g_strdup_printf("socket,id=l,listen=127.0.0.1:%u", port);
    g_autofree char *c = g_strdup_printf("socket,id=c,connect=127.0.0.1:%u", port);
    struct net_backend *a = backend_new_ok(l);
    struct net_backend *b = backend_new_ok(c);

    exchange(a, b);
}

static void test_udp_pair(void)
{
    uint16_t pa = free_port(SOCK_DGRAM), pb = free_port(SOCK_DGRAM);
    g_autofree char *sa =
        g_strdup_printf("socket,id=a,udp=127.0.0.1:%u,localaddr=127.0.0.1:%u", pb, pa);
    g_autofree char *sb =
        g_strdup_printf("type=socket,id=b,udp=127.0.0.1:%u,localaddr=127.0.0.1:%u", pa, pb);
    struct net_backend *a = backend_new_ok(sa);
    struct net_backend *b = backend_new_ok(sb);

    g_assert_cmpint(net_backend_kind(a), ==, NET_BACKEND_SOCKET_DGRAM);
    exchange(a, b);
}

static void test_refusals(void)
{
    int fd = open("/dev/null", O_RDONLY);
    g_autofree char *notsock = g_strdup_printf("socket,id=x,fd=%d", fd);

    backend_refused("user,id=u0", "not supported");
    backend_refused("socket,connect=127.0.0.1:1", "id= is required");
    backend_refused("socket,id=s,listen=127.0.0.1:0,bogus=1", "'bogus'");
    backend_refused("socket,id=s", "exactly one of");
    backend_refused("socket,id=s,listen=127.0.0.1:0,connect=127.0.0.1:1", "exactly one of");
    backend_refused("socket,id=s,listen=127.0.0.1:0,localaddr=127.0.0.1:0", "udp= only");
    backend_refused("socket,id=s,udp=127.0.0.1:9", "localaddr");
    backend_refused("socket,id=s,listen=nohost", "HOST:PORT");
    backend_refused("socket,id=s,connect=127.0.0.1:notaport", "connect=");
    backend_refused(notsock, "not a stream or datagram socket");
    backend_refused("socket,id=s,fd=99999", "not a stream");
    backend_refused("tap,id=t,ifname=vif1.0-emu,script=/etc/qemu-ifup", "runs no scripts");
    backend_refused("tap,id=t,ifname=vif1.0-emu,downscript=/bin/true", "runs no scripts");
    backend_refused("tap,id=t", "ifname= or fd=");
    backend_refused("tap,id=t,ifname=vif1.0-emu,fd=3", "ifname= or fd=");
    backend_refused("tap,id=t,ifname=an-interface-name-too-long", "longer than");
    backend_refused("tap,id=t,fd=0", "not a tap");
    backend_refused("tap,id=t,ifname=vif1.0-emu,vnet_hdr=maybe", "vnet_hdr");
    close(fd);
}

/* The tap libxl asks for, when this host lets us create one. */
static void test_tap(void)
{
    GError *err = NULL;
    struct kv_list *kv = kv_parse("type=tap,id=net0,ifname=xdmtest0-emu,br=xenbr0,script=no,"
                                  "downscript=no", "type", &err);
    struct net_backend *nb;
    uint8_t frame[NET_VNET_HDR_LEN + 60];

    g_assert_no_error(err);
    nb = net_backend_new(kv, &err);
    kv_free(kv);
    if (nb == NULL) {
        g_test_skip(err->message); /* no /dev/net/tun or no CAP_NET_ADMIN here */
        g_error_free(err);
        return;
    }
    g_assert_cmpint(net_backend_kind(nb), ==, NET_BACKEND_TAP);
    /* Linux has offered IFF_VNET_HDR since 2.6.27. */
    g_assert_true(net_backend_has_vnet_hdr(nb));
    net_backend_set_offloads(nb, NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4 | NET_OFFLOAD_TSO6);
    net_backend_set_offloads(nb, 0);
    /* A frame sent to a tap whose link is down is dropped by the kernel, never blocking. */
    memset(frame, 0, sizeof(frame));
    net_backend_send(nb, &(struct iovec){frame, sizeof(frame)}, 1);
    net_backend_free(nb);
}

/* Broadcast: what any interface takes in. */
static const uint8_t broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* Frames through a real tap with its vnet header, both ways, seen on the interface. */
static void test_tap_wire(void)
{
    GError *err = NULL;
    struct kv_list *kv = kv_parse("tap,id=t1,ifname=xdmtest1-emu,script=no,downscript=no",
                                  "type", &err);
    struct net_backend *nb;
    struct fake_nic nic;
    uint8_t hdr[NET_VNET_HDR_LEN] = {0}, frame[100], got[2048];
    struct iovec iov[2] = {{hdr, sizeof(hdr)}, {frame, sizeof(frame)}};
    int pkt;
    ssize_t n;
    bool seen = false;

    nb = net_backend_new(kv, &err);
    kv_free(kv);
    if (nb == NULL) {
        g_test_skip(err->message);
        g_error_free(err);
        return;
    }
    pkt = netpair_tap_wire("xdmtest1-emu");
    g_assert_cmpint(pkt, >=, 0);
    nic_init(&nic);
    g_assert_true(net_backend_attach(nb, &nic_ops, &nic, NULL));
    /* Guest to wire: the vnet header is the kernel's, the frame appears on the interface. */
    netpair_wire_frame(frame, sizeof(frame), broadcast, 0x21);
    g_assert_true(net_backend_send(nb, iov, 2));
    n = netpair_wire_read(pkt, got, sizeof(got), 5000);
    g_assert_cmpint(n, ==, (ssize_t)sizeof(frame));
    g_assert_cmpmem(got, (size_t)n, frame, sizeof(frame));
    /* Wire to guest: the NIC gets a 12-byte header (no offload asked) and the frame. */
    netpair_wire_frame(frame, sizeof(frame), broadcast, 0x43);
    g_assert_cmpint(write(pkt, frame, sizeof(frame)), ==, (ssize_t)sizeof(frame));
    for (gint64 end = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;
         !seen && g_get_monotonic_time() < end;) {
        g_main_context_iteration(NULL, FALSE);
        for (guint i = 0; i < nic.frames->len && !seen; i++) {
            size_t len;
            const uint8_t *data = g_bytes_get_data(g_ptr_array_index(nic.frames, i), &len);

            if (len == NET_VNET_HDR_LEN + sizeof(frame) && data[NET_VNET_HDR_LEN + 12] == 0x88) {
                g_assert_cmpmem(data, NET_VNET_HDR_LEN, hdr, NET_VNET_HDR_LEN);
                g_assert_cmpmem(data + NET_VNET_HDR_LEN, sizeof(frame), frame, sizeof(frame));
                seen = true;
            }
        }
        g_usleep(500);
    }
    g_assert_true(seen);
    close(pkt);
    net_backend_free(nb);
    g_ptr_array_free(nic.frames, TRUE);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/net/stream-send", test_stream_send);
    g_test_add_func("/net/stream-receive-framing", test_stream_receive_framing);
    g_test_add_func("/net/stream-bad-length", test_stream_bad_length);
    g_test_add_func("/net/flow-control-refuse", test_flow_control_refuse);
    g_test_add_func("/net/flow-control-closed", test_flow_control_closed);
    g_test_add_func("/net/send-queue-bounded", test_send_queue_bounded);
    g_test_add_func("/net/listen-connect-pair", test_listen_connect_pair);
    g_test_add_func("/net/udp-pair", test_udp_pair);
    g_test_add_func("/net/refusals", test_refusals);
    g_test_add_func("/net/tap", test_tap);
    g_test_add_func("/net/tap-wire", test_tap_wire);
    return g_test_run();
}
