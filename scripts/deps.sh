#!/usr/bin/env bash
# Installs the Debian 12 packages a command needs, only those missing.
# Usage: scripts/deps.sh <group>...
#   groups: build test cross benchlib bench compare kernel dkms dashboard iommufd fresh
# Sourced knowledge of what each command needs lives here and nowhere else.
set -euo pipefail

# Every find_package/pkg_check_modules/find_path/find_library of the CMake build
# and every program a script calls maps to a package here, in the group of each
# command that needs it; each command calls deps.sh for all of its groups
# itself, so nothing it needs arrives only through another command:
#   tests/run-all.sh              build test cross benchlib (+ kernel, dkms for its
#                                 kernel step, iommufd for its iommufd steps; its
#                                 fresh step runs tests/fresh-machine.sh: fresh)
#   bench/run.sh                  build benchlib bench (bench/hyperfine.sh,
#                                 bench/plots.sh and bench/results.sh run from it;
#                                 git is optional: without it the results name no commit)
#   bench/compare.sh              build benchlib bench compare
#   bench/dashboard.sh            dashboard (git optional: a run's commit details)
#   tests/kernel/iommufd/run.sh   iommufd (--ab too)
#   tests/kernel/run.sh           kernel;  tests/kernel/dkms.sh: dkms kernel
#   tests/fresh-machine.sh        fresh
declare -A groups=(
	# what configuring and building the release preset or a plain build needs
	# (the tests are on by default; the sanitizer presets also link clang's
	# runtimes, in test; the cross presets need cross): compilers and CMake;
	# clang for the sanitizer presets and the freestanding check; sys/sdt.h for
	# libiopfq's USDT probes (cmake/IopfqUsdt.cmake); cmocka
	# (tests/CMakeLists.txt); liburcu-memb (user-adapter/, tests/)
	[build]="build-essential cmake pkg-config clang systemtap-sdt-dev libcmocka-dev liburcu-dev"
	# what the tests need beyond the build group: clang's sanitizer and
	# libFuzzer runtimes (linking the asan and tsan presets); python3 (JSON checks); git (repository checks);
	# linux-source-6.12 and xz-utils (the UAPI header of tests/abi);
	# chromium and libjs-chart.js: the benchmark dashboard's browser test;
	# linux-perf: tests/perf/usdt.sh records the USDT probes
	[test]="libclang-rt-14-dev file binutils spin python3 git linux-source-6.12 xz-utils chromium libjs-chart.js linux-perf"
	[cross]="gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-riscv64-linux-gnu libc6-dev-riscv64-cross qemu-user-static libcmocka-dev:arm64 liburcu-dev:arm64"
	# what configuring and building bench/ needs: liburcu-memb and -cds,
	# Concurrency Kit, Google Benchmark (C++)
	[benchlib]="liburcu-dev libck-dev g++ libbenchmark-dev"
	# what running the benchmarks needs beyond building them: hyperfine
	# (bench/hyperfine.sh), gnuplot (bench/plots.sh), perf (the counter pass),
	# python3 (bench/results.sh, bench/history.py), numpy and scipy (bench/gate.py)
	[bench]="libbenchmark-tools hyperfine gnuplot-nox linux-perf python3 python3-scipy"
	# bench/compare.sh: a git worktree of each revision compared
	[compare]="git"
	# tests/kernel/run.sh: Debian's kernel booted in QEMU with the module
	[kernel]="linux-image-amd64 linux-headers-amd64 qemu-system-x86 busybox-static cpio sparse build-essential"
	# tests/kernel/dkms.sh
	[dkms]="dkms"
	# bench/dashboard.sh: Chart.js, copied into the generated site
	[dashboard]="python3 libjs-chart.js"
	# tests/kernel/iommufd/: Linux 6.12 built from Debian's source (flex, bison,
	# bc, libelf, libssl, rsync for headers_install), booted in QEMU; python3
	# for ab.py (--ab)
	[iommufd]="linux-source-6.12 build-essential flex bison bc libelf-dev libssl-dev xz-utils rsync cpio busybox-static qemu-system-x86 python3"
	# tests/fresh-machine.sh, on the host: debootstrap builds the minimal root;
	# git clones (or archives) the tree into it
	[fresh]="debootstrap git"
)

want=()
for g in "$@"; do
	[ -n "${groups[$g]+x}" ] || { echo "deps.sh: unknown group $g" >&2; exit 2; }
	for p in ${groups[$g]}; do want+=("$p"); done
done

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing Debian packages: ${missing[*]}; run as root (or install them)" >&2
	exit 1
fi
if [[ " ${missing[*]} " == *":arm64 "* && " $(dpkg --print-foreign-architectures | tr '\n' ' ') " != *" arm64 "* ]]; then
	dpkg --add-architecture arm64
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# wait for another apt/dpkg (an unattended upgrade, a parallel job) to finish
lock=(-o DPkg::Lock::Timeout=900)
apt-get "${lock[@]}" update -qq
apt-get "${lock[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
