#!/usr/bin/env bash
# Boots Linux 6.12 built from Debian's linux-source-6.12 (kbuild.sh, cached)
# under QEMU TCG with one vCPU and a busybox initramfs, and runs in the guest:
#   - the kernel's own selftests tools/testing/selftests/iommu: iommufd and
#     iommufd_fail_nth (static, against headers_install of the same tree,
#     selftest-compat.h force-included);
#   - fault_path.c, our cases of the fault FD's rules.
# With --series both (default), the stock and the patched kernel (the series
# in kernel/series/) are booted one after the other and compared.
#
# A kernel's run passes when the guest finished, its log has no splat
# (splat.sh: BUG: and KASAN reports, WARNING:, Oops, lockdep, ...), every
# selftest failure is in selftest-known-failures and every failed fault_path
# case is in fault-path-known-failures for that series. With both series, the
# two selftest pass/fail lists must be identical. The lists are kept in
# build/iommufd-<flavor>/ (selftests-<series>.txt, fault-path-<series>.txt).
#
# Also in the guest: fault_rtt.c, the trigger -> read -> write round trip
# (RTT line: p50/p99/p99.9, throughput) and the kmem tracepoints per fault
# (ALLOC line), printed for each kernel; under TCG only ratios between the
# kernels of one run mean anything.
#
# Usage: tests/kernel/iommufd/run.sh [--flavor tiny|debug] [--series stock|patched|both]
#                                    [--rtt N]   round trips timed (default 20000)
# Prints "iommufd test: PASS|FAIL: ..." last; exit 0 pass, 1 fail.
set -uo pipefail
top=$(cd "$(dirname "$0")/../../.." && pwd)
here="$top/tests/kernel/iommufd"
flavor=tiny series=both rtt_n=20000
while [ $# -gt 0 ]; do
	case "$1" in
	--flavor) flavor=$2; shift ;;
	--series) series=$2; shift ;;
	--rtt) rtt_n=$2; shift ;;
	*) echo "usage: $0 [--flavor tiny|debug] [--series stock|patched|both] [--rtt N]" >&2; exit 2 ;;
	esac
	shift
done
case "$series" in both) kernels=(stock patched) ;; stock|patched) kernels=("$series") ;;
*) echo "run.sh: unknown series $series" >&2; exit 2 ;; esac
start=$(date +%s)
out="$top/build/iommufd-$flavor"
mkdir -p "$out"
summary=()
status=0

fail() {
	echo "iommufd test: FAIL: $* ($(($(date +%s) - start)) s)"
	exit 1
}

"$top/scripts/deps.sh" iommufd || fail "dependencies"
"$here/splat.sh" --self-test >/dev/null || fail "splat.sh --self-test"

# the guest programs for one kernel build directory
guest_programs() {
	local dir=$1 src hdr g
	src=$(cat "$dir/source")
	hdr="$dir/headers/include"
	g="$dir/guest"
	local stamp
	stamp=$(cat "$here/selftest-compat.h" | sha256sum | cut -c1-16)
	if [ "$(cat "$g/.selftests" 2>/dev/null)" != "$stamp" ]; then
		mkdir -p "$g"
		for t in iommufd iommufd_fail_nth; do
			gcc -static -O2 -Wall -Wno-unused-function -D_GNU_SOURCE \
				-isystem "$hdr" -include "$here/selftest-compat.h" \
				-o "$g/$t" "$src/tools/testing/selftests/iommu/$t.c" -lpthread \
				>"$g/$t.log" 2>&1 || { cat "$g/$t.log"; return 1; }
		done
		echo "$stamp" >"$g/.selftests"
	fi
	for t in fault_path fault_rtt; do
		gcc -static -O2 -Wall -Wextra -Werror -isystem "$hdr" \
			-I"$src/drivers/iommu/iommufd" -o "$g/$t" "$here/$t.c" || return 1
	done
}

boot() {
	local k=$1 dir=$2 w="$out/$1"
	rm -rf "$w"
	mkdir -p "$w/root/bin" "$w/root/dev" "$w/root/proc" "$w/root/sys"
	cp /bin/busybox "$w/root/bin/busybox"
	cp "$dir/guest/iommufd" "$dir/guest/iommufd_fail_nth" "$dir/guest/fault_path" \
		"$dir/guest/fault_rtt" "$w/root/bin/"
	cat >"$w/root/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing
echo "guest: kernel \$(uname -r), \$(nproc) CPU, \$(grep HugePages_Total /proc/meminfo)"
cd /tmp 2>/dev/null || cd /
for t in iommufd iommufd_fail_nth; do
	echo "guest: selftest \$t"
	/bin/\$t 2>&1 | sed "s/^/ST \$t: /"
done
echo "guest: fault_path"
/bin/fault_path
echo "guest: fault_rtt"
/bin/fault_rtt $k $rtt_n 1000
echo "guest: kernel log follows"
dmesg | sed 's/^/dmesg: /'
echo "guest: done"
poweroff -f
INIT
	chmod +x "$w/root/init"
	(cd "$w/root" && find . | cpio -o -H newc --quiet | gzip -1 >"$w/initramfs.gz") || return 1
	local mem=1024
	[ "$flavor" = debug ] && mem=2048
	echo "=== boot $k ($flavor) under QEMU TCG, 1 vCPU; console in $w/console.log"
	local t0=$(date +%s)
	timeout 1500 qemu-system-x86_64 -accel tcg -cpu max -m $mem -smp 1 -nographic -no-reboot \
		-kernel "$dir/build/arch/x86/boot/bzImage" -initrd "$w/initramfs.gz" \
		-append "console=ttyS0 panic=-1 hugepages=128" </dev/null >"$w/console.raw" 2>&1
	local qrc=$?
	tr -d '\r' <"$w/console.raw" >"$w/console.log"
	rm -rf "$w/root" "$w/console.raw"
	echo "guest $k: ran $(($(date +%s) - t0)) s, qemu exit $qrc"
	[ $qrc != 124 ] || { echo "guest $k: QEMU timed out"; return 1; }
	return 0
}

# judges one kernel's console log; fills selftests-<k>.txt and fault-path-<k>.txt
judge() {
	local k=$1 log="$out/$1/console.log" ok=0
	grep -q '^guest: done' "$log" || { echo "guest $k: did not finish"; ok=1; }
	local bad
	if ! bad=$("$here/splat.sh" "$log"); then
		echo "guest $k: kernel log reports a problem:"
		echo "$bad"
		ok=1
	fi
	# "ok N fixture.variant.test" / "not ok N ..." (a "# SKIP" suffix is a skip)
	sed -nE 's/^ST ([a-z_]+): (not ok|ok) [0-9]+ (.*)$/\1 \2 \3/p' "$log" |
		sed -E 's/^([a-z_]+) ok (.*) # SKIP.*/\1 skip \2/; s/^([a-z_]+) not ok (.*)/\1 FAIL \2/; s/^([a-z_]+) ok (.*)/\1 pass \2/' |
		sort >"$out/selftests-$k.txt"
	local pass failn skip
	pass=$(grep -c ' pass ' "$out/selftests-$k.txt")
	failn=$(grep -c ' FAIL ' "$out/selftests-$k.txt")
	skip=$(grep -c ' skip ' "$out/selftests-$k.txt")
	[ "$((pass + failn + skip))" -gt 0 ] || { echo "guest $k: no selftest results"; ok=1; }
	local unexpected
	unexpected=$(grep ' FAIL ' "$out/selftests-$k.txt" | while read -r t _ name; do
		grep -qxF "$t $name" <(grep -v '^#' "$here/selftest-known-failures") || echo "$t $name"
	done)
	if [ -n "$unexpected" ]; then
		echo "guest $k: selftest failures not in selftest-known-failures:"
		echo "$unexpected" | sed 's/^/  /'
		ok=1
	fi
	grep -E '^CASE ' "$log" >"$out/fault-path-$k.txt"
	local fp_total fp_pass fp_unexpected
	fp_total=$(grep -c . "$out/fault-path-$k.txt")
	fp_pass=$(grep -c ': PASS' "$out/fault-path-$k.txt")
	[ "$fp_total" -gt 0 ] || { echo "guest $k: no fault_path results"; ok=1; }
	fp_unexpected=$(grep ': FAIL' "$out/fault-path-$k.txt" | sed -E 's/^CASE ([a-z_]+):.*/\1/' |
		while read -r name; do
			grep -qxF "$k $name" <(grep -v '^#' "$here/fault-path-known-failures") || echo "$name"
		done)
	if [ -n "$fp_unexpected" ]; then
		echo "guest $k: fault_path cases failed unexpectedly: $(echo $fp_unexpected)"
		ok=1
	fi
	sed 's/^/  /' "$out/fault-path-$k.txt"
	if grep -q '^RTT-ERROR' "$log" || ! grep -q '^RTT ' "$log" || ! grep -q '^ALLOC ' "$log"; then
		echo "guest $k: fault_rtt failed: $(grep -E '^(RTT|ALLOC)' "$log" | tr '\n' ' ')"
		ok=1
	fi
	grep -E '^(RTT|ALLOC|ALLOC-SITE) ' "$log" | sed 's/^/  /'
	summary+=("$k: selftests $pass pass, $failn fail, $skip skip; fault_path $fp_pass of $fp_total")
	return $ok
}

for k in "${kernels[@]}"; do
	dir=$("$top/tests/kernel/iommufd/kbuild.sh" --flavor "$flavor" --series "$k") ||
		fail "kernel build ($flavor, $k)"
	guest_programs "$dir" || fail "guest programs for $k"
	boot "$k" "$dir" || { status=1; summary+=("$k: boot failed"); continue; }
	judge "$k" || status=1
done

if [ ${#kernels[@]} = 2 ] && [ -s "$out/selftests-stock.txt" ]; then
	if diff -u "$out/selftests-stock.txt" "$out/selftests-patched.txt" >"$out/selftests.diff"; then
		summary+=("selftest lists identical")
	else
		echo "selftest pass/fail lists differ between stock and patched:"
		head -20 "$out/selftests.diff"
		summary+=("selftest lists DIFFER")
		status=1
	fi
	echo "fault_path, stock vs patched, where they differ:"
	join -j1 <(sed -E 's/^CASE ([a-z_]+): (PASS|FAIL).*/\1 \2/' "$out/fault-path-stock.txt" | sort) \
		<(sed -E 's/^CASE ([a-z_]+): (PASS|FAIL).*/\1 \2/' "$out/fault-path-patched.txt" | sort) |
		awk '$2 != $3 { printf "  %-12s stock %s, patched %s\n", $1, $2, $3; d = 1 }
		     END { if (!d) print "  (none)" }'
fi

elapsed=$(($(date +%s) - start))
joined=$(printf '%s; ' "${summary[@]}")
if [ $status = 0 ]; then
	echo "iommufd test: PASS: $flavor: ${joined%; }, ${elapsed} s"
else
	echo "iommufd test: FAIL: $flavor: ${joined%; }, ${elapsed} s"
fi
exit $status
