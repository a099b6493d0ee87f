"""gunicorn settings: the seed's production shape (4 gthread workers x 2 threads, preload),
each overridable by environment. Start with `gunicorn -c gunicorn.conf.py main:app`
(run_production.sh does).

The fallback without gthread, when a threaded worker misbehaves (a C extension that is not
thread-safe, say): GUNICORN_WORKER_CLASS=sync GUNICORN_THREADS=1 GUNICORN_WORKERS=5.
"""

import json
import os
import shutil
import tempfile


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:5000")
workers = _env_int("GUNICORN_WORKERS", 4)
threads = _env_int("GUNICORN_THREADS", 2)
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
timeout = _env_int("GUNICORN_TIMEOUT", 60)
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _env_int("GUNICORN_KEEPALIVE", 5)
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _env_int("GUNICORN_MAX_REQUESTS_JITTER", 100)
preload_app = os.environ.get("GUNICORN_PRELOAD", "1") not in ("0", "false", "no")
proc_name = "tracetrack"
# deploy/rolling.sh finds the master here (during a USR2 upgrade the new master writes
# "<pidfile>.2" and takes the name over when the old one exits).
pidfile = os.environ.get("GUNICORN_PIDFILE") or None

# One JSON line per request on stdout, with the request id the app put in X-Request-ID and
# the duration in milliseconds. Never cookies or bodies.
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None
access_log_format = json.dumps({
    "log": "access", "time": "%(t)s", "request_id": "%({x-request-id}o)s",
    "remote": "%(h)s", "method": "%(m)s", "path": "%(U)s", "status": "%(s)s",
    "bytes": "%(B)s", "duration_ms": "%(M)s", "agent": "%(a)s",
})
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")

# prometheus_client's multiprocess mode: every worker writes its samples here and /metrics
# adds them up, so one scrape sees all workers. Set before the app is preloaded; samples of
# an earlier run are cleared first.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
else:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="tracetrack-metrics-")


# Before the app is preloaded and the workers forked, so that all of them inherit it: freed
# argon2 buffers (19 MiB per login) go back to the system (app/runtime.py).
from app.runtime import return_large_blocks_to_the_system  # noqa: E402

return_large_blocks_to_the_system()


def when_ready(server):
    from app.runtime import check_connection_budget, compile_templates

    check_connection_budget(server.app.wsgi(), workers, server.log)
    if preload_app:
        compile_templates(server.app.wsgi(), server.log)


def post_fork(server, worker):
    # The preloading master may have created the engine (never a connection, but be sure):
    # each worker must open its own connections, never share the master's sockets.
    from app.runtime import reset_after_fork

    reset_after_fork(server.app.wsgi())
    if os.environ.get("JOB_RUNNER_THREADS", "1") != "0":
        from async_handler import start_runner

        start_runner(server.app.wsgi())


def worker_exit(server, worker):
    # A clean exit (max-requests recycling, HUP, shutdown) hands running jobs back at once;
    # a killed worker's jobs are taken up by another runner when their heartbeat goes stale.
    from async_handler import stop_runner

    stop_runner()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
