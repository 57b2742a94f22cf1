/*
 * Writes the fuzz targets' seed corpus (tests/fuzz/corpus/): small, meaningful inputs from
 * which the fuzzer starts, one behaviour each.
 *
 *   fuzz-gen-seeds CORPUS_DIR LIBXL_ARGV_FIXTURE_DIR
 *
 * ioreq: a program per device, as a driver would talk to it (fuzz-machine.c's format); vmstate:
 * streams saved from real machines after such programs, followed by a program to run on the
 * loaded state; qmp: libxl's session and others; options: the argv libxl gave on the rig
 * (tests/fixtures/libxl-argv) and command lines that build each device.
 */
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "fuzz-machine.h"
#include "xendm/vmstate.h"

#define COM1 0x3f8
#define I8042_DATA 0x60
#define I8042_CMD 0x64
#define DEBUGCON 0x402
#define TESTDEV_SCRATCH 0xe0
#define TESTDEV_FLUSH 0xe4
#define TESTDEV_SCRATCH_BYTE 0xe8
#define TESTDEV_IRQ 0x2000
#define TESTDEV_IOMEM 0xff000000ull
#define DMA_BUF 0x10000u

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char *path = g_build_filename(dir, name, NULL);
    GError *err = NULL;

    if (!g_file_set_contents(path, data, (gssize)len, &err)) {
        fprintf(stderr, "gen-seeds: %s\n", err->message);
        exit(1);
    }
    g_free(path);
}

static void write_bytes(const char *dir, const char *name, GByteArray *bytes)
{
    write_file(dir, name, bytes->data, bytes->len);
    g_byte_array_free(bytes, TRUE);
}

/* ---- ioreq programs, one per device ---- */

static void out8(GByteArray *p, uint16_t port, uint8_t v) { fuzz_emit_pio(p, false, 1, port, v); }
static void in8(GByteArray *p, uint16_t port) { fuzz_emit_pio(p, true, 1, port, 0); }

/* A 16550 driver: 115200 8N1 with FIFOs, interrupts on, loopback, then REP OUTSB to THR. */
static GByteArray *prog_serial(void)
{
    GByteArray *p = g_byte_array_new();
    static const char text[] = "hello, uart\n";

    out8(p, COM1 + 3, 0x80);           /* LCR: DLAB */
    out8(p, COM1 + 0, 0x01);           /* DLL */
    out8(p, COM1 + 1, 0x00);           /* DLM */
    out8(p, COM1 + 3, 0x03);           /* LCR: 8N1 */
    out8(p, COM1 + 2, 0xc7);           /* FCR: enable, reset both, trigger 14 */
    out8(p, COM1 + 1, 0x0f);           /* IER: all */
    out8(p, COM1 + 4, 0x1b);           /* MCR: DTR RTS OUT2 LOOP */
    for (unsigned i = 0; i < 18; i++) { /* overrun the 16-byte receive FIFO in loopback */
        out8(p, COM1, (uint8_t)('a' + i));
    }
    in8(p, COM1 + 2);                  /* IIR */
    in8(p, COM1 + 5);                  /* LSR */
    for (unsigned i = 0; i < 4; i++) {
        in8(p, COM1);
    }
    fuzz_emit_pio(p, true, 4, COM1, 0); /* an inl across four registers */
    in8(p, COM1 + 6);                  /* MSR */
    out8(p, COM1 + 7, 0x5a);           /* scratch */
    fuzz_emit_ram(p, DMA_BUF, text, sizeof(text) - 1);
    fuzz_emit_pio_rep(p, 0, 1, COM1, sizeof(text) - 1, DMA_BUF);
    fuzz_emit_pio_rep(p, FUZZ_F_READ, 1, COM1, 8, DMA_BUF + 0x100);
    out8(p, COM1 + 4, 0x08);           /* leave loopback */
    fuzz_emit_host_input(p, 0, "typed on the pty", 16);
    in8(p, COM1 + 5);
    in8(p, COM1);
    fuzz_emit_simple(p, FUZZ_OP_TIMERS);
    fuzz_emit_simple(p, FUZZ_OP_SAVE_LOAD);
    return p;
}

/* A PS/2 driver: self test, command byte, keyboard reset and LEDs, mouse enable, A20, reset. */
static GByteArray *prog_i8042(void)
{
    GByteArray *p = g_byte_array_new();

    in8(p, I8042_CMD);
    out8(p, I8042_CMD, 0xaa); in8(p, I8042_DATA);           /* controller self test */
    out8(p, I8042_CMD, 0x20); in8(p, I8042_DATA);           /* read command byte */
    out8(p, I8042_CMD, 0x60); out8(p, I8042_DATA, 0x47);    /* write command byte */
    out8(p, I8042_CMD, 0xa8);                               /* enable aux */
    out8(p, I8042_DATA, 0xff); in8(p, I8042_DATA); in8(p, I8042_DATA); /* keyboard reset */
    out8(p, I8042_DATA, 0xed); out8(p, I8042_DATA, 0x07);   /* LEDs */
    out8(p, I8042_DATA, 0xf0); out8(p, I8042_DATA, 0x02);   /* scancode set 2 */
    out8(p, I8042_DATA, 0xee); in8(p, I8042_DATA);          /* echo */
    out8(p, I8042_CMD, 0xd4); out8(p, I8042_DATA, 0xf4);    /* mouse: enable reporting */
    out8(p, I8042_CMD, 0xd4); out8(p, I8042_DATA, 0xf3);
    out8(p, I8042_CMD, 0xd4); out8(p, I8042_DATA, 200);     /* sample rate */
    out8(p, I8042_CMD, 0xd4); out8(p, I8042_DATA, 0xe9);    /* status request */
    for (unsigned i = 0; i < 5; i++) {
        in8(p, I8042_CMD);
        in8(p, I8042_DATA);
    }
    out8(p, I8042_CMD, 0xd1); out8(p, I8042_DATA, 0xdf);    /* output port: A20 on */
    out8(p, I8042_CMD, 0xd0); in8(p, I8042_DATA);
    fuzz_emit_simple(p, FUZZ_OP_SAVE_LOAD);
    out8(p, I8042_CMD, 0xfe);                               /* pulse reset */
    return p;
}

static GByteArray *prog_port92(void)
{
    GByteArray *p = g_byte_array_new();

    in8(p, 0x92);
    out8(p, 0x92, 0x02); /* A20 */
    in8(p, 0x92);
    out8(p, 0x92, 0x03); /* fast reset */
    fuzz_emit_simple(p, FUZZ_OP_RESET);
    in8(p, 0x92);
    return p;
}

static GByteArray *prog_debugcon(void)
{
    GByteArray *p = g_byte_array_new();
    static const char text[] = "firmware says hi\n";

    in8(p, DEBUGCON);
    out8(p, DEBUGCON, 'X');
    fuzz_emit_ram(p, DMA_BUF, text, sizeof(text) - 1);
    fuzz_emit_pio_rep(p, 0, 1, DEBUGCON, sizeof(text) - 1, DMA_BUF);
    fuzz_emit_pio(p, false, 2, DEBUGCON, 0x4142);
    return p;
}

/* kvm-unit-tests style: scratch widths, IRQ lines, flush page, MMIO with REP MOVS/STOS. */
static GByteArray *prog_testdev(void)
{
    GByteArray *p = g_byte_array_new();
    static const uint8_t pattern[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

    fuzz_emit_pio(p, false, 4, TESTDEV_SCRATCH, 0xdeadbeef);
    fuzz_emit_pio(p, true, 2, TESTDEV_SCRATCH + 1, 0);
    fuzz_emit_pio(p, false, 4, TESTDEV_SCRATCH_BYTE, 0x12345678);
    fuzz_emit_pio(p, true, 4, TESTDEV_SCRATCH_BYTE, 0);
    fuzz_emit_pio(p, false, 4, TESTDEV_FLUSH, DMA_BUF);
    out8(p, TESTDEV_IRQ + 4, 1);  /* raise ISA 4 */
    out8(p, TESTDEV_IRQ + 10, 1);
    fuzz_emit_simple(p, FUZZ_OP_SAVE_LOAD);
    out8(p, TESTDEV_IRQ + 4, 0);
    out8(p, TESTDEV_IRQ + 20, 1); /* a line beyond the ISA 16 */
    fuzz_emit_mmio(p, false, 8, TESTDEV_IOMEM + 0x100, 0x0123456789abcdefull, 1);
    fuzz_emit_mmio(p, true, 4, TESTDEV_IOMEM + 0x104, 0, 1);
    fuzz_emit_mmio(p, false, 4, TESTDEV_IOMEM + 0x200, 0xa5a5a5a5, 16); /* REP STOSD */
    fuzz_emit_ram(p, DMA_BUF, pattern, sizeof(pattern));
    fuzz_emit_mmio_rep(p, 0, 4, TESTDEV_IOMEM + 0x300, 4, DMA_BUF);          /* RAM -> MMIO */
    fuzz_emit_mmio_rep(p, FUZZ_F_READ, 8, TESTDEV_IOMEM + 0x300, 2, DMA_BUF + 0x40000);
    fuzz_emit_mmio_rep(p, FUZZ_F_READ | FUZZ_F_DF, 2, TESTDEV_IOMEM + 0xffe, 8, DMA_BUF + 0x20);
    fuzz_emit_simple(p, FUZZ_OP_INVALIDATE);
    fuzz_emit_mmio_rep(p, 0, 1, TESTDEV_IOMEM + 0xf000, 16, DMA_BUF);
    fuzz_emit_mmio(p, true, 8, TESTDEV_IOMEM + 0xfff8, 0, 1);
    return p;
}

/* Writes Xen buffered (port I/O and low MMIO), drained ahead of a synchronous read. */
static GByteArray *prog_buffered(void)
{
    GByteArray *p = g_byte_array_new();
    static const struct fuzz_buf_entry entries[] = {
        {XENABI_IOREQ_TYPE_PIO, TESTDEV_SCRATCH, 0x11223344, 4},
        {XENABI_IOREQ_TYPE_PIO, COM1 + 7, 0x77, 1},
        {XENABI_IOREQ_TYPE_COPY, 0xa0000, 0x0102030405060708ull, 8}, /* VGA window: unclaimed */
        {XENABI_IOREQ_TYPE_PIO, DEBUGCON, 'B', 1},
        {XENABI_IOREQ_TYPE_PIO, TESTDEV_SCRATCH, 0xbeef, 2},
    };

    fuzz_emit_buffered(p, entries, G_N_ELEMENTS(entries));
    fuzz_emit_pio(p, true, 4, TESTDEV_SCRATCH, 0);
    in8(p, COM1 + 7);
    return p;
}

/* Requests Xen never sends but a broken or hostile emulator path could: all refused. */
static GByteArray *prog_bad_requests(void)
{
    GByteArray *p = g_byte_array_new();
    struct xenabi_ioreq req = {0};

    fuzz_emit_pio(p, true, 8, COM1, 0);                                 /* PIO of 8 bytes */
    fuzz_emit_pio_rep(p, FUZZ_F_READ, 4, COM1, 2000, DMA_BUF);          /* beyond a page */
    fuzz_emit_pio_rep(p, 0, 1, DEBUGCON, 16, 0xa0ff8);                   /* into the hole */
    fuzz_emit_pio_rep(p, FUZZ_F_READ, 1, COM1, 16, 0xffff8);             /* off RAM's end */
    fuzz_emit_mmio(p, true, 4, TESTDEV_IOMEM, 0, 0);                     /* count 0 */
    fuzz_emit_mmio_rep(p, FUZZ_F_READ, 8, TESTDEV_IOMEM + 0xff8, 4, DMA_BUF); /* crosses */
    fuzz_emit_mmio(p, true, 8, 0xfffffffffffffffcull, 0, 1);             /* wraps */
    fuzz_emit_pci(p, true, 4, 0x0000, 0x00, 0);                         /* 00:00.0 vendor */
    fuzz_emit_pci(p, true, 4, 0x0008, 0xffe, 0);                        /* beyond 4 KiB */
    fuzz_emit_pci(p, false, 2, 0x0010, 0x04, 0x0007);
    fuzz_emit_timeoffset(p, 3600);
    fuzz_emit_timeoffset(p, INT64_MAX);                                 /* saturates */
    req.type = 0x42;                                                    /* unknown type */
    req.size = 4;
    req.count = 1;
    req.flags = XENABI_STATE_IOREQ_READY | XENABI_IOREQ_DIR_READ;
    fuzz_emit_raw(p, &req);
    req.type = XENABI_IOREQ_TYPE_PIO;
    req.flags = XENABI_STATE_IOREQ_INPROCESS;                          /* spurious event */
    fuzz_emit_raw(p, &req);
    return p;
}

static void write_ioreq_seeds(const char *dir)
{
    write_bytes(dir, "serial-16550-driver", prog_serial());
    write_bytes(dir, "i8042-ps2-driver", prog_i8042());
    write_bytes(dir, "port92-a20-reset", prog_port92());
    write_bytes(dir, "debugcon-rep-outsb", prog_debugcon());
    write_bytes(dir, "pc-testdev-pio-mmio-dma", prog_testdev());
    write_bytes(dir, "buffered-ring", prog_buffered());
    write_bytes(dir, "bad-requests", prog_bad_requests());
}

/* ---- saved states of real machines ---- */

#define VM_FLAG_TESTDEV 0x01u
#define VM_FLAG_DEBUGCON 0x08u
#define VM_FLAG_FIX_DIGEST 0x10u

/* flags | u32 length | the stream machine `cfg` saved after `setup` | `after` */
static void write_vmstate_seed(const char *dir, const char *name, uint8_t flags,
                               GByteArray *setup, GByteArray *after)
{
    struct fuzz_machine_config cfg = {
        .testdev = flags & VM_FLAG_TESTDEV,
        .serials = (flags >> 1) & 3u,
        .debugcon = flags & VM_FLAG_DEBUGCON,
    };
    struct fuzz_machine *fm = fuzz_machine_new(&cfg);
    GByteArray *seed = g_byte_array_new();
    GBytes *state;
    gsize len;
    const uint8_t *data;
    uint8_t header[5];

    fuzz_machine_run(fm, setup->data, setup->len);
    state = machine_save_state(fm->m);
    data = g_bytes_get_data(state, &len);
    header[0] = flags;
    for (unsigned i = 0; i < 4; i++) {
        header[1 + i] = (uint8_t)(len >> (8 * i));
    }
    g_byte_array_append(seed, header, sizeof(header));
    g_byte_array_append(seed, data, (guint)len);
    g_byte_array_append(seed, after->data, after->len);
    write_bytes(dir, name, seed);
    g_bytes_unref(state);
    g_byte_array_free(setup, TRUE);
    g_byte_array_free(after, TRUE);
    fuzz_machine_free(fm);
}

static void write_vmstate_seeds(const char *dir)
{
    /* i8042 and port92 only: the smallest stream, fastest to mutate. */
    write_vmstate_seed(dir, "chipset-after-ps2-driver", VM_FLAG_FIX_DIGEST, prog_i8042(),
                       prog_port92());
    /* Two UARTs mid-conversation (FIFO filled in loopback) and the debug console. */
    write_vmstate_seed(dir, "serials-after-loopback",
                       VM_FLAG_FIX_DIGEST | VM_FLAG_DEBUGCON | (2u << 1), prog_serial(),
                       prog_serial());
    /* Every device, with pc-testdev lines raised; the digest as saved (not rewritten). */
    write_vmstate_seed(dir, "full-machine-testdev", VM_FLAG_TESTDEV | VM_FLAG_DEBUGCON | (3u << 1),
                       prog_testdev(), prog_i8042());
}

/* ---- QMP sessions ---- */

static void write_text(const char *dir, const char *name, const char *text)
{
    write_file(dir, name, text, strlen(text));
}

static void write_qmp_seeds(const char *dir)
{
    /* What libxl 4.17 sends over a domain's life (xl create, pause/unpause, save, destroy). */
    write_text(dir, "libxl-session",
               "{\"execute\":\"qmp_capabilities\",\"id\":1}\r\n"
               "{\"execute\":\"query-chardev\",\"id\":2}\r\n"
               "{\"execute\":\"query-vnc\",\"id\":3}\r\n"
               "{\"execute\":\"query-status\",\"id\":4}\r\n"
               "{\"execute\":\"stop\",\"id\":5}\r\n"
               "{\"execute\":\"xen-set-global-dirty-log\",\"arguments\":{\"enable\":true},"
               "\"id\":6}\r\n"
               "{\"execute\":\"xen-save-devices-state\",\"arguments\":{\"filename\":"
               "\"/dev/fdset/1\",\"live\":false},\"id\":7}\r\n"
               "{\"execute\":\"cont\",\"id\":8}\r\n"
               "{\"execute\":\"quit\",\"id\":9}\r\n");
    write_text(dir, "every-query",
               "{\"execute\":\"qmp_capabilities\",\"arguments\":{\"enable\":[]}}\n"
               "{\"execute\":\"query-commands\"}{\"execute\":\"query-version\"}"
               "{\"execute\":\"query-name\"}{\"execute\":\"query-pci\"}\n"
               "{\"execute\":\"query-cpus-fast\"}{\"execute\":\"query-hotpluggable-cpus\"}\n"
               "{\"execute\":\"query-fdsets\"}\n"
               "{\"execute\":\"add-fd\",\"arguments\":{\"fdset-id\":3,\"opaque\":\"x\"}}\n"
               "{\"execute\":\"remove-fd\",\"arguments\":{\"fdset-id\":3,\"fd\":7}}\n");
    write_text(dir, "human-monitor",
               "{\"execute\":\"qmp_capabilities\"}\n"
               "{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":"
               "\"info status\"},\"id\":\"a\"}\n"
               "{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":"
               "\"info chardev\",\"cpu-index\":0}}\n"
               "{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":"
               "\"help\"}}\n"
               "{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":"
               "\"stop\"}}\n"
               "{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":"
               "\"c\"}}\n"
               "{\"execute\":\"system_reset\"}{\"execute\":\"system_powerdown\"}\n");
    /* Errors a session must survive: before negotiation, bad members, malformed text. */
    write_text(dir, "errors-and-recovery",
               "{\"execute\":\"query-status\"}\n"
               "{\"execute\":\"qmp_capabilities\"}\n"
               "{\"execute\":\"qmp_capabilities\"}\n"
               "{\"execute\":\"no-such-command\",\"id\":[1,{\"a\":null}]}\n"
               "{\"execute\":1}[]\"str\"{\"arguments\":{}}\n"
               "{\"execute\":\"stop\",\"arguments\":{\"unexpected\":true}}\n"
               "{\"execute\":\"xen-set-global-dirty-log\",\"arguments\":{\"enable\":\"yes\"}}\n"
               "{\"execute\":\"cont\",\"execute\":\"stop\"}\n"
               "{\"execute\": \"query-\x01\n"
               "{\"a\":[[[[[[[[[[1]]]]]]]]]]}\n"
               "{\"execute\":\"query-name\",\"id\":1.5e300}\n");
    /* Harness commands: a chunk boundary mid-request, an event, a reconnect. */
    write_text(dir, "sessions-and-events",
               "{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"query-"
               "\xfe" "fstatus\"}\n"
               "\xfe" "e"
               "{\"execute\":\"stop\"}\n"
               "\xfe" "c"
               "{\"execute\":\"query-status\"}\n"
               "{\"execute\":\"qmp_capabilities\"}{\"execute\":\"cont\"}\n"
               "\xfe" "e");
    write_text(dir, "json-values",
               "{\"s\":\"\\u00e9\\ud83d\\ude00\\n\\t\\\"\\\\\\/\",\"n\":[0,-1,9223372036854775807,"
               "-9223372036854775808,9223372036854775808,1.5,-2e-3,1E+2],"
               "\"b\":[true,false,null],\"u\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}");
}

/* ---- command lines ---- */

/* A fixture: one argument per line, '#' comments; the seed: arguments NUL-separated. */
static void write_fixture_seed(const char *dir, const char *fixture_dir, const char *file)
{
    char *path = g_build_filename(fixture_dir, file, NULL);
    char *text = NULL, **lines;
    GByteArray *seed = g_byte_array_new();
    GError *err = NULL;
    char *name;

    if (!g_file_get_contents(path, &text, NULL, &err)) {
        fprintf(stderr, "gen-seeds: %s\n", err->message);
        exit(1);
    }
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        if (**l == '\0' || **l == '#') {
            continue;
        }
        if (seed->len > 0) {
            g_byte_array_append(seed, (const uint8_t *)"", 1);
        }
        g_byte_array_append(seed, (const uint8_t *)*l, (guint)strlen(*l));
    }
    name = g_strdup_printf("libxl-%s", file);
    write_bytes(dir, name, seed);
    g_free(name);
    g_strfreev(lines);
    g_free(text);
    g_free(path);
}

static void write_words(const char *dir, const char *name, const char *const *words)
{
    GByteArray *seed = g_byte_array_new();

    for (size_t i = 0; words[i]; i++) {
        if (i > 0) {
            g_byte_array_append(seed, (const uint8_t *)"", 1);
        }
        g_byte_array_append(seed, (const uint8_t *)words[i], (guint)strlen(words[i]));
    }
    write_bytes(dir, name, seed);
}

static void write_options_seeds(const char *dir, const char *fixture_dir)
{
    static const char *const every_device[] = {
        "-xen-domid", "7", "-machine", "pc,accel=xen", "-m", "size=512M", "-smp",
        "2,maxcpus=8", "-chardev", "null,id=dbg", "-serial", "null", "-serial", "chardev:dbg",
        "-device", "isa-debugcon,iobase=0x402,chardev=dbg,readback=0xe9", "-device",
        "pc-testdev", "-device", "isa-serial,index=2,iobase=0x3e8,irq=4", "-S", NULL,
    };
    static const char *const restricted[] = {
        "-xen-domid", "3", "-xen-domid-restrict", "-chroot", "/", "-runas",
        "1000:1000", "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,"
        "resourcecontrol=deny", "-incoming", "fd:12", "-vnc", "unix:/run/vnc,,sock",
        "-trace", "enable=ioreq*", NULL,
    };
    static const char *const info[] = {"-device", "help", "-trace", "help", "--version", NULL};
    GDir *d;
    const char *file;
    GError *err = NULL;

    write_words(dir, "every-device", every_device);
    write_words(dir, "restricted", restricted);
    write_words(dir, "info-actions", info);
    d = g_dir_open(fixture_dir, 0, &err);
    if (d == NULL) {
        fprintf(stderr, "gen-seeds: %s\n", err->message);
        exit(1);
    }
    while ((file = g_dir_read_name(d)) != NULL) {
        if (g_str_has_suffix(file, ".argv")) {
            write_fixture_seed(dir, fixture_dir, file);
        }
    }
    g_dir_close(d);
}

static char *subdir(const char *root, const char *name)
{
    char *dir = g_build_filename(root, name, NULL);

    if (g_mkdir_with_parents(dir, 0755) != 0) {
        fprintf(stderr, "gen-seeds: mkdir %s: %s\n", dir, g_strerror(errno));
        exit(1);
    }
    return dir;
}

int main(int argc, char **argv)
{
    char *dir;

    if (argc != 3) {
        fprintf(stderr, "usage: %s CORPUS_DIR LIBXL_ARGV_FIXTURE_DIR\n", argv[0]);
        return 2;
    }
    fuzz_quiet_logs();
    dir = subdir(argv[1], "ioreq");
    write_ioreq_seeds(dir);
    g_free(dir);
    dir = subdir(argv[1], "vmstate");
    write_vmstate_seeds(dir);
    g_free(dir);
    dir = subdir(argv[1], "qmp");
    write_qmp_seeds(dir);
    g_free(dir);
    dir = subdir(argv[1], "options");
    write_options_seeds(dir, argv[2]);
    g_free(dir);
    return 0;
}
