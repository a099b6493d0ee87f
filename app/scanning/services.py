"""The scan service (DESIGN.md sections 4 and 5): every scan from the station page, the JSON
API and offline replay goes through these functions; the rule book (app/rules/bags.py)
decides, this module locks, writes and records.

Each public function takes plain values, runs inside the caller's transaction, never commits,
and raises ScanError (a DomainError) when the scan is refused. Linking locks the parent row
(SELECT ... FOR UPDATE on PostgreSQL; on SQLite one writer at a time, and a transaction whose
snapshot went stale fails: app/models/sqlite.py), so capacity and "one parent per child" hold
under any number of concurrent stations. The parent's child_count is maintained by database
triggers; the service never counts children. The usual scan, a new label, is one statement
(_NEW_CHILD_WITH_EVENT); everything else takes the full path after it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, text, update

from app.domain import DomainError, Text
from app.extensions import db
from app.hot_sql import HotStatement
from app.models import (CHILD, COMPLETE, LINKED, OPEN, PARENT, REJECTED, UNLINKED, Bag,
                        ScanEvent, User)
from app.models.types import utcnow
from app.rules import bags as rules
from app.rules.codes import CodeError, normalise_code, printable
from app.scanning import store
from app.site_scope import current_site_id

SCAN_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
MAX_STATION_LENGTH = 64


class ScanError(DomainError):
    """A refused scan, with what the history keeps of it: the action, the code as scanned,
    and the parent and bag involved (their ids, and the parent's state for the answer)."""

    def __init__(self, code: str, message: str, *, action: str = "", scanned: str = "",
                 parent=None, bag=None, status: int | None = None, **details):
        if parent is not None:
            details.setdefault("parent", parent_dict(parent))
        super().__init__(code, message, status, **details)
        self.action = action
        self.scanned = scanned
        self.parent_id = getattr(parent, "id", None)
        self.parent_code = getattr(parent, "code", None)
        self.bag_id = getattr(bag, "id", None)


@contextmanager
def refusing(action: str, scanned: str, parent=None, bag=None) -> Iterator[None]:
    """The rule book's refusal as a ScanError of this scan (for the answer and the history)."""
    try:
        yield
    except rules.Refusal as refusal:
        raise ScanError(refusal.code, refusal.message, action=action, scanned=scanned,
                        parent=parent, bag=bag, status=refusal.status,
                        **refusal.details) from None


@dataclass
class ScanResult:
    result: str
    parent: object            # the parent's row (Bag or store.ParentRow)
    child: object | None = None
    created: bool = False
    children: list[str] | None = field(default=None)
    child_parent: str | None = None   # where the child is now (its parent's code)


# --- input ---------------------------------------------------------------------------------

def _normalise(raw: object, action: str, what: str) -> str:
    try:
        return normalise_code(raw)
    except CodeError as exc:
        message = (Text("The parent code was not accepted. %(reason)s", reason=exc.args[0])
                   if what == "parent" else
                   Text("The child code was not accepted. %(reason)s", reason=exc.args[0]))
        raise ScanError("invalid_code", message,
                        action=action, scanned=printable(raw)) from None


def _validate_scan_id(scan_id: object, action: str, code: str) -> str | None:
    if scan_id is None or scan_id == "":
        return None
    if not isinstance(scan_id, str) or not SCAN_ID_PATTERN.match(scan_id):
        raise ScanError("invalid_scan_id",
                        Text("scan_id must be text of 1 to 64 letters, digits or . _ : - "
                             "characters."),
                        action=action, scanned=code)
    return scan_id


def clean_station(station: object) -> str | None:
    if not isinstance(station, str):
        return None
    return printable(station, MAX_STATION_LENGTH * 2).strip()[:MAX_STATION_LENGTH] or None


# --- parent scans --------------------------------------------------------------------------

def scan_parent(user: User, raw_code: object, *, station: object = None) -> ScanResult:
    """Open an existing parent, or create a new one race-free."""
    action = "parent_scan"
    code = _normalise(raw_code, action, "parent")
    existing, _ = store.bag_with_parent_code(code, any_site=True)
    with refusing(action, code, bag=existing):
        rules.at_site(code, store.state_of(existing), current_site_id())
        decision = rules.parent_scan(code, store.state_of(existing), store.code_rules())
    created = False
    if decision == rules.CREATE:
        existing = db.session.scalar(store.insert_bag_unless_taken({
            "code": code, "kind": PARENT, "status": OPEN, "child_count": 0,
            "capacity": store.code_rules().capacity, "created_at": utcnow(),
            "created_by_id": user.id}).returning(Bag))
        created = existing is not None
        if not created:  # another station created it a moment ago (maybe another site's)
            existing, _ = store.bag_with_parent_code(code, any_site=True)
            with refusing(action, code, bag=existing):
                rules.at_site(code, store.state_of(existing), current_site_id())
    result = "parent_created" if created else "parent_opened"
    store.record(user, action, result, code, bag_id=existing.id, parent_id=existing.id,
                 parent_code=code, station=clean_station(station))
    return ScanResult(result, existing, created=created,
                      children=[] if created else store.children_codes(existing.id))


# --- child scans ---------------------------------------------------------------------------
# The hot path: every statement here runs for every scan, so it works with plain rows.

def _parent_for_scan(parent_code: str, action: str, code: str) -> store.ParentRow:
    parent = store.lock_parent_row(parent_code)
    if parent is None:  # rare: say why (another site's, unknown, a child's code, not a code)
        bag, _ = store.bag_with_parent_code(parent_code, any_site=True)
        with refusing(action, code, bag=bag):
            rules.at_site(parent_code, store.state_of(bag), current_site_id())
            rules.parent_for_child_scan(parent_code, store.state_of(bag), store.code_rules())
        raise ScanError("parent_not_found", Text("There is no parent %(code)s.",
                                             code=parent_code),
                        action=action, scanned=code)  # pragma: no cover - a parent row unlocked
    return parent


def scan_child(user: User, raw_parent: object, raw_code: object, *, scan_id: object = None,
               station: object = None, scanned_at: datetime | None = None) -> ScanResult:
    """Link a child to a parent, in one transaction holding the parent's row lock."""
    action = "child_scan"
    parent_code = _normalise(raw_parent, action, "parent")
    code = _normalise(raw_code, action, "child")
    scan_id = _validate_scan_id(scan_id, action, code)
    station = clean_station(station)
    made = scanned_at or utcnow()  # a parent's children are ordered by when they were scanned
    parent = _parent_for_scan(parent_code, action, code)
    with refusing(action, code, parent):
        rules.check_child_code(code, parent.code, store.code_rules())

    child = None
    if rules.takes_new_child(parent):
        # The usual scan: a new label. One statement creates the child and its event.
        child = _insert_new_child_with_event(user, parent, code, made, scan_id=scan_id,
                                             station=station, scanned_at=scanned_at)
    if child is None:
        if scan_id is not None:
            replayed = _replay(user, parent, code, scan_id, action)
            if replayed is not None:
                return replayed
        result, child = _link_known_code(user, parent, code, action, made)
        if result == rules.ALREADY_LINKED:
            store.record(user, action, result, code, bag_id=child.id, parent_id=parent.id,
                         parent_code=parent.code, scan_id=scan_id, station=station,
                         scanned_at=scanned_at)
            return ScanResult(result, parent, child, child_parent=parent.code)
        store.record(user, action, "linked", code, bag_id=child.id, parent_id=parent.id,
                     parent_code=parent.code, scan_id=scan_id, station=station,
                     scanned_at=scanned_at)

    # The trigger added one to child_count under the lock we hold: mirror it without a query.
    parent.count += 1
    if rules.completes(parent):
        store.sql().execute(update(Bag).where(Bag.id == parent.id).values(status=COMPLETE))
        parent.status = COMPLETE
        store.record(user, "complete", "auto_completed", parent.code, bag_id=parent.id,
                     parent_id=parent.id, parent_code=parent.code, station=station)
    return ScanResult("linked", parent, child, child_parent=parent.code)


def _replay(user: User, parent: store.ParentRow, code: str, scan_id: str,
            action: str) -> ScanResult | None:
    """A scan_id this user sent before: the same scan again is 'replayed' (recorded, nothing
    changes) and answers where the child is now; the id reused for another scan is refused."""
    previous = db.session.execute(
        select(ScanEvent.parent_code, ScanEvent.code)
        .where(ScanEvent.user_id == user.id, ScanEvent.scan_id == scan_id)).first()
    if previous is None:
        return None
    with refusing(action, code, parent):
        rules.replay(previous[0], previous[1], parent.code, code)
    child = store.child_row(code)
    store.record(user, action, rules.REPLAYED, code, bag_id=child.id if child else None,
                 parent_id=parent.id, parent_code=parent.code)
    return ScanResult(rules.REPLAYED, parent, child, child_parent=child.parent if child else None)


def _link_known_code(user: User, parent: store.ParentRow, code: str, action: str,
                     made: datetime):
    """A code the fast path could not create: read it, then link it (or refuse)."""
    for _attempt in range(3):
        child = store.child_row(code)
        with refusing(action, code, parent, child):
            decision = rules.link_child(parent, code, child)
        if decision == rules.ALREADY_LINKED:
            return decision, child
        if decision == rules.LINK_NEW:
            child = _insert_child(user, parent, code, made)
        else:
            child = _link_loose_child(parent, child, made)
        if child is not None:
            return rules.LINK, child
        # Lost a race with another station (it created or linked the code): read it again.
    raise ScanError(  # pragma: no cover - three lost races in a row on one code
        "database_busy", "The scan collided with another. Scan it again.",
        action=action, scanned=code, parent=parent)


def _new_child(user: User, parent: store.ParentRow, code: str, now: datetime,
               made: datetime) -> dict:
    """The row of a child created by a scan, linked to `parent` at once (linked when the scan
    was made: the parent's children are ordered by it)."""
    return {"code": code, "kind": CHILD, "status": LINKED, "parent_id": parent.id,
            "linked_at": made, "created_at": now, "created_by_id": user.id,
            "site_id": parent.site_id}


def _insert_child(user: User, parent: store.ParentRow, code: str,
                  made: datetime) -> store.ChildRow | None:
    now = utcnow()
    new_id = store.sql().scalar(store.insert_bag_unless_taken(
        _new_child(user, parent, code, now, made)).returning(Bag.id))
    if new_id is None:
        return None
    return store.ChildRow(new_id, code, CHILD, LINKED, parent.id, parent.code, now, made)


def _link_loose_child(parent: store.ParentRow, child: store.ChildRow,
                      made: datetime) -> store.ChildRow | None:
    linked = store.sql().execute(
        update(Bag).where(Bag.id == child.id, Bag.parent_id.is_(None))
        .values(parent_id=parent.id, status=LINKED, linked_at=made)
        .execution_options(synchronize_session=False)).rowcount
    if linked != 1:
        return None
    child.parent_id, child.parent, child.status, child.linked_at = (parent.id, parent.code,
                                                                    LINKED, made)
    return child


# The usual scan on PostgreSQL, as one statement: create the child linked to the parent and
# its scan event, unless the code exists (ON CONFLICT) or this user's scan_id was seen before
# (NOT EXISTS; the replay check then tells a resend from a reused id). Written out because it
# runs for nearly every scan: building it with Core on each call cost more CPU than executing
# it. Columns as in app/models/bag.py and events.py.
_NEW_CHILD_WITH_EVENT = HotStatement(text("""
WITH new_bag AS (
    INSERT INTO bags (code, kind, status, parent_id, linked_at, created_at, created_by_id,
                      site_id)
    SELECT CAST(:code AS VARCHAR), 'child', 'linked', CAST(:parent_id AS BIGINT),
           CAST(:made AS TIMESTAMPTZ), CAST(:now AS TIMESTAMPTZ), CAST(:user_id AS BIGINT),
           CAST(:site_id AS BIGINT)
    WHERE NOT EXISTS (SELECT 1 FROM scan_events WHERE user_id = CAST(:user_id AS BIGINT)
                      AND scan_id = CAST(:scan_id AS VARCHAR))
    ON CONFLICT (code) DO NOTHING
    RETURNING id
)
INSERT INTO scan_events (created_at, made_at, user_id, action, outcome, result, code, bag_id,
                         parent_id, parent_code, scan_id, station, client_scanned_at, site_id)
SELECT CAST(:now AS TIMESTAMPTZ), CAST(:made AS TIMESTAMPTZ), CAST(:user_id AS BIGINT),
       'child_scan', 'accepted',
       'linked', CAST(:code AS VARCHAR), id, CAST(:parent_id AS BIGINT),
       CAST(:parent_code AS VARCHAR), CAST(:scan_id AS VARCHAR), CAST(:station AS VARCHAR),
       CAST(:scanned_at AS TIMESTAMPTZ), CAST(:site_id AS BIGINT)
FROM new_bag
RETURNING bag_id
"""))


def _insert_new_child_with_event(user: User, parent: store.ParentRow, code: str,
                                 made: datetime, *,
                                 scan_id: str | None, station: str | None,
                                 scanned_at: datetime | None) -> store.ChildRow | None:
    """Create `code` as a child linked to the (locked, open, not full) parent together with
    its scan event, unless the code exists or this user sent `scan_id` before: then nothing
    is written and None sends the scan down the full path (replay, existing child, race)."""
    now = utcnow()
    if db.session.get_bind().dialect.name == "postgresql":
        new_id = _NEW_CHILD_WITH_EVENT.scalar({
            "code": code, "parent_id": parent.id, "parent_code": parent.code, "now": now,
            "made": made,
            "user_id": user.id, "scan_id": scan_id, "station": station,
            "scanned_at": scanned_at, "site_id": parent.site_id})
    else:  # SQLite (the trial database) has no data-modifying CTE: two statements
        seen = None
        if scan_id is not None:
            seen = store.sql().scalar(select(ScanEvent.id).where(
                ScanEvent.user_id == user.id, ScanEvent.scan_id == scan_id))
        new_id = None
        if seen is None:
            new_id = store.sql().scalar(store.insert_bag_unless_taken(
                _new_child(user, parent, code, now, made)).returning(Bag.id))
        if new_id is not None:
            store.record(user, "child_scan", "linked", code, bag_id=new_id,
                         parent_id=parent.id, parent_code=parent.code, scan_id=scan_id,
                         station=station, scanned_at=scanned_at)
    if new_id is None:
        return None
    return store.ChildRow(new_id, code, CHILD, LINKED, parent.id, parent.code, now, made)


# --- finishing and reopening ---------------------------------------------------------------

def _locked_parent(raw_code: object, action: str) -> Bag:
    code = _normalise(raw_code, action, "parent")
    parent = store.lock_parent(code)
    if parent is None:
        raise ScanError("parent_not_found", Text("There is no parent %(code)s. Check the code.",
                                             code=code),
                        action=action, scanned=code, parent_code=code)
    return parent


def complete_parent(user: User, raw_code: object, *, force: bool = False,
                    station: object = None, reason: str | None = None) -> ScanResult:
    """`reason`: why a supervisor's correction completes it (kept on the scan event)."""
    action = "complete"
    parent = _locked_parent(raw_code, action)
    with refusing(action, parent.code, parent):
        rules.finish(store.state_of(parent), force)
    short = "finished short" if parent.child_count < parent.capacity else None
    parent.status = COMPLETE
    db.session.flush()
    store.record(user, action, "completed", parent.code, bag_id=parent.id,
                 parent_id=parent.id, parent_code=parent.code, station=clean_station(station),
                 reason=": ".join(part for part in (short, reason) if part) or None)
    return ScanResult("completed", parent)


def reopen_parent(user: User, raw_code: object, *, station: object = None,
                  reason: str | None = None) -> ScanResult:
    action = "reopen"
    parent = _locked_parent(raw_code, action)
    with refusing(action, parent.code, parent):
        rules.reopen(store.actor(user), store.state_of(parent, dispatch=True))
    parent.status = OPEN
    db.session.flush()
    store.record(user, action, "reopened", parent.code, bag_id=parent.id, parent_id=parent.id,
                 parent_code=parent.code, station=clean_station(station), reason=reason)
    return ScanResult("reopened", parent)


# --- undo ----------------------------------------------------------------------------------

def undo_scan(user: User, *, raw_parent: object = None, raw_code: object = None,
              station: object = None) -> ScanResult:
    """Unlink a named child, or this user's last scan into a parent. The child stays as an
    unlinked bag; the history keeps both the link and the undo. Who may undo what is the
    rule book's (rules.undo, rules.undo_last)."""
    action = "undo"
    named_parent = None
    if raw_parent not in (None, ""):
        named_parent = _normalise(raw_parent, action, "parent")
    if raw_code not in (None, ""):
        code = _normalise(raw_code, action, "child")
        child, parent = _locked_child_and_parent(code, action)
        with refusing(action, code, parent, child):
            rules.at_site(code, store.state_of(child), current_site_id())
        last = store.last_links(parent.id, [child.id]).get(code) if parent and child else None
        with refusing(action, code, parent, child):
            rules.undo(store.actor(user), code, store.state_of(child, parent and parent.code),
                       named_parent, store.state_of(parent, dispatch=True), last)
    elif named_parent is not None:
        parent = _locked_parent(named_parent, action)
        with refusing(action, parent.code, parent):
            code = rules.undo_last(store.actor(user), store.state_of(parent, dispatch=True),
                                   store.last_links(parent.id))
        child, _ = store.bag_with_parent_code(code)
    else:
        raise ScanError("invalid_code", "Say which parent (parent) or which child (code) to "
                                        "undo.", action=action)

    child.parent_id = None
    child.status = UNLINKED
    child.linked_at = None
    db.session.flush()
    db.session.refresh(parent)
    store.record(user, action, "unlinked", child.code, bag_id=child.id, parent_id=parent.id,
                 parent_code=parent.code, station=clean_station(station))
    return ScanResult("unlinked", parent, child)


def _locked_child_and_parent(code: str, action: str) -> tuple[Bag | None, Bag | None]:
    """The child and its parent, the parent locked and the child read again under the lock
    (a move or a delete may have run meanwhile: then read again, at most three times)."""
    for _attempt in range(3):
        child, parent_code = store.bag_with_parent_code(code, any_site=True)
        if child is None or child.kind != CHILD or parent_code is None:
            return child, None
        if current_site_id() not in (None, child.site_id):  # another site's (refused after)
            return child, None
        parent = store.lock_parent(parent_code)
        child, _ = store.bag_with_parent_code(code, any_site=True)
        if child is None or child.parent_id == parent.id:
            return child, parent
    raise ScanError("bag_changed", Text("%(code)s was changed by someone else just now. "
                                        "Look it up again and retry.", code=code), action=action, scanned=code)


def record_rejection(user: User, error: ScanError, *, station: object = None,
                     scanned_at: datetime | None = None) -> None:
    """Keep a refused scan in the history (the dashboard's exceptions feed), in a fresh
    transaction after the refused one was rolled back."""
    store.record(user, error.action or "scan", error.code, printable(error.scanned or ""),
                 outcome=REJECTED, bag_id=error.bag_id, parent_id=error.parent_id,
                 parent_code=error.parent_code, reason=error.message,
                 station=clean_station(station), scanned_at=scanned_at)


# --- serialisation -------------------------------------------------------------------------

def parent_dict(parent, children: list[str] | None = None) -> dict:
    """Parent (DESIGN section 6) from a Bag or a plain parent row."""
    data = {"code": parent.code, "kind": PARENT, "status": parent.status,
            "capacity": parent.capacity, "child_count": parent.child_count}
    if children is not None:
        data["children"] = children
    return data


def bag_dict(bag, parent_code: str | None = None) -> dict:
    data = {"code": bag.code, "kind": bag.kind, "status": bag.status}
    created_at = getattr(bag, "created_at", None)
    data["created_at"] = created_at.isoformat() if created_at else None
    if bag.kind == CHILD:
        data["parent"] = parent_code
        linked_at = getattr(bag, "linked_at", None)
        data["linked_at"] = linked_at.isoformat() if linked_at else None
    return data
