/*
 * xendm against qemu-xen, function by function: the configuration space of every function
 * of the xenfv machine (i440FX, PIIX3, PIIX4 PM, the Xen platform device), byte for byte,
 * at power-on and after hvmloader's BAR sizing, read through the 0xCF8 latch as firmware
 * reads it. A guest that was installed under qemu-xen sees the same functions under xendm.
 *
 * Runs xendm (QTEST_DM) and the reference (QTEST_REFERENCE_DM) one after the other under
 * xensim; skips when the reference is not installed.
 */
#include "libqtest.h"
#include "qtest-pci.h"

#include <stdio.h>
#include <string.h>

#define CONFIG_SIZE 256u
#define NR_BARS 6u

struct function {
    unsigned devfn;
    const char *name;
};

/* The functions both build for "-machine xenfv" with no display and no disks, plus the
 * vendor device libxl adds for vendor_device="xenserver". */
static const struct function functions[] = {
    {QPCI_DEVFN(0, 0), "i440fx"},
    {QPCI_DEVFN(1, 0), "piix3"},
    {QPCI_DEVFN(1, 1), "piix3-ide"},
    {QPCI_DEVFN(1, 3), "piix4-pm"},
    {QPCI_DEVFN(2, 0), "xen-platform"},
    {QPCI_DEVFN(3, 0), "xen-pvdevice"},
};
#define EXTRA_DEVICES "-device xen-pvdevice,device-id=0xc000,addr=3"

struct snapshot {
    uint8_t config[G_N_ELEMENTS(functions)][CONFIG_SIZE];
    uint32_t bar_size_mask[G_N_ELEMENTS(functions)][NR_BARS];
    unsigned present_devfns[256];
    unsigned nr_present;
};

static void read_config(struct qtest *qt, unsigned devfn, uint8_t *out)
{
    for (unsigned reg = 0; reg < CONFIG_SIZE; reg += 4) {
        uint32_t v = qpci_read(qt, devfn, reg, 4);
        memcpy(out + reg, &v, 4);
    }
}

/* hvmloader's sizing: write all-ones, read the mask, restore (pci_setup in hvmloader). */
static void size_bars(struct qtest *qt, unsigned devfn, uint32_t *masks)
{
    for (unsigned bar = 0; bar < NR_BARS; bar++) {
        unsigned reg = 0x10 + 4 * bar;
        uint32_t old = qpci_read(qt, devfn, reg, 4);
        qpci_write(qt, devfn, reg, 0xffffffff, 4);
        masks[bar] = qpci_read(qt, devfn, reg, 4);
        qpci_write(qt, devfn, reg, old, 4);
    }
}

static void take_snapshot(const char *dm, struct snapshot *snap)
{
    struct qtest *qt;

    g_setenv("QTEST_DM", dm, TRUE);
    qt = qtest_start("--serial null", EXTRA_DEVICES);
    for (unsigned i = 0; i < G_N_ELEMENTS(functions); i++) {
        read_config(qt, functions[i].devfn, snap->config[i]);
        size_bars(qt, functions[i].devfn, snap->bar_size_mask[i]);
    }
    snap->nr_present = 0;
    for (unsigned devfn = 0; devfn < 256; devfn++) {
        if (qpci_read(qt, devfn, 0, 4) != 0xffffffff) {
            snap->present_devfns[snap->nr_present++] = devfn;
        }
    }
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static struct snapshot xendm_snap, reference_snap;

static void test_same_functions(void)
{
    GString *ours = g_string_new(""), *theirs = g_string_new("");

    for (unsigned i = 0; i < xendm_snap.nr_present; i++) {
        g_string_append_printf(ours, " %02x.%u", xendm_snap.present_devfns[i] >> 3,
                               xendm_snap.present_devfns[i] & 7);
    }
    for (unsigned i = 0; i < reference_snap.nr_present; i++) {
        unsigned devfn = reference_snap.present_devfns[i];
        g_string_append_printf(theirs, " %02x.%u", devfn >> 3, devfn & 7);
    }
    g_test_message("functions: xendm%s; qemu-xen%s", ours->str, theirs->str);
    g_assert_cmpstr(ours->str, ==, theirs->str);
    g_string_free(ours, TRUE);
    g_string_free(theirs, TRUE);
}

static void test_same_config(gconstpointer data)
{
    unsigned i = GPOINTER_TO_UINT(data);
    unsigned differences = 0;

    for (unsigned reg = 0; reg < CONFIG_SIZE; reg++) {
        uint8_t a = xendm_snap.config[i][reg], b = reference_snap.config[i][reg];
        if (a != b) {
            g_test_message("%s: config 0x%02x: xendm 0x%02x, qemu-xen 0x%02x",
                           functions[i].name, reg, a, b);
            differences++;
        }
    }
    g_assert_cmpuint(differences, ==, 0);
}

static void test_same_bar_sizes(gconstpointer data)
{
    unsigned i = GPOINTER_TO_UINT(data);

    for (unsigned bar = 0; bar < NR_BARS; bar++) {
        if (xendm_snap.bar_size_mask[i][bar] != reference_snap.bar_size_mask[i][bar]) {
            g_test_message("%s: BAR%u sizing: xendm 0x%08x, qemu-xen 0x%08x",
                           functions[i].name, bar, xendm_snap.bar_size_mask[i][bar],
                           reference_snap.bar_size_mask[i][bar]);
        }
        g_assert_cmphex(xendm_snap.bar_size_mask[i][bar], ==,
                        reference_snap.bar_size_mask[i][bar]);
    }
}

int main(int argc, char **argv)
{
    const char *reference = g_getenv("QTEST_REFERENCE_DM");
    const char *xendm = g_getenv("QTEST_DM");

    g_test_init(&argc, &argv, NULL);
    g_test_set_nonfatal_assertions();
    if (reference == NULL || !g_file_test(reference, G_FILE_TEST_IS_EXECUTABLE) ||
        xendm == NULL) {
        printf("1..0 # SKIP no qemu-xen to compare with\n");
        return 0;
    }
    take_snapshot(xendm, &xendm_snap);
    take_snapshot(reference, &reference_snap);
    g_setenv("QTEST_DM", xendm, TRUE);
    g_test_add_func("/pci-compare/functions", test_same_functions);
    for (unsigned i = 0; i < G_N_ELEMENTS(functions); i++) {
        char *path = g_strdup_printf("/pci-compare/config/%s", functions[i].name);
        g_test_add_data_func(path, GUINT_TO_POINTER(i), test_same_config);
        g_free(path);
        path = g_strdup_printf("/pci-compare/bar-sizes/%s", functions[i].name);
        g_test_add_data_func(path, GUINT_TO_POINTER(i), test_same_bar_sizes);
        g_free(path);
    }
    return g_test_run();
}
