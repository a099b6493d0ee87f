"""Reading uploaded files: what kind of file it is, where its header row is, and its rows one
at a time. An XLSX sheet is streamed by openpyxl's read-only parsers, its shared strings kept
on disk and each row dropped once read (xlsx_reader.py), CSV by the csv module: memory does not
grow with the number of rows or of distinct labels. Formulas and oversized cells refuse the
file.

The two layouts become a stream of units, each a list of operations processed together:
- a plain table (code, kind, parent_code): every row is a unit of its own;
- the suppliers' sheet (Sr. No., QR Code): numbered rows are child labels, and the next row
  holding a parent code closes their batch: the unit is that parent and its labels.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import IO

from app.domain import DomainError
from app.rules.codes import printable

# The values of app.models' PARENT, CHILD (bags) and CSV, XLSX, TABLE, SUPPLIER (imports),
# written out: this module runs in the parse process (parse_child.py), which starts in a
# fraction of the time without importing the models (tests/imports/test_parse_limits.py
# checks that they agree).
PARENT, CHILD = "parent", "child"
CSV, XLSX = "csv", "xlsx"
TABLE, SUPPLIER = "table", "supplier"

MAX_CELL_CHARS = 1000          # no label comes near; a bigger cell means a wrong file
HEADER_SEARCH_ROWS = 20        # title rows above the header are allowed
MAX_UNPACKED_BYTES = 256 * 1024 * 1024  # what a 16 MiB workbook may unpack to (zip bombs)
SNIFF_BYTES = 64 * 1024
MAX_CSV_LINE_CHARS = 64 * 1024  # a CSV line is read no further (then the file is refused)
MAX_CSV_FIELDS = 1000          # columns a row may have (a label sheet has a handful)
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

TABLE_COLUMNS = ("code", "kind", "parent_code")
SUPPLIER_COLUMNS = ("sr_no", "qr_code")
# Header cells compared on their letters and digits only: "Sr. No." -> "srno".
_HEADER_KEYS = {
    "code": "code", "kind": "kind", "parentcode": "parent_code",
    "srno": "sr_no", "sno": "sr_no", "slno": "sr_no", "serialno": "sr_no",
    "qrcode": "qr_code",
}
# "LABEL NO.0016586 LOT NO.:STAR44GG...": the child code is the digits after LABEL NO.
LABEL_NUMBER = re.compile(r"LABEL\s*NO\s*[.:]*\s*(\d+)", re.IGNORECASE)

log = logging.getLogger(__name__)

_UPLOAD_AGAIN = ("Upload the supplier's sheet as an Excel Workbook (.xlsx) or as CSV "
                 "(UTF-8).")


class FileRefused(DomainError):
    """The file cannot be imported at all; `message` says what to do. Nothing is written."""

    def __init__(self, code: str, message: str):
        super().__init__(code, message, 422)


def not_a_spreadsheet(detail: str) -> FileRefused:
    return FileRefused("not_a_spreadsheet",
                       f"This file is not a spreadsheet TraceTrack can read: {detail} "
                       + _UPLOAD_AGAIN)


# --- what kind of file ---------------------------------------------------------------------

_MAGIC = (
    (b"%PDF", "it is a PDF document."),
    (b"\x89PNG", "it is a PNG image."),
    (b"\xff\xd8\xff", "it is a JPEG image."),
    (b"GIF8", "it is a GIF image."),
    (b"\x1f\x8b", "it is a gzip archive."),
    (b"Rar!", "it is a RAR archive."),
    (b"7z\xbc\xaf", "it is a 7-Zip archive."),
    (b"{\\rtf", "it is an RTF document."),
)


def detect_file_type(content: bytes) -> tuple[str, str | None]:
    """('xlsx', None) or ('csv', encoding), judged by the content, never by the name."""
    if not content.strip():
        raise FileRefused("empty_file", "The file is empty. Choose the supplier's file and "
                                        "upload it again.")
    if content.startswith(b"PK\x03\x04"):
        check_workbook_archive(content)
        return XLSX, None
    if content.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileRefused(
            "old_excel_format",
            "This is an old Excel .xls file or a password-protected workbook. Open it in "
            "Excel, remove any password, save it as Excel Workbook (.xlsx) or CSV, and "
            "upload that.")
    for magic, what in _MAGIC:
        if content.startswith(magic):
            raise not_a_spreadsheet(what)
    if b"\x00" in content[:SNIFF_BYTES]:
        raise not_a_spreadsheet("it is not text (a CSV saved as UTF-16, or a binary file).")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            content.decode(encoding)
        except UnicodeDecodeError:
            continue
        return CSV, encoding
    raise not_a_spreadsheet("its text is in no encoding it knows.")


# Each part of a workbook is checked by its declared size before anything parses it
# (issue 17, finding 1: a 9 KB file whose styles part held 1,000,000 <xf/> made openpyxl
# build 740 MiB of style objects). Python's zipfile never unpacks more than a member
# declares (it stops there and checks the CRC), so the declared sizes bound the work.
MAX_MEMBERS = 1000
MAX_STYLES_BYTES = 1024 * 1024          # a real styles part is a few KB to a few hundred
MAX_SMALL_PART_BYTES = 4 * 1024 * 1024  # workbook, relationships, themes, properties...
MAX_RATIO = 100                         # unpacked : packed, for parts of more than...
RATIO_FLOOR_BYTES = 1024 * 1024         # ...this much unpacked (small parts may pack well)
_BIG_PARTS = re.compile(r"^xl/(worksheets/sheet\d+\.xml|sharedStrings\.xml)$")
_MEDIA = re.compile(r"^xl/media/")
_PART_NAMES = {"xl/styles.xml": "styles part", "xl/sharedStrings.xml": "shared-strings part"}


def _part_name(name: str) -> str:
    if _BIG_PARTS.match(name) and name.startswith("xl/worksheets/"):
        return "sheet part (" + name.rsplit("/", 1)[-1] + ")"
    return _PART_NAMES.get(name, "part " + printable(name, 60))


def _too_large(name: str, detail: str) -> FileRefused:
    return FileRefused(
        "file_too_large",
        f"The sheet's {_part_name(name)} is too large: {detail}. A supplier's sheet is far "
        "smaller: open the file in Excel, copy the label columns into a new workbook, save "
        "it as Excel Workbook (.xlsx) or CSV, and upload that.")


def check_workbook_archive(content: bytes) -> None:
    """The archive only, never its XML: member names, each member's size by kind of part
    and its compression ratio, the total. FileRefused says which part is wrong."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise not_a_spreadsheet("it is a damaged ZIP or Excel file.") from None
    if len(infos) > MAX_MEMBERS:
        raise not_a_spreadsheet(f"it holds {len(infos):,} parts; a workbook has a few dozen.")
    names = set()
    for info in infos:
        name = info.filename
        if (name in names or name.startswith("/") or "\\" in name or "\x00" in name
                or ".." in name.split("/")):
            raise not_a_spreadsheet("its parts have names no workbook uses "
                                    f"({printable(name, 60)!r}).")
        names.add(name)
        if info.flag_bits & 0x1:
            raise FileRefused("old_excel_format",
                              "The workbook is password-protected. Open it in Excel, remove "
                              "the password, save it, and upload it again.")
        size = info.file_size
        if _BIG_PARTS.match(name) or _MEDIA.match(name):
            limit = MAX_UNPACKED_BYTES
        elif name == "xl/styles.xml":
            limit = MAX_STYLES_BYTES
        else:
            limit = MAX_SMALL_PART_BYTES
        if size > limit:
            raise _too_large(name, f"it unpacks to {_size(size)}, more than the "
                                   f"{_size(limit)} an import reads")
        if size > RATIO_FLOOR_BYTES and size > MAX_RATIO * max(info.compress_size, 1):
            raise _too_large(name, f"it unpacks from {_size(info.compress_size)} to "
                                   f"{_size(size)}, which no real sheet does")
    if "xl/workbook.xml" not in names:
        raise not_a_spreadsheet("it is a ZIP archive (or a Word or PowerPoint file), "
                                "not an Excel workbook.")
    unpacked = sum(info.file_size for info in infos)
    if unpacked > MAX_UNPACKED_BYTES:
        raise FileRefused(
            "file_too_large",
            f"The workbook unpacks to {unpacked // 2**20} MiB, more than the "
            f"{MAX_UNPACKED_BYTES // 2**20} MiB an import reads. Split it into smaller files.")


def _size(size: int) -> str:
    if size >= 2**20:
        return f"{size / 2**20:,.1f} MiB"
    return f"{max(size, 1) / 1024:,.0f} KB"


# --- rows ----------------------------------------------------------------------------------

@dataclass
class RowSource:
    rows: Iterator[tuple[int, tuple]]   # (row number as the spreadsheet shows it, cells)
    total: int | None                   # rows in the sheet, for the progress bar


@contextmanager
def open_rows(source: IO[bytes], file_type: str, encoding: str | None) -> Iterator[RowSource]:
    """The rows of the file's first sheet, checked cell by cell (formulas, huge cells)."""
    if file_type == XLSX:
        with _xlsx_rows(source) as rows:
            yield rows
    else:
        with _csv_rows(source, encoding or "utf-8-sig") as rows:
            yield rows


@contextmanager
def _xlsx_rows(source: IO[bytes]) -> Iterator[RowSource]:
    from app.imports.xlsx_reader import open_workbook, sheet_rows

    try:
        # openpyxl's read-only reader, data_only=False (formulas show as formulas), with the
        # shared strings on disk and the rows dropped once read (app/imports/xlsx_reader.py).
        reader = open_workbook(source)
    except Exception as exc:  # noqa: BLE001 - a damaged workbook fails in many ways
        raise _unreadable_workbook(exc) from None
    workbook = reader.wb
    try:
        if not workbook.worksheets:
            raise FileRefused("no_sheet", "The workbook has no sheet. " + _UPLOAD_AGAIN)
        sheet = workbook.worksheets[0]
        total = sheet.max_row or _count_sheet_rows(workbook, sheet)
        yield RowSource(_checked(_guard_reader(sheet_rows(reader, sheet))), total)
    finally:
        reader.close_strings()
        workbook.close()


def _unreadable_workbook(exc: Exception) -> FileRefused:
    return FileRefused(
        "unreadable_workbook",
        f"The workbook could not be read ({exc.__class__.__name__}). Open it in Excel, save "
        "it again as Excel Workbook (.xlsx), and upload that.")


def _guard_reader(rows: Iterator) -> Iterator:
    """A damaged sheet fails while it is read: say so as a refused file."""
    from app.imports.xlsx_reader import MAX_XML_RUN, TextTooLong

    try:
        yield from rows
    except FileRefused:
        raise
    except TextTooLong:
        raise FileRefused(
            "cell_too_long",
            f"A cell of the sheet holds more than {MAX_XML_RUN // 1024} KB of text; no label "
            f"or code has more than {MAX_CELL_CHARS} characters. Check that this is the right "
            "file, remove that cell, and upload again.") from None
    except Exception as exc:  # noqa: BLE001 - XML and ZIP errors of a damaged sheet
        raise _unreadable_workbook(exc) from None


def _count_sheet_rows(workbook, sheet) -> int | None:
    """Sheets written without a dimension (many generated files): count their <row> tags,
    streaming the XML, so that the progress bar has a total."""
    try:
        handle = workbook._archive.open(sheet._worksheet_path)
    except (AttributeError, KeyError):
        return None
    count, tail = 0, b""
    with handle:
        while chunk := handle.read(1 << 20):
            data = tail + chunk
            count += data.count(b"<row ") + data.count(b"<row>")
            tail = data[-5:]
            count -= tail.count(b"<row ") + tail.count(b"<row>")
    return count + tail.count(b"<row ") + tail.count(b"<row>")


@contextmanager
def _csv_rows(source: IO[bytes], encoding: str) -> Iterator[RowSource]:
    total = 0
    while chunk := source.read(1 << 20):
        total += chunk.count(b"\n")
    source.seek(0)
    text = io.TextIOWrapper(source, encoding=encoding, newline="")
    sample = text.read(SNIFF_BYTES)
    text.seek(0)
    # Capped while read, not after (issue 17, finding 2: a 16 MiB first line of commas made
    # a row of 16 million fields): no line is read past MAX_CSV_LINE_CHARS, no field (a
    # quoted one may span lines) past as many characters: the csv module's own limit, per
    # process (this runs in the parse process, app/imports/parse_child.py). A field longer
    # than MAX_CELL_CHARS but under that is refused by _checked, naming its cell.
    csv.field_size_limit(MAX_CSV_LINE_CHARS)
    reader = csv.reader(_capped_lines(text), delimiter=_delimiter(sample))

    def rows() -> Iterator[tuple[int, tuple]]:
        try:
            for number, values in enumerate(reader, start=1):
                if len(values) > MAX_CSV_FIELDS:
                    raise _too_many_fields(reader.line_num, len(values))
                yield number, tuple(value if value != "" else None for value in values)
        except csv.Error as exc:
            if "field limit" in str(exc):
                raise FileRefused(
                    "cell_too_long",
                    f"Line {reader.line_num} of the CSV file has a field of more than "
                    f"{MAX_CSV_LINE_CHARS:,} characters; no label or code has as many. Check "
                    "that this is the right file, remove that field, and upload again.") from None
            raise FileRefused(
                "unreadable_csv",
                f"Line {reader.line_num} of the CSV file could not be read ({exc}). Open the "
                "file in a spreadsheet, save it again as CSV (UTF-8), and upload that.") from None

    try:
        yield RowSource(_checked(rows()), total + 1)
    finally:
        text.detach()


def _capped_lines(text: IO[str]) -> Iterator[str]:
    number = 0
    while line := text.readline(MAX_CSV_LINE_CHARS + 1):
        number += 1
        if len(line) > MAX_CSV_LINE_CHARS:
            raise FileRefused(
                "line_too_long",
                f"Line {number} of the CSV file is longer than {MAX_CSV_LINE_CHARS:,} "
                "characters; a supplier's sheet has short lines. Check that this is the "
                "right file, save it again as CSV (UTF-8), and upload that.")
        yield line


def _too_many_fields(line: int, count: int) -> FileRefused:
    return FileRefused(
        "too_many_columns",
        f"Line {line} of the file has {count:,} columns; an import reads at most "
        f"{MAX_CSV_FIELDS}. Check that this is the right file and upload it again.")


def _delimiter(sample: str) -> str:
    """Comma, or the semicolon or tab that some spreadsheets write instead."""
    first = sample.splitlines()[0] if sample else ""
    if "," in first:
        return ","
    for candidate in (";", "\t"):
        if candidate in first:
            return candidate
    return ","


def cell_name(column_index: int, row: int) -> str:
    from openpyxl.utils import get_column_letter

    return f"{get_column_letter(column_index + 1)}{row}"


_PLAIN_VALUES = (str, int, float, Decimal, bool, datetime, date, time)


def _checked(rows: Iterable[tuple[int, tuple]]) -> Iterator[tuple[int, tuple]]:
    for number, values in rows:
        for index, value in enumerate(values):
            if value is None:
                continue
            if isinstance(value, str):
                if value.startswith("="):
                    raise FileRefused(
                        "formula",
                        f"Cell {cell_name(index, number)} holds a formula "
                        f"({printable(value, 40)}). Imports take values only: copy the "
                        "cells, paste them back with Paste Special > Values, save, and "
                        "upload again.")
                if len(value) > MAX_CELL_CHARS:
                    raise FileRefused(
                        "cell_too_long",
                        f"Cell {cell_name(index, number)} holds {len(value):,} characters; "
                        f"no label or code has more than {MAX_CELL_CHARS}. Check that this "
                        "is the right file, remove that cell, and upload again.")
            elif not isinstance(value, _PLAIN_VALUES):  # array and data-table formulas
                raise FileRefused(
                    "formula",
                    f"Cell {cell_name(index, number)} holds a formula. Imports take values "
                    "only: paste the cells back with Paste Special > Values, save, and "
                    "upload again.")
        yield number, values


# --- the header ----------------------------------------------------------------------------

@dataclass
class Header:
    layout: str
    row: int
    columns: dict[str, int]


def header_key(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return _HEADER_KEYS.get(re.sub(r"[^a-z0-9]", "", value.lower()))


def find_header(rows: Iterator[tuple[int, tuple]]) -> Header:
    """Read up to the header row (consuming it); the data rows follow on `rows`."""
    first_seen: tuple | None = None
    for number, values in rows:
        if not any(value is not None for value in values):
            continue
        if first_seen is None:
            first_seen = values
        columns: dict[str, int] = {}
        for index, value in enumerate(values):
            key = header_key(value)
            if key is not None and key not in columns:
                columns[key] = index
        if all(name in columns for name in TABLE_COLUMNS):
            return Header(TABLE, number, columns)
        if all(name in columns for name in SUPPLIER_COLUMNS):
            return Header(SUPPLIER, number, columns)
        if number >= HEADER_SEARCH_ROWS:
            break
    seen = ", ".join(printable(value, 30) for value in (first_seen or ()) if value is not None)
    raise FileRefused(
        "wrong_columns",
        "The first sheet has no header row with the columns code, kind, parent_code (a plain "
        "table) or Sr. No., QR Code (the supplier's sheet) in its first "
        f"{HEADER_SEARCH_ROWS} rows" + (f"; its first row reads: {seen}" if seen else "")
        + ". Name the columns so and upload the file again.")
