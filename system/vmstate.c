/*
 * The device state stream (format: include/xendm/vmstate.h).
 *
 * The reader trusts nothing in the stream: every length is checked against what is left
 * before it is used, names are validated, counts and values are checked against the device's
 * own description before a single byte reaches a device.
 */
#include <errno.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xendm/common.h"
#include "xendm/log.h"
#include "xendm/machine.h"
#include "xendm/vmstate.h"

#define VMSTATE_TAG_SECTION 'S'
#define VMSTATE_TAG_END 'E'
#define VMSTATE_HEADER_LEN (VMSTATE_MAGIC_LEN + 4 + 4)
/* A section's fields; more is refused (a device has a few dozen). */
#define VMSTATE_FIELDS_MAX 1024u
/* Sections in one stream; more is refused. */
#define VMSTATE_SECTIONS_MAX 4096u

GQuark vmstate_error_quark(void)
{
    return g_quark_from_static_string("xendm-vmstate-error");
}

static unsigned type_width(enum vmstate_type type)
{
    switch (type) {
    case VMSTATE_TYPE_BOOL:
    case VMSTATE_TYPE_U8:
        return 1;
    case VMSTATE_TYPE_U16:
        return 2;
    case VMSTATE_TYPE_U32:
        return 4;
    case VMSTATE_TYPE_U64:
        return 8;
    }
    return 0;
}

static const char *type_name(unsigned type)
{
    static const char *const names[] = {
        [VMSTATE_TYPE_BOOL] = "bool", [VMSTATE_TYPE_U8] = "u8",   [VMSTATE_TYPE_U16] = "u16",
        [VMSTATE_TYPE_U32] = "u32",   [VMSTATE_TYPE_U64] = "u64",
    };

    return type < G_N_ELEMENTS(names) && names[type] ? names[type] : "unknown";
}

static bool name_is_valid(const char *name, size_t len)
{
    if (len == 0 || len > VMSTATE_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!g_ascii_isalnum(c) && c != '_' && c != '.' && c != '-')
            return false;
    }
    return true;
}

/* ---- little-endian helpers ---- */

static void put_le(GByteArray *out, uint64_t value, unsigned width)
{
    uint8_t bytes[8];

    for (unsigned i = 0; i < width; i++)
        bytes[i] = (uint8_t)(value >> (8 * i));
    g_byte_array_append(out, bytes, width);
}

static uint64_t get_le(const uint8_t *p, unsigned width)
{
    uint64_t value = 0;

    for (unsigned i = 0; i < width; i++)
        value |= (uint64_t)p[i] << (8 * i);
    return value;
}

/* A native element of the device struct, as a u64. */
static uint64_t load_native(const uint8_t *p, enum vmstate_type type)
{
    switch (type) {
    case VMSTATE_TYPE_BOOL:
        return *(const bool *)p ? 1 : 0;
    case VMSTATE_TYPE_U8:
        return *p;
    case VMSTATE_TYPE_U16: {
        uint16_t v;
        memcpy(&v, p, sizeof(v));
        return v;
    }
    case VMSTATE_TYPE_U32: {
        uint32_t v;
        memcpy(&v, p, sizeof(v));
        return v;
    }
    case VMSTATE_TYPE_U64: {
        uint64_t v;
        memcpy(&v, p, sizeof(v));
        return v;
    }
    }
    return 0;
}

static void store_native(uint8_t *p, enum vmstate_type type, uint64_t value)
{
    switch (type) {
    case VMSTATE_TYPE_BOOL:
        *(bool *)p = value != 0;
        break;
    case VMSTATE_TYPE_U8:
        *p = (uint8_t)value;
        break;
    case VMSTATE_TYPE_U16: {
        uint16_t v = (uint16_t)value;
        memcpy(p, &v, sizeof(v));
        break;
    }
    case VMSTATE_TYPE_U32: {
        uint32_t v = (uint32_t)value;
        memcpy(p, &v, sizeof(v));
        break;
    }
    case VMSTATE_TYPE_U64:
        memcpy(p, &value, sizeof(value));
        break;
    }
}

/* ---- writing ---- */

struct vmstate_writer {
    GByteArray *buf;
    uint32_t sections;
};

struct vmstate_writer *vmstate_writer_new(void)
{
    struct vmstate_writer *w = g_new0(struct vmstate_writer, 1);

    w->buf = g_byte_array_new();
    g_byte_array_append(w->buf, (const guint8 *)VMSTATE_MAGIC, VMSTATE_MAGIC_LEN);
    put_le(w->buf, VMSTATE_FORMAT_VERSION, 4);
    put_le(w->buf, 0, 4); /* flags */
    return w;
}

static void put_name(GByteArray *out, const char *name)
{
    size_t len = strlen(name);

    put_le(out, len, 2);
    g_byte_array_append(out, (const guint8 *)name, (guint)len);
}

static void write_field(GByteArray *out, const struct vmstate_field *f, const uint8_t *dev)
{
    unsigned width = type_width(f->type);

    put_name(out, f->name);
    put_le(out, f->type, 1);
    put_le(out, f->count, 4);
    if (f->type == VMSTATE_TYPE_U8) {
        /* Byte arrays (buffers, FIFOs) are already in their wire form: one append. */
        g_byte_array_append(out, dev + f->offset, f->count);
        return;
    }
    for (uint32_t i = 0; i < f->count; i++)
        put_le(out, load_native(dev + f->offset + (size_t)i * width, f->type), width);
}

void vmstate_write_section(struct vmstate_writer *w, const struct vmstate_desc *desc,
                           uint32_t instance_id, const void *dev)
{
    GByteArray *body = g_byte_array_new();

    for (const struct vmstate_field *f = desc->fields; f && f->name; f++)
        write_field(body, f, dev);
    put_le(w->buf, VMSTATE_TAG_SECTION, 1);
    put_name(w->buf, desc->name);
    put_le(w->buf, instance_id, 4);
    put_le(w->buf, desc->version, 4);
    put_le(w->buf, body->len, 4);
    g_byte_array_append(w->buf, body->data, body->len);
    g_byte_array_free(body, TRUE);
    w->sections++;
}

static void compute_digest(const uint8_t *data, size_t len, uint8_t digest[VMSTATE_DIGEST_LEN])
{
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    gsize digest_len = VMSTATE_DIGEST_LEN;

    g_checksum_update(sum, data, (gssize)len);
    g_checksum_get_digest(sum, digest, &digest_len);
    g_checksum_free(sum);
}

GBytes *vmstate_writer_finish(struct vmstate_writer *w)
{
    uint8_t digest[VMSTATE_DIGEST_LEN];
    GByteArray *buf = w->buf;

    put_le(buf, VMSTATE_TAG_END, 1);
    put_le(buf, w->sections, 4);
    compute_digest(buf->data, buf->len, digest);
    g_byte_array_append(buf, digest, sizeof(digest));
    w->buf = NULL;
    g_free(w);
    return g_byte_array_free_to_bytes(buf);
}

void vmstate_writer_free(struct vmstate_writer *w)
{
    if (!w)
        return;
    if (w->buf)
        g_byte_array_free(w->buf, TRUE);
    g_free(w);
}

/* ---- parsing ---- */

struct cursor {
    const uint8_t *p;
    size_t left;
};

static bool take(struct cursor *c, size_t n, const uint8_t **out)
{
    if (n > c->left)
        return false;
    *out = c->p;
    c->p += n;
    c->left -= n;
    return true;
}

static bool take_le(struct cursor *c, unsigned width, uint64_t *value)
{
    const uint8_t *p;

    if (!take(c, width, &p))
        return false;
    *value = get_le(p, width);
    return true;
}

/* A name: u16 length and the bytes; *name is a new string. */
static bool take_name(struct cursor *c, char **name)
{
    const uint8_t *p;
    uint64_t len;

    if (!take_le(c, 2, &len) || !take(c, (size_t)len, &p) ||
        !name_is_valid((const char *)p, (size_t)len))
        return false;
    *name = g_strndup((const char *)p, (gsize)len);
    return true;
}

struct parsed_field {
    char *name;
    unsigned type;
    uint32_t count;
    const uint8_t *data; /* count * width bytes, little-endian, inside the stream */
    bool used;
};

struct parsed_section {
    char *name;
    uint32_t instance_id;
    uint32_t version;
    GArray *fields; /* struct parsed_field */
    bool claimed;
};

struct vmstate_stream {
    GBytes *data; /* the parsed fields point into it */
    GPtrArray *sections; /* struct parsed_section * */
};

static void parsed_field_clear(gpointer p)
{
    g_free(((struct parsed_field *)p)->name);
}

static void parsed_section_free(gpointer p)
{
    struct parsed_section *sec = p;

    g_free(sec->name);
    if (sec->fields)
        g_array_free(sec->fields, TRUE);
    g_free(sec);
}

static bool parse_field(struct cursor *body, struct parsed_field *f, GError **err,
                        const char *section)
{
    uint64_t type, count;
    unsigned width;

    if (!take_name(body, &f->name)) {
        g_set_error(err, VMSTATE_ERROR, 0, "section '%s': malformed field name", section);
        return false;
    }
    if (!take_le(body, 1, &type) || !take_le(body, 4, &count)) {
        g_set_error(err, VMSTATE_ERROR, 0, "section '%s': field '%s' is truncated", section,
                    f->name);
        return false;
    }
    width = type_width((enum vmstate_type)type);
    if (width == 0) {
        g_set_error(err, VMSTATE_ERROR, 0, "section '%s': field '%s' has unknown type %u",
                    section, f->name, (unsigned)type);
        return false;
    }
    f->type = (unsigned)type;
    f->count = (uint32_t)count;
    if (count > body->left / width || !take(body, (size_t)count * width, &f->data)) {
        g_set_error(err, VMSTATE_ERROR, 0, "section '%s': field '%s' is truncated", section,
                    f->name);
        return false;
    }
    return true;
}

static bool parse_fields(struct parsed_section *sec, struct cursor *body, GError **err)
{
    sec->fields = g_array_new(FALSE, TRUE, sizeof(struct parsed_field));
    g_array_set_clear_func(sec->fields, parsed_field_clear);
    while (body->left > 0) {
        struct parsed_field f = {0};
        if (sec->fields->len >= VMSTATE_FIELDS_MAX) {
            g_set_error(err, VMSTATE_ERROR, 0, "section '%s': too many fields", sec->name);
            return false;
        }
        bool ok = parse_field(body, &f, err, sec->name);
        g_array_append_val(sec->fields, f); /* freed with the array either way */
        if (!ok)
            return false;
        for (guint i = 0; i + 1 < sec->fields->len; i++) {
            if (strcmp(g_array_index(sec->fields, struct parsed_field, i).name, f.name) == 0) {
                g_set_error(err, VMSTATE_ERROR, 0, "section '%s': field '%s' appears twice",
                            sec->name, f.name);
                return false;
            }
        }
    }
    return true;
}

static bool parse_section(struct vmstate_stream *s, struct cursor *c, GError **err)
{
    struct parsed_section *sec = g_new0(struct parsed_section, 1);
    uint64_t instance, version, body_len;
    struct cursor body;

    g_ptr_array_add(s->sections, sec); /* owned from here, whatever happens */
    if (!take_name(c, &sec->name)) {
        g_set_error(err, VMSTATE_ERROR, 0, "section %u: malformed name", s->sections->len);
        return false;
    }
    if (!take_le(c, 4, &instance) || !take_le(c, 4, &version) || !take_le(c, 4, &body_len) ||
        !take(c, (size_t)body_len, &body.p)) {
        g_set_error(err, VMSTATE_ERROR, 0, "section '%s' is truncated", sec->name);
        return false;
    }
    sec->instance_id = (uint32_t)instance;
    sec->version = (uint32_t)version;
    body.left = (size_t)body_len;
    for (guint i = 0; i + 1 < s->sections->len; i++) {
        const struct parsed_section *other = g_ptr_array_index(s->sections, i);
        if (strcmp(other->name, sec->name) == 0 && other->instance_id == sec->instance_id) {
            g_set_error(err, VMSTATE_ERROR, 0, "section '%s' instance %u appears twice",
                        sec->name, sec->instance_id);
            return false;
        }
    }
    return parse_fields(sec, &body, err);
}

static bool check_header(struct cursor *c, GError **err)
{
    const uint8_t *magic;
    uint64_t version, flags;

    if (!take(c, VMSTATE_MAGIC_LEN, &magic) || memcmp(magic, VMSTATE_MAGIC, VMSTATE_MAGIC_LEN)) {
        g_set_error(err, VMSTATE_ERROR, 0, "not an xendm device state stream (bad magic)");
        return false;
    }
    if (!take_le(c, 4, &version) || !take_le(c, 4, &flags)) {
        g_set_error(err, VMSTATE_ERROR, 0, "device state stream is truncated (header)");
        return false;
    }
    if (version != VMSTATE_FORMAT_VERSION || flags != 0) {
        g_set_error(err, VMSTATE_ERROR, 0,
                    "device state format version %u (flags 0x%x) is not supported (this xendm "
                    "reads version %u)", (unsigned)version, (unsigned)flags,
                    VMSTATE_FORMAT_VERSION);
        return false;
    }
    return true;
}

/* The checksum first: a damaged stream is named as such, not as whatever it breaks. */
static bool check_digest(const uint8_t *data, size_t len, size_t *content_len, GError **err)
{
    uint8_t digest[VMSTATE_DIGEST_LEN];

    if (len < VMSTATE_HEADER_LEN + 5 + VMSTATE_DIGEST_LEN) {
        g_set_error(err, VMSTATE_ERROR, 0, "device state stream is truncated (%zu bytes)", len);
        return false;
    }
    *content_len = len - VMSTATE_DIGEST_LEN;
    compute_digest(data, *content_len, digest);
    if (memcmp(digest, data + *content_len, VMSTATE_DIGEST_LEN) != 0) {
        g_set_error(err, VMSTATE_ERROR, 0,
                    "device state stream is corrupt or truncated (checksum mismatch)");
        return false;
    }
    return true;
}

static bool parse_body(struct vmstate_stream *s, struct cursor *c, GError **err)
{
    for (;;) {
        uint64_t tag, count;
        if (!take_le(c, 1, &tag)) {
            g_set_error(err, VMSTATE_ERROR, 0, "device state stream has no end marker");
            return false;
        }
        if (tag == VMSTATE_TAG_END) {
            if (!take_le(c, 4, &count) || count != s->sections->len || c->left != 0) {
                g_set_error(err, VMSTATE_ERROR, 0, "device state stream: bad end marker");
                return false;
            }
            return true;
        }
        if (tag != VMSTATE_TAG_SECTION || s->sections->len >= VMSTATE_SECTIONS_MAX) {
            g_set_error(err, VMSTATE_ERROR, 0, "device state stream: unexpected tag 0x%02x",
                        (unsigned)tag);
            return false;
        }
        if (!parse_section(s, c, err))
            return false;
    }
}

struct vmstate_stream *vmstate_stream_parse(const uint8_t *data, size_t len, GError **err)
{
    struct vmstate_stream *s;
    size_t content_len;
    struct cursor c;

    if (len > VMSTATE_STREAM_MAX) {
        g_set_error(err, VMSTATE_ERROR, 0, "device state stream too large (%zu bytes)", len);
        return NULL;
    }
    c.p = data;
    c.left = len;
    if (!check_header(&c, err) || !check_digest(data, len, &content_len, err))
        return NULL;
    c.left = content_len - VMSTATE_HEADER_LEN;
    s = g_new0(struct vmstate_stream, 1);
    s->data = g_bytes_new(data, len);
    /* Re-point the cursor at our own copy: parsed fields refer into it. */
    c.p = (const uint8_t *)g_bytes_get_data(s->data, NULL) + VMSTATE_HEADER_LEN;
    s->sections = g_ptr_array_new_with_free_func(parsed_section_free);
    if (!parse_body(s, &c, err)) {
        vmstate_stream_free(s);
        return NULL;
    }
    return s;
}

void vmstate_stream_free(struct vmstate_stream *s)
{
    if (!s)
        return;
    g_ptr_array_unref(s->sections);
    g_bytes_unref(s->data);
    g_free(s);
}

unsigned vmstate_stream_section_count(const struct vmstate_stream *s)
{
    return s->sections->len;
}

bool vmstate_stream_check_all_claimed(const struct vmstate_stream *s, GError **err)
{
    for (guint i = 0; i < s->sections->len; i++) {
        const struct parsed_section *sec = g_ptr_array_index(s->sections, i);
        if (!sec->claimed) {
            g_set_error(err, VMSTATE_ERROR, 0,
                        "device state for '%s' instance %u matches no device of this machine",
                        sec->name, sec->instance_id);
            return false;
        }
    }
    return true;
}

/* ---- decoding against a device's description ---- */

struct vmstate_pending {
    const struct vmstate_desc *desc;
    GArray *values;   /* uint64_t per element, fields in desc order */
    GArray *present;  /* gboolean per desc field: absent ones keep the device's value */
};

static struct parsed_section *find_section(struct vmstate_stream *s, const char *name,
                                           uint32_t instance_id)
{
    for (guint i = 0; i < s->sections->len; i++) {
        struct parsed_section *sec = g_ptr_array_index(s->sections, i);
        if (!sec->claimed && sec->instance_id == instance_id && strcmp(sec->name, name) == 0)
            return sec;
    }
    return NULL;
}

static struct parsed_field *find_field(struct parsed_section *sec, const char *name)
{
    for (guint i = 0; i < sec->fields->len; i++) {
        struct parsed_field *f = &g_array_index(sec->fields, struct parsed_field, i);
        if (strcmp(f->name, name) == 0)
            return f;
    }
    return NULL;
}

static bool check_version(const struct vmstate_desc *desc, const struct parsed_section *sec,
                          GError **err)
{
    uint32_t oldest = desc->min_version ? desc->min_version : desc->version;

    if (sec->version > desc->version || sec->version < oldest) {
        g_set_error(err, VMSTATE_ERROR, 0,
                    "device '%s' instance %u: state version %u, but this xendm reads versions "
                    "%u to %u (version skew)", sec->name, sec->instance_id, sec->version, oldest,
                    desc->version);
        return false;
    }
    return true;
}

static bool decode_field(struct vmstate_pending *p, const struct parsed_section *sec,
                         const struct vmstate_field *f, const struct parsed_field *pf,
                         GError **err)
{
    unsigned width = type_width(f->type);

    if (pf->type != (unsigned)f->type || pf->count != f->count) {
        g_set_error(err, VMSTATE_ERROR, 0,
                    "device '%s' field '%s': %s[%u] in the stream, %s[%u] expected", sec->name,
                    f->name, type_name(pf->type), pf->count, type_name(f->type), f->count);
        return false;
    }
    for (uint32_t i = 0; i < f->count; i++) {
        uint64_t v = get_le(pf->data + (size_t)i * width, width);
        if (f->max != 0 && v > f->max) {
            g_set_error(err, VMSTATE_ERROR, 0,
                        "device '%s' field '%s'[%u]: value %" G_GUINT64_FORMAT
                        " out of range (max %" G_GUINT64_FORMAT ")", sec->name, f->name, i, v,
                        f->max);
            return false;
        }
        g_array_append_val(p->values, v);
    }
    return true;
}

/* Every field of the stream must be one the device knows. */
static bool check_no_unknown_fields(const struct vmstate_desc *desc,
                                    const struct parsed_section *sec, GError **err)
{
    for (guint i = 0; i < sec->fields->len; i++) {
        const struct parsed_field *pf = &g_array_index(sec->fields, struct parsed_field, i);
        bool known = false;
        for (const struct vmstate_field *f = desc->fields; f && f->name && !known; f++)
            known = strcmp(f->name, pf->name) == 0;
        if (!known) {
            g_set_error(err, VMSTATE_ERROR, 0, "device '%s': unknown field '%s'", sec->name,
                        pf->name);
            return false;
        }
    }
    return true;
}

static bool decode_section(struct vmstate_pending *p, struct parsed_section *sec, GError **err)
{
    const struct vmstate_desc *desc = p->desc;

    if (!check_version(desc, sec, err) || !check_no_unknown_fields(desc, sec, err))
        return false;
    for (const struct vmstate_field *f = desc->fields; f && f->name; f++) {
        struct parsed_field *pf = find_field(sec, f->name);
        gboolean present = pf != NULL;
        if (!pf && f->since <= sec->version) {
            g_set_error(err, VMSTATE_ERROR, 0, "device '%s' instance %u: field '%s' is missing",
                        sec->name, sec->instance_id, f->name);
            return false;
        }
        g_array_append_val(p->present, present);
        if (pf && !decode_field(p, sec, f, pf, err))
            return false;
    }
    return true;
}

struct vmstate_pending *vmstate_pending_new(struct vmstate_stream *s,
                                            const struct vmstate_desc *desc,
                                            uint32_t instance_id, GError **err)
{
    struct parsed_section *sec = find_section(s, desc->name, instance_id);
    struct vmstate_pending *p;

    if (!sec) {
        g_set_error(err, VMSTATE_ERROR, 0, "device state has no section for '%s' instance %u",
                    desc->name, instance_id);
        return NULL;
    }
    p = g_new0(struct vmstate_pending, 1);
    p->desc = desc;
    p->values = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    p->present = g_array_new(FALSE, FALSE, sizeof(gboolean));
    if (!decode_section(p, sec, err)) {
        vmstate_pending_free(p);
        return NULL;
    }
    sec->claimed = true;
    return p;
}

void vmstate_pending_apply(struct vmstate_pending *p, void *dev)
{
    const struct vmstate_desc *desc = p->desc;
    guint value_index = 0, field_index = 0;
    uint8_t *base = dev;

    for (const struct vmstate_field *f = desc->fields; f && f->name; f++, field_index++) {
        unsigned width = type_width(f->type);
        if (!g_array_index(p->present, gboolean, field_index))
            continue;
        for (uint32_t i = 0; i < f->count; i++) {
            uint64_t v = g_array_index(p->values, uint64_t, value_index++);
            store_native(base + f->offset + (size_t)i * width, f->type, v);
        }
    }
    if (desc->post_load)
        desc->post_load(dev);
    vmstate_pending_free(p);
}

void vmstate_pending_free(struct vmstate_pending *p)
{
    if (!p)
        return;
    g_array_free(p->values, TRUE);
    g_array_free(p->present, TRUE);
    g_free(p);
}

/* ---- files ---- */

static bool wait_fd(int fd, short events, GError **err)
{
    struct pollfd pfd = {.fd = fd, .events = events};

    while (poll(&pfd, 1, -1) < 0) {
        if (errno != EINTR) {
            g_set_error(err, VMSTATE_ERROR, 0, "poll: %s", g_strerror(errno));
            return false;
        }
    }
    return true;
}

/*
 * A file handed over by add-fd may have been opened without O_TRUNC and hold an older, longer
 * stream: what follows ours would fail the reader's checksum. Cut it (regular files only).
 */
static void cut_stale_tail(int fd)
{
    struct stat st;
    off_t end = lseek(fd, 0, SEEK_CUR);

    if (end >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > end &&
        ftruncate(fd, end) != 0)
        log_warn("device state: cannot cut the file after the stream: %s", g_strerror(errno));
}

bool vmstate_write_fd(int fd, GBytes *data, GError **err)
{
    gsize len;
    const uint8_t *p = g_bytes_get_data(data, &len);

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (!wait_fd(fd, POLLOUT, err))
                return false;
            continue;
        }
        if (n <= 0) {
            g_set_error(err, VMSTATE_ERROR, 0, "writing the device state: %s",
                        n < 0 ? g_strerror(errno) : "short write");
            return false;
        }
        p += n;
        len -= (gsize)n;
    }
    cut_stale_tail(fd);
    return true;
}

GBytes *vmstate_read_fd(int fd, GError **err)
{
    GByteArray *buf = g_byte_array_new();
    uint8_t chunk[65536];

    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (!wait_fd(fd, POLLIN, err))
                goto fail;
            continue;
        }
        if (n < 0) {
            g_set_error(err, VMSTATE_ERROR, 0, "reading the device state: %s",
                        g_strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        if (buf->len + (size_t)n > VMSTATE_STREAM_MAX) {
            g_set_error(err, VMSTATE_ERROR, 0, "device state stream larger than %u bytes",
                        VMSTATE_STREAM_MAX);
            goto fail;
        }
        g_byte_array_append(buf, chunk, (guint)n);
    }
    return g_byte_array_free_to_bytes(buf);

fail:
    g_byte_array_free(buf, TRUE);
    return NULL;
}

bool vmstate_save_machine_fd(struct machine *m, int fd, GError **err)
{
    GBytes *state = machine_save_state(m);
    bool ok;

    if (!state) {
        g_set_error(err, VMSTATE_ERROR, 0, "no machine to save");
        return false;
    }
    ok = vmstate_write_fd(fd, state, err);
    if (ok)
        log_info("device state saved: %zu bytes", g_bytes_get_size(state));
    g_bytes_unref(state);
    return ok;
}

bool vmstate_load_machine_fd(struct machine *m, int fd, GError **err)
{
    GBytes *state = vmstate_read_fd(fd, err);
    gsize len;
    const uint8_t *data;
    bool ok;

    if (!state)
        return false;
    data = g_bytes_get_data(state, &len);
    ok = machine_load_state(m, data, len, err);
    g_bytes_unref(state);
    return ok;
}
