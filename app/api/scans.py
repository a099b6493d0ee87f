"""Scans over JSON (DESIGN.md section 5): the same service as the station page. Refusals are
DomainErrors, answered by the one error handler; app/api/schemas/scans.py declares the bodies."""

from flask_login import current_user, login_required

from app.api import bp
from app.api import schemas as s
from app.api.contract import body, operation
from app.api.helpers import BadRequestBody, json_response, parse_client_time
from app.auth.decorators import role_required
from app.auth.sessions import plain_user
from app.domain import DomainError, Text
from app.i18n import translate
from app.ratelimits import batch_scan_limit, scan_limit
from app.scanning import services
from app.scanning.services import bag_dict, parent_dict
from app.scanning.transaction import run_scan
from app.timeparse import SCANNED_AT_IGNORED

RESULT_STATUS = {"parent_created": 201, "linked": 201}
PARENT_EXAMPLE = {"code": "SB00001", "kind": "parent", "status": "open", "capacity": 30,
                  "child_count": 1, "children": ["0016586"]}
CHILD_EXAMPLE = {"code": "0016586", "kind": "child", "status": "linked", "parent": "SB00001",
                 "linked_at": "2026-12-05T05:00:00+00:00",
                 "created_at": "2026-12-05T05:00:00+00:00"}


def _answer(outcome, include_child: bool = False, scanned_at_ignored: bool = False):
    payload = {"result": outcome.result, "parent": parent_dict(outcome.parent, outcome.children)}
    if scanned_at_ignored:  # the client's time was outside the window: the server's stands
        payload.update(scanned_at_ignored=True, message=SCANNED_AT_IGNORED)
    if include_child:
        child = outcome.child
        payload["child"] = bag_dict(child, outcome.child_parent) if child is not None else None
    return json_response(payload, RESULT_STATUS.get(outcome.result, 200))


@bp.post("/scans/parent")
@plain_user
@login_required
@scan_limit
@operation(role="staff", body=s.ParentScan, answers={201: s.ScanAnswer, 200: s.ScanAnswer},
           results=("parent_created", "parent_opened"),
           errors=("invalid_code", "code_is_child", "invalid_station"), tags=("scans",),
           examples={"request": {"code": "SB00001"},
                     201: {"result": "parent_created", "parent": {**PARENT_EXAMPLE,
                                                                  "child_count": 0,
                                                                  "children": []}}})
def scan_parent():
    """Scan a parent: open it (200 parent_opened) or create it (201 parent_created)."""
    scan = body()
    return _answer(run_scan(services.scan_parent, current_user, scan.code,
                            station=scan.station))


@bp.post("/scans/child")
@plain_user
@login_required
@scan_limit
@operation(role="staff", body=s.ChildScan, answers={201: s.ScanAnswer, 200: s.ScanAnswer},
           results=("linked", "already_linked", "replayed"),
           errors=("invalid_code", "invalid_scan_id", "invalid_scanned_at", "invalid_station",
                   "parent_not_found", "code_is_child", "code_is_parent",
                   "child_in_other_parent", "parent_full", "parent_complete",
                   "scan_id_reused"), tags=("scans",),
           examples={"request": {"parent": "SB00001", "code": "0016586", "scan_id": "st1-000042"},
                     201: {"result": "linked", "parent": PARENT_EXAMPLE,
                           "child": CHILD_EXAMPLE}})
def scan_child():
    """Scan a child into a parent. Idempotent with scan_id (a resend answers replayed)."""
    scan = body()
    scanned_at, ignored = parse_client_time(scan.scanned_at)
    outcome = run_scan(services.scan_child, current_user, scan.parent, scan.code,
                       scan_id=scan.scan_id, station=scan.station, scanned_at=scanned_at)
    return _answer(outcome, include_child=True, scanned_at_ignored=ignored)


@bp.post("/scans/undo")
@plain_user
@login_required
@scan_limit
@operation(role="staff", body=s.UndoScan, answers={200: s.ScanAnswer}, results=("unlinked",),
           errors=("invalid_code", "invalid_station", "parent_not_found", "bag_not_found",
                   "nothing_to_undo", "not_your_scan", "not_linked", "parent_complete"),
           tags=("scans",),
           examples={"request": {"parent": "SB00001"},
                     200: {"result": "unlinked", "parent": {**PARENT_EXAMPLE, "child_count": 0,
                                                            "children": []},
                           "child": {**CHILD_EXAMPLE, "status": "unlinked", "parent": None,
                                     "linked_at": None}}})
def undo_scan():
    """Undo the last scan this user sent into a parent, or one child's link."""
    scan = body()
    outcome = run_scan(services.undo_scan, current_user, raw_parent=scan.parent,
                       raw_code=scan.code, station=scan.station)
    return _answer(outcome, include_child=True)


@bp.post("/parents/<code>/complete")
@plain_user
@login_required
@scan_limit
@operation(role="staff", body=s.CompleteParent, answers={200: s.ScanAnswer},
           results=("completed",),
           errors=("invalid_code", "invalid_force", "invalid_station", "parent_not_found",
                   "code_is_child", "under_capacity", "parent_complete"), tags=("scans",),
           examples={"request": {"force": True},
                     200: {"result": "completed", "parent": {**PARENT_EXAMPLE,
                                                            "status": "complete"}}})
def complete_parent(code):
    """Finish a parent; before it is full only with force (409 under_capacity without)."""
    finish = body()
    return _answer(run_scan(services.complete_parent, current_user, code, force=finish.force,
                            station=finish.station))


@bp.post("/parents/<code>/reopen")
@role_required("supervisor")
@operation(role="supervisor", body=s.StationOnly, answers={200: s.ScanAnswer},
           results=("reopened",),
           errors=("forbidden", "invalid_code", "invalid_station", "parent_not_found",
                   "code_is_child", "parent_open"), tags=("scans",),
           examples={"request": {}, 200: {"result": "reopened", "parent": PARENT_EXAMPLE}})
def reopen_parent(code):
    """Reopen a complete parent so that it takes children again."""
    return _answer(run_scan(services.reopen_parent, current_user, code,
                            station=body().station))




MAX_BATCH_ITEMS = 100
BATCH_ITEM_FIELDS = ("code", "scan_id", "scanned_at")


def _batch_items(items: object) -> list[dict]:
    """The items, checked whole before any is scanned: a body that is wrong anywhere stores
    nothing (422), so the client fixes it and sends it again as it is."""
    if not isinstance(items, list):
        raise BadRequestBody(422, "invalid_input", Text(
            'items must be a list of scans: [{"code": ..., "scan_id": ..., "scanned_at": '
            '...}].'), field="items")
    if len(items) > MAX_BATCH_ITEMS:
        raise BadRequestBody(422, "too_many_items",
                             Text("A batch holds at most %(most)s scans; this one has "
                                  "%(count)s. Send them in several batches, in order.",
                                  most=MAX_BATCH_ITEMS, count=len(items)),
                             field="items", max_items=MAX_BATCH_ITEMS)
    for number, item in enumerate(items):
        if not isinstance(item, dict) or set(item) - set(BATCH_ITEM_FIELDS):
            raise BadRequestBody(422, "invalid_input",
                                 Text("Scan number %(number)s of items must be an object "
                                      "with only %(fields)s.", number=number + 1,
                                      fields=", ".join(BATCH_ITEM_FIELDS)),
                                 field=f"items[{number}]")
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
        # Said in the request's language, as the one error handler says a single scan's.
        answer["error"] = {"code": error.code, "message": translate(error.message),
                           **error.details}
        return answer
    answer.update(code=outcome.child.code if outcome.child is not None else answer["code"],
                  result=outcome.result, parent=parent_dict(outcome.parent))
    if ignored:
        answer.update(scanned_at_ignored=True, message=SCANNED_AT_IGNORED)
    return answer


@bp.post("/scans/batch")
@plain_user
@login_required
@batch_scan_limit
@operation(role="staff", body=s.BatchScan, answers={200: s.BatchAnswer}, tags=("scans",),
           errors=("invalid_input", "too_many_items", "invalid_station"),
           examples={"request": {"parent": "SB00001", "items": [
               {"code": "0016586", "scan_id": "st1-000042",
                "scanned_at": "2026-12-05T04:58:10+05:30"},
               {"code": "0016587", "scan_id": "st1-000043"}]},
               200: {"results": [
                   {"code": "0016586", "scan_id": "st1-000042", "result": "linked",
                    "parent": PARENT_EXAMPLE},
                   {"code": "0016587", "scan_id": "st1-000043", "error": {
                       "code": "child_in_other_parent",
                       "message": "0016587 is already in SB00002. Put it aside and tell a "
                                  "supervisor.", "other_parent": "SB00002"}}]}})
def scan_batch():
    """Child scans of one parent, in order (DESIGN 8.4, 8.7): each through the same service as
    a single scan, each committed or refused on its own, so one refusal never undoes another.
    A valid body answers 200 whatever the items' outcomes; a resent batch answers `replayed`
    for each scan it had saved (by scan_id). A database that stops answering midway ends the
    request with 503: the scans before it are saved, and a resend replays them."""
    batch = body()
    items = _batch_items(batch.items)
    return json_response({"results": [_batch_item(batch.parent, item, batch.station)
                                      for item in items]})

