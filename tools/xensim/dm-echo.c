/*
 * dm-echo: the smallest device model that follows Xen's ioreq-server
 * protocol, built directly on the Xen libraries (not on xendm). Under xensim
 * it is the floor for benchmarks and the first end-to-end check of the
 * drop-in libraries; it runs unchanged on a real Xen host.
 *
 *   dm-echo --domid N [--ports START-END] [--mmio START-END|none]
 *                                             (or libxl's: -xen-domid N ...)
 *
 * It claims the I/O port range and the MMIO range, answers every PIO read
 * with the low bits of the port number and every MMIO read inside its range
 * with the low bits of the address, drops writes, and runs until SIGTERM or
 * SIGINT, when it destroys its ioreq server. Lifecycle as in
 * xen-dm-interface.md section 2: create (ATOMIC buffering), map the resource,
 * enable, bind, claim, then device-model/<domid>/state = running.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xenstore.h>
#include <xen/memory.h>

#include "xenabi/ioreq-abi.h"

/* Xen 4.17 serves one shared ioreq page: at most this many vCPUs. */
#define MAX_VCPUS XENABI_IOREQS_PER_PAGE
/*
 * The default MMIO claim: the 16 MiB window where the benchmark places the Xen platform
 * device's BAR1 for xendm and qemu-xen, so that the same routed reads reach the floor too.
 */
#define DEFAULT_MMIO_START UINT64_C(0xf0000000)
#define DEFAULT_MMIO_END UINT64_C(0xf0ffffff)

struct echo {
    domid_t domid;
    uint16_t first_port;
    uint16_t last_port;
    bool claim_mmio;
    uint64_t mmio_start; /* inclusive, as Xen's ranges are */
    uint64_t mmio_end;
    unsigned nr_vcpus;
    xenevtchn_handle *xce;
    xenforeignmemory_handle *fmem;
    xendevicemodel_handle *dmod;
    struct xs_handle *xsh;
    ioservid_t id;
    bool have_server;
    xenforeignmemory_resource_handle *fres;
    struct xenabi_buffered_iopage *buffered;
    struct xenabi_ioreq *shared;
    evtchn_port_t buf_port;   /* local port of the buffered channel */
    evtchn_port_t vcpu_port[MAX_VCPUS];
    int sigfd;
    bool told_ring_corrupt; /* say it once: every later event would repeat it */
};

static void die_errno(const char *what)
{
    fprintf(stderr, "dm-echo: %s: %s\n", what, strerror(errno));
}

/* START-END, both numbers in C notation (0x... hex), START <= END. */
static int parse_range(const char *text, uint64_t *start, uint64_t *end)
{
    char *rest = NULL;

    errno = 0;
    *start = strtoull(text, &rest, 0);
    if (rest == text || *rest != '-' || text[0] == '-')
        return -1;
    text = rest + 1;
    *end = strtoull(text, &rest, 0);
    if (rest == text || *rest || text[0] == '-' || errno || *start > *end)
        return -1;
    return 0;
}

/*
 * Takes its own options, and also the command line libxl (or xensim in libxl's
 * place) builds for a device model: -xen-domid N names the domain, every other
 * word is ignored. Without --ports it claims COM1 (0x3F8-0x3FF), so the
 * benchmark's UART reads reach it; without --mmio, DEFAULT_MMIO_START-END.
 */
static int parse_args(int argc, char **argv, struct echo *e)
{
    unsigned long domid = ~0ul;
    uint64_t start = 0x3f8, end = 0x3ff;

    e->claim_mmio = true;
    e->mmio_start = DEFAULT_MMIO_START;
    e->mmio_end = DEFAULT_MMIO_END;
    for (int i = 1; i < argc; i++) {
        bool is_domid = strcmp(argv[i], "--domid") == 0 || strcmp(argv[i], "-xen-domid") == 0;
        bool is_ports = strcmp(argv[i], "--ports") == 0;
        if (!is_domid && !is_ports && strcmp(argv[i], "--mmio") != 0)
            continue;
        if (i + 1 >= argc)
            return -1;
        const char *value = argv[++i];
        if (is_domid) {
            char *rest = NULL;
            domid = strtoul(value, &rest, 0);
            if (rest == value || *rest)
                return -1;
        } else if (is_ports) {
            if (parse_range(value, &start, &end) < 0)
                return -1;
        } else if (strcmp(value, "none") == 0) {
            e->claim_mmio = false;
        } else if (parse_range(value, &e->mmio_start, &e->mmio_end) < 0) {
            return -1;
        }
    }
    if (domid >= DOMID_FIRST_RESERVED || end > 0xffff)
        return -1;
    e->domid = (domid_t)domid;
    e->first_port = (uint16_t)start;
    e->last_port = (uint16_t)end;
    return 0;
}

static int open_handles(struct echo *e)
{
    e->xce = xenevtchn_open(NULL, 0);
    e->fmem = xenforeignmemory_open(NULL, 0);
    e->dmod = xendevicemodel_open(NULL, 0);
    if (!e->xce || !e->fmem || !e->dmod) {
        die_errno("opening the Xen libraries");
        return -1;
    }
    return 0;
}

static int create_server(struct echo *e)
{
    void *addr = NULL;

    if (xendevicemodel_nr_vcpus(e->dmod, e->domid, &e->nr_vcpus) < 0) {
        die_errno("nr_vcpus");
        return -1;
    }
    if (e->nr_vcpus == 0 || e->nr_vcpus > MAX_VCPUS) {
        fprintf(stderr, "dm-echo: %u vCPUs: one ioreq page serves 1..%u\n", e->nr_vcpus,
                MAX_VCPUS);
        return -1;
    }
    if (xendevicemodel_create_ioreq_server(e->dmod, e->domid, XENABI_BUFIOREQ_ATOMIC,
                                           &e->id) < 0) {
        die_errno("create_ioreq_server");
        return -1;
    }
    e->have_server = true;
    /* Frame 0 is the buffered page, frame 1 the shared (synchronous) page. */
    e->fres = xenforeignmemory_map_resource(e->fmem, e->domid, XENMEM_resource_ioreq_server,
                                            e->id, XENMEM_resource_ioreq_server_frame_bufioreq,
                                            2, &addr, PROT_READ | PROT_WRITE, 0);
    if (!e->fres) {
        die_errno("map_resource");
        return -1;
    }
    e->buffered = addr;
    e->shared = (struct xenabi_ioreq *)((char *)addr + XENABI_PAGE_SIZE);
    return 0;
}

static int bind_ports(struct echo *e)
{
    evtchn_port_t remote_buf_port;
    int port;

    if (xendevicemodel_get_ioreq_server_info(e->dmod, e->domid, e->id, NULL, NULL,
                                             &remote_buf_port) < 0) {
        die_errno("get_ioreq_server_info");
        return -1;
    }
    /* Xen writes vp_eport into every slot when the server is enabled. */
    if (xendevicemodel_set_ioreq_server_state(e->dmod, e->domid, e->id, 1) < 0) {
        die_errno("enable the ioreq server");
        return -1;
    }
    for (unsigned i = 0; i < e->nr_vcpus; i++) {
        uint32_t remote = __atomic_load_n(&e->shared[i].vp_eport, __ATOMIC_ACQUIRE);
        port = xenevtchn_bind_interdomain(e->xce, e->domid, remote);
        if (port < 0) {
            die_errno("bind a vCPU event channel");
            return -1;
        }
        e->vcpu_port[i] = (evtchn_port_t)port;
    }
    port = xenevtchn_bind_interdomain(e->xce, e->domid, remote_buf_port);
    if (port < 0) {
        die_errno("bind the buffered event channel");
        return -1;
    }
    e->buf_port = (evtchn_port_t)port;
    return 0;
}

static int claim_and_announce(struct echo *e)
{
    char path[64];

    if (e->claim_mmio &&
        xendevicemodel_map_io_range_to_ioreq_server(e->dmod, e->domid, e->id, 1, e->mmio_start,
                                                    e->mmio_end) < 0) {
        die_errno("claim the MMIO range");
        return -1;
    }
    if (xendevicemodel_map_io_range_to_ioreq_server(e->dmod, e->domid, e->id, 0, e->first_port,
                                                    e->last_port) < 0) {
        die_errno("claim the port range");
        return -1;
    }
    e->xsh = xs_open(0);
    if (!e->xsh) {
        die_errno("xs_open");
        return -1;
    }
    snprintf(path, sizeof(path), "device-model/%u/state", e->domid);
    if (!xs_write(e->xsh, XBT_NULL, path, "running", strlen("running"))) {
        die_errno("write device-model state");
        return -1;
    }
    return 0;
}

static uint64_t size_mask(uint32_t size)
{
    return size >= 8 ? UINT64_MAX : (UINT64_C(1) << (size * 8)) - 1;
}

/*
 * The answer to a single read: the low bits of the port or address for one
 * that lies wholly in a claimed range, all-ones (nothing there) otherwise.
 * Xen sends only claimed accesses, but the fields are the guest's (or a raw
 * ioreq's): size, type and range are all checked.
 */
static uint64_t echo_read(const struct echo *e, const struct xenabi_ioreq *slot)
{
    uint32_t size = slot->size;
    uint64_t addr = slot->addr;
    uint64_t last = addr + size - 1;

    if (size != 1 && size != 2 && size != 4 && size != 8)
        return UINT64_MAX;
    if (last < addr)
        return UINT64_MAX;
    if (slot->type == XENABI_IOREQ_TYPE_PIO)
        return addr & size_mask(size); /* as before: any port the ioreq names */
    if (slot->type == XENABI_IOREQ_TYPE_COPY && e->claim_mmio && addr >= e->mmio_start &&
        last <= e->mmio_end)
        return addr & size_mask(size);
    return UINT64_MAX;
}

/* One synchronous request on vCPU `vcpu`: the whole device model. */
static void serve_vcpu(struct echo *e, unsigned vcpu)
{
    struct xenabi_ioreq *slot = &e->shared[vcpu];
    uint8_t flags = xenabi_ioreq_load_flags(slot);

    if (xenabi_ioreq_state(flags) != XENABI_STATE_IOREQ_READY)
        return; /* spurious: nothing for us */
    if (xenabi_ioreq_is_read(flags) && !xenabi_ioreq_data_is_ptr(flags))
        slot->data = echo_read(e, slot);
    /* Writes, REP string transfers and everything else: dropped, but answered. */
    xenabi_ioreq_store_flags(slot, xenabi_ioreq_with_state(flags, XENABI_STATE_IORESP_READY));
    xenevtchn_notify(e->xce, e->vcpu_port[vcpu]);
}

/* The buffered ring carries only writes: consume them all (ATOMIC mode). */
static void drain_buffered(struct echo *e)
{
    struct xenabi_buffered_iopage *page = e->buffered;

    for (;;) {
        uint32_t r = __atomic_load_n(&page->read_pointer, __ATOMIC_ACQUIRE);
        uint32_t w = __atomic_load_n(&page->write_pointer, __ATOMIC_ACQUIRE);
        if (r == w)
            return;
        if (w - r > XENABI_IOREQ_BUFFER_SLOT_NUM) {
            /* Xen never gets further ahead than the ring holds: a corrupt page. */
            if (!e->told_ring_corrupt)
                fprintf(stderr, "dm-echo: buffered ring pointers %u/%u are corrupt\n", r, w);
            e->told_ring_corrupt = true;
            return;
        }
        uint32_t word = page->slot[r % XENABI_IOREQ_BUFFER_SLOT_NUM].word;
        uint32_t used = xenabi_buf_size(word) == 8 ? 2 : 1;
        if (used == 2 && w - r < 2)
            return; /* half an 8-byte item: Xen is mid-write or broken; retry later */
        __atomic_fetch_add(&page->read_pointer, used, __ATOMIC_RELEASE);
    }
}

static void on_event(struct echo *e)
{
    int port = xenevtchn_pending(e->xce);

    if (port < 0)
        return;
    xenevtchn_unmask(e->xce, (evtchn_port_t)port);
    drain_buffered(e); /* Xen does not order the ring and the slots: ring first */
    for (unsigned i = 0; i < e->nr_vcpus; i++) {
        if (e->vcpu_port[i] == (evtchn_port_t)port)
            serve_vcpu(e, i);
    }
}

static int run(struct echo *e)
{
    struct pollfd fds[2] = {
        { .fd = xenevtchn_fd(e->xce), .events = POLLIN },
        { .fd = e->sigfd, .events = POLLIN },
    };

    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            die_errno("poll");
            return -1;
        }
        if (fds[1].revents)
            return 0;
        if (fds[0].revents & (POLLERR | POLLHUP)) {
            fprintf(stderr, "dm-echo: the event channel device went away\n");
            return -1;
        }
        if (fds[0].revents & POLLIN)
            on_event(e);
    }
}

static int block_signals(struct echo *e)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -1;
    e->sigfd = signalfd(-1, &set, SFD_CLOEXEC);
    return e->sigfd < 0 ? -1 : 0;
}

static void teardown(struct echo *e)
{
    if (e->have_server && xendevicemodel_destroy_ioreq_server(e->dmod, e->domid, e->id) < 0)
        die_errno("destroy_ioreq_server");
    if (e->fres)
        xenforeignmemory_unmap_resource(e->fmem, e->fres);
    if (e->xsh)
        xs_close(e->xsh);
    xendevicemodel_close(e->dmod);
    xenforeignmemory_close(e->fmem);
    xenevtchn_close(e->xce);
    if (e->sigfd >= 0)
        close(e->sigfd);
}

int main(int argc, char **argv)
{
    struct echo e = { .sigfd = -1 };
    int ret = 1;

    if (parse_args(argc, argv, &e) < 0) {
        fprintf(stderr, "usage: dm-echo --domid N [--ports START-END] [--mmio START-END|none]\n");
        return 2;
    }
    if (block_signals(&e) < 0) {
        die_errno("signals");
        return 1;
    }
    if (open_handles(&e) < 0 || create_server(&e) < 0 || bind_ports(&e) < 0 ||
        claim_and_announce(&e) < 0)
        goto out;
    fprintf(stderr, "dm-echo: domain %u, ports %#x-%#x, ", e.domid, e.first_port, e.last_port);
    if (e.claim_mmio)
        fprintf(stderr, "MMIO %#" PRIx64 "-%#" PRIx64, e.mmio_start, e.mmio_end);
    else
        fprintf(stderr, "no MMIO");
    fprintf(stderr, ", %u vCPUs, ioreq server %u\n", e.nr_vcpus, e.id);
    ret = run(&e) < 0 ? 1 : 0;
out:
    teardown(&e);
    return ret;
}
