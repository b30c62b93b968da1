#!/usr/bin/env bash
# The standard DKMS path for iopfq.ko, checked for real: the tree (core/
# and kmod-adapter/, with kmod-adapter/dkms.conf at its top) goes to
# /usr/src/iopfq-<version>/, then dkms add, build and install for Debian's
# kernel, modinfo must find the installed module with the right vermagic,
# and dkms remove must take it away again. Leaves the system as it found
# it. Installs dkms and the kernel headers when missing (as root).
# Prints one line "dkms test: PASS|FAIL: ..." and exits 0 or 1.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
fail() { echo "dkms test: FAIL: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "needs root (dkms installs into /lib/modules)"
"$top/scripts/deps.sh" dkms kernel >/tmp/iopfq-dkms-apt.log 2>&1 ||
	fail "scripts/deps.sh dkms kernel (see /tmp/iopfq-dkms-apt.log)"
kver=$(ls /lib/modules | grep -E 'amd64$' | sort -V | tail -1)
[ -n "$kver" ] && [ -d "/lib/modules/$kver/build" ] || fail "no Debian kernel headers found"
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$top/kmod-adapter/dkms.conf")
src=/usr/src/iopfq-$ver
[ -e "$src" ] && fail "$src exists already; not touching it"
cleanup() { dkms remove "iopfq/$ver" --all >/dev/null 2>&1; rm -rf "$src"; }
trap cleanup EXIT

mkdir -p "$src"
(cd "$top" && tar -c core kmod-adapter) | tar -x -C "$src"
cp "$top/kmod-adapter/dkms.conf" "$src/"
make -C "$src/kmod-adapter" clean >/dev/null 2>&1 || true
dkms add "iopfq/$ver" >/tmp/iopfq-dkms.log 2>&1 || fail "dkms add (see /tmp/iopfq-dkms.log)"
dkms build "iopfq/$ver" -k "$kver" >>/tmp/iopfq-dkms.log 2>&1 || fail "dkms build (see /tmp/iopfq-dkms.log)"
dkms install "iopfq/$ver" -k "$kver" >>/tmp/iopfq-dkms.log 2>&1 || fail "dkms install (see /tmp/iopfq-dkms.log)"
vermagic=$(modinfo -k "$kver" -F vermagic iopfq 2>/dev/null)
case "$vermagic" in
"$kver "*) ;;
*) fail "modinfo after dkms install: vermagic '$vermagic', expected $kver" ;;
esac
file=$(modinfo -k "$kver" -F filename iopfq)
dkms remove "iopfq/$ver" --all >>/tmp/iopfq-dkms.log 2>&1 || fail "dkms remove"
modinfo -k "$kver" iopfq >/dev/null 2>&1 && fail "module still installed after dkms remove"
echo "dkms test: PASS: iopfq/$ver added, built, installed ($file) and removed for $kver"
