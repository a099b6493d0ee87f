#!/usr/bin/env bash
# The sites migration (0017_sites, issue 21) on a 1,000,000-bag database, timed.
#
#   DATABASE_URL=postgresql://postgres@127.0.0.1/tt_scratch loadtests/sites_migration.sh [BEFORE]
#
# Empties that database (DROP SCHEMA public), builds it at the revision before sites with the
# code of git revision BEFORE (default: the parent of the commit that added 0017), seeds
# 1,000,000 bags with their scan events there (`flask seed-bags`), then runs this tree's
# `flask db upgrade` (0016 -> 0017) under `time`, and checks that every row moved into the
# default site. docs/PERFORMANCE.md ("Sites migration") has a run's figures.
set -euo pipefail
: "${DATABASE_URL:?set DATABASE_URL to a PostgreSQL database that may be emptied}"
here="$(cd "$(dirname "$0")/.." && pwd)"
python="$here/.venv/bin/python"
before="${1:-$(git -C "$here" log --diff-filter=A --format=%H -n 1 -- migrations/versions/0017_sites.py)^}"
old="$(mktemp -d)"
trap 'rm -rf "$old"' EXIT
git -C "$here" archive "$before" | tar -x -C "$old"
export APP_ENV=development REQUIRE_2FA_ROLES= LOG_LEVEL=WARNING REQUEST_LOG=0
psql "$DATABASE_URL" -q -c "DROP SCHEMA public CASCADE; CREATE SCHEMA public;"
cd "$old"
"$python" -m flask --app main db upgrade 2>&1 | tail -n 1
printf 'seed password for tests\n' | "$python" -m flask --app main users create seeder \
    --role staff --password-stdin >/dev/null
"$python" -m flask --app main seed-bags 1000000 --days 90 2>&1 | tail -n 1
psql "$DATABASE_URL" -At -c "SELECT 'before: ' || (SELECT count(*) FROM bags) || ' bags, ' \
    || (SELECT count(*) FROM scan_events) || ' scan events, ' \
    || pg_size_pretty(pg_database_size(current_database()))"
cd "$here"
/usr/bin/time -f "0017_sites: %e s wall, %M KiB peak (flask db upgrade)" \
    "$python" -m flask --app main db upgrade 2>&1 | grep -v '^INFO' || true
psql "$DATABASE_URL" -At -c "SELECT 'after: ' || (SELECT count(*) FROM bags WHERE site_id = \
    (SELECT id FROM sites WHERE code = 'MAIN')) || ' bags in MAIN, ' \
    || (SELECT count(*) FROM scan_events WHERE site_id IS NULL) || ' events without a site, ' \
    || (SELECT coalesce(sum(count), 0) FROM scan_counts) || ' counted'"
