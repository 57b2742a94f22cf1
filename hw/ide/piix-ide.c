/*
 * "piix3-ide": the IDE function of the Intel 82371SB PIIX3 (datasheet §2.4, §5), 00:01.1,
 * 8086:7010, class 01.01.80 (IDE, bus-master capable, both channels in legacy mode), as
 * qemu-xen presents it; and "ide-hd" / "ide-cd", the drives libxl names with
 * `-device ide-cd,drive=ID,bus=ide.N,unit=U`.
 *
 * Legacy decode. The primary channel answers at 0x1F0-0x1F7 and 0x3F6 (IRQ 14), the secondary
 * at 0x170-0x177 and 0x376 (IRQ 15). The datasheet gates both: PCICMD bit 0 (I/O space
 * enable, §2.4.2: "access to the legacy IDE ports and the Bus Master IDE registers") and,
 * per channel, IDETIM bit 15 (IDE decode enable, §2.4.10). qemu-xen decodes the ports
 * always; xendm follows the datasheet, because hvmloader (pci_setup: "enable IDE0/IDE1",
 * 0x8000 into 0x40 and 0x42, and the I/O enable when it places BAR4) and SeaBIOS do exactly
 * what it requires, and a channel the guest switched off then really is off.
 *
 * Configuration registers: IDETIM 0x40-0x43 and SIDETIM 0x44 are writable and otherwise
 * inert (timings do not matter to an emulated drive); BAR4 is the 16-byte bus-master block
 * (bmdma.c), channel 0 at +0, channel 1 at +8.
 *
 * PV unplug (reference §6): UNPLUG_IDE_DISK takes every disk off the bus, UNPLUG_IDE_DISK_AUX
 * every disk but the primary master; CD-ROMs stay. An unplugged position reads as absent and
 * its drive is detached from the backend, so a PV driver owns the image alone.
 */
#include <glib.h>
#include <inttypes.h>

#include "ide.h"
#include "xendm/keyval.h"
#include "xendm/log.h"
#include "xendm/pci.h"
#include "xendm/trace.h"
#include "xendm/vmstate.h"

#define PIIX3_IDE_TYPE_NAME "piix3-ide"
#define PIIX3_IDE_DEVFN PCI_DEVFN(1, 1)
#define PIIX_IDE_BM_BAR 4
#define PIIX_IDE_BM_SIZE 16
#define PIIX_IDE_IDETIM 0x40 /* primary 0x40-0x41, secondary 0x42-0x43 */
#define PIIX_IDE_SIDETIM 0x44
#define IDETIM_DECODE_ENABLE 0x8000
/* DEVSEL medium, fast back-to-back capable: what qemu-xen's function reports. */
#define PIIX_IDE_STATUS 0x0280

static const uint16_t cmd_base[2] = {0x1f0, 0x170};
static const uint16_t ctl_port[2] = {0x3f6, 0x376};
static const unsigned channel_irq[2] = {14, 15};

static GQuark piix_ide_error_quark(void)
{
    return g_quark_from_static_string("xendm-piix-ide-error");
}
#define PIIX_IDE_ERROR piix_ide_error_quark()

/* ---- legacy ports ---- */

static uint64_t cmd_read(void *opaque, uint64_t offset, unsigned size)
{
    return ide_cmd_read(opaque, (unsigned)offset, size);
}

static void cmd_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    ide_cmd_write(opaque, (unsigned)offset, value, size);
}

static const struct region_ops cmd_ops = {
    .read = cmd_read,
    .write = cmd_write,
    .min_access = 1,
    .max_access = 4, /* the data port takes 32-bit transfers */
};

static uint64_t ctl_read(void *opaque, uint64_t offset, unsigned size)
{
    return ide_altstatus_read(opaque);
}

static void ctl_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct ide_channel *ch = opaque;

    TRACE(ide_ioport_write, "ch=%u devctl val=0x%02x", ch->index, (unsigned)(value & 0xff));
    ide_devctl_write(ch, (uint8_t)value);
}

static const struct region_ops ctl_ops = {
    .read = ctl_read,
    .write = ctl_write,
    .min_access = 1,
    .max_access = 1,
};

static bool channel_decodes(struct piix_ide *s, unsigned c)
{
    uint16_t idetim = pci_get_word(s->pci, PIIX_IDE_IDETIM + 2 * c);

    return (pci_get_word(s->pci, PCI_COMMAND) & PCI_COMMAND_IO) &&
           (idetim & IDETIM_DECODE_ENABLE);
}

static void update_decode(struct piix_ide *s)
{
    for (unsigned c = 0; c < 2; c++) {
        struct ide_channel *ch = &s->ch[c];
        bool want = channel_decodes(s, c);
        char name[32];

        if (want && ch->cmd_region == NULL) {
            snprintf(name, sizeof(name), "ide%u-cmd", c);
            ch->cmd_region = machine_add_io(s->machine, name, cmd_base[c], 8, &cmd_ops, ch);
            snprintf(name, sizeof(name), "ide%u-ctl", c);
            ch->ctl_region = machine_add_io(s->machine, name, ctl_port[c], 1, &ctl_ops, ch);
        } else if (!want && ch->cmd_region != NULL) {
            region_del_clear(&ch->cmd_region);
            region_del_clear(&ch->ctl_region);
        }
    }
}

/* ---- BAR4 ---- */

static uint64_t bm_read(void *opaque, uint64_t offset, unsigned size)
{
    struct piix_ide *s = opaque;

    if (offset >= PIIX_IDE_BM_SIZE) {
        return all_ones(size);
    }
    return bmdma_read(&s->ch[offset / 8], (unsigned)(offset % 8), size);
}

static void bm_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct piix_ide *s = opaque;

    if (offset < PIIX_IDE_BM_SIZE) {
        bmdma_write(&s->ch[offset / 8], (unsigned)(offset % 8), value, size);
    }
}

static const struct region_ops bm_ops = {
    .read = bm_read,
    .write = bm_write,
    .min_access = 1,
    .max_access = 4,
};

/* ---- PCI function ---- */

static void piix_ide_config_init(struct piix_ide *s)
{
    pci_set_word(s->pci, PCI_STATUS, PIIX_IDE_STATUS);
    pci_set_long(s->pci, PIIX_IDE_IDETIM, 0);
    pci_set_byte(s->pci, PIIX_IDE_SIDETIM, 0);
    pci_set_wmask(s->pci, PIIX_IDE_IDETIM, 0xffffffff, 4);
    pci_set_wmask(s->pci, PIIX_IDE_SIDETIM, 0xff, 1);
}

static void piix_ide_config_write(struct pci_device *d, void *opaque, uint32_t offset,
                                  uint32_t value, unsigned size)
{
    struct piix_ide *s = opaque;

    if (offset < PCI_COMMAND + 2 || (offset < PIIX_IDE_IDETIM + 4 &&
                                     offset + size > PIIX_IDE_IDETIM)) {
        update_decode(s);
    }
}

static void channels_reset(struct piix_ide *s)
{
    for (unsigned c = 0; c < 2; c++) {
        struct ide_channel *ch = &s->ch[c];
        bmdma_reset(ch);
        ch->devctl = 0;
        ch->cur_unit = 0;
        for (unsigned u = 0; u < 2; u++) {
            ide_drive_reset(&ch->drives[u]);
        }
        ide_channel_update_irq(ch);
    }
}

static void piix_ide_pci_reset(struct pci_device *d, void *opaque)
{
    struct piix_ide *s = opaque;

    piix_ide_config_init(s);
    update_decode(s);
}

static const struct pci_device_ops piix_ide_pci_ops = {
    .config_write = piix_ide_config_write,
    .reset = piix_ide_pci_reset,
};

/* ---- PV unplug ---- */

static void piix_ide_unplug(void *opaque, unsigned kind)
{
    struct piix_ide *s = opaque;

    for (unsigned c = 0; c < 2; c++) {
        for (unsigned u = 0; u < 2; u++) {
            struct ide_drive *d = &s->ch[c].drives[u];
            bool primary_master = c == 0 && u == 0;
            if (d->kind != IDE_KIND_HD || d->unplugged ||
                (kind == UNPLUG_IDE_DISK_AUX && primary_master)) {
                continue;
            }
            log_info("piix3-ide: unplugging disk ide%u.%u", c, u);
            ide_drive_detach(d);
            ide_transfer_stop(d);
            d->unplugged = true;
            d->intrq = false;
            d->status = 0;
            ide_channel_update_irq(&s->ch[c]);
        }
    }
}

/* ---- drives ---- */

static bool attach_position(struct piix_ide *s, unsigned bus, unsigned unit, struct drive *drive,
                            enum ide_kind kind, GError **err)
{
    struct ide_drive *d = &s->ch[bus].drives[unit];

    if (d->kind != IDE_KIND_NONE) {
        g_set_error(err, PIIX_IDE_ERROR, 0, "ide.%u unit %u is already in use", bus, unit);
        return false;
    }
    if (kind == IDE_KIND_HD && drive->backend == NULL) {
        g_set_error(err, PIIX_IDE_ERROR, 0, "drive '%s': a disk needs an image", drive->id);
        return false;
    }
    if (!ide_drive_attach(d, drive, kind, err)) {
        return false;
    }
    if (kind == IDE_KIND_HD && !s->unplug_registered) {
        machine_register_unplug(s->machine,
                                UNPLUG_KIND_BIT(UNPLUG_IDE_DISK) |
                                    UNPLUG_KIND_BIT(UNPLUG_IDE_DISK_AUX),
                                piix_ide_unplug, s);
        s->unplug_registered = true;
    }
    return true;
}

static bool attach_if_ide_drives(struct piix_ide *s, GError **err)
{
    for (int index = 0; index < 4; index++) {
        struct drive *drive = machine_drive_at(s->machine, DRIVE_IF_IDE, index);
        enum ide_kind kind;

        if (drive == NULL) {
            continue;
        }
        kind = drive->media == DRIVE_MEDIA_CDROM ? IDE_KIND_CD : IDE_KIND_HD;
        if (!attach_position(s, (unsigned)index / 2, (unsigned)index % 2, drive, kind, err)) {
            g_prefix_error(err, "-drive if=ide,index=%d: ", index);
            return false;
        }
    }
    return true;
}

static void piix_ide_destroy(void *dev)
{
    struct piix_ide *s = dev;

    if (s == NULL) {
        return;
    }
    if (s->unplug_registered) {
        machine_unregister_unplug(s->machine, s);
    }
    for (unsigned c = 0; c < 2; c++) {
        struct ide_channel *ch = &s->ch[c];
        bmdma_cancel(ch);
        for (unsigned u = 0; u < 2; u++) {
            ide_drive_detach(&ch->drives[u]);
        }
        region_del_clear(&ch->cmd_region);
        region_del_clear(&ch->ctl_region);
        irq_line_free(ch->irq);
    }
    if (s->pci != NULL) {
        pci_device_remove(s->pci);
    }
    g_free(s);
}

static void *piix_ide_create(struct machine *m, struct kv_list *props, GError **err)
{
    static const struct pci_device_id id = {
        .vendor_id = 0x8086,
        .device_id = 0x7010,
        .revision = 0x00,
        .class_code = 0x010180, /* IDE; bus master; both channels legacy, fixed */
    };
    struct pci_bus *bus = machine_pci_bus(m);
    struct piix_ide *s;

    if (bus == NULL) {
        g_set_error(err, PIIX_IDE_ERROR, 0, "piix3-ide: the machine has no PCI bus");
        return NULL;
    }
    s = g_new0(struct piix_ide, 1);
    s->machine = m;
    for (unsigned c = 0; c < 2; c++) {
        s->ch[c].ctrl = s;
        s->ch[c].index = c;
        s->ch[c].irq = machine_isa_irq(m, channel_irq[c]);
        for (unsigned u = 0; u < 2; u++) {
            ide_drive_init(&s->ch[c].drives[u], &s->ch[c], u);
        }
    }
    s->pci = pci_device_add(bus, PIIX3_IDE_DEVFN, PIIX3_IDE_TYPE_NAME, &id, &piix_ide_pci_ops,
                            s, err);
    if (s->pci == NULL) {
        goto fail;
    }
    piix_ide_config_init(s);
    if (pci_register_bar(s->pci, PIIX_IDE_BM_BAR, PCI_BAR_IO, PIIX_IDE_BM_SIZE, &bm_ops, s) <
        0) {
        g_set_error(err, PIIX_IDE_ERROR, 0, "piix3-ide: the PCI core refused BAR4");
        goto fail;
    }
    if (!attach_if_ide_drives(s, err)) {
        goto fail;
    }
    return s;

fail:
    piix_ide_destroy(s);
    return NULL;
}

static void piix_ide_reset(void *dev)
{
    channels_reset(dev);
}

/* ---- saved state ---- */

static void drain_channel(struct ide_channel *ch)
{
    /* A drained DMA chunk may submit the next one: drain until nothing is in flight (the
     * transfer is finite, so this ends). */
    while (ch->dma_in_flight && ch->dma_backend != NULL) {
        block_drain(ch->dma_backend);
    }
    for (unsigned u = 0; u < 2; u++) {
        struct ide_drive *d = &ch->drives[u];
        while (d->io_busy && d->drive != NULL && d->drive->backend != NULL) {
            block_drain(d->drive->backend);
        }
    }
}

static void piix_ide_pre_save(void *dev)
{
    struct piix_ide *s = dev;

    for (unsigned c = 0; c < 2; c++) {
        drain_channel(&s->ch[c]);
    }
}

/* A stream is guest-influenced data: every index the code trusts is brought in range. */
static void sanitize_drive(struct ide_drive *d)
{
    d->io_busy = false;
    d->io_cancelled = false;
    d->drq_end = XENDM_MIN(d->drq_end, d->buf_end);
    d->buf_pos = XENDM_MIN(d->buf_pos, d->drq_end);
    d->drq_sectors = XENDM_MIN(XENDM_MAX(d->drq_sectors, 1u), IDE_MAX_MULTIPLE);
    d->byte_count_limit = XENDM_MIN(XENDM_MAX(d->byte_count_limit, 2u), 0xfffeu);
    if (d->dma_kind == IDE_DMA_FROM_BUF &&
        (d->dma_offset > IDE_BUF_SIZE || d->dma_bytes_left > IDE_BUF_SIZE - d->dma_offset)) {
        ide_transfer_stop(d);
    }
    if (!ide_drive_present(d) || (d->kind == IDE_KIND_HD && d->op >= IDE_OP_PACKET) ||
        (d->kind == IDE_KIND_CD && d->op >= IDE_OP_READ && d->op <= IDE_OP_DMA)) {
        ide_transfer_stop(d);
    }
}

static void piix_ide_post_load(void *dev)
{
    struct piix_ide *s = dev;

    for (unsigned c = 0; c < 2; c++) {
        struct ide_channel *ch = &s->ch[c];
        for (unsigned u = 0; u < 2; u++) {
            struct ide_drive *d = &ch->drives[u];
            if (d->unplugged && d->drive != NULL) {
                ide_drive_detach(d);
            }
            sanitize_drive(d);
        }
        ch->dma_in_flight = false;
        ch->nr_pieces = 0;
        ide_channel_update_irq(ch);
        if (ch->bm_cmd & BM_CMD_START) {
            bmdma_kick(ch); /* a transfer that was mid-way goes on */
        }
    }
    update_decode(s);
}

/*
 * Bounds of the CD-ROM's saved fields: a sense key is 4 bits (SPC-4 §4.5.2.1, the error
 * register's high nibble); a pending media event is one of MMC-6 §6.7.2.5's codes 0..3
 * (no change, eject request, new media, media removal).
 */
#define IDE_SENSE_KEY_MAX 0x0f
#define IDE_MEDIA_EVENT_MAX 3

#define DRV_FIELD(c, u, f, type, width, n, max)                                                  \
    VMSTATE_FIELD_FULL("ch" #c ".d" #u "." #f, struct piix_ide, ch[c].drives[u].f, type, width, \
                       n, max, 0)
#define DRV_U8(c, u, f) DRV_FIELD(c, u, f, VMSTATE_TYPE_U8, 1, 1, 0)
#define DRV_U8_MAX(c, u, f, max) DRV_FIELD(c, u, f, VMSTATE_TYPE_U8, 1, 1, max)
#define DRV_BOOL(c, u, f) DRV_FIELD(c, u, f, VMSTATE_TYPE_BOOL, 1, 1, 1)
#define DRV_U32_MAX(c, u, f, max) DRV_FIELD(c, u, f, VMSTATE_TYPE_U32, 4, 1, max)
#define DRV_U64(c, u, f) DRV_FIELD(c, u, f, VMSTATE_TYPE_U64, 8, 1, 0)

#define DRIVE_FIELDS(c, u)                                                                        \
    DRV_BOOL(c, u, unplugged), DRV_U8(c, u, feature), DRV_U8(c, u, hob_feature),                 \
        DRV_U8(c, u, nsector), DRV_U8(c, u, hob_nsector), DRV_U8(c, u, sector),                  \
        DRV_U8(c, u, hob_sector), DRV_U8(c, u, lcyl), DRV_U8(c, u, hob_lcyl),                    \
        DRV_U8(c, u, hcyl), DRV_U8(c, u, hob_hcyl), DRV_U8(c, u, select),                        \
        DRV_U8(c, u, status), DRV_U8(c, u, error), DRV_U8(c, u, command),                        \
        DRV_BOOL(c, u, intrq), DRV_U8_MAX(c, u, mult_sectors, IDE_MAX_MULTIPLE),                 \
        DRV_BOOL(c, u, write_cache), DRV_U8(c, u, xfer_mode), DRV_U8(c, u, chs_heads),           \
        DRV_U8(c, u, chs_sectors), DRV_U8_MAX(c, u, op, IDE_OP_ATAPI_READ),                      \
        DRV_BOOL(c, u, lba48), DRV_U32_MAX(c, u, buf_pos, IDE_BUF_SIZE),                         \
        DRV_U32_MAX(c, u, drq_end, IDE_BUF_SIZE), DRV_U32_MAX(c, u, buf_end, IDE_BUF_SIZE),      \
        DRV_U64(c, u, io_lba), DRV_U32_MAX(c, u, io_sectors_left, 0),                            \
        DRV_U32_MAX(c, u, drq_sectors, IDE_MAX_MULTIPLE),                                        \
        DRV_FIELD(c, u, cdb, VMSTATE_TYPE_U8, 1, MMC_CDB_SIZE, 0),                               \
        DRV_U32_MAX(c, u, byte_count_limit, 0xfffe), DRV_BOOL(c, u, atapi_dma),                  \
        DRV_BOOL(c, u, dma_pending), DRV_U8_MAX(c, u, dma_kind, IDE_DMA_FROM_BUF),               \
        DRV_U64(c, u, dma_offset), DRV_U64(c, u, dma_bytes_left),                                \
        DRV_FIELD(c, u, buf, VMSTATE_TYPE_U8, 1, IDE_BUF_SIZE, 0),                               \
        DRV_U8_MAX(c, u, cd.sense_key, IDE_SENSE_KEY_MAX), DRV_U8(c, u, cd.asc),                 \
        DRV_U8(c, u, cd.ascq), DRV_BOOL(c, u, cd.unit_attention), DRV_BOOL(c, u, cd.locked),     \
        DRV_BOOL(c, u, cd.tray_open), DRV_U8_MAX(c, u, cd.event_pending, IDE_MEDIA_EVENT_MAX)

#define CH_FIELD(c, f, type, width, max)                                                          \
    VMSTATE_FIELD_FULL("ch" #c "." #f, struct piix_ide, ch[c].f, type, width, 1, max, 0)
#define CHANNEL_FIELDS(c)                                                                         \
    CH_FIELD(c, cur_unit, VMSTATE_TYPE_U8, 1, 1), CH_FIELD(c, devctl, VMSTATE_TYPE_U8, 1, 0),    \
        CH_FIELD(c, bm_cmd, VMSTATE_TYPE_U8, 1, 0), CH_FIELD(c, bm_status, VMSTATE_TYPE_U8, 1, 0), \
        CH_FIELD(c, bm_prd, VMSTATE_TYPE_U32, 4, 0),                                             \
        CH_FIELD(c, prd_index, VMSTATE_TYPE_U32, 4, IDE_PRD_MAX_ENTRIES),                        \
        CH_FIELD(c, prd_used, VMSTATE_TYPE_U32, 4, 0x10000),                                     \
        DRIVE_FIELDS(c, 0), DRIVE_FIELDS(c, 1)

static const struct vmstate_field piix_ide_fields[] = {
    CHANNEL_FIELDS(0),
    CHANNEL_FIELDS(1),
    VMSTATE_END,
};

static const struct vmstate_desc piix_ide_vmstate = {
    .name = PIIX3_IDE_TYPE_NAME,
    .version = 1,
    .fields = piix_ide_fields,
    .pre_save = piix_ide_pre_save,
    .post_load = piix_ide_post_load,
};

static const struct device_type piix_ide_type = {
    .name = PIIX3_IDE_TYPE_NAME,
    .description = "PIIX3 IDE controller (00:01.1), ATA disks and ATAPI CD-ROMs",
    .user_creatable = false,
    .create = piix_ide_create,
    .reset = piix_ide_reset,
    .destroy = piix_ide_destroy,
    .vmstate = &piix_ide_vmstate,
};
DEVICE_TYPE_REGISTER(piix_ide_type);

/* ---- ide-hd, ide-cd: a drive at bus=ide.N,unit=U ---- */

struct ide_device {
    struct ide_drive *d;
};

static bool parse_position(struct kv_list *props, struct piix_ide *s, unsigned *bus,
                           unsigned *unit, GError **err)
{
    const char *bus_name = kv_get(props, "bus");
    uint64_t u;
    bool have_unit = kv_get(props, "unit") != NULL;

    if (!kv_get_u64(props, "unit", 0, false, &u, err)) {
        return false;
    }
    if (bus_name != NULL) {
        if (strcmp(bus_name, "ide.0") == 0) {
            *bus = 0;
        } else if (strcmp(bus_name, "ide.1") == 0) {
            *bus = 1;
        } else {
            g_set_error(err, PIIX_IDE_ERROR, 0, "bus=%s: no such IDE bus (ide.0, ide.1)",
                        bus_name);
            return false;
        }
    }
    if (u > 1) {
        g_set_error(err, PIIX_IDE_ERROR, 0, "unit=%" PRIu64 ": 0 or 1", u);
        return false;
    }
    *unit = (unsigned)u;
    if (bus_name != NULL && have_unit) {
        return true;
    }
    /* Without a full position: the first free one (on the given bus). */
    for (unsigned b = bus_name != NULL ? *bus : 0; b < 2; b++) {
        for (unsigned n = have_unit ? *unit : 0; n < 2; n++) {
            if (s->ch[b].drives[n].kind == IDE_KIND_NONE) {
                *bus = b;
                *unit = n;
                return true;
            }
            if (have_unit) {
                break;
            }
        }
        if (bus_name != NULL) {
            break;
        }
    }
    g_set_error(err, PIIX_IDE_ERROR, 0, "no free IDE position");
    return false;
}

static void *ide_device_create(struct machine *m, struct kv_list *props, enum ide_kind kind,
                               GError **err)
{
    struct piix_ide *s = machine_find_device(m, PIIX3_IDE_TYPE_NAME);
    const char *drive_id = kv_get(props, "drive");
    struct drive *drive;
    unsigned bus = 0, unit = 0;
    struct ide_device *dev;

    if (s == NULL) {
        g_set_error(err, PIIX_IDE_ERROR, 0, "no IDE controller (piix3-ide) on this machine");
        return NULL;
    }
    if (drive_id == NULL) {
        g_set_error(err, PIIX_IDE_ERROR, 0, "drive= is required");
        return NULL;
    }
    drive = machine_find_drive(m, drive_id);
    if (drive == NULL) {
        g_set_error(err, PIIX_IDE_ERROR, 0, "drive=%s: no such drive", drive_id);
        return NULL;
    }
    if (!parse_position(props, s, &bus, &unit, err) ||
        !attach_position(s, bus, unit, drive, kind, err)) {
        return NULL;
    }
    dev = g_new0(struct ide_device, 1);
    dev->d = &s->ch[bus].drives[unit];
    return dev;
}

static void *ide_hd_create(struct machine *m, struct kv_list *props, GError **err)
{
    return ide_device_create(m, props, IDE_KIND_HD, err);
}

static void *ide_cd_create(struct machine *m, struct kv_list *props, GError **err)
{
    return ide_device_create(m, props, IDE_KIND_CD, err);
}

static void ide_device_destroy(void *opaque)
{
    struct ide_device *dev = opaque;

    if (dev == NULL) {
        return;
    }
    ide_drive_detach(dev->d);
    dev->d->kind = IDE_KIND_NONE;
    g_free(dev);
}

static const struct device_type ide_hd_type = {
    .name = "ide-hd",
    .description = "IDE hard disk (drive=ID, bus=ide.N, unit=U)",
    .user_creatable = true,
    .create = ide_hd_create,
    .destroy = ide_device_destroy,
};
DEVICE_TYPE_REGISTER(ide_hd_type);

static const struct device_type ide_cd_type = {
    .name = "ide-cd",
    .description = "IDE (ATAPI) CD-ROM (drive=ID, bus=ide.N, unit=U)",
    .user_creatable = true,
    .create = ide_cd_create,
    .destroy = ide_device_destroy,
};
DEVICE_TYPE_REGISTER(ide_cd_type);
