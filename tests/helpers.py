"""Helpers shared by the tests, imported by name (`from tests.helpers import ...`); fixtures
live in conftest.py only, and no test module imports another. Constants of the test run,
logging in, data factories that go through the real services, whole-database snapshots,
the bag invariants, the security headers, CSRF tokens from pages. What one feature's tests
share lives beside them in tests/<feature>/support.py."""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from datetime import datetime

import pytest
from sqlalchemy import select, text, update

import async_handler
from app.extensions import db
from app.models import AuditEvent, Bag, ScanEvent
from app.scanning.invariants import broken_invariants
from app.scanning import services as scanning
from app.scanning.transaction import run_scan

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
ON_POSTGRES = TEST_DATABASE_URL.startswith(("postgres://", "postgresql"))
PASSWORD = "correct horse battery staple"

pg_only = pytest.mark.skipif(
    not ON_POSTGRES, reason="needs PostgreSQL: set TEST_DATABASE_URL (CI does)")

BARRIER_TIMEOUT = 10  # seconds the threads of a race wait for each other
REQUEST_TIMEOUT = 30  # seconds a raced request may take


def race(pool, calls) -> list[tuple[int, dict]]:
    """Send every (client, path, body) POST at the same moment, each from its own thread of
    `pool`, released together by a Barrier; return [(status, json)] in the order of `calls`."""
    barrier = threading.Barrier(len(calls))

    def send(client, path, body):
        barrier.wait(timeout=BARRIER_TIMEOUT)
        response = client.post(path, json=body)
        return response.status_code, response.get_json()

    futures = [pool.submit(send, *call) for call in calls]
    return [future.result(timeout=REQUEST_TIMEOUT) for future in futures]


def log_in(client, username: str, password: str = PASSWORD):
    return client.post("/login", data={"username": username, "password": password})


# --- bags, events and audit rows (lookup, corrections, exports) ----------------------------

def fill_parent(user, parent_code: str, children: list[str] = ()) -> None:
    """A parent scanned and filled through the real scan service (so the history is real)."""
    run_scan(scanning.scan_parent, user, parent_code)
    for code in children:
        run_scan(scanning.scan_child, user, parent_code, code)


def set_created_at(code: str, when: datetime) -> None:
    db.session.execute(update(Bag).where(Bag.code == code).values(created_at=when))
    db.session.commit()


def bag(code: str) -> Bag | None:
    db.session.expire_all()
    return db.session.scalar(select(Bag).where(Bag.code == code))


def events_for(code: str) -> list[ScanEvent]:
    db.session.expire_all()
    return list(db.session.scalars(
        select(ScanEvent).where(ScanEvent.code == code).order_by(ScanEvent.id)))


def audit_rows(action: str | None = None) -> list[AuditEvent]:
    db.session.expire_all()
    stmt = select(AuditEvent).order_by(AuditEvent.id)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    return list(db.session.scalars(stmt))


def all_pages(client, **params) -> list[dict]:
    """Every item of the API list with these filters, walking next_cursor to the end."""
    items, cursor, pages = [], None, 0
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get("/api/v1/bags", query_string=query)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        items.extend(body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items
        assert pages < 1000, "the cursor never ends"


PAGE_CODE = re.compile(
    r'<a class="bag-code" href="/bags/[^"]+">([^<]+)</a></td>\s*<td[^>]*>(parent|child)</td>')


def page_codes(html: str) -> list[str]:
    """The bag codes in the list page's table, in order."""
    return [match.group(1) for match in PAGE_CODE.finditer(html)]


# --- a small world for the reliability and security tests ----------------------------------

ROLES = ("anonymous", "staff", "supervisor", "admin")
NEW_PASSWORD = "a brand new passphrase for tests"
SMALL_CSV = b"code,kind,parent_code\nSB00077,parent,\n0077001,child,SB00077\n"


@dataclass
class World:
    """What every route of the matrix needs to find: ids to put into paths."""

    job_id: int
    import_id: int
    series_id: int | None = None  # a label series of M444- codes (issue 22)


def build_world(make_user, app) -> World:
    """Users of each role (the-staff, the-supervisor, the-admin), a staff member to manage
    (target) and an inactive one (sleeper); parents SB00001 (one child, 0016586, scanned by
    the-staff), SB00002 (open, empty), SB00003 (complete); a loose child 0055555; a
    verify-bags job and a checked import, both by the-supervisor."""
    from app.imports import upload as imports

    users = {role: make_user(f"the-{role}", role) for role in ("staff", "supervisor", "admin")}
    make_user("target", "staff")
    make_user("sleeper", "staff", is_active=False)
    staff, supervisor = users["staff"], users["supervisor"]
    run_scan(scanning.scan_parent, staff, "SB00001")
    run_scan(scanning.scan_child, staff, "SB00001", "0016586")
    run_scan(scanning.scan_parent, staff, "SB00002")
    run_scan(scanning.scan_parent, staff, "SB00003")
    run_scan(scanning.scan_child, staff, "SB00003", "0033333")
    run_scan(scanning.complete_parent, staff, "SB00003", force=True)
    run_scan(scanning.scan_parent, staff, "SB00005")
    run_scan(scanning.scan_child, staff, "SB00005", "0055555")
    run_scan(scanning.undo_scan, staff, raw_parent="SB00005")
    build_dispatches(staff, supervisor)

    job = async_handler.enqueue("verify_bags", {}, supervisor)
    record = imports.store_upload(supervisor, "bags.csv", SMALL_CSV)
    db.session.commit()
    from app.labels.services import reserve_series

    series = reserve_series(supervisor, "M444-", 3).series
    db.session.commit()
    world = World(job_id=job.id, import_id=record.id, series_id=series.id)
    runner = async_handler.JobRunner(app)
    while runner.run_once():  # the job and the import's dry run finish
        pass
    db.session.expire_all()
    db.session.rollback()
    return world


def build_dispatches(staff, supervisor) -> None:
    """Complete parents SB00006, SB00007 and SB00008 (one child each); dispatch D000001
    loading (SB00006 on it, 2 expected) and D000002 dispatched (SB00007 on it)."""
    from app.dispatch import services as dispatching
    from app.unit_of_work import run

    for number in (6, 7, 8):
        run_scan(scanning.scan_parent, staff, f"SB0000{number}")
        run_scan(scanning.scan_child, staff, f"SB0000{number}", f"00{number}{number}666")
        run_scan(scanning.complete_parent, staff, f"SB0000{number}", force=True)
    for code, expected in (("D000001", 2), ("D000002", 1)):
        run(dispatching.create_dispatch, supervisor, {
            "code": code, "destination": "Nagpur depot", "vehicle_number": "MH12AB1234",
            "expected_parents": expected})
    run(dispatching.load_parent, staff, "D000001", "SB00006")
    run(dispatching.load_parent, staff, "D000002", "SB00007")
    run(dispatching.dispatch_out, supervisor, "D000002")


# --- snapshots ------------------------------------------------------------------------------

def _rows(connection, table) -> list[tuple]:
    columns = [column for column in table.columns if column.name not in ("last_seen_at",)]
    order = [column for column in table.primary_key.columns] or columns
    return [tuple(row) for row in connection.execute(select(*columns).order_by(*order))]


def snapshot(*, ignore_rejected_scans: bool = False) -> dict[str, list[tuple]]:
    """Every row of every table, read on a connection of its own. With
    ignore_rejected_scans, scan_events rows with outcome 'rejected' are left out: a refused
    scan is kept in the history on purpose (the dashboard's exceptions feed), and counted in
    scan_counts (kind 'refused') by a trigger."""
    db.session.rollback()
    result = {}
    with db.engine.connect() as connection:
        for table in db.metadata.sorted_tables:
            if table.name == "alembic_version":
                continue
            rows = _rows(connection, table)
            if ignore_rejected_scans and table.name == ScanEvent.__tablename__:
                outcome = list(table.columns.keys()).index("outcome")
                rows = [row for row in rows if row[outcome] != "rejected"]
            if ignore_rejected_scans and table.name == "scan_counts":  # kept by a trigger
                kind = list(table.columns.keys()).index("kind")
                rows = [row for row in rows if row[kind] != "refused"]
            result[table.name] = rows
    return result


def assert_unchanged(before: dict, after: dict) -> None:
    changed = {name: (before[name], after.get(name)) for name in before
               if before[name] != after.get(name)}
    assert not changed, f"the database changed: {changed}"


def rejected_scan_count() -> int:
    db.session.rollback()
    with db.engine.connect() as connection:
        return connection.execute(text(
            "SELECT count(*) FROM scan_events WHERE outcome = 'rejected'")).scalar()


# --- CSRF ----------------------------------------------------------------------------------

_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def page_csrf_token(client, path: str = "/login") -> str:
    response = client.get(path)
    match = _META.search(response.get_data(as_text=True))
    assert match, f"{path} carries no csrf-token meta tag"
    return match.group(1)


def csrf_login(client, username: str, password: str = PASSWORD) -> str:
    """Log in through the real form with its CSRF token; returns a token for later posts."""
    token = page_csrf_token(client)
    response = client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return page_csrf_token(client, "/account")


def plain_login(client, role: str) -> None:
    if role != "anonymous":
        assert log_in(client, f"the-{role}", PASSWORD).status_code == 302


# --- checks every feature's tests make ---------------------------------------------------

def check_invariants(session=None) -> None:
    """Assert the bag invariants of DESIGN.md section 3 (app/scanning/invariants.py):
    every parent's child_count equals its number of children and is <= capacity;
    no code is both a parent and a child; a child's parent is a parent; a child's status
    agrees with its parent_id."""
    broken = broken_invariants(session or db.session)
    assert broken == {}, f"invariants broken (rows per invariant): {broken}"


def assert_security_headers(response):
    csp = response.headers["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:]
                  for part in (p.strip() for p in csp.split(";")) if part}
    script_src = directives.get("script-src", directives.get("default-src"))
    assert script_src is not None
    assert "'unsafe-inline'" not in script_src
    assert "'unsafe-eval'" not in script_src
    assert directives["frame-ancestors"] == ["'none'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in {"same-origin", "no-referrer",
                                                   "strict-origin-when-cross-origin"}
    assert re.fullmatch(r"[A-Za-z0-9._-]{8,64}", response.headers["X-Request-ID"])


def insert_event_at_an_old_revision(user_id: int, action: str, outcome: str, result: str,
                                    created_at, station: str | None = None) -> None:
    """A scan event written with the columns every revision has (text, not the model: the
    model's newer columns, such as parent_code and made_at, do not exist yet there)."""
    from sqlalchemy import bindparam

    from app.models.types import UTCDateTime

    db.session.execute(text(
        "INSERT INTO scan_events (created_at, user_id, action, outcome, result, code, station)"
        " VALUES (:at, :user_id, :action, :outcome, :result, 'C0001', :station)")
        .bindparams(bindparam("at", type_=UTCDateTime())),
        {"at": created_at, "user_id": user_id, "action": action, "outcome": outcome,
         "result": result, "station": station})


def insert_user_at_an_old_revision(name: str, role: str = "staff") -> int:
    """A user row written with the columns every revision has (Core, not the model: a test
    that stops the migrations early has a users table without the model's newer columns,
    such as the second factor's). Its id."""
    from datetime import UTC, datetime

    return db.session.execute(text(
        "INSERT INTO users (username, display_name, password_hash, role, is_active,"
        " session_version, failed_login_count, created_at, updated_at)"
        " VALUES (:name, :name, 'x', :role, true, 1, 0, :now, :now) RETURNING id"),
        {"name": name, "role": role, "now": datetime.now(UTC)}).scalar()
