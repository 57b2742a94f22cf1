/* Command-line parsing: libxl 4.17's command lines (reference §5.1) and the errors. */
#include <glib.h>

#include "xendm/options.h"

/* Parses a space-separated command line (no argument contains a space here). */
static struct xendm_config *parse_line(const char *line, GError **err)
{
    g_autofree char *full = g_strdup_printf("xendm %s", line);
    char **argv = g_strsplit_set(full, " \n", -1);
    GPtrArray *args = g_ptr_array_new();
    struct xendm_config *cfg = config_new();
    bool ok;

    for (char **a = argv; *a != NULL; a++) {
        if (**a != '\0') {
            g_ptr_array_add(args, *a);
        }
    }
    ok = options_parse(cfg, (int)args->len, (char **)args->pdata, err);
    g_ptr_array_free(args, TRUE);
    g_strfreev(argv);
    if (!ok) {
        config_free(cfg);
        return NULL;
    }
    return cfg;
}

static const char *kv_value(struct kv_list *kv, const char *key)
{
    for (size_t i = 0; i < kv->count; i++) {
        if (strcmp(kv->pairs[i].key, key) == 0) {
            return kv->pairs[i].value;
        }
    }
    return NULL;
}

/* Captured from libxl 4.17.7 on real Xen (memory=64, serial="file:/tmp/s.log", vga="none"). */
static const char libxl_fw1[] =
    "-xen-domid 1 -no-shutdown"
    " -chardev socket,id=libxl-cmd,path=/var/run/xen/qmp-libxl-1,server=on,wait=off"
    " -mon chardev=libxl-cmd,mode=control"
    " -chardev socket,id=libxenstat-cmd,path=/var/run/xen/qmp-libxenstat-1,server=on,wait=off"
    " -mon chardev=libxenstat-cmd,mode=control"
    " -nodefaults -no-user-config -name fw1 -vnc none -display none -serial file:/tmp/s.log"
    " -boot order=cda -net none -machine xenfv,suppress-vmdesc=on -m 64";

static void test_libxl_fw1(void)
{
    GError *err = NULL;
    struct xendm_config *cfg = parse_line(libxl_fw1, &err);
    struct kv_list *kv;

    g_assert_no_error(err);
    g_assert_nonnull(cfg);
    g_assert_cmpint(cfg->action, ==, XENDM_ACTION_RUN);
    g_assert_true(cfg->have_domid);
    g_assert_cmpuint(cfg->domid, ==, 1);
    g_assert_true(cfg->no_shutdown && cfg->nodefaults && cfg->no_user_config);
    g_assert_false(cfg->start_paused);
    g_assert_cmpuint(cfg->chardevs->len, ==, 2);
    kv = g_ptr_array_index(cfg->chardevs, 0);
    g_assert_cmpstr(kv_value(kv, "backend"), ==, "socket");
    g_assert_cmpstr(kv_value(kv, "id"), ==, "libxl-cmd");
    g_assert_cmpstr(kv_value(kv, "path"), ==, "/var/run/xen/qmp-libxl-1");
    g_assert_cmpstr(kv_value(kv, "server"), ==, "on");
    g_assert_cmpstr(kv_value(kv, "wait"), ==, "off");
    kv = g_ptr_array_index(cfg->chardevs, 1);
    g_assert_cmpstr(kv_value(kv, "id"), ==, "libxenstat-cmd");
    g_assert_cmpuint(cfg->monitors->len, ==, 2);
    kv = g_ptr_array_index(cfg->monitors, 1);
    g_assert_cmpstr(kv_value(kv, "chardev"), ==, "libxenstat-cmd");
    g_assert_cmpstr(kv_value(kv, "mode"), ==, "control");
    g_assert_cmpstr(cfg->name, ==, "fw1");
    g_assert_cmpstr(cfg->vnc, ==, "none");
    g_assert_cmpstr(cfg->display, ==, "none");
    g_assert_cmpstr(cfg->net, ==, "none");
    g_assert_cmpstr(cfg->boot, ==, "order=cda");
    g_assert_cmpuint(cfg->serials->len, ==, 1);
    g_assert_cmpstr(g_ptr_array_index(cfg->serials, 0), ==, "file:/tmp/s.log");
    g_assert_cmpstr(cfg->machine_type, ==, "xenfv");
    g_assert_true(cfg->suppress_vmdesc);
    g_assert_cmpuint(cfg->ram_size, ==, 64ull << 20);
    g_assert_cmpuint(cfg->devices->len, ==, 0);
    g_assert_cmpuint(config_max_vcpus(cfg), ==, 1);
    config_free(cfg);
}

/*
 * A Linux stub domain's argv (libxl 4.17.7 on the rig: /vm/UUID/image/dm-argv, no QMP sockets,
 * the guest's serial on the stub domain's PV console 3), plus the QMP monitor the stub domain's
 * /init adds (tests/xen/stubdom/init).
 */
static void test_libxl_stubdom(void)
{
    GError *err = NULL;
    struct xendm_config *cfg = parse_line(
        "-xen-domid 1 -no-shutdown -nodefaults -no-user-config -name stubdom -display none"
        " -serial /dev/hvc3 -boot order=cda -net none -machine xenfv,suppress-vmdesc=on"
        " -device pc-testdev -m 32"
        " -chardev socket,id=stubdom-qmp,path=/run/qmp.sock,server=on,wait=off"
        " -mon chardev=stubdom-qmp,mode=control", &err);

    g_assert_no_error(err);
    g_assert_nonnull(cfg);
    g_assert_cmpuint(cfg->domid, ==, 1);
    g_assert_cmpuint(cfg->serials->len, ==, 1);
    g_assert_cmpstr(g_ptr_array_index(cfg->serials, 0), ==, "/dev/hvc3");
    g_assert_cmpuint(cfg->monitors->len, ==, 1);
    g_assert_cmpuint(cfg->ram_size, ==, 32ull << 20);
    config_free(cfg);
}

/* With vga unset, libxl adds its default cirrus card: it parses (the device comes later). */
static void test_libxl_fw1_cirrus(void)
{
    GError *err = NULL;
    g_autofree char *line = g_strdup_printf("%s -device cirrus-vga,vgamem_mb=8", libxl_fw1);
    struct xendm_config *cfg = parse_line(line, &err);
    struct kv_list *kv;

    g_assert_no_error(err);
    g_assert_cmpuint(cfg->devices->len, ==, 1);
    kv = g_ptr_array_index(cfg->devices, 0);
    g_assert_cmpstr(kv_value(kv, "driver"), ==, "cirrus-vga");
    g_assert_cmpstr(kv_value(kv, "vgamem_mb"), ==, "8");
    config_free(cfg);
}

/* The reference's "demo" example (domid 5, 2 vCPUs, stdvga, VNC, pty serial, disk, vif). */
static const char libxl_demo_head[] =
    "-xen-domid 5 -no-shutdown"
    " -chardev socket,id=libxl-cmd,path=/var/run/xen/qmp-libxl-5,server=on,wait=off"
    " -mon chardev=libxl-cmd,mode=control"
    " -chardev socket,id=libxenstat-cmd,path=/var/run/xen/qmp-libxenstat-5,server=on,wait=off"
    " -mon chardev=libxenstat-cmd,mode=control"
    " -nodefaults -no-user-config -name demo";
static const char libxl_demo_vnc[] = " -vnc 127.0.0.1:0,to=99";
static const char libxl_demo_middle[] =
    " -display none -serial pty -device VGA,vgamem_mb=16 -boot order=cda -smp 2,maxcpus=2"
    " -device rtl8139,id=nic0,netdev=net0,mac=00:16:3e:5a:2b:01";
static const char libxl_demo_netdev[] =
    " -netdev type=tap,id=net0,ifname=vif5.0-emu,br=xenbr0,script=no,downscript=no";
static const char libxl_demo_tail[] = " -machine xenfv,suppress-vmdesc=on -m 2032";
static const char libxl_demo_drive[] =
    " -drive file=/dev/vg0/demo,if=ide,index=0,media=disk,format=raw,cache=writeback";

static void test_libxl_demo(void)
{
    GError *err = NULL;
    g_autofree char *full = g_strconcat(libxl_demo_head, libxl_demo_vnc, libxl_demo_middle,
                                        libxl_demo_netdev, libxl_demo_tail, libxl_demo_drive,
                                        NULL);
    g_autofree char *supported = g_strconcat(libxl_demo_head, " -vnc none", libxl_demo_middle,
                                             libxl_demo_tail, libxl_demo_drive, NULL);
    struct xendm_config *cfg;
    struct kv_list *kv;

    /* The whole line parses; -netdev is recorded with its type as the first key. */
    cfg = parse_line(full, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(cfg->netdevs->len, ==, 1);
    kv = g_ptr_array_index(cfg->netdevs, 0);
    g_assert_cmpstr(kv_value(kv, "type"), ==, "tap");
    g_assert_cmpstr(kv_value(kv, "ifname"), ==, "vif5.0-emu");
    g_assert_cmpstr(kv_value(kv, "br"), ==, "xenbr0");
    config_free(cfg);

    cfg = parse_line(supported, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(cfg->domid, ==, 5);
    g_assert_cmpstr(cfg->name, ==, "demo");
    g_assert_cmpstr(g_ptr_array_index(cfg->serials, 0), ==, "pty");
    g_assert_cmpuint(cfg->smp_cpus, ==, 2);
    g_assert_cmpuint(cfg->smp_maxcpus, ==, 2);
    g_assert_cmpuint(config_max_vcpus(cfg), ==, 2);
    g_assert_cmpuint(cfg->ram_size, ==, 2032ull << 20);
    g_assert_cmpuint(cfg->devices->len, ==, 2);
    kv = g_ptr_array_index(cfg->devices, 1);
    g_assert_cmpstr(kv_value(kv, "driver"), ==, "rtl8139");
    g_assert_cmpstr(kv_value(kv, "mac"), ==, "00:16:3e:5a:2b:01");
    g_assert_cmpuint(cfg->drives->len, ==, 1);
    kv = g_ptr_array_index(cfg->drives, 0);
    g_assert_cmpstr(kv_value(kv, "file"), ==, "/dev/vg0/demo");
    g_assert_cmpstr(kv_value(kv, "cache"), ==, "writeback");
    config_free(cfg);
}

static void expect_error(const char *line, const char *message)
{
    GError *err = NULL;

    g_assert_null(parse_line(line, &err));
    g_assert_nonnull(err);
    g_assert_cmpstr(err->message, ==, message);
    g_error_free(err);
}

/* dm_restrict, restore and VNC: what libxl adds for them (reference §5.1, items 3, 5, 7, 8, 13). */
static void test_restrict_and_restore(void)
{
    GError *err = NULL;
    struct xendm_config *cfg = parse_line(
        "-xen-domid 7 -no-shutdown -chardev socket,id=libxl-cmd,fd=12,server=on,wait=off"
        " -mon chardev=libxl-cmd,mode=control -S -vnc 127.0.0.1:3,password=on,to=99"
        " -xen-domid-restrict -chroot /var/run/xen/qemu-root-7 -incoming fd:15"
        " -sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"
        " -runas 131079:131072",
        &err);

    g_assert_no_error(err);
    g_assert_true(cfg->start_paused);
    g_assert_true(cfg->domid_restrict);
    g_assert_cmpstr(cfg->chroot_dir, ==, "/var/run/xen/qemu-root-7");
    g_assert_cmpstr(cfg->runas, ==, "131079:131072");
    g_assert_cmpint(cfg->incoming_fd, ==, 15);
    g_assert_nonnull(cfg->sandbox);
    g_assert_cmpstr(kv_value(cfg->sandbox, "spawn"), ==, "deny");
    g_assert_cmpstr(cfg->vnc, ==, "127.0.0.1:3");
    g_assert_cmpstr(kv_value(cfg->vnc_opts, "to"), ==, "99");
    config_free(cfg);

    cfg = parse_line("-xen-domid 7 -sandbox off -vnc none", &err);
    g_assert_no_error(err);
    g_assert_null(cfg->sandbox);
    g_assert_false(cfg->domid_restrict);
    g_assert_cmpint(cfg->incoming_fd, ==, -1);
    g_assert_cmpstr(cfg->vnc, ==, "none");
    config_free(cfg);

    expect_error("-incoming tcp:0:4444", "-incoming: 'tcp:0:4444' is not fd:K");
    expect_error("-incoming fd:x", "-incoming: 'fd:x' is not fd:K");
    expect_error("-chroot relative/dir", "-chroot: 'relative/dir' is not an absolute path");
    expect_error("-sandbox maybe", "-sandbox: Parameter 'enable' expects 'on' or 'off', not 'maybe'");
    expect_error("-vnc ,to=99", "-vnc: empty item in ',to=99'");
    expect_error("-vnc to=99", "-vnc: no display in 'to=99'");

    /* libxl's sdl=1 and QEMU's spelling give the same window; -display none after it wins. */
    cfg = parse_line("-xen-domid 7 -sdl", &err);
    g_assert_no_error(err);
    g_assert_cmpstr(cfg->display, ==, "sdl");
    config_free(cfg);
    cfg = parse_line("-xen-domid 7 -display sdl,gl=off -display none", &err);
    g_assert_no_error(err);
    g_assert_cmpstr(cfg->display, ==, "none");
    config_free(cfg);
    cfg = parse_line("-xen-domid 7 -display sdl,gl=off", &err);
    g_assert_no_error(err);
    g_assert_cmpstr(cfg->display, ==, "sdl");
    g_assert_cmpstr(kv_get(cfg->display_opts, "gl"), ==, "off");
    config_free(cfg);
}

static void test_unsupported(void)
{
    expect_error("-display gtk", "-display gtk: only 'none' and 'sdl' are supported");
    expect_error("-net nic", "option -net is not supported yet");
    expect_error("-usb", "option -usb is not supported yet");
    expect_error("-soundhw ac97", "option -soundhw is not supported yet");
    expect_error("-global foo.bar=1", "option -global is not supported yet");
    expect_error("-serial vc", "-serial: backend 'vc' is not supported yet");
}

static void test_unknown_and_malformed(void)
{
    expect_error("-frobnicate", "unknown option -frobnicate");
    expect_error("--frobnicate 1", "unknown option -frobnicate");
    expect_error("disk.img", "unexpected argument 'disk.img'");
    expect_error("-xen-domid", "option -xen-domid requires an argument");
    expect_error("-xen-domid abc", "-xen-domid: invalid domain id 'abc'");
    expect_error("-xen-domid 0", "-xen-domid: invalid domain id '0'");
    expect_error("-xen-domid 32752", "-xen-domid: invalid domain id '32752'");
    expect_error("-m 0", "-m: memory size must not be 0");
    expect_error("-m 64X", "-m: invalid memory size '64X'");
    expect_error("-m 0x100000000000", "-m: memory size '0x100000000000' too large");
    expect_error("-m size=64,maxmem=128", "-m: invalid parameter 'maxmem'");
    expect_error("-machine q35", "-machine: machine type 'q35' is not supported");
    expect_error("-machine pc", "-machine: machine 'pc' needs accel=xen");
    expect_error("-machine xenfv,accel=kvm", "-machine: accelerator 'kvm' is not supported");
    expect_error("-machine xenfv,igd-passthru=on", "-machine: invalid parameter 'igd-passthru'");
    expect_error("-smp 4,maxcpus=2", "-smp: cpus=4 exceeds maxcpus=2");
    expect_error("-smp 1000", "-smp: cpus=1000 exceeds 128");
    expect_error("-chardev null", "-chardev: 'null' has no id");
    expect_error("-chardev null,id=a -chardev null,id=a", "-chardev: duplicate id 'a'");
    expect_error("-device id=x", "-device: 'id=x' does not start with a driver name");
    expect_error("-netdev id=x", "-netdev: 'id=x' does not start with a type");
    expect_error("-serial null -serial null -serial null -serial null -serial null",
                 "-serial: at most 4 serial ports");
    expect_error("-trace events=/tmp/x", "-trace: invalid parameter 'events'");
    expect_error("-accel kvm", "-accel: accelerator 'kvm' is not supported");
    expect_error("-accel xen,poll-us=1001", "-accel: poll-us=1001 exceeds 1000");
    expect_error("-accel xen,thread=single", "-accel: invalid parameter 'thread'");
}

static void test_forms(void)
{
    GError *err = NULL;
    struct xendm_config *cfg = parse_line(
        "-M pc,accel=xen,max-ram-below-4g=0xf0000000 -m size=1G -smp 2"
        " -name guest=g1,debug-threads=on"
        " -S -no-acpi -k en-us -serial none -serial chardev:c0 -chardev null,id=c0"
        " -trace enable=xen_* -trace ioreq_sync -device isa-debugcon,iobase=0x402,chardev=c0",
        &err);

    g_assert_no_error(err);
    g_assert_cmpstr(cfg->machine_type, ==, "pc");
    g_assert_cmphex(cfg->max_ram_below_4g, ==, 0xf0000000);
    g_assert_cmpuint(cfg->ram_size, ==, 1ull << 30);
    g_assert_cmpuint(cfg->smp_cpus, ==, 2);
    g_assert_cmpuint(config_max_vcpus(cfg), ==, 2);
    g_assert_cmpstr(cfg->name, ==, "g1");
    g_assert_true(cfg->start_paused && cfg->no_acpi);
    g_assert_cmpstr(cfg->keymap, ==, "en-us");
    /* "none" takes no COM index. */
    g_assert_cmpuint(cfg->serials->len, ==, 1);
    g_assert_cmpstr(g_ptr_array_index(cfg->serials, 0), ==, "chardev:c0");
    g_assert_cmpuint(cfg->trace_patterns->len, ==, 2);
    g_assert_cmpstr(g_ptr_array_index(cfg->trace_patterns, 0), ==, "xen_*");
    g_assert_cmpstr(g_ptr_array_index(cfg->trace_patterns, 1), ==, "ioreq_sync");
    g_assert_cmpuint(cfg->poll_us, ==, 0); /* busy polling is off unless asked for */
    config_free(cfg);

    cfg = parse_line("-accel xen,poll-us=15", &err);
    g_assert_no_error(err);
    g_assert_cmpuint(cfg->poll_us, ==, 15);
    config_free(cfg);
    cfg = parse_line("-accel accel=xen", &err);
    g_assert_no_error(err);
    g_assert_cmpuint(cfg->poll_us, ==, 0);
    config_free(cfg);

    /* A bare number is MiB in hex too, whatever its last digit; a suffix is taken as written. */
    cfg = parse_line("-m 0x1f", &err);
    g_assert_no_error(err);
    g_assert_cmpuint(cfg->ram_size, ==, 0x1full << 20);
    config_free(cfg);
    cfg = parse_line("-m 512k", &err);
    g_assert_no_error(err);
    g_assert_cmpuint(cfg->ram_size, ==, 512ull << 10);
    config_free(cfg);
}

static void test_actions(void)
{
    static const struct {
        const char *line;
        enum xendm_action action;
    } cases[] = {
        {"-h", XENDM_ACTION_HELP},
        {"--help", XENDM_ACTION_HELP},
        {"-version", XENDM_ACTION_VERSION},
        {"--version", XENDM_ACTION_VERSION},
        {"-trace help", XENDM_ACTION_TRACE_HELP},
        {"-trace enable=help", XENDM_ACTION_TRACE_HELP},
        {"-device help", XENDM_ACTION_DEVICE_HELP},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        GError *err = NULL;
        struct xendm_config *cfg = parse_line(cases[i].line, &err);
        g_assert_no_error(err);
        g_assert_cmpint(cfg->action, ==, cases[i].action);
        config_free(cfg);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/options/libxl-fw1", test_libxl_fw1);
    g_test_add_func("/options/libxl-fw1-cirrus", test_libxl_fw1_cirrus);
    g_test_add_func("/options/libxl-stubdom", test_libxl_stubdom);
    g_test_add_func("/options/libxl-demo", test_libxl_demo);
    g_test_add_func("/options/restrict-and-restore", test_restrict_and_restore);
    g_test_add_func("/options/unsupported", test_unsupported);
    g_test_add_func("/options/unknown-and-malformed", test_unknown_and_malformed);
    g_test_add_func("/options/forms", test_forms);
    g_test_add_func("/options/actions", test_actions);
    return g_test_run();
}
