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
import json
import logging
import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import IO

from app.rules.codes import MAX_RAW_LENGTH, CodeError, matches, normalise_code, printable

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


class FileRefused(Exception):
    """The file cannot be imported at all; `message` says what to do. Nothing is written."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


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


def inspect_upload(content: bytes) -> tuple[str, str | None, Header]:
    """At upload: the file's type, encoding and header, or FileRefused. The request checks
    the file's kind and, for a workbook, its archive (check_workbook_archive); the header
    is read in a parse process (ParseProcess), never in the worker."""
    file_type, encoding = detect_file_type(content)
    with tempfile.TemporaryFile(prefix="tracetrack-upload-") as handle:
        handle.write(content)
        handle.flush()
        with ParseProcess(handle, "header", file_type, encoding) as child:
            header = child.header
    return file_type, encoding, header


# --- the parse process ---------------------------------------------------------------------

DEFAULT_PARSE_MEMORY_MB = 256
DEFAULT_PARSE_SECONDS = 120
HEADER_SECONDS = 30                    # at most, for the upload request's header check
MAX_MESSAGE_BYTES = 256 * 1024 * 1024  # one unit of the parse process's answer, at most


@dataclass
class UnitSource:
    units: Iterator[Unit]
    total: int | None    # rows in the sheet, for the progress bar
    header: Header


@contextmanager
def open_units(source: IO[bytes], file_type: str, encoding: str | None,
               parent_pattern: str) -> Iterator[UnitSource]:
    """The file's header and units, read by a parse process under the import's limits:
    what open_rows + find_header + units give in this process, without parsing here.
    FileRefused when the file is refused, or goes over a limit, at any point."""
    with ParseProcess(source, "units", file_type, encoding, parent_pattern) as child:
        yield UnitSource(child.units(), child.total, child.header)


def parse_limits() -> tuple[int, int]:
    """(memory in MiB, seconds) of a parse process: IMPORT_PARSE_MEMORY_MB and
    IMPORT_PARSE_SECONDS of the app's config (the defaults outside an app)."""
    from flask import current_app, has_app_context

    if not has_app_context():
        return DEFAULT_PARSE_MEMORY_MB, DEFAULT_PARSE_SECONDS
    config = current_app.config
    return (config.get("IMPORT_PARSE_MEMORY_MB", DEFAULT_PARSE_MEMORY_MB),
            config.get("IMPORT_PARSE_SECONDS", DEFAULT_PARSE_SECONDS))


class ParseProcess:
    """One run of app/imports/parse_child.py over an open file (its descriptor is passed on;
    the file is read from its start). A new interpreter through subprocess (fork and exec,
    nothing else inherited): safe from a threaded gunicorn worker that was forked from a
    preloading master, where a multiprocessing 'fork' would copy the worker's locks.

    Entering reads up to the header (FileRefused if the file is refused before it); units()
    streams the rest. A silence of the seconds limit, a death by a signal (SIGXCPU at the
    processor-time limit) or an answer that breaks the protocol fail the file with a message
    a supervisor understands; leaving always ends the process."""

    def __init__(self, source: IO[bytes], mode: str, file_type: str, encoding: str | None,
                 parent_pattern: str | None = None):
        self.memory_mb, self.seconds = parse_limits()
        if mode == "header":  # the upload request waits for it: the top of the file only
            self.seconds = min(self.seconds, HEADER_SECONDS)
        self._source = source
        self._request = {"mode": mode, "file_type": file_type, "encoding": encoding,
                         "parent_pattern": parent_pattern, "memory_mb": self.memory_mb,
                         "seconds": self.seconds}
        self._process: subprocess.Popen | None = None
        self._ended = False
        self._buffer = b""
        self.header: Header | None = None
        self.total: int | None = None

    def __enter__(self) -> ParseProcess:
        self._source.seek(0)
        fd = self._source.fileno()
        self._process = subprocess.Popen(  # noqa: S603 - our own module, no shell
            [sys.executable, "-m", "app.imports.parse_child",
             json.dumps({**self._request, "fd": fd})],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, pass_fds=(fd,),
            cwd=_PROJECT_ROOT, env=_child_environment())
        try:
            first = self._receive()
            self.header = Header(first["header"]["layout"], first["header"]["row"],
                                 dict(first["header"]["columns"]))
            self.total = first.get("total")
        except BaseException:
            self._end()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._end()

    def units(self) -> Iterator[Unit]:
        while True:
            message = self._receive()
            if message.get("end"):
                return
            yield Unit([Op(row, kind, code, parent, parent_row,
                           tuple(error) if error else None, scan)
                        for row, kind, code, parent, parent_row, error, scan
                        in message["unit"]])

    def _receive(self) -> dict:
        while b"\n" not in self._buffer:
            chunk = self._read_some()
            if not chunk:
                raise self._died()
            self._buffer += chunk
            if len(self._buffer) > MAX_MESSAGE_BYTES:
                raise self._failed("its answer was too long")
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            message = json.loads(line)
        except ValueError:
            raise self._failed("its answer could not be read") from None
        if not isinstance(message, dict):
            raise self._failed("its answer could not be read")
        if "refused" in message:
            code, text = message["refused"]
            raise FileRefused(str(code), str(text))
        return message

    def _read_some(self) -> bytes:
        stdout = self._process.stdout
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            if not selector.select(timeout=self.seconds):
                self._end()
                raise _too_slow(self.seconds)
        return os.read(stdout.fileno(), 1 << 20)

    def _died(self) -> FileRefused:
        status = self._process.wait(timeout=10)
        if status == -signal.SIGXCPU or status == -signal.SIGKILL:
            return _too_slow(self.seconds)
        log.warning("import parse process ended with status %s", status)
        return FileRefused(
            "unreadable_file",
            f"The file could not be read within an import's limits ({self.memory_mb} MiB of "
            f"memory, {self.seconds} seconds). Check that this is the right file; save it "
            "again as Excel Workbook (.xlsx) or CSV, and upload that.")

    def _failed(self, why: str) -> FileRefused:
        self._end()
        log.warning("import parse process: %s", why)
        return FileRefused("unreadable_file",
                           "The file could not be read. Save it again as Excel Workbook "
                           "(.xlsx) or CSV, and upload that.")

    def _end(self) -> None:
        process = self._process
        if process is None or self._ended:
            return
        self._ended = True
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stdout.close()


def _too_slow(seconds: int) -> FileRefused:
    return FileRefused(
        "file_too_slow",
        f"Reading the file took longer than the {seconds} seconds an import may take: it "
        "is far larger or more complex than a supplier's sheet. Check that this is the right "
        "file; save the label columns as CSV and upload that.")


_PROJECT_ROOT = str(Path(__file__).resolve().parents[2])


def _child_environment() -> dict[str, str]:
    """What the parse process needs and nothing more: no secret key, no database address."""
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR", "HOME")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env.update(PYTHONPATH=_PROJECT_ROOT, PYTHONDONTWRITEBYTECODE="1",
               TMPDIR=tempfile.gettempdir())
    return env


# --- operations ----------------------------------------------------------------------------

@dataclass(slots=True)
class Op:
    """One row as a scan: a parent, or a child into `parent`. `error` refuses the row before
    any lookup (it could not be read as a scan); such rows are reported, not recorded as scan
    events unless `scan` says the row was a real scan attempt."""

    row: int
    kind: str
    code: str
    parent: str | None = None
    parent_row: int | None = None
    error: tuple[str, str] | None = None
    scan: bool = True


@dataclass
class Unit:
    ops: list[Op] = field(default_factory=list)

    @property
    def first_row(self) -> int:
        return min(op.row for op in self.ops)

    @property
    def last_row(self) -> int:
        return max(op.row for op in self.ops)


def units(rows: Iterator[tuple[int, tuple]], header: Header, parent_pattern: str) -> Iterator[Unit]:
    if header.layout == TABLE:
        return _table_units(rows, header)
    return _supplier_units(rows, header, parent_pattern)


def _cell(values: tuple, index: int):
    value = values[index] if index < len(values) else None
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _number_refusal(row: int, kind: str, value) -> Op:
    return Op(row, kind, printable(value), error=(
        "code_is_number",
        "The code is stored as a number in the sheet, which loses leading zeros. Format the "
        "column as Text, type the code again, and import the row again."), scan=False)


def _table_units(rows, header: Header) -> Iterator[Unit]:
    code_at, kind_at, parent_at = (header.columns[name] for name in TABLE_COLUMNS)
    for number, values in rows:
        code, kind, parent = (_cell(values, index) for index in (code_at, kind_at, parent_at))
        if code is None and kind is None and parent is None:
            continue
        kind_text = kind.strip().lower() if isinstance(kind, str) else ""
        op_kind = PARENT if kind_text == PARENT else CHILD
        if code is None:
            op = Op(number, op_kind, "", error=(
                "missing_code", "The code cell is empty. Fill it in, or delete the row."),
                scan=False)
        elif not isinstance(code, str):
            op = _number_refusal(number, op_kind, code)
        elif kind_text not in (PARENT, CHILD):
            op = Op(number, op_kind, code, error=(
                "invalid_kind", f"kind must be parent or child, not "
                                f"{printable(kind) if kind is not None else 'empty'}."),
                scan=False)
        elif parent is not None and not isinstance(parent, str):
            op = _number_refusal(number, op_kind, parent)
        elif kind_text == PARENT and parent is not None:
            op = Op(number, PARENT, code, error=(
                "invalid_row", "A parent cannot go into another parent: clear its "
                               "parent_code, or mark the row as a child."), scan=False)
        elif kind_text == CHILD and parent is None:
            op = Op(number, CHILD, code, error=(
                "missing_parent_code", "A child needs its parent's code in parent_code."),
                scan=False)
        else:
            op = Op(number, op_kind, code, parent=parent)
        yield Unit([op])


def normalise(raw: object) -> str:
    """normalise_code(), with a fast path for the plain ASCII text of almost every cell: such
    text holds no control, invisible or full-width characters, so stripping and
    upper-casing it is all normalise_code would do."""
    if isinstance(raw, str) and raw.isascii() and raw.isprintable() \
            and len(raw) <= MAX_RAW_LENGTH:
        code = raw.strip().upper()
        if code:
            return code
    return normalise_code(raw)


def _parent_code(value, parent_pattern: str) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        code = normalise(value)
    except CodeError:
        return None
    return code if matches(parent_pattern, code) else None


def _is_number(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float | Decimal):
        return True
    return isinstance(value, str) and re.fullmatch(r"\s*\d+(\.0*)?\s*", value) is not None


def _supplier_units(rows, header: Header, parent_pattern: str) -> Iterator[Unit]:
    number_at, code_at = header.columns["sr_no"], header.columns["qr_code"]
    pending: list[Op] = []
    for number, values in rows:
        serial, label = _cell(values, number_at), _cell(values, code_at)
        if serial is None and label is None:
            continue  # blank rows are skipped
        parent = _parent_code(label, parent_pattern)
        if parent is None and not _is_number(serial):
            parent = _parent_code(serial, parent_pattern)
        if parent is not None:
            for child in pending:
                child.parent, child.parent_row = parent, number
            yield Unit([Op(number, PARENT, parent), *pending])
            pending = []
        elif _is_number(serial):
            pending.append(_label_op(number, label))
        else:
            yield _unreadable_row(number, label if label is not None else serial, pending,
                                  parent_pattern)
            pending = []
    if pending:
        for child in pending:
            if child.error is None:
                child.error = ("parent_not_found",
                               "No parent row follows this label: the file ends after its "
                               "batch. Add the parent's code below the batch and import the "
                               "file again.")
        yield Unit(pending)


def _label_op(number: int, label) -> Op:
    if label is None:
        return Op(number, CHILD, "", error=(
            "missing_code", "This numbered row has no QR Code. Fill it in, or delete the row."),
            scan=False)
    if not isinstance(label, str):
        return _number_refusal(number, CHILD, label)
    match = LABEL_NUMBER.search(label)
    return Op(number, CHILD, match.group(1) if match else label)


def _unreadable_row(number: int, value, pending: list[Op], parent_pattern: str) -> Unit:
    text = printable(value, 40)
    if not pending:
        return Unit([Op(number, PARENT, text, error=(
            "unreadable_row",
            "This row is neither a numbered label nor a parent code. Fix or delete it."),
            scan=False)])
    # The row that should close the batch names no parent: putting the labels above it into
    # the next parent would be wrong, so the batch is refused whole.
    closing = Op(number, PARENT, text, error=(
        "invalid_code",
        f"This row should close the batch of {len(pending)} labels above it with a parent "
        f"code, but {text!r} is not one (pattern {parent_pattern}). Fix the parent code and "
        "import the file again."))
    for child in pending:
        if child.error is None:
            child.error = ("parent_not_found",
                           f"The row closing this batch (row {number}) holds no parent code; "
                           "nothing in the batch was imported.")
    return Unit([closing, *pending])
