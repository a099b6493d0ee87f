"""JSON request and security logs (no secrets), and /metrics."""

import json
import logging

from tests.helpers import PASSWORD, log_in


class Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.entries = []

    def emit(self, record):
        self.entries.append(json.loads(self.format(record)))


def capture(app, name):
    from app.observability import JsonFormatter

    handler = Lines()
    handler.setFormatter(JsonFormatter())
    logging.getLogger(name).addHandler(handler)
    return handler


def test_one_json_line_per_request_with_user_endpoint_status_duration(app, client, staff):
    lines = capture(app, "tracetrack.request")
    log_in(client, staff.username)
    client.post("/api/v1/scans/parent", json={"code": "SB00001"},
                headers={"X-Request-ID": "req-12345678"})
    entry = lines.entries[-1]
    assert entry["log"] == "request" and entry["request_id"] == "req-12345678"
    assert entry["user"] == staff.username and entry["endpoint"] == "api.scan_parent"
    assert entry["status"] == 201 and entry["duration_ms"] >= 0


def test_security_events_are_logged_without_secrets(app, client, staff):
    lines = capture(app, "tracetrack.security")
    log_in(client, staff.username, "not the password")
    log_in(client, staff.username)
    client.post("/logout")
    events = [entry["event"] for entry in lines.entries]
    assert events[:3] == ["login_failed", "login", "logout"]
    dumped = json.dumps(lines.entries)
    assert PASSWORD not in dumped and "not the password" not in dumped
    assert "tracetrack_session" not in dumped and "csrf" not in dumped.lower()


def test_refusals_are_security_events(app, client, staff):
    lines = capture(app, "tracetrack.security")
    client.post("/api/v1/scans/parent", json={"code": "SB00001"})  # no session
    assert lines.entries[-1]["event"] == "refused" and lines.entries[-1]["status"] == 401


def test_metrics_count_requests_and_scans(app, client, staff):
    log_in(client, staff.username)
    client.post("/api/v1/scans/parent", json={"code": "SB00002"})
    client.post("/api/v1/scans/child", json={"parent": "SB00002", "code": "0016586"})
    body = client.get("/metrics").get_data(as_text=True)
    assert 'tracetrack_requests_total{endpoint="api.scan_child",method="POST",status="201"}' in body
    assert 'tracetrack_scans_total{action="scan_child",result="linked"}' in body
    assert "tracetrack_request_seconds_bucket" in body


def test_metrics_need_the_token_or_the_local_host(make_app):
    app = make_app(METRICS_TOKEN="s3cret-token")
    client = app.test_client()
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    open_app = make_app()
    remote = open_app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert remote.status_code == 403
    assert open_app.test_client().get("/metrics").status_code == 200  # 127.0.0.1
