#!/usr/bin/env bash
# Builds iopfq.ko against Debian's kernel headers (zero warnings, sparse
# clean), builds the static in-guest test, packs an initramfs (busybox, the
# module, the test), boots Debian's kernel in QEMU (TCG, 2 vCPUs) and judges
# the serial console: exit 0 only if the guest printed "IOPFQ-KTEST: PASS"
# and no kernel line reports BUG:, WARNING:, Oops, general protection,
# KASAN, UBSAN, refcount_t, list_add corruption or a hung task. The guest
# sets hung_task_timeout_secs to 5 (Debian's kernel has
# CONFIG_DETECT_HUNG_TASK), so a task stuck in D state for 5-10 s prints
# "blocked for more than" and fails the run.
#
# Inside the guest: insmod iopfq.ko selftest=1 (the core's self-test in
# kernel space), then tests/kernel/iopfq_ktest (fault-FD semantics with
# every bad input, close/detach with groups pending and leak counters,
# hard-IRQ + kthread flood in core and baseline mode, write() racing
# IOPFQ_IOC_CONFIG), then rmmod.
#
# Usage: tests/kernel/run.sh [--bench] [--flood SECONDS] [--race SECONDS] [--keep]
#   --bench     also print the guest's BENCH lines (tests/kernel/bench.sh)
#   --flood S   seconds of flood per mode (default 3)
#   --race S    seconds of the write()/CONFIG race (default 5; 60 for the
#               full-minute run)
#   --keep      keep the work directory (build/kernel-test)
# Prints a one-line summary last; exit 0 pass, 1 fail.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bench=0 flood=3 race=5 keep=0
while [ $# -gt 0 ]; do
	case "$1" in
	--bench) bench=1 ;;
	--flood) flood=$2; shift ;;
	--race) race=$2; shift ;;
	--keep) keep=1 ;;
	*) echo "usage: $0 [--bench] [--flood SECONDS] [--race SECONDS] [--keep]"; exit 2 ;;
	esac
	shift
done
start=$(date +%s)
work="$top/build/kernel-test"
log="$work/console.log"

fail() {
	echo "kernel test: FAIL: $* ($(($(date +%s) - start)) s)"
	exit 1
}

"$top/scripts/deps.sh" kernel >/tmp/iopfq-kernel-apt.log 2>&1 ||
	fail "scripts/deps.sh kernel (see /tmp/iopfq-kernel-apt.log)"

# Debian's kernel, not the host's: the newest with both image and headers
kver=""
for d in $(ls /lib/modules 2>/dev/null | sort -rV); do
	if [ -f "/boot/vmlinuz-$d" ] && [ -d "/lib/modules/$d/build" ]; then
		kver=$d
		break
	fi
done
[ -n "$kver" ] || fail "no Debian kernel with headers in /lib/modules and /boot"

rm -rf "$work"
mkdir -p "$work/root/bin" "$work/root/dev" "$work/root/proc" "$work/root/sys"

echo "=== build iopfq.ko for $kver (sparse, C=2)"
make -C "$top/kmod-adapter" KVER="$kver" clean >/dev/null 2>&1
if ! make -C "$top/kmod-adapter" KVER="$kver" sparse >"$work/build.log" 2>&1; then
	tail -30 "$work/build.log"
	fail "module build"
fi
if grep -E 'warning|error' "$work/build.log" | grep -v 'Skipping BTF'; then
	fail "module build has warnings (sparse or gcc)"
fi

echo "=== build the static test"
gcc -static -O2 -Wall -Wextra -Werror -I"$top/core/include" -I"$top/kmod-adapter" \
	-o "$work/root/bin/iopfq_ktest" "$top/tests/kernel/iopfq_ktest.c" -pthread || fail "test build"

cp /bin/busybox "$work/root/bin/busybox"
cp "$top/kmod-adapter/iopfq.ko" "$work/root/iopfq.ko"
cat >"$work/root/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t cgroup2 none /sys/fs/cgroup || echo "guest: no cgroup2"
echo "guest: kernel \$(uname -r), \$(nproc) CPUs"
if echo 5 >/proc/sys/kernel/hung_task_timeout_secs; then
	echo "guest: hung_task_timeout_secs \$(cat /proc/sys/kernel/hung_task_timeout_secs)"
else
	echo "IOPFQ-KTEST: FAIL (no hung-task detector)"
fi
if insmod /iopfq.ko selftest=1; then
	/bin/iopfq_ktest $flood $race
	rmmod iopfq || echo "guest: rmmod failed"
else
	echo "IOPFQ-KTEST: FAIL (insmod)"
fi
echo "guest: kernel log follows"
dmesg | sed 's/^/dmesg: /'
echo "guest: done"
poweroff -f
INIT
chmod +x "$work/root/init"
(cd "$work/root" && find . | cpio -o -H newc --quiet | gzip -1 >"$work/initramfs.gz") ||
	fail "initramfs"

echo "=== boot $kver in QEMU (TCG, 2 vCPUs); console in $log"
timeout $((300 + 2 * race)) qemu-system-x86_64 -accel tcg -cpu max -m 512 -smp 2 -nographic -no-reboot \
	-kernel "/boot/vmlinuz-$kver" -initrd "$work/initramfs.gz" \
	-append "console=ttyS0 panic=-1" </dev/null >"$log" 2>&1
qrc=$?
tr -d '\r' <"$log" >"$log.txt"

grep -E '^(FAIL|flood|core|baseline|race|poll|memory|ktest:|IOPFQ-KTEST|guest:)' "$log.txt"
grep -E 'iopfq: selftest' "$log.txt" | head -1 | sed 's/^.*iopfq: /module: /'
[ $bench = 1 ] && grep -E '^BENCH' "$log.txt"

bad=$(grep -E 'BUG:|WARNING:|Oops|general protection|KASAN|UBSAN|refcount_t|list_add corruption|blocked for more than' "$log.txt" | head -5)
selftest=$(grep -oE 'selftest: [0-9]+ of [0-9]+ tests passed' "$log.txt" | head -1)
checks=$(grep -oE 'ktest: [0-9]+ of [0-9]+ checks passed' "$log.txt" | tail -1)
elapsed=$(($(date +%s) - start))
[ $keep = 1 ] || rm -rf "$work/root"
if [ $qrc = 124 ]; then
	fail "QEMU timed out after $((300 + 2 * race)) s; $checks"
fi
if [ -n "$bad" ]; then
	echo "$bad"
	fail "kernel log reports a problem; $checks"
fi
if grep -q '^IOPFQ-KTEST: FAIL' "$log.txt" || ! grep -q '^IOPFQ-KTEST: PASS' "$log.txt"; then
	fail "no PASS marker; ${selftest:-no selftest}; ${checks:-no checks}"
fi
if [ -z "$selftest" ] || ! echo "$selftest" | awk '{exit !($2 == $4)}'; then
	fail "module self-test: ${selftest:-missing}"
fi
echo "kernel test: PASS: module $selftest, $checks, Linux $kver, ${elapsed} s"
exit 0
