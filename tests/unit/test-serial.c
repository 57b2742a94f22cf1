/*
 * Unit tests of "isa-serial" (16550A) and "isa-debugcon": a machine without an accelerator
 * except a fake one that records ISA interrupt levels, devices driven through m->io.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "xendm/chardev.h"
#include "xendm/keyval.h"
#include "xendm/machine.h"

#define COM1 0x3f8
#define RBR (COM1 + 0)
#define THR (COM1 + 0)
#define DLL (COM1 + 0)
#define IER (COM1 + 1)
#define DLM (COM1 + 1)
#define IIR (COM1 + 2)
#define FCR (COM1 + 2)
#define LCR (COM1 + 3)
#define MCR (COM1 + 4)
#define LSR (COM1 + 5)
#define MSR (COM1 + 6)
#define SCR (COM1 + 7)

struct irq_record {
    bool level[MACHINE_ISA_IRQS];
    unsigned raised[MACHINE_ISA_IRQS];
    unsigned lowered[MACHINE_ISA_IRQS];
};

static void fake_set_isa_irq(void *opaque, unsigned irq, bool level)
{
    struct irq_record *rec = opaque;

    g_assert_cmpuint(irq, <, MACHINE_ISA_IRQS);
    rec->level[irq] = level;
    if (level)
        rec->raised[irq]++;
    else
        rec->lowered[irq]++;
}

static const struct accel_ops fake_accel = {
    .set_isa_irq = fake_set_isa_irq,
};

struct fixture {
    struct machine *m;
    struct irq_record irqs;
    char *dir;
    char *out_path;
};

static void outb(struct fixture *f, uint16_t port, uint8_t val)
{
    address_space_write(f->m->io, port, val, 1);
}

static uint8_t inb(struct fixture *f, uint16_t port)
{
    return (uint8_t)address_space_read(f->m->io, port, 1);
}

static void add_file_chardev(struct fixture *f, const char *id, const char *path)
{
    struct kv_list *kv = kv_new();
    GError *err = NULL;

    kv_set(kv, "backend", "file");
    kv_set(kv, "id", id);
    kv_set(kv, "path", path);
    struct chardev *chr = chardev_new(kv, &err);
    g_assert_no_error(err);
    g_assert_nonnull(chr);
    machine_add_chardev(f->m, chr);
    kv_free(kv);
}

static void *create_device(struct fixture *f, const char *type, const char *props, GError **err)
{
    struct kv_list *kv = kv_parse(props, NULL, err);
    void *dev = NULL;

    if (kv)
        dev = machine_create_device(f->m, type, kv, err);
    kv_free(kv);
    return dev;
}

static void fixture_setup_bare(struct fixture *f, gconstpointer data)
{
    memset(f, 0, sizeof(*f));
    f->m = machine_new();
    f->m->accel = &fake_accel;
    f->m->accel_opaque = &f->irqs;
    f->dir = g_dir_make_tmp("test-serial-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
    f->out_path = g_build_filename(f->dir, "out", NULL);
}

static void fixture_setup(struct fixture *f, gconstpointer data)
{
    GError *err = NULL;

    fixture_setup_bare(f, data);
    add_file_chardev(f, "ser0", f->out_path);
    g_assert_nonnull(create_device(f, "isa-serial", "chardev=ser0", &err));
    g_assert_no_error(err);
}

static void fixture_teardown(struct fixture *f, gconstpointer data)
{
    machine_free(f->m);
    g_unlink(f->out_path);
    g_rmdir(f->dir);
    g_free(f->out_path);
    g_free(f->dir);
}

static char *read_output(struct fixture *f)
{
    char *text = NULL;

    g_assert_true(g_file_get_contents(f->out_path, &text, NULL, NULL));
    return text;
}

/* Runs the event loop until cond(f) holds or a second passes. */
static bool wait_for(struct fixture *f, bool (*cond)(struct fixture *f))
{
    gint64 deadline = g_get_monotonic_time() + G_USEC_PER_SEC;

    while (!cond(f) && g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, FALSE);
    return cond(f);
}

/* ---- registers ---- */

static void test_reset_values(struct fixture *f, gconstpointer data)
{
    g_assert_cmphex(inb(f, IER), ==, 0x00);
    g_assert_cmphex(inb(f, IIR), ==, 0x01);
    g_assert_cmphex(inb(f, LCR), ==, 0x00);
    g_assert_cmphex(inb(f, MCR), ==, 0x00);
    g_assert_cmphex(inb(f, LSR), ==, 0x60);
    g_assert_cmphex(inb(f, MSR), ==, 0xb0);
    g_assert_cmphex(inb(f, RBR), ==, 0x00);
    /* IER's upper nibble and MCR's bits 7:5 do not exist. */
    outb(f, IER, 0xff);
    g_assert_cmphex(inb(f, IER), ==, 0x0f);
    outb(f, MCR, 0xff);
    g_assert_cmphex(inb(f, MCR), ==, 0x1f);
    machine_reset(f->m);
    g_assert_cmphex(inb(f, IER), ==, 0x00);
    g_assert_cmphex(inb(f, MCR), ==, 0x00);
    g_assert_cmphex(inb(f, IIR), ==, 0x01);
}

static void test_divisor_latch(struct fixture *f, gconstpointer data)
{
    outb(f, IER, 0x05);
    outb(f, LCR, 0x83); /* DLAB, 8N1 */
    outb(f, DLL, 0x01);
    outb(f, DLM, 0x02);
    g_assert_cmphex(inb(f, DLL), ==, 0x01);
    g_assert_cmphex(inb(f, DLM), ==, 0x02);
    g_assert_cmphex(inb(f, LCR), ==, 0x83);
    outb(f, LCR, 0x03);
    g_assert_cmphex(inb(f, IER), ==, 0x05); /* the divisor writes did not touch IER */
    outb(f, LCR, 0x83);
    g_assert_cmphex(inb(f, DLL), ==, 0x01);
    g_assert_cmphex(inb(f, DLM), ==, 0x02);
    /* A wide access reaches consecutive byte registers (the core splits it). */
    g_assert_cmphex(address_space_read(f->m->io, DLL, 2), ==, 0x0201);
}

static void test_scratch(struct fixture *f, gconstpointer data)
{
    outb(f, SCR, 0x5a);
    g_assert_cmphex(inb(f, SCR), ==, 0x5a);
    outb(f, SCR, 0xa5);
    g_assert_cmphex(inb(f, SCR), ==, 0xa5);
}

static void test_transmit(struct fixture *f, gconstpointer data)
{
    const char *msg = "hello, world\r\n";

    outb(f, LCR, 0x03);
    for (const char *p = msg; *p; p++) {
        outb(f, THR, (uint8_t)*p);
        g_assert_cmphex(inb(f, LSR) & 0x60, ==, 0x60); /* THRE and TEMT at once */
    }
    char *text = read_output(f);
    g_assert_cmpstr(text, ==, msg);
    g_free(text);
}

static void test_thre_interrupt(struct fixture *f, gconstpointer data)
{
    outb(f, IER, 0x02); /* ETBEI 0 -> 1 with THR empty */
    g_assert_cmphex(inb(f, IIR), ==, 0x02);
    g_assert_cmphex(inb(f, IIR), ==, 0x01); /* reading IIR cleared it */
    outb(f, THR, 'x');
    g_assert_cmphex(inb(f, IIR), ==, 0x02); /* THR emptied again */
    g_assert_cmphex(inb(f, IIR), ==, 0x01);
    outb(f, IER, 0x00);
    outb(f, IER, 0x02); /* re-armed by 0 -> 1 */
    g_assert_cmphex(inb(f, IIR), ==, 0x02);
    outb(f, IER, 0x02); /* 1 -> 1: no new interrupt */
    g_assert_cmphex(inb(f, IIR), ==, 0x01);
}

static void test_loopback(struct fixture *f, gconstpointer data)
{
    outb(f, MCR, 0x10);
    outb(f, THR, 0x55);
    g_assert_cmphex(inb(f, LSR), ==, 0x61);
    g_assert_cmphex(inb(f, RBR), ==, 0x55);
    g_assert_cmphex(inb(f, LSR), ==, 0x60);
    /* Modem outputs feed the modem inputs: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD. */
    inb(f, MSR);
    outb(f, MCR, 0x1f);
    g_assert_cmphex(inb(f, MSR) & 0xf0, ==, 0xf0);
    outb(f, MCR, 0x11); /* DTR only */
    g_assert_cmphex(inb(f, MSR), ==, 0x2d); /* DSR stays; DCTS, TERI, DDCD */
    /* Nothing went to the line. */
    char *text = read_output(f);
    g_assert_cmpstr(text, ==, "");
    g_free(text);
}

static void test_msr_deltas(struct fixture *f, gconstpointer data)
{
    outb(f, MCR, 0x10); /* loopback with all outputs off: CTS, DSR, DCD fall */
    g_assert_cmphex(inb(f, MSR), ==, 0x0b);
    g_assert_cmphex(inb(f, MSR), ==, 0x00); /* deltas clear on read */
    outb(f, MCR, 0x14); /* OUT1 -> RI rises: no TERI */
    g_assert_cmphex(inb(f, MSR), ==, 0x40);
    outb(f, MCR, 0x10); /* RI falls: TERI */
    g_assert_cmphex(inb(f, MSR), ==, 0x04);
    outb(f, MCR, 0x00); /* leaving loopback: the connected line again */
    g_assert_cmphex(inb(f, MSR), ==, 0xbb);
}

static void test_iir_priorities(struct fixture *f, gconstpointer data)
{
    outb(f, MCR, 0x10);  /* loopback: modem status deltas now pending */
    outb(f, IER, 0x0f);  /* all four sources, THRE armed */
    g_assert_cmphex(inb(f, IIR), ==, 0x02); /* THRE above modem status */
    g_assert_cmphex(inb(f, IIR), ==, 0x00); /* modem status */
    inb(f, MSR);
    g_assert_cmphex(inb(f, IIR), ==, 0x01);
    outb(f, THR, 'a');   /* loops back: data available, THRE pending again */
    g_assert_cmphex(inb(f, IIR), ==, 0x04); /* received data above THRE */
    outb(f, THR, 'b');   /* 16450 mode: overrun */
    g_assert_cmphex(inb(f, IIR), ==, 0x06); /* line status above everything */
    g_assert_cmphex(inb(f, LSR), ==, 0x63); /* DR, OE, THRE, TEMT; OE clears */
    g_assert_cmphex(inb(f, IIR), ==, 0x04);
    g_assert_cmphex(inb(f, RBR), ==, 'b');  /* the newer byte overwrote RBR */
    g_assert_cmphex(inb(f, IIR), ==, 0x02);
    g_assert_cmphex(inb(f, IIR), ==, 0x01);
}

static void test_fifo_trigger(struct fixture *f, gconstpointer data)
{
    outb(f, FCR, 0xc7); /* enable, reset both, trigger 14 */
    g_assert_cmphex(inb(f, IIR), ==, 0xc1);
    outb(f, MCR, 0x10);
    inb(f, MSR);
    outb(f, IER, 0x01);
    for (int i = 0; i < 13; i++)
        outb(f, THR, (uint8_t)i);
    g_assert_cmphex(inb(f, IIR), ==, 0xc1); /* 13 < 14 */
    outb(f, THR, 13);
    g_assert_cmphex(inb(f, IIR), ==, 0xc4);
    g_assert_cmphex(inb(f, RBR), ==, 0);
    g_assert_cmphex(inb(f, IIR), ==, 0xc1);
    /* Trigger 4: FCR bits written with FCR0 = 1 take effect without clearing the FIFO. */
    outb(f, FCR, 0x41);
    g_assert_cmphex(inb(f, IIR), ==, 0xc4);
    for (int i = 1; i < 14; i++)
        g_assert_cmphex(inb(f, RBR), ==, i);
    g_assert_cmphex(inb(f, LSR), ==, 0x60);
    /* RX reset empties the FIFO. */
    outb(f, THR, 0x77);
    outb(f, FCR, 0x43);
    g_assert_cmphex(inb(f, LSR) & 0x01, ==, 0);
    /* Disabling the FIFOs: IIR bits 7:6 clear. */
    outb(f, FCR, 0x00);
    g_assert_cmphex(inb(f, IIR) & 0xc0, ==, 0);
}

static bool timeout_indicated(struct fixture *f)
{
    return inb(f, IIR) == 0xcc;
}

static void test_char_timeout(struct fixture *f, gconstpointer data)
{
    outb(f, LCR, 0x83);
    outb(f, DLL, 0x01); /* 115200 baud: 4 character times are about 350 us */
    outb(f, DLM, 0x00);
    outb(f, LCR, 0x03);
    outb(f, FCR, 0x87); /* trigger 8 */
    outb(f, MCR, 0x10);
    inb(f, MSR);
    outb(f, IER, 0x01);
    outb(f, THR, 'a');
    outb(f, THR, 'b');
    g_assert_true(wait_for(f, timeout_indicated));
    g_assert_cmphex(inb(f, RBR), ==, 'a'); /* reading clears the indication, restarts timer */
    g_assert_cmphex(inb(f, IIR), ==, 0xc1);
    g_assert_true(wait_for(f, timeout_indicated));
    g_assert_cmphex(inb(f, RBR), ==, 'b');
    g_main_context_iteration(NULL, FALSE);
    g_usleep(2000);
    g_main_context_iteration(NULL, FALSE);
    g_assert_cmphex(inb(f, IIR), ==, 0xc1); /* empty FIFO: no timeout */
}

static void test_fifo_overrun(struct fixture *f, gconstpointer data)
{
    outb(f, FCR, 0x07);
    outb(f, MCR, 0x10);
    for (int i = 0; i < 17; i++)
        outb(f, THR, (uint8_t)i);
    g_assert_cmphex(inb(f, LSR), ==, 0x63); /* OE: the 17th byte was lost */
    g_assert_cmphex(inb(f, LSR), ==, 0x61);
    for (int i = 0; i < 16; i++)
        g_assert_cmphex(inb(f, RBR), ==, i);
    g_assert_cmphex(inb(f, LSR), ==, 0x60);
}

static void test_break_in_fifo(struct fixture *f, gconstpointer data)
{
    outb(f, FCR, 0x07);
    outb(f, MCR, 0x10);
    outb(f, IER, 0x04);
    outb(f, THR, 'x');
    outb(f, LCR, 0x43); /* break starts: a zero character with BI follows 'x' */
    g_assert_cmphex(inb(f, IIR), ==, 0xc1); /* BI shows once its character is at the head */
    g_assert_cmphex(inb(f, LSR), ==, 0xe1); /* error in FIFO, DR */
    g_assert_cmphex(inb(f, RBR), ==, 'x');
    g_assert_cmphex(inb(f, IIR), ==, 0xc6);
    g_assert_cmphex(inb(f, LSR), ==, 0xf1); /* BI, error in FIFO, DR */
    g_assert_cmphex(inb(f, IIR), ==, 0xc1);
    g_assert_cmphex(inb(f, RBR), ==, 0x00);
    g_assert_cmphex(inb(f, LSR), ==, 0x60);
}

/* ---- the interrupt line ---- */

static void test_irq_out2_gating(struct fixture *f, gconstpointer data)
{
    outb(f, IER, 0x02);
    g_assert_false(f->irqs.level[4]); /* THRE pending, OUT2 off */
    outb(f, MCR, 0x08);
    g_assert_true(f->irqs.level[4]);
    g_assert_cmpuint(f->irqs.raised[4], ==, 1);
    g_assert_cmphex(inb(f, IIR), ==, 0x02);
    g_assert_false(f->irqs.level[4]);
    outb(f, THR, 'z');
    g_assert_true(f->irqs.level[4]);
    g_assert_cmpuint(f->irqs.raised[4], ==, 2);
    outb(f, MCR, 0x00);
    g_assert_false(f->irqs.level[4]);
    outb(f, MCR, 0x18); /* loopback forces OUT2 inactive: the PC's gate stays closed */
    g_assert_false(f->irqs.level[4]);
    g_assert_cmphex(inb(f, IIR), ==, 0x02);
    outb(f, IER, 0x00);
    outb(f, MCR, 0x08);
    g_assert_false(f->irqs.level[4]);
    g_assert_false(f->irqs.level[3]);
}

static void test_irq_receive(struct fixture *f, gconstpointer data)
{
    outb(f, MCR, 0x18);
    outb(f, THR, 'q');
    outb(f, IER, 0x01);
    outb(f, MCR, 0x08); /* leave loopback: the byte stays, the gate opens */
    g_assert_true(f->irqs.level[4]);
    g_assert_cmphex(inb(f, IIR), ==, 0x04);
    g_assert_cmphex(inb(f, RBR), ==, 'q');
    g_assert_false(f->irqs.level[4]);
}

/* ---- properties ---- */

static void test_com_defaults(struct fixture *f, gconstpointer data)
{
    GError *err = NULL;

    g_assert_nonnull(create_device(f, "isa-serial", "index=1", &err));
    g_assert_no_error(err);
    g_assert_cmphex(inb(f, 0x2f8 + 5), ==, 0x60);
    address_space_write(f->m->io, 0x2f8 + 1, 0x02, 1);
    address_space_write(f->m->io, 0x2f8 + 4, 0x08, 1);
    g_assert_true(f->irqs.level[3]);
    g_assert_nonnull(create_device(f, "isa-serial", "iobase=0x3e0,irq=5", &err));
    g_assert_no_error(err);
    g_assert_cmphex(inb(f, 0x3e0 + 6), ==, 0xb0);

    g_assert_null(create_device(f, "isa-serial", "index=4", &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_null(create_device(f, "isa-serial", "index=2,irq=16", &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_null(create_device(f, "isa-serial", "index=3,chardev=nope", &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_null(create_device(f, "isa-serial", "index=3,colour=red", &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_null(create_device(f, "isa-serial", "index=1", &err)); /* ports taken */
    g_assert_nonnull(err);
    g_clear_error(&err);
    /* The failures left no port behind. */
    g_assert_cmphex(inb(f, 0x2e8 + 5), ==, 0xff);
}

/* ---- receive through a chardev ---- */

static struct chardev *add_socket_server(struct fixture *f, const char *id, const char *path)
{
    struct kv_list *kv = kv_new();
    GError *err = NULL;

    kv_set(kv, "backend", "socket");
    kv_set(kv, "id", id);
    kv_set(kv, "path", path);
    kv_set(kv, "server", "on");
    kv_set(kv, "wait", "off");
    struct chardev *chr = chardev_new(kv, &err);
    g_assert_no_error(err);
    kv_free(kv);
    machine_add_chardev(f->m, chr);
    return chr;
}

/* A client connected to the Unix socket at `path`. */
static int connect_client(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int client = socket(AF_UNIX, SOCK_STREAM, 0);

    g_assert_cmpint(client, >=, 0);
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    g_assert_cmpint(connect(client, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    return client;
}

static void test_receive_flow_control(struct fixture *f, gconstpointer data)
{
    GError *err = NULL;
    char *sock = g_build_filename(f->dir, "sock", NULL);
    uint8_t sent[40], got[40];
    unsigned total = 0;

    add_socket_server(f, "net0", sock);
    g_assert_nonnull(create_device(f, "isa-serial", "index=1,chardev=net0", &err));
    g_assert_no_error(err);

    int client = connect_client(sock);
    for (unsigned i = 0; i < sizeof(sent); i++)
        sent[i] = (uint8_t)(0x40 + i);
    g_assert_cmpint(write(client, sent, sizeof(sent)), ==, sizeof(sent));

    /* COM2 with FIFOs on: at most 16 bytes enter; the rest waits in the socket. */
    address_space_write(f->m->io, 0x2f8 + 2, 0x01, 1);
    gint64 deadline = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
    while (total < sizeof(sent) && g_get_monotonic_time() < deadline) {
        for (int i = 0; i < 20; i++)
            g_main_context_iteration(NULL, FALSE);
        unsigned count = 0;
        while (total < sizeof(sent) && (address_space_read(f->m->io, 0x2f8 + 5, 1) & 1)) {
            got[total++] = (uint8_t)address_space_read(f->m->io, 0x2f8, 1);
            count++;
        }
        g_assert_cmpuint(count, <=, 16);
    }
    g_assert_cmpuint(total, ==, sizeof(sent));
    g_assert_cmpmem(got, total, sent, sizeof(sent));

    /* Transmit reaches the client. */
    address_space_write(f->m->io, 0x2f8, 'Z', 1);
    char c = 0;
    g_assert_cmpint(read(client, &c, 1), ==, 1);
    g_assert_cmpint(c, ==, 'Z');
    close(client);
    g_free(sock);
}

/*
 * accept() failing for lack of fds leaves the client in the backlog and the listening socket
 * readable: the chardev must back off, not spin the loop (and its log) until an fd frees up.
 */
static void test_accept_out_of_fds(struct fixture *f, gconstpointer data)
{
    GError *err = NULL;
    char *sock = g_build_filename(f->dir, "sock", NULL);
    struct rlimit saved, tight;
    unsigned dispatched = 0;

    struct chardev *chr = add_socket_server(f, "net0", sock);
    g_assert_nonnull(create_device(f, "isa-serial", "index=1,chardev=net0", &err));
    g_assert_no_error(err);
    int client = connect_client(sock);

    /* No fd left for accept(): the limit is the lowest free descriptor. */
    int probe = dup(client);
    g_assert_cmpint(probe, >=, 0);
    close(probe);
    g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &saved), ==, 0);
    tight = saved;
    tight.rlim_cur = (rlim_t)probe;
    g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &tight), ==, 0);
    for (int i = 0; i < 200; i++)
        dispatched += g_main_context_iteration(NULL, FALSE);
    g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &saved), ==, 0);
    g_assert_cmpuint(dispatched, <=, 2);
    g_assert_true(g_str_has_prefix(chardev_filename(chr), "disconnected:"));

    /* Once fds are available again the waiting client is accepted. */
    gint64 deadline = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;
    while (g_str_has_prefix(chardev_filename(chr), "disconnected:") &&
           g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, FALSE);
    g_assert_false(g_str_has_prefix(chardev_filename(chr), "disconnected:"));
    address_space_write(f->m->io, 0x2f8, 'Q', 1);
    char c = 0;
    g_assert_cmpint(read(client, &c, 1), ==, 1);
    g_assert_cmpint(c, ==, 'Q');
    close(client);
    g_free(sock);
}

/* The guest is the adversary: any sequence of accesses leaves a sane, bounded device. */
static void test_guest_noise(struct fixture *f, gconstpointer data)
{
    GRand *rand = g_rand_new_with_seed(0x16550);

    for (int i = 0; i < 200000; i++) {
        uint16_t port = (uint16_t)(COM1 + g_rand_int_range(rand, 0, 8));
        unsigned size = 1u << g_rand_int_range(rand, 0, 3);
        if (g_rand_boolean(rand))
            address_space_write(f->m->io, port, g_rand_int(rand), size);
        else
            address_space_read(f->m->io, port, size);
    }
    g_rand_free(rand);
    /* Whatever state it reached, reset brings back the datasheet's values. */
    machine_reset(f->m);
    g_assert_cmphex(inb(f, IIR), ==, 0x01);
    g_assert_cmphex(inb(f, LSR), ==, 0x60);
    g_assert_cmphex(inb(f, MSR), ==, 0xb0);
    g_assert_false(f->irqs.level[4]);
    outb(f, MCR, 0x10);
    for (int i = 0; i < 40; i++)
        outb(f, THR, (uint8_t)i);
    unsigned n = 0;
    while ((inb(f, LSR) & 0x01) && n < 100) {
        inb(f, RBR);
        n++;
    }
    g_assert_cmpuint(n, ==, 1); /* FIFOs off after reset: one holding register */
}

/* ---- debugcon ---- */

static void test_debugcon(struct fixture *f, gconstpointer data)
{
    GError *err = NULL;

    add_file_chardev(f, "dbg", f->out_path);
    g_assert_nonnull(create_device(f, "isa-debugcon", "iobase=0x402,chardev=dbg", &err));
    g_assert_no_error(err);
    g_assert_nonnull(create_device(f, "isa-debugcon", "readback=0x12", &err));
    g_assert_no_error(err);
    g_assert_cmphex(inb(f, 0x402), ==, 0xe9);
    g_assert_cmphex(inb(f, 0xe9), ==, 0x12);
    for (const char *p = "SeaBIOS\n"; *p; p++)
        outb(f, 0x402, (uint8_t)*p);
    outb(f, 0xe9, 'x'); /* no chardev: dropped */
    address_space_write(f->m->io, 0x402, 0x2121, 2); /* only the first byte hits the port */
    char *text = read_output(f);
    g_assert_cmpstr(text, ==, "SeaBIOS\n!");
    g_free(text);
    g_assert_null(create_device(f, "isa-debugcon", "iobase=0x10000", &err));
    g_assert_nonnull(err);
    g_clear_error(&err);
    g_assert_null(create_device(f, "isa-debugcon", "iobase=0x402", &err)); /* in use */
    g_assert_nonnull(err);
    g_clear_error(&err);
}

#define ADD(name, fn) g_test_add(name, struct fixture, NULL, fixture_setup, fn, fixture_teardown)
#define ADD_BARE(name, fn)                                                                       \
    g_test_add(name, struct fixture, NULL, fixture_setup_bare, fn, fixture_teardown)

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    ADD("/serial/reset-values", test_reset_values);
    ADD("/serial/divisor-latch", test_divisor_latch);
    ADD("/serial/scratch", test_scratch);
    ADD("/serial/transmit", test_transmit);
    ADD("/serial/thre-interrupt", test_thre_interrupt);
    ADD("/serial/loopback", test_loopback);
    ADD("/serial/msr-deltas", test_msr_deltas);
    ADD("/serial/iir-priorities", test_iir_priorities);
    ADD("/serial/fifo-trigger", test_fifo_trigger);
    ADD("/serial/char-timeout", test_char_timeout);
    ADD("/serial/fifo-overrun", test_fifo_overrun);
    ADD("/serial/break-in-fifo", test_break_in_fifo);
    ADD("/serial/irq-out2-gating", test_irq_out2_gating);
    ADD("/serial/irq-receive", test_irq_receive);
    ADD("/serial/com-defaults", test_com_defaults);
    ADD("/serial/guest-noise", test_guest_noise);
    ADD_BARE("/serial/receive-flow-control", test_receive_flow_control);
    ADD_BARE("/serial/accept-out-of-fds", test_accept_out_of_fds);
    ADD_BARE("/debugcon/output", test_debugcon);
    return g_test_run();
}
