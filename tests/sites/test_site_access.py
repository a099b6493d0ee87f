"""Issue 21, the access matrix of sites: generated from app.url_map, every route that takes
an identifier of something that belongs to a site (a bag, dispatch, import, job, label
series, user), asked by a user of MAIN for FAR's object, answers 404 as if it were absent
(pages and API), and changes nothing; lists never show FAR's rows. The concrete request of
each route is its row of the access matrix (tests/security/support.py ROUTES), whose
identifiers build_world made, here in FAR."""

from __future__ import annotations

import pytest

from app.extensions import db
from tests.helpers import assert_unchanged, log_in, snapshot
from tests.security.support import LOGIN, ROUTES, send, url_map_routes
from tests.sites.support import two_sites

# Routes whose identifier names nothing that belongs to a site.
NOT_SITE_OWNED = {
    "/static/<path:filename>",      # a file
    "/sites/<code>",                # a site itself (admins manage every site)
    "/api/v1/sites/<code>",
    "/account/tokens/<int:token_id>/revoke",  # a token is its user's, wherever they work
}
ROLE_ORDER = ("staff", "supervisor", "admin")


def identifier_routes(app) -> list[tuple[str, str]]:
    return sorted((rule, method) for rule, method in url_map_routes(app)
                  if "<" in rule and rule not in NOT_SITE_OWNED)


def allowed_role(rule: str, method: str) -> str:
    """The lowest role the matrix lets in (its answer there is not a refusal)."""
    route = ROUTES[(rule, method)]
    for role in ROLE_ORDER:
        if route.expected(role) not in (LOGIN, 401, 403, 404):
            return role
    raise AssertionError(f"nobody may use {method} {rule}")


def test_the_matrix_covers_every_identifier_route(app):
    """A new route with an identifier gets a row in ROUTES (and so here) or is declared
    not site-owned above; the list is not empty."""
    routes = identifier_routes(app)
    assert len(routes) > 40
    assert not [route for route in routes if route not in ROUTES]


def pytest_generate_tests(metafunc):
    if "identifier_route" in metafunc.fixturenames:
        from app import create_app

        application = create_app("testing", {"SQLALCHEMY_DATABASE_URI": "sqlite://"})
        routes = identifier_routes(application)
        metafunc.parametrize("identifier_route", routes,
                             ids=[f"{method} {rule}" for rule, method in routes])


def test_another_sites_object_answers_404(app, make_user, identifier_route):
    rule, method = identifier_route
    sites = two_sites(make_user, app)
    role = allowed_role(rule, method)
    client = app.test_client()
    assert log_in(client, f"a-{role}").status_code == 302
    before = snapshot()

    response = send(client, ROUTES[(rule, method)], sites.world, method)

    assert response.status_code == 404, (
        f"{method} {rule} as a MAIN {role} for FAR's object: {response.status_code} "
        f"{response.get_data(as_text=True)[:300]}")
    if rule.startswith("/api/"):
        assert response.get_json()["error"]["code"].endswith("not_found")
    after = snapshot()
    # A refused request writes nothing, but a refused scan keeps its refusal (the history).
    for name in ("scan_events", "scan_counts"):
        before.pop(name), after.pop(name)
    assert_unchanged(before, after)


# FAR's codes, dispatches, people and file (not SB00001 or 0016586: the pages' examples).
FAR_MARKS = ("SB00003", "SB00005", "SB00006", "0033333", "0055555", "0066666", "D000001",
             "D000002", "the-staff", "the-supervisor", "bags.csv")
LISTS = [("supervisor", "/bags"), ("supervisor", "/bags?kind=child"),
         ("supervisor", "/api/v1/bags"), ("supervisor", "/bags/export.csv"),
         ("supervisor", "/dispatches"), ("supervisor", "/api/v1/dispatches"),
         ("supervisor", "/dashboard"), ("supervisor", "/api/v1/dashboard/stats"),
         ("supervisor", "/api/v1/dashboard/activity"), ("supervisor", "/jobs"),
         ("supervisor", "/imports"), ("supervisor", "/labels"), ("admin", "/audit"),
         ("admin", "/users"), ("admin", "/api/v1/users"), ("staff", "/scan"),
         ("supervisor", "/bags/find?code=SB0000")]


@pytest.mark.parametrize(("role", "path"), LISTS, ids=[path for _role, path in LISTS])
def test_lists_never_show_another_sites_rows(app, make_user, role, path):
    two_sites(make_user, app)
    client = app.test_client()
    assert log_in(client, f"a-{role}").status_code == 302

    response = client.get(path)

    assert response.status_code in (200, 302, 404), response.status_code
    body = response.get_data(as_text=True) + response.headers.get("Location", "")
    shown = [mark for mark in FAR_MARKS if mark in body]
    assert not shown, f"{path} shows FAR's {shown}"


def test_main_lists_show_mains_own_rows(app, make_user):
    """The lists above are not merely empty: MAIN's parent is there."""
    two_sites(make_user, app)
    client = app.test_client()
    assert log_in(client, "a-supervisor").status_code == 302
    codes = [item["code"] for item in client.get("/api/v1/bags").get_json()["items"]]
    assert sorted(codes) == ["0909001", "SB09001"]
    assert "SB09001" in client.get("/bags/export.csv").get_data(as_text=True)
    stats = client.get("/api/v1/dashboard/stats").get_json()
    assert stats["parents"] == {"open": 1, "complete": 0}
    assert stats["children"]["linked"] == 1


def test_an_admin_sees_another_site_only_by_switching_to_it(app, make_user):
    sites = two_sites(make_user, app)
    client = app.test_client()
    assert log_in(client, "a-admin").status_code == 302
    assert client.get("/api/v1/bags/SB00001").status_code == 404

    switched = client.post("/api/v1/session/site", json={"site": "FAR"})

    assert switched.status_code == 200, switched.get_json()
    assert switched.get_json() == {"result": "switched", "site": sites.far.to_dict()}
    assert client.get("/api/v1/bags/SB00001").status_code == 200
    assert client.get("/api/v1/bags/SB09001").status_code == 404
    db.session.rollback()


def test_a_user_cannot_switch_to_a_site_they_do_not_work_in(app, make_user):
    two_sites(make_user, app)
    client = app.test_client()
    assert log_in(client, "a-supervisor").status_code == 302

    refused = client.post("/api/v1/session/site", json={"site": "FAR"})
    unknown = client.post("/api/v1/session/site", json={"site": "NOPE"})

    assert refused.status_code == unknown.status_code == 404
    assert refused.get_json()["error"]["code"] == "site_not_found"
    assert client.get("/api/v1/bags/SB09001").status_code == 200  # still at MAIN
