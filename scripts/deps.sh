#!/usr/bin/env bash
# Installs the Debian 12 packages a command needs, only those missing.
# Usage: scripts/deps.sh <group>...   groups: build test cross bench
# Sourced knowledge of what each command needs lives here and nowhere else.
set -euo pipefail

declare -A groups=(
	[build]="build-essential cmake pkg-config clang"
	[test]="libcmocka-dev liburcu-dev file binutils spin"
	[cross]="gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-riscv64-linux-gnu libc6-dev-riscv64-cross qemu-user-static libcmocka-dev:arm64 liburcu-dev:arm64"
	[bench]="liburcu-dev libck-dev g++ libbenchmark-dev libbenchmark-tools hyperfine gnuplot-nox linux-perf python3-scipy"
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
if printf '%s\n' "${missing[@]}" | grep -q ':arm64$' &&
	! dpkg --print-foreign-architectures | grep -qx arm64; then
	dpkg --add-architecture arm64
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
