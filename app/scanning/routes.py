"""The scanner station. With JavaScript the page talks to the JSON API; without it, the same
form posts here and the page is rendered again with the result (post, redirect, get)."""

from flask import (Blueprint, Response, current_app, flash, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from app.domain import N_
from app.extensions import db
from app.i18n import translate
from app.dashboard.services import scans_today_by
from app.models import PARENT, Bag
from app.ratelimits import scan_limit
from app.rules.codes import CodeError, matches, normalise_code
from app.scanning import services, store
from app.scanning.commands import COMMANDS, command_for, command_sheet_pdf, qr_data_uri
from app.scanning.forms import ScanForm
from app.scanning.services import ScanError, parent_dict
from app.scanning.transaction import run_scan

bp = Blueprint("scanning", __name__)

FLASH_CATEGORY = {
    "linked": "success", "parent_created": "success", "parent_opened": "info",
    "already_linked": "warning", "replayed": "info", "completed": "success",
    "unlinked": "info",
}


def _current_parent(raw: str | None) -> Bag | None:
    try:
        code = normalise_code(raw or "")
    except CodeError:
        return None
    return db.session.scalar(select(Bag).where(Bag.code == code, Bag.kind == PARENT))


@bp.get("/scan")
@login_required
def show_station():
    parent = _current_parent(request.args.get("parent"))
    state = None
    if parent is not None:
        children = store.children_codes(parent.id)
        # The count is that of the list shown: a batch sent while the page was made (a
        # station draining its queue) may have linked children after the parent was read.
        state = {**parent_dict(parent, children), "child_count": len(children)}
    form = ScanForm(parent=parent.code if parent else "")
    return render_template(
        "scanning/station.html", form=form, parent=state,
        parent_pattern=current_app.config["PARENT_CODE_PATTERN"],
        child_pattern=current_app.config["CHILD_CODE_PATTERN"],
        idle_seconds=current_app.config["SCAN_IDLE_SECONDS"],
        confirm_finish=parent is not None and request.args.get("confirm_finish") == "1",
        my_scans_today=scans_today_by(current_user.id),
        commands={command.code: command.action for command in COMMANDS},
    )


@bp.get("/scan/commands")
@login_required
def show_commands():
    """The printable sheet of command barcodes."""
    sheet = [(command, qr_data_uri(command.code)) for command in COMMANDS]
    return render_template("scanning/commands.html", sheet=sheet)


@bp.get("/scan/commands.pdf")
@login_required
def commands_pdf():
    """The same sheet as a PDF of labels (A4, 3 x 8), drawn by the labels code."""
    response = Response(command_sheet_pdf(), mimetype="application/pdf")
    response.headers["Content-Disposition"] = 'inline; filename="station-commands.pdf"'
    return response


@bp.post("/scan")
@login_required
@scan_limit
def submit_scan():
    form = ScanForm()
    if not form.validate_on_submit():
        flash(_("That scan could not be read. Scan the code again."), "danger")
        return redirect(url_for("scanning.show_station", parent=_kept_parent(form.parent.data)))
    parent_code = (form.parent.data or "").strip() or None
    action = request.form.get("action") or "scan"
    command = _command(form.code.data) if action == "scan" else None
    if command is not None:  # a command barcode scanned without JavaScript
        if command.action == "new_parent":
            return redirect(url_for("scanning.show_station"))
        if command.action == "cancel" or parent_code is None:
            return redirect(url_for("scanning.show_station", parent=_kept_parent(parent_code)))
        if command.action == "finish_short" and request.form.get("confirming") != "1":
            flash(_("Nothing to confirm: scan \u201cFinish\u201d first."), "info")
            return redirect(url_for("scanning.show_station", parent=_kept_parent(parent_code)))
        action = command.action
    try:
        outcome = _dispatch(action, parent_code, form.code.data or "")
    except ScanError as error:
        if error.code == "under_capacity":
            flash(translate(error.message), "warning")
            return redirect(url_for("scanning.show_station", parent=parent_code, confirm_finish=1))
        flash(translate(error.message), "danger")
        keep = _kept_parent(parent_code) if error.code != "parent_not_found" else None
        return redirect(url_for("scanning.show_station", parent=keep))
    flash(_describe(outcome), FLASH_CATEGORY.get(outcome.result, "info"))
    next_parent = None if outcome.parent.status == "complete" else outcome.parent.code
    return redirect(url_for("scanning.show_station", parent=next_parent))


def _kept_parent(raw: str | None) -> str | None:
    """The parent to keep on the station after a refusal: a code that normalises and is of
    label length, never raw input (a 100 kB field would become a 100 kB Location header)."""
    try:
        code = normalise_code(raw or "")
    except CodeError:
        return None
    return code if len(code) <= 64 else None


def _dispatch(action: str, parent_code: str | None, code: str):
    if action == "undo" and parent_code:
        return run_scan(services.undo_scan, current_user, raw_parent=parent_code)
    if action in ("finish", "finish_short") and parent_code:
        return run_scan(services.complete_parent, current_user, parent_code,
                        force=action == "finish_short")
    if parent_code is None or _looks_like_parent(code):
        return run_scan(services.scan_parent, current_user, code)
    return run_scan(services.scan_child, current_user, parent_code, code)


def _command(raw: str | None):
    try:
        return command_for(normalise_code(raw or ""))
    except CodeError:
        return None


def _looks_like_parent(code: str) -> bool:
    try:
        return matches(current_app.config["PARENT_CODE_PATTERN"], normalise_code(code))
    except CodeError:
        return False


def _describe(outcome) -> str:
    parent = outcome.parent
    values = {"parent": parent.code, "count": parent.child_count, "capacity": parent.capacity,
              "code": outcome.child.code if outcome.child is not None else ""}
    if outcome.result == "linked" and parent.status == "complete":
        return _("%(code)s added to %(parent)s (%(count)s / %(capacity)s). The parent is "
                 "complete.", **values)
    if outcome.result == "parent_opened":
        values["status"] = _("complete") if parent.status == "complete" else _("open")
    words = {
        "parent_created": N_("New parent %(parent)s started. Scan its bags."),
        "parent_opened": N_("Parent %(parent)s opened (%(count)s / %(capacity)s, %(status)s)."),
        "linked": N_("%(code)s added to %(parent)s (%(count)s / %(capacity)s)."),
        "already_linked": N_("%(code)s is already in %(parent)s. Scan the next bag."),
        "replayed": N_("That scan was already saved."),
        "unlinked": N_("%(code)s taken out of %(parent)s (%(count)s / %(capacity)s)."),
        "completed": N_("%(parent)s is complete with %(count)s / %(capacity)s bags."),
    }
    if outcome.result not in words:
        return outcome.result
    return _(words[outcome.result], **values)
