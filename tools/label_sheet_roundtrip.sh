#!/usr/bin/env bash
# The labels round trip (issue 22, must-show): reserve 24 new parent codes through the API,
# download their A4 3 x 8 sheet with curl, rasterise it with pdftoppm, cut out each label's
# place (70 x 37 mm, from 0.5 mm down) and decode it with zbarimg: every place must hold its
# code, in sheet order. The page picture is kept to look at.
#
#   tools/label_sheet_roundtrip.sh                 starts the dev server itself on a throwaway
#                                                  SQLite database (port $PORT, default 8110)
#   BASE_URL=http://host:port USERNAME=sam PASSWORD=... tools/label_sheet_roundtrip.sh
#                                                  uses a running server and a supervisor's login
# Needs curl, python3, pdftoppm (poppler-utils), zbarimg (zbar-tools). Output: $OUT
# (default test-artifacts/label-roundtrip): sheet.pdf, sheet-1.png, place-NN.png, codes.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-$ROOT/test-artifacts/label-roundtrip}
DPI=${DPI:-150}
PREFIX=${PREFIX:-SB}
rm -rf "$OUT" && mkdir -p "$OUT"
JAR="$OUT/cookies.txt"
SERVER_PID=

cleanup() { if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi; }
trap cleanup EXIT

if [ -z "${BASE_URL:-}" ]; then
  PORT=${PORT:-8110}
  BASE_URL="http://127.0.0.1:$PORT"
  USERNAME=roundtrip PASSWORD='copper kettle orchard'
  echo "starting the dev server on $BASE_URL (SQLite in $OUT/trial.db)"
  DATABASE_URL="sqlite:///$OUT/trial.db" PORT=$PORT REQUIRE_2FA_ROLES= JOB_RUNNER_AUTOSTART=0 \
    ADMIN_USERNAME=$USERNAME ADMIN_PASSWORD=$PASSWORD python3 dev.py serve >"$OUT/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 120); do
    curl -fs "$BASE_URL/health" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$OUT/server.log"; exit 1; }
    sleep 0.5
  done
fi
: "${USERNAME:?set USERNAME (a supervisor or admin)}" "${PASSWORD:?set PASSWORD}"

token() {  # the CSRF token of a page's <meta name="csrf-token">
  curl -fs -b "$JAR" -c "$JAR" "$BASE_URL$1" |
    python3 -c 'import re,sys; print(re.search(r"<meta name=\"csrf-token\" content=\"([^\"]+)\"", sys.stdin.read()).group(1))'
}

curl -fs -b "$JAR" -c "$JAR" -o /dev/null \
  --data-urlencode "csrf_token=$(token /login)" --data-urlencode "username=$USERNAME" \
  --data-urlencode "password=$PASSWORD" "$BASE_URL/login"
curl -fs -b "$JAR" -c "$JAR" -H "X-CSRFToken: $(token /labels)" -H 'Content-Type: application/json' \
  -d "{\"prefix\": \"$PREFIX\", \"count\": 24}" "$BASE_URL/api/v1/labels/series" >"$OUT/series.json"
PDF_URL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pdf"])' "$OUT/series.json")
python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["codes"]))' "$OUT/series.json" >"$OUT/codes.txt"
echo "reserved $(head -1 "$OUT/codes.txt") to $(tail -1 "$OUT/codes.txt"); downloading $PDF_URL?layout=a4-3x8"

curl -fs -b "$JAR" -o "$OUT/sheet.pdf" "$PDF_URL?layout=a4-3x8"
pdftoppm -r "$DPI" -png "$OUT/sheet.pdf" "$OUT/sheet"

: >"$OUT/decoded.txt"
for place in $(seq 0 23); do
  read -r X Y W H < <(python3 -c "
p, dpi = $place, $DPI
col, row = p % 3, p // 3
mm = lambda v: round(v * dpi / 25.4)
print(mm(col * 70), mm(0.5 + row * 37), mm(70), mm(37))")
  name=$(printf 'place-%02d' "$place")
  pdftoppm -r "$DPI" -f 1 -l 1 -x "$X" -y "$Y" -W "$W" -H "$H" -png -singlefile "$OUT/sheet.pdf" "$OUT/$name"
  { zbarimg -q --raw "$OUT/$name.png" 2>/dev/null || echo "(nothing)"; } | head -1 >>"$OUT/decoded.txt"
done

SIZE=$(wc -c <"$OUT/sheet.pdf")
echo "sheet.pdf: $SIZE bytes; page picture: $OUT/sheet-1.png"
if diff -u "$OUT/codes.txt" "$OUT/decoded.txt"; then
  echo "OK: 24 of 24 labels decoded by zbarimg, in sheet order"
else
  echo "FAILED: the decoded codes differ from the reserved ones (above)" >&2
  exit 1
fi
