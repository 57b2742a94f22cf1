/*
 * virtio-blk-pci through xensim (virtio 1.2 §5.2): requests written into guest memory by the
 * test, as a driver would post them, checked against the image file on the host. Capacity
 * and features, reads and writes, multi-segment and indirect chains, 32 requests in flight
 * with MSI-X, FLUSH, GET_ID, DISCARD and WRITE_ZEROES, requests refused (out of range,
 * misaligned, unknown type, a read-only disk), EVENT_IDX suppression, a reset with requests
 * in flight, hostile chains, and (xendm only) save/restore with requests in flight.
 *
 * The same program runs against Debian's qemu-xen (suite qtest-qemu-xen); its virtio
 * functions have no MSI-X under Xen, so there interrupts are checked on INTx.
 */
#include "qtest-pci.h"
#include "qtest-virtio.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SLOT 5
#define DEVFN QPCI_DEVFN(SLOT, 0)
#define MEM_WINDOW UINT64_C(0xe0000000)
#define IO_WINDOW 0xc000u

/* §5.2.3, §5.2.6 */
#define F_SIZE_MAX 1
#define F_SEG_MAX 2
#define F_RO 5
#define F_BLK_SIZE 6
#define F_FLUSH 9
#define F_DISCARD 13
#define F_WRITE_ZEROES 14
#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define T_GET_ID 8
#define T_DISCARD 11
#define T_WRITE_ZEROES 13
#define S_OK 0
#define S_IOERR 1
#define S_UNSUPP 2

/* Guest memory (xensim gives 64 MiB). Request slot k uses descriptors 3k..3k+2. */
#define RING_GPA UINT64_C(0x100000)
#define HDR_GPA(k) (UINT64_C(0x110000) + 16u * (k))
#define STATUS_GPA(k) (UINT64_C(0x111000) + (k))
#define INDIRECT_GPA UINT64_C(0x112000)
#define DATA_GPA(k) (UINT64_C(0x200000) + UINT64_C(0x10000) * (k))

#define IMAGE_SECTORS 8192u /* 4 MiB */
#define SERIAL "xendm-vblk-0123456789" /* 21 bytes: GET_ID answers the first 20 */

struct blk {
    struct qtest *qt;
    struct qvirtio *d;
    struct qvirtqueue vq;
    char *image;
    bool msix;
};

/* ---- the image ---- */

static uint8_t pattern(uint64_t offset)
{
    return (uint8_t)(offset * 7 + (offset >> 9) * 13);
}

static char *make_image(const char *name, unsigned sectors)
{
    char *path = qtest_tmp_path(name);
    size_t len = (size_t)sectors * 512;
    uint8_t *buf = g_malloc(len);

    for (size_t i = 0; i < len; i++) {
        buf[i] = pattern(i);
    }
    g_assert_true(g_file_set_contents(path, (const char *)buf, (gssize)len, NULL));
    g_free(buf);
    return path;
}

static void image_read(const struct blk *b, uint64_t offset, void *buf, size_t len)
{
    int fd = open(b->image, O_RDONLY);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pread(fd, buf, len, (off_t)offset), ==, (ssize_t)len);
    close(fd);
}

static bool guest_matches_pattern(struct qtest *qt, uint64_t gpa, uint64_t offset, size_t len)
{
    uint8_t *buf = g_malloc(len);
    bool ok = true;

    qtest_memread(qt, gpa, buf, len);
    for (size_t i = 0; i < len && ok; i++) {
        ok = buf[i] == pattern(offset + i);
    }
    g_free(buf);
    return ok;
}

/* ---- the device ---- */

static void blk_start_sized(struct blk *b, const char *tag, unsigned sectors,
                            const char *drive_opts, const char *dev_opts)
{
    char *args;

    memset(b, 0, sizeof(*b));
    b->image = make_image(tag, sectors);
    args = g_strdup_printf("-drive if=none,id=vd0,file=%s,format=raw%s%s "
                           "-device virtio-blk-pci,drive=vd0,addr=%u%s%s", b->image,
                           drive_opts ? "," : "", drive_opts ? drive_opts : "", SLOT,
                           dev_opts ? "," : "", dev_opts ? dev_opts : "");
    b->qt = qtest_start("--serial null", args);
    g_free(args);
    b->d = qvirtio_open(b->qt, DEVFN, MEM_WINDOW, IO_WINDOW);
}

static void blk_start(struct blk *b, const char *tag, const char *drive_opts,
                      const char *dev_opts)
{
    blk_start_sized(b, tag, IMAGE_SECTORS, drive_opts, dev_opts);
}

/* Negotiates `features`, sets up queue 0 with MSI-X where the function has it. */
static void blk_init(struct blk *b, uint64_t features)
{
    b->msix = qvirtio_msix_enable(b->d, 1, 0x41) && qvirtio_msix_enable(b->d, 0, 0x40);
    g_assert_true(qvirtio_negotiate(b->d, features, b->msix ? 0 : QVIRTIO_NO_VECTOR));
    qvirtqueue_setup(b->d, &b->vq, 0, RING_GPA, 0, b->msix ? 1 : QVIRTIO_NO_VECTOR);
    qvirtio_driver_ok(b->d);
    g_strfreev(qirq_events(b->qt));
}

static void blk_stop(struct blk *b)
{
    qvirtio_close(b->d);
    g_assert_cmpint(qtest_quit(b->qt), ==, 0);
    unlink(b->image);
    g_free(b->image);
}

/*
 * Request slot k: header, data (device-writable when the device fills it), status byte.
 * data_len 0: no data descriptor. Returns the head.
 */
static uint16_t blk_post(struct blk *b, unsigned k, uint32_t type, uint64_t sector,
                         uint32_t data_len, bool device_writes)
{
    uint8_t hdr[16] = {0};
    uint8_t status = 0xff;
    unsigned head = 3 * k;
    uint16_t dflags = device_writes ? QVIRTQ_DESC_F_WRITE : 0;

    memcpy(hdr, &type, 4);
    memcpy(hdr + 8, &sector, 8);
    qtest_memwrite(b->qt, HDR_GPA(k), hdr, sizeof(hdr));
    qtest_memwrite(b->qt, STATUS_GPA(k), &status, 1);
    if (data_len) {
        qvirtqueue_set_desc(&b->vq, head, HDR_GPA(k), 16, QVIRTQ_DESC_F_NEXT, head + 1);
        qvirtqueue_set_desc(&b->vq, head + 1, DATA_GPA(k), data_len,
                            dflags | QVIRTQ_DESC_F_NEXT, head + 2);
    } else {
        qvirtqueue_set_desc(&b->vq, head, HDR_GPA(k), 16, QVIRTQ_DESC_F_NEXT, head + 2);
    }
    qvirtqueue_set_desc(&b->vq, head + 2, STATUS_GPA(k), 1, QVIRTQ_DESC_F_WRITE, 0);
    return (uint16_t)head;
}

static uint8_t blk_status(struct blk *b, unsigned k)
{
    uint8_t s;

    qtest_memread(b->qt, STATUS_GPA(k), &s, 1);
    return s;
}

/* Posts, kicks and waits for one request in slot 0; returns its status. */
static uint8_t blk_do(struct blk *b, uint32_t type, uint64_t sector, uint32_t data_len,
                      bool device_writes)
{
    uint16_t head = blk_post(b, 0, type, sector, data_len, device_writes);
    uint16_t want = (uint16_t)(b->vq.avail_idx + 1);
    uint32_t id, len;

    qvirtqueue_add_avail(&b->vq, &head, 1);
    qvirtqueue_kick(&b->vq);
    g_assert_true(qvirtqueue_wait_used(&b->vq, want, 5000));
    qvirtqueue_used_elem(&b->vq, (uint16_t)(want - 1), &id, &len);
    g_assert_cmpuint(id, ==, head);
    return blk_status(b, 0);
}

static void write_segment(struct blk *b, unsigned k, uint64_t sector, uint32_t num,
                          uint32_t flags)
{
    uint8_t seg[16];

    memcpy(seg, &sector, 8);
    memcpy(seg + 8, &num, 4);
    memcpy(seg + 12, &flags, 4);
    qtest_memwrite(b->qt, DATA_GPA(k), seg, sizeof(seg));
}

static void assert_alive(struct blk *b)
{
    char *status = qtest_dm_status(b->qt);

    g_assert_cmpstr(status, ==, "running");
    g_free(status);
    g_assert_cmphex(qpci_read(b->qt, DEVFN, 0, 2), ==, 0x1af4);
}

/* ---- tests ---- */

/* §5.2.4: capacity, blk_size, seg_max; §4.1.2.1: the transitional block function. */
static void test_config(void)
{
    struct blk b;
    uint64_t f;

    blk_start(&b, "vblk-config.img", NULL, NULL);
    g_assert_cmphex(qpci_read(b.qt, DEVFN, 0, 4), ==, 0x10011af4);
    g_assert_cmphex(qpci_read(b.qt, DEVFN, 0x2c, 4), ==, 0x00021af4);
    g_assert_cmphex(qpci_read(b.qt, DEVFN, 0x0a, 2), ==, 0x0100); /* storage, SCSI */
    f = qvirtio_device_features(b.d);
    g_assert_true(f & QVIRTIO_BIT(QVIRTIO_F_VERSION_1));
    g_assert_true(f & QVIRTIO_BIT(F_SEG_MAX));
    g_assert_true(f & QVIRTIO_BIT(F_BLK_SIZE));
    g_assert_true(f & QVIRTIO_BIT(F_FLUSH));
    g_assert_true(f & QVIRTIO_BIT(QVIRTIO_F_INDIRECT_DESC));
    g_assert_true(f & QVIRTIO_BIT(QVIRTIO_F_EVENT_IDX));
    g_assert_false(f & QVIRTIO_BIT(F_RO));
    g_assert_cmpuint(qvirtio_config_read(b.d, 0, 8), ==, IMAGE_SECTORS);
    g_assert_cmpuint(qvirtio_config_read(b.d, 20, 4), ==, 512);
    g_assert_cmpuint(qvirtio_config_read(b.d, 12, 4), >=, 2);
    g_assert_cmpuint(qvirtio_config_read(b.d, 12, 4), <=, 254);
    if (qtest_dm_is_xendm()) {
        g_assert_true(f & QVIRTIO_BIT(F_SIZE_MAX));
        g_assert_cmpuint(qvirtio_config_read(b.d, 8, 4), ==, 1u << 20);
        /* The capacity is not the driver's to change. */
        qvirtio_config_write(b.d, 0, 1, 4);
        g_assert_cmpuint(qvirtio_config_read(b.d, 0, 8), ==, IMAGE_SECTORS);
    }
    blk_stop(&b);
}

/* A 4 KiB read and a 4 KiB write, checked against the image file. */
static void test_read_write(void)
{
    struct blk b;
    uint8_t buf[4096], back[4096];

    blk_start(&b, "vblk-rw.img", NULL, NULL);
    blk_init(&b, 0);
    g_assert_cmpuint(blk_do(&b, T_IN, 8, 4096, true), ==, S_OK);
    g_assert_true(guest_matches_pattern(b.qt, DATA_GPA(0), 8 * 512, 4096));
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (uint8_t)(0xa5 ^ i);
    }
    qtest_memwrite(b.qt, DATA_GPA(0), buf, sizeof(buf));
    g_assert_cmpuint(blk_do(&b, T_OUT, 100, 4096, false), ==, S_OK);
    image_read(&b, 100 * 512, back, sizeof(back));
    g_assert_cmpmem(back, sizeof(back), buf, sizeof(buf));
    /* The last sector of the disk is readable, and a zero-length read is fine. */
    g_assert_cmpuint(blk_do(&b, T_IN, IMAGE_SECTORS - 1, 512, true), ==, S_OK);
    g_assert_true(guest_matches_pattern(b.qt, DATA_GPA(0), (IMAGE_SECTORS - 1) * 512ull, 512));
    blk_stop(&b);
}

/* A read scattered over 4 buffers in the ring; a write through an indirect table (§2.7.5.3). */
static void test_segments_and_indirect(void)
{
    struct blk b;
    uint8_t buf[3 * 512], back[3 * 512];
    uint8_t hdr[16] = {0};
    uint32_t type;
    uint64_t sector;
    uint16_t head = 0;

    blk_start(&b, "vblk-seg.img", NULL, NULL);
    blk_init(&b, QVIRTIO_BIT(QVIRTIO_F_INDIRECT_DESC));
    /* header | 512 | 1024 | 1536 | 1024 + status in the same buffer (§2.7.4: any framing) */
    type = T_IN;
    memcpy(hdr, &type, 4);
    sector = 40;
    memcpy(hdr + 8, &sector, 8);
    qtest_memwrite(b.qt, HDR_GPA(0), hdr, sizeof(hdr));
    qvirtqueue_set_desc(&b.vq, 0, HDR_GPA(0), 16, QVIRTQ_DESC_F_NEXT, 1);
    qvirtqueue_set_desc(&b.vq, 1, DATA_GPA(0), 512, QVIRTQ_DESC_F_WRITE | QVIRTQ_DESC_F_NEXT, 2);
    qvirtqueue_set_desc(&b.vq, 2, DATA_GPA(1), 1024, QVIRTQ_DESC_F_WRITE | QVIRTQ_DESC_F_NEXT, 3);
    qvirtqueue_set_desc(&b.vq, 3, DATA_GPA(2), 1536, QVIRTQ_DESC_F_WRITE | QVIRTQ_DESC_F_NEXT, 4);
    qvirtqueue_set_desc(&b.vq, 4, DATA_GPA(3), 1025, QVIRTQ_DESC_F_WRITE, 0);
    g_free(qtest_cmd_ok(b.qt, "memset 0x%" PRIx64 " 1025 0xff", DATA_GPA(3)));
    qvirtqueue_add_avail(&b.vq, &head, 1);
    qvirtqueue_kick(&b.vq);
    g_assert_true(qvirtqueue_wait_used(&b.vq, 1, 5000));
    g_assert_true(guest_matches_pattern(b.qt, DATA_GPA(0), 40 * 512, 512));
    g_assert_true(guest_matches_pattern(b.qt, DATA_GPA(1), 41 * 512, 1024));
    g_assert_true(guest_matches_pattern(b.qt, DATA_GPA(2), 43 * 512, 1536));
    g_assert_true(guest_matches_pattern(b.qt, DATA_GPA(3), 46 * 512, 1024));
    g_assert_cmphex(qtest_readb(b.qt, DATA_GPA(3) + 1024), ==, S_OK);

    /* The write: one ring descriptor naming a table of header, 3 data buffers, status. */
    type = T_OUT;
    sector = 300;
    memcpy(hdr, &type, 4);
    memcpy(hdr + 8, &sector, 8);
    qtest_memwrite(b.qt, HDR_GPA(1), hdr, sizeof(hdr));
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (uint8_t)(i * 3 + 1);
    }
    for (unsigned s = 0; s < 3; s++) {
        qtest_memwrite(b.qt, DATA_GPA(4 + s), buf + 512 * s, 512);
        qvirtq_write_desc(b.qt, INDIRECT_GPA, 1 + s, DATA_GPA(4 + s), 512, QVIRTQ_DESC_F_NEXT,
                          (uint16_t)(2 + s));
    }
    qvirtq_write_desc(b.qt, INDIRECT_GPA, 0, HDR_GPA(1), 16, QVIRTQ_DESC_F_NEXT, 1);
    qvirtq_write_desc(b.qt, INDIRECT_GPA, 4, STATUS_GPA(1), 1, QVIRTQ_DESC_F_WRITE, 0);
    g_free(qtest_cmd_ok(b.qt, "memset 0x%" PRIx64 " 1 0xff", STATUS_GPA(1)));
    head = 7;
    qvirtqueue_set_desc(&b.vq, head, INDIRECT_GPA, 5 * 16, QVIRTQ_DESC_F_INDIRECT, 0);
    qvirtqueue_add_avail(&b.vq, &head, 1);
    qvirtqueue_kick(&b.vq);
    g_assert_true(qvirtqueue_wait_used(&b.vq, 2, 5000));
    g_assert_cmpuint(blk_status(&b, 1), ==, S_OK);
    image_read(&b, 300 * 512, back, sizeof(back));
    g_assert_cmpmem(back, sizeof(back), buf, sizeof(buf));
    blk_stop(&b);
}

/* Posts `n` reads of `len` bytes in slots 0..n-1 (sector 16k), kicks once. */
static void post_reads(struct blk *b, unsigned n, uint32_t len)
{
    uint16_t heads[64];

    g_assert_cmpuint(n, <=, 64);
    for (unsigned k = 0; k < n; k++) {
        heads[k] = blk_post(b, k, T_IN, 16u * k, len, true);
    }
    qvirtqueue_add_avail(&b->vq, heads, n);
    qvirtqueue_kick(&b->vq);
}

static void check_reads(struct blk *b, unsigned n, uint32_t len)
{
    for (unsigned k = 0; k < n; k++) {
        g_assert_cmpuint(blk_status(b, k), ==, S_OK);
        g_assert_true(guest_matches_pattern(b->qt, DATA_GPA(k), 16 * 512ull * k, len));
    }
}

/* 32 requests in flight at once: each completes once with its data, with interrupts. */
static void test_queue_depth_32(void)
{
    struct blk b;
    bool seen[96] = {false};
    char **ev;

    blk_start(&b, "vblk-qd32.img", NULL, NULL);
    blk_init(&b, 0);
    post_reads(&b, 32, 8192);
    g_assert_true(qvirtqueue_wait_used(&b.vq, 32, 10000));
    for (uint16_t i = 0; i < 32; i++) {
        uint32_t id, len;

        qvirtqueue_used_elem(&b.vq, i, &id, &len);
        g_assert_cmpuint(id % 3, ==, 0);
        g_assert_cmpuint(id, <, 96);
        g_assert_false(seen[id]);
        seen[id] = true;
        g_assert_cmpuint(len, >=, 1);
    }
    check_reads(&b, 32, 8192);
    ev = qvirtio_wait_events(b.qt, b.msix ? "msi " : "intx ", 1, 2000);
    g_assert_cmpuint(g_strv_length(ev), >=, 1);
    /* qemu-xen reports the message with address 0 to xensim: only its data is compared. */
    for (char **e = ev; b.msix && *e; e++) {
        g_assert_true(g_str_has_suffix(*e, " 0x41"));
        if (qtest_dm_is_xendm()) {
            g_assert_cmpstr(*e, ==, "msi 0xfee00000 0x41");
        }
    }
    g_strfreev(ev);
    blk_stop(&b);
}

/* FLUSH after writes: OK, and the data is in the file. */
static void test_flush(void)
{
    struct blk b;
    uint16_t heads[8];
    uint8_t buf[4096], back[4096];

    blk_start(&b, "vblk-flush.img", "cache=writeback", NULL);
    blk_init(&b, QVIRTIO_BIT(F_FLUSH));
    /* Seven writes and a FLUSH in one kick: the FLUSH waits for them. */
    for (unsigned k = 0; k < 7; k++) {
        memset(buf, 0x30 + (int)k, sizeof(buf));
        qtest_memwrite(b.qt, DATA_GPA(k), buf, sizeof(buf));
        heads[k] = blk_post(&b, k, T_OUT, 1000 + 8u * k, 4096, false);
    }
    heads[7] = blk_post(&b, 7, T_FLUSH, 0, 0, false);
    qvirtqueue_add_avail(&b.vq, heads, 8);
    qvirtqueue_kick(&b.vq);
    g_assert_true(qvirtqueue_wait_used(&b.vq, 8, 10000));
    for (unsigned k = 0; k < 8; k++) {
        g_assert_cmpuint(blk_status(&b, k), ==, S_OK);
    }
    if (qtest_dm_is_xendm()) {
        /* The FLUSH completed after every write before it. */
        uint32_t id, len;

        qvirtqueue_used_elem(&b.vq, 7, &id, &len);
        g_assert_cmpuint(id, ==, 21);
    }
    for (unsigned k = 0; k < 7; k++) {
        memset(buf, 0x30 + (int)k, sizeof(buf));
        image_read(&b, (1000 + 8ull * k) * 512, back, sizeof(back));
        g_assert_cmpmem(back, sizeof(back), buf, sizeof(buf));
    }
    g_assert_cmpuint(blk_do(&b, T_FLUSH, 0, 0, false), ==, S_OK);
    blk_stop(&b);
}

/* GET_ID: the serial, 20 bytes (cut from a longer one). */
static void test_get_id(void)
{
    struct blk b;
    char id[21] = {0};

    blk_start(&b, "vblk-id.img", NULL, "serial=" SERIAL);
    blk_init(&b, 0);
    g_free(qtest_cmd_ok(b.qt, "memset 0x%" PRIx64 " 20 0", DATA_GPA(0)));
    g_assert_cmpuint(blk_do(&b, T_GET_ID, 0, 20, true), ==, S_OK);
    qtest_memread(b.qt, DATA_GPA(0), id, 20);
    g_assert_cmpstr(id, ==, "xendm-vblk-012345678");
    blk_stop(&b);
}

static bool guest_is_zero(struct qtest *qt, uint64_t gpa, size_t len)
{
    uint8_t *buf = g_malloc(len);
    bool zero = true;

    qtest_memread(qt, gpa, buf, len);
    for (size_t i = 0; i < len; i++) {
        zero &= buf[i] == 0;
    }
    g_free(buf);
    return zero;
}

/* DISCARD and WRITE_ZEROES (discard=unmap) read back as zeroes; beyond them data stays. */
static void test_discard_write_zeroes(void)
{
    struct blk b;
    uint64_t f;

    blk_start(&b, "vblk-discard.img", "discard=unmap", NULL);
    f = qvirtio_device_features(b.d);
    if (!qtest_dm_is_xendm() && !(f & QVIRTIO_BIT(F_DISCARD))) {
        g_test_skip("this device model's virtio-blk-pci offers no DISCARD");
        blk_stop(&b);
        return;
    }
    g_assert_true(f & QVIRTIO_BIT(F_DISCARD));
    g_assert_true(f & QVIRTIO_BIT(F_WRITE_ZEROES));
    blk_init(&b, QVIRTIO_BIT(F_DISCARD) | QVIRTIO_BIT(F_WRITE_ZEROES));
    g_assert_cmpuint(qvirtio_config_read(b.d, 40, 4), >=, 1);   /* max_discard_seg */
    g_assert_cmpuint(qvirtio_config_read(b.d, 52, 4), >=, 1);   /* max_write_zeroes_seg */
    g_assert_cmpuint(qvirtio_config_read(b.d, 48, 4), >=, 16);  /* max_write_zeroes_sectors */

    write_segment(&b, 0, 64, 16, 0);
    g_assert_cmpuint(blk_do(&b, T_WRITE_ZEROES, 0, 16, false), ==, S_OK);
    g_assert_cmpuint(blk_do(&b, T_IN, 56, 32 * 512, true), ==, S_OK);
    g_assert_true(guest_matches_pattern(b.qt, DATA_GPA(0), 56 * 512, 8 * 512));
    g_assert_true(guest_is_zero(b.qt, DATA_GPA(0) + 8 * 512, 16 * 512));
    g_assert_true(guest_matches_pattern(b.qt, DATA_GPA(0) + 24 * 512, 80 * 512, 8 * 512));

    /* Write-zeroes with the unmap flag, then a discard of whole 4 KiB blocks. */
    write_segment(&b, 0, 256, 8, 1);
    g_assert_cmpuint(blk_do(&b, T_WRITE_ZEROES, 0, 16, false), ==, S_OK);
    write_segment(&b, 0, 1024, 64, 0);
    g_assert_cmpuint(blk_do(&b, T_DISCARD, 0, 16, false), ==, S_OK);
    g_assert_cmpuint(blk_do(&b, T_IN, 256, 8 * 512, true), ==, S_OK);
    g_assert_true(guest_is_zero(b.qt, DATA_GPA(0), 8 * 512));
    g_assert_cmpuint(blk_do(&b, T_IN, 1024, 64 * 512, true), ==, S_OK);
    g_assert_true(guest_is_zero(b.qt, DATA_GPA(0), 64 * 512));
    g_assert_cmpuint(blk_do(&b, T_IN, 1088, 512, true), ==, S_OK);
    g_assert_true(guest_matches_pattern(b.qt, DATA_GPA(0), 1088 * 512, 512));

    /* §5.2.6.2: a discard with the unmap flag, or an unknown flag, is UNSUPP. */
    write_segment(&b, 0, 0, 8, 1);
    g_assert_cmpuint(blk_do(&b, T_DISCARD, 0, 16, false), ==, S_UNSUPP);
    write_segment(&b, 0, 0, 8, 0x80);
    g_assert_cmpuint(blk_do(&b, T_WRITE_ZEROES, 0, 16, false), ==, S_UNSUPP);
    /* Past the end: IOERR. */
    write_segment(&b, 0, IMAGE_SECTORS - 4, 8, 0);
    g_assert_cmpuint(blk_do(&b, T_WRITE_ZEROES, 0, 16, false), ==, S_IOERR);
    blk_stop(&b);
}

/* Requests the device refuses without touching the image; it keeps serving. */
static void test_refused(void)
{
    struct blk b;
    uint8_t before[512], after[512];

    blk_start(&b, "vblk-refused.img", NULL, NULL);
    blk_init(&b, 0);
    g_assert_cmpuint(blk_do(&b, T_IN, IMAGE_SECTORS, 512, true), ==, S_IOERR);
    g_assert_cmpuint(blk_do(&b, T_IN, IMAGE_SECTORS - 1, 1024, true), ==, S_IOERR);
    g_assert_cmpuint(blk_do(&b, T_IN, UINT64_C(0xfffffffffffffff0), 4096, true), ==, S_IOERR);
    g_assert_cmpuint(blk_do(&b, T_OUT, IMAGE_SECTORS - 1, 4096, false), ==, S_IOERR);
    image_read(&b, 0, before, sizeof(before));
    g_assert_cmpuint(blk_do(&b, T_IN, 0, 100, true), ==, S_IOERR);
    g_assert_cmpuint(blk_do(&b, T_OUT, 0, 700, false), ==, S_IOERR);
    image_read(&b, 0, after, sizeof(after));
    g_assert_cmpmem(before, sizeof(before), after, sizeof(after));
    g_assert_cmpuint(blk_do(&b, 0x1234, 0, 512, true), ==, S_UNSUPP);
    g_assert_cmpuint(blk_do(&b, T_IN, 0, 512, true), ==, S_OK);
    g_assert_true(guest_matches_pattern(b.qt, DATA_GPA(0), 0, 512));
    blk_stop(&b);
}

/* readonly=on: RO offered, writes fail, reads serve. */
static void test_read_only(void)
{
    struct blk b;
    uint8_t before[4096], after[4096];

    blk_start(&b, "vblk-ro.img", "readonly=on", NULL);
    g_assert_true(qvirtio_device_features(b.d) & QVIRTIO_BIT(F_RO));
    blk_init(&b, QVIRTIO_BIT(F_RO));
    image_read(&b, 0, before, sizeof(before));
    g_free(qtest_cmd_ok(b.qt, "memset 0x%" PRIx64 " 4096 0x77", DATA_GPA(0)));
    g_assert_cmpuint(blk_do(&b, T_OUT, 0, 4096, false), ==, S_IOERR);
    image_read(&b, 0, after, sizeof(after));
    g_assert_cmpmem(before, sizeof(before), after, sizeof(after));
    g_assert_cmpuint(blk_do(&b, T_IN, 0, 4096, true), ==, S_OK);
    g_assert_true(guest_matches_pattern(b.qt, DATA_GPA(0), 0, 4096));
    blk_stop(&b);
}

/* Whether an interrupt for the queue came within a short wait (and acknowledges INTx). */
static unsigned queue_interrupts(struct blk *b, unsigned timeout_ms)
{
    char *up = g_strdup_printf("intx %u 0 1 %u", SLOT, qirq_intx_gsi(SLOT, 0));
    char **ev = qvirtio_wait_events(b->qt, b->msix ? "msi " : "intx ", 1, timeout_ms);
    unsigned n = 0;

    for (char **e = ev; *e; e++) {
        n += b->msix || strcmp(*e, up) == 0;
    }
    g_strfreev(ev);
    g_free(up);
    if (n && !b->msix) {
        g_assert_cmphex(qvirtio_isr_read(b->d) & 1, ==, 1);
        g_usleep(20000);
        g_strfreev(qirq_events(b->qt)); /* the deassertion */
    }
    return n;
}

/* §2.7.7.2: with EVENT_IDX the device interrupts only once used idx passes used_event. */
static void test_event_idx(void)
{
    struct blk b;

    blk_start(&b, "vblk-evidx.img", NULL, NULL);
    blk_init(&b, QVIRTIO_BIT(QVIRTIO_F_EVENT_IDX));
    qvirtqueue_set_used_event(&b.vq, 0); /* an interrupt when used idx passes 0 */
    g_assert_cmpuint(blk_do(&b, T_IN, 0, 512, true), ==, S_OK);
    g_assert_cmpuint(queue_interrupts(&b, 1000), >=, 1);
    /* The device asks for a kick at the next available entry (§2.7.10). */
    g_assert_cmpuint(qvirtqueue_avail_event(&b.vq), ==, 1);
    /* No interrupt wanted until used idx passes 5: two requests go by silently. */
    qvirtqueue_set_used_event(&b.vq, 5);
    g_assert_cmpuint(blk_do(&b, T_IN, 0, 512, true), ==, S_OK);
    g_assert_cmpuint(blk_do(&b, T_IN, 8, 512, true), ==, S_OK);
    g_assert_cmpuint(queue_interrupts(&b, 100), ==, 0);
    qvirtqueue_set_used_event(&b.vq, 3);
    g_assert_cmpuint(blk_do(&b, T_IN, 16, 512, true), ==, S_OK);
    g_assert_cmpuint(queue_interrupts(&b, 1000), >=, 1);
    blk_stop(&b);
}

/* A device reset with 32 large requests in flight: status 0 at once, then it serves again. */
static void test_reset_in_flight(void)
{
    struct blk b;

    blk_start(&b, "vblk-reset.img", NULL, NULL);
    blk_init(&b, 0);
    post_reads(&b, 32, 65536);
    qvirtio_reset(b.d);
    g_assert_cmphex(qvirtio_status(b.d), ==, 0);
    qvirtio_cc_write(b.d, QVIRTIO_CC_Q_SELECT, 0, 2);
    g_assert_cmpuint(qvirtio_cc_read(b.d, QVIRTIO_CC_Q_ENABLE, 2), ==, 0);
    blk_init(&b, 0);
    post_reads(&b, 4, 4096);
    g_assert_true(qvirtqueue_wait_used(&b.vq, 4, 5000));
    check_reads(&b, 4, 4096);
    assert_alive(&b);
    blk_stop(&b);
}

static void expect_needs_reset(struct blk *b)
{
    for (unsigned i = 0; i < 1000 && !(qvirtio_status(b->d) & QVIRTIO_ST_NEEDS_RESET); i++) {
        g_usleep(1000);
    }
    g_assert_cmphex(qvirtio_status(b->d) & QVIRTIO_ST_NEEDS_RESET, ==, QVIRTIO_ST_NEEDS_RESET);
}

/* Posts a raw chain at head 0 and kicks. */
static void post_chain(struct blk *b, unsigned ndesc, const uint64_t *addr, const uint32_t *len,
                       const uint16_t *flags)
{
    uint16_t head = 0;

    for (unsigned i = 0; i < ndesc; i++) {
        qvirtqueue_set_desc(&b->vq, i, addr[i], len[i],
                            (uint16_t)(flags[i] | (i + 1 < ndesc ? QVIRTQ_DESC_F_NEXT : 0)),
                            (uint16_t)(i + 1));
    }
    qvirtqueue_add_avail(&b->vq, &head, 1);
    qvirtqueue_kick(&b->vq);
}

/* Chains a driver must never post: the device breaks or fails the request; all else runs. */
static void test_hostile(void)
{
    struct blk b;
    uint8_t hdr[16] = {0};
    const uint16_t W = QVIRTQ_DESC_F_WRITE;

    blk_start(&b, "vblk-hostile.img", NULL, NULL);
    qtest_memwrite(b.qt, HDR_GPA(0), hdr, sizeof(hdr)); /* T_IN, sector 0 */

    /* The status byte read-only: nowhere to answer. */
    blk_init(&b, 0);
    post_chain(&b, 3, (const uint64_t[]){HDR_GPA(0), DATA_GPA(0), STATUS_GPA(0)},
               (const uint32_t[]){16, 512, 1}, (const uint16_t[]){0, 0, 0});
    if (qtest_dm_is_xendm()) {
        expect_needs_reset(&b);
    }
    g_usleep(20000);
    assert_alive(&b);

    /* The header too short. */
    blk_init(&b, 0);
    post_chain(&b, 2, (const uint64_t[]){HDR_GPA(0), STATUS_GPA(0)}, (const uint32_t[]){8, 1},
               (const uint16_t[]){0, W});
    if (qtest_dm_is_xendm()) {
        expect_needs_reset(&b);
    }
    g_usleep(20000);
    assert_alive(&b);

    /* A 4 GiB - 1 data buffer (far beyond guest RAM). */
    blk_init(&b, 0);
    post_chain(&b, 3, (const uint64_t[]){HDR_GPA(0), DATA_GPA(0), STATUS_GPA(0)},
               (const uint32_t[]){16, 0xffffffff, 1}, (const uint16_t[]){0, W, W});
    if (qtest_dm_is_xendm()) {
        expect_needs_reset(&b);
    }
    g_usleep(20000);
    assert_alive(&b);

    /* Data before the header: a write whose "header" is the status descriptor's byte. */
    blk_init(&b, 0);
    post_chain(&b, 2, (const uint64_t[]){DATA_GPA(0), STATUS_GPA(0)},
               (const uint32_t[]){1, 1}, (const uint16_t[]){W, W});
    if (qtest_dm_is_xendm()) {
        expect_needs_reset(&b);
    }
    g_usleep(20000);
    assert_alive(&b);

    /* A reset, and the device serves well-formed requests again. */
    blk_init(&b, 0);
    g_assert_cmpuint(blk_do(&b, T_IN, 0, 512, true), ==, S_OK);
    g_assert_true(guest_matches_pattern(b.qt, DATA_GPA(0), 0, 512));
    blk_stop(&b);
}

/* libxl's save and restore with 32 requests in flight: every one completes, none twice. */
static void test_save_restore(void)
{
    g_autofree char *state = NULL;
    struct blk b;
    uint16_t heads[4];

    if (!qtest_dm_is_xendm()) {
        g_test_skip("qemu-xen's saved state is tested elsewhere");
        return;
    }
    state = qtest_tmp_path("virtio-blk-state");
    blk_start(&b, "vblk-save.img", NULL, NULL);
    blk_init(&b, QVIRTIO_BIT(QVIRTIO_F_EVENT_IDX));
    post_reads(&b, 32, 65536);
    g_free(qtest_cmd_ok(b.qt, "dm_save %s", state));
    g_free(qtest_cmd_ok(b.qt, "dm_restore %s", state));
    g_assert_true(qvirtqueue_wait_used(&b.vq, 32, 10000));
    check_reads(&b, 32, 65536);
    g_assert_cmphex(qvirtio_status(b.d), ==, QVIRTIO_ST_ACK | QVIRTIO_ST_DRIVER |
                    QVIRTIO_ST_FEATURES_OK | QVIRTIO_ST_DRIVER_OK);
    /* The restored queue goes on: new requests in the next slots. */
    for (unsigned k = 0; k < 4; k++) {
        heads[k] = blk_post(&b, 32 + k, T_IN, 16u * k, 4096, true);
    }
    qvirtqueue_add_avail(&b.vq, heads, 4);
    qvirtqueue_kick(&b.vq);
    g_assert_true(qvirtqueue_wait_used(&b.vq, 36, 5000));
    for (unsigned k = 0; k < 4; k++) {
        g_assert_cmpuint(blk_status(&b, 32 + k), ==, S_OK);
        g_assert_true(guest_matches_pattern(b.qt, DATA_GPA(32 + k), 16 * 512ull * k, 4096));
    }
    blk_stop(&b);
    unlink(state);
}

/*
 * The sustained load of qtest-virtio.c (qvblk_load_*), as `make bench` drives it: 64 MiB image
 * in the host's page cache, 4 KiB requests in a scrambled order and 1 MiB sequential ones,
 * slot k's data at a stride of 1 MiB from 16 MiB.
 */
#define LOAD_IMAGE_SECTORS (64u * 2048u) /* 64 MiB */
#define LOAD_DATA_GPA UINT64_C(0x1000000)

static const struct qvblk_layout load_layout = {
    .hdr_gpa = HDR_GPA(0),
    .status_gpa = STATUS_GPA(0),
    .data_gpa = LOAD_DATA_GPA,
    .data_stride = UINT64_C(1) << 20,
};

static uint64_t env_number(const char *name, uint64_t dflt)
{
    const char *v = g_getenv(name);

    return v != NULL && *v != '\0' ? g_ascii_strtoull(v, NULL, 10) : dflt;
}

/* Gives write slot k's buffer bytes no other slot has, so a misplaced write shows. */
static void load_stamp_buffers(struct blk *b, unsigned depth, uint32_t len)
{
    for (unsigned k = 0; k < depth; k++) {
        g_free(qtest_cmd_ok(b->qt, "memset 0x%" PRIx64 " %u 0x%x",
                            load_layout.data_gpa + load_layout.data_stride * k, len, 0x40 + k));
    }
}

/*
 * The bench's driver checked (cheap, always run): the case shapes `make bench` uses, reads
 * and writes of 4 KiB at depth 1 and 32 and of 1 MiB (depth 2 here: each slot checked costs
 * 2 MiB of hex through the socket), briefly; each slot's last request leaves the guest buffer
 * and the image file equal, and the data read matches the image's pattern.
 */
static void test_load_driver(void)
{
    static const struct {
        bool write;
        unsigned depth;
        uint32_t len;
        bool sequential;
    } cases[] = {
        {false, 1, 4096, false}, {false, 32, 4096, false}, {false, 2, 1u << 20, true},
        {true, 1, 4096, false},  {true, 32, 4096, false},  {true, 2, 1u << 20, true},
    };
    struct blk b;
    struct qvblk_load l;

    blk_start_sized(&b, "vblk-load.img", LOAD_IMAGE_SECTORS, "cache=writeback", NULL);
    blk_init(&b, QVIRTIO_BIT(QVIRTIO_F_EVENT_IDX));
    qvblk_load_init(&l, &b.vq, true, &load_layout, LOAD_IMAGE_SECTORS);
    for (size_t c = 0; c < G_N_ELEMENTS(cases); c++) {
        int64_t elapsed;
        uint64_t done;

        if (cases[c].write) {
            load_stamp_buffers(&b, cases[c].depth, cases[c].len);
        }
        qvblk_load_start(&l, cases[c].write, cases[c].depth, cases[c].len, cases[c].sequential);
        done = qvblk_load_run(&l, 20000, 20, &elapsed);
        g_assert_cmpuint(done, >=, cases[c].depth);
        g_assert_true(qvblk_load_verify(&l, b.image));
        if (!cases[c].write) {
            for (unsigned k = 0; k < cases[c].depth; k++) {
                g_assert_true(guest_matches_pattern(b.qt, LOAD_DATA_GPA + (UINT64_C(1) << 20) * k,
                                                    l.sector[k] * 512, cases[c].len));
            }
        }
    }
    /* The scrambled order visits distinct blocks: 32 requests, 32 sectors. */
    qvblk_load_start(&l, false, 32, 4096, false);
    for (unsigned i = 0; i < 32; i++) {
        for (unsigned j = 0; j < i; j++) {
            g_assert_cmpuint(l.sector[i], !=, l.sector[j]);
        }
    }
    qvblk_load_run(&l, 0, 20, &(int64_t){0});
    assert_alive(&b);
    blk_stop(&b);
}

/*
 * The benchmark (only with QTEST_VIRTIO_BLK_BENCH set; `make bench` has the side-by-side
 * version, tests/bench/bench-vblk.c): reads at a sustained queue depth for
 * QTEST_VIRTIO_BLK_BENCH_MS (default 1000) per case: 4 KiB reads at depth 1 and 32, and 1 MiB
 * sequential reads at depth 1, 8 and 32, from a 64 MiB image in the host's page cache.
 * QTEST_VIRTIO_BLK_BENCH_EVENT_IDX=0: no EVENT_IDX, a kick for every batch posted;
 * QTEST_VIRTIO_BLK_BENCH_POLL_US (default 20): the sleep after a poll that found nothing.
 * Printed: requests per second and the device model's CPU time per request (xensim's
 * dm_cpu_time, all its threads). Only ratios measured in the same run mean much.
 */
static uint64_t bench_dm_cpu_ns(struct qtest *qt)
{
    g_autofree char *reply = qtest_cmd_ok(qt, "dm_cpu_time");

    return g_ascii_strtoull(reply, NULL, 0);
}

static void bench_case(struct blk *b, struct qvblk_load *l, const char *name, unsigned depth,
                       uint32_t len, bool sequential)
{
    unsigned poll_us = (unsigned)env_number("QTEST_VIRTIO_BLK_BENCH_POLL_US", 20);
    int64_t duration_us = (int64_t)env_number("QTEST_VIRTIO_BLK_BENCH_MS", 1000) * 1000;
    uint64_t cpu0 = bench_dm_cpu_ns(b->qt);
    int64_t elapsed;
    uint64_t done;

    qvblk_load_start(l, false, depth, len, sequential);
    done = qvblk_load_run(l, duration_us, poll_us, &elapsed);
    printf("# bench %s %s %.0f req/s %.1f MB/s dm-cpu %.1f us/req\n", qtest_dm_name(), name,
           (double)done * 1e6 / (double)elapsed, (double)done * len / (double)elapsed,
           (double)(bench_dm_cpu_ns(b->qt) - cpu0) / 1e3 / (double)done);
    fflush(stdout);
    g_assert_true(qvblk_load_verify(l, b->image));
}

static void test_bench(void)
{
    struct blk b;
    struct qvblk_load l;

    if (!g_getenv("QTEST_VIRTIO_BLK_BENCH")) {
        g_test_skip("set QTEST_VIRTIO_BLK_BENCH=1 to measure");
        return;
    }
    bool event_idx = env_number("QTEST_VIRTIO_BLK_BENCH_EVENT_IDX", 1) != 0;
    /* QTEST_VIRTIO_BLK_BENCH_AIO=io_uring (or threads, native): the drive's aio=. */
    const char *aio = g_getenv("QTEST_VIRTIO_BLK_BENCH_AIO");
    g_autofree char *drive_opts = g_strdup_printf("cache=writeback%s%s",
                                                  aio != NULL ? ",aio=" : "",
                                                  aio != NULL ? aio : "");
    blk_start_sized(&b, "vblk-bench.img", LOAD_IMAGE_SECTORS, drive_opts, NULL);
    blk_init(&b, event_idx ? QVIRTIO_BIT(QVIRTIO_F_EVENT_IDX) : 0);
    qvblk_load_init(&l, &b.vq, event_idx, &load_layout, LOAD_IMAGE_SECTORS);
    bench_case(&b, &l, "4k-rand-qd1", 1, 4096, false);
    bench_case(&b, &l, "4k-rand-qd32", 32, 4096, false);
    bench_case(&b, &l, "1m-seq-qd8", 8, 1u << 20, true);
    bench_case(&b, &l, "1m-seq-qd1", 1, 1u << 20, true);
    bench_case(&b, &l, "1m-seq-qd32", 32, 1u << 20, true);
    blk_stop(&b);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/virtio-blk/config", test_config);
    g_test_add_func("/virtio-blk/read-write", test_read_write);
    g_test_add_func("/virtio-blk/segments-indirect", test_segments_and_indirect);
    g_test_add_func("/virtio-blk/queue-depth-32", test_queue_depth_32);
    g_test_add_func("/virtio-blk/flush", test_flush);
    g_test_add_func("/virtio-blk/get-id", test_get_id);
    g_test_add_func("/virtio-blk/discard-write-zeroes", test_discard_write_zeroes);
    g_test_add_func("/virtio-blk/refused", test_refused);
    g_test_add_func("/virtio-blk/read-only", test_read_only);
    g_test_add_func("/virtio-blk/event-idx", test_event_idx);
    g_test_add_func("/virtio-blk/reset-in-flight", test_reset_in_flight);
    g_test_add_func("/virtio-blk/hostile", test_hostile);
    g_test_add_func("/virtio-blk/save-restore", test_save_restore);
    g_test_add_func("/virtio-blk/load-driver", test_load_driver);
    g_test_add_func("/virtio-blk/bench", test_bench);
    return g_test_run();
}
