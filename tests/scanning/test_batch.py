"""Issue 19 item 4: POST /api/v1/scans/batch (DESIGN 8.4, 8.7). Each item goes through the
one scan service, in order, in its own transaction: mixed outcomes in one call, a resent
batch answers `replayed`, a reused scan_id is refused and stores nothing, more than 100
items is 422 too_many_items with nothing stored, and on PostgreSQL two batches racing for a
parent's last place: exactly one wins, 50 times over."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Bag, ScanEvent
from tests.helpers import (assert_unchanged, check_invariants, log_in, pg_only, snapshot)
from tests.scanning.support import child_scan, ok, parent_scan

BATCH = "/api/v1/scans/batch"


def batch(client, parent, items, **extra):
    return client.post(BATCH, json={"parent": parent, "items": items, **extra})


@pytest.fixture
def station(app, client, staff):
    assert log_in(client, staff.username).status_code == 302
    return client


def test_mixed_outcomes_in_one_call_each_with_its_own_answer(station, make_user):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    ok(parent_scan(station, "SB00002"), 201, "parent_created")
    ok(child_scan(station, "SB00002", "0000777"), 201, "linked")
    ok(child_scan(station, "SB00001", "0000555"), 201, "linked")

    response = batch(station, "SB00001", [
        {"code": "0000101", "scan_id": "a-1"},
        {"code": "0000555"},                      # already here
        {"code": "0000777"},                      # in another parent
        {"code": "not a code!"},                  # fails the pattern
        {"code": "SB00003"},                      # a parent's code
        {"code": 16586},                          # not text: refused, never converted
        {"code": "0000102", "scan_id": "a-2", "scanned_at": "2026-01-01T00:00:00+00:00"},
        {"code": "0000103", "scanned_at": "yesterday"},
    ])

    assert response.status_code == 200
    results = response.get_json()["results"]
    assert [(r["code"], r.get("result") or r["error"]["code"]) for r in results] == [
        ("0000101", "linked"), ("0000555", "already_linked"),
        ("0000777", "child_in_other_parent"), ("not a code!", "invalid_code"),
        ("SB00003", "code_is_parent"), (None, "invalid_code"),
        ("0000102", "linked"), ("0000103", "invalid_scanned_at")]
    assert results[0]["scan_id"] == "a-1" and results[0]["parent"]["child_count"] == 2
    assert results[6]["scanned_at_ignored"] is True  # outside the window: the arrival counts
    assert all(r["error"]["message"] for r in results if "error" in r)
    assert results[2]["error"]["parent"]["code"] == "SB00001"
    # The links stand although other items were refused.
    assert _children_of("SB00001") == {"0000555", "0000101", "0000102"}
    check_invariants()


def _children_of(code: str) -> set[str]:
    db.session.rollback()
    parent = db.session.scalar(select(Bag).where(Bag.code == code))
    codes = set(db.session.scalars(select(Bag.code).where(Bag.parent_id == parent.id)))
    db.session.rollback()
    return codes


def test_the_same_outcomes_as_one_by_one(station, client):
    """The batch and single scans are the one service: the same items give the same results
    and the same history."""
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    ok(parent_scan(station, "SB00002"), 201, "parent_created")
    singles = [child_scan(station, "SB00002", code).get_json()
               for code in ("0000201", "0000201", "SB00009", "0000202")]
    batched = batch(station, "SB00001", [{"code": code} for code in (
        "0000301", "0000301", "SB00009", "0000302")]).get_json()["results"]

    assert [s.get("result") or s["error"]["code"] for s in singles] == [
        b.get("result") or b["error"]["code"] for b in batched] == [
        "linked", "already_linked", "code_is_parent", "linked"]


def test_a_resent_batch_answers_replayed_for_each_and_changes_nothing(station):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    items = [{"code": f"00003{n:02d}", "scan_id": f"s-{n}",
              "scanned_at": "2026-12-05T05:00:00+00:00"} for n in range(5)]
    first = batch(station, "SB00001", items).get_json()["results"]
    links = db.session.scalar(select(func.count()).select_from(ScanEvent)
                              .where(ScanEvent.result == "linked"))
    db.session.rollback()

    again = batch(station, "SB00001", items)

    assert [r["result"] for r in first] == ["linked"] * 5
    assert again.status_code == 200
    assert [r["result"] for r in again.get_json()["results"]] == ["replayed"] * 5
    assert _children_of("SB00001") == {item["code"] for item in items}
    assert db.session.scalar(select(func.count()).select_from(ScanEvent)
                             .where(ScanEvent.result == "linked")) == links


def test_a_reused_scan_id_is_refused_and_stores_nothing(station):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    batch(station, "SB00001", [{"code": "0000401", "scan_id": "handheld-1"}])

    results = batch(station, "SB00001", [{"code": "0000402", "scan_id": "handheld-1"},
                                         {"code": "0000403", "scan_id": "handheld-2"}]
                    ).get_json()["results"]

    assert results[0]["error"]["code"] == "scan_id_reused"
    assert results[1]["result"] == "linked"
    assert db.session.scalar(select(Bag).where(Bag.code == "0000402")) is None


def test_a_refused_item_sent_again_gets_the_same_refusal(station, make_app):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    ok(parent_scan(station, "SB00002"), 201, "parent_created")
    ok(child_scan(station, "SB00002", "0000501"), 201, "linked")
    items = [{"code": "0000501", "scan_id": "r-1"}]

    first = batch(station, "SB00001", items).get_json()["results"][0]
    second = batch(station, "SB00001", items).get_json()["results"][0]

    assert first["error"]["code"] == second["error"]["code"] == "child_in_other_parent"


def test_the_parent_filling_up_midway_refuses_the_rest(make_app, make_user):
    application = make_app(DEFAULT_PARENT_CAPACITY=3)
    with application.app_context():
        user = make_user("stella")
        client = application.test_client()
        assert log_in(client, user.username).status_code == 302
        ok(parent_scan(client, "SB00001"), 201, "parent_created")

        results = batch(client, "SB00001", [{"code": f"00006{n:02d}"} for n in range(5)]
                        ).get_json()["results"]

        assert [r.get("result") or r["error"]["code"] for r in results] == [
            "linked", "linked", "linked", "parent_complete", "parent_complete"]
        assert results[2]["parent"]["status"] == "complete"


def test_an_unknown_parent_refuses_each_item(station):
    results = batch(station, "SB09999", [{"code": "0000701"}, {"code": "0000702"}]).get_json()

    assert [r["error"]["code"] for r in results["results"]] == ["parent_not_found"] * 2


def test_101_items_are_refused_and_nothing_is_stored(station):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    before = snapshot()

    response = batch(station, "SB00001", [{"code": f"0{n:06d}"} for n in range(101)])

    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "too_many_items"
    assert "100" in response.get_json()["error"]["message"]
    assert_unchanged(before, snapshot())
    assert batch(station, "SB00001", [{"code": f"0{n:06d}"} for n in range(100)]
                 ).status_code == 200


@pytest.mark.parametrize("body", [
    {"parent": "SB00001"},
    {"parent": "SB00001", "items": "0000801"},
    {"parent": "SB00001", "items": {"code": "0000801"}},
    {"parent": "SB00001", "items": [{"code": "0000801"}, "0000802"]},
    {"parent": "SB00001", "items": [{"code": "0000801"}, {"code": "0000802", "child_count": 9}]},
    {"parent": "SB00001", "items": [], "force": True},
    [{"code": "0000801"}],
])
def test_a_malformed_body_is_refused_whole_and_stores_nothing(station, body):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")
    before = snapshot()

    response = station.post(BATCH, json=body)

    assert response.status_code in (400, 422)
    assert response.get_json()["error"]["message"]
    assert_unchanged(before, snapshot())


def test_an_empty_batch_is_a_valid_body(station):
    response = batch(station, "SB00001", [])

    assert response.status_code == 200 and response.get_json() == {"results": []}


def test_anonymous_is_refused(client):
    assert batch(client, "SB00001", [{"code": "0000901"}]).status_code == 401


def test_a_batch_counts_one_scan_per_item_against_the_limit(make_app, make_user):
    application = make_app(RATELIMIT_ENABLED=True, SCAN_RATE_LIMIT="5 per minute",
                           RATELIMIT_STORAGE_URI="memory://")
    with application.app_context():
        user = make_user("stella")
        client = application.test_client()
        assert log_in(client, user.username).status_code == 302
        ok(parent_scan(client, "SB00001"), 201, "parent_created")

        first = batch(client, "SB00001", [{"code": f"00009{n:02d}"} for n in range(3)])
        second = batch(client, "SB00001", [{"code": f"00008{n:02d}"} for n in range(3)])

        assert first.status_code == 200
        assert second.status_code == 429  # 1 + 3 used; 3 more would make 7
        assert ok(child_scan(client, "SB00001", "0000990"), 201, "linked")


# --- on PostgreSQL: two batches racing for the last place ------------------------------------

REPEAT = 50


@pg_only
def test_two_batches_racing_for_the_last_place_exactly_one_wins(make_app, make_user):
    application = make_app(DEFAULT_PARENT_CAPACITY=5)
    with application.app_context():
        numbers = itertools.count(1)
        clients = []
        for _ in range(3):
            user = make_user(f"racer{next(numbers)}")
            client = application.test_client()
            assert log_in(client, user.username).status_code == 302
            clients.append(client)
        setup, first, second = clients
        db.session.rollback()
        pool = ThreadPoolExecutor(max_workers=2)
        try:
            for rep in range(REPEAT):
                parent = f"SB{rep:05d}"
                ok(parent_scan(setup, parent), 201, "parent_created")
                for slot in range(4):
                    ok(child_scan(setup, parent, f"F{rep:04d}{slot:02d}"), 201, "linked")
                barrier = threading.Barrier(2)

                def send(client, code, parent=parent, barrier=barrier):
                    barrier.wait(timeout=10)
                    response = batch(client, parent, [{"code": code, "scan_id": code}])
                    return response.status_code, response.get_json()

                futures = [pool.submit(send, first, f"A{rep:04d}00"),
                           pool.submit(send, second, f"B{rep:04d}00")]
                answers = [future.result(timeout=30) for future in futures]

                assert [status for status, _ in answers] == [200, 200], answers
                results = [body["results"][0] for _, body in answers]
                winners = [r for r in results if r.get("result") == "linked"]
                losers = [r["error"]["code"] for r in results if "error" in r]
                assert len(winners) == 1 and winners[0]["parent"]["status"] == "complete", answers
                assert len(losers) == 1 and losers[0] in ("parent_full", "parent_complete")
                db.session.rollback()
                row = db.session.scalar(select(Bag).where(Bag.code == parent))
                assert (row.child_count, row.status) == (5, "complete")
                assert db.session.scalar(select(func.count()).select_from(Bag).where(
                    Bag.code.in_([f"A{rep:04d}00", f"B{rep:04d}00"]))) == 1
                db.session.rollback()
                check_invariants()
                db.session.rollback()
        finally:
            pool.shutdown(wait=True)


@pytest.mark.parametrize("item", [
    {"code": "0001001", "scan_id": 5}, {"code": "0001001", "scan_id": {"a": 1}},
    {"code": "0001001", "scan_id": "has space"}, {"code": "0001001", "scanned_at": 1733377000},
    {"code": ["0001001"]}, {"code": None}, {}, {"code": "00 01"},
])
def test_a_bad_item_is_refused_on_its_own_and_stores_no_bag(station, item):
    ok(parent_scan(station, "SB00001"), 201, "parent_created")

    response = batch(station, "SB00001", [item, {"code": "0001002"}])

    assert response.status_code == 200
    first, second = response.get_json()["results"]
    assert first["error"]["code"].startswith("invalid_") and len(first["error"]["message"]) > 15
    assert "scan_id" not in first or isinstance(first["scan_id"], str)
    assert second["result"] == "linked"
    assert _children_of("SB00001") == {"0001002"}
