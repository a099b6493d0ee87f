#!/usr/bin/env bash
# One command from a fresh clone to a serving TraceTrack:
#   checks Python, creates .venv, installs the pinned requirements, checks the configuration,
#   migrates the database once (retrying while it comes up), makes sure an admin exists,
#   then execs gunicorn with gunicorn.conf.py so that signals reach it directly.
# With DATABASE_URL: production (APP_ENV=production; SECRET_KEY and RATELIMIT_STORAGE_URI
# required). Without it: the one-machine trial on the embedded SQLite database, said loudly.
# Idempotent: run it again to upgrade in place.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "TraceTrack needs Python 3.11 or newer as '$PYTHON' (set PYTHON=/path/to/python3.11)." >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv ..."
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-production
digest=$(cat requirements.txt | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
  echo "Installing requirements.txt ..."
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
  echo "$digest" > "$stamp"
fi

if [ -n "${DATABASE_URL:-}" ]; then
  export APP_ENV=production
else
  export APP_ENV=${APP_ENV:-development}
  cat >&2 <<'MSG'
************************************************************************************
* DATABASE_URL is not set: starting the ONE-MACHINE TRIAL on the embedded SQLite   *
* database in instance/. Not for production: set DATABASE_URL (PostgreSQL),        *
* SECRET_KEY and RATELIMIT_STORAGE_URI (Redis) to run the production server.       *
************************************************************************************
MSG
  # The trial keeps rate-limit counters in memory: one worker shares them all.
  if [ -z "${RATELIMIT_STORAGE_URI:-}" ]; then export GUNICORN_WORKERS=${GUNICORN_WORKERS:-1}; fi
  export GUNICORN_THREADS=${GUNICORN_THREADS:-8}
fi

FLASK=(.venv/bin/flask --app main)
# Fails fast, naming the variable, on a bad configuration (ProductionConfig).
"${FLASK[@]}" check-config

# Migrate once, before any worker starts; retry while the database comes up.
attempts=${MIGRATE_ATTEMPTS:-30}
for i in $(seq 1 "$attempts"); do
  if "${FLASK[@]}" db upgrade; then break; fi
  if [ "$i" = "$attempts" ]; then echo "The database did not come up; giving up." >&2; exit 1; fi
  echo "Database not ready (attempt $i of $attempts); retrying in 2 s ..." >&2
  sleep 2
done

"${FLASK[@]}" users ensure-admin

exec .venv/bin/gunicorn -c gunicorn.conf.py main:app
