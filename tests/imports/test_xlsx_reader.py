"""Reading XLSX in flat memory (app/imports/xlsx_reader.py): the shared strings are not held
in memory, cells read as openpyxl reads them, a damaged file fails the dry run."""

from __future__ import annotations

import io
import re
import tracemalloc
import zipfile

import pytest
import xlsxwriter
from openpyxl import load_workbook

from app.imports import parsing, xlsx_reader
from app.models import Bag, ImportReportPart
from tests.imports.support import checked, count, job, label, supplier_rows

# --- reading XLSX in flat memory (app/imports/xlsx_reader.py) -------------------------------

def excel_like(rows, rich=None) -> bytes:
    """A workbook as Excel writes it: every text in the shared-strings table (openpyxl would
    write inline strings). `rich` maps (row, column) to xlsxwriter rich-string fragments."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet("Sheet1")
    formats = {"bold": workbook.add_format({"bold": True}),
               "red": workbook.add_format({"font_color": "red"}),
               "date": workbook.add_format({"num_format": "yyyy-mm-dd"})}
    for number, row in enumerate(rows):
        for column, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, str) and value.startswith("="):
                sheet.write_formula(number, column, value)
            elif hasattr(value, "year"):
                sheet.write_datetime(number, column, value, formats["date"])
            else:
                sheet.write(number, column, value)
    for (number, column), parts in (rich or {}).items():
        sheet.write_rich_string(number, column,
                                *(formats.get(part, part) for part in parts))
    workbook.close()
    return buffer.getvalue()


def read_sheet(content: bytes) -> list[tuple[int, tuple]]:
    with parsing.open_rows(io.BytesIO(content), "xlsx", None) as source:
        return list(source.rows)


def openpyxl_rows(content: bytes) -> list[tuple[int, tuple]]:
    """What openpyxl's own read-only iteration gives, blank rows left out."""
    sheet = load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
    return [(number, values) for number, values in
            enumerate(sheet.iter_rows(values_only=True), start=1)
            if any(value is not None for value in values)]


def test_the_shared_strings_table_is_not_held_in_memory():
    """8,000 distinct 600-character labels: openpyxl's list of them would take 5 MiB (the
    reader before peaked at 6.0 MiB here); read from the table on disk, the peak stays under
    2.5 MiB (about 1.1 MiB), and it does not grow with the sheet (loadtests/
    bench_import_memory.py)."""
    labels = [label(f"{n:07d}", n % 1000).ljust(600, ".") for n in range(1, 8001)]
    content = excel_like([["Sr. No.", "QR Code"], *([n, text] for n, text in
                                                    enumerate(labels, start=1))])
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.getinfo("xl/sharedStrings.xml").file_size > 8000 * 600
    read_sheet(excel_like([["Sr. No.", "QR Code"]]))  # every module imported first

    tracemalloc.start()
    try:
        seen = 0
        with parsing.open_rows(io.BytesIO(content), "xlsx", None) as source:
            for number, values in source.rows:
                if number > 1:
                    assert values == (number - 1, labels[number - 2])
                    seen += 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert seen == 8000
    assert peak < 2.5 * 2**20, f"reading the sheet peaked at {peak / 2**20:.2f} MiB"


def test_cells_read_as_openpyxl_reads_them_rich_text_included(monkeypatch, tmp_path):
    """Every kind of cell as openpyxl's own read-only reader gives it: rich text as its plain
    text, the _x005F_ escape, formulas, dates, booleans, gaps; strings used again out of
    order, read back from the scratch file through its cache (both made tiny here). The
    scratch file goes when the rows are read, and the import still refuses formulas."""
    monkeypatch.setattr(xlsx_reader, "FLUSH_STRINGS", 3)
    monkeypatch.setattr(xlsx_reader, "CACHE_STRINGS", 2)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    from datetime import datetime

    rows = [["Sr. No.", "QR Code", "Note"], [1, None, "a_x005F_x000D_b"],
            [2, "0016587", None], [None, None, None], [None, "SB00001"],
            [3, "=A2+1", True], [datetime(2026, 11, 28), "Straße ＳＢ", 2.5]]
    rows += [[n, f"LABEL NO.{n:07d}", None] for n in range(10, 30)]
    rows += [[n, rows[4 + n % 20][1], "Note"] for n in range(30, 60)]  # used again
    content = excel_like(rows, rich={(1, 1): ["LABEL NO.", "bold", "0016586", "red",
                                              " LOT NO.:STAR44GG001"]})
    reader = xlsx_reader.open_workbook(io.BytesIO(content))
    try:
        got = list(xlsx_reader.sheet_rows(reader, reader.wb.worksheets[0]))
    finally:
        reader.wb.close()
        reader.close_strings()
    assert not list(tmp_path.iterdir())
    expected = openpyxl_rows(content)
    assert [(number, values + (None,) * (len(expected_values) - len(values)))
            for (number, values), (_, expected_values) in zip(got, expected, strict=True)
            ] == expected
    assert got[1] == (2, (1, "LABEL NO.0016586 LOT NO.:STAR44GG001", "a_x000D_b"))
    assert got[4][1][1] == "=A2+1" and got[2][1] == (2, "0016587")
    with pytest.raises(parsing.FileRefused, match=r"Cell B6 holds a formula \(=A2\+1\)"):
        read_sheet(content)  # the import's reader still refuses formulas
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("damage", ["missing_strings", "truncated_table"])
def test_a_damaged_shared_strings_table_fails_the_dry_run_and_leaves_nothing(
        app, client, boss, damage, monkeypatch, tmp_path):
    content = excel_like(supplier_rows(("SB00001", ["0016586", "0016587"])))
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, \
            zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/sharedStrings.xml":
                data = (re.sub(rb"<si><t>LABEL.*</si>", b"", data) if damage == "missing_strings"
                        else data[:len(data) - 40])
            target.writestr(info, data)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    record = checked(app, client, buffer.getvalue())  # the header's strings are there
    check = job(record.check_job_id)
    assert check.status == "failed"
    assert "The workbook could not be read" in check.error and "upload that" in check.error
    assert count(ImportReportPart) == 0 and count(Bag) == 0
    assert not [path for path in tmp_path.iterdir() if path.name.startswith("tracetrack-")]


@pytest.mark.parametrize("raw", [
    " sb00001\r\n", "0016586", "ab c", "\u200b0016586\u00a0", "\uff10\uff10\uff11\uff12",
    "x\ty", "\x1d0016586\x00", " ", "", "é0016", "A" * 300,
])
def test_the_fast_normalisation_agrees_with_every_step(raw):
    """normalise_code takes a shortcut for plain ASCII (nearly every cell and scan): it must
    answer what the full normalisation answers."""
    from app.rules.codes import CodeError, _normalise_every_step, normalise_code

    def outcome(function):
        try:
            return function(raw)
        except CodeError as exc:
            return f"refused: {exc}"

    assert outcome(normalise_code) == outcome(_normalise_every_step)
