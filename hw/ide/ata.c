/*
 * One IDE drive: the task file registers, the ATA command set (ACS-3) of a hard disk, the
 * PIO data phase and the drive's INTRQ. ATAPI's PACKET command is in atapi.c, bus-master DMA
 * in bmdma.c.
 *
 * Both devices of a channel latch every write to the command block registers (ATA8-ACS
 * §6: the host writes the shadow registers of both); only the selected one executes a
 * command and drives the status and INTRQ. A selected device that is absent while the other
 * is present reads status 00h (ATA-3 §7.1: device 0 answers for a missing device 1); a channel
 * with no device at all reads 00h everywhere, as qemu-xen answers.
 *
 * All disk I/O goes through the block layer's asynchronous calls: while a request runs the
 * drive is BSY, and its completion (on the event-loop thread) opens the next data phase.
 */
#include <glib.h>
#include <inttypes.h>

#include "ide.h"
#include "xendm/log.h"
#include "xendm/trace.h"

/* ATA commands (ACS-3 §7, plus the obsolete ones BIOSes still send). */
enum {
    ATA_NOP = 0x00,
    ATA_DSM = 0x06,
    ATA_DEVICE_RESET = 0x08,
    ATA_RECALIBRATE = 0x10, /* 0x10-0x1f */
    ATA_READ_SECTORS = 0x20,
    ATA_READ_SECTORS_NORETRY = 0x21,
    ATA_READ_SECTORS_EXT = 0x24,
    ATA_READ_DMA_EXT = 0x25,
    ATA_READ_NATIVE_MAX_EXT = 0x27,
    ATA_READ_MULTIPLE_EXT = 0x29,
    ATA_WRITE_SECTORS = 0x30,
    ATA_WRITE_SECTORS_NORETRY = 0x31,
    ATA_WRITE_SECTORS_EXT = 0x34,
    ATA_WRITE_DMA_EXT = 0x35,
    ATA_WRITE_MULTIPLE_EXT = 0x39,
    ATA_READ_VERIFY = 0x40,
    ATA_READ_VERIFY_NORETRY = 0x41,
    ATA_READ_VERIFY_EXT = 0x42,
    ATA_SEEK = 0x70, /* 0x70-0x7f */
    ATA_EXECUTE_DIAGNOSTIC = 0x90,
    ATA_INITIALIZE_PARAMS = 0x91,
    ATA_STANDBY_IMMEDIATE_OLD = 0x94,
    ATA_IDLE_IMMEDIATE_OLD = 0x95,
    ATA_STANDBY_OLD = 0x96,
    ATA_IDLE_OLD = 0x97,
    ATA_CHECK_POWER_MODE_OLD = 0x98,
    ATA_SLEEP_OLD = 0x99,
    ATA_PACKET = 0xa0,
    ATA_IDENTIFY_PACKET = 0xa1,
    ATA_READ_MULTIPLE = 0xc4,
    ATA_WRITE_MULTIPLE = 0xc5,
    ATA_SET_MULTIPLE = 0xc6,
    ATA_READ_DMA = 0xc8,
    ATA_READ_DMA_NORETRY = 0xc9,
    ATA_WRITE_DMA = 0xca,
    ATA_WRITE_DMA_NORETRY = 0xcb,
    ATA_STANDBY_IMMEDIATE = 0xe0,
    ATA_IDLE_IMMEDIATE = 0xe1,
    ATA_STANDBY = 0xe2,
    ATA_IDLE = 0xe3,
    ATA_CHECK_POWER_MODE = 0xe5,
    ATA_SLEEP = 0xe6,
    ATA_FLUSH_CACHE = 0xe7,
    ATA_FLUSH_CACHE_EXT = 0xea,
    ATA_IDENTIFY = 0xec,
    ATA_SET_FEATURES = 0xef,
    ATA_READ_NATIVE_MAX = 0xf8,
};

/* SET FEATURES subcommands (ACS-3 §7.45). */
#define SETF_ENABLE_WCACHE 0x02
#define SETF_XFER_MODE 0x03
#define SETF_DISABLE_WCACHE 0x82

#define ATA_LBA28_MAX 0x0fffffffu
#define ATA_DEFAULT_HEADS 16u
#define ATA_DEFAULT_SPT 63u
#define ATA_MAX_CYLINDERS 16383u
/* UDMA mode 5, what qemu-xen reports selected at power-on (IDENTIFY word 88). */
#define ATA_DEFAULT_XFER_MODE 0x45
#define ATA_POWER_MODE_ACTIVE 0xff

static void ata_execute(struct ide_drive *d, uint8_t cmd);

bool ide_drive_present(const struct ide_drive *d)
{
    return d->kind != IDE_KIND_NONE && !d->unplugged;
}

static struct ide_drive *selected(struct ide_channel *ch)
{
    return &ch->drives[ch->cur_unit];
}

static bool channel_empty(const struct ide_channel *ch)
{
    return !ide_drive_present(&ch->drives[0]) && !ide_drive_present(&ch->drives[1]);
}

/* ---- interrupts ---- */

void ide_channel_update_irq(struct ide_channel *ch)
{
    struct ide_drive *d = selected(ch);
    bool level = ide_drive_present(d) && d->intrq && !(ch->devctl & ATA_DEVCTL_NIEN);

    irq_set_level(ch->irq, level);
}

void ide_set_intrq(struct ide_drive *d)
{
    struct ide_channel *ch = d->ch;

    d->intrq = true;
    /* SFF-8038i §2.2: the bus master latches the interrupt bit on the rising edge of the
     * IDE interrupt line, which the device drives only while selected and nIEN is clear. */
    if (ch->cur_unit == d->unit && !(ch->devctl & ATA_DEVCTL_NIEN)) {
        ch->bm_status |= BM_STATUS_INTR;
    }
    ide_channel_update_irq(ch);
}

static void clear_intrq(struct ide_drive *d)
{
    if (d->intrq) {
        d->intrq = false;
        ide_channel_update_irq(d->ch);
    }
}

/* ---- signatures, reset ---- */

/* ATA8-ACS §9.12: the signature a device leaves in the task file after a reset. */
static void set_signature(struct ide_drive *d)
{
    d->nsector = d->hob_nsector = 1;
    d->sector = d->hob_sector = 1;
    if (d->kind == IDE_KIND_CD && !d->unplugged) {
        atapi_set_signature(d);
    } else if (ide_drive_present(d)) {
        d->lcyl = d->hcyl = 0;
    } else {
        d->lcyl = d->hcyl = 0xff; /* no device: what qemu-xen leaves for an empty position */
    }
}

void ide_transfer_stop(struct ide_drive *d)
{
    d->op = IDE_OP_NONE;
    d->buf_pos = d->drq_end = d->buf_end = 0;
    d->io_sectors_left = 0;
    d->dma_pending = false;
    d->dma_bytes_left = 0;
    d->status &= (uint8_t)~(ATA_STATUS_DRQ | ATA_STATUS_BSY);
}

void ide_drive_quiesce(struct ide_drive *d)
{
    struct ide_channel *ch = d->ch;

    if (ch->dma_in_flight && d->dma_pending) {
        bmdma_cancel(ch);
    }
    if (d->io_busy && d->drive != NULL && d->drive->backend != NULL) {
        d->io_cancelled = true;
        block_drain(d->drive->backend);
        d->io_cancelled = false;
    }
    d->io_busy = false;
}

/* After a reset: the signature, no transfer, default settings (ACS-3 §4.20: SET FEATURES
 * settings return to their defaults after a hardware or software reset). */
static void drive_reset_registers(struct ide_drive *d)
{
    ide_drive_quiesce(d);
    ide_transfer_stop(d);
    /* The smallest values a transfer uses, which a loaded state is also held to (piix-ide.c's
     * sanitize_drive): a save and load of a reset drive gives the same stream again. */
    d->drq_sectors = 1;
    d->byte_count_limit = 2;
    d->feature = d->hob_feature = 0;
    d->error = ATA_ERROR_AMNF; /* diagnostic code 01h: passed */
    d->select = 0xa0;          /* device 0 selected, as after any reset */
    set_signature(d);
    d->mult_sectors = IDE_MAX_MULTIPLE;
    d->xfer_mode = ATA_DEFAULT_XFER_MODE;
    d->chs_heads = ATA_DEFAULT_HEADS;
    d->chs_sectors = ATA_DEFAULT_SPT;
    d->intrq = false;
    if (d->kind == IDE_KIND_CD) {
        d->status = 0; /* ATAPI: DRDY is not set after a reset */
    } else {
        d->status = ide_drive_present(d) ? ATA_STATUS_DRDY | ATA_STATUS_DSC : 0;
    }
}

void ide_drive_reset(struct ide_drive *d)
{
    drive_reset_registers(d);
    d->write_cache = true;
    if (d->kind == IDE_KIND_CD) {
        mmc_cdrom_reset(&d->cd);
        /* qemu-xen's CD-ROM reads DRDY|DSC at power-on, before any command: guests that
         * were installed there wait for it. */
        d->status = ATA_STATUS_DRDY | ATA_STATUS_DSC;
    }
}

/* ---- attach ---- */

static bool cd_eject_request(void *opaque, bool force)
{
    struct ide_drive *d = opaque;

    return mmc_cdrom_eject_request(&d->cd, force);
}

static void cd_medium_changed(void *opaque)
{
    struct ide_drive *d = opaque;

    mmc_cdrom_medium_changed(&d->cd);
}

/* What QMP query-block reports: the lock of PREVENT ALLOW MEDIUM REMOVAL and the tray. */
static void cd_tray_state(void *opaque, bool *locked, bool *open)
{
    struct ide_drive *d = opaque;

    *locked = d->cd.locked;
    *open = d->cd.tray_open;
}

static const struct drive_device_ops cd_drive_ops = {
    .eject_request = cd_eject_request,
    .medium_changed = cd_medium_changed,
    .tray_state = cd_tray_state,
};

static const struct drive_device_ops hd_drive_ops = {0};

void ide_drive_init(struct ide_drive *d, struct ide_channel *ch, unsigned unit)
{
    d->ch = ch;
    d->unit = unit;
    d->kind = IDE_KIND_NONE;
    /* QEMU numbers the serials of all four positions, empty or not: QM00001..QM00004. */
    snprintf(d->serial, sizeof(d->serial), "QM%05u", ch->index * 2 + unit + 1);
    drive_reset_registers(d);
}

bool ide_drive_attach(struct ide_drive *d, struct drive *drive, enum ide_kind kind,
                      GError **err)
{
    const struct drive_device_ops *ops = kind == IDE_KIND_CD ? &cd_drive_ops : &hd_drive_ops;

    if (!drive_attach(drive, ops, d, err)) {
        return false;
    }
    d->drive = drive;
    d->kind = (uint8_t)kind;
    d->unplugged = false;
    if (kind == IDE_KIND_CD) {
        /*
         * libxl 4.17 names a CD-ROM with `-drive if=none,readonly=on,id=X` (no media=) and
         * `-device ide-cd,drive=X`: the device makes the drive removable, so QMP eject and
         * blockdev-change-medium find a CD-ROM there, and every new medium read-only.
         */
        drive->media = DRIVE_MEDIA_CDROM;
        drive->read_only = true;
        mmc_cdrom_init(&d->cd, drive);
    } else {
        d->nb_sectors = drive->backend != NULL ? block_size(drive->backend) / IDE_SECTOR_SIZE
                                               : 0;
    }
    ide_drive_reset(d);
    return true;
}

void ide_drive_detach(struct ide_drive *d)
{
    if (d->drive == NULL) {
        return;
    }
    ide_drive_quiesce(d);
    drive_detach(d->drive);
    d->drive = NULL;
}

/* ---- IDENTIFY DEVICE ---- */

/* ATA strings: two characters a word, the first in the high byte, space padded. */
void ide_put_string(uint16_t *words, unsigned first, unsigned nwords, const char *text)
{
    size_t len = strlen(text);

    for (unsigned i = 0; i < nwords * 2; i++) {
        uint8_t c = i < len ? (uint8_t)text[i] : ' ';
        unsigned w = first + i / 2;
        words[w] = (i & 1) ? (uint16_t)((words[w] & 0xff00) | c)
                           : (uint16_t)((words[w] & 0x00ff) | (c << 8));
    }
}

static void put_words(uint8_t *buf, const uint16_t *words)
{
    for (unsigned i = 0; i < 256; i++) {
        buf[2 * i] = (uint8_t)words[i];
        buf[2 * i + 1] = (uint8_t)(words[i] >> 8);
    }
}

static uint16_t xfer_mode_word(uint16_t supported, uint8_t mode, uint8_t class_bits)
{
    if ((mode & 0xf8) == class_bits) {
        supported |= (uint16_t)(1u << (8 + (mode & 7)));
    }
    return supported;
}

/* ACS-3 §7.12.7, with the values qemu-xen reports, so installed guests see the same disk. */
static void ata_identify_words(struct ide_drive *d, uint16_t *w)
{
    uint64_t cylinders = d->nb_sectors / (ATA_DEFAULT_HEADS * ATA_DEFAULT_SPT);
    uint64_t lba28 = XENDM_MIN(d->nb_sectors, (uint64_t)ATA_LBA28_MAX);
    uint64_t cur_cyl, cur_capacity;

    cylinders = XENDM_MIN(XENDM_MAX(cylinders, 1), (uint64_t)ATA_MAX_CYLINDERS);
    cur_cyl = d->chs_heads && d->chs_sectors
                  ? XENDM_MIN(d->nb_sectors / ((uint64_t)d->chs_heads * d->chs_sectors),
                              (uint64_t)ATA_MAX_CYLINDERS)
                  : 0;
    cur_capacity = cur_cyl * d->chs_heads * d->chs_sectors;
    memset(w, 0, 512);
    w[0] = 0x0040; /* fixed device */
    w[1] = (uint16_t)cylinders;
    w[3] = ATA_DEFAULT_HEADS;
    w[4] = IDE_SECTOR_SIZE * ATA_DEFAULT_SPT; /* obsolete: bytes per track */
    w[5] = IDE_SECTOR_SIZE;
    w[6] = ATA_DEFAULT_SPT;
    ide_put_string(w, 10, 10, d->serial);
    w[20] = 3; /* obsolete buffer type, buffer size 512 sectors, 4 ECC bytes */
    w[21] = 512;
    w[22] = 4;
    ide_put_string(w, 23, 4, "2.5+");
    ide_put_string(w, 27, 20, "QEMU HARDDISK");
    w[47] = 0x8000 | IDE_MAX_MULTIPLE;
    w[48] = 1;      /* dword I/O */
    w[49] = 0x0b00; /* IORDY, LBA, DMA */
    w[51] = 0x200;  /* PIO timing mode 2 */
    w[52] = 0x200;
    w[53] = 7;      /* words 54-58, 64-70 and 88 are valid */
    w[54] = (uint16_t)cur_cyl;
    w[55] = d->chs_heads;
    w[56] = d->chs_sectors;
    w[57] = (uint16_t)cur_capacity;
    w[58] = (uint16_t)(cur_capacity >> 16);
    w[59] = d->mult_sectors ? (uint16_t)(0x100 | d->mult_sectors) : 0;
    w[60] = (uint16_t)lba28;
    w[61] = (uint16_t)(lba28 >> 16);
    w[62] = 7;
    w[63] = xfer_mode_word(0x07, d->xfer_mode, 0x20); /* multiword DMA 0-2 */
    w[64] = 3;                                         /* PIO 3 and 4 */
    w[65] = w[66] = w[67] = w[68] = 120;               /* cycle times, ns */
    w[80] = 0xf0;                                      /* ATA/ATAPI-4 to -7 */
    w[81] = 0x16;
    w[82] = 0x4021; /* NOP, write cache, SMART */
    w[83] = 0x7400; /* FLUSH CACHE EXT, FLUSH CACHE, 48-bit addresses */
    w[84] = 0x4000;
    w[85] = d->write_cache ? 0x4021 : 0x4001;
    w[86] = 0x3400;
    w[87] = 0x4000;
    w[88] = xfer_mode_word(0x3f, d->xfer_mode, 0x40); /* UDMA 0-5 */
    w[93] = 0x6001;
    w[100] = (uint16_t)d->nb_sectors;
    w[101] = (uint16_t)(d->nb_sectors >> 16);
    w[102] = (uint16_t)(d->nb_sectors >> 32);
    w[103] = (uint16_t)(d->nb_sectors >> 48);
    w[106] = 0x6000;
}

/* ---- data phases ---- */

/* Opens a PIO data block of buf[buf_pos, drq_end): DRQ, and INTRQ when `irq`. */
static void pio_block_start(struct ide_drive *d, bool irq)
{
    d->status = ATA_STATUS_DRDY | ATA_STATUS_DSC | ATA_STATUS_DRQ;
    if (irq) {
        ide_set_intrq(d);
    }
}

void ide_command_done(struct ide_drive *d, uint8_t error)
{
    ide_transfer_stop(d);
    d->error = error;
    d->status = ATA_STATUS_DRDY | ATA_STATUS_DSC | (error ? ATA_STATUS_ERR : 0);
    ide_set_intrq(d);
}

static void abort_command(struct ide_drive *d)
{
    ide_command_done(d, ATA_ERROR_ABRT);
}

static void pio_start_identify(struct ide_drive *d, void (*fill)(struct ide_drive *, uint16_t *))
{
    uint16_t words[256];

    fill(d, words);
    put_words(d->buf, words);
    d->op = IDE_OP_IDENTIFY;
    d->buf_pos = 0;
    d->drq_end = d->buf_end = IDE_SECTOR_SIZE;
    pio_block_start(d, true);
}

static void ata_write_cb(void *opaque, int ret);

/* ide_pio_read_fetch's block read came back; after a reset or another command it is dropped. */
static void pio_read_cb(void *opaque, int ret)
{
    struct ide_drive *d = opaque;
    const struct ide_pio_read *r = d->pio_read;
    uint32_t n = d->buf_end / r->sector_size;

    d->io_busy = false;
    if (d->io_cancelled || d->op != r->op) {
        return;
    }
    if (ret < 0) {
        r->failed(d);
        return;
    }
    d->io_lba += n;
    d->io_sectors_left -= n;
    d->buf_pos = 0;
    r->filled(d);
}

void ide_pio_read_fetch(struct ide_drive *d, const struct ide_pio_read *r,
                        uint32_t max_sectors)
{
    uint32_t n = XENDM_MIN(d->io_sectors_left, max_sectors);
    struct iovec iov = {.iov_base = d->buf, .iov_len = (size_t)n * r->sector_size};

    d->status = ATA_STATUS_BSY;
    d->io_busy = true;
    d->pio_read = r;
    d->buf_end = n * r->sector_size;
    block_readv(d->drive->backend, d->io_lba * r->sector_size, &iov, 1, pio_read_cb, d);
}

/* The disk's PIO data-in: each fill of buf is one DRQ block, announced by an interrupt. */
static void ata_read_filled(struct ide_drive *d)
{
    d->drq_end = d->buf_end;
    pio_block_start(d, true);
}

/* A read the medium could not deliver: UNCORRECTABLE DATA (the error register's UNC bit). */
static void ata_read_failed(struct ide_drive *d)
{
    ide_command_done(d, ATA_ERROR_UNC);
}

static const struct ide_pio_read ata_pio_read = {
    .op = IDE_OP_READ,
    .sector_size = IDE_SECTOR_SIZE,
    .filled = ata_read_filled,
    .failed = ata_read_failed,
};

static void ata_fetch_block(struct ide_drive *d)
{
    ide_pio_read_fetch(d, &ata_pio_read, d->drq_sectors);
}

static void ata_submit_write(struct ide_drive *d)
{
    struct iovec iov = {.iov_base = d->buf, .iov_len = d->buf_end};

    d->status = ATA_STATUS_BSY;
    d->io_busy = true;
    block_writev(d->drive->backend, d->io_lba * IDE_SECTOR_SIZE, &iov, 1, ata_write_cb, d);
}

static void ata_open_write_block(struct ide_drive *d, bool irq)
{
    uint32_t n = XENDM_MIN(d->io_sectors_left, d->drq_sectors);

    d->buf_pos = 0;
    d->drq_end = d->buf_end = n * IDE_SECTOR_SIZE;
    pio_block_start(d, irq);
}

static void ata_write_cb(void *opaque, int ret)
{
    struct ide_drive *d = opaque;
    uint32_t n = d->buf_end / IDE_SECTOR_SIZE;

    d->io_busy = false;
    if (d->io_cancelled || d->op != IDE_OP_WRITE) {
        return;
    }
    if (ret < 0) {
        ide_command_done(d, ATA_ERROR_ABRT);
        return;
    }
    d->io_lba += n;
    d->io_sectors_left -= n;
    if (d->io_sectors_left == 0) {
        ide_command_done(d, 0);
        return;
    }
    ata_open_write_block(d, true);
}

void ide_pio_block_done(struct ide_drive *d)
{
    switch (d->op) {
    case IDE_OP_IDENTIFY:
        ide_transfer_stop(d);
        d->status = ATA_STATUS_DRDY | ATA_STATUS_DSC;
        break;
    case IDE_OP_READ:
        if (d->io_sectors_left == 0) {
            /* ACS-3 §8.x PIO data-in: no interrupt after the last block. */
            ide_transfer_stop(d);
            d->status = ATA_STATUS_DRDY | ATA_STATUS_DSC;
        } else {
            ata_fetch_block(d);
        }
        break;
    case IDE_OP_WRITE:
        ata_submit_write(d);
        break;
    case IDE_OP_PACKET:
        atapi_run_cdb(d);
        break;
    case IDE_OP_ATAPI_REPLY:
    case IDE_OP_ATAPI_READ:
        atapi_pio_block_done(d);
        break;
    default:
        ide_transfer_stop(d);
        break;
    }
}

/* ---- the data port ---- */

static bool pio_in_phase(const struct ide_drive *d)
{
    return (d->status & ATA_STATUS_DRQ) && !d->dma_pending &&
           (d->op == IDE_OP_IDENTIFY || d->op == IDE_OP_READ || d->op == IDE_OP_ATAPI_REPLY ||
            d->op == IDE_OP_ATAPI_READ);
}

static bool pio_out_phase(const struct ide_drive *d)
{
    return (d->status & ATA_STATUS_DRQ) && (d->op == IDE_OP_WRITE || d->op == IDE_OP_PACKET);
}

/* One 16-bit (or, at the end of an odd ATAPI block, 8-bit) transfer. */
static uint16_t data_read_word(struct ide_drive *d)
{
    uint16_t v;

    if (!pio_in_phase(d) || d->buf_pos >= d->drq_end) {
        log_guest_error("ide%u.%u: data port read without DRQ (status 0x%02x)", d->ch->index,
                        d->unit, d->status);
        return 0;
    }
    v = d->buf[d->buf_pos];
    if (d->buf_pos + 1 < d->drq_end) {
        v |= (uint16_t)(d->buf[d->buf_pos + 1] << 8);
    }
    d->buf_pos = XENDM_MIN(d->buf_pos + 2, d->drq_end);
    if (d->buf_pos >= d->drq_end) {
        ide_pio_block_done(d);
    }
    return v;
}

static void data_write_word(struct ide_drive *d, uint16_t v)
{
    if (!pio_out_phase(d) || d->buf_pos >= d->drq_end) {
        log_guest_error("ide%u.%u: data port write without DRQ (status 0x%02x)", d->ch->index,
                        d->unit, d->status);
        return;
    }
    d->buf[d->buf_pos] = (uint8_t)v;
    if (d->buf_pos + 1 < d->drq_end) {
        d->buf[d->buf_pos + 1] = (uint8_t)(v >> 8);
    }
    d->buf_pos = XENDM_MIN(d->buf_pos + 2, d->drq_end);
    if (d->buf_pos >= d->drq_end) {
        ide_pio_block_done(d);
    }
}

static uint64_t data_read(struct ide_channel *ch, unsigned size)
{
    struct ide_drive *d = selected(ch);
    uint64_t lo, hi;

    if (!ide_drive_present(d)) {
        return 0;
    }
    lo = data_read_word(d);
    if (size < 4) {
        return size == 1 ? (lo & 0xff) : lo;
    }
    hi = data_read_word(d);
    return lo | (hi << 16);
}

static void data_write(struct ide_channel *ch, uint64_t value, unsigned size)
{
    struct ide_drive *d = selected(ch);

    if (!ide_drive_present(d)) {
        return;
    }
    data_write_word(d, (uint16_t)value);
    if (size == 4) {
        data_write_word(d, (uint16_t)(value >> 16));
    }
}

/* ---- task file registers ---- */

static uint8_t reg_read(struct ide_channel *ch, unsigned reg)
{
    struct ide_drive *d = selected(ch);
    bool hob = ch->devctl & ATA_DEVCTL_HOB;

    if (channel_empty(ch)) {
        return 0;
    }
    switch (reg) {
    case 1:
        return hob ? d->hob_feature : d->error;
    case 2:
        return hob ? d->hob_nsector : d->nsector;
    case 3:
        return hob ? d->hob_sector : d->sector;
    case 4:
        return hob ? d->hob_lcyl : d->lcyl;
    case 5:
        return hob ? d->hob_hcyl : d->hcyl;
    case 6:
        return d->select;
    default: /* 7: status; reading it acknowledges the interrupt */
        if (!ide_drive_present(d)) {
            return 0;
        }
        clear_intrq(d);
        return d->status;
    }
}

static void latch(uint8_t *reg, uint8_t *hob, uint8_t value)
{
    *hob = *reg;
    *reg = value;
}

static void reg_write(struct ide_channel *ch, unsigned reg, uint8_t value)
{
    if (reg == 7) {
        struct ide_drive *d = selected(ch);
        if (ide_drive_present(d)) {
            ata_execute(d, value);
        }
        return;
    }
    /* ACS-3 §6.1: a write to any command block register clears HOB. */
    ch->devctl &= (uint8_t)~ATA_DEVCTL_HOB;
    for (unsigned u = 0; u < 2; u++) {
        struct ide_drive *d = &ch->drives[u];
        switch (reg) {
        case 1:
            latch(&d->feature, &d->hob_feature, value);
            break;
        case 2:
            latch(&d->nsector, &d->hob_nsector, value);
            break;
        case 3:
            latch(&d->sector, &d->hob_sector, value);
            break;
        case 4:
            latch(&d->lcyl, &d->hob_lcyl, value);
            break;
        case 5:
            latch(&d->hcyl, &d->hob_hcyl, value);
            break;
        default: /* 6: device */
            d->select = value | 0xa0;
            break;
        }
    }
    if (reg == 6) {
        ch->cur_unit = (value & ATA_DEV_DEV) ? 1 : 0;
        ide_channel_update_irq(ch);
    }
}

uint64_t ide_cmd_read(struct ide_channel *ch, unsigned reg, unsigned size)
{
    uint64_t v = 0;

    if (reg == 0) {
        v = data_read(ch, size);
    } else {
        for (unsigned i = 0; i < size && reg + i < 8; i++) {
            v |= (uint64_t)reg_read(ch, reg + i) << (8 * i);
        }
    }
    TRACE(ide_ioport_read, "ch=%u reg=%u size=%u val=0x%" PRIx64, ch->index, reg, size, v);
    return v;
}

void ide_cmd_write(struct ide_channel *ch, unsigned reg, uint64_t value, unsigned size)
{
    TRACE(ide_ioport_write, "ch=%u reg=%u size=%u val=0x%" PRIx64, ch->index, reg, size, value);
    if (reg == 0) {
        data_write(ch, value, size);
        return;
    }
    for (unsigned i = 0; i < size && reg + i < 8; i++) {
        reg_write(ch, reg + i, (uint8_t)(value >> (8 * i)));
    }
}

uint8_t ide_altstatus_read(struct ide_channel *ch)
{
    struct ide_drive *d = selected(ch);

    return ide_drive_present(d) ? d->status : 0;
}

/* ATA8-ACS §6.2.3 / §9.2 software reset: SRST high holds both devices in reset (BSY);
 * its falling edge completes it with the signatures in the task file. */
void ide_devctl_write(struct ide_channel *ch, uint8_t value)
{
    bool was_reset = ch->devctl & ATA_DEVCTL_SRST;
    bool reset = value & ATA_DEVCTL_SRST;

    ch->devctl = value;
    if (reset && !was_reset) {
        for (unsigned u = 0; u < 2; u++) {
            struct ide_drive *d = &ch->drives[u];
            drive_reset_registers(d);
            if (ide_drive_present(d)) {
                d->status = ATA_STATUS_BSY | ATA_STATUS_DSC;
            }
        }
        bmdma_cancel(ch);
    } else if (!reset && was_reset) {
        for (unsigned u = 0; u < 2; u++) {
            drive_reset_registers(&ch->drives[u]);
        }
        ch->cur_unit = 0;
    }
    ide_channel_update_irq(ch);
}

/* ---- addressing ---- */

static uint32_t command_count(const struct ide_drive *d)
{
    if (d->lba48) {
        uint32_t n = (uint32_t)d->hob_nsector << 8 | d->nsector;
        return n ? n : 65536;
    }
    return d->nsector ? d->nsector : 256;
}

/* The command's first sector; false when the address is invalid (CHS out of geometry). */
static bool command_lba(const struct ide_drive *d, uint64_t *lba)
{
    if (d->lba48) {
        *lba = (uint64_t)d->hob_hcyl << 40 | (uint64_t)d->hob_lcyl << 32 |
               (uint64_t)d->hob_sector << 24 | (uint64_t)d->hcyl << 16 |
               (uint64_t)d->lcyl << 8 | d->sector;
        return true;
    }
    if (d->select & ATA_DEV_LBA) {
        *lba = (uint64_t)(d->select & 0x0f) << 24 | (uint64_t)d->hcyl << 16 |
               (uint64_t)d->lcyl << 8 | d->sector;
        return true;
    }
    /* CHS through the logical geometry (INITIALIZE DEVICE PARAMETERS). */
    unsigned cyl = (unsigned)d->hcyl << 8 | d->lcyl;
    unsigned head = d->select & 0x0f;
    if (d->sector == 0 || d->sector > d->chs_sectors || head >= d->chs_heads) {
        return false;
    }
    *lba = ((uint64_t)cyl * d->chs_heads + head) * d->chs_sectors + d->sector - 1u;
    return true;
}

/* Checks the range of a read/write/verify command; on failure ends it with IDNF. */
static bool command_range(struct ide_drive *d, uint64_t *lba, uint32_t *count)
{
    *count = command_count(d);
    if (!command_lba(d, lba) || *lba >= d->nb_sectors || *count > d->nb_sectors - *lba) {
        log_guest_error("ide%u.%u: sectors beyond the disk (%" PRIu64 " sectors)",
                        d->ch->index, d->unit, d->nb_sectors);
        ide_command_done(d, ATA_ERROR_IDNF);
        return false;
    }
    return true;
}

static bool backend_ready(struct ide_drive *d)
{
    if (d->drive == NULL || d->drive->backend == NULL) {
        abort_command(d);
        return false;
    }
    return true;
}

/* ---- read, write, verify ---- */

static void cmd_read_pio(struct ide_drive *d, uint32_t drq_sectors)
{
    uint64_t lba;
    uint32_t count;

    if (!backend_ready(d) || !command_range(d, &lba, &count)) {
        return;
    }
    d->op = IDE_OP_READ;
    d->io_lba = lba;
    d->io_sectors_left = count;
    d->drq_sectors = drq_sectors;
    ata_fetch_block(d);
}

static bool refuse_read_only(struct ide_drive *d)
{
    if (d->drive->read_only || block_is_read_only(d->drive->backend)) {
        log_guest_error("ide%u.%u: write to a read-only disk", d->ch->index, d->unit);
        abort_command(d);
        return true;
    }
    return false;
}

static void cmd_write_pio(struct ide_drive *d, uint32_t drq_sectors)
{
    uint64_t lba;
    uint32_t count;

    if (!backend_ready(d) || refuse_read_only(d) || !command_range(d, &lba, &count)) {
        return;
    }
    d->op = IDE_OP_WRITE;
    d->io_lba = lba;
    d->io_sectors_left = count;
    d->drq_sectors = drq_sectors;
    /* ACS-3 PIO data-out: the first block needs no interrupt. */
    ata_open_write_block(d, false);
}

static void cmd_multiple(struct ide_drive *d, bool write)
{
    if (d->mult_sectors == 0) {
        abort_command(d);
    } else if (write) {
        cmd_write_pio(d, d->mult_sectors);
    } else {
        cmd_read_pio(d, d->mult_sectors);
    }
}

static void cmd_dma(struct ide_drive *d, bool write)
{
    uint64_t lba;
    uint32_t count;

    if (!backend_ready(d) || (write && refuse_read_only(d)) || !command_range(d, &lba, &count)) {
        return;
    }
    d->op = IDE_OP_DMA;
    d->dma_pending = true;
    d->dma_kind = write ? IDE_DMA_TO_DISK : IDE_DMA_FROM_DISK;
    d->dma_offset = lba * IDE_SECTOR_SIZE;
    d->dma_bytes_left = (uint64_t)count * IDE_SECTOR_SIZE;
    d->status = ATA_STATUS_DRDY | ATA_STATUS_DSC | ATA_STATUS_DRQ;
    TRACE(ide_dma_start, "ch=%u unit=%u %s lba=%" PRIu64 " count=%" PRIu32, d->ch->index,
          d->unit, write ? "write" : "read", lba, count);
    bmdma_kick(d->ch);
}

void ide_dma_finished(struct ide_drive *d, int ret, bool underrun, bool fault)
{
    TRACE(ide_dma_done, "ch=%u unit=%u ret=%d underrun=%d fault=%d", d->ch->index, d->unit,
          ret, underrun, fault);
    if (underrun) {
        /* SFF-8038i §3.1: the PRD table ended before the transfer; the device never gets to
         * interrupt (ATA and ATAPI alike). The command is abandoned with an error a polling
         * driver can see. */
        ide_transfer_stop(d);
        d->error = ATA_ERROR_ABRT;
        d->status = ATA_STATUS_DRDY | ATA_STATUS_DSC | ATA_STATUS_ERR;
        return;
    }
    if (d->kind == IDE_KIND_CD) {
        atapi_dma_finished(d, ret, fault);
        return;
    }
    if (fault) {
        ide_command_done(d, ATA_ERROR_ABRT);
    } else if (ret < 0) {
        ide_command_done(d, d->dma_kind == IDE_DMA_TO_DISK ? ATA_ERROR_ABRT : ATA_ERROR_UNC);
    } else {
        ide_command_done(d, 0);
    }
}

static void cmd_verify(struct ide_drive *d)
{
    uint64_t lba;
    uint32_t count;

    if (backend_ready(d) && command_range(d, &lba, &count)) {
        ide_command_done(d, 0);
    }
}

static void flush_cb(void *opaque, int ret)
{
    struct ide_drive *d = opaque;

    d->io_busy = false;
    if (d->io_cancelled) {
        return;
    }
    ide_command_done(d, ret < 0 ? ATA_ERROR_ABRT : 0);
}

static void cmd_flush(struct ide_drive *d)
{
    if (!backend_ready(d)) {
        return;
    }
    d->status = ATA_STATUS_BSY;
    d->io_busy = true;
    block_flush(d->drive->backend, flush_cb, d);
}

/* ---- settings ---- */

static void cmd_set_features(struct ide_drive *d)
{
    switch (d->feature) {
    case SETF_ENABLE_WCACHE:
        d->write_cache = true;
        break;
    case SETF_DISABLE_WCACHE:
        d->write_cache = false;
        break;
    case SETF_XFER_MODE: {
        uint8_t mode = d->nsector, n = mode & 7;
        bool ok = (mode & 0xf8) == 0x00 ? n <= 1            /* PIO default (IORDY or not) */
                  : (mode & 0xf8) == 0x08 ? n <= 4          /* PIO flow control mode n */
                  : (mode & 0xf8) == 0x20 ? n <= 2          /* multiword DMA */
                  : (mode & 0xf8) == 0x40 ? n <= 5 : false; /* Ultra DMA */
        if (!ok) {
            abort_command(d);
            return;
        }
        d->xfer_mode = mode;
        break;
    }
    default:
        break; /* look-ahead, defaults on reset, ...: accepted, nothing to change */
    }
    ide_command_done(d, 0);
}

static void cmd_set_multiple(struct ide_drive *d)
{
    uint8_t n = d->nsector;

    if (n > IDE_MAX_MULTIPLE || (n & (n - 1)) != 0) {
        abort_command(d);
        return;
    }
    d->mult_sectors = n;
    ide_command_done(d, 0);
}

static void cmd_initialize_params(struct ide_drive *d)
{
    d->chs_heads = (uint8_t)((d->select & 0x0f) + 1);
    d->chs_sectors = d->nsector;
    ide_command_done(d, 0);
}

static void cmd_read_native_max(struct ide_drive *d)
{
    uint64_t max = d->nb_sectors ? d->nb_sectors - 1 : 0;

    if (!d->lba48) {
        max = XENDM_MIN(max, (uint64_t)ATA_LBA28_MAX - 1);
        d->select = (uint8_t)((d->select & 0xf0) | ((max >> 24) & 0x0f));
    } else {
        d->hob_sector = (uint8_t)(max >> 24);
        d->hob_lcyl = (uint8_t)(max >> 32);
        d->hob_hcyl = (uint8_t)(max >> 40);
    }
    d->sector = (uint8_t)max;
    d->lcyl = (uint8_t)(max >> 8);
    d->hcyl = (uint8_t)(max >> 16);
    ide_command_done(d, 0);
}

static void cmd_execute_diagnostic(struct ide_drive *d)
{
    /* ACS-3 §7.9: both devices run it; the result is the signature and code 01h. */
    set_signature(d);
    ide_command_done(d, ATA_ERROR_AMNF);
}

/* ---- dispatch ---- */

static bool is_ext(uint8_t cmd)
{
    switch (cmd) {
    case ATA_READ_SECTORS_EXT:
    case ATA_READ_DMA_EXT:
    case ATA_READ_NATIVE_MAX_EXT:
    case ATA_READ_MULTIPLE_EXT:
    case ATA_WRITE_SECTORS_EXT:
    case ATA_WRITE_DMA_EXT:
    case ATA_WRITE_MULTIPLE_EXT:
    case ATA_READ_VERIFY_EXT:
    case ATA_FLUSH_CACHE_EXT:
        return true;
    default:
        return false;
    }
}

static bool ata_common_command(struct ide_drive *d, uint8_t cmd)
{
    switch (cmd) {
    case ATA_STANDBY_IMMEDIATE:
    case ATA_IDLE_IMMEDIATE:
    case ATA_STANDBY:
    case ATA_IDLE:
    case ATA_SLEEP:
    case ATA_STANDBY_IMMEDIATE_OLD:
    case ATA_IDLE_IMMEDIATE_OLD:
    case ATA_STANDBY_OLD:
    case ATA_IDLE_OLD:
    case ATA_SLEEP_OLD:
        ide_command_done(d, 0); /* no spindle to stop: the drive stays ready */
        return true;
    case ATA_CHECK_POWER_MODE:
    case ATA_CHECK_POWER_MODE_OLD:
        d->nsector = ATA_POWER_MODE_ACTIVE;
        ide_command_done(d, 0);
        return true;
    case ATA_SET_FEATURES:
        cmd_set_features(d);
        return true;
    case ATA_EXECUTE_DIAGNOSTIC:
        cmd_execute_diagnostic(d);
        return true;
    default:
        return false;
    }
}

static void ata_hd_command(struct ide_drive *d, uint8_t cmd)
{
    if ((cmd & 0xf0) == ATA_RECALIBRATE || (cmd & 0xf0) == ATA_SEEK) {
        ide_command_done(d, 0);
        return;
    }
    switch (cmd) {
    case ATA_IDENTIFY:
        pio_start_identify(d, ata_identify_words);
        break;
    case ATA_READ_SECTORS:
    case ATA_READ_SECTORS_NORETRY:
    case ATA_READ_SECTORS_EXT:
        cmd_read_pio(d, 1);
        break;
    case ATA_WRITE_SECTORS:
    case ATA_WRITE_SECTORS_NORETRY:
    case ATA_WRITE_SECTORS_EXT:
        cmd_write_pio(d, 1);
        break;
    case ATA_READ_MULTIPLE:
    case ATA_READ_MULTIPLE_EXT:
        cmd_multiple(d, false);
        break;
    case ATA_WRITE_MULTIPLE:
    case ATA_WRITE_MULTIPLE_EXT:
        cmd_multiple(d, true);
        break;
    case ATA_READ_DMA:
    case ATA_READ_DMA_NORETRY:
    case ATA_READ_DMA_EXT:
        cmd_dma(d, false);
        break;
    case ATA_WRITE_DMA:
    case ATA_WRITE_DMA_NORETRY:
    case ATA_WRITE_DMA_EXT:
        cmd_dma(d, true);
        break;
    case ATA_READ_VERIFY:
    case ATA_READ_VERIFY_NORETRY:
    case ATA_READ_VERIFY_EXT:
        cmd_verify(d);
        break;
    case ATA_FLUSH_CACHE:
    case ATA_FLUSH_CACHE_EXT:
        cmd_flush(d);
        break;
    case ATA_SET_MULTIPLE:
        cmd_set_multiple(d);
        break;
    case ATA_INITIALIZE_PARAMS:
        cmd_initialize_params(d);
        break;
    case ATA_READ_NATIVE_MAX:
    case ATA_READ_NATIVE_MAX_EXT:
        cmd_read_native_max(d);
        break;
    default:
        if (!ata_common_command(d, cmd)) {
            log_guest_error("ide%u.%u: unsupported ATA command 0x%02x", d->ch->index, d->unit,
                            cmd);
            abort_command(d);
        }
        break;
    }
}

/* ATA8-ACS §4.3: the commands a PACKET device takes; the rest abort with the signature
 * in place, which is how drivers tell an ATAPI device from a disk (IDENTIFY DEVICE). */
static void ata_cd_command(struct ide_drive *d, uint8_t cmd)
{
    switch (cmd) {
    case ATA_PACKET:
        atapi_packet_command(d);
        break;
    case ATA_IDENTIFY_PACKET:
        pio_start_identify(d, atapi_identify);
        break;
    case ATA_DEVICE_RESET: {
        uint8_t select = d->select; /* a device reset does not change the selection */
        drive_reset_registers(d);
        d->select = select;
        break;
    }
    case ATA_FLUSH_CACHE:
        ide_command_done(d, 0);
        break;
    default:
        if (!ata_common_command(d, cmd)) {
            atapi_set_signature(d);
            abort_command(d);
        }
        break;
    }
}

static void ata_execute(struct ide_drive *d, uint8_t cmd)
{
    TRACE(ide_command, "ch=%u unit=%u cmd=0x%02x", d->ch->index, d->unit, cmd);
    if (d->status & (ATA_STATUS_BSY | ATA_STATUS_DRQ)) {
        /*
         * ATA8-ACS §6.2: the host shall not write the Command register while BSY or DRQ is
         * set; only DEVICE RESET reaches a PACKET device then (ATA8-ACS §7.6). The drive
         * ignores the write and its transfer goes on, as qemu-xen's does: a driver that
         * gave up on a transfer resets the device (SRST or DEVICE RESET) to end it.
         */
        if (!(d->kind == IDE_KIND_CD && cmd == ATA_DEVICE_RESET)) {
            log_guest_error("ide%u.%u: command 0x%02x while %s", d->ch->index, d->unit, cmd,
                            (d->status & ATA_STATUS_BSY) ? "busy" : "DRQ is set");
            return;
        }
    }
    if (d->op != IDE_OP_NONE) {
        log_guest_error("ide%u.%u: command 0x%02x abandons a transfer", d->ch->index, d->unit,
                        cmd);
        ide_drive_quiesce(d);
        ide_transfer_stop(d);
    }
    clear_intrq(d);
    d->command = cmd;
    d->error = 0;
    d->lba48 = is_ext(cmd);
    if (d->kind == IDE_KIND_CD) {
        ata_cd_command(d, cmd);
    } else {
        ata_hd_command(d, cmd);
    }
}
