"""Issue 17, finding 3 and the time cases of finding 6: times from clients.

A scan's scanned_at is kept only inside the window (7 days back to 5 minutes ahead of the
server clock); outside it the scan is stored at the server's time, the client's value is
dropped and the answer says so. Every time parameter (created_from/created_to, the audit
dates, the cursors) is range-checked into a 4xx; a stored time never makes a page fail."""

from __future__ import annotations

from itsdangerous import URLSafeSerializer
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from app.extensions import db
from app.timeparse import TimeRejected, parse_client_scan_time, parse_time
from tests.helpers import events_for, fill_parent, pg_only

POISONED = ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"]


@pytest.mark.parametrize("scanned_at", POISONED)
def test_a_poisoned_scan_time_is_dropped_and_the_trace_still_reads(
        client, login_as, staff, scanned_at):
    fill_parent(staff, "SB00001")
    login_as(staff)
    response = client.post("/api/v1/scans/child", json={
        "parent": "SB00001", "code": "0000001", "scanned_at": scanned_at})
    assert response.status_code == 201
    body = response.get_json()
    assert body["result"] == "linked"
    assert body["scanned_at_ignored"] is True
    assert "server" in body["message"]
    [event] = events_for("0000001")
    assert event.client_scanned_at is None
    for path in ("/bags/SB00001", "/bags/0000001", "/api/v1/bags/SB00001",
                 "/api/v1/bags/0000001"):
        assert client.get(path).status_code == 200, path


@pytest.mark.parametrize("scanned_at", POISONED)
def test_a_poisoned_time_on_a_refused_scan_is_no_500(client, login_as, staff, scanned_at):
    login_as(staff)
    response = client.post("/api/v1/scans/child", json={
        "parent": "SB09999", "code": "0000001", "scanned_at": scanned_at})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "parent_not_found"
    [event] = events_for("0000001")
    assert event.outcome == "rejected" and event.client_scanned_at is None


def test_a_time_inside_the_window_is_kept_and_not_flagged(client, login_as, staff):
    fill_parent(staff, "SB00001")
    login_as(staff)
    when = (datetime.now(UTC) - timedelta(days=6)).replace(microsecond=0)
    response = client.post("/api/v1/scans/child", json={
        "parent": "SB00001", "code": "0000001", "scanned_at": when.isoformat()})
    assert response.status_code == 201
    assert "scanned_at_ignored" not in response.get_json()
    assert events_for("0000001")[0].client_scanned_at == when


def test_the_window_edges():
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    inside = [now - timedelta(days=7), now + timedelta(minutes=5), now]
    outside = [now - timedelta(days=7, seconds=1), now + timedelta(minutes=5, seconds=1)]
    for when in inside:
        assert parse_client_scan_time(when.isoformat(), now) == (when, False)
    for when in outside:
        assert parse_client_scan_time(when.isoformat(), now) == (None, True)
    assert parse_client_scan_time(None, now) == (None, False)
    with pytest.raises(TimeRejected):
        parse_client_scan_time("yesterday", now)
    with pytest.raises(TimeRejected):
        parse_client_scan_time("2026-11-28T12:00:00", now)  # no offset: which clock?


def test_a_time_that_is_not_a_time_is_still_refused(client, login_as, staff):
    fill_parent(staff, "SB00001")
    login_as(staff)
    response = client.post("/api/v1/scans/child", json={
        "parent": "SB00001", "code": "0000001", "scanned_at": "last tuesday"})
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "invalid_scanned_at"


@pg_only
def test_a_time_stored_before_the_fix_never_makes_a_page_fail(client, login_as, staff):
    """Rows written before the range check may hold year 10000 or 1 BC: they read as
    unknown."""
    fill_parent(staff, "SB00001", ["0000001", "0000002"])
    for code, stamp in (("0000001", "10000-01-01 23:58:59+00"),
                        ("0000002", "0001-12-31 00:01:00+00 BC")):
        # What the unchecked insert wrote (scan events are append-only: a new row).
        db.session.execute(text(
            "INSERT INTO scan_events (created_at, user_id, action, outcome, result, code, "
            "bag_id, parent_id, client_scanned_at) SELECT created_at, user_id, action, "
            "outcome, result, code, bag_id, parent_id, CAST(:stamp AS TIMESTAMPTZ) "
            "FROM scan_events WHERE code = :code"), {"code": code, "stamp": stamp})
    db.session.commit()
    login_as(staff)
    for path in ("/bags/SB00001", "/bags/0000001", "/api/v1/bags/SB00001",
                 "/api/v1/bags/0000002"):
        assert client.get(path).status_code == 200, path
    events = client.get("/api/v1/bags/SB00001").get_json()["events"]
    assert len(events) == 5 and all(event["scanned_at"] is None for event in events)


# --- every time parameter --------------------------------------------------------------

BAD_TIMES = ["0001-01-01T00:00:00+23:59", "9999-12-31", "9999-12-31T23:59:59-23:59",
             "1066-10-14"]


@pytest.mark.parametrize("field", ["created_from", "created_to"])
@pytest.mark.parametrize("value", BAD_TIMES)
def test_list_time_filters_out_of_range_are_refused(client, login_as, supervisor, field,
                                                     value):
    login_as(supervisor)
    response = client.get("/api/v1/bags", query_string={field: value})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert (error["code"], error["field"]) == ("invalid_filter", field)
    assert "between 2000-01-01 and 2099-12-31" in error["message"]
    page = client.get("/bags", query_string={field: value})
    assert page.status_code == 422
    assert "between 2000-01-01 and 2099-12-31" in page.get_data(as_text=True)
    for export in ("/bags/export.csv", "/bags/export.xlsx"):
        answer = client.get(export, query_string={field: value})
        assert answer.status_code == 422, export


def test_a_forged_bag_cursor_with_a_wild_time_is_refused(app, client, login_as, staff):
    from itsdangerous import URLSafeSerializer

    login_as(staff)
    for stamp in POISONED:
        cursor = URLSafeSerializer(app.config["SECRET_KEY"], salt="bag-list-cursor").dumps(
            [stamp, 1])
        response = client.get("/api/v1/bags", query_string={"cursor": cursor})
        assert response.status_code == 422
        assert response.get_json()["error"]["code"] == "invalid_cursor"


@pytest.mark.parametrize("field", ["date_from", "date_to"])
def test_audit_dates_out_of_range_are_refused(client, login_as, admin, field):
    login_as(admin)
    response = client.get("/audit", query_string={field: "9999-12-31"})
    assert response.status_code == 422
    assert "between 2000-01-01 and 2099-12-31" in response.get_data(as_text=True)


@pytest.mark.parametrize("stamp", POISONED + ["9999-12-31T23:59:59+00:00"])
def test_an_audit_cursor_holding_a_wild_time_is_refused(app, client, login_as, admin, stamp):
    """Signed like every cursor (a forged one fails its signature); even one signed with the
    app's key that holds a wild time is refused, never a 500."""
    login_as(admin)
    cursor = URLSafeSerializer(app.config["SECRET_KEY"], salt="audit-cursor").dumps([stamp, 5])
    response = client.get("/audit", query_string={"cursor": cursor})
    assert response.status_code == 422
    assert "Start again from the first page" in response.get_data(as_text=True)


def test_parse_time_bounds_and_messages():
    assert parse_time("2026-11-28", "created_to", allow_date=True) == datetime(
        2026, 11, 28, tzinfo=UTC)
    assert parse_time("", "created_to") is None
    with pytest.raises(TimeRejected, match="created_to must lie between"):
        parse_time("2100-01-01T00:00:00+00:00", "created_to")
    with pytest.raises(TimeRejected, match="created_to must be"):
        parse_time("2026-11-28", "created_to")  # a date where only a time is taken
