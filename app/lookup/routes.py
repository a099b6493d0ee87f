"""Bag pages: the list with filters, one bag's trace, scan-to-find, exports, and the
supervisor corrections (post, redirect, get)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.auth.decorators import role_required
from app.domain import N_, DomainError, Text
from app.downloads import XLSX_MAX_ROWS, csv_download, xlsx_download
from app.i18n import translate
from app.lookup import exports, queries
from app.lookup.forms import (BagFilterForm, CompleteForm, DeleteForm, FindForm, MoveForm,
                              ReopenForm, UnlinkForm)
from app.rules.codes import CodeError, normalise_code
from app.scanning import corrections
from app.unit_of_work import run

bp = Blueprint("lookup", __name__)

CORRECTION_FORMS = {"unlink": UnlinkForm, "move": MoveForm, "complete": CompleteForm,
                    "reopen": ReopenForm, "delete": DeleteForm}


@bp.context_processor
def bag_links() -> dict:
    """`bag_url` + code: one url_for per page instead of one per row (a list page links
    a hundred codes; building each through the URL map cost more than the query)."""
    return {"bag_url": url_for("lookup.show_bag", code="_")[:-1]}


# --- list, find, trace -------------------------------------------------------------------

@bp.get("/bags")
@login_required
def list_bags():
    form = BagFilterForm(request.args)
    page, error, filters = None, None, None
    try:
        filters = queries.parse_filters(request.args)
        page = queries.list_bags(filters)
    except DomainError as exc:
        error = exc
    args = filters.args if filters else {}
    status = 422 if error else 200
    return render_template(
        "lookup/list.html", form=form, page=page, error=error, args=args,
        unknown_user=bool(filters and filters.user and not queries.user_exists(filters.user)),
        next_url=url_for("lookup.list_bags", **args, cursor=page.next_cursor)
        if page and page.next_cursor else None,
        first_url=url_for("lookup.list_bags", **args) if request.args.get("cursor") else None,
    ), status


@bp.get("/bags/find")
@login_required
def find_bag():
    """The navigation's search box: a wedge scanner types the code and presses Enter."""
    raw = request.args.get("code", "")
    try:
        code = normalise_code(raw)
    except CodeError:
        flash(_("Nothing was scanned. Scan or type a bag's code in the search box."), "warning")
        return redirect(url_for("lookup.list_bags"))
    if queries.find_bag(code) is None:
        return _not_found(code)
    return redirect(url_for("lookup.show_bag", code=code))


def _not_found(code: str, message: str | None = None):
    suggestions = queries.nearest_codes(code) if code else []
    return render_template("lookup/not_found.html", code=code, suggestions=suggestions,
                           message=message, find_form=FindForm(formdata=None)), 404


@bp.get("/bags/<code>")
@login_required
def show_bag(code):
    try:
        canonical = normalise_code(code)
    except CodeError as exc:
        return _not_found("", Text("That code was not accepted. %(reason)s", reason=exc.args[0]))
    if canonical != code:
        return redirect(url_for("lookup.show_bag", code=canonical))
    try:
        bag = queries.trace_bag(canonical)
    except DomainError:
        return _not_found(canonical)
    forms = {}
    if current_user.has_role("supervisor"):
        forms = {name: CORRECTION_FORMS[name](prefix=name) for name in _corrections_for(bag)}
    return render_template("lookup/bag.html", bag=bag, forms=forms)


def _corrections_for(bag: dict) -> list[str]:
    """The corrections that apply to this bag as it is now (the page offers only those)."""
    if bag.get("dispatch"):  # on a dispatch (a child: its parent): refused until taken off
        return []
    if bag["kind"] == "child":
        return (["unlink"] if bag["parent"] else []) + ["move", "delete"]
    return ["complete" if bag["status"] == "open" else "reopen"] + (
        [] if bag["child_count"] else ["delete"])


# --- exports -----------------------------------------------------------------------------

def _export_name(extension: str) -> str:
    return f"bags-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.{extension}"


@bp.get("/bags/export.csv")
@role_required("supervisor")
def export_csv():
    filters = queries.parse_filters(request.args, paginate=False)  # refusals: the handler's
    return csv_download(exports.csv_chunks(queries.iter_export_rows(filters)),
                        _export_name("csv"))


@bp.get("/bags/export.xlsx")
@role_required("supervisor")
def export_xlsx():
    filters = queries.parse_filters(request.args, paginate=False)
    return xlsx_download(
        lambda handle: exports.write_xlsx(queries.iter_export_rows(filters), handle),
        _export_name("xlsx"),
        Text("More than %(count)s bags match: more than a sheet holds. "
             "Narrow the filters (dates, kind) or export CSV instead.",
             count=format(XLSX_MAX_ROWS, ",")))


# --- corrections -------------------------------------------------------------------------

SUCCESS = {
    "unlinked": N_("%(code)s was taken out of %(previous)s. It is now a loose bag."),
    "moved": N_("%(code)s moved from %(previous)s to %(parent)s (%(count)s)."),
    "completed": N_("%(code)s is complete."),
    "reopened": N_("%(code)s is open again."),
    "deleted": N_("%(code)s was deleted. Its history stays in the audit log."),
}


def _correct(action: str, code: str, service, *extra_fields: str):
    form = CORRECTION_FORMS[action](prefix=action)
    args = [getattr(form, name).data for name in extra_fields]
    try:
        outcome = run(service, current_user, code, *args, form.reason.data)
    except DomainError as exc:
        if exc.code == "bag_not_found":  # unknown here (or another site's): 404, as the API
            return _not_found(code if isinstance(code, str) else "", translate(exc.message))
        flash(translate(exc.message), "danger")
        return redirect(url_for("lookup.show_bag", code=code))
    parent = outcome.parent
    flash(_(SUCCESS[outcome.result],
        code=outcome.code,
        previous=outcome.previous_parent.code if outcome.previous_parent else _("no parent"),
        parent=parent.code if parent else "",
        count=f"{parent.child_count} / {parent.capacity}" if parent else ""), "success")
    if outcome.result == "deleted":
        return redirect(url_for("lookup.list_bags"))
    return redirect(url_for("lookup.show_bag", code=outcome.code))


@bp.post("/bags/<code>/unlink")
@role_required("supervisor")
def unlink_bag(code):
    return _correct("unlink", code, corrections.unlink_child)


@bp.post("/bags/<code>/move")
@role_required("supervisor")
def move_bag(code):
    return _correct("move", code, corrections.move_child, "parent")


@bp.post("/bags/<code>/complete")
@role_required("supervisor")
def complete_bag(code):
    return _correct("complete", code, corrections.complete_parent)


@bp.post("/bags/<code>/reopen")
@role_required("supervisor")
def reopen_bag(code):
    return _correct("reopen", code, corrections.reopen_parent)


@bp.post("/bags/<code>/delete")
@role_required("supervisor")
def delete_bag(code):
    return _correct("delete", code, corrections.delete_bag)

