/*
 * QEMU-style "key=value,key=value" option strings.
 *
 * Syntax accepted (as QEMU's option parser does for -device, -chardev,
 * -machine, ...): items are separated by ','; a literal comma inside a value
 * is written ",,". The first item may be a bare value for the caller's
 * implied key ("isa-serial,index=1"). Any other item without '=' is a
 * boolean flag set to "on" ("server" means "server=on"). A key given twice
 * keeps its last value.
 */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "xendm/common.h"
#include "xendm/keyval.h"

#define KV_ERROR (g_quark_from_static_string("xendm-keyval"))

struct kv_list *kv_new(void)
{
    return g_new0(struct kv_list, 1);
}

void kv_free(struct kv_list *kv)
{
    if (kv == NULL) {
        return;
    }
    for (size_t i = 0; i < kv->count; i++) {
        g_free(kv->pairs[i].key);
        g_free(kv->pairs[i].value);
    }
    g_free(kv->pairs);
    g_free(kv);
}

static struct kv_pair *kv_find(const struct kv_list *kv, const char *key)
{
    for (size_t i = 0; i < kv->count; i++) {
        if (strcmp(kv->pairs[i].key, key) == 0) {
            return &kv->pairs[i];
        }
    }
    return NULL;
}

void kv_set(struct kv_list *kv, const char *key, const char *value)
{
    struct kv_pair *pair = kv_find(kv, key);

    if (pair != NULL) {
        g_free(pair->value);
        pair->value = g_strdup(value);
        pair->used = false;
        return;
    }
    kv->pairs = g_renew(struct kv_pair, kv->pairs, kv->count + 1);
    kv->pairs[kv->count] = (struct kv_pair){g_strdup(key), g_strdup(value), false};
    kv->count++;
}

/*
 * Copies one item starting at *pos into a new string, turning ",," into ','
 * and stopping at a single ','. Advances *pos past the separator.
 */
static char *kv_take_item(const char **pos, bool *more)
{
    GString *item = g_string_new(NULL);
    const char *p = *pos;

    while (*p != '\0') {
        if (*p == ',') {
            if (p[1] == ',') {
                g_string_append_c(item, ',');
                p += 2;
                continue;
            }
            p++;
            *more = true;
            break;
        }
        g_string_append_c(item, *p++);
    }
    *pos = p;
    return g_string_free(item, FALSE);
}

static bool kv_add_item(struct kv_list *kv, const char *item, bool first, const char *implied_key,
                        GError **err)
{
    const char *eq = strchr(item, '=');

    if (eq == NULL) {
        if (first && implied_key != NULL) {
            kv_set(kv, implied_key, item);
        } else {
            kv_set(kv, item, "on");
        }
        return true;
    }
    if (eq == item) {
        g_set_error(err, KV_ERROR, 0, "missing key before '=' in '%s'", item);
        return false;
    }
    char *key = g_strndup(item, (gsize)(eq - item));
    kv_set(kv, key, eq + 1);
    g_free(key);
    return true;
}

struct kv_list *kv_parse(const char *text, const char *implied_key, GError **err)
{
    struct kv_list *kv = kv_new();
    const char *pos = text;
    bool first = true;

    while (*pos != '\0') {
        bool more = false;
        char *item = kv_take_item(&pos, &more);
        bool ok;

        /* "a,,b" is one item; "a,,,b" is "a," and "b"; "a," or "a,,,," ends in an empty item. */
        if (item[0] == '\0' || (more && *pos == '\0')) {
            g_set_error(err, KV_ERROR, 0, "empty item in '%s'", text);
            g_free(item);
            goto fail;
        }
        ok = kv_add_item(kv, item, first, implied_key, err);
        g_free(item);
        if (!ok) {
            goto fail;
        }
        first = false;
    }
    return kv;

fail:
    kv_free(kv);
    return NULL;
}

const char *kv_get(struct kv_list *kv, const char *key)
{
    struct kv_pair *pair = kv_find(kv, key);

    if (pair == NULL) {
        return NULL;
    }
    pair->used = true;
    return pair->value;
}

bool kv_get_bool(struct kv_list *kv, const char *key, bool def, bool *out, GError **err)
{
    static const char *const yes[] = {"on", "yes", "true"};
    static const char *const no[] = {"off", "no", "false"};
    const char *value = kv_get(kv, key);

    if (value == NULL) {
        *out = def;
        return true;
    }
    for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
        if (strcmp(value, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcmp(value, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    g_set_error(err, KV_ERROR, 0, "Parameter '%s' expects 'on' or 'off', not '%s'", key, value);
    return false;
}

static bool size_suffix_shift(char suffix, unsigned *shift)
{
    switch (g_ascii_toupper(suffix)) {
    case 'B': *shift = 0; return true;
    case 'K': *shift = 10; return true;
    case 'M': *shift = 20; return true;
    case 'G': *shift = 30; return true;
    case 'T': *shift = 40; return true;
    default: return false;
    }
}

bool parse_u64(const char *text, bool sized, uint64_t *out)
{
    char *end = NULL;
    unsigned long long value;
    unsigned shift = 0;

    /* strtoull accepts leading blanks and a sign; a number here has neither. */
    if (text == NULL || !g_ascii_isdigit(text[0])) {
        return false;
    }
    errno = 0;
    value = strtoull(text, &end, 0);
    if (errno != 0 || end == text) {
        return false;
    }
    if (*end != '\0') {
        if (!sized || end[1] != '\0' || !size_suffix_shift(*end, &shift)) {
            return false;
        }
    }
    if (shift > 0 && value > (UINT64_MAX >> shift)) {
        return false;
    }
    *out = (uint64_t)value << shift;
    return true;
}

bool kv_get_u64(struct kv_list *kv, const char *key, uint64_t def, bool sized, uint64_t *out,
                GError **err)
{
    const char *value = kv_get(kv, key);

    if (value == NULL) {
        *out = def;
        return true;
    }
    if (!parse_u64(value, sized, out)) {
        g_set_error(err, KV_ERROR, 0, "Parameter '%s' expects a %s, not '%s'", key,
                    sized ? "size" : "number", value);
        return false;
    }
    return true;
}

const char *kv_first_unused(const struct kv_list *kv)
{
    for (size_t i = 0; i < kv->count; i++) {
        if (!kv->pairs[i].used) {
            return kv->pairs[i].key;
        }
    }
    return NULL;
}
