from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.site import site_column
from app.models.types import UTCDateTime, utcnow

PARENT = "parent"
CHILD = "child"
OPEN = "open"
COMPLETE = "complete"
LINKED = "linked"
UNLINKED = "unlinked"
# The predicate of a partial index; queries that should use it repeat it literally.
PARENT_ONLY_SQL = "kind = 'parent'"


class Bag(db.Model):
    """A parent (sack) or a child (packet). child_count is kept equal to the number of
    children by database triggers (see the migration), never by application code."""

    __tablename__ = "bags"
    __table_args__ = (
        CheckConstraint("kind IN ('parent', 'child')", name="kind"),
        CheckConstraint("child_count BETWEEN 0 AND capacity", name="child_count_capacity"),
        CheckConstraint(
            "(kind = 'parent' AND status IN ('open', 'complete') AND capacity > 0"
            " AND child_count IS NOT NULL AND parent_id IS NULL)"
            " OR (kind = 'child' AND capacity IS NULL AND child_count IS NULL"
            " AND ((status = 'linked' AND parent_id IS NOT NULL)"
            " OR (status = 'unlinked' AND parent_id IS NULL)))",
            name="kind_shape",
        ),
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
        Index("ix_bags_parent_id_linked_at", "parent_id", "linked_at"),
        # Newest-first browsing of one site's bags with keyset pagination on (created_at,
        # id), alone and under each filter (see docs/PERFORMANCE.md; issue 21 put the site
        # first: every list is one site's).
        Index("ix_bags_site_created_at_id", "site_id", "created_at", "id"),
        Index("ix_bags_site_kind_created_at_id", "site_id", "kind", "created_at", "id"),
        Index("ix_bags_site_status_created_at_id", "site_id", "status", "created_at", "id"),
        Index("ix_bags_site_created_by_created_at_id", "site_id", "created_by_id",
              "created_at", "id"),
        # Dashboard: a site's parents by status and the sum of their child_count (= linked
        # children) from an index-only scan of the parents alone (see docs/PERFORMANCE.md).
        Index("ix_bags_site_parent_status_child_count", "site_id", "status", "child_count",
              postgresql_where=text(PARENT_ONLY_SQL), sqlite_where=text(PARENT_ONLY_SQL)),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Byte order ("C") on PostgreSQL: code-prefix filters and nearest-code suggestions are
    # range scans of the unique index, which only match prefixes in that order.
    code: Mapped[str] = mapped_column(
        String(64).with_variant(String(64, collation="C"), "postgresql"), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    capacity: Mapped[int | None] = mapped_column(Integer)
    child_count: Mapped[int | None] = mapped_column(Integer)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("bags.id", ondelete="RESTRICT"))
    linked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The site that holds it (issue 21); a parent and its children are always at one site.
    site_id: Mapped[int] = site_column()

    @property
    def is_parent(self) -> bool:
        return self.kind == PARENT

    def __repr__(self) -> str:
        return f"<Bag {self.code} {self.kind} {self.status}>"
