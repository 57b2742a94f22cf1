/*
 * PIIX3 IDE, inside hw/ide/: the controller's two channels, their drives and the bus-master
 * DMA engine. Not a contract for other directories.
 *
 *   piix-ide.c  the PCI function 8086:7010, legacy port decode, BMIDE registers, the
 *               "piix3-ide", "ide-hd" and "ide-cd" device types, PV unplug, saved state
 *   ata.c       one drive: the task file, ATA commands, PIO data transfers, INTRQ
 *   atapi.c     the PACKET command: CDB transport to hw/scsi (mmc.h), PIO and DMA replies
 *   bmdma.c     SFF-8038i bus-master DMA: PRD table walks, guest memory locked per chunk
 *
 * Everything runs on the event-loop thread; block requests complete back on it.
 */
#ifndef HW_IDE_IDE_H
#define HW_IDE_IDE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "xendm/block.h"
#include "xendm/machine.h"
#include "xendm/mmc.h"

#define IDE_SECTOR_SIZE 512u
/* The PIO buffer: 16 ATA sectors (READ MULTIPLE's largest block) or 32 CD sectors. */
#define IDE_BUF_SIZE (64u * 1024)
#define IDE_MAX_MULTIPLE 16u
/* Bus-master DMA: guest memory locked at most this much per block request. */
#define IDE_DMA_CHUNK (128u * 1024)
#define IDE_DMA_MAX_IOV 64u
/* SFF-8038i: the PRD table may not cross a 64 KiB boundary: at most 8192 8-byte entries. */
#define IDE_PRD_MAX_ENTRIES 8192u

/* ATA status register (ACS-3 §6.2). */
#define ATA_STATUS_ERR 0x01
#define ATA_STATUS_DRQ 0x08
#define ATA_STATUS_DSC 0x10 /* "seek complete", obsolete, still set by every drive */
#define ATA_STATUS_DF 0x20
#define ATA_STATUS_DRDY 0x40
#define ATA_STATUS_BSY 0x80
/* Error register. */
#define ATA_ERROR_AMNF 0x01 /* also: diagnostic "device 0 passed" code 01h */
#define ATA_ERROR_ABRT 0x04
#define ATA_ERROR_IDNF 0x10
#define ATA_ERROR_UNC 0x40
/* Device control register. */
#define ATA_DEVCTL_NIEN 0x02
#define ATA_DEVCTL_SRST 0x04
#define ATA_DEVCTL_HOB 0x80
/* Device register. */
#define ATA_DEV_DEV 0x10
#define ATA_DEV_LBA 0x40
/* ATAPI interrupt reason in the sector count register (ATA8-ACS §7.18, PACKET). */
#define ATAPI_IREASON_COD 0x01
#define ATAPI_IREASON_IO 0x02

/* Bus-master IDE registers (SFF-8038i §2). */
#define BM_CMD_START 0x01
#define BM_CMD_READ 0x08 /* bus master writes memory */
#define BM_STATUS_ACTIVE 0x01
#define BM_STATUS_ERROR 0x02
#define BM_STATUS_INTR 0x04
#define BM_STATUS_DMA_CAP 0x60 /* drive 0/1 DMA capable: software-owned bits */

enum ide_kind {
    IDE_KIND_NONE,
    IDE_KIND_HD,
    IDE_KIND_CD,
};

/* What the drive does with the data port and the buffer. */
enum ide_op {
    IDE_OP_NONE,
    IDE_OP_IDENTIFY,    /* PIO in of the IDENTIFY page */
    IDE_OP_READ,        /* ATA PIO read: blocks of drq_sectors from the backend */
    IDE_OP_WRITE,       /* ATA PIO write */
    IDE_OP_DMA,         /* ATA DMA read or write, waiting for or running the bus master */
    IDE_OP_PACKET,      /* waiting for the 12-byte command packet */
    IDE_OP_ATAPI_REPLY, /* ATAPI data-in from buf (PIO or DMA) */
    IDE_OP_ATAPI_READ,  /* ATAPI sector read (PIO through buf, or DMA) */
};

/* Where a DMA transfer's data comes from or goes to. */
enum ide_dma_kind {
    IDE_DMA_FROM_DISK, /* backend -> guest memory */
    IDE_DMA_TO_DISK,   /* guest memory -> backend */
    IDE_DMA_FROM_BUF,  /* the drive's buffer -> guest memory (ATAPI replies) */
};

struct ide_channel;
struct ide_drive;

/*
 * A PIO read through buf, the ATA disk's (512-byte sectors) or the ATAPI drive's (2048): how
 * its sectors are sized and what follows each fill of buf. ide_pio_read_fetch runs it.
 */
struct ide_pio_read {
    uint8_t op;           /* enum ide_op: a completion for another transfer is dropped */
    uint32_t sector_size; /* bytes per sector in the backend */
    /* buf[0, buf_end) holds the sectors just read: open the first DRQ block of them. */
    void (*filled)(struct ide_drive *d);
    /* The backend failed the read: end the command with the transport's error. */
    void (*failed)(struct ide_drive *d);
};

struct ide_drive {
    struct ide_channel *ch;
    unsigned unit;
    uint8_t kind;       /* enum ide_kind, from the configuration */
    bool unplugged;     /* PV unplug took it off the bus */
    struct drive *drive;
    uint64_t nb_sectors; /* ATA disk: 512-byte sectors */
    char serial[21];
    struct mmc_cdrom cd;

    /* The task file (HOB: the previous value of each register, for LBA48). */
    uint8_t feature, hob_feature, nsector, hob_nsector, sector, hob_sector;
    uint8_t lcyl, hob_lcyl, hcyl, hob_hcyl, select, status, error, command;
    bool intrq; /* the device asserts INTRQ (seen while selected and nIEN is clear) */

    /* Settings the guest changes. */
    uint8_t mult_sectors;   /* SET MULTIPLE MODE; 0: multiple commands abort */
    bool write_cache;       /* SET FEATURES 02h/82h */
    uint8_t xfer_mode;      /* SET FEATURES 03h value: 0x0n PIO, 0x2n MWDMA, 0x4n UDMA */
    uint8_t chs_heads, chs_sectors; /* INITIALIZE DEVICE PARAMETERS */

    /* The transfer in progress. */
    uint8_t op;          /* enum ide_op */
    bool lba48;          /* the command was an EXT one */
    bool io_busy;        /* a block request for this drive is in flight (never saved) */
    bool io_cancelled;   /* reset while io_busy: its completion only cleans up */
    uint32_t buf_pos;    /* next byte of buf for the data port */
    uint32_t drq_end;    /* end of the current DRQ data block in buf */
    uint32_t buf_end;    /* end of valid data in buf */
    uint64_t io_lba;     /* next sector to read or write (512 B ATA, 2048 B ATAPI) */
    uint32_t io_sectors_left; /* sectors not yet fetched (read) or written (write) */
    uint32_t drq_sectors;     /* sectors per DRQ block (ATA) */
    const struct ide_pio_read *pio_read; /* the PIO read io_busy stands for (never saved) */

    /* ATAPI. */
    uint8_t cdb[MMC_CDB_SIZE];
    uint32_t byte_count_limit; /* LBA mid/high at PACKET time */
    bool atapi_dma;            /* PACKET features bit 0 */

    /* DMA: what the bus master moves for this drive. */
    bool dma_pending; /* a DMA transfer waits for, or runs on, the bus master */
    uint8_t dma_kind; /* enum ide_dma_kind */
    uint64_t dma_offset;      /* byte offset in the backend, or in buf */
    uint64_t dma_bytes_left;

    uint8_t buf[IDE_BUF_SIZE];
};

/* Guest memory locked for one DMA block request. */
struct ide_dma_piece {
    void *ptr;
    uint64_t gpa;
    size_t len;
};

struct ide_channel {
    struct piix_ide *ctrl;
    unsigned index;
    struct ide_drive drives[2];
    uint8_t cur_unit;
    uint8_t devctl;
    struct irq_line *irq;
    struct region *cmd_region, *ctl_region;

    /* BMIDE registers. */
    uint8_t bm_cmd, bm_status;
    uint32_t bm_prd;
    /* Where the PRD walk stands: entry index and bytes used of that entry. */
    uint32_t prd_index;
    uint32_t prd_used;

    /* A DMA block request in flight (never saved: state is drained first). */
    bool dma_in_flight;
    bool dma_cancelled;  /* its completion only releases memory and accounts progress */
    struct ide_drive *dma_drive;
    struct block_backend *dma_backend;
    struct ide_dma_piece pieces[IDE_DMA_MAX_IOV];
    unsigned nr_pieces;
    bool pieces_writable;
    uint64_t dma_chunk_bytes;
};

struct piix_ide {
    struct machine *machine;
    struct pci_device *pci;
    struct ide_channel ch[2];
    bool unplug_registered;
};

/* ---- ata.c ---- */
void ide_drive_init(struct ide_drive *d, struct ide_channel *ch, unsigned unit);
/* Attach a drive of `kind` (the configuration); false (err set) if the block layer refuses. */
bool ide_drive_attach(struct ide_drive *d, struct drive *drive, enum ide_kind kind,
                      GError **err);
void ide_drive_detach(struct ide_drive *d);
bool ide_drive_present(const struct ide_drive *d);
/* Power-on / hardware reset of the drive (signature in the registers). */
void ide_drive_reset(struct ide_drive *d);
/* Waits for the drive's block requests and drops their results (reset, save, detach). */
void ide_drive_quiesce(struct ide_drive *d);

uint64_t ide_cmd_read(struct ide_channel *ch, unsigned reg, unsigned size);
void ide_cmd_write(struct ide_channel *ch, unsigned reg, uint64_t value, unsigned size);
uint8_t ide_altstatus_read(struct ide_channel *ch);
void ide_devctl_write(struct ide_channel *ch, uint8_t value);
void ide_channel_update_irq(struct ide_channel *ch);

void ide_set_intrq(struct ide_drive *d);
/* The command ended: status DRDY|DSC (plus ERR and `error` when error != 0), INTRQ. */
void ide_command_done(struct ide_drive *d, uint8_t error);
/* A DRQ data block was fully moved through the data port. */
void ide_pio_block_done(struct ide_drive *d);
/* Bring the transfer state back to idle (no data port phase). */
void ide_transfer_stop(struct ide_drive *d);
/*
 * Fills buf with the next sectors of a PIO read (at most max_sectors of io_sectors_left,
 * from io_lba), BSY meanwhile; on completion io_lba and io_sectors_left advance past them,
 * buf_pos goes to 0 and `r->filled` runs, or `r->failed`. The drive must have a backend.
 */
void ide_pio_read_fetch(struct ide_drive *d, const struct ide_pio_read *r,
                        uint32_t max_sectors);
/* The bus master finished the drive's DMA transfer: ret 0, or -errno from the backend;
 * underrun: the PRD table ran out first; fault: a PRD pointed outside guest RAM. */
void ide_dma_finished(struct ide_drive *d, int ret, bool underrun, bool fault);

/* ---- atapi.c ---- */
void atapi_packet_command(struct ide_drive *d);
void atapi_run_cdb(struct ide_drive *d);
/* A PIO DRQ block of an ATAPI reply or read went through the data port. */
void atapi_pio_block_done(struct ide_drive *d);
/* The bus master moved the whole ATAPI transfer, or faulted (an underrun is ide_dma_finished's). */
void atapi_dma_finished(struct ide_drive *d, int ret, bool fault);
void atapi_set_signature(struct ide_drive *d);
void atapi_identify(struct ide_drive *d, uint16_t *words);

/* ---- bmdma.c ---- */
uint64_t bmdma_read(struct ide_channel *ch, unsigned offset, unsigned size);
void bmdma_write(struct ide_channel *ch, unsigned offset, uint64_t value, unsigned size);
/* The drive has a DMA transfer ready (d->op == IDE_OP_DMA or an ATAPI one with atapi_dma). */
void bmdma_kick(struct ide_channel *ch);
/* Stop the engine (reset): waits for a request in flight and releases guest memory. */
void bmdma_cancel(struct ide_channel *ch);
void bmdma_reset(struct ide_channel *ch);

/* Shared helpers. */
void ide_put_string(uint16_t *words, unsigned first, unsigned nwords, const char *text);

#endif
