#!/usr/bin/env bash
# Boots Linux 6.12 built from Debian's linux-source-6.12 (kbuild.sh, cached)
# under QEMU TCG with one vCPU and a busybox initramfs, and runs in the guest:
#   - the kernel's own selftests tools/testing/selftests/iommu: iommufd and
#     iommufd_fail_nth (static, against headers_install of the same tree,
#     selftest-compat.h force-included);
#   - fault_path.c, our cases of the fault FD's rules.
# With --series both (default), the stock and the patched kernel are booted
# one after the other and compared. Both are built by kbuild.sh from the same
# tree: "stock" is Debian's source plus the test-only mock device op of
# kernel/testop/ (IOMMU_TEST_OP_TRIGGER_IOPF_BURST, which fault_rtt drives),
# "patched" is stock plus kernel/series/.
#
# A kernel's run passes when the guest finished, its log has no splat
# (splat.sh: BUG: and KASAN reports, WARNING:, Oops, lockdep, ...), every
# selftest failure is in selftest-known-failures and every failed fault_path
# case is in fault-path-known-failures for that series. With both series, the
# two selftest pass/fail lists must be identical. The lists are kept in
# build/iommufd-<flavor>/ (selftests-<series>.txt, fault-path-<series>.txt).
#
# Also in the guest: fault_rtt.c, the checks of the burst test op (OPCHECK
# lines: a FAIL fails the run) and the fault -> read -> response round trip
# for each producer (process context, hard IRQ), group size and device count
# (RTT lines: p50/p99/p99.9, throughput) with the kmem tracepoints per fault
# (ALLOC lines), printed for each kernel; a producer a kernel cannot run
# (hard IRQ on stock: io-pgfault sleeps) prints RTT-NA, a finding, not a
# failure.
#
# --ab runs the A/B alone: no selftests, each kernel booted --rounds times
# (default 4), alternating stock and patched, fault_rtt only; then ab.py
# prints every row's patched/stock ratios and writes the result as Google
# Benchmark-format JSON (build/iommufd-<flavor>/ab.json; --history also
# stores it as a run record in bench/history/). Under QEMU TCG only ratios
# within one run of the script, and between two runs of it, mean anything.
#
# Usage: tests/kernel/iommufd/run.sh [--flavor tiny|debug] [--series stock|patched|both]
#                                    [--rtt N]   round trips timed per row (default 20000)
#                                    [--ab [--rounds R] [--history]]
# Prints "iommufd test: PASS|FAIL: ..." last; exit 0 pass, 1 fail.
set -uo pipefail
top=$(cd "$(dirname "$0")/../../.." && pwd)
here="$top/tests/kernel/iommufd"
flavor=tiny series=both rtt_n=20000 ab=0 rounds=4 hist=0
while [ $# -gt 0 ]; do
	case "$1" in
	--flavor) flavor=$2; shift ;;
	--series) series=$2; shift ;;
	--rtt) rtt_n=$2; shift ;;
	--ab) ab=1 ;;
	--rounds) rounds=$2; shift ;;
	--history) hist=1 ;;
	*) echo "usage: $0 [--flavor tiny|debug] [--series stock|patched|both] [--rtt N] [--ab [--rounds R] [--history]]" >&2
	   exit 2 ;;
	esac
	shift
done
case "$series" in both) kernels=(stock patched) ;; stock|patched) kernels=("$series") ;;
*) echo "run.sh: unknown series $series" >&2; exit 2 ;; esac
[ $ab = 0 ] || [ "$series" = both ] || { echo "run.sh: --ab needs both kernels" >&2; exit 2; }
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
	for t in fault_path fault_rtt trace_check; do
		gcc -static -O2 -Wall -Wextra -Werror -isystem "$hdr" \
			-I"$src/drivers/iommu/iommufd" -o "$g/$t" "$here/$t.c" || return 1
	done
}

# boot KERNEL DIR TAG: boots the kernel built in DIR; console in $out/TAG/console.log
boot() {
	local k=$1 dir=$2 w="$out/$3"
	rm -rf "$w"
	mkdir -p "$w/root/bin" "$w/root/dev" "$w/root/proc" "$w/root/sys"
	cp /bin/busybox "$w/root/bin/busybox"
	cp "$dir/guest/iommufd" "$dir/guest/iommufd_fail_nth" "$dir/guest/fault_path" \
		"$dir/guest/fault_rtt" "$dir/guest/trace_check" "$w/root/bin/"
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
if [ $ab = 0 ]; then
	for t in iommufd iommufd_fail_nth; do
		echo "guest: selftest \$t"
		/bin/\$t 2>&1 | sed "s/^/ST \$t: /"
	done
	echo "guest: fault_path"
	/bin/fault_path
	echo "guest: trace_check"
	/bin/trace_check $k
fi
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
	echo "=== boot $3 ($flavor) under QEMU TCG, 1 vCPU; console in $w/console.log"
	local t0=$(date +%s)
	timeout 1500 qemu-system-x86_64 -accel tcg -cpu max -m $mem -smp 1 -nographic -no-reboot \
		-kernel "$dir/build/arch/x86/boot/bzImage" -initrd "$w/initramfs.gz" \
		-append "console=ttyS0 panic=-1 hugepages=128" </dev/null >"$w/console.raw" 2>&1
	local qrc=$?
	tr -d '\r' <"$w/console.raw" >"$w/console.log"
	rm -rf "$w/root" "$w/console.raw"
	echo "guest $3: ran $(($(date +%s) - t0)) s, qemu exit $qrc"
	[ $qrc != 124 ] || { echo "guest $3: QEMU timed out"; return 1; }
	return 0
}

# judge_rtt TAG: the guest finished, no splat, fault_rtt ran every row
judge_rtt() {
	local k=$1 log="$out/$1/console.log" ok=0 bad
	grep -q '^guest: done' "$log" || { echo "guest $k: did not finish"; ok=1; }
	if ! bad=$("$here/splat.sh" "$log"); then
		echo "guest $k: kernel log reports a problem:"
		echo "$bad"
		ok=1
	fi
	grep -E '^OPCHECK ' "$log" | sed 's/^/  /'
	if grep -q '^RTT-ERROR' "$log" || grep -q '^OPCHECK .*: FAIL' "$log" ||
		! grep -q '^RTT ' "$log" || ! grep -q '^ALLOC ' "$log"; then
		echo "guest $k: fault_rtt failed: $(grep -E '^(RTT-ERROR|OPCHECK .*: FAIL)' "$log" | tr '\n' ' ')"
		ok=1
	fi
	grep -E '^(RTT|RTT-NA|ALLOC|ALLOC-SITE) ' "$log" | sed 's/^/  /'
	return $ok
}

# judges one kernel's console log; fills selftests-<k>.txt and fault-path-<k>.txt
judge() {
	local k=$1 log="$out/$1/console.log" ok=0
	judge_rtt "$k" || ok=1
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
	# the iommufd trace points exist on the patched kernel only
	local trace_want=ABSENT
	[ "$k" = patched ] && trace_want=PASS
	if ! grep -qx "TRACE $k: $trace_want" "$log"; then
		echo "guest $k: trace_check: $(grep '^TRACE ' "$log" || echo 'no result'), want $trace_want"
		ok=1
	fi
	grep '^TRACE ' "$log" | sed 's/^/  /'
	summary+=("$k: selftests $pass pass, $failn fail, $skip skip; fault_path $fp_pass of $fp_total")
	return $ok
}

declare -A kdir
for k in "${kernels[@]}"; do
	kdir[$k]=$("$top/tests/kernel/iommufd/kbuild.sh" --flavor "$flavor" --series "$k") ||
		fail "kernel build ($flavor, $k)"
	guest_programs "${kdir[$k]}" || fail "guest programs for $k"
done

if [ $ab = 1 ]; then
	load0=$(cat /proc/loadavg)
	logs=()
	for r in $(seq 1 "$rounds"); do
		for k in stock patched; do
			boot "$k" "${kdir[$k]}" "ab-$k-$r" || { status=1; summary+=("$k round $r: boot failed"); continue; }
			if judge_rtt "ab-$k-$r" >"$out/ab-$k-$r.judge"; then
				grep -E '^  OPCHECK' "$out/ab-$k-$r.judge"
			else
				cat "$out/ab-$k-$r.judge"
				status=1
				summary+=("$k round $r: FAIL")
			fi
			logs+=("$k:$r:$out/ab-$k-$r/console.log")
		done
	done
	echo "host load average before: $load0; after: $(cat /proc/loadavg)"
	histarg=()
	[ $hist = 0 ] || histarg=(--history "$top/bench/history")
	"$here/ab.py" "$out/ab.json" "$load0" "$(cat /proc/loadavg)" "${logs[@]}" "${histarg[@]}" \
		--command "tests/kernel/iommufd/run.sh --ab --flavor $flavor --rounds $rounds --rtt $rtt_n" ||
		{ status=1; summary+=("ab.py: rows missing"); }
	[ $status = 0 ] && summary+=("A/B: $rounds boots of each kernel, $out/ab.json")
	elapsed=$(($(date +%s) - start))
	joined=$(printf '%s; ' "${summary[@]}")
	echo "iommufd test: $([ $status = 0 ] && echo PASS || echo FAIL): $flavor: ${joined%; }, ${elapsed} s"
	exit $status
fi

for k in "${kernels[@]}"; do
	boot "$k" "${kdir[$k]}" "$k" || { status=1; summary+=("$k: boot failed"); continue; }
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
