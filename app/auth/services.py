"""Accounts: authentication, creation, session revocation. Services never commit."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.auth.passwords import (dummy_verify, hash_password, needs_rehash, password_problem,
                                verify_password)
from app.domain import N_, DomainError, Text
from app.extensions import db
from app.models import ROLES, User
from app.models.types import utcnow
from app.sites import services as site_services

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


USERNAME_TAKEN = N_("The username %(name)s is taken. Choose another.")


class AccountError(DomainError):
    """A refused account change; `field` names the form field it is about."""

    def __init__(self, code: str, message: str, field: str | None = None):
        super().__init__(code, message, **({"field": field} if field else {}))
        self.field = field


def normalise_username(username: str) -> str:
    return (username or "").strip().lower()


def find_user(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username == normalise_username(username)))


def authenticate(username: str, password: str) -> User | None:
    """The user when the password is right and the account active; None otherwise, after the
    same amount of hashing work, so that the answer does not tell which part was wrong."""
    user = find_user(username)
    if user is None:
        dummy_verify(password)
        return None
    if not verify_password(user.password_hash, password) or not user.is_active:
        user.failed_login_count += 1
        user.last_failed_login_at = utcnow()
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_login_count = 0
    user.last_login_at = utcnow()
    return user


def end_sessions(user: User) -> None:
    """Every cookie issued before this stops working at its next request."""
    user.end_all_sessions()


def validate_new_password(password: str, username: str) -> None:
    problem = password_problem(password, username)
    if problem:
        raise AccountError("weak_password", problem, field="password")


def create_user(username: str, role: str, password: str, display_name: str = "",
                sites: list | None = None) -> User:
    """A new user, in `sites` (app.models.Site rows), else in the current or default site."""
    username = normalise_username(username)
    if not USERNAME_PATTERN.match(username):
        raise AccountError(
            "invalid_username",
            "Use 2 to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit.",
            field="username",
        )
    if role not in ROLES:
        raise AccountError("invalid_role", Text("Role must be one of: %(choices)s.",
                                                choices=", ".join(ROLES)), field="role")
    if find_user(username) is not None:
        raise AccountError("username_taken", Text(USERNAME_TAKEN, name=username),
                           field="username")
    validate_new_password(password, username)
    user = User(username=username, role=role, password_hash=hash_password(password),
                display_name=(display_name or "").strip()[:120] or username)
    site_services.join_sites(user, sites)
    db.session.add(user)
    return user
