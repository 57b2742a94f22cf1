# xendm in a Linux stub domain (libxl's "GUEST-dm"): the test firmware's checks pass; xl destroy ends both domains.
# timeout: 600
#
# The guest's device model runs INSIDE a PV domain built from Debian's kernel and the rootfs of
# tests/xen/stubdom (busybox, a static xendm, xenstore client, vchan-socket-proxy): libxl writes
# the argv to /vm/UUID/image/dm-argv, waits for device-model/GUEST/state = running under the stub
# domain's home and reaches QMP through a vchan proxy. dom0 still runs one qemu-xen, as libxl
# 4.17 always does for a stub domain: not as a device model but as the backend of the stub
# domain's PV consoles (log, save, restore, the guest's serial). xendm only: Debian packages no
# Linux stub domain for qemu-xen. Runs only when named (rig.py run stubdom): it builds a static
# xendm and takes 3 to 5 minutes under TCG, every ioreq crossing into a PV domain.
only_dm xendm
STUBDOM=$GUEST-dm
STUB_KERNEL=/rig/stubdom/vmlinuz
STUB_ROOTFS=/rig/stubdom/rootfs.cpio.gz

[ -r "$STUB_KERNEL" ] && [ -r "$STUB_ROOTFS" ] || fail "the stub domain's kernel or rootfs is missing"

# The firmware config plus the stub domain. device_model_override would also name the dom0
# process libxl starts for the stub domain's consoles: that stays qemu-xen; the device model
# itself is whatever the stub domain's rootfs runs.
stubdom_config() {
    firmware_config <<EOF2
on_reboot = "destroy"
device_model_stubdomain_override = 1
stubdomain_kernel = "$STUB_KERNEL"
stubdomain_ramdisk = "$STUB_ROOTFS"
stubdomain_cmdline = "console=hvc0 quiet loglevel=4"
EOF2
    # libxl hands device_model_args to both: the dom0 console qemu would choke on the test
    # devices. The _hvm variant reaches only the HVM guest's device model.
    sed -i -e '/^device_model_override/d' -e 's/^device_model_args = /device_model_args_hvm = /' \
        "$CFG"
}

stubdom_exists() { xl domid "$STUBDOM" >/dev/null 2>&1; }
stubdom_gone() { ! stubdom_exists; }
stub_state() {
    local stubid
    stubid=$(xl domid "$STUBDOM" 2>/dev/null) || return 1
    xenstore-read "/local/domain/$stubid/device-model/$DOMID/state" 2>/dev/null
}
# On failure, what the rig's own dump does not show: the stub domain's dom0 side.
stubdom_logs() {
    local rc=$?
    [ "$rc" = 0 ] && return
    # A failed check names its cause on the line before it.
    show grep -B3 '^not ok' "$SERIAL"
    for f in /var/log/xen/qemu-dm-$STUBDOM.log /var/log/xen/qmp-proxy-$STUBDOM.log; do
        echo "@@XR note ----- $f"
        show tail -n 40 "$f"
    done
}
trap stubdom_logs EXIT
qmp_proxy_running() { ps | grep -v grep | grep -q "vchan-socket-proxy.*qmp-vchan"; }

# 1. The firmware's checks, with the guest started paused: `xl unpause` is a QMP "cont" that
#    goes through libxl's dom0 proxy and the vchan to xendm in the stub domain.
stubdom_config
create -p
stubdom_exists || fail "no stub domain $STUBDOM after xl create"
step_ok "stub domain $STUBDOM is domain $(xl domid "$STUBDOM")"
[ "$(stub_state)" = running ] || fail "device-model state under the stub domain: '$(stub_state)'"
step_ok "xendm wrote device-model/$DOMID/state = running under the stub domain's home"
expect_dm_log 'stubdom: run xendm .*-xen-domid'
qmp_proxy_running || fail "no vchan-socket-proxy for QMP in dom0"
step_ok "libxl's QMP vchan proxy runs in dom0"
xl_ok unpause "$GUEST"
expect_serial '^TESTFW-RESULT pass=[0-9]+ fail=[0-9]+ skip=[0-9]+' 420
expect_no_serial '^not ok'
expect_serial '^TESTFW-RESULT pass=[1-9][0-9]* fail=0 skip=0[^0-9]*$' 0
# The firmware ends with a reset through xendm's i8042 (on_reboot=destroy): xendm asks Xen for
# the reboot, the guest goes, and libxl takes the stub domain (and xendm in it) with it.
expect_gone 30
wait_until 30 "stub domain $STUBDOM is gone" stubdom_gone
expect_dm_log 'shutdown requested \(reason 1\)'

# 2. A running guest: QMP answers through the proxy; xl destroy ends both domains. (The
#    firmware's banner is enough: its checks already ran above and take minutes here.)
FIRMWARE=/rig/firmware/testfw-idle.elf
: >"$SERIAL"
stubdom_config
create
expect_serial '^xendm-testfw' 120
expect_xl_output 'VM status: running' qemu-monitor-command "$GUEST" "info status"
xl_ok destroy "$GUEST"
expect_gone 20
wait_until 20 "stub domain $STUBDOM is gone" stubdom_gone
qmp_proxy_running && fail "the dom0 QMP proxy outlived the stub domain"
step_ok "the dom0 QMP proxy is gone"
