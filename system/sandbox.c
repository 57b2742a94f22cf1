/*
 * -sandbox on[,obsolete=...,elevateprivileges=...,spawn=...,resourcecontrol=...]:
 * a seccomp allow-list (libseccomp), installed last by restrict_apply().
 *
 * What is left for the device model once it runs: its event loop (poll, timers,
 * eventfds), reading and writing the descriptors it already holds (event
 * channel, QMP and chardev sockets, files passed by add-fd), foreign mappings
 * (mmap/munmap of privcmd or of xensim's memfd, never executable), the Xen
 * ioctls, threads of its own and its exit paths. The list was derived from
 * `strace -f` of xendm in xensim qtest sessions (ioreqs, a file chardev) and
 * checked by running sessions under the filter (tests/qtest/test-restrict.c:
 * ioreqs, QMP with stop/cont/query-chardev/add-fd, SIGTERM and teardown), and on
 * real Xen with libxl's dm_restrict (tests/xen/scenarios/dm-restrict.sh).
 *
 * Three outcomes:
 *  - allowed;
 *  - refused with EACCES: naming files and making new sockets. After start-up
 *    files arrive only through add-fd (reference §5.3), so a command given a
 *    plain path fails with an error instead of killing the process; a
 *    library probing an optional file (a locale, /etc/localtime) sees it
 *    missing, as it would in the chroot anyway;
 *  - anything else kills the whole process (SCMP_ACT_KILL_PROCESS, SIGSYS), an
 *    ioctl outside the Xen devices' and the terminal basics included, so
 *    a compromised device model dies loudly; the toolstack sees the signal.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <termios.h>
#include <unistd.h>
#include <xen/xen.h> /* domid_t, xen_pfn_t for the two below */
#include <xen/sys/evtchn.h>
#include <xen/sys/privcmd.h>

#include "xendm/restrict.h"

/* libseccomp's SCMP_A0..A5 leave the second datum of a comparison implicit (zero). */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* ---- the sub-options ---- */

static bool parse_choice(struct kv_list *opts, const char *key, bool children_ok,
                         enum sandbox_choice *out, GError **err)
{
    const char *value = kv_get(opts, key);

    *out = SANDBOX_DENY;
    if (value == NULL || strcmp(value, "deny") == 0) {
        return true;
    }
    if (strcmp(value, "allow") == 0) {
        *out = SANDBOX_ALLOW;
        return true;
    }
    if (children_ok && strcmp(value, "children") == 0) {
        *out = SANDBOX_CHILDREN;
        return true;
    }
    g_set_error(err, RESTRICT_ERROR, EINVAL, "-sandbox: invalid argument for %s: '%s'", key,
                value);
    return false;
}

bool sandbox_policy_parse(struct kv_list *opts, struct sandbox_policy *out, GError **err)
{
    const char *unknown;

    if (!parse_choice(opts, "obsolete", false, &out->obsolete, err) ||
        !parse_choice(opts, "elevateprivileges", true, &out->elevateprivileges, err) ||
        !parse_choice(opts, "spawn", false, &out->spawn, err) ||
        !parse_choice(opts, "resourcecontrol", false, &out->resourcecontrol, err)) {
        return false;
    }
    unknown = kv_first_unused(opts);
    if (unknown != NULL) {
        g_set_error(err, RESTRICT_ERROR, EINVAL, "-sandbox: unknown option '%s'", unknown);
        return false;
    }
    return true;
}

/* ---- the filter ---- */

/* What the device model does all day. */
static const int allowed_always[] = {
    /* descriptors it holds */
    SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(pread64),
    SCMP_SYS(pwrite64), SCMP_SYS(preadv), SCMP_SYS(pwritev), SCMP_SYS(lseek), SCMP_SYS(close),
    SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(statx), SCMP_SYS(fcntl), SCMP_SYS(dup),
    SCMP_SYS(dup2), SCMP_SYS(dup3), SCMP_SYS(fsync), SCMP_SYS(fdatasync),
    SCMP_SYS(ftruncate), SCMP_SYS(fallocate),
    /* a block backend's io_uring (aio=io_uring), made before the filter and restricted */
    SCMP_SYS(io_uring_enter),
    /* sockets it holds (QMP with SCM_RIGHTS, chardevs, xensim's wire) */
    SCMP_SYS(recvmsg), SCMP_SYS(sendmsg), SCMP_SYS(recvfrom), SCMP_SYS(sendto),
    SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(shutdown), SCMP_SYS(getsockopt),
    SCMP_SYS(setsockopt), SCMP_SYS(getsockname), SCMP_SYS(getpeername),
    /* the event loop */
    SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(select), SCMP_SYS(pselect6),
    SCMP_SYS(epoll_create1), SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait),
    SCMP_SYS(eventfd2), SCMP_SYS(pipe2), SCMP_SYS(timerfd_create), SCMP_SYS(timerfd_settime),
    SCMP_SYS(timerfd_gettime), SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres),
    SCMP_SYS(gettimeofday), SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep),
    SCMP_SYS(restart_syscall),
    /* memory; mmap and mprotect are checked for PROT_EXEC separately */
    SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise), SCMP_SYS(brk),
    /* signals (the loop's SIGTERM/SIGINT/SIGHUP handling) */
    SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
    SCMP_SYS(sigaltstack),
    /* threads of its own and their synchronisation */
    SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(rseq), SCMP_SYS(sched_yield),
    SCMP_SYS(sched_getaffinity), SCMP_SYS(membarrier),
    /* identity queries */
    SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getppid), SCMP_SYS(getuid), SCMP_SYS(geteuid),
    SCMP_SYS(getgid), SCMP_SYS(getegid), SCMP_SYS(getrandom), SCMP_SYS(uname),
    SCMP_SYS(getrlimit), SCMP_SYS(prlimit64),
    /* exit paths */
    SCMP_SYS(exit), SCMP_SYS(exit_group),
};

/*
 * A new io_uring: its operations bypass this filter, so none is made under it (and the rings
 * made before it cannot be re-registered). ENOSYS: the block layer falls back to threads.
 */
static const int refused_enosys[] = {
    SCMP_SYS(io_uring_setup), SCMP_SYS(io_uring_register),
};

/* Naming files and making sockets: refused with EACCES (see the top of the file). */
static const int refused_eacces[] = {
    SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(openat2), SCMP_SYS(creat), SCMP_SYS(unlink),
    SCMP_SYS(unlinkat), SCMP_SYS(mkdir), SCMP_SYS(mkdirat), SCMP_SYS(rename),
    SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(access), SCMP_SYS(faccessat),
    SCMP_SYS(faccessat2), SCMP_SYS(stat), SCMP_SYS(lstat), SCMP_SYS(readlink),
    SCMP_SYS(readlinkat), SCMP_SYS(socket), SCMP_SYS(socketpair), SCMP_SYS(connect),
    SCMP_SYS(bind), SCMP_SYS(listen), SCMP_SYS(memfd_create),
};

/* QEMU's "obsolete" set; names, since some do not exist on every architecture. */
static const char *const obsolete_names[] = {
    "readdir", "_sysctl", "bdflush", "create_module", "get_kernel_syms", "query_module",
    "sgetmask", "ssetmask", "sysfs", "uselib", "ustat",
};

/* QEMU's "elevateprivileges" set, plus setgroups (the same power over credentials). */
static const int privilege_calls[] = {
    SCMP_SYS(setuid), SCMP_SYS(setgid), SCMP_SYS(setpgid), SCMP_SYS(setsid),
    SCMP_SYS(setreuid), SCMP_SYS(setregid), SCMP_SYS(setresuid), SCMP_SYS(setresgid),
    SCMP_SYS(setfsuid), SCMP_SYS(setfsgid), SCMP_SYS(setgroups),
};

/*
 * QEMU's "spawn" set (clone without CLONE_THREAD is handled with the thread rule), and
 * waiting for the children it allows.
 */
static const int spawn_calls[] = {
    SCMP_SYS(fork), SCMP_SYS(vfork), SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(setns),
    SCMP_SYS(unshare), SCMP_SYS(wait4), SCMP_SYS(waitid),
};

/* QEMU's "resourcecontrol" set: denied ones fail with EPERM, as in QEMU. */
static const int resource_calls[] = {
    SCMP_SYS(setpriority), SCMP_SYS(sched_setparam), SCMP_SYS(sched_setscheduler),
    SCMP_SYS(sched_setaffinity),
};

static bool add_rule(scmp_filter_ctx ctx, uint32_t action, int nr, unsigned nargs,
                     const struct scmp_arg_cmp *args, GError **err)
{
    int rc = seccomp_rule_add_array(ctx, action, nr, nargs, args);

    if (rc < 0) {
        char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
        g_set_error(err, RESTRICT_ERROR, -rc, "-sandbox: rule for %s: %s",
                    name != NULL ? name : "?", g_strerror(-rc));
        free(name); /* libseccomp's malloc */
        return false;
    }
    return true;
}

static bool add_list(scmp_filter_ctx ctx, uint32_t action, const int *nrs, size_t n,
                     GError **err)
{
    for (size_t i = 0; i < n; i++) {
        if (!add_rule(ctx, action, nrs[i], 0, NULL, err)) {
            return false;
        }
    }
    return true;
}

/* mmap and mprotect, but never executable memory: no injected code can be made runnable. */
static bool add_memory_rules(scmp_filter_ctx ctx, GError **err)
{
    const struct scmp_arg_cmp not_exec[] = {SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)};

    return add_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1, not_exec, err) &&
           add_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1, not_exec, err);
}

/*
 * Threads yes, processes only with spawn=allow: clone with CLONE_THREAD. clone3
 * passes its flags in memory the filter cannot read: ENOSYS makes glibc fall back
 * to clone, where the flags are visible.
 */
static bool add_thread_rules(scmp_filter_ctx ctx, const struct sandbox_policy *p,
                             GError **err)
{
    const struct scmp_arg_cmp thread[] = {SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD,
                                                  CLONE_THREAD)};

    if (p->spawn == SANDBOX_ALLOW) {
        return add_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 0, NULL, err) &&
               add_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone3), 0, NULL, err) &&
               add_list(ctx, SCMP_ACT_ALLOW, spawn_calls, G_N_ELEMENTS(spawn_calls), err);
    }
    return add_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1, thread, err) &&
           add_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0, NULL, err);
}

/*
 * ioctl: what the Xen libraries issue on privcmd and the event-channel device (Linux's
 * include/uapi/xen/privcmd.h and evtchn.h), the terminal basics a pty chardev and
 * isatty() use, and TUNSETOFFLOAD: a tap backend matches the offloads a guest's virtio-net
 * driver accepts when the driver starts, long after start-up (net/tap.c). Any other request kills, as any other system call does: a device model
 * reaching for another driver is not doing its ioreq work. (A catch-all ENOTTY rule for
 * the rest cannot be expressed: libseccomp lets an argument-free rule for a system call
 * decide every call of it.)
 */
static const unsigned long allowed_ioctls[] = {
    IOCTL_PRIVCMD_HYPERCALL, IOCTL_PRIVCMD_MMAPBATCH, IOCTL_PRIVCMD_MMAPBATCH_V2,
    IOCTL_PRIVCMD_DM_OP, IOCTL_PRIVCMD_MMAP_RESOURCE, IOCTL_PRIVCMD_RESTRICT,
    IOCTL_EVTCHN_BIND_INTERDOMAIN, IOCTL_EVTCHN_BIND_UNBOUND_PORT, IOCTL_EVTCHN_UNBIND,
    IOCTL_EVTCHN_NOTIFY, IOCTL_EVTCHN_RESET, IOCTL_EVTCHN_RESTRICT_DOMID,
    TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ, TIOCGPTN, TIOCSPTLCK, FIONREAD, FIONBIO,
    FIOCLEX, FIONCLEX, TUNSETOFFLOAD,
};

static bool add_ioctl_rules(scmp_filter_ctx ctx, GError **err)
{
    for (size_t i = 0; i < G_N_ELEMENTS(allowed_ioctls); i++) {
        /* The kernel takes the request as an unsigned int: compare the low 32 bits. */
        const struct scmp_arg_cmp request[] = {
            SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, allowed_ioctls[i] & 0xffffffffu)};
        if (!add_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, request, err)) {
            return false;
        }
    }
    return true;
}

/* Signals only to itself (abort, raise): never to another process of the same user. */
static bool add_signal_rules(scmp_filter_ctx ctx, GError **err)
{
    const struct scmp_arg_cmp self[] = {SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid())};

    return add_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1, self, err) &&
           add_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1, self, err);
}

/* prctl only for thread names (GLib names its threads). */
static bool add_prctl_rules(scmp_filter_ctx ctx, GError **err)
{
    const struct scmp_arg_cmp set_name[] = {SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME)};
    const struct scmp_arg_cmp get_name[] = {SCMP_A0(SCMP_CMP_EQ, PR_GET_NAME)};

    return add_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1, set_name, err) &&
           add_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1, get_name, err);
}

static bool add_obsolete_rules(scmp_filter_ctx ctx, GError **err)
{
    for (size_t i = 0; i < G_N_ELEMENTS(obsolete_names); i++) {
        int nr = seccomp_syscall_resolve_name(obsolete_names[i]);
        /* Negative: not a system call of this architecture; nothing to allow. */
        if (nr >= 0 && !add_rule(ctx, SCMP_ACT_ALLOW, nr, 0, NULL, err)) {
            return false;
        }
    }
    return true;
}

static bool add_policy_rules(scmp_filter_ctx ctx, const struct sandbox_policy *p, GError **err)
{
    uint32_t resource_action =
        p->resourcecontrol == SANDBOX_ALLOW ? SCMP_ACT_ALLOW : SCMP_ACT_ERRNO(EPERM);

    if (p->obsolete == SANDBOX_ALLOW && !add_obsolete_rules(ctx, err)) {
        return false;
    }
    if (p->elevateprivileges == SANDBOX_ALLOW &&
        !add_list(ctx, SCMP_ACT_ALLOW, privilege_calls, G_N_ELEMENTS(privilege_calls), err)) {
        return false;
    }
    return add_list(ctx, resource_action, resource_calls, G_N_ELEMENTS(resource_calls), err) &&
           add_thread_rules(ctx, p, err);
}

static bool build_filter(scmp_filter_ctx ctx, const struct sandbox_policy *p, GError **err)
{
    int rc;

    /* Every thread gets the filter, or a thread started earlier would stay unfiltered. */
    rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    if (rc == 0) {
        /* no_new_privs: needed without CAP_SYS_ADMIN, and what elevateprivileges=children asks. */
        rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
    }
    if (rc < 0) {
        g_set_error(err, RESTRICT_ERROR, -rc, "-sandbox: filter attributes: %s",
                    g_strerror(-rc));
        return false;
    }
    return add_list(ctx, SCMP_ACT_ALLOW, allowed_always, G_N_ELEMENTS(allowed_always), err) &&
           add_list(ctx, SCMP_ACT_ERRNO(EACCES), refused_eacces, G_N_ELEMENTS(refused_eacces),
                    err) &&
           add_list(ctx, SCMP_ACT_ERRNO(ENOSYS), refused_enosys, G_N_ELEMENTS(refused_enosys),
                    err) &&
           add_memory_rules(ctx, err) && add_ioctl_rules(ctx, err) && add_signal_rules(ctx, err) &&
           add_prctl_rules(ctx, err) && add_policy_rules(ctx, p, err);
}

bool sandbox_install(const struct sandbox_policy *policy, GError **err)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    bool ok = false;
    int rc;

    if (ctx == NULL) {
        g_set_error(err, RESTRICT_ERROR, ENOMEM, "-sandbox: seccomp_init failed");
        return false;
    }
    if (!build_filter(ctx, policy, err)) {
        goto out;
    }
    rc = seccomp_load(ctx);
    if (rc < 0) {
        g_set_error(err, RESTRICT_ERROR, -rc, "-sandbox: loading the filter failed: %s",
                    g_strerror(-rc));
        goto out;
    }
    ok = true;
out:
    seccomp_release(ctx);
    return ok;
}
