#!/usr/bin/env bash
# Restore a deploy/backup.sh dump into a NEW, empty database, then check it.
#
#   deploy/restore.sh DUMPFILE TARGET_DATABASE_URL
#
# Refuses a target that already has tables (restore next to production, check, then switch
# DATABASE_URL; never over the live database). Objects are restored without their original
# owner (--no-owner), so the target's user owns them. Then, when the app's .venv is here,
# `flask --app main check-invariants` checks the bag invariants (DESIGN section 3) and the
# schema version on the restored database: a failing check fails the restore.
set -euo pipefail
cd "$(dirname "$0")/.."

dump=${1:?usage: deploy/restore.sh DUMPFILE TARGET_DATABASE_URL}
target=${2:?usage: deploy/restore.sh DUMPFILE TARGET_DATABASE_URL}
target=${target/postgresql+psycopg:/postgresql:}
[ -r "$dump" ] || { echo "restore: cannot read $dump" >&2; exit 1; }

tables=$(psql "$target" -XAtq -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
if [ "$tables" != "0" ]; then
  echo "restore: the target database already has $tables tables; restore into a new, empty database" >&2
  exit 1
fi

pg_restore --exit-on-error --no-owner --no-privileges --single-transaction --dbname="$target" "$dump"
psql "$target" -XAtq -c "ANALYZE" >/dev/null
echo "restore: $dump restored into the target database"

if [ -x .venv/bin/flask ]; then
  DATABASE_URL="$target" APP_ENV=${RESTORE_APP_ENV:-development} .venv/bin/flask --app main check-invariants
else
  echo "restore: no .venv here; run 'flask --app main check-invariants' against the restored database" >&2
fi
