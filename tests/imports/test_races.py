"""Races (real threads; PostgreSQL alone where marked): confirmations against the purge, a
scan during an import, two overlapping imports at once."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

import async_handler
from app.extensions import db
from app.imports import jobs as import_jobs
from app.imports import upload as import_upload
from app.models import Bag, Import, Job
from app.scanning import services as scanning
from app.scanning.transaction import run_scan
from tests.helpers import ON_POSTGRES, check_invariants, pg_only
from tests.imports.support import (CLEAN_SHEET, age, bag, checked, count, events, job,
                                   latest_import, report, run_jobs, stored_bytes, supplier_rows,
                                   xlsx)

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
                import_upload.confirm_import(db.session.get(User, boss.id), record.id)
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
    result = import_upload.purge_uploads()
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
    purge_one = import_upload._purge_upload

    def purge_slowly(import_id, cutoff, now):
        size = purge_one(import_id, cutoff, now)
        db.session.flush()  # holds the row (and on SQLite the write lock) until the commit
        purging.set()
        time.sleep(0.6)
        return size

    monkeypatch.setattr(import_upload, "_purge_upload", purge_slowly)

    def purge():
        with app.app_context():
            try:
                assert import_upload.purge_uploads().uploads == 1
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
    loader = import_jobs.ImportRun._load_states
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

    monkeypatch.setattr(import_jobs.ImportRun, "_load_states", load_then_race)
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
