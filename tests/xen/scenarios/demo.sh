# make run: an HVM guest on real Xen with xendm as its device model; its serial console is shown.
# timeout: 210
FIRMWARE=/rig/firmware/testfw-idle.elf
firmware_config <<EOF2
on_reboot = "destroy"
EOF2
create
expect_serial '^TESTFW-RESULT pass=[0-9]+ fail=[0-9]+ skip=[0-9]+' 120
sleep 1
show xl list
xl_ok destroy "$GUEST"
expect_gone 10
expect_dm_exited 10
