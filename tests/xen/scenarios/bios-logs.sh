# hvmloader and SeaBIOS find the same PCI devices, link routes and BAR assignments with xendm as
# with qemu-xen for the same guest config: both boot with Xen's hvmloader and Debian's SeaBIOS
# (no disk, so SeaBIOS ends at "No bootable device"), and their Xen console logs are compared.
# timeout: 600
only_dm xendm

# Lines known to differ: none since PIIX3 IDE arrived (00:01.1, its BAR4 and SeaBIOS's ATA
# channels now match qemu-xen's). Blank lines are dropped from both sides.
KNOWN='^$'

# boot_bios DM LOG [XL LINES]: one guest with device model DM up to SeaBIOS's boot failure;
# its lines of the Xen console, "(dN) " stripped, with what differs from boot to boot (the
# UUID, the CPU clock as measured) left out.
boot_bios() {
    RIG_DM=$1
    case $1 in xendm) DM_PATH=$XENDM ;; *) DM_PATH=$QEMU_XEN ;; esac
    printf '%s\nboot = "c"\non_reboot = "destroy"\n' "$3" | guest_config
    xl dmesg -c >/dev/null
    create
    booted() { xl dmesg | grep -qE '\(d[0-9]+\) (No bootable device|Boot failed)'; }
    wait_until 150 "$1: SeaBIOS reached the boot attempt" booted
    xl dmesg | sed -n 's/^(d[0-9]*) //p' | grep -vE 'Machine UUID|CPU speed is|CPU Mhz=' >"$2"
    xl_ok destroy "$GUEST"
    expect_gone 20
    expect_dm_exited 15
}

# compare_logs NAME: qemu-xen's and xendm's logs of config NAME, line for line.
compare_logs() {
    grep -vE "$KNOWN" "$WORK/$1-qemu-xen.log" | sed '/No bootable device/,$d' >"$WORK/$1-qemu-xen.cmp"
    grep -vE "$KNOWN" "$WORK/$1-xendm.log" | sed '/No bootable device/,$d' >"$WORK/$1-xendm.cmp"
    if ! cmp -s "$WORK/$1-qemu-xen.cmp" "$WORK/$1-xendm.cmp"; then
        show diff "$WORK/$1-qemu-xen.cmp" "$WORK/$1-xendm.cmp"
        fail "$1: hvmloader/SeaBIOS logs differ between qemu-xen and xendm"
    fi
    step_ok "$1: hvmloader and SeaBIOS logs match line for line ($(wc -l <"$WORK/$1-xendm.cmp") lines)"
}

# Two configs: the default one, and one without ACPI (no PIIX4 PM function) and two vCPUs.
VCPUS=2
boot_bios qemu-xen "$WORK/noacpi-qemu-xen.log" 'acpi = 0'
boot_bios xendm "$WORK/noacpi-xendm.log" 'acpi = 0'
compare_logs noacpi
VCPUS=1
boot_bios qemu-xen "$WORK/default-qemu-xen.log" ""
boot_bios xendm "$WORK/default-xendm.log" ""
compare_logs default
cp "$WORK/default-qemu-xen.log" "$WORK/qemu-xen.log"
cp "$WORK/default-xendm.log" "$WORK/xendm.log"
RIG_DM=xendm

pci_lines() { grep -E 'PCI-ISA link|pci dev|Found [0-9]+ PCI|Running on' "$1"; }
show pci_lines "$WORK/xendm.log"
# The same functions, PIIX3 IDE at 00:01.1 included, and SeaBIOS sets up both ATA channels.
n_ref=$(sed -n 's/^Found \([0-9]*\) PCI devices.*/\1/p' "$WORK/qemu-xen.log")
n_ours=$(sed -n 's/^Found \([0-9]*\) PCI devices.*/\1/p' "$WORK/xendm.log")
[ -n "$n_ours" ] && [ "$n_ref" = "$n_ours" ] ||
    fail "SeaBIOS found $n_ours PCI functions with xendm, $n_ref with qemu-xen"
step_ok "SeaBIOS: $n_ours PCI functions with xendm, as with qemu-xen"
[ "$(grep -c 'ATA controller' "$WORK/xendm.log")" -ge 2 ] ||
    fail "SeaBIOS did not set up both ATA channels: $(grep 'ATA controller' "$WORK/xendm.log")"
step_ok "SeaBIOS set up both ATA channels of xendm's PIIX3 IDE"
grep -q '^pci dev 02:0 bar 14 size 001000000' "$WORK/xendm.log" ||
    fail "hvmloader did not place the platform device's 16 MiB BAR"
step_ok "hvmloader placed the platform device's BARs"
