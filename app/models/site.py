"""Sites (issue 21, DESIGN.md 8.5): the warehouses and depots of one deployment. Every bag,
dispatch, import, job, label series, scan event and audit row has its site_id; codes stay
unique across all sites. Users belong to sites through user_sites; admins belong to all
(their role says so: no rows needed).

A row written without a site gets the current site (app/site_scope.py), or outside any
request or job the DEFAULT_SITE_CODE site, by the column default below: the same for the ORM
and for Core inserts, so no writer can forget it."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime, utcnow
from app.site_scope import current_site_id

SITE_CODE_PATTERN = r"^[A-Z0-9_-]{2,16}$"
_DEFAULT_KEY = "tracetrack.default_site_id"


class Site(db.Model):
    __tablename__ = "sites"
    __table_args__ = (
        CheckConstraint("code = upper(code)", name="code_upper"),
        CheckConstraint("length(code) BETWEEN 2 AND 16", name="code_length"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def to_dict(self) -> dict:
        return {"code": self.code, "name": self.name, "timezone": self.timezone}

    def __repr__(self) -> str:
        return f"<Site {self.code}>"


class UserSite(db.Model):
    """A (non-admin) user's membership of a site."""

    __tablename__ = "user_sites"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"),
                                         primary_key=True, index=True)


def default_site_id(connection=None) -> int:
    """The id of the DEFAULT_SITE_CODE site, read once per app (sites are never deleted)."""
    cached = current_app.extensions.get(_DEFAULT_KEY)
    if cached is None:
        statement = select(Site.id).where(Site.code == current_app.config["DEFAULT_SITE_CODE"])
        cached = (connection.scalar(statement) if connection is not None
                  else db.session.scalar(statement.execution_options(all_sites=True)))
        if cached is None:
            raise RuntimeError(f"there is no site {current_app.config['DEFAULT_SITE_CODE']} "
                               "(DEFAULT_SITE_CODE): run the migrations")
        current_app.extensions[_DEFAULT_KEY] = cached
    return cached


def site_default(context) -> int:
    """The column default of every site_id: the current site, else the default site."""
    site_id = current_site_id()
    if site_id is not None:
        return site_id
    return default_site_id(context.connection if context is not None else None)


def site_column() -> Mapped[int]:
    return mapped_column(ForeignKey("sites.id"), default=site_default)
