# make bench on real Xen: device-model round trips as a vCPU sees them (testfw-bench.elf times
# port and MMIO reads of pc-testdev with the TSC) and xl create's time, with xendm and qemu-xen
# alternately in the same boot, five rounds; tests/bench/bench-rig.py reads the BENCH lines.
# timeout: 1500
only_dm xendm
FIRMWARE=/rig/firmware/testfw-bench.elf

bench_round() {
    RIG_DM=$1
    case $1 in xendm) DM_PATH=$XENDM ;; *) DM_PATH=$QEMU_XEN ;; esac
    guest_config <<EOF2
firmware_override = "$FIRMWARE"
device_model_args = [ "-device", "pc-testdev" ]
on_reboot = "destroy"
EOF2
    rm -f "$SERIAL"
    t0=$(rig_uptime)
    create
    took=$(rig_since "$t0")
    expect_serial '^BENCH .* mmio_tsc=0x[0-9a-f]{8}:0x[0-9a-f]{8}' 300
    show echo "BENCH dm=$1 round=$2 create_s=$took $(grep '^BENCH ' "$SERIAL" | tr -d '\r' |
        sed 's/^BENCH //')"
    expect_gone 30
    expect_dm_exited 15
}

for round in 1 2 3 4 5; do
    bench_round xendm "$round"
    bench_round qemu-xen "$round"
done
RIG_DM=xendm
