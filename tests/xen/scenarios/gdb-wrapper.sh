# scripts/xendm-gdb as device_model_override: the domain comes up as usual while a gdbserver
# waits for a debugger, and libxl's argv is recorded.
# timeout: 210
only_dm xendm
DM_PATH=/rig/bin/xendm-gdb
export XENDM_BIN=/rig/bin/xendm XENDM_GDB_DIR=/tmp/rig/gdb
FIRMWARE=/rig/firmware/testfw-idle.elf
firmware_config <<EOF2
on_reboot = "destroy"
EOF2
create
expect_serial '^TESTFW-RESULT pass=[1-9][0-9]* fail=0 skip=0' 120
expect_file "/tmp/rig/gdb/xendm-$DOMID.argv" '^-xen-domid$' 5
port=$((2300 + DOMID))
# /proc/net/tcp{,6}: "sl local_address rem_address st ...", st 0A = LISTEN.
listening() { awk -v p=":$(printf '%04X' "$port")" '$2 ~ p"$" && $4 == "0A"' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -q .; }
listening || show cat "/tmp/rig/gdb/xendm-$DOMID.gdbserver.log"
wait_until 5 "gdbserver listens on port $port" listening
expect_dm_log 'attach with: gdb'
xl_ok destroy "$GUEST"
expect_gone 10
expect_dm_exited 10
gdbserver_gone() { ! listening; }
wait_until 5 "gdbserver went with xendm" gdbserver_gone
