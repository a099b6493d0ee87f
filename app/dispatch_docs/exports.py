"""CSV and XLSX exports of dispatches (the filtered list) and of one dispatch's parents and
children, streamed like the bag export (app/lookup/exports.py): CSV goes out as it is read,
XLSX is written row by row (constant_memory) into a temporary file that is then sent."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import aliased

from app.dispatch import queries as dispatching
from app.extensions import db
from app.downloads import XLSX_MAX_ROWS, TooManyRows
from app.lookup.exports import cell
from app.models import Bag, Dispatch, DispatchItem, User

LIST_COLUMNS = ("code", "status", "destination", "vehicle_number", "driver", "transporter",
                "reference", "expected_parents", "parents_loaded", "children", "weight_kg",
                "expected_weight_kg", "short_reason", "created_at", "created_by",
                "dispatched_at", "dispatched_by")
ITEM_COLUMNS = ("dispatch", "parent", "parent_state", "parent_children", "loaded_at",
                "loaded_by", "returned_at", "return_reason", "child", "child_linked_at")
CSV_FLUSH_ROWS = 500
LIST_PAGE = 200


def iter_dispatch_rows(args) -> Iterator[dict]:
    """Every dispatch the list's filters (status, q) match, newest first, a page at a time
    through the list's own query: the export and the page agree on what matches."""
    filters = dispatching.parse_filters({key: args.get(key) for key in ("status", "q")})
    filters.limit = LIST_PAGE
    while True:
        page = dispatching.list_dispatches(filters)
        yield from page.items
        if page.next_cursor is None:
            return
        filters = dispatching.parse_filters({key: args.get(key) for key in ("status", "q")}
                                            | {"cursor": page.next_cursor})
        filters.limit = LIST_PAGE


def iter_item_rows(dispatch: Dispatch, batch: int = 1000) -> Iterator[dict]:
    """Each parent ever on the dispatch (loading order; its state says whether it is on the
    truck, returned, or was on a cancelled dispatch) with each of its children, one row per
    child; a parent without children has one row with an empty child."""
    Parent, Child, Loader = aliased(Bag), aliased(Bag), aliased(User)
    stmt = (
        select(Parent.code, DispatchItem.state, Parent.child_count, DispatchItem.loaded_at,
               Loader.username, DispatchItem.returned_at, DispatchItem.return_reason,
               Child.code, Child.linked_at)
        .join(Parent, Parent.id == DispatchItem.parent_id)
        .outerjoin(Loader, Loader.id == DispatchItem.loaded_by_id)
        .outerjoin(Child, Child.parent_id == Parent.id)
        .where(DispatchItem.dispatch_id == dispatch.id)
        .order_by(DispatchItem.id, Child.linked_at, Child.id)
        .execution_options(yield_per=batch))
    for row in db.session.execute(stmt):
        yield dict(zip(ITEM_COLUMNS, (dispatch.code, *row), strict=True))


def csv_chunks(columns: tuple[str, ...], rows: Iterable[dict]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for number, row in enumerate(rows, start=1):
        writer.writerow(["" if value is None else value
                         for value in (cell(row[name]) for name in columns)])
        if number % CSV_FLUSH_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def write_xlsx(columns: tuple[str, ...], rows: Iterable[dict], handle: IO[bytes],
               sheet_name: str) -> int:
    import xlsxwriter

    workbook = xlsxwriter.Workbook(handle, {
        "constant_memory": True, "tmpdir": tempfile.gettempdir(),
        "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False,
    })
    try:
        sheet = workbook.add_worksheet(sheet_name[:31])
        sheet.write_row(0, 0, columns, workbook.add_format({"bold": True}))
        sheet.freeze_panes(1, 0)
        sheet.set_column(0, len(columns) - 1, 16)
        count = 0
        for count, row in enumerate(rows, start=1):
            if count > XLSX_MAX_ROWS:
                raise TooManyRows()
            sheet.write_row(count, 0, [cell(row[name], guard_formulas=False)
                                       for name in columns])
    finally:
        workbook.close()
    return count
