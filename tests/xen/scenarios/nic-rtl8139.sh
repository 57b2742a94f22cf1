# An HVM guest whose network is `vif = [ "model=rtl8139,bridge=xenbr0,..." ]`: Linux's 8139cp
# driver brings the emulated rtl8139 up and exchanges packets with dom0 over the vif's tap (ping
# and a TCP transfer each way with checksums). The body is dom0/nic-guest.sh.
# timeout: 600
# qemu-xen's run only when named: it adds minutes to the default run.
[ "$RIG_DM" = xendm ] || [ -n "$RIG_NAMED" ] ||
    skip "qemu-xen's run only when named (tests/xen/rig.py run nic-rtl8139)"
NIC_MODEL=rtl8139
NIC_DRIVER=8139cp
NIC_MAC_BYTE=01
. /rig/nic-guest.sh
