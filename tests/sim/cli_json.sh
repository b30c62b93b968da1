#!/bin/sh
# cli_json.sh - `iopfq sim --json` prints one JSON object that parses and has
# the documented keys (docs/simulator.md), with the self-checks held, lost and
# duplicated 0, and each misbehaviour refused and counted.
#   cli_json.sh IOPFQ_BINARY
# May touch: nothing but its own temporary output file.
set -u
bin=$1
out=$(mktemp) || exit 2
trap 'rm -f "$out"' EXIT
"$bin" sim --devices 4 --credits 16 --group 1-4 --seconds 0.3 --invalid-pct 10 \
	--misbehave 1:all,2:over-credit --threads 2 --json >"$out" || {
	echo "FAIL: iopfq sim --json exited $?"; cat "$out"; exit 1; }
python3 -c 'import json,sys; json.load(sys.stdin)' <"$out" || { echo "FAIL: not JSON"; cat "$out"; exit 1; }
python3 - "$out" <<'PY' || exit 1
import json, sys
d = json.load(open(sys.argv[1]))
top = ["version", "config", "ok", "elapsed_s", "issue_s", "throughput", "lost", "duplicated",
       "groups", "pages", "latency_ns", "refusals", "misbehaviour", "queue", "consumer", "checks"]
missing = [k for k in top if k not in d]
assert not missing, "missing keys %s" % missing
for k in ["faults_per_s", "groups_per_s"]:
    assert d["throughput"][k] > 0, k
for k in ["count", "min", "p50", "p90", "p99", "p99_9", "max", "mean"]:
    assert k in d["latency_ns"], k
lat = d["latency_ns"]
assert lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99_9"] <= lat["max"], lat
kinds = ["over_credit", "bad_grpid", "bad_pasid", "bad_perm", "stray_marker"]
for k in kinds:
    m = d["misbehaviour"][k]
    assert m["attempts"] > 0 and m["refused"] == m["attempts"] and m["wrong_errno"] == 0, (k, m)
    assert d["refusals"][k] == m["refused"], k
assert d["ok"] is True and d["lost"] == 0 and d["duplicated"] == 0
g = d["groups"]
assert g["issued"] == g["answered"] == g["success"] + g["invalid"] and g["invalid"] > 0, g
assert lat["count"] == g["answered"]
q = d["queue"]
assert q["accepted"] == d["pages"]["issued"] == q["answered"], q
assert q["refused_over_credit"] == d["refusals"]["over_credit"]
assert q["refused_invalid"] == sum(d["refusals"][k] for k in kinds[1:])
assert all(c["ok"] for c in d["checks"]) and len(d["checks"]) >= 10
assert d["config"]["misbehave"] == {"1": ["over-credit", "bad-grpid", "bad-pasid", "bad-perm", "stray-marker"], "2": ["over-credit"]}, d["config"]["misbehave"]
print("json ok: %d groups, p99 %d ns" % (g["answered"], lat["p99"]))
PY
