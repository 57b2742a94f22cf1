/*
 * "piix3": function 0 of the 82371SB PIIX3, the PCI-to-ISA bridge at 00:01.0 (8086:7000),
 * the slot's multi-function header.
 *
 * What a Xen guest can tell apart:
 *  - PIRQRC[A:D] (0x60-0x63, reset 0x80): a byte written routes PCI link A..D to an ISA IRQ
 *    (bit 7 set: disabled). Xen does the routing; each change goes to it as
 *    set_pci_link_route(link, bit 7 ? 0 : value & 0x0F) (reference §3). hvmloader routes
 *    the links round-robin over IRQs 5, 10 and 11.
 *  - the Reset Control Register at port 0xCF9 (byte): a write with RCPU (bit 2) set resets
 *    the system; SRST (bit 1) picks hard over soft reset, which on Xen are the same reboot.
 *    The port lies inside the host bridge's CONFADD window, so it is attached to the
 *    i440FX rather than registered (include/xendm/pc-chipset.h).
 *  - the other registers firmware writes (ISA recovery timer, XBCS, top of memory, APIC
 *    base, deterministic latency, the SMI/power-management block at 0xA0-0xAE) hold what
 *    was written, with the datasheet's reset values, and have no further effect: the ISA
 *    devices they would configure are Xen's or fixed.
 */
#include <glib.h>
#include <inttypes.h>

#include "xendm/common.h"
#include "xendm/keyval.h"
#include "xendm/log.h"
#include "xendm/machine.h"
#include "xendm/memory.h"
#include "xendm/pc-chipset.h"
#include "xendm/pci.h"
#include "xendm/trace.h"
#include "xendm/vmstate.h"

#define PIIX3_PIRQRC 0x60
#define PIIX3_PIRQ_LINKS 4
#define PIRQRC_DISABLE 0x80
#define PIRQRC_IRQ_MASK 0x0f
#define PIRQRC_WMASK (PIRQRC_DISABLE | PIRQRC_IRQ_MASK) /* bits 6:4 reserved */

#define RCR_SRST 0x02 /* system reset: hard (1) or soft (0) */
#define RCR_RCPU 0x04 /* reset CPU: starts the reset; not stored */

/* One register with its reset value and writable bits (82371SB datasheet, function 0). */
struct piix3_reg {
    uint8_t offset;
    uint8_t size;
    uint32_t reset;
    uint32_t wmask;
};

static const struct piix3_reg piix3_regs[] = {
    {0x4c, 1, 0x4d, 0xff},             /* IORT: ISA I/O recovery timer */
    {0x4e, 2, 0x0003, 0xffff},         /* XBCS: X-bus chip select */
    {0x60, 1, 0x80, PIRQRC_WMASK},     /* PIRQRC[A] */
    {0x61, 1, 0x80, PIRQRC_WMASK},     /* PIRQRC[B] */
    {0x62, 1, 0x80, PIRQRC_WMASK},     /* PIRQRC[C] */
    {0x63, 1, 0x80, PIRQRC_WMASK},     /* PIRQRC[D] */
    {0x69, 1, 0x02, 0xfe},             /* TOM: top of memory */
    {0x6a, 2, 0x0000, 0xffff},         /* MSTAT: miscellaneous status */
    {0x70, 1, 0x80, 0xcf},             /* MBIRQ0: motherboard device IRQ route */
    {0x76, 1, 0x0c, 0xff},             /* MBDMA0 */
    {0x77, 1, 0x0c, 0xff},             /* MBDMA1 */
    {0x78, 2, 0x0002, 0xffff},         /* PCSC: programmable chip select */
    {0x80, 1, 0x00, 0xff},             /* APICBASE */
    {0x82, 1, 0x00, 0x0f},             /* DLC: deterministic latency control */
    {0xa0, 1, 0x08, 0xff},             /* SMICNTL */
    {0xa2, 2, 0x0000, 0xffff},         /* SMIEN */
    {0xa4, 4, 0x00000000, 0xffffffff}, /* SEE: system event enable */
    {0xa8, 1, 0x0f, 0xff},             /* FTMR: fast-off timer */
    {0xaa, 2, 0x0000, 0xffff},         /* SMIREQ */
    {0xac, 1, 0x00, 0xff},             /* CTLTMR: clock-scale STPCLK low timer */
    {0xae, 1, 0x00, 0xff},             /* CTHTMR: clock-scale STPCLK high timer */
};

/* The datasheet's PCICMD reset value is 0x0007; qemu-xen's PIIX3 reads 0 (test-pci-compare). */
#define PIIX3_COMMAND_RESET 0x0000
#define PIIX3_STATUS_RESET 0x0200  /* medium DEVSEL timing */

struct piix3 {
    struct machine *machine;
    struct pci_device *dev;
    struct i440fx *host; /* holds our 0xCF9 attachment; NULL without an i440FX */
    uint8_t rcr;
    /* The route each link last went to Xen with (0 = disabled, Xen's initial state). */
    uint8_t link_route[PIIX3_PIRQ_LINKS];
};

static GQuark piix3_error_quark(void)
{
    return g_quark_from_static_string("xendm-piix3-error");
}

/* ---- Reset Control Register (port 0xCF9) ---- */

static uint64_t piix3_rcr_read(void *opaque, uint64_t offset, unsigned size)
{
    struct piix3 *p = opaque;

    return p->rcr;
}

static void piix3_rcr_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct piix3 *p = opaque;

    p->rcr = (uint8_t)value & RCR_SRST;
    if (value & RCR_RCPU) {
        /* Hard or soft, a Xen guest is reset by rebuilding the domain. */
        log_guest_event("piix3: %s reset through port 0xcf9", (value & RCR_SRST) ? "hard" : "soft");
        machine_request_shutdown(p->machine, SHUTDOWN_REBOOT);
    }
}

static const struct region_ops piix3_rcr_ops = {
    .read = piix3_rcr_read,
    .write = piix3_rcr_write,
    .min_access = 1,
    .max_access = 1,
};

/* ---- PCI interrupt routing ---- */

static uint8_t pirqrc_to_route(uint8_t value)
{
    return (value & PIRQRC_DISABLE) ? 0 : (value & PIRQRC_IRQ_MASK);
}

static void piix3_update_link(struct piix3 *p, unsigned link)
{
    uint8_t route = pirqrc_to_route(pci_get_byte(p->dev, PIIX3_PIRQRC + link));

    if (route == p->link_route[link]) {
        return;
    }
    TRACE(piix3_link_route, "link=%u irq=%u", link, route);
    p->link_route[link] = route;
    machine_set_pci_link_route(p->machine, link, route);
}

static void piix3_config_write(struct pci_device *d, void *opaque, uint32_t offset,
                               uint32_t value, unsigned size)
{
    struct piix3 *p = opaque;

    for (uint32_t reg = offset; reg < offset + size; reg++) {
        if (reg >= PIIX3_PIRQRC && reg < PIIX3_PIRQRC + PIIX3_PIRQ_LINKS) {
            piix3_update_link(p, reg - PIIX3_PIRQRC);
        }
    }
}

/* ---- configuration space ---- */

static void piix3_set_reg(struct pci_device *d, const struct piix3_reg *r)
{
    switch (r->size) {
    case 1:
        pci_set_byte(d, r->offset, (uint8_t)r->reset);
        break;
    case 2:
        pci_set_word(d, r->offset, (uint16_t)r->reset);
        break;
    default:
        pci_set_long(d, r->offset, r->reset);
        break;
    }
    pci_set_wmask(d, r->offset, r->wmask, r->size);
}

static void piix3_config_init(struct pci_device *d)
{
    pci_set_word(d, PCI_COMMAND, PIIX3_COMMAND_RESET);
    pci_set_word(d, PCI_STATUS, PIIX3_STATUS_RESET);
    for (size_t i = 0; i < ARRAY_SIZE(piix3_regs); i++) {
        piix3_set_reg(d, &piix3_regs[i]);
    }
}

static void piix3_function_reset(struct pci_device *d, void *opaque)
{
    struct piix3 *p = opaque;

    p->rcr = 0;
    piix3_config_init(d);
    for (unsigned link = 0; link < PIIX3_PIRQ_LINKS; link++) {
        piix3_update_link(p, link);
    }
}

static const struct pci_device_ops piix3_pci_ops = {
    .config_write = piix3_config_write,
    .reset = piix3_function_reset,
};

static const struct pci_device_id piix3_id = {
    .vendor_id = 0x8086,
    .device_id = 0x7000,
    .revision = 0x00,
    .class_code = 0x060100, /* bridge, ISA */
    .multifunction = true,  /* IDE (01.1) and power management (01.3) share the slot */
};

/* ---- life cycle ---- */

static void piix3_destroy(void *dev)
{
    struct piix3 *p = dev;

    if (p == NULL) {
        return;
    }
    if (p->host != NULL) {
        i440fx_attach_cf9(p->host, NULL, NULL);
    }
    if (p->dev != NULL) {
        pci_device_remove(p->dev);
    }
    g_free(p);
}

static void *piix3_create(struct machine *m, struct kv_list *props, GError **err)
{
    struct pci_bus *bus = machine_pci_bus(m);
    struct piix3 *p;

    if (bus == NULL) {
        g_set_error(err, piix3_error_quark(), 0, "piix3: the machine has no PCI host bridge");
        return NULL;
    }
    p = g_new0(struct piix3, 1);
    p->machine = m;
    p->dev = pci_device_add(bus, PIIX3_DEVFN, PIIX3_TYPE_NAME, &piix3_id, &piix3_pci_ops, p,
                            err);
    if (p->dev == NULL) {
        piix3_destroy(p);
        return NULL;
    }
    piix3_config_init(p->dev);
    /* The machine destroys devices newest first, so the host bridge outlives us. */
    p->host = machine_find_device(m, I440FX_TYPE_NAME);
    if (p->host != NULL) {
        i440fx_attach_cf9(p->host, &piix3_rcr_ops, p);
    }
    return p;
}

/*
 * Saved: the reset control register. The routes are not: Xen restores them itself (its
 * PCI_LINK record) from the PIRQRC values the guest last wrote, each of which went to Xen,
 * and those are in the configuration space the PCI core loads first. So the record of what
 * Xen holds is rebuilt from them, and a stream cannot make it disagree.
 */
static void piix3_post_load(void *dev)
{
    struct piix3 *p = dev;

    p->rcr &= RCR_SRST;
    for (unsigned link = 0; link < PIIX3_PIRQ_LINKS; link++) {
        p->link_route[link] = pirqrc_to_route(pci_get_byte(p->dev, PIIX3_PIRQRC + link));
    }
}

static const struct vmstate_field piix3_fields[] = {
    VMSTATE_U8(struct piix3, rcr),
    VMSTATE_END,
};

static const struct vmstate_desc piix3_vmstate = {
    .name = "piix3",
    .version = 1,
    .fields = piix3_fields,
    .post_load = piix3_post_load,
};

static const struct device_type piix3_type = {
    .name = PIIX3_TYPE_NAME,
    .description = "PIIX3 PCI-to-ISA bridge (00:01.0): PIRQ routing, reset control 0xCF9",
    .user_creatable = false,
    .create = piix3_create,
    /* Reset comes through the bus: the host bridge resets every function. */
    .destroy = piix3_destroy,
    .vmstate = &piix3_vmstate,
};
DEVICE_TYPE_REGISTER(piix3_type);
