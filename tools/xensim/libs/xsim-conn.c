/*
 * The client side of tools/xensim/wire.h: connect, HELLO, synchronous calls
 * and posted messages over one SOCK_SEQPACKET connection.
 */
#include "xsim-conn.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_REQ_IOV 8
#define MAX_HELLO_FDS 4
/* Largest errno we accept from xensim; anything beyond is a malformed reply. */
#define MAX_ERRNO 4095

static int connect_socket(void)
{
    const char *path = getenv(XSIM_SOCKET_ENV);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd;

    if (!path || !*path) {
        errno = ENOENT; /* no xensim to talk to: as if the /dev/xen devices were absent */
        return -1;
    }
    if (strlen(path) >= sizeof(addr.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(addr.sun_path, path);
    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    while (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        if (errno == EINTR)
            continue;
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

static int send_request(struct xsim_conn *conn, uint32_t op, uint32_t flags, uint32_t seq,
                        const struct iovec *req, unsigned nr_req)
{
    struct iovec iov[MAX_REQ_IOV + 1];
    struct xsim_hdr hdr = { .op = op, .flags = flags, .seq = seq };
    size_t total = 0;

    if (nr_req > MAX_REQ_IOV) {
        errno = EINVAL;
        return -1;
    }
    for (unsigned i = 0; i < nr_req; i++) {
        iov[i + 1] = req[i];
        total += req[i].iov_len;
    }
    if (total > XSIM_MAX_PAYLOAD) {
        errno = EMSGSIZE;
        return -1;
    }
    hdr.len = (uint32_t)total;
    iov[0].iov_base = &hdr;
    iov[0].iov_len = sizeof(hdr);

    struct msghdr msg = { .msg_iov = iov, .msg_iovlen = nr_req + 1 };
    ssize_t sent;
    do {
        sent = sendmsg(conn->fd, &msg, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) {
        if (errno == EPIPE)
            errno = ECONNRESET;
        return -1;
    }
    if ((size_t)sent != sizeof(hdr) + total) {
        errno = EPROTO; /* SOCK_SEQPACKET never sends part of a message */
        return -1;
    }
    return 0;
}

static void close_fds(int *fds, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        close(fds[i]);
}

/* Collects the SCM_RIGHTS fds of a received message; *got counts them. */
static void take_fds(struct msghdr *msg, int *fds, unsigned max, unsigned *got)
{
    *got = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const unsigned char *data = CMSG_DATA(c);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, data + i * sizeof(int), sizeof(int));
            if (*got < max)
                fds[(*got)++] = fd;
            else
                close(fd); /* more than we can use: do not leak it */
        }
    }
}

struct reply_spec {
    uint32_t op;
    uint32_t seq;
    void *buf;
    size_t max;
    int *fds;      /* NULL when the reply must carry none */
    unsigned nr_fds;
};

/* Receives one reply; returns its result, or -1 with errno. Fills *len and *fds_got. */
static int recv_reply(struct xsim_conn *conn, const struct reply_spec *spec, size_t *len,
                      unsigned *fds_got)
{
    struct xsim_hdr hdr;
    struct iovec iov[2] = {
        { .iov_base = &hdr, .iov_len = sizeof(hdr) },
        { .iov_base = spec->buf, .iov_len = spec->max },
    };
    union {
        char buf[CMSG_SPACE(sizeof(int) * MAX_HELLO_FDS)];
        struct cmsghdr align;
    } control;
    struct msghdr msg = {
        .msg_iov = iov,
        .msg_iovlen = spec->max ? 2 : 1,
        .msg_control = control.buf,
        .msg_controllen = sizeof(control.buf),
    };
    int fds[MAX_HELLO_FDS];
    unsigned got = 0;
    ssize_t n;

    do {
        n = recvmsg(conn->fd, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    if (n == 0) {
        errno = ECONNRESET; /* xensim went away */
        return -1;
    }
    take_fds(&msg, fds, MAX_HELLO_FDS, &got);

    bool bad = (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)n < sizeof(hdr) ||
               hdr.op != spec->op || hdr.seq != spec->seq ||
               hdr.len != (size_t)n - sizeof(hdr) || hdr.result < -MAX_ERRNO ||
               (hdr.result >= 0 && got > spec->nr_fds);
    if (bad) {
        close_fds(fds, got);
        errno = EPROTO;
        return -1;
    }
    if (hdr.result < 0) {
        close_fds(fds, got);
        errno = -hdr.result;
        return -1;
    }
    for (unsigned i = 0; i < got; i++)
        spec->fds[i] = fds[i];
    *len = hdr.len;
    *fds_got = got;
    return hdr.result;
}

static int say_hello(struct xsim_conn *conn, enum xsim_client_kind kind, int *fds,
                     unsigned nr_fds)
{
    struct xsim_hello hello = {
        .magic = XSIM_MAGIC,
        .version = XSIM_VERSION,
        .kind = kind,
        .pid = (uint32_t)getpid(),
    };
    struct iovec req = { .iov_base = &hello, .iov_len = sizeof(hello) };
    struct reply_spec spec = {
        .op = XSIM_OP_HELLO,
        .seq = conn->next_seq++,
        .buf = &conn->hello,
        .max = sizeof(conn->hello),
        .fds = fds,
        .nr_fds = nr_fds,
    };
    size_t len = 0;
    unsigned got = 0;

    if (nr_fds > MAX_HELLO_FDS) {
        errno = EINVAL;
        return -1;
    }
    if (send_request(conn, XSIM_OP_HELLO, 0, spec.seq, &req, 1) < 0)
        return -1;
    if (recv_reply(conn, &spec, &len, &got) < 0)
        return -1;
    if (len != sizeof(conn->hello) || got != nr_fds || conn->hello.nr_fds != nr_fds) {
        close_fds(fds, got);
        errno = EPROTO;
        return -1;
    }
    return 0;
}

int xsim_conn_adopt(struct xsim_conn *conn, int fd, enum xsim_client_kind kind, int *fds,
                    unsigned nr_fds)
{
    memset(conn, 0, sizeof(*conn));
    conn->fd = fd;
    conn->next_seq = 1;
    if (say_hello(conn, kind, fds, nr_fds) < 0) {
        conn->fd = -1;
        return -1;
    }
    pthread_mutex_init(&conn->lock, NULL);
    return 0;
}

int xsim_conn_open(struct xsim_conn *conn, enum xsim_client_kind kind, int *fds,
                   unsigned nr_fds)
{
    int fd = connect_socket();

    if (fd < 0)
        return -1;
    if (xsim_conn_adopt(conn, fd, kind, fds, nr_fds) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return 0;
}

void xsim_conn_close(struct xsim_conn *conn)
{
    if (conn->fd < 0)
        return;
    close(conn->fd);
    conn->fd = -1;
    pthread_mutex_destroy(&conn->lock);
}

int xsim_conn_call(struct xsim_conn *conn, uint32_t op, const struct iovec *req,
                   unsigned nr_req, void *reply, size_t reply_max, size_t *reply_len)
{
    struct reply_spec spec = { .op = op, .buf = reply, .max = reply_max };
    size_t len = 0;
    unsigned got = 0;
    int ret;

    pthread_mutex_lock(&conn->lock);
    spec.seq = conn->next_seq++;
    ret = send_request(conn, op, 0, spec.seq, req, nr_req);
    if (ret == 0)
        ret = recv_reply(conn, &spec, &len, &got);
    pthread_mutex_unlock(&conn->lock);
    if (reply_len)
        *reply_len = ret < 0 ? 0 : len;
    return ret;
}

int xsim_conn_call_simple(struct xsim_conn *conn, uint32_t op, const void *req, size_t req_len)
{
    struct iovec iov = { .iov_base = (void *)req, .iov_len = req_len };

    return xsim_conn_call(conn, op, &iov, 1, NULL, 0, NULL);
}

int xsim_conn_post(struct xsim_conn *conn, uint32_t op, const void *req, size_t req_len)
{
    struct iovec iov = { .iov_base = (void *)req, .iov_len = req_len };
    int ret;

    pthread_mutex_lock(&conn->lock);
    ret = send_request(conn, op, XSIM_F_POSTED, conn->next_seq++, &iov, 1);
    pthread_mutex_unlock(&conn->lock);
    return ret;
}

int xsim_conn_restrict(struct xsim_conn *conn, uint32_t domid)
{
    return xsim_conn_call_simple(conn, XSIM_OP_RESTRICT, &domid, sizeof(domid)) < 0 ? -1 : 0;
}
