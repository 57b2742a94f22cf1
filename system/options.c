/*
 * Command-line parsing (see include/xendm/options.h). The table below is the
 * whole list of options xendm knows; each entry says whether it takes an
 * argument and how it is stored. Options libxl may emit but xendm does not
 * implement yet are listed in unsupported_options so that they fail by name.
 */
#include <glib.h>
#include <inttypes.h>

#include "xendm/common.h"
#include "xendm/options.h"

#define OPTIONS_ERROR (g_quark_from_static_string("xendm-options"))
#define DOMID_FIRST_RESERVED 0x7ff0u /* xen/xen.h: ids from here on are special */
#define MAX_VCPUS 128u /* Xen 4.17 serves one ioreq page: 128 slots */
#define MAX_POLL_US 1000u /* one wake-up of the ioreq loop serves for at most 1 ms anyway */

struct xendm_config *config_new(void)
{
    struct xendm_config *cfg = g_new0(struct xendm_config, 1);

    cfg->serials = g_ptr_array_new_with_free_func(g_free);
    cfg->chardevs = g_ptr_array_new_with_free_func((GDestroyNotify)kv_free);
    cfg->monitors = g_ptr_array_new_with_free_func((GDestroyNotify)kv_free);
    cfg->devices = g_ptr_array_new_with_free_func((GDestroyNotify)kv_free);
    cfg->drives = g_ptr_array_new_with_free_func((GDestroyNotify)kv_free);
    cfg->netdevs = g_ptr_array_new_with_free_func((GDestroyNotify)kv_free);
    cfg->trace_patterns = g_ptr_array_new_with_free_func(g_free);
    cfg->incoming_fd = -1;
    return cfg;
}

void config_free(struct xendm_config *cfg)
{
    if (cfg == NULL) {
        return;
    }
    g_free(cfg->machine_type);
    g_free(cfg->name);
    g_free(cfg->keymap);
    g_free(cfg->boot);
    g_free(cfg->display);
    kv_free(cfg->display_opts);
    g_free(cfg->vnc);
    kv_free(cfg->vnc_opts);
    g_free(cfg->chroot_dir);
    g_free(cfg->runas);
    kv_free(cfg->sandbox);
    g_free(cfg->net);
    g_ptr_array_free(cfg->serials, TRUE);
    g_ptr_array_free(cfg->chardevs, TRUE);
    g_ptr_array_free(cfg->monitors, TRUE);
    g_ptr_array_free(cfg->devices, TRUE);
    g_ptr_array_free(cfg->drives, TRUE);
    g_ptr_array_free(cfg->netdevs, TRUE);
    g_ptr_array_free(cfg->trace_patterns, TRUE);
    g_free(cfg);
}

unsigned config_max_vcpus(const struct xendm_config *cfg)
{
    if (cfg->smp_maxcpus > 0) {
        return cfg->smp_maxcpus;
    }
    return cfg->smp_cpus > 0 ? cfg->smp_cpus : 1;
}

/* ---- helpers ---- */

static bool not_supported(const char *opt, GError **err)
{
    g_set_error(err, OPTIONS_ERROR, 0, "option -%s is not supported yet", opt);
    return false;
}

static void replace_string(char **slot, const char *value)
{
    char *copy = g_strdup(value); /* first: value may be *slot (-machine given twice) */

    g_free(*slot);
    *slot = copy;
}

/* After a kv-style option took its keys: any key left is an error. */
static bool check_all_used(struct kv_list *kv, const char *opt, GError **err)
{
    const char *unused = kv_first_unused(kv);

    if (unused != NULL) {
        g_set_error(err, OPTIONS_ERROR, 0, "-%s: invalid parameter '%s'", opt, unused);
        return false;
    }
    return true;
}

static struct kv_list *parse_kv(const char *opt, const char *arg, const char *implied,
                                GError **err)
{
    GError *local = NULL;
    struct kv_list *kv = kv_parse(arg, implied, &local);

    if (kv == NULL) {
        g_set_error(err, OPTIONS_ERROR, 0, "-%s: %s", opt, local->message);
        g_error_free(local);
    }
    return kv;
}

static bool take_u64(struct kv_list *kv, const char *opt, const char *key, bool sized,
                     uint64_t *out, GError **err)
{
    GError *local = NULL;

    if (!kv_get_u64(kv, key, *out, sized, out, &local)) {
        g_set_error(err, OPTIONS_ERROR, 0, "-%s: %s", opt, local->message);
        g_error_free(local);
        return false;
    }
    return true;
}

static bool take_bool(struct kv_list *kv, const char *opt, const char *key, bool *out,
                      GError **err)
{
    GError *local = NULL;

    if (!kv_get_bool(kv, key, *out, out, &local)) {
        g_set_error(err, OPTIONS_ERROR, 0, "-%s: %s", opt, local->message);
        g_error_free(local);
        return false;
    }
    return true;
}

/* ---- handlers ---- */

typedef bool (*option_handler)(struct xendm_config *cfg, const char *opt, const char *arg,
                               GError **err);

static bool opt_domid(struct xendm_config *cfg, const char *opt, const char *arg, GError **err)
{
    uint64_t domid;

    if (!parse_u64(arg, false, &domid) || domid == 0 || domid >= DOMID_FIRST_RESERVED) {
        g_set_error(err, OPTIONS_ERROR, 0, "-%s: invalid domain id '%s'", opt, arg);
        return false;
    }
    cfg->domid = (uint32_t)domid;
    cfg->have_domid = true;
    return true;
}

/* -machine ...,accel=NAME and -accel NAME: Xen is the only accelerator (NULL: not given). */
static bool accel_supported(const char *option, const char *name, GError **err)
{
    if (name != NULL && strcmp(name, "xen") != 0) {
        g_set_error(err, OPTIONS_ERROR, 0, "-%s: accelerator '%s' is not supported", option, name);
        return false;
    }
    return true;
}

static bool opt_machine(struct xendm_config *cfg, const char *opt, const char *arg, GError **err)
{
    struct kv_list *kv = parse_kv(opt, arg, "type", err);
    const char *type, *accel;
    bool ok = false;

    if (kv == NULL) {
        return false;
    }
    type = kv_get(kv, "type");
    accel = kv_get(kv, "accel");
    if (type == NULL) {
        type = cfg->machine_type != NULL ? cfg->machine_type : "xenfv";
    }
    /* xenfv implies the Xen accelerator; "pc" is xenfv without the platform device. */
    if (strcmp(type, "xenfv") != 0 && strcmp(type, "pc") != 0) {
        g_set_error(err, OPTIONS_ERROR, 0, "-machine: machine type '%s' is not supported", type);
        goto out;
    }
    if (strcmp(type, "pc") == 0 && (accel == NULL || strcmp(accel, "xen") != 0)) {
        g_set_error(err, OPTIONS_ERROR, 0, "-machine: machine 'pc' needs accel=xen");
        goto out;
    }
    if (!accel_supported("machine", accel, err)) {
        goto out;
    }
    if (!take_bool(kv, opt, "suppress-vmdesc", &cfg->suppress_vmdesc, err) ||
        !take_u64(kv, opt, "max-ram-below-4g", true, &cfg->max_ram_below_4g, err) ||
        !check_all_used(kv, opt, err)) {
        goto out;
    }
    replace_string(&cfg->machine_type, type);
    ok = true;
out:
    kv_free(kv);
    return ok;
}

/* -m N (MiB), -m NG (with a suffix: as written), -m size=N. */
static bool opt_memory(struct xendm_config *cfg, const char *opt, const char *arg, GError **err)
{
    struct kv_list *kv = parse_kv(opt, arg, "size", err);
    const char *size;
    uint64_t bytes;
    bool ok = false;

    if (kv == NULL) {
        return false;
    }
    size = kv_get(kv, "size");
    if (!check_all_used(kv, opt, err)) {
        goto out;
    }
    if (size == NULL || !parse_u64(size, true, &bytes)) {
        g_set_error(err, OPTIONS_ERROR, 0, "-m: invalid memory size '%s'", arg);
        goto out;
    }
    /* Parsed without a suffix too: a bare number (hex "0x1f" ends in a digit of its own). */
    if (parse_u64(size, false, &bytes)) {
        if (bytes > (UINT64_MAX >> 20)) {
            g_set_error(err, OPTIONS_ERROR, 0, "-m: memory size '%s' too large", arg);
            goto out;
        }
        bytes <<= 20; /* a bare number is MiB */
    }
    if (bytes == 0) {
        g_set_error(err, OPTIONS_ERROR, 0, "-m: memory size must not be 0");
        goto out;
    }
    cfg->ram_size = bytes;
    ok = true;
out:
    kv_free(kv);
    return ok;
}

static bool smp_count(struct kv_list *kv, const char *key, unsigned *out, GError **err)
{
    uint64_t value = 0;

    if (!take_u64(kv, "smp", key, false, &value, err)) {
        return false;
    }
    if (value > MAX_VCPUS) {
        g_set_error(err, OPTIONS_ERROR, 0, "-smp: %s=%" PRIu64 " exceeds %u", key, value,
                    MAX_VCPUS);
        return false;
    }
    *out = (unsigned)value;
    return true;
}

static bool opt_smp(struct xendm_config *cfg, const char *opt, const char *arg, GError **err)
{
    struct kv_list *kv = parse_kv(opt, arg, "cpus", err);
    unsigned cpus = 0, maxcpus = 0, topo = 0;
    bool ok = false;

    if (kv == NULL) {
        return false;
    }
    /* The topology is accepted and ignored: Xen owns CPUID. */
    if (!smp_count(kv, "cpus", &cpus, err) || !smp_count(kv, "maxcpus", &maxcpus, err) ||
        !smp_count(kv, "sockets", &topo, err) || !smp_count(kv, "dies", &topo, err) ||
        !smp_count(kv, "cores", &topo, err) || !smp_count(kv, "threads", &topo, err) ||
        !check_all_used(kv, opt, err)) {
        goto out;
    }
    if (maxcpus != 0 && cpus > maxcpus) {
        g_set_error(err, OPTIONS_ERROR, 0, "-smp: cpus=%u exceeds maxcpus=%u", cpus, maxcpus);
        goto out;
    }
    /*
     * maxcpus bounds CPU hotplug (QMP device_add of vCPU n < maxcpus). As QEMU 7.2's
     * machine_parse_smp_config(): with maxcpus alone, all of them are present from the start.
     */
    if (cpus == 0) {
        cpus = maxcpus;
    }
    cfg->smp_cpus = cpus;
    cfg->smp_maxcpus = maxcpus;
    ok = true;
out:
    kv_free(kv);
    return ok;
}

/*
 * -accel xen[,poll-us=N]: Xen is the only accelerator. poll-us lets the ioreq loop busy-poll
 * for the next request for up to N microseconds after an answer (accel/xen/xen-accel.c); off
 * by default, because dom0's CPUs serve every guest's device model and backends.
 */
static bool opt_accel(struct xendm_config *cfg, const char *opt, const char *arg, GError **err)
{
    struct kv_list *kv = parse_kv(opt, arg, "accel", err);
    const char *name;
    uint64_t poll_us = 0;
    bool ok = false;

    if (kv == NULL) {
        return false;
    }
    name = kv_get(kv, "accel");
    if (!accel_supported("accel", name != NULL ? name : "", err) ||
        !take_u64(kv, "accel", "poll-us", false, &poll_us, err) ||
        !check_all_used(kv, opt, err)) {
        goto out;
    }
    if (poll_us > MAX_POLL_US) {
        g_set_error(err, OPTIONS_ERROR, 0, "-accel: poll-us=%" PRIu64 " exceeds %u", poll_us,
                    MAX_POLL_US);
        goto out;
    }
    cfg->poll_us = (unsigned)poll_us;
    ok = true;
out:
    kv_free(kv);
    return ok;
}

static bool opt_name(struct xendm_config *cfg, const char *opt, const char *arg, GError **err)
{
    struct kv_list *kv = parse_kv(opt, arg, "guest", err);
    bool threads = false, ok = false;

    if (kv == NULL) {
        return false;
    }
    replace_string(&cfg->name, kv_get(kv, "guest"));
    (void)kv_get(kv, "process");
    ok = take_bool(kv, opt, "debug-threads", &threads, err) && check_all_used(kv, opt, err);
    kv_free(kv);
    return ok;
}

static bool opt_flag(struct xendm_config *cfg, const char *opt, const char *arg, GError **err)
{
    static const struct {
        const char *name;
        size_t offset;
    } flags[] = {
        {"nodefaults", offsetof(struct xendm_config, nodefaults)},
        {"no-user-config", offsetof(struct xendm_config, no_user_config)},
        {"no-shutdown", offsetof(struct xendm_config, no_shutdown)},
        {"no-acpi", offsetof(struct xendm_config, no_acpi)},
        {"S", offsetof(struct xendm_config, start_paused)},
        {"xen-domid-restrict", offsetof(struct xendm_config, domid_restrict)},
    };

    for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
        if (strcmp(flags[i].name, opt) == 0) {
            *(bool *)((char *)cfg + flags[i].offset) = true;
            return true;
        }
    }
    g_set_error(err, OPTIONS_ERROR, 0, "internal: no flag -%s", opt);
    return false;
}

static bool opt_action(struct xendm_config *cfg, const char *opt, const char *arg, GError **err)
{
    cfg->action = (opt[0] == 'h' || strcmp(opt, "help") == 0) ? XENDM_ACTION_HELP
                                                               : XENDM_ACTION_VERSION;
    return true;
}

static bool serial_spec_ok(const char *spec)
{
    static const char *const plain[] = {"null", "pty", "stdio"};
    /* "/dev/...": a host terminal, e.g. a Linux stub domain's PV console /dev/hvc3. */
    static const char *const prefixed[] = {"file:", "unix:", "chardev:", "/dev/"};

    for (size_t i = 0; i < ARRAY_SIZE(plain); i++) {
        if (strcmp(spec, plain[i]) == 0) {
            return true;
        }
    }
    for (size_t i = 0; i < ARRAY_SIZE(prefixed); i++) {
        if (g_str_has_prefix(spec, prefixed[i]) && spec[strlen(prefixed[i])] != '\0') {
            return true;
        }
    }
    return false;
}

static bool opt_serial(struct xendm_config *cfg, const char *opt, const char *arg, GError **err)
{
    /* As in QEMU, "none" creates nothing and takes no COM index. */
    if (strcmp(arg, "none") == 0) {
        return true;
    }
    if (!serial_spec_ok(arg)) {
        g_set_error(err, OPTIONS_ERROR, 0, "-serial: backend '%s' is not supported yet", arg);
        return false;
    }
    if (cfg->serials->len >= XENDM_MAX_SERIALS) {
        g_set_error(err, OPTIONS_ERROR, 0, "-serial: at most %d serial ports",
                    XENDM_MAX_SERIALS);
        return false;
    }
    g_ptr_array_add(cfg->serials, g_strdup(arg));
    return true;
}

/* The id of a recorded -chardev, read without marking it used: the chardev layer takes it. */
static const char *chardev_opts_id(const struct kv_list *kv)
{
    for (size_t i = 0; i < kv->count; i++) {
        if (strcmp(kv->pairs[i].key, "id") == 0) {
            return kv->pairs[i].value;
        }
    }
    return NULL;
}

static bool opt_chardev(struct xendm_config *cfg, const char *opt, const char *arg, GError **err)
{
    struct kv_list *kv = parse_kv(opt, arg, "backend", err);
    const char *id;

    if (kv == NULL) {
        return false;
    }
    id = chardev_opts_id(kv);
    if (id == NULL || id[0] == '\0') {
        g_set_error(err, OPTIONS_ERROR, 0, "-chardev: '%s' has no id", arg);
        kv_free(kv);
        return false;
    }
    for (guint i = 0; i < cfg->chardevs->len; i++) {
        const char *other = chardev_opts_id(g_ptr_array_index(cfg->chardevs, i));
        if (strcmp(other, id) == 0) {
            g_set_error(err, OPTIONS_ERROR, 0, "-chardev: duplicate id '%s'", id);
            kv_free(kv);
            return false;
        }
    }
    g_ptr_array_add(cfg->chardevs, kv);
    return true;
}

static bool opt_mon(struct xendm_config *cfg, const char *opt, const char *arg, GError **err)
{
    struct kv_list *kv = parse_kv(opt, arg, "chardev", err);
    bool pretty = false;

    if (kv == NULL) {
        return false;
    }
    const char *chardev = kv_get(kv, "chardev");
    const char *mode = kv_get(kv, "mode");
    if (chardev == NULL || (mode != NULL && strcmp(mode, "control") != 0 &&
                            strcmp(mode, "readline") != 0) ||
        !take_bool(kv, opt, "pretty", &pretty, err) || !check_all_used(kv, opt, err)) {
        if (err != NULL && *err == NULL) {
            g_set_error(err, OPTIONS_ERROR, 0, "-mon: invalid monitor '%s'", arg);
        }
        kv_free(kv);
        return false;
    }
    /* Unmark: the monitor layer will read these again. */
    for (size_t i = 0; i < kv->count; i++) {
        kv->pairs[i].used = false;
    }
    g_ptr_array_add(cfg->monitors, kv);
    return true;
}

static bool opt_device(struct xendm_config *cfg, const char *opt, const char *arg, GError **err)
{
    struct kv_list *kv;

    if (strcmp(arg, "help") == 0 || strcmp(arg, "?") == 0) {
        cfg->action = XENDM_ACTION_DEVICE_HELP;
        return true;
    }
    kv = parse_kv(opt, arg, "driver", err);
    if (kv == NULL) {
        return false;
    }
    if (kv->count == 0 || strcmp(kv->pairs[0].key, "driver") != 0) {
        g_set_error(err, OPTIONS_ERROR, 0, "-device: '%s' does not start with a driver name", arg);
        kv_free(kv);
        return false;
    }
    g_ptr_array_add(cfg->devices, kv);
    return true;
}

/*
 * -drive KEY=VALUE,...: recorded; the block layer (drive_new) checks the keys when the machine
 * is built, since which keys make sense depends on each other (if=, media=).
 */
static bool opt_drive(struct xendm_config *cfg, const char *opt, const char *arg, GError **err)
{
    struct kv_list *kv = parse_kv(opt, arg, NULL, err);

    if (kv == NULL) {
        return false;
    }
    g_ptr_array_add(cfg->drives, kv);
    return true;
}

/*
 * -netdev TYPE,id=ID,...: recorded ("type" is the implied key: "-netdev tap,id=n0" and libxl's
 * "-netdev type=tap,id=n0" are the same); the network layer checks the keys when the machine
 * is built.
 */
static bool opt_netdev(struct xendm_config *cfg, const char *opt, const char *arg, GError **err)
{
    struct kv_list *kv = parse_kv(opt, arg, "type", err);

    if (kv == NULL) {
        return false;
    }
    if (kv->count == 0 || strcmp(kv->pairs[0].key, "type") != 0) {
        g_set_error(err, OPTIONS_ERROR, 0, "-netdev: '%s' does not start with a type", arg);
        kv_free(kv);
        return false;
    }
    g_ptr_array_add(cfg->netdevs, kv);
    return true;
}

/* -net none: the only form implemented. */
static bool opt_none_only(struct xendm_config *cfg, const char *opt, const char *arg,
                          GError **err)
{
    if (strcmp(arg, "none") != 0) {
        return not_supported(opt, err);
    }
    replace_string(&cfg->net, arg);
    return true;
}

/*
 * -display none | sdl[,KEY=VALUE...]: the local window (ui/sdl2.c), as QEMU spells it; libxl's
 * sdl=1 gives -sdl instead, the same thing. libxl always adds "-display none" beside -vnc, which
 * does not turn VNC off. The options after the type are kept for the window.
 */
static bool opt_display(struct xendm_config *cfg, const char *opt, const char *arg,
                        GError **err)
{
    struct kv_list *kv = parse_kv(opt, arg, "display", err);
    const char *type;

    if (kv == NULL) {
        return false;
    }
    type = kv_get(kv, "display");
    if (type == NULL || (strcmp(type, "none") != 0 && strcmp(type, "sdl") != 0)) {
        g_set_error(err, OPTIONS_ERROR, 0, "-display %s: only 'none' and 'sdl' are supported",
                    arg);
        kv_free(kv);
        return false;
    }
    replace_string(&cfg->display, type);
    kv_free(cfg->display_opts);
    cfg->display_opts = kv;
    return true;
}

static bool opt_sdl(struct xendm_config *cfg, const char *opt, const char *arg, GError **err)
{
    (void)arg;
    return opt_display(cfg, opt, "sdl", err);
}

/*
 * -vnc none | HOST:D[,password=on][,to=N][,...] | unix:PATH[,...]: the display and its
 * options, as libxl writes them (reference §5.1). Serving it is the display's business.
 */
static bool opt_vnc(struct xendm_config *cfg, const char *opt, const char *arg, GError **err)
{
    struct kv_list *kv = parse_kv(opt, arg, "vnc", err);
    const char *display;

    if (kv == NULL) {
        return false;
    }
    display = kv_get(kv, "vnc");
    if (display == NULL || *display == '\0') {
        g_set_error(err, OPTIONS_ERROR, 0, "-vnc: no display in '%s'", arg);
        kv_free(kv);
        return false;
    }
    replace_string(&cfg->vnc, display);
    kv_free(cfg->vnc_opts);
    cfg->vnc_opts = kv;
    return true;
}

static bool opt_chroot(struct xendm_config *cfg, const char *opt, const char *arg, GError **err)
{
    if (arg[0] != '/') {
        g_set_error(err, OPTIONS_ERROR, 0, "-chroot: '%s' is not an absolute path", arg);
        return false;
    }
    replace_string(&cfg->chroot_dir, arg);
    return true;
}

static bool opt_runas(struct xendm_config *cfg, const char *opt, const char *arg, GError **err)
{
    if (arg[0] == '\0') {
        g_set_error(err, OPTIONS_ERROR, 0, "-runas: empty user");
        return false;
    }
    replace_string(&cfg->runas, arg);
    return true;
}

/* -sandbox on|off[,obsolete=allow|deny,elevateprivileges=...,spawn=...,resourcecontrol=...] */
static bool opt_sandbox(struct xendm_config *cfg, const char *opt, const char *arg,
                        GError **err)
{
    struct kv_list *kv = parse_kv(opt, arg, "enable", err);
    bool enable = false;

    if (kv == NULL || !take_bool(kv, opt, "enable", &enable, err)) {
        kv_free(kv);
        return false;
    }
    /* The sandbox layer checks the remaining keys against what it knows. */
    kv_free(cfg->sandbox);
    cfg->sandbox = enable ? kv : NULL;
    if (!enable) {
        kv_free(kv);
    }
    return true;
}

/* -incoming fd:K (what libxl passes on restore); other transports are QEMU migration's. */
static bool opt_incoming(struct xendm_config *cfg, const char *opt, const char *arg,
                         GError **err)
{
    uint64_t fd;

    if (!g_str_has_prefix(arg, "fd:") || !parse_u64(arg + 3, false, &fd) || fd > INT32_MAX) {
        g_set_error(err, OPTIONS_ERROR, 0, "-incoming: '%s' is not fd:K", arg);
        return false;
    }
    cfg->incoming_fd = (int)fd;
    return true;
}

static bool opt_boot(struct xendm_config *cfg, const char *opt, const char *arg, GError **err)
{
    /* The firmware (hvmloader + SeaBIOS) decides the boot order on Xen: record it only. */
    replace_string(&cfg->boot, arg);
    return true;
}

static bool opt_keymap(struct xendm_config *cfg, const char *opt, const char *arg, GError **err)
{
    replace_string(&cfg->keymap, arg);
    return true;
}

static bool opt_trace(struct xendm_config *cfg, const char *opt, const char *arg, GError **err)
{
    struct kv_list *kv;
    const char *pattern;
    bool ok;

    if (strcmp(arg, "help") == 0) {
        cfg->action = XENDM_ACTION_TRACE_HELP;
        return true;
    }
    kv = parse_kv(opt, arg, "enable", err);
    if (kv == NULL) {
        return false;
    }
    pattern = kv_get(kv, "enable");
    ok = check_all_used(kv, opt, err);
    if (ok && pattern == NULL) {
        g_set_error(err, OPTIONS_ERROR, 0, "-trace: no pattern in '%s'", arg);
        ok = false;
    }
    if (ok && strcmp(pattern, "help") == 0) {
        cfg->action = XENDM_ACTION_TRACE_HELP;
    } else if (ok) {
        g_ptr_array_add(cfg->trace_patterns, g_strdup(pattern));
    }
    kv_free(kv);
    return ok;
}

/* ---- the table ---- */

struct option_def {
    const char *name;
    bool has_arg;
    option_handler handler;
    const char *help; /* NULL: not listed by --help */
};

static const struct option_def option_table[] = {
    {"xen-domid", true, opt_domid, "-xen-domid N      the guest's domain id (required)"},
    {"machine", true, opt_machine,
     "-machine xenfv[,suppress-vmdesc=on,max-ram-below-4g=SIZE] | pc,accel=xen"},
    {"M", true, opt_machine, NULL},
    {"m", true, opt_memory, "-m [size=]N[M|G]  guest RAM (MiB without a suffix)"},
    {"smp", true, opt_smp, "-smp N[,maxcpus=M] vCPUs"},
    {"accel", true, opt_accel,
     "-accel xen[,poll-us=N]  busy-poll up to N us for the next ioreq (default 0: off)"},
    {"name", true, opt_name, "-name NAME        guest name (also guest=NAME,...)"},
    {"nodefaults", false, opt_flag, "-nodefaults       accepted (xendm creates no defaults)"},
    {"no-user-config", false, opt_flag, "-no-user-config   accepted"},
    {"no-shutdown", false, opt_flag, "-no-shutdown      accepted"},
    {"no-acpi", false, opt_flag, "-no-acpi          no ACPI power management function (PIIX4 PM)"},
    {"S", false, opt_flag, "-S                start paused: the guest runs on QMP cont"},
    {"serial", true, opt_serial,
     "-serial SPEC      none|null|pty|stdio|file:PATH|unix:PATH[,...]|chardev:ID|/dev/TTY"
     " (up to 4)"},
    {"chardev", true, opt_chardev, "-chardev BACKEND,id=ID[,...]"},
    {"mon", true, opt_mon, "-mon chardev=ID,mode=control (a QMP monitor on that chardev)"},
    {"device", true, opt_device, "-device DRIVER[,PROP=VALUE...]   (-device help lists them)"},
    {"netdev", true, opt_netdev,
     "-netdev tap,id=ID,ifname=IF[,script=no,downscript=no] | socket,id=ID,... (a NIC's backend)"},
    {"drive", true, opt_drive,
     "-drive file=PATH,if=ide|none,index=N,media=disk|cdrom,format=raw[,cache=MODE][,id=ID]"},
    {"display", true, opt_display, "-display none | sdl   the local window (SDL2)"},
    {"sdl", false, opt_sdl, "-sdl              the same as -display sdl (libxl's sdl=1)"},
    {"vnc", true, opt_vnc, "-vnc none | HOST:D[,password=on,to=N] | unix:PATH"},
    {"xen-domid-restrict", false, opt_flag,
     "-xen-domid-restrict  after start-up, Xen handles reach only this domain"},
    {"chroot", true, opt_chroot, "-chroot DIR       chroot after start-up"},
    {"runas", true, opt_runas, "-runas USER|UID:GID  drop privileges after start-up"},
    {"sandbox", true, opt_sandbox, "-sandbox on[,...] a seccomp allow-list after start-up"},
    {"incoming", true, opt_incoming, "-incoming fd:K    restore device state from fd K"},
    {"net", true, opt_none_only, "-net none"},
    {"boot", true, opt_boot, "-boot [order=]DEVS  boot order for the firmware (CMOS): c disk, d CD, n net"},
    {"k", true, opt_keymap, "-k KEYMAP         the layout for VNC viewers that send keysyms (en-us)"},
    {"trace", true, opt_trace, "-trace [enable=]PATTERN | help"},
    {"h", false, opt_action, "-h, --help        this help"},
    {"help", false, opt_action, NULL},
    {"version", false, opt_action, "-version          print the version"},
};

/* Options libxl 4.17 can emit (or QEMU users expect) that xendm does not implement yet. */
static const char *const unsupported_options[] = {
    "global",
    "usb", "usbdevice", "soundhw", "audiodev", "vga", "spice", "nographic", "monitor",
    "qmp", "pidfile", "daemonize", "cdrom", "hda", "hdb", "hdc", "hdd", "fda", "fdb", "bios",
    "option-rom", "rtc", "localtime", "parallel", "acpitable", "smbios", "cpu",
    "object", "blockdev", "xen-attach", "gdb", "s", "D", "d", "msg", "overcommit",
    "enable-kvm", "full-screen", "debugcon", "virtfs", "iscsi", "loadvm", "snapshot", "mem-path",
    "mem-prealloc", "numa", "kernel", "initrd", "append", "dtb", "readconfig", "writeconfig",
    "device-model",
};

static const struct option_def *find_option(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(option_table); i++) {
        if (strcmp(option_table[i].name, name) == 0) {
            return &option_table[i];
        }
    }
    return NULL;
}

static bool is_unsupported(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(unsupported_options); i++) {
        if (strcmp(unsupported_options[i], name) == 0) {
            return true;
        }
    }
    return false;
}

bool options_parse(struct xendm_config *cfg, int argc, char **argv, GError **err)
{
    for (int i = 1; i < argc; i++) {
        const char *word = argv[i];
        const struct option_def *def;
        const char *name, *arg = NULL;

        if (word[0] != '-' || word[1] == '\0') {
            g_set_error(err, OPTIONS_ERROR, 0, "unexpected argument '%s'", word);
            return false;
        }
        /* QEMU accepts "--opt" as "-opt". */
        name = word + (word[1] == '-' ? 2 : 1);
        def = find_option(name);
        if (def == NULL) {
            if (is_unsupported(name)) {
                return not_supported(name, err);
            }
            g_set_error(err, OPTIONS_ERROR, 0, "unknown option -%s", name);
            return false;
        }
        if (def->has_arg) {
            if (i + 1 >= argc) {
                g_set_error(err, OPTIONS_ERROR, 0, "option -%s requires an argument", name);
                return false;
            }
            arg = argv[++i];
        }
        if (!def->handler(cfg, def->name, arg, err)) {
            return false;
        }
    }
    return true;
}

void options_print_help(FILE *out)
{
    fprintf(out, "%s: a device model for Xen HVM guests\n"
                 "usage: xendm -xen-domid N [options]\n\nOptions:\n",
            XENDM_VERSION_STRING);
    for (size_t i = 0; i < ARRAY_SIZE(option_table); i++) {
        if (option_table[i].help != NULL) {
            fprintf(out, "  %s\n", option_table[i].help);
        }
    }
}
