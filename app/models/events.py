from __future__ import annotations

from datetime import datetime

from sqlalchemy import (JSON, CheckConstraint, ForeignKey, Index, Integer, String,
                        UniqueConstraint, text)
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.site import site_column
from app.models.types import BigIntPK, ClientDateTime, UTCDateTime, utcnow

ACCEPTED = "accepted"
REJECTED = "rejected"

# Predicates of the dashboard's partial indexes; the queries repeat them literally (a bound
# parameter would not prove that a partial index applies). The trigger that keeps
# scan_counts (migration 0006) counts the same three kinds of event.
# An accepted child scan that linked a child: what "scans" counts.
LINKED_SCAN_SQL = "action = 'child_scan' AND outcome = 'accepted' AND result = 'linked'"
# A parent finished, by hand or by reaching its capacity.
COMPLETED_SQL = "action = 'complete' AND outcome = 'accepted'"
# A refused scan. under_capacity is the question the station asks before finishing a parent
# short ("finish it anyway?"), not a mistake, so it is no error and no exception.
REFUSED_SQL = "outcome = 'rejected' AND result <> 'under_capacity'"
# Floor work: every event but those an import wrote (station 'import:<job id>'). Only floor
# work counts in scan_counts (migration 0010) and on the dashboard; imports have their own
# pages. (substr, not LIKE: no "%" for a driver to read as a placeholder.)
FLOOR_WORK_SQL = "station IS NULL OR substr(station, 1, 7) <> 'import:'"
DISPATCH_EVENT_SQL = "dispatch_id IS NOT NULL"
SLOT_MINUTES = 15  # every time zone's hours and midnights fall on these UTC boundaries


def _made_at_default(context) -> datetime:
    """An event written without its time made was made when it arrived."""
    return context.get_current_parameters().get("created_at") or utcnow()


class ScanEvent(db.Model):
    """Append-only: every accepted or refused scan, undo, completion, reopen and correction.
    Nothing updates or deletes these rows; an undo is a new event."""

    __tablename__ = "scan_events"
    __table_args__ = (
        CheckConstraint("outcome IN ('accepted', 'rejected')", name="outcome"),
        # A client's scan_id is unique per user: two users' devices may number alike.
        UniqueConstraint("user_id", "scan_id", name="uq_scan_events_user_id_scan_id"),
        Index("ix_scan_events_parent_id_created_at", "parent_id", "created_at"),
        Index("ix_scan_events_bag_id_created_at", "bag_id", "created_at"),
        Index("ix_scan_events_user_id_created_at", "user_id", "created_at"),
        Index("ix_scan_events_created_at", "created_at"),
        # Dashboard: accepted child links (the edge of "the last hour") and refusals (the
        # exceptions feed), each a small index of its own rows in time order.
        Index("ix_scan_events_site_linked_made_at", "site_id", "made_at", "user_id",
              postgresql_where=text(LINKED_SCAN_SQL), sqlite_where=text(LINKED_SCAN_SQL)),
        Index("ix_scan_events_site_refused_created_at", "site_id", "created_at", "user_id",
              postgresql_where=text(REFUSED_SQL), sqlite_where=text(REFUSED_SQL)),
        Index("ix_scan_events_dispatch_id_id", "dispatch_id", "id",
              postgresql_where=text(DISPATCH_EVENT_SQL), sqlite_where=text(DISPATCH_EVENT_SQL)),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the client scanned it (offline replay); created_at is when the server got it.
    client_scanned_at: Mapped[datetime | None] = mapped_column(ClientDateTime)
    # When the scan was made: client_scanned_at when the client gave one (in the accepted
    # window), else created_at. Timelines, a parent's children and the dashboard (its
    # trigger-kept counts included, migration 0011) go by it; "undo last" goes by arrival.
    made_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=_made_at_default)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # Wide enough for the dispatch actions (dispatch_cancelled, DESIGN 8.2; migration 0013).
    action: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(8))
    result: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(String(64))
    bag_id: Mapped[int | None] = mapped_column(ForeignKey("bags.id", ondelete="SET NULL"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("bags.id", ondelete="SET NULL"))
    # The parent's code as it was: kept when a supervisor deletes the parent (parent_id then
    # becomes NULL), so no child's history ever loses the parent it was in.
    parent_code: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(500))
    scan_id: Mapped[str | None] = mapped_column(String(64))
    station: Mapped[str | None] = mapped_column(String(64))
    # The dispatch an event belongs to (loads, unloads, dispatching, reopening, cancelling,
    # returns): the dispatch's timeline is its events, and a parent's shows them too.
    dispatch_id: Mapped[int | None] = mapped_column(ForeignKey("dispatches.id"))
    # Where it happened (issue 21): the site's dashboard and feeds count it there.
    site_id: Mapped[int] = site_column()


class AuditEvent(db.Model):
    """Append-only record of administrative changes, with before and after."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_site_created_at", "site_id", "created_at"),)

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
    # The site the change was made in (issue 21): each site's audit log is its own.
    site_id: Mapped[int] = site_column()


class ScanCount(db.Model):
    """Accepted child links, completions and refusals (the *_SQL kinds above) per user and
    15-minute UTC slot. A trigger on scan_events keeps it, in the transaction that inserts
    the event (migration 0006), so the counts never differ from the events; the dashboard
    sums a few thousand of these rows instead of counting a day's events."""

    __tablename__ = "scan_counts"
    __table_args__ = (
        CheckConstraint("kind IN ('linked', 'completed', 'refused')", name="kind"),
        CheckConstraint("count > 0", name="count_positive"),
    )

    slot_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    # Per site (issue 21): each site's dashboard sums its own slots.
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
