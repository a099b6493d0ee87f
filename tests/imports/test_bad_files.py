"""Bad files: not an import, no file, over the size limit, formulas and huge cells; refused
with the reason and nothing kept or written."""

from __future__ import annotations

import io
import zipfile

import pytest

from app.models import Bag, Import, ImportReportPart, Job, ScanEvent
from tests.imports.support import (checked, count, csv_bytes, job, latest_import, supplier_rows,
                                   upload, xlsx)

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
