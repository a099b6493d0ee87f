"""Imports, the writes of one decided chunk: the new children, the links, the completions
and the scan events a station would have written, in a few statements per chunk (PostgreSQL
takes each column as one array). A write that does not land because a concurrent scan
changed the row after it was read raises LostRace: the job does the chunk again."""

from __future__ import annotations


from sqlalchemy import (text,
                        update)
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db
from app.models import (CHILD, COMPLETE, LINKED, Bag, ScanEvent)
from app.models.site import default_site_id
from app.models.types import utcnow
from app.site_scope import current_site_id



from typing import TYPE_CHECKING

from app.imports.scratch import slices

if TYPE_CHECKING:
    from app.imports.jobs import ChunkWork
    from app.imports.scratch import BagState

BAGS = Bag.__table__
SCAN_EVENTS = ScanEvent.__table__


class LostRace(Exception):
    """A write did not land because a concurrent scan changed the row after it was read."""


class ChunkWriter:
    def __init__(self, user_id: int, station: str, postgres: bool):
        self.user_id = user_id
        self.station = station
        self.postgres = postgres

    def write(self, work: ChunkWork, states: dict[str, BagState]) -> None:
        ids = {code: state.id for code, state in states.items() if state.id is not None}
        now = utcnow()
        if work.new_children:
            rows = self._insert_children(work.new_children, ids, now)
            if len(rows) != len(work.new_children):
                raise LostRace()  # a station created one of these children meanwhile
            ids.update(rows)
        by_parent: dict[str, list[int]] = {}
        for child_id, parent in work.links:
            by_parent.setdefault(parent, []).append(child_id)
        for parent, child_ids in by_parent.items():
            for piece in slices(child_ids):
                linked = db.session.execute(
                    update(Bag).where(Bag.id.in_(piece), Bag.kind == CHILD,
                                      Bag.parent_id.is_(None))
                    .values(parent_id=ids[parent], status=LINKED, linked_at=now)
                    .execution_options(synchronize_session=False)).rowcount
                if linked != len(piece):
                    raise LostRace()  # a station linked one of them meanwhile
        if work.completed:
            db.session.execute(
                update(Bag).where(Bag.id.in_([ids[code] for code in work.completed]))
                .values(status=COMPLETE).execution_options(synchronize_session=False))
        rows = [{"created_at": event["created_at"], "made_at": event["created_at"],
                 "user_id": self.user_id,
                 "action": event["action"], "outcome": event["outcome"],
                 "result": event["result"], "code": event["code"],
                 "bag_id": ids.get(event["bag"]) if event["bag"] else None,
                 "parent_id": ids.get(event["parent"]) if event["parent"] else None,
                 "parent_code": event["parent"],
                 "reason": event["reason"], "station": self.station}
                for event in work.events]
        if rows:
            self._insert_events(rows)

    def _insert_children(self, children: list[tuple[str, str]], ids: dict[str, int],
                         now) -> list[tuple[str, int]]:
        """INSERT ... ON CONFLICT (code) DO NOTHING RETURNING code, id: the children a
        concurrent scan created meanwhile are missing from the answer. Each row fires the
        child_count trigger, as a scan's insert does."""
        if self.postgres:  # the whole chunk in one statement, its columns as arrays
            return db.session.execute(text(
                "INSERT INTO bags (code, kind, status, parent_id, linked_at, created_at,"
                " created_by_id, site_id)"
                " SELECT code, 'child', 'linked', parent_id, :now, :now, :user_id, :site_id"
                " FROM unnest(CAST(:codes AS text[]), CAST(:parents AS integer[]))"
                "  AS rows (code, parent_id)"
                " ON CONFLICT (code) DO NOTHING RETURNING code, id"),
                {"codes": [code for code, _ in children],
                 "parents": [ids[parent] for _, parent in children],
                 "now": now, "user_id": self.user_id, "site_id": _site_id()}).all()
        rows = []
        for piece in slices(children):
            rows.extend(db.session.execute(
                insert_ignoring_conflict().returning(BAGS.c.code, BAGS.c.id),
                [{"code": code, "kind": CHILD, "status": LINKED, "capacity": None,
                  "child_count": None, "parent_id": ids[parent], "linked_at": now,
                  "created_at": now, "created_by_id": self.user_id}
                 for code, parent in piece]).all())
        return rows

    def _insert_events(self, rows: list[dict]) -> None:
        if self.postgres:  # the whole chunk in one statement, its columns as arrays
            db.session.execute(text(
                "INSERT INTO scan_events (created_at, made_at, user_id, action, outcome, result,"
                " code, bag_id, parent_id, parent_code, reason, station, site_id)"
                " SELECT created_at, created_at, :user_id, action, outcome, result, code, bag_id,"
                "  parent_id, parent_code, reason, :station, :site_id"
                " FROM unnest(CAST(:created_at AS timestamptz[]), CAST(:action AS text[]),"
                "  CAST(:outcome AS text[]), CAST(:result AS text[]), CAST(:code AS text[]),"
                "  CAST(:bag_id AS integer[]), CAST(:parent_id AS integer[]),"
                "  CAST(:parent_code AS text[]), CAST(:reason AS text[]))"
                " AS rows (created_at, action, outcome, result, code, bag_id, parent_id,"
                "  parent_code, reason)"),
                {"user_id": self.user_id, "station": self.station, "site_id": _site_id(),
                 **{name: [row[name] for row in rows]
                    for name in ("created_at", "action", "outcome", "result", "code",
                                 "bag_id", "parent_id", "parent_code", "reason")}})
            return
        # RETURNING makes SQLAlchemy send multi-row INSERTs (insertmanyvalues) instead of
        # one statement per event.
        for piece in slices(rows):
            db.session.execute(SCAN_EVENTS.insert().returning(SCAN_EVENTS.c.id), piece).all()


def insert_ignoring_conflict():
    """INSERT INTO bags ... ON CONFLICT (code) DO NOTHING, for executemany: one compiled
    statement that SQLAlchemy sends in multi-row batches (insertmanyvalues)."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(BAGS).on_conflict_do_nothing(index_elements=["code"])


def _site_id() -> int:
    """The site the import writes into (its job's, issue 21; the default site outside one)."""
    return current_site_id() or default_site_id()
