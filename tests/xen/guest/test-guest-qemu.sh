#!/bin/sh
# The IDE guest itself, without Xen, booted twice by plain QEMU (TCG) through SeaBIOS and PIIX3
# IDE, with the layouts the rig's scenarios give xl:
#   disk  boot.img as the primary master (syslinux), a fresh data disk as the primary slave,
#         test.iso as the secondary master CD-ROM (ide-boot)
#   cd    boot.img as the primary master and test.iso as the secondary master, -boot d: the El
#         Torito image (isolinux) boots before the disk (ide-cdboot)
#   cdchange  a copy of boot.img that boots the CD-change checks, an empty CD-ROM drive as the
#         secondary master: QMP blockdev-change-medium inserts test.iso when the guest waits
#         for a disc, QMP eject takes it away when the guest waits for that (cd-insert)
# The guest's checks become this test's TAP points, plus the host's own: the markers and where
# the guest says it booted from, the data disk's pattern recomputed here, the CD's checksum the
# guest read compared with the image's, and QEMU ending through the guest's ACPI S5.
#
# usage: test-guest-qemu.sh [WORKDIR]
# env:   QEMU (default qemu-system-x86_64), GUEST_TIMEOUT (seconds per boot, default 240),
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

now() { cut -d' ' -f1 /proc/uptime; }
elapsed() { awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# boot NAME BANNER QEMU-ARGS...: runs QEMU until the guest powers it off (or the limit), polling
# the serial log for the boot loader's BANNER and the guest's markers, each timed from QEMU's
# start (t_banner, t_booted, t_result, t_end); the log ends in $work/NAME.txt without CRs,
# QEMU's exit status in $status. $boot_hook, when set, is called at each poll.
boot() {
    boot_name=$1
    banner=$2
    serial=$work/$1.serial
    shift 2
    : >"$serial"
    t0=$(now)
    "$qemu" -accel tcg -m "${GUEST_MEMORY:-192}" "$@" \
        -display none -monitor none -serial "file:$serial" -no-reboot \
        </dev/null >"$work/$boot_name.qemu.log" 2>&1 &
    qpid=$!
    t_banner="" t_booted="" t_result=""
    while kill -0 "$qpid" 2>/dev/null; do
        [ -z "$t_banner" ] && grep -q "^$banner " "$serial" && t_banner=$(elapsed)
        [ -z "$t_booted" ] && grep -q '^GUEST-BOOTED' "$serial" && t_booted=$(elapsed)
        [ -z "$t_result" ] && grep -q '^GUEST-RESULT' "$serial" && t_result=$(elapsed)
        [ -n "$boot_hook" ] && $boot_hook
        if [ "$(elapsed | cut -d. -f1)" -ge "$limit" ]; then
            kill "$qpid"
            echo "# $boot_name: QEMU killed after ${limit}s"
            break
        fi
        sleep 0.2
    done
    wait "$qpid"
    status=$?
    t_end=$(elapsed)
    tr -d '\r' <"$serial" >"$work/$boot_name.txt"
}

n=0
failed=0
failed_logs=""
point() { # point ok|FAIL DESCRIPTION
    n=$((n + 1))
    if [ "$1" = ok ]; then
        echo "ok $n - $2"
    else
        echo "not ok $n - $2"
        failed=$((failed + 1))
        case " $failed_logs " in *" $name "*) ;; *) failed_logs="$failed_logs $name" ;; esac
    fi
}

# guest_points NAME BANNER WHAT BOOT: the points every boot has, from $work/NAME.txt: the boot
# loader's banner, GUEST-BOOTED with boot=BOOT, the guest's own checks, its summary and the
# power-off. WHAT says what booted the loader. Sets $name, which the later points name.
guest_points() {
    name=$1
    log=$work/$1.txt
    banner=$2
    what=$3
    want_boot=$4
    if grep -q "^$banner " "$log"; then
        point ok "$name: SeaBIOS booted $banner from $what (${t_banner:-?}s)"
    else
        point FAIL "$name: no $banner banner: $what did not boot"
    fi
    booted=$(grep -m1 '^GUEST-BOOTED' "$log")
    case $booted in
    *" boot=$want_boot")
        point ok "$name: the kernel ran the initramfs's init: $booted (${t_booted:-?}s)" ;;
    "") point FAIL "$name: no GUEST-BOOTED marker" ;;
    *) point FAIL "$name: the guest booted from elsewhere: $booted" ;;
    esac
    # The guest's own checks, one point each.
    while IFS= read -r line; do
        case $line in
        GUEST-OK\ *) point ok "$name: guest: ${line#GUEST-OK }" ;;
        GUEST-FAIL\ *) point FAIL "$name: guest: ${line#GUEST-FAIL }" ;;
        esac
    done <"$log"
    summary=$(grep -m1 '^GUEST-RESULT ' "$log")
    case $summary in
    "GUEST-RESULT pass="[1-9]*" fail=0 "*)
        point ok "$name: guest summary: $summary (${t_result:-$t_end}s)" ;;
    *) point FAIL "$name: guest summary: ${summary:-no GUEST-RESULT line}" ;;
    esac
    if grep -q 'reboot: Power down' "$log" && [ "$status" -eq 0 ]; then
        point ok "$name: the guest powered QEMU off through ACPI S5 (${t_end}s in all)"
    else
        point FAIL "$name: the guest did not power off (QEMU status $status)"
    fi
}

# The disk boot. snapshot=on: the guest never writes its boot disk, and must not be able to
# change the cache.
boot disk SYSLINUX \
    -drive "file=$images/boot.img,if=ide,index=0,media=disk,format=raw,snapshot=on" \
    -drive "file=$work/data.img,if=ide,index=1,media=disk,format=raw" \
    -drive "file=$images/test.iso,if=ide,index=2,media=cdrom,format=raw"
guest_points disk SYSLINUX "the IDE disk" disk
# From the host: the pattern the guest says it wrote, recomputed here, is on the data disk.
nonce=$(sed -n 's/^GUEST-FACT pattern nonce=\([0-9a-f]*\) .*/\1/p' "$work/disk.txt")
if [ -n "$nonce" ] && datadisk_check "$work/data.img" "$nonce"; then
    point ok "disk: host: the data disk holds the guest's pattern (nonce $nonce)"
else
    point FAIL "disk: host: the data disk lacks the guest's pattern (nonce '${nonce}')"
fi
if datadisk_has_label "$work/data.img" &&
   [ "$(datadisk_region_md5 "$work/data.img" "$DATADISK_HOST_BLOCK")" = \
     "$(datadisk_pattern_md5 "$DATADISK_HOST_NONCE")" ]; then
    point ok "disk: host: the guest left the label and the host's pattern alone"
else
    point FAIL "disk: host: the label or the host's pattern changed"
fi

# The CD boot: the boot disk is there too, and bootable; -boot d puts the CD first.
boot cd ISOLINUX \
    -drive "file=$images/boot.img,if=ide,index=0,media=disk,format=raw,snapshot=on" \
    -drive "file=$images/test.iso,if=ide,index=2,media=cdrom,format=raw" -boot d
guest_points cd ISOLINUX "the CD-ROM (El Torito)" cd
# The CD carries the initramfs, so the guest cannot know the whole medium's sum: compare here.
fact=$(sed -n 's/^GUEST-FACT cdrom=.* \(medium_bytes=[0-9]* medium_md5=[0-9a-f]*\) .*/\1/p' \
    "$work/cd.txt")
iso_md5=$(md5sum <"$images/test.iso" | cut -c1-32)
want="medium_bytes=$(wc -c <"$images/test.iso") medium_md5=$iso_md5"
if [ "$fact" = "$want" ]; then
    point ok "cd: host: the guest read the whole CD as the image is ($want)"
else
    point FAIL "cd: host: the guest read '$fact' from the CD, the image is '$want'"
fi

# The CD change: an empty drive, a disc inserted and ejected through QMP as libxl does it
# (blockdev-change-medium, eject), each when the guest says it waits.
# qmp SOCKET COMMAND [ARGS-JSON]: one QMP command; prints the reply, fails on an error reply.
qmp() {
    python3 -c '
import json, socket, sys
sock = socket.socket(socket.AF_UNIX)
sock.connect(sys.argv[1])
f = sock.makefile("rw")
def call(cmd, args=None):
    f.write(json.dumps({"execute": cmd, "arguments": args or {}}) + "\n")
    f.flush()
    while True:
        reply = json.loads(f.readline())
        if "return" in reply or "error" in reply:
            return reply
json.loads(f.readline())  # the greeting
call("qmp_capabilities")
reply = call(sys.argv[2], json.loads(sys.argv[3]) if len(sys.argv) > 3 else None)
print(json.dumps(reply))
sys.exit("error" in reply)' "$@"
}
cd_inserted="" cd_ejected="" cd_insert_ok="" cd_eject_ok=""
cdchange_hook() {
    if [ -z "$cd_inserted" ] && grep -q '^GUEST-CD-WAIT-INSERT' "$serial"; then
        cd_inserted=$(elapsed)
        qmp "$work/qmp.sock" blockdev-change-medium \
            "{\"device\": \"ide1-cd0\", \"filename\": \"$images/test.iso\", \"format\": \"raw\"}" \
            >"$work/cd-insert.qmp" 2>&1 && cd_insert_ok=1
    fi
    if [ -z "$cd_ejected" ] && grep -q '^GUEST-CD-WAIT-EJECT' "$serial"; then
        cd_ejected=$(elapsed)
        qmp "$work/qmp.sock" eject '{"device": "ide1-cd0"}' >"$work/cd-eject.qmp" 2>&1 &&
            cd_eject_ok=1
    fi
}
cp "$images/boot.img" "$work/boot-cdchange.img" || { echo "Bail out! cannot copy boot.img"; exit 1; }
if ! guest_boot_image_cdchange "$work/boot-cdchange.img"; then
    echo "Bail out! no single xrig.cdchange=0 in boot.img's syslinux.cfg"
    exit 1
fi
boot_hook=cdchange_hook
boot cdchange SYSLINUX \
    -drive "file=$work/boot-cdchange.img,if=ide,index=0,media=disk,format=raw" \
    -drive "if=ide,index=2,media=cdrom" -qmp "unix:$work/qmp.sock,server=on,wait=off"
boot_hook=""
guest_points cdchange SYSLINUX "the IDE disk" cdchange
if [ -n "$cd_insert_ok" ]; then
    point ok "cdchange: host: QMP blockdev-change-medium inserted test.iso at ${cd_inserted}s"
else
    point FAIL "cdchange: host: no insert: $(cat "$work/cd-insert.qmp" 2>/dev/null)"
fi
if [ -n "$cd_eject_ok" ]; then
    point ok "cdchange: host: QMP eject took the disc at ${cd_ejected}s"
else
    point FAIL "cdchange: host: no eject: $(cat "$work/cd-eject.qmp" 2>/dev/null)"
fi

echo "1..$n"
echo "# boot.img $(wc -c <"$images/boot.img") bytes, test.iso $(wc -c <"$images/test.iso") bytes"
if [ "$failed" -ne 0 ]; then
    for name in $failed_logs; do
        echo "# --- $name: serial output ---"
        sed 's/^/# /' "$work/$name.txt"
        sed 's/^/# qemu: /' "$work/$name.qemu.log"
    done
    exit 1
fi
[ -z "$1" ] && rm -rf "$work"
exit 0
