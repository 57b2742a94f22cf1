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

/* Opens FILENAME as QEMU does (/dev/fdset/N after add-fd) and writes the console to it. */
static bool screendump_to_file(struct monitor *mon, const char *filename,
                               enum display_dump_format format, struct display_console *con,
                               GError **err)
{
    GError *local = NULL;
    bool ok;
    int fd;

    fd = fdsets_open(mon->fdsets, filename, O_WRONLY | O_CREAT | O_TRUNC, &local);
    if (fd < 0) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "failed to open file '%.200s': %s",
                    filename, local->message);
        g_error_free(local);
        return false;
    }
    ok = display_console_screendump(con, fd, format, &local);
    close(fd);
    if (!ok) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "%s", local->message);
        g_error_free(local);
    }
    return ok;
}

struct json_value *qmp_screendump(struct qmp_request *req, GError **err)
{
    const char *filename = json_get_string(json_object_get(req->args, "filename"));
    enum display_dump_format format;
    struct display_console *con;

    if (!screendump_format(json_object_get(req->args, "format"), &format, err)) {
        return NULL;
    }
    con = screendump_console(json_object_get(req->args, "device"),
                             json_object_get(req->args, "head"), err);
    if (!con || !screendump_to_file(req->mon, filename, format, con, err)) {
        return NULL;
    }
    return json_object_new();
}

/*
 * HMP, as QEMU 7.2 spells it: "screendump FILENAME [-f ppm|png] [DEVICE [HEAD]]" (what
 * `xl qemu-monitor-command DOMAIN "screendump /tmp/s.ppm"` sends). Errors go to the output,
 * as the human monitor reports them.
 */
void hmp_screendump(struct monitor *mon, gchar **words, GString *out)
{
    const char *positional[3] = {NULL, NULL, NULL};
    struct json_value *format_arg = NULL, *device_arg = NULL, *head_arg = NULL;
    enum display_dump_format format = DISPLAY_DUMP_PPM;
    struct display_console *con = NULL;
    unsigned n = 0;
    GError *err = NULL;

    for (guint i = 1; words[i]; i++) {
        if (strcmp(words[i], "-f") == 0 && words[i + 1]) {
            json_free(format_arg);
            format_arg = json_string_new(words[++i]);
        } else if (n < G_N_ELEMENTS(positional)) {
            positional[n++] = words[i];
        } else {
            g_set_error(&err, QMP_ERROR, QMP_ERROR_GENERIC, "screendump: too many arguments");
            goto out;
        }
    }
    if (positional[0] == NULL) {
        g_set_error(&err, QMP_ERROR, QMP_ERROR_GENERIC,
                    "Parameter 'filename' is missing (screendump filename [-f format] "
                    "[device [head]])");
        goto out;
    }
    if (positional[1]) {
        device_arg = json_string_new(positional[1]);
    }
    if (positional[2]) {
        head_arg = json_int_new(g_ascii_strtoll(positional[2], NULL, 10));
    }
    if (!screendump_format(format_arg, &format, &err)) {
        goto out;
    }
    con = screendump_console(device_arg, head_arg, &err);
    if (con) {
        screendump_to_file(mon, positional[0], format, con, &err);
    }
out:
    if (err) {
        g_string_append_printf(out, "Error: %s\n", err->message);
        g_error_free(err);
    }
    json_free(format_arg);
    json_free(device_arg);
    json_free(head_arg);
}
