"""Bag lookup and corrections over JSON: the same queries and services as the bag pages.
Refusals are DomainErrors, answered by the one error handler."""

from flask import request
from flask_login import current_user, login_required

from app.api import bp
from app.api import schemas as s
from app.api.contract import body, operation
from app.api.helpers import json_response
from app.auth.decorators import role_required
from app.lookup import queries
from app.lookup.queries import jsonable
from app.scanning import corrections
from app.scanning.services import bag_dict, parent_dict
from app.unit_of_work import run


CORRECTION_ERRORS = ("forbidden", "invalid_code", "invalid_input", "bag_not_found",
                     "reason_required", "bag_changed")


@bp.get("/bags")
@login_required
@operation(role="staff", query=s.BagQuery, answers={200: s.BagPage}, tags=("bags",),
           errors=("invalid_filter", "invalid_cursor"),
           examples={200: {"items": [{"code": "SB00001", "kind": "parent", "status": "open",
                                      "capacity": 30, "child_count": 1}],
                           "next_cursor": None}})
def list_bags():
    """Bags, newest first, filtered; keyset paged by next_cursor."""
    page = queries.list_bags(queries.parse_filters(request.args))
    return json_response({"items": jsonable(page.items), "next_cursor": page.next_cursor})


@bp.get("/bags/<code>")
@login_required
@operation(role="staff", answers={200: s.Trace}, errors=("invalid_code", "bag_not_found"),
           tags=("bags",),
           examples={200: {"code": "0016586", "kind": "child", "status": "linked",
                           "parent": "SB00001", "children": [], "events": [],
                           "created_at": "2026-12-05T05:00:00+00:00", "created_by": "asha",
                           "linked_at": "2026-12-05T05:00:00+00:00"}})
def show_bag(code):
    """A bag's trace: its parent, its children (newest first) and its timeline."""
    return json_response(jsonable(queries.trace_bag(code)))


def _answer(outcome: corrections.Correction):
    bag = outcome.bag
    if bag is None:
        bag_data = None
    elif bag.kind == "parent":
        bag_data = parent_dict(bag)
    else:
        bag_data = bag_dict(bag, outcome.parent.code if outcome.parent else None)
    return json_response(jsonable({
        "result": outcome.result, "bag": bag_data,
        "parent": parent_dict(outcome.parent) if outcome.parent else None,
        "previous_parent": parent_dict(outcome.previous_parent)
        if outcome.previous_parent else None,
    }))


def _correct(service, code, *fields):
    sent = body()
    return _answer(run(service, current_user, code, *(getattr(sent, name) for name in fields),
                       sent.reason))


def correction(result: str, request_body=s.Correction, errors=(), example=None):
    return operation(role="supervisor", body=request_body, answers={200: s.CorrectionAnswer},
                     results=(result,), errors=(*CORRECTION_ERRORS, *errors), tags=("bags",),
                     examples={"request": example or {"reason": "wrong parent"}})


@bp.post("/bags/<code>/unlink")
@role_required("supervisor")
@correction("unlinked", errors=("not_linked",))
def unlink_bag(code):
    """Take a child out of its parent (it stays as a loose bag); a reason is required."""
    return _correct(corrections.unlink_child, code)


@bp.post("/bags/<code>/move")
@role_required("supervisor")
@correction("moved", request_body=s.MoveChild,
            errors=("parent_not_found", "code_is_child", "parent_full", "parent_complete",
                    "not_linked"),
            example={"parent": "SB00002", "reason": "wrong parent"})
def move_bag(code):
    """Move a child into another parent (from its parent, or from none), with a reason."""
    return _correct(corrections.move_child, code, "parent")


@bp.post("/bags/<code>/complete")
@role_required("supervisor")
@correction("completed", errors=("parent_complete",))
def complete_bag(code):
    """Finish a parent as a correction (short is allowed: the reason says why)."""
    return _correct(corrections.complete_parent, code)


@bp.post("/bags/<code>/reopen")
@role_required("supervisor")
@correction("reopened", errors=("parent_open",))
def reopen_bag(code):
    """Reopen a complete parent as a correction, with a reason."""
    return _correct(corrections.reopen_parent, code)


@bp.delete("/bags/<code>")
@role_required("supervisor")
@correction("deleted", errors=("has_children", "parent_has_dispatch_history"),
            example={"reason": "misprint"})
def delete_bag(code):
    """Delete a bag made by mistake (a parent must be empty); its history stays."""
    return _correct(corrections.delete_bag, code)
