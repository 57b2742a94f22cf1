/*
 * virtio-serial-pci: the virtio console device (virtio 1.2 §5.3), device ID 3, and the ports
 * that attach to it: `-device virtconsole,chardev=ID[,name=N][,nr=N]` (a console, port 0 when
 * free) and `-device virtserialport,chardev=ID,name=N[,nr=N]` (from port 1 up).
 *
 * Queues (§5.3.2): port 0 receiveq 0 and transmitq 1, the control receiveq 2 and transmitq 3,
 * then port n's pair at 2(n+1) and 2(n+1)+1. "Receive" is the driver's view: the device writes
 * host input into the buffers of a receiveq and reads guest output from a transmitq.
 *
 * Features: MULTIPORT (when max_ports > 1), SIZE (port 0's cols/rows in the configuration),
 * EMERG_WRITE (a byte written to emerg_wr goes to port 0, even before negotiation, §5.3.6.1).
 *
 * The control protocol (§5.3.6.2): the driver's DEVICE_READY is answered with DEVICE_ADD for
 * every port; each PORT_READY with CONSOLE_PORT (a console), PORT_NAME (a named port) and
 * PORT_OPEN (the chardev has a peer). The chardev's OPENED/CLOSED events become PORT_OPEN 1/0
 * while the guest has the port; the guest's PORT_OPEN decides whether host input flows.
 * A console port is always open on the host side, as in QEMU: its output is never held
 * (see port_write_request) and goes wherever the chardev sends it.
 *
 * Flow control and bounds. Host input is read from the chardev only while the port's receiveq
 * has a buffer (can_receive pops one and holds it: at most one per port), so input the guest
 * does not take waits in the kernel's socket or pty buffer. Guest output goes to the chardev
 * without blocking; what a full backend does not take stays in the one request a (non-console)
 * port holds, and the rest of the transmitq stays unconsumed until the backend has room
 * (write_ready): the guest is back-pressured, xendm buffers nothing. Control messages for the guest wait in
 * a queue of CTRL_PENDING_MAX entries; beyond that they are dropped with a log. So the device
 * holds at most two requests per port locked in flight (one rx, one tx) and none on the
 * control queues, whose requests are served and pushed at once.
 *
 * Everything the guest writes is checked: control messages that are short, name a port that
 * does not exist, or carry an event the driver must not send are ignored with a rate-limited
 * log; a malformed ring breaks the device (the core, include/xendm/virtio.h).
 *
 * Properties of virtio-serial-pci: max_ports=1..31 (default 31, as QEMU), and those of the PCI
 * transport: addr=, disable-legacy=, vectors=.
 */
#include <glib.h>
#include <inttypes.h>
#include <string.h>

#include "xendm/chardev.h"
#include "xendm/common.h"
#include "xendm/keyval.h"
#include "xendm/log.h"
#include "xendm/machine.h"
#include "xendm/virtio.h"
#include "xendm/vmstate.h"

/* §5.3.3 feature bits */
#define VIRTIO_CONSOLE_F_SIZE 0
#define VIRTIO_CONSOLE_F_MULTIPORT 1
#define VIRTIO_CONSOLE_F_EMERG_WRITE 2

/* §5.3.4 configuration layout */
#define CONFIG_COLS 0
#define CONFIG_ROWS 2
#define CONFIG_MAX_NR_PORTS 4
#define CONFIG_EMERG_WR 8
#define CONFIG_LEN 12
/* What the console reports through SIZE: the chardev's terminal size is not known here. */
#define CONSOLE_COLS 80
#define CONSOLE_ROWS 25

/* §5.3.6.2 control events */
#define CTRL_DEVICE_READY 0
#define CTRL_DEVICE_ADD 1
#define CTRL_DEVICE_REMOVE 2
#define CTRL_PORT_READY 3
#define CTRL_CONSOLE_PORT 4
#define CTRL_RESIZE 5
#define CTRL_PORT_OPEN 6
#define CTRL_PORT_NAME 7
/* struct virtio_console_control: le32 id, le16 event, le16 value */
#define CTRL_HEADER_LEN 8

/* 2 + 2 * 31 queues = VIRTIO_QUEUES_MAX */
#define SERIAL_PORTS_MAX 31u
#define SERIAL_QUEUE_SIZE 128
#define QUEUE_CTRL_RX 2u
#define QUEUE_CTRL_TX 3u
/* Room for every message a full DEVICE_READY/PORT_READY round needs (4 per port). */
#define CTRL_PENDING_MAX 128u
#define PORT_NAME_MAX 255u
/* Guest output written per port before the loop serves others (the rest: a timer later). */
#define TX_BUDGET_BYTES (256u * 1024)

static GQuark virtio_serial_error_quark(void)
{
    return g_quark_from_static_string("xendm-virtio-serial-error");
}

#define VIRTIO_SERIAL_ERROR virtio_serial_error_quark()

struct virtio_serial;

struct serial_port {
    struct virtio_serial *bus;
    unsigned id;
    bool is_console;
    char *name;            /* NULL: unnamed */
    struct chardev *chr;   /* NULL: output dropped, no input */
    bool host_connected;   /* the chardev has a peer (always, for a file, pty or null) */
    struct virtq_request *rx_req; /* popped by can_receive, filled by receive */
    struct virtq_request *tx_req; /* partly written: the backend was full */
    size_t tx_offset;             /* bytes of tx_req already written */
};

struct virtio_serial {
    struct virtio_pci *vp;
    struct virtio_device_info info; /* per instance: the queue count follows max_ports */
    unsigned max_ports;
    struct serial_port *ports[SERIAL_PORTS_MAX];
    struct timer *tx_timer; /* resumes output that went over its budget */

    /* Saved state: the guest's view of each port ... */
    bool guest_ready[SERIAL_PORTS_MAX];     /* PORT_READY 1 received */
    bool guest_connected[SERIAL_PORTS_MAX]; /* the guest's PORT_OPEN */
    bool told_open[SERIAL_PORTS_MAX];       /* the last PORT_OPEN sent to the guest */
    /* ... and the control messages waiting for a control receiveq buffer, oldest first. */
    uint32_t ctrl_count;
    uint32_t ctrl_id[CTRL_PENDING_MAX];
    uint16_t ctrl_event[CTRL_PENDING_MAX];
    uint16_t ctrl_value[CTRL_PENDING_MAX];
    struct virtio_saved saved; /* filled only around save and load */
};

/* ---- queues and ports ---- */

static struct virtio_device *serial_vdev(struct virtio_serial *s)
{
    return virtio_pci_device(s->vp);
}

static struct virtqueue *serial_queue(struct virtio_serial *s, unsigned index)
{
    return &serial_vdev(s)->vq[index];
}

static unsigned port_rx_index(unsigned id)
{
    return id == 0 ? 0 : 2 * (id + 1);
}

static unsigned port_tx_index(unsigned id)
{
    return port_rx_index(id) + 1;
}

/* The port id whose data queue `index` is; false for the control queues. */
static bool queue_port_id(unsigned index, unsigned *id)
{
    if (index == QUEUE_CTRL_RX || index == QUEUE_CTRL_TX) {
        return false;
    }
    *id = index < 2 ? 0 : index / 2 - 1;
    return true;
}

static bool serial_multiport(struct virtio_serial *s)
{
    return virtio_has_feature(serial_vdev(s), VIRTIO_CONSOLE_F_MULTIPORT);
}

static bool serial_live(struct virtio_serial *s)
{
    const struct virtio_device *vdev = serial_vdev(s);

    return (vdev->status & VIRTIO_STATUS_DRIVER_OK) && !vdev->broken;
}

static struct serial_port *serial_port_by_id(struct virtio_serial *s, uint32_t id)
{
    return id < s->max_ports ? s->ports[id] : NULL;
}

/* Host input may flow: the guest runs the device and has the port open (§5.3.6.2). */
static bool port_input_open(struct serial_port *p)
{
    struct virtio_serial *s = p->bus;

    if (!serial_live(s)) {
        return false;
    }
    /* Without MULTIPORT only port 0 exists, open as soon as the driver is (§5.3.6). */
    return serial_multiport(s) ? s->guest_connected[p->id] : p->id == 0;
}

/* Gives back the requests a port holds (stale after a reset: then they are only freed). */
static void port_release_requests(struct serial_port *p)
{
    if (p->rx_req) {
        virtqueue_unpop(p->rx_req);
        p->rx_req = NULL;
    }
    if (p->tx_req) {
        /* What was written is gone to the backend: complete it rather than replay it. */
        struct virtqueue *vq = p->tx_req->vq;

        virtqueue_push(p->tx_req, 0);
        virtqueue_notify_if_needed(vq);
        p->tx_req = NULL;
    }
    p->tx_offset = 0;
}

/* ---- control messages to the guest (control receiveq) ---- */

static void ctrl_queue(struct virtio_serial *s, uint32_t id, uint16_t event, uint16_t value)
{
    if (s->ctrl_count >= CTRL_PENDING_MAX) {
        log_guest_error("virtio-serial: control message %u for port %" PRIu32 " dropped: "
                        "%u wait for control receive buffers", event, id, CTRL_PENDING_MAX);
        return;
    }
    s->ctrl_id[s->ctrl_count] = id;
    s->ctrl_event[s->ctrl_count] = event;
    s->ctrl_value[s->ctrl_count] = value;
    s->ctrl_count++;
}

static void ctrl_drop_first(struct virtio_serial *s)
{
    s->ctrl_count--;
    memmove(s->ctrl_id, s->ctrl_id + 1, s->ctrl_count * sizeof(s->ctrl_id[0]));
    memmove(s->ctrl_event, s->ctrl_event + 1, s->ctrl_count * sizeof(s->ctrl_event[0]));
    memmove(s->ctrl_value, s->ctrl_value + 1, s->ctrl_count * sizeof(s->ctrl_value[0]));
}

/* The bytes of the first waiting message: the header, then PORT_NAME's name (§5.3.6.2). */
static size_t ctrl_encode(struct virtio_serial *s, uint8_t *buf, size_t size)
{
    struct serial_port *p = serial_port_by_id(s, s->ctrl_id[0]);
    uint32_t id = s->ctrl_id[0];
    uint16_t event = s->ctrl_event[0], value = s->ctrl_value[0];
    size_t len = CTRL_HEADER_LEN;

    memcpy(buf, &id, 4); /* little-endian on x86, as the device is */
    memcpy(buf + 4, &event, 2);
    memcpy(buf + 6, &value, 2);
    if (event == CTRL_PORT_NAME && p && p->name) {
        size_t n = XENDM_MIN(strlen(p->name), size - CTRL_HEADER_LEN);

        memcpy(buf + CTRL_HEADER_LEN, p->name, n);
        len += n;
    }
    return len;
}

static void ctrl_flush(struct virtio_serial *s)
{
    struct virtqueue *vq = serial_queue(s, QUEUE_CTRL_RX);
    uint8_t msg[CTRL_HEADER_LEN + PORT_NAME_MAX];
    struct virtq_request *req;

    if (!serial_live(s) || !serial_multiport(s)) {
        return;
    }
    while (s->ctrl_count && (req = virtqueue_pop(vq)) != NULL) {
        size_t len;

        if (req->in_len < CTRL_HEADER_LEN) {
            /* The message waits for a buffer that can hold it; this one goes back empty. */
            log_guest_error("virtio-serial: control receive buffer of %" PRIu64 " bytes "
                            "(at least %u needed)", req->in_len, CTRL_HEADER_LEN);
            virtqueue_push(req, 0);
            continue;
        }
        len = ctrl_encode(s, msg, sizeof(msg));
        virtqueue_push(req, (uint32_t)virtq_request_write(req, 0, msg, len));
        ctrl_drop_first(s);
    }
    virtqueue_notify_if_needed(vq);
}

/* Tells the guest that the host side of p opened or closed, if it has the port and cares. */
static void port_tell_open(struct serial_port *p)
{
    struct virtio_serial *s = p->bus;

    if (!serial_live(s) || !serial_multiport(s) || !s->guest_ready[p->id] ||
        s->told_open[p->id] == p->host_connected) {
        return;
    }
    s->told_open[p->id] = p->host_connected;
    ctrl_queue(s, p->id, CTRL_PORT_OPEN, p->host_connected);
    ctrl_flush(s);
}

/* ---- host input (chardev -> port receiveq) ---- */

static size_t port_can_receive(void *opaque)
{
    struct serial_port *p = opaque;
    struct virtqueue *vq;

    if (!port_input_open(p)) {
        return 0;
    }
    vq = serial_queue(p->bus, port_rx_index(p->id));
    while (!p->rx_req) {
        struct virtq_request *req = virtqueue_pop(vq);

        if (!req) {
            return 0; /* the input waits in the backend until the guest posts a buffer */
        }
        if (req->in_len == 0) {
            log_guest_error("virtio-serial: port %u: receive buffer without writable space",
                            p->id);
            virtqueue_push(req, 0);
            virtqueue_notify_if_needed(vq);
            continue;
        }
        p->rx_req = req;
    }
    return (size_t)XENDM_MIN(p->rx_req->in_len, (uint64_t)SIZE_MAX);
}

static void port_receive(void *opaque, const uint8_t *buf, size_t len)
{
    struct serial_port *p = opaque;
    struct virtq_request *req = p->rx_req;
    size_t n;

    if (!req && port_can_receive(p) == 0) {
        log_warn("virtio-serial: port %u: %zu input bytes without a receive buffer dropped",
                 p->id, len);
        return;
    }
    req = p->rx_req;
    p->rx_req = NULL;
    /* Delivered at once, not held for more: the guest's reader wants it now. */
    n = virtq_request_write(req, 0, buf, len);
    virtqueue_push(req, (uint32_t)n);
    virtqueue_notify_if_needed(serial_queue(p->bus, port_rx_index(p->id)));
    if (n < len) {
        log_warn("virtio-serial: port %u: %zu input bytes beyond the buffer dropped", p->id,
                 len - n);
    }
}

static void port_accept_input(struct serial_port *p)
{
    if (p->chr) {
        chardev_accept_input(p->chr);
    }
}

/* ---- guest output (port transmitq -> chardev) ---- */

/*
 * Writes req's out buffers from p->tx_offset on. True when the request is done (written, or
 * dropped because nobody listens); false when the backend is full (the rest waits).
 */
static bool port_write_request(struct serial_port *p, struct virtq_request *req, size_t *budget)
{
    size_t skip = p->tx_offset;

    if (!p->chr || !p->host_connected) {
        return true; /* no peer: the bytes are dropped, as on a line nobody listens to */
    }
    if (p->is_console) {
        /*
         * A console never holds the guest's output: Linux's hvc path spins until the device
         * returns the buffer, so a peer that does not read would stall the guest's kernel.
         * What the backend cannot take is dropped, as a UART's line drops it (and as QEMU).
         */
        for (unsigned i = 0; i < req->out_num; i++) {
            chardev_write(p->chr, req->out[i].base, req->out[i].len);
        }
        return true;
    }
    for (unsigned i = 0; i < req->out_num; i++) {
        const uint8_t *base = req->out[i].base;
        size_t len = req->out[i].len;
        ssize_t n;

        if (skip >= len) {
            skip -= len;
            continue;
        }
        n = chardev_write_partial(p->chr, base + skip, len - skip);
        if (n < 0) {
            return true; /* the peer went away: the CLOSED event follows */
        }
        p->tx_offset += (size_t)n;
        *budget -= XENDM_MIN(*budget, (size_t)n);
        if ((size_t)n < len - skip) {
            chardev_notify_writable(p->chr);
            return false;
        }
        skip = 0;
    }
    return true;
}

static void port_flush_tx(struct serial_port *p)
{
    struct virtio_serial *s = p->bus;
    struct virtqueue *vq = serial_queue(s, port_tx_index(p->id));
    size_t budget = TX_BUDGET_BYTES;

    while (serial_live(s)) {
        if (!p->tx_req) {
            if (budget == 0) {
                timer_arm_ns(s->tx_timer, 0); /* the rest after other work */
                break;
            }
            p->tx_req = virtqueue_pop(vq);
            p->tx_offset = 0;
            if (!p->tx_req) {
                break;
            }
        }
        if (!port_write_request(p, p->tx_req, &budget)) {
            break;
        }
        virtqueue_push(p->tx_req, 0);
        p->tx_req = NULL;
        p->tx_offset = 0;
    }
    virtqueue_notify_if_needed(vq);
}

/* A transmitq of a port nobody attached: the driver should not use it; its data is dropped. */
static void discard_queue(struct virtqueue *vq)
{
    struct virtq_request *req;

    while ((req = virtqueue_pop(vq)) != NULL) {
        log_guest_error("virtio-serial: queue %u: data for a port that does not exist",
                        virtqueue_index(vq));
        virtqueue_push(req, 0);
    }
    virtqueue_notify_if_needed(vq);
}

static void port_write_ready(void *opaque)
{
    port_flush_tx(opaque);
}

static void serial_tx_timer(void *opaque)
{
    struct virtio_serial *s = opaque;

    for (unsigned id = 0; id < s->max_ports; id++) {
        if (s->ports[id]) {
            port_flush_tx(s->ports[id]);
        }
    }
}

/* ---- the chardev's peer ---- */

static void port_chardev_event(void *opaque, enum chardev_event event)
{
    struct serial_port *p = opaque;

    if (p->is_console) {
        /* A console is always open (its output goes wherever the chardev sends it). */
        port_accept_input(p);
        return;
    }
    p->host_connected = event == CHARDEV_EVENT_OPENED;
    if (!p->host_connected && p->tx_req) {
        /* The peer that was taking this output is gone: complete it, dropped. */
        struct virtqueue *vq = p->tx_req->vq;

        virtqueue_push(p->tx_req, 0);
        virtqueue_notify_if_needed(vq);
        p->tx_req = NULL;
        p->tx_offset = 0;
    }
    port_tell_open(p);
    if (p->host_connected) {
        port_accept_input(p);
    }
}

/* ---- control messages from the guest (control transmitq) ---- */

static void ctrl_port_ready(struct virtio_serial *s, struct serial_port *p, uint16_t value)
{
    if (!value) {
        log_guest_event("virtio-serial: the driver failed to set up port %u", p->id);
        return;
    }
    /* §5.3.6.2: a repeated PORT_READY is answered again, as the driver re-adds a port. */
    s->guest_ready[p->id] = true;
    s->told_open[p->id] = false;
    if (p->is_console) {
        ctrl_queue(s, p->id, CTRL_CONSOLE_PORT, 1);
    }
    if (p->name) {
        ctrl_queue(s, p->id, CTRL_PORT_NAME, 1);
    }
    port_tell_open(p);
}

static void ctrl_port_open(struct virtio_serial *s, struct serial_port *p, uint16_t value)
{
    s->guest_connected[p->id] = value != 0;
    if (s->guest_connected[p->id]) {
        port_accept_input(p);
    } else if (p->rx_req) {
        virtqueue_unpop(p->rx_req); /* input waits in the backend until the guest reopens */
        p->rx_req = NULL;
    }
}

static void ctrl_handle(struct virtio_serial *s, uint32_t id, uint16_t event, uint16_t value)
{
    struct serial_port *p;

    if (event == CTRL_DEVICE_READY) {
        if (!value) {
            log_guest_event("virtio-serial: the driver failed to initialise the device");
            return;
        }
        for (unsigned i = 0; i < s->max_ports; i++) {
            if (s->ports[i]) {
                ctrl_queue(s, i, CTRL_DEVICE_ADD, 1);
            }
        }
        return;
    }
    if (event != CTRL_PORT_READY && event != CTRL_PORT_OPEN) {
        log_guest_error("virtio-serial: control event %u (port %" PRIu32 ") is not one a "
                        "driver sends: ignored", event, id);
        return;
    }
    p = serial_port_by_id(s, id);
    if (!p) {
        log_guest_error("virtio-serial: control event %u for port %" PRIu32 ", which does "
                        "not exist: ignored", event, id);
        return;
    }
    if (event == CTRL_PORT_READY) {
        ctrl_port_ready(s, p, value);
    } else {
        ctrl_port_open(s, p, value);
    }
}

static void ctrl_tx_notify(struct virtio_serial *s, struct virtqueue *vq)
{
    struct virtq_request *req;

    while ((req = virtqueue_pop(vq)) != NULL) {
        uint8_t hdr[CTRL_HEADER_LEN];
        uint32_t id;
        uint16_t event, value;

        if (virtq_request_read(req, 0, hdr, sizeof(hdr)) < sizeof(hdr)) {
            log_guest_error("virtio-serial: control message of %" PRIu64 " bytes (%u needed)",
                            req->out_len, CTRL_HEADER_LEN);
            virtqueue_push(req, 0);
            continue;
        }
        memcpy(&id, hdr, 4);
        memcpy(&event, hdr + 4, 2);
        memcpy(&value, hdr + 6, 2);
        virtqueue_push(req, 0);
        ctrl_handle(s, id, event, value);
    }
    virtqueue_notify_if_needed(vq);
    ctrl_flush(s);
}

/* ---- the device ---- */

static void serial_queue_notify(void *opaque, struct virtqueue *vq)
{
    struct virtio_serial *s = opaque;
    unsigned index = virtqueue_index(vq);
    struct serial_port *p;
    unsigned id;

    if (index == QUEUE_CTRL_TX) {
        ctrl_tx_notify(s, vq);
        return;
    }
    if (index == QUEUE_CTRL_RX) {
        ctrl_flush(s); /* new buffers for waiting messages */
        return;
    }
    queue_port_id(index, &id);
    p = serial_port_by_id(s, id);
    if (index % 2 == 0) {
        if (p) {
            port_accept_input(p); /* new receive buffers: input may flow again */
        }
        return;
    }
    if (p) {
        port_flush_tx(p);
    } else {
        discard_queue(vq);
    }
}

static void serial_reset_state(void *opaque)
{
    struct virtio_serial *s = opaque;

    for (unsigned id = 0; id < s->max_ports; id++) {
        if (s->ports[id]) {
            port_release_requests(s->ports[id]);
        }
    }
    memset(s->guest_ready, 0, sizeof(s->guest_ready));
    memset(s->guest_connected, 0, sizeof(s->guest_connected));
    memset(s->told_open, 0, sizeof(s->told_open));
    s->ctrl_count = 0;
    timer_cancel(s->tx_timer);
}

static void serial_driver_ok(void *opaque)
{
    struct virtio_serial *s = opaque;

    /* Without MULTIPORT port 0 takes input from now on. */
    if (s->ports[0]) {
        port_accept_input(s->ports[0]);
    }
}

static void serial_config_defaults(struct virtio_serial *s)
{
    uint8_t *config = serial_vdev(s)->config;
    uint16_t cols = CONSOLE_COLS, rows = CONSOLE_ROWS;
    uint32_t max_ports = s->max_ports, zero = 0;

    memcpy(config + CONFIG_COLS, &cols, 2);
    memcpy(config + CONFIG_ROWS, &rows, 2);
    memcpy(config + CONFIG_MAX_NR_PORTS, &max_ports, 4);
    memcpy(config + CONFIG_EMERG_WR, &zero, 4);
}

/*
 * Only emerg_wr is writable (§5.3.4): its low byte goes to port 0 at once. The core stored
 * what the driver wrote; the read-only fields are put back.
 */
static void serial_config_write(void *opaque, uint32_t offset, uint32_t len)
{
    struct virtio_serial *s = opaque;
    uint8_t ch = serial_vdev(s)->config[CONFIG_EMERG_WR];
    struct serial_port *p0 = s->ports[0];

    if (offset < CONFIG_EMERG_WR) {
        log_guest_error("virtio-serial: write of %u bytes to read-only configuration at %u",
                        len, offset);
    } else if (offset == CONFIG_EMERG_WR && p0 && p0->chr && p0->host_connected) {
        chardev_write(p0->chr, &ch, 1);
    }
    serial_config_defaults(s);
}

/* ---- creation and life cycle ---- */

static void virtio_serial_destroy(void *dev)
{
    struct virtio_serial *s = dev;

    if (!s) {
        return;
    }
    /* Ports are devices created after the bus and destroyed before it. */
    virtio_pci_destroy(s->vp);
    if (s->tx_timer) {
        timer_free(s->tx_timer);
    }
    g_free(s);
}

static void *virtio_serial_create(struct machine *m, struct kv_list *props, GError **err)
{
    struct virtio_serial *s = g_new0(struct virtio_serial, 1);
    uint64_t max_ports;

    if (!kv_get_u64(props, "max_ports", SERIAL_PORTS_MAX, false, &max_ports, err)) {
        goto fail;
    }
    if (max_ports < 1 || max_ports > SERIAL_PORTS_MAX) {
        g_set_error(err, VIRTIO_SERIAL_ERROR, 0, "virtio-serial-pci: max_ports=%" PRIu64
                    " out of range (1..%u)", max_ports, SERIAL_PORTS_MAX);
        goto fail;
    }
    s->max_ports = (unsigned)max_ports;
    /* MSI-X vectors: by default max_ports + 1, as QEMU's virtio-serial-pci has, not one per
     * queue (2 * max_ports + 3). A Xen HVM guest's Linux maps each MSI-X vector it enables to a
     * pirq, and a domU has few to spare (Xen's extra_domU_irqs, 32 by default): asking for 65
     * fails in xen_hvm_setup_msi_irqs (-ENODEV) and Linux 6.1's fallback then oopses in
     * vp_find_vqs_msix (seen on the rig). With fewer vectors than queues Linux takes one for
     * configuration changes and one shared by all queues (vectors may be shared: virtio 1.2
     * §4.1.5.1.2). */
    if (kv_get(props, "vectors") == NULL) {
        char *vectors = g_strdup_printf("%u", s->max_ports + 1);
        kv_set(props, "vectors", vectors);
        g_free(vectors);
    }
    s->info = (struct virtio_device_info){
        .name = "virtio-serial-pci",
        .device_id = VIRTIO_ID_CONSOLE,
        .pci_class = 0x078000, /* simple communication controller, other */
        /* §5.3.2: one pair for port 0; with MULTIPORT the control pair and one per port. */
        .num_queues = max_ports > 1 ? 2 + 2 * s->max_ports : 2,
        .queue_max_size = SERIAL_QUEUE_SIZE,
        .features = VIRTIO_BIT(VIRTIO_CONSOLE_F_SIZE) | VIRTIO_BIT(VIRTIO_CONSOLE_F_EMERG_WRITE) |
                    (max_ports > 1 ? VIRTIO_BIT(VIRTIO_CONSOLE_F_MULTIPORT) : 0),
        .config_len = CONFIG_LEN,
        .queue_notify = serial_queue_notify,
        .reset = serial_reset_state,
        .config_write = serial_config_write,
        .driver_ok = serial_driver_ok,
    };
    s->tx_timer = timer_new(serial_tx_timer, s);
    s->vp = virtio_pci_create(m, props, &s->info, s, err);
    if (!s->vp) {
        goto fail;
    }
    serial_config_defaults(s);
    return s;

fail:
    virtio_serial_destroy(s);
    return NULL;
}

static void virtio_serial_reset(void *dev)
{
    struct virtio_serial *s = dev;

    virtio_pci_reset(s->vp);
}

static void virtio_serial_pre_save(void *dev)
{
    struct virtio_serial *s = dev;

    /* Requests the ports hold are in flight: they are popped again after a restore. */
    virtio_pci_pre_save(s->vp, &s->saved);
}

static void virtio_serial_post_load(void *dev)
{
    struct virtio_serial *s = dev;

    virtio_pci_post_load(s->vp, &s->saved);
    for (unsigned id = 0; id < s->max_ports; id++) {
        struct serial_port *p = s->ports[id];

        if (!p) {
            continue;
        }
        /* Popped before the load: stale now (only freed); their heads are due again. */
        if (p->rx_req) {
            virtqueue_unpop(p->rx_req);
            p->rx_req = NULL;
        }
        if (p->tx_req) {
            virtqueue_unpop(p->tx_req);
            p->tx_req = NULL;
        }
        p->tx_offset = 0;
    }
    /* The chardev of this process may be connected or not, whatever the saved guest was told. */
    for (unsigned id = 0; id < s->max_ports; id++) {
        if (s->ports[id]) {
            port_tell_open(s->ports[id]);
            port_accept_input(s->ports[id]);
        }
    }
    ctrl_flush(s);
}

static const struct vmstate_field virtio_serial_fields[] = {
    VIRTIO_SAVED_FIELDS(struct virtio_serial, saved),
    VMSTATE_BOOL_ARRAY(struct virtio_serial, guest_ready, SERIAL_PORTS_MAX),
    VMSTATE_BOOL_ARRAY(struct virtio_serial, guest_connected, SERIAL_PORTS_MAX),
    VMSTATE_BOOL_ARRAY(struct virtio_serial, told_open, SERIAL_PORTS_MAX),
    VMSTATE_U32_MAX(struct virtio_serial, ctrl_count, CTRL_PENDING_MAX),
    VMSTATE_FIELD_FULL("ctrl_id", struct virtio_serial, ctrl_id, VMSTATE_TYPE_U32, 4,
                       CTRL_PENDING_MAX, SERIAL_PORTS_MAX - 1, 0),
    VMSTATE_FIELD_FULL("ctrl_event", struct virtio_serial, ctrl_event, VMSTATE_TYPE_U16, 2,
                       CTRL_PENDING_MAX, CTRL_PORT_NAME, 0),
    VMSTATE_FIELD_FULL("ctrl_value", struct virtio_serial, ctrl_value, VMSTATE_TYPE_U16, 2,
                       CTRL_PENDING_MAX, 1, 0),
    VMSTATE_END,
};

static const struct vmstate_desc virtio_serial_vmstate = {
    .name = "virtio-serial-pci",
    .version = 1,
    .fields = virtio_serial_fields,
    .pre_save = virtio_serial_pre_save,
    .post_load = virtio_serial_post_load,
};

static const struct device_type virtio_serial_type = {
    .name = "virtio-serial-pci",
    .description = "virtio console device with multiple ports (virtio-pci, MSI-X, "
                   "transitional unless disable-legacy=on)",
    .user_creatable = true,
    .create = virtio_serial_create,
    .reset = virtio_serial_reset,
    .destroy = virtio_serial_destroy,
    .vmstate = &virtio_serial_vmstate,
};
DEVICE_TYPE_REGISTER(virtio_serial_type);

/* ---- the ports: virtconsole and virtserialport ---- */

static void serial_port_destroy(void *dev)
{
    struct serial_port *p = dev;

    if (!p) {
        return;
    }
    if (p->chr) {
        chardev_set_frontend(p->chr, NULL);
    }
    if (p->bus && p->bus->ports[p->id] == p) {
        port_release_requests(p);
        p->bus->ports[p->id] = NULL;
    }
    g_free(p->name);
    g_free(p);
}

/* QEMU's rule: port 0 belongs to a console; a console without nr= takes it when free. */
static bool port_pick_id(struct virtio_serial *s, struct kv_list *props, bool is_console,
                         unsigned *id, GError **err)
{
    const char *kind = is_console ? "virtconsole" : "virtserialport";
    uint64_t nr;

    if (kv_get(props, "nr")) {
        if (!kv_get_u64(props, "nr", 0, false, &nr, err)) {
            return false;
        }
        if (nr >= s->max_ports || s->ports[nr] || (nr == 0 && !is_console)) {
            g_set_error(err, VIRTIO_SERIAL_ERROR, 0, "%s: nr=%" PRIu64 " is taken, reserved "
                        "for a console, or not below max_ports=%u", kind, nr, s->max_ports);
            return false;
        }
        *id = (unsigned)nr;
        return true;
    }
    for (unsigned i = is_console ? 0 : 1; i < s->max_ports; i++) {
        if (!s->ports[i]) {
            *id = i;
            return true;
        }
    }
    g_set_error(err, VIRTIO_SERIAL_ERROR, 0, "%s: all %u ports of the virtio-serial bus are "
                "taken", kind, s->max_ports);
    return false;
}

static bool port_check_name(struct virtio_serial *s, const char *name, GError **err)
{
    if (!name) {
        return true;
    }
    if (!*name || strlen(name) > PORT_NAME_MAX) {
        g_set_error(err, VIRTIO_SERIAL_ERROR, 0, "virtio-serial port name must have 1..%u "
                    "characters", PORT_NAME_MAX);
        return false;
    }
    for (unsigned i = 0; i < s->max_ports; i++) {
        if (s->ports[i] && s->ports[i]->name && strcmp(s->ports[i]->name, name) == 0) {
            g_set_error(err, VIRTIO_SERIAL_ERROR, 0, "virtio-serial port name '%s' is "
                        "already in use", name);
            return false;
        }
    }
    return true;
}

static bool port_attach_chardev(struct serial_port *p, struct machine *m, const char *chr_id,
                                GError **err)
{
    const struct chardev_frontend fe = {
        .can_receive = port_can_receive,
        .receive = port_receive,
        .opaque = p,
        .event = port_chardev_event,
        .write_ready = port_write_ready,
    };

    p->host_connected = true; /* no chardev: like null, always there */
    if (!chr_id) {
        return true;
    }
    p->chr = machine_find_chardev(m, chr_id);
    if (!p->chr || chardev_has_frontend(p->chr)) {
        g_set_error(err, VIRTIO_SERIAL_ERROR, 0, "virtio-serial port: chardev '%s' %s",
                    chr_id, p->chr ? "is already in use" : "does not exist");
        p->chr = NULL;
        return false;
    }
    /* Only a socket has a peer to wait for; it says so in its name until one connects. A
     * peer already there is reported by set_frontend (OPENED). A console is always open. */
    p->host_connected =
        p->is_console || !g_str_has_prefix(chardev_filename(p->chr), "disconnected:");
    chardev_set_frontend(p->chr, &fe);
    return true;
}

static void *serial_port_create(struct machine *m, struct kv_list *props, bool is_console,
                                GError **err)
{
    struct virtio_serial *s = machine_find_device(m, "virtio-serial-pci");
    const char *bus = kv_get(props, "bus");
    const char *name = kv_get(props, "name");
    const char *chr_id = kv_get(props, "chardev");
    struct serial_port *p;
    unsigned id;

    if (!s) {
        g_set_error(err, VIRTIO_SERIAL_ERROR, 0, "%s: no virtio-serial-pci device to attach "
                    "to (it must come first)", is_console ? "virtconsole" : "virtserialport");
        return NULL;
    }
    if (bus && !g_str_has_suffix(bus, ".0")) {
        g_set_error(err, VIRTIO_SERIAL_ERROR, 0, "bus '%s' is not a virtio-serial bus", bus);
        return NULL;
    }
    if (!port_pick_id(s, props, is_console, &id, err) || !port_check_name(s, name, err)) {
        return NULL;
    }
    p = g_new0(struct serial_port, 1);
    p->id = id;
    p->is_console = is_console;
    p->name = g_strdup(name);
    /* On the bus first: attaching the chardev may report its peer (OPENED) at once. */
    p->bus = s;
    s->ports[id] = p;
    if (!port_attach_chardev(p, m, chr_id, err)) {
        serial_port_destroy(p);
        return NULL;
    }
    return p;
}

static void *virtconsole_create(struct machine *m, struct kv_list *props, GError **err)
{
    return serial_port_create(m, props, true, err);
}

static void *virtserialport_create(struct machine *m, struct kv_list *props, GError **err)
{
    return serial_port_create(m, props, false, err);
}

/* The bus resets and saves the ports' state: the port devices have none of their own. */
static const struct device_type virtconsole_type = {
    .name = "virtconsole",
    .description = "a console port on the virtio-serial bus (chardev=, name=, nr=)",
    .user_creatable = true,
    .create = virtconsole_create,
    .destroy = serial_port_destroy,
};
DEVICE_TYPE_REGISTER(virtconsole_type);

static const struct device_type virtserialport_type = {
    .name = "virtserialport",
    .description = "a named port on the virtio-serial bus (chardev=, name=, nr=)",
    .user_creatable = true,
    .create = virtserialport_create,
    .destroy = serial_port_destroy,
};
DEVICE_TYPE_REGISTER(virtserialport_type);
