/*
 * xl-style config parsing and libxl 4.17's device-model command line
 * (tools/libs/light/libxl_dm.c behaviour, reference §5.1), for the subset of
 * options a single emulated HVM domain here needs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "argv.h"

#define XSIM_CONFIG_ERROR (g_quark_from_static_string("xsim-config"))

void xsim_config_init(struct xsim_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->name = g_strdup("xensim");
    cfg->memory_mb = 64;
    cfg->vcpus = 1;
    cfg->serial = g_ptr_array_new_with_free_func(g_free);
    cfg->vga = g_strdup("cirrus");
    cfg->videoram_mb = -1;
    cfg->vnc = true;
    cfg->vncunused = true;
    cfg->boot = g_strdup("cda");
    cfg->acpi = true;
    cfg->disks = g_ptr_array_new_with_free_func(g_free);
    cfg->vifs = g_ptr_array_new_with_free_func(g_free);
    cfg->dm_args = g_ptr_array_new_with_free_func(g_free);
    cfg->dm_args_hvm = g_ptr_array_new_with_free_func(g_free);
    cfg->on_poweroff = g_strdup("destroy");
    cfg->on_reboot = g_strdup("restart");
    cfg->on_crash = g_strdup("destroy");
}

void xsim_config_clear(struct xsim_config *cfg)
{
    g_free(cfg->name);
    g_free(cfg->vga);
    g_free(cfg->vnclisten);
    g_free(cfg->vncpasswd);
    g_free(cfg->keymap);
    g_free(cfg->boot);
    g_free(cfg->on_poweroff);
    g_free(cfg->on_reboot);
    g_free(cfg->on_crash);
    g_free(cfg->device_model_override);
    g_ptr_array_unref(cfg->serial);
    g_ptr_array_unref(cfg->disks);
    g_ptr_array_unref(cfg->vifs);
    g_ptr_array_unref(cfg->dm_args);
    g_ptr_array_unref(cfg->dm_args_hvm);
    memset(cfg, 0, sizeof(*cfg));
}

/* ------------------------------------------------------------------ the xl config language */

struct cfg_value {
    bool is_list;
    bool is_string;
    char *scalar;
    GPtrArray *list;
};

struct lexer {
    const char *p;
    unsigned line;
};

static void skip_space(struct lexer *lx, bool newlines)
{
    for (;;) {
        if (*lx->p == '#') {
            while (*lx->p && *lx->p != '\n')
                lx->p++;
        } else if (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\r' ||
                   (newlines && *lx->p == '\n')) {
            if (*lx->p == '\n')
                lx->line++;
            lx->p++;
        } else {
            return;
        }
    }
}

static char *lex_atom(struct lexer *lx, bool *is_string, GError **err)
{
    if (*lx->p == '"' || *lx->p == '\'') {
        char quote = *lx->p++;
        GString *s = g_string_new(NULL);
        while (*lx->p && *lx->p != quote && *lx->p != '\n') {
            if (*lx->p == '\\' && lx->p[1])
                lx->p++;
            g_string_append_c(s, *lx->p++);
        }
        if (*lx->p != quote) {
            g_set_error(err, XSIM_CONFIG_ERROR, 1, "line %u: unterminated string", lx->line);
            g_string_free(s, TRUE);
            return NULL;
        }
        lx->p++;
        *is_string = true;
        return g_string_free(s, FALSE);
    }
    const char *start = lx->p;
    /* strchr() finds the terminating NUL too: test for it first. */
    while (g_ascii_isalnum(*lx->p) || (*lx->p && strchr("_-.+:/", *lx->p)))
        lx->p++;
    if (lx->p == start) {
        g_set_error(err, XSIM_CONFIG_ERROR, 1, "line %u: value expected", lx->line);
        return NULL;
    }
    *is_string = false;
    return g_strndup(start, (gsize)(lx->p - start));
}

static bool lex_value(struct lexer *lx, struct cfg_value *v, GError **err)
{
    memset(v, 0, sizeof(*v));
    if (*lx->p != '[') {
        v->scalar = lex_atom(lx, &v->is_string, err);
        return v->scalar != NULL;
    }
    lx->p++;
    v->is_list = true;
    v->list = g_ptr_array_new_with_free_func(g_free);
    for (;;) {
        skip_space(lx, true);
        if (*lx->p == ']') {
            lx->p++;
            return true;
        }
        bool is_string;
        char *item = lex_atom(lx, &is_string, err);
        if (!item)
            return false;
        g_ptr_array_add(v->list, item);
        skip_space(lx, true);
        if (*lx->p == ',')
            lx->p++;
        else if (*lx->p != ']') {
            g_set_error(err, XSIM_CONFIG_ERROR, 1, "line %u: ',' or ']' expected", lx->line);
            return false;
        }
    }
}

static void value_clear(struct cfg_value *v)
{
    g_free(v->scalar);
    if (v->list)
        g_ptr_array_unref(v->list);
}

static bool want_uint(const char *key, const struct cfg_value *v, unsigned *out, GError **err)
{
    char *end;
    unsigned long n = v->scalar ? strtoul(v->scalar, &end, 0) : 0;
    if (!v->scalar || *end || n > 0xffffffu) {
        g_set_error(err, XSIM_CONFIG_ERROR, 1, "%s: a number is expected", key);
        return false;
    }
    *out = (unsigned)n;
    return true;
}

static void set_str(char **dst, const struct cfg_value *v)
{
    g_free(*dst);
    *dst = g_strdup(v->scalar ? v->scalar : "");
}

static void set_list(GPtrArray *dst, const struct cfg_value *v)
{
    g_ptr_array_set_size(dst, 0);
    if (v->is_list) {
        for (guint i = 0; i < v->list->len; i++)
            g_ptr_array_add(dst, g_strdup(g_ptr_array_index(v->list, i)));
    } else if (v->scalar) {
        g_ptr_array_add(dst, g_strdup(v->scalar));
    }
}

static bool apply_bool(const char *key, const struct cfg_value *v, bool *out, GError **err)
{
    unsigned n;
    if (!want_uint(key, v, &n, err))
        return false;
    *out = n != 0;
    return true;
}

static bool apply_key(struct xsim_config *cfg, const char *key, const struct cfg_value *v,
                      GError **err)
{
    unsigned n;
    if (!strcmp(key, "name"))
        set_str(&cfg->name, v);
    else if (!strcmp(key, "memory"))
        return want_uint(key, v, &cfg->memory_mb, err);
    else if (!strcmp(key, "maxmem"))
        return want_uint(key, v, &cfg->maxmem_mb, err);
    else if (!strcmp(key, "vcpus"))
        return want_uint(key, v, &cfg->vcpus, err);
    else if (!strcmp(key, "maxvcpus"))
        return want_uint(key, v, &cfg->maxvcpus, err);
    else if (!strcmp(key, "serial"))
        set_list(cfg->serial, v);
    else if (!strcmp(key, "vga"))
        set_str(&cfg->vga, v);
    else if (!strcmp(key, "stdvga")) {
        if (!want_uint(key, v, &n, err))
            return false;
        g_free(cfg->vga);
        cfg->vga = g_strdup(n ? "stdvga" : "cirrus");
    } else if (!strcmp(key, "videoram")) {
        if (!want_uint(key, v, &n, err))
            return false;
        cfg->videoram_mb = (int)n;
    } else if (!strcmp(key, "vnc"))
        return apply_bool(key, v, &cfg->vnc, err);
    else if (!strcmp(key, "vnclisten"))
        set_str(&cfg->vnclisten, v);
    else if (!strcmp(key, "vncdisplay"))
        return want_uint(key, v, &cfg->vncdisplay, err);
    else if (!strcmp(key, "vncunused"))
        return apply_bool(key, v, &cfg->vncunused, err);
    else if (!strcmp(key, "vncpasswd"))
        set_str(&cfg->vncpasswd, v);
    else if (!strcmp(key, "sdl"))
        return apply_bool(key, v, &cfg->sdl, err);
    else if (!strcmp(key, "keymap"))
        set_str(&cfg->keymap, v);
    else if (!strcmp(key, "boot"))
        set_str(&cfg->boot, v);
    else if (!strcmp(key, "acpi"))
        return apply_bool(key, v, &cfg->acpi, err);
    else if (!strcmp(key, "disk"))
        set_list(cfg->disks, v);
    else if (!strcmp(key, "vif"))
        set_list(cfg->vifs, v);
    else if (!strcmp(key, "device_model_args"))
        set_list(cfg->dm_args, v);
    else if (!strcmp(key, "device_model_args_hvm"))
        set_list(cfg->dm_args_hvm, v);
    else if (!strcmp(key, "on_poweroff"))
        set_str(&cfg->on_poweroff, v);
    else if (!strcmp(key, "on_reboot"))
        set_str(&cfg->on_reboot, v);
    else if (!strcmp(key, "on_crash"))
        set_str(&cfg->on_crash, v);
    else if (!strcmp(key, "device_model_override"))
        set_str(&cfg->device_model_override, v);
    else
        g_printerr("xensim: config: ignoring '%s'\n", key);
    return true;
}

bool xsim_config_parse_text(struct xsim_config *cfg, const char *text, GError **err)
{
    struct lexer lx = { .p = text, .line = 1 };
    for (;;) {
        skip_space(&lx, true);
        if (!*lx.p)
            return true;
        if (*lx.p == ';') {
            lx.p++;
            continue;
        }
        const char *start = lx.p;
        while (g_ascii_isalnum(*lx.p) || *lx.p == '_')
            lx.p++;
        if (lx.p == start) {
            g_set_error(err, XSIM_CONFIG_ERROR, 1, "line %u: key expected", lx.line);
            return false;
        }
        g_autofree char *key = g_strndup(start, (gsize)(lx.p - start));
        skip_space(&lx, false);
        if (*lx.p != '=') {
            g_set_error(err, XSIM_CONFIG_ERROR, 1, "line %u: '=' expected", lx.line);
            return false;
        }
        lx.p++;
        skip_space(&lx, false);
        struct cfg_value v;
        bool ok = lex_value(&lx, &v, err) && apply_key(cfg, key, &v, err);
        value_clear(&v);
        if (!ok)
            return false;
    }
}

bool xsim_config_parse_file(struct xsim_config *cfg, const char *path, GError **err)
{
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, err))
        return false;
    return xsim_config_parse_text(cfg, text, err);
}

/* ------------------------------------------------------------------ libxl's command line */

unsigned xsim_config_video_mb(const struct xsim_config *cfg)
{
    if (!strcmp(cfg->vga, "none"))
        return 0;
    if (cfg->videoram_mb >= 0)
        return (unsigned)cfg->videoram_mb;
    if (!strcmp(cfg->vga, "stdvga"))
        return 16;
    if (!strcmp(cfg->vga, "qxl"))
        return 128;
    return 8; /* cirrus */
}

unsigned xsim_config_max_vcpus(const struct xsim_config *cfg)
{
    return cfg->maxvcpus ? cfg->maxvcpus : cfg->vcpus;
}

static void add(GPtrArray *a, const char *s) { g_ptr_array_add(a, g_strdup(s)); }

G_GNUC_PRINTF(2, 3) static void addf(GPtrArray *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_ptr_array_add(a, g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

static void add_qmp(GPtrArray *a, const char *id, const char *dir, const char *base,
                    uint32_t domid)
{
    add(a, "-chardev");
    addf(a, "socket,id=%s,path=%s/%s-%u,server=on,wait=off", id, dir, base, domid);
    add(a, "-mon");
    addf(a, "chardev=%s,mode=control", id);
}

static void add_display(GPtrArray *a, const struct xsim_config *cfg)
{
    if (cfg->vnc) {
        const char *listen = cfg->vnclisten ? cfg->vnclisten : "127.0.0.1";
        GString *arg = g_string_new(NULL);
        if (strchr(listen, ':'))
            g_string_append(arg, listen);
        else
            g_string_append_printf(arg, "%s:%u", listen, cfg->vncdisplay);
        if (cfg->vncpasswd && cfg->vncpasswd[0])
            g_string_append(arg, ",password=on");
        if (cfg->vncunused)
            g_string_append(arg, ",to=99");
        add(a, "-vnc");
        g_ptr_array_add(a, g_string_free(arg, FALSE));
    } else {
        add(a, "-vnc");
        add(a, "none");
    }
    if (cfg->sdl) {
        add(a, "-sdl");
    } else {
        add(a, "-display");
        add(a, "none");
    }
    if (cfg->keymap) {
        add(a, "-k");
        add(a, cfg->keymap);
    }
}

static void add_vga(GPtrArray *a, const struct xsim_config *cfg)
{
    unsigned mb = xsim_config_video_mb(cfg);
    if (!strcmp(cfg->vga, "none"))
        return;
    add(a, "-device");
    if (!strcmp(cfg->vga, "stdvga"))
        addf(a, "VGA,vgamem_mb=%u", mb);
    else if (!strcmp(cfg->vga, "qxl"))
        addf(a, "qxl-vga,vram_size_mb=%u,ram_size_mb=%u", mb / 2, mb / 2);
    else
        addf(a, "cirrus-vga,vgamem_mb=%u", mb);
}

/* An xl vif spec, "mac=...,bridge=...,model=...": one emulated NIC unless type=vif. */
static bool add_nic(GPtrArray *a, const char *spec, unsigned devid, uint32_t domid)
{
    g_autofree char *mac = NULL, *bridge = NULL, *model = NULL, *type = NULL;
    g_auto(GStrv) parts = g_strsplit(spec, ",", -1);
    for (unsigned i = 0; parts[i]; i++) {
        char *kv = g_strstrip(parts[i]);
        char *eq = strchr(kv, '=');
        if (!eq)
            continue;
        *eq = '\0';
        char **dst = !strcmp(kv, "mac") ? &mac : !strcmp(kv, "bridge") ? &bridge
                   : !strcmp(kv, "model") ? &model : !strcmp(kv, "type") ? &type : NULL;
        if (dst) {
            g_free(*dst);
            *dst = g_strdup(eq + 1);
        }
    }
    if (type && !strcmp(type, "vif"))
        return false; /* PV only: no emulated NIC */
    if (!mac)
        mac = g_strdup_printf("00:16:3e:%02x:%02x:%02x", g_random_int_range(0, 128),
                              g_random_int_range(0, 256), g_random_int_range(0, 256));
    add(a, "-device");
    addf(a, "%s,id=nic%u,netdev=net%u,mac=%s", model ? model : "rtl8139", devid, devid, mac);
    add(a, "-netdev");
    addf(a, "type=tap,id=net%u,ifname=vif%u.%u-emu,br=%s,script=no,downscript=no", devid, domid,
         devid, bridge ? bridge : "xenbr0");
    return true;
}

/* An xl disk spec: "target,format,vdev,access" (or the 3-field legacy form / key=value). */
static void add_disk(GPtrArray *a, const char *spec)
{
    g_autofree char *target = NULL, *format = NULL, *vdev = NULL;
    bool cdrom = false;
    g_auto(GStrv) parts = g_strsplit(spec, ",", -1);
    unsigned nr = g_strv_length(parts), pos = 0;
    const char *order4[] = { "target", "format", "vdev", "access" };
    const char *order3[] = { "target", "vdev", "access" };
    for (unsigned i = 0; i < nr; i++) {
        char *item = g_strstrip(parts[i]);
        const char *key;
        const char *val = item;
        char *eq = strchr(item, '=');
        if (eq) {
            *eq = '\0';
            key = item;
            val = eq + 1;
        } else {
            key = nr >= 4 ? (pos < 4 ? order4[pos] : "") : (pos < 3 ? order3[pos] : "");
            pos++;
        }
        if (!strcmp(key, "target")) {
            const char *colon = strchr(val, ':');
            if (colon && (g_str_has_prefix(val, "phy:") || g_str_has_prefix(val, "file:")))
                val = colon + 1;
            target = g_strdup(val);
        } else if (!strcmp(key, "format")) {
            format = g_strdup(val);
        } else if (!strcmp(key, "vdev")) {
            g_autofree char *v = g_strdup(val);
            char *colon = strchr(v, ':');
            if (colon) {
                cdrom = !strcmp(colon + 1, "cdrom");
                *colon = '\0';
            }
            vdev = g_strdup(v);
        } else if (!strcmp(key, "devtype")) {
            cdrom = !strcmp(val, "cdrom");
        }
    }
    if (!vdev || strlen(vdev) != 3 || strncmp(vdev, "hd", 2) || vdev[2] < 'a' || vdev[2] > 'd') {
        g_printerr("xensim: disk '%s': only hda-hdd are emulated here, skipped\n", spec);
        return;
    }
    unsigned index = (unsigned)(vdev[2] - 'a');
    const char *fmt = format ? format : "raw";
    add(a, "-drive");
    if (cdrom)
        addf(a, "if=ide,index=%u,readonly=on,media=cdrom,id=ide-%u%s%s%s%s", index,
             768 + index * 64, target && *target ? ",file=" : "", target ? target : "",
             target && *target ? ",format=" : "", target && *target ? fmt : "");
    else
        addf(a, "file=%s,if=ide,index=%u,media=disk,format=%s,cache=writeback",
             target ? target : "", index, fmt);
}

GPtrArray *xsim_build_dm_argv(const struct xsim_config *cfg, const char *dm_path, uint32_t domid,
                              const char *qmp_dir)
{
    GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
    add(a, dm_path);
    add(a, "-xen-domid");
    addf(a, "%u", domid);
    add(a, "-no-shutdown");
    add_qmp(a, "libxl-cmd", qmp_dir, "qmp-libxl", domid);
    add_qmp(a, "libxenstat-cmd", qmp_dir, "qmp-libxenstat", domid);
    add(a, "-nodefaults");
    add(a, "-no-user-config");
    add(a, "-name");
    add(a, cfg->name);
    add_display(a, cfg);
    for (guint i = 0; i < cfg->serial->len; i++) {
        add(a, "-serial");
        add(a, g_ptr_array_index(cfg->serial, i));
    }
    add_vga(a, cfg);
    add(a, "-boot");
    addf(a, "order=%s", cfg->boot);
    if (!cfg->acpi)
        add(a, "-no-acpi");
    unsigned maxv = xsim_config_max_vcpus(cfg);
    if (maxv > 1) {
        add(a, "-smp");
        addf(a, "%u,maxcpus=%u", MIN(cfg->vcpus, maxv), maxv);
    }
    unsigned nics = 0;
    for (guint i = 0; i < cfg->vifs->len; i++) {
        if (add_nic(a, g_ptr_array_index(cfg->vifs, i), i, domid))
            nics++;
    }
    if (nics == 0) {
        add(a, "-net");
        add(a, "none");
    }
    for (guint i = 0; i < cfg->dm_args->len; i++)
        add(a, g_ptr_array_index(cfg->dm_args, i));
    add(a, "-machine");
    add(a, "xenfv,suppress-vmdesc=on");
    for (guint i = 0; i < cfg->dm_args_hvm->len; i++)
        add(a, g_ptr_array_index(cfg->dm_args_hvm, i));
    unsigned maxmem = cfg->maxmem_mb ? cfg->maxmem_mb : cfg->memory_mb;
    unsigned video = xsim_config_video_mb(cfg);
    add(a, "-m");
    addf(a, "%u", maxmem > video ? maxmem - video : 0);
    for (guint i = 0; i < cfg->disks->len; i++)
        add_disk(a, g_ptr_array_index(cfg->disks, i));
    return a;
}
