/*
 * The SMBus host controller of the 82371AB PIIX4 (function 3, power management), with the
 * SPD EEPROMs qemu-xen puts on its bus: 8 devices at SMBus addresses 0x50-0x57, 256 zero
 * bytes each.
 *
 * The PM function owns the configuration registers that place it: SMBBA (config 0x90, I/O
 * base in bits 15:4) and SMBHSTCFG (config 0xD2: bit 0 host enable, bits 3:1 interrupt
 * select). It hands their values to piix4_smbus_configure() whenever either changes, at
 * reset and after a restore; the 16-byte host register block is decoded at the base while
 * the host is enabled and the base is non-zero.
 *
 * The controller's own state (host registers, block array, EEPROM contents) is the core-kept
 * state section "piix4-smbus", instance 0, registered by piix4_smbus_new().
 */
#ifndef XENDM_SMBUS_H
#define XENDM_SMBUS_H

#include <stdbool.h>
#include <stdint.h>

struct machine;
struct piix4_smbus;

/* The guest-visible size of the host register block at SMBBA (82371AB §7.4). */
#define PIIX4_SMBUS_IO_LEN 16
/* SMBHSTCFG (function 3, config 0xD2). */
#define PIIX4_SMBHSTCFG_HST_EN 0x01
#define PIIX4_SMBHSTCFG_INTRSEL_MASK 0x0e
#define PIIX4_SMBHSTCFG_INTRSEL_IRQ9 0x08 /* bits 3:1 = 100b */

/* The SPD EEPROMs on the bus, as on qemu-xen. */
#define PIIX4_SMBUS_EEPROM_FIRST 0x50
#define PIIX4_SMBUS_EEPROMS 8
#define PIIX4_SMBUS_EEPROM_LEN 256

/*
 * A controller for machine m, not decoded until configured. irq is the ISA line that
 * SMB_INTRSEL = 100b selects (IRQ 9, the line the SCI also drives); the controller takes
 * its own source on it.
 */
struct piix4_smbus *piix4_smbus_new(struct machine *m, unsigned irq);
/* Removes the block and the state section, lowers the interrupt; NULL is ignored. */
void piix4_smbus_free(struct piix4_smbus *s);

/*
 * The PM function's SMBBA (the I/O base; bits 3:0 are ignored) and SMBHSTCFG changed, were
 * reset or restored: moves, maps or unmaps the block and re-evaluates the interrupt.
 */
void piix4_smbus_configure(struct piix4_smbus *s, uint16_t smbba, uint8_t hstcfg);

/* Power-on state of the host registers; the EEPROM contents go back to zeros. */
void piix4_smbus_reset(struct piix4_smbus *s);

#endif
