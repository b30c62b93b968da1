#!/usr/bin/env bash
# Proves the core's platform contract: core/ includes no system header and
# builds with -ffreestanding -nostdinc -nostdlib and no include path at all,
# for every compiler given (default: gcc and clang for x86_64, and Debian's
# aarch64 and riscv64 cross compilers). The linked result may need only
# iopfq_platform_warn (the platform's warn hook) and the four functions GCC
# requires of any freestanding environment (memcpy, memmove, memset, memcmp).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
compilers=("$@")
[ ${#compilers[@]} -gt 0 ] || compilers=(gcc clang aarch64-linux-gnu-gcc riscv64-linux-gnu-gcc)
allowed='^(iopfq_platform_warn|memcpy|memmove|memset|memcmp)$'
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail=0

# the kernel mapping includes the kernel's headers; the userspace mapping
# <sys/sdt.h> only when the build asks for USDT probes (IOPFQ_USDT), never here
if grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<' "$top/core" --include='*.[ch]' |
	grep -v 'core/platform/iopfq_platform_kernel.h' |
	grep -vE 'core/platform/iopfq_platform_user.h:[0-9]+:#include <sys/sdt.h>$'; then
	echo "FAIL: core/ includes a system header (only the kernel mapping may, and the user mapping sys/sdt.h)"
	fail=1
fi

# the public headers are usable from C++ (the ABI asserts included)
for cxx in g++ clang++; do
	command -v "$cxx" >/dev/null || continue
	for std in c++11 c++17; do
		if ! printf '#include <iopfq/abi.h>\n#include <iopfq/iopfq.h>\nint main() { return sizeof(iopfq_hwpt_pgfault) == 40 ? 0 : 1; }\n' |
			"$cxx" -std=$std -Wall -Wextra -Werror -I"$top/core/include" -x c++ -fsyntax-only -; then
			echo "FAIL: the public headers do not compile as $std with $cxx"
			fail=1
		fi
	done
	echo "ok: $cxx: public headers compile as C++11 and C++17"
done

for cc in "${compilers[@]}"; do
	if ! command -v "$cc" >/dev/null; then
		echo "FAIL: $cc not installed"
		fail=1
		continue
	fi
	extra=()
	# aarch64 GCC calls libgcc's outline atomics (__aarch64_cas4_acq_rel...) by
	# default; freestanding code inlines them, as the kernel does.
	case "$cc" in aarch64*) extra=(-mno-outline-atomics) ;; esac
	objs=()
	for src in "$top"/core/src/*.c; do
		obj="$out/$cc-$(basename "$src" .c).o"
		"$cc" -std=gnu11 -O2 -Wall -Wextra -Werror -ffreestanding -nostdinc -nostdlib \
			"${extra[@]}" -c "$src" -o "$obj"
		objs+=("$obj")
	done
	"$cc" -nostdlib -r "${objs[@]}" -o "$out/$cc-core.o"
	undefined=$(nm -u "$out/$cc-core.o" | awk '{print $2}' | grep -vE "$allowed" || true)
	arch=$(file -b "$out/$cc-core.o" | cut -d, -f2 | sed 's/^ //')
	if [ -n "$undefined" ]; then
		echo "FAIL: $cc ($arch): core needs $(echo $undefined)"
		fail=1
	else
		echo "ok: $cc ($arch): freestanding core, $(size -A "$out/$cc-core.o" | awk '$1==".text"{print $2}') bytes of text, needs only: $(nm -u "$out/$cc-core.o" | awk '{print $2}' | tr '\n' ' ')"
	fi
done
exit $fail
