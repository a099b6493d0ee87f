"""Things sent once a day (the day's dispatch summary): one row claims (kind, day), so that
of every worker and host that looks at the same time, one sends and the others see the row."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime, utcnow

# sending: claimed by `claimed_by`, being sent now; retry: the last try failed, the next
# is due at next_attempt_at; sent: handed to the SMTP server; logged: built and logged only
# (no SMTP server or no recipients configured).
SENDING, RETRY, SENT, LOGGED = "sending", "retry", "sent", "logged"
DONE_STATUSES = (SENT, LOGGED)


class DailySend(db.Model):
    __tablename__ = "daily_sends"
    __table_args__ = (
        UniqueConstraint("kind", "day"),
        CheckConstraint("status IN ('sending', 'retry', 'sent', 'logged')", name="status"),
        CheckConstraint("status <> 'retry' OR next_attempt_at IS NOT NULL",
                        name="retry_has_next_attempt"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=SENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<DailySend {self.kind} {self.day} {self.status}>"
