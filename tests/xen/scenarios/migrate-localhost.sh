# xl migrate (live, dom0 to dom0): the dirty log, a live device-state save and a restore into
# a new device model on the receiving side; the guest beats on with its devices intact.
# timeout: 270
heartbeat_config <<EOF2
on_reboot = "destroy"
EOF2
create
expect_serial '^tick [0-9]+ ok' 120
before=$(last_tick)
old_domid=$DOMID
old_dm=$DM_PID
xl migrate -s /rig/bin/local-ssh "$GUEST" localhost >"$WORK/xl-migrate.log" 2>&1 ||
    fail "xl migrate failed: $(tail -4 "$WORK/xl-migrate.log" | tr '\n' '|')"
step_ok "xl migrate from domain $old_domid at tick $before"
DOMID=$(xl domid "$GUEST" 2>/dev/null)
DM_PID=$(xenstore-read "/local/domain/$DOMID/image/device-model-pid" 2>/dev/null)
[ -n "$DOMID" ] && [ "$DOMID" != "$old_domid" ] || fail "no migrated domain (xl list: $(xl list | tr '\n' '|'))"
step_ok "the guest runs as domain $DOMID with device model $DM_PID"
old_dm_gone() { [ ! -d "/proc/$old_dm" ] || grep -q '^State:.*Z' "/proc/$old_dm/status"; }
wait_until 15 "the sending side's device model exited" old_dm_gone
# The guest ran on during the live copy; what counts is that it beats on under the new
# device model, which reopened (truncated) the serial file before xl migrate returned.
arrived=$(last_tick)
beats_on() { [ "$(last_tick)" -gt "${arrived:-0}" ] 2>/dev/null; }
wait_until 120 "the guest beats on past tick ${arrived:-0} on the receiving side" beats_on
expect_no_serial 'BAD'
step_ok "tick $(last_tick): device state intact"
xl_ok destroy "$GUEST"
expect_gone 10
expect_dm_exited 10
