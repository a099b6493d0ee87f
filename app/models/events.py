from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import BigIntPK, UTCDateTime, utcnow

ACCEPTED = "accepted"
REJECTED = "rejected"


class ScanEvent(db.Model):
    """Append-only: every accepted or refused scan, undo, completion, reopen and correction.
    Nothing updates or deletes these rows; an undo is a new event."""

    __tablename__ = "scan_events"
    __table_args__ = (
        CheckConstraint("outcome IN ('accepted', 'rejected')", name="outcome"),
        Index("ix_scan_events_parent_id_created_at", "parent_id", "created_at"),
        Index("ix_scan_events_bag_id_created_at", "bag_id", "created_at"),
        Index("ix_scan_events_user_id_created_at", "user_id", "created_at"),
        Index("ix_scan_events_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the client scanned it (offline replay); created_at is when the server got it.
    client_scanned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(8))
    result: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(String(64))
    bag_id: Mapped[int | None] = mapped_column(ForeignKey("bags.id", ondelete="SET NULL"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("bags.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(String(500))
    scan_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    station: Mapped[str | None] = mapped_column(String(64))


class AuditEvent(db.Model):
    """Append-only record of administrative changes, with before and after."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(128))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    ip_address: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
