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
 *
 * Started paused (-S), the server goes through all nine steps (it must be
 * enabled once for Xen to write the vCPUs' ports, step 6) and is disabled
 * again at the end: Xen routes nothing to a disabled server, so the guest's
 * accesses are not served until QMP cont enables it (reference §2 item 8).
 *
 * Restriction (-xen-domid-restrict) comes after bring-up: the xenstore handle
 * is closed (libxenstore's fd would be redirected to /dev/null anyway, so the
 * state must be written before) and xentoolcore_restrict_all(domid) confines
 * every other handle to the guest's domain.
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
/* Busy polling for the next request after an answer, up to max_us (0, the default: none). */
void xen_accel_set_poll_us(struct xen_accel *xa, unsigned max_us);
/* Step 1. The mapper is usable from here on. */
bool xen_accel_open(struct xen_accel *xa, GError **err);
const struct mapcache_mapper *xen_accel_mapper(struct xen_accel *xa);
/* Installs the accelerator's accel_ops in m (interrupts, MSI, PCI claims, shutdown). */
void xen_accel_attach(struct xen_accel *xa, struct machine *m);
/* Steps 2 to 9; on failure the steps reached stay recorded for teardown. */
bool xen_accel_start(struct xen_accel *xa, GError **err);
/* As xen_accel_start; with serving false (-S) the server ends disabled: see above. */
bool xen_accel_start_ex(struct xen_accel *xa, bool serving, GError **err);
/*
 * Enables (QMP cont) or disables (QMP stop, as qemu-xen does) the started
 * server; nothing is done when it is already in that state. False with *err
 * (the server's state is then unchanged) if Xen refuses or it is not started.
 */
bool xen_accel_set_serving(struct xen_accel *xa, bool on, GError **err);
bool xen_accel_is_serving(const struct xen_accel *xa);
/*
 * -xen-domid-restrict: closes the xenstore handle, then restricts every Xen
 * handle to the guest's domain (xentoolcore_restrict_all). Irreversible; after
 * it xen_accel_set_state fails. Needs open handles.
 */
bool xen_accel_restrict(struct xen_accel *xa, GError **err);
bool xen_accel_is_restricted(const struct xen_accel *xa);
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
