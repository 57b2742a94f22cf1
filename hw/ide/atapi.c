/*
 * ATAPI: the PACKET command (ATA8-ACS §7.18; the ATA Packet Interface of SFF-8020i) carrying
 * MMC command packets to the CD-ROM command set (include/xendm/mmc.h, hw/scsi/).
 *
 * The host writes PACKET with the byte count limit in LBA mid/high and features bit 0 for
 * DMA, then the 12-byte packet through the data port (interrupt reason CoD=1, IO=0). The
 * reply goes back by PIO in DRQ blocks of at most the byte count limit, each announced with
 * an interrupt, IO=1 CoD=0 and its length in LBA mid/high, or by bus-master DMA. Sector reads
 * go to the drive's backend a buffer-full at a time for PIO (ide_pio_read_fetch, shared with
 * the ATA disk's reads) or by bus-master DMA. The command ends with IO=1 CoD=1 and an
 * interrupt; CHECK CONDITION puts the sense key in the error register's high nibble with ERR
 * in the status.
 */
#include <glib.h>
#include <inttypes.h>

#include "ide.h"
#include "xendm/log.h"
#include "xendm/trace.h"

#define ATAPI_SIG_LCYL 0x14
#define ATAPI_SIG_HCYL 0xeb
#define ATAPI_FEATURE_DMA 0x01
/* The largest DRQ block: the byte count register is 16 bits and a block is whole words. */
#define ATAPI_MAX_BYTE_COUNT 0xfffeu
#define ATAPI_SECTORS_PER_FILL (IDE_BUF_SIZE / MMC_SECTOR_SIZE)

void atapi_set_signature(struct ide_drive *d)
{
    d->lcyl = ATAPI_SIG_LCYL;
    d->hcyl = ATAPI_SIG_HCYL;
}

/* IDENTIFY PACKET DEVICE (ATA8-ACS §7.17), with qemu-xen's values. */
void atapi_identify(struct ide_drive *d, uint16_t *w)
{
    memset(w, 0, 512);
    /* ATAPI, CD-ROM (type 05h), removable, 50 us to DRQ after PACKET, 12-byte packets. */
    w[0] = 0x85c0;
    ide_put_string(w, 10, 10, d->serial);
    w[20] = 3;
    w[21] = 512;
    w[22] = 4;
    ide_put_string(w, 23, 4, "2.5+");
    ide_put_string(w, 27, 20, "QEMU DVD-ROM");
    w[48] = 1;
    w[49] = 0x0300; /* LBA, DMA */
    w[53] = 7;
    w[62] = 7;
    w[63] = 7 | ((d->xfer_mode & 0xf8) == 0x20 ? (uint16_t)(1u << (8 + (d->xfer_mode & 7))) : 0);
    w[64] = 3;
    w[65] = 0xb4;
    w[66] = 0xb4;
    w[67] = 0x12c;
    w[68] = 0xb4;
    w[71] = 30;
    w[72] = 30;
    w[80] = 0x1e; /* ATA/ATAPI-1 to -4 */
    w[88] = 0x3f | ((d->xfer_mode & 0xf8) == 0x40 ? (uint16_t)(1u << (8 + (d->xfer_mode & 7)))
                                                   : 0);
}

/* ---- ends of a command ---- */

static void atapi_done(struct ide_drive *d, uint8_t status_extra, uint8_t error)
{
    ide_transfer_stop(d);
    d->error = error;
    d->nsector = ATAPI_IREASON_IO | ATAPI_IREASON_COD;
    d->status = ATA_STATUS_DRDY | ATA_STATUS_DSC | status_extra;
    ide_set_intrq(d);
}

static void atapi_good(struct ide_drive *d)
{
    atapi_done(d, 0, 0);
}

static void atapi_check_condition(struct ide_drive *d, uint8_t sense_key)
{
    atapi_done(d, ATA_STATUS_ERR, (uint8_t)(sense_key << 4));
}

static void atapi_read_failed(struct ide_drive *d)
{
    struct mmc_result res;

    mmc_cdrom_read_failed(&d->cd, &res);
    atapi_check_condition(d, res.sense_key);
}

/* ---- PIO ---- */

/* The next DRQ block of buf[buf_pos, buf_end), at most the byte count limit. */
static void atapi_open_drq_block(struct ide_drive *d)
{
    uint32_t left = d->buf_end - d->buf_pos;
    uint32_t n = XENDM_MIN(left, d->byte_count_limit);

    if (n < left) {
        n &= ~1u; /* a block that is not the last is whole words */
    }
    d->drq_end = d->buf_pos + n;
    d->lcyl = (uint8_t)n;
    d->hcyl = (uint8_t)(n >> 8);
    d->nsector = ATAPI_IREASON_IO;
    d->status = ATA_STATUS_DRDY | ATA_STATUS_DSC | ATA_STATUS_DRQ;
    ide_set_intrq(d);
}

/* ATAPI PIO data-in: each fill of buf goes out in DRQ blocks of the byte count limit. */
static const struct ide_pio_read atapi_pio_read = {
    .op = IDE_OP_ATAPI_READ,
    .sector_size = MMC_SECTOR_SIZE,
    .filled = atapi_open_drq_block,
    .failed = atapi_read_failed,
};

static void atapi_fetch(struct ide_drive *d)
{
    if (d->drive == NULL || d->drive->backend == NULL) {
        atapi_read_failed(d); /* the medium went away mid-command */
        return;
    }
    ide_pio_read_fetch(d, &atapi_pio_read, ATAPI_SECTORS_PER_FILL);
}

void atapi_pio_block_done(struct ide_drive *d)
{
    if (d->buf_pos < d->buf_end) {
        atapi_open_drq_block(d);
    } else if (d->op == IDE_OP_ATAPI_READ && d->io_sectors_left > 0) {
        atapi_fetch(d);
    } else {
        atapi_good(d);
    }
}

/* ---- DMA ---- */

static void atapi_start_dma(struct ide_drive *d, enum ide_dma_kind kind, uint64_t offset,
                            uint64_t bytes)
{
    d->dma_pending = true;
    d->dma_kind = (uint8_t)kind;
    d->dma_offset = offset;
    d->dma_bytes_left = bytes;
    d->status = ATA_STATUS_DRDY | ATA_STATUS_DSC | ATA_STATUS_DRQ;
    d->nsector = ATAPI_IREASON_IO;
    TRACE(ide_dma_start, "ch=%u unit=%u atapi offset=%" PRIu64 " bytes=%" PRIu64,
          d->ch->index, d->unit, offset, bytes);
    bmdma_kick(d->ch);
}

void atapi_dma_finished(struct ide_drive *d, int ret, bool fault)
{
    if (fault) {
        atapi_done(d, ATA_STATUS_ERR, ATA_ERROR_ABRT);
    } else if (ret < 0) {
        atapi_read_failed(d);
    } else {
        atapi_good(d);
    }
}

/* ---- the packet ---- */

void atapi_packet_command(struct ide_drive *d)
{
    uint32_t limit = (uint32_t)d->hcyl << 8 | d->lcyl;

    d->atapi_dma = d->feature & ATAPI_FEATURE_DMA;
    /*
     * A limit of 0 is not meaningful (no block could move); like 0xFFFF it is taken as the
     * largest even count, so a careless driver still gets its data. An odd limit of 1
     * would allow no whole word: raised to 2.
     */
    if (limit == 0 || limit > ATAPI_MAX_BYTE_COUNT) {
        limit = ATAPI_MAX_BYTE_COUNT;
    }
    d->byte_count_limit = XENDM_MAX(limit, 2u);
    d->op = IDE_OP_PACKET;
    d->buf_pos = 0;
    d->drq_end = d->buf_end = MMC_CDB_SIZE;
    d->nsector = ATAPI_IREASON_COD;
    /* IDENTIFY PACKET word 0 says "DRQ within 50 us": no interrupt before the packet. */
    d->status = ATA_STATUS_DRDY | ATA_STATUS_DSC | ATA_STATUS_DRQ;
}

static void atapi_reply(struct ide_drive *d, size_t len)
{
    len = XENDM_MIN(len, (size_t)MMC_REPLY_MAX);
    if (len == 0) {
        atapi_good(d);
        return;
    }
    d->op = IDE_OP_ATAPI_REPLY;
    if (d->atapi_dma) {
        atapi_start_dma(d, IDE_DMA_FROM_BUF, 0, len);
        return;
    }
    d->buf_pos = 0;
    d->buf_end = (uint32_t)len;
    atapi_open_drq_block(d);
}

static void atapi_read_sectors(struct ide_drive *d, uint32_t lba, uint32_t sectors)
{
    if (d->drive == NULL || d->drive->backend == NULL || sectors == 0) {
        atapi_read_failed(d);
        return;
    }
    d->op = IDE_OP_ATAPI_READ;
    d->io_lba = lba;
    d->io_sectors_left = sectors;
    if (d->atapi_dma) {
        atapi_start_dma(d, IDE_DMA_FROM_DISK, (uint64_t)lba * MMC_SECTOR_SIZE,
                        (uint64_t)sectors * MMC_SECTOR_SIZE);
        return;
    }
    atapi_fetch(d);
}

void atapi_run_cdb(struct ide_drive *d)
{
    struct mmc_result res;

    memcpy(d->cdb, d->buf, MMC_CDB_SIZE);
    ide_transfer_stop(d);
    TRACE(atapi_packet, "ch=%u unit=%u op=0x%02x dma=%d limit=%" PRIu32, d->ch->index, d->unit,
          d->cdb[0], d->atapi_dma, d->byte_count_limit);
    memset(&res, 0, sizeof(res));
    mmc_cdrom_command(&d->cd, d->cdb, d->buf, &res);
    switch (res.outcome) {
    case MMC_GOOD:
        atapi_reply(d, res.len);
        break;
    case MMC_READ_SECTORS:
        atapi_read_sectors(d, res.lba, res.sectors);
        break;
    default:
        atapi_check_condition(d, res.sense_key);
        break;
    }
}
