# `xl cd-insert` puts a disc into an HVM guest's empty IDE CD-ROM drive: the guest (ata_piix, sr)
# finds it on a reopen and reads it as the image is; `xl cd-eject` takes it away and the guest
# finds the tray open, then no medium. The guest is tests/xen/guest/'s (its CD-change checks).
# timeout: 900
#
# The drive is written as an administrator writes an empty CD-ROM: ",raw,hdc:cdrom,r" (xl's
# positional target, format, vdev, access with no target). libxl 4.17 makes an empty CD-ROM's
# format "empty" and gives it the qdisk backend (phy takes raw media only); the boot disk names
# backendtype=qdisk for the reasons ide-boot.sh gives. libxl's cd-insert (libxl_cdrom_insert)
# keeps the drive's backend, ejects through QMP (`eject` of ide-5632), opens the image itself
# and passes it with `add-fd`, then `blockdev-change-medium` with /dev/fdset/N; cd-eject is the
# insert of an empty medium: QMP `eject` alone (reference §5.2).
#
# The guest boots a copy of boot.img whose syslinux.cfg says xrig.cdchange=1 (datadisk.sh:
# guest_boot_image_cdchange). It prints GUEST-CD-WAIT-INSERT when it waits for a disc, polling
# sr0 by reopening it; GUEST-CD-WAIT-EJECT once it has read and checked the disc, polling the
# drive's status without opening it for data (an open for data locks the door, and the device
# model would refuse the eject, as qemu-xen does).
#
# qemu-xen, the reference, fails here (2026-11-21, Debian's 7.2): its xen-bus keeps trying to
# create the empty drive's PV qdisk backend ("Could not stat file ''") and its QMP socket closes
# under `xl cd-insert` (libxl: "Connection reset by peer"); xendm passes.
. /rig/guest/datadisk.sh

# SeaBIOS loads the kernel by PIO: minutes on this nested rig (ide-boot.sh). The default run
# (make check) runs it with xendm; qemu-xen's run, the reference, when the scenario is named.
# Only when named, with either device model: the IDE guest's boot by PIO takes minutes, more
# than CI's 30-minute budget has left.
[ -n "$RIG_NAMED" ] ||
    skip "only when named (tests/xen/rig.py run cd-insert): minutes of PIO"

ISO=/rig/guest/test.iso
BOOT=$WORK/boot.img
cp /rig/guest/boot.img "$BOOT" || fail "cannot copy boot.img to $BOOT"
guest_boot_image_cdchange "$BOOT" || fail "no single xrig.cdchange=0 in $BOOT's syslinux.cfg"
step_ok "boot disk: a copy of boot.img that boots the CD-change checks (xrig.cdchange=1)"

guest_config <<EOF2
memory = 192
boot = "c"
tsc_mode = "native"
on_poweroff = "destroy"
on_reboot = "destroy"
disk = [ "format=raw,vdev=hda,backendtype=qdisk,access=rw,target=$BOOT",
         ",raw,hdc:cdrom,r" ]
EOF2

# The device model's view of the drive (HMP "info block"; libxl names hdc's drive ide-5632, its
# device number 22 << 8): the first line of its entry.
cd_block_info() {
    xl qemu-monitor-command "$GUEST" "info block" 2>/dev/null | tr -d '\r' | grep -m1 '^ide-5632'
}
expect_cd_block() {
    local info
    info=$(cd_block_info)
    echo "$info" | grep -qE "$1" || fail "the device model's info block: '$info', not /$1/"
    step_ok "the device model's info block: $info"
}

# Stop waiting (0) when the guest's marker shows or its domain is gone; the caller tells which.
# Each minute: the guest's CPU time and how far the boot disk has been read.
waiting_for() {
    serial_matches "$1" && return 0
    domain_gone && return 0
    now=$(rig_uptime)
    if [ "$(awk -v a="$last_note" -v b="$now" 'BEGIN { print (b - a >= 60) }')" = 1 ]; then
        echo "@@XR note cd-insert ($RIG_DM): $(rig_since "$RIG_T0") s, guest CPU" \
            "$(xl list "$GUEST" 2>/dev/null | awk 'NR == 2 { print $6 }') s, boot disk:" \
            "$(xl qemu-monitor-command "$GUEST" "info blockstats" 2>/dev/null |
                sed -n 's/^[^:]*: .*\(rd_bytes=[0-9]*\).*/\1/p' | head -1)"
        last_note=$now
    fi
    return 1
}

# boot_attempt: creates the guest and waits until it waits for a disc. Returns 1 when Xen
# triple-faulted the guest's vCPU in its emulator before the kernel ran (the nested emulation:
# ide-boot.sh tells the story); any other early end fails the scenario.
boot_attempt() {
    rm -f "$SERIAL"
    xl dmesg -c >/dev/null
    create
    t_create=$(rig_uptime)
    expect_serial '^SYSLINUX ' 180
    last_note=$(rig_uptime)
    wait_until 600 "the guest waits for a disc, or its domain ends" \
        waiting_for '^GUEST-CD-WAIT-INSERT'
    serial_matches '^GUEST-CD-WAIT-INSERT' && return 0
    if xl dmesg | grep -q "d${DOMID}v0 Triple fault" && ! serial_matches 'Linux version'; then
        echo "@@XR note cd-insert ($RIG_DM): Xen triple-faulted the guest in its emulator" \
            "before the kernel ran: $(xl dmesg | grep -m1 'emulation failed')"
        expect_dm_exited 30
        return 1
    fi
    show grep -E '^GUEST-' "$SERIAL"
    fail "the domain ended before the guest waited for a disc"
}
boot_attempt || boot_attempt || fail "Xen triple-faulted the guest twice before its kernel ran"
step_ok "serial shows /^GUEST-CD-WAIT-INSERT/"
t_wait=$(rig_since "$t_create")
expect_cd_block 'not inserted'

t0=$(rig_uptime)
xl_ok cd-insert "$GUEST" hdc "$ISO"
t_insert=$(rig_since "$t0")
expect_cd_block '^ide-5632[^:]*: /'
# The guest reads the whole disc and its files (about 11 MB, by DMA): seconds.
wait_until 300 "serial shows /^GUEST-CD-WAIT-EJECT/ (the guest read the disc)" \
    waiting_for '^GUEST-CD-WAIT-EJECT'
serial_matches '^GUEST-CD-WAIT-EJECT' || fail "the domain ended while the guest read the disc"

t0=$(rig_uptime)
xl_ok cd-eject "$GUEST" hdc
t_eject=$(rig_since "$t0")
expect_cd_block 'not inserted'
expect_serial '^GUEST-RESULT ' 300
expect_gone 60
expect_dm_exited 30

# The serial file has the console's CR LF line ends. cd_fact WHICH KEY: KEY's value in the
# "GUEST-FACT WHICH ..." line.
cd_fact() {
    tr -d '\r' <"$SERIAL" | sed -n "s/^GUEST-FACT $1 .*$2=\\([^ ]*\\).*/\\1/p" | head -1
}
show grep -E '^GUEST-(BOOTED|CD-|FACT|RESULT|FAIL|DMESG-CD)' "$SERIAL"
echo "@@XR note cd-insert ($RIG_DM): the guest waited for a disc ${t_wait} s after xl create;" \
    "xl cd-insert took ${t_insert} s, the guest read it $(cd_fact cd-inserted after) later;" \
    "xl cd-eject took ${t_eject} s, the guest saw it $(cd_fact cd-ejected after) later"
expect_serial '^GUEST-BOOTED .* boot=cdchange' 1
expect_no_serial '^GUEST-FAIL'
expect_serial '^GUEST-RESULT pass=[1-9][0-9]* fail=0 ' 1

# What Linux reported at each stage (CDROM_DRIVE_STATUS), as the guest printed it.
before=$(cd_fact cd-empty status)
inserted=$(cd_fact cd-inserted status)
ejected=$(cd_fact cd-ejected status)
after=$(cd_fact cd-after-read status)
[ "$before/$inserted/$ejected/$after" = no_disc/disc_ok/tray_open/no_disc ] ||
    fail "the drive's status: empty $before, inserted $inserted, ejected $ejected," \
        "after a read $after; want no_disc, disc_ok, tray_open, no_disc"
step_ok "the drive's status: empty $before, inserted $inserted, ejected $ejected, after a read" \
    "$after"
# From dom0: the whole disc as the guest read it is the image (the guest checked it against
# its command line's sum, and each file; this is the host's own word).
bytes=$(cd_fact cdrom=sr0 medium_bytes)
md5=$(cd_fact cdrom=sr0 medium_md5)
want_bytes=$(wc -c <"$ISO")
want_md5=$(md5sum <"$ISO" | cut -c1-32)
[ "$bytes" = "$want_bytes" ] && [ "$md5" = "$want_md5" ] ||
    fail "the guest read $bytes bytes, md5 $md5 from the CD; the image is $want_bytes, $want_md5"
step_ok "dom0: the guest read the inserted disc as the image is ($bytes bytes, md5 $md5)"
[ "$(cd_fact cdrom=sr0 driver)" = ata_piix ] ||
    fail "the CD-ROM is driven by '$(cd_fact cdrom=sr0 driver)', not ata_piix"
rm -f "$BOOT"
