"""Issue 24, part 1: two app hosts (two gunicorns on different ports, the same PostgreSQL,
Redis and SECRET_KEY) behind a real nginx rendered by deploy/render_nginx.py."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from app.config import normalise_database_url
from tests.deploy.support import METRICS_TOKEN, Client, say, wait_until
from tests.helpers import PASSWORD, pg_only

pytestmark = [pg_only, pytest.mark.deploy]
ROOT = Path(__file__).resolve().parents[2]


def _get(url: str, token: str | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_two_hosts_share_sessions_logout_limits_jobs_and_are_each_scraped(cluster, make_user):
    make_user("chief", role="supervisor")
    make_user("victim", role="staff")
    limits = {"LOGIN_USERNAME_RATE_LIMIT": "4 per minute", "SCAN_RATE_LIMIT": "6 per minute"}
    host_a = cluster.host("a", JOB_RUNNER_THREADS="0", **limits)   # enqueues, never runs jobs
    host_b = cluster.host("b", JOB_RUNNER_THREADS="1", **limits)
    proxy = cluster.nginx([host_a, host_b])

    # A session made through one host works on the other, and through nginx.
    first = Client()
    assert first.login(host_a.base, "chief", PASSWORD) in (200, 302)
    assert first.call("GET", host_b.base + "/api/v1/bags?limit=1")[0] == 200
    assert first.call("GET", proxy.base + "/api/v1/bags?limit=1")[0] == 200
    copied = first.copy()                        # the same cookie, somewhere else
    second = Client()                            # the same user, logged in on the other host
    assert second.login(host_b.base, "chief", PASSWORD) in (200, 302)
    assert second.call("GET", host_a.base + "/api/v1/bags?limit=1")[0] == 200

    # A job enqueued on host A (no job runner there) is run by host B's runner.
    status, page, final = first.page(host_a.base + "/jobs/verify-bags",
                                     {"csrf_token": first.csrf})
    job_id = int(re.search(r"/jobs/(\d+)", final).group(1))
    job = wait_until(lambda: (lambda answer: answer if answer.get("status") in
                              ("succeeded", "failed") else None)(
        first.call("GET", host_a.base + f"/api/v1/jobs/{job_id}")[1]), 60, "the job to finish")
    assert job["status"] == "succeeded", job
    engine = create_engine(normalise_database_url(cluster.database_url))
    with engine.connect() as connection:
        worker = connection.execute(text("SELECT worker FROM jobs WHERE id = :id"),
                                    {"id": job_id}).scalar_one()
    engine.dispose()
    b_pids = {str(process.pid) for process in host_b.workers()}
    assert worker.split(":")[1] in b_pids, (worker, b_pids)

    # Scan limits are one budget across hosts (Redis): 6 per minute, sent alternately.
    statuses = []
    for number in range(8):
        host = (host_a, host_b)[number % 2]
        statuses.append(first.call("POST", host.base + "/api/v1/scans/parent",
                                   {"code": f"SB{90000 + number}"})[0])
    assert statuses[:6] == [201] * 6 and statuses[6:] == [429, 429], statuses

    # Login limits too: 4 failures per username per minute, alternately on each host.
    failures = []
    for number in range(6):
        failures.append(Client().login((host_a, host_b)[number % 2].base, "victim", "wrong!"))
    assert failures[:4] == [401] * 4 and failures[4:] == [429, 429], failures

    # A logout on one host ends the session on both: the copied cookie and the other
    # login are refused everywhere (the session version lives in PostgreSQL).
    assert first.logout(host_a.base) in (200, 302)
    for client in (copied, second):
        for base in (host_a.base, host_b.base, proxy.base):
            assert client.call("GET", base + "/api/v1/bags?limit=1")[0] == 401

    # /metrics of each host is scraped directly, with the token; nginx never serves it.
    for host in (host_a, host_b):
        status, _, body = _get(host.base + "/metrics", METRICS_TOKEN)
        assert status == 200
        metrics = body.decode()
        assert "tracetrack_requests_total{" in metrics
        assert "tracetrack_database_up 1.0" in metrics
        assert "tracetrack_redis_up 1.0" in metrics
        assert _get(host.base + "/metrics", "wrong-token")[0] == 403
    assert _get(proxy.base + "/metrics", METRICS_TOKEN)[0] == 403
    say(f"two hosts: session, logout, limits (scans {statuses}, logins {failures}), "
        f"job {job_id} run by host b ({worker}), both scraped")


def test_nginx_serves_static_files_with_their_hash_and_a_long_cache(cluster):
    host = cluster.host("a")
    proxy = cluster.nginx([host])
    status, _, page = _get(proxy.base + "/login")
    assert status == 200
    urls = re.findall(r'(?:href|src)="(/static/[^"]+\?v=[0-9a-f]{12})"', page.decode())
    assert len(urls) >= 3, urls
    for url in urls:
        status, headers, body = _get(proxy.base + url)
        assert status == 200, url
        assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert body == (ROOT / url.split("?")[0].lstrip("/")).read_bytes()
    # A module imported by relative path has no version: revalidated each time.
    status, headers, _ = _get(proxy.base + "/static/js/station/sender.js")
    assert status == 200 and headers["Cache-Control"] == "no-cache"
    assert headers["Content-Type"].startswith("application/javascript")
    # Bigger than MAX_CONTENT_LENGTH: refused by nginx before any host reads it.
    request = urllib.request.Request(proxy.base + "/api/v1/scans/parent", method="POST",
                                     data=b"x" * (16 * 1024 * 1024 + 1))
    try:
        urllib.request.urlopen(request, timeout=30)
        raise AssertionError("a body over 16 MiB was accepted")
    except urllib.error.HTTPError as exc:
        assert exc.code == 413
    except (urllib.error.URLError, ConnectionError):
        pass  # nginx may close the connection while the client still sends: refused too
