# xl vcpu-set above the boot count: libxl adds the vCPU through the device model's QMP
# (query-cpus-fast, query-hotpluggable-cpus, device_add) and marks it online in xenstore;
# lowering the count again needs no device model. (--ignore-host: the rig has 2 physical CPUs.)
# timeout: 210
# qemu-xen's run only when named: CI's time budget (its result matched xendm's every time).
[ "$RIG_DM" = xendm ] || [ -n "$RIG_NAMED" ] ||
    skip "qemu-xen's run only when named (tests/xen/rig.py run vcpu-set)"
FIRMWARE=/rig/firmware/testfw-idle.elf
VCPUS=2
firmware_config <<EOF2
maxvcpus = 4
on_reboot = "destroy"
EOF2
create
expect_serial '^TESTFW-RESULT pass=[0-9]+ fail=0 ' 120
xl_ok vcpu-set --ignore-host "$GUEST" 3
online() { [ "$(xenstore-read "/local/domain/$DOMID/cpu/2/availability" 2>/dev/null)" = online ]; }
wait_until 10 "xenstore: vCPU 2 online" online
if [ "$RIG_DM" = xendm ]; then
    expect_dm_log 'vCPU 2 added'
fi
expect_dm_alive
xl_ok vcpu-set "$GUEST" 2
offline() { [ "$(xenstore-read "/local/domain/$DOMID/cpu/2/availability" 2>/dev/null)" = offline ]; }
wait_until 10 "xenstore: vCPU 2 offline" offline
if xl vcpu-set --ignore-host "$GUEST" 5 >"$WORK/xl.log" 2>&1; then
    fail "xl vcpu-set beyond maxvcpus succeeded"
fi
step_ok "xl vcpu-set beyond maxvcpus refused"
expect_dm_alive
xl_ok destroy "$GUEST"
expect_gone 10
expect_dm_exited 10
