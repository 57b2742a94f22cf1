#!/bin/sh
# Sanity test of the test firmware itself, without Xen: plain QEMU (TCG) boots testfw.elf
# through its Multiboot header, with QEMU's own pc-testdev. The firmware's TAP lines on COM1
# become this test's TAP, plus one point for the summary line. The firmware ends by pulsing
# the i8042 reset line, which makes QEMU exit under -no-reboot.
#
# With END = poweroff (for testfw-poweroff.elf) one more point checks that the firmware's ACPI
# S5 request through the PIIX4 PM ended the run, not the reset fallback after it.
#
# usage: test-testfw-qemu.sh PATH/testfw.elf [poweroff]
# env:   QEMU (default qemu-system-i386), TESTFW_TIMEOUT (seconds, default 60)

elf=${1:?usage: $0 PATH/testfw.elf [poweroff]}
end=${2:-reset}
qemu=${QEMU:-qemu-system-i386}
limit=${TESTFW_TIMEOUT:-60}

if ! command -v "$qemu" >/dev/null 2>&1; then
    echo "1..0 # SKIP $qemu not installed (Debian: qemu-system-x86)"
    exit 0
fi
if [ ! -r "$elf" ]; then
    echo "Bail out! no firmware at $elf"
    exit 1
fi

# The reasons a check may skip outside Xen (tests/xen/firmware/pci.c).
EXPECTED_SKIPS='# SKIP (not a Xen guest|no Xen platform device|xendm-testdev absent)'

raw=$(mktemp "${TMPDIR:-/tmp}/testfw-qemu.XXXXXX") || exit 1
log="$raw.txt"
trap 'rm -f "$raw" "$log"' EXIT INT TERM

timeout --kill-after=5 "$limit" "$qemu" -accel tcg -m 32 -kernel "$elf" -device pc-testdev \
    -serial stdio -display none -monitor none -no-reboot </dev/null >"$raw" 2>&1
status=$?
tr -d '\r' <"$raw" >"$log"

# The firmware's own check lines, numbered as it numbered them.
grep -E '^(not )?ok [0-9]+ ' "$log"
checks=$(grep -cE '^(not )?ok [0-9]+ ' "$log")
failed=$(grep -cE '^not ok [0-9]+ ' "$log")
summary=$(grep -m1 '^TESTFW-RESULT ' "$log")
n=$((checks + 1))

if [ -z "$summary" ]; then
    echo "not ok $n - firmware summary: no TESTFW-RESULT line within ${limit}s" \
         "(QEMU exit status $status)"
    echo "# --- serial output ---"
    sed 's/^/# /' "$log"
elif ! grep -qx "1\\.\\.$checks" "$log"; then
    echo "not ok $n - firmware summary: its plan does not match the $checks check lines"
    failed=$((failed + 1))
else
    # Plain QEMU is not a Xen guest and has no xendm-testdev: those checks skip, and only those.
    # pc-testdev is attached, so any other skip means the firmware failed to find a device.
    unexpected=$(grep -E '^ok [0-9]+ .*# SKIP ' "$log" | grep -vcE "$EXPECTED_SKIPS")
    case $summary in
    *" fail=0 skip="*)
        if [ "$unexpected" -eq 0 ]; then
            echo "ok $n - firmware summary: $summary"
        else
            echo "not ok $n - firmware summary: $summary ($unexpected unexpected skips)"
            failed=$((failed + 1))
        fi ;;
    *) echo "not ok $n - firmware summary: $summary"; failed=$((failed + 1)) ;;
    esac
fi
if [ "$end" = poweroff ]; then
    n=$((n + 1))
    if grep -q '^# poweroff: ACPI S5' "$log" && ! grep -q '^# poweroff ignored' "$log" &&
       [ "$status" -eq 0 ]; then
        echo "ok $n - ACPI S5 through the PIIX4 PM powered QEMU off"
    else
        echo "not ok $n - ACPI S5 through the PIIX4 PM did not power off (QEMU status $status)"
        failed=$((failed + 1))
    fi
fi
grep -E '^(Bail out!|# )' "$log" | sed 's/^Bail out!/# firmware bailed out:/'
echo "1..$n"

[ -n "$summary" ] && [ "$failed" -eq 0 ]
