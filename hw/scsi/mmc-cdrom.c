/*
 * A CD-ROM drive's command set: the MMC-6 commands, and the SPC-4 primary commands a drive
 * needs, that SeaBIOS, Linux (sr, cdrom, udev's cdrom_id), Windows (cdrom.sys) and the BSDs
 * send to an ATAPI CD/DVD drive. The transport (hw/ide/ ATAPI) hands over the 12-byte packet
 * and carries out what comes back: a reply, a read of 2048-byte sectors, or CHECK CONDITION.
 *
 * The medium is one single-session data disc: track 1 (mode 1 data) from LBA 0 to the end
 * of the image, then the lead-out. An image larger than a CD can be (90 minutes) is a
 * DVD-ROM (profile 0x0010), otherwise a CD-ROM (profile 0x0008); both are read the same way.
 *
 * The drive identifies itself as qemu-xen's does ("QEMU" "QEMU DVD-ROM" "2.5+"): Windows keys
 * a drive's device instance on these strings, so a guest installed under qemu-xen keeps its
 * drive letter.
 *
 * Sense and unit attention (SPC-4 §4.5, §5.14 REQUEST SENSE; MMC-6 §4.1.6): every command
 * ends with sense data, NO SENSE when it succeeded; REQUEST SENSE returns it and clears it.
 * A new medium (QMP blockdev-change-medium, or the tray closed on a disc) raises a unit
 * attention 28/00 that the next command other than INQUIRY, REQUEST SENSE and GET EVENT
 * STATUS NOTIFICATION reports instead of running; the host then repeats that command.
 *
 * Every length and address in a CDB is the guest's: replies are built whole in the
 * transport's buffer (never more than MMC_REPLY_MAX) and cut to the allocation length, and
 * sector ranges are checked in 64 bits against the medium before a read is handed over.
 */
#include <string.h>

#include "xendm/block.h"
#include "xendm/common.h"
#include "xendm/mmc.h"
#include "xendm/trace.h"

/* Operation codes (SPC-4 §6, MMC-6 §6). */
#define OP_TEST_UNIT_READY 0x00
#define OP_REQUEST_SENSE 0x03
#define OP_INQUIRY 0x12
#define OP_MODE_SELECT_6 0x15
#define OP_MODE_SENSE_6 0x1a
#define OP_START_STOP_UNIT 0x1b
#define OP_PREVENT_ALLOW_MEDIUM_REMOVAL 0x1e
#define OP_READ_CAPACITY 0x25
#define OP_READ_10 0x28
#define OP_SEEK_10 0x2b
#define OP_SYNCHRONIZE_CACHE 0x35
#define OP_READ_SUB_CHANNEL 0x42
#define OP_READ_TOC_PMA_ATIP 0x43
#define OP_GET_CONFIGURATION 0x46
#define OP_GET_EVENT_STATUS_NOTIFICATION 0x4a
#define OP_READ_DISC_INFORMATION 0x51
#define OP_READ_TRACK_INFORMATION 0x52
#define OP_MODE_SELECT_10 0x55
#define OP_MODE_SENSE_10 0x5a
#define OP_READ_12 0xa8
#define OP_SET_CD_SPEED 0xbb
#define OP_MECHANISM_STATUS 0xbd
#define OP_READ_CD 0xbe

/* Additional sense codes and qualifiers (SPC-4 Annex D). */
#define ASC_NO_ADDITIONAL_SENSE 0x00, 0x00
#define ASC_UNRECOVERED_READ_ERROR 0x11, 0x00
#define ASC_INVALID_COMMAND_OPERATION_CODE 0x20, 0x00
#define ASC_LBA_OUT_OF_RANGE 0x21, 0x00
#define ASC_INVALID_FIELD_IN_CDB 0x24, 0x00
#define ASC_MEDIUM_MAY_HAVE_CHANGED 0x28, 0x00
#define ASC_SAVING_PARAMETERS_NOT_SUPPORTED 0x39, 0x00
#define ASC_MEDIUM_NOT_PRESENT 0x3a, 0x00
#define ASC_MEDIUM_NOT_PRESENT_TRAY_CLOSED 0x3a, 0x01
#define ASC_MEDIUM_NOT_PRESENT_TRAY_OPEN 0x3a, 0x02
#define ASC_MEDIUM_REMOVAL_PREVENTED 0x53, 0x02
#define ASC_ILLEGAL_MODE_FOR_THIS_TRACK 0x64, 0x00

/* GET EVENT STATUS NOTIFICATION media class event codes (MMC-6 §6.7.2.5, Table 153). */
#define MEDIA_EVENT_NO_CHANGE 0
#define MEDIA_EVENT_EJECT_REQUEST 1
#define MEDIA_EVENT_NEW_MEDIA 2
#define MEDIA_EVENT_MEDIA_REMOVAL 3
#define GESN_CLASS_MEDIA 4
#define GESN_CLASS_MEDIA_BIT (1u << GESN_CLASS_MEDIA)

/* Profiles (MMC-6 §5.3.1, Table 89). */
#define PROFILE_NONE 0x0000
#define PROFILE_CD_ROM 0x0008
#define PROFILE_DVD_ROM 0x0010
/* A CD holds at most 90 minutes of 75 sectors a second (MMC-6 §4.2.3.2); larger is a DVD. */
#define CD_MAX_SECTORS (90u * 60u * 75u)
/* The first 2 seconds of a CD are the pregap: LBA 0 is MSF 00:02:00 (MMC-6 §4.2.3.3). */
#define MSF_LBA_OFFSET 150u

/* Track 1's ADR (1: Q sub-channel encodes the current position) and CONTROL (4: data,
 * recorded uninterrupted), MMC-6 §6.26.3.2, Table 486. */
#define ADR_CONTROL_DATA_TRACK 0x14
#define TOC_LEAD_OUT_TRACK 0xaa

/* Mode page codes (MMC-6 §7; 0x0D and 0x0E from MMC-3 §6.3.4 and §6.3.7). */
#define MODE_PAGE_ERROR_RECOVERY 0x01
#define MODE_PAGE_CD_DEVICE_PARAMETERS 0x0d
#define MODE_PAGE_CD_AUDIO_CONTROL 0x0e
#define MODE_PAGE_CAPABILITIES 0x2a
#define MODE_PAGE_ALL 0x3f
#define MODE_PC_CURRENT 0
#define MODE_PC_CHANGEABLE 1
#define MODE_PC_DEFAULT 2
#define MODE_PC_SAVED 3

/* The drive's speed as it reports it, in kB/s (1x CD = 176.4 kB/s). */
#define READ_SPEED_KBPS 2816u /* 16x */

static const char inquiry_vendor[8] = {'Q', 'E', 'M', 'U', ' ', ' ', ' ', ' '};
static const char inquiry_product[16] = {'Q', 'E', 'M', 'U', ' ', 'D', 'V', 'D',
                                         '-', 'R', 'O', 'M', ' ', ' ', ' ', ' '};
static const char inquiry_revision[4] = {'2', '.', '5', '+'};

/* ---- helpers ---- */

static uint16_t get_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get_be24(const uint8_t *p)
{
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/*
 * An LBA as minutes, seconds, frames. The fields are bytes: beyond 255:59:74 (a DVD image of
 * more than 2.2 GB) the address saturates there, as MSF cannot say more.
 */
static void put_msf(uint8_t *p, uint32_t lba)
{
    uint64_t frames = (uint64_t)lba + MSF_LBA_OFFSET;
    uint64_t minutes = frames / (60 * 75);

    if (minutes > 0xff) {
        p[0] = 0xff;
        p[1] = 59;
        p[2] = 74;
        return;
    }
    p[0] = (uint8_t)minutes;
    p[1] = (uint8_t)(frames / 75 % 60);
    p[2] = (uint8_t)(frames % 75);
}

/* A TOC address: 4 bytes, LBA or 0:M:S:F (MMC-6 §6.26.3.2). */
static void put_toc_address(uint8_t *p, uint32_t lba, bool msf)
{
    if (msf) {
        p[0] = 0;
        put_msf(p + 1, lba);
    } else {
        put_be32(p, lba);
    }
}

static void set_sense(struct mmc_cdrom *cd, uint8_t key, uint8_t asc, uint8_t ascq)
{
    cd->sense_key = key;
    cd->asc = asc;
    cd->ascq = ascq;
}

static void check_condition(struct mmc_cdrom *cd, struct mmc_result *res, uint8_t key,
                            uint8_t asc, uint8_t ascq)
{
    memset(res, 0, sizeof(*res));
    res->outcome = MMC_CHECK_CONDITION;
    res->sense_key = key;
    res->asc = asc;
    res->ascq = ascq;
    set_sense(cd, key, asc, ascq);
}

static void illegal_request(struct mmc_cdrom *cd, struct mmc_result *res, uint8_t asc,
                            uint8_t ascq)
{
    check_condition(cd, res, MMC_SENSE_ILLEGAL_REQUEST, asc, ascq);
}

static void invalid_field(struct mmc_cdrom *cd, struct mmc_result *res)
{
    illegal_request(cd, res, ASC_INVALID_FIELD_IN_CDB);
}

static void good(struct mmc_result *res)
{
    memset(res, 0, sizeof(*res));
    res->outcome = MMC_GOOD;
}

/* A reply of `total` bytes in buf, cut to the host's allocation length and to the buffer. */
static void good_reply(struct mmc_result *res, size_t total, size_t allocation_length)
{
    good(res);
    res->len = XENDM_MIN(XENDM_MIN(total, allocation_length), (size_t)MMC_REPLY_MAX);
}

static bool medium_present(const struct mmc_cdrom *cd)
{
    return cd->drive && cd->drive->backend && !cd->tray_open;
}

static uint16_t current_profile(const struct mmc_cdrom *cd)
{
    if (!medium_present(cd)) {
        return PROFILE_NONE;
    }
    return mmc_cdrom_sectors(cd) > CD_MAX_SECTORS ? PROFILE_DVD_ROM : PROFILE_CD_ROM;
}

/* NOT READY, medium not present, with the tray's state (MMC-6 §F.2, Table F.1). */
static void not_ready(struct mmc_cdrom *cd, struct mmc_result *res)
{
    if (cd->tray_open) {
        check_condition(cd, res, MMC_SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT_TRAY_OPEN);
    } else {
        check_condition(cd, res, MMC_SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT_TRAY_CLOSED);
    }
}

/* Whether sectors [lba, lba + count) lie on the medium; 64-bit so that nothing wraps. */
static bool range_on_medium(const struct mmc_cdrom *cd, uint32_t lba, uint32_t count)
{
    return (uint64_t)lba + count <= mmc_cdrom_sectors(cd);
}

/* ---- primary commands (SPC-4) ---- */

/* SPC-4 §6.39 (MMC-6 §6.40): the drive is ready when it has a medium. */
static void cmd_test_unit_ready(struct mmc_cdrom *cd, struct mmc_result *res)
{
    if (!medium_present(cd)) {
        not_ready(cd, res);
        return;
    }
    good(res);
}

/*
 * SPC-4 §6.29: fixed-format sense data (§4.5.3, 18 bytes), then the sense is cleared. With
 * nothing pending the drive describes its present state: a unit attention not yet reported,
 * or a missing medium, as drives do for a host that asks without a failed command.
 */
static void cmd_request_sense(struct mmc_cdrom *cd, const uint8_t *cdb, uint8_t *buf,
                              struct mmc_result *res)
{
    enum { SENSE_FIXED_LEN = 18, SENSE_FIXED_CURRENT = 0x70, SENSE_ADDITIONAL_LEN = 10 };

    if (cdb[1] & 0x01) { /* DESC: descriptor format, which this drive does not produce */
        invalid_field(cd, res);
        return;
    }
    uint8_t key = cd->sense_key, asc = cd->asc, ascq = cd->ascq;
    if (key == MMC_SENSE_NONE && asc == 0 && ascq == 0) {
        if (cd->unit_attention) {
            cd->unit_attention = false;
            key = MMC_SENSE_UNIT_ATTENTION;
            asc = 0x28;
            ascq = 0x00;
        } else if (!medium_present(cd)) {
            key = MMC_SENSE_NOT_READY;
            asc = 0x3a;
            ascq = cd->tray_open ? 0x02 : 0x01;
        }
    }
    memset(buf, 0, SENSE_FIXED_LEN);
    buf[0] = SENSE_FIXED_CURRENT;
    buf[2] = key;
    buf[7] = SENSE_ADDITIONAL_LEN;
    buf[12] = asc;
    buf[13] = ascq;
    set_sense(cd, MMC_SENSE_NONE, ASC_NO_ADDITIONAL_SENSE);
    good_reply(res, SENSE_FIXED_LEN, cdb[4]);
}

/* Standard INQUIRY data (SPC-4 §6.4.2): 36 bytes. */
static size_t inquiry_standard(uint8_t *buf)
{
    enum { STANDARD_LEN = 36 };

    memset(buf, 0, STANDARD_LEN);
    buf[0] = 0x05;  /* peripheral qualifier 0, device type 5: CD/DVD device */
    buf[1] = 0x80;  /* RMB: removable medium */
    buf[2] = 0x05;  /* VERSION: SPC-3 */
    buf[3] = 0x02;  /* RESPONSE DATA FORMAT 2, the only one SPC-4 allows */
    buf[4] = STANDARD_LEN - 5;
    memcpy(buf + 8, inquiry_vendor, sizeof(inquiry_vendor));
    memcpy(buf + 16, inquiry_product, sizeof(inquiry_product));
    memcpy(buf + 32, inquiry_revision, sizeof(inquiry_revision));
    return STANDARD_LEN;
}

/* Supported VPD pages (SPC-4 §7.8.13). */
static size_t vpd_supported_pages(uint8_t *buf)
{
    static const uint8_t pages[] = {0x00, 0x83};

    memset(buf, 0, 4);
    buf[0] = 0x05;
    buf[1] = 0x00;
    put_be16(buf + 2, sizeof(pages));
    memcpy(buf + 4, pages, sizeof(pages));
    return 4 + sizeof(pages);
}

/*
 * Device Identification (SPC-4 §7.8.6): one T10 vendor ID based designator (§7.8.6.4), the
 * vendor followed by the drive's id, which is unique within the machine.
 */
static size_t vpd_device_identification(const struct mmc_cdrom *cd, uint8_t *buf)
{
    enum { MAX_ID_LEN = 64, DESIGNATOR_HEADER = 4 };
    const char *id = cd->drive && cd->drive->id ? cd->drive->id : "cdrom";
    size_t id_len = XENDM_MIN(strlen(id), (size_t)MAX_ID_LEN);
    size_t designator_len = sizeof(inquiry_vendor) + id_len;
    uint8_t *d = buf + 4;

    memset(buf, 0, 4 + DESIGNATOR_HEADER);
    buf[0] = 0x05;
    buf[1] = 0x83;
    put_be16(buf + 2, (uint32_t)(DESIGNATOR_HEADER + designator_len));
    d[0] = 0x02;   /* PROTOCOL IDENTIFIER 0, CODE SET 2: ASCII */
    d[1] = 0x01;   /* PIV 0, ASSOCIATION 0: the logical unit, DESIGNATOR TYPE 1: T10 vendor ID */
    d[3] = (uint8_t)designator_len;
    memcpy(d + DESIGNATOR_HEADER, inquiry_vendor, sizeof(inquiry_vendor));
    memcpy(d + DESIGNATOR_HEADER + sizeof(inquiry_vendor), id, id_len);
    return 4 + DESIGNATOR_HEADER + designator_len;
}

/* SPC-4 §6.4: the allocation length is bytes 3-4 (ATAPI hosts leave byte 3 zero). */
static void cmd_inquiry(struct mmc_cdrom *cd, const uint8_t *cdb, uint8_t *buf,
                        struct mmc_result *res)
{
    bool evpd = cdb[1] & 0x01;
    uint8_t page = cdb[2];
    size_t total;

    if (!evpd) {
        if (page != 0) { /* a page code without EVPD: invalid (§6.4.1) */
            invalid_field(cd, res);
            return;
        }
        total = inquiry_standard(buf);
    } else if (page == 0x00) {
        total = vpd_supported_pages(buf);
    } else if (page == 0x83) {
        total = vpd_device_identification(cd, buf);
    } else {
        invalid_field(cd, res);
        return;
    }
    good_reply(res, total, get_be16(cdb + 3));
}

/* ---- mode pages (MMC-6 §7; SPC-4 §6.11 MODE SENSE(6), §6.12 MODE SENSE(10)) ---- */

/*
 * Writes one mode page as the page control asks; returns its length. Nothing is changeable
 * (MODE SELECT is accepted and ignores what it is sent), so the changeable values are all
 * zero; current, default and saved values are the same.
 */
static size_t mode_page(const struct mmc_cdrom *cd, uint8_t code, bool changeable, uint8_t *p)
{
    size_t len;

    switch (code) {
    case MODE_PAGE_ERROR_RECOVERY: /* MMC-6 §7.3 */
        len = 12;
        memset(p, 0, len);
        if (!changeable) {
            p[3] = 5; /* READ RETRY COUNT */
        }
        break;
    case MODE_PAGE_CD_DEVICE_PARAMETERS: /* MMC-3 §6.3.4 */
        len = 8;
        memset(p, 0, len);
        if (!changeable) {
            put_be16(p + 4, 60); /* S units per M */
            put_be16(p + 6, 75); /* F units per S */
        }
        break;
    case MODE_PAGE_CD_AUDIO_CONTROL: /* MMC-3 §6.3.7 */
        len = 16;
        memset(p, 0, len);
        if (!changeable) {
            p[2] = 0x04;   /* IMMED */
            p[8] = 0x01;   /* port 0: channel 0 */
            p[9] = 0xff;   /* port 0 volume */
            p[10] = 0x02;  /* port 1: channel 1 */
            p[11] = 0xff;  /* port 1 volume */
        }
        break;
    case MODE_PAGE_CAPABILITIES: /* MMC-3 §6.3.11 (SFF-8090's CD/DVD capabilities page) */
        len = 22;
        memset(p, 0, len);
        if (!changeable) {
            p[2] = 0x0b; /* reads CD-R, CD-RW, DVD-ROM */
            p[6] = 0x29; /* tray loading mechanism, Eject, Lock */
            if (cd->locked) {
                p[6] |= 0x02; /* Lock state */
            }
            put_be16(p + 8, READ_SPEED_KBPS);  /* maximum read speed */
            put_be16(p + 14, READ_SPEED_KBPS); /* current read speed */
        }
        break;
    default:
        return 0;
    }
    p[0] = code;
    p[1] = (uint8_t)(len - 2);
    return len;
}

/* The pages asked for after `header_len` bytes of header; 0 when the page is unknown. */
static size_t mode_pages(const struct mmc_cdrom *cd, uint8_t code, bool changeable,
                         uint8_t *buf, size_t header_len)
{
    static const uint8_t all_pages[] = {
        MODE_PAGE_ERROR_RECOVERY, MODE_PAGE_CD_DEVICE_PARAMETERS, MODE_PAGE_CD_AUDIO_CONTROL,
        MODE_PAGE_CAPABILITIES,
    };
    size_t len = header_len;

    if (code != MODE_PAGE_ALL) {
        size_t page_len = mode_page(cd, code, changeable, buf + len);
        return page_len ? len + page_len : 0;
    }
    for (size_t i = 0; i < ARRAY_SIZE(all_pages); i++) {
        len += mode_page(cd, all_pages[i], changeable, buf + len);
    }
    return len;
}

static void cmd_mode_sense(struct mmc_cdrom *cd, const uint8_t *cdb, uint8_t *buf,
                           struct mmc_result *res)
{
    bool ten = cdb[0] == OP_MODE_SENSE_10;
    uint8_t page_control = cdb[2] >> 6;
    uint8_t code = cdb[2] & 0x3f;
    uint8_t subpage = cdb[3];
    size_t header_len = ten ? 8 : 4;
    size_t allocation_length = ten ? get_be16(cdb + 7) : cdb[4];

    if (page_control == MODE_PC_SAVED) { /* SPC-4 §6.11.1 */
        illegal_request(cd, res, ASC_SAVING_PARAMETERS_NOT_SUPPORTED);
        return;
    }
    /* No subpages: only 0, and 0xFF ("all subpages") with all pages (SPC-4 §6.11.1). */
    if (subpage != 0 && !(code == MODE_PAGE_ALL && subpage == 0xff)) {
        invalid_field(cd, res);
        return;
    }
    memset(buf, 0, header_len);
    size_t total = mode_pages(cd, code, page_control == MODE_PC_CHANGEABLE, buf, header_len);
    if (!total) {
        invalid_field(cd, res);
        return;
    }
    /* Mode parameter header (SPC-4 §7.5.5): data length excludes itself; no block
     * descriptors, so DBD needs no attention. */
    if (ten) {
        put_be16(buf, (uint32_t)(total - 2));
    } else {
        buf[0] = (uint8_t)(total - 1);
    }
    good_reply(res, total, allocation_length);
}

/* SPC-4 §6.9/§6.10: the parameters are accepted and ignored; saving them is not possible. */
static void cmd_mode_select(struct mmc_cdrom *cd, const uint8_t *cdb, struct mmc_result *res)
{
    if (cdb[1] & 0x01) { /* SP */
        invalid_field(cd, res);
        return;
    }
    good(res);
}

/* ---- medium handling ---- */

/* A disc appears in the drive: the host must notice it (unit attention and media event). */
static void medium_arrived(struct mmc_cdrom *cd)
{
    cd->unit_attention = true;
    cd->event_pending = MEDIA_EVENT_NEW_MEDIA;
}

/*
 * MMC-6 §6.39: LoEj with Start 0 opens the tray unless the host locked it (53/02); LoEj with
 * Start 1 closes it. A POWER CONDITIONS value makes the drive ignore Start and LoEj; Start
 * alone (spinning up or down) has nothing to do here.
 */
static void cmd_start_stop_unit(struct mmc_cdrom *cd, const uint8_t *cdb,
                                struct mmc_result *res)
{
    bool start = cdb[4] & 0x01;
    bool load_eject = cdb[4] & 0x02;
    uint8_t power_conditions = cdb[4] >> 4;

    if (power_conditions || !load_eject) {
        good(res);
        return;
    }
    if (!start) {
        if (cd->locked) {
            illegal_request(cd, res, ASC_MEDIUM_REMOVAL_PREVENTED);
            return;
        }
        if (!cd->tray_open && cd->drive && cd->drive->backend) {
            cd->event_pending = MEDIA_EVENT_MEDIA_REMOVAL;
        }
        cd->tray_open = true;
    } else if (cd->tray_open) {
        cd->tray_open = false;
        if (cd->drive && cd->drive->backend) {
            medium_arrived(cd);
        }
    }
    good(res);
}

/* MMC-6 §6.12: bit 0 of byte 4 locks the tray (bit 1, persistent prevent, is obsolete). */
static void cmd_prevent_allow(struct mmc_cdrom *cd, const uint8_t *cdb, struct mmc_result *res)
{
    cd->locked = cdb[4] & 0x01;
    good(res);
}

/* ---- reading ---- */

/* MMC-6 §6.23: the last LBA and the block length. */
static void cmd_read_capacity(struct mmc_cdrom *cd, uint8_t *buf, struct mmc_result *res)
{
    uint32_t sectors = mmc_cdrom_sectors(cd);

    put_be32(buf, sectors ? sectors - 1 : 0);
    put_be32(buf + 4, MMC_SECTOR_SIZE);
    good_reply(res, 8, 8);
}

static void read_sectors(struct mmc_cdrom *cd, uint32_t lba, uint32_t count,
                         struct mmc_result *res)
{
    if (count == 0) { /* MMC-6 §6.15: not an error, nothing transferred */
        good(res);
        return;
    }
    if (!range_on_medium(cd, lba, count)) {
        illegal_request(cd, res, ASC_LBA_OUT_OF_RANGE);
        return;
    }
    memset(res, 0, sizeof(*res));
    res->outcome = MMC_READ_SECTORS;
    res->lba = lba;
    res->sectors = count;
}

/* MMC-6 §6.15 READ (10) and §6.16 READ (12). */
static void cmd_read(struct mmc_cdrom *cd, const uint8_t *cdb, struct mmc_result *res)
{
    uint32_t lba = get_be32(cdb + 2);
    uint32_t count = cdb[0] == OP_READ_10 ? get_be16(cdb + 7) : get_be32(cdb + 6);

    read_sectors(cd, lba, count, res);
}

/*
 * MMC-6 §6.18 READ CD: only the 2048 bytes of user data of mode 1 (or "any type") sectors.
 * Other sector types do not exist on this disc (64/00); headers, sync, EDC/ECC, C2 and
 * sub-channel data are not produced (24/00). No field selected transfers nothing.
 */
static void cmd_read_cd(struct mmc_cdrom *cd, const uint8_t *cdb, struct mmc_result *res)
{
    enum { SECTOR_TYPE_ANY = 0, SECTOR_TYPE_MODE1 = 2, USER_DATA = 0x10 };
    uint8_t sector_type = (cdb[1] >> 2) & 0x07;
    uint32_t lba = get_be32(cdb + 2);
    uint32_t count = get_be24(cdb + 6);
    uint8_t fields = cdb[9] & 0xfe; /* bit 0 is reserved */
    uint8_t subchannel = cdb[10] & 0x07;

    if (sector_type != SECTOR_TYPE_ANY && sector_type != SECTOR_TYPE_MODE1) {
        if (sector_type > 5) {
            invalid_field(cd, res);
        } else {
            illegal_request(cd, res, ASC_ILLEGAL_MODE_FOR_THIS_TRACK);
        }
        return;
    }
    if (subchannel || (fields != 0 && fields != USER_DATA)) {
        invalid_field(cd, res);
        return;
    }
    if (fields == 0) {
        if (!range_on_medium(cd, lba, count)) {
            illegal_request(cd, res, ASC_LBA_OUT_OF_RANGE);
            return;
        }
        good(res);
        return;
    }
    read_sectors(cd, lba, count, res);
}

/* MMC-6 §6.14 SEEK (10): nothing moves, but the address must exist. */
static void cmd_seek(struct mmc_cdrom *cd, const uint8_t *cdb, struct mmc_result *res)
{
    if (get_be32(cdb + 2) >= mmc_cdrom_sectors(cd)) {
        illegal_request(cd, res, ASC_LBA_OUT_OF_RANGE);
        return;
    }
    good(res);
}

/* ---- the table of contents and the disc's structure ---- */

/* Format 0000b (MMC-6 §6.26.3.2): track 1 and the lead-out, from the starting track on. */
static bool toc_formatted(const struct mmc_cdrom *cd, bool msf, uint8_t start_track,
                          uint8_t *buf, size_t *total)
{
    size_t len = 4;

    if (start_track > 1 && start_track != TOC_LEAD_OUT_TRACK) {
        return false;
    }
    buf[2] = 1; /* first track */
    buf[3] = 1; /* last track */
    if (start_track <= 1) {
        memset(buf + len, 0, 8);
        buf[len + 1] = ADR_CONTROL_DATA_TRACK;
        buf[len + 2] = 1;
        put_toc_address(buf + len + 4, 0, msf);
        len += 8;
    }
    memset(buf + len, 0, 8);
    buf[len + 1] = ADR_CONTROL_DATA_TRACK;
    buf[len + 2] = TOC_LEAD_OUT_TRACK;
    put_toc_address(buf + len + 4, mmc_cdrom_sectors(cd), msf);
    len += 8;
    *total = len;
    return true;
}

/* Format 0001b (MMC-6 §6.26.3.3): one complete session, whose first track is track 1. */
static size_t toc_session_info(bool msf, uint8_t *buf)
{
    buf[2] = 1; /* first complete session */
    buf[3] = 1; /* last complete session */
    memset(buf + 4, 0, 8);
    buf[5] = ADR_CONTROL_DATA_TRACK;
    buf[6] = 1;
    put_toc_address(buf + 8, 0, msf);
    return 12;
}

/* One 11-byte Raw TOC descriptor of session 1 whose PMIN/PSEC/PFRAME come from `p`. */
static size_t raw_toc_descriptor(uint8_t *d, uint8_t point, const uint8_t p[3])
{
    memset(d, 0, 11);
    d[0] = 1; /* session */
    d[1] = ADR_CONTROL_DATA_TRACK;
    d[3] = point;
    memcpy(d + 8, p, 3);
    return 11;
}

/*
 * Format 0010b (MMC-6 §6.26.3.4): the Q sub-channel of the lead-in, always in MSF. Points
 * A0 (first track 1, disc type 00h: CD-ROM), A1 (last track 1), A2 (the lead-out) and
 * track 1 at 00:02:00.
 */
static size_t toc_raw(const struct mmc_cdrom *cd, uint8_t *buf)
{
    uint8_t first_track[3] = {1, 0x00, 0};
    uint8_t last_track[3] = {1, 0, 0};
    uint8_t lead_out[3], track1[3];
    size_t len = 4;

    put_msf(lead_out, mmc_cdrom_sectors(cd));
    put_msf(track1, 0);
    buf[2] = 1;
    buf[3] = 1;
    len += raw_toc_descriptor(buf + len, 0xa0, first_track);
    len += raw_toc_descriptor(buf + len, 0xa1, last_track);
    len += raw_toc_descriptor(buf + len, 0xa2, lead_out);
    len += raw_toc_descriptor(buf + len, 1, track1);
    return len;
}

/*
 * MMC-6 §6.26 READ TOC/PMA/ATIP. Hosts written to SFF-8020i (Windows' older drivers among
 * them) put the format in bits 7-6 of byte 9 and leave byte 2 zero; both places are read.
 */
static void cmd_read_toc(struct mmc_cdrom *cd, const uint8_t *cdb, uint8_t *buf,
                         struct mmc_result *res)
{
    bool msf = cdb[1] & 0x02;
    uint8_t format = cdb[2] & 0x0f;
    uint8_t track_or_session = cdb[6];
    size_t total = 0;

    if (format == 0) {
        format = cdb[9] >> 6;
    }
    memset(buf, 0, 4);
    switch (format) {
    case 0:
        if (!toc_formatted(cd, msf, track_or_session, buf, &total)) {
            invalid_field(cd, res);
            return;
        }
        break;
    case 1:
        total = toc_session_info(msf, buf);
        break;
    case 2:
        if (track_or_session > 1) {
            invalid_field(cd, res);
            return;
        }
        total = toc_raw(cd, buf);
        break;
    default: /* PMA, ATIP, CD-TEXT: a pressed disc has none */
        invalid_field(cd, res);
        return;
    }
    put_be16(buf, (uint32_t)(total - 2));
    good_reply(res, total, get_be16(cdb + 7));
}

/* MMC-6 §6.22 READ DISC INFORMATION, standard disc information (Table 473). */
static void cmd_read_disc_information(struct mmc_cdrom *cd, const uint8_t *cdb, uint8_t *buf,
                                      struct mmc_result *res)
{
    enum { DISC_INFO_LEN = 34 };

    if ((cdb[1] & 0x07) != 0) { /* track resources / POW resources: not for a ROM drive */
        invalid_field(cd, res);
        return;
    }
    memset(buf, 0, DISC_INFO_LEN);
    put_be16(buf, DISC_INFO_LEN - 2);
    buf[2] = 0x0e;  /* last session complete, disc finalized, not erasable */
    buf[3] = 1;     /* first track on disc */
    buf[4] = 1;     /* sessions */
    buf[5] = 1;     /* first track in last session */
    buf[6] = 1;     /* last track in last session */
    buf[7] = 0x20;  /* URU: unrestricted use */
    buf[8] = 0x00;  /* disc type: CD-DA or CD-ROM */
    /* A finalized disc has no next session: lead-in and lead-out addresses all ones. */
    put_be32(buf + 16, 0xffffffffu);
    put_be32(buf + 20, 0xffffffffu);
    good_reply(res, DISC_INFO_LEN, get_be16(cdb + 7));
}

/* MMC-6 §6.27 READ TRACK INFORMATION (Table 565): the one track, asked by LBA, track or
 * session number. */
static void cmd_read_track_information(struct mmc_cdrom *cd, const uint8_t *cdb, uint8_t *buf,
                                       struct mmc_result *res)
{
    enum { TRACK_INFO_LEN = 48, BY_LBA = 0, BY_TRACK = 1, BY_SESSION = 2 };
    uint32_t address = get_be32(cdb + 2);
    uint32_t sectors = mmc_cdrom_sectors(cd);
    bool found;

    switch (cdb[1] & 0x03) {
    case BY_LBA:
        found = address < sectors;
        break;
    case BY_TRACK:
    case BY_SESSION:
        found = address == 1;
        break;
    default:
        found = false;
        break;
    }
    if (!found) {
        invalid_field(cd, res);
        return;
    }
    memset(buf, 0, TRACK_INFO_LEN);
    put_be16(buf, TRACK_INFO_LEN - 2);
    buf[2] = 1;     /* track number */
    buf[3] = 1;     /* session number */
    buf[5] = 0x04;  /* track mode: data, recorded uninterrupted */
    buf[6] = 0x01;  /* data mode 1 */
    put_be32(buf + 8, 0);             /* track start */
    put_be32(buf + 24, sectors);      /* track size */
    put_be32(buf + 28, sectors ? sectors - 1 : 0); /* last recorded address */
    good_reply(res, TRACK_INFO_LEN, get_be16(cdb + 7));
}

/*
 * MMC-6 §6.28 READ SUB-CHANNEL, minimal: no audio plays, so the audio status says so; with
 * SubQ the current position (format 1) is the start of track 1, and UPC/ISRC (2, 3) are
 * reported absent.
 */
static void cmd_read_sub_channel(struct mmc_cdrom *cd, const uint8_t *cdb, uint8_t *buf,
                                 struct mmc_result *res)
{
    enum { AUDIO_STATUS_NONE = 0x15, HEADER_LEN = 4, DATA_LEN = 20, POSITION_LEN = 12 };
    bool msf = cdb[1] & 0x02;
    bool subq = cdb[2] & 0x40;
    uint8_t format = cdb[3];
    size_t total = HEADER_LEN;

    if (format < 1 || format > 3) {
        invalid_field(cd, res);
        return;
    }
    memset(buf, 0, HEADER_LEN + DATA_LEN);
    buf[1] = AUDIO_STATUS_NONE;
    if (subq) {
        uint8_t *d = buf + HEADER_LEN;
        size_t data_len = format == 1 ? POSITION_LEN : DATA_LEN;

        d[0] = format;
        if (format == 1) {
            d[1] = ADR_CONTROL_DATA_TRACK;
            d[2] = 1; /* track */
            d[3] = 1; /* index */
            put_toc_address(d + 4, 0, msf); /* absolute; the track-relative one is 0 */
        }
        put_be16(buf + 2, (uint32_t)data_len);
        total += data_len;
    }
    good_reply(res, total, get_be16(cdb + 7));
}

/* ---- features, events, mechanism ---- */

/* A feature descriptor header (MMC-6 §5.2.2): code, version, persistent, current. */
static size_t feature_header(uint8_t *p, uint16_t code, uint8_t version, bool persistent,
                             bool current, uint8_t additional_len)
{
    memset(p, 0, 4 + (size_t)additional_len);
    put_be16(p, code);
    p[2] = (uint8_t)(version << 2 | (persistent ? 0x02 : 0) | (current ? 0x01 : 0));
    p[3] = additional_len;
    return 4 + (size_t)additional_len;
}

/* Writes feature `code` at p; returns its length, 0 for a feature this drive lacks. */
static size_t feature(const struct mmc_cdrom *cd, uint16_t code, uint8_t *p, bool *current)
{
    uint16_t profile = current_profile(cd);
    size_t len;

    switch (code) {
    case 0x0000: /* Profile List (§5.3.1): DVD-ROM, CD-ROM */
        *current = true;
        len = feature_header(p, code, 0, true, true, 8);
        put_be16(p + 4, PROFILE_DVD_ROM);
        p[6] = profile == PROFILE_DVD_ROM;
        put_be16(p + 8, PROFILE_CD_ROM);
        p[10] = profile == PROFILE_CD_ROM;
        return len;
    case 0x0001: /* Core (§5.3.2), version 2: physical interface ATAPI */
        *current = true;
        len = feature_header(p, code, 2, true, true, 8);
        put_be32(p + 4, 2);
        return len;
    case 0x0002: /* Morphing (§5.3.3): events by polling only */
        *current = true;
        return feature_header(p, code, 1, true, true, 4);
    case 0x0003: /* Removable Medium (§5.3.4): tray, Eject, Lock */
        *current = true;
        len = feature_header(p, code, 0, true, true, 4);
        p[4] = 0x29;
        return len;
    case 0x0010: /* Random Readable (§5.3.5) */
        *current = profile != PROFILE_NONE;
        len = feature_header(p, code, 0, false, *current, 8);
        put_be32(p + 4, MMC_SECTOR_SIZE);
        put_be16(p + 8, profile == PROFILE_DVD_ROM ? 16 : 1); /* blocking */
        return len;
    case 0x001e: /* CD Read (§5.3.13), version 2: no CD-Text, C2 or DAP */
        *current = profile == PROFILE_CD_ROM;
        return feature_header(p, code, 2, false, *current, 4);
    case 0x001f: /* DVD Read (§5.3.14) */
        *current = profile == PROFILE_DVD_ROM;
        return feature_header(p, code, 0, false, *current, 0);
    default:
        return 0;
    }
}

/*
 * MMC-6 §6.6 GET CONFIGURATION: RT 0 every feature from the starting one on, RT 1 only the
 * current ones, RT 2 just the starting one.
 */
static void cmd_get_configuration(struct mmc_cdrom *cd, const uint8_t *cdb, uint8_t *buf,
                                  struct mmc_result *res)
{
    enum { RT_ALL = 0, RT_CURRENT = 1, RT_ONE = 2 };
    static const uint16_t features[] = {0x0000, 0x0001, 0x0002, 0x0003, 0x0010, 0x001e,
                                        0x001f};
    uint8_t rt = cdb[1] & 0x03;
    uint16_t start = get_be16(cdb + 2);
    size_t total = 8;

    if (rt > RT_ONE) {
        invalid_field(cd, res);
        return;
    }
    memset(buf, 0, total);
    put_be16(buf + 6, current_profile(cd));
    for (size_t i = 0; i < ARRAY_SIZE(features); i++) {
        bool current = false;

        if (features[i] < start || (rt == RT_ONE && features[i] != start)) {
            continue;
        }
        size_t len = feature(cd, features[i], buf + total, &current);
        if (rt == RT_CURRENT && !current) {
            continue; /* written, then overwritten by the next one or left past the end */
        }
        total += len;
    }
    put_be32(buf, (uint32_t)(total - 4));
    good_reply(res, total, get_be16(cdb + 7));
}

/*
 * MMC-6 §6.7 GET EVENT STATUS NOTIFICATION, polled only, media class only (§6.7.2.5). The
 * pending media event is reported once: consumed when the host received the whole
 * descriptor.
 */
static void cmd_get_event_status(struct mmc_cdrom *cd, const uint8_t *cdb, uint8_t *buf,
                                 struct mmc_result *res)
{
    enum { HEADER_LEN = 4, MEDIA_DESCRIPTOR_LEN = 4, NEA = 0x80 };
    size_t allocation_length = get_be16(cdb + 7);
    size_t total = HEADER_LEN;

    if (!(cdb[1] & 0x01)) { /* asynchronous operation is not supported (§6.7.2.1) */
        invalid_field(cd, res);
        return;
    }
    memset(buf, 0, HEADER_LEN + MEDIA_DESCRIPTOR_LEN);
    buf[3] = GESN_CLASS_MEDIA_BIT; /* supported event classes */
    if (!(cdb[4] & GESN_CLASS_MEDIA_BIT)) {
        buf[2] = NEA; /* no event of a requested class can be reported */
        put_be16(buf, HEADER_LEN - 2);
        good_reply(res, total, allocation_length);
        return;
    }
    uint8_t *d = buf + HEADER_LEN;
    buf[2] = GESN_CLASS_MEDIA;
    d[0] = cd->event_pending & 0x0f; /* the field is 4 bits; restored state may hold more */
    d[1] = (uint8_t)((cd->tray_open ? 0x01 : 0) | (medium_present(cd) ? 0x02 : 0));
    total += MEDIA_DESCRIPTOR_LEN;
    put_be16(buf, (uint32_t)(total - 2));
    good_reply(res, total, allocation_length);
    if (res->len == total) {
        cd->event_pending = MEDIA_EVENT_NO_CHANGE;
    }
}

/* MMC-6 §6.11 MECHANISM STATUS: no changer, idle, the tray's state, no slots. */
static void cmd_mechanism_status(struct mmc_cdrom *cd, const uint8_t *cdb, uint8_t *buf,
                                 struct mmc_result *res)
{
    enum { MECHANISM_STATUS_LEN = 8 };

    memset(buf, 0, MECHANISM_STATUS_LEN);
    if (cd->tray_open) {
        buf[1] = 0x10; /* door open */
    }
    good_reply(res, MECHANISM_STATUS_LEN, get_be16(cdb + 8));
}

/* ---- dispatch ---- */

enum command_flags {
    NEEDS_MEDIUM = 1 << 0,  /* NOT READY without one */
    ALLOWS_UA = 1 << 1,     /* runs despite a pending unit attention (SPC-4 §5.14) */
};

static unsigned command_flags(uint8_t op)
{
    switch (op) {
    case OP_INQUIRY:
    case OP_REQUEST_SENSE:
    case OP_GET_EVENT_STATUS_NOTIFICATION:
        return ALLOWS_UA;
    case OP_TEST_UNIT_READY:
    case OP_READ_CAPACITY:
    case OP_READ_10:
    case OP_READ_12:
    case OP_READ_CD:
    case OP_SEEK_10:
    case OP_READ_SUB_CHANNEL:
    case OP_READ_TOC_PMA_ATIP:
    case OP_READ_DISC_INFORMATION:
    case OP_READ_TRACK_INFORMATION:
        return NEEDS_MEDIUM;
    default:
        return 0;
    }
}

static void dispatch(struct mmc_cdrom *cd, const uint8_t *cdb, uint8_t *buf,
                     struct mmc_result *res)
{
    switch (cdb[0]) {
    case OP_TEST_UNIT_READY:
        cmd_test_unit_ready(cd, res);
        break;
    case OP_REQUEST_SENSE:
        cmd_request_sense(cd, cdb, buf, res);
        break;
    case OP_INQUIRY:
        cmd_inquiry(cd, cdb, buf, res);
        break;
    case OP_MODE_SELECT_6:
    case OP_MODE_SELECT_10:
        cmd_mode_select(cd, cdb, res);
        break;
    case OP_MODE_SENSE_6:
    case OP_MODE_SENSE_10:
        cmd_mode_sense(cd, cdb, buf, res);
        break;
    case OP_START_STOP_UNIT:
        cmd_start_stop_unit(cd, cdb, res);
        break;
    case OP_PREVENT_ALLOW_MEDIUM_REMOVAL:
        cmd_prevent_allow(cd, cdb, res);
        break;
    case OP_READ_CAPACITY:
        cmd_read_capacity(cd, buf, res);
        break;
    case OP_READ_10:
    case OP_READ_12:
        cmd_read(cd, cdb, res);
        break;
    case OP_READ_CD:
        cmd_read_cd(cd, cdb, res);
        break;
    case OP_SEEK_10:
        cmd_seek(cd, cdb, res);
        break;
    case OP_READ_TOC_PMA_ATIP:
        cmd_read_toc(cd, cdb, buf, res);
        break;
    case OP_READ_DISC_INFORMATION:
        cmd_read_disc_information(cd, cdb, buf, res);
        break;
    case OP_READ_TRACK_INFORMATION:
        cmd_read_track_information(cd, cdb, buf, res);
        break;
    case OP_READ_SUB_CHANNEL:
        cmd_read_sub_channel(cd, cdb, buf, res);
        break;
    case OP_GET_CONFIGURATION:
        cmd_get_configuration(cd, cdb, buf, res);
        break;
    case OP_GET_EVENT_STATUS_NOTIFICATION:
        cmd_get_event_status(cd, cdb, buf, res);
        break;
    case OP_MECHANISM_STATUS:
        cmd_mechanism_status(cd, cdb, buf, res);
        break;
    case OP_SET_CD_SPEED:       /* MMC-6 §6.37: the speed is the host's wish, not an order */
    case OP_SYNCHRONIZE_CACHE:  /* MMC-6 §6.41: a read-only drive has nothing cached */
        good(res);
        break;
    default:
        illegal_request(cd, res, ASC_INVALID_COMMAND_OPERATION_CODE);
        break;
    }
}

void mmc_cdrom_command(struct mmc_cdrom *cd, const uint8_t cdb[MMC_CDB_SIZE], uint8_t *buf,
                       struct mmc_result *res)
{
    unsigned flags = command_flags(cdb[0]);

    TRACE(mmc_cdrom_command, "op=0x%02x cdb1=0x%02x ua=%d medium=%d tray_open=%d locked=%d",
          cdb[0], cdb[1], cd->unit_attention, medium_present(cd), cd->tray_open, cd->locked);
    if (cd->unit_attention && !(flags & ALLOWS_UA)) {
        cd->unit_attention = false;
        check_condition(cd, res, MMC_SENSE_UNIT_ATTENTION, ASC_MEDIUM_MAY_HAVE_CHANGED);
        goto out;
    }
    if ((flags & NEEDS_MEDIUM) && !medium_present(cd)) {
        not_ready(cd, res);
        goto out;
    }
    dispatch(cd, cdb, buf, res);
    /* A command that succeeded leaves no sense behind (REQUEST SENSE cleared its own). */
    if (res->outcome != MMC_CHECK_CONDITION) {
        set_sense(cd, MMC_SENSE_NONE, ASC_NO_ADDITIONAL_SENSE);
    }
out:
    TRACE(mmc_cdrom_result, "op=0x%02x outcome=%d len=%zu lba=%u sectors=%u sense=%x/%02x/%02x",
          cdb[0], res->outcome, res->len, res->lba, res->sectors, res->sense_key, res->asc,
          res->ascq);
}

/* ---- the transport's and the machine's side ---- */

void mmc_cdrom_init(struct mmc_cdrom *cd, struct drive *drive)
{
    memset(cd, 0, sizeof(*cd));
    cd->drive = drive;
}

void mmc_cdrom_reset(struct mmc_cdrom *cd)
{
    set_sense(cd, MMC_SENSE_NONE, ASC_NO_ADDITIONAL_SENSE);
    cd->locked = false;
}

void mmc_cdrom_read_failed(struct mmc_cdrom *cd, struct mmc_result *res)
{
    check_condition(cd, res, MMC_SENSE_MEDIUM_ERROR, ASC_UNRECOVERED_READ_ERROR);
}

/*
 * A new medium closes the tray and raises the unit attention and the new-media event; a
 * medium taken away (the tray is open then, after mmc_cdrom_eject_request) raises the
 * media-removal event, and commands find the drive NOT READY, as a drive whose disc was
 * taken out reports it (there is no unit attention for a ready-to-not-ready change).
 */
void mmc_cdrom_medium_changed(struct mmc_cdrom *cd)
{
    if (cd->drive && cd->drive->backend) {
        cd->tray_open = false;
        medium_arrived(cd);
    } else {
        cd->event_pending = MEDIA_EVENT_MEDIA_REMOVAL;
    }
}

/*
 * A locked tray refuses, and the drive raises an eject-request event, as the eject button of
 * a locked drive does (MMC-6 §6.7.2.5): the host may then unlock and eject the disc itself.
 * force unlocks and opens anyway.
 */
bool mmc_cdrom_eject_request(struct mmc_cdrom *cd, bool force)
{
    if (cd->locked && !force) {
        cd->event_pending = MEDIA_EVENT_EJECT_REQUEST;
        return false;
    }
    cd->locked = false;
    cd->tray_open = true;
    return true;
}

uint32_t mmc_cdrom_sectors(const struct mmc_cdrom *cd)
{
    if (!cd->drive || !cd->drive->backend) {
        return 0;
    }
    uint64_t sectors = block_size(cd->drive->backend) / MMC_SECTOR_SIZE;
    return sectors > UINT32_MAX ? UINT32_MAX : (uint32_t)sectors;
}
