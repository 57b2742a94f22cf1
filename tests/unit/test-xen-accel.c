/*
 * The Xen accelerator (accel/xen/xen-accel.c) against fake Xen libraries.
 *
 * Every xenevtchn_*, xenforeignmemory_*, xendevicemodel_*, xc_* and xs_*
 * function the accelerator calls is defined below instead of being linked
 * from Xen; Xen's own headers give the prototypes, so the fakes type-check.
 * Each fake appends "name args" to a call log, can be made to fail its Nth
 * call with a chosen errno, and plays a tiny Xen:
 *  - one ioreq server, id 0; its resource is two malloc'd pages (frame 0 the
 *    buffered ring, frame 1 the vCPU slots) whose vp_eport fields are written
 *    when the server is enabled (remote port VCPU_REMOTE_PORT + vCPU);
 *  - binding a remote port gives local ports FIRST_LOCAL_PORT, +1, ...;
 *  - the event-channel fd is an eventfd: fake_evtchn_raise() queues a port
 *    and makes the fd readable, as the real device does;
 *  - a call Xen would refuse (unbinding a port never bound, closing a handle
 *    not open, binding before the server is enabled, ...) counts as a protocol
 *    error, which every test checks is zero.
 *
 * The tests: bring-up order and arguments and the exact teardown; a table
 * with a failure injected at every bring-up call, checking the error names
 * the step and errno and that teardown is exactly the inverse of the steps
 * reached; ioreq serving through one main-loop iteration; the accel_ops; the
 * mapcache mapper; starting paused (-S) and enabling on cont; restriction.
 */
#include <errno.h>
#include <glib.h>
#include <inttypes.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xenstore.h>
#include <xentoolcore.h>

#include "accel/xen/xen-accel.h"
#include "xendm/ioreq.h"
#include "xendm/log.h"
#include "xendm/machine.h"

#define DOMID 7
#define GUEST_VCPUS 2
#define FALLBACK_VCPUS 3
#define VCPU_REMOTE_PORT 100
#define BUFFERED_REMOTE_PORT 500
#define FIRST_LOCAL_PORT 11
#define DEV_PORT 0x60
#define DEV_ANSWER 0x5a
#define DEV_MMIO 0xfed00000ull
#define PRE_PCIDEV 0x18u  /* 0000:00:03.0, claimed before bring-up */
#define POST_PCIDEV 0x20u /* 0000:00:04.0, claimed after */

/* ---- the fake Xen ---- */

struct fake_xen {
    GPtrArray *log;      /* char *: "name args" per call, in call order */
    GHashTable *calls;   /* function name -> calls so far */
    const char *fail_fn; /* the fail_nth call of fail_fn fails with fail_errno */
    unsigned fail_nth;
    int fail_errno;
    unsigned protocol_errors; /* calls Xen would refuse: must stay 0 */

    unsigned nr_vcpus; /* what xendevicemodel_nr_vcpus reports */
    bool xce_open, fmem_open, dmod_open, xc_open, xsh_open;
    int evtchn_fd; /* the eventfd behind the xenevtchn handle; -1 when closed */
    GQueue pending; /* ports raised and not yet returned by xenevtchn_pending */
    bool server_exists, server_enabled;
    uint8_t *resource; /* the server's two frames while mapped */
    GArray *bound;     /* evtchn_port_t: local ports bound */
    evtchn_port_t next_local_port;
    GHashTable *foreign_maps; /* address -> number of pages (xenforeignmemory_map) */
};

static struct fake_xen fx;

/* Distinct non-NULL handles; never dereferenced. */
static char xce_token, fmem_token, dmod_token, xc_token, xsh_token, resource_token;
#define FAKE_XCE ((xenevtchn_handle *)&xce_token)
#define FAKE_FMEM ((xenforeignmemory_handle *)&fmem_token)
#define FAKE_DMOD ((xendevicemodel_handle *)&dmod_token)
#define FAKE_XC ((xc_interface *)&xc_token)
#define FAKE_XSH ((struct xs_handle *)&xsh_token)
#define FAKE_RESOURCE ((xenforeignmemory_resource_handle *)&resource_token)

static void fake_reset(void)
{
    fx.log = g_ptr_array_new_with_free_func(g_free);
    fx.calls = g_hash_table_new(g_str_hash, g_str_equal);
    fx.fail_fn = NULL;
    fx.fail_nth = 0;
    fx.fail_errno = 0;
    fx.protocol_errors = 0;
    fx.nr_vcpus = GUEST_VCPUS;
    fx.evtchn_fd = -1;
    g_queue_init(&fx.pending);
    fx.server_exists = fx.server_enabled = false;
    fx.resource = NULL;
    fx.bound = g_array_new(FALSE, FALSE, sizeof(evtchn_port_t));
    fx.next_local_port = FIRST_LOCAL_PORT;
    fx.foreign_maps = g_hash_table_new(g_direct_hash, g_direct_equal);
}

/* Everything the accelerator acquired must have been given back. */
static void fake_check_released(void)
{
    g_assert_cmpuint(fx.protocol_errors, ==, 0);
    g_assert_false(fx.xce_open || fx.fmem_open || fx.dmod_open || fx.xc_open || fx.xsh_open);
    g_assert_cmpint(fx.evtchn_fd, ==, -1);
    g_assert_false(fx.server_exists);
    g_assert_null(fx.resource);
    g_assert_cmpuint(fx.bound->len, ==, 0);
    g_assert_cmpuint(g_hash_table_size(fx.foreign_maps), ==, 0);
}

static void fake_free(void)
{
    g_ptr_array_free(fx.log, TRUE);
    g_hash_table_destroy(fx.calls);
    g_queue_clear(&fx.pending);
    g_array_free(fx.bound, TRUE);
    g_hash_table_destroy(fx.foreign_maps);
}

static void fake_fail(const char *fn, unsigned nth, int errnum)
{
    fx.fail_fn = fn;
    fx.fail_nth = nth;
    fx.fail_errno = errnum;
}

/*
 * Logs one call (args owned, may be NULL) and decides whether it is the one to
 * fail: then errno is set, " FAIL" is appended, and true is returned.
 */
static bool record(const char *fn, char *args)
{
    unsigned n = GPOINTER_TO_UINT(g_hash_table_lookup(fx.calls, fn)) + 1;
    bool fail = fx.fail_fn != NULL && strcmp(fx.fail_fn, fn) == 0 && n == fx.fail_nth;

    g_hash_table_insert(fx.calls, (gpointer)fn, GUINT_TO_POINTER(n));
    g_ptr_array_add(fx.log, g_strdup_printf("%s%s%s%s", fn, args != NULL ? " " : "",
                                            args != NULL ? args : "", fail ? " FAIL" : ""));
    g_free(args);
    if (fail) {
        errno = fx.fail_errno;
    }
    return fail;
}

#define CALL(fn, ...) record(fn, g_strdup_printf(__VA_ARGS__))
#define CALL0(fn) record(fn, NULL)

static void protocol_error(const char *what)
{
    g_test_message("fake Xen refused: %s", what);
    fx.protocol_errors++;
}

static bool fake_port_bound(evtchn_port_t port)
{
    for (guint i = 0; i < fx.bound->len; i++) {
        if (g_array_index(fx.bound, evtchn_port_t, i) == port) {
            return true;
        }
    }
    return false;
}

/* Queues an event on `port` and makes the fd readable. */
static void fake_evtchn_raise(evtchn_port_t port)
{
    uint64_t one = 1;

    g_queue_push_tail(&fx.pending, GUINT_TO_POINTER(port));
    g_assert_cmpint(write(fx.evtchn_fd, &one, sizeof(one)), ==, sizeof(one));
}

static void fake_evtchn_drain_fd(void)
{
    uint64_t count;

    if (read(fx.evtchn_fd, &count, sizeof(count)) < 0) {
        g_assert_cmpint(errno, ==, EAGAIN);
    }
}

/* -- xenevtchn -- */

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger, unsigned int flags)
{
    if (CALL0("xenevtchn_open")) {
        return NULL;
    }
    fx.evtchn_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    g_assert_cmpint(fx.evtchn_fd, >=, 0);
    fx.xce_open = true;
    return FAKE_XCE;
}

int xenevtchn_close(xenevtchn_handle *xce)
{
    CALL0("xenevtchn_close");
    if (xce != FAKE_XCE || !fx.xce_open) {
        protocol_error("xenevtchn_close of a handle not open");
        return -1;
    }
    if (fx.bound->len > 0) {
        /* Closing unbinds in Xen too, but the accelerator promises to unbind what it bound. */
        protocol_error("xenevtchn_close with ports still bound");
        g_array_set_size(fx.bound, 0);
    }
    close(fx.evtchn_fd);
    fx.evtchn_fd = -1;
    fx.xce_open = false;
    return 0;
}

int xenevtchn_fd(xenevtchn_handle *xce)
{
    if (CALL0("xenevtchn_fd")) {
        return -1;
    }
    return fx.evtchn_fd;
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce, uint32_t domid,
                                                     evtchn_port_t remote_port)
{
    bool vcpu_port = remote_port >= VCPU_REMOTE_PORT &&
                     remote_port < VCPU_REMOTE_PORT + XENABI_IOREQS_PER_PAGE;
    evtchn_port_t local;

    if (CALL("xenevtchn_bind_interdomain", "dom=%u remote=%u", domid, remote_port)) {
        return -1;
    }
    /* The ports exist only once the server is enabled (vp_eport is 0 before). */
    if (!fx.server_enabled || (!vcpu_port && remote_port != BUFFERED_REMOTE_PORT)) {
        protocol_error("bind of a port the server has not allocated");
        errno = EINVAL;
        return -1;
    }
    local = fx.next_local_port++;
    g_array_append_val(fx.bound, local);
    return (xenevtchn_port_or_error_t)local;
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
    CALL("xenevtchn_unbind", "port=%u", port);
    for (guint i = 0; i < fx.bound->len; i++) {
        if (g_array_index(fx.bound, evtchn_port_t, i) == port) {
            g_array_remove_index(fx.bound, i);
            return 0;
        }
    }
    protocol_error("unbind of a port not bound");
    errno = EINVAL;
    return -1;
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
    evtchn_port_t port;

    if (CALL0("xenevtchn_pending")) {
        return -1; /* the fd stays readable, as on a broken device */
    }
    if (g_queue_is_empty(&fx.pending)) {
        fake_evtchn_drain_fd();
        errno = EAGAIN;
        return -1;
    }
    port = GPOINTER_TO_UINT(g_queue_pop_head(&fx.pending));
    if (g_queue_is_empty(&fx.pending)) {
        fake_evtchn_drain_fd();
    }
    return (xenevtchn_port_or_error_t)port;
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
    return CALL("xenevtchn_unmask", "port=%u", port) ? -1 : 0;
}

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
    if (CALL("xenevtchn_notify", "port=%u", port)) {
        return -1;
    }
    if (!fake_port_bound(port)) {
        protocol_error("notify on a port not bound");
        errno = EINVAL;
        return -1;
    }
    return 0;
}

/* -- xenforeignmemory -- */

xenforeignmemory_handle *xenforeignmemory_open(struct xentoollog_logger *logger,
                                               unsigned open_flags)
{
    if (CALL0("xenforeignmemory_open")) {
        return NULL;
    }
    fx.fmem_open = true;
    return FAKE_FMEM;
}

int xenforeignmemory_close(xenforeignmemory_handle *fmem)
{
    CALL0("xenforeignmemory_close");
    if (fmem != FAKE_FMEM || !fx.fmem_open) {
        protocol_error("xenforeignmemory_close of a handle not open");
        return -1;
    }
    fx.fmem_open = false;
    return 0;
}

static const char *prot_name(int prot)
{
    switch (prot) {
    case PROT_READ:
        return "r";
    case PROT_READ | PROT_WRITE:
        return "rw";
    default:
        return "?";
    }
}

void *xenforeignmemory_map(xenforeignmemory_handle *fmem, uint32_t dom, int prot, size_t pages,
                           const xen_pfn_t arr[], int err[])
{
    GString *gfns = g_string_new(NULL);
    void *addr;

    for (size_t i = 0; i < pages; i++) {
        g_string_append_printf(gfns, "%s0x%lx", i > 0 ? "," : "", (unsigned long)arr[i]);
    }
    if (record("xenforeignmemory_map", g_strdup_printf("dom=%u prot=%s gfns=%s", dom,
                                                       prot_name(prot), gfns->str))) {
        g_string_free(gfns, TRUE);
        return NULL;
    }
    g_string_free(gfns, TRUE);
    addr = g_malloc0(pages * XENABI_PAGE_SIZE);
    for (size_t i = 0; i < pages; i++) {
        err[i] = 0;
    }
    g_hash_table_insert(fx.foreign_maps, addr, GSIZE_TO_POINTER(pages));
    return addr;
}

int xenforeignmemory_unmap(xenforeignmemory_handle *fmem, void *addr, size_t pages)
{
    gpointer mapped_pages;

    CALL("xenforeignmemory_unmap", "pages=%zu", pages);
    if (!g_hash_table_lookup_extended(fx.foreign_maps, addr, NULL, &mapped_pages) ||
        GPOINTER_TO_SIZE(mapped_pages) != pages) {
        protocol_error("unmap of something not mapped");
        errno = EINVAL;
        return -1;
    }
    g_hash_table_remove(fx.foreign_maps, addr);
    g_free(addr);
    return 0;
}

xenforeignmemory_resource_handle *xenforeignmemory_map_resource(
    xenforeignmemory_handle *fmem, domid_t domid, unsigned int type, unsigned int id,
    unsigned long frame, unsigned long nr_frames, void **paddr, int prot, int flags)
{
    if (CALL("xenforeignmemory_map_resource", "dom=%u type=%u id=%u frame=%lu nr=%lu prot=%s",
             domid, type, id, frame, nr_frames, prot_name(prot))) {
        return NULL;
    }
    if (!fx.server_exists || id != 0 || fx.resource != NULL || frame + nr_frames > 2) {
        protocol_error("map_resource of frames the server does not have");
        errno = EINVAL;
        return NULL;
    }
    fx.resource = g_aligned_alloc0(2, XENABI_PAGE_SIZE, XENABI_PAGE_SIZE);
    *paddr = fx.resource + frame * XENABI_PAGE_SIZE;
    return FAKE_RESOURCE;
}

int xenforeignmemory_unmap_resource(xenforeignmemory_handle *fmem,
                                    xenforeignmemory_resource_handle *fres)
{
    CALL0("xenforeignmemory_unmap_resource");
    if (fres != FAKE_RESOURCE || fx.resource == NULL) {
        protocol_error("unmap_resource of a resource not mapped");
        errno = EINVAL;
        return -1;
    }
    g_aligned_free(fx.resource);
    fx.resource = NULL;
    return 0;
}

static struct xenabi_ioreq *fake_shared_page(void)
{
    return (struct xenabi_ioreq *)(fx.resource + XENABI_PAGE_SIZE);
}

static struct xenabi_buffered_iopage *fake_buffered_page(void)
{
    return (struct xenabi_buffered_iopage *)fx.resource;
}

/* -- xendevicemodel -- */

xendevicemodel_handle *xendevicemodel_open(struct xentoollog_logger *logger,
                                           unsigned int open_flags)
{
    if (CALL0("xendevicemodel_open")) {
        return NULL;
    }
    fx.dmod_open = true;
    return FAKE_DMOD;
}

int xendevicemodel_close(xendevicemodel_handle *dmod)
{
    CALL0("xendevicemodel_close");
    if (dmod != FAKE_DMOD || !fx.dmod_open) {
        protocol_error("xendevicemodel_close of a handle not open");
        return -1;
    }
    fx.dmod_open = false;
    return 0;
}

int xendevicemodel_nr_vcpus(xendevicemodel_handle *dmod, domid_t domid, unsigned int *vcpus)
{
    if (CALL("xendevicemodel_nr_vcpus", "dom=%u", domid)) {
        return -1;
    }
    *vcpus = fx.nr_vcpus;
    return 0;
}

int xendevicemodel_create_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                       int handle_bufioreq, ioservid_t *id)
{
    if (CALL("xendevicemodel_create_ioreq_server", "dom=%u bufioreq=%d", domid,
             handle_bufioreq)) {
        return -1;
    }
    if (fx.server_exists) {
        protocol_error("a second ioreq server");
        errno = EEXIST;
        return -1;
    }
    fx.server_exists = true;
    *id = 0;
    return 0;
}

int xendevicemodel_get_ioreq_server_info(xendevicemodel_handle *dmod, domid_t domid,
                                         ioservid_t id, xen_pfn_t *ioreq_gfn,
                                         xen_pfn_t *bufioreq_gfn, evtchn_port_t *bufioreq_port)
{
    if (CALL("xendevicemodel_get_ioreq_server_info", "dom=%u id=%u", domid, id)) {
        return -1;
    }
    if (!fx.server_exists || id != 0) {
        protocol_error("info of a server that does not exist");
        errno = ENOENT;
        return -1;
    }
    /* No gfns: the pages are reached through map_resource only. */
    if (ioreq_gfn != NULL || bufioreq_gfn != NULL) {
        protocol_error("asking for the legacy gfns");
    }
    if (bufioreq_port != NULL) {
        *bufioreq_port = BUFFERED_REMOTE_PORT;
    }
    return 0;
}

int xendevicemodel_set_ioreq_server_state(xendevicemodel_handle *dmod, domid_t domid,
                                          ioservid_t id, int enabled)
{
    if (CALL("xendevicemodel_set_ioreq_server_state", "dom=%u id=%u enabled=%d", domid, id,
             enabled)) {
        return -1;
    }
    if (!fx.server_exists || id != 0) {
        protocol_error("state of a server that does not exist");
        errno = ENOENT;
        return -1;
    }
    fx.server_enabled = enabled != 0;
    if (fx.server_enabled && fx.resource != NULL) {
        struct xenabi_ioreq *slots = fake_shared_page();
        for (unsigned i = 0; i < XENABI_IOREQS_PER_PAGE; i++) {
            slots[i].vp_eport = VCPU_REMOTE_PORT + i;
        }
    }
    return 0;
}

int xendevicemodel_destroy_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                        ioservid_t id)
{
    if (CALL("xendevicemodel_destroy_ioreq_server", "dom=%u id=%u", domid, id)) {
        return -1;
    }
    if (!fx.server_exists || id != 0) {
        protocol_error("destroy of a server that does not exist");
        errno = ENOENT;
        return -1;
    }
    fx.server_exists = fx.server_enabled = false;
    return 0;
}

static int fake_range_op(const char *fn, domid_t domid, ioservid_t id, int is_mmio,
                         uint64_t start, uint64_t end)
{
    if (CALL(fn, "dom=%u id=%u %s 0x%" PRIx64 "-0x%" PRIx64, domid,
             id, is_mmio ? "mmio" : "io", start, end)) {
        return -1;
    }
    if (!fx.server_exists) {
        protocol_error("range claim without a server");
        errno = ENOENT;
        return -1;
    }
    return 0;
}

int xendevicemodel_map_io_range_to_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                                ioservid_t id, int is_mmio, uint64_t start,
                                                uint64_t end)
{
    return fake_range_op("xendevicemodel_map_io_range_to_ioreq_server", domid, id, is_mmio,
                         start, end);
}

int xendevicemodel_unmap_io_range_from_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                                    ioservid_t id, int is_mmio, uint64_t start,
                                                    uint64_t end)
{
    return fake_range_op("xendevicemodel_unmap_io_range_from_ioreq_server", domid, id, is_mmio,
                         start, end);
}

static int fake_pcidev_op(const char *fn, domid_t domid, ioservid_t id, uint16_t segment,
                          uint8_t bus, uint8_t device, uint8_t function)
{
    if (CALL(fn, "dom=%u id=%u %04x:%02x:%02x.%u", domid, id, segment, bus, device, function)) {
        return -1;
    }
    if (!fx.server_exists) {
        protocol_error("PCI claim without a server");
        errno = ENOENT;
        return -1;
    }
    return 0;
}

int xendevicemodel_map_pcidev_to_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                              ioservid_t id, uint16_t segment, uint8_t bus,
                                              uint8_t device, uint8_t function)
{
    return fake_pcidev_op("xendevicemodel_map_pcidev_to_ioreq_server", domid, id, segment, bus,
                          device, function);
}

int xendevicemodel_unmap_pcidev_from_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                                  ioservid_t id, uint16_t segment, uint8_t bus,
                                                  uint8_t device, uint8_t function)
{
    return fake_pcidev_op("xendevicemodel_unmap_pcidev_from_ioreq_server", domid, id, segment,
                          bus, device, function);
}

int xendevicemodel_set_isa_irq_level(xendevicemodel_handle *dmod, domid_t domid, uint8_t irq,
                                     unsigned int level)
{
    return CALL("xendevicemodel_set_isa_irq_level", "dom=%u irq=%u level=%u", domid, irq,
                level) ? -1 : 0;
}

int xendevicemodel_set_pci_intx_level(xendevicemodel_handle *dmod, domid_t domid,
                                      uint16_t segment, uint8_t bus, uint8_t device,
                                      uint8_t intx, unsigned int level)
{
    return CALL("xendevicemodel_set_pci_intx_level", "dom=%u %04x:%02x dev=%u intx=%u level=%u",
                domid, segment, bus, device, intx, level) ? -1 : 0;
}

int xendevicemodel_set_pci_link_route(xendevicemodel_handle *dmod, domid_t domid, uint8_t link,
                                      uint8_t irq)
{
    return CALL("xendevicemodel_set_pci_link_route", "dom=%u link=%u irq=%u", domid, link, irq)
               ? -1 : 0;
}

int xendevicemodel_inject_msi(xendevicemodel_handle *dmod, domid_t domid, uint64_t msi_addr,
                              uint32_t msi_data)
{
    return CALL("xendevicemodel_inject_msi", "dom=%u addr=0x%" PRIx64 " data=0x%x",
                domid, msi_addr, msi_data) ? -1 : 0;
}

int xendevicemodel_set_mem_type(xendevicemodel_handle *dmod, domid_t domid,
                                hvmmem_type_t mem_type, uint64_t first_pfn, uint32_t nr)
{
    return CALL("xendevicemodel_set_mem_type", "dom=%u type=%d pfn=0x%" PRIx64 " nr=%u", domid,
                (int)mem_type, first_pfn, nr) ? -1 : 0;
}

int xendevicemodel_modified_memory(xendevicemodel_handle *dmod, domid_t domid,
                                   uint64_t first_pfn, uint32_t nr)
{
    return CALL("xendevicemodel_modified_memory", "dom=%u pfn=0x%" PRIx64 " nr=%u", domid,
                first_pfn, nr) ? -1 : 0;
}

int xendevicemodel_relocate_memory(xendevicemodel_handle *dmod, domid_t domid, uint32_t size,
                                   uint64_t src_gfn, uint64_t dst_gfn)
{
    return CALL("xendevicemodel_relocate_memory", "dom=%u nr=%u 0x%" PRIx64 "->0x%" PRIx64, domid,
                size, src_gfn, dst_gfn) ? -1 : 0;
}

int xendevicemodel_pin_memory_cacheattr(xendevicemodel_handle *dmod, domid_t domid,
                                        uint64_t start, uint64_t end, uint32_t type)
{
    return CALL("xendevicemodel_pin_memory_cacheattr", "dom=%u 0x%" PRIx64 "-0x%" PRIx64 " %d",
                domid, start, end, (int)type) ? -1 : 0;
}

int xendevicemodel_track_dirty_vram(xendevicemodel_handle *dmod, domid_t domid,
                                    uint64_t first_pfn, uint32_t nr, unsigned long *dirty_bitmap)
{
    return CALL("xendevicemodel_track_dirty_vram", "dom=%u pfn=0x%" PRIx64 " nr=%u", domid,
                first_pfn, nr) ? -1 : 0;
}

int xc_domain_populate_physmap_exact(xc_interface *xch, uint32_t domid, unsigned long nr_extents,
                                     unsigned int extent_order, unsigned int mem_flags,
                                     xen_pfn_t *extent_start)
{
    return CALL("xc_domain_populate_physmap_exact", "dom=%u nr=%lu first=0x%lx", domid,
                nr_extents, (unsigned long)extent_start[0]) ? -1 : 0;
}

int xendevicemodel_shutdown(xendevicemodel_handle *dmod, domid_t domid, unsigned int reason)
{
    return CALL("xendevicemodel_shutdown", "dom=%u reason=%u", domid, reason) ? -1 : 0;
}

/* -- xenctrl and xenstore -- */

xc_interface *xc_interface_open(xentoollog_logger *logger, xentoollog_logger *dombuild_logger,
                                unsigned open_flags)
{
    if (CALL0("xc_interface_open")) {
        return NULL;
    }
    fx.xc_open = true;
    return FAKE_XC;
}

int xc_hvm_param_set(xc_interface *handle, uint32_t dom, uint32_t param, uint64_t value)
{
    if (handle != FAKE_XC || !fx.xc_open) {
        protocol_error("xc_hvm_param_set on a handle not open");
    }
    return CALL("xc_hvm_param_set", "dom=%u param=%u value=%llu", dom, param,
                (unsigned long long)value) ? -1 : 0;
}

int xc_interface_close(xc_interface *xch)
{
    CALL0("xc_interface_close");
    if (xch != FAKE_XC || !fx.xc_open) {
        protocol_error("xc_interface_close of a handle not open");
        return -1;
    }
    fx.xc_open = false;
    return 0;
}

struct xs_handle *xs_open(unsigned long flags)
{
    if (CALL0("xs_open")) {
        return NULL;
    }
    fx.xsh_open = true;
    return FAKE_XSH;
}

void xs_close(struct xs_handle *xsh)
{
    /* NULL is allowed by Xen; logged all the same, so a close of nothing shows. */
    if (xsh == NULL) {
        CALL("xs_close", "NULL");
        return;
    }
    CALL0("xs_close");
    if (xsh != FAKE_XSH || !fx.xsh_open) {
        protocol_error("xs_close of a handle not open");
        return;
    }
    fx.xsh_open = false;
}

bool xs_write(struct xs_handle *h, xs_transaction_t t, const char *path, const void *data,
              unsigned int len)
{
    if (record("xs_write", g_strdup_printf("%s=%.*s", path, (int)len, (const char *)data))) {
        return false;
    }
    if (t != XBT_NULL) {
        protocol_error("xs_write in a transaction nobody started");
    }
    return true;
}

/* -- xentoolcore -- */

int xentoolcore_restrict_all(domid_t domid)
{
    if (CALL("xentoolcore_restrict_all", "dom=%u", domid)) {
        return -1;
    }
    if (fx.xsh_open) {
        /* Real libxenstore would now read EOF on /dev/null: the accelerator closes it first. */
        protocol_error("restricting with the xenstore handle still open");
    }
    return 0;
}

/* ---- the call log ---- */

/* Entries from `mark` on, joined with "; ", for comparing whole sequences. */
static char *log_since(guint mark)
{
    GString *s = g_string_new(NULL);

    for (guint i = mark; i < fx.log->len; i++) {
        g_string_append_printf(s, "%s%s", i > mark ? "; " : "", (char *)fx.log->pdata[i]);
    }
    return g_string_free(s, FALSE);
}

static void assert_log_since(guint mark, const char *expected)
{
    g_autofree char *got = log_since(mark);
    g_assert_cmpstr(got, ==, expected);
}

static unsigned log_count_prefix(guint mark, const char *prefix)
{
    unsigned n = 0;

    for (guint i = mark; i < fx.log->len; i++) {
        n += g_str_has_prefix(fx.log->pdata[i], prefix);
    }
    return n;
}

/* ---- a machine with a device, brought up as xendm's main does ---- */

struct test_dev {
    GString *writes; /* "port:value " per write */
};

static uint64_t dev_read(void *opaque, uint64_t offset, unsigned size)
{
    return DEV_ANSWER;
}

static void dev_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct test_dev *d = opaque;

    g_string_append_printf(d->writes, "%x:%02x ", (unsigned)(DEV_PORT + offset),
                           (unsigned)value);
}

static const struct region_ops dev_ops = {.read = dev_read, .write = dev_write, .max_access = 1};

struct rig {
    struct xen_accel *xa;
    struct machine *m;
    struct test_dev dev;
    struct region *io_region, *mmio_region;
    unsigned fatal_calls;
};

static void on_fatal(void *opaque)
{
    struct rig *r = opaque;
    r->fatal_calls++;
}

/* main.c's build_and_start(): open, machine with regions and a PCI claim, start, "running". */
static bool rig_bring_up(struct rig *r, GError **err)
{
    r->dev.writes = g_string_new(NULL);
    r->xa = xen_accel_new(DOMID, FALLBACK_VCPUS);
    xen_accel_set_fatal_handler(r->xa, on_fatal, r);
    if (!xen_accel_open(r->xa, err)) {
        return false;
    }
    r->m = machine_new();
    r->io_region = machine_add_io(r->m, "dev", DEV_PORT, 2, &dev_ops, &r->dev);
    r->mmio_region = machine_add_mmio(r->m, "dev-mmio", DEV_MMIO, 0x1000, &dev_ops, &r->dev);
    xen_accel_attach(r->xa, r->m);
    r->m->accel->claim_pcidev(r->m->accel_opaque, PRE_PCIDEV, true);
    return xen_accel_start(r->xa, err) && xen_accel_set_state(r->xa, "running", err);
}

/* main.c's teardown(): stop, free the machine, then the accelerator. */
static void rig_tear_down(struct rig *r)
{
    xen_accel_stop(r->xa);
    if (r->m != NULL) {
        region_del(r->io_region);
        region_del(r->mmio_region);
        machine_free(r->m);
    }
    xen_accel_free(r->xa);
    g_string_free(r->dev.writes, TRUE);
}

#define HAPPY_BRING_UP                                                                            \
    "xenevtchn_open; xenforeignmemory_open; xendevicemodel_open; xc_interface_open; xs_open; "   \
    "xendevicemodel_nr_vcpus dom=7; "                                                             \
    "xendevicemodel_create_ioreq_server dom=7 bufioreq=2; "                                       \
    "xenforeignmemory_map_resource dom=7 type=0 id=0 frame=0 nr=2 prot=rw; "                      \
    "xendevicemodel_get_ioreq_server_info dom=7 id=0; "                                           \
    "xendevicemodel_set_ioreq_server_state dom=7 id=0 enabled=1; "                                \
    "xenevtchn_bind_interdomain dom=7 remote=100; "                                               \
    "xenevtchn_bind_interdomain dom=7 remote=101; "                                               \
    "xenevtchn_bind_interdomain dom=7 remote=500; "                                               \
    "xendevicemodel_map_io_range_to_ioreq_server dom=7 id=0 io 0x60-0x61; "                       \
    "xendevicemodel_map_io_range_to_ioreq_server dom=7 id=0 mmio 0xfed00000-0xfed00fff; "         \
    "xendevicemodel_map_pcidev_to_ioreq_server dom=7 id=0 0000:00:03.0; "                         \
    "xenevtchn_fd; "                                                                              \
    "xs_write device-model/7/state=running"

/* The inverse of each step, in the order teardown must undo them. */
#define UNDO_HANDLES                                                                              \
    "xs_close; xc_interface_close; xendevicemodel_close; xenforeignmemory_close; xenevtchn_close"
#define UNDO_SERVER "xendevicemodel_destroy_ioreq_server dom=7 id=0; " UNDO_HANDLES
#define UNDO_PAGES "xenforeignmemory_unmap_resource; " UNDO_SERVER
#define UNDO_ENABLE "xendevicemodel_set_ioreq_server_state dom=7 id=0 enabled=0; " UNDO_PAGES
#define UNDO_ALL                                                                                  \
    "xenevtchn_unbind port=11; xenevtchn_unbind port=12; xenevtchn_unbind port=13; " UNDO_ENABLE

/* ---- 1. the happy path ---- */

static void test_bring_up_and_teardown(void)
{
    struct rig r = {0};
    GError *err = NULL;
    struct region *late;
    guint mark;

    fake_reset();
    g_assert_true(rig_bring_up(&r, &err));
    g_assert_no_error(err);
    assert_log_since(0, HAPPY_BRING_UP);
    g_assert_cmpint(xen_accel_step_reached(r.xa), ==, XEN_ACCEL_SERVING);

    /* Regions and PCI functions that come and go after bring-up are claimed and released. */
    mark = fx.log->len;
    late = machine_add_io(r.m, "late", 0x70, 2, &dev_ops, &r.dev);
    g_assert_nonnull(late);
    r.m->accel->claim_pcidev(r.m->accel_opaque, POST_PCIDEV, true);
    r.m->accel->claim_pcidev(r.m->accel_opaque, POST_PCIDEV, true); /* already claimed */
    r.m->accel->claim_pcidev(r.m->accel_opaque, POST_PCIDEV, false);
    region_del(late);
    assert_log_since(mark,
                     "xendevicemodel_map_io_range_to_ioreq_server dom=7 id=0 io 0x70-0x71; "
                     "xendevicemodel_map_pcidev_to_ioreq_server dom=7 id=0 0000:00:04.0; "
                     "xendevicemodel_unmap_pcidev_from_ioreq_server dom=7 id=0 0000:00:04.0; "
                     "xendevicemodel_unmap_io_range_from_ioreq_server dom=7 id=0 io 0x70-0x71");

    mark = fx.log->len;
    rig_tear_down(&r);
    assert_log_since(mark, UNDO_ALL);
    fake_check_released();
    g_assert_false(g_main_context_iteration(NULL, FALSE)); /* no source left behind */
    fake_free();
}

/* Stopping twice, or freeing after a stop, undoes nothing twice. */
static void test_stop_is_idempotent(void)
{
    struct rig r = {0};
    GError *err = NULL;
    guint mark;

    fake_reset();
    g_assert_true(rig_bring_up(&r, &err));
    mark = fx.log->len;
    xen_accel_stop(r.xa);
    g_assert_cmpint(xen_accel_step_reached(r.xa), ==, XEN_ACCEL_HANDLES);
    xen_accel_stop(r.xa);
    rig_tear_down(&r);
    assert_log_since(mark, UNDO_ALL);
    fake_check_released();
    fake_free();
}

/* Step 2 cannot fail: without nr_vcpus the -smp count is used (and capped at one page). */
static void test_nr_vcpus_fallback(void)
{
    struct rig r = {0};
    GError *err = NULL;
    guint mark;

    fake_reset();
    fake_fail("xendevicemodel_nr_vcpus", 1, ENOSYS);
    g_assert_true(rig_bring_up(&r, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(log_count_prefix(0, "xenevtchn_bind_interdomain"), ==, FALLBACK_VCPUS + 1);
    g_assert_cmpuint(log_count_prefix(0, "xenevtchn_bind_interdomain dom=7 remote=102"), ==, 1);
    mark = fx.log->len;
    rig_tear_down(&r);
    assert_log_since(mark, "xenevtchn_unbind port=11; xenevtchn_unbind port=12; "
                           "xenevtchn_unbind port=13; xenevtchn_unbind port=14; " UNDO_ENABLE);
    fake_check_released();
    fake_free();

    r = (struct rig){0};
    fake_reset();
    fx.nr_vcpus = 1000;
    g_assert_true(rig_bring_up(&r, &err));
    g_assert_cmpuint(log_count_prefix(0, "xenevtchn_bind_interdomain"), ==,
                     XENABI_IOREQS_PER_PAGE + 1);
    mark = fx.log->len;
    rig_tear_down(&r);
    g_assert_cmpuint(log_count_prefix(mark, "xenevtchn_unbind"), ==, XENABI_IOREQS_PER_PAGE + 1);
    fake_check_released();
    fake_free();
}

/* Step 8 cannot fail: a refused claim is logged and bring-up goes on. */
static void test_claim_failure_not_fatal(void)
{
    struct rig r = {0};
    GError *err = NULL;

    fake_reset();
    fake_fail("xendevicemodel_map_io_range_to_ioreq_server", 1, EEXIST);
    g_assert_true(rig_bring_up(&r, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(log_count_prefix(0, "xendevicemodel_map_io_range"), ==, 2);
    g_assert_cmpuint(r.fatal_calls, ==, 0);
    rig_tear_down(&r);
    fake_check_released();
    fake_free();
}

/* ---- 2. a failure at every bring-up call ---- */

struct failure_case {
    const char *name;
    const char *fn; /* the call that fails ... */
    unsigned nth;   /* ... the nth time */
    int errnum;
    unsigned step;        /* the step the message names; 0: not a numbered step */
    const char *what;     /* and what it says failed */
    const char *teardown; /* exactly the calls teardown must make */
};

static const struct failure_case failure_cases[] = {
    {"evtchn-open", "xenevtchn_open", 1, EACCES, 1, "xenevtchn_open", ""},
    {"fmem-open", "xenforeignmemory_open", 1, ENOENT, 1, "xenforeignmemory_open",
     "xenevtchn_close"},
    {"dmod-open", "xendevicemodel_open", 1, ENOMEM, 1, "xendevicemodel_open",
     "xenforeignmemory_close; xenevtchn_close"},
    {"xc-open", "xc_interface_open", 1, EPERM, 1, "xc_interface_open",
     "xendevicemodel_close; xenforeignmemory_close; xenevtchn_close"},
    {"xs-open", "xs_open", 1, ECONNREFUSED, 1, "xs_open",
     "xc_interface_close; xendevicemodel_close; xenforeignmemory_close; xenevtchn_close"},
    {"create-server", "xendevicemodel_create_ioreq_server", 1, ENOSPC, 3, "create_ioreq_server",
     UNDO_HANDLES},
    {"map-resource", "xenforeignmemory_map_resource", 1, EOPNOTSUPP, 4, "map_resource",
     UNDO_SERVER},
    {"server-info", "xendevicemodel_get_ioreq_server_info", 1, EIO, 5, "get_ioreq_server_info",
     UNDO_PAGES},
    {"enable", "xendevicemodel_set_ioreq_server_state", 1, EPERM, 6, "set_ioreq_server_state",
     UNDO_PAGES},
    {"bind-vcpu0", "xenevtchn_bind_interdomain", 1, ENOMEM, 7, "bind vCPU 0 port 100",
     UNDO_ENABLE},
    {"bind-vcpu1", "xenevtchn_bind_interdomain", 2, EMFILE, 7, "bind vCPU 1 port 101",
     "xenevtchn_unbind port=11; " UNDO_ENABLE},
    {"bind-buffered", "xenevtchn_bind_interdomain", 3, ENOSPC, 7, "bind the buffered port",
     "xenevtchn_unbind port=11; xenevtchn_unbind port=12; " UNDO_ENABLE},
    {"serve", "xenevtchn_fd", 1, EBADF, 9, "non-blocking", UNDO_ALL},
    {"state-running", "xs_write", 1, EACCES, 0, "device-model/7/state = running", UNDO_ALL},
};

/*
 * What the log must hold when `c` stops bring-up: the happy path's calls up to
 * the failing one (the nth call of c->fn), that one marked FAIL, and nothing else.
 */
static char *expected_bring_up_until(const struct failure_case *c)
{
    g_auto(GStrv) happy = g_strsplit(HAPPY_BRING_UP, "; ", -1);
    g_autofree char *fn_space = g_strconcat(c->fn, " ", NULL);
    GString *s = g_string_new(NULL);
    unsigned seen = 0;

    for (guint i = 0; happy[i] != NULL; i++) {
        bool is_fn = strcmp(happy[i], c->fn) == 0 || g_str_has_prefix(happy[i], fn_space);
        g_string_append_printf(s, "%s%s", i > 0 ? "; " : "", happy[i]);
        if (is_fn && ++seen == c->nth) {
            g_string_append(s, " FAIL");
            return g_string_free(s, FALSE);
        }
    }
    g_assert_not_reached();
}

static void test_failure_at_step(gconstpointer data)
{
    const struct failure_case *c = data;
    g_autofree char *expected = expected_bring_up_until(c);
    struct rig r = {0};
    GError *err = NULL;
    guint mark;

    fake_reset();
    fake_fail(c->fn, c->nth, c->errnum);
    g_assert_false(rig_bring_up(&r, &err));
    g_assert_nonnull(err);
    g_test_message("error: %s", err->message);
    g_assert_cmpint(err->code, ==, c->errnum);
    if (c->step != 0) {
        g_autofree char *step = g_strdup_printf("step %u ", c->step);
        g_assert_nonnull(strstr(err->message, step));
    }
    g_assert_nonnull(strstr(err->message, c->what));
    g_assert_nonnull(strstr(err->message, g_strerror(c->errnum)));
    assert_log_since(0, expected);

    mark = fx.log->len;
    rig_tear_down(&r);
    assert_log_since(mark, c->teardown);
    fake_check_released();
    g_assert_false(g_main_context_iteration(NULL, FALSE));
    g_error_free(err);
    fake_free();
}

/* ---- 3. serving ---- */

/* Puts a READY request in vCPU `vcpu`'s slot, leaving vp_eport (Xen's) alone. */
static void post_request(unsigned vcpu, bool read, uint64_t addr, uint64_t data)
{
    struct xenabi_ioreq *slot = &fake_shared_page()[vcpu];

    slot->addr = addr;
    slot->data = data;
    slot->count = 1;
    slot->size = 1;
    slot->type = XENABI_IOREQ_TYPE_PIO;
    xenabi_ioreq_store_flags(slot, (read ? XENABI_IOREQ_DIR_READ : 0) |
                                       XENABI_STATE_IOREQ_READY);
}

static unsigned slot_state(unsigned vcpu)
{
    return xenabi_ioreq_state(xenabi_ioreq_load_flags(&fake_shared_page()[vcpu]));
}

static void serve_rig_up(struct rig *r)
{
    GError *err = NULL;

    fake_reset();
    g_assert_true(rig_bring_up(r, &err));
    g_assert_no_error(err);
    /* Nothing is pending yet: the loop has nothing to do. */
    g_assert_false(g_main_context_iteration(NULL, FALSE));
}

static void serve_rig_down(struct rig *r)
{
    rig_tear_down(r);
    fake_check_released();
    g_assert_false(g_main_context_iteration(NULL, FALSE));
    fake_free();
}

static void test_serve_pio_read(void)
{
    struct rig r = {0};
    guint mark;

    serve_rig_up(&r);
    post_request(0, true, DEV_PORT, 0);
    fake_evtchn_raise(FIRST_LOCAL_PORT); /* vCPU 0's local port */
    mark = fx.log->len;
    g_assert_true(g_main_context_iteration(NULL, FALSE));
    assert_log_since(mark, "xenevtchn_pending; xenevtchn_unmask port=11; "
                           "xenevtchn_notify port=11");
    g_assert_cmpuint(slot_state(0), ==, XENABI_STATE_IORESP_READY);
    g_assert_cmphex(fake_shared_page()[0].data, ==, DEV_ANSWER);
    g_assert_cmpuint(fake_shared_page()[0].vp_eport, ==, VCPU_REMOTE_PORT);
    g_assert_cmpuint(xen_accel_stats(r.xa)->sync, ==, 1);

    /* vCPU 1's write goes to the device and is answered on vCPU 1's port. */
    post_request(1, false, DEV_PORT + 1, 0xa5);
    fake_evtchn_raise(FIRST_LOCAL_PORT + 1);
    mark = fx.log->len;
    g_assert_true(g_main_context_iteration(NULL, FALSE));
    assert_log_since(mark, "xenevtchn_pending; xenevtchn_unmask port=12; "
                           "xenevtchn_notify port=12");
    g_assert_cmpuint(slot_state(1), ==, XENABI_STATE_IORESP_READY);
    g_assert_cmpstr(r.dev.writes->str, ==, "61:a5 ");
    g_assert_cmpuint(r.fatal_calls, ==, 0);
    serve_rig_down(&r);
}

static void test_serve_unknown_port(void)
{
    struct rig r = {0};
    guint mark;

    serve_rig_up(&r);
    post_request(0, true, DEV_PORT, 0);
    fake_evtchn_raise(99); /* bound by nobody we know */
    mark = fx.log->len;
    g_assert_true(g_main_context_iteration(NULL, FALSE));
    assert_log_since(mark, "xenevtchn_pending; xenevtchn_unmask port=99");
    /* vCPU 0's request was not for this port: it waits for its own event. */
    g_assert_cmpuint(slot_state(0), ==, XENABI_STATE_IOREQ_READY);
    g_assert_cmpuint(r.fatal_calls, ==, 0);
    serve_rig_down(&r);
}

static void test_serve_slot_not_ready(void)
{
    struct rig r = {0};
    guint mark;

    serve_rig_up(&r);
    fake_shared_page()[0].addr = DEV_PORT;
    xenabi_ioreq_store_flags(&fake_shared_page()[0], XENABI_STATE_IOREQ_INPROCESS);
    fake_evtchn_raise(FIRST_LOCAL_PORT);
    mark = fx.log->len;
    g_assert_true(g_main_context_iteration(NULL, FALSE));
    assert_log_since(mark, "xenevtchn_pending; xenevtchn_unmask port=11");
    g_assert_cmpuint(slot_state(0), ==, XENABI_STATE_IOREQ_INPROCESS);
    g_assert_cmpuint(xen_accel_stats(r.xa)->sync, ==, 0);

    /* A wake-up with nothing pending (EAGAIN) is not an error. */
    {
        uint64_t one = 1;
        g_assert_cmpint(write(fx.evtchn_fd, &one, sizeof(one)), ==, sizeof(one));
    }
    mark = fx.log->len;
    g_assert_true(g_main_context_iteration(NULL, FALSE));
    assert_log_since(mark, "xenevtchn_pending");
    g_assert_cmpuint(r.fatal_calls, ==, 0);
    serve_rig_down(&r);
}

static void test_serve_buffered(void)
{
    struct rig r = {0};
    struct xenabi_buffered_iopage *ring;
    guint mark;

    serve_rig_up(&r);
    ring = fake_buffered_page();
    ring->slot[0].word = xenabi_buf_encode(XENABI_IOREQ_TYPE_PIO, false, 1, DEV_PORT);
    ring->slot[0].data = 0x42;
    __atomic_store_n(&ring->write_pointer, 1, __ATOMIC_RELEASE);
    fake_evtchn_raise(FIRST_LOCAL_PORT + 2); /* the buffered port */
    mark = fx.log->len;
    g_assert_true(g_main_context_iteration(NULL, FALSE));
    /* Buffered writes are posted: nobody waits, nothing is notified. */
    assert_log_since(mark, "xenevtchn_pending; xenevtchn_unmask port=13");
    g_assert_cmpstr(r.dev.writes->str, ==, "60:42 ");
    g_assert_cmpuint(__atomic_load_n(&ring->read_pointer, __ATOMIC_ACQUIRE), ==, 1);
    g_assert_cmpuint(xen_accel_stats(r.xa)->buffered, ==, 1);
    /* The ring poll timer is now armed; teardown must remove it (checked after it would fire). */
    rig_tear_down(&r);
    fake_check_released();
    g_usleep(150 * 1000);
    g_assert_false(g_main_context_iteration(NULL, FALSE));
    fake_free();
}

/* A broken event-channel device is fatal, once; the watch goes away and teardown is exact. */
static void test_serve_evtchn_error_fatal(void)
{
    struct rig r = {0};
    guint mark;

    serve_rig_up(&r);
    fake_fail("xenevtchn_pending", 1, EIO);
    fake_evtchn_raise(FIRST_LOCAL_PORT);
    g_assert_true(g_main_context_iteration(NULL, FALSE));
    g_assert_cmpuint(r.fatal_calls, ==, 1);
    /* The fd is still readable: the next dispatch removes the watch instead of reading. */
    mark = fx.log->len;
    while (g_main_context_iteration(NULL, FALSE)) {
    }
    assert_log_since(mark, "");
    g_assert_cmpuint(r.fatal_calls, ==, 1);
    mark = fx.log->len;
    rig_tear_down(&r);
    assert_log_since(mark, UNDO_ALL);
    fake_check_released();
    fake_free();
}

/* ---- 4. accel_ops ---- */

static void test_accel_ops(void)
{
    struct rig r = {0};
    struct irq_line *a, *b;
    GError *err = NULL;
    guint mark;

    fake_reset();
    g_assert_true(rig_bring_up(&r, &err));

    /* ISA lines are wired-OR: only a change of the whole line goes to Xen. */
    a = machine_isa_irq(r.m, 4);
    b = machine_isa_irq(r.m, 4);
    mark = fx.log->len;
    irq_set_level(a, true);
    irq_set_level(a, true);
    irq_set_level(b, true);
    irq_set_level(a, false);
    assert_log_since(mark, "xendevicemodel_set_isa_irq_level dom=7 irq=4 level=1");
    irq_set_level(b, false);
    irq_set_level(b, false);
    assert_log_since(mark, "xendevicemodel_set_isa_irq_level dom=7 irq=4 level=1; "
                           "xendevicemodel_set_isa_irq_level dom=7 irq=4 level=0");
    irq_line_free(a);
    irq_line_free(b);

    mark = fx.log->len;
    r.m->accel->set_pci_intx(r.m->accel_opaque, 3, 1, true);
    r.m->accel->set_pci_link_route(r.m->accel_opaque, 2, 11);
    /* The full 64-bit address: the high half carries extended destination IDs. */
    machine_inject_msi(r.m, 0xabcd1234fee0100cull, 0x4041);
    machine_request_shutdown(r.m, SHUTDOWN_REBOOT);
    machine_request_shutdown(r.m, SHUTDOWN_CRASH);
    assert_log_since(mark, "xendevicemodel_set_pci_intx_level dom=7 0000:00 dev=3 intx=1 level=1; "
                           "xendevicemodel_set_pci_link_route dom=7 link=2 irq=11; "
                           "xendevicemodel_inject_msi dom=7 addr=0xabcd1234fee0100c data=0x4041; "
                           "xendevicemodel_shutdown dom=7 reason=1; "
                           "xendevicemodel_shutdown dom=7 reason=3");

    /* A refused operation is logged, not fatal. */
    fake_fail("xendevicemodel_inject_msi", 2, EINVAL);
    mark = fx.log->len;
    machine_inject_msi(r.m, 0xfee00000, 0x30);
    assert_log_since(mark, "xendevicemodel_inject_msi dom=7 addr=0xfee00000 data=0x30 FAIL");
    g_assert_cmpuint(r.fatal_calls, ==, 0);

    rig_tear_down(&r);
    fake_check_released();
    fake_free();
}

/*
 * Device-model-owned RAM: populate only what is missing, relocate with a write-back pin, and
 * an MMIO region under relocated RAM is not claimed (guest RAM is never the server's).
 */
static void test_guest_ram_ops(void)
{
    struct rig r = {0};
    GError *err = NULL;
    unsigned long bitmap[1];
    guint mark;

    fake_reset();
    g_assert_true(rig_bring_up(&r, &err));

    /* Frames that map are there (a restored domain): nothing to populate. */
    mark = fx.log->len;
    g_assert_true(r.m->accel->ram_populate(r.m->accel_opaque, 0x4000, 2));
    assert_log_since(mark, "xenforeignmemory_map dom=7 prot=r gfns=0x4000,0x4001; "
                           "xenforeignmemory_unmap pages=2");
    fake_fail("xenforeignmemory_map", 2, EFAULT);
    mark = fx.log->len;
    g_assert_true(r.m->accel->ram_populate(r.m->accel_opaque, 0x4000, 2));
    assert_log_since(mark, "xenforeignmemory_map dom=7 prot=r gfns=0x4000,0x4001 FAIL; "
                           "xc_domain_populate_physmap_exact dom=7 nr=2 first=0x4000");

    /* Home -> the region's page: the claim goes, the pin comes. */
    mark = fx.log->len;
    g_assert_true(r.m->accel->ram_relocate(r.m->accel_opaque, 0x4000, DEV_MMIO >> 12, 1, false,
                                           true));
    assert_log_since(mark, "xendevicemodel_relocate_memory dom=7 nr=1 0x4000->0xfed00; "
                           "xendevicemodel_unmap_io_range_from_ioreq_server dom=7 id=0 "
                           "mmio 0xfed00000-0xfed00fff; "
                           "xendevicemodel_pin_memory_cacheattr dom=7 0xfed00-0xfed00 6");
    /* The region goes while RAM covers it: nothing to release in Xen. */
    mark = fx.log->len;
    region_del_clear(&r.mmio_region);
    assert_log_since(mark, "");
    r.mmio_region = machine_add_mmio(r.m, "dev-mmio", DEV_MMIO, 0x2000, &dev_ops, &r.dev);
    assert_log_since(mark, "xendevicemodel_map_io_range_to_ioreq_server dom=7 id=0 "
                           "mmio 0xfed01000-0xfed01fff");
    g_assert_cmpint(r.m->accel->ram_track_dirty(r.m->accel_opaque, 0xfed00, 1, bitmap), ==, 0);
    fake_fail("xendevicemodel_track_dirty_vram", 2, ENODATA);
    g_assert_cmpint(r.m->accel->ram_track_dirty(r.m->accel_opaque, 0xfed00, 1, bitmap), ==,
                    -ENODATA);
    /* Back home: the pin is deleted and the region under it claimed again. */
    mark = fx.log->len;
    g_assert_true(r.m->accel->ram_relocate(r.m->accel_opaque, DEV_MMIO >> 12, 0x4000, 1, true,
                                           false));
    assert_log_since(mark, "xendevicemodel_relocate_memory dom=7 nr=1 0xfed00->0x4000; "
                           "xendevicemodel_pin_memory_cacheattr dom=7 0xfed00-0xfed00 -1; "
                           "xendevicemodel_map_io_range_to_ioreq_server dom=7 id=0 "
                           "mmio 0xfed00000-0xfed00fff");
    /* A refused relocation changes no claim. */
    fake_fail("xendevicemodel_relocate_memory", 3, EINVAL);
    mark = fx.log->len;
    g_assert_false(r.m->accel->ram_relocate(r.m->accel_opaque, 0x4000, DEV_MMIO >> 12, 1, false,
                                            true));
    assert_log_since(mark, "xendevicemodel_relocate_memory dom=7 nr=1 0x4000->0xfed00 FAIL");
    g_assert_cmpuint(r.fatal_calls, ==, 0);

    rig_tear_down(&r);
    fake_check_released();
    fake_free();
}

/* ---- the mapcache's mapper ---- */

static void test_mapper(void)
{
    struct xen_accel *xa;
    const struct mapcache_mapper *mapper;
    GError *err = NULL;
    int errs[3] = {-1, -1, -1};
    void *addr;
    guint mark;

    fake_reset();
    xa = xen_accel_new(DOMID, 1);
    g_assert_true(xen_accel_open(xa, &err));
    mapper = xen_accel_mapper(xa);
    mark = fx.log->len;
    addr = mapper->map(mapper->opaque, 0x100, 3, true, errs);
    g_assert_nonnull(addr);
    g_assert_cmpint(errs[0] | errs[1] | errs[2], ==, 0);
    mapper->unmap(mapper->opaque, addr, 3);
    addr = mapper->map(mapper->opaque, 0xfffff, 1, false, errs);
    g_assert_nonnull(addr);
    mapper->unmap(mapper->opaque, addr, 1);
    fake_fail("xenforeignmemory_map", 3, EFAULT);
    g_assert_null(mapper->map(mapper->opaque, 0x200, 1, false, errs));
    assert_log_since(mark, "xenforeignmemory_map dom=7 prot=rw gfns=0x100,0x101,0x102; "
                           "xenforeignmemory_unmap pages=3; "
                           "xenforeignmemory_map dom=7 prot=r gfns=0xfffff; "
                           "xenforeignmemory_unmap pages=1; "
                           "xenforeignmemory_map dom=7 prot=r gfns=0x200 FAIL");
    mark = fx.log->len;
    xen_accel_free(xa);
    assert_log_since(mark, UNDO_HANDLES);
    fake_check_released();
    fake_free();
}

/* ---- 5. -S: started with the server disabled until cont ---- */

/* rig_bring_up, paused: the server ends disabled, and "running" is still written. */
static bool rig_bring_up_paused(struct rig *r, GError **err)
{
    r->dev.writes = g_string_new(NULL);
    r->xa = xen_accel_new(DOMID, FALLBACK_VCPUS);
    xen_accel_set_fatal_handler(r->xa, on_fatal, r);
    if (!xen_accel_open(r->xa, err)) {
        return false;
    }
    r->m = machine_new();
    r->io_region = machine_add_io(r->m, "dev", DEV_PORT, 2, &dev_ops, &r->dev);
    r->mmio_region = machine_add_mmio(r->m, "dev-mmio", DEV_MMIO, 0x1000, &dev_ops, &r->dev);
    xen_accel_attach(r->xa, r->m);
    r->m->accel->claim_pcidev(r->m->accel_opaque, PRE_PCIDEV, true);
    return xen_accel_start_ex(r->xa, false, err) &&
           xen_accel_set_state(r->xa, "running", err);
}

#define PAUSED_BRING_UP                                                                           \
    "xenevtchn_open; xenforeignmemory_open; xendevicemodel_open; xc_interface_open; xs_open; "   \
    "xendevicemodel_nr_vcpus dom=7; "                                                             \
    "xendevicemodel_create_ioreq_server dom=7 bufioreq=2; "                                       \
    "xenforeignmemory_map_resource dom=7 type=0 id=0 frame=0 nr=2 prot=rw; "                      \
    "xendevicemodel_get_ioreq_server_info dom=7 id=0; "                                           \
    "xendevicemodel_set_ioreq_server_state dom=7 id=0 enabled=1; "                                \
    "xenevtchn_bind_interdomain dom=7 remote=100; "                                               \
    "xenevtchn_bind_interdomain dom=7 remote=101; "                                               \
    "xenevtchn_bind_interdomain dom=7 remote=500; "                                               \
    "xendevicemodel_map_io_range_to_ioreq_server dom=7 id=0 io 0x60-0x61; "                       \
    "xendevicemodel_map_io_range_to_ioreq_server dom=7 id=0 mmio 0xfed00000-0xfed00fff; "         \
    "xendevicemodel_map_pcidev_to_ioreq_server dom=7 id=0 0000:00:03.0; "                         \
    "xenevtchn_fd; "                                                                              \
    "xendevicemodel_set_ioreq_server_state dom=7 id=0 enabled=0; "                                \
    "xs_write device-model/7/state=running"

static void test_start_paused(void)
{
    struct rig r = {0};
    GError *err = NULL;
    guint mark;

    fake_reset();
    g_assert_true(rig_bring_up_paused(&r, &err));
    g_assert_no_error(err);
    /* The ports were bound while enabled (Xen writes vp_eport then); the claims are made. */
    assert_log_since(0, PAUSED_BRING_UP);
    g_assert_false(fx.server_enabled);
    g_assert_false(xen_accel_is_serving(r.xa));
    g_assert_cmpint(xen_accel_step_reached(r.xa), ==, XEN_ACCEL_SERVING);

    /* cont: enabled once; a second cont changes nothing. */
    mark = fx.log->len;
    g_assert_true(xen_accel_set_serving(r.xa, true, &err));
    g_assert_true(xen_accel_set_serving(r.xa, true, &err));
    g_assert_no_error(err);
    assert_log_since(mark, "xendevicemodel_set_ioreq_server_state dom=7 id=0 enabled=1");
    g_assert_true(fx.server_enabled);
    g_assert_true(xen_accel_is_serving(r.xa));

    /* A request now reaches the device. */
    post_request(0, true, DEV_PORT, 0);
    fake_evtchn_raise(FIRST_LOCAL_PORT);
    g_assert_true(g_main_context_iteration(NULL, FALSE));
    g_assert_cmpuint(slot_state(0), ==, XENABI_STATE_IORESP_READY);

    /* stop: disabled again. */
    mark = fx.log->len;
    g_assert_true(xen_accel_set_serving(r.xa, false, &err));
    assert_log_since(mark, "xendevicemodel_set_ioreq_server_state dom=7 id=0 enabled=0");
    g_assert_false(fx.server_enabled);

    mark = fx.log->len;
    rig_tear_down(&r);
    assert_log_since(mark, UNDO_ALL);
    fake_check_released();
    fake_free();
}

/* Xen refusing cont leaves the server as it was and says why. */
static void test_set_serving_failure(void)
{
    struct rig r = {0};
    GError *err = NULL;

    fake_reset();
    g_assert_true(rig_bring_up_paused(&r, &err));
    fake_fail("xendevicemodel_set_ioreq_server_state", 3, ESRCH);
    g_assert_false(xen_accel_set_serving(r.xa, true, &err));
    g_assert_error(err, g_quark_from_static_string("xendm-xen"), ESRCH);
    g_assert_nonnull(strstr(err->message, "enabling ioreq server 0 failed"));
    g_clear_error(&err);
    g_assert_false(xen_accel_is_serving(r.xa));
    /* The next cont tries again. */
    g_assert_true(xen_accel_set_serving(r.xa, true, &err));
    g_assert_true(xen_accel_is_serving(r.xa));
    rig_tear_down(&r);
    fake_check_released();
    fake_free();

    /* Before start there is no server to enable. */
    fake_reset();
    {
        struct xen_accel *xa = xen_accel_new(DOMID, 1);
        g_assert_true(xen_accel_open(xa, &err));
        g_assert_false(xen_accel_set_serving(xa, true, &err));
        g_assert_error(err, g_quark_from_static_string("xendm-xen"), EINVAL);
        g_clear_error(&err);
        xen_accel_free(xa);
    }
    fake_check_released();
    fake_free();
}

/* ---- 6. -xen-domid-restrict ---- */

static void test_restrict(void)
{
    struct rig r = {0};
    GError *err = NULL;
    guint mark;

    fake_reset();
    g_assert_true(rig_bring_up(&r, &err));
    mark = fx.log->len;
    g_assert_true(xen_accel_restrict(r.xa, &err));
    g_assert_no_error(err);
    /* xenstore is closed first: after restriction its fd would be /dev/null. */
    assert_log_since(mark, "xs_close; xentoolcore_restrict_all dom=7");
    g_assert_true(xen_accel_is_restricted(r.xa));

    /* No more xenstore writes, and a clear error instead. */
    mark = fx.log->len;
    g_assert_false(xen_accel_set_state(r.xa, "paused", &err));
    g_assert_error(err, g_quark_from_static_string("xendm-xen"), EPERM);
    g_assert_nonnull(strstr(err->message, "restricted"));
    g_clear_error(&err);
    assert_log_since(mark, "");

    /* Once. */
    g_assert_false(xen_accel_restrict(r.xa, &err));
    g_assert_nonnull(strstr(err->message, "already restricted"));
    g_clear_error(&err);

    /* Serving goes on, and teardown closes what is left (xenstore is not closed twice). */
    post_request(0, true, DEV_PORT, 0);
    fake_evtchn_raise(FIRST_LOCAL_PORT);
    g_assert_true(g_main_context_iteration(NULL, FALSE));
    g_assert_cmpuint(slot_state(0), ==, XENABI_STATE_IORESP_READY);
    mark = fx.log->len;
    rig_tear_down(&r);
    assert_log_since(mark, "xenevtchn_unbind port=11; xenevtchn_unbind port=12; "
                           "xenevtchn_unbind port=13; "
                           "xendevicemodel_set_ioreq_server_state dom=7 id=0 enabled=0; "
                           "xenforeignmemory_unmap_resource; "
                           "xendevicemodel_destroy_ioreq_server dom=7 id=0; "
                           "xc_interface_close; xendevicemodel_close; xenforeignmemory_close; "
                           "xenevtchn_close");
    fake_check_released();
    fake_free();
}

static void test_restrict_failure(void)
{
    struct rig r = {0};
    GError *err = NULL;

    fake_reset();
    g_assert_true(rig_bring_up(&r, &err));
    fake_fail("xentoolcore_restrict_all", 1, EPERM);
    g_assert_false(xen_accel_restrict(r.xa, &err));
    g_assert_error(err, g_quark_from_static_string("xendm-xen"), EPERM);
    g_assert_nonnull(strstr(err->message, "restricting the handles to domain 7 failed"));
    g_clear_error(&err);
    g_assert_false(xen_accel_is_restricted(r.xa));
    rig_tear_down(&r);
    fake_check_released();
    fake_free();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    log_set_level(LOG_LEVEL_WARN);

    g_test_add_func("/xen-accel/bring-up-and-teardown", test_bring_up_and_teardown);
    g_test_add_func("/xen-accel/stop-is-idempotent", test_stop_is_idempotent);
    g_test_add_func("/xen-accel/nr-vcpus-fallback", test_nr_vcpus_fallback);
    g_test_add_func("/xen-accel/claim-failure-not-fatal", test_claim_failure_not_fatal);
    for (size_t i = 0; i < G_N_ELEMENTS(failure_cases); i++) {
        g_autofree char *path = g_strdup_printf("/xen-accel/fail/%s", failure_cases[i].name);
        g_test_add_data_func(path, &failure_cases[i], test_failure_at_step);
    }
    g_test_add_func("/xen-accel/serve/pio", test_serve_pio_read);
    g_test_add_func("/xen-accel/serve/unknown-port", test_serve_unknown_port);
    g_test_add_func("/xen-accel/serve/slot-not-ready", test_serve_slot_not_ready);
    g_test_add_func("/xen-accel/serve/buffered", test_serve_buffered);
    g_test_add_func("/xen-accel/serve/evtchn-error-fatal", test_serve_evtchn_error_fatal);
    g_test_add_func("/xen-accel/accel-ops", test_accel_ops);
    g_test_add_func("/xen-accel/mapper", test_mapper);
    g_test_add_func("/xen-accel/guest-ram", test_guest_ram_ops);
    g_test_add_func("/xen-accel/paused/start-and-cont", test_start_paused);
    g_test_add_func("/xen-accel/paused/set-serving-failure", test_set_serving_failure);
    g_test_add_func("/xen-accel/restrict/ok", test_restrict);
    g_test_add_func("/xen-accel/restrict/failure", test_restrict_failure);
    return g_test_run();
}
