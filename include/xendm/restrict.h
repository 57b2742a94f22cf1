/*
 * Restriction for dm_restrict and stub domains: what xendm gives up once the
 * machine is built and the ioreq server is started.
 *
 * Layers, applied in this order by restrict_apply() (each one assumes the one
 * before it is in place, and the order matters):
 *   1 Xen handles (-xen-domid-restrict): xentoolcore_restrict_all(domid), done
 *     by the accelerator through a callback. From here privcmd and the event
 *     channel device reach only the guest's domain; xenstore is unusable.
 *   2 chroot (-chroot DIR): chroot(DIR) and chdir("/"). Needs root, so it
 *     comes before the uid change.
 *   3 credentials (-runas USER | UID:GID): setgroups, setgid, setuid, then a
 *     check that root cannot be regained. A USER is resolved (getpwnam,
 *     getgrouplist) when the plan is made, at start-up: the chroot has no
 *     /etc/passwd.
 *   4 seccomp (-sandbox on[,...]): an allow-list of system calls; anything
 *     else kills the process (SIGSYS). Last, so the steps before it need no
 *     rules of their own.
 * Fail closed: the first step that fails stops the sequence and the caller
 * must exit (destroying the ioreq server); xendm never runs half-restricted.
 *
 * The system calls are behind struct restrict_hooks so that the order and the
 * failure paths are tested without privileges.
 */
#ifndef XENDM_RESTRICT_H
#define XENDM_RESTRICT_H

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

#include "xendm/keyval.h"

struct xendm_config;

#define RESTRICT_ERROR (g_quark_from_static_string("xendm-restrict"))

/* ---- -sandbox (system/sandbox.c) ---- */

/*
 * The groups of QEMU's -sandbox sub-options, with QEMU's meaning: obsolete
 * (old system calls no libc uses), elevateprivileges (set*uid/set*gid;
 * "children" also sets no_new_privs so spawned children can never gain
 * privileges), spawn (fork, vfork, process clone, execve, execveat, unshare,
 * setns), resourcecontrol (scheduler priority and affinity; denied ones fail
 * with EPERM as in QEMU rather than killing). Unlike QEMU, whose filter is a
 * deny-list, xendm's is an allow-list: every group is denied unless asked
 * for, since the device model needs none of them.
 */
enum sandbox_choice {
    SANDBOX_DENY = 0,
    SANDBOX_ALLOW,
    SANDBOX_CHILDREN, /* elevateprivileges only */
};

struct sandbox_policy {
    enum sandbox_choice obsolete;
    enum sandbox_choice elevateprivileges;
    enum sandbox_choice spawn;
    enum sandbox_choice resourcecontrol;
};

/* Reads the sub-options left in -sandbox's list; refuses unknown keys and values. */
bool sandbox_policy_parse(struct kv_list *opts, struct sandbox_policy *out, GError **err);
/* Loads the filter into the kernel for every thread of the process (irrevocable). */
bool sandbox_install(const struct sandbox_policy *policy, GError **err);

/* ---- -runas ---- */

struct restrict_ids {
    uid_t uid;
    gid_t gid;
    gid_t *groups; /* supplementary groups to set (g_free); at least the gid */
    size_t nr_groups;
};

/*
 * The lookups -runas needs; the defaults use getpwnam_r and getgrouplist.
 * lookup_user returns false with errno (0 = no such user).
 */
struct restrict_lookup {
    bool (*lookup_user)(const char *name, uid_t *uid, gid_t *gid);
    /* Fills the user's groups (gid included); false if they do not fit in *n (then *n = needed). */
    bool (*group_list)(const char *name, gid_t gid, gid_t *groups, int *n);
};

/* "USER" or "UID:GID" (decimal, neither may be root's 0). */
bool restrict_parse_runas(const char *spec, const struct restrict_lookup *lookup,
                          struct restrict_ids *out, GError **err);

/* ---- the sequence ---- */

/* The system calls of steps 2 and 3 and the sandbox of step 4; all return -1 with errno. */
struct restrict_hooks {
    int (*chroot_dir)(const char *dir); /* chroot and chdir("/") */
    int (*set_groups)(size_t n, const gid_t *groups);
    int (*set_gid)(gid_t gid);
    int (*set_uid)(uid_t uid);
    /* The check after setuid: must fail (-1) for the drop to count. */
    int (*regain_root)(void);
    bool (*install_sandbox)(const struct sandbox_policy *policy, GError **err);
    const struct restrict_lookup *lookup;
};

const struct restrict_hooks *restrict_default_hooks(void);

struct restrict_plan;

/*
 * Checks and resolves what cfg asks for (runas user, sandbox sub-options), at
 * start-up, so a bad option fails before anything is built. hooks NULL = the
 * defaults. Returns NULL with *err on a bad option; a plan that does nothing
 * when nothing is asked.
 */
struct restrict_plan *restrict_plan_new(const struct xendm_config *cfg,
                                        const struct restrict_hooks *hooks, GError **err);
void restrict_plan_free(struct restrict_plan *plan);
/* Whether any step is asked for. */
bool restrict_plan_active(const struct restrict_plan *plan);
/* Whether step 1 is asked for: the caller writes xenstore state before applying. */
bool restrict_plan_restricts_xen(const struct restrict_plan *plan);

/* Step 1, provided by the caller (xen_accel_restrict through a wrapper). */
typedef bool (*restrict_xen_fn)(void *opaque, GError **err);

/*
 * Applies steps 1 to 4 in order; stops at the first failure with *err naming
 * the step. Call once, after the machine is built and the server started.
 */
bool restrict_apply(struct restrict_plan *plan, restrict_xen_fn restrict_xen, void *opaque,
                    GError **err);

#endif
