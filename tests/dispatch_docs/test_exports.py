"""CSV and XLSX exports of dispatches and of one dispatch's parents and children."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from app.dispatch import services as dispatching
from app.dispatch_docs.exports import ITEM_COLUMNS, LIST_COLUMNS
from app.unit_of_work import run
from tests.dispatch.support import complete_parent, load, new_dispatch
from tests.dispatch_docs.support import dispatched


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def xlsx_rows(response) -> list[list]:
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data), read_only=True).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def two_dispatches(supervisor):
    dispatched(supervisor, "D000001", ["SB00001", "SB00002"], children=3,
               destination="=HYPERLINK(\"x\")", reference="LR-1")
    complete_parent(supervisor, "SB00003", children=2)
    new_dispatch(supervisor, "D000002", expected=5, destination="Pune depot")
    load(supervisor, "D000002", "SB00003")


def test_the_dispatch_list_exports_every_dispatch_newest_first(client, login_as, supervisor,
                                                                  staff):
    two_dispatches(supervisor)
    login_as(staff)

    rows = csv_rows(client.get("/dispatches.csv"))

    assert [row["code"] for row in rows] == ["D000002", "D000001"]
    first, second = rows[1], rows[0]
    assert (first["status"], first["parents_loaded"], first["children"], first["weight_kg"]) == (
        "dispatched", "2", "6", "6")
    assert first["destination"] == "'=HYPERLINK(\"x\")"  # a spreadsheet runs no formula
    assert first["dispatched_by"] == supervisor.username and first["dispatched_at"]
    assert (second["status"], second["parents_loaded"], second["expected_parents"]) == (
        "loading", "1", "5")
    assert list(rows[0]) == list(LIST_COLUMNS)


def test_the_list_export_keeps_the_list_filters(client, login_as, supervisor):
    two_dispatches(supervisor)
    login_as(supervisor)

    assert [row["code"] for row in csv_rows(client.get("/dispatches.csv?status=loading"))] == [
        "D000002"]
    assert [row["code"] for row in csv_rows(client.get("/dispatches.csv?q=pune"))] == ["D000002"]
    refused = client.get("/dispatches.csv?status=lost")
    assert refused.status_code == 422
    assert "status" in refused.get_data(as_text=True)


def test_the_list_export_goes_past_one_page(app, client, login_as, supervisor, monkeypatch):
    from app.dispatch_docs import exports

    monkeypatch.setattr(exports, "LIST_PAGE", 2)
    for number in range(1, 6):
        new_dispatch(supervisor, f"D{number:06d}", expected=1)
    login_as(supervisor)

    codes = [row["code"] for row in csv_rows(client.get("/dispatches.csv"))]

    assert codes == [f"D{number:06d}" for number in range(5, 0, -1)]


def test_the_list_as_xlsx(client, login_as, supervisor):
    two_dispatches(supervisor)
    login_as(supervisor)

    response = client.get("/dispatches.xlsx")

    rows = xlsx_rows(response)
    assert rows[0] == list(LIST_COLUMNS)
    assert [row[0] for row in rows[1:]] == ["D000002", "D000001"]
    assert rows[2][2] == "=HYPERLINK(\"x\")"  # a text cell, never a formula
    assert response.headers["Cache-Control"] == "no-store"


def test_one_dispatch_exports_each_parent_with_each_child(client, login_as, supervisor):
    dispatched(supervisor, "D000001", ["SB00001", "SB00002"], children=2)
    run(dispatching.return_parent, supervisor, "D000001", "SB00002", "torn sack")
    complete_parent(supervisor, "SB00009", children=1)
    login_as(supervisor)

    rows = csv_rows(client.get("/dispatches/d000001/parents.csv"))

    assert list(rows[0]) == list(ITEM_COLUMNS)
    assert [(row["parent"], row["child"], row["parent_state"]) for row in rows] == [
        ("SB00001", "00001000", "loaded"), ("SB00001", "00001001", "loaded"),
        ("SB00002", "00002000", "returned"), ("SB00002", "00002001", "returned")]
    assert {row["dispatch"] for row in rows} == {"D000001"}
    assert rows[2]["return_reason"] == "torn sack" and rows[2]["returned_at"]
    assert rows[0]["loaded_by"] == supervisor.username and rows[0]["child_linked_at"]


def test_a_parent_without_children_still_has_its_row(client, login_as, supervisor):
    complete_parent(supervisor, "SB00001", children=0)
    new_dispatch(supervisor, "D000001", expected=1)
    load(supervisor, "D000001", "SB00001")
    login_as(supervisor)

    rows = xlsx_rows(client.get("/dispatches/D000001/parents.xlsx"))

    assert rows[0] == list(ITEM_COLUMNS)
    assert rows[1][:4] == ["D000001", "SB00001", "loaded", 0]
    assert rows[1][8] is None


def test_an_unknown_dispatch_exports_nothing_and_says_so(client, login_as, staff):
    login_as(staff)
    for suffix in ("csv", "xlsx"):
        response = client.get(f"/dispatches/D404404/parents.{suffix}")
        assert response.status_code == 404


def test_the_pages_link_to_the_documents_with_the_list_filters(client, login_as, supervisor):
    two_dispatches(supervisor)
    login_as(supervisor)

    listing = client.get("/dispatches?status=loading&q=pune").get_data(as_text=True)
    assert 'href="/dispatches.csv?status=loading&amp;q=pune"' in listing
    assert 'href="/dispatches.xlsx?status=loading&amp;q=pune"' in listing
    page = client.get("/dispatches/D000001").get_data(as_text=True)
    assert 'href="/dispatches/D000001/manifest.pdf"' in page
    assert 'href="/dispatches/D000001/parents.csv"' in page
    assert 'href="/dispatches/D000001/parents.xlsx"' in page


def test_an_xlsx_export_past_a_sheet_is_a_422_that_says_what_to_do(client, login_as, supervisor,
                                                                     monkeypatch):
    from app.dispatch_docs import exports
    two_dispatches(supervisor)
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 1)  # the two dispatches no longer fit
    login_as(supervisor)

    response = client.get("/dispatches.xlsx")

    assert response.status_code == 422
    assert "Narrow the search or export CSV" in response.get_data(as_text=True)
