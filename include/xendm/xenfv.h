/*
 * The xenfv machine (hw/xen/xenfv.c): the devices of an HVM guest built from
 * the command line. Order: the -chardev backends (so that -serial chardev:ID
 * and -device ...,chardev=ID can refer to them), the chipset ("i440fx" at
 * 00:00.0, "piix3" at 00:01.0, "piix4-pm" at 00:01.3 unless -no-acpi), the
 * fixed ISA devices "i8042" and "port92", one "isa-serial" per -serial, the
 * display when there is one, "xen-platform" (machine xenfv only) in the next
 * free slot, then every -device.
 */
#ifndef XENDM_XENFV_H
#define XENDM_XENFV_H

#include <glib.h>
#include <stdbool.h>
#include "xendm/machine.h"
#include "xendm/options.h"

/* Creates the machine's devices from cfg (whose kv lists are consumed). */
bool xenfv_assemble(struct machine *m, struct xendm_config *cfg, GError **err);

#endif
