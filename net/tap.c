/*
 * -netdev tap: the interface libxl named (ifname=vifD.N-emu), or a descriptor passed with fd=.
 * xendm opens it with IFF_TAP | IFF_NO_PI and, when the kernel offers it, IFF_VNET_HDR with the
 * 12-byte header of virtio 1.0 (TUNSETVNETHDRSZ): checksum and segmentation offloads then pass
 * between the guest and the host stack untouched. Attaching the tap to a bridge is the hotplug
 * script's job (libxl runs it once the device model has created the interface).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "net/net-int.h"
#include "xendm/keyval.h"
#include "xendm/log.h"

#define TUN_DEVICE "/dev/net/tun"

/* script=/downscript=: xendm runs nothing; "no" (libxl's value) or absent is all it takes. */
static bool check_script(const char *id, struct kv_list *opts, const char *key, GError **err)
{
    const char *script = kv_get(opts, key);

    if (script != NULL && strcmp(script, "no") != 0 && script[0] != '\0') {
        g_set_error(err, NET_ERROR, 0,
                    "netdev %s: %s=%s: xendm runs no scripts (the toolstack's hotplug script "
                    "sets the tap up): use %s=no", id, key, script, key);
        return false;
    }
    return true;
}

/* The kernel writes and expects virtio 1.0's header, num_buffers included. */
static bool set_vnet_hdr_size(struct net_backend *nb, GError **err)
{
    int size = NET_VNET_HDR_LEN;

    if (ioctl(nb->fd, TUNSETVNETHDRSZ, &size) < 0) {
        g_set_error(err, NET_ERROR, 0, "netdev %s: TUNSETVNETHDRSZ: %s", nb->id,
                    g_strerror(errno));
        return false;
    }
    return true;
}

static bool open_by_name(struct net_backend *nb, const char *ifname, int vnet_hdr_wanted,
                         GError **err)
{
    unsigned int features = 0;
    struct ifreq ifr;

    if (strlen(ifname) >= IFNAMSIZ) {
        g_set_error(err, NET_ERROR, 0, "netdev %s: ifname=%s is longer than %d characters",
                    nb->id, ifname, IFNAMSIZ - 1);
        return false;
    }
    nb->fd = open(TUN_DEVICE, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (nb->fd < 0) {
        g_set_error(err, NET_ERROR, 0, "netdev %s: %s: %s", nb->id, TUN_DEVICE,
                    g_strerror(errno));
        return false;
    }
    if (ioctl(nb->fd, TUNGETFEATURES, &features) < 0) {
        features = 0; /* very old kernels: no IFF_VNET_HDR */
    }
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    nb->vnet_hdr = vnet_hdr_wanted != 0 && (features & IFF_VNET_HDR);
    if (vnet_hdr_wanted > 0 && !nb->vnet_hdr) {
        g_set_error(err, NET_ERROR, 0, "netdev %s: vnet_hdr=on: the kernel offers no "
                    "IFF_VNET_HDR", nb->id);
        return false;
    }
    if (nb->vnet_hdr) {
        ifr.ifr_flags |= IFF_VNET_HDR;
    }
    memcpy(ifr.ifr_name, ifname, strlen(ifname));
    if (ioctl(nb->fd, TUNSETIFF, &ifr) < 0) {
        g_set_error(err, NET_ERROR, 0, "netdev %s: tap %s: TUNSETIFF: %s", nb->id, ifname,
                    g_strerror(errno));
        return false;
    }
    return !nb->vnet_hdr || set_vnet_hdr_size(nb, err);
}

/* fd=N: a tap somebody else opened; its own flags say whether it carries a vnet header. */
static bool adopt_fd(struct net_backend *nb, const char *text, GError **err)
{
    uint64_t fd;
    struct ifreq ifr;

    if (!parse_u64(text, false, &fd) || fd > INT32_MAX || fcntl((int)fd, F_GETFD) < 0) {
        g_set_error(err, NET_ERROR, 0, "netdev %s: fd=%s is not an open descriptor", nb->id,
                    text);
        return false;
    }
    memset(&ifr, 0, sizeof(ifr));
    if (ioctl((int)fd, TUNGETIFF, &ifr) < 0 || !(ifr.ifr_flags & IFF_TAP)) {
        g_set_error(err, NET_ERROR, 0, "netdev %s: fd=%s is not a tap device", nb->id, text);
        return false;
    }
    if (!net_fd_nonblocking((int)fd, err)) {
        return false;
    }
    nb->fd = (int)fd;
    nb->vnet_hdr = (ifr.ifr_flags & IFF_VNET_HDR) != 0;
    return !nb->vnet_hdr || set_vnet_hdr_size(nb, err);
}

bool net_tap_open(struct net_backend *nb, struct kv_list *opts, GError **err)
{
    const char *ifname = kv_get(opts, "ifname");
    const char *fd = kv_get(opts, "fd");
    const char *vnet = kv_get(opts, "vnet_hdr");
    int vnet_hdr_wanted = -1; /* -1: when offered */
    bool ok;

    kv_get(opts, "br"); /* for the hotplug script: libxl passes it, xendm has no use for it */
    if (!check_script(nb->id, opts, "script", err) ||
        !check_script(nb->id, opts, "downscript", err)) {
        return false;
    }
    if (vnet != NULL) {
        bool on;
        if (!kv_get_bool(opts, "vnet_hdr", false, &on, err)) {
            return false;
        }
        vnet_hdr_wanted = on;
    }
    if ((ifname == NULL) == (fd == NULL)) {
        g_set_error(err, NET_ERROR, 0, "netdev %s: a tap needs ifname= or fd= (one of them)",
                    nb->id);
        return false;
    }
    ok = fd != NULL ? adopt_fd(nb, fd, err) : open_by_name(nb, ifname, vnet_hdr_wanted, err);
    if (ok && fd != NULL && vnet_hdr_wanted == 0 && nb->vnet_hdr) {
        g_set_error(err, NET_ERROR, 0, "netdev %s: vnet_hdr=off but fd=%s has a vnet header",
                    nb->id, fd);
        ok = false;
    }
    if (ok) {
        nb->offloads = 0;
        net_tap_apply_offloads(nb);
        log_info("netdev %s: tap %s%s", nb->id, ifname != NULL ? ifname : fd,
                 nb->vnet_hdr ? " with vnet header" : "");
    }
    return ok;
}

/* TUNSETOFFLOAD: what the kernel may hand us unchecksummed or unsegmented (the guest takes). */
void net_tap_apply_offloads(struct net_backend *nb)
{
    unsigned long flags = 0;

    if (nb->kind != NET_BACKEND_TAP || !nb->vnet_hdr || nb->fd < 0) {
        return;
    }
    if (nb->offloads & NET_OFFLOAD_CSUM) {
        flags |= TUN_F_CSUM;
        if (nb->offloads & NET_OFFLOAD_TSO4) {
            flags |= TUN_F_TSO4;
        }
        if (nb->offloads & NET_OFFLOAD_TSO6) {
            flags |= TUN_F_TSO6;
        }
        if ((nb->offloads & NET_OFFLOAD_TSO_ECN) && (flags & (TUN_F_TSO4 | TUN_F_TSO6))) {
            flags |= TUN_F_TSO_ECN;
        }
    }
    if (ioctl(nb->fd, TUNSETOFFLOAD, flags) < 0) {
        log_warn("netdev %s: TUNSETOFFLOAD 0x%lx: %s", nb->id, flags, g_strerror(errno));
    }
}
