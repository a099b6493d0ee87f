"""Background jobs (app/jobs/, reached here through async_handler as processes reach it):
durable jobs, the concurrency cap, recovery of jobs whose runner died, and the gate on heavy
requests."""

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

import async_handler
import tests.jobs.job_handlers  # noqa: F401  (registers test_slow and test_broken)
from app.extensions import db
from app.models import Job
from app.models.types import utcnow
from tests.helpers import PASSWORD, log_in

ROOT = Path(__file__).resolve().parents[2]


def fresh(job_id):
    """The job as stored now; the read's transaction ends at once (on SQLite every
    transaction holds the write lock that the runner needs)."""
    db.session.expire_all()
    job = db.session.get(Job, job_id)
    db.session.commit()
    return job


def run_one(app) -> bool:
    """Run one job as a worker's runner would; afterwards this test's session (which the
    test client's requests share) forgets what it had loaded before the runner wrote."""
    db.session.commit()
    ran = async_handler.JobRunner(app).run_once()
    db.session.expire_all()
    return ran


def test_a_job_runs_and_records_its_result_and_progress(app, supervisor, client, login_as):
    login_as(supervisor)
    response = client.post("/jobs/verify-bags")
    assert response.status_code == 302
    job = db.session.scalar(select(Job))
    db.session.commit()
    assert job.status == "queued" and job.created_by_id == supervisor.id

    assert run_one(app) is True
    job = fresh(job.id)
    assert job.status == "succeeded" and job.attempts == 1
    assert job.result == {"parents_checked": 0, "mismatches": [], "mismatch_count": 0}
    assert job.finished_at is not None

    body = client.get(f"/api/v1/jobs/{job.id}").get_json()
    assert body["status"] == "succeeded" and body["result"]["mismatch_count"] == 0
    assert run_one(app) is False  # nothing left


def test_a_failing_job_is_marked_failed_with_a_message(app, staff):
    job = async_handler.enqueue("test_broken", {}, staff)
    db.session.commit()
    run_one(app)
    job = fresh(job.id)
    assert job.status == "failed"
    assert "RuntimeError" in job.error and "Try again" in job.error


def test_jobs_are_visible_to_their_owner_and_supervisors_only(app, make_user, staff, supervisor):
    job = async_handler.enqueue("verify_bags", {}, staff)
    db.session.commit()
    other = make_user("otto", "staff")
    for user, expected in ((staff, 200), (other, 404), (supervisor, 200)):
        client = app.test_client()
        log_in(client, user.username, PASSWORD)
        assert client.get(f"/api/v1/jobs/{job.id}").status_code == expected
        assert client.get(f"/jobs/{job.id}").status_code == expected
    assert app.test_client().get(f"/api/v1/jobs/{job.id}").status_code == 401


def test_no_more_than_max_concurrent_jobs_run(make_app, staff):
    app = make_app(MAX_CONCURRENT_JOBS=1)
    with app.app_context():
        running = async_handler.enqueue("verify_bags", {}, staff)
        queued = async_handler.enqueue("verify_bags", {}, staff)
        db.session.commit()
        running.status, running.heartbeat_at, running.attempts = "running", utcnow(), 1
        db.session.commit()
        assert run_one(app) is False
        assert fresh(queued.id).status == "queued"
        running.status = "succeeded"
        db.session.commit()
        assert run_one(app) is True
        assert fresh(queued.id).status == "succeeded"


def test_stale_jobs_are_requeued_then_failed_after_max_attempts(make_app, staff):
    app = make_app(JOB_STALE_SECONDS=30, JOB_MAX_ATTEMPTS=2)
    with app.app_context():
        old = utcnow() - timedelta(minutes=5)
        retry = Job(kind="verify_bags", params={}, status="running", attempts=1, heartbeat_at=old)
        give_up = Job(kind="verify_bags", params={}, status="running", attempts=2, heartbeat_at=old)
        alive = Job(kind="verify_bags", params={}, status="running", attempts=1, heartbeat_at=utcnow())
        db.session.add_all([retry, give_up, alive])
        db.session.commit()
        assert async_handler.recover_stale_jobs() == 2
        assert fresh(retry.id).status == "queued"
        failed = fresh(give_up.id)
        assert failed.status == "failed" and "stopped" in failed.error
        assert fresh(alive.id).status == "running"


def test_a_job_whose_runner_was_killed_is_taken_up_again(make_app, database_url, staff):
    """A worker is SIGKILLed in the middle of a job: the job does not stay 'running' for ever;
    another runner picks it up once the heartbeat is stale and completes it."""
    app = make_app(JOB_STALE_SECONDS=2, JOB_HEARTBEAT_SECONDS=1)
    with app.app_context():
        job = async_handler.enqueue("test_slow", {"first_attempt_seconds": 60}, staff)
        db.session.commit()
        job_id = job.id
    script = (
        "import sys; sys.path.insert(0, '.');"
        "from app import create_app; import async_handler, tests.jobs.job_handlers;"
        f"app = create_app('testing', {{'SQLALCHEMY_DATABASE_URI': {database_url!r},"
        " 'JOB_HEARTBEAT_SECONDS': 1});"
        "runner = async_handler.JobRunner(app); runner.start();"
        "import time; time.sleep(120)"
    )
    worker = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT,
                              env={**os.environ, "APP_ENV": "testing"})
    try:
        with app.app_context():
            deadline = time.monotonic() + 30
            while fresh(job_id).status != "running" or fresh(job_id).progress_done != 1:
                assert time.monotonic() < deadline, "the subprocess never started the job"
                time.sleep(0.2)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    with app.app_context():
        assert fresh(job_id).status == "running"  # what the dead worker left behind
        time.sleep(2.5)  # let the heartbeat go stale
        assert run_one(app) is True
        job = fresh(job_id)
        assert job.status == "succeeded" and job.attempts == 2 and job.result == {"attempt": 2}


def test_the_heavy_request_gate_answers_503_when_full(make_app):
    app = make_app(HEAVY_REQUESTS_PER_WORKER=1, HEAVY_REQUEST_WAIT_SECONDS=0)
    inside, release = threading.Event(), threading.Event()

    def heavy():
        inside.set()
        release.wait(10)
        return "done"

    app.add_url_rule("/api/v1/test-heavy", "test_heavy", async_handler.heavy_requests.limit(heavy))
    results = []
    first = threading.Thread(target=lambda: results.append(app.test_client().get("/api/v1/test-heavy")))
    first.start()
    assert inside.wait(5)
    busy = app.test_client().get("/api/v1/test-heavy")
    release.set()
    first.join(5)
    assert busy.status_code == 503
    assert busy.get_json()["error"]["code"] == "server_busy" and busy.headers["Retry-After"]
    assert results[0].status_code == 200
    assert app.test_client().get("/api/v1/test-heavy").status_code == 200  # slot released


def test_the_jobs_pages_render(app, supervisor, client, login_as):
    login_as(supervisor)
    job = async_handler.enqueue("verify_bags", {}, supervisor)
    db.session.commit()
    run_one(app)
    listing = client.get("/jobs").get_data(as_text=True)
    assert f'/jobs/{job.id}"' in listing and "Check of every parent&#39;s count" in listing
    assert ">done<" in listing and "succeeded" not in listing
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "0 parents checked: every count is right." in page and "<script src=" in page
    assert "parents_checked" not in page and "{" not in page.split("<main")[1].split("</main>")[0]
