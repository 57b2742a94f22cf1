# dm_restrict=1: libxl runs the device model as an unprivileged uid in a chroot with its QMP
# socket pre-opened and -S; xendm restricts its Xen handles, drops privileges, chroots, installs
# its seccomp filter, waits for QMP cont, and the guest runs as usual.
# timeout: 210
# qemu-xen's run only when named: CI's time budget (its result matched xendm's every time).
[ "$RIG_DM" = xendm ] || [ -n "$RIG_NAMED" ] ||
    skip "qemu-xen's run only when named (tests/xen/rig.py run dm-restrict)"
firmware_config <<EOF2
dm_restrict = 1
on_reboot = "destroy"
EOF2
if [ "$RIG_DM" = xendm ]; then
    # libxl passes no -sandbox; an administrator adds it, as for qemu-xen.
    sed -i 's/^device_model_args = \[ /device_model_args = [ "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny", /' "$CFG"
fi
create
status_field() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$DM_PID/status"; }
uid=$(status_field Uid)
[ "$uid" -ge 131072 ] 2>/dev/null || fail "device model runs as uid '$uid', not the qemu user range"
step_ok "device model runs as uid $uid"
root=$(readlink "/proc/$DM_PID/root")
case $root in
/var/run/xen/qemu-root-* | /run/xen/qemu-root-*) step_ok "device model's root is $root" ;;
*) fail "device model's root is '$root', not its chroot" ;;
esac
if [ "$RIG_DM" = xendm ]; then
    [ "$(status_field Seccomp)" = 2 ] || fail "no seccomp filter (Seccomp: $(status_field Seccomp))"
    step_ok "seccomp filter installed"
fi
expect_serial '^TESTFW-RESULT pass=[1-9][0-9]* fail=0 ' 120
expect_gone 30
expect_dm_exited 15
