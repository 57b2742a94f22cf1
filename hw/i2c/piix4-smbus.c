/*
 * The PIIX4 SMBus host controller (82371AB datasheet §11.5.4, host registers §7.4) and the
 * SPD EEPROMs on its bus, as qemu-xen's xenfv machine has them.
 *
 * Host registers, at SMBBA (16 bytes, byte-wide; wider accesses reach consecutive registers):
 *   0x00 SMBHSTSTS  bit 0 HOST_BUSY, 1 INTER (done), 2 DEV_ERR, 3 BUS_ERR, 4 FAILED; W1C
 *   0x01 SMBSLVSTS  slave status, W1C: the slave interface never receives anything here
 *   0x02 SMBHSTCNT  bit 0 INTEREN, 1 KILL, 4:2 protocol, 6 START (reads 0); a read resets
 *                   the block index
 *   0x03 SMBHSTCMD, 0x04 SMBHSTADD (bits 7:1 address, bit 0 read), 0x05 SMBHSTDAT0,
 *   0x06 SMBHSTDAT1, 0x07 SMBBLKDAT (the 32-byte block array at the index, which then
 *   steps), 0x08 SMBSLVCNT (bits 3:0), 0x09 SMBSHDWCMD, 0x0A-0x0B SMBSLVEVT (read/write
 *   scratch here), 0x0C-0x0D SMBSLVDAT (read-only, 0), 0x0E-0x0F reserved (0).
 *
 * A transaction completes within the write that starts it, so HOST_BUSY never reads 1; a
 * guest polling it (Linux i2c-piix4) sees the result at once. Completion sets INTER, an
 * absent device or an unusable command DEV_ERR; KILL sets FAILED. Per §11.5.4.1 the
 * controller ignores START until the guest has cleared every interrupt status bit.
 *
 * Interrupt: while INTEREN is set, any of INTER, DEV_ERR, BUS_ERR, FAILED drives the line
 * SMBHSTCFG.SMB_INTRSEL selects, if it selects IRQ 9 (100b); the other encoding, SMI#, has
 * no SMM behind it on Xen. (qemu-xen's PIIX4 raises no SMBus interrupt at all; this follows
 * the datasheet, and guests that poll, as Linux does, see no difference.)
 *
 * The EEPROMs behave as I2C serial EEPROMs: a write's first byte after the address sets the
 * byte pointer, every further byte is stored at the pointer, reads return bytes from it;
 * the 8-bit pointer wraps within the 256 bytes. A block write therefore stores the count
 * byte too, as on such a part (and on qemu-xen); a block read takes the first byte read as
 * the count, at most 32 of the following bytes are transferred.
 */
#include <glib.h>
#include <inttypes.h>
#include <string.h>

#include "xendm/common.h"
#include "xendm/log.h"
#include "xendm/machine.h"
#include "xendm/memory.h"
#include "xendm/smbus.h"
#include "xendm/trace.h"
#include "xendm/vmstate.h"

/* ---- host registers (82371AB §7.4) ---- */
#define SMBHSTSTS 0x00
#define SMBSLVSTS 0x01
#define SMBHSTCNT 0x02
#define SMBHSTCMD 0x03
#define SMBHSTADD 0x04
#define SMBHSTDAT0 0x05
#define SMBHSTDAT1 0x06
#define SMBBLKDAT 0x07
#define SMBSLVCNT 0x08
#define SMBSHDWCMD 0x09
#define SMBSLVEVT_LO 0x0a
#define SMBSLVEVT_HI 0x0b

#define STS_HOST_BUSY 0x01
#define STS_INTER 0x02
#define STS_DEV_ERR 0x04
#define STS_BUS_ERR 0x08
#define STS_FAILED 0x10
#define STS_INTERRUPT_SOURCES (STS_INTER | STS_DEV_ERR | STS_BUS_ERR | STS_FAILED)
#define STS_MASK (STS_HOST_BUSY | STS_INTERRUPT_SOURCES)

#define CNT_INTEREN 0x01
#define CNT_KILL 0x02
#define CNT_PROT_SHIFT 2
#define CNT_PROT_MASK 0x1c
#define CNT_START 0x40
#define CNT_STORED (CNT_INTEREN | CNT_KILL | CNT_PROT_MASK) /* START is write-only */

#define PROT_QUICK 0
#define PROT_BYTE 1
#define PROT_BYTE_DATA 2
#define PROT_WORD_DATA 3
#define PROT_BLOCK 5 /* 100b, 110b and 111b are reserved */

#define ADD_READ 0x01
#define SLVCNT_MASK 0x0f

#define BLOCK_LEN 32 /* the block data storage array */
#define BLOCK_INDEX_MASK (BLOCK_LEN - 1)

struct piix4_smbus {
    struct machine *machine;
    struct irq_line *irq;
    struct region *io;
    uint8_t hstcfg; /* the PM function's SMBHSTCFG, as last configured (not saved) */

    /* Saved state (the "piix4-smbus" section). */
    uint8_t hst_sts;
    uint8_t hst_cnt;
    uint8_t hst_cmd;
    uint8_t hst_add;
    uint8_t hst_dat0;
    uint8_t hst_dat1;
    uint8_t slv_cnt;
    uint8_t shdw_cmd;
    uint16_t slv_evt;
    uint8_t block_index; /* 0..BLOCK_LEN - 1 */
    uint8_t block[BLOCK_LEN];
    uint8_t eeprom_pointer[PIIX4_SMBUS_EEPROMS];
    uint8_t eeprom[PIIX4_SMBUS_EEPROMS][PIIX4_SMBUS_EEPROM_LEN];
};

/* ---- interrupt ---- */

static void smbus_update_irq(struct piix4_smbus *s)
{
    bool routed = (s->hstcfg & PIIX4_SMBHSTCFG_HST_EN) &&
                  (s->hstcfg & PIIX4_SMBHSTCFG_INTRSEL_MASK) == PIIX4_SMBHSTCFG_INTRSEL_IRQ9;
    bool pending = (s->hst_cnt & CNT_INTEREN) && (s->hst_sts & STS_INTERRUPT_SOURCES);

    irq_set_level(s->irq, routed && pending);
}

/* ---- the SPD EEPROMs ---- */

/* The EEPROM at a 7-bit SMBus address, or NULL: nothing acknowledges it. */
static uint8_t *eeprom_at(struct piix4_smbus *s, unsigned address, uint8_t **pointer)
{
    unsigned index = address - PIIX4_SMBUS_EEPROM_FIRST; /* wraps for lower addresses */

    if (index >= PIIX4_SMBUS_EEPROMS) {
        return NULL;
    }
    *pointer = &s->eeprom_pointer[index];
    return s->eeprom[index];
}

/* Every byte of an EEPROM access goes through the 8-bit pointer: it cannot leave the array. */
static uint8_t eeprom_next(const uint8_t *mem, uint8_t *pointer)
{
    return mem[(*pointer)++];
}

static void eeprom_store(uint8_t *mem, uint8_t *pointer, uint8_t value)
{
    mem[(*pointer)++] = value;
}

/* ---- transactions ---- */

/* Block write: the count (SMBHSTDAT0) and that many bytes of the array. */
static bool smbus_block_write(struct piix4_smbus *s, uint8_t *mem, uint8_t *pointer)
{
    if (s->hst_dat0 > BLOCK_LEN) {
        log_guest_error("piix4-smbus: block write of %u bytes (at most %u)", s->hst_dat0,
                        BLOCK_LEN);
        return false;
    }
    *pointer = s->hst_cmd;
    eeprom_store(mem, pointer, s->hst_dat0);
    for (unsigned i = 0; i < s->hst_dat0; i++) {
        eeprom_store(mem, pointer, s->block[i]);
    }
    return true;
}

/* Block read: the device's first byte is the count; SMBHSTDAT0 gets what was transferred. */
static void smbus_block_read(struct piix4_smbus *s, const uint8_t *mem, uint8_t *pointer)
{
    unsigned count;

    *pointer = s->hst_cmd;
    count = eeprom_next(mem, pointer);
    if (count > BLOCK_LEN) {
        count = BLOCK_LEN; /* the array holds no more */
    }
    for (unsigned i = 0; i < count; i++) {
        s->block[i] = eeprom_next(mem, pointer);
    }
    s->hst_dat0 = (uint8_t)count;
}

/* Runs the protocol in SMBHSTCNT against the device; false: DEV_ERR. */
static bool smbus_run(struct piix4_smbus *s, unsigned protocol, uint8_t *mem, uint8_t *pointer)
{
    bool read = s->hst_add & ADD_READ;

    switch (protocol) {
    case PROT_QUICK:
        return true; /* the address was acknowledged: that is all a quick command does */
    case PROT_BYTE: /* send byte sets the pointer; receive byte reads at it */
        if (read) {
            s->hst_dat0 = eeprom_next(mem, pointer);
        } else {
            *pointer = s->hst_cmd;
        }
        return true;
    case PROT_BYTE_DATA:
        *pointer = s->hst_cmd;
        if (read) {
            s->hst_dat0 = eeprom_next(mem, pointer);
        } else {
            eeprom_store(mem, pointer, s->hst_dat0);
        }
        return true;
    case PROT_WORD_DATA: /* low byte first (SMBus 1.0 §5.5.4) */
        *pointer = s->hst_cmd;
        if (read) {
            s->hst_dat0 = eeprom_next(mem, pointer);
            s->hst_dat1 = eeprom_next(mem, pointer);
        } else {
            eeprom_store(mem, pointer, s->hst_dat0);
            eeprom_store(mem, pointer, s->hst_dat1);
        }
        return true;
    case PROT_BLOCK:
        if (read) {
            smbus_block_read(s, mem, pointer);
            return true;
        }
        return smbus_block_write(s, mem, pointer);
    default:
        log_guest_error("piix4-smbus: START with reserved protocol %u", protocol);
        return false;
    }
}

static void smbus_transaction(struct piix4_smbus *s)
{
    unsigned protocol = (s->hst_cnt & CNT_PROT_MASK) >> CNT_PROT_SHIFT;
    unsigned address = s->hst_add >> 1;
    uint8_t *pointer = NULL;
    uint8_t *mem = eeprom_at(s, address, &pointer);
    bool ok = mem != NULL && smbus_run(s, protocol, mem, pointer);

    /* The array is addressed from 0 again during and after a transaction (§11.5.4.1). */
    s->block_index = 0;
    s->hst_sts |= ok ? STS_INTER : STS_DEV_ERR;
    TRACE(piix4_smbus_transaction, "addr=0x%02x %s protocol=%u cmd=0x%02x -> %s", address,
          (s->hst_add & ADD_READ) ? "read" : "write", protocol, s->hst_cmd,
          ok ? "done" : "DEV_ERR");
}

static void smbus_write_control(struct piix4_smbus *s, uint8_t value)
{
    s->hst_cnt = value & CNT_STORED;
    if (value & CNT_KILL) {
        /* Nothing is ever in flight; KILL still reports the termination it asks for. */
        s->hst_sts |= STS_FAILED;
        return;
    }
    if (!(value & CNT_START)) {
        return;
    }
    if (s->hst_sts & STS_INTERRUPT_SOURCES) {
        /* §11.5.4.1: START is not honoured until every interrupt status bit is cleared. */
        log_guest_error("piix4-smbus: START with SMBHSTSTS 0x%02x not cleared; ignored",
                        s->hst_sts);
        return;
    }
    smbus_transaction(s);
}

/* ---- the register block ---- */

static uint8_t smbus_read_register(struct piix4_smbus *s, unsigned reg)
{
    uint8_t value;

    switch (reg) {
    case SMBHSTSTS:
        return s->hst_sts;
    case SMBHSTCNT:
        s->block_index = 0; /* a read of SMBHSTCNT resets the index (§11.5.4.1) */
        return s->hst_cnt;
    case SMBHSTCMD:
        return s->hst_cmd;
    case SMBHSTADD:
        return s->hst_add;
    case SMBHSTDAT0:
        return s->hst_dat0;
    case SMBHSTDAT1:
        return s->hst_dat1;
    case SMBBLKDAT:
        value = s->block[s->block_index];
        s->block_index = (s->block_index + 1) & BLOCK_INDEX_MASK;
        return value;
    case SMBSLVCNT:
        return s->slv_cnt;
    case SMBSHDWCMD:
        return s->shdw_cmd;
    case SMBSLVEVT_LO:
        return (uint8_t)s->slv_evt;
    case SMBSLVEVT_HI:
        return (uint8_t)(s->slv_evt >> 8);
    default:
        return 0; /* SMBSLVSTS, SMBSLVDAT: no slave message ever arrives; reserved bytes */
    }
}

static void smbus_write_register(struct piix4_smbus *s, unsigned reg, uint8_t value)
{
    switch (reg) {
    case SMBHSTSTS:
        s->hst_sts &= (uint8_t)~(value & STS_INTERRUPT_SOURCES);
        break;
    case SMBHSTCNT:
        smbus_write_control(s, value);
        break;
    case SMBHSTCMD:
        s->hst_cmd = value;
        break;
    case SMBHSTADD:
        s->hst_add = value;
        break;
    case SMBHSTDAT0:
        s->hst_dat0 = value;
        break;
    case SMBHSTDAT1:
        s->hst_dat1 = value;
        break;
    case SMBBLKDAT:
        s->block[s->block_index] = value;
        s->block_index = (s->block_index + 1) & BLOCK_INDEX_MASK;
        break;
    case SMBSLVCNT:
        s->slv_cnt = value & SLVCNT_MASK;
        break;
    case SMBSHDWCMD:
        s->shdw_cmd = value;
        break;
    case SMBSLVEVT_LO:
        s->slv_evt = (uint16_t)((s->slv_evt & 0xff00) | value);
        break;
    case SMBSLVEVT_HI:
        s->slv_evt = (uint16_t)((s->slv_evt & 0x00ff) | (value << 8));
        break;
    default:
        break; /* SMBSLVSTS has no status to clear; SMBSLVDAT is read-only; reserved */
    }
}

static uint64_t smbus_io_read(void *opaque, uint64_t offset, unsigned size)
{
    struct piix4_smbus *s = opaque;

    /* The core hands byte accesses only (max_access 1) inside the 16-byte block. */
    if (offset >= PIIX4_SMBUS_IO_LEN) {
        return all_ones(size);
    }
    return smbus_read_register(s, (unsigned)offset);
}

static void smbus_io_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct piix4_smbus *s = opaque;

    if (offset >= PIIX4_SMBUS_IO_LEN) {
        return;
    }
    smbus_write_register(s, (unsigned)offset, (uint8_t)value);
    smbus_update_irq(s);
}

static const struct region_ops smbus_io_ops = {
    .read = smbus_io_read,
    .write = smbus_io_write,
    .min_access = 1,
    .max_access = 1,
};

/* ---- placement ---- */

static void smbus_unmap(struct piix4_smbus *s)
{
    region_del_clear(&s->io);
}

static void smbus_map(struct piix4_smbus *s, uint16_t base)
{
    if (s->io != NULL) {
        if (region_base(s->io) == base || region_move(s->io, base)) {
            return;
        }
        smbus_unmap(s);
    } else {
        s->io = machine_add_io(s->machine, "piix4-smbus", base, PIIX4_SMBUS_IO_LEN,
                               &smbus_io_ops, s);
        if (s->io != NULL) {
            TRACE(piix4_smbus_io, "SMBus host registers at 0x%04x", base);
            return;
        }
    }
    log_guest_error("piix4-smbus: host registers at 0x%04x overlap other ports; not decoded",
                    base);
}

void piix4_smbus_configure(struct piix4_smbus *s, uint16_t smbba, uint8_t hstcfg)
{
    /* SMBBA bits 15:4 hold the base of the 16-byte block (82371AB §7.3, config 0x90). */
    uint16_t base = smbba & (uint16_t)~(PIIX4_SMBUS_IO_LEN - 1);

    if (s == NULL) {
        return;
    }
    s->hstcfg = hstcfg;
    /* Base 0 would sit on the DMA controller's ports: treat it as not yet programmed. */
    if (!(hstcfg & PIIX4_SMBHSTCFG_HST_EN) || base == 0) {
        smbus_unmap(s);
    } else {
        smbus_map(s, base);
    }
    smbus_update_irq(s);
}

void piix4_smbus_reset(struct piix4_smbus *s)
{
    if (s == NULL) {
        return;
    }
    s->hst_sts = 0;
    s->hst_cnt = 0;
    s->hst_cmd = 0;
    s->hst_add = 0;
    s->hst_dat0 = 0;
    s->hst_dat1 = 0;
    s->slv_cnt = 0;
    s->shdw_cmd = 0;
    s->slv_evt = 0;
    s->block_index = 0;
    memset(s->block, 0, sizeof(s->block));
    memset(s->eeprom_pointer, 0, sizeof(s->eeprom_pointer));
    memset(s->eeprom, 0, sizeof(s->eeprom)); /* qemu-xen's SPD contents: all zeros */
    smbus_update_irq(s);
}

/* ---- saved state ---- */

/* The fields were range-checked on load; the placement comes from the PM function. */
static void piix4_smbus_post_load(void *obj)
{
    smbus_update_irq(obj);
}

static const struct vmstate_field piix4_smbus_fields[] = {
    VMSTATE_U8_MAX(struct piix4_smbus, hst_sts, STS_INTERRUPT_SOURCES),
    VMSTATE_U8_MAX(struct piix4_smbus, hst_cnt, CNT_STORED),
    VMSTATE_U8(struct piix4_smbus, hst_cmd),
    VMSTATE_U8(struct piix4_smbus, hst_add),
    VMSTATE_U8(struct piix4_smbus, hst_dat0),
    VMSTATE_U8(struct piix4_smbus, hst_dat1),
    VMSTATE_U8_MAX(struct piix4_smbus, slv_cnt, SLVCNT_MASK),
    VMSTATE_U8(struct piix4_smbus, shdw_cmd),
    VMSTATE_U16(struct piix4_smbus, slv_evt),
    VMSTATE_U8_MAX(struct piix4_smbus, block_index, BLOCK_INDEX_MASK),
    VMSTATE_U8_ARRAY(struct piix4_smbus, block, BLOCK_LEN),
    VMSTATE_U8_ARRAY(struct piix4_smbus, eeprom_pointer, PIIX4_SMBUS_EEPROMS),
    VMSTATE_U8_ARRAY(struct piix4_smbus, eeprom, PIIX4_SMBUS_EEPROMS * PIIX4_SMBUS_EEPROM_LEN),
    VMSTATE_END,
};

static const struct vmstate_desc piix4_smbus_vmstate = {
    .name = "piix4-smbus",
    .version = 1,
    .fields = piix4_smbus_fields,
    .post_load = piix4_smbus_post_load,
};

/* ---- life cycle ---- */

struct piix4_smbus *piix4_smbus_new(struct machine *m, unsigned irq)
{
    struct piix4_smbus *s = g_new0(struct piix4_smbus, 1);

    s->machine = m;
    s->irq = machine_isa_irq(m, irq);
    machine_add_state(m, &piix4_smbus_vmstate, 0, s);
    return s;
}

void piix4_smbus_free(struct piix4_smbus *s)
{
    if (s == NULL) {
        return;
    }
    smbus_unmap(s);
    machine_remove_state(s->machine, s);
    irq_line_free(s->irq);
    g_free(s);
}
