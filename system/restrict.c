/*
 * The restriction sequence (see include/xendm/restrict.h): -runas parsing and
 * resolution at start-up, then Xen handles -> chroot -> credentials -> seccomp.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xendm/log.h"
#include "xendm/options.h"
#include "xendm/restrict.h"

/* getgrouplist's answer for one user; more is refused rather than truncated. */
#define RUNAS_MAX_GROUPS 1024

struct restrict_plan {
    const struct restrict_hooks *hooks;
    bool xen;
    char *chroot_dir;
    bool runas;
    struct restrict_ids ids;
    bool sandbox;
    struct sandbox_policy policy;
    bool applied;
};

/* ---- the real system calls ---- */

static bool default_lookup_user(const char *name, uid_t *uid, gid_t *gid)
{
    long size = sysconf(_SC_GETPW_R_SIZE_MAX);
    g_autofree char *buf = NULL;
    struct passwd pw, *found = NULL;
    int rc;

    if (size <= 0) {
        size = 16384;
    }
    buf = g_malloc((size_t)size);
    rc = getpwnam_r(name, &pw, buf, (size_t)size, &found);
    if (found == NULL) {
        errno = rc;
        return false;
    }
    *uid = pw.pw_uid;
    *gid = pw.pw_gid;
    return true;
}

static bool default_group_list(const char *name, gid_t gid, gid_t *groups, int *n)
{
    return getgrouplist(name, gid, groups, n) >= 0;
}

static const struct restrict_lookup default_lookup = {
    .lookup_user = default_lookup_user,
    .group_list = default_group_list,
};

static int default_chroot_dir(const char *dir)
{
    if (chroot(dir) < 0) {
        return -1;
    }
    /* Without this the old working directory stays reachable through ".". */
    return chdir("/");
}

static int default_set_groups(size_t n, const gid_t *groups)
{
    return setgroups(n, groups);
}

static int default_set_gid(gid_t gid)
{
    /* setresgid: real, effective and saved ids together, so none keeps the old group. */
    return setresgid(gid, gid, gid);
}

static int default_set_uid(uid_t uid)
{
    return setresuid(uid, uid, uid);
}

static int default_regain_root(void)
{
    return setuid(0);
}

static const struct restrict_hooks default_hooks = {
    .chroot_dir = default_chroot_dir,
    .set_groups = default_set_groups,
    .set_gid = default_set_gid,
    .set_uid = default_set_uid,
    .regain_root = default_regain_root,
    .install_sandbox = sandbox_install,
    .lookup = &default_lookup,
};

const struct restrict_hooks *restrict_default_hooks(void)
{
    return &default_hooks;
}

/* ---- -runas ---- */

static bool parse_id(const char *text, unsigned long *out)
{
    char *end;

    if (!g_ascii_isdigit(text[0])) {
        return false;
    }
    errno = 0;
    *out = strtoul(text, &end, 10);
    /* (uid_t)-1 means "unchanged" to the set*id calls: never a target. */
    return errno == 0 && *end == '\0' && *out < (unsigned long)(uid_t)-1;
}

static bool parse_numeric_runas(const char *spec, struct restrict_ids *out, GError **err)
{
    g_auto(GStrv) parts = g_strsplit(spec, ":", 3);
    unsigned long uid, gid;

    if (g_strv_length(parts) != 2 || !parse_id(parts[0], &uid) || !parse_id(parts[1], &gid)) {
        g_set_error(err, RESTRICT_ERROR, EINVAL, "-runas %s: expected USER or UID:GID", spec);
        return false;
    }
    out->uid = (uid_t)uid;
    out->gid = (gid_t)gid;
    /* No user name, no supplementary groups: exactly the one group. */
    out->groups = g_new(gid_t, 1);
    out->groups[0] = out->gid;
    out->nr_groups = 1;
    return true;
}

static bool resolve_user(const char *spec, const struct restrict_lookup *lookup,
                         struct restrict_ids *out, GError **err)
{
    int n = 16;

    errno = 0;
    if (!lookup->lookup_user(spec, &out->uid, &out->gid)) {
        int saved = errno;
        g_set_error(err, RESTRICT_ERROR, saved != 0 ? saved : ENOENT, "-runas %s: %s", spec,
                    saved != 0 ? g_strerror(saved) : "no such user");
        return false;
    }
    out->groups = g_new(gid_t, n);
    if (!lookup->group_list(spec, out->gid, out->groups, &n)) {
        if (n <= 0 || n > RUNAS_MAX_GROUPS) {
            g_set_error(err, RESTRICT_ERROR, E2BIG, "-runas %s: %d groups is too many", spec,
                        n);
            return false;
        }
        out->groups = g_renew(gid_t, out->groups, n);
        if (!lookup->group_list(spec, out->gid, out->groups, &n)) {
            g_set_error(err, RESTRICT_ERROR, EIO, "-runas %s: the group list changed", spec);
            return false;
        }
    }
    out->nr_groups = (size_t)n;
    return true;
}

bool restrict_parse_runas(const char *spec, const struct restrict_lookup *lookup,
                          struct restrict_ids *out, GError **err)
{
    bool ok;

    *out = (struct restrict_ids){0};
    if (spec == NULL || spec[0] == '\0') {
        g_set_error(err, RESTRICT_ERROR, EINVAL, "-runas: empty user");
        return false;
    }
    if (strchr(spec, ':') != NULL) {
        ok = parse_numeric_runas(spec, out, err);
    } else {
        ok = resolve_user(spec, lookup != NULL ? lookup : &default_lookup, out, err);
    }
    if (ok && (out->uid == 0 || out->gid == 0)) {
        /* Dropping to root's ids would leave everything a compromised DM could want. */
        g_set_error(err, RESTRICT_ERROR, EPERM, "-runas %s: refusing to run as uid or gid 0",
                    spec);
        ok = false;
    }
    if (!ok) {
        g_free(out->groups);
        *out = (struct restrict_ids){0};
    }
    return ok;
}

/* ---- the plan ---- */

struct restrict_plan *restrict_plan_new(const struct xendm_config *cfg,
                                        const struct restrict_hooks *hooks, GError **err)
{
    struct restrict_plan *plan = g_new0(struct restrict_plan, 1);

    plan->hooks = hooks != NULL ? hooks : &default_hooks;
    plan->xen = cfg->domid_restrict;
    if (cfg->chroot_dir != NULL) {
        if (!g_file_test(cfg->chroot_dir, G_FILE_TEST_IS_DIR)) {
            g_set_error(err, RESTRICT_ERROR, ENOTDIR, "-chroot %s: not a directory",
                        cfg->chroot_dir);
            goto fail;
        }
        plan->chroot_dir = g_strdup(cfg->chroot_dir);
    }
    if (cfg->runas != NULL) {
        if (!restrict_parse_runas(cfg->runas, plan->hooks->lookup, &plan->ids, err)) {
            goto fail;
        }
        plan->runas = true;
    }
    if (cfg->sandbox != NULL) {
        if (!sandbox_policy_parse(cfg->sandbox, &plan->policy, err)) {
            goto fail;
        }
        plan->sandbox = true;
    }
    return plan;
fail:
    restrict_plan_free(plan);
    return NULL;
}

void restrict_plan_free(struct restrict_plan *plan)
{
    if (plan == NULL) {
        return;
    }
    g_free(plan->chroot_dir);
    g_free(plan->ids.groups);
    g_free(plan);
}

bool restrict_plan_active(const struct restrict_plan *plan)
{
    return plan->xen || plan->chroot_dir != NULL || plan->runas || plan->sandbox;
}

bool restrict_plan_restricts_xen(const struct restrict_plan *plan)
{
    return plan->xen;
}

static bool step_error(GError **err, unsigned step, const char *what)
{
    int saved = errno;

    g_set_error(err, RESTRICT_ERROR, saved, "restriction step %u (%s) failed: %s", step, what,
                g_strerror(saved));
    return false;
}

static bool apply_chroot(struct restrict_plan *plan, GError **err)
{
    if (plan->hooks->chroot_dir(plan->chroot_dir) < 0) {
        int saved = errno;
        g_autofree char *what = g_strdup_printf("chroot %s", plan->chroot_dir);
        errno = saved;
        return step_error(err, 2, what);
    }
    log_info("restrict: chroot %s", plan->chroot_dir);
    return true;
}

/* Groups first, then the gid, then the uid: each later call needs the privilege dropped last. */
static bool apply_credentials(struct restrict_plan *plan, GError **err)
{
    const struct restrict_ids *ids = &plan->ids;

    if (plan->hooks->set_groups(ids->nr_groups, ids->groups) < 0) {
        return step_error(err, 3, "setgroups");
    }
    if (plan->hooks->set_gid(ids->gid) < 0) {
        return step_error(err, 3, "setgid");
    }
    if (plan->hooks->set_uid(ids->uid) < 0) {
        return step_error(err, 3, "setuid");
    }
    if (plan->hooks->regain_root() == 0) {
        errno = EPERM;
        return step_error(err, 3, "root could be regained after setuid");
    }
    log_info("restrict: running as uid %u gid %u (%zu groups)", (unsigned)ids->uid,
             (unsigned)ids->gid, ids->nr_groups);
    return true;
}

bool restrict_apply(struct restrict_plan *plan, restrict_xen_fn restrict_xen, void *opaque,
                    GError **err)
{
    if (plan->applied) {
        g_set_error(err, RESTRICT_ERROR, EALREADY, "restriction applied twice");
        return false;
    }
    plan->applied = true;
    if (plan->xen) {
        if (restrict_xen == NULL || !restrict_xen(opaque, err)) {
            if (err != NULL && *err == NULL) {
                g_set_error(err, RESTRICT_ERROR, EINVAL, "restriction step 1 (xen) failed");
            }
            g_prefix_error(err, "restriction step 1: ");
            return false;
        }
    }
    if (plan->chroot_dir != NULL && !apply_chroot(plan, err)) {
        return false;
    }
    if (plan->runas && !apply_credentials(plan, err)) {
        return false;
    }
    if (plan->sandbox) {
        if (!plan->hooks->install_sandbox(&plan->policy, err)) {
            g_prefix_error(err, "restriction step 4: ");
            return false;
        }
        log_info("restrict: seccomp filter installed");
    }
    return true;
}
