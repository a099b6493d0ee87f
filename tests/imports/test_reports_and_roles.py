"""The per-row reports, the pages, who may import, and the CSRF token on uploads."""

from __future__ import annotations

import csv
import io
import re

from app.models import Import
from tests.helpers import PASSWORD, log_in
from tests.imports.support import (SHEET, checked, count, latest_import, report, run_jobs, upload,
                                   xlsx)

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
