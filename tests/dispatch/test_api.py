"""Every row of DESIGN 8.2's dispatch table and 8.7's refusals through the JSON API, with the
database unchanged on every refusal; the parent_on_dispatch refusals of undo, move, unlink
and reopen; a bag's "dispatch"."""

from __future__ import annotations

import pytest

from tests.dispatch.support import complete_parent, load, new_dispatch
from tests.helpers import assert_unchanged, check_invariants, snapshot

NEW = {"destination": "Nagpur depot", "vehicle_number": "mh 12 ab 1234", "expected_parents": 2}


@pytest.fixture
def boss_client(app, supervisor, login_as):
    client = app.test_client()
    login_as(supervisor, test_client=client)
    return client


@pytest.fixture
def staff_client(app, staff, login_as):
    client = app.test_client()
    login_as(staff, test_client=client)
    return client


@pytest.fixture
def parents(supervisor):
    """Three complete parents (3 children each) and an open one."""
    for code in ("SB00001", "SB00002", "SB00003"):
        complete_parent(supervisor, code, children=3)
    complete_parent(supervisor, "SB00009", children=30)  # completed by itself at 30
    from app.scanning import services as scanning
    from app.scanning.transaction import run_scan

    run_scan(scanning.scan_parent, supervisor, "SB00004")
    run_scan(scanning.scan_child, supervisor, "SB00004", "0044001")
    return supervisor


def refused(client, method, path, status, code, **kwargs):
    """The request is refused with this status and code, and changes nothing (a refused load
    is kept as a rejected event, as a refused scan is)."""
    before = snapshot(ignore_rejected_scans=True)
    response = client.open(path, method=method, **kwargs)
    body = response.get_json()
    assert response.status_code == status, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    assert_unchanged(before, snapshot(ignore_rejected_scans=True))
    return body["error"]


# --- creating ---------------------------------------------------------------------------------

def test_create_answers_201_created_with_the_dispatch(boss_client):
    response = boss_client.post("/api/v1/dispatches", json={
        **NEW, "code": "lr/2026-17", "driver": "Ravi", "transporter": "VRL",
        "reference": "INV-99"})

    assert response.status_code == 201
    body = response.get_json()
    assert body["result"] == "created"
    dispatch = body["dispatch"]
    assert dispatch["code"] == "LR/2026-17"
    assert dispatch["vehicle_number"] == "MH 12 AB 1234"
    assert dispatch["status"] == "loading"
    assert (dispatch["expected_parents"], dispatch["parents_loaded"], dispatch["children"],
            dispatch["weight_kg"], dispatch["expected_weight_kg"]) == (2, 0, 0, 0, 60)
    assert dispatch["created_by"] == "sam" and dispatch["dispatched_at"] is None
    assert set(dispatch) == {
        "code", "status", "destination", "vehicle_number", "driver", "transporter",
        "reference", "expected_parents", "parents_loaded", "children", "weight_kg",
        "expected_weight_kg", "short_reason", "created_at", "created_by", "dispatched_at",
        "dispatched_by", "site", "destination_site", "received_at"}  # (sites: issue 21)


def test_a_generated_code_looks_like_D000123_and_counts_up(boss_client):
    first = boss_client.post("/api/v1/dispatches", json=NEW).get_json()["dispatch"]["code"]
    second = boss_client.post("/api/v1/dispatches", json=NEW).get_json()["dispatch"]["code"]

    assert (first, second) == ("D000001", "D000002")


def test_a_code_taken_is_409_dispatch_exists(boss_client):
    boss_client.post("/api/v1/dispatches", json={**NEW, "code": "D000007"})

    refused(boss_client, "POST", "/api/v1/dispatches", 409, "dispatch_exists",
            json={**NEW, "code": "d000007"})


@pytest.mark.parametrize(("change", "field"), [
    ({"vehicle_number": None}, "vehicle_number"),
    ({"vehicle_number": "  "}, "vehicle_number"),
    ({"vehicle_number": 1234}, "vehicle_number"),
    ({"destination": ""}, "destination"),
    ({"expected_parents": 0}, "expected_parents"),
    ({"expected_parents": 501}, "expected_parents"),
    ({"expected_parents": True}, "expected_parents"),
    ({"expected_parents": 2.5}, "expected_parents"),
    ({"code": "X"}, "code"),
    ({"code": "D 01"}, "code"),
    ({"driver": "x" * 200}, "driver"),
])
def test_bad_input_is_422_invalid_input_naming_the_field(boss_client, change, field):
    error = refused(boss_client, "POST", "/api/v1/dispatches", 422, "invalid_input",
                    json={**NEW, **change})
    assert error["field"] == field


def test_staff_may_not_create(staff_client):
    refused(staff_client, "POST", "/api/v1/dispatches", 403, "forbidden", json=NEW)


# --- loading ------------------------------------------------------------------------------------

def test_load_answers_201_loaded_with_the_dispatch_and_the_parent(parents, staff_client):
    new_dispatch(parents, "D000001", expected=2)

    response = staff_client.post("/api/v1/dispatches/D000001/parents", json={"code": "sb00001"})

    assert response.status_code == 201
    body = response.get_json()
    assert body["result"] == "loaded"
    assert body["parent"] == {"code": "SB00001", "kind": "parent", "status": "complete",
                              "capacity": 30, "child_count": 3}
    assert (body["dispatch"]["parents_loaded"], body["dispatch"]["children"],
            body["dispatch"]["weight_kg"]) == (1, 3, 3)
    check_invariants()


def test_load_again_is_200_already_loaded_and_a_resend_is_replayed(parents, staff_client):
    new_dispatch(parents, "D000001", expected=2)
    first = staff_client.post("/api/v1/dispatches/D000001/parents",
                              json={"code": "SB00001", "scan_id": "s-1"})
    assert first.status_code == 201

    again = staff_client.post("/api/v1/dispatches/D000001/parents", json={"code": "SB00001"})
    resent = staff_client.post("/api/v1/dispatches/D000001/parents",
                               json={"code": "SB00001", "scan_id": "s-1"})

    assert (again.status_code, again.get_json()["result"]) == (200, "already_loaded")
    assert (resent.status_code, resent.get_json()["result"]) == (200, "replayed")
    assert resent.get_json()["dispatch"]["parents_loaded"] == 1


def test_a_scan_id_reused_for_another_parent_is_409_and_loads_nothing(parents, staff_client):
    new_dispatch(parents, "D000001", expected=2)
    staff_client.post("/api/v1/dispatches/D000001/parents",
                      json={"code": "SB00001", "scan_id": "s-1"})

    refused(staff_client, "POST", "/api/v1/dispatches/D000001/parents", 409, "scan_id_reused",
            json={"code": "SB00002", "scan_id": "s-1"})


def test_a_parent_not_complete_is_409(parents, staff_client):
    new_dispatch(parents, "D000001")
    refused(staff_client, "POST", "/api/v1/dispatches/D000001/parents", 409,
            "parent_not_complete", json={"code": "SB00004"})


def test_a_parent_on_another_dispatch_is_409_naming_it(parents, staff_client):
    new_dispatch(parents, "D000001")
    new_dispatch(parents, "D000002")
    load(parents, "D000001", "SB00001")

    error = refused(staff_client, "POST", "/api/v1/dispatches/D000002/parents", 409,
                    "parent_on_other_dispatch", json={"code": "SB00001"})

    assert error["other_dispatch"] == "D000001"
    assert "D000001" in error["message"]


def test_a_refused_load_is_kept_in_the_history_as_a_rejected_event(parents, staff_client):
    from tests.helpers import events_for

    new_dispatch(parents, "D000001")
    new_dispatch(parents, "D000002")
    load(parents, "D000001", "SB00001")

    staff_client.post("/api/v1/dispatches/D000002/parents", json={"code": "SB00001",
                                                                 "station": "dock 2"})

    refused = [e for e in events_for("SB00001") if e.outcome == "rejected"]
    assert [(e.action, e.result, e.station) for e in refused] == [
        ("dispatch_load", "parent_on_other_dispatch", "dock 2")]
    shown = staff_client.get("/api/v1/dispatches/D000002").get_json()["events"]
    assert [(e["outcome"], e["result"]) for e in shown] == [
        ("rejected", "parent_on_other_dispatch")]


def test_a_full_dispatch_is_409_dispatch_full(parents, staff_client):
    new_dispatch(parents, "D000001", expected=1)
    load(parents, "D000001", "SB00001")

    refused(staff_client, "POST", "/api/v1/dispatches/D000001/parents", 409, "dispatch_full",
            json={"code": "SB00002"})


def test_load_once_dispatched_or_cancelled_is_409_dispatch_not_loading(parents, boss_client):
    new_dispatch(parents, "D000001", expected=1)
    new_dispatch(parents, "D000002", expected=1)
    load(parents, "D000001", "SB00001")
    boss_client.post("/api/v1/dispatches/D000001/dispatch", json={})
    boss_client.post("/api/v1/dispatches/D000002/cancel", json={"reason": "no truck"})

    for code in ("D000001", "D000002"):
        refused(boss_client, "POST", f"/api/v1/dispatches/{code}/parents", 409,
                "dispatch_not_loading", json={"code": "SB00002"})
        refused(boss_client, "POST", f"/api/v1/dispatches/{code}/unload", 409,
                "dispatch_not_loading", json={"code": "SB00001"})
    refused(boss_client, "POST", "/api/v1/dispatches/D000001/cancel", 409,
            "dispatch_not_loading", json={"reason": "changed my mind"})


def test_an_unknown_parent_is_404_and_a_child_is_409(parents, staff_client):
    new_dispatch(parents, "D000001")

    refused(staff_client, "POST", "/api/v1/dispatches/D000001/parents", 404,
            "parent_not_found", json={"code": "SB99999"})
    error = refused(staff_client, "POST", "/api/v1/dispatches/D000001/parents", 409,
                    "code_is_child", json={"code": "0044001"})
    assert "SB00004" in error["message"]
    refused(staff_client, "POST", "/api/v1/dispatches/D000001/parents", 422, "invalid_code",
            json={"code": 12345})


def test_an_unknown_dispatch_is_404_dispatch_not_found(parents, staff_client, boss_client):
    assert staff_client.get("/api/v1/dispatches/D404404").status_code == 404
    refused(staff_client, "POST", "/api/v1/dispatches/D404404/parents", 404,
            "dispatch_not_found", json={"code": "SB00001"})
    refused(boss_client, "POST", "/api/v1/dispatches/x/dispatch", 404, "dispatch_not_found",
            json={})


def test_unknown_fields_are_refused(parents, staff_client, boss_client):
    new_dispatch(parents, "D000001")
    error = refused(staff_client, "POST", "/api/v1/dispatches/D000001/parents", 422,
                    "unknown_field", json={"code": "SB00001", "weight": 3})
    assert error["field"] == "weight" and "code, scan_id, station" in error["message"]
    for path, sent in (("/api/v1/dispatches", {**NEW, "status": "dispatched"}),
                       ("/api/v1/dispatches/D000001/unload", {"code": "SB00001", "force": 1}),
                       ("/api/v1/dispatches/D000001/dispatch", {"short_reason": "late"}),
                       ("/api/v1/dispatches/D000001/cancel", {"reason": "abc", "all": True}),
                       ("/api/v1/dispatches/D000001/returns", {"code": "SB00001",
                                                               "reason": "torn sack"})):
        assert refused(boss_client, "POST", path, 422, "unknown_field", json=sent)["field"]


@pytest.mark.parametrize("action", ["parents", "unload"])
def test_a_station_that_is_not_text_is_422_invalid_station(parents, staff_client, action):
    new_dispatch(parents, "D000001")
    load(parents, "D000001", "SB00002")

    error = refused(staff_client, "POST", f"/api/v1/dispatches/D000001/{action}", 422,
                    "invalid_station", json={"code": "SB00002", "station": 7})

    assert error["field"] == "station"


@pytest.mark.parametrize("path", ["/api/v1/dispatches", "/api/v1/dispatches/D000001/parents",
                                  "/api/v1/dispatches/D000001/returns"])
def test_a_body_that_is_not_a_json_object_is_400_invalid_json(parents, boss_client, path):
    new_dispatch(parents, "D000001")

    refused(boss_client, "POST", path, 400, "invalid_json", data="[1, 2]",
            content_type="application/json")


# --- unloading ----------------------------------------------------------------------------------

def test_unload_answers_200_unloaded_and_frees_the_parent(parents, staff_client):
    new_dispatch(parents, "D000001")
    new_dispatch(parents, "D000002")
    load(parents, "D000001", "SB00001")

    response = staff_client.post("/api/v1/dispatches/D000001/unload", json={"code": "SB00001"})

    assert response.status_code == 200
    body = response.get_json()
    assert body["result"] == "unloaded" and body["parent"]["code"] == "SB00001"
    assert body["dispatch"]["parents_loaded"] == 0
    assert load(parents, "D000002", "SB00001").result == "loaded"


def test_unload_of_a_parent_not_on_it_is_409(parents, staff_client):
    new_dispatch(parents, "D000001")
    refused(staff_client, "POST", "/api/v1/dispatches/D000001/unload", 409,
            "parent_not_on_dispatch", json={"code": "SB00001"})


# --- dispatching -------------------------------------------------------------------------------

def test_dispatch_full_answers_200_dispatched(parents, boss_client):
    new_dispatch(parents, "D000001", expected=2)
    load(parents, "D000001", "SB00001")
    load(parents, "D000001", "SB00002")

    response = boss_client.post("/api/v1/dispatches/D000001/dispatch", json={})

    assert response.status_code == 200
    dispatch = response.get_json()["dispatch"]
    assert response.get_json()["result"] == "dispatched"
    assert dispatch["status"] == "dispatched" and dispatch["dispatched_by"] == "sam"
    assert dispatch["dispatched_at"] and dispatch["short_reason"] is None


def test_dispatch_short_needs_a_reason(parents, boss_client):
    new_dispatch(parents, "D000001", expected=3)
    load(parents, "D000001", "SB00001")

    error = refused(boss_client, "POST", "/api/v1/dispatches/D000001/dispatch", 409,
                    "under_expected", json={})
    assert (error["loaded"], error["expected"]) == (1, 3)
    refused(boss_client, "POST", "/api/v1/dispatches/D000001/dispatch", 422,
            "reason_required", json={"reason": " x "})
    response = boss_client.post("/api/v1/dispatches/D000001/dispatch",
                                json={"reason": "two parents still wet"})

    assert response.status_code == 200
    assert response.get_json()["dispatch"]["short_reason"] == "two parents still wet"


def test_dispatch_empty_is_409(parents, boss_client):
    new_dispatch(parents, "D000001")
    refused(boss_client, "POST", "/api/v1/dispatches/D000001/dispatch", 409, "dispatch_empty",
            json={"reason": "nothing came"})


def test_staff_may_load_and_unload_but_not_dispatch_reopen_cancel_or_return(parents,
                                                                            staff_client):
    new_dispatch(parents, "D000001", expected=1)
    load(parents, "D000001", "SB00001")
    for action, body in (("dispatch", {}), ("reopen", {"reason": "abc"}),
                         ("cancel", {"reason": "abc"}),
                         ("returns", {"parent": "SB00001", "reason": "abc"})):
        refused(staff_client, "POST", f"/api/v1/dispatches/D000001/{action}", 403,
                "forbidden", json=body)


# --- reopening, cancelling, returns -----------------------------------------------------------

def test_reopen_answers_200_reopened_back_to_loading(parents, boss_client):
    new_dispatch(parents, "D000001", expected=1)
    load(parents, "D000001", "SB00001")
    refused(boss_client, "POST", "/api/v1/dispatches/D000001/reopen", 409,
            "dispatch_not_dispatched", json={"reason": "not yet gone"})
    boss_client.post("/api/v1/dispatches/D000001/dispatch", json={})
    refused(boss_client, "POST", "/api/v1/dispatches/D000001/reopen", 422, "reason_required",
            json={})

    response = boss_client.post("/api/v1/dispatches/D000001/reopen",
                                json={"reason": "wrong truck"})

    assert response.status_code == 200
    body = response.get_json()
    assert body["result"] == "reopened"
    assert body["dispatch"]["status"] == "loading"
    assert body["dispatch"]["dispatched_at"] is None
    assert body["dispatch"]["parents_loaded"] == 1


def test_cancel_answers_200_cancelled_and_frees_its_parents(parents, boss_client):
    new_dispatch(parents, "D000001")
    new_dispatch(parents, "D000002")
    load(parents, "D000001", "SB00001")
    refused(boss_client, "POST", "/api/v1/dispatches/D000001/cancel", 422, "reason_required",
            json={"reason": ""})

    response = boss_client.post("/api/v1/dispatches/D000001/cancel",
                                json={"reason": "truck broke down"})

    assert response.status_code == 200
    assert response.get_json()["result"] == "cancelled"
    assert response.get_json()["dispatch"]["status"] == "cancelled"
    assert boss_client.get("/api/v1/bags/SB00001").get_json()["dispatch"] is None
    assert load(parents, "D000002", "SB00001").result == "loaded"
    check_invariants()


def test_returns_answer_200_returned_and_the_parent_may_go_again(parents, boss_client):
    new_dispatch(parents, "D000001", expected=2)
    new_dispatch(parents, "D000002")
    load(parents, "D000001", "SB00001")
    load(parents, "D000001", "SB00002")
    refused(boss_client, "POST", "/api/v1/dispatches/D000001/returns", 409,
            "dispatch_not_dispatched", json={"parent": "SB00001", "reason": "torn sack"})
    boss_client.post("/api/v1/dispatches/D000001/dispatch", json={})
    refused(boss_client, "POST", "/api/v1/dispatches/D000001/returns", 422, "reason_required",
            json={"parent": "SB00001"})
    refused(boss_client, "POST", "/api/v1/dispatches/D000001/returns", 409,
            "parent_not_on_dispatch", json={"parent": "SB00003", "reason": "torn sack"})

    response = boss_client.post("/api/v1/dispatches/D000001/returns",
                                json={"parent": "SB00001", "reason": "torn sack"})

    assert response.status_code == 200
    body = response.get_json()
    assert body["result"] == "returned"
    assert body["parent"]["status"] == "complete"
    assert (body["dispatch"]["parents_loaded"], body["dispatch"]["children"]) == (1, 3)
    shown = boss_client.get("/api/v1/dispatches/D000001").get_json()
    assert shown["parents"] == ["SB00002"] and shown["returned"] == ["SB00001"]
    assert load(parents, "D000002", "SB00001").result == "loaded"
    check_invariants()


# --- reading ------------------------------------------------------------------------------------

def test_get_answers_the_dispatch_with_parents_returned_and_events(parents, staff_client):
    new_dispatch(parents, "D000001", expected=3)
    load(parents, "D000001", "SB00002")
    load(parents, "D000001", "SB00001")
    staff_client.post("/api/v1/dispatches/D000001/unload", json={"code": "SB00002"})

    body = staff_client.get("/api/v1/dispatches/d000001").get_json()

    assert body["parents"] == ["SB00001"]
    assert body["returned"] == []
    assert [(e["action"], e["result"], e["code"]) for e in body["events"]] == [
        ("dispatch_load", "loaded", "SB00002"), ("dispatch_load", "loaded", "SB00001"),
        ("dispatch_unload", "unloaded", "SB00002")]
    assert body["events"][2]["user"] == "stella"


def test_the_list_is_newest_first_with_filters_counts_and_a_cursor(parents, staff_client):
    for number in range(1, 6):
        new_dispatch(parents, f"D00000{number}", expected=1,
                     destination="Pune" if number % 2 else "Nagpur")
    load(parents, "D000001", "SB00001")
    run_dispatch = staff_client  # staff read dispatches
    from app.dispatch import services as dispatching
    from app.unit_of_work import run

    run(dispatching.dispatch_out, parents, "D000001")

    first = run_dispatch.get("/api/v1/dispatches?limit=2").get_json()
    second = run_dispatch.get("/api/v1/dispatches",
                              query_string={"limit": 2, "cursor": first["next_cursor"]})
    loading = run_dispatch.get("/api/v1/dispatches?status=loading&q=pune").get_json()

    assert [item["code"] for item in first["items"]] == ["D000005", "D000004"]
    assert [item["code"] for item in second.get_json()["items"]] == ["D000003", "D000002"]
    assert first["counts"] == {"loading": 4, "dispatched": 1, "cancelled": 0,
                                "received": 0}
    assert [item["code"] for item in loading["items"]] == ["D000005", "D000003"]
    assert run_dispatch.get("/api/v1/dispatches?status=lost").status_code == 422
    assert run_dispatch.get("/api/v1/dispatches?cursor=junk").get_json()["error"]["code"] == \
        "invalid_cursor"


def test_a_bag_names_its_dispatch_parent_and_child(parents, staff_client):
    new_dispatch(parents, "D000001")
    load(parents, "D000001", "SB00001")

    parent = staff_client.get("/api/v1/bags/SB00001").get_json()
    child = staff_client.get("/api/v1/bags/00001000").get_json()
    other = staff_client.get("/api/v1/bags/SB00002").get_json()

    assert parent["dispatch"] == {"code": "D000001", "status": "loading"}
    assert child["dispatch"] == {"code": "D000001", "status": "loading"}
    assert other["dispatch"] is None
    assert [e["action"] for e in parent["events"]][-1] == "dispatch_load"


def test_dispatch_events_show_in_the_parents_timeline(parents, boss_client):
    new_dispatch(parents, "D000001", expected=1)
    load(parents, "D000001", "SB00001")
    boss_client.post("/api/v1/dispatches/D000001/dispatch", json={})
    boss_client.post("/api/v1/dispatches/D000001/reopen", json={"reason": "wrong truck"})

    actions = [e["action"] for e in boss_client.get("/api/v1/bags/SB00001").get_json()["events"]]

    assert actions[-3:] == ["dispatch_load", "dispatched", "dispatch_reopened"]


# --- a parent on a dispatch keeps its children ---------------------------------------------------

@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/api/v1/parents/SB00001/reopen", {}),
    ("POST", "/api/v1/bags/SB00001/reopen", {"reason": "one more bag"}),
    ("POST", "/api/v1/scans/undo", {"code": "00001000"}),
    ("POST", "/api/v1/scans/undo", {"parent": "SB00001"}),
    ("POST", "/api/v1/bags/00001000/unlink", {"reason": "wrong parent"}),
    ("POST", "/api/v1/bags/00001000/move", {"parent": "SB00004", "reason": "wrong parent"}),
    ("DELETE", "/api/v1/bags/00001000", {"reason": "misprint"}),
])
def test_a_parent_on_a_dispatch_refuses_changes_naming_it(parents, boss_client, method, path,
                                                          body):
    new_dispatch(parents, "D000001")
    load(parents, "D000001", "SB00001")

    before = snapshot(ignore_rejected_scans=True)
    response = boss_client.open(path, method=method, json=body)

    assert response.status_code == 409, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "parent_on_dispatch"
    assert error["dispatch"] == "D000001" and "D000001" in error["message"]
    assert_unchanged(before, snapshot(ignore_rejected_scans=True))


def test_the_database_refuses_a_reopen_of_a_parent_on_a_dispatch_whoever_writes(parents):
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from app.extensions import db

    new_dispatch(parents, "D000001")
    load(parents, "D000001", "SB00001")
    for statement in ("UPDATE bags SET status = 'open' WHERE code = 'SB00001'",
                      "UPDATE bags SET parent_id = NULL, status = 'unlinked'"
                      " WHERE code = '00001000'"):
        with pytest.raises(IntegrityError):
            db.session.execute(text(statement))
            db.session.flush()
        db.session.rollback()
    with pytest.raises(IntegrityError):  # only complete parents
        db.session.execute(text(
            "INSERT INTO dispatch_items (dispatch_id, parent_id, state, loaded_at)"
            " SELECT d.id, b.id, 'loaded', d.created_at FROM dispatches d, bags b"
            " WHERE b.code = 'SB00004'"))
    db.session.rollback()
    with pytest.raises(IntegrityError):  # never more than expected
        db.session.execute(text("UPDATE dispatches SET expected_parents = 1"))
        db.session.execute(text(
            "INSERT INTO dispatch_items (dispatch_id, parent_id, state, loaded_at)"
            " SELECT d.id, b.id, 'loaded', d.created_at FROM dispatches d, bags b"
            " WHERE b.code = 'SB00002'"))
    db.session.rollback()
    with pytest.raises(IntegrityError):  # one live dispatch per parent
        db.session.execute(text("UPDATE dispatches SET expected_parents = 5"))
        db.session.execute(text(
            "INSERT INTO dispatch_items (dispatch_id, parent_id, state, loaded_at)"
            " SELECT d.id, b.id, 'loaded', d.created_at FROM dispatches d, bags b"
            " WHERE b.code = 'SB00001'"))
    db.session.rollback()


def test_a_parent_once_on_a_dispatch_is_not_deleted_and_says_why(parents, boss_client):
    """Before: the database's foreign key refused it and the answer was 409 `conflict`,
    "collided with another change ... retry", which no retry ever cures."""
    new_dispatch(parents, "D000001", expected=1)
    load(parents, "D000001", "SB00001")
    assert boss_client.post("/api/v1/dispatches/D000001/cancel",
                            json={"reason": "no truck came"}).status_code == 200
    for child in ("00001000", "00001001", "00001002"):
        assert boss_client.post(f"/api/v1/bags/{child}/unlink",
                                json={"reason": "label torn"}).status_code == 200
    before = snapshot()

    refused = boss_client.delete("/api/v1/bags/SB00001", json={"reason": "made by mistake"})

    assert refused.status_code == 409, refused.get_json()
    assert refused.get_json()["error"]["code"] == "parent_has_dispatch_history"
    assert refused.get_json()["error"]["dispatch"] == "D000001"
    assert "D000001" in refused.get_json()["error"]["message"]
    assert_unchanged(before, snapshot())
