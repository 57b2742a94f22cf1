/*
 * -netdev socket: frames over a stream (connect=, listen=, fd= of a stream socket) with QEMU's
 * framing, a 4-byte big-endian length before each frame, or over UDP (udp= where frames go,
 * localaddr= where they arrive; fd= of a datagram socket sends to the address it is connected
 * to). It needs no privileges, so tests and unprivileged setups can wire NICs together.
 */
#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/net-int.h"
#include "xendm/keyval.h"
#include "xendm/log.h"

/* "HOST:PORT", "[V6]:PORT" or ":PORT" (any address, for listen= and localaddr=). */
static bool resolve(const char *id, const char *key, const char *text, int socktype,
                    struct sockaddr_storage *addr, socklen_t *len, GError **err)
{
    const char *colon = strrchr(text, ':');
    g_autofree char *host = NULL;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = socktype};
    struct addrinfo *res = NULL;
    int rc;

    if (colon == NULL || colon[1] == '\0') {
        g_set_error(err, NET_ERROR, 0, "netdev %s: %s=%s: expected HOST:PORT", id, key, text);
        return false;
    }
    host = g_strndup(text, (gsize)(colon - text));
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host) - 2);
        host[strlen(host) - 2] = '\0';
    }
    hints.ai_flags = host[0] == '\0' ? AI_PASSIVE : 0;
    rc = getaddrinfo(host[0] != '\0' ? host : NULL, colon + 1, &hints, &res);
    if (rc != 0 || res == NULL) {
        g_set_error(err, NET_ERROR, 0, "netdev %s: %s=%s: %s", id, key, text,
                    rc != 0 ? gai_strerror(rc) : "no address");
        return false;
    }
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return true;
}

static int new_socket(const struct sockaddr_storage *addr, int type)
{
    return socket(addr->ss_family, type | SOCK_CLOEXEC, 0);
}

static bool open_listen(struct net_backend *nb, const char *where, GError **err)
{
    struct sockaddr_storage addr;
    socklen_t len;
    int one = 1;

    if (!resolve(nb->id, "listen", where, SOCK_STREAM, &addr, &len, err)) {
        return false;
    }
    nb->listen_fd = new_socket(&addr, SOCK_STREAM | SOCK_NONBLOCK);
    if (nb->listen_fd < 0 ||
        setsockopt(nb->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(nb->listen_fd, (struct sockaddr *)&addr, len) < 0 || listen(nb->listen_fd, 1) < 0) {
        g_set_error(err, NET_ERROR, 0, "netdev %s: listen=%s: %s", nb->id, where,
                    g_strerror(errno));
        return false;
    }
    nb->kind = NET_BACKEND_SOCKET_STREAM;
    return true;
}

/* connect= blocks until connected, as QEMU's does: the peer is there when the guest starts. */
static bool open_connect(struct net_backend *nb, const char *where, GError **err)
{
    struct sockaddr_storage addr;
    socklen_t len;

    if (!resolve(nb->id, "connect", where, SOCK_STREAM, &addr, &len, err)) {
        return false;
    }
    nb->fd = new_socket(&addr, SOCK_STREAM);
    if (nb->fd < 0 || connect(nb->fd, (struct sockaddr *)&addr, len) < 0) {
        g_set_error(err, NET_ERROR, 0, "netdev %s: connect=%s: %s", nb->id, where,
                    g_strerror(errno));
        return false;
    }
    nb->kind = NET_BACKEND_SOCKET_STREAM;
    return net_fd_nonblocking(nb->fd, err);
}

static bool open_udp(struct net_backend *nb, const char *peer, const char *local, GError **err)
{
    struct sockaddr_storage addr;
    socklen_t len;

    if (local == NULL) {
        g_set_error(err, NET_ERROR, 0, "netdev %s: udp= needs localaddr=HOST:PORT", nb->id);
        return false;
    }
    if (!resolve(nb->id, "udp", peer, SOCK_DGRAM, &nb->peer, &nb->peer_len, err) ||
        !resolve(nb->id, "localaddr", local, SOCK_DGRAM, &addr, &len, err)) {
        return false;
    }
    nb->fd = new_socket(&addr, SOCK_DGRAM | SOCK_NONBLOCK);
    if (nb->fd < 0 || bind(nb->fd, (struct sockaddr *)&addr, len) < 0) {
        g_set_error(err, NET_ERROR, 0, "netdev %s: localaddr=%s: %s", nb->id, local,
                    g_strerror(errno));
        return false;
    }
    nb->kind = NET_BACKEND_SOCKET_DGRAM;
    return true;
}

/* fd=K: a connected stream socket, or a datagram socket connected to its peer. */
static bool adopt_fd(struct net_backend *nb, const char *text, GError **err)
{
    uint64_t fd;
    int type = 0;
    socklen_t len = sizeof(type);

    if (!parse_u64(text, false, &fd) || fd > INT32_MAX ||
        getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
        (type != SOCK_STREAM && type != SOCK_DGRAM)) {
        g_set_error(err, NET_ERROR, 0, "netdev %s: fd=%s is not a stream or datagram socket",
                    nb->id, text);
        return false;
    }
    if (!net_fd_nonblocking((int)fd, err)) {
        return false;
    }
    nb->fd = (int)fd;
    nb->kind = type == SOCK_STREAM ? NET_BACKEND_SOCKET_STREAM : NET_BACKEND_SOCKET_DGRAM;
    if (type == SOCK_DGRAM) {
        nb->peer_len = sizeof(nb->peer);
        if (getpeername(nb->fd, (struct sockaddr *)&nb->peer, &nb->peer_len) < 0) {
            g_set_error(err, NET_ERROR, 0, "netdev %s: fd=%s: a datagram socket must be "
                        "connected to its peer", nb->id, text);
            return false;
        }
    }
    return true;
}

bool net_socket_open(struct net_backend *nb, struct kv_list *opts, GError **err)
{
    const char *fd = kv_get(opts, "fd");
    const char *listen_at = kv_get(opts, "listen");
    const char *connect_to = kv_get(opts, "connect");
    const char *udp = kv_get(opts, "udp");
    const char *local = kv_get(opts, "localaddr");
    unsigned modes = (fd != NULL) + (listen_at != NULL) + (connect_to != NULL) + (udp != NULL);

    if (modes != 1) {
        g_set_error(err, NET_ERROR, 0,
                    "netdev %s: a socket needs exactly one of fd=, listen=, connect=, udp=",
                    nb->id);
        return false;
    }
    if (local != NULL && udp == NULL) {
        g_set_error(err, NET_ERROR, 0, "netdev %s: localaddr= goes with udp= only", nb->id);
        return false;
    }
    if (fd != NULL) {
        return adopt_fd(nb, fd, err);
    }
    if (listen_at != NULL) {
        return open_listen(nb, listen_at, err);
    }
    if (connect_to != NULL) {
        return open_connect(nb, connect_to, err);
    }
    return open_udp(nb, udp, local, err);
}
