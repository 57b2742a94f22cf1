# The scenario library on the real-Xen rig (busybox sh, sourced by /init and by every scenario).
#
# A scenario is a shell file in tests/xen/scenarios/: its first comment line says what it proves;
# its body calls the verbs below. Every verb reports one "@@XR step" line; the first failing verb
# ends the scenario. A scenario runs once per device model (RIG_DM = xendm or qemu-xen) in its own
# process under a time bound (RIG_TIMEOUT, default 120 s, may be set on the scenario's second
# line as "# timeout: N").
#
#   guest_config <<EOF ... EOF     the xl config: common lines + yours (stdin)
#   firmware_config <<EOF ... EOF  a guest that runs the in-tree test firmware (testfw.elf)
#   expected_skips                 how many firmware checks skip with this device model
#   heartbeat_config <<EOF ... EOF a guest beating over device state (last_tick reads it)
#   create [xl create options]     xl create; records DOMID and DM_PID
#   expect_serial REGEX SECS       the guest's serial output matches within SECS
#   expect_no_serial REGEX         ... and does not match
#   expect_state LETTERS SECS      xl list's state column shows one of LETTERS (r b p s c d)
#   expect_gone SECS               the domain no longer exists
#   expect_dm_exited SECS          the device model process has exited
#   expect_dm_log REGEX            the device model's log matches
#   expect_file PATH [REGEX] SECS  a file in dom0 exists (and matches REGEX) within SECS
#   expect_serial_quiet SECS       the serial output does not grow for SECS (a paused guest)
#   xl_ok ARGS...                  runs `xl ARGS` and expects success
#   expect_xl_output REGEX ARGS... runs `xl ARGS`, expects success and output matching REGEX
#   only_dm NAME                   skips the scenario for other device models
#   show COMMAND...                prints the command's output on the host's terminal
# Variables: GUEST (domain name), SERIAL, CFG, DMLOG, DOMID, DM_PID, RIG_DM, WORK, FIRMWARE,
# VCPUS (the guest's vcpus, 1 unless set before guest_config).

FIRMWARE=/rig/firmware/testfw.elf
XENDM=/rig/bin/xendm
QEMU_XEN=/usr/libexec/xen-qemu-system-i386

rig_uptime() { cut -d' ' -f1 /proc/uptime; }
rig_since() { awk -v a="$1" -v b="$(rig_uptime)" 'BEGIN { printf "%.1f", b - a }'; }

step_ok() { echo "@@XR step ok [$(rig_since "$RIG_T0")s] $*"; }
fail() {
    echo "@@XR step FAIL [$(rig_since "$RIG_T0")s] $*"
    exit 1
}
skip() {
    echo "@@XR step skip $*"
    exit 77
}
show() { "$@" 2>&1 | sed 's/^/@@XR note /'; }
only_dm() { [ "$RIG_DM" = "$1" ] || skip "only with $1"; }

guest_config() {
    {
        cat <<EOF
name = "$GUEST"
type = "hvm"
memory = 32
vcpus = ${VCPUS:-1}
serial = "file:$SERIAL"
vnc = 0
sdl = 0
vga = "none"
device_model_version = "qemu-xen"
device_model_override = "$DM_PATH"
on_crash = "preserve"
EOF
        cat
    } >"$CFG"
}

# The test firmware in place of hvmloader, with QEMU's pc-testdev for its checks, and for xendm
# also xendm-testdev (MSI and MSI-X; qemu-xen has no such device, so those 3 groups skip there).
# It ends by resetting the guest through the device model's i8042: on_reboot decides what
# happens then.
firmware_config() {
    local testdevs='"-device", "pc-testdev"'
    if [ "$RIG_DM" = xendm ]; then
        testdevs="$testdevs, \"-device\", \"xendm-testdev\""
    fi
    {
        cat <<EOF
firmware_override = "$FIRMWARE"
device_model_args = [ $testdevs ]
EOF
        cat
    } | guest_config
}

# testfw-heartbeat.elf: after its checks it leaves state in the devices and prints "tick N ok"
# (or "BAD") forever. xendm gets pc-testdev too; QEMU's pc-testdev keeps no saved state, so
# the reference beats over the UART alone. Extra xl lines on stdin.
heartbeat_config() {
    FIRMWARE=/rig/firmware/testfw-heartbeat.elf
    if [ "$RIG_DM" = xendm ]; then
        firmware_config
    else
        { echo "firmware_override = \"$FIRMWARE\""; cat; } | guest_config
    fi
}
expected_skips() { if [ "$RIG_DM" = xendm ]; then echo 0; else echo 3; fi; }
last_tick() { sed -n 's/^tick \([0-9]*\) .*/\1/p' "$SERIAL" | tail -1; }

create() {
    local t0
    t0=$(rig_uptime)
    xl create "$@" "$CFG" >"$WORK/xl-create.log" 2>&1 || fail "xl create $* failed"
    DOMID=$(xl domid "$GUEST" 2>/dev/null)
    DM_PID=$(xenstore-read "/local/domain/$DOMID/image/device-model-pid" 2>/dev/null)
    step_ok "xl create $* -> domain $DOMID, device model pid ${DM_PID:-?}; took $(rig_since "$t0") s"
}

# wait_until SECS DESCRIPTION COMMAND...: polls COMMAND every 0.1 s.
wait_until() {
    local secs=$1 desc=$2 t0
    shift 2
    t0=$(rig_uptime)
    while ! "$@"; do
        if [ "$(awk -v a="$t0" -v b="$(rig_uptime)" -v s="$secs" 'BEGIN { print (b - a > s) }')" = 1 ]
        then
            fail "$desc: not within ${secs}s"
        fi
        sleep 0.1
    done
    step_ok "$desc"
}

serial_matches() { grep -qE "$1" "$SERIAL" 2>/dev/null; }
expect_serial() { wait_until "$2" "serial shows /$1/" serial_matches "$1"; }
expect_no_serial() {
    if serial_matches "$1"; then
        fail "serial shows /$1/: $(grep -E "$1" "$SERIAL" | head -3 | tr '\n' '|')"
    fi
    step_ok "serial does not show /$1/"
}

serial_size() { wc -c <"$SERIAL" 2>/dev/null || echo 0; }
expect_serial_quiet() {
    local before after
    before=$(serial_size)
    sleep "$1"
    after=$(serial_size)
    [ "$before" = "$after" ] || fail "serial grew from $before to $after bytes in $1 s"
    step_ok "serial quiet for $1 s ($after bytes)"
}

domain_state() { xl list "$GUEST" 2>/dev/null | awk 'NR == 2 { print $5 }'; }
state_is() { domain_state | grep -q "[$1]"; }
expect_state() {
    wait_until "$2" "domain state is [$1] (xl list: $(domain_state))" state_is "$1"
}

domain_gone() { ! xl domid "$GUEST" >/dev/null 2>&1; }
expect_gone() { wait_until "$1" "domain $GUEST is gone" domain_gone; }

dm_alive() {
    [ -n "$DM_PID" ] && [ -d "/proc/$DM_PID" ] && ! grep -q '^State:.*Z' "/proc/$DM_PID/status"
}
dm_exited() { ! dm_alive; }
expect_dm_exited() { wait_until "$1" "device model (pid $DM_PID) exited" dm_exited; }
expect_dm_alive() { dm_alive || fail "device model (pid $DM_PID) is not running"; step_ok "device model alive"; }

file_matches() { [ -e "$1" ] && { [ -z "$2" ] || grep -qE "$2" "$1" 2>/dev/null; }; }
expect_file() {
    local path=$1 regex="" secs
    if [ $# -ge 3 ]; then regex=$2; secs=$3; else secs=$2; fi
    wait_until "$secs" "file $path${regex:+ shows /$regex/}" file_matches "$path" "$regex"
}

expect_dm_log() {
    grep -qE "$1" "$DMLOG" 2>/dev/null || fail "device model log lacks /$1/"
    step_ok "device model log shows /$1/"
}

xl_ok() {
    xl "$@" >"$WORK/xl.log" 2>&1 || fail "xl $* failed: $(tail -3 "$WORK/xl.log" | tr '\n' '|')"
    step_ok "xl $*"
}

expect_xl_output() {
    local regex=$1
    shift
    xl "$@" >"$WORK/xl.log" 2>&1 || fail "xl $* failed: $(tail -3 "$WORK/xl.log" | tr '\n' '|')"
    grep -qE "$regex" "$WORK/xl.log" ||
        fail "xl $* printed no /$regex/: $(head -5 "$WORK/xl.log" | tr '\r\n' ' |')"
    step_ok "xl $* shows /$regex/"
}

# ---------------------------------------------------------------------------------------------
# The runner (called by /init).

rig_dump() {
    echo "@@XR log-begin $1"
    cat "$2" 2>&1 | tail -n "${3:-80}"
    echo "@@XR log-end"
}

rig_run_scenario() {
    local scenario=$1 dm=$2 file="/rig/scenarios/$1.sh" t0 rc timeout status tailpid=""
    local work="/tmp/rig/$scenario-$dm"
    mkdir -p "$work"
    echo "@@XR begin $scenario $dm"
    timeout=$(sed -n 's/^# timeout: *\([0-9]*\).*/\1/p' "$file" | head -1)
    t0=$(rig_uptime)
    if grep -q 'xrig.show_serial=1' /proc/cmdline; then
        : >"$work/serial.log"
        tail -F "$work/serial.log" 2>/dev/null | while IFS= read -r line; do
            echo "@@XR serial $line"
        done &
        tailpid=$!
    fi
    RIG_SCENARIO=$scenario RIG_DM=$dm RIG_WORK=$work RIG_T0=$t0 \
        timeout -s TERM "${timeout:-120}" sh -c '. /rig/lib.sh; rig_scenario_body "$0"' "$file"
    rc=$?
    case $rc in
    0) status=pass ;;
    77) status=skip ;;
    *) status=fail ;;
    esac
    [ "$(awk -v a="$t0" -v b="$(rig_uptime)" -v s="${timeout:-120}" 'BEGIN { print (b - a >= s) }')" = 1 ] &&
        echo "@@XR step FAIL scenario exceeded its bound of ${timeout:-120}s"
    if [ $status = fail ]; then
        rig_dump "xl create" "$work/xl-create.log" 40
        rig_dump "device model log" "/var/log/xen/qemu-dm-$scenario.log" 80
        rig_dump "guest serial" "$work/serial.log" 60
        xl list >"$work/xl-list.txt" 2>&1
        rig_dump "xl list" "$work/xl-list.txt"
        xl dmesg >"$work/xl-dmesg.txt" 2>&1
        rig_dump "Xen console (xl dmesg)" "$work/xl-dmesg.txt" 40
    fi
    if xl domid "$scenario" >/dev/null 2>&1; then
        xl destroy "$scenario" >/dev/null 2>&1
    fi
    [ -n "$tailpid" ] && { sleep 0.3; kill "$tailpid" 2>/dev/null; }
    # The device model may outlive a failed scenario: make sure the next one starts clean.
    pkill -f "xen-domid" 2>/dev/null
    echo "@@XR end $scenario $dm $status $(rig_since "$t0")"
    RIG_LAST_STATUS=$status
}

rig_scenario_body() {
    GUEST=$RIG_SCENARIO
    WORK=$RIG_WORK
    SERIAL=$WORK/serial.log
    CFG=$WORK/guest.cfg
    DMLOG=/var/log/xen/qemu-dm-$GUEST.log
    case $RIG_DM in
    xendm) DM_PATH=$XENDM ;;
    qemu-xen) DM_PATH=$QEMU_XEN ;;
    *) fail "unknown device model $RIG_DM" ;;
    esac
    rm -f "$DMLOG"
    [ -e "$SERIAL" ] && : >"$SERIAL"
    set -u
    . "$1"
    exit 0
}

# The guest's TCP peers (the virtio-guest and nic-* scenarios): a listener on 5001 keeping what
# the guest sends in FROM (its stdin a FIFO this shell holds open: busybox nc ends the connection
# when its stdin ends) and one on 5002 sending the file TO. Listeners a failed run left behind
# are killed and gone first (one of them took an earlier guest's data), and both new ones must
# be listening before the guest is started. stop_tcp_peers ends them (call it from an EXIT trap).
port_listening() {
    cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -qiE ":$(printf %04X "$1") 0+:0000 0A"
}
start_tcp_peers() {
    local from=$1 to=$2 i=0
    pkill -f 'nc -l -p 500[12]' 2>/dev/null
    while { port_listening 5001 || port_listening 5002; } && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    { port_listening 5001 || port_listening 5002; } && fail "ports 5001/5002 are still taken"
    rm -f "$WORK/hold"
    mkfifo "$WORK/hold" && exec 3<>"$WORK/hold" || fail "cannot make the FIFO $WORK/hold"
    nc -l -p 5001 <"$WORK/hold" >"$from" &
    TCP_UP_PID=$!
    nc -l -p 5002 <"$to" >/dev/null &
    TCP_DOWN_PID=$!
    i=0
    while ! { port_listening 5001 && port_listening 5002; } && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    port_listening 5001 && port_listening 5002 || fail "dom0's listeners on 5001/5002 did not start"
}
stop_tcp_peers() {
    exec 3>&-
    [ -n "$TCP_UP_PID" ] && kill $TCP_UP_PID 2>/dev/null
    [ -n "$TCP_DOWN_PID" ] && kill $TCP_DOWN_PID 2>/dev/null
    TCP_UP_PID= TCP_DOWN_PID=
}
