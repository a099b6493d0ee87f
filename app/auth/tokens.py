"""API tokens (DESIGN 8.4, 8.7): made, checked on each request, revoked (making and revoking
are audited). Services never commit (except the throttled last-use stamp, which is its own
tiny transaction).

A token reads `tt_<prefix>_<secret>`. The prefix finds the row and is shown in lists; the
secret is kept as its SHA-256 only, so the database (or a backup of it) cannot be used to
call the API. A token is worth no more than its user today: each request loads the user
with the token, refuses a deactivated user, and allows a scope only while the user's current
role allows it (app/auth/scopes.py)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import bindparam, or_, select, update

from app.audit.services import record_audit
from app.auth.passwords import verify_password
from app.auth.scopes import SCOPES, scopes_for_role
from app.domain import DomainError, Text
from app.extensions import db
from app.models import ApiToken, User
from app.models.types import utcnow

DEFAULT_DAYS = 90
MAX_DAYS = 365
WARN_DAYS = 14
NAME_MAX = 80
LAST_USED_EVERY = timedelta(minutes=1)  # a busy token writes its last use once a minute
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_TOKEN = re.compile(r"^tt_([a-z2-7]{10})_([a-z2-7]{32})$")

_TOKEN_AND_USER = (select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                   .where(ApiToken.prefix == bindparam("prefix")))


class TokenError(DomainError):
    """401 invalid_token or 403 insufficient_scope (RFC 6750's names)."""


INVALID = Text("This API token is not valid: it is unknown, expired or revoked, or its user "
               "is not active. Make a new one at /account/tokens.")


def invalid_token() -> TokenError:
    return TokenError("invalid_token", INVALID, 401)


def insufficient_scope(scope: str | None) -> TokenError:
    if scope is None:
        return TokenError("insufficient_scope", Text("API tokens cannot be used here."), 403,
                          scope=None)
    return TokenError(
        "insufficient_scope",
        Text("This token may not do this: it needs the scope '%(scope)s', and its user's role "
             "must allow it. Make a token with that scope at /account/tokens.", scope=scope),
        403, scope=scope)


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --- making and revoking ----------------------------------------------------------------------

def allowed_scopes(user: User) -> tuple[str, ...]:
    """The scopes this user may give a token now, in the table's order."""
    role_scopes = scopes_for_role(user.role)
    return tuple(scope for scope in SCOPES if scope in role_scopes)


def create_token(user: User, name: str, scopes: list[str], days: int | None,
                 password: str, sites: list[str] | None = None) -> tuple[ApiToken, str]:
    """A new token and its full text, which is shown once and never again. `sites`: the
    site codes it is limited to (issue 21), among its user's; empty or None: all of them."""
    if not verify_password(user.password_hash, password or ""):
        raise DomainError("wrong_password", Text("The current password is not right. Type it "
                                                 "again."), 422, field="password")
    name = (name or "").strip()
    if not name or len(name) > NAME_MAX or not name.isprintable():
        raise DomainError("invalid_input", Text("Give the token a name of 1 to %(most)s "
                                                "characters, e.g. the system that will use it.",
                                                most=NAME_MAX), 422, field="name")
    chosen = sorted(set(scopes or ()))
    if not chosen:
        raise DomainError("invalid_input", Text("Choose at least one scope."), 422,
                          field="scopes")
    not_allowed = [scope for scope in chosen if scope not in allowed_scopes(user)]
    if not_allowed:
        raise DomainError("invalid_input", Text("Your role may not give a token the scope "
                                                "%(scopes)s.", scopes=", ".join(not_allowed)),
                          422, field="scopes")
    days = DEFAULT_DAYS if days is None else days
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_DAYS:
        raise DomainError("invalid_input", Text("A token lasts %(min)s to %(max)s days.",
                                                min=1, max=MAX_DAYS), 422,
                          field="expires_in_days")
    limited = sorted({code.strip().upper() for code in sites or () if code and code.strip()})
    own = set(user.site_codes())
    outside = [code for code in limited if code not in own]
    if outside:
        raise DomainError("invalid_input", Text(
            "You do not work in %(sites)s: a token may be limited only to your own sites.",
            sites=", ".join(outside)[:60]), 422, field="sites")
    prefix, secret = _random(10), _random(32)
    now = utcnow()
    token = ApiToken(user_id=user.id, name=name, scopes=" ".join(chosen), prefix=prefix,
                     sites=" ".join(limited) or None,
                     secret_hash=hash_secret(secret), created_at=now,
                     expires_at=now + timedelta(days=days))
    db.session.add(token)
    db.session.flush()
    record_audit(user, "token.create", "api_token", f"{user.username}/{prefix}", None,
                 {"name": name, "scopes": chosen, "expires_at": token.expires_at.isoformat(),
                  "sites": limited or None})
    return token, f"tt_{prefix}_{secret}"


def tokens_of(user: User) -> list[ApiToken]:
    return list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                   .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def live_tokens_by_user(user_ids: list[int] | None = None) -> dict[int, list[ApiToken]]:
    """Tokens not revoked, by user id (the users API for admins; the admin's list)."""
    query = select(ApiToken).where(ApiToken.revoked_at.is_(None)).order_by(ApiToken.id)
    if user_ids is not None:
        query = query.where(ApiToken.user_id.in_(user_ids))
    found: dict[int, list[ApiToken]] = {}
    for token in db.session.scalars(query):
        found.setdefault(token.user_id, []).append(token)
    return found


def other_users_live_tokens(user: User) -> list[tuple[ApiToken, User]]:
    now = utcnow()
    rows = db.session.execute(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id)
        .where(ApiToken.revoked_at.is_(None), ApiToken.user_id != user.id,
               ApiToken.expires_at > now)
        .order_by(User.username, ApiToken.id))
    return [(token, owner) for token, owner in rows]


def get_token(token_id: int) -> ApiToken:
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise DomainError("token_not_found", Text("There is no such token."), 404)
    return token


def revoke_token(actor: User, token: ApiToken) -> ApiToken:
    """The owner revokes their own token; an admin revokes anyone's (the caller audits it)."""
    if token.user_id != actor.id and not actor.has_role("admin"):
        raise DomainError("token_not_found", Text("There is no such token."), 404)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        token.revoked_by_id = actor.id
        owner = db.session.get(User, token.user_id)
        record_audit(actor, "token.revoke", "api_token", f"{owner.username}/{token.prefix}",
                     {"revoked_at": None}, {"revoked_at": token.revoked_at.isoformat(),
                                            "name": token.name})
    return token


def expires_soon(token: ApiToken, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return token.is_live(now) and token.expires_at - now <= timedelta(days=WARN_DAYS)


# --- on every API request -----------------------------------------------------------------------

def authenticate(header: str) -> tuple[ApiToken, User]:
    """The token and its (active) user for an Authorization header, or 401 invalid_token.
    The secret is compared in constant time; an unknown prefix does the same hashing."""
    scheme, _, value = header.partition(" ")
    match = _TOKEN.match(value.strip()) if scheme.lower() == "bearer" else None
    if match is None:
        raise invalid_token()
    prefix, secret = match.groups()
    supplied = hash_secret(secret)
    row = db.session.execute(_TOKEN_AND_USER, {"prefix": prefix}).first()
    if row is None:
        hmac.compare_digest(supplied, "0" * 64)
        raise invalid_token()
    token, user = row
    now = utcnow()
    if not (hmac.compare_digest(supplied, token.secret_hash) and token.is_live(now)
            and user.is_active):
        raise invalid_token()
    return token, user


def check_scope(token: ApiToken, user: User, scope: str | None, endpoint_known: bool) -> None:
    """403 insufficient_scope unless the token holds `scope` and the user's role still allows
    it. `scope` None: any valid token (the endpoint needs a session and no particular right).
    An endpoint missing from the table takes no token at all (fail closed)."""
    if not endpoint_known:
        raise insufficient_scope(None)
    if scope is None:
        return
    if scope not in token.scope_set or scope not in scopes_for_role(user.role):
        raise insufficient_scope(scope)


def stamp_last_use(token: ApiToken) -> None:
    """Write the last use at most once a minute per token, in its own short transaction
    (before the request's own work, so a refused scan does not undo it)."""
    now = utcnow()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_EVERY:
        return
    db.session.execute(
        update(ApiToken).where(ApiToken.id == token.id, or_(
            ApiToken.last_used_at.is_(None),
            ApiToken.last_used_at < now - LAST_USED_EVERY)).values(last_used_at=now))
    db.session.commit()
    token.last_used_at = now
