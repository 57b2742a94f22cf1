/*
 * QEMU-style option values: "isa-debugcon,iobase=0x402,chardev=dbg".
 * The first item may omit its key (the caller names it: "driver" for -device,
 * "backend" for -chardev, "type" for -machine); ",," is a literal comma.
 * Getting a key marks it used, so that after a device or backend has taken
 * what it knows, kv_first_unused() names a property nobody understood.
 */
#ifndef XENDM_KEYVAL_H
#define XENDM_KEYVAL_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

struct kv_pair {
    char *key;
    char *value;
    bool used;
};

struct kv_list {
    struct kv_pair *pairs;
    size_t count;
};

/* implied_key may be NULL (then every item needs "key=value"). */
struct kv_list *kv_parse(const char *text, const char *implied_key, GError **err);
struct kv_list *kv_new(void);
void kv_set(struct kv_list *kv, const char *key, const char *value); /* replaces */
void kv_free(struct kv_list *kv);

/* The value, or NULL when absent. Marks the key used. */
const char *kv_get(struct kv_list *kv, const char *key);
/* on/off, yes/no, true/false. False with *err set on a malformed value. */
bool kv_get_bool(struct kv_list *kv, const char *key, bool def, bool *out, GError **err);
/* Decimal, 0x hex or 0 octal; optional k/M/G/T suffix when `sized`. */
bool kv_get_u64(struct kv_list *kv, const char *key, uint64_t def, bool sized, uint64_t *out,
                GError **err);
const char *kv_first_unused(const struct kv_list *kv);
/* Parses one number as kv_get_u64 does. */
bool parse_u64(const char *text, bool sized, uint64_t *out);

#endif
