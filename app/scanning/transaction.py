"""A scan through the unit of work: committed once, or rolled back with the refusal kept in
the history (the dashboard's exceptions feed) and counted in the metrics."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from app.extensions import db
from app.models import User
from app.observability import record_scan
from app.scanning.services import ScanError, ScanResult, record_rejection
from app.unit_of_work import run


def run_scan(service: Callable[..., ScanResult], user: User, *args, station: object = None,
             scanned_at: datetime | None = None, **kwargs) -> ScanResult:
    action = getattr(service, "__name__", "scan")
    if scanned_at is not None:
        kwargs["scanned_at"] = scanned_at

    def keep_refusal(error) -> None:
        if not isinstance(error, ScanError):
            return
        record_rejection(user, error, station=station, scanned_at=scanned_at)
        db.session.commit()
        record_scan(error.action or "scan", error.code)

    def collision() -> ScanError:
        # Two scans racing past each other's checks (the same scan_id of one user sent twice
        # at once): one wins, this one stored nothing.
        return ScanError("scan_conflict", "This scan collided with another one. Scan the code "
                                          "again.", action=action)

    result = run(service, user, *args, station=station, on_refusal=keep_refusal,
                 collision=collision, **kwargs)
    record_scan(action, result.result)
    return result
