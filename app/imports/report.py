"""Imports, the report: the per-row report as CSV (formula-safe cells) and the summary's
words."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator

from sqlalchemy import (select)

from app.extensions import db
from app.models.imports import ImportReportPart


FIRST_ERRORS = 20          # refused rows shown on the page
REPORT_COLUMNS = ("row", "code", "outcome", "reason")
COUNT_KEYS = ("rows", "parents_created", "parents_existing", "children_created",
              "children_linked", "already_linked", "parents_completed", "rejected")
# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# --- the report ----------------------------------------------------------------------------

def report_cell(value: object) -> str:
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


