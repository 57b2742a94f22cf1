/*
 * fuzz-options: the command line (system/options.c) and QEMU-style option values
 * (util/keyval.c) fed arbitrary words.
 *
 * Input: argv[1..] separated by NUL bytes (at most MAX_ARGS words; argv[0] is "xendm").
 *
 *  - options_parse() on the words: it accepts or refuses with a message, never more;
 *  - a command line it accepts is also assembled into a machine (hw/xen/xenfv.c), as main
 *    does, when every backend it names is harmless (null chardevs, null or chardev:ID serials;
 *    a file, socket, pty or stdio backend would act on the host), so device properties from
 *    -device reach the devices' own checks;
 *  - every word through kv_parse() with an implied key, then each key through the typed
 *    getters (bool, number, size), as devices and backends read their properties.
 */
#include <string.h>

#include "fuzz-machine.h"
#include "fuzz-target.h"
#include "xendm/keyval.h"
#include "xendm/options.h"
#include "xendm/xenfv.h"

#define MAX_ARGS 64

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet_logs();
    return 0;
}

/* Splits data at NUL bytes into a NULL-terminated argv whose strings it owns. */
static GPtrArray *split_words(const uint8_t *data, size_t size)
{
    GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
    size_t start = 0;

    g_ptr_array_add(argv, g_strdup("xendm"));
    for (size_t i = 0; i <= size && argv->len <= MAX_ARGS; i++) {
        if (i == size || data[i] == '\0') {
            if (i > start || i < size) {
                g_ptr_array_add(argv, g_strndup((const char *)data + start, i - start));
            }
            start = i + 1;
        }
    }
    g_ptr_array_add(argv, NULL);
    return argv;
}

static void fuzz_keyval_word(const char *word)
{
    GError *err = NULL;
    struct kv_list *kv = kv_parse(word, "driver", &err);
    uint64_t number;
    bool flag;

    if (kv == NULL) {
        FUZZ_CHECK(err != NULL, "kv_parse failed without an error");
        g_error_free(err);
        return;
    }
    FUZZ_CHECK(err == NULL, "kv_parse succeeded with an error set");
    for (size_t i = 0; i < kv->count; i++) {
        const char *key = kv->pairs[i].key;
        FUZZ_CHECK(key != NULL && kv->pairs[i].value != NULL, "a pair without key or value");
        FUZZ_CHECK(kv_get(kv, key) != NULL, "kv_get misses the key '%s' kv_parse made", key);
        if (!kv_get_bool(kv, key, false, &flag, &err)) {
            g_clear_error(&err);
        }
        if (!kv_get_u64(kv, key, 0, i % 2 == 0, &number, &err)) {
            g_clear_error(&err);
        }
    }
    FUZZ_CHECK(kv_first_unused(kv) == NULL, "a key stayed unused after kv_get");
    (void)parse_u64(word, true, &number);
    (void)parse_u64(word, false, &number);
    kv_free(kv);
}

static bool kv_value_is(struct kv_list *kv, const char *key, const char *value)
{
    for (size_t i = 0; i < kv->count; i++) {
        if (strcmp(kv->pairs[i].key, key) == 0) {
            return strcmp(kv->pairs[i].value, value) == 0;
        }
    }
    return false;
}

/* A -drive without a file (an empty CD-ROM) or on /dev/null opens nothing that matters. */
static bool harmless_drive(struct kv_list *kv)
{
    for (size_t i = 0; i < kv->count; i++) {
        if (strcmp(kv->pairs[i].key, "file") == 0 &&
            strcmp(kv->pairs[i].value, "/dev/null") != 0) {
            return false;
        }
    }
    return true;
}

/*
 * Only null chardevs, null or chardev:ID serials and harmless drives: assembling then touches
 * nothing outside.
 */
static bool harmless_to_assemble(const struct xendm_config *cfg)
{
    for (guint i = 0; i < cfg->drives->len; i++) {
        if (!harmless_drive(g_ptr_array_index(cfg->drives, i))) {
            return false;
        }
    }
    for (guint i = 0; i < cfg->chardevs->len; i++) {
        if (!kv_value_is(g_ptr_array_index(cfg->chardevs, i), "backend", "null")) {
            return false;
        }
    }
    for (guint i = 0; i < cfg->serials->len; i++) {
        const char *spec = g_ptr_array_index(cfg->serials, i);
        if (strcmp(spec, "null") != 0 && !g_str_has_prefix(spec, "chardev:")) {
            return false;
        }
    }
    return true;
}

static void assemble(struct xendm_config *cfg)
{
    struct machine *m = machine_new();
    GError *err = NULL;

    if (xenfv_assemble(m, cfg, &err)) {
        FUZZ_CHECK(err == NULL, "xenfv_assemble succeeded with an error set");
        machine_reset(m);
    } else {
        FUZZ_CHECK(err != NULL, "xenfv_assemble failed without an error");
        g_error_free(err);
    }
    machine_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    GPtrArray *argv = split_words(data, size);
    struct xendm_config *cfg = config_new();
    GError *err = NULL;
    int argc = (int)argv->len - 1;

    if (options_parse(cfg, argc, (char **)argv->pdata, &err)) {
        FUZZ_CHECK(err == NULL, "options_parse succeeded with an error set");
        FUZZ_CHECK(config_max_vcpus(cfg) >= 1, "no vCPU");
        if (cfg->action == XENDM_ACTION_RUN && harmless_to_assemble(cfg)) {
            assemble(cfg);
        }
    } else {
        FUZZ_CHECK(err != NULL && err->message[0] != '\0', "options_parse failed without why");
        g_error_free(err);
    }
    config_free(cfg);
    for (int i = 1; i < argc; i++) {
        fuzz_keyval_word(g_ptr_array_index(argv, i));
    }
    g_ptr_array_free(argv, TRUE);
    return 0;
}
