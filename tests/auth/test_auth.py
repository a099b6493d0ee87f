"""Login, logout and sessions: role redirects, one generic failure message, POST-only logout,
revocation of copied cookies through the session version, safe `next`, rehash on login, the
password policy and case-insensitive usernames.

The session tests drive a second app built by make_app(): its requests each get their own
app context, so Flask-Login loads the user from the cookie on every request. (The `client`
fixture shares the `app` fixture's pushed app context, and with it `g`, where Flask-Login
caches the current user; a revoked session would look alive there.)"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from app.auth.passwords import password_problem, verify_password
from app.auth.routes import LOGIN_FAILED
from app.auth.services import AccountError, create_user
from app.extensions import db
from app.models import User
from tests.helpers import PASSWORD, log_in

SESSION_COOKIE = "tracetrack_session"


@pytest.fixture
def web(make_app):
    """A test client whose requests do not share the test's app context."""
    return make_app().test_client()


def stored(username: str) -> dict:
    """The user's row as the database holds it now (not the test session's cached object).
    Rolling back at once leaves no transaction open, which on SQLite would hold the lock."""
    row = db.session.execute(
        select(User.__table__).where(User.username == username)).mappings().one()
    db.session.rollback()
    return dict(row)


def location(response) -> str:
    return response.headers["Location"]


def assert_sent_to_login(response):
    assert response.status_code == 302
    assert urlsplit(location(response)).path == "/login"


# --- logging in -------------------------------------------------------------------------

@pytest.mark.parametrize(("role", "start_page"), [
    ("staff", "/scan"), ("supervisor", "/dashboard"), ("admin", "/dashboard"),
])
def test_login_redirects_each_role_to_its_start_page(web, make_user, role, start_page):
    user = make_user(f"{role}-one", role)

    response = log_in(web, user.username)

    assert response.status_code == 302
    assert location(response) == start_page
    index = web.get("/")
    assert index.status_code == 302
    assert location(index) == start_page


def test_start_page_requires_login(web):
    response = web.get("/")

    assert_sent_to_login(response)


def _failure_text(response, username: str) -> str:
    """The page without what legitimately differs per attempt: the typed username and the
    per-session CSRF token."""
    body = response.get_data(as_text=True).replace(username, "USERNAME")
    return re.sub(r'(csrf[-_]token"[^>]*?(?:content|value)=")[^"]*', r"\1", body)


def test_login_failure_says_one_generic_thing(web, make_user):
    make_user("stella", "staff")
    make_user("ivan", "staff", is_active=False)

    unknown = log_in(web, "nobody", PASSWORD)
    wrong_password = log_in(web, "stella", "not the right password at all")
    inactive = log_in(web, "ivan", PASSWORD)

    for response in (unknown, wrong_password, inactive):
        assert response.status_code == 200
        assert LOGIN_FAILED in response.get_data(as_text=True)
    assert _failure_text(unknown, "nobody") == _failure_text(wrong_password, "stella")
    assert _failure_text(unknown, "nobody") == _failure_text(inactive, "ivan")
    assert_sent_to_login(web.get("/"))


def test_inactive_user_with_right_password_gets_no_session(web, make_user):
    make_user("ivan", "staff", is_active=False)

    log_in(web, "ivan", PASSWORD)

    assert_sent_to_login(web.get("/"))
    assert web.post("/api/v1/scans/parent", json={"code": "SB00001"}).status_code == 401


def test_failed_login_count_increments_and_resets_on_success(web, staff):
    log_in(web, "stella", "wrong password one")
    log_in(web, "stella", "wrong password two")

    row = stored("stella")
    assert row["failed_login_count"] == 2
    assert row["last_failed_login_at"] is not None
    assert row["last_login_at"] is None

    assert log_in(web, "stella").status_code == 302

    row = stored("stella")
    assert row["failed_login_count"] == 0
    assert row["last_login_at"] is not None


# --- usernames --------------------------------------------------------------------------

def test_login_username_is_case_insensitive(web, staff):
    response = log_in(web, "STELLA")

    assert response.status_code == 302
    assert location(response) == "/scan"


def test_username_taken_regardless_of_case(app, staff):
    with pytest.raises(AccountError) as caught:
        create_user("Stella", "staff", "another long passphrase here")

    assert caught.value.code == "username_taken"
    db.session.rollback()
    count = db.session.scalar(select(db.func.count()).select_from(User))
    assert count == 1


def test_username_is_stored_lower_case(app):
    user = create_user("Bruno", "staff", PASSWORD)
    db.session.commit()

    assert user.username == "bruno"
    assert stored("bruno")["username"] == "bruno"


# --- logging out and revoking sessions ---------------------------------------------------

def test_logout_by_get_is_not_allowed(web, staff):
    log_in(web, "stella")

    response = web.get("/logout")

    assert response.status_code == 405
    assert "POST" in response.headers.get("Allow", "")
    index = web.get("/")
    assert location(index) == "/scan"  # still logged in


def test_logout_by_post_ends_the_session(web, staff):
    log_in(web, "stella")

    response = web.post("/logout")

    assert_sent_to_login(response)
    assert_sent_to_login(web.get("/"))


def test_session_cookie_copied_before_logout_is_refused_after(make_app, staff):
    application = make_app()
    browser = application.test_client()
    log_in(browser, "stella")
    copied = browser.get_cookie(SESSION_COOKIE).value

    thief = application.test_client()
    thief.set_cookie(SESSION_COOKIE, copied)
    assert location(thief.get("/")) == "/scan"  # the copy works while the session lives

    browser.post("/logout")

    page = thief.get("/scan")
    assert_sent_to_login(page)
    assert parse_qs(urlsplit(location(page)).query)["next"] == ["/scan"]
    api = thief.post("/api/v1/scans/parent", json={"code": "SB00001"})
    assert api.status_code == 401
    assert api.get_json()["error"]["code"] == "unauthorized"


def test_ending_all_sessions_ends_an_open_session_at_next_request(web, app, staff):
    log_in(web, "stella")
    assert location(web.get("/")) == "/scan"

    staff.end_all_sessions()
    db.session.commit()

    assert_sent_to_login(web.get("/"))
    assert web.post("/api/v1/scans/parent", json={"code": "SB00001"}).status_code == 401
    # Logging in again issues a session for the new version.
    assert log_in(web, "stella").status_code == 302
    assert location(web.get("/")) == "/scan"


def test_deactivation_ends_an_open_session_at_next_request(web, app, staff):
    log_in(web, "stella")
    assert location(web.get("/")) == "/scan"

    staff.is_active = False
    db.session.commit()

    assert_sent_to_login(web.get("/"))
    assert web.post("/api/v1/scans/parent", json={"code": "SB00001"}).status_code == 401


# --- next ----------------------------------------------------------------------------------

@pytest.mark.parametrize("target", [
    "//evil.example",
    "https://evil.example/x",
    "/\\evil",
    "javascript:alert(1)",
    "http:/x",
])
def test_unsafe_next_is_ignored(web, staff, target):
    response = web.post("/login", data={"username": "stella", "password": PASSWORD,
                                        "next": target})

    assert response.status_code == 302
    assert location(response) == "/scan"


def test_safe_next_is_honoured(web, supervisor):
    response = web.post("/login", data={"username": "sam", "password": PASSWORD,
                                        "next": "/dashboard?x=1"})

    assert response.status_code == 302
    assert location(response) == "/dashboard?x=1"


def test_login_page_carries_next_into_the_form(web):
    response = web.get("/login?next=/dashboard")

    assert response.status_code == 200
    assert re.search(r'name="next"[^>]*value="/dashboard"|value="/dashboard"[^>]*name="next"',
                     response.get_data(as_text=True))


# --- password hashes and policy ------------------------------------------------------------

def test_password_is_rehashed_on_login_when_parameters_change(make_app, staff):
    before = stored("stella")["password_hash"]
    assert "t=1," in before
    stronger = make_app(PASSWORD_HASH_TIME_COST=2)

    assert log_in(stronger.test_client(), "stella").status_code == 302

    after = stored("stella")["password_hash"]
    assert after != before
    assert "t=2," in after
    with stronger.app_context():
        assert verify_password(after, PASSWORD)
        assert not verify_password(after, "not the password")


def test_password_is_not_rehashed_when_parameters_are_unchanged(web, staff):
    before = stored("stella")["password_hash"]

    assert log_in(web, "stella").status_code == 302

    assert stored("stella")["password_hash"] == before


def test_password_hash_is_argon2id_not_the_password(app, staff):
    password_hash = stored("stella")["password_hash"]

    assert password_hash.startswith("$argon2id$")
    assert PASSWORD not in password_hash


@pytest.mark.parametrize(("password", "username"), [
    ("short", ""),
    ("seven77", ""),
    ("password", ""),
    ("PASSWORD", ""),
    ("12345678", ""),
    ("qwertyuiop", ""),
    ("aaaaaaaaaaaa", ""),
    ("stella-loves-bags", "stella"),
    ("the STELLA warehouse key", "stella"),
    ("x" * 1025, ""),
])
def test_password_policy_refuses(app, password, username):
    problem = password_problem(password, username)

    assert problem
    assert isinstance(problem, str)


@pytest.mark.parametrize(("password", "username"), [
    ("correct horse battery staple", "stella"),
    ("eight ch", ""),
    ("a long passphrase of several unrelated words, " * 10, "sam"),
])
def test_password_policy_accepts(app, password, username):
    assert password_problem(password, username) is None


def test_create_user_refuses_weak_password(app):
    with pytest.raises(AccountError) as caught:
        create_user("weakling", "staff", "password")

    assert caught.value.code == "weak_password"
