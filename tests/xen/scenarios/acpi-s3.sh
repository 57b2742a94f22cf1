# The guest enters ACPI S3 (SLP_TYP 1 into the PIIX4 PM's PM1a_CNT): the device model asks Xen
# to park the vCPUs (HVM_PARAM_ACPI_S_STATE), not to shut the domain down, so it stays, its
# serial goes quiet and `xl list` shows it neither running nor shut down; QMP reports
# "suspended" (qemu-xen behaves alike). Then destroyed.
# timeout: 210
FIRMWARE=/rig/firmware/testfw-s3.elf
firmware_config <<EOF2
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "destroy"
EOF2
create
expect_serial '^# s3: ACPI S3 through PIIX4 PM1a_CNT' 150
expect_serial_quiet 5
expect_no_serial '^# s3 ignored'
# Xen's S3 leaves the vCPUs neither running nor blocked: xl list shows "------", and above
# all not "s" (shut down) as a remote_shutdown would.
state=$(domain_state)
case $state in
*s* | *c* | *d* | "") fail "after S3 xl list shows '$state'" ;;
*) step_ok "after S3 the domain lives on (xl list: $state)" ;;
esac
expect_dm_alive
expect_xl_output 'suspended' qemu-monitor-command "$GUEST" 'info status'
if [ "$RIG_DM" = xendm ]; then
    expect_dm_log 'guest entered S3'
fi
xl_ok destroy "$GUEST"
expect_gone 10
expect_dm_exited 10
