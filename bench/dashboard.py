#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Renders the benchmark history (bench/history/, see bench/history.py) as a
static site that opens from the file system: index.html (per scenario, trend
charts across runs of the ratios and of the absolute percentiles, with the
floors of a flood run and both kernels of an iommufd A/B; for each kind of
run, a table of its newest run with regressions marked against the earlier
runs of that kind; a list of every run), one page per run (runs/ID.html:
manifest, commit, every row; runs/ID.json: the record), and Chart.js copied
from Debian's libjs-chart.js. bench/dashboard.sh runs it.

Usage: bench/dashboard.py OUT_DIR [--history DIR] [--chartjs FILE] [--tolerance T]
"""
import argparse
import functools
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
# the rows a ratio is about: iopfq (and libiopfq) in bench/run.sh's flood and
# the kernel module's A/B, the patched kernel in the iommufd A/B, whose stock
# rows carry the baseline ratios (tests/kernel/iommufd/ab.py)
SUBJECTS = IOPFQ_IMPLS + ("patched",)
SCENARIO_PREFIXES = ("flood/", "kmod/")
KINDS = {
    "flood": "Flood runs",
    "iommufd-ab": "Kernel A/B: stock iommufd against the patched series",
    "kernel": "Kernel module A/B",
}


def split_name(name):
    """flood/8x32/g4/busy/iopfq -> (flood/8x32/g4/busy, iopfq)"""
    scen, _, impl = name.rpartition("/")
    return scen, impl


def charted(name):
    return name.startswith(SCENARIO_PREFIXES)


def subject_of(rows):
    """The implementation a run's ratios are about: patched in a kernel A/B
    of iommufd, iopfq otherwise."""
    return "patched" if any(split_name(r["name"])[1] == "patched" for r in rows) else "iopfq"


def label(metric, subject):
    return {"ratio_p50_to_floor": "p50 / floor",
            "ratio_p999_to_p50": "p99.9 / p50",
            "ratio_iopfq_throughput": f"{subject} throughput / this row's",
            "ratio_p50_to_iopfq": f"this row's p50 / {subject}'s"}[metric]


def manifest(run):
    return run["context"]["iopfq_run"]


def kinds_of(runs):
    """The kinds of run in the history: flood first, the others in the order
    they first appear."""
    seen = []
    for run in runs:
        if manifest(run)["kind"] not in seen:
            seen.append(manifest(run)["kind"])
    return sorted(seen, key=lambda k: (k != "flood", seen.index(k)))


def series(runs):
    """Per scenario, per implementation, per run index: the row. Scenarios
    come in the order the newest run that has them wrote them."""
    scen = {}
    for i, run in reversed(list(enumerate(runs))):
        for row in run["benchmarks"]:
            if charted(row["name"]):
                s, impl = split_name(row["name"])
                scen.setdefault(s, {}).setdefault(impl, {})[i] = row
    return scen


def floor_p(run, which, pct):
    for row in run["benchmarks"]:
        if row["name"] == f"floor/{which}":
            return row.get(pct)
    return None


RULE = (f"A ratio of a kind's newest run is marked <span class=\"worse\">worse</span> "
        f"(<span class=\"better\">better</span>) when, on a log scale, it lies further from the median "
        f"of the same row's ratio in up to {WINDOW} earlier runs of the same kind and length (quick or "
        f"full), in the bad (good) direction, than both the tolerance ({{tolerance:.0%}}) and {MAD_SPREAD} "
        f"times their spread (median absolute deviation, scaled to a standard deviation); the mark gives the "
        f"ratio's change from that median. It needs "
        f"{MIN_EARLIER} earlier values; with fewer the ratio is left unmarked. Only ratios are judged "
        f"(each was measured side by side within one run); absolute times are not.")


def judge(runs, latest, tolerance):
    """Marks each ratio of the latest run against up to WINDOW earlier runs
    of the same kind and length (quick or full), on a log scale: worse
    (better) when it is further from their median, in the bad (good)
    direction, than both the tolerance and MAD_SPREAD times their median
    absolute deviation (scaled to a standard deviation). A ratio that
    scatters from run to run on this machine thus needs a larger move to be
    marked. It needs MIN_EARLIER earlier values; else it is left unmarked.
    Returns the marks and how many earlier runs there were."""
    m = manifest(runs[latest])
    earlier = [r for r in runs[:latest]
               if manifest(r)["kind"] == m["kind"] and manifest(r)["quick"] == m["quick"]][-WINDOW:]
    marks = {}
    for row in runs[latest]["benchmarks"]:
        _, impl = split_name(row["name"])
        for metric, (rows, direction) in RATIOS.items():
            if metric not in row or (rows == "iopfq") != (impl in SUBJECTS):
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


KEPT = ("The measurement is kept as it was recorded; the commit's subject as recorded with the run "
        "is in the manifest above.")


@functools.lru_cache(maxsize=None)
def commit_state(commit):
    """(shown, text): whether the commit is in this repository, and git show
    --stat of it or a sentence saying why it cannot be shown. Cached: the
    run's page and the list of runs both ask."""
    if not commit or commit == "unknown":
        return False, "The commit is unknown: the run was not made in a git checkout."
    try:
        return True, subprocess.run(["git", "-C", TOP, "show", "--stat", "--format=fuller", commit],
                                    check=True, capture_output=True, text=True).stdout
    except OSError:
        return False, f"Commit {commit} cannot be shown: git is not installed here. {KEPT}"
    except subprocess.CalledProcessError:
        if subprocess.run(["git", "-C", TOP, "rev-parse", "--git-dir"],
                          capture_output=True).returncode != 0:
            return False, f"Commit {commit} cannot be shown: this tree is not a git checkout. {KEPT}"
        return False, (f"Commit {commit} is not in this repository: the run measured a commit that "
                       f"this repository's history does not hold (rewritten after the run, for example "
                       f"by a rebase, or made in another clone), so it cannot be shown. {KEPT}")


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
    m = manifest(run)
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
    shown, text = commit_state(m.get("commit"))
    tree = m.get("tree", "unknown")
    tree_note = ("" if tree == "clean" else
                 f"<p>The tree at the time of the run: {html.escape(tree)}; the commit below is the one "
                 f"it was based on.</p>")
    commit_html = (f"<pre>{html.escape(text)}</pre>" if shown
                   else f"<p class=\"missing\" id=\"commit-missing\">{html.escape(text)}</p>")
    body = (f"<p><a href=\"../index.html\">dashboard</a></p><h1>Run {html.escape(m['id'])}</h1>"
            f"<p>{html.escape(m['kind'])} run of commit <code>{html.escape(m.get('commit', 'unknown'))}</code> "
            f"(&ldquo;{html.escape(m.get('subject', ''))}&rdquo;), {html.escape(m['date'])}, "
            f"<code>{html.escape(m.get('command', ''))}</code>. "
            f"The record as stored: <a href=\"{html.escape(m['id'])}.json\">{html.escape(m['id'])}.json</a></p>"
            f"<h2>Manifest</h2><table>{man}</table>"
            f"<h2 id=\"commit\">Commit</h2>{tree_note}{commit_html}"
            f"<h2>Rows</h2>{table}")
    return page(f"iopfq run {m['id']}", body, 1)


def per_run(impls, impl, key, n):
    """One value per run (None where the run has no positive value: the
    charts have logarithmic axes)."""
    vals = [impls.get(impl, {}).get(i, {}).get(key) for i in range(n)]
    return [v if isinstance(v, (int, float)) and v > 0 else None for v in vals]


def add_chart(charts, title, y_title, sets):
    sets = [s for s in sets if any(v is not None for v in s["data"])]
    if sets:
        charts.append({"title": title, "y": y_title, "sets": sets})


PCTS = (("p50_ns", "p50"), ("p99_ns", "p99"), ("p999_ns", "p99.9"))


def flood_charts(runs, impls):
    """A scenario of iopfq against baselines (bench/run.sh's flood, the
    kernel module's A/B): iopfq over each baseline, iopfq's own ratios, its
    percentiles beside the floors."""
    n, charts = len(runs), []
    base = [i for i in sorted(impls) if i not in SUBJECTS]
    add_chart(charts, "iopfq over each baseline (higher: iopfq better)", "ratio",
              [{"label": f"iopfq throughput / {b}'s", "data": per_run(impls, b, "ratio_iopfq_throughput", n)}
               for b in base]
              + [{"label": f"{b} p50 / iopfq's", "data": per_run(impls, b, "ratio_p50_to_iopfq", n)}
                 for b in base])
    add_chart(charts, "iopfq: p50 over the floor, p99.9 over p50 (lower: better)", "ratio",
              [{"label": "iopfq " + label(k, "iopfq"), "data": per_run(impls, "iopfq", k, n)}
               for k in ("ratio_p50_to_floor", "ratio_p999_to_p50")])
    iop = impls.get("iopfq", {})
    absn = [{"label": f"iopfq {name}", "data": per_run(impls, "iopfq", k, n)} for k, name in PCTS]
    floors = sorted({iop[i]["floor"] for i in iop if iop[i].get("floor")})
    for fl in floors:
        for k in ("p50_ns", "p99_ns"):
            absn.append({"label": f"{fl} floor {k[:-3]}", "floor": True,
                         "data": [floor_p(run, fl, k) if iop.get(i, {}).get("floor") == fl else None
                                  for i, run in enumerate(runs)]})
    add_chart(charts, "iopfq percentiles" + (", floors dashed" if floors else "") + " (ns)", "ns", absn)
    return charts


def ab_charts(runs, impls):
    """A scenario of the iommufd A/B (tests/kernel/iommufd/ab.py): the patched
    kernel over stock where both measured it, the tail ratio and the
    absolute percentiles of each side (a row stock cannot run has only the
    patched side)."""
    n, charts = len(runs), []
    sides = [k for k in ("patched", "stock") if any(per_run(impls, k, "p50_ns", n))]
    which = "each kernel" if len(sides) > 1 else " and ".join(sides)
    add_chart(charts, "patched / stock: p50, p99, p99.9 (lower: patched better)", "ratio",
              [{"label": f"{name} patched / stock", "data": per_run(impls, "patched", f"ratio_{k[:-3]}_to_stock", n)}
               for k, name in PCTS])
    add_chart(charts, "patched / stock: throughput (higher: patched better)", "ratio",
              [{"label": "groups/s patched / stock",
                "data": per_run(impls, "patched", "ratio_throughput_to_stock", n)}])
    add_chart(charts, f"p99.9 over p50 of {which} (lower: better)", "ratio",
              [{"label": f"{side} p99.9 / p50", "data": per_run(impls, side, "ratio_p999_to_p50", n),
                "side": side, "colour": 0} for side in sides])
    add_chart(charts, f"percentiles of {which}" + (", stock dotted" if "stock" in sides else "") + " (ns)", "ns",
              [{"label": f"{side} {name}", "data": per_run(impls, side, k, n), "side": side, "colour": j}
               for side in sides for j, (k, name) in enumerate(PCTS)])
    return charts


def chart_data(runs, scen):
    """What dashboard.js draws: per scenario its charts, one value per run,
    grouped by the kind of run that measured the scenario. Scenarios with no
    measured value at all are listed apart (no heading without a chart)."""
    kinds = kinds_of(runs)
    out, bare = [], []
    for s in scen:
        impls = scen[s]
        newest = max(i for rows in impls.values() for i in rows)
        kind = manifest(runs[newest])["kind"]
        charts = ab_charts(runs, impls) if "patched" in impls else flood_charts(runs, impls)
        # what the newest run says of a row it could not measure
        notes = [f"{impl}: {rows[newest]['error_message']}" for impl, rows in sorted(impls.items())
                 if newest in rows and rows[newest].get("error_message")]
        entry = {"scenario": s, "kind": kind, "note": "; ".join(notes), "charts": charts}
        (out if charts else bare).append(entry)
    out.sort(key=lambda c: kinds.index(c["kind"]))  # stable: scenarios in the order runs wrote them
    return out, bare


def load_text(m):
    """The 1-minute load average at the start and the end of a run."""
    start, end = m.get("load", {}).get("start") or ["?"], m.get("load", {}).get("end") or ["?"]
    return html.escape(f"{start[0]} at the start, {end[0]} at the end")


def kind_title(kind, runs):
    newest = [manifest(r) for r in runs if manifest(r)["kind"] == kind][-1]
    what = KINDS.get(kind, f"{kind} runs")
    return f"{what} (<code>{html.escape(newest.get('command', ''))}</code>)"


def latest_table(runs, kind, tolerance):
    """The newest run of a kind, judged against the earlier runs of that
    kind: (html, ratios marked worse)."""
    latest = max(i for i, r in enumerate(runs) if manifest(r)["kind"] == kind)
    run = runs[latest]
    m = manifest(run)
    subject = subject_of(run["benchmarks"])
    rows = [r for r in run["benchmarks"] if charted(r["name"])]
    marks, n_earlier = judge(runs, latest, tolerance)
    metrics = [k for k in RATIOS if any(k in r for r in rows)]
    head = ("<tr><th>benchmark</th><th>faults/s or groups/s</th><th>p50 ns</th><th>p99.9 ns</th>"
            + "".join(f"<th>{html.escape(label(k, subject))}</th>" for k in metrics) + "</tr>")
    body = []
    worse = 0
    for row in rows:
        if row.get("error_occurred"):
            body.append(f"<tr><td>{html.escape(row['name'])}</td><td class=\"note\" colspan=\"{3 + len(metrics)}\">"
                        f"not measured: {html.escape(row.get('error_message', ''))}</td></tr>")
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
    kid = html.escape(kind)
    judged = n_earlier >= MIN_EARLIER
    verdict = (f"{worse} ratio(s) marked worse." if judged else
               f"Too few earlier {kid} runs to judge: {n_earlier}, and the rule needs {MIN_EARLIER}. "
               f"Nothing in this table is marked.")
    intro = (f"<p>Run <a href=\"{link}\">{html.escape(m['id'])}</a>, commit "
             f"<a href=\"{link}#commit\">{html.escape(m['commit'][:12])}</a> ({html.escape(m['tree'])}, "
             f"{'--quick' if m['quick'] else 'full'} run, load average {load_text(m)}), judged against "
             f"{n_earlier} earlier {kid} run(s) of the same length.</p>"
             f"<p class=\"verdict\" id=\"regressions-{kid}\" data-run=\"{html.escape(m['id'])}\" "
             f"data-earlier=\"{n_earlier}\" data-judged=\"{'yes' if judged else 'no'}\" "
             f"data-worse=\"{worse}\">{verdict}</p>")
    return (f"<h3 id=\"latest-{kid}\">{kind_title(kind, runs)}</h3>" + intro
            + "<table class=\"latest\">" + head + "".join(body) + "</table>"), worse


def runs_table(runs):
    """Every run, oldest first, with its commit's state."""
    out = []
    for run in runs:
        m = manifest(run)
        shown, _ = commit_state(m.get("commit"))
        link = f"runs/{html.escape(m['id'])}.html"
        state = "" if shown else " <span class=\"missing\">commit not shown (its page says why)</span>"
        out.append(f"<tr><td><a href=\"{link}\">{html.escape(m['id'])}</a></td><td>{html.escape(m['kind'])}</td>"
                   f"<td><a href=\"{link}#commit\">{html.escape(m.get('commit', 'unknown')[:12])}</a>{state}</td>"
                   f"<td>{html.escape(m.get('tree', ''))}</td><td>{html.escape(m.get('subject', ''))}</td></tr>")
    return ("<table class=\"runs\"><tr><th>run</th><th>kind</th><th>commit</th><th>tree</th>"
            "<th>subject (as recorded)</th></tr>" + "".join(out) + "</table>")


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
        rid = manifest(run)["id"]
        with open(os.path.join(a.out, "runs", rid + ".html"), "w") as f:
            f.write(run_page(run))
        with open(os.path.join(a.out, "runs", rid + ".json"), "w") as f:
            json.dump(run, f, indent=1)
    scen = series(runs)
    charts, bare = chart_data(runs, scen)
    data = {
        "runs": [{"id": manifest(r)["id"], "commit": manifest(r)["commit"],
                  "subject": manifest(r).get("subject", ""), "date": manifest(r)["date"],
                  "tree": manifest(r)["tree"], "kind": manifest(r)["kind"], "quick": manifest(r)["quick"]}
                 for r in runs],
        "kinds": {k: KINDS.get(k, f"{k} runs") for k in kinds_of(runs)},
        "charts": charts,
    }
    with open(os.path.join(a.out, "data.js"), "w") as f:
        f.write("/* generated by bench/dashboard.py from bench/history/ */\nconst DASHBOARD = ")
        json.dump(data, f, separators=(",", ":"))
        f.write(";\n")
    if runs:
        tables = "".join(latest_table(runs, k, a.tolerance)[0] for k in kinds_of(runs))
        latest = (f"<p>Each kind of run gets its own table: its newest run, judged against its earlier "
                  f"runs. {RULE.format(tolerance=a.tolerance)} A single run on a shared VM is noisy: "
                  f"<code>bench/compare.sh OLD NEW</code> decides from repeated interleaved runs.</p>"
                  + tables)
    else:
        latest = "<p>The history is empty: run <code>bench/run.sh --results</code>.</p>"
    unmeasured = ("" if not bare else
                  "<p>Scenarios with no measured value in any run: "
                  + "; ".join(f"<code>{html.escape(c['scenario'])}</code> ({html.escape(c['note'])})"
                              for c in bare) + ".</p>")
    body = (f"<h1>iopfq benchmark history</h1>"
            f"<p>{len(runs)} run(s) from <code>bench/history/</code>, oldest first. Every chart has one point "
            f"per run (click a point for its run and commit). On a shared VM absolute times move with where "
            f"the host places the vCPUs; the ratios were measured side by side within one run and move much "
            f"less. Floors are drawn dashed beside the absolute percentiles, the stock kernel's dotted beside the "
            f"patched one's. Contents: "
            f"<a href=\"#trends\">trends per scenario</a>, <a href=\"#latest\">latest run of each kind</a>, "
            f"<a href=\"#runs\">all runs</a>.</p>"
            f"<h2 id=\"trends\">Trends per scenario</h2><div id=\"charts\"></div>{unmeasured}"
            f"<h2 id=\"latest\">Latest run of each kind</h2>{latest}"
            f"<h2 id=\"runs\">All runs</h2>{runs_table(runs)}"
            f"<pre id=\"errors\"></pre>"
            f"<script src=\"chart.min.js\"></script><script src=\"data.js\"></script>"
            f"<script src=\"dashboard.js\"></script>")
    with open(os.path.join(a.out, "index.html"), "w") as f:
        f.write(page("iopfq benchmark history", body))
    n = sum(len(c["charts"]) for c in charts)
    print(f"dashboard: {os.path.join(a.out, 'index.html')} ({len(runs)} runs, {len(charts)} scenarios, {n} charts)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
