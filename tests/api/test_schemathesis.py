"""Issue 19: schemathesis against the running app. A real gunicorn (production settings, one
worker) on PostgreSQL, with every answer checked against its schema on the server side too
(API_CHECK_ANSWERS=1); for a token of each role, every operation of the document gets
generated requests (the document's examples, then fuzzed cases) and each answer is checked:
no 5xx, a status code and a content type the document names, a body that conforms.

Bounded so that CI stays well under its limit: the document's examples, its boundary cases
(the coverage phase) and SCHEMATHESIS_MAX_EXAMPLES fuzzed cases per operation (default 25);
a run over SCHEMATHESIS_MAX_SECONDS per role (default 300) fails. The server listens on
SCHEMATHESIS_PORT (default 8181)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.auth import tokens
from app.auth.scopes import ROLE_SCOPES
from app.extensions import db
from tests.helpers import PASSWORD, build_world, pg_only
from tests.runtime.support import production_env, stop, wait_ready

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance")
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))
MAX_SECONDS = int(os.environ.get("SCHEMATHESIS_MAX_SECONDS", "300"))
PORT = int(os.environ.get("SCHEMATHESIS_PORT", "8181"))
REDIS_URL = os.environ.get("SCHEMATHESIS_REDIS_URL", "redis://127.0.0.1:6379/11")


@pytest.fixture
def server(app, database_url):
    environment = production_env(
        database_url, PORT, GUNICORN_WORKERS="1", GUNICORN_THREADS="2",
        RATELIMIT_STORAGE_URI=REDIS_URL, API_CHECK_ANSWERS="1", REQUIRE_2FA_ROLES="",
        SCAN_RATE_LIMIT="100000 per minute", TOKEN_RATE_LIMIT="100000 per minute",
        GUNICORN_LOGLEVEL="warning")
    process = subprocess.Popen(  # noqa: S603
        [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "main:app"], cwd=ROOT,
        env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{PORT}"
    try:
        wait_ready(base, process)
        yield base, process
    finally:
        stop(process)


def run_schemathesis(base: str, token: str, report: Path) -> subprocess.CompletedProcess:
    command = [
        str(BIN / "st"), "run", f"{base}/api/v1/openapi.json",
        "--header", f"Authorization: Bearer {token}",
        "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES),
        "--phases", "examples,coverage,fuzzing",
        "--workers", "1", "--seed", "19", "--request-timeout", "20",
        "--suppress-health-check", "all", "--no-color",
        "--report", "junit", "--report-junit-path", str(report),
    ]
    # Run in the test's own folder: schemathesis keeps a cache of crashes in .schemathesis/.
    return subprocess.run(command, cwd=report.parent, capture_output=True, text=True,  # noqa: S603
                          timeout=MAX_SECONDS, env={**os.environ, "NO_COLOR": "1"})


@pg_only
@pytest.mark.parametrize("role", ["staff", "supervisor", "admin"])
def test_every_operation_conforms_to_the_document_with_a_token_of_each_role(
        app, make_user, server, tmp_path, role):
    build_world(make_user, app)  # bags, a job and an import to find
    from app.models import User
    from sqlalchemy import select

    user = db.session.scalar(select(User).where(User.username == f"the-{role}"))
    _, token = tokens.create_token(user, "schemathesis", sorted(ROLE_SCOPES[role]), 1,
                                   PASSWORD)
    db.session.commit()
    base, process = server

    result = run_schemathesis(base, token, tmp_path / "junit.xml")

    output = result.stdout + result.stderr
    (Path(os.environ.get("SCHEMATHESIS_LOG_DIR", tmp_path)) / f"schemathesis-{role}.log"
     ).write_text(output)
    failures = output.split("SUMMARY")[0][-20000:]
    assert result.returncode == 0, f"schemathesis failed for {role}:\n{failures}"
    assert process.poll() is None, "the server stopped during the run"
    assert "Traceback" not in (process.stderr.read() if process.poll() is not None else "")
