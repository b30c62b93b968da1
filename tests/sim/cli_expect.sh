#!/bin/sh
# cli_expect.sh - run a command, check its exit status and that its output
# (stdout and stderr together) matches a regular expression. For the
# `iopfq` command's ctest cases (tests/sim/CMakeLists.txt).
#   cli_expect.sh STATUS REGEX COMMAND [ARGS...]
# May touch: nothing but its own temporary output file.
set -u
[ $# -ge 3 ] || { echo "usage: $0 STATUS REGEX COMMAND [ARGS...]" >&2; exit 2; }
want=$1 regex=$2
shift 2
out=$(mktemp) || exit 2
"$@" >"$out" 2>&1
got=$?
status=0
if [ "$got" -ne "$want" ]; then
	echo "FAIL: exit status $got, expected $want: $*"
	status=1
fi
if ! grep -Eq -- "$regex" "$out"; then
	echo "FAIL: output does not match /$regex/: $*"
	status=1
fi
[ $status -eq 0 ] || { echo "--- output:"; cat "$out"; }
rm -f "$out"
exit $status
