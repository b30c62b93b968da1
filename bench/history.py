#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The benchmark history: one compact JSON file per run in bench/history/.

Each record is a Google Benchmark-format document (the "context" object and
the "benchmarks" array that libbenchmark-tools' compare.py and bench/compare.py
read), with the run's manifest in context["iopfq_run"]: commit, tree state,
machine, the physical floors measured, the load average at start and end,
and whether it was a --quick run. Rows are the flood benchmark's (flood/...,
floor/...; latency percentiles and ratios, no histograms), the micro-benchmarks'
(BM_...) and, for a kernel run, kmod/... rows built from the guest's BENCH
lines. Fields that were not measured (-1) are left out.

  bench/history.py add OUT_DIR [--options "OPTS"]   a bench/run.sh output directory
  bench/history.py add-kernel LOG        the output of tests/kernel/bench.sh
  bench/history.py list                  one line per stored run

Options: --history DIR (default bench/history), --commit REV (add-kernel:
the commit measured; default HEAD).
"""
import argparse
import datetime
import json
import os
import re
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HISTORY = os.path.join(TOP, "bench", "history")
# Google Benchmark's fields a row keeps even when they repeat another one
GB_KEEP = ("name", "run_type", "iterations", "real_time", "cpu_time", "time_unit")
DROP = {"run_name", "repetitions", "repetition_index"}


def git(*args):
    try:
        return subprocess.run(["git", "-C", TOP, *args], check=True, capture_output=True,
                              text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def tree_state():
    """"clean", "N uncommitted change(s)" in tracked files, or "unknown" where
    there is no git or no git checkout (a tarball, a copied tree)."""
    if not git("rev-parse", "--git-dir"):
        return "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return "clean" if not dirty else f"{len(dirty.splitlines())} uncommitted change(s)"


def read(path, default=""):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def compact_row(row):
    """A benchmark row without the fields that repeat the name or were not measured."""
    out = {}
    for k, v in row.items():
        if k in DROP and k not in GB_KEEP:
            continue
        if isinstance(v, float):
            if v == -1.0 and k not in GB_KEEP:
                continue
            v = float(f"{v:.4g}") if abs(v) < 1e4 else round(v, 1)
        out[k] = v
    return out


def machine():
    cpu = ""
    for line in read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {"cpu": cpu, "cpus": os.cpu_count(), "kernel": os.uname().release,
            "host": os.uname().nodename}


def commit_info(commit):
    """Commit id, date and subject (unknown outside a git checkout)."""
    if not commit or commit == "unknown":
        return {"commit": "unknown"}
    info = {"commit": commit}
    line = git("log", "-1", "--format=%cI%x00%s", commit)
    if line:
        info["commit_date"], info["subject"] = line.split("\x00", 1)
    return info


def loads(text):
    nums = re.findall(r"[0-9]+\.[0-9]+", text)
    return [float(x) for x in nums[:3]]


def floors_of(rows):
    return {r["name"].split("/", 1)[1]: {k: r[k] for k in ("p50_ns", "p99_ns") if k in r}
            for r in rows if r["name"].startswith("floor/")}


def write_record(history, manifest, context, rows):
    os.makedirs(history, exist_ok=True)
    stamp = manifest["date"].replace("-", "").replace(":", "")
    short = manifest["commit"][:10]
    run_id = f"{stamp}_{short}_{manifest['kind']}"
    manifest["id"] = run_id
    doc = {"context": dict(context, iopfq_run=manifest), "benchmarks": rows}
    path = os.path.join(history, run_id + ".json")
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"), sort_keys=False)
        f.write("\n")
    return path


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def add_flood(out, history, options):
    with open(os.path.join(out, "flood.json")) as f:
        flood = json.load(f)
    rows = [compact_row(r) for r in flood.get("benchmarks", [])]
    micro_path = os.path.join(out, "micro.json")
    if os.path.exists(micro_path):
        with open(micro_path) as f:
            rows += [compact_row(r) for r in json.load(f).get("benchmarks", [])]
    dirty = read(os.path.join(out, "dirty.txt"), "")
    manifest = {
        "kind": "flood",
        "date": now_utc(),
        **commit_info(read(os.path.join(out, "commit.txt"), "unknown")),
        "tree": ("unknown" if dirty in ("", "unknown")
                 else "clean" if dirty == "0" else f"{dirty} uncommitted change(s)"),
        "quick": "--quick" in options.split(),
        "machine": machine(),
        "floors": floors_of(rows),
        "load": {"start": loads(read(os.path.join(out, "load.txt"))),
                 "end": loads(read(os.path.join(out, "load_end.txt")))},
        "command": " ".join(["bench/run.sh --results", options]).strip(),
    }
    return write_record(history, manifest, flood.get("context", {}), rows)


BENCH_RE = re.compile(r"^BENCH mode=(\w+) producer=(\w+) (.*)$")


def add_kernel(log, commit, history):
    """kmod/flood/<producer>/<mode> rows from the guest's BENCH lines."""
    with open(log) as f:
        text = f.read()
    parsed = {}
    for line in text.splitlines():
        m = BENCH_RE.match(line.strip())
        if m:
            vals = dict(kv.split("=", 1) for kv in m.group(3).split())
            parsed[(m.group(1), m.group(2))] = {k: float(v) for k, v in vals.items()}
    if not parsed:
        raise SystemExit(f"history.py: no BENCH lines in {log}")
    rows = []
    for (mode, producer), v in sorted(parsed.items()):
        core = parsed.get(("core", producer), {})
        gps = v.get("groups_per_s", 0)
        row = {"name": f"kmod/flood/{producer}/{'iopfq' if mode == 'core' else 'iommufd-baseline'}",
               "run_type": "iteration", "iterations": 1,
               "real_time": 1e9 / gps if gps else 0, "cpu_time": 1e9 / gps if gps else 0,
               "time_unit": "ns", "groups_per_second": gps}
        for k in ("p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns", "mean_ns"):
            if k in v:
                row[k] = v[k]
        if v.get("p50_ns"):
            row["ratio_p999_to_p50"] = round(v.get("p999_ns", 0) / v["p50_ns"], 4)
        if mode != "core" and gps and core.get("groups_per_s"):
            row["ratio_iopfq_throughput"] = round(core["groups_per_s"] / gps, 4)
        if mode != "core" and core.get("p50_ns") and v.get("p50_ns"):
            row["ratio_p50_to_iopfq"] = round(v["p50_ns"] / core["p50_ns"], 4)
        rows.append(row)
    manifest = {
        "kind": "kernel",
        "date": now_utc(),
        **commit_info(git("rev-parse", commit) or "unknown"),
        "tree": tree_state(),
        "quick": False,
        "machine": machine(),
        "floors": {},
        "load": {"start": [], "end": loads(read("/proc/loadavg"))},
        "command": "tests/kernel/bench.sh",
    }
    context = {"date": manifest["date"], "host_name": manifest["machine"]["host"],
               "executable": "iopfq_ktest (QEMU TCG guest)", "num_cpus": 2}
    return write_record(history, manifest, context, rows)


def load_history(history=HISTORY):
    """Every stored run, oldest first (by the date in its manifest)."""
    runs = []
    if not os.path.isdir(history):
        return runs
    for name in os.listdir(history):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(history, name)) as f:
            doc = json.load(f)
        if "iopfq_run" in doc.get("context", {}):
            runs.append(doc)
    runs.sort(key=lambda d: d["context"]["iopfq_run"]["date"])
    return runs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("add", "add-kernel", "list"))
    ap.add_argument("path", nargs="?")
    ap.add_argument("--history", default=HISTORY)
    ap.add_argument("--commit", default="HEAD")
    ap.add_argument("--options", default="", help="add: the options bench/run.sh ran with")
    a = ap.parse_args()
    if a.what == "add":
        print("history:", os.path.relpath(add_flood(a.path or "build/release/bench/out", a.history, a.options), TOP))
    elif a.what == "add-kernel":
        if not a.path:
            ap.error("add-kernel needs the log file")
        print("history:", os.path.relpath(add_kernel(a.path, a.commit, a.history), TOP))
    else:
        for d in load_history(a.history):
            m = d["context"]["iopfq_run"]
            print(f"{m['id']:48} {m['commit'][:10]:10} {m['tree']:28} {'quick' if m['quick'] else 'full':5} "
                  f"{len(d['benchmarks']):4} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
