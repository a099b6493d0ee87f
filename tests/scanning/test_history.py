"""What a scan leaves behind and what its answer says, through the JSON API: a scan_id belongs
to one user's one scan (issue 26); history keeps a deleted parent, codes typed in other
scripts' digits are one code, a replay and an undo tell the present (issue 27); staff cannot
undo a supervisor's correction (issue 16)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from app.extensions import db
from tests.helpers import PASSWORD, pg_only
from tests.scanning.support import child_scan, fill, ok, parent_scan, undo
from tests.helpers import check_invariants


def station(app, user):
    client = app.test_client()
    response = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return client


@pytest.fixture
def stella(app, staff):
    return station(app, staff)


@pytest.fixture
def steve(app, make_user):
    return station(app, make_user("steve", "staff"))


@pytest.fixture
def boss(app, supervisor):
    return station(app, supervisor)


def rows(sql: str, **params) -> list[tuple]:
    result = [tuple(row) for row in db.session.execute(text(sql), params)]
    db.session.rollback()
    return result


def bags() -> list[tuple]:
    return rows("SELECT b.code, b.status, b.child_count, p.code FROM bags b"
                " LEFT JOIN bags p ON p.id = b.parent_id ORDER BY b.code")


def refused(response, status: int, code: str) -> dict:
    body = response.get_json()
    assert response.status_code == status, (response.status_code, body)
    assert body["error"]["code"] == code, body
    return body["error"]


# --- issue 26: a scan_id belongs to one scan -------------------------------------------------

def test_two_users_with_the_same_scan_id_are_both_stored(stella, steve):
    ok(parent_scan(stella, "SB00001"), 201, "parent_created")
    ok(parent_scan(steve, "SB00002"), 201, "parent_created")

    ok(child_scan(stella, "SB00001", "0000001", scan_id="client-7-scan-1"), 201, "linked")
    body = ok(child_scan(steve, "SB00002", "0000002", scan_id="client-7-scan-1"), 201, "linked")

    assert body["child"]["code"] == "0000002" and body["child"]["parent"] == "SB00002"
    assert ("0000001", "linked", None, "SB00001") in bags()
    assert ("0000002", "linked", None, "SB00002") in bags()


@pytest.mark.parametrize(("parent", "code"), [("SB00001", "0000009"), ("SB00002", "0000001"),
                                              ("SB00002", "0000009")])
def test_one_users_scan_id_reused_for_another_scan_is_refused(stella, parent, code):
    ok(parent_scan(stella, "SB00001"), 201, "parent_created")
    ok(parent_scan(stella, "SB00002"), 201, "parent_created")
    ok(child_scan(stella, "SB00001", "0000001", scan_id="handheld-1"), 201, "linked")
    before = bags()

    error = refused(child_scan(stella, parent, code, scan_id="handheld-1"), 409,
                    "scan_id_reused")

    assert "0000001" in error["message"] and "not saved" in error["message"]
    assert bags() == before
    assert rows("SELECT outcome, result FROM scan_events ORDER BY id DESC LIMIT 1") == [
        ("rejected", "scan_id_reused")]


def test_the_true_resend_is_still_replayed(stella):
    ok(parent_scan(stella, "SB00001"), 201, "parent_created")
    ok(child_scan(stella, "SB00001", "0000001", scan_id="handheld-1"), 201, "linked")
    before = bags()
    ok(child_scan(stella, "SB00001", "0000001", scan_id="handheld-1"), 200, "replayed")
    assert bags() == before


@pg_only
def test_two_users_racing_with_one_scan_id_are_both_stored(app, make_user):
    """50 rounds: two users' devices send the same scan_id at the same moment."""
    users = [make_user(f"racer{n}", "staff") for n in range(2)]
    clients = [station(app, user) for user in users]
    for n, client in enumerate(clients):
        ok(parent_scan(client, f"SB0010{n}"), 201, "parent_created")
    for round_number in range(50):
        barrier = threading.Barrier(2)
        answers = [None, None]

        def scan(n, round_number=round_number, barrier=barrier, answers=answers):
            with app.app_context():
                barrier.wait()
                code = f"R{round_number:03d}U{n}"
                # The parent fills at 30: each user uses a fresh parent every 25 rounds.
                parent = f"SB{n + 2 * (round_number // 25):03d}{n:02d}"
                if round_number % 25 == 0:
                    parent_scan(clients[n], parent)
                answers[n] = child_scan(clients[n], parent, code, scan_id=f"id-{round_number}")

        threads = [threading.Thread(target=scan, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [answer.status_code for answer in answers] == [201, 201], [
            answer.get_json() for answer in answers]
    assert rows("SELECT count(*) FROM bags WHERE kind = 'child'") == [(100,)]
    check_invariants()


# --- issue 27 --------------------------------------------------------------------------------

def test_deleting_a_parent_keeps_it_in_its_former_childrens_history(stella, boss):
    ok(parent_scan(stella, "SB00001"), 201, "parent_created")
    ok(child_scan(stella, "SB00001", "0000001"), 201, "linked")
    ok(undo(stella, code="0000001"), 200, "unlinked")
    deleted = boss.delete("/api/v1/bags/SB00001", json={"reason": "label printed twice"})
    assert deleted.status_code == 200, deleted.get_json()

    events = boss.get("/api/v1/bags/0000001").get_json()["events"]

    assert [(event["action"], event["result"], event["parent"]) for event in events] == [
        ("child_scan", "linked", "SB00001"), ("undo", "unlinked", "SB00001")]


@pytest.mark.parametrize("typed", ["SB१२३४५", "SB١٢٣٤٥", "sb۱۲۳۴۵", "ＳＢ１２３４５"])
def test_parent_codes_typed_with_other_scripts_digits_are_one_code(stella, typed):
    ok(parent_scan(stella, "SB12345"), 201, "parent_created")
    body = ok(parent_scan(stella, typed), 200, "parent_opened")
    assert body["parent"]["code"] == "SB12345"
    assert rows("SELECT code FROM bags") == [("SB12345",)]


def test_child_codes_typed_with_other_scripts_digits_are_one_code(stella):
    ok(parent_scan(stella, "SB12345"), 201, "parent_created")
    ok(child_scan(stella, "SB12345", "0016586"), 201, "linked")
    ok(child_scan(stella, "SB12345", "००१६५८६"), 200, "already_linked")
    refused(child_scan(stella, "SB12345", "SB٠٠٠٠١"), 409, "code_is_parent")


def test_a_replay_answers_where_the_child_is_now(stella, boss):
    for parent in ("SB00001", "SB00002"):
        ok(parent_scan(stella, parent), 201, "parent_created")
    ok(child_scan(stella, "SB00001", "0000001", scan_id="st-1"), 201, "linked")
    moved = boss.post("/api/v1/bags/0000001/move", json={"parent": "SB00002",
                                                         "reason": "wrong sack"})
    assert moved.status_code == 200, moved.get_json()

    body = ok(child_scan(stella, "SB00001", "0000001", scan_id="st-1"), 200, "replayed")

    assert body["child"]["parent"] == "SB00002"
    assert body["child"]["status"] == "linked"
    assert body["parent"]["code"] == "SB00001" and body["parent"]["child_count"] == 0


def test_an_undo_naming_another_parent_is_refused_and_says_where_the_bag_is(stella):
    for parent in ("SB00001", "SB00002"):
        ok(parent_scan(stella, parent), 201, "parent_created")
    ok(child_scan(stella, "SB00002", "0000001"), 201, "linked")
    before = bags()

    error = refused(undo(stella, parent="SB00001", code="0000001"), 409,
                    "child_in_other_parent")

    assert error["other_parent"] == "SB00002" and "SB00002" in error["message"]
    assert bags() == before


def test_already_linked_and_replayed_are_recorded_but_not_counted_as_scans(stella, boss):
    ok(parent_scan(stella, "SB00001"), 201, "parent_created")
    ok(child_scan(stella, "SB00001", "0000001", scan_id="a"), 201, "linked")
    ok(child_scan(stella, "SB00001", "0000001"), 200, "already_linked")
    ok(child_scan(stella, "SB00001", "0000001", scan_id="a"), 200, "replayed")

    assert rows("SELECT result FROM scan_events WHERE code = '0000001' ORDER BY id") == [
        ("linked",), ("already_linked",), ("replayed",)]
    stats = boss.get("/api/v1/dashboard/stats").get_json()
    assert stats["scans"]["today"] == 1


def test_undo_last_is_the_last_scan_this_user_sent(stella, steve):
    ok(parent_scan(stella, "SB00001"), 201, "parent_created")
    fill(stella, "SB00001", ["0000001", "0000002"])
    fill(steve, "SB00001", ["0000003"])

    body = ok(undo(stella, parent="SB00001"), 200, "unlinked")

    assert body["child"]["code"] == "0000002"  # stella's last, not the parent's last
    assert ("0000003", "linked", None, "SB00001") in bags()


@pg_only
def test_an_undo_racing_a_delete_of_the_same_child_never_fails(app, staff, supervisor):
    """Issue 27: undo and delete of one child at the same moment, 20 times: the undo wins
    (200) or is refused with 409 not_linked, recorded; never a 500."""
    stella, boss = station(app, staff), station(app, supervisor)
    ok(parent_scan(stella, "SB00001"), 201, "parent_created")
    for n in range(20):
        code = f"D{n:06d}"
        ok(child_scan(stella, "SB00001", code), 201, "linked")
        barrier = threading.Barrier(2)
        answers = {}

        def run(name, send, barrier=barrier, answers=answers):
            with app.app_context():
                barrier.wait()
                answers[name] = send()

        threads = [
            threading.Thread(target=run, args=("undo", lambda code=code: undo(stella, code=code))),
            threading.Thread(target=run, args=("delete", lambda code=code: boss.delete(
                f"/api/v1/bags/{code}", json={"reason": "mis-scan"})))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        undone = answers["undo"]
        assert undone.status_code in (200, 409), undone.get_json()
        if undone.status_code == 409:
            assert undone.get_json()["error"]["code"] == "not_linked"
        assert answers["delete"].status_code == 200, answers["delete"].get_json()
    check_invariants()


# --- issue 16: a supervisor's correction is not undone by staff ------------------------------

def test_staff_cannot_undo_a_link_a_supervisor_corrected_since(stella, boss):
    for parent in ("SB00001", "SB00002"):
        ok(parent_scan(stella, parent), 201, "parent_created")
    ok(child_scan(stella, "SB00001", "0000001"), 201, "linked")
    for target in ("SB00002", "SB00001"):  # out and back, with a reason
        moved = boss.post("/api/v1/bags/0000001/move", json={"parent": target,
                                                             "reason": "recount"})
        assert moved.status_code == 200, moved.get_json()
    before = bags()

    error = refused(undo(stella, code="0000001"), 409, "corrected")
    assert "sam" in error["message"] and error["changed_by"] == "sam"
    refused(undo(stella, parent="SB00001"), 409, "nothing_to_undo")

    assert bags() == before
    ok(undo(boss, code="0000001"), 200, "unlinked")


# --- issue 27: which time counts --------------------------------------------------------------

def test_a_scan_counts_when_it_was_made_and_undo_last_is_the_last_sent(stella, boss):
    """A scan sent with a scanned_at 2 hours back (a queue drained late): the timeline and the
    parent's children go by when it was made, the arrival shows beside it, the dashboard
    counts it in its own hour; 'undo last' still takes the last scan sent."""
    now = datetime.now(UTC)
    made = now - timedelta(hours=2)
    ok(parent_scan(stella, "SB00001"), 201, "parent_created")
    ok(child_scan(stella, "SB00001", "0000001"), 201, "linked")
    ok(child_scan(stella, "SB00001", "0000002", scan_id="q-1", scanned_at=made.isoformat()),
       201, "linked")

    trace = boss.get("/api/v1/bags/SB00001").get_json()
    linked = [event for event in trace["events"] if event["result"] == "linked"]
    assert [event["code"] for event in linked] == ["0000002", "0000001"]
    assert linked[0]["received_at"] is not None and linked[1]["received_at"] is None
    assert datetime.fromisoformat(linked[0]["at"]) == made
    assert [child["code"] for child in trace["children"]] == ["0000001", "0000002"]

    stats = boss.get("/api/v1/dashboard/stats").get_json()
    by_hour = {datetime.fromisoformat(bucket["hour"]).astimezone(UTC): bucket["scans"]
               for bucket in stats["hourly"]}
    assert by_hour[made.replace(minute=0, second=0, microsecond=0)] == 1
    assert by_hour[now.replace(minute=0, second=0, microsecond=0)] == 1
    assert stats["scans"]["last_hour"] == 1

    body = ok(undo(stella, parent="SB00001"), 200, "unlinked")
    assert body["child"]["code"] == "0000002"  # sent last, though made first
