"""Logs and metrics. One JSON log line per request (request id, user, endpoint, status,
duration) and per security event; never a password, cookie or token. Prometheus metrics
at /metrics, summed over all gunicorn workers (prometheus_client multiprocess mode)."""

from __future__ import annotations

import hmac
import json
import logging
import os
import sys
import time

from flask import Blueprint, Flask, Response, current_app, g, request
from flask_login import current_user
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge,
                               Histogram, generate_latest)

from app.security import current_request_id

request_log = logging.getLogger("tracetrack.request")
security_log = logging.getLogger("tracetrack.security")

REQUESTS = Counter("tracetrack_requests_total", "HTTP requests", ["endpoint", "method", "status"])
LATENCY = Histogram(
    "tracetrack_request_seconds", "HTTP request duration", ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SCANS = Counter("tracetrack_scans_total", "Scans by action and result", ["action", "result"])
POOL_CHECKED_OUT = Gauge("tracetrack_db_pool_checked_out", "Connections in use",
                         multiprocess_mode="livesum")
POOL_CAPACITY = Gauge("tracetrack_db_pool_capacity",
                      "Connections the pools may open (pool_size + max_overflow)",
                      multiprocess_mode="livesum")
POOL_OVERFLOW = Gauge("tracetrack_db_pool_overflow", "Connections beyond pool_size",
                      multiprocess_mode="livesum")
WORKER_RSS = Gauge("tracetrack_worker_resident_bytes", "Resident memory of each worker",
                   multiprocess_mode="liveall")
JOBS = Counter("tracetrack_jobs_total", "Background jobs finished", ["kind", "status"])

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_LOCAL = {"127.0.0.1", "::1"}

bp = Blueprint("observability", __name__)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
                 "level": record.levelname, "logger": record.name}
        if isinstance(record.msg, dict):
            entry.update(record.msg)
        else:
            entry["message"] = record.getMessage()
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def init_observability(app: Flask) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    level = getattr(logging, str(app.config.get("LOG_LEVEL", "INFO")).upper(), logging.INFO)
    for logger in (request_log, security_log, app.logger, logging.getLogger("tracetrack.runtime"),
                   logging.getLogger("tracetrack.dispatch_summary")):
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
    app.before_request(_start_timer)
    app.after_request(_after_request)
    app.register_blueprint(bp)


def _start_timer() -> None:
    g.started_at = time.perf_counter()


def _user_name() -> str | None:
    try:
        return current_user.username if current_user.is_authenticated else None
    except Exception:  # noqa: BLE001 - logging must not fail the request (e.g. DB down)
        return None


def _token_prefix() -> str | None:
    """Which API token made the request: its public prefix, never the secret."""
    token = g.get("api_token")
    return token.prefix if token is not None else None


def _after_request(response):
    started = g.pop("started_at", None)
    if started is None or request.endpoint in ("observability.metrics", "static"):
        return response
    duration = time.perf_counter() - started
    endpoint = request.endpoint or "unmatched"
    REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
    LATENCY.labels(endpoint).observe(duration)
    _sample_resources()
    if current_app.config.get("REQUEST_LOG", True):
        request_log.info({
            "log": "request", "request_id": current_request_id(), "user": _user_name(),
            "token": _token_prefix(),
            "method": request.method, "endpoint": endpoint, "path": request.path,
            "status": response.status_code, "duration_ms": round(duration * 1000, 2),
        })
    if response.status_code in (401, 403, 429) or getattr(g, "csrf_refused", False):
        security_event("refused", status=response.status_code, endpoint=endpoint)
    return response


_last_sample = [0.0]


def _sample_resources() -> None:
    """Pool use and resident memory, at most once a second per worker."""
    now = time.monotonic()
    if now - _last_sample[0] < 1:
        return
    _last_sample[0] = now
    from app.extensions import db

    pool = db.engine.pool
    if hasattr(pool, "checkedout"):
        POOL_CHECKED_OUT.set(pool.checkedout())
        POOL_CAPACITY.set(pool.size() + max(0, getattr(pool, "_max_overflow", 0)))
        POOL_OVERFLOW.set(max(0, pool.overflow()))
    try:
        with open("/proc/self/statm") as statm:
            WORKER_RSS.set(int(statm.read().split()[1]) * _PAGE_SIZE)
    except OSError:
        pass


def security_event(event: str, **fields) -> None:
    """Login, failure, logout, refusal: who, from where, which request. Never secrets."""
    security_log.info({"log": "security", "event": event, "request_id": current_request_id(),
                       "remote": request.remote_addr, "user": _user_name(), **fields})


def record_scan(action: str, result: str) -> None:
    SCANS.labels(action, result).inc()


@bp.get("/metrics")
def metrics():
    """Prometheus text format; only with METRICS_TOKEN as a bearer token, or from this host."""
    token = current_app.config.get("METRICS_TOKEN")
    supplied = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    allowed = (token and hmac.compare_digest(supplied, token)) or (
        not token and request.remote_addr in _LOCAL)
    if not allowed:
        from app.errors import error_response

        return error_response(403, "forbidden", "Metrics need the METRICS_TOKEN bearer token.")
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY as registry  # noqa: N811
    from app.ops_metrics import OperationsCollector

    registry = _with_operations(registry, OperationsCollector())
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def _with_operations(registry, collector):
    """The scrape-time gauges (app/ops_metrics.py) beside the registry's own samples,
    without registering them in the process-wide default registry."""
    combined = CollectorRegistry()
    combined.register(_Samples(registry))
    combined.register(collector)
    return combined


class _Samples:
    def __init__(self, registry):
        self.registry = registry

    def collect(self):
        return self.registry.collect()
