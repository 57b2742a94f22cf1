/*
 * File descriptor sets: files a QMP client hands over with add-fd (the fd travels with the
 * command, SCM_RIGHTS), named afterwards as "/dev/fdset/N". libxl saves a restricted device
 * model's state this way: it opens the file itself, add-fd, then xen-save-devices-state with
 * filename "/dev/fdset/N" (reference §5.2, §5.3).
 *
 * As in QEMU: a set holds one or more fds; opening "/dev/fdset/N" duplicates the first fd of
 * set N whose access mode (O_RDONLY, O_WRONLY, O_RDWR) is the one asked for; remove-fd closes.
 * The sets belong to the process (every monitor of a monitor_set shares them).
 */
#include "qmp-internal.h"

#include <fcntl.h>
#include <unistd.h>
#include "xendm/common.h"

#define FDSET_PREFIX "/dev/fdset/"
/* fds held over all sets; add-fd beyond it is refused (libxl holds one at a time). */
#define FDSETS_MAX_FDS 64

struct fdset_fd {
    int fd;
    char *opaque; /* may be NULL */
};

struct fdset {
    int64_t id;
    GArray *fds; /* struct fdset_fd */
};

struct fdsets {
    GPtrArray *sets; /* struct fdset *, by increasing id */
    unsigned nr_fds;
};

static void fdset_fd_clear(gpointer p)
{
    struct fdset_fd *f = p;

    close(f->fd);
    g_free(f->opaque);
}

static void fdset_free(gpointer p)
{
    struct fdset *set = p;

    g_array_free(set->fds, TRUE);
    g_free(set);
}

struct fdsets *fdsets_new(void)
{
    struct fdsets *f = g_new0(struct fdsets, 1);

    f->sets = g_ptr_array_new_with_free_func(fdset_free);
    return f;
}

void fdsets_free(struct fdsets *f)
{
    if (!f)
        return;
    g_ptr_array_unref(f->sets);
    g_free(f);
}

static struct fdset *fdset_find(const struct fdsets *f, int64_t id, guint *index)
{
    for (guint i = 0; i < f->sets->len; i++) {
        struct fdset *set = g_ptr_array_index(f->sets, i);
        if (set->id == id) {
            if (index)
                *index = i;
            return set;
        }
    }
    return NULL;
}

/* The lowest id no set uses (QEMU's choice when add-fd names none). */
static int64_t fdset_free_id(const struct fdsets *f)
{
    int64_t id = 0;

    while (fdset_find(f, id, NULL))
        id++;
    return id;
}

static struct fdset *fdset_create(struct fdsets *f, int64_t id)
{
    struct fdset *set = g_new0(struct fdset, 1);
    guint pos = 0;

    set->id = id;
    set->fds = g_array_new(FALSE, FALSE, sizeof(struct fdset_fd));
    g_array_set_clear_func(set->fds, fdset_fd_clear);
    while (pos < f->sets->len && ((struct fdset *)g_ptr_array_index(f->sets, pos))->id < id)
        pos++;
    g_ptr_array_insert(f->sets, (gint)pos, set);
    return set;
}

bool fdsets_add(struct fdsets *f, int fd, bool has_id, int64_t id, const char *opaque,
                int64_t *out_id, GError **err)
{
    struct fdset *set;
    struct fdset_fd entry;

    if (has_id && id < 0) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC,
                    "Parameter 'fdset-id' expects a non-negative value");
        return false;
    }
    if (f->nr_fds >= FDSETS_MAX_FDS) {
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Too many file descriptors in fd sets");
        return false;
    }
    if (!has_id)
        id = fdset_free_id(f);
    set = fdset_find(f, id, NULL);
    if (!set)
        set = fdset_create(f, id);
    entry.fd = fd;
    entry.opaque = g_strdup(opaque);
    g_array_append_val(set->fds, entry);
    f->nr_fds++;
    *out_id = id;
    return true;
}

bool fdsets_remove(struct fdsets *f, int64_t id, bool has_fd, int64_t fd, GError **err)
{
    guint index;
    struct fdset *set = fdset_find(f, id, &index);

    if (set && !has_fd) {
        f->nr_fds -= set->fds->len;
        g_ptr_array_remove_index(f->sets, index);
        return true;
    }
    for (guint i = 0; set && i < set->fds->len; i++) {
        if (g_array_index(set->fds, struct fdset_fd, i).fd == fd) {
            g_array_remove_index(set->fds, i);
            f->nr_fds--;
            if (set->fds->len == 0)
                g_ptr_array_remove_index(f->sets, index);
            return true;
        }
    }
    if (has_fd)
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC,
                    "File descriptor named 'fdset-id:%" G_GINT64_FORMAT ", fd:%" G_GINT64_FORMAT
                    "' not found", id, fd);
    else
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC,
                    "File descriptor named 'fdset-id:%" G_GINT64_FORMAT "' not found", id);
    return false;
}

struct json_value *fdsets_query(const struct fdsets *f)
{
    struct json_value *list = json_array_new();

    for (guint i = 0; i < f->sets->len; i++) {
        const struct fdset *set = g_ptr_array_index(f->sets, i);
        struct json_value *info = json_object_new();
        struct json_value *fds = json_array_new();
        for (guint j = 0; j < set->fds->len; j++) {
            const struct fdset_fd *e = &g_array_index(set->fds, struct fdset_fd, j);
            struct json_value *fdinfo = json_object_new();
            json_object_set(fdinfo, "fd", json_int_new(e->fd));
            if (e->opaque)
                json_object_set(fdinfo, "opaque", json_string_new(e->opaque));
            json_array_append(fds, fdinfo);
        }
        json_object_set(info, "fdset-id", json_int_new(set->id));
        json_object_set(info, "fds", fds);
        json_array_append(list, info);
    }
    return list;
}

/* "/dev/fdset/N" with N a plain decimal number; false for any other name. */
static bool fdset_parse_name(const char *name, int64_t *id)
{
    const char *digits = name + strlen(FDSET_PREFIX);
    char *end;

    if (!g_str_has_prefix(name, FDSET_PREFIX) || !g_ascii_isdigit(*digits))
        return false;
    errno = 0;
    *id = g_ascii_strtoll(digits, &end, 10);
    return *end == '\0' && errno == 0;
}

static int fdsets_dup(const struct fdsets *f, int64_t id, int accmode, GError **err)
{
    const struct fdset *set = fdset_find(f, id, NULL);

    for (guint i = 0; set && i < set->fds->len; i++) {
        int fd = g_array_index(set->fds, struct fdset_fd, i).fd;
        int flags = fcntl(fd, F_GETFL);
        if (flags >= 0 && (flags & O_ACCMODE) == accmode) {
            int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
            if (dup_fd < 0)
                break;
            return dup_fd;
        }
    }
    g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC,
                "Could not open '" FDSET_PREFIX "%" G_GINT64_FORMAT "': %s", id,
                !set ? g_strerror(ENOENT) : g_strerror(errno ? errno : EACCES));
    return -1;
}

int fdsets_open(const struct fdsets *f, const char *name, int flags, GError **err)
{
    int64_t id;
    int fd;

    if (g_str_has_prefix(name, FDSET_PREFIX)) {
        if (!fdset_parse_name(name, &id)) {
            g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Could not open '%.200s': %s",
                        name, g_strerror(ENOENT));
            return -1;
        }
        errno = 0;
        return fdsets_dup(f, id, flags & O_ACCMODE, err);
    }
    fd = open(name, flags | O_CLOEXEC, 0660);
    if (fd < 0)
        g_set_error(err, QMP_ERROR, QMP_ERROR_GENERIC, "Could not open '%.200s': %s", name,
                    g_strerror(errno));
    return fd;
}
