#!/usr/bin/env bash
# Runs the kernel's scripts/checkpatch.pl --strict on every patch of the
# series, and on the test-only patches of kernel/testop/ that both the stock
# and the patched test kernels carry, from the Debian linux-source-6.12 tree the series applies to
# (extracted by tests/kernel/iommufd/kbuild.sh). That tree is a tarball without
# git history, so checkpatch cannot look up the ids in Fixes: tags; that one
# check (UNKNOWN_COMMIT_ID) is left out, everything else counts.
# Usage: kernel/series/checkpatch.sh     exit 0 when every patch is clean
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${IOPFQ_KERNEL_CACHE:-/var/cache/iopfq-kernel}
ver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
tree="$cache/src-$ver"
[ -f "$tree/.iopfq-extracted" ] || {
	echo "checkpatch: $tree missing; run tests/kernel/iommufd/kbuild.sh first" >&2
	exit 1
}
status=0
while read -r p; do
	case "$p" in ''|'#'*) continue ;; esac
	if out=$(cd "$tree" && perl scripts/checkpatch.pl --strict --quiet --no-summary \
		--ignore UNKNOWN_COMMIT_ID "$here/$p"); then
		echo "checkpatch: clean: $p"
	else
		echo "$out"
		echo "checkpatch: NOT clean: $p"
		status=1
	fi
done < <(cat "$here/series"; cd "$here/../testop" && ls -1 ./*.patch | sed "s|^\./|../testop/|")
exit $status
