# hvmloader and SeaBIOS (exploration)
# timeout: 300
guest_config <<EOF2
on_reboot = "destroy"
boot = "c"
EOF2
xl dmesg -c >/dev/null
create
sleep 70
show xl dmesg
xl_ok destroy "$GUEST"
expect_gone 20
