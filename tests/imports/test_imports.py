"""Bulk imports (issue 8): both layouts, the dry run, the confirmed import with the scan
rules and scan events, idempotent re-imports, bad files, the report, the audit row, roles,
a job taken up again after a crash, and (PostgreSQL) races with scans and other imports."""

from __future__ import annotations

import csv
import io
import re
import threading
import time
import tracemalloc
import zipfile
from datetime import timedelta

import pytest
import xlsxwriter
from tests.helpers import ON_POSTGRES, PASSWORD, log_in, pg_only
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select, update
from tests.scanning.test_scan_api import check_invariants

import async_handler
from app.extensions import db
from app.imports import services
from app.imports import parsing, xlsx_reader
from app.models import AuditEvent, Bag, Import, ImportReportPart, Job, ScanEvent
from app.models.types import utcnow
from app.scanning import services as scanning
from app.scanning.services import ScanError
from app.scanning.transaction import run_scan


# --- files -----------------------------------------------------------------------------------

def xlsx(rows) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows, delimiter=",", encoding="utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def label(code: str, number: int = 0) -> str:
    return f"LABEL NO.{code} LOT NO.:STAR44GG{number:03d} WT.:25KG"


def supplier_rows(*batches, orphans=()):
    """The suppliers' sheet: numbered label rows, each batch closed by its parent's row, a
    blank row between batches."""
    rows = [["Sr. No.", "QR Code"]]
    number = 0
    for parent, children in batches:
        for child in children:
            number += 1
            rows.append([number, label(child, number)])
        rows.append([None, parent])
        rows.append([None, None])
    for child in orphans:
        number += 1
        rows.append([number, label(child, number)])
    return rows


SHEET = supplier_rows(("SB00001", ["0016586", "0016587", "0016588"]),
                      ("SB00002", ["0016589", "0016590"]), orphans=["0016591"])
CLEAN_SHEET = supplier_rows(("SB00001", ["0016586", "0016587", "0016588"]),
                            ("SB00002", ["0016589", "0016590"]))


# --- driving the pages and the jobs ------------------------------------------------------

def upload(client, content: bytes, name: str = "batch.xlsx"):
    return client.post("/imports", data={"file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


def run_jobs(app) -> int:
    """Run every queued job as a worker's runner would (see tests/jobs/test_jobs.py)."""
    ran = 0
    db.session.commit()
    while async_handler.JobRunner(app).run_once():
        ran += 1
    db.session.expire_all()
    return ran


def worker_dies_in_the_second_chunk(app, monkeypatch) -> None:
    """Run the next job in a worker that is killed while it stores its second chunk: the
    first chunk's transaction committed, the second's never does."""
    stored = services.ImportRun._store_part
    calls = {"n": 0}

    def dies_in_the_second_chunk(self, units, work):
        calls["n"] += 1
        if calls["n"] == 2:
            raise SystemExit("the worker was killed")
        return stored(self, units, work)

    monkeypatch.setattr(services.ImportRun, "_store_part", dies_in_the_second_chunk)
    db.session.commit()
    with pytest.raises(SystemExit):
        async_handler.JobRunner(app).run_once()
    db.session.expire_all()


def latest_import() -> Import:
    db.session.expire_all()
    record = db.session.scalar(select(Import).order_by(Import.id.desc()).limit(1))
    db.session.commit()
    return record


def job(job_id: int) -> Job:
    db.session.expire_all()
    found = db.session.get(Job, job_id)
    db.session.commit()
    return found


def checked(app, client, content: bytes, name: str = "batch.xlsx") -> Import:
    response = upload(client, content, name)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    run_jobs(app)
    return latest_import()


def imported(app, client, content: bytes, name: str = "batch.xlsx") -> Import:
    record = checked(app, client, content, name)
    assert job(record.check_job_id).status == "succeeded", job(record.check_job_id).error
    assert client.post(f"/imports/{record.id}/confirm").status_code == 302
    run_jobs(app)
    record = latest_import()
    assert job(record.import_job_id).status == "succeeded", job(record.import_job_id).error
    return record


def report(client, record: Import, run: str) -> list[dict]:
    response = client.get(f"/imports/{record.id}/{run}.csv")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def outcomes(rows: list[dict]) -> dict[int, tuple[str, str]]:
    return {int(row["row"]): (row["code"], row["outcome"]) for row in rows}


def count(model, *where) -> int:
    value = db.session.scalar(select(func.count()).select_from(model).where(*where))
    db.session.commit()
    return value


def bag(code: str) -> Bag | None:
    db.session.expire_all()
    found = db.session.scalar(select(Bag).where(Bag.code == code))
    db.session.commit()
    return found


def events(**where) -> list[ScanEvent]:
    db.session.expire_all()
    query = select(ScanEvent).order_by(ScanEvent.id)
    for name, value in where.items():
        query = query.where(getattr(ScanEvent, name) == value)
    found = db.session.scalars(query).all()
    db.session.commit()
    return found


@pytest.fixture
def boss(client, login_as, supervisor):
    login_as(supervisor)
    return supervisor


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
    from app.imports import parsing

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Sheet1")
    for row in supplier_rows(("SB00001", [f"{n:07d}" for n in range(1, 3001)])):
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    with parsing.open_rows(io.BytesIO(buffer.getvalue()), "xlsx", None) as source:
        assert source.total == 3003  # header, 3,000 labels, the parent, the blank row
        assert sum(1 for _ in source.rows) == 3003


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
def test_the_fast_normalisation_agrees_with_the_scan_service(raw):
    from app.imports.parsing import normalise
    from app.scanning.codes import CodeError, normalise_code

    def outcome(function):
        try:
            return function(raw)
        except CodeError as exc:
            return f"refused: {exc}"

    assert outcome(normalise) == outcome(normalise_code)


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


# --- bad files ------------------------------------------------------------------------------

def zip_of(**members) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.mark.parametrize(("content", "name", "message"), [
    (b"\x89PNG\r\n\x1a\n" + bytes(200), "photo.png", "it is a PNG image"),
    (bytes(range(256)) * 4, "data.csv", "it is not text"),
    (b"%PDF-1.7\n%binary", "scan.pdf", "it is a PDF document"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), "old.xls", "old Excel .xls file"),
    (zip_of(**{"word/document.xml": "<w/>"}), "letter.docx", "not an Excel workbook"),
    (b"PK\x03\x04" + b"broken" * 50, "broken.xlsx", "damaged ZIP or Excel file"),
    (b"", "empty.csv", "The file is empty"),
    (csv_bytes([["name", "qty"], ["x", "1"]]), "wrong.csv",
     "no header row with the columns code, kind, parent_code"),
    (xlsx([["Serial", "Barcode"], [1, "LABEL NO.0016586"]]), "wrong.xlsx",
     "its first row reads: Serial, Barcode"),
])
def test_a_file_that_is_no_import_is_refused_at_upload_and_nothing_is_kept(
        app, client, boss, content, name, message):
    response = upload(client, content, name)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page and "invalid-feedback" in page
    assert count(Import) == 0 and count(Job) == 0 and count(Bag) == 0


def test_no_file_at_all_is_refused(app, client, boss):
    response = client.post("/imports", data={}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Choose the supplier" in response.get_data(as_text=True)


def test_a_file_over_the_size_limit_gets_413(app, client, boss):
    app.config["MAX_CONTENT_LENGTH"] = 4096
    response = upload(client, csv_bytes([["code", "kind", "parent_code"]] +
                                        [[f"{n:07d}", "child", "SB00001"] for n in range(400)]),
                      "big.csv")
    assert response.status_code == 413
    assert "larger than the server accepts" in response.get_data(as_text=True)
    assert count(Import) == 0


def formula_sheet() -> bytes:
    rows = supplier_rows(("SB00001", ["0016586", "0016587"]))
    rows[2][1] = '=CONCAT("LABEL NO.", "0016587")'
    return xlsx(rows)


@pytest.mark.parametrize(("content", "name", "message"), [
    (formula_sheet(), "formulas.xlsx", "Cell B3 holds a formula"),
    (csv_bytes([["code", "kind", "parent_code"], ["SB00001", "parent", ""],
                ["=HYPERLINK(\"http://x\")", "child", "SB00001"]]), "formulas.csv",
     "Cell A3 holds a formula"),
    (xlsx(supplier_rows(("SB00001", ["0016586", "X" * 1500]))), "huge.xlsx",
     "Cell B3 holds 1,538 characters"),
    (csv_bytes([["code", "kind", "parent_code"], ["SB00001", "parent", "y" * 5000]]),
     "huge.csv", "Cell C2 holds 5,000 characters"),
])
def test_formulas_and_huge_cells_fail_the_dry_run_and_nothing_is_written(
        app, client, boss, content, name, message):
    record = checked(app, client, content, name)
    check = job(record.check_job_id)
    assert check.status == "failed" and message in check.error
    assert "upload again" in check.error
    assert record.check_result is None
    assert count(ImportReportPart) == 0 and count(Bag) == 0 and count(ScanEvent) == 0

    page = client.get(f"/imports/{record.id}").get_data(as_text=True)
    assert message in page and "Upload a corrected file" in page and "confirm-form" not in page
    refused = client.post(f"/imports/{record.id}/confirm", follow_redirects=True)
    assert "has not succeeded" in refused.get_data(as_text=True)
    assert latest_import().import_job_id is None and count(Bag) == 0


# --- the report, the pages, the roles ------------------------------------------------------

def test_the_reports_are_csv_with_one_line_per_row(app, client, boss):
    record = checked(app, client, xlsx(SHEET))
    assert client.get(f"/imports/{record.id}/import.csv").status_code == 409  # no import yet
    response = client.get(f"/imports/{record.id}/check.csv")
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="import-{record.id}-dry-run.csv"')
    lines = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert lines[0] == ["row", "code", "outcome", "reason"]
    assert [int(line[0]) for line in lines[1:]] == [2, 3, 4, 5, 7, 8, 9, 11]
    assert lines[1] == ["2", "0016586", "linked", "into SB00001 (1 / 30)"]
    assert lines[4] == ["5", "SB00001", "parent_created", "new parent, capacity 30"]
    assert lines[-1][2] == "rejected" and lines[-1][3].startswith("parent_not_found: ")

    client.post(f"/imports/{record.id}/confirm")
    run_jobs(app)
    imported_lines = report(client, record, "import")
    assert [line["outcome"] for line in imported_lines] == [line[2] for line in lines[1:]]
    assert client.get(f"/imports/{record.id}/other.csv").status_code == 404
    assert client.get("/imports/999/check.csv").status_code == 404


def test_the_pages_list_imports_and_link_their_jobs(app, client, boss):
    record = checked(app, client, xlsx(SHEET), "../../etc/Supplier batch 7.xlsx")
    assert record.filename == "Supplier batch 7.xlsx"
    listing = client.get("/imports").get_data(as_text=True)
    assert f'/imports/{record.id}"' in listing and "Supplier batch 7.xlsx" in listing
    assert "dry run succeeded: not confirmed" in listing
    assert 'enctype="multipart/form-data"' in listing and "At most 16 MiB" in listing
    page = client.get(f"/imports/{record.id}").get_data(as_text=True)
    assert f"/jobs/{record.check_job_id}" in page and record.sha256 in page
    api = client.get(f"/api/v1/jobs/{record.check_job_id}").get_json()
    assert api["status"] == "succeeded" and api["result"]["counts"]["rows"] == 8
    assert client.get("/imports/999").status_code == 404
    assert client.post("/imports/999/confirm").status_code == 404


def test_imports_are_for_supervisors_and_admins(app, make_user, staff, supervisor, admin):
    record_client = app.test_client()
    log_in(record_client, supervisor.username, PASSWORD)
    upload(record_client, xlsx(SHEET))
    record = latest_import()

    staff_client = app.test_client()
    log_in(staff_client, staff.username, PASSWORD)
    assert staff_client.get("/imports").status_code == 403
    assert upload(staff_client, xlsx(SHEET)).status_code == 403
    assert staff_client.get(f"/imports/{record.id}").status_code == 403
    assert staff_client.post(f"/imports/{record.id}/confirm").status_code == 403
    assert staff_client.get(f"/imports/{record.id}/check.csv").status_code == 403
    assert 'href="/imports"' not in staff_client.get("/bags").get_data(as_text=True)
    assert count(Import) == 1

    anonymous = app.test_client().get("/imports")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]

    for user in (supervisor, admin):
        other = app.test_client()
        log_in(other, user.username, PASSWORD)
        listing = other.get("/imports")
        assert listing.status_code == 200 and 'href="/imports"' in listing.get_data(as_text=True)


def test_uploads_need_the_csrf_token(make_app, supervisor):
    test_client = make_app(WTF_CSRF_ENABLED=True).test_client()
    page = test_client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    assert test_client.post("/login", data={"username": supervisor.username,
                                            "password": PASSWORD,
                                            "csrf_token": token}).status_code == 302
    assert upload(test_client, xlsx(SHEET)).status_code == 400
    assert count(Import) == 0
    token = re.search(r'name="csrf-token" content="([^"]+)"',
                      test_client.get("/imports").get_data(as_text=True)).group(1)
    response = test_client.post("/imports", content_type="multipart/form-data", data={
        "file": (io.BytesIO(xlsx(SHEET)), "batch.xlsx"), "csrf_token": token})
    assert response.status_code == 302 and count(Import) == 1


# --- a job taken up again ----------------------------------------------------------------

def test_an_import_taken_up_again_after_a_crash_resumes_and_reports_exactly(
        app, client, boss, monkeypatch):
    """The worker dies after the first chunk was committed: the job is queued again (as
    recover_stale_jobs does) and the next attempt does the rest, with no row done twice."""
    monkeypatch.setattr(services, "CHUNK_ROWS", 2)  # every batch a transaction of its own
    sheet = supplier_rows(("SB00201", ["0030001", "0030002"]), ("SB00202", ["0030003"]),
                          ("SB00203", ["0030004", "0030005"]))
    record = checked(app, client, xlsx(sheet))
    client.post(f"/imports/{record.id}/confirm")
    record = latest_import()

    worker_dies_in_the_second_chunk(app, monkeypatch)
    assert bag("0030002").parent_id == bag("SB00201").id  # the first chunk stayed
    assert bag("0030003") is None                           # the second was rolled back
    run = job(record.import_job_id)
    assert run.status == "running"  # what the dead worker left behind
    run.status = "queued"           # recover_stale_jobs, once its heartbeat is stale
    db.session.commit()

    run_jobs(app)
    run = job(record.import_job_id)
    assert run.status == "succeeded" and run.attempts == 2
    lines = report(client, latest_import(), "import")
    assert [(line["code"], line["outcome"]) for line in lines] == [
        ("0030001", "linked"), ("0030002", "linked"), ("SB00201", "parent_created"),
        ("0030003", "linked"), ("SB00202", "parent_created"),
        ("0030004", "linked"), ("0030005", "linked"), ("SB00203", "parent_created")]
    assert run.result["counts"]["children_linked"] == 5
    made = events(station=f"import:{run.id}")
    assert sorted(e.code for e in made if e.result == "linked") == [
        "0030001", "0030002", "0030003", "0030004", "0030005"]
    assert len(made) == 8
    assert count(AuditEvent, AuditEvent.action == "import.run") == 1
    check_invariants()


def test_a_dry_run_taken_up_again_starts_over(app, client, boss, monkeypatch):
    monkeypatch.setattr(services, "CHUNK_ROWS", 2)
    upload(client, xlsx(CLEAN_SHEET))
    record = latest_import()
    worker_dies_in_the_second_chunk(app, monkeypatch)
    assert count(ImportReportPart) == 1
    check = job(record.check_job_id)
    check.status = "queued"
    db.session.commit()
    run_jobs(app)
    record = latest_import()
    assert job(record.check_job_id).status == "succeeded"
    assert [line["row"] for line in report(client, record, "check")] == [
        "2", "3", "4", "5", "7", "8", "9"]
    assert record.check_result["counts"]["children_linked"] == 5 and count(Bag) == 0


def test_a_failed_import_may_be_confirmed_again_and_its_old_attempt_stands_down(
        app, client, boss):
    record = checked(app, client, xlsx(CLEAN_SHEET))
    client.post(f"/imports/{record.id}/confirm")
    first = job(latest_import().import_job_id)
    first.status, first.error = "failed", "the server stopped"
    db.session.commit()
    page = client.get(f"/imports/{record.id}").get_data(as_text=True)
    assert 'id="confirm-form"' in page  # a failed import may be confirmed again
    assert client.post(f"/imports/{record.id}/confirm").status_code == 302
    second = latest_import().import_job_id
    assert second != first.id
    first = job(first.id)
    first.status = "queued"  # the old attempt comes back (a stale runner recovered)
    db.session.commit()
    run_jobs(app)
    assert job(first.id).status == "failed"
    assert f"started again as job {second}" in job(first.id).error
    assert job(second).status == "succeeded" and bag("0016590").parent_id == bag("SB00002").id
    assert count(AuditEvent, AuditEvent.action == "import.run") == 1


# --- keeping the uploaded files (retention) --------------------------------------------------

def stored_bytes(record: Import) -> int:
    value = db.session.scalar(select(func.length(Import.content)).where(Import.id == record.id))
    db.session.commit()
    return value


def age(record: Import, hours: float) -> None:
    """As if the file had been uploaded `hours` ago."""
    db.session.execute(update(Import).where(Import.id == record.id)
                       .values(created_at=utcnow() - timedelta(hours=hours)))
    db.session.commit()


def runner_looks_for_work(app) -> bool:
    """One look for work by a fresh job runner, as a worker's runner does after it starts."""
    db.session.commit()
    ran = async_handler.JobRunner(app).run_once()
    db.session.expire_all()
    return ran


def test_an_imported_file_is_removed_and_its_reports_stay(app, client, boss):
    # One set of bytes for both uploads: openpyxl stamps each workbook it writes with the
    # time, so two calls of xlsx() a second apart are different files.
    content = xlsx(CLEAN_SHEET)
    record = imported(app, client, content)
    assert record.content_purged_at is not None and stored_bytes(record) == 0
    assert record.size > 0 and record.sha256  # what describes the file stays
    assert len(report(client, record, "check")) == 7 and len(report(client, record, "import")) == 7

    page = client.get(f"/imports/{record.id}").get_data(as_text=True)
    assert 'data-testid="upload-gone"' in page and "once its import had finished" in page
    assert 'id="confirm-form"' not in page and 'data-testid="import-report"' in page
    api = client.get(f"/api/v1/imports/{record.id}").get_json()
    assert api["upload"]["kept"] is False and api["upload"]["removed_at"]
    assert "upload it again" in api["upload"]["message"]
    assert api["import_job"] == {"id": record.import_job_id, "status": "succeeded",
                                 "error": None}
    again = client.post(f"/imports/{record.id}/confirm", follow_redirects=True)
    assert "already started" in again.get_data(as_text=True)

    # The same bytes uploaded again are a new upload with a file of its own.
    second = checked(app, client, content, "again.xlsx")
    assert stored_bytes(second) == second.size and second.content_purged_at is None
    assert second.check_result["same_file_imported_before"]["import_id"] == record.id


def test_a_dry_run_never_confirmed_is_removed_after_the_retention_by_the_job_runner(
        app, client, boss):
    old = checked(app, client, xlsx(SHEET), "old.xlsx")
    fresh = checked(app, client, xlsx(CLEAN_SHEET), "fresh.xlsx")
    api = client.get(f"/api/v1/imports/{old.id}").get_json()
    assert api["upload"]["kept"] is True and api["upload"]["message"] is None
    assert api["upload"]["kept_until"] == (old.created_at + timedelta(hours=24)).isoformat()
    age(old, 23.9)
    assert runner_looks_for_work(app) is False  # nothing to run, nothing old enough yet
    assert stored_bytes(old) == old.size

    age(old, 24.1)
    runner_looks_for_work(app)
    old, fresh = db.session.get(Import, old.id), db.session.get(Import, fresh.id)
    db.session.commit()
    assert old.content_purged_at is not None and stored_bytes(old) == 0
    assert fresh.content_purged_at is None and stored_bytes(fresh) == fresh.size

    page = client.get(f"/imports/{old.id}").get_data(as_text=True)
    assert 'data-testid="upload-gone"' in page and "not imported within 24 hours" in page
    assert "Upload it again" in page and 'id="confirm-form"' not in page
    listing = client.get("/imports").get_data(as_text=True)
    assert "dry run succeeded; file removed: upload it again" in listing
    assert "dry run succeeded: not confirmed" in listing  # the fresh one
    assert len(report(client, old, "check")) == 8  # the dry run's report stays

    refused = client.post(f"/imports/{old.id}/confirm", follow_redirects=True)
    assert "not imported within 24 hours" in refused.get_data(as_text=True)
    assert latest_import().id == fresh.id and db.session.get(Import, old.id).import_job_id is None
    db.session.commit()
    assert count(Job, Job.kind == "import") == 2  # the two dry runs only
    api = client.get(f"/api/v1/imports/{old.id}").get_json()
    assert api["upload"]["kept"] is False and "Upload it again" in api["upload"]["message"]


def test_the_purge_spares_files_a_job_will_read_and_takes_failed_ones(app, client, boss):
    failed_import = checked(app, client, xlsx(supplier_rows(("SB00009", ["0016599"]))),
                            "failed.xlsx")
    confirmed = checked(app, client, xlsx(CLEAN_SHEET), "confirmed.xlsx")
    client.post(f"/imports/{failed_import.id}/confirm")
    db.session.expire_all()
    failed_import = db.session.get(Import, failed_import.id)
    db.session.execute(update(Job).where(Job.id == failed_import.import_job_id)
                       .values(status="failed", error="the server stopped"))
    db.session.commit()
    assert client.post(f"/imports/{confirmed.id}/confirm").status_code == 302  # queued
    assert upload(client, xlsx(SHEET), "queued.xlsx").status_code == 302  # dry run queued
    queued_check = latest_import()
    for record in (failed_import, confirmed, queued_check):
        age(record, 48)

    result = services.purge_uploads()
    assert (result.uploads, result.bytes) == (1, failed_import.size)
    kept = {record.filename: stored_bytes(record) > 0
            for record in db.session.scalars(select(Import)).all()}
    db.session.commit()
    assert kept == {"queued.xlsx": True, "confirmed.xlsx": True, "failed.xlsx": False}
    refused = client.post(f"/imports/{failed_import.id}/confirm", follow_redirects=True)
    assert "Upload it again to import it" in refused.get_data(as_text=True)

    run_jobs(app)  # the queued jobs run on their files, which then go
    confirmed = db.session.get(Import, confirmed.id)
    queued_check = db.session.get(Import, queued_check.id)
    db.session.commit()
    assert job(confirmed.import_job_id).status == "succeeded"
    assert bag("0016590").parent_id == bag("SB00002").id and stored_bytes(confirmed) == 0
    # The old upload's dry run succeeded: the runner's next look for work removed its file.
    assert job(queued_check.check_job_id).status == "succeeded"
    assert queued_check.check_result["counts"]["rows"] == 8 and stored_bytes(queued_check) == 0
    assert services.purge_uploads().uploads == 0


def test_a_purge_that_fails_does_not_stop_the_runner(app, client, boss, monkeypatch, caplog):
    def broken():
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services, "purge_uploads", broken)
    assert upload(client, xlsx(CLEAN_SHEET)).status_code == 302
    assert runner_looks_for_work(app) is True  # the dry run ran all the same
    assert job(latest_import().check_job_id).status == "succeeded"
    assert "chore purge_import_uploads failed" in caplog.text


def test_a_job_that_finds_its_file_gone_says_to_upload_it_again(app, client, boss):
    """Not reachable through the purge (it spares queued jobs); a database restored from an
    older backup, or a file removed by hand, must still give a clear answer."""
    record = checked(app, client, xlsx(CLEAN_SHEET))
    client.post(f"/imports/{record.id}/confirm")
    db.session.execute(update(Import).where(Import.id == record.id)
                       .values(content=b"", content_purged_at=utcnow()))
    db.session.commit()
    run_jobs(app)
    run = job(latest_import().import_job_id)
    assert run.status == "failed" and "Upload it again" in run.error
    assert client.get(f"/api/v1/jobs/{run.id}").get_json()["error"] == run.error
    assert count(Bag) == 0


def test_flask_imports_purge(app, client, boss, runner):
    record = checked(app, client, xlsx(SHEET))
    age(record, 3)
    output = runner.invoke(args=["imports", "purge"]).output
    assert "Removed the files of 0 uploads (0.0 MiB)" in output
    assert stored_bytes(record) == record.size
    output = runner.invoke(args=["imports", "purge", "--hours", "2"]).output
    assert "Removed the files of 1 upload (" in output and stored_bytes(record) == 0
    assert runner.invoke(args=["imports", "purge", "--hours", "0"]).exit_code == 2


def test_the_retention_is_configured_by_environment(make_app, monkeypatch):
    from app.config import ConfigError

    monkeypatch.setenv("IMPORT_UPLOAD_RETENTION_HOURS", "72")
    assert make_app().config["IMPORT_UPLOAD_RETENTION_HOURS"] == 72
    monkeypatch.setenv("IMPORT_UPLOAD_RETENTION_HOURS", "0")
    with pytest.raises(ConfigError, match="IMPORT_UPLOAD_RETENTION_HOURS must be at least 1"):
        make_app()


# --- races (real threads; PostgreSQL alone where marked) -------------------------------------


def test_a_confirmation_racing_the_purge_keeps_the_file_of_the_import_it_queues(
        app, client, boss):
    """The upload is past its retention and a supervisor confirms it just as a runner purges.
    PostgreSQL: the purge waits for the row lock that the confirmation holds, then sees the
    queued import and spares the file. SQLite (one writer at a time): the purge's snapshot
    went stale while it waited, its write fails ("database is locked") and the upload is left
    for the next purge. Either way the import then runs on its file."""
    from app.models import User

    record = checked(app, client, xlsx(CLEAN_SHEET))
    age(record, 48)
    locked = threading.Event()
    errors = []

    def confirm_slowly():
        with app.app_context():
            try:
                services.confirm_import(db.session.get(User, boss.id), record.id)
                db.session.flush()
                locked.set()
                time.sleep(0.6)
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)
                locked.set()
            finally:
                db.session.remove()

    thread = threading.Thread(target=confirm_slowly)
    thread.start()
    assert locked.wait(10)
    started = time.monotonic()
    result = services.purge_uploads()
    waited = time.monotonic() - started
    thread.join(10)
    assert errors == []
    assert result.uploads == 0 and stored_bytes(record) == record.size
    if ON_POSTGRES:
        assert waited > 0.3 and result.busy == 0  # it waited for the lock, then spared it
    else:
        assert result.busy == 1
    run_jobs(app)
    record = latest_import()
    assert job(record.import_job_id).status == "succeeded" and stored_bytes(record) == 0
    assert bag("0016590").parent_id == bag("SB00002").id


def test_a_purge_racing_a_confirmation_refuses_it_and_queues_nothing(
        app, client, boss, monkeypatch):
    """The other way round: the purge holds the row when the confirmation comes.
    PostgreSQL: the confirmation waits for it and is told the file is gone. SQLite: the
    confirmation's write fails while the purge writes, a 503 database_busy that the page
    asks to retry; the retry is told the file is gone. No import is queued."""
    record = checked(app, client, xlsx(CLEAN_SHEET))
    age(record, 48)
    purging, errors = threading.Event(), []
    purge_one = services._purge_upload

    def purge_slowly(import_id, cutoff, now):
        size = purge_one(import_id, cutoff, now)
        db.session.flush()  # holds the row (and on SQLite the write lock) until the commit
        purging.set()
        time.sleep(0.6)
        return size

    monkeypatch.setattr(services, "_purge_upload", purge_slowly)

    def purge():
        with app.app_context():
            try:
                assert services.purge_uploads().uploads == 1
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)
                purging.set()
            finally:
                db.session.remove()

    thread = threading.Thread(target=purge)
    thread.start()
    assert purging.wait(10)
    response = client.post(f"/imports/{record.id}/confirm")
    thread.join(10)
    assert errors == []
    if ON_POSTGRES:
        assert response.status_code == 302
    else:
        assert response.status_code == 503
        assert "database" in response.get_data(as_text=True).lower()
        response = client.post(f"/imports/{record.id}/confirm")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "not imported within 24 hours" in page and 'id="confirm-form"' not in page
    assert latest_import().import_job_id is None and count(Job, Job.kind == "import") == 1
    assert stored_bytes(record) == 0


@pg_only
def test_a_scan_that_races_the_import_is_seen_and_the_chunk_done_again(
        app, client, boss, monkeypatch):
    """Between the import's read and its write, a station puts one of the file's children
    into another parent: the insert does not land, the chunk is rolled back and decided
    again, and the row is refused as child_in_other_parent. One parent per child holds."""
    record = checked(app, client, xlsx(supplier_rows(("SB00301", ["0040001", "0040002"]))))
    client.post(f"/imports/{record.id}/confirm")
    loader = services.ImportRun._load_states
    raced = {"done": False, "loads": 0}

    def station_scans_meanwhile():
        with app.app_context():
            run_scan(scanning.scan_parent, boss, "SB00399", station="bench-9")
            run_scan(scanning.scan_child, boss, "SB00399", "0040002", station="bench-9")
            db.session.remove()

    def load_then_race(self, codes):
        states = loader(self, codes)
        if not self.dry_run:
            raced["loads"] += 1
        if not self.dry_run and not raced["done"]:
            raced["done"] = True
            thread = threading.Thread(target=station_scans_meanwhile)
            thread.start()
            thread.join(30)
        return states

    monkeypatch.setattr(services.ImportRun, "_load_states", load_then_race)
    run_jobs(app)
    record = latest_import()
    assert job(record.import_job_id).status == "succeeded"
    assert raced["loads"] == 2  # the chunk was read and decided a second time
    got = {line["code"]: line for line in report(client, record, "import")}
    assert got["0040001"]["outcome"] == "linked"
    assert got["0040002"]["reason"].startswith("child_in_other_parent: 0040002 is already "
                                               "in SB00399")
    assert bag("0040002").parent_id == bag("SB00399").id
    assert len(events(code="0040002", result="linked")) == 1
    assert bag("SB00301").child_count == 1
    check_invariants()


@pg_only
def test_two_imports_of_overlapping_files_at_once_keep_one_parent_per_child(
        app, client, boss):
    children = [f"00500{n:02d}" for n in range(1, 25)]
    first = checked(app, client, xlsx(supplier_rows(("SB00401", children[:12]),
                                                    ("SB00402", children[12:]))), "a.xlsx")
    second = checked(app, client, xlsx(supplier_rows(("SB00403", children[6:18]),
                                                     ("SB00404", children[18:]))), "b.xlsx")
    for record in (first, second):
        assert client.post(f"/imports/{record.id}/confirm").status_code == 302
    db.session.commit()
    barrier = threading.Barrier(2)
    errors = []

    def worker():
        try:
            barrier.wait(10)
            async_handler.JobRunner(app).run_once()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    db.session.expire_all()
    runs = [job(latest.import_job_id) for latest in
            db.session.scalars(select(Import).order_by(Import.id)).all()]
    db.session.commit()
    assert [run.status for run in runs] == ["succeeded", "succeeded"]
    linked = sum(run.result["counts"]["children_linked"] for run in runs)
    in_other = sum(1 for run in runs for line in run.result["first_errors"]
                   if line["result"] == "child_in_other_parent")
    assert linked == 24 and in_other == 18  # the 18 shared children went in once
    assert count(Bag, Bag.kind == "child", Bag.status == "linked") == 24
    for code in children:
        assert len(events(code=code, result="linked")) == 1
    check_invariants()
