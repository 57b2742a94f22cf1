/* Address spaces: lookup, overlap rejection, access splitting and widening, listeners. */
#include <glib.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "stderr-capture.h"
#include "xendm/common.h"
#include "xendm/memory.h"

/* A byte-register device: 8 registers holding 0x10 + i, logging each access. */
struct fake_dev {
    uint8_t regs[16];
    unsigned reads, writes;
    uint64_t last_offset;
    unsigned last_size;
};

static uint64_t fake_read(void *opaque, uint64_t offset, unsigned size)
{
    struct fake_dev *d = opaque;
    uint64_t value = 0;

    d->reads++;
    d->last_offset = offset;
    d->last_size = size;
    for (unsigned i = 0; i < size; i++) {
        value |= (uint64_t)d->regs[(offset + i) % sizeof(d->regs)] << (8 * i);
    }
    return value;
}

static void fake_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct fake_dev *d = opaque;

    d->writes++;
    d->last_offset = offset;
    d->last_size = size;
    for (unsigned i = 0; i < size; i++) {
        d->regs[(offset + i) % sizeof(d->regs)] = (uint8_t)(value >> (8 * i));
    }
}

static const struct region_ops byte_ops = {fake_read, fake_write, 1, 1};
static const struct region_ops dword_ops = {fake_read, fake_write, 4, 4};
static const struct region_ops any_ops = {fake_read, fake_write, 0, 0};

static void fake_init(struct fake_dev *d)
{
    memset(d, 0, sizeof(*d));
    for (unsigned i = 0; i < sizeof(d->regs); i++) {
        d->regs[i] = (uint8_t)(0x10 + i);
    }
}

static void test_overlap_rejected(void)
{
    struct address_space *as = address_space_new(ADDRESS_SPACE_IO, "io");
    struct fake_dev d;
    struct region *a, *b;

    fake_init(&d);
    a = region_add(as, "a", 0x3f8, 8, &byte_ops, &d);
    g_assert_nonnull(a);
    g_assert_null(region_add(as, "inside", 0x3fa, 2, &byte_ops, &d));
    g_assert_null(region_add(as, "tail", 0x3ff, 4, &byte_ops, &d));
    g_assert_null(region_add(as, "head", 0x3f0, 9, &byte_ops, &d));
    g_assert_null(region_add(as, "cover", 0x3f0, 0x20, &byte_ops, &d));
    g_assert_null(region_add(as, "empty", 0x100, 0, &byte_ops, &d));
    g_assert_null(region_add(as, "beyond", 0xfffe, 4, &byte_ops, &d));
    g_assert_null(region_add(as, "bad sizes", 0x100, 4, &(struct region_ops){fake_read, fake_write,
                                                                            3, 4}, &d));
    b = region_add(as, "adjacent", 0x400, 8, &byte_ops, &d);
    g_assert_nonnull(b);
    g_assert_cmpuint(address_space_count(as), ==, 2);
    g_assert_false(region_move(b, 0x3fc));
    g_assert_true(region_move(b, 0x500));
    g_assert_cmphex(region_base(b), ==, 0x500);
    region_del(a);
    region_del(b);
    g_assert_cmpuint(address_space_count(as), ==, 0);
    address_space_free(as);
}

static void test_lookup(void)
{
    struct address_space *as = address_space_new(ADDRESS_SPACE_MMIO, "mmio");
    struct fake_dev d;
    struct region *r[20];

    fake_init(&d);
    /* Added out of order, to check the sorted insert. */
    for (unsigned i = 0; i < 20; i++) {
        uint64_t base = 0xf0000000ull + ((i * 7) % 20) * 0x1000;
        char name[16];
        snprintf(name, sizeof(name), "r%u", i);
        r[i] = region_add(as, name, base, 0x800, &any_ops, &d);
        g_assert_nonnull(r[i]);
    }
    for (unsigned i = 0; i < 20; i++) {
        uint64_t base = region_base(r[i]);
        g_assert_true(address_space_lookup(as, base) == r[i]);
        g_assert_true(address_space_lookup(as, base + 0x7ff) == r[i]);
        g_assert_null(address_space_lookup(as, base + 0x800));
    }
    g_assert_null(address_space_lookup(as, 0));
    g_assert_null(address_space_lookup(as, UINT64_MAX));
    g_assert_cmpstr(region_name(address_space_lookup(as, 0xf0000000ull)), ==, "r0");
    for (unsigned i = 0; i < 20; i++) {
        region_del(r[i]);
    }
    address_space_free(as);
}

static void test_split_inl_over_bytes(void)
{
    struct address_space *as = address_space_new(ADDRESS_SPACE_IO, "io");
    struct fake_dev d;
    struct region *r;

    fake_init(&d);
    r = region_add(as, "uart", 0x3f8, 8, &byte_ops, &d);
    /* An inl on a byte-wide device reads four consecutive registers, little-endian. */
    g_assert_cmphex(address_space_read(as, 0x3f8, 4), ==, 0x13121110);
    g_assert_cmpuint(d.reads, ==, 4);
    g_assert_cmpuint(d.last_size, ==, 1);
    address_space_write(as, 0x3fc, 0xaabbccdd, 4);
    g_assert_cmpuint(d.writes, ==, 4);
    g_assert_cmphex(d.regs[4], ==, 0xdd);
    g_assert_cmphex(d.regs[7], ==, 0xaa);
    region_del(r);
    address_space_free(as);
}

static void test_widening(void)
{
    struct address_space *as = address_space_new(ADDRESS_SPACE_MMIO, "mmio");
    struct fake_dev d;
    struct region *r;

    fake_init(&d);
    r = region_add(as, "dword", 0x1000, 16, &dword_ops, &d);
    /* A byte read of a dword-only register reads the dword and extracts the byte. */
    g_assert_cmphex(address_space_read(as, 0x1002, 1), ==, 0x12);
    g_assert_cmpuint(d.last_size, ==, 4);
    g_assert_cmphex(d.last_offset, ==, 0);
    /* A misaligned word across two dwords: two widened reads. */
    d.reads = 0;
    g_assert_cmphex(address_space_read(as, 0x1003, 2), ==, 0x1413);
    g_assert_cmpuint(d.reads, ==, 2);
    /* An 8-byte read is split into two dwords. */
    g_assert_cmphex(address_space_read(as, 0x1000, 8), ==, 0x1716151413121110ull);
    /* A narrow write cannot be widened: dropped. */
    d.writes = 0;
    address_space_write(as, 0x1001, 0xff, 1);
    g_assert_cmpuint(d.writes, ==, 0);
    g_assert_cmphex(d.regs[1], ==, 0x11);
    address_space_write(as, 0x1004, 0xcafef00d, 4);
    g_assert_cmpuint(d.writes, ==, 1);
    g_assert_cmphex(d.regs[4], ==, 0x0d);
    region_del(r);
    address_space_free(as);
}

static void test_unclaimed(void)
{
    struct address_space *as = address_space_new(ADDRESS_SPACE_IO, "io");
    struct address_space *mmio = address_space_new(ADDRESS_SPACE_MMIO, "mmio");

    g_assert_cmphex(address_space_read(as, 0x80, 1), ==, 0xff);
    g_assert_cmphex(address_space_read(as, 0x80, 2), ==, 0xffff);
    g_assert_cmphex(address_space_read(as, 0x80, 4), ==, 0xffffffff);
    g_assert_cmphex(address_space_read(mmio, 0xfee00000, 8), ==, UINT64_MAX);
    /* Beyond the port space and wrapping the MMIO space: all-ones, no crash. */
    g_assert_cmphex(address_space_read(as, 0xffff, 4), ==, 0xffffffff);
    g_assert_cmphex(address_space_read(mmio, UINT64_MAX - 2, 8), ==, UINT64_MAX);
    g_assert_cmphex(address_space_read(as, 0x80, 0), ==, UINT64_MAX);
    g_assert_cmphex(address_space_read(as, 0x80, 9), ==, UINT64_MAX);
    address_space_write(as, 0x80, 1, 4);
    address_space_write(as, 0x80, 1, 16);
    address_space_free(as);
    address_space_free(mmio);
}

static void test_partial_overlap(void)
{
    struct address_space *as = address_space_new(ADDRESS_SPACE_IO, "io");
    struct fake_dev d;
    struct region *r;

    fake_init(&d);
    r = region_add(as, "uart", 0x3f8, 8, &byte_ops, &d);
    /* inl at 0x3fe: two bytes from the region's end, two unclaimed bytes after it. */
    g_assert_cmphex(address_space_read(as, 0x3fe, 4), ==, 0xffff1716);
    /* inl at 0x3f6: two unclaimed bytes below, two from the region's start. */
    g_assert_cmphex(address_space_read(as, 0x3f6, 4), ==, 0x1110ffff);
    d.writes = 0;
    address_space_write(as, 0x3fe, 0x11223344, 4);
    g_assert_cmpuint(d.writes, ==, 2);
    g_assert_cmphex(d.regs[6], ==, 0x44);
    g_assert_cmphex(d.regs[7], ==, 0x33);
    region_del(r);
    address_space_free(as);
}

struct listener_log {
    GString *text;
};

static void log_added(void *opaque, enum address_space_kind kind, uint64_t start, uint64_t last)
{
    struct listener_log *log = opaque;
    g_string_append_printf(log->text, "+%s:%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x ",
                           kind == ADDRESS_SPACE_IO ? "io" : "mmio", start, last);
}

static void log_removed(void *opaque, enum address_space_kind kind, uint64_t start,
                        uint64_t last)
{
    struct listener_log *log = opaque;
    g_string_append_printf(log->text, "-%s:%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x ",
                           kind == ADDRESS_SPACE_IO ? "io" : "mmio", start, last);
}

static void test_listener(void)
{
    struct address_space *as = address_space_new(ADDRESS_SPACE_IO, "io");
    struct listener_log log = {g_string_new(NULL)};
    const struct address_space_listener listener = {log_added, log_removed, &log};
    struct fake_dev d;
    struct region *early, *late;

    fake_init(&d);
    early = region_add(as, "early", 0x60, 1, &byte_ops, &d);
    /* Installing the listener replays the regions that exist. */
    address_space_set_listener(as, &listener);
    g_assert_cmpstr(log.text->str, ==, "+io:60-60 ");
    g_string_truncate(log.text, 0);
    late = region_add(as, "late", 0x3f8, 8, &byte_ops, &d);
    g_assert_null(region_add(as, "overlap", 0x3f8, 1, &byte_ops, &d));
    g_assert_true(region_move(late, 0x2f8));
    region_del(early);
    g_assert_cmpstr(log.text->str, ==, "+io:3f8-3ff -io:3f8-3ff +io:2f8-2ff -io:60-60 ");
    address_space_set_listener(as, NULL);
    g_string_truncate(log.text, 0);
    region_del(late);
    g_assert_cmpstr(log.text->str, ==, "");
    g_string_free(log.text, TRUE);
    address_space_free(as);
}

/* A device that deletes its own region from inside an access must not crash the dispatch. */
struct self_deleting {
    struct region *r;
};

static uint64_t self_delete_read(void *opaque, uint64_t offset, unsigned size)
{
    struct self_deleting *s = opaque;
    region_del(s->r);
    s->r = NULL;
    return 0;
}

static void test_delete_during_access(void)
{
    struct address_space *as = address_space_new(ADDRESS_SPACE_IO, "io");
    struct self_deleting s;
    const struct region_ops ops = {self_delete_read, NULL, 1, 1};

    s.r = region_add(as, "gone", 0x100, 4, &ops, &s);
    g_assert_cmphex(address_space_read(as, 0x100, 4), ==, 0xffffff00);
    g_assert_null(s.r);
    address_space_free(as);
}

/* Accesses that run off the top of the 64-bit space stop there: no wrap to address 0. */
static void test_top_of_space(void)
{
    struct address_space *as = address_space_new(ADDRESS_SPACE_MMIO, "mmio");
    struct fake_dev top, low;
    struct region *r, *r0;

    fake_init(&top);
    fake_init(&low);
    r = region_add(as, "top", UINT64_MAX - 0xfff, 0x1000, &any_ops, &top);
    r0 = region_add(as, "low", 0, 0x10, &any_ops, &low);
    g_assert_nonnull(r);
    g_assert_nonnull(r0);
    /* 8 bytes at 2^64 - 4: four from the region (offset 0xffc), four all-ones. */
    g_assert_cmphex(address_space_read(as, UINT64_MAX - 3, 8), ==, 0xffffffff1f1e1d1cull);
    g_assert_cmpuint(top.last_offset, ==, 0xffc);
    address_space_write(as, UINT64_MAX - 1, 0x1122334455667788ull, 8);
    g_assert_cmphex(top.regs[0xe], ==, 0x88);
    g_assert_cmphex(top.regs[0xf], ==, 0x77);
    g_assert_cmpuint(low.writes, ==, 0); /* nothing wrapped around to address 0 */
    g_assert_cmpuint(low.reads, ==, 0);
    /* Unclaimed bytes at the very top read all-ones. */
    region_del(r);
    g_assert_cmphex(address_space_read(as, UINT64_MAX, 8), ==, UINT64_MAX);
    address_space_write(as, UINT64_MAX - 6, 0, 8);
    g_assert_cmpuint(low.writes, ==, 0);
    /* Regions that would wrap are refused, added or moved. */
    g_assert_null(region_add(as, "wrap", UINT64_MAX - 0xfff, 0x1001, &any_ops, &top));
    g_assert_null(region_add(as, "huge", 1, UINT64_MAX, &any_ops, &top));
    g_assert_false(region_move(r0, UINT64_MAX - 0xe));
    g_assert_true(region_move(r0, UINT64_MAX - 0xf));
    g_assert_cmpuint(region_base(r0), ==, UINT64_MAX - 0xf);
    /* Sizes outside 1..8 are refused, not dispatched. */
    g_assert_cmphex(address_space_read(as, UINT64_MAX - 0xf, 0), ==, UINT64_MAX);
    g_assert_cmphex(address_space_read(as, UINT64_MAX - 0xf, 16), ==, UINT64_MAX);
    address_space_write(as, UINT64_MAX - 0xf, 0, 9);
    g_assert_cmpuint(low.writes, ==, 0);
    region_del(r0);
    address_space_free(as);

    /* The port space ends at 0xffff. */
    as = address_space_new(ADDRESS_SPACE_IO, "io");
    g_assert_null(region_add(as, "past", 0xfff8, 9, &byte_ops, &top));
    g_assert_null(region_add(as, "beyond", 0x10000, 1, &byte_ops, &top));
    r = region_add(as, "last", 0xfffc, 4, &byte_ops, &top);
    g_assert_nonnull(r);
    g_assert_false(region_move(r, 0xfffd));
    g_assert_cmphex(address_space_read(as, 0xfffe, 4), ==, 0xffff1312);
    region_del(r);
    address_space_free(as);
}

/* A callback that adds a region where the rest of the access goes: the next piece finds it. */
struct growing {
    struct address_space *as;
    struct fake_dev dev;
    struct region *added;
};

static uint64_t grow_read(void *opaque, uint64_t offset, unsigned size)
{
    struct growing *g = opaque;

    if (!g->added) {
        g->added = region_add(g->as, "grown", 0x101, 1, &byte_ops, &g->dev);
    }
    return 0x42;
}

static void test_add_during_access(void)
{
    struct growing g = {0};
    const struct region_ops ops = {grow_read, NULL, 1, 1};
    struct region *r;

    g.as = address_space_new(ADDRESS_SPACE_IO, "io");
    fake_init(&g.dev);
    r = region_add(g.as, "grower", 0x100, 1, &ops, &g);
    g_assert_cmphex(address_space_read(g.as, 0x100, 2), ==, 0x1042);
    g_assert_nonnull(g.added);
    region_del(g.added);
    region_del(r);
    address_space_free(g.as);
}

struct bar_storm {
    struct address_space *as;
    struct region *bar, *other;
    struct fake_dev dev;
};

static void bar_storm_run(void *arg)
{
    struct bar_storm *b = arg;

    for (unsigned i = 0; i < 300; i++) {
        /* Onto another region, across the top of the space, and re-enabled over it. */
        g_assert_false(region_move(b->bar, 0xfebff800 + (i % 3) * 0x400));
        g_assert_false(region_move(b->bar, UINT64_MAX - 0x800));
        g_assert_null(region_add(b->as, "bar-again", 0xfec00000, 0x1000, &any_ops, &b->dev));
        g_assert_null(region_add(b->as, "bar-top", UINT64_MAX - 0x800, 0x1000, &any_ops,
                                 &b->dev));
    }
}

/* A guest reprogramming a BAR onto something else in a loop must not flood the log. */
static void test_failed_moves_log_limited(void)
{
    struct bar_storm b;

    fake_init(&b.dev);
    b.as = address_space_new(ADDRESS_SPACE_MMIO, "mmio");
    b.bar = region_add(b.as, "bar", 0xfe000000, 0x1000, &any_ops, &b.dev);
    b.other = region_add(b.as, "other", 0xfec00000, 0x1000, &any_ops, &b.dev);
    g_assert_nonnull(b.bar);
    g_assert_nonnull(b.other);
    char *printed = capture_stderr(bar_storm_run, &b);
    unsigned lines = count_occurrences(printed, "\n");
    g_free(printed);
    g_assert_cmpuint(region_base(b.bar), ==, 0xfe000000);
    g_assert_cmpuint(address_space_count(b.as), ==, 2);
    g_assert_cmpuint(lines, >=, 1); /* the failures are reported ... */
    g_assert_cmpuint(lines, <=, 4 * 11); /* ... each call site: a burst, then one a second */
    region_del(b.bar);
    region_del(b.other);
    address_space_free(b.as);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/memory/overlap-rejected", test_overlap_rejected);
    g_test_add_func("/memory/lookup", test_lookup);
    g_test_add_func("/memory/split-inl-over-bytes", test_split_inl_over_bytes);
    g_test_add_func("/memory/widening", test_widening);
    g_test_add_func("/memory/unclaimed-all-ones", test_unclaimed);
    g_test_add_func("/memory/partial-overlap", test_partial_overlap);
    g_test_add_func("/memory/listener", test_listener);
    g_test_add_func("/memory/delete-during-access", test_delete_during_access);
    g_test_add_func("/memory/top-of-space", test_top_of_space);
    g_test_add_func("/memory/add-during-access", test_add_during_access);
    g_test_add_func("/memory/failed-moves-log-limited", test_failed_moves_log_limited);
    return g_test_run();
}
