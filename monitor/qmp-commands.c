/*
 * The QMP commands xendm answers, and the few human-monitor commands reachable through
 * human-monitor-command (xl qemu-monitor-command).
 *
 * Adding a command: write a handler, list its parameters, add one line to qmp_commands[].
 * Reply shapes follow the QAPI schema of QEMU 7.2 so that libxl reads them unchanged.
 */
#include "qmp-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <unistd.h>
#include "xendm/common.h"
#include "xendm/options.h"

/* A parameter entry of this name lets any other member through, for the handler to check. */
#define QMP_PARAM_ANY_OTHER "*"

/* ---- helpers ---- */

static enum vm_run_state run_state(struct monitor *mon)
{
    /* Without the callback there is nothing to pause: the guest runs. */
    if (!mon->vmc->run_state)
        return VM_RUN_STATE_RUNNING;
    return mon->vmc->run_state(mon->opaque);
}

static GPtrArray *monitor_chardevs(struct monitor *mon)
{
    return mon->vmc->chardevs ? mon->vmc->chardevs(mon->opaque) : NULL;
}

static const char *monitor_vm_name(struct monitor *mon)
{
    return mon->vmc->name ? mon->vmc->name(mon->opaque) : NULL;
}

static unsigned monitor_vcpus(struct monitor *mon, unsigned *max)
{
    unsigned online;

    *max = 1;
    if (!mon->vmc->vcpus)
        return 1;
    online = mon->vmc->vcpus(mon->opaque, max);
    if (*max < online)
        *max = online;
    return online;
}

/* A NULL vm_control callback: this xendm cannot do `what`. */
static bool callback_missing(const void *callback, const char *what, GError **err)
{
    if (!callback) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "'%s' is not available", what);
        return true;
    }
    return false;
}

/* Runs one of the action callbacks; NULL means this xendm cannot do it. */
static bool run_action(struct monitor *mon, bool (*action)(void *opaque, GError **err),
                       const char *what, GError **err)
{
    if (callback_missing((const void *)action, what, err))
        return false;
    return action(mon->opaque, err);
}

static void quit_after_reply(struct monitor *mon)
{
    if (mon->vmc->quit)
        mon->vmc->quit(mon->opaque);
}

struct json_value *qmp_version_info(void)
{
    struct json_value *info = json_object_new();
    struct json_value *qemu = json_object_new();

    json_object_set(qemu, "micro", json_int_new(MONITOR_QEMU_VERSION_MICRO));
    json_object_set(qemu, "minor", json_int_new(MONITOR_QEMU_VERSION_MINOR));
    json_object_set(qemu, "major", json_int_new(MONITOR_QEMU_VERSION_MAJOR));
    json_object_set(info, "qemu", qemu);
    json_object_set(info, "package", json_string_new(XENDM_VERSION_STRING));
    return info;
}

/* ---- QMP commands ---- */

static struct json_value *qmp_capabilities(struct qmp_request *req, GError **err)
{
    const struct json_value *enable = json_object_get(req->args, "enable");

    /* The greeting offers no capability, so any one asked for is unavailable. */
    for (size_t i = 0; i < json_array_length(enable); i++) {
        const char *name = json_get_string(json_array_get(enable, i));
        if (!name) {
            g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC,
                        "Invalid parameter type for 'enable', expected: array of strings");
        } else {
            g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Capability '%.100s' not available",
                        name);
        }
        return NULL;
    }
    req->mon->negotiated = true;
    return json_object_new();
}

static struct json_value *qmp_query_commands(struct qmp_request *req, GError **err)
{
    struct json_value *list = json_array_new();

    for (size_t i = 0; i < qmp_command_count(); i++) {
        struct json_value *entry = json_object_new();
        json_object_set(entry, "name", json_string_new(qmp_command_at(i)->name));
        json_array_append(list, entry);
    }
    return list;
}

static struct json_value *qmp_query_version(struct qmp_request *req, GError **err)
{
    return qmp_version_info();
}

static struct json_value *qmp_query_status(struct qmp_request *req, GError **err)
{
    enum vm_run_state state = run_state(req->mon);
    struct json_value *status = json_object_new();

    json_object_set(status, "status", json_string_new(vm_run_state_name(state)));
    json_object_set(status, "singlestep", json_bool_new(false));
    json_object_set(status, "running", json_bool_new(state == VM_RUN_STATE_RUNNING));
    return status;
}

static struct json_value *qmp_query_name(struct qmp_request *req, GError **err)
{
    const char *name = monitor_vm_name(req->mon);
    struct json_value *info = json_object_new();

    if (name)
        json_object_set(info, "name", json_string_new(name));
    return info;
}

/* libxl looks for label "serialN" with a filename "pty:/dev/pts/N" (xenstore serial/N/tty). */
static struct json_value *qmp_query_chardev(struct qmp_request *req, GError **err)
{
    GPtrArray *chardevs = monitor_chardevs(req->mon);
    struct json_value *list = json_array_new();

    for (guint i = 0; chardevs && i < chardevs->len; i++) {
        const struct chardev *chr = g_ptr_array_index(chardevs, i);
        struct json_value *entry = json_object_new();
        json_object_set(entry, "label", json_string_new(chardev_id(chr)));
        json_object_set(entry, "filename", json_string_new(chardev_filename(chr)));
        json_object_set(entry, "frontend-open", json_bool_new(chardev_has_frontend(chr)));
        json_array_append(list, entry);
    }
    return list;
}

/* ---- vCPUs: query-cpus-fast, query-hotpluggable-cpus, device_add of a CPU ---- */

/* The CPU type of qemu-xen's xenfv machine (QEMU 7.2, i386 target), which libxl device_adds. */
#define VCPU_TYPE "qemu32-i386-cpu"
/*
 * qemu-xen's QOM paths: /machine/unattached/device[0] is its xen-bridge, [1] its xen-sysdev,
 * then the -smp vCPUs in order. device_add puts a vCPU at /machine/peripheral/ID, or without
 * an id at /machine/peripheral-anon/device[N].
 */
#define VCPU_FIRST_UNATTACHED 2
#define VCPU_PERIPHERAL "/machine/peripheral/"
#define VCPU_PERIPHERAL_ANON "/machine/peripheral-anon/"

/* QEMU's x86 CPU topology for vCPU n of a xenfv guest: one core, one thread per socket. */
static struct json_value *vcpu_props(unsigned n)
{
    struct json_value *props = json_object_new();

    json_object_set(props, "core-id", json_int_new(0));
    json_object_set(props, "thread-id", json_int_new(0));
    json_object_set(props, "socket-id", json_int_new((int64_t)n));
    return props;
}

/*
 * Whether vCPU n is present; *qom_path (caller frees) is its QOM path then. Without
 * vcpu_present the first `online` (the -smp count) are.
 */
static bool vcpu_lookup(struct monitor *mon, unsigned n, unsigned online, char **qom_path)
{
    const char *plugged_path = NULL;
    bool present = n < online;

    *qom_path = NULL;
    if (mon->vmc->vcpu_present)
        present = mon->vmc->vcpu_present(mon->opaque, n, &plugged_path);
    if (!present)
        return false;
    if (plugged_path)
        *qom_path = g_strdup(plugged_path);
    else
        *qom_path = g_strdup_printf("/machine/unattached/device[%u]", n + VCPU_FIRST_UNATTACHED);
    return true;
}

/*
 * libxl reads "cpu-index" of each entry to learn which vCPUs are online (xl vcpu-set, xl save
 * and libxl_retrieve_domain_configuration). On Xen the vCPUs run in the hypervisor; the device
 * model's view is the -smp count plus what device_add added. thread-id names the device
 * model's own thread, as qemu-xen's vCPU threads do nothing either. Listed by index (qemu-xen
 * lists them in the order they were created; libxl makes a bitmap of them).
 */
static struct json_value *qmp_query_cpus_fast(struct qmp_request *req, GError **err)
{
    struct json_value *list = json_array_new();
    unsigned max, online = monitor_vcpus(req->mon, &max);

    for (unsigned n = 0; n < max; n++) {
        struct json_value *cpu;
        char *path;

        if (!vcpu_lookup(req->mon, n, online, &path))
            continue;
        cpu = json_object_new();
        json_object_set(cpu, "cpu-index", json_int_new((int64_t)n));
        json_object_set(cpu, "qom-path", json_string_take(path));
        json_object_set(cpu, "thread-id", json_int_new((int64_t)getpid()));
        json_object_set(cpu, "props", vcpu_props(n));
        json_object_set(cpu, "target", json_string_new("i386"));
        json_array_append(list, cpu);
    }
    return list;
}

/*
 * Every possible vCPU, highest first as QEMU lists them; the present ones carry their
 * qom-path. libxl 4.17 takes "type" of the first entry as the driver for device_add.
 */
static struct json_value *qmp_query_hotpluggable_cpus(struct qmp_request *req, GError **err)
{
    struct json_value *list = json_array_new();
    unsigned max, online = monitor_vcpus(req->mon, &max);

    for (unsigned n = max; n-- > 0;) {
        struct json_value *slot = json_object_new();
        char *path;

        json_object_set(slot, "type", json_string_new(VCPU_TYPE));
        json_object_set(slot, "vcpus-count", json_int_new(1));
        json_object_set(slot, "props", vcpu_props(n));
        if (vcpu_lookup(req->mon, n, online, &path))
            json_object_set(slot, "qom-path", json_string_take(path));
        json_array_append(list, slot);
    }
    return list;
}

/* The topology properties of a vCPU device_add takes; -1 means "not set", as in QEMU. */
struct vcpu_topology {
    int64_t socket, die, core, thread;
};

/* QEMU's ids (qemu_opts_id_wellformed): a letter, then letters, digits, '-', '.', '_'. */
static bool qmp_id_wellformed(const char *id)
{
    if (!g_ascii_isalpha(id[0]))
        return false;
    for (const char *p = id + 1; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '.' && *p != '_')
            return false;
    }
    return true;
}

/* A property value as QEMU's input visitor takes it: an integer, or a string holding one. */
static bool vcpu_prop_int32(const char *name, const struct json_value *v, int64_t *out,
                            GError **err)
{
    const char *text;
    char *end = NULL;
    int64_t value;
    double d;

    switch (json_type_of(v)) {
    case JSON_INT:
        value = json_get_int(v);
        break;
    case JSON_DOUBLE:
        d = json_get_double(v);
        if (d != (double)(int64_t)d || d < (double)INT32_MIN || d > (double)INT32_MAX)
            goto not_integer;
        value = (int64_t)d;
        break;
    case JSON_STRING:
        text = json_get_string(v);
        errno = 0;
        value = (int64_t)g_ascii_strtoll(text, &end, 0);
        if (*text == '\0' || *end != '\0' || errno != 0)
            goto not_integer;
        break;
    default:
        goto not_integer;
    }
    if (value < INT32_MIN || value > INT32_MAX) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Parameter '%s' expects int32_t", name);
        return false;
    }
    *out = value;
    return true;

not_integer:
    g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Parameter '%s' expects integer", name);
    return false;
}

/* The properties after driver and id; anything but the topology is not a CPU property. */
static bool vcpu_parse_topology(const struct json_value *args, struct vcpu_topology *t,
                                GError **err)
{
    *t = (struct vcpu_topology){-1, -1, -1, -1};
    for (size_t i = 0; i < json_object_size(args); i++) {
        const char *key = json_object_key_at(args, i);
        const struct json_value *v = json_object_value_at(args, i);
        int64_t *slot = NULL, ignored;

        if (strcmp(key, "driver") == 0 || strcmp(key, "id") == 0)
            continue;
        if (strcmp(key, "socket-id") == 0)
            slot = &t->socket;
        else if (strcmp(key, "die-id") == 0)
            slot = &t->die;
        else if (strcmp(key, "core-id") == 0)
            slot = &t->core;
        else if (strcmp(key, "thread-id") == 0)
            slot = &t->thread;
        else if (strcmp(key, "node-id") == 0)
            slot = &ignored; /* NUMA: Xen's business; checked for its type only */
        if (!slot) {
            g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Property '" VCPU_TYPE
                        ".%.100s' not found", key);
            return false;
        }
        if (!vcpu_prop_int32(key, v, slot, err))
            return false;
    }
    return true;
}

/* One topology level: set, and within 0..limit-1 (sockets = maxcpus; 1 die, core, thread). */
static bool vcpu_check_level(const char *name, int64_t value, unsigned limit, GError **err)
{
    if (value < 0) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "CPU %s is not set", name);
        return false;
    }
    if (value >= (int64_t)limit) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC,
                    "Invalid CPU %s: %" PRId64 " must be in range 0:%u", name, value, limit - 1);
        return false;
    }
    return true;
}

/*
 * QEMU's pc_cpu_pre_plug() checks, in its order: the socket is within maxcpus (the vCPU's
 * APIC ID is its socket), die, core and thread are 0 (an unset die-id means 0), the vCPU is
 * not present yet.
 */
static bool vcpu_check_slot(struct monitor *mon, struct vcpu_topology *t, unsigned online,
                            unsigned max, GError **err)
{
    char *path;

    if (t->die < 0)
        t->die = 0;
    if (!vcpu_check_level("socket-id", t->socket, max, err) ||
        !vcpu_check_level("die-id", t->die, 1, err) ||
        !vcpu_check_level("core-id", t->core, 1, err) ||
        !vcpu_check_level("thread-id", t->thread, 1, err))
        return false;
    if (vcpu_lookup(mon, (unsigned)t->socket, online, &path)) {
        g_free(path);
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "CPU[%" PRId64 "] with APIC ID %" PRId64
                    " exists", t->socket, t->socket);
        return false;
    }
    return true;
}

/* The QOM path a new vCPU gets; NULL with *err set when its id is taken. */
static char *vcpu_new_qom_path(struct monitor *mon, const char *id, unsigned online,
                               unsigned max, GError **err)
{
    char *wanted = id ? g_strconcat(VCPU_PERIPHERAL, id, NULL) : NULL;
    unsigned anonymous = 0;

    for (unsigned n = 0; n < max; n++) {
        char *path;

        if (!vcpu_lookup(mon, n, online, &path))
            continue;
        if (wanted && strcmp(path, wanted) == 0) {
            g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Duplicate device ID '%s'", id);
            g_free(path);
            g_free(wanted);
            return NULL;
        }
        anonymous += g_str_has_prefix(path, VCPU_PERIPHERAL_ANON);
        g_free(path);
    }
    return wanted ? wanted : g_strdup_printf(VCPU_PERIPHERAL_ANON "device[%u]", anonymous);
}

/*
 * libxl 4.17's xl vcpu-set (libxl_set_vcpuonline) for each vCPU N it brings online:
 * {"driver": <type of query-hotpluggable-cpus' first entry>, "id": "cpu-N", "socket-id": N,
 * "core-id": 0, "thread-id": 0}. Errors are qemu-xen's, in its order. Only the CPU type can
 * be added (no PCI hotplug yet).
 */
static struct json_value *qmp_device_add(struct qmp_request *req, GError **err)
{
    const char *driver = json_get_string(json_object_get(req->args, "driver"));
    const char *id = json_get_string(json_object_get(req->args, "id"));
    struct monitor *mon = req->mon;
    unsigned max, online = monitor_vcpus(mon, &max);
    struct vcpu_topology topo;
    char *path;
    bool ok;

    if (strcmp(driver, VCPU_TYPE) != 0) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC,
                    "'%.100s' is not a valid device model name", driver);
        return NULL;
    }
    if (id && !qmp_id_wellformed(id)) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Parameter 'id' expects an identifier");
        return NULL;
    }
    path = vcpu_new_qom_path(mon, id, online, max, err);
    if (!path)
        return NULL;
    ok = vcpu_parse_topology(req->args, &topo, err) &&
         vcpu_check_slot(mon, &topo, online, max, err) &&
         !callback_missing((const void *)mon->vmc->vcpu_plug, "device_add of a vCPU", err) &&
         mon->vmc->vcpu_plug(mon->opaque, (unsigned)topo.socket, path, err);
    g_free(path);
    return ok ? json_object_new() : NULL;
}

static struct json_value *qmp_query_pci(struct qmp_request *req, GError **err)
{
    struct json_value *buses = json_array_new();
    struct json_value *bus = json_object_new();

    /* Bus 0 exists on every PC; its devices are listed once the PCI layer lands. */
    json_object_set(bus, "bus", json_int_new(0));
    json_object_set(bus, "devices", json_array_new());
    json_array_append(buses, bus);
    return buses;
}

static struct json_value *qmp_stop(struct qmp_request *req, GError **err)
{
    return run_action(req->mon, req->mon->vmc->stop, "stop", err) ? json_object_new() : NULL;
}

static struct json_value *qmp_cont(struct qmp_request *req, GError **err)
{
    return run_action(req->mon, req->mon->vmc->cont, "cont", err) ? json_object_new() : NULL;
}

static struct json_value *qmp_system_reset(struct qmp_request *req, GError **err)
{
    if (!run_action(req->mon, req->mon->vmc->system_reset, "system_reset", err))
        return NULL;
    return json_object_new();
}

static struct json_value *qmp_system_wakeup(struct qmp_request *req, GError **err)
{
    if (!run_action(req->mon, req->mon->vmc->system_wakeup, "system_wakeup", err))
        return NULL;
    return json_object_new();
}

static struct json_value *qmp_system_powerdown(struct qmp_request *req, GError **err)
{
    if (!run_action(req->mon, req->mon->vmc->system_powerdown, "system_powerdown", err))
        return NULL;
    return json_object_new();
}

static struct json_value *qmp_quit(struct qmp_request *req, GError **err)
{
    req->after_reply = quit_after_reply; /* the client hears {"return": {}} first */
    return json_object_new();
}

/* ---- fd sets ---- */

static struct json_value *qmp_add_fd(struct qmp_request *req, GError **err)
{
    const struct json_value *id_arg = json_object_get(req->args, "fdset-id");
    const char *opaque = json_get_string(json_object_get(req->args, "opaque"));
    int64_t id = 0, fdset_id;
    struct json_value *ret;
    int fd;

    if (id_arg)
        id = json_get_int(id_arg);
    fd = chardev_take_fd(req->mon->chr);
    if (fd < 0) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC,
                    "No file descriptor supplied via SCM_RIGHTS");
        return NULL;
    }
    if (!fdsets_add(req->mon->fdsets, fd, id_arg != NULL, id, opaque, &fdset_id, err)) {
        close(fd);
        return NULL;
    }
    ret = json_object_new();
    json_object_set(ret, "fdset-id", json_int_new(fdset_id));
    json_object_set(ret, "fd", json_int_new(fd));
    return ret;
}

static struct json_value *qmp_remove_fd(struct qmp_request *req, GError **err)
{
    const struct json_value *fd_arg = json_object_get(req->args, "fd");
    int64_t id = 0, fd = -1;

    id = json_get_int(json_object_get(req->args, "fdset-id"));
    if (fd_arg)
        fd = json_get_int(fd_arg);
    if (!fdsets_remove(req->mon->fdsets, id, fd_arg != NULL, fd, err))
        return NULL;
    return json_object_new();
}

static struct json_value *qmp_query_fdsets(struct qmp_request *req, GError **err)
{
    return fdsets_query(req->mon->fdsets);
}

/* ---- device state and the dirty log (Xen save/restore, live migration) ---- */

static struct json_value *qmp_xen_save_devices_state(struct qmp_request *req, GError **err)
{
    const char *filename = json_get_string(json_object_get(req->args, "filename"));
    const struct json_value *live_arg = json_object_get(req->args, "live");
    bool live = live_arg ? json_get_bool(live_arg) : false;
    struct monitor *mon = req->mon;
    bool ok;
    int fd;

    if (callback_missing(mon->vmc->save_devices_state, "xen-save-devices-state", err))
        return NULL;
    fd = fdsets_open(mon->fdsets, filename, O_WRONLY | O_CREAT | O_TRUNC, err);
    if (fd < 0)
        return NULL;
    ok = mon->vmc->save_devices_state(mon->opaque, fd, live, err);
    if (close(fd) != 0 && ok) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "closing '%.200s': %s", filename,
                    g_strerror(errno));
        ok = false;
    }
    return ok ? json_object_new() : NULL;
}

static struct json_value *qmp_xen_load_devices_state(struct qmp_request *req, GError **err)
{
    const char *filename = json_get_string(json_object_get(req->args, "filename"));
    struct monitor *mon = req->mon;
    bool ok;
    int fd;

    if (callback_missing(mon->vmc->load_devices_state, "xen-load-devices-state", err))
        return NULL;
    fd = fdsets_open(mon->fdsets, filename, O_RDONLY, err);
    if (fd < 0)
        return NULL;
    ok = mon->vmc->load_devices_state(mon->opaque, fd, err);
    close(fd);
    return ok ? json_object_new() : NULL;
}

static struct json_value *qmp_xen_set_global_dirty_log(struct qmp_request *req, GError **err)
{
    bool enable = json_get_bool(json_object_get(req->args, "enable"));
    struct monitor *mon = req->mon;

    if (callback_missing(mon->vmc->set_global_dirty_log, "xen-set-global-dirty-log", err))
        return NULL;
    if (!mon->vmc->set_global_dirty_log(mon->opaque, enable, err))
        return NULL;
    return json_object_new();
}

/* ---- human-monitor-command: a few HMP commands ---- */

static void hmp_info_status(struct monitor *mon, GString *out)
{
    enum vm_run_state state = run_state(mon);

    /* HMP says "paused" for every stopped state and names it unless it is plain "paused". */
    g_string_append_printf(out, "VM status: %s", state == VM_RUN_STATE_RUNNING ? "running"
                                                                               : "paused");
    if (state != VM_RUN_STATE_RUNNING && state != VM_RUN_STATE_PAUSED)
        g_string_append_printf(out, " (%s)", vm_run_state_name(state));
    g_string_append_c(out, '\n');
}

static void hmp_info_chardev(struct monitor *mon, GString *out)
{
    GPtrArray *chardevs = monitor_chardevs(mon);

    for (guint i = 0; chardevs && i < chardevs->len; i++) {
        const struct chardev *chr = g_ptr_array_index(chardevs, i);
        g_string_append_printf(out, "%s: filename=%s\n", chardev_id(chr), chardev_filename(chr));
    }
}

static void hmp_info_version(struct monitor *mon, GString *out)
{
    g_string_append_printf(out, "%d.%d.%d (%s)\n", MONITOR_QEMU_VERSION_MAJOR,
                           MONITOR_QEMU_VERSION_MINOR, MONITOR_QEMU_VERSION_MICRO,
                           XENDM_VERSION_STRING);
}

static void hmp_info_name(struct monitor *mon, GString *out)
{
    const char *name = monitor_vm_name(mon);

    if (name)
        g_string_append_printf(out, "%s\n", name);
}

static const struct hmp_info {
    const char *name;
    void (*show)(struct monitor *mon, GString *out);
    const char *help;
} hmp_infos[] = {
    {"block", hmp_info_block, "show the block devices"},
    {"blockstats", hmp_info_blockstats, "show block device statistics"},
    {"chardev", hmp_info_chardev, "show the character devices"},
    {"name", hmp_info_name, "show the current VM name"},
    {"status", hmp_info_status, "show the current VM status (running|paused)"},
    {"version", hmp_info_version, "show the version of QEMU"},
};

static void hmp_info(struct monitor *mon, gchar **words, GString *out)
{
    if (!words[1]) {
        for (size_t i = 0; i < G_N_ELEMENTS(hmp_infos); i++)
            g_string_append_printf(out, "info %s -- %s\n", hmp_infos[i].name, hmp_infos[i].help);
        return;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(hmp_infos); i++) {
        if (strcmp(words[1], hmp_infos[i].name) == 0) {
            hmp_infos[i].show(mon, out);
            return;
        }
    }
    g_string_append_printf(out, "unknown command: 'info %.100s'\n", words[1]);
}

static void hmp_action(struct monitor *mon, bool (*action)(void *opaque, GError **err),
                       const char *what, GString *out)
{
    GError *err = NULL;

    if (!run_action(mon, action, what, &err)) {
        g_string_append_printf(out, "Error: %s\n", err->message);
        g_error_free(err);
    }
}

static const char hmp_help_text[] =
    "c|cont -- resume emulation\n"
    "help|? [cmd] -- show the help\n"
    "info [subcommand] -- show various information about the system state\n"
    "q|quit -- quit the emulator\n"
    "screendump filename [-f format] [device [head]] -- save screen to a file (ppm, png)\n"
    "sendkey keys [hold_ms] -- send keys to the VM (e.g. 'sendkey ctrl-alt-f1', default hold "
    "time=100 ms)\n"
    "stop -- stop emulation\n"
    "system_powerdown -- send system power down event\n"
    "system_wakeup -- wakeup guest from suspend\n"
    "system_reset -- reset the system\n";

/* Runs one HMP command line; the output uses "\n" (converted by the caller). */
static void hmp_run(struct qmp_request *req, gchar **words, GString *out)
{
    struct monitor *mon = req->mon;
    const char *cmd = words[0];

    if (!cmd)
        return; /* an empty line does nothing */
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "?") == 0) {
        g_string_append(out, hmp_help_text);
    } else if (strcmp(cmd, "info") == 0) {
        hmp_info(mon, words, out);
    } else if (strcmp(cmd, "stop") == 0) {
        hmp_action(mon, mon->vmc->stop, "stop", out);
    } else if (strcmp(cmd, "cont") == 0 || strcmp(cmd, "c") == 0) {
        hmp_action(mon, mon->vmc->cont, "cont", out);
    } else if (strcmp(cmd, "system_reset") == 0) {
        hmp_action(mon, mon->vmc->system_reset, "system_reset", out);
    } else if (strcmp(cmd, "system_powerdown") == 0) {
        hmp_action(mon, mon->vmc->system_powerdown, "system_powerdown", out);
    } else if (strcmp(cmd, "system_wakeup") == 0) {
        hmp_action(mon, mon->vmc->system_wakeup, "system_wakeup", out);
    } else if (strcmp(cmd, "sendkey") == 0) {
        hmp_sendkey(mon, words, out);
    } else if (strcmp(cmd, "screendump") == 0) {
        hmp_screendump(mon, words, out);
    } else if (strcmp(cmd, "quit") == 0 || strcmp(cmd, "q") == 0) {
        req->after_reply = quit_after_reply;
    } else {
        g_string_append_printf(out, "unknown command: '%.100s'\n", cmd);
    }
}

/* The human monitor ends its lines with CR LF, through QMP too. */
static char *hmp_crlf(const GString *text)
{
    GString *out = g_string_sized_new(text->len + 16);

    for (gsize i = 0; i < text->len; i++) {
        if (text->str[i] == '\n')
            g_string_append_c(out, '\r');
        g_string_append_c(out, text->str[i]);
    }
    return g_string_free(out, FALSE);
}

static gchar **hmp_split_words(const char *line)
{
    gchar **parts = g_strsplit_set(line, " \t\r\n", -1);
    guint kept = 0;

    for (guint i = 0; parts[i]; i++) {
        if (*parts[i])
            parts[kept++] = parts[i];
        else
            g_free(parts[i]);
    }
    parts[kept] = NULL;
    return parts;
}

static struct json_value *qmp_human_monitor_command(struct qmp_request *req, GError **err)
{
    const char *line = json_get_string(json_object_get(req->args, "command-line"));
    GString *out = g_string_new(NULL);
    gchar **words = hmp_split_words(line);
    char *text;

    hmp_run(req, words, out);
    g_strfreev(words);
    text = hmp_crlf(out);
    g_string_free(out, TRUE);
    return json_string_take(text);
}

/* ---- the table ---- */

static const struct qmp_param capabilities_params[] = {
    {"enable", QMP_PARAM_ARRAY, true},
    {.name = NULL},
};

static const struct qmp_param hmp_params[] = {
    {"command-line", QMP_PARAM_STRING, false},
    {"cpu-index", QMP_PARAM_INT, true}, /* accepted; xendm has no per-vCPU HMP state */
    {.name = NULL},
};

static const struct qmp_param add_fd_params[] = {
    {"fdset-id", QMP_PARAM_INT, true},
    {"opaque", QMP_PARAM_STRING, true},
    {.name = NULL},
};

static const struct qmp_param remove_fd_params[] = {
    {"fdset-id", QMP_PARAM_INT, false},
    {"fd", QMP_PARAM_INT, true},
    {.name = NULL},
};

static const struct qmp_param save_devices_params[] = {
    {"filename", QMP_PARAM_STRING, false},
    {"live", QMP_PARAM_BOOL, true},
    {.name = NULL},
};

static const struct qmp_param load_devices_params[] = {
    {"filename", QMP_PARAM_STRING, false},
    {.name = NULL},
};

static const struct qmp_param dirty_log_params[] = {
    {"enable", QMP_PARAM_BOOL, false},
    {.name = NULL},
};

/* device_add: the device's own properties come as further members ("*"), checked by it. */
static const struct qmp_param device_add_params[] = {
    {"driver", QMP_PARAM_STRING, false},
    {"id", QMP_PARAM_STRING, true},
    {QMP_PARAM_ANY_OTHER, QMP_PARAM_ANY, true},
    {.name = NULL},
};

static const struct qmp_param eject_params[] = {
    {"device", QMP_PARAM_STRING, true},
    {"id", QMP_PARAM_STRING, true},
    {"force", QMP_PARAM_BOOL, true},
    {.name = NULL},
};

static const struct qmp_param change_medium_params[] = {
    {"device", QMP_PARAM_STRING, true},
    {"id", QMP_PARAM_STRING, true},
    {"filename", QMP_PARAM_STRING, false},
    {"format", QMP_PARAM_STRING, true},
    {"force", QMP_PARAM_BOOL, true},
    {"read-only-mode", QMP_PARAM_STRING, true},
    {.name = NULL},
};

static const struct qmp_param change_params[] = {
    {"device", QMP_PARAM_STRING, false},
    {"target", QMP_PARAM_STRING, false},
    {"arg", QMP_PARAM_STRING, true},
    {.name = NULL},
};

static const struct qmp_param query_block_params[] = {
    {"flat", QMP_PARAM_BOOL, true},
    {.name = NULL},
};

static const struct qmp_param query_blockstats_params[] = {
    {"query-nodes", QMP_PARAM_BOOL, true},
    {.name = NULL},
};

static const struct qmp_param screendump_params[] = {
    {"filename", QMP_PARAM_STRING, false},
    {"device", QMP_PARAM_STRING, true},
    {"head", QMP_PARAM_INT, true},
    {"format", QMP_PARAM_STRING, true},
    {.name = NULL},
};

static const struct qmp_param input_send_event_params[] = {
    {"device", QMP_PARAM_STRING, true},
    {"head", QMP_PARAM_INT, true},
    {"events", QMP_PARAM_ARRAY, false},
    {.name = NULL},
};

static const struct qmp_param send_key_params[] = {
    {"keys", QMP_PARAM_ARRAY, false},
    {"hold-time", QMP_PARAM_INT, true},
    {.name = NULL},
};

/*
 * Not here, as in qemu-xen 7.2: cpu-add (removed in QEMU 6.0; libxl 4.17 falls back to it
 * only when query-hotpluggable-cpus is CommandNotFound).
 */
static const struct qmp_command qmp_commands[] = {
    {.name = "qmp_capabilities", .handler = qmp_capabilities, .params = capabilities_params,
     .before_negotiation = true},
    {.name = "query-commands", .handler = qmp_query_commands},
    {.name = "query-version", .handler = qmp_query_version},
    {.name = "query-status", .handler = qmp_query_status},
    {.name = "query-name", .handler = qmp_query_name},
    {.name = "query-chardev", .handler = qmp_query_chardev},
    {.name = "query-vnc", .handler = qmp_query_vnc},
    {.name = "change-vnc-password", .handler = qmp_change_vnc_password,
     .params = qmp_change_vnc_password_params},
    {.name = "set_password", .handler = qmp_set_password, .params = qmp_set_password_params},
    {.name = "expire_password", .handler = qmp_expire_password,
     .params = qmp_expire_password_params},
    {.name = "query-pci", .handler = qmp_query_pci},
    {.name = "query-cpus-fast", .handler = qmp_query_cpus_fast},
    {.name = "query-hotpluggable-cpus", .handler = qmp_query_hotpluggable_cpus},
    {.name = "device_add", .handler = qmp_device_add, .params = device_add_params},
    {.name = "stop", .handler = qmp_stop},
    {.name = "cont", .handler = qmp_cont},
    {.name = "system_reset", .handler = qmp_system_reset},
    {.name = "system_powerdown", .handler = qmp_system_powerdown},
    {.name = "system_wakeup", .handler = qmp_system_wakeup},
    {.name = "quit", .handler = qmp_quit},
    {.name = "human-monitor-command", .handler = qmp_human_monitor_command, .params = hmp_params},
    {.name = "add-fd", .handler = qmp_add_fd, .params = add_fd_params},
    {.name = "remove-fd", .handler = qmp_remove_fd, .params = remove_fd_params},
    {.name = "query-fdsets", .handler = qmp_query_fdsets},
    {.name = "xen-save-devices-state", .handler = qmp_xen_save_devices_state,
     .params = save_devices_params},
    {.name = "xen-load-devices-state", .handler = qmp_xen_load_devices_state,
     .params = load_devices_params},
    {.name = "xen-set-global-dirty-log", .handler = qmp_xen_set_global_dirty_log,
     .params = dirty_log_params},
    {.name = "eject", .handler = qmp_eject, .params = eject_params},
    {.name = "blockdev-change-medium", .handler = qmp_blockdev_change_medium,
     .params = change_medium_params},
    {.name = "change", .handler = qmp_change, .params = change_params},
    {.name = "query-block", .handler = qmp_query_block, .params = query_block_params},
    {.name = "query-blockstats", .handler = qmp_query_blockstats,
     .params = query_blockstats_params},
    {.name = "screendump", .handler = qmp_screendump, .params = screendump_params},
    {.name = "input-send-event", .handler = qmp_input_send_event,
     .params = input_send_event_params},
    {.name = "send-key", .handler = qmp_send_key, .params = send_key_params},
};

const struct qmp_command *qmp_command_find(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(qmp_commands); i++) {
        if (strcmp(qmp_commands[i].name, name) == 0)
            return &qmp_commands[i];
    }
    return NULL;
}

size_t qmp_command_count(void)
{
    return G_N_ELEMENTS(qmp_commands);
}

const struct qmp_command *qmp_command_at(size_t index)
{
    return index < G_N_ELEMENTS(qmp_commands) ? &qmp_commands[index] : NULL;
}

/* ---- argument checking ---- */

static const char *qmp_param_type_name(enum qmp_param_type type)
{
    switch (type) {
    case QMP_PARAM_STRING: return "string";
    case QMP_PARAM_INT: return "integer";
    case QMP_PARAM_BOOL: return "boolean";
    case QMP_PARAM_ARRAY: return "array";
    case QMP_PARAM_OBJECT: return "object";
    case QMP_PARAM_ANY: return "any";
    }
    return "?";
}

static bool qmp_param_type_matches(enum qmp_param_type type, const struct json_value *v)
{
    static const enum json_type wanted[] = {
        [QMP_PARAM_STRING] = JSON_STRING, [QMP_PARAM_INT] = JSON_INT,
        [QMP_PARAM_BOOL] = JSON_BOOL,     [QMP_PARAM_ARRAY] = JSON_ARRAY,
        [QMP_PARAM_OBJECT] = JSON_OBJECT,
    };

    if (type == QMP_PARAM_ANY)
        return true;
    return json_type_of(v) == wanted[type];
}

static const struct qmp_param *qmp_param_find(const struct qmp_command *cmd, const char *name)
{
    const struct qmp_param *any_other = NULL;

    for (const struct qmp_param *p = cmd->params; p && p->name; p++) {
        if (strcmp(p->name, name) == 0)
            return p;
        if (strcmp(p->name, QMP_PARAM_ANY_OTHER) == 0)
            any_other = p;
    }
    return any_other;
}

bool qmp_check_arguments(const struct qmp_command *cmd, const struct json_value *args,
                         GError **err)
{
    for (size_t i = 0; i < json_object_size(args); i++) {
        const char *key = json_object_key_at(args, i);
        const struct qmp_param *param = qmp_param_find(cmd, key);
        if (!param) {
            g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Parameter '%.100s' is unexpected",
                        key);
            return false;
        }
        if (!qmp_param_type_matches(param->type, json_object_value_at(args, i))) {
            g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC,
                        "Invalid parameter type for '%s', expected: %s", key,
                        qmp_param_type_name(param->type));
            return false;
        }
    }
    for (const struct qmp_param *p = cmd->params; p && p->name; p++) {
        if (!p->optional && !json_object_get(args, p->name)) {
            g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Parameter '%s' is missing", p->name);
            return false;
        }
    }
    return true;
}
