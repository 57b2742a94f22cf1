/*
 * PCI, the Xen platform device, MSI-X and MSI from a real vCPU. Configuration cycles go
 * through 0xCF8/0xCFC (Xen latches 0xCF8 and hands the device model PCI_CONFIG ioreqs for the
 * functions it registered); BARs are ours to assign, since no hvmloader ran before us. The
 * interrupt checks enable the local APIC (which Xen emulates) and count deliveries of a vector
 * the device model asked Xen to inject with inject_msi.
 */
#include "fw.h"

#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA 0xcfc
#define PCI_ENABLE 0x80000000u

#define PCI_VENDOR_ID 0x00
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_CLASS_REVISION 0x08
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_CAP_PTR 0x34
#define PCI_COMMAND_IO 0x0001
#define PCI_COMMAND_MEMORY 0x0002
#define PCI_COMMAND_MASTER 0x0004
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_STATUS_CAP_LIST 0x0010
#define PCI_HEADER_MULTIFUNCTION 0x80
#define PCI_CAP_ID_MSI 0x05
#define PCI_CAP_ID_MSIX 0x11

#define ID_I440FX 0x12378086u
#define ID_PIIX3 0x70008086u
#define ID_PIIX4_PM 0x71138086u
#define ID_XEN_PLATFORM 0x00015853u
#define ID_XENDM_TESTDEV 0x7e571234u
#define DEVFN_HOST_BRIDGE PCI_DEVFN(0, 0)
#define DEVFN_PIIX3 PCI_DEVFN(1, 0)
#define DEVFN_PIIX4_PM PCI_DEVFN(1, 3)

/* The Xen platform device's fixed ports (reference §6). */
#define XEN_PLATFORM_PORT 0x10
#define XEN_PLATFORM_MAGIC 0x49d2
#define XEN_PLATFORM_VERSION 1

/* xendm-testdev (hw/misc/pci-testdev-xendm.c): BAR0 registers. */
#define TESTDEV_MAGIC 0x544d4458u
#define TD_MAGIC 0x00
#define TD_SCRATCH 0x04
#define TD_MSI_DOORBELL 0x0c
#define TD_MSIX_DOORBELL 0x10
#define TD_DOORBELLS 0x14
/* Where we put its BARs: an MMIO hole no RAM reaches on a small guest. */
#define TESTDEV_BAR0 0xe0000000u
#define TESTDEV_BAR2 0xe0100000u /* 1 MiB, 64-bit prefetchable */
#define TESTDEV_BAR4 0xe0200000u /* the MSI-X table and PBA */
#define TESTDEV_IO_BAR 0xc000u

/* MSI-X (PCI 3.0 §6.8.2) */
#define MSIX_CTRL 2
#define MSIX_TABLE 4
#define MSIX_PBA 8
#define MSIX_CTRL_ENABLE 0x8000
#define MSIX_ENTRY_SIZE 16
#define MSIX_ENTRY_VECTOR_CTRL 12
#define MSIX_ENTRY_MASKED 1u
/* MSI (PCI 3.0 §6.8.1), 64-bit with per-vector masking */
#define MSI_CTRL 2
#define MSI_ADDR_LO 4
#define MSI_ADDR_HI 8
#define MSI_DATA 0x0c
#define MSI_MASK 0x10
#define MSI_PENDING 0x14
#define MSI_CTRL_ENABLE 0x0001
#define MSI_CTRL_64BIT 0x0080
#define MSI_CTRL_PVM 0x0100

/* Local APIC (Intel SDM vol. 3 §10.4, §10.8, §10.9), at its reset base. */
#define LAPIC_BASE 0xfee00000u
#define LAPIC_TPR 0x80
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define LAPIC_SVR_ENABLE 0x100
/* MSI address: APIC ID 0 in bits 19:12, physical destination; data: vector, fixed, edge. */
#define MSI_ADDRESS_APIC0 0xfee00000u
#define PIC1_DATA 0x21
#define PIC2_DATA 0xa1

/* Long enough for an interrupt that Xen queued during the doorbell write to be taken. */
#define DELIVERY_SPINS 20000
#define MAX_FUNCTIONS_SHOWN 64

static bool config_works;
static int platform_slot = -1;
static int testdev_devfn = -1;

/* ---- configuration mechanism #1 (PCI 3.0 §3.2.2.3.2) ---- */

static void config_select(unsigned devfn, unsigned reg)
{
    outl(PCI_CONFIG_ADDRESS, PCI_ENABLE | (devfn & 0xffu) << 8 | (reg & 0xfcu));
}

uint32_t pci_read32(unsigned devfn, unsigned reg)
{
    config_select(devfn, reg);
    return inl(PCI_CONFIG_DATA);
}

uint16_t pci_read16(unsigned devfn, unsigned reg)
{
    config_select(devfn, reg);
    return inw((uint16_t)(PCI_CONFIG_DATA + (reg & 2)));
}

uint8_t pci_read8(unsigned devfn, unsigned reg)
{
    config_select(devfn, reg);
    return inb((uint16_t)(PCI_CONFIG_DATA + (reg & 3)));
}

void pci_write32(unsigned devfn, unsigned reg, uint32_t v)
{
    config_select(devfn, reg);
    outl(PCI_CONFIG_DATA, v);
}

void pci_write16(unsigned devfn, unsigned reg, uint16_t v)
{
    config_select(devfn, reg);
    outw((uint16_t)(PCI_CONFIG_DATA + (reg & 2)), v);
}

void pci_write8(unsigned devfn, unsigned reg, uint8_t v)
{
    config_select(devfn, reg);
    outb((uint16_t)(PCI_CONFIG_DATA + (reg & 3)), v);
}

static int pci_find_cap(unsigned devfn, uint8_t id)
{
    unsigned pos;

    if (!(pci_read16(devfn, PCI_STATUS) & PCI_STATUS_CAP_LIST))
        return -1;
    pos = pci_read8(devfn, PCI_CAP_PTR) & 0xfc;
    for (int i = 0; i < 48 && pos >= 0x40; i++) {
        if (pci_read8(devfn, pos) == id)
            return (int)pos;
        pos = pci_read8(devfn, pos + 1) & 0xfc;
    }
    return -1;
}

static bool running_on_xen(void)
{
    uint32_t eax = 0x40000000, ebx, ecx, edx;

    __asm__ volatile("cpuid" : "+a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx));
    /* "XenVMMXenVMM" (Xen's hypervisor leaves may also start at 0x40000100, not needed). */
    return ebx == 0x566e6558u && ecx == 0x65584d4du && edx == 0x4d4d566eu;
}

/* ---- "pci": enumerate bus 0 ---- */

static void puthex_digits(uint32_t v, unsigned digits)
{
    static const char hex[] = "0123456789abcdef";
    char buf[9];

    for (unsigned i = 0; i < digits; i++)
        buf[i] = hex[(v >> (4 * (digits - 1 - i))) & 0xf];
    buf[digits] = '\0';
    putstr(buf);
}

static void report_function(unsigned devfn, uint32_t id)
{
    putstr("# pci 00:");
    puthex_digits(PCI_SLOT(devfn), 2);
    putstr(".");
    puthex_digits(PCI_FUNC(devfn), 1);
    putstr(" ");
    puthex_digits(id & 0xffff, 4);
    putstr(":");
    puthex_digits(id >> 16, 4);
    putstr(" class ");
    puthex_digits(pci_read32(devfn, PCI_CLASS_REVISION) >> 8, 6);
    putstr("\n");
}

static void note_function(unsigned devfn, uint32_t id)
{
    if (id == ID_XEN_PLATFORM && platform_slot < 0 && PCI_FUNC(devfn) == 0)
        platform_slot = (int)PCI_SLOT(devfn);
    if (id == ID_XENDM_TESTDEV && testdev_devfn < 0)
        testdev_devfn = (int)devfn;
}

static unsigned enumerate_bus0(void)
{
    unsigned found = 0;

    for (unsigned slot = 0; slot < 32; slot++) {
        unsigned nfn = 1;
        for (unsigned fn = 0; fn < nfn; fn++) {
            unsigned devfn = PCI_DEVFN(slot, fn);
            uint32_t id = pci_read32(devfn, PCI_VENDOR_ID);
            if (fn == 0 && (uint16_t)id != 0xffff &&
                (pci_read8(devfn, PCI_HEADER_TYPE) & PCI_HEADER_MULTIFUNCTION))
                nfn = 8;
            if ((uint16_t)id == 0xffff)
                continue;
            if (found++ < MAX_FUNCTIONS_SHOWN)
                report_function(devfn, id);
            note_function(devfn, id);
        }
    }
    return found;
}

static void check_pci(void)
{
    unsigned found = enumerate_bus0();

    check_true("pci: bus 0 enumerates through 0xcf8/0xcfc", found >= 3, "fewer than 3 functions");
    check("pci: i440FX host bridge at 00:00.0", ID_I440FX,
          pci_read32(DEVFN_HOST_BRIDGE, PCI_VENDOR_ID));
    check("pci: 00:00.0 class is host bridge (060000)", 0x060000,
          pci_read32(DEVFN_HOST_BRIDGE, PCI_CLASS_REVISION) >> 8);
    check("pci: PIIX3 ISA bridge at 00:01.0", ID_PIIX3, pci_read32(DEVFN_PIIX3, PCI_VENDOR_ID));
    check("pci: PIIX3 is multi-function", PCI_HEADER_MULTIFUNCTION,
          pci_read8(DEVFN_PIIX3, PCI_HEADER_TYPE) & PCI_HEADER_MULTIFUNCTION);
    check("pci: PIIX4 power management at 00:01.3", ID_PIIX4_PM,
          pci_read32(DEVFN_PIIX4_PM, PCI_VENDOR_ID));
    /* CONFIG_ADDRESS reads back; a vendor ID is read-only. */
    outl(PCI_CONFIG_ADDRESS, PCI_ENABLE | DEVFN_PIIX3 << 8);
    check("pci: 0xcf8 reads back the latched address", PCI_ENABLE | DEVFN_PIIX3 << 8,
          inl(PCI_CONFIG_ADDRESS));
    pci_write16(DEVFN_HOST_BRIDGE, PCI_VENDOR_ID, 0);
    check("pci: vendor ID is read-only", ID_I440FX, pci_read32(DEVFN_HOST_BRIDGE, 0));
    check("pci: absent function 00:1f.7 reads all-ones", 0xffffffff,
          pci_read32(PCI_DEVFN(31, 7), PCI_VENDOR_ID));
}

static void check_platform_present(void)
{
    check_true("pci: Xen platform device 5853:0001 on bus 0", platform_slot >= 0,
               "not found");
}

/* ---- "platform": the Xen platform device ---- */

static void check_platform(void)
{
    unsigned devfn = PCI_DEVFN((unsigned)platform_slot, 0);

    check("platform: class ff80, revision 1", 0xff800001, pci_read32(devfn, PCI_CLASS_REVISION));
    check("platform: port 0x10 16-bit read is the magic 0x49d2", XEN_PLATFORM_MAGIC,
          inw(XEN_PLATFORM_PORT));
    check("platform: port 0x12 8-bit read is version 1", XEN_PLATFORM_VERSION,
          inb(XEN_PLATFORM_PORT + 2));
}

/* ---- local APIC and the interrupt counters ---- */

static void lapic_write(unsigned reg, uint32_t v)
{
    mmio_write32(LAPIC_BASE + reg, v);
}

static uint32_t lapic_read(unsigned reg)
{
    return mmio_read32(LAPIC_BASE + reg);
}

/* Both 8259s masked (no ISA interrupt may reach us), the local APIC software-enabled. */
static void interrupts_setup(void)
{
    outb(PIC1_DATA, 0xff);
    outb(PIC2_DATA, 0xff);
    idt_set_gate(FW_VECTOR_MSIX, fw_irq_stubs[0]);
    idt_set_gate(FW_VECTOR_MSI, fw_irq_stubs[1]);
    idt_set_gate(FW_VECTOR_SPURIOUS, fw_irq_stubs[2]);
    lapic_write(LAPIC_TPR, 0);
    lapic_write(LAPIC_SVR, LAPIC_SVR_ENABLE | FW_VECTOR_SPURIOUS);
}

/* Waits a little with interrupts on; returns how many times `counter` rose meanwhile. */
static uint32_t deliveries(unsigned counter, uint32_t before)
{
    __asm__ volatile("sti" ::: "memory");
    for (volatile int i = 0; i < DELIVERY_SPINS; i++) {
    }
    __asm__ volatile("cli" ::: "memory");
    return fw_irq_counts[counter] - before;
}

/* ---- xendm-testdev: BAR assignment ---- */

static uint32_t bar_size(unsigned devfn, unsigned bar)
{
    unsigned reg = PCI_BAR0 + 4 * bar;
    uint32_t old = pci_read32(devfn, reg), mask;

    pci_write32(devfn, reg, 0xffffffff);
    mask = pci_read32(devfn, reg);
    pci_write32(devfn, reg, old);
    mask &= (old & 1) ? ~3u : ~15u;
    return mask ? ~mask + 1 : 0;
}

static uint32_t testdev_bar0;

static bool testdev_assign_bars(unsigned devfn)
{
    uint32_t msix_size = bar_size(devfn, 4);
    uint32_t bar4 = TESTDEV_BAR4;

    if (msix_size > 1)
        bar4 = (bar4 + msix_size - 1) & ~(msix_size - 1);
    pci_write16(devfn, PCI_COMMAND, 0);
    pci_write32(devfn, PCI_BAR0, TESTDEV_BAR0);
    pci_write32(devfn, PCI_BAR0 + 4, TESTDEV_IO_BAR);
    pci_write32(devfn, PCI_BAR0 + 8, TESTDEV_BAR2);
    pci_write32(devfn, PCI_BAR0 + 12, 0);
    pci_write32(devfn, PCI_BAR0 + 16, bar4);
    pci_write16(devfn, PCI_COMMAND,
                PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
                    PCI_COMMAND_INTX_DISABLE);
    testdev_bar0 = TESTDEV_BAR0;
    return mmio_read32(TESTDEV_BAR0 + TD_MAGIC) == TESTDEV_MAGIC;
}

static void check_testdev_bars(void)
{
    unsigned devfn = (unsigned)testdev_devfn;

    check_true("msix: xendm-testdev BARs assigned, magic 'XDMT' at BAR0",
               testdev_assign_bars(devfn), "BAR0 does not answer with the magic");
    mmio_write32(testdev_bar0 + TD_SCRATCH, 0x5ca1ab1e);
    check("msix: xendm-testdev BAR0 scratch register", 0x5ca1ab1e,
          mmio_read32(testdev_bar0 + TD_SCRATCH));
    outl(TESTDEV_IO_BAR + 0x20, 0x13572468);
    check("msix: xendm-testdev I/O BAR scratch", 0x13572468, inl(TESTDEV_IO_BAR + 0x20));
    mmio_write32(TESTDEV_BAR2 + 0xffffc, 0xb16b00b5);
    check("msix: xendm-testdev 64-bit BAR2, last dword of 1 MiB", 0xb16b00b5,
          mmio_read32(TESTDEV_BAR2 + 0xffffc));
}

/* ---- "msix" ---- */

static uintptr_t msix_table, msix_pba;
static int msix_cap = -1;

static void msix_locate(unsigned devfn)
{
    uint32_t table, pba;

    msix_cap = pci_find_cap(devfn, PCI_CAP_ID_MSIX);
    if (msix_cap < 0)
        return;
    table = pci_read32(devfn, (unsigned)msix_cap + MSIX_TABLE);
    pba = pci_read32(devfn, (unsigned)msix_cap + MSIX_PBA);
    /* BIR 4 is the only BAR the device puts them in; read the BAR, not our plan. */
    msix_table = (pci_read32(devfn, PCI_BAR0 + 4 * (table & 7)) & ~15u) + (table & ~7u);
    msix_pba = (pci_read32(devfn, PCI_BAR0 + 4 * (pba & 7)) & ~15u) + (pba & ~7u);
}

static void msix_entry_mask(unsigned entry, bool masked)
{
    mmio_write32(msix_table + entry * MSIX_ENTRY_SIZE + MSIX_ENTRY_VECTOR_CTRL,
                 masked ? MSIX_ENTRY_MASKED : 0);
}

static void check_msix(void)
{
    unsigned devfn = (unsigned)testdev_devfn;
    uint32_t before;

    msix_locate(devfn);
    if (!check_true("msix: capability found", msix_cap >= 0, "no MSI-X capability"))
        return;
    interrupts_setup();
    mmio_write32(msix_table + 0, MSI_ADDRESS_APIC0);
    mmio_write32(msix_table + 4, 0);
    mmio_write32(msix_table + 8, FW_VECTOR_MSIX);
    msix_entry_mask(0, false);
    pci_write16(devfn, (unsigned)msix_cap + MSIX_CTRL, MSIX_CTRL_ENABLE);
    check("msix: local APIC software-enabled (SVR bit 8)", LAPIC_SVR_ENABLE,
          lapic_read(LAPIC_SVR) & LAPIC_SVR_ENABLE);
    check("msix: entry 0 data reads back vector 0x40", FW_VECTOR_MSIX,
          mmio_read32(msix_table + 8));

    before = fw_irq_counts[0];
    mmio_write32(testdev_bar0 + TD_MSIX_DOORBELL, 0);
    check("msix: doorbell delivers vector 0x40 exactly once", 1, deliveries(0, before));

    msix_entry_mask(0, true);
    before = fw_irq_counts[0];
    mmio_write32(testdev_bar0 + TD_MSIX_DOORBELL, 0);
    check("msix: masked entry delivers nothing", 0, deliveries(0, before));
    check("msix: masked entry sets its PBA bit", 1, mmio_read32(msix_pba) & 1);
    msix_entry_mask(0, false);
    check("msix: unmask delivers the pending message once", 1, deliveries(0, before));
    check("msix: PBA bit clear after delivery", 0, mmio_read32(msix_pba) & 1);

    pci_write16(devfn, (unsigned)msix_cap + MSIX_CTRL, 0);
}

/* ---- "msi" ---- */

static void check_msi(void)
{
    unsigned devfn = (unsigned)testdev_devfn;
    int cap = pci_find_cap(devfn, PCI_CAP_ID_MSI);
    uint16_t ctrl;
    uint32_t before;

    if (!check_true("msi: capability found", cap >= 0, "no MSI capability"))
        return;
    ctrl = pci_read16(devfn, (unsigned)cap + MSI_CTRL);
    check("msi: 64-bit with per-vector masking", MSI_CTRL_64BIT | MSI_CTRL_PVM,
          ctrl & (MSI_CTRL_64BIT | MSI_CTRL_PVM));
    interrupts_setup();
    pci_write32(devfn, (unsigned)cap + MSI_ADDR_LO, MSI_ADDRESS_APIC0);
    pci_write32(devfn, (unsigned)cap + MSI_ADDR_HI, 0);
    pci_write16(devfn, (unsigned)cap + MSI_DATA, FW_VECTOR_MSI);
    pci_write32(devfn, (unsigned)cap + MSI_MASK, 0);
    pci_write16(devfn, (unsigned)cap + MSI_CTRL, MSI_CTRL_ENABLE); /* one vector */

    before = fw_irq_counts[1];
    mmio_write32(testdev_bar0 + TD_MSI_DOORBELL, 0);
    check("msi: doorbell delivers vector 0x41 exactly once", 1, deliveries(1, before));

    pci_write32(devfn, (unsigned)cap + MSI_MASK, 1);
    before = fw_irq_counts[1];
    mmio_write32(testdev_bar0 + TD_MSI_DOORBELL, 0);
    check("msi: masked vector delivers nothing", 0, deliveries(1, before));
    check("msi: masked vector sets its pending bit", 1,
          pci_read32(devfn, (unsigned)cap + MSI_PENDING) & 1);
    pci_write32(devfn, (unsigned)cap + MSI_MASK, 0);
    check("msi: unmask delivers the pending message once", 1, deliveries(1, before));
    check("msi: doorbell writes counted by the device", 4,
          mmio_read32(testdev_bar0 + TD_DOORBELLS));

    pci_write16(devfn, (unsigned)cap + MSI_CTRL, 0);
    check("msi: no spurious interrupts at the local APIC", 0, fw_irq_counts[2]);
}

/* ---- the groups ---- */

static void run_if(bool cond, const char *desc, void (*fn)(void), const char *reason)
{
    if (cond)
        run_guarded(desc, fn);
    else
        tap_skip(desc, reason);
}

void pci_checks_run(void)
{
    config_works = pci_read32(DEVFN_HOST_BRIDGE, PCI_VENDOR_ID) != 0xffffffff;
    run_if(config_works, "pci: bus 0", check_pci, "no PCI configuration mechanism");
    run_if(config_works && running_on_xen(), "pci: Xen platform device", check_platform_present,
           "not a Xen guest");
    run_if(platform_slot >= 0, "platform: Xen platform device", check_platform,
           "no Xen platform device");
    run_if(testdev_devfn >= 0, "msix: xendm-testdev BARs", check_testdev_bars,
           "xendm-testdev absent (no -device xendm-testdev)");
    run_if(testdev_devfn >= 0, "msix: MSI-X delivery and masking", check_msix,
           "xendm-testdev absent (no -device xendm-testdev)");
    run_if(testdev_devfn >= 0, "msi: MSI delivery and masking", check_msi,
           "xendm-testdev absent (no -device xendm-testdev)");
}
