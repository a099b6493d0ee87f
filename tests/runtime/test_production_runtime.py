"""The production runtime as ops start it: gunicorn with gunicorn.conf.py (4 gthread workers x
2 threads, preload), run_production.sh, Redis-shared rate limits. Real processes on
loopback, each bounded in time; PostgreSQL only (production refuses SQLite)."""

from __future__ import annotations

import http.cookiejar
import os
import re
import secrets
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pyotp
import pytest
import redis

from tests.helpers import pg_only
from tests.runtime.support import (REDIS_URL, database_sockets, free_port, production_env, stop, wait_ready, wait_workers)

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pg_only


@pytest.fixture
def gunicorn_server(database_url, tmp_path):
    servers = []

    def start(**extra):
        port = free_port()
        log = open(tmp_path / f"gunicorn-{port}.log", "w")  # noqa: SIM115 - closed below
        process = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "-c", "gunicorn.conf.py", "main:app"],
            cwd=ROOT, env=production_env(database_url, port, **extra), stdout=log, stderr=log)
        servers.append((process, log))
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, process)
        return base, process

    yield start
    for process, log in servers:
        stop(process)
        log.close()


def test_gunicorn_serves_with_four_gthread_workers_and_the_master_holds_no_connection(
        gunicorn_server, tmp_path):
    base, master = gunicorn_server()
    workers = wait_workers(master.pid, 4)
    master_log = (tmp_path / f"gunicorn-{base.rsplit(':', 1)[1]}.log").read_text()
    assert re.search(r"templates: [1-9]\d* compiled before forking the workers", master_log)
    assert len(workers) == 4
    for _ in range(20):  # let several workers answer, so they open connections
        urllib.request.urlopen(base + "/health/ready", timeout=5).close()
    assert database_sockets(master.pid) == 0
    assert sum(database_sockets(worker.pid) for worker in workers) >= 1
    assert max(worker.num_threads() for worker in workers) >= 2


def _failed_login(base: str, username: str) -> int:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/login", timeout=10).read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    token = token or re.search(r'name="csrf-token" content="([^"]+)"', page)
    body = urllib.parse.urlencode({"username": username, "password": "wrong password!",
                                   "csrf_token": token.group(1)}).encode()
    try:
        with opener.open(base + "/login", data=body, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_login_limit_is_shared_by_all_workers_through_redis(gunicorn_server):
    redis.Redis.from_url(REDIS_URL).flushdb()
    limit = 5
    base, master = gunicorn_server(LOGIN_USERNAME_RATE_LIMIT=f"{limit} per minute",
                                   LOGIN_RATE_LIMIT="1000 per minute")
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: _failed_login(base, "victim"), range(4 * limit)))
    assert statuses.count(200) == limit, statuses
    assert statuses.count(429) == 3 * limit, statuses
    # Another username is not locked out by the first one's failures.
    assert _failed_login(base, "someone-else") == 200


def test_run_production_sh_from_scratch_to_serving(database_url, tmp_path):
    """The seed's one command: configuration checked, migrations applied, an admin made,
    gunicorn exec'd with 4 workers x 2 threads."""
    port = free_port()
    env = production_env(database_url, port, ADMIN_USERNAME="chief",
                         ADMIN_PASSWORD="a long admin passphrase")
    process = subprocess.Popen([str(ROOT / "run_production.sh")], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_ready(f"http://127.0.0.1:{port}", process, seconds=120)
        assert psutil.Process(process.pid).name().startswith("gunicorn")  # exec'd, not a child
        assert len(wait_workers(process.pid, 4)) == 4
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(f"http://127.0.0.1:{port}/login", timeout=10).read().decode()
        token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        body = urllib.parse.urlencode({"username": "chief", "password": "a long admin passphrase",
                                       "csrf_token": token}).encode()
        landing = opener.open(f"http://127.0.0.1:{port}/login", data=body, timeout=10)
        # The admin made by the CLI sets up two-factor login at the first login
        # (REQUIRE_2FA_ROLES defaults to admin), then lands on the dashboard.
        assert landing.url.endswith("/login/two-factor/setup")
        setup = landing.read().decode()
        secret = re.search(r'data-testid="two-factor-secret">([A-Z2-7 ]+)<',
                           setup).group(1).replace(" ", "")
        token = re.search(r'name="csrf-token" content="([^"]+)"', setup).group(1)
        body = urllib.parse.urlencode({"code": pyotp.TOTP(secret).now(),
                                       "csrf_token": token}).encode()
        codes = opener.open(landing.url, data=body, timeout=10).read().decode()
        assert codes.count('<code class="fs-5">') == 10
        landing = opener.open(f"http://127.0.0.1:{port}/dashboard", timeout=10)
        assert landing.url.endswith("/dashboard")
    finally:
        stop(process)
        output = process.stdout.read().decode()
    assert "Running upgrade" in output or "Context impl PostgresqlImpl" in output


def test_run_production_sh_without_database_url_starts_the_trial(tmp_path):
    port = free_port()
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "APP_ENV", "SECRET_KEY", "RATELIMIT_STORAGE_URI")}
    env.update(INSTANCE_DIR=str(tmp_path / "instance"), GUNICORN_BIND=f"127.0.0.1:{port}",
               ADMIN_USERNAME="tryout", ADMIN_PASSWORD="a long first-day passphrase",
               JOB_RUNNER_THREADS="0", GUNICORN_ACCESSLOG="", REQUEST_LOG="0")
    process = subprocess.Popen([str(ROOT / "run_production.sh")], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_ready(f"http://127.0.0.1:{port}", process, seconds=120)
        assert (tmp_path / "instance" / "tracetrack.db").exists()
    finally:
        stop(process)
        output = process.stdout.read().decode()
    assert "ONE-MACHINE TRIAL" in output


def test_compile_templates_leaves_every_page_template_compiled(app):
    """What the master does before forking (gunicorn.conf.py when_ready): afterwards no
    page template is loaded or compiled again."""
    from app.runtime import compile_templates

    app.jinja_env.cache.clear()
    names = app.jinja_env.list_templates(filter_func=lambda name: name.endswith(".html"))

    assert compile_templates(app) == len(names) > 10
    loaded = []
    loader = app.jinja_env.loader
    original = loader.get_source
    loader.get_source = lambda env, name: loaded.append(name) or original(env, name)
    try:
        for name in names:
            app.jinja_env.get_template(name)
    finally:
        loader.get_source = original
    assert loaded == []


FREED_HASH_BUFFERS = """
import sys, threading
from argon2 import PasswordHasher
if sys.argv[1] == "fixed":
    from app.runtime import return_large_blocks_to_the_system
    assert return_large_blocks_to_the_system()
def resident_mib():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20
hasher = PasswordHasher(time_cost=1, memory_cost=19456, parallelism=1)
hasher.hash("warm-up the library")
before = resident_mib()
def logins():
    for _ in range(3):
        hasher.hash("correct horse battery staple")
threads = [threading.Thread(target=logins) for _ in range(2)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(resident_mib() - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc: Linux only")
def test_freed_password_hash_buffers_go_back_to_the_system():
    """gunicorn.conf.py calls return_large_blocks_to_the_system() before forking the workers.
    The control shows what it prevents: each hashing thread keeping a 19 MiB buffer."""
    def kept_mib(mode: str) -> float:
        answer = subprocess.run([sys.executable, "-c", FREED_HASH_BUFFERS, mode], cwd=ROOT,
                                capture_output=True, text=True, timeout=120, check=True)
        return float(answer.stdout.strip())

    assert kept_mib("fixed") < 8
    assert kept_mib("default") > 19


def test_a_session_version_bump_ends_the_scan_session_at_its_next_request_on_every_worker(
        gunicorn_server, make_user):
    """Issue 25: the scan endpoints read the user as a plain row and the workers keep a
    memo of verified session cookies; neither may let a session outlive a bump of its
    version by even one request. Two hosts' worth of processes (two gunicorns of 4 workers
    on one database): a station scans through both, the same user logs out elsewhere (which
    ends every session of the user), and the station's very next scan on each host, and
    every one after, is refused with 401 and stores nothing."""
    from tests.deploy.support import Client
    from tests.helpers import PASSWORD

    from app.extensions import db

    redis.Redis.from_url(REDIS_URL).flushdb()
    make_user("station", role="staff")
    key = secrets.token_hex(32)  # two hosts of one deployment share the key
    hosts = [gunicorn_server(SECRET_KEY=key)[0], gunicorn_server(SECRET_KEY=key)[0]]
    station, elsewhere = Client(), Client()
    assert station.login(hosts[0], "station", PASSWORD) in (200, 302)
    assert elsewhere.login(hosts[1], "station", PASSWORD) in (200, 302)
    assert station.call("POST", hosts[0] + "/api/v1/scans/parent", {"code": "SB00001"})[0] == 201
    # Scans through both hosts; each call is a new connection, so they spread over the
    # workers, which remember the verified cookie.
    statuses = [station.call("POST", hosts[number % 2] + "/api/v1/scans/child",
                             {"parent": "SB00001", "code": f"C{number:07d}"})[0]
                for number in range(16)]
    assert statuses == [201] * 16, statuses

    assert elsewhere.logout(hosts[1]) in (200, 302)  # ends every session of the user

    after = [station.call("POST", hosts[number % 2] + "/api/v1/scans/child",
                          {"parent": "SB00001", "code": f"C{100 + number:07d}"})
             for number in range(16)]
    assert [status for status, _ in after] == [401] * 16, after
    assert {body["error"]["code"] for _, body in after} == {"unauthorized"}
    stored = db.session.execute(db.text(
        "SELECT count(*) FROM bags WHERE kind = 'child'")).scalar_one()
    assert stored == 16
