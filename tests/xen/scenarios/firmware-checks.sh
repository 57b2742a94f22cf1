# The test firmware's checks pass on a real vCPU; it then resets the guest through the device model.
# timeout: 210
firmware_config <<EOF2
on_reboot = "destroy"
EOF2
create
expect_serial '^TESTFW-RESULT pass=[0-9]+ fail=[0-9]+ skip=[0-9]+' 120
expect_no_serial '^not ok'
expect_serial "^TESTFW-RESULT pass=[1-9][0-9]* fail=0 skip=$(expected_skips)[^0-9]*$" 0
# MSI-X and MSI through Xen: xendm-testdev's vectors reached the vCPU (xendm only).
if [ "$RIG_DM" = xendm ]; then
    expect_serial '^ok [0-9]+ - msix: doorbell delivers vector 0x40 exactly once' 0
    expect_serial '^ok [0-9]+ - msix: unmask delivers the pending message once' 0
    expect_serial '^ok [0-9]+ - msi: unmask delivers the pending message once' 0
fi
expect_gone 30
expect_dm_exited 15
if [ "$RIG_DM" = xendm ]; then
    expect_dm_log 'ioreq server [0-9]+ (destroyed|with it)'
    expect_dm_log 'exit status 0'
fi
