"""Imports: storing an upload, the dry run and the import (one background job kind,
"import", with params {"import_id", "dry_run"}), and the per-row report.

The rules are the scan service's (app/scanning/services.py), applied in bulk: rows are
processed in chunks of whole units (a supplier batch is never split), one transaction per
chunk. A chunk locks the parents it names (SELECT ... FOR UPDATE, in id order), creates the
missing ones, reads its children under those locks, decides each row exactly as scan_parent
and scan_child would, then writes the children (INSERT ... ON CONFLICT DO NOTHING), the links,
the completions, the scan events a station would have written (parent_created, linked,
auto_completed, and each refused scan; station "import:<job id>"; rows that cannot be read
as a scan at all are only reported) and the chunk's part of the report. A parent that already exists gets no parent_opened event: a re-import would add
nothing but those. The database triggers keep child_count and its CHECK
keeps it within capacity, as for scans. When a concurrent scan changed a row between the
read and the write (an insert or a link that does not land), the chunk is rolled back and
done again from a fresh read.

A job taken up again after its worker died resumes after the last chunk it committed (the
report parts say where). The dry run writes no bags and no events: it simulates the same
rules on what the database holds plus what the earlier rows of the file would have done.

An uploaded file is kept only while a job may read it (purge_uploads): its bytes are emptied
in the transaction that records a successful import, and an upload never imported (dry run
not confirmed, dry run or import failed) loses them IMPORT_UPLOAD_RETENTION_HOURS after it was
uploaded; never while its dry run or import is queued or running. The reports are built from
the report parts alone and stay downloadable; a confirmation or a job that comes too late is
told to upload the file again.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import logging
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO

from flask import current_app
from sqlalchemy import (LargeBinary, String, any_, bindparam, delete, func, or_, select, text,
                        update)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import aliased

import async_handler
from app.audit.services import record_audit
from app.extensions import db
from app.imports import parsing
from app.imports.parsing import FileRefused, Op, Unit, normalise
from app.models import (ACCEPTED, CHILD, COMPLETE, LINKED, OPEN, PARENT, REJECTED, Bag, Job,
                        ScanEvent, User)
from app.models.imports import Import, ImportReportPart
from app.models.job import FAILED, QUEUED, RUNNING, SUCCEEDED
from app.models.types import utcnow
from app.scanning.codes import CodeError, is_doubled_read, matches, printable

log = logging.getLogger("tracetrack.imports")
# Core tables: executemany over the table compiles once; the ORM bulk path would not.
BAGS = Bag.__table__
SCAN_EVENTS = ScanEvent.__table__

JOB_KIND = "import"
CHUNK_ROWS = 1000          # rows per transaction (whole units: a batch is never split)
CHUNK_ATTEMPTS = 5         # a chunk that collided with scans is done again this often
FIRST_ERRORS = 20          # refused rows shown on the page
SQL_SLICE = 500            # rows per INSERT / codes per IN list: well under bind limits
CONTENT_SLICE = 1 << 20    # the upload is copied out of the database a MiB at a time
# Any constant: imports take it per chunk, so two imports never lock parents in an order
# that deadlocks; scans do not take it.
_IMPORT_LOCK_KEY = 7_130_2027
PURGE_EVERY_SECONDS = 600  # how often each job runner looks for uploads to purge

REPORT_COLUMNS = ("row", "code", "outcome", "reason")
COUNT_KEYS = ("rows", "parents_created", "parents_existing", "children_created",
              "children_linked", "already_linked", "parents_completed", "rejected")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class ImportRefused(Exception):
    """An upload or a confirmation that cannot go on; `message` says what to do next."""

    def __init__(self, code: str, message: str, status: int = 422):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


# --- upload and confirmation (called by the views, which commit) ---------------------------

def clean_filename(name: str | None) -> str:
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    return printable(base, 255).strip() or "upload"


def store_upload(user: User, filename: str | None, content: bytes) -> Import:
    """Check the file's type and header (FileRefused otherwise), keep it, and queue its dry
    run. The caller commits, then wakes the job runner."""
    file_type, encoding, header = parsing.inspect_upload(content)
    record = Import(created_by_id=user.id, filename=clean_filename(filename),
                    size=len(content), sha256=hashlib.sha256(content).hexdigest(),
                    file_type=file_type, layout=header.layout, encoding=encoding,
                    content=content)
    db.session.add(record)
    db.session.flush()
    job = async_handler.enqueue(JOB_KIND, {"import_id": record.id, "dry_run": True}, user)
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
    job = async_handler.enqueue(JOB_KIND, {"import_id": record.id, "dry_run": False}, user)
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
        return (f"The uploaded file was removed on {when}, once its import had finished; its "
                "reports stay. To import the file again, upload it again.")
    hours = current_app.config["IMPORT_UPLOAD_RETENTION_HOURS"]
    return (f"The uploaded file was removed on {when}: a file that is not imported within "
            f"{hours} hours of its upload is not kept. Upload it again to import it.")


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
            if not _is_busy(exc):
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


@async_handler.chore("purge_import_uploads", every_seconds=PURGE_EVERY_SECONDS)
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


# --- the report ----------------------------------------------------------------------------

def _report_cell(value: object) -> str:
    """A spreadsheet runs a cell that starts with = + - @ as a formula: not in our report."""
    text_value = "" if value is None else str(value)
    return "'" + text_value if text_value.startswith(_FORMULA_START) else text_value


def report_chunks(job_id: int) -> Iterator[str]:
    """The per-row report of one job as CSV text, a part at a time."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(REPORT_COLUMNS)
    yield buffer.getvalue()
    part_ids = db.session.scalars(
        select(ImportReportPart.id).where(ImportReportPart.job_id == job_id)
        .order_by(ImportReportPart.last_row)).all()
    for part_id in part_ids:
        data = db.session.scalar(select(ImportReportPart.data)
                                 .where(ImportReportPart.id == part_id))
        yield gzip.decompress(data).decode("utf-8")


# --- the job -------------------------------------------------------------------------------

@dataclass(slots=True)
class BagState:
    """What a code is (or, in a dry run, would be) while a chunk is decided."""

    id: int | None
    kind: str
    status: str
    parent: str | None = None      # a child's parent code
    capacity: int | None = None
    count: int | None = None
    new: bool = False              # a parent created by this chunk and not yet reported


@dataclass
class ChunkWork:
    """What one chunk decided: report lines, counts, and (for the import) the writes."""

    lines: list[tuple[int, str, str, str]] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    errors: list[dict] = field(default_factory=list)
    new_children: list[tuple[str, str]] = field(default_factory=list)   # (code, parent code)
    links: list[tuple[int, str]] = field(default_factory=list)          # (child id, parent)
    completed: list[str] = field(default_factory=list)                  # parent codes
    events: list[dict] = field(default_factory=list)


class DryRunMemory:
    """What the earlier rows of the file would have made of each code (a dry run writes no
    bags, so the database cannot tell), kept in a scratch SQLite file on local disk and not
    in a dict: the dry run's memory stays flat however many codes the file holds. The file
    belongs to this one job run and is removed at its end."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="tracetrack-dry-run-")
        self._db = sqlite3.connect(f"{self._folder.name}/codes.db", isolation_level=None)
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        # At most about 2 MiB of pages. Codes come a chunk at a time, mostly in label order:
        # on 160,000 codes an 8 MiB cache was no faster for those and saved 0.5 s when they
        # came in random order, for 6 MiB more that grew with the file up to its cap.
        self._db.execute("PRAGMA cache_size = -2000")
        self._db.execute(
            "CREATE TABLE codes (code TEXT PRIMARY KEY, id INTEGER, kind TEXT, status TEXT,"
            " parent TEXT, capacity INTEGER, count INTEGER, new INTEGER) WITHOUT ROWID")

    def recall(self, codes: set[str]) -> dict[str, BagState]:
        found: dict[str, BagState] = {}
        for piece in _slices(sorted(codes)):
            rows = self._db.execute(
                f"SELECT * FROM codes WHERE code IN ({', '.join('?' * len(piece))})",  # noqa: S608
                piece)  # only ? placeholders are joined into the text
            for code, bag_id, kind, status, parent, capacity, count, new in rows:
                found[code] = BagState(bag_id, kind, status, parent, capacity, count, bool(new))
        return found

    def remember(self, states: dict[str, BagState]) -> None:
        self._db.execute("BEGIN")
        self._db.executemany(
            "INSERT OR REPLACE INTO codes VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(code, state.id, state.kind, state.status, state.parent, state.capacity,
              state.count, int(state.new)) for code, state in states.items()])
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()
        self._folder.cleanup()


class _LostRace(Exception):
    """A write did not land because a concurrent scan changed the row after it was read."""


@async_handler.job_handler(JOB_KIND)
def run_import_job(context: async_handler.JobContext) -> dict:
    import_id = context.params.get("import_id")
    dry_run = bool(context.params.get("dry_run"))
    record = db.session.get(Import, import_id)
    if record is None:
        raise async_handler.JobError("The uploaded file is gone. Upload it again.")
    user = db.session.get(User, context.created_by_id) if context.created_by_id else None
    if user is None:
        raise async_handler.JobError("The user who started this import is gone. Upload the "
                                     "file again.")
    current = record.check_job_id if dry_run else record.import_job_id
    if current != context.job_id:  # an older attempt, taken up again after a newer one began
        raise async_handler.JobError(f"This file's {'dry run' if dry_run else 'import'} was "
                                     f"started again as job {current}; follow that one.")
    # Finished before the worker died: the summary is already stored.
    if dry_run and record.check_result is not None:
        return record.check_result
    if not dry_run and record.import_result:
        return record.import_result
    if record.content_purged_at is not None:  # the purge never takes a queued job's file
        raise async_handler.JobError(upload_gone_message(record))
    db.session.commit()
    return ImportRun(record, user, context, dry_run).execute()


class ImportRun:
    def __init__(self, record: Import, user: User, context, dry_run: bool):
        self.import_id = record.id
        self.file_type, self.encoding = record.file_type, record.encoding
        self.user_id = user.id
        self.job_id = context.job_id
        self.context = context
        self.dry_run = dry_run
        self.station = f"import:{context.job_id}"
        config = current_app.config
        self.parent_pattern = config["PARENT_CODE_PATTERN"]
        self.child_pattern = config["CHILD_CODE_PATTERN"]
        self.capacity = config["DEFAULT_PARENT_CAPACITY"]
        self.postgres = db.session.get_bind().dialect.name == "postgresql"
        # PostgreSQL takes a whole chunk as one array parameter; SQLite's IN lists and
        # executemany batches stay well under its bind-parameter limit.
        self.slice = CHUNK_ROWS * 10 if self.postgres else SQL_SLICE
        # Dry run only: what the earlier rows of the file would have made of each code.
        self.memory: DryRunMemory | None = None

    # -- the whole file ---------------------------------------------------------------------
    def execute(self) -> dict:
        done_until = self._resume_point()
        if self.dry_run:
            self.memory = DryRunMemory()
        try:
            with spooled_content(self.import_id) as handle, \
                    parsing.open_units(handle, self.file_type, self.encoding,
                                       self.parent_pattern) as source:
                chunk: list[Unit] = []
                size = 0
                for unit in source.units:
                    if unit.last_row <= done_until:
                        continue  # committed by an earlier attempt of this job
                    chunk.append(unit)
                    size += len(unit.ops)
                    if size >= CHUNK_ROWS:
                        self._run_chunk(chunk)
                        self.context.progress(unit.last_row, source.total)
                        chunk, size = [], 0
                if chunk:
                    self._run_chunk(chunk)
                self.context.progress(source.total or 1, source.total or 1, force=True)
        except FileRefused as exc:
            db.session.rollback()
            if self.dry_run:  # a refused file leaves no half report behind
                db.session.execute(delete(ImportReportPart)
                                   .where(ImportReportPart.job_id == self.job_id))
                db.session.commit()
            raise async_handler.JobError(exc.message) from None
        finally:
            if self.memory is not None:
                self.memory.close()
        return self._finish()

    def _resume_point(self) -> int:
        if self.dry_run:
            # What earlier rows would have done lives with the run: taken up again, a dry
            # run starts over.
            db.session.execute(delete(ImportReportPart)
                               .where(ImportReportPart.job_id == self.job_id))
            db.session.commit()
            return 0
        done = db.session.scalar(select(func.max(ImportReportPart.last_row))
                                 .where(ImportReportPart.job_id == self.job_id))
        db.session.commit()
        return done or 0

    def _run_chunk(self, units: list[Unit]) -> None:
        for attempt in range(1, CHUNK_ATTEMPTS + 1):
            touched: dict[str, BagState] = {}
            try:
                work = self._decide(units, touched)
                if not self.dry_run:
                    self._write(work, touched)
                self._store_part(units, work)
                db.session.commit()
            except (_LostRace, OperationalError, IntegrityError) as exc:
                db.session.rollback()
                if isinstance(exc, OperationalError) and not _is_busy(exc):
                    raise  # the database is down: the job fails and says so
                log.warning("import job %s: rows %s-%s collided (%s); attempt %s",
                            self.job_id, units[0].first_row, units[-1].last_row,
                            exc.__class__.__name__, attempt)
                if attempt == CHUNK_ATTEMPTS:
                    raise async_handler.JobError(
                        f"Rows {units[0].first_row} to {units[-1].last_row} kept colliding "
                        "with scans of the same bags. The rows before them are imported; "
                        "confirm the import again to do the rest.") from None
                time.sleep(0.1 * attempt)
                continue
            if self.memory is not None:
                self.memory.remember(touched)
            return

    # -- one chunk: read under locks, decide ------------------------------------------------
    def _decide(self, units: list[Unit], touched: dict[str, BagState]) -> ChunkWork:
        """Fill `touched` with the state of every code of the chunk (read under the parents'
        locks; a dry run adds what earlier rows would have done) and decide every row."""
        work = ChunkWork()
        prepared = [self._prepare(op) for unit in units for op in unit.ops]
        parents = sorted({parent for _op, _code, parent, error in prepared
                          if error is None and parent is not None})
        codes = {code for _op, code, _parent, _error in prepared if code}
        codes.update(parents)

        if self.postgres:
            # A big import into a young table outgrows its statistics (autovacuum may not
            # have analysed it yet, or be off): the planner would then scan the whole table
            # for a few hundred code lookups, and the import would slow down as it goes.
            db.session.execute(text("SET LOCAL enable_seqscan = off"))
        if not self.dry_run and self.postgres:
            db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                               {"key": _IMPORT_LOCK_KEY})
        created = set() if self.dry_run else self._lock_and_create_parents(parents)
        remembered = self.memory.recall(codes) if self.memory is not None else {}
        states = self._load_states(sorted(codes - remembered.keys()))
        for code in codes:
            if code in remembered:
                touched[code] = remembered[code]
            elif code in states:
                touched[code] = states[code]
                touched[code].new = code in created
            elif self.dry_run and code in parents and matches(self.parent_pattern, code):
                # The first row that names it would create it.
                touched[code] = BagState(None, PARENT, OPEN, capacity=self.capacity, count=0,
                                         new=True)

        for op, code, parent, error in prepared:
            work.counts["rows"] += 1
            if error is not None:
                self._reject(work, op, code, None, touched, *error)
            elif op.kind == PARENT:
                self._decide_parent(work, op, code, touched)
            else:
                self._decide_child(work, op, code, parent, touched)
        work.lines.sort(key=lambda line: line[0])
        return work

    def _prepare(self, op: Op) -> tuple[Op, str, str | None, tuple[str, str] | None]:
        """(op, normalised code, normalised parent code, refusal before any lookup)."""
        raw_code = op.code
        if op.error is not None:
            return op, printable(raw_code), None, op.error
        if op.kind == PARENT:
            try:
                code = normalise(raw_code)
            except CodeError as exc:
                return op, printable(raw_code), None, (
                    "invalid_code", f"The parent code was not accepted. {exc}")
            return op, code, code, None
        try:
            code = normalise(raw_code)
        except CodeError as exc:
            return op, printable(raw_code), None, (
                "invalid_code", f"The child code was not accepted. {exc}")
        try:
            parent = normalise(op.parent)
        except CodeError as exc:
            return op, code, None, ("invalid_code", f"The parent code was not accepted. {exc}")
        return op, code, parent, None

    def _lock_and_create_parents(self, parents: list[str]) -> set[str]:
        """Lock the named parents that exist (in id order) and insert the missing ones that
        match the parent pattern (locked by being ours). Returns the codes inserted."""
        existing: set[str] = set()
        for piece in _slices(parents, self.slice):
            existing.update(db.session.scalars(
                select(Bag.code).where(self._code_in(Bag.code, piece))
                .order_by(Bag.id).with_for_update()))
        missing = [code for code in parents
                   if code not in existing and matches(self.parent_pattern, code)]
        created: set[str] = set()
        now = utcnow()
        for piece in _slices(missing):
            rows = db.session.scalars(
                _insert_ignoring_conflict().returning(BAGS.c.code),
                [{"code": code, "kind": PARENT, "status": OPEN, "capacity": self.capacity,
                  "child_count": 0, "parent_id": None, "linked_at": None, "created_at": now,
                  "created_by_id": self.user_id} for code in piece]).all()
            if len(rows) != len(piece):
                raise _LostRace()  # a station created one of them a moment ago
            created.update(rows)
        return created

    def _code_in(self, column, codes: list[str]):
        if self.postgres:
            return column == any_(bindparam(None, codes, type_=postgresql.ARRAY(String)))
        return column.in_(codes)

    def _load_states(self, codes: list[str]) -> dict[str, BagState]:
        parent = aliased(Bag)
        states: dict[str, BagState] = {}
        for piece in _slices(codes, self.slice):
            rows = db.session.execute(
                select(Bag.id, Bag.code, Bag.kind, Bag.status, Bag.capacity, Bag.child_count,
                       parent.code)
                .outerjoin(parent, Bag.parent_id == parent.id)
                .where(self._code_in(Bag.code, piece))).all()
            for bag_id, code, kind, status, capacity, count, parent_code in rows:
                states[code] = BagState(bag_id, kind, status, parent_code, capacity, count)
        return states

    # -- the rules (scan_parent / scan_child, DESIGN.md section 5) --------------------------
    def _decide_parent(self, work: ChunkWork, op: Op, code: str, states) -> None:
        state = states.get(code)
        if state is None:
            self._reject(work, op, code, None, states, "invalid_code",
                         f"{code} is not a parent code. Parent codes look like SB00001 "
                         f"(pattern {self.parent_pattern}).")
        elif state.kind == CHILD:
            self._reject(work, op, code, None, states, "code_is_child",
                         f"{code} is a child bag, not a parent.")
        elif state.new:
            self._announce(work, code, state)
            work.lines.append((op.row, code, "parent_created",
                               f"new parent, capacity {state.capacity}"))
        else:
            work.counts["parents_existing"] += 1
            work.lines.append((op.row, code, "parent_exists",
                               f"already there ({state.status}, {state.count} / "
                               f"{state.capacity})"))

    def _announce(self, work: ChunkWork, code: str, state: BagState) -> None:
        """The first row that names a new parent creates it, as its first scan would."""
        state.new = False
        work.counts["parents_created"] += 1
        work.events.append(self._event("parent_scan", "parent_created", code,
                                       bag=code, parent=code))

    def _decide_child(self, work: ChunkWork, op: Op, code: str, parent_code: str,
                      states) -> None:
        parent = states.get(parent_code)
        if parent is None or parent.kind != PARENT:
            if parent is not None:
                self._reject(work, op, code, None, states, "code_is_child",
                             f"Its parent {parent_code} is a child bag, not a parent.")
            elif matches(self.parent_pattern, parent_code):
                self._reject(work, op, code, None, states, "parent_not_found",
                             f"There is no parent {parent_code}.")
            else:
                self._reject(work, op, code, None, states, "invalid_code",
                             f"{parent_code} is not a parent code (pattern "
                             f"{self.parent_pattern}).")
            return
        if parent.new:
            self._announce(work, parent_code, parent)
        if code == parent_code or matches(self.parent_pattern, code):
            self._reject(work, op, code, parent_code, states, "code_is_parent",
                         f"{code} is a parent code, not a child.")
            return
        if is_doubled_read(code) or not matches(self.child_pattern, code):
            reason = ("it looks like the label was read twice" if is_doubled_read(code)
                      else f"child codes must match {self.child_pattern}")
            self._reject(work, op, code, parent_code, states, "invalid_code",
                         f"{code} was not accepted: {reason}.")
            return
        child = states.get(code)
        if child is not None:
            if child.kind == PARENT:
                self._reject(work, op, code, parent_code, states, "code_is_parent",
                             f"{code} is a parent code, not a child.", bag=code)
                return
            if child.parent == parent_code:
                work.counts["already_linked"] += 1
                work.lines.append((op.row, code, "already_linked", f"already in {parent_code}"))
                return
            if child.parent is not None:
                self._reject(work, op, code, parent_code, states, "child_in_other_parent",
                             f"{code} is already in {child.parent}.", bag=code)
                return
        if parent.status == COMPLETE:
            self._reject(work, op, code, parent_code, states, "parent_complete",
                         f"{parent_code} is complete.", bag=code if child else None)
            return
        if parent.count >= parent.capacity:
            self._reject(work, op, code, parent_code, states, "parent_full",
                         f"{parent_code} is full ({parent.count} / {parent.capacity}).",
                         bag=code if child else None)
            return

        if child is None:
            states[code] = BagState(None, CHILD, LINKED, parent_code)
            work.new_children.append((code, parent_code))
            work.counts["children_created"] += 1
        else:
            work.links.append((child.id, parent_code))
            child.parent, child.status = parent_code, LINKED
        parent.count += 1
        work.counts["children_linked"] += 1
        work.events.append(self._event("child_scan", "linked", code, bag=code,
                                       parent=parent_code))
        reason = f"into {parent_code} ({parent.count} / {parent.capacity})"
        if parent.count >= parent.capacity:
            parent.status = COMPLETE
            work.completed.append(parent_code)
            work.counts["parents_completed"] += 1
            work.events.append(self._event("complete", "auto_completed", parent_code,
                                           bag=parent_code, parent=parent_code))
            reason += f"; {parent_code} is now complete"
        work.lines.append((op.row, code, "linked", reason))

    def _reject(self, work: ChunkWork, op: Op, code: str, parent_code: str | None, states,
                result: str, message: str, *, bag: str | None = None) -> None:
        work.counts["rejected"] += 1
        work.lines.append((op.row, code, "rejected", f"{result}: {message}"))
        if len(work.errors) < FIRST_ERRORS:
            work.errors.append({"row": op.row, "code": code, "result": result,
                                "reason": message})
        if op.scan:
            action = "parent_scan" if op.kind == PARENT else "child_scan"
            parent = parent_code if parent_code and parent_code in states \
                and states[parent_code].kind == PARENT else None
            work.events.append(self._event(action, result, code or "", outcome=REJECTED,
                                           bag=bag, parent=parent, reason=message))

    def _event(self, action: str, result: str, code: str, *, outcome: str = ACCEPTED,
               bag: str | None = None, parent: str | None = None,
               reason: str | None = None) -> dict:
        """A scan event; bag and parent are codes, resolved to ids when written."""
        return {"action": action, "result": result, "code": code[:64], "outcome": outcome,
                "bag": bag, "parent": parent, "reason": reason[:500] if reason else None,
                "created_at": utcnow()}

    # -- one chunk: write -------------------------------------------------------------------
    def _write(self, work: ChunkWork, states: dict[str, BagState]) -> None:
        ids = {code: state.id for code, state in states.items() if state.id is not None}
        now = utcnow()
        if work.new_children:
            rows = self._insert_children(work.new_children, ids, now)
            if len(rows) != len(work.new_children):
                raise _LostRace()  # a station created one of these children meanwhile
            ids.update(rows)
        by_parent: dict[str, list[int]] = {}
        for child_id, parent in work.links:
            by_parent.setdefault(parent, []).append(child_id)
        for parent, child_ids in by_parent.items():
            for piece in _slices(child_ids):
                linked = db.session.execute(
                    update(Bag).where(Bag.id.in_(piece), Bag.kind == CHILD,
                                      Bag.parent_id.is_(None))
                    .values(parent_id=ids[parent], status=LINKED, linked_at=now)
                    .execution_options(synchronize_session=False)).rowcount
                if linked != len(piece):
                    raise _LostRace()  # a station linked one of them meanwhile
        if work.completed:
            db.session.execute(
                update(Bag).where(Bag.id.in_([ids[code] for code in work.completed]))
                .values(status=COMPLETE).execution_options(synchronize_session=False))
        rows = [{"created_at": event["created_at"], "user_id": self.user_id,
                 "action": event["action"], "outcome": event["outcome"],
                 "result": event["result"], "code": event["code"],
                 "bag_id": ids.get(event["bag"]) if event["bag"] else None,
                 "parent_id": ids.get(event["parent"]) if event["parent"] else None,
                 "reason": event["reason"], "station": self.station}
                for event in work.events]
        if rows:
            self._insert_events(rows)

    def _insert_children(self, children: list[tuple[str, str]], ids: dict[str, int],
                         now) -> list[tuple[str, int]]:
        """INSERT ... ON CONFLICT (code) DO NOTHING RETURNING code, id: the children a
        concurrent scan created meanwhile are missing from the answer. Each row fires the
        child_count trigger, as a scan's insert does."""
        if self.postgres:  # the whole chunk in one statement, its columns as arrays
            return db.session.execute(text(
                "INSERT INTO bags (code, kind, status, parent_id, linked_at, created_at,"
                " created_by_id)"
                " SELECT code, 'child', 'linked', parent_id, :now, :now, :user_id"
                " FROM unnest(CAST(:codes AS text[]), CAST(:parents AS integer[]))"
                "  AS rows (code, parent_id)"
                " ON CONFLICT (code) DO NOTHING RETURNING code, id"),
                {"codes": [code for code, _ in children],
                 "parents": [ids[parent] for _, parent in children],
                 "now": now, "user_id": self.user_id}).all()
        rows = []
        for piece in _slices(children):
            rows.extend(db.session.execute(
                _insert_ignoring_conflict().returning(BAGS.c.code, BAGS.c.id),
                [{"code": code, "kind": CHILD, "status": LINKED, "capacity": None,
                  "child_count": None, "parent_id": ids[parent], "linked_at": now,
                  "created_at": now, "created_by_id": self.user_id}
                 for code, parent in piece]).all())
        return rows

    def _insert_events(self, rows: list[dict]) -> None:
        if self.postgres:  # the whole chunk in one statement, its columns as arrays
            db.session.execute(text(
                "INSERT INTO scan_events (created_at, user_id, action, outcome, result, code,"
                " bag_id, parent_id, reason, station)"
                " SELECT created_at, :user_id, action, outcome, result, code, bag_id,"
                "  parent_id, reason, :station"
                " FROM unnest(CAST(:created_at AS timestamptz[]), CAST(:action AS text[]),"
                "  CAST(:outcome AS text[]), CAST(:result AS text[]), CAST(:code AS text[]),"
                "  CAST(:bag_id AS integer[]), CAST(:parent_id AS integer[]),"
                "  CAST(:reason AS text[]))"
                " AS rows (created_at, action, outcome, result, code, bag_id, parent_id,"
                "  reason)"),
                {"user_id": self.user_id, "station": self.station,
                 **{name: [row[name] for row in rows]
                    for name in ("created_at", "action", "outcome", "result", "code",
                                 "bag_id", "parent_id", "reason")}})
            return
        # RETURNING makes SQLAlchemy send multi-row INSERTs (insertmanyvalues) instead of
        # one statement per event.
        for piece in _slices(rows):
            db.session.execute(SCAN_EVENTS.insert().returning(SCAN_EVENTS.c.id), piece).all()

    def _store_part(self, units: list[Unit], work: ChunkWork) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        for row, code, outcome, reason in work.lines:
            writer.writerow((row, _report_cell(code), outcome, _report_cell(reason)))
        counts = {key: work.counts.get(key, 0) for key in COUNT_KEYS}
        db.session.add(ImportReportPart(
            import_id=self.import_id, job_id=self.job_id, first_row=units[0].first_row,
            last_row=units[-1].last_row, counts={**counts, "errors": work.errors},
            data=gzip.compress(buffer.getvalue().encode("utf-8"), compresslevel=6)))

    # -- the end ----------------------------------------------------------------------------
    def _finish(self) -> dict:
        totals: Counter = Counter()
        errors: list[dict] = []
        for counts in db.session.scalars(
                select(ImportReportPart.counts).where(ImportReportPart.job_id == self.job_id)
                .order_by(ImportReportPart.last_row)):
            totals.update({key: counts.get(key, 0) for key in COUNT_KEYS})
            errors.extend(counts.get("errors", [])[:FIRST_ERRORS - len(errors)])
        record = db.session.get(Import, self.import_id, with_for_update=True,
                                populate_existing=True)
        before = earlier_import(record)
        counts = {key: totals.get(key, 0) for key in COUNT_KEYS}
        changes = counts["parents_created"] + counts["children_linked"]
        summary = {
            "import_id": record.id, "mode": "dry_run" if self.dry_run else "import",
            "file": record.filename, "sha256": record.sha256, "layout": record.layout,
            "counts": counts, "changes": changes, "first_errors": errors,
            "same_file_imported_before": {
                "import_id": before[0].id, "job_id": before[1].id,
                "finished_at": before[1].finished_at.isoformat()
                if before[1].finished_at else None} if before else None,
            "message": summary_message(counts, changes, self.dry_run),
        }
        if self.dry_run:
            record.check_result = summary
        elif not record.import_result:
            user = db.session.get(User, self.user_id)
            record_audit(user, "import.run", "import", f"import {record.id}", after={
                "file": record.filename, "sha256": record.sha256, "size": record.size,
                "layout": record.layout, "job": self.job_id, **counts})
            record.import_result = summary
            # Imported: no job reads the file again (the reports are the report parts).
            record.content = b""
            record.content_purged_at = utcnow()
        db.session.commit()
        return summary


def summary_message(counts: dict, changes: int, dry_run: bool) -> str:
    refused = counts["rejected"]
    refused_text = f"{refused:,} row{'s' if refused != 1 else ''} refused"
    if changes == 0:
        nothing = ("Nothing would change" if dry_run else "Nothing changed")
        if counts["already_linked"] or counts["parents_existing"]:
            return f"{nothing}: every accepted row is already in the database; {refused_text}."
        return f"{nothing}; {refused_text}."
    verb = "Would create" if dry_run else "Created"
    link = "link" if dry_run else "linked"
    return (f"{verb} {counts['parents_created']:,} parents and {counts['children_created']:,} "
            f"children, {link} {counts['children_linked']:,} children "
            f"({counts['parents_completed']:,} parents complete); "
            f"{counts['already_linked']:,} already linked; {refused_text}.")


# --- helpers -------------------------------------------------------------------------------

# PostgreSQL: lock_not_available, serialization_failure, deadlock_detected.
_BUSY_SQLSTATES = {"55P03", "40001", "40P01"}


def _is_busy(exc: OperationalError) -> bool:
    """A lock wait or a deadlock with a scan (worth doing the chunk again), not an outage."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return sqlstate in _BUSY_SQLSTATES or "database is locked" in str(exc).lower()


def _slices(items: list, size: int = SQL_SLICE) -> Iterator[list]:
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _insert_ignoring_conflict():
    """INSERT INTO bags ... ON CONFLICT (code) DO NOTHING, for executemany: one compiled
    statement that SQLAlchemy sends in multi-row batches (insertmanyvalues)."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(BAGS).on_conflict_do_nothing(index_elements=["code"])


@contextmanager
def spooled_content(import_id: int) -> Iterator[IO[bytes]]:
    """The upload in a temporary file, copied out of the database a slice at a time: the
    readers need a seekable file, and memory stays flat whatever the file's size. (SQLite
    would load the whole value to take a substr() of it: there the slices come through its
    incremental blob I/O.)"""
    handle = tempfile.TemporaryFile()
    try:
        connection = db.session.connection()
        if connection.dialect.name == "sqlite":
            # imports.id is the table's rowid (an INTEGER PRIMARY KEY).
            raw = connection.connection.driver_connection
            with raw.blobopen("imports", "content", import_id, readonly=True) as blob:
                while piece := blob.read(CONTENT_SLICE):
                    handle.write(piece)
        else:
            offset = 1
            while True:
                piece = db.session.scalar(
                    select(func.substr(Import.content, offset, CONTENT_SLICE,
                                       type_=LargeBinary))
                    .where(Import.id == import_id))
                if not piece:
                    break
                handle.write(piece)
                offset += len(piece)
        db.session.commit()
        handle.seek(0)
        yield handle
    finally:
        handle.close()
