/* QEMU-style option strings. */
#include <glib.h>

#include "xendm/keyval.h"
#include "xendm/log.h"
#include "xendm/trace.h"

static void test_implied_key(void)
{
    GError *err = NULL;
    struct kv_list *kv = kv_parse("isa-serial,index=1,iobase=0x2f8", "driver", &err);

    g_assert_no_error(err);
    g_assert_nonnull(kv);
    g_assert_cmpuint(kv->count, ==, 3);
    g_assert_cmpstr(kv_get(kv, "driver"), ==, "isa-serial");
    g_assert_cmpstr(kv_get(kv, "index"), ==, "1");
    g_assert_null(kv_get(kv, "absent"));
    kv_free(kv);

    /* The first item with '=' is an ordinary pair, not the implied value. */
    kv = kv_parse("size=64", "size", &err);
    g_assert_cmpstr(kv_get(kv, "size"), ==, "64");
    kv_free(kv);

    /* Without an implied key, a bare item is a flag. */
    kv = kv_parse("server,wait=off", NULL, &err);
    g_assert_cmpstr(kv_get(kv, "server"), ==, "on");
    kv_free(kv);
}

static void test_comma_escape(void)
{
    GError *err = NULL;
    struct kv_list *kv = kv_parse("file,id=f,path=/tmp/a,,b,,,,c", "backend", &err);

    g_assert_no_error(err);
    g_assert_cmpstr(kv_get(kv, "backend"), ==, "file");
    g_assert_cmpstr(kv_get(kv, "path"), ==, "/tmp/a,b,,c");
    kv_free(kv);

    kv = kv_parse("a,,b", "implied", &err);
    g_assert_cmpuint(kv->count, ==, 1);
    g_assert_cmpstr(kv_get(kv, "implied"), ==, "a,b");
    kv_free(kv);
}

static void test_malformed(void)
{
    GError *err = NULL;

    g_assert_null(kv_parse("a,", NULL, &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_null(kv_parse(",a", "driver", &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_null(kv_parse("x,=v", "driver", &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_null(kv_parse("x,,,", "driver", &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_null(kv_parse("x,a=1,,b=2,", "driver", &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    struct kv_list *flag = kv_parse("a,,", NULL, &err); /* one flag named "a," */
    g_assert_no_error(err);
    g_assert_cmpstr(kv_get(flag, "a,"), ==, "on");
    kv_free(flag);

    struct kv_list *kv = kv_parse("", "driver", &err);
    g_assert_no_error(err);
    g_assert_cmpuint(kv->count, ==, 0);
    kv_free(kv);
}

static void test_bools(void)
{
    GError *err = NULL;
    struct kv_list *kv = kv_parse("a=on,b=off,c=yes,d=no,e=true,f=false,g=maybe", NULL, &err);
    bool v;

    g_assert_true(kv_get_bool(kv, "a", false, &v, &err) && v);
    g_assert_true(kv_get_bool(kv, "b", true, &v, &err) && !v);
    g_assert_true(kv_get_bool(kv, "c", false, &v, &err) && v);
    g_assert_true(kv_get_bool(kv, "d", true, &v, &err) && !v);
    g_assert_true(kv_get_bool(kv, "e", false, &v, &err) && v);
    g_assert_true(kv_get_bool(kv, "f", true, &v, &err) && !v);
    g_assert_true(kv_get_bool(kv, "absent", true, &v, &err) && v);
    g_assert_no_error(err);
    g_assert_false(kv_get_bool(kv, "g", false, &v, &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    kv_free(kv);
}

static void test_sizes(void)
{
    GError *err = NULL;
    struct kv_list *kv = kv_parse("a=64,b=0x1000,c=2G,d=4k,e=010,f=16T,g=12Q,h=-1,i=99999999999T",
                                  NULL, &err);
    uint64_t v;

    g_assert_true(kv_get_u64(kv, "a", 0, false, &v, &err));
    g_assert_cmpuint(v, ==, 64);
    g_assert_true(kv_get_u64(kv, "b", 0, false, &v, &err));
    g_assert_cmpuint(v, ==, 0x1000);
    g_assert_true(kv_get_u64(kv, "c", 0, true, &v, &err));
    g_assert_cmpuint(v, ==, 2ull << 30);
    g_assert_true(kv_get_u64(kv, "d", 0, true, &v, &err));
    g_assert_cmpuint(v, ==, 4096);
    g_assert_true(kv_get_u64(kv, "e", 0, false, &v, &err));
    g_assert_cmpuint(v, ==, 8);
    g_assert_true(kv_get_u64(kv, "f", 0, true, &v, &err));
    g_assert_cmpuint(v, ==, 16ull << 40);
    g_assert_true(kv_get_u64(kv, "absent", 7, true, &v, &err));
    g_assert_cmpuint(v, ==, 7);
    g_assert_no_error(err);
    g_assert_false(kv_get_u64(kv, "c", 0, false, &v, &err)); /* no suffix when not sized */
    g_clear_error(&err);
    g_assert_false(kv_get_u64(kv, "g", 0, true, &v, &err));
    g_clear_error(&err);
    g_assert_false(kv_get_u64(kv, "h", 0, true, &v, &err));
    g_clear_error(&err);
    g_assert_false(kv_get_u64(kv, "i", 0, true, &v, &err)); /* overflows */
    g_clear_error(&err);
    g_assert_false(parse_u64("99999999999999999999999", false, &v));
    g_assert_false(parse_u64(" 1", false, &v));
    g_assert_false(parse_u64("", false, &v));
    kv_free(kv);
}

static void test_unused(void)
{
    GError *err = NULL;
    struct kv_list *kv = kv_parse("isa-debugcon,iobase=0x402,chardev=dbg,bogus=1", "driver", &err);

    g_assert_cmpstr(kv_first_unused(kv), ==, "driver");
    kv_get(kv, "driver");
    kv_get(kv, "iobase");
    kv_get(kv, "chardev");
    g_assert_cmpstr(kv_first_unused(kv), ==, "bogus");
    kv_get(kv, "bogus");
    g_assert_null(kv_first_unused(kv));
    /* Setting a key again replaces it and makes it unused again. */
    kv_set(kv, "iobase", "0xe9");
    g_assert_cmpstr(kv_first_unused(kv), ==, "iobase");
    g_assert_cmpstr(kv_get(kv, "iobase"), ==, "0xe9");
    g_assert_cmpuint(kv->count, ==, 4);
    kv_free(kv);
}

static void test_duplicate_last_wins(void)
{
    GError *err = NULL;
    struct kv_list *kv = kv_parse("a=1,a=2", NULL, &err);

    g_assert_cmpuint(kv->count, ==, 1);
    g_assert_cmpstr(kv_get(kv, "a"), ==, "2");
    kv_free(kv);
}

/* util/log.c and util/trace.c ride along here: they are in the same library. */
static void test_log_ratelimit(void)
{
    struct log_ratelimit rl = {0};

    /* A burst of 10, then suppressed (and counted) until a second has passed. */
    for (int i = 0; i < 15; i++) {
        log_limited(&rl, "test message %d", i);
    }
    g_assert_cmpuint(rl.in_window, ==, 10);
    g_assert_cmpuint(rl.suppressed, ==, 5);
    /* One second later one token is back: the message prints with the suppressed count. */
    rl.window_start_us -= G_USEC_PER_SEC;
    log_limited(&rl, "after a second");
    g_assert_cmpuint(rl.suppressed, ==, 0);
    g_assert_cmpuint(rl.in_window, ==, 10);
}

static int traced_calls(int n)
{
    TRACE(test_keyval_point, "n=%d", n);
    return n;
}

static void test_trace_enable(void)
{
    char *listed = NULL;
    size_t listed_len = 0;
    FILE *out = open_memstream(&listed, &listed_len);

    g_assert_cmpint(traced_calls(1), ==, 1);
    g_assert_cmpint(trace_enable("no_such_point*"), ==, 0);
    g_assert_cmpint(trace_enable("test_keyval_*"), ==, 1);
    g_assert_cmpint(traced_calls(2), ==, 2);
    /* The call site's descriptor is found in the linker section by name. */
    g_assert_nonnull(out);
    trace_list(out);
    fclose(out);
    g_assert_nonnull(strstr(listed, "test_keyval_point\n"));
    free(listed);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/keyval/implied-key", test_implied_key);
    g_test_add_func("/keyval/comma-escape", test_comma_escape);
    g_test_add_func("/keyval/malformed", test_malformed);
    g_test_add_func("/keyval/bools", test_bools);
    g_test_add_func("/keyval/sizes", test_sizes);
    g_test_add_func("/keyval/unused", test_unused);
    g_test_add_func("/keyval/duplicate-last-wins", test_duplicate_last_wins);
    g_test_add_func("/log/ratelimit", test_log_ratelimit);
    g_test_add_func("/trace/enable", test_trace_enable);
    return g_test_run();
}
