#!/usr/bin/env bash
# Python instructions per child scan of one or more trees of the app: profile_scan.py under
# valgrind's callgrind, counting only the measured scans (CALLGRIND_SCANS; callgrind_control
# turns counting on and off around them). Instructions, not seconds: the same count twice to
# 0.01 % whatever else the machine does, so a cut of 1 % shows (docs/PERFORMANCE.md, issue 25).
#
#   git worktree add --detach /tmp/before <commit-before>; ln -s "$PWD/.venv" /tmp/before/.venv
#   DATABASE_URL=postgresql://postgres@127.0.0.1/tt_profile loadtests/count_instructions.sh /tmp/before .
#
# Needs valgrind, redis-cli and the database of profile_scan.py (its docstring); the limit
# store (Redis DB 7 unless RATELIMIT_STORAGE_URI says otherwise) is emptied before each run.
# SCANS (default 200) scans per run, about 40 s each.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: count_instructions.sh TREE [TREE...]" >&2; exit 2; }
: "${DATABASE_URL:?set DATABASE_URL to the profile database (see loadtests/profile_scan.py)}"
command -v valgrind > /dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 2; }
scans=${SCANS:-200}
redis_db=${RATELIMIT_STORAGE_URI:-redis://127.0.0.1:6379/7}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for tree in "$@"; do
  redis-cli -u "$redis_db" flushdb > /dev/null
  (cd "$tree" && CALLGRIND_SCANS=$scans valgrind --tool=callgrind --instr-atstart=no \
     --callgrind-out-file=/dev/null .venv/bin/python loadtests/profile_scan.py --no-profile) \
     > "$out" 2>&1 || { echo "$tree: the run failed:" >&2; tail -5 "$out" >&2; exit 1; }
  total=$(grep -o 'Collected : [0-9]*' "$out" | awk '{print $3}')
  echo "$tree: $((total / scans)) instructions per child scan ($scans scans)"
done
