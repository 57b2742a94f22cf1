/*
 * A CD-ROM drive's command set: SCSI Multimedia Commands (MMC-6) and the primary commands it
 * needs (SPC-4), independent of the transport that carries the command packets (IDE ATAPI
 * in hw/ide/; AHCI's ATAPI later).
 *
 * The transport hands over a 12-byte packet and gets back one of three outcomes: data to
 * return to the host (already cut to the command's allocation length), a read of whole
 * 2048-byte sectors for the transport to do through the drive's backend (READ(10), READ(12),
 * READ CD of user data), or CHECK CONDITION with the sense the transport reports (ATAPI puts
 * the sense key in the error register's high nibble). The drive keeps the sense data for
 * REQUEST SENSE, the tray lock (PREVENT ALLOW MEDIUM REMOVAL), and the unit attention a
 * medium change raises, which Linux and Windows wait for before they look at a new disc.
 */
#ifndef XENDM_MMC_H
#define XENDM_MMC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xendm/block.h"

#define MMC_SECTOR_SIZE 2048u
#define MMC_CDB_SIZE 12u
/* The largest reply a command other than a sector read produces (MODE SENSE, GET
 * CONFIGURATION, READ TOC, ...); the transport's buffer holds at least this much. */
#define MMC_REPLY_MAX 4096u

/* Sense keys (SPC-4 §4.5.6) the drive reports. */
#define MMC_SENSE_NONE 0x0
#define MMC_SENSE_NOT_READY 0x2
#define MMC_SENSE_MEDIUM_ERROR 0x3
#define MMC_SENSE_ILLEGAL_REQUEST 0x5
#define MMC_SENSE_UNIT_ATTENTION 0x6

enum mmc_outcome {
    MMC_GOOD,            /* status GOOD; `len` bytes of buf go to the host (may be 0) */
    MMC_READ_SECTORS,    /* status GOOD once the transport has read `sectors` from `lba` */
    MMC_CHECK_CONDITION, /* sense_key/asc/ascq say why; also kept for REQUEST SENSE */
};

struct mmc_result {
    enum mmc_outcome outcome;
    size_t len;             /* MMC_GOOD */
    uint32_t lba, sectors;  /* MMC_READ_SECTORS: within the medium, sectors >= 1 */
    uint8_t sense_key, asc, ascq;
};

/*
 * The drive's state; public so that the transport can save it with its own
 * (include/xendm/vmstate.h field tables). Only mmc.c changes it.
 */
struct mmc_cdrom {
    struct drive *drive; /* the backend may be NULL: no medium */
    uint8_t sense_key, asc, ascq;
    bool unit_attention; /* medium changed since the host last looked */
    bool locked;         /* PREVENT ALLOW MEDIUM REMOVAL: the tray is locked */
    bool tray_open;      /* START STOP UNIT with LoEj, or QMP eject */
    uint8_t event_pending; /* GET EVENT STATUS NOTIFICATION media event not yet reported */
};

void mmc_cdrom_init(struct mmc_cdrom *cd, struct drive *drive);
/* Power-on/hardware reset: sense cleared, tray unlocked; the medium stays. */
void mmc_cdrom_reset(struct mmc_cdrom *cd);

/* Runs one command packet. buf holds at least MMC_REPLY_MAX bytes. */
void mmc_cdrom_command(struct mmc_cdrom *cd, const uint8_t cdb[MMC_CDB_SIZE], uint8_t *buf,
                       struct mmc_result *res);
/* The transport's sector read failed: MEDIUM ERROR, unrecovered read error (11/00). */
void mmc_cdrom_read_failed(struct mmc_cdrom *cd, struct mmc_result *res);

/* The drive's backend changed (QMP eject or blockdev-change-medium): unit attention. */
void mmc_cdrom_medium_changed(struct mmc_cdrom *cd);
/* QMP eject: false when the guest locked the tray and !force; opens the tray otherwise. */
bool mmc_cdrom_eject_request(struct mmc_cdrom *cd, bool force);

/* Sectors of the medium in the drive (0 without one). */
uint32_t mmc_cdrom_sectors(const struct mmc_cdrom *cd);

#endif
