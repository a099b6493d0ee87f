"""Static files with their content in the URL: `url_for('static', filename=...)` adds
`?v=<first 12 hex digits of the file's SHA-256>`, so that nginx (deploy/nginx.conf) can let
browsers keep a versioned file for a year: a deploy that changes the file changes its URL.
Files fetched without `v` (the ES modules the station script imports by relative path) are
revalidated on every use instead."""

from __future__ import annotations

import hashlib
import os
import threading

from flask import Flask

_lock = threading.Lock()
# path -> (mtime_ns, size, digest): a file edited in place (development) gets a new digest.
_digests: dict[str, tuple[int, int, str]] = {}


def content_version(path: str) -> str | None:
    """The file's version token, or None when it does not exist."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    known = _digests.get(path)
    if known and known[0] == stat.st_mtime_ns and known[1] == stat.st_size:
        return known[2]
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(65536), b""):
            digest.update(block)
    token = digest.hexdigest()[:12]
    with _lock:
        _digests[path] = (stat.st_mtime_ns, stat.st_size, token)
    return token


def init_assets(app: Flask) -> None:
    static_folder = app.static_folder

    @app.url_defaults
    def version_static_urls(endpoint: str, values: dict) -> None:
        if endpoint != "static" or "v" in values or not static_folder:
            return
        filename = values.get("filename") or ""
        path = os.path.realpath(os.path.join(static_folder, filename))
        if not path.startswith(os.path.realpath(static_folder) + os.sep):
            return
        token = content_version(path)
        if token:
            values["v"] = token
