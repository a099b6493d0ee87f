"""Exports of the filtered bag list (issue 4): every row, not one page, with the same
columns and rows as the list; CSV streamed, XLSX in constant-memory mode; times in
ISO 8601 with offset; supervisors and admins only."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest

from app.lookup import exports
from app.lookup import queries as services
from app.lookup.queries import EXPORT_COLUMNS
from tests.helpers import all_pages, fill_parent, set_created_at

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


@pytest.fixture
def bags(staff, make_user):
    other = make_user("otto", "staff")
    for p in range(1, 8):  # 7 parents with 0..6 children: 28 bags
        fill_parent(staff if p % 2 else other, f"SB{p:05d}",
                    [f"{p:03d}{c:04d}" for c in range(1, p)])
    start = datetime(2026, 11, 1, tzinfo=UTC)
    set_created_at("SB00003", start)  # an old one, for the date filters
    set_created_at("SB00004", start + timedelta(seconds=1))
    return 28


def expected_rows(client, **filters) -> list[list[str]]:
    """The list through the API, every page, as export rows (text as CSV writes it)."""
    rows = []
    for item in all_pages(client, limit=3, **filters):
        rows.append(["" if item[c] is None else str(item[c]) for c in EXPORT_COLUMNS])
    return rows


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def read_xlsx(data: bytes) -> list[list[str]]:
    """The first sheet's cells as text (inline or shared strings, numbers), row by row."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        shared = []
        if "xl/sharedStrings.xml" in archive.namelist():
            root = ElementTree.fromstring(archive.read("xl/sharedStrings.xml"))  # noqa: S314 - our own export
            shared = ["".join(t.text or "" for t in si.iter(f"{{{NS['m']}}}t"))
                      for si in root.findall("m:si", NS)]
        sheet = ElementTree.fromstring(archive.read("xl/worksheets/sheet1.xml"))  # noqa: S314
    rows = []
    for row in sheet.iter(f"{{{NS['m']}}}row"):
        cells = [""] * len(EXPORT_COLUMNS)
        for cell in row.findall("m:c", NS):
            column = ord(re.match(r"[A-Z]+", cell.get("r")).group(0)) - ord("A")
            kind = cell.get("t")
            if kind == "inlineStr":
                value = "".join(t.text or "" for t in cell.iter(f"{{{NS['m']}}}t"))
            elif kind == "s":
                value = shared[int(cell.find("m:v", NS).text)]
            else:
                value = cell.find("m:v", NS).text
                value = str(int(float(value))) if value is not None else ""
            cells[column] = value
        rows.append(cells)
    return rows


FILTER_SETS = [{}, {"kind": "child"}, {"kind": "parent", "status": "open"},
               {"q": "SB0000"}, {"user": "otto"}, {"created_to": "2026-11-01"},
               {"status": "unlinked"}]


@pytest.mark.parametrize("filters", FILTER_SETS)
def test_csv_has_every_row_and_column_of_the_filtered_list(client, login_as, supervisor, bags,
                                                           filters):
    login_as(supervisor)

    response = client.get("/bags/export.csv", query_string=filters)

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.is_streamed
    assert re.match(r'attachment; filename="bags-\d{8}T\d{6}Z\.csv"',
                    response.headers["Content-Disposition"])
    header, *rows = read_csv(response)
    assert header == list(EXPORT_COLUMNS)
    assert rows == expected_rows(client, **filters)


@pytest.mark.parametrize("filters", FILTER_SETS)
def test_xlsx_has_every_row_and_column_of_the_filtered_list(client, login_as, supervisor, bags,
                                                            filters):
    login_as(supervisor)

    response = client.get("/bags/export.xlsx", query_string=filters)

    assert response.status_code == 200
    assert response.mimetype == exports.XLSX_MIMETYPE
    header, *rows = read_xlsx(response.get_data())
    assert header == list(EXPORT_COLUMNS)
    assert rows == expected_rows(client, **filters)


def test_the_export_is_not_one_page(client, login_as, supervisor, bags, monkeypatch):
    monkeypatch.setattr(services, "PAGE_SIZE", 5)
    login_as(supervisor)

    csv_rows = read_csv(client.get("/bags/export.csv"))[1:]
    xlsx_rows = read_xlsx(client.get("/bags/export.xlsx").get_data())[1:]
    first_page = client.get("/api/v1/bags").get_json()

    assert len(first_page["items"]) == 5 and first_page["next_cursor"]
    assert len(csv_rows) == len(xlsx_rows) == bags == 28


def test_times_are_iso_8601_with_offset(client, login_as, supervisor, bags):
    login_as(supervisor)

    header, *rows = read_csv(client.get("/bags/export.csv", query_string={"kind": "child"}))
    created, linked = header.index("created_at"), header.index("linked_at")

    for row in rows:
        for value in (row[created], row[linked]):
            assert datetime.fromisoformat(value).utcoffset() == timedelta(0)
            assert value.endswith("+00:00")


def test_an_empty_export_has_the_header_only(client, login_as, supervisor, bags):
    login_as(supervisor)

    assert read_csv(client.get("/bags/export.csv", query_string={"q": "ZZZ"})) == [
        list(EXPORT_COLUMNS)]
    assert read_xlsx(client.get("/bags/export.xlsx", query_string={"q": "ZZZ"}).get_data()) == [
        list(EXPORT_COLUMNS)]


def test_bad_filters_are_refused_before_any_export(client, login_as, supervisor, bags):
    login_as(supervisor)

    for path in ("/bags/export.csv", "/bags/export.xlsx"):
        response = client.get(path, query_string={"status": "full"})
        assert response.status_code == 422
        assert "status must be open" in response.get_data(as_text=True)


def test_staff_may_not_export(client, login_as, staff, bags):
    login_as(staff)

    assert client.get("/bags/export.csv").status_code == 403
    assert client.get("/bags/export.xlsx").status_code == 403


def test_a_cell_that_a_spreadsheet_would_run_is_quoted_in_csv():
    assert exports.cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert exports.cell("@SUM(A1)") == "'@SUM(A1)"
    assert exports.cell("M444-00001") == "M444-00001"
    assert exports.cell("=1", guard_formulas=False) == "=1"


def test_csv_is_written_in_chunks_as_rows_arrive():
    rows = ({name: f"{name}{n}" for name in EXPORT_COLUMNS} for n in range(1201))

    chunks = list(exports.csv_chunks(rows))

    assert len(chunks) == 3  # 500 + 500 + 201 rows (with the header in the first)
    assert sum(chunk.count("\r\n") for chunk in chunks) == 1202


def test_xlsx_refuses_more_rows_than_a_sheet_holds(monkeypatch, tmp_path):
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 3)
    rows = [{name: "x" for name in EXPORT_COLUMNS}] * 4

    with open(tmp_path / "out.xlsx", "wb") as handle, pytest.raises(exports.TooManyRows):
        exports.write_xlsx(rows, handle)


def test_xlsx_export_over_the_sheet_limit_is_a_422(client, login_as, supervisor, bags,
                                                   monkeypatch):
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 5)
    login_as(supervisor)

    response = client.get("/bags/export.xlsx")

    assert response.status_code == 422
    assert "export CSV instead" in response.get_data(as_text=True)


def test_xlsx_is_written_in_constant_memory_mode(monkeypatch, tmp_path):
    import xlsxwriter

    options_seen = []
    real = xlsxwriter.Workbook

    def spy(handle, options):
        options_seen.append(options)
        return real(handle, options)

    monkeypatch.setattr(xlsxwriter, "Workbook", spy)
    with open(tmp_path / "out.xlsx", "wb") as handle:
        exports.write_xlsx([], handle)

    assert options_seen[0]["constant_memory"] is True
