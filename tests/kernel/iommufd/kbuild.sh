#!/usr/bin/env bash
# Builds a Linux 6.12 kernel from Debian's linux-source-6.12 for the iommufd
# tests, cached outside the clone, and prints where it is.
#
#   flavor  tiny    tinyconfig + configs/iommufd-tiny.config + configs/iopfq-base.config
#           debug   tiny + configs/debug.config (lockdep, KASAN, DEBUG_LIST, ...)
#   series  stock   Debian's source as shipped
#           patched the source with kernel/series/ applied (kernel/series/apply.sh)
#
# The cache directory ($IOPFQ_KERNEL_CACHE, default /var/cache/iopfq-kernel)
# holds the extracted source once per package version, and one build per
# flavor/series/key, where the key hashes the package version, the compiler,
# the config fragments and (patched) every file kernel/series/apply.sh reads.
# A rerun with the same key reuses the build; concurrent callers wait on a lock.
#
# Usage: tests/kernel/iommufd/kbuild.sh [--flavor tiny|debug] [--series stock|patched]
#                                       [--print dir|bzimage|tree|headers]
# Builds if needed, then prints one path on stdout (progress goes to stderr):
#   dir      the build's cache directory (default)
#   bzimage  the kernel image
#   tree     the kernel build tree (O= directory): make -C <tree> M=<module dir>
#   headers  the headers_install output (<headers>/include)
# Exit 0 on success. Build time and log: <dir>/build.log, <dir>/build-seconds.
set -euo pipefail
top=$(cd "$(dirname "$0")/../../.." && pwd)
here="$top/tests/kernel/iommufd"
cfgdir="$top/tests/kernel/configs"
flavor=tiny series=stock print=dir
while [ $# -gt 0 ]; do
	case "$1" in
	--flavor) flavor=$2; shift ;;
	--series) series=$2; shift ;;
	--print) print=$2; shift ;;
	*) echo "usage: $0 [--flavor tiny|debug] [--series stock|patched] [--print dir|bzimage|tree|headers]" >&2
	   exit 2 ;;
	esac
	shift
done
case "$flavor" in tiny|debug) ;; *) echo "kbuild: unknown flavor $flavor" >&2; exit 2 ;; esac
case "$series" in stock|patched) ;; *) echo "kbuild: unknown series $series" >&2; exit 2 ;; esac
case "$print" in dir|bzimage|tree|headers) ;; *) echo "kbuild: unknown --print $print" >&2; exit 2 ;; esac

"$top/scripts/deps.sh" iommufd >&2
cache=${IOPFQ_KERNEL_CACHE:-/var/cache/iopfq-kernel}
mkdir -p "$cache"

frags=("$cfgdir/iommufd-tiny.config" "$cfgdir/iopfq-base.config")
[ "$flavor" = debug ] && frags+=("$cfgdir/debug.config")

# bump when the way a build is made changes in a way the inputs below miss
format=1
ver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
key=$({
	echo "format $format"
	echo "linux-source-6.12 $ver"
	gcc --version | head -1
	cat "${frags[@]}"
	if [ "$series" = patched ]; then
		"$top/kernel/series/apply.sh" --inputs | xargs sha256sum | sed "s|  $top/|  |"
	fi
} | sha256sum | cut -c1-16)
name="$flavor-$series-$key"
dir="$cache/$name"

say() { echo "kbuild: $*" >&2; }

build() {
	local start src
	start=$(date +%s)
	# the pristine source, extracted once per package version
	local pristine="$cache/src-$ver"
	# builds of other flavors/series may extract at the same time
	exec 8>"$cache/.lock-src-$ver"
	flock 8
	if [ ! -f "$pristine/.iopfq-extracted" ]; then
		say "extracting linux-source-6.12 $ver"
		rm -rf "$pristine" "$pristine.tmp"
		mkdir -p "$pristine.tmp"
		tar -xf /usr/src/linux-source-6.12.tar.xz -C "$pristine.tmp" --strip-components=1
		touch "$pristine.tmp/.iopfq-extracted"
		mv "$pristine.tmp" "$pristine"
	fi
	flock -u 8
	rm -rf "$dir"
	mkdir -p "$dir"
	if [ "$series" = patched ]; then
		# hard links: patch(1) and the series script replace files, never write through
		cp -al "$pristine" "$dir/src"
		"$top/kernel/series/apply.sh" "$dir/src" >&2
		src="$dir/src"
	else
		src="$pristine"
	fi
	local b="$dir/build"
	mkdir -p "$b"
	say "configuring $name (tinyconfig + ${frags[*]##*/})"
	make -s -C "$src" O="$b" tinyconfig >"$dir/build.log" 2>&1
	"$src/scripts/kconfig/merge_config.sh" -m -O "$b" "$b/.config" "${frags[@]}" >>"$dir/build.log" 2>&1
	make -s -C "$src" O="$b" olddefconfig >>"$dir/build.log" 2>&1
	# every option the fragments ask for must have survived the dependency resolution
	local bad=0 line opt
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*) grep -qxF "$line" "$b/.config" || { say "config: $line did not stick"; bad=1; } ;;
		"# CONFIG_"*" is not set")
			opt=${line#\# }; opt=${opt%% *}
			if grep -q "^$opt=" "$b/.config"; then say "config: $opt is still set"; bad=1; fi ;;
		esac
	done < <(cat "${frags[@]}")
	[ $bad = 0 ] || { say "config fragments not satisfied (see $b/.config)"; return 1; }
	say "building $name with make -j2 (log: $dir/build.log)"
	if ! nice -n 5 make -C "$src" O="$b" -j2 all >>"$dir/build.log" 2>&1; then
		tail -30 "$dir/build.log" >&2
		return 1
	fi
	make -s -C "$src" O="$b" headers_install INSTALL_HDR_PATH="$dir/headers" >>"$dir/build.log" 2>&1
	echo "$(($(date +%s) - start))" >"$dir/build-seconds"
	echo "$src" >"$dir/source"
	touch "$dir/.iopfq-built"
	say "built $name in $(cat "$dir/build-seconds") s"
	# keep the two newest builds of this flavor and series
	ls -1dt "$cache/$flavor-$series-"* 2>/dev/null | tail -n +3 | while read -r old; do
		say "removing old build $old"
		rm -rf "$old"
	done
}

exec 9>"$cache/.lock-$flavor-$series"
flock 9
if [ ! -f "$dir/.iopfq-built" ]; then
	build || { say "build of $name failed"; exit 1; }
else
	say "reusing $name (built in $(cat "$dir/build-seconds") s)"
fi
flock -u 9

case "$print" in
dir) echo "$dir" ;;
bzimage) echo "$dir/build/arch/x86/boot/bzImage" ;;
tree) echo "$dir/build" ;;
headers) echo "$dir/headers" ;;
esac
