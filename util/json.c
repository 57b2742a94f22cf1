/*
 * A small strict JSON parser, writer and stream framer (RFC 8259). See include/xendm/json.h.
 *
 * The parser is recursive descent; recursion is bounded by the depth limit, which the caller
 * (and the framer, before any parsing) enforces.
 */
#include "xendm/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

GQuark json_error_quark(void)
{
    return g_quark_from_static_string("xendm-json-error");
}

struct json_member {
    char *key;
    struct json_value *value;
};

struct json_value {
    enum json_type type;
    union {
        bool b;
        int64_t i;
        double d;
        char *s;
        GPtrArray *items;   /* struct json_value * */
        GArray *members;    /* struct json_member */
    } u;
};

/* ---- building ---- */

static struct json_value *json_alloc(enum json_type type)
{
    struct json_value *v = g_new0(struct json_value, 1);

    v->type = type;
    return v;
}

struct json_value *json_null_new(void)
{
    return json_alloc(JSON_NULL);
}

struct json_value *json_bool_new(bool b)
{
    struct json_value *v = json_alloc(JSON_BOOL);

    v->u.b = b;
    return v;
}

struct json_value *json_int_new(int64_t i)
{
    struct json_value *v = json_alloc(JSON_INT);

    v->u.i = i;
    return v;
}

struct json_value *json_double_new(double d)
{
    struct json_value *v = json_alloc(JSON_DOUBLE);

    v->u.d = d;
    return v;
}

struct json_value *json_string_take(char *s)
{
    struct json_value *v = json_alloc(JSON_STRING);

    v->u.s = s ? s : g_strdup("");
    return v;
}

struct json_value *json_string_new(const char *s)
{
    return json_string_take(g_strdup(s ? s : ""));
}

static void json_free_cb(gpointer v)
{
    json_free(v);
}

static void json_member_clear(gpointer p)
{
    struct json_member *m = p;

    g_free(m->key);
    json_free(m->value);
}

struct json_value *json_array_new(void)
{
    struct json_value *v = json_alloc(JSON_ARRAY);

    v->u.items = g_ptr_array_new_with_free_func(json_free_cb);
    return v;
}

struct json_value *json_object_new(void)
{
    struct json_value *v = json_alloc(JSON_OBJECT);

    v->u.members = g_array_new(FALSE, FALSE, sizeof(struct json_member));
    g_array_set_clear_func(v->u.members, json_member_clear);
    return v;
}

void json_array_append(struct json_value *array, struct json_value *item)
{
    g_return_if_fail(array && array->type == JSON_ARRAY && item);
    g_ptr_array_add(array->u.items, item);
}

static struct json_member *json_object_find(const struct json_value *object, const char *key)
{
    for (guint i = 0; i < object->u.members->len; i++) {
        struct json_member *m = &g_array_index(object->u.members, struct json_member, i);
        if (strcmp(m->key, key) == 0)
            return m;
    }
    return NULL;
}

/* Appends a member known to be new: no linear search, so building n members stays O(n). */
static void json_object_append_new(struct json_value *object, char *key, struct json_value *value)
{
    struct json_member m = {.key = key, .value = value};

    g_array_append_val(object->u.members, m);
}

void json_object_set(struct json_value *object, const char *key, struct json_value *value)
{
    struct json_member *old;

    g_return_if_fail(object && object->type == JSON_OBJECT && key && value);
    old = json_object_find(object, key);
    if (old) {
        json_free(old->value);
        old->value = value;
        return;
    }
    json_object_append_new(object, g_strdup(key), value);
}

void json_free(struct json_value *v)
{
    if (!v)
        return;
    switch (v->type) {
    case JSON_STRING:
        g_free(v->u.s);
        break;
    case JSON_ARRAY:
        g_ptr_array_unref(v->u.items);
        break;
    case JSON_OBJECT:
        g_array_unref(v->u.members);
        break;
    default:
        break;
    }
    g_free(v);
}

struct json_value *json_copy(const struct json_value *v)
{
    struct json_value *c;

    if (!v)
        return NULL;
    switch (v->type) {
    case JSON_STRING:
        return json_string_new(v->u.s);
    case JSON_ARRAY:
        c = json_array_new();
        for (guint i = 0; i < v->u.items->len; i++)
            json_array_append(c, json_copy(g_ptr_array_index(v->u.items, i)));
        return c;
    case JSON_OBJECT:
        c = json_object_new();
        for (guint i = 0; i < v->u.members->len; i++) {
            struct json_member *m = &g_array_index(v->u.members, struct json_member, i);
            json_object_append_new(c, g_strdup(m->key), json_copy(m->value));
        }
        return c;
    default:
        c = json_alloc(v->type);
        c->u = v->u;
        return c;
    }
}

static bool json_object_equal(const struct json_value *a, const struct json_value *b)
{
    if (a->u.members->len != b->u.members->len)
        return false;
    for (guint i = 0; i < a->u.members->len; i++) {
        struct json_member *m = &g_array_index(a->u.members, struct json_member, i);
        struct json_member *other = json_object_find(b, m->key);
        if (!other || !json_equal(m->value, other->value))
            return false;
    }
    return true;
}

bool json_equal(const struct json_value *a, const struct json_value *b)
{
    if (!a || !b)
        return a == b;
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case JSON_NULL:
        return true;
    case JSON_BOOL:
        return a->u.b == b->u.b;
    case JSON_INT:
        return a->u.i == b->u.i;
    case JSON_DOUBLE:
        return a->u.d == b->u.d;
    case JSON_STRING:
        return strcmp(a->u.s, b->u.s) == 0;
    case JSON_ARRAY:
        if (a->u.items->len != b->u.items->len)
            return false;
        for (guint i = 0; i < a->u.items->len; i++) {
            if (!json_equal(g_ptr_array_index(a->u.items, i), g_ptr_array_index(b->u.items, i)))
                return false;
        }
        return true;
    case JSON_OBJECT:
        return json_object_equal(a, b);
    }
    return false;
}

/* ---- reading ---- */

enum json_type json_type_of(const struct json_value *v)
{
    return v ? v->type : JSON_NULL;
}

const char *json_type_name(enum json_type type)
{
    static const char *const names[] = {
        [JSON_NULL] = "null",     [JSON_BOOL] = "boolean", [JSON_INT] = "integer",
        [JSON_DOUBLE] = "number", [JSON_STRING] = "string", [JSON_ARRAY] = "array",
        [JSON_OBJECT] = "object",
    };

    return (unsigned)type < G_N_ELEMENTS(names) ? names[type] : "?";
}

bool json_get_bool(const struct json_value *v)
{
    return v && v->type == JSON_BOOL && v->u.b;
}

int64_t json_get_int(const struct json_value *v)
{
    return v && v->type == JSON_INT ? v->u.i : 0;
}

double json_get_double(const struct json_value *v)
{
    if (v && v->type == JSON_DOUBLE)
        return v->u.d;
    if (v && v->type == JSON_INT)
        return (double)v->u.i;
    return 0;
}

const char *json_get_string(const struct json_value *v)
{
    return v && v->type == JSON_STRING ? v->u.s : NULL;
}

size_t json_array_length(const struct json_value *array)
{
    return array && array->type == JSON_ARRAY ? array->u.items->len : 0;
}

const struct json_value *json_array_get(const struct json_value *array, size_t index)
{
    if (index >= json_array_length(array))
        return NULL;
    return g_ptr_array_index(array->u.items, index);
}

size_t json_object_size(const struct json_value *object)
{
    return object && object->type == JSON_OBJECT ? object->u.members->len : 0;
}

const struct json_value *json_object_get(const struct json_value *object, const char *key)
{
    struct json_member *m;

    if (!object || object->type != JSON_OBJECT || !key)
        return NULL;
    m = json_object_find(object, key);
    return m ? m->value : NULL;
}

const char *json_object_key_at(const struct json_value *object, size_t index)
{
    if (index >= json_object_size(object))
        return NULL;
    return g_array_index(object->u.members, struct json_member, index).key;
}

const struct json_value *json_object_value_at(const struct json_value *object, size_t index)
{
    if (index >= json_object_size(object))
        return NULL;
    return g_array_index(object->u.members, struct json_member, index).value;
}

/* ---- parsing ---- */

struct json_parser {
    const char *start;
    const char *p;
    const char *end;
    unsigned max_depth;
    GError **err;
};

static void parse_fail(struct json_parser *ps, enum json_error_code code, const char *what)
{
    g_set_error(ps->err, JSON_ERROR, code, "%s at byte %td", what, ps->p - ps->start);
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_ws(struct json_parser *ps)
{
    while (ps->p < ps->end && is_ws(*ps->p))
        ps->p++;
}

static bool at_end(struct json_parser *ps)
{
    if (ps->p < ps->end)
        return false;
    parse_fail(ps, JSON_ERROR_END, "unexpected end of input");
    return true;
}

static struct json_value *parse_value(struct json_parser *ps, unsigned depth);

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Four hex digits after "\u" at ps->p; advances past them. */
static bool parse_hex4(struct json_parser *ps, unsigned *out)
{
    unsigned v = 0;

    if (ps->end - ps->p < 4) {
        parse_fail(ps, JSON_ERROR_ESCAPE, "truncated \\u escape");
        return false;
    }
    for (int i = 0; i < 4; i++) {
        int d = hex_digit(ps->p[i]);
        if (d < 0) {
            parse_fail(ps, JSON_ERROR_ESCAPE, "bad hex digit in \\u escape");
            return false;
        }
        v = v << 4 | (unsigned)d;
    }
    ps->p += 4;
    *out = v;
    return true;
}

/* ps->p is just after "\u": one code point, joining a UTF-16 surrogate pair (RFC 8259 §7). */
static bool parse_unicode_escape(struct json_parser *ps, GString *out)
{
    unsigned hi, lo;

    if (!parse_hex4(ps, &hi))
        return false;
    if (hi >= 0xDC00 && hi <= 0xDFFF) {
        parse_fail(ps, JSON_ERROR_ESCAPE, "lone low surrogate");
        return false;
    }
    if (hi >= 0xD800 && hi <= 0xDBFF) {
        if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u') {
            parse_fail(ps, JSON_ERROR_ESCAPE, "high surrogate without a low one");
            return false;
        }
        ps->p += 2;
        if (!parse_hex4(ps, &lo))
            return false;
        if (lo < 0xDC00 || lo > 0xDFFF) {
            parse_fail(ps, JSON_ERROR_ESCAPE, "high surrogate without a low one");
            return false;
        }
        hi = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
    }
    if (hi == 0) {
        /* Strings are C strings here: an embedded NUL would silently truncate them. */
        parse_fail(ps, JSON_ERROR_ESCAPE, "\\u0000 is not supported");
        return false;
    }
    g_string_append_unichar(out, (gunichar)hi);
    return true;
}

static bool parse_escape(struct json_parser *ps, GString *out)
{
    static const char from[] = "\"\\/bfnrt";
    static const char to[] = "\"\\/\b\f\n\r\t";
    const char *hit;

    ps->p++; /* the backslash */
    if (at_end(ps))
        return false;
    if (*ps->p == 'u') {
        ps->p++;
        return parse_unicode_escape(ps, out);
    }
    hit = *ps->p ? strchr(from, *ps->p) : NULL;
    if (!hit) {
        parse_fail(ps, JSON_ERROR_ESCAPE, "invalid escape");
        return false;
    }
    g_string_append_c(out, to[hit - from]);
    ps->p++;
    return true;
}

/* Finds the closing quote of the string whose body starts at ps->p; checks raw bytes. */
static const char *string_body_end(struct json_parser *ps)
{
    const char *q = ps->p;
    const char *bad = NULL;

    while (q < ps->end && *q != '"') {
        if ((unsigned char)*q < 0x20) {
            ps->p = q;
            parse_fail(ps, JSON_ERROR_CONTROL, "control character in string");
            return NULL;
        }
        q += (*q == '\\') ? 2 : 1;
    }
    if (q >= ps->end) {
        ps->p = ps->end;
        parse_fail(ps, JSON_ERROR_END, "unterminated string");
        return NULL;
    }
    /* Escapes are ASCII, so the raw body as a whole must be valid UTF-8. */
    if (!g_utf8_validate_len(ps->p, (gsize)(q - ps->p), (const gchar **)&bad)) {
        ps->p = bad;
        parse_fail(ps, JSON_ERROR_UTF8, "invalid UTF-8 in string");
        return NULL;
    }
    return q;
}

/* ps->p is at the opening quote. */
static char *parse_string_text(struct json_parser *ps)
{
    const char *body_end;
    GString *out;

    ps->p++;
    body_end = string_body_end(ps);
    if (!body_end)
        return NULL;
    out = g_string_sized_new((gsize)(body_end - ps->p));
    while (ps->p < body_end) {
        if (*ps->p == '\\') {
            if (!parse_escape(ps, out)) {
                g_string_free(out, TRUE);
                return NULL;
            }
            continue;
        }
        g_string_append_c(out, *ps->p++);
    }
    ps->p++; /* the closing quote */
    return g_string_free(out, FALSE);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static void skip_digits(struct json_parser *ps)
{
    while (ps->p < ps->end && is_digit(*ps->p))
        ps->p++;
}

/* RFC 8259 §6: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool scan_number(struct json_parser *ps, bool *is_integer)
{
    *is_integer = true;
    if (ps->p < ps->end && *ps->p == '-')
        ps->p++;
    if (ps->p >= ps->end || !is_digit(*ps->p))
        return false;
    if (*ps->p == '0') {
        ps->p++;
        if (ps->p < ps->end && is_digit(*ps->p))
            return false; /* leading zero */
    } else {
        skip_digits(ps);
    }
    if (ps->p < ps->end && *ps->p == '.') {
        *is_integer = false;
        ps->p++;
        if (ps->p >= ps->end || !is_digit(*ps->p))
            return false;
        skip_digits(ps);
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        *is_integer = false;
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
            ps->p++;
        if (ps->p >= ps->end || !is_digit(*ps->p))
            return false;
        skip_digits(ps);
    }
    return true;
}

static struct json_value *parse_number(struct json_parser *ps)
{
    const char *begin = ps->p;
    struct json_value *v = NULL;
    bool is_integer;
    char *text;

    if (!scan_number(ps, &is_integer)) {
        parse_fail(ps, JSON_ERROR_NUMBER, "malformed number");
        return NULL;
    }
    text = g_strndup(begin, (gsize)(ps->p - begin));
    errno = 0;
    if (is_integer) {
        gint64 i = g_ascii_strtoll(text, NULL, 10);
        if (errno == 0)
            v = json_int_new(i);
    }
    if (!v) {
        /* A fraction, an exponent, or an integer beyond int64: a double, if finite. */
        errno = 0;
        double d = g_ascii_strtod(text, NULL);
        if (isfinite(d))
            v = json_double_new(d);
    }
    g_free(text);
    if (!v) {
        ps->p = begin;
        parse_fail(ps, JSON_ERROR_NUMBER, "number out of range");
    }
    return v;
}

static struct json_value *parse_literal(struct json_parser *ps)
{
    static const struct {
        const char *text;
        enum json_type type;
        bool value;
    } literals[] = {
        {"true", JSON_BOOL, true}, {"false", JSON_BOOL, false}, {"null", JSON_NULL, false},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(literals); i++) {
        size_t n = strlen(literals[i].text);
        if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, literals[i].text, n) != 0)
            continue;
        if (ps->end - ps->p > (ptrdiff_t)n && g_ascii_isalnum(ps->p[n]))
            break; /* "nullx", "trueish" */
        ps->p += n;
        return literals[i].type == JSON_NULL ? json_null_new() : json_bool_new(literals[i].value);
    }
    parse_fail(ps, JSON_ERROR_SYNTAX, "invalid token");
    return NULL;
}

/* After an item: ',' continues (true), `close` ends (*done); anything else is an error. */
static bool parse_separator(struct json_parser *ps, char close, bool *done)
{
    skip_ws(ps);
    if (at_end(ps))
        return false;
    if (*ps->p == ',') {
        ps->p++;
        *done = false;
        return true;
    }
    if (*ps->p == close) {
        ps->p++;
        *done = true;
        return true;
    }
    parse_fail(ps, JSON_ERROR_SYNTAX, close == ']' ? "expected ',' or ']'" : "expected ',' or '}'");
    return false;
}

static struct json_value *parse_array(struct json_parser *ps, unsigned depth)
{
    struct json_value *array = json_array_new();
    bool done = false;

    ps->p++; /* '[' */
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return array;
    }
    while (!done) {
        struct json_value *item = parse_value(ps, depth);
        if (!item)
            goto fail;
        json_array_append(array, item);
        if (!parse_separator(ps, ']', &done))
            goto fail;
    }
    return array;

fail:
    json_free(array);
    return NULL;
}

/* seen: the object's member names so far, so that a huge object is checked in O(n). */
static bool parse_member(struct json_parser *ps, struct json_value *object, GHashTable *seen,
                         unsigned depth)
{
    const char *key_at;
    struct json_value *value;
    char *key;

    skip_ws(ps);
    if (at_end(ps))
        return false;
    if (*ps->p != '"') {
        parse_fail(ps, JSON_ERROR_SYNTAX, "expected a string as member name");
        return false;
    }
    key_at = ps->p;
    key = parse_string_text(ps);
    if (!key)
        return false;
    if (g_hash_table_contains(seen, key)) {
        ps->p = key_at;
        parse_fail(ps, JSON_ERROR_DUPLICATE_KEY, "duplicate member name");
        g_free(key);
        return false;
    }
    skip_ws(ps);
    if (at_end(ps) || *ps->p != ':') {
        if (ps->p < ps->end)
            parse_fail(ps, JSON_ERROR_SYNTAX, "expected ':'");
        g_free(key);
        return false;
    }
    ps->p++;
    value = parse_value(ps, depth);
    if (!value) {
        g_free(key);
        return false;
    }
    json_object_append_new(object, key, value);
    g_hash_table_add(seen, key); /* borrowed: the object owns the key */
    return true;
}

static struct json_value *parse_object(struct json_parser *ps, unsigned depth)
{
    struct json_value *object = json_object_new();
    GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
    bool done = false;

    ps->p++; /* '{' */
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        done = true;
    }
    while (!done) {
        if (!parse_member(ps, object, seen, depth) || !parse_separator(ps, '}', &done)) {
            json_free(object);
            object = NULL;
            break;
        }
    }
    g_hash_table_unref(seen);
    return object;
}

/* depth: how many containers enclose this value. */
static struct json_value *parse_value(struct json_parser *ps, unsigned depth)
{
    char *s;

    skip_ws(ps);
    if (at_end(ps))
        return NULL;
    switch (*ps->p) {
    case '{':
    case '[':
        if (depth >= ps->max_depth) {
            parse_fail(ps, JSON_ERROR_DEPTH, "nesting too deep");
            return NULL;
        }
        return *ps->p == '{' ? parse_object(ps, depth + 1) : parse_array(ps, depth + 1);
    case '"':
        s = parse_string_text(ps);
        return s ? json_string_take(s) : NULL;
    case '-':
    case '0' ... '9':
        return parse_number(ps);
    default:
        return parse_literal(ps);
    }
}

struct json_value *json_parse(const char *text, size_t len, const struct json_limits *limits,
                              GError **err)
{
    struct json_parser ps = {
        .start = text,
        .p = text,
        .end = text + len,
        .max_depth = limits ? limits->max_depth : JSON_DEFAULT_MAX_DEPTH,
        .err = err,
    };
    size_t max_size = limits ? limits->max_size : JSON_DEFAULT_MAX_SIZE;
    struct json_value *v;

    if (len > max_size) {
        g_set_error(err, JSON_ERROR, JSON_ERROR_SIZE, "input of %zu bytes exceeds %zu", len,
                    max_size);
        return NULL;
    }
    skip_ws(&ps);
    if (ps.p == ps.end) {
        g_set_error(err, JSON_ERROR, JSON_ERROR_EMPTY, "no value");
        return NULL;
    }
    v = parse_value(&ps, 0);
    if (!v)
        return NULL;
    skip_ws(&ps);
    if (ps.p != ps.end) {
        parse_fail(&ps, JSON_ERROR_TRAILING, "unexpected text after the value");
        json_free(v);
        return NULL;
    }
    return v;
}

/* ---- writing ---- */

static void append_u_escape(GString *out, unsigned unit)
{
    g_string_append_printf(out, "\\u%04x", unit);
}

static void append_code_point(GString *out, gunichar c)
{
    if (c >= 0x10000) {
        c -= 0x10000;
        append_u_escape(out, 0xD800 + (c >> 10));
        append_u_escape(out, 0xDC00 + (c & 0x3FF));
    } else {
        append_u_escape(out, c);
    }
}

static void append_string(GString *out, const char *s)
{
    const char *p = s;
    const char *end = s + strlen(s);

    g_string_append_c(out, '"');
    while (p < end) {
        unsigned char c = (unsigned char)*p;
        const char *esc = NULL;

        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default: break;
        }
        if (esc) {
            g_string_append(out, esc);
            p++;
        } else if (c < 0x20 || c == 0x7F) {
            append_u_escape(out, c);
            p++;
        } else if (c < 0x80) {
            g_string_append_c(out, (char)c);
            p++;
        } else {
            /* Strings built inside xendm may hold any bytes: invalid UTF-8 becomes U+FFFD. */
            gunichar u = g_utf8_get_char_validated(p, end - p);
            if (u == (gunichar)-1 || u == (gunichar)-2) {
                append_u_escape(out, 0xFFFD);
                p++;
            } else {
                append_code_point(out, u);
                p = g_utf8_next_char(p);
            }
        }
    }
    g_string_append_c(out, '"');
}

/* The shortest of %.15g..%.17g that reads back as the same double, with a '.' or exponent. */
static void append_double(GString *out, double d)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    if (!isfinite(d)) {
        g_string_append(out, "null"); /* JSON has no NaN or infinity */
        return;
    }
    for (int precision = 15; precision <= 17; precision++) {
        char fmt[8];
        snprintf(fmt, sizeof(fmt), "%%.%dg", precision);
        g_ascii_formatd(buf, sizeof(buf), fmt, d);
        if (g_ascii_strtod(buf, NULL) == d)
            break;
    }
    g_string_append(out, buf);
    if (!strpbrk(buf, ".eE"))
        g_string_append(out, ".0"); /* stays a double when read back */
}

void json_append_text(GString *out, const struct json_value *v)
{
    if (!v) {
        g_string_append(out, "null");
        return;
    }
    switch (v->type) {
    case JSON_NULL:
        g_string_append(out, "null");
        break;
    case JSON_BOOL:
        g_string_append(out, v->u.b ? "true" : "false");
        break;
    case JSON_INT:
        g_string_append_printf(out, "%" PRId64, v->u.i);
        break;
    case JSON_DOUBLE:
        append_double(out, v->u.d);
        break;
    case JSON_STRING:
        append_string(out, v->u.s);
        break;
    case JSON_ARRAY:
        g_string_append_c(out, '[');
        for (guint i = 0; i < v->u.items->len; i++) {
            if (i)
                g_string_append(out, ", ");
            json_append_text(out, g_ptr_array_index(v->u.items, i));
        }
        g_string_append_c(out, ']');
        break;
    case JSON_OBJECT:
        g_string_append_c(out, '{');
        for (guint i = 0; i < v->u.members->len; i++) {
            struct json_member *m = &g_array_index(v->u.members, struct json_member, i);
            if (i)
                g_string_append(out, ", ");
            append_string(out, m->key);
            g_string_append(out, ": ");
            json_append_text(out, m->value);
        }
        g_string_append_c(out, '}');
        break;
    }
}

char *json_to_string(const struct json_value *v)
{
    GString *out = g_string_new(NULL);

    json_append_text(out, v);
    return g_string_free(out, FALSE);
}

/* ---- the stream framer ---- */

enum frame_kind {
    FRAME_IDLE,      /* between values: whitespace is skipped */
    FRAME_CONTAINER, /* inside an object or array: brackets are counted */
    FRAME_STRING,    /* a top-level string */
    FRAME_BARE,      /* a top-level number, literal or garbage: ends at a delimiter */
};

struct json_result {
    struct json_value *value;
    GError *error;
};

struct json_streamer {
    struct json_limits limits;
    GString *text;   /* the value in progress */
    GQueue results;  /* struct json_result *, oldest first */
    enum frame_kind kind;
    size_t depth;    /* counted even beyond the limit, so a skipped value's end is found */
    bool in_string;
    bool escape;
    bool skipping;   /* the value in progress was reported too large or deep: drop its bytes */
};

struct json_streamer *json_streamer_new(const struct json_limits *limits)
{
    struct json_streamer *s = g_new0(struct json_streamer, 1);

    s->limits.max_size = limits ? limits->max_size : JSON_DEFAULT_MAX_SIZE;
    s->limits.max_depth = limits ? limits->max_depth : JSON_DEFAULT_MAX_DEPTH;
    s->text = g_string_new(NULL);
    g_queue_init(&s->results);
    return s;
}

static void result_free(gpointer p)
{
    struct json_result *r = p;

    json_free(r->value);
    if (r->error)
        g_error_free(r->error);
    g_free(r);
}

static void streamer_push(struct json_streamer *s, struct json_value *value, GError *error)
{
    struct json_result *r = g_new0(struct json_result, 1);

    r->value = value;
    r->error = error;
    g_queue_push_tail(&s->results, r);
}

static void streamer_push_error(struct json_streamer *s, enum json_error_code code,
                                const char *msg)
{
    streamer_push(s, NULL, g_error_new_literal(JSON_ERROR, code, msg));
}

static void streamer_clear_value(struct json_streamer *s)
{
    g_string_truncate(s->text, 0);
    s->kind = FRAME_IDLE;
    s->depth = 0;
    s->in_string = false;
    s->escape = false;
    s->skipping = false;
}

void json_streamer_reset(struct json_streamer *s)
{
    streamer_clear_value(s);
    g_queue_clear_full(&s->results, result_free);
}

void json_streamer_free(struct json_streamer *s)
{
    if (!s)
        return;
    json_streamer_reset(s);
    g_string_free(s->text, TRUE);
    g_free(s);
}

/* The value in progress is complete: parse it, unless it was already reported. */
static void streamer_finish(struct json_streamer *s)
{
    GError *err = NULL;

    if (!s->skipping) {
        struct json_value *v = json_parse(s->text->str, s->text->len, &s->limits, &err);
        streamer_push(s, v, err);
    }
    streamer_clear_value(s);
}

static void streamer_append(struct json_streamer *s, char c)
{
    if (s->skipping)
        return;
    if (s->text->len >= s->limits.max_size) {
        streamer_push_error(s, JSON_ERROR_SIZE, "value too large: input skipped to its end");
        g_string_truncate(s->text, 0);
        s->skipping = true;
        return;
    }
    g_string_append_c(s->text, c);
}

static bool is_structural(char c)
{
    return c == '{' || c == '}' || c == '[' || c == ']' || c == ',' || c == ':';
}

static void streamer_start(struct json_streamer *s, char c)
{
    if (is_ws(c))
        return;
    streamer_append(s, c);
    if (c == '{' || c == '[') {
        s->kind = FRAME_CONTAINER;
        s->depth = 1;
    } else if (c == '"') {
        s->kind = FRAME_STRING;
        s->in_string = true;
    } else if (is_structural(c)) {
        streamer_finish(s); /* a stray '}' or ',': an error of its own */
    } else {
        s->kind = FRAME_BARE;
    }
}

static void streamer_string_byte(struct json_streamer *s, char c)
{
    if (s->escape) {
        s->escape = false;
    } else if (c == '\\') {
        s->escape = true;
    } else if (c == '"') {
        s->in_string = false;
        if (s->kind == FRAME_STRING)
            streamer_finish(s);
    }
}

static void streamer_container_byte(struct json_streamer *s, char c)
{
    if (c == '"') {
        s->in_string = true;
    } else if (c == '{' || c == '[') {
        s->depth++;
        if (s->depth > s->limits.max_depth && !s->skipping) {
            streamer_push_error(s, JSON_ERROR_DEPTH, "nesting too deep: input skipped to its end");
            g_string_truncate(s->text, 0);
            s->skipping = true;
        }
    } else if (c == '}' || c == ']') {
        if (--s->depth == 0)
            streamer_finish(s);
    }
}

/* A byte that is never valid where it stands and so can mark a resynchronisation point. */
static bool is_resync_byte(const struct json_streamer *s, unsigned char c)
{
    if (c == 0xFF)
        return true; /* never valid in UTF-8 */
    if (c >= 0x20)
        return false;
    return s->in_string || (c != '\t' && c != '\r' && c != '\n');
}

static void streamer_byte(struct json_streamer *s, char c)
{
    if (is_resync_byte(s, (unsigned char)c)) {
        streamer_push_error(s, JSON_ERROR_CONTROL,
                            "control character in input: the value in progress is discarded");
        streamer_clear_value(s);
        return;
    }
    switch (s->kind) {
    case FRAME_IDLE:
        streamer_start(s, c);
        break;
    case FRAME_BARE:
        if (is_ws(c) || is_structural(c) || c == '"') {
            streamer_finish(s);
            streamer_start(s, c);
        } else {
            streamer_append(s, c);
        }
        break;
    case FRAME_CONTAINER:
    case FRAME_STRING:
        streamer_append(s, c);
        if (s->in_string)
            streamer_string_byte(s, c);
        else
            streamer_container_byte(s, c);
        break;
    }
}

void json_streamer_feed(struct json_streamer *s, const void *buf, size_t len)
{
    const char *p = buf;

    for (size_t i = 0; i < len; i++)
        streamer_byte(s, p[i]);
}

bool json_streamer_next(struct json_streamer *s, struct json_value **value, GError **err)
{
    struct json_result *r = g_queue_pop_head(&s->results);

    *value = NULL;
    if (!r)
        return false;
    *value = r->value;
    r->value = NULL;
    if (r->error) {
        g_propagate_error(err, r->error);
        r->error = NULL;
    }
    g_free(r);
    return true;
}
