# A Debian guest boots through hvmloader and SeaBIOS from an IDE disk image (MBR, syslinux, the
# rig's kernel and an initramfs: tests/xen/guest/), writes and reads back a pattern on a second
# IDE disk with ata_piix in a DMA mode, reads an ISO 9660 CD-ROM, powers off through ACPI S5;
# dom0 then finds the guest's pattern on the data disk file.
# timeout: 900
#
# The disks name backendtype=qdisk. Left to itself, libxl 4.17 on Linux gives a raw file the
# "phy" backend: blkback in dom0 on a loop device that its block hotplug script sets up (udev or
# xl devd runs it); this dom0 has neither, and xl create fails ("unable to add device with path
# .../backend/vbd/..."). With qdisk the PV side of each disk (backend/qdisk/<domid>) belongs to
# the guest's own device model (qemu-xen's xen-bus serves the backends of its -xen-domid), libxl
# waits for no backend state when it adds a device-model backend, and the dom0 QEMU of Debian's
# xencommons (-xen-domid 0 -xen-attach -M xenpv) is not involved: it serves disks attached to
# dom0 itself. The guest keeps the emulated IDE disks (xen_emul_unplug=never on its kernel's
# command line), so no PV frontend connects to that backend.
#
# Only when named (tests/xen/rig.py run ide-boot, or make check-xen): the IDE guest's boot by
# PIO takes 2 to 10 minutes under TCG, the most variable part of CI's 30-minute budget. In CI
# the same guest image boots under plain QEMU (guest-ide-qemu) and xendm's IDE is covered by
# the qtests; the rig's other Linux guests boot from virtio-blk.
[ -n "$RIG_NAMED" ] || skip "only when named (tests/xen/rig.py run ide-boot): minutes of PIO"
. /rig/guest/datadisk.sh

# SeaBIOS loads the kernel by PIO, three ioreqs a sector: 3 to 9 minutes per device model on
# this nested rig. The default run (make check) boots it with xendm; qemu-xen's run, the
# reference, comes when the scenario is named: tests/xen/rig.py run ide-boot.
[ "$RIG_DM" = xendm ] || [ -n "$RIG_NAMED" ] ||
    skip "qemu-xen's run only when named (tests/xen/rig.py run ide-boot): minutes of PIO"

BOOT=/rig/guest/boot.img
ISO=/rig/guest/test.iso
DATA=$WORK/data.img
datadisk_make "$DATA" || fail "cannot make the data disk $DATA"
step_ok "data disk: ${DATADISK_MIB} MiB with its label and the host's pattern"

# memory: the kernel and its initramfs need about 100 MiB; 192 leaves room for the 4 MiB
# pattern in RAM. tsc_mode: under TCG Xen's RDTSCP interception fails (shared/reference).
guest_config <<EOF2
memory = 192
boot = "c"
tsc_mode = "native"
on_poweroff = "destroy"
on_reboot = "destroy"
disk = [ "format=raw,vdev=hda,backendtype=qdisk,access=rw,target=$BOOT",
         "format=raw,vdev=hdb,backendtype=qdisk,access=rw,target=$DATA",
         "format=raw,vdev=hdc,backendtype=qdisk,access=ro,devtype=cdrom,target=$ISO" ]
EOF2
# SeaBIOS reads the 10 MB of kernel and initramfs for syslinux by PIO, three ioreqs or so a
# sector: minutes on this nested rig. Each minute shows the guest's CPU time and how far the
# boot disk has been read (HMP "info blockstats").
boot_disk_read() {
    xl qemu-monitor-command "$GUEST" "info blockstats" 2>/dev/null |
        sed -n 's/^\([^:]*\): .*\(rd_bytes=[0-9]*\).*/\1 \2/p' | head -1
}
# Stop waiting (0) when the guest's init is up or its domain is gone; the caller tells which.
booted() {
    serial_matches '^GUEST-BOOTED' && return 0
    xl domid "$GUEST" >/dev/null 2>&1 || return 0
    now=$(rig_uptime)
    if [ "$(awk -v a="$last_note" -v b="$now" 'BEGIN { print (b - a >= 60) }')" = 1 ]; then
        echo "@@XR note ide-boot ($RIG_DM): $(rig_since "$RIG_T0") s, guest CPU" \
            "$(xl list "$GUEST" 2>/dev/null | awk 'NR == 2 { print $6 }') s," \
            "boot disk: $(boot_disk_read)"
        last_note=$now
    fi
    return 1
}

# boot_attempt: creates the guest and waits for its init. Returns 1 when Xen triple-faulted
# the guest's vCPU in its emulator before the kernel ran ("MMIO emulation failed ... Real @
# e008:ffff82d0...": Xen's own code address reported as the guest's, which points at the nested
# emulation of this rig; seen once, in a CI run with three rigs on two cores); any other early
# end fails the scenario.
boot_attempt() {
    rm -f "$SERIAL"
    xl dmesg -c >/dev/null
    create
    expect_serial '^SYSLINUX ' 180
    last_note=$(rig_uptime)
    wait_until 900 "the guest's init runs, or its domain ends" booted
    serial_matches '^GUEST-BOOTED' && return 0
    if xl dmesg | grep -q "d${DOMID}v0 Triple fault" && ! serial_matches 'Linux version'; then
        echo "@@XR note ide-boot ($RIG_DM): Xen triple-faulted the guest in its emulator" \
            "before the kernel ran: $(xl dmesg | grep -m1 'emulation failed')"
        expect_dm_exited 30
        return 1
    fi
    show xl dmesg
    fail "the domain ended before the guest's init ran"
}
boot_attempt || boot_attempt || fail "Xen triple-faulted the guest twice before its kernel ran"
step_ok "serial shows /^GUEST-BOOTED/"
expect_serial '^GUEST-RESULT ' 600
expect_gone 60
expect_dm_exited 30

# The serial file has the console's CR LF line ends.
guest_fact() { tr -d '\r' <"$SERIAL" | sed -n "s/^GUEST-FACT .*$1=\\([^ ]*\\).*/\\1/p" | head -1; }
show grep -E '^GUEST-(BOOTED|FACT|RESULT|FAIL)' "$SERIAL"
expect_no_serial '^GUEST-FAIL'
expect_serial '^GUEST-RESULT pass=[1-9][0-9]* fail=0 ' 1
driver=$(guest_fact driver)
[ "$driver" = ata_piix ] || fail "data disk driven by '$driver', not ata_piix"
[ "$(guest_fact pci)" = 0000:00:01.1 ] || fail "IDE function at '$(guest_fact pci)', not 00:01.1"
step_ok "ata_piix drives the PIIX3 IDE function at 00:01.1"
sectors=$(guest_fact sectors)
[ "$sectors" = $((DATADISK_MIB * 2048)) ] ||
    fail "the guest sees $sectors sectors on the data disk, not $((DATADISK_MIB * 2048))"
step_ok "the guest sees the data disk's $sectors sectors"
# The data disk is the primary slave: libata's dev1.1 (ata1.01).
mode=$(guest_fact 'xfer dev1\.1')
case $mode in
XFER_MW_DMA_* | XFER_UDMA_*) step_ok "the data disk transfers in $mode" ;;
*) fail "the data disk transfers in '$mode', not a DMA mode" ;;
esac

# From dom0: the guest's pattern, recomputed here, is in the file the device model wrote.
nonce=$(sed -n 's/^GUEST-FACT pattern nonce=\([0-9a-f]*\) .*/\1/p' "$SERIAL")
[ -n "$nonce" ] || fail "the guest printed no pattern nonce"
datadisk_check "$DATA" "$nonce" ||
    fail "dom0: the data disk lacks the guest's pattern (nonce $nonce)"
step_ok "dom0: the data disk holds the guest's 4 MiB pattern (nonce $nonce)"
datadisk_has_label "$DATA" &&
    [ "$(datadisk_region_md5 "$DATA" "$DATADISK_HOST_BLOCK")" = \
      "$(datadisk_pattern_md5 "$DATADISK_HOST_NONCE")" ] ||
    fail "dom0: the guest changed the label or the host's pattern"
step_ok "dom0: the label and the host's pattern are untouched"
rm -f "$DATA"
