/*
 * The ioreq engine against a machine with test regions and guest RAM in a
 * malloc'd buffer (a mapcache over a plain mapper): PIO, REP INS/OUTS, MMIO,
 * REP STOS/MOVS, PCI_CONFIG, bad requests, the buffered ring and the slot
 * protocol.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "stderr-capture.h"
#include "xendm/ioreq.h"
#include "xendm/machine.h"

#define RAM_SIZE (1024 * 1024)
#define PAGE 4096u
#define MMIO_BASE 0xfe000000ull
#define PORT 0x60

/* ---- guest RAM: a buffer behind a mapper ---- */

struct fake_ram {
    uint8_t *bytes;
    unsigned maps, unmaps;
};

static void *ram_map(void *opaque, uint64_t first_gfn, size_t nr, bool writable, int *err)
{
    struct fake_ram *ram = opaque;
    bool any = false;

    ram->maps++;
    for (size_t i = 0; i < nr; i++) {
        bool inside = first_gfn + i < RAM_SIZE / PAGE;
        err[i] = inside ? 0 : -EFAULT;
        any |= inside;
    }
    /* Pages past the buffer are marked bad and never touched by the mapcache. */
    return any ? ram->bytes + first_gfn * PAGE : NULL;
}

static void ram_unmap(void *opaque, void *addr, size_t nr)
{
    struct fake_ram *ram = opaque;
    ram->unmaps++;
}

/* ---- a test device: byte registers in port space, a log of writes ---- */

struct test_dev {
    uint8_t regs[16];
    GString *writes; /* "offset:value " per write */
    uint8_t next_read;  /* the FIFO register (offset 8) returns incrementing bytes */
    uint64_t mmio[PAGE / 8];
    unsigned pci_reads, pci_writes;
    uint32_t pci_last_sbdf, pci_last_reg;
};

static uint64_t dev_io_read(void *opaque, uint64_t offset, unsigned size)
{
    struct test_dev *d = opaque;

    if (offset == 8) {
        return d->next_read++;
    }
    return d->regs[offset];
}

static void dev_io_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct test_dev *d = opaque;

    d->regs[offset] = (uint8_t)value;
    g_string_append_printf(d->writes, "%u:%02x ", (unsigned)offset, (unsigned)value);
}

static uint64_t dev_mmio_read(void *opaque, uint64_t offset, unsigned size)
{
    struct test_dev *d = opaque;
    uint64_t value = 0;

    memcpy(&value, (uint8_t *)d->mmio + offset, size);
    return value;
}

static void dev_mmio_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct test_dev *d = opaque;
    memcpy((uint8_t *)d->mmio + offset, &value, size);
}

static uint64_t dev_pci_read(void *opaque, uint32_t sbdf, uint32_t reg, unsigned size)
{
    struct test_dev *d = opaque;

    d->pci_reads++;
    d->pci_last_sbdf = sbdf;
    d->pci_last_reg = reg;
    return 0x12345678;
}

static void dev_pci_write(void *opaque, uint32_t sbdf, uint32_t reg, uint64_t val, unsigned size)
{
    struct test_dev *d = opaque;

    d->pci_writes++;
    d->pci_last_sbdf = sbdf;
    d->pci_last_reg = reg;
}

static const struct region_ops io_ops = {dev_io_read, dev_io_write, 1, 1};
static const struct region_ops mmio_ops = {dev_mmio_read, dev_mmio_write, 1, 8};

struct fixture {
    struct fake_ram ram;
    struct test_dev dev;
    struct machine *m;
    struct region *io, *mmio;
    struct ioreq_stats stats;
};

static void fixture_setup(struct fixture *f, gconstpointer unused)
{
    const struct mapcache_config mc_cfg = {.bucket_shift = 16};
    struct mapcache_mapper mapper = {ram_map, ram_unmap, &f->ram};

    memset(f, 0, sizeof(*f));
    f->ram.bytes = g_malloc0(RAM_SIZE);
    f->dev.writes = g_string_new(NULL);
    f->m = machine_new();
    f->m->mapcache = mapcache_new(&mapper, &mc_cfg);
    g_assert_nonnull(f->m->mapcache);
    f->io = machine_add_io(f->m, "test-io", PORT, 16, &io_ops, &f->dev);
    f->mmio = machine_add_mmio(f->m, "test-mmio", MMIO_BASE, PAGE, &mmio_ops, &f->dev);
    g_assert_nonnull(f->io);
    g_assert_nonnull(f->mmio);
}

static void fixture_teardown(struct fixture *f, gconstpointer unused)
{
    region_del(f->io);
    region_del(f->mmio);
    mapcache_free(f->m->mapcache);
    machine_free(f->m);
    g_string_free(f->dev.writes, TRUE);
    g_free(f->ram.bytes);
}

static struct xenabi_ioreq make_req(unsigned type, bool read, unsigned size, uint32_t count,
                                    uint64_t addr, uint64_t data, bool ptr, bool df)
{
    struct xenabi_ioreq req = {0};

    req.type = (uint8_t)type;
    req.size = size;
    req.count = count;
    req.addr = addr;
    req.data = data;
    req.flags = (uint8_t)((read ? XENABI_IOREQ_DIR_READ : 0) |
                          (ptr ? XENABI_IOREQ_DATA_IS_PTR : 0) | (df ? XENABI_IOREQ_DF : 0));
    return req;
}

static uint64_t run(struct fixture *f, struct xenabi_ioreq req)
{
    ioreq_execute(f->m, &req, &f->stats);
    return req.data;
}

/* ---- PIO ---- */

static void test_pio(struct fixture *f, gconstpointer unused)
{
    run(f, make_req(XENABI_IOREQ_TYPE_PIO, false, 1, 1, PORT + 1, 0xab, false, false));
    g_assert_cmphex(f->dev.regs[1], ==, 0xab);
    g_assert_cmphex(run(f, make_req(XENABI_IOREQ_TYPE_PIO, true, 1, 1, PORT + 1, 0, false, false)),
                    ==, 0xab);
    /* outw splits into two byte writes, low byte first; the value is masked to the size. */
    run(f, make_req(XENABI_IOREQ_TYPE_PIO, false, 2, 1, PORT + 2, 0xffff1234, false, false));
    g_assert_cmpstr(f->dev.writes->str, ==, "1:ab 2:34 3:12 ");
    g_assert_cmphex(run(f, make_req(XENABI_IOREQ_TYPE_PIO, true, 4, 1, PORT, 0, false, false)),
                    ==, 0x1234ab00);
    /* An unclaimed port reads all-ones of the access size. */
    g_assert_cmphex(run(f, make_req(XENABI_IOREQ_TYPE_PIO, true, 2, 1, 0x80, 0, false, false)),
                    ==, 0xffff);
    g_assert_cmpuint(f->stats.invalid, ==, 0);
}

static void test_rep_outs(struct fixture *f, gconstpointer unused)
{
    const uint8_t text[] = {'a', 'b', 'c', 'd'};

    memcpy(f->ram.bytes + 0x2000, text, sizeof(text));
    run(f, make_req(XENABI_IOREQ_TYPE_PIO, false, 1, 4, PORT + 4, 0x2000, true, false));
    g_assert_cmpstr(f->dev.writes->str, ==, "4:61 4:62 4:63 4:64 ");
    /* df: items step downwards from the last byte. */
    g_string_truncate(f->dev.writes, 0);
    run(f, make_req(XENABI_IOREQ_TYPE_PIO, false, 1, 4, PORT + 4, 0x2003, true, true));
    g_assert_cmpstr(f->dev.writes->str, ==, "4:64 4:63 4:62 4:61 ");
    /* Word-sized items: each split into two byte writes. */
    g_string_truncate(f->dev.writes, 0);
    run(f, make_req(XENABI_IOREQ_TYPE_PIO, false, 2, 2, PORT + 4, 0x2000, true, false));
    g_assert_cmpstr(f->dev.writes->str, ==, "4:61 5:62 4:63 5:64 ");
}

static void test_rep_ins(struct fixture *f, gconstpointer unused)
{
    f->dev.next_read = 1;
    run(f, make_req(XENABI_IOREQ_TYPE_PIO, true, 1, 4, PORT + 8, 0x3000, true, false));
    g_assert_cmpmem(f->ram.bytes + 0x3000, 4, ((const uint8_t[]){1, 2, 3, 4}), 4);
    run(f, make_req(XENABI_IOREQ_TYPE_PIO, true, 1, 3, PORT + 8, 0x3012, true, true));
    g_assert_cmpmem(f->ram.bytes + 0x3010, 3, ((const uint8_t[]){7, 6, 5}), 3);
    /* With data_is_ptr the data field is the buffer's address: never overwritten. */
    g_assert_cmphex(run(f, make_req(XENABI_IOREQ_TYPE_PIO, true, 1, 1, PORT + 8, 0x3020, true,
                                    false)), ==, 0x3020);
    /* A buffer outside guest RAM stops the repeat; nothing crashes. */
    f->dev.next_read = 0x40;
    run(f, make_req(XENABI_IOREQ_TYPE_PIO, true, 4, 4, PORT + 8, RAM_SIZE - 8, true, false));
    /* The two items inside RAM landed (the FIFO byte, then registers 9-11). */
    g_assert_cmpmem(f->ram.bytes + RAM_SIZE - 8, 8,
                    ((const uint8_t[]){0x40, 0, 0, 0, 0x41, 0, 0, 0}), 8);
    run(f, make_req(XENABI_IOREQ_TYPE_PIO, false, 4, 4, PORT + 8, 0xfffffffffffff000ull, true,
                    false));
    g_assert_cmpstr(f->dev.writes->str, ==, ""); /* nothing read from outside RAM was written */
    g_assert_cmpuint(f->stats.invalid, ==, 0);
}

/* ---- MMIO ---- */

static void test_mmio(struct fixture *f, gconstpointer unused)
{
    run(f, make_req(XENABI_IOREQ_TYPE_COPY, false, 8, 1, MMIO_BASE + 8, 0x1122334455667788ull,
                    false, false));
    g_assert_cmphex(f->dev.mmio[1], ==, 0x1122334455667788ull);
    g_assert_cmphex(run(f, make_req(XENABI_IOREQ_TYPE_COPY, true, 4, 1, MMIO_BASE + 12, 0, false,
                                    false)), ==, 0x11223344);
    g_assert_cmphex(run(f, make_req(XENABI_IOREQ_TYPE_COPY, true, 8, 1, MMIO_BASE - 8, 0, false,
                                    false)), ==, UINT64_MAX);
}

static void test_rep_stos(struct fixture *f, gconstpointer unused)
{
    run(f, make_req(XENABI_IOREQ_TYPE_COPY, false, 4, 4, MMIO_BASE + 0x100, 0xdeadbeef, false,
                    false));
    g_assert_cmphex(f->dev.mmio[0x100 / 8], ==, 0xdeadbeefdeadbeefull);
    g_assert_cmphex(f->dev.mmio[0x108 / 8], ==, 0xdeadbeefdeadbeefull);
    g_assert_cmphex(f->dev.mmio[0x110 / 8], ==, 0);
    run(f, make_req(XENABI_IOREQ_TYPE_COPY, false, 8, 2, MMIO_BASE + 0x208, 0x42, false, true));
    g_assert_cmphex(f->dev.mmio[0x200 / 8], ==, 0x42);
    g_assert_cmphex(f->dev.mmio[0x208 / 8], ==, 0x42);
    g_assert_cmphex(f->dev.mmio[0x210 / 8], ==, 0);
}

static void test_rep_movs(struct fixture *f, gconstpointer unused)
{
    for (unsigned i = 0; i < 64; i++) {
        f->ram.bytes[0x5000 + i] = (uint8_t)i;
    }
    /* RAM -> MMIO */
    run(f, make_req(XENABI_IOREQ_TYPE_COPY, false, 8, 8, MMIO_BASE, 0x5000, true, false));
    g_assert_cmpmem(f->dev.mmio, 64, f->ram.bytes + 0x5000, 64);
    /* MMIO -> RAM, downwards: the same bytes land in the same places. */
    run(f, make_req(XENABI_IOREQ_TYPE_COPY, true, 4, 16, MMIO_BASE + 60, 0x6000 + 60, true, true));
    g_assert_cmpmem(f->ram.bytes + 0x6000, 64, f->ram.bytes + 0x5000, 64);
}

/* ---- PCI_CONFIG ---- */

static void test_pci_config(struct fixture *f, gconstpointer unused)
{
    uint64_t addr = ((uint64_t)0x0010 << 32) | 0x40; /* 00:02.0, register 0x40 */

    /* No PCI bus installed: every function absent. */
    g_assert_cmphex(run(f, make_req(XENABI_IOREQ_TYPE_PCI_CONFIG, true, 4, 1, addr, 0, false,
                                    false)), ==, 0xffffffff);
    run(f, make_req(XENABI_IOREQ_TYPE_PCI_CONFIG, false, 4, 1, addr, 0, false, false));
    f->m->pci_config_read = dev_pci_read;
    f->m->pci_config_write = dev_pci_write;
    f->m->pci_opaque = &f->dev;
    g_assert_cmphex(run(f, make_req(XENABI_IOREQ_TYPE_PCI_CONFIG, true, 2, 1, addr, 0, false,
                                    false)), ==, 0x5678);
    g_assert_cmphex(f->dev.pci_last_sbdf, ==, 0x10);
    g_assert_cmphex(f->dev.pci_last_reg, ==, 0x40);
    run(f, make_req(XENABI_IOREQ_TYPE_PCI_CONFIG, false, 1, 1, addr | 0xfff, 0, false, false));
    g_assert_cmpuint(f->dev.pci_writes, ==, 1);
    /* reg + size beyond 4 KiB: refused before the bus sees it. */
    g_assert_cmphex(run(f, make_req(XENABI_IOREQ_TYPE_PCI_CONFIG, true, 4, 1, addr | 0xffe, 0,
                                    false, false)), ==, 0xffffffff);
    run(f, make_req(XENABI_IOREQ_TYPE_PCI_CONFIG, false, 4, 1, addr | 0x1000, 0, false, false));
    g_assert_cmpuint(f->dev.pci_reads, ==, 1);
    g_assert_cmpuint(f->dev.pci_writes, ==, 1);
    g_assert_cmpuint(f->stats.invalid, ==, 2);
}

/* ---- bad requests ---- */

static void test_bad_requests(struct fixture *f, gconstpointer unused)
{
    static const struct {
        unsigned type, size;
        uint32_t count;
        uint64_t addr;
        bool ptr, df;
        uint64_t expect;
    } reads[] = {
        {XENABI_IOREQ_TYPE_PIO, 3, 1, PORT, false, false, UINT64_MAX},
        {XENABI_IOREQ_TYPE_PIO, 8, 1, PORT, false, false, UINT64_MAX},
        {XENABI_IOREQ_TYPE_PIO, 0, 1, PORT, false, false, UINT64_MAX},
        {XENABI_IOREQ_TYPE_PIO, 1, 0, PORT, false, false, 0xff},
        {XENABI_IOREQ_TYPE_PIO, 1, 2, PORT, false, false, 0xff},
        {XENABI_IOREQ_TYPE_COPY, 16, 1, MMIO_BASE, false, false, UINT64_MAX},
        {XENABI_IOREQ_TYPE_COPY, 4, 0, MMIO_BASE, false, false, 0xffffffff},
        {XENABI_IOREQ_TYPE_COPY, 4, 4, MMIO_BASE, false, false, 0xffffffff},
        {XENABI_IOREQ_TYPE_PCI_CONFIG, 8, 1, 0, false, false, UINT64_MAX},
        {XENABI_IOREQ_TYPE_PCI_CONFIG, 4, 2, 0, false, false, 0xffffffff},
        {5, 4, 1, 0, false, false, 0xffffffff},
        {255, 2, 1, 0, false, false, 0xffff},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(reads); i++) {
        struct xenabi_ioreq req = make_req(reads[i].type, true, reads[i].size, reads[i].count,
                                           reads[i].addr, 0x5a5a, reads[i].ptr, reads[i].df);
        g_assert_cmphex(run(f, req), ==, reads[i].expect);
    }
    g_assert_cmpuint(f->stats.invalid, ==, G_N_ELEMENTS(reads));
    /* Repeats beyond a page, or crossing the page of addr, are refused: nothing is written. */
    f->stats.invalid = 0;
    run(f, make_req(XENABI_IOREQ_TYPE_PIO, true, 4, 1025, PORT + 8, 0x1000, true, false));
    run(f, make_req(XENABI_IOREQ_TYPE_COPY, false, 4, 2, MMIO_BASE + PAGE - 4, 0x77, false,
                    false));
    run(f, make_req(XENABI_IOREQ_TYPE_COPY, false, 4, 2, MMIO_BASE, 0x77, false, true));
    run(f, make_req(XENABI_IOREQ_TYPE_COPY, false, 1, UINT32_MAX, MMIO_BASE, 0x77, false, false));
    run(f, make_req(XENABI_IOREQ_TYPE_COPY, true, 8, 0x80000000u, MMIO_BASE, 0x1000, true,
                    false));
    g_assert_cmpuint(f->stats.invalid, ==, 5);
    g_assert_cmphex(f->dev.mmio[0], ==, 0);
    g_assert_cmphex(f->dev.mmio[PAGE / 8 - 1], ==, 0);
    g_assert_cmpuint(f->dev.next_read, ==, 0);
    for (unsigned i = 0; i < 0x2000; i++) {
        g_assert_cmpuint(f->ram.bytes[i], ==, 0);
    }
}

/* Buffers and addresses that step across 0 or 2^64 stop there; nothing wraps around. */
static void test_rep_wraparound(struct fixture *f, gconstpointer unused)
{
    /* REP INSB with df from gpa 1: items at 1, 0, then 2^64 - 1, which is not RAM. */
    run(f, make_req(XENABI_IOREQ_TYPE_PIO, true, 1, 3, PORT + 8, 1, true, true));
    g_assert_cmphex(f->ram.bytes[1], ==, 0x00);
    g_assert_cmphex(f->ram.bytes[0], ==, 0x01);
    g_assert_cmphex(f->ram.bytes[RAM_SIZE - 1], ==, 0x00);
    /* REP OUTSB from the last bytes below 2^64: nothing is read, nothing reaches the port. */
    run(f, make_req(XENABI_IOREQ_TYPE_PIO, false, 1, 4, PORT + 5, UINT64_MAX - 1, true, false));
    /* REP MOVSQ from RAM at 2^64 - 8 stepping up into 0. */
    run(f, make_req(XENABI_IOREQ_TYPE_COPY, false, 8, 2, MMIO_BASE, UINT64_MAX - 7, true, false));
    g_assert_cmphex(f->dev.mmio[0], ==, 0);
    g_assert_cmphex(f->dev.mmio[1], ==, 0);
    g_assert_cmpstr(f->dev.writes->str, ==, "");
    /* MMIO at the top of the space: nothing there, all-ones; a store is dropped. */
    g_assert_cmphex(run(f, make_req(XENABI_IOREQ_TYPE_COPY, true, 8, 1, UINT64_MAX - 3, 0,
                                    false, false)), ==, UINT64_MAX);
    run(f, make_req(XENABI_IOREQ_TYPE_COPY, false, 8, 1, UINT64_MAX - 3, 0, false, false));
    /* REP STOS downwards from the first bytes of a page would cross it: refused. */
    run(f, make_req(XENABI_IOREQ_TYPE_COPY, false, 8, 2, 0, 0x55, false, true));
    g_assert_cmpuint(f->stats.invalid, ==, 1);
    /* A port access past 0xffff: the bytes beyond the port space read all-ones. */
    g_assert_cmphex(run(f, make_req(XENABI_IOREQ_TYPE_PIO, true, 4, 1, 0xfffe, 0, false,
                                    false)), ==, 0xffffffff);
    g_assert_cmphex(run(f, make_req(XENABI_IOREQ_TYPE_PIO, true, 4, 1, UINT64_MAX - 1, 0,
                                    false, false)), ==, 0xffffffff);
}

/* What main's QMP RTC_CHANGE hears: each new sum, in order. */
static void record_rtc_change(void *opaque, int64_t offset_seconds)
{
    GArray *seen = opaque;

    g_array_append_val(seen, offset_seconds);
}

static void test_timeoffset_invalidate(struct fixture *f, gconstpointer unused)
{
    struct mapcache_stats mcs;
    uint8_t byte;
    g_autoptr(GArray) seen = g_array_new(FALSE, FALSE, sizeof(int64_t));

    f->m->rtc_change_observer = record_rtc_change;
    f->m->rtc_change_observer_opaque = seen;
    run(f, make_req(XENABI_IOREQ_TYPE_TIMEOFFSET, false, 8, 1, 0, 3600, false, false));
    run(f, make_req(XENABI_IOREQ_TYPE_TIMEOFFSET, false, 8, 1, 0, (uint64_t)-600, false, false));
    g_assert_cmpint(f->m->rtc_offset_seconds, ==, 3000);
    g_assert_cmpuint(seen->len, ==, 2);
    g_assert_cmpint(g_array_index(seen, int64_t, 0), ==, 3600);
    g_assert_cmpint(g_array_index(seen, int64_t, 1), ==, 3000);
    f->m->rtc_change_observer = NULL;
    /* Saturates instead of overflowing. */
    run(f, make_req(XENABI_IOREQ_TYPE_TIMEOFFSET, false, 8, 1, 0, INT64_MAX, false, false));
    run(f, make_req(XENABI_IOREQ_TYPE_TIMEOFFSET, false, 8, 1, 0, INT64_MAX, false, false));
    g_assert_cmpint(f->m->rtc_offset_seconds, ==, INT64_MAX);

    g_assert_cmpint(guest_read(f->m, 0x1000, &byte, 1), ==, 0);
    mapcache_get_stats(f->m->mapcache, &mcs);
    g_assert_cmpuint(mcs.mapped_buckets, ==, 1);
    run(f, make_req(XENABI_IOREQ_TYPE_INVALIDATE, false, 4, 1, 0, UINT64_MAX, false, false));
    mapcache_get_stats(f->m->mapcache, &mcs);
    g_assert_cmpuint(mcs.mapped_buckets, ==, 0);
    g_assert_cmpuint(f->stats.invalidates, ==, 1);
    g_assert_cmpuint(f->stats.invalid, ==, 0);
}

/* ---- buffered ring ---- */

static void ring_put(struct xenabi_buffered_iopage *page, unsigned type, unsigned size,
                     uint32_t addr, uint64_t data)
{
    uint32_t w = page->write_pointer;

    page->slot[w % XENABI_IOREQ_BUFFER_SLOT_NUM] =
        (struct xenabi_buf_ioreq){xenabi_buf_encode(type, false, size, addr), (uint32_t)data};
    w++;
    if (size == 8) {
        page->slot[w % XENABI_IOREQ_BUFFER_SLOT_NUM] =
            (struct xenabi_buf_ioreq){xenabi_buf_encode(type, false, size, addr),
                                      (uint32_t)(data >> 32)};
        w++;
    }
    page->write_pointer = w;
}

static void test_buffered_drain(struct fixture *f, gconstpointer unused)
{
    struct xenabi_buffered_iopage *page = g_malloc0(sizeof(*page));

    /* Start near the wrap, so the 8-byte entry straddles slot 510 and slot 0. */
    page->read_pointer = page->write_pointer = 509;
    ring_put(page, XENABI_IOREQ_TYPE_PIO, 1, PORT + 3, 0x33);
    ring_put(page, XENABI_IOREQ_TYPE_TIMEOFFSET, 8, 0, 0x100000005ull);
    ring_put(page, XENABI_IOREQ_TYPE_PIO, 2, PORT + 4, 0xbeef);
    g_assert_cmpint(ioreq_drain_buffered(f->m, page, &f->stats), ==, 3);
    g_assert_cmpuint(page->read_pointer, ==, page->write_pointer);
    g_assert_cmpuint(page->read_pointer, ==, 513);
    g_assert_cmpstr(f->dev.writes->str, ==, "3:33 4:ef 5:be ");
    g_assert_cmpint(f->m->rtc_offset_seconds, ==, 0x100000005ll);
    g_assert_cmpuint(f->stats.buffered, ==, 3);
    /* An empty ring drains nothing. */
    g_assert_cmpint(ioreq_drain_buffered(f->m, page, &f->stats), ==, 0);
    /* An MMIO write through the ring (the VGA window in real life; here below 1 MiB). */
    region_del(f->mmio);
    f->mmio = machine_add_mmio(f->m, "low-mmio", 0xa0000, PAGE, &mmio_ops, &f->dev);
    ring_put(page, XENABI_IOREQ_TYPE_COPY, 8, 0xa0010, 0x0102030405060708ull);
    g_assert_cmpint(ioreq_drain_buffered(f->m, page, &f->stats), ==, 1);
    g_assert_cmphex(f->dev.mmio[2], ==, 0x0102030405060708ull);
    g_free(page);
}

static void test_buffered_protocol_errors(struct fixture *f, gconstpointer unused)
{
    struct xenabi_buffered_iopage *page = g_malloc0(sizeof(*page));

    /* A write pointer more than a ring ahead. */
    page->read_pointer = 10;
    page->write_pointer = 10 + XENABI_IOREQ_BUFFER_SLOT_NUM + 1;
    g_assert_cmpint(ioreq_drain_buffered(f->m, page, &f->stats), ==, -1);
    g_assert_cmpuint(page->read_pointer, ==, 10);
    /* Behind the read pointer is the same thing, seen modulo 2^32. */
    page->write_pointer = 9;
    g_assert_cmpint(ioreq_drain_buffered(f->m, page, &f->stats), ==, -1);
    /* Exactly a full ring is fine. */
    page->read_pointer = page->write_pointer = 0;
    for (unsigned i = 0; i < XENABI_IOREQ_BUFFER_SLOT_NUM; i++) {
        ring_put(page, XENABI_IOREQ_TYPE_PIO, 1, PORT + 6, i);
    }
    g_assert_cmpint(ioreq_drain_buffered(f->m, page, &f->stats), ==, XENABI_IOREQ_BUFFER_SLOT_NUM);
    /* An 8-byte entry whose high half was not published. */
    ring_put(page, XENABI_IOREQ_TYPE_PIO, 1, PORT + 6, 0x11);
    ring_put(page, XENABI_IOREQ_TYPE_COPY, 8, 0x1000, 0x55);
    page->write_pointer--;
    g_string_truncate(f->dev.writes, 0);
    g_assert_cmpint(ioreq_drain_buffered(f->m, page, &f->stats), ==, -1);
    /* The good entry before it was consumed; the ring stops at the bad one. */
    g_assert_cmpstr(f->dev.writes->str, ==, "6:11 ");
    g_assert_cmpuint(page->read_pointer, ==, XENABI_IOREQ_BUFFER_SLOT_NUM + 1);
    g_free(page);
}

/* ---- the synchronous slot ---- */

static void test_service_slot(struct fixture *f, gconstpointer unused)
{
    struct xenabi_ioreq slot;
    struct xenabi_buffered_iopage *page = g_malloc0(sizeof(*page));

    /* Not READY: a spurious event, nothing touched. */
    static const unsigned states[] = {XENABI_STATE_IOREQ_NONE, XENABI_STATE_IOREQ_INPROCESS,
                                      XENABI_STATE_IORESP_READY, 7};
    for (size_t i = 0; i < G_N_ELEMENTS(states); i++) {
        slot = make_req(XENABI_IOREQ_TYPE_PIO, false, 1, 1, PORT, 0x99, false, false);
        slot.flags = xenabi_ioreq_with_state(slot.flags, states[i]);
        g_assert_false(ioreq_service_slot(f->m, &slot, page, &f->stats));
        g_assert_cmpuint(xenabi_ioreq_state(slot.flags), ==, states[i]);
    }
    g_assert_cmpstr(f->dev.writes->str, ==, "");
    g_assert_cmpuint(f->stats.sync, ==, 0);

    /* A buffered write queued before the synchronous read: it must land first. */
    ring_put(page, XENABI_IOREQ_TYPE_PIO, 1, PORT + 2, 0x5c);
    slot = make_req(XENABI_IOREQ_TYPE_PIO, true, 1, 1, PORT + 2, 0, false, false);
    slot.vp_eport = 17;
    slot.flags = xenabi_ioreq_with_state(slot.flags, XENABI_STATE_IOREQ_READY);
    g_assert_true(ioreq_service_slot(f->m, &slot, page, &f->stats));
    g_assert_cmpuint(xenabi_ioreq_state(slot.flags), ==, XENABI_STATE_IORESP_READY);
    g_assert_true(xenabi_ioreq_is_read(slot.flags));
    g_assert_cmphex(slot.data, ==, 0x5c);
    g_assert_cmpuint(slot.vp_eport, ==, 17);
    g_assert_cmpuint(page->read_pointer, ==, 1);

    /* A write: data untouched, answered. */
    slot = make_req(XENABI_IOREQ_TYPE_PIO, false, 1, 1, PORT + 7, 0x1234, false, false);
    slot.flags = xenabi_ioreq_with_state(slot.flags, XENABI_STATE_IOREQ_READY);
    g_assert_true(ioreq_service_slot(f->m, &slot, NULL, &f->stats));
    g_assert_cmphex(slot.data, ==, 0x1234);
    g_assert_cmphex(f->dev.regs[7], ==, 0x34);

    /* A read with data_is_ptr: the pointer stays. */
    slot = make_req(XENABI_IOREQ_TYPE_PIO, true, 1, 2, PORT + 8, 0x4000, true, false);
    slot.flags = xenabi_ioreq_with_state(slot.flags, XENABI_STATE_IOREQ_READY);
    g_assert_true(ioreq_service_slot(f->m, &slot, NULL, &f->stats));
    g_assert_cmphex(slot.data, ==, 0x4000);
    g_assert_cmpuint(f->stats.sync, ==, 3);

    /* A bad request is answered too, with all-ones. */
    slot = make_req(77, true, 4, 1, 0, 0, false, false);
    slot.flags = xenabi_ioreq_with_state(slot.flags, XENABI_STATE_IOREQ_READY);
    g_assert_true(ioreq_service_slot(f->m, &slot, NULL, &f->stats));
    g_assert_cmpuint(xenabi_ioreq_state(slot.flags), ==, XENABI_STATE_IORESP_READY);
    g_assert_cmphex(slot.data, ==, 0xffffffff);
    g_free(page);
}

struct ring_run {
    struct fixture *f;
    struct xenabi_buffered_iopage *page;
};

static void serve_reads_with_ring(void *arg)
{
    struct fixture *f = ((struct ring_run *)arg)->f;
    struct xenabi_buffered_iopage *page = ((struct ring_run *)arg)->page;

    for (unsigned i = 0; i < 200; i++) {
        struct xenabi_ioreq slot = make_req(XENABI_IOREQ_TYPE_PIO, true, 1, 1, PORT + 1, 0,
                                            false, false);
        slot.flags = xenabi_ioreq_with_state(slot.flags, XENABI_STATE_IOREQ_READY);
        g_assert_true(ioreq_service_slot(f->m, &slot, page, &f->stats));
        g_assert_cmpuint(xenabi_ioreq_state(slot.flags), ==, XENABI_STATE_IORESP_READY);
    }
}

/* A ring that stays corrupt is reported on every request: that report must be rate-limited. */
static void test_corrupt_ring_log_limited(struct fixture *f, gconstpointer unused)
{
    struct xenabi_buffered_iopage *page = g_malloc0(sizeof(*page));

    page->read_pointer = 3;
    page->write_pointer = 3 + 4 * XENABI_IOREQ_BUFFER_SLOT_NUM;
    struct ring_run run = {f, page};
    char *printed = capture_stderr(serve_reads_with_ring, &run);
    unsigned lines = count_occurrences(printed, "ring is corrupt");
    g_free(printed);
    g_assert_cmpuint(f->stats.sync, ==, 200);
    g_assert_cmpuint(page->read_pointer, ==, 3); /* left as it was */
    g_assert_cmpuint(lines, >=, 1);
    g_assert_cmpuint(lines, <=, 11);
    g_free(page);
}

/* ---- the machine: ISA lines, MSI, shutdown, timers, device creation ---- */

struct accel_log {
    GString *text;
};

static void log_isa(void *opaque, unsigned irq, bool level)
{
    struct accel_log *log = opaque;
    g_string_append_printf(log->text, "isa%u=%d ", irq, level);
}

static void log_msi(void *opaque, uint64_t addr, uint32_t data)
{
    struct accel_log *log = opaque;
    g_string_append_printf(log->text, "msi%" G_GINT64_MODIFIER "x:%x ", addr, data);
}

static void log_shutdown(void *opaque, enum shutdown_reason reason)
{
    struct accel_log *log = opaque;
    g_string_append_printf(log->text, "shutdown%d ", (int)reason);
}

static const struct accel_ops logging_ops = {
    .set_isa_irq = log_isa,
    .inject_msi = log_msi,
    .request_shutdown = log_shutdown,
};

static void test_machine_irq_msi_shutdown(void)
{
    struct machine *m = machine_new();
    struct accel_log log = {g_string_new(NULL)};
    struct irq_line *a, *b;

    m->accel = &logging_ops;
    m->accel_opaque = &log;
    g_assert_null(machine_isa_irq(m, 16));
    a = machine_isa_irq(m, 4);
    b = machine_isa_irq(m, 4);
    /* Wired-OR: only the line's 0 <-> 1 changes reach the accelerator. */
    irq_set_level(a, true);
    irq_set_level(a, true);
    irq_set_level(b, true);
    g_assert_true(irq_get_level(b));
    irq_set_level(a, false);
    irq_set_level(b, false);
    irq_set_level(b, true);
    irq_line_free(b); /* lowers it first */
    irq_line_free(a);
    g_assert_cmpstr(log.text->str, ==, "isa4=1 isa4=0 isa4=1 isa4=0 ");
    g_assert_cmpuint(m->isa_irq_count[4], ==, 0);
    g_string_truncate(log.text, 0);
    machine_inject_msi(m, 0xfee01000, 0x4031);
    machine_request_shutdown(m, SHUTDOWN_REBOOT);
    g_assert_cmpstr(log.text->str, ==, "msifee01000:4031 shutdown1 ");
    g_assert_true(m->shutdown_requested);
    g_assert_cmpint(m->shutdown_reason, ==, SHUTDOWN_REBOOT);
    /* Without an accelerator everything still works (unit tests, fuzzers). */
    m->accel = NULL;
    a = machine_isa_irq(m, 1);
    irq_set_level(a, true);
    irq_line_free(a);
    machine_inject_msi(m, 0, 0);
    machine_request_shutdown(m, SHUTDOWN_POWEROFF);
    g_string_free(log.text, TRUE);
    machine_free(m);
}

static void test_machine_unknown_device(void)
{
    struct machine *m = machine_new();
    struct kv_list *props = kv_new();
    GError *err = NULL;

    /* No device file is linked into this test: every type is unknown. */
    g_assert_null(device_type_find("isa-serial"));
    g_assert_null(machine_create_device(m, "isa-serial", props, &err));
    g_assert_nonnull(err);
    g_assert_cmpstr(err->message, ==, "unknown device type 'isa-serial'");
    g_error_free(err);
    kv_free(props);
    machine_free(m);
}

struct timer_probe {
    GMainLoop *loop;
    struct timer *other;
    int fired;
    int64_t fired_at_ns;
};

static void timer_cb(void *opaque)
{
    struct timer_probe *p = opaque;

    p->fired++;
    p->fired_at_ns = clock_now_ns();
    g_main_loop_quit(p->loop);
}

static void test_timers(void)
{
    struct timer_probe probe = {g_main_loop_new(NULL, FALSE), NULL, 0, 0};
    struct timer *t = timer_new(timer_cb, &probe);
    struct timer *cancelled = timer_new(timer_cb, &probe);
    int64_t start = clock_now_ns();

    g_assert_false(timer_pending(t));
    timer_arm_ns(cancelled, 1000000);
    timer_cancel(cancelled);
    g_assert_false(timer_pending(cancelled));
    timer_arm_ns(t, 50000000);
    timer_arm_ns(t, 20000000); /* re-arming replaces */
    g_assert_true(timer_pending(t));
    g_main_loop_run(probe.loop);
    g_assert_cmpint(probe.fired, ==, 1);
    g_assert_false(timer_pending(t));
    g_assert_cmpint(probe.fired_at_ns - start, >=, 20000000);
    g_assert_cmpint(probe.fired_at_ns - start, <, 50000000);
    /* A huge delay does not overflow. */
    timer_arm_ns(t, UINT64_MAX);
    g_assert_true(timer_pending(t));
    timer_free(t);
    timer_free(cancelled);
    g_main_loop_unref(probe.loop);
}

#define ADD(path, fn) g_test_add("/ioreq/" path, struct fixture, NULL, fixture_setup, fn, \
                                 fixture_teardown)

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    ADD("pio", test_pio);
    ADD("rep-outs", test_rep_outs);
    ADD("rep-ins", test_rep_ins);
    ADD("mmio", test_mmio);
    ADD("rep-stos", test_rep_stos);
    ADD("rep-movs", test_rep_movs);
    ADD("pci-config", test_pci_config);
    ADD("bad-requests", test_bad_requests);
    ADD("rep-wraparound", test_rep_wraparound);
    ADD("timeoffset-invalidate", test_timeoffset_invalidate);
    ADD("buffered-drain", test_buffered_drain);
    ADD("buffered-protocol-errors", test_buffered_protocol_errors);
    ADD("service-slot", test_service_slot);
    ADD("corrupt-ring-log-limited", test_corrupt_ring_log_limited);
    g_test_add_func("/machine/irq-msi-shutdown", test_machine_irq_msi_shutdown);
    g_test_add_func("/machine/unknown-device", test_machine_unknown_device);
    g_test_add_func("/machine/timers", test_timers);
    return g_test_run();
}
