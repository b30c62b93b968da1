#!/usr/bin/env bash
# Checks core/include/iopfq/abi.h against the real iommufd UAPI header: builds
# tests/abi/uapi_abi.c (compile-time checks of sizes, alignments, offsets and
# constants) with include/uapi/linux/iommufd.h of Linux 6.12 first on the
# include path, then checks that a deliberately false assertion does fail.
#
# The header comes from the installed linux-libc-dev if it already has the
# fault FD (Linux 6.11+), else from Debian's linux-source-6.12 tarball
# (/usr/src/linux-source-6.12.tar.xz; scripts/deps.sh test installs it). Only
# that one member is extracted, once per package version, into a cache
# outside the clone ($IOPFQ_CACHE_DIR, default ~/.cache/iopfq): the first run
# on a machine decompresses the tarball (about 30 s), later runs take a
# second. Exit 0 pass, 1 fail; there is no skip.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cc=${CC:-cc}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "abi test: FAIL: $*"; exit 1; }

if grep -qs 'struct iommu_hwpt_pgfault {' /usr/include/linux/iommufd.h; then
	inc=/usr/include
	from="linux-libc-dev $(dpkg-query -W -f='${Version}' linux-libc-dev 2>/dev/null || echo '?')"
else
	tarball=/usr/src/linux-source-6.12.tar.xz
	ver=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null) ||
		fail "linux-source-6.12 is not installed (scripts/deps.sh test)"
	[ -f "$tarball" ] || fail "$tarball missing"
	cache=${IOPFQ_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/iopfq}/uapi-linux-source-6.12_$ver
	if [ ! -f "$cache/linux/iommufd.h" ]; then
		mkdir -p "$(dirname "$cache")"
		tmp=$(mktemp -d "$(dirname "$cache")/.uapi.XXXXXX")
		tar -xJf "$tarball" -C "$tmp" --strip-components=3 \
			linux-source-6.12/include/uapi/linux/iommufd.h ||
			{ rm -rf "$tmp"; fail "cannot extract iommufd.h from $tarball"; }
		# another run may have filled the cache meanwhile: keep the first
		mv -T "$tmp" "$cache" 2>/dev/null || rm -rf "$tmp"
	fi
	inc=$cache
	from="linux-source-6.12 $ver"
fi
grep -q 'struct iommu_hwpt_pgfault {' "$inc/linux/iommufd.h" || fail "$inc/linux/iommufd.h has no fault FD ABI"

"$cc" -std=gnu11 -Wall -Wextra -Werror -I"$inc" -I"$top/core/include" \
	-o "$work/uapi_abi" "$top/tests/abi/uapi_abi.c" 2>"$work/cc.log" ||
	{ cat "$work/cc.log"; fail "abi.h differs from iommufd.h of $from"; }
"$work/uapi_abi" || fail "the check program failed"
if "$cc" -std=gnu11 -DIOPFQ_ABI_SELFTEST_BREAK -I"$inc" -I"$top/core/include" \
	-o "$work/broken" "$top/tests/abi/uapi_abi.c" 2>/dev/null; then
	fail "a false assertion compiled: the checks are not checking"
fi
echo "abi test: PASS against include/uapi/linux/iommufd.h of $from"
