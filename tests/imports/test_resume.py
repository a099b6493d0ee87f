"""A job taken up again after its worker died: an import resumes and reports exactly, a dry
run starts over, a failed import may be confirmed again."""

from __future__ import annotations

from app.extensions import db
from app.imports import jobs as import_jobs
from app.models import AuditEvent, Bag, ImportReportPart
from tests.helpers import check_invariants
from tests.imports.support import (CLEAN_SHEET, bag, checked, count, events, job, latest_import,
                                   report, run_jobs, supplier_rows, upload,
                                   worker_dies_in_the_second_chunk, xlsx)

# --- a job taken up again ----------------------------------------------------------------

def test_an_import_taken_up_again_after_a_crash_resumes_and_reports_exactly(
        app, client, boss, monkeypatch):
    """The worker dies after the first chunk was committed: the job is queued again (as
    recover_stale_jobs does) and the next attempt does the rest, with no row done twice."""
    monkeypatch.setattr(import_jobs, "CHUNK_ROWS", 2)  # every batch a transaction of its own
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
    monkeypatch.setattr(import_jobs, "CHUNK_ROWS", 2)
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
