#!/usr/bin/env bash
# Runs every test of iopfq: the README's test command, and what CI runs.
#
#   release   ctest on an -O2 build (unit, stress, model, freestanding core
#             for x86_64/aarch64/riscv64)
#   asan      the same tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   tsan      the same tests under ThreadSanitizer
#   aarch64   the unit, stress and model tests cross-built for aarch64, run
#             under qemu-aarch64-static
#   riscv64   the same for riscv64 under qemu-riscv64-static (cmocka built
#             from Debian's source package: scripts/riscv64-cmocka.sh)
#   plain     the build a packager does, no preset: plain cmake, Release
#             (-O3), with GCC and with Clang, warning-free under -Werror
#             (tests/plain-build.sh; it also takes Debug and default types)
#   fresh     tests/fresh-machine.sh: the README's two commands (release
#             preset, bench/run.sh --quick), each in its own minimal Debian 12
#             root made by debootstrap, where no package is installed
#             beforehand; bench/run.sh in a copy without .git and without git.
#             SKIP outside a git checkout (a tarball)
#   kernel    iopfq.ko built against Debian's kernel and tested inside it,
#             booted in qemu-system-x86_64 (tests/kernel/run.sh); and the
#             DKMS add/build/install/remove path (tests/kernel/dkms.sh)
#   iommufd   Linux 6.12 built from Debian's linux-source-6.12 (cached in
#             /var/cache/iopfq-kernel, keyed by source version, config and
#             series), stock (plus the test op of kernel/testop/) and with
#             kernel/series/ (built incrementally from stock), booted in QEMU:
#             the kernel's iommufd selftests, our fault-path cases and the
#             round trips on both (tests/kernel/iommufd/run.sh); checkpatch
#             on the series
#   iommufd-debug  the same tests on the stock kernel built with lockdep,
#             KASAN, DEBUG_LIST, DEBUG_ATOMIC_SLEEP, DEBUG_OBJECTS and
#             hung-task detection; any splat fails it. Stock, because that
#             build is the one the module's lockdep run uses too (one debug
#             kernel build per cold run); --series patched runs the series
#   kernel-debug  the kernel step's module suite inside the same debug
#             Linux 6.12 (tests/kernel/run.sh --debug-kernel): any lockdep,
#             KASAN or hung-task report fails it
#   The iommufd-debug and kernel-debug steps are not in the default list:
#   cold, the debug kernel build alone takes much of CI's budget on 2 cores
#   (see docs/testing.md); cached, they take a few minutes. Name them to run
#   them. The iommufd step is in it: cold, its two tiny kernels cost 11
#   CPU-minutes, about 6 minutes on 2 idle cores (stock cold, patched
#   incrementally from stock).
#
# Installs the Debian packages it needs when missing (as root). Prints each
# ctest summary, then one line per step: PASS, FAIL or SKIP (never counted
# as a pass); exits non-zero if anything failed. Usage:
#   tests/run-all.sh [release|asan|tsan|aarch64|riscv64|plain|fresh|kernel|kernel-debug|iommufd|iommufd-debug]...
#   (default: all but iommufd-debug and kernel-debug)
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

# benchlib: the release build includes the benchmarks (required,
# -DIOPFQ_BUILD_BENCH=ON) for their self-test; the sanitizer builds leave them
# out (bench/CMakeLists.txt says why)
"$top/scripts/deps.sh" build test cross benchlib || exit 1

presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(release asan tsan aarch64 riscv64 plain fresh kernel iommufd)
jobs=$(nproc)
mkdir -p "$top/build"
# result[STEP]: what it reported; state[STEP]: PASS, FAIL or SKIP (a step that
# could not run here, e.g. the fresh step outside a git checkout: not a pass)
declare -A result state
status=0
start=$(date +%s)

# pass_fail_step NAME COMMAND...: a step whose script prints one PASS or FAIL
# line per check (tests/fresh-machine.sh, tests/plain-build.sh) and exits
# non-zero if any failed, or prints a SKIP line and exits 77 where it cannot
# run; its output goes to build/NAME.log too
pass_fail_step() {
	local name=$1 log="$top/build/$1.log" rc
	shift
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	if [ "$rc" = 77 ]; then
		state[$name]=SKIP
		result[$name]="$(grep -m1 '^SKIP' "$log" | sed 's/^SKIP *//')"
	elif [ "$rc" = 0 ] && grep -q '^PASS' "$log"; then
		state[$name]=PASS
		result[$name]="$(grep -c '^PASS' "$log") of $(grep -cE '^(PASS|FAIL)' "$log") passed"
	else
		state[$name]=FAIL
		result[$name]="exit $rc: $(grep '^FAIL' "$log" | tr '\n' ' ')$(grep -q '^FAIL' "$log" || tail -n 1 "$log")"
		status=1
	fi
}

for p in "${presets[@]}"; do
	if [ "$p" = kernel ]; then
		echo "=== kernel: module in a real kernel under QEMU"
		if "$top/tests/kernel/run.sh" 2>&1 | tee "$top/build/kernel-test.log" &&
			"$top/tests/kernel/dkms.sh" 2>&1 | tee -a "$top/build/kernel-test.log"; then
			state[$p]=PASS
			result[$p]="$(grep -E '^kernel test:' "$top/build/kernel-test.log" | tail -1); $(grep -E '^dkms test:' "$top/build/kernel-test.log" | tail -1)"
		else
			state[$p]=FAIL
			result[$p]="$(grep -E '^(kernel|dkms) test:' "$top/build/kernel-test.log" | tr '\n' ' ')"
			status=1
		fi
		continue
	fi
	if [ "$p" = kernel-debug ]; then
		echo "=== kernel-debug: the module suite in a lockdep + KASAN Linux 6.12 under QEMU"
		if "$top/tests/kernel/run.sh" --debug-kernel 2>&1 | tee "$top/build/kernel-debug.log"; then
			state[$p]=PASS
			result[$p]="$(grep -E '^kernel test:' "$top/build/kernel-debug.log" | tail -1)"
		else
			state[$p]=FAIL
			result[$p]="$(grep -E '^kernel test:' "$top/build/kernel-debug.log" | tail -1)"
			status=1
		fi
		continue
	fi
	if [ "$p" = iommufd ] || [ "$p" = iommufd-debug ]; then
		echo "=== $p: Linux 6.12 from Debian's source under QEMU, stock and patched"
		if [ "$p" = iommufd ]; then
			args=(--flavor tiny --series both)
		else
			args=(--flavor debug --series stock)
		fi
		if "$top/tests/kernel/iommufd/run.sh" "${args[@]}" 2>&1 | tee "$top/build/$p.log" &&
			{ [ "$p" != iommufd ] || "$top/kernel/series/checkpatch.sh" 2>&1 | tee -a "$top/build/$p.log"; }; then
			state[$p]=PASS
			result[$p]="$(grep -E '^iommufd test:' "$top/build/$p.log" | tail -1)"
			[ "$p" = iommufd ] && result[$p]+="; checkpatch: $(grep -c '^checkpatch: clean' "$top/build/$p.log") patches clean"
		else
			state[$p]=FAIL
			result[$p]="$(grep -E '^(iommufd test:|checkpatch: NOT)' "$top/build/$p.log" | tr '\n' ' ')"
			status=1
		fi
		continue
	fi
	if [ "$p" = fresh ]; then
		echo "=== fresh: the README commands on a minimal Debian 12 root (debootstrap)"
		pass_fail_step fresh "$top/tests/fresh-machine.sh"
		continue
	fi
	if [ "$p" = plain ]; then
		echo "=== plain: cmake with no preset, Release, gcc and clang"
		pass_fail_step plain "$top/tests/plain-build.sh" gcc:Release clang:Release
		continue
	fi
	bench=()
	[ "$p" = release ] && bench=(-DIOPFQ_BUILD_BENCH=ON)
	: >"build-$p.log"
	echo "=== $p: configure and build"
	if [ "$p" = riscv64 ] && ! "$top/scripts/riscv64-cmocka.sh" >"build-$p.log" 2>&1; then
		tail -20 "build-$p.log"
		state[$p]=FAIL
		result[$p]="dependency build failed (build-$p.log)"
		status=1
		continue
	fi
	if ! cmake --preset "$p" ${bench[@]+"${bench[@]}"} >>"build-$p.log" 2>&1 ||
		! cmake --build --preset "$p" -j"$jobs" >>"build-$p.log" 2>&1; then
		tail -40 "build-$p.log"
		state[$p]=FAIL
		result[$p]="build failed (build-$p.log)"
		status=1
		continue
	fi
	rm -f "build-$p.log"
	echo "=== $p: ctest"
	if ctest --preset "$p" -j"$jobs" 2>&1 | tee "build/$p/ctest.log"; then
		state[$p]=PASS
	else
		state[$p]=FAIL
		status=1
	fi
	result[$p]=$(grep -E 'tests passed' "build/$p/ctest.log" | tail -1)
	# ctest counts a skipped test (exit 77) as passed: name them
	skipped=$(sed -nE 's/^[[:space:]]*[0-9]+ - ([^ ]+) \(Skipped\)$/\1/p' "build/$p/ctest.log" | tr '\n' ' ')
	[ -z "$skipped" ] || result[$p]+="; skipped: ${skipped% }"
done

echo
echo "=== summary ($(( $(date +%s) - start )) s)"
for p in "${presets[@]}"; do
	printf '%-8s %-4s %s\n' "$p" "${state[$p]-?}" "${result[$p]-}"
done
exit $status
