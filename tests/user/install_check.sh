#!/usr/bin/env bash
# install_check.sh <build dir> <consumer source dir> <C compiler> [sanitizer flags]
#
# `cmake --install` the build into a temporary prefix, check what was
# installed (headers, libraries, symbol versions, pkg-config, CMake package),
# then build and run a small consumer against it twice: with pkg-config and
# with find_package(iopfq). Sanitizer builds pass their flags on, because the
# installed library then needs the sanitizer runtime in the executable.
set -euo pipefail
build=$1 src=$2 cc=$3 san=${4:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fail() { echo "install_check: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; fail "cmake --install failed"; }

for h in abi.h iopfq.h errno.h types.h user.h; do
	[ -f "$prefix/include/iopfq/$h" ] || fail "missing include/iopfq/$h"
done
pc=$(find "$prefix" -name iopfq.pc)
[ -n "$pc" ] || fail "no iopfq.pc"
cfg=$(find "$prefix" -name iopfqConfig.cmake)
[ -n "$cfg" ] || fail "no iopfqConfig.cmake"
so=$(find "$prefix" -name 'libiopfq.so.1*' -type f)
[ -n "$so" ] || fail "no libiopfq.so.1"
[ -n "$(find "$prefix" -name libiopfq.a)" ] || fail "no libiopfq.a"

# Only the public API is exported, each function at the version node that
# added it (user-adapter/libiopfq.map): IOPFQ_1.0, and iopfq_set_delivery at
# IOPFQ_1.1.
# Here-strings, not `echo | grep -q`: bash writes echo's output a line at a
# time, grep -q exits at its first match, and under pipefail the SIGPIPE that
# the echo then takes fails the check (it did, once, in CI under load).
exported=$(nm -D --defined-only "$so" | awk '$2 == "T" { print $3 }')
grep -q '^iopfq_fault_read@@IOPFQ_1.0$' <<<"$exported" || fail "iopfq_fault_read not exported at IOPFQ_1.0"
grep -q '^iopfq_read_restore@@IOPFQ_1.0$' <<<"$exported" || fail "iopfq_read_restore not exported at IOPFQ_1.0"
grep -q '^iopfq_set_delivery@@IOPFQ_1.1$' <<<"$exported" || fail "iopfq_set_delivery not exported at IOPFQ_1.1"
bad=$(grep -Ev '@@IOPFQ_1\.0$' <<<"$exported" | grep -v '^iopfq_set_delivery@@IOPFQ_1\.1$' || true)
[ -z "$bad" ] || fail "unversioned exports: $bad"
grep -Eq '^(iopfq_ring_|iopfq_platform_warn)' <<<"$exported" && fail "internal symbols exported"
echo "exports: $(echo "$exported" | wc -l) functions at IOPFQ_1.0 and IOPFQ_1.1"

# pkg-config
export PKG_CONFIG_PATH=$(dirname "$pc")
flags=$(pkg-config --cflags --libs iopfq)
# shellcheck disable=SC2086
"$cc" $san -Wall -Werror -o "$tmp/consumer_pc" "$src/consumer.c" $flags
LD_LIBRARY_PATH=$(dirname "$so") "$tmp/consumer_pc" || fail "pkg-config consumer failed"
# shellcheck disable=SC2086
"$cc" $san -Wall -Werror -o "$tmp/consumer_pc_static" "$src/consumer.c" \
	$(pkg-config --cflags iopfq) $(pkg-config --static --libs iopfq | sed "s|-liopfq|$(dirname "$so")/libiopfq.a|")
"$tmp/consumer_pc_static" || fail "static pkg-config consumer failed"

# find_package
cmake -S "$src" -B "$tmp/cm" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
	-DCMAKE_C_FLAGS="$san" -DCMAKE_EXE_LINKER_FLAGS="$san" >"$tmp/cm.log" 2>&1 ||
	{ cat "$tmp/cm.log"; fail "find_package configure failed"; }
cmake --build "$tmp/cm" >>"$tmp/cm.log" 2>&1 || { cat "$tmp/cm.log"; fail "find_package build failed"; }
"$tmp/cm/consumer" || fail "find_package consumer failed"
"$tmp/cm/consumer_static" || fail "find_package static consumer failed"
echo "install_check: ok"
