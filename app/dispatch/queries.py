"""Reading dispatches (DESIGN.md 8.2, 8.7): one dispatch as the API answers it, its parents
with their child counts (the manifest's lines), its timeline, the list with its filters and
counts, and the dispatch of a bag. Reads only: every change is app/dispatch/services.py's.

The list is keyset-paginated on (created_at, id), newest first, with one signed cursor
(app/cursors.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import func, literal, or_, select, tuple_
from sqlalchemy.orm import aliased

from app import cursors
from app.domain import Text
from app.extensions import db
from app.models import Bag, Dispatch, DispatchItem, ScanEvent, User
from app.models.dispatch import (CANCELLED, DISPATCH_STATUSES, DISPATCHED, ITEM_CANCELLED,
                                 ITEM_LOADED, ITEM_RECEIVED, ITEM_RETURNED)
from app.models.site import Site
from app.rules import dispatch as rules
from app.rules.bags import Refusal

CURSOR_SALT = "dispatch-list-cursor"
PAGE_SIZE, MAX_PAGE_SIZE = 50, 200


# --- one dispatch ------------------------------------------------------------------------------

def code_or_not_found(raw: object) -> str:
    try:
        return rules.dispatch_code(raw)
    except Refusal:
        raise rules.not_found(str(raw)[:40] if isinstance(raw, str) else "?") from None


def find_dispatch(raw_code: object) -> Dispatch:
    """The dispatch (404 dispatch_not_found when there is none)."""
    code = code_or_not_found(raw_code)
    found = db.session.scalar(select(Dispatch).where(Dispatch.code == code))
    if found is None:
        raise rules.not_found(code)
    return found



def _weights() -> tuple[float, int]:
    return current_app.config["CHILD_BAG_WEIGHT_KG"], current_app.config["DEFAULT_PARENT_CAPACITY"]


def _kg(value: float) -> float | int:
    value = round(value, 3)
    return int(value) if value == int(value) else value


def _on_it(dispatch: Dispatch) -> tuple[str, ...]:
    """The items that are its parents: live ones (and a transfer's received ones), or on a
    cancelled dispatch those it had."""
    return (ITEM_CANCELLED,) if dispatch.status == CANCELLED else (ITEM_LOADED, ITEM_RECEIVED)


def _children_totals(dispatch_ids: list[int]) -> dict[int, int]:
    if not dispatch_ids:
        return {}
    rows = db.session.execute(
        select(DispatchItem.dispatch_id, func.coalesce(func.sum(Bag.child_count), 0))
        .join(Bag, Bag.id == DispatchItem.parent_id)
        .where(DispatchItem.dispatch_id.in_(dispatch_ids), DispatchItem.state != ITEM_RETURNED)
        .group_by(DispatchItem.dispatch_id)
        # A visible dispatch's contents, wherever its parents are now (a transfer's, issue 21).
        .execution_options(all_sites=True)).all()
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
        # Sites (issue 21): a transfer names its destination site; received when all are.
        "site": _site_code(dispatch.site_id),
        "destination_site": _site_code(dispatch.destination_site_id),
        "received_at": dispatch.received_at,
    }


def _site_code(site_id: int | None) -> str | None:
    if site_id is None:
        return None
    site = db.session.get(Site, site_id)  # the identity map: one read per site and request
    return site.code if site is not None else None


def _usernames(ids) -> dict[int, str]:
    wanted = {user_id for user_id in ids if user_id is not None}
    if not wanted:
        return {}
    return dict(db.session.execute(select(User.id, User.username)
                                   .where(User.id.in_(wanted))).all())


def parent_rows(dispatch: Dispatch, state: str | None = None) -> list[dict]:
    """Its parents in loading order, each with its child count, who loaded it and when (the
    manifest's lines); `state` ITEM_RETURNED gives the returned ones, with the reason."""
    states = (state,) if state else _on_it(dispatch)
    Loader = aliased(User, name="loader")
    rows = db.session.execute(
        select(Bag.code, Bag.child_count, DispatchItem.loaded_at, Loader.username,
               DispatchItem.returned_at, DispatchItem.return_reason)
        .join(Bag, Bag.id == DispatchItem.parent_id)
        .outerjoin(Loader, Loader.id == DispatchItem.loaded_by_id)
        .where(DispatchItem.dispatch_id == dispatch.id, DispatchItem.state.in_(states))
        .order_by(DispatchItem.id).execution_options(all_sites=True)).all()
    return [{"code": code, "child_count": count, "loaded_at": loaded_at, "loaded_by": loader,
             "returned_at": returned_at, "return_reason": reason}
            for code, count, loaded_at, loader, returned_at, reason in rows]


def events(dispatch: Dispatch) -> list[dict]:
    """The dispatch's timeline, oldest first: every load, unload, dispatch, reopen, cancel
    and return, with who and why."""
    rows = db.session.execute(
        select(ScanEvent, User.username).outerjoin(User, User.id == ScanEvent.user_id)
        .where(ScanEvent.dispatch_id == dispatch.id).order_by(ScanEvent.id)
        .execution_options(all_sites=True)).all()  # both ends of a transfer (issue 21)
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
    if dispatch.destination_site_id is not None:  # a transfer: what arrived, what is missing
        data["received"] = [row["code"] for row in parent_rows(dispatch, ITEM_RECEIVED)]
        data["missing"] = ([row["code"] for row in parent_rows(dispatch, ITEM_LOADED)]
                           if dispatch.status == DISPATCHED else [])
    data["events"] = events(dispatch)
    return data

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


# --- the list ---------------------------------------------------------------------------

@dataclass
class DispatchFilters:
    status: str | None = None
    q: str | None = None
    limit: int = PAGE_SIZE
    cursor: tuple[datetime, int] | None = None
    args: dict | None = None


def _invalid_filter(field: str, message: Text) -> Refusal:
    return Refusal("invalid_filter", message, field=field)


def parse_filters(args) -> DispatchFilters:
    filters, kept = DispatchFilters(), {}
    status = (args.get("status") or "").strip().lower()
    if status:
        if status not in DISPATCH_STATUSES:
            raise _invalid_filter("status", Text("status must be loading, dispatched, cancelled "
                                                 "or received; leave it empty for all."))
        filters.status = kept["status"] = status
    q = (args.get("q") or "").strip()
    if q:
        if len(q) > 64 or not q.isprintable():
            raise _invalid_filter("q", Text("Search with at most 64 plain characters."))
        filters.q = kept["q"] = q
    limit = (args.get("limit") or "").strip()
    if limit:
        if not limit.isdigit() or not 1 <= int(limit) <= MAX_PAGE_SIZE:
            raise _invalid_filter("limit", Text("limit must be a whole number from 1 to "
                                                "%(most)s.", most=MAX_PAGE_SIZE))
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
