# The guest powers off through ACPI S5 (SLP_TYP 0 with SLP_EN into the PIIX4 PM's PM1a_CNT at
# 0xB004), and the domain ends as powered off: on_poweroff="destroy" removes it, the device
# model exits.
# timeout: 210
FIRMWARE=/rig/firmware/testfw-poweroff.elf
firmware_config <<EOF2
on_poweroff = "destroy"
on_reboot = "preserve"
EOF2
create
expect_serial '^# poweroff: ACPI S5 through PIIX4 PM1a_CNT' 150
# A reset fallback would leave the domain preserved (on_reboot); a powered-off domain is gone.
expect_gone 30
expect_no_serial '^# poweroff ignored'
expect_dm_exited 15
if [ "$RIG_DM" = xendm ]; then
    expect_dm_log 'S5|poweroff'
    expect_dm_log 'exit status 0'
fi
