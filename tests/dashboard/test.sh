#!/usr/bin/env bash
# Opens the benchmark dashboard (bench/dashboard.sh's static site, rendered
# from bench/history/) in Debian's headless Chromium from file://, and fails
# on any console message (the page writes none: every one is an error, a
# warning or a resource that did not load), on a script error the page
# caught, or on a chart asked for and not drawn. Then proves the check can
# fail (the same site without chart.min.js must be refused) and saves a
# screenshot of the page. Also checks that the latest-run table marks a
# ratio made twice as bad as in three earlier runs.
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

browse() { # browse URL WHAT [extra chromium options]: DOM on stdout, log in $work/log
	local url=$1
	shift
	rm -rf "$work/profile"
	# --disable-dev-shm-usage: a chroot may have an empty /dev/shm
	timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-dev-shm-usage \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$work/profile" --enable-logging=stderr --v=0 "$@" "$url" 2>"$work/log"
}

# check SITE: 0 if the page drew every chart with no console message or error
check() {
	local site=$1 dom status charts expected errs console
	dom=$(browse "file://$site/index.html" --dump-dom)
	status=$(sed -n 's/.*<body[^>]* data-status="\([a-z]*\)".*/\1/p' <<<"$dom" | head -1)
	charts=$(sed -n 's/.*<body[^>]* data-charts="\([0-9]*\)".*/\1/p' <<<"$dom" | head -1)
	expected=$(sed -n 's/.*<body[^>]* data-expected="\([0-9]*\)".*/\1/p' <<<"$dom" | head -1)
	errs=$(sed -n 's/.*<pre id="errors">\([^<]*\)<.*/\1/p' <<<"$dom")
	console=$(grep -F ':CONSOLE' "$work/log" || true)
	echo "  status=${status:-none} charts=${charts:-?} of ${expected:-?}, canvases in the DOM:" \
		"$(grep -o '<canvas' <<<"$dom" | wc -l), console messages: $(grep -c . <<<"$console" || true)"
	[ -n "$errs" ] && echo "  page errors: $errs"
	[ -n "$console" ] && head -5 <<<"$console" | sed 's/^/  /'
	[ "$status" = ok ] && [ -n "$charts" ] && [ "$charts" = "$expected" ] && [ "$charts" -gt 0 ] &&
		[ -z "$console" ] && [ -z "$errs" ]
}

"$top/bench/dashboard.sh" "$work/site" >/dev/null
echo "dashboard from bench/history/ ($(ls "$top/bench/history"/*.json 2>/dev/null | wc -l) runs):"
if check "$work/site"; then
	echo "ok: every chart drawn, no console message, no page error"
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

# the latest-run table marks a regression: four copies of the newest run,
# the last with iopfq's p50 over the floor doubled in every scenario
mkdir -p "$work/hist"
want=$(/usr/bin/python3 - "$top/bench/history" "$work/hist" <<'PY'
import json, os, sys
src, dst = sys.argv[1], sys.argv[2]
# the newest flood run: kernel A/B records (kind other than "flood", such as the kernel A/B) carry no floors
floods = [f for f in sorted(os.listdir(src)) if f.endswith(".json") and
          json.load(open(os.path.join(src, f)))["context"]["iopfq_run"]["kind"] == "flood"]
newest = floods[-1]
doubled = 0
for k in range(4):
    doc = json.load(open(os.path.join(src, newest)))
    m = doc["context"]["iopfq_run"]
    m["id"] = f"{m['id']}-copy{k}"
    m["date"] = m["date"].replace("Z", f".{k}Z")
    for row in doc["benchmarks"]:
        if k == 3 and row["name"].endswith("/iopfq") and row.get("ratio_p50_to_floor", 0) > 0:
            row["ratio_p50_to_floor"] *= 2
            doubled += 1
    json.dump(doc, open(os.path.join(dst, m["id"] + ".json"), "w"))
print(doubled)
PY
)
"$top/bench/dashboard.sh" "$work/marked" --history "$work/hist" >/dev/null
marked=$(sed -n 's/.*id="regressions" data-worse="\([0-9]*\)".*/\1/p' "$work/marked/index.html")
if [ -n "$marked" ] && [ "$marked" -gt 0 ] && [ "$marked" = "$want" ]; then
	echo "ok: a doubled p50/floor is marked worse in the latest-run table ($marked of $want rows)"
else
	echo "FAIL: the latest-run table marked ${marked:-nothing} of $want doubled ratios worse"
	fail=1
fi

browse "file://$work/site/index.html" --hide-scrollbars --window-size=1400,1500 --screenshot="$shot" >/dev/null
if [ -s "$shot" ] && [ "$(head -c 4 "$shot" | od -An -c | tr -d ' ')" = '211PNG' ]; then
	echo "ok: screenshot $shot ($(stat -c %s "$shot") bytes)"
else
	echo "FAIL: no screenshot"
	fail=1
fi
[ $fail = 0 ] && echo "dashboard browser test: PASS" || echo "dashboard browser test: FAIL"
exit $fail
