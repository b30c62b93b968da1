#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Renders the benchmark history (bench/history/, see bench/history.py) as a
static site that opens from the file system: index.html (per scenario, trend
charts across runs of the ratios and of the absolute percentiles with their
floors; a table of the latest run with regressions marked), one page per run
(runs/ID.html: manifest, commit, every row; runs/ID.json: the record), and
Chart.js copied from Debian's libjs-chart.js. bench/dashboard.sh runs it.

Usage: bench/dashboard.py OUT_DIR [--history DIR] [--chartjs FILE] [--tolerance T]
"""
import argparse
import html
import json
import math
import os
import shutil
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import RATIOS, IOPFQ_IMPLS  # noqa: E402
from history import HISTORY, TOP, load_history  # noqa: E402

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dashboard")
CHARTJS = "/usr/share/javascript/chart.js/chart.min.js"
# how many earlier runs of the same kind the latest one is judged against,
# how many it needs at least, and how many (scaled) median absolute
# deviations of theirs a move must exceed to be marked
WINDOW = 10
MIN_EARLIER = 3
MAD_SPREAD = 3
LABELS = {
    "ratio_p50_to_floor": "p50 / floor",
    "ratio_p999_to_p50": "p99.9 / p50",
    "ratio_iopfq_throughput": "iopfq throughput / this row's",
    "ratio_p50_to_iopfq": "this row's p50 / iopfq's",
}


def split_name(name):
    """flood/8x32/g4/busy/iopfq -> (flood/8x32/g4/busy, iopfq)"""
    scen, _, impl = name.rpartition("/")
    return scen, impl


def series(runs):
    """Per scenario, per implementation, per run index: the row (or None)."""
    scen = {}
    for i, run in enumerate(runs):
        for row in run["benchmarks"]:
            name = row["name"]
            if not (name.startswith("flood/") or name.startswith("kmod/")):
                continue
            s, impl = split_name(name)
            scen.setdefault(s, {}).setdefault(impl, {})[i] = row
    return scen


def floor_p(run, which, pct):
    for row in run["benchmarks"]:
        if row["name"] == f"floor/{which}":
            return row.get(pct)
    return None


def judge(runs, latest, tolerance):
    """Marks each ratio of the latest run against up to WINDOW earlier runs
    of the same kind and length (quick or full), on a log scale: worse
    (better) when it is further from their median, in the bad (good)
    direction, than both the tolerance and MAD_SPREAD times their median
    absolute deviation (scaled to a standard deviation). A ratio that
    scatters from run to run on this machine thus needs a larger move to be
    marked. It needs MIN_EARLIER earlier values; else it is left unmarked."""
    m = runs[latest]["context"]["iopfq_run"]
    earlier = [r for r in runs[:latest]
               if r["context"]["iopfq_run"]["kind"] == m["kind"]
               and r["context"]["iopfq_run"]["quick"] == m["quick"]][-WINDOW:]
    marks = {}
    for row in runs[latest]["benchmarks"]:
        _, impl = split_name(row["name"])
        for metric, (rows, direction) in RATIOS.items():
            if metric not in row or (rows == "iopfq") != (impl in IOPFQ_IMPLS):
                continue
            old = [math.log(r[metric]) for run in earlier for r in run["benchmarks"]
                   if r["name"] == row["name"] and r.get(metric, 0) > 0]
            if len(old) < MIN_EARLIER or row[metric] <= 0:
                continue
            median = statistics.median(old)
            mad = 1.4826 * statistics.median(abs(x - median) for x in old)
            threshold = max(math.log1p(tolerance), MAD_SPREAD * mad)
            move = (math.log(row[metric]) - median) * direction
            if abs(move) > threshold:
                marks[(row["name"], metric)] = ("worse" if move > 0 else "better",
                                                math.expm1(move * direction))
    return marks, len(earlier)


def git_show(commit):
    if not commit or commit == "unknown":
        return "commit unknown (the run was not made in a git checkout)"
    try:
        return subprocess.run(["git", "-C", TOP, "show", "--stat", "--format=fuller", commit],
                              check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return f"commit {commit} is not in this repository"


def fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    return html.escape(str(v))


def page(title, body, depth=0):
    up = "../" * depth
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><link rel=\"stylesheet\" href=\"{up}style.css\">"
            f"</head><body>\n{body}\n</body></html>\n")


def run_page(run):
    m = run["context"]["iopfq_run"]
    rows = run["benchmarks"]
    keys = []
    for r in rows:
        for k in r:
            if k not in keys and k not in ("name", "run_type", "time_unit"):
                keys.append(k)
    man = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(json.dumps(v))}</td></tr>"
                  for k, v in m.items())
    table = ("<table class=\"rows\"><tr><th>name</th>" + "".join(f"<th>{html.escape(k)}</th>" for k in keys)
             + "</tr>" + "".join("<tr><td>" + html.escape(r["name"]) + "</td>"
                                 + "".join(f"<td>{fmt(r.get(k, ''))}</td>" for k in keys) + "</tr>"
                                 for r in rows) + "</table>")
    body = (f"<p><a href=\"../index.html\">dashboard</a></p><h1>Run {html.escape(m['id'])}</h1>"
            f"<p>The record as stored: <a href=\"{html.escape(m['id'])}.json\">{html.escape(m['id'])}.json</a></p>"
            f"<h2>Manifest</h2><table>{man}</table>"
            f"<h2 id=\"commit\">Commit</h2><pre>{html.escape(git_show(m.get('commit')))}</pre>"
            f"<h2>Rows</h2>{table}")
    return page(f"iopfq run {m['id']}", body, 1)


def chart_data(runs, scen):
    """What dashboard.js draws: per scenario, three charts, one value per run."""
    charts = []
    for s in sorted(scen):
        impls = scen[s]
        iop = impls.get("iopfq", {})
        base = [i for i in sorted(impls) if i not in IOPFQ_IMPLS]
        rat = []
        for b in base:
            for metric in ("ratio_iopfq_throughput", "ratio_p50_to_iopfq"):
                vals = [impls[b].get(i, {}).get(metric) for i in range(len(runs))]
                if any(vals):
                    label = ("iopfq throughput / " if metric == "ratio_iopfq_throughput"
                             else "p50 ratio ") + b + ("" if metric == "ratio_iopfq_throughput" else " / iopfq")
                    rat.append({"label": label, "data": vals, "metric": metric})
        own = []
        for metric in ("ratio_p50_to_floor", "ratio_p999_to_p50"):
            vals = [iop.get(i, {}).get(metric) for i in range(len(runs))]
            if any(vals):
                own.append({"label": "iopfq " + LABELS[metric], "data": vals, "metric": metric})
        absn = []
        for pct in ("p50_ns", "p99_ns", "p999_ns"):
            vals = [iop.get(i, {}).get(pct) for i in range(len(runs))]
            if any(vals):
                absn.append({"label": "iopfq " + pct[:-3].replace("p999", "p99.9"), "data": vals})
        floors = {iop[i].get("floor") for i in iop if iop[i].get("floor")}
        for fl in sorted(floors):
            for pct in ("p50_ns", "p99_ns"):
                vals = [floor_p(run, fl, pct) if iop.get(i, {}).get("floor") == fl else None
                        for i, run in enumerate(runs)]
                if any(vals):
                    absn.append({"label": f"{fl} floor {pct[:-3]}", "data": vals, "floor": True})
        charts.append({"scenario": s, "ratios": rat, "own": own, "absolute": absn})
    return charts


def load_text(m):
    """The 1-minute load average at the start and the end of a run."""
    start, end = m.get("load", {}).get("start") or ["?"], m.get("load", {}).get("end") or ["?"]
    return html.escape(f"{start[0]} at the start, {end[0]} at the end")


def latest_table(runs, scen, tolerance):
    if not runs:
        return "<p>The history is empty: run <code>bench/run.sh --results</code>.</p>", 0
    latest = len(runs) - 1
    m = runs[latest]["context"]["iopfq_run"]
    marks, n_earlier = judge(runs, latest, tolerance)
    metrics = list(RATIOS)
    head = ("<tr><th>benchmark</th><th>faults/s or groups/s</th><th>p50 ns</th><th>p99.9 ns</th>"
            + "".join(f"<th>{html.escape(LABELS[k])}</th>" for k in metrics) + "</tr>")
    body = []
    worse = 0
    for row in runs[latest]["benchmarks"]:
        if not (row["name"].startswith("flood/") or row["name"].startswith("kmod/")):
            continue
        cells = []
        for k in metrics:
            if k not in row:
                cells.append("<td></td>")
                continue
            mark = marks.get((row["name"], k))
            cls, note = "", ""
            if mark:
                cls = f" class=\"{mark[0]}\""
                note = f" <span class=\"mark\">{mark[0]} {mark[1]:+.0%}</span>"
                worse += mark[0] == "worse"
            cells.append(f"<td{cls}>{row[k]:.3g}{note}</td>")
        rate = row.get("faults_per_second", row.get("groups_per_second", 0))
        body.append(f"<tr><td>{html.escape(row['name'])}</td><td>{rate:.4g}</td>"
                    f"<td>{row.get('p50_ns', 0):.4g}</td><td>{row.get('p999_ns', 0):.4g}</td>"
                    + "".join(cells) + "</tr>")
    link = f"runs/{html.escape(m['id'])}.html"
    intro = (f"<p>Run <a href=\"{link}\">{html.escape(m['id'])}</a>, commit "
             f"<a href=\"{link}#commit\">{html.escape(m['commit'][:12])}</a> ({html.escape(m['tree'])}, "
             f"{'--quick' if m['quick'] else 'full'} run, load average {load_text(m)}), judged against "
             f"{n_earlier} earlier {m['kind']} run(s) of the same length: a ratio is marked "
             f"<span class=\"worse\">worse</span> (<span class=\"better\">better</span>) when it lies "
             f"further from the median of up to {WINDOW} earlier runs, in the bad (good) direction, than "
             f"both {tolerance:.0%} and {MAD_SPREAD} times their spread (median absolute deviation, "
             f"log scale); fewer than {MIN_EARLIER} earlier runs mark nothing. A single run on a shared "
             f"VM is noisy: <code>bench/compare.sh OLD NEW</code> decides from repeated interleaved "
             f"runs.</p>"
             f"<p id=\"regressions\" data-worse=\"{worse}\">{worse} ratio(s) marked worse.</p>")
    return intro + "<table class=\"latest\">" + head + "".join(body) + "</table>", worse


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--history", default=HISTORY)
    ap.add_argument("--chartjs", default=CHARTJS)
    ap.add_argument("--tolerance", type=float, default=0.15)
    a = ap.parse_args()
    if not os.path.exists(a.chartjs):
        print(f"dashboard.py: {a.chartjs} not found (Debian package libjs-chart.js)", file=sys.stderr)
        return 2
    runs = load_history(a.history)
    os.makedirs(os.path.join(a.out, "runs"), exist_ok=True)
    shutil.copyfile(a.chartjs, os.path.join(a.out, "chart.min.js"))
    for f in ("dashboard.js", "style.css"):
        shutil.copyfile(os.path.join(HERE, f), os.path.join(a.out, f))
    for run in runs:
        rid = run["context"]["iopfq_run"]["id"]
        with open(os.path.join(a.out, "runs", rid + ".html"), "w") as f:
            f.write(run_page(run))
        with open(os.path.join(a.out, "runs", rid + ".json"), "w") as f:
            json.dump(run, f, indent=1)
    scen = series(runs)
    data = {
        "runs": [{"id": r["context"]["iopfq_run"]["id"], "commit": r["context"]["iopfq_run"]["commit"],
                  "subject": r["context"]["iopfq_run"].get("subject", ""),
                  "date": r["context"]["iopfq_run"]["date"], "tree": r["context"]["iopfq_run"]["tree"],
                  "kind": r["context"]["iopfq_run"]["kind"], "quick": r["context"]["iopfq_run"]["quick"]}
                 for r in runs],
        "charts": chart_data(runs, scen),
    }
    with open(os.path.join(a.out, "data.js"), "w") as f:
        f.write("/* generated by bench/dashboard.py from bench/history/ */\nconst DASHBOARD = ")
        json.dump(data, f, separators=(",", ":"))
        f.write(";\n")
    table, _ = latest_table(runs, scen, a.tolerance)
    body = (f"<h1>iopfq benchmark history</h1>"
            f"<p>{len(runs)} run(s) from <code>bench/history/</code>, oldest first. Every chart has one point "
            f"per run (click a point for its run and commit). On a shared VM absolute times move with where "
            f"the host places the vCPUs; the ratios were measured side by side within one run and move much "
            f"less. Floors are drawn dashed beside the absolute percentiles.</p>"
            f"<h2>Trends per scenario</h2><div id=\"charts\"></div><h2>Latest run</h2>{table}"
            f"<pre id=\"errors\"></pre>"
            f"<script src=\"chart.min.js\"></script><script src=\"data.js\"></script>"
            f"<script src=\"dashboard.js\"></script>")
    with open(os.path.join(a.out, "index.html"), "w") as f:
        f.write(page("iopfq benchmark history", body))
    n = sum(bool(c["ratios"]) + bool(c["own"]) + bool(c["absolute"]) for c in data["charts"])
    print(f"dashboard: {os.path.join(a.out, 'index.html')} ({len(runs)} runs, {len(data['charts'])} scenarios, {n} charts)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
