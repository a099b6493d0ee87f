"""Request ids, security headers on every response (errors included), safe redirects."""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

from flask import Flask, g, request

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def init_security(app: Flask) -> None:
    # First of all before_request hooks: CSRFProtect's check (registered earlier, with the
    # extensions) may refuse the request, and that answer needs its request id too.
    app.before_request_funcs.setdefault(None, []).insert(0, assign_request_id)
    app.after_request(set_security_headers)


def assign_request_id() -> None:
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex


def current_request_id() -> str:
    return g.get("request_id") or "-"


def set_security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Request-ID", current_request_id())
    from flask import current_app

    if current_app.config.get("HSTS_ENABLED"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if request.path.startswith("/api/") or response.mimetype == "text/html":
        headers.setdefault("Cache-Control", "no-store")
    return response


def is_safe_redirect_url(target: str | None) -> bool:
    """Only a local path may follow login: no scheme, no host, no protocol-relative //,
    no backslash tricks that browsers read as //."""
    if not target:
        return False
    if any(ch in target for ch in ("\\", "\r", "\n", "\t")) or target.startswith("//"):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and target.startswith("/")
