/*
 * "i8042": the PS/2 keyboard controller at ports 0x60 (data) and 0x64 (status/command), with the
 * command side of a PS/2 keyboard and mouse behind it: enough for firmware and OS probing, and
 * for the reset line. Facts from the IBM PS/2 Hardware Interface Technical Reference
 * ("Keyboard/Auxiliary Device Controller") and the 8042 command set as PC firmware uses it.
 *
 * Data flow. The controller has one output buffer byte (status OBF; AUXB says it came from the
 * mouse). Three bounded queues feed it, highest priority first:
 *   - controller replies (self-test, command byte, 0xD2/0xD3 echoes),
 *   - the keyboard's own output queue (its replies; scan codes once input exists),
 *   - the mouse's output queue.
 * A device queue moves into the output buffer only while its port is enabled in the command byte,
 * as the real controller holds a disabled device's clock line. Keyboard and mouse input (the VNC
 * issue) only has to push into kbd_queue / aux_queue and call i8042_service().
 *
 * Interrupts: IRQ 1 while the output buffer holds keyboard or controller data and the command
 * byte enables it; IRQ 12 likewise for mouse data. Reading port 0x60 drops the line before the
 * next byte is loaded, so an edge-triggered PIC sees one edge per byte.
 */
#include <glib.h>
#include "xendm/common.h"
#include "xendm/keyval.h"
#include "xendm/log.h"
#include "xendm/machine.h"
#include "xendm/memory.h"
#include "xendm/trace.h"
#include "xendm/vmstate.h"

#define I8042_DATA_PORT 0x60
#define I8042_COMMAND_PORT 0x64
#define I8042_KBD_IRQ 1
#define I8042_AUX_IRQ 12

/* Status register (port 0x64 read). */
#define STATUS_OBF 0x01
#define STATUS_IBF 0x02 /* never set: every write is handled at once */
#define STATUS_SYS 0x04
#define STATUS_CMD 0x08 /* last write went to 0x64 */
#define STATUS_UNLOCKED 0x10
#define STATUS_AUX_OBF 0x20

/* Command byte (controller RAM byte 0). */
#define CTR_KBD_INT 0x01
#define CTR_AUX_INT 0x02
#define CTR_SYS 0x04
#define CTR_KBD_DISABLE 0x10
#define CTR_AUX_DISABLE 0x20
#define CTR_XLATE 0x40
/* What a BIOS leaves: both interrupts, scan code translation. */
#define CTR_POWER_ON (CTR_KBD_INT | CTR_AUX_INT | CTR_XLATE)

/* Output port (commands 0xD0/0xD1). Bit 0 drives the CPU reset line, active low. */
#define OUTPORT_NOT_RESET 0x01
#define OUTPORT_A20 0x02
#define OUTPORT_KBD_OBF 0x10
#define OUTPORT_AUX_OBF 0x20
#define OUTPORT_POWER_ON (OUTPORT_NOT_RESET | OUTPORT_A20)

#define I8042_RAM_SIZE 32
#define I8042_QUEUE_SIZE 16 /* a PS/2 keyboard buffers 16 bytes */

/* Replies of PS/2 devices. */
#define PS2_ACK 0xfa
#define PS2_RESEND 0xfe
#define PS2_SELF_TEST_OK 0xaa
#define PS2_ECHO 0xee

struct i8042_queue {
    uint8_t data[I8042_QUEUE_SIZE];
    bool from_aux[I8042_QUEUE_SIZE]; /* only the controller queue mixes sources */
    unsigned head;
    unsigned count;
};

struct ps2_keyboard {
    uint8_t awaiting_arg; /* command whose argument byte comes next, 0: none */
    bool scanning;
    uint8_t scancode_set;
    uint8_t leds;
    uint8_t typematic;
};

struct ps2_mouse {
    uint8_t awaiting_arg;
    bool reporting;
    bool remote_mode;
    bool scaling_2to1;
    uint8_t sample_rate;
    uint8_t resolution;
};

struct i8042 {
    struct machine *machine;
    struct region *data_region;
    struct region *command_region;
    struct irq_line *kbd_irq;
    struct irq_line *aux_irq;

    uint8_t ram[I8042_RAM_SIZE]; /* ram[0] is the command byte */
    uint8_t status;              /* SYS and CMD; OBF/AUX_OBF come from the output buffer */
    uint8_t outport;
    uint8_t awaiting_data;       /* controller command whose data byte comes next, 0: none */

    uint8_t obuf;
    bool obuf_full;
    bool obuf_from_aux;

    struct i8042_queue ctrl_queue;
    struct i8042_queue kbd_queue;
    struct i8042_queue aux_queue;
    struct ps2_keyboard kbd;
    struct ps2_mouse mouse;
};

static GQuark i8042_error_quark(void)
{
    return g_quark_from_static_string("xendm-i8042-error");
}

/* ---- queues ---- */

/* A full queue drops the byte, as a device with a full buffer does. */
static void queue_push(struct i8042_queue *q, uint8_t byte, bool from_aux)
{
    if (q->count >= I8042_QUEUE_SIZE)
        return;
    unsigned tail = (q->head + q->count) % I8042_QUEUE_SIZE;
    q->data[tail] = byte;
    q->from_aux[tail] = from_aux;
    q->count++;
}

static bool queue_pop(struct i8042_queue *q, uint8_t *byte, bool *from_aux)
{
    if (!q->count)
        return false;
    *byte = q->data[q->head];
    *from_aux = q->from_aux[q->head];
    q->head = (q->head + 1) % I8042_QUEUE_SIZE;
    q->count--;
    return true;
}

static void queue_clear(struct i8042_queue *q)
{
    q->head = 0;
    q->count = 0;
}

/* ---- output buffer and interrupts ---- */

static uint8_t i8042_command_byte(const struct i8042 *c)
{
    return c->ram[0];
}

static void i8042_update_irqs(struct i8042 *c)
{
    uint8_t ctr = i8042_command_byte(c);

    irq_set_level(c->kbd_irq, c->obuf_full && !c->obuf_from_aux && (ctr & CTR_KBD_INT));
    irq_set_level(c->aux_irq, c->obuf_full && c->obuf_from_aux && (ctr & CTR_AUX_INT));
}

static bool i8042_next_output(struct i8042 *c, uint8_t *byte, bool *from_aux)
{
    uint8_t ctr = i8042_command_byte(c);

    /* Each queued byte carries its source: kbd_reply() and aux_reply() record it. */
    if (queue_pop(&c->ctrl_queue, byte, from_aux))
        return true;
    if (!(ctr & CTR_KBD_DISABLE) && queue_pop(&c->kbd_queue, byte, from_aux))
        return true;
    return !(ctr & CTR_AUX_DISABLE) && queue_pop(&c->aux_queue, byte, from_aux);
}

/* Loads the output buffer if it is empty and something waits, then sets the IRQ lines. */
static void i8042_service(struct i8042 *c)
{
    if (!c->obuf_full && i8042_next_output(c, &c->obuf, &c->obuf_from_aux))
        c->obuf_full = true;
    i8042_update_irqs(c);
}

static void i8042_reply(struct i8042 *c, uint8_t byte)
{
    queue_push(&c->ctrl_queue, byte, false);
}

static void i8042_request_reset(struct i8042 *c)
{
    TRACE(i8042_reset, "reset line pulsed");
    machine_request_shutdown(c->machine, SHUTDOWN_REBOOT);
}

/* ---- the PS/2 keyboard behind port 1 ---- */

static void kbd_reply(struct i8042 *c, uint8_t byte)
{
    queue_push(&c->kbd_queue, byte, false);
}

static void kbd_set_defaults(struct ps2_keyboard *kbd)
{
    kbd->scancode_set = 2;
    kbd->typematic = 0x2b; /* 10.9 characters/s, 500 ms delay */
    kbd->leds = 0;
}

static void kbd_take_argument(struct i8042 *c, uint8_t val)
{
    struct ps2_keyboard *kbd = &c->kbd;
    uint8_t cmd = kbd->awaiting_arg;

    kbd->awaiting_arg = 0;
    switch (cmd) {
    case 0xed: /* set LEDs */
        kbd->leds = val & 0x07;
        break;
    case 0xf3: /* set typematic rate/delay */
        kbd->typematic = val & 0x7f;
        break;
    case 0xf0: /* get/set scan code set */
        if (val > 3) {
            kbd_reply(c, PS2_RESEND);
            return;
        }
        kbd_reply(c, PS2_ACK);
        if (val == 0)
            kbd_reply(c, kbd->scancode_set);
        else
            kbd->scancode_set = val;
        return;
    }
    kbd_reply(c, PS2_ACK);
}

static void kbd_write(struct i8042 *c, uint8_t val)
{
    struct ps2_keyboard *kbd = &c->kbd;

    TRACE(i8042_kbd_command, "val=0x%02x", val);
    if (kbd->awaiting_arg && val < 0xed) {
        kbd_take_argument(c, val);
        return;
    }
    /* A command replaces one waiting for its argument and clears the keyboard's buffer. */
    kbd->awaiting_arg = 0;
    queue_clear(&c->kbd_queue);
    switch (val) {
    case 0xed: case 0xf3: case 0xf0:
        kbd->awaiting_arg = val;
        kbd_reply(c, PS2_ACK);
        break;
    case 0xee:
        kbd_reply(c, PS2_ECHO);
        break;
    case 0xf2: /* identify: an MF2 keyboard */
        kbd_reply(c, PS2_ACK);
        kbd_reply(c, 0xab);
        kbd_reply(c, 0x83);
        break;
    case 0xf4:
        kbd->scanning = true;
        kbd_reply(c, PS2_ACK);
        break;
    case 0xf5: /* disable: also restores defaults */
        kbd->scanning = false;
        kbd_set_defaults(kbd);
        kbd_reply(c, PS2_ACK);
        break;
    case 0xf6:
        kbd_set_defaults(kbd);
        kbd_reply(c, PS2_ACK);
        break;
    case 0xf7: case 0xf8: case 0xf9: case 0xfa: case 0xfb: case 0xfc: case 0xfd: case 0xfe:
        kbd_reply(c, PS2_ACK); /* set-3 key types and resend: nothing to change here */
        break;
    case 0xff: /* reset and basic assurance test */
        kbd_set_defaults(kbd);
        kbd->scanning = true;
        kbd_reply(c, PS2_ACK);
        kbd_reply(c, PS2_SELF_TEST_OK);
        break;
    default:
        log_guest_error("i8042: unknown keyboard command 0x%02x", val);
        kbd_reply(c, PS2_RESEND);
        break;
    }
}

/* ---- the PS/2 mouse behind port 2 ---- */

static void aux_reply(struct i8042 *c, uint8_t byte)
{
    queue_push(&c->aux_queue, byte, true);
}

static void mouse_set_defaults(struct ps2_mouse *mouse)
{
    mouse->reporting = false;
    mouse->remote_mode = false;
    mouse->scaling_2to1 = false;
    mouse->sample_rate = 100;
    mouse->resolution = 2; /* 4 counts/mm */
}

static void mouse_status(struct i8042 *c)
{
    struct ps2_mouse *mouse = &c->mouse;
    uint8_t flags = (mouse->remote_mode ? 0x40 : 0) | (mouse->reporting ? 0x20 : 0) |
                    (mouse->scaling_2to1 ? 0x10 : 0);

    aux_reply(c, flags);
    aux_reply(c, mouse->resolution);
    aux_reply(c, mouse->sample_rate);
}

static void mouse_take_argument(struct i8042 *c, uint8_t val)
{
    struct ps2_mouse *mouse = &c->mouse;

    if (mouse->awaiting_arg == 0xf3)
        mouse->sample_rate = val;
    else
        mouse->resolution = val & 0x03;
    mouse->awaiting_arg = 0;
    aux_reply(c, PS2_ACK);
}

static void mouse_write(struct i8042 *c, uint8_t val)
{
    struct ps2_mouse *mouse = &c->mouse;

    TRACE(i8042_aux_command, "val=0x%02x", val);
    if (mouse->awaiting_arg) {
        mouse_take_argument(c, val);
        return;
    }
    queue_clear(&c->aux_queue);
    switch (val) {
    case 0xe8: case 0xf3: /* set resolution / sample rate: argument follows */
        mouse->awaiting_arg = val;
        aux_reply(c, PS2_ACK);
        break;
    case 0xe6: case 0xe7:
        mouse->scaling_2to1 = val == 0xe7;
        aux_reply(c, PS2_ACK);
        break;
    case 0xe9:
        aux_reply(c, PS2_ACK);
        mouse_status(c);
        break;
    case 0xea: case 0xf0:
        mouse->remote_mode = val == 0xf0;
        aux_reply(c, PS2_ACK);
        break;
    case 0xeb: /* read data: a packet with no movement and no buttons */
        aux_reply(c, PS2_ACK);
        aux_reply(c, 0x08);
        aux_reply(c, 0x00);
        aux_reply(c, 0x00);
        break;
    case 0xf2: /* identify: a standard PS/2 mouse */
        aux_reply(c, PS2_ACK);
        aux_reply(c, 0x00);
        break;
    case 0xf4: case 0xf5:
        mouse->reporting = val == 0xf4;
        aux_reply(c, PS2_ACK);
        break;
    case 0xec: case 0xee: case 0xf6: case 0xfe:
        if (val == 0xf6)
            mouse_set_defaults(mouse);
        aux_reply(c, PS2_ACK);
        break;
    case 0xff:
        mouse_set_defaults(mouse);
        aux_reply(c, PS2_ACK);
        aux_reply(c, PS2_SELF_TEST_OK);
        aux_reply(c, 0x00);
        break;
    default:
        log_guest_error("i8042: unknown mouse command 0x%02x", val);
        aux_reply(c, PS2_RESEND);
        break;
    }
}

/* ---- controller commands (port 0x64) ---- */

static uint8_t i8042_read_outport(const struct i8042 *c)
{
    uint8_t val = c->outport & ~(OUTPORT_KBD_OBF | OUTPORT_AUX_OBF);

    if (c->obuf_full)
        val |= c->obuf_from_aux ? OUTPORT_AUX_OBF : OUTPORT_KBD_OBF;
    return val;
}

static void i8042_write_outport(struct i8042 *c, uint8_t val)
{
    c->outport = val;
    if (!(val & OUTPORT_NOT_RESET))
        i8042_request_reset(c);
}

/* Bits 0-3 of 0xF0-0xFF select output-port lines to pulse low; bit 0 is the reset line. */
static void i8042_pulse_outport(struct i8042 *c, uint8_t cmd)
{
    if (!(cmd & OUTPORT_NOT_RESET))
        i8042_request_reset(c);
}

static void i8042_set_port_disable(struct i8042 *c, uint8_t bit, bool disable)
{
    if (disable)
        c->ram[0] |= bit;
    else
        c->ram[0] &= ~bit;
}

static bool i8042_command_takes_data(uint8_t cmd)
{
    return (cmd >= 0x60 && cmd <= 0x7f) || (cmd >= 0xd1 && cmd <= 0xd4);
}

static void i8042_command(struct i8042 *c, uint8_t cmd)
{
    TRACE(i8042_command, "cmd=0x%02x", cmd);
    c->awaiting_data = i8042_command_takes_data(cmd) ? cmd : 0;
    if (c->awaiting_data)
        return;
    if (cmd >= 0x20 && cmd <= 0x3f) {
        i8042_reply(c, c->ram[cmd & 0x1f]);
        return;
    }
    if (cmd >= 0xf0) {
        i8042_pulse_outport(c, cmd);
        return;
    }
    switch (cmd) {
    case 0xa7: case 0xa8:
        i8042_set_port_disable(c, CTR_AUX_DISABLE, cmd == 0xa7);
        break;
    case 0xa9: case 0xab: /* aux / keyboard interface test: 0 = no error */
        i8042_reply(c, 0x00);
        break;
    case 0xaa: /* controller self-test */
        c->status |= STATUS_SYS;
        i8042_reply(c, 0x55);
        break;
    case 0xad: case 0xae:
        i8042_set_port_disable(c, CTR_KBD_DISABLE, cmd == 0xad);
        break;
    case 0xc0: /* input port: keyboard not inhibited, colour display */
        i8042_reply(c, 0x80);
        break;
    case 0xd0:
        i8042_reply(c, i8042_read_outport(c));
        break;
    case 0xdd: case 0xdf: /* A20 off / on */
        c->outport = (uint8_t)((c->outport & ~OUTPORT_A20) | (cmd == 0xdf ? OUTPORT_A20 : 0));
        break;
    case 0xe0: /* test inputs */
        i8042_reply(c, 0x00);
        break;
    default:
        log_guest_error("i8042: unknown controller command 0x%02x", cmd);
        break;
    }
}

static void i8042_command_data(struct i8042 *c, uint8_t cmd, uint8_t val)
{
    if (cmd >= 0x60 && cmd <= 0x7f) {
        c->ram[cmd & 0x1f] = val;
        if ((cmd & 0x1f) == 0)
            c->status = (uint8_t)((c->status & ~STATUS_SYS) | (val & CTR_SYS));
        return;
    }
    switch (cmd) {
    case 0xd1:
        i8042_write_outport(c, val);
        break;
    case 0xd2: /* as if the keyboard had sent it */
        queue_push(&c->ctrl_queue, val, false);
        break;
    case 0xd3: /* as if the mouse had sent it */
        queue_push(&c->ctrl_queue, val, true);
        break;
    default: /* 0xd4: to the mouse */
        mouse_write(c, val);
        break;
    }
}

/* ---- ports ---- */

static uint8_t i8042_read_data(struct i8042 *c)
{
    uint8_t val = c->obuf; /* empty: the stale byte, as the hardware latch shows */

    c->obuf_full = false;
    i8042_update_irqs(c); /* drop the line first: the next byte gives a fresh edge */
    i8042_service(c);
    return val;
}

static uint8_t i8042_read_status(const struct i8042 *c)
{
    uint8_t val = c->status | STATUS_UNLOCKED;

    if (c->obuf_full)
        val |= STATUS_OBF | (c->obuf_from_aux ? STATUS_AUX_OBF : 0);
    return val;
}

static void i8042_write_data(struct i8042 *c, uint8_t val)
{
    uint8_t cmd = c->awaiting_data;

    c->status &= ~STATUS_CMD;
    c->awaiting_data = 0;
    if (cmd)
        i8042_command_data(c, cmd, val);
    else
        kbd_write(c, val);
}

static void i8042_data_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct i8042 *c = opaque;

    i8042_write_data(c, (uint8_t)value);
    i8042_service(c);
}

static void i8042_command_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct i8042 *c = opaque;

    c->status |= STATUS_CMD;
    i8042_command(c, (uint8_t)value);
    i8042_service(c);
}

static uint64_t i8042_data_read(void *opaque, uint64_t offset, unsigned size)
{
    return i8042_read_data(opaque);
}

static uint64_t i8042_status_read(void *opaque, uint64_t offset, unsigned size)
{
    return i8042_read_status(opaque);
}

static const struct region_ops i8042_data_ops = {
    .read = i8042_data_read,
    .write = i8042_data_write,
    .min_access = 1,
    .max_access = 1,
};

static const struct region_ops i8042_command_ops = {
    .read = i8042_status_read,
    .write = i8042_command_write,
    .min_access = 1,
    .max_access = 1,
};

/* ---- life cycle ---- */

static void i8042_reset(void *dev)
{
    struct i8042 *c = dev;

    memset(c->ram, 0, sizeof(c->ram));
    c->ram[0] = CTR_POWER_ON;
    c->status = 0;
    c->outport = OUTPORT_POWER_ON;
    c->awaiting_data = 0;
    c->obuf = 0;
    c->obuf_full = false;
    c->obuf_from_aux = false;
    queue_clear(&c->ctrl_queue);
    queue_clear(&c->kbd_queue);
    queue_clear(&c->aux_queue);
    memset(&c->kbd, 0, sizeof(c->kbd));
    kbd_set_defaults(&c->kbd);
    c->kbd.scanning = true;
    memset(&c->mouse, 0, sizeof(c->mouse));
    mouse_set_defaults(&c->mouse);
    i8042_update_irqs(c);
}

/* ---- saved state ---- */

static void i8042_post_load(void *dev)
{
    i8042_update_irqs(dev);
}

#define I8042_QUEUE_FIELDS(q)                                                                     \
    VMSTATE_U8_ARRAY(struct i8042, q.data, I8042_QUEUE_SIZE),                                     \
    VMSTATE_BOOL_ARRAY(struct i8042, q.from_aux, I8042_QUEUE_SIZE),                               \
    VMSTATE_U32_MAX(struct i8042, q.head, I8042_QUEUE_SIZE - 1),                                  \
    VMSTATE_U32_MAX(struct i8042, q.count, I8042_QUEUE_SIZE)

static const struct vmstate_field i8042_fields[] = {
    VMSTATE_U8_ARRAY(struct i8042, ram, I8042_RAM_SIZE),
    VMSTATE_U8(struct i8042, status),
    VMSTATE_U8(struct i8042, outport),
    VMSTATE_U8(struct i8042, awaiting_data),
    VMSTATE_U8(struct i8042, obuf),
    VMSTATE_BOOL(struct i8042, obuf_full),
    VMSTATE_BOOL(struct i8042, obuf_from_aux),
    I8042_QUEUE_FIELDS(ctrl_queue),
    I8042_QUEUE_FIELDS(kbd_queue),
    I8042_QUEUE_FIELDS(aux_queue),
    VMSTATE_U8(struct i8042, kbd.awaiting_arg),
    VMSTATE_BOOL(struct i8042, kbd.scanning),
    VMSTATE_U8_MAX(struct i8042, kbd.scancode_set, 3),
    VMSTATE_U8(struct i8042, kbd.leds),
    VMSTATE_U8(struct i8042, kbd.typematic),
    VMSTATE_U8(struct i8042, mouse.awaiting_arg),
    VMSTATE_BOOL(struct i8042, mouse.reporting),
    VMSTATE_BOOL(struct i8042, mouse.remote_mode),
    VMSTATE_BOOL(struct i8042, mouse.scaling_2to1),
    VMSTATE_U8(struct i8042, mouse.sample_rate),
    VMSTATE_U8(struct i8042, mouse.resolution),
    VMSTATE_END,
};

static const struct vmstate_desc i8042_vmstate = {
    .name = "i8042",
    .version = 1,
    .fields = i8042_fields,
    .post_load = i8042_post_load,
};

static void i8042_destroy(void *dev)
{
    struct i8042 *c = dev;

    if (!c)
        return;
    region_del(c->data_region);
    region_del(c->command_region);
    if (c->kbd_irq)
        irq_line_free(c->kbd_irq);
    if (c->aux_irq)
        irq_line_free(c->aux_irq);
    g_free(c);
}

static void *i8042_create(struct machine *m, struct kv_list *props, GError **err)
{
    struct i8042 *c = g_new0(struct i8042, 1);

    c->machine = m;
    c->kbd_irq = machine_isa_irq(m, I8042_KBD_IRQ);
    c->aux_irq = machine_isa_irq(m, I8042_AUX_IRQ);
    c->data_region = machine_add_io(m, "i8042-data", I8042_DATA_PORT, 1, &i8042_data_ops, c);
    c->command_region = machine_add_io(m, "i8042-cmd", I8042_COMMAND_PORT, 1,
                                       &i8042_command_ops, c);
    if (!c->kbd_irq || !c->aux_irq || !c->data_region || !c->command_region) {
        g_set_error(err, i8042_error_quark(), 0, "i8042: ports 0x60/0x64 or IRQ 1/12 in use");
        i8042_destroy(c);
        return NULL;
    }
    i8042_reset(c);
    return c;
}

static const struct device_type i8042_type = {
    .name = "i8042",
    .description = "PS/2 keyboard and mouse controller",
    .user_creatable = false,
    .create = i8042_create,
    .reset = i8042_reset,
    .destroy = i8042_destroy,
    .vmstate = &i8042_vmstate,
};
DEVICE_TYPE_REGISTER(i8042_type);
