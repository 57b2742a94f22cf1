/*
 * The ioreq engine (xen-all.c): turns Xen's ioreqs into accesses on the
 * machine. It makes no Xen library call, so it runs the same under the
 * accelerator, the unit tests and the fuzzers; accel/xen/ owns the pages,
 * the event channels and the notifications.
 *
 * Every field of a request is guest-controlled (through Xen's emulator) and is
 * checked: sizes other than 1/2/4/8 (1/2/4 for PIO), counts beyond the page
 * Xen would clip to, data_is_ptr buffers outside guest RAM, unknown types.
 * A bad request is answered (reads all-ones), logged with a rate limit, and
 * never stops the engine.
 */
#ifndef XENDM_IOREQ_H
#define XENDM_IOREQ_H

#include <stdbool.h>
#include "xenabi/ioreq-abi.h"
#include "xendm/machine.h"

struct ioreq_stats {
    uint64_t sync, buffered, invalid, invalidates;
};

/* Executes a request copied out of the shared page; for a read with data_is_ptr = 0 sets data. */
void ioreq_execute(struct machine *m, struct xenabi_ioreq *req, struct ioreq_stats *stats);

/*
 * Drains the buffered ring (ATOMIC mode), executing each entry as a write of
 * count 1. Returns the number of entries consumed, or -1 on a protocol error
 * (then the ring is left as it was at the error).
 */
int ioreq_drain_buffered(struct machine *m, struct xenabi_buffered_iopage *page,
                         struct ioreq_stats *stats);

/*
 * Services one vCPU's slot in the shared page (reference §1.3): if it is not
 * READY the event was spurious and false is returned; otherwise drains the
 * buffered ring first (when `buf` is not NULL), executes the request, writes
 * `data` back for reads, publishes IORESP_READY with release ordering and
 * returns true: the caller then notifies the vCPU's port.
 */
bool ioreq_service_slot(struct machine *m, struct xenabi_ioreq *slot,
                        struct xenabi_buffered_iopage *buf, struct ioreq_stats *stats);

#endif
