#!/bin/sh
# make bench: figures as ratios against qemu-xen (and the floor), measured in this run.
#
#   scripts/bench.sh [BUILDDIR] [bench-ioreq options...]
# Environment: ROUNDS (default 5; `make bench ROUNDS=N` exports it), COUNT (ioreqs per
# round-trip sample, default 20000), BENCH_STATIC=0 to skip the static build of figure 6,
# BENCH_STATIC_DIR (default BUILDDIR-static), BENCH_XENDM_BEFORE (an earlier xendm binary,
# measured as a fourth subject: an improvement's before/after in the same run),
# BENCH_DEVICES=0 to skip figures 2 (virtio-blk) and 4 (VGA), BENCH_VBLK_MS (one virtio-blk
# run, default 250; two a round per case and subject), BENCH_VGA_FRAMES (per round and path,
# default 20), BENCH_SCRATCH (their images and sockets; default /dev/shm).
#
# Runs under nice: the machine is shared, and every subject sees the same priority.
# Output of xensim and the device models goes to BUILDDIR/bench.log, the raw samples to
# BUILDDIR/bench.json. See docs/performance.md.
set -eu
srcdir=$(cd "$(dirname "$0")/.." && pwd)
builddir=${1:-build}
[ $# -gt 0 ] && shift
rounds=${ROUNDS:-5}
count=${COUNT:-20000}
static_dir=${BENCH_STATIC_DIR:-$builddir-static}
bindir="$builddir/bench-bin"

export XENSIM="$builddir/tools/xensim/xensim"
export XENSIM_LIBDIR="$builddir/tools/xensim/libs"
export BENCH_XENDM="$builddir/xendm"
export BENCH_QEMU_XEN=/usr/libexec/xen-qemu-system-i386
export BENCH_FLOOR="$builddir/tools/xensim/libs/dm-echo"
export BENCH_MAPCACHE="$builddir/tests/bench/bench-mapcache"
if [ "${BENCH_DEVICES:-1}" != 0 ]; then
    export BENCH_VBLK="$builddir/tests/bench/bench-vblk"
    export BENCH_VGA="$builddir/tests/bench/bench-vga"
else
    unset BENCH_VBLK BENCH_VGA
fi

if ! ninja -C "$builddir" xendm tools/xensim/xensim tools/xensim/libs/dm-echo \
        tests/bench/bench-ioreq tests/bench/bench-mapcache tests/bench/bench-vblk \
        tests/bench/bench-vga >"$builddir/bench-build.log" 2>&1; then
    cat "$builddir/bench-build.log" >&2
    exit 1
fi

# Figure 6: sizes of stripped binaries (debug info says nothing about what is loaded).
mkdir -p "$bindir"
strip_copy() { # LABEL FILE [static]
    out="$bindir/$1${3:+-static}"
    if [ -f "$2" ] && strip -o "$out" "$2" 2>/dev/null; then
        echo "$out"
    fi
}
sizes=""
for pair in "xendm=$BENCH_XENDM" "xendm-before=${BENCH_XENDM_BEFORE:-}" \
        "qemu-xen=$BENCH_QEMU_XEN" "floor=$BENCH_FLOOR"; do
    f=$(strip_copy "${pair%%=*}" "${pair#*=}")
    [ -n "$f" ] && sizes="$sizes --size ${pair%%=*}=$f"
done
if [ "${BENCH_STATIC:-1}" != 0 ]; then
    # A release build of xendm alone, as docs/static-build.md describes; a few seconds.
    if { [ -f "$static_dir/build.ninja" ] ||
         meson setup "$static_dir" "$srcdir" -Dstatic=true -Dbuildtype=release \
             >"$builddir/bench-static.log" 2>&1; } &&
       ninja -C "$static_dir" xendm >>"$builddir/bench-static.log" 2>&1; then
        f=$(strip_copy xendm "$static_dir/xendm" static)
        [ -n "$f" ] && sizes="$sizes --static-size xendm=$f"
    else
        echo "bench: static build failed (see $builddir/bench-static.log): not measured" >&2
    fi
fi

# shellcheck disable=SC2086 # $sizes is a list of words
nice -n "${BENCH_NICE:-15}" "$builddir/tests/bench/bench-ioreq" --rounds "$rounds" \
    --count "$count" --json "$builddir/bench.json" --log "$builddir/bench.log" $sizes "$@"

# Real Xen on the rig (tests/xen/scenarios/bench-roundtrips.sh): about 3 minutes; BENCH_RIG=0
# leaves it out.
if [ "${BENCH_RIG:-1}" != 0 ]; then
    "$srcdir/tests/bench/bench-rig.py" "$builddir" "$builddir/bench-rig.json"
fi
