/*
 * "pc-testdev": the x86 test device of kvm-unit-tests, with QEMU's register map, so that test
 * firmware written for it runs unchanged against xendm and against qemu-xen.
 *
 *   ports 0xe0-0xe3  a 32-bit scratch register; 1-, 2- and 4-byte accesses at any offset
 *                    read and write the bytes they cover
 *   ports 0xe4-0xe7  "flush page": a 4-byte write names a guest page whose mappings the
 *                    device model should drop; reads return 0
 *   ports 0xe8-0xeb  the same scratch register, implemented byte by byte (a wider access
 *                    becomes consecutive byte accesses)
 *   ports 0x2000-0x2017  one port per interrupt line: writing N to port 0x2000+L drives
 *                    ISA line L high (N != 0) or low; reads return 0
 *   MMIO 0xff000000-0xff00ffff  64 KiB that read back what was written, any width
 *
 * Under Xen, port 0xe9 belongs to the hypervisor (its debug console): only accesses that
 * cover more than that one port reach 0xe8-0xeb here.
 */
#include <glib.h>
#include <inttypes.h>

#include "xendm/common.h"
#include "xendm/keyval.h"
#include "xendm/log.h"
#include "xendm/machine.h"
#include "xendm/memory.h"
#include "xendm/trace.h"
#include "xendm/vmstate.h"

#define TESTDEV_SCRATCH_PORT 0xe0
#define TESTDEV_FLUSH_PORT 0xe4
#define TESTDEV_SCRATCH_BYTE_PORT 0xe8
#define TESTDEV_SCRATCH_LEN 4
#define TESTDEV_IRQ_PORT 0x2000
/* QEMU decodes 24 lines (an IOAPIC's worth); only the 16 ISA lines exist on this machine. */
#define TESTDEV_IRQ_PORTS 24
#define TESTDEV_IOMEM_BASE 0xff000000u
#define TESTDEV_IOMEM_SIZE 0x10000u

struct pc_testdev {
    struct machine *machine;
    struct region *scratch;
    struct region *flush;
    struct region *scratch_byte;
    struct region *irq_ports;
    struct region *iomem;
    struct irq_line *lines[MACHINE_ISA_IRQS];
    uint32_t scratch_value;
    uint8_t iomem_buf[TESTDEV_IOMEM_SIZE];
    bool line_level[MACHINE_ISA_IRQS]; /* filled only for saving: the lines hold the truth */
};

static GQuark pc_testdev_error_quark(void)
{
    return g_quark_from_static_string("xendm-pc-testdev-error");
}

/* True when [offset, offset + size) lies in a region of `len` bytes. */
static bool testdev_range_ok(uint64_t offset, unsigned size, uint64_t len)
{
    return size >= 1 && size <= 8 && offset < len && size <= len - offset;
}

/* ---- the scratch register (both windows) ---- */

static uint64_t testdev_scratch_read(void *opaque, uint64_t offset, unsigned size)
{
    struct pc_testdev *t = opaque;

    if (!testdev_range_ok(offset, size, TESTDEV_SCRATCH_LEN)) {
        log_guest_error("pc-testdev: scratch read of %u bytes at offset %" PRIu64, size, offset);
        return all_ones(size);
    }
    return (t->scratch_value >> (8 * offset)) & all_ones(size);
}

static void testdev_scratch_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct pc_testdev *t = opaque;
    uint32_t mask;

    if (!testdev_range_ok(offset, size, TESTDEV_SCRATCH_LEN)) {
        log_guest_error("pc-testdev: scratch write of %u bytes at offset %" PRIu64, size,
                        offset);
        return;
    }
    mask = (uint32_t)(all_ones(size) << (8 * offset));
    t->scratch_value = (t->scratch_value & ~mask) | ((uint32_t)(value << (8 * offset)) & mask);
    TRACE(pc_testdev_scratch, "offset=%" PRIu64 " size=%u value=0x%08x", offset, size,
          t->scratch_value);
}

static const struct region_ops testdev_scratch_ops = {
    .read = testdev_scratch_read,
    .write = testdev_scratch_write,
    .min_access = 1,
    .max_access = 4,
};

/* The byte-implemented window: the core splits wider accesses into byte pieces. */
static const struct region_ops testdev_scratch_byte_ops = {
    .read = testdev_scratch_read,
    .write = testdev_scratch_write,
    .min_access = 1,
    .max_access = 1,
};

/* ---- flush page ---- */

static uint64_t testdev_zero_read(void *opaque, uint64_t offset, unsigned size)
{
    return 0;
}

/*
 * QEMU mprotect()s its own mapping of the page to make KVM drop the guest's. xendm keeps no
 * mapping a guest access goes through (Xen's p2m does), so there is nothing to flush; the
 * write is accepted and traced. The core passes only 4-byte writes (narrower ones are dropped).
 */
static void testdev_flush_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    TRACE(pc_testdev_flush, "gpa=0x%08" PRIx64, value & ~(uint64_t)0xfff);
}

static const struct region_ops testdev_flush_ops = {
    .read = testdev_zero_read,
    .write = testdev_flush_write,
    .min_access = 4,
    .max_access = 4,
};

/* ---- interrupt lines ---- */

static void testdev_irq_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct pc_testdev *t = opaque;

    if (offset >= MACHINE_ISA_IRQS) {
        /* QEMU has no ISA line above 15 either (it aborts); here the write is ignored. */
        log_guest_error("pc-testdev: interrupt line %" PRIu64 " does not exist", offset);
        return;
    }
    TRACE(pc_testdev_irq, "line=%" PRIu64 " level=%d", offset, (value & 0xff) != 0);
    irq_set_level(t->lines[offset], (value & 0xff) != 0);
}

static const struct region_ops testdev_irq_ops = {
    .read = testdev_zero_read,
    .write = testdev_irq_write,
    .min_access = 1,
    .max_access = 1,
};

/* ---- the MMIO window ---- */

static uint64_t testdev_iomem_read(void *opaque, uint64_t offset, unsigned size)
{
    struct pc_testdev *t = opaque;
    uint64_t value = 0;

    if (!testdev_range_ok(offset, size, TESTDEV_IOMEM_SIZE)) {
        log_guest_error("pc-testdev: iomem read of %u bytes at offset 0x%" PRIx64, size, offset);
        return all_ones(size);
    }
    for (unsigned i = 0; i < size; i++) {
        value |= (uint64_t)t->iomem_buf[offset + i] << (8 * i);
    }
    return value;
}

static void testdev_iomem_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct pc_testdev *t = opaque;

    if (!testdev_range_ok(offset, size, TESTDEV_IOMEM_SIZE)) {
        log_guest_error("pc-testdev: iomem write of %u bytes at offset 0x%" PRIx64, size,
                        offset);
        return;
    }
    for (unsigned i = 0; i < size; i++) {
        t->iomem_buf[offset + i] = (uint8_t)(value >> (8 * i));
    }
}

static const struct region_ops testdev_iomem_ops = {
    .read = testdev_iomem_read,
    .write = testdev_iomem_write,
    .min_access = 1,
    .max_access = 8,
};

/* ---- life cycle ---- */

static void pc_testdev_reset(void *dev)
{
    struct pc_testdev *t = dev;

    t->scratch_value = 0;
    memset(t->iomem_buf, 0, sizeof(t->iomem_buf));
    for (unsigned i = 0; i < MACHINE_ISA_IRQS; i++) {
        irq_set_level(t->lines[i], false);
    }
}

/* ---- saved state ---- */

static void pc_testdev_pre_save(void *dev)
{
    struct pc_testdev *t = dev;

    for (unsigned i = 0; i < MACHINE_ISA_IRQS; i++) {
        t->line_level[i] = irq_get_level(t->lines[i]);
    }
}

static void pc_testdev_post_load(void *dev)
{
    struct pc_testdev *t = dev;

    for (unsigned i = 0; i < MACHINE_ISA_IRQS; i++) {
        irq_set_level(t->lines[i], t->line_level[i]);
    }
}

static const struct vmstate_field pc_testdev_fields[] = {
    VMSTATE_U32(struct pc_testdev, scratch_value),
    VMSTATE_U8_ARRAY(struct pc_testdev, iomem_buf, TESTDEV_IOMEM_SIZE),
    VMSTATE_BOOL_ARRAY(struct pc_testdev, line_level, MACHINE_ISA_IRQS),
    VMSTATE_END,
};

static const struct vmstate_desc pc_testdev_vmstate = {
    .name = "pc-testdev",
    .version = 1,
    .fields = pc_testdev_fields,
    .pre_save = pc_testdev_pre_save,
    .post_load = pc_testdev_post_load,
};

static void pc_testdev_destroy(void *dev)
{
    struct pc_testdev *t = dev;
    struct region *regions[5];

    if (!t)
        return;
    regions[0] = t->scratch;
    regions[1] = t->flush;
    regions[2] = t->scratch_byte;
    regions[3] = t->irq_ports;
    regions[4] = t->iomem;
    for (unsigned i = 0; i < ARRAY_SIZE(regions); i++) {
        region_del(regions[i]);
    }
    for (unsigned i = 0; i < MACHINE_ISA_IRQS; i++) {
        irq_line_free(t->lines[i]);
    }
    g_free(t);
}

static bool pc_testdev_add_io(struct pc_testdev *t, struct region **out, const char *name,
                              uint64_t port, uint64_t len, const struct region_ops *ops,
                              GError **err)
{
    *out = machine_add_io(t->machine, name, port, len, ops, t);
    if (!*out) {
        g_set_error(err, pc_testdev_error_quark(), 0,
                    "pc-testdev: ports 0x%" PRIx64 "-0x%" PRIx64 " are in use", port,
                    port + len - 1);
        return false;
    }
    return true;
}

static void *pc_testdev_create(struct machine *m, struct kv_list *props, GError **err)
{
    struct pc_testdev *t = g_new0(struct pc_testdev, 1);

    t->machine = m;
    for (unsigned i = 0; i < MACHINE_ISA_IRQS; i++) {
        t->lines[i] = machine_isa_irq(m, i);
    }
    if (!pc_testdev_add_io(t, &t->scratch, "pc-testdev-ioport", TESTDEV_SCRATCH_PORT,
                           TESTDEV_SCRATCH_LEN, &testdev_scratch_ops, err) ||
        !pc_testdev_add_io(t, &t->flush, "pc-testdev-flush-page", TESTDEV_FLUSH_PORT, 4,
                           &testdev_flush_ops, err) ||
        !pc_testdev_add_io(t, &t->scratch_byte, "pc-testdev-ioport-byte",
                           TESTDEV_SCRATCH_BYTE_PORT, TESTDEV_SCRATCH_LEN,
                           &testdev_scratch_byte_ops, err) ||
        !pc_testdev_add_io(t, &t->irq_ports, "pc-testdev-irq-line", TESTDEV_IRQ_PORT,
                           TESTDEV_IRQ_PORTS, &testdev_irq_ops, err))
        goto fail;
    t->iomem = machine_add_mmio(m, "pc-testdev-iomem", TESTDEV_IOMEM_BASE, TESTDEV_IOMEM_SIZE,
                                &testdev_iomem_ops, t);
    if (!t->iomem) {
        g_set_error(err, pc_testdev_error_quark(), 0,
                    "pc-testdev: MMIO 0x%08x-0x%08x is in use", TESTDEV_IOMEM_BASE,
                    TESTDEV_IOMEM_BASE + TESTDEV_IOMEM_SIZE - 1);
        goto fail;
    }
    return t;

fail:
    pc_testdev_destroy(t);
    return NULL;
}

static const struct device_type pc_testdev_type = {
    .name = "pc-testdev",
    .description = "x86 test device (kvm-unit-tests): scratch ports, IRQ lines, 64 KiB MMIO",
    .user_creatable = true,
    .create = pc_testdev_create,
    .reset = pc_testdev_reset,
    .destroy = pc_testdev_destroy,
    .vmstate = &pc_testdev_vmstate,
};
DEVICE_TYPE_REGISTER(pc_testdev_type);
