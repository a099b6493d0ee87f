"""Error handling: HTML pages, or the JSON error shape under /api; each with the request id,
never a traceback. A database that is down or busy answers 503 with Retry-After."""

from __future__ import annotations

import math
import time

from flask import Flask, current_app, g, jsonify, render_template, request
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

from app.domain import N_, DomainError, Text
from app.i18n import translate
from app.extensions import db, limiter, login_manager
from app.security import current_request_id

ERRORS = {
    400: ("bad_request", N_("The request could not be understood. Check what was sent and try again.")),
    401: ("unauthorized", N_("Please log in to continue.")),
    403: ("forbidden", N_("Your role may not do this. Ask a supervisor or an admin if you need it.")),
    404: ("not_found", N_("There is nothing at this address. Check the address or go back to the start page.")),
    405: ("method_not_allowed", N_("This address does not accept that kind of request.")),
    413: ("payload_too_large", N_("What was sent is larger than the server accepts. Send a smaller file.")),
    429: ("rate_limited", N_("Too many attempts. Wait a moment, then try again.")),
    500: ("internal_error", N_("Something went wrong on our side. Try again; if it keeps happening, tell an admin the request id.")),
    503: ("database_unavailable", N_("The database cannot be reached right now. Wait a few seconds and try again.")),
}
DB_RETRY_AFTER_SECONDS = 2
# PostgreSQL: lock_not_available (lock_timeout), query_canceled (statement_timeout),
# serialization_failure, deadlock_detected. SQLite: "database is locked".
BUSY_SQLSTATES = frozenset({"55P03", "57014", "40001", "40P01"})


def is_busy(exc: OperationalError) -> bool:
    """A lock wait, a timeout or a deadlock (worth trying again), not an outage: the one test
    of a busy database (the error handler, the import's chunk retries)."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return sqlstate in BUSY_SQLSTATES or "database is locked" in str(exc).lower()


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_response(status: int, code: str | None = None, message: str | None = None,
                   headers: dict | None = None, **details):
    default_code, default_message = ERRORS.get(status, ERRORS[500])
    code = code or default_code
    # Said in the request's language; the code never changes (DESIGN 8.6).
    message = translate(message or default_message)
    request_id = current_request_id()
    if wants_json():
        body = {"error": {"code": code, "message": message, "request_id": request_id, **details}}
        response = jsonify(body)
    else:
        response = current_app.make_response(
            render_template("errors/error.html", status=status, code=code,
                            message=message, request_id=request_id)
        )
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def handle_http_exception(exc: HTTPException):
    status = exc.code or 500
    headers = {}
    if status == 405 and exc.valid_methods:
        headers["Allow"] = ", ".join(exc.valid_methods)
    return error_response(status, headers=headers)


def handle_csrf_error(exc: CSRFError):
    g.csrf_refused = True
    return error_response(
        400, "csrf_failed",
        N_("The page's security token is missing or has expired. Reload the page and try again."),
    )


def handle_rate_limit(exc: RateLimitExceeded):
    retry_after = _retry_after_seconds(exc)
    return error_response(
        429, "rate_limited",
        Text("Too many attempts. Wait %(seconds)s seconds, then try again.", seconds=retry_after),
        headers={"Retry-After": str(retry_after)}, retry_after=retry_after,
    )


def _retry_after_seconds(exc: RateLimitExceeded) -> int:
    """Seconds until the breached window lets a request through again."""
    current = limiter.current_limit
    if current is not None and current.breached:
        return max(1, math.ceil(current.reset_at - time.time()))
    return max(1, exc.limit.limit.get_expiry())


def _forget_user() -> None:
    """The error page's navigation must not load the user from a database that just failed."""
    g._login_user = login_manager.anonymous_user()


def handle_database_error(exc: Exception):
    db.session.rollback()
    _forget_user()
    busy = isinstance(exc, PoolTimeoutError) or (
        isinstance(exc, OperationalError) and is_busy(exc))
    if busy:
        code, message = "database_busy", N_("The database is busy right now. Wait a second; "
                                             "the scan will be retried.")
    else:
        code, message = "database_unavailable", ERRORS[503][1]
        current_app.logger.error("database unavailable [%s]: %s", current_request_id(), exc)
    return error_response(503, code, message,
                          headers={"Retry-After": str(DB_RETRY_AFTER_SECONDS)})


def handle_data_error(exc: Exception):
    """Input the database cannot store (a NUL character in text on PostgreSQL, a value too
    long or out of range) that no check caught earlier: the request's fault, not a 500."""
    db.session.rollback()
    _forget_user()
    current_app.logger.warning("refused input the database cannot store [%s]: %s",
                               current_request_id(), getattr(exc, "orig", exc))
    return error_response(
        400, "invalid_input",
        N_("Something in the request cannot be stored (a NUL character, or a value too long "
           "or out of range). Check what was sent and try again."))


def handle_domain_error(error: DomainError):
    """Every refusal: the JSON error shape under /api, the error page elsewhere."""
    db.session.rollback()
    headers = {"Retry-After": "1"} if error.status == 503 else None
    if "retry_after" in error.details:  # a limit's 429 (app/ratelimits.py)
        headers = {"Retry-After": str(error.details["retry_after"])}
    return error_response(error.status, error.code, error.message, headers=headers,
                          **error.details)


def handle_unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    db.session.rollback()
    _forget_user()
    current_app.logger.exception("unhandled error [%s]", current_request_id())
    return error_response(500)


def init_error_handlers(app: Flask) -> None:
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(RateLimitExceeded, handle_rate_limit)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(OperationalError, handle_database_error)
    app.register_error_handler(DataError, handle_data_error)
    app.register_error_handler(InterfaceError, handle_database_error)
    app.register_error_handler(PoolTimeoutError, handle_database_error)
    app.register_error_handler(Exception, handle_unexpected)
