#!/bin/sh
# Installs what building and testing xendm needs on Debian 12, with apt-get.
# Idempotent. With --if-missing it does nothing when everything is present.
#   scripts/install-deps.sh [--if-missing] [--print]
set -eu

PACKAGES="
build-essential
pkg-config
meson
ninja-build
python3
libxen-dev
libglib2.0-dev
libseccomp-dev
liburing-dev
libpixman-1-dev
libsdl2-dev
libvncserver-dev
libjpeg-dev
vncsnapshot
seabios
qemu-system-xen
qemu-system-x86
gdb
gdbserver
clang-14
libclang-rt-14-dev
"

missing() {
    for p in $PACKAGES; do
        status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
        [ "$status" = "installed" ] || echo "$p"
    done
}

case "${1:-}" in
--print) echo $PACKAGES; exit 0 ;;
esac

need=$(missing)
if [ -z "$need" ]; then
    [ "${1:-}" = "--if-missing" ] || echo "install-deps: everything is installed"
    exit 0
fi

echo "install-deps: installing:" $need
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q -o Acquire::Retries=3
# shellcheck disable=SC2086
$SUDO apt-get install -y -q -o Acquire::Retries=3 --no-install-recommends $need
