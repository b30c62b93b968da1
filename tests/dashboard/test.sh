#!/usr/bin/env bash
# Opens the benchmark dashboard (bench/dashboard.sh's static site, rendered
# from bench/history/) in Debian's headless Chromium from file://, and fails
# on any console message (the page writes none: every one is an error, a
# warning or a resource that did not load), on a script error the page
# caught, on a chart asked for and not drawn, or on a scenario heading with
# no chart under it (counted in the DOM Chromium returns). Proves the check
# can fail (the same site without chart.min.js, and with one scenario that
# has nothing to draw, must be refused). Clicks every point of every chart
# (index.html#click-test: Chart.js hit-tests each point, the chart's onClick handles it) and checks that each opens the run
# it belongs to, and that every run's page shows its commit, or says plainly
# that the commit is not in this repository. Checks that each kind of run
# in the history has its own latest-run table for its newest run, judged
# only against runs of its kind, that a ratio made twice as bad as in three
# earlier runs of the kind is marked (flood and iommufd A/B), and that a
# table with too few earlier runs says so. Saves a screenshot of the page.
# Usage: tests/dashboard/test.sh [SCREENSHOT.png]   (default: build/dashboard-test/dashboard.png)
# Exit: 0 passed, 1 failed, 77 skipped (chromium or libjs-chart.js missing).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
shot=${1:-$top/build/dashboard-test/dashboard.png}
for need in chromium /usr/share/javascript/chart.js/chart.min.js; do
	if ! command -v "$need" >/dev/null && [ ! -e "$need" ]; then
		echo "SKIP: $need not installed (scripts/deps.sh test)"
		exit 77
	fi
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$(dirname "$shot")"
fail=0

browse() { # browse URL [extra chromium options]: DOM on stdout, log in $work/log
	local url=$1
	shift
	rm -rf "$work/profile"
	# --disable-dev-shm-usage: a chroot may have an empty /dev/shm;
	# --virtual-time-budget: let the page's animation frames run before the DOM is dumped
	timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-dev-shm-usage \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$work/profile" --enable-logging=stderr --v=0 "$@" "$url" 2>"$work/log"
}

body_attr() { # body_attr NAME < DOM
	sed -n "s/.*<body[^>]* data-$1=\"\\([^\"]*\\)\".*/\\1/p" | head -1
}

# the scenario headings (<h4> of a <section class="scenario">) of a DOM with no <canvas> under them
empty_headings() {
	/usr/bin/python3 -c '
import sys
from html.parser import HTMLParser
class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.scen, self.heads = [], None, []
    def handle_starttag(self, tag, attrs):
        if tag == "section":
            cls = dict(attrs).get("class", "")
            self.stack.append(cls)
            if cls == "scenario":
                self.scen = {"name": "", "canvases": 0, "in_h4": False}
                self.heads.append(self.scen)
        elif self.scen and tag == "h4":
            self.scen["in_h4"] = True
        elif self.scen and tag == "canvas":
            self.scen["canvases"] += 1
    def handle_endtag(self, tag):
        if tag == "section" and self.stack and self.stack.pop() == "scenario":
            self.scen = None
        elif self.scen and tag == "h4":
            self.scen["in_h4"] = False
    def handle_data(self, data):
        if self.scen and self.scen["in_h4"]:
            self.scen["name"] += data
p = P()
p.feed(sys.stdin.read())
print(len(p.heads), " ".join(h["name"] or "(unnamed)" for h in p.heads if not h["canvases"]))'
}

# check SITE: 0 if the page drew every chart, every scenario heading has a
# chart, and there was no console message or error
check() {
	local site=$1 dom status charts expected errs console heads
	dom=$(browse "file://$site/index.html" --dump-dom)
	status=$(body_attr status <<<"$dom")
	charts=$(body_attr charts <<<"$dom")
	expected=$(body_attr expected <<<"$dom")
	errs=$(sed -n 's/.*<pre id="errors">\([^<]*\)<.*/\1/p' <<<"$dom")
	console=$(grep -F ':CONSOLE' "$work/log" || true)
	heads=$(empty_headings <<<"$dom")
	echo "  status=${status:-none} charts=${charts:-?} of ${expected:-?}, canvases in the DOM:" \
		"$(grep -o '<canvas' <<<"$dom" | wc -l), scenario headings: ${heads%% *}," \
		"console messages: $(grep -c . <<<"$console" || true)"
	[ -n "${heads#* }" ] && echo "  headings with no chart: ${heads#* }"
	[ -n "$errs" ] && echo "  page errors: $errs"
	[ -n "$console" ] && head -5 <<<"$console" | sed 's/^/  /'
	[ "$status" = ok ] && [ -n "$charts" ] && [ "$charts" = "$expected" ] && [ "$charts" -gt 0 ] &&
		[ -z "$console" ] && [ -z "$errs" ] && [ "${heads%% *}" -gt 0 ] && [ -z "${heads#* }" ]
}

"$top/bench/dashboard.sh" "$work/site" >/dev/null
echo "dashboard from bench/history/ ($(ls "$top/bench/history"/*.json 2>/dev/null | wc -l) runs):"
if check "$work/site"; then
	echo "ok: every chart drawn, a chart under every scenario heading, no console message, no page error"
else
	echo "FAIL: the dashboard did not render cleanly"
	fail=1
fi

cp -r "$work/site" "$work/broken"
rm "$work/broken/chart.min.js"
echo "the same site without chart.min.js (must be refused):"
if check "$work/broken"; then
	echo "FAIL: a dashboard without Chart.js passed the check"
	fail=1
else
	echo "ok: refused"
fi
cp -r "$work/site" "$work/bare"
echo 'DASHBOARD.charts.push({scenario: "flood/nothing-to-draw", kind: "flood", note: "", charts: []});' \
	>>"$work/bare/data.js"
echo "the same site with a scenario heading that has no chart (must be refused):"
if check "$work/bare"; then
	echo "FAIL: a scenario heading with no chart passed the check"
	fail=1
else
	echo "ok: refused"
fi

# every point opens its run's page, which shows the commit (or says it is gone)
dom=$(browse "file://$work/site/index.html#click-test" --virtual-time-budget=60000 --dump-dom)
clicks=$(body_attr clicks <<<"$dom")
clickable=$(body_attr clickable <<<"$dom")
clicked=$(body_attr clicked <<<"$dom")
pages=$(/usr/bin/python3 - "$top" "$work/site" "$clicked" <<'PY'
import json, os, subprocess, sys
top, site, clicked = sys.argv[1], sys.argv[2], sys.argv[3].split()
runs = []
for f in sorted(os.listdir(os.path.join(top, "bench", "history"))):
    if f.endswith(".json"):
        runs.append(json.load(open(os.path.join(top, "bench", "history", f)))["context"]["iopfq_run"])
bad = []
for m in runs:
    if m["id"] not in clicked:
        bad.append(f"no point opens run {m['id']}")
        continue
    page = os.path.join(site, "runs", m["id"] + ".html")
    text = open(page).read() if os.path.exists(page) else ""
    known = subprocess.run(["git", "-C", top, "cat-file", "-e", m["commit"] + "^{commit}"],
                           capture_output=True).returncode == 0
    if not text:
        bad.append(f"{page} missing")
    elif known and f"commit {m['commit']}" not in text:
        bad.append(f"{m['id']}: the page does not show commit {m['commit']}")
    elif not known and f"Commit {m['commit']} is not in this repository" not in text:
        bad.append(f"{m['id']}: the page does not say that commit {m['commit'][:12]} is not in this repository")
print(len(runs), "; ".join(bad))
PY
)
if [ -n "$clicks" ] && [ "$clicks" = "$clickable" ] && [ "$clicks" -gt 0 ] && [ -z "${pages#* }" ]; then
	echo "ok: $clicks of $clickable points clicked opened their run; the ${pages%% *} runs' pages show their commit" \
		"($(grep -l 'id="commit-missing"' "$work/site/runs/"*.html | wc -l) say it is not in this repository)"
else
	echo "FAIL: ${clicks:-no} of ${clickable:-?} clicks opened the run of their point; ${pages#* }"
	fail=1
fi

# one latest-run table per kind, for its newest run, judged against its own kind
tables=$(/usr/bin/python3 - "$top/bench/history" "$work/site/index.html" <<'PY'
import json, os, re, sys
src, index = sys.argv[1], open(sys.argv[2]).read()
runs = sorted((json.load(open(os.path.join(src, f)))["context"]["iopfq_run"]
               for f in os.listdir(src) if f.endswith(".json")), key=lambda m: m["date"])
bad, kinds = [], []
for kind in dict.fromkeys(m["kind"] for m in runs):
    mine = [m for m in runs if m["kind"] == kind]
    earlier = len([m for m in mine[:-1] if m["quick"] == mine[-1]["quick"]])
    t = re.search(rf'<p class="verdict" id="regressions-{re.escape(kind)}" data-run="([^"]*)" '
                  rf'data-earlier="(\d+)" data-judged="(\w+)" data-worse="\d+">([^<]*)<', index)
    if not t:
        bad.append(f"no latest-run table for {kind}")
    elif t.group(1) != mine[-1]["id"] or int(t.group(2)) != min(earlier, 10):
        bad.append(f"{kind}: table of {t.group(1)} against {t.group(2)} earlier, "
                   f"want {mine[-1]['id']} against {min(earlier, 10)}")
    elif earlier < 3 and not (t.group(3) == "no" and t.group(4).startswith("Too few")):
        bad.append(f"{kind}: {earlier} earlier runs and the table does not say it cannot judge")
    kinds.append(f"{kind} ({earlier} earlier{', too few' if earlier < 3 else ''})")
print(", ".join(kinds) + "|" + "; ".join(bad))
PY
)
if [ -z "${tables#*|}" ]; then
	echo "ok: a latest-run table for each kind: ${tables%|*}"
else
	echo "FAIL: latest-run tables: ${tables#*|}"
	fail=1
fi

# the latest-run tables mark a regression: four copies of the newest run of
# each kind, the last with a ratio doubled in every scenario: iopfq's p50
# over the floor (flood), the patched kernel's p99.9 over p50 (iommufd A/B)
mkdir -p "$work/hist"
want=$(/usr/bin/python3 - "$top/bench/history" "$work/hist" <<'PY'
import json, os, sys
src, dst = sys.argv[1], sys.argv[2]
doubling = {"flood": ("/iopfq", "ratio_p50_to_floor"), "iommufd-ab": ("/patched", "ratio_p999_to_p50")}
newest = {}
for f in sorted(os.listdir(src)):
    if f.endswith(".json"):
        kind = json.load(open(os.path.join(src, f)))["context"]["iopfq_run"]["kind"]
        if kind in doubling:
            newest[kind] = f
out = []
for kind, f in sorted(newest.items()):
    suffix, metric = doubling[kind]
    doubled = 0
    for k in range(4):
        doc = json.load(open(os.path.join(src, f)))
        m = doc["context"]["iopfq_run"]
        m["id"] = f"{m['id']}-copy{k}"
        m["date"] = m["date"].replace("Z", f".{k}Z")
        for row in doc["benchmarks"]:
            if k == 3 and row["name"].endswith(suffix) and row.get(metric, 0) > 0:
                row[metric] *= 2
                doubled += 1
        json.dump(doc, open(os.path.join(dst, m["id"] + ".json"), "w"))
    out.append(f"{kind}={doubled}")
print(" ".join(out))
PY
)
"$top/bench/dashboard.sh" "$work/marked" --history "$work/hist" >/dev/null
for kw in $want; do
	kind=${kw%%=*} n=${kw#*=}
	marked=$(sed -n "s/.*id=\"regressions-$kind\" [^>]*data-worse=\"\\([0-9]*\\)\".*/\\1/p" "$work/marked/index.html")
	if [ -n "$marked" ] && [ "$n" -gt 0 ] && [ "$marked" = "$n" ]; then
		echo "ok: $kind: a doubled ratio is marked worse in its latest-run table ($marked of $n rows)"
	else
		echo "FAIL: $kind: the latest-run table marked ${marked:-nothing} of $n doubled ratios worse"
		fail=1
	fi
done
[ -n "$want" ] || { echo "FAIL: no flood or iommufd-ab run in the history to copy"; fail=1; }

browse "file://$work/site/index.html" --hide-scrollbars --window-size=1400,1500 --screenshot="$shot" >/dev/null
if [ -s "$shot" ] && [ "$(head -c 4 "$shot" | od -An -c | tr -d ' ')" = '211PNG' ]; then
	echo "ok: screenshot $shot ($(stat -c %s "$shot") bytes)"
else
	echo "FAIL: no screenshot"
	fail=1
fi
[ $fail = 0 ] && echo "dashboard browser test: PASS" || echo "dashboard browser test: FAIL"
exit $fail
