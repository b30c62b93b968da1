#!/usr/bin/env bash
# Runs a libFuzzer target for a bounded time on a scratch copy of its seed
# corpus (the committed corpus is never modified). A crash, a leak, a
# sanitizer report or a failed check fails the test; the reproducer is kept
# in build/ and its path printed.
#   tests/fuzz/run.sh <fuzzer binary> <seed corpus dir> <seconds>
# To fuzz longer: run the binary yourself, e.g.
#   build/asan/tests/fuzz/fuzz_write -max_total_time=3600 /tmp/corpus tests/fuzz/corpus/fuzz_write
set -euo pipefail
bin=$1 seeds=$2 seconds=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
cp -r "$seeds"/. "$work/corpus/" 2>/dev/null || true
artifacts=$(dirname "$bin")/fuzz-artifacts/
mkdir -p "$artifacts"
# rss_limit: the machine has 24 GiB and 2 cores; one job, bounded time
"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	-artifact_prefix="$artifacts" "$work/corpus" "$seeds" 2>"$work/log" || {
	tail -60 "$work/log"
	echo "FAIL: $(basename "$bin"): reproducer in $artifacts"
	exit 1
}
grep -E '^stat::number_of_executed_units|^stat::new_units_added|^stat::peak_rss_mb' "$work/log" | tr '\n' ' '
echo
echo "ok: $(basename "$bin") ran ${seconds}s without a failure"
