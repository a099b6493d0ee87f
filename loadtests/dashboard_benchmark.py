"""Benchmark of GET /api/v1/dashboard/stats at scale, under a human-paced scanning load.

    .venv/bin/python loadtests/dashboard_benchmark.py \\
        --database-url postgresql://postgres@127.0.0.1/tracetrack_bench --reset

1. --reset drops and recreates the database's public schema, migrates it (Alembic), creates
   the users, and fills it with set-based SQL: --bags bags (default 1,000,000: parents of 30
   children, the newest parents still open, some unlinked children) and --events scan events
   (default 2,000,000) over 60 days, 5% of them in the last 16 hours, so that "today" is a
   busy day (--today-share). Triggers are bypassed while loading (session_replication_role
   = replica): child_count is written directly and checked afterwards, and scan_counts is
   filled the way migration 0006 fills it; then VACUUM ANALYZE. Without --reset the data of
   an earlier run is used as it is.
2. It starts gunicorn as production runs it (gunicorn.conf.py: 4 gthread workers x 2
   threads, preload; APP_ENV=production with Redis rate limits) on a free local port.
3. It asks for the stats --idle-requests times with nothing else running (the baseline);
   then for --duration seconds, --stations scanner threads each log in as their own staff user
   and scan at human pace (a child every 1-2 s, a new parent after 30, now and then a
   refused scan), while --dashboards supervisor threads each ask for the stats every
   --poll seconds (the page asks every 10 s; polling faster makes the test harsher).
4. It reads the server-side duration of every request from the application's JSON request
   log (duration_ms, measured inside the app from before_request to after_request) and
   prints p50/p95/p99/max for the stats endpoint and for the scans, plus the client-side
   figures, the sizes of the data set and the machine's load average, and writes them as
   JSON to --output.

Needs PostgreSQL and Redis (RATELIMIT_STORAGE_URI, default redis://127.0.0.1:6379/15). With
--reset it destroys the data in the database it is given: never point it at one you need.
Nothing here is a test: the figures depend on the machine and on what else runs on it;
docs/PERFORMANCE.md ("Dashboard") has the measured ones.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from common import free_port, percentiles

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "benchmark password 4 dashboard"  # noqa: S105 - a throwaway benchmark database
STAFF_PREFIX = "bench-staff-"
SUPERVISOR_PREFIX = "bench-boss-"
CHILDREN_PER_PARENT = 30
DAYS = 60
TODAY_SHARE = 0.05       # default share of parents and other events in the last 16 hours
OPEN_PARENTS = 600       # the newest parents are still open


# --- 1. the data set ---------------------------------------------------------------------

def prepare(url: str, bags: int, events: int, staff: int, supervisors: int,
            today_share: float = TODAY_SHARE) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import create_engine, text

    from app import create_app
    from app.config import normalise_database_url
    from app.extensions import db

    url = normalise_database_url(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url, "PASSWORD_HASH_TIME_COST": 1,
                                 "PASSWORD_HASH_MEMORY_KIB": 8, "PASSWORD_HASH_PARALLELISM": 1})
    with app.app_context():
        upgrade()
        from app.auth.services import create_user

        for number in range(1, staff + 1):
            create_user(f"{STAFF_PREFIX}{number}", "staff", PASSWORD)
        for number in range(1, supervisors + 1):
            create_user(f"{SUPERVISOR_PREFIX}{number}", "supervisor", PASSWORD)
        db.session.commit()
        db.engine.dispose()

    parents = bags // (CHILDREN_PER_PARENT + 1)
    today_parents = int(parents * today_share)
    params = {"parents": parents, "open": OPEN_PARENTS, "today_parents": today_parents,
              "old_parents": parents - today_parents, "bags": bags, "events": events,
              "staff": staff, "days": DAYS, "per": CHILDREN_PER_PARENT,
              "today_share": today_share}
    steps = [
        ("parents", """
            INSERT INTO bags (id, code, kind, status, capacity, child_count, created_at, created_by_id)
            SELECT i, 'SB' || lpad(i::text, 5, '0'), 'parent',
                   CASE WHEN i > :parents - :open THEN 'open' ELSE 'complete' END, :per,
                   CASE WHEN i > :parents - :open THEN (i * 7919) % :per ELSE :per END,
                   CASE WHEN i > :old_parents
                        THEN now() - interval '15 minutes'
                             - interval '16 hours' * (1 - (i - :old_parents)::float / :today_parents)
                        ELSE now() - interval '1 day'
                             - interval '1 day' * (:days - 1) * (1 - i::float / :old_parents) END,
                   1 + i % :staff
            FROM generate_series(1, :parents) AS i"""),
        ("linked children", """
            INSERT INTO bags (id, code, kind, status, parent_id, linked_at, created_at, created_by_id)
            SELECT :parents + (p.id - 1) * :per + k, lpad((:parents + (p.id - 1) * :per + k)::text, 9, '0'),
                   'child', 'linked', p.id, p.created_at + k * interval '20 seconds',
                   p.created_at + k * interval '20 seconds', p.created_by_id
            FROM bags AS p CROSS JOIN generate_series(1, :per) AS k
            WHERE p.kind = 'parent' AND k <= p.child_count"""),
        ("unlinked children", """
            INSERT INTO bags (id, code, kind, status, created_at, created_by_id)
            SELECT :parents * (:per + 1) + n, 'U' || lpad(n::text, 8, '0'), 'child', 'unlinked',
                   now() - interval '1 day' * :days * random(), 1 + n % :staff
            FROM generate_series(1, :bags - (SELECT count(*) FROM bags)) AS n"""),
        ("parent scans", """
            INSERT INTO scan_events (created_at, user_id, action, outcome, result, code, bag_id, parent_id)
            SELECT created_at, created_by_id, 'parent_scan', 'accepted', 'parent_created', code, id, id
            FROM bags WHERE kind = 'parent'"""),
        ("child scans", """
            INSERT INTO scan_events (created_at, user_id, action, outcome, result, code, bag_id, parent_id)
            SELECT linked_at, created_by_id, 'child_scan', 'accepted', 'linked', code, id, parent_id
            FROM bags WHERE kind = 'child' AND parent_id IS NOT NULL"""),
        ("completions", """
            INSERT INTO scan_events (created_at, user_id, action, outcome, result, code, bag_id, parent_id)
            SELECT created_at + :per * interval '20 seconds' + interval '1 second', created_by_id,
                   'complete', 'accepted', 'auto_completed', code, id, id
            FROM bags WHERE kind = 'parent' AND status = 'complete'"""),
        ("other events", """
            INSERT INTO scan_events (created_at, user_id, action, outcome, result, code, bag_id, parent_id, reason)
            SELECT CASE WHEN random() < :today_share THEN now() - interval '16 hours' * random()
                        ELSE now() - interval '1 day' - interval '1 day' * (:days - 1) * random() END,
                   1 + n % :staff,
                   CASE WHEN n % 10 < 6 THEN 'parent_scan' WHEN n % 10 < 9 THEN 'child_scan' ELSE 'complete' END,
                   CASE WHEN n % 10 < 6 THEN 'accepted' ELSE 'rejected' END,
                   CASE WHEN n % 10 < 6 THEN 'parent_opened' WHEN n % 10 = 9 THEN 'under_capacity'
                        ELSE (ARRAY['child_in_other_parent', 'invalid_code', 'parent_full',
                                    'parent_complete', 'code_is_parent'])[1 + n % 5] END,
                   'SB' || lpad((1 + n % (:parents - :open))::text, 5, '0'),
                   1 + n % (:parents - :open), 1 + n % (:parents - :open),
                   CASE WHEN n % 10 >= 6 THEN 'a refused scan from the benchmark data set' END
            FROM generate_series(1, :events - (SELECT count(*) FROM scan_events)) AS n"""),
    ]
    engine = create_engine(url)
    with engine.begin() as conn:
        # Bulk load without the per-row triggers (child_count is set directly above); the
        # invariants are checked below.
        conn.execute(text("SET session_replication_role = replica"))
        for name, sql in steps:
            started = time.perf_counter()
            conn.execute(text(sql), params)
            print(f"  {name}: {time.perf_counter() - started:.1f} s", flush=True)
        conn.execute(text("SET session_replication_role = origin"))
        # The bulk load bypassed the trigger that keeps scan_counts: count the events the
        # way the migration does for the events it finds.
        started = time.perf_counter()
        conn.execute(text(scan_counts_backfill_sql()))
        print(f"  scan counts: {time.perf_counter() - started:.1f} s", flush=True)
        conn.execute(text("SELECT setval(pg_get_serial_sequence('bags', 'id'), (SELECT max(id) FROM bags))"))
        wrong = conn.scalar(text("""
            SELECT count(*) FROM bags p LEFT JOIN (
                SELECT parent_id, count(*) AS n FROM bags WHERE parent_id IS NOT NULL GROUP BY parent_id
            ) c ON c.parent_id = p.id
            WHERE p.kind = 'parent' AND p.child_count <> coalesce(c.n, 0)"""))
        if wrong:
            raise SystemExit(f"{wrong} parents have a wrong child_count: the generator is broken.")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        started = time.perf_counter()
        conn.execute(text("VACUUM ANALYZE bags"))
        conn.execute(text("VACUUM ANALYZE scan_events"))
        conn.execute(text("VACUUM ANALYZE scan_counts"))
        # Write the bulk load out now, not as a checkpoint during the measurement.
        conn.execute(text("CHECKPOINT"))
        print(f"  vacuum analyze, checkpoint: {time.perf_counter() - started:.1f} s", flush=True)
        counts = conn.execute(text(
            "SELECT (SELECT count(*) FROM bags), (SELECT count(*) FROM scan_events)")).one()
    engine.dispose()
    print(f"data set: {counts[0]:,} bags, {counts[1]:,} scan events", flush=True)


def scan_counts_backfill_sql() -> str:
    import importlib.util

    path = ROOT / "migrations/versions/0006_scan_counts.py"
    spec = importlib.util.spec_from_file_location("scan_counts_migration", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    return migration.backfill_sql("postgresql")


# --- 2. the server -----------------------------------------------------------------------

def start_server(url: str, port: int, log_path: Path, redis_url: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "APP_ENV": "production", "DATABASE_URL": url, "SECRET_KEY": secrets.token_hex(32),
        "RATELIMIT_STORAGE_URI": redis_url, "SESSION_COOKIE_SECURE": "0",
        "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_ACCESSLOG": "",
        "APP_TIMEZONE": os.environ.get("APP_TIMEZONE", "Asia/Kolkata"),
        "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="tt-bench-metrics-"),
    }
    log = open(log_path, "w")  # noqa: SIM115 - closed by the child's exit
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "main:app"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited; see {log_path}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return server
        except OSError:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit(f"gunicorn did not answer /health within 60 s; see {log_path}")


# --- 3. the clients ----------------------------------------------------------------------

class Client:
    """A browser-like session: cookie jar, login form with its CSRF token, API token."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.csrf = ""

    def request(self, method: str, path: str, body: dict | None = None,
                form: dict | None = None) -> tuple[int, dict | str, float]:
        headers = {"Accept": "application/json", "X-CSRFToken": self.csrf}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        started = time.perf_counter()
        try:
            with self.opener.open(req, timeout=30) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        elapsed = time.perf_counter() - started
        try:
            return status, json.loads(raw), elapsed
        except ValueError:
            return status, raw.decode(errors="replace"), elapsed

    def log_in(self, username: str) -> None:
        _, page, _ = self.request("GET", "/login")
        token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        status, _, _ = self.request("POST", "/login", form={
            "csrf_token": token, "username": username, "password": PASSWORD})
        session_status, session, _ = self.request("GET", "/api/v1/session")
        if session_status != 200:
            raise SystemExit(f"{username} could not log in (HTTP {status}/{session_status})")
        self.csrf = session["csrf_token"]


def station(base: str, number: int, deadline: float, results: dict, lock,
            run: str, first_parent: int) -> None:
    """Codes unique to this run and station: parents M444-nnnnn from `first_parent` on (100
    per station), children R<run><station><serial>."""
    client = Client(base)
    client.log_in(f"{STAFF_PREFIX}{number}")
    rng = random.Random(number)
    parent_serial = 0
    child_serial = 0
    while time.monotonic() < deadline and parent_serial < 99:
        parent_serial += 1
        parent = f"M444-{first_parent + (number - 1) * 100 + parent_serial:05d}"
        status, _, elapsed = client.request("POST", "/api/v1/scans/parent", {"code": parent})
        record(results, lock, "scan_parent", status, elapsed)
        for _ in range(CHILDREN_PER_PARENT):
            if time.monotonic() >= deadline:
                return
            time.sleep(rng.uniform(1.0, 2.0))  # a person picking up the next bag
            child_serial += 1
            code = f"R{run}{number:03d}{child_serial:05d}"
            if rng.random() < 0.03:  # now and then a label that does not read
                code = "BAD-" + code
            status, _, elapsed = client.request("POST", "/api/v1/scans/child", {
                "parent": parent, "code": code, "scan_id": f"bench-{run}-{number}-{child_serial}"})
            record(results, lock, "scan_child", status, elapsed)


def dashboard(base: str, number: int, deadline: float, poll: float, results: dict, lock) -> None:
    client = Client(base)
    client.log_in(f"{SUPERVISOR_PREFIX}{number}")
    while time.monotonic() < deadline:
        started = time.monotonic()
        status, _, elapsed = client.request("GET", "/api/v1/dashboard/stats")
        record(results, lock, "dashboard_stats", status, elapsed)
        time.sleep(max(0.0, poll - (time.monotonic() - started)))


def record(results: dict, lock, name: str, status: int, elapsed: float) -> None:
    with lock:
        entry = results.setdefault(name, {"statuses": {}, "seconds": []})
        entry["statuses"][status] = entry["statuses"].get(status, 0) + 1
        entry["seconds"].append(elapsed)


# --- 4. the figures ----------------------------------------------------------------------

def server_durations(log_path: Path) -> dict[str, list[float]]:
    """duration_ms of each request from the app's JSON request log, by endpoint."""
    durations: dict[str, list[float]] = {}
    for line in log_path.read_text().splitlines():
        if not line.startswith("{") or '"log": "request"' not in line:
            continue
        entry = json.loads(line)
        durations.setdefault(entry["endpoint"], []).append(float(entry["duration_ms"]))
    return durations


def run_codes(url: str, stations: int) -> tuple[str, int]:
    """A tag for this run's child codes, and the first free M444 parent number."""
    from sqlalchemy import create_engine, text

    from app.config import normalise_database_url

    engine = create_engine(normalise_database_url(url))
    with engine.connect() as conn:
        highest = conn.scalar(text(
            "SELECT max(substr(code, 6)::int) FROM bags WHERE code LIKE 'M444-%'")) or 0
    engine.dispose()
    if highest + stations * 100 > 99_999:
        raise SystemExit("The M444 parent codes are used up: run again with --reset.")
    return secrets.token_hex(2).upper(), highest + 1


def data_set_figures(url: str) -> dict:
    """The sizes that decide the cost: the tables, and today's rows (in the last 24 h)."""
    from sqlalchemy import create_engine, text

    from app.config import normalise_database_url

    engine = create_engine(normalise_database_url(url))
    with engine.connect() as conn:
        row = conn.execute(text("""
            SELECT (SELECT count(*) FROM bags),
                   (SELECT count(*) FROM scan_events),
                   (SELECT count(*) FROM scan_events WHERE created_at >= now() - interval '24 hours'),
                   (SELECT count(*) FROM scan_events WHERE created_at >= now() - interval '24 hours'
                      AND action = 'child_scan' AND outcome = 'accepted' AND result = 'linked'),
                   (SELECT count(*) FROM bags WHERE kind = 'parent' AND status = 'open')""")).one()
    engine.dispose()
    return {"bags": row[0], "scan_events": row[1], "events_last_24h": row[2],
            "linked_scans_last_24h": row[3], "open_parents": row[4]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="a PostgreSQL database it may fill")
    parser.add_argument("--reset", action="store_true", help="drop the schema and build the data set")
    parser.add_argument("--bags", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--today-share", type=float, default=TODAY_SHARE,
                        help="share of the parents and other events placed in the last 16 hours")
    parser.add_argument("--stations", type=int, default=20)
    parser.add_argument("--dashboards", type=int, default=2)
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between a dashboard's requests")
    parser.add_argument("--duration", type=int, default=120)
    parser.add_argument("--warmup", type=int, default=10, help="seconds left out of the figures")
    parser.add_argument("--idle-requests", type=int, default=50,
                        help="stats requests measured alone before the load starts")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--output", default=str(ROOT / "loadtests/results/dashboard.json"))
    args = parser.parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql")):
        raise SystemExit("--database-url must be a PostgreSQL URL.")

    if args.reset:
        print("building the data set ...", flush=True)
        prepare(args.database_url, args.bags, args.events, args.stations, args.dashboards,
                args.today_share)

    port = free_port()
    log_path = Path(tempfile.mkdtemp(prefix="tt-bench-")) / "server.log"
    print(f"starting gunicorn on port {port} (log: {log_path}) ...", flush=True)
    server = start_server(args.database_url, port, log_path, args.redis_url)
    base = f"http://127.0.0.1:{port}"
    results: dict = {}
    lock = threading.Lock()
    load_before = os.getloadavg()
    try:
        # Idle baseline: one supervisor, nothing else running.
        idle = Client(base)
        idle.log_in(f"{SUPERVISOR_PREFIX}1")
        for _ in range(5):
            idle.request("GET", "/api/v1/dashboard/stats")  # warm the worker and the cache
        idle_offset = log_path.stat().st_size
        for _ in range(args.idle_requests):
            idle.request("GET", "/api/v1/dashboard/stats")
        time.sleep(0.5)
        idle_log = log_path.with_name("idle.log")
        idle_log.write_text(log_path.read_text()[idle_offset:])

        started = time.monotonic()
        deadline = started + args.warmup + args.duration
        run, first_parent = run_codes(args.database_url, args.stations)
        threads = [threading.Thread(target=station,
                                    args=(base, n, deadline, results, lock, run, first_parent))
                   for n in range(1, args.stations + 1)]
        threads += [threading.Thread(target=dashboard, args=(base, n, deadline, args.poll, results, lock))
                    for n in range(1, args.dashboards + 1)]
        for thread in threads:
            thread.start()
        time.sleep(args.warmup)
        with lock:  # the warm-up's samples are left out
            results.clear()
        print(f"measuring for {args.duration} s: {args.stations} stations scanning, "
              f"{args.dashboards} dashboards polling every {args.poll} s ...", flush=True)
        log_offset = log_path.stat().st_size
        for thread in threads:
            thread.join()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    measured = log_path.read_text()[log_offset:]
    measured_log = log_path.with_name("measured.log")
    measured_log.write_text(measured)
    server_side = server_durations(measured_log)
    report = {
        "command": " ".join(sys.argv),
        "settings": {k: v for k, v in vars(args).items() if k != "database_url"},
        "data_set": data_set_figures(args.database_url),
        "machine": {"cpus": os.cpu_count(), "loadavg_before": [round(x, 2) for x in load_before],
                    "loadavg_after": [round(x, 2) for x in os.getloadavg()]},
        "server_ms_idle": {"dashboard_stats": percentiles(
            server_durations(idle_log).get("api.dashboard_stats", []))},
        "server_ms": {name: percentiles(server_side.get(endpoint, []))
                      for name, endpoint in (("dashboard_stats", "api.dashboard_stats"),
                                             ("scan_child", "api.scan_child"),
                                             ("scan_parent", "api.scan_parent"))},
        "client_ms": {name: percentiles([s * 1000 for s in entry["seconds"]])
                      for name, entry in results.items()},
        "statuses": {name: entry["statuses"] for name, entry in results.items()},
    }
    print(json.dumps(report, indent=2))
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    p95 = report["server_ms"]["dashboard_stats"].get("p95")
    print(f"\nGET /api/v1/dashboard/stats server-side p95 under load: {p95} ms "
          f"({'under' if p95 is not None and p95 < 100 else 'NOT under'} 100 ms)")


if __name__ == "__main__":
    main()
