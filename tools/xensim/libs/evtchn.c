/*
 * libxenevtchn.so.1 over xensim: event channels as the Linux /dev/xen/evtchn
 * driver presents them.
 *
 * Binding and unbinding are synchronous calls. Delivery comes on the event
 * socket of the HELLO reply, one u32 port per datagram: xenevtchn_fd() is that
 * socket, so it can be polled like /dev/xen/evtchn. notify and unmask are
 * posted (no reply): they are on the ioreq hot path.
 *
 * Error codes are the Linux driver's (drivers/xen/evtchn.c): notify or unbind
 * of a port this handle did not bind is ENOTCONN, a port out of range EINVAL,
 * and unmask of such a port is silently ignored (the driver's write() path).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <xenevtchn.h>

#include "xentoolcore-internal.h"
#include "xsim-conn.h"

/* EVTCHN_FIFO_NR_CHANNELS: the largest port space any Xen event ABI has. */
#define MAX_PORTS (1u << 17)

struct xenevtchn_handle {
    struct xsim_conn conn;
    int event_fd;
    Xentoolcore__Active_Handle tc_ah;
    pthread_mutex_t ports_lock;
    uint8_t *bound; /* bitmap of the ports this handle bound, MAX_PORTS bits */
};

static bool port_is_bound(xenevtchn_handle *xce, evtchn_port_t port)
{
    bool bound;

    if (port >= MAX_PORTS)
        return false;
    pthread_mutex_lock(&xce->ports_lock);
    bound = xce->bound[port / 8] & (1u << (port % 8));
    pthread_mutex_unlock(&xce->ports_lock);
    return bound;
}

static void port_set_bound(xenevtchn_handle *xce, evtchn_port_t port, bool bound)
{
    pthread_mutex_lock(&xce->ports_lock);
    if (bound)
        xce->bound[port / 8] |= (uint8_t)(1u << (port % 8));
    else
        xce->bound[port / 8] &= (uint8_t)~(1u << (port % 8));
    pthread_mutex_unlock(&xce->ports_lock);
}

static int evtchn_restrict_cb(Xentoolcore__Active_Handle *ah, domid_t domid)
{
    xenevtchn_handle *xce = XSIM_CONTAINER_OF(ah, xenevtchn_handle, tc_ah);

    return xenevtchn_restrict(xce, domid);
}

static int clear_cloexec(int fd)
{
    int flags = fcntl(fd, F_GETFD);

    return flags < 0 ? -1 : fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
}

static xenevtchn_handle *evtchn_alloc(void)
{
    xenevtchn_handle *xce = calloc(1, sizeof(*xce));

    if (!xce)
        return NULL;
    xce->bound = calloc(MAX_PORTS / 8, 1);
    if (!xce->bound) {
        free(xce);
        return NULL;
    }
    xce->event_fd = -1;
    xce->conn.fd = -1;
    return xce;
}

static void evtchn_free(xenevtchn_handle *xce)
{
    free(xce->bound);
    free(xce);
}

static xenevtchn_handle *evtchn_finish_open(xenevtchn_handle *xce, unsigned flags)
{
    if (flags & XENEVTCHN_NO_CLOEXEC) {
        if (clear_cloexec(xce->conn.fd) < 0 || clear_cloexec(xce->event_fd) < 0) {
            int saved = errno;
            close(xce->event_fd);
            xsim_conn_close(&xce->conn);
            evtchn_free(xce);
            errno = saved;
            return NULL;
        }
    }
    pthread_mutex_init(&xce->ports_lock, NULL);
    xce->tc_ah.restrict_callback = evtchn_restrict_cb;
    xentoolcore__register_active_handle(&xce->tc_ah);
    return xce;
}

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger, unsigned int flags)
{
    xenevtchn_handle *xce = evtchn_alloc();

    if (!xce)
        return NULL;
    if (xsim_conn_open(&xce->conn, XSIM_CLIENT_EVTCHN, &xce->event_fd, 1) < 0) {
        int saved = errno;
        evtchn_free(xce);
        errno = saved;
        return NULL;
    }
    return evtchn_finish_open(xce, flags);
}

/*
 * Under xensim the fd to adopt is a socket already connected to
 * $XENSIM_SOCKET on which nothing was sent yet (the analogue of an open
 * /dev/xen/evtchn). The handle owns it on success, as Xen's does.
 */
xenevtchn_handle *xenevtchn_fdopen(struct xentoollog_logger *logger, int fd,
                                   unsigned open_flags)
{
    xenevtchn_handle *xce = evtchn_alloc();

    if (!xce)
        return NULL;
    if (xsim_conn_adopt(&xce->conn, fd, XSIM_CLIENT_EVTCHN, &xce->event_fd, 1) < 0) {
        int saved = errno;
        evtchn_free(xce);
        errno = saved;
        return NULL;
    }
    return evtchn_finish_open(xce, open_flags);
}

int xenevtchn_close(xenevtchn_handle *xce)
{
    if (!xce)
        return 0;
    xentoolcore__deregister_active_handle(&xce->tc_ah);
    /* Closing the connection unbinds every port, as closing /dev/xen/evtchn does. */
    close(xce->event_fd);
    xsim_conn_close(&xce->conn);
    pthread_mutex_destroy(&xce->ports_lock);
    evtchn_free(xce);
    return 0;
}

int xenevtchn_fd(xenevtchn_handle *xce)
{
    return xce->event_fd;
}

int xenevtchn_restrict(xenevtchn_handle *xce, domid_t domid)
{
    return xsim_conn_restrict(&xce->conn, domid);
}

static xenevtchn_port_or_error_t bind_call(xenevtchn_handle *xce, uint32_t op,
                                           const uint32_t *req, size_t req_len)
{
    int port = xsim_conn_call_simple(&xce->conn, op, req, req_len);

    if (port < 0)
        return -1;
    if ((unsigned)port >= MAX_PORTS) {
        errno = EPROTO;
        return -1;
    }
    port_set_bound(xce, (evtchn_port_t)port, true);
    return port;
}

xenevtchn_port_or_error_t xenevtchn_bind_unbound_port(xenevtchn_handle *xce, uint32_t domid)
{
    uint32_t req[1] = { domid };

    return bind_call(xce, XSIM_OP_EVTCHN_BIND_UNBOUND, req, sizeof(req));
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce, uint32_t domid,
                                                     evtchn_port_t remote_port)
{
    uint32_t req[2] = { domid, remote_port };

    return bind_call(xce, XSIM_OP_EVTCHN_BIND_INTERDOMAIN, req, sizeof(req));
}

xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *xce, unsigned int virq)
{
    uint32_t req[1] = { virq };

    return bind_call(xce, XSIM_OP_EVTCHN_BIND_VIRQ, req, sizeof(req));
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
    uint32_t req = port;

    if (port >= MAX_PORTS) {
        errno = EINVAL;
        return -1;
    }
    if (!port_is_bound(xce, port)) {
        errno = ENOTCONN;
        return -1;
    }
    if (xsim_conn_call_simple(&xce->conn, XSIM_OP_EVTCHN_UNBIND, &req, sizeof(req)) < 0)
        return -1;
    port_set_bound(xce, port, false);
    return 0;
}

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
    uint32_t req = port;

    if (!port_is_bound(xce, port)) {
        errno = ENOTCONN;
        return -1;
    }
    return xsim_conn_post(&xce->conn, XSIM_OP_EVTCHN_NOTIFY, &req, sizeof(req));
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
    uint32_t req = port;

    if (!port_is_bound(xce, port))
        return 0;
    return xsim_conn_post(&xce->conn, XSIM_OP_EVTCHN_UNMASK, &req, sizeof(req));
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
    uint32_t port;
    ssize_t n;

    /* MSG_TRUNC: n is the datagram's real length, so an oversized one is refused. */
    do {
        n = recv(xce->event_fd, &port, sizeof(port), MSG_TRUNC);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1; /* EAGAIN when the fd is non-blocking and nothing is pending */
    if (n == 0) {
        errno = ECONNRESET; /* xensim went away */
        return -1;
    }
    if (n != sizeof(port) || port >= MAX_PORTS) {
        errno = EPROTO;
        return -1;
    }
    return (xenevtchn_port_or_error_t)port;
}
