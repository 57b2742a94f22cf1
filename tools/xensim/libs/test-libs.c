/*
 * Tests of xensim's drop-in Xen libraries against a small fake xensim that
 * speaks tools/xensim/wire.h: it answers HELLO (with the memfd and the event
 * socket), foreign maps, resources, DMOPs, libxenctrl calls and event
 * delivery, and records what it received so the tests can check the
 * marshalling byte for byte.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define XC_WANT_COMPAT_DEVICEMODEL_API 1
#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xengnttab.h>
#include <xentoolcore.h>
#include <xentoollog.h>

#include <signal.h>
#include <sys/wait.h>
#include <xen/io/xs_wire.h>

#include "xenabi/ioreq-abi.h"
#include "tools/xensim/libs/xentoolcore-internal.h"
#include "tools/xensim/wire.h"

#define PAGE 4096u
#define NPAGES 64u
#define SIM_DOMID 3u
#define BAD_GFN 5u
#define FAIL_POPULATE_GFN 0xdeadu
#define IOSERVER_ID 7u
#define BUF_PORT 42u
#define NR_PARAMS 64u
#define FIRST_PORT 10u
#define RESOURCE_FRAMES 2u
#define FIRST_VP_EPORT 100u
#define SHARED_PAGE (NPAGES - 1) /* resource frame 1: the synchronous ioreq page */

/* How the fake breaks its next reply to one op: the libraries must refuse it, not crash. */
enum corruption {
    CORRUPT_NONE,
    CORRUPT_SHORT,     /* the payload loses its last 8 bytes */
    CORRUPT_SEQ,       /* the reply answers another request */
    CORRUPT_LAST_PAGE, /* the last u64 (a page number) points past the memfd */
    CORRUPT_EXTRA_FD,  /* an fd the reply does not announce */
};

/* ---- the fake xensim ---- */

struct fake_state {
    char dir[64];
    char path[128];
    int listen_fd;
    int memfd;
    uint8_t *mem;
    pthread_mutex_t lock;
    /* Recorded under `lock`. */
    unsigned restricts;
    uint32_t restrict_domid;
    unsigned fmem_map_msgs;
    unsigned dmops;
    uint32_t dmop_domid;
    uint32_t dmop_nr_bufs;
    uint8_t dmop_buf0[sizeof(struct xen_dm_op)];
    uint8_t dmop_buf1[64];
    uint32_t dmop_buf1_len;
    uint32_t notified;
    uint32_t unmasked;
    uint32_t next_port;
    uint64_t params[NR_PARAMS];
    uint32_t shutdown_domid;
    uint32_t shutdown_reason;
    unsigned populated;
    /* dm-echo end to end: the device model's event socket and bound ports. */
    int dm_event_fd;
    uint32_t vcpu_local_port[2];
    uint32_t claim_type;
    uint64_t claim_start, claim_end;
    char xs_path[64];
    char xs_value[64];
    uint32_t corrupt_op;
    enum corruption corrupt;
};

static struct fake_state fake = { .lock = PTHREAD_MUTEX_INITIALIZER, .next_port = FIRST_PORT };

struct reply {
    int32_t result;
    uint8_t *buf;
    size_t len;
    int fds[2];
    unsigned nr_fds;
};

struct conn_state {
    int fd;
    int event_fd; /* xensim's end of the event socket (EVTCHN connections) */
};

static void send_reply(int fd, const struct xsim_hdr *req, const struct reply *r)
{
    struct xsim_hdr hdr = {
        .op = req->op, .seq = req->seq, .result = r->result, .len = (uint32_t)r->len,
    };
    struct iovec iov[2] = {
        { .iov_base = &hdr, .iov_len = sizeof(hdr) },
        { .iov_base = r->buf, .iov_len = r->len },
    };
    union {
        char buf[CMSG_SPACE(sizeof(int) * 2)];
        struct cmsghdr align;
    } control;
    struct msghdr msg = { .msg_iov = iov, .msg_iovlen = r->len ? 2 : 1 };

    if (r->nr_fds) {
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * r->nr_fds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * r->nr_fds);
        memcpy(CMSG_DATA(c), r->fds, sizeof(int) * r->nr_fds);
    }
    (void)sendmsg(fd, &msg, MSG_NOSIGNAL);
}

static void on_hello(struct conn_state *cs, const uint8_t *p, size_t len, struct reply *r)
{
    static struct xsim_hello_reply hr;
    struct xsim_hello h;

    if (len != sizeof(h)) {
        r->result = -EINVAL;
        return;
    }
    memcpy(&h, p, sizeof(h));
    if (h.magic != XSIM_MAGIC || h.version != XSIM_VERSION) {
        r->result = -EPROTO;
        return;
    }
    hr = (struct xsim_hello_reply){ .domid = SIM_DOMID, .nr_vcpus = 2 };
    if (h.kind == XSIM_CLIENT_FMEM) {
        r->fds[r->nr_fds++] = fake.memfd;
    } else if (h.kind == XSIM_CLIENT_EVTCHN) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
            r->result = -errno;
            return;
        }
        cs->event_fd = sv[0];
        r->fds[r->nr_fds++] = sv[1];
    }
    hr.nr_fds = r->nr_fds;
    r->buf = (uint8_t *)&hr;
    r->len = sizeof(hr);
}

static uint32_t get_u32(const uint8_t *p, size_t off)
{
    uint32_t v;

    memcpy(&v, p + off, sizeof(v));
    return v;
}

static void on_evtchn(struct conn_state *cs, uint32_t op, const uint8_t *p, size_t len,
                      struct reply *r)
{
    uint32_t port = len >= 4 ? get_u32(p, 0) : 0;

    pthread_mutex_lock(&fake.lock);
    switch (op) {
    case XSIM_OP_EVTCHN_BIND_INTERDOMAIN:
        r->result = (int32_t)fake.next_port++;
        if (len == 8 && get_u32(p, 4) - FIRST_VP_EPORT < 2) {
            fake.vcpu_local_port[get_u32(p, 4) - FIRST_VP_EPORT] = (uint32_t)r->result;
            fake.dm_event_fd = cs->event_fd;
        }
        break;
    case XSIM_OP_EVTCHN_BIND_UNBOUND:
    case XSIM_OP_EVTCHN_BIND_VIRQ:
        r->result = (int32_t)fake.next_port++;
        break;
    case XSIM_OP_EVTCHN_UNBIND:
        break;
    case XSIM_OP_EVTCHN_NOTIFY:
        /* Loop the event back: the test's remote end "answers" at once. */
        fake.notified = port;
        (void)send(cs->event_fd, &port, sizeof(port), MSG_NOSIGNAL);
        break;
    case XSIM_OP_EVTCHN_UNMASK:
        fake.unmasked = port;
        break;
    }
    pthread_mutex_unlock(&fake.lock);
}

static uint8_t *alloc_reply(struct reply *r, size_t len)
{
    r->buf = g_malloc0(len);
    r->len = len;
    return r->buf;
}

static void on_fmem_map(const uint8_t *p, size_t len, struct reply *r)
{
    struct xsim_fmem_map m;

    memcpy(&m, p, sizeof(m));
    if (len != sizeof(m) + m.nr * 8ul || m.nr > XSIM_MAX_MAP_BATCH) {
        r->result = -EINVAL;
        return;
    }
    if (m.domid != SIM_DOMID) {
        r->result = -ESRCH;
        return;
    }
    size_t err_bytes = (m.nr * 4ul + 7) & ~7ul;
    uint8_t *out = alloc_reply(r, err_bytes + m.nr * 8ul);
    for (uint32_t i = 0; i < m.nr; i++) {
        uint64_t gfn, page;
        memcpy(&gfn, p + sizeof(m) + i * 8ul, 8);
        int32_t err = gfn == BAD_GFN ? -EINVAL : 0;
        page = gfn % NPAGES;
        memcpy(out + i * 4ul, &err, 4);
        memcpy(out + err_bytes + i * 8ul, &page, 8);
    }
    pthread_mutex_lock(&fake.lock);
    fake.fmem_map_msgs++;
    pthread_mutex_unlock(&fake.lock);
}

static void on_fmem_resource(uint32_t op, const uint8_t *p, size_t len, struct reply *r)
{
    struct xsim_fmem_resource res;

    memcpy(&res, p, sizeof(res));
    if (res.type != XENMEM_resource_ioreq_server || res.id != IOSERVER_ID) {
        r->result = -ENOENT;
        return;
    }
    if (op == XSIM_OP_FMEM_RESOURCE_SIZE) {
        r->result = RESOURCE_FRAMES;
        return;
    }
    if (res.frame + res.nr > RESOURCE_FRAMES) {
        r->result = -EINVAL;
        return;
    }
    uint8_t *out = alloc_reply(r, res.nr * 8);
    for (uint64_t i = 0; i < res.nr; i++) {
        uint64_t page = NPAGES - RESOURCE_FRAMES + res.frame + i;
        memcpy(out + i * 8, &page, 8);
    }
}

/* Plays Xen's side of the DMOPs the tests use; records every request. */
static int32_t fake_dmop(struct xen_dm_op *op, uint8_t *buf1, uint32_t buf1_len)
{
    switch (op->op) {
    case XEN_DMOP_create_ioreq_server:
        /* Xen hands out zeroed ioreq pages (frame 0 buffered, frame 1 shared). */
        memset(fake.mem + (NPAGES - RESOURCE_FRAMES) * PAGE, 0, RESOURCE_FRAMES * PAGE);
        op->u.create_ioreq_server.id = IOSERVER_ID;
        return 0;
    case XEN_DMOP_get_ioreq_server_info:
        op->u.get_ioreq_server_info.bufioreq_port = BUF_PORT;
        if (!(op->u.get_ioreq_server_info.flags & XEN_DMOP_no_gfns)) {
            op->u.get_ioreq_server_info.ioreq_gfn = 0x1000;
            op->u.get_ioreq_server_info.bufioreq_gfn = 0x1001;
        }
        return 0;
    case XEN_DMOP_destroy_ioreq_server:
        return op->u.destroy_ioreq_server.id == IOSERVER_ID ? 0 : -ENOENT;
    case XEN_DMOP_nr_vcpus:
        op->u.nr_vcpus.vcpus = 2;
        return 0;
    case XEN_DMOP_track_dirty_vram:
        memset(buf1, 0xa5, buf1_len);
        return 0;
    case XEN_DMOP_set_ioreq_server_state:
        /* Enabling writes each vCPU's port into its slot, as Xen does. */
        for (uint32_t i = 0; op->u.set_ioreq_server_state.enabled && i < 2; i++) {
            uint32_t eport = FIRST_VP_EPORT + i;
            memcpy(fake.mem + SHARED_PAGE * PAGE + i * 32 + 24, &eport, 4);
        }
        return 0;
    case XEN_DMOP_map_io_range_to_ioreq_server:
        pthread_mutex_lock(&fake.lock);
        fake.claim_type = op->u.map_io_range_to_ioreq_server.type;
        fake.claim_start = op->u.map_io_range_to_ioreq_server.start;
        fake.claim_end = op->u.map_io_range_to_ioreq_server.end;
        pthread_mutex_unlock(&fake.lock);
        return 0;
    }
    return 0;
}

static void on_dmop(const uint8_t *p, size_t len, struct reply *r)
{
    struct xsim_dmop d;
    size_t total = sizeof(d);
    struct xen_dm_op op;

    memcpy(&d, p, sizeof(d));
    if (d.nr_bufs < 1 || d.nr_bufs > XSIM_MAX_DMOP_BUFS || d.buf_len[0] != sizeof(op)) {
        r->result = -EINVAL;
        return;
    }
    for (uint32_t i = 0; i < d.nr_bufs; i++)
        total += d.buf_len[i];
    if (total != len) {
        r->result = -EINVAL;
        return;
    }
    uint8_t *out = alloc_reply(r, len);
    memcpy(out, p, len);
    memcpy(&op, p + sizeof(d), sizeof(op));
    uint8_t *buf1 = out + sizeof(d) + sizeof(op);
    uint32_t buf1_len = d.nr_bufs > 1 ? d.buf_len[1] : 0;

    pthread_mutex_lock(&fake.lock);
    fake.dmops++;
    fake.dmop_domid = d.domid;
    fake.dmop_nr_bufs = d.nr_bufs;
    memcpy(fake.dmop_buf0, &op, sizeof(op));
    fake.dmop_buf1_len = buf1_len;
    memcpy(fake.dmop_buf1, buf1, MIN(buf1_len, sizeof(fake.dmop_buf1)));
    pthread_mutex_unlock(&fake.lock);

    r->result = fake_dmop(&op, buf1, buf1_len);
    memcpy(out + sizeof(d), &op, sizeof(op));
}

static void on_xc(uint32_t op, const uint8_t *p, size_t len, struct reply *r)
{
    static struct xsim_xc_dominfo info;
    uint32_t domid = get_u32(p, 0);

    pthread_mutex_lock(&fake.lock);
    if (domid != SIM_DOMID) {
        r->result = -ESRCH;
    } else if (op == XSIM_OP_XC_POPULATE_PHYSMAP) {
        struct xsim_xc_populate pop;
        memcpy(&pop, p, sizeof(pop));
        uint32_t done = 0;
        for (; done < pop.nr; done++) {
            uint64_t gfn;
            memcpy(&gfn, p + sizeof(pop) + done * 8ul, 8);
            if (gfn == FAIL_POPULATE_GFN)
                break;
        }
        fake.populated += done;
        /* xensim's convention: 0 for the whole batch, else -errno. */
        r->result = done == pop.nr ? 0 : -ENOMEM;
    } else if (op == XSIM_OP_XC_HVM_PARAM_GET || op == XSIM_OP_XC_HVM_PARAM_SET) {
        uint32_t param = get_u32(p, 4);
        if (param >= NR_PARAMS) {
            r->result = -EINVAL;
        } else if (op == XSIM_OP_XC_HVM_PARAM_SET) {
            memcpy(&fake.params[param], p + 8, 8);
        } else {
            memcpy(alloc_reply(r, 8), &fake.params[param], 8);
        }
    } else if (op == XSIM_OP_XC_DOMAIN_SHUTDOWN) {
        fake.shutdown_domid = domid;
        fake.shutdown_reason = get_u32(p, 4);
    } else if (op == XSIM_OP_XC_DOMAIN_INFO) {
        info = (struct xsim_xc_dominfo){
            .domid = SIM_DOMID, .flags = 1 | 2, .max_vcpu_id = 1, .nr_pages = NPAGES,
            .max_pages = 2 * NPAGES,
        };
        r->buf = (uint8_t *)&info;
        r->len = sizeof(info);
    }
    pthread_mutex_unlock(&fake.lock);
}

static void dispatch(struct conn_state *cs, const struct xsim_hdr *hdr, const uint8_t *p,
                     struct reply *r)
{
    uint32_t op = hdr->op;

    if (op == XSIM_OP_HELLO) {
        on_hello(cs, p, hdr->len, r);
    } else if (op == XSIM_OP_RESTRICT) {
        pthread_mutex_lock(&fake.lock);
        fake.restricts++;
        fake.restrict_domid = get_u32(p, 0);
        pthread_mutex_unlock(&fake.lock);
    } else if (op >= XSIM_OP_EVTCHN_BIND_INTERDOMAIN && op <= XSIM_OP_EVTCHN_UNMASK) {
        on_evtchn(cs, op, p, hdr->len, r);
    } else if (op == XSIM_OP_FMEM_MAP) {
        on_fmem_map(p, hdr->len, r);
    } else if (op == XSIM_OP_FMEM_MAP_RESOURCE || op == XSIM_OP_FMEM_RESOURCE_SIZE) {
        on_fmem_resource(op, p, hdr->len, r);
    } else if (op == XSIM_OP_DMOP) {
        on_dmop(p, hdr->len, r);
    } else if (op >= XSIM_OP_XC_POPULATE_PHYSMAP && op <= XSIM_OP_XC_DOMAIN_INFO) {
        on_xc(op, p, hdr->len, r);
    } else if (op == XSIM_OP_GNTTAB_MAP) {
        r->result = -EINVAL;
    } else {
        r->result = -ENOSYS;
    }
}

static void break_next_reply(uint32_t op, enum corruption how)
{
    pthread_mutex_lock(&fake.lock);
    fake.corrupt_op = op;
    fake.corrupt = how;
    pthread_mutex_unlock(&fake.lock);
}

/* Applies (once) the corruption armed for this op; returns it. */
static enum corruption corrupt_reply(struct xsim_hdr *hdr, struct reply *r)
{
    pthread_mutex_lock(&fake.lock);
    enum corruption how = hdr->op == fake.corrupt_op ? fake.corrupt : CORRUPT_NONE;
    if (how != CORRUPT_NONE)
        fake.corrupt = CORRUPT_NONE;
    pthread_mutex_unlock(&fake.lock);

    switch (how) {
    case CORRUPT_NONE:
        break;
    case CORRUPT_SHORT:
        r->len = r->len >= 8 ? r->len - 8 : 0;
        break;
    case CORRUPT_SEQ:
        hdr->seq++;
        break;
    case CORRUPT_LAST_PAGE:
        if (r->len >= 8) {
            uint64_t past_end = NPAGES;
            memcpy(r->buf + r->len - 8, &past_end, 8);
        }
        break;
    case CORRUPT_EXTRA_FD:
        r->fds[r->nr_fds++] = dup(fake.memfd);
        break;
    }
    return how;
}

static void *serve_conn(void *arg)
{
    struct conn_state cs = { .fd = GPOINTER_TO_INT(arg), .event_fd = -1 };
    uint8_t *msg = g_malloc(sizeof(struct xsim_hdr) + XSIM_MAX_PAYLOAD + 16);

    for (;;) {
        ssize_t n = recv(cs.fd, msg, sizeof(struct xsim_hdr) + XSIM_MAX_PAYLOAD + 16, 0);
        if (n < (ssize_t)sizeof(struct xsim_hdr))
            break;
        struct xsim_hdr hdr;
        memcpy(&hdr, msg, sizeof(hdr));
        if (hdr.len != n - sizeof(hdr))
            break;
        struct reply r = { 0 };
        dispatch(&cs, &hdr, msg + sizeof(hdr), &r);
        struct xsim_hdr reply_hdr = hdr;
        enum corruption how = corrupt_reply(&reply_hdr, &r);
        if (!(hdr.flags & XSIM_F_POSTED))
            send_reply(cs.fd, &reply_hdr, &r);
        if (how == CORRUPT_EXTRA_FD)
            close(r.fds[--r.nr_fds]);
        if (hdr.op == XSIM_OP_HELLO && cs.event_fd >= 0 && r.nr_fds)
            close(r.fds[0]); /* the client has its own copy now */
        if (r.buf && hdr.op != XSIM_OP_HELLO && hdr.op != XSIM_OP_XC_DOMAIN_INFO)
            g_free(r.buf);
    }
    g_free(msg);
    if (cs.event_fd >= 0)
        close(cs.event_fd);
    close(cs.fd);
    return NULL;
}

static void *accept_loop(void *arg)
{
    for (;;) {
        int fd = accept4(fake.listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            return NULL;
        pthread_t t;
        pthread_create(&t, NULL, serve_conn, GINT_TO_POINTER(fd));
        pthread_detach(t);
    }
}

static void fake_start(void)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    pthread_t t;

    g_strlcpy(fake.dir, "/tmp/xsim-test-XXXXXX", sizeof(fake.dir));
    g_assert_nonnull(g_mkdtemp(fake.dir));
    g_snprintf(fake.path, sizeof(fake.path), "%s/xensim.sock", fake.dir);
    g_strlcpy(addr.sun_path, fake.path, sizeof(addr.sun_path));
    fake.listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    g_assert_cmpint(bind(fake.listen_fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    g_assert_cmpint(listen(fake.listen_fd, 16), ==, 0);

    fake.memfd = memfd_create("fake-guest-ram", MFD_CLOEXEC);
    g_assert_cmpint(ftruncate(fake.memfd, NPAGES * PAGE), ==, 0);
    fake.mem = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fake.memfd, 0);
    g_assert_true(fake.mem != MAP_FAILED);
    for (uint64_t i = 0; i < NPAGES; i++) {
        uint64_t tag = 0x1000 + i;
        memcpy(fake.mem + i * PAGE, &tag, sizeof(tag));
    }
    g_setenv(XSIM_SOCKET_ENV, fake.path, TRUE);
    pthread_create(&t, NULL, accept_loop, NULL);
    pthread_detach(t);
}

/* A minimal xenstored (xen/io/xs_wire.h) for dm-echo: records writes, answers OK. */
static bool read_full(int fd, void *buf, size_t len)
{
    for (size_t done = 0; done < len;) {
        ssize_t n = read(fd, (char *)buf + done, len - done);
        if (n <= 0)
            return false;
        done += (size_t)n;
    }
    return true;
}

static void serve_xenstore_client(int fd)
{
    struct xsd_sockmsg msg;
    char body[XENSTORE_PAYLOAD_MAX + 1];

    while (read_full(fd, &msg, sizeof(msg)) && msg.len <= XENSTORE_PAYLOAD_MAX &&
           read_full(fd, body, msg.len)) {
        const char *answer = "OK";
        body[msg.len] = '\0';
        if (msg.type == XS_WRITE) {
            size_t path_len = strnlen(body, msg.len);
            pthread_mutex_lock(&fake.lock);
            g_strlcpy(fake.xs_path, body, sizeof(fake.xs_path));
            if (path_len < msg.len)
                g_strlcpy(fake.xs_value, body + path_len + 1, sizeof(fake.xs_value));
            pthread_mutex_unlock(&fake.lock);
        } else {
            msg.type = XS_ERROR;
            answer = "ENOSYS";
        }
        msg.len = (uint32_t)strlen(answer) + 1;
        if (write(fd, &msg, sizeof(msg)) != sizeof(msg) || write(fd, answer, msg.len) < 0)
            break;
    }
    close(fd);
}

static void *xenstore_loop(void *arg)
{
    int listen_fd = GPOINTER_TO_INT(arg);

    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            return NULL;
        serve_xenstore_client(fd);
    }
}

static void fake_xenstore_start(void)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    pthread_t t;

    g_snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/xenstored.sock", fake.dir);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    g_assert_cmpint(listen(fd, 4), ==, 0);
    g_setenv("XENSTORED_PATH", addr.sun_path, TRUE);
    pthread_create(&t, NULL, xenstore_loop, GINT_TO_POINTER(fd));
    pthread_detach(t);
}

static void fake_stop(void)
{
    g_autofree char *xs = g_strdup_printf("%s/xenstored.sock", fake.dir);

    unlink(xs);
    unlink(fake.path);
    rmdir(fake.dir);
}

/* ---- helpers ---- */

static uint64_t page_tag(const void *page)
{
    uint64_t v;

    memcpy(&v, page, sizeof(v));
    return v;
}

/* The protection of the mapping at addr, from /proc/self/maps ("rw-p", "---p"). */
static gboolean mapping_perms(const void *addr, char perms[5])
{
    g_autofree char *maps = NULL;
    gboolean found = FALSE;

    g_assert_true(g_file_get_contents("/proc/self/maps", &maps, NULL, NULL));
    g_auto(GStrv) lines = g_strsplit(maps, "\n", -1);
    for (char **l = lines; *l && !found; l++) {
        unsigned long lo, hi;
        char p[5];
        if (sscanf(*l, "%lx-%lx %4s", &lo, &hi, p) == 3 && (uintptr_t)addr >= lo &&
            (uintptr_t)addr < hi) {
            memcpy(perms, p, 5);
            found = TRUE;
        }
    }
    return found;
}

static unsigned fake_counter(const unsigned *field)
{
    pthread_mutex_lock(&fake.lock);
    unsigned v = *field;
    pthread_mutex_unlock(&fake.lock);
    return v;
}

static struct xen_dm_op last_dmop(void)
{
    struct xen_dm_op op;

    pthread_mutex_lock(&fake.lock);
    memcpy(&op, fake.dmop_buf0, sizeof(op));
    pthread_mutex_unlock(&fake.lock);
    return op;
}

/* ---- tests ---- */

static void test_open_absent(void)
{
    g_autofree char *saved = g_strdup(g_getenv(XSIM_SOCKET_ENV));
    g_autofree char *missing = g_strdup_printf("%s/absent.sock", fake.dir);
    g_autofree char *deaf = g_strdup_printf("%s/deaf.sock", fake.dir);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };

    g_unsetenv(XSIM_SOCKET_ENV);
    errno = 0;
    g_assert_null(xenevtchn_open(NULL, 0));
    g_assert_cmpint(errno, ==, ENOENT);

    g_setenv(XSIM_SOCKET_ENV, missing, TRUE);
    errno = 0;
    g_assert_null(xenforeignmemory_open(NULL, 0));
    g_assert_cmpint(errno, ==, ENOENT);

    /* A socket nobody listens on: xensim died and left its socket behind. */
    int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    g_strlcpy(addr.sun_path, deaf, sizeof(addr.sun_path));
    g_assert_cmpint(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    g_setenv(XSIM_SOCKET_ENV, deaf, TRUE);
    errno = 0;
    g_assert_null(xendevicemodel_open(NULL, 0));
    g_assert_cmpint(errno, ==, ECONNREFUSED);
    errno = 0;
    g_assert_null(xc_interface_open(NULL, NULL, 0));
    g_assert_cmpint(errno, ==, ECONNREFUSED);
    close(fd);
    unlink(deaf);

    g_setenv(XSIM_SOCKET_ENV, saved, TRUE);
}

static void test_evtchn(void)
{
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);

    g_assert_nonnull(xce);
    int fd = xenevtchn_fd(xce);
    g_assert_cmpint(fd, >=, 0);

    int port = xenevtchn_bind_interdomain(xce, SIM_DOMID, 5);
    g_assert_cmpint(port, >=, FIRST_PORT);
    g_assert_cmpint(xenevtchn_notify(xce, port), ==, 0);
    g_assert_cmpint(xenevtchn_pending(xce), ==, port);
    g_assert_cmpint(xenevtchn_unmask(xce, port), ==, 0);

    /* Nothing pending on a non-blocking fd: EAGAIN, as /dev/xen/evtchn. */
    g_assert_cmpint(fcntl(fd, F_SETFL, O_NONBLOCK), ==, 0);
    errno = 0;
    g_assert_cmpint(xenevtchn_pending(xce), ==, -1);
    g_assert_cmpint(errno, ==, EAGAIN);

    /* Ports this handle did not bind: the Linux driver's answers. */
    errno = 0;
    g_assert_cmpint(xenevtchn_notify(xce, 999), ==, -1);
    g_assert_cmpint(errno, ==, ENOTCONN);
    g_assert_cmpint(xenevtchn_unmask(xce, 999), ==, 0);
    errno = 0;
    g_assert_cmpint(xenevtchn_unbind(xce, 1u << 20), ==, -1);
    g_assert_cmpint(errno, ==, EINVAL);

    int unbound = xenevtchn_bind_unbound_port(xce, SIM_DOMID);
    g_assert_cmpint(unbound, >, port);
    g_assert_cmpint(xenevtchn_unbind(xce, (evtchn_port_t)port), ==, 0);
    /* The posted unmask was handled before the synchronous unbind. */
    g_assert_cmpuint(fake_counter(&fake.unmasked), ==, (unsigned)port);
    errno = 0;
    g_assert_cmpint(xenevtchn_notify(xce, (evtchn_port_t)port), ==, -1);
    g_assert_cmpint(errno, ==, ENOTCONN);
    g_assert_cmpint(xenevtchn_close(xce), ==, 0);
    g_assert_cmpint(xenevtchn_close(NULL), ==, 0);
}

static void test_fmem_map(void)
{
    xenforeignmemory_handle *fmem = xenforeignmemory_open(NULL, 0);
    const xen_pfn_t gfns[4] = { 1, 2, BAD_GFN, 9 };
    int err[4] = { 1, 1, 1, 1 };
    char perms[5];

    g_assert_nonnull(fmem);
    uint8_t *p = xenforeignmemory_map(fmem, SIM_DOMID, PROT_READ | PROT_WRITE, 4, gfns, err);
    g_assert_nonnull(p);
    g_assert_cmpint(err[0], ==, 0);
    g_assert_cmpint(err[1], ==, 0);
    g_assert_cmpint(err[2], ==, -EINVAL);
    g_assert_cmpint(err[3], ==, 0);
    g_assert_cmphex(page_tag(p), ==, 0x1001);
    g_assert_cmphex(page_tag(p + PAGE), ==, 0x1002);
    g_assert_cmphex(page_tag(p + 3 * PAGE), ==, 0x1009);
    /* The failed page stays reserved but inaccessible. */
    g_assert_true(mapping_perms(p + 2 * PAGE, perms));
    g_assert_cmpstr(perms, ==, "---p");
    g_assert_true(mapping_perms(p, perms));
    g_assert_cmpstr(perms, ==, "rw-s");
    /* The mapping is the guest's RAM: writes reach xensim's memfd. */
    p[PAGE + 8] = 0x5a;
    g_assert_cmpint(fake.mem[2 * PAGE + 8], ==, 0x5a);
    g_assert_cmpint(xenforeignmemory_unmap(fmem, p, 4), ==, 0);

    /* Without err[] one bad page fails the whole map with its error. */
    errno = 0;
    g_assert_null(xenforeignmemory_map(fmem, SIM_DOMID, PROT_READ, 4, gfns, NULL));
    g_assert_cmpint(errno, ==, EINVAL);
    /* The whole request refused: xensim's error. */
    errno = 0;
    g_assert_null(xenforeignmemory_map(fmem, SIM_DOMID + 1, PROT_READ, 1, gfns, err));
    g_assert_cmpint(errno, ==, ESRCH);
    errno = 0;
    g_assert_null(xenforeignmemory_map(fmem, SIM_DOMID, PROT_READ, 0, gfns, err));
    g_assert_cmpint(errno, ==, EINVAL);

    /* map2 with MAP_FIXED lands exactly on the hint. */
    void *hint = mmap(NULL, 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_assert_true(hint != MAP_FAILED);
    const xen_pfn_t fixed_gfns[2] = { 9, 10 };
    uint8_t *q = xenforeignmemory_map2(fmem, SIM_DOMID, hint, PROT_READ, MAP_FIXED, 2,
                                       fixed_gfns, NULL);
    g_assert_true(q == hint);
    g_assert_cmphex(page_tag(q), ==, 0x1009);
    g_assert_cmphex(page_tag(q + PAGE), ==, 0x100a);
    g_assert_true(mapping_perms(q, perms));
    g_assert_cmpstr(perms, ==, "r--s");
    xenforeignmemory_unmap(fmem, q, 2);
    g_assert_cmpint(xenforeignmemory_close(fmem), ==, 0);
}

static void test_fmem_map_large(void)
{
    xenforeignmemory_handle *fmem = xenforeignmemory_open(NULL, 0);
    const size_t n = XSIM_MAX_MAP_BATCH + 100;
    g_autofree xen_pfn_t *gfns = g_new(xen_pfn_t, n);

    g_assert_nonnull(fmem);
    for (size_t i = 0; i < n; i++)
        gfns[i] = i + 64 * (i == BAD_GFN); /* skip the bad gfn: same page, next wrap */
    unsigned before = fake_counter(&fake.fmem_map_msgs);
    uint8_t *p = xenforeignmemory_map(fmem, SIM_DOMID, PROT_READ, n, gfns, NULL);
    g_assert_nonnull(p);
    g_assert_cmpuint(fake_counter(&fake.fmem_map_msgs) - before, ==, 2);
    for (size_t i = 0; i < n; i += 37)
        g_assert_cmphex(page_tag(p + i * PAGE), ==, 0x1000 + i % NPAGES);
    g_assert_cmphex(page_tag(p + (n - 1) * PAGE), ==, 0x1000 + (n - 1) % NPAGES);
    xenforeignmemory_unmap(fmem, p, n);
    xenforeignmemory_close(fmem);
}

static void test_fmem_resource(void)
{
    xenforeignmemory_handle *fmem = xenforeignmemory_open(NULL, 0);
    void *addr = NULL;
    size_t size = 0;

    g_assert_nonnull(fmem);
    xenforeignmemory_resource_handle *fres = xenforeignmemory_map_resource(
        fmem, SIM_DOMID, XENMEM_resource_ioreq_server, IOSERVER_ID, 0, 2, &addr,
        PROT_READ | PROT_WRITE, 0);
    g_assert_nonnull(fres);
    g_assert_nonnull(addr);
    g_assert_cmphex(page_tag(addr), ==, 0x1000 + NPAGES - 2);
    g_assert_cmphex(page_tag((uint8_t *)addr + PAGE), ==, 0x1000 + NPAGES - 1);
    g_assert_cmpint(xenforeignmemory_unmap_resource(fmem, fres), ==, 0);

    g_assert_cmpint(xenforeignmemory_resource_size(fmem, SIM_DOMID,
                                                   XENMEM_resource_ioreq_server, IOSERVER_ID,
                                                   &size), ==, 0);
    g_assert_cmpuint(size, ==, 2 * PAGE);

    addr = NULL;
    errno = 0;
    g_assert_null(xenforeignmemory_map_resource(fmem, SIM_DOMID, XENMEM_resource_ioreq_server,
                                                99, 0, 1, &addr, PROT_READ, 0));
    g_assert_cmpint(errno, ==, ENOENT);
    xenforeignmemory_close(fmem);
}

static void test_dmop_ioreq_server(void)
{
    xendevicemodel_handle *dmod = xendevicemodel_open(NULL, 0);
    ioservid_t id = 0;
    xen_pfn_t ioreq_gfn = 0, bufioreq_gfn = 0;
    evtchn_port_t port = 0;
    struct xen_dm_op op;

    g_assert_nonnull(dmod);
    g_assert_cmpint(xendevicemodel_create_ioreq_server(dmod, SIM_DOMID,
                                                       HVM_IOREQSRV_BUFIOREQ_ATOMIC, &id), ==, 0);
    g_assert_cmpuint(id, ==, IOSERVER_ID);
    op = last_dmop();
    g_assert_cmpuint(op.op, ==, XEN_DMOP_create_ioreq_server);
    g_assert_cmpuint(op.u.create_ioreq_server.handle_bufioreq, ==, HVM_IOREQSRV_BUFIOREQ_ATOMIC);
    g_assert_cmpuint(fake.dmop_domid, ==, SIM_DOMID);

    /* No gfn pointers: the library asks Xen not to map the pages into the guest. */
    g_assert_cmpint(xendevicemodel_get_ioreq_server_info(dmod, SIM_DOMID, id, NULL, NULL,
                                                         &port), ==, 0);
    g_assert_cmpuint(port, ==, BUF_PORT);
    g_assert_true(last_dmop().u.get_ioreq_server_info.flags & XEN_DMOP_no_gfns);
    g_assert_cmpint(xendevicemodel_get_ioreq_server_info(dmod, SIM_DOMID, id, &ioreq_gfn,
                                                         &bufioreq_gfn, NULL), ==, 0);
    g_assert_cmphex(ioreq_gfn, ==, 0x1000);
    g_assert_cmphex(bufioreq_gfn, ==, 0x1001);

    g_assert_cmpint(xendevicemodel_map_io_range_to_ioreq_server(dmod, SIM_DOMID, id, 1,
                                                                0xfebf0000, 0xfebfffff), ==, 0);
    op = last_dmop();
    g_assert_cmpuint(op.op, ==, XEN_DMOP_map_io_range_to_ioreq_server);
    g_assert_cmpuint(op.u.map_io_range_to_ioreq_server.type, ==, XEN_DMOP_IO_RANGE_MEMORY);
    g_assert_cmphex(op.u.map_io_range_to_ioreq_server.start, ==, 0xfebf0000);
    g_assert_cmphex(op.u.map_io_range_to_ioreq_server.end, ==, 0xfebfffff);

    g_assert_cmpint(xendevicemodel_map_pcidev_to_ioreq_server(dmod, SIM_DOMID, id, 0, 0, 3, 1),
                    ==, 0);
    op = last_dmop();
    g_assert_cmpuint(op.u.map_io_range_to_ioreq_server.type, ==, XEN_DMOP_IO_RANGE_PCI);
    g_assert_cmphex(op.u.map_io_range_to_ioreq_server.start, ==, (3 << 3) | 1);

    /* A device number the SBDF cannot hold never reaches Xen. */
    unsigned before = fake_counter(&fake.dmops);
    errno = 0;
    g_assert_cmpint(xendevicemodel_map_pcidev_to_ioreq_server(dmod, SIM_DOMID, id, 0, 0, 32, 0),
                    ==, -1);
    g_assert_cmpint(errno, ==, EINVAL);
    g_assert_cmpuint(fake_counter(&fake.dmops), ==, before);

    g_assert_cmpint(xendevicemodel_set_ioreq_server_state(dmod, SIM_DOMID, id, 5), ==, 0);
    g_assert_cmpuint(last_dmop().u.set_ioreq_server_state.enabled, ==, 1);

    errno = 0;
    g_assert_cmpint(xendevicemodel_destroy_ioreq_server(dmod, SIM_DOMID, 99), ==, -1);
    g_assert_cmpint(errno, ==, ENOENT);
    g_assert_cmpint(xendevicemodel_destroy_ioreq_server(dmod, SIM_DOMID, id), ==, 0);
    xendevicemodel_close(dmod);
}

static void test_dmop_raw_layout(void)
{
    xendevicemodel_handle *dmod = xendevicemodel_open(NULL, 0);
    uint8_t raw[sizeof(struct xen_dm_op)];
    uint32_t u32;
    uint64_t u64;

    g_assert_nonnull(dmod);
    g_assert_cmpuint(sizeof(struct xen_dm_op), ==, 32);
    /* inject_msi: op u32 @0, then the union @8: data u32 @0, addr u64 @8. */
    g_assert_cmpint(xendevicemodel_inject_msi(dmod, SIM_DOMID, 0x1fee01000ull, 0x4041), ==, 0);
    pthread_mutex_lock(&fake.lock);
    memcpy(raw, fake.dmop_buf0, sizeof(raw));
    g_assert_cmpuint(fake.dmop_nr_bufs, ==, 1);
    pthread_mutex_unlock(&fake.lock);
    memcpy(&u32, raw, 4);
    g_assert_cmpuint(u32, ==, 14);
    memcpy(&u32, raw + 8, 4);
    g_assert_cmphex(u32, ==, 0x4041);
    memcpy(&u64, raw + 16, 8);
    g_assert_cmphex(u64, ==, 0x1fee01000ull);

    /* set_pci_intx_level: domain u16 @0, bus @2, device @3, intx @4, level @5. */
    g_assert_cmpint(xendevicemodel_set_pci_intx_level(dmod, SIM_DOMID, 0, 0, 4, 1, 1), ==, 0);
    pthread_mutex_lock(&fake.lock);
    memcpy(raw, fake.dmop_buf0, sizeof(raw));
    pthread_mutex_unlock(&fake.lock);
    g_assert_cmpuint(raw[0], ==, XEN_DMOP_set_pci_intx_level);
    g_assert_cmpuint(raw[8 + 3], ==, 4);
    g_assert_cmpuint(raw[8 + 4], ==, 1);
    g_assert_cmpuint(raw[8 + 5], ==, 1);

    g_assert_cmpint(xendevicemodel_shutdown(dmod, SIM_DOMID, SHUTDOWN_reboot), ==, 0);
    g_assert_cmpuint(last_dmop().op, ==, XEN_DMOP_remote_shutdown);
    g_assert_cmpuint(last_dmop().u.remote_shutdown.reason, ==, SHUTDOWN_reboot);
    xendevicemodel_close(dmod);
}

static void test_dmop_buffers(void)
{
    xendevicemodel_handle *dmod = xendevicemodel_open(NULL, 0);
    unsigned long bitmap[2] = { 0, 0 };
    unsigned vcpus = 0;
    struct xen_dm_op_modified_memory_extent ext;

    g_assert_nonnull(dmod);
    /* 20 pages: the hypercall writes 3 bitmap bytes, and only those come back. */
    g_assert_cmpint(xendevicemodel_track_dirty_vram(dmod, SIM_DOMID, 0xf0000, 20, bitmap), ==, 0);
    g_assert_cmphex(bitmap[0], ==, 0xa5a5a5);
    g_assert_cmpuint(fake.dmop_buf1_len, ==, 3);
    g_assert_cmpuint(last_dmop().u.track_dirty_vram.nr, ==, 20);
    g_assert_cmphex(last_dmop().u.track_dirty_vram.first_pfn, ==, 0xf0000);
    errno = 0;
    g_assert_cmpint(xendevicemodel_track_dirty_vram(dmod, SIM_DOMID, 0, (1u << 18) + 1, bitmap),
                    ==, -1);
    g_assert_cmpint(errno, ==, EINVAL);

    g_assert_cmpint(xendevicemodel_nr_vcpus(dmod, SIM_DOMID, &vcpus), ==, 0);
    g_assert_cmpuint(vcpus, ==, 2);

    g_assert_cmpint(xendevicemodel_modified_memory(dmod, SIM_DOMID, 0x200, 3), ==, 0);
    g_assert_cmpuint(last_dmop().u.modified_memory.nr_extents, ==, 1);
    g_assert_cmpuint(fake.dmop_buf1_len, ==, sizeof(ext));
    memcpy(&ext, fake.dmop_buf1, sizeof(ext));
    g_assert_cmphex(ext.first_pfn, ==, 0x200);
    g_assert_cmpuint(ext.nr, ==, 3);
    xendevicemodel_close(dmod);
}

static void test_xc(void)
{
    xc_interface *xch = xc_interface_open(NULL, NULL, 0);
    xen_pfn_t gfns[3] = { 0x100, 0x101, 0x102 };
    uint64_t v = 0;
    unsigned long ul = 0;
    xc_dominfo_t info;
    xc_domaininfo_t dinfo;

    g_assert_nonnull(xch);
    g_assert_nonnull(xc_interface_fmem_handle(xch));
    g_assert_nonnull(xc_interface_dmod_handle(xch));

    unsigned before = fake_counter(&fake.populated);
    g_assert_cmpint(xc_domain_populate_physmap_exact(xch, SIM_DOMID, 3, 0, 0, gfns), ==, 0);
    g_assert_cmpuint(fake_counter(&fake.populated) - before, ==, 3);
    gfns[1] = FAIL_POPULATE_GFN;
    errno = 0;
    g_assert_cmpint(xc_domain_populate_physmap_exact(xch, SIM_DOMID, 3, 0, 0, gfns), ==, -1);
    g_assert_cmpint(errno, ==, ENOMEM);
    /* Big requests go in batches; a failing later batch still reports the earlier ones. */
    g_autofree xen_pfn_t *many = g_new0(xen_pfn_t, XSIM_MAX_MAP_BATCH + 2);
    many[XSIM_MAX_MAP_BATCH + 1] = FAIL_POPULATE_GFN;
    g_assert_cmpint(xc_domain_populate_physmap(xch, SIM_DOMID, XSIM_MAX_MAP_BATCH + 2, 0, 0,
                                               many), ==, XSIM_MAX_MAP_BATCH);

    g_assert_cmpint(xc_hvm_param_set(xch, SIM_DOMID, HVM_PARAM_IOREQ_PFN, 0xfeff0), ==, 0);
    g_assert_cmpint(xc_hvm_param_get(xch, SIM_DOMID, HVM_PARAM_IOREQ_PFN, &v), ==, 0);
    g_assert_cmphex(v, ==, 0xfeff0);
    g_assert_cmpint(xc_set_hvm_param(xch, SIM_DOMID, HVM_PARAM_BUFIOREQ_PFN, 77), ==, 0);
    g_assert_cmpint(xc_get_hvm_param(xch, SIM_DOMID, HVM_PARAM_BUFIOREQ_PFN, &ul), ==, 0);
    g_assert_cmpuint(ul, ==, 77);
    errno = 0;
    g_assert_cmpint(xc_hvm_param_get(xch, SIM_DOMID, 1000, &v), ==, -1);
    g_assert_cmpint(errno, ==, EINVAL);

    g_assert_cmpint(xc_domain_shutdown(xch, SIM_DOMID, SHUTDOWN_poweroff), ==, 0);
    g_assert_cmpuint(fake_counter(&fake.shutdown_reason), ==, SHUTDOWN_poweroff);
    g_assert_cmpuint(fake_counter(&fake.shutdown_domid), ==, SIM_DOMID);

    g_assert_cmpint(xc_domain_getinfo(xch, 1, 1, &info), ==, 1);
    g_assert_cmpuint(info.domid, ==, SIM_DOMID);
    g_assert_true(info.hvm && info.paused && !info.running && !info.shutdown);
    g_assert_cmpuint(info.max_memkb, ==, 2 * NPAGES * 4);
    g_assert_cmpint(xc_domain_getinfo(xch, SIM_DOMID + 1, 1, &info), ==, 0);
    g_assert_cmpint(xc_domain_getinfolist(xch, SIM_DOMID, 4, &dinfo), ==, 1);
    g_assert_cmpuint(dinfo.domain, ==, SIM_DOMID);
    g_assert_true(dinfo.flags & XEN_DOMINF_hvm_guest);
    g_assert_true(dinfo.flags & XEN_DOMINF_paused);
    g_assert_cmpuint(dinfo.tot_pages, ==, NPAGES);

    /* The compat API forwards to libxendevicemodel. */
    g_assert_cmpint(xc_hvm_set_isa_irq_level(xch, SIM_DOMID, 9, 1), ==, 0);
    g_assert_cmpuint(last_dmop().op, ==, XEN_DMOP_set_isa_irq_level);
    g_assert_cmpuint(last_dmop().u.set_isa_irq_level.isa_irq, ==, 9);

    /* Passthrough: no host devices. */
    int pirq = -1;
    errno = 0;
    g_assert_cmpint(xc_physdev_map_pirq(xch, SIM_DOMID, 10, &pirq), ==, -1);
    g_assert_cmpint(errno, ==, EPERM);
    errno = 0;
    g_assert_cmpint(xc_domain_memory_mapping(xch, SIM_DOMID, 0xf0000, 0xf0000, 1, 1), ==, -1);
    g_assert_cmpint(errno, ==, EPERM);
    /* Everything else: ENOSYS from the generated stubs. */
    errno = 0;
    g_assert_cmpint(xc_domain_pause(xch, SIM_DOMID), ==, -1);
    g_assert_cmpint(errno, ==, ENOSYS);
    g_assert_null(xc_cpupool_getinfo(xch, 0));
    g_assert_cmpint(xc_interface_close(xch), ==, 0);
}

static void test_restrict(void)
{
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    xenforeignmemory_handle *fmem = xenforeignmemory_open(NULL, 0);
    xendevicemodel_handle *dmod = xendevicemodel_open(NULL, 0);
    int pipefd[2];
    char c;

    g_assert_true(xce && fmem && dmod);
    unsigned before = fake_counter(&fake.restricts);
    g_assert_cmpint(xentoolcore_restrict_all(SIM_DOMID), ==, 0);
    g_assert_cmpuint(fake_counter(&fake.restricts) - before, ==, 3);
    g_assert_cmpuint(fake_counter(&fake.restrict_domid), ==, SIM_DOMID);
    xenevtchn_close(xce);
    xenforeignmemory_close(fmem);
    xendevicemodel_close(dmod);
    /* Closed handles leave the registry. */
    before = fake_counter(&fake.restricts);
    g_assert_cmpint(xentoolcore_restrict_all(SIM_DOMID), ==, 0);
    g_assert_cmpuint(fake_counter(&fake.restricts), ==, before);

    g_assert_cmpint(pipe(pipefd), ==, 0);
    g_assert_cmpint(xentoolcore__restrict_by_dup2_null(pipefd[0]), ==, 0);
    g_assert_cmpint(read(pipefd[0], &c, 1), ==, 0); /* /dev/null: end of file */
    close(pipefd[0]);
    close(pipefd[1]);
}

static void test_gnttab(void)
{
    xengnttab_handle *xgt = xengnttab_open(NULL, 0);
    uint32_t refs[2] = { 8, 9 };
    xengnttab_grant_copy_segment_t seg = { .flags = GNTCOPY_source_gref };

    g_assert_nonnull(xgt);
    g_assert_cmpint(xengnttab_set_max_grants(xgt, 128), ==, 0);
    errno = 0;
    g_assert_null(xengnttab_map_domain_grant_refs(xgt, 2, SIM_DOMID, refs, PROT_READ));
    g_assert_cmpint(errno, ==, EINVAL);
    g_assert_cmpint(xengnttab_grant_copy(xgt, 1, &seg), ==, 0);
    g_assert_cmpint(seg.status, ==, GNTST_bad_gntref);
    g_assert_cmpint(xengnttab_close(xgt), ==, 0);
    errno = 0;
    g_assert_null(xengntshr_open(NULL, 0));
    g_assert_cmpint(errno, ==, ENOENT);
}

static void test_toollog(void)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    xentoollog_logger_stdiostream *s = xtl_createlogger_stdiostream(f, XTL_INFO, 0);

    g_assert_nonnull(s);
    xtl_log((xentoollog_logger *)s, XTL_ERROR, ENOENT, "ctx", "hello %d", 42);
    xtl_log((xentoollog_logger *)s, XTL_DEBUG, -1, "ctx", "filtered");
    xtl_stdiostream_set_minlevel(s, XTL_DEBUG);
    xtl_log((xentoollog_logger *)s, XTL_DEBUG, -1, NULL, "shown");
    errno = EBADF;
    xtl_log((xentoollog_logger *)s, XTL_WARN, -1, "ctx", "keeps errno");
    g_assert_cmpint(errno, ==, EBADF);
    xtl_logger_destroy((xentoollog_logger *)s);
    xtl_logger_destroy(NULL);
    fclose(f);
    g_assert_cmpstr(text, ==,
                    "ctx: error: hello 42: No such file or directory\n"
                    "debug: shown\n"
                    "ctx: warning: keeps errno\n");
    free(text);
    g_assert_cmpstr(xtl_level_to_string(XTL_CRITICAL), ==, "critical");
    g_assert_cmpstr(xtl_level_to_string((xentoollog_level)99), ==, "unknown");
}

/*
 * Open fds on the fake's guest RAM memfd (what CORRUPT_EXTRA_FD attaches). Only these: the
 * fake's threads close other fds (connections of earlier tests) whenever they get to it.
 */
static unsigned open_fd_count(void)
{
    g_autoptr(GDir) dir = g_dir_open("/proc/self/fd", 0, NULL);
    const char *name;
    unsigned n = 0;

    g_assert_nonnull(dir);
    while ((name = g_dir_read_name(dir))) {
        g_autofree char *link = g_strconcat("/proc/self/fd/", name, NULL);
        g_autofree char *target = g_file_read_link(link, NULL);
        n += target && g_str_has_prefix(target, "/memfd:fake-guest-ram");
    }
    return n;
}

/* A broken reply from xensim is a protocol error (EPROTO) for that call, never a crash. */
static void test_broken_replies(void)
{
    xenforeignmemory_handle *fmem = xenforeignmemory_open(NULL, 0);
    xendevicemodel_handle *dmod = xendevicemodel_open(NULL, 0);
    xc_interface *xch = xc_interface_open(NULL, NULL, 0);
    const xen_pfn_t gfns[2] = { 1, 2 };
    int err[2];
    void *addr = NULL;
    unsigned vcpus = 0;
    uint64_t v;

    g_assert_true(fmem && dmod && xch);
    break_next_reply(XSIM_OP_FMEM_MAP, CORRUPT_SHORT);
    errno = 0;
    g_assert_null(xenforeignmemory_map(fmem, SIM_DOMID, PROT_READ, 2, gfns, err));
    g_assert_cmpint(errno, ==, EPROTO);
    /* Mapped, a page past the memfd's end would raise SIGBUS at first touch. */
    break_next_reply(XSIM_OP_FMEM_MAP, CORRUPT_LAST_PAGE);
    errno = 0;
    g_assert_null(xenforeignmemory_map(fmem, SIM_DOMID, PROT_READ, 2, gfns, err));
    g_assert_cmpint(errno, ==, EPROTO);
    break_next_reply(XSIM_OP_FMEM_MAP_RESOURCE, CORRUPT_LAST_PAGE);
    errno = 0;
    g_assert_null(xenforeignmemory_map_resource(fmem, SIM_DOMID, XENMEM_resource_ioreq_server,
                                                IOSERVER_ID, 0, 2, &addr, PROT_READ, 0));
    g_assert_cmpint(errno, ==, EPROTO);
    /* The handle is still good. */
    uint8_t *p = xenforeignmemory_map(fmem, SIM_DOMID, PROT_READ, 2, gfns, NULL);
    g_assert_nonnull(p);
    g_assert_cmphex(page_tag(p + PAGE), ==, 0x1002);
    xenforeignmemory_unmap(fmem, p, 2);

    break_next_reply(XSIM_OP_DMOP, CORRUPT_SHORT);
    errno = 0;
    g_assert_cmpint(xendevicemodel_nr_vcpus(dmod, SIM_DOMID, &vcpus), ==, -1);
    g_assert_cmpint(errno, ==, EPROTO);
    break_next_reply(XSIM_OP_DMOP, CORRUPT_SEQ);
    errno = 0;
    g_assert_cmpint(xendevicemodel_nr_vcpus(dmod, SIM_DOMID, &vcpus), ==, -1);
    g_assert_cmpint(errno, ==, EPROTO);
    g_assert_cmpint(xendevicemodel_nr_vcpus(dmod, SIM_DOMID, &vcpus), ==, 0);
    g_assert_cmpuint(vcpus, ==, 2);

    break_next_reply(XSIM_OP_XC_HVM_PARAM_GET, CORRUPT_SHORT);
    errno = 0;
    g_assert_cmpint(xc_hvm_param_get(xch, SIM_DOMID, HVM_PARAM_IOREQ_PFN, &v), ==, -1);
    g_assert_cmpint(errno, ==, EPROTO);

    /* A HELLO with an fd it does not announce: refused, and the fd not leaked. */
    unsigned fds_before = open_fd_count();
    g_assert_cmpuint(fds_before, >=, 1); /* the fake's own: the count sees the memfd */
    break_next_reply(XSIM_OP_HELLO, CORRUPT_EXTRA_FD);
    errno = 0;
    g_assert_null(xendevicemodel_open(NULL, 0));
    g_assert_cmpint(errno, ==, EPROTO);
    /* The fake's end of the refused connection closes on its own thread: give it time. */
    for (int i = 0; i < 100 && open_fd_count() != fds_before; i++)
        g_usleep(10 * 1000);
    g_assert_cmpuint(open_fd_count(), ==, fds_before);

    /* Event deliveries are one u32 port: anything else is refused. */
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    g_assert_nonnull(xce);
    g_assert_cmpint(xenevtchn_bind_interdomain(xce, SIM_DOMID, FIRST_VP_EPORT), >=, 0);
    const uint64_t wide = FIRST_PORT;
    const uint32_t out_of_range = 1u << 20;
    pthread_mutex_lock(&fake.lock);
    g_assert_cmpint(send(fake.dm_event_fd, &wide, sizeof(wide), 0), ==, sizeof(wide));
    g_assert_cmpint(send(fake.dm_event_fd, &out_of_range, 4, 0), ==, 4);
    pthread_mutex_unlock(&fake.lock);
    for (int i = 0; i < 2; i++) {
        errno = 0;
        g_assert_cmpint(xenevtchn_pending(xce), ==, -1);
        g_assert_cmpint(errno, ==, EPROTO);
    }
    xenevtchn_close(xce);

    xc_interface_close(xch);
    xendevicemodel_close(dmod);
    xenforeignmemory_close(fmem);
}

/* ---- dm-echo, end to end: the fake plays Xen, dm-echo the device model ---- */

static bool wait_for(bool (*cond)(void))
{
    for (int i = 0; i < 1000; i++) {
        if (cond())
            return true;
        g_usleep(10 * 1000);
    }
    return false;
}

static bool dm_echo_running(void)
{
    pthread_mutex_lock(&fake.lock);
    bool running = strcmp(fake.xs_path, "device-model/3/state") == 0 &&
                   strcmp(fake.xs_value, "running") == 0;
    pthread_mutex_unlock(&fake.lock);
    return running;
}

static struct xenabi_ioreq *vcpu0_slot(void)
{
    return (struct xenabi_ioreq *)(fake.mem + SHARED_PAGE * PAGE);
}

static bool vcpu0_answered(void)
{
    return xenabi_ioreq_state(xenabi_ioreq_load_flags(vcpu0_slot())) ==
           XENABI_STATE_IORESP_READY;
}

/* Xen's side of one synchronous PIO on vCPU 0; returns the data answered. */
static uint64_t xen_pio(uint32_t port, uint32_t size, bool read, uint64_t data)
{
    struct xenabi_ioreq *slot = vcpu0_slot();
    uint32_t local = fake_counter(&fake.vcpu_local_port[0]);

    slot->addr = port;
    slot->data = data;
    slot->count = 1;
    slot->size = size;
    slot->type = XENABI_IOREQ_TYPE_PIO;
    xenabi_ioreq_store_flags(slot, (uint8_t)(XENABI_STATE_IOREQ_READY |
                                             (read ? XENABI_IOREQ_DIR_READ : 0)));
    pthread_mutex_lock(&fake.lock);
    g_assert_cmpint(send(fake.dm_event_fd, &local, sizeof(local), 0), ==, sizeof(local));
    pthread_mutex_unlock(&fake.lock);
    g_assert_true(wait_for(vcpu0_answered));
    xenabi_ioreq_store_flags(slot, XENABI_STATE_IOREQ_NONE);
    return slot->data;
}

static void test_dm_echo(void)
{
    const char *libdir = g_getenv("XENSIM_LIBDIR");
    g_autofree char *path = g_build_filename(libdir ? libdir : ".", "dm-echo", NULL);
    char *argv[] = { path, "--domid", "3", "--ports", "0x1200-0x12ff", NULL };
    GPid pid;
    int status;

    if (!g_file_test(path, G_FILE_TEST_IS_EXECUTABLE)) {
        g_test_skip("dm-echo not found: set XENSIM_LIBDIR");
        return;
    }
    GSpawnFlags flags = G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDERR_TO_DEV_NULL;
    g_assert_true(g_spawn_async(NULL, argv, NULL, flags, NULL, NULL, &pid, NULL));
    g_assert_true(wait_for(dm_echo_running));
    pthread_mutex_lock(&fake.lock);
    g_assert_cmpuint(fake.claim_type, ==, XEN_DMOP_IO_RANGE_PORT);
    g_assert_cmphex(fake.claim_start, ==, 0x1200);
    g_assert_cmphex(fake.claim_end, ==, 0x12ff);
    pthread_mutex_unlock(&fake.lock);

    g_assert_cmphex(xen_pio(0x1234, 2, true, 0), ==, 0x1234);
    g_assert_cmphex(xen_pio(0x1234, 1, true, 0), ==, 0x34);
    g_assert_cmphex(xen_pio(0x12ab, 4, true, 0), ==, 0x12ab);
    /* A write is answered and dropped: the data field is left alone. */
    g_assert_cmphex(xen_pio(0x1200, 1, false, 0x77), ==, 0x77);
    /* dm-echo notified the vCPU's port after each answer. */
    g_assert_cmpuint(fake_counter(&fake.notified), ==, fake_counter(&fake.vcpu_local_port[0]));

    kill(pid, SIGTERM);
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    g_assert_cmpuint(last_dmop().op, ==, XEN_DMOP_destroy_ioreq_server);
    g_spawn_close_pid(pid);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    fake_start();
    fake_xenstore_start();
    g_test_add_func("/xensim-libs/open-absent", test_open_absent);
    g_test_add_func("/xensim-libs/evtchn", test_evtchn);
    g_test_add_func("/xensim-libs/fmem/map", test_fmem_map);
    g_test_add_func("/xensim-libs/fmem/map-large", test_fmem_map_large);
    g_test_add_func("/xensim-libs/fmem/resource", test_fmem_resource);
    g_test_add_func("/xensim-libs/dmop/ioreq-server", test_dmop_ioreq_server);
    g_test_add_func("/xensim-libs/dmop/raw-layout", test_dmop_raw_layout);
    g_test_add_func("/xensim-libs/dmop/buffers", test_dmop_buffers);
    g_test_add_func("/xensim-libs/xc", test_xc);
    g_test_add_func("/xensim-libs/toolcore/restrict", test_restrict);
    g_test_add_func("/xensim-libs/gnttab", test_gnttab);
    g_test_add_func("/xensim-libs/toollog", test_toollog);
    g_test_add_func("/xensim-libs/broken-replies", test_broken_replies);
    g_test_add_func("/xensim-libs/dm-echo/pio", test_dm_echo);
    ret = g_test_run();
    fake_stop();
    return ret;
}
