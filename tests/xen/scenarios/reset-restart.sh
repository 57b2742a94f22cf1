# A guest-initiated reset (i8042 0xFE through the device model) with on_reboot="restart" brings
# the guest back as a new domain with a new device model.
# timeout: 240
firmware_config <<EOF2
on_reboot = "restart"
EOF2
create
first_domid=$DOMID
first_dm=$DM_PID
expect_serial '^TESTFW-RESULT pass=[1-9][0-9]* fail=0 ' 120
new_domain() {
    DOMID=$(xl domid "$GUEST" 2>/dev/null) && [ "$DOMID" != "$first_domid" ] &&
        DM_PID=$(xenstore-read "/local/domain/$DOMID/image/device-model-pid" 2>/dev/null) &&
        [ -n "$DM_PID" ] && [ "$DM_PID" != "$first_dm" ] && state_is rb
}
wait_until 30 "the guest came back as a new domain with a new device model" new_domain
step_ok "domain $first_domid -> $DOMID, device model $first_dm -> $DM_PID"
expect_serial '^TESTFW-RESULT pass=[1-9][0-9]* fail=0 ' 120
# It resets again and again: destroy until no incarnation is left.
gone_for_good() {
    xl destroy "$GUEST" >/dev/null 2>&1
    domain_gone && sleep 2 && domain_gone
}
wait_until 30 "destroyed for good" gone_for_good
no_device_models() { ! pgrep -f "xen-domid" >/dev/null; }
wait_until 15 "no device model process left" no_device_models
