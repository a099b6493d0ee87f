"""Issue 21, item 6: API tokens limited to sites. A bearer request works in one site: the one
its X-Site header names, else its user's default, among the sites the token is limited to
that its user works in today (never the site of a cookie sent along); anything else is
403 site_not_allowed."""

from __future__ import annotations

from app.auth import tokens
from app.extensions import db
from app.models import UserSite
from tests.helpers import PASSWORD, log_in
from tests.sites.support import two_sites


def token_of(user, sites=None) -> dict:
    _, text = tokens.create_token(user, "erp", ["bags:read", "scan"], None, PASSWORD, sites)
    db.session.commit()
    return {"Authorization": f"Bearer {text}"}


def both_sites(make_user, app):
    sites = two_sites(make_user, app)
    user = make_user("roamer", "supervisor")
    db.session.add(UserSite(user_id=user.id, site_id=sites.far.id))
    db.session.commit()
    return sites, user


def codes(client, headers) -> set[str]:
    response = client.get("/api/v1/bags?kind=parent", headers=headers)
    assert response.status_code == 200, response.get_json()
    return {item["code"] for item in response.get_json()["items"]}


def test_a_token_limited_to_one_site_works_there_only(app, make_user):
    _sites, user = both_sites(make_user, app)
    headers = token_of(user, ["far"])
    client = app.test_client()

    assert "SB00002" in codes(client, headers) and "SB09001" not in codes(client, headers)
    refused = client.get("/api/v1/bags", headers={**headers, "X-Site": "MAIN"})
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "site_not_allowed"
    assert refused.get_json()["error"]["allowed"] == ["FAR"]
    scanned = client.post("/api/v1/scans/parent", json={"code": "SB09001"}, headers=headers)
    assert scanned.get_json()["error"]["code"] == "bag_at_other_site"


def test_an_unlimited_token_takes_the_site_its_header_names(app, make_user):
    _sites, user = both_sites(make_user, app)
    headers = token_of(user)
    client = app.test_client()

    assert codes(client, headers) == {"SB09001"}  # the user's default site, MAIN
    assert "SB00002" in codes(client, {**headers, "X-Site": "far"})
    assert client.get("/api/v1/bags", headers={**headers, "X-Site": "MOON"}).status_code == 403


def test_the_cookies_site_never_leaks_into_a_token_request(app, make_user):
    _sites, user = both_sites(make_user, app)
    headers = token_of(user, ["MAIN"])
    client = app.test_client()
    assert log_in(client, "roamer").status_code == 302
    assert client.post("/api/v1/session/site", json={"site": "FAR"}).status_code == 200

    assert codes(client, headers) == {"SB09001"}


def test_a_user_taken_out_of_a_site_takes_their_tokens_out_too(app, make_user):
    sites, user = both_sites(make_user, app)
    headers = token_of(user, ["FAR"])
    db.session.query(UserSite).filter_by(user_id=user.id, site_id=sites.far.id).delete()
    db.session.commit()

    answer = app.test_client().get("/api/v1/bags", headers=headers)

    assert answer.status_code == 403
    assert answer.get_json()["error"]["code"] == "site_not_allowed"


def test_a_token_cannot_be_limited_to_a_site_its_user_does_not_work_in(app, make_user):
    two_sites(make_user, app)
    user = make_user("homebody", "supervisor")
    try:
        tokens.create_token(user, "erp", ["bags:read"], None, PASSWORD, ["FAR"])
    except Exception as error:  # noqa: BLE001 - the refusal itself is the subject
        assert getattr(error, "code", None) == "invalid_input"
        assert error.details["field"] == "sites"
    else:
        raise AssertionError("a token was limited to a site its user does not work in")
    db.session.rollback()


def test_a_token_never_switches_the_site_of_a_cookie_sent_along(app, make_user):
    """POST /api/v1/session/site with a token is judged by the token alone: it names a site
    the token may work in (as X-Site does) and writes no session. Before, it switched the
    cookie's session to any site of the token's user: a supervisor of MAIN only, holding a
    colleague's scan-only token, worked in FAR with all of a supervisor's rights."""
    _sites, roamer = both_sites(make_user, app)
    make_user("homebody", "supervisor")  # works in MAIN only
    scan_only = token_of(roamer)
    client = app.test_client()
    assert log_in(client, "homebody").status_code == 302

    switched = client.post("/api/v1/session/site", json={"site": "FAR"}, headers=scan_only)

    assert switched.status_code == 200, switched.get_json()
    assert codes(client, {}) == {"SB09001"}  # the cookie's session still works in MAIN
    assert client.get("/api/v1/bags/SB00002").status_code == 404


def test_a_token_limited_to_one_site_cannot_switch_to_another(app, make_user):
    _sites, user = both_sites(make_user, app)
    client = app.test_client(use_cookies=False)

    refused = client.post("/api/v1/session/site", json={"site": "FAR"},
                          headers=token_of(user, ["MAIN"]))

    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "site_not_allowed"
    assert "Set-Cookie" not in refused.headers
    allowed = client.post("/api/v1/session/site", json={"site": "MAIN"},
                          headers=token_of(user, ["MAIN"]))
    assert allowed.status_code == 200
    assert "Set-Cookie" not in allowed.headers
