"""Flask-Login wiring. The session id is "<user id>:<session version>": bumping the version
(logout, log out everywhere, password reset, role change, deactivation) ends every older
session, including a copied cookie, at its next request.

Every request reads the user's row: nothing about a user is kept between requests, so no
worker or host can answer from a stale copy. The scan endpoints (marked `@plain_user`) read
only the columns a scan needs into a SessionUser, without the ORM (docs/PERFORMANCE.md)."""

from __future__ import annotations

from collections.abc import Callable

from flask import (Flask, current_app, flash, has_request_context, redirect, request, session,
                   url_for)
from flask_babel import gettext as _
from sqlalchemy import bindparam, select

from app.extensions import db, login_manager
from app.hot_sql import HotStatement
from app.models import User
from app.models.user import ROLE_RANK

# Built once: every request runs one, and a statement object that is reused keeps its cache
# key, where Session.get() builds and keys a new one each time (docs/PERFORMANCE.md).
_USER_BY_ID = select(User).where(User.id == bindparam("user_id"))
_USER_ROW_BY_ID = HotStatement(select(
    User.id, User.username, User.role, User.is_active, User.session_version,
    User.totp_secret.is_not(None), User.language, User.timezone,
).where(User.id == bindparam("user_id")))


class SessionUser:
    """A logged-in user as the scan endpoints see it: the row's columns that the request
    checks and records (id, role, second factor, language, time zone), read in this request.
    Not an ORM object: it cannot be changed or saved, and the account pages never get one."""

    __slots__ = ("id", "username", "role", "is_active", "session_version", "has_two_factor",
                 "language", "timezone")
    is_authenticated = True
    is_anonymous = False

    def __init__(self, user_id: int, username: str, role: str, is_active: bool,
                 session_version: int, has_two_factor: bool, language: str | None,
                 timezone: str | None):
        self.id, self.username, self.role, self.is_active = user_id, username, role, is_active
        self.session_version, self.has_two_factor = session_version, has_two_factor
        self.language, self.timezone = language, timezone

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    def has_role(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    def __repr__(self) -> str:
        return f"<SessionUser {self.username} {self.role}>"


def plain_user(view: Callable) -> Callable:
    """Mark an endpoint whose user is a SessionUser (put it right under the route decorator).
    Its code must use only SessionUser's attributes of current_user."""
    view.plain_user = True
    return view


def init_login_manager(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    login_manager.user_loader(load_user)
    login_manager.unauthorized_handler(unauthorized)


def load_user(session_id: str):
    user_id, _, version = session_id.partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    view = (current_app.view_functions.get(request.endpoint or "")
            if has_request_context() else None)
    if getattr(view, "plain_user", False):
        row = _USER_ROW_BY_ID.first({"user_id": int(user_id)})
        user = SessionUser(*row) if row is not None else None
    else:
        user = db.session.execute(_USER_BY_ID, {"user_id": int(user_id)}).scalar_one_or_none()
    if user is None or not user.is_active or user.session_version != int(version):
        return None
    return user


def unauthorized():
    from app.errors import error_response, wants_json

    if wants_json():
        return error_response(401, "unauthorized", "Your session has ended. Log in again.")
    ended = "_user_id" in session  # a cookie that named a user whose session was ended
    flash(_("Your session has ended. Log in again.") if ended else _("Please log in to continue."),
          "warning" if ended else "info")
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
