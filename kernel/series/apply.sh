#!/usr/bin/env bash
# Applies iopfq's patch series to a Linux 6.12 source tree (Debian's
# linux-source-6.12): every patch named in kernel/series/series, in order.
# Usage: kernel/series/apply.sh <linux source tree>
#        kernel/series/apply.sh --inputs    the files it reads, one a line
#                                           (tests/kernel/iommufd/kbuild.sh
#                                           hashes them into the build key)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tree=${1:?usage: $0 <linux source tree> | --inputs}
if [ "$tree" = --inputs ]; then
	echo "$here/apply.sh"
	echo "$here/series"
	grep -v -e '^#' -e '^$' "$here/series" | sed "s|^|$here/|"
	exit 0
fi
while read -r p; do
	case "$p" in ''|'#'*) continue ;; esac
	echo "series: applying $p"
	patch -d "$tree" -p1 --no-backup-if-mismatch -s <"$here/$p"
done <"$here/series"
