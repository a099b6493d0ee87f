"""One request, one transaction: the station page and the JSON API both run a scan service
call through run_scan(), which commits once, or rolls back and keeps the refusal on record."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import User
from app.observability import record_scan
from app.scanning.services import ScanError, ScanResult, record_rejection


def run_scan(service: Callable[..., ScanResult], user: User, *args, station: object = None,
             scanned_at: datetime | None = None, **kwargs) -> ScanResult:
    if scanned_at is not None:
        kwargs["scanned_at"] = scanned_at
    try:
        result = service(user, *args, station=station, **kwargs)
        db.session.commit()
        record_scan(getattr(service, "__name__", "scan"), result.result)
        return result
    except ScanError as error:
        db.session.rollback()
        _keep_refusal(user, error, station, scanned_at)
        raise
    except IntegrityError:
        # A constraint caught a collision the service's checks did not see (two identical
        # scan_ids racing into different parents): nothing was written; say what to do.
        db.session.rollback()
        error = ScanError("scan_conflict",
                          "This scan collided with another one. Scan the code again.",
                          action=getattr(service, "__name__", "scan"))
        _keep_refusal(user, error, station, scanned_at)
        raise error from None


def _keep_refusal(user: User, error: ScanError, station, scanned_at) -> None:
    record_rejection(user, error, station=station, scanned_at=scanned_at)
    db.session.commit()
    record_scan(error.action or "scan", error.code)
