"""What the import tests share (tests/imports/test_*.py): sheets and CSV files built in
memory, and driving the upload pages and the job runner as a worker would."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select, update

import async_handler
from app.extensions import db
from app.imports import jobs as import_jobs
from app.models import Bag, Import, Job, ScanEvent
from app.models.types import utcnow

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
    stored = import_jobs.ImportRun._store_part
    calls = {"n": 0}

    def dies_in_the_second_chunk(self, units, work):
        calls["n"] += 1
        if calls["n"] == 2:
            raise SystemExit("the worker was killed")
        return stored(self, units, work)

    monkeypatch.setattr(import_jobs.ImportRun, "_store_part", dies_in_the_second_chunk)
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


def stored_bytes(record: Import) -> int:
    value = db.session.scalar(select(func.length(Import.content)).where(Import.id == record.id))
    db.session.commit()
    return value


def age(record: Import, hours: float) -> None:
    """As if the file had been uploaded `hours` ago."""
    db.session.execute(update(Import).where(Import.id == record.id)
                       .values(created_at=utcnow() - timedelta(hours=hours)))
    db.session.commit()
