"""Crossed moves on PostgreSQL, with real threads: a supervisor moves X from A to B while
another moves Y from B to A at the same instant. Both lock A and B, always in id order, so
neither deadlocks into a 500; the bag invariants hold after every round."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import AuditEvent, Bag, ScanEvent
from tests.helpers import log_in, pg_only
from tests.helpers import bag, fill_parent
from tests.helpers import check_invariants

ROUNDS = 50

pytestmark = pg_only


def crossed(clients, moves) -> list[int]:
    """Send the moves at the same instant, one thread each; their HTTP statuses."""
    barrier = threading.Barrier(len(moves))
    statuses: list[int | None] = [None] * len(moves)
    errors: list[BaseException] = []

    def run(index, client, code, target):
        try:
            barrier.wait(timeout=10)
            response = client.post(f"/api/v1/bags/{code}/move",
                                   json={"parent": target, "reason": f"round move {index}"})
            statuses[index] = response.status_code
        except Exception as exc:  # noqa: BLE001 - re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, clients[i], code, target))
               for i, (code, target) in enumerate(moves)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert all(not thread.is_alive() for thread in threads), "a move hung"
    return statuses


@pytest.fixture
def supervisors(app, make_user):
    clients = []
    for name in ("sup1", "sup2"):
        make_user(name, "supervisor")
        client = app.test_client()
        assert log_in(client, name).status_code == 302
        clients.append(client)
    return clients


def where(code: str) -> str:
    child = bag(code)
    return db.session.scalar(select(Bag.code).where(Bag.id == child.parent_id))


def test_crossed_moves_neither_deadlock_nor_break_invariants(supervisors, staff):
    fill_parent(staff, "SB00001", ["0000001"])
    fill_parent(staff, "SB00002", ["0000002"])

    for round_number in range(ROUNDS):
        a, b = where("0000001"), where("0000002")
        statuses = crossed(supervisors, [("0000001", b), ("0000002", a)])

        assert statuses == [200, 200], f"round {round_number}: {statuses}"
        check_invariants()
        assert (where("0000001"), where("0000002")) == (b, a), f"round {round_number}"
        db.session.rollback()

    moves = db.session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "bag.move"))
    events = db.session.scalar(select(func.count()).select_from(ScanEvent)
                               .where(ScanEvent.action == "move"))
    assert moves == 2 * ROUNDS and events == 4 * ROUNDS  # moved_out + moved_in each


def test_crossed_moves_into_full_parents_are_both_refused(supervisors, staff):
    fill_parent(staff, "SB00001", [])
    fill_parent(staff, "SB00002", [])
    db.session.execute(update(Bag).where(Bag.kind == "parent").values(capacity=1))
    db.session.commit()
    fill_parent(staff, "SB00001", ["0000001"])
    fill_parent(staff, "SB00002", ["0000002"])
    db.session.execute(update(Bag).where(Bag.kind == "parent").values(status="open"))
    db.session.commit()

    for round_number in range(ROUNDS // 5):
        statuses = crossed(supervisors, [("0000001", "SB00002"), ("0000002", "SB00001")])

        assert statuses == [409, 409], f"round {round_number}: {statuses}"
        check_invariants()
        assert (where("0000001"), where("0000002")) == ("SB00001", "SB00002")
        db.session.rollback()


def test_moves_racing_for_the_last_place_let_exactly_one_in(supervisors, staff):
    """Two children from two parents race for the one free place in a third."""
    for round_number in range(ROUNDS // 5):
        db.session.rollback()
        target = f"SB{90 + round_number:05d}"
        fill_parent(staff, target, [f"{round_number:03d}{n:04d}" for n in range(29)])
        fill_parent(staff, f"SB{200 + round_number:05d}", [f"9{round_number:03d}001"])
        fill_parent(staff, f"SB{300 + round_number:05d}", [f"9{round_number:03d}002"])

        statuses = crossed(supervisors, [(f"9{round_number:03d}001", target),
                                         (f"9{round_number:03d}002", target)])

        assert sorted(statuses) == [200, 409], f"round {round_number}: {statuses}"
        check_invariants()
        full = bag(target)
        assert (full.child_count, full.status) == (30, "complete")
