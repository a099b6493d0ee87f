"""Dispatches (bills of lading, DESIGN.md 8.2): one truck leaving, with the complete parents
loaded onto it. The invariants live in the database (migration 0013_dispatch):
- a parent is on at most one live item (partial unique index on dispatch_items.parent_id
  WHERE state = 'loaded'); unloading deletes the item, a cancel or a return changes its state;
- only complete parents are loaded, and a parent on a live item cannot be reopened
  (triggers on dispatch_items and on bags);
- a dispatch never holds more than expected_parents: parents_loaded is kept by triggers
  (items that are not returned) and checked against expected_parents."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.site import site_column
from app.models.types import UTCDateTime, utcnow

LOADING, DISPATCHED, CANCELLED = "loading", "dispatched", "cancelled"
# A transfer (a dispatch to another site, issue 21) is received there when all its parents are.
RECEIVED = "received"
DISPATCH_STATUSES = (LOADING, DISPATCHED, CANCELLED, RECEIVED)
# An item's state: on the truck (or planned to be), taken back off by a return, or left
# behind on a cancelled dispatch. Only 'loaded' holds the parent. A transfer's item also
# says when its parent was received at the destination (received_at).
ITEM_LOADED, ITEM_RETURNED, ITEM_CANCELLED = "loaded", "returned", "cancelled"
ITEM_RECEIVED = "received"  # a transfer's parent that arrived at the destination (issue 21)
LIVE_ITEM_SQL = "state = 'loaded'"
MAX_EXPECTED_PARENTS = 500


class Dispatch(db.Model):
    __tablename__ = "dispatches"
    __table_args__ = (
        CheckConstraint("status IN ('loading', 'dispatched', 'cancelled', 'received')",
                        name="status"),
        CheckConstraint("expected_parents BETWEEN 1 AND 500", name="expected_parents"),
        CheckConstraint("parents_loaded BETWEEN 0 AND expected_parents",
                        name="parents_loaded_expected"),
        CheckConstraint("(status IN ('dispatched', 'received')) = (dispatched_at IS NOT NULL)",
                        name="dispatched_at_status"),
        CheckConstraint("(status = 'received') = (received_at IS NOT NULL)",
                        name="received_at_status"),
        CheckConstraint("destination_site_id IS NULL OR destination_site_id <> site_id",
                        name="transfer_to_other_site"),
        # Newest first, alone and by status (the list's keyset paging), per site.
        Index("ix_dispatches_site_created_at_id", "site_id", "created_at", "id"),
        Index("ix_dispatches_site_status_created_at_id", "site_id", "status", "created_at",
              "id"),
        # Transfers addressed to a site (its list shows them).
        Index("ix_dispatches_destination_site_id", "destination_site_id",
              postgresql_where=text("destination_site_id IS NOT NULL"),
              sqlite_where=text("destination_site_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    site: Mapped[str | None] = mapped_column(String(16))
    destination: Mapped[str] = mapped_column(String(120))
    vehicle_number: Mapped[str] = mapped_column(String(20))
    driver: Mapped[str | None] = mapped_column(String(120))
    transporter: Mapped[str | None] = mapped_column(String(120))
    reference: Mapped[str | None] = mapped_column(String(64))
    expected_parents: Mapped[int] = mapped_column(Integer)
    parents_loaded: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default=LOADING)
    short_reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dispatched_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Sites (issue 21): the site it leaves from; a transfer's destination site, and when
    # the last of its parents was received there.
    site_id: Mapped[int] = site_column()
    destination_site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<Dispatch {self.code} {self.status}>"


class DispatchItem(db.Model):
    __tablename__ = "dispatch_items"
    __table_args__ = (
        CheckConstraint("state IN ('loaded', 'returned', 'cancelled', 'received')", name="state"),
        CheckConstraint("(state = 'received') = (received_at IS NOT NULL)",
                        name="received_at_state"),
        CheckConstraint("(state = 'returned') = (returned_at IS NOT NULL)",
                        name="returned_at_state"),
        # A parent is on at most one live dispatch.
        Index("uq_dispatch_items_live_parent", "parent_id", unique=True,
              postgresql_where=text(LIVE_ITEM_SQL), sqlite_where=text(LIVE_ITEM_SQL)),
        Index("ix_dispatch_items_dispatch_id_id", "dispatch_id", "id"),
        # Every dispatch a parent was ever on (its timeline).
        Index("ix_dispatch_items_parent_id", "parent_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dispatch_id: Mapped[int] = mapped_column(ForeignKey("dispatches.id", ondelete="CASCADE"))
    parent_id: Mapped[int] = mapped_column(ForeignKey("bags.id", ondelete="RESTRICT"))
    state: Mapped[str] = mapped_column(String(16), default=ITEM_LOADED)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    loaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    returned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    return_reason: Mapped[str | None] = mapped_column(String(300))
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


def in_stock(bag_model):
    """Bags that are in a site's stock: not a parent in transit on a transfer that has left
    and is not received yet, nor one of its children (issue 21: in neither site's lists)."""
    from sqlalchemy import and_, or_, select

    in_transit = (select(DispatchItem.parent_id)
                  .join(Dispatch, Dispatch.id == DispatchItem.dispatch_id)
                  .where(DispatchItem.state == ITEM_LOADED, Dispatch.status == DISPATCHED,
                         Dispatch.destination_site_id.is_not(None)))
    return and_(bag_model.id.not_in(in_transit),
                or_(bag_model.parent_id.is_(None), bag_model.parent_id.not_in(in_transit)))
