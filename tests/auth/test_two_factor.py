"""Issue 17: two-factor login (TOTP) for the roles in REQUIRE_2FA_ROLES (default admin).

The rest of the suite runs with REQUIRE_2FA_ROLES empty (TestingConfig); these tests turn it
on. An admin without a second factor enrols at login (QR code, recovery codes) before the
session starts; one with it is asked for a code; each code works once; an admin resets
another user's factor (audited); a session that skipped the factor is refused."""

from __future__ import annotations

import re
import time

import pyotp
import pytest

from app.auth import two_factor
from app.config import ConfigError, env_roles
from app.extensions import db
from app.models import RecoveryCode, User
from tests.helpers import PASSWORD, audit_rows, log_in

SETUP, VERIFY = "/login/two-factor/setup", "/login/two-factor"


@pytest.fixture
def app_2fa(make_app):
    application = make_app(REQUIRE_2FA_ROLES=("admin",))
    with application.app_context():
        yield application


@pytest.fixture
def client_2fa(app_2fa):
    return app_2fa.test_client()


def make(username: str, role: str) -> User:
    from app.auth.services import create_user

    user = create_user(username, role, PASSWORD)
    db.session.commit()
    return user


def enrolled(user: User) -> pyotp.TOTP:
    """The user with a second factor, as if they had enrolled half a minute ago."""
    secret = two_factor.new_secret()
    totp = pyotp.TOTP(secret)
    assert two_factor.enrol(user, secret, totp.at(time.time() - 30)) is not None
    db.session.commit()
    return totp


def secret_on(page: str) -> str:
    return re.search(r'data-testid="two-factor-secret">([A-Z2-7 ]+)<', page).group(1).replace(
        " ", "")


def test_an_admin_without_a_second_factor_enrols_at_first_login(client_2fa):
    make("root", "admin")
    response = log_in(client_2fa, "root")
    assert response.status_code == 302 and response.headers["Location"] == SETUP
    # Not logged in yet: the password alone opens nothing.
    assert client_2fa.get("/users").status_code == 302
    assert client_2fa.get("/api/v1/session").status_code == 401

    page = client_2fa.get(SETUP).get_data(as_text=True)
    assert 'src="data:image/svg+xml' in page
    secret = secret_on(page)
    assert client_2fa.post(SETUP, data={"code": "000000"}).status_code == 422

    done = client_2fa.post(SETUP, data={"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200
    codes = re.findall(r"<code class=\"fs-5\">([a-z2-9-]+)</code>", done.get_data(as_text=True))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client_2fa.get("/users").status_code == 200
    user = db.session.scalar(db.select(User).where(User.username == "root"))
    db.session.refresh(user)
    assert user.totp_secret == secret
    stored = db.session.scalars(db.select(RecoveryCode.code_hash)).all()
    assert len(stored) == 10 and not any(code.replace("-", "") in stored for code in codes)
    assert [event.action for event in audit_rows("account.two_factor_enrol")] == [
        "account.two_factor_enrol"]


def test_an_enrolled_admin_is_asked_for_the_code_and_each_code_works_once(client_2fa, app_2fa):
    totp = enrolled(make("root", "admin"))
    response = log_in(client_2fa, "root")
    assert response.headers["Location"] == VERIFY
    assert client_2fa.get("/users").status_code == 302
    wrong = client_2fa.post(VERIFY, data={"code": "123456"})
    assert wrong.status_code == 422 and "not right" in wrong.get_data(as_text=True)
    code = totp.at(time.time() + 30)  # the next step: the enrolment used an earlier one
    assert client_2fa.post(VERIFY, data={"code": code}).status_code == 302
    assert client_2fa.get("/users").status_code == 200

    other = app_2fa.test_client()
    log_in(other, "root")
    replay = other.post(VERIFY, data={"code": code})
    assert replay.status_code == 422
    assert other.get("/users").status_code == 302


def test_a_recovery_code_works_once(client_2fa, app_2fa):
    user = make("root", "admin")
    secret = two_factor.new_secret()
    codes = two_factor.enrol(user, secret, pyotp.TOTP(secret).now())
    db.session.commit()
    log_in(client_2fa, "root")
    response = client_2fa.post(VERIFY, data={"code": codes[3].upper().replace("-", " ")},
                               follow_redirects=True)
    assert response.status_code == 200 and "9 are left" in response.get_data(as_text=True)
    other = app_2fa.test_client()
    log_in(other, "root")
    assert other.post(VERIFY, data={"code": codes[3]}).status_code == 422


def test_roles_not_listed_log_in_with_the_password_alone(client_2fa):
    make("stella", "staff")
    response = log_in(client_2fa, "stella")
    assert response.status_code == 302 and response.headers["Location"] == "/scan"


def test_with_the_setting_empty_admins_log_in_with_the_password(make_app):
    application = make_app(REQUIRE_2FA_ROLES=())
    with application.app_context():
        make("root", "admin")
        client = application.test_client()
        assert log_in(client, "root").headers["Location"] == "/dashboard"


def test_a_session_that_skipped_the_second_factor_is_refused(make_app):
    """An admin session from before the setting was on (same secret key, same database)."""
    before = make_app(REQUIRE_2FA_ROLES=())
    with before.app_context():
        make("root", "admin")
        old = before.test_client()
        assert log_in(old, "root").status_code == 302
        cookie = old.get_cookie("tracetrack_session").value
    after = make_app(REQUIRE_2FA_ROLES=("admin",))
    with after.app_context():
        client = after.test_client()
        client.set_cookie("tracetrack_session", cookie)
        assert client.get("/users").status_code == 302
        assert client.get("/api/v1/session").status_code == 401


def test_json_logins_take_the_same_two_steps(client_2fa):
    totp = enrolled(make("root", "admin"))
    response = client_2fa.post("/login", json={"username": "root", "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == VERIFY
    assert client_2fa.get("/api/v1/session").status_code == 401
    done = client_2fa.post(VERIFY, json={"code": totp.at(time.time() + 30)})
    assert done.status_code == 302
    assert client_2fa.get("/api/v1/session").get_json()["user"]["username"] == "root"


def test_the_pending_step_expires(client_2fa):
    enrolled(make("root", "admin"))
    log_in(client_2fa, "root")
    with client_2fa.session_transaction() as session:
        session["2fa_pending"] = {**session["2fa_pending"], "until": time.time() - 1}
    response = client_2fa.get(VERIFY)
    assert response.status_code == 302 and response.headers["Location"] == "/login"


def test_second_factor_guesses_are_rate_limited(make_app):
    application = make_app(REQUIRE_2FA_ROLES=("admin",), RATELIMIT_ENABLED=True,
                           LOGIN_USERNAME_RATE_LIMIT="3 per minute",
                           LOGIN_RATE_LIMIT="100 per minute")
    with application.app_context():
        enrolled(make("root", "admin"))
        client = application.test_client()
        log_in(client, "root")
        for _ in range(3):
            assert client.post(VERIFY, data={"code": "111111"}).status_code == 422
        assert client.post(VERIFY, data={"code": "111111"}).status_code == 429


def test_an_admin_resets_another_users_second_factor(client_2fa, app_2fa):
    boss_totp = enrolled(make("boss", "admin"))
    enrolled(make("root", "admin"))
    log_in(client_2fa, "boss")
    assert client_2fa.post(VERIFY, data={"code": boss_totp.at(time.time() + 30)}
                           ).status_code == 302
    page = client_2fa.get("/users/root").get_data(as_text=True)
    assert "Reset second factor" in page
    response = client_2fa.post("/users/root/two-factor/reset",
                               data={"twofactor-submit": "Reset second factor"})
    assert response.status_code == 303
    root = db.session.scalar(db.select(User).where(User.username == "root"))
    db.session.refresh(root)
    assert root.totp_secret is None and root.session_version == 2
    assert db.session.scalar(db.select(db.func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == root.id)) == 0
    [event] = audit_rows("user.two_factor_reset")
    assert event.target == "root" and event.after == {"two_factor": False,
                                                      "sessions_ended": True}
    # root enrols again at the next login.
    assert log_in(app_2fa.test_client(), "root").headers["Location"] == SETUP
    # Nobody resets their own.
    own = client_2fa.post("/users/boss/two-factor/reset",
                          data={"twofactor-submit": "Reset second factor"})
    assert own.status_code == 409


def test_only_admins_reset_a_second_factor(make_app):
    application = make_app(REQUIRE_2FA_ROLES=())
    with application.app_context():
        make("sam", "supervisor")
        enrolled(make("root", "admin"))
        client = application.test_client()
        log_in(client, "sam")
        response = client.post("/users/root/two-factor/reset")
        assert response.status_code == 403


@pytest.mark.parametrize(("raw", "roles"), [("", ()), ("admin", ("admin",)),
                                            (" Admin , supervisor ", ("admin", "supervisor"))])
def test_the_setting(monkeypatch, raw, roles):
    monkeypatch.setenv("REQUIRE_2FA_ROLES", raw)
    assert env_roles("REQUIRE_2FA_ROLES", "admin") == roles


def test_the_setting_defaults_to_admin_and_refuses_unknown_roles(monkeypatch):
    monkeypatch.delenv("REQUIRE_2FA_ROLES", raising=False)
    assert env_roles("REQUIRE_2FA_ROLES", "admin") == ("admin",)
    monkeypatch.setenv("REQUIRE_2FA_ROLES", "admins")
    with pytest.raises(ConfigError, match="REQUIRE_2FA_ROLES"):
        env_roles("REQUIRE_2FA_ROLES", "admin")
