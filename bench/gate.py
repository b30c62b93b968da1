#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Judge a change from repeated runs: the regression gate of bench/compare.sh.

Reads several result files (Google Benchmark JSON) of an old and a new build,
made interleaved on the same machine: iopfq_bench's (FILE.json) and, when
present, iopfq_micro's (FILE.micro.json beside it; with repetitions, the
median of each run's repetitions is that run's value). For every ratio metric
of bench/compare.py (iopfq's p50 over the floor and p99.9 over p50, iopfq's
throughput and p50 advantage over each baseline; all measured side by side
within one run) and the CPU time per operation of each micro-benchmark (a
single thread: CPU time does not charge it for preemption) it asks whether
the new samples differ from the old:

  * Mann-Whitney U rank test, two-sided, p-values Holm-corrected over every
    metric tested (so many metrics do not make a false alarm likely);
  * the change is the new median over the old one, with a 95 % bootstrap
    confidence interval (SciPy, percentile method, resampling each side);
  * verdict: "worse" when the corrected p < alpha and the median change is
    worse than the tolerance; "better" likewise the other way; "same" when the
    whole confidence interval lies within +-tolerance; else "can't tell".

The hard invariants (0 lost, 0 duplicated, 0 allocations per fault for iopfq)
fail the gate in any single new run. Exit status: 1 if any metric is worse or
an invariant broke, 0 otherwise, 2 on a usage error.

Usage: bench/gate.py --old A1.json A2.json ... --new B1.json B2.json ...
                     [--tolerance 0.10] [--alpha 0.05]
"""
import argparse
import json
import os
import sys

import numpy as np
from scipy import stats

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import IOPFQ_IMPLS, RATIOS, impl_of, load, load_json  # noqa: E402

# micro-benchmark metric: (direction) +1 means higher is worse
MICRO = {"cpu_time": +1}


def load_run(path):
    """flood/ rows of PATH, plus the BM_ rows of PATH's .micro.json if any."""
    rows = load(path)
    micro = path[:-len(".json")] + ".micro.json"
    if os.path.exists(micro):
        bench = load_json(micro).get("benchmarks", [])
        # with --benchmark_repetitions: the median of the repetitions, one
        # value per run (the runs, not the repetitions, are the samples)
        medians = {b["run_name"]: b for b in bench if b.get("aggregate_name") == "median"}
        for b in bench:
            if b.get("run_type", "iteration") == "iteration":
                rows[b["name"]] = b
        rows.update(medians)
    return rows


def holm(pvalues):
    """Holm-Bonferroni adjusted p-values, in the input order."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    adjusted = [0.0] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def median_ratio(new, old, axis=-1):
    return np.median(new, axis=axis) / np.median(old, axis=axis)


def change_ci(old, new, seed):
    """95 % bootstrap interval of median(new) / median(old) - 1."""
    res = stats.bootstrap((np.asarray(new), np.asarray(old)), median_ratio, vectorized=True,
                          paired=False, n_resamples=2000, method="percentile",
                          random_state=np.random.default_rng(seed))
    return res.confidence_interval.low - 1, res.confidence_interval.high - 1


def samples(runs):
    """name -> metric -> [value per run], for the metrics compare.py judges."""
    out = {}
    for run in runs:
        for name, row in run.items():
            if name.startswith("BM_"):
                for metric in MICRO:
                    out.setdefault(name, {}).setdefault(metric, []).append(float(row[metric]))
                continue
            is_iopfq = impl_of(name) in IOPFQ_IMPLS
            for metric, (rows, _) in RATIOS.items():
                if (rows == "iopfq") != is_iopfq or float(row.get(metric) or 0) <= 0:
                    continue
                out.setdefault(name, {}).setdefault(metric, []).append(float(row[metric]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old", nargs="+", required=True)
    ap.add_argument("--new", nargs="+", required=True)
    ap.add_argument("--tolerance", type=float, default=0.10,
                    help="a change smaller than this is never a regression (default 0.10)")
    ap.add_argument("--alpha", type=float, default=0.05, help="family-wise error rate (default 0.05)")
    a = ap.parse_args()
    old_runs = [load_run(p) for p in a.old if not p.endswith(".micro.json")]
    new_runs = [load_run(p) for p in a.new if not p.endswith(".micro.json")]
    if min(len(old_runs), len(new_runs)) < 3 or not all(old_runs + new_runs):
        print("gate.py: need at least 3 runs of each side, each with flood/ rows", file=sys.stderr)
        return 2
    old, new = samples(old_runs), samples(new_runs)
    tests = []
    for name in sorted(set(old) & set(new)):
        for metric in sorted(set(old[name]) & set(new[name])):
            o, n = old[name][metric], new[name][metric]
            if min(len(o), len(n)) < 3:
                continue
            p = stats.mannwhitneyu(n, o, alternative="two-sided").pvalue
            tests.append((name, metric, o, n, p))
    if not tests:
        print("gate.py: no metric measured in both builds", file=sys.stderr)
        return 2
    padj = holm([t[4] for t in tests])
    counts = {"worse": 0, "better": 0, "same": 0, "can't tell": 0}
    print(f"{len(old_runs)} old and {len(new_runs)} new runs; Mann-Whitney U, Holm-corrected over "
          f"{len(tests)} metrics (family-wise alpha {a.alpha}); tolerance {a.tolerance:.0%}; "
          f"change = median new / median old - 1 [95 % bootstrap CI]")
    print(f"{'benchmark':44} {'metric':24} {'old med':>9} {'new med':>9} {'change':>8} "
          f"{'95% CI':>17} {'p(Holm)':>8}  verdict")
    for k, ((name, metric, o, n, _), p) in enumerate(zip(tests, padj)):
        direction = MICRO[metric] if name.startswith("BM_") else RATIOS[metric][1]
        change = float(np.median(n) / np.median(o) - 1)
        lo, hi = change_ci(o, n, seed=k)
        bad = change * direction
        if p < a.alpha and bad > a.tolerance:
            verdict = "worse"
        elif p < a.alpha and -bad > a.tolerance:
            verdict = "better"
        elif -a.tolerance <= lo and hi <= a.tolerance:
            verdict = "same"
        else:
            verdict = "can't tell"
        counts[verdict] += 1
        print(f"{name:44} {metric:24} {np.median(o):9.3f} {np.median(n):9.3f} {change:+8.1%} "
              f"[{lo:+7.1%},{hi:+7.1%}] {p:8.4f}  {verdict.upper() if verdict == 'worse' else verdict}")
    broken = 0
    for i, run in enumerate(new_runs):
        for name, row in run.items():
            if name.startswith("BM_") or impl_of(name) not in IOPFQ_IMPLS:
                continue
            for metric in ("lost", "duplicated", "allocs_per_fault"):
                if float(row.get(metric, 0)) > 0:
                    print(f"{name:44} {metric:24} new run {i + 1}: {row[metric]}  INVARIANT BROKEN")
                    broken += 1
    unsure = counts["can't tell"]
    print(f"\nverdicts: {counts['worse']} worse, {counts['better']} better, {counts['same']} same, "
          f"{unsure} can't tell; {broken} broken invariant(s)")
    regress = counts["worse"] + broken
    print("GATE: FAIL (a significant regression beyond the tolerance)" if regress else
          "GATE: pass (no significant regression beyond the tolerance)")
    return 1 if regress else 0


if __name__ == "__main__":
    sys.exit(main())
