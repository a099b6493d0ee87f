"""The audit trail of administrative changes (users, bag corrections, deletions, imports).
Append-only; written in the same transaction as the change it describes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta


from flask import has_request_context, request
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased

from app import cursors
from app.extensions import db
from app.i18n import user_zone
from app.models import AuditEvent, User
from app.security import current_request_id

# The account actions (app/users/services.py writes them; the /audit page filters on them).
USER_CREATE = "user.create"
USER_UPDATE = "user.update"
USER_DEACTIVATE = "user.deactivate"
USER_REACTIVATE = "user.reactivate"
USER_PASSWORD_RESET = "user.password_reset"  # noqa: S105  (an action name)
USER_LOGOUT_EVERYWHERE = "user.logout_everywhere"
ACCOUNT_PASSWORD_CHANGE = "account.password_change"  # noqa: S105
USER_TWO_FACTOR_RESET = "user.two_factor_reset"
ACCOUNT_TWO_FACTOR_ENROL = "account.two_factor_enrol"
ACTIONS = (USER_CREATE, USER_UPDATE, USER_DEACTIVATE, USER_REACTIVATE, USER_PASSWORD_RESET,
           USER_LOGOUT_EVERYWHERE, ACCOUNT_PASSWORD_CHANGE, USER_TWO_FACTOR_RESET,
           ACCOUNT_TWO_FACTOR_ENROL)


def record_audit(actor: User | None, action: str, target_type: str, target: str,
                 before: dict | None = None, after: dict | None = None) -> AuditEvent:
    """Add an audit event for `action` on `target`; the caller's commit makes it durable
    together with the change itself."""
    event = AuditEvent(
        actor_id=actor.id if actor is not None else None,
        action=action, target_type=target_type, target=str(target)[:128],
        before=before, after=after,
        ip_address=request.remote_addr if has_request_context() else None,
        request_id=current_request_id() if has_request_context() else None,
    )
    db.session.add(event)
    return event


# --- reading the trail (the /audit page) ------------------------------------------------------

AUDIT_PAGE_SIZE = 50


@dataclass
class AuditRow:
    event: AuditEvent
    actor: str | None  # the actor's username; None for the system (CLI, migrations)


@dataclass
class AuditPage:
    events: list[AuditRow]
    next_cursor: str | None


CURSOR_SALT = "audit-cursor"


def encode_cursor(event: AuditEvent) -> str:
    """The one signed keyset cursor (app/cursors.py), as the bag list's."""
    return cursors.encode(CURSOR_SALT, event.created_at, event.id)


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    return cursors.decode(CURSOR_SALT, cursor)


def list_audit_events(*, actor: str | None = None, action: str | None = None,
                      target_type: str | None = None, target: str | None = None,
                      date_from: date | None = None, date_to: date | None = None,
                      cursor: str | None = None, limit: int = AUDIT_PAGE_SIZE) -> AuditPage:
    """Newest first, keyset-paginated on (created_at, id): a page deep in a long trail
    costs the same as the first, and new events never shift the pages already seen.
    `actor` is a username; `action` matches as a prefix ("user." finds every user change);
    `target` matches whole, without regard to case; dates are UTC days, both inclusive."""
    actor_user = aliased(User)
    query = (select(AuditEvent, actor_user.username)
             .outerjoin(actor_user, actor_user.id == AuditEvent.actor_id)
             .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()))
    if actor:
        query = query.where(actor_user.username == actor.strip().lower())
    if action:
        query = query.where(AuditEvent.action.startswith(action.strip(), autoescape=True))
    if target_type:
        query = query.where(AuditEvent.target_type == target_type)
    if target:
        query = query.where(func.lower(AuditEvent.target) == target.strip().lower())
    if date_from:
        query = query.where(AuditEvent.created_at >= _day_start(date_from))
    if date_to:
        query = query.where(AuditEvent.created_at < _day_start(date_to + timedelta(days=1)))
    if cursor:
        created_at, event_id = decode_cursor(cursor)
        query = query.where(or_(AuditEvent.created_at < created_at,
                                and_(AuditEvent.created_at == created_at,
                                     AuditEvent.id < event_id)))
    rows = db.session.execute(query.limit(limit + 1)).all()
    events = [AuditRow(event, username) for event, username in rows[:limit]]
    next_cursor = encode_cursor(events[-1].event) if len(rows) > limit else None
    return AuditPage(events, next_cursor)


def _day_start(day: date) -> datetime:
    """Midnight of `day` in the viewer's zone (app/i18n.py), the zone every page shows times in."""
    zone = user_zone()
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
