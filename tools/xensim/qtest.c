/*
 * qtest: the line protocol of docs/qtest-protocol.md, from a socket or a
 * script file. Commands run one at a time; one that waits for the device
 * model does not block the main loop (the reply is written from the access's
 * completion), so the DM's dm_ops and xenstore traffic are served meanwhile.
 */
#include <errno.h>
#include <glib-unix.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vcpu.h"
#include "xensim.h"

#define DEFAULT_TIMEOUT_MS 5000u
#define MAX_LINE 65536u
#define MAX_MEM_LEN (1u << 20)
#define MAX_REP_COUNT (1u << 20)
#define MAX_BENCH_COUNT (1u << 24)

enum qt_source { QT_LISTEN, QT_FD, QT_SCRIPT };

struct xsim_qtest {
    struct xsim *xs;
    enum qt_source source;
    int listen_fd;
    guint listen_watch;
    char *listen_path;
    int fd;          /* the client, or -1 */
    guint fd_watch;
    GString *in;
    FILE *script;
    bool started;
    bool busy;       /* a command waits for the device model */
    guint timer;
    guint idle;
    unsigned timeout_ms;
    unsigned vcpu;       /* the vCPU that performs routed accesses (`vcpu N`) */
    unsigned cmd_serial; /* tags completions: a late one for a timed-out command is ignored */
    uint32_t access_size; /* size of the pending read, to mask its reply */
    bool access_is_read;
    bool raw_reply;       /* `ioreq`: reply the whole data field */
    /* bench_io: the same access issued back to back from the completion. */
    struct xsim_access bench_acc;
    bool bench_active;
    bool bench_submitting; /* inside xsim_vcpu_submit: a completion now is an inline one */
    bool bench_inline_done;
    uint64_t bench_left;
    int64_t bench_start_us;
};

static void qt_schedule(struct xsim_qtest *qt);

/* ------------------------------------------------------------------ replies */

static void qt_reply(struct xsim_qtest *qt, const char *line)
{
    if (qt->source == QT_SCRIPT) {
        printf("< %s\n", line);
        fflush(stdout);
        return;
    }
    if (qt->fd < 0)
        return;
    g_autofree char *msg = g_strconcat(line, "\n", NULL);
    size_t len = strlen(msg), off = 0;
    while (off < len) {
        ssize_t n = send(qt->fd, msg + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        off += (size_t)n;
    }
}

G_GNUC_PRINTF(2, 3) static void qt_replyf(struct xsim_qtest *qt, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *s = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    qt_reply(qt, s);
}

static const char *status_text(struct xsim *xs, int status)
{
    if (status == -EIO || xs->crashed)
        return "crash";
    if (status == -EBUSY)
        return "vcpu busy";
    if (status == -ECANCELED)
        return "reboot";
    return g_strerror(-status);
}

/* ------------------------------------------------------------------ parsing */

static bool parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        *out = g_ascii_strtoull(s + 2, &end, 16);
    else
        *out = g_ascii_strtoull(s, &end, 10);
    return *end == '\0' && errno == 0 && (s[0] != '0' || s[1] != 'x' || s[2]);
}

static bool parse_u32(const char *s, uint32_t *out)
{
    uint64_t v;
    if (!parse_u64(s, &v) || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

static bool pio_size_ok(uint32_t size) { return size == 1 || size == 2 || size == 4; }
static bool mmio_size_ok(uint32_t size) { return pio_size_ok(size) || size == 8; }

static uint32_t size_of_suffix(char c)
{
    switch (c) {
    case 'b': return 1;
    case 'w': return 2;
    case 'l': return 4;
    case 'q': return 8;
    default: return 0;
    }
}

static bool parse_type(const char *s, uint8_t *type)
{
    static const struct { const char *name; uint8_t type; } names[] = {
        { "pio", XENABI_IOREQ_TYPE_PIO }, { "copy", XENABI_IOREQ_TYPE_COPY },
        { "pci", XENABI_IOREQ_TYPE_PCI_CONFIG }, { "timeoffset", XENABI_IOREQ_TYPE_TIMEOFFSET },
        { "invalidate", XENABI_IOREQ_TYPE_INVALIDATE },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        if (!strcmp(s, names[i].name)) {
            *type = names[i].type;
            return true;
        }
    }
    uint32_t v;
    if (!parse_u32(s, &v) || v > 0xff)
        return false;
    *type = (uint8_t)v;
    return true;
}

static bool parse_dir(const char *s, bool *read)
{
    if (!strcmp(s, "r") || !strcmp(s, "1"))
        *read = true;
    else if (!strcmp(s, "w") || !strcmp(s, "0"))
        *read = false;
    else
        return false;
    return true;
}

/* ------------------------------------------------------------------ accesses */

static void bench_next(struct xsim_qtest *qt);

static void on_access_done(struct xsim *xs, int status, uint64_t data, void *opaque)
{
    struct xsim_qtest *qt = xs->qtest;
    unsigned serial = GPOINTER_TO_UINT(opaque);
    if (!qt || !qt->busy || serial != qt->cmd_serial)
        return;
    if (qt->bench_active && status >= 0) {
        if (qt->bench_submitting)
            qt->bench_inline_done = true; /* bench_next's loop issues the next one */
        else
            bench_next(qt);
        return;
    }
    qt->bench_active = false;
    if (qt->timer) {
        g_source_remove(qt->timer);
        qt->timer = 0;
    }
    if (status < 0)
        qt_replyf(qt, "ERR %s", status_text(xs, status));
    else if (qt->raw_reply || qt->access_is_read)
        qt_replyf(qt, "OK 0x%" G_GINT64_MODIFIER "x",
                  (uint64_t)(qt->raw_reply || qt->access_size >= 8
                                 ? data : data & ((1ull << (qt->access_size * 8)) - 1)));
    else
        qt_reply(qt, "OK");
    qt->busy = false;
    qt_schedule(qt);
}

static gboolean on_timeout(gpointer opaque)
{
    struct xsim_qtest *qt = opaque;
    qt->timer = 0;
    if (!qt->busy)
        return G_SOURCE_REMOVE;
    xsim_vcpu_abandon(qt->xs, qt->vcpu);
    qt->bench_active = false;
    qt->cmd_serial++;
    qt->busy = false;
    qt_reply(qt, "ERR timeout");
    qt_schedule(qt);
    return G_SOURCE_REMOVE;
}

typedef int (*submit_fn)(struct xsim *xs, const struct xsim_access *acc, unsigned server);

static int submit_routed(struct xsim *xs, const struct xsim_access *acc, unsigned server)
{
    return xsim_vcpu_submit(xs, xs->qtest->vcpu, acc, on_access_done,
                            GUINT_TO_POINTER(xs->qtest->cmd_serial));
}

static int submit_raw(struct xsim *xs, const struct xsim_access *acc, unsigned server)
{
    return xsim_vcpu_submit_raw(xs, server, acc, on_access_done,
                                GUINT_TO_POINTER(xs->qtest->cmd_serial));
}

/* Starts an access; the reply comes from on_access_done (maybe before this returns). */
static void qt_start_access(struct xsim_qtest *qt, const struct xsim_access *acc, submit_fn fn,
                            unsigned server, bool raw)
{
    qt->cmd_serial++;
    qt->busy = true;
    qt->access_size = acc->size;
    qt->access_is_read = acc->read && !acc->data_is_ptr;
    qt->raw_reply = raw;
    unsigned serial = qt->cmd_serial;
    int rc = fn(qt->xs, acc, server);
    if (rc < 0) {
        qt->busy = false;
        qt_replyf(qt, "ERR %s", rc == -ENOENT ? "no such server" : status_text(qt->xs, rc));
        return;
    }
    if (qt->busy && serial == qt->cmd_serial)
        qt->timer = g_timeout_add(qt->timeout_ms, on_timeout, qt);
}

static void bench_finish(struct xsim_qtest *qt, int rc)
{
    qt->bench_active = false;
    if (qt->timer) {
        g_source_remove(qt->timer);
        qt->timer = 0;
    }
    qt->busy = false;
    if (rc < 0)
        qt_replyf(qt, "ERR %s", status_text(qt->xs, rc));
    else
        qt_replyf(qt, "OK %" G_GINT64_FORMAT,
                  (g_get_monotonic_time() - qt->bench_start_us) * 1000);
    qt_schedule(qt);
}

/*
 * bench_io: COUNT synchronous accesses issued back to back from each one's
 * completion, inside the event loop, so the test socket is not measured.
 * Replies the elapsed nanoseconds. Accesses that complete inside the submit
 * (xensim's own ports, unclaimed ones) are chained by this loop, not by
 * recursion: COUNT may be far deeper than the stack.
 */
static void bench_next(struct xsim_qtest *qt)
{
    while (qt->bench_left) {
        qt->bench_left--;
        qt->bench_inline_done = false;
        qt->bench_submitting = true;
        int rc = xsim_vcpu_submit(qt->xs, qt->vcpu, &qt->bench_acc, on_access_done,
                                  GUINT_TO_POINTER(qt->cmd_serial));
        qt->bench_submitting = false;
        if (rc < 0)
            return bench_finish(qt, rc);
        if (!qt->bench_inline_done)
            return; /* the device model answers later; on_access_done continues */
    }
    bench_finish(qt, 0);
}

/*
 * CPU time the device model has used, summed over its threads, in
 * nanoseconds (/proc/PID/task/TID/schedstat, first field); -1 if unknown.
 */
static int64_t dm_cpu_time_ns(struct xsim *xs)
{
    if (!xs->dm_running || xs->dm_pid <= 0)
        return -1;
    g_autofree char *dir_path = g_strdup_printf("/proc/%d/task", (int)xs->dm_pid);
    GDir *dir = g_dir_open(dir_path, 0, NULL);
    if (!dir)
        return -1;
    int64_t total = 0;
    const char *tid;
    while ((tid = g_dir_read_name(dir))) {
        g_autofree char *path = g_build_filename(dir_path, tid, "schedstat", NULL);
        g_autofree char *text = NULL;
        if (g_file_get_contents(path, &text, NULL, NULL))
            total += g_ascii_strtoll(text, NULL, 10);
    }
    g_dir_close(dir);
    return total;
}

/* The access `bench_io VERB` repeats: false if VERB is not a port or MMIO verb of a valid width. */
static bool bench_access_of_verb(const char *verb, struct xsim_access *acc)
{
    size_t len = strlen(verb);
    uint32_t size = len ? size_of_suffix(verb[len - 1]) : 0;
    bool pio_read = len == 3 && g_str_has_prefix(verb, "in");
    bool pio_write = len == 4 && g_str_has_prefix(verb, "out");
    bool mmio_read = len == 5 && g_str_has_prefix(verb, "read");
    bool mmio_write = len == 6 && g_str_has_prefix(verb, "write");
    bool pio = pio_read || pio_write;

    if (pio ? !pio_size_ok(size) : !(mmio_read || mmio_write) || !mmio_size_ok(size))
        return false;
    *acc = (struct xsim_access){ .type = pio ? XENABI_IOREQ_TYPE_PIO : XENABI_IOREQ_TYPE_COPY,
                                 .read = pio_read || mmio_read, .size = size, .count = 1 };
    return true;
}

/*
 * bench_io VERB ADDR COUNT, VERB one of in/out b w l (ADDR a port) or read/write b w l q
 * (ADDR a guest-physical address, routed as readl/writel are). Writes carry 0.
 */
static void cmd_bench_io(struct xsim_qtest *qt, char **argv, unsigned argc)
{
    struct xsim_access acc;
    uint64_t addr, count;

    if (argc != 4 || !parse_u64(argv[2], &addr) || !parse_u64(argv[3], &count))
        return qt_reply(qt, "ERR usage: bench_io VERB ADDR COUNT");
    if (!bench_access_of_verb(argv[1], &acc))
        return qt_reply(qt, "ERR bad verb or width");
    if (count == 0 || count > MAX_BENCH_COUNT)
        return qt_reply(qt, "ERR bad count");
    acc.addr = addr;
    if (acc.type == XENABI_IOREQ_TYPE_PIO && addr > 0xffff)
        return qt_reply(qt, "ERR bad address");
    /* Xen's own answer, or the all-ones of an unclaimed address, would make a fast figure
     * that says nothing about round trips. */
    if (acc.type == XENABI_IOREQ_TYPE_COPY) {
        if (addr > UINT64_MAX - acc.size)
            return qt_reply(qt, "ERR bad address");
        switch (xsim_mmio_owner(qt->xs, &acc)) {
        case XSIM_MMIO_SERVERS:
            break;
        case XSIM_MMIO_UNCLAIMED:
            return qt_reply(qt, "ERR unclaimed");
        case XSIM_MMIO_LAPIC:
            return qt_reply(qt, "ERR Xen answers it: local APIC");
        case XSIM_MMIO_RAM:
            return qt_reply(qt, "ERR Xen answers it: guest RAM");
        }
    }
    qt->bench_acc = acc;
    qt->cmd_serial++;
    qt->busy = true;
    qt->bench_active = true;
    qt->bench_left = count;
    qt->bench_start_us = g_get_monotonic_time();
    /* The whole run gets the per-command timeout once per thousand accesses. */
    uint64_t run_ms = (uint64_t)qt->timeout_ms * (1 + count / 1000);
    qt->timer = g_timeout_add((guint)MIN(run_ms, (uint64_t)G_MAXUINT), on_timeout, qt);
    bench_next(qt);
}

static void cmd_pio(struct xsim_qtest *qt, char **argv, unsigned argc, bool read, uint32_t size)
{
    struct xsim_access acc = { .type = XENABI_IOREQ_TYPE_PIO, .read = read, .size = size,
                               .count = 1 };
    uint32_t port;
    if (argc != (read ? 2u : 3u) || !parse_u32(argv[1], &port) || port > 0xffff ||
        (!read && !parse_u64(argv[2], &acc.data)))
        return qt_reply(qt, "ERR usage");
    acc.addr = port;
    qt_start_access(qt, &acc, submit_routed, 0, false);
}

static void cmd_mmio(struct xsim_qtest *qt, char **argv, unsigned argc, bool read, uint32_t size)
{
    struct xsim_access acc = { .type = XENABI_IOREQ_TYPE_COPY, .read = read, .size = size,
                               .count = 1 };
    if (argc != (read ? 2u : 3u) || !parse_u64(argv[1], &acc.addr) ||
        (!read && !parse_u64(argv[2], &acc.data)))
        return qt_reply(qt, "ERR usage");
    qt_start_access(qt, &acc, submit_routed, 0, false);
}

/* outs/ins/movs_to_mmio/movs_from_mmio: SIZE ADDR GPA COUNT [DF]; stos: SIZE ADDR VAL COUNT [DF] */
static void cmd_rep(struct xsim_qtest *qt, char **argv, unsigned argc)
{
    const char *cmd = argv[0];
    bool pio = !strcmp(cmd, "outs") || !strcmp(cmd, "ins");
    struct xsim_access acc = {
        .type = pio ? XENABI_IOREQ_TYPE_PIO : XENABI_IOREQ_TYPE_COPY,
        .read = !strcmp(cmd, "ins") || !strcmp(cmd, "movs_from_mmio"),
        .data_is_ptr = strcmp(cmd, "stos") != 0,
    };
    uint64_t df = 0;
    if ((argc != 5 && argc != 6) || !parse_u32(argv[1], &acc.size) ||
        !parse_u64(argv[2], &acc.addr) || !parse_u64(argv[3], &acc.data) ||
        !parse_u32(argv[4], &acc.count) || (argc == 6 && !parse_u64(argv[5], &df)))
        return qt_reply(qt, "ERR usage");
    if (!(pio ? pio_size_ok(acc.size) : mmio_size_ok(acc.size)) || (pio && acc.addr > 0xffff))
        return qt_reply(qt, "ERR bad size or address");
    if (acc.count == 0 || acc.count > MAX_REP_COUNT)
        return qt_reply(qt, "ERR bad count");
    acc.df = df != 0;
    qt_start_access(qt, &acc, submit_routed, 0, false);
}

static bool parse_server(struct xsim_qtest *qt, char *arg, unsigned *server)
{
    if (arg) {
        uint32_t id;
        if (!parse_u32(arg, &id))
            return false;
        *server = id;
        return true;
    }
    struct xsim_ioreq_server *s = xsim_server_first_enabled(qt->xs);
    if (!s)
        return false;
    *server = s->id;
    return true;
}

/* ioreq TYPE DIR SIZE COUNT ADDR DATA [PTR [DF [SERVER]]] */
static void cmd_ioreq(struct xsim_qtest *qt, char **argv, unsigned argc)
{
    struct xsim_access acc = { 0 };
    uint64_t ptr = 0, df = 0;
    unsigned server;
    if (argc < 7 || argc > 10 || !parse_type(argv[1], &acc.type) ||
        !parse_dir(argv[2], &acc.read) || !parse_u32(argv[3], &acc.size) ||
        !parse_u32(argv[4], &acc.count) || !parse_u64(argv[5], &acc.addr) ||
        !parse_u64(argv[6], &acc.data) || (argc > 7 && !parse_u64(argv[7], &ptr)) ||
        (argc > 8 && !parse_u64(argv[8], &df)))
        return qt_reply(qt, "ERR usage");
    if (!parse_server(qt, argc > 9 ? argv[9] : NULL, &server))
        return qt_reply(qt, "ERR no such server");
    acc.data_is_ptr = ptr != 0;
    acc.df = df != 0;
    qt_start_access(qt, &acc, submit_raw, server, true);
}

/* bufioreq TYPE DIR SIZE ADDR DATA [SERVER] / bufraw WORD DATA [SERVER] */
static void cmd_bufioreq(struct xsim_qtest *qt, char **argv, unsigned argc, bool raw)
{
    unsigned server;
    bool ok;
    struct xsim_ioreq_server *s;
    if (raw) {
        uint32_t word, data;
        if (argc < 3 || argc > 4 || !parse_u32(argv[1], &word) || !parse_u32(argv[2], &data))
            return qt_reply(qt, "ERR usage");
        if (!parse_server(qt, argc > 3 ? argv[3] : NULL, &server) ||
            !(s = xsim_server_get(qt->xs, server)))
            return qt_reply(qt, "ERR no such server");
        ok = xsim_bufioreq_send_raw(qt->xs, s, word, data);
    } else {
        uint8_t type;
        bool read;
        uint32_t size;
        uint64_t addr, data;
        if (argc < 6 || argc > 7 || !parse_type(argv[1], &type) || !parse_dir(argv[2], &read) ||
            !parse_u32(argv[3], &size) || !parse_u64(argv[4], &addr) ||
            !parse_u64(argv[5], &data))
            return qt_reply(qt, "ERR usage");
        if (!parse_server(qt, argc > 6 ? argv[6] : NULL, &server) ||
            !(s = xsim_server_get(qt->xs, server)))
            return qt_reply(qt, "ERR no such server");
        ok = xsim_bufioreq_send(qt->xs, s, type, read, size, addr, data);
    }
    qt_reply(qt, ok ? "OK" : "ERR ring full or absent");
}

static int submit_invalidate(struct xsim *xs, const struct xsim_access *acc, unsigned server)
{
    return xsim_broadcast_invalidate(xs, on_access_done, GUINT_TO_POINTER(xs->qtest->cmd_serial));
}

static void start_invalidate(struct xsim_qtest *qt)
{
    const struct xsim_access none = { 0 }; /* a write: the reply is a bare OK */
    qt_start_access(qt, &none, submit_invalidate, 0, false);
}

/* ------------------------------------------------------------------ guest memory */

static void cmd_memwrite(struct xsim_qtest *qt, char **argv, unsigned argc)
{
    uint64_t gpa;
    if (argc != 3 || !parse_u64(argv[1], &gpa))
        return qt_reply(qt, "ERR usage");
    const char *hex = argv[2];
    if (g_str_has_prefix(hex, "0x"))
        hex += 2;
    size_t len = strlen(hex);
    if (len % 2 || len / 2 > MAX_MEM_LEN)
        return qt_reply(qt, "ERR bad hex");
    g_autofree uint8_t *buf = g_malloc(len / 2 + 1);
    for (size_t i = 0; i < len / 2; i++) {
        int hi = g_ascii_xdigit_value(hex[2 * i]), lo = g_ascii_xdigit_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return qt_reply(qt, "ERR bad hex");
        buf[i] = (uint8_t)(hi << 4 | lo);
    }
    int rc = xsim_mem_write(&qt->xs->mem, gpa, buf, len / 2);
    qt_reply(qt, rc < 0 ? "ERR not RAM" : "OK");
}

static void cmd_memread(struct xsim_qtest *qt, char **argv, unsigned argc)
{
    uint64_t gpa;
    uint32_t len;
    if (argc != 3 || !parse_u64(argv[1], &gpa) || !parse_u32(argv[2], &len) ||
        len > MAX_MEM_LEN)
        return qt_reply(qt, "ERR usage");
    g_autofree uint8_t *buf = g_malloc(len + 1);
    if (xsim_mem_read(&qt->xs->mem, gpa, buf, len) < 0)
        return qt_reply(qt, "ERR not RAM");
    GString *s = g_string_sized_new(3 + 2 * len);
    g_string_append(s, "OK 0x");
    for (uint32_t i = 0; i < len; i++)
        g_string_append_printf(s, "%02x", buf[i]);
    qt_reply(qt, s->str);
    g_string_free(s, TRUE);
}

static void cmd_memset(struct xsim_qtest *qt, char **argv, unsigned argc)
{
    uint64_t gpa;
    uint32_t len, byte;
    if (argc != 4 || !parse_u64(argv[1], &gpa) || !parse_u32(argv[2], &len) ||
        !parse_u32(argv[3], &byte) || len > MAX_MEM_LEN || byte > 0xff)
        return qt_reply(qt, "ERR usage");
    g_autofree uint8_t *buf = g_malloc(len + 1);
    memset(buf, (int)byte, len);
    qt_reply(qt, xsim_mem_write(&qt->xs->mem, gpa, buf, len) < 0 ? "ERR not RAM" : "OK");
}

static void cmd_p2m(struct xsim_qtest *qt, char **argv, unsigned argc, bool add)
{
    uint64_t gfn;
    uint32_t nr;
    if (argc != 3 || !parse_u64(argv[1], &gfn) || !parse_u32(argv[2], &nr) ||
        nr > MAX_MEM_LEN || gfn + nr < gfn)
        return qt_reply(qt, "ERR usage");
    for (uint32_t i = 0; i < nr; i++) {
        if (add && xsim_mem_populate(&qt->xs->mem, gfn + i) < 0)
            return qt_reply(qt, "ERR populate failed");
        if (!add)
            xsim_mem_remove(&qt->xs->mem, gfn + i);
    }
    if (add)
        return qt_reply(qt, "OK");
    start_invalidate(qt); /* pages left the p2m: every server drops its mappings */
}

/* ------------------------------------------------------------------ introspection */

/* p2m GFN: `OK PAGE TYPE` (the memfd page, so a relocated frame keeps its number) or ERR. */
static void cmd_p2m_lookup(struct xsim_qtest *qt, char **argv, unsigned argc)
{
    uint64_t gfn, page;
    unsigned type;
    if (argc != 2 || !parse_u64(argv[1], &gfn))
        return qt_reply(qt, "ERR usage: p2m GFN");
    if (!xsim_mem_lookup(&qt->xs->mem, gfn, &page, &type))
        return qt_reply(qt, "ERR absent");
    qt_replyf(qt, "OK 0x%" G_GINT64_MODIFIER "x %u", page, type);
}

/* mmio_owner ADDR SIZE: who would answer a single MMIO access there. */
static void cmd_mmio_owner(struct xsim_qtest *qt, char **argv, unsigned argc)
{
    static const char *const names[] = {
        [XSIM_MMIO_SERVERS] = "dm", [XSIM_MMIO_UNCLAIMED] = "unclaimed",
        [XSIM_MMIO_LAPIC] = "lapic", [XSIM_MMIO_RAM] = "ram",
    };
    struct xsim_access acc = { .type = XENABI_IOREQ_TYPE_COPY, .count = 1 };
    if (argc != 3 || !parse_u64(argv[1], &acc.addr) || !parse_u32(argv[2], &acc.size) ||
        !mmio_size_ok(acc.size) || acc.addr > UINT64_MAX - acc.size)
        return qt_reply(qt, "ERR usage: mmio_owner ADDR SIZE");
    qt_replyf(qt, "OK %s", names[xsim_mmio_owner(qt->xs, &acc)]);
}

/* dirty_vram: `OK off` or `OK FIRST_PFN NR` of the range track_dirty_vram logs. */
static void cmd_dirty_vram(struct xsim_qtest *qt)
{
    const struct xsim_dirty_vram *d = &qt->xs->mem.dirty;
    if (!d->active)
        return qt_reply(qt, "OK off");
    qt_replyf(qt, "OK 0x%" G_GINT64_MODIFIER "x %u", d->first_pfn, d->nr);
}

static void cmd_irq_log(struct xsim_qtest *qt)
{
    struct xsim_irqs *irqs = &qt->xs->irqs;
    unsigned n = irqs->log_len;
    qt_replyf(qt, "OK %u", n);
    for (unsigned i = 0; i < n; i++) {
        struct xsim_irq_event *e = &irqs->log[(irqs->log_head + i) % XSIM_IRQ_LOG_MAX];
        switch (e->kind) {
        case XSIM_IRQ_ISA:
            qt_replyf(qt, "isa %u %u", e->a, e->b);
            break;
        case XSIM_IRQ_INTX:
            qt_replyf(qt, "intx %u %u %u %u", e->a, e->b, e->c, e->gsi);
            break;
        case XSIM_IRQ_LINK:
            qt_replyf(qt, "link %u %u", e->a, e->b);
            break;
        case XSIM_IRQ_MSI:
            qt_replyf(qt, "msi 0x%" G_GINT64_MODIFIER "x 0x%x", e->addr, e->data);
            break;
        default:
            qt_replyf(qt, "shutdown %s", xsim_shutdown_name((int)e->data));
            break;
        }
    }
    irqs->log_head = (irqs->log_head + n) % XSIM_IRQ_LOG_MAX;
    irqs->log_len = 0;
}

static void cmd_level(struct xsim_qtest *qt, char **argv, unsigned argc, bool isa)
{
    uint32_t line;
    unsigned limit = isa ? 16 : G_N_ELEMENTS(qt->xs->irqs.gsi_level);
    if (argc != 2 || !parse_u32(argv[1], &line) || line >= limit)
        return qt_reply(qt, "ERR usage");
    qt_replyf(qt, "OK %u", isa ? qt->xs->irqs.isa_level[line] : qt->xs->irqs.gsi_level[line]);
}

static void cmd_servers(struct xsim_qtest *qt)
{
    unsigned n = 0;
    for (unsigned i = 0; i < XSIM_MAX_SERVERS; i++)
        n += qt->xs->servers[i].in_use;
    qt_replyf(qt, "OK %u", n);
    for (unsigned i = 0; i < XSIM_MAX_SERVERS; i++) {
        if (!qt->xs->servers[i].in_use)
            continue;
        GString *s = g_string_new(NULL);
        xsim_server_describe(&qt->xs->servers[i], s);
        qt_reply(qt, s->str);
        g_string_free(s, TRUE);
    }
}

/* The library connections and their restriction (dm_restrict). */
static void cmd_restrictions(struct xsim_qtest *qt)
{
    g_autoptr(GString) s = g_string_new("OK ");
    xsim_wire_describe_restrictions(qt->xs->wire, s);
    qt_reply(qt, s->str);
}

static void cmd_dm_status(struct xsim_qtest *qt)
{
    struct xsim *xs = qt->xs;
    if (!xs->dm_ended)
        qt_reply(qt, "OK running");
    else if (WIFSIGNALED(xs->dm_wait_status))
        qt_replyf(qt, "OK signalled %d", WTERMSIG(xs->dm_wait_status));
    else
        qt_replyf(qt, "OK exited %d", WEXITSTATUS(xs->dm_wait_status));
}

static void cmd_xs(struct xsim_qtest *qt, char **argv, unsigned argc, const char *line)
{
    if (!strcmp(argv[0], "xs_read")) {
        if (argc != 2)
            return qt_reply(qt, "ERR usage");
        g_autofree char *v = xsim_xs_read(qt->xs->xenstored, argv[1]);
        return v ? qt_replyf(qt, "OK %s", v) : qt_reply(qt, "ERR ENOENT");
    }
    if (argc < 2)
        return qt_reply(qt, "ERR usage");
    /* The value is the rest of the line after the path, spaces included. */
    const char *p = line + strspn(line, " \t") + strlen(argv[0]);
    p += strspn(p, " \t") + strlen(argv[1]);
    if (*p == ' ' || *p == '\t')
        p++;
    int rc = xsim_xs_write(qt->xs->xenstored, argv[1], p);
    qt_reply(qt, rc < 0 ? "ERR EINVAL" : "OK");
}

/* ------------------------------------------------------------------ save and restore */

/*
 * dm_save FILE / dm_restore FILE: the toolstack's sequences; the main loop runs inside them,
 * so the command holds `busy` and no other command starts meanwhile.
 */
static void cmd_save_restore(struct xsim_qtest *qt, char **argv, unsigned argc, bool save)
{
    struct xsim *xs = qt->xs;
    bool (*fn)(struct xsim *, const char *, GError **) = save ? xs->dm_save : xs->dm_restore;
    GError *err = NULL;
    bool ok;

    if (argc != 2)
        return qt_reply(qt, "ERR usage");
    if (!fn)
        return qt_reply(qt, "ERR no toolstack");
    qt->busy = true;
    ok = fn(xs, argv[1], &err);
    qt->busy = false;
    if (ok) {
        qt_reply(qt, "OK");
    } else {
        g_strdelimit(err->message, "\r\n", ' ');
        qt_replyf(qt, "ERR %s", err->message);
        g_error_free(err);
    }
    qt_schedule(qt);
}

/* ------------------------------------------------------------------ dispatch */

static void qt_command(struct xsim_qtest *qt, const char *line)
{
    g_auto(GStrv) argv = g_strsplit_set(line, " \t", -1);
    /* Collapse empty fields from repeated spaces. */
    unsigned argc = 0;
    for (unsigned i = 0; argv[i]; i++) {
        if (*argv[i])
            argv[argc++] = argv[i];
        else
            g_free(argv[i]);
    }
    argv[argc] = NULL;
    if (argc == 0)
        return;
    const char *cmd = argv[0];
    size_t len = strlen(cmd);
    uint32_t sz = size_of_suffix(cmd[len - 1]);
    if ((!strcmp(cmd, "outb") || !strcmp(cmd, "outw") || !strcmp(cmd, "outl")))
        return cmd_pio(qt, argv, argc, false, sz);
    if ((!strcmp(cmd, "inb") || !strcmp(cmd, "inw") || !strcmp(cmd, "inl")))
        return cmd_pio(qt, argv, argc, true, sz);
    if (len == 6 && g_str_has_prefix(cmd, "write") && sz)
        return cmd_mmio(qt, argv, argc, false, sz);
    if (len == 5 && g_str_has_prefix(cmd, "read") && sz)
        return cmd_mmio(qt, argv, argc, true, sz);
    if (!strcmp(cmd, "outs") || !strcmp(cmd, "ins") || !strcmp(cmd, "movs_to_mmio") ||
        !strcmp(cmd, "movs_from_mmio") || !strcmp(cmd, "stos"))
        return cmd_rep(qt, argv, argc);
    if (!strcmp(cmd, "ioreq"))
        return cmd_ioreq(qt, argv, argc);
    if (!strcmp(cmd, "bufioreq") || !strcmp(cmd, "bufraw"))
        return cmd_bufioreq(qt, argv, argc, !strcmp(cmd, "bufraw"));
    if (!strcmp(cmd, "vcpu")) {
        uint32_t n;
        if (argc != 2 || !parse_u32(argv[1], &n) || n >= qt->xs->nr_vcpus)
            return qt_reply(qt, "ERR usage: vcpu N (below the domain's vCPU count)");
        qt->vcpu = n;
        return qt_reply(qt, "OK");
    }
    if (!strcmp(cmd, "bench_io"))
        return cmd_bench_io(qt, argv, argc);
    if (!strcmp(cmd, "dm_cpu_time"))
        return qt_replyf(qt, "OK %" G_GINT64_FORMAT, dm_cpu_time_ns(qt->xs));
    if (!strcmp(cmd, "dm_start_time"))
        return qt_replyf(qt, "OK %" G_GINT64_FORMAT, qt->xs->dm_start_us);
    if (!strcmp(cmd, "invalidate"))
        return start_invalidate(qt);
    if (!strcmp(cmd, "memwrite"))
        return cmd_memwrite(qt, argv, argc);
    if (!strcmp(cmd, "memread"))
        return cmd_memread(qt, argv, argc);
    if (!strcmp(cmd, "memset"))
        return cmd_memset(qt, argv, argc);
    if (!strcmp(cmd, "p2m_remove") || !strcmp(cmd, "p2m_add"))
        return cmd_p2m(qt, argv, argc, !strcmp(cmd, "p2m_add"));
    if (!strcmp(cmd, "p2m"))
        return cmd_p2m_lookup(qt, argv, argc);
    if (!strcmp(cmd, "mmio_owner"))
        return cmd_mmio_owner(qt, argv, argc);
    if (!strcmp(cmd, "dirty_vram"))
        return cmd_dirty_vram(qt);
    if (!strcmp(cmd, "cacheattr")) {
        uint64_t gfn;
        if (argc != 2 || !parse_u64(argv[1], &gfn))
            return qt_reply(qt, "ERR usage: cacheattr GFN");
        int type = xsim_mem_cacheattr(&qt->xs->mem, gfn);
        return type < 0 ? qt_reply(qt, "OK none") : qt_replyf(qt, "OK %d", type);
    }
    if (!strcmp(cmd, "dirty_vram_errno")) {
        uint32_t e;
        if (argc != 2 || !parse_u32(argv[1], &e) || e > 4095)
            return qt_reply(qt, "ERR usage: dirty_vram_errno ERRNO");
        qt->xs->mem.dirty_vram_errno = (int)e;
        return qt_reply(qt, "OK");
    }
    if (!strcmp(cmd, "irq_log"))
        return cmd_irq_log(qt);
    if (!strcmp(cmd, "isa_level") || !strcmp(cmd, "gsi_level"))
        return cmd_level(qt, argv, argc, !strcmp(cmd, "isa_level"));
    if (!strcmp(cmd, "servers"))
        return cmd_servers(qt);
    if (!strcmp(cmd, "dm_status"))
        return cmd_dm_status(qt);
    if (!strcmp(cmd, "dm_save") || !strcmp(cmd, "dm_restore"))
        return cmd_save_restore(qt, argv, argc, !strcmp(cmd, "dm_save"));
    if (!strcmp(cmd, "restrictions"))
        return cmd_restrictions(qt);
    if (!strcmp(cmd, "xs_read") || !strcmp(cmd, "xs_write"))
        return cmd_xs(qt, argv, argc, line);
    if (!strcmp(cmd, "shutdown_reason"))
        return qt_replyf(qt, "OK %s", xsim_shutdown_name(qt->xs->shutdown_reason));
    if (!strcmp(cmd, "hvm_param")) {
        uint32_t index;
        if (argc != 2 || !parse_u32(argv[1], &index) || index >= XSIM_NR_HVM_PARAMS)
            return qt_reply(qt, "ERR usage: hvm_param INDEX");
        return qt_replyf(qt, "OK 0x%llx", (unsigned long long)qt->xs->hvm_params[index]);
    }
    if (!strcmp(cmd, "timeout")) {
        uint32_t ms;
        if (argc != 2 || !parse_u32(argv[1], &ms) || ms == 0)
            return qt_reply(qt, "ERR usage");
        qt->timeout_ms = ms;
        return qt_reply(qt, "OK");
    }
    if (!strcmp(cmd, "quit")) {
        qt_reply(qt, "OK");
        xsim_quit(qt->xs, 0);
        return;
    }
    qt_replyf(qt, "ERR unknown command %s", cmd);
}

/* ------------------------------------------------------------------ input */

static void qt_client_gone(struct xsim_qtest *qt)
{
    if (qt->fd_watch)
        g_source_remove(qt->fd_watch);
    qt->fd_watch = 0;
    if (qt->fd >= 0)
        close(qt->fd);
    qt->fd = -1;
    struct xsim *xs = qt->xs;
    xsim_quit(xs, xs->dm_ended ? xsim_dm_death_status(xs) : 0);
}

/* Takes the next complete line, if any. */
static char *next_line(struct xsim_qtest *qt)
{
    if (qt->source == QT_SCRIPT) {
        char buf[MAX_LINE];
        if (!qt->script || !fgets(buf, sizeof(buf), qt->script))
            return NULL;
        g_strchomp(buf);
        return g_strdup(buf);
    }
    char *nl = memchr(qt->in->str, '\n', qt->in->len);
    if (!nl)
        return NULL;
    char *line = g_strndup(qt->in->str, (gsize)(nl - qt->in->str));
    g_string_erase(qt->in, 0, nl - qt->in->str + 1);
    g_strchomp(line);
    return line;
}

static void qt_run_pending(struct xsim_qtest *qt)
{
    while (qt->started && !qt->busy && qt->xs->qtest == qt) {
        g_autofree char *line = next_line(qt);
        if (!line) {
            if (qt->source == QT_SCRIPT) {
                struct xsim *xs = qt->xs;
                int status = xs->dm_ended ? 20 : 0;
                xsim_quit(xs, status);
            }
            return;
        }
        if (qt->source == QT_SCRIPT) {
            const char *p = line;
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p == '#' || *p == '\0')
                continue;
            printf("> %s\n", p);
            fflush(stdout);
        }
        qt_command(qt, line);
        if (qt->xs->exit_status >= 0)
            return; /* quit */
    }
}

static gboolean on_idle(gpointer opaque)
{
    struct xsim_qtest *qt = opaque;
    qt->idle = 0;
    qt_run_pending(qt);
    return G_SOURCE_REMOVE;
}

static void qt_schedule(struct xsim_qtest *qt)
{
    if (!qt->idle)
        qt->idle = g_idle_add(on_idle, qt);
}

static gboolean on_client_readable(gint fd, GIOCondition cond, gpointer opaque)
{
    struct xsim_qtest *qt = opaque;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return G_SOURCE_CONTINUE;
    if (n <= 0) {
        qt->fd_watch = 0;
        qt_client_gone(qt);
        return G_SOURCE_REMOVE;
    }
    if (qt->in->len + (size_t)n > MAX_LINE * 16) {
        xsim_log("qtest: input too long without newline: dropping the client");
        qt->fd_watch = 0;
        qt_client_gone(qt);
        return G_SOURCE_REMOVE;
    }
    g_string_append_len(qt->in, buf, n);
    qt_run_pending(qt);
    return G_SOURCE_CONTINUE;
}

static void qt_attach_client(struct xsim_qtest *qt, int fd)
{
    qt->fd = fd;
    qt->fd_watch = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_client_readable, qt);
}

static gboolean on_accept(gint fd, GIOCondition cond, gpointer opaque)
{
    struct xsim_qtest *qt = opaque;
    int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    if (cfd < 0)
        return G_SOURCE_CONTINUE;
    /* One client only: stop listening. */
    qt->listen_watch = 0;
    qt_attach_client(qt, cfd);
    return G_SOURCE_REMOVE;
}

static struct xsim_qtest *qt_alloc(struct xsim *xs, enum qt_source source)
{
    struct xsim_qtest *qt = g_new0(struct xsim_qtest, 1);
    qt->xs = xs;
    qt->source = source;
    qt->listen_fd = -1;
    qt->fd = -1;
    qt->in = g_string_new(NULL);
    qt->timeout_ms = DEFAULT_TIMEOUT_MS;
    return qt;
}

struct xsim_qtest *xsim_qtest_new_listen(struct xsim *xs, const char *path, GError **err)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(addr.sun_path)) {
        g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_NAMETOOLONG, "path too long: %s", path);
        return NULL;
    }
    strcpy(addr.sun_path, path);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 1) < 0) {
        g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(errno), "%s: %s", path,
                    g_strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    struct xsim_qtest *qt = qt_alloc(xs, QT_LISTEN);
    qt->listen_fd = fd;
    qt->listen_path = g_strdup(path);
    qt->listen_watch = g_unix_fd_add(fd, G_IO_IN, on_accept, qt);
    return qt;
}

struct xsim_qtest *xsim_qtest_new_fd(struct xsim *xs, int fd, GError **err)
{
    int type;
    socklen_t len = sizeof(type);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) {
        g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(errno), "--qtest-fd %d: %s", fd,
                    g_strerror(errno));
        return NULL;
    }
    struct xsim_qtest *qt = qt_alloc(xs, QT_FD);
    qt_attach_client(qt, fd);
    return qt;
}

struct xsim_qtest *xsim_qtest_new_script(struct xsim *xs, const char *file, GError **err)
{
    FILE *f = fopen(file, "re");
    if (!f) {
        g_set_error(err, G_FILE_ERROR, g_file_error_from_errno(errno), "%s: %s", file,
                    g_strerror(errno));
        return NULL;
    }
    struct xsim_qtest *qt = qt_alloc(xs, QT_SCRIPT);
    qt->script = f;
    return qt;
}

void xsim_qtest_start(struct xsim_qtest *qt)
{
    qt->started = true;
    qt_schedule(qt);
}

void xsim_qtest_pause(struct xsim_qtest *qt)
{
    qt->started = false;
}

void xsim_qtest_free(struct xsim_qtest *qt)
{
    if (!qt)
        return;
    if (qt->timer)
        g_source_remove(qt->timer);
    if (qt->idle)
        g_source_remove(qt->idle);
    if (qt->fd_watch)
        g_source_remove(qt->fd_watch);
    if (qt->listen_watch)
        g_source_remove(qt->listen_watch);
    if (qt->fd >= 0)
        close(qt->fd);
    if (qt->listen_fd >= 0)
        close(qt->listen_fd);
    if (qt->listen_path)
        unlink(qt->listen_path);
    if (qt->script)
        fclose(qt->script);
    g_free(qt->listen_path);
    g_string_free(qt->in, TRUE);
    g_free(qt);
}
