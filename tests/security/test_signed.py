"""The session cookie and the CSRF token are verified once per worker (app/signed.py, issue
25): a text that verified once is known, and nothing else changes. Each test makes the
remembered text fail one of the conditions it had to meet (another session, a changed text,
its age) and expects the same refusal as a text never seen."""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta

from flask import request
from flask.sessions import session_json_serializer
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from tests.helpers import PASSWORD, log_in
from tests.security.test_security import assert_json_error, form_csrf_token, meta_csrf_token

AGE = 100  # seconds: how long ago the texts below were signed


class SignedLongAgo(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - AGE


def _logged_in(make_app, **config):
    app = make_app(WTF_CSRF_ENABLED=True, **config)
    client = app.test_client()
    token = form_csrf_token(client.get("/login"))
    response = client.post("/login", data={"username": "sam", "password": PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 302
    return app, client, meta_csrf_token(client.get("/dashboard"))


def _parent_scan(client, token: str, code: str):
    return client.post("/api/v1/scans/parent", json={"code": code},
                       headers={"X-CSRFToken": token})


# --- the CSRF token --------------------------------------------------------------------------

def test_remembered_csrf_token_is_refused_with_another_session(make_app, supervisor):
    app, first, token = _logged_in(make_app)
    assert _parent_scan(first, token, "SB00001").status_code == 201  # verified, remembered
    second = app.test_client()
    log_in(second, "sam")

    response = _parent_scan(second, token, "SB00002")

    assert_json_error(response, 400, "csrf_failed")
    assert _parent_scan(first, token, "SB00003").status_code == 201


def test_remembered_csrf_token_changed_by_one_character_is_refused(make_app, supervisor):
    _app, client, token = _logged_in(make_app)
    assert _parent_scan(client, token, "SB00001").status_code == 201
    changed = token[:-1] + ("A" if token[-1] != "A" else "B")

    assert_json_error(_parent_scan(client, changed, "SB00002"), 400, "csrf_failed")


def test_remembered_csrf_token_expires_as_the_time_limit_says(make_app, supervisor):
    app, client, _token = _logged_in(make_app, WTF_CSRF_TIME_LIMIT=2 * AGE)
    with client.session_transaction() as session:
        raw = session["csrf_token"]
    old = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token",
                                 signer=SignedLongAgo).dumps(raw)
    assert _parent_scan(client, old, "SB00001").status_code == 201  # young enough: remembered

    app.config["WTF_CSRF_TIME_LIMIT"] = AGE // 2
    response = _parent_scan(client, old, "SB00002")

    error = assert_json_error(response, 400, "csrf_failed")
    assert "expired" in error["message"]


# --- the session cookie ----------------------------------------------------------------------

def _cookie(app, data: dict, signer=TimestampSigner) -> str:
    return URLSafeTimedSerializer(
        app.secret_key, salt="cookie-session", serializer=session_json_serializer, signer=signer,
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1}).dumps(data)


def _open(app, cookie: str):
    name = app.config["SESSION_COOKIE_NAME"]
    with app.test_request_context(headers={"Cookie": f"{name}={cookie}"}):
        return app.session_interface.open_session(app, request)


def test_remembered_session_cookie_expires_with_the_session_lifetime(make_app):
    app = make_app(PERMANENT_SESSION_LIFETIME=timedelta(seconds=2 * AGE))
    cookie = _cookie(app, {"_user_id": "1:1"}, signer=SignedLongAgo)
    assert dict(_open(app, cookie)) == {"_user_id": "1:1"}  # remembered

    app.permanent_session_lifetime = timedelta(seconds=AGE // 2)

    assert dict(_open(app, cookie)) == {}


def test_a_request_that_changes_its_session_leaves_the_cookie_as_it_was(make_app):
    app = make_app()
    cookie = _cookie(app, {"_user_id": "1:1", "site": {"id": 1}})
    first = _open(app, cookie)
    first["_user_id"] = "2:1"
    first["site"]["id"] = 2

    assert dict(_open(app, cookie)) == {"_user_id": "1:1", "site": {"id": 1}}


def test_a_remembered_cookie_is_refused_once_its_key_is_retired(make_app):
    app = make_app()
    cookie = _cookie(app, {"_user_id": "1:1"})
    assert dict(_open(app, cookie)) == {"_user_id": "1:1"}  # remembered

    app.config["SECRET_KEY_FALLBACKS"] = [app.secret_key]
    app.secret_key = "the new key, of at least thirty-two characters"
    assert dict(_open(app, cookie)) == {"_user_id": "1:1"}  # the old key is a fallback
    app.config["SECRET_KEY_FALLBACKS"] = []

    assert dict(_open(app, cookie)) == {}


def test_a_remembered_cookie_of_a_logged_out_session_stays_logged_out(make_app, staff):
    app = make_app()
    client = app.test_client()
    log_in(client, "stella")
    name = app.config["SESSION_COOKIE_NAME"]
    copied = client.get_cookie(name).value
    assert client.get("/api/v1/bags?kind=parent").status_code == 200  # remembered
    client.post("/logout")

    client.set_cookie(name, copied)
    response = client.get("/api/v1/bags?kind=parent")

    assert_json_error(response, 401, "unauthorized")
