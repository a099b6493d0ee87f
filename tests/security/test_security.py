"""CSRF, login rate limits, security headers, error pages and the JSON error shape, body size
limits, cookie flags, production configuration checks and safe redirects."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from app.config import ConfigError
from app.security import is_safe_redirect_url
from tests.helpers import PASSWORD, assert_security_headers, log_in

CSRF_MESSAGE = "security token is missing or has expired"
SECRET_64_HEX = "0123456789abcdef" * 4


def meta_csrf_token(response) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', response.get_data(as_text=True))
    assert match, "the page carries no csrf-token meta tag"
    return match.group(1)


def form_csrf_token(response) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                      r'value="([^"]+)"[^>]*name="csrf_token"|'
                      r'name="csrf_token"[^>]*value="([^"]+)"',
                      response.get_data(as_text=True))
    assert match, "the form carries no csrf_token field"
    return next(group for group in match.groups() if group)


def assert_json_error(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert error["request_id"] == response.headers["X-Request-ID"]
    return error


def assert_html_error(response, status: int, code: str):
    assert response.status_code == status
    assert response.mimetype == "text/html"
    body = response.get_data(as_text=True)
    assert f"Error {status}" in body
    assert f'data-error-code="{code}"' in body
    assert response.headers["X-Request-ID"] in body
    assert "Traceback" not in body


# --- CSRF ----------------------------------------------------------------------------------

def test_login_form_without_csrf_token_is_refused(make_app, staff):
    client = make_app(WTF_CSRF_ENABLED=True).test_client()

    response = log_in(client, "stella")

    assert_html_error(response, 400, "csrf_failed")
    assert CSRF_MESSAGE in response.get_data(as_text=True)
    assert urlsplit(client.get("/").headers["Location"]).path == "/login"


def test_login_form_with_csrf_token_is_accepted(make_app, staff):
    client = make_app(WTF_CSRF_ENABLED=True).test_client()
    token = form_csrf_token(client.get("/login"))

    response = client.post("/login", data={"username": "stella", "password": PASSWORD,
                                           "csrf_token": token})

    assert response.status_code == 302
    assert response.headers["Location"] == "/scan"


def _csrf_logged_in_client(make_app):
    client = make_app(WTF_CSRF_ENABLED=True).test_client()
    token = form_csrf_token(client.get("/login"))
    response = client.post("/login", data={"username": "sam", "password": PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 302
    return client


def test_api_post_without_csrf_header_is_refused(make_app, supervisor):
    client = _csrf_logged_in_client(make_app)

    response = client.post("/api/v1/scans/parent", json={"code": "SB00001"})

    error = assert_json_error(response, 400, "csrf_failed")
    assert CSRF_MESSAGE in error["message"]


def test_api_post_with_wrong_csrf_header_is_refused(make_app, supervisor):
    client = _csrf_logged_in_client(make_app)

    response = client.post("/api/v1/scans/parent", json={"code": "SB00001"},
                           headers={"X-CSRFToken": "not-a-token"})

    assert_json_error(response, 400, "csrf_failed")


def test_api_post_with_csrf_header_from_page_meta_succeeds(make_app, supervisor):
    client = _csrf_logged_in_client(make_app)
    page = client.get("/dashboard")
    assert page.status_code == 200
    token = meta_csrf_token(page)

    response = client.post("/api/v1/scans/parent", json={"code": "SB00001"},
                           headers={"X-CSRFToken": token})

    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["result"] == "parent_created"


def test_logout_without_csrf_token_does_not_end_the_session(make_app, supervisor):
    client = _csrf_logged_in_client(make_app)

    response = client.post("/logout")

    assert response.status_code == 400
    assert client.get("/").headers["Location"] == "/dashboard"


# --- rate limits ---------------------------------------------------------------------------

def _retry_after(response) -> int:
    value = response.headers.get("Retry-After", "")
    assert value.isdigit(), f"Retry-After is not whole seconds: {value!r}"
    return int(value)


def test_fourth_failed_login_for_a_username_is_rate_limited(make_app, staff):
    client = make_app(RATELIMIT_ENABLED=True, LOGIN_USERNAME_RATE_LIMIT="3 per minute",
                      LOGIN_RATE_LIMIT="100 per minute").test_client()

    for _ in range(3):
        assert log_in(client, "stella", "wrong password!").status_code == 200
    response = log_in(client, "stella", "wrong password!")

    assert_html_error(response, 429, "rate_limited")
    assert 0 < _retry_after(response) <= 60
    # The right password is refused too while the limit lasts, and the username is
    # normalised, so changing its case does not get around it.
    assert log_in(client, "stella").status_code == 429
    assert log_in(client, " STELLA ").status_code == 429


def test_every_attempt_counts_so_the_limit_is_exact(make_app, staff):
    """Counting each attempt before it runs keeps the limit exact under concurrency
    (counting only failures afterwards lets parallel guesses slip through)."""
    client = make_app(RATELIMIT_ENABLED=True, LOGIN_USERNAME_RATE_LIMIT="3 per minute",
                      LOGIN_RATE_LIMIT="100 per minute").test_client()

    assert log_in(client, "stella").status_code == 302
    for _ in range(2):
        assert log_in(client, "stella", "wrong password!").status_code == 200
    assert log_in(client, "stella", "wrong password!").status_code == 429


def test_another_username_is_not_blocked_by_one_usernames_limit(make_app, staff, supervisor):
    client = make_app(RATELIMIT_ENABLED=True, LOGIN_USERNAME_RATE_LIMIT="3 per minute",
                      LOGIN_RATE_LIMIT="100 per minute").test_client()
    for _ in range(4):
        log_in(client, "stella", "wrong password!")
    assert log_in(client, "stella", "wrong password!").status_code == 429

    assert log_in(client, "sam", "wrong password!").status_code == 200
    assert log_in(client, "sam").status_code == 302


def test_per_ip_login_limit(make_app, staff, supervisor):
    client = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute",
                      LOGIN_USERNAME_RATE_LIMIT="100 per minute").test_client()
    assert log_in(client, "sam").status_code == 302
    for username in ("stella", "nobody"):
        assert log_in(client, username, "wrong password!").status_code == 200

    response = log_in(client, "someone-else", "wrong password!")

    assert_html_error(response, 429, "rate_limited")
    assert _retry_after(response) > 0
    # Another address is not affected.
    other = client.post("/login", data={"username": "stella", "password": PASSWORD},
                        environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other.status_code == 302


def test_login_page_get_is_not_rate_limited(make_app):
    client = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="2 per minute",
                      LOGIN_USERNAME_RATE_LIMIT="2 per minute").test_client()

    for _ in range(5):
        assert client.get("/login").status_code == 200


# --- headers -------------------------------------------------------------------------------

def test_security_headers_on_a_page(client):
    response = client.get("/login")

    assert response.status_code == 200
    assert_security_headers(response)
    assert "no-store" in response.headers["Cache-Control"]
    assert "Strict-Transport-Security" not in response.headers


def test_security_headers_on_a_404_page(client):
    response = client.get("/no-such-page")

    assert_html_error(response, 404, "not_found")
    assert_security_headers(response)


def test_500_page_has_headers_and_request_id_but_no_traceback(make_app):
    application = make_app()
    application.add_url_rule("/boom", "boom", lambda: 1 / 0)
    client = application.test_client()

    response = client.get("/boom")

    assert_html_error(response, 500, "internal_error")
    assert_security_headers(response)
    body = response.get_data(as_text=True)
    assert "ZeroDivisionError" not in body
    assert "division by zero" not in body


def test_500_under_api_is_json_with_request_id(make_app):
    application = make_app()
    application.add_url_rule("/api/v1/boom", "api_boom", lambda: 1 / 0)

    response = application.test_client().get("/api/v1/boom")

    assert_json_error(response, 500, "internal_error")
    assert "ZeroDivisionError" not in response.get_data(as_text=True)


def test_incoming_request_id_is_kept_when_well_formed(client):
    kept = client.get("/login", headers={"X-Request-ID": "lb-req-0123456789"})
    replaced = client.get("/login", headers={"X-Request-ID": "bad id <script>"})

    assert kept.headers["X-Request-ID"] == "lb-req-0123456789"
    assert replaced.headers["X-Request-ID"] != "bad id <script>"
    assert re.fullmatch(r"[A-Za-z0-9._-]{8,64}", replaced.headers["X-Request-ID"])


def test_request_ids_differ_between_requests(client):
    first = client.get("/login").headers["X-Request-ID"]
    second = client.get("/login").headers["X-Request-ID"]

    assert first != second


def test_hsts_header_when_enabled(make_app):
    response = make_app(HSTS_ENABLED=True).test_client().get("/login")

    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


# --- the JSON error shape and error pages ------------------------------------------------------

def test_api_404_is_json(client):
    response = client.get("/api/v1/no-such-thing")

    assert_json_error(response, 404, "not_found")
    assert_security_headers(response)


def test_api_405_is_json(client):
    response = client.get("/api/v1/scans/parent")

    assert_json_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_api_401_is_json(client):
    response = client.post("/api/v1/scans/parent", json={"code": "SB00001"})

    assert_json_error(response, 401, "unauthorized")


def test_page_without_login_redirects_to_login_with_next(client):
    response = client.get("/dashboard?x=1")

    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert target.path == "/login"
    assert parse_qs(target.query)["next"] == ["/dashboard?x=1"]


def test_staff_gets_403_page_on_dashboard(client, staff, login_as):
    login_as(staff)

    response = client.get("/dashboard")

    assert_html_error(response, 403, "forbidden")


def test_staff_gets_403_json_on_reopen(client, staff, login_as):
    login_as(staff)

    response = client.post("/api/v1/parents/SB00001/reopen")

    assert_json_error(response, 403, "forbidden")


def test_400_page(make_app):
    response = make_app(WTF_CSRF_ENABLED=True).test_client().post("/login", data={})

    assert_html_error(response, 400, "csrf_failed")


def test_405_page(client):
    response = client.get("/logout")

    assert_html_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_413_page_for_a_body_over_the_limit(make_app):
    client = make_app(MAX_CONTENT_LENGTH=2048).test_client()

    response = client.post("/login", data={"username": "stella", "password": "x" * 10_000})

    assert_html_error(response, 413, "payload_too_large")


def test_413_json_under_api(make_app, staff):
    application = make_app(MAX_CONTENT_LENGTH=2048)
    client = application.test_client()
    assert log_in(client, "stella").status_code == 302

    response = client.post("/api/v1/scans/parent", data="{" + " " * 10_000 + "}",
                           content_type="application/json")

    assert_json_error(response, 413, "payload_too_large")


def test_body_under_the_limit_is_accepted(make_app, staff):
    client = make_app(MAX_CONTENT_LENGTH=2048).test_client()

    assert log_in(client, "stella").status_code == 302


def test_429_page(make_app, staff):
    client = make_app(RATELIMIT_ENABLED=True, LOGIN_USERNAME_RATE_LIMIT="1 per minute").test_client()
    log_in(client, "stella", "wrong password!")

    response = log_in(client, "stella", "wrong password!")

    assert_html_error(response, 429, "rate_limited")


# --- cookies and production settings ---------------------------------------------------------

def test_session_cookie_is_httponly_and_samesite_lax(client, staff):
    response = log_in(client, "stella")

    cookies = [value for value in response.headers.getlist("Set-Cookie")
               if value.startswith("tracetrack_session=")]
    assert cookies
    attributes = {part.strip().lower() for part in cookies[-1].split(";")}
    assert "httponly" in attributes
    assert "samesite=lax" in attributes


@pytest.fixture
def production_env(monkeypatch):
    for name in ("SESSION_COOKIE_SECURE", "HSTS_ENABLED", "GUNICORN_WORKERS", "PROXY_FIX_HOPS",
                 "APP_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SECRET_KEY", SECRET_64_HEX)
    monkeypatch.setenv("DATABASE_URL", "postgresql://x@127.0.0.1/x")
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379/5")
    return monkeypatch


def _production_config():
    from app.config import ProductionConfig

    return ProductionConfig()


def test_production_config_secure_by_default(production_env):
    config = _production_config()

    assert config.SESSION_COOKIE_SECURE is True
    assert config.HSTS_ENABLED is True
    assert config.SESSION_COOKIE_HTTPONLY is True
    assert config.SESSION_COOKIE_SAMESITE == "Lax"
    assert config.SQLALCHEMY_DATABASE_URI.startswith("postgresql+psycopg://")
    assert config.SECRET_KEY == SECRET_64_HEX
    assert getattr(config, "WTF_CSRF_ENABLED", True) is True
    assert config.RATELIMIT_ENABLED is True


@pytest.mark.parametrize("secret", [None, "", "too-short", "x" * 31])
def test_production_config_refuses_missing_or_short_secret(production_env, secret):
    if secret is None:
        production_env.delenv("SECRET_KEY")
    else:
        production_env.setenv("SECRET_KEY", secret)

    with pytest.raises(ConfigError, match="SECRET_KEY"):
        _production_config()


@pytest.mark.parametrize("url", ["sqlite:///instance/x.db", "sqlite://", None])
def test_production_config_refuses_a_non_postgresql_database(production_env, url):
    if url is None:
        production_env.delenv("DATABASE_URL")
    else:
        production_env.setenv("DATABASE_URL", url)

    with pytest.raises(ConfigError, match="DATABASE_URL"):
        _production_config()


def test_production_config_refuses_per_worker_rate_limit_counters(production_env):
    production_env.setenv("RATELIMIT_STORAGE_URI", "memory://")
    production_env.setenv("GUNICORN_WORKERS", "4")

    with pytest.raises(ConfigError, match="RATELIMIT_STORAGE_URI"):
        _production_config()


def test_production_config_refuses_memory_rate_limits_by_default(production_env):
    production_env.delenv("RATELIMIT_STORAGE_URI")

    with pytest.raises(ConfigError, match="RATELIMIT_STORAGE_URI"):
        _production_config()


def test_production_config_allows_plain_http_trial_override(production_env):
    production_env.setenv("SESSION_COOKIE_SECURE", "0")

    config = _production_config()

    assert config.SESSION_COOKIE_SECURE is False
    assert config.HSTS_ENABLED is False


# --- safe redirects --------------------------------------------------------------------------

@pytest.mark.parametrize("target", [
    "/", "/scan", "/dashboard?x=1", "/bags/SB00001", "/login?next=%2Fscan",
])
def test_safe_redirect_urls(target):
    assert is_safe_redirect_url(target) is True


@pytest.mark.parametrize("target", [
    None, "", "//evil.example", "///evil.example", "https://evil.example/x",
    "http://localhost/scan", "/\\evil", "\\\\evil.example", "\\/evil.example",
    "javascript:alert(1)", "JavaScript:alert(1)", "http:/x", "https:evil.example",
    "data:text/html,hi", "scan", "evil.example", " //evil.example", "/\t/evil.example",
    "/\r\n/evil.example", "\t//evil.example",
])
def test_unsafe_redirect_urls(target):
    assert is_safe_redirect_url(target) is False
