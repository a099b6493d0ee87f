"""Bag lookup benchmark (issue 4): 1,000,000 seeded bags in a fresh PostgreSQL database,
the app under gunicorn (gunicorn.conf.py: 4 gthread workers x 2 threads, preload), and a
bounded Python client that measures the bag lookup, the first list page and deep list
pages, through the JSON API and the HTML pages.

Server-side times come from the app's own request log (one JSON line per request with
duration_ms, matched by the X-Request-ID this client sends); client-side times include the
loopback HTTP round trip. Target: server-side p95 under 50 ms.

    .venv/bin/python loadtests/bench_lookup.py                      # the documented run
    .venv/bin/python loadtests/bench_lookup.py --bags 100000 --requests 300   # a quick one
    .venv/bin/python loadtests/bench_lookup.py --skip-seed          # reuse the seeded database

It drops and re-creates the database it is given (default tt_bench_lookup): never point it
at one you need. Nothing here is a test: numbers vary by machine, see docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

from common import free_port, percentile

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
ADMIN = ("benchadmin", "Bench-lookup-Passw0rd-2026")


def run(cmd: list[str], env: dict, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, env=env, check=True, text=True, **kwargs)


def flask(env: dict, *args: str, stdin: str | None = None) -> str:
    result = run([str(VENV_BIN / "flask"), "--app", "main", *args], env, input=stdin,
                 capture_output=True)
    return result.stdout + result.stderr


def fresh_database(server_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def wait_for(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("gunicorn did not answer /health in time")


# --- a tiny HTTP client with a session cookie ----------------------------------------------

class Session:
    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(self, method: str, path: str, body: str | None = None,
                headers: dict | None = None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        data = response.read()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";", 1)[0]
        return response.status, data

    def log_in(self, username: str, password: str) -> None:
        _, page = self.request("GET", "/login")
        token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        body = urllib.parse.urlencode({"username": username, "password": password,
                                       "csrf_token": token.decode()})
        status, _ = self.request("POST", "/login", body, {
            "Content-Type": "application/x-www-form-urlencoded"})
        if status != 302:
            raise SystemExit(f"login failed with {status}")


# --- targets -------------------------------------------------------------------------------

def prepare_targets(env: dict, samples: int, rng: random.Random) -> dict:
    """Codes and cursors to ask for, read straight from the database and signed with the
    server's SECRET_KEY, so that every deep page starts at a real, known depth."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import text

    from app import create_app
    from app.extensions import db
    from app.lookup.queries import encode_cursor

    app = create_app()
    with app.app_context():
        total = db.session.scalar(text("SELECT count(*) FROM bags"))
        max_id = db.session.scalar(text("SELECT max(id) FROM bags"))
        ids = rng.sample(range(1, max_id + 1), min(samples * 2, max_id))
        codes = list(db.session.scalars(text("SELECT code FROM bags WHERE id = ANY(:ids)"),
                                        {"ids": ids}))[:samples]
        parents = list(db.session.scalars(text(
            "SELECT code FROM bags WHERE kind = 'parent' AND id = ANY(:ids)"),
            {"ids": rng.sample(range(1, max_id + 1), min(samples * 40, max_id))}))[:samples]
        cursors, linked_cursors = [], []
        for _ in range(20):  # deep positions between half-way and the very end
            depth = rng.randint(total // 2, total - 100)
            row = db.session.execute(text(
                "SELECT created_at, id FROM bags ORDER BY created_at DESC, id DESC "
                "OFFSET :depth LIMIT 1"), {"depth": depth}).first()
            cursors.append((depth, encode_cursor(row.created_at, row.id)))
            row = db.session.execute(text(
                "SELECT created_at, id FROM bags WHERE status = 'linked' "
                "ORDER BY created_at DESC, id DESC OFFSET :depth LIMIT 1"),
                {"depth": depth // 2}).first()
            linked_cursors.append(encode_cursor(row.created_at, row.id))
        db.session.rollback()
    # Unknown codes: an existing child's code with two digits swapped or one changed.
    unknown = []
    for code in codes:
        digits = list(code)
        position = rng.randrange(3, len(digits) - 1)
        digits[position] = "X"  # a letter where seeded codes have digits: never stored
        unknown.append("".join(digits))
    return {"total": total, "codes": codes, "parents": parents, "cursors": cursors,
            "linked_cursors": linked_cursors, "unknown": unknown}


def phases(targets: dict) -> list[tuple[str, callable]]:
    codes, parents, unknown = targets["codes"], targets["parents"], targets["unknown"]
    cursors = [c for _, c in targets["cursors"]]
    linked = targets["linked_cursors"]
    quote = urllib.parse.quote
    return [
        ("API lookup, any bag", lambda r: f"/api/v1/bags/{quote(r.choice(codes))}"),
        ("API lookup, parent with children", lambda r: f"/api/v1/bags/{quote(r.choice(parents))}"),
        ("API lookup, unknown code (404 + suggestions)",
         lambda r: f"/api/v1/bags/{quote(r.choice(unknown))}"),
        ("API list, first page", lambda r: "/api/v1/bags"),
        ("API list, deep page", lambda r: f"/api/v1/bags?cursor={r.choice(cursors)}"),
        ("API list, status=linked, deep page",
         lambda r: f"/api/v1/bags?status=linked&cursor={r.choice(linked)}"),
        ("page /bags/<code>, any bag", lambda r: f"/bags/{quote(r.choice(codes))}"),
        ("page /bags, first page", lambda r: "/bags"),
        ("page /bags, deep page", lambda r: f"/bags?cursor={r.choice(cursors)}"),
    ]


# --- measuring -----------------------------------------------------------------------------

def measure(port: int, cookies: dict, label: str, make_path, requests: int,
            concurrency: int, tag: str, seed: int, rate: float = 0) -> dict:
    """`requests` GETs from `concurrency` threads; at `rate` requests per second in all
    (an open, paced load, as people looking bags up make it), or as fast as the server
    answers when rate is 0 (a closed loop: the saturation throughput)."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    counter = iter(range(requests))

    def worker(number: int) -> None:
        session = Session(port)
        session.cookies = dict(cookies)
        rng = random.Random(seed * 100 + number)
        while True:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            if rate:
                delay = start_at + index / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            path = make_path(rng)
            started = time.perf_counter()
            status, _ = session.request("GET", path, headers={
                "X-Request-ID": f"{tag}-{index:06d}", "Accept": "application/json"})
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1

    started = start_at = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {"label": label, "tag": tag, "client_ms": latencies, "statuses": statuses,
            "throughput": requests / wall}


def server_times(log_path: Path) -> dict[str, list[float]]:
    """duration_ms of every benchmark request in the app's request log, by phase tag."""
    times: dict[str, list[float]] = {}
    for line in log_path.read_text(errors="replace").splitlines():
        if '"log": "request"' not in line or '"bench' not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        request_id = entry.get("request_id", "")
        if request_id.startswith("bench"):
            times.setdefault(request_id.rsplit("-", 1)[0], []).append(
                float(entry["duration_ms"]))
    return times


def _load(values) -> str:
    return " ".join(f"{value:.2f}" for value in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bags", type=int, default=1_000_000)
    parser.add_argument("--database", default="tt_bench_lookup")
    parser.add_argument("--server-url", default="postgresql://postgres@127.0.0.1/postgres",
                        help="a maintenance database on the same server (to create the bench one)")
    parser.add_argument("--requests", type=int, default=1000, help="measured requests per phase")
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured requests per phase")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads")
    parser.add_argument("--rate", type=float, default=100,
                        help="requests per second (0: as fast as answered, the saturation run)")
    parser.add_argument("--skip-seed", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    server = urllib.parse.urlsplit(args.server_url)
    database_url = urllib.parse.urlunsplit(server._replace(path="/" + args.database))
    port = free_port()
    log_path = ROOT / "instance" / "bench_lookup_server.log"
    env = {**os.environ, "DATABASE_URL": database_url, "APP_ENV": "development",
           "SECRET_KEY": os.environ.get("BENCH_SECRET_KEY") or secrets.token_hex(32),
           "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_ACCESSLOG": "",
           "RATELIMIT_ENABLED": "0", "LOG_LEVEL": "INFO"}
    rng = random.Random(args.seed)
    report = {"bags": args.bags, "cpus": os.cpu_count(), "requests": args.requests,
              "concurrency": args.concurrency, "rate": args.rate}

    if not args.skip_seed:
        print(f"fresh database {args.database}", flush=True)
        fresh_database(args.server_url, args.database)
        flask(env, "db", "upgrade")
        flask(env, "users", "create", ADMIN[0], "--role", "admin", "--password-stdin",
              stdin=ADMIN[1] + "\n")
        print(f"seeding {args.bags:,} bags ...", flush=True)
        started = time.monotonic()
        output = flask(env, "seed-bags", str(args.bags))
        report["seed_seconds"] = round(time.monotonic() - started, 1)
        report["seed_output"] = next(line for line in output.splitlines()
                                     if line.startswith("Seeded"))
        print(report["seed_output"], f"(the whole command: {report['seed_seconds']} s)",
              flush=True)

    targets = prepare_targets(env, samples=500, rng=rng)
    report["total_bags"] = targets["total"]
    report["deep_depths"] = sorted(depth for depth, _ in targets["cursors"])

    log_path.parent.mkdir(exist_ok=True)
    with open(log_path, "w") as log_file:
        server_process = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py", "main:app"], cwd=ROOT,
            env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(port)
        session = Session(port)
        session.log_in(*ADMIN)
        report["load_before"] = os.getloadavg()
        results = []
        for number, (label, make_path) in enumerate(phases(targets)):
            tag = f"bench{number}"
            measure(port, session.cookies, label, make_path, args.warmup, args.concurrency,
                    f"{tag}-w", args.seed + number, args.rate)
            result = measure(port, session.cookies, label, make_path, args.requests,
                             args.concurrency, tag, args.seed + number, args.rate)
            results.append(result)
            print(f"  {label}: {result['statuses']}", flush=True)
        report["load_after"] = os.getloadavg()
        time.sleep(1)  # let the workers flush their log lines
    finally:
        os.killpg(server_process.pid, signal.SIGTERM)
        server_process.wait(timeout=30)

    by_tag = server_times(log_path)
    rows = []
    for result in results:
        server_ms = by_tag.get(result["tag"], [])
        rows.append({
            "phase": result["label"], "requests": len(result["client_ms"]),
            "statuses": result["statuses"], "server_n": len(server_ms),
            "server_p50": percentile(server_ms, 50), "server_p95": percentile(server_ms, 95),
            "server_p99": percentile(server_ms, 99), "server_max": max(server_ms or [0]),
            "client_p50": percentile(result["client_ms"], 50),
            "client_p95": percentile(result["client_ms"], 95),
            "throughput": result["throughput"],
        })
    report["results"] = rows

    print()
    pace = f"at {args.rate:g} requests/s" if args.rate else "as fast as answered"
    print(f"{targets['total']:,} bags; {args.requests} requests per phase {pace}, from "
          f"{args.concurrency} client threads; deep pages at depths "
          f"{min(report['deep_depths']):,} to {max(report['deep_depths']):,}")
    print("| phase | server p50 | server p95 | server p99 | server max | client p50 | "
          "client p95 | req/s | statuses |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for row in rows:
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(row["statuses"].items()))
        print(f"| {row['phase']} | {row['server_p50']:.1f} | {row['server_p95']:.1f} | "
              f"{row['server_p99']:.1f} | {row['server_max']:.1f} | {row['client_p50']:.1f} | "
              f"{row['client_p95']:.1f} | {row['throughput']:.0f} | {statuses} |")
    print(f"\nload average (1, 5, 15 min) before: {_load(report['load_before'])}, after: "
          f"{_load(report['load_after'])} on {os.cpu_count()} CPUs")
    worst = max(row["server_p95"] for row in rows)
    print(f"\nworst server-side p95: {worst:.1f} ms (target < 50 ms): "
          f"{'met' if worst < 50 else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
