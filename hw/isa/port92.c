/*
 * "port92": System Control Port A (PS/2 and later PCs), I/O port 0x92.
 *
 * Bit 0: fast reset. Writing it 0 -> 1 resets the processor; here: a reboot request.
 * Bit 1: A20 gate. Xen HVM guests have no A20 masking, so it is only stored and read back.
 * Bit 3: power-on password lock; bits 7:6: fixed disk activity LED. Stored, read back.
 * Bits 2, 4 and 5 are reserved and read 0.
 */
#include <glib.h>
#include "xendm/common.h"
#include "xendm/keyval.h"
#include "xendm/machine.h"
#include "xendm/memory.h"
#include "xendm/trace.h"
#include "xendm/vmstate.h"

#define PORT92_IOBASE 0x92
#define PORT92_FAST_RESET 0x01
#define PORT92_A20 0x02
#define PORT92_DEFINED_BITS 0xcb

struct port92 {
    struct machine *machine;
    struct region *region;
    uint8_t value;
};

static GQuark port92_error_quark(void)
{
    return g_quark_from_static_string("xendm-port92-error");
}

static uint64_t port92_read(void *opaque, uint64_t offset, unsigned size)
{
    struct port92 *p = opaque;

    return p->value;
}

static void port92_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct port92 *p = opaque;
    uint8_t old = p->value;

    p->value = (uint8_t)value & PORT92_DEFINED_BITS;
    TRACE(port92_write, "val=0x%02x", (unsigned)(value & 0xff));
    if (!(old & PORT92_FAST_RESET) && (p->value & PORT92_FAST_RESET))
        machine_request_shutdown(p->machine, SHUTDOWN_REBOOT);
}

static const struct region_ops port92_ops = {
    .read = port92_read,
    .write = port92_write,
    .min_access = 1,
    .max_access = 1,
};

static void port92_reset(void *dev)
{
    struct port92 *p = dev;

    p->value = 0;
}

/* The stored bits only: restoring bit 0 set is not a 0 -> 1 transition, so no reset. */
static const struct vmstate_field port92_fields[] = {
    VMSTATE_U8_MAX(struct port92, value, PORT92_DEFINED_BITS),
    VMSTATE_END,
};

static const struct vmstate_desc port92_vmstate = {
    .name = "port92",
    .version = 1,
    .fields = port92_fields,
};

static void port92_destroy(void *dev)
{
    struct port92 *p = dev;

    if (!p)
        return;
    region_del(p->region);
    g_free(p);
}

static void *port92_create(struct machine *m, struct kv_list *props, GError **err)
{
    struct port92 *p = g_new0(struct port92, 1);

    p->machine = m;
    p->region = machine_add_io(m, "port92", PORT92_IOBASE, 1, &port92_ops, p);
    if (!p->region) {
        g_set_error(err, port92_error_quark(), 0, "port92: port 0x92 is in use");
        port92_destroy(p);
        return NULL;
    }
    return p;
}

static const struct device_type port92_type = {
    .name = "port92",
    .description = "System Control Port A (fast reset, A20)",
    .user_creatable = false,
    .create = port92_create,
    .reset = port92_reset,
    .destroy = port92_destroy,
    .vmstate = &port92_vmstate,
};
DEVICE_TYPE_REGISTER(port92_type);
