"""Durable background jobs (imports, large exports, checks): what a feature uses to define
and enqueue them. A job is a row in `jobs`; app/jobs/runner.py claims and runs it.

A feature registers a handler with `@job_handler(kind)` in one of its own modules (imported
when the app is built, so that every process that runs jobs knows it), and housekeeping with
`@chore(name, every_seconds)`. A request enqueues with `enqueue(...)`, commits, then calls
`app.jobs.runner.wake()`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from flask import current_app
from sqlalchemy import update

from app.extensions import db
from app.models import Job, User
from app.models.job import FAILED, QUEUED, RUNNING
from app.models.types import utcnow

log = logging.getLogger("tracetrack.jobs")

JobHandler = Callable[["JobContext"], dict]
HANDLERS: dict[str, JobHandler] = {}
CHORES: dict[str, tuple[Callable[[], object], float]] = {}


class JobError(Exception):
    """A job that cannot go on: the message is shown to the user as the job's error."""


def job_handler(kind: str):
    """Register the function that runs jobs of `kind`. It gets a JobContext and returns the
    result (a JSON-able dict). It must be safe to run again after a crash (idempotent)."""

    def register(function: JobHandler) -> JobHandler:
        HANDLERS[kind] = function
        return function

    return register


def chore(name: str, every_seconds: float):
    """Register housekeeping that every job runner does at its first look for work and then
    at most every `every_seconds`, in an app context, before claiming a job. It must be cheap
    when there is nothing to do and safe when several runners do it at once; it commits its
    own work. An error is logged and tried again at the next due time."""

    def register(function: Callable[[], object]) -> Callable[[], object]:
        CHORES[name] = (function, every_seconds)
        return function

    return register


def enqueue(kind: str, params: dict, user: User | None) -> Job:
    """Add a job in the caller's transaction; the caller commits, then calls wake()."""
    if kind not in HANDLERS:
        raise ValueError(f"no job handler for {kind!r}")
    job = Job(kind=kind, params=params, status=QUEUED,
              created_by_id=user.id if user is not None else None)
    db.session.add(job)
    return job


class JobContext:
    """What a running job sees: its parameters, and a progress reporter (`runner` is the
    JobRunner running it, which writes the progress)."""

    def __init__(self, job: Job, runner):
        self.job_id = job.id
        self.kind = job.kind
        self.params = dict(job.params or {})
        self.created_by_id = job.created_by_id
        self.attempt = job.attempts
        self._runner = runner
        self._last_progress = 0.0

    def progress(self, done: int, total: int | None = None, *, force: bool = False) -> None:
        """Record progress, at most a few times a second, in a transaction of its own."""
        import time

        now = time.monotonic()
        if not force and now - self._last_progress < 0.5:
            return
        self._last_progress = now
        self._runner.write(self.job_id, progress_done=done, progress_total=total,
                           heartbeat_at=utcnow())


def recover_stale_jobs() -> int:
    """Jobs whose heartbeat stopped: queued again, or failed after JOB_MAX_ATTEMPTS."""
    config = current_app.config
    cutoff = utcnow() - timedelta(seconds=config["JOB_STALE_SECONDS"])
    stale = (Job.status == RUNNING) & (Job.heartbeat_at < cutoff)
    failed = db.session.execute(
        update(Job).where(stale, Job.attempts >= config["JOB_MAX_ATTEMPTS"])
        .values(status=FAILED, finished_at=utcnow(),
                error="The server running this job stopped, and it failed too often to retry. "
                      "Start it again.")).rowcount
    requeued = db.session.execute(
        update(Job).where(stale).values(status=QUEUED, worker=None)).rowcount
    db.session.commit()
    if failed or requeued:
        log.warning("jobs: %d requeued and %d failed after their runner stopped", requeued, failed)
    return failed + requeued
