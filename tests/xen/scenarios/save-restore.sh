# xl save and xl restore: the guest's device state goes through the device model's saved state
# into a new device model (-incoming), and the guest beats on with its count and devices intact.
# timeout: 240
heartbeat_config <<EOF2
on_reboot = "destroy"
EOF2
create
expect_serial '^tick [0-9]+ ok' 120
before=$(last_tick)
xl_ok save "$GUEST" "$WORK/guest.chk"
expect_gone 15
expect_dm_exited 15
step_ok "saved at tick $before ($(wc -c <"$WORK/guest.chk") bytes)"
xl restore "$WORK/guest.chk" >"$WORK/xl-restore.log" 2>&1 ||
    fail "xl restore failed: $(tail -3 "$WORK/xl-restore.log" | tr '\n' '|')"
DOMID=$(xl domid "$GUEST")
DM_PID=$(xenstore-read "/local/domain/$DOMID/image/device-model-pid" 2>/dev/null)
step_ok "xl restore -> domain $DOMID, device model pid $DM_PID"
beats_on() { [ "$(last_tick)" -gt "$before" ] 2>/dev/null; }
wait_until 120 "the guest beats on past tick $before" beats_on
expect_no_serial 'BAD'
step_ok "tick $(last_tick): device state intact"
xl_ok destroy "$GUEST"
expect_gone 10
expect_dm_exited 10
