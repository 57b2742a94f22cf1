/*
 * The xenfv machine (hw/xen/xenfv.c): the devices of an HVM guest built from
 * the command line. Order: the -chardev backends (so that -serial chardev:ID
 * and -device ...,chardev=ID can refer to them), the fixed ISA devices
 * "i8042" and "port92", one "isa-serial" per -serial, then every -device.
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
