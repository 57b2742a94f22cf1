/*
 * The exact argv libxl 4.17 built for realistic xl configs, recorded on the real-Xen rig
 * (tests/fixtures/libxl-argv/, refreshed by tests/xen/scenarios/tool-argv-capture.sh), parsed as
 * xendm parses them. Where a config asks for a device xendm does not emulate yet, the test pins
 * the refusal naming the first such option, so that landing a device updates this file.
 */
#include <glib.h>
#include <string.h>

#include "xendm/options.h"

#ifndef FIXTURE_DIR
#error "FIXTURE_DIR must name tests/fixtures/libxl-argv"
#endif

/* argv[0] = "xendm", then one argument per non-comment line of the fixture. */
static GPtrArray *load_fixture(const char *name)
{
    g_autofree char *path = g_build_filename(FIXTURE_DIR, name, NULL);
    g_autofree char *text = NULL;
    GError *err = NULL;
    GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
    char **lines;

    g_assert_true(g_file_get_contents(path, &text, NULL, &err));
    g_assert_no_error(err);
    g_ptr_array_add(argv, g_strdup("xendm"));
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l != NULL; l++) {
        if (**l != '\0' && **l != '#') {
            g_ptr_array_add(argv, g_strdup(*l));
        }
    }
    g_strfreev(lines);
    return argv;
}

static struct xendm_config *parse_fixture(const char *name, GError **err)
{
    g_autoptr(GPtrArray) argv = load_fixture(name);
    struct xendm_config *cfg = config_new();

    if (!options_parse(cfg, (int)argv->len, (char **)argv->pdata, err)) {
        config_free(cfg);
        return NULL;
    }
    return cfg;
}

static struct xendm_config *parse_ok(const char *name)
{
    GError *err = NULL;
    struct xendm_config *cfg = parse_fixture(name, &err);

    g_assert_no_error(err);
    g_assert_nonnull(cfg);
    /* Every line libxl builds has the QMP pair, -nodefaults and xenfv. */
    g_assert_true(cfg->have_domid);
    g_assert_true(cfg->no_shutdown && cfg->nodefaults && cfg->no_user_config);
    g_assert_cmpuint(cfg->monitors->len, ==, 2);
    g_assert_cmpuint(cfg->chardevs->len, ==, 2);
    g_assert_cmpstr(cfg->machine_type, ==, "xenfv");
    g_assert_true(cfg->suppress_vmdesc);
    return cfg;
}

static void test_minimal(void)
{
    struct xendm_config *cfg = parse_ok("minimal.argv");

    g_assert_cmpuint(cfg->domid, ==, 1);
    g_assert_cmpstr(cfg->name, ==, "minimal");
    g_assert_cmpuint(cfg->ram_size, ==, 32ull << 20);
    g_assert_cmpstr(cfg->vnc, ==, "none");
    g_assert_cmpstr(cfg->net, ==, "none");
    g_assert_cmpuint(cfg->serials->len, ==, 1);
    g_assert_true(g_str_has_prefix(g_ptr_array_index(cfg->serials, 0), "file:"));
    g_assert_cmpuint(cfg->devices->len, ==, 0);
    g_assert_false(cfg->start_paused || cfg->domid_restrict);
    g_assert_cmpint(cfg->incoming_fd, ==, -1);
    config_free(cfg);
}

/* dm_restrict=1: a pre-opened QMP socket (fd=14), -S, the restriction options, -runas uid:gid. */
static void test_restricted(void)
{
    struct xendm_config *cfg = parse_ok("restricted.argv");

    g_assert_cmpuint(cfg->domid, ==, 4);
    g_assert_true(cfg->start_paused);
    g_assert_true(cfg->domid_restrict);
    g_assert_cmpstr(cfg->chroot_dir, ==, "/var/run/xen/qemu-root-4");
    g_assert_cmpstr(cfg->runas, ==, "131076:131072");
    g_assert_cmpuint(cfg->ram_size, ==, 256ull << 20);
    config_free(cfg);
}

/* xl save + xl restore: the new device model gets the saved state on -incoming fd:K. */
static void test_saved_and_restored(void)
{
    struct xendm_config *saved = parse_ok("saved.argv");
    struct xendm_config *restored = parse_ok("restore.argv");

    g_assert_cmpint(saved->incoming_fd, ==, -1);
    g_assert_cmpint(restored->incoming_fd, ==, 15);
    g_assert_cmpstr(saved->name, ==, restored->name);
    g_assert_cmpuint(saved->ram_size, ==, restored->ram_size);
    g_assert_cmpuint(restored->domid, !=, saved->domid);
    config_free(saved);
    config_free(restored);
}

static void expect_refusal(const char *name, const char *message)
{
    GError *err = NULL;

    g_assert_null(parse_fixture(name, &err));
    g_assert_nonnull(err);
    g_assert_cmpstr(err->message, ==, message);
    g_error_free(err);
}

/* The value of key in kv, without marking it used. */
static const char *kv_peek(const struct kv_list *kv, const char *key)
{
    for (size_t i = 0; i < kv->count; i++) {
        if (strcmp(kv->pairs[i].key, key) == 0) {
            return kv->pairs[i].value;
        }
    }
    return NULL;
}

/* A disk as libxl 4.17 passes it: -drive file=...,if=ide,index=0,media=disk,... */
static void test_linux_disk(void)
{
    struct xendm_config *cfg = parse_ok("linux.argv");
    struct kv_list *drive;

    g_assert_cmpuint(cfg->drives->len, ==, 1);
    drive = g_ptr_array_index(cfg->drives, 0);
    g_assert_cmpstr(kv_peek(drive, "file"), ==, "/tmp/rig/disk.img");
    g_assert_cmpstr(kv_peek(drive, "if"), ==, "ide");
    g_assert_cmpstr(kv_peek(drive, "index"), ==, "0");
    g_assert_cmpstr(kv_peek(drive, "media"), ==, "disk");
    g_assert_cmpstr(kv_peek(drive, "format"), ==, "raw");
    g_assert_cmpstr(kv_peek(drive, "cache"), ==, "writeback");
    config_free(cfg);
}

/* vif lines: libxl's default rtl8139 and a model=e1000, each -device before its -netdev. */
static void test_nics(void)
{
    struct xendm_config *cfg = parse_ok("nics.argv");
    struct kv_list *netdev;

    g_assert_cmpuint(cfg->netdevs->len, ==, 2);
    netdev = g_ptr_array_index(cfg->netdevs, 0);
    g_assert_cmpstr(kv_peek(netdev, "type"), ==, "tap");
    g_assert_cmpstr(kv_peek(netdev, "id"), ==, "net0");
    g_assert_cmpstr(kv_peek(netdev, "ifname"), ==, "vif4.0-emu");
    g_assert_cmpstr(kv_peek(netdev, "br"), ==, "xenbr0");
    g_assert_cmpstr(kv_peek(netdev, "script"), ==, "no");
    netdev = g_ptr_array_index(cfg->netdevs, 1);
    g_assert_cmpstr(kv_peek(netdev, "ifname"), ==, "vif4.1-emu");
    config_free(cfg);
}

/* Configs whose devices arrive with later issues (USB). */
static void test_device_configs_pending(void)
{
    expect_refusal("windows.argv", "option -usb is not supported yet");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/libxl-argv/minimal", test_minimal);
    g_test_add_func("/libxl-argv/nics", test_nics);
    g_test_add_func("/libxl-argv/restricted", test_restricted);
    g_test_add_func("/libxl-argv/saved-and-restored", test_saved_and_restored);
    g_test_add_func("/libxl-argv/linux-disk", test_linux_disk);
    g_test_add_func("/libxl-argv/device-configs-pending", test_device_configs_pending);
    return g_test_run();
}
