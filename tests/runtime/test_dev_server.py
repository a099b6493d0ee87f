"""`python3 dev.py serve` as a developer runs it, and stops it with a signal to its pid: the
server goes with it (issue 18, item 10; before, the child `flask run` went on serving)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (a local URL)
            return response.status == 200
    except OSError:
        return False


@pytest.mark.skipif(os.name != "posix", reason="signals to a pid: POSIX only")
def test_a_signal_to_dev_py_serve_stops_the_server(tmp_path):
    port = free_port()
    env = {**os.environ, "APP_ENV": "development", "PORT": str(port),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'dev.db'}", "INSTANCE_DIR": str(tmp_path),
           "ADMIN_USERNAME": "boss", "ADMIN_PASSWORD": "three unrelated words",
           "RATELIMIT_STORAGE_URI": "memory://", "JOB_RUNNER_AUTOSTART": "0"}
    env.pop("TEST_DATABASE_URL", None)
    server = subprocess.Popen([sys.executable, "dev.py", "serve"], cwd=ROOT, env=env,  # noqa: S603
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/health"
    try:
        deadline = time.monotonic() + 90
        while not answers(url):
            assert server.poll() is None, server.stdout.read()
            assert time.monotonic() < deadline, "dev.py serve did not start in 90 s"
            time.sleep(0.3)
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=15)
        time.sleep(0.5)
        assert not answers(url), "the server is still answering after dev.py was stopped"
        output = server.stdout.read()
        assert "log in at" in output and "/login" in output
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=5)
