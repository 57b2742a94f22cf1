/*
 * The wire between xensim's drop-in Xen libraries (tools/xensim/libs/) and
 * xensim itself. Private to xensim: xendm never sees it, it sees only Xen's
 * library API.
 *
 * Transport: every library handle (xenevtchn_open, xenforeignmemory_open,
 * xendevicemodel_open, xc_interface_open, xengnttab_open) opens its own
 * SOCK_SEQPACKET connection to the path in $XENSIM_SOCKET, so one message is
 * one datagram and a restricted handle is a restricted connection. File
 * descriptors travel with SCM_RIGHTS.
 *
 * Every message is a header followed by `len` payload bytes. Requests are
 * answered in order with a message of the same `op` and `seq` and `result`
 * >= 0 on success or -errno (Xen's error code) on failure. Requests with
 * XSIM_F_POSTED get no reply (event-channel notify and unmask, on the hot path).
 *
 * xenstore is not on this wire: xensim serves xenstored's own protocol
 * (xen/io/xs_wire.h) on $XENSTORED_PATH, so Xen's own libxenstore is the client.
 */
/*
 * Decisions the client libraries (tools/xensim/libs/) rely on, where the op
 * comments below leave room:
 * - seq counts per connection from 1 (HELLO); posted requests consume a seq too.
 *   A reply whose op, seq or len does not match is a protocol error (EPROTO).
 * - HELLO reply nr_fds must equal the fds attached: 1 for EVTCHN and FMEM, else 0.
 * - EVTCHN: the library sends NOTIFY/UNMASK/UNBIND only for ports bound on the
 *   same connection (it answers ENOTCONN/EINVAL itself, as the Linux driver,
 *   and ignores an unmask of a port it did not bind). xenevtchn_fdopen(fd)
 *   takes a socket already connected to $XENSIM_SOCKET on which no HELLO was
 *   sent, and says HELLO on it.
 * - FMEM_MAP: err[i] is 0 or -errno per gfn; page[i] is ignored where err[i]
 *   != 0. The reply's len must be exactly the two arrays.
 * - FMEM_MAP_RESOURCE / RESOURCE_SIZE: the library never sends nr == 0; it
 *   asks for the size with RESOURCE_SIZE. Resource maps are split at
 *   XSIM_MAX_MAP_BATCH frames too.
 * - DMOP: the reply carries the same xsim_dmop (nr_bufs and buf_len unchanged)
 *   and every buffer back; the library copies them all to the caller.
 * - XC_POPULATE_PHYSMAP: result 0 when every gfn of the request is populated,
 *   -errno otherwise. The library splits at XSIM_MAX_MAP_BATCH gfns.
 * - XC_DOMAIN_INFO: the library only asks for the HELLO reply's domid (the
 *   "first domain at or above" search of getdomaininfo is done client side).
 */

#ifndef XENSIM_WIRE_H
#define XENSIM_WIRE_H

#include <stdint.h>

#define XSIM_SOCKET_ENV "XENSIM_SOCKET"
#define XSIM_MAGIC 0x4d495358u /* "XSIM" */
#define XSIM_VERSION 1u
#define XSIM_MAX_PAYLOAD (256u * 1024u)
/* Largest gfn batch one FMEM_MAP message carries; the library splits bigger maps. */
#define XSIM_MAX_MAP_BATCH 4096u
#define XSIM_MAX_DMOP_BUFS 4u

struct xsim_hdr {
    uint32_t op;
    uint32_t flags;
    uint32_t seq;
    int32_t result; /* replies: >= 0 or -errno */
    uint32_t len;   /* payload bytes that follow */
    uint32_t pad;
};

#define XSIM_F_POSTED 1u

enum xsim_client_kind {
    XSIM_CLIENT_EVTCHN = 1,
    XSIM_CLIENT_FMEM = 2,
    XSIM_CLIENT_DMOD = 3,
    XSIM_CLIENT_XC = 4,
    XSIM_CLIENT_GNTTAB = 5,
};

enum xsim_op {
    /* Every connection: first message. */
    XSIM_OP_HELLO = 1, /* req xsim_hello; reply xsim_hello_reply */
    /* Any connection: xentoolcore_restrict_all / *_restrict: req {u32 domid} */
    XSIM_OP_RESTRICT = 2,

    /*
     * Event channels. The HELLO reply of an EVTCHN connection carries one fd
     * (SCM_RIGHTS): a SOCK_SEQPACKET socket on which xensim sends one u32 local
     * port per delivery. It is what xenevtchn_fd() returns; xenevtchn_pending()
     * reads one port from it. A delivered port is masked until XSIM_OP_EVTCHN_UNMASK,
     * and an event that arrives while it is masked is delivered again on unmask,
     * as with /dev/xen/evtchn.
     */
    XSIM_OP_EVTCHN_BIND_INTERDOMAIN = 10, /* req {u32 remote_domid, u32 remote_port}; result local port */
    XSIM_OP_EVTCHN_BIND_UNBOUND = 11,     /* req {u32 remote_domid}; result local port */
    XSIM_OP_EVTCHN_BIND_VIRQ = 12,        /* req {u32 virq}; result local port */
    XSIM_OP_EVTCHN_UNBIND = 13,           /* req {u32 port} */
    XSIM_OP_EVTCHN_NOTIFY = 14,           /* req {u32 port}; POSTED */
    XSIM_OP_EVTCHN_UNMASK = 15,           /* req {u32 port}; POSTED */

    /*
     * Foreign memory. The HELLO reply of an FMEM connection carries one fd: the
     * memfd that backs all guest RAM and xensim's own pages (ioreq pages).
     * Replies name memfd page numbers; the library mmaps them MAP_SHARED|MAP_FIXED
     * into one reserved range, so mappings refer to frames, as Xen's do.
     */
    XSIM_OP_FMEM_MAP = 20,          /* req xsim_fmem_map + u64 gfn[nr]; reply int32 err[nr] then (8-aligned) u64 page[nr] */
    XSIM_OP_FMEM_MAP_RESOURCE = 21, /* req xsim_fmem_resource; reply u64 page[nr] */
    XSIM_OP_FMEM_RESOURCE_SIZE = 22,/* req xsim_fmem_resource (frame, nr ignored); result = nr frames */

    /* Device model: the real struct xen_dm_op ABI (xen/hvm/dm_op.h). */
    XSIM_OP_DMOP = 30, /* req xsim_dmop + buffers back to back; reply xsim_dmop + buffers (copied back) */

    /* libxenctrl. */
    XSIM_OP_XC_POPULATE_PHYSMAP = 40, /* req xsim_xc_populate + u64 gfn[nr] */
    XSIM_OP_XC_HVM_PARAM_GET = 41,    /* req {u32 domid, u32 param}; reply {u64 value} */
    XSIM_OP_XC_HVM_PARAM_SET = 42,    /* req {u32 domid, u32 param, u64 value} */
    XSIM_OP_XC_DOMAIN_SHUTDOWN = 43,  /* req {u32 domid, u32 reason} */
    XSIM_OP_XC_DOMAIN_INFO = 44,      /* req {u32 domid}; reply xsim_xc_dominfo */

    /* Grant tables: xensim's guest grants nothing, so maps fail as Xen's do. */
    XSIM_OP_GNTTAB_MAP = 50, /* req {u32 domid, u32 count}; always -EINVAL today */
};

struct xsim_hello {
    uint32_t magic;
    uint32_t version;
    uint32_t kind; /* enum xsim_client_kind */
    uint32_t pid;
};

struct xsim_hello_reply {
    uint32_t domid;    /* the simulated guest */
    uint32_t nr_vcpus;
    uint32_t nr_fds;   /* fds attached to this reply */
    uint32_t pad;
};

struct xsim_fmem_map {
    uint32_t domid;
    uint32_t prot; /* PROT_READ | PROT_WRITE */
    uint32_t nr;
    uint32_t pad;
};

struct xsim_fmem_resource {
    uint32_t domid;
    uint32_t type; /* XENMEM_resource_* */
    uint32_t id;
    uint32_t pad;
    uint64_t frame;
    uint64_t nr;
};

struct xsim_dmop {
    uint32_t domid;
    uint32_t nr_bufs;                   /* 1..XSIM_MAX_DMOP_BUFS */
    uint32_t buf_len[XSIM_MAX_DMOP_BUFS]; /* bytes of each buffer, in order after this */
};

struct xsim_xc_populate {
    uint32_t domid;
    uint32_t extent_order;
    uint32_t mem_flags;
    uint32_t nr;
};

struct xsim_xc_dominfo {
    uint32_t domid;
    uint32_t flags; /* bit 0 hvm, 1 paused, 2 shutdown, 3 dying */
    uint32_t shutdown_reason;
    uint32_t max_vcpu_id;
    uint64_t nr_pages;
    uint64_t max_pages;
};

#endif
