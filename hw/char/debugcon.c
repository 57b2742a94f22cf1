/*
 * "isa-debugcon": a one-port debug console, the Bochs "port E9 hack".
 *
 * Every byte written goes to the chardev; a read returns the readback value, which is how
 * firmware (SeaBIOS, at 0x402 on Debian's builds) detects that the console is present.
 * On Xen the hypervisor itself answers port 0xE9, so xendm's instance usually sits at 0x402.
 */
#include <glib.h>
#include "xendm/chardev.h"
#include "xendm/common.h"
#include "xendm/keyval.h"
#include "xendm/machine.h"
#include "xendm/memory.h"
#include "xendm/trace.h"

#define DEBUGCON_DEFAULT_IOBASE 0xe9
#define DEBUGCON_DEFAULT_READBACK 0xe9

struct debugcon {
    struct region *region;
    struct chardev *chr; /* NULL: output dropped */
    uint8_t readback;
};

static GQuark debugcon_error_quark(void)
{
    return g_quark_from_static_string("xendm-debugcon-error");
}

static uint64_t debugcon_read(void *opaque, uint64_t offset, unsigned size)
{
    struct debugcon *d = opaque;

    return d->readback;
}

static void debugcon_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct debugcon *d = opaque;
    uint8_t byte = (uint8_t)value;

    TRACE(debugcon_write, "val=0x%02x", byte);
    chardev_write(d->chr, &byte, 1);
}

/* Byte-wide: a wider access is split by the core and only its first byte lands on the port. */
static const struct region_ops debugcon_ops = {
    .read = debugcon_read,
    .write = debugcon_write,
    .min_access = 1,
    .max_access = 1,
};

static void debugcon_destroy(void *dev)
{
    struct debugcon *d = dev;

    if (!d)
        return;
    region_del(d->region);
    g_free(d);
}

static void *debugcon_create(struct machine *m, struct kv_list *props, GError **err)
{
    const char *chardev_id = kv_get(props, "chardev");
    uint64_t iobase, readback;
    struct debugcon *d;

    if (!kv_get_u64(props, "iobase", DEBUGCON_DEFAULT_IOBASE, false, &iobase, err) ||
        !kv_get_u64(props, "readback", DEBUGCON_DEFAULT_READBACK, false, &readback, err))
        return NULL;
    if (iobase > 0xffff || readback > 0xff) {
        g_set_error(err, debugcon_error_quark(), 0, "isa-debugcon: iobase=0x%" G_GINT64_MODIFIER
                    "x or readback=0x%" G_GINT64_MODIFIER "x out of range", iobase, readback);
        return NULL;
    }
    d = g_new0(struct debugcon, 1);
    d->readback = (uint8_t)readback;
    if (chardev_id) {
        d->chr = machine_find_chardev(m, chardev_id);
        if (!d->chr) {
            g_set_error(err, debugcon_error_quark(), 0, "isa-debugcon: no chardev '%s'",
                        chardev_id);
            goto fail;
        }
    }
    d->region = machine_add_io(m, "debugcon", iobase, 1, &debugcon_ops, d);
    if (!d->region) {
        g_set_error(err, debugcon_error_quark(), 0, "isa-debugcon: port 0x%" G_GINT64_MODIFIER
                    "x is in use", iobase);
        goto fail;
    }
    return d;

fail:
    debugcon_destroy(d);
    return NULL;
}

static const struct device_type debugcon_type = {
    .name = "isa-debugcon",
    .description = "Bochs-style debug console port",
    .user_creatable = true,
    .create = debugcon_create,
    .destroy = debugcon_destroy,
};
DEVICE_TYPE_REGISTER(debugcon_type);
