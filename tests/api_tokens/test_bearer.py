"""Issue 19 item 3: a bearer token on /api/v1 (DESIGN 8.4, 8.7): no cookie and no CSRF
token needed; 401 invalid_token for unknown, malformed, expired, revoked tokens and a
deactivated user's; 403 insufficient_scope naming the scope, also when the user's role no
longer allows it; a request with a cookie and a token is judged by the token."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.models import ApiToken, Bag
from app.models.types import utcnow
from tests.api_tokens.support import bearer, make_token
from tests.helpers import csrf_login


@pytest.fixture
def csrf_app(make_app):
    application = make_app(WTF_CSRF_ENABLED=True)
    with application.app_context():
        yield application


def test_a_token_scans_with_no_cookie_and_no_csrf_token(csrf_app, make_user):
    user = make_user("erp-bot", "staff")
    token = make_token(user, ["scan"])
    client = csrf_app.test_client(use_cookies=False)

    response = client.post("/api/v1/scans/parent", json={"code": "SB00001"},
                           headers=bearer(token))

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["result"] == "parent_created"
    assert "Set-Cookie" not in response.headers  # a token request opens no session
    assert db.session.scalar(select(Bag).where(Bag.code == "SB00001")).created_by_id == user.id


def test_a_cookie_still_needs_its_csrf_token(csrf_app, make_user):
    make_user("stella", "staff")
    client = csrf_app.test_client()
    csrf_token = csrf_login(client, "stella")

    refused = client.post("/api/v1/scans/parent", json={"code": "SB00001"})
    served = client.post("/api/v1/scans/parent", json={"code": "SB00001"},
                         headers={"X-CSRFToken": csrf_token})

    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "csrf_failed"
    assert served.status_code == 201


def test_a_request_with_a_cookie_and_a_token_is_judged_by_the_token(csrf_app, make_user):
    make_user("sam", "supervisor")
    reader = make_user("reader", "staff")
    token = make_token(reader, ["bags:read"])
    client = csrf_app.test_client()
    csrf_login(client, "sam")  # a supervisor's session cookie rides along

    scan = client.post("/api/v1/scans/parent", json={"code": "SB00001"}, headers=bearer(token))
    stats = client.get("/api/v1/dashboard/stats", headers=bearer(token))
    session = client.get("/api/v1/session", headers=bearer(token))
    bad = client.get("/api/v1/session", headers=bearer("tt_aaaaaaaaaa_" + "a" * 32))

    assert scan.status_code == 403
    assert scan.get_json()["error"] == {**scan.get_json()["error"], "code": "insufficient_scope",
                                        "scope": "scan"}
    assert stats.status_code == 403 and stats.get_json()["error"]["scope"] == "dashboard:read"
    assert session.get_json()["user"]["username"] == "reader"
    assert bad.status_code == 401 and bad.get_json()["error"]["code"] == "invalid_token"


@pytest.mark.parametrize("header", [
    "Bearer tt_aaaaaaaaaa_" + "a" * 32,  # well formed, unknown
    "Bearer nonsense", "Bearer ", "Basic dXNlcjpwYXNz", "tt_aaaaaaaaaa_" + "a" * 32, "",
])
def test_unknown_and_malformed_tokens_get_401_invalid_token(app, header):
    response = app.test_client().get("/api/v1/bags", headers={"Authorization": header})

    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_wrong_secret_with_a_real_prefix_is_refused(app, make_user):
    token = make_token(make_user("erp-bot"))
    forged = token[:-4] + ("aaaa" if not token.endswith("aaaa") else "bbbb")

    response = app.test_client().get("/api/v1/bags", headers=bearer(forged))

    assert response.status_code == 401


def test_an_expired_token_is_refused(app, make_user):
    token = make_token(make_user("erp-bot"), days=1)
    client = app.test_client()
    assert client.get("/api/v1/bags", headers=bearer(token)).status_code == 200
    row = db.session.scalar(select(ApiToken))
    row.created_at = utcnow() - timedelta(days=2)
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()

    response = client.get("/api/v1/bags", headers=bearer(token))

    assert response.status_code == 401 and response.get_json()["error"]["code"] == "invalid_token"


def test_a_revoked_token_is_refused_at_its_next_request(app, make_user):
    from app.auth import tokens

    user = make_user("erp-bot")
    token = make_token(user)
    client = app.test_client()
    assert client.get("/api/v1/bags", headers=bearer(token)).status_code == 200
    tokens.revoke_token(user, db.session.scalar(select(ApiToken)))
    db.session.commit()

    assert client.get("/api/v1/bags", headers=bearer(token)).status_code == 401


def test_a_deactivated_user_s_token_ends_at_once(app, make_user):
    user = make_user("erp-bot")
    token = make_token(user)
    client = app.test_client()
    assert client.get("/api/v1/bags", headers=bearer(token)).status_code == 200
    user.is_active = False
    db.session.commit()

    response = client.get("/api/v1/bags", headers=bearer(token))

    assert response.status_code == 401 and response.get_json()["error"]["code"] == "invalid_token"


def test_a_lowered_role_lowers_the_token_at_once(app, make_user):
    user = make_user("boss", "supervisor")
    token = make_token(user, ["dashboard:read", "scan"])
    client = app.test_client()
    assert client.get("/api/v1/dashboard/stats", headers=bearer(token)).status_code == 200
    user.role = "staff"
    db.session.commit()

    refused = client.get("/api/v1/dashboard/stats", headers=bearer(token))
    still = client.post("/api/v1/scans/parent", json={"code": "SB00001"}, headers=bearer(token))

    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "insufficient_scope"
    assert refused.get_json()["error"]["scope"] == "dashboard:read"
    assert still.status_code == 201


def test_the_secret_is_never_stored(app, make_user):
    token = make_token(make_user("erp-bot"))
    secret = token.split("_", 2)[2]

    with db.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM api_tokens")).all()

    assert rows and not any(secret in str(value) for row in rows for value in row)


class Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))


def test_the_secret_is_never_logged(app, make_user):
    from app.observability import JsonFormatter

    handler = Lines()
    handler.setFormatter(JsonFormatter())
    loggers = [logging.getLogger(name) for name in
               ("tracetrack.request", "tracetrack.security", "tracetrack.runtime")] + [app.logger]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        token = make_token(make_user("erp-bot"))
        client = app.test_client()
        client.get("/api/v1/bags?kind=child", headers=bearer(token))
        client.get("/api/v1/bags", headers=bearer(token[:-1] + "x"))  # refused: logged too
    finally:
        for logger in loggers:
            logger.removeHandler(handler)

    logged = "\n".join(handler.lines)
    assert token.split("_")[1] in logged  # the prefix says which token it was
    assert token.split("_", 2)[2] not in logged and token[:-1] + "x" not in logged
    assert token[-12:] not in logged and token[-13:-1] not in logged


def test_last_use_is_recorded(app, make_user):
    token = make_token(make_user("erp-bot"))
    assert db.session.scalar(select(ApiToken)).last_used_at is None

    app.test_client().get("/api/v1/bags", headers=bearer(token))

    db.session.expire_all()
    assert db.session.scalar(select(ApiToken)).last_used_at is not None


def test_limits_count_per_token(make_app, make_user):
    """Each token has its own scan allowance (not its user's) and its own allowance of
    requests (TOKEN_RATE_LIMIT)."""
    application = make_app(RATELIMIT_ENABLED=True, SCAN_RATE_LIMIT="2 per minute",
                           TOKEN_RATE_LIMIT="4 per minute", RATELIMIT_STORAGE_URI="memory://")
    with application.app_context():
        user = make_user("erp-bot")
        first, second = make_token(user, ["scan", "bags:read"]), make_token(user, ["scan"])
        client = application.test_client(use_cookies=False)

        def scan(token, code):
            return client.post("/api/v1/scans/parent", json={"code": code},
                               headers=bearer(token)).status_code

        assert [scan(first, "SB00001"), scan(first, "SB00002"), scan(first, "SB00003")] == [
            201, 201, 429]
        assert scan(second, "SB00004") == 201  # the other token's bucket
        assert client.get("/api/v1/bags", headers=bearer(first)).status_code == 200  # the 4th
        limited = client.get("/api/v1/bags", headers=bearer(first))
        assert limited.status_code == 429
        assert limited.get_json()["error"]["code"] == "rate_limited"
        assert int(limited.headers["Retry-After"]) >= 1
        assert scan(second, "SB00005") == 201
