"""Issue 21: scanning a code that belongs to another site is refused with bag_at_other_site
(DESIGN 8.7: after invalid_code, before everything of section 5), whatever the entry point
(station API, batch, undo, dispatch loading); and what a site scans is that site's."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Bag, ScanEvent
from tests.helpers import log_in
from tests.sites.support import two_sites

REFUSED = [
    ("/api/v1/scans/parent", {"code": "SB00002"}),                        # FAR's parent
    ("/api/v1/scans/child", {"parent": "SB00002", "code": "0099999"}),     # into FAR's parent
    ("/api/v1/scans/child", {"parent": "SB09001", "code": "0016586"}),     # FAR's linked child
    ("/api/v1/scans/child", {"parent": "SB09001", "code": "0055555"}),     # FAR's loose child
    ("/api/v1/scans/undo", {"code": "0016586"}),
]


@pytest.mark.parametrize(("path", "body"), REFUSED, ids=[f"{p} {b}" for p, b in REFUSED])
def test_another_sites_code_is_refused_and_nothing_changes(app, make_user, path, body):
    two_sites(make_user, app)
    client = app.test_client()
    assert log_in(client, "a-staff").status_code == 302
    bags_before = db.session.execute(select(Bag.code, Bag.site_id, Bag.parent_id,
                                            Bag.status, Bag.child_count)).all()

    response = client.post(path, json=body)

    assert response.status_code == 409, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "bag_at_other_site"
    assert "another site" in error["message"]
    db.session.rollback()
    assert db.session.execute(select(Bag.code, Bag.site_id, Bag.parent_id, Bag.status,
                                     Bag.child_count)).all() == bags_before
    kept = db.session.scalars(select(ScanEvent.result).where(ScanEvent.outcome == "rejected")
                              .order_by(ScanEvent.id.desc())).first()
    assert kept == "bag_at_other_site"  # the refusal is in the history, as every refusal


def test_invalid_code_comes_before_bag_at_other_site(app, make_user):
    two_sites(make_user, app)
    client = app.test_client()
    assert log_in(client, "a-staff").status_code == 302
    response = client.post("/api/v1/scans/child", json={"parent": "SB00002", "code": 42})
    assert response.get_json()["error"]["code"] == "invalid_code"


def test_a_batch_refuses_another_sites_child_item_by_item(app, make_user):
    two_sites(make_user, app)
    client = app.test_client()
    assert log_in(client, "a-staff").status_code == 302

    response = client.post("/api/v1/scans/batch", json={"parent": "SB09001", "items": [
        {"code": "0055555"}, {"code": "0909002"}]})

    results = response.get_json()["results"]
    assert results[0]["error"]["code"] == "bag_at_other_site"
    assert results[1]["result"] == "linked"


def test_loading_another_sites_parent_is_refused(app, make_user):
    two_sites(make_user, app)
    client = app.test_client()
    assert log_in(client, "a-supervisor").status_code == 302
    created = client.post("/api/v1/dispatches", json={
        "code": "DMAIN1", "destination": "Nagpur", "vehicle_number": "MH12AB1234",
        "expected_parents": 2})
    assert created.status_code == 201, created.get_json()

    response = client.post("/api/v1/dispatches/DMAIN1/parents", json={"code": "SB00008"})

    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "bag_at_other_site"


def test_what_a_site_scans_is_that_sites(app, make_user):
    sites = two_sites(make_user, app)
    far_client = app.test_client()
    assert log_in(far_client, "the-staff").status_code == 302  # works in FAR only

    assert far_client.post("/api/v1/scans/parent", json={"code": "SB00020"}).status_code == 201
    assert far_client.post("/api/v1/scans/child",
                           json={"parent": "SB00020", "code": "0020001"}).status_code == 201

    db.session.rollback()
    rows = dict(db.session.execute(select(Bag.code, Bag.site_id)
                                   .where(Bag.code.in_(["SB00020", "0020001"]))).all())
    assert rows == {"SB00020": sites.far.id, "0020001": sites.far.id}
    events = set(db.session.scalars(select(ScanEvent.site_id).where(
        ScanEvent.code.in_(["SB00020", "0020001"]))))
    assert events == {sites.far.id}
    main_client = app.test_client()
    assert log_in(main_client, "a-staff").status_code == 302
    assert main_client.get("/api/v1/bags/SB00020").status_code == 404
