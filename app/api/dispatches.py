"""Dispatches over JSON (DESIGN.md 8.2, 8.7): thin handlers over the dispatch service, each
change committed once through the unit of work; refusals go to the one error handler."""

from flask import request
from flask_login import current_user, login_required

from app.api import bp
from app.api.helpers import json_body, json_response, station_field
from app.auth.decorators import role_required
from app.dispatch import queries, services
from app.extensions import db
from app.lookup.queries import jsonable
from app.ratelimits import scan_limit
from app.unit_of_work import run

NEW_FIELDS = ("code", "destination", "vehicle_number", "expected_parents", "driver",
              "transporter", "reference", "destination_site")
RESULT_STATUS = {"created": 201, "loaded": 201}


def _answer(change: services.DispatchChange):
    return json_response(jsonable(services.change_dict(change)),
                         RESULT_STATUS.get(change.result, 200))


@bp.post("/dispatches")
@role_required("supervisor")
def create_dispatch():
    return _answer(run(services.create_dispatch, current_user, json_body(NEW_FIELDS)))


@bp.get("/dispatches")
@login_required
def list_dispatches():
    page = queries.list_dispatches(queries.parse_filters(request.args))
    return json_response(jsonable({"items": page.items, "next_cursor": page.next_cursor,
                                   "counts": page.counts}))


@bp.get("/dispatches/<path:code>")
@login_required
def show_dispatch(code):
    return json_response(jsonable(queries.read_dispatch(code)))


@bp.post("/dispatches/<path:code>/parents")
@login_required
@scan_limit
def load_dispatch_parent(code):
    body = json_body(("code", "scan_id", "station"))
    station = station_field(body)
    return _answer(run(services.load_parent, current_user, code, body.get("code"),
                       scan_id=body.get("scan_id"), station=station,
                       on_refusal=lambda error: _keep_refused_load(code, body, error)))


def _keep_refused_load(code, body: dict, error) -> None:
    services.record_refused_load(current_user, code, body.get("code"), error,
                                 station=body.get("station"))
    db.session.commit()


@bp.post("/dispatches/<path:code>/unload")
@login_required
@scan_limit
def unload_dispatch_parent(code):
    body = json_body(("code", "station"))
    return _answer(run(services.unload_parent, current_user, code, body.get("code"),
                       station=station_field(body)))


@bp.post("/dispatches/<path:code>/dispatch")
@role_required("supervisor")
def send_dispatch(code):
    body = json_body(("reason",))
    return _answer(run(services.dispatch_out, current_user, code, body.get("reason")))


@bp.post("/dispatches/<path:code>/reopen")
@role_required("supervisor")
def reopen_dispatch(code):
    body = json_body(("reason",))
    return _answer(run(services.reopen_dispatch, current_user, code, body.get("reason")))


@bp.post("/dispatches/<path:code>/cancel")
@role_required("supervisor")
def cancel_dispatch(code):
    body = json_body(("reason",))
    return _answer(run(services.cancel_dispatch, current_user, code, body.get("reason")))


@bp.post("/dispatches/<path:code>/returns")
@role_required("supervisor")
def return_dispatch_parent(code):
    body = json_body(("parent", "reason"))
    return _answer(run(services.return_parent, current_user, code, body.get("parent"),
                       body.get("reason")))


@bp.post("/dispatches/<path:code>/receive")
@role_required("supervisor")
@scan_limit
def receive_dispatch_parent(code):
    """A transfer's parent received at its destination site (DESIGN 8.5, 8.7; issue 21)."""
    body = json_body(("code", "station"))
    return _answer(run(services.receive_parent, current_user, code, body.get("code"),
                       station=station_field(body)))
