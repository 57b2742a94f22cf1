/*
 * QMP screendump, as QEMU 7.2 accepts it:
 *   {"execute": "screendump", "arguments": {"filename": F, "device"?: D, "head"?: N,
 *                                           "format"?: "ppm" | "png"}}
 * The file is opened as QEMU opens it (created, truncated; /dev/fdset/N after add-fd), the
 * display refreshed, then written whole. The monitor reaches the display only through
 * include/xendm/display.h.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "qmp-internal.h"
#include "xendm/display.h"

static bool screendump_format(const struct json_value *arg, enum display_dump_format *format,
                              GError **err)
{
    const char *name = arg ? json_get_string(arg) : "ppm";

    if (strcmp(name, "ppm") == 0) {
        *format = DISPLAY_DUMP_PPM;
    } else if (strcmp(name, "png") == 0) {
        *format = DISPLAY_DUMP_PNG;
    } else {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC,
                    "Parameter 'format' does not accept value '%.100s'", name);
        return false;
    }
    return true;
}

static struct display_console *screendump_console(const struct json_value *device,
                                                  const struct json_value *head, GError **err)
{
    struct display_console *con = display_console_first();
    const char *name = device ? json_get_string(device) : NULL;

    if (name && (!con || strcmp(name, display_console_name(con)) != 0)) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Device '%.100s' not found", name);
        return NULL;
    }
    if (!con) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC,
                    "There is no console to take a screendump from.");
        return NULL;
    }
    if (head && json_get_int(head) != 0) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Device '%s' does not have head %lld",
                    display_console_name(con), (long long)json_get_int(head));
        return NULL;
    }
    return con;
}

struct json_value *qmp_screendump(struct qmp_request *req, GError **err)
{
    const char *filename = json_get_string(json_object_get(req->args, "filename"));
    enum display_dump_format format;
    struct display_console *con;
    GError *local = NULL;
    int fd;
    bool ok;

    if (!screendump_format(json_object_get(req->args, "format"), &format, err)) {
        return NULL;
    }
    con = screendump_console(json_object_get(req->args, "device"),
                             json_object_get(req->args, "head"), err);
    if (!con) {
        return NULL;
    }
    fd = fdsets_open(req->mon->fdsets, filename, O_WRONLY | O_CREAT | O_TRUNC, &local);
    if (fd < 0) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "failed to open file '%.200s': %s",
                    filename, local->message);
        g_error_free(local);
        return NULL;
    }
    ok = display_console_screendump(con, fd, format, &local);
    close(fd);
    if (!ok) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "%s", local->message);
        g_error_free(local);
        return NULL;
    }
    return json_object_new();
}
