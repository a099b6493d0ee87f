"""Bag lookup and corrections over JSON: the same queries and services as the bag pages.
Refusals are DomainErrors, answered by the one error handler."""

from flask import request
from flask_login import current_user, login_required

from app.api import bp
from app.api.helpers import json_body, json_response
from app.auth.decorators import role_required
from app.lookup import queries
from app.lookup.queries import jsonable
from app.scanning import corrections
from app.scanning.services import bag_dict, parent_dict
from app.unit_of_work import run


@bp.get("/bags")
@login_required
def list_bags():
    page = queries.list_bags(queries.parse_filters(request.args))
    return json_response({"items": jsonable(page.items), "next_cursor": page.next_cursor})


@bp.get("/bags/<code>")
@login_required
def show_bag(code):
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
    body = json_body((*fields, "reason"))
    return _answer(run(service, current_user, code, *(body.get(name) for name in fields),
                       body.get("reason")))


@bp.post("/bags/<code>/unlink")
@role_required("supervisor")
def unlink_bag(code):
    return _correct(corrections.unlink_child, code)


@bp.post("/bags/<code>/move")
@role_required("supervisor")
def move_bag(code):
    return _correct(corrections.move_child, code, "parent")


@bp.post("/bags/<code>/complete")
@role_required("supervisor")
def complete_bag(code):
    return _correct(corrections.complete_parent, code)


@bp.post("/bags/<code>/reopen")
@role_required("supervisor")
def reopen_bag(code):
    return _correct(corrections.reopen_parent, code)


@bp.delete("/bags/<code>")
@role_required("supervisor")
def delete_bag(code):
    return _correct(corrections.delete_bag, code)
