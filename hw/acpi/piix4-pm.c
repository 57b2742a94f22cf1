/*
 * "piix4-pm": function 3 of the 82371AB PIIX4, power management, at 00:01.3 (8086:7113),
 * with the ACPI blocks a Xen HVM guest's firmware tables point at.
 *
 * Configuration space (82371AB datasheet, function 3):
 *   0x40 PMBA      I/O base of the 64-byte PM block: bit 0 reads 1, bits 15:6 writable
 *   0x80 PMREGMISC bit 0 PMIOSE: the PM block decodes only while it is set
 *   0x90 SMBBA     SMBus base (bits 15:4), 0xD2 SMBHSTCFG (bit 0 host enable, bits 3:1
 *                  interrupt select): qemu-xen's 0xB101 and 0x09, the SMBus host registers
 *                  decoded at 0xB100 (hw/i2c/piix4-smbus.c)
 * hvmloader writes PMBA = 0xB001, PMREGMISC = 1 and interrupt line 9.
 *
 * The PM block at PMBA (ACPI 2.0 §4.7.3 fixed hardware registers):
 *   +0 PM1a_STS (W1C), +2 PM1a_EN, +4 PM1a_CNT (SLP_EN with SLP_TYP sleeps), +8 PM_TMR.
 * Once hvmloader selects ACPI v1 Xen emulates PM1a_STS/EN and PM_TMR itself (reference §7);
 * they are implemented here too, for the time before and for hosts that do not.
 * SLP_TYP values are those of hvmloader's DSDT: _S5 (and _S4) = 0, _S3 = 1.
 *
 * Fixed blocks hvmloader's DSDT uses, always decoded:
 *   0xAFE0 GPE0_STS (2 bytes, W1C), GPE0_EN (2 bytes)
 *   0xAE00 PCI hotplug: slots inserted (4 bytes), removed (4 bytes); read 0: no hotplug yet
 *   0xAE08 PCI eject (4 bytes): logged and ignored
 *   0xAF00 CPU presence bitmap (32 bytes): bit n set for vCPU n < the "cpus" property, and
 *          for each vCPU plugged later (acpi_cpu_plug, raising GPE0 bit 2)
 *
 * APM control (0xB2 APMC, 0xB3 APMS; PIIX4 datasheet §7.1.4): hvmloader's FADT names 0xB2
 * as SMI_CMD with ACPI_ENABLE 0xF1 and ACPI_DISABLE 0xF0. Real firmware's SMI handler sets
 * or clears PM1a_CNT.SCI_EN; there is no SMM here, so the write does it directly (hvmloader
 * checks SCI_EN after writing 0xF1 and stops if it is clear). APMS is a scratch byte.
 *
 * The SCI is ISA IRQ 9: (PM1_STS & PM1_EN & (PWRBTN | TMR | GBL)) || (GPE0_STS & GPE0_EN).
 */
#include <glib.h>
#include <inttypes.h>

#include "xendm/acpi.h"
#include "xendm/common.h"
#include "xendm/keyval.h"
#include "xendm/log.h"
#include "xendm/machine.h"
#include "xendm/memory.h"
#include "xendm/pc-chipset.h"
#include "xendm/pci.h"
#include "xendm/smbus.h"
#include "xendm/trace.h"
#include "xendm/vmstate.h"

/* ---- configuration space ---- */
#define PIIX4_PMBA 0x40
#define PMBA_IO_SPACE 0x00000001u
#define PMBA_WMASK 0x0000ffc0u
#define PMBA_BASE_MASK 0xffc0u
#define PIIX4_PMREGMISC 0x80
#define PMREGMISC_PMIOSE 0x01
#define PIIX4_DEVACTB_HI 0x5b
#define DEVACTB_APMC_EN_HI 0x02 /* bit 25 of DEVACTB */
#define PIIX4_DEVRESD_HI 0x5f
#define DEVRESD_HI_RESET 0x10
#define PIIX4_DEVRESE_HI 0x63
#define DEVRESE_HI_RESET 0x60
#define PIIX4_DEVRESF_HI 0x67
#define DEVRESF_COM1 0x08
#define DEVRESF_COM2 0x90
#define PIIX4_SMBBA 0x90
#define SMBBA_WMASK 0x0000fff0u
#define SMBBA_RESET 0x0000b101u /* qemu-xen: I/O base 0xB100 */
#define PIIX4_SMBHSTCFG 0xd2
#define SMBHSTCFG_WMASK 0x0f /* host enable and interrupt select; bits 7:4 reserved */
#define SMBHSTCFG_RESET 0x09 /* qemu-xen: enabled, interrupt select 100b (IRQ 9) */
#define PIIX4_PM_STATUS_RESET 0x0280 /* fast back-to-back capable, medium DEVSEL timing */

/* ---- the PM block ---- */
#define PM_BLOCK_LEN 64
#define PM1_STS 0x00
#define PM1_EN 0x02
#define PM1_CNT 0x04
#define PM_TMR 0x08

#define PM1_TMR 0x0001 /* TMR_STS / TMR_EN */
#define PM1_BM_STS 0x0010
#define PM1_GBL 0x0020
#define PM1_PWRBTN 0x0100
#define PM1_RTC 0x0400
#define PM1_WAK_STS 0x8000
#define PM1_STS_W1C (PM1_TMR | PM1_BM_STS | PM1_GBL | PM1_PWRBTN | PM1_RTC | PM1_WAK_STS)
#define PM1_EN_MASK (PM1_TMR | PM1_GBL | PM1_PWRBTN | PM1_RTC)
#define PM1_SCI_SOURCES (PM1_PWRBTN | PM1_TMR | PM1_GBL)

#define PM1_CNT_SCI_EN 0x0001
#define PM1_CNT_BM_RLD 0x0002
#define PM1_CNT_SLP_TYP_SHIFT 10
#define PM1_CNT_SLP_TYP (7u << PM1_CNT_SLP_TYP_SHIFT)
#define PM1_CNT_SLP_EN 0x2000 /* write-only: reads 0 */
#define PM1_CNT_STORED (PM1_CNT_SCI_EN | PM1_CNT_BM_RLD | PM1_CNT_SLP_TYP)

#define SLP_TYP_S5 0 /* hvmloader's DSDT: _S5 and _S4 */
#define SLP_TYP_S3 1 /* hvmloader's DSDT: _S3 */

/* ACPI PM timer: 3.579545 MHz, 24 bits; TMR_STS is set each time bit 23 toggles. */
#define PM_TIMER_HZ 3579545u
#define PM_TIMER_MASK 0x00ffffffu
#define PM_TIMER_MSB_SHIFT 23
#define NS_PER_SEC 1000000000u

/* ---- fixed blocks ---- */
#define GPE0_PORT 0xafe0
#define GPE0_LEN 4
#define PCIHP_PORT 0xae00
#define PCIHP_LEN 12
#define PCIHP_EJECT 8
#define APM_PORT 0xb2
#define APM_LEN 2
#define APM_CNT 0
#define APM_STS 1
#define APM_ACPI_ENABLE 0xf1 /* hvmloader's FADT: ACPI_ENABLE */
#define APM_ACPI_DISABLE 0xf0
#define CPU_STATUS_PORT 0xaf00
#define CPU_STATUS_LEN 32
#define PIIX4_PM_MAX_CPUS (CPU_STATUS_LEN * 8)

#define SCI_IRQ 9

struct piix4_pm {
    struct machine *machine;
    struct pci_device *dev;
    struct irq_line *sci;
    struct region *pm_io; /* at PMBA while PMIOSE and the base is non-zero */
    struct region *gpe0;
    struct region *pcihp;
    struct region *cpu_status;
    struct region *apm;
    struct piix4_smbus *smbus;
    struct timer *tmr_timer; /* armed for the next TMR_STS while TMR_EN */
    uint8_t cpu_present[CPU_STATUS_LEN]; /* bit n of byte n / 8: vCPU n is present */
    uint16_t pm1_sts;
    uint16_t pm1_en;
    uint16_t pm1_cnt;
    uint16_t gpe0_sts;
    uint16_t gpe0_en;
    uint8_t apm_cnt;
    uint8_t apm_sts;
    unsigned serial_ports; /* how many COM ports the machine has (DEVRESF) */
    int64_t tmr_start_ns;
    uint64_t tmr_msb_periods; /* half-periods of the 24-bit counter accounted in TMR_STS */
};

static GQuark piix4_pm_error_quark(void)
{
    return g_quark_from_static_string("xendm-piix4-pm-error");
}

/* ---- PM timer ---- */

/* Ticks since creation; split so that neither product overflows 64 bits. */
static uint64_t pm_timer_ticks(const struct piix4_pm *pm)
{
    uint64_t ns = (uint64_t)(clock_now_ns() - pm->tmr_start_ns);

    return (ns / NS_PER_SEC) * PM_TIMER_HZ + (ns % NS_PER_SEC) * PM_TIMER_HZ / NS_PER_SEC;
}

/* Sets TMR_STS if bit 23 toggled since last looked (ACPI 2.0 §4.7.2.1); true if it did. */
static bool pm_timer_sync_status(struct piix4_pm *pm, uint64_t ticks)
{
    uint64_t periods = ticks >> PM_TIMER_MSB_SHIFT;

    if (periods == pm->tmr_msb_periods) {
        return false;
    }
    pm->tmr_msb_periods = periods;
    pm->pm1_sts |= PM1_TMR;
    return true;
}

static void pm_timer_arm(struct piix4_pm *pm, uint64_t ticks)
{
    uint64_t next = ((ticks >> PM_TIMER_MSB_SHIFT) + 1) << PM_TIMER_MSB_SHIFT;
    uint64_t delta = next - ticks; /* at most 2^23 ticks: the product fits */

    timer_arm_ns(pm->tmr_timer, (delta * NS_PER_SEC + PM_TIMER_HZ - 1) / PM_TIMER_HZ);
}

/* ---- SCI ---- */

static void piix4_pm_update_sci(struct piix4_pm *pm)
{
    bool level = (pm->pm1_sts & pm->pm1_en & PM1_SCI_SOURCES) != 0 ||
                 (pm->gpe0_sts & pm->gpe0_en) != 0;

    irq_set_level(pm->sci, level);
    /* The timer runs only when its status could raise the SCI. */
    if ((pm->pm1_en & PM1_TMR) && !(pm->pm1_sts & PM1_TMR)) {
        pm_timer_arm(pm, pm_timer_ticks(pm));
    } else {
        timer_cancel(pm->tmr_timer);
    }
}

static void pm_timer_expired(void *opaque)
{
    struct piix4_pm *pm = opaque;

    pm_timer_sync_status(pm, pm_timer_ticks(pm));
    piix4_pm_update_sci(pm);
}

/* ---- PM1a block at PMBA ---- */

static uint8_t byte_of(uint32_t value, unsigned index)
{
    return (uint8_t)(value >> (8 * index));
}

static uint8_t pm_io_read_byte(struct piix4_pm *pm, unsigned offset, uint64_t ticks)
{
    switch (offset) {
    case PM1_STS:
    case PM1_STS + 1:
        return byte_of(pm->pm1_sts, offset - PM1_STS);
    case PM1_EN:
    case PM1_EN + 1:
        return byte_of(pm->pm1_en, offset - PM1_EN);
    case PM1_CNT:
    case PM1_CNT + 1:
        return byte_of(pm->pm1_cnt, offset - PM1_CNT);
    case PM_TMR:
    case PM_TMR + 1:
    case PM_TMR + 2:
    case PM_TMR + 3:
        return byte_of((uint32_t)ticks & PM_TIMER_MASK, offset - PM_TMR);
    default:
        return 0; /* PIIX4-specific registers: nothing behind them under Xen */
    }
}

static uint64_t pm_io_read(void *opaque, uint64_t offset, unsigned size)
{
    struct piix4_pm *pm = opaque;
    uint64_t ticks = pm_timer_ticks(pm); /* one sample: a 32-bit PM_TMR read cannot tear */
    uint64_t value = 0;

    if (pm_timer_sync_status(pm, ticks)) {
        piix4_pm_update_sci(pm);
    }
    for (unsigned i = 0; i < size && offset + i < PM_BLOCK_LEN; i++) {
        value |= (uint64_t)pm_io_read_byte(pm, (unsigned)offset + i, ticks) << (8 * i);
    }
    return value;
}

static void piix4_pm_sleep(struct piix4_pm *pm, unsigned slp_typ)
{
    switch (slp_typ) {
    case SLP_TYP_S5:
        log_guest_event("piix4-pm: guest entered S5 (soft off)");
        machine_request_shutdown(pm->machine, SHUTDOWN_POWEROFF);
        break;
    case SLP_TYP_S3:
        /* Not a shutdown: Xen parks the vCPUs and the domain lives on (machine.h). */
        machine_enter_s3(pm->machine);
        break;
    default:
        log_guest_error("piix4-pm: SLP_EN with SLP_TYP %u, which the DSDT does not define",
                        slp_typ);
        break;
    }
}

static void pm1_cnt_write_byte(struct piix4_pm *pm, unsigned index, uint8_t value)
{
    uint16_t mask = (uint16_t)(0xffu << (8 * index));
    uint16_t bits = (uint16_t)(value << (8 * index));

    pm->pm1_cnt = (uint16_t)((pm->pm1_cnt & ~mask) | (bits & mask & PM1_CNT_STORED));
    /* SLP_TYP and SLP_EN share the high byte, so a 16-bit write acts on its own type. */
    if (bits & PM1_CNT_SLP_EN) {
        piix4_pm_sleep(pm, (pm->pm1_cnt & PM1_CNT_SLP_TYP) >> PM1_CNT_SLP_TYP_SHIFT);
    }
}

static void pm_io_write_byte(struct piix4_pm *pm, unsigned offset, uint8_t value)
{
    uint16_t shifted = (uint16_t)(value << (8 * (offset & 1)));

    switch (offset) {
    case PM1_STS:
    case PM1_STS + 1:
        pm->pm1_sts &= (uint16_t)~(shifted & PM1_STS_W1C);
        break;
    case PM1_EN:
    case PM1_EN + 1: {
        uint16_t mask = (uint16_t)(0xffu << (8 * (offset & 1)));
        pm->pm1_en = (uint16_t)((pm->pm1_en & ~mask) | (shifted & mask & PM1_EN_MASK));
        break;
    }
    case PM1_CNT:
    case PM1_CNT + 1:
        pm1_cnt_write_byte(pm, offset - PM1_CNT, value);
        break;
    default:
        break; /* PM_TMR is read-only; the rest has nothing behind it */
    }
}

static void pm_io_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct piix4_pm *pm = opaque;

    pm_timer_sync_status(pm, pm_timer_ticks(pm));
    for (unsigned i = 0; i < size && offset + i < PM_BLOCK_LEN; i++) {
        pm_io_write_byte(pm, (unsigned)offset + i, (uint8_t)(value >> (8 * i)));
    }
    piix4_pm_update_sci(pm);
}

static const struct region_ops pm_io_ops = {
    .read = pm_io_read,
    .write = pm_io_write,
    .min_access = 1,
    .max_access = 4,
};

/* ---- GPE0 block (0xAFE0) ---- */

static uint64_t gpe0_read(void *opaque, uint64_t offset, unsigned size)
{
    struct piix4_pm *pm = opaque;
    uint32_t both = pm->gpe0_sts | (uint32_t)pm->gpe0_en << 16;

    return (both >> (8 * offset)) & all_ones(size);
}

static void gpe0_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct piix4_pm *pm = opaque;

    for (unsigned i = 0; i < size && offset + i < GPE0_LEN; i++) {
        unsigned reg = (unsigned)offset + i;
        uint16_t shifted = (uint16_t)(((value >> (8 * i)) & 0xff) << (8 * (reg & 1)));
        uint16_t mask = (uint16_t)(0xffu << (8 * (reg & 1)));

        if (reg < 2) {
            pm->gpe0_sts &= (uint16_t)~shifted; /* write 1 to clear */
        } else {
            pm->gpe0_en = (uint16_t)((pm->gpe0_en & ~mask) | shifted);
        }
    }
    piix4_pm_update_sci(pm);
}

static const struct region_ops gpe0_ops = {
    .read = gpe0_read,
    .write = gpe0_write,
    .min_access = 1,
    .max_access = 4,
};

/* ---- PCI hotplug (0xAE00-0xAE0B) ---- */

static uint64_t pcihp_read(void *opaque, uint64_t offset, unsigned size)
{
    return 0; /* no slot was inserted or removed: xendm has no PCI hotplug yet */
}

static void pcihp_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    if (offset >= PCIHP_EJECT) {
        log_guest_error("piix4-pm: eject of PCI slots 0x%" PRIx64 " ignored (no hotplug)",
                        value << (8 * (offset - PCIHP_EJECT)));
    }
}

static const struct region_ops pcihp_ops = {
    .read = pcihp_read,
    .write = pcihp_write,
    .min_access = 1,
    .max_access = 4,
};

/* ---- CPU presence bitmap (0xAF00) ---- */

static void cpu_mark_present(struct piix4_pm *pm, unsigned cpu)
{
    pm->cpu_present[cpu / 8] |= (uint8_t)(1u << (cpu % 8));
}

static uint64_t cpu_status_read(void *opaque, uint64_t offset, unsigned size)
{
    struct piix4_pm *pm = opaque;
    uint64_t value = 0;

    for (unsigned i = 0; i < size && offset + i < CPU_STATUS_LEN; i++) {
        value |= (uint64_t)pm->cpu_present[offset + i] << (8 * i);
    }
    return value;
}

static void cpu_status_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    /* Read-only for the guest: vCPUs appear through the toolstack, not by writing here. */
}

static const struct region_ops cpu_status_ops = {
    .read = cpu_status_read,
    .write = cpu_status_write,
    .min_access = 1,
    .max_access = 4,
};

/* ---- PMBA and PMIOSE ---- */

static void pm_io_unmap(struct piix4_pm *pm)
{
    region_del_clear(&pm->pm_io);
}

/* ---- APM control (0xB2, 0xB3) ---- */

static uint64_t apm_read(void *opaque, uint64_t offset, unsigned size)
{
    struct piix4_pm *pm = opaque;

    return offset == APM_CNT ? pm->apm_cnt : pm->apm_sts;
}

static void apm_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct piix4_pm *pm = opaque;

    if (offset == APM_STS) {
        pm->apm_sts = (uint8_t)value;
        return;
    }
    pm->apm_cnt = (uint8_t)value;
    if (pm->apm_cnt == APM_ACPI_ENABLE) {
        pm->pm1_cnt |= PM1_CNT_SCI_EN;
    } else if (pm->apm_cnt == APM_ACPI_DISABLE) {
        pm->pm1_cnt &= (uint16_t)~PM1_CNT_SCI_EN;
    }
    TRACE(piix4_pm_apm, "APMC=0x%02x SCI_EN=%u", pm->apm_cnt, pm->pm1_cnt & PM1_CNT_SCI_EN);
}

static const struct region_ops apm_ops = {
    .read = apm_read,
    .write = apm_write,
    .min_access = 1,
    .max_access = 1,
};

/* Maps the PM block where PMBA says while PMREGMISC.PMIOSE is set. */
static void pm_io_update(struct piix4_pm *pm)
{
    bool enabled = pci_get_byte(pm->dev, PIIX4_PMREGMISC) & PMREGMISC_PMIOSE;
    uint64_t base = pci_get_long(pm->dev, PIIX4_PMBA) & PMBA_BASE_MASK;

    /* Base 0 would sit on the DMA controller's ports: treat it as not yet programmed. */
    if (!enabled || base == 0) {
        pm_io_unmap(pm);
        return;
    }
    if (pm->pm_io != NULL) {
        if (region_base(pm->pm_io) == base) {
            return;
        }
        if (region_move(pm->pm_io, base)) {
            return;
        }
        pm_io_unmap(pm);
    } else {
        pm->pm_io = machine_add_io(pm->machine, "piix4-pm", base, PM_BLOCK_LEN, &pm_io_ops, pm);
        if (pm->pm_io != NULL) {
            TRACE(piix4_pm_io, "PM block at 0x%04" PRIx64, base);
            return;
        }
    }
    log_guest_error("piix4-pm: PM block at 0x%04" PRIx64 " overlaps other ports; not decoded",
                    base);
}

/* SMBBA and SMBHSTCFG place the SMBus host registers and route their interrupt. */
static void smbus_update(struct piix4_pm *pm)
{
    piix4_smbus_configure(pm->smbus, (uint16_t)pci_get_long(pm->dev, PIIX4_SMBBA),
                          pci_get_byte(pm->dev, PIIX4_SMBHSTCFG));
}

static void piix4_pm_config_write(struct pci_device *d, void *opaque, uint32_t offset,
                                  uint32_t value, unsigned size)
{
    struct piix4_pm *pm = opaque;
    uint32_t end = offset + size;

    if ((offset < PIIX4_PMBA + 4 && end > PIIX4_PMBA) ||
        (offset <= PIIX4_PMREGMISC && end > PIIX4_PMREGMISC)) {
        pm_io_update(pm);
    }
    if ((offset < PIIX4_SMBBA + 4 && end > PIIX4_SMBBA) ||
        (offset <= PIIX4_SMBHSTCFG && end > PIIX4_SMBHSTCFG)) {
        smbus_update(pm);
    }
}

static void piix4_pm_config_init(struct piix4_pm *pm, struct pci_device *d)
{
    pci_set_word(d, PCI_STATUS, PIIX4_PM_STATUS_RESET);
    /*
     * Read-only values qemu-xen's PIIX4 PM reports (test-pci-compare): DEVACTB.APMC_EN, so
     * that an APMC write counts as the SMI trigger it is on hardware (the ACPI enable and
     * disable codes act directly here), and the device resource registers DEVRESD-DEVRESF,
     * whose 0x67 byte shows which COM ports decode (bit 3 COM1, bits 7 and 4 COM2).
     */
    pci_set_byte(d, PIIX4_DEVACTB_HI, DEVACTB_APMC_EN_HI);
    pci_set_byte(d, PIIX4_DEVRESD_HI, DEVRESD_HI_RESET);
    pci_set_byte(d, PIIX4_DEVRESE_HI, DEVRESE_HI_RESET);
    pci_set_byte(d, PIIX4_DEVRESF_HI, (pm->serial_ports > 0 ? DEVRESF_COM1 : 0) |
                                          (pm->serial_ports > 1 ? DEVRESF_COM2 : 0));
    pci_set_long(d, PIIX4_PMBA, PMBA_IO_SPACE);
    pci_set_wmask(d, PIIX4_PMBA, PMBA_WMASK, 4);
    pci_set_byte(d, PIIX4_PMREGMISC, 0);
    pci_set_wmask(d, PIIX4_PMREGMISC, PMREGMISC_PMIOSE, 1);
    pci_set_long(d, PIIX4_SMBBA, SMBBA_RESET);
    pci_set_wmask(d, PIIX4_SMBBA, SMBBA_WMASK, 4);
    pci_set_byte(d, PIIX4_SMBHSTCFG, SMBHSTCFG_RESET);
    pci_set_wmask(d, PIIX4_SMBHSTCFG, SMBHSTCFG_WMASK, 1);
}

static void piix4_pm_function_reset(struct pci_device *d, void *opaque)
{
    struct piix4_pm *pm = opaque;

    piix4_pm_config_init(pm, d);
    pm_io_unmap(pm);
    pm->pm1_sts = 0;
    pm->pm1_en = 0;
    pm->pm1_cnt = 0;
    pm->gpe0_sts = 0;
    pm->gpe0_en = 0;
    pm->apm_cnt = 0;
    pm->apm_sts = 0;
    pm->tmr_msb_periods = pm_timer_ticks(pm) >> PM_TIMER_MSB_SHIFT;
    piix4_pm_update_sci(pm);
    piix4_smbus_reset(pm->smbus);
    smbus_update(pm);
}

static const struct pci_device_ops piix4_pm_pci_ops = {
    .config_write = piix4_pm_config_write,
    .reset = piix4_pm_function_reset,
};

static const struct pci_device_id piix4_pm_id = {
    .vendor_id = 0x8086,
    .device_id = 0x7113,
    .revision = 0x03,
    .class_code = 0x068000, /* bridge, other */
    .interrupt_pin = 1,     /* INTA (the SCI itself is wired to ISA IRQ 9) */
};

/* ---- the power button ---- */

bool acpi_press_power_button(struct machine *m)
{
    struct piix4_pm *pm = machine_find_device(m, PIIX4_PM_TYPE_NAME);

    if (pm == NULL) {
        return false;
    }
    pm->pm1_sts |= PM1_PWRBTN;
    piix4_pm_update_sci(pm);
    return true;
}

static void piix4_pm_raise_gpe(struct piix4_pm *pm, unsigned gpe)
{
    pm->gpe0_sts |= (uint16_t)(1u << gpe);
    piix4_pm_update_sci(pm);
}

/* ---- CPU hotplug ---- */

/*
 * The bit stays set across a reset: on Xen a reboot rebuilds the domain with a new device
 * model, and the vCPU, once added, exists as on qemu-xen (whose legacy CPU hotplug cannot
 * remove one either). The GPE is raised even for a bit already set: a rescan changes nothing.
 */
bool acpi_cpu_plug(struct machine *m, unsigned cpu)
{
    struct piix4_pm *pm = machine_find_device(m, PIIX4_PM_TYPE_NAME);

    if (pm == NULL || cpu >= PIIX4_PM_MAX_CPUS) {
        return false;
    }
    cpu_mark_present(pm, cpu);
    TRACE(piix4_pm_cpu_plug, "vCPU %u present: GPE0 bit %u", cpu, ACPI_GPE_CPU_HOTPLUG);
    piix4_pm_raise_gpe(pm, ACPI_GPE_CPU_HOTPLUG);
    return true;
}

/* ---- life cycle ---- */

static void piix4_pm_destroy(void *dev)
{
    struct piix4_pm *pm = dev;
    struct region *fixed[4];

    if (pm == NULL) {
        return;
    }
    pm_io_unmap(pm);
    piix4_smbus_free(pm->smbus);
    fixed[0] = pm->gpe0;
    fixed[1] = pm->pcihp;
    fixed[2] = pm->cpu_status;
    fixed[3] = pm->apm;
    for (size_t i = 0; i < ARRAY_SIZE(fixed); i++) {
        region_del(fixed[i]);
    }
    if (pm->dev != NULL) {
        pci_device_remove(pm->dev);
    }
    timer_free(pm->tmr_timer);
    irq_line_free(pm->sci);
    g_free(pm);
}

static bool piix4_pm_add_fixed(struct piix4_pm *pm, struct region **out, const char *name,
                               uint16_t port, uint16_t len, const struct region_ops *ops,
                               GError **err)
{
    *out = machine_add_io(pm->machine, name, port, len, ops, pm);
    if (*out == NULL) {
        g_set_error(err, piix4_pm_error_quark(), 0, "piix4-pm: ports 0x%04x-0x%04x are in use",
                    port, port + len - 1);
        return false;
    }
    return true;
}

static bool piix4_pm_take_props(struct piix4_pm *pm, struct kv_list *props, GError **err)
{
    uint64_t cpus, serial_ports;

    if (!kv_get_u64(props, "cpus", 1, false, &cpus, err) ||
        !kv_get_u64(props, "serial-ports", 0, false, &serial_ports, err)) {
        return false;
    }
    pm->serial_ports = serial_ports > 4 ? 4 : (unsigned)serial_ports;
    if (cpus < 1 || cpus > PIIX4_PM_MAX_CPUS) {
        g_set_error(err, piix4_pm_error_quark(), 0, "piix4-pm: cpus=%" PRIu64
                    " is not in 1..%u", cpus, PIIX4_PM_MAX_CPUS);
        return false;
    }
    for (unsigned cpu = 0; cpu < cpus; cpu++) {
        cpu_mark_present(pm, cpu);
    }
    return true;
}

static void *piix4_pm_create(struct machine *m, struct kv_list *props, GError **err)
{
    struct pci_bus *bus = machine_pci_bus(m);
    struct piix4_pm *pm;

    if (bus == NULL) {
        g_set_error(err, piix4_pm_error_quark(), 0, "piix4-pm: the machine has no PCI bus");
        return NULL;
    }
    pm = g_new0(struct piix4_pm, 1);
    pm->machine = m;
    pm->sci = machine_isa_irq(m, SCI_IRQ);
    pm->tmr_timer = timer_new(pm_timer_expired, pm);
    pm->tmr_start_ns = clock_now_ns();
    pm->smbus = piix4_smbus_new(m, SCI_IRQ);
    if (!piix4_pm_take_props(pm, props, err) ||
        !piix4_pm_add_fixed(pm, &pm->gpe0, "acpi-gpe0", GPE0_PORT, GPE0_LEN, &gpe0_ops, err) ||
        !piix4_pm_add_fixed(pm, &pm->pcihp, "acpi-pci-hotplug", PCIHP_PORT, PCIHP_LEN,
                            &pcihp_ops, err) ||
        !piix4_pm_add_fixed(pm, &pm->cpu_status, "acpi-cpu-status", CPU_STATUS_PORT,
                            CPU_STATUS_LEN, &cpu_status_ops, err) ||
        !piix4_pm_add_fixed(pm, &pm->apm, "apm", APM_PORT, APM_LEN, &apm_ops, err)) {
        goto fail;
    }
    pm->dev = pci_device_add(bus, PIIX4_PM_DEVFN, PIIX4_PM_TYPE_NAME, &piix4_pm_id,
                             &piix4_pm_pci_ops, pm, err);
    if (pm->dev == NULL) {
        goto fail;
    }
    piix4_pm_config_init(pm, pm->dev);
    smbus_update(pm);
    return pm;

fail:
    piix4_pm_destroy(pm);
    return NULL;
}

/* ---- saved state ---- */

/* The configuration space (PMBA, PMREGMISC) is the PCI core's and is loaded first. */
static void piix4_pm_post_load(void *dev)
{
    struct piix4_pm *pm = dev;

    pm->tmr_msb_periods = pm_timer_ticks(pm) >> PM_TIMER_MSB_SHIFT;
    pm->pm1_sts &= PM1_STS_W1C;
    pm->pm1_en &= PM1_EN_MASK;
    pm->pm1_cnt &= PM1_CNT_STORED;
    pm_io_update(pm);
    smbus_update(pm);
    piix4_pm_update_sci(pm);
}

static const struct vmstate_field piix4_pm_fields[] = {
    VMSTATE_U16(struct piix4_pm, pm1_sts),
    VMSTATE_U16(struct piix4_pm, pm1_en),
    VMSTATE_U16(struct piix4_pm, pm1_cnt),
    VMSTATE_U16(struct piix4_pm, gpe0_sts),
    VMSTATE_U16(struct piix4_pm, gpe0_en),
    VMSTATE_U8(struct piix4_pm, apm_cnt),
    VMSTATE_U8(struct piix4_pm, apm_sts),
    VMSTATE_U8_ARRAY(struct piix4_pm, cpu_present, CPU_STATUS_LEN),
    VMSTATE_END,
};

static const struct vmstate_desc piix4_pm_vmstate = {
    .name = "piix4-pm",
    .version = 1,
    .fields = piix4_pm_fields,
    .post_load = piix4_pm_post_load,
};

static const struct device_type piix4_pm_type = {
    .name = PIIX4_PM_TYPE_NAME,
    .description = "PIIX4 ACPI power management (00:01.3), GPE0, PCI hotplug, CPU bitmap",
    .user_creatable = false,
    .create = piix4_pm_create,
    /* Reset comes through the bus: the host bridge resets every function. */
    .destroy = piix4_pm_destroy,
    .vmstate = &piix4_pm_vmstate,
};
DEVICE_TYPE_REGISTER(piix4_pm_type);
