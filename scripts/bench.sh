#!/bin/sh
# make bench: figures as ratios against qemu-xen (and the floor), measured in this run.
set -eu
builddir=${1:-build}
[ $# -gt 0 ] && shift
export XENSIM="$builddir/tools/xensim/xensim"
export XENSIM_LIBDIR="$builddir/tools/xensim/libs"
export BENCH_XENDM="$builddir/xendm"
export BENCH_QEMU_XEN=/usr/libexec/xen-qemu-system-i386
export BENCH_FLOOR="$builddir/tools/xensim/libs/dm-echo"
exec "$builddir/tests/bench/bench-ioreq" --json "$builddir/bench.json" "$@"
