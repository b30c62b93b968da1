#!/usr/bin/env bash
# hyperfine on what a user times end to end:
#  1. examples/vmm_loop answering a fixed 20000 groups per device (1 or 4
#     devices, 32 credits each): a VMM's fault loop (epoll, read, write) on
#     libiopfq, whole process, fixed work;
#  2. bringing a libiopfq fault FD up
# with N simulated devices attached, 1 ms of faults, draining and tearing it
# all down (destroy detaches every device; each detach walks only that
# device's list of issued slots, docs/perf.md), as one `iopfq sim` process. The flood scenarios run for a fixed time, so timing
# their processes says nothing; this does fixed work, and its wall time is
# the cost. --busy-poll: the consumer spins, so that the end of the run is
# not held up by the 20 ms epoll_wait timeout of the simulator's consumer.
# Usage: bench/hyperfine.sh BUILD_DIR OUT_DIR   (writes hyperfine.md and hyperfine.json)
set -euo pipefail
build=${1:?usage: bench/hyperfine.sh BUILD_DIR OUT_DIR}
out=${2:?usage: bench/hyperfine.sh BUILD_DIR OUT_DIR}
out=$(cd "$out" && pwd)
cd "$build" # the tables name the programs relative to the build directory
hyperfine --style basic --warmup 1 --runs 5 --parameter-list devices 1,4 \
	--export-markdown "$out/hyperfine_vmm.md" --export-json "$out/hyperfine_vmm.json" \
	"examples/vmm_loop --devices {devices} --credits 32 --groups 20000" 2>&1 | grep -vE "^\s*$"
hyperfine --style basic --warmup 2 --runs 10 --parameter-list devices 1,16,256,1024 \
	--export-markdown "$out/hyperfine_sim.md" --export-json "$out/hyperfine_sim.json" \
	"user-adapter/sim/iopfq sim --devices {devices} --credits 32 --seconds 0.001 --busy-poll" 2>&1 |
	grep -vE "^\s*$"
cat "$out/hyperfine_vmm.md" "$out/hyperfine_sim.md" >"$out/hyperfine.md"
