# xl create -p leaves the guest paused with its device model up; xl unpause (QMP cont) runs it.
# timeout: 210
# qemu-xen's run only when named: CI's time budget (its result matched xendm's every time).
[ "$RIG_DM" = xendm ] || [ -n "$RIG_NAMED" ] ||
    skip "qemu-xen's run only when named (tests/xen/rig.py run pause-unpause)"
firmware_config <<EOF2
on_reboot = "destroy"
EOF2
create -p
expect_state p 5
expect_dm_alive
expect_serial_quiet 2
xl_ok unpause "$GUEST"
expect_serial '^TESTFW-RESULT pass=[1-9][0-9]* fail=0 ' 120
expect_gone 30
expect_dm_exited 15
