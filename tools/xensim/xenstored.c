/*
 * An in-memory xenstored speaking xenstored's own wire protocol
 * (xen/io/xs_wire.h) on a Unix socket, so that Xen's unmodified libxenstore
 * (which honours $XENSTORED_PATH) is the client. Every connection is dom0.
 *
 * Transactions work on a private copy of the tree and commit only if nothing
 * changed the store since they started (EAGAIN otherwise): simple and
 * consistent, if more pessimistic than xenstored's per-node generations.
 */
#include <errno.h>
#include <glib-unix.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <xen/io/xs_wire.h>

#include "xensim.h"

#define PATH_MAX_LEN 3072u
#define MAX_TRANSACTIONS 16u
#define MAX_WATCHES 128u
#define DOM0_PREFIX "/local/domain/0/"

struct xs_perm {
    uint32_t domid;
    char perm; /* 'n', 'r', 'w', 'b' */
};

struct xs_node {
    char *name;
    GByteArray *value;
    GArray *perms;      /* struct xs_perm; [0] is the owner and the default */
    GPtrArray *children; /* struct xs_node *, insertion order */
};

struct xs_watch {
    char *path;  /* absolute, or "@..." */
    char *token;
    bool relative;
};

struct xs_tx {
    uint32_t id;
    uint64_t start_gen;
    struct xs_node *root;
    GPtrArray *changed; /* char *: absolute paths written or removed (for watches) */
    GPtrArray *removed; /* parallel flags: removed subtree or not */
};

struct xs_conn {
    struct xsim_xenstored *xsd;
    int fd;
    guint in_watch, out_watch;
    GByteArray *in;
    GByteArray *out;
    GPtrArray *watches; /* struct xs_watch * */
    GPtrArray *txs;     /* struct xs_tx * */
    uint32_t domid;
};

struct internal_watch {
    char *path;
    xsim_xs_change_fn fn;
    void *opaque;
};

struct xsim_xenstored {
    struct xsim *xs;
    int listen_fd;
    guint listen_watch;
    char *path;
    struct xs_node *root;
    uint64_t gen;
    uint32_t next_tx;
    GPtrArray *conns;
    GPtrArray *internal_watches;
};

/* ------------------------------------------------------------------ the tree */

static struct xs_node *node_new(const char *name, GArray *perms)
{
    struct xs_node *n = g_new0(struct xs_node, 1);
    n->name = g_strdup(name);
    n->value = g_byte_array_new();
    n->perms = g_array_new(FALSE, FALSE, sizeof(struct xs_perm));
    if (perms) {
        g_array_append_vals(n->perms, perms->data, perms->len);
    } else {
        struct xs_perm owner = { 0, 'n' };
        g_array_append_val(n->perms, owner);
    }
    n->children = g_ptr_array_new();
    return n;
}

static void node_free(struct xs_node *n)
{
    if (!n)
        return;
    for (guint i = 0; i < n->children->len; i++)
        node_free(g_ptr_array_index(n->children, i));
    g_ptr_array_free(n->children, TRUE);
    g_byte_array_free(n->value, TRUE);
    g_array_free(n->perms, TRUE);
    g_free(n->name);
    g_free(n);
}

static struct xs_node *node_copy(const struct xs_node *n)
{
    struct xs_node *c = node_new(n->name, n->perms);
    g_byte_array_append(c->value, n->value->data, n->value->len);
    for (guint i = 0; i < n->children->len; i++)
        g_ptr_array_add(c->children, node_copy(g_ptr_array_index(n->children, i)));
    return c;
}

static struct xs_node *child_get(struct xs_node *n, const char *name, guint *index)
{
    for (guint i = 0; i < n->children->len; i++) {
        struct xs_node *c = g_ptr_array_index(n->children, i);
        if (strcmp(c->name, name) == 0) {
            if (index)
                *index = i;
            return c;
        }
    }
    return NULL;
}

static struct xs_node *tree_lookup(struct xs_node *root, const char *path)
{
    if (strcmp(path, "/") == 0)
        return root;
    g_auto(GStrv) parts = g_strsplit(path + 1, "/", -1);
    struct xs_node *n = root;
    for (unsigned i = 0; parts[i] && n; i++)
        n = child_get(n, parts[i], NULL);
    return n;
}

/* Creates the node and missing parents; new nodes inherit their parent's permissions. */
static struct xs_node *tree_create(struct xs_node *root, const char *path)
{
    if (strcmp(path, "/") == 0)
        return root;
    g_auto(GStrv) parts = g_strsplit(path + 1, "/", -1);
    struct xs_node *n = root;
    for (unsigned i = 0; parts[i]; i++) {
        struct xs_node *c = child_get(n, parts[i], NULL);
        if (!c) {
            c = node_new(parts[i], n->perms);
            g_ptr_array_add(n->children, c);
        }
        n = c;
    }
    return n;
}

static int tree_remove(struct xs_node *root, const char *path)
{
    if (strcmp(path, "/") == 0)
        return -EINVAL;
    g_autofree char *parent_path = g_path_get_dirname(path);
    g_autofree char *base = g_path_get_basename(path);
    struct xs_node *parent = tree_lookup(root, parent_path);
    if (!parent)
        return -ENOENT;
    guint index;
    struct xs_node *n = child_get(parent, base, &index);
    if (!n)
        return 0; /* xenstored: removing an absent child of an existing node succeeds */
    g_ptr_array_remove_index(parent->children, index);
    node_free(n);
    return 0;
}

/* ------------------------------------------------------------------ paths and permissions */

static bool path_valid(const char *p)
{
    size_t len = strlen(p);
    if (len == 0 || len > PATH_MAX_LEN)
        return false;
    if (strcmp(p, "/") == 0)
        return true;
    if (p[0] != '/' || p[len - 1] == '/' || strstr(p, "//"))
        return false;
    for (const char *c = p; *c; c++) {
        if (!g_ascii_isalnum(*c) && !strchr("-/_@", *c))
            return false;
    }
    return true;
}

/* Relative paths are relative to /local/domain/<caller>; returns NULL if invalid. */
static char *canonical_path(struct xs_conn *c, const char *p, bool *relative)
{
    char *abs = p[0] == '/' ? g_strdup(p) : g_strdup_printf("/local/domain/%u/%s", c->domid, p);
    if (relative)
        *relative = p[0] != '/';
    if (!path_valid(abs)) {
        g_free(abs);
        return NULL;
    }
    return abs;
}

static bool perm_allows(struct xs_node *n, uint32_t domid, char want)
{
    if (domid == 0)
        return true;
    struct xs_perm *p = &g_array_index(n->perms, struct xs_perm, 0);
    if (p->domid == domid)
        return true; /* the owner may do everything */
    char have = p->perm;
    for (guint i = 1; i < n->perms->len; i++) {
        struct xs_perm *e = &g_array_index(n->perms, struct xs_perm, i);
        if (e->domid == domid)
            have = e->perm;
    }
    return have == 'b' || have == want;
}

static GArray *perms_parse(const char *const *texts, unsigned n)
{
    if (n == 0)
        return NULL;
    GArray *perms = g_array_new(FALSE, FALSE, sizeof(struct xs_perm));
    for (unsigned i = 0; i < n; i++) {
        const char *t = texts[i];
        char *end;
        if (!t[0] || !strchr("nrwb", t[0]) || !g_ascii_isdigit(t[1]))
            goto bad;
        unsigned long domid = strtoul(t + 1, &end, 10);
        if (*end || domid > 0x7ff0)
            goto bad;
        struct xs_perm p = { (uint32_t)domid, t[0] };
        g_array_append_val(perms, p);
    }
    return perms;
bad:
    g_array_free(perms, TRUE);
    return NULL;
}

/* ------------------------------------------------------------------ watches */

static bool is_at_or_below(const char *path, const char *top)
{
    size_t n = strlen(top);
    if (strcmp(top, "/") == 0)
        return path[0] == '/';
    return strncmp(path, top, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static void conn_send(struct xs_conn *c, uint32_t type, uint32_t req_id, uint32_t tx_id,
                      const void *payload, uint32_t len);

static void send_watch_event(struct xs_conn *c, struct xs_watch *w, const char *abs_path)
{
    const char *shown = abs_path;
    g_autofree char *prefix = g_strdup_printf("/local/domain/%u/", c->domid);
    if (w->relative && g_str_has_prefix(abs_path, prefix))
        shown = abs_path + strlen(prefix);
    GByteArray *b = g_byte_array_new();
    g_byte_array_append(b, (const guint8 *)shown, (guint)strlen(shown) + 1);
    g_byte_array_append(b, (const guint8 *)w->token, (guint)strlen(w->token) + 1);
    conn_send(c, XS_WATCH_EVENT, 0, 0, b->data, b->len);
    g_byte_array_free(b, TRUE);
}

/* A change at `path`: watches at or above fire with path; with `removed`, those below too. */
static void fire_watches(struct xsim_xenstored *xsd, const char *path, bool removed)
{
    for (guint i = 0; i < xsd->conns->len; i++) {
        struct xs_conn *c = g_ptr_array_index(xsd->conns, i);
        for (guint j = 0; j < c->watches->len; j++) {
            struct xs_watch *w = g_ptr_array_index(c->watches, j);
            if (w->path[0] == '@')
                continue;
            if (is_at_or_below(path, w->path))
                send_watch_event(c, w, path);
            else if (removed && is_at_or_below(w->path, path))
                send_watch_event(c, w, w->path);
        }
    }
    for (guint i = 0; i < xsd->internal_watches->len; i++) {
        struct internal_watch *w = g_ptr_array_index(xsd->internal_watches, i);
        if (is_at_or_below(path, w->path) || (removed && is_at_or_below(w->path, path)))
            w->fn(xsd->xs, path, w->opaque);
    }
}

static void watch_free(gpointer p)
{
    struct xs_watch *w = p;
    g_free(w->path);
    g_free(w->token);
    g_free(w);
}

/* ------------------------------------------------------------------ store operations */

static void note_change(struct xsim_xenstored *xsd, struct xs_tx *tx, const char *path,
                        bool removed)
{
    if (tx) {
        g_ptr_array_add(tx->changed, g_strdup(path));
        g_ptr_array_add(tx->removed, GINT_TO_POINTER(removed));
        return;
    }
    xsd->gen++;
    fire_watches(xsd, path, removed);
}

static int store_write(struct xsim_xenstored *xsd, struct xs_tx *tx, uint32_t domid,
                       const char *path, const void *value, size_t len)
{
    struct xs_node *root = tx ? tx->root : xsd->root;
    struct xs_node *n = tree_lookup(root, path);
    if (n && !perm_allows(n, domid, 'w'))
        return -EACCES;
    if (!n)
        n = tree_create(root, path);
    g_byte_array_set_size(n->value, 0);
    g_byte_array_append(n->value, value, (guint)len);
    note_change(xsd, tx, path, false);
    return 0;
}

static int store_mkdir(struct xsim_xenstored *xsd, struct xs_tx *tx, const char *path)
{
    struct xs_node *root = tx ? tx->root : xsd->root;
    if (tree_lookup(root, path))
        return 0;
    tree_create(root, path);
    note_change(xsd, tx, path, false);
    return 0;
}

static int store_rm(struct xsim_xenstored *xsd, struct xs_tx *tx, uint32_t domid,
                    const char *path)
{
    struct xs_node *root = tx ? tx->root : xsd->root;
    struct xs_node *n = tree_lookup(root, path);
    if (n && !perm_allows(n, domid, 'w'))
        return -EACCES;
    bool existed = n != NULL;
    int rc = tree_remove(root, path);
    if (rc == 0 && existed)
        note_change(xsd, tx, path, true);
    return rc;
}

/* ------------------------------------------------------------------ the connection */

static gboolean on_writable(gint fd, GIOCondition cond, gpointer opaque);

static void conn_flush(struct xs_conn *c)
{
    while (c->out->len) {
        ssize_t n = send(c->fd, c->out->data, c->out->len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        g_byte_array_remove_range(c->out, 0, (guint)n);
    }
    if (c->out->len && !c->out_watch)
        c->out_watch = g_unix_fd_add(c->fd, G_IO_OUT, on_writable, c);
}

static gboolean on_writable(gint fd, GIOCondition cond, gpointer opaque)
{
    struct xs_conn *c = opaque;
    c->out_watch = 0;
    conn_flush(c);
    return G_SOURCE_REMOVE;
}

static void conn_send(struct xs_conn *c, uint32_t type, uint32_t req_id, uint32_t tx_id,
                      const void *payload, uint32_t len)
{
    struct xsd_sockmsg h = { .type = type, .req_id = req_id, .tx_id = tx_id, .len = len };
    g_byte_array_append(c->out, (const guint8 *)&h, sizeof(h));
    if (len)
        g_byte_array_append(c->out, payload, len);
    conn_flush(c);
}

static const char *errno_name(int err)
{
    for (size_t i = 0; i < G_N_ELEMENTS(xsd_errors); i++) {
        if (xsd_errors[i].errnum == err)
            return xsd_errors[i].errstring;
    }
    return "EIO";
}

static void send_error(struct xs_conn *c, const struct xsd_sockmsg *req, int err)
{
    const char *name = errno_name(err);
    conn_send(c, XS_ERROR, req->req_id, req->tx_id, name, (uint32_t)strlen(name) + 1);
}

static void send_ok(struct xs_conn *c, const struct xsd_sockmsg *req)
{
    conn_send(c, req->type, req->req_id, req->tx_id, "OK", 3);
}

static void send_string(struct xs_conn *c, const struct xsd_sockmsg *req, const char *s)
{
    conn_send(c, req->type, req->req_id, req->tx_id, s, (uint32_t)strlen(s) + 1);
}

static struct xs_tx *find_tx(struct xs_conn *c, uint32_t id, guint *index)
{
    for (guint i = 0; i < c->txs->len; i++) {
        struct xs_tx *tx = g_ptr_array_index(c->txs, i);
        if (tx->id == id) {
            if (index)
                *index = i;
            return tx;
        }
    }
    return NULL;
}

static void tx_free(struct xs_tx *tx)
{
    node_free(tx->root);
    g_ptr_array_free(tx->changed, TRUE);
    g_ptr_array_free(tx->removed, TRUE);
    g_free(tx);
}

static void conn_free(struct xs_conn *c)
{
    if (c->in_watch)
        g_source_remove(c->in_watch);
    if (c->out_watch)
        g_source_remove(c->out_watch);
    close(c->fd);
    g_byte_array_free(c->in, TRUE);
    g_byte_array_free(c->out, TRUE);
    g_ptr_array_free(c->watches, TRUE);
    for (guint i = 0; i < c->txs->len; i++)
        tx_free(g_ptr_array_index(c->txs, i));
    g_ptr_array_free(c->txs, TRUE);
    g_ptr_array_remove_fast(c->xsd->conns, c);
    g_free(c);
}

/* ------------------------------------------------------------------ requests */

struct xs_request {
    struct xsd_sockmsg hdr;
    const char *payload;
    const char *args[8]; /* NUL-separated strings of the payload */
    unsigned nr_args;
    struct xs_tx *tx;
};

static void split_args(struct xs_request *r)
{
    const char *p = r->payload, *end = r->payload + r->hdr.len;
    r->nr_args = 0;
    while (p < end && r->nr_args < G_N_ELEMENTS(r->args)) {
        const char *nul = memchr(p, '\0', (size_t)(end - p));
        if (!nul)
            break;
        r->args[r->nr_args++] = p;
        p = nul + 1;
    }
}

static void do_read(struct xs_conn *c, struct xs_request *r, const char *path)
{
    struct xs_node *n = tree_lookup(r->tx ? r->tx->root : c->xsd->root, path);
    if (!n)
        return send_error(c, &r->hdr, ENOENT);
    if (!perm_allows(n, c->domid, 'r'))
        return send_error(c, &r->hdr, EACCES);
    conn_send(c, r->hdr.type, r->hdr.req_id, r->hdr.tx_id, n->value->data, n->value->len);
}

static GByteArray *children_list(struct xs_node *n)
{
    GByteArray *b = g_byte_array_new();
    for (guint i = 0; i < n->children->len; i++) {
        struct xs_node *ch = g_ptr_array_index(n->children, i);
        g_byte_array_append(b, (const guint8 *)ch->name, (guint)strlen(ch->name) + 1);
    }
    return b;
}

static void do_directory(struct xs_conn *c, struct xs_request *r, const char *path, bool part)
{
    struct xs_node *n = tree_lookup(r->tx ? r->tx->root : c->xsd->root, path);
    if (!n)
        return send_error(c, &r->hdr, ENOENT);
    if (!perm_allows(n, c->domid, 'r'))
        return send_error(c, &r->hdr, EACCES);
    g_autoptr(GByteArray) list = children_list(n);
    if (!part) {
        if (list->len > XENSTORE_PAYLOAD_MAX)
            return send_error(c, &r->hdr, E2BIG);
        return conn_send(c, r->hdr.type, r->hdr.req_id, r->hdr.tx_id, list->data, list->len);
    }
    if (r->nr_args < 2)
        return send_error(c, &r->hdr, EINVAL);
    char *end;
    unsigned long off = strtoul(r->args[1], &end, 10);
    if (*end || off > list->len)
        return send_error(c, &r->hdr, EINVAL);
    /* Reply: generation, then whole names from `off`; a final empty name marks the end. */
    g_autoptr(GByteArray) out = g_byte_array_new();
    g_autofree char *gen = g_strdup_printf("%" G_GUINT64_FORMAT, c->xsd->gen);
    g_byte_array_append(out, (const guint8 *)gen, (guint)strlen(gen) + 1);
    size_t pos = off;
    while (pos < list->len) {
        size_t nlen = strlen((const char *)list->data + pos) + 1;
        if (out->len + nlen + 1 > XENSTORE_PAYLOAD_MAX)
            break;
        g_byte_array_append(out, list->data + pos, (guint)nlen);
        pos += nlen;
    }
    if (pos >= list->len)
        g_byte_array_append(out, (const guint8 *)"", 1);
    conn_send(c, r->hdr.type, r->hdr.req_id, r->hdr.tx_id, out->data, out->len);
}

static void do_get_perms(struct xs_conn *c, struct xs_request *r, const char *path)
{
    struct xs_node *n = tree_lookup(r->tx ? r->tx->root : c->xsd->root, path);
    if (!n)
        return send_error(c, &r->hdr, ENOENT);
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < n->perms->len; i++) {
        struct xs_perm *p = &g_array_index(n->perms, struct xs_perm, i);
        g_string_append_printf(s, "%c%u", p->perm, p->domid);
        g_string_append_c(s, '\0');
    }
    conn_send(c, r->hdr.type, r->hdr.req_id, r->hdr.tx_id, s->str, (uint32_t)s->len);
    g_string_free(s, TRUE);
}

static void do_set_perms(struct xs_conn *c, struct xs_request *r, const char *path)
{
    struct xs_node *n = tree_lookup(r->tx ? r->tx->root : c->xsd->root, path);
    if (!n)
        return send_error(c, &r->hdr, ENOENT);
    if (!perm_allows(n, c->domid, 'w'))
        return send_error(c, &r->hdr, EACCES);
    GArray *perms = perms_parse(r->args + 1, r->nr_args - 1);
    if (!perms)
        return send_error(c, &r->hdr, EINVAL);
    g_array_free(n->perms, TRUE);
    n->perms = perms;
    note_change(c->xsd, r->tx, path, false);
    send_ok(c, &r->hdr);
}

static void do_watch(struct xs_conn *c, struct xs_request *r)
{
    if (r->nr_args < 2)
        return send_error(c, &r->hdr, EINVAL);
    bool relative = false;
    char *path = r->args[0][0] == '@' ? g_strdup(r->args[0])
                                      : canonical_path(c, r->args[0], &relative);
    if (!path)
        return send_error(c, &r->hdr, EINVAL);
    for (guint i = 0; i < c->watches->len; i++) {
        struct xs_watch *w = g_ptr_array_index(c->watches, i);
        if (strcmp(w->path, path) == 0 && strcmp(w->token, r->args[1]) == 0) {
            g_free(path);
            return send_error(c, &r->hdr, EEXIST);
        }
    }
    if (c->watches->len >= MAX_WATCHES) {
        g_free(path);
        return send_error(c, &r->hdr, E2BIG);
    }
    struct xs_watch *w = g_new0(struct xs_watch, 1);
    w->path = path;
    w->token = g_strdup(r->args[1]);
    w->relative = relative;
    g_ptr_array_add(c->watches, w);
    send_ok(c, &r->hdr);
    send_watch_event(c, w, w->path); /* a watch fires once when it is registered */
}

static void do_unwatch(struct xs_conn *c, struct xs_request *r)
{
    if (r->nr_args < 2)
        return send_error(c, &r->hdr, EINVAL);
    g_autofree char *path = r->args[0][0] == '@' ? g_strdup(r->args[0])
                                                 : canonical_path(c, r->args[0], NULL);
    for (guint i = 0; path && i < c->watches->len; i++) {
        struct xs_watch *w = g_ptr_array_index(c->watches, i);
        if (strcmp(w->path, path) == 0 && strcmp(w->token, r->args[1]) == 0) {
            g_ptr_array_remove_index(c->watches, i);
            return send_ok(c, &r->hdr);
        }
    }
    send_error(c, &r->hdr, ENOENT);
}

static void do_tx_start(struct xs_conn *c, struct xs_request *r)
{
    if (r->hdr.tx_id)
        return send_error(c, &r->hdr, EBUSY);
    if (c->txs->len >= MAX_TRANSACTIONS)
        return send_error(c, &r->hdr, ENOSPC);
    struct xs_tx *tx = g_new0(struct xs_tx, 1);
    do {
        tx->id = ++c->xsd->next_tx;
    } while (tx->id == 0);
    tx->start_gen = c->xsd->gen;
    tx->root = node_copy(c->xsd->root);
    tx->changed = g_ptr_array_new_with_free_func(g_free);
    tx->removed = g_ptr_array_new();
    g_ptr_array_add(c->txs, tx);
    g_autofree char *id = g_strdup_printf("%u", tx->id);
    conn_send(c, r->hdr.type, r->hdr.req_id, 0, id, (uint32_t)strlen(id) + 1);
}

static void do_tx_end(struct xs_conn *c, struct xs_request *r)
{
    guint index;
    struct xs_tx *tx = find_tx(c, r->hdr.tx_id, &index);
    if (!tx)
        return send_error(c, &r->hdr, ENOENT);
    if (r->nr_args < 1 || (strcmp(r->args[0], "T") && strcmp(r->args[0], "F")))
        return send_error(c, &r->hdr, EINVAL);
    g_ptr_array_remove_index(c->txs, index);
    struct xsim_xenstored *xsd = c->xsd;
    if (strcmp(r->args[0], "T") == 0) {
        if (xsd->gen != tx->start_gen) {
            tx_free(tx);
            return send_error(c, &r->hdr, EAGAIN);
        }
        if (tx->changed->len) {
            struct xs_node *old = xsd->root;
            xsd->root = tx->root;
            tx->root = old;
            xsd->gen++;
            for (guint i = 0; i < tx->changed->len; i++)
                fire_watches(xsd, g_ptr_array_index(tx->changed, i),
                             GPOINTER_TO_INT(g_ptr_array_index(tx->removed, i)));
        }
    }
    tx_free(tx);
    send_ok(c, &r->hdr);
}

/* Requests that name one path in their first argument. */
static void do_path_op(struct xs_conn *c, struct xs_request *r)
{
    if (r->nr_args < 1)
        return send_error(c, &r->hdr, EINVAL);
    g_autofree char *path = canonical_path(c, r->args[0], NULL);
    if (!path)
        return send_error(c, &r->hdr, EINVAL);
    int rc = 0;
    switch (r->hdr.type) {
    case XS_READ:
        return do_read(c, r, path);
    case XS_DIRECTORY:
        return do_directory(c, r, path, false);
    case XS_DIRECTORY_PART:
        return do_directory(c, r, path, true);
    case XS_GET_PERMS:
        return do_get_perms(c, r, path);
    case XS_SET_PERMS:
        return do_set_perms(c, r, path);
    case XS_WRITE: {
        size_t plen = strlen(r->args[0]) + 1;
        rc = store_write(c->xsd, r->tx, c->domid, path, r->payload + plen, r->hdr.len - plen);
        break;
    }
    case XS_MKDIR:
        rc = store_mkdir(c->xsd, r->tx, path);
        break;
    case XS_RM:
        rc = store_rm(c->xsd, r->tx, c->domid, path);
        break;
    default:
        rc = -EINVAL;
        break;
    }
    if (rc < 0)
        return send_error(c, &r->hdr, -rc);
    send_ok(c, &r->hdr);
}

static void handle_request(struct xs_conn *c, struct xs_request *r)
{
    split_args(r);
    if (r->hdr.tx_id && r->hdr.type != XS_TRANSACTION_START) {
        r->tx = find_tx(c, r->hdr.tx_id, NULL);
        if (!r->tx)
            return send_error(c, &r->hdr, ENOENT);
    }
    switch (r->hdr.type) {
    case XS_READ: case XS_WRITE: case XS_MKDIR: case XS_RM: case XS_DIRECTORY:
    case XS_DIRECTORY_PART: case XS_GET_PERMS: case XS_SET_PERMS:
        return do_path_op(c, r);
    case XS_WATCH:
        return do_watch(c, r);
    case XS_UNWATCH:
        return do_unwatch(c, r);
    case XS_TRANSACTION_START:
        return do_tx_start(c, r);
    case XS_TRANSACTION_END:
        return do_tx_end(c, r);
    case XS_GET_DOMAIN_PATH: {
        char *end;
        if (r->nr_args < 1 || !g_ascii_isdigit(r->args[0][0]))
            return send_error(c, &r->hdr, EINVAL);
        unsigned long domid = strtoul(r->args[0], &end, 10);
        if (*end || domid > 0xffff)
            return send_error(c, &r->hdr, EINVAL);
        g_autofree char *p = g_strdup_printf("/local/domain/%lu", domid);
        return send_string(c, &r->hdr, p);
    }
    case XS_RESET_WATCHES:
        g_ptr_array_set_size(c->watches, 0);
        return send_ok(c, &r->hdr);
    case XS_IS_DOMAIN_INTRODUCED:
        return send_string(c, &r->hdr, "T");
    case XS_CONTROL: case XS_INTRODUCE: case XS_RELEASE: case XS_RESUME: case XS_SET_TARGET:
        return send_ok(c, &r->hdr); /* toolstack business: accepted and ignored */
    default:
        return send_error(c, &r->hdr, EINVAL);
    }
}

static gboolean on_readable(gint fd, GIOCondition cond, gpointer opaque)
{
    struct xs_conn *c = opaque;
    uint8_t buf[8192];
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return G_SOURCE_CONTINUE;
    if (n <= 0)
        goto close;
    g_byte_array_append(c->in, buf, (guint)n);
    while (c->in->len >= sizeof(struct xsd_sockmsg)) {
        struct xs_request r;
        memset(&r, 0, sizeof(r));
        memcpy(&r.hdr, c->in->data, sizeof(r.hdr));
        if (r.hdr.len > XENSTORE_PAYLOAD_MAX || r.hdr.type == XS_WATCH_EVENT ||
            r.hdr.type == XS_ERROR) {
            xsim_log_limited("xenstored: malformed message (type %u len %u): closing",
                             r.hdr.type, r.hdr.len);
            goto close;
        }
        if (c->in->len < sizeof(r.hdr) + r.hdr.len)
            break;
        /* Copy with a terminating NUL so that string parsing stays inside the buffer. */
        g_autofree char *payload = g_malloc0(r.hdr.len + 1);
        memcpy(payload, c->in->data + sizeof(r.hdr), r.hdr.len);
        g_byte_array_remove_range(c->in, 0, (guint)(sizeof(r.hdr) + r.hdr.len));
        r.payload = payload;
        handle_request(c, &r);
    }
    return G_SOURCE_CONTINUE;
close:
    c->in_watch = 0;
    conn_free(c);
    return G_SOURCE_REMOVE;
}

static gboolean on_accept(gint fd, GIOCondition cond, gpointer opaque)
{
    struct xsim_xenstored *xsd = opaque;
    int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    if (cfd < 0)
        return G_SOURCE_CONTINUE;
    struct xs_conn *c = g_new0(struct xs_conn, 1);
    c->xsd = xsd;
    c->fd = cfd;
    c->in = g_byte_array_new();
    c->out = g_byte_array_new();
    c->watches = g_ptr_array_new_with_free_func(watch_free);
    c->txs = g_ptr_array_new();
    c->in_watch = g_unix_fd_add(cfd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_readable, c);
    g_ptr_array_add(xsd->conns, c);
    return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------ the toolstack's view */

static char *internal_path(const char *path)
{
    char *abs = path[0] == '/' ? g_strdup(path) : g_strconcat(DOM0_PREFIX, path, NULL);
    if (!path_valid(abs)) {
        g_free(abs);
        return NULL;
    }
    return abs;
}

int xsim_xs_write(struct xsim_xenstored *xsd, const char *path, const char *value)
{
    g_autofree char *abs = internal_path(path);
    if (!abs)
        return -EINVAL;
    return store_write(xsd, NULL, 0, abs, value, strlen(value));
}

int xsim_xs_mkdir(struct xsim_xenstored *xsd, const char *path)
{
    g_autofree char *abs = internal_path(path);
    return abs ? store_mkdir(xsd, NULL, abs) : -EINVAL;
}

int xsim_xs_rm(struct xsim_xenstored *xsd, const char *path)
{
    g_autofree char *abs = internal_path(path);
    return abs ? store_rm(xsd, NULL, 0, abs) : -EINVAL;
}

char *xsim_xs_read(struct xsim_xenstored *xsd, const char *path)
{
    g_autofree char *abs = internal_path(path);
    struct xs_node *n = abs ? tree_lookup(xsd->root, abs) : NULL;
    return n ? g_strndup((const char *)n->value->data, n->value->len) : NULL;
}

int xsim_xs_set_perms(struct xsim_xenstored *xsd, const char *path, const char *perms_text)
{
    g_autofree char *abs = internal_path(path);
    struct xs_node *n = abs ? tree_lookup(xsd->root, abs) : NULL;
    if (!n)
        return -ENOENT;
    g_auto(GStrv) parts = g_strsplit(perms_text, " ", -1);
    GArray *perms = perms_parse((const char *const *)parts, g_strv_length(parts));
    if (!perms)
        return -EINVAL;
    g_array_free(n->perms, TRUE);
    n->perms = perms;
    return 0;
}

void xsim_xs_watch_internal(struct xsim_xenstored *xsd, const char *path, xsim_xs_change_fn fn,
                            void *opaque)
{
    struct internal_watch *w = g_new0(struct internal_watch, 1);
    w->path = g_strdup(path);
    w->fn = fn;
    w->opaque = opaque;
    g_ptr_array_add(xsd->internal_watches, w);
}

static void internal_watch_free(gpointer p)
{
    struct internal_watch *w = p;
    g_free(w->path);
    g_free(w);
}

struct xsim_xenstored *xsim_xs_new(struct xsim *xs, const char *socket_path, GError **err)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(socket_path) >= sizeof(addr.sun_path)) {
        g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_NAMETOOLONG, "path too long: %s",
                    socket_path);
        return NULL;
    }
    strcpy(addr.sun_path, socket_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 16) < 0) {
        g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(errno), "%s: %s", socket_path,
                    g_strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    struct xsim_xenstored *xsd = g_new0(struct xsim_xenstored, 1);
    xsd->xs = xs;
    xsd->listen_fd = fd;
    xsd->path = g_strdup(socket_path);
    xsd->root = node_new("", NULL);
    xsd->conns = g_ptr_array_new();
    xsd->internal_watches = g_ptr_array_new_with_free_func(internal_watch_free);
    xsd->listen_watch = g_unix_fd_add(fd, G_IO_IN, on_accept, xsd);
    return xsd;
}

void xsim_xs_free(struct xsim_xenstored *xsd)
{
    if (!xsd)
        return;
    while (xsd->conns->len)
        conn_free(g_ptr_array_index(xsd->conns, 0));
    g_ptr_array_free(xsd->conns, TRUE);
    g_ptr_array_free(xsd->internal_watches, TRUE);
    g_source_remove(xsd->listen_watch);
    close(xsd->listen_fd);
    unlink(xsd->path);
    g_free(xsd->path);
    node_free(xsd->root);
    g_free(xsd);
}
