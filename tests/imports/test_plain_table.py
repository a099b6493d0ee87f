"""The plain table (code, kind, parent_code) in CSV and XLSX follows the scan rules; the
same file imported twice changes nothing the second time."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Bag, ScanEvent
from app.scanning import services as scanning
from app.scanning.transaction import run_scan
from tests.helpers import check_invariants
from tests.imports.support import (CLEAN_SHEET, bag, checked, count, csv_bytes, events, imported,
                                   latest_import, outcomes, report, run_jobs, xlsx)

# --- the plain table ---------------------------------------------------------------------

@pytest.fixture
def scanned_bags(boss):
    """SB00010 holding 0000111; 0000222 a loose child (linked, then undone)."""
    run_scan(scanning.scan_parent, boss, "SB00010")
    run_scan(scanning.scan_child, boss, "SB00010", "0000111")
    run_scan(scanning.scan_child, boss, "SB00010", "0000222")
    run_scan(scanning.undo_scan, boss, raw_code="0000222")
    return boss


def test_a_plain_csv_table_follows_the_scan_rules(app, client, scanned_bags):
    before = count(ScanEvent)
    rows = [
        ["code", "kind", "parent_code"],
        ["SB00020", "parent", ""],               # 2 parent_created
        ["0000301", "child", "SB00020"],         # 3 linked (a new child)
        ["0000222", "child", "SB00020"],         # 4 linked (the loose child)
        ["0000111", "child", "SB00020"],         # 5 child_in_other_parent
        ["0000301", "child", "SB00020"],         # 6 already_linked (twice in the file)
        ["SB00021", "child", "SB00020"],         # 7 code_is_parent
        ["0000301", "parent", ""],               # 8 code_is_child
        ["0000302", "Child", "sb00022"],         # 9 linked; SB00022 created by it
        ["0000303", "child", "XYZ"],             # 10 invalid_code (not a parent code)
        ["AB", "child", "SB00020"],              # 11 invalid_code (child pattern)
        ["0000304", "box", "SB00020"],           # 12 invalid_kind
        ["", "child", "SB00020"],                # 13 missing_code
        ["0000305", "child", ""],                # 14 missing_parent_code
        ["", "", ""],                            # blank: skipped
        ["00165860016586", "child", "SB00020"],  # 16 invalid_code (read twice)
        [" sb00020 ", "parent", ""],             # 17 parent_exists
        ["+1234", "child", "SB00020"],           # 18 invalid_code, kept harmless in the CSV
        ["SB00023", "parent", "SB00020"],        # 19 invalid_row
    ]
    record = imported(app, client, csv_bytes(rows), "table.csv")
    assert (record.layout, record.file_type, record.encoding) == ("table", "csv", "utf-8-sig")
    lines = report(client, record, "import")
    reasons = {int(line["row"]): line["reason"].split(":")[0] for line in lines
               if line["outcome"] == "rejected"}
    assert reasons == {5: "child_in_other_parent", 7: "code_is_parent", 8: "code_is_child",
                       10: "invalid_code", 11: "invalid_code", 12: "invalid_kind",
                       13: "missing_code", 14: "missing_parent_code", 16: "invalid_code",
                       18: "invalid_code", 19: "invalid_row"}
    got = outcomes(lines)
    assert {row: got[row][1] for row in (2, 3, 4, 6, 9, 17)} == {
        2: "parent_created", 3: "linked", 4: "linked", 6: "already_linked", 9: "linked",
        17: "parent_exists"}
    assert got[18][0] == "'+1234"  # a spreadsheet would run +1234 as a formula
    assert 15 not in got and len(lines) == 17
    assert "SB00010" in lines[3]["reason"]  # says which parent holds it

    assert bag("0000222").parent_id == bag("SB00020").id
    assert bag("0000111").parent_id == bag("SB00010").id
    assert bag("SB00020").child_count == 2 and bag("SB00022").child_count == 1
    assert bag("SB00010").child_count == 1
    assert bag("0000303") is None and bag("AB") is None and bag("SB00023") is None

    made = events(station=f"import:{record.import_job_id}")
    accepted = [(e.result, e.code) for e in made if e.outcome == "accepted"]
    assert accepted == [("parent_created", "SB00020"), ("linked", "0000301"),
                        ("linked", "0000222"), ("parent_created", "SB00022"),
                        ("linked", "0000302")]
    # Refused scans are on record like a station's; rows that were no scan at all are not.
    refused = sorted(e.result for e in made if e.outcome == "rejected")
    assert refused == sorted(["child_in_other_parent", "code_is_parent", "code_is_child",
                              "invalid_code", "invalid_code", "invalid_code", "invalid_code"])
    other = next(e for e in made if e.result == "child_in_other_parent")
    assert other.bag_id == bag("0000111").id and other.parent_id == bag("SB00020").id
    assert count(ScanEvent) == before + len(made)
    check_invariants()


def test_a_plain_table_in_xlsx_and_a_semicolon_csv_in_windows_encoding(app, client, boss):
    rows = [["Code", "Kind", "Parent Code", "Note"], ["SB00030", "parent", None, "ok"],
            [16586, "child", "SB00030", None], ["0016587", "child", "SB00030", "né"]]
    record = checked(app, client, xlsx(rows), "table.xlsx")
    got = report(client, record, "check")
    assert [(line["outcome"], line["reason"].split(":")[0]) for line in got] == [
        ("parent_created", "new parent, capacity 30"), ("rejected", "code_is_number"),
        ("linked", "into SB00030 (1 / 30)")]

    semicolons = csv_bytes([["code", "kind", "parent_code"], ["SB00031", "parent", ""],
                            ["0016588", "child", "SB00031"], ["0016589", "child", "SB00031"],
                            ["Café", "note", ""]], delimiter=";", encoding="cp1252")
    record = checked(app, client, semicolons, "windows.csv")
    assert record.encoding == "cp1252"
    assert record.check_result["counts"]["children_linked"] == 2
    assert record.check_result["first_errors"][0]["code"] == "Café"


# --- importing the same file again ---------------------------------------------------------

def test_importing_the_same_file_twice_changes_nothing_the_second_time_and_says_so(
        app, client, boss):
    content = xlsx(CLEAN_SHEET)
    first = imported(app, client, content)
    bags, scan_events = count(Bag), count(ScanEvent)
    snapshot = {b.code: (b.parent_id, b.status, b.child_count, b.linked_at)
                for b in db.session.scalars(select(Bag))}
    db.session.commit()

    second = checked(app, client, content, "batch (copy).xlsx")
    assert second.sha256 == first.sha256 and second.id != first.id
    page = client.get(f"/imports/{second.id}").get_data(as_text=True)
    assert 'data-testid="same-file"' in page
    assert f"/jobs/{first.import_job_id}" in page and f"/imports/{first.id}" in page
    check = second.check_result
    assert check["changes"] == 0 and check["message"].startswith("Nothing would change")
    assert check["same_file_imported_before"]["job_id"] == first.import_job_id

    assert client.post(f"/imports/{second.id}/confirm").status_code == 302
    run_jobs(app)
    second = latest_import()
    result = second.import_result
    assert result["counts"] == {"rows": 7, "parents_created": 0, "parents_existing": 2,
                                "children_created": 0, "children_linked": 0,
                                "already_linked": 5, "parents_completed": 0, "rejected": 0}
    assert result["message"].startswith("Nothing changed")
    assert result["same_file_imported_before"]["import_id"] == first.id
    assert {line["outcome"] for line in report(client, second, "import")} == {
        "already_linked", "parent_exists"}
    assert count(Bag) == bags and count(ScanEvent) == scan_events
    assert snapshot == {b.code: (b.parent_id, b.status, b.child_count, b.linked_at)
                        for b in db.session.scalars(select(Bag))}
    db.session.commit()
    assert count(AuditEvent, AuditEvent.action == "import.run") == 2
    check_invariants()
