"""The dispatch service (DESIGN.md 8.2, 8.7): every change of a dispatch, from the loading
station, the JSON API and anything later, goes through these functions. The rule book
(app/rules/dispatch.py) decides; this module locks, writes and records a scan event for each
change. Like the scan service, each function takes plain values, runs inside the caller's
transaction (app/unit_of_work.run commits), never commits, and raises a Refusal.

Locks, always in this order: the dispatch's row, then the parent's row. The scan service's
reopen, undo and corrections lock the parent's row too, so a load and a reopen of the same
parent queue behind each other; the database's own invariants (migration 0013) back it up.

Reads (one dispatch, its parents, the list, a bag's dispatch) are app/dispatch/queries.py's.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, insert, or_, select, update

from app.dispatch import queries
from app.domain import DomainError, Text
from app.extensions import db
from app.models import REJECTED, Bag, Dispatch, DispatchItem, ScanEvent, Site, User
from app.models.dispatch import (CANCELLED, DISPATCHED, ITEM_CANCELLED, ITEM_LOADED,
                                 ITEM_RECEIVED, ITEM_RETURNED, LOADING, RECEIVED)
from app.models.site import default_site_id
from app.models.types import utcnow
from app.rules import dispatch as rules
from app.rules.bags import Refusal, at_site
from app.rules.codes import CodeError, normalise_code, printable
from app.scanning import store
from app.scanning.services import SCAN_ID_PATTERN, clean_station
from app.site_scope import current_site_id

# Event actions (DESIGN 8.2) by what the rule book answered.
ACTIONS = {rules.LOAD: "dispatch_load", rules.ALREADY_LOADED: "dispatch_load",
           rules.REPLAYED: "dispatch_load", rules.UNLOAD: "dispatch_unload",
           rules.DISPATCH: "dispatched", rules.REOPEN: "dispatch_reopened",
           rules.CANCEL: "dispatch_cancelled", rules.RETURN: "returned",
           rules.RECEIVE: "received", rules.ALREADY_RECEIVED: "received"}
RESULTS = {rules.LOAD: "loaded", rules.ALREADY_LOADED: "already_loaded",
           rules.REPLAYED: "replayed", rules.UNLOAD: "unloaded", rules.DISPATCH: "dispatched",
           rules.REOPEN: "reopened", rules.CANCEL: "cancelled", rules.RETURN: "returned",
           rules.RECEIVE: "received", rules.ALREADY_RECEIVED: "already_received"}


@dataclass
class DispatchChange:
    """What a change did: `result` as the API answers it, the dispatch after it, and the
    parent that moved (a load, an unload, a return)."""

    result: str
    dispatch: Dispatch
    parent: Bag | None = None


# --- reading and locking -----------------------------------------------------------------------

def _lock_dispatch(raw_code: object, *, receiving: bool = False) -> Dispatch:
    """The dispatch, locked; seen at its site (and a transfer at its destination, where it
    is only received: not_at_origin for anything else)."""
    code = queries.code_or_not_found(raw_code)
    found = db.session.scalar(select(Dispatch).where(Dispatch.code == code).with_for_update()
                              .execution_options(populate_existing=True))
    if found is None:
        raise rules.not_found(code)
    if not receiving:
        rules.at_origin(_state(found))
    return found


def _state(dispatch: Dispatch) -> rules.DispatchState:
    here = current_site_id()
    return rules.DispatchState(dispatch.code, dispatch.status, dispatch.expected_parents,
                               _live_count(dispatch.id),
                               transfer=dispatch.destination_site_id is not None,
                               at_origin=here in (None, dispatch.site_id),
                               at_destination=here is not None
                               and here == dispatch.destination_site_id,
                               received=_live_count(dispatch.id, ITEM_RECEIVED)
                               if dispatch.destination_site_id is not None else 0)


def _live_count(dispatch_id: int, state: str = ITEM_LOADED) -> int:
    return db.session.scalar(select(func.count()).select_from(DispatchItem).where(
        DispatchItem.dispatch_id == dispatch_id, DispatchItem.state == state))


def _received_if_arrived(dispatch: Dispatch, now) -> None:
    """A transfer with none of its parents on the way any more is received."""
    db.session.flush()
    if rules.arrived(_state(dispatch)):
        dispatch.status, dispatch.received_at = RECEIVED, now


def _parent_code(raw: object) -> str:
    try:
        return normalise_code(raw)
    except CodeError as exc:
        raise Refusal("invalid_code", Text("The parent code was not accepted. %(reason)s",
                                           reason=exc.args[0])) from None


def _locked_parent(code: str) -> tuple[Bag | None, str | None]:
    """The bag scanned (a parent locked and read fresh under its lock) and, for a child,
    its parent's code."""
    bag, parent_code = store.bag_with_parent_code(code, any_site=True)
    at_site(code, store.state_of(bag), current_site_id())  # bag_at_other_site (issue 21)
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
    destination_site = None
    if fields.destination_site is not None:
        destination_site = db.session.scalar(select(Site).where(
            Site.code == fields.destination_site))
        here = current_site_id() or default_site_id()
        rules.transfer_site(fields.destination_site, destination_site is not None,
                            destination_site is not None and destination_site.id == here)
    values = {"destination": fields.destination, "vehicle_number": fields.vehicle_number,
              "expected_parents": fields.expected_parents, "driver": fields.driver,
              "transporter": fields.transporter, "reference": fields.reference,
              "parents_loaded": 0, "status": LOADING, "created_at": utcnow(),
              "created_by_id": user.id,
              "destination_site_id": destination_site.id if destination_site else None}
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
    raise Refusal("database_busy", Text("Many dispatches were opened at once. Try again."))


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
        raise Refusal("invalid_scan_id", Text("scan_id must be text of 1 to 64 letters, "
                                              "digits or . _ : - characters."), field="scan_id")
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


def record_refused_load(user: User, raw_dispatch: object, raw_code: object,
                        error: DomainError, *, station: object = None) -> None:
    """Keep a refused load in the history, as the station keeps a refused scan (the
    dashboard's exceptions and each person's errors count it), in the transaction after the
    refused one was rolled back: the caller commits."""
    try:
        dispatch = queries.find_dispatch(raw_dispatch)
    except Refusal:
        dispatch = None
    store.record(user, ACTIONS[rules.LOAD], error.code, printable(raw_code or ""),
                 outcome=REJECTED, reason=error.message, station=clean_station(station),
                 dispatch_id=dispatch.id if dispatch is not None else None)


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
    _received_if_arrived(dispatch, item.returned_at)
    _record(user, decision, dispatch, parent=parent, reason=reason)
    return DispatchChange(RESULTS[decision], _refreshed(dispatch), parent)


# --- transfers (issue 21) --------------------------------------------------------------------------

def receive_parent(user: User, raw_dispatch: object, raw_code: object, *,
                   station: object = None) -> DispatchChange:
    """A transfer's parent scanned as it comes off the truck at its destination: the parent
    and its children move to this site (an event in both sites' timelines: the dispatch's
    and the parent's); the transfer is received when the last of its parents is."""
    dispatch = _lock_dispatch(raw_dispatch, receiving=True)
    code = _parent_code(raw_code)
    parent, parent_code = store.bag_with_parent_code(code, any_site=True)
    if parent is not None and parent.kind == "parent":
        parent = store.lock_parent(code, any_site=True)  # still at the site it left
    item = None
    if parent is not None:
        item = db.session.scalar(select(DispatchItem).where(
            DispatchItem.dispatch_id == dispatch.id, DispatchItem.parent_id == parent.id,
            DispatchItem.state.in_((ITEM_LOADED, ITEM_RECEIVED))).with_for_update())
    decision = rules.receive(store.actor(user), _state(dispatch), code,
                             store.state_of(parent, parent_code),
                             item.state if item is not None else None)
    station = clean_station(station)
    if decision == rules.RECEIVE:
        now = utcnow()
        item.state, item.received_at, item.received_by_id = ITEM_RECEIVED, now, user.id
        db.session.execute(
            update(Bag).where(or_(Bag.id == parent.id, Bag.parent_id == parent.id))
            .values(site_id=dispatch.destination_site_id)
            .execution_options(synchronize_session=False, all_sites=True))
        parent.site_id = dispatch.destination_site_id
        _received_if_arrived(dispatch, now)
    store.record(user, ACTIONS[decision], RESULTS[decision], parent.code, bag_id=parent.id,
                 parent_id=parent.id, parent_code=parent.code, station=station,
                 dispatch_id=dispatch.id, site_id=dispatch.destination_site_id)
    return DispatchChange(RESULTS[decision], _refreshed(dispatch), parent)


def change_dict(change: DispatchChange) -> dict:
    """A change's answer (DESIGN 8.7): result, dispatch, and the parent when one moved."""
    from app.scanning.services import parent_dict

    payload = {"result": change.result, "dispatch": queries.dispatch_dict(change.dispatch)}
    if change.parent is not None and change.parent.kind == "parent":
        payload["parent"] = parent_dict(change.parent)
    return payload


