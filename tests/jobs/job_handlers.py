"""A slow job for the runner tests, importable by the test process and by the subprocess
that plays a worker killed in the middle of it."""

import time

from app.jobs.queue import job_handler


@job_handler("test_slow")
def slow_job(context):
    context.progress(1, 2, force=True)
    if context.attempt == 1:
        time.sleep(context.params.get("first_attempt_seconds", 60))
    context.progress(2, 2, force=True)
    return {"attempt": context.attempt}


@job_handler("test_broken")
def broken_job(context):
    raise RuntimeError("boom")
