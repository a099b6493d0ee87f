"""Issue 21: a transfer received at its destination while the sender tries to take the same
parent back off it (reopen the dispatch, then unload the parent), at the same moment, on
PostgreSQL with real threads, 50 times. The dispatch's row lock orders them: the parent is
either received at FAR (and in FAR's stock with its children) or unloaded at MAIN (and still
MAIN's), never both and never neither; the counts and the bag invariants hold."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import text

from app.extensions import db
from app.scanning import services as scanning
from app.scanning.transaction import run_scan
from tests.helpers import check_invariants, log_in, pg_only
from tests.sites.support import make_site

pytestmark = pg_only

REPEAT = 50
TIMEOUT = 30


def receive(client, barrier, code, parent):
    barrier.wait(timeout=TIMEOUT)
    return client.post(f"/api/v1/dispatches/{code}/receive", json={"code": parent})


def take_back(client, barrier, code, parent):
    """The sender's way to take a parent off a dispatch that has left: reopen, unload."""
    barrier.wait(timeout=TIMEOUT)
    reopened = client.post(f"/api/v1/dispatches/{code}/reopen", json={"reason": "wrong truck"})
    if reopened.status_code != 200:
        return reopened
    return client.post(f"/api/v1/dispatches/{code}/unload", json={"code": parent})


def test_receive_and_unload_of_one_parent_at_once(app, make_user):
    far = make_site()
    sender = make_user("ms", "supervisor")
    receiver = make_user("fs", "supervisor")
    receiver.memberships[0].site_id = far.id
    db.session.commit()
    main, far_client = app.test_client(), app.test_client()
    assert log_in(main, "ms").status_code == 302
    assert log_in(far_client, "fs").status_code == 302
    outcomes = {"received": 0, "unloaded": 0}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for number in range(REPEAT):
            parent, code = f"SB{number + 200:05d}", f"T{number:05d}"
            run_scan(scanning.scan_parent, sender, parent)
            run_scan(scanning.scan_child, sender, parent, f"R{number:06d}")
            run_scan(scanning.complete_parent, sender, parent, force=True)
            db.session.commit()
            assert main.post("/api/v1/dispatches", json={
                "code": code, "destination_site": "FAR", "vehicle_number": "MH12AB1234",
                "expected_parents": 1}).status_code == 201
            assert main.post(f"/api/v1/dispatches/{code}/parents",
                             json={"code": parent}).status_code == 201
            assert main.post(f"/api/v1/dispatches/{code}/dispatch", json={}).status_code == 200
            barrier = threading.Barrier(2)
            received = pool.submit(receive, far_client, barrier, code, parent)
            unloaded = pool.submit(take_back, main, barrier, code, parent)
            got, back = received.result(timeout=TIMEOUT), unloaded.result(timeout=TIMEOUT)
            ok = (got.status_code == 200, back.status_code == 200)
            assert ok in ((True, False), (False, True)), (got.get_json(), back.get_json())
            site = db.session.execute(text(
                "SELECT s.code FROM bags b JOIN sites s ON s.id = b.site_id "
                "WHERE b.code = :code"), {"code": parent}).scalar()
            children_sites = db.session.execute(text(
                "SELECT DISTINCT s.code FROM bags c JOIN bags p ON p.id = c.parent_id "
                "JOIN sites s ON s.id = c.site_id WHERE p.code = :code"),
                {"code": parent}).scalars().all()
            loaded = db.session.execute(text(
                "SELECT parents_loaded FROM dispatches WHERE code = :code"),
                {"code": code}).scalar()
            db.session.rollback()
            if ok[0]:
                outcomes["received"] += 1
                assert (site, children_sites, loaded) == ("FAR", ["FAR"], 1)
            else:
                outcomes["unloaded"] += 1
                assert back.get_json()["result"] == "unloaded"
                assert (site, children_sites, loaded) == ("MAIN", ["MAIN"], 0)
    check_invariants()
    assert sum(outcomes.values()) == REPEAT
    print("transfer race outcomes:", outcomes)
