"""Issue 10, items 5 and 6: faults, with real gunicorn (gunicorn.conf.py, 4 gthread workers
x 2 threads, preload) and a throwaway PostgreSQL cluster of this module's own, started with
initdb + pg_ctl on a free port in a temporary directory (never the shared server on 5432)
and removed at the end. Every load is bounded in time, every request by a client timeout
that none may reach.

- PostgreSQL restarted during a scanning load: /health/ready says 503 during the outage, no
  request hangs, within 10 s of recovery no more 5xx, every acknowledged scan is stored once;
- boot while PostgreSQL is down: the app starts, readiness 503, recovers without a restart;
- a worker SIGKILLed in the middle of a scan's transaction, during a load: nothing half
  written; the client's retry with the same scan_id gives exactly one link;
- every pool connection held: new requests get 503 instead of waiting;
- a row lock held on one parent from outside: its scans fail after the lock timeout with a
  retryable 503 database_busy, other parents keep working meanwhile;
- rate limits across 4 workers through Redis: exact for one user's scans, and thirty
  scanners behind one address at human pace see no 429;
- Redis down: logins fail closed (503 login_unavailable), scans keep working.

Marked `faults`; skipped, saying why, where the PostgreSQL server binaries are missing."""

from __future__ import annotations

import glob
import http.client
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path

import psutil
import psycopg
import pytest
from sqlalchemy import create_engine

from tests.helpers import check_invariants
from tests.runtime.support import free_port, production_env, stop, wait_ready, wait_workers

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"
REDIS_URL = "redis://127.0.0.1:6379/7"
CLIENT_TIMEOUT = 15  # > pool timeout 2 + connect 2 + lock 3 + statement 5 seconds
TIMEOUT, DISCONNECTED = -1, 0
pytestmark = pytest.mark.faults


# --- a PostgreSQL cluster of our own ---------------------------------------------------------

def _postgres_binaries() -> tuple[Path | None, str]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        return None, "PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb) are missing"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return None, "running as root but there is no postgres OS user for initdb"
        if not shutil.which("runuser"):
            return None, "running as root but runuser is missing"
    return Path(found[-1]).parent, ""


class Cluster:
    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.base = Path(tempfile.mkdtemp(prefix="tracetrack-faults-pg-"))
        self.data = self.base / "data"
        self.log = self.base / "postgres.log"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/tracetrack"
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"{args[0]} failed: {result.stdout}{result.stderr}{self.log_tail()}")
        return result

    def log_tail(self) -> str:
        try:
            return "\n" + self.log.read_text()[-3000:]
        except OSError:
            return ""

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=100")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options,
                  "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop",
                  check=False)

    def connect(self, **kwargs) -> psycopg.Connection:
        return psycopg.connect(self.url, connect_timeout=5, **kwargs)

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster():
    bindir, reason = _postgres_binaries()
    if bindir is None:
        print(f"test_faults skipped: {reason}")
        pytest.skip(reason)
    pg = Cluster(bindir)
    try:
        pg.init()
        pg.start()
        with psycopg.connect(pg.url.rsplit("/", 1)[0] + "/postgres", autocommit=True,
                             connect_timeout=5) as connection:
            connection.execute("CREATE DATABASE tracetrack")
        env = _server_env(pg, free_port())
        _flask(env, "db", "upgrade")
        _make_users(env, [("faults-admin", "admin")]
                    + [(f"scanner{n:02d}", "staff") for n in range(40)]
                    + [("sv", "supervisor")])
        yield pg
    finally:
        pg.remove()


def _server_env(pg: Cluster, port: int, **extra) -> dict:
    env = production_env(pg.url, port, RATELIMIT_STORAGE_URI=REDIS_URL,
                         RATELIMIT_KEY_PREFIX=f"faults-{secrets.token_hex(4)}",
                         DB_POOL_TIMEOUT="2", DB_CONNECT_TIMEOUT="2",
                         DB_STATEMENT_TIMEOUT_MS="5000", DB_LOCK_TIMEOUT_MS="3000",
                         DEFAULT_PARENT_CAPACITY="1000", SCAN_RATE_LIMIT="100000 per minute",
                         PASSWORD_HASH_TIME_COST="1", PASSWORD_HASH_MEMORY_KIB="1024",
                         PASSWORD_HASH_PARALLELISM="1", LOG_LEVEL="WARNING")
    env.update(extra)
    env.pop("TEST_DATABASE_URL", None)
    return env


def _flask(env: dict, *args: str) -> None:
    result = subprocess.run([str(ROOT / ".venv/bin/flask"), "--app", "main", *args], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def _make_users(env: dict, users: list[tuple[str, str]]) -> None:
    script = (
        "import json, sys\n"
        "from app import create_app\n"
        "from app.auth.services import create_user\n"
        "from app.extensions import db\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    for name, role in json.loads(sys.argv[1]):\n"
        f"        create_user(name, role, {PASSWORD!r})\n"
        "    db.session.commit()\n")
    result = subprocess.run([str(ROOT / ".venv/bin/python"), "-c", script, json.dumps(users)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@dataclass
class Server:
    base: str
    process: subprocess.Popen
    log_path: Path

    def workers(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children()

    def log(self) -> str:
        return self.log_path.read_text()[-4000:]


@pytest.fixture
def start_server(cluster, tmp_path):
    servers = []

    def start(wait: bool = True, **extra) -> Server:
        port = free_port()
        log_path = tmp_path / f"gunicorn-{port}.log"
        log = open(log_path, "w")  # noqa: SIM115 - closed below
        process = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "-c", "gunicorn.conf.py", "main:app"],
            cwd=ROOT, env=_server_env(cluster, port, **extra), stdout=log, stderr=log)
        server = Server(f"http://127.0.0.1:{port}", process, log_path)
        servers.append((server, log))
        if wait:
            wait_ready(server.base, process)
        return server

    yield start
    for server, log in servers:
        stop(server.process)
        log.close()


# --- an HTTP client like a station's ----------------------------------------------------------

@dataclass
class Answer:
    status: int  # TIMEOUT when the client gave up, DISCONNECTED when the connection broke
    body: bytes
    headers: dict
    started: float
    ended: float

    @property
    def json(self) -> dict:
        try:
            return json.loads(self.body or b"{}")
        except ValueError:
            return {}

    @property
    def error_code(self) -> str | None:
        return (self.json.get("error") or {}).get("code")


class Station:
    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        self.token = ""

    def request(self, method: str, path: str, body: dict | None = None,
                form: dict | None = None, timeout: float = CLIENT_TIMEOUT) -> Answer:
        headers, data = {"Accept": "application/json"}, None
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.token and method != "GET":
            headers["X-CSRFToken"] = self.token
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers=headers)
        started = time.monotonic()
        try:
            with self.opener.open(request, timeout=timeout) as response:
                return Answer(response.status, response.read(), dict(response.headers), started,
                              time.monotonic())
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.read(), dict(error.headers), started, time.monotonic())
        except TimeoutError:
            return Answer(TIMEOUT, b"", {}, started, time.monotonic())
        except urllib.error.URLError as error:
            status = TIMEOUT if isinstance(error.reason, TimeoutError) else DISCONNECTED
            return Answer(status, b"", {}, started, time.monotonic())
        except (ConnectionError, http.client.HTTPException, OSError):
            return Answer(DISCONNECTED, b"", {}, started, time.monotonic())

    def log_in(self, username: str) -> Answer:
        page = self.request("GET", "/login")
        token = re.search(rb'name="csrf-token" content="([^"]+)"', page.body).group(1).decode()
        answer = self.request("POST", "/login", form={"username": username, "password": PASSWORD,
                                                      "csrf_token": token})
        if answer.status == 200:
            self.token = self.request("GET", "/api/v1/session").json["csrf_token"]
        return answer

    def scan_parent(self, code: str) -> Answer:
        return self.request("POST", "/api/v1/scans/parent", {"code": code})

    def scan_child(self, parent: str, code: str, scan_id: str | None = None) -> Answer:
        body = {"parent": parent, "code": code}
        if scan_id:
            body["scan_id"] = scan_id
        return self.request("POST", "/api/v1/scans/child", body)


def logged_in(base: str, username: str) -> Station:
    station = Station(base)
    answer = station.log_in(username)
    assert answer.status == 200 and station.token, (username, answer.status, answer.body[:300])
    return station


# --- a bounded scanning load ----------------------------------------------------------------

@dataclass
class Load:
    """Stations scanning children into their own parents, each scan with a scan_id and
    retried with the same scan_id on 503 or a broken connection, as the station page does."""

    stations: list[tuple[Station, str]]
    prefix: str
    log: list = field(default_factory=list)  # (station, scan_id, code, status, started, ended)
    acked: list = field(default_factory=list)  # (scan_id, code, parent)
    stop: threading.Event = field(default_factory=threading.Event)
    give_up_at: float = float("inf")

    def run_station(self, index: int) -> None:
        station, parent = self.stations[index]
        number = 0
        while not self.stop.is_set():
            number += 1
            code, scan_id = f"{self.prefix}{index:02d}{number:05d}", uuid.uuid4().hex
            while True:
                answer = station.scan_child(parent, code, scan_id)
                self.log.append((index, scan_id, code, answer.status, answer.started,
                                 answer.ended, answer.error_code))
                if answer.status in (200, 201):
                    assert answer.json["result"] in ("linked", "replayed"), answer.json
                    self.acked.append((scan_id, code, parent))
                    break
                if answer.status in (503, DISCONNECTED) and time.monotonic() < self.give_up_at:
                    time.sleep(0.2)
                    continue
                break
            time.sleep(0.02)

    def start(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self.run_station, args=(index,), daemon=True)
                   for index in range(len(self.stations))]
        for thread in threads:
            thread.start()
        return threads

    def finish(self, threads, grace: float = 30) -> None:
        self.stop.set()
        for thread in threads:
            thread.join(grace)
        assert not any(thread.is_alive() for thread in threads), "a station is still waiting"


def make_load(base: str, prefix: str, digit: int, count: int = 8, first_user: int = 0) -> Load:
    """`count` stations, users scanner<first_user>..., parents SB<digit><index>00."""
    stations = []
    for index in range(count):
        station = logged_in(base, f"scanner{first_user + index:02d}")
        parent = f"SB{digit}{index:02d}00"
        answer = station.scan_parent(parent)
        assert answer.status in (200, 201), answer.body
        stations.append((station, parent))
    return Load(stations, prefix)


def verify_acknowledged_once(cluster: Cluster, load: Load) -> None:
    """Every acknowledged scan is in the database exactly once, linked where it was
    acknowledged; no child in the load's parents came without its link event; the section 3
    invariants hold."""
    scan_ids = [scan_id for scan_id, _, _ in load.acked]
    codes = {code: parent for _, code, parent in load.acked}
    parents = sorted({parent for _, parent in load.stations})
    with cluster.connect() as connection:
        counts = dict(connection.execute(
            "SELECT scan_id, count(*) FROM scan_events WHERE scan_id = ANY(%s)"
            " AND result = 'linked' GROUP BY scan_id", (scan_ids,)).fetchall())
        linked = dict(connection.execute(
            "SELECT c.code, p.code FROM bags c JOIN bags p ON p.id = c.parent_id"
            " WHERE c.code = ANY(%s)", (list(codes),)).fetchall())
        orphans = connection.execute(
            "SELECT c.code FROM bags c JOIN bags p ON p.id = c.parent_id WHERE p.code = ANY(%s)"
            " AND NOT EXISTS (SELECT 1 FROM scan_events e WHERE e.bag_id = c.id"
            " AND e.parent_id = p.id AND e.result = 'linked')", (parents,)).fetchall()
    assert len(scan_ids) == len(set(scan_ids))
    missing = [scan_id for scan_id in scan_ids if counts.get(scan_id) != 1]
    assert not missing, f"acknowledged scans not stored exactly once: {missing[:5]}"
    assert linked == codes, "an acknowledged child is not in its parent"
    assert orphans == [], f"children without their link event: {orphans[:5]}"
    engine = create_engine(cluster.url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as connection:
            check_invariants(connection)
    finally:
        engine.dispose()


def wait_for(predicate, seconds: float, interval: float = 0.1):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def ready_status(base: str) -> int:
    return Station(base).request("GET", "/health/ready", timeout=5).status


def lock_waiters(cluster: Cluster, table: str) -> list[tuple[int, int]]:
    """(backend pid, client port) of the app's connections waiting on a lock in a
    statement on `table`."""
    with cluster.connect() as connection:
        return connection.execute(
            "SELECT pid, client_port FROM pg_stat_activity WHERE application_name = 'tracetrack'"
            " AND wait_event_type = 'Lock' AND query LIKE %s", (f"%{table}%",)).fetchall()


# --- faults ---------------------------------------------------------------------------------

@pytest.fixture
def server(start_server):
    return start_server()


def test_postgresql_restarted_during_a_scanning_load(cluster, server):
    load = make_load(server.base, "R", 1, count=8)
    threads = load.start()
    time.sleep(2)

    down_at = time.monotonic()
    cluster.stop("fast")
    outage_ready = wait_for(lambda: ready_status(server.base) == 503, 10)
    time.sleep(2)
    cluster.start()
    up_at = time.monotonic()
    load.give_up_at = up_at + 20
    time.sleep(12)
    load.finish(threads)

    assert outage_ready, "/health/ready did not answer 503 while PostgreSQL was down"
    statuses = [entry[3] for entry in load.log]
    assert TIMEOUT not in statuses, "a request hung past the pool and statement timeouts"
    assert not [entry for entry in load.log if entry[3] >= 500 and entry[3] != 503], (
        "an answer other than 503 during the outage")
    late = [entry for entry in load.log if entry[4] >= up_at + 10]
    assert late, "no scans after recovery"
    assert not [entry for entry in late if entry[3] >= 500 or entry[3] == DISCONNECTED], (
        "5xx more than 10 s after PostgreSQL came back")
    during = [entry for entry in load.log if down_at <= entry[4] <= up_at]
    assert any(entry[3] == 503 for entry in during), "the outage was not seen by the load"
    assert {entry[6] for entry in during if entry[3] == 503} <= {"database_unavailable",
                                                                 "database_busy"}
    assert ready_status(server.base) == 200
    verify_acknowledged_once(cluster, load)


def test_boot_while_postgresql_is_down_then_recover_without_a_restart(cluster, start_server):
    cluster.stop("fast")
    try:
        server = start_server(wait=False)
        assert wait_for(lambda: Station(server.base).request("GET", "/health", timeout=5).status
                        == 200, 60, 0.3), server.log()
        workers_before = sorted(worker.pid for worker in wait_workers(server.process.pid, 4))
        ready = Station(server.base).request("GET", "/health/ready", timeout=CLIENT_TIMEOUT)
        assert ready.status == 503
        assert ready.json["error"]["code"] == "database_unavailable"
        login = Station(server.base).log_in("scanner00")
        assert login.status == 503, (login.status, login.body[:300])
        assert b'data-error-code="database_unavailable"' in login.body
    finally:
        cluster.start()

    assert wait_for(lambda: ready_status(server.base) == 200, 15, 0.3), server.log()
    assert server.process.poll() is None
    assert sorted(worker.pid for worker in server.workers()) == workers_before, (
        "workers were restarted")
    station = logged_in(server.base, "scanner00")
    assert station.scan_parent("SB90001").status in (200, 201)


def test_a_worker_killed_mid_transaction_writes_nothing_and_the_retry_links_once(
        cluster, server):
    load = make_load(server.base, "K", 2, count=6, first_user=10)
    victim = logged_in(server.base, "scanner20")
    assert victim.scan_parent("SB80000").status in (200, 201)
    with cluster.connect() as connection:
        child_count_before = connection.execute(
            "SELECT child_count FROM bags WHERE code = 'SB80000'").fetchone()[0]
        user_id = connection.execute(
            "SELECT id FROM users WHERE username = 'scanner20'").fetchone()[0]
    threads = load.start()
    time.sleep(1)

    # An outside transaction holds an uncommitted scan event with the victim's scan_id: the
    # victim's scan inserts its child (the trigger counts it) and then waits on that
    # scan_id's unique index, in the middle of its transaction. Its worker is killed there.
    blocker = cluster.connect()
    blocker.execute("INSERT INTO scan_events (created_at, user_id, action, outcome, result,"
                    " code, scan_id) VALUES (now(), %s, 'child_scan', 'rejected', 'blocker',"
                    " 'X', 'kill-me-1')", (user_id,))
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(victim.scan_child, "SB80000", "KILLED01", "kill-me-1")
        waiting = wait_for(lambda: lock_waiters(cluster, "INSERT INTO scan_events"), 10, 0.05)
        assert waiting, "the victim's scan never waited inside its transaction"
        _, client_port = waiting[0]
        owner = next(worker for worker in server.workers()
                     if any(conn.laddr and conn.laddr.port == client_port
                            for conn in worker.net_connections(kind="tcp")))
        os.kill(owner.pid, signal.SIGKILL)
        killed = pending.result(timeout=CLIENT_TIMEOUT + 5)
    blocker.rollback()
    blocker.close()
    time.sleep(3)  # the load goes on through the replacement worker
    load.finish(threads)

    assert killed.status == DISCONNECTED, (killed.status, killed.body[:200])
    with cluster.connect() as connection:
        assert connection.execute("SELECT count(*) FROM bags WHERE code = 'KILLED01'"
                                  ).fetchone()[0] == 0, "a killed transaction left its child"
        assert connection.execute("SELECT child_count FROM bags WHERE code = 'SB80000'"
                                  ).fetchone()[0] == child_count_before
        assert connection.execute("SELECT count(*) FROM scan_events WHERE scan_id = 'kill-me-1'"
                                  ).fetchone()[0] == 0
    retry = victim.scan_child("SB80000", "KILLED01", "kill-me-1")
    again = victim.scan_child("SB80000", "KILLED01", "kill-me-1")
    assert (retry.status, retry.json["result"]) == (201, "linked")
    assert (again.status, again.json["result"]) == (200, "replayed")
    with cluster.connect() as connection:
        assert connection.execute(
            "SELECT count(*) FROM scan_events WHERE scan_id = 'kill-me-1' AND result = 'linked'"
        ).fetchone()[0] == 1
    assert TIMEOUT not in [entry[3] for entry in load.log]
    assert not [entry for entry in load.log if entry[3] >= 500 and entry[3] != 503]
    verify_acknowledged_once(cluster, load)
    assert server.process.poll() is None
    assert len(wait_workers(server.process.pid, 4)) == 4, "the killed worker was not replaced"


def test_every_pool_connection_held_new_requests_get_503_quickly(cluster, start_server):
    server = start_server(GUNICORN_WORKERS="1", GUNICORN_THREADS="4", DB_POOL_SIZE="1",
                          DB_MAX_OVERFLOW="0", DB_POOL_TIMEOUT="1", DB_LOCK_TIMEOUT_MS="8000")
    holder, other = logged_in(server.base, "scanner30"), logged_in(server.base, "scanner31")
    assert holder.scan_parent("SB70001").status in (200, 201)
    locker = cluster.connect()
    locker.execute("SELECT id FROM bags WHERE code = 'SB70001' FOR UPDATE")

    with ThreadPoolExecutor(4) as pool:
        held = pool.submit(holder.scan_child, "SB70001", "POOL0001", "pool-1")
        assert wait_for(lambda: lock_waiters(cluster, "FROM bags"), 10, 0.05), (
            "the pool was never held")
        refused = [pool.submit(other.scan_parent, "SB70002"),
                   pool.submit(Station(server.base).request, "GET", "/health/ready")]
        answers = [future.result(timeout=CLIENT_TIMEOUT) for future in refused]
        still_holding = not held.done()
        locker.rollback()
        locker.close()
        finished = held.result(timeout=CLIENT_TIMEOUT)

    assert still_holding, "the pool's only connection was free before the others answered"
    for answer in answers:
        assert answer.status == 503, (answer.status, answer.body[:300])
        assert answer.headers.get("Retry-After", "").isdigit()
    assert answers[0].error_code == "database_busy"
    assert finished.status == 201
    assert other.scan_parent("SB70002").status in (200, 201), "the pool did not come back"


def test_a_locked_parent_answers_database_busy_while_other_parents_keep_working(
        cluster, server):
    blocked, others = logged_in(server.base, "scanner32"), logged_in(server.base, "scanner33")
    for code in ("SB60001", "SB60002"):
        assert blocked.scan_parent(code).status in (200, 201)
    locker = cluster.connect()
    locker.execute("SELECT id FROM bags WHERE code = 'SB60001' FOR UPDATE")
    try:
        with ThreadPoolExecutor(1) as pool:
            stuck = pool.submit(blocked.scan_child, "SB60001", "LOCK0001", "lock-1")
            assert wait_for(lambda: lock_waiters(cluster, "FROM bags"), 10, 0.05)
            elsewhere = [others.scan_child("SB60002", f"FREE{n:04d}") for n in range(10)]
            done_before = not stuck.done()
            busy = stuck.result(timeout=CLIENT_TIMEOUT)
    finally:
        locker.rollback()
        locker.close()

    assert [answer.status for answer in elsewhere] == [201] * 10
    assert done_before, "other parents waited for the locked one"
    assert busy.status == 503
    assert busy.error_code == "database_busy"
    assert "retried" in busy.json["error"]["message"] or "Wait" in busy.json["error"]["message"]
    assert busy.headers.get("Retry-After", "").isdigit()
    retry = blocked.scan_child("SB60001", "LOCK0001", "lock-1")
    assert (retry.status, retry.json["result"]) == (201, "linked")


# --- rate limits ----------------------------------------------------------------------------

def test_scan_limits_hold_exactly_across_workers_and_thirty_scanners_see_no_429(
        cluster, start_server):
    limit = 40
    server = start_server(SCAN_RATE_LIMIT=f"{limit} per minute")

    # One user's scans, concurrently through all 4 workers: exactly `limit` get through.
    bot = logged_in(server.base, "sv")
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: bot.scan_parent("SB50000").status,
                                 range(limit + 20)))
    assert sum(status in (200, 201) for status in statuses) == limit, statuses
    assert statuses.count(429) == 20, statuses

    # Thirty scanners behind one address (the NAT of a warehouse), at human pace.
    def shift(number: int) -> list[int]:
        station = logged_in(server.base, f"scanner{number:02d}")
        parent = f"SB5{number:02d}01"
        answers = [station.scan_parent(parent).status]
        for item in range(8):
            time.sleep(0.3)
            answers.append(station.scan_child(parent, f"H{number:02d}{item:04d}").status)
        return answers

    with ThreadPoolExecutor(30) as pool:
        results = list(pool.map(shift, range(30)))
    flat = [status for answers in results for status in answers]
    assert 429 not in flat, flat
    assert all(status in (200, 201) for status in flat), flat


def test_redis_down_logins_fail_closed_and_scans_keep_working(cluster, start_server):
    secret = secrets.token_hex(32)
    working = start_server(SECRET_KEY=secret)
    station = logged_in(working.base, "scanner34")
    closed_port = free_port()  # nothing listens there
    broken = start_server(SECRET_KEY=secret,
                          RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{closed_port}/0")

    login = Station(broken.base)
    page = login.request("GET", "/login")
    token = re.search(rb'name="csrf-token" content="([^"]+)"', page.body).group(1).decode()
    refused = login.request("POST", "/login", form={"username": "scanner34",
                                                    "password": PASSWORD, "csrf_token": token})
    station.base = broken.base  # the same session cookie, now on the server without Redis
    scanned = station.scan_parent("SB40001")
    child = station.scan_child("SB40001", "REDIS001")

    assert refused.status == 503, refused.body[:300]
    assert b'data-error-code="login_unavailable"' in refused.body
    assert refused.headers.get("Retry-After", "").isdigit()
    assert scanned.status == 201 and child.status == 201, (scanned.body, child.body)
    assert ready_status(broken.base) == 200


def test_the_redis_store_is_reachable_for_the_other_tests():
    """The rate-limit tests above need the shared Redis on 6379 (CI starts it)."""
    with socket.create_connection(("127.0.0.1", 6379), timeout=2):
        pass
