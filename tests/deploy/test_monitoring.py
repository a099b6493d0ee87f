"""Issue 24, parts 1 and 5 without servers: the alert rules pass promtool (rules, their unit
tests, the scrape configuration), every metric they and the Grafana dashboard use is one the
app serves, deploy/nginx.conf is the renderer's output and agrees with the app and gunicorn,
static URLs carry their content hash, and check-config / check-invariants report on the
live database."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ON_POSTGRES, pg_only

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
sys.path.insert(0, str(ROOT / "deploy"))
from render_nginx import DEFAULT_UPSTREAMS, render  # noqa: E402

needs_promtool = pytest.mark.skipif(
    not shutil.which("promtool") and os.environ.get("REQUIRE_PROMTOOL") != "1",
    reason="promtool is not installed (Debian package prometheus; .ci/run installs it)")


def _promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["promtool", *args], cwd=PROMETHEUS, capture_output=True, text=True,
                          timeout=120)


@needs_promtool
def test_promtool_checks_the_rules_their_unit_tests_and_the_scrape_config():
    for args in (("check", "rules", "alerts.yml"), ("test", "rules", "alerts_test.yml"),
                 ("check", "config", "--syntax-only", "prometheus.yml")):
        result = _promtool(*args)
        assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_covers_the_issue_and_uses_metrics_the_app_serves(client):
    rules = (PROMETHEUS / "alerts.yml").read_text()
    alerts = set(re.findall(r"alert: (\w+)", rules))
    assert {"TraceTrackNotReady", "TraceTrackHigh5xxRate", "TraceTrackSlowScans",
            "TraceTrackPoolExhausted", "TraceTrackJobsStuck", "TraceTrackWorkerMemoryHigh",
            "TraceTrackRedisDown", "TraceTrackHostDown"} <= alerts
    tested = set(re.findall(r"alertname: (\w+)", (PROMETHEUS / "alerts_test.yml").read_text()))
    assert alerts <= tested, alerts - tested

    client.get("/health")
    scrape = client.get("/metrics").get_data(as_text=True)
    served = set()
    for name, kind in re.findall(r"^# TYPE (\w+) (\w+)$", scrape, re.MULTILINE):
        served.add(name)
        if kind == "histogram":
            served |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    dashboard = json.loads((ROOT / "deploy/grafana/tracetrack.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = set(re.findall(r"\btracetrack_\w+", rules + "\n".join(expressions)))
    assert used and used <= served, used - served
    assert {"tracetrack_database_up", "tracetrack_redis_up", "tracetrack_jobs_stuck",
            "tracetrack_db_pool_capacity", "tracetrack_worker_resident_bytes"} <= used


def _defaults_env() -> dict:
    return {name: os.environ.pop(name) for name in
            ("MAX_CONTENT_LENGTH", "GUNICORN_TIMEOUT", "GUNICORN_KEEPALIVE") if name in os.environ}


def test_the_committed_nginx_conf_is_the_renderers_output_and_agrees_with_app_and_gunicorn(app):
    saved = _defaults_env()
    try:
        text = render(list(DEFAULT_UPSTREAMS))
    finally:
        os.environ.update(saved)
    assert (ROOT / "deploy/nginx.conf").read_text() == text, (
        "deploy/nginx.conf is stale: python3 deploy/render_nginx.py -o deploy/nginx.conf")
    gunicorn_conf = (ROOT / "gunicorn.conf.py").read_text()
    timeout = int(re.search(r'_env_int\("GUNICORN_TIMEOUT", (\d+)\)', gunicorn_conf).group(1))
    keepalive = int(re.search(r'_env_int\("GUNICORN_KEEPALIVE", (\d+)\)', gunicorn_conf).group(1))
    assert f"client_max_body_size {app.config['MAX_CONTENT_LENGTH']};" in text
    assert f"proxy_read_timeout {timeout + 5}s;" in text
    assert f"keepalive_timeout {keepalive - 1}s;" in text
    for host in DEFAULT_UPSTREAMS:
        assert f"server {host} " in text
    assert "proxy_next_upstream error timeout;" in text
    # Only the idempotent scans may be resent after reaching a host; never undo.
    resent = re.findall(r"location ~ (\S+) \{\s*proxy_next_upstream error timeout non_idempotent;",
                        text)
    assert resent == [r"^/api/v1/scans/(parent|child|batch)$"]
    assert "X-Forwarded-Proto $scheme" in text and "X-Forwarded-For $proxy_add_x_forwarded_for" in text


@pytest.mark.skipif(not shutil.which("nginx") or not shutil.which("openssl"),
                    reason="nginx or openssl is not installed (.ci/run installs nginx)")
def test_nginx_accepts_the_tls_configuration(tmp_path):
    certificate, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(certificate)],
                   check=True, capture_output=True, timeout=60)
    (tmp_path / "run").mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(render(list(DEFAULT_UPSTREAMS), static_root=str(ROOT / "static"),
                           runtime_dir=str(tmp_path / "run"), log_dir=str(tmp_path),
                           tls_certificate=str(certificate), tls_key=str(key)))
    result = subprocess.run(["nginx", "-t", "-c", str(conf), "-p", str(tmp_path),
                             "-e", str(tmp_path / "startup.log")],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


def test_static_urls_carry_the_hash_of_the_files_content(app, tmp_path):
    from flask import url_for

    from app.assets import content_version

    with app.test_request_context():
        url = url_for("static", filename="css/app.css")
    digest = content_version(str(ROOT / "static/css/app.css"))
    assert url == f"/static/css/app.css?v={digest}" and len(digest) == 12
    sample = tmp_path / "sample.css"
    sample.write_text("a { color: red }")
    first = content_version(str(sample))
    sample.write_text("a { color: blue; }")
    assert content_version(str(sample)) != first
    assert content_version(str(tmp_path / "absent.css")) is None


def test_check_invariants_reports_the_schema_and_each_invariant(runner):
    result = runner.invoke(args=["check-invariants"])
    assert result.exit_code == 0, result.output
    assert "schema version: " in result.output and "invariants: all hold" in result.output


@pg_only
def test_check_config_compares_the_live_server_with_every_hosts_pools(runner, monkeypatch):
    assert ON_POSTGRES
    monkeypatch.setenv("APP_HOSTS", "3")
    monkeypatch.setenv("GUNICORN_WORKERS", "4")
    result = runner.invoke(args=["check-config"])
    assert result.exit_code == 0, result.output
    assert re.search(r"postgresql: autovacuum (on|off), 3 hosts x 4 workers x \d+ = \d+ of \d+ "
                     r"usable connections", result.output)
    # The testing pools (10 + 20) on 3 x 4 workers need 360: more than a default server has.
    strict = runner.invoke(args=["check-config", "--strict"])
    assert strict.exit_code == 1
    assert "connections can exceed" in strict.output
