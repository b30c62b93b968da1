#!/usr/bin/env bash
# Fails if git tracks a file that .gitignore ignores (generated output such as
# Kbuild's *.mod.c committed by mistake). Exit 77 (skipped) outside a git
# checkout, e.g. in a release tarball.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
command -v git >/dev/null || { echo "git not installed: skipped"; exit 77; }
git -C "$top" rev-parse --git-dir >/dev/null 2>&1 || { echo "not a git checkout: skipped"; exit 77; }
bad=$(git -C "$top" ls-files --cached --ignored --exclude-standard)
if [ -n "$bad" ]; then
	echo "tracked files that .gitignore ignores (git rm --cached them):"
	echo "$bad"
	exit 1
fi
echo "no tracked file is ignored ($(git -C "$top" ls-files | wc -l) files tracked)"
