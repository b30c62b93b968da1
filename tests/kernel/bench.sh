#!/usr/bin/env bash
# Core vs baseline in one boot of Debian's kernel under QEMU TCG: the
# flood's throughput and fault-to-response latency percentiles (from the
# module's in-kernel histograms), as printed by the guest. TCG timings are
# only meaningful as ratios within one run.
# Usage: tests/kernel/bench.sh [FLOOD_SECONDS [--history]]   (default 5)
#   --history: also add the run to bench/history/ (bench/history.py add-kernel)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$("$here/run.sh" --bench --flood "${1:-5}")
rc=$?
echo "$out" | grep -E '^(BENCH|flood|kernel test:)'
if [ "${2:-}" = --history ] && [ $rc = 0 ]; then
	/usr/bin/python3 "$here/../../bench/history.py" add-kernel <(echo "$out" | grep '^BENCH') || rc=1
fi
exit $rc
