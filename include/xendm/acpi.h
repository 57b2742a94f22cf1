/*
 * ACPI events the rest of xendm can raise in the guest (the PIIX4 PM function,
 * hw/acpi/piix4-pm.c).
 */
#ifndef XENDM_ACPI_H
#define XENDM_ACPI_H

#include <stdbool.h>

struct machine;

/*
 * Presses the power button: sets PM1a_STS.PWRBTN_STS (ACPI 2.0 §4.7.3.1.1), which raises
 * the SCI (ISA IRQ 9) while PWRBTN_EN is set. QMP `system_powerdown`. Returns false when
 * the machine has no ACPI PM device (-no-acpi).
 *
 * Under Xen, once hvmloader selects ACPI v1 the guest reads PM1a_STS from Xen's own
 * emulation (reference §7), not from here; Xen's `xl trigger power` is the path it sees.
 */
bool acpi_press_power_button(struct machine *m);

/* The GPE0 bit hvmloader's DSDT gives CPU hotplug: its \_GPE._E02 runs \_SB.PRSC. */
#define ACPI_GPE_CPU_HOTPLUG 2

/*
 * vCPU `cpu` became present (QMP device_add of a CPU): sets its bit in the CPU presence
 * bitmap at 0xAF00 and raises GPE0 bit 2, so that the guest's PRSC method rescans the
 * bitmap and notifies OSPM (Device Check) of each processor whose bit changed (Xen
 * tools/libacpi/mk_dsdt.c). The caller checked cpu against the -smp maxcpus bound. False
 * when the machine has no ACPI PM device (-no-acpi: the guest is not told, as with qemu-xen)
 * or cpu is beyond the bitmap (256 vCPUs).
 */
bool acpi_cpu_plug(struct machine *m, unsigned cpu);

#endif
