#!/usr/bin/env bash
# Issue 19, must show: a token made at /account/tokens scans through curl with no cookie, and
# a token with the bags:read scope alone gets 403 insufficient_scope on a scan.
#
# Serves the app (gunicorn, development configuration) on a throwaway SQLite database and
# drives it with curl only: log in through the form (a cookie jar, the page's CSRF token),
# make both tokens on /account/tokens with the current password, then call the API with
# nothing but `Authorization: Bearer`. Usage: tools/token_demo.sh [port]   (default 8170)
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${1:-8170}"
BASE="http://127.0.0.1:$PORT"
WORK="$(mktemp -d)"
PY=.venv/bin/python
export APP_ENV=development INSTANCE_DIR="$WORK" DATABASE_URL="sqlite:///$WORK/demo.db"
export SECRET_KEY="token-demo-secret-key-0123456789abcdef" REQUIRE_2FA_ROLES=""
PASSWORD="a demo passphrase for tokens"

.venv/bin/flask --app main db upgrade >/dev/null 2>&1
printf '%s\n' "$PASSWORD" | .venv/bin/flask --app main users create packer --role staff --password-stdin >/dev/null
.venv/bin/gunicorn --bind "127.0.0.1:$PORT" --workers 1 --threads 2 main:app >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do curl -fsS "$BASE/health" >/dev/null 2>&1 && break; sleep 0.2; done

JAR="$WORK/cookies"
csrf() { curl -fsS -b "$JAR" -c "$JAR" "$BASE$1" | sed -n 's/.*name="csrf-token" content="\([^"]*\)".*/\1/p' | head -1; }
curl -fsS -b "$JAR" -c "$JAR" -o /dev/null "$BASE/login"
curl -fsS -b "$JAR" -c "$JAR" -o /dev/null --data-urlencode "csrf_token=$(csrf /login)" \
     --data-urlencode "username=packer" --data-urlencode "password=$PASSWORD" "$BASE/login"

make_token() {  # name, then the scopes; prints the token shown once on the next page
  local name="$1"; shift
  local args=(--data-urlencode "csrf_token=$(csrf /account/tokens)" --data-urlencode "name=$name"
              --data-urlencode "expires_in_days=30" --data-urlencode "current_password=$PASSWORD")
  for scope in "$@"; do args+=(--data-urlencode "scopes=$scope"); done
  curl -fsS -b "$JAR" -c "$JAR" "${args[@]}" "$BASE/account/tokens" \
    | grep -o 'tt_[a-z2-7]\{10\}_[a-z2-7]\{32\}' | head -1
}
SCAN_TOKEN="$(make_token "handheld" scan bags:read)"
READ_TOKEN="$(make_token "report" bags:read)"
echo "Made at /account/tokens: ${SCAN_TOKEN:0:14}... (scan, bags:read) and ${READ_TOKEN:0:14}... (bags:read)"

api() {  # token, method, path, [json]: no cookie, no CSRF token
  local token="$1" method="$2" path="$3"; shift 3
  curl -sS -X "$method" -H "Authorization: Bearer $token" -H "Content-Type: application/json" \
       ${1:+--data "$1"} -w ' -> HTTP %{http_code}\n' "$BASE/api/v1$path"
}
echo; echo "1. The scan token, no cookie:"
echo "\$ curl -X POST -H 'Authorization: Bearer tt_...' $BASE/api/v1/scans/parent -d '{\"code\": \"SB00001\"}'"
OUT1="$(api "$SCAN_TOKEN" POST /scans/parent '{"code": "SB00001"}')"; echo "$OUT1"
OUT2="$(api "$SCAN_TOKEN" POST /scans/batch '{"parent": "SB00001", "items": [{"code": "0016586", "scan_id": "h-1"}, {"code": "0016587", "scan_id": "h-2"}]}')"; echo "$OUT2"
echo; echo "2. The bags:read-only token on a scan:"
OUT3="$(api "$READ_TOKEN" POST /scans/child '{"parent": "SB00001", "code": "0016588"}')"; echo "$OUT3"
OUT4="$(api "$READ_TOKEN" GET /bags/SB00001 | head -c 160)"; echo "$OUT4 ..."

grep -q 'HTTP 201' <<<"$OUT1" && grep -q '"parent_created"' <<<"$OUT1" \
  && grep -q 'HTTP 200' <<<"$OUT2" && [ "$(grep -o '"linked"' <<<"$OUT2" | wc -l)" = 2 ] \
  && grep -q 'HTTP 403' <<<"$OUT3" && grep -q '"insufficient_scope"' <<<"$OUT3" \
  && grep -q '"scope":"scan"' <<<"${OUT3// /}" \
  && { echo; echo "OK: the token scans with no cookie; bags:read alone is refused the scan."; } \
  || { echo "FAILED"; exit 1; }
grep -q "${SCAN_TOKEN:3:10}" "$WORK/server.log" && ! grep -q "${SCAN_TOKEN:14}" "$WORK/server.log" \
  && echo "The request log names the token by its prefix; the secret is nowhere in it." \
  || { echo "FAILED: the request log has the secret, or no token prefix"; exit 1; }
