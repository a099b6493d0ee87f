"""Imports, the upload side: storing an upload and queueing its dry run, confirming the import,
keeping the uploaded files only while a job may read them (purge_uploads), and the lists of
recent imports. Called by the pages and the API, which commit."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import (or_, select)
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import aliased

from app.jobs import queue
from app.errors import is_busy
from app.domain import DomainError, Text
from app.extensions import db
from app.imports import parse_process
from app.models import (Job,
                        User)
from app.models.imports import Import
from app.models.job import FAILED, QUEUED, RUNNING, SUCCEEDED
from app.models.types import utcnow
from app.rules.codes import printable


log = logging.getLogger("tracetrack.imports")

JOB_KIND = "import"
PURGE_EVERY_SECONDS = 600  # how often each job runner looks for uploads to purge


class ImportRefused(DomainError):
    """An upload or a confirmation that cannot go on; `message` says what to do next."""

    def __init__(self, code: str, message: str, status: int = 422):
        super().__init__(code, message, status)


# --- upload and confirmation (called by the views, which commit) ---------------------------

def clean_filename(name: str | None) -> str:
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    return printable(base, 255).strip() or "upload"


def store_upload(user: User, filename: str | None, content: bytes) -> Import:
    """Check the file's type and header (FileRefused otherwise), keep it, and queue its dry
    run. The caller commits, then wakes the job runner."""
    file_type, encoding, header = parse_process.inspect_upload(content)
    record = Import(created_by_id=user.id, filename=clean_filename(filename),
                    size=len(content), sha256=hashlib.sha256(content).hexdigest(),
                    file_type=file_type, layout=header.layout, encoding=encoding,
                    content=content)
    db.session.add(record)
    db.session.flush()
    job = queue.enqueue(JOB_KIND, {"import_id": record.id, "dry_run": True}, user)
    db.session.flush()
    record.check_job_id = job.id
    return record


def confirm_import(user: User, import_id: int) -> Job:
    """Queue the import of a file whose dry run succeeded and which is still kept; once,
    unless the import failed."""
    record = db.session.get(Import, import_id, with_for_update=True, populate_existing=True)
    if record is None:
        raise ImportRefused("import_not_found", "There is no such import. Upload the file "
                                                "again.", 404)
    if record.check_result is None:
        raise ImportRefused("not_checked", "The dry run of this file has not succeeded. Wait "
                                           "for it to finish, or upload the file again.", 409)
    if record.import_job_id is not None:
        job = db.session.get(Job, record.import_job_id)
        if job is not None and job.status != FAILED:
            raise ImportRefused(
                "already_confirmed",
                f"This file's import was already started (job {job.id}). Follow it on this "
                "page; to import the file again, upload it again.", 409)
    if record.content_purged_at is not None:
        raise ImportRefused("upload_gone", upload_gone_message(record), 410)
    job = queue.enqueue(JOB_KIND, {"import_id": record.id, "dry_run": False}, user)
    db.session.flush()
    record.import_job_id = job.id
    return job


# --- keeping the uploaded files ------------------------------------------------------------

def retention() -> timedelta:
    return timedelta(hours=current_app.config["IMPORT_UPLOAD_RETENTION_HOURS"])


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def upload_gone_message(record: Import) -> str:
    """What a page, the API or a job says about an upload whose file was purged."""
    when = _when(record.content_purged_at)
    if record.import_result:
        return Text("The uploaded file was removed on %(when)s, once its import had finished; "
                    "its reports stay. To import the file again, upload it again.", when=when)
    hours = current_app.config["IMPORT_UPLOAD_RETENTION_HOURS"]
    return Text("The uploaded file was removed on %(when)s: a file that is not imported within "
                "%(hours)s hours of its upload is not kept. Upload it again to import it.",
                when=when, hours=hours)


def upload_state(record: Import) -> dict:
    """Whether the upload's file is still kept and until when at most (unless imported
    earlier), or when it went and what to do."""
    if record.content_purged_at is not None:
        return {"kept": False, "kept_until": None, "removed_at": record.content_purged_at,
                "message": upload_gone_message(record)}
    return {"kept": True, "kept_until": record.created_at + retention(), "removed_at": None,
            "message": None}


@dataclass
class PurgeResult:
    uploads: int = 0        # files removed
    bytes: int = 0          # their size
    busy: int = 0           # skipped: a confirmation held the upload's row (next time)


def purge_uploads(now: datetime | None = None, keep: timedelta | None = None) -> PurgeResult:
    """Empty the stored file of every upload that no job can read any more: its import
    succeeded, or it was uploaded longer than `keep` (IMPORT_UPLOAD_RETENTION_HOURS) ago and
    never imported; in both cases only when none of its jobs is queued or running.

    Housekeeping run by the job runners (the chore below) and `flask imports purge`, outside
    any request: it commits each upload on its own. Each upload's row is locked and its jobs
    read again under that lock, as confirm_import locks it before it queues an import, so a
    confirmation and the purge never both win. A row that a confirmation holds longer than
    lock_timeout is left for the next purge."""
    now = now or utcnow()
    cutoff = now - (keep if keep is not None else retention())
    run = aliased(Job)
    candidates = db.session.scalars(
        select(Import.id).outerjoin(run, run.id == Import.import_job_id)
        .where(Import.content_purged_at.is_(None),
               or_(Import.created_at < cutoff, run.status == SUCCEEDED))
        .order_by(Import.id)).all()
    db.session.commit()
    result = PurgeResult()
    for import_id in candidates:
        try:
            size = _purge_upload(import_id, cutoff, now)
            db.session.commit()
        except OperationalError as exc:
            db.session.rollback()
            if not is_busy(exc):
                raise
            result.busy += 1
            continue
        if size is not None:
            result.uploads += 1
            result.bytes += size
    if result.uploads or result.busy:
        log.info("imports: removed the files of %d uploads (%d bytes); %d busy, left for later",
                 result.uploads, result.bytes, result.busy)
    return result


def _purge_upload(import_id: int, cutoff: datetime, now: datetime) -> int | None:
    """Empty one upload's file if it may go (see purge_uploads); its size, or None."""
    record = db.session.get(Import, import_id, with_for_update=True, populate_existing=True)
    if record is None or record.content_purged_at is not None:
        return None
    job_ids = [job_id for job_id in (record.check_job_id, record.import_job_id) if job_id]
    statuses = dict(db.session.execute(
        select(Job.id, Job.status).where(Job.id.in_(job_ids))).all()) if job_ids else {}
    if any(status in (QUEUED, RUNNING) for status in statuses.values()):
        return None  # a job still reads it (or will)
    imported = statuses.get(record.import_job_id) == SUCCEEDED
    if not imported and record.created_at >= cutoff:
        return None
    record.content = b""
    record.content_purged_at = now
    return record.size


@queue.chore("purge_import_uploads", every_seconds=PURGE_EVERY_SECONDS)
def purge_uploads_chore() -> None:
    purge_uploads()


def earlier_import(record: Import) -> tuple[Import, Job] | None:
    """The last earlier import of the same bytes (by sha256) that ran to the end."""
    row = db.session.execute(
        select(Import, Job).join(Job, Job.id == Import.import_job_id)
        .where(Import.sha256 == record.sha256, Import.id < record.id, Job.status == SUCCEEDED)
        .order_by(Import.id.desc()).limit(1)).first()
    return (row[0], row[1]) if row else None


def recent_imports(limit: int = 50) -> list[tuple[Import, str | None, Job | None, Job | None]]:
    check, run = aliased(Job), aliased(Job)
    rows = db.session.execute(
        select(Import, User.username, check, run)
        .outerjoin(User, User.id == Import.created_by_id)
        .outerjoin(check, check.id == Import.check_job_id)
        .outerjoin(run, run.id == Import.import_job_id)
        .order_by(Import.id.desc()).limit(limit)).all()
    return [tuple(row) for row in rows]


