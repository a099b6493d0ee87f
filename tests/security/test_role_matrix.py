"""Issue 6's role matrix: every page and API of user management, for anonymous, staff,
supervisor and admin, answers as designed (DESIGN.md sections 1 and 6): user management
and the audit log are for admins; /account is for everyone logged in; anonymous pages
go to the login page and anonymous API calls get 401; a role that may not gets 403, and a
refused request changes nothing."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, User
from tests.helpers import PASSWORD, log_in

ROLES = ("anonymous", "staff", "supervisor", "admin")
NEW_PASSWORD = "a brand new passphrase for tests"

# (name, method, path, form or JSON body, the admin's answer)
ADMIN_ONLY_PAGES = [
    ("user list", "GET", "/users", None, 200),
    ("user list filtered", "GET", "/users?q=t&role=staff&active=yes", None, 200),
    ("create page", "GET", "/users/new", None, 200),
    ("create", "POST", "/users/new", {"username": "newbie", "role": "staff",
                                      "password": NEW_PASSWORD}, 303),
    ("create generated", "POST", "/users/new", {"username": "newbie", "role": "staff",
                                                "generate": "y"}, 201),
    ("user page", "GET", "/users/target", None, 200),
    ("edit", "POST", "/users/target", {"edit-display_name": "T", "edit-role": "supervisor"}, 303),
    ("reset password", "POST", "/users/target/password", {"reset-password": NEW_PASSWORD}, 303),
    ("reset generated", "POST", "/users/target/password", {"reset-generate": "y"}, 200),
    ("deactivate", "POST", "/users/target/deactivate", {"deactivate-submit": "y"}, 303),
    ("reactivate", "POST", "/users/sleeper/reactivate", {"reactivate-submit": "y"}, 303),
    ("log out everywhere", "POST", "/users/target/logout-everywhere",
     {"sessions-submit": "y"}, 303),
    ("audit log", "GET", "/audit", None, 200),
    ("audit log filtered", "GET", "/audit?actor=ada&action=user.&target=target"
                                  "&date_from=2026-01-01&date_to=2030-01-01", None, 200),
]
ADMIN_ONLY_API = [
    ("api list", "GET", "/api/v1/users", None, 200),
    ("api create", "POST", "/api/v1/users", {"username": "newbie", "role": "staff",
                                             "password": NEW_PASSWORD}, 201),
    ("api update", "PATCH", "/api/v1/users/target", {"role": "supervisor"}, 200),
]
EVERYONE_PAGES = [
    ("account page", "GET", "/account", None, 200),
    ("API tokens page", "GET", "/account/tokens", None, 200),
    ("account wrong password", "POST", "/account", {
        "current_password": "not the password", "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD}, 422),
]

MATRIX = []
for name, method, path, body, admin_answer in ADMIN_ONLY_PAGES:
    MATRIX += [(name, method, path, body, "anonymous", "login"),
               (name, method, path, body, "staff", 403),
               (name, method, path, body, "supervisor", 403),
               (name, method, path, body, "admin", admin_answer)]
for name, method, path, body, admin_answer in ADMIN_ONLY_API:
    MATRIX += [(name, method, path, body, "anonymous", 401),
               (name, method, path, body, "staff", 403),
               (name, method, path, body, "supervisor", 403),
               (name, method, path, body, "admin", admin_answer)]
for name, method, path, body, answer in EVERYONE_PAGES:
    MATRIX += [(name, method, path, body, "anonymous", "login")]
    MATRIX += [(name, method, path, body, role, answer) for role in ROLES[1:]]


def snapshot() -> tuple:
    """Users and audit events as the database holds them (a connection of its own)."""
    with db.engine.connect() as connection:
        users = connection.execute(select(User.__table__).order_by(User.id)).all()
        events = connection.execute(select(func.count()).select_from(AuditEvent)).scalar()
    return users, events


@pytest.mark.parametrize(("name", "method", "path", "body", "role", "expected"), MATRIX,
                         ids=[f"{row[0]}-{row[4]}" for row in MATRIX])
def test_role_matrix(make_app, make_user, name, method, path, body, role, expected):
    for each in ("staff", "supervisor", "admin"):
        make_user(f"the-{each}", each)
    make_user("target", "staff")
    make_user("sleeper", "staff", is_active=False)
    client = make_app().test_client()
    if role != "anonymous":
        assert log_in(client, f"the-{role}", PASSWORD).status_code == 302
    before = snapshot()

    kwargs = {}
    if body is not None:
        kwargs = {"json": body} if path.startswith("/api/") else {"data": body}
    response = client.open(path, method=method, **kwargs)

    if expected == "login":
        assert response.status_code == 302
        assert urlsplit(response.headers["Location"]).path == "/login"
    else:
        assert response.status_code == expected, response.get_data(as_text=True)[:400]
    if path.startswith("/api/") and response.status_code >= 400:
        code = {401: "unauthorized", 403: "forbidden"}[response.status_code]
        assert response.get_json()["error"]["code"] == code
    if response.status_code == 403 and not path.startswith("/api/"):
        assert "Your role may not do this" in response.get_data(as_text=True)
    if method != "GET" and (expected in ("login", 401, 403, 422)):
        assert snapshot() == before, "a refused request changed something"
    if method != "GET" and role == "admin" and expected not in (422,):
        assert snapshot()[1] == before[1] + 1, "an admin's change writes one audit event"


@pytest.mark.parametrize("role", ROLES)
def test_nav_shows_users_and_audit_to_admins_only_and_account_to_everyone(
        make_app, make_user, role):
    client = make_app().test_client()
    if role != "anonymous":
        make_user(f"the-{role}", role)
        log_in(client, f"the-{role}", PASSWORD)

    body = client.get("/account" if role != "anonymous" else "/login").get_data(as_text=True)

    assert ('href="/users"' in body) == (role == "admin")
    assert ('href="/audit"' in body) == (role == "admin")
    assert ('href="/account"' in body) == (role != "anonymous")
