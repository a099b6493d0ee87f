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
import io
import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import (String, any_, bindparam, delete, func, select, text)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import aliased

from app.jobs import queue
from app.imports.report import COUNT_KEYS, FIRST_ERRORS, report_cell, summary_message
from app.site_scope import current_site_id
from app.imports.scratch import BagState, DryRunMemory, slices, spooled_content
from app.imports.upload import JOB_KIND, earlier_import, upload_gone_message
from app.imports.writes import BAGS, ChunkWriter, LostRace, insert_ignoring_conflict
from app.errors import is_busy
from app.audit.services import record_audit
from app.extensions import db
from app.imports import parse_process
from app.imports.parsing import FileRefused
from app.imports.units import Op, Unit
from app.models import (ACCEPTED, CHILD, COMPLETE, LINKED, OPEN, PARENT, REJECTED, Bag, User)
from app.models.imports import Import, ImportReportPart
from app.models.types import utcnow
from app.rules import bags as rules
from app.rules.codes import CodeError, normalise_code, printable


log = logging.getLogger("tracetrack.imports")

CHUNK_ROWS = 1000          # rows per transaction (whole units: a batch is never split)
CHUNK_ATTEMPTS = 5         # a chunk that collided with scans is done again this often
SQL_SLICE = 500            # rows per INSERT / codes per IN list: well under bind limits
# Any constant: imports take it per chunk, so two imports never lock parents in an order
# that deadlocks; scans do not take it.
_IMPORT_LOCK_KEY = 7_130_2027


# --- the job -------------------------------------------------------------------------------

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


@queue.job_handler(JOB_KIND)
def run_import_job(context: queue.JobContext) -> dict:
    import_id = context.params.get("import_id")
    dry_run = bool(context.params.get("dry_run"))
    record = db.session.get(Import, import_id)
    if record is None:
        raise queue.JobError("The uploaded file is gone. Upload it again.")
    user = db.session.get(User, context.created_by_id) if context.created_by_id else None
    if user is None:
        raise queue.JobError("The user who started this import is gone. Upload the "
                                     "file again.")
    current = record.check_job_id if dry_run else record.import_job_id
    if current != context.job_id:  # an older attempt, taken up again after a newer one began
        raise queue.JobError(f"This file's {'dry run' if dry_run else 'import'} was "
                                     f"started again as job {current}; follow that one.")
    # Finished before the worker died: the summary is already stored.
    if dry_run and record.check_result is not None:
        return record.check_result
    if not dry_run and record.import_result:
        return record.import_result
    if record.content_purged_at is not None:  # the purge never takes a queued job's file
        raise queue.JobError(upload_gone_message(record))
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
        self.code_rules = rules.CodeRules.from_config(config)
        self.parent_pattern = self.code_rules.parent_pattern  # for telling units apart
        self.capacity = self.code_rules.capacity
        self.postgres = db.session.get_bind().dialect.name == "postgresql"
        # PostgreSQL takes a whole chunk as one array parameter; SQLite's IN lists and
        # executemany batches stay well under its bind-parameter limit.
        self.slice = CHUNK_ROWS * 10 if self.postgres else SQL_SLICE
        self.writer = ChunkWriter(self.user_id, self.station, self.postgres)
        # Dry run only: what the earlier rows of the file would have made of each code.
        self.memory: DryRunMemory | None = None

    # -- the whole file ---------------------------------------------------------------------
    def execute(self) -> dict:
        done_until = self._resume_point()
        if self.dry_run:
            self.memory = DryRunMemory()
        try:
            with spooled_content(self.import_id) as handle, \
                    parse_process.open_units(handle, self.file_type, self.encoding,
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
            raise queue.JobError(exc.message) from None
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
                    self.writer.write(work, touched)
                self._store_part(units, work)
                db.session.commit()
            except (LostRace, OperationalError, IntegrityError) as exc:
                db.session.rollback()
                if isinstance(exc, OperationalError) and not is_busy(exc):
                    raise  # the database is down: the job fails and says so
                log.warning("import job %s: rows %s-%s collided (%s); attempt %s",
                            self.job_id, units[0].first_row, units[-1].last_row,
                            exc.__class__.__name__, attempt)
                if attempt == CHUNK_ATTEMPTS:
                    raise queue.JobError(
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
            elif self.dry_run and code in parents and self.code_rules.is_parent_code(code):
                # The first row that names it would create it.
                touched[code] = BagState(None, code, PARENT, OPEN, capacity=self.capacity, count=0,
                                         new=True)

        for op, code, parent, error in prepared:
            work.counts["rows"] += 1
            if error is not None:
                self._reject(work, op, code, None, touched, error)
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
                code = normalise_code(raw_code)
            except CodeError as exc:
                return op, printable(raw_code), None, (
                    "invalid_code", f"The parent code was not accepted. {exc}")
            return op, code, code, None
        try:
            code = normalise_code(raw_code)
        except CodeError as exc:
            return op, printable(raw_code), None, (
                "invalid_code", f"The child code was not accepted. {exc}")
        try:
            parent = normalise_code(op.parent)
        except CodeError as exc:
            return op, code, None, ("invalid_code", f"The parent code was not accepted. {exc}")
        return op, code, parent, None

    def _lock_and_create_parents(self, parents: list[str]) -> set[str]:
        """Lock the named parents that exist (in id order) and insert the missing ones that
        match the parent pattern (locked by being ours). Returns the codes inserted."""
        existing: set[str] = set()
        for piece in slices(parents, self.slice):
            existing.update(db.session.scalars(  # every site's: a code is one bag anywhere
                select(Bag.code).where(self._code_in(Bag.code, piece))
                .order_by(Bag.id).with_for_update().execution_options(all_sites=True)))
        missing = [code for code in parents
                   if code not in existing and self.code_rules.is_parent_code(code)]
        created: set[str] = set()
        now = utcnow()
        for piece in slices(missing):
            rows = db.session.scalars(
                insert_ignoring_conflict().returning(BAGS.c.code),
                [{"code": code, "kind": PARENT, "status": OPEN, "capacity": self.capacity,
                  "child_count": 0, "parent_id": None, "linked_at": None, "created_at": now,
                  "created_by_id": self.user_id} for code in piece]).all()
            if len(rows) != len(piece):
                raise LostRace()  # a station created one of them a moment ago
            created.update(rows)
        return created

    def _code_in(self, column, codes: list[str]):
        if self.postgres:
            return column == any_(bindparam(None, codes, type_=postgresql.ARRAY(String)))
        return column.in_(codes)

    def _load_states(self, codes: list[str]) -> dict[str, BagState]:
        parent = aliased(Bag)
        states: dict[str, BagState] = {}
        for piece in slices(codes, self.slice):
            rows = db.session.execute(  # every site's: another's is refused (issue 21)
                select(Bag.id, Bag.code, Bag.kind, Bag.status, Bag.capacity, Bag.child_count,
                       parent.code, Bag.site_id)
                .outerjoin(parent, Bag.parent_id == parent.id)
                .where(self._code_in(Bag.code, piece))
                .execution_options(all_sites=True)).all()
            for bag_id, code, kind, status, capacity, count, parent_code, site in rows:
                states[code] = BagState(bag_id, code, kind, status, parent_code, capacity, count,
                                        site=site)
        return states

    # -- the rules: the rule book's, row by row, as a station would scan them --------------
    def _decide_parent(self, work: ChunkWork, op: Op, code: str, states) -> None:
        state = states.get(code)
        try:
            rules.at_site(code, state, current_site_id())
            decision = rules.parent_scan(code, None if state is None or state.new else state,
                                         self.code_rules)
        except rules.Refusal as refusal:
            self._reject(work, op, code, None, states, refusal)
            return
        if decision == rules.CREATE:
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
        child = states.get(code)
        try:
            rules.at_site(parent_code, parent, current_site_id())
            rules.parent_for_child_scan(parent_code, parent, self.code_rules)
        except rules.Refusal as refusal:
            self._reject(work, op, code, None, states, refusal)
            return
        if parent.new:
            self._announce(work, parent_code, parent)
        try:
            rules.check_child_code(code, parent_code, self.code_rules)
        except rules.Refusal as refusal:
            self._reject(work, op, code, parent_code, states, refusal)
            return
        try:
            rules.at_site(code, child, current_site_id())
            decision = rules.link_child(parent, code, child)
        except rules.Refusal as refusal:
            self._reject(work, op, code, parent_code, states, refusal,
                         bag=code if child is not None else None)
            return
        if decision == rules.ALREADY_LINKED:
            work.counts["already_linked"] += 1
            work.lines.append((op.row, code, "already_linked", f"already in {parent_code}"))
            return

        if decision == rules.LINK_NEW:
            states[code] = BagState(None, code, CHILD, LINKED, parent_code)
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
        if rules.completes(parent):
            parent.status = COMPLETE
            work.completed.append(parent_code)
            work.counts["parents_completed"] += 1
            work.events.append(self._event("complete", "auto_completed", parent_code,
                                           bag=parent_code, parent=parent_code))
            reason += f"; {parent_code} is now complete"
        work.lines.append((op.row, code, "linked", reason))

    def _reject(self, work: ChunkWork, op: Op, code: str, parent_code: str | None, states,
                refusal: rules.Refusal | tuple[str, str], *, bag: str | None = None) -> None:
        result, message = ((refusal.code, refusal.message)
                           if isinstance(refusal, rules.Refusal) else refusal)
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
    def _store_part(self, units: list[Unit], work: ChunkWork) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        for row, code, outcome, reason in work.lines:
            writer.writerow((row, report_cell(code), outcome, report_cell(reason)))
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
