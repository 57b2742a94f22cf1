/*
 * Bus-master IDE DMA (SFF-8038i rev 1.0, as the PIIX3 implements it, datasheet §2.7/§5.2).
 *
 * Per channel: a command register (start, read/write), a status register (active, error and
 * interrupt write-1-to-clear, two software-owned "DMA capable" bits) and the physical address
 * of the PRD table. A PRD entry is 8 bytes: a 32-bit memory address (bit 0 ignored), a 16-bit
 * byte count (bit 0 ignored, 0 meaning 64 KiB) and, in bit 31 of the second dword, EOT.
 *
 * The table may not cross a 64 KiB boundary: the walk stays in the 64 KiB page of the table
 * pointer (wrapping inside it, as the 16-bit entry counter of the hardware does) and ends
 * after 8192 entries even without EOT, so a guest's table can never make the walk endless.
 *
 * A transfer runs while the start bit is set and a drive of the channel has a DMA command
 * pending, in chunks of at most IDE_DMA_CHUNK bytes and IDE_DMA_MAX_IOV pieces: each piece
 * of guest memory is locked (mapcache_lock) on the event-loop thread, handed to the block
 * layer as an iovec, and unlocked in the completion callback, so a guest cannot make xendm
 * hold an unbounded amount of its memory.
 *
 * Ends (SFF-8038i §3.1, the interrupt/active table):
 *   transfer done, PRD table used up      INTR 1, ACTIVE 0
 *   transfer done, PRD table longer       INTR 1, ACTIVE 1
 *   PRD table shorter than the transfer   INTR 0, ACTIVE 0 (the device cannot finish)
 *   a PRD address outside guest RAM       ERROR 1, ACTIVE 0, the command fails with an
 *                                         interrupt (what a master abort leads to)
 */
#include <glib.h>
#include <inttypes.h>

#include "ide.h"
#include "xendm/log.h"
#include "xendm/trace.h"

#define PRD_ENTRY_SIZE 8u
#define PRD_TABLE_WINDOW 0x10000u
#define PRD_EOT 0x80000000u

enum prd_walk {
    PRD_OK,
    PRD_END,   /* EOT consumed, or 8192 entries walked */
    PRD_FAULT, /* the table itself is not in guest RAM */
};

static uint64_t prd_entry_gpa(const struct ide_channel *ch, uint32_t index)
{
    uint32_t base = ch->bm_prd;

    return (base & ~(PRD_TABLE_WINDOW - 1)) |
           ((base + index * PRD_ENTRY_SIZE) & (PRD_TABLE_WINDOW - 1));
}

/* Where the walk stands: the next guest address and the bytes left in its entry. */
static enum prd_walk prd_current(struct ide_channel *ch, uint64_t *gpa, uint32_t *avail)
{
    struct machine *m = ch->ctrl->machine;

    while (ch->prd_index < IDE_PRD_MAX_ENTRIES) {
        uint8_t e[PRD_ENTRY_SIZE];
        uint32_t addr, flags, count;

        if (guest_read(m, prd_entry_gpa(ch, ch->prd_index), e, sizeof(e)) < 0) {
            return PRD_FAULT;
        }
        addr = (uint32_t)e[0] | (uint32_t)e[1] << 8 | (uint32_t)e[2] << 16 |
               (uint32_t)e[3] << 24;
        flags = (uint32_t)e[4] | (uint32_t)e[5] << 8 | (uint32_t)e[6] << 16 |
                (uint32_t)e[7] << 24;
        count = flags & 0xfffe;
        if (count == 0) {
            count = PRD_TABLE_WINDOW; /* 0 means 64 KiB */
        }
        if (ch->prd_used < count) {
            *gpa = (uint64_t)(addr & ~1u) + ch->prd_used;
            *avail = count - ch->prd_used;
            return PRD_OK;
        }
        if (flags & PRD_EOT) {
            return PRD_END;
        }
        ch->prd_index++;
        ch->prd_used = 0;
    }
    return PRD_END;
}

static struct ide_drive *dma_drive(struct ide_channel *ch)
{
    for (unsigned u = 0; u < 2; u++) {
        struct ide_drive *d = &ch->drives[u];
        if (d->dma_pending && ide_drive_present(d)) {
            return d;
        }
    }
    return NULL;
}

static void release_pieces(struct ide_channel *ch)
{
    struct machine *m = ch->ctrl->machine;

    for (unsigned i = 0; i < ch->nr_pieces; i++) {
        struct ide_dma_piece *p = &ch->pieces[i];
        if (ch->pieces_writable) {
            machine_mark_dirty(m, p->gpa, p->len);
        }
        mapcache_unlock(m->mapcache, p->ptr);
    }
    ch->nr_pieces = 0;
}

static void dma_end(struct ide_channel *ch, struct ide_drive *d, int ret, bool underrun,
                    bool fault)
{
    uint64_t gpa;
    uint32_t avail;

    if (fault) {
        log_guest_error("ide%u: bus-master DMA outside guest RAM (PRD table at 0x%08" PRIx32
                        ", entry %" PRIu32 ")", ch->index, ch->bm_prd, ch->prd_index);
        ch->bm_status |= BM_STATUS_ERROR;
        ch->bm_status &= (uint8_t)~BM_STATUS_ACTIVE;
    } else if (underrun) {
        log_guest_error("ide%u: PRD table shorter than the transfer", ch->index);
        ch->bm_status &= (uint8_t)~BM_STATUS_ACTIVE;
    } else if (prd_current(ch, &gpa, &avail) != PRD_OK) {
        ch->bm_status &= (uint8_t)~BM_STATUS_ACTIVE;
    }
    d->dma_pending = false;
    ide_dma_finished(d, ret, underrun, fault);
}

/*
 * Locks the next chunk of the PRD walk into ch->pieces. Returns the bytes locked (0 with
 * *result PRD_END or PRD_FAULT when nothing could be).
 */
static uint64_t lock_chunk(struct ide_channel *ch, uint64_t want, bool writable,
                           enum prd_walk *result)
{
    struct mapcache *mc = ch->ctrl->machine->mapcache;
    uint64_t total = 0;

    *result = PRD_OK;
    ch->nr_pieces = 0;
    ch->pieces_writable = writable;
    while (total < want && ch->nr_pieces < IDE_DMA_MAX_IOV) {
        uint64_t gpa;
        uint32_t avail;
        enum prd_walk w = prd_current(ch, &gpa, &avail);
        size_t len;
        void *ptr;

        if (w != PRD_OK) {
            *result = w;
            break;
        }
        len = (size_t)XENDM_MIN((uint64_t)avail, want - total);
        ptr = mapcache_lock(mc, gpa, len, writable);
        if (ptr == NULL) {
            *result = PRD_FAULT;
            break;
        }
        ch->pieces[ch->nr_pieces++] = (struct ide_dma_piece){.ptr = ptr, .gpa = gpa, .len = len};
        ch->prd_used += (uint32_t)len;
        total += len;
    }
    return total;
}

static void dma_block_cb(void *opaque, int ret)
{
    struct ide_channel *ch = opaque;
    struct ide_drive *d = ch->dma_drive;

    release_pieces(ch);
    ch->dma_in_flight = false;
    ch->dma_drive = NULL;
    ch->dma_backend = NULL;
    if (ret == 0) {
        d->dma_offset += ch->dma_chunk_bytes;
        d->dma_bytes_left -= ch->dma_chunk_bytes;
    }
    if (ch->dma_cancelled || !d->dma_pending) {
        return;
    }
    if (ret < 0) {
        dma_end(ch, d, ret, false, false);
        return;
    }
    bmdma_kick(ch);
}

/* ATAPI replies: from the drive's buffer, copied now. */
static void dma_from_buffer(struct ide_channel *ch, struct ide_drive *d)
{
    while (d->dma_bytes_left > 0) {
        enum prd_walk w;
        uint64_t n = lock_chunk(ch, d->dma_bytes_left, true, &w);

        for (unsigned i = 0; i < ch->nr_pieces; i++) {
            memcpy(ch->pieces[i].ptr, d->buf + d->dma_offset, ch->pieces[i].len);
            d->dma_offset += ch->pieces[i].len;
        }
        release_pieces(ch);
        d->dma_bytes_left -= n;
        if (w != PRD_OK) {
            dma_end(ch, d, 0, w == PRD_END, w == PRD_FAULT);
            return;
        }
    }
    dma_end(ch, d, 0, false, false);
}

void bmdma_kick(struct ide_channel *ch)
{
    struct ide_drive *d = dma_drive(ch);
    struct iovec iov[IDE_DMA_MAX_IOV];
    struct block_backend *bb;
    enum prd_walk w;
    uint64_t n;
    bool to_disk;

    if (d == NULL || !(ch->bm_cmd & BM_CMD_START) || ch->dma_in_flight) {
        return;
    }
    if (d->dma_kind == IDE_DMA_FROM_BUF) {
        dma_from_buffer(ch, d);
        return;
    }
    if (d->dma_bytes_left == 0) {
        dma_end(ch, d, 0, false, false);
        return;
    }
    bb = d->drive != NULL ? d->drive->backend : NULL;
    if (bb == NULL) {
        dma_end(ch, d, -ENOMEDIUM, false, false);
        return;
    }
    to_disk = d->dma_kind == IDE_DMA_TO_DISK;
    n = lock_chunk(ch, XENDM_MIN(d->dma_bytes_left, (uint64_t)IDE_DMA_CHUNK), !to_disk, &w);
    if (n == 0 || w == PRD_FAULT) {
        release_pieces(ch);
        dma_end(ch, d, 0, w == PRD_END, w == PRD_FAULT);
        return;
    }
    for (unsigned i = 0; i < ch->nr_pieces; i++) {
        iov[i] = (struct iovec){.iov_base = ch->pieces[i].ptr, .iov_len = ch->pieces[i].len};
    }
    ch->dma_in_flight = true;
    ch->dma_drive = d;
    ch->dma_backend = bb;
    ch->dma_chunk_bytes = n;
    if (to_disk) {
        block_writev(bb, d->dma_offset, iov, (int)ch->nr_pieces, dma_block_cb, ch);
    } else {
        block_readv(bb, d->dma_offset, iov, (int)ch->nr_pieces, dma_block_cb, ch);
    }
}

void bmdma_cancel(struct ide_channel *ch)
{
    if (ch->dma_in_flight && ch->dma_backend != NULL) {
        ch->dma_cancelled = true;
        block_drain(ch->dma_backend);
        ch->dma_cancelled = false;
    }
    ch->bm_status &= (uint8_t)~BM_STATUS_ACTIVE;
}

void bmdma_reset(struct ide_channel *ch)
{
    bmdma_cancel(ch);
    ch->bm_cmd = 0;
    ch->bm_status = 0;
    ch->bm_prd = 0;
    ch->prd_index = 0;
    ch->prd_used = 0;
}

/* ---- registers ---- */

static uint8_t bm_reg_read(struct ide_channel *ch, unsigned offset)
{
    switch (offset) {
    case 0:
        return ch->bm_cmd;
    case 2:
        return ch->bm_status;
    case 4:
    case 5:
    case 6:
    case 7:
        return (uint8_t)(ch->bm_prd >> (8 * (offset - 4)));
    default:
        return 0; /* reserved */
    }
}

static void bm_command_write(struct ide_channel *ch, uint8_t value)
{
    bool was_started = ch->bm_cmd & BM_CMD_START;
    bool start = value & BM_CMD_START;

    ch->bm_cmd = value & (BM_CMD_START | BM_CMD_READ);
    if (start && !was_started) {
        /* The bus master reads the table from its first entry on every start. */
        ch->prd_index = 0;
        ch->prd_used = 0;
        ch->bm_status |= BM_STATUS_ACTIVE;
        ch->bm_status &= (uint8_t)~BM_STATUS_ERROR;
        bmdma_kick(ch);
    } else if (!start && was_started) {
        /* SFF-8038i §2.1: clearing start halts the transfer; what moved stays moved. */
        bmdma_cancel(ch);
    }
}

static void bm_reg_write(struct ide_channel *ch, unsigned offset, uint8_t value)
{
    switch (offset) {
    case 0:
        bm_command_write(ch, value);
        break;
    case 2:
        ch->bm_status = (uint8_t)((ch->bm_status & ~BM_STATUS_DMA_CAP) |
                                  (value & BM_STATUS_DMA_CAP));
        ch->bm_status &= (uint8_t)~(value & (BM_STATUS_ERROR | BM_STATUS_INTR));
        break;
    case 4:
    case 5:
    case 6:
    case 7: {
        unsigned shift = 8 * (offset - 4);
        uint32_t v = (ch->bm_prd & ~(0xffu << shift)) | ((uint32_t)value << shift);
        ch->bm_prd = v & ~3u; /* dword aligned */
        break;
    }
    default:
        break;
    }
}

uint64_t bmdma_read(struct ide_channel *ch, unsigned offset, unsigned size)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < size && offset + i < 8; i++) {
        v |= (uint64_t)bm_reg_read(ch, offset + i) << (8 * i);
    }
    return v;
}

void bmdma_write(struct ide_channel *ch, unsigned offset, uint64_t value, unsigned size)
{
    /* Byte by byte, low address first: a wide write touches each register once. */
    for (unsigned i = 0; i < size && offset + i < 8; i++) {
        bm_reg_write(ch, offset + i, (uint8_t)(value >> (8 * i)));
    }
}
