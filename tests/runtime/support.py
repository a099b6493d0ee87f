"""Starting and stopping the production server in the runtime tests
(test_production_runtime.py, test_faults.py): gunicorn with gunicorn.conf.py on a free
loopback port, its environment, readiness, and its workers."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import psutil

REDIS_URL = "redis://127.0.0.1:6379/6"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def plain_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def production_env(database_url: str, port: int, **extra) -> dict:
    return {
        **os.environ, "APP_ENV": "production", "DATABASE_URL": plain_url(database_url),
        "SECRET_KEY": secrets.token_hex(32), "RATELIMIT_STORAGE_URI": REDIS_URL,
        "SESSION_COOKIE_SECURE": "0", "GUNICORN_BIND": f"127.0.0.1:{port}",
        "JOB_RUNNER_THREADS": "0", "REQUEST_LOG": "0", "GUNICORN_ACCESSLOG": "",
        **extra,
    }


def wait_ready(base: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"server exited with {process.returncode}"
        try:
            with urllib.request.urlopen(base + "/health/ready", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise AssertionError("the server did not become ready in time")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def wait_workers(pid: int, count: int, seconds: float = 30) -> list:
    """The workers boot one after another; the first may answer before the last is up."""
    deadline = time.monotonic() + seconds
    while True:
        children = psutil.Process(pid).children()
        if len(children) >= count or time.monotonic() > deadline:
            return children
        time.sleep(0.2)


def database_sockets(pid: int) -> int:
    return sum(1 for conn in psutil.Process(pid).net_connections(kind="tcp")
               if conn.raddr and conn.raddr.port == 5432)
