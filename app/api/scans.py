"""Scans over JSON (DESIGN.md section 5): the same service as the station page. Refusals are
DomainErrors, answered by the one error handler."""

from flask_login import current_user, login_required

from app.api import bp
from app.api.helpers import (BadRequestBody, json_body, json_response, parse_client_time,
                             station_field)
from app.auth.decorators import role_required
from app.ratelimits import scan_limit
from app.scanning import services
from app.scanning.services import bag_dict, parent_dict
from app.scanning.transaction import run_scan
from app.timeparse import SCANNED_AT_IGNORED

RESULT_STATUS = {"parent_created": 201, "linked": 201}


def _answer(outcome, include_child: bool = False, scanned_at_ignored: bool = False):
    payload = {"result": outcome.result, "parent": parent_dict(outcome.parent, outcome.children)}
    if scanned_at_ignored:  # the client's time was outside the window: the server's stands
        payload.update(scanned_at_ignored=True, message=SCANNED_AT_IGNORED)
    if include_child:
        child = outcome.child
        payload["child"] = bag_dict(child, outcome.child_parent) if child is not None else None
    return json_response(payload, RESULT_STATUS.get(outcome.result, 200))


@bp.post("/scans/parent")
@login_required
@scan_limit
def scan_parent():
    body = json_body(("code", "station"))
    return _answer(run_scan(services.scan_parent, current_user, body.get("code"),
                            station=station_field(body)))


@bp.post("/scans/child")
@login_required
@scan_limit
def scan_child():
    body = json_body(("parent", "code", "scan_id", "station", "scanned_at"))
    scanned_at, ignored = parse_client_time(body.get("scanned_at"))
    outcome = run_scan(services.scan_child, current_user, body.get("parent"), body.get("code"),
                       scan_id=body.get("scan_id"), station=station_field(body),
                       scanned_at=scanned_at)
    return _answer(outcome, include_child=True, scanned_at_ignored=ignored)


@bp.post("/scans/undo")
@login_required
@scan_limit
def undo_scan():
    body = json_body(("parent", "code", "station"))
    outcome = run_scan(services.undo_scan, current_user, raw_parent=body.get("parent"),
                       raw_code=body.get("code"), station=station_field(body))
    return _answer(outcome, include_child=True)


@bp.post("/parents/<code>/complete")
@login_required
@scan_limit
def complete_parent(code):
    body = json_body(("force", "station"))
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise BadRequestBody(422, "invalid_force", "force must be true or false.")
    return _answer(run_scan(services.complete_parent, current_user, code, force=force,
                            station=station_field(body)))


@bp.post("/parents/<code>/reopen")
@role_required("supervisor")
def reopen_parent(code):
    body = json_body(("station",))
    return _answer(run_scan(services.reopen_parent, current_user, code,
                            station=station_field(body)))
