/*
 * A small strict JSON (RFC 8259) parser and writer, and a framer that cuts a byte stream into
 * top-level values, as the QMP monitor needs.
 *
 * Values: null, true/false, numbers (int64 when the text is an integer that fits, else double),
 * strings (UTF-8, NUL-terminated: "\u0000" is refused), arrays and objects (members keep their
 * order; a duplicate key is an error). Input is checked strictly: UTF-8 is validated, raw
 * control characters in strings, lone surrogates, leading zeros, trailing commas and anything
 * after the value are errors. Nesting depth and text size are limited.
 *
 * Output is compact and pure ASCII (non-ASCII as \uXXXX, with surrogate pairs), so it never
 * holds a raw newline: one value per line is a safe framing for the peer.
 */
#ifndef XENDM_JSON_H
#define XENDM_JSON_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum json_type {
    JSON_NULL,
    JSON_BOOL,
    JSON_INT,
    JSON_DOUBLE,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
};

struct json_value;

/* ---- errors (GError domain JSON_ERROR) ---- */

enum json_error_code {
    JSON_ERROR_SYNTAX,         /* unexpected character or token */
    JSON_ERROR_END,            /* the text ended inside a value */
    JSON_ERROR_EMPTY,          /* no value at all */
    JSON_ERROR_TRAILING,       /* something after the value */
    JSON_ERROR_ESCAPE,         /* bad \ escape, lone surrogate, \u0000 */
    JSON_ERROR_UTF8,           /* invalid UTF-8 */
    JSON_ERROR_CONTROL,        /* raw control character (in a string, or a stream resync) */
    JSON_ERROR_NUMBER,         /* malformed or out-of-range number */
    JSON_ERROR_DUPLICATE_KEY,  /* an object names a member twice */
    JSON_ERROR_DEPTH,          /* nested deeper than the limit */
    JSON_ERROR_SIZE,           /* text longer than the limit */
};

GQuark json_error_quark(void);
#define JSON_ERROR json_error_quark()

struct json_limits {
    size_t max_size;    /* bytes of one value's text */
    unsigned max_depth; /* nesting of arrays and objects; 1 = no container inside the top one */
};

#define JSON_DEFAULT_MAX_SIZE (1024 * 1024)
#define JSON_DEFAULT_MAX_DEPTH 64

/* ---- building (constructors never fail; containers take ownership of what is added) ---- */

struct json_value *json_null_new(void);
struct json_value *json_bool_new(bool b);
struct json_value *json_int_new(int64_t i);
struct json_value *json_double_new(double d);
struct json_value *json_string_new(const char *s);
struct json_value *json_string_take(char *s); /* takes a g_malloc'd string */
struct json_value *json_array_new(void);
struct json_value *json_object_new(void);

void json_array_append(struct json_value *array, struct json_value *item);
/* Replaces an existing member of the same name (keeping its place). */
void json_object_set(struct json_value *object, const char *key, struct json_value *value);

struct json_value *json_copy(const struct json_value *v);
void json_free(struct json_value *v);
bool json_equal(const struct json_value *a, const struct json_value *b);

/* ---- reading (getters of the wrong type return 0/false/NULL) ---- */

enum json_type json_type_of(const struct json_value *v);
const char *json_type_name(enum json_type type); /* "string", "object", ... */
bool json_get_bool(const struct json_value *v);
int64_t json_get_int(const struct json_value *v);
double json_get_double(const struct json_value *v); /* ints convert */
const char *json_get_string(const struct json_value *v);

size_t json_array_length(const struct json_value *array);
const struct json_value *json_array_get(const struct json_value *array, size_t index);

size_t json_object_size(const struct json_value *object);
const struct json_value *json_object_get(const struct json_value *object, const char *key);
const char *json_object_key_at(const struct json_value *object, size_t index);
const struct json_value *json_object_value_at(const struct json_value *object, size_t index);

/* ---- text ---- */

/* Parses exactly one value (surrounding whitespace allowed). limits NULL: the defaults. */
struct json_value *json_parse(const char *text, size_t len, const struct json_limits *limits,
                              GError **err);
void json_append_text(GString *out, const struct json_value *v);
char *json_to_string(const struct json_value *v); /* g_free() it */

/* ---- streams ---- */

/*
 * A framer: bytes go in as they arrive (several values in one chunk, or one value across many),
 * complete top-level values come out in order, each parsed, or as an error for a malformed one.
 *
 * Recovery, so a session survives bad input: a value that grows beyond max_size or nests beyond
 * max_depth is reported once and its remaining bytes are skipped up to its end; a raw control
 * character other than tab, CR and LF (or a 0xFF byte) outside a string, or any control
 * character inside one, reports an error and discards whatever value was in progress. A client
 * that lost track sends such a byte to get the stream back to a known state.
 *
 * Memory is bounded by max_size plus the results of one feed() not yet taken with next().
 */
struct json_streamer;

struct json_streamer *json_streamer_new(const struct json_limits *limits);
void json_streamer_free(struct json_streamer *s);
void json_streamer_feed(struct json_streamer *s, const void *buf, size_t len);
/*
 * The next complete value, oldest first: returns true with *value set (a malformed value:
 * *value NULL and *err set); false when nothing is complete yet.
 */
bool json_streamer_next(struct json_streamer *s, struct json_value **value, GError **err);
/* Forgets buffered text and pending results (a new session starts). */
void json_streamer_reset(struct json_streamer *s);

#endif
