from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime, utcnow


class ApiToken(db.Model):
    """A user's API token (DESIGN 8.4): shown once as tt_<prefix>_<secret>; only the prefix
    (to find the row) and the SHA-256 of the secret are kept. The secret is 160 random bits:
    a slow hash adds nothing, and every API request checks it."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint("length(secret_hash) = 64", name="secret_hash"),
        CheckConstraint("scopes <> ''", name="scopes"),
        CheckConstraint("expires_at > created_at", name="expiry"),
        # Revoked means both who and when.
        CheckConstraint("(revoked_at IS NULL) = (revoked_by_id IS NULL)", name="revoked"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    scopes: Mapped[str] = mapped_column(String(200))  # space-separated, app/auth/scopes.py
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The sites it may work in (issue 21), space-separated codes; None: all its user's.
    sites: Mapped[str | None] = mapped_column(String(200))

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())

    @property
    def site_codes(self) -> list[str] | None:
        """The sites it is limited to; None: every site its user works in."""
        return sorted(self.sites.split()) if self.sites else None

    def is_live(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now

    def to_dict(self) -> dict:
        """What anyone may see of a token: never the secret nor its hash."""
        def iso(value):
            return value.isoformat() if value else None

        return {"id": self.id, "name": self.name, "prefix": self.prefix,
                "scopes": sorted(self.scope_set), "created_at": iso(self.created_at),
                "expires_at": iso(self.expires_at), "last_used_at": iso(self.last_used_at),
                "revoked_at": iso(self.revoked_at), "sites": self.site_codes}
