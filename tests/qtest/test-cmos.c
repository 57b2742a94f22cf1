/*
 * The CMOS NVRAM above the clock (indexes 0x0E-0x7F), which Xen leaves to the device model:
 * the bytes firmware reads (memory sizes, vCPUs, boot order, equipment, century),
 * checked against the values the PC/AT CMOS map gives for the guest's config. Runs against
 * qemu-xen as well: both must serve the same bytes. And Xen's part stays Xen's: register
 * 0x0B (xensim's clock) is not the device model's.
 */
#include "libqtest.h"

#include <unistd.h>

static struct qtest *start(const char *config)
{
    g_autofree char *cfg_path = qtest_tmp_path("cmos.cfg");
    g_autofree char *text = g_strdup_printf("%s\nvga = \"none\"\nvnc = 0\n", config);
    g_autofree char *args = g_strdup_printf("--config %s --serial null", cfg_path);

    g_assert_true(g_file_set_contents(cfg_path, text, -1, NULL));
    return qtest_start(args, NULL);
}

static uint8_t cmos(struct qtest *qt, uint8_t index)
{
    qtest_outb(qt, 0x70, index);
    return qtest_inb(qt, 0x71);
}

static unsigned cmos16(struct qtest *qt, uint8_t index)
{
    return cmos(qt, index) | (unsigned)cmos(qt, index + 1) << 8;
}

/* qemu-xen leaves the checksum of 0x10-0x2D unset, and so does xendm. */
static void check_checksum(struct qtest *qt)
{
    g_assert_cmphex(cmos16(qt, 0x2e), ==, 0);
}

/* 48 MiB, 2 vCPUs, boot from CD-ROM then disk. */
static void test_small_guest(void)
{
    struct qtest *qt = start("memory = 48\nvcpus = 2\nboot = \"dc\"");

    g_assert_cmphex(cmos(qt, 0x10), ==, 0x00);           /* no floppy drives */
    g_assert_cmphex(cmos(qt, 0x14) & 0x06, ==, 0x06);    /* FPU, PS/2 mouse */
    g_assert_cmpuint(cmos16(qt, 0x15), ==, 640);         /* base memory, KiB */
    g_assert_cmpuint(cmos16(qt, 0x17), ==, 47 * 1024);   /* above 1 MiB, KiB */
    g_assert_cmpuint(cmos16(qt, 0x30), ==, 47 * 1024);
    g_assert_cmpuint(cmos16(qt, 0x34), ==, (48 - 16) * 16); /* above 16 MiB, 64 KiB units */
    g_assert_cmphex(cmos(qt, 0x5b) | cmos(qt, 0x5c) | cmos(qt, 0x5d), ==, 0);
    g_assert_cmphex(cmos(qt, 0x5f), ==, 1);              /* vCPUs - 1 */
    g_assert_cmphex(cmos(qt, 0x3d), ==, 0x23);           /* first CD (3), then disk (2) */
    g_assert_cmphex(cmos(qt, 0x38) & 0xf0, ==, 0x00);
    g_assert_cmphex(cmos(qt, 0x32), ==, 0x20);           /* century, BCD */
    check_checksum(qt);
    /* The guest may keep its own flags there, and read them back. */
    qtest_outb(qt, 0x70, 0x7e);
    qtest_outb(qt, 0x71, 0x5a);
    g_assert_cmphex(cmos(qt, 0x7e), ==, 0x5a);
    /* Register B (24-hour, BCD) is Xen's clock, answered by xensim whatever the DM holds. */
    g_assert_cmphex(cmos(qt, 0x0b), ==, 0x02);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* More than 64 MiB: the 16-bit KiB counts cap; network boot first. (Above 4 GiB is left
 * out: xensim takes seconds to populate that much.) */
static void test_large_guest(void)
{
    struct qtest *qt = start("memory = 160\nboot = \"ncd\"");

    g_assert_cmpuint(cmos16(qt, 0x17), ==, 0xffff);            /* capped */
    g_assert_cmpuint(cmos16(qt, 0x30), ==, 0xffff);
    g_assert_cmpuint(cmos16(qt, 0x34), ==, (160 - 16) * 16);
    g_assert_cmphex(cmos(qt, 0x5b) | cmos(qt, 0x5c) | cmos(qt, 0x5d), ==, 0);
    g_assert_cmphex(cmos(qt, 0x3d), ==, 0x24);                 /* network (4), then disk */
    g_assert_cmphex(cmos(qt, 0x38) & 0xf0, ==, 0x30);          /* third: CD-ROM */
    g_assert_cmphex(cmos(qt, 0x5f), ==, 0);
    check_checksum(qt);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/cmos/small-guest", test_small_guest);
    g_test_add_func("/cmos/large-guest", test_large_guest);
    return g_test_run();
}
