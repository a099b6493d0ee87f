"""The suppliers' sheet (numbered label rows, each batch closed by its parent's row):
the dry run, the confirmed import with its scan events and audit row, capacity and
completion as the station has them."""

from __future__ import annotations

import io

from openpyxl import Workbook
from sqlalchemy import select

from app.extensions import db
from app.imports import parsing
from app.models import AuditEvent, Bag, Job, ScanEvent
from app.scanning import services as scanning
from app.scanning.services import ScanError
from app.scanning.transaction import run_scan
from tests.helpers import check_invariants
from tests.imports.support import (SHEET, bag, checked, count, events, imported, job, label,
                                   latest_import, outcomes, report, run_jobs, supplier_rows, upload,
                                   xlsx)

# --- the suppliers' sheet ----------------------------------------------------------------

def test_the_dry_run_shows_what_would_change_and_writes_nothing(app, client, boss):
    response = upload(client, xlsx(SHEET))
    assert response.status_code == 302
    record = latest_import()
    assert response.headers["Location"].endswith(f"/imports/{record.id}")
    assert (record.layout, record.file_type, record.filename) == ("supplier", "xlsx", "batch.xlsx")
    queued = client.get(f"/imports/{record.id}").get_data(as_text=True)
    assert "<progress" in queued and "data-status-url" in queued and "confirm-form" not in queued

    assert run_jobs(app) == 1
    record = latest_import()
    check = job(record.check_job_id)
    assert check.status == "succeeded" and check.kind == "import"
    assert check.progress_done == check.progress_total
    result = record.check_result
    assert result["mode"] == "dry_run"
    assert result["counts"] == {"rows": 8, "parents_created": 2, "parents_existing": 0,
                                "children_created": 5, "children_linked": 5,
                                "already_linked": 0, "parents_completed": 0, "rejected": 1}
    assert result["first_errors"] == [{
        "row": 11, "code": "0016591", "result": "parent_not_found",
        "reason": result["first_errors"][0]["reason"]}]
    assert "No parent row follows this label" in result["first_errors"][0]["reason"]
    assert check.result == result

    # Nothing written: no bags, no scan events, no audit row, no import job.
    assert count(Bag) == 0 and count(ScanEvent) == 0
    assert count(AuditEvent, AuditEvent.action == "import.run") == 0
    assert record.import_job_id is None

    page = client.get(f"/imports/{record.id}").get_data(as_text=True)
    assert "Would create 2 parents and 5 children, link 5 children" in page
    assert 'id="confirm-form"' in page and "0016591" in page
    assert "No parent row follows this label" in page and "parent_not_found" not in page


def test_the_confirmed_import_links_bags_with_scan_events_and_an_audit_row(app, client, boss):
    record = imported(app, client, xlsx(SHEET))
    run = job(record.import_job_id)
    station = f"import:{run.id}"
    assert record.import_result["counts"]["children_linked"] == 5
    assert record.import_result["message"].startswith("Created 2 parents and 5 children")

    first, second = bag("SB00001"), bag("SB00002")
    assert (first.kind, first.status, first.child_count, first.capacity) == ("parent", "open", 3, 30)
    assert second.child_count == 2 and first.created_by_id == boss.id
    for code, parent in (("0016586", first), ("0016587", first), ("0016588", first),
                         ("0016589", second), ("0016590", second)):
        child = bag(code)
        assert (child.kind, child.status, child.parent_id) == ("child", "linked", parent.id)
        assert child.linked_at is not None and child.created_by_id == boss.id
    assert bag("0016591") is None  # the label no parent row closed

    made = events(station=station)
    assert all(event.user_id == boss.id for event in made)
    assert [(e.action, e.outcome, e.result, e.code) for e in made] == [
        ("parent_scan", "accepted", "parent_created", "SB00001"),
        ("child_scan", "accepted", "linked", "0016586"),
        ("child_scan", "accepted", "linked", "0016587"),
        ("child_scan", "accepted", "linked", "0016588"),
        ("parent_scan", "accepted", "parent_created", "SB00002"),
        ("child_scan", "accepted", "linked", "0016589"),
        ("child_scan", "accepted", "linked", "0016590"),
        ("child_scan", "rejected", "parent_not_found", "0016591"),
    ]
    linked = [e for e in made if e.result == "linked"]
    assert all(e.bag_id == bag(e.code).id and e.parent_id in (first.id, second.id) for e in linked)
    assert count(ScanEvent) == len(made)
    check_invariants()

    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "import.run")).all()
    db.session.commit()
    assert len(audit) == 1
    assert audit[0].actor_id == boss.id and audit[0].target_type == "import"
    assert audit[0].after["file"] == "batch.xlsx" and audit[0].after["job"] == run.id
    assert (audit[0].after["children_linked"], audit[0].after["parents_created"],
            audit[0].after["rejected"], audit[0].after["rows"]) == (5, 2, 1, 8)

    page = client.get(f"/imports/{record.id}").get_data(as_text=True)
    assert "Created 2 parents and 5 children, linked 5 children" in page
    assert 'id="confirm-form"' not in page  # confirmed once
    again = client.post(f"/imports/{record.id}/confirm", follow_redirects=True)
    assert "already started" in again.get_data(as_text=True)
    assert count(Job, Job.kind == "import") == 2
    bags_page = client.get("/bags/SB00001").get_data(as_text=True)
    assert "0016588" in bags_page


def test_an_import_follows_capacity_and_completes_parents_exactly_as_scans_do(
        app, client, boss):
    """The same five children into a parent of capacity 3, once scanned at a station and once
    imported: the same outcomes row by row, and the same scan events."""
    app.config["DEFAULT_PARENT_CAPACITY"] = 3
    children = ["0020001", "0020002", "0020003", "0020004", "0020005"]
    run_scan(scanning.scan_parent, boss, "SB00100", station="bench-1")
    scanned = []
    for code in children:
        try:
            scanned.append(run_scan(scanning.scan_child, boss, "SB00100", code,
                                    station="bench-1").result)
        except ScanError as error:
            scanned.append(error.code)

    imported_children = [str(int(code) + 100) for code in children]
    record = imported(app, client, xlsx(supplier_rows(("SB00101", imported_children))))
    lines = report(client, record, "import")
    by_code = {line["code"]: line for line in lines}
    from_import = [by_code[code]["outcome"] if by_code[code]["outcome"] != "rejected"
                   else by_code[code]["reason"].split(":")[0] for code in imported_children]
    assert scanned == from_import == ["linked", "linked", "linked", "parent_complete",
                                      "parent_complete"]

    def shape(station):
        return [(e.action, e.outcome, e.result) for e in events(station=station)]

    assert shape(f"import:{record.import_job_id}") == shape("bench-1")
    assert bag("SB00101").status == "complete" and bag("SB00101").child_count == 3
    assert record.import_result["counts"]["parents_completed"] == 1
    check_invariants()


def test_supplier_sheet_details(app, client, boss):
    rows = [
        ["Delivery note 4711 from STAR AGRO", None],       # a title above the header
        ["Sr. No.", "QR Code"],
        [1, label("0017001", 1)],
        ["2", "0017002"],                                  # text serial, bare code
        [None, "SB0007"],                                  # a mistyped parent code
        [3, label("0017003", 3)],
        [None, None],
        [None, " sb00070 "],                               # normalised like a scan
        [4, None],                                         # a numbered row without code
        [None, "SB00071"],
        ["Total 4 bags", None],                            # a note with no batch open
    ]
    record = checked(app, client, xlsx(rows))
    got = outcomes(report(client, record, "check"))
    assert got == {
        3: ("0017001", "rejected"), 4: ("0017002", "rejected"), 5: ("SB0007", "rejected"),
        6: ("0017003", "linked"), 8: ("SB00070", "parent_created"),
        9: ("", "rejected"), 10: ("SB00071", "parent_created"),
        11: ("Total 4 bags", "rejected"),
    }
    reasons = {int(row["row"]): row["reason"] for row in report(client, record, "check")}
    assert reasons[3].startswith("parent_not_found: The row closing this batch (row 5)")
    assert reasons[5].startswith("invalid_code: This row should close the batch of 2 labels")
    assert reasons[9].startswith("missing_code:")
    assert reasons[11].startswith("unreadable_row:")
    assert count(Bag) == 0


def test_a_sheet_without_a_dimension_is_counted_for_the_progress_bar():
    """Generated workbooks (openpyxl write-only, some exports) carry no <dimension>: the
    reader counts the sheet's rows instead, streaming its XML."""

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Sheet1")
    for row in supplier_rows(("SB00001", [f"{n:07d}" for n in range(1, 3001)])):
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    with parsing.open_rows(io.BytesIO(buffer.getvalue()), "xlsx", None) as source:
        assert source.total == 3003  # header, 3,000 labels, the parent, the blank row
        assert sum(1 for _ in source.rows) == 3003
