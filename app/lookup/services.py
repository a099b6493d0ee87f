"""Bag lookup and management (DESIGN.md section 6): trace one code, browse and export the
bag list, and the supervisor corrections.

The list is keyset-paginated on (created_at, id), newest first: a page costs the same on
page 1 and page 20,000, and the bag page, the JSON API and the exports run the same query.
Corrections take plain values, run inside the caller's transaction, never commit, and
raise BagError with a code; each writes a scan event and an audit event.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import (String, any_, bindparam, delete, false, func, literal, or_, select,
                        tuple_, update)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import aliased

from app import timeparse
from app.audit.services import record_audit
from app.extensions import db
from app.models import (ACCEPTED, CHILD, COMPLETE, LINKED, OPEN, PARENT, UNLINKED, Bag,
                        ScanEvent, User)
from app.models.types import utcnow
from app.scanning import services as scanning
from app.scanning.codes import CodeError, normalise_code
from app.scanning.services import _bag_with_parent_code, _complete, _lock_parent, _record

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
KINDS = (PARENT, CHILD)
STATUSES = (OPEN, COMPLETE, LINKED, UNLINKED)
REASON_MIN, REASON_MAX = 3, 300
MAX_SUGGESTIONS = 8
# Results that put a child into a parent: who scanned (or moved) it in, and when.
INTO_PARENT = ("linked", "moved_in")
EXPORT_COLUMNS = ("code", "kind", "status", "parent", "capacity", "child_count",
                  "created_at", "created_by", "linked_at")
CURSOR_SALT = "bag-list-cursor"
# The parent of a bag (or of an event), joined by id. Built once: an alias made per call
# costs milliseconds of Python on every request.
ParentBag = aliased(Bag, name="parent_bag")


class BagError(Exception):
    """A refused lookup or correction: `code` is the API's error.code, `status` its HTTP
    status, `message` says what to do next."""

    def __init__(self, code: str, message: str, status: int = 409, **details):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.details = details


# --- filters and cursors -----------------------------------------------------------------

@dataclass
class BagFilters:
    kind: str | None = None
    status: str | None = None
    q: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    created_to_inclusive: bool = True
    user: str | None = None
    limit: int = PAGE_SIZE
    cursor: tuple[datetime, int] | None = None
    # The filters (and page size) as given: for the links to the next page and the exports.
    args: dict = field(default_factory=dict)


def _invalid(field_name: str, message: str) -> BagError:
    return BagError("invalid_filter", message, 422, field=field_name)


def parse_filters(args: Mapping[str, str], *, paginate: bool = True) -> BagFilters:
    """The list filters from a query string (the page's form and the API take the same)."""
    filters = BagFilters()
    kept = {}

    def text(name: str) -> str:
        value = (args.get(name) or "").strip()
        if value:
            kept[name] = value
        return value

    kind = text("kind").lower()
    if kind:
        if kind not in KINDS:
            raise _invalid("kind", "kind must be parent or child; leave it empty for both.")
        filters.kind = kind
    status = text("status").lower()
    if status:
        if status not in STATUSES:
            raise _invalid("status", "status must be open, complete, linked or unlinked; "
                                     "leave it empty for all.")
        filters.status = status
    q = text("q")
    if q:
        try:
            filters.q = normalise_code(q)
        except CodeError as exc:
            raise _invalid("q", f"The code prefix was not accepted. {exc}") from None
        if len(filters.q) > 64:
            raise _invalid("q", "A code prefix has at most 64 characters.")
    filters.created_from = _parse_time(text("created_from"), "created_from")
    created_to = text("created_to")
    filters.created_to = _parse_time(created_to, "created_to")
    if filters.created_to is not None and _is_date(created_to):
        # A date means the whole day: everything before the next midnight.
        filters.created_to += timedelta(days=1)
        filters.created_to_inclusive = False
    user = text("user").lower()
    if user:
        if len(user) > 64 or any(unicodedata.category(ch) in ("Cc", "Cs") for ch in user):
            raise _invalid("user", "user must be a username (letters, digits, dots, dashes).")
        filters.user = user
    if paginate:
        filters.limit = _parse_limit(text("limit"))
        cursor = (args.get("cursor") or "").strip()
        if cursor:
            filters.cursor = decode_cursor(cursor)
    filters.args = kept
    return filters


def _is_date(value: str) -> bool:
    return timeparse.is_date(value)


def _parse_time(value: str, name: str) -> datetime | None:
    """A date (YYYY-MM-DD, a UTC day) or an ISO 8601 time with an offset, in range."""
    try:
        return timeparse.parse_time(value, name, allow_date=True)
    except timeparse.TimeRejected as error:
        raise _invalid(name, error.message) from None


def _parse_limit(raw: object) -> int:
    if raw in (None, ""):
        return PAGE_SIZE
    try:
        limit = int(str(raw))
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise _invalid("limit", f"limit must be a whole number from 1 to {MAX_PAGE_SIZE}.")
    return limit


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=CURSOR_SALT)


def encode_cursor(created_at: datetime, bag_id: int) -> str:
    """Opaque and signed: a client can hand it back, not forge a position."""
    return _serializer().dumps([created_at.isoformat(), bag_id])


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        stamp, bag_id = _serializer().loads(cursor)
        position = timeparse.parse_stored_time(stamp)
        if position is None or not isinstance(bag_id, int) or isinstance(bag_id, bool):
            raise ValueError
    except (BadSignature, ValueError, TypeError):
        raise BagError("invalid_cursor",
                       "This page link is damaged or out of date. Start again from the first "
                       "page (leave out the cursor).", 422, field="cursor") from None
    return position.astimezone(UTC), bag_id


# --- the list ----------------------------------------------------------------------------

def _list_select(filters: BagFilters):
    parent = ParentBag
    stmt = (
        select(Bag.id, Bag.code, Bag.kind, Bag.status, parent.code.label("parent"),
               Bag.capacity, Bag.child_count, Bag.created_at,
               User.username.label("created_by"), Bag.linked_at)
        .outerjoin(parent, parent.id == Bag.parent_id)
        .outerjoin(User, User.id == Bag.created_by_id)
        .order_by(Bag.created_at.desc(), Bag.id.desc())
    )
    if filters.kind:
        stmt = stmt.where(Bag.kind == filters.kind)
    if filters.status:
        stmt = stmt.where(Bag.status == filters.status)
    if filters.q:
        in_range = _prefix_range(Bag.code, filters.q)
        if _few_codes_match(in_range):
            # Fetch the few matches by the code index first, then sort them: otherwise the
            # planner may walk the created_at index past every newer bag to find old codes.
            matches = (select(Bag.id).where(*in_range).cte("code_matches")
                       .prefix_with("MATERIALIZED"))
            stmt = stmt.join(matches, matches.c.id == Bag.id)
        else:
            stmt = stmt.where(*in_range)
    if filters.created_from is not None:
        stmt = stmt.where(Bag.created_at >= filters.created_from)
    if filters.created_to is not None:
        stmt = stmt.where(Bag.created_at <= filters.created_to if filters.created_to_inclusive
                          else Bag.created_at < filters.created_to)
    if filters.user:
        user_id = db.session.scalar(select(User.id).where(User.username == filters.user))
        stmt = stmt.where(Bag.created_by_id == user_id if user_id is not None else false())
    return stmt


PREFIX_PROBE_ROWS = 20_000


def _few_codes_match(in_range) -> bool:
    """PostgreSQL: whether a code prefix matches at most PREFIX_PROBE_ROWS bags, counted
    on the code index and never past that bound (about a millisecond)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return False
    probe = select(Bag.id).where(*in_range).limit(PREFIX_PROBE_ROWS + 1).subquery()
    return db.session.scalar(select(func.count()).select_from(probe)) <= PREFIX_PROBE_ROWS


def user_exists(username: str) -> bool:
    return db.session.scalar(select(User.id).where(User.username == username)) is not None


def _prefix_range(column, prefix: str):
    """Codes that start with `prefix`, as a range of the code index (byte order). The
    upper end is the prefix with its last character raised by one, stepping over the
    surrogates (no text holds them); a prefix of U+10FFFF has no character above it."""
    stem = prefix.rstrip("\U0010ffff")
    if not stem:
        return (column >= prefix,)
    following = ord(stem[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:
        following = 0xE000
    return column >= prefix, column < stem[:-1] + chr(following)


def _row_dict(row) -> dict:
    return {
        "code": row.code, "kind": row.kind, "status": row.status, "parent": row.parent,
        "capacity": row.capacity, "child_count": row.child_count,
        "created_at": row.created_at, "created_by": row.created_by, "linked_at": row.linked_at,
    }


@dataclass
class BagPage:
    items: list[dict]
    next_cursor: str | None


def list_bags(filters: BagFilters) -> BagPage:
    stmt = _list_select(filters)
    if filters.cursor is not None:
        # Row comparison: one range of the (created_at, id) index, however deep the page.
        created_at, bag_id = filters.cursor
        stmt = stmt.where(tuple_(Bag.created_at, Bag.id) < tuple_(
            literal(created_at, Bag.created_at.type), literal(bag_id, Bag.id.type)))
    rows = db.session.execute(stmt.limit(filters.limit + 1)).all()
    more = len(rows) > filters.limit
    rows = rows[: filters.limit]
    next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if more else None
    return BagPage([_row_dict(row) for row in rows], next_cursor)


def iter_export_rows(filters: BagFilters, batch: int = 1000) -> Iterator[dict]:
    """Every row of the filtered list, in list order, fetched `batch` rows at a time from a
    server-side cursor (PostgreSQL): memory stays flat whatever the number of rows."""
    stmt = _list_select(filters).execution_options(yield_per=batch)
    for row in db.session.execute(stmt):
        yield _row_dict(row)


# --- trace -------------------------------------------------------------------------------

def find_bag(raw_code: object) -> Bag | None:
    try:
        code = normalise_code(raw_code)
    except CodeError:
        return None
    return db.session.scalar(select(Bag).where(Bag.code == code))


def trace_bag(raw_code: object) -> dict:
    """Everything known about one bag; BagError bag_not_found (with suggestions) otherwise."""
    code = _normalise_or_error(raw_code)
    parent = ParentBag
    row = db.session.execute(
        select(Bag, parent.code, User.username)
        .outerjoin(parent, parent.id == Bag.parent_id)
        .outerjoin(User, User.id == Bag.created_by_id)
        .where(Bag.code == code)
    ).first()
    if row is None:
        suggestions = nearest_codes(code)
        hint = (" Did you mean " + ", ".join(suggestions) + "?") if suggestions else ""
        raise BagError("bag_not_found",
                       f"There is no bag {code}.{hint} Check the label and scan it again.",
                       404, scanned=code, suggestions=suggestions)
    bag, parent_code, created_by = row
    events = timeline(bag)
    data = {
        "code": bag.code, "kind": bag.kind, "status": bag.status,
        "created_at": bag.created_at, "created_by": created_by,
        "parent": parent_code, "children": [], "events": events,
    }
    if bag.kind == PARENT:
        data.update(capacity=bag.capacity, child_count=bag.child_count,
                    children=_children(bag, events))
    else:
        data["linked_at"] = bag.linked_at
    return data


def _normalise_or_error(raw_code: object) -> str:
    try:
        return normalise_code(raw_code)
    except CodeError as exc:
        raise BagError("invalid_code", f"That code was not accepted. {exc}", 422) from None


def timeline(bag: Bag) -> list[dict]:
    """Oldest first. A parent's own events and every scan, undo and correction of its
    children while they were in it; a child's own events."""
    parent = ParentBag
    condition = ScanEvent.bag_id == bag.id
    if bag.kind == PARENT:
        condition = or_(condition, ScanEvent.parent_id == bag.id)
    rows = db.session.execute(
        select(ScanEvent, User.username, parent.code)
        .outerjoin(User, User.id == ScanEvent.user_id)
        .outerjoin(parent, parent.id == ScanEvent.parent_id)
        .where(condition)
        .order_by(ScanEvent.created_at, ScanEvent.id)
    ).all()
    return [{
        "at": event.created_at, "user": username, "action": event.action,
        "result": event.result, "outcome": event.outcome, "code": event.code,
        "parent": parent_code, "reason": event.reason, "station": event.station,
        "scanned_at": event.client_scanned_at, "bag_id": event.bag_id,
    } for event, username, parent_code in rows]


def _children(parent: Bag, events: list[dict]) -> list[dict]:
    """The parent's children, newest first, each with who put it in and when."""
    put_in_by = {}
    for event in events:  # oldest first: the last link into this parent wins
        if event["outcome"] == ACCEPTED and event["result"] in INTO_PARENT:
            put_in_by[event["bag_id"]] = event
    rows = db.session.execute(
        select(Bag.id, Bag.code, Bag.status, Bag.linked_at).where(Bag.parent_id == parent.id)
        .order_by(Bag.linked_at.desc(), Bag.id.desc())).all()
    children = []
    for row in rows:
        event = put_in_by.get(row.id)
        children.append({
            "code": row.code, "status": row.status, "linked_at": row.linked_at,
            "linked_by": event["user"] if event else None,
            "how": event["result"] if event else None,
        })
    return children


def nearest_codes(code: str, limit: int = MAX_SUGGESTIONS) -> list[str]:
    """Existing codes close to an unknown one, from two kinds of indexed lookups (never a
    scan of the table): codes one keystroke away (a digit misread, dropped, added or two
    swapped), probed as one IN list on the unique code index; and the codes just before and
    after it in code order, which share the longest prefix with it."""
    variants = _one_edit_away(code)
    if db.session.get_bind().dialect.name == "postgresql":
        # One array parameter: hundreds of IN parameters cost more to send than to look up.
        in_variants = Bag.code == any_(bindparam("variants", variants, type_=ARRAY(String)))
    else:
        in_variants = Bag.code.in_(variants)
    found = set(db.session.scalars(select(Bag.code).where(in_variants)))
    before = db.session.scalars(
        select(Bag.code).where(Bag.code < code).order_by(Bag.code.desc()).limit(limit))
    after = db.session.scalars(
        select(Bag.code).where(Bag.code > code).order_by(Bag.code).limit(limit))
    neighbours = [c for c in (*before, *after) if _shared_prefix(c, code) >= 2]

    def rank(candidate: str):
        return (candidate not in found, -_shared_prefix(candidate, code),
                abs(len(candidate) - len(code)), candidate)

    return sorted(found | set(neighbours), key=rank)[:limit]


def _shared_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _one_edit_away(code: str, max_length: int = 24) -> list[str]:
    if not code or len(code) > max_length:
        return []
    alphabet = string.digits + string.ascii_uppercase + "".join(
        sorted({ch for ch in code if ch not in string.digits + string.ascii_uppercase}))
    variants = set()
    for i in range(len(code) + 1):
        for ch in alphabet:
            variants.add(code[:i] + ch + code[i:])  # one extra character
            if i < len(code):
                variants.add(code[:i] + ch + code[i + 1:])  # one character read wrong
        if i < len(code):
            variants.add(code[:i] + code[i + 1:])  # one character dropped
        if i < len(code) - 1:
            variants.add(code[:i] + code[i + 1] + code[i] + code[i + 2:])  # two swapped
    variants.discard(code)
    return sorted(v for v in variants if v)


# --- corrections -------------------------------------------------------------------------

@dataclass
class Correction:
    result: str
    bag: Bag | None
    code: str
    parent: Bag | None = None  # the parent it is in afterwards (or the corrected parent)
    previous_parent: Bag | None = None


def _require_supervisor(user: User) -> None:
    if not user.has_role("supervisor"):
        raise BagError("forbidden", "Only a supervisor or an admin can correct bags. Ask one.",
                       403)


def clean_reason(raw: object) -> str:
    reason = raw.strip() if isinstance(raw, str) else ""
    reason = " ".join(reason.split())
    if len(reason) < REASON_MIN:
        raise BagError("reason_required",
                       f"Say why you make this correction (at least {REASON_MIN} characters).",
                       422, field="reason")
    if len(reason) > REASON_MAX:
        raise BagError("reason_required",
                       f"Keep the reason under {REASON_MAX} characters.", 422, field="reason")
    return reason


def snapshot(bag: Bag | None, parent_code: str | None = None) -> dict | None:
    if bag is None:
        return None
    data = {"code": bag.code, "kind": bag.kind, "status": bag.status}
    if bag.kind == PARENT:
        data.update(capacity=bag.capacity, child_count=bag.child_count)
    else:
        data["parent"] = parent_code
    return data


def _bag_or_404(code: str) -> tuple[Bag, str | None]:
    bag, parent_code = _bag_with_parent_code(code)
    if bag is None:
        raise BagError("bag_not_found", f"There is no bag {code}. Check the code.", 404,
                       scanned=code)
    return bag, parent_code


def _child_or_error(code: str) -> tuple[Bag, str | None]:
    bag, parent_code = _bag_or_404(code)
    if bag.kind != CHILD:
        raise BagError("code_is_parent",
                       f"{code} is a parent. Only child bags can be unlinked or moved.", 409)
    return bag, parent_code


def _lock_in_order(bags: list[Bag | None]) -> None:
    """Lock the parents a correction touches, always in id order: two moves that cross
    (A to B and B to A) queue behind each other instead of deadlocking."""
    for parent_id in sorted({bag.id for bag in bags if bag is not None}):
        db.session.scalar(select(Bag).where(Bag.id == parent_id).with_for_update()
                          .execution_options(populate_existing=True))


def _moved_meanwhile(code: str) -> BagError:
    return BagError("bag_changed", f"{code} was changed by someone else just now. "
                                   "Look it up again and retry.", 409)


def unlink_child(actor: User, raw_code: object, raw_reason: object) -> Correction:
    """Take a child out of its parent; it stays as an unlinked bag."""
    _require_supervisor(actor)
    reason = clean_reason(raw_reason)
    code = _normalise_or_error(raw_code)
    for _attempt in range(3):
        child, parent_code = _child_or_error(code)
        if child.parent_id is None:
            raise BagError("not_linked", f"{code} is not in any parent; there is nothing to "
                                         "unlink.", 409)
        parent = _lock_parent(parent_code)
        child, _ = _bag_with_parent_code(code)  # re-read under the parent's lock
        if parent is not None and child is not None and child.parent_id == parent.id:
            break
    else:
        raise _moved_meanwhile(code)
    before = snapshot(child, parent.code)
    child.parent_id = None
    child.status = UNLINKED
    child.linked_at = None
    db.session.flush()
    db.session.refresh(parent)
    _record(actor, "unlink", "unlinked", child.code, bag=child, parent=parent, reason=reason)
    record_audit(actor, "bag.unlink", "bag", child.code, before,
                 {**snapshot(child), "reason": reason})
    return Correction("unlinked", child, child.code, previous_parent=parent)


def move_child(actor: User, raw_code: object, raw_target: object,
               raw_reason: object) -> Correction:
    """Move a child (linked or loose) into another parent, respecting its capacity."""
    _require_supervisor(actor)
    reason = clean_reason(raw_reason)
    code = _normalise_or_error(raw_code)
    target_code = _normalise_or_error(raw_target)
    for _attempt in range(3):
        child, source_code = _child_or_error(code)
        target = db.session.scalar(select(Bag).where(Bag.code == target_code))
        if target is None or target.kind != PARENT:
            raise BagError("parent_not_found",
                           f"There is no parent {target_code}. Check the parent's code.", 404,
                           parent_code=target_code)
        if child.parent_id == target.id:
            raise BagError("already_linked", f"{code} is already in {target_code}.", 409)
        source = db.session.get(Bag, child.parent_id) if child.parent_id else None
        _lock_in_order([source, target])
        child, _ = _bag_with_parent_code(code)  # re-read under the locks
        if child is not None and child.parent_id == (source.id if source else None):
            break
    else:
        raise _moved_meanwhile(code)
    if target.status == COMPLETE:
        raise BagError("parent_complete", f"{target.code} is complete. Reopen it first, or "
                                          "choose another parent.", 409)
    if target.child_count >= target.capacity:
        raise BagError("parent_full", f"{target.code} is full ({target.child_count} / "
                                      f"{target.capacity}). Choose another parent.", 409)
    before = snapshot(child, source.code if source else None)
    now = utcnow()
    moved = db.session.execute(
        update(Bag).where(Bag.id == child.id, Bag.parent_id.is_not_distinct_from(
            source.id if source else None))
        .values(parent_id=target.id, status=LINKED, linked_at=now)
        .execution_options(synchronize_session=False)).rowcount
    if moved != 1:  # a loose child that a scan linked a moment ago
        raise _moved_meanwhile(code)
    for bag in (child, source, target):
        if bag is not None:
            db.session.refresh(bag)
    if source is not None:
        _record(actor, "move", "moved_out", child.code, bag=child, parent=source,
                reason=f"to {target.code}: {reason}")
    _record(actor, "move", "moved_in", child.code, bag=child, parent=target,
            reason=f"from {source.code if source else 'no parent'}: {reason}")
    if target.child_count >= target.capacity:
        _complete(actor, target, "auto_completed")
    record_audit(actor, "bag.move", "bag", child.code, before,
                 {**snapshot(child, target.code), "reason": reason})
    return Correction("moved", child, child.code, parent=target, previous_parent=source)


def complete_parent(actor: User, raw_code: object, raw_reason: object) -> Correction:
    _require_supervisor(actor)
    reason = clean_reason(raw_reason)
    code = _normalise_or_error(raw_code)
    before = _parent_snapshot_or_error(code)
    try:
        outcome = scanning.complete_parent(actor, code, force=True, reason=reason)
    except scanning.ScanError as error:
        raise _from_scan_error(error) from None
    record_audit(actor, "bag.complete", "bag", code, before,
                 {**snapshot(outcome.parent), "reason": reason})
    return Correction("completed", outcome.parent, code, parent=outcome.parent)


def reopen_parent(actor: User, raw_code: object, raw_reason: object) -> Correction:
    _require_supervisor(actor)
    reason = clean_reason(raw_reason)
    code = _normalise_or_error(raw_code)
    before = _parent_snapshot_or_error(code)
    try:
        outcome = scanning.reopen_parent(actor, code, reason=reason)
    except scanning.ScanError as error:
        raise _from_scan_error(error) from None
    record_audit(actor, "bag.reopen", "bag", code, before,
                 {**snapshot(outcome.parent), "reason": reason})
    return Correction("reopened", outcome.parent, code, parent=outcome.parent)


def _parent_snapshot_or_error(code: str) -> dict:
    """The parent as it is under its row lock (the scan service locks it again, a no-op)."""
    bag, _ = _bag_or_404(code)
    if bag.kind != PARENT:
        raise BagError("code_is_child", f"{code} is a child bag; only a parent can be "
                                        "completed or reopened.", 409)
    return snapshot(_lock_parent(code))


_SCAN_ERROR_STATUS = {"parent_not_found": 404, "invalid_code": 422, "forbidden": 403}


def _from_scan_error(error) -> BagError:
    return BagError(error.code, error.message, _SCAN_ERROR_STATUS.get(error.code, 409))


def delete_bag(actor: User, raw_code: object, raw_reason: object) -> Correction:
    """Delete a bag created by mistake: a parent only when empty, a child from wherever it
    is (its parent's count follows). Its scan events stay, with the code and no bag."""
    _require_supervisor(actor)
    reason = clean_reason(raw_reason)
    code = _normalise_or_error(raw_code)
    for _attempt in range(3):
        bag, parent_code = _bag_or_404(code)
        parent = _lock_parent(parent_code if bag.kind == CHILD and parent_code else code)
        bag, parent_code = _bag_or_404(code)  # re-read under the lock
        if bag.kind == PARENT or (parent is not None and bag.parent_id == parent.id) or (
                parent is None and bag.parent_id is None):
            break
    else:
        raise _moved_meanwhile(code)
    if bag.kind == PARENT and bag.child_count:
        raise BagError("has_children", f"{code} still holds {bag.child_count} bags. Move or "
                                       "unlink them first, then delete it.", 409)
    before = snapshot(bag, parent_code)
    in_parent = parent if bag.kind == CHILD else None
    deleted = db.session.execute(
        delete(Bag).where(Bag.id == bag.id,
                          Bag.parent_id.is_not_distinct_from(bag.parent_id))
        .execution_options(synchronize_session=False)).rowcount
    if deleted != 1:  # a loose child linked by a scan a moment ago
        raise _moved_meanwhile(code)
    db.session.expunge(bag)
    if in_parent is not None:
        db.session.refresh(in_parent)
    _record(actor, "delete", "deleted", code, parent=in_parent, reason=reason)
    record_audit(actor, "bag.delete", "bag", code, before, {"deleted": True, "reason": reason})
    return Correction("deleted", None, code, previous_parent=in_parent)


# --- serialisation -----------------------------------------------------------------------

def jsonable(value):
    """Times as ISO 8601 with offset; internal ids left out."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items() if k != "bag_id"}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value
