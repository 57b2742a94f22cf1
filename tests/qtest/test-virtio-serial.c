/*
 * virtio-serial-pci with a virtconsole and a named virtserialport through xensim, as Linux's
 * virtio_console driver programs them (virtio 1.2 §5.3): the multiport handshake on the
 * control queues, a line the guest writes on port 0 arriving on the chardev's socket (whose
 * client end the test holds), bytes written to that socket arriving in a posted receive buffer
 * with an interrupt (MSI-X or INTx), flow control in both directions, PORT_OPEN following the
 * socket's connection, hostile control messages and rings, reset, emergency write, and a save
 * and restore into a new device model.
 *
 * The same program runs against Debian's qemu-xen (suite qtest-qemu-xen); what only xendm
 * does (MSI-X under Xen, save/restore here, its rate-limited diagnostics) is skipped there.
 */
#include "../common/net-pair.h"
#include "qtest-pci.h"
#include "qtest-virtio.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CMD(...) g_free(qtest_cmd_ok(__VA_ARGS__))

#define SLOT 6
#define DEVFN QPCI_DEVFN(SLOT, 0)

#define REG_VENDOR 0x00
#define REG_SUBSYSTEM 0x2c
#define MEM_WINDOW UINT64_C(0xe0000000)
#define IO_WINDOW 0xc000u

#define ST_RUNNING (QVIRTIO_ST_ACK | QVIRTIO_ST_DRIVER | QVIRTIO_ST_FEATURES_OK | \
                    QVIRTIO_ST_DRIVER_OK)

/* §5.3.3 feature bits */
#define F_SIZE (1u << 0)
#define F_MULTIPORT (1u << 1)
#define F_EMERG_WRITE (1u << 2)

/* §5.3.6.2 control events */
#define DEVICE_READY 0
#define DEVICE_ADD 1
#define PORT_READY 3
#define CONSOLE_PORT 4
#define PORT_OPEN 6
#define PORT_NAME 7

/* Queues: port 0 rx/tx, control rx/tx, port 1 rx/tx. */
#define Q_P0_RX 0
#define Q_P0_TX 1
#define Q_CTRL_RX 2
#define Q_CTRL_TX 3
#define Q_P1_RX 4
#define Q_P1_TX 5
#define NQUEUES 6
#define MAX_PORTS 4

/* Guest memory (xensim gives 64 MiB): rings, 4 KiB buffers per queue, 64 KiB buffers. */
#define RING_BASE UINT64_C(0x100000)
#define RING_STRIDE UINT64_C(0x4000)
#define BUF_BASE UINT64_C(0x400000)
#define BUF_STRIDE UINT64_C(0x40000)
#define BUF_SLOTS 64u
#define BIG_BASE UINT64_C(0x1000000)
#define BIG_LEN 0x10000u

/* How long the device may take to use a buffer (qemu-xen's chardevs are slower). */
#define USED_TIMEOUT_MS 3000u

#define PORT_NAME_TEXT "org.example.port"

/* The function and the driver's queues. */
struct vdev {
    struct qtest *qt;
    struct qvirtio *v;
    struct qvirtqueue q[NQUEUES];
};

struct machine {
    struct qtest *qt;
    struct vdev *d;
    char *sock[2];   /* the chardevs' socket paths: port 0 (console), port 1 (named) */
    int client[2];   /* the test's client ends, or -1 */
    char *log_path;
};

/* ---- the function ---- */

/*
 * Vector 0 for configuration changes (0x40), vector 1 for every queue (0x41). False where
 * the function has no MSI-X, which xendm's always has.
 */
static bool msix_enable(struct vdev *d)
{
    if (!qvirtio_msix_enable(d->v, 0, 0x40)) {
        g_assert_false(qtest_dm_is_xendm());
        return false;
    }
    g_assert_true(qvirtio_msix_enable(d->v, 1, 0x41));
    return true;
}

/* ---- the driver's queues ---- */

static void queue_setup(struct vdev *d, unsigned i, uint16_t vector)
{
    struct qvirtqueue *q = &d->q[i];

    qvirtqueue_setup(d->v, q, i, RING_BASE + i * RING_STRIDE, 0, vector);
    g_assert_cmpuint(q->size, >=, 16);
    /* The rings must stay within the queue's stride. */
    g_assert_cmpuint(q->used + 6 + 8u * q->size - q->desc, <=, RING_STRIDE);
}

/* §3.1.1: reset, features (VERSION_1 and features_lo), the six queues, DRIVER_OK. */
static void driver_init(struct vdev *d, uint32_t features_lo)
{
    uint16_t qvec = d->v->msix ? 1 : QVIRTIO_NO_VECTOR;
    uint16_t cvec = d->v->msix ? 0 : QVIRTIO_NO_VECTOR;

    g_assert_true(qvirtio_negotiate(d->v, features_lo, cvec));
    for (unsigned i = 0; i < ((features_lo & F_MULTIPORT) ? NQUEUES : 2u); i++) {
        queue_setup(d, i, qvec);
    }
    qvirtio_driver_ok(d->v);
}

static void kick(struct vdev *d, unsigned i)
{
    qvirtqueue_kick(&d->q[i]);
}

/* Posts one buffer (its own descriptor, head = slot in the available ring); returns the head. */
static uint16_t post(struct vdev *d, unsigned i, uint64_t gpa, uint32_t len, bool writable)
{
    struct qvirtqueue *q = &d->q[i];
    uint16_t head = q->avail_idx % q->size;

    qvirtqueue_set_desc(q, head, gpa, len, writable ? QVIRTQ_DESC_F_WRITE : 0, 0);
    qvirtqueue_add_avail(q, &head, 1);
    return head;
}

static uint64_t slot_gpa(unsigned i, uint16_t n)
{
    return BUF_BASE + i * BUF_STRIDE + (uint64_t)(n % BUF_SLOTS) * 0x1000;
}

/* A receive buffer of len bytes on queue i (zeroed first). */
static uint16_t post_in(struct vdev *d, unsigned i, uint32_t len)
{
    uint64_t gpa = slot_gpa(i, d->q[i].avail_idx);

    CMD(d->qt, "memset 0x%" PRIx64 " 0x1000 0", gpa);
    return post(d, i, gpa, len, true);
}

static uint16_t post_out(struct vdev *d, unsigned i, const void *data, uint32_t len)
{
    uint64_t gpa = slot_gpa(i, d->q[i].avail_idx);

    g_assert_cmpuint(len, <=, 0x1000);
    qtest_memwrite(d->qt, gpa, data, len);
    return post(d, i, gpa, len, false);
}

static uint16_t used_idx(struct vdev *d, unsigned i)
{
    return qvirtqueue_used_idx(&d->q[i]);
}

static bool wait_used(struct vdev *d, unsigned i, uint16_t want)
{
    return qvirtqueue_wait_used_reach(&d->q[i], want, USED_TIMEOUT_MS);
}

/* The next used element of queue i (the test consumes them in order). */
static void next_used(struct vdev *d, unsigned i, uint32_t *id, uint32_t *len)
{
    g_assert_true(qvirtqueue_pop_used(&d->q[i], id, len, USED_TIMEOUT_MS));
}

/* ---- the control queues ---- */

struct ctrl_msg {
    uint32_t id;
    uint16_t event, value;
    char name[64];
};

static void send_ctrl(struct vdev *d, uint32_t id, uint16_t event, uint16_t value)
{
    uint8_t msg[8];
    uint32_t head, len;

    memcpy(msg, &id, 4);
    memcpy(msg + 4, &event, 2);
    memcpy(msg + 6, &value, 2);
    post_out(d, Q_CTRL_TX, msg, sizeof(msg));
    kick(d, Q_CTRL_TX);
    next_used(d, Q_CTRL_TX, &head, &len);
}

static void post_ctrl_buffers(struct vdev *d, unsigned n)
{
    for (unsigned k = 0; k < n; k++) {
        post_in(d, Q_CTRL_RX, 0x1000);
    }
    kick(d, Q_CTRL_RX);
}

/* The next control message for the driver, within about 3 s; false if none came. */
static bool recv_ctrl(struct vdev *d, struct ctrl_msg *m)
{
    uint8_t raw[8 + sizeof(m->name)];
    uint32_t e[2];

    if (!qvirtqueue_pop_used(&d->q[Q_CTRL_RX], &e[0], &e[1], USED_TIMEOUT_MS)) {
        return false;
    }
    g_assert_cmpuint(e[1], >=, 8);
    g_assert_cmpuint(e[1], <, sizeof(raw));
    memset(raw, 0, sizeof(raw));
    qtest_memread(d->qt, slot_gpa(Q_CTRL_RX, (uint16_t)e[0]), raw, e[1]);
    memcpy(&m->id, raw, 4);
    memcpy(&m->event, raw + 4, 2);
    memcpy(&m->value, raw + 6, 2);
    memset(m->name, 0, sizeof(m->name));
    memcpy(m->name, raw + 8, e[1] - 8);
    g_test_message("control: port %u event %u value %u name '%s'", m->id, m->event, m->value,
                   m->name);
    post_ctrl_buffers(d, 1); /* as the driver does: a buffer back for each one used */
    return true;
}

static void expect_ctrl(struct vdev *d, uint32_t id, uint16_t event, uint16_t value)
{
    struct ctrl_msg m;

    g_assert_true(recv_ctrl(d, &m));
    g_assert_cmpuint(m.id, ==, id);
    g_assert_cmpuint(m.event, ==, event);
    g_assert_cmpuint(m.value, ==, value);
}

/* Nothing more on the control receiveq for a while. */
static void expect_no_ctrl(struct vdev *d)
{
    g_usleep(100000);
    g_assert_cmpuint(used_idx(d, Q_CTRL_RX), ==, d->q[Q_CTRL_RX].last_used);
}

/* ---- the sockets the test holds ---- */

static int sock_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpuint(strlen(path), <, sizeof(sa.sun_path));
    strcpy(sa.sun_path, path);
    for (unsigned n = 0; n < 500; n++) {
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            return fd;
        }
        g_usleep(10000);
    }
    g_error("connect %s: %s", path, g_strerror(errno));
}

/* ---- a machine with one console (port 0) and one named port (port 1) ---- */

static void machine_start(struct machine *mc, const char *extra)
{
    g_autofree char *dm = NULL;
    g_autofree char *xs = NULL;
    GError *err = NULL;

    memset(mc, 0, sizeof(*mc));
    mc->client[0] = mc->client[1] = -1;
    mc->sock[0] = qtest_tmp_path("console.sock");
    mc->sock[1] = qtest_tmp_path("port.sock");
    mc->log_path = qtest_tmp_path("dm.log");
    unlink(mc->sock[0]);
    unlink(mc->sock[1]);
    dm = g_strdup_printf("-chardev socket,id=vcon0,path=%s,server=on,wait=off "
                         "-chardev socket,id=vport1,path=%s,server=on,wait=off "
                         "-device virtio-serial-pci,id=virtio-serial0,addr=%u,max_ports=%u%s "
                         "-device virtconsole,chardev=vcon0,bus=virtio-serial0.0 "
                         "-device virtserialport,chardev=vport1,name=" PORT_NAME_TEXT,
                         mc->sock[0], mc->sock[1], SLOT, MAX_PORTS, extra ? extra : "");
    xs = g_strdup_printf("--serial null --dm-log %s", mc->log_path);
    mc->qt = qtest_try_start(xs, dm, &err);
    if (!mc->qt) {
        g_autofree char *text = NULL;

        g_file_get_contents(mc->log_path, &text, NULL, NULL);
        g_error("start failed: %s; the device model said: %s", err->message,
                text ? text : "(nothing)");
    }
    mc->d = g_new0(struct vdev, 1);
    mc->d->qt = mc->qt;
    mc->d->v = qvirtio_open(mc->qt, DEVFN, MEM_WINDOW, IO_WINDOW);
    /* The structures this driver uses (§4.1.4). */
    g_assert_cmpint(mc->d->v->common.off, >=, 0);
    g_assert_cmpint(mc->d->v->notify.off, >=, 0);
    g_assert_cmpint(mc->d->v->isr.off, >=, 0);
    g_assert_cmpint(mc->d->v->device.off, >=, 0);
}

static void machine_stop(struct machine *mc)
{
    for (unsigned i = 0; i < 2; i++) {
        if (mc->client[i] >= 0) {
            close(mc->client[i]);
        }
        unlink(mc->sock[i]);
        g_free(mc->sock[i]);
    }
    qvirtio_close(mc->d->v);
    g_assert_cmpint(qtest_quit(mc->qt), ==, 0);
    unlink(mc->log_path);
    g_free(mc->log_path);
    g_free(mc->d);
}

/*
 * The Linux driver's probe: MULTIPORT, control buffers, DEVICE_READY; the device announces
 * ports 0 and 1; PORT_READY for each is answered with CONSOLE_PORT and PORT_OPEN (port 0: a
 * console is always open, as in QEMU), PORT_NAME (port 1) and PORT_OPEN if its socket has a
 * peer (`connected[1]`).
 */
static void handshake(struct machine *mc, const bool connected[2])
{
    struct vdev *d = mc->d;
    struct ctrl_msg m;

    driver_init(d, F_MULTIPORT);
    post_ctrl_buffers(d, 8);
    send_ctrl(d, 0, DEVICE_READY, 1);
    expect_ctrl(d, 0, DEVICE_ADD, 1);
    expect_ctrl(d, 1, DEVICE_ADD, 1);
    expect_no_ctrl(d);
    send_ctrl(d, 0, PORT_READY, 1);
    expect_ctrl(d, 0, CONSOLE_PORT, 1);
    expect_ctrl(d, 0, PORT_OPEN, 1);
    send_ctrl(d, 1, PORT_READY, 1);
    g_assert_true(recv_ctrl(d, &m));
    g_assert_cmpuint(m.id, ==, 1);
    g_assert_cmpuint(m.event, ==, PORT_NAME);
    g_assert_cmpstr(m.name, ==, PORT_NAME_TEXT);
    if (connected[1]) {
        expect_ctrl(d, 1, PORT_OPEN, 1);
    }
    expect_no_ctrl(d);
}

/* The guest's reader opens port id. */
static void guest_open(struct machine *mc, unsigned id)
{
    send_ctrl(mc->d, id, PORT_OPEN, 1);
}

/* Only the console's socket has a peer. */
static const bool console_only[2] = {true, false};

/* The test's clients connect to the sockets `connected` names (those not connected yet). */
static void connect_peers(struct machine *mc, const bool connected[2])
{
    for (unsigned i = 0; i < 2; i++) {
        if (connected[i] && mc->client[i] < 0) {
            mc->client[i] = sock_connect(mc->sock[i]);
        }
    }
    g_usleep(50000); /* the chardevs notice their peers */
}

/* The peers connect, then the driver's probe (handshake). */
static void open_ports(struct machine *mc, const bool connected[2])
{
    connect_peers(mc, connected);
    handshake(mc, connected);
}

/*
 * The guest writes `text` on port `port`'s transmitq: the buffer comes back used and the
 * text arrives whole on the port's socket.
 */
static void expect_output(struct machine *mc, unsigned port, const char *text)
{
    unsigned q = port ? Q_P1_TX : Q_P0_TX;
    size_t n = strlen(text);
    g_autofree char *got = g_malloc0(n + 1);
    uint16_t head = post_out(mc->d, q, text, (uint32_t)n);
    uint32_t id, len;

    kick(mc->d, q);
    next_used(mc->d, q, &id, &len);
    g_assert_cmpuint(id, ==, head);
    netpair_read_exact(mc->client[port], got, n);
    g_assert_cmpstr(got, ==, text);
}

/* The next used receive buffer of port 0 holds exactly `text`; returns its head. */
static uint16_t expect_input(struct machine *mc, const char *text)
{
    g_autofree char *got = g_malloc0(strlen(text) + 1);
    uint32_t id, len;

    next_used(mc->d, Q_P0_RX, &id, &len);
    g_assert_cmpuint(len, ==, strlen(text));
    qtest_memread(mc->qt, slot_gpa(Q_P0_RX, (uint16_t)id), got, len);
    g_assert_cmpstr(got, ==, text);
    return (uint16_t)id;
}

/* ---- tests ---- */

static void test_identity(void)
{
    struct machine mc;
    struct vdev *d;
    uint32_t features;

    machine_start(&mc, NULL);
    d = mc.d;
    /* §4.1.2.1 transitional console: 1af4:1003, subsystem ID 3 */
    g_assert_cmphex(qpci_read(mc.qt, DEVFN, REG_VENDOR, 4), ==, 0x10031af4);
    g_assert_cmphex(qpci_read(mc.qt, DEVFN, REG_SUBSYSTEM, 4) >> 16, ==, 3);
    features = (uint32_t)qvirtio_device_features(d->v);
    g_assert_cmphex(features & F_MULTIPORT, ==, F_MULTIPORT);
    if (qtest_dm_is_xendm()) {
        g_assert_cmphex(features & (F_SIZE | F_EMERG_WRITE), ==, F_SIZE | F_EMERG_WRITE);
        g_assert_cmpuint(qvirtio_config_read(d->v, 0, 2), ==, 80);
        g_assert_cmpuint(qvirtio_config_read(d->v, 2, 2), ==, 25);
    }
    /* §5.3.4 max_nr_ports; §5.3.2: 2 + 2 * max_ports queues with MULTIPORT */
    g_assert_cmpuint(qvirtio_config_read(d->v, 4, 4), ==, MAX_PORTS);
    g_assert_cmpuint(qvirtio_cc_read(d->v, QVIRTIO_CC_NUM_QUEUES, 2), ==, 2 + 2 * MAX_PORTS);
    /* The configuration is read-only but for emerg_wr. */
    qvirtio_config_write(d->v, 4, 7, 4);
    g_assert_cmpuint(qvirtio_config_read(d->v, 4, 4), ==, MAX_PORTS);
    machine_stop(&mc);
}

static void test_handshake(void)
{
    const bool connected[2] = {true, false};
    struct machine mc;
    struct vdev *d;

    machine_start(&mc, NULL);
    d = mc.d;
    open_ports(&mc, connected);
    /*
     * The guest reads both ports (open, a buffer posted): xendm's socket chardev notices a
     * peer leaving when it reads, so a port nobody reads learns of it only when reading
     * resumes (chardev.c watches the socket only while the frontend has room).
     */
    for (unsigned id = 0; id < 2; id++) {
        guest_open(&mc, id);
        post_in(d, id == 0 ? Q_P0_RX : Q_P1_RX, 0x1000);
        kick(d, id == 0 ? Q_P0_RX : Q_P1_RX);
    }
    /* The named port's socket gets a peer, then loses it: PORT_OPEN 1, then 0. */
    mc.client[1] = sock_connect(mc.sock[1]);
    expect_ctrl(d, 1, PORT_OPEN, 1);
    close(mc.client[1]);
    mc.client[1] = -1;
    expect_ctrl(d, 1, PORT_OPEN, 0);
    /* A console stays open whoever comes and goes. */
    close(mc.client[0]);
    mc.client[0] = -1;
    mc.client[0] = sock_connect(mc.sock[0]);
    expect_no_ctrl(d);
    machine_stop(&mc);
}

/* A line the guest writes on port 0's transmitq arrives on the socket. */
static void test_guest_to_host(void)
{
    static const char line[] = "hello from the virtconsole\n";
    const bool connected[2] = {true, true};
    struct machine mc;
    char got[1];

    machine_start(&mc, NULL);
    open_ports(&mc, connected);
    guest_open(&mc, 0);
    expect_output(&mc, 0, line);
    /* The named port's data goes to its own socket only. */
    expect_output(&mc, 1, "port1");
    g_assert_cmpint(recv(mc.client[0], got, 1, MSG_DONTWAIT), <, 0);
    machine_stop(&mc);
}

/* Bytes written to the socket land in a posted receive buffer, with an interrupt. */
static void host_to_guest(bool want_msix)
{
    static const char text[] = "typed on the host";
    const bool connected[2] = {true, false};
    struct machine mc;
    uint16_t head;

    machine_start(&mc, NULL);
    if (want_msix && !msix_enable(mc.d)) {
        g_test_skip("this device model's virtio-serial-pci has no MSI-X");
        machine_stop(&mc);
        return;
    }
    open_ports(&mc, connected);
    guest_open(&mc, 0);
    head = post_in(mc.d, Q_P0_RX, 0x1000);
    kick(mc.d, Q_P0_RX);
    g_usleep(20000);
    if (!want_msix) {
        (void)qvirtio_isr_read(mc.d->v);
    }
    g_strfreev(qirq_events(mc.qt));
    netpair_write_all(mc.client[0], text, strlen(text));
    g_assert_cmpuint(expect_input(&mc, text), ==, head);
    if (want_msix) {
        qvirtio_expect_msi(mc.qt, 0x41, 1000);
    } else {
        g_assert_true(qvirtio_wait_intx(mc.d->v, 1, 1000));
        /* §4.1.4.5 the queue bit */
        g_assert_cmphex(qvirtio_isr_read(mc.d->v) & QVIRTIO_ISR_QUEUE, ==, QVIRTIO_ISR_QUEUE);
    }
    machine_stop(&mc);
}

static void test_host_to_guest_msix(void)
{
    host_to_guest(true);
}

static void test_host_to_guest_intx(void)
{
    host_to_guest(false);
}

/*
 * Without receive buffers, input waits in the socket: the device model does not swallow it
 * (the sender fills the socket and gets EAGAIN). Each buffer posted later takes the next
 * bytes, in order, nothing lost.
 */
static void test_flow_control_input(void)
{
    const bool connected[2] = {true, false};
    struct machine mc;
    uint8_t chunk[4096];
    size_t sent = 0, delivered = 0;
    uint32_t id, len;

    machine_start(&mc, NULL);
    open_ports(&mc, connected);
    guest_open(&mc, 0);
    /* Before the guest has buffers: everything stays in the socket. */
    for (unsigned n = 0; n < 4096; n++) {
        ssize_t r;

        for (size_t i = 0; i < sizeof(chunk); i++) {
            chunk[i] = (uint8_t)((sent + i) * 7 + ((sent + i) >> 8));
        }
        r = send(mc.client[0], chunk, sizeof(chunk), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r < 0) {
            g_assert_cmpint(errno, ==, EAGAIN);
            break;
        }
        sent += (size_t)r;
    }
    g_assert_cmpuint(sent, >, 0);
    g_assert_cmpuint(sent, <, (size_t)4096 * sizeof(chunk)); /* back-pressure reached us */
    g_usleep(50000);
    g_assert_cmpuint(used_idx(mc.d, Q_P0_RX), ==, 0);
    /* Small buffers, one at a time: the stream continues exactly. */
    for (unsigned k = 0; k < 8; k++) {
        uint8_t got[64];
        uint16_t head = post_in(mc.d, Q_P0_RX, sizeof(got));

        kick(mc.d, Q_P0_RX);
        next_used(mc.d, Q_P0_RX, &id, &len);
        g_assert_cmpuint(id, ==, head);
        g_assert_cmpuint(len, ==, sizeof(got));
        qtest_memread(mc.qt, slot_gpa(Q_P0_RX, head), got, len);
        for (size_t i = 0; i < len; i++) {
            size_t pos = delivered + i;

            g_assert_cmphex(got[i], ==, (uint8_t)(pos * 7 + (pos >> 8)));
        }
        delivered += len;
    }
    /* The guest closes the port: input stops even with a buffer posted. */
    send_ctrl(mc.d, 0, PORT_OPEN, 0);
    post_in(mc.d, Q_P0_RX, 64);
    kick(mc.d, Q_P0_RX);
    g_usleep(100000);
    g_assert_cmpuint(used_idx(mc.d, Q_P0_RX), ==, 8);
    /* Reopened: it flows again, from where it stopped. */
    guest_open(&mc, 0);
    kick(mc.d, Q_P0_RX);
    next_used(mc.d, Q_P0_RX, &id, &len);
    g_assert_cmpuint(len, ==, 64);
    {
        uint8_t b0;

        qtest_memread(mc.qt, slot_gpa(Q_P0_RX, (uint16_t)id), &b0, 1);
        g_assert_cmphex(b0, ==, (uint8_t)(delivered * 7 + (delivered >> 8)));
    }
    machine_stop(&mc);
}

/*
 * Guest output on a virtserialport to a peer that does not read: the device writes what the
 * socket takes and leaves the rest of the transmitq unconsumed; once the peer reads,
 * everything arrives, in order. A console instead never holds the guest (Linux's hvc path
 * spins until its buffer comes back): what its peer does not take is dropped.
 */
static void test_flow_control_output(void)
{
    const bool connected[2] = {true, true};
    const unsigned nbufs = 48; /* 3 MiB: more than a Unix socket buffers */
    struct machine mc;
    uint8_t *pattern = g_malloc(BIG_LEN);
    uint8_t *got = g_malloc(BIG_LEN);
    uint16_t stalled;

    machine_start(&mc, NULL);
    open_ports(&mc, connected);
    guest_open(&mc, 1);
    for (unsigned k = 0; k < nbufs; k++) {
        memset(pattern, 'A' + (int)k % 26, BIG_LEN);
        qtest_memwrite(mc.qt, BIG_BASE + (uint64_t)k * BIG_LEN, pattern, BIG_LEN);
        post(mc.d, Q_P1_TX, BIG_BASE + (uint64_t)k * BIG_LEN, BIG_LEN, false);
    }
    kick(mc.d, Q_P1_TX);
    g_usleep(200000);
    stalled = used_idx(mc.d, Q_P1_TX);
    g_assert_cmpuint(stalled, <, nbufs);
    g_usleep(100000);
    g_assert_cmpuint(used_idx(mc.d, Q_P1_TX), ==, stalled); /* waits, does not drop */
    for (unsigned k = 0; k < nbufs; k++) {
        netpair_read_exact(mc.client[1], got, BIG_LEN);
        memset(pattern, 'A' + (int)k % 26, BIG_LEN);
        g_assert_true(memcmp(got, pattern, BIG_LEN) == 0);
    }
    g_assert_true(wait_used(mc.d, Q_P1_TX, (uint16_t)nbufs));
    /* The console: all its buffers come back although the peer reads nothing. */
    guest_open(&mc, 0);
    for (unsigned k = 0; k < nbufs; k++) {
        post(mc.d, Q_P0_TX, BIG_BASE + (uint64_t)k * BIG_LEN, BIG_LEN, false);
    }
    kick(mc.d, Q_P0_TX);
    g_assert_true(wait_used(mc.d, Q_P0_TX, (uint16_t)nbufs));
    g_free(pattern);
    g_free(got);
    machine_stop(&mc);
}

/* Output with no peer is dropped, not held: the guest's writes complete. */
static void test_output_without_peer(void)
{
    const bool connected[2] = {false, false};
    struct machine mc;
    uint32_t id, len;

    machine_start(&mc, NULL);
    handshake(&mc, connected);
    guest_open(&mc, 1);
    for (unsigned k = 0; k < 4; k++) {
        post_out(mc.d, Q_P1_TX, "nobody listens", 14);
    }
    kick(mc.d, Q_P1_TX);
    for (unsigned k = 0; k < 4; k++) {
        next_used(mc.d, Q_P1_TX, &id, &len);
    }
    /* A peer that connects later gets only what is written after. */
    mc.client[1] = sock_connect(mc.sock[1]);
    expect_ctrl(mc.d, 1, PORT_OPEN, 1);
    expect_output(&mc, 1, "now");
    machine_stop(&mc);
}

static void assert_alive(struct machine *mc)
{
    char *status = qtest_dm_status(mc->qt);

    g_assert_cmpstr(status, ==, "running");
    g_free(status);
    g_assert_cmphex(qpci_read(mc->qt, DEVFN, REG_VENDOR, 2), ==, 0x1af4);
}

/* Control messages a driver must not send, or sends wrong: ignored; the device serves on. */
static void test_hostile_control(void)
{
    const bool connected[2] = {true, false};
    struct machine mc;
    struct vdev *d;
    uint8_t short_msg[4] = {0, 0, 0, 0};
    uint32_t id, len;
    unsigned lines;

    machine_start(&mc, NULL);
    d = mc.d;
    open_ports(&mc, connected);
    /* A short message, ports that do not exist, events only a device sends, unknown ones. */
    post_out(d, Q_CTRL_TX, short_msg, sizeof(short_msg));
    kick(d, Q_CTRL_TX);
    next_used(d, Q_CTRL_TX, &id, &len);
    for (unsigned k = 0; k < 200; k++) {
        send_ctrl(d, 1000 + k, PORT_READY, 1);
    }
    send_ctrl(d, 0xffffffff, PORT_OPEN, 1);
    send_ctrl(d, MAX_PORTS, PORT_READY, 1); /* within max_ports' range, no port there */
    send_ctrl(d, 2, PORT_OPEN, 1);
    send_ctrl(d, 0, DEVICE_ADD, 1);
    send_ctrl(d, 0, CONSOLE_PORT, 1);
    send_ctrl(d, 0, PORT_NAME, 1);
    send_ctrl(d, 0, 0x7777, 1);
    send_ctrl(d, 1, PORT_READY, 0); /* the driver failed with port 1 */
    expect_no_ctrl(d);
    assert_alive(&mc);
    g_assert_cmphex(qvirtio_status(d->v), ==, ST_RUNNING);
    /* The well-formed handshake still works. */
    send_ctrl(d, 1, PORT_READY, 1);
    {
        struct ctrl_msg m;

        g_assert_true(recv_ctrl(d, &m));
        g_assert_cmpuint(m.event, ==, PORT_NAME);
    }
    /* DEVICE_READY repeated: the announcements come again, bounded by the device. */
    for (unsigned k = 0; k < 3; k++) {
        send_ctrl(d, 0, DEVICE_READY, 1);
    }
    for (unsigned k = 0; k < 6; k++) {
        struct ctrl_msg m;

        g_assert_true(recv_ctrl(d, &m));
        g_assert_cmpuint(m.event, ==, DEVICE_ADD);
    }
    expect_no_ctrl(d);
    /* Data still flows. */
    guest_open(&mc, 0);
    expect_output(&mc, 0, "ok\n");
    if (qtest_dm_is_xendm()) {
        /* Hundreds of bad messages, a handful of log lines (rate-limited per call site). */
        lines = qtest_count_in_file(mc.log_path, "virtio-serial");
        g_assert_cmpuint(lines, >, 0);
        g_assert_cmpuint(lines, <, 60);
    }
    machine_stop(&mc);
}

/* Control buffers smaller than a message are returned empty; the message waits for a real one. */
static void test_short_control_buffer(void)
{
    struct machine mc;
    struct vdev *d;
    uint32_t id, len;

    if (!qtest_dm_is_xendm()) {
        g_test_skip("xendm's handling of control buffers too short for a message");
        return;
    }
    machine_start(&mc, NULL);
    d = mc.d;
    driver_init(d, F_MULTIPORT);
    post(d, Q_CTRL_RX, slot_gpa(Q_CTRL_RX, 0), 4, true);
    kick(d, Q_CTRL_RX);
    send_ctrl(d, 0, DEVICE_READY, 1);
    next_used(d, Q_CTRL_RX, &id, &len);
    g_assert_cmpuint(len, ==, 0);
    post_ctrl_buffers(d, 4);
    expect_ctrl(d, 0, DEVICE_ADD, 1);
    expect_ctrl(d, 1, DEVICE_ADD, 1);
    assert_alive(&mc);
    machine_stop(&mc);
}

/* A malformed control ring breaks the device, not the device model; a reset recovers it. */
static void test_hostile_ring(void)
{
    const bool connected[2] = {false, false};
    struct machine mc;
    struct vdev *d;
    uint16_t head = 0;

    machine_start(&mc, NULL);
    d = mc.d;
    driver_init(d, F_MULTIPORT);
    /* descriptor 0 chains to itself */
    qvirtqueue_set_desc(&d->q[Q_CTRL_TX], 0, slot_gpa(Q_CTRL_TX, 0), 8, QVIRTQ_DESC_F_NEXT, 0);
    qvirtqueue_add_avail(&d->q[Q_CTRL_TX], &head, 1);
    kick(d, Q_CTRL_TX);
    for (unsigned n = 0; n < 1000 && !(qvirtio_status(d->v) & QVIRTIO_ST_NEEDS_RESET); n++) {
        g_usleep(1000);
    }
    g_assert_cmphex(qvirtio_status(d->v) & QVIRTIO_ST_NEEDS_RESET, ==, QVIRTIO_ST_NEEDS_RESET);
    assert_alive(&mc);
    handshake(&mc, connected);
    machine_stop(&mc);
}

/* §4.1.4.3.1: a reset forgets the queues and the ports' state; the driver starts over. */
static void test_reset(void)
{
    const bool connected[2] = {true, false};
    struct machine mc;
    struct vdev *d;

    machine_start(&mc, NULL);
    d = mc.d;
    open_ports(&mc, connected);
    guest_open(&mc, 0);
    post_in(d, Q_P0_RX, 0x1000); /* held by the device, waiting for input */
    kick(d, Q_P0_RX);
    g_usleep(20000);
    qvirtio_reset(d->v);
    qvirtio_cc_write(d->v, QVIRTIO_CC_Q_SELECT, Q_CTRL_RX, 2);
    g_assert_cmpuint(qvirtio_cc_read(d->v, QVIRTIO_CC_Q_ENABLE, 2), ==, 0);
    /* Input while reset: it waits in the socket, the old buffer is not touched. */
    netpair_write_all(mc.client[0], "after", 5);
    g_usleep(50000);
    g_assert_cmpuint(used_idx(d, Q_P0_RX), ==, 0);
    /* The driver starts over: the same announcements, the port closed until reopened. */
    handshake(&mc, connected);
    post_in(d, Q_P0_RX, 0x1000);
    kick(d, Q_P0_RX);
    g_usleep(50000);
    g_assert_cmpuint(used_idx(d, Q_P0_RX), ==, 0);
    guest_open(&mc, 0);
    expect_input(&mc, "after");
    machine_stop(&mc);
}

/* Without MULTIPORT only port 0 exists and its data flows from DRIVER_OK on. */
static void test_single_port(void)
{
    struct machine mc;
    struct vdev *d;

    machine_start(&mc, NULL);
    d = mc.d;
    connect_peers(&mc, console_only);
    driver_init(d, 0);
    post_in(d, Q_P0_RX, 0x1000);
    kick(d, Q_P0_RX);
    netpair_write_all(mc.client[0], "legacy", 6);
    expect_input(&mc, "legacy");
    expect_output(&mc, 0, "out");
    machine_stop(&mc);
}

/* §5.3.6.1: emerg_wr sends one character to port 0. */
static void test_emergency_write(void)
{
    struct machine mc;
    struct vdev *d;
    char c = 0;

    machine_start(&mc, NULL);
    d = mc.d;
    if (!(qvirtio_device_features(d->v) & F_EMERG_WRITE)) {
        g_test_skip("this device model does not offer EMERG_WRITE");
        machine_stop(&mc);
        return;
    }
    connect_peers(&mc, console_only);
    driver_init(d, F_MULTIPORT | F_EMERG_WRITE);
    qvirtio_config_write(d->v, 8, '!', 4); /* §5.3.4 emerg_wr */
    netpair_read_exact(mc.client[0], &c, 1);
    g_assert_cmpint(c, ==, '!');
    machine_stop(&mc);
}

/*
 * Saved state (libxl's save, then a new device model restoring it): the ports keep the
 * guest's view; the named port's new chardev has no peer yet, so the guest hears PORT_OPEN 0,
 * then 1 when the test reconnects; a receive buffer held at save time takes the next input.
 */
static void test_save_restore(void)
{
    const bool connected[2] = {true, true};
    struct machine mc;
    struct vdev *d;
    uint16_t head;

    if (!qtest_dm_is_xendm()) {
        g_test_skip("qemu-xen's saved state is tested elsewhere");
        return;
    }
    machine_start(&mc, NULL);
    d = mc.d;
    msix_enable(d);
    open_ports(&mc, connected);
    guest_open(&mc, 0);
    guest_open(&mc, 1);
    head = post_in(d, Q_P0_RX, 0x1000);
    kick(d, Q_P0_RX);
    g_usleep(20000);
    qvirtio_save_restore(mc.qt, "virtio-serial-state");
    for (unsigned i = 0; i < 2; i++) {
        close(mc.client[i]);
        mc.client[i] = -1;
    }
    g_assert_cmphex(qvirtio_status(d->v), ==, ST_RUNNING);
    expect_ctrl(d, 1, PORT_OPEN, 0);
    mc.client[1] = sock_connect(mc.sock[1]);
    expect_ctrl(d, 1, PORT_OPEN, 1);
    expect_no_ctrl(d);
    mc.client[0] = sock_connect(mc.sock[0]);
    g_strfreev(qirq_events(mc.qt));
    netpair_write_all(mc.client[0], "restored", 8);
    g_assert_cmpuint(expect_input(&mc, "restored"), ==, head);
    expect_output(&mc, 1, "back\n");
    machine_stop(&mc);
}

/* Bad command lines are refused, not half-built. */
static void test_bad_options(void)
{
    static const struct qtest_refusal bad[] = {
        /* no bus yet */
        {"-device virtconsole,chardev=c0", "no virtio-serial-pci device to attach to"},
        {"-device virtio-serial-pci,max_ports=0", "max_ports=0 out of range"},
        {"-device virtio-serial-pci,max_ports=32", "max_ports=32 out of range"},
        {"-device virtio-serial-pci -device virtserialport,chardev=c0,nr=0", "nr=0 is taken"},
        {"-device virtio-serial-pci -device virtconsole,chardev=nosuch",
         "chardev 'nosuch' does not exist"},
        {"-device virtio-serial-pci -device virtconsole,chardev=c0 "
         "-device virtconsole,chardev=c0", "chardev 'c0' is already in use"},
        {"-device virtio-serial-pci -device virtserialport,chardev=c0,name=a "
         "-device virtserialport,chardev=c1,name=a", "port name 'a' is already in use"},
        {"-device virtio-serial-pci,max_ports=2 -device virtserialport,chardev=c0,nr=2",
         "nr=2 is taken"},
    };

    if (!qtest_dm_is_xendm()) {
        g_test_skip("xendm's option checks");
        return;
    }
    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *dm = g_strdup_printf("-chardev null,id=c0 -chardev null,id=c1 %s",
                                              bad[i].args);

        qtest_assert_start_refused("--serial null", dm, bad[i].message);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/virtio-serial/identity", test_identity);
    g_test_add_func("/virtio-serial/handshake", test_handshake);
    g_test_add_func("/virtio-serial/guest-to-host", test_guest_to_host);
    g_test_add_func("/virtio-serial/host-to-guest-msix", test_host_to_guest_msix);
    g_test_add_func("/virtio-serial/host-to-guest-intx", test_host_to_guest_intx);
    g_test_add_func("/virtio-serial/flow-control-input", test_flow_control_input);
    g_test_add_func("/virtio-serial/flow-control-output", test_flow_control_output);
    g_test_add_func("/virtio-serial/output-without-peer", test_output_without_peer);
    g_test_add_func("/virtio-serial/hostile-control", test_hostile_control);
    g_test_add_func("/virtio-serial/short-control-buffer", test_short_control_buffer);
    g_test_add_func("/virtio-serial/hostile-ring", test_hostile_ring);
    g_test_add_func("/virtio-serial/reset", test_reset);
    g_test_add_func("/virtio-serial/single-port", test_single_port);
    g_test_add_func("/virtio-serial/emergency-write", test_emergency_write);
    g_test_add_func("/virtio-serial/save-restore", test_save_restore);
    g_test_add_func("/virtio-serial/bad-options", test_bad_options);
    return g_test_run();
}
