#!/usr/bin/env python3
"""One benchmark command: fresh PostgreSQL database, migrate, seed, create the run's users,
start gunicorn with gunicorn.conf.py, drive a load, print a table per endpoint, write the
results as JSON, check the data, and stop everything it started.

    .venv/bin/python loadtests/run_benchmark.py --profile shift   # 250 human-paced users
    .venv/bin/python loadtests/run_benchmark.py --profile max     # no waits: capacity
    options: --duration SECONDS --users N --seed-bags N --database-url URL --keep-database
             --port PORT --redis-url URL --py-spy

Exit status 1 when a data check or a target fails. Everything runs on this machine
(loopback); every load is bounded in time.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from common import free_port, percentiles

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from app.scanning.invariants import INVARIANT_CHECKS  # noqa: E402  (DESIGN.md section 3)
VENV_BIN = ROOT / ".venv" / "bin"
RESULTS = ROOT / "loadtests" / "results"
TARGETS = {
    "shift": {"failures": 0, "scan_p95_ms": 100, "page_p95_ms": 300, "memory_mb": 600},
    "max": {"failures": 0, "scans_per_s": 400, "memory_mb": 600},
}
SCAN_ENDPOINTS = ("/api/v1/scans/child", "/api/v1/scans/parent", "/api/v1/scans/undo",
                  "/api/v1/scans/child [conflict]", "/api/v1/parents/[code]/complete")


def log(message: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", flush=True)


def ensure_tools(need_wrk: bool) -> None:
    import importlib.util

    if not ((VENV_BIN / "locust").exists() and (VENV_BIN / "py-spy").exists()
            and importlib.util.find_spec("psutil")):
        log("installing loadtests/requirements.txt (locust, py-spy, psutil) into .venv")
        subprocess.run([VENV_BIN / "python", "-m", "pip", "install", "--quiet", "-r",
                        ROOT / "loadtests" / "requirements.txt"], check=True)
    if need_wrk and not shutil.which("wrk"):
        sys.exit("wrk is needed for --profile max: apt-get install wrk (or use --tool locust)")


def psql(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


class Server:
    """gunicorn with gunicorn.conf.py on a free loopback port, plus a memory sampler."""

    def __init__(self, env: dict, log_path: Path, port: int = 0):
        self.port = port or free_port()
        self.env = {**env, "GUNICORN_BIND": f"127.0.0.1:{self.port}"}
        self.log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = None
        self.peak_rss = 0
        self.samples = []
        self._stop = threading.Event()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [VENV_BIN / "gunicorn", "-c", "gunicorn.conf.py", "main:app"], cwd=ROOT,
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"gunicorn exited; see {self.log.name}")
            try:
                with urllib.request.urlopen(self.base + "/health/ready", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        else:
            sys.exit("gunicorn did not become ready in 60 s")
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        import psutil

        master = psutil.Process(self.process.pid)
        while not self._stop.wait(0.5):
            try:
                processes = [master, *master.children()]
                total = sum(p.memory_info().rss for p in processes)
            except psutil.Error:
                continue
            self.samples.append(total)
            self.peak_rss = max(self.peak_rss, total)

    def stop(self) -> None:
        self._stop.set()
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


class Analyzer:
    """ANALYZE the run's database every minute while the load runs, when the server's
    autovacuum is off (this VM's PostgreSQL: conf.d/90-ci.conf). A production server's
    autovacuum analyses a table once a tenth of it changed, at most once a minute
    (autovacuum_naptime); without it the planner keeps the empty tables' statistics for the
    whole run, and the dashboard's latest events took 59 ms instead of 0.1 ms (a sequential
    scan and sort of every event, planned for 21 rows). Its CPU counts as PostgreSQL's."""

    def __init__(self, url: str, every: float = 60.0):
        self.url, self.every = url, every
        self.runs = 0
        self.needed = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            self.needed = conn.execute("SHOW autovacuum").fetchone()[0] == "off"
        if self.needed:
            log(f"autovacuum is off on this PostgreSQL: ANALYZE every {self.every:.0f} s "
                "during the load, as autovacuum would")
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                psql(self.url, "ANALYZE")
                self.runs += 1
            except Exception as error:  # noqa: BLE001 - the load goes on without it
                log(f"ANALYZE failed: {error}")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)


class CpuMeter:
    """CPU seconds spent while the load ran, per group: the app (gunicorn's master and
    workers, recycled ones included), PostgreSQL (the backends serving the run's database),
    Redis, and the whole machine. Per request, these compare runs on a shared, noisy machine
    better than requests per second do: other sessions' work slows a run down but does not
    add to its own processes' CPU."""

    def __init__(self, server_pid: int, database: str):
        self.server_pid, self.database = server_pid, database
        self.first: dict[int, tuple[str, float]] = {}
        self.last: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _group(self, process) -> str | None:
        info = process.info
        if info["pid"] == self.server_pid or info["ppid"] == self.server_pid:
            return "app"
        command = " ".join(info["cmdline"] or [])
        if info["name"].startswith("postgres") and f" {self.database} " in command:
            return "postgres"
        if info["name"].startswith("redis-server"):
            return "redis"
        return None

    def _read(self) -> dict[int, tuple[str, float]]:
        import psutil

        seen = {}
        for process in psutil.process_iter(["pid", "ppid", "name", "cmdline", "cpu_times"]):
            group = self._group(process)
            times = process.info["cpu_times"]
            if group and times:
                seen[process.info["pid"]] = (group, times.user + times.system)
        return seen

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.last.update(self._read())

    def start(self) -> None:
        import psutil

        self.first = self._read()
        self.last = dict(self.first)
        self.machine = psutil.cpu_times()
        self.started = time.monotonic()
        self._thread.start()

    def stop(self, requests: int) -> dict:
        import psutil

        self._stop.set()
        self._thread.join()
        self.last.update(self._read())
        wall = time.monotonic() - self.started
        used: dict[str, float] = {"app": 0.0, "postgres": 0.0, "redis": 0.0}
        for pid, (group, seconds) in self.last.items():
            used[group] += seconds - self.first.get(pid, (group, 0.0))[1]
        machine = psutil.cpu_times()
        idle = (machine.idle + machine.iowait) - (self.machine.idle + self.machine.iowait)
        busy_cores = (sum(machine) - sum(self.machine) - idle) / wall
        per_request = {group: round(seconds * 1000 / max(requests, 1), 2)
                       for group, seconds in used.items()}
        self.result = {"cpu_ms_per_request": per_request,
                       "machine_busy_cores": round(busy_cores, 2),
                       "load_average": [round(value, 2) for value in os.getloadavg()]}
        return self.result


# Frames every request passes through on its way to Flask: left out of the summary.
PLUMBING = ("(threading.py", "(concurrent/futures/", "(gunicorn/")


class Profiler:
    """py-spy on gunicorn's master and its workers while the load runs, after a warm-up:
    samples of threads holding the GIL, i.e. where the workers' Python time goes. The summary
    is each function's inclusive share of those samples."""

    def __init__(self, pid: int, seconds: int, delay: float, path: Path):
        self.pid, self.seconds, self.delay, self.path = pid, seconds, delay, path
        self.error = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        time.sleep(self.delay)
        answer = subprocess.run(
            [VENV_BIN / "py-spy", "record", "--pid", str(self.pid), "--subprocesses", "--gil",
             "--nonblocking", "--rate", "97", "--duration", str(self.seconds), "--format", "raw",
             "-o", self.path], capture_output=True, text=True)
        if answer.returncode != 0:
            self.error = (answer.stderr or answer.stdout).strip()[-500:]

    def start(self) -> None:
        self._thread.start()

    def summary(self, top: int = 30) -> list[dict]:
        self._thread.join()
        if self.error or not self.path.exists():
            log(f"py-spy: no profile ({self.error or 'nothing recorded'}); it needs ptrace "
                "rights: run as root, or set kernel.yama.ptrace_scope=0")
            return []
        shares: dict[str, int] = {}
        total = 0
        for line in self.path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            total += int(count)
            frames = {frame.rsplit(":", 1)[0] + ")" for frame in stack.split(";")
                      if frame.endswith(")") and not frame.startswith("process ")
                      and not any(plumbing in frame for plumbing in PLUMBING)}
            for frame in frames:
                name = frame.replace(str(ROOT / ".venv"), "").split("site-packages/")[-1]
                shares[name] = shares.get(name, 0) + int(count)
        ranked = sorted(shares.items(), key=lambda item: -item[1])[:top]
        return [{"function": name, "share": round(count / max(total, 1), 3)}
                for name, count in ranked]


def flask(env: dict, *args: str, stdin: str | None = None) -> None:
    subprocess.run([VENV_BIN / "flask", "--app", "main", *args], cwd=ROOT, env=env, check=True,
                   input=stdin, text=True, stdout=subprocess.DEVNULL)


# The run's users, created in one process through the app's own service (the CLI's
# `flask users create` does the same, one process per user): passwords arrive on stdin.
CREATE_USERS = """
import json, sys
from app import create_app
from app.auth.services import create_user
from app.extensions import db
app = create_app()
with app.app_context():
    for username, role, password in json.load(sys.stdin):
        create_user(username, role, password)
    db.session.commit()
"""


def create_users(env: dict, counts: dict, path: Path) -> None:
    users = {role: [[f"load-{role}-{number:03d}", secrets.token_urlsafe(16)]
                    for number in range(1, count + 1)] for role, count in counts.items()}
    accounts = [[name, role, password] for role, pairs in users.items()
                for name, password in pairs]
    subprocess.run([VENV_BIN / "python", "-c", CREATE_USERS], cwd=ROOT, env=env, check=True,
                   input=json.dumps(accounts), text=True, stdout=subprocess.DEVNULL)
    path.write_text(json.dumps(users))
    path.chmod(0o600)


def run_locust(base: str, classes: list[str], users: int, duration: int, work: Path,
               env: dict, meter: CpuMeter) -> list[dict]:
    prefix = work / "locust"
    spawn_rate = max(5, users // 20)
    command = [VENV_BIN / "locust", "-f", ROOT / "loadtests" / "locustfile.py", "--headless",
               "-H", base, "-u", str(users), "-r", str(spawn_rate), "-t", f"{duration}s",
               "--csv", prefix, "--only-summary", "--stop-timeout", "10", *classes]
    log(f"locust: {users} users ({', '.join(classes)}) for {duration} s")
    meter.start()
    subprocess.run(command, cwd=ROOT, env=env, timeout=duration + 120,
                   stdout=subprocess.DEVNULL, stderr=open(work / "locust.log", "w"))  # noqa: SIM115
    samples: dict[tuple[str, str], list[float]] = {}  # (method, name) -> milliseconds
    with open(env["LOADTEST_SAMPLES"]) as handle:
        for line in handle:
            method, name, milliseconds = line.rstrip("\n").split("\t")
            samples.setdefault((method, name), []).append(float(milliseconds))
    samples[("", "Aggregated")] = [ms for times in list(samples.values()) for ms in times]
    rows = []
    with open(f"{prefix}_stats.csv") as handle:
        for row in csv.DictReader(handle):
            figures = percentiles(samples.get((row["Type"], row["Name"]), []))
            rows.append({
                "method": row["Type"], "name": row["Name"],
                "requests": int(row["Request Count"]), "failures": int(row["Failure Count"]),
                "rps": float(row["Requests/s"]), "p50_ms": figures.get("p50", 0.0),
                "p95_ms": figures.get("p95", 0.0), "p99_ms": figures.get("p99", 0.0),
            })
    meter.stop(next((row["requests"] for row in rows if row["name"] == "Aggregated"),
                    sum(row["requests"] for row in rows)))
    return rows


WRK_USER_AGENT = "tracetrack-wrk"
WRK_SCRIPT = """
-- One wrk thread per connection, each logged in as its own staff user (one scanner each,
-- as in a warehouse: per-user rows such as the rate-limit counter are not shared).
local threads = {}
local sessions = {}
for line in io.lines(os.getenv("WRK_SESSIONS")) do
  local cookie, token = line:match("([^\\t]+)\\t([^\\t]+)")
  table.insert(sessions, {cookie, token})
end
setup = function(thread)
  local n = #threads + 1
  thread:set("id", n)
  thread:set("cookie", sessions[(n - 1) % #sessions + 1][1])
  thread:set("token", sessions[(n - 1) % #sessions + 1][2])
  table.insert(threads, thread)
end
init = function(args)
  math.randomseed(os.time() + id * 7919)  -- each thread its own parents, not the same sequence
  -- One connection per thread, no pipelining: a response answers this thread's last request.
  acks = io.open(os.getenv("WRK_ACKS") .. "." .. id, "a")
  acks:setvbuf("line")
end
last = nil
counter = 0
created = 0
other = 0
local parents = tonumber(os.getenv("WRK_PARENTS"))
local run = os.getenv("WRK_RUN")
response = function(status, headers, body)
  if status == 201 then
    created = created + 1
    acks:write(last, "\\n")
  else
    other = other + 1
    if other == 1 and os.getenv("WRK_DEBUG") then io.stderr:write(status .. " " .. body .. "\\n") end
  end
end
request = function()
  counter = counter + 1
  local parent = string.format("M444-%05d", math.random(1, parents))
  local code = string.format("W%s%d%08d", run, id, counter)
  local body = '{"parent":"' .. parent .. '","code":"' .. code .. '"}'
  last = code .. "\\t" .. parent
  return wrk.format("POST", "/api/v1/scans/child",
    {["Cookie"] = cookie, ["X-CSRFToken"] = token, ["Content-Type"] = "application/json",
     ["User-Agent"] = "tracetrack-wrk"}, body)
end
done = function(summary, latency, requests)
  local ok, bad = 0, 0
  for _, thread in ipairs(threads) do
    ok = ok + thread:get("created")
    bad = bad + thread:get("other")
  end
  io.write(string.format("STATUS {\\"created\\":%d,\\"other\\":%d}\\n", ok, bad))
  io.write(string.format("JSON {\\"requests\\":%d,\\"duration_us\\":%d,\\"non2xx\\":%d,\\"socket_errors\\":%d}\\n",
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  -- the latency distribution itself (microseconds and how often), for loadtests/common.py
  for i = 1, #latency do
    local microseconds, count = latency(i)
    io.write(string.format("LATENCY %d %d\\n", microseconds, count))
  end
end
"""


def login_cookie(base: str, username: str, password: str) -> tuple[str, str]:
    import http.cookiejar
    import re
    import urllib.parse

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    # The same User-Agent as wrk's requests: Flask-Login's session protection marks a session
    # whose agent changed as not fresh, and re-signs its cookie on every answer.
    opener.addheaders = [("User-Agent", WRK_USER_AGENT)]
    token_re = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
    token = token_re.search(opener.open(base + "/login").read().decode()).group(1)
    opener.open(base + "/login", data=urllib.parse.urlencode(
        {"username": username, "password": password, "csrf_token": token}).encode())
    token = token_re.search(opener.open(base + "/scan").read().decode()).group(1)
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    return cookie, token


def run_wrk(base: str, users: dict, duration: int, connections: int, work: Path,
            db_url: str, meter: CpuMeter) -> tuple[dict, list[dict]]:
    """Child scans into pre-created open parents, as fast as the server answers."""
    import psycopg

    parents = 20000
    with psycopg.connect(db_url, autocommit=True) as conn:
        user_id = conn.execute("SELECT id FROM users WHERE username = %s",
                               (users["staff"][0][0],)).fetchone()[0]
        with conn.cursor().copy("COPY bags (code, kind, status, capacity, child_count, created_at,"
                                " created_by_id) FROM STDIN") as copy:
            now = datetime.now(UTC)
            for number in range(1, parents + 1):
                copy.write_row((f"M444-{number:05d}", "parent", "open", 30, 0, now, user_id))
    sessions = work / "sessions.tsv"
    sessions.write_text("".join("\t".join(login_cookie(base, *pair)) + "\n"
                                for pair in users["staff"][:connections]))
    script = work / "scan.lua"
    script.write_text(WRK_SCRIPT)
    env = {**os.environ, "WRK_PARENTS": str(parents), "WRK_RUN": secrets.token_hex(2).upper(),
           "WRK_SESSIONS": str(sessions), "WRK_ACKS": str(work / "wrk-acks")}
    headers: list[str] = []
    log(f"wrk: {connections} connections, 5 s warm-up then {duration} s")
    warm = subprocess.run(["wrk", f"-t{connections}", f"-c{connections}", "-d5s", "-s", script,
                           *headers, base], env=env, capture_output=True, text=True, timeout=60)
    warm_created = json.loads(next(line for line in warm.stdout.splitlines()
                                   if line.startswith("STATUS "))[7:])["created"]
    env["WRK_RUN"] = secrets.token_hex(2).upper()  # fresh codes for the measured run
    meter.start()
    answer = subprocess.run(["wrk", f"-t{connections}", f"-c{connections}", f"-d{duration}s", "--timeout",
                             "5s", "-s", script, *headers, base], env=env, capture_output=True,
                            text=True, timeout=duration + 60)
    out = answer.stdout
    if answer.stderr.strip():
        log("wrk: first refused answer: " + answer.stderr.strip()[:500])
    line = next(line for line in out.splitlines() if line.startswith("JSON "))
    stats = json.loads(line[5:])
    latencies = []  # milliseconds, each as often as wrk saw it
    for line in out.splitlines():
        if line.startswith("LATENCY "):
            microseconds, count = line.split()[1:]
            latencies += [int(microseconds) / 1000] * int(count)
    figures = percentiles(latencies, digits=2)
    statuses = json.loads(next(line for line in out.splitlines() if line.startswith("STATUS "))[7:])
    seconds = stats["duration_us"] / 1e6
    meter.stop(stats["requests"])
    # Every answer but 201 linked is a failure here (wrk itself counts 3xx as success).
    # Every 201 is a new, uniquely coded child (its code and parent are in wrk-acks.*);
    # requests still in flight when wrk stops may be stored without an answer.
    acknowledged = {"count": warm_created + statuses["created"], "in_flight": 2 * connections,
                    "files": sorted(work.glob("wrk-acks.*"))}
    return acknowledged, [{"method": "POST", "name": "/api/v1/scans/child (wrk)", "requests": stats["requests"],
             "failures": max(statuses["other"], stats["non2xx"]) + stats["socket_errors"],
             "rps": round(stats["requests"] / seconds, 1), "p50_ms": figures.get("p50", 0.0),
             "p95_ms": figures.get("p95", 0.0), "p99_ms": figures.get("p99", 0.0)}]


def check_data(db_url: str, acks_path: Path | None, wrk: dict | None = None) -> dict:
    """Every acknowledged scan in the database exactly once, in its parent; counts and
    invariants hold. Locust logs each acknowledged scan with its scan_id (acks_path); wrk
    each 201's code and parent (a new, unique code per request)."""
    import psycopg

    acked, undone = {}, set()
    if acks_path and acks_path.exists():
        for line in acks_path.read_text().splitlines():
            entry = json.loads(line)
            if "undone" in entry:
                undone.add(entry["undone"])
            else:
                acked[entry["scan_id"]] = (entry["code"], entry["parent"])
    for path in (wrk or {}).get("files", []):
        for line in path.read_text().splitlines():
            code, parent = line.split("\t")
            acked[code] = (code, parent)
    problems = []
    with psycopg.connect(db_url) as conn:
        if wrk is None:
            found = conn.execute("SELECT count(*) FROM scan_events WHERE scan_id = ANY(%s)"
                                 " AND result = 'linked'", (list(acked),)).fetchone()[0]
        else:
            found = conn.execute("SELECT count(*) FROM scan_events WHERE code = ANY(%s)"
                                 " AND result = 'linked'", (list(acked),)).fetchone()[0]
            if len(acked) != wrk["count"]:
                problems.append(f"wrk counted {wrk['count']} answers 201, logged {len(acked)}")
        if found != len(acked):
            problems.append(f"{len(acked)} acknowledged scans, {found} in scan_events")
        conn.execute("CREATE TEMP TABLE expected (code text, parent text)")
        with conn.cursor().copy("COPY expected FROM STDIN") as copy:
            for code, parent in acked.values():
                if code not in undone:
                    copy.write_row((code, parent))
        misplaced = conn.execute(
            "SELECT count(*) FROM expected e LEFT JOIN bags c ON c.code = e.code"
            " LEFT JOIN bags p ON p.id = c.parent_id WHERE p.code IS DISTINCT FROM e.parent"
        ).fetchone()[0]
        if misplaced:
            problems.append(f"{misplaced} acknowledged children are not in their parent")
        if wrk is not None:
            linked = conn.execute("SELECT count(*) FROM scan_events WHERE action = 'child_scan'"
                                  " AND outcome = 'accepted' AND result = 'linked'").fetchone()[0]
            if not len(acked) <= linked <= len(acked) + wrk["in_flight"]:
                problems.append(f"{linked} links stored for {len(acked)} acknowledged scans "
                                f"(at most {wrk['in_flight']} may be unanswered at the stop)")
        for broken, sql in INVARIANT_CHECKS.items():
            count = conn.execute(sql).fetchone()[0]
            if count:
                problems.append(f"{count} {broken}")
        totals = conn.execute(
            "SELECT (SELECT count(*) FROM bags WHERE kind = 'parent'),"
            " (SELECT count(*) FROM bags WHERE kind = 'child'),"
            " (SELECT count(*) FROM scan_events)").fetchone()
    return {"acknowledged_scans": len(acked), "undone": len(undone), "found": found,
            "parents": totals[0], "children": totals[1], "scan_events": totals[2],
            "problems": problems}


def print_table(rows: list[dict]) -> str:
    lines = ["| endpoint | requests | failures | req/s | p50 ms | p95 ms | p99 ms |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        lines.append(f"| {row['method']} {row['name']} | {row['requests']} | {row['failures']} |"
                     f" {row['rps']:.1f} | {row['p50_ms']:.0f} | {row['p95_ms']:.0f} |"
                     f" {row['p99_ms']:.0f} |")
    table = "\n".join(lines)
    print(table, flush=True)
    return table


def evaluate(profile: str, rows: list[dict], peak_mb: float, data: dict) -> list[str]:
    targets, failed = TARGETS[profile], []
    endpoints = [row for row in rows if row["name"] != "Aggregated"]
    failures = sum(row["failures"] for row in endpoints)
    if failures > targets["failures"]:
        failed.append(f"{failures} failed requests")
    if peak_mb > targets["memory_mb"]:
        failed.append(f"peak memory {peak_mb:.0f} MB > {targets['memory_mb']} MB")
    if profile == "shift":
        for row in endpoints:
            is_scan = row["name"] in SCAN_ENDPOINTS
            limit = targets["scan_p95_ms"] if is_scan else targets["page_p95_ms"]
            if row["name"].startswith("/login"):
                continue  # logging in happens once per user, at ramp-up; reported, not a target
            if row["p95_ms"] > limit:
                failed.append(f"{row['name']} p95 {row['p95_ms']:.0f} ms > {limit} ms")
    else:
        scans = next(row for row in endpoints if row["name"].startswith("/api/v1/scans/child"))
        if scans["rps"] < targets["scans_per_s"]:
            failed.append(f"{scans['rps']:.0f} child scans/s < {targets['scans_per_s']}")
    failed.extend(data["problems"])
    return failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=("shift", "max"), default="shift")
    parser.add_argument("--users", type=int, default=None,
                        help="shift: concurrent users (250); max: wrk connections (16)")
    parser.add_argument("--duration", type=int, default=None, help="seconds (shift 180, max 30)")
    parser.add_argument("--seed-bags", type=int, default=0, help="bags seeded before the run")
    parser.add_argument("--tool", choices=("wrk", "locust"), default="wrk",
                        help="load tool of the max profile")
    parser.add_argument("--database-url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432"))
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("--port", type=int, default=0,
                        help="the app's port on 127.0.0.1 (default: any free one)")
    parser.add_argument("--py-spy", action="store_true",
                        help="profile the workers with py-spy during the run (needs root)")
    args = parser.parse_args()
    users = args.users or (250 if args.profile == "shift" else 16)
    duration = args.duration or (180 if args.profile == "shift" else 30)
    use_wrk = args.profile == "max" and args.tool == "wrk"
    ensure_tools(use_wrk)

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    database = f"tt_bench_{stamp.lower()}"
    admin_url = args.database_url.rstrip("/") + "/postgres"
    db_url = args.database_url.rstrip("/") + "/" + database
    work = Path(tempfile.mkdtemp(prefix="tracetrack-bench-"))
    RESULTS.mkdir(parents=True, exist_ok=True)
    log(f"database {database}; work files in {work}")
    psql(admin_url, f'CREATE DATABASE "{database}"')
    import redis

    redis.Redis.from_url(args.redis_url).flushdb()
    env = {**os.environ, "APP_ENV": "production", "DATABASE_URL": db_url,
           "SECRET_KEY": secrets.token_hex(32), "RATELIMIT_STORAGE_URI": args.redis_url,
           "SESSION_COOKIE_SECURE": "0", "REQUEST_LOG": "0", "GUNICORN_ACCESSLOG": "",
           # The whole load logs in from one address, and the max profile scans far faster
           # than any person: the limits are raised for the run (and reported).
           "LOGIN_RATE_LIMIT": "100000 per minute", "LOGIN_USERNAME_RATE_LIMIT": "1000 per minute",
           "SCAN_RATE_LIMIT": "600 per minute" if args.profile == "shift" else "1000000 per minute",
           # The shift's admins log in with their password only: a load tool scans no QR code
           # (with the default, admin, every admin request of the run answered 401).
           "REQUIRE_2FA_ROLES": ""}
    server = None
    try:
        flask(env, "db", "upgrade")
        if args.seed_bags:
            log(f"seeding {args.seed_bags} bags")
            started = time.monotonic()
            flask(env, "seed-bags", str(args.seed_bags))
            log(f"seeded in {time.monotonic() - started:.0f} s")
        counts = ({"staff": 230, "supervisor": 15, "admin": 5} if args.profile == "shift"
                  else {"staff": max(1, users)})
        create_users(env, counts, work / "users.json")
        server = Server(env, work / "gunicorn.log", args.port)
        server.start()
        meter = CpuMeter(server.process.pid, database)
        analyzer = Analyzer(db_url)
        analyzer.start()
        profiler = None
        if args.py_spy:
            warm_up = 10 if args.profile == "max" else 30  # wrk's warm-up; locust's ramp-up
            profiler = Profiler(server.process.pid, max(5, duration - warm_up - 5), warm_up,
                                work / "py-spy.txt")
            profiler.start()
        acks = work / "acks.jsonl"
        load_env = {**os.environ, "LOADTEST_USERS": str(work / "users.json"),
                    "LOADTEST_ACKS": str(acks), "LOADTEST_SAMPLES": str(work / "samples.tsv"),
                    "LOADTEST_RUN": secrets.token_hex(2).upper()}
        if args.profile == "shift":
            rows = run_locust(server.base, ["StaffUser", "SupervisorUser", "AdminUser"], users,
                              duration, work, load_env, meter)
        elif use_wrk:
            wrk_acknowledged, rows = run_wrk(server.base, json.loads((work / "users.json").read_text()), duration,
                           users, work, db_url, meter)
            acks = None
        else:
            rows = run_locust(server.base, ["BlastUser"], users, duration, work, load_env, meter)
        analyzer.stop()
        profile = profiler.summary() if profiler else []
        server.stop()
        peak_mb = server.peak_rss / 2**20
        data = check_data(db_url, acks, wrk_acknowledged if use_wrk else None)
    finally:
        if server:
            server.stop()
        if not args.keep_database:
            psql(admin_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    print_table(rows)
    failed = evaluate(args.profile, rows, peak_mb, data)
    result = {"profile": args.profile, "date": stamp, "users": users, "duration_s": duration,
              "seed_bags": args.seed_bags, "tool": "wrk" if use_wrk else "locust",
              "analyze_every_minute": analyzer.needed, "analyze_runs": analyzer.runs,
              "machine": {"cpus": os.cpu_count(), "platform": sys.platform},
              "endpoints": rows, "peak_memory_mb": round(peak_mb, 1), "data": data,
              "cpu": meter.result, "python_profile": profile,
              "targets": TARGETS[args.profile], "failed": failed}
    out = RESULTS / f"{args.profile}-{stamp}.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"\npeak memory (master + workers): {peak_mb:.0f} MB")
    if profile:
        print("\nwhere the workers' Python time goes (py-spy, inclusive share of samples):")
        for entry in profile:
            print(f"  {entry['share'] * 100:5.1f}%  {entry['function']}")
    print(f"cpu: {json.dumps(meter.result)}")
    print(f"data: {json.dumps(data)}")
    print(f"results: {out}")
    print("targets: " + ("all met" if not failed else "MISSED: " + "; ".join(failed)))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
