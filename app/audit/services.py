"""The audit trail of administrative changes (users, bag corrections, deletions, imports).
Append-only; written in the same transaction as the change it describes."""

from __future__ import annotations

from flask import has_request_context, request

from app.extensions import db
from app.models import AuditEvent, User
from app.security import current_request_id


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
