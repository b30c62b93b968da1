#!/usr/bin/env bash
# Applies iopfq's patch series to a Linux 6.12 source tree (Debian's
# linux-source-6.12): first copies the iopfq core's sources, unchanged, from
# core/ into drivers/iommu/iommufd/iopfq/ (the tree the series' Makefile
# lines compile into iommufd), then every patch named in
# kernel/series/series, in order. The copies are never edited by hand: a
# change to the core is a change in core/, and --inputs lists every copied
# file, so the kernel build's cache key follows it.
# Usage: kernel/series/apply.sh <linux source tree>
#        kernel/series/apply.sh --inputs    the files it reads, one a line
#                                           (tests/kernel/iommufd/kbuild.sh
#                                           hashes them into the build key)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
core=$(cd "$here/../../core" && pwd)
# the core files the kernel build compiles, relative to core/ (the
# userspace platform mapping is left out: __KERNEL__ selects the kernel one)
core_files() {
	(cd "$core" && ls include/iopfq/*.h src/*.c src/*.h \
		platform/iopfq_platform.h platform/iopfq_platform_kernel.h)
}
tree=${1:?usage: $0 <linux source tree> | --inputs}
if [ "$tree" = --inputs ]; then
	echo "$here/apply.sh"
	echo "$here/series"
	grep -v -e '^#' -e '^$' "$here/series" | sed "s|^|$here/|"
	core_files | sed "s|^|$core/|"
	exit 0
fi
dest="$tree/drivers/iommu/iommufd/iopfq"
echo "series: copying the iopfq core into drivers/iommu/iommufd/iopfq"
rm -rf "$dest"
core_files | while read -r f; do
	mkdir -p "$dest/$(dirname "$f")"
	cp "$core/$f" "$dest/$f"
done
while read -r p; do
	case "$p" in ''|'#'*) continue ;; esac
	echo "series: applying $p"
	patch -d "$tree" -p1 --no-backup-if-mismatch -s <"$here/$p"
done <"$here/series"
