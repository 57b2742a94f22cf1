/*
 * PIIX3 IDE with an ATA disk, through real ioreqs (xensim qtest mode), against xendm and
 * (suite qtest-qemu-xen) Debian's qemu-xen: IDENTIFY, PIO and REP INS/OUTS transfers checked
 * against the image file, bus-master DMA through a PRD table in guest memory, LBA48 beyond
 * 2^28, IDNF, FLUSH, the interrupt on ISA 14, the SRST signature and an absent slave.
 *
 * The controller is set up as hvmloader leaves it: IDE decode enabled in IDETIM (0x40/0x42),
 * BAR4 placed, I/O and bus master enabled.
 */
#include "libqtest.h"
#include "qtest-pci.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define IDE_DEVFN QPCI_DEVFN(1, 1)
#define BMIBA 0xc000
#define CMD 0x1f0
#define CTL 0x3f6
#define REG_DATA (CMD + 0)
#define REG_ERROR (CMD + 1)
#define REG_NSECTOR (CMD + 2)
#define REG_SECTOR (CMD + 3)
#define REG_LCYL (CMD + 4)
#define REG_HCYL (CMD + 5)
#define REG_DEVICE (CMD + 6)
#define REG_STATUS (CMD + 7)

#define ST_ERR 0x01
#define ST_DRQ 0x08
#define ST_DRDY 0x40
#define ST_BSY 0x80

#define SECTOR 512u
/* Past 2^28 sectors, so that LBA48 is needed; sparse. */
#define DISK_SECTORS ((1u << 28) + 2048u)
#define BUF_GPA 0x200000u
#define PRD_GPA 0x100000u

static struct qtest *qt;
static char *image;
static int image_fd = -1;

static uint8_t pattern_byte(uint64_t sector, unsigned i)
{
    return (uint8_t)(sector * 31 + i * 7 + (sector >> 20));
}

static void fill_sector(uint8_t *buf, uint64_t sector)
{
    for (unsigned i = 0; i < SECTOR; i++) {
        buf[i] = pattern_byte(sector, i);
    }
}

/* The first 64 sectors and a few past 2^28 carry the pattern; the rest is sparse zeroes. */
static void make_image(void)
{
    uint8_t buf[SECTOR];

    image = qtest_tmp_path("disk.img");
    image_fd = open(image, O_RDWR | O_CREAT | O_TRUNC, 0600);
    g_assert_cmpint(image_fd, >=, 0);
    g_assert_cmpint(ftruncate(image_fd, (off_t)DISK_SECTORS * SECTOR), ==, 0);
    for (uint64_t s = 0; s < 64; s++) {
        fill_sector(buf, s);
        g_assert_cmpint(pwrite(image_fd, buf, SECTOR, (off_t)(s * SECTOR)), ==, SECTOR);
    }
    for (uint64_t s = (1u << 28); s < (1u << 28) + 8; s++) {
        fill_sector(buf, s);
        g_assert_cmpint(pwrite(image_fd, buf, SECTOR, (off_t)(s * SECTOR)), ==, SECTOR);
    }
}

static void file_sector(uint64_t sector, uint8_t *buf)
{
    g_assert_cmpint(pread(image_fd, buf, SECTOR, (off_t)(sector * SECTOR)), ==, SECTOR);
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

/* What hvmloader does to the function (pci_setup). */
static void enable_controller(void)
{
    qpci_write(qt, IDE_DEVFN, 0x40, 0x8000, 2);
    qpci_write(qt, IDE_DEVFN, 0x42, 0x8000, 2);
    qpci_write(qt, IDE_DEVFN, 0x20, BMIBA | 1, 4);
    qpci_write(qt, IDE_DEVFN, 0x04, 0x0005, 2); /* I/O, bus master */
}

static void select_lba28(uint64_t lba, uint8_t count)
{
    qtest_outb(qt, REG_DEVICE, (uint8_t)(0xe0 | ((lba >> 24) & 0x0f)));
    qtest_outb(qt, REG_NSECTOR, count);
    qtest_outb(qt, REG_SECTOR, (uint8_t)lba);
    qtest_outb(qt, REG_LCYL, (uint8_t)(lba >> 8));
    qtest_outb(qt, REG_HCYL, (uint8_t)(lba >> 16));
}

static void select_lba48(uint64_t lba, uint16_t count)
{
    qtest_outb(qt, REG_DEVICE, 0x40);
    qtest_outb(qt, REG_NSECTOR, (uint8_t)(count >> 8));
    qtest_outb(qt, REG_SECTOR, (uint8_t)(lba >> 24));
    qtest_outb(qt, REG_LCYL, (uint8_t)(lba >> 32));
    qtest_outb(qt, REG_HCYL, (uint8_t)(lba >> 40));
    qtest_outb(qt, REG_NSECTOR, (uint8_t)count);
    qtest_outb(qt, REG_SECTOR, (uint8_t)lba);
    qtest_outb(qt, REG_LCYL, (uint8_t)(lba >> 8));
    qtest_outb(qt, REG_HCYL, (uint8_t)(lba >> 16));
}

/* Reads `count` sectors of the current PIO read command through REP INSW. */
static void pio_read_sectors(uint8_t *out, unsigned count)
{
    for (unsigned s = 0; s < count; s++) {
        uint8_t st = wait_not_busy();
        g_assert_cmphex(st & (ST_DRQ | ST_ERR), ==, ST_DRQ);
        g_free(qtest_cmd_ok(qt, "ins 2 0x%x 0x%x %u", REG_DATA, BUF_GPA, SECTOR / 2));
        qtest_memread(qt, BUF_GPA, out + s * SECTOR, SECTOR);
    }
    g_assert_cmphex(wait_not_busy() & (ST_DRQ | ST_ERR), ==, 0);
}

static void identify(uint16_t *words)
{
    qtest_outb(qt, REG_DEVICE, 0xa0);
    qtest_outb(qt, REG_STATUS, 0xec);
    g_assert_cmphex(wait_not_busy() & (ST_DRQ | ST_ERR), ==, ST_DRQ);
    for (unsigned i = 0; i < 256; i++) {
        words[i] = qtest_inw(qt, REG_DATA);
    }
    g_assert_cmphex(wait_not_busy() & ST_DRQ, ==, 0);
}

static void get_string(const uint16_t *w, unsigned first, unsigned n, char *out)
{
    for (unsigned i = 0; i < n; i++) {
        out[2 * i] = (char)(w[first + i] >> 8);
        out[2 * i + 1] = (char)w[first + i];
    }
    out[2 * n] = '\0';
    g_strchomp(out);
}

static void test_identify(void)
{
    uint16_t w[256];
    char model[41], serial[21];

    identify(w);
    get_string(w, 27, 20, model);
    get_string(w, 10, 10, serial);
    g_assert_cmpstr(model, ==, "QEMU HARDDISK");
    g_assert_cmpstr(serial, ==, "QM00001");
    g_assert_cmphex(w[60] | (uint32_t)w[61] << 16, ==, 0x0fffffff); /* LBA28 clipped */
    g_assert_cmpuint(w[100] | (uint64_t)w[101] << 16 | (uint64_t)w[102] << 32, ==,
                     DISK_SECTORS);
    g_assert_cmphex(w[83] & 0x0400, ==, 0x0400); /* 48-bit addresses */
    g_assert_cmphex(w[49] & 0x0300, ==, 0x0300); /* LBA, DMA */
    g_assert_cmpuint(w[1], ==, 16383);            /* cylinders clipped */
    g_assert_cmpuint(w[3], ==, 16);
    g_assert_cmpuint(w[6], ==, 63);
}

static void test_pio_read(void)
{
    uint8_t got[3 * SECTOR], want[SECTOR];

    select_lba28(5, 3);
    qtest_outb(qt, REG_STATUS, 0x20);
    pio_read_sectors(got, 3);
    for (unsigned s = 0; s < 3; s++) {
        file_sector(5 + s, want);
        g_assert_cmpmem(got + s * SECTOR, SECTOR, want, SECTOR);
    }
}

static void test_pio_read_dword(void)
{
    uint8_t got[SECTOR], want[SECTOR];

    select_lba28(9, 1);
    qtest_outb(qt, REG_STATUS, 0x20);
    g_assert_cmphex(wait_not_busy() & ST_DRQ, ==, ST_DRQ);
    for (unsigned i = 0; i < SECTOR; i += 4) {
        uint32_t v = qtest_inl(qt, REG_DATA);
        memcpy(got + i, &v, 4);
    }
    file_sector(9, want);
    g_assert_cmpmem(got, SECTOR, want, SECTOR);
    g_assert_cmphex(wait_not_busy() & ST_DRQ, ==, 0);
}

static void test_pio_write(void)
{
    uint8_t data[2 * SECTOR], back[SECTOR];

    for (unsigned i = 0; i < sizeof(data); i++) {
        data[i] = (uint8_t)(0xa5 ^ i);
    }
    qtest_memwrite(qt, BUF_GPA, data, sizeof(data));
    select_lba28(20, 2);
    qtest_outb(qt, REG_STATUS, 0x30);
    for (unsigned s = 0; s < 2; s++) {
        g_assert_cmphex(wait_not_busy() & (ST_DRQ | ST_ERR), ==, ST_DRQ);
        g_free(qtest_cmd_ok(qt, "outs 2 0x%x 0x%x %u", REG_DATA, BUF_GPA + s * SECTOR,
                            SECTOR / 2));
    }
    g_assert_cmphex(wait_not_busy() & (ST_DRQ | ST_ERR), ==, 0);
    for (unsigned s = 0; s < 2; s++) {
        file_sector(20 + s, back);
        g_assert_cmpmem(back, SECTOR, data + s * SECTOR, SECTOR);
    }
}

static void test_lba48(void)
{
    uint64_t lba = (1u << 28) + 3;
    uint8_t got[2 * SECTOR], want[SECTOR];

    select_lba48(lba, 2);
    qtest_outb(qt, REG_STATUS, 0x24); /* READ SECTORS EXT */
    pio_read_sectors(got, 2);
    for (unsigned s = 0; s < 2; s++) {
        file_sector(lba + s, want);
        g_assert_cmpmem(got + s * SECTOR, SECTOR, want, SECTOR);
    }
    /* HOB reads back the high bytes of the address (ACS-3 §6.2.2). */
    select_lba48(lba, 1);
    qtest_outb(qt, CTL, 0x80);
    g_assert_cmphex(qtest_inb(qt, REG_SECTOR), ==, (uint8_t)(lba >> 24));
    qtest_outb(qt, CTL, 0x00);
    g_assert_cmphex(qtest_inb(qt, REG_SECTOR), ==, (uint8_t)lba);
}

static void test_idnf(void)
{
    uint8_t st;

    select_lba48(DISK_SECTORS + 5, 1); /* past the end of the disk */
    qtest_outb(qt, REG_STATUS, 0x24);
    st = wait_not_busy();
    g_assert_cmphex(st & (ST_ERR | ST_DRQ), ==, ST_ERR);
    /* ACS-3: IDNF for an address beyond the disk (qemu-xen answers ABRT). */
    g_assert_cmphex(qtest_inb(qt, REG_ERROR), ==, qtest_dm_is_xendm() ? 0x10 : 0x04);
    qtest_inb(qt, REG_STATUS);
}

static void write_prd(unsigned index, uint32_t addr, uint32_t count, bool eot)
{
    uint8_t e[8];
    uint32_t flags = (count & 0xffff) | (eot ? 0x80000000u : 0);

    memcpy(e, &addr, 4);
    memcpy(e + 4, &flags, 4);
    qtest_memwrite(qt, PRD_GPA + index * 8, e, sizeof(e));
}

static void bm_start(bool to_memory)
{
    qtest_outb(qt, BMIBA + 2, 0x06); /* clear interrupt and error */
    qtest_outl(qt, BMIBA + 4, PRD_GPA);
    qtest_outb(qt, BMIBA, (uint8_t)((to_memory ? 0x08 : 0) | 0x01));
}

static uint8_t bm_wait_intr(void)
{
    for (int i = 0; i < 5000; i++) {
        uint8_t st = qtest_inb(qt, BMIBA + 2);
        if (st & 0x04) {
            return st;
        }
        g_usleep(1000);
    }
    g_assert_not_reached();
}

static void test_dma_read(void)
{
    uint8_t got[3 * SECTOR], want[SECTOR];
    uint8_t bst;

    g_free(qtest_cmd_ok(qt, "memset 0x%x %u 0", BUF_GPA, 4 * SECTOR));
    /* Two PRDs: one sector at BUF, two sectors 4 KiB further on. */
    write_prd(0, BUF_GPA, SECTOR, false);
    write_prd(1, BUF_GPA + 4096, 2 * SECTOR, true);
    select_lba28(30, 3);
    qtest_outb(qt, REG_STATUS, 0xc8);
    bm_start(true);
    bst = bm_wait_intr();
    g_assert_cmphex(bst & 0x07, ==, 0x04); /* interrupt, not active (table used up), no error */
    g_assert_cmphex(wait_not_busy() & (ST_ERR | ST_DRQ), ==, 0);
    g_assert_cmpint(qtest_isa_level(qt, 14), ==, 1);
    qtest_inb(qt, REG_STATUS);
    g_assert_cmpint(qtest_isa_level(qt, 14), ==, 0);
    qtest_outb(qt, BMIBA, 0x00);
    qtest_memread(qt, BUF_GPA, got, SECTOR);
    qtest_memread(qt, BUF_GPA + 4096, got + SECTOR, 2 * SECTOR);
    for (unsigned s = 0; s < 3; s++) {
        file_sector(30 + s, want);
        g_assert_cmpmem(got + s * SECTOR, SECTOR, want, SECTOR);
    }
}

static void test_dma_write(void)
{
    uint8_t data[2 * SECTOR], back[SECTOR];

    for (unsigned i = 0; i < sizeof(data); i++) {
        data[i] = (uint8_t)(i * 13 + 1);
    }
    qtest_memwrite(qt, BUF_GPA, data, sizeof(data));
    write_prd(0, BUF_GPA, 2 * SECTOR, true);
    select_lba28(40, 2);
    qtest_outb(qt, REG_STATUS, 0xca);
    bm_start(false);
    g_assert_cmphex(bm_wait_intr() & 0x07, ==, 0x04);
    g_assert_cmphex(wait_not_busy() & (ST_ERR | ST_DRQ), ==, 0);
    qtest_inb(qt, REG_STATUS);
    qtest_outb(qt, BMIBA, 0x00);
    for (unsigned s = 0; s < 2; s++) {
        file_sector(40 + s, back);
        g_assert_cmpmem(back, SECTOR, data + s * SECTOR, SECTOR);
    }
}

/* A PRD table longer than the transfer: the interrupt comes, active stays set. */
static void test_dma_prd_longer(void)
{
    write_prd(0, BUF_GPA, 4 * SECTOR, true);
    select_lba28(2, 1);
    qtest_outb(qt, REG_STATUS, 0xc8);
    bm_start(true);
    g_assert_cmphex(bm_wait_intr() & 0x07, ==, 0x05);
    qtest_inb(qt, REG_STATUS);
    qtest_outb(qt, BMIBA, 0x00);
}

static void test_flush_and_irq(void)
{
    qtest_outb(qt, REG_DEVICE, 0xa0);
    qtest_inb(qt, REG_STATUS);
    g_assert_cmpint(qtest_isa_level(qt, 14), ==, 0);
    qtest_outb(qt, REG_STATUS, 0xe7);
    g_assert_cmphex(wait_not_busy() & ST_ERR, ==, 0);
    g_assert_cmpint(qtest_isa_level(qt, 14), ==, 1);
    /* The alternate status leaves the interrupt pending; the status acknowledges it. */
    qtest_inb(qt, CTL);
    g_assert_cmpint(qtest_isa_level(qt, 14), ==, 1);
    qtest_inb(qt, REG_STATUS);
    g_assert_cmpint(qtest_isa_level(qt, 14), ==, 0);
    /* nIEN masks the line. */
    qtest_outb(qt, CTL, 0x02);
    qtest_outb(qt, REG_STATUS, 0xea);
    wait_not_busy();
    g_assert_cmpint(qtest_isa_level(qt, 14), ==, 0);
    qtest_outb(qt, CTL, 0x00);
    qtest_inb(qt, REG_STATUS);
}

static void test_srst_signature(void)
{
    select_lba28(0x123456, 7);
    qtest_outb(qt, CTL, 0x04);
    qtest_outb(qt, CTL, 0x00);
    g_assert_cmphex(wait_not_busy() & (ST_DRDY | ST_ERR | ST_DRQ), ==, ST_DRDY);
    g_assert_cmphex(qtest_inb(qt, REG_NSECTOR), ==, 1);
    g_assert_cmphex(qtest_inb(qt, REG_SECTOR), ==, 1);
    g_assert_cmphex(qtest_inb(qt, REG_LCYL), ==, 0);
    g_assert_cmphex(qtest_inb(qt, REG_HCYL), ==, 0);
    g_assert_cmphex(qtest_inb(qt, REG_ERROR), ==, 1);
}

static void test_slave_absent(void)
{
    qtest_outb(qt, REG_DEVICE, 0xb0);
    g_assert_cmphex(qtest_inb(qt, REG_STATUS), ==, 0);
    g_assert_cmphex(qtest_inb(qt, CTL), ==, 0);
    qtest_outb(qt, REG_STATUS, 0xec); /* to nobody */
    g_assert_cmphex(qtest_inb(qt, REG_STATUS), ==, 0);
    qtest_outb(qt, REG_DEVICE, 0xa0);
    g_assert_cmphex(qtest_inb(qt, REG_STATUS) & ST_DRDY, ==, ST_DRDY);
    /* The secondary channel has no device at all. */
    g_assert_cmphex(qtest_inb(qt, 0x177), ==, 0);
}

/* Multiple mode: READ MULTIPLE moves 4 sectors per DRQ block, one interrupt per block. */
static void test_read_multiple(void)
{
    uint8_t got[8 * SECTOR], want[SECTOR];

    qtest_outb(qt, REG_NSECTOR, 4);
    qtest_outb(qt, REG_STATUS, 0xc6);
    g_assert_cmphex(wait_not_busy() & ST_ERR, ==, 0);
    select_lba28(48, 8);
    qtest_outb(qt, REG_STATUS, 0xc4);
    for (unsigned b = 0; b < 2; b++) {
        g_assert_cmphex(wait_not_busy() & ST_DRQ, ==, ST_DRQ);
        g_free(qtest_cmd_ok(qt, "ins 2 0x%x 0x%x %u", REG_DATA, BUF_GPA, 4 * SECTOR / 2));
        qtest_memread(qt, BUF_GPA, got + b * 4 * SECTOR, 4 * SECTOR);
    }
    g_assert_cmphex(wait_not_busy() & ST_DRQ, ==, 0);
    for (unsigned s = 0; s < 8; s++) {
        file_sector(48 + s, want);
        g_assert_cmpmem(got + s * SECTOR, SECTOR, want, SECTOR);
    }
}

int main(int argc, char **argv)
{
    int rc;

    g_test_init(&argc, &argv, NULL);
    make_image();
    {
        g_autofree char *args = g_strdup_printf(
            "-drive file=%s,if=ide,index=0,media=disk,format=raw,cache=writeback", image);
        qt = qtest_start("--serial null", args);
    }
    enable_controller();
    g_test_add_func("/ide/identify", test_identify);
    g_test_add_func("/ide/pio-read", test_pio_read);
    g_test_add_func("/ide/pio-read-dword", test_pio_read_dword);
    g_test_add_func("/ide/pio-write", test_pio_write);
    g_test_add_func("/ide/read-multiple", test_read_multiple);
    g_test_add_func("/ide/lba48", test_lba48);
    g_test_add_func("/ide/idnf", test_idnf);
    g_test_add_func("/ide/dma-read", test_dma_read);
    g_test_add_func("/ide/dma-write", test_dma_write);
    g_test_add_func("/ide/dma-prd-longer", test_dma_prd_longer);
    g_test_add_func("/ide/flush-irq", test_flush_and_irq);
    g_test_add_func("/ide/srst-signature", test_srst_signature);
    g_test_add_func("/ide/slave-absent", test_slave_absent);
    rc = g_test_run();
    g_assert_cmpint(qtest_quit(qt), ==, 0);
    close(image_fd);
    return rc;
}
