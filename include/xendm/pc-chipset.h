/*
 * The PC chipset of the xenfv machine: i440FX host bridge (00:00.0), PIIX3 PCI-to-ISA
 * bridge (00:01.0) and PIIX4 power management (00:01.3). Each is one file and one device
 * type; this header carries the type names and the one coupling the PCI bus does not.
 *
 * Port 0xCF9 lies inside the host bridge's CONFADD window (0xCF8-0xCFB). The 82441FX
 * latches only dword accesses at 0xCF8 (datasheet, CONFADD register); any other access in the
 * window is an ordinary I/O cycle on PCI, where PIIX3 decodes a byte at 0xCF9 as its Reset
 * Control Register (82371SB datasheet, RCR register). An address space cannot hold two
 * overlapping regions, so the host bridge owns the whole window and hands byte accesses at
 * 0xCF9 to whatever the southbridge attached with i440fx_attach_cf9() - exactly the
 * forwarding the real bridge does, without the host bridge knowing what sits behind it.
 */
#ifndef XENDM_PC_CHIPSET_H
#define XENDM_PC_CHIPSET_H

#include "xendm/memory.h"

#define I440FX_TYPE_NAME "i440fx"
#define PIIX3_TYPE_NAME "piix3"
#define PIIX4_PM_TYPE_NAME "piix4-pm"

/* Where xenfv and hvmloader expect the chipset functions. */
#define I440FX_DEVFN 0x00   /* 00:00.0 */
#define PIIX3_DEVFN 0x08    /* 00:01.0 */
#define PIIX4_PM_DEVFN 0x0b /* 00:01.3 */

struct i440fx;

/*
 * Byte accesses at port 0xCF9 go to ops/opaque (offset 0, size 1); NULL ops detaches.
 * Without an attachment they read all-ones and writes are dropped.
 */
void i440fx_attach_cf9(struct i440fx *host, const struct region_ops *ops, void *opaque);

#endif
