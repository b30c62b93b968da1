#!/usr/bin/env bash
# The main job: installs what the benchmarks need (Debian 12, as root),
# builds the release preset, runs the flood benchmark (iopfq against the
# iommufd model, liburcu wfcqueue + rculfhash, ck_ring MP, and the physical
# floors), the preempted-producer test, a perf-counter pass, the Google
# Benchmark micro-benchmarks and hyperfine timings of fixed work (the
# example VMM loop answering 20000 groups per device; `iopfq sim` bring-up
# and teardown with 1 to 1024 devices), and
# prints the tables. About 4 minutes on 2 CPUs.
#
#   bench/run.sh              full run, results in build/release/bench/out/
#   bench/run.sh --quick      under a minute: fewer scenarios, shorter runs
#   bench/run.sh --results    full run, then regenerate RESULTS.md (its
#                             benchmark section) and bench/results/*.png,
#                             and add the run to bench/history/ (bench/dashboard.sh)
#   any other option goes to iopfq_bench (--seconds S, --only SUBSTR, ...)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

quick=0 results=0
args=()
for a in "$@"; do
	case "$a" in
	--quick) quick=1; args+=("$a") ;;
	--results) results=1 ;;
	*) args+=("$a") ;;
	esac
done

"$top/scripts/deps.sh" build benchlib bench
cmake --preset release -DIOPFQ_BUILD_BENCH=ON >/dev/null
cmake --build --preset release -j"$(nproc)" --target iopfq_bench iopfq_micro iopfq_cli vmm_loop >/dev/null
bin="$top/build/release/bench"
out="$bin/out"
rm -rf "$out"
mkdir -p "$out"
echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$out/load.txt"
# the tree as measured: the commit, and uncommitted changes in tracked files
# before the run (the run itself rewrites RESULTS.md and bench/results/, which
# do not count). A tree without git (a tarball, a copy) is measured too, and
# says so.
if command -v git >/dev/null && git -C "$top" rev-parse HEAD >/dev/null 2>&1; then
	git -C "$top" status --porcelain --untracked-files=no -- . ':!RESULTS.md' ':!bench/results' |
		wc -l >"$out/dirty.txt"
	git -C "$top" rev-parse HEAD >"$out/commit.txt"
else
	echo "bench/run.sh: not a git checkout (or no git): the results name no commit" >&2
	echo unknown >"$out/dirty.txt"
	echo unknown >"$out/commit.txt"
fi

# userfaultfd floor: root may use it; for others it needs this sysctl
if [ "$(id -u)" -eq 0 ] && [ -w /proc/sys/vm/unprivileged_userfaultfd ]; then
	sysctl -qw vm.unprivileged_userfaultfd=1 || true
fi

rc=0
"$bin/iopfq_bench" ${args[@]+"${args[@]}"} --json "$out/flood.json" --data "$out/data" | tee "$out/flood.txt" || rc=$?

if [ "$quick" = 0 ]; then
	echo
	echo "== perf counters per fault (separate pass: counters slow context switches in a VM) =="
	# perf stat exits 0 even where a VM has no hardware counters: it prints
	# "<not supported>" for them, so ask it for one and read the answer
	if ! command -v perf >/dev/null; then
		echo "perf is not installed: no counter pass" | tee "$out/perf.txt"
	elif grep -qE '^[0-9]+,' <<<"$(perf stat -x, -e instructions true 2>&1)"; then
		"$bin/iopfq_bench" --perf --no-floors --no-stall --only 8x32/g4/busy --seconds 0.5 \
			--json "$out/perf.json" | grep -E "^8x32/g4/busy |^scenario" | tee "$out/perf.txt" || true
	else
		# a perf that can open no counter at all (perf_event_paranoid, a
		# seccomp filter) prints no count: say so and go on
		hw="hardware counters (cycles, instructions, cache misses) are not supported on this machine"
		sw=$(perf stat -e task-clock,context-switches,cpu-migrations,page-faults -- \
			"$bin/iopfq_bench" --no-floors --no-stall --only 8x32/g4/busy --seconds 0.5 \
			2>&1 >/dev/null | grep -E '^ *[0-9.,]+ +(msec )?(task-clock|context-switches|cpu-migrations|page-faults)|elapsed') || true
		if grep -qE 'task-clock|context-switches|cpu-migrations|page-faults' <<<"$sw"; then
			printf '%s; software counters of the whole 8x32/g4/busy pass:\n%s\n' "$hw" "$sw"
		else
			echo "$hw, and perf could not count software events either: no counter pass"
		fi | tee "$out/perf.txt"
	fi
fi

echo
echo "== micro-benchmarks (Google Benchmark, core C API) =="
min_time=0.2
[ "$quick" = 1 ] && min_time=0.02
"$bin/iopfq_micro" --benchmark_min_time="$min_time" --benchmark_out="$out/micro.json" \
	--benchmark_out_format=json 2>/dev/null | tee "$out/micro.txt"

if [ "$quick" = 0 ] && command -v hyperfine >/dev/null; then
	echo
	echo "== hyperfine: vmm_loop answering 20000 groups per device; iopfq sim bring-up and teardown of N devices =="
	"$top/bench/hyperfine.sh" "$top/build/release" "$out" | grep -vE "^ *Warning" || true
fi

if command -v gnuplot >/dev/null; then
	"$top/bench/plots.sh" "$out/data" "$out" >/dev/null 2>&1 || echo "plots failed" >&2
fi
if [ "$results" = 1 ]; then
	cut -d' ' -f1-3 /proc/loadavg >"$out/load_end.txt"
	"$top/bench/results.sh" "$out"
	"$top/bench/history.py" add "$out" --options "${args[*]-}"
fi
echo
echo "results: $out (flood.json is Google Benchmark JSON: bench/compare.py A.json B.json)"
exit $rc
