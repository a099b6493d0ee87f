"""Exports of the filtered bag list: every row, not one page, in constant memory.

CSV is streamed as it is read (rows come from a server-side cursor in batches). XLSX is
written by xlsxwriter in constant_memory mode (each row goes to disk as it is written)
into an anonymous temporary file, which is then streamed and removed."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import IO

from app.downloads import XLSX_MAX_ROWS, XLSX_MIMETYPE, TooManyRows  # noqa: F401 - the exports' names
from app.lookup.queries import EXPORT_COLUMNS

CSV_FLUSH_ROWS = 500
# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value, *, guard_formulas: bool = True) -> str | int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if guard_formulas and isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def export_row(row: dict, *, guard_formulas: bool = True) -> list:
    return [cell(row[name], guard_formulas=guard_formulas) for name in EXPORT_COLUMNS]


def csv_chunks(rows: Iterable[dict]) -> Iterator[str]:
    """The CSV text in chunks of a few hundred rows: the header, then every row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for number, row in enumerate(rows, start=1):
        writer.writerow(["" if value is None else value for value in export_row(row)])
        if number % CSV_FLUSH_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def write_xlsx(rows: Iterable[dict], handle: IO[bytes]) -> int:
    """Write the rows as one sheet into `handle`; TooManyRows past what a sheet holds."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(handle, {
        "constant_memory": True, "tmpdir": tempfile.gettempdir(),
        "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False,
    })
    try:
        sheet = workbook.add_worksheet("Bags")
        bold = workbook.add_format({"bold": True})
        sheet.write_row(0, 0, EXPORT_COLUMNS, bold)
        sheet.freeze_panes(1, 0)
        sheet.set_column(0, 0, 14)
        sheet.set_column(6, 6, 34)
        sheet.set_column(8, 8, 34)
        count = 0
        for count, row in enumerate(rows, start=1):
            if count > XLSX_MAX_ROWS:
                raise TooManyRows()
            # Text cells stay text (strings_to_formulas off): no formula guard needed.
            sheet.write_row(count, 0, export_row(row, guard_formulas=False))
    finally:
        workbook.close()
    return count
