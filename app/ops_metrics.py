"""Gauges read when /metrics is scraped, for the alert rules of deploy/prometheus/alerts.yml:
can this host reach PostgreSQL and Redis, and are background jobs waiting or stuck. Each
scrape of each host asks once (two small queries on indexed columns and a Redis PING), so
the numbers are current without a thread of their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db, limiter


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation)
    family.add_metric([], value)
    return family


def _redis_up() -> float:
    uri = current_app.config.get("RATELIMIT_STORAGE_URI", "")
    if not uri.startswith(("redis", "rediss")):
        return 1.0  # no Redis configured: nothing to be down (the one-machine trial)
    try:
        return 1.0 if limiter.storage.check() else 0.0
    except Exception:  # noqa: BLE001 - any failure to answer is "down", never a failed scrape
        return 0.0


def _job_numbers() -> dict | None:
    stale = timedelta(seconds=current_app.config.get("JOB_STALE_SECONDS", 60))
    now = datetime.now(UTC)
    try:
        # The table as the models define it (typed columns: times compare right on SQLite
        # too), looked up at run time: this module sits below the models' layer.
        jobs = db.metadata.tables["jobs"]
        queued, oldest = db.session.execute(
            select(func.count(), func.min(jobs.c.created_at))
            .where(jobs.c.status == "queued")).one()
        beat = func.coalesce(jobs.c.heartbeat_at, jobs.c.started_at, jobs.c.created_at)
        stuck = db.session.execute(
            select(func.count()).select_from(jobs)
            .where(jobs.c.status == "running", beat < now - stale)).scalar_one()
        db.session.rollback()
    except (SQLAlchemyError, KeyError):
        db.session.rollback()
        return None
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    age = (now - oldest).total_seconds() if oldest is not None else 0.0
    return {"queued": queued, "oldest": max(0.0, age), "stuck": stuck}


class OperationsCollector:
    """A prometheus_client collector: collect() runs at each scrape, in the request."""

    def collect(self):
        jobs = _job_numbers()
        yield _gauge("tracetrack_database_up",
                     "1 when this host's query to PostgreSQL answered at this scrape",
                     0.0 if jobs is None else 1.0)
        yield _gauge("tracetrack_redis_up",
                     "1 when the rate-limit Redis answered PING at this scrape", _redis_up())
        if jobs is not None:
            yield _gauge("tracetrack_jobs_queued", "Jobs waiting for a runner", jobs["queued"])
            yield _gauge("tracetrack_jobs_oldest_queued_seconds",
                         "Age of the oldest job waiting for a runner", jobs["oldest"])
            yield _gauge("tracetrack_jobs_stuck",
                         "Running jobs whose heartbeat is older than JOB_STALE_SECONDS",
                         jobs["stuck"])
