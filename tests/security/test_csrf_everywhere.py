"""Issue 10, item 2: every state-changing route (every POST, PUT, PATCH and DELETE of the
access matrix) refuses a missing or wrong CSRF token with 400 csrf_failed and changes
nothing; with the right token the same request does what the matrix says. No route is
exempt unless CSRF_EXEMPT says why."""

from __future__ import annotations

import pytest

from app.extensions import csrf
from tests.helpers import (assert_unchanged, build_world, csrf_login,
                                 page_csrf_token, snapshot)
from tests.security.support import (ROUTES, UNSAFE_METHODS, answer_matches, send,
                                    url_map_routes)

# (rule, method) -> why it may change state without a CSRF token. None today: even /login
# and /logout check it (login CSRF would log a victim into the attacker's account).
CSRF_EXEMPT: dict[tuple[str, str], str] = {}

UNSAFE = sorted(key for key in ROUTES if key[1] in UNSAFE_METHODS and key not in CSRF_EXEMPT)
CSRF_MESSAGE = "security token is missing or has expired"


def test_no_route_is_exempt_without_a_reason(app):
    for key, reason in CSRF_EXEMPT.items():
        assert reason.strip(), f"{key} is exempt from CSRF without a reason"
    allowed_endpoints = {rule.endpoint for rule in app.url_map.iter_rules()
                         if any((rule.rule, method) in CSRF_EXEMPT for method in rule.methods)}
    allowed_views = {f"{view.__module__}.{view.__name__}"
                     for endpoint, view in app.view_functions.items()
                     if endpoint in allowed_endpoints}
    allowed_blueprints = {endpoint.split(".")[0] for endpoint in allowed_endpoints}
    exempt_views = set(csrf._exempt_views)
    exempt_blueprints = {blueprint.name for blueprint in csrf._exempt_blueprints}
    assert exempt_views <= allowed_views, f"CSRF-exempt views not in CSRF_EXEMPT: {exempt_views}"
    assert exempt_blueprints <= allowed_blueprints, (
        f"CSRF-exempt blueprints not in CSRF_EXEMPT: {exempt_blueprints}")


def test_every_unsafe_route_is_checked(app):
    unsafe_routes = {key for key in url_map_routes(app) if key[1] in UNSAFE_METHODS}
    unchecked = unsafe_routes - set(UNSAFE) - set(CSRF_EXEMPT)
    assert not unchecked, f"state-changing routes without a CSRF check here: {unchecked}"


def _role_for(rule: str, method: str) -> str:
    """Who may make this request: the one whose answer is not a refusal (admin may do all)."""
    return "anonymous" if rule == "/login" else "admin"


@pytest.fixture
def csrf_app(make_app):
    application = make_app(WTF_CSRF_ENABLED=True)
    with application.app_context():
        yield application


def _client(application, role: str):
    client = application.test_client()
    token = None
    if role != "anonymous":
        token = csrf_login(client, f"the-{role}")
    else:
        token = page_csrf_token(client)
    return client, token


def _with_token(route, token: str | None, place: str):
    """The same request with `token` in the header (JSON) or the form field (forms)."""
    from dataclasses import replace

    if token is None:
        return route, {}
    if place == "header" or route.json is not None:
        return route, {"X-CSRFToken": token}
    return replace(route, form={**(route.form or {}), "csrf_token": token}), {}


def _send(client, route, world, method, headers):
    if not headers:
        return send(client, route, world, method)
    original = client.open

    def open_with_headers(*args, **kwargs):
        return original(*args, headers=headers, **kwargs)

    client.open = open_with_headers
    try:
        return send(client, route, world, method)
    finally:
        client.open = original


def _assert_csrf_refused(response, path: str, token: str) -> None:
    assert response.status_code == 400, (token, response.status_code,
                                         response.get_data(as_text=True)[:300])
    if path.startswith("/api/"):
        error = response.get_json()["error"]
        assert error["code"] == "csrf_failed"
        assert CSRF_MESSAGE in error["message"]
    else:
        body = response.get_data(as_text=True)
        assert 'data-error-code="csrf_failed"' in body
        assert CSRF_MESSAGE in body


@pytest.mark.parametrize(("rule", "method"), UNSAFE, ids=[f"{m} {r}" for r, m in UNSAFE])
def test_a_missing_or_wrong_token_is_refused_and_changes_nothing(
        csrf_app, make_user, rule, method):
    world = build_world(make_user, csrf_app)
    client, _ = _client(csrf_app, _role_for(rule, method))
    wrong_tokens = {"missing": None, "garbage": "not-a-token",
                    "another session's": _client(csrf_app, "staff")[1]}

    for name, token in wrong_tokens.items():
        route, headers = _with_token(ROUTES[(rule, method)], token, "form")
        before = snapshot()

        response = _send(client, route, world, method, headers)

        _assert_csrf_refused(response, route.path, name)
        assert_unchanged(before, snapshot())


@pytest.mark.parametrize(("rule", "method"), UNSAFE, ids=[f"{m} {r}" for r, m in UNSAFE])
def test_the_right_token_lets_the_same_request_through(csrf_app, make_user, rule, method):
    """The refusals above are about the token alone: with it, the request does its work."""
    world = build_world(make_user, csrf_app)
    role = _role_for(rule, method)
    client, token = _client(csrf_app, role)
    route = ROUTES[(rule, method)]
    route, headers = _with_token(route, token, "form")

    response = _send(client, route, world, method, headers)

    expected = route.expected(role)
    assert answer_matches(response, expected), (
        f"{method} {route.path}: expected {expected}, got {response.status_code} "
        f"{response.get_data(as_text=True)[:300]}")


def test_a_form_token_also_works_as_a_header(csrf_app, make_user):
    """The station's JavaScript sends X-CSRFToken on form-encoded posts too."""
    world = build_world(make_user, csrf_app)
    client, token = _client(csrf_app, "staff")
    route, headers = _with_token(ROUTES[("/scan", "POST")], token, "header")

    response = _send(client, route, world, "POST", headers)

    assert response.status_code == 302
