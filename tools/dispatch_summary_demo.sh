#!/usr/bin/env bash
# Issue 20's must-show for the documents (docs/DISPATCH_DOCUMENTS.md), end to end on this
# machine: 40 complete parents of 30 bags scanned and a dispatch of them loaded and dispatched
# through the API with curl; its manifest downloaded, rasterised (pdftoppm) and its QR decoded
# (zbarimg); then the day's summary sent by the job runners of two gunicorn workers to a real
# SMTP server (aiosmtpd, keeping what it receives in a Maildir), printed as received.
#
#   tools/dispatch_summary_demo.sh [OUT_DIR]      (default: a new temporary folder)
# Ports: APP_PORT (8160) and SMTP_PORT (8025). Uses the embedded SQLite database in OUT_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-$(mktemp -d)}
APP_PORT=${APP_PORT:-8160}
SMTP_PORT=${SMTP_PORT:-8025}
PY=.venv/bin/python
B=http://127.0.0.1:$APP_PORT
mkdir -p "$OUT/instance"  # not mail/: aiosmtpd makes its Maildir there
export INSTANCE_DIR="$OUT/instance" RATELIMIT_ENABLED=0 REQUIRE_2FA_ROLES= APP_TIMEZONE=Asia/Kolkata
export SMTP_URL=smtp://127.0.0.1:$SMTP_PORT MAIL_FROM="TraceTrack <tracetrack@warehouse.example>"
export DISPATCH_SUMMARY_TO="warehouse.manager@example.com, gate@example.com" DISPATCH_SUMMARY_ATTACH=1
export GUNICORN_BIND=127.0.0.1:$APP_PORT GUNICORN_WORKERS=2 GUNICORN_ACCESSLOG=
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

start_app() {  # $1: DISPATCH_SUMMARY_AT
  DISPATCH_SUMMARY_AT=$1 .venv/bin/gunicorn -c gunicorn.conf.py main:app >>"$OUT/app.log" 2>&1 &
  APP_PID=$!; PIDS+=("$APP_PID")
  for _ in $(seq 50); do curl -sf "$B/health" >/dev/null && return; sleep 0.2; done
  echo "the app did not start: $OUT/app.log" >&2; exit 1
}

$PY -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$OUT/mail" >"$OUT/smtp.log" 2>&1 &
PIDS+=("$!")
.venv/bin/flask --app main db upgrade >/dev/null 2>&1
echo "correct horse battery staple 2026" | .venv/bin/flask --app main users create boss --role supervisor --password-stdin
start_app 23:59

J=$OUT/cookies.txt
T=$(curl -s -c "$J" -b "$J" "$B/login" | grep -o 'name="csrf_token"[^>]*value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')
curl -s -o /dev/null -c "$J" -b "$J" -X POST "$B/login" --data-urlencode "csrf_token=$T" \
  --data-urlencode "username=boss" --data-urlencode "password=correct horse battery staple 2026"
X=$(curl -s -c "$J" -b "$J" "$B/api/v1/session" | $PY -c 'import json,sys; print(json.load(sys.stdin)["csrf_token"])')
api() {  # POST, resent while the server answers 503 (the embedded SQLite busy with the other worker)
  local out
  for _ in 1 2 3 4 5; do
    out=$(curl -s -w '\n%{http_code}' -c "$J" -b "$J" -H "X-CSRFToken: $X" -H 'Content-Type: application/json' \
          -X POST "$B/api/v1$1" -d "$2")
    [ "${out##*$'\n'}" != 503 ] && { echo "${out%$'\n'*}"; return; }
    sleep 0.3
  done
  echo "${out%$'\n'*}"
}
field() { $PY -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

echo "scanning 40 parents of 30 bags ..."
for p in $(seq 101 140); do
  api /scans/parent "{\"code\":\"SB00$p\"}" >/dev/null
  for c in $(seq 10 39); do api /scans/child "{\"parent\":\"SB00$p\",\"code\":\"0$p$c\",\"scan_id\":\"c$p$c\"}" >/dev/null; done
done
api /dispatches '{"code":"D000123","destination":"Kolkata depot, Howrah","vehicle_number":"wb 12 ab 3456","expected_parents":40,"driver":"Ramesh Kumar","transporter":"Fast Freight","reference":"LR-99812"}' \
  | field '"created", d["dispatch"]["code"]'
for p in $(seq 101 140); do api /dispatches/D000123/parents "{\"code\":\"SB00$p\",\"scan_id\":\"d$p\"}" >/dev/null; done
api /dispatches/D000123/dispatch '{}' | field 'd["result"], d["dispatch"]["parents_loaded"], "parents", d["dispatch"]["children"], "bags", d["dispatch"]["weight_kg"], "kg"'
api /dispatches/D000123/returns '{"parent":"SB00140","reason":"torn sack, back to the floor"}' | field '"return:", d["result"]'
api /dispatches '{"code":"D000124","destination":"Siliguri","vehicle_number":"WB74C1200","expected_parents":3,"driver":"Anil"}' >/dev/null
api /dispatches/D000124/parents '{"code":"SB00140"}' >/dev/null
api /dispatches/D000124/dispatch '{"reason":"two parents not ready; next truck"}' | field '"short dispatch:", d["result"]'
api /dispatches '{"code":"D000125","destination":"Patna","vehicle_number":"BR01XY9","expected_parents":20}' >/dev/null

curl -s -c "$J" -b "$J" -o "$OUT/manifest-D000123.pdf" -w "manifest: %{http_code} %{content_type}, %{size_download} bytes\n" \
  "$B/dispatches/D000123/manifest.pdf"
pdftoppm -r 100 -png "$OUT/manifest-D000123.pdf" "$OUT/manifest"
echo "pages: $(ls "$OUT"/manifest-*.png | tr '\n' ' ')"
echo "QR on page 1: $(zbarimg -q --raw "$OUT/manifest-1.png" 2>/dev/null)"

# The summary's time comes: restart with DISPATCH_SUMMARY_AT = now; the runners look within a minute.
kill "$APP_PID"; wait "$APP_PID" 2>/dev/null || true
start_app "$(TZ=Asia/Kolkata date +%H:%M)"
for _ in $(seq 90); do [ -n "$(ls -A "$OUT/mail/new" 2>/dev/null)" ] && break; sleep 1; done
sleep 3  # the other worker has looked too
echo "messages received: $(ls "$OUT/mail/new" | wc -l)"
$PY - "$OUT/mail" <<'EOF'
import email, email.policy, mailbox, sys
for key in mailbox.Maildir(sys.argv[1], create=False).keys():
    message = email.message_from_bytes(mailbox.Maildir(sys.argv[1], create=False).get_bytes(key),
                                       policy=email.policy.default)
    for header in ("From", "To", "Subject", "Date", "Message-ID"):
        print(f"{header}: {message[header]}")
    print("Parts:", ", ".join(part.get_content_type() + (f" ({part.get_filename()})" if part.get_filename() else "")
                              for part in message.walk() if not part.is_multipart()))
    print()
    print(message.get_body(("plain",)).get_content())
EOF
echo "files in $OUT"
