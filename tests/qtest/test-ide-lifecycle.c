/*
 * The PIIX3 IDE through a guest's life, against xendm and (suite qtest-qemu-xen) Debian's
 * qemu-xen where both behave alike:
 *   - a CD-ROM changed as `xl cd-eject` / `xl cd-insert` do it on libxl 4.17 (QMP eject, add-fd
 *     of the new image, blockdev-change-medium "/dev/fdset/N"), with the guest's tray lock,
 *     the unit attention the guest then sees, query-block and query-blockstats;
 *   - PV unplug through the platform device's port 0x10 (reference §6);
 *   - save and restore (xensim dm_save/dm_restore) in the middle of PIO transfers and with
 *     bus-master registers set;
 *   - the reset of an S3 resume in the middle of a transfer, and a reboot request;
 *   - `-device ide-hd` on an if=none drive, and two devices at one position;
 *   - a command written while DRQ is set;
 *   - data written by DMA and flushed survives a SIGKILL of the device model.
 */
#include "libqtest.h"
#include "qtest-pci.h"
#include "qtest-qmp.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CMD(...) g_free(qtest_cmd_ok(__VA_ARGS__))

#define IDE_DEVFN QPCI_DEVFN(1, 1)
#define PIIX4_PM QPCI_DEVFN(1, 3)
#define BMIBA 0xc000
#define PM_BASE 0xb000
#define PM1_CNT (PM_BASE + 4)
#define PM1_CNT_S3 ((1u << 10) | 0x2000) /* SLP_TYP 1 (hvmloader's _S3), SLP_EN */
#define PLATFORM_FIXED 0x10

#define PRI 0x1f0
#define SEC 0x170
#define REG_DATA 0
#define REG_ERROR 1
#define REG_FEATURE 1
#define REG_NSECTOR 2
#define REG_SECTOR 3
#define REG_LCYL 4
#define REG_HCYL 5
#define REG_DEVICE 6
#define REG_STATUS 7
/* The control block: 0x3f6 for 0x1f0, 0x376 for 0x170. */
#define CTL(base) ((base) + 0x206)
#define BM(base) (BMIBA + ((base) == PRI ? 0 : 8))

#define ST_ERR 0x01
#define ST_DRQ 0x08
#define ST_DRDY 0x40
#define ST_BSY 0x80

#define SECTOR 512u
#define CD_SECTOR 2048u
#define DISK_SECTORS 2048u
#define BUF_GPA 0x200000u
#define PRD_GPA 0x100000u

static struct qtest *qt;

/* ---- images ---- */

static uint8_t disk_byte(unsigned seed, uint64_t sector, unsigned i)
{
    return (uint8_t)(seed * 101 + sector * 31 + i * 7 + (i >> 8));
}

static char *make_disk(const char *name, unsigned seed)
{
    char *path = qtest_tmp_path(name);
    g_autofree uint8_t *data = g_malloc((size_t)DISK_SECTORS * SECTOR);

    for (uint64_t s = 0; s < DISK_SECTORS; s++) {
        for (unsigned i = 0; i < SECTOR; i++) {
            data[s * SECTOR + i] = disk_byte(seed, s, i);
        }
    }
    g_assert_true(g_file_set_contents(path, (char *)data, (gssize)DISK_SECTORS * SECTOR, NULL));
    return path;
}

static uint8_t iso_byte(unsigned seed, uint32_t sector, unsigned i)
{
    return (uint8_t)(seed * 57 + sector * 3 + i * 11);
}

static char *make_iso(const char *name, unsigned seed, uint32_t sectors)
{
    char *path = qtest_tmp_path(name);
    g_autofree uint8_t *data = g_malloc((size_t)sectors * CD_SECTOR);

    for (uint32_t s = 0; s < sectors; s++) {
        for (unsigned i = 0; i < CD_SECTOR; i++) {
            data[(size_t)s * CD_SECTOR + i] = iso_byte(seed, s, i);
        }
    }
    g_assert_true(g_file_set_contents(path, (char *)data, (gssize)sectors * CD_SECTOR, NULL));
    return path;
}

static void file_read(const char *path, uint64_t offset, void *buf, size_t len)
{
    int fd = open(path, O_RDONLY);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pread(fd, buf, len, (off_t)offset), ==, (ssize_t)len);
    close(fd);
}

/* ---- the machine ---- */

struct machine {
    struct qtest *qt;
    struct qmp *qmp;
};

/* What hvmloader leaves: IDE decode on in IDETIM, BAR4 placed, I/O and bus master on. */
static void enable_controller(struct qtest *q)
{
    qpci_write(q, IDE_DEVFN, 0x40, 0x8000, 2);
    qpci_write(q, IDE_DEVFN, 0x42, 0x8000, 2);
    qpci_write(q, IDE_DEVFN, 0x20, BMIBA | 1, 4);
    qpci_write(q, IDE_DEVFN, 0x04, 0x0005, 2);
}

/* xensim + the device model with `dm_args`, a QMP socket of the test's own, the controller on. */
static void machine_start(struct machine *mc, const char *dm_args)
{
    g_autofree char *qmp_path = qtest_tmp_path("qmp-test.sock");
    g_autofree char *args = g_strdup_printf(
        "-chardev socket,id=test-qmp,path=%s,server=on,wait=off "
        "-mon chardev=test-qmp,mode=control %s %s", qmp_path, dm_args,
        g_getenv("IDELIFE_TRACE") ? g_getenv("IDELIFE_TRACE") : "");

    unlink(qmp_path);
    mc->qt = qt = qtest_start("--serial null", args);
    mc->qmp = qmp_open(qmp_path);
    qmp_call_ok(mc->qmp, "{\"execute\":\"qmp_capabilities\"}");
    enable_controller(qt);
}

static void machine_stop(struct machine *mc)
{
    qmp_close(mc->qmp);
    g_assert_cmpint(qtest_quit(mc->qt), ==, 0);
    qt = NULL;
}

/* ---- task file ---- */

static uint8_t wait_not_busy(uint16_t base)
{
    for (int i = 0; i < 5000; i++) {
        uint8_t st = qtest_inb(qt, CTL(base));
        if (!(st & ST_BSY)) {
            return st;
        }
        g_usleep(1000);
    }
    g_assert_not_reached();
}

static void select_lba28(uint16_t base, unsigned unit, uint64_t lba, uint8_t count)
{
    qtest_outb(qt, base + REG_DEVICE, (uint8_t)(0xe0 | unit << 4 | ((lba >> 24) & 0x0f)));
    qtest_outb(qt, base + REG_NSECTOR, count);
    qtest_outb(qt, base + REG_SECTOR, (uint8_t)lba);
    qtest_outb(qt, base + REG_LCYL, (uint8_t)(lba >> 8));
    qtest_outb(qt, base + REG_HCYL, (uint8_t)(lba >> 16));
}

/* A REP INS/OUTS stays inside one page of guest memory, as Xen's emulator splits them. */
#define PIO_CHUNK_WORDS 2048u

/* Reads `words` 16-bit words from the data port into out (REP INSW through guest RAM). */
static void pio_in(uint16_t base, uint8_t *out, unsigned words)
{
    for (unsigned done = 0; done < words;) {
        unsigned n = MIN(words - done, PIO_CHUNK_WORDS);
        CMD(qt, "ins 2 0x%x 0x%x %u", base + REG_DATA, BUF_GPA, n);
        qtest_memread(qt, BUF_GPA, out + done * 2u, n * 2u);
        done += n;
    }
}

static void pio_out(uint16_t base, const uint8_t *data, unsigned words)
{
    for (unsigned done = 0; done < words;) {
        unsigned n = MIN(words - done, PIO_CHUNK_WORDS);
        qtest_memwrite(qt, BUF_GPA, data + done * 2u, n * 2u);
        CMD(qt, "outs 2 0x%x 0x%x %u", base + REG_DATA, BUF_GPA, n);
        done += n;
    }
}

/* IDENTIFY DEVICE on `unit`: true and the serial number when the drive answers with data. */
static bool identify(uint16_t base, unsigned unit, char serial[21])
{
    uint16_t w[256];
    uint8_t st;

    qtest_outb(qt, base + REG_DEVICE, (uint8_t)(0xa0 | unit << 4));
    qtest_outb(qt, base + REG_STATUS, 0xec);
    st = wait_not_busy(base);
    if ((st & (ST_DRQ | ST_ERR)) != ST_DRQ) {
        return false;
    }
    pio_in(base, (uint8_t *)w, 256);
    for (unsigned i = 0; i < 10; i++) {
        serial[2 * i] = (char)(w[10 + i] >> 8);
        serial[2 * i + 1] = (char)w[10 + i];
    }
    serial[20] = '\0';
    g_strchomp(serial);
    g_assert_cmphex(wait_not_busy(base) & ST_DRQ, ==, 0);
    return true;
}

static void check_disk_sectors(const char *path, uint64_t lba, const uint8_t *got, unsigned n)
{
    g_autofree uint8_t *want = g_malloc((size_t)n * SECTOR);

    file_read(path, lba * SECTOR, want, (size_t)n * SECTOR);
    g_assert_cmpmem(got, (size_t)n * SECTOR, want, (size_t)n * SECTOR);
}

/* ---- ATAPI ---- */

struct packet_result {
    uint8_t status, error;
    size_t len;
};

/* One packet command by PIO on the secondary master; the reply (if any) into out. */
static struct packet_result packet(const uint8_t cdb[12], uint8_t *out, size_t max)
{
    struct packet_result r = {0};
    uint8_t st;

    qtest_outb(qt, SEC + REG_DEVICE, 0xa0);
    qtest_outb(qt, SEC + REG_FEATURE, 0);
    qtest_outb(qt, SEC + REG_LCYL, 0xfe);
    qtest_outb(qt, SEC + REG_HCYL, 0xff);
    qtest_outb(qt, SEC + REG_STATUS, 0xa0);
    g_assert_cmphex(wait_not_busy(SEC) & ST_DRQ, ==, ST_DRQ);
    for (unsigned i = 0; i < 12; i += 2) {
        qtest_outw(qt, SEC + REG_DATA, (uint16_t)(cdb[i] | cdb[i + 1] << 8));
    }
    while ((st = wait_not_busy(SEC)) & ST_DRQ) {
        unsigned n = qtest_inb(qt, SEC + REG_LCYL) | qtest_inb(qt, SEC + REG_HCYL) << 8;
        g_assert_cmpuint(r.len + n, <=, max);
        g_assert_cmpuint(n, <=, 0x10000);
        {
            g_autofree uint8_t *tmp = g_malloc(n + 1);
            pio_in(SEC, tmp, (n + 1) / 2);
            memcpy(out + r.len, tmp, n);
        }
        r.len += n;
    }
    r.status = st;
    r.error = qtest_inb(qt, SEC + REG_ERROR);
    qtest_inb(qt, SEC + REG_STATUS); /* acknowledge the interrupt */
    return r;
}

/* TEST UNIT READY: 0 for GOOD, else (sense key << 16 | asc << 8 | ascq) from REQUEST SENSE. */
static uint32_t unit_ready(void)
{
    static const uint8_t tur[12] = {0x00};
    static const uint8_t request_sense[12] = {0x03, 0, 0, 0, 18};
    uint8_t sense[18];
    struct packet_result r = packet(tur, NULL, 0);

    if (!(r.status & ST_ERR)) {
        return 0;
    }
    /* The sense key is also in the error register's high nibble (ATAPI). */
    r = packet(request_sense, sense, sizeof(sense));
    g_assert_cmphex(r.status & ST_ERR, ==, 0);
    g_assert_cmpuint(r.len, ==, 18);
    return (uint32_t)(sense[2] & 0x0f) << 16 | (uint32_t)sense[12] << 8 | sense[13];
}

static void prevent_removal(bool prevent)
{
    const uint8_t cdb[12] = {0x1e, 0, 0, 0, prevent ? 1 : 0};

    g_assert_cmphex(packet(cdb, NULL, 0).status & ST_ERR, ==, 0);
}

static uint32_t read_capacity_last_lba(void)
{
    static const uint8_t cdb[12] = {0x25};
    uint8_t reply[8];
    struct packet_result r = packet(cdb, reply, sizeof(reply));

    g_assert_cmphex(r.status & ST_ERR, ==, 0);
    g_assert_cmpuint(r.len, ==, 8);
    g_assert_cmpuint((uint32_t)reply[4] << 24 | reply[5] << 16 | reply[6] << 8 | reply[7], ==,
                     CD_SECTOR);
    return (uint32_t)reply[0] << 24 | reply[1] << 16 | reply[2] << 8 | reply[3];
}

static void check_cd_read(unsigned seed, uint32_t lba, unsigned count)
{
    const uint8_t cdb[12] = {0x28, 0, (uint8_t)(lba >> 24), (uint8_t)(lba >> 16),
                             (uint8_t)(lba >> 8), (uint8_t)lba, 0, 0, (uint8_t)count};
    g_autofree uint8_t *buf = g_malloc((size_t)count * CD_SECTOR);
    struct packet_result r = packet(cdb, buf, (size_t)count * CD_SECTOR);

    g_assert_cmphex(r.status & ST_ERR, ==, 0);
    g_assert_cmpuint(r.len, ==, (size_t)count * CD_SECTOR);
    for (unsigned s = 0; s < count; s++) {
        for (unsigned i = 0; i < CD_SECTOR; i++) {
            if (buf[s * CD_SECTOR + i] != iso_byte(seed, lba + s, i)) {
                g_error("CD sector %u byte %u: 0x%02x, want 0x%02x (seed %u)", lba + s, i,
                        buf[s * CD_SECTOR + i], iso_byte(seed, lba + s, i), seed);
            }
        }
    }
}

/* TEST UNIT READY until GOOD; returns how many UNIT ATTENTION 28/00 came on the way. */
static unsigned unit_attentions_until_ready(void)
{
    unsigned attentions = 0;

    for (int i = 0; i < 5; i++) {
        uint32_t sense = unit_ready();
        if (sense == 0) {
            return attentions;
        }
        if (sense == 0x062800) {
            attentions++;
        } else {
            /* qemu-xen reports a changed disc as NOT READY 3A/00 first, then the UA. */
            g_assert_false(qtest_dm_is_xendm());
            g_assert_cmphex(sense, ==, 0x023a00);
        }
    }
    g_assert_not_reached();
}

/* ---- QMP ---- */

static int64_t json_int_after(const char *json, const char *key)
{
    g_autofree char *needle = g_strdup_printf("\"%s\":", key);
    const char *p = strstr(json, needle);

    g_assert_nonnull(p);
    return g_ascii_strtoll(p + strlen(needle), NULL, 10);
}

/* The entry of `device` in a query-block or query-blockstats reply, as one object's text. */
static char *device_entry(const char *reply, const char *device)
{
    g_autofree char *needle = g_strdup_printf("\"device\":\"%s\"", device);
    const char *at = strstr(reply, needle);
    size_t start, end;
    int depth = 0;

    if (at == NULL) {
        g_error("no entry for %s in %s", device, reply);
    }
    /* Back to the opening brace of this entry, then forward to its match. */
    for (start = (size_t)(at - reply); start > 0 && reply[start] != '{'; start--) {
    }
    for (end = start; reply[end] != '\0'; end++) {
        depth += reply[end] == '{' ? 1 : reply[end] == '}' ? -1 : 0;
        if (depth == 0) {
            break;
        }
    }
    return g_strndup(reply + start, end - start + 1);
}

static char *block_entry(struct qmp *q, const char *device)
{
    g_autofree char *reply = qmp_call(q, "{\"execute\":\"query-block\"}");

    return device_entry(reply, device);
}

/*
 * The device's own rd_bytes: the "stats" member of its entry, not those of the "parent"
 * node that qemu-xen lists beside them.
 */
static int64_t blockstats_rd_bytes(struct qmp *q, const char *device)
{
    g_autofree char *reply = qmp_call(q, "{\"execute\":\"query-blockstats\"}");
    g_autofree char *entry = device_entry(reply, device);
    int depth = 0;

    for (size_t i = 0; entry[i] != '\0'; i++) {
        depth += entry[i] == '{' ? 1 : entry[i] == '}' ? -1 : 0;
        if (depth == 1 && g_str_has_prefix(entry + i, "\"stats\":")) {
            return json_int_after(entry + i, "rd_bytes");
        }
    }
    g_error("no stats for %s in %s", device, entry);
}

/* ---- 1. CD-ROM media change as xl cd-eject / cd-insert ---- */

#define CD_ID "ide-5632"

static void test_cd_change(void)
{
    g_autofree char *iso1 = make_iso("first.iso", 1, 300);
    g_autofree char *iso2 = make_iso("second.iso", 2, 500);
    g_autofree char *args = g_strdup_printf(
        "-drive if=none,readonly=on,id=" CD_ID ",file=%s "
        "-device ide-cd,id=" CD_ID ",drive=" CD_ID ",bus=ide.1,unit=0", iso1);
    g_autofree char *entry = NULL, *reply = NULL, *change = NULL;
    struct machine mc;
    int64_t fdset, rd_before;
    int fd;

    machine_start(&mc, args);
    unit_attentions_until_ready();
    g_assert_cmpuint(read_capacity_last_lba(), ==, 299);
    check_cd_read(1, 17, 1);

    /* The guest locks the tray: eject without force is refused, the medium stays. */
    prevent_removal(true);
    entry = block_entry(mc.qmp, CD_ID);
    g_assert_nonnull(strstr(entry, "\"locked\":true"));
    g_assert_nonnull(strstr(entry, "\"tray_open\":false"));
    g_assert_nonnull(strstr(entry, "\"inserted\":"));
    g_clear_pointer(&entry, g_free);
    qmp_call_fails(mc.qmp, "{\"execute\":\"eject\",\"arguments\":{\"id\":\"" CD_ID "\"}}",
                   "Device '" CD_ID "' is locked and force was not specified, "
                   "wait for tray to open and try again");
    g_assert_cmphex(unit_ready(), ==, 0);
    check_cd_read(1, 40, 2);

    /* With force the medium goes whatever the guest said. */
    qmp_call_ok(mc.qmp,
                "{\"execute\":\"eject\",\"arguments\":{\"id\":\"" CD_ID "\",\"force\":true}}");
    entry = block_entry(mc.qmp, CD_ID);
    g_assert_nonnull(strstr(entry, "\"locked\":false"));
    g_assert_nonnull(strstr(entry, "\"tray_open\":true"));
    g_assert_null(strstr(entry, "\"inserted\":"));
    g_clear_pointer(&entry, g_free);
    g_assert_cmphex(unit_ready() & 0xffff00, ==, 0x023a00); /* NOT READY, medium not present */

    /* libxl's cd-insert: add-fd of the image, then blockdev-change-medium on the fd set. */
    fd = open(iso2, O_RDONLY);
    g_assert_cmpint(fd, >=, 0);
    reply = qmp_call_fd(mc.qmp, fd, "{\"execute\":\"add-fd\"}");
    close(fd);
    fdset = json_int_after(reply, "fdset-id");
    change = g_strdup_printf("{\"execute\":\"blockdev-change-medium\",\"arguments\":{"
                             "\"id\":\"" CD_ID "\",\"filename\":\"/dev/fdset/%" G_GINT64_FORMAT
                             "\",\"format\":\"raw\"}}", fdset);
    qmp_call_ok(mc.qmp, change);
    entry = block_entry(mc.qmp, CD_ID);
    g_assert_nonnull(strstr(entry, "\"tray_open\":false"));
    g_assert_nonnull(strstr(entry, "\"virtual-size\":1024000"));
    g_clear_pointer(&entry, g_free);

    /* The guest notices the new disc once, then sees its size and its data. */
    g_assert_cmpuint(unit_attentions_until_ready(), ==, 1);
    g_assert_cmphex(unit_ready(), ==, 0);
    g_assert_cmpuint(read_capacity_last_lba(), ==, 499);
    rd_before = blockstats_rd_bytes(mc.qmp, CD_ID);
    check_cd_read(2, 450, 3);
    g_assert_cmpint(blockstats_rd_bytes(mc.qmp, CD_ID) - rd_before, ==, 3 * CD_SECTOR);

    /* The lock is the guest's again: locked shows in query-block. */
    prevent_removal(true);
    entry = block_entry(mc.qmp, CD_ID);
    g_assert_nonnull(strstr(entry, "\"locked\":true"));
    g_clear_pointer(&entry, g_free);
    prevent_removal(false);
    /* xl cd-eject on an unlocked tray: no force needed. */
    qmp_call_ok(mc.qmp, "{\"execute\":\"eject\",\"arguments\":{\"id\":\"" CD_ID "\"}}");
    g_assert_cmphex(unit_ready() & 0xff0000, ==, 0x020000);
    machine_stop(&mc);
}

/* ---- 2. PV unplug ---- */

static void unplug_case(uint16_t mask)
{
    g_autofree char *d0 = make_disk("pv0.img", 10);
    g_autofree char *d1 = make_disk("pv1.img", 11);
    g_autofree char *iso = make_iso("pv.iso", 3, 64);
    g_autofree char *args = g_strdup_printf(
        "-drive file=%s,if=ide,index=0,media=disk,format=raw "
        "-drive file=%s,if=ide,index=1,media=disk,format=raw "
        "-drive file=%s,if=ide,index=2,media=cdrom", d0, d1, iso);
    bool master_stays = mask == 4;
    char serial[21];
    struct machine mc;

    machine_start(&mc, args);
    g_assert_true(identify(PRI, 0, serial));
    g_assert_cmpstr(serial, ==, "QM00001");
    g_assert_true(identify(PRI, 1, serial));
    g_assert_cmpstr(serial, ==, "QM00002");

    g_assert_cmphex(qtest_inw(qt, PLATFORM_FIXED), ==, 0x49d2); /* the PV driver's probe */
    qtest_outw(qt, PLATFORM_FIXED, mask);

    /* The slave disk is gone either way: status 00h, commands to it go nowhere. */
    qtest_outb(qt, PRI + REG_DEVICE, 0xb0);
    g_assert_cmphex(qtest_inb(qt, PRI + REG_STATUS), ==, 0);
    g_assert_false(identify(PRI, 1, serial));
    if (master_stays) {
        uint8_t got[SECTOR];
        g_assert_true(identify(PRI, 0, serial));
        g_assert_cmpstr(serial, ==, "QM00001");
        select_lba28(PRI, 0, 77, 1);
        qtest_outb(qt, PRI + REG_STATUS, 0x20);
        g_assert_cmphex(wait_not_busy(PRI) & (ST_DRQ | ST_ERR), ==, ST_DRQ);
        pio_in(PRI, got, SECTOR / 2);
        check_disk_sectors(d0, 77, got, 1);
    } else {
        /* No disk left on the channel: everything reads 00h (an empty channel). */
        qtest_outb(qt, PRI + REG_DEVICE, 0xa0);
        g_assert_cmphex(qtest_inb(qt, PRI + REG_STATUS), ==, 0);
        g_assert_cmphex(qtest_inb(qt, CTL(PRI)), ==, 0);
        g_assert_false(identify(PRI, 0, serial));
    }
    /* The CD-ROM stays and reads. */
    unit_attentions_until_ready();
    check_cd_read(3, 5, 2);
    machine_stop(&mc);
}

static void test_unplug_all_disks(void)
{
    unplug_case(1);
}

static void test_unplug_aux_disks(void)
{
    unplug_case(4);
}

/* ---- 3. save and restore mid-transfer ---- */

static void restore_roundtrip(const char *tag)
{
    g_autofree char *state = qtest_tmp_path(tag);
    g_autofree char *status = NULL;

    CMD(qt, "dm_save %s", state);
    CMD(qt, "dm_restore %s", state);
    status = qtest_dm_status(qt);
    g_assert_cmpstr(status, ==, "running");
}

static void test_save_mid_read_multiple(void)
{
    g_autofree char *disk = make_disk("sr-read.img", 20);
    g_autofree char *args = g_strdup_printf("-drive file=%s,if=ide,index=0,media=disk,"
                                            "format=raw", disk);
    uint8_t got[12 * SECTOR];

    qt = qtest_start("--serial null", args);
    enable_controller(qt);
    qtest_outb(qt, PRI + REG_DEVICE, 0xa0);
    qtest_outb(qt, PRI + REG_NSECTOR, 4);
    qtest_outb(qt, PRI + REG_STATUS, 0xc6); /* SET MULTIPLE MODE 4 */
    g_assert_cmphex(wait_not_busy(PRI) & ST_ERR, ==, 0);
    select_lba28(PRI, 0, 100, 12);
    qtest_outb(qt, PRI + REG_STATUS, 0xc4); /* READ MULTIPLE: 3 blocks of 4 */
    g_assert_cmphex(wait_not_busy(PRI) & ST_DRQ, ==, ST_DRQ);
    pio_in(PRI, got, 4 * SECTOR / 2);
    g_assert_cmphex(wait_not_busy(PRI) & ST_DRQ, ==, ST_DRQ);
    /* The second block half read: one and a half sectors of it. */
    pio_in(PRI, got + 4 * SECTOR, 3 * SECTOR / 4);
    restore_roundtrip("state-read");
    /* The new device model goes on where the old one stopped. */
    g_assert_cmphex(wait_not_busy(PRI) & (ST_DRQ | ST_ERR), ==, ST_DRQ);
    pio_in(PRI, got + 4 * SECTOR + 3 * SECTOR / 2, 5 * SECTOR / 4);
    g_assert_cmphex(wait_not_busy(PRI) & ST_DRQ, ==, ST_DRQ);
    pio_in(PRI, got + 8 * SECTOR, 4 * SECTOR / 2);
    g_assert_cmphex(wait_not_busy(PRI) & (ST_DRQ | ST_ERR), ==, 0);
    check_disk_sectors(disk, 100, got, 12);
    /* The multiple setting came along too. */
    select_lba28(PRI, 0, 200, 4);
    qtest_outb(qt, PRI + REG_STATUS, 0xc4);
    g_assert_cmphex(wait_not_busy(PRI) & ST_DRQ, ==, ST_DRQ);
    pio_in(PRI, got, 4 * SECTOR / 2);
    g_assert_cmphex(wait_not_busy(PRI) & (ST_DRQ | ST_ERR), ==, 0);
    check_disk_sectors(disk, 200, got, 4);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void test_save_mid_write(void)
{
    g_autofree char *disk = make_disk("sr-write.img", 21);
    g_autofree char *args = g_strdup_printf("-drive file=%s,if=ide,index=0,media=disk,"
                                            "format=raw", disk);
    uint8_t data[3 * SECTOR], back[3 * SECTOR];

    for (unsigned i = 0; i < sizeof(data); i++) {
        data[i] = (uint8_t)(0x5a ^ (i * 3));
    }
    qt = qtest_start("--serial null", args);
    enable_controller(qt);
    select_lba28(PRI, 0, 300, 3);
    qtest_outb(qt, PRI + REG_STATUS, 0x30); /* WRITE SECTORS */
    g_assert_cmphex(wait_not_busy(PRI) & (ST_DRQ | ST_ERR), ==, ST_DRQ);
    pio_out(PRI, data, SECTOR / 2);
    g_assert_cmphex(wait_not_busy(PRI) & (ST_DRQ | ST_ERR), ==, ST_DRQ);
    pio_out(PRI, data + SECTOR, SECTOR / 4); /* half of the second sector */
    restore_roundtrip("state-write");
    g_assert_cmphex(wait_not_busy(PRI) & (ST_DRQ | ST_ERR), ==, ST_DRQ);
    pio_out(PRI, data + SECTOR + SECTOR / 2, SECTOR / 4);
    g_assert_cmphex(wait_not_busy(PRI) & (ST_DRQ | ST_ERR), ==, ST_DRQ);
    pio_out(PRI, data + 2 * SECTOR, SECTOR / 2);
    g_assert_cmphex(wait_not_busy(PRI) & (ST_DRQ | ST_ERR), ==, 0);
    file_read(disk, 300 * SECTOR, back, sizeof(back));
    g_assert_cmpmem(back, sizeof(back), data, sizeof(data));
    /* The sectors around it are untouched. */
    file_read(disk, 299 * SECTOR, back, SECTOR);
    check_disk_sectors(disk, 299, back, 1);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void write_prd(unsigned index, uint32_t addr, uint32_t count, bool eot)
{
    uint32_t e[2] = {addr, (count & 0xffff) | (eot ? 0x80000000u : 0)};

    qtest_memwrite(qt, PRD_GPA + index * 8, e, sizeof(e));
}

static uint8_t bm_wait_intr(uint16_t base)
{
    for (int i = 0; i < 5000; i++) {
        uint8_t st = qtest_inb(qt, BM(base) + 2);
        if (st & 0x04) {
            return st;
        }
        g_usleep(1000);
    }
    g_assert_not_reached();
}

/*
 * Bus-master state across a save: a READ DMA issued but the engine not yet started (the
 * drive waits with DRQ), the PRD pointer and the software-owned DMA-capable bits; the new
 * device model moves the data when the guest starts the engine. Then a finished transfer
 * with a longer PRD table (INTR and ACTIVE set, START still on) saved and restored as it is.
 */
static void test_save_dma_state(void)
{
    g_autofree char *disk = make_disk("sr-dma.img", 22);
    g_autofree char *args = g_strdup_printf("-drive file=%s,if=ide,index=0,media=disk,"
                                            "format=raw", disk);
    uint8_t got[4 * SECTOR];

    qt = qtest_start("--serial null", args);
    enable_controller(qt);
    CMD(qt, "memset 0x%x %u 0", BUF_GPA, 8 * SECTOR);
    write_prd(0, BUF_GPA, 2 * SECTOR, false);
    write_prd(1, BUF_GPA + 0x1000, 2 * SECTOR, true);
    qtest_outb(qt, BM(PRI) + 2, 0x66); /* both drives DMA capable; clear INTR, ERR */
    qtest_outl(qt, BM(PRI) + 4, PRD_GPA);
    select_lba28(PRI, 0, 500, 4);
    qtest_outb(qt, PRI + REG_STATUS, 0xc8); /* READ DMA, engine still stopped */
    g_assert_cmphex(qtest_inb(qt, BM(PRI) + 2) & 0x07, ==, 0);
    restore_roundtrip("state-dma");
    g_assert_cmphex(qtest_inb(qt, BM(PRI) + 2), ==, 0x60);
    g_assert_cmphex(qtest_inl(qt, BM(PRI) + 4), ==, PRD_GPA);
    qtest_outb(qt, BM(PRI), 0x09); /* start, to memory */
    g_assert_cmphex(bm_wait_intr(PRI) & 0x07, ==, 0x04);
    g_assert_cmphex(wait_not_busy(PRI) & (ST_ERR | ST_DRQ), ==, 0);
    qtest_inb(qt, PRI + REG_STATUS);
    qtest_outb(qt, BM(PRI), 0x08);
    qtest_memread(qt, BUF_GPA, got, 2 * SECTOR);
    qtest_memread(qt, BUF_GPA + 0x1000, got + 2 * SECTOR, 2 * SECTOR);
    check_disk_sectors(disk, 500, got, 4);

    /* A transfer shorter than the table: INTR with ACTIVE still set, saved as it is. */
    write_prd(0, BUF_GPA, 4 * SECTOR, true);
    qtest_outb(qt, BM(PRI) + 2, 0x66);
    select_lba28(PRI, 0, 600, 1);
    qtest_outb(qt, PRI + REG_STATUS, 0xc8);
    qtest_outb(qt, BM(PRI), 0x09);
    g_assert_cmphex(bm_wait_intr(PRI), ==, 0x65);
    restore_roundtrip("state-dma2");
    g_assert_cmphex(qtest_inb(qt, BM(PRI)), ==, 0x09);
    g_assert_cmphex(qtest_inb(qt, BM(PRI) + 2), ==, 0x65);
    g_assert_cmphex(qtest_inb(qt, CTL(PRI)) & (ST_BSY | ST_DRQ | ST_ERR), ==, 0);
    qtest_memread(qt, BUF_GPA, got, SECTOR);
    check_disk_sectors(disk, 600, got, 1);
    /* The guest goes on: stop, acknowledge, a new transfer works. */
    qtest_outb(qt, BM(PRI), 0x08);
    qtest_inb(qt, PRI + REG_STATUS);
    qtest_outb(qt, BM(PRI) + 2, 0x06);
    write_prd(0, BUF_GPA, 2 * SECTOR, true);
    select_lba28(PRI, 0, 700, 2);
    qtest_outb(qt, PRI + REG_STATUS, 0xc8);
    qtest_outb(qt, BM(PRI), 0x09);
    g_assert_cmphex(bm_wait_intr(PRI) & 0x07, ==, 0x04);
    qtest_outb(qt, BM(PRI), 0x08);
    qtest_memread(qt, BUF_GPA, got, 2 * SECTOR);
    check_disk_sectors(disk, 700, got, 2);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* ---- 4. reset mid-transfer ---- */

static void expect_s_state(const char *want)
{
    char *value = NULL;

    /* qemu-xen acts on a sleep request from its main loop, a moment after the write. */
    for (int tries = 0; tries < 200; tries++) {
        g_free(value);
        value = qtest_cmd_ok(qt, "hvm_param 14");
        if (strcmp(value, want) == 0) {
            break;
        }
        g_usleep(10000);
    }
    g_assert_cmpstr(value, ==, want);
    g_free(value);
}

/*
 * The reset of an S3 resume (the firmware's resume path starts from reset state, on xendm as
 * on qemu-xen) while a PIO read and an ATAPI reply are half transferred: the drives come back
 * with their signatures and no DRQ, the controller's configuration with its reset values,
 * and both drives serve again once the guest set the controller up.
 */
static void test_reset_mid_transfer(void)
{
    g_autofree char *disk = make_disk("reset.img", 30);
    g_autofree char *iso = make_iso("reset.iso", 4, 64);
    g_autofree char *args = g_strdup_printf(
        "-drive file=%s,if=ide,index=0,media=disk,format=raw "
        "-drive file=%s,if=ide,index=2,media=cdrom", disk, iso);
    static const uint8_t read10[12] = {0x28, 0, 0, 0, 0, 9, 0, 0, 4};
    uint8_t got[4 * SECTOR];
    char serial[21];
    struct machine mc;

    machine_start(&mc, args);
    unit_attentions_until_ready();
    qpci_write(qt, PIIX4_PM, 0x40, PM_BASE | 1, 4);
    qpci_write(qt, PIIX4_PM, 0x80, 0x01, 1);

    /* The CD-ROM in the middle of a READ(10) reply. */
    qtest_outb(qt, SEC + REG_DEVICE, 0xa0);
    qtest_outb(qt, SEC + REG_FEATURE, 0);
    qtest_outb(qt, SEC + REG_LCYL, 0x00);
    qtest_outb(qt, SEC + REG_HCYL, 0x08);
    qtest_outb(qt, SEC + REG_STATUS, 0xa0);
    g_assert_cmphex(wait_not_busy(SEC) & ST_DRQ, ==, ST_DRQ);
    for (unsigned i = 0; i < 12; i += 2) {
        qtest_outw(qt, SEC + REG_DATA, (uint16_t)(read10[i] | read10[i + 1] << 8));
    }
    g_assert_cmphex(wait_not_busy(SEC) & ST_DRQ, ==, ST_DRQ);
    pio_in(SEC, got, 100);
    /* The disk in the middle of a 200-sector read. */
    select_lba28(PRI, 0, 10, 200);
    qtest_outb(qt, PRI + REG_STATUS, 0x20);
    g_assert_cmphex(wait_not_busy(PRI) & ST_DRQ, ==, ST_DRQ);
    pio_in(PRI, got, SECTOR / 2);
    g_assert_cmphex(wait_not_busy(PRI) & ST_DRQ, ==, ST_DRQ);
    pio_in(PRI, got, 17);

    qtest_outw(qt, PM1_CNT, PM1_CNT_S3);
    expect_s_state("0x3");
    qmp_call_ok(mc.qmp, "{\"execute\":\"system_wakeup\"}");
    expect_s_state("0x0");

    /*
     * The function's configuration is back at its reset values (datasheet §2.4.10: IDETIM
     * 0000h), so nothing decodes until the firmware sets it up again. qemu-xen's PIIX3 IDE
     * reset leaves IDETIM as it was (and decodes the ports regardless).
     */
    if (qtest_dm_is_xendm()) {
        g_assert_cmphex(qpci_read(qt, IDE_DEVFN, 0x40, 4), ==, 0);
        g_assert_cmphex(qtest_inb(qt, PRI + REG_STATUS), ==, 0xff);
    }
    enable_controller(qt);
    qtest_outb(qt, PRI + REG_DEVICE, 0xa0);
    g_assert_cmphex(wait_not_busy(PRI) & (ST_DRQ | ST_ERR | ST_DRDY), ==, ST_DRDY);
    g_assert_cmphex(qtest_inb(qt, PRI + REG_NSECTOR), ==, 1);
    g_assert_cmphex(qtest_inb(qt, PRI + REG_SECTOR), ==, 1);
    g_assert_cmphex(qtest_inb(qt, PRI + REG_LCYL), ==, 0);
    g_assert_cmphex(qtest_inb(qt, PRI + REG_HCYL), ==, 0);
    g_assert_cmphex(qtest_inw(qt, PRI + REG_DATA), ==, 0); /* no transfer goes on */
    g_assert_cmphex(qtest_inb(qt, CTL(PRI)) & ST_DRQ, ==, 0);
    g_assert_cmphex(wait_not_busy(SEC) & (ST_DRQ | ST_ERR), ==, 0);
    g_assert_cmphex(qtest_inb(qt, SEC + REG_LCYL), ==, 0x14);
    g_assert_cmphex(qtest_inb(qt, SEC + REG_HCYL), ==, 0xeb);
    g_assert_cmphex(qtest_inb(qt, BM(PRI) + 2) & 0x07, ==, 0);

    /* Both drives serve again. */
    g_assert_true(identify(PRI, 0, serial));
    g_assert_cmpstr(serial, ==, "QM00001");
    select_lba28(PRI, 0, 33, 2);
    qtest_outb(qt, PRI + REG_STATUS, 0x20);
    for (unsigned s = 0; s < 2; s++) {
        g_assert_cmphex(wait_not_busy(PRI) & (ST_DRQ | ST_ERR), ==, ST_DRQ);
        pio_in(PRI, got + s * SECTOR, SECTOR / 2);
    }
    check_disk_sectors(disk, 33, got, 2);
    unit_attentions_until_ready();
    check_cd_read(4, 20, 1);
    machine_stop(&mc);
}

/*
 * A reboot request (0xCF9) in the middle of a transfer: on Xen the toolstack rebuilds the
 * domain with a new device model; until then the old one answers every access.
 */
static void test_reboot_request_mid_transfer(void)
{
    g_autofree char *disk = make_disk("reboot.img", 31);
    g_autofree char *args = g_strdup_printf("-drive file=%s,if=ide,index=0,media=disk,"
                                            "format=raw", disk);
    g_autofree char *reason = NULL, *status = NULL;
    uint8_t got[SECTOR];

    qt = qtest_start("--serial null", args);
    enable_controller(qt);
    select_lba28(PRI, 0, 1, 8);
    qtest_outb(qt, PRI + REG_STATUS, 0x20);
    g_assert_cmphex(wait_not_busy(PRI) & ST_DRQ, ==, ST_DRQ);
    pio_in(PRI, got, 100);
    qtest_outb(qt, 0xcf9, 0x06);
    for (int i = 0; i < 200; i++) {
        g_free(reason);
        reason = qtest_cmd_ok(qt, "shutdown_reason");
        if (strcmp(reason, "none") != 0) {
            break;
        }
        g_usleep(10000);
    }
    g_assert_cmpstr(reason, ==, "reboot");
    /* Still serving: the registers answer and the device model lives. */
    qtest_inb(qt, PRI + REG_STATUS);
    qtest_inw(qt, PRI + REG_DATA);
    status = qtest_dm_status(qt);
    g_assert_cmpstr(status, ==, "running");
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* ---- 5. -device ide-hd on an if=none drive ---- */

static void test_device_ide_hd(void)
{
    g_autofree char *disk = make_disk("dev-hd.img", 40);
    g_autofree char *args = g_strdup_printf(
        "-drive if=none,id=disk1,file=%s,format=raw -device ide-hd,drive=disk1,bus=ide.0,unit=1",
        disk);
    uint8_t data[SECTOR], got[2 * SECTOR];
    char serial[21];

    qt = qtest_start("--serial null", args);
    enable_controller(qt);
    /* As if=ide,index=1: the slave of the primary channel, its serial by position. */
    g_assert_true(identify(PRI, 1, serial));
    g_assert_cmpstr(serial, ==, "QM00002");
    /* No master: xendm reads 00h; qemu-xen shows the empty master's reset status (50h). */
    qtest_outb(qt, PRI + REG_DEVICE, 0xa0);
    g_assert_cmphex(qtest_inb(qt, PRI + REG_STATUS), ==, qtest_dm_is_xendm() ? 0 : 0x50);
    select_lba28(PRI, 1, 60, 2);
    qtest_outb(qt, PRI + REG_STATUS, 0x20);
    for (unsigned s = 0; s < 2; s++) {
        g_assert_cmphex(wait_not_busy(PRI) & (ST_DRQ | ST_ERR), ==, ST_DRQ);
        pio_in(PRI, got + s * SECTOR, SECTOR / 2);
    }
    check_disk_sectors(disk, 60, got, 2);
    memset(data, 0xc3, sizeof(data));
    select_lba28(PRI, 1, 61, 1);
    qtest_outb(qt, PRI + REG_STATUS, 0x30);
    g_assert_cmphex(wait_not_busy(PRI) & (ST_DRQ | ST_ERR), ==, ST_DRQ);
    pio_out(PRI, data, SECTOR / 2);
    g_assert_cmphex(wait_not_busy(PRI) & (ST_DRQ | ST_ERR), ==, 0);
    file_read(disk, 61 * SECTOR, got, SECTOR);
    g_assert_cmpmem(got, SECTOR, data, SECTOR);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

static void test_device_position_taken(void)
{
    g_autofree char *d1 = make_disk("taken1.img", 41);
    g_autofree char *d2 = make_disk("taken2.img", 42);
    g_autofree char *log = qtest_tmp_path("taken.log");
    g_autofree char *xs_args = g_strdup_printf("--serial null --dm-log %s", log);
    g_autofree char *args = g_strdup_printf(
        "-drive if=none,id=a,file=%s,format=raw -device ide-hd,drive=a,bus=ide.0,unit=1 "
        "-drive if=none,id=b,file=%s,format=raw -device ide-hd,drive=b,bus=ide.0,unit=1",
        d1, d2);
    GError *err = NULL;
    g_autofree char *text = NULL;
    struct qtest *q = qtest_try_start(xs_args, args, &err);

    g_assert_no_error(err);
    /* xensim's status 20: the device model died before it reported running. */
    g_assert_cmpint(qtest_quit(q), ==, 20);
    g_assert_true(g_file_get_contents(log, &text, NULL, NULL));
    g_test_message("device model said: %s", text);
    if (qtest_dm_is_xendm()) {
        g_assert_nonnull(strstr(text, "ide.0 unit 1 is already in use"));
    } else {
        g_assert_nonnull(strstr(text, "unit 1"));
    }
}

/* ---- 6. a command while DRQ is set ---- */

static void test_command_while_drq(void)
{
    g_autofree char *disk = make_disk("drq.img", 50);
    g_autofree char *iso = make_iso("drq.iso", 5, 64);
    g_autofree char *args = g_strdup_printf(
        "-drive file=%s,if=ide,index=0,media=disk,format=raw "
        "-drive file=%s,if=ide,index=2,media=cdrom", disk, iso);
    uint8_t got[2 * SECTOR];
    char serial[21];

    qt = qtest_start("--serial null", args);
    enable_controller(qt);
    select_lba28(PRI, 0, 90, 2);
    qtest_outb(qt, PRI + REG_STATUS, 0x20);
    g_assert_cmphex(wait_not_busy(PRI) & ST_DRQ, ==, ST_DRQ);
    pio_in(PRI, got, 64);
    /*
     * The host shall not write the Command register while DRQ is set (ATA8-ACS §6.2): the
     * drive ignores IDENTIFY here and the read goes on with the sector's next bytes.
     */
    qtest_outb(qt, PRI + REG_STATUS, 0xec);
    g_assert_cmphex(wait_not_busy(PRI) & (ST_DRQ | ST_ERR), ==, ST_DRQ);
    pio_in(PRI, got + 128, (SECTOR - 128) / 2);
    g_assert_cmphex(wait_not_busy(PRI) & (ST_DRQ | ST_ERR), ==, ST_DRQ);
    pio_in(PRI, got + SECTOR, SECTOR / 2);
    g_assert_cmphex(wait_not_busy(PRI) & (ST_DRQ | ST_ERR), ==, 0);
    check_disk_sectors(disk, 90, got, 2);
    g_assert_true(identify(PRI, 0, serial));

    /* A PACKET device takes DEVICE RESET even with DRQ set: the transfer ends. */
    qtest_outb(qt, SEC + REG_DEVICE, 0xa0);
    qtest_outb(qt, SEC + REG_STATUS, 0xa0); /* PACKET: DRQ for the command packet */
    g_assert_cmphex(wait_not_busy(SEC) & ST_DRQ, ==, ST_DRQ);
    qtest_outb(qt, SEC + REG_STATUS, 0x08);
    g_assert_cmphex(wait_not_busy(SEC) & (ST_DRQ | ST_ERR), ==, 0);
    g_assert_cmphex(qtest_inb(qt, SEC + REG_LCYL), ==, 0x14);
    g_assert_cmphex(qtest_inb(qt, SEC + REG_HCYL), ==, 0xeb);
    unit_attentions_until_ready();
    check_cd_read(5, 3, 1);
    g_assert_cmpint(qtest_quit(qt), ==, 0);
}

/* ---- 7. durability: DMA write, FLUSH CACHE, SIGKILL ---- */

static void durability_case(const char *cache)
{
    g_autofree char *name = g_strdup_printf("durable-%s.img", cache);
    g_autofree char *disk = make_disk(name, 60);
    g_autofree char *args = g_strdup_printf("-drive file=%s,if=ide,index=0,media=disk,"
                                            "format=raw,cache=%s", disk, cache);
    g_autofree uint8_t *data = g_malloc(64 * SECTOR);
    g_autofree uint8_t *back = g_malloc(64 * SECTOR);
    pid_t pid;

    for (unsigned i = 0; i < 64 * SECTOR; i++) {
        data[i] = (uint8_t)(i * 29 + 3 + (i >> 9));
    }
    qt = qtest_start("--serial null", args);
    enable_controller(qt);
    qtest_memwrite(qt, BUF_GPA, data, 64 * SECTOR);
    write_prd(0, BUF_GPA, 32 * SECTOR, false);
    write_prd(1, BUF_GPA + 32 * SECTOR, 32 * SECTOR, true);
    qtest_outb(qt, BM(PRI) + 2, 0x06);
    qtest_outl(qt, BM(PRI) + 4, PRD_GPA);
    select_lba28(PRI, 0, 1000, 64);
    qtest_outb(qt, PRI + REG_STATUS, 0xca); /* WRITE DMA */
    qtest_outb(qt, BM(PRI), 0x01);
    g_assert_cmphex(bm_wait_intr(PRI) & 0x07, ==, 0x04);
    g_assert_cmphex(wait_not_busy(PRI) & (ST_ERR | ST_DRQ), ==, 0);
    qtest_inb(qt, PRI + REG_STATUS);
    qtest_outb(qt, BM(PRI), 0x00);
    g_assert_cmpint(qtest_isa_level(qt, 14), ==, 0);
    qtest_outb(qt, PRI + REG_STATUS, 0xe7); /* FLUSH CACHE, then its completion interrupt */
    for (int i = 0; i < 5000 && qtest_isa_level(qt, 14) == 0; i++) {
        g_usleep(1000);
    }
    g_assert_cmpint(qtest_isa_level(qt, 14), ==, 1);
    g_assert_cmphex(qtest_inb(qt, PRI + REG_STATUS) & (ST_ERR | ST_BSY), ==, 0);

    pid = qtest_dm_pid(qt);
    g_assert_cmpint(pid, >, 0);
    g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
    for (int i = 0; i < 500; i++) {
        g_autofree char *status = qtest_dm_status(qt);
        if (!g_str_has_prefix(status, "running")) {
            break;
        }
        g_usleep(10000);
    }
    file_read(disk, 1000 * SECTOR, back, 64 * SECTOR);
    g_assert_cmpmem(back, 64 * SECTOR, data, 64 * SECTOR);
    qtest_kill(qt);
    qt = NULL;
}

static void test_durability_writeback(void)
{
    durability_case("writeback");
}

static void test_durability_none(void)
{
    g_autofree char *probe = qtest_tmp_path("odirect-probe");
    int fd = open(probe, O_RDWR | O_CREAT | O_DIRECT, 0600);

    if (fd < 0) {
        g_test_skip("the test directory's file system has no O_DIRECT (cache=none)");
        return;
    }
    close(fd);
    durability_case("none");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ide-lifecycle/cd-change", test_cd_change);
    g_test_add_func("/ide-lifecycle/unplug-all-disks", test_unplug_all_disks);
    g_test_add_func("/ide-lifecycle/unplug-aux-disks", test_unplug_aux_disks);
    g_test_add_func("/ide-lifecycle/save-mid-read-multiple", test_save_mid_read_multiple);
    g_test_add_func("/ide-lifecycle/save-mid-write", test_save_mid_write);
    g_test_add_func("/ide-lifecycle/save-dma-state", test_save_dma_state);
    g_test_add_func("/ide-lifecycle/reset-mid-transfer", test_reset_mid_transfer);
    g_test_add_func("/ide-lifecycle/reboot-request-mid-transfer",
                    test_reboot_request_mid_transfer);
    g_test_add_func("/ide-lifecycle/device-ide-hd", test_device_ide_hd);
    g_test_add_func("/ide-lifecycle/device-position-taken", test_device_position_taken);
    g_test_add_func("/ide-lifecycle/command-while-drq", test_command_while_drq);
    g_test_add_func("/ide-lifecycle/durability-writeback", test_durability_writeback);
    g_test_add_func("/ide-lifecycle/durability-cache-none", test_durability_none);
    return g_test_run();
}
