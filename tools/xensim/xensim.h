/*
 * xensim internals: the state of the one simulated HVM domain and the
 * interfaces between xensim's modules. Private to tools/xensim.
 *
 * All of xensim runs on one glib main loop thread; nothing here is locked.
 */
#ifndef XENSIM_H
#define XENSIM_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "xenabi/ioreq-abi.h"

#define XSIM_MAX_SERVERS 8u
#define XSIM_MAX_RANGES 256u
#define XSIM_MAX_VCPUS 128u
#define XSIM_IRQ_LOG_MAX 4096u
#define XSIM_NR_HVM_PARAMS 39u /* Xen 4.17 HVM_NR_PARAMS: larger indices are EINVAL */
#define XSIM_NO_PAGE UINT64_MAX

struct xsim;
struct xsim_conn;

/* ---------------------------------------------------------------- logging */

void xsim_log(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* For guest- or DM-triggered messages: at most a few lines per second, all callers together. */
void xsim_log_limited(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
extern bool xsim_verbose;

/* ---------------------------------------------------------------- guest memory (guest-memory.c) */

enum xsim_mem_type { XSIM_MEM_RAM_RW = 0, XSIM_MEM_RAM_RO = 1, XSIM_MEM_MMIO_DM = 2,
                     XSIM_MEM_UNUSED = 3, XSIM_MEM_IOREQ_SERVER = 4 };

struct xsim_dirty_vram {
    bool active;
    uint64_t first_pfn;
    uint32_t nr;
    uint8_t *bitmap; /* nr bits: pages written since the last report */
};

struct xsim_pin {
    uint64_t start, end; /* gfns, inclusive */
    uint32_t type;       /* XEN_DMOP_MEM_CACHEATTR_* */
};

struct xsim_memory {
    int memfd;
    uint8_t *base;       /* reserved range; memfd page n lives at base + n * 4096 */
    uint64_t reserved_pages;
    uint64_t file_pages; /* memfd size in pages */
    uint64_t next_page;  /* pages are never reused: the DM may still map a freed frame */
    GHashTable *p2m;     /* gfn -> (page << 4 | mem_type) + 1 */
    uint64_t lowmem_end_gfn;
    uint64_t highmem_end_gfn;
    struct xsim_dirty_vram dirty;
    GArray *pins;        /* struct xsim_pin: pin_memory_cacheattr ranges (NULL: none yet) */
    /* The errno (positive) every track_dirty_vram with nr > 0 fails with: an older Xen or
     * shadow paging without a log for the range (qtest `dirty_vram_errno`); 0: none. */
    int dirty_vram_errno;
};

int xsim_mem_init(struct xsim_memory *mem, uint64_t ram_mb, uint64_t lowmem_top);
void xsim_mem_fini(struct xsim_memory *mem);
/* A fresh xensim-owned page (not in the p2m), zeroed; XSIM_NO_PAGE on failure. */
uint64_t xsim_mem_alloc_page(struct xsim_memory *mem);
void *xsim_mem_page_ptr(struct xsim_memory *mem, uint64_t page);
bool xsim_mem_lookup(struct xsim_memory *mem, uint64_t gfn, uint64_t *page, unsigned *type);
int xsim_mem_populate(struct xsim_memory *mem, uint64_t gfn);
/* Binds gfn to an existing page (legacy ioreq gfns). */
void xsim_mem_map_page(struct xsim_memory *mem, uint64_t gfn, uint64_t page, unsigned type);
bool xsim_mem_remove(struct xsim_memory *mem, uint64_t gfn);
int xsim_mem_set_type(struct xsim_memory *mem, uint64_t gfn, unsigned type);
int xsim_mem_relocate(struct xsim_memory *mem, uint64_t src, uint64_t dst, uint32_t nr);
/* Copy between guest RAM and a buffer; -EFAULT if a page is absent (reads of holes: all-ones). */
int xsim_mem_read(struct xsim_memory *mem, uint64_t gpa, void *buf, size_t len);
int xsim_mem_write(struct xsim_memory *mem, uint64_t gpa, const void *buf, size_t len);
void xsim_mem_mark_dirty(struct xsim_memory *mem, uint64_t gpa, size_t len);
uint64_t xsim_mem_nr_pages(struct xsim_memory *mem);
/* pin_memory_cacheattr: 0 or -errno as Xen answers (see guest-memory.c). */
int xsim_mem_pin_cacheattr(struct xsim_memory *mem, uint64_t start, uint64_t end, uint32_t type,
                           bool delete);
/* The pinned type covering gfn, or -1. */
int xsim_mem_cacheattr(struct xsim_memory *mem, uint64_t gfn);

/* ---------------------------------------------------------------- event channels (evtchn.c) */

enum xsim_port_state { XSIM_PORT_FREE = 0, XSIM_PORT_UNBOUND, XSIM_PORT_INTERDOMAIN,
                       XSIM_PORT_VIRQ };

/* Called when a port of the guest domain (xensim's own) is notified by its peer. */
typedef void (*xsim_port_handler)(struct xsim *xs, uint32_t port, void *opaque);

struct xsim_port {
    uint8_t state;
    bool masked;
    bool pending;
    uint32_t remote_domid;
    uint32_t remote_port;
    struct xsim_conn *owner;   /* dom0 ports: the library connection that bound it */
    xsim_port_handler handler; /* guest ports */
    void *opaque;
};

struct xsim_evtchn_domain {
    uint32_t domid;
    GArray *ports; /* struct xsim_port, index = port; port 0 is never allocated */
};

void xsim_evtchn_init(struct xsim_evtchn_domain *d, uint32_t domid);
void xsim_evtchn_fini(struct xsim_evtchn_domain *d);
struct xsim_port *xsim_evtchn_port(struct xsim_evtchn_domain *d, uint32_t port);
/* Allocates an unbound port in d for remote_domid; returns the port or -errno. */
int xsim_evtchn_alloc_unbound(struct xsim *xs, struct xsim_evtchn_domain *d, uint32_t remote_domid);
int xsim_evtchn_bind_interdomain(struct xsim *xs, struct xsim_evtchn_domain *local,
                                 uint32_t remote_domid, uint32_t remote_port,
                                 struct xsim_conn *owner);
int xsim_evtchn_close(struct xsim *xs, struct xsim_evtchn_domain *d, uint32_t port);
/* Raise an event on the peer of (d, port). */
int xsim_evtchn_notify(struct xsim *xs, struct xsim_evtchn_domain *d, uint32_t port);
int xsim_evtchn_unmask(struct xsim *xs, struct xsim_evtchn_domain *d, uint32_t port);
void xsim_evtchn_close_owned_by(struct xsim *xs, struct xsim_conn *owner);
struct xsim_evtchn_domain *xsim_evtchn_domain_of(struct xsim *xs, uint32_t domid);

/* -------------------------------------------------------------- ioreq servers (ioreq-server.c) */

struct xsim_range {
    uint64_t start, end; /* inclusive */
};

struct xsim_ioreq_server {
    bool in_use;
    uint16_t id;
    bool enabled;
    uint8_t bufioreq;       /* XENABI_BUFIOREQ_* */
    uint32_t creator_domid;
    uint64_t shared_page;   /* memfd page numbers */
    uint64_t buf_page;      /* XSIM_NO_PAGE when BUFIOREQ_OFF */
    uint32_t vcpu_port[XSIM_MAX_VCPUS]; /* guest-side ports */
    uint32_t buf_port;
    GArray *ranges[3];      /* PORT, MEMORY, PCI: sorted, disjoint, adjacent ranges merged */
    bool legacy_gfns;       /* the gfn interface was used */
    bool resource_mapped;
    uint64_t ioreq_gfn, bufioreq_gfn;
};

/* One access as a vCPU produces it (before routing). */
struct xsim_access {
    uint8_t type;  /* XENABI_IOREQ_TYPE_* */
    bool read;
    bool data_is_ptr;
    bool df;
    uint32_t size;
    uint32_t count;
    uint64_t addr;
    uint64_t data;
};

/* Completion of an access: status 0 or -errno (-ETIMEDOUT never: the caller owns timeouts). */
typedef void (*xsim_access_done)(struct xsim *xs, int status, uint64_t data, void *opaque);

enum xsim_vcpu_wait { XSIM_VCPU_IDLE = 0, XSIM_VCPU_WAITING, XSIM_VCPU_STOPPED };

struct xsim_vcpu {
    unsigned id;
    enum xsim_vcpu_wait wait;
    unsigned server;     /* index of the server whose slot we wait on */
    unsigned prev_state; /* highest state seen, to detect a state going backwards */
    xsim_access_done done;
    void *opaque;
    bool orphaned;       /* the waiter gave up (timeout): drop the answer */
    /* The remainder of a clipped REP access, issued when the current piece completes. */
    struct xsim_access rest;
    bool has_rest;
    /* Broadcasts (INVALIDATE): servers still to be sent. */
    uint32_t broadcast_mask;
    struct xsim_access broadcast;
};

/*
 * Submit an access for vCPU `vcpu`. Completes either immediately (the callback
 * runs before this returns) or later, when the device model answers.
 * Returns -EBUSY if that vCPU is still waiting, else 0.
 */
int xsim_vcpu_submit(struct xsim *xs, unsigned vcpu, const struct xsim_access *acc,
                     xsim_access_done done, void *opaque);
/* Raw ioreq to one server, vCPU 0 (qtest `ioreq`): no routing, no validation. */
int xsim_vcpu_submit_raw(struct xsim *xs, unsigned server, const struct xsim_access *acc,
                         xsim_access_done done, void *opaque);
int xsim_broadcast_invalidate(struct xsim *xs, xsim_access_done done, void *opaque);
/* Who answers a single MMIO access (COPY, count 1): xsim_vcpu_submit's routing, without its
 * effects. */
enum xsim_mmio_owner {
    XSIM_MMIO_SERVERS,   /* an ioreq server that claims all of it */
    XSIM_MMIO_UNCLAIMED, /* nobody: Xen's null handler (reads all-ones) */
    XSIM_MMIO_LAPIC,     /* Xen's vLAPIC page, before any server */
    XSIM_MMIO_RAM,       /* guest RAM, which Xen accesses itself */
};
enum xsim_mmio_owner xsim_mmio_owner(struct xsim *xs, const struct xsim_access *acc);
/* Domain reset: every waiting vCPU completes with -ECANCELED and all become idle. */
void xsim_vcpu_reset_all(struct xsim *xs);
/* The waiter gave up; an answer arriving later is consumed and dropped. */
void xsim_vcpu_abandon(struct xsim *xs, unsigned vcpu);
/* Buffered ring, as Xen's producer; returns false when full or absent. */
bool xsim_bufioreq_send(struct xsim *xs, struct xsim_ioreq_server *s, uint8_t type,
                        bool read, uint32_t size, uint64_t addr, uint64_t data);
bool xsim_bufioreq_send_raw(struct xsim *xs, struct xsim_ioreq_server *s, uint32_t word,
                            uint32_t data);
void xsim_broadcast_timeoffset(struct xsim *xs, int64_t delta_seconds);
struct xsim_ioreq_server *xsim_server_first_enabled(struct xsim *xs);
struct xsim_ioreq_server *xsim_server_get(struct xsim *xs, unsigned id);

int xsim_server_create(struct xsim *xs, uint32_t caller_domid, uint8_t bufioreq, uint16_t *id);
int xsim_server_check(struct xsim *xs, uint32_t caller_domid, unsigned id,
                      struct xsim_ioreq_server **out);
int xsim_server_destroy(struct xsim *xs, struct xsim_ioreq_server *s);
int xsim_server_set_state(struct xsim *xs, struct xsim_ioreq_server *s, bool enabled);
int xsim_server_map_range(struct xsim_ioreq_server *s, uint32_t type, uint64_t start,
                          uint64_t end);
int xsim_server_unmap_range(struct xsim_ioreq_server *s, uint32_t type, uint64_t start,
                            uint64_t end);
int xsim_server_legacy_gfns(struct xsim *xs, struct xsim_ioreq_server *s);
void xsim_server_describe(struct xsim_ioreq_server *s, GString *out);

/* ---------------------------------------------------------------- interrupts and dm_op (dmop.c) */

enum xsim_irq_event_kind { XSIM_IRQ_ISA, XSIM_IRQ_INTX, XSIM_IRQ_LINK, XSIM_IRQ_MSI,
                           XSIM_IRQ_SHUTDOWN };

struct xsim_irq_event {
    uint8_t kind;
    uint8_t a, b, c;   /* isa: irq, level; intx: dev, pin, level; link: link, irq */
    uint32_t gsi;
    uint64_t addr;     /* msi */
    uint32_t data;     /* msi data; shutdown reason */
};

struct xsim_irqs {
    uint8_t isa_level[16];
    uint8_t gsi_level[48];
    uint8_t intx_level[32][4];
    uint8_t link_route[4];
    struct xsim_irq_event log[XSIM_IRQ_LOG_MAX];
    unsigned log_head, log_len;
    uint64_t log_dropped;
};

void xsim_irq_log_append(struct xsim_irqs *irqs, const struct xsim_irq_event *ev);
/* Handles one dm_op: bufs are the DM's buffers (copied back to it afterwards). */
int xsim_dmop(struct xsim *xs, uint32_t caller_domid, unsigned nr_bufs, uint8_t **bufs,
              const uint32_t *buf_len);

/* ---------------------------------------------------------------- platform (platform.c) */

struct xsim_platform {
    uint8_t cmos[128];
    uint8_t cmos_index;
    int64_t rtc_offset;  /* guest RTC time = host time + offset (seconds) */
    uint16_t pm1a_sts, pm1a_en;
    uint64_t pmtmr_base_ns;
    GString *debug_line;
};

void xsim_platform_init(struct xsim *xs);
void xsim_platform_fini(struct xsim *xs);
/* Handles a PIO that Xen emulates itself; returns true if it did (data for reads in *data). */
bool xsim_platform_pio(struct xsim *xs, uint16_t port, uint32_t size, bool read, uint64_t *data);

/* ---------------------------------------------------------------- xenstored (xenstored.c) */

struct xsim_xenstored;
struct xsim_xenstored *xsim_xs_new(struct xsim *xs, const char *socket_path, GError **err);
void xsim_xs_free(struct xsim_xenstored *xsd);
int xsim_xs_write(struct xsim_xenstored *xsd, const char *path, const char *value);
int xsim_xs_mkdir(struct xsim_xenstored *xsd, const char *path);
int xsim_xs_rm(struct xsim_xenstored *xsd, const char *path);
/* Returns a new string or NULL (ENOENT). */
char *xsim_xs_read(struct xsim_xenstored *xsd, const char *path);
int xsim_xs_set_perms(struct xsim_xenstored *xsd, const char *path, const char *perms_text);
typedef void (*xsim_xs_change_fn)(struct xsim *xs, const char *path, void *opaque);
/* An internal watch (the toolstack's), fired after every change at or below path. */
void xsim_xs_watch_internal(struct xsim_xenstored *xsd, const char *path, xsim_xs_change_fn fn,
                            void *opaque);

/* ---------------------------------------------------------------- wire server (wire-server.c) */

struct xsim_wire_server;
struct xsim_wire_server *xsim_wire_new(struct xsim *xs, const char *path, GError **err);
void xsim_wire_free(struct xsim_wire_server *ws);
/* Sends one u32 port on the connection's event socket; false if it could not. */
bool xsim_conn_deliver_event(struct xsim_conn *conn, uint32_t port);
/*
 * One line: "N refused=R" then, per connection that said HELLO, " KIND:dD" (restricted to
 * domain D) or " KIND:unrestricted"; R counts requests refused for naming another domain.
 */
void xsim_wire_describe_restrictions(struct xsim_wire_server *ws, GString *out);

/* ---------------------------------------------------------------- qtest (qtest.c) */

struct xsim_qtest;
struct xsim_qtest *xsim_qtest_new_listen(struct xsim *xs, const char *path, GError **err);
struct xsim_qtest *xsim_qtest_new_fd(struct xsim *xs, int fd, GError **err);
struct xsim_qtest *xsim_qtest_new_script(struct xsim *xs, const char *file, GError **err);
/* The vCPUs are unpaused: start reading commands. */
void xsim_qtest_start(struct xsim_qtest *qt);
/* The domain restarts: stop reading commands until the next xsim_qtest_start. */
void xsim_qtest_pause(struct xsim_qtest *qt);
void xsim_qtest_free(struct xsim_qtest *qt);

/* ---------------------------------------------------------------- the domain */

enum xsim_shutdown { XSIM_SHUTDOWN_NONE = -1, XSIM_SHUTDOWN_POWEROFF = 0, XSIM_SHUTDOWN_REBOOT = 1,
                     XSIM_SHUTDOWN_SUSPEND = 2, XSIM_SHUTDOWN_CRASH = 3,
                     XSIM_SHUTDOWN_WATCHDOG = 4, XSIM_SHUTDOWN_SOFT_RESET = 5 };

struct xsim {
    uint32_t domid;
    unsigned nr_vcpus;
    char *name;
    char *uuid;
    GMainLoop *loop;
    int exit_status;

    struct xsim_memory mem;
    struct xsim_evtchn_domain guest_evtchn;
    struct xsim_evtchn_domain dom0_evtchn;
    struct xsim_ioreq_server servers[XSIM_MAX_SERVERS];
    struct xsim_vcpu vcpus[XSIM_MAX_VCPUS];
    uint32_t pci_cf8;
    struct xsim_irqs irqs;
    struct xsim_platform platform;
    uint64_t hvm_params[XSIM_NR_HVM_PARAMS];
    int shutdown_reason; /* enum xsim_shutdown */
    bool crashed;

    struct xsim_xenstored *xenstored;
    struct xsim_wire_server *wire;
    struct xsim_qtest *qtest;

    /* Device model process. */
    GPid dm_pid;
    bool dm_running;    /* the process exists */
    bool dm_ready;      /* wrote state = running */
    int64_t dm_start_us; /* exec -> running of the current device model, microseconds */
    int dm_wait_status; /* waitpid status once it ended */
    bool dm_ended;
    bool script_mode;
    bool reboot_exits;  /* on_reboot: exit with status 10 rather than restart */
    bool restarting;    /* the toolstack is replacing the device model (reboot) */
    bool dm_stop_requested; /* the toolstack signalled it: a signal death is not news */
    void *toolstack;    /* xensim.c's own state */
    bool qtest_mode;
    /*
     * Save and restore as libxl does them (xensim.c, over qmp-client.c); NULL without a
     * toolstack. dm_save stops the device model and has it write its state to file;
     * dm_restore replaces it by a new one started with -incoming fd:K on that file (RAM is
     * kept), then unpauses it. Both run the main loop until done; false with *err set.
     */
    bool (*dm_save)(struct xsim *xs, const char *file, GError **err);
    bool (*dm_restore)(struct xsim *xs, const char *file, GError **err);
};

/* The domain shut down (remote_shutdown, xc_domain_shutdown, crash): toolstack acts. */
void xsim_domain_shutdown(struct xsim *xs, int reason);
/* Ends the main loop with this exit status (stops the DM first). */
void xsim_quit(struct xsim *xs, int status);
/*
 * The exit status for a device model that died on its own: 23 if a signal nobody sent it
 * killed it (SIGSYS from its seccomp filter, SIGSEGV, SIGABRT...), else 20.
 */
int xsim_dm_death_status(const struct xsim *xs);
const char *xsim_shutdown_name(int reason);

#endif
