"""Supervisor corrections (issue 4): unlink, move, complete, reopen, delete. Each asks for
a reason, writes a scan event and an audit event with before and after, keeps every bag
invariant, and is refused to staff (no buttons; the API answers 403)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import AuditEvent, Bag, ScanEvent
from tests.helpers import PASSWORD
from tests.helpers import audit_rows, bag, events_for, fill_parent
from tests.helpers import check_invariants


def post(client, path: str, **body):
    return client.post(f"/api/v1{path}", json=body)


def counts() -> tuple[int, int]:
    db.session.expire_all()
    return (db.session.scalar(select(func.count()).select_from(ScanEvent)),
            db.session.scalar(select(func.count()).select_from(AuditEvent)))


@pytest.fixture
def two_parents(staff):
    fill_parent(staff, "SB00001", ["0000101", "0000102"])
    fill_parent(staff, "SB00002", ["0000201"])


# --- unlink --------------------------------------------------------------------------------

def test_unlink_takes_a_child_out_with_a_scan_event_and_an_audit_row(
        client, login_as, supervisor, two_parents):
    login_as(supervisor)

    response = post(client, "/bags/0000101/unlink", reason="  label  was   wrong ")

    assert response.status_code == 200
    body = response.get_json()
    assert body["result"] == "unlinked"
    assert body["bag"] == {**body["bag"], "code": "0000101", "status": "unlinked",
                           "parent": None}
    assert body["previous_parent"]["code"] == "SB00001"
    assert body["previous_parent"]["child_count"] == 1
    assert bag("0000101").parent_id is None and bag("SB00001").child_count == 1
    event = events_for("0000101")[-1]
    assert (event.action, event.result, event.outcome, event.reason, event.user_id) == (
        "unlink", "unlinked", "accepted", "label was wrong", supervisor.id)
    assert event.parent_id == bag("SB00001").id
    [audit] = audit_rows("bag.unlink")
    assert (audit.actor_id, audit.target_type, audit.target) == (supervisor.id, "bag", "0000101")
    assert audit.before == {"code": "0000101", "kind": "child", "status": "linked",
                            "parent": "SB00001"}
    assert audit.after == {"code": "0000101", "kind": "child", "status": "unlinked",
                           "parent": None, "reason": "label was wrong"}
    check_invariants()


def test_unlink_shows_in_the_parents_timeline(client, login_as, supervisor, two_parents):
    login_as(supervisor)
    post(client, "/bags/0000101/unlink", reason="wrong sack")

    events = client.get("/api/v1/bags/SB00001").get_json()["events"]

    assert events[-1] | {"at": None} == {
        "at": None, "user": "sam", "action": "unlink", "result": "unlinked",
        "outcome": "accepted", "code": "0000101", "parent": "SB00001",
        "reason": "wrong sack", "station": None, "scanned_at": None, "received_at": None}


def test_unlink_of_a_loose_child_or_a_parent_is_refused(client, login_as, supervisor,
                                                        two_parents):
    login_as(supervisor)
    post(client, "/bags/0000101/unlink", reason="first time")
    before = counts()

    again = post(client, "/bags/0000101/unlink", reason="second time")
    parent = post(client, "/bags/SB00001/unlink", reason="not a child")
    unknown = post(client, "/bags/0999999/unlink", reason="nobody")

    assert (again.status_code, again.get_json()["error"]["code"]) == (409, "not_linked")
    assert (parent.status_code, parent.get_json()["error"]["code"]) == (409, "code_is_parent")
    assert (unknown.status_code, unknown.get_json()["error"]["code"]) == (404, "bag_not_found")
    assert counts() == before


# --- move ----------------------------------------------------------------------------------

def test_move_changes_parent_counts_and_writes_both_timelines(client, login_as, supervisor,
                                                              two_parents):
    login_as(supervisor)

    response = post(client, "/bags/0000101/move", parent="sb00002", reason="put in wrong sack")

    assert response.status_code == 200
    body = response.get_json()
    assert body["result"] == "moved"
    assert body["bag"]["parent"] == "SB00002"
    assert (body["previous_parent"]["code"], body["previous_parent"]["child_count"]) == (
        "SB00001", 1)
    assert (body["parent"]["code"], body["parent"]["child_count"]) == ("SB00002", 2)
    assert bag("0000101").parent_id == bag("SB00002").id
    old = client.get("/api/v1/bags/SB00001").get_json()
    new = client.get("/api/v1/bags/SB00002").get_json()
    assert (old["events"][-1]["result"], old["events"][-1]["reason"]) == (
        "moved_out", "to SB00002: put in wrong sack")
    assert (new["events"][-1]["result"], new["events"][-1]["reason"]) == (
        "moved_in", "from SB00001: put in wrong sack")
    assert [c["code"] for c in old["children"]] == ["0000102"]
    assert new["children"][0] | {"linked_at": None} == {
        "code": "0000101", "status": "linked", "linked_at": None, "linked_by": "sam",
        "how": "moved_in"}
    child = client.get("/api/v1/bags/0000101").get_json()
    assert [e["result"] for e in child["events"]] == ["linked", "moved_out", "moved_in"]
    [audit] = audit_rows("bag.move")
    assert audit.before["parent"] == "SB00001"
    assert audit.after == {"code": "0000101", "kind": "child", "status": "linked",
                           "parent": "SB00002", "reason": "put in wrong sack"}
    check_invariants()


def test_move_of_a_loose_child_links_it(client, login_as, supervisor, two_parents):
    login_as(supervisor)
    post(client, "/bags/0000101/unlink", reason="took it out")

    response = post(client, "/bags/0000101/move", parent="SB00002", reason="belongs here")

    assert response.status_code == 200
    assert response.get_json()["previous_parent"] is None
    assert bag("SB00002").child_count == 2
    assert events_for("0000101")[-1].reason == "from no parent: belongs here"
    check_invariants()


def test_move_respects_capacity_status_and_kinds(client, login_as, supervisor, make_app,
                                                 staff, two_parents):
    fill_parent(staff, "SB00003", [])
    db.session.execute(update(Bag).where(Bag.code == "SB00003").values(capacity=1))
    db.session.commit()
    fill_parent(staff, "SB00003", ["0000301"])  # now full, and complete by itself
    fill_parent(staff, "SB00004", [])
    login_as(supervisor)
    before = counts()

    cases = {
        ("0000101", "SB00003"): (409, "parent_complete"),
        ("0000101", "SB00001"): (409, "already_linked"),
        ("0000101", "SB09999"): (404, "parent_not_found"),
        ("0000101", "0000201"): (404, "parent_not_found"),
        ("SB00001", "SB00002"): (409, "code_is_parent"),
        ("0999999", "SB00002"): (404, "bag_not_found"),
    }
    for (code, target), expected in cases.items():
        response = post(client, f"/bags/{code}/move", parent=target, reason="testing")
        error = response.get_json()["error"]
        assert (response.status_code, error["code"]) == expected, (code, target)
        assert error["message"]

    assert counts() == before
    # Reopened but still full: the capacity refuses it.
    assert post(client, "/bags/SB00003/reopen", reason="recount").status_code == 200
    full = post(client, "/bags/0000101/move", parent="SB00003", reason="testing")
    assert (full.status_code, full.get_json()["error"]["code"]) == (409, "parent_full")
    assert bag("SB00003").child_count == 1 and bag("0000101").parent_id == bag("SB00001").id
    check_invariants()


def test_a_move_that_fills_the_parent_completes_it(client, login_as, supervisor, staff):
    fill_parent(staff, "SB00001", ["0000101"])
    fill_parent(staff, "SB00002", [f"{n:07d}" for n in range(201, 230)])  # 29 of 30
    login_as(supervisor)

    response = post(client, "/bags/0000101/move", parent="SB00002", reason="last one")

    assert response.get_json()["parent"] == {"code": "SB00002", "kind": "parent",
                                             "status": "complete", "capacity": 30,
                                             "child_count": 30}
    assert events_for("SB00002")[-1].result == "auto_completed"
    check_invariants()


# --- complete and reopen -------------------------------------------------------------------

def test_complete_and_reopen_with_reasons_and_audit(client, login_as, supervisor, two_parents):
    login_as(supervisor)

    done = post(client, "/bags/SB00001/complete", reason="truck leaves")
    again = post(client, "/bags/SB00001/complete", reason="twice")
    reopened = post(client, "/bags/SB00001/reopen", reason="one more bag")
    open_again = post(client, "/bags/SB00001/reopen", reason="twice")

    assert (done.status_code, done.get_json()["bag"]["status"]) == (200, "complete")
    assert (again.status_code, again.get_json()["error"]["code"]) == (409, "parent_complete")
    assert (reopened.status_code, reopened.get_json()["bag"]["status"]) == (200, "open")
    assert (open_again.status_code, open_again.get_json()["error"]["code"]) == (409, "parent_open")
    results = [(e.result, e.reason) for e in events_for("SB00001")[-2:]]
    assert results == [("completed", "finished short: truck leaves"),
                       ("reopened", "one more bag")]
    complete_audit, reopen_audit = audit_rows("bag.complete")[0], audit_rows("bag.reopen")[0]
    assert (complete_audit.before["status"], complete_audit.after["status"]) == ("open", "complete")
    assert complete_audit.after["reason"] == "truck leaves"
    assert (reopen_audit.before["status"], reopen_audit.after["status"]) == ("complete", "open")
    assert len(audit_rows()) == 2


def test_complete_or_reopen_of_a_child_is_refused(client, login_as, supervisor, two_parents):
    login_as(supervisor)

    response = post(client, "/bags/0000101/complete", reason="not a parent")

    assert (response.status_code, response.get_json()["error"]["code"]) == (409, "code_is_child")


# --- delete --------------------------------------------------------------------------------

def test_delete_an_empty_parent_keeps_its_events(client, login_as, supervisor, staff):
    fill_parent(staff, "SB00009")
    login_as(supervisor)

    response = client.delete("/api/v1/bags/SB00009", json={"reason": "label printed twice"})

    assert response.status_code == 200
    assert response.get_json() == {"result": "deleted", "bag": None, "parent": None,
                                   "previous_parent": None}
    assert bag("SB00009") is None
    events = events_for("SB00009")
    assert [(e.result, e.bag_id, e.parent_id) for e in events] == [
        ("parent_created", None, None), ("deleted", None, None)]
    assert events[-1].reason == "label printed twice"
    [audit] = audit_rows("bag.delete")
    assert audit.before == {"code": "SB00009", "kind": "parent", "status": "open",
                            "capacity": 30, "child_count": 0}
    assert audit.after == {"deleted": True, "reason": "label printed twice"}
    assert client.get("/api/v1/bags/SB00009").status_code == 404


def test_delete_a_parent_with_children_is_refused(client, login_as, supervisor, two_parents):
    login_as(supervisor)
    before = counts()

    response = client.delete("/api/v1/bags/SB00001", json={"reason": "mistake"})

    assert (response.status_code, response.get_json()["error"]["code"]) == (409, "has_children")
    assert "first" in response.get_json()["error"]["message"]
    assert bag("SB00001").child_count == 2 and counts() == before


def test_delete_a_linked_child_lowers_its_parents_count(client, login_as, supervisor,
                                                         two_parents):
    login_as(supervisor)

    response = client.delete("/api/v1/bags/0000101", json={"reason": "not our bag"})

    assert response.status_code == 200
    assert response.get_json()["previous_parent"]["child_count"] == 1
    assert bag("0000101") is None and bag("SB00001").child_count == 1
    parent_events = client.get("/api/v1/bags/SB00001").get_json()["events"]
    assert (parent_events[-1]["result"], parent_events[-1]["code"]) == ("deleted", "0000101")
    check_invariants()


# --- reasons and roles ---------------------------------------------------------------------

@pytest.mark.parametrize("reason", [None, "", "  ", "ab", 42, ["why"], "x" * 301])
def test_a_reason_is_required(client, login_as, supervisor, two_parents, reason):
    login_as(supervisor)
    before = counts()

    responses = [
        post(client, "/bags/0000101/unlink", reason=reason),
        post(client, "/bags/0000101/move", parent="SB00002", reason=reason),
        post(client, "/bags/SB00001/complete", reason=reason),
        client.delete("/api/v1/bags/0000101", json={"reason": reason}),
    ]

    for response in responses:
        assert response.status_code == 422
        error = response.get_json()["error"]
        assert (error["code"], error["field"]) == ("reason_required", "reason")
    assert counts() == before


def test_staff_is_refused_every_correction(client, login_as, staff, two_parents):
    login_as(staff)
    before = counts()

    responses = [
        post(client, "/bags/0000101/unlink", reason="try"),
        post(client, "/bags/0000101/move", parent="SB00002", reason="try"),
        post(client, "/bags/SB00001/complete", reason="try"),
        post(client, "/bags/SB00001/reopen", reason="try"),
        client.delete("/api/v1/bags/0000101", json={"reason": "try"}),
        client.post("/bags/0000101/unlink", data={"unlink-reason": "try"}),
        client.post("/bags/0000101/move", data={"move-parent": "SB00002", "move-reason": "x"}),
        client.post("/bags/SB00001/complete", data={"complete-reason": "try"}),
        client.post("/bags/SB00001/reopen", data={"reopen-reason": "try"}),
        client.post("/bags/0000101/delete", data={"delete-reason": "try"}),
    ]

    assert [r.status_code for r in responses] == [403] * len(responses)
    assert responses[0].get_json()["error"]["code"] == "forbidden"
    assert counts() == before and bag("0000101").parent_id is not None


def test_admin_may_correct(client, login_as, admin, two_parents):
    login_as(admin)

    assert post(client, "/bags/0000101/unlink", reason="admin fix").status_code == 200
    assert audit_rows("bag.unlink")[0].actor_id == admin.id


def test_anonymous_gets_401(client, two_parents):
    assert post(client, "/bags/0000101/unlink", reason="who").status_code == 401


def test_a_body_that_is_not_an_object_is_a_400(client, login_as, supervisor, two_parents):
    login_as(supervisor)

    response = client.post("/api/v1/bags/0000101/unlink", data="[1]",
                           content_type="application/json")

    assert (response.status_code, response.get_json()["error"]["code"]) == (400, "invalid_json")


# --- the page forms ------------------------------------------------------------------------

def test_page_corrections_post_redirect_and_say_what_happened(client, login_as, supervisor,
                                                              two_parents):
    login_as(supervisor)

    moved = client.post("/bags/0000101/move", follow_redirects=True,
                        data={"move-parent": "SB00002", "move-reason": "wrong sack"})
    refused = client.post("/bags/0000102/move", follow_redirects=True,
                          data={"move-parent": "SB00002", "move-reason": ""})
    deleted = client.post("/bags/0000102/delete", follow_redirects=True,
                          data={"delete-reason": "never existed"})

    assert moved.request.path == "/bags/0000101"
    assert "0000101 moved from SB00001 to SB00002 (2 / 30)." in moved.get_data(as_text=True)
    assert refused.request.path == "/bags/0000102"
    assert "Say why" in refused.get_data(as_text=True)
    assert deleted.request.path == "/bags"
    assert "0000102 was deleted" in deleted.get_data(as_text=True)
    assert [a.action for a in audit_rows()] == ["bag.move", "bag.delete"]
    check_invariants()


def test_page_corrections_need_the_csrf_token(make_app, supervisor, two_parents):
    client = make_app(WTF_CSRF_ENABLED=True).test_client()
    login_page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', login_page).group(1)
    assert client.post("/login", data={"username": "sam", "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302

    without = client.post("/bags/0000101/unlink", data={"unlink-reason": "no token"})
    api_without = client.post("/api/v1/bags/0000101/unlink", json={"reason": "no token"})
    page = client.get("/bags/0000101").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    with_token = client.post("/bags/0000101/unlink",
                             data={"unlink-reason": "with token", "unlink-csrf_token": token})

    assert without.status_code == 400 and api_without.status_code == 400
    assert with_token.status_code == 302
    assert bag("0000101").parent_id is None
