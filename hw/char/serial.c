/*
 * "isa-serial": a 16550A UART on the ISA bus (COM1..COM4).
 *
 * Register model after the National Semiconductor PC16550D datasheet (June 1995), "8.0 Registers"
 * and Table II (summary of registers), Table IV (interrupt control functions).
 *
 * Timing: transmission is instantaneous. A byte written to THR goes to the chardev at once, so
 * THR and the transmitter are always empty again by the time the guest looks (THRE and TEMT read
 * 1, and the TX FIFO never holds anything). Received bytes enter the RX FIFO as fast as the
 * chardev delivers them, bounded by the free FIFO space (can_receive), so they wait in the
 * backend's kernel buffer rather than overrunning. Only the receiver's character timeout uses
 * the programmed baud rate (see serial_arm_timeout()).
 */
#include <glib.h>
#include "xendm/chardev.h"
#include "xendm/common.h"
#include "xendm/keyval.h"
#include "xendm/log.h"
#include "xendm/machine.h"
#include "xendm/memory.h"
#include "xendm/trace.h"
#include "xendm/vmstate.h"

/* Register offsets (datasheet Table II); DLL/DLM replace RBR/THR and IER while LCR.DLAB = 1. */
enum serial_reg {
    UART_RBR_THR = 0,
    UART_IER = 1,
    UART_IIR_FCR = 2,
    UART_LCR = 3,
    UART_MCR = 4,
    UART_LSR = 5,
    UART_MSR = 6,
    UART_SCR = 7,
};
#define UART_REGION_SIZE 8

#define IER_ERBFI 0x01 /* received data available */
#define IER_ETBEI 0x02 /* transmitter holding register empty */
#define IER_ELSI 0x04  /* receiver line status */
#define IER_EDSSI 0x08 /* modem status */
#define IER_MASK 0x0f

/* IIR bits 3:0, Table IV; bit 0 set means "no interrupt pending". */
#define IIR_NONE 0x01
#define IIR_RLS 0x06
#define IIR_RDA 0x04
#define IIR_CTI 0x0c
#define IIR_THRE 0x02
#define IIR_MSI 0x00
#define IIR_FIFOS_ENABLED 0xc0

#define FCR_ENABLE 0x01
#define FCR_RX_RESET 0x02
#define FCR_TX_RESET 0x04
#define FCR_DMA_MODE 0x08
#define FCR_TRIGGER 0xc0

#define LCR_WORD_LENGTH 0x03
#define LCR_TWO_STOP_BITS 0x04
#define LCR_PARITY 0x08
#define LCR_BREAK 0x40
#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_PE 0x04
#define LSR_FE 0x08
#define LSR_BI 0x10
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define LSR_RX_FIFO_ERROR 0x80
#define LSR_ERRORS (LSR_OE | LSR_PE | LSR_FE | LSR_BI)
#define LSR_CHAR_ERRORS (LSR_PE | LSR_FE | LSR_BI) /* belong to one received character */

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_DELTAS 0x0f
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80
/* Outside loopback the modem inputs show a connected, ready line: DCD, DSR, CTS. */
#define MSR_LINE_CONNECTED (MSR_DCD | MSR_DSR | MSR_CTS)

#define UART_FIFO_SIZE 16
#define UART_CLOCK_HZ 115200 /* 1.8432 MHz / 16: the baud rate for divisor 1 */
#define UART_RESET_DIVISOR 12 /* 9600 baud until the guest programs it; not reset by MR */
#define NS_PER_SECOND 1000000000ull

static const struct { uint16_t iobase; uint8_t irq; } serial_com_defaults[] = {
    { 0x3f8, 4 }, { 0x2f8, 3 }, { 0x3e8, 4 }, { 0x2e8, 3 },
};

/* The receiver FIFO; each byte carries its PE/FE/BI flags (datasheet 8.6.3, LSR bits 2-4). */
struct serial_rx_fifo {
    uint8_t data[UART_FIFO_SIZE];
    uint8_t errors[UART_FIFO_SIZE];
    unsigned head;
    unsigned count;
};

struct serial {
    struct region *region;
    struct irq_line *irq;
    struct chardev *chr; /* NULL: output dropped, no input */
    struct timer *timeout_timer;
    uint16_t iobase;

    uint16_t divisor;
    uint8_t ier;
    uint8_t fcr; /* write-only on hardware; kept for the enable bit and trigger level */
    uint8_t lcr;
    uint8_t mcr;
    uint8_t msr;        /* inputs (bits 7:4) and deltas (bits 3:0) */
    uint8_t scr;
    uint8_t lsr_errors; /* OE, and PE/FE/BI of the character at the FIFO's head; clear on read */
    uint8_t rbr;        /* last byte read: what RBR shows once the FIFO is empty */
    bool thre_pending;  /* the THRE interrupt (cleared by reading IIR when it is the source) */
    bool timeout_pending; /* character timeout indication (IIR 0xC) */
    bool irq_level;
    struct serial_rx_fifo rx;
};

static GQuark serial_error_quark(void)
{
    return g_quark_from_static_string("xendm-serial-error");
}

/* ---- receiver FIFO ---- */

static bool serial_fifo_enabled(const struct serial *s)
{
    return s->fcr & FCR_ENABLE;
}

/* With the FIFOs off the receiver holds one character (RBR), as on a 16450. */
static unsigned serial_rx_capacity(const struct serial *s)
{
    return serial_fifo_enabled(s) ? UART_FIFO_SIZE : 1;
}

static unsigned serial_rx_trigger(const struct serial *s)
{
    static const uint8_t levels[4] = { 1, 4, 8, 14 }; /* FCR bits 7:6, datasheet 8.4 */

    return serial_fifo_enabled(s) ? levels[(s->fcr & FCR_TRIGGER) >> 6] : 1;
}

static bool serial_rx_errors_in_fifo(const struct serial *s)
{
    for (unsigned i = 0; i < s->rx.count; i++) {
        if (s->rx.errors[(s->rx.head + i) % UART_FIFO_SIZE])
            return true;
    }
    return false;
}

/* The errors of the character at the head show in LSR when it reaches the head (8.6.3). */
static void serial_latch_head_errors(struct serial *s)
{
    if (s->rx.count)
        s->lsr_errors |= s->rx.errors[s->rx.head];
}

static void serial_rx_clear(struct serial *s)
{
    s->rx.head = 0;
    s->rx.count = 0;
    s->lsr_errors &= ~LSR_CHAR_ERRORS;
    s->timeout_pending = false;
    timer_cancel(s->timeout_timer);
}

/*
 * The character timeout (datasheet 8.7 "FIFO interrupt mode operation"): with at least one
 * character in the FIFO, no character received and none read for 4 character times.
 * A character time follows LCR: start bit, 5-8 data bits, optional parity, 1 or 2 stop bits
 * (1.5 with 5 data bits, rounded up to 2), at 115200 / divisor baud.
 */
static uint64_t serial_char_time_ns(const struct serial *s)
{
    unsigned bits = 1 + 5 + (s->lcr & LCR_WORD_LENGTH) + ((s->lcr & LCR_PARITY) ? 1 : 0) +
                    ((s->lcr & LCR_TWO_STOP_BITS) ? 2 : 1);
    uint64_t divisor = s->divisor ? s->divisor : 0x10000; /* 0 behaves as the largest value */

    return bits * divisor * NS_PER_SECOND / UART_CLOCK_HZ;
}

static void serial_arm_timeout(struct serial *s)
{
    if (serial_fifo_enabled(s) && s->rx.count)
        timer_arm_ns(s->timeout_timer, 4 * serial_char_time_ns(s));
    else
        timer_cancel(s->timeout_timer);
}

/* ---- interrupts ---- */

static bool serial_rx_data_available(const struct serial *s)
{
    return s->rx.count && s->rx.count >= serial_rx_trigger(s);
}

/* IIR bits 3:0 by priority, datasheet Table IV. */
static uint8_t serial_pending_source(const struct serial *s)
{
    if ((s->ier & IER_ELSI) && (s->lsr_errors & LSR_ERRORS))
        return IIR_RLS;
    if ((s->ier & IER_ERBFI) && serial_rx_data_available(s))
        return IIR_RDA;
    if ((s->ier & IER_ERBFI) && s->timeout_pending)
        return IIR_CTI;
    if ((s->ier & IER_ETBEI) && s->thre_pending)
        return IIR_THRE;
    if ((s->ier & IER_EDSSI) && (s->msr & MSR_DELTAS))
        return IIR_MSI;
    return IIR_NONE;
}

/*
 * On the PC the UART's INTR pin reaches the ISA line through a buffer enabled by OUT2.
 * In loopback the modem-control outputs are forced inactive (datasheet 8.6.2, MCR bit 4),
 * so the buffer is off and no interrupt reaches the PIC, although IIR still reports it.
 */
static void serial_update_irq(struct serial *s)
{
    bool gate_open = (s->mcr & MCR_OUT2) && !(s->mcr & MCR_LOOP);
    bool level = gate_open && serial_pending_source(s) != IIR_NONE;

    if (level == s->irq_level)
        return;
    TRACE(serial_irq, "iobase=0x%x level=%d", s->iobase, level);
    s->irq_level = level;
    irq_set_level(s->irq, level);
}

/* ---- receive path (from the chardev, or from THR in loopback) ---- */

static void serial_rx_push(struct serial *s, uint8_t byte, uint8_t errors)
{
    if (s->rx.count >= serial_rx_capacity(s)) {
        s->lsr_errors |= LSR_OE;
        if (!serial_fifo_enabled(s)) {
            /* 16450 mode: the new character overwrites RBR (8.6.3, LSR bit 1). */
            s->rx.data[s->rx.head] = byte;
            s->rx.errors[s->rx.head] = errors;
            serial_latch_head_errors(s);
        }
        /* FIFO mode: the character in the shift register is lost, the FIFO is kept. */
        return;
    }
    unsigned tail = (s->rx.head + s->rx.count) % UART_FIFO_SIZE;
    s->rx.data[tail] = byte;
    s->rx.errors[tail] = errors;
    s->rx.count++;
    if (s->rx.count == 1)
        serial_latch_head_errors(s);
    s->timeout_pending = false;
    serial_arm_timeout(s);
}

static size_t serial_can_receive(void *opaque)
{
    struct serial *s = opaque;

    /* In loopback the serial input pin is disconnected: the line's bytes wait in the backend. */
    if (s->mcr & MCR_LOOP)
        return 0;
    return serial_rx_capacity(s) - s->rx.count;
}

static void serial_receive(void *opaque, const uint8_t *buf, size_t len)
{
    struct serial *s = opaque;

    for (size_t i = 0; i < len; i++)
        serial_rx_push(s, buf[i], 0);
    serial_update_irq(s);
}

static void serial_timeout_fired(void *opaque)
{
    struct serial *s = opaque;

    if (serial_fifo_enabled(s) && s->rx.count) {
        s->timeout_pending = true;
        serial_update_irq(s);
    }
}

/* ---- register reads ---- */

static uint8_t serial_read_rbr(struct serial *s)
{
    if (s->rx.count) {
        s->rbr = s->rx.data[s->rx.head];
        s->rx.head = (s->rx.head + 1) % UART_FIFO_SIZE;
        s->rx.count--;
        s->lsr_errors &= ~LSR_CHAR_ERRORS;
        serial_latch_head_errors(s);
    }
    s->timeout_pending = false;
    serial_arm_timeout(s);
    chardev_accept_input(s->chr);
    return s->rbr;
}

static uint8_t serial_read_iir(struct serial *s)
{
    uint8_t source = serial_pending_source(s);

    /* Reading IIR while THRE is the reported source clears it (Table IV, "reset control"). */
    if (source == IIR_THRE)
        s->thre_pending = false;
    return source | (serial_fifo_enabled(s) ? IIR_FIFOS_ENABLED : 0);
}

static uint8_t serial_read_lsr(struct serial *s)
{
    uint8_t lsr = LSR_THRE | LSR_TEMT | s->lsr_errors;

    if (s->rx.count)
        lsr |= LSR_DR;
    /* Bit 7: some character in the FIFO has an error; 0 in 16450 mode (8.6.3). */
    if (serial_fifo_enabled(s) && serial_rx_errors_in_fifo(s))
        lsr |= LSR_RX_FIFO_ERROR;
    s->lsr_errors = 0; /* OE, PE, FE, BI clear when LSR is read */
    return lsr;
}

static uint8_t serial_read_msr(struct serial *s)
{
    uint8_t msr = s->msr;

    s->msr &= ~MSR_DELTAS; /* the delta bits clear when MSR is read */
    return msr;
}

static uint8_t serial_read_reg(struct serial *s, unsigned reg)
{
    bool dlab = s->lcr & LCR_DLAB;

    switch (reg) {
    case UART_RBR_THR:
        return dlab ? (uint8_t)s->divisor : serial_read_rbr(s);
    case UART_IER:
        return dlab ? (uint8_t)(s->divisor >> 8) : s->ier;
    case UART_IIR_FCR:
        return serial_read_iir(s);
    case UART_LCR:
        return s->lcr;
    case UART_MCR:
        return s->mcr;
    case UART_LSR:
        return serial_read_lsr(s);
    case UART_MSR:
        return serial_read_msr(s);
    default:
        return s->scr;
    }
}

static uint64_t serial_io_read(void *opaque, uint64_t offset, unsigned size)
{
    struct serial *s = opaque;
    unsigned reg = offset % UART_REGION_SIZE;
    uint8_t val = serial_read_reg(s, reg);

    serial_update_irq(s);
    TRACE(serial_read, "iobase=0x%x reg=%u val=0x%02x", s->iobase, reg, val);
    return val;
}

/* ---- register writes ---- */

/* Modem-status inputs: from the line, or in loopback from MCR's outputs (8.6.2). */
static uint8_t serial_modem_inputs(const struct serial *s)
{
    if (!(s->mcr & MCR_LOOP))
        return MSR_LINE_CONNECTED;
    return ((s->mcr & MCR_RTS) ? MSR_CTS : 0) | ((s->mcr & MCR_DTR) ? MSR_DSR : 0) |
           ((s->mcr & MCR_OUT1) ? MSR_RI : 0) | ((s->mcr & MCR_OUT2) ? MSR_DCD : 0);
}

/* MSR bits 3:0 record changes of the inputs since MSR was last read; TERI only RI's 1 -> 0. */
static void serial_update_modem_inputs(struct serial *s)
{
    uint8_t old = s->msr & ~MSR_DELTAS;
    uint8_t now = serial_modem_inputs(s);
    uint8_t changed = old ^ now;
    uint8_t deltas = 0;

    if (changed & MSR_CTS)
        deltas |= MSR_DCTS;
    if (changed & MSR_DSR)
        deltas |= MSR_DDSR;
    if (changed & MSR_DCD)
        deltas |= MSR_DDCD;
    if ((old & MSR_RI) && !(now & MSR_RI))
        deltas |= MSR_TERI;
    s->msr = now | (s->msr & MSR_DELTAS) | deltas;
}

static void serial_write_thr(struct serial *s, uint8_t val)
{
    if (s->mcr & MCR_LOOP)
        serial_rx_push(s, val, 0); /* the transmitter's output is looped to the receiver */
    else
        chardev_write(s->chr, &val, 1);
    /* Writing THR clears the THRE interrupt, but the byte left at once: THR is empty again. */
    s->thre_pending = true;
}

static void serial_write_ier(struct serial *s, uint8_t val)
{
    uint8_t old = s->ier;

    s->ier = val & IER_MASK;
    /* Enabling ETBEI with THR empty raises the THRE interrupt (it is always empty here). */
    if (!(old & IER_ETBEI) && (s->ier & IER_ETBEI))
        s->thre_pending = true;
}

static void serial_write_fcr(struct serial *s, uint8_t val)
{
    /* Changing FCR0 clears both FIFOs; the TX FIFO is always empty here. */
    if ((val ^ s->fcr) & FCR_ENABLE)
        serial_rx_clear(s);
    if (!(val & FCR_ENABLE)) {
        /* "FCR0 must be 1 when other FCR bits are written to or they will not be programmed." */
        s->fcr &= ~FCR_ENABLE;
        goto out;
    }
    if (val & FCR_RX_RESET)
        serial_rx_clear(s);
    s->fcr = val & (FCR_ENABLE | FCR_DMA_MODE | FCR_TRIGGER);
out:
    chardev_accept_input(s->chr);
}

static void serial_write_lcr(struct serial *s, uint8_t val)
{
    bool break_starts = !(s->lcr & LCR_BREAK) && (val & LCR_BREAK);

    s->lcr = val;
    /* In loopback the receiver sees the break: one zero character with BI (8.6.3, LSR bit 4). */
    if (break_starts && (s->mcr & MCR_LOOP))
        serial_rx_push(s, 0, LSR_BI);
}

static void serial_write_mcr(struct serial *s, uint8_t val)
{
    s->mcr = val & MCR_MASK; /* bits 7:5 are always 0 on the 16550 */
    serial_update_modem_inputs(s);
    chardev_accept_input(s->chr); /* leaving loopback reconnects the serial input */
}

static void serial_write_reg(struct serial *s, unsigned reg, uint8_t val)
{
    bool dlab = s->lcr & LCR_DLAB;

    switch (reg) {
    case UART_RBR_THR:
        if (dlab)
            s->divisor = (s->divisor & 0xff00) | val;
        else
            serial_write_thr(s, val);
        break;
    case UART_IER:
        if (dlab)
            s->divisor = (uint16_t)((s->divisor & 0x00ff) | (val << 8));
        else
            serial_write_ier(s, val);
        break;
    case UART_IIR_FCR:
        serial_write_fcr(s, val);
        break;
    case UART_LCR:
        serial_write_lcr(s, val);
        break;
    case UART_MCR:
        serial_write_mcr(s, val);
        break;
    case UART_SCR:
        s->scr = val;
        break;
    default:
        /* LSR and MSR are for factory test on the 16550; a write has no defined effect. */
        log_guest_error("isa-serial 0x%x: write 0x%02x to read-only register %u ignored",
                        s->iobase, val, reg);
        break;
    }
}

static void serial_io_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct serial *s = opaque;
    unsigned reg = offset % UART_REGION_SIZE;

    TRACE(serial_write, "iobase=0x%x reg=%u val=0x%02x", s->iobase, reg, (unsigned)(value & 0xff));
    serial_write_reg(s, reg, (uint8_t)value);
    serial_update_irq(s);
}

static const struct region_ops serial_ops = {
    .read = serial_io_read,
    .write = serial_io_write,
    .min_access = 1,
    .max_access = 1,
};

/* ---- life cycle ---- */

/* Master reset values, datasheet Table III; the divisor latch and SCR are not affected. */
static void serial_reset(void *dev)
{
    struct serial *s = dev;

    s->ier = 0;
    s->fcr = 0;
    s->lcr = 0;
    s->mcr = 0;
    s->lsr_errors = 0;
    s->msr = MSR_LINE_CONNECTED;
    s->thre_pending = false;
    serial_rx_clear(s);
    serial_update_irq(s);
    chardev_accept_input(s->chr);
}

/* ---- saved state ---- */

static uint32_t serial_instance_id(const void *dev)
{
    return ((const struct serial *)dev)->iobase;
}

/* The interrupt line, the character timeout and the chardev's input follow the registers. */
static void serial_post_load(void *dev)
{
    struct serial *s = dev;

    /* With the FIFOs off the receiver holds one character: never more than that. */
    if (s->rx.count > serial_rx_capacity(s))
        s->rx.count = serial_rx_capacity(s);
    serial_arm_timeout(s);
    serial_update_irq(s);
    chardev_accept_input(s->chr);
}

static const struct vmstate_field serial_fields[] = {
    VMSTATE_U16(struct serial, divisor),
    VMSTATE_U8_MAX(struct serial, ier, IER_MASK),
    VMSTATE_U8(struct serial, fcr),
    VMSTATE_U8(struct serial, lcr),
    VMSTATE_U8_MAX(struct serial, mcr, MCR_MASK),
    VMSTATE_U8(struct serial, msr),
    VMSTATE_U8(struct serial, scr),
    VMSTATE_U8(struct serial, lsr_errors),
    VMSTATE_U8(struct serial, rbr),
    VMSTATE_BOOL(struct serial, thre_pending),
    VMSTATE_BOOL(struct serial, timeout_pending),
    VMSTATE_U8_ARRAY(struct serial, rx.data, UART_FIFO_SIZE),
    VMSTATE_U8_ARRAY(struct serial, rx.errors, UART_FIFO_SIZE),
    VMSTATE_U32_MAX(struct serial, rx.head, UART_FIFO_SIZE - 1),
    VMSTATE_U32_MAX(struct serial, rx.count, UART_FIFO_SIZE),
    VMSTATE_END,
};

static const struct vmstate_desc serial_vmstate = {
    .name = "isa-serial",
    .version = 1,
    .fields = serial_fields,
    .instance_id = serial_instance_id,
    .post_load = serial_post_load,
};

static void serial_destroy(void *dev)
{
    struct serial *s = dev;

    if (!s)
        return;
    if (s->chr)
        chardev_set_frontend(s->chr, NULL);
    region_del(s->region);
    if (s->irq)
        irq_line_free(s->irq);
    if (s->timeout_timer)
        timer_free(s->timeout_timer);
    g_free(s);
}

struct serial_config {
    const char *chardev_id;
    uint64_t iobase;
    uint64_t irq;
};

static bool serial_take_props(struct kv_list *props, struct serial_config *cfg, GError **err)
{
    uint64_t index;

    cfg->chardev_id = kv_get(props, "chardev");
    if (!kv_get_u64(props, "index", 0, false, &index, err))
        return false;
    if (index >= ARRAY_SIZE(serial_com_defaults)) {
        g_set_error(err, serial_error_quark(), 0, "isa-serial: index=%" G_GUINT64_FORMAT
                    " out of range (0..3)", index);
        return false;
    }
    if (!kv_get_u64(props, "iobase", serial_com_defaults[index].iobase, false, &cfg->iobase,
                    err) ||
        !kv_get_u64(props, "irq", serial_com_defaults[index].irq, false, &cfg->irq, err))
        return false;
    if (cfg->iobase > 0x10000 - UART_REGION_SIZE || cfg->irq >= MACHINE_ISA_IRQS) {
        g_set_error(err, serial_error_quark(), 0, "isa-serial: iobase=0x%" G_GINT64_MODIFIER
                    "x irq=%" G_GUINT64_FORMAT " out of range", cfg->iobase, cfg->irq);
        return false;
    }
    return true;
}

static void *serial_create(struct machine *m, struct kv_list *props, GError **err)
{
    struct serial_config cfg;
    struct serial *s = NULL;

    if (!serial_take_props(props, &cfg, err))
        return NULL;
    s = g_new0(struct serial, 1);
    s->iobase = (uint16_t)cfg.iobase;
    s->divisor = UART_RESET_DIVISOR;
    if (cfg.chardev_id) {
        s->chr = machine_find_chardev(m, cfg.chardev_id);
        if (!s->chr) {
            g_set_error(err, serial_error_quark(), 0, "isa-serial: no chardev '%s'",
                        cfg.chardev_id);
            goto fail;
        }
    }
    s->irq = machine_isa_irq(m, (unsigned)cfg.irq);
    s->timeout_timer = timer_new(serial_timeout_fired, s);
    s->region = machine_add_io(m, "serial", cfg.iobase, UART_REGION_SIZE, &serial_ops, s);
    if (!s->irq || !s->region) {
        g_set_error(err, serial_error_quark(), 0, "isa-serial: ports 0x%" G_GINT64_MODIFIER
                    "x-0x%" G_GINT64_MODIFIER "x or IRQ %" G_GUINT64_FORMAT " unavailable",
                    cfg.iobase, cfg.iobase + UART_REGION_SIZE - 1, cfg.irq);
        goto fail;
    }
    serial_reset(s);
    if (s->chr) {
        const struct chardev_frontend fe = {
            .can_receive = serial_can_receive,
            .receive = serial_receive,
            .opaque = s,
        };
        chardev_set_frontend(s->chr, &fe);
    }
    return s;

fail:
    s->chr = NULL; /* not attached yet */
    serial_destroy(s);
    return NULL;
}

static const struct device_type serial_type = {
    .name = "isa-serial",
    .description = "16550A UART (COM1-COM4)",
    .user_creatable = true,
    .create = serial_create,
    .reset = serial_reset,
    .destroy = serial_destroy,
    .vmstate = &serial_vmstate,
};
DEVICE_TYPE_REGISTER(serial_type);
