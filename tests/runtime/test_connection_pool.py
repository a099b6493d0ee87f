"""Pooled PostgreSQL connections that went stale while idle (the server restarted, a proxy or
an admin dropped them): the pool's pre-ping (DESIGN.md: pool_pre_ping) replaces them, so the
next request does not fail. The control without it shows what the ping saves."""

from __future__ import annotations

import psycopg
from tests.helpers import TEST_DATABASE_URL, pg_only

from app.config import engine_options

pytestmark = pg_only


def app_named(make_app, name: str, *, pre_ping: bool):
    options = engine_options(TEST_DATABASE_URL, pool_size=2, max_overflow=0, pool_timeout=2,
                             statement_timeout_ms=5000, lock_timeout_ms=2000,
                             connect_timeout=2, application_name=name)
    assert options["pool_pre_ping"] is True  # what every app gets
    return make_app(SQLALCHEMY_ENGINE_OPTIONS={**options, "pool_pre_ping": pre_ping})


def drop_connections(name: str) -> int:
    """What a PostgreSQL restart does to the app's idle connections."""
    url = TEST_DATABASE_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        return len(conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (name,)).fetchall())


def test_a_connection_dropped_while_idle_is_replaced_before_the_next_request(make_app):
    client = app_named(make_app, "tt-pre-ping", pre_ping=True).test_client()
    assert client.get("/health/ready").status_code == 200

    assert drop_connections("tt-pre-ping") == 1

    answer = client.get("/health/ready")
    assert answer.status_code == 200, answer.get_json()


def test_without_the_ping_the_same_drop_fails_one_request_then_recovers(make_app):
    client = app_named(make_app, "tt-no-ping", pre_ping=False).test_client()
    assert client.get("/health/ready").status_code == 200

    assert drop_connections("tt-no-ping") == 1

    failed = client.get("/health/ready")
    assert failed.status_code == 503
    assert failed.get_json()["error"]["code"] == "database_unavailable"
    assert client.get("/health/ready").status_code == 200
