"""Dashboard figures (DESIGN.md section 6), computed from the data on every request: nothing
is cached in a worker, so every worker and every host shows the same numbers.

What each figure reads (docs/PERFORMANCE.md, "Dashboard"), so that the cost does not grow
with the size of the tables or with the day's volume:
- parents open/complete and linked children: the parents' partial index (status,
  child_count); linked children are the sum of child_count, which the database keeps equal
  to the number of children (DESIGN.md section 3, invariant 2); unlinked children: the
  status index;
- scans today, per hour and per person, parents completed and errors: scan_counts, the
  events counted per user and 15-minute slot by a trigger in the transaction that writes
  each event (migration 0006), so they always equal the events;
- the last hour: whole slots, plus the events of the first, partial quarter hour;
- stale parents: one index probe per open parent; exceptions and recent activity: the
  newest rows of an index in time order.

Floor work only: an import writes the events a station would have written (station
'import:<job id>'); scan_counts leaves them out (migration 0010) and so do the exceptions, the
activity and the last hour's edge. Imports are listed on their own ("Imports today").

Per site (issue 21): every figure is the current site's, through `here()` (the site condition
of app/models/scoping.py: these statements run on a Core connection, which the ORM's hook does
not see); "today", the hour buckets and the times are in the site's time zone.
`sites_side_by_side` gives an admin every site's figures at once.

"Today" and the hour buckets are in the site's time zone (APP_TIMEZONE outside a site);
stored times stay UTC. All figures of one
answer come from one snapshot of the database (REPEATABLE READ on PostgreSQL), so that the
counters, the chart and the table agree with each other.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import (BigInteger, Connection, cast, func, literal, literal_column, select, text,
                        true, union_all)
from sqlalchemy.orm import aliased

from app.dispatch_docs.figures import dispatch_figures
from app.display import plain_reason
from app.domain import N_, Text
from app.i18n import refusal_reason, translate, user_zone
from app.extensions import db
from app.models import COMPLETE, OPEN, UNLINKED, Bag, ScanEvent, User
from app.models.bag import PARENT_ONLY_SQL
from app.models.events import (FLOOR_WORK_SQL, LINKED_SCAN_SQL, REFUSED_SQL, SLOT_MINUTES,
                               ScanCount)
from app.models.imports import Import
from app.models.job import SUCCEEDED, Job
from app.models.scoping import site_condition
from app.models.site import Site
from app.models.types import UTCDateTime, utcnow
from app.site_scope import current_site_id, using_site

HOURS = 24
STALE_LIMIT = 50
EXCEPTION_LIMIT = 50
ACTIVITY_LIMIT = 20

# The partial indexes' predicates, written into the queries as they are in the indexes.
IS_PARENT = text(f"({PARENT_ONLY_SQL})")
IS_LINKED_SCAN = text(f"({LINKED_SCAN_SQL})")
IS_REFUSAL = text(f"({REFUSED_SQL})")
IS_FLOOR_WORK = text(f"({FLOOR_WORK_SQL})")


def _constant(value: str):
    """A string constant written into the SQL, for our own fixed values only."""
    return literal_column(f"'{value}'")


# --- time windows -----------------------------------------------------------------------

@dataclass(frozen=True)
class Windows:
    """The time ranges of one answer, in UTC, derived from one `now`."""

    tz: ZoneInfo
    now: datetime
    day_start: datetime
    day_end: datetime
    hour_ago: datetime
    buckets: tuple[datetime, ...]  # the start of each hour bucket, oldest first
    stale_before: datetime

    @property
    def window_start(self) -> datetime:
        return self.buckets[0]

    @property
    def window_end(self) -> datetime:
        return self.buckets[-1] + timedelta(hours=1)

    def iso(self, moment: datetime | None) -> str | None:
        """ISO 8601 with the APP_TIMEZONE offset, to the second."""
        if moment is None:
            return None
        return moment.astimezone(self.tz).isoformat(timespec="seconds")


def here(model):
    """The current site's rows of `model` (true outside a site: the CLI, a test's service call)."""
    site_id = current_site_id()
    return true() if site_id is None else site_condition(model, site_id)


def leaving_here(model):
    """The dispatches that leave the current site (not a transfer on its way in from another:
    that is the other site's dispatch out); true outside a site."""
    site_id = current_site_id()
    return true() if site_id is None else model.site_id == site_id


def app_timezone() -> ZoneInfo:
    """The site's zone (issue 21): its "today" and its hours, whoever looks; outside a site
    the viewer's (their setting, else APP_TIMEZONE)."""
    site_id = current_site_id()
    site = db.session.get(Site, site_id) if site_id is not None else None
    return ZoneInfo(site.timezone) if site is not None else user_zone()


def windows(now: datetime, tz: ZoneInfo, stale_minutes: int) -> Windows:
    """`now` is an aware datetime. "Today" runs from local midnight to the next local
    midnight. The hour buckets are the current local clock hour and the 23 before it, each
    exactly one hour long: their edges fall on local whole hours, which for a zone such as
    Asia/Kolkata (+05:30) are half past the UTC hour."""
    # Arithmetic in UTC: Python subtracts two datetimes of one zone by their wall clocks.
    now = now.astimezone(UTC)
    local = now.astimezone(tz)
    day_start = datetime.combine(local.date(), time(0), tzinfo=tz).astimezone(UTC)
    day_end = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    current_hour = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    first = current_hour - timedelta(hours=HOURS - 1)
    buckets = tuple(first + timedelta(hours=i) for i in range(HOURS))
    return Windows(
        tz=tz, now=now, day_start=day_start, day_end=day_end,
        hour_ago=now - timedelta(hours=1), buckets=buckets,
        stale_before=now - timedelta(minutes=stale_minutes),
    )


def current_windows(now: datetime | None = None) -> Windows:
    return windows(now or utcnow(), app_timezone(),
                   current_app.config["STALE_PARENT_MINUTES"])


# --- one snapshot -----------------------------------------------------------------------

@contextmanager
def snapshot() -> Iterator[Connection]:
    """A connection whose queries all see the same committed data. On PostgreSQL, a
    read-only REPEATABLE READ transaction of its own (the request's session has already
    begun a READ COMMITTED one). SQLite's transactions are serializable already, and a second
    connection would wait for the write lock that this request's own BEGIN IMMEDIATE holds."""
    if db.engine.dialect.name != "postgresql":
        yield db.session.connection()
        return
    with db.engine.connect() as connection:
        connection.execution_options(isolation_level="REPEATABLE READ",
                                     postgresql_readonly=True)
        with connection.begin():
            yield connection


# --- the figures ------------------------------------------------------------------------

def dashboard_stats(now: datetime | None = None) -> dict:
    """The answer of GET /api/v1/dashboard/stats."""
    win = current_windows(now)
    with snapshot() as conn:
        parents, children = _bag_counts(conn)
        people = _people_today(conn, win)
        return {
            "parents": parents,
            "children": children,
            "scans": {"today": sum(person["scans"] for person in people),
                      "last_hour": _linked_last_hour(conn, win)},
            "hourly": _hourly(conn, win),
            "people": people,
            "stale_parents": _stale_parents(conn, win),
            "exceptions": _exceptions(conn, win),
            "imports": _imports_today(conn, win),
            "dispatches": dispatch_figures(conn, win.day_start, win.day_end, win.now, win.iso,
                                           leaving_here),
            "generated_at": win.iso(win.now),
            "timezone": str(win.tz),
        }


def sites_side_by_side(now: datetime | None = None) -> list[dict]:
    """Every site's figures, each in its own time zone (an admin's overview)."""
    items = []
    for site in db.session.scalars(select(Site).order_by(Site.code)).all():
        with using_site(site.id):
            items.append({"site": site.to_dict(), "stats": dashboard_stats(now)})
    return items


def _bag_counts(conn: Connection) -> tuple[dict, dict]:
    """Parents by status with the sum of their child_count, and the unlinked children, in
    one round trip. A child's status is 'unlinked' exactly when it has no parent
    (ck_bags_kind_shape), and only children have that status: a count of the status index."""
    parents_by_status = (
        select(Bag.status, func.count(), func.coalesce(func.sum(Bag.child_count), 0))
        .where(IS_PARENT, here(Bag)).group_by(Bag.status))
    unlinked = (select(_constant(UNLINKED), func.count(), literal_column("0"))
                .select_from(Bag).where(here(Bag), Bag.status == _constant(UNLINKED)))
    rows = conn.execute(union_all(parents_by_status, unlinked)).all()
    by_status = {status: (int(count), int(children)) for status, count, children in rows}
    parents = {"open": by_status.get(OPEN, (0, 0))[0],
               "complete": by_status.get(COMPLETE, (0, 0))[0]}
    linked = by_status.get(OPEN, (0, 0))[1] + by_status.get(COMPLETE, (0, 0))[1]
    return parents, {"linked": linked, "unlinked": by_status[UNLINKED][0]}


ONE_HOUR = timedelta(hours=1)
SLOT = timedelta(minutes=SLOT_MINUTES)
LINKED_KIND = _constant("linked")


def _slot_ceil(moment: datetime) -> datetime:
    """The first slot boundary at or after `moment`."""
    floor = datetime(moment.year, moment.month, moment.day, moment.hour,
                     moment.minute - moment.minute % SLOT_MINUTES, tzinfo=UTC)
    return floor if floor == moment else floor + SLOT


def _today_by_user(conn: Connection, win: Windows) -> dict[int, dict[str, int]]:
    """{user id: {kind: count}} for today, from the 15-minute slots (local midnights fall on
    slot boundaries in every zone)."""
    rows = conn.execute(
        select(ScanCount.user_id, ScanCount.kind, func.sum(ScanCount.count))
        .where(here(ScanCount), ScanCount.slot_start >= win.day_start,
               ScanCount.slot_start < win.day_end)
        .group_by(ScanCount.user_id, ScanCount.kind)
    ).all()
    counts: dict[int, dict[str, int]] = {}
    for user_id, kind, count in rows:
        counts.setdefault(user_id, {})[kind] = int(count)
    return counts


def _people_today(conn: Connection, win: Windows) -> list[dict]:
    """Everyone who linked, completed or was refused today; most scans first."""
    counts = _today_by_user(conn, win)
    if not counts:
        return []
    names = {user_id: (username, display_name or username) for user_id, username, display_name
             in conn.execute(select(User.id, User.username, User.display_name)
                             .where(User.id.in_(counts))).all()}
    people = [
        {"username": names[user_id][0], "name": names[user_id][1], "scans": kinds.get("linked", 0),
         "parents_completed": kinds.get("completed", 0), "errors": kinds.get("refused", 0)}
        for user_id, kinds in counts.items()
    ]
    people.sort(key=lambda person: (-person["scans"], person["username"]))
    return people


def _hourly(conn: Connection, win: Windows) -> list[dict]:
    """Accepted child links per hour bucket, oldest first: the slots summed per bucket in
    the database (four slots to an hour; bucket edges fall on slot boundaries)."""
    bucket = _hour_bucket(conn, ScanCount.slot_start, win.window_start)
    inner = (select(bucket.label("bucket"), ScanCount.count)
             .where(here(ScanCount), ScanCount.kind == LINKED_KIND,
                    ScanCount.slot_start >= win.window_start,
                    ScanCount.slot_start < win.window_end)
             .subquery())
    rows = conn.execute(
        select(inner.c.bucket, func.sum(inner.c.count)).group_by(inner.c.bucket)).all()
    counts: dict[datetime, int] = {}
    for bucket_value, count in rows:
        start = (bucket_value if isinstance(bucket_value, datetime)
                 else win.window_start + int(bucket_value) * ONE_HOUR)
        counts[start] = int(count)
    return [{"hour": win.iso(start), "scans": counts.get(start, 0)} for start in win.buckets]


def _hour_bucket(conn: Connection, column, start: datetime):
    """The hour bucket of `column` counted from `start` (a slot boundary): on PostgreSQL 14
    and later date_bin(); before it, seconds since the epoch; on SQLite, which keeps UTC
    text, whole seconds from strftime('%s')."""
    if conn.dialect.name == "postgresql":
        if conn.dialect.server_version_info >= (14,):
            return func.date_bin(literal_column("interval '1 hour'"), column,
                                 literal(start, UTCDateTime), type_=UTCDateTime)
        seconds = func.date_part("epoch", column) - int(start.timestamp())
        return cast(func.floor(seconds / 3600), BigInteger)
    seconds = cast(func.strftime("%s", column), BigInteger)
    return (seconds - int(start.timestamp())) // 3600  # never negative: rows are >= start


def _linked_last_hour(conn: Connection, win: Windows) -> int:
    """The last 60 minutes: whole slots from the first slot boundary on, plus the events
    themselves before that boundary (at most 15 minutes of them), in one statement."""
    boundary = _slot_ceil(win.hour_ago)
    whole_slots = (select(func.coalesce(func.sum(ScanCount.count), 0))
                   .where(here(ScanCount), ScanCount.kind == LINKED_KIND,
                          ScanCount.slot_start >= boundary)
                   .scalar_subquery())
    edge = (select(func.count()).select_from(ScanEvent)
            .where(IS_LINKED_SCAN, IS_FLOOR_WORK, here(ScanEvent),
                   ScanEvent.made_at >= win.hour_ago,
                   ScanEvent.made_at < boundary)
            .scalar_subquery())
    return int(conn.scalar(select(whole_slots + edge)))


def _stale_parents(conn: Connection, win: Windows) -> list[dict]:
    """Open parents untouched for longer than STALE_PARENT_MINUTES, oldest first. Touched
    means any scan event on the parent (accepted or refused); a parent that has none (an
    import, say) counts from its creation."""
    last_scan = (select(func.max(ScanEvent.created_at))
                 .where(ScanEvent.parent_id == Bag.id).correlate(Bag).scalar_subquery())
    open_parents = (
        select(Bag.code, Bag.status, Bag.capacity, Bag.child_count, Bag.created_at,
               last_scan.label("last_scan_at"))
        .where(IS_PARENT, here(Bag), Bag.status == _constant(OPEN))
        .offset(0)  # a fence: PostgreSQL would otherwise repeat the subquery per use
        .subquery()
    )
    touched = func.coalesce(open_parents.c.last_scan_at, open_parents.c.created_at)
    rows = conn.execute(
        select(open_parents).where(touched < win.stale_before)
        .order_by(touched, open_parents.c.code).limit(STALE_LIMIT)
    ).all()
    return [
        {"code": row.code, "kind": "parent", "status": row.status, "capacity": row.capacity,
         "child_count": row.child_count, "last_scan_at": win.iso(row.last_scan_at)}
        for row in rows
    ]


def _exceptions(conn: Connection, win: Windows) -> list[dict]:
    """The latest refused scans, newest first."""
    rows = conn.execute(
        select(ScanEvent.created_at, User.username, User.display_name, ScanEvent.code,
               ScanEvent.reason, ScanEvent.result)
        .join(User, User.id == ScanEvent.user_id)
        .where(IS_REFUSAL, IS_FLOOR_WORK, here(ScanEvent))
        .order_by(ScanEvent.created_at.desc()).limit(EXCEPTION_LIMIT)
    ).all()
    return [{"at": win.iso(row.created_at), "username": row.username,
             "name": row.display_name or row.username, "code": row.code,
             "reason": refusal_reason(row.result, plain_reason(row.reason or row.result.replace("_", " ")))}
            for row in rows]


def _imports_today(conn: Connection, win: Windows) -> list[dict]:
    """The imports that finished today, newest first: what they added, kept apart from the
    floor's figures."""
    rows = conn.execute(
        select(Import.id, Import.filename, Import.import_result, Job.finished_at,
               User.username, User.display_name)
        .join(Job, Job.id == Import.import_job_id)
        .outerjoin(User, User.id == Import.created_by_id)
        .where(here(Import), Job.status == _constant(SUCCEEDED),
               Job.finished_at >= win.day_start,
               Job.finished_at < win.day_end)
        .order_by(Job.finished_at.desc()).limit(ACTIVITY_LIMIT)
    ).all()
    items = []
    for row in rows:
        counts = (row.import_result or {}).get("counts", {})
        items.append({"import_id": row.id, "file": row.filename, "at": win.iso(row.finished_at),
                      "name": row.display_name or row.username or "?",
                      "children_linked": int(counts.get("children_linked", 0)),
                      "parents_created": int(counts.get("parents_created", 0))})
    return items


def recent_activity(now: datetime | None = None, limit: int = ACTIVITY_LIMIT) -> dict:
    """The latest scan events of every kind, newest first (GET /api/v1/dashboard/activity)."""
    win = current_windows(now)
    parent = aliased(Bag)
    with snapshot() as conn:
        rows = conn.execute(
            select(ScanEvent.created_at, User.username, User.display_name, ScanEvent.action,
                   ScanEvent.outcome, ScanEvent.result, ScanEvent.code,
                   parent.code.label("parent"), ScanEvent.reason)
            .join(User, User.id == ScanEvent.user_id)
            .outerjoin(parent, parent.id == ScanEvent.parent_id)
            .where(IS_FLOOR_WORK, here(ScanEvent))
            .order_by(ScanEvent.created_at.desc()).limit(limit)
        ).all()
    items = [{"at": win.iso(row.created_at), "username": row.username,
              "name": row.display_name or row.username, "action": row.action,
              "outcome": row.outcome, "result": row.result, "code": row.code,
              "parent": row.parent, "reason": row.reason and plain_reason(row.reason),
              "summary": translate(_summary(row))}
             for row in rows]
    return {"items": items, "generated_at": win.iso(win.now)}


SUMMARIES = {
    ("child_scan", "linked"): N_("put %(code)s into %(parent)s"),
    ("child_scan", "already_linked"): N_("scanned %(code)s again: already in %(parent)s"),
    ("child_scan", "replayed"): N_("resent %(code)s for %(parent)s: already saved"),
    ("parent_scan", "parent_created"): N_("started parent %(code)s"),
    ("parent_scan", "parent_opened"): N_("opened parent %(code)s"),
    ("complete", "completed"): N_("finished %(code)s"),
    ("complete", "auto_completed"): N_("filled %(code)s: complete"),
    ("reopen", "reopened"): N_("reopened %(code)s"),
    ("undo", "unlinked"): N_("took %(code)s out of %(parent)s"),
    # dispatches (DESIGN 8.2): a parent's code, or the dispatch's for the whole bill
    ("dispatch_load", "loaded"): N_("loaded %(code)s onto a truck"),
    ("dispatch_load", "already_loaded"): N_("scanned %(code)s again: already on the truck"),
    ("dispatch_load", "replayed"): N_("resent %(code)s: already on the truck"),
    ("dispatch_unload", "unloaded"): N_("took %(code)s off a truck"),
    ("returned", "returned"): N_("took %(code)s back from a truck"),
    ("dispatched", "dispatched"): N_("dispatched %(code)s"),
    ("dispatch_reopened", "reopened"): N_("reopened dispatch %(code)s"),
    ("dispatch_cancelled", "cancelled"): N_("cancelled dispatch %(code)s"),
}


def _summary(row) -> Text:
    """One line a supervisor reads at a glance (in English; the caller translates it)."""
    code, parent = row.code or Text("(no code)"), row.parent or "?"
    if row.outcome != "accepted":  # the exceptions feed has the full message
        return Text("refused %(code)s: %(reason)s", code=code,
                    reason=refusal_reason(row.result, row.result.replace("_", " ")))
    template = SUMMARIES.get((row.action, row.result))
    if template is None:
        return Text("%(action)s %(code)s: %(result)s", action=row.action, code=code,
                    result=row.result)
    if (row.action, row.result) == ("complete", "completed") and row.reason:
        return Text("finished %(code)s (%(reason)s)", code=code, reason=plain_reason(row.reason))
    return Text(template, code=code, parent=parent)


def scans_today_by(user_id: int, now: datetime | None = None) -> int:
    """One worker's accepted child links today (the station's "My scans today")."""
    win = current_windows(now)
    return int(db.session.scalar(
        select(func.coalesce(func.sum(ScanCount.count), 0))
        .where(here(ScanCount), ScanCount.kind == LINKED_KIND, ScanCount.user_id == user_id,
               ScanCount.slot_start >= win.day_start, ScanCount.slot_start < win.day_end)))


def bag_url(code: str) -> str:
    """Where a bag's page is: the lookup page when that feature is installed, else its
    documented address (DESIGN.md section 6)."""
    from urllib.parse import quote

    from flask import request, url_for

    if "lookup.show_bag" in current_app.view_functions:
        return url_for("lookup.show_bag", code=code)
    return f"{request.script_root}/bags/{quote(code, safe='')}"

