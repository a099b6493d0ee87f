#!/usr/bin/env bash
# Two trees of the app, alternately: profile_scan.py --no-profile in each, N pairs, then the
# median CPU per scan of each tree (docs/PERFORMANCE.md, issue 25: a cut measured alone).
#
#   git worktree add --detach /tmp/before <commit-before>; ln -s "$PWD/.venv" /tmp/before/.venv
#   DATABASE_URL=postgresql://postgres@127.0.0.1/tt_profile loadtests/profile_pairs.sh /tmp/before . 7
#
# Needs the database of profile_scan.py (its docstring) and redis-cli; the limit store
# (Redis DB 7 unless RATELIMIT_STORAGE_URI says otherwise) is emptied before each run.
set -euo pipefail
before=${1:?usage: profile_pairs.sh BEFORE_TREE AFTER_TREE [PAIRS]}
after=${2:?usage: profile_pairs.sh BEFORE_TREE AFTER_TREE [PAIRS]}
pairs=${3:-7}
: "${DATABASE_URL:?set DATABASE_URL to the profile database (see loadtests/profile_scan.py)}"
redis_db=${RATELIMIT_STORAGE_URI:-redis://127.0.0.1:6379/7}
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for _ in $(seq 1 "$pairs"); do
  for tree in "$before" "$after"; do
    redis-cli -u "$redis_db" flushdb > /dev/null
    cpu=$(cd "$tree" && .venv/bin/python loadtests/profile_scan.py --no-profile 2>&1 \
          | grep -o '[0-9.]* ms CPU each' | cut -d' ' -f1 || true)
    echo "$tree ${cpu:-failed}" | tee -a "$results"
  done
done
python3 - "$results" "$before" "$after" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    tree, value = line.split()
    if value != "failed":
        runs.setdefault(tree, []).append(float(value))
for tree in sys.argv[2:]:
    values = runs.get(tree, [])
    median = f"{statistics.median(values):.2f} ms" if values else "no run"
    print(f"{tree}: median {median} CPU per scan of {len(values)} runs")
PY
cut -d' ' -f1-3 /proc/loadavg | sed 's/^/load average: /'
