/*
 * Block backends (block/block.c): requests on worker threads, completions on the calling
 * thread, the checks, the statistics, O_DIRECT bouncing. The cases that move data run twice:
 * /block/... with aio=threads and /block/io_uring/... with aio=io_uring (block-io-uring.c),
 * plus io_uring's own: short transfers, a full ring, flush ordering, the O_DIRECT gate and
 * the fallback to threads.
 */
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <limits.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xendm/block.h"
#include "xendm/common.h"
#include "xendm/restrict.h"

struct completion {
    bool done;
    int ret;
    GThread *thread;
    unsigned order; /* position among the completions of a test */
};

static unsigned completions_seen;

/* The aio= every backend a test opens asks for (set by run_with_aio). */
static enum block_aio_mode test_aio = BLOCK_AIO_THREADS;

static void on_complete(void *opaque, int ret)
{
    struct completion *c = opaque;
    g_assert_false(c->done); /* exactly once */
    c->done = true;
    c->ret = ret;
    c->thread = g_thread_self();
    c->order = completions_seen++;
}

/* A scratch directory on a disk file system (O_DIRECT works there, not always on tmpfs). */
static char *scratch_dir(void)
{
    GError *err = NULL;
    char *tmpl = g_build_filename(g_file_test("/var/tmp", G_FILE_TEST_IS_DIR) ? "/var/tmp"
                                                                              : g_get_tmp_dir(),
                                  "test-block-XXXXXX", NULL);
    char *dir = g_mkdtemp(tmpl);
    g_assert_nonnull(dir);
    g_assert_no_error(err);
    return dir;
}

/* A file of `size` bytes whose byte i is (i * 7 + 3) & 0xff. */
static char *make_image(const char *dir, const char *name, size_t size)
{
    char *path = g_build_filename(dir, name, NULL);
    guint8 *data = g_malloc(size + 1);
    for (size_t i = 0; i < size; i++) {
        data[i] = (guint8)(i * 7 + 3);
    }
    g_assert_true(g_file_set_contents(path, (char *)data, (gssize)size, NULL));
    g_free(data);
    return path;
}

static guint8 pattern_byte(uint64_t i)
{
    return (guint8)(i * 7 + 3);
}

static void remove_tree(char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
        char *p = g_build_filename(dir, name, NULL);
        g_remove(p);
        g_free(p);
    }
    if (d != NULL) {
        g_dir_close(d);
    }
    g_rmdir(dir);
    g_free(dir);
}

static struct block_backend *open_image(const char *path, bool read_only,
                                        enum block_cache_mode cache, GError **err)
{
    struct block_open_options o = {
        .filename = path, .fd = -1, .read_only = read_only, .cache = cache, .aio = test_aio};
    struct block_backend *bb = block_open(&o, err);
    /* An io_uring case must run on a ring, not on the fallback. */
    g_assert_true(bb == NULL || block_aio_engine(bb) == test_aio);
    return bb;
}

/* Submits nothing itself: checks a request just submitted is pending, drains, returns ret. */
static int drain_one(struct block_backend *bb, struct completion *c)
{
    g_assert_false(c->done); /* never inside the submitting call */
    block_drain(bb);
    g_assert_true(c->done);
    g_assert_true(c->thread == g_thread_self());
    return c->ret;
}

static int sync_read(struct block_backend *bb, uint64_t offset, void *buf, size_t len)
{
    struct completion c = {0};
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    block_readv(bb, offset, &iov, 1, on_complete, &c);
    return drain_one(bb, &c);
}

static int sync_write(struct block_backend *bb, uint64_t offset, const void *buf, size_t len)
{
    struct completion c = {0};
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    block_writev(bb, offset, &iov, 1, on_complete, &c);
    return drain_one(bb, &c);
}

static void file_bytes(const char *path, uint64_t offset, void *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pread(fd, buf, len, (off_t)offset), ==, (ssize_t)len);
    close(fd);
}

/* ---- tests ---- */

static void test_cache_mode_parse(void)
{
    enum block_cache_mode m;
    g_assert_true(block_cache_mode_parse("writeback", &m));
    g_assert_cmpint(m, ==, BLOCK_CACHE_WRITEBACK);
    g_assert_true(block_cache_mode_parse("writethrough", &m));
    g_assert_cmpint(m, ==, BLOCK_CACHE_WRITETHROUGH);
    g_assert_true(block_cache_mode_parse("none", &m));
    g_assert_cmpint(m, ==, BLOCK_CACHE_NONE);
    g_assert_true(block_cache_mode_parse("directsync", &m));
    g_assert_cmpint(m, ==, BLOCK_CACHE_DIRECTSYNC);
    g_assert_true(block_cache_mode_parse("unsafe", &m));
    g_assert_cmpint(m, ==, BLOCK_CACHE_UNSAFE);
    g_assert_false(block_cache_mode_parse("Writeback", &m));
    g_assert_false(block_cache_mode_parse("", &m));
    g_assert_false(block_cache_mode_parse(NULL, &m));
}

static void assert_open_fails(const char *path, bool read_only, const char *want)
{
    GError *err = NULL;
    struct block_backend *bb = open_image(path, read_only, BLOCK_CACHE_WRITEBACK, &err);
    g_assert_null(bb);
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, path)); /* names the file */
    if (strstr(err->message, want) == NULL) {
        g_error("'%s' lacks '%s'", err->message, want);
    }
    g_error_free(err);
}

/* Makes `path` unwritable even for root (an immutable file); false when it cannot. */
static bool make_unwritable(const char *path)
{
    if (geteuid() != 0) {
        return g_chmod(path, 0444) == 0;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int flags = 0;
    bool ok = fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
    flags |= FS_IMMUTABLE_FL;
    ok = ok && ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
    if (fd >= 0) {
        close(fd);
    }
    return ok;
}

static void make_writable(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int flags = 0;
    if (fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
        flags &= ~FS_IMMUTABLE_FL;
        (void)!ioctl(fd, FS_IOC_SETFLAGS, &flags);
    }
    if (fd >= 0) {
        close(fd);
    }
    g_chmod(path, 0644);
}

static void test_open_errors(void)
{
    char *dir = scratch_dir();
    char *missing = g_build_filename(dir, "missing.img", NULL);
    GError *err = NULL;

    assert_open_fails(missing, false, "No such file");
    assert_open_fails(dir, true, "directory");
    assert_open_fails(dir, false, "directory");
    assert_open_fails("/dev/null", true, "neither a regular file nor a block device");

    char *ro = make_image(dir, "ro.img", 4096);
    if (make_unwritable(ro)) {
        assert_open_fails(ro, false, "read-write");
        struct block_backend *bb = open_image(ro, true, BLOCK_CACHE_WRITEBACK, &err);
        g_assert_no_error(err);
        g_assert_true(block_is_read_only(bb));
        block_close(bb);
        make_writable(ro);
    } else {
        g_test_message("cannot make a file unwritable here: that case untested");
    }

    /* A passed descriptor opened read-only cannot back a read-write medium. */
    int fd = open(ro, O_RDONLY | O_CLOEXEC);
    struct block_open_options o = {
        .filename = ro, .fd = fd, .read_only = false, .cache = BLOCK_CACHE_WRITEBACK};
    g_assert_null(block_open(&o, &err));
    g_assert_nonnull(strstr(err->message, "read-only"));
    g_clear_error(&err);
    /* ...and was closed: the backend owned it from the call on. */
    g_assert_cmpint(fcntl(fd, F_GETFD), ==, -1);

    /* Neither a name nor a descriptor. */
    o = (struct block_open_options){.fd = -1};
    g_assert_null(block_open(&o, &err));
    g_assert_nonnull(err);
    g_clear_error(&err);

    g_free(ro);
    g_free(missing);
    remove_tree(dir);
}

static void test_round_trip(void)
{
    char *dir = scratch_dir();
    char *path = make_image(dir, "rt.img", 64 * 1024);
    GError *err = NULL;
    struct block_backend *bb = open_image(path, false, BLOCK_CACHE_WRITEBACK, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(block_size(bb), ==, 64 * 1024);
    g_assert_false(block_is_read_only(bb));
    g_assert_cmpstr(block_filename(bb), ==, path);

    /* A write at an odd offset from three pieces of odd lengths (one empty). */
    guint8 a[1000], b[3001], c[999];
    memset(a, 0xa1, sizeof(a));
    memset(b, 0xb2, sizeof(b));
    memset(c, 0xc3, sizeof(c));
    struct iovec wv[] = {{a, sizeof(a)}, {NULL, 0}, {b, sizeof(b)}, {c, sizeof(c)}};
    struct completion done = {0};
    block_writev(bb, 1234, wv, 4, on_complete, &done);
    g_assert_cmpuint(block_in_flight(bb), ==, 1);
    g_assert_cmpint(drain_one(bb, &done), ==, 0);
    g_assert_cmpuint(block_in_flight(bb), ==, 0);

    /* What the file holds. */
    guint8 file[5200];
    file_bytes(path, 1234 - 100, file, sizeof(file));
    for (size_t i = 0; i < sizeof(file); i++) {
        uint64_t off = 1234 - 100 + i;
        guint8 want = off < 1234 ? pattern_byte(off)
                      : off < 2234 ? 0xa1
                      : off < 5235 ? 0xb2
                      : off < 6234 ? 0xc3
                                   : pattern_byte(off);
        g_assert_cmphex(file[i], ==, want);
    }

    /* Read back across the edges, split differently. */
    guint8 r1[7], r2[5000], r3[193];
    struct iovec rv[] = {{r1, sizeof(r1)}, {r2, sizeof(r2)}, {r3, sizeof(r3)}};
    done = (struct completion){0};
    block_readv(bb, 1234 - 100, rv, 3, on_complete, &done);
    g_assert_cmpint(drain_one(bb, &done), ==, 0);
    g_assert_cmpmem(r1, sizeof(r1), file, sizeof(r1));
    g_assert_cmpmem(r2, sizeof(r2), file + sizeof(r1), sizeof(r2));
    g_assert_cmpmem(r3, sizeof(r3), file + sizeof(r1) + sizeof(r2), sizeof(r3));

    /* The last byte, and the synchronous read. */
    guint8 last = 0;
    g_assert_cmpint(sync_read(bb, 64 * 1024 - 1, &last, 1), ==, 0);
    g_assert_cmphex(last, ==, pattern_byte(64 * 1024 - 1));
    g_assert_cmpint(block_pread(bb, r2, 4, 2234), ==, 0);
    g_assert_cmphex(r2[0], ==, 0xb2);
    g_assert_cmpint(block_pread(bb, r2, 2, 64 * 1024 - 1), ==, -EIO);

    struct block_stats st;
    block_get_stats(bb, &st);
    g_assert_cmpuint(st.wr_operations, ==, 1);
    g_assert_cmpuint(st.wr_bytes, ==, 5000);
    g_assert_cmpuint(st.rd_operations, ==, 2);
    g_assert_cmpuint(st.rd_bytes, ==, 5201);
    g_assert_cmpuint(st.failed_operations, ==, 0);

    block_close(bb);
    g_free(path);
    remove_tree(dir);
}

/* Every refused request completes later, with its error, and leaves the image alone. */
static void test_checks(void)
{
    char *dir = scratch_dir();
    char *path = make_image(dir, "chk.img", 8192);
    GError *err = NULL;
    struct block_backend *bb = open_image(path, false, BLOCK_CACHE_WRITEBACK, &err);
    g_assert_no_error(err);
    guint8 buf[64];
    memset(buf, 0xee, sizeof(buf));
    struct iovec iov = {buf, sizeof(buf)};
    struct completion c = {0};

    g_assert_cmpint(sync_read(bb, 8192 - 63, buf, 64), ==, -EIO);
    g_assert_cmpint(sync_write(bb, 8192 - 63, buf, 64), ==, -EIO);
    g_assert_cmpint(sync_read(bb, 8192, buf, 1), ==, -EIO);
    g_assert_cmpint(sync_read(bb, 8192, buf, 0), ==, 0); /* empty, at the end: fine */
    g_assert_cmpint(sync_read(bb, UINT64_MAX - 10, buf, 64), ==, -EIO); /* wraps */

    /* Two elements whose lengths wrap around 2^64. */
    struct iovec huge[] = {{buf, SIZE_MAX}, {buf, 2}};
    block_readv(bb, 0, huge, 2, on_complete, &c);
    g_assert_cmpint(drain_one(bb, &c), ==, -EIO);

    c = (struct completion){0};
    block_readv(bb, 0, &iov, 0, on_complete, &c);
    g_assert_cmpint(drain_one(bb, &c), ==, -EINVAL);
    c = (struct completion){0};
    block_writev(bb, 0, &iov, -1, on_complete, &c);
    g_assert_cmpint(drain_one(bb, &c), ==, -EINVAL);
    c = (struct completion){0};
    block_readv(bb, 0, &iov, IOV_MAX + 1, on_complete, &c);
    g_assert_cmpint(drain_one(bb, &c), ==, -EINVAL);

    c = (struct completion){0};
    block_discard(bb, 4096, 8192, on_complete, &c);
    g_assert_cmpint(drain_one(bb, &c), ==, -EIO);
    c = (struct completion){0};
    block_write_zeroes(bb, UINT64_MAX, 2, on_complete, &c);
    g_assert_cmpint(drain_one(bb, &c), ==, -EIO);

    struct block_stats st;
    block_get_stats(bb, &st);
    g_assert_cmpuint(st.failed_operations, ==, 10);
    g_assert_cmpuint(st.rd_operations, ==, 1);
    g_assert_cmpuint(st.wr_operations, ==, 0);
    block_close(bb);

    /* Read-only: writes, discards, zeroes refused with EROFS; reads and flushes work. */
    bb = open_image(path, true, BLOCK_CACHE_WRITEBACK, &err);
    g_assert_no_error(err);
    g_assert_cmpint(sync_write(bb, 0, buf, 64), ==, -EROFS);
    c = (struct completion){0};
    block_discard(bb, 0, 512, on_complete, &c);
    g_assert_cmpint(drain_one(bb, &c), ==, -EROFS);
    c = (struct completion){0};
    block_write_zeroes(bb, 0, 512, on_complete, &c);
    g_assert_cmpint(drain_one(bb, &c), ==, -EROFS);
    c = (struct completion){0};
    block_flush(bb, on_complete, &c);
    g_assert_cmpint(drain_one(bb, &c), ==, 0);
    g_assert_cmpint(sync_read(bb, 0, buf, 64), ==, 0);
    block_close(bb);

    guint8 file[8192];
    file_bytes(path, 0, file, sizeof(file));
    for (size_t i = 0; i < sizeof(file); i++) {
        g_assert_cmphex(file[i], ==, pattern_byte(i));
    }
    g_free(path);
    remove_tree(dir);
}

static void test_flush_and_stats(void)
{
    char *dir = scratch_dir();
    char *path = make_image(dir, "fl.img", 4096);
    const enum block_cache_mode modes[] = {BLOCK_CACHE_WRITEBACK, BLOCK_CACHE_WRITETHROUGH,
                                           BLOCK_CACHE_UNSAFE};
    for (size_t m = 0; m < G_N_ELEMENTS(modes); m++) {
        GError *err = NULL;
        struct block_backend *bb = open_image(path, false, modes[m], &err);
        g_assert_no_error(err);
        guint8 buf[100];
        memset(buf, (int)m + 1, sizeof(buf));
        g_assert_cmpint(sync_write(bb, 10, buf, sizeof(buf)), ==, 0);
        for (int i = 0; i < 3; i++) {
            struct completion c = {0};
            block_flush(bb, on_complete, &c);
            g_assert_cmpint(drain_one(bb, &c), ==, 0);
        }
        struct block_stats st;
        block_get_stats(bb, &st);
        g_assert_cmpuint(st.flush_operations, ==, 3);
        g_assert_cmpuint(st.wr_operations, ==, 1);
        g_assert_cmpuint(st.wr_bytes, ==, 100);
        block_close(bb);
        guint8 back[100];
        file_bytes(path, 10, back, sizeof(back));
        g_assert_cmpmem(back, sizeof(back), buf, sizeof(buf));
    }
    g_free(path);
    remove_tree(dir);
}

static void test_discard_and_zeroes(void)
{
    char *dir = scratch_dir();
    char *path = make_image(dir, "dz.img", 256 * 1024);
    GError *err = NULL;
    struct block_backend *bb = open_image(path, false, BLOCK_CACHE_WRITEBACK, &err);
    g_assert_no_error(err);
    struct completion c = {0};

    /* Unaligned edges: the file system zeroes partial blocks, deallocates whole ones. */
    block_discard(bb, 1000, 100 * 1024, on_complete, &c);
    g_assert_cmpint(drain_one(bb, &c), ==, 0);
    c = (struct completion){0};
    block_write_zeroes(bb, 200 * 1024 + 3, 5000, on_complete, &c);
    g_assert_cmpint(drain_one(bb, &c), ==, 0);
    c = (struct completion){0};
    block_discard(bb, 0, 0, on_complete, &c); /* empty: nothing to do */
    g_assert_cmpint(drain_one(bb, &c), ==, 0);

    guint8 *data = g_malloc(256 * 1024);
    g_assert_cmpint(sync_read(bb, 0, data, 256 * 1024), ==, 0);
    for (uint64_t i = 0; i < 256 * 1024; i++) {
        bool zero = (i >= 1000 && i < 1000 + 100 * 1024) ||
                    (i >= 200 * 1024 + 3 && i < 200 * 1024 + 3 + 5000);
        if (data[i] != (zero ? 0 : pattern_byte(i))) {
            g_error("byte %" G_GUINT64_FORMAT " is 0x%x", i, data[i]);
        }
    }
    struct block_stats st;
    block_get_stats(bb, &st);
    g_assert_cmpuint(st.discard_operations, ==, 2);
    g_assert_cmpuint(block_size(bb), ==, 256 * 1024); /* KEEP_SIZE */
    struct stat sb;
    g_assert_cmpint(g_stat(path, &sb), ==, 0);
    g_assert_cmpint(sb.st_size, ==, 256 * 1024);
    block_close(bb);
    g_free(data);
    g_free(path);
    remove_tree(dir);
}

/* The image shrank under xendm: reads within the size it had still succeed, with zeroes. */
static void test_read_past_eof(void)
{
    char *dir = scratch_dir();
    char *path = make_image(dir, "eof.img", 8192);
    GError *err = NULL;
    struct block_backend *bb = open_image(path, false, BLOCK_CACHE_WRITEBACK, &err);
    g_assert_no_error(err);
    g_assert_cmpint(truncate(path, 4096), ==, 0);

    guint8 buf[4000];
    memset(buf, 0x55, sizeof(buf));
    g_assert_cmpint(sync_read(bb, 3000, buf, sizeof(buf)), ==, 0);
    for (size_t i = 0; i < sizeof(buf); i++) {
        g_assert_cmphex(buf[i], ==, 3000 + i < 4096 ? pattern_byte(3000 + i) : 0);
    }
    block_close(bb);
    g_free(path);
    remove_tree(dir);
}

/* An O_DIRECT backend, or NULL (the test skipped) where the file system refuses O_DIRECT. */
static struct block_backend *open_direct(const char *path, enum block_cache_mode cache)
{
    GError *err = NULL;
    struct block_backend *bb = open_image(path, false, cache, &err);
    if (bb == NULL) {
        g_assert_nonnull(strstr(err->message, "O_DIRECT"));
        g_test_skip(err->message);
        g_error_free(err);
    }
    return bb;
}

static void test_direct_unaligned(void)
{
    char *dir = scratch_dir();
    char *path = make_image(dir, "direct.img", 3 * 1024 * 1024);
    const enum block_cache_mode modes[] = {BLOCK_CACHE_NONE, BLOCK_CACHE_DIRECTSYNC};

    for (size_t m = 0; m < G_N_ELEMENTS(modes); m++) {
        g_free(make_image(dir, "direct.img", 3 * 1024 * 1024)); /* afresh for each mode */
        struct block_backend *bb = open_direct(path, modes[m]);
        if (bb == NULL) {
            break;
        }
        /* Buffers at odd addresses, an odd offset, pieces crossing block edges. */
        guint8 *raw = g_malloc(20000);
        guint8 *w1 = raw + 1, *w2 = raw + 3001;
        memset(w1, 0x11 + (int)m, 3000);
        memset(w2, 0x22 + (int)m, 5000);
        struct iovec wv[] = {{w1, 3000}, {w2, 5000}};
        struct completion c = {0};
        block_writev(bb, 1001, wv, 2, on_complete, &c);
        g_assert_cmpint(drain_one(bb, &c), ==, 0);

        guint8 file[10000];
        file_bytes(path, 0, file, sizeof(file));
        for (size_t i = 0; i < sizeof(file); i++) {
            guint8 want = i < 1001 ? pattern_byte(i)
                          : i < 4001 ? 0x11 + m
                          : i < 9001 ? 0x22 + m
                                     : pattern_byte(i);
            g_assert_cmphex(file[i], ==, want);
        }
        /* Unaligned read back through odd buffers, and an aligned one. */
        guint8 *r = raw + 8003;
        g_assert_cmpint(sync_read(bb, 7, r, 9993), ==, 0);
        g_assert_cmpmem(r, 9993, file + 7, 9993);
        void *aligned = NULL;
        g_assert_cmpint(posix_memalign(&aligned, 4096, 8192), ==, 0);
        g_assert_cmpint(sync_read(bb, 0, aligned, 8192), ==, 0);
        g_assert_cmpmem(aligned, 8192, file, 8192);
        memset(aligned, 0x77, 8192);
        g_assert_cmpint(sync_write(bb, 8192, aligned, 8192), ==, 0);
        g_assert_cmpint(block_pread(bb, r, 3, 16383), ==, 0);
        g_assert_cmphex(r[0], ==, 0x77);
        g_assert_cmphex(r[1], ==, pattern_byte(16384));
        /* A bounced request bigger than one bounce chunk. */
        const size_t big_len = 3 * 1024 * 1024 - 1;
        guint8 *big = g_malloc(big_len + 1);
        g_assert_cmpint(sync_read(bb, 1, big + 1, big_len), ==, 0);
        for (size_t i = 16384; i < big_len; i++) {
            g_assert_cmphex(big[1 + i], ==, pattern_byte(1 + i));
        }
        g_free(big);
        free(aligned);
        g_free(raw);
        block_close(bb);
    }
    g_free(path);
    remove_tree(dir);
}

/* A file whose size is not a block multiple keeps its size after a write at its tail. */
static void test_direct_odd_size(void)
{
    char *dir = scratch_dir();
    char *path = make_image(dir, "odd.img", 1000);
    struct block_backend *bb = open_direct(path, BLOCK_CACHE_NONE);
    if (bb != NULL) {
        guint8 buf[100];
        memset(buf, 0x99, sizeof(buf));
        g_assert_cmpint(sync_write(bb, 900, buf, sizeof(buf)), ==, 0);
        guint8 back[1000];
        g_assert_cmpint(sync_read(bb, 0, back, sizeof(back)), ==, 0);
        for (size_t i = 0; i < sizeof(back); i++) {
            g_assert_cmphex(back[i], ==, i < 900 ? pattern_byte(i) : 0x99);
        }
        struct completion c = {0};
        block_write_zeroes(bb, 999, 1, on_complete, &c);
        g_assert_cmpint(drain_one(bb, &c), ==, 0);
        block_close(bb);
        struct stat sb;
        g_assert_cmpint(g_stat(path, &sb), ==, 0);
        g_assert_cmpint(sb.st_size, ==, 1000);
        file_bytes(path, 998, back, 2);
        g_assert_cmphex(back[0], ==, 0x99);
        g_assert_cmphex(back[1], ==, 0);
    }
    g_free(path);
    remove_tree(dir);
}

/* A passed descriptor: used as it is, and closed with the backend. */
static void test_passed_fd(void)
{
    char *dir = scratch_dir();
    char *path = make_image(dir, "fd.img", 4096);
    int fd = open(path, O_RDWR);
    g_assert_cmpint(fd, >=, 0);
    struct block_open_options o = {.filename = NULL, .fd = fd, .cache = BLOCK_CACHE_WRITETHROUGH,
                                   .aio = test_aio};
    GError *err = NULL;
    struct block_backend *bb = block_open(&o, &err);
    g_assert_no_error(err);
    g_assert_cmpint(block_aio_engine(bb), ==, test_aio);
    g_assert_cmpuint(block_size(bb), ==, 4096);
    g_assert_nonnull(strstr(block_filename(bb), "fd"));
    g_assert_cmpint(fcntl(fd, F_GETFD) & FD_CLOEXEC, ==, FD_CLOEXEC);
    guint8 buf[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    g_assert_cmpint(sync_write(bb, 4086, buf, sizeof(buf)), ==, 0);
    block_close(bb);
    g_assert_cmpint(fcntl(fd, F_GETFD), ==, -1);
    guint8 back[10];
    file_bytes(path, 4086, back, sizeof(back));
    g_assert_cmpmem(back, sizeof(back), buf, sizeof(buf));
    g_free(path);
    remove_tree(dir);
}

#define MANY 128
#define BLOCK 4096

/* Many requests at once: each completes once, with its own data, whatever the order. */
static void test_many_in_flight(void)
{
    char *dir = scratch_dir();
    char *path = make_image(dir, "many.img", MANY * BLOCK);
    GError *err = NULL;
    struct block_backend *bb = open_image(path, false, BLOCK_CACHE_WRITEBACK, &err);
    g_assert_no_error(err);
    guint8 *wbuf = g_malloc(MANY * BLOCK), *rbuf = g_malloc0(MANY * BLOCK);
    struct completion *c = g_new0(struct completion, MANY);

    completions_seen = 0;
    for (unsigned i = 0; i < MANY; i++) {
        memset(wbuf + i * BLOCK, (int)i, BLOCK);
        struct iovec iov = {wbuf + i * BLOCK, BLOCK};
        block_writev(bb, (uint64_t)i * BLOCK, &iov, 1, on_complete, &c[i]);
    }
    g_assert_cmpuint(block_in_flight(bb), ==, MANY);
    block_drain(bb);
    g_assert_cmpuint(block_in_flight(bb), ==, 0);
    for (unsigned i = 0; i < MANY; i++) {
        g_assert_true(c[i].done);
        g_assert_cmpint(c[i].ret, ==, 0);
        c[i] = (struct completion){0};
        struct iovec iov = {rbuf + i * BLOCK, BLOCK};
        block_readv(bb, (uint64_t)i * BLOCK, &iov, 1, on_complete, &c[i]);
    }
    block_drain(bb);
    unsigned out_of_order = 0;
    for (unsigned i = 0; i < MANY; i++) {
        g_assert_true(c[i].done);
        out_of_order += c[i].order != MANY + i;
    }
    g_test_message("%u of %u reads completed out of submission order", out_of_order, MANY);
    g_assert_cmpmem(rbuf, MANY * BLOCK, wbuf, MANY * BLOCK);
    struct block_stats st;
    block_get_stats(bb, &st);
    g_assert_cmpuint(st.rd_operations, ==, MANY);
    g_assert_cmpuint(st.wr_operations, ==, MANY);
    g_assert_cmpuint(st.rd_bytes, ==, MANY * BLOCK);
    block_close(bb);
    g_free(c);
    g_free(wbuf);
    g_free(rbuf);
    g_free(path);
    remove_tree(dir);
}

/* Without drain, completions arrive through the default main context, on its thread. */
static void test_main_loop_completion(void)
{
    char *dir = scratch_dir();
    char *path = make_image(dir, "loop.img", 64 * 1024);
    GError *err = NULL;
    struct block_backend *bb = open_image(path, false, BLOCK_CACHE_WRITEBACK, &err);
    g_assert_no_error(err);
    struct completion c[16] = {{0}};
    guint8 buf[16][512];

    for (unsigned i = 0; i < 16; i++) {
        struct iovec iov = {buf[i], sizeof(buf[i])};
        block_readv(bb, i * 512, &iov, 1, on_complete, &c[i]);
        g_assert_false(c[i].done);
    }
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (block_in_flight(bb) > 0 && g_get_monotonic_time() < deadline) {
        g_main_context_iteration(NULL, TRUE);
    }
    g_assert_cmpuint(block_in_flight(bb), ==, 0);
    for (unsigned i = 0; i < 16; i++) {
        g_assert_true(c[i].done);
        g_assert_cmpint(c[i].ret, ==, 0);
        g_assert_true(c[i].thread == g_thread_self());
        g_assert_cmphex(buf[i][5], ==, pattern_byte(i * 512 + 5));
    }
    /* A refused request also arrives through the loop, never inside the call. */
    struct completion bad = {0};
    struct iovec iov = {buf[0], 1};
    block_readv(bb, 64 * 1024, &iov, 1, on_complete, &bad);
    g_assert_false(bad.done);
    while (!bad.done && g_get_monotonic_time() < deadline) {
        g_main_context_iteration(NULL, TRUE);
    }
    g_assert_cmpint(bad.ret, ==, -EIO);
    block_close(bb);
    /* The loop has nothing left of the backend: an iteration finds nothing to do. */
    g_assert_false(g_main_context_iteration(NULL, FALSE));
    g_free(path);
    remove_tree(dir);
}

/* Closing waits: every callback has run when block_close returns. */
static void test_close_in_flight(void)
{
    char *dir = scratch_dir();
    char *path = make_image(dir, "close.img", 1024 * 1024);
    GError *err = NULL;
    struct block_backend *bb = open_image(path, false, BLOCK_CACHE_WRITEBACK, &err);
    g_assert_no_error(err);
    struct completion c[32] = {{0}};
    guint8 *buf = g_malloc0(32 * 8192);

    for (unsigned i = 0; i < 32; i++) {
        struct iovec iov = {buf + i * 8192, 8192};
        if (i % 2) {
            block_writev(bb, i * 8192, &iov, 1, on_complete, &c[i]);
        } else {
            block_readv(bb, i * 8192, &iov, 1, on_complete, &c[i]);
        }
    }
    struct completion fl = {0};
    block_flush(bb, on_complete, &fl);
    block_close(bb);
    for (unsigned i = 0; i < 32; i++) {
        g_assert_true(c[i].done);
        g_assert_cmpint(c[i].ret, ==, 0);
    }
    g_assert_true(fl.done);
    block_close(NULL);
    g_free(buf);
    g_free(path);
    remove_tree(dir);
}

/* A callback that submits the next request (as a device continuing a transfer does). */
struct chain {
    struct block_backend *bb;
    guint8 buf[512];
    unsigned left;
    unsigned ran;
    bool close_at_end;
};

static void chain_step(void *opaque, int ret)
{
    struct chain *ch = opaque;
    g_assert_cmpint(ret, ==, 0);
    ch->ran++;
    if (ch->left == 0) {
        if (ch->close_at_end) {
            block_close(ch->bb); /* from inside its own completion */
            ch->bb = NULL;
        }
        return;
    }
    ch->left--;
    struct iovec iov = {ch->buf, sizeof(ch->buf)};
    block_readv(ch->bb, ch->left * 512, &iov, 1, chain_step, ch);
}

static void test_chained_requests(void)
{
    char *dir = scratch_dir();
    char *path = make_image(dir, "chain.img", 64 * 512);
    GError *err = NULL;
    struct chain ch = {.left = 63};
    ch.bb = open_image(path, false, BLOCK_CACHE_WRITEBACK, &err);
    g_assert_no_error(err);
    struct iovec iov = {ch.buf, sizeof(ch.buf)};
    block_readv(ch.bb, 63 * 512, &iov, 1, chain_step, &ch);
    block_drain(ch.bb);
    g_assert_cmpuint(ch.ran, ==, 64);
    g_assert_cmphex(ch.buf[1], ==, pattern_byte(1));

    /* The same through the main loop, the last callback closing the backend. */
    ch.left = 10;
    ch.ran = 0;
    ch.close_at_end = true;
    block_readv(ch.bb, 0, &iov, 1, chain_step, &ch);
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (ch.bb != NULL && g_get_monotonic_time() < deadline) {
        g_main_context_iteration(NULL, TRUE);
    }
    g_assert_null(ch.bb);
    g_assert_cmpuint(ch.ran, ==, 11);
    g_free(path);
    remove_tree(dir);
}

/*
 * Under -sandbox's seccomp filter (system/sandbox.c), installed before the first request, so
 * that the worker threads start under it: any system call of the block layer outside the
 * allow-list kills the process with SIGSYS. Opening a new file is refused with an error.
 */
/* In the test's subprocess: every kind of request, the filter installed after the open. */
static void sandboxed_requests(struct block_backend *bb, const char *path, int spare_fd)
{
    GError *err = NULL;
    struct block_open_options o = {.filename = path, .fd = -1, .cache = BLOCK_CACHE_WRITEBACK};
    struct sandbox_policy policy = {0};
    g_assert_true(sandbox_install(&policy, &err));
    g_assert_no_error(err);

    guint8 buf[3000];
    memset(buf, 0x5a, sizeof(buf));
    g_assert_cmpint(sync_write(bb, 777, buf, sizeof(buf)), ==, 0);
    memset(buf, 0, sizeof(buf));
    g_assert_cmpint(sync_read(bb, 777, buf, sizeof(buf)), ==, 0);
    g_assert_cmphex(buf[2999], ==, 0x5a);
    struct completion c = {0};
    block_flush(bb, on_complete, &c);
    g_assert_cmpint(drain_one(bb, &c), ==, 0);
    c = (struct completion){0};
    block_discard(bb, 8192, 8192, on_complete, &c);
    g_assert_cmpint(drain_one(bb, &c), ==, 0);
    c = (struct completion){0};
    block_write_zeroes(bb, 100, 10, on_complete, &c);
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (!c.done && g_get_monotonic_time() < deadline) {
        g_main_context_iteration(NULL, TRUE);
    }
    g_assert_cmpint(c.ret, ==, 0);

    /* A new medium cannot be opened any more: an error, not a crash. */
    g_assert_null(block_open(&o, &err));
    g_assert_nonnull(strstr(err->message, path));
    g_clear_error(&err);

    /*
     * A passed descriptor still can; a ring cannot be made under the filter (io_uring_setup
     * gives ENOSYS), so aio=io_uring runs it on the threads.
     */
    o = (struct block_open_options){.fd = spare_fd, .cache = BLOCK_CACHE_WRITEBACK,
                                    .aio = test_aio};
    struct block_backend *passed = block_open(&o, &err);
    g_assert_no_error(err);
    g_assert_cmpint(block_aio_engine(passed), ==, BLOCK_AIO_THREADS);
    memset(buf, 0, sizeof(buf));
    g_assert_cmpint(sync_read(passed, 777, buf, sizeof(buf)), ==, 0);
    g_assert_cmphex(buf[0], ==, 0x5a);
    block_close(passed);
}

static void test_under_sandbox(void)
{
#if defined(__SANITIZE_ADDRESS__)
    g_test_skip("a sanitizer's run-time needs system calls outside the allow-list");
    return;
#endif
    if (!g_test_subprocess()) {
        /* A fresh process: its worker pool starts inside the filter. */
        g_test_trap_subprocess(NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
        g_test_trap_assert_passed();
        return;
    }
    char *dir = scratch_dir();
    char *path = make_image(dir, "sandbox.img", 64 * 1024);
    /* cache=none where the file system has O_DIRECT, else writeback. */
    GError *err = NULL;
    struct block_backend *probe = open_image(path, false, BLOCK_CACHE_NONE, &err);
    enum block_cache_mode cache = probe != NULL ? BLOCK_CACHE_NONE : BLOCK_CACHE_WRITEBACK;
    g_clear_error(&err);
    block_close(probe);
    struct block_backend *bb = open_image(path, false, cache, &err);
    g_assert_no_error(err);
    g_test_message("cache=%s", cache == BLOCK_CACHE_NONE ? "none" : "writeback");
    int spare_fd = open(path, O_RDWR | O_CLOEXEC);
    g_assert_cmpint(spare_fd, >=, 0);
    /* The filter refuses unlink: the image goes now, its descriptor kept by the backend. */
    g_remove(path);
    remove_tree(dir);
    sandboxed_requests(bb, path, spare_fd);
    block_close(bb);
    g_free(path);
}

/* ---- io_uring only ---- */

/*
 * Reads across the end of a file that shrank, in several pieces: the ring returns a short
 * read, the rest is resubmitted from the right element and offset, and what lies past the
 * end reads as zeroes; with O_DIRECT the short read itself ends the request.
 */
static void short_read_case(const char *dir, enum block_cache_mode cache)
{
    GError *err = NULL;
    char *path = make_image(dir, "short.img", 16384); /* afresh */
    struct block_backend *bb = open_image(path, false, cache, &err);
    if (bb == NULL) {
        g_test_message("cache=%d: %s", cache, err->message);
        g_clear_error(&err);
        g_free(path);
        return;
    }
    g_assert_cmpint(truncate(path, 4096 + 512), ==, 0);
    guint8 *buf = NULL;
    g_assert_cmpint(posix_memalign((void **)&buf, 4096, 16384), ==, 0);
    memset(buf, 0x55, 16384);
    /* Pieces of 4096, 512, 3584 and 8192: the end of the file falls between two of them. */
    struct iovec iov[] = {{buf, 4096}, {buf + 4096, 512}, {buf + 4608, 3584}, {buf + 8192, 8192}};
    struct completion c = {0};
    block_readv(bb, 0, iov, 4, on_complete, &c);
    g_assert_cmpint(drain_one(bb, &c), ==, 0);
    for (size_t i = 0; i < 16384; i++) {
        if (buf[i] != (i < 4608 ? pattern_byte(i) : 0)) {
            g_error("cache=%d: byte %zu is 0x%x", cache, i, buf[i]);
        }
    }
    struct block_stats st;
    block_get_stats(bb, &st);
    g_assert_cmpuint(st.rd_bytes, ==, 16384);
    block_close(bb);
    free(buf);
    g_free(path);
}

static void test_short_read(void)
{
    char *dir = scratch_dir();
    short_read_case(dir, BLOCK_CACHE_WRITEBACK);
    short_read_case(dir, BLOCK_CACHE_NONE);
    remove_tree(dir);
}

#define RING_MANY 1000

/*
 * More requests than the ring has entries, then a flush, all in one go: the ring holds the
 * excess back instead of failing, each request completes once, and the flush (IO_DRAIN)
 * completes after every write submitted before it.
 */
static void ring_full_case(const char *dir, enum block_cache_mode cache, unsigned many)
{
    char *path = make_image(dir, "full.img", many * 512);
    GError *err = NULL;
    struct block_backend *bb = open_image(path, false, cache, &err);
    if (bb == NULL) {
        g_test_message("cache=%d: %s", cache, err->message);
        g_clear_error(&err);
        g_free(path);
        return;
    }
    guint8 *wbuf = NULL, *rbuf = g_malloc0(many * 512);
    g_assert_cmpint(posix_memalign((void **)&wbuf, 4096, many * 512), ==, 0);
    struct completion *c = g_new0(struct completion, many);
    struct completion fl = {0};

    completions_seen = 0;
    for (unsigned i = 0; i < many; i++) {
        memset(wbuf + i * 512, (int)(i * 3 + cache), 512);
        struct iovec iov = {wbuf + i * 512, 512};
        block_writev(bb, (uint64_t)i * 512, &iov, 1, on_complete, &c[i]);
    }
    block_flush(bb, on_complete, &fl);
    g_assert_cmpuint(block_in_flight(bb), ==, many + 1);
    gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    while (block_in_flight(bb) > 0 && g_get_monotonic_time() < deadline) {
        g_main_context_iteration(NULL, TRUE);
    }
    g_assert_cmpuint(block_in_flight(bb), ==, 0);
    g_assert_true(fl.done);
    g_assert_cmpint(fl.ret, ==, 0);
    for (unsigned i = 0; i < many; i++) {
        g_assert_true(c[i].done);
        g_assert_cmpint(c[i].ret, ==, 0);
        g_assert_cmpuint(c[i].order, <, fl.order);
    }
    g_assert_cmpint(block_pread(bb, rbuf, many * 512, 0), ==, 0);
    g_assert_cmpmem(rbuf, many * 512, wbuf, many * 512);
    struct block_stats st;
    block_get_stats(bb, &st);
    g_assert_cmpuint(st.wr_operations, ==, many);
    g_assert_cmpuint(st.flush_operations, ==, 1);
    block_close(bb);
    g_free(c);
    free(wbuf);
    g_free(rbuf);
    g_free(path);
}

/* In the page cache, and with O_DIRECT, where writes complete later than they are issued. */
static void test_ring_full_and_flush_order(void)
{
    char *dir = scratch_dir();
    ring_full_case(dir, BLOCK_CACHE_WRITEBACK, RING_MANY);
    ring_full_case(dir, BLOCK_CACHE_NONE, RING_MANY);
    /* All in the ring at once: only IO_DRAIN holds the flush back. */
    ring_full_case(dir, BLOCK_CACHE_NONE, 100);
    remove_tree(dir);
}

/*
 * O_DIRECT: an aligned write in the ring and a bounced (read-modify-write) write to the same
 * block, submitted together, many times: the bounced one waits for the other (the gate), so
 * the block always ends as "aligned, then bounced", never with the aligned write's bytes
 * outside the bounced range undone by the read-modify-write.
 */
static void test_direct_gate(void)
{
    char *dir = scratch_dir();
    char *path = make_image(dir, "gate.img", 64 * 1024);
    struct block_backend *bb = open_direct(path, BLOCK_CACHE_NONE);
    if (bb != NULL) {
        guint8 *aligned = NULL;
        g_assert_cmpint(posix_memalign((void **)&aligned, 4096, 4096), ==, 0);
        guint8 odd[11];
        memset(odd, 0xbb, sizeof(odd));
        for (int round = 0; round < 50; round++) {
            memset(aligned, round, 4096);
            struct iovec a = {aligned, 4096}, b = {odd, sizeof(odd)};
            struct completion ca = {0}, cb = {0}, cr = {0};
            guint8 back[4096];
            struct iovec r = {back, sizeof(back)};
            block_writev(bb, 8192, &a, 1, on_complete, &ca);
            block_writev(bb, 8192 + 100, &b, 1, on_complete, &cb);
            block_readv(bb, 8192, &r, 1, on_complete, &cr); /* waits behind the bounce */
            block_drain(bb);
            g_assert_cmpint(ca.ret, ==, 0);
            g_assert_cmpint(cb.ret, ==, 0);
            g_assert_cmpint(cr.ret, ==, 0);
            for (size_t i = 0; i < sizeof(back); i++) {
                guint8 want = i >= 100 && i < 111 ? 0xbb : (guint8)round;
                if (back[i] != want) {
                    g_error("round %d: byte %zu is 0x%x", round, i, back[i]);
                }
            }
        }
        free(aligned);
        block_close(bb);
    }
    g_free(path);
    remove_tree(dir);
}

/* Counts lines holding `needle` that fn writes to stderr. */
static unsigned stderr_lines_with(void (*fn)(void *), void *arg, const char *needle)
{
    char *tmp = NULL;
    int fd = g_file_open_tmp("test-block-stderr-XXXXXX", &tmp, NULL);
    int saved = dup(STDERR_FILENO);
    g_assert_cmpint(fd, >=, 0);
    fflush(stderr);
    dup2(fd, STDERR_FILENO);
    fn(arg);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fd);
    char *text = NULL;
    g_assert_true(g_file_get_contents(tmp, &text, NULL, NULL));
    unsigned n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p++) {
        n++;
    }
    g_test_message("stderr: %s", text);
    g_remove(tmp);
    g_free(tmp);
    g_free(text);
    return n;
}

/* Two backends asking for io_uring while no ring can be made, then one asking for threads. */
static void open_three_without_rings(void *opaque)
{
    const char *path = opaque;
    const enum block_aio_mode asked[] = {BLOCK_AIO_IO_URING, BLOCK_AIO_NATIVE, BLOCK_AIO_THREADS};
    for (size_t i = 0; i < G_N_ELEMENTS(asked); i++) {
        GError *err = NULL;
        struct block_open_options o = {.filename = path, .fd = -1, .aio = asked[i]};
        struct block_backend *bb = block_open(&o, &err);
        g_assert_no_error(err);
        g_assert_cmpint(block_aio_engine(bb), ==, BLOCK_AIO_THREADS);
        guint8 buf[100];
        memset(buf, 0x3c + (int)i, sizeof(buf));
        g_assert_cmpint(sync_write(bb, 4000, buf, sizeof(buf)), ==, 0);
        memset(buf, 0, sizeof(buf));
        g_assert_cmpint(sync_read(bb, 4000, buf, sizeof(buf)), ==, 0);
        g_assert_cmphex(buf[99], ==, 0x3c + i);
        block_close(bb);
    }
}

/* io_uring_queue_init failing (made to, here, with ENOSYS): threads, one warning. */
static void test_fallback(void)
{
    char *dir = scratch_dir();
    char *path = make_image(dir, "fallback.img", 8192);

    block_io_uring_fail_setup(ENOSYS);
    unsigned warnings = stderr_lines_with(open_three_without_rings, path,
                                           "io_uring is not available");
    g_assert_true(block_io_uring_fail_setup(0));
    g_assert_cmpuint(warnings, ==, 1);

    /* Rings again: a backend asking for one gets one, and no warning. */
    GError *err = NULL;
    struct block_open_options o = {.filename = path, .fd = -1, .aio = BLOCK_AIO_NATIVE};
    struct block_backend *bb = block_open(&o, &err);
    g_assert_no_error(err);
    g_assert_cmpint(block_aio_engine(bb), ==, BLOCK_AIO_IO_URING);
    block_close(bb);
    g_assert_false(block_io_uring_fail_setup(0));
    g_free(path);
    remove_tree(dir);
}

/* -drive aio=: the three names, passed on to the backend; anything else refused. */
static struct drive *drive_with(const char *path, const char *aio, GError **err)
{
    char *text = g_strdup_printf("file=%s,if=none,id=d0,aio=%s", path, aio);
    struct kv_list *kv = kv_parse(text, NULL, err);
    g_assert_nonnull(kv);
    struct drive *d = drive_new(kv, err);
    kv_free(kv);
    g_free(text);
    return d;
}

static void test_drive_aio(void)
{
    char *dir = scratch_dir();
    char *path = make_image(dir, "drive.img", 8192);
    const struct {
        const char *text;
        enum block_aio_mode mode, engine;
    } cases[] = {
        {"threads", BLOCK_AIO_THREADS, BLOCK_AIO_THREADS},
        {"io_uring", BLOCK_AIO_IO_URING, BLOCK_AIO_IO_URING},
        {"native", BLOCK_AIO_NATIVE, BLOCK_AIO_IO_URING},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        GError *err = NULL;
        struct drive *d = drive_with(path, cases[i].text, &err);
        g_assert_no_error(err);
        g_assert_cmpint(d->aio, ==, cases[i].mode);
        g_assert_cmpint(block_aio_engine(d->backend), ==, cases[i].engine);
        drive_free(d);
    }
    GError *err = NULL;
    g_assert_null(drive_with(path, "posix", &err));
    g_assert_nonnull(strstr(err->message, "aio=posix"));
    g_clear_error(&err);
    enum block_aio_mode m;
    g_assert_false(block_aio_mode_parse("IO_URING", &m));
    g_assert_false(block_aio_mode_parse(NULL, &m));
    g_free(path);
    remove_tree(dir);
}

/* ---- registration ---- */

struct aio_case {
    enum block_aio_mode aio;
    GTestFunc fn;
};

/* Whether this host can make a ring (a kernel with io_uring, not disabled by sysctl). */
static bool host_has_io_uring(void)
{
    char *dir = scratch_dir();
    char *path = make_image(dir, "probe.img", 512);
    struct block_open_options o = {.filename = path, .fd = -1, .aio = BLOCK_AIO_IO_URING};
    struct block_backend *bb = block_open(&o, NULL);
    bool ring = bb != NULL && block_aio_engine(bb) == BLOCK_AIO_IO_URING;
    block_close(bb);
    block_io_uring_fail_setup(0); /* forget a warning the probe gave */
    g_free(path);
    remove_tree(dir);
    return ring;
}

static void run_with_aio(gconstpointer data)
{
    const struct aio_case *tc = data;
    if (tc->aio == BLOCK_AIO_IO_URING && !host_has_io_uring()) {
        g_test_skip("no io_uring on this host (or a build without liburing)");
        return;
    }
    test_aio = tc->aio;
    tc->fn();
    test_aio = BLOCK_AIO_THREADS;
}

/* /block/NAME with threads, /block/io_uring/NAME with io_uring. */
static void add_both(const char *name, GTestFunc fn)
{
    static const enum block_aio_mode modes[] = {BLOCK_AIO_THREADS, BLOCK_AIO_IO_URING};
    for (size_t i = 0; i < G_N_ELEMENTS(modes); i++) {
        struct aio_case *tc = g_new(struct aio_case, 1); /* lives as long as the test run */
        *tc = (struct aio_case){.aio = modes[i], .fn = fn};
        char *path = g_strdup_printf("/block/%s%s", i == 0 ? "" : "io_uring/", name);
        g_test_add_data_func(path, tc, run_with_aio);
        g_free(path);
    }
}

static void add_io_uring_only(const char *name, GTestFunc fn)
{
    struct aio_case *tc = g_new(struct aio_case, 1);
    *tc = (struct aio_case){.aio = BLOCK_AIO_IO_URING, .fn = fn};
    char *path = g_strdup_printf("/block/io_uring/%s", name);
    g_test_add_data_func(path, tc, run_with_aio);
    g_free(path);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/block/cache-mode-parse", test_cache_mode_parse);
    g_test_add_func("/block/open-errors", test_open_errors);
    add_both("round-trip", test_round_trip);
    add_both("checks", test_checks);
    add_both("flush-and-stats", test_flush_and_stats);
    add_both("discard-and-zeroes", test_discard_and_zeroes);
    add_both("read-past-eof", test_read_past_eof);
    add_both("direct-unaligned", test_direct_unaligned);
    add_both("direct-odd-size", test_direct_odd_size);
    add_both("passed-fd", test_passed_fd);
    add_both("many-in-flight", test_many_in_flight);
    add_both("main-loop-completion", test_main_loop_completion);
    add_both("close-in-flight", test_close_in_flight);
    add_both("chained-requests", test_chained_requests);
    add_both("under-sandbox", test_under_sandbox);
    add_io_uring_only("short-read", test_short_read);
    add_io_uring_only("ring-full-and-flush-order", test_ring_full_and_flush_order);
    add_io_uring_only("direct-gate", test_direct_gate);
    add_io_uring_only("fallback", test_fallback);
    add_io_uring_only("drive-aio", test_drive_aio);
    return g_test_run();
}
