/*
 * xendm's main: command line -> machine -> Xen bring-up -> event loop ->
 * teardown. Exit status: 0 on SIGTERM/SIGINT/SIGHUP (libxl's way of destroying a
 * device model) or a clean stop, 1 on a bad
 * command line or a failure (the message names the step and errno).
 */
#include <glib-unix.h>
#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "accel/xen/xen-accel.h"
#include "xendm/acpi.h"
#include "xendm/log.h"
#include "xendm/machine.h"
#include "xendm/mapcache.h"
#include "xendm/monitor.h"
#include "xendm/options.h"
#include "xendm/restrict.h"
#include "xendm/trace.h"
#include "xendm/ui.h"
#include "xendm/vmstate.h"
#include "xendm/xenfv.h"

struct xendm_run {
    struct xendm_config *cfg;
    struct xen_accel *xa;
    struct machine *m;
    struct mapcache *mc;
    GMainLoop *loop;
    struct monitor_set *monitors;
    struct restrict_plan *restrict_plan; /* -xen-domid-restrict, -chroot, -runas, -sandbox */
    enum vm_run_state run_state;
    bool shutdown_from_qmp; /* set around a QMP system_reset */
    GPtrArray *plugged_vcpus; /* char *: index n holds the QOM path of vCPU n if device_added */
    int exit_status;
    bool started; /* bring-up was attempted: the log ends with the exit status */
};

static gboolean on_signal(gpointer opaque)
{
    struct xendm_run *run = opaque;

    log_info("signal received: shutting down");
    run->exit_status = 0;
    g_main_loop_quit(run->loop);
    return G_SOURCE_CONTINUE;
}

static void on_fatal(void *opaque)
{
    struct xendm_run *run = opaque;

    run->exit_status = 1;
    g_main_loop_quit(run->loop);
}

/* ---- what the QMP monitor asks of main (include/xendm/monitor.h) ---- */

static enum vm_run_state vmc_run_state(void *opaque)
{
    return ((struct xendm_run *)opaque)->run_state;
}

/* libxl pauses the domain's vCPUs itself; the device model records the state and reports it. */
static bool vmc_stop(void *opaque, GError **err)
{
    struct xendm_run *run = opaque;

    /* As qemu-xen: the ioreq server is enabled only while the machine runs (reference §2.8). */
    if (!xen_accel_set_serving(run->xa, false, err)) {
        return false;
    }

    if (run->run_state == VM_RUN_STATE_RUNNING) {
        run->run_state = VM_RUN_STATE_PAUSED;
        machine_set_running(run->m, false); /* no timer changes device state while stopped */
        monitor_set_emit(run->monitors, "STOP", NULL);
    }
    return true;
}

static bool vmc_cont(void *opaque, GError **err)
{
    struct xendm_run *run = opaque;

    /* With -S (or after stop) the guest's accesses reach us only from here on. */
    if (!xen_accel_set_serving(run->xa, true, err)) {
        return false;
    }

    if (run->run_state != VM_RUN_STATE_RUNNING) {
        run->run_state = VM_RUN_STATE_RUNNING;
        machine_set_running(run->m, true);
        monitor_set_emit(run->monitors, "RESUME", NULL);
    }
    return true;
}

/* On Xen a reset is a domain reboot: libxl tears down and rebuilds the domain. */
static bool vmc_system_reset(void *opaque, GError **err)
{
    struct xendm_run *run = opaque;

    run->shutdown_from_qmp = true; /* on_shutdown_request names the reason */
    machine_request_shutdown(run->m, SHUTDOWN_REBOOT);
    run->shutdown_from_qmp = false;
    return true;
}

static void vmc_quit(void *opaque)
{
    struct xendm_run *run = opaque;

    monitor_set_emit(run->monitors, "SHUTDOWN",
                     monitor_event_reason_data(false, "host-qmp-quit"));
    run->exit_status = 0;
    g_main_loop_quit(run->loop);
}

static GPtrArray *vmc_chardevs(void *opaque)
{
    struct xendm_run *run = opaque;

    return run->m ? run->m->chardevs : NULL;
}

static GPtrArray *vmc_drives(void *opaque)
{
    struct xendm_run *run = opaque;

    return run->m ? run->m->drives : NULL;
}

static const char *vmc_name(void *opaque)
{
    return ((struct xendm_run *)opaque)->cfg->name;
}

/* As QEMU: the machine holds still while it is written, and runs on if it ran. */
static bool vmc_save_devices_state(void *opaque, int fd, bool live, GError **err)
{
    struct xendm_run *run = opaque;
    bool ok;

    machine_set_running(run->m, false);
    ok = vmstate_save_machine_fd(run->m, fd, err);
    machine_set_running(run->m, run->run_state == VM_RUN_STATE_RUNNING);
    return ok;
}

static bool vmc_load_devices_state(void *opaque, int fd, GError **err)
{
    return vmstate_load_machine_fd(((struct xendm_run *)opaque)->m, fd, err);
}

static bool vmc_set_global_dirty_log(void *opaque, bool enable, GError **err)
{
    machine_set_dirty_log(((struct xendm_run *)opaque)->m, enable);
    return true;
}

static unsigned vmc_vcpus(void *opaque, unsigned *max)
{
    const struct xendm_config *cfg = ((struct xendm_run *)opaque)->cfg;

    *max = config_max_vcpus(cfg);
    return cfg->smp_cpus > 0 ? cfg->smp_cpus : 1;
}

static bool vmc_vcpu_present(void *opaque, unsigned index, const char **qom_path)
{
    struct xendm_run *run = opaque;
    unsigned max, boot = vmc_vcpus(opaque, &max);
    GPtrArray *plugged = run->plugged_vcpus;

    *qom_path = plugged != NULL && index < plugged->len ? g_ptr_array_index(plugged, index) : NULL;
    return index < boot || *qom_path != NULL;
}

/* QMP device_add of a vCPU, which the monitor checked: the guest learns of it through ACPI. */
static bool vmc_vcpu_plug(void *opaque, unsigned index, const char *qom_path, GError **err)
{
    struct xendm_run *run = opaque;

    if (run->plugged_vcpus == NULL) {
        run->plugged_vcpus = g_ptr_array_new_with_free_func(g_free);
    }
    if (run->plugged_vcpus->len <= index) {
        g_ptr_array_set_size(run->plugged_vcpus, (gint)index + 1);
    }
    g_free(g_ptr_array_index(run->plugged_vcpus, index));
    g_ptr_array_index(run->plugged_vcpus, index) = g_strdup(qom_path);
    /* With -no-acpi the guest is not told; qemu-xen adds the vCPU all the same. */
    if (acpi_cpu_plug(run->m, index)) {
        log_info("vCPU %u added (%s): the guest is notified through ACPI", index, qom_path);
    } else {
        log_info("vCPU %u added (%s) without ACPI: the guest is not notified", index, qom_path);
    }
    return true;
}

/* As qemu-xen: POWERDOWN, then the ACPI power button; with -no-acpi nothing listens. */
static bool vmc_system_powerdown(void *opaque, GError **err)
{
    struct xendm_run *run = opaque;

    monitor_set_emit(run->monitors, "POWERDOWN", NULL);
    if (!acpi_press_power_button(run->m)) {
        log_info("system_powerdown: no ACPI power button (-no-acpi)");
    }
    return true;
}

/* The SDL window's close button: the guest's power button, as system_powerdown presses it. */
static void window_close_powerdown(void *opaque)
{
    vmc_system_powerdown(opaque, NULL);
}

/* As qemu-xen: an error unless the guest sleeps in S3; WAKEUP once it runs again. */
static bool vmc_system_wakeup(void *opaque, GError **err)
{
    struct xendm_run *run = opaque;

    if (!machine_wakeup(run->m)) {
        g_set_error(err, g_quark_from_static_string("xendm"), 0,
                    "Unable to wake up: guest is not in suspended state");
        return false;
    }
    return true;
}

/* S3 entered or left: query-status says "suspended" meanwhile; SUSPEND and WAKEUP events. */
static void on_sleep_change(void *opaque, bool asleep)
{
    struct xendm_run *run = opaque;

    if (asleep) {
        run->run_state = VM_RUN_STATE_SUSPENDED;
        monitor_set_emit(run->monitors, "SUSPEND", NULL);
    } else {
        run->run_state = VM_RUN_STATE_RUNNING;
        monitor_set_emit(run->monitors, "WAKEUP", NULL);
    }
}

/* The guest set its RTC (Xen's TIMEOFFSET): QEMU's RTC_CHANGE, offset from host time. */
static void on_rtc_change(void *opaque, int64_t offset_seconds)
{
    struct xendm_run *run = opaque;
    struct json_value *data = json_object_new();

    json_object_set(data, "offset", json_int_new(offset_seconds));
    json_object_set(data, "qom-path", json_string_new("/machine/unattached/device[0]/rtc"));
    monitor_set_emit(run->monitors, "RTC_CHANGE", data);
}

/* Every shutdown or reset request, reported on QMP as QEMU does (libxl ignores events). */
static void on_shutdown_request(void *opaque, enum shutdown_reason reason)
{
    struct xendm_run *run = opaque;

    if (run->shutdown_from_qmp) {
        monitor_set_emit(run->monitors, "RESET",
                         monitor_event_reason_data(false, "host-qmp-system-reset"));
    } else if (reason == SHUTDOWN_REBOOT) {
        monitor_set_emit(run->monitors, "RESET", monitor_event_reason_data(true, "guest-reset"));
    } else {
        monitor_set_emit(run->monitors, "SHUTDOWN",
                         monitor_event_reason_data(true, "guest-shutdown"));
    }
}

static const struct vm_control xendm_vm_control = {
    .run_state = vmc_run_state,
    .stop = vmc_stop,
    .cont = vmc_cont,
    .system_reset = vmc_system_reset,
    .system_powerdown = vmc_system_powerdown,
    .system_wakeup = vmc_system_wakeup,
    .quit = vmc_quit,
    .chardevs = vmc_chardevs,
    .drives = vmc_drives,
    .name = vmc_name,
    .save_devices_state = vmc_save_devices_state,
    .load_devices_state = vmc_load_devices_state,
    .set_global_dirty_log = vmc_set_global_dirty_log,
    .vcpus = vmc_vcpus,
    .vcpu_present = vmc_vcpu_present,
    .vcpu_plug = vmc_vcpu_plug,
};

/* Help, version and listings: done before anything is created. Returns true when handled. */
static bool run_info_action(const struct xendm_config *cfg)
{
    switch (cfg->action) {
    case XENDM_ACTION_HELP:
        options_print_help(stdout);
        return true;
    case XENDM_ACTION_VERSION:
        printf("%s\n", XENDM_VERSION_STRING);
        return true;
    case XENDM_ACTION_TRACE_HELP:
        trace_list(stdout);
        return true;
    case XENDM_ACTION_DEVICE_HELP:
        device_type_list(stdout);
        return true;
    case XENDM_ACTION_RUN:
        break;
    }
    return false;
}

static void apply_traces(const struct xendm_config *cfg)
{
    for (guint i = 0; i < cfg->trace_patterns->len; i++) {
        const char *pattern = g_ptr_array_index(cfg->trace_patterns, i);
        if (trace_enable(pattern) == 0) {
            log_warn("-trace %s: no trace point matches", pattern);
        }
    }
}

/* Step 1 of the restriction sequence (include/xendm/restrict.h). */
static bool restrict_xen_handles(void *opaque, GError **err)
{
    return xen_accel_restrict(opaque, err);
}

static bool build_and_start(struct xendm_run *run, GError **err)
{
    struct xendm_config *cfg = run->cfg;

    run->xa = xen_accel_new(cfg->domid, config_max_vcpus(cfg));
    xen_accel_set_poll_us(run->xa, cfg->poll_us);
    xen_accel_set_fatal_handler(run->xa, on_fatal, run);
    if (!xen_accel_open(run->xa, err)) {
        return false;
    }
    run->m = machine_new();
    run->m->ram_size = cfg->ram_size;
    run->mc = mapcache_new(xen_accel_mapper(run->xa), NULL);
    if (run->mc == NULL) {
        g_set_error(err, g_quark_from_static_string("xendm"), 0, "creating the mapcache failed");
        return false;
    }
    run->m->mapcache = run->mc;
    xen_accel_attach(run->xa, run->m);
    if (!xenfv_assemble(run->m, cfg, err)) {
        return false;
    }
    machine_reset(run->m);
    /* Before "running" in xenstore: libxl connects to QMP as soon as it reads it. */
    run->run_state = cfg->start_paused ? VM_RUN_STATE_PRELAUNCH : VM_RUN_STATE_RUNNING;
    if (cfg->incoming_fd >= 0) {
        /* Restore: all or nothing, before the ioreq server exists (qemu-xen: the state then
         * stays "running", or "paused" with -S; libxl sends cont either way). */
        bool loaded = vmstate_load_machine_fd(run->m, cfg->incoming_fd, err);
        close(cfg->incoming_fd);
        if (!loaded) {
            g_prefix_error(err, "-incoming fd:%d: ", cfg->incoming_fd);
            return false;
        }
        run->run_state = cfg->start_paused ? VM_RUN_STATE_PAUSED : VM_RUN_STATE_RUNNING;
    }
    machine_set_running(run->m, run->run_state == VM_RUN_STATE_RUNNING);
    run->monitors = monitor_set_new();
    run->m->shutdown_observer = on_shutdown_request;
    run->m->shutdown_observer_opaque = run;
    run->m->sleep_observer = on_sleep_change;
    run->m->sleep_observer_opaque = run;
    run->m->rtc_change_observer = on_rtc_change;
    run->m->rtc_change_observer_opaque = run;
    /* The VNC socket and the window: before restriction (chroot, seccomp) takes them away. */
    if (!ui_start_frontends(cfg, window_close_powerdown, run, err)) {
        return false;
    }
    if (!monitor_set_add_from_options(run->monitors, cfg->monitors, run->m->chardevs,
                                      &xendm_vm_control, run, err)) {
        return false;
    }
    /* With -S the server is created and its claims made, but it stays disabled until cont. */
    if (!xen_accel_start_ex(run->xa, !cfg->start_paused, err)) {
        return false;
    }
    /*
     * As qemu-xen, no xenstore state when restricted: libxl then follows the device model
     * over QMP only (query-status), and a DM answering both ways at once trips libxl 4.17
     * (assertion in libxl__ev_qmp_send). Otherwise "running" goes first: xenstore is
     * unusable after restriction.
     */
    if (!cfg->domid_restrict && !xen_accel_set_state(run->xa, "running", err)) {
        return false;
    }
    return restrict_apply(run->restrict_plan, restrict_xen_handles, run->xa, err);
}

static void teardown(struct xendm_run *run)
{
    if (run->xa != NULL) {
        xen_accel_stop(run->xa); /* no more ioreqs: the server is gone */
    }
    monitor_set_free(run->monitors); /* before the chardevs it uses */
    ui_stop_frontends();             /* before the console it shows */
    machine_free(run->m);
    if (run->mc != NULL) {
        mapcache_free(run->mc);
    }
    xen_accel_free(run->xa); /* after the mapcache: it maps through these handles */
    restrict_plan_free(run->restrict_plan);
    if (run->plugged_vcpus != NULL) {
        g_ptr_array_free(run->plugged_vcpus, TRUE);
    }
    if (run->loop != NULL) {
        g_main_loop_unref(run->loop);
    }
    config_free(run->cfg);
}

int main(int argc, char **argv)
{
    struct xendm_run run = {.exit_status = 1};
    GError *err = NULL;

    run.cfg = config_new();
    if (!options_parse(run.cfg, argc, argv, &err)) {
        fprintf(stderr, "xendm: %s\n", err->message);
        goto out;
    }
    if (run_info_action(run.cfg)) {
        run.exit_status = 0;
        goto out;
    }
    if (!run.cfg->have_domid) {
        fprintf(stderr, "xendm: -xen-domid is required\n");
        goto out;
    }
    /* -runas, -chroot and -sandbox are checked now: a bad one fails before anything exists. */
    run.restrict_plan = restrict_plan_new(run.cfg, NULL, &err);
    if (run.restrict_plan == NULL) {
        fprintf(stderr, "xendm: %s\n", err->message);
        goto out;
    }
    apply_traces(run.cfg);
    /* A chardev peer going away must be an error on write, not a signal that kills us. */
    signal(SIGPIPE, SIG_IGN);
    run.loop = g_main_loop_new(NULL, FALSE);
    g_unix_signal_add(SIGTERM, on_signal, &run);
    g_unix_signal_add(SIGINT, on_signal, &run);
    g_unix_signal_add(SIGHUP, on_signal, &run);

    run.started = true;
    if (!build_and_start(&run, &err)) {
        log_error("%s", err->message);
        run.exit_status = 1;
        goto out;
    }
    log_info("domain %u: machine running", run.cfg->domid);
    run.exit_status = 0;
    g_main_loop_run(run.loop);
out:
    if (err != NULL) {
        g_error_free(err);
    }
    teardown(&run);
    if (run.started) {
        log_info("exit status %d", run.exit_status);
    }
    return run.exit_status;
}
