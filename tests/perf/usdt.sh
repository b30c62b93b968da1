#!/usr/bin/env bash
# The USDT probes of libiopfq (core/platform/iopfq_platform.h lists them):
#  1. lists them from the ELF notes (readelf -n) of the shared library and of
#     the `iopfq` command: report, deliver and answer, provider iopfq, four
#     arguments each, each with a semaphore;
#  2. records them with perf (uprobes) during an `iopfq sim` run and checks
#     the counts against the run's own counters: report = pages accepted,
#     deliver = groups delivered, answer = groups answered; every answer
#     carries a latency > 0 (its semaphore was raised).
# Step 2 needs root, perf and kernel uprobes; without them the test exits 77
# (skipped, and it says why), never 0.
# Usage: tests/perf/usdt.sh LIBIOPFQ_SO IOPFQ_CLI
set -euo pipefail
lib=${1:?usage: usdt.sh LIBIOPFQ_SO IOPFQ_CLI}
cli=${2:?usage: usdt.sh LIBIOPFQ_SO IOPFQ_CLI}
probes="report deliver answer"
fail=0

for bin in "$lib" "$cli"; do
	notes=$(readelf -n "$bin" | grep -A4 'NT_STAPSDT')
	for p in $probes; do
		# the block of this probe: Provider, Name, Location/Semaphore, Arguments
		block=$(grep -B1 -A2 "Name: $p\$" <<<"$notes" || true)
		nargs=$(sed -n 's/^ *Arguments: //p' <<<"$block" | wc -w)
		sem=$(sed -n 's/.*Semaphore: \(0x[0-9a-f]*\).*/\1/p' <<<"$block")
		if grep -q 'Provider: iopfq' <<<"$block" && [ "$nargs" = 4 ] && [ -n "$sem" ] &&
			[ $((sem)) -ne 0 ]; then
			echo "ok: $(basename "$bin"): probe iopfq:$p, 4 arguments, semaphore $sem"
		else
			echo "FAIL: $(basename "$bin"): no probe iopfq:$p with 4 arguments and a semaphore"
			fail=1
		fi
	done
done
[ $fail = 0 ] || { echo "usdt: FAIL"; exit 1; }

skip() { echo "SKIP: $*: the probes were listed but not recorded"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "not root (perf probe writes the kernel's uprobe_events)"
command -v perf >/dev/null || skip "perf not installed (linux-perf)"
if [ ! -e /sys/kernel/tracing/uprobe_events ]; then
	mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
fi
[ -e /sys/kernel/tracing/uprobe_events ] || skip "no uprobe_events in tracefs (kernel without CONFIG_UPROBE_EVENTS?)"

# The probes perf defines are global (uprobe_events): two runs of this test
# at once (two build trees on one machine) would delete each other's.
exec 9>/run/lock/iopfq-usdt.lock
flock 9
work=$(mktemp -d)
cleanup() {
	for p in $probes; do perf probe -q -d "sdt_iopfq:$p" 2>/dev/null || true; done
	perf buildid-cache --remove "$cli" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
perf buildid-cache --add "$cli"
for p in $probes; do
	perf probe -q -d "sdt_iopfq:$p" 2>/dev/null || true
	perf probe -q "sdt_iopfq:$p" 2>"$work/probe.err" || skip "perf probe sdt_iopfq:$p: $(tail -1 "$work/probe.err")"
done
# -m 16M: the 0.2 s run fires ~40 000 probes (~4 MB of samples); a buffer
# that holds them all loses none while a loaded machine delays perf's reader.
perf record -q -m 16M -e 'sdt_iopfq:*' -o "$work/perf.data" -- \
	"$cli" sim --devices 2 --credits 8 --group 4 --seconds 0.2 --json >"$work/sim.json" 2>"$work/record.err" ||
	{ cat "$work/record.err"; echo "FAIL: perf record of iopfq sim"; exit 1; }
perf script -i "$work/perf.data" -F event,trace 2>/dev/null >"$work/script.txt"
PERF_SCRIPT="$work/script.txt" SIM_JSON="$work/sim.json" /usr/bin/python3 - <<'PY'
import collections, json, os, re, sys
sim = json.load(open(os.environ["SIM_JSON"]))
count = collections.Counter()
latencies = []
for line in open(os.environ["PERF_SCRIPT"]):
    m = re.search(r"sdt_iopfq:(\w+):", line)
    if not m:
        continue
    count[m.group(1)] += 1
    if m.group(1) == "answer":
        latencies.append(int(re.search(r"arg4=(\d+)", line).group(1)))
q = sim["queue"]
want = {"report": q["accepted"], "deliver": q["groups_delivered"], "answer": q["groups_answered"]}
fail = 0
for probe, n in want.items():
    ok = count[probe] == n and n > 0
    fail |= not ok
    print(f"{'ok' if ok else 'FAIL'}: sdt_iopfq:{probe} recorded {count[probe]} times, the run counted {n}")
ok = sim["ok"] and latencies and min(latencies) > 0
fail |= not ok
if latencies:
    latencies.sort()
    print(f"{'ok' if ok else 'FAIL'}: answer latencies: {len(latencies)}, min {latencies[0]} ns, "
          f"p50 {latencies[len(latencies) // 2]} ns, max {latencies[-1]} ns; iopfq sim ok: {sim['ok']}")
else:
    print("FAIL: no answer latencies")
sys.exit(1 if fail else 0)
PY
echo "usdt: PASS"
