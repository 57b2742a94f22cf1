#!/bin/sh
# `make run`: start xendm under xensim (a Xen host model: no Xen needed) and
# drive a short scripted session against its devices, echoing each access and
# the device model's answer. The guest's UART (COM1) prints on this terminal.
set -eu
builddir=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
xensim="$builddir/tools/xensim/xensim"
echo "== xendm under xensim: every line below is a guest access that reaches xendm as an ioreq"
exec "$xensim" --dm "$builddir/xendm" --name demo --memory 64 --serial stdio \
    --script "$here/scripts/demo.qtest"
