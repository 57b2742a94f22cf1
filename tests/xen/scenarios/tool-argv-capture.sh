# Tool (run by name): records the exact argv libxl 4.17 builds for realistic xl configs.
# timeout: 400
DM_PATH=/rig/bin/argv-recorder
dd if=/dev/zero of=/tmp/rig/disk.img bs=1M count=1 seek=63 2>/dev/null
dd if=/dev/zero of=/tmp/rig/cd.iso bs=1M count=1 2>/dev/null
capture() { # NAME: xl config lines on stdin (the common lines come from guest_config)
    local name=$1 t
    GUEST=$name
    SERIAL=$WORK/serial-$name.log
    guest_config
    cp "$CFG" "$WORK/$name.cfg"
    xl create "$CFG" >"$WORK/xl-create.log" 2>&1 || show tail -5 "$WORK/xl-create.log"
    t=0
    while [ ! -e "/tmp/rig/argv/$name.argv" ] && [ $t -lt 50 ]; do sleep 0.2; t=$((t + 1)); done
    echo "@@XR note ===== $name"
    sed 's/^/@@XR note cfg /' "$WORK/$name.cfg"
    sed 's/^/@@XR note arg /' "/tmp/rig/argv/$name.argv"
}
finish() { xl destroy "$1" >/dev/null 2>&1; sleep 1; }

capture minimal <<EOF2
EOF2
finish minimal

capture windows <<EOF2
memory = 512
vcpus = 2
vga = "cirrus"
vnc = 1
vnclisten = "127.0.0.1"
serial = "pty"
disk = [ "format=raw,vdev=hda,access=rw,backendtype=qdisk,target=/tmp/rig/disk.img",
         "format=raw,vdev=hdc,access=ro,devtype=cdrom,backendtype=qdisk,target=/tmp/rig/cd.iso" ]
boot = "dc"
usbdevice = "tablet"
viridian = 1
EOF2
finish windows

capture linux <<EOF2
memory = 1024
maxmem = 1024
vcpus = 2
maxvcpus = 4
vga = "stdvga"
videoram = 16
vnc = 1
vncpasswd = "s3cret"
keymap = "de"
serial = [ "pty", "file:/tmp/rig/s2.log" ]
disk = [ "format=raw,vdev=hda,access=rw,backendtype=qdisk,target=/tmp/rig/disk.img" ]
device_model_args = [ "-trace", "ioreq*" ]
EOF2
finish linux

# Emulated NICs as an administrator's vif lines give them (the bridge must exist for the
# hotplug script that joins the taps to it).
brctl addbr xenbr0 2>/dev/null
ip link set xenbr0 up
capture nics <<EOF2
memory = 256
vnc = 0
vif = [ "bridge=xenbr0,mac=00:16:3e:5a:00:01,script=/rig/bin/vif-rig",
        "model=e1000,bridge=xenbr0,mac=00:16:3e:5a:00:02,script=/rig/bin/vif-rig" ]
EOF2
finish nics

capture restricted <<EOF2
memory = 256
vnc = 0
dm_restrict = 1
EOF2
finish restricted

capture saved <<EOF2
memory = 128
vnc = 0
on_reboot = "destroy"
EOF2
if xl save saved /tmp/rig/saved.chk >"$WORK/xl-save.log" 2>&1; then
    rm -f /tmp/rig/argv/saved.argv
    xl restore /tmp/rig/saved.chk >"$WORK/xl-restore.log" 2>&1 || show tail -5 "$WORK/xl-restore.log"
    sleep 1
    echo "@@XR note ===== restore"
    sed 's/^/@@XR note arg /' /tmp/rig/argv/saved.argv
else
    show tail -5 "$WORK/xl-save.log"
fi
finish saved
step_ok "captured"
