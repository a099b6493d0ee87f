"""Issue 21: the scan races with two sites scanning at once (PostgreSQL, real threads released
together by a Barrier, REPEAT times with fresh codes). A code is one bag at one site whatever
the timing: of two stations of different sites creating it at the same moment, one creates
it and the other is refused with bag_at_other_site; a child is always at its parent's site;
and the section 3 invariants hold after every round."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from app.extensions import db
from tests.helpers import check_invariants, log_in, pg_only, race
from tests.sites.support import make_site

pytestmark = pg_only

REPEAT = 50
CAPACITY = 60


@pytest.fixture
def app(make_app):
    application = make_app(DEFAULT_PARENT_CAPACITY=CAPACITY)
    with application.app_context():
        yield application


@pytest.fixture
def pool(app):
    executor = ThreadPoolExecutor(max_workers=8)
    yield executor
    executor.shutdown(wait=True)


@pytest.fixture
def stations(app, make_user):
    """Two staff clients at MAIN and two at FAR, logged in before any race."""
    far = make_site()
    clients = {}
    for site in ("MAIN", "FAR"):
        for number in (1, 2):
            user = make_user(f"{site.lower()}{number}", "staff")
            if site == "FAR":
                db.session.execute(text("UPDATE user_sites SET site_id = :far WHERE user_id = :id"),
                                   {"far": far.id, "id": user.id})
                db.session.commit()
            client = app.test_client()
            assert log_in(client, user.username).status_code == 302
            clients[f"{site}{number}"] = client
    db.session.rollback()
    return clients



def post(client, path, body, status):
    response = client.post(path, json=body)
    assert response.status_code == status, response.get_json()


def children_at_their_parents_site() -> int:
    count = db.session.execute(text(
        "SELECT count(*) FROM bags c JOIN bags p ON p.id = c.parent_id "
        "WHERE c.site_id <> p.site_id")).scalar()
    db.session.rollback()
    return count


def outcome(answer) -> str:
    status, body = answer
    return body["result"] if status < 400 else body["error"]["code"]


def test_one_new_parent_code_at_two_sites_at_once(pool, stations):
    for number in range(REPEAT):
        code = f"SB{number + 100:05d}"
        answers = race(pool, [
            (stations["MAIN1"], "/api/v1/scans/parent", {"code": code}),
            (stations["FAR1"], "/api/v1/scans/parent", {"code": code})])
        assert sorted(map(outcome, answers)) == ["bag_at_other_site", "parent_created"], answers
    assert db.session.execute(text("SELECT count(*) FROM bags")).scalar() == REPEAT
    db.session.rollback()
    check_invariants()


def test_one_new_child_into_parents_of_two_sites_at_once(pool, stations):
    post(stations["MAIN1"], "/api/v1/scans/parent", {"code": "SB00001"}, 201)
    post(stations["FAR1"], "/api/v1/scans/parent", {"code": "SB00002"}, 201)
    seen = set()
    for number in range(REPEAT):
        code = f"C{number:07d}"
        answers = race(pool, [
            (stations["MAIN1"], "/api/v1/scans/child", {"parent": "SB00001", "code": code}),
            (stations["FAR1"], "/api/v1/scans/child", {"parent": "SB00002", "code": code})])
        assert sorted(map(outcome, answers)) == ["bag_at_other_site", "linked"], answers
        seen.add(outcome(answers[0]))
    assert seen == {"bag_at_other_site", "linked"}, "one site always won: not a race"
    assert children_at_their_parents_site() == 0
    check_invariants()


def test_both_sites_fill_their_own_parents_at_once(pool, stations):
    """Four stations, two per site, fill one parent per site to capacity together: each
    parent takes exactly its capacity, every child at its parent's site."""
    post(stations["MAIN1"], "/api/v1/scans/parent", {"code": "SB00001"}, 201)
    post(stations["FAR1"], "/api/v1/scans/parent", {"code": "SB00002"}, 201)
    calls = []
    for number in range(35):  # 70 scans per parent for 60 places
        for name, parent, prefix in (("MAIN1", "SB00001", "A"), ("MAIN2", "SB00001", "B"),
                                     ("FAR1", "SB00002", "C"), ("FAR2", "SB00002", "D")):
            calls.append((stations[name], "/api/v1/scans/child",
                          {"parent": parent, "code": f"{prefix}{number:06d}"}))
    answers = []
    for start in range(0, len(calls), 8):
        answers += race(pool, calls[start:start + 8])
    outcomes = [outcome(answer) for answer in answers]
    assert outcomes.count("linked") == 2 * CAPACITY
    assert set(outcomes) <= {"linked", "parent_complete", "parent_full"}
    counts = dict(db.session.execute(text(
        "SELECT code, child_count FROM bags WHERE kind = 'parent'")).all())
    db.session.rollback()
    assert counts == {"SB00001": CAPACITY, "SB00002": CAPACITY}
    assert children_at_their_parents_site() == 0
    check_invariants()
