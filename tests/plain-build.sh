#!/usr/bin/env bash
# Builds iopfq the way a packager does, with no preset: plain
# `cmake -S . -B DIR [-DCMAKE_BUILD_TYPE=T]` and `cmake --build DIR`, for each
# compiler and build type given, everything (library, simulator, tests,
# benchmarks) under the project's -Werror. Prints one PASS/FAIL line each and
# exits non-zero if any failed.
#
# Usage: tests/plain-build.sh [CC:TYPE]...
#   CC is gcc or clang; TYPE is Release, Debug or default (no build type).
#   Default: gcc:default gcc:Release gcc:Debug clang:default clang:Release clang:Debug
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
combos=("$@")
[ ${#combos[@]} -gt 0 ] ||
	combos=(gcc:default gcc:Release gcc:Debug clang:default clang:Release clang:Debug)
status=0
for combo in "${combos[@]}"; do
	cc=${combo%%:*} type=${combo#*:}
	case $cc in gcc) cxx=g++ ;; clang) cxx=clang++ ;; *) echo "bad compiler $cc" >&2; exit 2 ;; esac
	dir="$top/build/plain-$cc-$type"
	log="$dir.log"
	mkdir -p "$top/build"
	args=(-S "$top" -B "$dir" -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx"
	      -DIOPFQ_BUILD_BENCH=ON)
	[ "$type" = default ] || args+=(-DCMAKE_BUILD_TYPE="$type")
	t0=$(date +%s)
	rm -rf "$dir"
	if cmake "${args[@]}" >"$log" 2>&1 && cmake --build "$dir" -j"$(nproc)" >>"$log" 2>&1; then
		# warning-free: -Werror stops on errors; a warning from a target
		# without it would still show up here
		if grep -q 'warning:' "$log"; then
			echo "FAIL  plain build $cc $type: warnings ($log)"
			grep -m5 'warning:' "$log"
			status=1
		else
			echo "PASS  plain build $cc $type ($(($(date +%s) - t0)) s)"
		fi
	else
		echo "FAIL  plain build $cc $type ($log)"
		grep -m10 -E 'error|warning' "$log"
		status=1
	fi
done
exit $status
