/*
 * Drives (block/drive.c): -drive's keys as libxl writes them and every refusal, attaching a
 * device, and QMP's eject and change-medium through the device's ops.
 */
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "xendm/block.h"
#include "xendm/common.h"
#include "xendm/keyval.h"

static char *scratch;   /* a directory for the test's images */
static char *disk_img;  /* 1 MiB */
static char *cd_iso;    /* 64 KiB */
static char *cd2_iso;   /* 128 KiB */

static char *make_file(const char *name, size_t size)
{
    char *path = g_build_filename(scratch, name, NULL);
    char *zeroes = g_malloc0(size);
    g_assert_true(g_file_set_contents(path, zeroes, (gssize)size, NULL));
    g_free(zeroes);
    return path;
}

/* drive_new on an option string; the drive, or NULL with *err set. */
static struct drive *drive_from(const char *fmt, GError **err, ...) G_GNUC_PRINTF(1, 3);

static struct drive *drive_from(const char *fmt, GError **err, ...)
{
    va_list ap;
    va_start(ap, err);
    char *text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    GError *parse_err = NULL;
    struct kv_list *kv = kv_parse(text, NULL, &parse_err);
    g_assert_no_error(parse_err);
    struct drive *drive = drive_new(kv, err);
    kv_free(kv);
    g_free(text);
    return drive;
}

static void test_libxl_disk(void)
{
    GError *err = NULL;
    struct drive *d = drive_from("file=%s,if=ide,index=0,media=disk,format=raw,cache=writeback",
                                 &err, disk_img);
    g_assert_no_error(err);
    g_assert_cmpstr(d->id, ==, "ide0-hd0");
    g_assert_cmpint(d->interface, ==, DRIVE_IF_IDE);
    g_assert_cmpint(d->index, ==, 0);
    g_assert_cmpint(d->media, ==, DRIVE_MEDIA_DISK);
    g_assert_false(d->read_only);
    g_assert_false(d->discard_unmap);
    g_assert_cmpint(d->cache, ==, BLOCK_CACHE_WRITEBACK);
    g_assert_nonnull(d->backend);
    g_assert_cmpuint(block_size(d->backend), ==, 1024 * 1024);
    g_assert_false(block_is_read_only(d->backend));
    g_assert_null(d->dev_ops);
    drive_free(d);
    drive_free(NULL);
}

static void test_libxl_cdrom(void)
{
    GError *err = NULL;
    /* libxl 4.17's CD-ROM: if=none, named by -device ide-cd,drive=ide-5632. */
    struct drive *d = drive_from("if=none,readonly=on,id=ide-5632,file=%s,format=raw", &err,
                                 cd_iso);
    g_assert_no_error(err);
    g_assert_cmpstr(d->id, ==, "ide-5632");
    g_assert_cmpint(d->interface, ==, DRIVE_IF_NONE);
    g_assert_cmpint(d->index, ==, -1);
    g_assert_true(d->read_only);
    g_assert_true(block_is_read_only(d->backend));
    g_assert_cmpuint(block_size(d->backend), ==, 64 * 1024);
    drive_free(d);

    /* ...and an empty one. */
    d = drive_from("if=none,readonly=on,id=ide-5632", &err);
    g_assert_no_error(err);
    g_assert_null(d->backend);
    drive_free(d);
}

static void test_ide_names_and_positions(void)
{
    GError *err = NULL;
    struct drive *d = drive_from("if=ide,index=3,media=cdrom", &err);
    g_assert_no_error(err);
    g_assert_cmpstr(d->id, ==, "ide1-cd1");
    g_assert_cmpint(d->index, ==, 3);
    g_assert_true(d->read_only); /* a CD-ROM, whatever readonly= says */
    g_assert_null(d->backend);
    drive_free(d);

    d = drive_from("file=%s,bus=1,unit=0,cache=unsafe,discard=unmap,aio=threads,"
                   "format=host_device,readonly=off", &err, disk_img);
    g_assert_no_error(err);
    g_assert_cmpstr(d->id, ==, "ide1-hd0");
    g_assert_cmpint(d->interface, ==, DRIVE_IF_IDE); /* QEMU's default */
    g_assert_cmpint(d->index, ==, 2);
    g_assert_cmpint(d->cache, ==, BLOCK_CACHE_UNSAFE);
    g_assert_true(d->discard_unmap);
    drive_free(d);

    d = drive_from("file=%s,unit=1,id=mydisk", &err, disk_img);
    g_assert_no_error(err);
    g_assert_cmpstr(d->id, ==, "mydisk");
    g_assert_cmpint(d->index, ==, 1);
    drive_free(d);

    d = drive_from("file=%s,media=cdrom,readonly=off,index=2,file=", &err, cd_iso);
    g_assert_no_error(err); /* the last file= wins: an empty CD-ROM drive */
    g_assert_null(d->backend);
    drive_free(d);

    /* No index: the machine assigns one (and the name). */
    d = drive_from("file=%s", &err, disk_img);
    g_assert_no_error(err);
    g_assert_cmpint(d->index, ==, -1);
    g_assert_null(d->id);
    drive_free(d);
}

static void assert_refused(const char *options, const char *want)
{
    GError *err = NULL;
    struct drive *d = drive_from("%s", &err, options);
    g_assert_null(d);
    g_assert_nonnull(err);
    if (strstr(err->message, want) == NULL) {
        g_error("'%s' gave '%s', which lacks '%s'", options, err->message, want);
    }
    g_error_free(err);
}

static void test_refusals(void)
{
    char *with_disk;
#define REFUSED_WITH_DISK(fmt, want)                                                             \
    do {                                                                                          \
        with_disk = g_strdup_printf(fmt, disk_img);                                               \
        assert_refused(with_disk, want);                                                          \
        g_free(with_disk);                                                                        \
    } while (0)

    REFUSED_WITH_DISK("file=%s,if=scsi", "if=scsi");
    REFUSED_WITH_DISK("file=%s,if=floppy", "if=floppy");
    REFUSED_WITH_DISK("file=%s,if=virtio,media=cdrom", "if=virtio is a disk");
    assert_refused("if=virtio", "a disk needs file=");
    REFUSED_WITH_DISK("file=%s,media=floppy", "media=floppy");
    REFUSED_WITH_DISK("file=%s,index=4", "index=4");
    REFUSED_WITH_DISK("file=%s,index=-1", "index");
    REFUSED_WITH_DISK("file=%s,index=abc", "index");
    REFUSED_WITH_DISK("file=%s,bus=2", "bus=2");
    REFUSED_WITH_DISK("file=%s,unit=2", "unit=2");
    REFUSED_WITH_DISK("file=%s,index=1,bus=0", "index cannot be used with bus and unit");
    REFUSED_WITH_DISK("file=%s,if=none,id=x,index=0", "need if=ide");
    REFUSED_WITH_DISK("file=%s,if=none,id=x,unit=0", "need if=ide");
    REFUSED_WITH_DISK("file=%s,format=qcow2", "format 'qcow2' is not supported");
    REFUSED_WITH_DISK("file=%s,format=vpc", "format 'vpc' is not supported");
    REFUSED_WITH_DISK("file=%s,cache=fast", "cache option 'fast'");
    REFUSED_WITH_DISK("file=%s,aio=posix", "aio=posix");
    REFUSED_WITH_DISK("file=%s,discard=maybe", "discard option 'maybe'");
    REFUSED_WITH_DISK("file=%s,readonly=maybe", "readonly");
    REFUSED_WITH_DISK("file=%s,if=none", "if=none needs id=");
    REFUSED_WITH_DISK("file=%s,id=1disk", "invalid id '1disk'");
    REFUSED_WITH_DISK("file=%s,id=a/b", "invalid id 'a/b'");
    REFUSED_WITH_DISK("file=%s,index=0,snapshot=on", "invalid parameter 'snapshot'");
    REFUSED_WITH_DISK("file=%s,werror=stop", "invalid parameter 'werror'");
    assert_refused("file=/dev/fdset/1,if=ide,index=0", "fd sets");
    assert_refused("if=ide,index=0,media=disk", "a disk needs file=");
    assert_refused("file=,if=ide,index=0", "a disk needs file=");

    char *missing = g_build_filename(scratch, "missing.img", NULL);
    char *text = g_strdup_printf("file=%s,index=0", missing);
    assert_refused(text, missing);
    g_free(text);
    text = g_strdup_printf("file=%s,if=none,id=cd", scratch);
    assert_refused(text, "directory");
    g_free(text);
    g_free(missing);
#undef REFUSED_WITH_DISK
}

/* A device's side of the ops: records what it was told, refuses eject while locked. */
struct fake_device {
    bool locked;
    unsigned eject_requests;
    bool last_force;
    unsigned medium_changes;
    struct drive *drive;
    bool had_medium_at_change;
};

static bool fake_eject_request(void *opaque, bool force)
{
    struct fake_device *dev = opaque;
    dev->eject_requests++;
    dev->last_force = force;
    return !dev->locked || force;
}

static void fake_medium_changed(void *opaque)
{
    struct fake_device *dev = opaque;
    dev->medium_changes++;
    dev->had_medium_at_change = dev->drive->backend != NULL;
}

static void record_ret(void *opaque, int ret)
{
    *(int *)opaque = ret;
}

static const struct drive_device_ops cd_ops = {
    .eject_request = fake_eject_request,
    .medium_changed = fake_medium_changed,
};

/* A hard disk: not removable. */
static const struct drive_device_ops disk_ops = {.medium_changed = fake_medium_changed};

static void test_attach(void)
{
    GError *err = NULL;
    struct drive *d = drive_from("if=none,id=cd0,file=%s", &err, cd_iso);
    g_assert_no_error(err);
    struct fake_device a = {.drive = d}, b = {.drive = d};

    g_assert_true(drive_attach(d, &cd_ops, &a, &err));
    g_assert_no_error(err);
    g_assert_true(d->dev_ops == &cd_ops);
    g_assert_true(d->dev_opaque == &a);
    g_assert_false(drive_attach(d, &cd_ops, &b, &err));
    g_assert_nonnull(strstr(err->message, "'cd0' is already in use"));
    g_clear_error(&err);
    g_assert_true(d->dev_opaque == &a);
    drive_detach(d);
    g_assert_null(d->dev_ops);
    g_assert_true(drive_attach(d, &cd_ops, &b, &err));
    g_assert_true(d->dev_opaque == &b);

    /* A device without ops still holds the drive. */
    struct drive *d2 = drive_from("if=none,id=cd1", &err);
    g_assert_true(drive_attach(d2, NULL, NULL, &err));
    g_assert_false(drive_attach(d2, &cd_ops, &a, &err));
    g_clear_error(&err);
    g_assert_true(drive_eject(d2, false, &err));
    drive_free(d2);
    drive_free(d);
}

static void test_eject(void)
{
    GError *err = NULL;
    struct drive *d = drive_from("if=ide,index=2,media=cdrom,file=%s", &err, cd_iso);
    g_assert_no_error(err);
    struct fake_device dev = {.drive = d, .locked = true};
    g_assert_true(drive_attach(d, &cd_ops, &dev, &err));

    /* Locked: refused with QMP's text; the device heard the request; the medium stays. */
    g_assert_false(drive_eject(d, false, &err));
    g_assert_cmpstr(err->message, ==, "Device 'ide1-cd0' is locked and force was not "
                    "specified, wait for tray to open and try again");
    g_clear_error(&err);
    g_assert_cmpuint(dev.eject_requests, ==, 1);
    g_assert_false(dev.last_force);
    g_assert_nonnull(d->backend);
    g_assert_cmpuint(dev.medium_changes, ==, 0);

    /* A read in flight completes (its callback runs) before the medium goes. */
    guint8 buf[512];
    struct iovec iov = {buf, sizeof(buf)};
    int read_ret = 1;
    block_readv(d->backend, 0, &iov, 1, record_ret, &read_ret);
    g_assert_cmpint(read_ret, ==, 1);

    /* Forced: it goes, and the device is told. */
    g_assert_true(drive_eject(d, true, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(dev.eject_requests, ==, 2);
    g_assert_true(dev.last_force);
    g_assert_cmpint(read_ret, ==, 0);
    g_assert_null(d->backend);
    g_assert_cmpuint(dev.medium_changes, ==, 1);
    g_assert_false(dev.had_medium_at_change);

    /* An empty drive ejects without complaint and without a change. */
    dev.locked = false;
    g_assert_true(drive_eject(d, false, &err));
    g_assert_cmpuint(dev.medium_changes, ==, 1);
    drive_free(d);

    /* A hard disk is not removable. */
    d = drive_from("file=%s,index=0", &err, disk_img);
    struct fake_device disk = {.drive = d};
    g_assert_true(drive_attach(d, &disk_ops, &disk, &err));
    g_assert_false(drive_eject(d, true, &err));
    g_assert_cmpstr(err->message, ==, "Device 'ide0-hd0' is not removable");
    g_clear_error(&err);
    g_assert_nonnull(d->backend);
    g_assert_cmpuint(disk.medium_changes, ==, 0);
    drive_free(d);
}

static void test_change_medium(void)
{
    GError *err = NULL;
    struct drive *d = drive_from("if=none,id=cd,readonly=on", &err);
    g_assert_no_error(err);
    struct fake_device dev = {.drive = d};
    g_assert_true(drive_attach(d, &cd_ops, &dev, &err));

    /* Into an empty drive; asked read-write, a read-only drive opens it read-only. */
    struct block_open_options o = {
        .filename = cd_iso, .fd = -1, .read_only = false, .cache = BLOCK_CACHE_WRITEBACK};
    g_assert_true(drive_change_medium(d, &o, &err));
    g_assert_no_error(err);
    g_assert_nonnull(d->backend);
    g_assert_true(block_is_read_only(d->backend));
    g_assert_cmpuint(block_size(d->backend), ==, 64 * 1024);
    g_assert_cmpuint(dev.medium_changes, ==, 1);
    g_assert_true(dev.had_medium_at_change);

    /* A file that cannot be opened: the old medium stays, the device hears nothing. */
    char *missing = g_build_filename(scratch, "missing.iso", NULL);
    o.filename = missing;
    g_assert_false(drive_change_medium(d, &o, &err));
    g_assert_nonnull(strstr(err->message, missing));
    g_clear_error(&err);
    g_assert_cmpuint(block_size(d->backend), ==, 64 * 1024);
    g_assert_cmpuint(dev.eject_requests, ==, 1);
    g_assert_cmpuint(dev.medium_changes, ==, 1);

    /* Locked: refused, the new medium closed, the old one kept. */
    dev.locked = true;
    o.filename = cd2_iso;
    g_assert_false(drive_change_medium(d, &o, &err));
    g_assert_nonnull(strstr(err->message, "is locked"));
    g_clear_error(&err);
    g_assert_cmpuint(block_size(d->backend), ==, 64 * 1024);
    g_assert_cmpuint(dev.medium_changes, ==, 1);

    /* Unlocked: swapped. */
    dev.locked = false;
    g_assert_true(drive_change_medium(d, &o, &err));
    g_assert_cmpuint(block_size(d->backend), ==, 128 * 1024);
    g_assert_cmpuint(dev.medium_changes, ==, 2);
    g_assert_cmpstr(block_filename(d->backend), ==, cd2_iso);

    /* A hard disk's medium cannot change. */
    struct drive *hd = drive_from("file=%s,index=0", &err, disk_img);
    struct fake_device disk = {.drive = hd};
    g_assert_true(drive_attach(hd, &disk_ops, &disk, &err));
    g_assert_false(drive_change_medium(hd, &o, &err));
    g_assert_nonnull(strstr(err->message, "not removable"));
    g_clear_error(&err);
    g_assert_cmpuint(block_size(hd->backend), ==, 1024 * 1024);
    drive_free(hd);

    g_free(missing);
    drive_free(d);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    char *tmpl = g_build_filename(g_get_tmp_dir(), "test-drive-XXXXXX", NULL);
    scratch = g_mkdtemp(tmpl);
    g_assert_nonnull(scratch);
    disk_img = make_file("disk.img", 1024 * 1024);
    cd_iso = make_file("cd.iso", 64 * 1024);
    cd2_iso = make_file("cd2.iso", 128 * 1024);

    g_test_add_func("/drive/libxl-disk", test_libxl_disk);
    g_test_add_func("/drive/libxl-cdrom", test_libxl_cdrom);
    g_test_add_func("/drive/ide-names-and-positions", test_ide_names_and_positions);
    g_test_add_func("/drive/refusals", test_refusals);
    g_test_add_func("/drive/attach", test_attach);
    g_test_add_func("/drive/eject", test_eject);
    g_test_add_func("/drive/change-medium", test_change_medium);
    int ret = g_test_run();

    g_remove(disk_img);
    g_remove(cd_iso);
    g_remove(cd2_iso);
    g_rmdir(scratch);
    g_free(disk_img);
    g_free(cd_iso);
    g_free(cd2_iso);
    g_free(scratch);
    return ret;
}
