/*
 * Unit tests of the CD-ROM's MMC command set (hw/scsi/mmc-cdrom.c): every command against a
 * drive whose medium is a small image file opened through the block layer, and against an
 * empty drive; the sense rules, allocation lengths, the tray lock, unit attention, and CDBs
 * a hostile guest sends.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "xendm/block.h"
#include "xendm/mmc.h"
#include "xendm/trace.h"

#define IMAGE_SECTORS 100u
#define CD_MAX_SECTORS (90u * 60u * 75u)

struct fixture {
    char *dir;
    struct drive drive;
    struct mmc_cdrom cd;
    struct mmc_result res;
    uint8_t *buf; /* exactly MMC_REPLY_MAX: ASan catches any write past it */
};

/* A sparse image file of `sectors` 2048-byte sectors, opened read-only. */
static struct block_backend *open_image(const char *dir, const char *name, uint64_t sectors)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    GError *err = NULL;

    FILE *f = fopen(path, "w");
    g_assert_nonnull(f);
    g_assert_cmpint(ftruncate(fileno(f), (off_t)(sectors * MMC_SECTOR_SIZE)), ==, 0);
    fclose(f);
    struct block_open_options options = {
        .filename = path, .fd = -1, .read_only = true, .cache = BLOCK_CACHE_WRITEBACK,
    };
    struct block_backend *bb = block_open(&options, &err);
    g_assert_no_error(err);
    g_assert_nonnull(bb);
    return bb;
}

static void setup_common(struct fixture *f)
{
    f->dir = g_dir_make_tmp("test-mmc-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
    f->drive.id = g_strdup("ide1-cd0");
    f->drive.interface = DRIVE_IF_IDE;
    f->drive.index = 2;
    f->drive.media = DRIVE_MEDIA_CDROM;
    f->drive.read_only = true;
    f->buf = g_malloc(MMC_REPLY_MAX);
}

static void setup_medium(struct fixture *f, gconstpointer data)
{
    (void)data;
    setup_common(f);
    f->drive.backend = open_image(f->dir, "disc.iso", IMAGE_SECTORS);
    mmc_cdrom_init(&f->cd, &f->drive);
}

static void setup_empty(struct fixture *f, gconstpointer data)
{
    (void)data;
    setup_common(f);
    mmc_cdrom_init(&f->cd, &f->drive);
}

static void remove_dir(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        g_unlink(path);
    }
    if (d) {
        g_dir_close(d);
    }
    g_rmdir(dir);
}

static void teardown(struct fixture *f, gconstpointer data)
{
    (void)data;
    block_close(f->drive.backend);
    g_free(f->drive.id);
    g_free(f->buf);
    remove_dir(f->dir);
    g_free(f->dir);
}

/* Changes the medium as drive.c does: the backend swapped, then the device told. */
static void change_medium(struct fixture *f, struct block_backend *bb)
{
    block_close(f->drive.backend);
    f->drive.backend = bb;
    mmc_cdrom_medium_changed(&f->cd);
}

static void run(struct fixture *f, const uint8_t cdb[MMC_CDB_SIZE])
{
    memset(f->buf, 0xa5, MMC_REPLY_MAX);
    memset(&f->res, 0x5a, sizeof(f->res));
    mmc_cdrom_command(&f->cd, cdb, f->buf, &f->res);
}

#define CDB(...) ((const uint8_t[MMC_CDB_SIZE]){__VA_ARGS__})

static void assert_sense(struct fixture *f, uint8_t key, uint8_t asc, uint8_t ascq)
{
    g_assert_cmpint(f->res.outcome, ==, MMC_CHECK_CONDITION);
    g_assert_cmphex(f->res.sense_key, ==, key);
    g_assert_cmphex(f->res.asc, ==, asc);
    g_assert_cmphex(f->res.ascq, ==, ascq);
    /* What REQUEST SENSE will report is the same. */
    g_assert_cmphex(f->cd.sense_key, ==, key);
    g_assert_cmphex(f->cd.asc, ==, asc);
    g_assert_cmphex(f->cd.ascq, ==, ascq);
}

static void assert_good(struct fixture *f, size_t len)
{
    g_assert_cmpint(f->res.outcome, ==, MMC_GOOD);
    g_assert_cmpuint(f->res.len, ==, len);
}

static void assert_read(struct fixture *f, uint32_t lba, uint32_t sectors)
{
    g_assert_cmpint(f->res.outcome, ==, MMC_READ_SECTORS);
    g_assert_cmpuint(f->res.lba, ==, lba);
    g_assert_cmpuint(f->res.sectors, ==, sectors);
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* REQUEST SENSE with room for all 18 bytes; checks the fixed format and the sense. */
static void assert_request_sense(struct fixture *f, uint8_t key, uint8_t asc, uint8_t ascq)
{
    run(f, CDB(0x03, 0, 0, 0, 252));
    assert_good(f, 18);
    g_assert_cmphex(f->buf[0], ==, 0x70);
    g_assert_cmphex(f->buf[2], ==, key);
    g_assert_cmphex(f->buf[7], ==, 10);
    g_assert_cmphex(f->buf[12], ==, asc);
    g_assert_cmphex(f->buf[13], ==, ascq);
}

/* ---- no medium, tray ---- */

/* Closes the tray on the disc (LoEj, Start 1) and takes the unit attention that raises. */
static void close_tray(struct fixture *f)
{
    run(f, CDB(0x1b, 0, 0, 0, 0x03));
    assert_good(f, 0);
    g_assert_false(f->cd.tray_open);
    run(f, CDB(0x00));
    assert_sense(f, MMC_SENSE_UNIT_ATTENTION, 0x28, 0x00);
}

static void test_no_medium(struct fixture *f, gconstpointer data)
{
    (void)data;
    g_assert_cmpuint(mmc_cdrom_sectors(&f->cd), ==, 0);
    run(f, CDB(0x00));
    assert_sense(f, MMC_SENSE_NOT_READY, 0x3a, 0x01);
    assert_request_sense(f, MMC_SENSE_NOT_READY, 0x3a, 0x01);
    g_assert_cmphex(f->cd.sense_key, ==, MMC_SENSE_NONE); /* cleared */

    static const uint8_t needs_medium[] = {0x25, 0x28, 0xa8, 0xbe, 0x2b, 0x42, 0x43, 0x51, 0x52};
    for (size_t i = 0; i < G_N_ELEMENTS(needs_medium); i++) {
        uint8_t cdb[MMC_CDB_SIZE] = {needs_medium[i], 0, 0, 0, 0, 0, 0, 0, 1, 0x10};
        run(f, cdb);
        assert_sense(f, MMC_SENSE_NOT_READY, 0x3a, 0x01);
    }
    /* What needs no medium still works. */
    run(f, CDB(0x12, 0, 0, 0, 36));
    assert_good(f, 36);
    run(f, CDB(0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 255));
    assert_good(f, 30);
    run(f, CDB(0x46, 0, 0, 0, 0, 0, 0, 0, 255));
    g_assert_cmpint(f->res.outcome, ==, MMC_GOOD);
    g_assert_cmphex(be16(f->buf + 6), ==, 0x0000); /* no current profile */
    run(f, CDB(0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8));
    assert_good(f, 8);
    g_assert_cmphex(f->buf[5], ==, 0x00); /* tray closed, no medium */
    run(f, CDB(0x1e, 0, 0, 0, 1));
    assert_good(f, 0);
    run(f, CDB(0xbb, 0, 0xff, 0xff));
    assert_good(f, 0);
    run(f, CDB(0x35));
    assert_good(f, 0);
}

static void test_tray(struct fixture *f, gconstpointer data)
{
    (void)data;
    run(f, CDB(0x00));
    assert_good(f, 0);
    run(f, CDB(0x1b, 0, 0, 0, 0x02)); /* LoEj, Start 0: open */
    assert_good(f, 0);
    g_assert_true(f->cd.tray_open);
    run(f, CDB(0x00));
    assert_sense(f, MMC_SENSE_NOT_READY, 0x3a, 0x02);
    run(f, CDB(0x28, 0, 0, 0, 0, 0, 0, 0, 1));
    assert_sense(f, MMC_SENSE_NOT_READY, 0x3a, 0x02);
    run(f, CDB(0xbd, 0, 0, 0, 0, 0, 0, 0, 0, 8));
    assert_good(f, 8);
    g_assert_cmphex(f->buf[1] & 0x10, ==, 0x10); /* door open */
    run(f, CDB(0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8));
    assert_good(f, 8);
    g_assert_cmphex(f->buf[4], ==, 3); /* media removal */
    g_assert_cmphex(f->buf[5], ==, 0x01);

    run(f, CDB(0x1b, 0, 0, 0, 0x03)); /* LoEj, Start 1: close on the disc */
    assert_good(f, 0);
    g_assert_false(f->cd.tray_open);
    run(f, CDB(0x00));
    assert_sense(f, MMC_SENSE_UNIT_ATTENTION, 0x28, 0x00);
    run(f, CDB(0x00));
    assert_good(f, 0);

    /* Start/stop without LoEj, and power conditions, leave the tray alone. */
    run(f, CDB(0x1b, 0, 0, 0, 0x00));
    assert_good(f, 0);
    run(f, CDB(0x1b, 0, 0, 0, 0x32));
    assert_good(f, 0);
    g_assert_false(f->cd.tray_open);
}

static void test_lock(struct fixture *f, gconstpointer data)
{
    (void)data;
    run(f, CDB(0x1e, 0, 0, 0, 1));
    assert_good(f, 0);
    g_assert_true(f->cd.locked);
    run(f, CDB(0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 255));
    g_assert_cmphex(f->buf[8 + 6], ==, 0x2b); /* tray, Eject, Lock state, Lock */

    run(f, CDB(0x1b, 0, 0, 0, 0x02));
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x53, 0x02);
    g_assert_false(f->cd.tray_open);

    /* QMP eject: refused, and the host hears of the button press. */
    g_assert_false(mmc_cdrom_eject_request(&f->cd, false));
    g_assert_false(f->cd.tray_open);
    run(f, CDB(0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8));
    g_assert_cmphex(f->buf[4], ==, 1); /* eject request */
    g_assert_cmphex(f->buf[5], ==, 0x02);

    run(f, CDB(0x1e, 0, 0, 0, 0));
    g_assert_false(f->cd.locked);
    run(f, CDB(0x1b, 0, 0, 0, 0x02));
    assert_good(f, 0);
    g_assert_true(f->cd.tray_open);

    /* force opens a locked tray and unlocks it. */
    close_tray(f);
    run(f, CDB(0x1e, 0, 0, 0, 1));
    g_assert_true(f->cd.locked);
    g_assert_true(mmc_cdrom_eject_request(&f->cd, true));
    g_assert_true(f->cd.tray_open);
    g_assert_false(f->cd.locked);

    /* A reset unlocks too, and keeps the medium. */
    close_tray(f);
    run(f, CDB(0x1e, 0, 0, 0, 1));
    g_assert_true(f->cd.locked);
    run(f, CDB(0x28, 0, 0xff, 0, 0, 0, 0, 0, 1));
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
    mmc_cdrom_reset(&f->cd);
    g_assert_false(f->cd.locked);
    g_assert_cmphex(f->cd.sense_key, ==, 0);
    g_assert_cmpuint(mmc_cdrom_sectors(&f->cd), ==, IMAGE_SECTORS);
    g_assert_true(mmc_cdrom_eject_request(&f->cd, false));
}

/* ---- unit attention and events ---- */

static void test_medium_change(struct fixture *f, gconstpointer data)
{
    (void)data;
    /* Eject as drive_eject does: ask, close, tell. */
    g_assert_true(mmc_cdrom_eject_request(&f->cd, false));
    change_medium(f, NULL);
    run(f, CDB(0x00));
    assert_sense(f, MMC_SENSE_NOT_READY, 0x3a, 0x02);
    run(f, CDB(0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8));
    assert_good(f, 8);
    g_assert_cmphex(f->buf[4], ==, 3);
    run(f, CDB(0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8));
    g_assert_cmphex(f->buf[4], ==, 0); /* consumed */

    /* A new disc of another size. */
    change_medium(f, open_image(f->dir, "second.iso", 300));
    g_assert_false(f->cd.tray_open);
    /* INQUIRY, REQUEST SENSE (nothing pending) and GESN leave the unit attention alone. */
    run(f, CDB(0x12, 0, 0, 0, 36));
    assert_good(f, 36);
    run(f, CDB(0x4a, 1, 0, 0, 0x10, 0, 0, 0, 4)); /* too short for the event: kept */
    assert_good(f, 4);
    g_assert_cmphex(be16(f->buf), ==, 6);
    g_assert_cmphex(f->buf[2], ==, 4);
    g_assert_cmphex(f->buf[3], ==, 0x10);
    run(f, CDB(0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8));
    g_assert_cmphex(f->buf[4], ==, 2); /* new media */
    g_assert_cmphex(f->buf[5], ==, 0x02); /* present, tray closed */
    g_assert_true(f->cd.unit_attention);
    /* Any other command, even one this drive does not know, meets the unit attention once;
     * it is not run. */
    run(f, CDB(0x25));
    assert_sense(f, MMC_SENSE_UNIT_ATTENTION, 0x28, 0x00);
    assert_request_sense(f, MMC_SENSE_UNIT_ATTENTION, 0x28, 0x00);
    run(f, CDB(0x25));
    assert_good(f, 8);
    g_assert_cmpuint(be32(f->buf), ==, 299);

    /* REQUEST SENSE reports a pending unit attention itself, and clears it (SPC-4 §5.14). */
    change_medium(f, open_image(f->dir, "third.iso", 10));
    assert_request_sense(f, MMC_SENSE_UNIT_ATTENTION, 0x28, 0x00);
    run(f, CDB(0x00));
    assert_good(f, 0);
    assert_request_sense(f, MMC_SENSE_NONE, 0, 0);

    change_medium(f, open_image(f->dir, "fourth.iso", 10));
    run(f, CDB(0xff, 0xff));
    assert_sense(f, MMC_SENSE_UNIT_ATTENTION, 0x28, 0x00);
    run(f, CDB(0xff, 0xff));
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x20, 0x00);
}

static void test_gesn(struct fixture *f, gconstpointer data)
{
    (void)data;
    run(f, CDB(0x4a, 0, 0, 0, 0x10, 0, 0, 0, 8)); /* asynchronous */
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
    run(f, CDB(0x4a, 1, 0, 0, 0x02, 0, 0, 0, 8)); /* operational change class only */
    assert_good(f, 4);
    g_assert_cmphex(be16(f->buf), ==, 2);
    g_assert_cmphex(f->buf[2], ==, 0x80); /* NEA */
    g_assert_cmphex(f->buf[3], ==, 0x10);
    run(f, CDB(0x4a, 1, 0, 0, 0x10, 0, 0, 0, 0));
    assert_good(f, 0);
    run(f, CDB(0x4a, 1, 0, 0, 0xff, 0, 0, 0xff, 0xff));
    assert_good(f, 8);
    g_assert_cmphex(f->buf[4], ==, 0);
    g_assert_cmphex(f->buf[5], ==, 0x02);
}

/* ---- identification ---- */

static void test_inquiry(struct fixture *f, gconstpointer data)
{
    (void)data;
    run(f, CDB(0x12, 0, 0, 0, 96));
    assert_good(f, 36);
    g_assert_cmphex(f->buf[0], ==, 0x05);
    g_assert_cmphex(f->buf[1], ==, 0x80);
    g_assert_cmphex(f->buf[3] & 0x0f, ==, 0x02);
    g_assert_cmphex(f->buf[4], ==, 31);
    g_assert_cmpmem(f->buf + 8, 8, "QEMU    ", 8);
    g_assert_cmpmem(f->buf + 16, 16, "QEMU DVD-ROM    ", 16);
    g_assert_cmpmem(f->buf + 32, 4, "2.5+", 4);

    run(f, CDB(0x12, 0, 0, 0, 5));
    assert_good(f, 5);
    run(f, CDB(0x12, 0, 0, 0, 0));
    assert_good(f, 0);
    run(f, CDB(0x12, 0, 0, 0xff, 0xff)); /* 16-bit allocation length */
    assert_good(f, 36);

    run(f, CDB(0x12, 1, 0x00, 0, 255));
    assert_good(f, 6);
    g_assert_cmphex(f->buf[1], ==, 0x00);
    g_assert_cmpuint(be16(f->buf + 2), ==, 2);
    g_assert_cmphex(f->buf[4], ==, 0x00);
    g_assert_cmphex(f->buf[5], ==, 0x83);

    run(f, CDB(0x12, 1, 0x83, 0, 255));
    size_t id_len = 8 + strlen("ide1-cd0");
    assert_good(f, 8 + id_len);
    g_assert_cmphex(f->buf[1], ==, 0x83);
    g_assert_cmpuint(be16(f->buf + 2), ==, 4 + id_len);
    g_assert_cmphex(f->buf[4], ==, 0x02);
    g_assert_cmphex(f->buf[5], ==, 0x01);
    g_assert_cmpuint(f->buf[7], ==, id_len);
    g_assert_cmpmem(f->buf + 8, id_len, "QEMU    ide1-cd0", id_len);

    run(f, CDB(0x12, 1, 0x80, 0, 255));
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
    run(f, CDB(0x12, 0, 0x83, 0, 255)); /* page code without EVPD */
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
}

static void test_request_sense(struct fixture *f, gconstpointer data)
{
    (void)data;
    run(f, CDB(0x28, 0, 0, 0, 0, 100, 0, 0, 1));
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
    run(f, CDB(0x03, 0, 0, 0, 8)); /* cut to 8 bytes; the sense is gone all the same */
    assert_good(f, 8);
    g_assert_cmphex(f->buf[2], ==, MMC_SENSE_ILLEGAL_REQUEST);
    assert_request_sense(f, MMC_SENSE_NONE, 0, 0);

    run(f, CDB(0x03, 1, 0, 0, 18)); /* descriptor format */
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
    run(f, CDB(0x03, 0, 0, 0, 0));
    assert_good(f, 0);

    /* A command that succeeds leaves no sense of an earlier failure behind. */
    run(f, CDB(0x43, 0, 5, 0, 0, 0, 0, 0, 12));
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
    run(f, CDB(0x00));
    assert_good(f, 0);
    assert_request_sense(f, MMC_SENSE_NONE, 0, 0);

    /* A failed sector read. */
    mmc_cdrom_read_failed(&f->cd, &f->res);
    assert_sense(f, MMC_SENSE_MEDIUM_ERROR, 0x11, 0x00);
    assert_request_sense(f, MMC_SENSE_MEDIUM_ERROR, 0x11, 0x00);
}

/* ---- reading ---- */

static void test_read_capacity(struct fixture *f, gconstpointer data)
{
    (void)data;
    run(f, CDB(0x25));
    assert_good(f, 8);
    g_assert_cmpuint(be32(f->buf), ==, IMAGE_SECTORS - 1);
    g_assert_cmpuint(be32(f->buf + 4), ==, 2048);
    g_assert_cmpuint(mmc_cdrom_sectors(&f->cd), ==, IMAGE_SECTORS);
}

static void test_read(struct fixture *f, gconstpointer data)
{
    (void)data;
    run(f, CDB(0x28, 0, 0, 0, 0, 0, 0, 0, 1));
    assert_read(f, 0, 1);
    run(f, CDB(0x28, 0, 0, 0, 0, 10, 0, 0, 90)); /* up to the last sector */
    assert_read(f, 10, 90);
    run(f, CDB(0x28, 0, 0, 0, 0, 10, 0, 0, 91));
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
    run(f, CDB(0x28, 0, 0, 0, 0, 100, 0, 0, 1));
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
    run(f, CDB(0x28, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 2)); /* LBA + count wraps 32 bits */
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
    run(f, CDB(0x28, 0, 0, 0, 0, 5, 0, 0xff, 0xff));
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
    run(f, CDB(0x28, 0, 0, 0, 0, 5, 0, 0, 0)); /* no sectors */
    assert_good(f, 0);
    run(f, CDB(0x28, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0));
    assert_good(f, 0);

    run(f, CDB(0xa8, 0, 0, 0, 0, 99, 0, 0, 0, 1));
    assert_read(f, 99, 1);
    run(f, CDB(0xa8, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff));
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
    run(f, CDB(0xa8, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1));
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
    run(f, CDB(0xa8, 0, 0, 0, 0, 0, 0, 0, 0, 0));
    assert_good(f, 0);

    run(f, CDB(0x2b, 0, 0, 0, 0, 99));
    assert_good(f, 0);
    run(f, CDB(0x2b, 0, 0, 0, 0, 100));
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
}

static void test_read_cd(struct fixture *f, gconstpointer data)
{
    (void)data;
    run(f, CDB(0xbe, 0, 0, 0, 0, 3, 0, 0, 4, 0x10)); /* any type, user data */
    assert_read(f, 3, 4);
    run(f, CDB(0xbe, 2 << 2, 0, 0, 0, 3, 0, 0, 4, 0x10)); /* mode 1 */
    assert_read(f, 3, 4);
    run(f, CDB(0xbe, 0, 0, 0, 0, 0, 0, 0, 100, 0x10));
    assert_read(f, 0, 100);
    run(f, CDB(0xbe, 0, 0, 0, 0, 0, 0x01, 0, 0, 0x10)); /* 24-bit length: 65536 */
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
    run(f, CDB(0xbe, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 1, 0x10));
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
    run(f, CDB(0xbe, 0, 0, 0, 0, 0, 0, 0, 0, 0x10)); /* no sectors */
    assert_good(f, 0);
    run(f, CDB(0xbe, 0, 0, 0, 0, 0, 0, 0, 4, 0x00)); /* no fields */
    assert_good(f, 0);

    run(f, CDB(0xbe, 1 << 2, 0, 0, 0, 0, 0, 0, 1, 0x10)); /* CD-DA */
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x64, 0x00);
    run(f, CDB(0xbe, 4 << 2, 0, 0, 0, 0, 0, 0, 1, 0x10)); /* mode 2 form 1 */
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x64, 0x00);
    run(f, CDB(0xbe, 7 << 2, 0, 0, 0, 0, 0, 0, 1, 0x10)); /* reserved */
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
    run(f, CDB(0xbe, 0, 0, 0, 0, 0, 0, 0, 1, 0xf8)); /* raw sector */
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
    run(f, CDB(0xbe, 0, 0, 0, 0, 0, 0, 0, 1, 0x10, 0x01)); /* raw sub-channel */
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
}

/* ---- table of contents, disc and track ---- */

static void test_toc(struct fixture *f, gconstpointer data)
{
    (void)data;
    /* Format 0, LBA. */
    run(f, CDB(0x43, 0, 0, 0, 0, 0, 0, 0x10, 0));
    assert_good(f, 20);
    g_assert_cmpuint(be16(f->buf), ==, 18);
    g_assert_cmpuint(f->buf[2], ==, 1);
    g_assert_cmpuint(f->buf[3], ==, 1);
    g_assert_cmphex(f->buf[5], ==, 0x14);
    g_assert_cmpuint(f->buf[6], ==, 1);
    g_assert_cmpuint(be32(f->buf + 8), ==, 0);
    g_assert_cmphex(f->buf[13], ==, 0x14);
    g_assert_cmphex(f->buf[14], ==, 0xaa);
    g_assert_cmpuint(be32(f->buf + 16), ==, IMAGE_SECTORS);

    /* MSF: 00:02:00 and the lead-out at 100 + 150 frames = 00:03:25. */
    run(f, CDB(0x43, 0x02, 0, 0, 0, 0, 0, 0x10, 0));
    assert_good(f, 20);
    g_assert_cmpmem(f->buf + 8, 4, ((const uint8_t[]){0, 0, 2, 0}), 4);
    g_assert_cmpmem(f->buf + 16, 4, ((const uint8_t[]){0, 0, 3, 25}), 4);

    run(f, CDB(0x43, 0, 0, 0, 0, 0, 0xaa, 0, 255)); /* lead-out only */
    assert_good(f, 12);
    g_assert_cmpuint(be16(f->buf), ==, 10);
    g_assert_cmphex(f->buf[6], ==, 0xaa);
    run(f, CDB(0x43, 0, 0, 0, 0, 0, 1, 0, 255));
    assert_good(f, 20);
    run(f, CDB(0x43, 0, 0, 0, 0, 0, 2, 0, 255));
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
    run(f, CDB(0x43, 0, 0, 0, 0, 0, 0, 0, 12)); /* cut */
    assert_good(f, 12);
    g_assert_cmpuint(be16(f->buf), ==, 18);
    run(f, CDB(0x43, 0, 0, 0, 0, 0, 0, 0, 0));
    assert_good(f, 0);

    /* Format 1: session information. */
    run(f, CDB(0x43, 0, 1, 0, 0, 0, 0, 0, 255));
    assert_good(f, 12);
    g_assert_cmpuint(be16(f->buf), ==, 10);
    g_assert_cmpuint(f->buf[2], ==, 1);
    g_assert_cmpuint(f->buf[3], ==, 1);
    g_assert_cmphex(f->buf[5], ==, 0x14);
    g_assert_cmpuint(f->buf[6], ==, 1);
    g_assert_cmpuint(be32(f->buf + 8), ==, 0);
    /* The same through SFF-8020i's format bits in byte 9. */
    run(f, CDB(0x43, 0, 0, 0, 0, 0, 0, 0, 255, 0x40));
    assert_good(f, 12);
    g_assert_cmpuint(be16(f->buf), ==, 10);

    /* Format 2: raw TOC, A0, A1, A2, track 1. */
    run(f, CDB(0x43, 0, 2, 0, 0, 0, 1, 0, 255));
    assert_good(f, 48);
    g_assert_cmpuint(be16(f->buf), ==, 46);
    static const uint8_t points[] = {0xa0, 0xa1, 0xa2, 0x01};
    for (size_t i = 0; i < 4; i++) {
        const uint8_t *d = f->buf + 4 + 11 * i;
        g_assert_cmpuint(d[0], ==, 1);
        g_assert_cmphex(d[1], ==, 0x14);
        g_assert_cmphex(d[3], ==, points[i]);
    }
    g_assert_cmpuint(f->buf[4 + 8], ==, 1);                  /* A0: first track 1 */
    g_assert_cmpuint(f->buf[4 + 11 + 8], ==, 1);             /* A1: last track 1 */
    g_assert_cmpmem(f->buf + 4 + 22 + 8, 3, ((const uint8_t[]){0, 3, 25}), 3);
    g_assert_cmpmem(f->buf + 4 + 33 + 8, 3, ((const uint8_t[]){0, 2, 0}), 3);
    run(f, CDB(0x43, 0, 2, 0, 0, 0, 2, 0, 255));
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);

    for (uint8_t format = 3; format < 16; format++) {
        run(f, CDB(0x43, 0, format, 0, 0, 0, 0, 0, 255));
        assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
    }
}

static void test_disc_track_info(struct fixture *f, gconstpointer data)
{
    (void)data;
    run(f, CDB(0x51, 0, 0, 0, 0, 0, 0, 0, 255));
    assert_good(f, 34);
    g_assert_cmpuint(be16(f->buf), ==, 32);
    g_assert_cmphex(f->buf[2], ==, 0x0e);
    g_assert_cmpuint(f->buf[3], ==, 1);
    g_assert_cmpuint(f->buf[4], ==, 1);
    g_assert_cmpuint(f->buf[6], ==, 1);
    run(f, CDB(0x51, 0, 0, 0, 0, 0, 0, 0, 2));
    assert_good(f, 2);
    run(f, CDB(0x51, 1, 0, 0, 0, 0, 0, 0, 255));
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);

    run(f, CDB(0x52, 1, 0, 0, 0, 1, 0, 0, 255)); /* track 1 */
    assert_good(f, 48);
    g_assert_cmpuint(be16(f->buf), ==, 46);
    g_assert_cmpuint(f->buf[2], ==, 1);
    g_assert_cmpuint(f->buf[3], ==, 1);
    g_assert_cmphex(f->buf[5] & 0x0f, ==, 0x04);
    g_assert_cmphex(f->buf[6] & 0x0f, ==, 0x01);
    g_assert_cmpuint(be32(f->buf + 8), ==, 0);
    g_assert_cmpuint(be32(f->buf + 24), ==, IMAGE_SECTORS);
    run(f, CDB(0x52, 0, 0, 0, 0, 99, 0, 0, 255)); /* by LBA */
    assert_good(f, 48);
    run(f, CDB(0x52, 2, 0, 0, 0, 1, 0, 0, 255)); /* by session */
    assert_good(f, 48);
    run(f, CDB(0x52, 0, 0, 0, 0, 100, 0, 0, 255));
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
    run(f, CDB(0x52, 1, 0, 0, 0, 2, 0, 0, 255));
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
    run(f, CDB(0x52, 1, 0xff, 0xff, 0xff, 0xff, 0, 0, 255));
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
    run(f, CDB(0x52, 3, 0, 0, 0, 1, 0, 0, 255));
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);

    run(f, CDB(0x42, 0, 0x40, 1, 0, 0, 0, 0, 255)); /* current position */
    assert_good(f, 16);
    g_assert_cmphex(f->buf[1], ==, 0x15);
    g_assert_cmpuint(be16(f->buf + 2), ==, 12);
    g_assert_cmpuint(f->buf[4], ==, 1);
    g_assert_cmphex(f->buf[5], ==, 0x14);
    run(f, CDB(0x42, 0x02, 0x40, 1, 0, 0, 0, 0, 255));
    g_assert_cmpmem(f->buf + 8, 4, ((const uint8_t[]){0, 0, 2, 0}), 4);
    run(f, CDB(0x42, 0, 0x00, 1, 0, 0, 0, 0, 255)); /* no SubQ: the header */
    assert_good(f, 4);
    g_assert_cmpuint(be16(f->buf + 2), ==, 0);
    run(f, CDB(0x42, 0, 0x40, 2, 0, 0, 0, 0, 255));
    assert_good(f, 24);
    run(f, CDB(0x42, 0, 0x40, 4, 0, 0, 0, 0, 255));
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);

    run(f, CDB(0xbd, 0, 0, 0, 0, 0, 0, 0, 0, 4));
    assert_good(f, 4);
    g_assert_cmphex(f->buf[1], ==, 0);
}

/* ---- mode pages ---- */

static void test_mode_sense(struct fixture *f, gconstpointer data)
{
    (void)data;
    static const struct {
        uint8_t code, len;
    } pages[] = {{0x01, 12}, {0x0d, 8}, {0x0e, 16}, {0x2a, 22}};
    size_t all = 0;

    for (size_t i = 0; i < G_N_ELEMENTS(pages); i++) {
        for (uint8_t pc = 0; pc < 3; pc++) {
            run(f, CDB(0x5a, 0, (uint8_t)(pc << 6 | pages[i].code), 0, 0, 0, 0, 0, 255));
            assert_good(f, 8u + pages[i].len);
            g_assert_cmpuint(be16(f->buf), ==, 6u + pages[i].len);
            g_assert_cmpuint(be16(f->buf + 6), ==, 0); /* no block descriptors */
            g_assert_cmphex(f->buf[8], ==, pages[i].code);
            g_assert_cmpuint(f->buf[9], ==, pages[i].len - 2);
            if (pc == 1) {
                for (size_t b = 10; b < 8u + pages[i].len; b++) {
                    g_assert_cmphex(f->buf[b], ==, 0); /* nothing changeable */
                }
            }
        }
        run(f, CDB(0x5a, 0, (uint8_t)(3 << 6 | pages[i].code), 0, 0, 0, 0, 0, 255));
        assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x39, 0x00);
        /* MODE SENSE(6): a 4-byte header. */
        run(f, CDB(0x1a, 0, pages[i].code, 0, 255));
        assert_good(f, 4u + pages[i].len);
        g_assert_cmpuint(f->buf[0], ==, 3u + pages[i].len);
        g_assert_cmphex(f->buf[4], ==, pages[i].code);
        all += pages[i].len;
    }
    run(f, CDB(0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 255));
    g_assert_cmpuint(be16(f->buf + 8 + 8), ==, 2816);
    g_assert_cmphex(f->buf[8 + 6], ==, 0x29);
    run(f, CDB(0x5a, 0, 0x0d, 0, 0, 0, 0, 0, 255));
    g_assert_cmpuint(be16(f->buf + 8 + 4), ==, 60);
    g_assert_cmpuint(be16(f->buf + 8 + 6), ==, 75);

    run(f, CDB(0x5a, 0, 0x3f, 0, 0, 0, 0, 0xff, 0xff));
    assert_good(f, 8 + all);
    g_assert_cmpuint(be16(f->buf), ==, 6 + all);
    g_assert_cmphex(f->buf[8], ==, 0x01);
    g_assert_cmphex(f->buf[8 + 12], ==, 0x0d);
    g_assert_cmphex(f->buf[8 + 20], ==, 0x0e);
    g_assert_cmphex(f->buf[8 + 36], ==, 0x2a);
    run(f, CDB(0x5a, 0, 0x3f, 0xff, 0, 0, 0, 0, 255)); /* all subpages too */
    assert_good(f, 8 + all);
    run(f, CDB(0x1a, 0x08, 0x3f, 0, 10)); /* DBD, cut to 10 */
    assert_good(f, 10);
    g_assert_cmpuint(f->buf[0], ==, 3 + all);
    run(f, CDB(0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 0));
    assert_good(f, 0);

    run(f, CDB(0x5a, 0, 0x05, 0, 0, 0, 0, 0, 255)); /* write parameters: not a writer */
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
    run(f, CDB(0x5a, 0, 0x2a, 0x01, 0, 0, 0, 0, 255));
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
    run(f, CDB(0x5a, 0, 0x00, 0, 0, 0, 0, 0, 255));
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);

    run(f, CDB(0x55, 0x10, 0, 0, 0, 0, 0, 0, 24));
    assert_good(f, 0);
    run(f, CDB(0x15, 0x10, 0, 0, 24));
    assert_good(f, 0);
    run(f, CDB(0x55, 0x11, 0, 0, 0, 0, 0, 0, 24)); /* SP: save pages */
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
}

/* ---- GET CONFIGURATION ---- */

/* The feature codes in a GET CONFIGURATION reply, and each one's current bit. */
static size_t list_features(struct fixture *f, uint16_t *codes, bool *current, size_t max)
{
    size_t n = 0;
    size_t end = 4 + be32(f->buf);

    g_assert_cmpuint(end, ==, f->res.len);
    for (size_t off = 8; off < end; off += 4 + f->buf[off + 3]) {
        g_assert_cmpuint(n, <, max);
        codes[n] = be16(f->buf + off);
        current[n] = f->buf[off + 2] & 0x01;
        n++;
    }
    return n;
}

static void test_get_configuration(struct fixture *f, gconstpointer data)
{
    (void)data;
    uint16_t codes[16];
    bool current[16];

    run(f, CDB(0x46, 0, 0, 0, 0, 0, 0, 0x10, 0));
    g_assert_cmpint(f->res.outcome, ==, MMC_GOOD);
    g_assert_cmphex(be16(f->buf + 6), ==, 0x0008); /* CD-ROM */
    size_t n = list_features(f, codes, current, G_N_ELEMENTS(codes));
    static const uint16_t expected[] = {0x0000, 0x0001, 0x0002, 0x0003, 0x0010, 0x001e, 0x001f};
    g_assert_cmpuint(n, ==, G_N_ELEMENTS(expected));
    for (size_t i = 0; i < n; i++) {
        g_assert_cmphex(codes[i], ==, expected[i]);
        g_assert_cmpint(current[i], ==, expected[i] != 0x001f);
    }
    /* The profile list: DVD-ROM not current, CD-ROM current. */
    g_assert_cmphex(be16(f->buf + 12), ==, 0x0010);
    g_assert_cmphex(f->buf[14] & 1, ==, 0);
    g_assert_cmphex(be16(f->buf + 16), ==, 0x0008);
    g_assert_cmphex(f->buf[18] & 1, ==, 1);

    run(f, CDB(0x46, 1, 0, 0, 0, 0, 0, 0x10, 0)); /* current only */
    n = list_features(f, codes, current, G_N_ELEMENTS(codes));
    g_assert_cmpuint(n, ==, 6);
    g_assert_cmphex(codes[5], ==, 0x001e);

    run(f, CDB(0x46, 2, 0, 0x1e, 0, 0, 0, 0x10, 0)); /* one */
    n = list_features(f, codes, current, G_N_ELEMENTS(codes));
    g_assert_cmpuint(n, ==, 1);
    g_assert_cmphex(codes[0], ==, 0x001e);
    run(f, CDB(0x46, 2, 0, 0x1d, 0, 0, 0, 0x10, 0)); /* one this drive lacks */
    n = list_features(f, codes, current, G_N_ELEMENTS(codes));
    g_assert_cmpuint(n, ==, 0);
    run(f, CDB(0x46, 0, 0, 0x03, 0, 0, 0, 0x10, 0)); /* from 3 on */
    n = list_features(f, codes, current, G_N_ELEMENTS(codes));
    g_assert_cmpuint(n, ==, 4);
    g_assert_cmphex(codes[0], ==, 0x0003);
    run(f, CDB(0x46, 0, 0xff, 0xff, 0, 0, 0, 0x10, 0));
    assert_good(f, 8);

    run(f, CDB(0x46, 0, 0, 0, 0, 0, 0, 0, 8)); /* the header only */
    assert_good(f, 8);
    run(f, CDB(0x46, 3, 0, 0, 0, 0, 0, 0x10, 0));
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);

    /* With the tray open, no profile is current, nor is reading. */
    run(f, CDB(0x1b, 0, 0, 0, 0x02));
    run(f, CDB(0x46, 1, 0, 0, 0, 0, 0, 0x10, 0));
    g_assert_cmphex(be16(f->buf + 6), ==, 0);
    n = list_features(f, codes, current, G_N_ELEMENTS(codes));
    g_assert_cmpuint(n, ==, 4);
}

/* An image larger than a CD is a DVD-ROM; beyond 255 minutes MSF saturates. */
static void test_dvd(struct fixture *f, gconstpointer data)
{
    (void)data;
    uint16_t codes[16];
    bool current[16];

    change_medium(f, open_image(f->dir, "dvd.iso", CD_MAX_SECTORS + 1));
    run(f, CDB(0x00));
    assert_sense(f, MMC_SENSE_UNIT_ATTENTION, 0x28, 0x00);
    run(f, CDB(0x46, 1, 0, 0, 0, 0, 0, 0x10, 0));
    g_assert_cmphex(be16(f->buf + 6), ==, 0x0010);
    size_t n = list_features(f, codes, current, G_N_ELEMENTS(codes));
    g_assert_cmpuint(n, ==, 6);
    g_assert_cmphex(codes[5], ==, 0x001f);
    g_assert_cmphex(be16(f->buf + 48 + 8), ==, 16); /* Random Readable: blocking 16 */

    change_medium(f, open_image(f->dir, "big.iso", 256u * 60 * 75));
    run(f, CDB(0x00));
    assert_sense(f, MMC_SENSE_UNIT_ATTENTION, 0x28, 0x00);
    run(f, CDB(0x43, 0x02, 0, 0, 0, 0, 0xaa, 0, 255));
    assert_good(f, 12);
    g_assert_cmpmem(f->buf + 8, 4, ((const uint8_t[]){0, 255, 59, 74}), 4);
    run(f, CDB(0x43, 0, 0, 0, 0, 0, 0xaa, 0, 255));
    g_assert_cmpuint(be32(f->buf + 8), ==, 256u * 60 * 75);
    run(f, CDB(0xa8, 0, 0, 0x11, 0x93, 0xff, 0, 0, 0, 1)); /* the last sector */
    assert_read(f, 256u * 60 * 75 - 1, 1);
}

/* ---- hostile CDBs ---- */

static void assert_sane(struct fixture *f, uint32_t sectors)
{
    switch (f->res.outcome) {
    case MMC_GOOD:
        g_assert_cmpuint(f->res.len, <=, MMC_REPLY_MAX);
        g_assert_cmphex(f->cd.sense_key, ==, 0);
        break;
    case MMC_READ_SECTORS:
        g_assert_cmpuint(f->res.sectors, >=, 1);
        g_assert_cmpuint((uint64_t)f->res.lba + f->res.sectors, <=, sectors);
        break;
    case MMC_CHECK_CONDITION:
        g_assert_cmphex(f->res.sense_key, !=, 0);
        g_assert_cmphex(f->res.sense_key, ==, f->cd.sense_key);
        break;
    default:
        g_assert_not_reached();
    }
}

static void test_all_ones(struct fixture *f, gconstpointer data)
{
    (void)data;
    uint32_t sectors = mmc_cdrom_sectors(&f->cd);

    for (unsigned op = 0; op < 256; op++) {
        uint8_t cdb[MMC_CDB_SIZE];
        memset(cdb, 0xff, sizeof(cdb));
        cdb[0] = (uint8_t)op;
        run(f, cdb);
        assert_sane(f, sectors);
        /* Reset the tray and lock that START STOP UNIT and PREVENT may have changed. */
        mmc_cdrom_reset(&f->cd);
        f->cd.tray_open = false;
        f->cd.unit_attention = false;
    }
    run(f, CDB(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff));
    assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x20, 0x00);
    static const uint8_t unsupported[] = {0x04, 0x0a, 0x2a, 0xa0, 0xa1, 0xa4, 0xad, 0xb6, 0xff};
    for (size_t i = 0; i < G_N_ELEMENTS(unsupported); i++) {
        uint8_t cdb[MMC_CDB_SIZE] = {unsupported[i]};
        run(f, cdb);
        assert_sense(f, MMC_SENSE_ILLEGAL_REQUEST, 0x20, 0x00);
    }
}

/* Random CDBs with a known opcode: the invariants hold, whatever the fields. */
static void test_random(struct fixture *f, gconstpointer data)
{
    (void)data;
    static const uint8_t ops[] = {0x00, 0x03, 0x12, 0x15, 0x1a, 0x1b, 0x1e, 0x25, 0x28, 0x2b,
                                  0x35, 0x42, 0x43, 0x46, 0x4a, 0x51, 0x52, 0x55, 0x5a, 0xa8,
                                  0xbb, 0xbd, 0xbe};
    GRand *rand = g_rand_new_with_seed(5);
    struct block_backend *bb = f->drive.backend;

    for (unsigned i = 0; i < 200000; i++) {
        uint8_t cdb[MMC_CDB_SIZE];
        for (size_t b = 0; b < sizeof(cdb); b++) {
            cdb[b] = (uint8_t)g_rand_int(rand);
        }
        cdb[0] = ops[g_rand_int_range(rand, 0, G_N_ELEMENTS(ops))];
        if (i % 1000 == 999) { /* now and then the medium goes or comes */
            f->drive.backend = f->drive.backend ? NULL : bb;
            mmc_cdrom_medium_changed(&f->cd);
        }
        run(f, cdb);
        assert_sane(f, mmc_cdrom_sectors(&f->cd));
    }
    f->drive.backend = bb;
    g_rand_free(rand);
}

/*
 * The trace points exist and say what happened. In a subprocess: a trace point cannot be
 * turned off again, and the tests after this one would flood stderr.
 */
static void test_trace(struct fixture *f, gconstpointer data)
{
    (void)data;
    if (g_test_subprocess()) {
        g_assert_cmpint(trace_enable("mmc_cdrom_command"), ==, 1);
        g_assert_cmpint(trace_enable("mmc_cdrom_result"), ==, 1);
        run(f, CDB(0x28, 0, 0, 0, 0, 1, 0, 0, 2));
        assert_read(f, 1, 2);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
    g_test_trap_assert_stderr("*mmc_cdrom_command op=0x28*"
                              "mmc_cdrom_result op=0x28 outcome=1 len=0 lba=1 sectors=2*");
}

static void add(const char *name, void (*setup)(struct fixture *, gconstpointer),
                void (*fn)(struct fixture *, gconstpointer))
{
    g_test_add(name, struct fixture, NULL, setup, fn, teardown);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    add("/mmc-cdrom/no-medium", setup_empty, test_no_medium);
    add("/mmc-cdrom/tray", setup_medium, test_tray);
    add("/mmc-cdrom/lock", setup_medium, test_lock);
    add("/mmc-cdrom/medium-change", setup_medium, test_medium_change);
    add("/mmc-cdrom/gesn", setup_medium, test_gesn);
    add("/mmc-cdrom/inquiry", setup_medium, test_inquiry);
    add("/mmc-cdrom/request-sense", setup_medium, test_request_sense);
    add("/mmc-cdrom/read-capacity", setup_medium, test_read_capacity);
    add("/mmc-cdrom/read", setup_medium, test_read);
    add("/mmc-cdrom/read-cd", setup_medium, test_read_cd);
    add("/mmc-cdrom/toc", setup_medium, test_toc);
    add("/mmc-cdrom/disc-track-info", setup_medium, test_disc_track_info);
    add("/mmc-cdrom/mode-sense", setup_medium, test_mode_sense);
    add("/mmc-cdrom/get-configuration", setup_medium, test_get_configuration);
    add("/mmc-cdrom/dvd", setup_medium, test_dvd);
    add("/mmc-cdrom/hostile/all-ones", setup_medium, test_all_ones);
    add("/mmc-cdrom/hostile/all-ones-empty", setup_empty, test_all_ones);
    add("/mmc-cdrom/hostile/random", setup_medium, test_random);
    add("/mmc-cdrom/trace", setup_medium, test_trace);
    return g_test_run();
}
