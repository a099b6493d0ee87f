"""Pooled PostgreSQL connections that went stale (the server restarted, a proxy or an admin
dropped them) while idle: the ping before reuse (app/models/postgresql.py) replaces them, so
the next request does not fail. Busy connections are not pinged: that is the trade."""

from __future__ import annotations

import time

import psycopg
from conftest import TEST_DATABASE_URL, pg_only

from app.config import engine_options

pytestmark = pg_only


def app_named(make_app, name: str, ping_after: int):
    options = engine_options(TEST_DATABASE_URL.replace("postgresql+psycopg", "postgresql"),
                             pool_size=2, max_overflow=0, pool_timeout=2,
                             statement_timeout_ms=5000, lock_timeout_ms=2000,
                             connect_timeout=2, application_name=name)
    return make_app(SQLALCHEMY_ENGINE_OPTIONS=options, DB_PING_AFTER_IDLE_SECONDS=ping_after)


def drop_connections(name: str) -> int:
    """What a PostgreSQL restart does to the app's idle connections."""
    url = TEST_DATABASE_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        return len(conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (name,)).fetchall())


def test_a_connection_dropped_while_idle_is_replaced_before_the_next_request(make_app):
    application = app_named(make_app, "tt-ping-idle", ping_after=1)
    client = application.test_client()
    assert client.get("/health/ready").status_code == 200

    time.sleep(1.2)
    assert drop_connections("tt-ping-idle") == 1

    answer = client.get("/health/ready")
    assert answer.status_code == 200, answer.get_json()


def test_without_the_ping_the_same_drop_fails_one_request_then_recovers(make_app):
    """The control for the test above: it shows the ping is what saved the request."""
    application = app_named(make_app, "tt-ping-never", ping_after=3600)
    client = application.test_client()
    assert client.get("/health/ready").status_code == 200

    assert drop_connections("tt-ping-never") == 1

    failed = client.get("/health/ready")
    assert failed.status_code == 503
    assert failed.get_json()["error"]["code"] == "database_unavailable"
    assert client.get("/health/ready").status_code == 200
