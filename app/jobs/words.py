"""Jobs described for a supervisor (issue 18, item 8): what the job does, its state and its
outcome in words, with the same counts the import's own page shows. No JSON on a page."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from app.extensions import db
from app.models import Job
from app.models.imports import Import

STATES = {"queued": "waiting for a worker", "running": "running",
          "succeeded": "done", "failed": "failed"}
STATE_BADGES = {"queued": "text-bg-secondary", "running": "text-bg-primary",
                "succeeded": "text-bg-success", "failed": "text-bg-danger"}


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


@dataclass
class JobWords:
    title: str
    state: str
    badge: str
    outcome: str = ""
    link: tuple[str, str] | None = None   # (endpoint, label) of the page with the details
    link_args: dict = field(default_factory=dict)
    facts: list[tuple[str, str]] = field(default_factory=list)


def import_sentence(counts: dict, dry_run: bool) -> str:
    """What an import did (or its dry run would do), with plurals right."""
    refused = plural(counts.get("rejected", 0), "row") + " refused"
    made = counts.get("parents_created", 0) + counts.get("children_linked", 0)
    if made == 0:
        nothing = "Nothing would change" if dry_run else "Nothing changed"
        if counts.get("already_linked") or counts.get("parents_existing"):
            return f"{nothing}: every accepted row is already in the database; {refused}."
        return f"{nothing}; {refused}."
    verb, link = ("Would create", "link") if dry_run else ("Created", "linked")
    completed = counts.get("parents_completed", 0)
    return (f"{verb} {plural(counts.get('parents_created', 0), 'parent')} and "
            f"{plural(counts.get('children_created', 0), 'child', 'children')}, {link} "
            f"{plural(counts.get('children_linked', 0), 'child', 'children')}"
            f" ({plural(completed, 'parent')} {'would be' if dry_run else ''}"
            f"{' ' if dry_run else ''}complete); "
            f"{plural(counts.get('already_linked', 0), 'child', 'children')} already linked; "
            f"{refused}.").replace("  ", " ")


def _imports_of(jobs: list[Job]) -> dict[int, Import]:
    ids = {job.params.get("import_id") for job in jobs if job.kind == "import"} - {None}
    if not ids:
        return {}
    return {record.id: record for record in db.session.scalars(
        select(Import).where(Import.id.in_(ids)))}


def describe(job: Job, record: Import | None = None) -> JobWords:
    state = STATES.get(job.status, job.status)
    if job.status == "running" and job.progress_total:
        percent = min(100, round(100 * job.progress_done / job.progress_total))
        state = f"running, {percent}% done"
    words = JobWords(title=job.kind.replace("_", " ").capitalize(), state=state,
                     badge=STATE_BADGES.get(job.status, "text-bg-light"))
    if job.kind == "import":
        dry_run = bool(job.params.get("dry_run"))
        name = record.filename if record else f"import {job.params.get('import_id')}"
        words.title = f"{'Dry run' if dry_run else 'Import'} of {name}"
        if record is not None:
            words.link = ("imports.show_import", "See the import")
            words.link_args = {"import_id": record.id}
            result = record.check_result if dry_run else record.import_result
            if job.status == "succeeded" and result:
                counts = result.get("counts", {})
                words.outcome = import_sentence(counts, dry_run)
                words.facts = [("Rows read", f"{counts.get('rows', 0):,}"),
                               ("Rows refused", f"{counts.get('rejected', 0):,}")]
    elif job.kind == "verify_bags":
        words.title = "Check of every parent's count"
        result = job.result or {}
        if job.status == "succeeded":
            wrong = result.get("mismatch_count", 0)
            words.outcome = (f"{plural(result.get('parents_checked', 0), 'parent')} checked: "
                             + ("every count is right." if not wrong else
                                f"{plural(wrong, 'parent')} with a wrong count."))
            words.facts = [(m["code"], f"says {m['child_count']}, holds {m['children']} "
                                       f"(capacity {m['capacity']})")
                           for m in result.get("mismatches", [])]
    elif job.kind == "label_print":  # app/labels/printing.py
        words.title = "Labels sent to the label printer"
        result = job.result or {}
        if job.status == "succeeded":
            words.outcome = (f"{plural(result.get('labels', 0), 'label')} sent to the printer "
                             f"at {result.get('printer')}.")
    elif job.status == "succeeded" and job.result:
        words.facts = [(str(key).replace("_", " ").capitalize(), _plain(value))
                       for key, value in job.result.items()]
    if job.status == "failed" and job.error:
        words.outcome = job.error
    return words


def _plain(value) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, list):
        return plural(len(value), "item")
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')}: {_plain(v)}" for k, v in value.items())
    return str(value)


def describe_all(jobs: list[Job]) -> list[tuple[Job, JobWords]]:
    imports = _imports_of(jobs)
    return [(job, describe(job, imports.get(job.params.get("import_id"))
                           if job.kind == "import" else None)) for job in jobs]
