"""A bound on heavy synchronous requests per worker (exports, big pages): when it is full
the request gets 503 with Retry-After at once instead of queueing without end behind the
worker's two threads."""

from __future__ import annotations

import threading
from functools import wraps

from flask import current_app

from app.errors import error_response


class RequestGate:
    def __init__(self) -> None:
        self._semaphores: dict[int, threading.BoundedSemaphore] = {}
        self._lock = threading.Lock()

    def _semaphore(self) -> threading.BoundedSemaphore:
        app = current_app._get_current_object()
        with self._lock:
            if id(app) not in self._semaphores:
                self._semaphores[id(app)] = threading.BoundedSemaphore(
                    app.config["HEAVY_REQUESTS_PER_WORKER"])
            return self._semaphores[id(app)]

    def limit(self, view):
        """Run `view` only while a slot is free; otherwise 503 server_busy with Retry-After."""

        @wraps(view)
        def gated(*args, **kwargs):
            semaphore = self._semaphore()
            if not semaphore.acquire(timeout=current_app.config["HEAVY_REQUEST_WAIT_SECONDS"]):
                return error_response(
                    503, "server_busy",
                    "The server is busy with other large requests. Try again in a few seconds.",
                    headers={"Retry-After": "5"})
            try:
                return view(*args, **kwargs)
            finally:
                semaphore.release()

        return gated


heavy_requests = RequestGate()
