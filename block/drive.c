/*
 * Drives: -drive options made real, and the medium changes QMP asks for.
 *
 * The keys and their defaults are QEMU's (docs: qemu(1), -drive), restricted to what a Xen
 * HVM guest's device model needs: raw images on IDE, or if=none for a -device to name. libxl
 * 4.17 emits "file=F,if=ide,index=N,media=disk,format=raw,cache=writeback" for a disk and
 * "if=none,readonly=on,id=ID[,file=F,format=raw]" plus "-device ide-cd,drive=ID" for a CD-ROM.
 *
 * Eject and change-medium follow QEMU 7.2's QMP commands in one step each (QEMU opens the tray,
 * removes the medium, inserts, closes): the device is asked through eject_request() whether
 * the medium may go, which a guest's PREVENT ALLOW MEDIUM REMOVAL refuses unless forced. A
 * device whose ops have no eject_request (a hard disk) is not removable.
 */
#include "xendm/block.h"

#include <inttypes.h>

#include "xendm/common.h"
#include "xendm/keyval.h"

#define DRIVE_ERROR (g_quark_from_static_string("xendm-drive"))

/* if=ide: two channels (primary, secondary) of two units (master, slave). */
#define IDE_BUSES 2
#define IDE_UNITS_PER_BUS 2

/* Parsed keys, before anything is opened. */
struct drive_config {
    const char *file;
    enum drive_interface interface;
    enum drive_media media;
    int index;
    const char *id;
    bool read_only;
    bool discard_unmap;
    enum block_cache_mode cache;
    enum block_aio_mode aio;
};

/* QEMU's rule for ids: a letter, then letters, digits, '-', '.' and '_'. */
static bool id_is_wellformed(const char *id)
{
    if (!g_ascii_isalpha(id[0])) {
        return false;
    }
    for (const char *p = id + 1; *p != '\0'; p++) {
        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '.' && *p != '_') {
            return false;
        }
    }
    return true;
}

static bool parse_interface(struct kv_list *kv, struct drive_config *cfg, GError **err)
{
    /* QEMU's default interface on a PC machine. */
    const char *value = kv_get(kv, "if");
    if (value == NULL || strcmp(value, "ide") == 0) {
        cfg->interface = DRIVE_IF_IDE;
    } else if (strcmp(value, "none") == 0) {
        cfg->interface = DRIVE_IF_NONE;
    } else if (strcmp(value, "virtio") == 0) {
        cfg->interface = DRIVE_IF_VIRTIO;
    } else {
        g_set_error(err, DRIVE_ERROR, 0, "-drive: interface 'if=%s' is not supported "
                    "(ide, virtio or none)", value);
        return false;
    }
    return true;
}

static bool parse_media(struct kv_list *kv, struct drive_config *cfg, GError **err)
{
    const char *value = kv_get(kv, "media");
    if (value == NULL || strcmp(value, "disk") == 0) {
        cfg->media = DRIVE_MEDIA_DISK;
    } else if (strcmp(value, "cdrom") == 0) {
        cfg->media = DRIVE_MEDIA_CDROM;
    } else {
        g_set_error(err, DRIVE_ERROR, 0, "-drive: 'media=%s' invalid (disk or cdrom)", value);
        return false;
    }
    return true;
}

static bool get_bounded(struct kv_list *kv, const char *key, uint64_t limit, int64_t *out,
                        GError **err)
{
    uint64_t value;
    if (kv_get(kv, key) == NULL) {
        *out = -1;
        return true;
    }
    if (!kv_get_u64(kv, key, 0, false, &value, err)) {
        return false;
    }
    if (value >= limit) {
        g_set_error(err, DRIVE_ERROR, 0, "-drive: '%s=%" PRIu64 "' out of range (0 to %" PRIu64
                    ")", key, value, limit - 1);
        return false;
    }
    *out = (int64_t)value;
    return true;
}

/* index=, or bus= and unit=: where on the IDE controller; -1 when neither says. */
static bool parse_position(struct kv_list *kv, struct drive_config *cfg, GError **err)
{
    int64_t index, bus, unit;
    if (!get_bounded(kv, "index", IDE_BUSES * IDE_UNITS_PER_BUS, &index, err) ||
        !get_bounded(kv, "bus", IDE_BUSES, &bus, err) ||
        !get_bounded(kv, "unit", IDE_UNITS_PER_BUS, &unit, err)) {
        return false;
    }
    bool bus_unit = bus >= 0 || unit >= 0;
    if (cfg->interface != DRIVE_IF_IDE && (index >= 0 || bus_unit)) {
        g_set_error(err, DRIVE_ERROR, 0, "-drive: index=, bus= and unit= need if=ide");
        return false;
    }
    if (index >= 0 && bus_unit) {
        g_set_error(err, DRIVE_ERROR, 0, "-drive: index cannot be used with bus and unit");
        return false;
    }
    if (bus_unit) {
        index = XENDM_MAX(bus, 0) * IDE_UNITS_PER_BUS + XENDM_MAX(unit, 0);
    }
    cfg->index = (int)index;
    return true;
}

static bool parse_format(struct kv_list *kv, GError **err)
{
    const char *value = kv_get(kv, "format");
    if (value == NULL || strcmp(value, "raw") == 0 || strcmp(value, "host_device") == 0) {
        return true;
    }
    g_set_error(err, DRIVE_ERROR, 0, "-drive: format '%s' is not supported (raw or host_device)",
                value);
    return false;
}

static bool parse_host_options(struct kv_list *kv, struct drive_config *cfg, GError **err)
{
    const char *cache = kv_get(kv, "cache");
    cfg->cache = BLOCK_CACHE_WRITEBACK;
    if (cache != NULL && !block_cache_mode_parse(cache, &cfg->cache)) {
        g_set_error(err, DRIVE_ERROR, 0, "-drive: invalid cache option '%s' (writeback, "
                    "writethrough, none, directsync or unsafe)", cache);
        return false;
    }
    /* native (Linux AIO) is served by io_uring: see enum block_aio_mode. */
    const char *aio = kv_get(kv, "aio");
    cfg->aio = BLOCK_AIO_THREADS;
    if (aio != NULL && !block_aio_mode_parse(aio, &cfg->aio)) {
        g_set_error(err, DRIVE_ERROR, 0, "-drive: invalid aio option 'aio=%s' (threads, io_uring "
                    "or native)", aio);
        return false;
    }
    const char *discard = kv_get(kv, "discard");
    if (discard == NULL || strcmp(discard, "ignore") == 0 || strcmp(discard, "off") == 0) {
        cfg->discard_unmap = false;
    } else if (strcmp(discard, "unmap") == 0 || strcmp(discard, "on") == 0) {
        cfg->discard_unmap = true;
    } else {
        g_set_error(err, DRIVE_ERROR, 0, "-drive: invalid discard option '%s' (ignore or unmap)",
                    discard);
        return false;
    }
    if (!kv_get_bool(kv, "readonly", false, &cfg->read_only, err)) {
        return false;
    }
    /* A CD-ROM's medium is read-only, whatever readonly= says (QEMU does the same). */
    if (cfg->media == DRIVE_MEDIA_CDROM) {
        cfg->read_only = true;
    }
    return true;
}

static bool parse_id(struct kv_list *kv, struct drive_config *cfg, GError **err)
{
    cfg->id = kv_get(kv, "id");
    if (cfg->id == NULL) {
        if (cfg->interface == DRIVE_IF_NONE) {
            g_set_error(err, DRIVE_ERROR, 0, "-drive: if=none needs id=");
            return false;
        }
        return true;
    }
    if (!id_is_wellformed(cfg->id)) {
        g_set_error(err, DRIVE_ERROR, 0, "-drive: invalid id '%s' (a letter, then letters, "
                    "digits, '-', '.' or '_')", cfg->id);
        return false;
    }
    return true;
}

static bool parse_file(struct kv_list *kv, struct drive_config *cfg, GError **err)
{
    cfg->file = kv_get(kv, "file");
    if (cfg->file != NULL && cfg->file[0] == '\0') {
        cfg->file = NULL; /* QEMU: an empty file name is an empty drive */
    }
    if (cfg->file != NULL && g_str_has_prefix(cfg->file, "/dev/fdset/")) {
        g_set_error(err, DRIVE_ERROR, 0, "-drive: file '%s': fd sets are not supported here",
                    cfg->file);
        return false;
    }
    /* A CD-ROM may be empty, and so may an if=none drive a -device ide-cd will use. */
    if (cfg->file == NULL && cfg->interface != DRIVE_IF_NONE && cfg->media == DRIVE_MEDIA_DISK) {
        g_set_error(err, DRIVE_ERROR, 0, "-drive: a disk needs file=");
        return false;
    }
    if (cfg->interface == DRIVE_IF_VIRTIO && cfg->media != DRIVE_MEDIA_DISK) {
        g_set_error(err, DRIVE_ERROR, 0, "-drive: if=virtio is a disk (media=cdrom needs if=ide)");
        return false;
    }
    return true;
}

static bool parse_config(struct kv_list *kv, struct drive_config *cfg, GError **err)
{
    if (!parse_interface(kv, cfg, err) || !parse_media(kv, cfg, err) ||
        !parse_position(kv, cfg, err) || !parse_format(kv, err) ||
        !parse_host_options(kv, cfg, err) || !parse_id(kv, cfg, err) ||
        !parse_file(kv, cfg, err)) {
        return false;
    }
    const char *unused = kv_first_unused(kv);
    if (unused != NULL) {
        g_set_error(err, DRIVE_ERROR, 0, "-drive: invalid parameter '%s'", unused);
        return false;
    }
    return true;
}

/* QEMU's name for an if=ide drive without id=: "ide<bus>-hd<unit>" or "ide<bus>-cd<unit>". */
static char *default_id(const struct drive_config *cfg)
{
    if (cfg->id != NULL) {
        return g_strdup(cfg->id);
    }
    if (cfg->index < 0) {
        return NULL; /* the machine names it when it assigns the index */
    }
    return g_strdup_printf("ide%d-%s%d", cfg->index / IDE_UNITS_PER_BUS,
                           cfg->media == DRIVE_MEDIA_CDROM ? "cd" : "hd",
                           cfg->index % IDE_UNITS_PER_BUS);
}

struct drive *drive_new(struct kv_list *options, GError **err)
{
    struct drive_config cfg = {0};
    struct block_backend *backend = NULL;

    if (!parse_config(options, &cfg, err)) {
        return NULL;
    }
    if (cfg.file != NULL) {
        struct block_open_options open = {
            .filename = cfg.file, .fd = -1, .read_only = cfg.read_only, .cache = cfg.cache,
            .aio = cfg.aio};
        backend = block_open(&open, err);
        if (backend == NULL) {
            return NULL;
        }
    }
    struct drive *drive = g_new0(struct drive, 1);
    drive->id = default_id(&cfg);
    drive->interface = cfg.interface;
    drive->index = cfg.index;
    drive->media = cfg.media;
    drive->read_only = cfg.read_only;
    drive->cache = cfg.cache;
    drive->aio = cfg.aio;
    drive->discard_unmap = cfg.discard_unmap;
    drive->backend = backend;
    return drive;
}

void drive_free(struct drive *drive)
{
    if (drive == NULL) {
        return;
    }
    block_close(drive->backend);
    g_free(drive->id);
    g_free(drive);
}

/* Stands in for a device that passes no ops: removable, told nothing. */
static bool eject_always(void *opaque, bool force)
{
    return true;
}

static const struct drive_device_ops no_device_ops = {.eject_request = eject_always};

bool drive_attach(struct drive *drive, const struct drive_device_ops *ops, void *opaque,
                  GError **err)
{
    if (drive->dev_ops != NULL) {
        g_set_error(err, DRIVE_ERROR, 0, "Drive '%s' is already in use by another device",
                    drive->id != NULL ? drive->id : "(unnamed)");
        return false;
    }
    drive->dev_ops = ops != NULL ? ops : &no_device_ops;
    drive->dev_opaque = opaque;
    return true;
}

void drive_detach(struct drive *drive)
{
    drive->dev_ops = NULL;
    drive->dev_opaque = NULL;
}

/*
 * The tray opens (QEMU's blockdev-open-tray): a device without eject_request holds a fixed
 * disk; one that refuses has a locked tray, and has been told of the request (a guest sees
 * it as an eject-request event) all the same.
 */
static bool open_tray(struct drive *drive, bool force, GError **err)
{
    const struct drive_device_ops *ops = drive->dev_ops;
    if (ops == NULL) {
        return true; /* no device: the medium just goes */
    }
    if (ops->eject_request == NULL) {
        g_set_error(err, DRIVE_ERROR, 0, "Device '%s' is not removable", drive->id);
        return false;
    }
    if (!ops->eject_request(drive->dev_opaque, force)) {
        g_set_error(err, DRIVE_ERROR, 0, "Device '%s' is locked and force was not specified, "
                    "wait for tray to open and try again", drive->id);
        return false;
    }
    return true;
}

static void medium_changed(struct drive *drive)
{
    if (drive->dev_ops != NULL && drive->dev_ops->medium_changed != NULL) {
        drive->dev_ops->medium_changed(drive->dev_opaque);
    }
}

bool drive_eject(struct drive *drive, bool force, GError **err)
{
    if (!open_tray(drive, force, err)) {
        return false;
    }
    if (drive->backend == NULL) {
        return true; /* QEMU: ejecting an empty drive succeeds */
    }
    /* block_close() drains: the device's callbacks for the old medium run before it goes. */
    block_close(drive->backend);
    drive->backend = NULL;
    medium_changed(drive);
    return true;
}

bool drive_change_medium(struct drive *drive, const struct block_open_options *options,
                         GError **err)
{
    struct block_open_options open = *options;

    /* A CD-ROM drive reads whatever it is given (QEMU's read-only-mode=retain). */
    if (drive->read_only) {
        open.read_only = true;
    }
    open.aio = drive->aio; /* QMP names no aio=: the drive's own */
    /* As QEMU does, the new medium is opened first: a bad file leaves the old one in. */
    struct block_backend *backend = block_open(&open, err);
    if (backend == NULL) {
        return false;
    }
    if (!open_tray(drive, false, err)) {
        block_close(backend);
        return false;
    }
    block_close(drive->backend);
    drive->backend = backend;
    drive->cache = open.cache;
    medium_changed(drive);
    return true;
}
