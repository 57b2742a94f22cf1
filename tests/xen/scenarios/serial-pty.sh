# serial="pty": libxl finds the pty through QMP query-chardev and publishes it in xenstore
# (what xl console uses); the guest's output arrives on that pty.
# timeout: 210
# qemu-xen's run only when named: CI's time budget (its result matched xendm's every time).
[ "$RIG_DM" = xendm ] || [ -n "$RIG_NAMED" ] ||
    skip "qemu-xen's run only when named (tests/xen/rig.py run serial-pty)"
firmware_config <<EOF2
serial = "pty"
on_reboot = "destroy"
EOF2
create -p
tty=$(xenstore-read "/local/domain/$DOMID/serial/0/tty" 2>/dev/null)
case $tty in
/dev/pts/*) step_ok "xenstore serial/0/tty = $tty" ;;
*) fail "xenstore serial/0/tty is '$tty', not a pty" ;;
esac
SERIAL=$WORK/pty.log
cat "$tty" >"$SERIAL" 2>&1 &
reader=$!
sleep 0.5
xl_ok unpause "$GUEST"
expect_serial "TESTFW-RESULT pass=[1-9][0-9]* fail=0 skip=$(expected_skips)" 120
kill "$reader" 2>/dev/null
expect_gone 30
expect_dm_exited 15
