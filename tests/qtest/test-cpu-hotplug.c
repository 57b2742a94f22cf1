/*
 * vCPU hotplug and the ACPI power button as the toolstack drives them over QMP and the guest
 * sees them through port ioreqs, against xendm and Debian's qemu-xen alike.
 *
 * xl vcpu-set DOM N (libxl 4.17, libxl_set_vcpuonline) sends query-cpus-fast, then
 * query-hotpluggable-cpus (it takes "type" of the first entry as the driver), then for each
 * vCPU to bring online
 *   device_add {"id": "cpu-N", "driver": TYPE, "socket-id": N, "core-id": 0, "thread-id": 0}
 * The guest's DSDT (hvmloader, Xen tools/libacpi/mk_dsdt.c) reads the presence bitmap at
 * 0xAF00 (bit N = vCPU N) from its GPE0 bit 2 handler (\_GPE._E02 -> \_SB.PRSC); the device
 * model sets the bit, raises GPE0_STS bit 2 (0xAFE0) and with it the SCI (ISA IRQ 9) while
 * GPE0_EN bit 2 (0xAFE2) is set.
 *
 * QMP system_powerdown sets PM1a_STS.PWRBTN_STS (bit 8, ACPI 2.0 §4.7.3.1.1) in the PIIX4 PM
 * block at PMBA, raising the SCI while PM1a_EN.PWRBTN_EN is set.
 *
 * ACPI S3 as qemu-xen does it: SLP_TYP 1 with SLP_EN in PM1a_CNT is not a shutdown; the device
 * model sets HVM_PARAM_ACPI_S_STATE to 3 (Xen parks the vCPUs), writes 0xFE (S3 resume) to
 * CMOS 0x0F and reports "suspended"; QMP system_wakeup sets the parameter back to 0.
 *
 * The test opens its own QMP socket (-chardev socket ... -mon) next to libxl's.
 */
#include <errno.h>
#include <glib.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "qtest-pci.h"
#include "qtest-qmp.h"

#define PIIX4_PM QPCI_DEVFN(1, 3)
#define PIIX4_PMBA 0x40      /* PM base address (82371AB datasheet, function 3) */
#define PIIX4_PMREGMISC 0x80 /* bit 0 PMIOSE: the PM block decodes */
/* Not hvmloader's 0xB000: xensim, as Xen, answers PM1a_STS/EN there itself. */
#define PM_BASE 0xc000
#define PM1_STS (PM_BASE + 0)
#define PM1_EN (PM_BASE + 2)
#define PM1_PWRBTN 0x0100

#define CPU_BITMAP 0xaf00
#define GPE0_STS 0xafe0
#define GPE0_EN 0xafe2
#define GPE_CPU_HOTPLUG 0x0004 /* GPE0 bit 2 */
#define SCI_IRQ 9


/* ---- the machine ---- */

struct machine {
    struct qtest *qt;
    struct qmp *qmp;
};

/* xensim with an xl config (vcpus, maxvcpus, acpi) and a QMP socket of the test's own. */
static void machine_start(struct machine *mc, const char *config)
{
    g_autofree char *cfg_path = qtest_tmp_path("domain.cfg");
    g_autofree char *qmp_path = qtest_tmp_path("qmp-test.sock");
    g_autofree char *text = g_strdup_printf("%s\nvga = \"none\"\nvnc = 0\n", config);
    g_autofree char *xensim_args = g_strdup_printf("--config %s --serial null", cfg_path);
    g_autofree char *dm_args = g_strdup_printf(
        "-chardev socket,id=test-qmp,path=%s,server=on,wait=off "
        "-mon chardev=test-qmp,mode=control", qmp_path);

    unlink(qmp_path);
    g_assert_true(g_file_set_contents(cfg_path, text, -1, NULL));
    mc->qt = qtest_start(xensim_args, dm_args);
    mc->qmp = qmp_open(qmp_path);
    qmp_call_ok(mc->qmp, "{\"execute\":\"qmp_capabilities\"}");
}

static void machine_stop(struct machine *mc)
{
    qmp_close(mc->qmp);
    g_assert_cmpint(qtest_quit(mc->qt), ==, 0);
}

/* Whether the interrupt events since the last look include this one ("isa 9 1"). */
static bool irq_logged(struct qtest *qt, const char *event)
{
    char **events = qtest_irq_log(qt);
    bool seen = false;

    for (char **e = events; *e; e++)
        seen |= strcmp(*e, event) == 0;
    g_strfreev(events);
    return seen;
}

static void forget_irq_log(struct qtest *qt)
{
    g_strfreev(qtest_irq_log(qt));
}

/* libxl's device_add for vCPU n. */
static char *device_add_vcpu_json(unsigned n)
{
    return g_strdup_printf("{\"execute\":\"device_add\",\"arguments\":{\"id\":\"cpu-%u\","
                           "\"driver\":\"qemu32-i386-cpu\",\"socket-id\":%u,\"core-id\":0,"
                           "\"thread-id\":0}}", n, n);
}

static void assert_cpu_index_listed(struct qmp *q, unsigned n, bool listed)
{
    g_autofree char *reply = qmp_call(q, "{\"execute\":\"query-cpus-fast\"}");
    g_autofree char *want = g_strdup_printf("\"cpu-index\":%u,", n);
    g_autofree char *want_last = g_strdup_printf("\"cpu-index\":%u}", n);

    g_assert_nonnull(strstr(reply, "\"return\":["));
    g_assert_cmpint(strstr(reply, want) != NULL || strstr(reply, want_last) != NULL, ==,
                    listed);
}

/* ---- vCPU hotplug ---- */

static void test_vcpu_set_as_libxl(void)
{
    struct machine mc;
    g_autofree char *hotpluggable = NULL;
    g_autofree char *add2 = device_add_vcpu_json(2);

    machine_start(&mc, "vcpus = 2\nmaxvcpus = 4");
    g_assert_cmphex(qtest_inl(mc.qt, CPU_BITMAP), ==, 0x3);
    g_assert_cmphex(qtest_inl(mc.qt, CPU_BITMAP + 4), ==, 0);
    g_assert_cmphex(qtest_inw(mc.qt, GPE0_STS), ==, 0);
    /* The guest's ACPI driver enables the GPE its DSDT has a method for. */
    qtest_outw(mc.qt, GPE0_EN, GPE_CPU_HOTPLUG);
    g_assert_cmphex(qtest_inw(mc.qt, GPE0_EN), ==, GPE_CPU_HOTPLUG);
    g_assert_cmpint(qtest_isa_level(mc.qt, SCI_IRQ), ==, 0);
    forget_irq_log(mc.qt);

    /* xl vcpu-set 3: what is online, which driver, then device_add of vCPU 2 only. */
    assert_cpu_index_listed(mc.qmp, 1, true);
    assert_cpu_index_listed(mc.qmp, 2, false);
    hotpluggable = qmp_call(mc.qmp, "{\"execute\":\"query-hotpluggable-cpus\"}");
    g_assert_true(g_str_has_prefix(hotpluggable, "{\"return\":[{"));
    g_assert_nonnull(strstr(hotpluggable, "\"type\":\"qemu32-i386-cpu\""));
    g_assert_nonnull(strstr(hotpluggable, "\"socket-id\":3"));
    g_assert_null(strstr(hotpluggable, "\"socket-id\":4"));
    qmp_call_ok(mc.qmp, add2);

    /* The guest sees it: bitmap bit 2, GPE0_STS bit 2, the SCI up. */
    g_assert_cmphex(qtest_inl(mc.qt, CPU_BITMAP), ==, 0x7);
    g_assert_cmphex(qtest_inw(mc.qt, GPE0_STS), ==, GPE_CPU_HOTPLUG);
    g_assert_true(irq_logged(mc.qt, "isa 9 1"));
    g_assert_cmpint(qtest_isa_level(mc.qt, SCI_IRQ), ==, 1);
    /* Its handler clears the status (write 1 to clear): the SCI drops, the bit stays. */
    qtest_outw(mc.qt, GPE0_STS, GPE_CPU_HOTPLUG);
    g_assert_cmphex(qtest_inw(mc.qt, GPE0_STS), ==, 0);
    g_assert_cmpint(qtest_isa_level(mc.qt, SCI_IRQ), ==, 0);
    g_assert_cmphex(qtest_inb(mc.qt, CPU_BITMAP), ==, 0x7);
    /* The bitmap is the toolstack's: a guest write changes nothing. */
    qtest_outb(mc.qt, CPU_BITMAP, 0xff);
    g_assert_cmphex(qtest_inb(mc.qt, CPU_BITMAP), ==, 0x7);

    /* libxl's next query-cpus-fast lists it; query-hotpluggable-cpus names its path. */
    assert_cpu_index_listed(mc.qmp, 2, true);
    g_free(hotpluggable);
    hotpluggable = qmp_call(mc.qmp, "{\"execute\":\"query-hotpluggable-cpus\"}");
    g_assert_nonnull(strstr(hotpluggable, "\"qom-path\":\"/machine/peripheral/cpu-2\""));
    machine_stop(&mc);
}

/* With GPE0_EN bit 2 clear the status waits; enabling it then raises the SCI. */
static void test_gpe_disabled_then_enabled(void)
{
    struct machine mc;
    g_autofree char *add1 = device_add_vcpu_json(1);

    machine_start(&mc, "vcpus = 1\nmaxvcpus = 2");
    g_assert_cmphex(qtest_inl(mc.qt, CPU_BITMAP), ==, 0x1);
    forget_irq_log(mc.qt);
    qmp_call_ok(mc.qmp, add1);
    g_assert_cmphex(qtest_inl(mc.qt, CPU_BITMAP), ==, 0x3);
    g_assert_cmphex(qtest_inw(mc.qt, GPE0_STS), ==, GPE_CPU_HOTPLUG);
    g_assert_false(irq_logged(mc.qt, "isa 9 1"));
    g_assert_cmpint(qtest_isa_level(mc.qt, SCI_IRQ), ==, 0);
    qtest_outw(mc.qt, GPE0_EN, GPE_CPU_HOTPLUG);
    g_assert_cmpint(qtest_isa_level(mc.qt, SCI_IRQ), ==, 1);
    qtest_outw(mc.qt, GPE0_STS, GPE_CPU_HOTPLUG);
    g_assert_cmpint(qtest_isa_level(mc.qt, SCI_IRQ), ==, 0);
    machine_stop(&mc);
}

/* The errors qemu-xen gives, with nothing changing in the guest's view. */
static void test_device_add_refused(void)
{
    struct machine mc;
    g_autofree char *add1 = device_add_vcpu_json(1);
    g_autofree char *add4 = device_add_vcpu_json(4);

    machine_start(&mc, "vcpus = 2\nmaxvcpus = 4");
    qtest_outw(mc.qt, GPE0_EN, GPE_CPU_HOTPLUG);
    forget_irq_log(mc.qt);
    /* Present from the start. */
    qmp_call_fails(mc.qmp, add1, "CPU[1] with APIC ID 1 exists");
    /* Beyond maxcpus. */
    qmp_call_fails(mc.qmp, add4, "Invalid CPU socket-id: 4 must be in range 0:3");
    qmp_call_fails(mc.qmp, "{\"execute\":\"device_add\",\"arguments\":{\"id\":\"c\","
                   "\"driver\":\"qemu32-i386-cpu\",\"socket-id\":3}}",
                   "CPU core-id is not set");
    qmp_call_fails(mc.qmp, "{\"execute\":\"device_add\",\"arguments\":{\"id\":\"c\","
                   "\"driver\":\"qemu32-i386-cpu\",\"socket-id\":3,\"core-id\":1,"
                   "\"thread-id\":0}}", "Invalid CPU core-id: 1 must be in range 0:0");
    qmp_call_fails(mc.qmp, "{\"execute\":\"device_add\",\"arguments\":{\"id\":\"c\","
                   "\"driver\":\"qemu32-i386-cpu\",\"socket-id\":4294967296,\"core-id\":0,"
                   "\"thread-id\":0}}", "Parameter 'socket-id' expects int32_t");
    qmp_call_fails(mc.qmp, "{\"execute\":\"device_add\",\"arguments\":{\"id\":\"c\","
                   "\"driver\":\"qemu32-i386-cpu\",\"socket-id\":3,\"core-id\":0,"
                   "\"thread-id\":0,\"bogus\":1}}",
                   "Property 'qemu32-i386-cpu.bogus' not found");
    qmp_call_fails(mc.qmp, "{\"execute\":\"device_add\",\"arguments\":{\"id\":\"1c\","
                   "\"driver\":\"qemu32-i386-cpu\",\"socket-id\":3,\"core-id\":0,"
                   "\"thread-id\":0}}", "Parameter 'id' expects an identifier");
    qmp_call_fails(mc.qmp, "{\"execute\":\"device_add\",\"arguments\":{\"id\":\"c\","
                   "\"driver\":\"no-such-cpu\"}}",
                   "'no-such-cpu' is not a valid device model name");
    qmp_call_fails(mc.qmp, "{\"execute\":\"device_add\",\"arguments\":{\"id\":\"c\"}}",
                   "Parameter 'driver' is missing");
    g_assert_cmphex(qtest_inl(mc.qt, CPU_BITMAP), ==, 0x3);
    g_assert_cmphex(qtest_inw(mc.qt, GPE0_STS), ==, 0);
    g_assert_false(irq_logged(mc.qt, "isa 9 1"));

    /* vCPU 3 under an id, then the same id again. */
    qmp_call_ok(mc.qmp, "{\"execute\":\"device_add\",\"arguments\":{\"id\":\"cpu-2\","
                "\"driver\":\"qemu32-i386-cpu\",\"socket-id\":3,\"core-id\":0,\"thread-id\":0}}");
    g_assert_cmphex(qtest_inl(mc.qt, CPU_BITMAP), ==, 0xb);
    qmp_call_fails(mc.qmp, "{\"execute\":\"device_add\",\"arguments\":{\"id\":\"cpu-2\","
                   "\"driver\":\"qemu32-i386-cpu\",\"socket-id\":2,\"core-id\":0,"
                   "\"thread-id\":0}}", "Duplicate device ID 'cpu-2'");
    g_assert_cmphex(qtest_inl(mc.qt, CPU_BITMAP), ==, 0xb);
    /* cpu-add went with QEMU 6.0: libxl uses it only when query-hotpluggable-cpus is gone. */
    {
        g_autofree char *reply = qmp_call(mc.qmp, "{\"execute\":\"cpu-add\","
                                                  "\"arguments\":{\"id\":2}}");
        g_assert_nonnull(strstr(reply, "\"class\":\"CommandNotFound\""));
    }
    machine_stop(&mc);
}

/* -no-acpi: no PIIX4 PM; the vCPU is added all the same (the guest is not told). */
static void test_no_acpi(void)
{
    struct machine mc;
    g_autofree char *add1 = device_add_vcpu_json(1);

    machine_start(&mc, "vcpus = 1\nmaxvcpus = 2\nacpi = 0");
    g_assert_cmphex(qtest_inl(mc.qt, CPU_BITMAP), ==, 0xffffffff); /* nobody decodes it */
    forget_irq_log(mc.qt);
    qmp_call_ok(mc.qmp, add1);
    assert_cpu_index_listed(mc.qmp, 1, true);
    /* Nothing listens to the power button either: qemu-xen answers {} all the same. */
    qmp_call_ok(mc.qmp, "{\"execute\":\"system_powerdown\"}");
    g_assert_false(irq_logged(mc.qt, "isa 9 1"));
    {
        g_autofree char *reason = qtest_cmd_ok(mc.qt, "shutdown_reason");
        g_assert_cmpstr(reason, ==, "none");
    }
    machine_stop(&mc);
}

/* ---- the power button ---- */

static void program_pm_base(struct qtest *qt)
{
    qpci_write(qt, PIIX4_PM, PIIX4_PMBA, PM_BASE | 1, 4);
    qpci_write(qt, PIIX4_PM, PIIX4_PMREGMISC, 1, 1);
}

static void test_system_powerdown(void)
{
    struct machine mc;

    machine_start(&mc, "vcpus = 1");
    program_pm_base(mc.qt);
    g_assert_cmphex(qtest_inw(mc.qt, PM1_STS) & PM1_PWRBTN, ==, 0);
    qtest_outw(mc.qt, PM1_EN, PM1_PWRBTN);
    g_assert_cmphex(qtest_inw(mc.qt, PM1_EN), ==, PM1_PWRBTN);
    forget_irq_log(mc.qt);

    qmp_call_ok(mc.qmp, "{\"execute\":\"system_powerdown\"}");
    g_assert_cmphex(qtest_inw(mc.qt, PM1_STS) & PM1_PWRBTN, ==, PM1_PWRBTN);
    g_assert_true(irq_logged(mc.qt, "isa 9 1"));
    g_assert_cmpint(qtest_isa_level(mc.qt, SCI_IRQ), ==, 1);
    /* The guest's handler clears it (write 1 to clear) and, say, starts its S5 sequence. */
    qtest_outw(mc.qt, PM1_STS, PM1_PWRBTN);
    g_assert_cmphex(qtest_inw(mc.qt, PM1_STS) & PM1_PWRBTN, ==, 0);
    g_assert_cmpint(qtest_isa_level(mc.qt, SCI_IRQ), ==, 0);
    machine_stop(&mc);
}

#define PM1_CNT (PM_BASE + 4)
#define PM1_CNT_SLP_EN 0x2000
#define SLP_TYP_S3 (1u << 10) /* hvmloader's DSDT: _S3 */
#define HVM_PARAM_ACPI_S_STATE 14

/* qemu-xen acts on a sleep request from its main loop, a moment after the port write. */
static void expect_s_state(struct qtest *qt, const char *want)
{
    char *value = NULL;

    for (int tries = 0; tries < 200; tries++) {
        g_free(value);
        value = qtest_cmd_ok(qt, "hvm_param %d", HVM_PARAM_ACPI_S_STATE);
        if (strcmp(value, want) == 0) {
            break;
        }
        g_usleep(10000);
    }
    g_assert_cmpstr(value, ==, want);
    g_free(value);
}

static void test_s3_suspend_wakeup(void)
{
    struct machine mc;
    g_autofree char *reason = NULL;

    machine_start(&mc, "vcpus = 1");
    program_pm_base(mc.qt);
    qmp_call_fails(mc.qmp, "{\"execute\":\"system_wakeup\"}",
                   "Unable to wake up: guest is not in suspended state");
    qtest_outw(mc.qt, PM1_CNT, SLP_TYP_S3 | PM1_CNT_SLP_EN);
    expect_s_state(mc.qt, "0x3");
    reason = qtest_cmd_ok(mc.qt, "shutdown_reason");
    g_assert_cmpstr(reason, ==, "none"); /* the domain lives on */
    qtest_outb(mc.qt, 0x70, 0x0f);
    g_assert_cmphex(qtest_inb(mc.qt, 0x71), ==, 0xfe);
    g_autofree char *status = qmp_call(mc.qmp, "{\"execute\":\"query-status\"}");
    g_assert_nonnull(strstr(status, "\"status\":\"suspended\""));
    qmp_call_ok(mc.qmp, "{\"execute\":\"system_wakeup\"}");
    expect_s_state(mc.qt, "0x0");
    g_autofree char *running = qmp_call(mc.qmp, "{\"execute\":\"query-status\"}");
    g_assert_nonnull(strstr(running, "\"status\":\"running\""));
    machine_stop(&mc);
}

/* Without PWRBTN_EN the SCI stays low. */
static void test_system_powerdown_masked(void)
{
    struct machine mc;

    machine_start(&mc, "vcpus = 1");
    program_pm_base(mc.qt);
    forget_irq_log(mc.qt);
    qmp_call_ok(mc.qmp, "{\"execute\":\"system_powerdown\"}");
    g_assert_false(irq_logged(mc.qt, "isa 9 1"));
    g_assert_cmpint(qtest_isa_level(mc.qt, SCI_IRQ), ==, 0);
    /*
     * ACPI 2.0 §4.7.3.1.1: the status bit is set whether or not enabled, as xendm does;
     * QEMU's acpi_pm1_evt_power_down() sets it only while PWRBTN_EN is set.
     */
    if (qtest_dm_is_xendm()) {
        g_assert_cmphex(qtest_inw(mc.qt, PM1_STS) & PM1_PWRBTN, ==, PM1_PWRBTN);
    }
    machine_stop(&mc);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/cpu-hotplug/vcpu-set-as-libxl", test_vcpu_set_as_libxl);
    g_test_add_func("/cpu-hotplug/gpe-disabled-then-enabled", test_gpe_disabled_then_enabled);
    g_test_add_func("/cpu-hotplug/device-add-refused", test_device_add_refused);
    g_test_add_func("/cpu-hotplug/no-acpi", test_no_acpi);
    g_test_add_func("/cpu-hotplug/system-powerdown", test_system_powerdown);
    g_test_add_func("/cpu-hotplug/system-powerdown-masked", test_system_powerdown_masked);
    g_test_add_func("/cpu-hotplug/s3-suspend-wakeup", test_s3_suspend_wakeup);
    return g_test_run();
}
