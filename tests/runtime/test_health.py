"""Liveness and readiness, and a database that is down: 503 with Retry-After, never a 500
and never a hang."""

from __future__ import annotations

import time

import pytest

from tests.helpers import PASSWORD, log_in

# Nothing listens on port 1: the connection is refused at once.
DEAD_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"
SESSION_COOKIE = "tracetrack_session"


@pytest.fixture
def dead_app(make_app):
    return make_app(SQLALCHEMY_DATABASE_URI=DEAD_DATABASE_URL)


def assert_database_unavailable(response):
    assert response.status_code == 503
    retry_after = response.headers.get("Retry-After", "")
    assert retry_after.isdigit() and int(retry_after) > 0


def test_health_answers_without_login(client):
    response = client.get("/health")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_health_answers_with_the_database_down(dead_app):
    response = dead_app.test_client().get("/health")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_ready_answers_200_when_the_database_answers(client):
    response = client.get("/health/ready")

    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"


def test_ready_answers_503_quickly_when_the_database_is_down(dead_app):
    client = dead_app.test_client()

    started = time.monotonic()
    response = client.get("/health/ready")
    elapsed = time.monotonic() - started

    assert_database_unavailable(response)
    assert response.get_json()["error"]["code"] == "database_unavailable"
    assert elapsed < 2.0


def test_health_endpoints_need_no_login_and_carry_request_ids(dead_app):
    client = dead_app.test_client()

    for path in ("/health", "/health/ready"):
        response = client.get(path)
        assert response.status_code in (200, 503)
        assert response.headers["X-Request-ID"]
        assert response.headers.get("Location") is None


def test_login_with_the_database_down_answers_a_503_page(dead_app):
    response = log_in(dead_app.test_client(), "stella", PASSWORD)

    assert_database_unavailable(response)
    assert response.mimetype == "text/html"
    body = response.get_data(as_text=True)
    assert 'data-error-code="database_unavailable"' in body
    assert response.headers["X-Request-ID"] in body
    assert "Traceback" not in body
    assert "OperationalError" not in body


def _session_cookie(make_app) -> str:
    working = make_app().test_client()
    assert log_in(working, "stella").status_code == 302
    return working.get_cookie(SESSION_COOKIE).value


def test_api_with_the_database_down_answers_503_json(make_app, staff):
    cookie = _session_cookie(make_app)
    client = make_app(SQLALCHEMY_DATABASE_URI=DEAD_DATABASE_URL).test_client()
    client.set_cookie(SESSION_COOKIE, cookie)

    response = client.post("/api/v1/scans/parent", json={"code": "SB00001"})

    assert_database_unavailable(response)
    error = response.get_json()["error"]
    assert error["code"] == "database_unavailable"
    assert error["request_id"] == response.headers["X-Request-ID"]


def test_page_with_a_session_and_the_database_down_answers_a_503_page(make_app, staff):
    cookie = _session_cookie(make_app)
    client = make_app(SQLALCHEMY_DATABASE_URI=DEAD_DATABASE_URL).test_client()
    client.set_cookie(SESSION_COOKIE, cookie)

    response = client.get("/scan")

    assert_database_unavailable(response)
    assert response.mimetype == "text/html"
    assert 'data-error-code="database_unavailable"' in response.get_data(as_text=True)


def test_anonymous_api_request_with_the_database_down_is_still_401(dead_app):
    response = dead_app.test_client().post("/api/v1/scans/parent", json={"code": "SB00001"})

    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
