from __future__ import annotations

from datetime import datetime

from flask import jsonify, request

from app.domain import DomainError

class BadRequestBody(DomainError):
    """A body refused before any service sees it: not a JSON object (400 invalid_json), or
    a batch's items not in the shape it takes (422, app/api/scans.py). Unknown fields are
    the declared body model's refusal (422 unknown_field, app/api/contract.py)."""

    def __init__(self, status: int = 400, code: str = "invalid_json",
                 message: str = "Send a JSON object with Content-Type: application/json.",
                 **details):
        super().__init__(code, message, status, **details)


def json_body() -> dict:
    """The request's JSON object; an empty body counts as {}. Which fields it may hold is the
    endpoint's declared body model's to say (app/api/contract.py)."""
    if not request.get_data(cache=True):
        return {}
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # nested deeper than the JSON parser goes: not a body we take
        body = None
    if not isinstance(body, dict):
        raise BadRequestBody()
    return body


def json_response(payload: dict, status: int = 200):
    response = jsonify(payload)
    response.status_code = status
    return response


def parse_client_time(value: object) -> tuple[datetime | None, bool]:
    """An optional ISO 8601 time with offset from the client (when it scanned offline), and
    whether it was dropped for lying outside the accepted window (app/timeparse.py)."""
    from app.models.types import utcnow
    from app.timeparse import TimeRejected, parse_client_scan_time

    try:
        return parse_client_scan_time(value, utcnow())
    except TimeRejected as error:
        from app.scanning.services import ScanError

        raise ScanError("invalid_scanned_at", error.message) from None

