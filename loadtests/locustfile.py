"""A warehouse shift for locust, and a max-throughput profile.

Run through loadtests/run_benchmark.py, which creates the users of the run and passes their
credentials in the file named by LOADTEST_USERS (no password is written here):

    {"staff": [["user", "password"], ...], "supervisor": [...], "admin": [...]}

Profiles (the user classes locust is told to run):
- Shift: StaffUser (human pace: a scan every SCAN_WAIT_MIN..SCAN_WAIT_MAX seconds, 1 to 2 by
  default), SupervisorUser (dashboard every 10 s, bag look-ups), AdminUser (users and audit).
- Max: BlastUser scans with no wait, to find capacity.

Every acknowledged child scan (201 linked) is written to LOADTEST_ACKS (one JSON line each:
scan_id, parent, code) so that the runner can check each is in the database exactly once.
Requests are named by route pattern (/api/v1/bags/[code]), never by code. Each request's
response time goes to LOADTEST_SAMPLES (method, name, milliseconds: one tab-separated line
each), from which run_benchmark.py computes the percentiles as every benchmark does
(loadtests/common.py).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import threading
import uuid

from locust import FastHttpUser, between, constant, events, task

USERS = {}
if os.environ.get("LOADTEST_USERS"):
    with open(os.environ["LOADTEST_USERS"]) as handle:
        USERS = json.load(handle)
RUN = os.environ.get("LOADTEST_RUN", uuid.uuid4().hex[:6]).upper()
SCAN_WAIT = (float(os.environ.get("SCAN_WAIT_MIN", "1")), float(os.environ.get("SCAN_WAIT_MAX", "2")))
CAPACITY = int(os.environ.get("LOADTEST_CAPACITY", "30"))
ACKS_PATH = os.environ.get("LOADTEST_ACKS")
SAMPLES_PATH = os.environ.get("LOADTEST_SAMPLES")

_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
_parents = itertools.count(1)
_children = itertools.count(1)
_accounts = {role: itertools.cycle(pairs) for role, pairs in USERS.items()}
_lock = threading.Lock()
_acks = open(ACKS_PATH, "a") if ACKS_PATH else None  # noqa: SIM115 - closed on quit
_samples = open(SAMPLES_PATH, "a") if SAMPLES_PATH else None  # noqa: SIM115 - closed on quit
_known_children: list[tuple[str, str]] = []  # (child, parent) seen linked, for conflicts


def next_account(role: str) -> tuple[str, str]:
    with _lock:
        return next(_accounts[role])


def new_parent_code() -> str:
    # M444-nnnnn codes are left to the load; seeded data uses SB codes.
    return f"M444-{next(_parents):05d}"


def new_child_code() -> str:
    return f"L{RUN}{next(_children):07d}"


def acknowledge(scan_id: str, parent: str, code: str) -> None:
    if _acks is not None:
        with _lock:
            _acks.write(json.dumps({"scan_id": scan_id, "parent": parent, "code": code}) + "\n")
    with _lock:
        _known_children.append((code, parent))
        del _known_children[:-2000]


@events.request.add_listener
def _sample(request_type, name, response_time, **_kwargs):
    if _samples is not None:
        with _lock:
            _samples.write(f"{request_type}\t{name}\t{response_time}\n")


@events.quitting.add_listener
def _close_files(**_kwargs):
    for handle in (_acks, _samples):
        if handle is not None:
            handle.close()


class LoggedInUser(FastHttpUser):
    abstract = True
    role = "staff"
    landing = "/scan"

    def on_start(self):
        username, password = next_account(self.role)
        page = self.client.get("/login", name="/login").text
        token = _CSRF.search(page).group(1)
        with self.client.post("/login", data={"username": username, "password": password,
                                              "csrf_token": token},
                              name="/login [POST]", catch_response=True,
                              allow_redirects=False) as response:
            if response.status_code != 302:
                response.failure(f"login failed for {username}: {response.status_code}")
        page = self.client.get(self.landing, name=self.landing).text
        self.csrf = _CSRF.search(page).group(1)

    def post_json(self, path: str, body: dict, name: str, expected: tuple[int, ...]):
        with self.client.post(path, json=body, name=name, catch_response=True,
                              headers={"X-CSRFToken": self.csrf}) as response:
            if response.status_code in expected:
                response.success()
            else:
                response.failure(f"{response.status_code}: {response.text[:200]}")
            return response


class StaffUser(LoggedInUser):
    """Scans a parent, then its children one by one at human pace; finishes it (usually by
    filling it), sometimes undoes the last scan, rescans a bag or scans one that is already in
    another parent, as real shifts do."""

    weight = 230
    wait_time = between(*SCAN_WAIT)

    def on_start(self):
        super().on_start()
        self.parent = None
        self.count = 0
        self.mine: list[str] = []

    def start_parent(self):
        code = new_parent_code()
        self.post_json("/api/v1/scans/parent", {"code": code}, "/api/v1/scans/parent", (201, 200))
        self.parent, self.count, self.mine = code, 0, []

    @task
    def scan(self):
        if self.parent is None:
            self.start_parent()
            return
        roll = random.random()
        if roll < 0.03 and self.mine:  # the same bag read twice
            code = random.choice(self.mine)
            self.post_json("/api/v1/scans/child", {"parent": self.parent, "code": code},
                           "/api/v1/scans/child", (200,))
            return
        if roll < 0.05 and _known_children:  # a bag that is already in another parent
            code, other = random.choice(_known_children)
            if other != self.parent:
                self.post_json("/api/v1/scans/child", {"parent": self.parent, "code": code},
                               "/api/v1/scans/child [conflict]", (409,))
                return
        if roll < 0.07 and self.mine:  # undo the last scan
            response = self.post_json("/api/v1/scans/undo", {"parent": self.parent},
                                      "/api/v1/scans/undo", (200,))
            if response.status_code == 200:
                undone = response.json()["child"]["code"]
                self.mine.remove(undone)
                with _lock:  # no longer in a parent: not a conflict to scan elsewhere
                    _known_children[:] = [pair for pair in _known_children if pair[0] != undone]
                self.count -= 1
                if _acks is not None:
                    with _lock:
                        _acks.write(json.dumps({"undone": undone}) + "\n")
            return
        if roll < 0.075 and self.count >= 5:  # finish a short parent
            self.post_json(f"/api/v1/parents/{self.parent}/complete", {"force": True},
                           "/api/v1/parents/[code]/complete", (200,))
            self.parent = None
            return
        code, scan_id = new_child_code(), uuid.uuid4().hex
        response = self.post_json("/api/v1/scans/child",
                                  {"parent": self.parent, "code": code, "scan_id": scan_id},
                                  "/api/v1/scans/child", (201,))
        if response.status_code == 201:
            acknowledge(scan_id, self.parent, code)
            self.mine.append(code)
            self.count += 1
            if response.json()["parent"]["status"] == "complete":
                self.parent = None


class SupervisorUser(LoggedInUser):
    weight = 15
    role = "supervisor"
    landing = "/dashboard"
    wait_time = constant(10)

    @task(6)
    def poll_dashboard(self):
        self.client.get("/api/v1/dashboard/stats", name="/api/v1/dashboard/stats")

    @task(2)
    def look_up_bag(self):
        if not _known_children:
            return
        code, parent = random.choice(_known_children)
        self.client.get(f"/api/v1/bags/{code}", name="/api/v1/bags/[code]")
        self.client.get(f"/bags/{parent}", name="/bags/[code]")

    @task(1)
    def browse(self):
        self.client.get("/bags", name="/bags")
        self.client.get("/dashboard", name="/dashboard")


class AdminUser(LoggedInUser):
    weight = 5
    role = "admin"
    landing = "/users"
    wait_time = between(10, 20)

    @task
    def browse_admin(self):
        self.client.get("/users", name="/users")
        self.client.get("/audit", name="/audit")
        self.client.get("/api/v1/users", name="/api/v1/users")


class BlastUser(LoggedInUser):
    """Max-throughput: parents filled as fast as the server answers."""

    weight = 1
    wait_time = constant(0)

    def on_start(self):
        super().on_start()
        self.parent = None
        self.count = 0

    @task
    def scan(self):
        if self.parent is None or self.count >= CAPACITY:
            self.parent = new_parent_code()
            self.count = 0
            self.post_json("/api/v1/scans/parent", {"code": self.parent}, "/api/v1/scans/parent",
                           (201, 200))
            return
        code, scan_id = new_child_code(), uuid.uuid4().hex
        response = self.post_json("/api/v1/scans/child",
                                  {"parent": self.parent, "code": code, "scan_id": scan_id},
                                  "/api/v1/scans/child", (201,))
        if response.status_code == 201:
            acknowledge(scan_id, self.parent, code)
            self.count += 1
