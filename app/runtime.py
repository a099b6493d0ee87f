"""What the production server does around forking: size the connection pools against the
database, and give each worker its own connections after gunicorn's preload."""

from __future__ import annotations

import ctypes
import logging

from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db

log = logging.getLogger("tracetrack.runtime")


def connection_budget(app: Flask, workers: int) -> tuple[int, int]:
    options = app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {})
    per_worker = options.get("pool_size", 5) + options.get("max_overflow", 10)
    return per_worker, workers * per_worker


def check_connection_budget(app: Flask, workers: int, logger=log) -> dict | None:
    """Log workers x (pool_size + max_overflow) against PostgreSQL's max_connections, and what
    to change when it does not fit. The master's one connection is closed again at once."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        return None
    per_worker, total = connection_budget(app, workers)
    try:
        with app.app_context():
            with db.engine.connect() as connection:
                max_connections = int(connection.execute(text("SHOW max_connections")).scalar())
                reserved = int(connection.execute(
                    text("SHOW superuser_reserved_connections")).scalar())
            db.engine.dispose()
    except SQLAlchemyError as exc:
        logger.warning("connection sizing: the database did not answer (%s); not checked",
                       exc.__class__.__name__)
        return None
    usable = max_connections - reserved
    report = {"workers": workers, "per_worker": per_worker, "total": total,
              "max_connections": max_connections, "usable": usable}
    if total > usable:
        logger.warning(
            "connection sizing: %d workers x %d (DB_POOL_SIZE + DB_MAX_OVERFLOW) = %d can exceed "
            "PostgreSQL's %d usable connections (max_connections %d - %d reserved). Lower "
            "DB_POOL_SIZE/DB_MAX_OVERFLOW (a gthread worker with 2 threads uses at most a few "
            "at a time), or raise max_connections, or put PgBouncer in front.",
            workers, per_worker, total, usable, max_connections, reserved)
    else:
        logger.info("connection sizing: %d workers x %d = %d of %d usable connections",
                    workers, per_worker, total, usable)
    return report


M_MMAP_THRESHOLD = -3  # glibc's malloc.h
MMAP_THRESHOLD_BYTES = 128 * 1024


def return_large_blocks_to_the_system() -> bool:
    """Make glibc give every large freed block back to the system at once.

    Each login hashes with argon2id, which takes a 19 MiB buffer. glibc serves the first one
    with mmap and frees it, then raises its mmap threshold to that size, so later buffers
    come from the thread's heap and stay there after they are freed: 2 threads x 19 MiB in
    each of 4 workers, about 150 MB held for nothing after the shift's logins (measured in
    docs/PERFORMANCE.md). Setting the threshold fixes it at 128 KiB and stops that growth.
    False where the C library has no mallopt (not glibc): nothing to do there."""
    try:
        libc = ctypes.CDLL(None)
        return libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
    except (OSError, AttributeError):
        return False


def compile_templates(app: Flask, logger=log) -> int:
    """Compile every page template in the preloading master. Workers are forked from it, and
    a new one is forked after every GUNICORN_MAX_REQUESTS: each starts with the templates
    compiled (shared copy-on-write) instead of paying 10 to 15 ms on each template's first
    render, which showed up in the page latencies after every recycle."""
    env = app.jinja_env
    names = env.list_templates(filter_func=lambda name: name.endswith(".html"))
    for name in names:
        env.get_template(name)
    logger.info("templates: %d compiled before forking the workers", len(names))
    return len(names)


def reset_after_fork(app: Flask) -> None:
    """Forget any pooled connection inherited from the master, without closing the master's
    sockets (close=False), so that each worker connects on its own."""
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)


def database_settings_report(app: Flask, hosts: int, workers: int) -> dict | None:
    """What the app relies on in the live PostgreSQL server (issue 24): autovacuum on (the
    scan tables take inserts all day; without it their statistics and visibility maps go
    stale), and max_connections, less the reserved ones, enough for every host's workers at
    their pool's ceiling. {"problems": [...plain sentences...], ...numbers}; None off
    PostgreSQL or when the database does not answer."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        return None
    per_worker, per_host = connection_budget(app, workers)
    try:
        with app.app_context():
            with db.engine.connect() as connection:
                def setting(name: str) -> str:
                    return str(connection.execute(text(f"SHOW {name}")).scalar())

                report = {"autovacuum": setting("autovacuum"),
                          "track_counts": setting("track_counts"),
                          "max_connections": int(setting("max_connections")),
                          "reserved": int(setting("superuser_reserved_connections"))}
            db.engine.dispose()
    except SQLAlchemyError as exc:
        log.warning("database settings: the database did not answer (%s); not checked",
                    exc.__class__.__name__)
        return None
    usable = report["max_connections"] - report["reserved"]
    needed = hosts * per_host
    report.update(hosts=hosts, workers=workers, per_worker=per_worker, needed=needed,
                  usable=usable, problems=[])
    if report["autovacuum"] != "on" or report["track_counts"] != "on":
        report["problems"].append(
            f"autovacuum is {report['autovacuum']} (track_counts {report['track_counts']}): "
            "turn both on in postgresql.conf; scan_events and bags grow all day and need "
            "vacuum and fresh statistics.")
    if needed > usable:
        report["problems"].append(
            f"{hosts} hosts x {workers} workers x {per_worker} (DB_POOL_SIZE + DB_MAX_OVERFLOW) "
            f"= {needed} connections can exceed the {usable} usable (max_connections "
            f"{report['max_connections']} - {report['reserved']} reserved): lower the pools, "
            "raise max_connections, or put PgBouncer in front.")
    return report
