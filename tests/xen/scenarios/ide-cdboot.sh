# A Debian guest boots from an ISO on the IDE CD-ROM (El Torito, isolinux) through SeaBIOS with
# boot = "d" and a bootable disk present too, reads the CD through ata_piix and ISO 9660, powers
# off through ACPI S5; dom0 finds that the guest read the whole medium as the image is.
# timeout: 900
#
# The guest is tests/xen/guest/'s: test.iso carries the same kernel and initramfs as boot.img,
# booted by isolinux with "xrig.boot=cd", which the init reports in GUEST-BOOTED and which makes
# it check the CD-ROM only. boot.img is the primary master, as bootable as in ide-boot: booting
# the CD shows the boot order reached SeaBIOS (CMOS 0x3d/0x38). The disks are qdisk for the
# reasons ide-boot.sh gives.

# SeaBIOS reads isolinux, the kernel and the initramfs by ATAPI PIO: minutes on this nested rig.
# The default run (make check) boots it with xendm; qemu-xen's run, the reference, comes when
# the scenario is named: tests/xen/rig.py run ide-cdboot.
# Named runs only, with either device model: ide-boot already takes minutes of CI's 30, and
# the plain-QEMU test (guest-ide-qemu) boots this CD in every make check.
[ -n "$RIG_NAMED" ] ||
    skip "only when named (tests/xen/rig.py run ide-cdboot): minutes of PIO"

ISO=/rig/guest/test.iso
# A copy: the guest is not meant to write its disk, and ide-boot boots the original.
BOOT=$WORK/boot.img
cp /rig/guest/boot.img "$BOOT" || fail "cannot copy boot.img to $BOOT"
boot_md5=$(md5sum <"$BOOT" | cut -c1-32)

guest_config <<EOF2
memory = 192
boot = "d"
tsc_mode = "native"
on_poweroff = "destroy"
on_reboot = "destroy"
disk = [ "format=raw,vdev=hda,backendtype=qdisk,access=rw,target=$BOOT",
         "format=raw,vdev=hdc,backendtype=qdisk,access=ro,devtype=cdrom,target=$ISO" ]
EOF2
create
t_create=$(rig_uptime)
# A guest that ended (a triple fault is a reset, and on_reboot destroys it) prints no more: say
# so at once rather than at the bound.
serial_while_alive() {
    serial_matches "$1" && return 0
    domain_gone && fail "the domain ended before its serial showed /$1/ (Xen's console above)"
    return 1
}
wait_until 300 "serial shows /^ISOLINUX /" serial_while_alive '^ISOLINUX '
t_banner=$(rig_since "$t_create")
# Each minute: the guest's CPU time and how far the CD has been read (HMP "info blockstats",
# when the device model answers it: libxl names hdc's drive ide-5632, its device number 22 << 8).
cd_read() {
    xl qemu-monitor-command "$GUEST" "info blockstats" 2>/dev/null |
        sed -n 's/^\(ide-5632\): .*\(rd_bytes=[0-9]*\).*/\1 \2/p' | head -1
}
booted() {
    serial_while_alive '^GUEST-BOOTED' && return 0
    now=$(rig_uptime)
    if [ "$(awk -v a="$last_note" -v b="$now" 'BEGIN { print (b - a >= 60) }')" = 1 ]; then
        echo "@@XR note ide-cdboot ($RIG_DM): $(rig_since "$RIG_T0") s, guest CPU" \
            "$(xl list "$GUEST" 2>/dev/null | awk 'NR == 2 { print $6 }') s, CD: $(cd_read)"
        last_note=$now
    fi
    return 1
}
last_note=$(rig_uptime)
wait_until 900 "serial shows /^GUEST-BOOTED/" booted
t_booted=$(rig_since "$t_create")
expect_serial '^GUEST-RESULT ' 600
t_result=$(rig_since "$t_create")
expect_gone 60
expect_dm_exited 30
echo "@@XR note ide-cdboot ($RIG_DM): after xl create, ISOLINUX at ${t_banner} s," \
    "GUEST-BOOTED at ${t_booted} s, GUEST-RESULT at ${t_result} s"

# The serial file has the console's CR LF line ends.
guest_fact() { tr -d '\r' <"$SERIAL" | sed -n "s/^GUEST-FACT .*$1=\\([^ ]*\\).*/\\1/p" | head -1; }
show grep -E '^GUEST-(BOOTED|FACT|RESULT|FAIL)' "$SERIAL"
expect_serial '^GUEST-BOOTED .* boot=cd' 1
expect_no_serial '^GUEST-FAIL'
expect_serial '^GUEST-RESULT pass=[1-9][0-9]* fail=0 ' 1
[ "$(guest_fact driver)" = ata_piix ] && [ "$(guest_fact pci)" = 0000:00:01.1 ] ||
    fail "CD-ROM driven by '$(guest_fact driver)' at '$(guest_fact pci)'," \
        "not ata_piix at 0000:00:01.1"
step_ok "ata_piix drives the CD-ROM on the PIIX3 IDE function at 00:01.1"
# The CD-ROM is the secondary master: libata's dev2.0 (ata2.00).
mode=$(guest_fact 'xfer dev2\.0')
case $mode in
XFER_MW_DMA_* | XFER_UDMA_*) step_ok "the CD-ROM transfers in $mode" ;;
*) fail "the CD-ROM transfers in '$mode', not a DMA mode" ;;
esac

# From dom0: the whole medium as the guest read it is the image (the CD holds the initramfs,
# which cannot carry the image's own checksum), and the boot disk is untouched.
bytes=$(guest_fact medium_bytes)
md5=$(guest_fact medium_md5)
want_bytes=$(wc -c <"$ISO")
want_md5=$(md5sum <"$ISO" | cut -c1-32)
[ "$bytes" = "$want_bytes" ] && [ "$md5" = "$want_md5" ] ||
    fail "the guest read $bytes bytes, md5 $md5 from the CD; the image is $want_bytes, $want_md5"
step_ok "dom0: the guest read the whole CD as the image is ($bytes bytes, md5 $md5)"
[ "$(md5sum <"$BOOT" | cut -c1-32)" = "$boot_md5" ] || fail "the guest changed the boot disk"
step_ok "dom0: the boot disk is untouched"
rm -f "$BOOT"
