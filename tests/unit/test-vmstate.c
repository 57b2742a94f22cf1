/*
 * Unit tests of the device state stream (system/vmstate.c) and of machine_save_state /
 * machine_load_state with the real devices: round trips, and every way a stream can be wrong
 * (corrupt, truncated, version skew, unknown or missing sections and fields, values out of
 * range) refused without touching a device. Also the dirty log (machine_mark_dirty).
 */
#include <glib.h>
#include "xendm/keyval.h"
#include "xendm/machine.h"
#include "xendm/vmstate.h"

/* ---- a toy device: every field type ---- */

struct toy {
    bool flag;
    uint8_t byte;
    uint16_t half;
    uint32_t word;
    uint64_t quad;
    uint8_t bytes[5];
    uint32_t index;
    uint32_t added_later;
    int post_loads;
};

static void toy_post_load(void *dev)
{
    ((struct toy *)dev)->post_loads++;
}

static const struct vmstate_field toy_fields_v2[] = {
    VMSTATE_BOOL(struct toy, flag),
    VMSTATE_U8(struct toy, byte),
    VMSTATE_U16(struct toy, half),
    VMSTATE_U32(struct toy, word),
    VMSTATE_U64(struct toy, quad),
    VMSTATE_U8_ARRAY(struct toy, bytes, 5),
    VMSTATE_U32_MAX(struct toy, index, 9),
    VMSTATE_FIELD_FULL("added_later", struct toy, added_later, VMSTATE_TYPE_U32, 4, 1, 0, 2),
    VMSTATE_END,
};

/* Version 1 did not have added_later. */
static const struct vmstate_field toy_fields_v1[] = {
    VMSTATE_BOOL(struct toy, flag),
    VMSTATE_U8(struct toy, byte),
    VMSTATE_U16(struct toy, half),
    VMSTATE_U32(struct toy, word),
    VMSTATE_U64(struct toy, quad),
    VMSTATE_U8_ARRAY(struct toy, bytes, 5),
    VMSTATE_U32_MAX(struct toy, index, 9),
    VMSTATE_END,
};

static const struct vmstate_desc toy_v2 = {
    .name = "toy", .version = 2, .min_version = 1, .fields = toy_fields_v2,
    .post_load = toy_post_load,
};
static const struct vmstate_desc toy_v1 = {
    .name = "toy", .version = 1, .fields = toy_fields_v1, .post_load = toy_post_load,
};

static const struct toy toy_sample = {
    .flag = true, .byte = 0xab, .half = 0xbeef, .word = 0xdeadbeef,
    .quad = 0x0123456789abcdefull, .bytes = {1, 2, 3, 4, 5}, .index = 7, .added_later = 42,
};

static GBytes *write_one(const struct vmstate_desc *desc, uint32_t instance, const void *dev)
{
    struct vmstate_writer *w = vmstate_writer_new();

    vmstate_write_section(w, desc, instance, dev);
    return vmstate_writer_finish(w);
}

/* Loads the toy section of `bytes` into *out with desc; returns the error or NULL. */
static GError *load_toy(GBytes *bytes, const struct vmstate_desc *desc, struct toy *out)
{
    gsize len;
    const uint8_t *data = g_bytes_get_data(bytes, &len);
    GError *err = NULL;
    struct vmstate_stream *s = vmstate_stream_parse(data, len, &err);
    struct vmstate_pending *p;

    if (!s)
        return err;
    p = vmstate_pending_new(s, desc, 0, &err);
    if (p && vmstate_stream_check_all_claimed(s, &err))
        vmstate_pending_apply(p, out);
    else
        vmstate_pending_free(p);
    vmstate_stream_free(s);
    return err;
}

static void test_toy_roundtrip(void)
{
    GBytes *bytes = write_one(&toy_v2, 0, &toy_sample);
    struct toy out = {0};
    GError *err = load_toy(bytes, &toy_v2, &out);

    g_assert_no_error(err);
    g_assert_true(out.flag);
    g_assert_cmpuint(out.byte, ==, 0xab);
    g_assert_cmpuint(out.half, ==, 0xbeef);
    g_assert_cmpuint(out.word, ==, 0xdeadbeef);
    g_assert_cmpuint(out.quad, ==, 0x0123456789abcdefull);
    g_assert_cmpmem(out.bytes, 5, toy_sample.bytes, 5);
    g_assert_cmpuint(out.index, ==, 7);
    g_assert_cmpuint(out.added_later, ==, 42);
    g_assert_cmpint(out.post_loads, ==, 1);
    g_bytes_unref(bytes);
}

/* A version-1 section loads into a version-2 device; the newer field keeps its value. */
static void test_toy_older_version(void)
{
    GBytes *bytes = write_one(&toy_v1, 0, &toy_sample);
    struct toy out = {.added_later = 99};
    GError *err = load_toy(bytes, &toy_v2, &out);

    g_assert_no_error(err);
    g_assert_cmpuint(out.word, ==, 0xdeadbeef);
    g_assert_cmpuint(out.added_later, ==, 99);
    g_bytes_unref(bytes);
}

static void assert_refused(GBytes *bytes, const struct vmstate_desc *desc, const char *needle)
{
    struct toy out = {.word = 0x55};
    GError *err = load_toy(bytes, desc, &out);

    g_assert_nonnull(err);
    if (g_test_verbose())
        g_printerr("refused: %s\n", err->message);
    g_assert_nonnull(strstr(err->message, needle));
    g_assert_cmpuint(out.word, ==, 0x55); /* untouched */
    g_assert_cmpint(out.post_loads, ==, 0);
    g_error_free(err);
}

static void test_version_skew(void)
{
    GBytes *bytes = write_one(&toy_v2, 0, &toy_sample);

    assert_refused(bytes, &toy_v1, "version skew");
    g_bytes_unref(bytes);
}

static void test_unknown_field(void)
{
    static const struct vmstate_field extra[] = {
        VMSTATE_U32(struct toy, word),
        VMSTATE_FIELD_FULL("mystery", struct toy, index, VMSTATE_TYPE_U32, 4, 1, 0, 0),
        VMSTATE_END,
    };
    static const struct vmstate_field word_only[] = {VMSTATE_U32(struct toy, word), VMSTATE_END};
    const struct vmstate_desc writer = {.name = "toy", .version = 1, .fields = extra};
    const struct vmstate_desc reader = {.name = "toy", .version = 1, .fields = word_only};
    GBytes *bytes = write_one(&writer, 0, &toy_sample);

    assert_refused(bytes, &reader, "unknown field 'mystery'");
    g_bytes_unref(bytes);
}

static void test_missing_field(void)
{
    static const struct vmstate_field word_only[] = {VMSTATE_U32(struct toy, word), VMSTATE_END};
    const struct vmstate_desc writer = {.name = "toy", .version = 1, .fields = word_only};
    GBytes *bytes = write_one(&writer, 0, &toy_sample);

    assert_refused(bytes, &toy_v1, "is missing");
    g_bytes_unref(bytes);
}

static void test_mistyped_field(void)
{
    static const struct vmstate_field as_u64[] = {
        VMSTATE_FIELD_FULL("word", struct toy, quad, VMSTATE_TYPE_U64, 8, 1, 0, 0),
        VMSTATE_END,
    };
    static const struct vmstate_field word_only[] = {VMSTATE_U32(struct toy, word), VMSTATE_END};
    const struct vmstate_desc writer = {.name = "toy", .version = 1, .fields = as_u64};
    const struct vmstate_desc reader = {.name = "toy", .version = 1, .fields = word_only};
    GBytes *bytes = write_one(&writer, 0, &toy_sample);

    assert_refused(bytes, &reader, "expected");
    g_bytes_unref(bytes);
}

static void test_out_of_range(void)
{
    struct toy bad = toy_sample;
    GBytes *bytes;

    bad.index = 10; /* max 9 */
    bytes = write_one(&toy_v1, 0, &bad);
    assert_refused(bytes, &toy_v1, "out of range");
    g_bytes_unref(bytes);
}

static void test_wrong_instance(void)
{
    GBytes *bytes = write_one(&toy_v1, 3, &toy_sample);

    assert_refused(bytes, &toy_v1, "no section for 'toy' instance 0");
    g_bytes_unref(bytes);
}

/* Every single-byte change and every truncation of a valid stream is refused. */
static void test_corrupt_and_truncated(void)
{
    GBytes *bytes = write_one(&toy_v2, 0, &toy_sample);
    gsize len;
    const uint8_t *data = g_bytes_get_data(bytes, &len);
    uint8_t *copy = g_memdup2(data, len);

    for (gsize i = 0; i < len; i++) {
        GError *err = NULL;
        copy[i] ^= 0x40;
        g_assert_null(vmstate_stream_parse(copy, len, &err));
        g_assert_nonnull(err);
        g_error_free(err);
        copy[i] ^= 0x40;
    }
    for (gsize cut = 0; cut < len; cut++) {
        GError *err = NULL;
        g_assert_null(vmstate_stream_parse(copy, cut, &err));
        g_assert_nonnull(err);
        g_error_free(err);
    }
    g_free(copy);
    g_bytes_unref(bytes);
}

static void test_bad_magic_and_format(void)
{
    GBytes *bytes = write_one(&toy_v1, 0, &toy_sample);
    gsize len;
    const void *data = g_bytes_get_data(bytes, &len);
    uint8_t *copy = g_memdup2(data, len);
    GError *err = NULL;

    copy[0] = 'Q';
    g_assert_null(vmstate_stream_parse(copy, len, &err));
    g_assert_nonnull(strstr(err->message, "bad magic"));
    g_clear_error(&err);
    copy[0] = 'X';
    copy[VMSTATE_MAGIC_LEN] = 2; /* format version 2 */
    g_assert_null(vmstate_stream_parse(copy, len, &err));
    g_assert_nonnull(strstr(err->message, "format version 2"));
    g_clear_error(&err);
    g_free(copy);
    g_bytes_unref(bytes);
}

/* ---- the machine and its real devices ---- */

struct record {
    bool level[MACHINE_ISA_IRQS];
    GArray *dirty; /* pairs of uint64_t: gfn, nr */
};

static void fake_set_isa_irq(void *opaque, unsigned irq, bool level)
{
    ((struct record *)opaque)->level[irq] = level;
}

static void fake_modified_memory(void *opaque, uint64_t gfn, uint64_t nr)
{
    struct record *rec = opaque;

    g_array_append_val(rec->dirty, gfn);
    g_array_append_val(rec->dirty, nr);
}

static const struct accel_ops fake_accel = {
    .set_isa_irq = fake_set_isa_irq,
    .modified_memory = fake_modified_memory,
};

struct rig {
    struct machine *m;
    struct record rec;
    void *i8042, *port92, *com[2];
};

static void *create(struct machine *m, const char *type, const char *key, const char *value)
{
    struct kv_list *kv = kv_new();
    GError *err = NULL;
    void *dev;

    if (key)
        kv_set(kv, key, value);
    dev = machine_create_device(m, type, kv, &err);
    g_assert_nonnull(dev);
    g_assert_no_error(err);
    kv_free(kv);
    return dev;
}

static void rig_init(struct rig *r, bool with_testdev)
{
    memset(r, 0, sizeof(*r));
    r->rec.dirty = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    r->m = machine_new();
    r->m->accel = &fake_accel;
    r->m->accel_opaque = &r->rec;
    r->i8042 = create(r->m, "i8042", NULL, NULL);
    r->port92 = create(r->m, "port92", NULL, NULL);
    r->com[0] = create(r->m, "isa-serial", "index", "0");
    r->com[1] = create(r->m, "isa-serial", "index", "1");
    create(r->m, "isa-debugcon", "iobase", "0x402");
    if (with_testdev)
        create(r->m, "pc-testdev", NULL, NULL);
    machine_reset(r->m);
}

static void rig_fini(struct rig *r)
{
    machine_free(r->m);
    g_array_free(r->rec.dirty, TRUE);
}

static uint8_t inb(struct rig *r, uint16_t port)
{
    return (uint8_t)address_space_read(r->m->io, port, 1);
}

static void outb(struct rig *r, uint16_t port, uint8_t val)
{
    address_space_write(r->m->io, port, val, 1);
}

/* Gives every device state a reset would not produce. */
static void rig_dirty(struct rig *r)
{
    /* COM1: FIFO on, loopback, three bytes in the receiver; COM2: divisor and scratch. */
    outb(r, 0x3f8 + 2, 0xc1);
    outb(r, 0x3f8 + 4, 0x10 | 0x08);
    outb(r, 0x3f8 + 0, 'a');
    outb(r, 0x3f8 + 0, 'b');
    outb(r, 0x3f8 + 0, 'c');
    outb(r, 0x3f8 + 1, 0x01);
    outb(r, 0x2f8 + 3, 0x80);
    outb(r, 0x2f8 + 0, 0x03);
    outb(r, 0x2f8 + 3, 0x03);
    outb(r, 0x2f8 + 7, 0x5a);
    /* i8042: command byte 0x47; keyboard identify (ACK, 0xAB, 0x83) of which ACK is read. */
    outb(r, 0x64, 0x60);
    outb(r, 0x60, 0x47);
    outb(r, 0x60, 0xf2);
    g_assert_cmpuint(inb(r, 0x60), ==, 0xfa);
    outb(r, 0x92, 0x02);
    address_space_write(r->m->io, 0xe0, 0xcafef00d, 4);
    address_space_write(r->m->mmio, 0xff000010, 0x1122334455667788ull, 8);
    address_space_write(r->m->mmio, 0xff00fff8, 0xa5, 1);
    outb(r, 0x2000 + 5, 1); /* pc-testdev drives ISA line 5 high */
}

static void rig_check(struct rig *r)
{
    g_assert_cmpuint(inb(r, 0x3f8 + 4), ==, 0x18);
    g_assert_cmpuint(inb(r, 0x3f8 + 1), ==, 0x01);
    g_assert_cmpuint(inb(r, 0x3f8 + 2) & 0xc0, ==, 0xc0); /* FIFOs enabled */
    g_assert_cmpuint(inb(r, 0x3f8 + 5) & 0x01, ==, 0x01); /* data ready */
    g_assert_cmpuint(inb(r, 0x3f8 + 0), ==, 'a');
    g_assert_cmpuint(inb(r, 0x3f8 + 0), ==, 'b');
    g_assert_cmpuint(inb(r, 0x3f8 + 0), ==, 'c');
    g_assert_cmpuint(inb(r, 0x3f8 + 5) & 0x01, ==, 0x00);
    g_assert_cmpuint(inb(r, 0x2f8 + 7), ==, 0x5a);
    outb(r, 0x2f8 + 3, 0x83);
    g_assert_cmpuint(inb(r, 0x2f8 + 0), ==, 0x03);
    outb(r, 0x2f8 + 3, 0x03);
    g_assert_true(r->rec.level[1]); /* i8042 output buffer full, keyboard interrupt on */
    g_assert_cmpuint(inb(r, 0x64) & 0x01, ==, 0x01);
    g_assert_cmpuint(inb(r, 0x60), ==, 0xab);
    g_assert_cmpuint(inb(r, 0x60), ==, 0x83);
    outb(r, 0x64, 0x20);
    g_assert_cmpuint(inb(r, 0x60), ==, 0x47);
    g_assert_cmpuint(inb(r, 0x92), ==, 0x02);
    g_assert_cmphex(address_space_read(r->m->io, 0xe0, 4), ==, 0xcafef00d);
    g_assert_cmphex(address_space_read(r->m->mmio, 0xff000010, 8), ==, 0x1122334455667788ull);
    g_assert_cmphex(address_space_read(r->m->mmio, 0xff00fff8, 1), ==, 0xa5);
    g_assert_true(r->rec.level[5]);
}

static GBytes *saved_rig_state(void)
{
    struct rig a;
    GBytes *state;

    rig_init(&a, true);
    rig_dirty(&a);
    state = machine_save_state(a.m);
    rig_fini(&a);
    return state;
}

static void test_machine_roundtrip(void)
{
    GBytes *state = saved_rig_state();
    struct rig b;
    GError *err = NULL;
    gsize len;
    const uint8_t *data = g_bytes_get_data(state, &len);

    rig_init(&b, true);
    g_assert_false(b.rec.level[5]);
    g_assert_true(machine_load_state(b.m, data, len, &err));
    g_assert_no_error(err);
    rig_check(&b);
    rig_fini(&b);
    g_bytes_unref(state);
}

/* Loading changes nothing when it fails: the scratch register keeps its value. */
static void assert_machine_refuses(const uint8_t *data, size_t len, bool with_testdev,
                                   const char *needle)
{
    struct rig b;
    GError *err = NULL;

    rig_init(&b, with_testdev);
    outb(&b, 0x92, 0x40);
    outb(&b, 0x3f8 + 7, 0x77);
    g_assert_false(machine_load_state(b.m, data, len, &err));
    g_assert_nonnull(err);
    if (g_test_verbose())
        g_printerr("refused: %s\n", err->message);
    g_assert_nonnull(strstr(err->message, needle));
    g_error_free(err);
    g_assert_cmpuint(inb(&b, 0x92), ==, 0x40);
    g_assert_cmpuint(inb(&b, 0x3f8 + 7), ==, 0x77);
    g_assert_false(b.rec.level[5]);
    rig_fini(&b);
}

static void test_machine_corrupt(void)
{
    GBytes *state = saved_rig_state();
    gsize len;
    const void *data = g_bytes_get_data(state, &len);
    uint8_t *copy = g_memdup2(data, len);

    copy[len / 2] ^= 1;
    assert_machine_refuses(copy, len, true, "checksum");
    copy[len / 2] ^= 1;
    assert_machine_refuses(copy, len - 1, true, "checksum");
    assert_machine_refuses(copy, len / 3, true, "");
    g_free(copy);
    g_bytes_unref(state);
}

/* The stream has pc-testdev's section; this machine has no pc-testdev. */
static void test_machine_unknown_section(void)
{
    GBytes *state = saved_rig_state();
    gsize len;
    const uint8_t *data = g_bytes_get_data(state, &len);

    assert_machine_refuses(data, len, false, "'pc-testdev' instance 0 matches no device");
    g_bytes_unref(state);
}

/* A machine with a device the stream does not describe. */
static void test_machine_missing_section(void)
{
    struct rig a;
    GBytes *state;
    const uint8_t *data;
    gsize len;

    rig_init(&a, false);
    state = machine_save_state(a.m);
    rig_fini(&a);
    data = g_bytes_get_data(state, &len);
    assert_machine_refuses(data, len, true, "no section for 'pc-testdev'");
    g_bytes_unref(state);
}

/* The machine's own first section as system/machine.c writes it: the unplugged kinds. */
static const struct vmstate_field unplug_fields[] = {
    VMSTATE_U32(struct machine_unplug_state, kinds),
    VMSTATE_END,
};
static const struct vmstate_desc unplug_desc = {
    .name = "machine-unplug",
    .version = 1,
    .fields = unplug_fields,
};

/* port92's section from a newer xendm (version 2): the whole load is refused. */
static void test_machine_version_skew(void)
{
    const struct vmstate_desc *serial = device_type_find("isa-serial")->vmstate;
    struct vmstate_desc newer = *device_type_find("port92")->vmstate;
    struct vmstate_writer *w = vmstate_writer_new();
    struct rig a;
    GBytes *state;
    const uint8_t *data;
    gsize len;

    rig_init(&a, false);
    newer.version = 2;
    vmstate_write_section(w, &unplug_desc, 0, &a.m->unplugged);
    vmstate_write_section(w, device_type_find("i8042")->vmstate, 0, a.i8042);
    vmstate_write_section(w, &newer, 0, a.port92);
    for (unsigned i = 0; i < 2; i++)
        vmstate_write_section(w, serial, serial->instance_id(a.com[i]), a.com[i]);
    state = vmstate_writer_finish(w);
    rig_fini(&a);
    data = g_bytes_get_data(state, &len);
    assert_machine_refuses(data, len, false, "version skew");
    g_bytes_unref(state);
}

/* ---- dirty log ---- */

static void test_dirty_log(void)
{
    struct rig r;
    uint64_t *v;

    rig_init(&r, false);
    machine_mark_dirty(r.m, 0x1000, 4096);
    g_assert_cmpuint(r.rec.dirty->len, ==, 0); /* off: nothing reported */
    machine_set_dirty_log(r.m, true);
    machine_mark_dirty(r.m, 0x1ff8, 16); /* straddles two pages */
    machine_mark_dirty(r.m, 0x5000, 0);  /* nothing written */
    machine_mark_dirty(r.m, 0x10000, 3 * 4096);
    machine_mark_dirty(r.m, UINT64_MAX - 3, 100); /* wraps: clipped */
    g_assert_cmpuint(r.rec.dirty->len, ==, 6);
    v = (uint64_t *)(void *)r.rec.dirty->data;
    g_assert_cmphex(v[0], ==, 0x1);
    g_assert_cmpuint(v[1], ==, 2);
    g_assert_cmphex(v[2], ==, 0x10);
    g_assert_cmpuint(v[3], ==, 3);
    g_assert_cmphex(v[4], ==, UINT64_MAX >> 12);
    g_assert_cmpuint(v[5], ==, 1);
    machine_set_dirty_log(r.m, false);
    machine_mark_dirty(r.m, 0x1000, 1);
    g_assert_cmpuint(r.rec.dirty->len, ==, 6);
    rig_fini(&r);
}

/* ---- stop freezes timers ---- */

static void count_fired(void *opaque)
{
    (*(int *)opaque)++;
}

static void spin_loop(unsigned ms)
{
    gint64 end = g_get_monotonic_time() + ms * 1000;

    while (g_get_monotonic_time() < end)
        g_main_context_iteration(NULL, FALSE);
}

static void test_stop_freezes_timers(void)
{
    struct machine *m = machine_new();
    int fired = 0;
    struct timer *t = timer_new(count_fired, &fired);

    machine_set_running(m, false);
    timer_arm_ns(t, 1000000);
    spin_loop(20);
    g_assert_cmpint(fired, ==, 0);
    g_assert_true(timer_pending(t)); /* due, waiting for cont */
    machine_set_running(m, true);
    spin_loop(20);
    g_assert_cmpint(fired, ==, 1);
    g_assert_false(timer_pending(t));
    /* A timer cancelled while due does not fire later. */
    machine_set_running(m, false);
    timer_arm_ns(t, 0);
    spin_loop(10);
    timer_cancel(t);
    machine_set_running(m, true);
    spin_loop(10);
    g_assert_cmpint(fired, ==, 1);
    timer_free(t);
    machine_free(m);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vmstate/toy/roundtrip", test_toy_roundtrip);
    g_test_add_func("/vmstate/toy/older-version", test_toy_older_version);
    g_test_add_func("/vmstate/toy/version-skew", test_version_skew);
    g_test_add_func("/vmstate/toy/unknown-field", test_unknown_field);
    g_test_add_func("/vmstate/toy/missing-field", test_missing_field);
    g_test_add_func("/vmstate/toy/mistyped-field", test_mistyped_field);
    g_test_add_func("/vmstate/toy/out-of-range", test_out_of_range);
    g_test_add_func("/vmstate/toy/wrong-instance", test_wrong_instance);
    g_test_add_func("/vmstate/stream/corrupt-and-truncated", test_corrupt_and_truncated);
    g_test_add_func("/vmstate/stream/bad-magic-and-format", test_bad_magic_and_format);
    g_test_add_func("/vmstate/machine/roundtrip", test_machine_roundtrip);
    g_test_add_func("/vmstate/machine/corrupt", test_machine_corrupt);
    g_test_add_func("/vmstate/machine/unknown-section", test_machine_unknown_section);
    g_test_add_func("/vmstate/machine/missing-section", test_machine_missing_section);
    g_test_add_func("/vmstate/machine/version-skew", test_machine_version_skew);
    g_test_add_func("/vmstate/dirty-log", test_dirty_log);
    g_test_add_func("/vmstate/stop-freezes-timers", test_stop_freezes_timers);
    return g_test_run();
}
