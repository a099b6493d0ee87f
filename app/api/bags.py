"""Bag lookup and corrections over JSON: the same services as the bag pages."""

from flask import request
from flask_login import current_user, login_required

from app.api import bp
from app.api.helpers import BadRequestBody, bad_body_response, json_body, json_response
from app.auth.decorators import role_required
from app.errors import error_response
from app.lookup import services
from app.lookup.services import BagError, jsonable
from app.lookup.transaction import run_correction
from app.scanning.services import bag_dict, parent_dict


def _bag_error(error: BagError):
    return error_response(error.status, error.code, error.message, **error.details)


@bp.get("/bags")
@login_required
def list_bags():
    try:
        page = services.list_bags(services.parse_filters(request.args))
    except BagError as error:
        return _bag_error(error)
    return json_response({"items": jsonable(page.items), "next_cursor": page.next_cursor})


@bp.get("/bags/<code>")
@login_required
def show_bag(code):
    try:
        return json_response(jsonable(services.trace_bag(code)))
    except BagError as error:
        return _bag_error(error)


def _answer(outcome: services.Correction):
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
    try:
        body = json_body((*fields, "reason"))
        outcome = run_correction(service, current_user, code,
                                 *(body.get(name) for name in fields), body.get("reason"))
    except BadRequestBody as error:
        return bad_body_response(error)
    except BagError as error:
        return _bag_error(error)
    return _answer(outcome)


@bp.post("/bags/<code>/unlink")
@role_required("supervisor")
def unlink_bag(code):
    return _correct(services.unlink_child, code)


@bp.post("/bags/<code>/move")
@role_required("supervisor")
def move_bag(code):
    return _correct(services.move_child, code, "parent")


@bp.post("/bags/<code>/complete")
@role_required("supervisor")
def complete_bag(code):
    return _correct(services.complete_parent, code)


@bp.post("/bags/<code>/reopen")
@role_required("supervisor")
def reopen_bag(code):
    return _correct(services.reopen_parent, code)


@bp.delete("/bags/<code>")
@role_required("supervisor")
def delete_bag(code):
    return _correct(services.delete_bag, code)
