/*
 * The vCPU side of xensim: what produces guest accesses. Today the only
 * backend is qtest (a script or a test sends one access per line); a KVM
 * backend, with real vCPUs exiting on port and MMIO accesses, can sit behind
 * the same calls later.
 *
 * A backend turns each guest access into a struct xsim_access and calls
 * xsim_vcpu_submit(); xensim routes it exactly as Xen would (platform devices,
 * ioreq servers, buffered ring, unclaimed) and calls back when the access is
 * complete, possibly at once, possibly after the device model answered. While
 * a vCPU waits, the main loop keeps running: the device model's dm_ops and
 * xenstore traffic are served meanwhile.
 *
 * Contract for a backend:
 *   - one access in flight per vCPU (-EBUSY otherwise);
 *   - the backend owns timeouts: on giving up it calls xsim_vcpu_abandon(), and a
 *     late answer is consumed and dropped (the vCPU stays busy until then);
 *   - status -EIO means the domain crashed (a device model broke the ioreq protocol).
 */
#ifndef XENSIM_VCPU_H
#define XENSIM_VCPU_H

#include "xensim.h"

struct xsim_vcpu_backend {
    const char *name;
    /* The toolstack unpaused the vCPUs: the device model is running. */
    void (*start)(void *opaque);
    void (*stop)(void *opaque);
};

#endif
