/*
 * The library server: xensim's drop-in Xen libraries (tools/xensim/libs/)
 * connect here, one SOCK_SEQPACKET connection per library handle (wire.h).
 * Each request is one datagram and is answered in order; errors are Xen's
 * errno values. A restricted connection may name only its own domid.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "wire.h"
#include "xensim.h"

#define XENMEM_RESOURCE_IOREQ_SERVER 0u
#define IOREQ_SERVER_FRAMES 2u /* frame 0 buffered, frame 1 the shared page (4.17: one) */
#define NO_RESTRICTION UINT32_MAX

struct xsim_wire_server {
    struct xsim *xs;
    int listen_fd;
    guint listen_watch;
    char *path;
    GPtrArray *conns;
    uint8_t *rx;    /* one request at a time: the loop is single-threaded */
    GByteArray *tx;
    uint64_t restrict_refusals; /* requests refused because of a connection's restriction */
};

struct xsim_conn {
    struct xsim_wire_server *ws;
    int fd;
    int event_fd; /* EVTCHN: our end of the delivery socketpair */
    guint watch;
    uint32_t kind;
    bool hello_done;
    uint32_t restrict_domid;
};

/* ------------------------------------------------------------------ sending */

static bool send_with_fds(int fd, const void *buf, size_t len, const int *fds, unsigned nr_fds)
{
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    union {
        char buf[CMSG_SPACE(sizeof(int) * 2)];
        struct cmsghdr align;
    } ctl;
    if (nr_fds) {
        memset(&ctl, 0, sizeof(ctl));
        msg.msg_control = ctl.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nr_fds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nr_fds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nr_fds);
    }
    ssize_t n;
    do {
        n = sendmsg(fd, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n == (ssize_t)len;
}

static void reply(struct xsim_conn *c, const struct xsim_hdr *req, int32_t result,
                  const void *payload, uint32_t len, const int *fds, unsigned nr_fds)
{
    GByteArray *tx = c->ws->tx;
    struct xsim_hdr h = { .op = req->op, .seq = req->seq, .result = result, .len = len };
    g_byte_array_set_size(tx, 0);
    g_byte_array_append(tx, (const guint8 *)&h, sizeof(h));
    if (len)
        g_byte_array_append(tx, payload, len);
    if (!send_with_fds(c->fd, tx->data, tx->len, fds, nr_fds))
        xsim_log("wire: reply to op %u failed: %s", req->op, g_strerror(errno));
}

bool xsim_conn_deliver_event(struct xsim_conn *conn, uint32_t port)
{
    if (conn->event_fd < 0)
        return false;
    ssize_t n = send(conn->event_fd, &port, sizeof(port), MSG_NOSIGNAL | MSG_DONTWAIT);
    return n == sizeof(port);
}

/* ------------------------------------------------------------------ helpers */

static const char *kind_name(uint32_t kind)
{
    static const char *const names[] = { "none", "evtchn", "fmem", "dmod", "xc", "gnttab" };
    return kind < G_N_ELEMENTS(names) ? names[kind] : "?";
}

/*
 * As Xen's privcmd and evtchn restriction: a restricted connection naming another
 * domain gets EPERM. Logged (rate-limited) so that a test can see the refusal.
 */
static bool restriction_refuses(struct xsim_conn *c, uint32_t domid)
{
    if (c->restrict_domid == NO_RESTRICTION || domid == c->restrict_domid)
        return false;
    c->ws->restrict_refusals++;
    xsim_log_limited("wire: %s connection restricted to d%u refused an operation on d%u (EPERM)",
                     kind_name(c->kind), c->restrict_domid, domid);
    return true;
}

static int check_domid(struct xsim_conn *c, uint32_t domid)
{
    if (restriction_refuses(c, domid))
        return -EPERM;
    if (domid != c->ws->xs->domid)
        return -ESRCH;
    return 0;
}

static bool payload_is(const struct xsim_hdr *h, uint32_t len)
{
    return h->len == len;
}

/* ------------------------------------------------------------------ HELLO and RESTRICT */

static bool op_hello(struct xsim_conn *c, const struct xsim_hdr *h, const uint8_t *p)
{
    struct xsim *xs = c->ws->xs;
    struct xsim_hello hello;
    if (!payload_is(h, sizeof(hello)))
        return false;
    memcpy(&hello, p, sizeof(hello));
    if (hello.magic != XSIM_MAGIC || hello.version != XSIM_VERSION ||
        hello.kind < XSIM_CLIENT_EVTCHN || hello.kind > XSIM_CLIENT_GNTTAB) {
        xsim_log("wire: bad HELLO (magic %#x version %u kind %u)", hello.magic, hello.version,
                 hello.kind);
        reply(c, h, -EPROTO, NULL, 0, NULL, 0);
        return false;
    }
    c->kind = hello.kind;
    c->hello_done = true;
    struct xsim_hello_reply r = { .domid = xs->domid, .nr_vcpus = xs->nr_vcpus };
    int fds[1];
    int peer = -1;
    if (hello.kind == XSIM_CLIENT_EVTCHN) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
            reply(c, h, -errno, NULL, 0, NULL, 0);
            return false;
        }
        c->event_fd = sv[0];
        fcntl(c->event_fd, F_SETFL, fcntl(c->event_fd, F_GETFL) | O_NONBLOCK);
        peer = sv[1];
        fds[0] = peer;
        r.nr_fds = 1;
    } else if (hello.kind == XSIM_CLIENT_FMEM) {
        fds[0] = xs->mem.memfd;
        r.nr_fds = 1;
    }
    reply(c, h, 0, &r, sizeof(r), fds, r.nr_fds);
    if (peer >= 0)
        close(peer);
    return true;
}

static int op_restrict(struct xsim_conn *c, const struct xsim_hdr *h, const uint8_t *p)
{
    uint32_t domid;
    if (!payload_is(h, sizeof(domid)))
        return -EINVAL;
    memcpy(&domid, p, sizeof(domid));
    if (c->restrict_domid != NO_RESTRICTION && c->restrict_domid != domid)
        return -EPERM;
    c->restrict_domid = domid;
    return 0;
}

/* ------------------------------------------------------------------ event channels */

static struct xsim_port *owned_port(struct xsim_conn *c, uint32_t port)
{
    struct xsim_port *p = xsim_evtchn_port(&c->ws->xs->dom0_evtchn, port);
    return p && p->owner == c ? p : NULL;
}

static int op_evtchn(struct xsim_conn *c, const struct xsim_hdr *h, const uint8_t *p)
{
    struct xsim *xs = c->ws->xs;
    uint32_t a[2] = { 0, 0 };
    if (c->kind != XSIM_CLIENT_EVTCHN)
        return -EBADF;
    uint32_t want = h->op == XSIM_OP_EVTCHN_BIND_INTERDOMAIN ? 8 : 4;
    if (!payload_is(h, want))
        return -EINVAL;
    memcpy(a, p, want);
    int rc;
    switch (h->op) {
    case XSIM_OP_EVTCHN_BIND_INTERDOMAIN:
        rc = restriction_refuses(c, a[0]) ? -EPERM : 0;
        if (rc == 0)
            rc = xsim_evtchn_bind_interdomain(xs, &xs->dom0_evtchn, a[0], a[1], c);
        return rc;
    case XSIM_OP_EVTCHN_BIND_UNBOUND:
        if (restriction_refuses(c, a[0]))
            return -EPERM;
        rc = xsim_evtchn_alloc_unbound(xs, &xs->dom0_evtchn, a[0]);
        if (rc > 0)
            xsim_evtchn_port(&xs->dom0_evtchn, (uint32_t)rc)->owner = c;
        return rc;
    case XSIM_OP_EVTCHN_BIND_VIRQ:
        rc = xsim_evtchn_alloc_unbound(xs, &xs->dom0_evtchn, 0);
        if (rc > 0) {
            struct xsim_port *port = xsim_evtchn_port(&xs->dom0_evtchn, (uint32_t)rc);
            port->state = XSIM_PORT_VIRQ; /* no virtual IRQ ever fires here */
            port->owner = c;
        }
        return rc;
    case XSIM_OP_EVTCHN_UNBIND:
        if (!owned_port(c, a[0]))
            return -ENOTCONN;
        return xsim_evtchn_close(xs, &xs->dom0_evtchn, a[0]);
    case XSIM_OP_EVTCHN_NOTIFY:
        if (!owned_port(c, a[0]))
            return -ENOTCONN;
        return xsim_evtchn_notify(xs, &xs->dom0_evtchn, a[0]);
    case XSIM_OP_EVTCHN_UNMASK:
        if (!owned_port(c, a[0]))
            return -ENOTCONN;
        return xsim_evtchn_unmask(xs, &xs->dom0_evtchn, a[0]);
    default:
        return -ENOSYS;
    }
}

/* ------------------------------------------------------------------ foreign memory */

static void op_fmem_map(struct xsim_conn *c, const struct xsim_hdr *h, const uint8_t *p)
{
    struct xsim *xs = c->ws->xs;
    struct xsim_fmem_map m;
    if (h->len < sizeof(m)) {
        reply(c, h, -EINVAL, NULL, 0, NULL, 0);
        return;
    }
    memcpy(&m, p, sizeof(m));
    if (m.nr == 0 || m.nr > XSIM_MAX_MAP_BATCH || h->len != sizeof(m) + 8ull * m.nr) {
        reply(c, h, -EINVAL, NULL, 0, NULL, 0);
        return;
    }
    int rc = check_domid(c, m.domid);
    if (rc < 0) {
        reply(c, h, rc, NULL, 0, NULL, 0);
        return;
    }
    uint32_t err_bytes = (4 * m.nr + 7) & ~7u;
    g_autofree uint8_t *out = g_malloc0(err_bytes + 8ull * m.nr);
    for (uint32_t i = 0; i < m.nr; i++) {
        uint64_t gfn, page = 0;
        unsigned type;
        int32_t err = 0;
        memcpy(&gfn, p + sizeof(m) + 8ull * i, sizeof(gfn));
        if (!xsim_mem_lookup(&xs->mem, gfn, &page, &type))
            err = -EINVAL; /* not RAM in the guest's p2m */
        memcpy(out + 4ull * i, &err, sizeof(err));
        memcpy(out + err_bytes + 8ull * i, &page, sizeof(page));
    }
    reply(c, h, 0, out, err_bytes + 8 * m.nr, NULL, 0);
}

static int resource_server(struct xsim_conn *c, const struct xsim_fmem_resource *r,
                           struct xsim_ioreq_server **s)
{
    int rc = check_domid(c, r->domid);
    if (rc < 0)
        return rc;
    if (r->type != XENMEM_RESOURCE_IOREQ_SERVER)
        return -EOPNOTSUPP;
    return xsim_server_check(c->ws->xs, 0, r->id, s);
}

static void op_fmem_resource(struct xsim_conn *c, const struct xsim_hdr *h, const uint8_t *p)
{
    struct xsim_fmem_resource r;
    struct xsim_ioreq_server *s;
    if (!payload_is(h, sizeof(r))) {
        reply(c, h, -EINVAL, NULL, 0, NULL, 0);
        return;
    }
    memcpy(&r, p, sizeof(r));
    int rc = resource_server(c, &r, &s);
    if (rc == 0 && h->op == XSIM_OP_FMEM_RESOURCE_SIZE) {
        reply(c, h, IOREQ_SERVER_FRAMES, NULL, 0, NULL, 0);
        return;
    }
    if (rc == 0 && (r.nr == 0 || r.frame >= IOREQ_SERVER_FRAMES ||
                    r.nr > IOREQ_SERVER_FRAMES - r.frame))
        rc = -EINVAL;
    if (rc == 0 && r.frame == 0 && s->buf_page == XSIM_NO_PAGE)
        rc = -ENOENT; /* BUFIOREQ_OFF: there is no buffered page */
    if (rc == 0 && s->legacy_gfns)
        rc = -EPERM; /* a server uses one method only */
    if (rc < 0) {
        reply(c, h, rc, NULL, 0, NULL, 0);
        return;
    }
    uint64_t pages[IOREQ_SERVER_FRAMES];
    for (uint64_t i = 0; i < r.nr; i++)
        pages[i] = r.frame + i == 0 ? s->buf_page : s->shared_page;
    s->resource_mapped = true;
    reply(c, h, 0, pages, (uint32_t)(8 * r.nr), NULL, 0);
}

/* ------------------------------------------------------------------ device model, libxenctrl */

static void op_dmop(struct xsim_conn *c, const struct xsim_hdr *h, uint8_t *p)
{
    struct xsim_dmop d;
    if (h->len < sizeof(d)) {
        reply(c, h, -EINVAL, NULL, 0, NULL, 0);
        return;
    }
    memcpy(&d, p, sizeof(d));
    uint64_t total = sizeof(d);
    if (d.nr_bufs > XSIM_MAX_DMOP_BUFS) {
        reply(c, h, -E2BIG, NULL, 0, NULL, 0);
        return;
    }
    for (unsigned i = 0; i < d.nr_bufs; i++)
        total += d.buf_len[i];
    if (total != h->len) {
        reply(c, h, -EINVAL, NULL, 0, NULL, 0);
        return;
    }
    int rc = check_domid(c, d.domid);
    if (rc == 0) {
        uint8_t *bufs[XSIM_MAX_DMOP_BUFS];
        uint8_t *cur = p + sizeof(d);
        for (unsigned i = 0; i < d.nr_bufs; i++) {
            bufs[i] = cur;
            cur += d.buf_len[i];
        }
        rc = xsim_dmop(c->ws->xs, 0, d.nr_bufs, bufs, d.buf_len);
    }
    reply(c, h, rc, p, h->len, NULL, 0);
}

static int op_populate(struct xsim_conn *c, const struct xsim_hdr *h, const uint8_t *p)
{
    struct xsim_xc_populate pop;
    if (h->len < sizeof(pop))
        return -EINVAL;
    memcpy(&pop, p, sizeof(pop));
    if (pop.nr > XSIM_MAX_MAP_BATCH * 16 || h->len != sizeof(pop) + 8ull * pop.nr)
        return -EINVAL;
    int rc = check_domid(c, pop.domid);
    if (rc < 0)
        return rc;
    if (pop.extent_order != 0)
        return -EINVAL; /* xensim populates 4 KiB extents only */
    for (uint32_t i = 0; i < pop.nr; i++) {
        uint64_t gfn;
        memcpy(&gfn, p + sizeof(pop) + 8ull * i, sizeof(gfn));
        rc = xsim_mem_populate(&c->ws->xs->mem, gfn);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void op_xc(struct xsim_conn *c, const struct xsim_hdr *h, const uint8_t *p)
{
    struct xsim *xs = c->ws->xs;
    uint32_t a[2] = { 0, 0 };
    uint64_t value = 0;
    int rc;
    switch (h->op) {
    case XSIM_OP_XC_POPULATE_PHYSMAP:
        reply(c, h, op_populate(c, h, p), NULL, 0, NULL, 0);
        return;
    case XSIM_OP_XC_HVM_PARAM_GET:
    case XSIM_OP_XC_DOMAIN_SHUTDOWN:
        if (!payload_is(h, 8)) {
            reply(c, h, -EINVAL, NULL, 0, NULL, 0);
            return;
        }
        memcpy(a, p, 8);
        rc = check_domid(c, a[0]);
        if (rc == 0 && h->op == XSIM_OP_XC_DOMAIN_SHUTDOWN) {
            xsim_domain_shutdown(xs, (uint8_t)a[1]); /* Xen's domain_shutdown() takes a u8 */
        } else if (rc == 0) {
            rc = a[1] < XSIM_NR_HVM_PARAMS ? 0 : -EINVAL;
            if (rc == 0) {
                value = xs->hvm_params[a[1]];
                reply(c, h, 0, &value, sizeof(value), NULL, 0);
                return;
            }
        }
        reply(c, h, rc, NULL, 0, NULL, 0);
        return;
    case XSIM_OP_XC_HVM_PARAM_SET:
        if (!payload_is(h, 16)) {
            reply(c, h, -EINVAL, NULL, 0, NULL, 0);
            return;
        }
        memcpy(a, p, 8);
        memcpy(&value, p + 8, 8);
        rc = check_domid(c, a[0]);
        if (rc == 0 && a[1] >= XSIM_NR_HVM_PARAMS)
            rc = -EINVAL;
        if (rc == 0)
            xs->hvm_params[a[1]] = value;
        reply(c, h, rc, NULL, 0, NULL, 0);
        return;
    case XSIM_OP_XC_DOMAIN_INFO: {
        if (!payload_is(h, 4)) {
            reply(c, h, -EINVAL, NULL, 0, NULL, 0);
            return;
        }
        memcpy(a, p, 4);
        rc = check_domid(c, a[0]);
        if (rc < 0) {
            reply(c, h, rc, NULL, 0, NULL, 0);
            return;
        }
        struct xsim_xc_dominfo info = {
            .domid = xs->domid,
            .flags = 1u | (xs->shutdown_reason != XSIM_SHUTDOWN_NONE ? 4u : 0u),
            .shutdown_reason = xs->shutdown_reason < 0 ? 0 : (uint32_t)xs->shutdown_reason,
            .max_vcpu_id = xs->nr_vcpus - 1,
            .nr_pages = xsim_mem_nr_pages(&xs->mem),
            .max_pages = xsim_mem_nr_pages(&xs->mem) + (64u << 8),
        };
        reply(c, h, 0, &info, sizeof(info), NULL, 0);
        return;
    }
    default:
        reply(c, h, -ENOSYS, NULL, 0, NULL, 0);
        return;
    }
}

/* ------------------------------------------------------------------ dispatch */

static void conn_close(struct xsim_conn *c)
{
    struct xsim_wire_server *ws = c->ws;
    xsim_evtchn_close_owned_by(ws->xs, c);
    if (c->watch)
        g_source_remove(c->watch);
    close(c->fd);
    if (c->event_fd >= 0)
        close(c->event_fd);
    g_ptr_array_remove_fast(ws->conns, c);
    g_free(c);
}

/* Returns false when the connection must be closed (protocol violation). */
static bool dispatch(struct xsim_conn *c, struct xsim_hdr *h, uint8_t *p)
{
    if (!c->hello_done)
        return h->op == XSIM_OP_HELLO && op_hello(c, h, p);
    bool posted = h->flags & XSIM_F_POSTED;
    int rc;
    switch (h->op) {
    case XSIM_OP_RESTRICT:
        rc = op_restrict(c, h, p);
        break;
    case XSIM_OP_EVTCHN_BIND_INTERDOMAIN ... XSIM_OP_EVTCHN_UNMASK:
        rc = op_evtchn(c, h, p);
        if (rc < 0 && posted)
            xsim_log_limited("wire: posted evtchn op %u failed: %s", h->op, g_strerror(-rc));
        break;
    case XSIM_OP_FMEM_MAP:
        op_fmem_map(c, h, p);
        return true;
    case XSIM_OP_FMEM_MAP_RESOURCE:
    case XSIM_OP_FMEM_RESOURCE_SIZE:
        op_fmem_resource(c, h, p);
        return true;
    case XSIM_OP_DMOP:
        op_dmop(c, h, p);
        return true;
    case XSIM_OP_XC_POPULATE_PHYSMAP ... XSIM_OP_XC_DOMAIN_INFO:
        op_xc(c, h, p);
        return true;
    case XSIM_OP_GNTTAB_MAP:
        rc = -EINVAL; /* the guest grants nothing */
        break;
    default:
        rc = -ENOSYS;
        break;
    }
    if (!posted)
        reply(c, h, rc, NULL, 0, NULL, 0);
    return true;
}

static gboolean on_conn_readable(gint fd, GIOCondition cond, gpointer opaque)
{
    struct xsim_conn *c = opaque;
    struct xsim_wire_server *ws = c->ws;
    const size_t room = sizeof(struct xsim_hdr) + XSIM_MAX_PAYLOAD;
    /* MSG_TRUNC: n is the datagram's real length, so an oversized one is caught, not cut. */
    ssize_t n = recv(fd, ws->rx, room, MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return G_SOURCE_CONTINUE;
    if (n <= 0)
        goto close;
    struct xsim_hdr h;
    if ((size_t)n < sizeof(h) || (size_t)n > room)
        goto bad;
    memcpy(&h, ws->rx, sizeof(h));
    if (h.len != (size_t)n - sizeof(h))
        goto bad;
    if (!dispatch(c, &h, ws->rx + sizeof(h)))
        goto bad;
    return G_SOURCE_CONTINUE;
bad:
    xsim_log_limited("wire: malformed message on a %u connection: closing it", c->kind);
close:
    c->watch = 0;
    conn_close(c);
    return G_SOURCE_REMOVE;
}

/*
 * g_unix_fd_add without GLib's blocking of the source around each dispatch
 * (which removes and re-adds the fd to the poll set: two eventfd writes and a
 * spurious wakeup per message). No callback iterates the loop recursively.
 */
static guint hot_fd_watch_add(int fd, GIOCondition cond, GUnixFDSourceFunc fn, void *opaque)
{
    GSource *src = g_unix_fd_source_new(fd, cond);
    g_source_set_callback(src, G_SOURCE_FUNC(fn), opaque, NULL);
    g_source_set_can_recurse(src, TRUE);
    guint id = g_source_attach(src, NULL);
    g_source_unref(src);
    return id;
}

static gboolean on_accept(gint fd, GIOCondition cond, gpointer opaque)
{
    struct xsim_wire_server *ws = opaque;
    int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    if (cfd < 0)
        return G_SOURCE_CONTINUE;
    struct xsim_conn *c = g_new0(struct xsim_conn, 1);
    c->ws = ws;
    c->fd = cfd;
    c->event_fd = -1;
    c->restrict_domid = NO_RESTRICTION;
    c->watch = hot_fd_watch_add(cfd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_conn_readable, c);
    g_ptr_array_add(ws->conns, c);
    return G_SOURCE_CONTINUE;
}

struct xsim_wire_server *xsim_wire_new(struct xsim *xs, const char *path, GError **err)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(addr.sun_path)) {
        g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_NAMETOOLONG, "socket path too long: %s",
                    path);
        return NULL;
    }
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 64) < 0) {
        g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(errno), "%s: %s", path,
                    g_strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    struct xsim_wire_server *ws = g_new0(struct xsim_wire_server, 1);
    ws->xs = xs;
    ws->listen_fd = fd;
    ws->path = g_strdup(path);
    ws->conns = g_ptr_array_new();
    ws->rx = g_malloc(sizeof(struct xsim_hdr) + XSIM_MAX_PAYLOAD);
    ws->tx = g_byte_array_new();
    ws->listen_watch = g_unix_fd_add(fd, G_IO_IN, on_accept, ws);
    return ws;
}

void xsim_wire_describe_restrictions(struct xsim_wire_server *ws, GString *out)
{
    unsigned n = 0;
    GString *lines = g_string_new(NULL);
    for (guint i = 0; i < ws->conns->len; i++) {
        struct xsim_conn *c = g_ptr_array_index(ws->conns, i);
        if (!c->hello_done)
            continue;
        n++;
        if (c->restrict_domid == NO_RESTRICTION)
            g_string_append_printf(lines, " %s:unrestricted", kind_name(c->kind));
        else
            g_string_append_printf(lines, " %s:d%u", kind_name(c->kind), c->restrict_domid);
    }
    g_string_append_printf(out, "%u refused=%" G_GUINT64_FORMAT "%s", n, ws->restrict_refusals,
                           lines->str);
    g_string_free(lines, TRUE);
}

void xsim_wire_free(struct xsim_wire_server *ws)
{
    if (!ws)
        return;
    while (ws->conns->len)
        conn_close(g_ptr_array_index(ws->conns, 0));
    g_ptr_array_free(ws->conns, TRUE);
    g_source_remove(ws->listen_watch);
    close(ws->listen_fd);
    unlink(ws->path);
    g_free(ws->path);
    g_free(ws->rx);
    g_byte_array_free(ws->tx, TRUE);
    g_free(ws);
}
