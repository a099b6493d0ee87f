"""Keeping the uploaded files: imported files are removed and their reports stay, dry runs
never confirmed go after the retention, the purge spares what a job will read."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

import async_handler
from app.extensions import db
from app.imports import upload as import_upload
from app.models import Bag, Import, Job
from app.models.types import utcnow
from tests.imports.support import (CLEAN_SHEET, SHEET, age, bag, checked, count, imported, job,
                                   latest_import, report, run_jobs, stored_bytes, supplier_rows,
                                   upload, xlsx)

# --- keeping the uploaded files (retention) --------------------------------------------------

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

    result = import_upload.purge_uploads()
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
    assert import_upload.purge_uploads().uploads == 0


def test_a_purge_that_fails_does_not_stop_the_runner(app, client, boss, monkeypatch, caplog):
    def broken():
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(import_upload, "purge_uploads", broken)
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
