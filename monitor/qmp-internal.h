/*
 * What the QMP session code (qmp.c) shares with the command table (qmp-commands.c).
 * Private to monitor/.
 */
#ifndef XENDM_QMP_INTERNAL_H
#define XENDM_QMP_INTERNAL_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include "xendm/chardev.h"
#include "xendm/json.h"
#include "xendm/monitor.h"

struct fdsets;

struct monitor {
    struct chardev *chr;
    struct fdsets *fdsets;     /* add-fd's sets: the monitor_set's, else own_fdsets */
    struct fdsets *own_fdsets; /* a monitor outside any set keeps its own */
    const struct vm_control *vmc;
    void *opaque;
    struct json_streamer *input;
    GString *out;     /* replies and events the chardev has not taken yet */
    size_t out_head;  /* bytes of out already written */
    bool connected;
    bool negotiated;  /* this session sent qmp_capabilities */
    bool input_paused; /* stopped reading while the client does not read its replies */
    unsigned session; /* bumped on every connect and disconnect */
};

/* The error classes of QMP replies ("class" in {"error": ...}). */
enum qmp_error_class {
    QMP_ERROR_GENERIC,           /* "GenericError" */
    QMP_ERROR_COMMAND_NOT_FOUND, /* "CommandNotFound" */
};

GQuark qmp_error_quark(void);
#define QMP_ERROR qmp_error_quark()

enum qmp_param_type {
    QMP_PARAM_STRING,
    QMP_PARAM_INT,
    QMP_PARAM_BOOL,
    QMP_PARAM_ARRAY,
    QMP_PARAM_OBJECT,
    QMP_PARAM_ANY,
};

struct qmp_param {
    const char *name;
    enum qmp_param_type type;
    bool optional;
};

struct qmp_request {
    struct monitor *mon;
    const struct json_value *args; /* always an object (empty when the request had none) */
    /* Set by a handler that must act only once its reply is on its way (quit). */
    void (*after_reply)(struct monitor *mon);
};

/* Returns the "return" value, or NULL with *err set (domain QMP_ERROR). */
typedef struct json_value *(*qmp_handler)(struct qmp_request *req, GError **err);

struct qmp_command {
    const char *name;
    qmp_handler handler;
    const struct qmp_param *params; /* ends with {NULL}; NULL: takes no arguments */
    bool before_negotiation;        /* allowed before qmp_capabilities */
};

const struct qmp_command *qmp_command_find(const char *name);
size_t qmp_command_count(void);
const struct qmp_command *qmp_command_at(size_t index);
/* Checks args (an object) against cmd->params: unknown, missing and mistyped members. */
bool qmp_check_arguments(const struct qmp_command *cmd, const struct json_value *args,
                         GError **err);

/* ---- block commands (qmp-block.c) ---- */
struct json_value *qmp_eject(struct qmp_request *req, GError **err);
struct json_value *qmp_blockdev_change_medium(struct qmp_request *req, GError **err);
struct json_value *qmp_change(struct qmp_request *req, GError **err);
struct json_value *qmp_query_block(struct qmp_request *req, GError **err);
struct json_value *qmp_query_blockstats(struct qmp_request *req, GError **err);
/* HMP `info block` and `info blockstats`, as QEMU prints them (xl qemu-monitor-command). */
void hmp_info_block(struct monitor *mon, GString *out);
void hmp_info_blockstats(struct monitor *mon, GString *out);

/* ---- display (qmp-display.c) ---- */
struct json_value *qmp_screendump(struct qmp_request *req, GError **err);
void hmp_screendump(struct monitor *mon, gchar **words, GString *out);

/* ---- VNC (qmp-vnc.c) ---- */
extern const struct qmp_param qmp_change_vnc_password_params[];
extern const struct qmp_param qmp_set_password_params[];
extern const struct qmp_param qmp_expire_password_params[];
struct json_value *qmp_query_vnc(struct qmp_request *req, GError **err);
struct json_value *qmp_change_vnc_password(struct qmp_request *req, GError **err);
struct json_value *qmp_set_password(struct qmp_request *req, GError **err);
struct json_value *qmp_expire_password(struct qmp_request *req, GError **err);

/* ---- input (qmp-input.c) ---- */
struct json_value *qmp_input_send_event(struct qmp_request *req, GError **err);
struct json_value *qmp_send_key(struct qmp_request *req, GError **err);
/* HMP `sendkey KEYS [HOLD_MS]` (words[0] is "sendkey"). */
void hmp_sendkey(struct monitor *mon, gchar **words, GString *out);

/* ---- fd sets (fdset.c) ---- */
struct fdsets *fdsets_new(void);
void fdsets_free(struct fdsets *f);
/* add-fd: takes fd on success; *out_id is the set it went into. */
bool fdsets_add(struct fdsets *f, int fd, bool has_id, int64_t id, const char *opaque,
                int64_t *out_id, GError **err);
/* remove-fd: closes one fd of a set, or the whole set. */
bool fdsets_remove(struct fdsets *f, int64_t id, bool has_fd, int64_t fd, GError **err);
/* query-fdsets' reply. */
struct json_value *fdsets_query(const struct fdsets *f);
/*
 * Opens a file a command names: "/dev/fdset/N" is a duplicate of set N's fd with the access
 * mode of flags (O_RDONLY/O_WRONLY/O_RDWR); anything else is open(name, flags, 0660).
 * Returns a close-on-exec fd, or -1 with *err set.
 */
int fdsets_open(const struct fdsets *f, const char *name, int flags, GError **err);

/* The greeting's and query-version's {"qemu": {...}, "package": ...}. */
struct json_value *qmp_version_info(void);

#endif
