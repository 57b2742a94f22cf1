/*
 * Event channels: one port space per domain (the guest and dom0), with Xen's
 * interdomain binding. A port delivered to a dom0 client is masked until the
 * client unmasks it; an event arriving meanwhile stays pending and is
 * delivered on unmask (the semantics of /dev/xen/evtchn).
 */
#include <errno.h>
#include <string.h>

#include "xensim.h"

/* Xen's 2-level ABI limit for a 64-bit guest; plenty here. */
#define MAX_PORTS 4096u

void xsim_evtchn_init(struct xsim_evtchn_domain *d, uint32_t domid)
{
    d->domid = domid;
    d->ports = g_array_new(FALSE, TRUE, sizeof(struct xsim_port));
    g_array_set_size(d->ports, 1); /* port 0 is reserved, as in Xen */
}

void xsim_evtchn_fini(struct xsim_evtchn_domain *d)
{
    if (d->ports)
        g_array_free(d->ports, TRUE);
    d->ports = NULL;
}

struct xsim_port *xsim_evtchn_port(struct xsim_evtchn_domain *d, uint32_t port)
{
    if (port == 0 || port >= d->ports->len)
        return NULL;
    struct xsim_port *p = &g_array_index(d->ports, struct xsim_port, port);
    return p->state == XSIM_PORT_FREE ? NULL : p;
}

struct xsim_evtchn_domain *xsim_evtchn_domain_of(struct xsim *xs, uint32_t domid)
{
    if (domid == xs->domid)
        return &xs->guest_evtchn;
    if (domid == 0)
        return &xs->dom0_evtchn;
    return NULL;
}

static int alloc_port(struct xsim_evtchn_domain *d)
{
    for (guint i = 1; i < d->ports->len; i++) {
        if (g_array_index(d->ports, struct xsim_port, i).state == XSIM_PORT_FREE)
            return (int)i;
    }
    if (d->ports->len >= MAX_PORTS)
        return -ENOSPC;
    g_array_set_size(d->ports, d->ports->len + 1);
    return (int)d->ports->len - 1;
}

int xsim_evtchn_alloc_unbound(struct xsim *xs, struct xsim_evtchn_domain *d, uint32_t remote_domid)
{
    if (!xsim_evtchn_domain_of(xs, remote_domid))
        return -ESRCH;
    int port = alloc_port(d);
    if (port < 0)
        return port;
    struct xsim_port *p = &g_array_index(d->ports, struct xsim_port, port);
    memset(p, 0, sizeof(*p));
    p->state = XSIM_PORT_UNBOUND;
    p->remote_domid = remote_domid;
    return port;
}

int xsim_evtchn_bind_interdomain(struct xsim *xs, struct xsim_evtchn_domain *local,
                                 uint32_t remote_domid, uint32_t remote_port,
                                 struct xsim_conn *owner)
{
    struct xsim_evtchn_domain *rd = xsim_evtchn_domain_of(xs, remote_domid);
    if (!rd)
        return -ESRCH;
    struct xsim_port *rp = xsim_evtchn_port(rd, remote_port);
    /* Xen: the remote port must be unbound and offered to the binding domain. */
    if (!rp || rp->state != XSIM_PORT_UNBOUND || rp->remote_domid != local->domid)
        return -EINVAL;
    int port = alloc_port(local);
    if (port < 0)
        return port;
    /* The array may have moved if rd == local: index it again (checked above). */
    rp = &g_array_index(rd->ports, struct xsim_port, remote_port);
    struct xsim_port *lp = &g_array_index(local->ports, struct xsim_port, port);
    memset(lp, 0, sizeof(*lp));
    lp->state = XSIM_PORT_INTERDOMAIN;
    lp->remote_domid = remote_domid;
    lp->remote_port = remote_port;
    lp->owner = owner;
    rp->state = XSIM_PORT_INTERDOMAIN;
    rp->remote_domid = local->domid;
    rp->remote_port = (uint32_t)port;
    return port;
}

int xsim_evtchn_close(struct xsim *xs, struct xsim_evtchn_domain *d, uint32_t port)
{
    struct xsim_port *p = xsim_evtchn_port(d, port);
    if (!p)
        return -EINVAL;
    if (p->state == XSIM_PORT_INTERDOMAIN) {
        struct xsim_evtchn_domain *rd = xsim_evtchn_domain_of(xs, p->remote_domid);
        struct xsim_port *rp = rd ? xsim_evtchn_port(rd, p->remote_port) : NULL;
        if (rp) {
            /* Xen: the peer goes back to unbound, offered to the closing domain. */
            rp->state = XSIM_PORT_UNBOUND;
            rp->remote_domid = d->domid;
            rp->remote_port = 0;
            rp->owner = NULL;
            rp->masked = false;
            rp->pending = false;
        }
    }
    memset(p, 0, sizeof(*p));
    return 0;
}

static void deliver(struct xsim *xs, struct xsim_evtchn_domain *d, uint32_t port)
{
    struct xsim_port *p = xsim_evtchn_port(d, port);
    if (!p)
        return;
    if (p->handler) {
        p->handler(xs, port, p->opaque);
        return;
    }
    if (!p->owner)
        return; /* nobody listens: the event is lost, as an unbound vector would be */
    if (p->masked) {
        p->pending = true;
        return;
    }
    p->masked = true;
    p->pending = false;
    if (!xsim_conn_deliver_event(p->owner, port)) {
        /* Could not queue it: keep it pending for the next unmask. */
        p->masked = false;
        p->pending = true;
    }
}

int xsim_evtchn_notify(struct xsim *xs, struct xsim_evtchn_domain *d, uint32_t port)
{
    struct xsim_port *p = xsim_evtchn_port(d, port);
    if (!p)
        return -EINVAL;
    if (p->state != XSIM_PORT_INTERDOMAIN)
        return 0; /* Xen ignores sends on unbound ports */
    struct xsim_evtchn_domain *rd = xsim_evtchn_domain_of(xs, p->remote_domid);
    if (rd)
        deliver(xs, rd, p->remote_port);
    return 0;
}

int xsim_evtchn_unmask(struct xsim *xs, struct xsim_evtchn_domain *d, uint32_t port)
{
    struct xsim_port *p = xsim_evtchn_port(d, port);
    if (!p)
        return -EINVAL;
    p->masked = false;
    if (p->pending)
        deliver(xs, d, port);
    return 0;
}

void xsim_evtchn_close_owned_by(struct xsim *xs, struct xsim_conn *owner)
{
    struct xsim_evtchn_domain *d = &xs->dom0_evtchn;
    for (guint i = 1; i < d->ports->len; i++) {
        struct xsim_port *p = &g_array_index(d->ports, struct xsim_port, i);
        if (p->state != XSIM_PORT_FREE && p->owner == owner)
            xsim_evtchn_close(xs, d, i);
    }
}
