"""The job runner: claims queued jobs and runs them in background threads of this process.

Claims use SELECT ... FOR UPDATE SKIP LOCKED (PostgreSQL) under a transaction-level advisory
lock, so that at most MAX_CONCURRENT_JOBS run across every worker and host. Each gunicorn
worker starts one runner thread after the fork (gunicorn.conf.py post_fork); a request that
enqueues a job wakes the runner of its own worker. A running job writes a heartbeat; a job
whose runner died (worker killed, host lost) is queued again by the next runner that looks,
up to JOB_MAX_ATTEMPTS, then marked failed with the reason: never left "running" for ever.
`flask --app main jobs work` runs a runner as a process of its own. Runners also do the
registered chores (e.g. purging old uploads) now and then, so that they happen wherever jobs
run. Importing this module starts nothing."""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback

from flask import Flask, current_app
from sqlalchemy import func, select, text, update

from app.site_scope import using_site
from app.extensions import db
from app.jobs.queue import CHORES, HANDLERS, JobContext, JobError, recover_stale_jobs
from app.models import Job
from app.models.job import FAILED, QUEUED, RUNNING, SUCCEEDED
from app.models.types import utcnow
from app.observability import JOBS

log = logging.getLogger("tracetrack.jobs")

# Any constant: the advisory lock that serialises claims, so the concurrency cap is exact.
_CLAIM_LOCK_KEY = 7_130_2026


class JobRunner:
    """Claims and runs jobs in background threads of this process."""

    def __init__(self, app: Flask, threads: int = 1):
        self.app = app
        self.threads = threads
        self.poll_seconds = app.config["JOB_POLL_SECONDS"]
        self.identity = f"{socket.gethostname()}:{os.getpid()}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        self._running_ids: set[int] = set()
        self._lock = threading.Lock()
        self._chores_due: dict[str, float] = {}
        self._chores_lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        for number in range(self.threads):
            thread = threading.Thread(target=self._loop, name=f"job-runner-{number}", daemon=True)
            thread.start()
            self._workers.append(thread)
        self._heartbeat = threading.Thread(target=self._beat, name="job-heartbeat", daemon=True)
        self._heartbeat.start()

    def stop(self, release: bool = True) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._workers:
            thread.join(timeout=2)
        if release:
            self.release_own()

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                worked = self.run_once()
            except Exception:  # noqa: BLE001 - the runner must outlive a broken database
                log.exception("job runner: claiming failed; retrying")
                worked = False
            if not worked:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()

    def _beat(self) -> None:
        interval = self.app.config["JOB_HEARTBEAT_SECONDS"]
        while not self._stop.wait(interval):
            with self._lock:
                ids = list(self._running_ids)
            for job_id in ids:
                try:
                    self.write(job_id, heartbeat_at=utcnow())
                except Exception:  # noqa: BLE001 - a missed beat is retried next time
                    log.warning("job %s: heartbeat failed", job_id)

    # -- one step ----------------------------------------------------------------------------
    def run_once(self) -> bool:
        """Recover jobs of dead runners, then claim and run one job. True when one ran."""
        with self.app.app_context():
            recover_stale_jobs()
            self.do_chores()
            job_id = self.claim()
        if job_id is None:
            return False
        self.execute(job_id)
        return True

    def do_chores(self) -> None:
        """The registered chores that are due (one runner thread of a process at a time)."""
        import time

        if not self._chores_lock.acquire(blocking=False):
            return
        try:
            for name, (function, every_seconds) in CHORES.items():
                now = time.monotonic()
                if now < self._chores_due.get(name, 0.0):
                    continue
                self._chores_due[name] = now + every_seconds
                try:
                    function()
                except Exception:  # noqa: BLE001 - a chore must not stop the runner
                    log.exception("job runner: chore %s failed; trying again later", name)
                    db.session.rollback()
        finally:
            self._chores_lock.release()

    def claim(self) -> int | None:
        """Take the oldest queued job if fewer than MAX_CONCURRENT_JOBS run anywhere."""
        session = db.session
        try:
            if session.get_bind().dialect.name == "postgresql":
                session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                {"key": _CLAIM_LOCK_KEY})
            running = session.scalar(select(func.count()).where(Job.status == RUNNING))
            if running >= current_app.config["MAX_CONCURRENT_JOBS"]:
                session.rollback()
                return None
            job = session.scalar(
                select(Job).where(Job.status == QUEUED).order_by(Job.id)
                .limit(1).with_for_update(skip_locked=True))
            if job is None:
                session.rollback()
                return None
            now = utcnow()
            job.status = RUNNING
            job.attempts += 1
            job.worker = f"{self.identity}:{threading.current_thread().name}"
            job.started_at = job.started_at or now
            job.heartbeat_at = now
            job.error = None
            session.commit()
            return job.id
        finally:
            session.remove()

    def execute(self, job_id: int) -> None:
        with self._lock:
            self._running_ids.add(job_id)
        try:
            status, result, error, kind = self._run_handler(job_id)
            self._finish(job_id, kind, status, result=result, error=error)
        finally:
            with self._lock:
                self._running_ids.discard(job_id)

    def _run_handler(self, job_id: int) -> tuple[str, dict | None, str | None, str]:
        """Run the job's handler in an app context of its own; whatever it leaves open is
        closed before the outcome is written."""
        kind = "unknown"
        with self.app.app_context():
            try:
                job = db.session.get(Job, job_id)
                kind = job.kind
                context = JobContext(job, self)
                db.session.commit()  # hold no transaction while the job runs
                handler = HANDLERS.get(context.kind)
                if handler is None:
                    raise JobError(f"This server does not know jobs of kind {context.kind!r}.")
                with using_site(job.site_id):  # the job works in its own site (issue 21)
                    return SUCCEEDED, handler(context), None, context.kind
            except JobError as exc:
                return FAILED, None, str(exc), kind
            except Exception as exc:  # noqa: BLE001 - a job's bug must not kill the runner
                log.error("job %s failed: %s", job_id, "".join(traceback.format_exception(exc)))
                return FAILED, None, (
                    f"The job stopped on an unexpected error ({exc.__class__.__name__}). "
                    "Try again; if it fails again, tell an admin the job number."), kind
            finally:
                db.session.rollback()
                db.session.remove()

    def _finish(self, job_id: int, kind: str, status: str, result: dict | None = None,
                error: str | None = None) -> None:
        self.write(job_id, status=status, result=result, error=error, finished_at=utcnow())
        JOBS.labels(kind, status).inc()

    def write(self, job_id: int, **values) -> None:
        """Update a job row in a short transaction of its own."""
        with self.app.app_context():
            db.session.execute(update(Job).where(Job.id == job_id).values(**values))
            db.session.commit()
            db.session.remove()

    def release_own(self) -> None:
        """On a clean shutdown, hand this process's running jobs back to the queue."""
        with self.app.app_context():
            db.session.execute(
                update(Job).where(Job.status == RUNNING, Job.worker.like(f"{self.identity}:%"))
                .values(status=QUEUED, worker=None))
            db.session.commit()
            db.session.remove()


# -- the runner of this process ------------------------------------------------------------
_runner: JobRunner | None = None
_runner_lock = threading.Lock()


def start_runner(app: Flask) -> JobRunner:
    """Start this process's runner once (gunicorn post_fork, the dev server's first job)."""
    global _runner
    with _runner_lock:
        if _runner is None or _runner.app is not app:
            _runner = JobRunner(app, threads=app.config["JOB_RUNNER_THREADS"])
            _runner.start()
        return _runner


def stop_runner() -> None:
    global _runner
    with _runner_lock:
        if _runner is not None:
            _runner.stop()
            _runner = None


def wake() -> None:
    """After committing an enqueue: run it soon in this process when a runner may start."""
    app = current_app._get_current_object()
    if _runner is not None:
        _runner.wake()
    elif app.config["JOB_RUNNER_AUTOSTART"]:
        start_runner(app).wake()
