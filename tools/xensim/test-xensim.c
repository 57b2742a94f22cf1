/*
 * Unit tests of xensim's own logic, with no device model: libxl's command
 * line, ioreq routing and the slot protocol (the test plays the DM on the
 * shared pages directly), the buffered ring, dm_op decoding, the RTC and the
 * xenstored wire protocol.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <stdint.h>
#include <xen/xen.h>
#include <xen/hvm/dm_op.h>
#include <xen/io/xs_wire.h>

#include "argv.h"
#include "wire.h"
#include "xensim.h"

/* ------------------------------------------------------------------ what xensim.c provides */

bool xsim_verbose;

void xsim_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *s = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_test_message("xensim: %s", s);
}

void xsim_log_limited(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *s = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_test_message("xensim: %s", s);
}

void xsim_domain_shutdown(struct xsim *xs, int reason)
{
    if (xs->shutdown_reason == XSIM_SHUTDOWN_NONE)
        xs->shutdown_reason = reason;
}

void xsim_quit(struct xsim *xs, int status)
{
    xs->exit_status = status;
}

const char *xsim_shutdown_name(int reason)
{
    return reason < 0 ? "none" : "some";
}

int xsim_dm_death_status(const struct xsim *xs)
{
    return 20;
}

/* ------------------------------------------------------------------ libxl's command line */

static char *argv_for(const char *config, uint32_t domid)
{
    struct xsim_config cfg;
    GError *err = NULL;
    xsim_config_init(&cfg);
    g_assert_true(xsim_config_parse_text(&cfg, config, &err));
    g_assert_no_error(err);
    GPtrArray *a = xsim_build_dm_argv(&cfg, "qemu-system-i386", domid, "/var/run/xen");
    g_ptr_array_add(a, NULL);
    char *line = g_strjoinv(" ", (char **)a->pdata);
    g_ptr_array_unref(a);
    xsim_config_clear(&cfg);
    return line;
}

/* The command line libxl 4.17.7 produced on real Xen (reference §5.1). */
static void test_argv_captured_fw1(void)
{
    g_autofree char *line = argv_for("name = \"fw1\"\nmemory = 64\nvcpus = 1\n"
                                     "serial = \"file:/tmp/s.log\"\nvnc = 0\nsdl = 0\n"
                                     "vga = \"none\"\n", 1);
    g_assert_cmpstr(line, ==,
        "qemu-system-i386 -xen-domid 1 -no-shutdown"
        " -chardev socket,id=libxl-cmd,path=/var/run/xen/qmp-libxl-1,server=on,wait=off"
        " -mon chardev=libxl-cmd,mode=control"
        " -chardev socket,id=libxenstat-cmd,path=/var/run/xen/qmp-libxenstat-1,server=on,"
        "wait=off -mon chardev=libxenstat-cmd,mode=control"
        " -nodefaults -no-user-config -name fw1 -vnc none -display none"
        " -serial file:/tmp/s.log -boot order=cda -net none"
        " -machine xenfv,suppress-vmdesc=on -m 64");
}

static void test_argv_captured_demo(void)
{
    g_autofree char *line = argv_for(
        "# the reference's demo guest\n"
        "name = 'demo'\nmemory = 2048\nvcpus = 2\nvga = \"stdvga\"\nserial = 'pty'\n"
        "disk = [ '/dev/vg0/demo,raw,hda,w' ]\n"
        "vif = [ 'mac=00:16:3e:5a:2b:01,bridge=xenbr0' ]\n", 5);
    g_assert_cmpstr(line, ==,
        "qemu-system-i386 -xen-domid 5 -no-shutdown"
        " -chardev socket,id=libxl-cmd,path=/var/run/xen/qmp-libxl-5,server=on,wait=off"
        " -mon chardev=libxl-cmd,mode=control"
        " -chardev socket,id=libxenstat-cmd,path=/var/run/xen/qmp-libxenstat-5,server=on,"
        "wait=off -mon chardev=libxenstat-cmd,mode=control"
        " -nodefaults -no-user-config -name demo -vnc 127.0.0.1:0,to=99 -display none"
        " -serial pty -device VGA,vgamem_mb=16 -boot order=cda -smp 2,maxcpus=2"
        " -device rtl8139,id=nic0,netdev=net0,mac=00:16:3e:5a:2b:01"
        " -netdev type=tap,id=net0,ifname=vif5.0-emu,br=xenbr0,script=no,downscript=no"
        " -machine xenfv,suppress-vmdesc=on -m 2032"
        " -drive file=/dev/vg0/demo,if=ide,index=0,media=disk,format=raw,cache=writeback");
}

static void test_argv_defaults_and_args(void)
{
    g_autofree char *line = argv_for("memory=128\nvnc=0\n"
                                     "device_model_args=['-a','b']\n"
                                     "device_model_args_hvm=[\"-c\"]\n", 3);
    g_assert_nonnull(strstr(line, " -device cirrus-vga,vgamem_mb=8 "));
    g_assert_nonnull(strstr(line, " -net none -a b -machine xenfv,suppress-vmdesc=on -c -m 120"));
    struct xsim_config cfg;
    GError *err = NULL;
    xsim_config_init(&cfg);
    g_assert_false(xsim_config_parse_text(&cfg, "memory = \"x", &err));
    g_clear_error(&err);
    g_assert_false(xsim_config_parse_text(&cfg, "memory = abc", &err));
    g_clear_error(&err);
    xsim_config_clear(&cfg);
}

/* ------------------------------------------------------------------ a domain without a DM */

struct fixture {
    struct xsim xs;
    uint16_t id;
    uint32_t dm_port[XSIM_MAX_VCPUS]; /* the test's dom0 end of each vCPU channel */
    int done_calls;
    int done_status;
    uint64_t done_data;
};

static void fixture_init(struct fixture *f, uint8_t bufioreq)
{
    memset(f, 0, sizeof(*f));
    struct xsim *xs = &f->xs;
    xs->domid = 1;
    xs->nr_vcpus = 2;
    xs->shutdown_reason = XSIM_SHUTDOWN_NONE;
    xs->exit_status = -1;
    g_assert_cmpint(xsim_mem_init(&xs->mem, 16, 0xf0000000ull), ==, 0);
    xsim_evtchn_init(&xs->guest_evtchn, 1);
    xsim_evtchn_init(&xs->dom0_evtchn, 0);
    for (unsigned i = 0; i < XSIM_MAX_VCPUS; i++)
        xs->vcpus[i].id = i;
    xsim_platform_init(xs);
    g_assert_cmpint(xsim_server_create(xs, 0, bufioreq, &f->id), ==, 0);
    struct xsim_ioreq_server *s = xsim_server_get(xs, f->id);
    for (unsigned v = 0; v < xs->nr_vcpus; v++) {
        int port = xsim_evtchn_bind_interdomain(xs, &xs->dom0_evtchn, 1, s->vcpu_port[v], NULL);
        g_assert_cmpint(port, >, 0);
        f->dm_port[v] = (uint32_t)port;
    }
    xsim_server_set_state(xs, s, true);
}

static void fixture_fini(struct fixture *f)
{
    struct xsim *xs = &f->xs;
    for (unsigned i = 0; i < XSIM_MAX_SERVERS; i++) {
        if (xs->servers[i].in_use)
            xsim_server_destroy(xs, &xs->servers[i]);
    }
    xsim_evtchn_fini(&xs->guest_evtchn);
    xsim_evtchn_fini(&xs->dom0_evtchn);
    xsim_platform_fini(xs);
    xsim_mem_fini(&xs->mem);
}

static void on_done(struct xsim *xs, int status, uint64_t data, void *opaque)
{
    struct fixture *f = opaque;
    f->done_calls++;
    f->done_status = status;
    f->done_data = data;
}

static struct xsim_ioreq_server *server(struct fixture *f)
{
    return xsim_server_get(&f->xs, f->id);
}

static struct xenabi_ioreq *slot(struct fixture *f, unsigned vcpu)
{
    struct xenabi_ioreq *page = xsim_mem_page_ptr(&f->xs.mem, server(f)->shared_page);
    return &page[vcpu];
}

static struct xenabi_buffered_iopage *bufpage(struct fixture *f)
{
    return xsim_mem_page_ptr(&f->xs.mem, server(f)->buf_page);
}

/* Plays the device model: answer the pending request of vCPU 0. */
static void dm_answer(struct fixture *f, uint64_t data)
{
    struct xenabi_ioreq *s = slot(f, 0);
    uint8_t flags = xenabi_ioreq_load_flags(s);
    g_assert_cmpuint(xenabi_ioreq_state(flags), ==, XENABI_STATE_IOREQ_READY);
    s->data = data;
    xenabi_ioreq_store_flags(s, xenabi_ioreq_with_state(flags, XENABI_STATE_IORESP_READY));
    xsim_evtchn_notify(&f->xs, &f->xs.dom0_evtchn, f->dm_port[0]);
}

static void submit(struct fixture *f, uint8_t type, bool read, uint32_t size, uint64_t addr,
                   uint64_t data)
{
    struct xsim_access acc = { .type = type, .read = read, .size = size, .count = 1,
                               .addr = addr, .data = data };
    g_assert_cmpint(xsim_vcpu_submit(&f->xs, 0, &acc, on_done, f), ==, 0);
}

static void test_claims(void)
{
    struct fixture f;
    fixture_init(&f, XENABI_BUFIOREQ_ATOMIC);
    struct xsim_ioreq_server *s = server(&f);
    g_assert_cmpint(xsim_server_map_range(s, 0, 0x3f8, 0x3ff), ==, 0);
    g_assert_cmpint(xsim_server_map_range(s, 0, 0x3fc, 0x400), ==, -EEXIST);
    g_assert_cmpint(xsim_server_map_range(s, 0, 0x10, 0x0f), ==, -EINVAL);
    g_assert_cmpint(xsim_server_map_range(s, 3, 0, 1), ==, -EINVAL);
    g_assert_cmpint(xsim_server_unmap_range(s, 0, 0x3fa, 0x3fb), ==, 0);
    g_assert_cmpuint(s->ranges[0]->len, ==, 2);
    g_assert_cmpint(xsim_server_unmap_range(s, 0, 0x3fa, 0x3fb), ==, -ENOENT);
    /* 256 ranges per type, counted after merging. */
    for (unsigned i = 0; i < 254; i++)
        g_assert_cmpint(xsim_server_map_range(s, 1, 0x100000 + i * 0x10, 0x100000 + i * 0x10 + 7),
                        ==, 0);
    g_assert_cmpint(xsim_server_map_range(s, 1, 0x900000, 0x900007), ==, 0);
    g_assert_cmpint(xsim_server_map_range(s, 1, 0x900010, 0x900017), ==, 0);
    g_assert_cmpint(xsim_server_map_range(s, 1, 0x900020, 0x900027), ==, -ENOMEM);
    g_assert_cmpint(xsim_server_map_range(s, 1, 0x900018, 0x90001f), ==, 0); /* merges */
    /* Unmapping the middle of a range splits it: refused at the limit, nothing removed. */
    g_assert_cmpuint(s->ranges[1]->len, ==, XSIM_MAX_RANGES);
    g_assert_cmpint(xsim_server_unmap_range(s, 1, 0x100002, 0x100003), ==, -ENOMEM);
    g_assert_cmpuint(s->ranges[1]->len, ==, XSIM_MAX_RANGES);
    g_assert_cmphex(g_array_index(s->ranges[1], struct xsim_range, 0).end, ==, 0x100007);
    g_assert_cmpint(xsim_server_unmap_range(s, 1, 0x100000, 0x100003), ==, 0); /* no split */
    struct xsim_ioreq_server *out;
    g_assert_cmpint(xsim_server_check(&f.xs, 0, 7, &out), ==, -ENOENT);
    g_assert_cmpint(xsim_server_check(&f.xs, 2, f.id, &out), ==, -EPERM);
    fixture_fini(&f);
}

static void test_sync_pio(void)
{
    struct fixture f;
    fixture_init(&f, XENABI_BUFIOREQ_ATOMIC);
    g_assert_cmpuint(slot(&f, 0)->vp_eport, ==, server(&f)->vcpu_port[0]);
    g_assert_cmpint(xsim_server_map_range(server(&f), 0, 0x3f8, 0x3ff), ==, 0);
    submit(&f, XENABI_IOREQ_TYPE_PIO, true, 1, 0x3fd, 0);
    g_assert_cmpint(f.done_calls, ==, 0);
    struct xenabi_ioreq *s = slot(&f, 0);
    g_assert_cmpuint(s->addr, ==, 0x3fd);
    g_assert_cmpuint(s->size, ==, 1);
    g_assert_cmpuint(s->count, ==, 1);
    g_assert_cmpuint(s->type, ==, XENABI_IOREQ_TYPE_PIO);
    g_assert_true(xenabi_ioreq_is_read(s->flags));
    dm_answer(&f, 0x60);
    g_assert_cmpint(f.done_calls, ==, 1);
    g_assert_cmpuint(f.done_data, ==, 0x60);
    g_assert_cmpuint(xenabi_ioreq_state(s->flags), ==, XENABI_STATE_IOREQ_NONE);
    /* A 2-byte access at 0x3ff crosses the claim's end: unclaimed, all-ones. */
    submit(&f, XENABI_IOREQ_TYPE_PIO, true, 2, 0x3ff, 0);
    g_assert_cmpint(f.done_calls, ==, 2);
    g_assert_cmpuint(f.done_data, ==, 0xffff);
    /* A disabled server receives nothing. */
    xsim_server_set_state(&f.xs, server(&f), false);
    submit(&f, XENABI_IOREQ_TYPE_PIO, true, 1, 0x3f8, 0);
    g_assert_cmpint(f.done_calls, ==, 3);
    g_assert_cmpuint(f.done_data, ==, 0xff);
    fixture_fini(&f);
}

static void test_pci_config(void)
{
    struct fixture f;
    fixture_init(&f, XENABI_BUFIOREQ_ATOMIC);
    uint32_t sbdf = 3 << 3; /* 00:03.0 */
    g_assert_cmpint(xsim_server_map_range(server(&f), 2, sbdf, sbdf), ==, 0);
    g_assert_cmpint(xsim_server_map_range(server(&f), 0, 0xcf8, 0xcff), ==, 0);
    submit(&f, XENABI_IOREQ_TYPE_PIO, false, 4, 0xcf8, 0x80001810);
    g_assert_cmpuint(slot(&f, 0)->type, ==, XENABI_IOREQ_TYPE_PIO); /* latched and forwarded */
    dm_answer(&f, 0);
    submit(&f, XENABI_IOREQ_TYPE_PIO, true, 2, 0xcfe, 0);
    g_assert_cmpuint(slot(&f, 0)->type, ==, XENABI_IOREQ_TYPE_PCI_CONFIG);
    g_assert_cmphex(slot(&f, 0)->addr, ==, (uint64_t)sbdf << 32 | 0x12);
    dm_answer(&f, 0xbeef);
    g_assert_cmphex(f.done_data, ==, 0xbeef);
    /* Another device: a plain PIO to the owner of 0xCFC. */
    submit(&f, XENABI_IOREQ_TYPE_PIO, false, 4, 0xcf8, 0x80002000);
    dm_answer(&f, 0);
    submit(&f, XENABI_IOREQ_TYPE_PIO, true, 4, 0xcfc, 0);
    g_assert_cmpuint(slot(&f, 0)->type, ==, XENABI_IOREQ_TYPE_PIO);
    g_assert_cmphex(slot(&f, 0)->addr, ==, 0xcfc);
    dm_answer(&f, ~0u);
    fixture_fini(&f);
}

static void test_buffered(void)
{
    struct fixture f;
    fixture_init(&f, XENABI_BUFIOREQ_ATOMIC);
    g_assert_cmpint(xsim_server_map_range(server(&f), 1, 0xa0000, 0xbffff), ==, 0);
    struct xenabi_buffered_iopage *pg = bufpage(&f);
    submit(&f, XENABI_IOREQ_TYPE_COPY, false, 1, 0xa0010, 0x5a);
    g_assert_cmpint(f.done_calls, ==, 1); /* no answer needed */
    g_assert_cmpuint(pg->write_pointer, ==, 1);
    g_assert_cmpuint(xenabi_buf_addr(pg->slot[0].word), ==, 0xa0010);
    g_assert_cmpuint(xenabi_buf_size(pg->slot[0].word), ==, 1);
    g_assert_cmpuint(pg->slot[0].data, ==, 0x5a);
    submit(&f, XENABI_IOREQ_TYPE_COPY, false, 8, 0xb8000, 0x1122334455667788ull);
    g_assert_cmpuint(pg->write_pointer, ==, 3);
    g_assert_cmpuint(xenabi_buf_size(pg->slot[1].word), ==, 8);
    g_assert_cmphex(pg->slot[1].data, ==, 0x55667788);
    g_assert_cmphex(pg->slot[2].data, ==, 0x11223344);
    /* Reads are synchronous. */
    submit(&f, XENABI_IOREQ_TYPE_COPY, true, 1, 0xa0010, 0);
    g_assert_cmpuint(slot(&f, 0)->type, ==, XENABI_IOREQ_TYPE_COPY);
    dm_answer(&f, 7);
    /* Fill the ring: the write that does not fit goes synchronous. */
    while (pg->write_pointer - pg->read_pointer < XENABI_IOREQ_BUFFER_SLOT_NUM) {
        int calls = f.done_calls;
        submit(&f, XENABI_IOREQ_TYPE_COPY, false, 1, 0xa0000, 1);
        g_assert_cmpint(f.done_calls, ==, calls + 1);
    }
    submit(&f, XENABI_IOREQ_TYPE_COPY, false, 2, 0xa0000, 1);
    g_assert_cmpuint(xenabi_ioreq_state(slot(&f, 0)->flags), ==, XENABI_STATE_IOREQ_READY);
    dm_answer(&f, 0);
    /* ATOMIC: once the consumer passed 511 the pointers are rebased by a multiple of 511. */
    pg->read_pointer = pg->write_pointer;
    submit(&f, XENABI_IOREQ_TYPE_COPY, false, 1, 0xa0000, 1);
    g_assert_cmpuint(pg->read_pointer, <, XENABI_IOREQ_BUFFER_SLOT_NUM);
    g_assert_cmpuint(pg->write_pointer - pg->read_pointer, ==, 1);
    fixture_fini(&f);
}

static void test_rep_clip(void)
{
    struct fixture f;
    fixture_init(&f, XENABI_BUFIOREQ_OFF);
    g_assert_cmpuint(server(&f)->buf_page, ==, XSIM_NO_PAGE);
    g_assert_cmpint(xsim_server_map_range(server(&f), 1, 0x10000000, 0x1000ffff), ==, 0);
    struct xsim_access acc = { .type = XENABI_IOREQ_TYPE_COPY, .size = 4, .count = 4,
                               .addr = 0x10000ff8, .data = 0x5, .read = false };
    g_assert_cmpint(xsim_vcpu_submit(&f.xs, 0, &acc, on_done, &f), ==, 0);
    g_assert_cmpuint(slot(&f, 0)->count, ==, 2);
    g_assert_cmphex(slot(&f, 0)->addr, ==, 0x10000ff8);
    dm_answer(&f, 0x5);
    g_assert_cmpint(f.done_calls, ==, 0);
    g_assert_cmpuint(slot(&f, 0)->count, ==, 2);
    g_assert_cmphex(slot(&f, 0)->addr, ==, 0x10001000);
    dm_answer(&f, 0x5);
    g_assert_cmpint(f.done_calls, ==, 1);
    /* Downwards (df): stays in the page of addr. */
    acc.df = true;
    acc.addr = 0x10001004;
    acc.count = 3;
    g_assert_cmpint(xsim_vcpu_submit(&f.xs, 0, &acc, on_done, &f), ==, 0);
    g_assert_cmpuint(slot(&f, 0)->count, ==, 2);
    dm_answer(&f, 0);
    g_assert_cmphex(slot(&f, 0)->addr, ==, 0x10000ffc);
    g_assert_cmpuint(slot(&f, 0)->count, ==, 1);
    dm_answer(&f, 0);
    g_assert_cmpint(f.done_calls, ==, 2);
    fixture_fini(&f);
}

/*
 * Plays a device model that fills a REP INS buffer: checks the pending request is the next piece
 * of a word-sized INS from port that continues at *next and keeps its buffer inside one page
 * (or is a single item), writes each item's index + 1 there and answers. Returns its count.
 */
static uint32_t dm_fill_ins_piece(struct fixture *f, uint64_t port, bool df, uint64_t *next,
                                  uint32_t *index)
{
    struct xenabi_ioreq *s = slot(f, 0);
    uint8_t flags = xenabi_ioreq_load_flags(s);
    g_assert_cmpuint(s->type, ==, XENABI_IOREQ_TYPE_PIO);
    g_assert_cmphex(s->addr, ==, port);
    g_assert_cmpuint(s->size, ==, 2);
    g_assert_true(xenabi_ioreq_data_is_ptr(flags));
    g_assert_true(xenabi_ioreq_is_read(flags));
    g_assert_cmphex(s->data, ==, *next);
    uint32_t count = s->count;
    uint64_t low = df ? s->data - (uint64_t)(count - 1) * 2 : s->data;
    if (count > 1)
        g_assert_cmphex(low >> 12, ==, (low + (uint64_t)count * 2 - 1) >> 12);
    for (uint32_t i = 0; i < count; i++, (*index)++) {
        uint16_t word = (uint16_t)(*index + 1);
        uint64_t gpa = df ? s->data - (uint64_t)i * 2 : s->data + (uint64_t)i * 2;
        g_assert_cmpint(xsim_mem_write(&f->xs.mem, gpa, &word, sizeof(word)), ==, 0);
    }
    *next = df ? s->data - (uint64_t)count * 2 : s->data + (uint64_t)count * 2;
    dm_answer(f, 0);
    return count;
}

/* Runs a REP INS of count words into buf through the test's device model; its piece sizes. */
static GArray *run_rep_ins(struct fixture *f, uint64_t buf, uint32_t count, bool df)
{
    struct xsim_access acc = { .type = XENABI_IOREQ_TYPE_PIO, .read = true, .size = 2,
                               .count = count, .addr = 0x1f0, .data = buf,
                               .data_is_ptr = true, .df = df };
    GArray *pieces = g_array_new(false, false, sizeof(uint32_t));
    int calls = f->done_calls;
    uint64_t next = buf;
    uint32_t index = 0;
    g_assert_cmpint(xsim_vcpu_submit(&f->xs, 0, &acc, on_done, f), ==, 0);
    while (f->done_calls == calls) {
        g_assert_cmpuint(pieces->len, <, count);
        uint32_t n = dm_fill_ins_piece(f, 0x1f0, df, &next, &index);
        g_array_append_val(pieces, n);
    }
    g_assert_cmpint(f->done_status, ==, 0);
    g_assert_cmpuint(index, ==, count);
    /* Every item arrived where the CPU would have put it, and nothing beyond. */
    for (uint32_t i = 0; i <= count; i++) {
        uint16_t word = 0xdead;
        uint64_t gpa = df ? buf - (uint64_t)i * 2 : buf + (uint64_t)i * 2;
        g_assert_cmpint(xsim_mem_read(&f->xs.mem, gpa, &word, sizeof(word)), ==, 0);
        g_assert_cmpuint(word, ==, i < count ? (uint16_t)(i + 1) : 0);
    }
    return pieces;
}

/*
 * REP INS/OUTS with a RAM buffer: Xen (hvmemul_do_io_addr) clips the count so the buffer stays
 * in one page; xendm refuses a request whose items span more than a page.
 */
static void test_rep_clip_pio_buffer(void)
{
    struct fixture f;
    fixture_init(&f, XENABI_BUFIOREQ_ATOMIC);
    g_assert_cmpint(xsim_server_map_range(server(&f), 0, 0x1f0, 0x1f7), ==, 0);
    /* 32767 words from 16 bytes before a page end: 8, then 15 full pages, then the rest. */
    g_autoptr(GArray) up = run_rep_ins(&f, 0x10ff0, 32767, false);
    g_assert_cmpuint(up->len, ==, 17);
    g_assert_cmpuint(g_array_index(up, uint32_t, 0), ==, 8);
    for (unsigned i = 1; i < 16; i++)
        g_assert_cmpuint(g_array_index(up, uint32_t, i), ==, 2048);
    g_assert_cmpuint(g_array_index(up, uint32_t, 16), ==, 32767 - 8 - 15 * 2048);
    /* Downwards: (off + size - 1) / size items, so offset 0 of a page goes alone. */
    g_autoptr(GArray) down = run_rep_ins(&f, 0x40ffe, 5000, true);
    static const uint32_t down_pieces[] = { 2047, 1, 2047, 1, 904 };
    g_assert_cmpuint(down->len, ==, G_N_ELEMENTS(down_pieces));
    for (unsigned i = 0; i < G_N_ELEMENTS(down_pieces); i++)
        g_assert_cmpuint(g_array_index(down, uint32_t, i), ==, down_pieces[i]);
    /* An item that straddles two pages goes alone; OUTS is split the same way. */
    struct xsim_access acc = { .type = XENABI_IOREQ_TYPE_PIO, .read = false, .size = 4,
                               .count = 3, .addr = 0x1f0, .data = 0x50ffe,
                               .data_is_ptr = true };
    g_assert_cmpint(xsim_vcpu_submit(&f.xs, 0, &acc, on_done, &f), ==, 0);
    g_assert_cmpuint(slot(&f, 0)->count, ==, 1);
    g_assert_cmphex(slot(&f, 0)->data, ==, 0x50ffe);
    g_assert_false(xenabi_ioreq_is_read(slot(&f, 0)->flags));
    dm_answer(&f, 0);
    g_assert_cmpuint(slot(&f, 0)->count, ==, 2);
    g_assert_cmphex(slot(&f, 0)->data, ==, 0x51002);
    g_assert_cmphex(slot(&f, 0)->addr, ==, 0x1f0);
    int calls = f.done_calls;
    dm_answer(&f, 0);
    g_assert_cmpint(f.done_calls, ==, calls + 1);
    /* A REP that fits its page is one request. */
    acc.data = 0x60000;
    acc.count = 1024;
    g_assert_cmpint(xsim_vcpu_submit(&f.xs, 0, &acc, on_done, &f), ==, 0);
    g_assert_cmpuint(slot(&f, 0)->count, ==, 1024);
    dm_answer(&f, 0);
    g_assert_cmpint(f.done_calls, ==, calls + 2);
    fixture_fini(&f);
}

static void test_state_backwards_crashes(void)
{
    struct fixture f;
    fixture_init(&f, XENABI_BUFIOREQ_ATOMIC);
    g_assert_cmpint(xsim_server_map_range(server(&f), 0, 0x60, 0x60), ==, 0);
    submit(&f, XENABI_IOREQ_TYPE_PIO, true, 1, 0x60, 0);
    struct xenabi_ioreq *s = slot(&f, 0);
    xenabi_ioreq_store_flags(s, xenabi_ioreq_with_state(s->flags, XENABI_STATE_IOREQ_INPROCESS));
    xsim_evtchn_notify(&f.xs, &f.xs.dom0_evtchn, f.dm_port[0]);
    g_assert_cmpint(f.done_calls, ==, 0);
    xenabi_ioreq_store_flags(s, xenabi_ioreq_with_state(s->flags, XENABI_STATE_IOREQ_READY));
    xsim_evtchn_notify(&f.xs, &f.xs.dom0_evtchn, f.dm_port[0]);
    g_assert_cmpint(f.done_calls, ==, 1);
    g_assert_cmpint(f.done_status, ==, -EIO);
    g_assert_true(f.xs.crashed);
    g_assert_cmpint(f.xs.shutdown_reason, ==, XSIM_SHUTDOWN_CRASH);
    struct xsim_access acc = { .type = XENABI_IOREQ_TYPE_PIO, .size = 1, .count = 1 };
    g_assert_cmpint(xsim_vcpu_submit(&f.xs, 0, &acc, on_done, &f), ==, -EIO);
    fixture_fini(&f);
}

static void test_invalidate_broadcast(void)
{
    struct fixture f;
    fixture_init(&f, XENABI_BUFIOREQ_ATOMIC);
    g_assert_cmpint(xsim_broadcast_invalidate(&f.xs, on_done, &f), ==, 0);
    g_assert_cmpuint(slot(&f, 0)->type, ==, XENABI_IOREQ_TYPE_INVALIDATE);
    g_assert_cmpuint(slot(&f, 0)->size, ==, 4);
    g_assert_cmphex(slot(&f, 0)->data, ==, ~0ull);
    g_assert_false(xenabi_ioreq_is_read(slot(&f, 0)->flags));
    dm_answer(&f, ~0ull);
    g_assert_cmpint(f.done_calls, ==, 1);
    fixture_fini(&f);
}

/* ------------------------------------------------------------------ dm_op */

static int dmop(struct fixture *f, struct xen_dm_op *op, void *buf1, uint32_t len1)
{
    uint8_t *bufs[2] = { (uint8_t *)op, buf1 };
    uint32_t lens[2] = { sizeof(*op), len1 };
    return xsim_dmop(&f->xs, 0, buf1 ? 2 : 1, bufs, lens);
}

static void test_dmop_interrupts(void)
{
    struct fixture f;
    fixture_init(&f, XENABI_BUFIOREQ_ATOMIC);
    struct xsim_irqs *irqs = &f.xs.irqs;
    struct xen_dm_op op = { .op = XEN_DMOP_set_pci_intx_level };
    op.u.set_pci_intx_level.device = 9;
    op.u.set_pci_intx_level.intx = 1;
    op.u.set_pci_intx_level.level = 1;
    g_assert_cmpint(dmop(&f, &op, NULL, 0), ==, 0);
    /* Xen's swizzle: ((9 << 2) + (9 >> 3) + 1) & 31 = 6, + 16. */
    g_assert_cmpuint(irqs->gsi_level[22], ==, 1);
    g_assert_cmpuint(irqs->log[0].gsi, ==, 22);
    op.u.set_pci_intx_level.intx = 4;
    g_assert_cmpint(dmop(&f, &op, NULL, 0), ==, -EINVAL);

    memset(&op, 0, sizeof(op));
    op.op = XEN_DMOP_set_pci_link_route;
    op.u.set_pci_link_route.link = 2;
    op.u.set_pci_link_route.isa_irq = 11;
    g_assert_cmpint(dmop(&f, &op, NULL, 0), ==, 0);
    g_assert_cmpuint(irqs->link_route[2], ==, 11);
    /* Device 9 pin B is on link (9 + 1) & 3 = 2: routed to IRQ 11 it raises GSI 11 too. */
    g_assert_cmpuint(irqs->gsi_level[11], ==, 1);
    g_assert_cmpuint(irqs->isa_level[11], ==, 0);
    op.u.set_pci_link_route.link = 4;
    g_assert_cmpint(dmop(&f, &op, NULL, 0), ==, -EINVAL);
    op.u.set_pci_link_route.link = 0;
    op.u.set_pci_link_route.isa_irq = 16;
    g_assert_cmpint(dmop(&f, &op, NULL, 0), ==, -EINVAL);

    memset(&op, 0, sizeof(op));
    op.op = XEN_DMOP_set_isa_irq_level;
    op.u.set_isa_irq_level.isa_irq = 4;
    op.u.set_isa_irq_level.level = 1;
    g_assert_cmpint(dmop(&f, &op, NULL, 0), ==, 0);
    g_assert_cmpint(dmop(&f, &op, NULL, 0), ==, 0); /* every call is logged */
    g_assert_cmpuint(irqs->isa_level[4], ==, 1);

    memset(&op, 0, sizeof(op));
    op.op = XEN_DMOP_inject_msi;
    op.u.inject_msi.addr = 0xfee01000;
    op.u.inject_msi.data = 0x4041;
    g_assert_cmpint(dmop(&f, &op, NULL, 0), ==, 0);
    g_assert_cmpuint(irqs->log_len, ==, 5);
    g_assert_cmpuint(irqs->log[4].kind, ==, XSIM_IRQ_MSI);
    g_assert_cmphex(irqs->log[4].addr, ==, 0xfee01000);

    memset(&op, 0, sizeof(op));
    op.op = XEN_DMOP_nr_vcpus;
    g_assert_cmpint(dmop(&f, &op, NULL, 0), ==, 0);
    g_assert_cmpuint(op.u.nr_vcpus.vcpus, ==, 2);
    op.op = 99;
    g_assert_cmpint(dmop(&f, &op, NULL, 0), ==, -EOPNOTSUPP);
    op.op = XEN_DMOP_nr_vcpus;
    op.pad = 1;
    g_assert_cmpint(dmop(&f, &op, NULL, 0), ==, -EINVAL);
    for (unsigned i = 0; i < XSIM_IRQ_LOG_MAX + 10; i++)
        xsim_irq_log_append(irqs, &irqs->log[0]);
    g_assert_cmpuint(irqs->log_len, ==, XSIM_IRQ_LOG_MAX);
    g_assert_cmpuint(irqs->log_dropped, ==, 15);
    fixture_fini(&f);
}

static void test_dmop_servers_and_memory(void)
{
    struct fixture f;
    fixture_init(&f, XENABI_BUFIOREQ_ATOMIC);
    struct xen_dm_op op = { .op = XEN_DMOP_create_ioreq_server };
    op.u.create_ioreq_server.handle_bufioreq = 3;
    g_assert_cmpint(dmop(&f, &op, NULL, 0), ==, -EINVAL);
    op.u.create_ioreq_server.handle_bufioreq = 0;
    g_assert_cmpint(dmop(&f, &op, NULL, 0), ==, 0);
    uint16_t id = op.u.create_ioreq_server.id;
    g_assert_cmpuint(id, !=, f.id);

    memset(&op, 0, sizeof(op));
    op.op = XEN_DMOP_get_ioreq_server_info;
    op.u.get_ioreq_server_info.id = id;
    op.u.get_ioreq_server_info.flags = XEN_DMOP_no_gfns;
    g_assert_cmpint(dmop(&f, &op, NULL, 0), ==, 0);
    g_assert_cmpuint(op.u.get_ioreq_server_info.bufioreq_port, ==, 0);
    op.u.get_ioreq_server_info.id = 7;
    g_assert_cmpint(dmop(&f, &op, NULL, 0), ==, -ENOENT);

    memset(&op, 0, sizeof(op));
    op.op = XEN_DMOP_destroy_ioreq_server;
    op.u.destroy_ioreq_server.id = id;
    g_assert_cmpint(dmop(&f, &op, NULL, 0), ==, 0);
    g_assert_cmpint(dmop(&f, &op, NULL, 0), ==, -ENOENT);

    /* relocate_memory moves frames: the memfd page follows the gfn. */
    uint64_t page_before, page_after;
    g_assert_true(xsim_mem_lookup(&f.xs.mem, 0x300, &page_before, NULL));
    memset(&op, 0, sizeof(op));
    op.op = XEN_DMOP_relocate_memory;
    op.u.relocate_memory.size = 2;
    op.u.relocate_memory.src_gfn = 0x300;
    op.u.relocate_memory.dst_gfn = 0xe0000;
    g_assert_cmpint(dmop(&f, &op, NULL, 0), ==, 0);
    g_assert_false(xsim_mem_lookup(&f.xs.mem, 0x300, NULL, NULL));
    g_assert_true(xsim_mem_lookup(&f.xs.mem, 0xe0000, &page_after, NULL));
    g_assert_cmpuint(page_before, ==, page_after);
    op.u.relocate_memory.size = 1;
    op.u.relocate_memory.src_gfn = 0x300;
    g_assert_cmpint(dmop(&f, &op, NULL, 0), ==, -EINVAL);

    /* track_dirty_vram: first call all dirty, then what was written. */
    uint8_t bitmap[2];
    memset(&op, 0, sizeof(op));
    op.op = XEN_DMOP_track_dirty_vram;
    op.u.track_dirty_vram.first_pfn = 0x800;
    op.u.track_dirty_vram.nr = 16;
    g_assert_cmpint(dmop(&f, &op, bitmap, sizeof(bitmap)), ==, 0);
    g_assert_cmphex(bitmap[0] & bitmap[1], ==, 0xff);
    g_assert_cmpint(dmop(&f, &op, bitmap, sizeof(bitmap)), ==, 0);
    g_assert_cmphex(bitmap[0] | bitmap[1], ==, 0);
    uint8_t byte = 1;
    xsim_mem_write(&f.xs.mem, 0x809000, &byte, 1);
    g_assert_cmpint(dmop(&f, &op, bitmap, sizeof(bitmap)), ==, 0);
    g_assert_cmphex(bitmap[1], ==, 0x02);

    memset(&op, 0, sizeof(op));
    op.op = XEN_DMOP_set_mem_type;
    op.u.set_mem_type.first_pfn = 0xc0;
    op.u.set_mem_type.nr = 0x40;
    op.u.set_mem_type.mem_type = XSIM_MEM_RAM_RO;
    g_assert_cmpint(dmop(&f, &op, NULL, 0), ==, 0);
    unsigned type;
    g_assert_true(xsim_mem_lookup(&f.xs.mem, 0xc5, NULL, &type));
    g_assert_cmpuint(type, ==, XSIM_MEM_RAM_RO);
    op.u.set_mem_type.first_pfn = 0xa0; /* the VGA hole is not RAM */
    op.u.set_mem_type.nr = 1;
    g_assert_cmpint(dmop(&f, &op, NULL, 0), ==, -EINVAL);

    memset(&op, 0, sizeof(op));
    op.op = XEN_DMOP_remote_shutdown;
    op.u.remote_shutdown.reason = 1;
    g_assert_cmpint(dmop(&f, &op, NULL, 0), ==, 0);
    g_assert_cmpint(f.xs.shutdown_reason, ==, XSIM_SHUTDOWN_REBOOT);
    /* Xen takes the reason as a u8: 0x104 is watchdog (4). */
    op.u.remote_shutdown.reason = 0x104;
    g_assert_cmpint(dmop(&f, &op, NULL, 0), ==, 0);
    struct xsim_irqs *irqs = &f.xs.irqs;
    struct xsim_irq_event *last =
        &irqs->log[(irqs->log_head + irqs->log_len - 1) % XSIM_IRQ_LOG_MAX];
    g_assert_cmpuint(last->kind, ==, XSIM_IRQ_SHUTDOWN);
    g_assert_cmpuint(last->data, ==, XSIM_SHUTDOWN_WATCHDOG);
    fixture_fini(&f);
}

/* ------------------------------------------------------------------ platform */

static uint64_t pio(struct fixture *f, uint16_t port, uint32_t size, bool read, uint64_t val)
{
    uint64_t data = val;
    g_assert_true(xsim_platform_pio(&f->xs, port, size, read, &data));
    return data;
}

static void test_rtc_cmos(void)
{
    struct fixture f;
    fixture_init(&f, XENABI_BUFIOREQ_ATOMIC);
    /* The NVRAM above the clock is the device model's: Xen does not handle it. */
    uint64_t data = 0x80 | 0x34; /* NMI mask bit ignored for the index */
    g_assert_false(xsim_platform_pio(&f.xs, 0x70, 1, false, &data));
    g_assert_false(xsim_platform_pio(&f.xs, 0x71, 1, true, &data));
    g_assert_false(xsim_platform_pio(&f.xs, 0x70, 1, true, &data));
    pio(&f, 0x70, 1, false, 0x0b);
    g_assert_cmphex(pio(&f, 0x71, 1, true, 0), ==, 0x02); /* 24h, BCD */
    pio(&f, 0x70, 1, false, 0x04);
    uint64_t hours = pio(&f, 0x71, 1, true, 0);
    g_assert_cmpuint(hours & 0xf, <=, 9); /* BCD digits */
    /* Setting the year moves the clock and sends TIMEOFFSET through the buffered ring. */
    pio(&f, 0x70, 1, false, 0x09);
    uint64_t year = pio(&f, 0x71, 1, true, 0);
    pio(&f, 0x71, 1, false, year == 0x99 ? 0x98 : ((year & 0xf) == 9 ? year + 7 : year + 1));
    struct xenabi_buffered_iopage *pg = bufpage(&f);
    g_assert_cmpuint(pg->write_pointer, ==, 2);
    g_assert_cmpuint(xenabi_buf_type(pg->slot[0].word), ==, XENABI_IOREQ_TYPE_TIMEOFFSET);
    int64_t delta = (int64_t)((uint64_t)pg->slot[1].data << 32 | pg->slot[0].data);
    g_assert_cmpint(delta, !=, 0);
    g_assert_cmpint(f.xs.platform.rtc_offset, ==, delta);
    /* Byte accesses only. */
    g_assert_cmphex(pio(&f, 0x71, 2, true, 0), ==, ~0ull);
    /* PM1a status is write-1-to-clear; enable is plain. */
    f.xs.platform.pm1a_sts = 0x0101;
    pio(&f, 0xb000, 2, false, 0x0001);
    g_assert_cmphex(pio(&f, 0xb000, 2, true, 0), ==, 0x0100);
    pio(&f, 0xb002, 2, false, 0x0120);
    g_assert_cmphex(pio(&f, 0xb000, 4, true, 0), ==, 0x01200100);
    uint64_t t1 = pio(&f, 0xb008, 4, true, 0);
    g_usleep(2000);
    g_assert_cmpuint(pio(&f, 0xb008, 4, true, 0) - t1, >=, 7000);
    uint64_t dummy = 0;
    g_assert_false(xsim_platform_pio(&f.xs, 0xb004, 2, true, &dummy));
    fixture_fini(&f);
}

/* ------------------------------------------------------------------ xenstored */

struct xs_client {
    int fd;
    GByteArray *in;
};

static void xs_send(struct xs_client *c, uint32_t type, uint32_t tx, const void *p, uint32_t len)
{
    struct xsd_sockmsg h = { .type = type, .req_id = 7, .tx_id = tx, .len = len };
    g_assert_cmpint(send(c->fd, &h, sizeof(h), 0), ==, sizeof(h));
    if (len)
        g_assert_cmpint(send(c->fd, p, len, 0), ==, (ssize_t)len);
}

/* Receives one message, running the loop (xenstored lives on it). */
static char *xs_recv(struct xs_client *c, uint32_t *type)
{
    for (;;) {
        if (c->in->len >= sizeof(struct xsd_sockmsg)) {
            struct xsd_sockmsg h;
            memcpy(&h, c->in->data, sizeof(h));
            if (c->in->len >= sizeof(h) + h.len) {
                char *payload = g_strndup((const char *)c->in->data + sizeof(h), h.len);
                if (h.len && c->in->data[sizeof(h) + h.len - 1] == '\0')
                    payload[h.len - 1] = '\0';
                g_byte_array_remove_range(c->in, 0, (guint)(sizeof(h) + h.len));
                *type = h.type;
                return payload;
            }
        }
        uint8_t buf[4096];
        ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0)
            g_byte_array_append(c->in, buf, (guint)n);
        else
            g_main_context_iteration(NULL, TRUE);
    }
}

static char *xs_call(struct xs_client *c, uint32_t type, uint32_t tx, const char *a,
                     const char *b, uint32_t *rtype)
{
    GByteArray *p = g_byte_array_new();
    g_byte_array_append(p, (const guint8 *)a, (guint)strlen(a) + 1);
    if (b)
        g_byte_array_append(p, (const guint8 *)b, (guint)strlen(b) + (type == XS_WRITE ? 0 : 1));
    xs_send(c, type, tx, p->data, p->len);
    g_byte_array_free(p, TRUE);
    return xs_recv(c, rtype);
}

static void expect(struct xs_client *c, uint32_t type, uint32_t tx, const char *a, const char *b,
                   uint32_t want_type, const char *want)
{
    uint32_t rtype;
    g_autofree char *r = xs_call(c, type, tx, a, b, &rtype);
    g_assert_cmpuint(rtype, ==, want_type);
    g_assert_cmpstr(r, ==, want);
}

static void test_xenstored(void)
{
    struct xsim xs = { .domid = 1 };
    g_autofree char *dir = g_dir_make_tmp("test-xensim-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "xs.sock", NULL);
    GError *err = NULL;
    xs.xenstored = xsim_xs_new(&xs, path, &err);
    g_assert_no_error(err);
    struct xs_client c = { .in = g_byte_array_new() };
    c.fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    strcpy(addr.sun_path, path);
    g_assert_cmpint(connect(c.fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);

    expect(&c, XS_READ, 0, "/a/b", NULL, XS_ERROR, "ENOENT");
    expect(&c, XS_WRITE, 0, "device-model/1/state", "starting", XS_WRITE, "OK");
    g_autofree char *v = xsim_xs_read(xs.xenstored, "/local/domain/0/device-model/1/state");
    g_assert_cmpstr(v, ==, "starting");
    expect(&c, XS_READ, 0, "/local/domain/0/device-model/1/state", NULL, XS_READ, "starting");
    expect(&c, XS_READ, 0, "bad//path", NULL, XS_ERROR, "EINVAL");

    /* A watch fires once at registration, then for changes at or below its path. */
    expect(&c, XS_WATCH, 0, "device-model", "tok", XS_WATCH, "OK");
    uint32_t t;
    g_autofree char *ev = xs_recv(&c, &t);
    g_assert_cmpuint(t, ==, XS_WATCH_EVENT);
    g_assert_cmpstr(ev, ==, "device-model"); /* relative, as registered */
    xsim_xs_write(xs.xenstored, "/local/domain/0/device-model/1/state", "running");
    g_autofree char *ev2 = xs_recv(&c, &t);
    g_assert_cmpuint(t, ==, XS_WATCH_EVENT);
    g_assert_cmpstr(ev2, ==, "device-model/1/state");

    expect(&c, XS_MKDIR, 0, "/x/y", NULL, XS_MKDIR, "OK");
    expect(&c, XS_WRITE, 0, "/x/z", "1", XS_WRITE, "OK");
    uint32_t rtype;
    g_autofree char *dirlist = xs_call(&c, XS_DIRECTORY, 0, "/x", NULL, &rtype);
    g_assert_cmpuint(rtype, ==, XS_DIRECTORY);
    g_assert_cmpstr(dirlist, ==, "y"); /* then "z": NUL-separated */
    expect(&c, XS_GET_PERMS, 0, "/x", NULL, XS_GET_PERMS, "n0");
    expect(&c, XS_SET_PERMS, 0, "/x", "n0\0", XS_SET_PERMS, "OK");
    expect(&c, XS_RM, 0, "/x", NULL, XS_RM, "OK");
    expect(&c, XS_READ, 0, "/x/z", NULL, XS_ERROR, "ENOENT");
    expect(&c, XS_GET_DOMAIN_PATH, 0, "3", NULL, XS_GET_DOMAIN_PATH, "/local/domain/3");

    /* Transactions: private until commit; a concurrent change makes the commit EAGAIN. */
    g_autofree char *txid = xs_call(&c, XS_TRANSACTION_START, 0, "", NULL, &rtype);
    uint32_t tx = (uint32_t)atoi(txid);
    g_assert_cmpuint(tx, >, 0);
    expect(&c, XS_WRITE, tx, "/t", "1", XS_WRITE, "OK");
    expect(&c, XS_READ, 0, "/t", NULL, XS_ERROR, "ENOENT");
    expect(&c, XS_TRANSACTION_END, tx, "T", NULL, XS_TRANSACTION_END, "OK");
    expect(&c, XS_READ, 0, "/t", NULL, XS_READ, "1");
    g_autofree char *txid2 = xs_call(&c, XS_TRANSACTION_START, 0, "", NULL, &rtype);
    tx = (uint32_t)atoi(txid2);
    expect(&c, XS_WRITE, tx, "/t", "2", XS_WRITE, "OK");
    xsim_xs_write(xs.xenstored, "/u", "other");
    expect(&c, XS_TRANSACTION_END, tx, "T", NULL, XS_ERROR, "EAGAIN");
    expect(&c, XS_READ, 0, "/t", NULL, XS_READ, "1");

    /* A malformed message (payload above 4096) closes the connection. */
    struct xsd_sockmsg h = { .type = XS_READ, .len = 5000 };
    g_assert_cmpint(send(c.fd, &h, sizeof(h), 0), ==, sizeof(h));
    char buf[16];
    ssize_t n;
    while ((n = recv(c.fd, buf, sizeof(buf), MSG_DONTWAIT)) < 0)
        g_main_context_iteration(NULL, TRUE);
    g_assert_cmpint(n, ==, 0);
    close(c.fd);
    g_byte_array_free(c.in, TRUE);
    xsim_xs_free(xs.xenstored);
    rmdir(dir);
}

/* ------------------------------------------------------------------ the library wire */

/* A datagram longer than the largest request is malformed, not a truncated request. */
static void test_wire_oversized(void)
{
    struct xsim xs = { .domid = 1, .nr_vcpus = 1 };
    xsim_evtchn_init(&xs.guest_evtchn, 1);
    xsim_evtchn_init(&xs.dom0_evtchn, 0); /* a closing connection closes its ports */
    g_autofree char *dir = g_dir_make_tmp("test-xensim-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "xensim.sock", NULL);
    GError *err = NULL;
    struct xsim_wire_server *ws = xsim_wire_new(&xs, path, &err);
    g_assert_no_error(err);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    strcpy(addr.sun_path, path);
    g_assert_cmpint(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    int sndbuf = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));

    struct {
        struct xsim_hdr h;
        struct xsim_hello hello;
    } hello = { { .op = XSIM_OP_HELLO, .seq = 1, .len = sizeof(struct xsim_hello) },
                { XSIM_MAGIC, XSIM_VERSION, XSIM_CLIENT_DMOD, 0 } };
    g_assert_cmpint(send(fd, &hello, sizeof(hello), 0), ==, sizeof(hello));
    uint8_t reply[64];
    ssize_t n;
    while ((n = recv(fd, reply, sizeof(reply), MSG_DONTWAIT)) < 0)
        g_main_context_iteration(NULL, TRUE);
    g_assert_cmpint(n, ==, sizeof(struct xsim_hdr) + sizeof(struct xsim_hello_reply));

    /* The header claims the largest payload; 8 more bytes follow it. */
    size_t big_len = sizeof(struct xsim_hdr) + XSIM_MAX_PAYLOAD + 8;
    g_autofree uint8_t *big = g_malloc0(big_len);
    struct xsim_hdr h = { .op = XSIM_OP_RESTRICT, .seq = 2, .len = XSIM_MAX_PAYLOAD };
    memcpy(big, &h, sizeof(h));
    g_assert_cmpint(send(fd, big, big_len, 0), ==, (ssize_t)big_len);
    while ((n = recv(fd, reply, sizeof(reply), MSG_DONTWAIT)) < 0)
        g_main_context_iteration(NULL, TRUE);
    g_assert_cmpint(n, ==, 0); /* closed, no reply */
    close(fd);
    xsim_wire_free(ws);
    xsim_evtchn_fini(&xs.guest_evtchn);
    xsim_evtchn_fini(&xs.dom0_evtchn);
    rmdir(dir);
}

/* One request on a raw wire connection; returns the reply's result. */
static int32_t wire_call(int fd, uint32_t op, uint32_t seq, const void *payload, uint32_t len)
{
    g_autofree uint8_t *msg = g_malloc0(sizeof(struct xsim_hdr) + len);
    struct xsim_hdr h = { .op = op, .seq = seq, .len = len };
    uint8_t reply[512];
    ssize_t n;
    memcpy(msg, &h, sizeof(h));
    memcpy(msg + sizeof(h), payload, len);
    g_assert_cmpint(send(fd, msg, sizeof(h) + len, 0), ==, (ssize_t)(sizeof(h) + len));
    while ((n = recv(fd, reply, sizeof(reply), MSG_DONTWAIT)) < 0)
        g_main_context_iteration(NULL, TRUE);
    g_assert_cmpint(n, >=, (ssize_t)sizeof(h));
    memcpy(&h, reply, sizeof(h));
    g_assert_cmpuint(h.seq, ==, seq);
    return h.result;
}

/* dm_op nr_vcpus (20) for `domid`, as libxendevicemodel sends it. */
static int32_t wire_nr_vcpus(int fd, uint32_t seq, uint32_t domid)
{
    struct {
        struct xsim_dmop d;
        uint8_t op[32];
    } req = { { .domid = domid, .nr_bufs = 1, .buf_len = { 32 } }, { 20 } };
    return wire_call(fd, XSIM_OP_DMOP, seq, &req, sizeof(req));
}

/*
 * xentoolcore_restrict_all as xensim enforces it: once restricted, a connection gets
 * EPERM for any other domain (Xen's privcmd restriction) and keeps working for its own;
 * the restriction cannot be moved to another domain; refusals are counted and described.
 */
static void test_wire_restrict(void)
{
    struct xsim xs = { .domid = 1, .nr_vcpus = 2 };
    xsim_evtchn_init(&xs.guest_evtchn, 1);
    xsim_evtchn_init(&xs.dom0_evtchn, 0);
    g_autofree char *dir = g_dir_make_tmp("test-xensim-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "xensim.sock", NULL);
    GError *err = NULL;
    struct xsim_wire_server *ws = xsim_wire_new(&xs, path, &err);
    g_assert_no_error(err);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    strcpy(addr.sun_path, path);
    g_assert_cmpint(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
    struct xsim_hello hello = { XSIM_MAGIC, XSIM_VERSION, XSIM_CLIENT_DMOD, 0 };
    g_assert_cmpint(wire_call(fd, XSIM_OP_HELLO, 1, &hello, sizeof(hello)), ==, 0);

    /* Unrestricted: another domain is only absent (ESRCH), not forbidden. */
    g_assert_cmpint(wire_nr_vcpus(fd, 2, 1), ==, 0);
    g_assert_cmpint(wire_nr_vcpus(fd, 3, 5), ==, -ESRCH);
    g_autoptr(GString) d = g_string_new(NULL);
    xsim_wire_describe_restrictions(ws, d);
    g_assert_cmpstr(d->str, ==, "1 refused=0 dmod:unrestricted");

    uint32_t domid = 1;
    g_assert_cmpint(wire_call(fd, XSIM_OP_RESTRICT, 4, &domid, sizeof(domid)), ==, 0);
    g_assert_cmpint(wire_nr_vcpus(fd, 5, 1), ==, 0);
    g_assert_cmpint(wire_nr_vcpus(fd, 6, 5), ==, -EPERM);
    g_assert_cmpint(wire_nr_vcpus(fd, 7, 0), ==, -EPERM);
    /* Restricting again to the same domain is harmless; to another is refused. */
    g_assert_cmpint(wire_call(fd, XSIM_OP_RESTRICT, 8, &domid, sizeof(domid)), ==, 0);
    domid = 2;
    g_assert_cmpint(wire_call(fd, XSIM_OP_RESTRICT, 9, &domid, sizeof(domid)), ==, -EPERM);
    g_string_truncate(d, 0);
    xsim_wire_describe_restrictions(ws, d);
    g_assert_cmpstr(d->str, ==, "1 refused=2 dmod:d1");

    close(fd);
    xsim_wire_free(ws);
    xsim_evtchn_fini(&xs.guest_evtchn);
    xsim_evtchn_fini(&xs.dom0_evtchn);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/xensim/argv/captured-fw1", test_argv_captured_fw1);
    g_test_add_func("/xensim/argv/captured-demo", test_argv_captured_demo);
    g_test_add_func("/xensim/argv/defaults-and-args", test_argv_defaults_and_args);
    g_test_add_func("/xensim/ioreq/claims", test_claims);
    g_test_add_func("/xensim/ioreq/sync-pio", test_sync_pio);
    g_test_add_func("/xensim/ioreq/pci-config", test_pci_config);
    g_test_add_func("/xensim/ioreq/buffered", test_buffered);
    g_test_add_func("/xensim/ioreq/rep-clip", test_rep_clip);
    g_test_add_func("/xensim/ioreq/rep-clip-pio-buffer", test_rep_clip_pio_buffer);
    g_test_add_func("/xensim/ioreq/state-backwards-crashes", test_state_backwards_crashes);
    g_test_add_func("/xensim/ioreq/invalidate", test_invalidate_broadcast);
    g_test_add_func("/xensim/dmop/interrupts", test_dmop_interrupts);
    g_test_add_func("/xensim/dmop/servers-and-memory", test_dmop_servers_and_memory);
    g_test_add_func("/xensim/platform/rtc-cmos-pm", test_rtc_cmos);
    g_test_add_func("/xensim/xenstored/protocol", test_xenstored);
    g_test_add_func("/xensim/wire/oversized", test_wire_oversized);
    g_test_add_func("/xensim/wire/restrict", test_wire_restrict);
    return g_test_run();
}
