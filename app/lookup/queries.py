"""Bag lookup (DESIGN.md section 6): trace one code, browse and export the bag list. Reads
only: the corrections are the bag-change service's (app/scanning/corrections.py).

The list is keyset-paginated on (created_at, id), newest first: a page costs the same on
page 1 and page 20,000, and the bag page, the JSON API and the exports run the same query.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import String, and_, any_, bindparam, false, func, literal, or_, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import aliased

from app import cursors, timeparse
from app.domain import DomainError, Text
from app.dispatch.queries import dispatch_of_bag
from app.extensions import db
from app.models.dispatch import in_stock
from app.models import (ACCEPTED, CHILD, COMPLETE, LINKED, OPEN, PARENT, UNLINKED, Bag,
                        Dispatch, DispatchItem, ScanEvent, User)
from app.rules.bags import INTO_PARENT
from app.rules.codes import CodeError, normalise_code

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
KINDS = (PARENT, CHILD)
STATUSES = (OPEN, COMPLETE, LINKED, UNLINKED)
MAX_SUGGESTIONS = 8
RECEIVED_LATE = timedelta(minutes=1)  # a scan sent later than this shows when it arrived
EXPORT_COLUMNS = ("code", "kind", "status", "parent", "capacity", "child_count",
                  "created_at", "created_by", "linked_at")
CURSOR_SALT = "bag-list-cursor"
# The parent of a bag (or of an event), joined by id. Built once: an alias made per call
# costs milliseconds of Python on every request.
ParentBag = aliased(Bag, name="parent_bag")


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


def _invalid(field_name: str, message: str) -> DomainError:
    return DomainError("invalid_filter", message, 422, field=field_name)


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


def encode_cursor(created_at: datetime, bag_id: int) -> str:
    return cursors.encode(CURSOR_SALT, created_at, bag_id)


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    return cursors.decode(CURSOR_SALT, cursor)


# --- the list ----------------------------------------------------------------------------

def _list_select(filters: BagFilters):
    parent = ParentBag
    stmt = (
        select(Bag.id, Bag.code, Bag.kind, Bag.status, parent.code.label("parent"),
               Bag.capacity, Bag.child_count, Bag.created_at,
               User.username.label("created_by"), Bag.linked_at)
        .outerjoin(parent, parent.id == Bag.parent_id)
        .outerjoin(User, User.id == Bag.created_by_id)
        .where(in_stock(Bag))  # a transfer's parents in transit: in neither site's list
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
    """Everything known about one bag; a DomainError bag_not_found (with suggestions) otherwise."""
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
        hint = Text(" Did you mean %(codes)s?", codes=", ".join(suggestions)) if suggestions else ""
        raise DomainError("bag_not_found",
                       Text("There is no bag %(code)s.%(hint)s Check the label and scan it again.",
                            code=code, hint=hint),
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
    data["dispatch"] = dispatch_of_bag(bag)  # DESIGN 8.7: a child names its parent's
    return data


def _normalise_or_error(raw_code: object) -> str:
    try:
        return normalise_code(raw_code)
    except CodeError as exc:
        raise DomainError("invalid_code", Text("That code was not accepted. %(reason)s",
                                               reason=exc.args[0]), 422) from None


def timeline(bag: Bag) -> list[dict]:
    """In the order the scans were made (a scan queued offline stands where it was made, not
    where it arrived). A parent's own events and every scan, undo and correction of its
    children while they were in it; a child's own events. `received_at` is the arrival where
    it differs from the time made by more than a minute, else None."""
    condition = ScanEvent.bag_id == bag.id
    if bag.kind == PARENT:
        # ... and the events of each dispatch it was on that concern no one parent
        # (dispatched, reopened, cancelled: DESIGN 8.2).
        # Their ids first (a few): a literal list keeps each branch of the OR on an index.
        condition = or_(condition, ScanEvent.parent_id == bag.id)
        its_dispatches = list(db.session.scalars(
            select(DispatchItem.dispatch_id).where(DispatchItem.parent_id == bag.id)))
        if its_dispatches:
            condition = or_(condition, and_(ScanEvent.dispatch_id.in_(its_dispatches),
                                            ScanEvent.bag_id.is_(None)))
    made = func.coalesce(ScanEvent.made_at, ScanEvent.created_at)
    # The parent's code as the event kept it: a deleted parent is still named.
    rows = db.session.execute(
        select(ScanEvent, User.username, ScanEvent.parent_code, Dispatch.code)
        .outerjoin(User, User.id == ScanEvent.user_id)
        .outerjoin(Dispatch, Dispatch.id == ScanEvent.dispatch_id)
        .where(condition)
        .order_by(made, ScanEvent.id)
        # The bag is visible here: its whole history follows it from site to site (issue 21).
        .execution_options(all_sites=True)
    ).all()
    events = [{
        "at": event.made_at or event.created_at, "user": username, "action": event.action,
        "result": event.result, "outcome": event.outcome, "code": event.code,
        "parent": parent_code, "reason": event.reason, "station": event.station,
        "scanned_at": event.client_scanned_at, "received_at": _received(event),
        "bag_id": event.bag_id,
    } for event, username, parent_code, _dispatch in rows]
    for event, row in zip(events, rows, strict=True):
        if row[3] is not None:  # a dispatch's event names it (DESIGN 8.2)
            event["dispatch"] = row[3]
    return events


def _received(event: ScanEvent) -> datetime | None:
    if event.made_at is None or abs(event.created_at - event.made_at) <= RECEIVED_LATE:
        return None
    return event.created_at


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
