#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The stock/patched A/B of tests/kernel/iommufd/run.sh --ab: reads the
guests' console logs (fault_rtt's RTT, RTT-NA and ALLOC lines), prints one
table row per fault_rtt row with the patched/stock ratios, and writes the
result as a Google Benchmark-format JSON document (the format bench/ and
bench/history.py use): rows kmod/iommufd/<row>/<kernel>, the medians over
the boots of each kernel.

  ab.py OUT_JSON LOAD_START LOAD_END KERNEL:ROUND:LOG...  [--history DIR] [--command CMD]

LOAD_START and LOAD_END are the host's /proc/loadavg before and after the boots. With --history, the
document is also stored as a run record (kind "iommufd-ab") in DIR, as
bench/history.py does for its runs. Exit 0 when every log had the rows the
others had, 1 otherwise.
"""
import argparse
import json
import os
import re
import statistics
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.dont_write_bytecode = True     # no __pycache__ in the clone
sys.path.insert(0, os.path.join(TOP, "bench"))
import history  # noqa: E402  (bench/history.py: the run record format)

RTT_RE = re.compile(r"^RTT (\S+) (\S+) (.*)$")
ALLOC_RE = re.compile(r"^ALLOC (\S+) (\S+) (.*)$")
NA_RE = re.compile(r"^RTT-NA (\S+) (\S+) (.*)$")
KERNELS = ("stock", "patched")


def kv(text):
    return {k: float(v) for k, v in (p.split("=", 1) for p in text.split() if "=" in p)}


def parse(logs):
    """{(kernel, row): {"rtt": [dict per boot], "alloc": [...], "na": str}}, row order"""
    res, order = {}, []
    for spec in logs:
        kernel, rnd, path = spec.split(":", 2)
        with open(path) as f:
            for line in f:
                line = line.strip()
                for rx, what in ((RTT_RE, "rtt"), (ALLOC_RE, "alloc"), (NA_RE, "na")):
                    m = rx.match(line)
                    if not m or m.group(1) != kernel:
                        continue
                    row = m.group(2)
                    if row not in order:
                        order.append(row)
                    e = res.setdefault((kernel, row), {"rtt": [], "alloc": [], "na": ""})
                    if what == "na":
                        e["na"] = m.group(3)
                    else:
                        e[what].append(kv(m.group(3)))
                    break
    return res, order


def med(vals):
    return statistics.median(vals) if vals else None


def summary(e):
    """medians over the boots: p50, p99, p999, max, rate, faults/s, allocs/fault"""
    if not e or not e["rtt"]:
        return None
    s = {k: med([r[k] for r in e["rtt"] if k in r])
         for k in ("p50", "p99", "p999", "max", "rate", "faults_per_s", "n")}
    s["per_fault"] = med([a["per_fault"] for a in e["alloc"]])
    s["boots"] = len(e["rtt"])
    # the spread between boots of one kernel: how far apart two boots of the same script land
    p50s = [r["p50"] for r in e["rtt"]]
    s["boot_spread"] = max(p50s) / min(p50s) if len(p50s) > 1 and min(p50s) > 0 else None
    return s


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt(x, unit=""):
    if x is None:
        return "-"
    if unit == "us":
        return f"{x / 1000:.1f}"
    if unit == "k":
        return f"{x / 1000:.0f}k"
    if unit == "x":
        return f"{x:.2f}"
    return f"{x:.2f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("load_start")
    ap.add_argument("load_end")
    ap.add_argument("logs", nargs="+")
    ap.add_argument("--history")
    ap.add_argument("--command", default="tests/kernel/iommufd/run.sh --ab")
    a = ap.parse_args()
    res, order = parse(a.logs)
    ok = True
    print("A/B through the real fault FD (fault_rtt in the guest; medians over each kernel's boots)")
    print("Under QEMU TCG the absolute times are the emulator's: only the patched/stock ratios of "
          "one run of this script, and ratios between two runs of it, mean anything.")
    hdr = (f"{'row':<14} {'stock p50/p99/p99.9 us':>23} {'f/s':>6} {'a/f':>5} | "
           f"{'patched p50/p99/p99.9 us':>24} {'f/s':>6} {'a/f':>5} | "
           f"{'ratio p50':>9} {'p99':>5} {'p99.9':>5} {'f/s':>5}")
    print(hdr)
    rows = []
    for row in order:
        s = {k: summary(res.get((k, row))) for k in KERNELS}
        na = {k: (res.get((k, row)) or {}).get("na", "") for k in KERNELS}
        cells = []
        for k in KERNELS:
            if s[k]:
                cells.append(f"{fmt(s[k]['p50'], 'us'):>7}/{fmt(s[k]['p99'], 'us'):>6}/"
                             f"{fmt(s[k]['p999'], 'us'):>8} {fmt(s[k]['faults_per_s'], 'k'):>6} "
                             f"{fmt(s[k]['per_fault']):>5}")
            else:
                cells.append(f"{'not possible' if na[k] else 'missing':>36}")
            if not s[k] and not na[k]:
                ok = False
        r = {m: ratio(s["patched"][m], s["stock"][m]) if s["stock"] and s["patched"] else None
             for m in ("p50", "p99", "p999", "rate", "faults_per_s")}
        print(f"{row:<14} {cells[0]} | {cells[1]} | {fmt(r['p50']):>9} {fmt(r['p99']):>5} "
              f"{fmt(r['p999']):>5} {fmt(r['faults_per_s']):>5}")
        if na["stock"] and na["stock"] == na["patched"]:
            print(f"{'':<14} both: {na['stock']}")
        else:
            for k in KERNELS:
                if na[k]:
                    print(f"{'':<14} {k}: {na[k]}")
        for k in KERNELS:
            name = f"kmod/iommufd/{row}/{k}"
            if not s[k]:
                rows.append({"name": name, "run_type": "iteration", "iterations": 0,
                             "real_time": 0, "cpu_time": 0, "time_unit": "ns",
                             "error_occurred": True,
                             "error_message": na[k] or "no result"})
                continue
            b = {"name": name, "run_type": "iteration", "iterations": int(s[k]["n"]),
                 "real_time": s[k]["p50"], "cpu_time": s[k]["p50"], "time_unit": "ns",
                 "p50_ns": s[k]["p50"], "p99_ns": s[k]["p99"], "p999_ns": s[k]["p999"],
                 "max_ns": s[k]["max"], "groups_per_second": s[k]["rate"],
                 "faults_per_second": s[k]["faults_per_s"], "boots": s[k]["boots"]}
            if s[k]["per_fault"] is not None:
                b["allocs_per_fault"] = s[k]["per_fault"]
            if s[k]["p50"]:
                b["ratio_p999_to_p50"] = round(s[k]["p999"] / s[k]["p50"], 4)
            if s[k]["boot_spread"]:
                b["ratio_boot_spread_p50"] = round(s[k]["boot_spread"], 4)
            # the dashboard's ratios, on the baseline row as bench/history.py
            # puts them: the patched kernel is the one running on iopfq
            if k == "stock" and r["rate"] is not None:
                b["ratio_iopfq_throughput"] = round(r["rate"], 4)
            if k == "stock" and r["p50"]:
                b["ratio_p50_to_iopfq"] = round(1 / r["p50"], 4)
            if k == "patched":
                for m, key in (("p50", "ratio_p50_to_stock"), ("p99", "ratio_p99_to_stock"),
                               ("p999", "ratio_p999_to_stock"), ("rate", "ratio_throughput_to_stock")):
                    if r[m] is not None:
                        b[key] = round(r[m], 4)
            rows.append(b)
    spread = [f"{k} {row} {summary(res[(k, row)])['boot_spread']:.2f}"
              for row in order for k in KERNELS
              if summary(res.get((k, row))) and summary(res[(k, row)])["boot_spread"]]
    if spread:
        print("p50 spread between boots of the same kernel (max/min): " + ", ".join(spread))
    print("a/f: allocations per fault (kmem:kmalloc + kmem_cache_alloc + mm_page_alloc in the guest, "
          "the test op's own included); f/s: faults (page requests) per second; ratios patched/stock")
    load = history.loads(a.load_start) + history.loads(a.load_end)
    commit = history.git("rev-parse", "HEAD") or "unknown"
    manifest = {
        "kind": "iommufd-ab",
        "date": history.now_utc(),
        **history.commit_info(commit),
        "tree": history.tree_state(),
        "quick": False,
        "machine": history.machine(),
        "floors": {},
        "load": {"start": load[:3], "end": load[3:6]},
        "command": a.command,
    }
    context = {"date": manifest["date"], "host_name": manifest["machine"]["host"],
               "executable": "fault_rtt (QEMU TCG guest, 1 vCPU)", "num_cpus": 1,
               "load_avg": load[3:6]}
    doc = {"context": dict(context, iopfq_run=manifest), "benchmarks": rows}
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"A/B JSON (Google Benchmark format): {a.out}")
    if a.history:
        print(f"history record: {history.write_record(a.history, manifest, context, rows)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
