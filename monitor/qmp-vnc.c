/*
 * The VNC commands of QEMU 7.2's schema, as libxl and administrators use them: query-vnc
 * (libxl reads the port for xenstore's console/vnc-port), change-vnc-password (libxl, when the
 * guest's config has vncpasswd), set_password and expire_password. The server is ui/vnc.c;
 * without it (built without VNC, or -vnc none) query-vnc says enabled: false and the others
 * fail as QEMU's do.
 */
#include "qmp-internal.h"

#include <string.h>
#include "xendm/ui.h"

const struct qmp_param qmp_change_vnc_password_params[] = {
    {"password", QMP_PARAM_STRING, false},
    {.name = NULL},
};

const struct qmp_param qmp_set_password_params[] = {
    {"protocol", QMP_PARAM_STRING, false},
    {"password", QMP_PARAM_STRING, false},
    {"connected", QMP_PARAM_STRING, true},
    {"display", QMP_PARAM_STRING, true},
    {.name = NULL},
};

const struct qmp_param qmp_expire_password_params[] = {
    {"protocol", QMP_PARAM_STRING, false},
    {"time", QMP_PARAM_STRING, false},
    {"display", QMP_PARAM_STRING, true},
    {.name = NULL},
};

static const char *arg_string(struct qmp_request *req, const char *name)
{
    return json_get_string(json_object_get(req->args, name));
}

/* The GError of ui/vnc.c as a QMP GenericError. */
static struct json_value *vnc_result(bool ok, GError *local, GError **err)
{
    if (!ok) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "%s",
                    local ? local->message : "Could not set password");
        g_clear_error(&local);
        return NULL;
    }
    return json_object_new();
}

#ifdef CONFIG_VNC

struct json_value *qmp_query_vnc(struct qmp_request *req, GError **err)
{
    (void)req;
    (void)err;
    return vnc_display_query();
}

static bool vnc_set_password(const char *password, GError **local)
{
    return vnc_display_set_password(password, local);
}

static bool vnc_expire_password(const char *when, GError **local)
{
    return vnc_display_expire_password(when, local);
}

#else

struct json_value *qmp_query_vnc(struct qmp_request *req, GError **err)
{
    struct json_value *info = json_object_new();

    (void)req;
    (void)err;
    json_object_set(info, "enabled", json_bool_new(false));
    return info;
}

static bool vnc_set_password(const char *password, GError **local)
{
    (void)password;
    g_set_error(local, QMP_ERROR, QMP_ERROR_GENERIC, "Could not set password");
    return false;
}

static bool vnc_expire_password(const char *when, GError **local)
{
    (void)when;
    g_set_error(local, QMP_ERROR, QMP_ERROR_GENERIC, "Could not set password expire time.");
    return false;
}

#endif

struct json_value *qmp_change_vnc_password(struct qmp_request *req, GError **err)
{
    GError *local = NULL;
    bool ok = vnc_set_password(arg_string(req, "password"), &local);

    return vnc_result(ok, local, err);
}

/* Only "vnc" here: xendm has no SPICE, and QEMU's enum knows no other protocol. */
static bool protocol_is_vnc(struct qmp_request *req, GError **err)
{
    const char *protocol = arg_string(req, "protocol");

    if (strcmp(protocol, "vnc") == 0) {
        return true;
    }
    if (strcmp(protocol, "spice") == 0) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "SPICE is not available");
    } else {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC,
                    "Parameter 'protocol' does not accept value '%.100s'", protocol);
    }
    return false;
}

struct json_value *qmp_set_password(struct qmp_request *req, GError **err)
{
    const char *connected = arg_string(req, "connected");
    GError *local = NULL;
    bool ok;

    if (!protocol_is_vnc(req, err)) {
        return NULL;
    }
    /* VNC keeps the viewers already connected; QEMU refuses any other choice. */
    if (connected != NULL && strcmp(connected, "keep") != 0) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Invalid parameter 'connected'");
        return NULL;
    }
    ok = vnc_set_password(arg_string(req, "password"), &local);
    return vnc_result(ok, local, err);
}

struct json_value *qmp_expire_password(struct qmp_request *req, GError **err)
{
    GError *local = NULL;
    bool ok;

    if (!protocol_is_vnc(req, err)) {
        return NULL;
    }
    ok = vnc_expire_password(arg_string(req, "time"), &local);
    return vnc_result(ok, local, err);
}
