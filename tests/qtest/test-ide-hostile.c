/*
 * PIIX3 IDE against a hostile guest (xendm only): PRD tables that run to the 64 KiB limit
 * without EOT, point outside guest RAM, or have zero (64 KiB) and odd lengths; data-port
 * accesses without DRQ; sector counts past the end; an LBA48 address that would wrap; a
 * PACKET with byte count 0 and a huge allocation length; SRST in the middle of a transfer;
 * the bus master started with no command. After each, xendm still answers a sanity
 * IDENTIFY, and the log shows the rate-limited guest-error lines.
 */
#include "libqtest.h"
#include "qtest-pci.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define IDE_DEVFN QPCI_DEVFN(1, 1)
#define BMIBA 0xc000
#define CMD 0x1f0
#define CTL 0x3f6
#define ST_ERR 0x01
#define ST_DRQ 0x08
#define ST_BSY 0x80
#define PRD_GPA 0x100000u
#define BUF_GPA 0x200000u
#define DISK_SECTORS 4096u

static struct qtest *qt;
static char *log_path;

static uint8_t wait_not_busy(uint16_t ctl)
{
    for (int i = 0; i < 5000; i++) {
        uint8_t st = qtest_inb(qt, ctl);
        if (!(st & ST_BSY)) {
            return st;
        }
        g_usleep(1000);
    }
    g_assert_not_reached();
}

static void sanity_identify(void)
{
    qtest_outb(qt, CTL, 0x04); /* SRST clears whatever the previous case left */
    qtest_outb(qt, CTL, 0x00);
    wait_not_busy(CTL);
    qtest_outb(qt, CMD + 6, 0xa0);
    qtest_outb(qt, CMD + 7, 0xec);
    g_assert_cmphex(wait_not_busy(CTL) & (ST_DRQ | ST_ERR), ==, ST_DRQ);
    g_free(qtest_cmd_ok(qt, "ins 2 0x%x 0x%x 256", CMD, BUF_GPA));
    g_assert_cmphex(wait_not_busy(CTL) & ST_DRQ, ==, 0);
    qtest_inb(qt, CMD + 7);
    g_autofree char *status = qtest_dm_status(qt);
    g_assert_cmpstr(status, ==, "running");
}

static void write_prd(unsigned index, uint32_t addr, uint32_t flags)
{
    uint8_t e[8];

    memcpy(e, &addr, 4);
    memcpy(e + 4, &flags, 4);
    qtest_memwrite(qt, PRD_GPA + index * 8, e, 8);
}

static void dma_read(uint8_t count)
{
    qtest_outb(qt, BMIBA + 2, 0x06);
    qtest_outl(qt, BMIBA + 4, PRD_GPA);
    qtest_outb(qt, CMD + 6, 0xe0);
    qtest_outb(qt, CMD + 2, count);
    qtest_outb(qt, CMD + 3, 0);
    qtest_outb(qt, CMD + 4, 0);
    qtest_outb(qt, CMD + 5, 0);
    qtest_outb(qt, CMD + 7, 0xc8);
    qtest_outb(qt, BMIBA, 0x09);
}

static uint8_t bm_settle(void)
{
    uint8_t st = 0;

    for (int i = 0; i < 2000; i++) {
        st = qtest_inb(qt, BMIBA + 2);
        if (!(st & 0x01) || (st & 0x04)) {
            break;
        }
        g_usleep(1000);
    }
    qtest_outb(qt, BMIBA, 0x00);
    return st;
}

/* 8192 two-byte entries, none with EOT: the walk stops at the 64 KiB window. */
static void test_prd_no_eot(void)
{
    g_autofree uint8_t *table = g_malloc(0x10000);

    for (unsigned i = 0; i < 8192; i++) {
        uint32_t addr = BUF_GPA, flags = 2;
        memcpy(table + 8 * i, &addr, 4);
        memcpy(table + 8 * i + 4, &flags, 4);
    }
    qtest_memwrite(qt, PRD_GPA, table, 0x10000);
    dma_read(255); /* far more than 8192 * 2 bytes */
    g_assert_cmphex(bm_settle() & 0x07, ==, 0x00); /* underrun: neither active nor interrupt */
    sanity_identify();
}

static void test_prd_outside_ram(void)
{
    write_prd(0, 0xfe000000u, 512 | 0x80000000u);
    dma_read(1);
    g_assert_cmphex(bm_settle() & 0x07, ==, 0x06); /* error, interrupt */
    g_assert_cmphex(wait_not_busy(CTL) & ST_ERR, ==, ST_ERR);
    sanity_identify();
}

static void test_prd_zero_and_odd(void)
{
    write_prd(0, BUF_GPA + 1, 3);                   /* odd address and length: 2 bytes */
    write_prd(1, BUF_GPA + 0x1000, 0);              /* 0: 64 KiB */
    write_prd(2, BUF_GPA + 0x20000, 0x80000000u);   /* 64 KiB, EOT */
    dma_read(0);                                    /* 256 sectors = 128 KiB */
    bm_settle();
    wait_not_busy(CTL);
    sanity_identify();
}

static void test_bm_start_without_command(void)
{
    write_prd(0, BUF_GPA, 512 | 0x80000000u);
    qtest_outl(qt, BMIBA + 4, PRD_GPA);
    qtest_outb(qt, BMIBA, 0x09);
    g_assert_cmphex(qtest_inb(qt, BMIBA + 2) & 0x01, ==, 0x01); /* active, waiting */
    qtest_outb(qt, BMIBA, 0x00);
    g_assert_cmphex(qtest_inb(qt, BMIBA + 2) & 0x01, ==, 0x00);
    sanity_identify();
}

static void test_data_port_without_drq(void)
{
    for (int i = 0; i < 50; i++) {
        g_assert_cmphex(qtest_inw(qt, CMD), ==, 0);
        qtest_outw(qt, CMD, 0x1234);
        qtest_inl(qt, CMD);
    }
    sanity_identify();
}

static void test_counts_past_end(void)
{
    /* LBA48: the last sector with a count of 65536, and an address near 2^48. */
    const uint8_t hob[][3] = {{0, 0, 0}, {0xff, 0xff, 0xff}};
    for (unsigned i = 0; i < 2; i++) {
        qtest_outb(qt, CMD + 6, 0x40);
        qtest_outb(qt, CMD + 2, 0);
        qtest_outb(qt, CMD + 3, hob[i][0]);
        qtest_outb(qt, CMD + 4, hob[i][1]);
        qtest_outb(qt, CMD + 5, hob[i][2]);
        qtest_outb(qt, CMD + 2, 0);
        qtest_outb(qt, CMD + 3, 0xff);
        qtest_outb(qt, CMD + 4, (DISK_SECTORS - 1) >> 8);
        qtest_outb(qt, CMD + 5, 0xff);
        qtest_outb(qt, CMD + 7, 0x24);
        g_assert_cmphex(wait_not_busy(CTL) & (ST_ERR | ST_DRQ), ==, ST_ERR);
        g_assert_cmphex(qtest_inb(qt, CMD + 1), ==, 0x10);
    }
    sanity_identify();
}

static void test_srst_mid_transfer(void)
{
    qtest_outb(qt, CMD + 6, 0xe0);
    qtest_outb(qt, CMD + 2, 0); /* 256 sectors */
    qtest_outb(qt, CMD + 7, 0x20);
    wait_not_busy(CTL);
    qtest_inw(qt, CMD);
    qtest_outb(qt, CTL, 0x04);
    qtest_outb(qt, CTL, 0x00);
    g_assert_cmphex(wait_not_busy(CTL) & ST_DRQ, ==, 0);
    g_assert_cmphex(qtest_inb(qt, CMD + 2), ==, 1);
    sanity_identify();
}

static void cd_packet(const uint8_t *cdb, uint16_t limit)
{
    qtest_outb(qt, 0x176, 0xa0);
    qtest_outb(qt, 0x171, 0);
    qtest_outb(qt, 0x174, (uint8_t)limit);
    qtest_outb(qt, 0x175, (uint8_t)(limit >> 8));
    qtest_outb(qt, 0x177, 0xa0);
    wait_not_busy(0x376);
    for (unsigned i = 0; i < 12; i += 2) {
        qtest_outw(qt, 0x170, (uint16_t)(cdb[i] | cdb[i + 1] << 8));
    }
}

/* Byte count 0 and an allocation length of 64 KiB - 1: xendm answers, within bounds. */
static void test_packet_edge_cases(void)
{
    const uint8_t inquiry[12] = {0x12, 0, 0, 0xff, 0xff};
    const uint8_t mode_sense[12] = {0x5a, 0, 0x3f, 0, 0, 0, 0, 0xff, 0xff};
    unsigned total = 0;

    cd_packet(inquiry, 0);
    while (wait_not_busy(0x376) & ST_DRQ) {
        unsigned n = qtest_inb(qt, 0x174) | qtest_inb(qt, 0x175) << 8;
        g_assert_cmpuint(n, >, 0);
        g_free(qtest_cmd_ok(qt, "ins 2 0x170 0x%x %u", BUF_GPA, (n + 1) / 2));
        total += n;
        g_assert_cmpuint(total, <=, 65535);
    }
    qtest_inb(qt, 0x177);
    cd_packet(mode_sense, 0xfffe);
    while (wait_not_busy(0x376) & ST_DRQ) {
        unsigned n = qtest_inb(qt, 0x174) | qtest_inb(qt, 0x175) << 8;
        g_free(qtest_cmd_ok(qt, "ins 2 0x170 0x%x %u", BUF_GPA, (n + 1) / 2));
    }
    qtest_inb(qt, 0x177);
    sanity_identify();
}

int main(int argc, char **argv)
{
    g_autofree char *image = qtest_tmp_path("disk.img");
    g_autofree char *iso = qtest_tmp_path("cd.iso");
    g_autofree char *xs = NULL, *args = NULL;
    int fd, rc;

    g_test_init(&argc, &argv, NULL);
    if (!qtest_dm_is_xendm()) {
        printf("1..0 # SKIP xendm only\n");
        return 0;
    }
    fd = open(image, O_RDWR | O_CREAT | O_TRUNC, 0600);
    g_assert_cmpint(ftruncate(fd, (off_t)DISK_SECTORS * 512), ==, 0);
    close(fd);
    fd = open(iso, O_RDWR | O_CREAT | O_TRUNC, 0600);
    g_assert_cmpint(ftruncate(fd, 100 * 2048), ==, 0);
    close(fd);
    log_path = qtest_tmp_path("dm.log");
    xs = g_strdup_printf("--serial null --dm-log %s", log_path);
    args = g_strdup_printf("-drive file=%s,if=ide,index=0,media=disk,format=raw "
                           "-drive file=%s,if=ide,index=2,media=cdrom", image, iso);
    qt = qtest_start(xs, args);
    qpci_write(qt, IDE_DEVFN, 0x40, 0x8000, 2);
    qpci_write(qt, IDE_DEVFN, 0x42, 0x8000, 2);
    qpci_write(qt, IDE_DEVFN, 0x20, BMIBA | 1, 4);
    qpci_write(qt, IDE_DEVFN, 0x04, 0x0005, 2);
    g_test_add_func("/ide-hostile/prd-no-eot", test_prd_no_eot);
    g_test_add_func("/ide-hostile/prd-outside-ram", test_prd_outside_ram);
    g_test_add_func("/ide-hostile/prd-zero-odd", test_prd_zero_and_odd);
    g_test_add_func("/ide-hostile/bm-start-no-command", test_bm_start_without_command);
    g_test_add_func("/ide-hostile/data-without-drq", test_data_port_without_drq);
    g_test_add_func("/ide-hostile/counts-past-end", test_counts_past_end);
    g_test_add_func("/ide-hostile/srst-mid-transfer", test_srst_mid_transfer);
    g_test_add_func("/ide-hostile/packet-edge-cases", test_packet_edge_cases);
    rc = g_test_run();
    g_assert_cmpint(qtest_quit(qt), ==, 0);
    /* 150 bad data-port accesses: the rate limit lets a burst of 10 through, not 150. */
    unsigned lines = qtest_count_in_file(log_path, "data port");
    g_assert_cmpuint(lines, >=, 1);
    g_assert_cmpuint(lines, <=, 20);
    return rc;
}
