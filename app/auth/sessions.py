"""Flask-Login wiring. The session id is "<user id>:<session version>": bumping the version
(logout, log out everywhere, password reset, role change, deactivation) ends every older
session, including a copied cookie, at its next request."""

from __future__ import annotations

from flask import Flask, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import bindparam, select

from app.extensions import db, login_manager
from app.models import User

# Built once: every request runs it, and a statement object that is reused keeps its cache
# key, where Session.get() builds and keys a new one each time (docs/PERFORMANCE.md).
_USER_BY_ID = select(User).where(User.id == bindparam("user_id"))


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
