"""Dispatch races on PostgreSQL (issue 20): real threads, each with its own test client logged
in as its own user, released together by a Barrier, REPEAT times each with fresh parents and
dispatches; after each round the database's own view is checked (one live dispatch per
parent, never more than expected, only complete parents on live dispatches)."""

from __future__ import annotations

import itertools
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from app.extensions import db
from tests.dispatch.support import complete_parent, load, new_dispatch
from tests.helpers import check_invariants, log_in, pg_only, race

pytestmark = pg_only

REPEAT = 50

DISPATCH_CHECKS = {
    "parents on more than one live dispatch":
        "SELECT count(*) FROM (SELECT parent_id FROM dispatch_items WHERE state = 'loaded'"
        " GROUP BY parent_id HAVING count(*) > 1) AS twice",
    "dispatches holding more than expected, or a count that is not their items":
        "SELECT count(*) FROM dispatches d WHERE d.parents_loaded > d.expected_parents"
        " OR d.parents_loaded <> (SELECT count(*) FROM dispatch_items i"
        " WHERE i.dispatch_id = d.id AND i.state <> 'returned')",
    "live items whose parent is not complete":
        "SELECT count(*) FROM dispatch_items i JOIN bags b ON b.id = i.parent_id"
        " WHERE i.state = 'loaded' AND b.status <> 'complete'",
}


def check_dispatch_invariants() -> None:
    db.session.rollback()
    broken = {name: db.session.execute(text(sql)).scalar_one()
              for name, sql in DISPATCH_CHECKS.items()}
    assert not any(broken.values()), broken
    check_invariants()


@pytest.fixture
def pool():
    executor = ThreadPoolExecutor(max_workers=4)
    yield executor
    executor.shutdown(wait=True)


@pytest.fixture
def clients(app, make_user):
    """Two staff loaders and a supervisor, each with a logged-in test client."""
    made = {}
    for name, role in (("loader1", "staff"), ("loader2", "staff"), ("boss", "supervisor")):
        user = make_user(name, role)
        client = app.test_client()
        assert log_in(client, name).status_code == 302
        made[name] = (user, client)
    db.session.rollback()
    return made



def outcome(status_and_body) -> tuple[int, str]:
    status, body = status_and_body
    return status, body.get("result") or body["error"]["code"]


numbers = itertools.count(1)


def test_one_parent_onto_two_dispatches_at_once(pool, clients):
    boss = clients["boss"][0]
    for _ in range(REPEAT):
        n = next(numbers)
        parent = complete_parent(boss, f"SB{n:05d}", children=1)
        first, second = f"DA{n:05d}", f"DB{n:05d}"
        new_dispatch(boss, first)
        new_dispatch(boss, second)
        db.session.rollback()

        answers = race(pool, [
            (clients["loader1"][1], f"/api/v1/dispatches/{first}/parents", {"code": parent}),
            (clients["loader2"][1], f"/api/v1/dispatches/{second}/parents", {"code": parent})])

        results = sorted(outcome(answer) for answer in answers)
        assert results == [(201, "loaded"), (409, "parent_on_other_dispatch")], answers
        winner = first if outcome(answers[0])[1] == "loaded" else second
        loser_error = next(body["error"] for status, body in answers if status == 409)
        assert loser_error["other_dispatch"] == winner
        assert winner in loser_error["message"]
        check_dispatch_invariants()


def test_the_last_place_taken_by_two_parents_at_once(pool, clients):
    boss = clients["boss"][0]
    for _ in range(REPEAT):
        n = next(numbers)
        placed = complete_parent(boss, f"SB{n:05d}", children=1)
        a = complete_parent(boss, f"SB{next(numbers):05d}", children=1)
        b = complete_parent(boss, f"SB{next(numbers):05d}", children=1)
        code = f"DL{n:05d}"
        new_dispatch(boss, code, expected=2)
        load(boss, code, placed)
        db.session.rollback()

        answers = race(pool, [
            (clients["loader1"][1], f"/api/v1/dispatches/{code}/parents", {"code": a}),
            (clients["loader2"][1], f"/api/v1/dispatches/{code}/parents", {"code": b})])

        assert sorted(outcome(answer) for answer in answers) == [
            (201, "loaded"), (409, "dispatch_full")], answers
        loaded = db.session.execute(text(
            "SELECT parents_loaded FROM dispatches WHERE code = :code"), {"code": code}).scalar()
        assert loaded == 2
        check_dispatch_invariants()


def test_a_load_racing_a_supervisors_reopen_of_that_parent(pool, clients):
    boss, boss_client = clients["boss"]
    seen = Counter()
    for _ in range(REPEAT):
        n = next(numbers)
        parent = complete_parent(boss, f"SB{n:05d}", children=1)
        code = f"DR{n:05d}"
        new_dispatch(boss, code)
        db.session.rollback()

        answers = race(pool, [
            (clients["loader1"][1], f"/api/v1/dispatches/{code}/parents", {"code": parent}),
            (boss_client, f"/api/v1/parents/{parent}/reopen", {})])

        load_answer, reopen_answer = outcome(answers[0]), outcome(answers[1])
        assert (load_answer, reopen_answer) in {
            ((201, "loaded"), (409, "parent_on_dispatch")),
            ((409, "parent_not_complete"), (200, "reopened")),
        }, answers
        if reopen_answer[1] == "parent_on_dispatch":
            assert answers[1][1]["error"]["dispatch"] == code
        seen[load_answer[1]] += 1
        check_dispatch_invariants()
    assert sum(seen.values()) == REPEAT


def test_two_supervisors_opening_dispatches_at_once_get_two_codes(pool, app, make_user):
    bosses = []
    for name in ("boss1", "boss2"):
        make_user(name, "supervisor")
        client = app.test_client()
        assert log_in(client, name).status_code == 302
        bosses.append(client)
    db.session.rollback()
    body = {"destination": "Pune", "vehicle_number": "MH12AB1234", "expected_parents": 1}
    made = []
    for _ in range(REPEAT):
        answers = race(pool, [(client, "/api/v1/dispatches", body) for client in bosses])

        assert [status for status, _ in answers] == [201, 201], answers
        codes = {answer["dispatch"]["code"] for _, answer in answers}
        assert len(codes) == 2
        made.extend(codes)
    assert len(set(made)) == 2 * REPEAT
    assert sorted(made)[-1] == f"D{2 * REPEAT:06d}"
