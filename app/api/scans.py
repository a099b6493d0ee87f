"""Scans over JSON (DESIGN.md section 5): the same service as the station page. Refusals are
DomainErrors, answered by the one error handler."""

from flask_login import current_user, login_required

from app.api import bp
from app.api.helpers import (BadRequestBody, json_body, json_response, parse_client_time,
                             station_field)
from app.auth.decorators import role_required
from app.domain import DomainError
from app.ratelimits import batch_scan_limit, scan_limit
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


MAX_BATCH_ITEMS = 100
BATCH_ITEM_FIELDS = ("code", "scan_id", "scanned_at")


def _batch_items(body: dict) -> list[dict]:
    """The items, checked whole before any is scanned: a body that is wrong anywhere stores
    nothing (422), so the client fixes it and sends it again as it is."""
    items = body.get("items")
    if not isinstance(items, list):
        raise BadRequestBody(422, "invalid_input", "items must be a list of scans: "
                             '[{"code": ..., "scan_id": ..., "scanned_at": ...}].', field="items")
    if len(items) > MAX_BATCH_ITEMS:
        raise BadRequestBody(422, "too_many_items",
                             f"A batch holds at most {MAX_BATCH_ITEMS} scans; this one has "
                             f"{len(items)}. Send them in several batches, in order.",
                             field="items", max_items=MAX_BATCH_ITEMS)
    for number, item in enumerate(items):
        if not isinstance(item, dict) or set(item) - set(BATCH_ITEM_FIELDS):
            raise BadRequestBody(422, "invalid_input",
                                 f"Scan number {number + 1} of items must be an object with "
                                 f"only {', '.join(BATCH_ITEM_FIELDS)}.", field=f"items[{number}]")
    return items


def _batch_item(parent: object, item: dict, station: str | None) -> dict:
    """One scan of a batch, through the one scan service, in its own transaction."""
    code = item.get("code")
    answer: dict = {"code": code if isinstance(code, str) else None}
    if isinstance(item.get("scan_id"), str):  # (any other type is refused as invalid_scan_id)
        answer["scan_id"] = item["scan_id"]
    try:
        scanned_at, ignored = parse_client_time(item.get("scanned_at"))
        outcome = run_scan(services.scan_child, current_user, parent, code,
                           scan_id=item.get("scan_id"), station=station, scanned_at=scanned_at)
    except DomainError as error:
        answer["error"] = {"code": error.code, "message": error.message, **error.details}
        return answer
    answer.update(code=outcome.child.code if outcome.child is not None else answer["code"],
                  result=outcome.result, parent=parent_dict(outcome.parent))
    if ignored:
        answer.update(scanned_at_ignored=True, message=SCANNED_AT_IGNORED)
    return answer


@bp.post("/scans/batch")
@login_required
@batch_scan_limit
def scan_batch():
    """Child scans of one parent, in order (DESIGN 8.4, 8.7): each through the same service as
    a single scan, each committed or refused on its own, so one refusal never undoes another.
    A valid body answers 200 whatever the items' outcomes; a resent batch answers `replayed`
    for each scan it had saved (by scan_id). A database that stops answering midway ends the
    request with 503: the scans before it are saved, and a resend replays them."""
    body = json_body(("parent", "items", "station"))
    items = _batch_items(body)
    station = station_field(body)
    parent = body.get("parent")
    return json_response({"results": [_batch_item(parent, item, station) for item in items]})
