"""A dispatch's documents (issue 20, item 4): the manifest PDF, and CSV / XLSX exports of the
dispatch list and of one dispatch's parents and children. Staff and above read dispatches
(DESIGN 8.7), so all of them may print and export them.

Paths: /dispatches.csv and /dispatches.xlsx stand beside /dispatches (no dispatch code can
clash with them), and one dispatch's documents sit under its code with a fixed last part
(`<path:code>`: a code may hold '/', as a bill number can)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, request

from app.auth.decorators import role_required
from app.dispatch import queries as dispatching
from app.dispatch_docs import exports
from app.dispatch_docs import summary  # noqa: F401 - registers the daily chore (a job-runner chore)
from app.dispatch_docs.documents import manifest_filename, manifest_pdf
from app.downloads import NO_STORE, csv_download, xlsx_download

bp = Blueprint("dispatch_docs", __name__)

@bp.get("/dispatches/<path:code>/manifest.pdf")
@role_required("staff")
def manifest(code):
    found, pdf = manifest_pdf(code)
    # Shown in the browser (inline) so that it prints from there; the name is kept on save.
    return Response(pdf, mimetype="application/pdf", headers={
        **NO_STORE, "Content-Disposition": f'inline; filename="{manifest_filename(found)}"'})


# --- exports -----------------------------------------------------------------------------

def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _csv_response(columns, rows, filename: str) -> Response:
    return csv_download(exports.csv_chunks(columns, rows), filename)


def _xlsx_response(columns, rows, filename: str, sheet: str) -> Response:
    return xlsx_download(lambda handle: exports.write_xlsx(columns, rows, handle, sheet),
                         filename)


@bp.get("/dispatches.csv")
@role_required("staff")
def export_dispatches_csv():
    rows = exports.iter_dispatch_rows(request.args)
    return _csv_response(exports.LIST_COLUMNS, rows, f"dispatches-{_stamp()}.csv")


@bp.get("/dispatches.xlsx")
@role_required("staff")
def export_dispatches_xlsx():
    rows = exports.iter_dispatch_rows(request.args)
    return _xlsx_response(exports.LIST_COLUMNS, rows, f"dispatches-{_stamp()}.xlsx",
                          "Dispatches")


def _items(code: str):
    dispatch = dispatching.find_dispatch(code)
    safe = dispatch.code.replace("/", "-")
    return dispatch, exports.iter_item_rows(dispatch), f"dispatch-{safe}-parents-{_stamp()}"


@bp.get("/dispatches/<path:code>/parents.csv")
@role_required("staff")
def export_items_csv(code):
    _dispatch, rows, name = _items(code)
    return _csv_response(exports.ITEM_COLUMNS, rows, f"{name}.csv")


@bp.get("/dispatches/<path:code>/parents.xlsx")
@role_required("staff")
def export_items_xlsx(code):
    _dispatch, rows, name = _items(code)
    return _xlsx_response(exports.ITEM_COLUMNS, rows, f"{name}.xlsx", "Parents and children")
