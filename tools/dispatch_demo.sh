#!/usr/bin/env bash
# Issue 20, "must show": a dispatch of 40 complete parents loaded, dispatched and locked
# through the JSON API with curl alone, against a running TraceTrack.
#
#   TT_URL=http://127.0.0.1:8150 TT_USER=boss TT_PASSWORD=... tools/dispatch_demo.sh
#
# TT_USER must be a supervisor (or an admin without a second factor). The script fills
# PARENTS parents of the demo series (SB9xxxx by default, PREFIX and FIRST change it) with
# CHILDREN bags each (a parent completes by itself at its capacity; fewer are finished short),
# opens a dispatch expecting them, loads each parent (with a scan_id, so a rerun of a load is
# answered "replayed"), dispatches it, and shows that it is locked: one more load is refused
# with dispatch_not_loading and a reopen of one of its parents with parent_on_dispatch.
# Needs curl and python3 (for reading JSON). Exits non-zero at the first surprise.
set -euo pipefail

TT_URL=${TT_URL:-http://127.0.0.1:8150}
TT_USER=${TT_USER:?set TT_USER to a supervisor\'s username}
TT_PASSWORD=${TT_PASSWORD:?set TT_PASSWORD}
PARENTS=${PARENTS:-40}
CHILDREN=${CHILDREN:-30}
PREFIX=${PREFIX:-SB9}
FIRST=${FIRST:-1}
RUN=${RUN:-$(date +%s)}

jar=$(mktemp)
trap 'rm -f "$jar"' EXIT

json() {  # json FIELD.PATH < body: print one field of a JSON body
  python3 -c 'import json, sys
value = json.load(sys.stdin)
for key in sys.argv[1].split("."):
    value = value[int(key)] if isinstance(value, list) else value.get(key)
print(value if not isinstance(value, (dict, list)) else json.dumps(value))' "$1"
}

csrf_from() {  # the csrf-token meta tag of a page
  curl -fsS -b "$jar" -c "$jar" "$TT_URL$1" | sed -n 's/.*<meta name="csrf-token" content="\([^"]*\)".*/\1/p' | head -n1
}

# api METHOD PATH [BODY] [EXPECTED_STATUS...]: the body on stdout; stops on another status.
api() {
  local method=$1 path=$2 body=$3 out status
  shift 3
  out=$(mktemp)
  status=$(curl -sS -o "$out" -w '%{http_code}' -b "$jar" -c "$jar" -X "$method" \
    -H "Content-Type: application/json" -H "Accept: application/json" \
    -H "X-CSRFToken: $token" ${body:+--data "$body"} "$TT_URL/api/v1$path")
  if [ $# -gt 0 ] && [[ " $* " != *" $status "* ]]; then
    echo "UNEXPECTED: $method $path -> $status $(cat "$out")" >&2
    rm -f "$out"
    exit 1
  fi
  cat "$out"
  rm -f "$out"
}

echo "== log in as $TT_USER at $TT_URL"
login_token=$(csrf_from /login)
curl -fsS -o /dev/null -b "$jar" -c "$jar" --data-urlencode "csrf_token=$login_token" \
  --data-urlencode "username=$TT_USER" --data-urlencode "password=$TT_PASSWORD" "$TT_URL/login"
token=$(csrf_from /account)
[ -n "$token" ] || { echo "login failed (check the user, the password, a second factor)" >&2; exit 1; }

codes=()
echo "== $PARENTS complete parents of $CHILDREN bags each"
for ((i = 0; i < PARENTS; i++)); do
  parent=$(printf '%s%04d' "$PREFIX" $((FIRST + i)))
  codes+=("$parent")
  status=$(api POST /scans/parent "{\"code\": \"$parent\"}" 200 201 | json parent.status)
  if [ "$status" != complete ]; then
    for ((c = 1; c <= CHILDREN; c++)); do
      api POST /scans/child "{\"parent\": \"$parent\", \"code\": \"$(printf '%s%03d' "${parent:2}" "$c")\"}" \
        200 201 409 >/dev/null
    done
    if [ "$(api GET "/bags/$parent" "" 200 | json status)" != complete ]; then
      api POST "/parents/$parent/complete" '{"force": true}' 200 >/dev/null
    fi
  fi
  printf '.'
done
echo

echo "== open a dispatch expecting $PARENTS parents"
created=$(api POST /dispatches "{\"destination\": \"Nagpur depot\", \"vehicle_number\": \"MH 12 AB 1234\", \"expected_parents\": $PARENTS, \"driver\": \"Ravi Kumar\", \"transporter\": \"VRL Logistics\", \"reference\": \"LR-$RUN\"}" 201)
dispatch=$(json dispatch.code <<<"$created")
echo "dispatch $dispatch: $(json dispatch.status <<<"$created")"

echo "== load the $PARENTS parents"
n=0
for parent in "${codes[@]}"; do
  n=$((n + 1))
  answer=$(api POST "/dispatches/$dispatch/parents" "{\"code\": \"$parent\", \"scan_id\": \"demo-$RUN-$n\"}" 201)
  echo "$parent $(json result <<<"$answer"): $(json dispatch.parents_loaded <<<"$answer") / $PARENTS parents, $(json dispatch.children <<<"$answer") bags, $(json dispatch.weight_kg <<<"$answer") kg of $(json dispatch.expected_weight_kg <<<"$answer") kg"
done
resent=$(api POST "/dispatches/$dispatch/parents" "{\"code\": \"${codes[-1]}\", \"scan_id\": \"demo-$RUN-$n\"}" 200)
echo "resend of the last load: $(json result <<<"$resent")"

echo "== dispatch it"
sent=$(api POST "/dispatches/$dispatch/dispatch" '{}' 200)
echo "$(json result <<<"$sent"): status $(json dispatch.status <<<"$sent") at $(json dispatch.dispatched_at <<<"$sent") by $(json dispatch.dispatched_by <<<"$sent")"

echo "== locked"
refused=$(api POST "/dispatches/$dispatch/parents" "{\"code\": \"${codes[0]}\"}" 409)
echo "one more load: $(json error.code <<<"$refused")"
refused=$(api POST "/parents/${codes[0]}/reopen" '{}' 409)
echo "reopen of ${codes[0]}: $(json error.message <<<"$refused")"
bag=$(api GET "/bags/${codes[0]}" "" 200)
echo "${codes[0]} names its dispatch: $(json dispatch <<<"$bag")"
shown=$(api GET "/dispatches/$dispatch" "" 200)
events=$(python3 -c 'import json, sys; print(len(json.load(sys.stdin)["events"]))' <<<"$shown")
echo "GET /api/v1/dispatches/$dispatch: $(json status <<<"$shown"), $(json parents_loaded <<<"$shown") parents, $(json children <<<"$shown") bags, $(json weight_kg <<<"$shown") kg, $events events"
echo "manifest (issue 20 item 4, when present): $TT_URL/dispatches/$dispatch/manifest.pdf"
