/*
 * QMP's block commands: what `xl cd-insert` / `xl cd-eject` send (eject, blockdev-change-medium,
 * and `change` for older toolstacks), what libxenstat reads (query-blockstats) and query-block.
 *
 * Drives are named as QEMU names them: by the -device's id (libxl 4.17: `id=ide-5632`, the same
 * string as the -drive's id) or by the drive's own id (`device` in QMP, "ide1-cd0" for if=ide);
 * xendm gives a drive one id, so both members look it up the same way. libxl passes a new
 * medium as /dev/fdset/N after add-fd: the monitor opens it through its fd sets, so a
 * restricted device model (no file system) can still change CDs.
 */
#include "qmp-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "xendm/block.h"

static GPtrArray *monitor_drives(struct monitor *mon)
{
    return mon->vmc->drives ? mon->vmc->drives(mon->opaque) : NULL;
}

static struct drive *find_drive(struct monitor *mon, const char *name)
{
    GPtrArray *drives = monitor_drives(mon);

    for (guint i = 0; drives != NULL && i < drives->len; i++) {
        struct drive *drive = g_ptr_array_index(drives, i);
        if (drive->id != NULL && strcmp(drive->id, name) == 0) {
            return drive;
        }
    }
    return NULL;
}

/* The drive named by "id" or "device"; QEMU's errors when neither or none matches. */
static struct drive *drive_from_args(struct qmp_request *req, GError **err)
{
    const char *id = json_get_string(json_object_get(req->args, "id"));
    const char *device = json_get_string(json_object_get(req->args, "device"));
    const char *name = id != NULL ? id : device;
    struct drive *drive;

    if ((id == NULL) == (device == NULL)) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC,
                    "Need exactly one of 'device' and 'id'");
        return NULL;
    }
    drive = find_drive(req->mon, name);
    if (drive == NULL) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Device '%.100s' not found", name);
        return NULL;
    }
    if (drive->media != DRIVE_MEDIA_CDROM) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Device '%.100s' is not removable",
                    name);
        return NULL;
    }
    return drive;
}

struct json_value *qmp_eject(struct qmp_request *req, GError **err)
{
    const struct json_value *force_arg = json_object_get(req->args, "force");
    struct drive *drive = drive_from_args(req, err);

    if (drive == NULL) {
        return NULL;
    }
    if (!drive_eject(drive, force_arg != NULL && json_get_bool(force_arg), err)) {
        return NULL;
    }
    return json_object_new();
}

/* The new medium's open options; the fd is opened here (a path, or /dev/fdset/N). */
static bool medium_options(struct monitor *mon, struct drive *drive, const char *filename,
                           const char *format, const char *read_only_mode,
                           struct block_open_options *options, GError **err)
{
    if (format != NULL && strcmp(format, "raw") != 0 && strcmp(format, "host_device") != 0) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC,
                    "Image format '%.40s' is not supported (raw only)", format);
        return false;
    }
    *options = (struct block_open_options){
        .filename = filename,
        .read_only = drive->read_only,
        .cache = drive->cache,
    };
    if (read_only_mode != NULL && strcmp(read_only_mode, "retain") != 0) {
        if (strcmp(read_only_mode, "read-only") == 0) {
            options->read_only = true;
        } else if (strcmp(read_only_mode, "read-write") == 0) {
            options->read_only = false;
        } else {
            g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC,
                        "Parameter 'read-only-mode' does not accept value '%.40s'",
                        read_only_mode);
            return false;
        }
    }
    options->fd = fdsets_open(mon->fdsets, filename, options->read_only ? O_RDONLY : O_RDWR,
                              err);
    return options->fd >= 0;
}

static struct json_value *change_medium(struct qmp_request *req, struct drive *drive,
                                        const char *filename, const char *format,
                                        const char *read_only_mode, GError **err)
{
    struct block_open_options options;

    if (!medium_options(req->mon, drive, filename, format, read_only_mode, &options, err)) {
        return NULL;
    }
    /* drive_change_medium owns options.fd from here, on success and failure alike. */
    if (!drive_change_medium(drive, &options, err)) {
        return NULL;
    }
    return json_object_new();
}

struct json_value *qmp_blockdev_change_medium(struct qmp_request *req, GError **err)
{
    struct drive *drive = drive_from_args(req, err);

    if (drive == NULL) {
        return NULL;
    }
    return change_medium(req, drive, json_get_string(json_object_get(req->args, "filename")),
                         json_get_string(json_object_get(req->args, "format")),
                         json_get_string(json_object_get(req->args, "read-only-mode")), err);
}

/* `change device=ID target=FILE [arg=FORMAT]`: removed in QEMU 6.0, sent by libxl < 4.15. */
struct json_value *qmp_change(struct qmp_request *req, GError **err)
{
    const char *device = json_get_string(json_object_get(req->args, "device"));
    const char *target = json_get_string(json_object_get(req->args, "target"));
    const char *format = json_get_string(json_object_get(req->args, "arg"));
    struct drive *drive = find_drive(req->mon, device);

    if (drive == NULL || drive->media != DRIVE_MEDIA_CDROM) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC,
                    drive == NULL ? "Device '%.100s' not found"
                                  : "Device '%.100s' is not removable",
                    device);
        return NULL;
    }
    return change_medium(req, drive, target, format, NULL, err);
}

/* ---- queries ---- */

static void drive_tray(const struct drive *drive, bool *locked, bool *open)
{
    *locked = false;
    *open = false;
    if (drive->dev_ops != NULL && drive->dev_ops->tray_state != NULL) {
        drive->dev_ops->tray_state(drive->dev_opaque, locked, open);
    }
}

static struct json_value *cache_info(enum block_cache_mode cache)
{
    struct json_value *info = json_object_new();

    json_object_set(info, "writeback", json_bool_new(cache != BLOCK_CACHE_WRITETHROUGH &&
                                                     cache != BLOCK_CACHE_DIRECTSYNC));
    json_object_set(info, "direct", json_bool_new(cache == BLOCK_CACHE_NONE ||
                                                  cache == BLOCK_CACHE_DIRECTSYNC));
    json_object_set(info, "no-flush", json_bool_new(cache == BLOCK_CACHE_UNSAFE));
    return info;
}

static struct json_value *inserted_info(const struct drive *drive)
{
    struct json_value *inserted = json_object_new();
    struct json_value *image = json_object_new();
    const char *file = block_filename(drive->backend);

    json_object_set(image, "filename", json_string_new(file));
    json_object_set(image, "format", json_string_new("raw"));
    json_object_set(image, "virtual-size", json_int_new((int64_t)block_size(drive->backend)));
    json_object_set(inserted, "file", json_string_new(file));
    json_object_set(inserted, "node-name", json_string_new(drive->id));
    json_object_set(inserted, "ro", json_bool_new(block_is_read_only(drive->backend)));
    json_object_set(inserted, "drv", json_string_new("raw"));
    json_object_set(inserted, "backing_file_depth", json_int_new(0));
    json_object_set(inserted, "encrypted", json_bool_new(false));
    json_object_set(inserted, "detect_zeroes", json_string_new("off"));
    json_object_set(inserted, "write_threshold", json_int_new(0));
    json_object_set(inserted, "cache", cache_info(drive->cache));
    json_object_set(inserted, "image", image);
    return inserted;
}

struct json_value *qmp_query_block(struct qmp_request *req, GError **err)
{
    GPtrArray *drives = monitor_drives(req->mon);
    struct json_value *list = json_array_new();

    for (guint i = 0; drives != NULL && i < drives->len; i++) {
        const struct drive *drive = g_ptr_array_index(drives, i);
        struct json_value *info = json_object_new();
        bool removable = drive->media == DRIVE_MEDIA_CDROM, locked, open;

        drive_tray(drive, &locked, &open);
        json_object_set(info, "device", json_string_new(drive->id));
        json_object_set(info, "qdev", json_string_new(drive->id));
        json_object_set(info, "type", json_string_new("unknown"));
        json_object_set(info, "removable", json_bool_new(removable));
        json_object_set(info, "locked", json_bool_new(locked));
        if (removable) {
            json_object_set(info, "tray_open", json_bool_new(open));
        }
        json_object_set(info, "io-status", json_string_new("ok"));
        if (drive->backend != NULL) {
            json_object_set(info, "inserted", inserted_info(drive));
        }
        json_array_append(list, info);
    }
    return list;
}

static struct json_value *block_stats_object(const struct block_stats *s)
{
    struct json_value *stats = json_object_new();

    json_object_set(stats, "rd_bytes", json_int_new((int64_t)s->rd_bytes));
    json_object_set(stats, "wr_bytes", json_int_new((int64_t)s->wr_bytes));
    json_object_set(stats, "rd_operations", json_int_new((int64_t)s->rd_operations));
    json_object_set(stats, "wr_operations", json_int_new((int64_t)s->wr_operations));
    json_object_set(stats, "flush_operations", json_int_new((int64_t)s->flush_operations));
    json_object_set(stats, "unmap_operations", json_int_new((int64_t)s->discard_operations));
    json_object_set(stats, "failed_rd_operations", json_int_new(0));
    json_object_set(stats, "failed_wr_operations", json_int_new((int64_t)s->failed_operations));
    json_object_set(stats, "invalid_rd_operations", json_int_new(0));
    json_object_set(stats, "invalid_wr_operations", json_int_new(0));
    json_object_set(stats, "account_invalid", json_bool_new(true));
    json_object_set(stats, "account_failed", json_bool_new(true));
    json_object_set(stats, "idle_time_ns", json_int_new(0));
    return stats;
}

/* What libxenstat reads per disk: "device" and stats rd/wr bytes and operations. */
struct json_value *qmp_query_blockstats(struct qmp_request *req, GError **err)
{
    GPtrArray *drives = monitor_drives(req->mon);
    struct json_value *list = json_array_new();

    for (guint i = 0; drives != NULL && i < drives->len; i++) {
        const struct drive *drive = g_ptr_array_index(drives, i);
        struct block_stats s = {0};
        struct json_value *entry = json_object_new();

        if (drive->backend != NULL) {
            block_get_stats(drive->backend, &s);
        }
        json_object_set(entry, "device", json_string_new(drive->id));
        json_object_set(entry, "qdev", json_string_new(drive->id));
        json_object_set(entry, "stats", block_stats_object(&s));
        json_array_append(list, entry);
    }
    return list;
}

/* ---- HMP ---- */

void hmp_info_block(struct monitor *mon, GString *out)
{
    GPtrArray *drives = monitor_drives(mon);

    for (guint i = 0; drives != NULL && i < drives->len; i++) {
        const struct drive *drive = g_ptr_array_index(drives, i);
        bool locked, open;

        drive_tray(drive, &locked, &open);
        if (drive->backend == NULL) {
            g_string_append_printf(out, "%s: [not inserted]\n", drive->id);
        } else {
            g_string_append_printf(out, "%s (#block%u): %s (raw%s)\n", drive->id, i,
                                   block_filename(drive->backend),
                                   block_is_read_only(drive->backend) ? ", read-only" : "");
        }
        if (drive->media == DRIVE_MEDIA_CDROM) {
            g_string_append_printf(out, "    Removable device: %slocked, tray %s\n",
                                   locked ? "" : "not ", open ? "open" : "closed");
        }
        g_string_append(out, "\n");
    }
}

void hmp_info_blockstats(struct monitor *mon, GString *out)
{
    GPtrArray *drives = monitor_drives(mon);

    for (guint i = 0; drives != NULL && i < drives->len; i++) {
        const struct drive *drive = g_ptr_array_index(drives, i);
        struct block_stats st = {0};

        if (drive->backend != NULL) {
            block_get_stats(drive->backend, &st);
        }
        g_string_append_printf(out,
                               "%s: rd_bytes=%" G_GUINT64_FORMAT " wr_bytes=%" G_GUINT64_FORMAT
                               " rd_operations=%" G_GUINT64_FORMAT
                               " wr_operations=%" G_GUINT64_FORMAT
                               " flush_operations=%" G_GUINT64_FORMAT "\n",
                               drive->id, st.rd_bytes, st.wr_bytes, st.rd_operations,
                               st.wr_operations, st.flush_operations);
    }
}
