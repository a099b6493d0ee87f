#!/usr/bin/env bash
# A consistent backup of TraceTrack's PostgreSQL database, safe while scanning goes on.
#
#   DATABASE_URL=postgresql://user@host/db deploy/backup.sh [DIRECTORY]
#
# pg_dump -Fc reads one snapshot (everything committed before it started, nothing after),
# compressed, restorable table by table with deploy/restore.sh. The file is written under a
# temporary name, checked with pg_restore --list, then renamed: a file named
# tracetrack-<UTC time>.dump is always complete. Dumps older than BACKUP_KEEP_DAYS (default
# 14) in DIRECTORY are removed afterwards. Copy each dump off the database host
# (docs/DEPLOYMENT.md: retention and where to keep copies). Prints the dump's path.
set -euo pipefail

url=${DATABASE_URL:?set DATABASE_URL to the database to back up}
url=${url/postgresql+psycopg:/postgresql:}
directory=${1:-${BACKUP_DIR:-/var/backups/tracetrack}}
keep_days=${BACKUP_KEEP_DAYS:-14}

mkdir -p "$directory"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
target="$directory/tracetrack-$stamp.dump"
partial="$target.partial"
trap 'rm -f "$partial"' EXIT

pg_dump --format=custom --compress=6 --no-password --file="$partial" "$url"
pg_restore --list "$partial" >/dev/null   # the archive reads back
mv "$partial" "$target"
trap - EXIT

if [ "$keep_days" -gt 0 ]; then
  find "$directory" -maxdepth 1 -name 'tracetrack-*.dump' -type f -mtime "+$keep_days" -print -delete >&2
fi
echo "$target"
