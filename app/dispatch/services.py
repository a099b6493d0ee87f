"""The dispatch service (DESIGN.md 8.2, 8.7): every change of a dispatch, from the loading
station, the JSON API and anything later, goes through these functions. The rule book
(app/rules/dispatch.py) decides; this module locks, writes and records a scan event for each
change. Like the scan service, each function takes plain values, runs inside the caller's
transaction (app/unit_of_work.run commits), never commits, and raises a Refusal.

Locks, always in this order: the dispatch's row, then the parent's row. The scan service's
reopen, undo and corrections lock the parent's row too, so a load and a reopen of the same
parent queue behind each other; the database's own invariants (migration 0013) back it up.

Reads for pages, exports and documents: read_dispatch() (the API's Dispatch with parents,
returned and events), parent_rows() (each parent with its child count), list_dispatches().
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import func, insert, or_, select, tuple_, literal
from sqlalchemy.orm import aliased

from app import cursors
from app.extensions import db
from app.models import Bag, Dispatch, DispatchItem, ScanEvent, User
from app.models.dispatch import (CANCELLED, DISPATCH_STATUSES, DISPATCHED, ITEM_CANCELLED,
                                 ITEM_LOADED, ITEM_RETURNED, LOADING)
from app.models.types import utcnow
from app.rules import dispatch as rules
from app.rules.bags import Refusal
from app.rules.codes import CodeError, normalise_code
from app.scanning import store
from app.scanning.services import SCAN_ID_PATTERN, clean_station

CURSOR_SALT = "dispatch-list-cursor"
PAGE_SIZE, MAX_PAGE_SIZE = 50, 200
# Event actions (DESIGN 8.2) by what the rule book answered.
ACTIONS = {rules.LOAD: "dispatch_load", rules.ALREADY_LOADED: "dispatch_load",
           rules.REPLAYED: "dispatch_load", rules.UNLOAD: "dispatch_unload",
           rules.DISPATCH: "dispatched", rules.REOPEN: "dispatch_reopened",
           rules.CANCEL: "dispatch_cancelled", rules.RETURN: "returned"}
RESULTS = {rules.LOAD: "loaded", rules.ALREADY_LOADED: "already_loaded",
           rules.REPLAYED: "replayed", rules.UNLOAD: "unloaded", rules.DISPATCH: "dispatched",
           rules.REOPEN: "reopened", rules.CANCEL: "cancelled", rules.RETURN: "returned"}


@dataclass
class DispatchChange:
    """What a change did: `result` as the API answers it, the dispatch after it, and the
    parent that moved (a load, an unload, a return)."""

    result: str
    dispatch: Dispatch
    parent: Bag | None = None


# --- reading and locking -----------------------------------------------------------------------

def _code_or_not_found(raw: object) -> str:
    try:
        return rules.dispatch_code(raw)
    except Refusal:
        raise rules.not_found(str(raw)[:40] if isinstance(raw, str) else "?") from None


def find_dispatch(raw_code: object) -> Dispatch:
    """The dispatch (404 dispatch_not_found when there is none)."""
    code = _code_or_not_found(raw_code)
    found = db.session.scalar(select(Dispatch).where(Dispatch.code == code))
    if found is None:
        raise rules.not_found(code)
    return found


def _lock_dispatch(raw_code: object) -> Dispatch:
    code = _code_or_not_found(raw_code)
    found = db.session.scalar(select(Dispatch).where(Dispatch.code == code).with_for_update()
                              .execution_options(populate_existing=True))
    if found is None:
        raise rules.not_found(code)
    return found


def _state(dispatch: Dispatch) -> rules.DispatchState:
    return rules.DispatchState(dispatch.code, dispatch.status, dispatch.expected_parents,
                               _live_count(dispatch.id))


def _live_count(dispatch_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(DispatchItem).where(
        DispatchItem.dispatch_id == dispatch_id, DispatchItem.state == ITEM_LOADED))


def _parent_code(raw: object) -> str:
    try:
        return normalise_code(raw)
    except CodeError as exc:
        raise Refusal("invalid_code", f"The parent code was not accepted. {exc}") from None


def _locked_parent(code: str) -> tuple[Bag | None, str | None]:
    """The bag scanned (a parent locked and read fresh under its lock) and, for a child,
    its parent's code."""
    bag, parent_code = store.bag_with_parent_code(code)
    if bag is not None and bag.kind == "parent":
        bag = store.lock_parent(code)
    return bag, parent_code


def _live_item(dispatch_id: int, parent_id: int) -> DispatchItem | None:
    return db.session.scalar(select(DispatchItem).where(
        DispatchItem.dispatch_id == dispatch_id, DispatchItem.parent_id == parent_id,
        DispatchItem.state == ITEM_LOADED))


def _record(user: User, decision: str, dispatch: Dispatch, *, parent: Bag | None = None,
            reason: str | None = None, scan_id: str | None = None,
            station: str | None = None) -> None:
    store.record(user, ACTIONS[decision], RESULTS[decision],
                 parent.code if parent is not None else dispatch.code,
                 bag_id=parent.id if parent is not None else None,
                 parent_id=parent.id if parent is not None else None,
                 parent_code=parent.code if parent is not None else None,
                 reason=reason, scan_id=scan_id, station=station, dispatch_id=dispatch.id)


def _refreshed(dispatch: Dispatch) -> Dispatch:
    db.session.flush()
    db.session.refresh(dispatch)  # parents_loaded is the triggers'
    return dispatch


# --- creating ------------------------------------------------------------------------------------

def create_dispatch(user: User, body: dict) -> DispatchChange:
    fields = rules.new_dispatch(store.actor(user), body)
    values = {"destination": fields.destination, "vehicle_number": fields.vehicle_number,
              "expected_parents": fields.expected_parents, "driver": fields.driver,
              "transporter": fields.transporter, "reference": fields.reference,
              "parents_loaded": 0, "status": LOADING, "created_at": utcnow(),
              "created_by_id": user.id}
    for _attempt in range(5):
        code = fields.code or _next_code()
        new_id = db.session.scalar(_insert_unless_taken({**values, "code": code})
                                   .returning(Dispatch.id))
        if new_id is not None:
            dispatch = db.session.get(Dispatch, new_id)
            return DispatchChange("created", dispatch)
        if fields.code:
            raise rules.dispatch_exists(code)
        # Another supervisor took the generated code a moment ago: make the next one.
    raise Refusal("database_busy", "Many dispatches were opened at once. Try again.")


def _insert_unless_taken(values: dict):
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = db.session.get_bind().dialect.name
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return make(Dispatch).values(**values).on_conflict_do_nothing(index_elements=["code"])


def _next_code() -> str:
    """D000123: one more than the highest generated code."""
    last = db.session.scalar(select(func.max(Dispatch.code)).where(
        Dispatch.code.like("D______"), Dispatch.code >= "D000000", Dispatch.code <= "D999999"))
    number = int(last[1:]) + 1 if last and last[1:].isdigit() else 1
    return f"D{number:06d}"


# --- loading and unloading -----------------------------------------------------------------------

def _scan_id(raw: object) -> str | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or not SCAN_ID_PATTERN.match(raw):
        raise Refusal("invalid_scan_id", "scan_id must be text of 1 to 64 letters, digits or "
                                         ". _ : - characters.", field="scan_id")
    return raw


def load_parent(user: User, raw_dispatch: object, raw_code: object, *,
                scan_id: object = None, station: object = None) -> DispatchChange:
    """A complete parent loaded onto a dispatch (idempotent by the user's scan_id)."""
    dispatch = _lock_dispatch(raw_dispatch)
    code = _parent_code(raw_code)
    scan_id = _scan_id(scan_id)
    station = clean_station(station)
    if scan_id is not None:
        previous = db.session.execute(
            select(ScanEvent.code, Dispatch.code)
            .outerjoin(Dispatch, Dispatch.id == ScanEvent.dispatch_id)
            .where(ScanEvent.user_id == user.id, ScanEvent.scan_id == scan_id)).first()
        if previous is not None:
            decision = rules.replay(previous[1], previous[0], dispatch.code, code)
            parent, _ = store.bag_with_parent_code(code)
            _record(user, decision, dispatch, parent=parent, station=station)
            return DispatchChange(RESULTS[decision], dispatch, parent)
    parent, parent_code = _locked_parent(code)
    on = store.live_dispatch_code(parent.id) if parent is not None else None
    decision = rules.load(_state(dispatch), code, store.state_of(parent, parent_code), on)
    if decision == rules.LOAD:
        db.session.execute(insert(DispatchItem).values(
            dispatch_id=dispatch.id, parent_id=parent.id, state=ITEM_LOADED,
            loaded_at=utcnow(), loaded_by_id=user.id))
    _record(user, decision, dispatch, parent=parent, scan_id=scan_id, station=station)
    return DispatchChange(RESULTS[decision], _refreshed(dispatch), parent)


def unload_parent(user: User, raw_dispatch: object, raw_code: object, *,
                  station: object = None) -> DispatchChange:
    dispatch = _lock_dispatch(raw_dispatch)
    code = _parent_code(raw_code)
    parent, parent_code = _locked_parent(code)
    on = store.live_dispatch_code(parent.id) if parent is not None else None
    decision = rules.unload(_state(dispatch), code, store.state_of(parent, parent_code), on)
    item = _live_item(dispatch.id, parent.id)
    db.session.delete(item)
    _record(user, decision, dispatch, parent=parent, station=clean_station(station))
    return DispatchChange(RESULTS[decision], _refreshed(dispatch), parent)


# --- the dispatch as a whole ---------------------------------------------------------------------

def dispatch_out(user: User, raw_dispatch: object, raw_reason: object = None) -> DispatchChange:
    """Close the bill: the truck leaves with what is on it (a reason when it is short)."""
    dispatch = _lock_dispatch(raw_dispatch)
    decision, reason = rules.dispatch(store.actor(user), _state(dispatch), raw_reason)
    dispatch.status, dispatch.short_reason = DISPATCHED, reason
    dispatch.dispatched_at, dispatch.dispatched_by_id = utcnow(), user.id
    _record(user, decision, dispatch, reason=reason)
    return DispatchChange(RESULTS[decision], _refreshed(dispatch))


def reopen_dispatch(user: User, raw_dispatch: object, raw_reason: object) -> DispatchChange:
    """Back to loading: its parents stay on it."""
    dispatch = _lock_dispatch(raw_dispatch)
    decision, reason = rules.reopen(store.actor(user), _state(dispatch), raw_reason)
    dispatch.status, dispatch.short_reason = LOADING, None
    dispatch.dispatched_at, dispatch.dispatched_by_id = None, None
    _record(user, decision, dispatch, reason=reason)
    return DispatchChange(RESULTS[decision], _refreshed(dispatch))


def cancel_dispatch(user: User, raw_dispatch: object, raw_reason: object) -> DispatchChange:
    """The truck does not leave: its parents are free again (the items stay, as cancelled)."""
    dispatch = _lock_dispatch(raw_dispatch)
    decision, reason = rules.cancel(store.actor(user), _state(dispatch), raw_reason)
    items = db.session.scalars(select(DispatchItem).where(
        DispatchItem.dispatch_id == dispatch.id, DispatchItem.state == ITEM_LOADED)
        .with_for_update()).all()
    for item in items:
        item.state = ITEM_CANCELLED
    dispatch.status = CANCELLED
    _record(user, decision, dispatch, reason=reason)
    return DispatchChange(RESULTS[decision], _refreshed(dispatch))


def return_parent(user: User, raw_dispatch: object, raw_code: object,
                  raw_reason: object) -> DispatchChange:
    """A parent that came back after dispatch: it leaves the dispatch's parents and totals,
    is listed in `returned`, stays complete and may be loaded onto another dispatch."""
    dispatch = _lock_dispatch(raw_dispatch)
    code = _parent_code(raw_code)
    parent, parent_code = _locked_parent(code)
    on = store.live_dispatch_code(parent.id) if parent is not None else None
    decision, reason = rules.return_parent(store.actor(user), _state(dispatch), code,
                                           store.state_of(parent, parent_code), on, raw_reason)
    item = _live_item(dispatch.id, parent.id)
    item.state, item.returned_at = ITEM_RETURNED, utcnow()
    item.returned_by_id, item.return_reason = user.id, reason
    _record(user, decision, dispatch, parent=parent, reason=reason)
    return DispatchChange(RESULTS[decision], _refreshed(dispatch), parent)


# --- reading: one dispatch -----------------------------------------------------------------------

def _weights() -> tuple[float, int]:
    return current_app.config["CHILD_BAG_WEIGHT_KG"], current_app.config["DEFAULT_PARENT_CAPACITY"]


def _kg(value: float) -> float | int:
    value = round(value, 3)
    return int(value) if value == int(value) else value


def _on_it(dispatch: Dispatch):
    """The items that are its parents: live ones, or on a cancelled dispatch those it had."""
    return ITEM_CANCELLED if dispatch.status == CANCELLED else ITEM_LOADED


def _children_totals(dispatch_ids: list[int]) -> dict[int, int]:
    if not dispatch_ids:
        return {}
    rows = db.session.execute(
        select(DispatchItem.dispatch_id, func.coalesce(func.sum(Bag.child_count), 0))
        .join(Bag, Bag.id == DispatchItem.parent_id)
        .where(DispatchItem.dispatch_id.in_(dispatch_ids), DispatchItem.state != ITEM_RETURNED)
        .group_by(DispatchItem.dispatch_id)).all()
    return {dispatch_id: int(total) for dispatch_id, total in rows}


def dispatch_dict(dispatch: Dispatch, *, children: int | None = None,
                  names: dict[int, str] | None = None) -> dict:
    """Dispatch (DESIGN 8.2), times as datetimes (the API's jsonable makes them ISO 8601)."""
    if children is None:
        children = _children_totals([dispatch.id]).get(dispatch.id, 0)
    if names is None:
        names = _usernames([dispatch.created_by_id, dispatch.dispatched_by_id])
    per_child, capacity = _weights()
    return {
        "code": dispatch.code, "status": dispatch.status,
        "destination": dispatch.destination, "vehicle_number": dispatch.vehicle_number,
        "driver": dispatch.driver, "transporter": dispatch.transporter,
        "reference": dispatch.reference, "expected_parents": dispatch.expected_parents,
        "parents_loaded": dispatch.parents_loaded, "children": children,
        "weight_kg": _kg(children * per_child),
        "expected_weight_kg": _kg(dispatch.expected_parents * capacity * per_child),
        "short_reason": dispatch.short_reason,
        "created_at": dispatch.created_at, "created_by": names.get(dispatch.created_by_id),
        "dispatched_at": dispatch.dispatched_at,
        "dispatched_by": names.get(dispatch.dispatched_by_id),
    }


def _usernames(ids) -> dict[int, str]:
    wanted = {user_id for user_id in ids if user_id is not None}
    if not wanted:
        return {}
    return dict(db.session.execute(select(User.id, User.username)
                                   .where(User.id.in_(wanted))).all())


def parent_rows(dispatch: Dispatch, state: str | None = None) -> list[dict]:
    """Its parents in loading order, each with its child count, who loaded it and when (the
    manifest's lines); `state` ITEM_RETURNED gives the returned ones, with the reason."""
    state = state or _on_it(dispatch)
    Loader = aliased(User, name="loader")
    rows = db.session.execute(
        select(Bag.code, Bag.child_count, DispatchItem.loaded_at, Loader.username,
               DispatchItem.returned_at, DispatchItem.return_reason)
        .join(Bag, Bag.id == DispatchItem.parent_id)
        .outerjoin(Loader, Loader.id == DispatchItem.loaded_by_id)
        .where(DispatchItem.dispatch_id == dispatch.id, DispatchItem.state == state)
        .order_by(DispatchItem.id)).all()
    return [{"code": code, "child_count": count, "loaded_at": loaded_at, "loaded_by": loader,
             "returned_at": returned_at, "return_reason": reason}
            for code, count, loaded_at, loader, returned_at, reason in rows]


def events(dispatch: Dispatch) -> list[dict]:
    """The dispatch's timeline, oldest first: every load, unload, dispatch, reopen, cancel
    and return, with who and why."""
    rows = db.session.execute(
        select(ScanEvent, User.username).outerjoin(User, User.id == ScanEvent.user_id)
        .where(ScanEvent.dispatch_id == dispatch.id).order_by(ScanEvent.id)).all()
    return [{"at": event.made_at or event.created_at, "user": username,
             "action": event.action, "result": event.result, "outcome": event.outcome,
             "code": event.code, "reason": event.reason, "station": event.station}
            for event, username in rows]


def read_dispatch(raw_code: object) -> dict:
    """GET /api/v1/dispatches/<code> (DESIGN 8.7): the Dispatch with `parents` (codes, in
    loading order), `returned` (codes) and `events`. 404 dispatch_not_found."""
    dispatch = find_dispatch(raw_code)
    data = dispatch_dict(dispatch)
    data["parents"] = [row["code"] for row in parent_rows(dispatch)]
    data["returned"] = [row["code"] for row in parent_rows(dispatch, ITEM_RETURNED)]
    data["events"] = events(dispatch)
    return data


def change_dict(change: DispatchChange) -> dict:
    """A change's answer (DESIGN 8.7): result, dispatch, and the parent when one moved."""
    from app.scanning.services import parent_dict

    payload = {"result": change.result, "dispatch": dispatch_dict(change.dispatch)}
    if change.parent is not None and change.parent.kind == "parent":
        payload["parent"] = parent_dict(change.parent)
    return payload


def dispatch_of_bag(bag: Bag) -> dict | None:
    """The dispatch a parent is on now, or its parent's for a child: {"code", "status"}."""
    parent_id = bag.id if bag.kind == "parent" else bag.parent_id
    if parent_id is None:
        return None
    row = db.session.execute(
        select(Dispatch.code, Dispatch.status)
        .join(DispatchItem, DispatchItem.dispatch_id == Dispatch.id)
        .where(DispatchItem.parent_id == parent_id, DispatchItem.state == ITEM_LOADED)).first()
    return {"code": row[0], "status": row[1]} if row else None


# --- reading: the list ---------------------------------------------------------------------------

@dataclass
class DispatchFilters:
    status: str | None = None
    q: str | None = None
    limit: int = PAGE_SIZE
    cursor: tuple[datetime, int] | None = None
    args: dict | None = None


def _invalid_filter(field: str, message: str) -> Refusal:
    return Refusal("invalid_filter", message, field=field)


def parse_filters(args) -> DispatchFilters:
    filters, kept = DispatchFilters(), {}
    status = (args.get("status") or "").strip().lower()
    if status:
        if status not in DISPATCH_STATUSES:
            raise _invalid_filter("status", "status must be loading, dispatched or cancelled; "
                                            "leave it empty for all.")
        filters.status = kept["status"] = status
    q = (args.get("q") or "").strip()
    if q:
        if len(q) > 64 or not q.isprintable():
            raise _invalid_filter("q", "Search with at most 64 plain characters.")
        filters.q = kept["q"] = q
    limit = (args.get("limit") or "").strip()
    if limit:
        if not limit.isdigit() or not 1 <= int(limit) <= MAX_PAGE_SIZE:
            raise _invalid_filter("limit", f"limit must be a whole number from 1 to "
                                           f"{MAX_PAGE_SIZE}.")
        filters.limit = int(limit)
        kept["limit"] = limit
    cursor = (args.get("cursor") or "").strip()
    if cursor:
        filters.cursor = cursors.decode(CURSOR_SALT, cursor)
    filters.args = kept
    return filters


def _matching(stmt, filters: DispatchFilters):
    if filters.q:
        upper = " ".join(filters.q.upper().split())
        words = f"%{filters.q.lower()}%"
        stmt = stmt.where(or_(Dispatch.code.startswith(upper, autoescape=True),
                              Dispatch.vehicle_number.startswith(upper, autoescape=True),
                              Dispatch.reference == filters.q,
                              func.lower(Dispatch.destination).like(words)))
    return stmt


@dataclass
class DispatchPage:
    items: list[dict]
    next_cursor: str | None
    counts: dict[str, int]


def list_dispatches(filters: DispatchFilters) -> DispatchPage:
    """Newest first, keyset-paged on (created_at, id); counts per status under the search."""
    stmt = _matching(select(Dispatch), filters)
    if filters.status:
        stmt = stmt.where(Dispatch.status == filters.status)
    if filters.cursor is not None:
        at, row_id = filters.cursor
        stmt = stmt.where(tuple_(Dispatch.created_at, Dispatch.id) < tuple_(
            literal(at, Dispatch.created_at.type), literal(row_id, Dispatch.id.type)))
    found = list(db.session.scalars(
        stmt.order_by(Dispatch.created_at.desc(), Dispatch.id.desc()).limit(filters.limit + 1)))
    more = len(found) > filters.limit
    found = found[: filters.limit]
    totals = _children_totals([row.id for row in found])
    names = _usernames([uid for row in found for uid in (row.created_by_id,
                                                           row.dispatched_by_id)])
    items = [dispatch_dict(row, children=totals.get(row.id, 0), names=names) for row in found]
    next_cursor = (cursors.encode(CURSOR_SALT, found[-1].created_at, found[-1].id)
                   if more else None)
    counted = dict(db.session.execute(
        _matching(select(Dispatch.status, func.count()), filters).group_by(Dispatch.status)).all())
    counts = {status: counted.get(status, 0) for status in DISPATCH_STATUSES}
    return DispatchPage(items, next_cursor, counts)
