"""The job runner of a process, for what starts processes: gunicorn.conf.py (a runner per
worker after the fork), scripts and benchmarks. The jobs themselves live in the app:
app/jobs/queue.py (define and enqueue), app/jobs/runner.py (claim and run), app/jobs/gate.py
(the bound on heavy requests); each feature registers its own handlers (app/imports,
app/scanning/jobs.py). Nothing in app/ imports this module (.importlinter).

Importing this module starts nothing."""

from app.jobs.gate import RequestGate, heavy_requests
from app.jobs.queue import (JobContext, JobError, chore, enqueue, job_handler,
                            recover_stale_jobs)
from app.jobs.runner import JobRunner, start_runner, stop_runner, wake

__all__ = ["JobContext", "JobError", "JobRunner", "RequestGate", "chore", "enqueue",
           "heavy_requests", "job_handler", "recover_stale_jobs", "start_runner", "stop_runner",
           "wake"]
