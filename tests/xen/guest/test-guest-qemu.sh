#!/bin/sh
# The IDE guest itself, without Xen: plain QEMU (TCG) boots boot.img through SeaBIOS from its
# PIIX3 IDE disk, with a fresh data disk as the primary slave and test.iso as the secondary
# master CD-ROM - the layout the rig's ide-boot scenario gives xl. The guest's checks become
# this test's TAP points, plus the host's own: the markers, the data disk's pattern recomputed
# here, and QEMU ending through the guest's ACPI S5.
#
# usage: test-guest-qemu.sh [WORKDIR]
# env:   QEMU (default qemu-system-x86_64), GUEST_TIMEOUT (seconds, default 240),
#        GUEST_MEMORY (MiB, default 192)

here=$(cd "$(dirname "$0")" && pwd)
qemu=${QEMU:-qemu-system-x86_64}
limit=${GUEST_TIMEOUT:-240}
work=${1:-$(mktemp -d "${TMPDIR:-/tmp}/guest-qemu.XXXXXX")}
mkdir -p "$work" || exit 1

if ! command -v "$qemu" >/dev/null 2>&1; then
    echo "1..0 # SKIP $qemu not installed (Debian: qemu-system-x86)"
    exit 0
fi
# The images: built once per set of inputs into the rig's cache (apt-get download on first use).
if ! images=$(python3 "$here/mkguest.py" 2>"$work/mkguest.log"); then
    echo "Bail out! mkguest.py failed: $(tail -3 "$work/mkguest.log" | tr '\n' ' ')"
    exit 1
fi
# shellcheck source=datadisk.sh
. "$here/datadisk.sh"
datadisk_make "$work/data.img" || { echo "Bail out! cannot make $work/data.img"; exit 1; }

serial=$work/serial.log
: >"$serial"
now() { cut -d' ' -f1 /proc/uptime; }
t0=$(now)
# snapshot=on: the guest never writes its boot disk, and must not be able to change the cache.
"$qemu" -accel tcg -m "${GUEST_MEMORY:-192}" \
    -drive "file=$images/boot.img,if=ide,index=0,media=disk,format=raw,snapshot=on" \
    -drive "file=$work/data.img,if=ide,index=1,media=disk,format=raw" \
    -drive "file=$images/test.iso,if=ide,index=2,media=cdrom,format=raw" \
    -display none -monitor none -serial "file:$serial" -no-reboot \
    </dev/null >"$work/qemu.log" 2>&1 &
qpid=$!

# Poll the serial log for the markers, timing each from QEMU's start.
t_syslinux="" t_booted="" t_result=""
elapsed() { awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
while kill -0 "$qpid" 2>/dev/null; do
    [ -z "$t_syslinux" ] && grep -q '^SYSLINUX ' "$serial" && t_syslinux=$(elapsed)
    [ -z "$t_booted" ] && grep -q '^GUEST-BOOTED' "$serial" && t_booted=$(elapsed)
    [ -z "$t_result" ] && grep -q '^GUEST-RESULT' "$serial" && t_result=$(elapsed)
    if [ "$(elapsed | cut -d. -f1)" -ge "$limit" ]; then
        kill "$qpid"
        echo "# QEMU killed after ${limit}s"
        break
    fi
    sleep 0.2
done
wait "$qpid"
status=$?
t_end=$(elapsed)
tr -d '\r' <"$serial" >"$serial.txt"

n=0
point() { # point OK|FAIL DESCRIPTION
    n=$((n + 1))
    if [ "$1" = ok ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}
failed=0
if grep -q '^SYSLINUX ' "$serial.txt"; then
    point ok "SeaBIOS booted syslinux from the IDE disk (${t_syslinux:-?}s)"
else
    point FAIL "no SYSLINUX banner: the disk did not boot"
fi
if grep -q '^GUEST-BOOTED' "$serial.txt"; then
    booted=$(grep -m1 '^GUEST-BOOTED' "$serial.txt")
    point ok "the kernel ran the initramfs's init: $booted (${t_booted:-?}s)"
else
    point FAIL "no GUEST-BOOTED marker"
fi
# The guest's own checks, one point each.
while IFS= read -r line; do
    case $line in
    GUEST-OK\ *) point ok "guest: ${line#GUEST-OK }" ;;
    GUEST-FAIL\ *) point FAIL "guest: ${line#GUEST-FAIL }" ;;
    esac
done <"$serial.txt"
summary=$(grep -m1 '^GUEST-RESULT ' "$serial.txt")
case $summary in
"GUEST-RESULT pass="[1-9]*" fail=0 "*) point ok "guest summary: $summary (${t_result:-$t_end}s)" ;;
*) point FAIL "guest summary: ${summary:-no GUEST-RESULT line}" ;;
esac
# From the host: the pattern the guest says it wrote, recomputed here, is on the data disk.
nonce=$(sed -n 's/^GUEST-FACT pattern nonce=\([0-9a-f]*\) .*/\1/p' "$serial.txt")
if [ -n "$nonce" ] && datadisk_check "$work/data.img" "$nonce"; then
    point ok "host: the data disk holds the guest's pattern (nonce $nonce)"
else
    point FAIL "host: the data disk lacks the guest's pattern (nonce '${nonce}')"
fi
if datadisk_has_label "$work/data.img" &&
   [ "$(datadisk_region_md5 "$work/data.img" "$DATADISK_HOST_BLOCK")" = \
     "$(datadisk_pattern_md5 "$DATADISK_HOST_NONCE")" ]; then
    point ok "host: the guest left the label and the host's pattern alone"
else
    point FAIL "host: the label or the host's pattern changed"
fi
if grep -q 'reboot: Power down' "$serial.txt" && [ "$status" -eq 0 ]; then
    point ok "the guest powered QEMU off through ACPI S5 (${t_end}s in all)"
else
    point FAIL "the guest did not power off (QEMU status $status)"
fi
echo "1..$n"
echo "# boot.img $(wc -c <"$images/boot.img") bytes, test.iso $(wc -c <"$images/test.iso") bytes"
if [ "$failed" -ne 0 ]; then
    echo "# --- serial output ---"
    sed 's/^/# /' "$serial.txt"
    sed 's/^/# qemu: /' "$work/qemu.log"
    exit 1
fi
[ -z "$1" ] && rm -rf "$work"
exit 0
