/*
 * QMP sessions: the greeting, framing requests out of the byte stream, checking and
 * dispatching them, queueing replies and events without ever blocking the loop.
 *
 * A session lives as long as one connection of the socket chardev: the chardev reports
 * OPENED (greet, require qmp_capabilities again) and CLOSED (forget everything of the session).
 *
 * Output never blocks: replies wait in a per-monitor buffer while the socket is full. While
 * that buffer holds more than MONITOR_OUTPUT_PAUSE bytes, requests are no longer read (they
 * stay in the kernel), so a client that writes but never reads cannot make the buffer grow
 * with replies; only events can push it further, and beyond MONITOR_OUTPUT_LIMIT the client
 * is disconnected (libxl itself refuses messages of 1 MiB and more).
 */
#include "qmp-internal.h"

#include <inttypes.h>
#include "xendm/common.h"
#include "xendm/log.h"
#include "xendm/trace.h"

#define MONITOR_INPUT_CHUNK 4096
#define MONITOR_OUTPUT_PAUSE (64 * 1024)
#define MONITOR_OUTPUT_LIMIT (1024 * 1024)
/* A request larger than this is refused (libxl's largest are a few hundred bytes). */
#define MONITOR_REQUEST_LIMIT (1024 * 1024)
/* QMP arguments are shallow; the limit stops a hostile client from recursing deep. */
#define MONITOR_REQUEST_DEPTH 32

GQuark qmp_error_quark(void)
{
    return g_quark_from_static_string("xendm-qmp-error");
}

static const char *qmp_error_class_name(const GError *err)
{
    if (err->domain == QMP_ERROR && err->code == QMP_ERROR_COMMAND_NOT_FOUND)
        return "CommandNotFound";
    return "GenericError";
}

const char *vm_run_state_name(enum vm_run_state state)
{
    static const char *const names[] = {
        [VM_RUN_STATE_PRELAUNCH] = "prelaunch",
        [VM_RUN_STATE_RUNNING] = "running",
        [VM_RUN_STATE_PAUSED] = "paused",
        [VM_RUN_STATE_SUSPENDED] = "suspended",
        [VM_RUN_STATE_SHUTDOWN] = "shutdown",
        [VM_RUN_STATE_INMIGRATE] = "inmigrate",
        [VM_RUN_STATE_POSTMIGRATE] = "postmigrate",
        [VM_RUN_STATE_FINISH_MIGRATE] = "finish-migrate",
        [VM_RUN_STATE_SAVE_VM] = "save-vm",
        [VM_RUN_STATE_RESTORE_VM] = "restore-vm",
        [VM_RUN_STATE_INTERNAL_ERROR] = "internal-error",
        [VM_RUN_STATE_GUEST_PANICKED] = "guest-panicked",
    };

    if ((unsigned)state < G_N_ELEMENTS(names) && names[state])
        return names[state];
    return "internal-error";
}

/* ---- output ---- */

static size_t monitor_pending_output(const struct monitor *mon)
{
    return mon->out->len - mon->out_head;
}

static void monitor_maybe_resume_input(struct monitor *mon)
{
    if (mon->input_paused && monitor_pending_output(mon) <= MONITOR_OUTPUT_PAUSE) {
        mon->input_paused = false;
        chardev_accept_input(mon->chr);
    }
}

/* Writes what the chardev takes now; the rest waits for write_ready. */
static void monitor_flush(struct monitor *mon)
{
    unsigned session = mon->session;

    while (mon->connected && monitor_pending_output(mon) > 0) {
        ssize_t n = chardev_write_partial(mon->chr, (const uint8_t *)mon->out->str + mon->out_head,
                                          monitor_pending_output(mon));
        if (mon->session != session)
            return; /* the write found the peer gone: the session and its output are over */
        if (n < 0) {
            g_string_truncate(mon->out, 0); /* nobody to write to: drop, as a chardev does */
            mon->out_head = 0;
            break;
        }
        if (n == 0) {
            chardev_notify_writable(mon->chr);
            break;
        }
        mon->out_head += (size_t)n;
    }
    if (mon->out_head == mon->out->len) {
        g_string_truncate(mon->out, 0);
        mon->out_head = 0;
    } else if (mon->out_head > mon->out->len / 2) {
        g_string_erase(mon->out, 0, (gssize)mon->out_head); /* amortised: half is gone */
        mon->out_head = 0;
    }
    monitor_maybe_resume_input(mon);
}

/*
 * Queues one message as a line; the line is compact JSON, so it holds no raw newline.
 * is_reply: traced as qmp_reply (events are traced by name where they are emitted).
 */
static void monitor_send(struct monitor *mon, const struct json_value *msg, bool is_reply)
{
    GString *line;

    if (!mon->connected)
        return;
    line = g_string_new(NULL);
    json_append_text(line, msg);
    if (is_reply)
        TRACE(qmp_reply, "%s: %.200s", chardev_id(mon->chr), line->str);
    g_string_append(line, "\r\n");
    if (monitor_pending_output(mon) + line->len > MONITOR_OUTPUT_LIMIT) {
        log_warn("QMP '%s': the client does not read its output: disconnecting",
                 chardev_id(mon->chr));
        g_string_free(line, TRUE);
        chardev_disconnect(mon->chr);
        return; /* a backend that cannot disconnect: this message is dropped */
    }
    g_string_append_len(mon->out, line->str, (gssize)line->len);
    g_string_free(line, TRUE);
    monitor_flush(mon);
}

static void monitor_send_return(struct monitor *mon, struct json_value *ret,
                                const struct json_value *id)
{
    struct json_value *msg = json_object_new();

    json_object_set(msg, "return", ret);
    if (id)
        json_object_set(msg, "id", json_copy(id));
    monitor_send(mon, msg, true);
    json_free(msg);
}

static void monitor_send_error(struct monitor *mon, const GError *err,
                               const struct json_value *id)
{
    struct json_value *msg = json_object_new();
    struct json_value *error = json_object_new();

    json_object_set(error, "class", json_string_new(qmp_error_class_name(err)));
    json_object_set(error, "desc", json_string_new(err->message));
    json_object_set(msg, "error", error);
    if (id)
        json_object_set(msg, "id", json_copy(id));
    monitor_send(mon, msg, true);
    json_free(msg);
}

/* ---- requests ---- */

static bool qmp_check_request_members(const struct json_value *req, GError **err)
{
    for (size_t i = 0; i < json_object_size(req); i++) {
        const char *key = json_object_key_at(req, i);
        if (strcmp(key, "execute") != 0 && strcmp(key, "arguments") != 0 &&
            strcmp(key, "id") != 0) {
            g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "QMP input member '%s' is unexpected",
                        key);
            return false;
        }
    }
    return true;
}

/* The command a request names, once its shape and the session's state allow it. */
static const struct qmp_command *qmp_resolve(struct monitor *mon, const struct json_value *req,
                                             const struct json_value **args, GError **err)
{
    const struct json_value *execute = json_object_get(req, "execute");
    const struct qmp_command *cmd;
    const char *name;

    if (!qmp_check_request_members(req, err))
        return NULL;
    if (!execute) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "QMP input lacks member 'execute'");
        return NULL;
    }
    name = json_get_string(execute);
    if (!name) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC,
                    "QMP input member 'execute' must be a string");
        return NULL;
    }
    *args = json_object_get(req, "arguments");
    if (*args && json_type_of(*args) != JSON_OBJECT) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC,
                    "QMP input member 'arguments' must be an object");
        return NULL;
    }
    TRACE(qmp_command, "%s: %.100s", chardev_id(mon->chr), name);
    cmd = qmp_command_find(name);
    if (!mon->negotiated && !(cmd && cmd->before_negotiation)) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_COMMAND_NOT_FOUND,
                    "Expecting capabilities negotiation with 'qmp_capabilities'");
        return NULL;
    }
    if (mon->negotiated && cmd && strcmp(cmd->name, "qmp_capabilities") == 0) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_COMMAND_NOT_FOUND,
                    "Capabilities negotiation is already complete, command ignored");
        return NULL;
    }
    if (!cmd) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_COMMAND_NOT_FOUND,
                    "The command %.100s has not been found", name);
        return NULL;
    }
    return cmd;
}

static void qmp_handle_request(struct monitor *mon, const struct json_value *req)
{
    const struct json_value *id = json_object_get(req, "id");
    struct qmp_request request = {.mon = mon};
    const struct json_value *args = NULL;
    struct json_value *empty = NULL;
    struct json_value *ret = NULL;
    const struct qmp_command *cmd;
    GError *err = NULL;

    if (json_type_of(req) != JSON_OBJECT) {
        g_set_error(&err, QMP_ERROR, QMP_ERROR_GENERIC, "QMP input must be a JSON object");
        goto reply;
    }
    cmd = qmp_resolve(mon, req, &args, &err);
    if (!cmd)
        goto reply;
    if (!args)
        args = empty = json_object_new();
    if (!qmp_check_arguments(cmd, args, &err))
        goto reply;
    request.args = args;
    ret = cmd->handler(&request, &err);

reply:
    if (ret) {
        monitor_send_return(mon, ret, id);
    } else {
        if (!err)
            g_set_error(&err, QMP_ERROR, QMP_ERROR_GENERIC, "command failed");
        log_debug("QMP '%s': %s", chardev_id(mon->chr), err->message);
        monitor_send_error(mon, err, id);
        g_error_free(err);
    }
    json_free(empty);
    if (request.after_reply)
        request.after_reply(mon);
}

static void qmp_handle_parse_error(struct monitor *mon, const GError *parse_err)
{
    GError *err = g_error_new(QMP_ERROR, QMP_ERROR_GENERIC, "JSON parse error, %s",
                              parse_err->message);

    log_debug("QMP '%s': %s", chardev_id(mon->chr), err->message);
    monitor_send_error(mon, err, NULL);
    g_error_free(err);
}

/* Handles every complete request; stops if a reply found the client gone. */
static void monitor_process_input(struct monitor *mon)
{
    unsigned session = mon->session;
    struct json_value *req;
    GError *err = NULL;

    while (mon->session == session && json_streamer_next(mon->input, &req, &err)) {
        if (req)
            qmp_handle_request(mon, req);
        else
            qmp_handle_parse_error(mon, err);
        json_free(req);
        g_clear_error(&err);
    }
}

/* ---- sessions ---- */

static void monitor_session_end(struct monitor *mon)
{
    mon->connected = false;
    mon->negotiated = false;
    mon->input_paused = false;
    mon->session++;
    json_streamer_reset(mon->input);
    g_string_truncate(mon->out, 0);
    mon->out_head = 0;
}

static void monitor_send_greeting(struct monitor *mon)
{
    struct json_value *msg = json_object_new();
    struct json_value *qmp = json_object_new();

    json_object_set(qmp, "version", qmp_version_info());
    /* No "oob": out-of-band execution is not offered. */
    json_object_set(qmp, "capabilities", json_array_new());
    json_object_set(msg, "QMP", qmp);
    monitor_send(mon, msg, true);
    json_free(msg);
}

static void monitor_session_start(struct monitor *mon)
{
    if (mon->connected)
        monitor_session_end(mon);
    mon->connected = true;
    mon->session++;
    log_debug("QMP '%s': client connected", chardev_id(mon->chr));
    monitor_send_greeting(mon);
}

/* ---- chardev frontend ---- */

static size_t monitor_can_receive(void *opaque)
{
    struct monitor *mon = opaque;

    if (monitor_pending_output(mon) > MONITOR_OUTPUT_PAUSE) {
        mon->input_paused = true;
        return 0;
    }
    return MONITOR_INPUT_CHUNK;
}

static void monitor_receive(void *opaque, const uint8_t *buf, size_t len)
{
    struct monitor *mon = opaque;

    if (!mon->connected)
        return;
    json_streamer_feed(mon->input, buf, len);
    monitor_process_input(mon);
}

static void monitor_chardev_event(void *opaque, enum chardev_event event)
{
    struct monitor *mon = opaque;

    if (event == CHARDEV_EVENT_OPENED) {
        monitor_session_start(mon);
    } else {
        log_debug("QMP '%s': client disconnected", chardev_id(mon->chr));
        monitor_session_end(mon);
    }
}

static void monitor_write_ready(void *opaque)
{
    monitor_flush(opaque);
}

struct monitor *monitor_new(struct chardev *chr, const struct vm_control *vmc, void *opaque)
{
    static const struct vm_control no_control;
    struct monitor *mon = g_new0(struct monitor, 1);
    const struct json_limits limits = {
        .max_size = MONITOR_REQUEST_LIMIT,
        .max_depth = MONITOR_REQUEST_DEPTH,
    };

    mon->chr = chr;
    mon->own_fdsets = fdsets_new();
    mon->fdsets = mon->own_fdsets;
    mon->vmc = vmc ? vmc : &no_control;
    mon->opaque = opaque;
    mon->input = json_streamer_new(&limits);
    mon->out = g_string_new(NULL);

    const struct chardev_frontend fe = {
        .can_receive = monitor_can_receive,
        .receive = monitor_receive,
        .opaque = mon,
        .event = monitor_chardev_event,
        .write_ready = monitor_write_ready,
    };
    /* Last: a client already connected (wait=on) is greeted from inside this call. */
    chardev_set_frontend(chr, &fe);
    return mon;
}

void monitor_free(struct monitor *mon)
{
    if (!mon)
        return;
    chardev_set_frontend(mon->chr, NULL);
    fdsets_free(mon->own_fdsets);
    json_streamer_free(mon->input);
    g_string_free(mon->out, TRUE);
    g_free(mon);
}

bool monitor_is_negotiated(const struct monitor *mon)
{
    return mon->connected && mon->negotiated;
}

/* ---- events ---- */

void monitor_emit_event(struct monitor *mon, const char *name, const struct json_value *data)
{
    struct json_value *msg, *timestamp;
    gint64 now = g_get_real_time();

    if (!monitor_is_negotiated(mon))
        return;
    TRACE(qmp_event, "%s: %s", chardev_id(mon->chr), name);
    timestamp = json_object_new();
    json_object_set(timestamp, "seconds", json_int_new(now / G_USEC_PER_SEC));
    json_object_set(timestamp, "microseconds", json_int_new(now % G_USEC_PER_SEC));
    msg = json_object_new();
    json_object_set(msg, "timestamp", timestamp);
    json_object_set(msg, "event", json_string_new(name));
    if (data)
        json_object_set(msg, "data", json_copy(data));
    monitor_send(mon, msg, false);
    json_free(msg);
}

struct json_value *monitor_event_reason_data(bool guest, const char *reason)
{
    struct json_value *data = json_object_new();

    json_object_set(data, "guest", json_bool_new(guest));
    json_object_set(data, "reason", json_string_new(reason));
    return data;
}

/* ---- the set of monitors ---- */

struct monitor_set {
    GPtrArray *monitors; /* struct monitor *, owned */
    struct fdsets *fdsets; /* shared by its monitors, as QEMU's fd sets are per process */
};

static void monitor_free_cb(gpointer mon)
{
    monitor_free(mon);
}

struct monitor_set *monitor_set_new(void)
{
    struct monitor_set *set = g_new0(struct monitor_set, 1);

    set->monitors = g_ptr_array_new_with_free_func(monitor_free_cb);
    set->fdsets = fdsets_new();
    return set;
}

void monitor_set_free(struct monitor_set *set)
{
    if (!set)
        return;
    g_ptr_array_unref(set->monitors);
    fdsets_free(set->fdsets);
    g_free(set);
}

void monitor_set_add(struct monitor_set *set, struct monitor *mon)
{
    if (!mon)
        return;
    /* A monitor's own sets are empty until a client speaks: nothing is lost here. */
    fdsets_free(mon->own_fdsets);
    mon->own_fdsets = NULL;
    mon->fdsets = set->fdsets;
    g_ptr_array_add(set->monitors, mon);
}

unsigned monitor_set_count(const struct monitor_set *set)
{
    return set->monitors->len;
}

void monitor_set_emit(struct monitor_set *set, const char *name, struct json_value *data)
{
    for (guint i = 0; set && i < set->monitors->len; i++)
        monitor_emit_event(g_ptr_array_index(set->monitors, i), name, data);
    json_free(data);
}

static struct chardev *find_chardev(GPtrArray *chardevs, const char *id)
{
    for (guint i = 0; chardevs && i < chardevs->len; i++) {
        struct chardev *chr = g_ptr_array_index(chardevs, i);
        if (strcmp(chardev_id(chr), id) == 0)
            return chr;
    }
    return NULL;
}

static struct monitor *monitor_new_from_kv(struct kv_list *kv, GPtrArray *chardevs,
                                           const struct vm_control *vmc, void *opaque,
                                           GError **err)
{
    const char *id = kv_get(kv, "chardev");
    const char *mode = kv_get(kv, "mode");
    const char *unused;
    struct chardev *chr;
    bool pretty;

    /* pretty=on asks for indented output; the compact form means the same to any client. */
    if (!kv_get_bool(kv, "pretty", false, &pretty, err))
        return NULL;
    if (!id) {
        g_set_error(err, QMP_ERROR, 0, "-mon: chardev= is required");
        return NULL;
    }
    if (!mode || strcmp(mode, "control") != 0) {
        /* QEMU's default mode is readline, the human monitor. */
        g_set_error(err, QMP_ERROR, 0, "-mon chardev=%s: only mode=control (QMP) is supported",
                    id);
        return NULL;
    }
    unused = kv_first_unused(kv);
    if (unused) {
        g_set_error(err, QMP_ERROR, 0, "-mon chardev=%s: unknown option '%s'", id, unused);
        return NULL;
    }
    chr = find_chardev(chardevs, id);
    if (!chr) {
        g_set_error(err, QMP_ERROR, 0, "-mon: no chardev with id '%s'", id);
        return NULL;
    }
    if (chardev_has_frontend(chr)) {
        g_set_error(err, QMP_ERROR, 0, "-mon: chardev '%s' is already in use", id);
        return NULL;
    }
    return monitor_new(chr, vmc, opaque);
}

bool monitor_set_add_from_options(struct monitor_set *set, GPtrArray *mon_opts,
                                  GPtrArray *chardevs, const struct vm_control *vmc,
                                  void *opaque, GError **err)
{
    for (guint i = 0; mon_opts && i < mon_opts->len; i++) {
        struct monitor *mon = monitor_new_from_kv(g_ptr_array_index(mon_opts, i), chardevs, vmc,
                                                  opaque, err);
        if (!mon)
            return false;
        monitor_set_add(set, mon);
    }
    return true;
}
