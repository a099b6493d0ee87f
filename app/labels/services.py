"""Parent code series (DESIGN 8.3): reserving the next codes of a prefix, reading series back,
and the audit rows of every download and print. The rules (app/rules/labels.py) decide which
codes; this module reads what is taken and stores the answer. Callers commit."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from app.audit.services import record_audit
from app.domain import DomainError, Text
from app.extensions import db
from app.models import Bag, LabelCode, LabelCounter, LabelSeries, User
from app.rules import labels as rules
from app.site_scope import ALL_SITES

RESERVE = "label.reserve"
DOWNLOAD = "label.download"
PRINT = "label.print"
REPRINT = "label.reprint"
ACTIONS = (RESERVE, DOWNLOAD, PRINT, REPRINT)

LOOKAHEAD = 200  # codes checked per query beyond what is still wanted


@dataclass
class Reserved:
    series: LabelSeries
    codes: list[str]


def reserve_series(actor: User, raw_prefix: object, raw_count: object) -> Reserved:
    """Reserve the next `count` codes of `prefix` that no bag and no series holds. The
    prefix's counter row stays locked until the caller commits: a second request for the
    same prefix waits, then starts where this one stopped."""
    config = current_app.config
    plan = rules.plan_series(raw_prefix, raw_count, config["PARENT_CODE_PATTERN"],
                             config["PARENT_CODE_EXAMPLE"])
    counter = locked_counter(plan.prefix)
    chosen: list[tuple[int, str]] = []
    start = counter.next_number
    while len(chosen) < plan.count:
        wanted = plan.count - len(chosen)
        batch = rules.candidates(plan, start, wanted + LOOKAHEAD)
        if not batch:
            raise rules.exhausted(plan, len(chosen))
        chosen += rules.pick_free(batch, taken_codes([code for _, code in batch]), wanted)
        start = batch[-1][0] + 1
    counter.next_number = chosen[-1][0] + 1
    codes = [code for _, code in chosen]
    series = LabelSeries(prefix=plan.prefix, count=plan.count, first_code=codes[0],
                         last_code=codes[-1], created_by_id=actor.id)
    db.session.add(series)
    db.session.flush()
    db.session.execute(insert(LabelCode), [
        {"code": code, "series_id": series.id, "position": position}
        for position, code in enumerate(codes)])
    record_audit(actor, RESERVE, "label_series", series.id,
                 after={"prefix": plan.prefix, "count": plan.count, "first": codes[0],
                        "last": codes[-1]})
    return Reserved(series, codes)


def locked_counter(prefix: str) -> LabelCounter:
    """The prefix's counter row, created if new, locked FOR UPDATE (PostgreSQL; SQLite holds
    its one writer lock from the INSERT on)."""
    dialect = db.session.get_bind().dialect.name
    make_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.session.execute(make_insert(LabelCounter).values(prefix=prefix, next_number=1)
                       .on_conflict_do_nothing(index_elements=["prefix"]))
    return db.session.scalar(
        select(LabelCounter).where(LabelCounter.prefix == prefix).with_for_update()
        .execution_options(populate_existing=True))


def taken_codes(codes: list[str]) -> set[str]:
    """The codes some bag (at any site: codes are unique across sites) or series holds."""
    held_by_bags = db.session.scalars(select(Bag.code).where(Bag.code.in_(codes))
                                      .execution_options(**{ALL_SITES: True}))
    held_by_series = db.session.scalars(select(LabelCode.code).where(LabelCode.code.in_(codes)))
    return set(held_by_bags) | set(held_by_series)


def get_series(series_id: int) -> LabelSeries:
    series = db.session.get(LabelSeries, series_id)
    if series is None:
        raise DomainError("series_not_found", Text("There is no such label series."), 404)
    return series


def series_codes(series_id: int) -> list[str]:
    return list(db.session.scalars(select(LabelCode.code).where(LabelCode.series_id == series_id)
                                   .order_by(LabelCode.position)))


@dataclass
class SeriesRow:
    series: LabelSeries
    created_by: str | None


def recent_series(limit: int = 50) -> list[SeriesRow]:
    rows = db.session.execute(
        select(LabelSeries, User.username).outerjoin(User, User.id == LabelSeries.created_by_id)
        .order_by(LabelSeries.id.desc()).limit(limit))
    return [SeriesRow(series, username) for series, username in rows]


def series_total() -> int:
    return db.session.scalar(select(func.count()).select_from(LabelSeries)) or 0


def known_bag_code(raw_code: str) -> str:
    """The stored code of an existing bag (any kind), or 404 bag_not_found."""
    from app.rules.codes import CodeError, normalise_code

    try:
        code = normalise_code(raw_code)
    except CodeError:
        code = None
    stored = db.session.scalar(select(Bag.code).where(Bag.code == code)) if code else None
    if stored is None:
        raise DomainError("bag_not_found", Text("There is no bag with that code."), 404)
    return stored


def audit_download(actor: User, action: str, target_type: str, target: object, **facts) -> None:
    record_audit(actor, action, target_type, str(target), after=facts)
