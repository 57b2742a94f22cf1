# The body of the nic-* scenarios (sourced by scenarios/nic-rtl8139.sh and nic-e1000.sh with
# NIC_MODEL and NIC_DRIVER set): an HVM guest whose network is a vif line as an administrator
# writes it, `vif = [ "model=MODEL,bridge=xenbr0,mac=..." ]`. libxl then gives the device model
# `-device MODEL,id=nic0,netdev=net0,mac=...` and `-netdev type=tap,id=net0,ifname=vifD.0-emu,
# br=xenbr0,script=no,downscript=no`, adds the PV vif beside it (dom0's netback) and runs the
# vif's hotplug script for both, which joins them to the bridge. The vif line's script= is the
# rig's own vif-rig (Xen's vif-bridge needs bash, which dom0 lacks); the device model's argv
# does not depend on it.
#
# The guest is mkvirtio.py's (it boots from virtio-blk, which is quick); init-virtio finds the
# emulated NIC, loads Linux's driver for it and does the network checks alone: ping dom0 at
# 10.0.2.2 (the bridge's address) and a 4 MiB TCP transfer each way, checked on both ends.

BR=xenbr0
BOOT=/rig/virtio/boot.img
FROM_GUEST=$WORK/from-guest.bin
TO_GUEST=$WORK/to-guest.bin

[ -c /dev/net/tun ] || fail "dom0 has no /dev/net/tun"
if ! ip link show $BR >/dev/null 2>&1; then
    brctl addbr $BR || fail "cannot create the bridge $BR"
fi
ip addr flush dev $BR 2>/dev/null
ip addr add 10.0.2.2/24 dev $BR && ip link set $BR up || fail "cannot configure $BR"
# The bridge gives up 10.0.2.2 when the scenario ends, however it ends: virtio-guest puts the
# same subnet on its tap, and a second route to it in dom0 sent that guest's replies here.
# On a failure, what dom0 can still see of the network (the device model's tap counters, the
# bridge's learnt addresses, the neighbours) goes into the scenario's log first.
nic_diag() {
    local f out=""
    for f in rx_packets tx_packets rx_dropped tx_dropped; do
        out="$out $f=$(cat /sys/class/net/${TAP:-none}/statistics/$f 2>/dev/null)"
    done
    echo "@@XR note dom0 ${TAP:-?}:$out"
    brctl showmacs $BR 2>&1 | sed 's/^/@@XR note /'
    cat /proc/net/arp | sed 's/^/@@XR note /'
}
trap 'rc=$?; [ $rc = 0 ] || [ $rc = 77 ] || nic_diag; stop_tcp_peers
      ip addr flush dev $BR 2>/dev/null' EXIT
rm -f "$FROM_GUEST" /tmp/rig/vif-rig.log
dd if=/dev/urandom of="$TO_GUEST" bs=1048576 count=4 2>/dev/null || fail "cannot make $TO_GUEST"
start_tcp_peers "$FROM_GUEST" "$TO_GUEST"
step_ok "dom0: bridge $BR is 10.0.2.2/24; listening on 5001 (from the guest) and 5002 (to it)"

MAC=00:16:3e:00:01:$NIC_MAC_BYTE
guest_config <<EOF2
memory = 256
tsc_mode = "native"
on_poweroff = "destroy"
on_reboot = "destroy"
vif = [ "model=$NIC_MODEL,bridge=$BR,mac=$MAC,script=/rig/bin/vif-rig" ]
device_model_args_hvm = [
    "-drive", "if=none,id=vd0,file=$BOOT,format=raw,cache=writeback",
    "-device", "virtio-blk-pci,drive=vd0" ]
EOF2
create
T_CREATE=$(rig_uptime)
TAP=vif$DOMID.0-emu

# The device model opened the tap libxl named, and the hotplug script put it on the bridge.
tap_on_bridge() { [ "$(basename "$(readlink /sys/class/net/$TAP/master)" 2>/dev/null)" = $BR ]; }
wait_until 30 "$TAP (the device model's tap) is on $BR" tap_on_bridge
show cat /tmp/rig/vif-rig.log

expect_serial '^SYSLINUX ' 180
expect_serial '^GUEST-BOOTED' 300
echo "@@XR note $RIG_SCENARIO ($RIG_DM): GUEST-BOOTED at $(rig_since "$T_CREATE") s after xl create"
expect_serial '^GUEST-(OK|FAIL) ping' 300
tap_stats() {
    local f out=""
    for f in rx_packets tx_packets rx_dropped tx_dropped rx_errors tx_errors; do
        out="$out $f=$(cat /sys/class/net/$TAP/statistics/$f 2>/dev/null)"
    done
    echo "dom0 $TAP:$out"
}
show tap_stats
show cat /proc/net/arp
expect_serial '^GUEST-RESULT ' 300
echo "@@XR note $RIG_SCENARIO ($RIG_DM): GUEST-RESULT at $(rig_since "$T_CREATE") s after xl create"
expect_gone 60
expect_dm_exited 30
stop_tcp_peers

tr -d '\r' <"$SERIAL" >"$WORK/serial.txt"
fact() {
    sed -n "s/^GUEST-FACT $1 .*$2=\\([^ ]*\\).*/\\1/p" "$WORK/serial.txt" | head -1
}
show grep -E '^GUEST-(BOOTED|OK|FACT|RESULT|FAIL)' "$WORK/serial.txt"

grep -qE "^GUEST-FACT pci .* model=$NIC_MODEL " "$WORK/serial.txt" ||
    fail "the guest sees no $NIC_MODEL PCI function"
[ "$(fact nic-driver driver)" = "$NIC_DRIVER" ] ||
    fail "the guest's NIC is driven by '$(fact nic-driver driver)', not $NIC_DRIVER"
step_ok "the guest's $NIC_MODEL is driven by Linux's $NIC_DRIVER"
grep -qi "$MAC" "$WORK/serial.txt" || fail "the guest's NIC does not have the vif's MAC $MAC"
step_ok "the NIC has the vif line's MAC $MAC"

up=$(fact tcp-up md5)
[ -n "$up" ] && [ "$(md5sum <"$FROM_GUEST" | cut -c1-32)" = "$up" ] ||
    fail "dom0 received $(wc -c <"$FROM_GUEST") bytes, MD5 not the guest's '$up'"
step_ok "TCP guest -> dom0: $(wc -c <"$FROM_GUEST") bytes, md5 $up"
down=$(fact tcp-down md5)
[ "$down" = "$(md5sum <"$TO_GUEST" | cut -c1-32)" ] ||
    fail "the guest received MD5 '$down', dom0 sent $(md5sum <"$TO_GUEST" | cut -c1-32)"
step_ok "TCP dom0 -> guest: 4 MiB, md5 $down"
expect_no_serial '^GUEST-FAIL'
expect_serial '^GUEST-RESULT pass=[1-9][0-9]* fail=0 ' 1
rm -f "$FROM_GUEST" "$TO_GUEST"
