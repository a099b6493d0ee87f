"""Issue 17, findings 4, 5, 6 and 7: the exact requests that got through.

- 500s on bad input: q with U+10FFFF or U+D7FF on the bag list, its API and both exports;
  user=%00 on the CSV export (failed after streaming started); login and other forms sent
  as JSON with non-text values or with a file part where text belongs.
- The per-username login limit holds for JSON logins; one scan bucket per user for the form
  and the API.
- The CSRF token from before login is refused after it; exports carry no-store."""

from __future__ import annotations

import io

import pytest
import redis

from tests.helpers import PASSWORD, csrf_login, log_in, page_csrf_token

NON_CHARACTERS = ["%F4%8F%BF%BF", "%ED%9F%BF", "SB%F4%8F%BF%BF%F4%8F%BF%BF", "%EF%BF%BF"]
BAG_LISTS = ["/api/v1/bags", "/bags", "/bags/export.csv", "/bags/export.xlsx"]


@pytest.mark.parametrize("q", NON_CHARACTERS)
@pytest.mark.parametrize("path", BAG_LISTS)
def test_a_code_prefix_at_the_top_of_unicode_is_no_500(client, login_as, supervisor, path, q):
    login_as(supervisor)
    response = client.get(f"{path}?q={q}")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]


def test_the_top_of_unicode_prefix_still_finds_by_range(client, login_as, supervisor):
    """The range's upper end steps over the surrogates: U+D7FF as a prefix finds codes that
    start with it, and nothing else."""
    login_as(supervisor)
    body = client.get("/api/v1/bags?q=%ED%9F%BF").get_json()
    assert body["items"] == []


@pytest.mark.parametrize("path", ["/bags/export.csv", "/bags/export.xlsx", "/api/v1/bags",
                                  "/bags"])
def test_a_nul_in_the_user_filter_is_refused_before_the_first_byte(
        client, login_as, supervisor, path):
    login_as(supervisor)
    response = client.get(f"{path}?user=%00")
    assert response.status_code == 422
    assert "user must be a username" in response.get_data(as_text=True)
    assert response.headers["Content-Security-Policy"]
    assert response.headers["X-Request-ID"]


def test_an_error_mid_stream_is_logged_and_cuts_the_download(
        app, client, login_as, supervisor, monkeypatch, caplog):
    from app.lookup import exports

    def failing(rows):
        yield "code,kind\r\n"
        raise RuntimeError("the database went away")

    monkeypatch.setattr(exports, "csv_chunks", failing)
    login_as(supervisor)
    response = client.get("/bags/export.csv")
    assert response.status_code == 200
    with pytest.raises(RuntimeError):
        b"".join(response.response)
    assert any("export stopped mid-stream" in record.getMessage() for record in caplog.records)


def test_an_error_before_the_first_byte_is_a_proper_answer(
        app, client, login_as, supervisor, monkeypatch):
    from app.lookup import exports

    def failing(rows):
        raise RuntimeError("the database went away")
        yield  # a generator

    monkeypatch.setattr(exports, "csv_chunks", failing)
    login_as(supervisor)
    response = client.get("/bags/export.csv")
    assert response.status_code == 500
    assert response.headers["Content-Security-Policy"] and response.headers["X-Request-ID"]
    assert "request id" in response.get_data(as_text=True).lower()


@pytest.mark.parametrize("path", ["/bags/export.csv", "/bags/export.xlsx"])
def test_exports_are_never_cached(client, login_as, supervisor, path):
    login_as(supervisor)
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


# --- forms with values that are not text --------------------------------------------------

def test_a_json_login_with_numbers_is_a_400_before_login(client, staff):
    response = client.post("/login", json={"username": 5, "password": 5})
    assert response.status_code == 400
    assert "must be text" in response.get_data(as_text=True)


def test_a_json_login_with_text_still_works(client, staff):
    response = client.post("/login", json={"username": "stella", "password": PASSWORD})
    assert response.status_code == 302


def test_a_file_part_named_username_is_a_400(client, staff):
    response = client.post("/login", data={
        "username": (io.BytesIO(b"stella"), "username.txt"), "password": PASSWORD},
        content_type="multipart/form-data")
    assert response.status_code == 400


FORMS = ["/scan", "/account", "/users/new", "/users/stella", "/users/stella/password"]


@pytest.mark.parametrize("path", FORMS)
@pytest.mark.parametrize("body", ["json", "file"])
def test_every_form_refuses_non_text_values(client, login_as, admin, staff, path, body):
    login_as(admin)
    if body == "json":
        response = client.post(path, json={"username": 5, "password": 5, "code": 5,
                                           "display_name": [1]})
    else:
        response = client.post(path, data={"username": (io.BytesIO(b"x"), "u.txt"),
                                           "code": (io.BytesIO(b"SB00001"), "c.txt")},
                               content_type="multipart/form-data")
    assert response.status_code == 400, response.get_data(as_text=True)[:300]


# --- rate limits ---------------------------------------------------------------------------

def test_json_logins_count_against_the_same_username_limit(make_app, staff):
    """Finding 4 exactly: after the form logins used the name's limit, a JSON login with
    the CSRF header for the same name is refused too, and so are further JSON guesses."""
    application = make_app(RATELIMIT_ENABLED=True, WTF_CSRF_ENABLED=True,
                           LOGIN_USERNAME_RATE_LIMIT="10 per minute",
                           LOGIN_RATE_LIMIT="100 per minute")
    client = application.test_client()
    token = page_csrf_token(client)
    for _ in range(10):
        response = client.post("/login", data={"username": "stella", "password": "wrong!",
                                               "csrf_token": token})
        assert response.status_code == 200
    assert client.post("/login", data={"username": "stella", "password": "wrong!",
                                       "csrf_token": token}).status_code == 429
    for password in (PASSWORD, "guess 1", "guess 2"):
        response = client.post("/login", json={"username": "stella", "password": password},
                               headers={"X-CSRFToken": token})
        assert response.status_code == 429


def test_json_login_guesses_alone_are_limited_per_username(make_app, staff):
    client = make_app(RATELIMIT_ENABLED=True, LOGIN_USERNAME_RATE_LIMIT="3 per minute",
                      LOGIN_RATE_LIMIT="100 per minute").test_client()
    for _ in range(3):
        assert client.post("/login", json={"username": "Stella", "password": "x"}
                           ).status_code == 200
    assert client.post("/login", json={"username": "stella", "password": PASSWORD}
                       ).status_code == 429
    # Another name has its own bucket (JSON logins no longer share an empty one).
    assert client.post("/login", json={"username": "sam", "password": "x"}).status_code == 200


@pytest.fixture
def redis_app(app, make_app):
    """Made after the default app: the limiter is one object, configured by the last app
    (its key prefix by the first that enabled it, so the keys are found by their user)."""
    application = make_app(RATELIMIT_ENABLED=True, SCAN_RATE_LIMIT="5 per minute",
                           RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/3")
    store = redis.Redis.from_url("redis://127.0.0.1:6379/3")
    store.flushdb()
    yield application, store
    store.flushdb()


def test_one_scan_bucket_for_the_form_and_the_api(staff, redis_app):
    """Finding 5: the API's limit spent, the station's form post is refused too; one Redis
    key per user."""
    application, store = redis_app
    client = application.test_client()
    assert log_in(client, "stella").status_code == 302
    for number in range(4):
        response = client.post("/api/v1/scans/parent", json={"code": f"SB0000{number}"})
        assert response.status_code == 201
    assert client.post("/scan", data={"code": "SB00009"}).status_code == 302  # the 5th
    assert client.post("/scan", data={"code": "SB00008"}).status_code == 429
    assert client.post("/api/v1/scans/parent", json={"code": "SB00007"}).status_code == 429
    keys = {key.decode() for key in store.scan_iter("*") if b"login" not in key}
    assert len(keys) == 1 and f"/user:{staff.id}/scans/5/1/minute" in keys.pop()


# --- CSRF token rotation -------------------------------------------------------------------

def test_the_csrf_token_from_before_login_is_refused_after_it(make_app, staff):
    client = make_app(WTF_CSRF_ENABLED=True).test_client()
    before = page_csrf_token(client)
    after = csrf_login(client, "stella")
    assert after != before
    old = client.post("/scan", data={"code": "SB00001", "csrf_token": before})
    assert old.status_code == 400
    assert "security token" in old.get_data(as_text=True)
    fresh = client.post("/scan", data={"code": "SB00001", "csrf_token": after})
    assert fresh.status_code == 302
