"""Issue 10, item 1: the access matrix. Every rule and method of app.url_map has one row in
ROUTES (tests/security/support.py): a concrete request and the answer expected for
anonymous, staff, supervisor and admin (DESIGN.md sections 1 and 6). A route added without
a row fails test_every_route_has_a_row; a row whose route is gone fails too.

Answers: "login" = a redirect to /login (pages); 401/403 = refused (JSON under /api, a page
elsewhere); "2xx"/"3xx" = served; an exact number where the answer is known exactly. A
refused request, and every GET, changes nothing in the database."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.helpers import ROLES, assert_unchanged, build_world, plain_login, snapshot
from tests.security.support import LOGIN, ROUTES, answer_matches, send, url_map_routes


def test_every_route_has_a_row(app):
    """A route added to the app without a row in ROUTES fails here: decide who may use it."""
    missing = sorted(url_map_routes(app) - set(ROUTES))
    assert not missing, f"routes without a row in ROUTES (add them to tests/security/support.py): {missing}"


def test_every_row_is_a_route(app):
    stale = sorted(set(ROUTES) - url_map_routes(app))
    assert not stale, f"rows in ROUTES whose route is gone: {stale}"


def test_the_matrix_fails_for_a_route_added_without_a_row(make_app):
    application = make_app()
    application.add_url_rule("/surprise", "surprise", lambda: "hi", methods=["GET", "POST"])

    missing = url_map_routes(application) - set(ROUTES)

    assert missing == {("/surprise", "GET"), ("/surprise", "POST")}


CASES = [(rule, method, role) for (rule, method) in sorted(ROUTES) for role in ROLES]


@pytest.mark.parametrize(("rule", "method", "role"), CASES,
                         ids=[f"{method} {rule} {role}" for rule, method, role in CASES])
def test_access_matrix(app, make_user, rule, method, role):
    world = build_world(make_user, app)
    client = app.test_client()
    plain_login(client, role)
    route = ROUTES[(rule, method)]
    expected = route.expected(role)
    before = snapshot()

    response = send(client, route, world, method)

    assert answer_matches(response, expected), (
        f"{method} {route.path} as {role}: expected {expected}, got "
        f"{response.status_code} {response.headers.get('Location', '')} "
        f"{response.get_data(as_text=True)[:300]}")
    if response.status_code in (401, 403) and urlsplit(route.path).path.startswith("/api/"):
        error = response.get_json()["error"]
        assert error["code"] == {401: "unauthorized", 403: "forbidden"}[response.status_code]
        assert error["message"]
    elif response.status_code == 403 and rule != "/metrics":
        assert "Your role may not do this" in response.get_data(as_text=True)
    refused = expected in (LOGIN, 401, 403) or (role == "staff" and expected == 404)
    if refused or method == "GET":
        after = snapshot()
        if route.audits and not refused:  # the download's own audit row, nothing else
            before.pop("audit_events")
            after.pop("audit_events")
        assert_unchanged(before, after)
