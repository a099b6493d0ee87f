from __future__ import annotations

from datetime import datetime

from flask import jsonify, request

from app.domain import DomainError

class BadRequestBody(DomainError):
    """The body is not a JSON object (400 invalid_json), or it holds a field the endpoint
    does not take (422 unknown_field): a misspelt or forbidden field (child_count, role...)
    is refused, never silently ignored."""

    def __init__(self, status: int = 400, code: str = "invalid_json",
                 message: str = "Send a JSON object with Content-Type: application/json.",
                 **details):
        super().__init__(code, message, status, **details)


def json_body(allowed: tuple[str, ...] | None = None) -> dict:
    """The request's JSON object; an empty body counts as {}. With `allowed`, any other
    field is refused."""
    if not request.get_data(cache=True):
        return {}
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # nested deeper than the JSON parser goes: not a body we take
        body = None
    if not isinstance(body, dict):
        raise BadRequestBody()
    unknown = sorted(set(body) - set(allowed)) if allowed is not None else []
    if unknown:
        from app.rules.codes import printable

        names = [printable(name, 40) for name in unknown[:5]]
        raise BadRequestBody(
            422, "unknown_field",
            f"Unknown field {', '.join(names)}: send only "
            f"{', '.join(allowed) if allowed else 'an empty object'}.", fields=names)
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


def station_field(body: dict) -> str | None:
    """The optional station name: text, or absent/null. Any other type is refused (the dispatch
    API's loads, which are not declared through app/api/contract.py yet)."""
    station = body.get("station")
    if station is None or isinstance(station, str):
        return station
    raise BadRequestBody(422, "invalid_station",
                         "station must be text (the name of the scanning station), or left out.",
                         field="station")
