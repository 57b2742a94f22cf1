/*
 * xensim: a Xen host model for one HVM domain. It plays the hypervisor as a
 * device model sees it (ioreq servers, event channels, dm_op, foreign memory,
 * xenstored) and the toolstack (libxl's device-model command line, start-up
 * and teardown), and lets qtest scripts drive guest accesses.
 *
 * This file: options, the toolstack role and the domain's life cycle.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "argv.h"
#include "qmp-client.h"
#include "vcpu.h"
#include "wire.h"
#include "xensim.h"

#ifndef XENSIM_DEFAULT_LIBDIR
#define XENSIM_DEFAULT_LIBDIR "."
#endif

#define EXIT_OK 0
#define EXIT_USAGE 1
#define EXIT_REBOOT 10
#define EXIT_SUSPEND 11
#define EXIT_CRASH 12
#define EXIT_DM_DIED 20
#define EXIT_START_TIMEOUT 21
#define EXIT_DM_UNCLEAN 22
#define EXIT_DM_SIGNALLED 23
#define DM_STOP_GRACE_MS 5000u
#define LOWMEM_TOP 0xf0000000ull
#define LOG_BURST 20
#define CONSOLE_LIMIT "1048576"

bool xsim_verbose;

struct options {
    char *dm;
    char *libdir;
    char *run_dir;
    int domid;
    char *name;
    int memory;
    int vcpus;
    char **serial;
    char *config;
    gboolean print_argv;
    int start_timeout;
    char *on_reboot;
    char *dm_log;
    char *qtest;
    int qtest_fd;
    char *script;
    gboolean verbose;
    gboolean strict_dm_exit;
    gboolean no_dm;
    gboolean raw_dm_args;
    char **dm_extra; /* after `--` */
};

struct toolstack {
    struct xsim *xs;
    struct options *opt;
    struct xsim_config cfg;
    char *run_dir;
    bool own_run_dir;
    pid_t toolstack_pid; /* xensim itself: the DM's parent, checked after PR_SET_PDEATHSIG */
    gint64 exec_time_us;
    guint start_timer;
    bool reboot_exits;
    GPtrArray *dm_argv;
    unsigned ram_mb;
    guint ready_poll; /* restricted DM: polling query-status, as libxl does */
};

/* ------------------------------------------------------------------ logging */

void xsim_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *s = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "xensim: %s\n", s);
}

/* Guest- or DM-triggered messages: at most LOG_BURST a second. */
void xsim_log_limited(const char *fmt, ...)
{
    static gint64 window_start;
    static unsigned in_window;
    gint64 now = g_get_monotonic_time();
    if (now - window_start > G_USEC_PER_SEC) {
        window_start = now;
        in_window = 0;
    }
    if (++in_window > LOG_BURST)
        return;
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *s = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "xensim: %s\n", s);
}

/* ------------------------------------------------------------------ domain life cycle */

static const char *const shutdown_names[] = { "poweroff", "reboot", "suspend", "crash",
                                              "watchdog", "soft_reset" };

const char *xsim_shutdown_name(int reason)
{
    if (reason < 0)
        return "none";
    if ((size_t)reason < G_N_ELEMENTS(shutdown_names))
        return shutdown_names[reason];
    return "unknown";
}

void xsim_quit(struct xsim *xs, int status)
{
    if (xs->exit_status < 0)
        xs->exit_status = status;
    g_main_loop_quit(xs->loop);
}

/*
 * What a device model leaves in the domain goes with it: vCPU slots, its library connections,
 * its ioreq servers and event channels (a reboot and a restore both start a new one).
 */
static void forget_device_model(struct xsim *xs)
{
    xsim_vcpu_reset_all(xs);
    xsim_wire_free(xs->wire);
    xs->wire = NULL;
    for (unsigned i = 0; i < XSIM_MAX_SERVERS; i++) {
        if (xs->servers[i].in_use)
            xsim_server_destroy(xs, &xs->servers[i]);
    }
    xsim_evtchn_fini(&xs->guest_evtchn);
    xsim_evtchn_fini(&xs->dom0_evtchn);
    xsim_evtchn_init(&xs->guest_evtchn, xs->domid);
    xsim_evtchn_init(&xs->dom0_evtchn, 0);
}

/* A fresh start for the next device model: no state in xenstore, a new library socket. */
static bool open_for_next_device_model(struct toolstack *ts, GError **err)
{
    struct xsim *xs = ts->xs;

    xs->dm_ready = false;
    xs->dm_ended = false;
    g_autofree char *state = g_strdup_printf("/local/domain/0/device-model/%u/state", xs->domid);
    xsim_xs_rm(xs->xenstored, state);
    g_autofree char *sock = g_build_filename(ts->run_dir, "xensim.sock", NULL);
    unlink(sock);
    xs->wire = xsim_wire_new(xs, sock, err);
    return xs->wire != NULL;
}

static bool restart_domain(void *toolstack, GError **err);

static gboolean quit_later(gpointer opaque)
{
    struct xsim *xs = opaque;
    GError *err = NULL;
    switch (xs->shutdown_reason) {
    case XSIM_SHUTDOWN_POWEROFF:
        xsim_quit(xs, EXIT_OK);
        break;
    case XSIM_SHUTDOWN_REBOOT:
    case XSIM_SHUTDOWN_SOFT_RESET:
        if (xs->reboot_exits) {
            xsim_quit(xs, EXIT_REBOOT);
        } else if (!restart_domain(xs->toolstack, &err)) {
            xsim_log("reboot: %s", err->message);
            g_error_free(err);
            xsim_quit(xs, EXIT_USAGE);
        }
        break;
    case XSIM_SHUTDOWN_SUSPEND:
        xsim_quit(xs, EXIT_SUSPEND);
        break;
    default:
        xsim_quit(xs, EXIT_CRASH);
        break;
    }
    return G_SOURCE_REMOVE;
}

void xsim_domain_shutdown(struct xsim *xs, int reason)
{
    if (xs->shutdown_reason != XSIM_SHUTDOWN_NONE)
        return; /* the first reason sticks, as for a Xen domain */
    xs->shutdown_reason = reason;
    xsim_log("d%u: shutdown: %s", xs->domid, xsim_shutdown_name(reason));
    /* An interactive qtest client decides when to stop; otherwise the toolstack acts. */
    if (xs->qtest_mode)
        return;
    if (xs->qtest)
        xsim_qtest_pause(xs->qtest); /* a script stops here: the vCPUs no longer run */
    g_idle_add(quit_later, xs);
}

/* ------------------------------------------------------------------ options */

static bool parse_options(int *argc, char ***argv, struct options *o, GError **err)
{
    o->domid = 1;
    o->memory = -1;
    o->vcpus = -1;
    o->start_timeout = 60;
    o->qtest_fd = -1;
    GOptionEntry entries[] = {
        { "dm", 0, 0, G_OPTION_ARG_FILENAME, &o->dm, "device model binary", "PATH" },
        { "libdir", 0, 0, G_OPTION_ARG_FILENAME, &o->libdir, "drop-in Xen libraries", "DIR" },
        { "run-dir", 0, 0, G_OPTION_ARG_FILENAME, &o->run_dir, "sockets directory", "DIR" },
        { "domid", 0, 0, G_OPTION_ARG_INT, &o->domid, "domain id (1)", "N" },
        { "name", 0, 0, G_OPTION_ARG_STRING, &o->name, "domain name", "NAME" },
        { "memory", 0, 0, G_OPTION_ARG_INT, &o->memory, "guest memory (64)", "MB" },
        { "vcpus", 0, 0, G_OPTION_ARG_INT, &o->vcpus, "vCPUs (1)", "N" },
        { "serial", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o->serial, "-serial for the DM", "SPEC" },
        { "config", 0, 0, G_OPTION_ARG_FILENAME, &o->config, "xl-style config", "FILE" },
        { "print-argv", 0, 0, G_OPTION_ARG_NONE, &o->print_argv, "print the DM command line",
          NULL },
        { "start-timeout", 0, 0, G_OPTION_ARG_INT, &o->start_timeout, "seconds (60)", "SEC" },
        { "on-reboot", 0, 0, G_OPTION_ARG_STRING, &o->on_reboot, "exit|restart", "WHAT" },
        { "dm-log", 0, 0, G_OPTION_ARG_FILENAME, &o->dm_log, "DM stdout/stderr", "FILE" },
        { "qtest", 0, 0, G_OPTION_ARG_FILENAME, &o->qtest, "qtest socket to listen on",
          "PATH" },
        { "qtest-fd", 0, 0, G_OPTION_ARG_INT, &o->qtest_fd, "connected qtest socket", "N" },
        { "script", 0, 0, G_OPTION_ARG_FILENAME, &o->script, "run qtest commands", "FILE" },
        { "verbose", 'v', 0, G_OPTION_ARG_NONE, &o->verbose, "timing and details", NULL },
        { "strict-dm-exit", 0, 0, G_OPTION_ARG_NONE, &o->strict_dm_exit,
          "exit 22 when the device model, stopped at the end, fails or leaves its ioreq server",
          NULL },
        { "no-dm", 0, 0, G_OPTION_ARG_NONE, &o->no_dm, "start no DM (one connects itself)",
          NULL },
        { "raw-dm-args", 0, 0, G_OPTION_ARG_NONE, &o->raw_dm_args,
          "pass only the arguments after -- (a DM that is not QEMU-compatible)", NULL },
        { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &o->dm_extra, NULL, NULL },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("[-- DM-ARGS...]");
    g_option_context_set_summary(ctx, "Xen host model: runs a Xen device model without Xen.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, argc, argv, err))
        return false;
    if (o->domid < 1 || o->domid > 0x7fef || o->start_timeout < 1 ||
        (o->memory != -1 && (o->memory < 2 || o->memory > 65536)) ||
        (o->vcpus != -1 && (o->vcpus < 1 || o->vcpus > (int)XSIM_MAX_VCPUS)) ||
        (o->on_reboot && strcmp(o->on_reboot, "exit") && strcmp(o->on_reboot, "restart")) ||
        (o->qtest && o->qtest_fd >= 0) || (o->script && (o->qtest || o->qtest_fd >= 0))) {
        g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "bad option value");
        return false;
    }
    return true;
}

static bool build_config(struct toolstack *ts, GError **err)
{
    struct options *o = ts->opt;
    xsim_config_init(&ts->cfg);
    if (o->config) {
        if (!xsim_config_parse_file(&ts->cfg, o->config, err))
            return false;
    } else {
        /* No config: a headless machine with no display device. */
        ts->cfg.vnc = false;
        g_free(ts->cfg.vga);
        ts->cfg.vga = g_strdup("none");
    }
    if (o->name) {
        g_free(ts->cfg.name);
        ts->cfg.name = g_strdup(o->name);
    }
    if (o->memory > 0)
        ts->cfg.memory_mb = (unsigned)o->memory;
    if (o->vcpus > 0)
        ts->cfg.vcpus = (unsigned)o->vcpus;
    for (unsigned i = 0; o->serial && o->serial[i]; i++)
        g_ptr_array_add(ts->cfg.serial, g_strdup(o->serial[i]));
    for (unsigned i = 0; o->dm_extra && o->dm_extra[i]; i++)
        g_ptr_array_add(ts->cfg.dm_args, g_strdup(o->dm_extra[i]));
    unsigned maxv = xsim_config_max_vcpus(&ts->cfg);
    /* Memory as --memory bounds it: xensim reserves 64 GiB of address space for the guest. */
    if (maxv < 1 || maxv > XSIM_MAX_VCPUS || ts->cfg.memory_mb < 2 ||
        ts->cfg.memory_mb > 65536 || ts->cfg.maxmem_mb > 65536) {
        g_set_error(err, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "bad vcpus or memory");
        return false;
    }
    ts->reboot_exits = o->on_reboot ? !strcmp(o->on_reboot, "exit")
                                    : strcmp(ts->cfg.on_reboot, "restart") != 0;
    return true;
}

static char *default_dm_path(const char *argv0)
{
    const char *env = g_getenv("XENSIM_DM");
    if (env && *env)
        return g_strdup(env);
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *dir = g_path_get_dirname(self ? self : argv0);
    g_autofree char *path = g_build_filename(dir, "..", "..", "xendm", NULL);
    return g_canonicalize_filename(path, NULL);
}

static char *default_libdir(void)
{
    const char *env = g_getenv("XENSIM_LIBDIR");
    return g_strdup(env && *env ? env : XENSIM_DEFAULT_LIBDIR);
}

/* ------------------------------------------------------------------ xenstore as libxl leaves it */

static void xs_put(struct xsim *xs, const char *value, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void xs_put(struct xsim *xs, const char *value, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *path = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    xsim_xs_write(xs->xenstored, path, value);
}

static void populate_xenstore(struct toolstack *ts)
{
    struct xsim *xs = ts->xs;
    unsigned d = xs->domid;
    g_autofree char *dom = g_strdup_printf("/local/domain/%u", d);
    g_autofree char *vm = g_strdup_printf("/vm/%s", xs->uuid);
    g_autofree char *id = g_strdup_printf("%u", d);
    unsigned maxmem = ts->cfg.maxmem_mb ? ts->cfg.maxmem_mb : ts->cfg.memory_mb;
    g_autofree char *maxkb = g_strdup_printf("%u", maxmem * 1024);
    g_autofree char *targetkb = g_strdup_printf("%u", ts->cfg.memory_mb * 1024);
    g_autofree char *videokb = g_strdup_printf("%u", xsim_config_video_mb(&ts->cfg) * 1024);
    g_autofree char *dom_perms = g_strdup_printf("n0 r%u", d);

    xsim_xs_mkdir(xs->xenstored, "/local/domain/0");
    xs_put(xs, "Domain-0", "/local/domain/0/name");
    xs_put(xs, "0", "/local/domain/0/domid");
    xsim_xs_mkdir(xs->xenstored, dom);
    xsim_xs_set_perms(xs->xenstored, dom, dom_perms);
    xs_put(xs, xs->name, "%s/name", dom);
    xs_put(xs, id, "%s/domid", dom);
    xs_put(xs, vm, "%s/vm", dom);
    xs_put(xs, maxkb, "%s/memory/static-max", dom);
    xs_put(xs, targetkb, "%s/memory/target", dom);
    xs_put(xs, videokb, "%s/memory/videoram", dom);
    xs_put(xs, "seabios", "%s/hvmloader/bios", dom);
    xs_put(xs, "1", "%s/platform/acpi", dom);
    xs_put(xs, "1", "%s/platform/acpi_s3", dom);
    xs_put(xs, "1", "%s/platform/acpi_s4", dom);
    static const char *const empty_dirs[] = { "control", "data", "device", "drivers", "feature",
                                              "attr", "error", "console" };
    for (size_t i = 0; i < G_N_ELEMENTS(empty_dirs); i++) {
        g_autofree char *p = g_strdup_printf("%s/%s", dom, empty_dirs[i]);
        xsim_xs_mkdir(xs->xenstored, p);
        xsim_xs_set_perms(xs->xenstored, p, dom_perms);
    }
    g_autofree char *ctl = g_strdup_printf("%s/control/shutdown", dom);
    xsim_xs_write(xs->xenstored, ctl, "");
    g_autofree char *ctl_perms = g_strdup_printf("n%u", d);
    xsim_xs_set_perms(xs->xenstored, ctl, ctl_perms);
    xs_put(xs, xs->uuid, "%s/uuid", vm);
    xs_put(xs, xs->name, "%s/name", vm);
    xs_put(xs, "0", "%s/start_time", vm);
    xs_put(xs, "hvm", "%s/image/ostype", vm);
    g_autofree char *dmdir = g_strdup_printf("/local/domain/0/device-model/%u", d);
    xsim_xs_mkdir(xs->xenstored, dmdir);
    xs_put(xs, "qemu_xen", "/libxl/%u/dm-version", d);
    xs_put(xs, "hvm", "/libxl/%u/type", d);
    xsim_xs_mkdir(xs->xenstored, "/local/domain/0/backend");
    xsim_xs_mkdir(xs->xenstored, "/tool");
}

/* ------------------------------------------------------------------ the device model process */

int xsim_dm_death_status(const struct xsim *xs)
{
    if (xs->dm_ended && WIFSIGNALED(xs->dm_wait_status) && !xs->dm_stop_requested)
        return EXIT_DM_SIGNALLED;
    return EXIT_DM_DIED;
}

static void describe_dm_end(struct xsim *xs, int status)
{
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
        /* With -sandbox on, the kernel's answer to a system call outside the allow-list. */
        xsim_log("device model killed by signal %d (SIGSYS: a system call its seccomp filter "
                 "forbids)", WTERMSIG(status));
    else if (WIFSIGNALED(status))
        xsim_log("device model killed by signal %d (%s)%s", WTERMSIG(status),
                 strsignal(WTERMSIG(status)), xs->dm_stop_requested ? "" : ", not sent by us");
    else
        xsim_log("device model exited with status %d", WEXITSTATUS(status));
}

static void on_dm_exit(GPid pid, gint status, gpointer opaque)
{
    struct xsim *xs = opaque;
    xs->dm_ended = true;
    xs->dm_running = false;
    xs->dm_wait_status = status;
    g_spawn_close_pid(pid);
    describe_dm_end(xs, status);
    if (xs->restarting)
        return;
    /* With a qtest client or a script the session decides; otherwise the domain is over. */
    if (!xs->dm_ready || !(xs->qtest_mode || xs->script_mode))
        xsim_quit(xs, xs->shutdown_reason == XSIM_SHUTDOWN_POWEROFF ? EXIT_OK
                                                                    : xsim_dm_death_status(xs));
}

static void child_exec(struct toolstack *ts, char **argv, const char *log_path)
{
    struct xsim *xs = ts->xs;
    setsid();
    /*
     * Unlike libxl, xensim is a test harness that can be killed outright; the
     * device model must not outlive it (it would spin on its dead sockets).
     */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != ts->toolstack_pid)
        _exit(127);
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        close(null);
    }
    if (log_path) {
        int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (log >= 0) {
            dup2(log, STDOUT_FILENO);
            dup2(log, STDERR_FILENO);
            close(log);
        }
    }
    signal(SIGPIPE, SIG_DFL);
    g_autofree char *sock = g_build_filename(ts->run_dir, "xensim.sock", NULL);
    g_autofree char *xsp = g_build_filename(ts->run_dir, "xenstored.sock", NULL);
    g_autofree char *domid = g_strdup_printf("%u", xs->domid);
    setenv("LD_LIBRARY_PATH", ts->opt->libdir, 1);
    setenv(XSIM_SOCKET_ENV, sock, 1);
    setenv("XENSTORED_PATH", xsp, 1);
    setenv("XEN_QEMU_CONSOLE_LIMIT", CONSOLE_LIMIT, 1);
    setenv("XEN_DOMAIN_ID", domid, 1);
    execv(argv[0], argv);
    fprintf(stderr, "xensim: exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

static bool dm_is_restricted(struct toolstack *ts);
static gboolean poll_restricted_dm_ready(gpointer opaque);

static bool spawn_dm(struct toolstack *ts, GError **err)
{
    struct xsim *xs = ts->xs;
    const char *dm = g_ptr_array_index(ts->dm_argv, 0);
    if (access(dm, X_OK) < 0) {
        g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(errno), "device model %s: %s",
                    dm, g_strerror(errno));
        return false;
    }
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    for (guint i = 0; i < ts->dm_argv->len; i++)
        g_ptr_array_add(argv, g_ptr_array_index(ts->dm_argv, i));
    g_ptr_array_add(argv, NULL);
    fflush(NULL);
    ts->toolstack_pid = getpid();
    ts->exec_time_us = g_get_monotonic_time();
    pid_t pid = fork();
    if (pid < 0) {
        g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(errno), "fork: %s",
                    g_strerror(errno));
        return false;
    }
    if (pid == 0)
        child_exec(ts, (char **)argv->pdata, ts->opt->dm_log);
    xs->dm_pid = pid;
    xs->dm_running = true;
    xs->dm_stop_requested = false;
    g_child_watch_add(pid, on_dm_exit, xs);
    if (dm_is_restricted(ts) && ts->ready_poll == 0)
        ts->ready_poll = g_timeout_add(50, poll_restricted_dm_ready, ts);
    g_autofree char *pidstr = g_strdup_printf("%d", pid);
    g_autofree char *path = g_strdup_printf("/local/domain/%u/image/device-model-pid", xs->domid);
    xsim_xs_write(xs->xenstored, path, pidstr);
    return true;
}

static gboolean on_grace_over(gpointer opaque)
{
    bool *over = opaque;
    *over = true;
    return G_SOURCE_REMOVE;
}

/*
 * SIGTERM, then up to 5 s for the DM to exit, then SIGKILL. The loop keeps
 * running meanwhile: a DM that exits cleanly destroys its ioreq server first,
 * and that dm_op needs an answer.
 */
static void stop_dm_with(struct xsim *xs, int sig)
{
    if (!xs->dm_running || xs->dm_pid <= 0)
        return;
    xs->dm_stop_requested = true;
    kill(xs->dm_pid, sig);
    bool over = false;
    guint timer = g_timeout_add(DM_STOP_GRACE_MS, on_grace_over, &over);
    while (!xs->dm_ended && !over)
        g_main_context_iteration(NULL, TRUE);
    if (!over)
        g_source_remove(timer);
    if (xs->dm_ended)
        return;
    kill(xs->dm_pid, SIGKILL);
    while (!xs->dm_ended)
        g_main_context_iteration(NULL, TRUE);
}

static void stop_dm(struct xsim *xs)
{
    stop_dm_with(xs, SIGTERM);
}

/*
 * A session that ends well (poweroff, quit) also needs a device model that
 * went away well: exit status 0 on SIGTERM (a sanitizer's report makes it
 * non-zero) and no ioreq server left behind, which on Xen would leave the
 * guest's vCPUs blocked.
 */
static bool dm_ended_cleanly(struct xsim *xs)
{
    bool clean = true;
    if (xs->dm_ended && !(WIFEXITED(xs->dm_wait_status) && WEXITSTATUS(xs->dm_wait_status) == 0)) {
        xsim_log("device model did not exit cleanly");
        clean = false;
    }
    for (unsigned i = 0; i < XSIM_MAX_SERVERS; i++) {
        if (xs->servers[i].in_use) {
            xsim_log("device model left ioreq server %u behind", xs->servers[i].id);
            clean = false;
        }
    }
    return clean;
}

/* ------------------------------------------------------------------ start-up */

static void dm_now_ready(struct toolstack *ts)
{
    struct xsim *xs = ts->xs;
    xs->dm_ready = true;
    if (ts->start_timer) {
        g_source_remove(ts->start_timer);
        ts->start_timer = 0;
    }
    xs->dm_start_us = g_get_monotonic_time() - ts->exec_time_us;
    if (xsim_verbose)
        xsim_log("device model running after %" G_GINT64_FORMAT " ms (exec -> running)",
                 xs->dm_start_us / 1000);
    /* "Unpause the vCPUs". */
    if (xs->qtest)
        xsim_qtest_start(xs->qtest);
}

static void on_dm_state(struct xsim *xs, const char *path, void *opaque)
{
    struct toolstack *ts = opaque;
    if (xs->dm_ready)
        return;
    g_autofree char *key = g_strdup_printf("/local/domain/0/device-model/%u/state", xs->domid);
    g_autofree char *state = xsim_xs_read(xs->xenstored, key);
    if (!state || strcmp(state, "running"))
        return;
    dm_now_ready(ts);
}

static bool dm_is_restricted(struct toolstack *ts)
{
    for (guint i = 0; i < ts->dm_argv->len; i++) {
        if (!g_strcmp0(g_ptr_array_index(ts->dm_argv, i), "-xen-domid-restrict"))
            return true;
    }
    return false;
}

/*
 * A device model under -xen-domid-restrict writes no xenstore state (qemu-xen does not:
 * its xenstore is gone); libxl then polls QMP query-status until it answers. "prelaunch"
 * (-S) and "paused"/"inmigrate" (restore) count as started, as for libxl.
 */
static gboolean poll_restricted_dm_ready(gpointer opaque)
{
    struct toolstack *ts = opaque;
    struct xsim *xs = ts->xs;
    g_autofree char *path = g_strdup_printf("%s/qmp-libxl-%u", ts->run_dir, xs->domid);
    g_autofree char *reply = NULL;
    g_autofree char *status = NULL;
    struct xsim_qmp *q;

    if (xs->dm_ready || !xs->dm_running) {
        ts->ready_poll = 0;
        return G_SOURCE_REMOVE;
    }
    if (access(path, F_OK) < 0)
        return G_SOURCE_CONTINUE; /* not listening yet */
    q = xsim_qmp_connect(path, NULL);
    if (q && xsim_qmp_execute(q, "{\"execute\": \"query-status\"}", -1, &reply, NULL))
        status = xsim_qmp_find_string(reply, "status");
    if (q)
        xsim_qmp_close(q);
    if (!status || xs->dm_ready || !xs->dm_running)
        return G_SOURCE_CONTINUE;
    if (strcmp(status, "running") && strcmp(status, "prelaunch") && strcmp(status, "paused") &&
        strcmp(status, "inmigrate"))
        return G_SOURCE_CONTINUE;
    if (xsim_verbose)
        xsim_log("restricted device model answers query-status: %s", status);
    ts->ready_poll = 0;
    dm_now_ready(ts);
    return G_SOURCE_REMOVE;
}

static gboolean on_start_timeout(gpointer opaque)
{
    struct toolstack *ts = opaque;
    ts->start_timer = 0;
    xsim_log("device model did not reach \"running\" in %d s", ts->opt->start_timeout);
    if (ts->xs->dm_running) {
        ts->xs->dm_stop_requested = true;
        kill(ts->xs->dm_pid, SIGKILL);
    }
    xsim_quit(ts->xs, EXIT_START_TIMEOUT);
    return G_SOURCE_REMOVE;
}

static gboolean on_signal(gpointer opaque)
{
    xsim_quit(opaque, EXIT_USAGE);
    return G_SOURCE_REMOVE;
}

static bool make_run_dir(struct toolstack *ts, GError **err)
{
    if (ts->opt->run_dir) {
        ts->run_dir = g_strdup(ts->opt->run_dir);
        if (g_mkdir_with_parents(ts->run_dir, 0700) < 0) {
            g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(errno), "%s: %s",
                        ts->run_dir, g_strerror(errno));
            return false;
        }
        return true;
    }
    ts->run_dir = g_dir_make_tmp("xensim-XXXXXX", err);
    ts->own_run_dir = ts->run_dir != NULL;
    return ts->run_dir != NULL;
}

static void remove_run_dir(struct toolstack *ts)
{
    if (!ts->run_dir)
        return;
    /* Our own sockets, and the DM's QMP sockets: only in a directory we created. */
    if (ts->own_run_dir) {
        GDir *dir = g_dir_open(ts->run_dir, 0, NULL);
        const char *name;
        while (dir && (name = g_dir_read_name(dir))) {
            g_autofree char *p = g_build_filename(ts->run_dir, name, NULL);
            unlink(p);
        }
        if (dir)
            g_dir_close(dir);
        rmdir(ts->run_dir);
    }
}

static bool setup_domain(struct toolstack *ts, GError **err)
{
    struct xsim *xs = ts->xs;
    unsigned video = xsim_config_video_mb(&ts->cfg);
    ts->ram_mb = ts->cfg.memory_mb > video ? ts->cfg.memory_mb - video : ts->cfg.memory_mb;
    int rc = xsim_mem_init(&xs->mem, ts->ram_mb, LOWMEM_TOP);
    if (rc < 0) {
        g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_NOMEM, "guest memory: %s", g_strerror(-rc));
        return false;
    }
    xsim_evtchn_init(&xs->guest_evtchn, xs->domid);
    xsim_evtchn_init(&xs->dom0_evtchn, 0);
    for (unsigned i = 0; i < XSIM_MAX_VCPUS; i++)
        xs->vcpus[i].id = i;
    xs->hvm_params[32] = 0xfef00; /* HVM_PARAM_IOREQ_SERVER_PFN: the legacy ioreq gfns */
    xs->hvm_params[33] = 2 * XSIM_MAX_SERVERS; /* HVM_PARAM_NR_IOREQ_SERVER_PAGES */
    xsim_platform_init(xs);
    g_autofree char *xsp = g_build_filename(ts->run_dir, "xenstored.sock", NULL);
    g_autofree char *sock = g_build_filename(ts->run_dir, "xensim.sock", NULL);
    xs->xenstored = xsim_xs_new(xs, xsp, err);
    if (!xs->xenstored)
        return false;
    xs->wire = xsim_wire_new(xs, sock, err);
    if (!xs->wire)
        return false;
    populate_xenstore(ts);
    g_autofree char *dmdir = g_strdup_printf("/local/domain/0/device-model/%u", xs->domid);
    xsim_xs_watch_internal(xs->xenstored, dmdir, on_dm_state, ts);
    if (ts->opt->qtest)
        xs->qtest = xsim_qtest_new_listen(xs, ts->opt->qtest, err);
    else if (ts->opt->qtest_fd >= 0)
        xs->qtest = xsim_qtest_new_fd(xs, ts->opt->qtest_fd, err);
    else if (ts->opt->script)
        xs->qtest = xsim_qtest_new_script(xs, ts->opt->script, err);
    xs->qtest_mode = ts->opt->qtest || ts->opt->qtest_fd >= 0;
    xs->script_mode = ts->opt->script != NULL;
    return !(xs->qtest_mode || xs->script_mode) || xs->qtest;
}

static void teardown_domain(struct toolstack *ts)
{
    struct xsim *xs = ts->xs;
    xsim_qtest_free(xs->qtest);
    xs->qtest = NULL;
    xsim_wire_free(xs->wire);
    xs->wire = NULL;
    xsim_xs_free(xs->xenstored);
    xs->xenstored = NULL;
    for (unsigned i = 0; i < XSIM_MAX_SERVERS; i++) {
        for (unsigned t = 0; t < 3; t++) {
            if (xs->servers[i].ranges[t])
                g_array_free(xs->servers[i].ranges[t], TRUE);
        }
    }
    if (xs->guest_evtchn.ports)
        xsim_evtchn_fini(&xs->guest_evtchn);
    if (xs->dom0_evtchn.ports)
        xsim_evtchn_fini(&xs->dom0_evtchn);
    xsim_platform_fini(xs);
    xsim_mem_fini(&xs->mem);
}

/*
 * on_reboot = restart: as libxl does, the old device model goes and the domain
 * is rebuilt (fresh RAM, no ioreq servers, no channels, interrupt lines low;
 * the RTC offset survives), then a new device model starts from the same
 * command line and the vCPUs resume once it is running again.
 */
static bool restart_domain(void *toolstack, GError **err)
{
    struct toolstack *ts = toolstack;
    struct xsim *xs = ts->xs;
    xsim_log("d%u: reboot: restarting the domain", xs->domid);
    if (xs->qtest)
        xsim_qtest_pause(xs->qtest);
    xs->restarting = true;
    stop_dm(xs);
    xs->restarting = false;
    forget_device_model(xs);
    xsim_mem_fini(&xs->mem);
    int rc = xsim_mem_init(&xs->mem, ts->ram_mb, LOWMEM_TOP);
    if (rc < 0) {
        g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_NOMEM, "guest memory: %s", g_strerror(-rc));
        return false;
    }
    int64_t rtc_offset = xs->platform.rtc_offset;
    xsim_platform_fini(xs);
    xsim_platform_init(xs);
    xs->platform.rtc_offset = rtc_offset;
    memset(&xs->irqs, 0, sizeof(xs->irqs));
    xs->pci_cf8 = 0;
    xs->crashed = false;
    xs->shutdown_reason = XSIM_SHUTDOWN_NONE;
    if (!open_for_next_device_model(ts, err) || !spawn_dm(ts, err))
        return false;
    if (ts->start_timer)
        g_source_remove(ts->start_timer);
    ts->start_timer = g_timeout_add_seconds((guint)ts->opt->start_timeout, on_start_timeout, ts);
    return true;
}

/* ------------------------------------------------------------------ save and restore */

static char *qmp_path(struct toolstack *ts)
{
    return g_strdup_printf("%s/qmp-libxl-%u", ts->run_dir, ts->xs->domid);
}

/*
 * libxl's save of a qemu-xen device model (libxl__qmp_suspend_save): stop, open the file
 * itself, add-fd, xen-save-devices-state with filename "/dev/fdset/N".
 */
static bool toolstack_dm_save(struct xsim *xs, const char *file, GError **err)
{
    struct toolstack *ts = xs->toolstack;
    g_autofree char *path = qmp_path(ts);
    g_autofree char *reply = NULL;
    g_autofree char *save = NULL;
    int64_t fdset = -1;
    bool ok = false;
    int fd = -1;
    struct xsim_qmp *q = xsim_qmp_connect(path, err);

    if (!q)
        return false;
    if (!xsim_qmp_execute(q, "{\"execute\": \"stop\"}", -1, NULL, err))
        goto out;
    fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(errno), "%s: %s", file,
                    g_strerror(errno));
        goto out;
    }
    if (!xsim_qmp_execute(q, "{\"execute\": \"add-fd\"}", fd, &reply, err))
        goto out;
    if (!xsim_qmp_find_int(reply, "fdset-id", &fdset)) {
        g_set_error(err, XSIM_QMP_ERROR, 0, "add-fd: no fdset-id in %s", reply);
        goto out;
    }
    save = g_strdup_printf("{\"execute\": \"xen-save-devices-state\", \"arguments\": "
                           "{\"filename\": \"/dev/fdset/%" G_GINT64_FORMAT "\", \"live\": false}}",
                           fdset);
    ok = xsim_qmp_execute(q, save, -1, NULL, err);
out:
    if (fd >= 0)
        close(fd);
    xsim_qmp_close(q);
    return ok;
}

/* What the domain keeps across a restore: its RAM and platform; the DM's traces go. */
static bool reset_for_restore(struct toolstack *ts, GError **err)
{
    struct xsim *xs = ts->xs;

    forget_device_model(xs);
    /*
     * Interrupt levels stay: on Xen they are part of the domain's own saved context. The log
     * starts afresh, so a test sees what the new device model drives.
     */
    xs->irqs.log_head = 0;
    xs->irqs.log_len = 0;
    return open_for_next_device_model(ts, err);
}

/* Starts the device model with -incoming fd:K (K inherited) and waits for "running". */
static bool spawn_incoming(struct toolstack *ts, int fd, GError **err)
{
    struct xsim *xs = ts->xs;
    GPtrArray *saved_argv = ts->dm_argv;
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
    gint64 deadline;
    bool ok;

    for (guint i = 0; i < saved_argv->len; i++)
        g_ptr_array_add(argv, g_strdup(g_ptr_array_index(saved_argv, i)));
    g_ptr_array_add(argv, g_strdup("-incoming"));
    g_ptr_array_add(argv, g_strdup_printf("fd:%d", fd));
    ts->dm_argv = argv;
    ok = spawn_dm(ts, err);
    ts->dm_argv = saved_argv;
    if (!ok)
        return false;
    deadline = g_get_monotonic_time() + (gint64)ts->opt->start_timeout * G_USEC_PER_SEC;
    while (!xs->dm_ready && !xs->dm_ended && g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, TRUE);
    if (xs->dm_ready)
        return true;
    if (xs->dm_ended)
        g_set_error(err, XSIM_QMP_ERROR, 0,
                    "device model %s %d while restoring",
                    WIFSIGNALED(xs->dm_wait_status) ? "killed by signal" : "exited with status",
                    WIFSIGNALED(xs->dm_wait_status) ? WTERMSIG(xs->dm_wait_status)
                                                    : WEXITSTATUS(xs->dm_wait_status));
    else
        g_set_error(err, XSIM_QMP_ERROR, 0, "device model did not reach "
                    "\"running\" in %d s", ts->opt->start_timeout);
    return false;
}

/*
 * After the restore: the run state must be one a restored device model can be in ("running",
 * as qemu-xen reports without -S; "paused" with -S), then libxl unpauses with cont.
 */
static bool resume_after_restore(struct toolstack *ts, GError **err)
{
    g_autofree char *path = qmp_path(ts);
    g_autofree char *reply = NULL;
    g_autofree char *status = NULL;
    struct xsim_qmp *q = xsim_qmp_connect(path, err);
    bool ok = false;

    if (!q)
        return false;
    if (!xsim_qmp_execute(q, "{\"execute\": \"query-status\"}", -1, &reply, err))
        goto out;
    status = xsim_qmp_find_string(reply, "status");
    if (!status || (strcmp(status, "paused") != 0 && strcmp(status, "running") != 0)) {
        g_set_error(err, XSIM_QMP_ERROR, 0,
                    "restored device model reports status '%s', not 'running' or 'paused'",
                    status ? status : "?");
        goto out;
    }
    ok = xsim_qmp_execute(q, "{\"execute\": \"cont\"}", -1, NULL, err);
out:
    xsim_qmp_close(q);
    return ok;
}

/*
 * libxl's restore, with the domain's RAM kept as libxc would have restored it: the old device
 * model is destroyed (SIGHUP, libxl's signal), its ioreq servers, channels and interrupt
 * levels go, and a new one starts with -incoming fd:K on the saved file; once it wrote
 * "running", query-status and cont.
 */
static bool toolstack_dm_restore(struct xsim *xs, const char *file, GError **err)
{
    struct toolstack *ts = xs->toolstack;
    bool ok = false;
    int fd = open(file, O_RDONLY); /* no O_CLOEXEC: the device model inherits it */

    if (fd < 0) {
        g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(errno), "%s: %s", file,
                    g_strerror(errno));
        return false;
    }
    xs->restarting = true; /* the old DM's exit, or the new one's failure, ends nothing */
    stop_dm_with(xs, SIGHUP);
    ok = reset_for_restore(ts, err) && spawn_incoming(ts, fd, err);
    close(fd);
    xs->restarting = false;
    return ok && resume_after_restore(ts, err);
}

static void print_argv(GPtrArray *argv)
{
    for (guint i = 0; i < argv->len; i++)
        printf("%s%s", i ? " " : "", (char *)g_ptr_array_index(argv, i));
    printf("\n");
}

static void free_options(struct options *o)
{
    g_free(o->dm);
    g_free(o->libdir);
    g_free(o->run_dir);
    g_free(o->name);
    g_strfreev(o->serial);
    g_free(o->config);
    g_free(o->on_reboot);
    g_free(o->dm_log);
    g_free(o->qtest);
    g_free(o->script);
    g_strfreev(o->dm_extra);
}

static int run(struct toolstack *ts)
{
    struct xsim *xs = ts->xs;
    GError *err = NULL;
    if (!setup_domain(ts, &err))
        goto fail;
    guint sigterm = g_unix_signal_add(SIGTERM, on_signal, xs);
    guint sigint = g_unix_signal_add(SIGINT, on_signal, xs);
    if (ts->opt->no_dm) {
        g_autofree char *sock = g_build_filename(ts->run_dir, "xensim.sock", NULL);
        g_autofree char *xsp = g_build_filename(ts->run_dir, "xenstored.sock", NULL);
        printf("%s=%s XENSTORED_PATH=%s LD_LIBRARY_PATH=%s\n", XSIM_SOCKET_ENV, sock, xsp,
               ts->opt->libdir);
        fflush(stdout);
        ts->exec_time_us = g_get_monotonic_time();
    } else if (!spawn_dm(ts, &err)) {
        g_source_remove(sigterm);
        g_source_remove(sigint);
        goto fail;
    }
    ts->start_timer = g_timeout_add_seconds((guint)ts->opt->start_timeout, on_start_timeout, ts);
    g_main_loop_run(xs->loop);
    if (ts->start_timer)
        g_source_remove(ts->start_timer);
    if (ts->ready_poll)
        g_source_remove(ts->ready_poll);
    g_source_remove(sigterm);
    g_source_remove(sigint);
    stop_dm(xs);
    if (ts->opt->strict_dm_exit && xs->exit_status == EXIT_OK && !dm_ended_cleanly(xs))
        xs->exit_status = EXIT_DM_UNCLEAN;
    teardown_domain(ts);
    return xs->exit_status;
fail:
    xsim_log("%s", err->message);
    g_error_free(err);
    stop_dm(xs);
    teardown_domain(ts);
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    struct options opt = { 0 };
    struct xsim xs_storage = { 0 };
    struct xsim *xs = &xs_storage;
    struct toolstack ts = { .xs = xs, .opt = &opt };
    GError *err = NULL;
    int status = EXIT_USAGE;

    signal(SIGPIPE, SIG_IGN);
    if (!parse_options(&argc, &argv, &opt, &err) || !build_config(&ts, &err)) {
        fprintf(stderr, "xensim: %s\n", err ? err->message : "bad options");
        g_clear_error(&err);
        goto out;
    }
    xsim_verbose = opt.verbose;
    if (!opt.dm)
        opt.dm = ts.cfg.device_model_override ? g_strdup(ts.cfg.device_model_override)
                                              : default_dm_path(argv[0]);
    if (!opt.libdir)
        opt.libdir = default_libdir();
    if (opt.print_argv) {
        const char *dir = opt.run_dir ? opt.run_dir : "/var/run/xen";
        g_autoptr(GPtrArray) dm_argv = xsim_build_dm_argv(&ts.cfg, opt.dm, (uint32_t)opt.domid,
                                                          dir);
        print_argv(dm_argv);
        status = EXIT_OK;
        goto out;
    }
    if (!make_run_dir(&ts, &err)) {
        fprintf(stderr, "xensim: %s\n", err->message);
        g_clear_error(&err);
        goto out;
    }
    xs->reboot_exits = ts.reboot_exits;
    xs->toolstack = &ts;
    xs->dm_save = toolstack_dm_save;
    xs->dm_restore = toolstack_dm_restore;
    xs->domid = (uint32_t)opt.domid;
    xs->nr_vcpus = xsim_config_max_vcpus(&ts.cfg);
    xs->name = g_strdup(ts.cfg.name);
    xs->uuid = g_uuid_string_random();
    xs->exit_status = -1;
    xs->shutdown_reason = XSIM_SHUTDOWN_NONE;
    xs->loop = g_main_loop_new(NULL, FALSE);
    {
        g_autoptr(GPtrArray) dm_argv = NULL;
        if (opt.raw_dm_args) {
            dm_argv = g_ptr_array_new_with_free_func(g_free);
            g_ptr_array_add(dm_argv, g_strdup(opt.dm));
            for (unsigned i = 0; opt.dm_extra && opt.dm_extra[i]; i++)
                g_ptr_array_add(dm_argv, g_strdup(opt.dm_extra[i]));
        } else {
            dm_argv = xsim_build_dm_argv(&ts.cfg, opt.dm, xs->domid, ts.run_dir);
        }
        if (xsim_verbose) {
            fprintf(stderr, "xensim: device model:");
            for (guint i = 0; i < dm_argv->len; i++)
                fprintf(stderr, " %s", (char *)g_ptr_array_index(dm_argv, i));
            fprintf(stderr, "\n");
        }
        ts.dm_argv = dm_argv;
        status = run(&ts);
    }
    g_main_loop_unref(xs->loop);
    remove_run_dir(&ts);
    g_free(xs->name);
    g_free(xs->uuid);
    g_free(ts.run_dir);
out:
    if (ts.cfg.serial)
        xsim_config_clear(&ts.cfg);
    free_options(&opt);
    return status < 0 ? EXIT_USAGE : status;
}
