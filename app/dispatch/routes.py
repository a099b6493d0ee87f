"""Dispatch pages (issue 20 item 2): the list, a new dispatch (supervisors), and the loading
station of one dispatch. The station's script talks to the JSON API; every button here is
also a plain form (post, redirect, get), so the page works without JavaScript. Each change
goes through the dispatch service, committed once by the unit of work."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.auth.decorators import role_required
from app.dispatch import queries, services
from app.dispatch.forms import (CancelForm, DispatchFilterForm, LoadForm, NewDispatchForm,
                                ReceiveForm, ReopenForm, ReturnForm, SendForm, UnloadForm)
from app.domain import N_, DomainError
from app.extensions import db
from app.i18n import translate
from app.scanning.commands import COMMANDS
from app.unit_of_work import run

bp = Blueprint("dispatch", __name__)

SUCCESS = {
    "created": N_("Dispatch %(dispatch)s is open: scan its parents as they are loaded."),
    "loaded": N_("%(parent)s loaded onto %(dispatch)s."),
    "already_loaded": N_("%(parent)s is already on %(dispatch)s."),
    "replayed": N_("%(parent)s is already on %(dispatch)s."),
    "unloaded": N_("%(parent)s was taken off %(dispatch)s."),
    "dispatched": N_("Dispatch %(dispatch)s has left: it is locked."),
    "reopened": N_("Dispatch %(dispatch)s is open for loading again."),
    "cancelled": N_("Dispatch %(dispatch)s is cancelled; its parents are free again."),
    "returned": N_("%(parent)s is back in the warehouse (returned from %(dispatch)s)."),
}
# The station's command barcodes that mean something here (app/scanning/commands.py).
STATION_COMMANDS = {"finish": "dispatch", "undo": "unload_last", "cancel": "cancel_prompt",
                    "new_parent": "none", "finish_short": "none"}


# --- the list and a new dispatch ----------------------------------------------------------------

@bp.get("/dispatches")
@login_required
def list_dispatches():
    form = DispatchFilterForm(request.args)
    page, error, args = None, None, {}
    try:
        filters = queries.parse_filters(request.args)
        args = filters.args
        page = queries.list_dispatches(filters)
    except DomainError as exc:
        error = exc
    return render_template(
        "dispatch/list.html", form=form, page=page, error=error, args=args,
        next_url=url_for("dispatch.list_dispatches", **args, cursor=page.next_cursor)
        if page and page.next_cursor else None,
        first_url=url_for("dispatch.list_dispatches", **args)
        if request.args.get("cursor") else None,
    ), 422 if error else 200


@bp.route("/dispatches/new", methods=["GET", "POST"])
@role_required("supervisor")
def new_dispatch():
    form = NewDispatchForm()
    error = None
    if request.method == "POST":
        body = {name: getattr(form, name).data for name in (
            "code", "destination", "vehicle_number", "expected_parents", "driver",
            "transporter", "reference")}
        try:
            change = run(services.create_dispatch, current_user, body)
        except DomainError as exc:
            error = exc
            field = exc.details.get("field")
            if field in form:
                form[field].errors = [translate(exc.message)]
        else:
            flash(_(SUCCESS["created"], dispatch=change.dispatch.code), "success")
            return redirect(url_for("dispatch.show_dispatch", code=change.dispatch.code), 303)
    return render_template("dispatch/new.html", form=form, error=error), 422 if error else 200


# --- one dispatch: the loading station ---------------------------------------------------------

@bp.get("/dispatches/<path:code>")
@login_required
def show_dispatch(code):
    data = queries.read_dispatch(code)  # 404 dispatch_not_found: the error handler's page
    if data["code"] != code:
        return redirect(url_for("dispatch.show_dispatch", code=data["code"]))
    dispatch = queries.find_dispatch(code)
    commands = {command.code: STATION_COMMANDS[command.action] for command in COMMANDS}
    return render_template(
        "dispatch/show.html", dispatch=data, rows=queries.parent_rows(dispatch),
        returned=queries.parent_rows(dispatch, "returned"),
        supervisor=current_user.has_role("supervisor"), commands=commands,
        parent_pattern=current_app.config["PARENT_CODE_PATTERN"],
        forms={"load": LoadForm(prefix="load"), "unload": UnloadForm(prefix="unload"),
               "send": SendForm(prefix="send"), "reopen": ReopenForm(prefix="reopen"),
               "cancel": CancelForm(prefix="cancel"), "returns": ReturnForm(prefix="returns")})


def _change(code: str, service, *args, on_refusal=None):
    """Run a change posted by a form, say what happened, and go back to the station."""
    try:
        change = run(service, current_user, code, *args, on_refusal=on_refusal)
    except DomainError as exc:
        if exc.code == "dispatch_not_found":
            raise
        flash(translate(exc.message), "danger")
        return redirect(url_for("dispatch.show_dispatch", code=code))
    flash(_(SUCCESS[change.result], dispatch=change.dispatch.code,
            parent=change.parent.code if change.parent is not None else ""), "success")
    return redirect(url_for("dispatch.show_dispatch", code=change.dispatch.code))


@bp.post("/dispatches/<path:code>/load")
@login_required
def load_parent(code):
    scanned = LoadForm(prefix="load").code.data

    def keep(error) -> None:
        services.record_refused_load(current_user, code, scanned, error)
        db.session.commit()

    return _change(code, services.load_parent, scanned, on_refusal=keep)


@bp.post("/dispatches/<path:code>/unload")
@login_required
def unload_parent(code):
    return _change(code, services.unload_parent, UnloadForm(prefix="unload").code.data)


@bp.post("/dispatches/<path:code>/dispatch")
@role_required("supervisor")
def send_dispatch(code):
    return _change(code, services.dispatch_out, SendForm(prefix="send").reason.data)


@bp.post("/dispatches/<path:code>/reopen")
@role_required("supervisor")
def reopen_dispatch(code):
    return _change(code, services.reopen_dispatch, ReopenForm(prefix="reopen").reason.data)


@bp.post("/dispatches/<path:code>/cancel")
@role_required("supervisor")
def cancel_dispatch(code):
    return _change(code, services.cancel_dispatch, CancelForm(prefix="cancel").reason.data)


@bp.post("/dispatches/<path:code>/returns")
@role_required("supervisor")
def return_parent(code):
    form = ReturnForm(prefix="returns")
    return _change(code, services.return_parent, form.parent.data, form.reason.data)


# --- a transfer arriving: the receiving station (issue 21) ---------------------------------------

@bp.get("/dispatches/<path:code>/receive")
@role_required("supervisor")
def show_receiving(code):
    """Scan each parent as it comes off the truck; the missing ones are listed until all
    are in."""
    data = queries.read_dispatch(code)  # 404 dispatch_not_found: the error handler's page
    return render_template("dispatch/receive.html", dispatch=data,
                           form=ReceiveForm(prefix="receive"))


@bp.post("/dispatches/<path:code>/receive")
@role_required("supervisor")
def receive_parent(code):
    scanned = ReceiveForm(prefix="receive").code.data
    try:
        change = run(services.receive_parent, current_user, code, scanned)
    except DomainError as exc:
        if exc.code == "dispatch_not_found":
            raise
        flash(translate(exc.message), "danger")
        return redirect(url_for("dispatch.show_receiving", code=code))
    flash(_(RECEIVED_MESSAGES[change.result], parent=change.parent.code,
            dispatch=change.dispatch.code), "success")
    return redirect(url_for("dispatch.show_receiving", code=change.dispatch.code))


RECEIVED_MESSAGES = {
    "received": N_("%(parent)s received from %(dispatch)s: it is in this site's stock now."),
    "already_received": N_("%(parent)s was already received from %(dispatch)s."),
}
