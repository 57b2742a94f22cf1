/*
 * The QMP monitor: what libxl 4.17 (xl create, pause, unpause, destroy, qemu-monitor-command)
 * speaks to its device model over the sockets named by -chardev ... -mon chardev=ID,mode=control.
 *
 * The monitor never calls Xen and devices never see it: it asks main through struct vm_control
 * and reports what main tells it (events) to its clients. Wire format (QEMU's QMP): a greeting
 * when a client connects, then one JSON object per request ({"execute", "arguments", "id"}) and
 * one per reply ({"return"} or {"error"}, "id" echoed) or event, each sent as a line ending in
 * "\r\n". A session must send qmp_capabilities before anything else; a new connection starts a
 * new session. Sessions follow the chardev's connection events, so the chardev is a socket
 * (path= or a pre-opened fd=); on a backend without connections the monitor stays silent.
 */
#ifndef XENDM_MONITOR_H
#define XENDM_MONITOR_H

#include <glib.h>
#include <stdbool.h>
#include "xendm/chardev.h"
#include "xendm/json.h"
#include "xendm/keyval.h"

/* The version QMP reports: Debian 12's qemu-xen, whose interface xendm follows (libxl checks). */
#define MONITOR_QEMU_VERSION_MAJOR 7
#define MONITOR_QEMU_VERSION_MINOR 2
#define MONITOR_QEMU_VERSION_MICRO 0

/* QMP's RunState names (query-status "status"). */
enum vm_run_state {
    VM_RUN_STATE_PRELAUNCH,
    VM_RUN_STATE_RUNNING,
    VM_RUN_STATE_PAUSED,
    VM_RUN_STATE_SUSPENDED,
    VM_RUN_STATE_SHUTDOWN,
    VM_RUN_STATE_INMIGRATE,
    VM_RUN_STATE_POSTMIGRATE,
    VM_RUN_STATE_FINISH_MIGRATE,
    VM_RUN_STATE_SAVE_VM,
    VM_RUN_STATE_RESTORE_VM,
    VM_RUN_STATE_INTERNAL_ERROR,
    VM_RUN_STATE_GUEST_PANICKED,
};

const char *vm_run_state_name(enum vm_run_state state); /* "running", "paused", ... */

/*
 * What main does for the monitor. Any callback may be NULL: the command then answers a
 * GenericError. The action callbacks return false with *err set to refuse; main emits the
 * matching event (STOP, RESUME, RESET, POWERDOWN, SHUTDOWN) itself, through monitor_set_emit().
 * A callback must not free the monitor that calls it.
 */
struct vm_control {
    enum vm_run_state (*run_state)(void *opaque);
    bool (*stop)(void *opaque, GError **err);
    bool (*cont)(void *opaque, GError **err);
    bool (*system_reset)(void *opaque, GError **err);
    bool (*system_powerdown)(void *opaque, GError **err);
    /* system_wakeup: the guest leaves ACPI S3; an error when it is not in S3. */
    bool (*system_wakeup)(void *opaque, GError **err);
    /* Called after the reply to "quit" has been queued: main leaves its loop. */
    void (*quit)(void *opaque);
    /* The chardevs query-chardev lists (struct chardev *, borrowed), e.g. machine->chardevs. */
    GPtrArray *(*chardevs)(void *opaque);
    /* The -name of the guest, or NULL. */
    const char *(*name)(void *opaque);
    /*
     * xen-save-devices-state: write every device's state to fd (the monitor opened it and
     * closes it). live: the guest goes on running elsewhere (libxl's live migration).
     */
    bool (*save_devices_state)(void *opaque, int fd, bool live, GError **err);
    /* xen-load-devices-state: replace every device's state with what fd holds, or refuse. */
    bool (*load_devices_state)(void *opaque, int fd, GError **err);
    /* xen-set-global-dirty-log. */
    bool (*set_global_dirty_log)(void *opaque, bool enable, GError **err);
    /* vCPUs present at start (-smp) and at most (maxcpus); NULL: 1 of 1. */
    unsigned (*vcpus)(void *opaque, unsigned *max);
    /*
     * CPU hotplug. vcpu_present: whether vCPU index (< vcpus()' max) is present, and the QOM
     * path device_add gave it (*qom_path NULL for the -smp ones); NULL: the first vcpus()
     * are. vcpu_plug: QMP device_add of a vCPU the monitor checked (index below the max, not
     * present, qom_path unique): main records it and tells the guest (ACPI). NULL: refused.
     */
    bool (*vcpu_present)(void *opaque, unsigned index, const char **qom_path);
    bool (*vcpu_plug)(void *opaque, unsigned index, const char *qom_path, GError **err);
    /* The drives of eject, blockdev-change-medium, query-block(stats) (struct drive *,
     * include/xendm/block.h, borrowed), e.g. machine->drives; NULL: none. */
    GPtrArray *(*drives)(void *opaque);
};

struct monitor;

/*
 * A QMP monitor on chr (which must outlive it; it becomes chr's frontend). vmc is borrowed and
 * must outlive the monitor; opaque is passed to its callbacks.
 */
struct monitor *monitor_new(struct chardev *chr, const struct vm_control *vmc, void *opaque);
void monitor_free(struct monitor *mon);

/* Sends an event to this monitor's client if its session finished qmp_capabilities. */
void monitor_emit_event(struct monitor *mon, const char *name, const struct json_value *data);
/* Whether a client is connected and has sent qmp_capabilities. */
bool monitor_is_negotiated(const struct monitor *mon);

/* ---- the monitors of one process (owned by main; no global registry) ---- */

struct monitor_set;

struct monitor_set *monitor_set_new(void);
void monitor_set_free(struct monitor_set *set); /* frees its monitors: before their chardevs */
void monitor_set_add(struct monitor_set *set, struct monitor *mon); /* takes ownership */
unsigned monitor_set_count(const struct monitor_set *set);
/* Broadcasts to every negotiated session; takes ownership of data (may be NULL). */
void monitor_set_emit(struct monitor_set *set, const char *name, struct json_value *data);
/* SHUTDOWN and RESET carry {"guest": bool, "reason": "guest-shutdown", "host-qmp-quit", ...}. */
struct json_value *monitor_event_reason_data(bool guest, const char *reason);

/*
 * Creates one monitor per "-mon chardev=ID[,mode=control][,pretty=on|off]" (struct kv_list *
 * in mon_opts), on the chardev of that id in chardevs (struct chardev *, e.g. machine->chardevs).
 * mode=readline (the human monitor on a chardev) is refused: only QMP is served.
 */
bool monitor_set_add_from_options(struct monitor_set *set, GPtrArray *mon_opts,
                                  GPtrArray *chardevs, const struct vm_control *vmc,
                                  void *opaque, GError **err);

#endif
