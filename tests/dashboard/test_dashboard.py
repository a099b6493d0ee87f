"""The dashboard's figures, checked exactly against a known data set in a non-UTC zone whose
hours start at half past the UTC hour (Asia/Kolkata, +05:30), with events placed on every
edge: local midnight, the start of the last hour, the local hour boundaries, the stale limit,
and outside the 24-hour window. Plus the role rules, the time zone setting, and the
station's "My scans today"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from app import create_app
from app.config import ConfigError
from app.dashboard import services
from app.extensions import db
from app.models.site import default_site_id
from app.site_scope import using_site
from app.models import Bag, ScanEvent
from app.models.events import ScanCount
from tests.helpers import (ON_POSTGRES, insert_event_at_an_old_revision,
                           insert_user_at_an_old_revision, pg_only)

KOLKATA = ZoneInfo("Asia/Kolkata")


def local(text: str) -> datetime:
    """A wall-clock time in Kolkata as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=KOLKATA).astimezone(UTC)


NOW = local("2026-03-10 10:45:20")  # 05:15:20 UTC


@pytest.fixture
def app(make_app):
    application = make_app(APP_TIMEZONE="Asia/Kolkata", STALE_PARENT_MINUTES=30)
    with application.app_context():
        yield application


@pytest.fixture
def frozen(monkeypatch):
    monkeypatch.setattr(services, "utcnow", lambda: NOW)
    return NOW


# --- the data set ------------------------------------------------------------------------

def add_parent(code, status, capacity, created, user):
    bag = Bag(code=code, kind="parent", status=status, capacity=capacity, child_count=0,
              created_at=local(created), created_by_id=user.id)
    db.session.add(bag)
    db.session.flush()
    return bag


def add_child(code, parent=None, created="2026-03-08 09:00:00"):
    bag = Bag(code=code, kind="child", status="linked" if parent else "unlinked",
              parent_id=parent.id if parent else None,
              linked_at=local(created) if parent else None, created_at=local(created))
    db.session.add(bag)
    db.session.flush()
    return bag


def add_event(user, at, action, result, code, *, parent=None, outcome="accepted", reason=None):
    db.session.add(ScanEvent(user_id=user.id, created_at=local(at), action=action,
                             outcome=outcome, result=result, code=code,
                             parent_id=parent.id if parent else None, reason=reason))


def link(user, at, code, parent):
    add_event(user, at, "child_scan", "linked", code, parent=parent)


def refuse(user, at, action, result, code, reason, parent=None):
    add_event(user, at, action, result, code, parent=parent, outcome="rejected", reason=reason)


@pytest.fixture
def dataset(app, make_user):
    """Users, parents, children and events with explicit times (see the expected figures)."""
    alice = make_user("alice", "staff")
    bob = make_user("bob", "staff")
    carol = make_user("carol", "supervisor")
    dave = make_user("dave", "staff")

    sb1 = add_parent("SB00001", "open", 30, "2026-03-09 08:00:00", alice)
    sb2 = add_parent("SB00002", "complete", 2, "2026-03-10 08:00:00", alice)
    sb3 = add_parent("SB00003", "open", 30, "2026-03-10 03:00:00", bob)
    add_parent("SB00004", "open", 30, "2026-03-10 08:45:00", bob)  # never scanned
    sb5 = add_parent("SB00005", "open", 30, "2026-03-09 07:00:00", dave)
    sb6 = add_parent("SB00006", "complete", 1, "2026-03-08 11:00:00", dave)
    sb7 = add_parent("SB00007", "open", 30, "2026-03-10 10:15:00", alice)
    sb8 = add_parent("SB00008", "open", 30, "2026-03-10 10:15:00", alice)
    sb9 = add_parent("SB00009", "complete", 1, "2026-03-10 07:00:00", bob)
    for code in ("C0001", "C0002", "C0003"):
        add_child(code, sb1)
    for code in ("C0004", "C0005"):
        add_child(code, sb2)
    add_child("C0006", sb3)
    add_child("C0007", sb6)
    add_child("C0008", sb9)
    add_child("U0001")
    add_child("U0002")

    # Accepted child links ("scans"), on every edge:
    link(alice, "2026-03-10 00:00:00", "C0001", sb1)  # local midnight: today, bucket 13
    link(alice, "2026-03-10 09:59:59", "C0002", sb1)  # last hour; bucket 22
    link(alice, "2026-03-10 10:00:00", "C0003", sb1)  # a local hour starts (04:30 UTC): 23
    link(alice, "2026-03-10 09:45:20", "C0004", sb2)  # exactly one hour ago: in; bucket 22
    link(alice, "2026-03-10 09:45:19", "C0005", sb2)  # a second earlier: out; bucket 22
    link(bob, "2026-03-10 10:40:00", "C0009", sb1)    # last hour; bucket 23; SB00001 touched
    link(bob, "2026-03-10 03:30:00", "C0006", sb3)    # bucket 16; SB00003's last event
    link(bob, "2026-03-10 06:59:00", "C0008", sb9)    # bucket 19
    link(dave, "2026-03-09 23:59:59", "C0007", sb6)   # yesterday; bucket 12
    link(dave, "2026-03-09 11:00:00", "C0010", sb5)   # yesterday; first bucket, 0
    link(dave, "2026-03-09 10:59:59", "C0011", sb6)   # just before the 24-hour window
    link(dave, "2026-03-08 12:00:00", "C0012", sb6)   # two days ago

    # Completions: by hand, and by reaching capacity (auto_completed); and yesterday's.
    add_event(alice, "2026-03-10 10:30:00", "complete", "completed", "SB00002", parent=sb2,
              reason="finished short")
    add_event(bob, "2026-03-10 07:00:00", "complete", "auto_completed", "SB00009", parent=sb9)
    add_event(dave, "2026-03-09 23:59:59", "complete", "auto_completed", "SB00006", parent=sb6)

    # Accepted events that are not scans: parent scans and an undo.
    add_event(alice, "2026-03-10 10:15:20", "parent_scan", "parent_opened", "SB00007", parent=sb7)
    add_event(alice, "2026-03-10 10:15:19", "parent_scan", "parent_opened", "SB00008", parent=sb8)
    add_event(alice, "2026-03-10 10:10:00", "undo", "unlinked", "C0002", parent=sb1)

    # Refusals; under_capacity is the station's "finish short?" question, not an error.
    refuse(alice, "2026-03-10 09:00:00", "child_scan", "parent_full", "C0099",
           "SB00002 is full (2 / 2). Put C0099 aside and scan a new parent.", parent=sb2)
    refuse(alice, "2026-03-10 10:29:00", "complete", "under_capacity", "SB00002",
           "SB00002 has 1 of 2 bags. Confirm to finish it short.", parent=sb2)
    refuse(bob, "2026-03-10 10:35:20", "child_scan", "child_in_other_parent", "C0004",
           "C0004 is already in SB00002. Put it aside and tell a supervisor.", parent=sb5)
    refuse(carol, "2026-03-10 10:44:00", "parent_scan", "invalid_code", "X!",
           "X! is not a parent code. Scan the parent's label.")
    refuse(dave, "2026-03-09 22:00:00", "child_scan", "parent_complete", "C0007",
           "SB00006 is complete. Put C0007 aside and scan a new parent.", parent=sb6)
    db.session.commit()
    return {"alice": alice, "bob": bob, "carol": carol, "dave": dave}


def hourly_expected() -> list[dict]:
    counts = {0: 1, 12: 1, 13: 1, 16: 1, 19: 1, 22: 3, 23: 2}
    first = datetime(2026, 3, 9, 11, 0, tzinfo=KOLKATA)
    return [{"hour": (first + timedelta(hours=i)).isoformat(), "scans": counts.get(i, 0)}
            for i in range(24)]


EXPECTED = {
    "parents": {"open": 6, "complete": 3},
    "children": {"linked": 8, "unlinked": 2},
    "scans": {"today": 8, "last_hour": 4},
    "hourly": hourly_expected(),
    "people": [
        {"username": "alice", "name": "alice", "scans": 5, "parents_completed": 1,
         "errors": 1},
        {"username": "bob", "name": "bob", "scans": 3, "parents_completed": 1,
         "errors": 1},
        {"username": "carol", "name": "carol", "scans": 0, "parents_completed": 0,
         "errors": 1},
    ],
    "stale_parents": [
        {"code": "SB00003", "kind": "parent", "status": "open", "capacity": 30,
         "child_count": 1, "last_scan_at": "2026-03-10T03:30:00+05:30"},
        {"code": "SB00004", "kind": "parent", "status": "open", "capacity": 30,
         "child_count": 0, "last_scan_at": None},
        {"code": "SB00008", "kind": "parent", "status": "open", "capacity": 30,
         "child_count": 0, "last_scan_at": "2026-03-10T10:15:19+05:30"},
    ],
    "exceptions": [
        {"at": "2026-03-10T10:44:00+05:30", "username": "carol", "name": "carol",
         "code": "X!",
         "reason": "X! is not a parent code. Scan the parent's label."},
        {"at": "2026-03-10T10:35:20+05:30", "username": "bob", "name": "bob",
         "code": "C0004",
         "reason": "C0004 is already in SB00002. Put it aside and tell a supervisor."},
        {"at": "2026-03-10T09:00:00+05:30", "username": "alice", "name": "alice",
         "code": "C0099",
         "reason": "SB00002 is full (2 / 2). Put C0099 aside and scan a new parent."},
        {"at": "2026-03-09T22:00:00+05:30", "username": "dave", "name": "dave",
         "code": "C0007",
         "reason": "SB00006 is complete. Put C0007 aside and scan a new parent."},
    ],
    "imports": [],
    "dispatches": {"loading": 0, "dispatched_today": 0, "parents_out_today": 0,
                   "bags_out_today": 0, "stale_hours": 8, "stale": []},
    "generated_at": "2026-03-10T10:45:20+05:30",
    "timezone": "Asia/Kolkata",  # the site's (issue 21)
}


# --- every figure, exactly ---------------------------------------------------------------

def test_stats_api_gives_every_figure_exactly(client, login_as, dataset, frozen):
    login_as(dataset["carol"])
    response = client.get("/api/v1/dashboard/stats")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    for key, expected in EXPECTED.items():  # one key at a time: a failure names its figure
        assert body[key] == expected, key
    assert body == EXPECTED
    assert response.headers["Cache-Control"] == "no-store"


@pg_only
def test_every_figure_exactly_before_postgresql_14(client, login_as, dataset, frozen, monkeypatch):
    """Without date_bin() (PostgreSQL 13 and older) the hour buckets come from epoch seconds."""
    monkeypatch.setattr(db.engine.dialect, "server_version_info", (13, 0))
    login_as(dataset["carol"])
    assert client.get("/api/v1/dashboard/stats").get_json() == EXPECTED


def test_zone_whose_midnight_is_off_the_hour_grid(app, make_user, monkeypatch):
    """Lord Howe Island moves its clocks by half an hour: on 2026-10-04 it goes from +10:30
    to +11:00 at 02:00, so its midnight is half an hour off today's hour grid, and "today"
    and the 24 hour buckets are counted separately."""
    lord_howe = ZoneInfo("Australia/Lord_Howe")
    app.config["APP_TIMEZONE"] = "Australia/Lord_Howe"
    now = datetime(2026, 10, 4, 12, 10, tzinfo=lord_howe)
    monkeypatch.setattr(services, "utcnow", lambda: now.astimezone(UTC))
    worker = make_user("lhw", "staff")
    for at in (datetime(2026, 10, 3, 23, 50, tzinfo=lord_howe),   # yesterday, 23:30 bucket
               datetime(2026, 10, 4, 0, 10, tzinfo=lord_howe),    # today, same bucket
               datetime(2026, 10, 4, 12, 5, tzinfo=lord_howe)):   # today, the last bucket
        db.session.add(ScanEvent(user_id=worker.id, created_at=at, action="child_scan",
                                 outcome="accepted", result="linked", code="C1234"))
    db.session.commit()
    stats = services.dashboard_stats()
    assert stats["scans"]["today"] == 2
    assert stats["people"] == [{"username": "lhw", "name": "lhw", "scans": 2, "parents_completed": 0,
                                "errors": 0}]
    counted = {bucket["hour"]: bucket["scans"] for bucket in stats["hourly"] if bucket["scans"]}
    assert counted == {"2026-10-03T23:30:00+10:30": 2, "2026-10-04T12:00:00+11:00": 1}
    assert stats["hourly"][0]["hour"] == "2026-10-03T12:30:00+10:30"


def test_a_25_hour_day_counts_its_first_hour_today_but_not_in_the_last_24(
        app, make_user, monkeypatch):
    """Europe/Berlin turns its clocks back on 2026-10-25: at 23:30 that day, midnight was
    24.5 hours ago, before the first of the 24 hour buckets."""
    berlin = ZoneInfo("Europe/Berlin")
    app.config["APP_TIMEZONE"] = "Europe/Berlin"
    monkeypatch.setattr(services, "utcnow",
                        lambda: datetime(2026, 10, 25, 23, 30, tzinfo=berlin).astimezone(UTC))
    worker = make_user("night", "staff")
    for at in (datetime(2026, 10, 25, 0, 30, tzinfo=berlin),     # today, 24.5 h ago
               datetime(2026, 10, 25, 23, 10, tzinfo=berlin)):   # today, the last bucket
        db.session.add(ScanEvent(user_id=worker.id, created_at=at, action="child_scan",
                                 outcome="accepted", result="linked", code="C1234"))
    db.session.commit()
    stats = services.dashboard_stats()
    assert stats["scans"]["today"] == 2
    assert sum(bucket["scans"] for bucket in stats["hourly"]) == 1
    assert stats["hourly"][0]["hour"] == "2026-10-25T01:00:00+02:00"
    assert stats["hourly"][-1] == {"hour": "2026-10-25T23:00:00+01:00", "scans": 1}


def test_hour_buckets_start_on_local_hours_at_half_past_utc(app, frozen):
    win = services.current_windows()
    assert len(win.buckets) == 24
    assert all(start.minute == 30 and start.second == 0 for start in win.buckets)
    assert win.buckets[-1] == datetime(2026, 3, 10, 4, 30, tzinfo=UTC)  # 10:00 in Kolkata
    assert win.window_end == datetime(2026, 3, 10, 5, 30, tzinfo=UTC)
    assert win.day_start == datetime(2026, 3, 9, 18, 30, tzinfo=UTC)
    assert win.day_end == datetime(2026, 3, 10, 18, 30, tzinfo=UTC)


def test_hour_buckets_across_a_daylight_saving_change():
    """Europe/Berlin skips 02:00-03:00 on 2026-03-29: 24 real hours, labelled in local time."""
    berlin = ZoneInfo("Europe/Berlin")
    now = datetime(2026, 3, 29, 12, 10, tzinfo=berlin)
    win = services.windows(now, berlin, 30)
    labels = [start.astimezone(berlin).strftime("%d %H:%M%z") for start in win.buckets]
    assert labels[0] == "28 12:00+0100" and labels[-1] == "29 12:00+0200"
    assert "29 01:00+0100" in labels and "29 03:00+0200" in labels
    assert not any(label.startswith("29 02:") for label in labels)
    assert all(b - a == timedelta(hours=1) for a, b in zip(win.buckets, win.buckets[1:], strict=False))
    assert win.day_start == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert win.day_end - win.day_start == timedelta(hours=23)  # the short day


def test_a_new_scan_shows_at_once_on_every_worker(make_app, dataset, frozen):
    """No per-worker cache: two app instances (two workers) answer the same figures, and a
    scan written through one shows in both on their next request."""
    other = make_app(APP_TIMEZONE="Asia/Kolkata", STALE_PARENT_MINUTES=30)
    bob_id = dataset["bob"].id
    first = services.dashboard_stats()
    db.session.rollback()  # on SQLite this request's transaction holds the write lock
    with other.app_context():
        assert services.dashboard_stats() == first
        db.session.add(ScanEvent(user_id=bob_id, created_at=NOW, action="child_scan",
                                 outcome="accepted", result="linked", code="C0100"))
        db.session.commit()
        after_other = services.dashboard_stats()
    after = services.dashboard_stats()
    assert after == after_other
    assert after["scans"] == {"today": 9, "last_hour": 5}
    assert after["hourly"][-1]["scans"] == 3
    assert after["people"][1] == {"username": "bob", "name": "bob", "scans": 4, "parents_completed": 1,
                                  "errors": 1}


def test_empty_database_gives_zeros_and_24_empty_hours(client, login_as, supervisor, frozen):
    login_as(supervisor)
    body = client.get("/api/v1/dashboard/stats").get_json()
    assert body["parents"] == {"open": 0, "complete": 0}
    assert body["children"] == {"linked": 0, "unlinked": 0}
    assert body["scans"] == {"today": 0, "last_hour": 0}
    assert [bucket["scans"] for bucket in body["hourly"]] == [0] * 24
    assert body["people"] == body["stale_parents"] == body["exceptions"] == []


def test_recent_activity_lists_the_latest_events_newest_first(client, login_as, dataset, frozen):
    login_as(dataset["carol"])
    body = client.get("/api/v1/dashboard/activity").get_json()
    items = body["items"]
    assert len(items) == services.ACTIVITY_LIMIT
    assert [item["at"] for item in items] == sorted((item["at"] for item in items), reverse=True)
    assert items[0] == {
        "at": "2026-03-10T10:44:00+05:30", "username": "carol", "name": "carol", "action": "parent_scan",
        "outcome": "rejected", "result": "invalid_code", "code": "X!", "parent": None,
        "reason": "X! is not a parent code. Scan the parent's label.",
        "summary": "refused X!: invalid code"}
    summaries = {item["summary"] for item in items}
    assert "put C0009 into SB00001" in summaries
    assert "finished SB00002 (finished short)" in summaries
    assert "took C0002 out of SB00001" in summaries
    assert "opened parent SB00007" in summaries
    assert body["generated_at"] == "2026-03-10T10:45:20+05:30"


def test_dashboard_page_shows_the_figures_and_links_exceptions_to_the_bag(
        client, login_as, dataset, frozen):
    login_as(dataset["carol"])
    response = client.get("/dashboard")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for key, value in (("parents-open", 6), ("parents-complete", 3), ("children-linked", 8),
                       ("children-unlinked", 2), ("scans-today", 8), ("scans-last-hour", 4)):
        assert f'data-testid="count-{key}">{value}</div>' in html
    assert 'href="/bags/C0004"' in html and 'href="/bags/X!"' in html
    assert 'href="/bags/SB00003"' in html
    # One format in APP_TIMEZONE; the exact time with seconds on hover (title).
    assert "10 Mar 2026, 10:15:19 (IST)" in html and ">9 Mar 2026, 22:00</time>" in html
    assert "vendor/chart.js-4.6.1/chart.umd.min.js" in html
    assert 'id="hourly-chart"' in html and "style=" not in html
    assert "<script>" not in html


# --- roles -------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/v1/dashboard/stats", "/api/v1/dashboard/activity"])
def test_api_refuses_anonymous_with_401_and_staff_with_403(client, login_as, staff, path):
    response = client.get(path)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    login_as(staff)
    response = client.get(path)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"


def test_page_sends_anonymous_to_login_and_refuses_staff(client, login_as, staff):
    response = client.get("/dashboard")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    login_as(staff)
    assert client.get("/dashboard").status_code == 403


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_supervisor_and_admin_may_see_it(client, login_as, make_user, role):
    login_as(make_user(f"boss-{role}", role))
    assert client.get("/dashboard").status_code == 200
    assert client.get("/api/v1/dashboard/stats").status_code == 200
    assert client.get("/api/v1/dashboard/activity").status_code == 200


# --- configuration -----------------------------------------------------------------------

@pytest.mark.parametrize("value", ["Mars/Olympus", "Asia", "asia/kolkata", "../etc/passwd",
                                   "+05:30"])
def test_unknown_time_zone_is_refused_at_start_up(monkeypatch, value):
    monkeypatch.setenv("APP_TIMEZONE", value)
    with pytest.raises(ConfigError) as caught:
        create_app("testing")
    message = str(caught.value)
    assert "APP_TIMEZONE" in message and "Asia/Kolkata" in message and repr(value) in message


def test_time_zone_and_stale_minutes_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("APP_TIMEZONE", "Asia/Kolkata")
    monkeypatch.setenv("STALE_PARENT_MINUTES", "45")
    application = create_app("testing")
    assert application.config["APP_TIMEZONE"] == "Asia/Kolkata"
    assert application.config["STALE_PARENT_MINUTES"] == 45
    monkeypatch.delenv("APP_TIMEZONE")
    monkeypatch.delenv("STALE_PARENT_MINUTES")
    assert create_app("testing").config["APP_TIMEZONE"] == "UTC"
    monkeypatch.setenv("STALE_PARENT_MINUTES", "0")
    with pytest.raises(ConfigError, match="STALE_PARENT_MINUTES"):
        create_app("testing")


def test_stale_limit_follows_the_setting(make_app, dataset, frozen):
    longer = make_app(APP_TIMEZONE="Asia/Kolkata", STALE_PARENT_MINUTES=120)
    db.session.commit()
    with longer.app_context():
        codes = [parent["code"] for parent in services.dashboard_stats()["stale_parents"]]
    assert codes == ["SB00003", "SB00004"]  # SB00008, touched 30 minutes ago, is not


# --- the station: my scans today ---------------------------------------------------------

def test_station_shows_the_workers_own_scans_today(client, login_as, dataset, frozen):
    login_as(dataset["alice"])
    html = client.get("/scan").get_data(as_text=True)
    assert 'data-testid="my-scans-today">5</strong>' in html
    client.post("/logout")
    login_as(dataset["dave"])  # scanned only yesterday and before
    html = client.get("/scan").get_data(as_text=True)
    assert 'data-testid="my-scans-today">0</strong>' in html


# --- the queries use the dashboard's indexes ---------------------------------------------

def test_every_query_can_use_the_dashboards_indexes(app, dataset, frozen):
    """The partial indexes apply only when a query repeats their predicate literally: ask the
    database's planner (with sequential scans discouraged on PostgreSQL, whose planner would
    rightly read these tiny tables whole)."""
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        with using_site(default_site_id()):  # the site leads the indexes (issue 21)
            services.dashboard_stats()
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    statements = [(s, p) for s, p in statements if s.lstrip().upper().startswith("SELECT")]
    plans = []
    connection = db.engine.raw_connection()
    try:
        cursor = connection.cursor()
        if ON_POSTGRES:
            cursor.execute("SET enable_seqscan = off")
        for statement, parameters in statements:
            cursor.execute(("EXPLAIN " if ON_POSTGRES else "EXPLAIN QUERY PLAN ") + statement,
                           parameters)
            plans.append(" ".join(str(row) for row in cursor.fetchall()))
        connection.rollback()
    finally:
        connection.close()
    text = "\n".join(plans)
    slots_key = "pk_scan_counts" if ON_POSTGRES else "sqlite_autoindex_scan_counts_1"
    # The loose children's count reads one site's part of a site-first index: on these tiny
    # tables PostgreSQL's planner may take any of them (status is then a filter).
    assert "ix_bags_site_status_created_at_id" in text or (
        ON_POSTGRES and "ix_bags_site_created_by_created_at_id" in text), text
    for index in ("ix_bags_site_parent_status_child_count",
                  slots_key, "ix_scan_events_site_linked_made_at",
                  "ix_scan_events_site_refused_created_at",
                  "ix_scan_events_parent_id_created_at"):
        assert index in text, f"{index} not used:\n{text}"


# --- scan_counts: the trigger and the migration keep them equal to the events -------------

COUNTED_EVENTS = [  # (minutes after 2026-03-10 04:00 UTC, action, outcome, result)
    (0, "child_scan", "accepted", "linked"),
    (14.99999, "child_scan", "accepted", "linked"),   # the last moment of the first slot
    (15, "child_scan", "accepted", "linked"),         # the next slot
    (16, "complete", "accepted", "completed"),
    (17, "complete", "accepted", "auto_completed"),
    (18, "child_scan", "rejected", "child_in_other_parent"),
    (19, "parent_scan", "rejected", "invalid_code"),
    (20, "complete", "rejected", "under_capacity"),    # not counted
    (21, "parent_scan", "accepted", "parent_created"),  # not counted
    (22, "undo", "accepted", "unlinked"),                # not counted
    (59, "child_scan", "accepted", "linked"),
]


def slot_kind(action: str, outcome: str, result: str) -> str | None:
    if (action, outcome, result) == ("child_scan", "accepted", "linked"):
        return "linked"
    if (action, outcome) == ("complete", "accepted"):
        return "completed"
    if outcome == "rejected" and result != "under_capacity":
        return "refused"
    return None


def add_counted_events(user_ids: list[int]) -> None:
    start = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)
    for user_id in user_ids:
        for minutes, action, outcome, result in COUNTED_EVENTS:
            insert_event_at_an_old_revision(user_id, action, outcome, result,
                                            start + timedelta(minutes=minutes))
    db.session.commit()


def counts_from_events() -> dict:
    """What scan_counts must hold, worked out here in Python from the events."""
    expected: dict = {}
    for event_row in db.session.scalars(select(ScanEvent)):
        kind = slot_kind(event_row.action, event_row.outcome, event_row.result)
        if kind is None:
            continue
        at = event_row.created_at
        slot = at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)
        key = (slot, kind, event_row.user_id)
        expected[key] = expected.get(key, 0) + 1
    return expected


def stored_counts() -> dict:
    return {(row.slot_start, row.kind, row.user_id): row.count
            for row in db.session.scalars(select(ScanCount))}


def test_trigger_counts_every_event_in_its_slot(app, make_user):
    users = [make_user("one", "staff").id, make_user("two", "staff").id]
    add_counted_events(users)
    expected = counts_from_events()
    assert stored_counts() == expected
    slot = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)
    assert expected[(slot, "linked", users[0])] == 2
    assert expected[(slot + timedelta(minutes=15), "linked", users[0])] == 1
    assert expected[(slot + timedelta(minutes=15), "completed", users[0])] == 2
    assert expected[(slot + timedelta(minutes=15), "refused", users[0])] == 2
    assert expected[(slot + timedelta(minutes=45), "linked", users[1])] == 1
    assert len(expected) == 10


def test_scans_through_the_api_keep_the_counts_equal_to_the_events(client, login_as, staff):
    login_as(staff)
    assert client.post("/api/v1/scans/parent", json={"code": "SB00001"}).status_code == 201
    for number in range(1, 4):
        client.post("/api/v1/scans/child", json={"parent": "SB00001", "code": f"C000{number}"})
    client.post("/api/v1/scans/child", json={"parent": "SB00001", "code": "C0001"})  # already in
    client.post("/api/v1/scans/child", json={"parent": "SB00001", "code": "bad code"})  # refused
    client.post("/api/v1/parents/SB00001/complete", json={})  # under_capacity: not counted
    client.post("/api/v1/parents/SB00001/complete", json={"force": True})
    kinds: dict = {}
    for (_slot, kind, _user), count in stored_counts().items():
        kinds[kind] = kinds.get(kind, 0) + count
    assert kinds == {"linked": 3, "refused": 1, "completed": 1}
    assert stored_counts() == counts_from_events()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pg_only)])
def test_the_migration_counts_the_events_already_stored(tmp_path, request, backend):
    from flask_migrate import upgrade

    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'counts.db'}"
    else:
        url = request.getfixturevalue("empty_postgres_url")
    application = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    with application.app_context():
        try:
            upgrade(revision="0005_imports")
            users = [insert_user_at_an_old_revision(name) for name in ("before", "after")]
            db.session.commit()
            add_counted_events(users[:1])  # stored before scan_counts exists
            upgrade()
            add_counted_events(users[1:])  # counted by the trigger
            assert stored_counts() == counts_from_events()
            assert {user for _slot, _kind, user in stored_counts()} == set(users)
        finally:
            db.session.remove()
            db.engine.dispose()


@pg_only
def test_concurrent_scans_of_one_user_in_one_slot_all_count(make_app, make_user):
    """Eight threads, each in its own session and transaction, add to the same slot row."""
    import threading

    worker_id = make_user("busy", "staff").id
    db.session.commit()
    application = make_app()
    at = datetime(2026, 3, 10, 4, 5, tzinfo=UTC)
    barrier = threading.Barrier(8)
    errors = []

    def scan_many():
        try:
            with application.app_context():
                barrier.wait(timeout=10)
                for _ in range(25):
                    db.session.add(ScanEvent(user_id=worker_id, action="child_scan",
                                             outcome="accepted", result="linked",
                                             code="C0001", created_at=at))
                    db.session.commit()
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=scan_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    db.session.rollback()
    assert stored_counts() == {(datetime(2026, 3, 10, 4, 0, tzinfo=UTC), "linked", worker_id): 200}


@pytest.mark.parametrize("zone", ["Asia/Kathmandu", "Pacific/Chatham", "Australia/Lord_Howe",
                                  "America/St_Johns", "Asia/Kolkata", "UTC"])
def test_days_and_hours_start_on_slot_boundaries_in_every_zone(zone):
    """scan_counts' 15-minute slots can be summed into any zone's days and hours."""
    tz = ZoneInfo(zone)
    for now in (datetime(2026, 1, 15, 9, 7, 31, tzinfo=UTC), datetime(2026, 7, 15, 21, 52, tzinfo=UTC),
                datetime(2026, 10, 4, 1, 10, tzinfo=UTC)):
        win = services.windows(now, tz, 30)
        for moment in (win.day_start, win.day_end, *win.buckets):
            assert moment.minute % 15 == 0 and moment.second == moment.microsecond == 0, moment
