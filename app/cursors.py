"""One keyset cursor for every paginated list: a position (a time and an id) signed with the
app's secret, so a client can hand it back but not forge one, and a damaged or foreign cursor
is a clear 422, never a 500."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from app import timeparse
from app.domain import DomainError


def _serializer(salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=salt)


def encode(salt: str, moment: datetime, row_id: int) -> str:
    """`salt` names the list: a cursor of one list is refused by another."""
    return _serializer(salt).dumps([moment.isoformat(), row_id])


def decode(salt: str, cursor: str) -> tuple[datetime, int]:
    try:
        stamp, row_id = _serializer(salt).loads(cursor)
        position = timeparse.parse_stored_time(stamp)  # in the accepted range, or None
        if position is None or not isinstance(row_id, int) or isinstance(row_id, bool):
            raise ValueError
        position = position.astimezone(UTC)
    except (BadSignature, ValueError, TypeError):
        raise DomainError("invalid_cursor",
                          "This page link is damaged or out of date. Start again from the "
                          "first page (leave out the cursor).", field="cursor") from None
    return position, row_id
