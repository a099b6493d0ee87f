"""The dashboard's dispatch card (issue 20, item 6): dispatches loading now and dispatched
today, parents and bags out today, and dispatches still loading after STALE_DISPATCH_HOURS.
Read on the dashboard's own snapshot connection, so that these figures and the others of
one answer agree."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Connection, func, select, true

from app.models import Bag, Dispatch, DispatchItem
from app.models.dispatch import DISPATCHED, ITEM_LOADED, LOADING

STALE_LIMIT = 20


def dispatch_figures(conn: Connection, day_start: datetime, day_end: datetime, now: datetime,
                     iso, here=None) -> dict:
    """`iso` writes a time as the rest of the dashboard answer does; `here(model)` limits a
    statement to the dispatches leaving the current site (issue 21; a transfer coming in is
    its origin's figure, app/dashboard/services.py)."""
    site = here(Dispatch) if here is not None else true()
    stale_hours = current_app.config["STALE_DISPATCH_HOURS"]
    out_today = (Dispatch.status == DISPATCHED) & (Dispatch.dispatched_at >= day_start) & (
        Dispatch.dispatched_at < day_end)
    loading = conn.scalar(select(func.count()).select_from(Dispatch)
                          .where(site, Dispatch.status == LOADING))
    dispatched, parents = conn.execute(
        select(func.count(), func.coalesce(func.sum(Dispatch.parents_loaded), 0))
        .where(site, out_today)).one()
    bags = conn.scalar(
        select(func.coalesce(func.sum(Bag.child_count), 0))
        .select_from(DispatchItem)
        .join(Dispatch, Dispatch.id == DispatchItem.dispatch_id)
        .join(Bag, Bag.id == DispatchItem.parent_id)
        .where(site, out_today, DispatchItem.state == ITEM_LOADED))
    stale = conn.execute(
        select(Dispatch.code, Dispatch.destination, Dispatch.vehicle_number,
               Dispatch.parents_loaded, Dispatch.expected_parents, Dispatch.created_at)
        .where(site, Dispatch.status == LOADING,
               Dispatch.created_at < now - timedelta(hours=stale_hours))
        .order_by(Dispatch.created_at, Dispatch.id).limit(STALE_LIMIT)).all()
    return {
        "loading": int(loading), "dispatched_today": int(dispatched),
        "parents_out_today": int(parents), "bags_out_today": int(bags),
        "stale_hours": stale_hours,
        "stale": [{"code": row.code, "destination": row.destination,
                   "vehicle_number": row.vehicle_number, "parents_loaded": row.parents_loaded,
                   "expected_parents": row.expected_parents, "created_at": iso(row.created_at)}
                  for row in stale],
    }
