"""Dispatches over JSON (DESIGN.md 8.2, 8.7): thin handlers over the dispatch service, each
change committed once through the unit of work; refusals go to the one error handler.
app/api/schemas/dispatches.py declares the bodies and answers."""

from flask import request
from flask_login import current_user, login_required

from app.api import bp
from app.api import schemas as s
from app.api.contract import body, operation
from app.api.helpers import json_response
from app.auth.decorators import role_required
from app.dispatch import queries, services
from app.extensions import db
from app.lookup.queries import jsonable
from app.ratelimits import scan_limit
from app.unit_of_work import run

RESULT_STATUS = {"created": 201, "loaded": 201}
DISPATCH_EXAMPLE = {
    "code": "D000123", "status": "loading", "destination": "Nagpur depot",
    "vehicle_number": "MH 12 AB 1234", "driver": "Ravi", "transporter": "VRL",
    "reference": "INV-99", "expected_parents": 2, "parents_loaded": 1, "children": 30,
    "weight_kg": 30, "expected_weight_kg": 60, "short_reason": None,
    "created_at": "2026-12-05T05:00:00+00:00", "created_by": "sam", "dispatched_at": None,
    "dispatched_by": None}
PARENT_EXAMPLE = {"code": "SB00001", "kind": "parent", "status": "complete", "capacity": 30,
                  "child_count": 30}
DISPATCHED_EXAMPLE = {**DISPATCH_EXAMPLE, "status": "dispatched",
                      "dispatched_at": "2026-12-05T09:30:00+00:00", "dispatched_by": "sam"}
# Refusals of every endpoint with a dispatch code in its path.
FOUND = ("dispatch_not_found",)
BY_SUPERVISOR = ("forbidden", *FOUND, "reason_required")


def _answer(change: services.DispatchChange):
    return json_response(jsonable(services.change_dict(change)),
                         RESULT_STATUS.get(change.result, 200))


@bp.post("/dispatches")
@role_required("supervisor")
@operation(role="supervisor", body=s.NewDispatch, answers={201: s.DispatchChange},
           results=("created",), errors=("forbidden", "invalid_input", "dispatch_exists"),
           tags=("dispatches",),
           examples={"request": {"destination": "Nagpur depot", "vehicle_number": "MH12AB1234",
                                 "expected_parents": 2, "driver": "Ravi"},
                     201: {"result": "created",
                           "dispatch": {**DISPATCH_EXAMPLE, "parents_loaded": 0,
                                        "children": 0, "weight_kg": 0}}})
def create_dispatch():
    """Open a dispatch (a truck's bill), with the code on the bill or a generated one."""
    return _answer(run(services.create_dispatch, current_user, body().model_dump()))


@bp.get("/dispatches")
@login_required
@operation(role="staff", query=s.DispatchQuery, answers={200: s.DispatchPage},
           errors=("invalid_filter", "invalid_cursor"), tags=("dispatches",),
           examples={200: {"items": [DISPATCH_EXAMPLE], "next_cursor": None,
                           "counts": {"loading": 1, "dispatched": 0, "cancelled": 0}}})
def list_dispatches():
    """Dispatches, newest first, filtered; keyset paged by next_cursor, with counts."""
    page = queries.list_dispatches(queries.parse_filters(request.args))
    return json_response(jsonable({"items": page.items, "next_cursor": page.next_cursor,
                                   "counts": page.counts}))


@bp.get("/dispatches/<path:code>")
@login_required
@operation(role="staff", answers={200: s.DispatchDetail}, errors=FOUND, tags=("dispatches",),
           examples={200: {**DISPATCH_EXAMPLE, "parents": ["SB00001"], "returned": [],
                           "events": [{"at": "2026-12-05T05:10:00+00:00", "user": "stella",
                                       "action": "dispatch_load", "result": "loaded",
                                       "outcome": "accepted", "code": "SB00001",
                                       "reason": None, "station": "dock 2"}]}})
def show_dispatch(code):
    """A dispatch with its parents (loading order), returned parents and timeline."""
    return json_response(jsonable(queries.read_dispatch(code)))


@bp.post("/dispatches/<path:code>/parents")
@login_required
@scan_limit
@operation(role="staff", body=s.LoadParent, answers={201: s.DispatchChange,
                                                      200: s.DispatchChange},
           results=("loaded", "already_loaded", "replayed"),
           errors=(*FOUND, "invalid_code", "invalid_scan_id", "invalid_station",
                   "parent_not_found", "code_is_child", "parent_on_other_dispatch",
                   "parent_not_complete", "dispatch_full", "dispatch_not_loading",
                   "scan_id_reused"), tags=("dispatches",),
           examples={"request": {"code": "SB00001", "scan_id": "dock2-000042"},
                     201: {"result": "loaded", "dispatch": DISPATCH_EXAMPLE,
                           "parent": PARENT_EXAMPLE}})
def load_dispatch_parent(code):
    """Load a complete parent. Idempotent with scan_id (a resend answers replayed); a
    refused load is kept in the history as a rejected event."""
    sent = body()
    return _answer(run(services.load_parent, current_user, code, sent.code,
                       scan_id=sent.scan_id, station=sent.station,
                       on_refusal=lambda error: _keep_refused_load(code, sent, error)))


def _keep_refused_load(code, sent: s.LoadParent, error) -> None:
    services.record_refused_load(current_user, code, sent.code, error, station=sent.station)
    db.session.commit()


@bp.post("/dispatches/<path:code>/unload")
@login_required
@scan_limit
@operation(role="staff", body=s.UnloadParent, answers={200: s.DispatchChange},
           results=("unloaded",),
           errors=(*FOUND, "invalid_code", "invalid_station", "dispatch_not_loading",
                   "parent_not_on_dispatch"), tags=("dispatches",),
           examples={"request": {"code": "SB00001"},
                     200: {"result": "unloaded",
                           "dispatch": {**DISPATCH_EXAMPLE, "parents_loaded": 0,
                                        "children": 0, "weight_kg": 0},
                           "parent": PARENT_EXAMPLE}})
def unload_dispatch_parent(code):
    """Take a parent back off a dispatch that is loading: it is free again."""
    sent = body()
    return _answer(run(services.unload_parent, current_user, code, sent.code,
                       station=sent.station))


@bp.post("/dispatches/<path:code>/dispatch")
@role_required("supervisor")
@operation(role="supervisor", body=s.DispatchOut, answers={200: s.DispatchChange},
           results=("dispatched",),
           errors=(*BY_SUPERVISOR, "dispatch_not_loading", "dispatch_empty", "under_expected"),
           tags=("dispatches",),
           examples={"request": {"reason": "one parent still wet"},
                     200: {"result": "dispatched",
                           "dispatch": {**DISPATCHED_EXAMPLE,
                                        "short_reason": "one parent still wet"}}})
def send_dispatch(code):
    """Dispatch it: the truck leaves with what is on it (a reason when it is short)."""
    return _answer(run(services.dispatch_out, current_user, code, body().reason))


@bp.post("/dispatches/<path:code>/reopen")
@role_required("supervisor")
@operation(role="supervisor", body=s.DispatchReason, answers={200: s.DispatchChange},
           results=("reopened",),
           errors=(*BY_SUPERVISOR, "dispatch_not_dispatched", "dispatch_partly_received"),
           tags=("dispatches",),
           examples={"request": {"reason": "wrong truck"},
                     200: {"result": "reopened", "dispatch": DISPATCH_EXAMPLE}})
def reopen_dispatch(code):
    """Reopen a dispatched dispatch: back to loading, its parents stay on it."""
    return _answer(run(services.reopen_dispatch, current_user, code, body().reason))


@bp.post("/dispatches/<path:code>/cancel")
@role_required("supervisor")
@operation(role="supervisor", body=s.DispatchReason, answers={200: s.DispatchChange},
           results=("cancelled",), errors=(*BY_SUPERVISOR, "dispatch_not_loading"),
           tags=("dispatches",),
           examples={"request": {"reason": "truck broke down"},
                     200: {"result": "cancelled",
                           "dispatch": {**DISPATCH_EXAMPLE, "status": "cancelled"}}})
def cancel_dispatch(code):
    """Cancel a dispatch that is loading: its parents are free again."""
    return _answer(run(services.cancel_dispatch, current_user, code, body().reason))


@bp.post("/dispatches/<path:code>/returns")
@role_required("supervisor")
@operation(role="supervisor", body=s.ReturnParent, answers={200: s.DispatchChange},
           results=("returned",),
           errors=(*BY_SUPERVISOR, "invalid_code", "dispatch_not_dispatched",
                   "parent_not_on_dispatch"), tags=("dispatches",),
           examples={"request": {"parent": "SB00001", "reason": "torn sack"},
                     200: {"result": "returned",
                           "dispatch": {**DISPATCHED_EXAMPLE, "parents_loaded": 0,
                                        "children": 0, "weight_kg": 0},
                           "parent": PARENT_EXAMPLE}})
def return_dispatch_parent(code):
    """Take back a parent that came back after dispatch: it may go on another dispatch."""
    sent = body()
    return _answer(run(services.return_parent, current_user, code, sent.parent, sent.reason))


@bp.post("/dispatches/<path:code>/receive")
@role_required("supervisor")
@scan_limit
@operation(role="supervisor", body=s.ReceiveParent, answers={200: s.DispatchChange},
           results=("received", "already_received"),
           errors=("forbidden", *FOUND, "invalid_code", "invalid_station", "not_destination",
                   "dispatch_not_dispatched", "parent_not_on_dispatch"),
           tags=("dispatches", "sites"),
           examples={"request": {"code": "SB00001", "station": "gate-1"},
                     200: {"result": "received",
                           "dispatch": {**DISPATCHED_EXAMPLE, "site": "MAIN",
                                        "destination_site": "PUNE", "received_at": None},
                           "parent": PARENT_EXAMPLE}})
def receive_dispatch_parent(code):
    """A transfer's parent received at its destination site (DESIGN 8.5, 8.7): it and its
    children move to this site; the transfer is received with its last parent."""
    sent = body()
    return _answer(run(services.receive_parent, current_user, code, sent.code,
                       station=sent.station))
