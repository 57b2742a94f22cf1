/*
 * Device state: the versioned, self-describing stream that QMP xen-save-devices-state writes
 * and -incoming fd:K / xen-load-devices-state read back (docs/architecture.md, "Save/restore").
 *
 * A device type describes its state once, as a table of fields (struct vmstate_desc) hung on
 * its struct device_type; the machine walks its devices to save and load them. libxl treats the
 * file as opaque (reference §5.3), so the format is xendm's own. All integers little-endian.
 *
 *   stream  := header section* end trailer
 *   header  := magic "XDMSTATE" (8 bytes) | u32 format version (VMSTATE_FORMAT_VERSION) |
 *              u32 flags (0)
 *   section := u8 'S' | u16 name length | name | u32 instance id | u32 section version |
 *              u32 body length | body
 *   body    := field*, exactly filling the body length
 *   field   := u16 name length | name | u8 type (enum vmstate_type) | u32 element count |
 *              element count * width(type) bytes
 *   end     := u8 'E' | u32 number of sections
 *   trailer := SHA-256 of every byte before it (32 bytes)
 *
 * Names are 1..VMSTATE_NAME_MAX bytes of [A-Za-z0-9_.-]. The instance id tells apart devices
 * of one type: its I/O base, its devfn, or (by default) its position among devices of its type.
 *
 * Loading is all or nothing: the whole stream is parsed, checked against the checksum, matched
 * against the machine's devices (each device with state needs exactly one section; a section no
 * device claims is refused) and every field is decoded and range-checked into pending state.
 * Only when all of that succeeded is anything written into a device. A section newer than the
 * device's version, or older than its min_version, is refused ("version skew"); a field the
 * device does not know is refused; a field missing from the stream is refused unless it was
 * added after the section's version (field.since), in which case the device keeps its reset
 * value.
 *
 * Adding state to a device: a static table of VMSTATE_* fields, a struct vmstate_desc, and
 * `.vmstate = &desc` in its device_type. pre_save/post_load handle what is not plain data
 * (interrupt lines, timers, chardev input).
 */
#ifndef XENDM_VMSTATE_H
#define XENDM_VMSTATE_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMSTATE_MAGIC "XDMSTATE"
#define VMSTATE_MAGIC_LEN 8
#define VMSTATE_FORMAT_VERSION 1u
#define VMSTATE_NAME_MAX 64u
/* Larger streams are refused before they are read: no device holds anything near this. */
#define VMSTATE_STREAM_MAX (64u * 1024 * 1024)
#define VMSTATE_DIGEST_LEN 32u

enum vmstate_type {
    VMSTATE_TYPE_BOOL = 1, /* C bool; one byte, 0 or 1 */
    VMSTATE_TYPE_U8 = 2,
    VMSTATE_TYPE_U16 = 3,
    VMSTATE_TYPE_U32 = 4,
    VMSTATE_TYPE_U64 = 5,
};

struct vmstate_field {
    const char *name;
    enum vmstate_type type;
    size_t offset;   /* in the device's struct */
    uint32_t count;  /* elements: 1 for a scalar, N for an array */
    uint64_t max;    /* largest valid value of an element; 0: the type's whole range */
    uint32_t since;  /* section version that added it (0 or 1: always there) */
};

struct vmstate_desc {
    const char *name;     /* section name; unique among device types */
    uint32_t version;     /* what this build writes */
    uint32_t min_version; /* oldest section version it still reads (0: same as version) */
    const struct vmstate_field *fields; /* ends with a field whose name is NULL */
    /* Optional: the instance id (default: index among the machine's devices of this type). */
    uint32_t (*instance_id)(const void *dev);
    /* Optional: collect state that does not live in plain fields (interrupt line levels). */
    void (*pre_save)(void *dev);
    /* Optional: the fields were written; bring derived state in line (IRQs, timers). */
    void (*post_load)(void *dev);
};

/* Checks that the field's member has the size the type and count imply (compile time). */
#define VMSTATE_SIZE_CHECK(st, member, width, n)                                                  \
    (0 * sizeof(char[sizeof(((st *)0)->member) == (size_t)(width) * (n) ? 1 : -1]))

#define VMSTATE_FIELD_FULL(fname, st, member, vtype, width, n, maximum, since_ver)               \
    {                                                                                             \
        .name = (fname), .type = (vtype),                                                         \
        .offset = offsetof(st, member) + VMSTATE_SIZE_CHECK(st, member, width, n),                \
        .count = (n), .max = (maximum), .since = (since_ver),                                     \
    }

#define VMSTATE_BOOL(st, m) VMSTATE_FIELD_FULL(#m, st, m, VMSTATE_TYPE_BOOL, 1, 1, 1, 0)
#define VMSTATE_U8(st, m) VMSTATE_FIELD_FULL(#m, st, m, VMSTATE_TYPE_U8, 1, 1, 0, 0)
#define VMSTATE_U16(st, m) VMSTATE_FIELD_FULL(#m, st, m, VMSTATE_TYPE_U16, 2, 1, 0, 0)
#define VMSTATE_U32(st, m) VMSTATE_FIELD_FULL(#m, st, m, VMSTATE_TYPE_U32, 4, 1, 0, 0)
#define VMSTATE_U64(st, m) VMSTATE_FIELD_FULL(#m, st, m, VMSTATE_TYPE_U64, 8, 1, 0, 0)
/* Values above max are refused on load: indexes and counts that a device trusts. */
#define VMSTATE_U8_MAX(st, m, max) VMSTATE_FIELD_FULL(#m, st, m, VMSTATE_TYPE_U8, 1, 1, max, 0)
#define VMSTATE_U32_MAX(st, m, max) VMSTATE_FIELD_FULL(#m, st, m, VMSTATE_TYPE_U32, 4, 1, max, 0)
#define VMSTATE_U8_ARRAY(st, m, n) VMSTATE_FIELD_FULL(#m, st, m, VMSTATE_TYPE_U8, 1, n, 0, 0)
#define VMSTATE_BOOL_ARRAY(st, m, n) VMSTATE_FIELD_FULL(#m, st, m, VMSTATE_TYPE_BOOL, 1, n, 1, 0)
#define VMSTATE_END {.name = NULL}

GQuark vmstate_error_quark(void);
#define VMSTATE_ERROR vmstate_error_quark()

/* ---- writing ---- */

struct vmstate_writer;

struct vmstate_writer *vmstate_writer_new(void);
/* Appends one section with every field of desc, read from dev. */
void vmstate_write_section(struct vmstate_writer *w, const struct vmstate_desc *desc,
                           uint32_t instance_id, const void *dev);
/* Appends the end marker and the checksum; returns the stream and frees the writer. */
GBytes *vmstate_writer_finish(struct vmstate_writer *w);
void vmstate_writer_free(struct vmstate_writer *w);

/* ---- reading ---- */

/* A parsed, checksum-verified stream; sections are not matched to devices yet. */
struct vmstate_stream;

struct vmstate_stream *vmstate_stream_parse(const uint8_t *data, size_t len, GError **err);
void vmstate_stream_free(struct vmstate_stream *s);
unsigned vmstate_stream_section_count(const struct vmstate_stream *s);

/*
 * State decoded for one device, checked, not applied. vmstate_pending_new() takes the section
 * (name, instance) out of the stream; it fails if the section is missing, of an unusable
 * version, has unknown, mistyped, missing or out-of-range fields.
 */
struct vmstate_pending;

struct vmstate_pending *vmstate_pending_new(struct vmstate_stream *s,
                                            const struct vmstate_desc *desc,
                                            uint32_t instance_id, GError **err);
/* Writes the decoded fields into dev and runs post_load; frees p. Cannot fail. */
void vmstate_pending_apply(struct vmstate_pending *p, void *dev);
void vmstate_pending_free(struct vmstate_pending *p);
/* After every device took its section: false (with the first one named) if any is left. */
bool vmstate_stream_check_all_claimed(const struct vmstate_stream *s, GError **err);

/* ---- files ---- */

/* Writes all of data to fd (blocking; the fd may be non-blocking: it is polled). */
bool vmstate_write_fd(int fd, GBytes *data, GError **err);
/* Reads fd to its end, at most VMSTATE_STREAM_MAX bytes. */
GBytes *vmstate_read_fd(int fd, GError **err);

struct machine;
/* machine_save_state() into fd (xen-save-devices-state). */
bool vmstate_save_machine_fd(struct machine *m, int fd, GError **err);
/* Reads fd, then machine_load_state() (-incoming fd:K, xen-load-devices-state). */
bool vmstate_load_machine_fd(struct machine *m, int fd, GError **err);

#endif
