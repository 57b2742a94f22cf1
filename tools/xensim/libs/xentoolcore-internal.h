/*
 * The private ABI between libxentoolcore and the other Xen tool libraries.
 *
 * Xen does not install xentoolcore_internal.h, but its libraries (and Debian's
 * libxenstore.so.4, which we do not replace) embed this struct in each handle
 * and call xentoolcore__register_active_handle() on it, so its layout is ABI:
 * the restrict callback pointer first, then a tail-queue entry {next, prev}
 * (checked by disassembling libxenstore's xs_open: callback at handle+8, the
 * registered address is handle+8).
 */
#ifndef XSIM_XENTOOLCORE_INTERNAL_H
#define XSIM_XENTOOLCORE_INTERNAL_H

#include <stddef.h>
#include <xentoolcore.h>
#include <xen_list.h>

typedef struct Xentoolcore__Active_Handle Xentoolcore__Active_Handle;

/* Called by xentoolcore_restrict_all(): 0 on success, -1 with errno on failure. */
typedef int Xentoolcore__Restrict_Callback(Xentoolcore__Active_Handle *ah, domid_t domid);

struct Xentoolcore__Active_Handle {
    Xentoolcore__Restrict_Callback *restrict_callback;
    XEN_TAILQ_ENTRY(Xentoolcore__Active_Handle) entry;
};

void xentoolcore__register_active_handle(Xentoolcore__Active_Handle *ah);
void xentoolcore__deregister_active_handle(Xentoolcore__Active_Handle *ah);
/* Replaces fd by /dev/null: what a handle without a restrict operation does. */
int xentoolcore__restrict_by_dup2_null(int fd);

#define XSIM_CONTAINER_OF(ptr, type, member) \
    ((type *)((char *)(ptr) - offsetof(type, member)))

#endif
