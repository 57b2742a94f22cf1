/*
 * The Xen accelerator: the only code in xendm that calls the Xen libraries.
 *
 * Bring-up is a numbered sequence (enum xen_accel_step); teardown undoes
 * exactly the steps that were reached, in reverse:
 *   1 open handles (evtchn, foreignmemory, devicemodel, xenctrl, xenstore)
 *   2 number of vCPUs (xendevicemodel_nr_vcpus, else the -smp fallback)
 *   3 create the ioreq server (buffered ring in ATOMIC mode)
 *   4 map its pages (frame 0 buffered, frame 1 the vCPU slots)
 *   5 read the buffered ring's event channel
 *   6 enable the server (Xen fills each slot's vp_eport)
 *   7 bind every vCPU's port and the buffered port
 *   8 claim the machine's regions and PCI functions (and follow later changes)
 *   9 serve: the event-channel fd and the ring poll timer on the main loop
 */
#ifndef XENDM_XEN_ACCEL_H
#define XENDM_XEN_ACCEL_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include "xendm/ioreq.h"
#include "xendm/machine.h"
#include "xendm/mapcache.h"

enum xen_accel_step {
    XEN_ACCEL_NONE = 0,
    XEN_ACCEL_HANDLES,
    XEN_ACCEL_VCPUS,
    XEN_ACCEL_SERVER,
    XEN_ACCEL_PAGES,
    XEN_ACCEL_BUFFERED_PORT,
    XEN_ACCEL_ENABLED,
    XEN_ACCEL_BOUND,
    XEN_ACCEL_CLAIMS,
    XEN_ACCEL_SERVING,
};

struct xen_accel;

struct xen_accel *xen_accel_new(uint32_t domid, unsigned fallback_vcpus);
/* Step 1. The mapper is usable from here on. */
bool xen_accel_open(struct xen_accel *xa, GError **err);
const struct mapcache_mapper *xen_accel_mapper(struct xen_accel *xa);
/* Installs the accelerator's accel_ops in m (interrupts, MSI, PCI claims, shutdown). */
void xen_accel_attach(struct xen_accel *xa, struct machine *m);
/* Steps 2 to 9; on failure the steps reached stay recorded for teardown. */
bool xen_accel_start(struct xen_accel *xa, GError **err);
/* Writes device-model/<domid>/state (relative to the caller's xenstore home). */
bool xen_accel_set_state(struct xen_accel *xa, const char *state, GError **err);
/* Called (once) when the accelerator can no longer serve the guest. */
void xen_accel_set_fatal_handler(struct xen_accel *xa, void (*fatal)(void *opaque), void *opaque);
enum xen_accel_step xen_accel_step_reached(const struct xen_accel *xa);
const struct ioreq_stats *xen_accel_stats(const struct xen_accel *xa);
/* Undoes steps 9 to 2 (the server goes away; handles stay open for the mapcache). */
void xen_accel_stop(struct xen_accel *xa);
/* Stops if needed, then closes the handles. Free the mapcache before this. */
void xen_accel_free(struct xen_accel *xa);

#endif
