# A Debian guest boots through SeaBIOS from virtio-blk; Debian's virtio drivers bind and work:
# SeaBIOS's own virtio driver loads syslinux; the kernel's virtio_pci, virtio_blk, virtio_net,
# virtio_rng and virtio_console bind with MSI-X; 64 MiB written and read back with O_DIRECT (dom0
# checks the image), ping and TCP both ways to dom0 over xendm's tap, /dev/hwrng yields bytes, a
# virtconsole line reaches its chardev.
# timeout: 600
#
# The guest is tests/xen/guest/mkvirtio.py's boot.img (init-virtio does the guest's checks); it
# runs under plain QEMU too: tests/xen/guest/mkvirtio.py qemu. The devices come from
# device_model_args_hvm, as an administrator gives virtio devices to xl: libxl 4.17 has no
# virtio disk or NIC of its own for an HVM guest. No disk= and no vif= line: SeaBIOS finds the
# virtio-blk disks itself (no fw_cfg boot order on Xen: the first disk it registers, the boot
# disk at the lower PCI slot, is drive 0x80). The network needs no bridge and no hotplug
# script: xendm creates the tap xdmtap0 (script=no), dom0 gives it 10.0.2.2 and listens.

# qemu-xen's run (the same devices, its figures beside xendm's) only when named: it adds
# minutes to the default run.
[ "$RIG_DM" = xendm ] || [ -n "$RIG_NAMED" ] ||
    skip "qemu-xen's run only when named (tests/xen/rig.py run virtio-guest)"

# The layout init-virtio and mkvirtio.py share: the label, the 64 MiB pattern at 8 MiB.
VDATA_LABEL="XENDM-VIRTIO-DATA v1"
VDATA_MIB=80
PATTERN_OFFSET_MIB=8
PATTERN_MIB=64
TAP=xdmtap0
BOOT=/rig/virtio/boot.img
DATA=$WORK/data.img
VCLOG=$WORK/vc.log
FROM_GUEST=$WORK/from-guest.bin
TO_GUEST=$WORK/to-guest.bin

# dom0's end of the network: the tun driver (the rig's dom0 loads it at boot).
[ -c /dev/net/tun ] || fail "dom0 has no /dev/net/tun"
rm -f "$DATA" "$VCLOG" "$FROM_GUEST"
dd if=/dev/zero of="$DATA" bs=1048576 seek=$VDATA_MIB count=0 2>/dev/null &&
    echo "$VDATA_LABEL" | dd of="$DATA" conv=notrunc 2>/dev/null ||
    fail "cannot make the data disk $DATA"
dd if=/dev/urandom of="$TO_GUEST" bs=1048576 count=4 2>/dev/null || fail "cannot make $TO_GUEST"
: >"$VCLOG"
step_ok "dom0: /dev/net/tun, data disk ${VDATA_MIB} MiB with its label, 4 MiB to send"

# memory: the kernel and its initramfs need about 100 MiB, the guest keeps the 64 MiB pattern
# and the TCP files in a tmpfs. tsc_mode: under TCG Xen's RDTSCP interception fails.
guest_config <<EOF2
memory = 384
tsc_mode = "native"
on_poweroff = "destroy"
on_reboot = "destroy"
device_model_args_hvm = [
    "-drive", "if=none,id=vd0,file=$BOOT,format=raw,cache=writeback",
    "-device", "virtio-blk-pci,drive=vd0",
    "-drive", "if=none,id=vd1,file=$DATA,format=raw",
    "-device", "virtio-blk-pci,drive=vd1",
    "-device", "virtio-rng-pci",
    "-netdev", "tap,id=vn0,ifname=$TAP,script=no,downscript=no",
    "-device", "virtio-net-pci,netdev=vn0,mac=00:16:3e:00:00:02",
    "-device", "virtio-serial-pci",
    "-chardev", "file,id=vc0,path=$VCLOG",
    "-device", "virtconsole,chardev=vc0" ]
EOF2
create
T_CREATE=$(rig_uptime)

# dom0's side of the network, on the tap the device model created: the guest's peer 10.0.2.2,
# a listener keeping what the guest sends and one sending the 4 MiB file. The first one's stdin
# must not end first (busybox nc would end the connection): a FIFO this shell holds open.
ip link show $TAP >/dev/null 2>&1 || fail "the device model created no tap $TAP"
# The guest's subnet must route to this tap alone: a nic-* scenario that ended early may have
# left it on its bridge (dom0 then answered the guest through the bridge, and TCP failed).
for other in $(ls /sys/class/net); do
    [ "$other" = $TAP ] && continue
    if ip -4 addr show dev "$other" | grep -q 'inet 10\.0\.2\.'; then
        ip addr flush dev "$other" && echo "@@XR note dom0: took 10.0.2.0/24 off $other"
    fi
done
ip addr add 10.0.2.2/24 dev $TAP && ip link set $TAP up || fail "cannot configure $TAP"
trap stop_tcp_peers EXIT
start_tcp_peers "$FROM_GUEST" "$TO_GUEST"
step_ok "dom0: $TAP is 10.0.2.2/24 and up; listening on 5001 (from the guest) and 5002 (to it)"

since_create() { rig_since "$T_CREATE"; }
expect_serial '^SYSLINUX ' 180
echo "@@XR note virtio-guest ($RIG_DM): SYSLINUX at $(since_create) s after xl create"
expect_serial '^GUEST-BOOTED' 300
echo "@@XR note virtio-guest ($RIG_DM): GUEST-BOOTED at $(since_create) s after xl create"
# dom0's view of the network once the guest has pinged: the tap's counters (its RX is what the
# device model wrote, i.e. the guest sent; its TX what the device model read for the guest) and
# the neighbour dom0 learnt.
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
echo "@@XR note virtio-guest ($RIG_DM): GUEST-RESULT at $(since_create) s after xl create"
expect_gone 60
expect_dm_exited 30
stop_tcp_peers

# The serial file has the console's CR LF line ends.
tr -d '\r' <"$SERIAL" >"$WORK/serial.txt"
# fact KIND KEY: the value of KEY= on the guest's "GUEST-FACT KIND ..." line.
fact() {
    sed -n "s/^GUEST-FACT $1 .*$2=\\([^ ]*\\).*/\\1/p" "$WORK/serial.txt" | head -1
}
show grep -E '^GUEST-(BOOTED|OK|FACT|RESULT|FAIL)' "$WORK/serial.txt"

# The drivers, from the guest's sysfs facts: each virtio function on virtio-pci with MSI-X
# (qemu-xen gives its virtio-rng-pci no MSI-X vectors: INTx there).
for dev in 0x1001 0x1005 0x1000 0x1003; do
    irqs='[1-9]'
    [ "$RIG_DM" = qemu-xen ] && [ $dev = 0x1005 ] && irqs='[0-9]'
    grep -qE "^GUEST-FACT pci .* device=$dev driver=virtio-pci irqs=$irqs" "$WORK/serial.txt" ||
        fail "no virtio function with device id $dev driven by virtio-pci with MSI-X"
done
step_ok "virtio-pci drives blk (0x1001), rng (0x1005), net (0x1000), console (0x1003) with MSI-X"
[ "$(fact rng current)" = virtio_rng.0 ] ||
    fail "the guest's current hwrng is '$(fact rng current)', not virtio_rng.0"
step_ok "the guest's hwrng is virtio_rng.0"

# From dom0: the guest's pattern, by the MD5 the guest computed before writing it, is in the
# image file the device model wrote; the label is untouched.
want=$(fact pattern md5)
[ -n "$want" ] || fail "the guest printed no pattern MD5"
got=$(dd if="$DATA" bs=1048576 skip=$PATTERN_OFFSET_MIB count=$PATTERN_MIB 2>/dev/null |
    md5sum | cut -c1-32)
[ "$got" = "$want" ] || fail "dom0: the data image's pattern has MD5 $got, the guest's $want"
step_ok "dom0: the data image holds the guest's $PATTERN_MIB MiB pattern (md5 $want)"
[ "$(head -c ${#VDATA_LABEL} "$DATA")" = "$VDATA_LABEL" ] || fail "dom0: the label changed"
step_ok "dom0: the data image's label is untouched"

# The virtconsole: the guest's line is in the chardev's file.
line=$(fact virtconsole line)
[ -n "$line" ] && grep -q "VIRTCONSOLE-LINE $line" "$VCLOG" ||
    fail "the virtconsole's file lacks the guest's line '$line': $(head -c 200 "$VCLOG")"
step_ok "the virtconsole carried the guest's line to $VCLOG"
show grep -E '^GUEST-FACT (blk-times|blk-stat|net-stat|msix|irq)' "$WORK/serial.txt"

# The TCP transfers: what dom0 received is what the guest sent, and the other way round.
up=$(fact tcp-up md5)
[ -n "$up" ] && [ "$(md5sum <"$FROM_GUEST" | cut -c1-32)" = "$up" ] ||
    fail "dom0 received $(wc -c <"$FROM_GUEST") bytes, MD5 not the guest's '$up'"
step_ok "TCP guest -> dom0: $(wc -c <"$FROM_GUEST") bytes, md5 $up"
down=$(fact tcp-down md5)
[ "$down" = "$(md5sum <"$TO_GUEST" | cut -c1-32)" ] ||
    fail "the guest received MD5 '$down' ($(fact tcp-down bytes) bytes), dom0 sent another"
step_ok "TCP dom0 -> guest: $(fact tcp-down bytes) bytes, md5 $down"

# Last, the guest's own verdict (its failures are shown above): the checks dom0 makes first
# tell more about a failed run.
expect_no_serial '^GUEST-FAIL'
expect_serial '^GUEST-RESULT pass=[1-9][0-9]* fail=0 ' 1
rm -f "$DATA" "$FROM_GUEST" "$TO_GUEST"
