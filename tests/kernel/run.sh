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
# every bad input, close/detach with groups pending and leak counters, the
# contracts of INJECT and the simulated devices' credits, out of memory in
# baseline mode through the module's test-only test_fail_allocs parameter,
# a callback calling back into its fault object, hard-IRQ + kthread flood
# in core and baseline mode, write() racing IOPFQ_IOC_CONFIG, memory per
# open file), then rmmod.
#
# With --debug-kernel the same suite runs in a debug Linux 6.12 instead
# (lockdep with PROVE_LOCKING, DEBUG_ATOMIC_SLEEP, generic KASAN,
# DEBUG_LIST, DEBUG_OBJECTS), built from Debian's linux-source-6.12 by
# tests/kernel/iommufd/kbuild.sh --flavor debug (cached; the first build
# takes a while): the module is built against that tree, the run fails on
# any lockdep report as well, and on lockdep having turned itself off
# (debug_locks 0). That kernel has no memory cgroup, so the cgroup-charge
# check is left out there (printed as not run, not counted).
#
# Usage: tests/kernel/run.sh [--bench] [--flood SECONDS] [--race SECONDS] [--keep]
#                            [--debug-kernel [--kbuild SCRIPT]]
#   --bench     also print the guest's BENCH lines (tests/kernel/bench.sh)
#   --flood S   seconds of flood per mode (default 3)
#   --race S    seconds of the write()/CONFIG race (default 5; 60 for the
#               full-minute run)
#   --keep      keep the work directory (build/kernel-test)
#   --debug-kernel  the debug 6.12 kernel instead of Debian's
#   --kbuild S  the script that builds it (default tests/kernel/iommufd/kbuild.sh)
# Prints a one-line summary last; exit 0 pass, 1 fail.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bench=0 flood=3 race=5 keep=0 debug=0 kbuild="$top/tests/kernel/iommufd/kbuild.sh"
while [ $# -gt 0 ]; do
	case "$1" in
	--bench) bench=1 ;;
	--flood) flood=$2; shift ;;
	--race) race=$2; shift ;;
	--keep) keep=1 ;;
	--debug-kernel) debug=1 ;;
	--kbuild) kbuild=$2; shift ;;
	*) echo "usage: $0 [--bench] [--flood SECONDS] [--race SECONDS] [--keep] [--debug-kernel [--kbuild SCRIPT]]"
	   exit 2 ;;
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

if [ $debug = 1 ]; then
	[ -x "$kbuild" ] || fail "--debug-kernel needs $kbuild (the iommufd tests' kernel build)"
	echo "=== the debug 6.12 kernel ($kbuild --flavor debug; cached after the first build)"
	kdir=$("$kbuild" --flavor debug --print tree) || fail "debug kernel build"
	image=$("$kbuild" --flavor debug --print bzimage) || fail "debug kernel build"
	kver=$(cat "$kdir/include/config/kernel.release") || fail "no kernel.release in $kdir"
	# KASAN and lockdep under TCG: slower, more memory; hung tasks judged at 20 s
	mem=1024 qtimeout=$((1500 + 2 * race)) hung=20 memcg=0
	build=(make -C "$top/kmod-adapter" KDIR="$kdir")
	buildwhat="against the debug tree $kdir (gcc warnings fail)"
else
	# Debian's kernel, not the host's: the newest with both image and headers
	kver=""
	for d in $(ls /lib/modules 2>/dev/null | sort -rV); do
		if [ -f "/boot/vmlinuz-$d" ] && [ -d "/lib/modules/$d/build" ]; then
			kver=$d
			break
		fi
	done
	[ -n "$kver" ] || fail "no Debian kernel with headers in /lib/modules and /boot"
	image=/boot/vmlinuz-$kver
	mem=512 qtimeout=$((300 + 2 * race)) hung=5 memcg=1
	build=(make -C "$top/kmod-adapter" KVER="$kver")
	buildwhat="for $kver (sparse, C=2)"
fi

rm -rf "$work"
mkdir -p "$work/root/bin" "$work/root/dev" "$work/root/proc" "$work/root/sys"

echo "=== build iopfq.ko $buildwhat"
"${build[@]}" clean >/dev/null 2>&1
if [ $debug = 1 ]; then "${build[@]}"; else "${build[@]}" sparse; fi >"$work/build.log" 2>&1
if [ $? != 0 ]; then
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
if echo $hung >/proc/sys/kernel/hung_task_timeout_secs; then
	echo "guest: hung_task_timeout_secs \$(cat /proc/sys/kernel/hung_task_timeout_secs)"
else
	echo "IOPFQ-KTEST: FAIL (no hung-task detector)"
fi
[ -r /proc/lockdep_stats ] && echo "guest: lockdep on, \$(grep -o 'debug_locks:.*' /proc/lockdep_stats)"
if insmod /iopfq.ko selftest=1; then
	/bin/iopfq_ktest $flood $race $memcg
	rmmod iopfq || echo "guest: rmmod failed"
	[ -r /proc/lockdep_stats ] && echo "guest: lockdep after, \$(grep -o 'debug_locks:.*' /proc/lockdep_stats)"
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
timeout $qtimeout qemu-system-x86_64 -accel tcg -cpu max -m $mem -smp 2 -nographic -no-reboot \
	-kernel "$image" -initrd "$work/initramfs.gz" \
	-append "console=ttyS0 panic=-1" </dev/null >"$log" 2>&1
qrc=$?
tr -d '\r' <"$log" >"$log.txt"

grep -E '^(FAIL|flood|core|baseline|race|poll|memory|ktest:|IOPFQ-KTEST|guest:)' "$log.txt"
grep -m1 -E 'iopfq: selftest' "$log.txt" | sed 's/^.*iopfq: /module: /'
[ $bench = 1 ] && grep -E '^BENCH' "$log.txt"

bad=$(grep -m5 -E 'BUG:|WARNING:|Oops|general protection|KASAN|UBSAN|refcount_t|list_add corruption|list_del corruption|blocked for more than|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|DEBUG_LOCKS_WARN_ON|bad unlock balance|lock held when returning|ODEBUG' "$log.txt")
selftest=$(grep -m1 -oE 'selftest: [0-9]+ of [0-9]+ tests passed' "$log.txt")
checks=$(grep -oE 'ktest: [0-9]+ of [0-9]+ checks passed' "$log.txt" | tail -1)
elapsed=$(($(date +%s) - start))
[ $keep = 1 ] || rm -rf "$work/root"
if [ $qrc = 124 ]; then
	fail "QEMU timed out after $qtimeout s; $checks"
fi
if [ -n "$bad" ]; then
	echo "$bad"
	fail "kernel log reports a problem; $checks"
fi
if [ $debug = 1 ] && ! grep -q '^guest: lockdep after, debug_locks: *1' "$log.txt"; then
	fail "lockdep was not on, or turned itself off, in the debug kernel; $checks"
fi
if grep -q '^IOPFQ-KTEST: FAIL' "$log.txt" || ! grep -q '^IOPFQ-KTEST: PASS' "$log.txt"; then
	fail "no PASS marker; ${selftest:-no selftest}; ${checks:-no checks}"
fi
if [ -z "$selftest" ] || ! echo "$selftest" | awk '{exit !($2 == $4)}'; then
	fail "module self-test: ${selftest:-missing}"
fi
echo "kernel test: PASS: module $selftest, $checks, Linux $kver, ${elapsed} s"
exit 0
