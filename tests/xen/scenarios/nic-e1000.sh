# An HVM guest whose network is `vif = [ "model=e1000,bridge=xenbr0,..." ]`: Linux's e1000
# driver brings the emulated e1000 up and exchanges packets with dom0 over the vif's tap (ping
# and a TCP transfer each way with checksums). The body is dom0/nic-guest.sh.
# timeout: 600
# qemu-xen's run only when named: it adds minutes to the default run.
[ "$RIG_DM" = xendm ] || [ -n "$RIG_NAMED" ] ||
    skip "qemu-xen's run only when named (tests/xen/rig.py run nic-e1000)"
NIC_MODEL=e1000
NIC_DRIVER=e1000
NIC_MAC_BYTE=02
. /rig/nic-guest.sh
