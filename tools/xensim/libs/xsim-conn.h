/*
 * One connection to xensim (tools/xensim/wire.h): what every drop-in library
 * handle holds instead of a /dev/xen device file descriptor.
 *
 * Compiled into each library and hidden by its version script, so the
 * libraries share no state.
 */
#ifndef XSIM_CONN_H
#define XSIM_CONN_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "tools/xensim/wire.h"

#define XSIM_PAGE_SHIFT 12
#define XSIM_PAGE_SIZE (1ul << XSIM_PAGE_SHIFT)

struct xsim_conn {
    int fd;
    uint32_t next_seq;
    /* Requests are synchronous; the lock keeps one in flight per connection. */
    pthread_mutex_t lock;
    struct xsim_hello_reply hello;
};

/*
 * Connects to $XENSIM_SOCKET and says HELLO as `kind`. The fds attached to the
 * reply are stored in fds[] (exactly `nr_fds` are required; extra ones are
 * closed and the open fails with EPROTO). Returns 0, or -1 with errno: ENOENT or
 * ECONNREFUSED when xensim is absent (ENOENT also when $XENSIM_SOCKET is unset).
 */
int xsim_conn_open(struct xsim_conn *conn, enum xsim_client_kind kind, int *fds,
                   unsigned nr_fds);
/* As xsim_conn_open, over an already connected socket; takes `fd` over on success. */
int xsim_conn_adopt(struct xsim_conn *conn, int fd, enum xsim_client_kind kind, int *fds,
                    unsigned nr_fds);
void xsim_conn_close(struct xsim_conn *conn);

/*
 * Sends request `op` whose payload is the concatenation of req[0..nr_req) and
 * waits for its reply. Up to reply_max payload bytes are stored in `reply`
 * (a longer reply is a protocol error, EPROTO); *reply_len (may be NULL) gets
 * their number. Returns the reply's result (>= 0), or -1 with errno (-result
 * for a refused request; EPROTO, ECONNRESET, EMSGSIZE for transport failures).
 */
int xsim_conn_call(struct xsim_conn *conn, uint32_t op, const struct iovec *req,
                   unsigned nr_req, void *reply, size_t reply_max, size_t *reply_len);
/* xsim_conn_call with one request buffer and no reply payload. */
int xsim_conn_call_simple(struct xsim_conn *conn, uint32_t op, const void *req, size_t req_len);
/* Sends a XSIM_F_POSTED request: no reply. 0 or -1 with errno. */
int xsim_conn_post(struct xsim_conn *conn, uint32_t op, const void *req, size_t req_len);

/* Sends XSIM_OP_RESTRICT {domid}: what each library's *_restrict does. */
int xsim_conn_restrict(struct xsim_conn *conn, uint32_t domid);

#endif
