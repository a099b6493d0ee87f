"""The scanning semantics of DESIGN.md section 5, row by row, through the JSON API.

Every refusal must leave the database exactly as it was apart from one new scan_events row
(outcome 'rejected', result = the error code). The invariants of section 3 are checked by
SQL after each test (check_invariants, in tests/helpers.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import text

from app.extensions import db
from tests.helpers import check_invariants
from tests.scanning.support import (child_scan, complete, fill, ok, parent_scan, reopen,
                                    undo)

PARENT_PATTERN = r"^(SB\d{5}|M444-\d{5})$"
CHILD_PATTERN = r"^[A-Z0-9]{4,20}$"
NON_STRING_CODES = [16586, 16586.5, 0, True, False, None, ["0016586"], [], {"code": "0016586"}, {}]
NON_STRING_IDS = ["int", "float", "zero", "true", "false", "null", "list", "empty-list",
                  "object", "empty-object"]


# --- database snapshots ---------------------------------------------------------------------

@dataclass
class State:
    bags: list[tuple]
    events: list[tuple]

    @property
    def accepted(self) -> int:
        return sum(1 for event in self.events if event[2] == "accepted")


def state() -> State:
    bags = db.session.execute(text(
        "SELECT b.code, b.kind, b.status, b.capacity, b.child_count, p.code, b.linked_at,"
        " b.created_at FROM bags b LEFT JOIN bags p ON p.id = b.parent_id ORDER BY b.code"
    )).all()
    events = db.session.execute(text(
        "SELECT id, action, outcome, result, code, bag_id, parent_id, scan_id"
        " FROM scan_events ORDER BY id")).all()
    db.session.rollback()  # leave no transaction open between requests
    return State([tuple(row) for row in bags], [tuple(row) for row in events])


def bag_row(code: str) -> dict | None:
    row = db.session.execute(text(
        "SELECT b.code, b.kind, b.status, b.capacity, b.child_count, p.code AS parent"
        " FROM bags b LEFT JOIN bags p ON p.id = b.parent_id WHERE b.code = :code"),
        {"code": code}).mappings().first()
    db.session.rollback()
    return dict(row) if row else None


def events_for(code: str) -> list[tuple]:
    rows = db.session.execute(text(
        "SELECT e.action, e.outcome, e.result, p.code FROM scan_events e"
        " LEFT JOIN bags p ON p.id = e.parent_id WHERE e.code = :code ORDER BY e.id"),
        {"code": code}).all()
    db.session.rollback()
    return [tuple(row) for row in rows]


def assert_refused(before: State, response, status: int, code: str) -> dict:
    """The refusal answered `status` with error.code `code`, changed no bag, and added
    exactly one scan_events row: outcome 'rejected', result `code`."""
    body = response.get_json()
    assert response.status_code == status, (response.status_code, body)
    assert body is not None and "error" in body, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    after = state()
    assert after.bags == before.bags
    assert after.accepted == before.accepted
    assert after.events[: len(before.events)] == before.events
    new = after.events[len(before.events):]
    assert len(new) == 1, new
    assert new[0][2] == "rejected"
    assert new[0][3] == code
    check_invariants()
    db.session.rollback()
    return body["error"]


def assert_unchanged(before: State) -> None:
    after = state()
    assert after.bags == before.bags
    assert after.events == before.events


# --- fixtures -------------------------------------------------------------------------------

@pytest.fixture
def capacity():
    return 30


@pytest.fixture
def app(make_app, capacity):
    """This module's app: DEFAULT_PARENT_CAPACITY from the `capacity` fixture (tests that
    fill parents parametrize it to 3)."""
    application = make_app(DEFAULT_PARENT_CAPACITY=capacity)
    with application.app_context():
        yield application


@pytest.fixture(autouse=True)
def _invariants_hold_after_each_test(app):
    yield
    db.session.rollback()
    check_invariants()
    db.session.rollback()


@pytest.fixture
def station(app, login_as, staff):
    """A scanning station, logged in as staff member stella."""
    test_client = app.test_client()
    login_as(staff, test_client=test_client)
    return test_client


@pytest.fixture
def station2(app, login_as, make_user):
    """A second station, logged in as another staff member."""
    test_client = app.test_client()
    login_as(make_user("steve", "staff"), test_client=test_client)
    return test_client


@pytest.fixture
def boss(app, login_as, supervisor):
    test_client = app.test_client()
    login_as(supervisor, test_client=test_client)
    return test_client


# --- parent scans ---------------------------------------------------------------------------

def test_new_parent_is_created(station):
    body = ok(parent_scan(station, "SB00001"), 201, "parent_created")
    assert body["parent"] == {"code": "SB00001", "kind": "parent", "status": "open",
                              "capacity": 30, "child_count": 0, "children": []}
    assert bag_row("SB00001") == {"code": "SB00001", "kind": "parent", "status": "open",
                                  "capacity": 30, "child_count": 0, "parent": None}
    assert events_for("SB00001") == [("parent_scan", "accepted", "parent_created", "SB00001")]


def test_m444_parent_codes_are_parents_too(station):
    body = ok(parent_scan(station, "m444-00007"), 201, "parent_created")
    assert body["parent"]["code"] == "M444-00007"


def test_existing_open_parent_is_opened_with_its_children(station):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    fill(station, "SB00001", ["0016586", "0016587"])
    before = state()

    body = ok(parent_scan(station, "sb00001\r\n"), 200, "parent_opened")

    assert body["parent"]["status"] == "open"
    assert body["parent"]["child_count"] == 2
    assert sorted(body["parent"]["children"]) == ["0016586", "0016587"]
    after = state()
    assert after.bags == before.bags
    assert len(after.events) == len(before.events) + 1
    assert after.events[-1][1:4] == ("parent_scan", "accepted", "parent_opened")


def test_existing_complete_parent_is_opened_and_says_complete(station):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    ok(complete(station, "SB00001", force=True), 200, "completed")
    before = state()

    body = ok(parent_scan(station, "SB00001"), 200, "parent_opened")

    assert body["parent"]["status"] == "complete"
    assert state().bags == before.bags


def test_child_scanned_as_parent_is_refused(station):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    fill(station, "SB00001", ["0016586"])
    before = state()
    assert_refused(before, parent_scan(station, "0016586"), 409, "code_is_child")


def test_unlinked_child_scanned_as_parent_is_refused(station):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    fill(station, "SB00001", ["0016586"])
    ok(undo(station, code="0016586"), 200, "unlinked")
    before = state()
    assert_refused(before, parent_scan(station, "0016586"), 409, "code_is_child")


def test_unknown_code_that_is_not_a_parent_pattern_is_invalid(station):
    before = state()
    error = assert_refused(before, parent_scan(station, "XX12345"), 422, "invalid_code")
    # In words and examples, never the pattern (issue 18).
    assert "SB00001" in error["message"] and PARENT_PATTERN not in error["message"]
    assert "\\d" not in error["message"] and "pattern" not in error


# --- child scans ----------------------------------------------------------------------------

def test_new_child_is_linked(station):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    before = state()

    body = ok(child_scan(station, "SB00001", "0016586"), 201, "linked")

    assert body["parent"]["code"] == "SB00001"
    assert body["parent"]["child_count"] == 1
    assert body["parent"]["status"] == "open"
    assert body["child"]["code"] == "0016586"
    assert body["child"]["kind"] == "child"
    assert body["child"]["status"] == "linked"
    assert body["child"]["parent"] == "SB00001"
    assert bag_row("0016586") == {"code": "0016586", "kind": "child", "status": "linked",
                                  "capacity": None, "child_count": None, "parent": "SB00001"}
    assert bag_row("SB00001")["child_count"] == 1
    after = state()
    assert after.accepted == before.accepted + 1
    assert events_for("0016586") == [("child_scan", "accepted", "linked", "SB00001")]


def test_unlinked_child_is_linked_again(station):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    ok(parent_scan(station, "SB00002"), 201, "parent_created")
    fill(station, "SB00001", ["0016586"])
    ok(undo(station, code="0016586"), 200, "unlinked")

    body = ok(child_scan(station, "SB00002", "0016586"), 201, "linked")

    assert body["child"]["parent"] == "SB00002"
    assert bag_row("0016586")["parent"] == "SB00002"
    assert bag_row("SB00001")["child_count"] == 0
    assert bag_row("SB00002")["child_count"] == 1


def test_child_already_in_this_parent_changes_nothing(station):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    fill(station, "SB00001", ["0016586"])
    before = state()

    body = ok(child_scan(station, "SB00001", "0016586\r\n"), 200, "already_linked")

    assert body["parent"]["child_count"] == 1
    assert body["child"]["parent"] == "SB00001"
    after = state()
    assert after.bags == before.bags
    # Recorded, so a supervisor sees the same bag scanned again; not a link (issue 27).
    new = after.events[len(before.events):]
    assert [event[1:4] for event in new] == [("child_scan", "accepted", "already_linked")]


def test_same_scan_id_again_is_replayed_and_changes_nothing(station):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    first = ok(child_scan(station, "SB00001", "0016586", scan_id="st1:42"), 201, "linked")
    before = state()
    assert sum(1 for event in before.events if event[7] == "st1:42") == 1

    body = ok(child_scan(station, "SB00001", "0016586", scan_id="st1:42"), 200, "replayed")

    assert body["parent"]["child_count"] == first["parent"]["child_count"] == 1
    assert body["child"]["code"] == "0016586"
    after = state()
    assert after.bags == before.bags
    new = after.events[len(before.events):]
    assert [event[1:4] for event in new] == [("child_scan", "accepted", "replayed")]
    assert sum(1 for event in after.events if event[7] == "st1:42") == 1


@pytest.mark.parametrize("capacity", [1])
def test_replay_after_the_parent_auto_completed_is_still_replayed(station):
    # An offline station resends its last scan: the parent has completed meanwhile.
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    ok(child_scan(station, "SB00001", "0016586", scan_id="st1:1"), 201, "linked")
    assert bag_row("SB00001")["status"] == "complete"
    before = state()
    ok(child_scan(station, "SB00001", "0016586", scan_id="st1:1"), 200, "replayed")
    assert state().bags == before.bags


def test_child_in_another_parent_is_refused_and_names_it(station):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    ok(parent_scan(station, "SB00002"), 201, "parent_created")
    fill(station, "SB00001", ["0016586"])
    before = state()

    error = assert_refused(before, child_scan(station, "SB00002", "0016586"),
                           409, "child_in_other_parent")

    assert error["other_parent"] == "SB00001"
    assert "SB00001" in error["message"]


@pytest.mark.parametrize("capacity", [3])
def test_parent_full_when_reopened_at_capacity(station, boss):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    ok(parent_scan(station, "SB00002"), 201, "parent_created")
    fill(station, "SB00001", ["0000001", "0000002", "0000003"])
    assert bag_row("SB00001")["status"] == "complete"
    body = ok(reopen(boss, "SB00001"), 200, "reopened")
    assert body["parent"]["status"] == "open"
    assert body["parent"]["child_count"] == 3
    # an unlinked bag, to try an existing child as well as a new one
    fill(station, "SB00002", ["0000009"])
    ok(undo(station, code="0000009"), 200, "unlinked")

    before = state()
    error = assert_refused(before, child_scan(station, "SB00001", "0000004"), 409, "parent_full")
    assert error["parent"]["child_count"] == 3
    assert bag_row("0000004") is None

    before = state()
    assert_refused(before, child_scan(station, "SB00001", "0000009"), 409, "parent_full")
    assert bag_row("0000009")["status"] == "unlinked"


def test_complete_parent_takes_no_children(station):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    ok(parent_scan(station, "SB00002"), 201, "parent_created")
    fill(station, "SB00001", ["0016586"])
    ok(complete(station, "SB00001", force=True), 200, "completed")
    fill(station, "SB00002", ["0016599"])
    ok(undo(station, code="0016599"), 200, "unlinked")

    before = state()
    assert_refused(before, child_scan(station, "SB00001", "0016587"), 409, "parent_complete")
    assert bag_row("0016587") is None
    before = state()
    assert_refused(before, child_scan(station, "SB00001", "0016599"), 409, "parent_complete")


@pytest.mark.parametrize(("parent", "status", "code"), [
    ("SB09999", 404, "parent_not_found"), ("M444-00001", 404, "parent_not_found"),
    ("0016586", 409, "code_is_child"),      # a child is not a parent
    ("NOPARENT", 422, "invalid_code"),      # could never be a parent
])
def test_unknown_parent_is_refused_as_the_rule_book_says(station, parent, status, code):
    # The same answers as an import row naming that parent (tests/scanning/test_entry_points.py).
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    fill(station, "SB00001", ["0016586"])
    before = state()
    assert_refused(before, child_scan(station, parent, "0016587"), status, code)
    assert bag_row("0016587") is None


@pytest.mark.parametrize("code", ["SB00002", "sb00003", "M444-00001", "SB00001",
                                  "sb00001\r\n", "ＳＢ０００１０"])
def test_parent_code_scanned_as_child_is_refused(station, code):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    ok(parent_scan(station, "SB00010"), 201, "parent_created")
    before = state()
    assert_refused(before, child_scan(station, "SB00001", code), 409, "code_is_parent")


@pytest.mark.parametrize("code", ["AB1", "0016586-1", "ABC 123", "A" * 21, "ÄBCD"])
def test_child_code_failing_the_pattern_is_invalid(station, code):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    before = state()
    error = assert_refused(before, child_scan(station, "SB00001", code), 422, "invalid_code")
    assert CHILD_PATTERN not in error["message"] and "pattern" not in error


# NUL-only scans are what a scanner sends when it misreads; the refusal must still be
# recorded (PostgreSQL text cannot hold NUL, so the raw input cannot be stored as is).
BAD_RAW_CODES = ["", "   ", "\r\n", "\u200b\ufeff", "\x00", "\x00\x00\r\n", "\x1d\x00",
                 "A" * 10_240, "\x00" * 300]
BAD_RAW_IDS = ["empty", "spaces", "crlf", "zero-width", "nul", "nul-crlf", "gs-nul", "10kB",
               "300-nul"]


@pytest.mark.parametrize("code", BAD_RAW_CODES, ids=BAD_RAW_IDS)
def test_child_code_failing_normalisation_is_invalid(station, code):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    before = state()
    assert_refused(before, child_scan(station, "SB00001", code), 422, "invalid_code")


@pytest.mark.parametrize("code", BAD_RAW_CODES, ids=BAD_RAW_IDS)
def test_parent_code_failing_normalisation_is_invalid(station, code):
    before = state()
    assert_refused(before, parent_scan(station, code), 422, "invalid_code")


@pytest.mark.parametrize("json_code", [r"\udfff", r"AB\ud800CD"], ids=["lone-low", "lone-high"])
def test_code_with_a_lone_surrogate_is_invalid_not_a_server_error(station, json_code):
    # JSON may carry a lone "\udfff" escape: it decodes to text no database can store.
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    before = state()
    response = station.post("/api/v1/scans/child",
                            data='{"parent": "SB00001", "code": "' + json_code + '"}',
                            content_type="application/json")
    assert_refused(before, response, 422, "invalid_code")


@pytest.mark.parametrize("label", ["dock\x001", "\x00", "dock 1\r\n\x1d"])
def test_station_label_with_scanner_bytes_does_not_break_a_valid_scan(station, label):
    # "station" is optional metadata that the service cleans (_clean_station): a label
    # typed through the same scanner must not turn a good scan into a server error.
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    body = ok(child_scan(station, "SB00001", "0016586", station=label), 201, "linked")
    assert body["parent"]["child_count"] == 1
    assert bag_row("0016586")["parent"] == "SB00001"


@pytest.mark.parametrize("code", NON_STRING_CODES, ids=NON_STRING_IDS)
def test_non_string_child_code_is_invalid(station, code):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    before = state()
    assert_refused(before, child_scan(station, "SB00001", code), 422, "invalid_code")


@pytest.mark.parametrize("code", NON_STRING_CODES, ids=NON_STRING_IDS)
def test_non_string_parent_in_child_scan_is_invalid(station, code):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    before = state()
    assert_refused(before, child_scan(station, code, "0016586"), 422, "invalid_code")


@pytest.mark.parametrize("code", [*NON_STRING_CODES, 1000001], ids=[*NON_STRING_IDS, "int7"])
def test_non_string_parent_scan_is_invalid(station, code):
    before = state()
    assert_refused(before, parent_scan(station, code), 422, "invalid_code")


def test_missing_code_is_invalid(station):
    before = state()
    response = station.post("/api/v1/scans/parent", json={})
    assert_refused(before, response, 422, "invalid_code")


def test_doubled_read_is_invalid(station):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    before = state()
    assert_refused(before, child_scan(station, "SB00001", "00165860016586"), 422, "invalid_code")


# --- completion -----------------------------------------------------------------------------

@pytest.mark.parametrize("capacity", [3])
def test_parent_completes_itself_at_capacity(station):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    fill(station, "SB00001", ["0000001", "0000002"])
    assert bag_row("SB00001")["status"] == "open"
    assert not [e for e in events_for("SB00001") if e[0] == "complete"]

    body = ok(child_scan(station, "SB00001", "0000003"), 201, "linked")

    assert body["parent"]["status"] == "complete"
    assert body["parent"]["child_count"] == 3
    assert bag_row("SB00001")["status"] == "complete"
    assert bag_row("SB00001")["child_count"] == 3
    completes = [e for e in events_for("SB00001") if e[0] == "complete"]
    assert len(completes) == 1
    assert completes[0][1] == "accepted"

    before = state()
    assert_refused(before, child_scan(station, "SB00001", "0000004"), 409, "parent_complete")


def test_complete_under_capacity_needs_force(station):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    fill(station, "SB00001", ["0016586"])
    before = state()
    error = assert_refused(before, complete(station, "SB00001"), 409, "under_capacity")
    assert error["parent"]["status"] == "open"
    before = state()
    assert_refused(before, complete(station, "SB00001", force=False), 409, "under_capacity")

    body = ok(complete(station, "SB00001", force=True), 200, "completed")

    assert body["parent"]["status"] == "complete"
    assert body["parent"]["child_count"] == 1
    assert bag_row("SB00001")["status"] == "complete"
    assert [e[:3] for e in events_for("SB00001") if e[1] == "accepted"] == [
        ("parent_scan", "accepted", "parent_created"), ("complete", "accepted", "completed")]


def test_complete_twice_is_refused(station):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    ok(complete(station, "SB00001", force=True), 200, "completed")
    before = state()
    assert_refused(before, complete(station, "SB00001", force=True), 409, "parent_complete")


def test_complete_unknown_parent_is_not_found(station):
    before = state()
    assert_refused(before, complete(station, "SB09999", force=True), 404, "parent_not_found")


# --- reopening ------------------------------------------------------------------------------

def test_staff_cannot_reopen(station):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    ok(complete(station, "SB00001", force=True), 200, "completed")
    before = state()

    response = reopen(station, "SB00001")

    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    assert state().bags == before.bags
    assert state().accepted == before.accepted


def test_supervisor_reopens_and_children_can_be_scanned_again(station, boss):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    fill(station, "SB00001", ["0016586"])
    ok(complete(station, "SB00001", force=True), 200, "completed")

    body = ok(reopen(boss, "SB00001"), 200, "reopened")

    assert body["parent"]["status"] == "open"
    assert body["parent"]["child_count"] == 1
    assert bag_row("SB00001")["status"] == "open"
    assert ("reopen", "accepted", "reopened", "SB00001") in events_for("SB00001")
    body = ok(child_scan(station, "SB00001", "0016587"), 201, "linked")
    assert body["parent"]["child_count"] == 2


def test_reopening_an_open_parent_is_refused(boss, station):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    before = state()
    assert_refused(before, reopen(boss, "SB00001"), 409, "parent_open")


# --- undo -----------------------------------------------------------------------------------

def test_undo_by_parent_unlinks_the_last_scan(station):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    fill(station, "SB00001", ["0016586", "0016587"])
    before = state()

    body = ok(undo(station, parent="SB00001"), 200, "unlinked")

    assert body["parent"]["child_count"] == 1
    assert body["child"]["code"] == "0016587"
    assert body["child"]["parent"] is None
    assert bag_row("0016587") == {"code": "0016587", "kind": "child", "status": "unlinked",
                                  "capacity": None, "child_count": None, "parent": None}
    assert bag_row("0016586")["parent"] == "SB00001"
    assert bag_row("SB00001")["child_count"] == 1
    assert [e[:3] for e in events_for("0016587")] == [
        ("child_scan", "accepted", "linked"), ("undo", "accepted", "unlinked")]
    after = state()
    assert after.events[: len(before.events)] == before.events  # nothing deleted


def test_undo_by_code_unlinks_that_child(station):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    fill(station, "SB00001", ["0016586", "0016587"])

    body = ok(undo(station, code="0016586\r\n"), 200, "unlinked")

    assert body["parent"]["code"] == "SB00001"
    assert body["parent"]["child_count"] == 1
    assert body["child"]["code"] == "0016586"
    assert bag_row("0016586")["status"] == "unlinked"
    assert bag_row("0016586")["parent"] is None
    assert bag_row("0016587")["parent"] == "SB00001"
    assert [(e[0], e[2], e[3]) for e in events_for("0016586")] == [
        ("child_scan", "linked", "SB00001"), ("undo", "unlinked", "SB00001")]


def test_undo_with_nothing_to_undo_is_refused(station):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    before = state()
    assert_refused(before, undo(station, parent="SB00001"), 409, "nothing_to_undo")


def test_staff_cannot_undo_another_users_scan(station, station2, boss):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    fill(station2, "SB00001", ["0016586"])

    before = state()
    assert_refused(before, undo(station, code="0016586"), 403, "not_your_scan")
    before = state()
    # "Undo last" is the last scan this user sent: here there is none (issue 27).
    assert_refused(before, undo(station, parent="SB00001"), 409, "nothing_to_undo")

    body = ok(undo(boss, code="0016586"), 200, "unlinked")
    assert body["parent"]["child_count"] == 0


def test_staff_cannot_undo_in_a_complete_parent(station, boss):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    fill(station, "SB00001", ["0016586", "0016587"])
    ok(complete(station, "SB00001", force=True), 200, "completed")

    before = state()
    assert_refused(before, undo(station, code="0016586"), 409, "parent_complete")
    before = state()
    assert_refused(before, undo(station, parent="SB00001"), 409, "parent_complete")

    body = ok(undo(boss, code="0016587"), 200, "unlinked")
    assert body["parent"]["child_count"] == 1
    assert bag_row("0016587")["status"] == "unlinked"


# --- request shape and authentication -------------------------------------------------------

SCAN_PATHS = ["/api/v1/scans/parent", "/api/v1/scans/child", "/api/v1/scans/undo",
              "/api/v1/parents/SB00001/complete"]


@pytest.mark.parametrize("path", SCAN_PATHS)
@pytest.mark.parametrize("payload", ['["SB00001"]', '"SB00001"', "42", "null", "true",
                                     "{not json", '{"code": "SB00001"'])
def test_body_that_is_not_a_json_object_is_refused(station, path, payload):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    fill(station, "SB00001", ["0016586"])
    before = state()

    response = station.post(path, data=payload, content_type="application/json")

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"
    assert state().bags == before.bags
    assert state().accepted == before.accepted


def test_form_encoded_scan_is_refused_as_not_json(station):
    before = state()
    response = station.post("/api/v1/scans/parent", data={"code": "SB00001"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"
    assert state().bags == before.bags


def test_parent_field_that_is_an_object_is_an_invalid_code(station):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    before = state()
    response = child_scan(station, {"code": "SB00001"}, "0016586")
    assert_refused(before, response, 422, "invalid_code")


@pytest.mark.parametrize(("path", "body"), [
    ("/api/v1/scans/parent", {"code": "SB00001"}),
    ("/api/v1/scans/child", {"parent": "SB00001", "code": "0016586"}),
    ("/api/v1/scans/undo", {"parent": "SB00001"}),
    ("/api/v1/parents/SB00001/complete", {"force": True}),
    ("/api/v1/parents/SB00001/reopen", {}),
])
def test_anonymous_gets_401_json(app, path, body):
    before = state()
    response = app.test_client().post(path, json=body)
    assert response.status_code == 401
    assert response.is_json
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert_unchanged(before)


# --- the checker itself -------------------------------------------------------------------

def test_invariant_checker_catches_a_wrong_child_count(station):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    fill(station, "SB00001", ["0016586"])
    check_invariants()
    db.session.execute(text("UPDATE bags SET child_count = 2 WHERE code = 'SB00001'"))
    with pytest.raises(AssertionError, match="child_count"):
        check_invariants()
    db.session.rollback()
    check_invariants()
