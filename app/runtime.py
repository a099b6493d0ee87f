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
