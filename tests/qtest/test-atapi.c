/*
 * The ATAPI CD-ROM on the PIIX3 secondary master, through real ioreqs, against xendm and
 * (suite qtest-qemu-xen) qemu-xen: the signature, IDENTIFY PACKET DEVICE, INQUIRY, READ
 * CAPACITY, READ(10) by PIO and by bus-master DMA from an ISO-like file, and an empty drive
 * (libxl's if=none + ide-cd form) answering TEST UNIT READY with NOT READY and REQUEST SENSE.
 */
#include "libqtest.h"
#include "qtest-pci.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define IDE_DEVFN QPCI_DEVFN(1, 1)
#define BMIBA 0xc000
#define BM1 (BMIBA + 8)
#define CMD 0x170
#define CTL 0x376
#define REG_DATA (CMD + 0)
#define REG_FEATURE (CMD + 1)
#define REG_NSECTOR (CMD + 2)
#define REG_LCYL (CMD + 4)
#define REG_HCYL (CMD + 5)
#define REG_DEVICE (CMD + 6)
#define REG_STATUS (CMD + 7)
#define ST_ERR 0x01
#define ST_DRQ 0x08
#define ST_BSY 0x80
#define CD_SECTOR 2048u
#define ISO_SECTORS 300u
#define BUF_GPA 0x200000u
#define PRD_GPA 0x100000u

static struct qtest *qt;
static char *iso;

static uint8_t iso_byte(uint32_t sector, unsigned i)
{
    return (uint8_t)(sector * 3 + i * 11);
}

static void make_iso(void)
{
    uint8_t buf[CD_SECTOR];
    int fd;

    iso = qtest_tmp_path("cd.iso");
    fd = open(iso, O_RDWR | O_CREAT | O_TRUNC, 0600);
    g_assert_cmpint(fd, >=, 0);
    for (uint32_t s = 0; s < ISO_SECTORS; s++) {
        for (unsigned i = 0; i < CD_SECTOR; i++) {
            buf[i] = iso_byte(s, i);
        }
        g_assert_cmpint(write(fd, buf, CD_SECTOR), ==, CD_SECTOR);
    }
    close(fd);
}

static struct qtest *start(const char *dm_args)
{
    struct qtest *q = qtest_start("--serial null", dm_args);

    qt = q;
    qpci_write(q, IDE_DEVFN, 0x40, 0x8000, 2);
    qpci_write(q, IDE_DEVFN, 0x42, 0x8000, 2);
    qpci_write(q, IDE_DEVFN, 0x20, BMIBA | 1, 4);
    qpci_write(q, IDE_DEVFN, 0x04, 0x0005, 2);
    return q;
}

static uint8_t wait_not_busy(void)
{
    for (int i = 0; i < 5000; i++) {
        uint8_t st = qtest_inb(qt, CTL);
        if (!(st & ST_BSY)) {
            return st;
        }
        g_usleep(1000);
    }
    g_assert_not_reached();
}

/* Sends a packet by PIO; returns the status after it. */
static uint8_t send_packet(const uint8_t *cdb, uint16_t limit, bool dma)
{
    qtest_outb(qt, REG_DEVICE, 0xa0);
    qtest_outb(qt, REG_FEATURE, dma ? 1 : 0);
    qtest_outb(qt, REG_LCYL, (uint8_t)limit);
    qtest_outb(qt, REG_HCYL, (uint8_t)(limit >> 8));
    qtest_outb(qt, REG_STATUS, 0xa0);
    g_assert_cmphex(wait_not_busy() & ST_DRQ, ==, ST_DRQ);
    g_assert_cmphex(qtest_inb(qt, REG_NSECTOR) & 3, ==, 1); /* CoD, to the device */
    for (unsigned i = 0; i < 12; i += 2) {
        qtest_outw(qt, REG_DATA, (uint16_t)(cdb[i] | cdb[i + 1] << 8));
    }
    /* A DMA command waits for the bus master (qemu-xen shows BSY meanwhile). */
    return dma ? 0 : wait_not_busy();
}

/* Reads a PIO reply of DRQ blocks into out; returns the bytes read. */
static size_t read_reply(uint8_t *out, size_t max)
{
    size_t total = 0;
    uint8_t st;

    while ((st = wait_not_busy()) & ST_DRQ) {
        unsigned n = qtest_inb(qt, REG_LCYL) | qtest_inb(qt, REG_HCYL) << 8;
        g_assert_cmphex(qtest_inb(qt, REG_NSECTOR) & 3, ==, 2); /* IO, data */
        g_assert_cmpuint(total + n, <=, max);
        for (unsigned i = 0; i < n; i += 2) {
            uint16_t w = qtest_inw(qt, REG_DATA);
            out[total + i] = (uint8_t)w;
            if (i + 1 < n) {
                out[total + i + 1] = (uint8_t)(w >> 8);
            }
        }
        total += n;
    }
    g_assert_cmphex(st & ST_ERR, ==, 0);
    g_assert_cmphex(qtest_inb(qt, REG_NSECTOR) & 3, ==, 3); /* IO|CoD: completed */
    qtest_inb(qt, REG_STATUS);
    return total;
}

static void test_signature_identify(void)
{
    uint16_t w[256];
    char model[41];

    qtest_outb(qt, REG_DEVICE, 0xa0);
    g_assert_cmphex(qtest_inb(qt, REG_LCYL), ==, 0x14);
    g_assert_cmphex(qtest_inb(qt, REG_HCYL), ==, 0xeb);
    /* IDENTIFY DEVICE aborts and leaves the signature. */
    qtest_outb(qt, REG_STATUS, 0xec);
    g_assert_cmphex(wait_not_busy() & ST_ERR, ==, ST_ERR);
    g_assert_cmphex(qtest_inb(qt, REG_FEATURE) & 0x04, ==, 0x04);
    g_assert_cmphex(qtest_inb(qt, REG_LCYL), ==, 0x14);
    g_assert_cmphex(qtest_inb(qt, REG_HCYL), ==, 0xeb);
    qtest_outb(qt, REG_STATUS, 0xa1);
    g_assert_cmphex(wait_not_busy() & (ST_DRQ | ST_ERR), ==, ST_DRQ);
    for (unsigned i = 0; i < 256; i++) {
        w[i] = qtest_inw(qt, REG_DATA);
    }
    for (unsigned i = 0; i < 20; i++) {
        model[2 * i] = (char)(w[27 + i] >> 8);
        model[2 * i + 1] = (char)w[27 + i];
    }
    model[40] = '\0';
    g_strchomp(model);
    g_assert_cmpstr(model, ==, "QEMU DVD-ROM");
    g_assert_cmphex(w[0] & 0xdf00, ==, 0x8500); /* ATAPI, CD-ROM, removable */
}

static void test_inquiry(void)
{
    uint8_t cdb[12] = {0x12, 0, 0, 0, 36, 0};
    uint8_t reply[64];
    size_t n;

    send_packet(cdb, 0xfffe, false);
    n = read_reply(reply, sizeof(reply));
    g_assert_cmpuint(n, ==, 36);
    g_assert_cmphex(reply[0] & 0x1f, ==, 0x05); /* CD/DVD device */
    g_assert_cmphex(reply[1] & 0x80, ==, 0x80); /* removable */
}

static void test_read_capacity(void)
{
    uint8_t cdb[12] = {0x25};
    uint8_t reply[8];

    /* A unit attention may come first after power-on: clear it with TEST UNIT READY. */
    uint8_t tur[12] = {0};
    if (send_packet(tur, 0xfffe, false) & ST_ERR) {
        qtest_inb(qt, REG_STATUS);
    }
    send_packet(cdb, 0xfffe, false);
    g_assert_cmpuint(read_reply(reply, sizeof(reply)), ==, 8);
    g_assert_cmpuint((uint32_t)reply[0] << 24 | reply[1] << 16 | reply[2] << 8 | reply[3], ==,
                     ISO_SECTORS - 1);
    g_assert_cmpuint((uint32_t)reply[4] << 24 | reply[5] << 16 | reply[6] << 8 | reply[7], ==,
                     CD_SECTOR);
}

static void check_sectors(const uint8_t *buf, uint32_t lba, unsigned count)
{
    for (unsigned s = 0; s < count; s++) {
        for (unsigned i = 0; i < CD_SECTOR; i++) {
            if (buf[s * CD_SECTOR + i] != iso_byte(lba + s, i)) {
                g_error("sector %u byte %u: 0x%02x, want 0x%02x", lba + s, i,
                        buf[s * CD_SECTOR + i], iso_byte(lba + s, i));
            }
        }
    }
}

static void test_read10_pio(void)
{
    uint8_t cdb[12] = {0x28, 0, 0, 0, 0, 7, 0, 0, 3};
    g_autofree uint8_t *buf = g_malloc(3 * CD_SECTOR);

    /* A byte count limit smaller than a sector: the reply comes in many DRQ blocks. */
    send_packet(cdb, 1000, false);
    g_assert_cmpuint(read_reply(buf, 3 * CD_SECTOR), ==, 3 * CD_SECTOR);
    check_sectors(buf, 7, 3);
}

/*
 * More sectors than one fill of the drive's 64 KiB buffer (32): the read goes on past the
 * refill, from the right sector. Each DRQ block is taken by REP INSW a page at a time, as Xen
 * splits a guest's REP INSW (qemu-xen's blocks span the refill, xendm's end at it).
 */
static void test_read10_pio_multi_fill(void)
{
    const uint32_t want = 70 * CD_SECTOR;
    uint8_t cdb[12] = {0x28, 0, 0, 0, 0, 20, 0, 0, 70};
    g_autofree uint8_t *buf = g_malloc(want);
    size_t total = 0;
    uint8_t st;

    send_packet(cdb, 0xfffe, false);
    while ((st = wait_not_busy()) & ST_DRQ) {
        unsigned n = qtest_inb(qt, REG_LCYL) | qtest_inb(qt, REG_HCYL) << 8;

        g_assert_cmpuint(n % 2, ==, 0);
        g_assert_cmpuint(total + n, <=, want);
        for (unsigned done = 0; done < n; done += 4096) {
            unsigned chunk = MIN(n - done, 4096u);

            g_free(qtest_cmd_ok(qt, "ins 2 %u 0x%x %u", REG_DATA, BUF_GPA, chunk / 2));
            qtest_memread(qt, BUF_GPA, buf + total + done, chunk);
        }
        total += n;
    }
    g_assert_cmphex(st & ST_ERR, ==, 0);
    g_assert_cmpuint(total, ==, want);
    check_sectors(buf, 20, 70);
}

static void test_read10_dma(void)
{
    uint8_t cdb[12] = {0x28, 0, 0, 0, 0, 100, 0, 0, 4};
    uint8_t prd[16];
    uint32_t a0 = BUF_GPA, f0 = 2 * CD_SECTOR, a1 = BUF_GPA + 0x10000,
             f1 = 2 * CD_SECTOR | 0x80000000u;
    g_autofree uint8_t *buf = g_malloc(4 * CD_SECTOR);

    memcpy(prd, &a0, 4);
    memcpy(prd + 4, &f0, 4);
    memcpy(prd + 8, &a1, 4);
    memcpy(prd + 12, &f1, 4);
    qtest_memwrite(qt, PRD_GPA, prd, sizeof(prd));
    qtest_outb(qt, BM1 + 2, 0x06);
    qtest_outl(qt, BM1 + 4, PRD_GPA);
    send_packet(cdb, 0, true);
    qtest_outb(qt, BM1, 0x09);
    for (int i = 0; i < 5000 && !(qtest_inb(qt, BM1 + 2) & 0x04); i++) {
        g_usleep(1000);
    }
    g_assert_cmphex(qtest_inb(qt, BM1 + 2) & 0x07, ==, 0x04);
    g_assert_cmphex(wait_not_busy() & (ST_ERR | ST_DRQ), ==, 0);
    g_assert_cmpint(qtest_isa_level(qt, 15), ==, 1);
    qtest_inb(qt, REG_STATUS);
    qtest_outb(qt, BM1, 0x00);
    qtest_memread(qt, BUF_GPA, buf, 2 * CD_SECTOR);
    qtest_memread(qt, BUF_GPA + 0x10000, buf + 2 * CD_SECTOR, 2 * CD_SECTOR);
    check_sectors(buf, 100, 4);
}

static void test_no_medium(void)
{
    uint8_t tur[12] = {0};
    uint8_t sense_cdb[12] = {0x03, 0, 0, 0, 18};
    uint8_t sense[32];
    struct qtest *with_iso = qt;
    uint8_t st;

    start("-drive if=none,readonly=on,id=ide-5632 -device ide-cd,id=ide-5632,drive=ide-5632,"
          "bus=ide.1,unit=0");
    st = send_packet(tur, 0xfffe, false);
    g_assert_cmphex(st & ST_ERR, ==, ST_ERR);
    g_assert_cmphex(qtest_inb(qt, REG_FEATURE) >> 4, ==, 0x2); /* NOT READY */
    qtest_inb(qt, REG_STATUS);
    send_packet(sense_cdb, 0xfffe, false);
    g_assert_cmpuint(read_reply(sense, sizeof(sense)), ==, 18);
    g_assert_cmphex(sense[2] & 0x0f, ==, 0x2);
    g_assert_cmphex(sense[12], ==, 0x3a); /* MEDIUM NOT PRESENT */
    g_assert_cmpint(qtest_quit(qt), ==, 0);
    qt = with_iso;
}

int main(int argc, char **argv)
{
    int rc;

    g_test_init(&argc, &argv, NULL);
    make_iso();
    {
        g_autofree char *args = g_strdup_printf("-drive file=%s,if=ide,index=2,media=cdrom", iso);
        start(args);
    }
    g_test_add_func("/atapi/signature-identify", test_signature_identify);
    g_test_add_func("/atapi/inquiry", test_inquiry);
    g_test_add_func("/atapi/read-capacity", test_read_capacity);
    g_test_add_func("/atapi/read10-pio", test_read10_pio);
    g_test_add_func("/atapi/read10-dma", test_read10_dma);
    g_test_add_func("/atapi/read10-pio-multi-fill", test_read10_pio_multi_fill);
    g_test_add_func("/atapi/no-medium", test_no_medium);
    rc = g_test_run();
    g_assert_cmpint(qtest_quit(qt), ==, 0);
    return rc;
}
