/*
 * "cmos-nvram": the battery-backed bytes of the PC's MC146818 CMOS above its clock.
 *
 * Xen emulates the RTC itself, but only its first 14 registers (the clock, alarms and
 * registers A-D). An index write of 0x0E or above to port 0x70, and every access to port 0x71
 * while such an index is selected, are not Xen's: they reach the device model, which keeps
 * the NVRAM firmware reads (qemu-xen serves the same bytes). So this device claims 0x70-0x71
 * and only ever sees those accesses.
 *
 * Contents at creation, as the IBM PC/AT CMOS map and qemu-xen lay them out:
 *   0x10 floppy drive types (none), 0x14 equipment (FPU, PS/2 mouse), 0x15-0x16 base memory
 *   in KiB (640), 0x17-0x18 and 0x30-0x31 extended memory in KiB (up to 64 MiB), 0x34-0x35
 *   memory between 16 MiB and the 4 GiB hole in 64 KiB units, 0x5B-0x5D memory above 4 GiB in
 *   64 KiB units, 0x5F vCPUs - 1, 0x3D and 0x38 boot order (SeaBIOS reads it: 1 floppy,
 *   2 disk, 3 CD-ROM, 4 network, one nibble per place), 0x32 century (BCD 20).
 * The checksum bytes 0x2E-0x2F stay 0, as qemu-xen leaves them (tests/qtest/test-cmos.c runs
 * against both); neither SeaBIOS nor the guests check them.
 * Disk geometry bytes (0x12, 0x19-0x24) arrive with the IDE disks.
 * The guest may write any byte (operating systems keep their own flags there); a reset keeps
 * them, as a battery would.
 */
#include <glib.h>
#include <string.h>

#include "xendm/common.h"
#include "xendm/keyval.h"
#include "xendm/machine.h"
#include "xendm/memory.h"
#include "xendm/trace.h"
#include "xendm/vmstate.h"

#define CMOS_PORT 0x70
#define CMOS_INDEX 0
#define CMOS_DATA 1
#define CMOS_SIZE 128
#define CMOS_INDEX_MASK 0x7f /* bit 7 of the index write is the NMI mask: Xen's business */
#define CMOS_FIRST_NVRAM 0x0e

#define CMOS_SHUTDOWN_STATUS 0x0f
#define SHUTDOWN_STATUS_S3_RESUME 0xfe
#define CMOS_FLOPPY_TYPES 0x10
#define CMOS_EQUIPMENT 0x14
#define EQUIPMENT_FPU 0x02
#define EQUIPMENT_PS2_MOUSE 0x04
#define CMOS_BASE_MEM_LO 0x15
#define CMOS_EXT_MEM_LO 0x17
#define CMOS_EXT_MEM2_LO 0x30
#define CMOS_CENTURY 0x32
#define CENTURY_BCD 0x20
#define CMOS_MEM_16M_LO 0x34
#define CMOS_BOOT_FLAG1 0x38 /* bits 7:4 third boot device; bit 0 skips the floppy check */
#define CMOS_BOOT_FLAG2 0x3d /* bits 7:4 second, 3:0 first */
#define CMOS_MEM_4G_LO 0x5b
#define CMOS_NR_CPUS 0x5f

#define KIB 1024ull
#define MIB (1024 * KIB)
#define BASE_MEM_KIB 640
#define HVM_BELOW_4G_RAM_END 0xf0000000ull /* Xen's hvmloader: RAM below the MMIO hole */
#define BOOT_PLACES 3

struct cmos_nvram {
    struct region *region;
    uint8_t index;
    uint8_t bytes[CMOS_SIZE];
};

static GQuark cmos_error_quark(void)
{
    return g_quark_from_static_string("xendm-cmos-error");
}

static uint64_t cmos_read(void *opaque, uint64_t offset, unsigned size)
{
    struct cmos_nvram *c = opaque;

    if (offset == CMOS_INDEX) {
        return 0xff; /* the index register is write-only */
    }
    TRACE(cmos_read, "index=0x%02x value=0x%02x", c->index, c->bytes[c->index]);
    return c->bytes[c->index];
}

static void cmos_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct cmos_nvram *c = opaque;

    if (offset == CMOS_INDEX) {
        c->index = (uint8_t)value & CMOS_INDEX_MASK;
        return;
    }
    TRACE(cmos_write, "index=0x%02x value=0x%02x", c->index, (unsigned)(value & 0xff));
    /* Below 0x0E is the clock, which is Xen's; a write that reaches us there is dropped. */
    if (c->index >= CMOS_FIRST_NVRAM) {
        c->bytes[c->index] = (uint8_t)value;
    }
}

static const struct region_ops cmos_ops = {
    .read = cmos_read,
    .write = cmos_write,
    .min_access = 1,
    .max_access = 1,
};

static void set_le16(struct cmos_nvram *c, unsigned index, uint64_t value)
{
    if (value > 0xffff) {
        value = 0xffff;
    }
    c->bytes[index] = (uint8_t)value;
    c->bytes[index + 1] = (uint8_t)(value >> 8);
}

static void set_memory_sizes(struct cmos_nvram *c, uint64_t ram_size)
{
    uint64_t below_4g = ram_size < HVM_BELOW_4G_RAM_END ? ram_size : HVM_BELOW_4G_RAM_END;
    uint64_t above_4g = ram_size - below_4g;
    uint64_t units_4g = above_4g / (64 * KIB);

    set_le16(c, CMOS_BASE_MEM_LO, XENDM_MIN(below_4g / KIB, BASE_MEM_KIB));
    set_le16(c, CMOS_EXT_MEM_LO, below_4g > MIB ? (below_4g - MIB) / KIB : 0);
    set_le16(c, CMOS_EXT_MEM2_LO, below_4g > MIB ? (below_4g - MIB) / KIB : 0);
    set_le16(c, CMOS_MEM_16M_LO, below_4g > 16 * MIB ? (below_4g - 16 * MIB) / (64 * KIB) : 0);
    c->bytes[CMOS_MEM_4G_LO] = (uint8_t)units_4g;
    c->bytes[CMOS_MEM_4G_LO + 1] = (uint8_t)(units_4g >> 8);
    c->bytes[CMOS_MEM_4G_LO + 2] = (uint8_t)(units_4g >> 16);
}

/* QEMU's boot letters: a, b floppy; c disk; d CD-ROM; n-p network. */
static int boot_device_code(char letter)
{
    switch (letter) {
    case 'a':
    case 'b':
        return 1;
    case 'c':
        return 2;
    case 'd':
        return 3;
    case 'n':
    case 'o':
    case 'p':
        return 4;
    default:
        return -1;
    }
}

static bool set_boot_order(struct cmos_nvram *c, const char *order, GError **err)
{
    unsigned codes[BOOT_PLACES] = {0, 0, 0};
    size_t len = strlen(order);

    if (len > BOOT_PLACES) {
        g_set_error(err, cmos_error_quark(), 0, "boot order '%s': at most %u devices", order,
                    BOOT_PLACES);
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        int code = boot_device_code(order[i]);
        if (code < 0) {
            g_set_error(err, cmos_error_quark(), 0, "boot order '%s': invalid device '%c'",
                        order, order[i]);
            return false;
        }
        codes[i] = (unsigned)code;
    }
    c->bytes[CMOS_BOOT_FLAG2] = (uint8_t)(codes[1] << 4 | codes[0]);
    c->bytes[CMOS_BOOT_FLAG1] = (uint8_t)(codes[2] << 4); /* bit 0 clear: check floppies */
    return true;
}

static bool cmos_fill(struct cmos_nvram *c, struct machine *m, struct kv_list *props,
                      GError **err)
{
    const char *boot = kv_get(props, "boot-order");
    uint64_t cpus;

    if (!kv_get_u64(props, "cpus", 1, false, &cpus, err)) {
        return false;
    }
    c->bytes[CMOS_FLOPPY_TYPES] = 0;
    c->bytes[CMOS_EQUIPMENT] = EQUIPMENT_FPU | EQUIPMENT_PS2_MOUSE;
    c->bytes[CMOS_CENTURY] = CENTURY_BCD;
    c->bytes[CMOS_NR_CPUS] = (uint8_t)(cpus == 0 ? 0 : XENDM_MIN(cpus - 1, 255));
    set_memory_sizes(c, m->ram_size);
    if (!set_boot_order(c, boot != NULL ? boot : "cad", err)) {
        return false;
    }
    return true;
}

/*
 * ACPI S3: shutdown status 0xFE in CMOS 0x0F tells the firmware, when the vCPU restarts at
 * the reset vector on wake-up, to resume the OS through its waking vector instead of booting
 * (SeaBIOS's convention, which qemu-xen's chipset follows).
 */
static void cmos_suspend(void *dev)
{
    struct cmos_nvram *c = dev;

    c->bytes[CMOS_SHUTDOWN_STATUS] = SHUTDOWN_STATUS_S3_RESUME;
}

static const struct vmstate_field cmos_fields[] = {
    VMSTATE_U8_MAX(struct cmos_nvram, index, CMOS_INDEX_MASK),
    VMSTATE_U8_ARRAY(struct cmos_nvram, bytes, CMOS_SIZE),
    VMSTATE_END,
};

static const struct vmstate_desc cmos_vmstate = {
    .name = "cmos-nvram",
    .version = 1,
    .fields = cmos_fields,
};

static void cmos_destroy(void *dev)
{
    struct cmos_nvram *c = dev;

    if (c == NULL) {
        return;
    }
    region_del(c->region);
    g_free(c);
}

static void *cmos_create(struct machine *m, struct kv_list *props, GError **err)
{
    struct cmos_nvram *c = g_new0(struct cmos_nvram, 1);

    if (!cmos_fill(c, m, props, err)) {
        goto fail;
    }
    c->region = machine_add_io(m, "cmos-nvram", CMOS_PORT, 2, &cmos_ops, c);
    if (c->region == NULL) {
        g_set_error(err, cmos_error_quark(), 0, "cmos-nvram: ports 0x70-0x71 are in use");
        goto fail;
    }
    return c;

fail:
    cmos_destroy(c);
    return NULL;
}

static const struct device_type cmos_type = {
    .name = "cmos-nvram",
    .description = "CMOS NVRAM above the clock (0x70-0x71, indexes 0x0E-0x7F): memory sizes, "
                   "boot order",
    .user_creatable = false,
    .create = cmos_create,
    .suspend = cmos_suspend,
    .destroy = cmos_destroy,
    .vmstate = &cmos_vmstate,
};
DEVICE_TYPE_REGISTER(cmos_type);
