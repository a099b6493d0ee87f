"""Reading an XLSX sheet with openpyxl in memory that does not grow with the sheet.

openpyxl's read-only mode streams the sheet's XML, but two things in it still grow with the
file, and this module replaces exactly those two, keeping the rest of openpyxl (the archive,
the workbook and styles, each cell's type, formulas, dates, inline and shared strings):

1. The shared-strings table. Excel stores each distinct text of a workbook once, in
   xl/sharedStrings.xml, and a cell of type "s" holds its index there. openpyxl's
   ExcelReader.read_strings() (openpyxl/reader/excel.py) reads the whole table into a list
   before the first row: about 110 bytes per 60-character label, 9 MiB for 80,000 distinct
   labels and twice that for twice as many. The sheet parser (worksheet/_reader.py,
   WorkSheetParser.parse_cell) uses the table for one thing only:
   `shared_strings[int(value)]`. SharedStrings answers that lookup from a scratch SQLite
   file, and StreamingExcelReader is openpyxl's ExcelReader with read_strings() handing a
   SharedStrings to the workbook instead of the list.

2. The parsed rows. WorkSheetParser.parse() clears each <row> element once read but leaves it
   in the <sheetData> element (about 80 bytes a row, 6 MiB for 80,000 rows), and keeps the
   attributes of every row with a height or a style in row_dimensions. FlatSheetParser.parse()
   drops each row from the tree and forgets its attributes; sheet_rows() runs it over the
   sheet as ReadOnlyWorksheet.iter_rows(values_only=True) would (worksheet/_read_only.py).

Neither is a parser of our own: openpyxl parses every cell. The cost is about a tenth more
time to read a sheet (loadtests/bench_import_memory.py).
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import IO

from openpyxl.cell.text import Text
from openpyxl.reader.excel import SHARED_STRINGS, ExcelReader
from openpyxl.worksheet._reader import DATA_TAG, ROW_TAG, WorkSheetParser
from openpyxl.xml.constants import SHEET_MAIN_NS
from openpyxl.xml.functions import iterparse  # defusedxml's when installed, as openpyxl's

STRING_TAG = f"{{{SHEET_MAIN_NS}}}si"
FLUSH_STRINGS = 256      # strings read are written to disk this many at a time
CACHE_STRINGS = 256      # strings read back from disk kept in memory (least recently used out)
CACHE_PAGES_KIB = 2048   # SQLite's own page cache for the scratch file


# The longest stretch of a sheet's or the shared strings' XML between two "<": it bounds
# every text node (a cell's text) and every tag. A label is a few dozen characters and a
# refused cell more than 1,000 (parsing.MAX_CELL_CHARS, up to 4 bytes each in UTF-8): past
# this the part is refused as it is read, before the XML parser builds the text.
MAX_XML_RUN = 64 * 1024


class TextTooLong(Exception):
    """A run of the XML longer than MAX_XML_RUN: a cell of absurd size."""


class CappedXML:
    """A file-like view of an archive member that counts the characters between tags as
    the XML parser reads them (issue 17, finding 2: one 240 MiB cell became 450-660 MiB of
    a worker before any check saw it)."""

    def __init__(self, source: IO[bytes], limit: int = MAX_XML_RUN):
        self._source, self._limit, self._run = source, limit, 0

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size if size is not None and size > 0 else 1 << 16)
        if not data:
            return data
        first = data.find(b"<")
        if first < 0:
            self._run += len(data)
        else:
            longest = max(self._run + first, max(map(len, data[first + 1:].split(b"<"))))
            self._run = len(data) - data.rfind(b"<") - 1
            if longest > self._limit:
                raise TextTooLong()
        if self._run > self._limit:
            raise TextTooLong()
        return data

    def close(self) -> None:
        self._source.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class SharedStrings(Sequence):
    """The shared strings of one workbook, indexed as openpyxl's list is, held on disk.

    The XML is read incrementally, only as far as the highest index asked for so far, and each
    string read is written to a scratch SQLite file; a string already written is read back by
    its index through a small cache. Excel (and openpyxl) number the strings in the order the
    cells first use them, so a sheet read top to bottom mostly asks for the string just read,
    and checking an upload's header reads only the first few strings.

    Each string is what openpyxl's read_string_table (reader/strings.py) makes of its <si>:
    the plain text of a rich-text string (its runs joined, phonetic guides left out), with
    the "_x005F_" escape undone as openpyxl undoes it. An index past the end (or a negative
    one, which openpyxl's list would wrap around) raises IndexError: the sheet names a string
    the workbook does not have. close() removes the scratch file."""

    def __init__(self, open_xml: Callable[[], IO[bytes]]):
        self._open_xml = open_xml
        self._strings: Iterator[str] | None = None
        self._read = 0                      # strings read from the XML so far
        self._stored = 0                    # of which written to disk
        self._pending: list[str] = []       # read, not yet written: indexes _stored.._read-1
        self._complete = False
        self._cache: OrderedDict[int, str] = OrderedDict()
        self._folder: tempfile.TemporaryDirectory | None = None
        self._db: sqlite3.Connection | None = None

    def __getitem__(self, index):
        if not isinstance(index, int):
            raise TypeError("shared strings are looked up one index at a time")
        if index < 0:
            raise IndexError(index)
        while index >= self._read and self._read_one():
            pass
        if index >= self._read:
            raise IndexError(index)
        if index >= self._stored:
            return self._pending[index - self._stored]
        text = self._cache.get(index)
        if text is None:
            (text,) = self._db.execute("SELECT text FROM strings WHERE id = ?",
                                       (index,)).fetchone()
            self._cache[index] = text
            if len(self._cache) > CACHE_STRINGS:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(index)
        return text

    def __len__(self) -> int:
        while self._read_one():
            pass
        return self._read

    def close(self) -> None:
        if self._strings is not None:
            self._strings.close()  # closes the archive member it reads
            self._strings = None
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None
        self._pending, self._cache = [], OrderedDict()

    def _read_one(self) -> bool:
        """Read the next string from the XML; False at its end."""
        if self._complete:
            return False
        if self._strings is None:
            self._strings = _string_texts(self._open_xml)
        text = next(self._strings, None)
        if text is None:
            self._complete = True
            self._strings = None
            return False
        self._pending.append(text)
        self._read += 1
        if len(self._pending) >= FLUSH_STRINGS:
            self._flush()
        return True

    def _flush(self) -> None:
        if self._db is None:
            self._folder = tempfile.TemporaryDirectory(prefix="tracetrack-strings-")
            self._db = sqlite3.connect(f"{self._folder.name}/strings.db", isolation_level=None)
            self._db.execute("PRAGMA journal_mode = OFF")
            self._db.execute("PRAGMA synchronous = OFF")
            self._db.execute(f"PRAGMA cache_size = -{CACHE_PAGES_KIB}")
            self._db.execute("CREATE TABLE strings (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
        self._db.execute("BEGIN")
        self._db.executemany("INSERT INTO strings VALUES (?, ?)",
                             enumerate(self._pending, start=self._stored))
        self._db.execute("COMMIT")
        self._stored += len(self._pending)
        self._pending = []


def _string_texts(open_xml: Callable[[], IO[bytes]]) -> Iterator[str]:
    """The text of each <si> of the table in turn. Each <si> is dropped from the tree once
    read (the parser may already have started the next one: it is built on regardless)."""
    with open_xml() as source:
        root = None
        for event, node in iterparse(source, events=("start", "end")):
            if root is None:
                root = node
            elif event == "end" and node.tag == STRING_TAG:
                text = Text.from_tree(node).content.replace("x005F_", "")
                root.clear()
                yield text


class StreamingExcelReader(ExcelReader):
    """openpyxl's ExcelReader with the shared strings as a SharedStrings instead of a list.
    Meant for read_only=True and sheet_rows(); close_strings() when done."""

    def read_strings(self) -> None:
        part = self.package.find(SHARED_STRINGS)
        if part is not None:
            path = part.PartName[1:]
            self.shared_strings = SharedStrings(lambda: CappedXML(self.archive.open(path)))

    def close_strings(self) -> None:
        if isinstance(self.shared_strings, SharedStrings):
            self.shared_strings.close()


class FlatSheetParser(WorkSheetParser):
    """openpyxl's sheet parser reading the rows only (all that a read-only iteration uses),
    each dropped from the XML tree and its attributes forgotten once read."""

    def parse(self) -> Iterator[tuple[int, list[dict]]]:
        sheet_data = None
        for event, element in iterparse(self.source, events=("start", "end")):
            if event == "start":
                if element.tag == DATA_TAG and sheet_data is None:
                    sheet_data = element
            elif element.tag == ROW_TAG:
                number, cells = self.parse_row(element)
                element.clear()
                if sheet_data is not None and len(sheet_data) and sheet_data[0] is element:
                    del sheet_data[0]
                self.row_dimensions.clear()
                yield number, cells


def open_workbook(source: IO[bytes]) -> StreamingExcelReader:
    """load_workbook(source, read_only=True, data_only=False), with the shared strings on
    disk: the workbook is reader.wb. The caller closes reader.wb and reader.close_strings()."""
    reader = StreamingExcelReader(source, read_only=True, data_only=False)
    try:
        reader.read()
    except BaseException:
        reader.close_strings()
        reader.archive.close()
        raise
    return reader


def sheet_rows(reader: StreamingExcelReader, sheet) -> Iterator[tuple[int, tuple]]:
    """(row number, cell values from column A) of each row the sheet's XML holds, as
    ReadOnlyWorksheet.iter_rows(values_only=True) gives them, but without padding rows to
    the sheet's width or yielding rows the XML leaves out (both blank), and without stopping
    at the row count a <dimension> claims. As openpyxl does, a row numbered no higher than
    the one before it is skipped."""
    workbook = reader.wb
    with CappedXML(workbook._archive.open(sheet._worksheet_path)) as source:
        parser = FlatSheetParser(source, reader.shared_strings, data_only=False,
                                 epoch=workbook.epoch, date_formats=workbook._date_formats,
                                 timedelta_formats=workbook._timedelta_formats)
        last = 0
        for number, cells in parser.parse():
            if number <= last:
                continue
            last = number
            values = [None] * (max(cell["column"] for cell in cells) if cells else 0)
            for cell in cells:
                values[cell["column"] - 1] = cell["value"]
            yield number, tuple(values)
