#!/usr/bin/env bash
# Renders the benchmark history (bench/history/) as a static site that opens
# from the file system, no server: OUT_DIR/index.html. Chart.js comes from
# Debian's libjs-chart.js and is copied into the site.
# Usage: bench/dashboard.sh [OUT_DIR [--history DIR] [--tolerance T]]   (default: build/dashboard)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh" dashboard
exec /usr/bin/python3 "$top/bench/dashboard.py" "${1:-$top/build/dashboard}" "${@:2}"
