"""Several app hosts behind a real nginx, as issue 24 runs them: each host is a gunicorn with
gunicorn.conf.py on its own port (two machines' worth: same PostgreSQL, Redis, SECRET_KEY),
nginx is Debian's binary with deploy/render_nginx.py's configuration under a temporary
prefix. Plus a station-like HTTP client and a bounded scanning load that records every scan
the server acknowledged, and the database checks the tests make afterwards."""

from __future__ import annotations

import http.cookiejar
import itertools
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import redis
from sqlalchemy import create_engine, text

from app.config import normalise_database_url
from app.scanning.invariants import broken_invariants

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/7"
PORT_BASE = int(os.environ.get("DEPLOY_TEST_PORT_BASE", "8120"))
METRICS_TOKEN = "deploy-test-metrics-token-0123456789"
RETRYABLE = {None, 502, 503, 504}

sys.path.insert(0, str(ROOT / "deploy"))
from render_nginx import render  # noqa: E402


def plain_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def say(message: str) -> None:
    """Counts the must-show asks for: printed, and shown by pytest with -s or on failure."""
    print(f"[deploy] {message}", flush=True)


def wait_until(check, seconds: float, what: str, pause: float = 0.2):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(pause)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def http_status(url: str, timeout: float = 3) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None


@dataclass
class Host:
    """One app host: gunicorn's master (its pid file follows it through a USR2 upgrade)."""

    name: str
    port: int
    pidfile: Path
    log_path: Path
    process: subprocess.Popen
    env: dict

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def master_pid(self) -> int:
        return int(self.pidfile.read_text().strip())

    def processes(self) -> list[psutil.Process]:
        master = psutil.Process(self.master_pid())
        return [master, *master.children(recursive=True)]

    def workers(self) -> list[psutil.Process]:
        return psutil.Process(self.master_pid()).children()

    def kill(self) -> int:
        """SIGKILL the master and every worker at once, as a lost machine: nothing finishes."""
        pgid = os.getpgid(self.process.pid)
        count = sum(1 for _ in psutil.process_iter() if _pgid(_) == pgid)
        os.killpg(pgid, signal.SIGKILL)
        return count

    def stop(self) -> None:
        try:
            pgid = os.getpgid(self.process.pid)
        except ProcessLookupError:
            pgid = None
        if pgid is None:
            for leftover in _by_pidfile(self.pidfile):
                leftover.kill()
            return
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline and any(_pgid(p) == pgid for p in psutil.process_iter()):
            time.sleep(0.2)
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def _pgid(process: psutil.Process) -> int | None:
    try:
        return os.getpgid(process.pid)
    except (ProcessLookupError, psutil.Error):
        return None


def _by_pidfile(pidfile: Path) -> list[psutil.Process]:
    try:
        return [psutil.Process(int(pidfile.read_text().strip()))]
    except (OSError, ValueError, psutil.Error):
        return []


@dataclass
class Nginx:
    port: int
    prefix: Path
    process: subprocess.Popen

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def access_log(self) -> list[dict]:
        path = self.prefix / "logs" / "tracetrack-access.log"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # nginx: graceful shutdown
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@dataclass
class Cluster:
    """What a test starts; everything is stopped by the fixture, whatever happens."""

    database_url: str
    tmp: Path
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32))
    hosts: list[Host] = field(default_factory=list)
    proxies: list[Nginx] = field(default_factory=list)
    ports: itertools.count = field(default_factory=lambda: itertools.count(PORT_BASE + 1))

    def host_env(self, name: str, port: int, **extra) -> dict:
        env = {
            **os.environ, "APP_ENV": "production", "DATABASE_URL": plain_url(self.database_url),
            "SECRET_KEY": self.secret_key, "RATELIMIT_STORAGE_URI": REDIS_URL,
            "SESSION_COOKIE_SECURE": "0", "GUNICORN_BIND": f"127.0.0.1:{port}",
            # Two small hosts on a shared 2-core machine: the shape of the seed (gthread,
            # preload), fewer processes.
            "GUNICORN_WORKERS": "2", "GUNICORN_THREADS": "2", "DB_POOL_SIZE": "3",
            "DB_MAX_OVERFLOW": "2", "REQUEST_LOG": "0", "GUNICORN_ACCESSLOG": "",
            "PROXY_FIX_HOPS": "1", "REQUIRE_2FA_ROLES": "", "METRICS_TOKEN": METRICS_TOKEN,
            "SCAN_RATE_LIMIT": "100000 per minute", "LOGIN_RATE_LIMIT": "1000 per minute",
            "LOGIN_USERNAME_RATE_LIMIT": "1000 per minute",
            "GUNICORN_PIDFILE": str(self.tmp / f"{name}.pid"),
            "PROMETHEUS_MULTIPROC_DIR": str(self.tmp / f"metrics-{name}"),
            "JOB_RUNNER_THREADS": "0",
        }
        env.pop("TEST_DATABASE_URL", None)
        env.update(extra)
        return env

    def host(self, name: str, **extra) -> Host:
        port = next(self.ports)
        env = self.host_env(name, port, **extra)
        log_path = self.tmp / f"{name}.log"
        with open(log_path, "a") as log:
            process = subprocess.Popen(
                [str(ROOT / ".venv/bin/gunicorn"), "-c", "gunicorn.conf.py", "main:app"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        host = Host(name, port, Path(env["GUNICORN_PIDFILE"]), log_path, process, env)
        self.hosts.append(host)
        wait_until(lambda: process.poll() is not None or http_status(host.base + "/health/ready") == 200,
                   90, f"host {name} to be ready")
        assert process.poll() is None, f"host {name} exited:\n{log_path.read_text()[-3000:]}"
        wait_until(lambda: len(host.workers()) >= int(env["GUNICORN_WORKERS"]), 30,
                   f"host {name}'s workers")
        return host

    def nginx(self, hosts: list[Host]) -> Nginx:
        if not shutil.which("nginx"):
            raise AssertionError("nginx is not installed (Debian package nginx; .ci/run installs it)")
        prefix = self.tmp / f"nginx-{len(self.proxies)}"
        (prefix / "logs").mkdir(parents=True)
        (prefix / "run").mkdir()
        # nginx started as root runs its workers as nobody: they write temporary files here.
        os.chmod(prefix / "run", 0o777)  # noqa: S103 - a test-only temporary directory
        port = PORT_BASE if not self.proxies else next(self.ports)
        conf = prefix / "nginx.conf"
        conf.write_text(render([f"127.0.0.1:{host.port}" for host in hosts],
                               server_name="localhost", static_root=str(ROOT / "static"),
                               runtime_dir=str(prefix / "run"), log_dir=str(prefix / "logs"),
                               listen=f"127.0.0.1:{port}", worker_processes="1"))
        check = subprocess.run(["nginx", "-t", "-c", str(conf), "-p", str(prefix),
                                "-e", str(prefix / "logs" / "startup.log")],
                               capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stderr
        process = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(prefix),
                                    "-e", str(prefix / "logs" / "startup.log"),
                                    "-g", "daemon off;"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        proxy = Nginx(port, prefix, process)
        self.proxies.append(proxy)
        wait_until(lambda: http_status(proxy.base + "/health") == 200, 20, "nginx")
        return proxy

    def stop(self) -> None:
        for proxy in self.proxies:
            proxy.stop()
        for host in self.hosts:
            host.stop()


def flush_redis() -> None:
    redis.Redis.from_url(REDIS_URL).flushdb()


class Client:
    """A browser's worth of HTTP: a cookie jar shared by every host (cookies do not depend on
    the port), the CSRF token of the last page, JSON calls that never raise."""

    def __init__(self, jar: http.cookiejar.CookieJar | None = None):
        self.jar = jar if jar is not None else http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.csrf = None

    def copy(self) -> Client:
        """Another client holding a copy of this one's cookies (a copied session cookie)."""
        twin = Client()
        for cookie in self.jar:
            twin.jar.set_cookie(cookie)
        twin.csrf = self.csrf
        return twin

    def page(self, url: str, data: dict | None = None, timeout: float = 15) -> tuple[int, str, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(url, data=body, timeout=timeout) as response:
                text_ = response.read().decode()
                status, final = response.status, response.url
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace"), url
        token = re.search(r'name="csrf-token" content="([^"]+)"', text_)
        if token:
            self.csrf = token.group(1)
        return status, text_, final

    def login(self, base: str, username: str, password: str) -> int:
        self.page(base + "/login")
        status, _, final = self.page(base + "/login", {"username": username, "password": password,
                                                       "csrf_token": self.csrf})
        if status == 200 and final.rstrip("/").endswith("/login"):
            return 401
        # a page after login carries the token the JSON calls send
        self.page(base + "/bags")
        return status

    def logout(self, base: str) -> int:
        return self.page(base + "/logout", {"csrf_token": self.csrf})[0]

    def call(self, method: str, url: str, body: dict | None = None,
             timeout: float = 15) -> tuple[int | None, dict]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.csrf:
            request.add_header("X-CSRFToken", self.csrf)
        try:
            with self.opener.open(request, timeout=timeout) as response:
                return response.status, _json(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, _json(exc.read())
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return None, {}


def _json(raw: bytes) -> dict:
    try:
        return json.loads(raw or b"{}")
    except ValueError:
        return {"raw": raw[:200].decode(errors="replace")}


@dataclass
class Ack:
    username: str
    scan_id: str
    parent: str
    code: str
    result: str
    at: float  # time.time() when the answer came


class ScanLoad:
    """Scanners sending child scans through `base` until stopped, each as the station does:
    a scan_id per scan, and a scan that got no answer (connection lost, 502/503/504) sent
    again with the same scan_id after a short pause until it is acknowledged. Bounded: each
    scanner pauses between scans and stops at `max_scans`."""

    def __init__(self, base: str, users: list[tuple[str, str]], *, pause: float = 0.05,
                 max_scans: int = 2000, parent_offset: int = 0):
        self.base = base
        self.users = users
        self.pause = pause
        self.max_scans = max_scans
        self.parent_offset = parent_offset
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.acks: list[Ack] = []
        self.failed_requests = 0      # answers that were not an acknowledgement (or none)
        self.failed_scans = 0         # scans whose first sending failed
        self.unacknowledged: list[tuple[str, str]] = []  # never acknowledged at the end
        self.refusals: list[tuple[int | None, dict]] = []
        self.threads: list[threading.Thread] = []

    def start(self) -> ScanLoad:
        for index, (username, password) in enumerate(self.users):
            thread = threading.Thread(target=self._scanner, args=(index, username, password),
                                      daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def acknowledged(self) -> int:
        with self.lock:
            return len(self.acks)

    def wait_for(self, count: int, seconds: float = 60) -> None:
        wait_until(lambda: self.acknowledged() >= count, seconds, f"{count} acknowledged scans")

    def stop(self, seconds: float = 120) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(seconds)
        assert not any(thread.is_alive() for thread in self.threads), "a scanner did not stop"

    def _send(self, client: Client, path: str, body: dict) -> tuple[int | None, dict, int]:
        """Send until answered with something other than 'try again'; (status, body, failures)."""
        failures = 0
        for _ in range(200):
            status, answer = client.call("POST", self.base + path, body)
            if status not in RETRYABLE:
                return status, answer, failures
            failures += 1
            time.sleep(0.25)
        return None, {}, failures

    def _count(self, failures: int) -> None:
        if failures:
            with self.lock:
                self.failed_requests += failures
                self.failed_scans += 1

    def _scanner(self, index: int, username: str, password: str) -> None:
        client = Client()
        assert client.login(self.base, username, password) in (200, 302), "login failed"
        parents = itertools.count(self.parent_offset + index * 500)
        parent, room = None, 0
        for number in range(self.max_scans):
            if self.stop_event.is_set():
                return
            if room <= 0:
                parent = f"SB{next(parents):05d}"
                status, answer, failures = self._send(client, "/api/v1/scans/parent",
                                                      {"code": parent})
                self._count(failures)
                if status not in (200, 201):
                    with self.lock:
                        self.refusals.append((status, answer))
                    return
                room = answer["parent"]["capacity"] - answer["parent"]["child_count"]
                continue
            scan_id = f"{username}-{number:06d}"
            code = f"C{index:02d}{number:06d}"
            status, answer, failures = self._send(
                client, "/api/v1/scans/child", {"parent": parent, "code": code, "scan_id": scan_id})
            self._count(failures)
            if status in (200, 201) and answer.get("result") in ("linked", "replayed",
                                                                  "already_linked"):
                with self.lock:
                    self.acks.append(Ack(username, scan_id, parent, code, answer["result"],
                                         time.time()))
                room -= 1
            else:
                with self.lock:
                    if status is None:
                        self.unacknowledged.append((username, scan_id))
                    else:
                        self.refusals.append((status, answer))
                return
            time.sleep(self.pause)


def check_scans_in_database(database_url: str, acks: list[Ack]) -> dict:
    """Every acknowledged scan stored exactly once (its user's scan_id, one accepted child
    scan event) with its child linked to its parent; the invariants hold. Returns counts."""
    engine = create_engine(normalise_database_url(database_url))
    try:
        with engine.connect() as connection:
            events = {(row.username, row.scan_id): row.events for row in connection.execute(text(
                "SELECT u.username, e.scan_id, count(*) AS events FROM scan_events e"
                " JOIN users u ON u.id = e.user_id WHERE e.scan_id IS NOT NULL"
                " AND e.action = 'child_scan' AND e.outcome = 'accepted'"
                " GROUP BY u.username, e.scan_id"))}
            links = dict(connection.execute(text(
                "SELECT c.code, p.code FROM bags c JOIN bags p ON p.id = c.parent_id")).all())
            broken = broken_invariants(connection)
    finally:
        engine.dispose()
    once = sum(1 for ack in acks if events.get((ack.username, ack.scan_id)) == 1)
    missing = [ack for ack in acks if (ack.username, ack.scan_id) not in events]
    twice = [ack for ack in acks if events.get((ack.username, ack.scan_id), 0) > 1]
    unlinked = [ack for ack in acks if links.get(ack.code) != ack.parent]
    return {"acknowledged": len(acks), "found_once": once, "missing": missing, "twice": twice,
            "not_linked": unlinked, "broken_invariants": broken}
