"""The day's dispatch summary by e-mail (issue 20, item 5).

Every job runner (each gunicorn worker has one, and `flask --app main jobs work`) looks once a
minute (a chore of app/jobs): from DISPATCH_SUMMARY_AT, local time in APP_TIMEZONE, the
summary of that day is due. The first runner to insert the day's row in `daily_sends` sends
it; every other runner, on any host, finds the row and does nothing. A failed send (SMTP
server down or refusing) leaves the row in 'retry' with the time of the next try,
DISPATCH_SUMMARY_RETRY_SECONDS later, which any runner takes by a compare-and-set on the
row; a sender that died while sending leaves 'sending', taken over once its claim is older
than CLAIM_LEASE. Yesterday's summary is still retried after midnight; a day whose summary
was never claimed (the servers were all down all evening) is not sent later by itself:
`flask --app main dispatch summary --date D` sends any day on demand.

At most once: the one gap is a sender that dies after the SMTP server took the message and
before the row says 'sent'; its summary goes again after CLAIM_LEASE, with the same
Message-ID (mail programs show such a duplicate once).

No SMTP_URL (or no DISPATCH_SUMMARY_TO): the summary is built and written to the log, the row
says 'logged', and nothing else depends on mail (/health/ready does not look at it)."""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from zoneinfo import ZoneInfo

from babel.dates import format_date
from flask import current_app, render_template
from flask_babel import get_locale, gettext
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import aliased

from app.dispatch import queries as dispatching
from app.display import exact, local
from app.dispatch_docs.documents import manifest_filename, manifest_of
from app.dispatch_docs.manifest import render_manifest
from app.extensions import db
from app.jobs.queue import chore
from app.mail import MailError, parse_smtp_url, recipients, send_message
from app.models import Bag, DailySend, Dispatch, DispatchItem, User
from app.models.daily_send import DONE_STATUSES, LOGGED, RETRY, SENDING, SENT
from app.models.dispatch import DISPATCHED, LOADING
from app.models.types import utcnow

log = logging.getLogger("tracetrack.dispatch_summary")

KIND = "dispatch_summary"
CHECK_EVERY_SECONDS = 60.0
CLAIM_LEASE = timedelta(minutes=15)


# --- what the summary says ----------------------------------------------------------------

@dataclass
class DaySummary:
    day: date
    timezone: str
    dispatched: list[dict] = field(default_factory=list)  # Dispatch dicts, in dispatch order
    returns: list[dict] = field(default_factory=list)
    loading: list[dict] = field(default_factory=list)  # still open, oldest first
    generated_at: datetime = field(default_factory=utcnow)

    @property
    def parents_out(self) -> int:
        return sum(item["parents_loaded"] for item in self.dispatched)

    @property
    def bags_out(self) -> int:
        return sum(item["children"] for item in self.dispatched)

    @property
    def weight_out(self) -> float:
        return sum(item["weight_kg"] for item in self.dispatched)

    @property
    def short(self) -> list[dict]:
        return [item for item in self.dispatched if item["short_reason"]]

    @property
    def day_words(self) -> str:
        """5 Dec 2026, the month in the language it is sent in (DEFAULT_LANGUAGE from a job)."""
        return format_date(self.day, "d MMM y", locale=get_locale() or "en")

    @property
    def subject(self) -> str:
        counts = {"dispatched": f"{len(self.dispatched):,}", "parents": f"{self.parents_out:,}",
                  "bags": f"{self.bags_out:,}"}
        return gettext("Dispatch summary %(day)s: %(dispatched)s dispatched, %(parents)s "
                       "parents, %(bags)s bags out", day=self.day_words, **counts)


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The local day as a UTC range [start, end)."""
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def local_today(now: datetime | None = None) -> date:
    zone = ZoneInfo(current_app.config["APP_TIMEZONE"])
    return (now or utcnow()).astimezone(zone).date()


def build_summary(day: date, now: datetime | None = None) -> DaySummary:
    zone_name = current_app.config["APP_TIMEZONE"]
    start, end = day_bounds(day, ZoneInfo(zone_name))
    now = now or utcnow()
    out = list(db.session.scalars(
        select(Dispatch).where(Dispatch.status == DISPATCHED, Dispatch.dispatched_at >= start,
                               Dispatch.dispatched_at < end)
        .order_by(Dispatch.dispatched_at, Dispatch.id)))
    open_ones = list(db.session.scalars(
        select(Dispatch).where(Dispatch.status == LOADING)
        .order_by(Dispatch.created_at, Dispatch.id)))
    loading = []
    for dispatch in open_ones:
        item = dispatching.dispatch_dict(dispatch)
        item["hours_open"] = max(0, int((now - dispatch.created_at).total_seconds() // 3600))
        loading.append(item)
    return DaySummary(day=day, timezone=zone_name,
                      dispatched=[dispatching.dispatch_dict(row) for row in out],
                      returns=_returns(start, end), loading=loading, generated_at=now)


def _returns(start: datetime, end: datetime) -> list[dict]:
    Parent, Returner = aliased(Bag), aliased(User)
    rows = db.session.execute(
        select(Dispatch.code, Parent.code, Parent.child_count, DispatchItem.return_reason,
               DispatchItem.returned_at, Returner.username)
        .join(Dispatch, Dispatch.id == DispatchItem.dispatch_id)
        .join(Parent, Parent.id == DispatchItem.parent_id)
        .outerjoin(Returner, Returner.id == DispatchItem.returned_by_id)
        .where(DispatchItem.returned_at >= start, DispatchItem.returned_at < end)
        .order_by(DispatchItem.returned_at, DispatchItem.id)).all()
    return [{"dispatch": dispatch, "parent": parent, "children": children or 0,
             "reason": reason, "at": at, "by": by}
            for dispatch, parent, children, reason, at, by in rows]


# --- the message --------------------------------------------------------------------------

def summary_message(summary: DaySummary, *, attach: bool) -> EmailMessage:
    config = current_app.config
    sender = config["MAIL_FROM"]
    domain = parseaddr(sender)[1].rpartition("@")[2] or "tracetrack.invalid"
    message = EmailMessage()
    message["Subject"] = summary.subject
    message["From"] = sender
    message["To"] = ", ".join(recipients(config["DISPATCH_SUMMARY_TO"])) or "undisclosed-recipients:;"
    message["Date"] = format_datetime(summary.generated_at.astimezone(UTC))
    # One id per day: a summary sent twice (see the module's note) shows once.
    message["Message-ID"] = f"<dispatch-summary.{summary.day.isoformat()}@{domain}>"
    context = {"summary": summary, "attach": attach, "clock": clock}
    message.set_content(render_template("dispatch_docs/summary.txt", **context))
    message.add_alternative(render_template("dispatch_docs/summary_email.html", **context),
                            subtype="html")
    if attach:
        codes = [item["code"] for item in summary.dispatched]
        manifests = [manifest_of(dispatch) for dispatch in db.session.scalars(
            select(Dispatch).where(Dispatch.code.in_(codes))
            .order_by(Dispatch.dispatched_at, Dispatch.id))]
        db.session.rollback()  # drawn outside any transaction (SQLite's holds the write lock)
        for manifest in manifests:
            message.add_attachment(render_manifest(manifest), maintype="application",
                                   subtype="pdf", filename=manifest_filename(manifest.code))
    return message


def clock(moment: datetime | None) -> str:
    """5 Dec 2026, 18:00 in APP_TIMEZONE (as the pages write times, without the markup)."""
    moment = local(moment)
    return exact(moment) if moment else ""


def not_sent_because() -> str | None:
    """Why the summary would only be logged, or None when it can be sent."""
    config = current_app.config
    if not config.get("SMTP_URL"):
        return "no SMTP_URL is set"
    if not recipients(config.get("DISPATCH_SUMMARY_TO")):
        return "DISPATCH_SUMMARY_TO is empty"
    return None


def deliver(summary: DaySummary, message: EmailMessage) -> str:
    """Send it (SENT) or, without SMTP settings, log it (LOGGED). MailError when the server
    is down or refuses. No database transaction is held while the SMTP server answers."""
    db.session.rollback()
    why = not_sent_because()
    if why:
        log.info("dispatch summary for %s built, not sent (%s):\n%s", summary.day, why,
                 message.get_body(("plain",)).get_content())
        return LOGGED
    config = current_app.config
    refused = send_message(message, parse_smtp_url(config["SMTP_URL"]),
                           timeout=config["SMTP_TIMEOUT_SECONDS"])
    if refused:
        log.warning("dispatch summary for %s: the SMTP server refused %s and took it for the "
                    "others", summary.day, ", ".join(sorted(refused)))
    log.info("dispatch summary for %s sent to %s", summary.day, message["To"])
    return SENT


# --- once a day, across every worker and host ------------------------------------------------

def identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:128]


def due_today(now: datetime) -> date | None:
    """Today's local date once DISPATCH_SUMMARY_AT has passed, else None."""
    config = current_app.config
    local = now.astimezone(ZoneInfo(config["APP_TIMEZONE"]))
    hours, minutes = (int(part) for part in config["DISPATCH_SUMMARY_AT"].split(":"))
    return local.date() if (local.hour, local.minute) >= (hours, minutes) else None


@dataclass(frozen=True)
class Claim:
    day: date
    attempt: int
    by: str


def claim_day(day: date, now: datetime, by: str, *, create: bool) -> Claim | None:
    """Take the day's send, or None when it is done, someone else holds it, or its next try
    is not due. `create`: the day has no row yet and its time has come."""
    session = db.session
    row = session.scalar(select(DailySend).where(DailySend.kind == KIND, DailySend.day == day))
    if row is None:
        if not create:
            session.rollback()
            return None
        session.add(DailySend(kind=KIND, day=day, status=SENDING, attempts=1, claimed_by=by,
                              claimed_at=now, created_at=now))
        try:
            session.commit()  # the unique (kind, day) lets one runner through
        except IntegrityError:
            session.rollback()
            return None
        except OperationalError:
            # The database is busy (SQLite's one writer is another runner claiming): the
            # next look, a minute later, finds the row or claims it.
            session.rollback()
            log.info("dispatch summary for %s: the database is busy; looking again later", day)
            return None
        return Claim(day, 1, by)
    retry_due = row.status == RETRY and row.next_attempt_at <= now
    abandoned = row.status == SENDING and row.claimed_at <= now - CLAIM_LEASE
    if not (retry_due or abandoned):
        session.rollback()
        return None
    attempt = row.attempts + 1
    taken = session.execute(
        update(DailySend).where(DailySend.id == row.id, DailySend.status == row.status,
                                DailySend.attempts == row.attempts)
        .values(status=SENDING, attempts=attempt, claimed_by=by, claimed_at=now,
                next_attempt_at=None)).rowcount
    session.commit()
    return Claim(day, attempt, by) if taken == 1 else None


def finish(claim: Claim, status: str, *, error: str | None = None,
           retry_at: datetime | None = None) -> None:
    """Record the outcome, unless another runner has taken the day over meanwhile."""
    db.session.execute(
        update(DailySend).where(DailySend.kind == KIND, DailySend.day == claim.day,
                                DailySend.attempts == claim.attempt,
                                DailySend.claimed_by == claim.by)
        .values(status=status, last_error=error, next_attempt_at=retry_at,
                finished_at=utcnow() if status in DONE_STATUSES else None))
    db.session.commit()


def send_claimed(claim: Claim, now: datetime) -> str:
    """Build and send the claimed day's summary; on failure leave it for a retry."""
    try:
        summary = build_summary(claim.day, now)
        outcome = deliver(summary, summary_message(
            summary, attach=current_app.config["DISPATCH_SUMMARY_ATTACH"]))
    except Exception as exc:  # noqa: BLE001 - SMTP down, or anything else: try again later
        db.session.rollback()
        if isinstance(exc, MailError):
            log.warning("dispatch summary for %s not sent (try %d): %s", claim.day,
                        claim.attempt, exc)
        else:
            log.exception("dispatch summary for %s failed (try %d)", claim.day, claim.attempt)
        retry_at = now + timedelta(seconds=current_app.config[
            "DISPATCH_SUMMARY_RETRY_SECONDS"])
        finish(claim, RETRY, error=f"{exc.__class__.__name__}: {exc}"[:2000],
               retry_at=retry_at)
        return RETRY
    finish(claim, outcome)
    return outcome


def run_daily_summary(now: datetime | None = None) -> list[tuple[date, str]]:
    """One look: retry yesterday's or today's failed send when due, and send today's once
    its time has come. Answers what this runner did, [(day, outcome)] (empty: nothing)."""
    now = now or utcnow()
    today = due_today(now)
    if today is None:
        # Before the time, only a retry of yesterday's can be pending.
        yesterday = local_today(now) - timedelta(days=1)
        days = [(yesterday, False)]
    else:
        days = [(today - timedelta(days=1), False), (today, True)]
    statuses = dict(db.session.execute(
        select(DailySend.day, DailySend.status).where(DailySend.kind == KIND,
                                                      DailySend.day >= days[0][0])).all())
    db.session.rollback()
    did = []
    by = identity()
    for day, create in days:
        status = statuses.get(day)
        if status in DONE_STATUSES or (status is None and not create):
            continue
        claim = claim_day(day, now, by, create=create)
        if claim is not None:
            did.append((day, send_claimed(claim, now)))
    return did


@chore(KIND, every_seconds=CHECK_EVERY_SECONDS)
def daily_summary_chore() -> None:
    run_daily_summary()


# --- on demand (the CLI) ----------------------------------------------------------------------

def summary_for(day: date) -> tuple[DaySummary, EmailMessage]:
    summary = build_summary(day)
    return summary, summary_message(summary,
                                    attach=current_app.config["DISPATCH_SUMMARY_ATTACH"])
