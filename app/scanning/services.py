"""The scan service (DESIGN.md sections 4 and 5): every scan from the station page, the JSON
API, imports and offline replay goes through these functions.

Each public function takes plain values, runs inside the caller's transaction, never commits,
and raises ScanError with a code when the scan is refused. Linking locks the parent row
(SELECT ... FOR UPDATE on PostgreSQL; on SQLite one writer at a time, and a transaction whose
snapshot went stale fails: app/models/sqlite.py), so capacity and "one parent per child" hold
under any number of concurrent stations. The parent's child_count is maintained by database
triggers; the service never counts children. The usual scan, a new label, is one statement
(_NEW_CHILD_WITH_EVENT); everything else takes the full path after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value

from app.extensions import db
from app.models import (ACCEPTED, CHILD, COMPLETE, LINKED, OPEN, PARENT, REJECTED, UNLINKED,
                        Bag, ScanEvent, User)
from app.models.types import utcnow
from app.scanning.codes import CodeError, is_doubled_read, matches, normalise_code, printable

SCAN_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
MAX_STATION_LENGTH = 64


class ScanError(Exception):
    """A refused scan. `code` is the contract's error.code; `message` says what to do next."""

    def __init__(self, code: str, message: str, *, action: str = "", scanned: str = "",
                 parent: Bag | None = None, bag: Bag | None = None, **details):
        super().__init__(message)
        self.code = code
        self.message = message
        self.action = action
        self.scanned = scanned
        # Snapshots, not ORM objects: the caller rolls the transaction back before using them.
        self.parent_id = parent.id if parent is not None else None
        self.bag_id = bag.id if bag is not None else None
        self.parent_state = parent_dict(parent) if parent is not None else None
        self.details = details


@dataclass
class ScanResult:
    result: str
    parent: Bag
    child: Bag | None = None
    created: bool = False
    children: list[str] | None = field(default=None)


# --- codes -------------------------------------------------------------------------------

def _parent_pattern() -> str:
    return current_app.config["PARENT_CODE_PATTERN"]


def _child_pattern() -> str:
    return current_app.config["CHILD_CODE_PATTERN"]


def _normalise(raw: object, action: str, what: str) -> str:
    try:
        return normalise_code(raw)
    except CodeError as exc:
        scanned = printable(raw)
        raise ScanError("invalid_code", f"The {what} code was not accepted. {exc}",
                        action=action, scanned=scanned) from None


def _validate_scan_id(scan_id: object, action: str, code: str) -> str | None:
    if scan_id is None or scan_id == "":
        return None
    if not isinstance(scan_id, str) or not SCAN_ID_PATTERN.match(scan_id):
        raise ScanError("invalid_scan_id",
                        "scan_id must be text of 1 to 64 letters, digits or . _ : - characters.",
                        action=action, scanned=code)
    return scan_id


def _clean_station(station: object) -> str | None:
    if not isinstance(station, str):
        return None
    return printable(station, MAX_STATION_LENGTH * 2).strip()[:MAX_STATION_LENGTH] or None


# --- queries -----------------------------------------------------------------------------

def _insert_bag_unless_taken(values: dict):
    """INSERT ... ON CONFLICT (code) DO NOTHING: two stations creating the same bag at the
    same moment get one row; the loser's RETURNING is empty and it reads the winner's row."""
    dialect = db.session.get_bind().dialect.name
    insert_bag = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert_bag(Bag).values(**values).on_conflict_do_nothing(index_elements=["code"])


def _insert_ignoring_conflict(values: dict) -> Bag | None:
    return db.session.scalar(_insert_bag_unless_taken(values).returning(Bag))


def _lock_parent(code: str) -> Bag | None:
    stmt = (select(Bag).where(Bag.code == code, Bag.kind == PARENT)
            .with_for_update().execution_options(populate_existing=True))
    return db.session.scalar(stmt)


# One alias for the whole process: a fresh alias per call would make SQLAlchemy build a new
# cache key and compile the statement again on every scan.
_PARENT_BAG = aliased(Bag, name="parent_bag")


def _bag_with_parent_code(code: str) -> tuple[Bag | None, str | None]:
    parent = _PARENT_BAG
    stmt = (select(Bag, parent.code).outerjoin(parent, Bag.parent_id == parent.id)
            .where(Bag.code == code).execution_options(populate_existing=True))
    row = db.session.execute(stmt).first()
    return (row[0], row[1]) if row else (None, None)


def children_codes(parent: Bag) -> list[str]:
    """The parent's children, newest first."""
    stmt = (select(Bag.code).where(Bag.parent_id == parent.id)
            .order_by(Bag.linked_at.desc(), Bag.id.desc()))
    return list(db.session.scalars(stmt))


def _record(user: User, action: str, result: str, code: str, *, outcome: str = ACCEPTED,
            bag: Bag | None = None, parent: Bag | None = None, reason: str | None = None,
            scan_id: str | None = None, station: str | None = None,
            scanned_at: datetime | None = None) -> ScanEvent:
    event = ScanEvent(
        user_id=user.id, action=action, outcome=outcome, result=result, code=code[:64],
        bag_id=bag.id if bag is not None else None,
        parent_id=parent.id if parent is not None else None,
        reason=reason[:500] if reason else None, scan_id=scan_id,
        station=station, client_scanned_at=scanned_at,
    )
    db.session.add(event)
    return event


def _parent_status_error(parent: Bag, action: str, scanned: str) -> ScanError | None:
    if parent.status == COMPLETE:
        return ScanError(
            "parent_complete",
            f"{parent.code} is complete. Put {scanned} aside and scan a new parent, "
            "or ask a supervisor to reopen it.",
            action=action, scanned=scanned, parent=parent)
    if parent.child_count >= parent.capacity:
        return ScanError(
            "parent_full",
            f"{parent.code} is full ({parent.child_count} / {parent.capacity}). "
            f"Put {scanned} aside and scan a new parent.",
            action=action, scanned=scanned, parent=parent)
    return None


# --- parent scans ------------------------------------------------------------------------

def scan_parent(user: User, raw_code: object, *, station: object = None) -> ScanResult:
    """Open an existing parent, or create a new one race-free."""
    action = "parent_scan"
    code = _normalise(raw_code, action, "parent")
    existing, _ = _bag_with_parent_code(code)
    if existing is not None and existing.kind == CHILD:
        raise ScanError(
            "code_is_child",
            f"{code} is a child bag, not a parent. Scan the parent's label first.",
            action=action, scanned=code, bag=existing)
    created = False
    if existing is None:
        if not matches(_parent_pattern(), code):
            raise ScanError(
                "invalid_code",
                f"{code} is not a parent code. Parent codes look like SB00001 "
                f"(pattern {_parent_pattern()}). Scan the parent's label.",
                action=action, scanned=code, pattern=_parent_pattern())
        existing = _insert_ignoring_conflict({
            "code": code, "kind": PARENT, "status": OPEN, "child_count": 0,
            "capacity": current_app.config["DEFAULT_PARENT_CAPACITY"],
            "created_at": utcnow(), "created_by_id": user.id,
        })
        created = existing is not None
        if not created:  # another station created it a moment ago
            existing, _ = _bag_with_parent_code(code)
    result = "parent_created" if created else "parent_opened"
    _record(user, action, result, code, bag=existing, parent=existing,
            station=_clean_station(station))
    return ScanResult(result, existing, created=created,
                      children=[] if created else children_codes(existing))


# --- child scans -------------------------------------------------------------------------
# The hot path: every statement here runs for every scan, so it works with plain rows
# (Core statements) instead of ORM entities and the unit of work.

@dataclass(slots=True)
class ParentRow:
    id: int
    code: str
    status: str
    capacity: int
    child_count: int
    kind: str = PARENT


@dataclass(slots=True)
class ChildRow:
    id: int
    code: str
    kind: str
    status: str
    parent_id: int | None
    created_at: datetime | None
    linked_at: datetime | None


def _sql():
    """The session's connection: Core statements executed on it skip the ORM's execution
    layers (about a third of a scan's CPU) yet stay in the session's transaction."""
    return db.session.connection()


_LOCK_PARENT = (select(Bag.id, Bag.code, Bag.status, Bag.capacity, Bag.child_count)
                .where(Bag.code == bindparam("code"), Bag.kind == PARENT).with_for_update())


def _lock_parent_row(code: str) -> ParentRow | None:
    row = _sql().execute(_LOCK_PARENT, {"code": code}).first()
    return ParentRow(*row) if row else None


def _child_row(code: str) -> tuple[ChildRow | None, str | None]:
    parent = _PARENT_BAG
    row = _sql().execute(
        select(Bag.id, Bag.code, Bag.kind, Bag.status, Bag.parent_id, Bag.created_at,
               Bag.linked_at, parent.code)
        .outerjoin(parent, Bag.parent_id == parent.id).where(Bag.code == code)).first()
    return (ChildRow(*row[:7]), row[7]) if row else (None, None)


def _insert_event(user: User, action: str, result: str, code: str, *, bag_id: int | None,
                  parent_id: int | None, scan_id: str | None = None,
                  station: str | None = None, scanned_at: datetime | None = None) -> None:
    _sql().execute(insert(ScanEvent).values(
        created_at=utcnow(), user_id=user.id, action=action, outcome=ACCEPTED, result=result,
        code=code[:64], bag_id=bag_id, parent_id=parent_id, scan_id=scan_id, station=station,
        client_scanned_at=scanned_at))


def scan_child(user: User, raw_parent: object, raw_code: object, *, scan_id: object = None,
               station: object = None, scanned_at: datetime | None = None) -> ScanResult:
    """Link a child to a parent, in one transaction holding the parent's row lock."""
    action = "child_scan"
    parent_code = _normalise(raw_parent, action, "parent")
    code = _normalise(raw_code, action, "child")
    scan_id = _validate_scan_id(scan_id, action, code)
    station = _clean_station(station)

    parent = _lock_parent_row(parent_code)
    if parent is None:
        raise ScanError(
            "parent_not_found",
            f"There is no parent {parent_code}. Scan the parent's label to start it.",
            action=action, scanned=code, parent_code=parent_code)

    if code == parent.code or matches(_parent_pattern(), code):
        raise ScanError(
            "code_is_parent",
            f"{code} is a parent code, not a child. To fill it, scan it as the parent.",
            action=action, scanned=code, parent=parent)
    if is_doubled_read(code) or not matches(_child_pattern(), code):
        reason = ("it looks like the label was read twice" if is_doubled_read(code)
                  else f"child codes must match {_child_pattern()}")
        raise ScanError(
            "invalid_code", f"{code} was not accepted: {reason}. Scan the child's label again.",
            action=action, scanned=code, parent=parent, pattern=_child_pattern())

    linked = None
    if _parent_status_error(parent, action, code) is None:
        # The usual scan: a new label. One statement creates the child and its event.
        linked = _insert_new_child_with_event(user, parent, code, scan_id=scan_id,
                                              station=station, scanned_at=scanned_at)
    if linked is None:
        if scan_id is not None:
            replayed_bag = _sql().execute(
                select(ScanEvent.bag_id).where(ScanEvent.scan_id == scan_id)).first()
            if replayed_bag is not None:
                child = db.session.get(Bag, replayed_bag[0]) if replayed_bag[0] else None
                return ScanResult("replayed", parent, child)
        result, child = _link_known_code(user, parent, code, action)
        if result == "already_linked":
            return ScanResult(result, parent, child)
        _insert_event(user, action, "linked", code, bag_id=child.id, parent_id=parent.id,
                      scan_id=scan_id, station=station, scanned_at=scanned_at)
    else:
        child = linked

    # The trigger added one to child_count under the lock we hold: mirror it without a query.
    parent.child_count += 1
    if parent.child_count >= parent.capacity:
        _sql().execute(update(Bag).where(Bag.id == parent.id).values(status=COMPLETE))
        parent.status = COMPLETE
        _insert_event(user, "complete", "auto_completed", parent.code, bag_id=parent.id,
                      parent_id=parent.id, station=station)
    return ScanResult("linked", parent, child)


def _new_child(user: User, parent: ParentRow, code: str, now: datetime) -> dict:
    """The row of a child created by a scan, linked to `parent` at once."""
    return {"code": code, "kind": CHILD, "status": LINKED, "parent_id": parent.id,
            "linked_at": now, "created_at": now, "created_by_id": user.id}


def _link_known_code(user: User, parent: ParentRow, code: str, action: str):
    """A code the fast path could not create: read it, then link it (or refuse)."""
    for _attempt in range(3):
        child, current_parent_code = _child_row(code)
        if child is not None:
            outcome = _link_existing(parent, child, current_parent_code, code, action)
        else:
            outcome = _link_new(user, parent, code, action)
        if outcome is not None:
            return outcome
    raise ScanError(  # pragma: no cover - three lost races in a row on one code
        "database_busy", "The scan collided with another. Scan it again.",
        action=action, scanned=code, parent=parent)


# The usual scan on PostgreSQL, as one statement: create the child linked to the parent and
# its scan event, unless the code exists (ON CONFLICT) or the scan_id was seen before (NOT
# EXISTS). Written out because it runs for nearly every scan: building it with Core on each
# call cost more CPU than executing it. Columns as in app/models/bag.py and events.py.
_NEW_CHILD_WITH_EVENT = text("""
WITH new_bag AS (
    INSERT INTO bags (code, kind, status, parent_id, linked_at, created_at, created_by_id)
    SELECT CAST(:code AS VARCHAR), CAST(:kind AS VARCHAR), CAST(:status AS VARCHAR),
           CAST(:parent_id AS BIGINT), CAST(:now AS TIMESTAMPTZ), CAST(:now AS TIMESTAMPTZ),
           CAST(:user_id AS BIGINT)
    WHERE NOT EXISTS (SELECT 1 FROM scan_events WHERE scan_id = CAST(:scan_id AS VARCHAR))
    ON CONFLICT (code) DO NOTHING
    RETURNING id
)
INSERT INTO scan_events (created_at, user_id, action, outcome, result, code, bag_id,
                         parent_id, scan_id, station, client_scanned_at)
SELECT CAST(:now AS TIMESTAMPTZ), CAST(:user_id AS BIGINT), CAST(:action AS VARCHAR),
       CAST(:outcome AS VARCHAR), CAST(:result AS VARCHAR), CAST(:code AS VARCHAR), id,
       CAST(:parent_id AS BIGINT), CAST(:scan_id AS VARCHAR), CAST(:station AS VARCHAR),
       CAST(:scanned_at AS TIMESTAMPTZ)
FROM new_bag
RETURNING bag_id
""")


def _insert_new_child_with_event(user: User, parent: ParentRow, code: str, *,
                                 scan_id: str | None, station: str | None,
                                 scanned_at: datetime | None) -> ChildRow | None:
    """Create `code` as a child linked to the (locked, open, not full) parent together with
    its scan event, unless the code exists or `scan_id` was seen before: then nothing is
    written and None sends the scan down the full path (replay, existing child, race)."""
    now = utcnow()
    if db.session.get_bind().dialect.name == "postgresql":
        new_id = _sql().scalar(_NEW_CHILD_WITH_EVENT, {
            "code": code, "kind": CHILD, "status": LINKED, "parent_id": parent.id, "now": now,
            "user_id": user.id, "scan_id": scan_id, "action": "child_scan",
            "outcome": ACCEPTED, "result": "linked", "station": station,
            "scanned_at": scanned_at})
    else:  # SQLite (the trial database) has no data-modifying CTE: two statements
        seen = (select(ScanEvent.id).where(ScanEvent.scan_id == scan_id).exists()
                if scan_id is not None else None)
        new_id = None
        if seen is None or not _sql().scalar(select(seen)):
            new_id = _sql().scalar(
                _insert_bag_unless_taken(_new_child(user, parent, code, now)).returning(Bag.id))
        if new_id is not None:
            _insert_event(user, "child_scan", "linked", code, bag_id=new_id,
                          parent_id=parent.id, scan_id=scan_id, station=station,
                          scanned_at=scanned_at)
    if new_id is None:
        return None
    return ChildRow(new_id, code, CHILD, LINKED, parent.id, now, now)


def _link_existing(parent: ParentRow, child: ChildRow, current_parent_code, code, action):
    if child.kind == PARENT:
        raise ScanError(
            "code_is_parent",
            f"{code} is a parent code, not a child. To fill it, scan it as the parent.",
            action=action, scanned=code, parent=parent, bag=child)
    if child.parent_id == parent.id:
        return "already_linked", child
    if child.parent_id is not None:
        raise ScanError(
            "child_in_other_parent",
            f"{code} is already in {current_parent_code}. Put it aside and tell a supervisor.",
            action=action, scanned=code, parent=parent, bag=child,
            other_parent=current_parent_code)
    error = _parent_status_error(parent, action, code)
    if error:
        raise error
    now = utcnow()
    linked = _sql().execute(
        update(Bag).where(Bag.id == child.id, Bag.parent_id.is_(None))
        .values(parent_id=parent.id, status=LINKED, linked_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if linked != 1:
        return None  # another station linked it first: read it again
    child.parent_id, child.status, child.linked_at = parent.id, LINKED, now
    return "linked", child


def _link_new(user: User, parent: ParentRow, code: str, action: str):
    error = _parent_status_error(parent, action, code)
    if error:
        raise error
    now = utcnow()
    new_id = _sql().scalar(
        _insert_bag_unless_taken(_new_child(user, parent, code, now)).returning(Bag.id))
    if new_id is None:
        return None  # created by another station a moment ago: read it again
    return "linked", ChildRow(new_id, code, CHILD, LINKED, parent.id, now, now)


# --- completion, reopening, undo ---------------------------------------------------------

def _complete(user: User, parent: Bag, result: str, *, station: str | None = None,
              reason: str | None = None) -> None:
    parent.status = COMPLETE
    _record(user, "complete", result, parent.code, bag=parent, parent=parent,
            station=station, reason=reason)


def _locked_parent_or_error(raw_code: object, action: str) -> Bag:
    code = _normalise(raw_code, action, "parent")
    parent = _lock_parent(code)
    if parent is None:
        raise ScanError("parent_not_found", f"There is no parent {code}. Check the code.",
                        action=action, scanned=code, parent_code=code)
    return parent


def complete_parent(user: User, raw_code: object, *, force: bool = False,
                    station: object = None, reason: str | None = None) -> ScanResult:
    """`reason`: why a supervisor's correction completes it (kept on the scan event)."""
    action = "complete"
    parent = _locked_parent_or_error(raw_code, action)
    if parent.status == COMPLETE:
        raise ScanError("parent_complete", f"{parent.code} is already complete.",
                        action=action, scanned=parent.code, parent=parent)
    if parent.child_count < parent.capacity and not force:
        raise ScanError(
            "under_capacity",
            f"{parent.code} has {parent.child_count} of {parent.capacity} bags. "
            "Confirm to finish it short, or scan the remaining bags.",
            action=action, scanned=parent.code, parent=parent)
    short = "finished short" if parent.child_count < parent.capacity else None
    _complete(user, parent, "completed", station=_clean_station(station),
              reason=": ".join(part for part in (short, reason) if part) or None)
    return ScanResult("completed", parent)


def reopen_parent(user: User, raw_code: object, *, station: object = None,
                  reason: str | None = None) -> ScanResult:
    action = "reopen"
    parent = _locked_parent_or_error(raw_code, action)
    if not user.has_role("supervisor"):
        raise ScanError("forbidden", "Only a supervisor can reopen a parent. Ask one.",
                        action=action, scanned=parent.code, parent=parent)
    if parent.status == OPEN:
        raise ScanError("parent_open", f"{parent.code} is already open.",
                        action=action, scanned=parent.code, parent=parent)
    parent.status = OPEN
    _record(user, action, "reopened", parent.code, bag=parent, parent=parent,
            station=_clean_station(station), reason=reason)
    return ScanResult("reopened", parent)


def undo_scan(user: User, *, raw_parent: object = None, raw_code: object = None,
              station: object = None) -> ScanResult:
    """Unlink the last child linked into a parent, or a named child. The child stays as an
    unlinked bag; the history keeps both the link and the undo. Staff may undo only their
    own links in a parent that is still open; supervisors and admins any link."""
    action = "undo"
    if raw_code not in (None, ""):
        code = _normalise(raw_code, action, "child")
        child, parent_code = _bag_with_parent_code(code)
        if child is None or child.kind != CHILD or child.parent_id is None:
            raise ScanError("not_linked", f"{code} is not in any parent; there is nothing to undo.",
                            action=action, scanned=code, bag=child)
        parent = _lock_parent(parent_code)
        child, _ = _bag_with_parent_code(code)  # re-read under the parent's lock
        if child.parent_id != parent.id:
            raise ScanError("not_linked", f"{code} was moved meanwhile. Look it up and try again.",
                            action=action, scanned=code, bag=child)
    elif raw_parent not in (None, ""):
        parent = _locked_parent_or_error(raw_parent, action)
        child = db.session.scalar(
            select(Bag).where(Bag.parent_id == parent.id)
            .order_by(Bag.linked_at.desc(), Bag.id.desc()).limit(1))
        if child is None:
            raise ScanError("nothing_to_undo", f"{parent.code} has no bags to undo.",
                            action=action, scanned=parent.code, parent=parent)
    else:
        raise ScanError("invalid_code", "Say which parent (parent) or which child (code) to undo.",
                        action=action)

    if not user.has_role("supervisor"):
        if parent.status != OPEN:
            raise ScanError(
                "parent_complete",
                f"{parent.code} is complete; only a supervisor can take bags out of it.",
                action=action, scanned=child.code, parent=parent, bag=child)
        linked_by = db.session.scalar(
            select(ScanEvent.user_id).where(
                ScanEvent.bag_id == child.id, ScanEvent.parent_id == parent.id,
                ScanEvent.result == "linked")
            .order_by(ScanEvent.id.desc()).limit(1))
        if linked_by != user.id:
            raise ScanError(
                "not_your_scan",
                f"{child.code} was scanned by someone else. Ask a supervisor to take it out.",
                action=action, scanned=child.code, parent=parent, bag=child)

    child.parent_id = None
    child.status = UNLINKED
    child.linked_at = None
    db.session.flush()
    set_committed_value(parent, "child_count", parent.child_count - 1)
    _record(user, action, "unlinked", child.code, bag=child, parent=parent,
            station=_clean_station(station))
    return ScanResult("unlinked", parent, child)


def record_rejection(user: User, error: ScanError, *, station: object = None,
                     scanned_at: datetime | None = None) -> None:
    """Keep a refused scan in the history (the dashboard's exceptions feed), in a fresh
    transaction after the refused one was rolled back."""
    event = ScanEvent(
        user_id=user.id, action=error.action or "scan", outcome=REJECTED, result=error.code,
        code=(error.scanned or "")[:64], bag_id=error.bag_id, parent_id=error.parent_id,
        reason=error.message[:500], station=_clean_station(station), client_scanned_at=scanned_at,
    )
    db.session.add(event)


# --- serialisation -----------------------------------------------------------------------

def parent_dict(parent: Bag, children: list[str] | None = None) -> dict:
    data = {"code": parent.code, "kind": PARENT, "status": parent.status,
            "capacity": parent.capacity, "child_count": parent.child_count}
    if children is not None:
        data["children"] = children
    return data


def bag_dict(bag: Bag, parent_code: str | None = None) -> dict:
    data = {"code": bag.code, "kind": bag.kind, "status": bag.status,
            "created_at": bag.created_at.isoformat() if bag.created_at else None}
    if bag.kind == CHILD:
        data["parent"] = parent_code
        data["linked_at"] = bag.linked_at.isoformat() if bag.linked_at else None
    return data
