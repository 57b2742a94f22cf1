# A live guest pauses and unpauses, answers xl qemu-monitor-command (QMP human-monitor-command);
# xl destroy then removes it and its device model exits cleanly.
# timeout: 210
# qemu-xen's run only when named: CI's time budget (its result matched xendm's every time).
[ "$RIG_DM" = xendm ] || [ -n "$RIG_NAMED" ] ||
    skip "qemu-xen's run only when named (tests/xen/rig.py run destroy-running)"
FIRMWARE=/rig/firmware/testfw-idle.elf
firmware_config <<EOF2
on_reboot = "destroy"
EOF2
create
expect_serial '^TESTFW-RESULT pass=[1-9][0-9]* fail=0 ' 120
expect_state rb 10
xl_ok pause "$GUEST"
expect_state p 5
expect_dm_alive
xl_ok unpause "$GUEST"
expect_state rb 5
expect_xl_output 'VM status: running' qemu-monitor-command "$GUEST" "info status"
expect_xl_output 'serial0' qemu-monitor-command "$GUEST" "info chardev"
xl_ok destroy "$GUEST"
expect_gone 10
expect_dm_exited 10
if [ "$RIG_DM" = xendm ]; then
    expect_dm_log 'ioreq server [0-9]+ (destroyed|with it)'
    expect_dm_log 'exit status 0'
fi
