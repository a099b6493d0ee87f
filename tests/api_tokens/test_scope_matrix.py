"""Each scope allowed and refused per endpoint, generated from the scope table
(app/auth/scopes.py SCOPE_BY_ENDPOINT) and the access matrix (tests/security/support.py
ROUTES): for every /api/v1 route and every role, with a token instead of a cookie,
1. a token holding every scope the role allows except the one the endpoint needs gets 403
   insufficient_scope naming that scope, and nothing changes;
2. a token holding the scope though the role no longer allows it (made before the role was
   lowered) gets the same 403, and nothing changes;
3. a token holding just that scope gets the same answer as the role's cookie session.
Endpoints that need no scope take any valid token; a route missing from the table fails."""

from __future__ import annotations

import pytest

from app.auth import tokens
from app.auth.scopes import SCOPE_BY_ENDPOINT, SCOPES, scopes_for_role
from app.extensions import db
from app.models import ApiToken, User
from app.models.types import utcnow
from tests.api_tokens.support import bearer
from tests.helpers import PASSWORD, assert_unchanged, build_world, snapshot
from tests.security.support import ROUTES, answer_matches, send

API_ROUTES = sorted(key for key in ROUTES if key[0].startswith("/api/v1/"))
TOKEN_ROLES = ("staff", "supervisor", "admin")
CASES = [(rule, method, role) for rule, method in API_ROUTES for role in TOKEN_ROLES]


def endpoint_of(app, rule: str, method: str) -> str:
    return next(r.endpoint for r in app.url_map.iter_rules()
                if r.rule == rule and method in r.methods)


def forced_token(user: User, scopes: set[str]) -> str:
    """A token row with these scopes whatever the role allows now (as if made before the
    role was lowered): the service would refuse to make it today."""
    prefix, secret = "z" * 10, "q" * 32
    db.session.add(ApiToken(user_id=user.id, name="old", scopes=" ".join(sorted(scopes)),
                            prefix=prefix, secret_hash=tokens.hash_secret(secret),
                            created_at=utcnow(), expires_at=utcnow().replace(year=2099)))
    db.session.commit()
    return f"tt_{prefix}_{secret}"


def made_token(user: User, scopes) -> str:
    _, text = tokens.create_token(user, "matrix", list(scopes), 30, PASSWORD)
    db.session.commit()
    return text


def test_every_api_route_is_in_the_scope_table(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()
                 if rule.rule.startswith("/api/v1/")}
    assert sorted(endpoints - set(SCOPE_BY_ENDPOINT)) == []
    assert {scope for scope in SCOPE_BY_ENDPOINT.values() if scope} <= set(SCOPES)


def test_a_route_missing_from_the_table_takes_no_token(make_app, make_user):
    application = make_app()

    with application.app_context():
        user = make_user("erp-bot", "admin")
        text = made_token(user, SCOPES)
        saved = SCOPE_BY_ENDPOINT.pop("api.show_session")
        try:
            response = application.test_client().get("/api/v1/session", headers=bearer(text))
        finally:
            SCOPE_BY_ENDPOINT["api.show_session"] = saved
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "insufficient_scope"


@pytest.mark.parametrize(("rule", "method", "role"), CASES,
                         ids=[f"{method} {rule} {role}" for rule, method, role in CASES])
def test_scope_per_endpoint_and_role(app, make_user, rule, method, role):
    world = build_world(make_user, app)
    user = db.session.query(User).filter_by(username=f"the-{role}").one()
    route = ROUTES[(rule, method)]
    scope = SCOPE_BY_ENDPOINT[endpoint_of(app, rule, method)]
    allowed = scopes_for_role(role)
    client = app.test_client(use_cookies=False)

    if scope is not None:
        others = allowed - {scope}
        if others:
            text = made_token(user, others)
            before = snapshot()
            refused = send(client, route, world, method, headers=bearer(text))
            assert refused.status_code == 403, refused.get_data(as_text=True)[:300]
            assert refused.get_json()["error"]["code"] == "insufficient_scope"
            assert refused.get_json()["error"]["scope"] == scope
            assert scope in refused.get_json()["error"]["message"]
            assert_unchanged(before, snapshot())
        if scope not in allowed:
            text = forced_token(user, {scope})
            before = snapshot()
            beyond = send(client, route, world, method, headers=bearer(text))
            assert beyond.status_code == 403
            assert beyond.get_json()["error"] == {**beyond.get_json()["error"],
                                                  "code": "insufficient_scope", "scope": scope}
            assert_unchanged(before, snapshot())
            return

    text = made_token(user, [scope] if scope else sorted(allowed)[:1])
    response = send(client, route, world, method, headers=bearer(text))
    expected = route.expected(role)
    assert answer_matches(response, expected), (
        f"{method} {route.path} as {role} with a {scope} token: expected {expected}, got "
        f"{response.status_code} {response.get_data(as_text=True)[:300]}")
