"""User management: admins create, edit, deactivate and reset users; everyone changes their
own password. The same functions serve the /users pages and the JSON API.

Services never commit; they raise AccountError (app.auth.services) with a code the caller
maps to a status. Every change writes an audit event in the same transaction, with before
and after values that never include a password or a hash.

The last-admin guard is race-free: every change to a user first locks, in id order, the rows
of all active admins and of the target user (SELECT ... FOR UPDATE on PostgreSQL; SQLite
has one writer at a time, and a transaction whose snapshot went stale cannot write), then
re-reads them and decides on what the database holds now. Two admins demoting each other at the same moment are serialised; the
second sees that only one admin is left and is refused."""

from __future__ import annotations

import unicodedata

from collections.abc import Mapping

from sqlalchemy import and_, or_, select, true
from sqlalchemy.exc import IntegrityError

from app.audit.services import (ACCOUNT_PASSWORD_CHANGE, USER_CREATE, USER_DEACTIVATE,
                                USER_LOGOUT_EVERYWHERE, USER_PASSWORD_RESET, USER_REACTIVATE,
                                USER_TWO_FACTOR_RESET, USER_UPDATE, record_audit)
from app.auth.passwords import generate_password, hash_password, verify_password
from app.auth.services import (USERNAME_TAKEN, AccountError, create_user, end_sessions, find_user,
                               normalise_username, validate_new_password)
from app.domain import Text
from app.extensions import db
from app.i18n import LANGUAGES, is_timezone
from app.models import ROLES, Site, User, UserSite
from app.site_scope import current_site_id
from app.sites import services as sites_service

ADMIN = "admin"
MAX_DISPLAY_NAME = 120
EDITABLE_FIELDS = ("display_name", "role", "is_active", "password", "language", "timezone",
                   "sites")
CREATE_FIELDS = ("username", "role", "password", "display_name", "language", "timezone",
                 "sites")
PREFERENCES = ("language", "timezone")
RESERVED_USERNAMES = frozenset({"new"})  # /users/new is the creation page


def profile(user: User) -> dict:
    """What the audit trail keeps of a user: never the password or its hash."""
    return {"username": user.username, "display_name": user.display_name,
            "role": user.role, "is_active": user.is_active}


# --- reading -------------------------------------------------------------------------------

def in_current_site():
    """Users are seen in the sites they work in (issue 21): the current site's members and
    the admins, who work in all. No current site (the CLI): everyone."""
    site_id = current_site_id()
    if site_id is None:
        return true()
    return or_(User.role == ADMIN, User.id.in_(sites_service.member_ids(site_id)))


def list_users(q: str = "", role: str = "", active: bool | None = None) -> list[User]:
    query = select(User).where(in_current_site()).order_by(User.username)
    q = (q or "").strip()
    if q:
        query = query.where(or_(User.username.contains(q.lower(), autoescape=True),
                                User.display_name.icontains(q, autoescape=True)))
    if role in ROLES:
        query = query.where(User.role == role)
    if active is not None:
        query = query.where(User.is_active.is_(active))
    return list(db.session.scalars(query))


def site_codes_by_user(users: list[User]) -> dict[int, list[str]]:
    """Each user's site codes (User.site_codes()) for a whole list in two queries, not one
    per user: every site for an admin, the user's memberships for anyone else."""
    every_site = list(db.session.scalars(select(Site.code).order_by(Site.code)))
    members = [user.id for user in users if user.role != "admin"]
    found: dict[int, list[str]] = {user_id: [] for user_id in members}
    if members:
        rows = db.session.execute(
            select(UserSite.user_id, Site.code).join(Site, Site.id == UserSite.site_id)
            .where(UserSite.user_id.in_(members)).order_by(Site.code))
        for user_id, code in rows:
            found[user_id].append(code)
    return {user.id: (every_site if user.role == "admin" else found[user.id])
            for user in users}


def get_user(username: str) -> User:
    user = find_user(username) if isinstance(username, str) else None
    if user is not None and current_site_id() is not None and not db.session.scalar(
            select(User.id).where(User.id == user.id, in_current_site())):
        user = None  # works elsewhere only: as absent as an unknown name
    if user is None:
        raise AccountError("user_not_found",
                           Text("There is no user %(name)s. Check the username in the user list.",
                                name=repr(normalise_username(str(username)))))
    return user


# --- checking input --------------------------------------------------------------------------

def _check_role(role: object) -> str:
    if not isinstance(role, str) or role not in ROLES:
        raise AccountError("invalid_role", Text("Role must be one of: %(choices)s.",
                                                choices=", ".join(ROLES)),
                           field="role")
    return role


def _check_display_name(display_name: object) -> str:
    if display_name is None:
        return ""
    if not isinstance(display_name, str):
        raise AccountError("invalid_display_name", "The display name must be text.",
                           field="display_name")
    if any(unicodedata.category(ch) == "Cs" for ch in display_name):
        # A lone surrogate cannot be stored or shown (it is not valid UTF-8).
        raise AccountError("invalid_display_name", "The display name has a broken character "
                           "in it. Type it again.", field="display_name")
    cleaned = " ".join(display_name.split())  # no tabs, newlines or runs of spaces
    cleaned = "".join(ch for ch in cleaned if unicodedata.category(ch) != "Cc")
    if len(cleaned) > MAX_DISPLAY_NAME:
        raise AccountError("invalid_display_name",
                           Text("Use at most %(count)s characters for the display name.",
                                count=MAX_DISPLAY_NAME),
                           field="display_name")
    return cleaned


def check_language(language: object) -> str | None:
    """`en`, `hi`, or None (null or empty: the browser's language)."""
    if language is None or language == "":
        return None
    if not isinstance(language, str) or language not in LANGUAGES:
        raise AccountError("invalid_language", Text(
            "The language must be one of: %(choices)s.", choices=", ".join(LANGUAGES)),
            field="language")
    return language


def check_timezone(timezone: object) -> str | None:
    """An IANA time zone name such as Asia/Kolkata, or None (null or empty: the site's)."""
    if timezone is None or timezone == "":
        return None
    if not is_timezone(timezone):
        raise AccountError("invalid_timezone", Text(
            "The time zone must be a name such as Asia/Kolkata or Europe/London."),
            field="timezone")
    return timezone


def set_preferences(target: User, changes: Mapping) -> dict:
    """A user's own language and time zone (the /account page, the language switch); not
    an administrative change, so no audit event. Answers what changed."""
    new = {}
    if "language" in changes:
        new["language"] = check_language(changes["language"])
    if "timezone" in changes:
        new["timezone"] = check_timezone(changes["timezone"])
    changed = {name: value for name, value in new.items() if getattr(target, name) != value}
    for name, value in changed.items():
        setattr(target, name, value)
    return changed


def _check_password_type(password: object) -> str:
    if not isinstance(password, str) or password == "":
        raise AccountError("invalid_password",
                           "Send the new password as a non-empty text value.", field="password")
    return password


def _refuse_unknown(fields: Mapping, allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise AccountError("unknown_field",
                           Text("Unknown field %(fields)s; use only %(allowed)s.",
                                fields=", ".join(unknown), allowed=", ".join(allowed)),
                           field=unknown[0])


# --- creating --------------------------------------------------------------------------------

def create_account(actor: User, username: object, role: object, password: object = None,
                   display_name: object = None, *, generate: bool = False,
                   sites: list | None = None) -> tuple[User, str | None]:
    """Create a user. With `generate`, a random password is made and returned (once: it is
    stored only as a hash); otherwise the given password must pass the policy."""
    if not isinstance(username, str) or not username.strip():
        raise AccountError("invalid_username", "Type a username.", field="username")
    if normalise_username(username) in RESERVED_USERNAMES:
        raise AccountError("invalid_username", Text(
            "The username %(name)s is reserved for the app's own pages. Choose another.",
            name=normalise_username(username)),
                           field="username")
    role = _check_role(role)
    display_name = _check_display_name(display_name)
    generated = None
    if generate:
        generated = password = generate_password(normalise_username(username))
    password = _check_password_type(password)
    user = create_user(username, role, password, display_name, sites=sites)
    try:
        with db.session.begin_nested():  # a concurrent twin hits the unique index here
            db.session.flush()
    except IntegrityError:
        raise AccountError("username_taken", Text(USERNAME_TAKEN, name=user.username),
                           field="username") from None
    record_audit(actor, USER_CREATE, "user", user.username, None, profile(user))
    return user, generated


def create_account_from(actor: User, fields: Mapping) -> User:
    """The API's body: {"username", "role", "password", "display_name"?}."""
    _refuse_unknown(fields, CREATE_FIELDS)
    if "password" not in fields:
        raise AccountError("invalid_password", "Send a password for the new user.",
                           field="password")
    preferences = {name: fields[name] for name in PREFERENCES if name in fields}
    set_preferences(User(), preferences)  # checks them before anything is written
    sites = sites_service.check_site_codes(fields["sites"]) if "sites" in fields else None
    user, _ = create_account(actor, fields.get("username"), fields.get("role"),
                             fields.get("password"), fields.get("display_name"), sites=sites)
    set_preferences(user, preferences)
    return user


# --- changing ----------------------------------------------------------------------------------

def _lock_admins_and(target: User) -> list[User]:
    """Lock the active admins' rows and the target's, in id order (so that two changes
    never wait on each other crosswise), reload them from the database, and return the
    active admins as they are now. The caller then checks that its actor is still one of
    them: another admin may have demoted them a moment ago."""
    rows = list(db.session.scalars(
        select(User)
        .where(or_(and_(User.role == ADMIN, User.is_active.is_(True)), User.id == target.id))
        .order_by(User.id)
        .with_for_update()
        .execution_options(populate_existing=True)))
    return [user for user in rows if user.role == ADMIN and user.is_active]


def _check_still_admin(actor: User, admins: list[User]) -> None:
    if actor.id not in {user.id for user in admins}:
        raise AccountError("forbidden", "Your account is no longer an active admin, so this "
                           "change was not made. Ask another admin.")


def update_user(actor: User, target: User, changes: Mapping) -> User:
    """Apply any of display_name, role, is_active, password to `target`. Role change,
    deactivation and password reset end the target's sessions at their next request."""
    _refuse_unknown(changes, EDITABLE_FIELDS)
    if not changes:
        raise AccountError("no_changes", Text("Send at least one of %(fields)s.",
                                                fields=", ".join(EDITABLE_FIELDS)))
    new = {}
    if "display_name" in changes:
        new["display_name"] = _check_display_name(changes["display_name"]) or target.username
    if "role" in changes:
        new["role"] = _check_role(changes["role"])
    if "is_active" in changes:
        if not isinstance(changes["is_active"], bool):
            raise AccountError("invalid_is_active", "is_active must be true or false.",
                               field="is_active")
        new["is_active"] = changes["is_active"]
    new_hash = None
    if "password" in changes:
        password = _check_password_type(changes["password"])
        validate_new_password(password, target.username)
        new_hash = hash_password(password)  # hashing is slow: before any row is locked

    preferences = {name: changes[name] for name in PREFERENCES if name in changes}
    set_preferences(User(language=target.language, timezone=target.timezone), preferences)
    sites = sites_service.check_site_codes(changes["sites"]) if "sites" in changes else None

    if target.id == actor.id:
        _refuse_own(new, new_hash is not None)

    admins = _lock_admins_and(target)  # target and actor now hold the database's values
    removes_admin = (target.role == ADMIN and target.is_active
                     and (new.get("role", ADMIN) != ADMIN or new.get("is_active") is False))
    if removes_admin and len(admins) <= 1:
        raise AccountError("last_admin", Text(
            "%(name)s is the last active admin. Make another user an admin first, then try "
            "again.", name=target.username))
    _check_still_admin(actor, admins)

    _apply(actor, target, new, new_hash)
    if sites is not None:
        sites_service.set_user_sites(actor, target, sites)
    before = {name: getattr(target, name) for name in PREFERENCES}
    changed = set_preferences(target, preferences)
    if changed:
        record_audit(actor, USER_UPDATE, "user", target.username,
                     {name: before[name] for name in changed}, changed)
    return target


def _refuse_own(new: dict, resets_password: bool) -> None:
    if new.get("is_active") is False:
        raise AccountError("own_account", "You cannot deactivate your own account. "
                           "Ask another admin to do it.", field="is_active")
    if "role" in new and new["role"] != ADMIN:
        raise AccountError("own_account", "You cannot change your own role. "
                           "Ask another admin to do it.", field="role")
    if resets_password:
        raise AccountError("own_account", "Change your own password on the Account page, "
                           "where your current password is asked for.", field="password")


def _apply(actor: User, target: User, new: dict, new_hash: str | None) -> None:
    end = False
    profile_before, profile_after = {}, {}
    for name in ("display_name", "role"):
        if name in new and new[name] != getattr(target, name):
            profile_before[name], profile_after[name] = getattr(target, name), new[name]
            setattr(target, name, new[name])
            end = end or name == "role"
    if profile_after:
        record_audit(actor, USER_UPDATE, "user", target.username, profile_before, profile_after)

    if "is_active" in new and new["is_active"] != target.is_active:
        target.is_active = new["is_active"]
        # Also on reactivation: a cookie from before the deactivation must stay dead.
        end = True
        record_audit(actor, USER_REACTIVATE if target.is_active else USER_DEACTIVATE, "user",
                     target.username, {"is_active": not target.is_active},
                     {"is_active": target.is_active})

    if new_hash is not None:
        target.password_hash = new_hash
        target.failed_login_count = 0
        end = True
        record_audit(actor, USER_PASSWORD_RESET, "user", target.username, None,
                     {"sessions_ended": True})
    if end:
        end_sessions(target)


def reset_password(actor: User, target: User, password: str | None = None, *,
                   generate: bool = False) -> str | None:
    """Set a new password for `target`, typed or generated; returns the generated one."""
    generated = generate_password(target.username) if generate else None
    update_user(actor, target, {"password": generated or password})
    return generated


def log_out_everywhere(actor: User, target: User) -> None:
    _check_still_admin(actor, _lock_admins_and(target))
    before = target.session_version
    end_sessions(target)
    record_audit(actor, USER_LOGOUT_EVERYWHERE, "user", target.username,
                 {"session_version": before}, {"session_version": target.session_version})


# --- one's own account ---------------------------------------------------------------------------

def change_own_password(user: User, current_password: str, new_password: str) -> None:
    """The current password is required. Ends every other session of this user; the caller
    logs the current one in again under the new session version."""
    if not verify_password(user.password_hash, current_password or ""):
        raise AccountError("wrong_password",
                           "That is not your current password. Type it again.",
                           field="current_password")
    if new_password == current_password:
        raise AccountError("same_password", "Choose a new password that differs from the "
                           "current one.", field="new_password")
    try:
        validate_new_password(new_password or "", user.username)
    except AccountError as error:
        error.field = "new_password"
        raise
    user.password_hash = hash_password(new_password)
    end_sessions(user)
    record_audit(user, ACCOUNT_PASSWORD_CHANGE, "user", user.username, None,
                 {"sessions_ended": True})


def reset_two_factor(actor: User, target: User) -> None:
    """Remove another user's second factor (a lost phone and no recovery code left): their
    sessions end, and they enrol again at their next login if their role needs it."""
    from app.auth import two_factor

    if actor.id == target.id:
        raise AccountError("own_two_factor",
                           "You cannot reset your own second factor: ask another admin.")
    if not target.has_two_factor:
        raise AccountError("no_two_factor",
                           Text("%(name)s has no second factor to reset.", name=target.username))
    two_factor.reset(target)
    record_audit(actor, USER_TWO_FACTOR_RESET, "user", target.username,
                 {"two_factor": True}, {"two_factor": False, "sessions_ended": True})
