"""PostgreSQL connections: a ping before a pooled connection is reused, only when it has
been idle long enough to have gone stale.

SQLAlchemy's pool_pre_ping sends a SELECT 1 on every checkout: a full round trip on every
request, about a seventh of a scan's time under load (docs/PERFORMANCE.md). A connection
that was in use a moment ago is alive; one that sat idle while the database restarted, failed
over or dropped it is the one to check. So this pings on checkout only after
DB_PING_AFTER_IDLE_SECONDS of idleness (0 pings every time, like pool_pre_ping). A failed ping
raises DisconnectionError, which makes the pool discard the connection and open a fresh one
(SQLAlchemy's PoolEvents.checkout contract). A connection that dies while busy fails its
request with 503 database_unavailable, and SQLAlchemy then invalidates the whole pool, so
the station's resend gets a fresh connection."""

from __future__ import annotations

import time

from flask import Flask
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError

from app.extensions import db

_IDLE_SINCE = "tracetrack_idle_since"


def configure_postgresql(app: Flask) -> None:
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        return
    ping_after = float(app.config.get("DB_PING_AFTER_IDLE_SECONDS", 0))
    with app.app_context():
        engine = db.engine  # creating the engine opens no connection
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection, record):
        if record is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection, record, _proxy):
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is not None and time.monotonic() - idle_since < ping_after:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc
