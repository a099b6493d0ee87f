from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import (BigInteger, Boolean, CheckConstraint, ForeignKey, Integer, String,
                        UniqueConstraint)
from sqlalchemy import select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.domain import ROLES
from app.extensions import db
from app.models.site import Site, UserSite
from app.models.types import UTCDateTime, utcnow

ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('staff', 'supervisor', 'admin')", name="role"),
        # Stored lower-cased: unique without regard to case on every backend.
        CheckConstraint("username = lower(username)", name="username_lower"),
        CheckConstraint("session_version >= 1", name="session_version"),
        CheckConstraint("language IN ('en', 'hi')", name="language"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="staff")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    failed_login_count: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Two-factor login (app/auth/two_factor.py): the TOTP secret once confirmed, and the
    # time step of the last code accepted (a code works once).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_timecode: Mapped[int | None] = mapped_column(BigInteger)
    # Issue 23: the user's language (en, hi) and IANA time zone; None: the request's / the site's.
    language: Mapped[str | None] = mapped_column(String(8))
    timezone: Mapped[str | None] = mapped_column(String(64))
    # Issue 21: the sites this user works in (admins work in all). Loaded only when read.
    memberships: Mapped[list[UserSite]] = relationship(cascade="all, delete-orphan",
                                                       lazy="select")

    @property
    def has_two_factor(self) -> bool:
        return self.totp_secret is not None

    def get_id(self) -> str:
        # The session carries the version: bumping it ends every older session.
        return f"{self.id}:{self.session_version}"

    def has_role(self, role: str) -> bool:
        """True when this user's role is `role` or above it."""
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    def end_all_sessions(self) -> None:
        self.session_version = self.session_version + 1

    def site_codes(self) -> list[str]:
        """The sites this user works in (issue 21): every site for an admin."""
        stmt = select(Site.code).order_by(Site.code)
        if self.role != "admin":
            stmt = stmt.join(UserSite, UserSite.site_id == Site.id).where(
                UserSite.user_id == self.id)
        return list(db.session.scalars(stmt))

    def to_dict(self, sites: list[str] | None = None) -> dict:
        """The user as the API shows it; `sites` when the caller read them for many users."""
        return {
            "username": self.username,
            "display_name": self.display_name,
            "role": self.role,
            "is_active": self.is_active,
            "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None,
            "language": self.language,
            "timezone": self.timezone,
            "sites": self.site_codes() if sites is None else sites,
        }

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"


class RecoveryCode(db.Model):
    """One of a user's one-time recovery codes, as its SHA-256 (the codes are random, 50
    bits each: a slow hash adds nothing). used_at once spent."""

    __tablename__ = "recovery_codes"
    __table_args__ = (UniqueConstraint("user_id", "code_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
