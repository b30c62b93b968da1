#!/usr/bin/env bash
# The main job: builds iopfq (release preset) and runs the flood through the
# queue, printing records/s and the loss count. Installs the Debian packages
# it needs when missing (as root). Extra arguments go to flood_demo
# (--devices N --credits C --group G --seconds S).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
"$top/scripts/deps.sh" build test bench
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc)" --target flood_demo >/dev/null
exec "$top/build/release/bench/flood_demo" "$@"
