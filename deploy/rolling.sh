#!/usr/bin/env bash
# Replace one host's gunicorn workers without dropping a request.
#
#   deploy/rolling.sh PIDFILE           new code: USR2 upgrade (a new master loads the code now
#                                       on disk, then the old master stops gracefully)
#   deploy/rolling.sh PIDFILE --hup     same code, new settings: HUP (new workers, old ones
#                                       finish their requests). With preload (the default) a
#                                       HUP does NOT load new code: use the upgrade for that.
#
# PIDFILE is gunicorn's pid file (GUNICORN_PIDFILE, set it in the host's environment).
# The upgrade follows gunicorn's documented binary upgrade: USR2 makes the master fork and
# exec a new master (same listening sockets, pid in PIDFILE.2) with its own workers; both
# serve side by side; once the new workers are up, TERM to the old master stops its workers
# gracefully (each finishes the request it holds, up to GUNICORN_GRACEFUL_TIMEOUT) and the
# new master takes PIDFILE over. If the new master dies while starting (the new code does not
# boot), the old one keeps serving and this script fails: nothing was lost.
# Roll the hosts one at a time; run the migrations first (docs/DEPLOYMENT.md, expand then
# contract), so that old and new code both work on the schema while hosts differ.
set -euo pipefail

pidfile=${1:?usage: deploy/rolling.sh PIDFILE [--hup]}
mode=${2:-upgrade}
settle=${ROLLING_SETTLE_SECONDS:-2}
boot_timeout=${ROLLING_BOOT_TIMEOUT:-120}
stop_timeout=${ROLLING_STOP_TIMEOUT:-60}

[ -s "$pidfile" ] || { echo "rolling: no pid file $pidfile (is GUNICORN_PIDFILE set?)" >&2; exit 1; }
old=$(cat "$pidfile")
kill -0 "$old" 2>/dev/null || { echo "rolling: master $old in $pidfile is not running" >&2; exit 1; }
workers=$(pgrep -P "$old" | wc -l)
[ "$workers" -ge 1 ] || { echo "rolling: master $old has no workers" >&2; exit 1; }

wait_for() {  # seconds, description, test command...
  local seconds=$1 what=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    if [ "$SECONDS" -ge "$deadline" ]; then echo "rolling: timed out waiting for $what" >&2; return 1; fi
    sleep 0.2
  done
}

children_of() { pgrep -P "$1" 2>/dev/null | wc -l; }

if [ "$mode" = "--hup" ]; then
  before=$(pgrep -P "$old" | sort)
  echo "rolling: HUP to master $old ($workers workers)"
  kill -HUP "$old"
  # Done when none of the old workers is left and the count is back.
  replaced() {
    local now; now=$(pgrep -P "$old" | sort)
    [ "$(comm -12 <(echo "$before") <(echo "$now") | grep -c .)" = 0 ] && [ "$(children_of "$old")" -ge "$workers" ]
  }
  wait_for "$stop_timeout" "the old workers to be replaced" replaced
  echo "rolling: master $old now serves with new workers"
  exit 0
fi

echo "rolling: USR2 to master $old ($workers workers): starting a new master with the code on disk"
rm -f "$pidfile.2"
kill -USR2 "$old"
wait_for "$boot_timeout" "the new master's pid file $pidfile.2" test -s "$pidfile.2"
new=$(cat "$pidfile.2")
new_up() { kill -0 "$new" 2>/dev/null && [ "$(children_of "$new")" -ge "$workers" ]; }
if ! wait_for "$boot_timeout" "the new master $new's $workers workers" new_up; then
  echo "rolling: the new master did not come up; the old master $old keeps serving" >&2
  kill -TERM "$new" 2>/dev/null || true
  exit 1
fi
sleep "$settle"
if ! new_up; then
  echo "rolling: the new master $new lost its workers while starting; the old master $old keeps serving" >&2
  kill -TERM "$new" 2>/dev/null || true
  exit 1
fi
echo "rolling: new master $new serves with $workers workers; TERM to the old master $old"
kill -TERM "$old"
# Gone, or a zombie its parent has not reaped yet (it serves nothing either way).
gone() { ! kill -0 "$old" 2>/dev/null || [ "$(ps -o stat= -p "$old" 2>/dev/null | cut -c1)" = Z ]; }
wait_for "$stop_timeout" "the old master $old to finish its requests and exit" gone
promoted() { [ -s "$pidfile" ] && [ "$(cat "$pidfile")" = "$new" ]; }
wait_for 30 "the new master to take $pidfile over" promoted
echo "rolling: done; master $new in $pidfile"
