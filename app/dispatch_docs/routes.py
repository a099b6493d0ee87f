"""A dispatch's documents (issue 20, item 4): the manifest PDF, and CSV / XLSX exports of the
dispatch list and of one dispatch's parents and children. Staff and above read dispatches
(DESIGN 8.7), so all of them may print and export them.

Paths: /dispatches.csv and /dispatches.xlsx stand beside /dispatches (no dispatch code can
clash with them), and one dispatch's documents sit under its code with a fixed last part
(`<path:code>`: a code may hold '/', as a bill number can)."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, request, send_file, stream_with_context

from app.auth.decorators import role_required
from app.dispatch import queries as dispatching
from app.dispatch_docs import exports
from app.dispatch_docs import summary  # noqa: F401 - registers the daily chore (a job-runner chore)
from app.dispatch_docs.documents import manifest_filename, manifest_pdf
from app.domain import N_
from app.errors import error_response
from app.extensions import db
from app.lookup.exports import XLSX_MIMETYPE, TooManyRows
from app.security import current_request_id

bp = Blueprint("dispatch_docs", __name__)

NO_STORE = {"Cache-Control": "no-store"}


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
    chunks = exports.csv_chunks(columns, rows)
    first = next(chunks)  # the first query runs before the status line goes out
    return Response(stream_with_context(_rest_of_stream(first, chunks)), mimetype="text/csv",
                    headers={**NO_STORE,
                             "Content-Disposition": f'attachment; filename="{filename}"'})


def _rest_of_stream(first: str, chunks):
    """As the bag export: an error once the answer has started is logged and cuts the
    connection, so that the download fails rather than looking complete."""
    yield first
    try:
        yield from chunks
    except Exception:
        db.session.rollback()
        current_app.logger.exception("export stopped mid-stream [%s]", current_request_id())
        raise


def _xlsx_response(columns, rows, filename: str, sheet: str):
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # removed when closed
    try:
        exports.write_xlsx(columns, rows, handle, sheet)
    except TooManyRows:
        handle.close()
        return error_response(422, "too_many_rows",
                              N_("More rows than a sheet holds. Narrow the search or export CSV."))
    except BaseException:
        handle.close()
        raise
    handle.seek(0)
    response = send_file(handle, mimetype=XLSX_MIMETYPE, as_attachment=True,
                         download_name=filename, max_age=0)
    response.headers.update(NO_STORE)
    return response


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
