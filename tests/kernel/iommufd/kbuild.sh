#!/usr/bin/env bash
# Builds a Linux 6.12 kernel from Debian's linux-source-6.12 for the iommufd
# tests, cached outside the clone, and prints where it is.
#
#   flavor  tiny    tinyconfig + configs/iommufd-tiny.config + configs/iopfq-base.config
#           debug   tiny + configs/debug.config (lockdep, KASAN, DEBUG_LIST, ...)
#   series  stock   Debian's source plus the test-only mock device op of
#                   kernel/testop/ (IOMMU_TEST_OP_TRIGGER_IOPF_BURST): the
#                   baseline every A/B compares against
#           patched stock plus kernel/series/ (kernel/series/apply.sh)
#
# The cache directory ($IOPFQ_KERNEL_CACHE, default /var/cache/iopfq-kernel)
# holds the extracted source once per package version, and one build per
# flavor/series/key. The stock key hashes the package version, the compiler,
# the config fragments and the kernel/testop/ patches; the patched key hashes
# the stock key and every file kernel/series/apply.sh --inputs names (its
# patches, and whatever it copies in, such as core/). A rerun with the same
# key reuses the build; concurrent callers wait on a lock.
#
# A patched build starts from the stock build of the same flavor (built
# first if missing): a copy of its build directory, and its source hard-linked
# (cp -al) with the series applied. In a private mount namespace the two are
# bind-mounted over the stock source and build paths, so the absolute paths
# Kbuild recorded match and only what the series touched is rebuilt; without
# root (no unshare -m) the patched tree is built cold. The series must
# replace files (patch(1) does), never write through a hard link.
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
format=2
ver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
testops=("$top"/kernel/testop/*.patch)
stock_key=$({
	echo "format $format"
	echo "linux-source-6.12 $ver"
	gcc --version | sed -n 1p
	cat "${frags[@]}"
	sha256sum "${testops[@]}" | sed "s|  $top/|  |"
} | sha256sum | cut -c1-16)
if [ "$series" = patched ]; then
	key=$({
		echo "stock $stock_key"
		"$top/kernel/series/apply.sh" --inputs | xargs sha256sum | sed "s|  $top/|  |"
	} | sha256sum | cut -c1-16)
else
	key=$stock_key
fi
name="$flavor-$series-$key"
dir="$cache/$name"

say() { echo "kbuild: $*" >&2; }

# build() and the functions it calls run as "build || ...", where bash
# ignores set -e: every step that can fail says so with || return 1

# configures the build directory $2 of source $1 and checks the fragments
configure() {
	local src=$1 b=$2
	say "configuring $name (tinyconfig + ${frags[*]##*/})"
	make -s -C "$src" O="$b" tinyconfig >"$dir/build.log" 2>&1
	"$src/scripts/kconfig/merge_config.sh" -m -O "$b" "$b/.config" "${frags[@]}" >>"$dir/build.log" 2>&1
	make -s -C "$src" O="$b" olddefconfig >>"$dir/build.log" 2>&1
	check_config "$b"
}

# every option the fragments ask for must have survived the dependency resolution
check_config() {
	local b=$1 bad=0 line opt
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*) grep -qxF "$line" "$b/.config" || { say "config: $line did not stick"; bad=1; } ;;
		"# CONFIG_"*" is not set")
			opt=${line#\# }; opt=${opt%% *}
			if grep -q "^$opt=" "$b/.config"; then say "config: $opt is still set"; bad=1; fi ;;
		esac
	done < <(cat "${frags[@]}")
	[ $bad = 0 ] || { say "config fragments not satisfied (see $b/.config)"; return 1; }
}

# make -C <source> O=<build> <targets...>, at low priority, into the log
kmake() {
	local src=$1 b=$2
	shift 2
	nice -n 5 make -C "$src" O="$b" -j2 "$@" >>"$dir/build.log" 2>&1 ||
		{ tail -30 "$dir/build.log" >&2; return 1; }
}

build() {
	local start src b="$dir/build" sdir=
	# a patched build starts from the stock one: its time is not counted here
	if [ "$series" = patched ]; then
		sdir=$("$0" --flavor "$flavor" --series stock --print dir) || return 1
	fi
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
		tar -xf /usr/src/linux-source-6.12.tar.xz -C "$pristine.tmp" --strip-components=1 || return 1
		touch "$pristine.tmp/.iopfq-extracted"
		mv "$pristine.tmp" "$pristine"
	fi
	flock -u 8
	rm -rf "$dir"
	mkdir -p "$dir"
	src="$dir/src"
	if [ "$series" = stock ]; then
		# hard links: patch(1) replaces files, never writes through
		# "$pristine/.": copy the tree's contents even when the path is a
		# symlink (cp -a would copy the link, and patch the shared tree)
		mkdir -p "$src" && cp -al "$pristine/." "$src" || return 1
		local p
		for p in "${testops[@]}"; do
			say "testop: applying ${p##*/}"
			patch -d "$src" -p1 --no-backup-if-mismatch -s <"$p" || return 1
		done
		mkdir -p "$b"
		configure "$src" "$b" || return 1
		say "building $name with make -j2 (log: $dir/build.log)"
		kmake "$src" "$b" all || return 1
		kmake "$src" "$b" headers_install INSTALL_HDR_PATH="$dir/headers" || return 1
	else
		build_patched "$src" "$b" "$sdir" || return 1
	fi
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

# the patched tree $1, built in $2 from the stock build $3 of this flavor
build_patched() {
	local src=$1 b=$2 sdir=$3
	# a stock build of another key cannot rotate this one away meanwhile
	exec 7>"$cache/.lock-$flavor-stock"
	flock -s 7
	[ -f "$sdir/.iopfq-built" ] || { say "$sdir vanished; run again"; return 1; }
	mkdir -p "$src" && cp -al "$sdir/src/." "$src" || return 1
	"$top/kernel/series/apply.sh" "$src" >&2 </dev/null || { say "the series does not apply"; return 1; }
	if ! unshare -m --propagation private true 2>/dev/null; then
		say "no private mount namespace (not root?): building $name cold"
		flock -u 7
		mkdir -p "$b"
		configure "$src" "$b" || return 1
		kmake "$src" "$b" all || return 1
		kmake "$src" "$b" headers_install INSTALL_HDR_PATH="$dir/headers"
		return
	fi
	say "building $name incrementally from ${sdir##*/} (log: $dir/build.log)"
	cp -a "$sdir/build" "$b" || return 1
	: >"$dir/build.log"
	# the stock paths show the patched tree inside the namespace only
	unshare -m --propagation private bash -c '
		set -e
		mount --bind "$1" "$3/src"
		mount --bind "$2" "$3/build"
		nice -n 5 make -C "$3/src" O="$3/build" olddefconfig
		nice -n 5 make -C "$3/src" O="$3/build" -j2 all
		make -C "$3/src" O="$3/build" headers_install INSTALL_HDR_PATH="$4"
	' kbuild "$src" "$b" "$sdir" "$dir/headers" >>"$dir/build.log" 2>&1 ||
		{ tail -30 "$dir/build.log" >&2; return 1; }
	flock -u 7
	check_config "$b" || return 1
	# outside the namespace, the tree names its own source (make M=...)
	sed -i "s|$sdir/src|$src|g" "$b/Makefile" && ln -sfn "$src" "$b/source" || return 1
	echo "${sdir##*/}" >"$dir/based-on"
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
