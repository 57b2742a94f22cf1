/*
 * Restriction (system/restrict.c, system/sandbox.c): -runas forms, -sandbox
 * sub-options, the order of the steps and their failure paths through fake
 * hooks, and the real seccomp filter in forked children (a child that breaks
 * the allow-list must die of SIGSYS, the rest of its work must go on).
 */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdio.h>
#include <signal.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xendm/keyval.h"
#include "xendm/log.h"
#include "xendm/options.h"
#include "xendm/restrict.h"

/* ---- fakes: every hook appends to the log; one can be made to fail ---- */

struct fake {
    GString *log;
    const char *fail; /* the hook to fail, by name */
    int fail_errno;
    bool root_regainable;
    unsigned user_groups; /* groups the fake user has */
};

static struct fake fk;

static bool fake_step(const char *name, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static bool fake_step(const char *name, const char *fmt, ...)
{
    va_list ap;

    g_string_append_printf(fk.log, "%s%s", fk.log->len > 0 ? "; " : "", name);
    if (fmt != NULL) {
        va_start(ap, fmt);
        g_string_append_c(fk.log, ' ');
        g_string_append_vprintf(fk.log, fmt, ap);
        va_end(ap);
    }
    if (fk.fail != NULL && strcmp(fk.fail, name) == 0) {
        errno = fk.fail_errno;
        return false;
    }
    return true;
}

static bool fake_lookup_user(const char *name, uid_t *uid, gid_t *gid)
{
    if (strcmp(name, "qemu-dm") != 0) {
        errno = 0;
        return false;
    }
    *uid = 1100;
    *gid = 1200;
    return true;
}

static bool fake_group_list(const char *name, gid_t gid, gid_t *groups, int *n)
{
    if ((int)fk.user_groups > *n) {
        *n = (int)fk.user_groups;
        return false;
    }
    for (unsigned i = 0; i < fk.user_groups; i++) {
        groups[i] = gid + i;
    }
    *n = (int)fk.user_groups;
    return true;
}

static const struct restrict_lookup fake_lookup = {fake_lookup_user, fake_group_list};

static int fake_chroot(const char *dir)
{
    return fake_step("chroot", "%s", dir) ? 0 : -1;
}

static int fake_set_groups(size_t n, const gid_t *groups)
{
    return fake_step("setgroups", "%zu", n) ? 0 : -1;
}

static int fake_set_gid(gid_t gid)
{
    return fake_step("setgid", "%u", (unsigned)gid) ? 0 : -1;
}

static int fake_set_uid(uid_t uid)
{
    return fake_step("setuid", "%u", (unsigned)uid) ? 0 : -1;
}

static int fake_regain_root(void)
{
    fake_step("regain-root", NULL);
    if (fk.root_regainable) {
        return 0;
    }
    errno = EPERM;
    return -1;
}

static bool fake_sandbox(const struct sandbox_policy *p, GError **err)
{
    if (!fake_step("sandbox", "spawn=%d", (int)p->spawn)) {
        g_set_error(err, RESTRICT_ERROR, fk.fail_errno, "fake sandbox refused");
        return false;
    }
    return true;
}

static bool fake_restrict_xen(void *opaque, GError **err)
{
    if (!fake_step("xen", "dom=%u", GPOINTER_TO_UINT(opaque))) {
        g_set_error(err, RESTRICT_ERROR, fk.fail_errno, "fake xen refused");
        return false;
    }
    return true;
}

static const struct restrict_hooks fake_hooks = {
    .chroot_dir = fake_chroot,
    .set_groups = fake_set_groups,
    .set_gid = fake_set_gid,
    .set_uid = fake_set_uid,
    .regain_root = fake_regain_root,
    .install_sandbox = fake_sandbox,
    .lookup = &fake_lookup,
};

static void fake_reset(void)
{
    if (fk.log != NULL) {
        g_string_free(fk.log, TRUE);
    }
    fk = (struct fake){.log = g_string_new(NULL), .user_groups = 2};
}

/* A configuration as options.c leaves it: -sandbox's "enable" already taken. */
static struct xendm_config *make_config(bool xen, const char *chroot_dir, const char *runas,
                                        const char *sandbox)
{
    struct xendm_config *cfg = config_new();

    cfg->domid_restrict = xen;
    cfg->chroot_dir = g_strdup(chroot_dir);
    cfg->runas = g_strdup(runas);
    if (sandbox != NULL) {
        cfg->sandbox = kv_parse(sandbox, "enable", NULL);
        g_assert_nonnull(cfg->sandbox);
        kv_get(cfg->sandbox, "enable");
    }
    return cfg;
}

/* ---- -runas ---- */

static void test_runas_numeric(void)
{
    struct restrict_ids ids;
    GError *err = NULL;

    g_assert_true(restrict_parse_runas("65536:65537", &fake_lookup, &ids, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(ids.uid, ==, 65536);
    g_assert_cmpuint(ids.gid, ==, 65537);
    /* No user name: the one group, no supplementary ones from anywhere. */
    g_assert_cmpuint(ids.nr_groups, ==, 1);
    g_assert_cmpuint(ids.groups[0], ==, 65537);
    g_free(ids.groups);
}

static void test_runas_user(void)
{
    struct restrict_ids ids;
    GError *err = NULL;

    fake_reset();
    fk.user_groups = 40; /* more than the first guess: the list is asked again */
    g_assert_true(restrict_parse_runas("qemu-dm", &fake_lookup, &ids, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(ids.uid, ==, 1100);
    g_assert_cmpuint(ids.gid, ==, 1200);
    g_assert_cmpuint(ids.nr_groups, ==, 40);
    g_assert_cmpuint(ids.groups[39], ==, 1239);
    g_free(ids.groups);

    /* The real lookup: Debian always has "nobody". */
    g_assert_true(restrict_parse_runas("nobody", NULL, &ids, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(ids.uid, ==, 65534);
    g_assert_cmpuint(ids.nr_groups, >=, 1);
    g_free(ids.groups);
}

static void test_runas_errors(void)
{
    static const struct {
        const char *spec;
        int code;
        const char *message;
    } cases[] = {
        {"", EINVAL, "empty user"},
        {"1000:", EINVAL, "expected USER or UID:GID"},
        {":1000", EINVAL, "expected USER or UID:GID"},
        {"1:2:3", EINVAL, "expected USER or UID:GID"},
        {"a:b", EINVAL, "expected USER or UID:GID"},
        {"-1:5", EINVAL, "expected USER or UID:GID"},
        {"1000:+5", EINVAL, "expected USER or UID:GID"},
        {"4294967295:5", EINVAL, "expected USER or UID:GID"},
        {"99999999999999999999:5", EINVAL, "expected USER or UID:GID"},
        {"0:1000", EPERM, "uid or gid 0"},
        {"1000:0", EPERM, "uid or gid 0"},
        {"no-such-user", ENOENT, "no such user"},
    };

    fake_reset();
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct restrict_ids ids;
        GError *err = NULL;

        g_test_message("-runas '%s'", cases[i].spec);
        g_assert_false(restrict_parse_runas(cases[i].spec, &fake_lookup, &ids, &err));
        g_assert_error(err, RESTRICT_ERROR, cases[i].code);
        g_assert_nonnull(strstr(err->message, cases[i].message));
        g_assert_null(ids.groups);
        g_error_free(err);
    }
    {
        struct restrict_ids ids;
        GError *err = NULL;
        g_assert_false(restrict_parse_runas("root", NULL, &ids, &err));
        g_assert_error(err, RESTRICT_ERROR, EPERM);
        g_error_free(err);
    }
}

/* ---- -sandbox sub-options ---- */

static bool parse_sandbox(const char *text, struct sandbox_policy *p, GError **err)
{
    struct kv_list *kv = kv_parse(text, "enable", NULL);
    bool ok;

    kv_get(kv, "enable");
    ok = sandbox_policy_parse(kv, p, err);
    kv_free(kv);
    return ok;
}

static void test_sandbox_options(void)
{
    struct sandbox_policy p;
    GError *err = NULL;

    /* Everything denied unless asked for: the allow-list is the point. */
    g_assert_true(parse_sandbox("on", &p, &err));
    g_assert_cmpint(p.obsolete, ==, SANDBOX_DENY);
    g_assert_cmpint(p.elevateprivileges, ==, SANDBOX_DENY);
    g_assert_cmpint(p.spawn, ==, SANDBOX_DENY);
    g_assert_cmpint(p.resourcecontrol, ==, SANDBOX_DENY);

    g_assert_true(parse_sandbox("on,obsolete=allow,elevateprivileges=children,spawn=allow,"
                                "resourcecontrol=deny", &p, &err));
    g_assert_no_error(err);
    g_assert_cmpint(p.obsolete, ==, SANDBOX_ALLOW);
    g_assert_cmpint(p.elevateprivileges, ==, SANDBOX_CHILDREN);
    g_assert_cmpint(p.spawn, ==, SANDBOX_ALLOW);
    g_assert_cmpint(p.resourcecontrol, ==, SANDBOX_DENY);

    g_assert_false(parse_sandbox("on,spawn=children", &p, &err));
    g_assert_error(err, RESTRICT_ERROR, EINVAL);
    g_assert_nonnull(strstr(err->message, "invalid argument for spawn"));
    g_clear_error(&err);
    g_assert_false(parse_sandbox("on,obsolete=maybe", &p, &err));
    g_assert_nonnull(strstr(err->message, "obsolete"));
    g_clear_error(&err);
    g_assert_false(parse_sandbox("on,network=deny", &p, &err));
    g_assert_nonnull(strstr(err->message, "unknown option 'network'"));
    g_clear_error(&err);
}

/* ---- the sequence ---- */

#define FULL_SEQUENCE                                                                             \
    "xen dom=7; chroot /; setgroups 2; setgid 1200; setuid 1100; regain-root; sandbox spawn=0"

static struct restrict_plan *full_plan(void)
{
    struct xendm_config *cfg = make_config(true, "/", "qemu-dm", "on");
    GError *err = NULL;
    struct restrict_plan *plan = restrict_plan_new(cfg, &fake_hooks, &err);

    g_assert_no_error(err);
    g_assert_nonnull(plan);
    g_assert_true(restrict_plan_active(plan));
    g_assert_true(restrict_plan_restricts_xen(plan));
    config_free(cfg);
    return plan;
}

static void test_order(void)
{
    struct restrict_plan *plan;
    GError *err = NULL;

    fake_reset();
    plan = full_plan();
    /* Making the plan only resolves: nothing is done yet. */
    g_assert_cmpstr(fk.log->str, ==, "");
    g_assert_true(restrict_apply(plan, fake_restrict_xen, GUINT_TO_POINTER(7), &err));
    g_assert_no_error(err);
    g_assert_cmpstr(fk.log->str, ==, FULL_SEQUENCE);

    /* Once only. */
    g_assert_false(restrict_apply(plan, fake_restrict_xen, GUINT_TO_POINTER(7), &err));
    g_assert_error(err, RESTRICT_ERROR, EALREADY);
    g_clear_error(&err);
    g_assert_cmpstr(fk.log->str, ==, FULL_SEQUENCE);
    restrict_plan_free(plan);
}

static void test_partial_plans(void)
{
    static const struct {
        bool xen;
        const char *chroot_dir, *runas, *sandbox;
        const char *expected;
    } cases[] = {
        {false, NULL, NULL, NULL, ""},
        {true, NULL, NULL, NULL, "xen dom=7"},
        {false, "/", NULL, NULL, "chroot /"},
        {false, NULL, "5000:6000", NULL,
         "setgroups 1; setgid 6000; setuid 5000; regain-root"},
        {false, NULL, NULL, "on,spawn=allow", "sandbox spawn=1"},
        {true, NULL, "5000:6000", "on", "xen dom=7; setgroups 1; setgid 6000; setuid 5000; "
                                         "regain-root; sandbox spawn=0"},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct xendm_config *cfg = make_config(cases[i].xen, cases[i].chroot_dir,
                                               cases[i].runas, cases[i].sandbox);
        GError *err = NULL;
        struct restrict_plan *plan;

        fake_reset();
        plan = restrict_plan_new(cfg, &fake_hooks, &err);
        g_assert_no_error(err);
        g_assert_cmpint(restrict_plan_active(plan), ==, cases[i].expected[0] != '\0');
        g_assert_true(restrict_apply(plan, fake_restrict_xen, GUINT_TO_POINTER(7), &err));
        g_assert_no_error(err);
        g_assert_cmpstr(fk.log->str, ==, cases[i].expected);
        restrict_plan_free(plan);
        config_free(cfg);
    }
}

struct failure_case {
    const char *name;
    const char *fail;      /* the hook that fails */
    bool root_regainable;  /* or: root can be regained */
    int errnum;
    const char *message;   /* in the error */
    const char *log;       /* the calls made, and nothing after the failure */
};

static const struct failure_case failure_cases[] = {
    {"xen", "xen", false, EPERM, "restriction step 1: fake xen refused", "xen dom=7"},
    {"chroot", "chroot", false, ENOENT, "restriction step 2 (chroot /) failed",
     "xen dom=7; chroot /"},
    {"setgroups", "setgroups", false, EPERM, "restriction step 3 (setgroups) failed",
     "xen dom=7; chroot /; setgroups 2"},
    {"setgid", "setgid", false, EPERM, "restriction step 3 (setgid) failed",
     "xen dom=7; chroot /; setgroups 2; setgid 1200"},
    {"setuid", "setuid", false, EAGAIN, "restriction step 3 (setuid) failed",
     "xen dom=7; chroot /; setgroups 2; setgid 1200; setuid 1100"},
    {"regain-root", NULL, true, EPERM, "root could be regained",
     "xen dom=7; chroot /; setgroups 2; setgid 1200; setuid 1100; regain-root"},
    {"sandbox", "sandbox", false, EINVAL, "restriction step 4: fake sandbox refused",
     FULL_SEQUENCE},
};

static void test_failure(gconstpointer data)
{
    const struct failure_case *c = data;
    struct restrict_plan *plan;
    GError *err = NULL;

    fake_reset();
    fk.fail = c->fail;
    fk.fail_errno = c->errnum;
    fk.root_regainable = c->root_regainable;
    plan = full_plan();
    g_assert_false(restrict_apply(plan, fake_restrict_xen, GUINT_TO_POINTER(7), &err));
    g_assert_nonnull(err);
    g_test_message("error: %s", err->message);
    g_assert_cmpint(err->code, ==, c->errnum);
    g_assert_nonnull(strstr(err->message, c->message));
    g_assert_cmpstr(fk.log->str, ==, c->log);
    g_error_free(err);
    restrict_plan_free(plan);
}

static void test_plan_errors(void)
{
    static const struct {
        const char *chroot_dir, *runas, *sandbox;
        const char *message;
    } cases[] = {
        {"/nonexistent-xendm-root", NULL, NULL, "-chroot /nonexistent-xendm-root: not a dir"},
        {"/etc/passwd", NULL, NULL, "not a directory"},
        {NULL, "no-such-user", NULL, "no such user"},
        {NULL, "0:0", NULL, "uid or gid 0"},
        {NULL, NULL, "on,spawn=sometimes", "invalid argument for spawn"},
    };

    fake_reset();
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct xendm_config *cfg = make_config(true, cases[i].chroot_dir, cases[i].runas,
                                               cases[i].sandbox);
        GError *err = NULL;

        g_assert_null(restrict_plan_new(cfg, &fake_hooks, &err));
        g_assert_nonnull(err);
        g_assert_nonnull(strstr(err->message, cases[i].message));
        g_error_free(err);
        config_free(cfg);
    }
    /* Nothing was done while checking. */
    g_assert_cmpstr(fk.log->str, ==, "");
}

/* ---- the real filter, in forked children ---- */

enum child_action {
    CHILD_ALLOWED_WORK, /* pipes, time, memory, a thread-free loop: exits 0 */
    CHILD_OPEN_REFUSED, /* openat and socket fail with EACCES: exits 0 */
    CHILD_RESOURCE_EPERM, /* resourcecontrol=deny: setpriority fails with EPERM: exits 0 */
    CHILD_EXECVE,       /* spawn=deny: killed */
    CHILD_FORK,         /* spawn=deny: killed */
    CHILD_MPROTECT_EXEC, /* never executable memory: killed */
    CHILD_SETUID,       /* elevateprivileges=deny: killed */
    CHILD_FORK_ALLOWED, /* spawn=allow: the fork works, exits 0 */
    CHILD_IOCTL_TTY,    /* a terminal ioctl the allow-list names (FIONREAD on a pipe): exits 0 */
    CHILD_IOCTL_OTHER,  /* any other ioctl request (a block device's BLKGETSIZE64): killed */
};

static int child_body(enum child_action action)
{
    int fds[2];
    char byte = 'x';
    void *page;

    switch (action) {
    case CHILD_ALLOWED_WORK:
        if (pipe2(fds, O_CLOEXEC) < 0 || write(fds[1], &byte, 1) != 1 ||
            read(fds[0], &byte, 1) != 1) {
            return 2;
        }
        page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (page == MAP_FAILED || munmap(page, 4096) < 0) {
            return 3;
        }
        g_usleep(1000);
        (void)g_get_monotonic_time();
        return 0;
    case CHILD_OPEN_REFUSED:
        if (open("/etc/hostname", O_RDONLY) >= 0 || errno != EACCES) {
            return 2;
        }
        return socket(AF_UNIX, SOCK_STREAM, 0) < 0 && errno == EACCES ? 0 : 3;
    case CHILD_RESOURCE_EPERM:
        return setpriority(PRIO_PROCESS, 0, 5) < 0 && errno == EPERM ? 0 : 2;
    case CHILD_EXECVE: {
        char *argv[] = {(char *)"/bin/true", NULL};
        execv(argv[0], argv);
        return 2;
    }
    case CHILD_FORK:
    case CHILD_FORK_ALLOWED: {
        pid_t pid = fork();
        if (pid == 0) {
            _exit(0);
        }
        return pid > 0 && waitpid(pid, NULL, 0) == pid ? 0 : 2;
    }
    case CHILD_MPROTECT_EXEC:
        page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return mprotect(page, 4096, PROT_READ | PROT_EXEC) == 0 ? 2 : 3;
    case CHILD_SETUID:
        return setuid(getuid()) == 0 ? 2 : 3;
    case CHILD_IOCTL_TTY: {
        int queued = -1;
        if (pipe2(fds, O_CLOEXEC) < 0 || write(fds[1], &byte, 1) != 1) {
            return 2;
        }
        return ioctl(fds[0], FIONREAD, &queued) == 0 && queued == 1 ? 0 : 3;
    }
    case CHILD_IOCTL_OTHER: {
        uint64_t size;
        if (pipe2(fds, O_CLOEXEC) < 0) {
            return 2;
        }
        return ioctl(fds[0], BLKGETSIZE64, &size) < 0 ? 3 : 4;
    }
    }
    return 4;
}

/* Runs `action` under the filter in a child; returns its wait status. */
static int run_sandboxed(const char *options, enum child_action action)
{
    struct sandbox_policy policy;
    GError *err = NULL;
    int status = 0;
    pid_t pid;

    g_assert_true(parse_sandbox(options, &policy, &err));
    fflush(NULL);
    pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        if (!sandbox_install(&policy, &err)) {
            _exit(100);
        }
        _exit(child_body(action));
    }
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    return status;
}

static void assert_exit0(int status)
{
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
}

static void assert_sigsys(int status)
{
    g_assert_true(WIFSIGNALED(status));
    g_assert_cmpint(WTERMSIG(status), ==, SIGSYS);
}

static bool sanitized(void)
{
    /* ASan/LSan need system calls of their own (the leak check stops the world with ptrace). */
#if defined(__SANITIZE_ADDRESS__)
    return true;
#else
    return false;
#endif
}

static void test_filter(void)
{
    if (sanitized()) {
        g_test_skip("a sanitizer's run-time needs system calls outside the allow-list");
        return;
    }
    assert_exit0(run_sandboxed("on", CHILD_ALLOWED_WORK));
    assert_exit0(run_sandboxed("on", CHILD_OPEN_REFUSED));
    assert_exit0(run_sandboxed("on", CHILD_RESOURCE_EPERM));
    assert_sigsys(run_sandboxed("on", CHILD_EXECVE));
    assert_sigsys(run_sandboxed("on", CHILD_FORK));
    assert_sigsys(run_sandboxed("on,spawn=allow", CHILD_MPROTECT_EXEC));
    assert_sigsys(run_sandboxed("on", CHILD_SETUID));
    assert_sigsys(run_sandboxed("on,elevateprivileges=children", CHILD_SETUID));
    assert_exit0(run_sandboxed("on", CHILD_IOCTL_TTY));
    assert_sigsys(run_sandboxed("on", CHILD_IOCTL_OTHER));
    assert_exit0(run_sandboxed("on,spawn=allow", CHILD_FORK_ALLOWED));
    {
        /* setuid to oneself is harmless and allowed with elevateprivileges=allow. */
        int status = run_sandboxed("on,elevateprivileges=allow", CHILD_SETUID);
        g_assert_true(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), ==, 2);
    }
}

/*
 * What the toolstack sees when the filter kills a device model: xensim runs this
 * program as one (--sandbox-victim: install the filter, then a forbidden execve)
 * and must say SIGSYS and exit 23, not 20.
 */
static int sandbox_victim(void)
{
    struct sandbox_policy policy = {0};
    char *argv[] = {(char *)"/bin/true", NULL};
    GError *err = NULL;

    if (!sandbox_install(&policy, &err)) {
        fprintf(stderr, "victim: %s\n", err->message);
        return 3;
    }
    execv(argv[0], argv);
    return 4; /* not reached: the filter kills first */
}

static void test_xensim_reports_sigsys(void)
{
    const char *xensim = g_getenv("XENSIM");
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *err_text = NULL;
    int status = 0;
    GError *err = NULL;

    if (xensim == NULL || sanitized()) {
        g_test_skip(xensim == NULL ? "$XENSIM not set" : "sanitized build");
        return;
    }
    {
        const char *argv[] = {xensim, "--dm", self, "--raw-dm-args", "--start-timeout", "10",
                              "--", "--sandbox-victim", NULL};
        g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                                   NULL, NULL, &err_text, &status, &err));
    }
    g_assert_no_error(err);
    g_test_message("xensim said: %s", err_text);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 23);
    g_assert_nonnull(strstr(err_text, "SIGSYS"));
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--sandbox-victim") == 0) {
        return sandbox_victim();
    }
    g_test_init(&argc, &argv, NULL);
    log_set_level(LOG_LEVEL_WARN);

    g_test_add_func("/restrict/runas/numeric", test_runas_numeric);
    g_test_add_func("/restrict/runas/user", test_runas_user);
    g_test_add_func("/restrict/runas/errors", test_runas_errors);
    g_test_add_func("/restrict/sandbox/options", test_sandbox_options);
    g_test_add_func("/restrict/order", test_order);
    g_test_add_func("/restrict/partial-plans", test_partial_plans);
    for (size_t i = 0; i < G_N_ELEMENTS(failure_cases); i++) {
        g_autofree char *path = g_strdup_printf("/restrict/fail/%s", failure_cases[i].name);
        g_test_add_data_func(path, &failure_cases[i], test_failure);
    }
    g_test_add_func("/restrict/plan-errors", test_plan_errors);
    g_test_add_func("/restrict/sandbox/filter", test_filter);
    g_test_add_func("/restrict/sandbox/xensim-reports-sigsys", test_xensim_reports_sigsys);
    int rc = g_test_run();
    if (fk.log != NULL) {
        g_string_free(fk.log, TRUE);
    }
    return rc;
}
