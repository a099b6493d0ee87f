"""`flask --app main seed-bags N`: N bags (parents filled with children, a few loose
children) and their scan events, fast enough for a million: PostgreSQL COPY in chunks, or
batched INSERTs on SQLite, in one transaction.

Nothing is switched off: parents go in with child_count 0 before their children, and the
database's own trigger counts the children as they arrive; the command then checks every
seeded parent's count against its children and fails (rolling everything back) on a
mismatch. Run it on a quiet database: it locks the bags table against other writers."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import click
from sqlalchemy import func, insert, select, text

from app.extensions import db
from app.models import Bag, ScanEvent
from app.models.types import utcnow

CHILD_PREFIX = "C"  # seeded children: C + 9 digits, a valid child code of its own range
CHILD_DIGITS = 9
PARENT_SERIES = ("SB", "M444-")  # the default parent pattern: SB00001, M444-00001
BAG_COLUMNS = ("id", "code", "kind", "status", "capacity", "child_count", "parent_id",
               "linked_at", "created_at", "created_by_id")
EVENT_COLUMNS = ("created_at", "user_id", "action", "outcome", "result", "code", "bag_id",
                 "parent_id")


@dataclass
class SeedReport:
    parents: int = 0
    linked: int = 0
    loose: int = 0
    events: int = 0
    seconds: float = 0.0


class SeedError(click.ClickException):
    pass


def _free_parent_codes():
    taken = set()
    for series in PARENT_SERIES:
        upper = series[:-1] + chr(ord(series[-1]) + 1)
        taken.update(db.session.scalars(
            select(Bag.code).where(Bag.code >= series, Bag.code < upper)))
    for series in PARENT_SERIES:
        for number in range(1, 100_000):
            code = f"{series}{number:05d}"
            if code not in taken:
                yield code


def _next_child_number() -> int:
    low, high = CHILD_PREFIX + "0" * CHILD_DIGITS, CHILD_PREFIX + "9" * CHILD_DIGITS
    highest = db.session.scalar(
        select(func.max(Bag.code)).where(Bag.code >= low, Bag.code <= high))
    digits = (highest or "")[1:1 + CHILD_DIGITS]
    return int(digits) + 1 if digits.isdigit() else 1


class _PostgresWriter:
    def __init__(self):
        self.cursor = db.session.connection().connection.driver_connection.cursor()

    def lock_and_base_id(self) -> int:
        self.cursor.execute("LOCK TABLE bags IN SHARE ROW EXCLUSIVE MODE")
        self.cursor.execute("SELECT coalesce(max(id), 0) FROM bags")
        return self.cursor.fetchone()[0]

    def write(self, bags: list[tuple], events: list[tuple]) -> None:
        with self.cursor.copy(f"COPY bags ({', '.join(BAG_COLUMNS)}) FROM STDIN") as copy:
            for row in bags:
                copy.write_row(row)
        with self.cursor.copy(
                f"COPY scan_events (made_at, {', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
            for row in events:
                copy.write_row((row[0], *row))  # made when it arrived

    def finish(self) -> None:
        self.cursor.execute(
            "SELECT setval(pg_get_serial_sequence('bags', 'id'), (SELECT max(id) FROM bags))")


class _SqliteWriter:
    def lock_and_base_id(self) -> int:
        return db.session.scalar(select(func.coalesce(func.max(Bag.id), 0)))

    def write(self, bags: list[tuple], events: list[tuple]) -> None:
        if bags:
            db.session.execute(insert(Bag.__table__), [dict(zip(BAG_COLUMNS, row, strict=True))
                                                       for row in bags])
        if events:
            db.session.execute(insert(ScanEvent.__table__),
                               [dict(zip(EVENT_COLUMNS, row, strict=True)) for row in events])

    def finish(self) -> None:
        pass


def seed_bags(count: int, *, capacity: int, user_ids: list[int], days: float,
              rng: random.Random, chunk: int = 50_000, progress=None) -> SeedReport:
    """Add `count` bags, oldest first, spread over the last `days` days. Runs in the
    caller's transaction and never commits."""
    started = time.monotonic()
    postgres = db.session.get_bind().dialect.name == "postgresql"
    writer = _PostgresWriter() if postgres else _SqliteWriter()
    base_id = writer.lock_and_base_id()
    parent_codes = _free_parent_codes()
    child_number = _next_child_number()
    report = SeedReport()
    end = utcnow()
    step = timedelta(days=days) / count
    clock = end - timedelta(days=days)
    next_id = base_id + 1
    bags: list[tuple] = []
    events: list[tuple] = []

    def tick() -> datetime:
        nonlocal clock
        clock += step
        return clock

    def add_child(parent_id: int, user: int, linked: bool) -> datetime:
        """A child scanned into the parent; one that is not `linked` is undone at once."""
        nonlocal child_number, next_id
        child_code = f"{CHILD_PREFIX}{child_number:0{CHILD_DIGITS}d}"
        child_number += 1
        at = tick()
        bags.append((next_id, child_code, "child", "linked" if linked else "unlinked", None,
                     None, parent_id if linked else None, at if linked else None, at, user))
        events.append((at, user, "child_scan", "accepted", "linked", child_code, next_id,
                       parent_id))
        if not linked:
            events.append((at + step / 2, user, "undo", "accepted", "unlinked", child_code,
                           next_id, parent_id))
        next_id += 1
        return at

    produced = 0
    while produced < count:
        remaining = count - produced - 1  # room for children after the parent
        fill = capacity if rng.random() < 0.85 else rng.randrange(0, capacity)
        loose = 1 if rng.random() < 0.03 else 0
        fill = min(fill, remaining)
        loose = min(loose, remaining - fill)
        user = rng.choice(user_ids)
        code = next(parent_codes, None)
        if code is None:
            raise SeedError("No free parent codes are left (SB00001-SB99999, "
                            "M444-00001-M444-99999). Seed fewer bags.")
        parent_id, at = next_id, tick()
        next_id += 1
        complete = fill == capacity
        bags.append((parent_id, code, "parent", "complete" if complete else "open", capacity,
                     0, None, None, at, user))
        events.append((at, user, "parent_scan", "accepted", "parent_created", code,
                       parent_id, parent_id))
        for _ in range(loose):  # scanned in, then taken out again: a loose bag
            add_child(parent_id, user, linked=False)
        for _ in range(fill):
            at = add_child(parent_id, user, linked=True)
        if complete:
            events.append((at, user, "complete", "accepted", "auto_completed", code,
                           parent_id, parent_id))
        produced += 1 + loose + fill
        report.parents += 1
        report.linked += fill
        report.loose += loose
        if len(bags) >= chunk:
            report.events += len(events)
            writer.write(bags, events)
            bags, events = [], []
            if progress:
                progress(produced)
    report.events += len(events)
    writer.write(bags, events)
    writer.finish()
    wrong = db.session.scalar(text(
        "SELECT count(*) FROM bags p WHERE p.kind = 'parent' AND p.id > :base AND "
        "p.child_count <> (SELECT count(*) FROM bags c WHERE c.parent_id = p.id)"),
        {"base": base_id})
    if wrong:
        raise SeedError(f"{wrong} seeded parents have a child_count that differs from their "
                        "children: nothing was saved.")
    report.seconds = time.monotonic() - started
    return report


def analyse() -> None:
    """Fresh planner statistics (and, on PostgreSQL, the dead row versions the count
    trigger left behind cleared), so that the very next query plans well."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE) bags")
            conn.exec_driver_sql("VACUUM (ANALYZE) scan_events")
    else:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
