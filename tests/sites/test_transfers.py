"""Issue 21, transfers: a dispatch whose destination is a site. Ten parents loaded at MAIN,
dispatched, received at FAR by scanning each one as it comes off: they and their children
move to FAR, the events show in both sites' timelines (the dispatch's and each parent's), a
parent in transit is in neither site's lists, the missing ones are listed until the last is
in, and the transfer is then `received`."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Bag, Site
from app.scanning import services as scanning
from app.scanning.transaction import run_scan
from tests.helpers import check_invariants, log_in
from tests.sites.support import make_site

PARENTS = [f"SB{number:05d}" for number in range(101, 111)]


@pytest.fixture
def transfer(app, make_user):
    """FAR, a MAIN supervisor (ms), a FAR supervisor (fs), ten complete parents of two
    children each at MAIN, and transfer T000001 to FAR with the ten loaded."""
    far = make_site()
    sender = make_user("ms", "supervisor")
    receiver = make_user("fs", "supervisor")
    receiver.memberships[0].site_id = far.id
    db.session.commit()
    for number, parent in enumerate(PARENTS):
        run_scan(scanning.scan_parent, sender, parent)
        for child in range(2):
            run_scan(scanning.scan_child, sender, parent, f"T{number:03d}{child:03d}")
        run_scan(scanning.complete_parent, sender, parent, force=True)
    main = app.test_client()
    assert log_in(main, "ms").status_code == 302
    created = main.post("/api/v1/dispatches", json={
        "code": "T000001", "destination_site": "far", "vehicle_number": "MH12AB1234",
        "expected_parents": 10})
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["dispatch"]["destination_site"] == "FAR"
    assert created.get_json()["dispatch"]["destination"] == "FAR"
    for parent in PARENTS:
        assert main.post("/api/v1/dispatches/T000001/parents",
                         json={"code": parent}).status_code == 201
    far_client = app.test_client()
    assert log_in(far_client, "fs").status_code == 302
    db.session.rollback()
    return main, far_client, far


def site_of(code: str) -> str:
    db.session.rollback()
    return db.session.scalar(select(Site.code).join(Bag, Bag.site_id == Site.id)
                             .where(Bag.code == code))


def test_ten_parents_received_by_scanning_move_to_the_destination(transfer):
    main, far_client, far = transfer
    assert far_client.post("/api/v1/dispatches/T000001/receive",
                           json={"code": PARENTS[0]}).get_json()["error"]["code"] \
        == "dispatch_not_dispatched"
    assert main.post("/api/v1/dispatches/T000001/dispatch", json={}).status_code == 200

    # In transit: in neither site's lists; the transfer is in both.
    for client in (main, far_client):
        codes = {item["code"] for item in client.get("/api/v1/bags?kind=parent").get_json()["items"]}
        assert not codes & set(PARENTS)
        listed = [item["code"] for item in client.get("/api/v1/dispatches").get_json()["items"]]
        assert listed == ["T000001"]
    assert main.post("/api/v1/dispatches/T000001/receive",
                     json={"code": PARENTS[0]}).get_json()["error"]["code"] == "not_destination"

    for number, parent in enumerate(PARENTS):
        answer = far_client.post("/api/v1/dispatches/T000001/receive", json={"code": parent})
        assert answer.status_code == 200, answer.get_json()
        body = answer.get_json()
        assert body["result"] == "received"
        assert body["parent"]["code"] == parent
        shown = far_client.get("/api/v1/dispatches/T000001").get_json()
        assert shown["missing"] == PARENTS[number + 1:]
        assert shown["received"] == PARENTS[:number + 1]
        assert shown["status"] == ("received" if number == 9 else "dispatched")

    again = far_client.post("/api/v1/dispatches/T000001/receive", json={"code": PARENTS[0]})
    assert again.get_json()["result"] == "already_received"
    assert {site_of(code) for code in PARENTS} == {"FAR"}
    assert {site_of(f"T{number:03d}{child:03d}") for number in range(10)
            for child in range(2)} == {"FAR"}
    check_invariants()

    # FAR's stock now; not MAIN's.
    far_codes = {item["code"] for item in far_client.get("/api/v1/bags").get_json()["items"]}
    assert set(PARENTS) <= far_codes and "T000000" in far_codes
    assert main.get(f"/api/v1/bags/{PARENTS[0]}").status_code == 404
    # Both timelines: the dispatch's (seen at both sites) and the parent's (at FAR, its
    # whole history: scanned and loaded at MAIN, received at FAR).
    for client in (main, far_client):
        actions = [event["action"] for event in
                   client.get("/api/v1/dispatches/T000001").get_json()["events"]]
        assert actions.count("dispatch_load") == 10 and actions.count("received") == 11
        assert "dispatched" in actions
    history = [event["action"] for event in
               far_client.get(f"/api/v1/bags/{PARENTS[0]}").get_json()["events"]]
    assert history[0] == "parent_scan" and "dispatch_load" in history
    assert history[-1] == "received"
    # The children now change at FAR like any of its bags (no longer held by the dispatch).
    reopened = far_client.post(f"/api/v1/parents/{PARENTS[0]}/reopen", json={})
    assert reopened.status_code == 200, reopened.get_json()


def test_the_destination_only_receives(transfer):
    main, far_client, _far = transfer
    refused = far_client.post("/api/v1/dispatches/T000001/unload", json={"code": PARENTS[0]})
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "not_at_origin"


def test_a_parent_not_on_the_transfer_is_refused(transfer):
    main, far_client, _far = transfer
    assert main.post("/api/v1/dispatches/T000001/dispatch", json={}).status_code == 200
    answer = far_client.post("/api/v1/dispatches/T000001/receive", json={"code": "SB09999"})
    assert answer.status_code == 409
    assert answer.get_json()["error"]["code"] == "parent_not_on_dispatch"


def test_a_transfer_to_its_own_site_or_nowhere_is_refused(transfer):
    main, _far_client, _far = transfer
    body = {"vehicle_number": "MH12AB1234", "expected_parents": 1}
    own = main.post("/api/v1/dispatches", json={**body, "destination_site": "MAIN"})
    nowhere = main.post("/api/v1/dispatches", json={**body, "destination_site": "MOON"})
    assert own.status_code == nowhere.status_code == 422
    assert own.get_json()["error"]["field"] == "destination_site"


def test_the_receiving_page_scans_and_lists_the_missing(transfer):
    main, far_client, _far = transfer
    assert main.post("/api/v1/dispatches/T000001/dispatch", json={}).status_code == 200
    page = far_client.get("/dispatches/T000001/receive").get_data(as_text=True)
    assert all(f'data-code="{code}"' in page for code in PARENTS)

    posted = far_client.post("/dispatches/T000001/receive",
                             data={"receive-code": PARENTS[3].lower()})

    assert posted.status_code == 302
    page = far_client.get("/dispatches/T000001/receive").get_data(as_text=True)
    missing = page[page.index('id="missing"'):page.index('id="received"')]
    assert PARENTS[3] not in missing and PARENTS[4] in missing
    assert "received from T000001" in page


def test_a_transfer_partly_received_cannot_be_reopened(transfer):
    """Reopened, it went back to loading with a parent already at FAR: the origin could then
    cancel it (a cancelled dispatch with a received parent) or load more than it expects."""
    main, far_client, _far = transfer
    assert main.post("/api/v1/dispatches/T000001/dispatch", json={}).status_code == 200
    assert far_client.post("/api/v1/dispatches/T000001/receive",
                           json={"code": PARENTS[0]}).status_code == 200

    refused = main.post("/api/v1/dispatches/T000001/reopen", json={"reason": "wrong truck"})

    assert refused.status_code == 409, refused.get_json()
    assert refused.get_json()["error"]["code"] == "dispatch_partly_received"
    assert refused.get_json()["error"]["received"] == 1
    assert main.get("/api/v1/dispatches/T000001").get_json()["status"] == "dispatched"


def test_a_transfer_whose_last_parent_in_transit_is_returned_is_received(transfer):
    """Nine received, the tenth taken back at the origin as a return: nothing is missing, so
    the transfer is received (before, it stayed dispatched with nothing missing, for ever)."""
    main, far_client, _far = transfer
    assert main.post("/api/v1/dispatches/T000001/dispatch", json={}).status_code == 200
    for parent in PARENTS[:-1]:
        assert far_client.post("/api/v1/dispatches/T000001/receive",
                               json={"code": parent}).status_code == 200

    returned = main.post("/api/v1/dispatches/T000001/returns",
                         json={"parent": PARENTS[-1], "reason": "fell off the truck"})

    assert returned.status_code == 200, returned.get_json()
    assert returned.get_json()["dispatch"]["status"] == "received"
    assert returned.get_json()["dispatch"]["received_at"] is not None
    detail = far_client.get("/api/v1/dispatches/T000001").get_json()
    assert detail["status"] == "received" and detail["missing"] == []
    assert detail["returned"] == [PARENTS[-1]]
    assert site_of(PARENTS[-1]) == "MAIN"


def test_a_transfer_coming_in_is_not_the_destinations_dispatch_out(transfer):
    """The dashboard's dispatch card counts what leaves the site: a transfer on its way in
    is not FAR's loading, dispatched or parents out (before, FAR counted MAIN's truck)."""
    main, far_client, _far = transfer
    card = lambda client: client.get("/api/v1/dashboard/stats").get_json()["dispatches"]  # noqa: E731
    assert card(main)["loading"] == 1
    assert card(far_client)["loading"] == 0

    assert main.post("/api/v1/dispatches/T000001/dispatch", json={}).status_code == 200

    out = {key: card(main)[key] for key in ("dispatched_today", "parents_out_today",
                                            "bags_out_today")}
    assert out == {"dispatched_today": 1, "parents_out_today": 10, "bags_out_today": 20}
    far = {key: card(far_client)[key] for key in ("loading", "dispatched_today",
                                                  "parents_out_today", "bags_out_today")}
    assert far == {"loading": 0, "dispatched_today": 0, "parents_out_today": 0,
                   "bags_out_today": 0}
