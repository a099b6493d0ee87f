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


def init_csrf(app: Flask) -> None:
    """CSRFProtect, with its check made here: a request to the JSON API that carries an
    Authorization header is judged by its token (app/api/bearer.py refuses it with 401 when
    the token is not valid) and needs no CSRF token; every other unsafe request does, cookie
    or not, exactly as CSRFProtect's own check (which this one replaces)."""
    from app.extensions import csrf

    csrf.init_app(app)
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.before_request(protect_unless_bearer)


def protect_unless_bearer() -> None:
    from flask import current_app

    from app.extensions import csrf

    if not current_app.config["WTF_CSRF_ENABLED"]:
        return
    if request.blueprint == "api" and "Authorization" in request.headers:
        return
    csrf.protect(apply_exemptions=True)


def init_security(app: Flask) -> None:
    # First of all before_request hooks: CSRFProtect's check (registered earlier, with the
    # extensions) may refuse the request, and that answer needs its request id too.
    app.before_request_funcs.setdefault(None, []).insert(0, assign_request_id)
    app.after_request(set_security_headers)
    app.before_request(refuse_non_text_form_fields)


# Pages that take an uploaded file, and the name of its part. Any other form post that
# carries a file part is refused: a file where a field wants text is not a value.
FILE_PARTS = {"imports.upload_import": {"file"}}
NOT_TEXT = ("Each field of the form must be text: send the form as the page does (a "
            "file or a number where text belongs is not accepted).")


def refuse_non_text_form_fields():
    """Forms (not /api, which checks each field's type itself) accept text fields only,
    however the body comes: urlencoded, multipart (a file part named `username`) or JSON
    (Flask-WTF reads a JSON object as the form: {"username": 5} would reach the validators
    as a number). Runs after the CSRF check and the rate limits, so the attempt counts."""
    if request.method not in ("POST", "PUT", "PATCH", "DELETE") or request.path.startswith("/api/"):
        return None
    allowed = FILE_PARTS.get(request.endpoint or "", ())
    if any(name not in allowed for name in request.files):
        return _refuse_form()
    if request.is_json and not request.form:
        body = request.get_json(silent=True)
        if body is not None and not (isinstance(body, dict)
                                     and all(isinstance(value, str) for value in body.values())):
            return _refuse_form()
    return None


def _refuse_form():
    from app.errors import error_response

    return error_response(400, "invalid_form", NOT_TEXT)


def assign_request_id() -> None:
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex


def current_request_id() -> str:
    return g.get("request_id") or "-"


# The headers every response carries unless its view set its own (issue 25: one pass over
# the response's headers instead of a lookup and a set for each).
_ALWAYS = (("Content-Security-Policy", CONTENT_SECURITY_POLICY),
           ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin"),
           ("X-Frame-Options", "DENY"))
_HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
_NO_STORE = ("Cache-Control", "no-store")


def set_security_headers(response):
    from flask import current_app

    headers = response.headers
    present = {name.lower() for name, _value in headers}
    wanted = [*_ALWAYS, ("X-Request-ID", current_request_id())]
    if current_app.config.get("HSTS_ENABLED"):
        wanted.append(_HSTS)
    if request.path.startswith("/api/") or response.mimetype == "text/html":
        wanted.append(_NO_STORE)
    for name, value in wanted:
        if name.lower() not in present:
            headers.add(name, value)
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
