/*
 * QMP input commands, with QEMU 7.2's arguments and error texts (checked against Debian's
 * qemu-xen), and HMP's sendkey (xl qemu-monitor-command DOM "sendkey ctrl-alt-delete"):
 *
 *   input-send-event {device?, head?, events: [{type: "key", data: {down, key: KeyValue}},
 *                                              {type: "btn", data: {down, button}},
 *                                              {type: "rel"|"abs", data: {axis, value}}]}
 *   send-key {keys: [KeyValue], hold-time?}      KeyValue: {type: "qcode"|"number", data}
 *
 * The events of one input-send-event form one report: keys go out in order, pointer motion and
 * buttons are summed into one pointer event at the end (QEMU's sync). send-key presses the keys
 * in order and releases them in reverse after hold-time ms on a timer; the command answers at
 * once. The monitor reaches the devices only through include/xendm/input.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "qmp-internal.h"
#include "xendm/input.h"
#include "xendm/machine.h"

#define SEND_KEY_DEFAULT_HOLD_MS 100
#define SEND_KEY_MAX_HOLD_MS 60000
#define SEND_KEY_MAX_KEYS 16 /* more than any chord; QEMU has no limit but a keyboard does */

/* ---- argument checking, with QEMU's paths ("events[0].data.down") ---- */

static char *member_path(const char *path, const char *name)
{
    return *path ? g_strdup_printf("%s.%s", path, name) : g_strdup(name);
}

static const char *json_kind_name(enum json_type type)
{
    switch (type) {
    case JSON_INT: return "integer";
    case JSON_BOOL: return "boolean";
    case JSON_STRING: return "string";
    case JSON_ARRAY: return "array";
    case JSON_OBJECT: return "object";
    default: return "null";
    }
}

/* A member of obj of the given type; NULL with *err set when it is missing (and not optional)
 * or of another type. */
static const struct json_value *arg_member(const struct json_value *obj, const char *path,
                                           const char *name, enum json_type type, bool optional,
                                           GError **err)
{
    const struct json_value *v = json_object_get(obj, name);
    g_autofree char *full = member_path(path, name);

    if (!v) {
        if (!optional)
            g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Parameter '%s' is missing", full);
        return NULL;
    }
    if (json_type_of(v) != type) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC,
                    "Invalid parameter type for '%s', expected: %s", full, json_kind_name(type));
        return NULL;
    }
    return v;
}

/* After the known members: one QEMU does not know is refused. */
static bool arg_no_others(const struct json_value *obj, const char *path,
                          const char *const *known, GError **err)
{
    for (size_t i = 0; i < json_object_size(obj); i++) {
        const char *key = json_object_key_at(obj, i);
        bool found = false;
        for (const char *const *k = known; *k && !found; k++)
            found = strcmp(*k, key) == 0;
        if (!found) {
            g_autofree char *full = member_path(path, key);
            g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Parameter '%.100s' is unexpected",
                        full);
            return false;
        }
    }
    return true;
}

/* An enumeration's value: its index in names, or -1 with QEMU's error (which names the member
 * without its path). */
static int arg_enum(const struct json_value *v, const char *name, const char *const *names,
                    GError **err)
{
    const char *s = json_get_string(v);

    for (int i = 0; names[i]; i++) {
        if (strcmp(names[i], s) == 0)
            return i;
    }
    g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC,
                "Parameter '%s' does not accept value '%.100s'", name, s);
    return -1;
}

/* QKeyCode names QEMU accepts that are no key of a PC keyboard: taken, and nothing happens. */
static bool qcode_without_pc_key(const char *name)
{
    static const char *const names[] = {
        "unmapped", "again", "props", "undo", "front", "copy", "open", "paste", "find", "cut",
        "lf", "help", "hiragana", NULL,
    };

    for (const char *const *n = names; *n; n++) {
        if (strcmp(*n, name) == 0)
            return true;
    }
    return false;
}

/* A KeyValue {type: "qcode"|"number", data}: *keycode is 0 for a key the PC has not. */
static bool parse_key_value(const struct json_value *kv, const char *path, unsigned *keycode,
                            GError **err)
{
    static const char *const kinds[] = {"number", "qcode", NULL};
    static const char *const known[] = {"type", "data", NULL};
    const struct json_value *type, *data;
    int kind;

    type = arg_member(kv, path, "type", JSON_STRING, false, err);
    if (!type || (kind = arg_enum(type, "type", kinds, err)) < 0)
        return false;
    data = arg_member(kv, path, "data", kind == 0 ? JSON_INT : JSON_STRING, false, err);
    if (!data || !arg_no_others(kv, path, known, err))
        return false;
    if (kind == 0) {
        int64_t number = json_get_int(data);
        *keycode = number > 0 && number < 0x100 ? input_keycode_from_number((unsigned)number)
                                                : 0;
        return true;
    }
    *keycode = input_keycode_from_qcode(json_get_string(data));
    if (!*keycode && !qcode_without_pc_key(json_get_string(data))) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC,
                    "Parameter 'data' does not accept value '%.100s'", json_get_string(data));
        return false;
    }
    return true;
}

/* ---- input-send-event ---- */

enum qmp_input_kind { EV_KEY, EV_ABS, EV_REL, EV_BTN };
static const char *const event_kind_names[] = {"key", "abs", "rel", "btn", NULL};

/* QEMU's InputButton, in its order. */
enum qmp_button { QBTN_LEFT, QBTN_MIDDLE, QBTN_RIGHT, QBTN_WHEEL_UP, QBTN_WHEEL_DOWN, QBTN_SIDE,
                  QBTN_EXTRA };
static const char *const button_names[] = {"left", "middle", "right", "wheel-up", "wheel-down",
                                           "side", "extra", NULL};
static const unsigned button_masks[] = {INPUT_BUTTON_LEFT, INPUT_BUTTON_MIDDLE,
                                        INPUT_BUTTON_RIGHT, 0, 0, INPUT_BUTTON_SIDE,
                                        INPUT_BUTTON_EXTRA};

struct qmp_input_event {
    enum qmp_input_kind kind;
    bool down;
    unsigned keycode;
    int button;
    int axis; /* 0: x, 1: y */
    int64_t value;
};

static bool parse_key_event(const struct json_value *data, const char *path,
                            struct qmp_input_event *ev, GError **err)
{
    static const char *const known[] = {"key", "down", NULL};
    const struct json_value *key = arg_member(data, path, "key", JSON_OBJECT, false, err);
    g_autofree char *key_path = member_path(path, "key");
    const struct json_value *down;

    /* QEMU's member order: key, then down. */
    if (!key || !parse_key_value(key, key_path, &ev->keycode, err))
        return false;
    down = arg_member(data, path, "down", JSON_BOOL, false, err);
    if (!down || !arg_no_others(data, path, known, err))
        return false;
    ev->down = json_get_bool(down);
    return true;
}

static bool parse_btn_event(const struct json_value *data, const char *path,
                            struct qmp_input_event *ev, GError **err)
{
    static const char *const known[] = {"button", "down", NULL};
    const struct json_value *button = arg_member(data, path, "button", JSON_STRING, false, err);
    const struct json_value *down;

    if (!button || (ev->button = arg_enum(button, "button", button_names, err)) < 0)
        return false;
    down = arg_member(data, path, "down", JSON_BOOL, false, err);
    if (!down || !arg_no_others(data, path, known, err))
        return false;
    ev->down = json_get_bool(down);
    return true;
}

static bool parse_move_event(const struct json_value *data, const char *path,
                             struct qmp_input_event *ev, GError **err)
{
    static const char *const axes[] = {"x", "y", NULL};
    static const char *const known[] = {"axis", "value", NULL};
    const struct json_value *axis = arg_member(data, path, "axis", JSON_STRING, false, err);
    const struct json_value *value;

    if (!axis || (ev->axis = arg_enum(axis, "axis", axes, err)) < 0)
        return false;
    value = arg_member(data, path, "value", JSON_INT, false, err);
    if (!value || !arg_no_others(data, path, known, err))
        return false;
    ev->value = json_get_int(value);
    return true;
}

static bool parse_event(const struct json_value *e, size_t index, struct qmp_input_event *ev,
                        GError **err)
{
    static const char *const known[] = {"type", "data", NULL};
    g_autofree char *path = g_strdup_printf("events[%zu]", index);
    g_autofree char *data_path = member_path(path, "data");
    const struct json_value *type, *data;
    int kind;
    bool ok;

    if (json_type_of(e) != JSON_OBJECT) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC,
                    "Invalid parameter type for '%s', expected: object", path);
        return false;
    }
    type = arg_member(e, path, "type", JSON_STRING, false, err);
    if (!type || (kind = arg_enum(type, "type", event_kind_names, err)) < 0)
        return false;
    data = arg_member(e, path, "data", JSON_OBJECT, false, err);
    if (!data)
        return false;
    ev->kind = (enum qmp_input_kind)kind;
    if (kind == EV_KEY)
        ok = parse_key_event(data, data_path, ev, err);
    else if (kind == EV_BTN)
        ok = parse_btn_event(data, data_path, ev, err);
    else
        ok = parse_move_event(data, data_path, ev, err);
    return ok && arg_no_others(e, path, known, err);
}

/* The pointer as QMP left it: buttons stay held between commands, as on QEMU. */
static unsigned qmp_buttons;
static int qmp_abs_x = INPUT_ABS_MAX / 2, qmp_abs_y = INPUT_ABS_MAX / 2;

struct pointer_report {
    bool any, absolute;
    int64_t dx, dy;
    int dz;
};

static int clamp_int(int64_t v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : (int)v;
}

static void apply_event(const struct qmp_input_event *ev, struct pointer_report *r)
{
    switch (ev->kind) {
    case EV_KEY:
        if (ev->keycode)
            input_key_event(ev->keycode, ev->down);
        return;
    case EV_BTN:
        r->any = true;
        if (ev->button == QBTN_WHEEL_UP || ev->button == QBTN_WHEEL_DOWN) {
            if (ev->down) /* a click of the wheel is one step; its release nothing */
                r->dz += ev->button == QBTN_WHEEL_UP ? 1 : -1;
        } else if (ev->down) {
            qmp_buttons |= button_masks[ev->button];
        } else {
            qmp_buttons &= ~button_masks[ev->button];
        }
        return;
    case EV_REL:
        r->any = true;
        if (ev->axis == 0)
            r->dx = clamp_int(r->dx + ev->value, INT32_MIN / 2, INT32_MAX / 2);
        else
            r->dy = clamp_int(r->dy + ev->value, INT32_MIN / 2, INT32_MAX / 2);
        return;
    case EV_ABS:
        r->any = r->absolute = true;
        if (ev->axis == 0)
            qmp_abs_x = clamp_int(ev->value, 0, INPUT_ABS_MAX);
        else
            qmp_abs_y = clamp_int(ev->value, 0, INPUT_ABS_MAX);
        return;
    }
}

static void send_pointer_report(const struct pointer_report *r)
{
    if (!r->any)
        return;
    if (r->absolute) {
        input_pointer_abs_event(qmp_abs_x, qmp_abs_y, r->dz, qmp_buttons);
        if (r->dx || r->dy)
            input_pointer_rel_event((int)r->dx, (int)r->dy, 0, qmp_buttons);
        return;
    }
    input_pointer_rel_event((int)r->dx, (int)r->dy, r->dz, qmp_buttons);
}

static unsigned event_handler_kinds(enum qmp_input_kind kind)
{
    /* Absolute positions reach a relative pointer too: the router turns them into motion. */
    return kind == EV_KEY ? INPUT_KIND_KEYBOARD
                          : INPUT_KIND_POINTER_REL | INPUT_KIND_POINTER_ABS;
}

static bool vm_running(struct monitor *mon)
{
    enum vm_run_state state =
        mon->vmc->run_state ? mon->vmc->run_state(mon->opaque) : VM_RUN_STATE_RUNNING;

    return state == VM_RUN_STATE_RUNNING || state == VM_RUN_STATE_SUSPENDED;
}

/* The device named must be the display's (QEMU binds input to a console's device). */
static bool check_input_device(const struct json_value *args, GError **err)
{
    const struct json_value *device = json_object_get(args, "device");

    if (!device)
        return true;
    g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Device '%.100s' not found",
                json_get_string(device));
    return false;
}

struct json_value *qmp_input_send_event(struct qmp_request *req, GError **err)
{
    const struct json_value *events = json_object_get(req->args, "events");
    size_t n = json_array_length(events);
    g_autofree struct qmp_input_event *parsed = g_new0(struct qmp_input_event, n ? n : 1);
    struct pointer_report report = {0};

    for (size_t i = 0; i < n; i++) {
        if (!parse_event(json_array_get(events, i), i, &parsed[i], err))
            return NULL;
    }
    if (!check_input_device(req->args, err))
        return NULL;
    if (!vm_running(req->mon)) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "VM not running");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!input_handler_present(event_handler_kinds(parsed[i].kind))) {
            g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC,
                        "Input handler not found for event type %s",
                        event_kind_names[parsed[i].kind]);
            return NULL;
        }
    }
    for (size_t i = 0; i < n; i++)
        apply_event(&parsed[i], &report);
    send_pointer_report(&report);
    return json_object_new();
}

/* ---- send-key ---- */

/* Keys pressed by send-key, released in reverse when the timer fires. Kept in a list so that
 * nothing is lost from sight while a release is pending. */
struct pending_release {
    unsigned keycodes[SEND_KEY_MAX_KEYS];
    unsigned count;
    struct timer *timer;
};

static GList *pending_releases;

static void release_keys(void *opaque)
{
    struct pending_release *p = opaque;

    for (unsigned i = p->count; i > 0; i--)
        input_key_event(p->keycodes[i - 1], false);
    pending_releases = g_list_remove(pending_releases, p);
    timer_free(p->timer); /* safe from its own callback: the loop holds the source */
    g_free(p);
}

static void send_keys(const unsigned *keycodes, unsigned count, int64_t hold_ms)
{
    struct pending_release *p = g_new0(struct pending_release, 1);

    if (hold_ms <= 0)
        hold_ms = SEND_KEY_DEFAULT_HOLD_MS;
    if (hold_ms > SEND_KEY_MAX_HOLD_MS)
        hold_ms = SEND_KEY_MAX_HOLD_MS;
    for (unsigned i = 0; i < count; i++) {
        if (keycodes[i] && input_key_event(keycodes[i], true))
            p->keycodes[p->count++] = keycodes[i];
    }
    if (!p->count) {
        g_free(p);
        return;
    }
    p->timer = timer_new(release_keys, p);
    pending_releases = g_list_prepend(pending_releases, p);
    timer_arm_ns(p->timer, (uint64_t)hold_ms * 1000 * 1000);
}

struct json_value *qmp_send_key(struct qmp_request *req, GError **err)
{
    const struct json_value *keys = json_object_get(req->args, "keys");
    const struct json_value *hold = json_object_get(req->args, "hold-time");
    size_t n = json_array_length(keys);
    unsigned keycodes[SEND_KEY_MAX_KEYS];

    if (n > SEND_KEY_MAX_KEYS) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Too many keys (at most %d)",
                    SEND_KEY_MAX_KEYS);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const struct json_value *kv = json_array_get(keys, i);
        g_autofree char *path = g_strdup_printf("keys[%zu]", i);
        if (json_type_of(kv) != JSON_OBJECT) {
            g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC,
                        "Invalid parameter type for '%s', expected: object", path);
            return NULL;
        }
        if (!parse_key_value(kv, path, &keycodes[i], err))
            return NULL;
    }
    send_keys(keycodes, (unsigned)n, hold ? json_get_int(hold) : 0);
    return json_object_new();
}

/* ---- HMP sendkey KEYS [HOLD_MS]: KEYS is key-key-..., each a QKeyCode name or 0xNN ---- */

static bool hmp_key(const char *name, unsigned *keycode)
{
    if (g_str_has_prefix(name, "0x")) {
        char *end;
        unsigned long number;
        errno = 0;
        number = strtoul(name, &end, 16);
        if (errno || *end || end == name + 2)
            return false;
        *keycode = number < 0x100 ? input_keycode_from_number((unsigned)number) : 0;
        return true;
    }
    *keycode = input_keycode_from_qcode(name);
    return *keycode || qcode_without_pc_key(name);
}

static bool hmp_hold_time(const char *text, int64_t *ms, GString *out)
{
    char *end;

    errno = 0;
    *ms = strtoll(text, &end, 0);
    if (end == text || *end || errno) {
        g_string_append_printf(out, "invalid char '%c' in expression\n"
                               "Try \"help sendkey\" for more information\n",
                               end == text || !*end ? *text : *end);
        return false;
    }
    return true;
}

void hmp_sendkey(struct monitor *mon, gchar **words, GString *out)
{
    unsigned keycodes[SEND_KEY_MAX_KEYS];
    unsigned count = 0;
    int64_t hold_ms = 0;
    gchar **names;

    if (!words[1]) {
        g_string_append(out, "sendkey: string expected\n"
                             "Try \"help sendkey\" for more information\n");
        return;
    }
    if (words[2] && !hmp_hold_time(words[2], &hold_ms, out))
        return;
    names = g_strsplit(words[1], "-", -1);
    for (gchar **name = names; *name; name++) {
        if (count == SEND_KEY_MAX_KEYS || !hmp_key(*name, &keycodes[count])) {
            g_string_append_printf(out, "invalid parameter: %.100s\n", *name);
            g_strfreev(names);
            return;
        }
        count++;
    }
    g_strfreev(names);
    send_keys(keycodes, count, hold_ms);
}
