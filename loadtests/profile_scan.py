#!/usr/bin/env python3
"""Where a child scan's CPU goes: N scans through the Flask test client against PostgreSQL,
in one thread, timed with the process CPU clock, then a cProfile (CPU clock) of the scan path.

    createdb -h 127.0.0.1 -U postgres tt_profile
    DATABASE_URL=postgresql://postgres@127.0.0.1/tt_profile .venv/bin/flask --app main db upgrade
    DATABASE_URL=postgresql://postgres@127.0.0.1/tt_profile .venv/bin/python loadtests/profile_scan.py [--no-profile]
"""

import cProfile
import os
import pstats
import re
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.update(APP_ENV="production", SECRET_KEY=secrets.token_hex(32), SESSION_COOKIE_SECURE="0",
                  REQUEST_LOG="0", SCAN_RATE_LIMIT="1000000 per minute",
                  RATELIMIT_STORAGE_URI=os.environ.get("RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379/7"))

from app import create_app  # noqa: E402
from app.auth.passwords import hash_password  # noqa: E402
from app.auth.services import create_user, find_user  # noqa: E402
from app.extensions import db  # noqa: E402

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
app = create_app()
password = secrets.token_urlsafe(16)
with app.app_context():
    user = find_user("profile-user") or create_user("profile-user", "staff", password)
    user.password_hash = hash_password(password)
    db.session.commit()
client = app.test_client()
token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
client.post("/login", data={"username": "profile-user", "password": password, "csrf_token": token})
headers = {"X-CSRFToken": CSRF.search(client.get("/scan").get_data(as_text=True)).group(1)}
run = secrets.token_hex(3).upper()
first_parent = secrets.randbelow(90000)  # fresh parents on a reused database, most runs
done = 0


def scans(count: int) -> None:
    global done
    for _ in range(count):
        parent = f"M444-{(first_parent + done // 29) % 100000:05d}"
        if done % 29 == 0:
            client.post("/api/v1/scans/parent", json={"code": parent}, headers=headers)
        answer = client.post("/api/v1/scans/child", headers=headers, json={
            "parent": parent, "code": f"P{run}{done:07d}", "scan_id": secrets.token_hex(8)})
        if answer.status_code != 201:
            sys.exit(f"scan refused: {answer.get_json()} (use a fresh database)")
        done += 1


scans(50)
callgrind = os.environ.get("CALLGRIND_SCANS")  # run under valgrind: instructions, not seconds
if callgrind:
    import subprocess

    subprocess.run(["callgrind_control", "--instr=on", str(os.getpid())], check=True,
                   capture_output=True)
    scans(int(callgrind))
    subprocess.run(["callgrind_control", "--instr=off", str(os.getpid())], check=True,
                   capture_output=True)
    sys.exit(0)
started, cpu = time.perf_counter(), time.process_time()
scans(400)
wall, cpu = time.perf_counter() - started, time.process_time() - cpu
print(f"400 child scans: {wall / 400 * 1000:.2f} ms wall, {cpu / 400 * 1000:.2f} ms CPU each "
      "(test client included; a /health request costs about 0.5 ms CPU here)")
if "--no-profile" in sys.argv:
    sys.exit(0)
profile = cProfile.Profile(time.process_time)
profile.enable()
scans(300)
profile.disable()
if os.environ.get("PROFILE_DUMP"):
    profile.dump_stats(os.environ["PROFILE_DUMP"])
pstats.Stats(profile).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(os.environ.get("PROFILE_FILTER", r"app/|flask_limiter/_limits|flask_login/utils|session.py:(2141|2283)"), int(os.environ.get("PROFILE_LINES", "40")))
