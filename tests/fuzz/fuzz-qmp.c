/*
 * fuzz-qmp: the QMP side of xendm, fed arbitrary bytes three ways.
 *
 *  1. util/json.c's parser on the whole input. A value it accepts must print as compact,
 *     printable ASCII (no raw newline: the line framing depends on it), parse back to an equal
 *     value and print the same again.
 *  2. The stream framer, fed the input whole and again in small chunks: both must cut out the
 *     same values and the same errors (framing never depends on how bytes arrive), with small
 *     limits so the oversize and over-depth recovery paths run.
 *  3. A monitor session (monitor/qmp.c + qmp-commands.c) on a chardev whose client is this
 *     harness: the input is what the client sends, delivered as the chardev would (no more than
 *     can_receive() allows). Byte 0xFE followed by a byte is a harness command instead:
 *       0xFE 'c'  the client disconnects and a new one connects (a new session)
 *       0xFE 'e'  main emits an event to the sessions
 *       0xFE 'f'  the bytes so far are delivered now (a chunk boundary)
 *     Everything the monitor writes must be lines ending in CRLF, each one JSON object that is
 *     a greeting, a reply or an event.
 *
 * main is replaced by a fake vm_control. xen-save/load-devices-state have no callback here, so
 * they are refused before the monitor would open the file the client names (the fuzzer would
 * otherwise create files anywhere): the loader has its own target, fuzz-vmstate.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "chardev/chardev-internal.h"
#include "fuzz-target.h"
#include "xendm/json.h"
#include "xendm/log.h"
#include "xendm/monitor.h"

#define STREAM_MAX_SIZE 256
#define STREAM_MAX_DEPTH 8
#define HARNESS_ESCAPE 0xfe
#define OUTPUT_MAX (4u * 1024 * 1024)

#define QMP_CHECK(cond, ...)                                                                      \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fuzz_fail(__VA_ARGS__);                                                                \
        }                                                                                         \
    } while (0)

/* The monitor's output goes to a memfd created once; each input starts it empty. */
static int output_memfd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (g_getenv("FUZZ_VERBOSE") == NULL) {
        log_set_level(LOG_LEVEL_ERROR);
    }
    /* A GLib warning or critical (a GError set twice, a g_return_if_fail) is a bug found. */
    g_log_set_always_fatal(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL);
    output_memfd = memfd_create("fuzz-qmp-output", MFD_CLOEXEC);
    if (output_memfd < 0) {
        fuzz_fail("memfd_create: %s", g_strerror(errno));
    }
    return 0;
}

/* ---- 1. the parser ---- */

static void check_printable(const char *text)
{
    for (const char *p = text; *p; p++) {
        QMP_CHECK(*p >= 0x20 && *p < 0x7f, "printed JSON holds byte 0x%02x: %s",
                  (unsigned char)*p, text);
    }
}

static void fuzz_parse(const uint8_t *data, size_t size)
{
    GError *err = NULL;
    struct json_value *v = json_parse((const char *)data, size, NULL, &err), *again, *copy;
    char *text, *text_again;

    if (v == NULL) {
        QMP_CHECK(err != NULL && err->domain == JSON_ERROR, "json_parse failed without an error");
        g_error_free(err);
        return;
    }
    text = json_to_string(v);
    check_printable(text);
    again = json_parse(text, strlen(text), NULL, &err);
    QMP_CHECK(again != NULL, "json_parse refuses what json_to_string printed: %s (%s)", text,
              err ? err->message : "");
    QMP_CHECK(json_equal(v, again), "a printed value parses back different: %s", text);
    text_again = json_to_string(again);
    QMP_CHECK(strcmp(text, text_again) == 0, "printing is not stable: %s vs %s", text,
              text_again);
    copy = json_copy(v);
    QMP_CHECK(json_equal(v, copy), "json_copy differs: %s", text);
    json_free(copy);
    g_free(text_again);
    json_free(again);
    g_free(text);
    json_free(v);
}

/* ---- 2. the framer ---- */

/* Feeds data in chunks of the given sizes (cycled; 0: all at once); returns what came out. */
static GString *frame(const uint8_t *data, size_t size, const size_t *chunks, size_t nchunks)
{
    const struct json_limits limits = {STREAM_MAX_SIZE, STREAM_MAX_DEPTH};
    struct json_streamer *s = json_streamer_new(&limits);
    GString *log = g_string_new(NULL);
    size_t pos = 0, k = 0;

    while (pos < size) {
        size_t want = nchunks == 0 ? size - pos : chunks[k++ % nchunks];
        size_t n = MIN(want, size - pos);
        struct json_value *v;
        GError *err = NULL;

        json_streamer_feed(s, data + pos, n);
        pos += n;
        while (json_streamer_next(s, &v, &err)) {
            if (v != NULL) {
                char *text = json_to_string(v);
                g_string_append_printf(log, "value %s\n", text);
                g_free(text);
                json_free(v);
            } else {
                QMP_CHECK(err != NULL, "the framer reported an error without a GError");
                g_string_append_printf(log, "error %d\n", err->code);
                g_clear_error(&err);
            }
        }
    }
    json_streamer_free(s);
    return log;
}

static void fuzz_framer(const uint8_t *data, size_t size)
{
    static const size_t odd_chunks[] = {1, 2, 3, 5, 7, 11, 64};
    static const size_t bytewise[] = {1};
    GString *whole = frame(data, size, NULL, 0);
    GString *chunked = frame(data, size, odd_chunks, G_N_ELEMENTS(odd_chunks));
    GString *bytes = frame(data, size, bytewise, 1);

    QMP_CHECK(strcmp(whole->str, chunked->str) == 0,
              "framing depends on chunking:\nwhole:\n%s\nchunked:\n%s", whole->str, chunked->str);
    QMP_CHECK(strcmp(whole->str, bytes->str) == 0,
              "framing depends on chunking:\nwhole:\n%s\nbyte by byte:\n%s", whole->str,
              bytes->str);
    g_string_free(whole, TRUE);
    g_string_free(chunked, TRUE);
    g_string_free(bytes, TRUE);
}

/* ---- 3. a monitor session ---- */

struct fake_main {
    enum vm_run_state state;
    GPtrArray *chardevs; /* borrowed from the session */
    struct monitor_set *monitors;
};

static enum vm_run_state fake_run_state(void *opaque)
{
    return ((struct fake_main *)opaque)->state;
}

/* As main: the state changes and the event goes out to every session. */
static bool fake_stop(void *opaque, GError **err)
{
    struct fake_main *fm = opaque;

    if (fm->state == VM_RUN_STATE_RUNNING) {
        fm->state = VM_RUN_STATE_PAUSED;
        monitor_set_emit(fm->monitors, "STOP", NULL);
    }
    return true;
}

static bool fake_cont(void *opaque, GError **err)
{
    struct fake_main *fm = opaque;

    if (fm->state != VM_RUN_STATE_RUNNING) {
        fm->state = VM_RUN_STATE_RUNNING;
        monitor_set_emit(fm->monitors, "RESUME", NULL);
    }
    return true;
}

static bool fake_reset(void *opaque, GError **err)
{
    struct fake_main *fm = opaque;

    monitor_set_emit(fm->monitors, "RESET",
                     monitor_event_reason_data(false, "host-qmp-system-reset"));
    return true;
}

static bool fake_powerdown(void *opaque, GError **err)
{
    g_set_error(err, g_quark_from_static_string("fuzz"), 0, "no power button");
    return false;
}

static void fake_quit(void *opaque)
{
    struct fake_main *fm = opaque;

    monitor_set_emit(fm->monitors, "SHUTDOWN",
                     monitor_event_reason_data(false, "host-qmp-quit"));
}

static GPtrArray *fake_chardevs(void *opaque)
{
    return ((struct fake_main *)opaque)->chardevs;
}

static const char *fake_name(void *opaque)
{
    return "fuzz-guest";
}

static bool fake_dirty_log(void *opaque, bool enable, GError **err)
{
    return true;
}

static unsigned fake_vcpus(void *opaque, unsigned *max)
{
    *max = 4;
    return 2;
}

static const struct vm_control fake_control = {
    .run_state = fake_run_state,
    .stop = fake_stop,
    .cont = fake_cont,
    .system_reset = fake_reset,
    .system_powerdown = fake_powerdown,
    .quit = fake_quit,
    .chardevs = fake_chardevs,
    .name = fake_name,
    .set_global_dirty_log = fake_dirty_log,
    .vcpus = fake_vcpus,
};

/*
 * A chardev whose peer is this harness: a null backend made connected, output into the memfd
 * (it always takes everything, so replies never wait), input delivered by deliver().
 */
static struct chardev *session_chardev(void)
{
    GError *err = NULL;
    struct kv_list *kv = kv_parse("null,id=fuzz-qmp", "backend", &err);
    struct chardev *chr = kv ? chardev_new(kv, &err) : NULL;

    QMP_CHECK(chr != NULL, "chardev: %s", err ? err->message : "?");
    kv_free(kv);
    chr->out_fd = dup(output_memfd);
    QMP_CHECK(chr->out_fd >= 0, "dup: %s", g_strerror(errno));
    chr->connected = true;
    return chr;
}

static void deliver(struct chardev *chr, const uint8_t *data, size_t len)
{
    while (len > 0 && chr->has_frontend) {
        size_t room = chr->frontend.can_receive(chr->frontend.opaque);
        size_t n = MIN(room, len);

        /* Output never waits here, so the monitor never has a reason to stop reading. */
        QMP_CHECK(room > 0, "the monitor stopped reading although its output drained");
        chr->frontend.receive(chr->frontend.opaque, data, n);
        data += n;
        len -= n;
    }
}

static void harness_command(struct fake_main *fm, struct chardev *chr, uint8_t cmd)
{
    switch (cmd) {
    case 'c':
        chardev_report_event(chr, CHARDEV_EVENT_CLOSED);
        chardev_report_event(chr, CHARDEV_EVENT_OPENED);
        break;
    case 'e': {
        struct json_value *data = json_object_new();
        json_object_set(data, "offset", json_int_new(-3600));
        monitor_set_emit(fm->monitors, "RTC_CHANGE", data);
        break;
    }
    default:
        break; /* 'f' and anything else: only the chunk boundary */
    }
}

static void run_session(struct fake_main *fm, struct chardev *chr, const uint8_t *data,
                        size_t size)
{
    size_t start = 0;

    for (size_t i = 0; i < size; i++) {
        if (data[i] != HARNESS_ESCAPE || i + 1 >= size) {
            continue;
        }
        deliver(chr, data + start, i - start);
        harness_command(fm, chr, data[i + 1]);
        i++;
        start = i + 1;
    }
    if (start < size) {
        deliver(chr, data + start, size - start);
    }
}

static void check_output_line(const char *line, size_t len)
{
    static const char *const kinds[] = {"QMP", "return", "error", "event"};
    GError *err = NULL;
    struct json_value *v = json_parse(line, len, NULL, &err);
    unsigned found = 0;

    QMP_CHECK(v != NULL, "the monitor wrote a line that is not JSON (%s): %.*s",
              err ? err->message : "", (int)MIN(len, 200), line);
    QMP_CHECK(json_type_of(v) == JSON_OBJECT, "the monitor wrote a non-object: %.*s",
              (int)MIN(len, 200), line);
    for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++) {
        found += json_object_get(v, kinds[i]) != NULL;
    }
    QMP_CHECK(found == 1, "a message is not one greeting, reply or event: %.*s",
              (int)MIN(len, 200), line);
    json_free(v);
}

static void check_output(void)
{
    off_t size = lseek(output_memfd, 0, SEEK_END);
    char *out, *p, *end;

    QMP_CHECK(size >= 0 && (size_t)size <= OUTPUT_MAX, "output of %lld bytes", (long long)size);
    out = g_malloc((size_t)size + 1);
    QMP_CHECK(pread(output_memfd, out, (size_t)size, 0) == size, "reading the output back");
    out[size] = '\0';
    if (g_getenv("FUZZ_VERBOSE") != NULL) {
        fputs(out, stderr); /* the session as the client saw it */
    }
    for (p = out, end = out + size; p < end;) {
        char *crlf = g_strstr_len(p, end - p, "\r\n");
        QMP_CHECK(crlf != NULL, "output does not end in CRLF: %.200s", p);
        QMP_CHECK(memchr(p, '\n', (size_t)(crlf - p)) == NULL, "a raw newline inside a message");
        check_output_line(p, (size_t)(crlf - p));
        p = crlf + 2;
    }
    g_free(out);
    QMP_CHECK(ftruncate(output_memfd, 0) == 0 && lseek(output_memfd, 0, SEEK_SET) == 0,
              "resetting the output");
}

static void fuzz_monitor(const uint8_t *data, size_t size)
{
    struct fake_main fm = {.state = VM_RUN_STATE_RUNNING};
    struct chardev *chr = session_chardev();
    struct kv_list *mon_kv = kv_parse("chardev=fuzz-qmp,mode=control", NULL, NULL);
    GPtrArray *mon_opts = g_ptr_array_new();
    GError *err = NULL;

    fm.chardevs = g_ptr_array_new();
    g_ptr_array_add(fm.chardevs, chr);
    g_ptr_array_add(mon_opts, mon_kv);
    fm.monitors = monitor_set_new();
    if (!monitor_set_add_from_options(fm.monitors, mon_opts, fm.chardevs, &fake_control, &fm,
                                      &err)) {
        fuzz_fail("monitor: %s", err->message);
    }
    run_session(&fm, chr, data, size);
    monitor_set_free(fm.monitors);
    chardev_free(chr);
    kv_free(mon_kv);
    g_ptr_array_free(mon_opts, TRUE);
    g_ptr_array_free(fm.chardevs, TRUE);
    check_output();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_parse(data, size);
    fuzz_framer(data, size);
    fuzz_monitor(data, size);
    return 0;
}
