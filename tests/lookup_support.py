"""Data factories and helpers shared by the bag lookup, correction and export tests."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select, update

from app.extensions import db
from app.models import AuditEvent, Bag, ScanEvent
from app.scanning import services as scanning
from app.scanning.transaction import run_scan


def fill_parent(user, parent_code: str, children: list[str] = ()) -> None:
    """A parent scanned and filled through the real scan service (so the history is real)."""
    run_scan(scanning.scan_parent, user, parent_code)
    for code in children:
        run_scan(scanning.scan_child, user, parent_code, code)


def set_created_at(code: str, when: datetime) -> None:
    db.session.execute(update(Bag).where(Bag.code == code).values(created_at=when))
    db.session.commit()


def bag(code: str) -> Bag | None:
    db.session.expire_all()
    return db.session.scalar(select(Bag).where(Bag.code == code))


def events_for(code: str) -> list[ScanEvent]:
    db.session.expire_all()
    return list(db.session.scalars(
        select(ScanEvent).where(ScanEvent.code == code).order_by(ScanEvent.id)))


def audit_rows(action: str | None = None) -> list[AuditEvent]:
    db.session.expire_all()
    stmt = select(AuditEvent).order_by(AuditEvent.id)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    return list(db.session.scalars(stmt))


def all_pages(client, **params) -> list[dict]:
    """Every item of the API list with these filters, walking next_cursor to the end."""
    items, cursor, pages = [], None, 0
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get("/api/v1/bags", query_string=query)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        items.extend(body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items
        assert pages < 1000, "the cursor never ends"


PAGE_CODE = re.compile(r'<a class="bag-code" href="/bags/[^"]+">([^<]+)</a></td>\s*<td>(parent|child)</td>')


def page_codes(html: str) -> list[str]:
    """The bag codes in the list page's table, in order."""
    return [match.group(1) for match in PAGE_CODE.finditer(html)]
