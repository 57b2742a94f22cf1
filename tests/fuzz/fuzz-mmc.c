/*
 * fuzz-mmc: the CD-ROM command set (hw/scsi/mmc-cdrom.c, include/xendm/mmc.h) fed arbitrary
 * command packets on a drive whose medium comes and goes (QMP eject and blockdev-change-medium
 * through the drive layer, block/drive.c), without a transport in between: every CDB a guest
 * could send through ATAPI reaches the command set here in one step.
 *
 * Media (temporary files of the process): none, an empty file (0 sectors), 5 sectors and
 * 1000 bytes (a partial last sector), 48 sectors, one sector more than a CD holds (a DVD,
 * sparse) and, where the file system allows it, more than 2^32 sectors (sparse), so that the
 * 32-bit sector count, the profile switch and MSF saturation are reached.
 *
 * Input: image u8 (the medium at the start, % 6: 0 none) | steps, each an op byte (% 4):
 *   0 CDB        12 bytes: mmc_cdrom_command()
 *   1 MEDIUM     action u8 (% 4: 0 eject, 1 eject with force, 2-3 change medium) | image u8
 *   2 RESET      mmc_cdrom_reset() (the transport's power-on or hardware reset)
 *   3 READ_FAIL  mmc_cdrom_read_failed() (the transport's sector read failed)
 *
 * Checked after every command: a reply never longer than MMC_REPLY_MAX nor than the
 * allocation length the CDB gave (the reply buffer is exactly MMC_REPLY_MAX bytes, so ASan
 * sees any write past it); a sector read only with a medium in a closed tray, at least one
 * sector, all of them on the medium (and the last one readable through the backend); CHECK
 * CONDITION with a sense key the drive reports and the same sense kept for REQUEST SENSE; a
 * command that succeeds leaves no sense; a pending unit attention is reported before any
 * command but INQUIRY, REQUEST SENSE and GET EVENT STATUS NOTIFICATION; a command that needs
 * a medium finds the drive NOT READY without one. Medium changes: an eject is refused only
 * while the guest holds the tray locked and force is not given; a new medium closes the tray
 * and raises the unit attention.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz-target.h"
#include "xendm/block.h"
#include "xendm/log.h"
#include "xendm/mmc.h"

#define FUZZ_CHECK(cond, ...)                                                                     \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fuzz_fail(__VA_ARGS__);                                                               \
        }                                                                                         \
    } while (0)

#define CD_MAX_SECTORS (90u * 60u * 75u)
#define MAX_STEPS 2048u

enum { IMAGE_NONE, IMAGE_EMPTY, IMAGE_SMALL, IMAGE_CD, IMAGE_DVD, IMAGE_HUGE, IMAGE_COUNT };

static const uint64_t image_sizes[IMAGE_COUNT] = {
    [IMAGE_EMPTY] = 0,
    [IMAGE_SMALL] = 5 * MMC_SECTOR_SIZE + 1000,
    [IMAGE_CD] = 48 * MMC_SECTOR_SIZE,
    [IMAGE_DVD] = (uint64_t)(CD_MAX_SECTORS + 1) * MMC_SECTOR_SIZE,
    [IMAGE_HUGE] = ((uint64_t)UINT32_MAX + 2) * MMC_SECTOR_SIZE,
};

/* The harness's own state: the image files, made once per process. */
static char *image_dir;
static char *image_path[IMAGE_COUNT];

static void images_remove(void)
{
    for (unsigned i = 0; i < IMAGE_COUNT; i++) {
        if (image_path[i] != NULL) {
            unlink(image_path[i]);
        }
    }
    if (image_dir != NULL) {
        rmdir(image_dir);
    }
}

/* Sparse files: only the first sector holds data. A size the file system refuses: no image. */
static void images_create(void)
{
    GError *err = NULL;
    uint8_t sector[MMC_SECTOR_SIZE];

    image_dir = g_dir_make_tmp("xendm-fuzz-mmc-XXXXXX", &err);
    FUZZ_CHECK(image_dir != NULL, "no temporary directory: %s", err ? err->message : "?");
    atexit(images_remove);
    for (unsigned i = 0; i < sizeof(sector); i++) {
        sector[i] = (uint8_t)(i * 7);
    }
    for (unsigned i = IMAGE_EMPTY; i < IMAGE_COUNT; i++) {
        char name[32];
        int fd;

        snprintf(name, sizeof(name), "medium%u.iso", i);
        image_path[i] = g_build_filename(image_dir, name, NULL);
        fd = open(image_path[i], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        FUZZ_CHECK(fd >= 0, "cannot create %s: %s", image_path[i], g_strerror(errno));
        if (ftruncate(fd, (off_t)image_sizes[i]) < 0) {
            unlink(image_path[i]);
            g_free(image_path[i]);
            image_path[i] = NULL; /* e.g. beyond the file system's largest file */
        } else if (image_sizes[i] > 0) {
            FUZZ_CHECK(pwrite(fd, sector, sizeof(sector), 0) == (ssize_t)sizeof(sector),
                       "cannot write %s", image_path[i]);
        }
        close(fd);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (g_getenv("FUZZ_VERBOSE") == NULL) {
        log_set_level(LOG_LEVEL_ERROR);
    }
    g_log_set_always_fatal(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL);
    images_create();
    return 0;
}

/* ---- the drive, wired as the IDE transport wires it (hw/ide/ata.c) ---- */

static bool cd_eject_request(void *opaque, bool force)
{
    return mmc_cdrom_eject_request(opaque, force);
}

static void cd_medium_changed(void *opaque)
{
    mmc_cdrom_medium_changed(opaque);
}

static const struct drive_device_ops cd_ops = {
    .eject_request = cd_eject_request,
    .medium_changed = cd_medium_changed,
};

static struct block_backend *open_image(unsigned image)
{
    struct block_open_options open = {
        .filename = image_path[image % IMAGE_COUNT],
        .fd = -1,
        .read_only = true,
        .cache = BLOCK_CACHE_WRITEBACK,
    };
    GError *err = NULL;
    struct block_backend *bb;

    if (open.filename == NULL) {
        return NULL;
    }
    bb = block_open(&open, &err);
    FUZZ_CHECK(bb != NULL, "cannot open %s: %s", open.filename, err ? err->message : "?");
    return bb;
}

static bool medium_present(const struct mmc_cdrom *cd)
{
    return cd->drive->backend != NULL && !cd->tray_open;
}

/* ---- what the CDB asked for ---- */

static uint32_t be16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

/* The allocation length of a command that returns data, or SIZE_MAX when there is none. */
static size_t allocation_length(const uint8_t *cdb)
{
    switch (cdb[0]) {
    case 0x03: /* REQUEST SENSE */
    case 0x1a: /* MODE SENSE (6) */
        return cdb[4];
    case 0x12: /* INQUIRY */
        return be16(cdb + 3);
    case 0x25: /* READ CAPACITY: fixed 8 bytes */
        return 8;
    case 0x42: /* READ SUB-CHANNEL */
    case 0x43: /* READ TOC/PMA/ATIP */
    case 0x46: /* GET CONFIGURATION */
    case 0x4a: /* GET EVENT STATUS NOTIFICATION */
    case 0x51: /* READ DISC INFORMATION */
    case 0x52: /* READ TRACK INFORMATION */
    case 0x5a: /* MODE SENSE (10) */
        return be16(cdb + 7);
    case 0xbd: /* MECHANISM STATUS */
        return be16(cdb + 8);
    default:
        return 0; /* any other command returns no data */
    }
}

static bool allowed_with_unit_attention(uint8_t op)
{
    return op == 0x12 || op == 0x03 || op == 0x4a;
}

static bool needs_medium(uint8_t op)
{
    static const uint8_t ops[] = {0x00, 0x25, 0x28, 0xa8, 0xbe, 0x2b, 0x42, 0x43, 0x51, 0x52};

    return memchr(ops, op, sizeof(ops)) != NULL;
}

static void check_read(struct mmc_cdrom *cd, const struct mmc_result *res)
{
    uint64_t end = (uint64_t)res->lba + res->sectors;
    uint8_t *sector;
    int ret;

    FUZZ_CHECK(medium_present(cd), "a sector read with no medium (tray %s)",
               cd->tray_open ? "open" : "closed");
    FUZZ_CHECK(res->sectors >= 1 && end <= mmc_cdrom_sectors(cd),
               "a read of %u sectors at %u, the medium has %u", res->sectors, res->lba,
               mmc_cdrom_sectors(cd));
    sector = g_malloc(MMC_SECTOR_SIZE);
    ret = block_pread(cd->drive->backend, sector, MMC_SECTOR_SIZE, (end - 1) * MMC_SECTOR_SIZE);
    FUZZ_CHECK(ret == 0, "the last sector of the read (%" G_GUINT64_FORMAT ") is not on the "
               "medium: %d", end - 1, ret);
    g_free(sector);
}

static void check_condition(const struct mmc_cdrom *cd, const struct mmc_result *res)
{
    FUZZ_CHECK(res->sense_key == MMC_SENSE_NOT_READY || res->sense_key == MMC_SENSE_MEDIUM_ERROR ||
                   res->sense_key == MMC_SENSE_ILLEGAL_REQUEST ||
                   res->sense_key == MMC_SENSE_UNIT_ATTENTION,
               "sense key %x", res->sense_key);
    FUZZ_CHECK(cd->sense_key == res->sense_key && cd->asc == res->asc && cd->ascq == res->ascq,
               "CHECK CONDITION %x/%02x/%02x, but the drive keeps %x/%02x/%02x for REQUEST "
               "SENSE", res->sense_key, res->asc, res->ascq, cd->sense_key, cd->asc, cd->ascq);
}

static void step_command(struct mmc_cdrom *cd, const uint8_t *cdb, uint8_t *buf)
{
    bool attention = cd->unit_attention, present = medium_present(cd);
    struct mmc_result res;

    memset(&res, 0xa5, sizeof(res));
    mmc_cdrom_command(cd, cdb, buf, &res);
    if (attention && !allowed_with_unit_attention(cdb[0])) {
        FUZZ_CHECK(res.outcome == MMC_CHECK_CONDITION &&
                       res.sense_key == MMC_SENSE_UNIT_ATTENTION && !cd->unit_attention,
                   "op 0x%02x ran over a pending unit attention (outcome %d)", cdb[0],
                   (int)res.outcome);
    } else if (needs_medium(cdb[0]) && !present) {
        FUZZ_CHECK(res.outcome == MMC_CHECK_CONDITION && res.sense_key == MMC_SENSE_NOT_READY,
                   "op 0x%02x without a medium: outcome %d, sense %x", cdb[0], (int)res.outcome,
                   res.sense_key);
    }
    switch (res.outcome) {
    case MMC_GOOD:
        FUZZ_CHECK(res.len <= MMC_REPLY_MAX && res.len <= allocation_length(cdb),
                   "op 0x%02x replied %zu bytes (allocation length %zu, buffer %u)", cdb[0],
                   res.len, allocation_length(cdb), MMC_REPLY_MAX);
        FUZZ_CHECK(cd->sense_key == MMC_SENSE_NONE && cd->asc == 0 && cd->ascq == 0,
                   "op 0x%02x succeeded and left sense %x/%02x/%02x", cdb[0], cd->sense_key,
                   cd->asc, cd->ascq);
        break;
    case MMC_READ_SECTORS:
        check_read(cd, &res);
        break;
    case MMC_CHECK_CONDITION:
        check_condition(cd, &res);
        break;
    default:
        fuzz_fail("op 0x%02x: outcome %d", cdb[0], (int)res.outcome);
    }
}

static void step_medium(struct mmc_cdrom *cd, uint8_t action, uint8_t image)
{
    struct drive *drive = cd->drive;
    struct block_backend *before = drive->backend;
    bool locked = cd->locked, ok;
    GError *err = NULL;

    if (action % 4 < 2) {
        bool force = action % 4 == 1;
        ok = drive_eject(drive, force, &err);
        FUZZ_CHECK(ok == (force || !locked), "eject (force %d) with the tray %slocked: %s",
                   force, locked ? "" : "un", ok ? "done" : err->message);
        FUZZ_CHECK(!ok || (drive->backend == NULL && cd->tray_open && !cd->locked),
                   "an eject left the medium in, the tray closed or locked");
    } else {
        struct block_open_options open = {
            .filename = image_path[image % IMAGE_COUNT],
            .fd = -1,
            .read_only = true,
            .cache = BLOCK_CACHE_WRITEBACK,
        };
        if (open.filename == NULL) {
            return;
        }
        ok = drive_change_medium(drive, &open, &err);
        FUZZ_CHECK(ok == !locked, "change of medium with the tray %slocked: %s",
                   locked ? "" : "un", ok ? "done" : err->message);
        FUZZ_CHECK(ok ? drive->backend != before && medium_present(cd) && cd->unit_attention
                      : drive->backend == before,
                   "a change of medium %s, but the drive disagrees", ok ? "done" : "refused");
    }
    if (!ok) {
        FUZZ_CHECK(err != NULL && err->message[0] != '\0', "a refusal without a reason");
        g_error_free(err);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct drive *drive = g_new0(struct drive, 1);
    struct mmc_cdrom *cd = g_new0(struct mmc_cdrom, 1);
    uint8_t *buf = g_malloc(MMC_REPLY_MAX);
    size_t pos = 1;
    GError *err = NULL;

    drive->id = g_strdup("cd0");
    drive->interface = DRIVE_IF_NONE;
    drive->index = -1;
    drive->media = DRIVE_MEDIA_CDROM;
    drive->read_only = true;
    drive->backend = size > 0 && data[0] % IMAGE_COUNT ? open_image(data[0]) : NULL;
    FUZZ_CHECK(drive_attach(drive, &cd_ops, cd, &err), "drive_attach failed");
    mmc_cdrom_init(cd, drive);
    mmc_cdrom_reset(cd);
    for (unsigned steps = 0; pos < size && steps < MAX_STEPS; steps++) {
        uint8_t op = data[pos++] % 4;
        uint8_t operands[MMC_CDB_SIZE] = {0};
        size_t n = op == 0 ? MMC_CDB_SIZE : op == 1 ? 2 : 0;

        memcpy(operands, data + pos, MIN(n, size - pos));
        pos += MIN(n, size - pos);
        if (op == 0) {
            step_command(cd, operands, buf);
        } else if (op == 1) {
            step_medium(cd, operands[0], operands[1]);
        } else if (op == 2) {
            mmc_cdrom_reset(cd);
        } else {
            struct mmc_result res;
            mmc_cdrom_read_failed(cd, &res);
            check_condition(cd, &res);
        }
    }
    drive_detach(drive);
    drive_free(drive);
    g_free(cd);
    g_free(buf);
    return 0;
}
