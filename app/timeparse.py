"""Times that come from outside: one parser for every time a client sends (a scan's
scanned_at, the bag list's created_from/created_to, the audit dates, the times inside
page cursors). No Flask request access: callers turn TimeRejected into their own answer.

Every accepted time is timezone-aware, in UTC, and inside a range: an ISO string such as
9999-12-31T23:59:59-23:59 parses in Python but is year 10000 in UTC, which PostgreSQL stores
and then cannot hand back (issue 17, finding 3).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from app.domain import Text

# A scan made offline is accepted with the client's time when it lies inside this window
# around the server clock; outside it the server's time stands (see parse_client_scan_time).
CLIENT_TIME_PAST = timedelta(days=7)
CLIENT_TIME_FUTURE = timedelta(minutes=5)

# Filters and cursors: any time in this range is a valid question; nothing TraceTrack
# stores lies outside it.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)

EXAMPLE = "2026-11-28T09:15:00+05:30"


class TimeRejected(ValueError):
    """A time that cannot be used; `message` says what to send instead."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


_BEYOND = object()  # a real ISO time whose UTC value lies past year 9999 or before year 1


def _from_text(value: str, *, allow_date: bool):
    """The aware UTC datetime `value` names; None if it is not a time with an offset (or a
    date, with allow_date); _BEYOND if it is one, but its offset pushes it out of the
    years Python (and so TraceTrack) can hold."""
    try:
        if allow_date and is_date(value):
            return datetime.combine(date.fromisoformat(value), time.min, tzinfo=UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        return _BEYOND


def is_date(value: str) -> bool:
    """YYYY-MM-DD (a whole UTC day) rather than a time."""
    return len(value) == 10 and value[4:5] == "-"


def parse_time(value: object, name: str, *, allow_date: bool = False,
               earliest: datetime = EARLIEST, latest: datetime = LATEST) -> datetime | None:
    """An optional time parameter: None for absent or empty; an aware UTC datetime inside
    [earliest, latest); anything else raises TimeRejected naming the parameter."""
    if value is None or value == "":
        return None
    parsed = _from_text(value, allow_date=allow_date) if isinstance(value, str) else None
    if parsed is None:
        what = "a date (2026-11-28) or a time with an offset" if allow_date \
            else "an ISO 8601 time with an offset"
        raise TimeRejected(f"{name} must be {what}, e.g. {EXAMPLE}.")
    if parsed is _BEYOND or not earliest <= parsed < latest:
        raise TimeRejected(f"{name} must lie between {_day(earliest)} and "
                           f"{_day(latest - timedelta(days=1))}.")
    return parsed


def check_date(value: date | None, name: str) -> date | None:
    """A calendar date (already parsed, e.g. by a form) inside the range filters take."""
    if value is not None and not EARLIEST.date() <= value < LATEST.date():
        raise TimeRejected(Text("%(name)s must lie between %(first)s and %(last)s.", name=name,
                                first=_day(EARLIEST), last=_day(LATEST - timedelta(days=1))))
    return value


def parse_stored_time(value: str) -> datetime | None:
    """A time the server wrote itself (inside a signed or encoded cursor): the datetime, or
    None if it is not a time in the accepted range."""
    parsed = _from_text(value, allow_date=False) if isinstance(value, str) else None
    if parsed is None or parsed is _BEYOND or not EARLIEST <= parsed < LATEST:
        return None
    return parsed


def parse_client_scan_time(value: object, now: datetime) -> tuple[datetime | None, bool]:
    """A scan's `scanned_at` as the client sent it, against the server clock `now`.

    Returns (time, ignored): (None, False) when none was sent; (the time, False) inside the
    window (CLIENT_TIME_PAST before now to CLIENT_TIME_FUTURE after); (None, True) when it
    is a real time outside the window: the scan then stands at the server's time and the
    answer says the client's value was dropped (a device with a wrong clock must not lose
    its scans, nor write a time that breaks a trace). Text that is not a time with an
    offset raises TimeRejected."""
    if value is None or value == "":
        return None, False
    parsed = _from_text(value, allow_date=False) if isinstance(value, str) else None
    if parsed is None:
        raise TimeRejected(f"scanned_at must be an ISO 8601 time with an offset, e.g. {EXAMPLE}.")
    if parsed is _BEYOND or not now - CLIENT_TIME_PAST <= parsed <= now + CLIENT_TIME_FUTURE:
        return None, True
    return parsed, False


SCANNED_AT_IGNORED = ("scanned_at was more than 7 days before or more than 5 minutes after "
                      "the server's clock, so the scan was recorded at the time the server "
                      "received it. Check the device's date and time.")


def _day(moment: datetime) -> str:
    return moment.date().isoformat()
