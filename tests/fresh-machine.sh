#!/usr/bin/env bash
# The fresh-machine check: do the README's two commands work on a new Debian 12
# machine with nothing installed by hand?
#
# Builds a minimal Debian 12 root (debootstrap --variant=minbase, from the
# mirror in this machine's own apt sources) and runs each command as root in
# its own root, freshly unpacked from that base, so that no command finds what
# another one installed:
#
#   tests/run-all.sh release      the README's test command, one preset, in a
#                                 fresh clone of HEAD
#   bench/run.sh --quick          the README's main job, short, in a copy of
#                                 HEAD without .git (git archive) in a root
#                                 without git: a tarball or a copied tree. It
#                                 fails if the command installed git (the
#                                 no-git path would not have been exercised);
#                                 then checks that the run's commit stamp,
#                                 bench/history.py's record and bench/results.sh's
#                                 RESULTS.md all say the commit is unknown
#
# Uncommitted changes are not tested: both trees are HEAD's.
# It prints one PASS/FAIL line per command (and one for the stamp check) and
# exits 1 if any failed. A clean clone on a used machine cannot show a missing
# install step (the packages are already there); this can.
#
# The debootstrap base is cached as a tarball, keyed by the suite, the mirror,
# the debootstrap version and the architecture, and the downloaded .debs are
# kept, so a rerun only pays for unpacking, the package installs and the
# builds. One run at a time per cache (a lock in it).
#
# Usage: tests/fresh-machine.sh [--keep] [COMMAND...]
#   --keep     keep the roots afterwards (their paths are printed)
#   COMMAND    run these (each a quoted command line, each in its own root)
#              instead of the two above; "nogit:COMMAND" runs one in a copy
#              without .git and fails if it installs git
# Environment: IOPFQ_FRESH_CACHE (default /var/cache/iopfq/fresh-machine).
# Needs root; installs its host packages (scripts/deps.sh fresh: debootstrap,
# git). Outside a git checkout it prints SKIP and exits 77: it tests HEAD.
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
[ ${#cmds[@]} -gt 0 ] || cmds=("tests/run-all.sh release" "nogit:bench/run.sh --quick")

start=$(date +%s)
die() {
	echo "fresh-machine: $*" >&2
	exit 2
}
if [ ! -e "$top/.git" ]; then
	echo "SKIP  fresh machine: $top is not a git checkout (a tarball or a copy): the check tests HEAD"
	exit 77
fi
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot, mounts)"
"$top/scripts/deps.sh" fresh || die "cannot install its host packages (scripts/deps.sh fresh)"
git -C "$top" rev-parse HEAD >/dev/null 2>&1 || die "$top is not a git checkout: the check tests HEAD"

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
mkdir -p "$cache/debs/partial" || die "cannot create $cache"
exec 9>"$cache/lock"
flock -w 5400 9 || die "another run holds $cache/lock"

roots=() mounted=()
# umount_all: undo the mounts of the current root, last first
umount_all() {
	local i
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		umount -l "${mounted[$i]}" 2>/dev/null
	done
	mounted=()
}
cleanup() {
	local r
	umount_all
	for r in ${roots[@]+"${roots[@]}"}; do
		if [ "$keep" = 1 ]; then
			echo "fresh-machine: root kept at $r"
		else
			rm -rf --one-file-system "$r"
		fi
	done
}
trap cleanup EXIT

if [ ! -f "$base" ]; then
	echo "fresh-machine: debootstrap --variant=minbase $suite from $mirror (cached as $base)"
	t0=$(date +%s)
	tmp=$(mktemp -d /var/tmp/iopfq-fresh-base.XXXXXX)
	roots+=("$tmp")
	debootstrap --variant=minbase "$suite" "$tmp" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
		die "debootstrap failed (see $cache/debootstrap.log)"
	rm -rf "$tmp/var/cache/apt/archives/"*.deb
	tar -C "$tmp" -cf "$base.tmp" . && mv "$base.tmp" "$base" || die "cannot write $base"
	rm -rf --one-file-system "$tmp"
	unset 'roots[-1]'
	echo "fresh-machine: base built in $(($(date +%s) - t0)) s"
fi

# new_root: a fresh root unpacked from the base, with the machine's apt
# sources (as a new machine installed from them would have), the shared .deb
# cache and the kernel file systems mounted; sets $root
new_root() {
	local m
	root=$(mktemp -d /var/tmp/iopfq-fresh.XXXXXX)
	roots+=("$root")
	tar -C "$root" -xf "$base" || return 1
	rm -f "$root/etc/apt/sources.list"
	cp /etc/apt/sources.list.d/*.sources "$root/etc/apt/sources.list.d/" 2>/dev/null ||
		cp /etc/apt/sources.list "$root/etc/apt/sources.list" || return 1
	cp /etc/resolv.conf "$root/etc/resolv.conf"
	for m in proc sys dev dev/pts; do
		mkdir -p "$root/$m"
		case $m in
		proc) mount -t proc proc "$root/proc" ;;
		sys) mount -t sysfs sysfs "$root/sys" ;;
		dev) mount --bind /dev "$root/dev" ;;
		dev/pts) mount -t devpts devpts "$root/dev/pts" ;;
		esac && mounted+=("$root/$m") || return 1
	done
	mount --bind "$cache/debs" "$root/var/cache/apt/archives" && mounted+=("$root/var/cache/apt/archives")
}

# in_root COMMAND: runs COMMAND with bash in the root's tree, as root, with a
# clean environment
in_root() {
	chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		/bin/bash -c "cd /root/iopfq && $1"
}

has_git() {
	chroot "$root" dpkg-query -W -f='${Status}' git 2>/dev/null | grep -q "install ok installed"
}

# The results of a run in a tree without git name no commit, and say so:
# bench/run.sh's stamp, bench/history.py's record and bench/results.sh's RESULTS.md
stamp_check='out=build/release/bench/out
	grep -q "the results name no commit" "$LOG" &&
	grep -qx unknown "$out/commit.txt" && grep -qx unknown "$out/dirty.txt" &&
	bench/history.py add "$out" --history /tmp/iopfq-history --options=--quick >/dev/null &&
	grep -q "\"commit\":\"unknown\"" /tmp/iopfq-history/*.json &&
	grep -q "\"tree\":\"unknown\"" /tmp/iopfq-history/*.json &&
	bench/results.sh "$out" && grep -q "Not measured in a git checkout: no commit" RESULTS.md'

status=0
results=()
for spec in "${cmds[@]}"; do
	mode=clone c=$spec
	case $spec in nogit:*) mode=nogit c=${spec#nogit:} ;; esac
	t0=$(date +%s)
	log="$cache/$(echo "$spec" | tr -c 'a-zA-Z0-9' '_').log"
	: >"$log"
	new_root || die "cannot make a root from $base"
	if [ $mode = clone ]; then
		# a fresh clone of the committed tree, without the hooks
		git clone -q --no-hardlinks "$top" "$root/root/iopfq" && rm -rf "$root/root/iopfq/.git/hooks"
	else
		mkdir -p "$root/root/iopfq" && git -C "$top" archive HEAD | tar -x -C "$root/root/iopfq"
	fi || die "cannot copy HEAD into $root"
	what="$c"
	[ $mode = clone ] || what="$c (no .git, no git)"
	echo "fresh-machine: running '$what' in $root, unpacked in $(($(date +%s) - t0)) s (log $log)"
	if [ $mode = nogit ] && has_git; then
		results+=("FAIL  $what: git is in the base root")
		status=1
	elif in_root "$c" >>"$log" 2>&1; then
		if [ $mode = nogit ] && has_git; then
			results+=("FAIL  $what ($(($(date +%s) - t0)) s): it installed git, so the no-git path was not exercised")
			status=1
		else
			results+=("PASS  $what ($(($(date +%s) - t0)) s)")
		fi
		if [ $mode = nogit ] && [ -f "$root/root/iopfq/build/release/bench/out/commit.txt" ]; then
			cp "$log" "$root/tmp/run.log"
			if in_root "LOG=/tmp/run.log; $stamp_check" >>"$log" 2>&1; then
				results+=("PASS  commit stamp without git: 'unknown' in bench/run.sh's output, bench/history.py's record and bench/results.sh's RESULTS.md")
			else
				results+=("FAIL  commit stamp without git: not 'unknown' everywhere (bench/run.sh, bench/history.py, bench/results.sh; $log)")
				status=1
			fi
		fi
	else
		results+=("FAIL  $what ($(($(date +%s) - t0)) s; last lines of $log:)")
		results+=("$(tail -n 15 "$log" | sed 's/^/      | /')")
		status=1
	fi
	umount_all
	if [ "$keep" = 0 ]; then
		rm -rf --one-file-system "$root"
		unset 'roots[-1]'
	fi
done
echo
echo "=== fresh machine (Debian 12 minbase, $mirror, one root per command), $(($(date +%s) - start)) s"
printf '%s\n' "${results[@]}"
exit $status
