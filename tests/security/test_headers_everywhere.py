"""Issue 10, item 3: the security headers (DESIGN.md, the foundation issue) on every
response: every GET route of the access matrix, and the error answers 400, 401, 403, 404,
405, 413, 429, 500 and 503, as pages and as JSON. Content-Security-Policy without inline
script, frame-ancestors 'none', nosniff, a Referrer-Policy, and an X-Request-ID."""

from __future__ import annotations

import pytest

from tests.helpers import log_in
from tests.helpers import build_world, plain_login
from tests.helpers import assert_security_headers
from tests.security.support import ROUTES, answer_matches, send

GETS = sorted(key for key in ROUTES if key[1] == "GET")
DEAD_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"


def _allowed_role(rule: str) -> str:
    """A role the route answers; a route that sends everyone to the login page (the second
    factor's pages without a password checked first) is asked anonymously: its redirect
    must carry the headers too."""
    route = ROUTES[(rule, "GET")]
    for role in ("admin", "supervisor", "staff", "anonymous"):
        if route.expected(role) not in ("login", 401, 403, 404):
            return role
    assert all(route.expected(role) == "login" for role in
               ("admin", "supervisor", "staff", "anonymous")), f"nobody may GET {rule}"
    return "anonymous"


@pytest.mark.parametrize("rule", [rule for rule, _ in GETS])
def test_every_get_route_carries_the_security_headers(app, make_user, rule):
    world = build_world(make_user, app)
    client = app.test_client()
    role = _allowed_role(rule)
    plain_login(client, role)
    route = ROUTES[(rule, "GET")]

    response = send(client, route, world, "GET")

    assert answer_matches(response, route.expected(role)), response.status_code
    assert_security_headers(response)
    if response.mimetype == "text/html":
        assert "no-store" in response.headers["Cache-Control"]
        body = response.get_data(as_text=True)
        assert "<script>" not in body, "an inline script: the CSP would block it"
        assert ' style="' not in body, "an inline style attribute: the CSP would block it"


@pytest.mark.parametrize("role", ["anonymous", "staff"])
def test_refusals_carry_the_headers(app, make_user, role):
    build_world(make_user, app)
    client = app.test_client()
    plain_login(client, role)

    for path in ("/dashboard", "/api/v1/dashboard/stats"):
        response = client.get(path)
        assert response.status_code in (302, 401, 403)
        assert_security_headers(response)


@pytest.mark.parametrize("path", ["/no-such-page", "/api/v1/no-such-thing"])
def test_404_carries_the_headers(client, path):
    response = client.get(path)

    assert response.status_code == 404
    assert_security_headers(response)


@pytest.mark.parametrize("path", ["/logout", "/api/v1/scans/parent"])
def test_405_carries_the_headers(client, path):
    response = client.get(path)

    assert response.status_code == 405
    assert_security_headers(response)


def test_400_carries_the_headers_and_its_own_request_id(make_app):
    """The CSRF check runs before the view: its refusal still gets a request id."""
    response = make_app(WTF_CSRF_ENABLED=True).test_client().post("/login", data={})

    assert response.status_code == 400
    assert_security_headers(response)
    assert response.headers["X-Request-ID"] in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/login", "/api/v1/scans/parent"])
def test_413_carries_the_headers(make_app, staff, path):
    client = make_app(MAX_CONTENT_LENGTH=2048).test_client()
    assert log_in(client, "stella").status_code == 302

    response = client.post(path, data="x" * 10_000, content_type="application/json")

    assert response.status_code == 413
    assert_security_headers(response)


def test_429_page_carries_the_headers(make_app, staff):
    client = make_app(RATELIMIT_ENABLED=True, LOGIN_USERNAME_RATE_LIMIT="1 per minute").test_client()
    client.post("/login", data={"username": "stella", "password": "wrong password!"})

    response = client.post("/login", data={"username": "stella", "password": "wrong password!"})

    assert response.status_code == 429
    assert_security_headers(response)
    assert response.headers["Retry-After"].isdigit()


def test_429_json_carries_the_headers(make_app, staff, login_as):
    application = make_app(RATELIMIT_ENABLED=True, SCAN_RATE_LIMIT="1 per minute")
    client = application.test_client()
    login_as(staff, test_client=client)
    client.post("/api/v1/scans/parent", json={"code": "SB00001"})

    response = client.post("/api/v1/scans/parent", json={"code": "SB00002"})

    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "rate_limited"
    assert_security_headers(response)


@pytest.mark.parametrize("path", ["/boom", "/api/v1/boom"])
def test_500_carries_the_headers(make_app, path):
    application = make_app()
    application.add_url_rule(path, path, lambda: 1 / 0)

    response = application.test_client().get(path)

    assert response.status_code == 500
    assert_security_headers(response)


@pytest.mark.parametrize("path", ["/health/ready", "/login"])
def test_503_carries_the_headers(make_app, path):
    client = make_app(SQLALCHEMY_DATABASE_URI=DEAD_DATABASE_URL).test_client()

    response = (client.get(path) if path.startswith("/health")
                else client.post(path, data={"username": "x", "password": "y"}))

    assert response.status_code == 503
    assert_security_headers(response)
