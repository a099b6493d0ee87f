"""Concurrent stations on PostgreSQL (DESIGN.md section 5: each scan is one transaction that
locks the parent row). Real threads, each with its own test client logged in as its own
user, are released together by a Barrier; every scenario runs REPEAT times with fresh codes,
and the section 3 invariants are checked by SQL after each repetition."""

from __future__ import annotations

import itertools
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from tests.helpers import log_in, pg_only, race
from sqlalchemy import text
from tests.helpers import check_invariants

from app.extensions import db

pytestmark = pg_only

REPEAT = 50


@pytest.fixture
def capacity():
    return 30


@pytest.fixture
def app(make_app, capacity):
    application = make_app(DEFAULT_PARENT_CAPACITY=capacity)
    with application.app_context():
        yield application


@pytest.fixture
def stations(app, make_user):
    """Test clients, each logged in as its own staff user (logged in before any race)."""

    numbers = itertools.count(1)

    def build(count: int):
        clients = []
        for _ in range(count):
            user = make_user(f"racer{next(numbers)}", "staff")
            test_client = app.test_client()
            response = log_in(test_client, user.username)
            assert response.status_code == 302
            clients.append(test_client)
        db.session.rollback()
        return clients

    return build


@pytest.fixture
def setup_station(stations):
    return stations(1)[0]


@pytest.fixture
def pool(app):
    executor = ThreadPoolExecutor(max_workers=10)
    yield executor
    executor.shutdown(wait=True)



def create_parent(client, code):
    response = client.post("/api/v1/scans/parent", json={"code": code})
    assert response.status_code == 201, response.get_json()


def link(client, parent, code):
    response = client.post("/api/v1/scans/child", json={"parent": parent, "code": code})
    assert response.status_code == 201, response.get_json()


def child_call(client, parent, code):
    return client, "/api/v1/scans/child", {"parent": parent, "code": code}


def bag(code):
    row = db.session.execute(text(
        "SELECT b.kind, b.status, b.child_count, p.code AS parent FROM bags b"
        " LEFT JOIN bags p ON p.id = b.parent_id WHERE b.code = :code"),
        {"code": code}).mappings().first()
    db.session.rollback()
    return dict(row) if row else None


def scalar(sql, **params):
    value = db.session.execute(text(sql), params).scalar()
    db.session.rollback()
    return value


def invariants():
    db.session.rollback()
    check_invariants()
    db.session.rollback()


def test_same_child_into_two_parents_at_once(pool, stations, setup_station):
    first, second = stations(2)
    for rep in range(REPEAT):
        parents = (f"SB{2 * rep:05d}", f"SB{2 * rep + 1:05d}")
        child = f"A{rep:06d}"
        for parent in parents:
            create_parent(setup_station, parent)

        results = race(pool, [child_call(first, parents[0], child),
                              child_call(second, parents[1], child)])

        statuses = sorted(status for status, _ in results)
        assert statuses == [201, 409], (rep, results)
        winner = next(i for i, (status, _) in enumerate(results) if status == 201)
        loser_body = results[1 - winner][1]
        assert results[winner][1]["result"] == "linked"
        assert loser_body["error"]["code"] == "child_in_other_parent"
        assert loser_body["error"]["other_parent"] == parents[winner]
        assert parents[winner] in loser_body["error"]["message"]
        assert bag(child)["parent"] == parents[winner]
        assert bag(parents[winner])["child_count"] == 1
        assert bag(parents[1 - winner])["child_count"] == 0
        invariants()


def test_same_unlinked_child_into_two_parents_at_once(pool, stations, setup_station):
    # The existing-child path (an UPDATE guarded by parent_id IS NULL), not the INSERT one.
    first, second = stations(2)
    create_parent(setup_station, "SB99999")
    for rep in range(REPEAT):
        parents = (f"SB{2 * rep:05d}", f"SB{2 * rep + 1:05d}")
        child = f"U{rep:06d}"
        for parent in parents:
            create_parent(setup_station, parent)
        link(setup_station, "SB99999", child)
        response = setup_station.post("/api/v1/scans/undo", json={"code": child})
        assert response.status_code == 200, response.get_json()

        results = race(pool, [child_call(first, parents[0], child),
                              child_call(second, parents[1], child)])

        assert sorted(status for status, _ in results) == [201, 409], (rep, results)
        winner = next(i for i, (status, _) in enumerate(results) if status == 201)
        assert results[1 - winner][1]["error"]["code"] == "child_in_other_parent"
        assert results[1 - winner][1]["error"]["other_parent"] == parents[winner]
        assert bag(child)["parent"] == parents[winner]
        invariants()


@pytest.mark.parametrize("capacity", [5])
def test_ten_children_into_the_last_place(pool, stations, setup_station):
    racers = stations(10)
    for rep in range(REPEAT):
        parent = f"SB{rep:05d}"
        create_parent(setup_station, parent)
        for slot in range(4):
            link(setup_station, parent, f"F{rep:04d}{slot:02d}")

        results = race(pool, [child_call(client, parent, f"R{rep:04d}{n:02d}")
                              for n, client in enumerate(racers)])

        assert all(status != 500 for status, _ in results), results
        linked = [body for status, body in results if status == 201]
        assert len(linked) == 1, (rep, results)
        assert linked[0]["result"] == "linked"
        assert linked[0]["parent"]["status"] == "complete"
        refused = Counter(body["error"]["code"] for status, body in results if status != 201)
        assert sum(refused.values()) == 9
        assert set(refused) <= {"parent_full", "parent_complete"}, refused
        assert all(status == 409 for status, _ in results if status != 201), results
        assert bag(parent)["child_count"] == 5
        assert bag(parent)["status"] == "complete"
        assert scalar("SELECT count(*) FROM bags WHERE code LIKE :prefix",
                      prefix=f"R{rep:04d}%") == 1
        assert scalar("SELECT count(*) FROM scan_events e JOIN bags p ON p.id = e.parent_id"
                      " WHERE p.code = :code AND e.action = 'complete'", code=parent) == 1
        invariants()


def test_same_child_into_the_same_parent_twice_at_once(pool, stations, setup_station):
    first, second = stations(2)
    for rep in range(REPEAT):
        parent = f"SB{rep:05d}"
        child = f"D{rep:06d}"
        create_parent(setup_station, parent)

        results = race(pool, [child_call(first, parent, child), child_call(second, parent, child)])

        assert sorted((status, body.get("result")) for status, body in results) == [
            (200, "already_linked"), (201, "linked")], (rep, results)
        assert bag(parent)["child_count"] == 1
        assert bag(child)["parent"] == parent
        # One link; the other scan is recorded as what it was (issue 27).
        assert scalar("SELECT count(*) FROM scan_events WHERE code = :code"
                      " AND outcome = 'accepted' AND result = 'linked'", code=child) == 1
        assert scalar("SELECT count(*) FROM scan_events WHERE code = :code"
                      " AND outcome = 'accepted' AND result = 'already_linked'", code=child) == 1
        invariants()


def test_two_stations_create_the_same_parent_at_once(pool, stations):
    first, second = stations(2)
    for rep in range(REPEAT):
        parent = f"M444-{rep:05d}"
        call = "/api/v1/scans/parent", {"code": parent}

        results = race(pool, [(first, *call), (second, *call)])

        assert sorted((status, body.get("result")) for status, body in results) == [
            (200, "parent_opened"), (201, "parent_created")], (rep, results)
        assert all(body["parent"]["code"] == parent for _, body in results)
        assert scalar("SELECT count(*) FROM bags WHERE code = :code", code=parent) == 1
        assert bag(parent) == {"kind": "parent", "status": "open", "child_count": 0,
                               "parent": None}
        invariants()
