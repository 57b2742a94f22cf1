/*
 * Unit tests of util/json.c: parsing (every error class), writing, round trips, limits, and the
 * stream framer's framing and recovery.
 */
#include <glib.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "xendm/json.h"

static struct json_value *parse_ok(const char *text)
{
    GError *err = NULL;
    struct json_value *v = json_parse(text, strlen(text), NULL, &err);

    g_assert_no_error(err);
    g_assert_nonnull(v);
    return v;
}

/* Parses text, writes it, and checks the written form (NULL: same as the input). */
static void check_round_trip(const char *text, const char *expected)
{
    struct json_value *v = parse_ok(text);
    char *out = json_to_string(v);
    struct json_value *again = parse_ok(out);

    g_assert_cmpstr(out, ==, expected ? expected : text);
    g_assert_true(json_equal(v, again));
    g_free(out);
    json_free(again);
    json_free(v);
}

static void test_scalars(void)
{
    struct json_value *v;

    v = parse_ok(" 9223372036854775807 ");
    g_assert_cmpint(json_type_of(v), ==, JSON_INT);
    g_assert_cmpint(json_get_int(v), ==, INT64_MAX);
    json_free(v);
    v = parse_ok("-9223372036854775808");
    g_assert_cmpint(json_get_int(v), ==, INT64_MIN);
    json_free(v);
    v = parse_ok("9223372036854775808"); /* beyond int64: a double */
    g_assert_cmpint(json_type_of(v), ==, JSON_DOUBLE);
    g_assert_cmpfloat(json_get_double(v), ==, 9223372036854775808.0);
    json_free(v);
    v = parse_ok("-0.25e2");
    g_assert_cmpint(json_type_of(v), ==, JSON_DOUBLE);
    g_assert_cmpfloat(json_get_double(v), ==, -25.0);
    json_free(v);
    v = parse_ok("true");
    g_assert_true(json_get_bool(v));
    json_free(v);
    v = parse_ok("null");
    g_assert_cmpint(json_type_of(v), ==, JSON_NULL);
    json_free(v);

    check_round_trip("0", NULL);
    check_round_trip("-17", NULL);
    check_round_trip("1.5", NULL);
    check_round_trip("1E2", "100.0"); /* stays a double */
    check_round_trip("0.1", NULL);
    check_round_trip("1e300", "1e+300");
    check_round_trip("false", NULL);
}

static void test_strings(void)
{
    struct json_value *v;

    v = parse_ok("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"");
    g_assert_cmpstr(json_get_string(v), ==, "a\"b\\c/d\b\f\n\r\t");
    json_free(v);
    v = parse_ok("\"\\u00e9\\u20AC\"");
    g_assert_cmpstr(json_get_string(v), ==, "\xc3\xa9\xe2\x82\xac");
    json_free(v);
    v = parse_ok("\"\\ud83d\\ude00\""); /* a surrogate pair: U+1F600 */
    g_assert_cmpstr(json_get_string(v), ==, "\xf0\x9f\x98\x80");
    json_free(v);
    v = parse_ok("\"caf\xc3\xa9\""); /* raw UTF-8 */
    g_assert_cmpstr(json_get_string(v), ==, "caf\xc3\xa9");
    json_free(v);

    /* Output is ASCII: control characters and non-ASCII are escaped, surrogate pairs too. */
    check_round_trip("\"tab\\there\\nnext\"", NULL);
    check_round_trip("\"\\u0001\\u007f\"", NULL);
    check_round_trip("\"\xc3\xa9\xf0\x9f\x98\x80\"", "\"\\u00e9\\ud83d\\ude00\"");

    /* A string built in xendm with invalid UTF-8 is written with U+FFFD, still valid JSON. */
    v = json_string_new("a\xff" "b");
    char *out = json_to_string(v);
    g_assert_cmpstr(out, ==, "\"a\\ufffdb\"");
    g_free(out);
    json_free(v);
}

static void test_containers(void)
{
    struct json_value *obj = json_object_new();
    struct json_value *arr = json_array_new();
    struct json_value *copy;
    char *out;

    json_array_append(arr, json_int_new(1));
    json_array_append(arr, json_null_new());
    json_object_set(obj, "b", json_string_new("x"));
    json_object_set(obj, "a", arr);
    json_object_set(obj, "b", json_double_new(2.5)); /* replaces in place */
    out = json_to_string(obj);
    g_assert_cmpstr(out, ==, "{\"b\": 2.5, \"a\": [1, null]}");
    g_free(out);
    g_assert_cmpuint(json_object_size(obj), ==, 2);
    g_assert_cmpstr(json_object_key_at(obj, 1), ==, "a");
    g_assert_cmpuint(json_array_length(json_object_get(obj, "a")), ==, 2);
    g_assert_null(json_object_get(obj, "zz"));
    g_assert_null(json_array_get(arr, 2));

    copy = json_copy(obj);
    g_assert_true(json_equal(obj, copy));
    json_object_set(copy, "c", json_bool_new(false));
    g_assert_false(json_equal(obj, copy));
    json_free(copy);
    json_free(obj);

    check_round_trip("{}", NULL);
    check_round_trip("[]", NULL);
    check_round_trip(" { \"execute\" : \"query-status\" , \"id\" : [ 1 , {\"x\": true} ] } ",
                     "{\"execute\": \"query-status\", \"id\": [1, {\"x\": true}]}");

    /* Member order does not matter for equality. */
    struct json_value *a = parse_ok("{\"x\": 1, \"y\": 2}");
    struct json_value *b = parse_ok("{\"y\": 2, \"x\": 1}");
    g_assert_true(json_equal(a, b));
    json_free(a);
    json_free(b);
}

static void test_writer_special(void)
{
    struct json_value *v = json_double_new(NAN);
    char *out = json_to_string(v);

    g_assert_cmpstr(out, ==, "null"); /* JSON has no NaN */
    g_free(out);
    json_free(v);
}

static const struct {
    const char *text;
    enum json_error_code code;
} bad_inputs[] = {
    {"", JSON_ERROR_EMPTY},
    {" \r\n ", JSON_ERROR_EMPTY},
    {"{", JSON_ERROR_END},
    {"[1, 2", JSON_ERROR_END},
    {"\"abc", JSON_ERROR_END},
    {"{\"a\"", JSON_ERROR_END},
    {"[1,]", JSON_ERROR_SYNTAX},
    {"{\"a\": 1,}", JSON_ERROR_SYNTAX},
    {"[1 2]", JSON_ERROR_SYNTAX},
    {"{1: 2}", JSON_ERROR_SYNTAX},
    {"{\"a\" 1}", JSON_ERROR_SYNTAX},
    {"'a'", JSON_ERROR_SYNTAX},
    {"nul", JSON_ERROR_SYNTAX},
    {"truex", JSON_ERROR_SYNTAX},
    {"}", JSON_ERROR_SYNTAX},
    {"01", JSON_ERROR_NUMBER},
    {"1.", JSON_ERROR_NUMBER},
    {"-", JSON_ERROR_NUMBER},
    {"1e", JSON_ERROR_NUMBER},
    {"+1", JSON_ERROR_SYNTAX},
    {"1e999", JSON_ERROR_NUMBER},
    {"\"\\x\"", JSON_ERROR_ESCAPE},
    {"\"\\u12\"", JSON_ERROR_ESCAPE},
    {"\"\\u12g4\"", JSON_ERROR_ESCAPE},
    {"\"\\ud800\"", JSON_ERROR_ESCAPE},
    {"\"\\ud800\\u0041\"", JSON_ERROR_ESCAPE},
    {"\"\\udc00\"", JSON_ERROR_ESCAPE},
    {"\"\\u0000\"", JSON_ERROR_ESCAPE},
    {"\"\xff\"", JSON_ERROR_UTF8},
    {"\"\xc3\x28\"", JSON_ERROR_UTF8},
    {"\"\xc0\xaf\"", JSON_ERROR_UTF8},      /* overlong '/' */
    {"\"\xed\xa0\x80\"", JSON_ERROR_UTF8},  /* a surrogate encoded in UTF-8 */
    {"\"a\nb\"", JSON_ERROR_CONTROL},
    {"\"a\x01\"", JSON_ERROR_CONTROL},
    {"{\"a\": 1, \"a\": 2}", JSON_ERROR_DUPLICATE_KEY},
    {"1 2", JSON_ERROR_TRAILING},
    {"{} x", JSON_ERROR_TRAILING},
};

static void test_errors(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(bad_inputs); i++) {
        GError *err = NULL;
        struct json_value *v =
            json_parse(bad_inputs[i].text, strlen(bad_inputs[i].text), NULL, &err);
        if (v || !err || err->code != (int)bad_inputs[i].code) {
            g_test_message("input %zu '%s': got %s (code %d), want code %d", i,
                           bad_inputs[i].text, err ? err->message : "a value",
                           err ? err->code : -1, bad_inputs[i].code);
        }
        g_assert_null(v);
        g_assert_error(err, JSON_ERROR, (int)bad_inputs[i].code);
        g_error_free(err);
    }
}

/* n nested arrays: "[[[...]]]" */
static char *nested(unsigned n)
{
    GString *s = g_string_new(NULL);

    for (unsigned i = 0; i < n; i++)
        g_string_append_c(s, '[');
    for (unsigned i = 0; i < n; i++)
        g_string_append_c(s, ']');
    return g_string_free(s, FALSE);
}

static void test_limits(void)
{
    const struct json_limits small = {.max_size = 16, .max_depth = 2};
    GError *err = NULL;
    char *deep_ok = nested(JSON_DEFAULT_MAX_DEPTH);
    char *too_deep = nested(JSON_DEFAULT_MAX_DEPTH + 1);
    struct json_value *v;

    v = json_parse(deep_ok, strlen(deep_ok), NULL, &err);
    g_assert_no_error(err);
    json_free(v);
    v = json_parse(too_deep, strlen(too_deep), NULL, &err);
    g_assert_null(v);
    g_assert_error(err, JSON_ERROR, JSON_ERROR_DEPTH);
    g_clear_error(&err);

    v = json_parse("[[1]]", 5, &small, &err);
    g_assert_no_error(err);
    json_free(v);
    v = json_parse("[[[1]]]", 7, &small, &err);
    g_assert_error(err, JSON_ERROR, JSON_ERROR_DEPTH);
    g_clear_error(&err);
    v = json_parse("\"0123456789abcdef\"", 18, &small, &err);
    g_assert_null(v);
    g_assert_error(err, JSON_ERROR, JSON_ERROR_SIZE);
    g_clear_error(&err);
    g_free(deep_ok);
    g_free(too_deep);
}

/* Wide objects cost O(n) to parse and copy: a client cannot stall the loop with one. */
static void test_wide_object(void)
{
    GString *text = g_string_new("{");
    struct json_value *v, *copy;
    gint64 start = g_get_monotonic_time();
    GError *err = NULL;

    for (int i = 0; i < 60000; i++)
        g_string_append_printf(text, "%s\"k%d\":%d", i ? "," : "", i, i);
    g_string_append_c(text, '}');
    v = json_parse(text->str, text->len, NULL, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(json_object_size(v), ==, 60000);
    copy = json_copy(v);
    g_assert_cmpint(json_get_int(json_object_value_at(copy, 59999)), ==, 59999);
    g_assert_cmpint(g_get_monotonic_time() - start, <, 2 * G_USEC_PER_SEC);

    /* The duplicate check still sees the last member against the first. */
    g_string_truncate(text, text->len - 1);
    g_string_append(text, ",\"k0\":1}");
    g_assert_null(json_parse(text->str, text->len, NULL, &err));
    g_assert_error(err, JSON_ERROR, JSON_ERROR_DUPLICATE_KEY);
    g_clear_error(&err);
    json_free(copy);
    json_free(v);
    g_string_free(text, TRUE);
}

/* ---- the framer ---- */

/* Takes the next result: returns its text ("ERR:<code>" for an error), NULL when none. */
static char *next_text(struct json_streamer *s)
{
    struct json_value *v;
    GError *err = NULL;
    char *text;

    if (!json_streamer_next(s, &v, &err))
        return NULL;
    if (!v) {
        g_assert_nonnull(err);
        text = g_strdup_printf("ERR:%d", err->code);
        g_error_free(err);
        return text;
    }
    g_assert_no_error(err);
    text = json_to_string(v);
    json_free(v);
    return text;
}

static void expect_next(struct json_streamer *s, const char *want)
{
    char *got = next_text(s);

    g_assert_cmpstr(got, ==, want);
    g_free(got);
}

static void feed_str(struct json_streamer *s, const char *text)
{
    json_streamer_feed(s, text, strlen(text));
}

static void test_stream_framing(void)
{
    struct json_streamer *s = json_streamer_new(NULL);
    const char *split = "{\"execute\": \"x\", \"arguments\": {\"s\": \"}{][\\\"\"}}\r\n";

    /* Two values in one chunk. */
    feed_str(s, "{\"a\": 1}{\"b\": [2]}\r\n");
    expect_next(s, "{\"a\": 1}");
    expect_next(s, "{\"b\": [2]}");
    expect_next(s, NULL);

    /* One value a byte at a time; brackets and escaped quotes inside strings do not count. */
    for (size_t i = 0; i < strlen(split); i++) {
        json_streamer_feed(s, split + i, 1);
        if (i + 3 < strlen(split)) {
            char *none = next_text(s);
            g_assert_null(none);
        }
    }
    expect_next(s, "{\"execute\": \"x\", \"arguments\": {\"s\": \"}{][\\\"\"}}");

    /* Top-level scalars end at a delimiter; garbage and stray brackets are errors of their own. */
    feed_str(s, "42 \"str\" true abc } [1]");
    expect_next(s, "42");
    expect_next(s, "\"str\"");
    expect_next(s, "true");
    expect_next(s, "ERR:0"); /* abc: JSON_ERROR_SYNTAX */
    expect_next(s, "ERR:0"); /* } */
    expect_next(s, "[1]");
    expect_next(s, NULL);

    /* A malformed container is framed, reported, and the next one is fine. */
    feed_str(s, "{\"a\" 1}{\"ok\": 1}");
    expect_next(s, "ERR:0");
    expect_next(s, "{\"ok\": 1}");
    json_streamer_free(s);
}

static void test_stream_recovery(void)
{
    const struct json_limits limits = {.max_size = 1024, .max_depth = 4};
    struct json_streamer *s = json_streamer_new(&limits);
    char filler[4096];

    /* Too large: one error, the rest of that value is skipped, the next value is fine. */
    memset(filler, 'x', sizeof(filler));
    feed_str(s, "{\"big\": \"");
    for (int i = 0; i < 512; i++) /* 2 MiB */
        json_streamer_feed(s, filler, sizeof(filler));
    feed_str(s, "\", \"brace\": \"}\"} {\"after\": 1}");
    expect_next(s, "ERR:10"); /* JSON_ERROR_SIZE */
    expect_next(s, "{\"after\": 1}");
    expect_next(s, NULL);

    /* Too deep: one error, skipped to the matching close. */
    feed_str(s, "[[[[[[1]]]]]] [[2]]");
    expect_next(s, "ERR:9"); /* JSON_ERROR_DEPTH */
    expect_next(s, "[[2]]");

    /* A control character resets an unfinished value (the client's way to resync). */
    feed_str(s, "{\"a\": [1, {\"b\": \"unterminated");
    feed_str(s, "\x1b");
    feed_str(s, "{\"c\": 3}");
    expect_next(s, "ERR:6"); /* JSON_ERROR_CONTROL */
    expect_next(s, "{\"c\": 3}");

    /* A raw newline inside a string is a lexical error too: the client is not stuck. */
    feed_str(s, "{\"a\": \"x\n{\"d\": 4}");
    expect_next(s, "ERR:6");
    expect_next(s, "{\"d\": 4}");

    /* An unbalanced close cannot leave the framer waiting. */
    feed_str(s, "[1}] {\"e\": 5}");
    expect_next(s, "ERR:0");
    expect_next(s, "ERR:0"); /* the stray ']' */
    expect_next(s, "{\"e\": 5}");

    /* reset() forgets pending text and results. */
    feed_str(s, "{\"f\": 6} {\"g\": ");
    json_streamer_reset(s);
    feed_str(s, "{\"h\": 7}");
    expect_next(s, "{\"h\": 7}");
    expect_next(s, NULL);
    json_streamer_free(s);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/json/scalars", test_scalars);
    g_test_add_func("/json/strings", test_strings);
    g_test_add_func("/json/containers", test_containers);
    g_test_add_func("/json/writer-special", test_writer_special);
    g_test_add_func("/json/errors", test_errors);
    g_test_add_func("/json/limits", test_limits);
    g_test_add_func("/json/wide-object", test_wide_object);
    g_test_add_func("/json/stream-framing", test_stream_framing);
    g_test_add_func("/json/stream-recovery", test_stream_recovery);
    return g_test_run();
}
