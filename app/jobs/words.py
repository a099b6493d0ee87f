"""Jobs described for a supervisor (issue 18, item 8): what the job does, its state and its
outcome in words, with the same counts the import's own page shows. No JSON on a page."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import gettext, ngettext
from sqlalchemy import select

from app.domain import N_
from app.extensions import db
from app.i18n import number
from app.models import Job
from app.models.imports import Import

STATES = {"queued": N_("waiting for a worker"), "running": N_("running"),
          "succeeded": N_("done"), "failed": N_("failed")}
STATE_BADGES = {"queued": "text-bg-secondary", "running": "text-bg-primary",
                "succeeded": "text-bg-success", "failed": "text-bg-danger"}


def state_words(status: str) -> str:
    """A job's state in the request's language (the template filter job_state)."""
    return gettext(STATES[status]) if status in STATES else status


def parents(count: int) -> str:
    return ngettext("%(count)s parent", "%(count)s parents", count, count=number(count))


def children(count: int) -> str:
    return ngettext("%(count)s child", "%(count)s children", count, count=number(count))


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
    """What an import did (or its dry run would do), with plurals right, in the request's
    language."""
    rejected = counts.get("rejected", 0)
    refused = ngettext("%(count)s row refused", "%(count)s rows refused", rejected,
                       count=number(rejected))
    made = counts.get("parents_created", 0) + counts.get("children_linked", 0)
    if made == 0:
        if counts.get("already_linked") or counts.get("parents_existing"):
            if dry_run:
                return gettext("Nothing would change: every accepted row is already in the "
                               "database; %(refused)s.", refused=refused)
            return gettext("Nothing changed: every accepted row is already in the database; "
                           "%(refused)s.", refused=refused)
        if dry_run:
            return gettext("Nothing would change; %(refused)s.", refused=refused)
        return gettext("Nothing changed; %(refused)s.", refused=refused)
    values = {"parents": parents(counts.get("parents_created", 0)),
              "children": children(counts.get("children_created", 0)),
              "linked": children(counts.get("children_linked", 0)),
              "completed": parents(counts.get("parents_completed", 0)),
              "already": children(counts.get("already_linked", 0)), "refused": refused}
    if dry_run:
        return gettext("Would create %(parents)s and %(children)s, link %(linked)s "
                       "(%(completed)s would be complete); %(already)s already linked; "
                       "%(refused)s.", **values)
    return gettext("Created %(parents)s and %(children)s, linked %(linked)s (%(completed)s "
                   "complete); %(already)s already linked; %(refused)s.", **values)


def _imports_of(jobs: list[Job]) -> dict[int, Import]:
    ids = {job.params.get("import_id") for job in jobs if job.kind == "import"} - {None}
    if not ids:
        return {}
    return {record.id: record for record in db.session.scalars(
        select(Import).where(Import.id.in_(ids)))}


def describe(job: Job, record: Import | None = None) -> JobWords:
    state = state_words(job.status)
    if job.status == "running" and job.progress_total:
        percent = min(100, round(100 * job.progress_done / job.progress_total))
        state = gettext("running, %(percent)s%% done", percent=percent)
    words = JobWords(title=job.kind.replace("_", " ").capitalize(), state=state,
                     badge=STATE_BADGES.get(job.status, "text-bg-light"))
    if job.kind == "import":
        dry_run = bool(job.params.get("dry_run"))
        name = (record.filename if record else
                gettext("import %(number)s", number=job.params.get("import_id")))
        words.title = (gettext("Dry run of %(name)s", name=name) if dry_run
                       else gettext("Import of %(name)s", name=name))
        if record is not None:
            words.link = ("imports.show_import", gettext("See the import"))
            words.link_args = {"import_id": record.id}
            result = record.check_result if dry_run else record.import_result
            if job.status == "succeeded" and result:
                counts = result.get("counts", {})
                words.outcome = import_sentence(counts, dry_run)
                words.facts = [(gettext("Rows read"), number(counts.get("rows", 0))),
                               (gettext("Rows refused"), number(counts.get("rejected", 0)))]
    elif job.kind == "verify_bags":
        words.title = gettext("Check of every parent's count")
        result = job.result or {}
        if job.status == "succeeded":
            wrong = result.get("mismatch_count", 0)
            checked = parents(result.get("parents_checked", 0))
            words.outcome = (
                gettext("%(checked)s checked: every count is right.", checked=checked)
                if not wrong else
                gettext("%(checked)s checked: %(wrong)s with a wrong count.", checked=checked,
                        wrong=parents(wrong)))
            words.facts = [(m["code"], gettext("says %(count)s, holds %(children)s (capacity "
                                               "%(capacity)s)", count=m["child_count"],
                                               children=m["children"], capacity=m["capacity"]))
                           for m in result.get("mismatches", [])]
    elif job.kind == "label_print":  # app/labels/printing.py
        words.title = gettext("Labels sent to the label printer")
        result = job.result or {}
        if job.status == "succeeded":
            labels = result.get("labels", 0)
            words.outcome = ngettext("%(count)s label sent to the printer at %(printer)s.",
                                     "%(count)s labels sent to the printer at %(printer)s.",
                                     labels, count=number(labels), printer=result.get("printer"))
    elif job.status == "succeeded" and job.result:
        words.facts = [(str(key).replace("_", " ").capitalize(), _plain(value))
                       for key, value in job.result.items()]
    if job.status == "failed" and job.error:
        words.outcome = job.error
    return words


def _plain(value) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number(value)
    if isinstance(value, list):
        return ngettext("%(count)s item", "%(count)s items", len(value),
                        count=number(len(value)))
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')}: {_plain(v)}" for k, v in value.items())
    return str(value)


def describe_all(jobs: list[Job]) -> list[tuple[Job, JobWords]]:
    imports = _imports_of(jobs)
    return [(job, describe(job, imports.get(job.params.get("import_id"))
                           if job.kind == "import" else None)) for job in jobs]
