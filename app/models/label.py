"""Parent code series (issue 22): each prefix's next number, the series reserved, and every
code handed out. label_codes.code is unique, so no code is ever handed out twice, whatever
the application does; the counter row is locked while a series is reserved, so two
supervisors asking at the same moment wait for each other instead of failing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.site import site_column
from app.models.types import BigIntPK, UTCDateTime, utcnow

CODE_TYPE = String(64)


class LabelCounter(db.Model):
    """The next number to try for a prefix (codes below it are reserved or were skipped
    because a bag held them)."""

    __tablename__ = "label_counters"
    __table_args__ = (CheckConstraint("next_number >= 1", name="next_number_positive"),)

    prefix: Mapped[str] = mapped_column(String(16), primary_key=True)
    next_number: Mapped[int] = mapped_column(Integer, default=1)


class LabelSeries(db.Model):
    """One reservation: who asked, when, and its codes (first and last for the list)."""

    __tablename__ = "label_series"
    __table_args__ = (
        CheckConstraint("count BETWEEN 1 AND 1000", name="count_range"),
        Index("ix_label_series_site_created_at", "site_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(Integer)
    first_code: Mapped[str] = mapped_column(CODE_TYPE)
    last_code: Mapped[str] = mapped_column(CODE_TYPE)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    site_id: Mapped[int] = site_column()


class LabelCode(db.Model):
    """A code handed out by a series; `position` is its place in the series (0 first)."""

    __tablename__ = "label_codes"
    __table_args__ = (Index("ix_label_codes_series_id_position", "series_id", "position",
                            unique=True),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(CODE_TYPE, unique=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("label_series.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
