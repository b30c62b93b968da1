#!/usr/bin/env bash
# The fresh-machine check: do the README's two commands work on a new Debian 12
# machine with nothing installed by hand?
#
# Builds a minimal Debian 12 root (debootstrap --variant=minbase, from the
# mirror in this machine's own apt sources), copies in a fresh clone of the
# committed tree (HEAD: uncommitted changes are not tested), and runs, as root
# inside that root:
#
#   tests/run-all.sh release      the README's test command, one preset
#   bench/run.sh --quick          the README's main job, short
#
# It prints one PASS/FAIL line per command and exits non-zero if any failed.
# A clean clone on a used machine cannot show a missing install step (the
# packages are already there); this can.
#
# The debootstrap base is cached as a tarball outside the clone, keyed by the
# suite, the mirror and the debootstrap version, so a rerun only pays for the
# package installs and the builds. Downloaded .debs are cached too.
#
# Usage: tests/fresh-machine.sh [--keep] [COMMAND...]
#   --keep     keep the root afterwards (its path is printed)
#   COMMAND    run these (each a quoted command line) instead of the two above
# Environment: IOPFQ_FRESH_CACHE (default /var/cache/iopfq/fresh-machine).
# Needs root. Installs debootstrap on the host if missing.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
keep=0
cmds=()
while [ $# -gt 0 ]; do
	case "$1" in
	--keep) keep=1 ;;
	-h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) cmds+=("$1") ;;
	esac
	shift
done
[ ${#cmds[@]} -gt 0 ] || cmds=("tests/run-all.sh release" "bench/run.sh --quick")

start=$(date +%s)
die() {
	echo "fresh-machine: $*" >&2
	exit 2
}
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot, mounts)"
git -C "$top" rev-parse HEAD >/dev/null 2>&1 || die "$top is not a git checkout: the check clones HEAD"

if ! command -v debootstrap >/dev/null; then
	echo "fresh-machine: installing debootstrap on the host"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends debootstrap; } >/dev/null || die "cannot install debootstrap"
fi

# The Debian mirror this machine itself uses (deb822 .sources or sources.list)
mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
	grep -v -- '-security' | head -n 1)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $2 !~ /^\[/ && $2 !~ /security/ { print $2; exit }' \
	/etc/apt/sources.list 2>/dev/null)
[ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list{,.d}"

suite=bookworm
cache=${IOPFQ_FRESH_CACHE:-/var/cache/iopfq/fresh-machine}
key=$(printf '%s %s %s %s' "$suite" "$mirror" "$(dpkg-query -W -f='${Version}' debootstrap)" \
	"$(dpkg --print-architecture)" | sha256sum | cut -c1-16)
base="$cache/$suite-minbase-$key.tar"
mkdir -p "$cache/debs" || die "cannot create $cache"

root=$(mktemp -d /var/tmp/iopfq-fresh.XXXXXX)
mounted=()
cleanup() {
	local m
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		m=${mounted[$i]}
		umount -l "$m" 2>/dev/null
	done
	if [ "$keep" = 1 ]; then
		echo "fresh-machine: root kept at $root"
	else
		rm -rf --one-file-system "$root"
	fi
}
trap cleanup EXIT

if [ ! -f "$base" ]; then
	echo "fresh-machine: debootstrap --variant=minbase $suite from $mirror (cached as $base)"
	t0=$(date +%s)
	debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
		die "debootstrap failed (see $cache/debootstrap.log)"
	rm -rf "$root/var/cache/apt/archives/"*.deb
	tar -C "$root" -cf "$base.tmp" . && mv "$base.tmp" "$base" || die "cannot write $base"
	echo "fresh-machine: base built in $(($(date +%s) - t0)) s"
else
	tar -C "$root" -xf "$base" || die "cannot unpack $base"
fi

# The machine's own apt sources, as a new machine installed from them would have
rm -f "$root/etc/apt/sources.list"
cp /etc/apt/sources.list.d/*.sources "$root/etc/apt/sources.list.d/" 2>/dev/null ||
	cp /etc/apt/sources.list "$root/etc/apt/sources.list"
cp /etc/resolv.conf "$root/etc/resolv.conf"

# A fresh clone of the committed tree, without the history's hooks or remotes
git clone -q --no-hardlinks "$top" "$root/root/iopfq" || die "git clone failed"
rm -rf "$root/root/iopfq/.git/hooks"

for m in proc sys dev dev/pts; do
	mkdir -p "$root/$m"
	case $m in
	proc) mount -t proc proc "$root/proc" ;;
	sys) mount -t sysfs sysfs "$root/sys" ;;
	dev) mount --bind /dev "$root/dev" ;;
	dev/pts) mount -t devpts devpts "$root/dev/pts" ;;
	esac && mounted+=("$root/$m")
done
mount --bind "$cache/debs" "$root/var/cache/apt/archives" && mounted+=("$root/var/cache/apt/archives")
mkdir -p "$root/var/cache/apt/archives/partial"

echo "fresh-machine: base ready after $(($(date +%s) - start)) s; root $root"
status=0
results=()
for c in "${cmds[@]}"; do
	t0=$(date +%s)
	log="$cache/$(echo "$c" | tr -c 'a-zA-Z0-9' '_').log"
	echo "fresh-machine: running '$c' (log $log)"
	if chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		/bin/bash -c "cd /root/iopfq && $c" >"$log" 2>&1; then
		results+=("PASS  $c ($(($(date +%s) - t0)) s)")
	else
		results+=("FAIL  $c ($(($(date +%s) - t0)) s; last lines of $log:)")
		results+=("$(tail -n 15 "$log" | sed 's/^/      | /')")
		status=1
	fi
done
echo
echo "=== fresh machine (Debian 12 minbase, $mirror), $(($(date +%s) - start)) s"
printf '%s\n' "${results[@]}"
exit $status
