# The standard VGA as an administrator gets it with vga="stdvga": SeaBIOS's banner, drawn in text
# mode through the VGA BIOS (Debian's vgabios-stdvga.bin), reads back from a screendump taken with
# `xl qemu-monitor-command DOMAIN "screendump FILE"`; then Linux's bochs DRM driver sets a
# graphics mode through the Bochs VBE registers and four colour bars the guest draws on /dev/fb0
# appear in the next screendump, at the size the guest's framebuffer has.
# timeout: 600
#
# The guest is mkvirtio.py's (it boots from virtio-blk); init-virtio finds the 1234:1111
# function, loads bochs and draws, then waits to be destroyed. dom0 reads screendumps with
# /rig/bin/screen-text (tests/xen/tools/screen-text.c: text against the VGA BIOS's own font,
# sizes, pixels).
[ "$RIG_DM" = xendm ] || [ -n "$RIG_NAMED" ] ||
    skip "qemu-xen's run only when named (tests/xen/rig.py run vga-console)"

BOOT=/rig/virtio/boot.img
VGABIOS=/usr/share/seabios/vgabios-stdvga.bin
SHOT=$WORK/screen.ppm
[ -f "$VGABIOS" ] || fail "dom0 has no $VGABIOS"

# xendm says where the VRAM frames go (home above the guest's RAM, then the BAR): the trace.
TRACE_ARGS=""
[ "$RIG_DM" = xendm ] && TRACE_ARGS='"-trace", "guest_ram",'
# guest_config's vga="none" comes first; the later line wins in xl's config.
guest_config <<EOF2
memory = 384
tsc_mode = "native"
vga = "stdvga"
videoram = 16
on_poweroff = "destroy"
on_reboot = "destroy"
device_model_args_hvm = [ $TRACE_ARGS
    "-drive", "if=none,id=vd0,file=$BOOT,format=raw,cache=writeback",
    "-device", "virtio-blk-pci,drive=vd0" ]
EOF2
create
T_CREATE=$(rig_uptime)

screendump() {
    rm -f "$SHOT"
    xl qemu-monitor-command "$GUEST" "screendump $SHOT" >"$WORK/hmp.out" 2>&1 && [ -s "$SHOT" ]
}
screen_text() { /rig/bin/screen-text text "$VGABIOS" "$SHOT" 2>&1; }
screen_shows() { screendump && screen_text | grep -qE "$1"; }

# SeaBIOS prints its banner as soon as the VGA BIOS has set mode 3: poll screendumps for it.
wait_until 120 "a screendump shows SeaBIOS's banner" screen_shows '^SeaBIOS \(version '
echo "@@XR note $RIG_SCENARIO ($RIG_DM): SeaBIOS's banner on screen at $(rig_since "$T_CREATE") s"
show sh -c "/rig/bin/screen-text size $SHOT; /rig/bin/screen-text text $VGABIOS $SHOT | head -8"
size=$(/rig/bin/screen-text size "$SHOT")
case "$size" in
720\ 400 | 640\ 400) step_ok "the text screen is $size (80x25 cells of 9x16 or 8x16)" ;;
*) fail "the text screen's screendump is $size, not 720x400" ;;
esac

expect_serial '^GUEST-FB-DRAWN' 300
echo "@@XR note $RIG_SCENARIO ($RIG_DM): bars drawn at $(rig_since "$T_CREATE") s"
tr -d '\r' <"$SERIAL" >"$WORK/serial.txt"
show grep -E '^GUEST-(OK|FAIL|FACT)' "$WORK/serial.txt"
fact() { sed -n "s/^GUEST-FACT $1 .*$2=\\([^ ]*\\).*/\\1/p" "$WORK/serial.txt" | head -1; }
w=$(fact fb width)
h=$(fact fb height)
[ -n "$w" ] && [ -n "$h" ] || fail "the guest reported no framebuffer"
step_ok "the guest's bochs framebuffer is ${w}x$h"

# The bars: sample each quarter's middle at three heights. Allow the screendump one refresh to
# catch up with the guest's last writes.
bars_shown() {
    screendump || return 1
    [ "$(/rig/bin/screen-text size "$SHOT")" = "$w $h" ] || return 1
    local q x y want got
    for q in 0 1 2 3; do
        x=$((w * q / 4 + w / 8))
        case $q in 0) want="255 0 0" ;; 1) want="0 255 0" ;; 2) want="0 0 255" ;; 3) want="255 255 255" ;; esac
        for y in $((h / 8)) $((h / 2)) $((h - 2)); do
            got=$(/rig/bin/screen-text pixel "$SHOT" $x $y)
            [ "$got" = "$want" ] || { echo "pixel $x,$y is $got, not $want" >"$WORK/bars.why"; return 1; }
        done
    done
}
tries=0
until bars_shown; do
    tries=$((tries + 1))
    [ $tries -lt 20 ] || fail "the screendump ($(/rig/bin/screen-text size "$SHOT" 2>&1))" \
        "lacks the bars: $(cat "$WORK/bars.why" 2>/dev/null)"
    sleep 1
done
step_ok "a ${w}x$h screendump shows the guest's red, green, blue and white bars"
# With xendm the guest drew into RAM: the VRAM frames sat at the framebuffer BAR (relocated
# there when SeaBIOS placed it), not behind ioreqs.
if [ "$RIG_DM" = xendm ]; then
    show grep guest_ram "$DMLOG"
    expect_dm_log 'guest_ram.* -> 0x[ef][0-9a-f]{7}'
fi
expect_no_serial '^GUEST-FAIL'

xl_ok destroy "$GUEST"
expect_gone 30
expect_dm_exited 30
