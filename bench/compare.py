#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Flag regressions between two iopfq_bench result files (Google Benchmark
JSON, as run.sh writes them to build/release/bench/out/flood.json).

Only machine-independent metrics are compared: ratios measured within one
run (iopfq's latency to the physical floor, iopfq's throughput advantage over
each baseline, tail-to-median), plus the hard invariants (0 lost,
0 duplicated, 0 allocations per fault for iopfq). Absolute times drift
between runs and machines; for those, libbenchmark-tools' compare.py reads
the same files.

Usage: bench/compare.py OLD.json NEW.json [--tolerance 0.15]
Exit status: 0 no regression, 1 regression(s), 2 usage error.
"""
import argparse
import json
import re
import sys

# metric: (which rows, direction): +1 means higher is worse, -1 lower is worse
RATIOS = {
    "ratio_p50_to_floor": ("iopfq", +1),
    "ratio_p999_to_p50": ("iopfq", +1),
    "ratio_iopfq_throughput": ("baselines", -1),
    "ratio_p50_to_iopfq": ("baselines", -1),
}
IOPFQ_IMPLS = ("iopfq", "libiopfq")


# iopfq_bench before 2026-12-02 wrote a ratio with nothing under it as a bare
# inf or nan, which is not JSON; read such a value as null (not measured)
_NOT_A_NUMBER = re.compile(r'(:\s*)-?(?:inf|nan)\b')


def load_json(path):
    """PATH's JSON, with the old binaries' bare inf/nan values read as null."""
    with open(path) as f:
        return json.loads(_NOT_A_NUMBER.sub(r"\1null", f.read()))


def load(path):
    doc = load_json(path)
    return {b["name"]: b for b in doc.get("benchmarks", []) if b["name"].startswith("flood/")}


def impl_of(name):
    return name.rsplit("/", 1)[-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--tolerance", type=float, default=0.15,
                    help="relative change of a ratio that counts as a regression (default 0.15)")
    a = ap.parse_args()
    old, new = load(a.old), load(a.new)
    if not old or not new:
        print("compare.py: no flood/ benchmarks in one of the files", file=sys.stderr)
        return 2
    regressions = 0
    print(f"{'benchmark':52} {'metric':24} {'old':>9} {'new':>9} {'change':>8}")
    for name in sorted(set(old) & set(new)):
        o, n = old[name], new[name]
        is_iopfq = impl_of(name) in IOPFQ_IMPLS
        for metric, (rows, direction) in RATIOS.items():
            if (rows == "iopfq") != is_iopfq or o.get(metric) is None or n.get(metric) is None:
                continue
            ov, nv = float(o[metric]), float(n[metric])
            if ov <= 0 or nv <= 0:
                continue
            change = (nv - ov) / ov
            worse = change * direction > a.tolerance
            if worse or abs(change) > a.tolerance:
                flag = "REGRESSION" if worse else "improved"
                print(f"{name:52} {metric:24} {ov:9.3f} {nv:9.3f} {change:+8.1%} {flag}")
            regressions += worse
        if is_iopfq:
            for metric in ("lost", "duplicated", "allocs_per_fault"):
                if float(n.get(metric, 0)) > 0:
                    print(f"{name:52} {metric:24} {o.get(metric, 0):>9} {n[metric]:>9}          FAILURE")
                    regressions += 1
    missing = sorted(set(old) - set(new))
    for name in missing:
        print(f"{name:52} missing from the new file")
    print(f"\n{regressions} regression(s) beyond {a.tolerance:.0%} in {len(set(old) & set(new))} common benchmarks")
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())
