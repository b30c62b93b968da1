#!/usr/bin/env bash
# The noise-aware regression gate: builds the benchmarks of two revisions
# (git worktrees under build/compare/, release preset, only the iopfq_bench
# and iopfq_micro targets), runs them interleaved N times each (A B, B A,
# A B, ...: a drift of the machine during the comparison hits both sides
# alike), and judges with bench/gate.py (rank test, bootstrap interval,
# better / worse / same / can't tell) every ratio metric of the flood and
# the CPU time per operation of the single-thread micro-benchmarks BM_Report
# and BM_ReportReadRespond (CPU time: a thread the host or a neighbour
# preempts is not charged for it, which wall-clock flood figures are; each
# run's value is the median of 5 repetitions).
#
#   bench/compare.sh OLD_REV NEW_REV [--runs N] [--tolerance T] [-- BENCH_OPTIONS]
#
# BENCH_OPTIONS go to iopfq_bench (default: --quick --seconds 0.2 --no-stall:
# the ping-pong, the 8x32/g4 flood closed and at 90 % load, the blocking
# ping-pong, every implementation, floors measured in each run).
# Exit status: 1 on a significant regression beyond the tolerance (default
# 10 %) or a broken invariant, 0 otherwise, 2 on a usage or build error.
# Runs default to 8 each: with 6 or fewer no result can reach significance
# once the rank test is corrected for the 40-odd metrics.
# A run that does not finish in 300 s is killed and made again, once. The
# worktrees stay for the next comparison (git worktree list; remove one with
# git worktree remove build/compare/src-REV).
# Run files: build/compare/OLD..NEW/{old,new}-K[.micro].json, the verdicts in
# build/compare/OLD..NEW/verdicts.txt.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 2 ] || usage
old_rev=$1 new_rev=$2
shift 2
runs=8 tolerance=0.10
bench_opts=(--quick --seconds 0.2 --no-stall)
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=${2:?}; shift 2 ;;
	--tolerance) tolerance=${2:?}; shift 2 ;;
	--) shift; bench_opts=("$@"); break ;;
	*) usage ;;
	esac
done

"$top/scripts/deps.sh" build benchlib bench compare
old=$(git -C "$top" rev-parse --verify "$old_rev^{commit}") || { echo "compare.sh: no commit $old_rev" >&2; exit 2; }
new=$(git -C "$top" rev-parse --verify "$new_rev^{commit}") || { echo "compare.sh: no commit $new_rev" >&2; exit 2; }

# build REV: the iopfq_bench of commit REV, in its own worktree; prints its path
build() {
	local rev=$1 src="$top/build/compare/src-${1:0:12}"
	if [ ! -e "$src/.git" ]; then
		rm -rf "$src"
		git -C "$top" worktree add --detach -f "$src" "$rev" >/dev/null 2>&1 ||
			{ echo "compare.sh: git worktree add $rev failed" >&2; return 1; }
	fi
	# IOPFQ_BUILD_BENCH: benchmarks are optional since it exists (older revisions ignore it)
	(cd "$src" && cmake --preset release -DIOPFQ_BUILD_BENCH=ON >/dev/null 2>&1 &&
		nice cmake --build --preset release -j"$(nproc)" --target iopfq_bench iopfq_micro >/dev/null) ||
		{ echo "compare.sh: building $rev failed" >&2; return 1; }
	echo "$src/build/release/bench/iopfq_bench"
}

echo "building ${old:0:12} and ${new:0:12} (release preset, iopfq_bench and iopfq_micro)"
old_bin=$(build "$old") || exit 2
new_bin=$(build "$new") || exit 2
out="$top/build/compare/${old:0:12}..${new:0:12}"
rm -rf "$out"
mkdir -p "$out"

# userfaultfd floor: root may use it; for others it needs this sysctl
if [ "$(id -u)" -eq 0 ] && [ -w /proc/sys/vm/unprivileged_userfaultfd ]; then
	sysctl -qw vm.unprivileged_userfaultfd=1 || true
fi

echo "$runs interleaved runs of each: iopfq_bench ${bench_opts[*]}; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for k in $(seq 1 "$runs"); do
	order="old new"
	[ $((k % 2)) = 0 ] && order="new old"
	for side in $order; do
		bin=$old_bin
		[ "$side" = new ] && bin=$new_bin
		for try in 1 2; do
			# a run that broke an invariant exits 1 but writes its JSON: gate.py judges it
			timeout 300 "$bin" "${bench_opts[@]}" --json "$out/$side-$k.json" \
				>"$out/$side-$k.txt" 2>&1 || true
			[ -s "$out/$side-$k.json" ] && break
			echo "  run $k of $side wrote no results (try $try; see $out/$side-$k.txt)" >&2
		done
		[ -s "$out/$side-$k.json" ] || exit 2
		micro="$(dirname "$bin")/iopfq_micro"
		[ -x "$micro" ] && "$micro" --benchmark_filter='^BM_Report(ReadRespond/(1|4))?$' \
			--benchmark_min_time=0.05 --benchmark_repetitions=5 \
			--benchmark_report_aggregates_only=true --benchmark_out="$out/$side-$k.micro.json" \
			--benchmark_out_format=json >/dev/null 2>&1 || true
	done
	echo "  round $k of $runs done ($order), load $(cut -d' ' -f1 /proc/loadavg)"
done

set +e
/usr/bin/python3 "$top/bench/gate.py" --tolerance "$tolerance" \
	--old "$out"/old-*.json --new "$out"/new-*.json | tee "$out/verdicts.txt"
rc=${PIPESTATUS[0]}
set -e
echo "old ${old:0:12} ($(git -C "$top" log -1 --format=%s "$old")), new ${new:0:12} ($(git -C "$top" log -1 --format=%s "$new"))"
echo "runs and verdicts: $out"
exit "$rc"
