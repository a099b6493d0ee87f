"""What the bag-change service reads and writes: bag states for the rule book, row locks, and
scan events. Shared by the scans (services.py) and the supervisor corrections
(corrections.py); nothing here decides anything (app/rules/bags.py does).

Statements that run on every child scan are built once, at import, and executed on the
session's connection without the ORM (the ORM's execution layers cost about a third of a
scan's CPU); the parent's lock through the driver's cursor (app/hot_sql.py)."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import Integer, bindparam, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from app.extensions import db
from app.hot_sql import HotStatement
from app.models import ACCEPTED, PARENT, Bag, Dispatch, DispatchItem, ScanEvent, User
from app.models.dispatch import ITEM_LOADED
from app.models.types import utcnow
from app.rules import bags as rules
from app.site_scope import ALL_SITES, current_site_id

MAX_REASON_LENGTH = 500
# One alias for the whole process: a fresh alias per call would make SQLAlchemy build a new
# cache key and compile the statement again on every scan.
ParentBag = aliased(Bag, name="parent_bag")


def code_rules() -> rules.CodeRules:
    """The configured code rules, built once per app."""
    cached = current_app.extensions.get("tracetrack.code_rules")
    if cached is None:
        cached = rules.CodeRules.from_config(current_app.config)
        current_app.extensions["tracetrack.code_rules"] = cached
    return cached


def actor(user: User) -> rules.Actor:
    return rules.Actor(user.id, user.role)


def state_of(bag: Bag | None, parent_code: str | None = None, *,
             dispatch: bool = False) -> rules.BagState | None:
    """The bag's state for the rule book; with `dispatch`, a parent's live dispatch too (read
    it under the parent's lock: loading a parent locks it as well)."""
    if bag is None:
        return None
    return rules.BagState(bag.code, bag.kind, bag.status, parent_code, bag.capacity,
                          bag.child_count,
                          live_dispatch_code(bag.id) if dispatch and bag.kind == PARENT
                          else None, bag.site_id)


def live_dispatch_code(parent_id: int) -> str | None:
    """The code of the dispatch a parent is on now (at most one: a partial unique index)."""
    return db.session.scalar(
        select(Dispatch.code).join(DispatchItem, DispatchItem.dispatch_id == Dispatch.id)
        .where(DispatchItem.parent_id == parent_id, DispatchItem.state == ITEM_LOADED))


def last_dispatch_code(parent_id: int) -> str | None:
    """The code of the last dispatch a parent was put on, whatever became of it."""
    return db.session.scalar(
        select(Dispatch.code).join(DispatchItem, DispatchItem.dispatch_id == Dispatch.id)
        .where(DispatchItem.parent_id == parent_id)
        .order_by(DispatchItem.id.desc()).limit(1)
        .execution_options(**{ALL_SITES: True}))


def sql():
    """The session's connection: Core statements on it stay in the session's transaction."""
    return db.session.connection()


# --- reading and locking -------------------------------------------------------------------

def bag_with_parent_code(code: str, *, any_site: bool = False) -> tuple[Bag | None, str | None]:
    """The bag (ORM, fresh from the database) and its parent's code. `any_site`: found at
    whichever site holds it (a scanned code: the rule book then says bag_at_other_site)."""
    stmt = (select(Bag, ParentBag.code).outerjoin(ParentBag, Bag.parent_id == ParentBag.id)
            .where(Bag.code == code)
            .execution_options(populate_existing=True, **{ALL_SITES: any_site}))
    row = db.session.execute(stmt).first()
    return (row[0], row[1]) if row else (None, None)


def lock_parent(code: str | None, *, any_site: bool = False) -> Bag | None:
    """SELECT ... FOR UPDATE of a parent (ORM): every change of a parent's children holds it.
    `any_site`: wherever it is (a transfer's parent, received at another site)."""
    if code is None:
        return None
    stmt = (select(Bag).where(Bag.code == code, Bag.kind == PARENT)
            .with_for_update()
            .execution_options(populate_existing=True, **{ALL_SITES: any_site}))
    return db.session.scalar(stmt)


def lock_in_order(bags: list[Bag | None]) -> None:
    """Lock several parents always in id order: two moves that cross (A to B and B to A)
    queue behind each other instead of deadlocking."""
    for parent_id in sorted({bag.id for bag in bags if bag is not None}):
        db.session.scalar(select(Bag).where(Bag.id == parent_id).with_for_update()
                          .execution_options(populate_existing=True))


def at_current_site(column):
    """The site condition of the hot path's Core statements (issue 21; the ORM's reads get
    theirs from app/models/scoping.py): the row is at the site bound as :site_id, or any
    site when none is bound (the CLI). Bind it with `site_param()`."""
    return column == func.coalesce(bindparam("site_id", type_=Integer), column)


def site_param() -> dict:
    return {"site_id": current_site_id()}


_LOCK_PARENT_ROW = HotStatement(
    select(Bag.id, Bag.code, Bag.status, Bag.capacity, Bag.child_count, Bag.site_id)
    .where(Bag.code == bindparam("code"), Bag.kind == PARENT, at_current_site(Bag.site_id))
    .with_for_update())


class ParentRow(rules.BagState):
    """A locked parent as a plain row (the hot path): its state plus its id."""

    __slots__ = ("id",)

    def __init__(self, bag_id: int, code: str, status: str, capacity: int, count: int,
                 site_id: int | None = None):
        super().__init__(code, PARENT, status, None, capacity, count, None, site_id)
        self.id = bag_id

    @property
    def site_id(self) -> int | None:
        return self.site

    @property
    def child_count(self) -> int:
        """As on a Bag: pages and answers read a parent row and a Bag alike."""
        return self.count


def lock_parent_row(code: str) -> ParentRow | None:
    """The parent, locked, when it is at the current site (None otherwise: the caller reads
    it again to say why, bag_at_other_site among the reasons)."""
    row = _LOCK_PARENT_ROW.first({"code": code, **site_param()})
    return ParentRow(*row) if row else None


class ChildRow(rules.BagState):
    """A bag read by a child scan, as a plain row: its state plus its id and times."""

    __slots__ = ("id", "parent_id", "created_at", "linked_at")

    def __init__(self, bag_id: int, code: str, kind: str, status: str, parent_id: int | None,
                 parent_code: str | None, created_at: datetime | None = None,
                 linked_at: datetime | None = None, site_id: int | None = None):
        super().__init__(code, kind, status, parent_code, site=site_id)
        self.id = bag_id
        self.parent_id = parent_id
        self.created_at = created_at
        self.linked_at = linked_at


_CHILD_ROW = (select(Bag.id, Bag.code, Bag.kind, Bag.status, Bag.parent_id, ParentBag.code,
                     Bag.created_at, Bag.linked_at, Bag.site_id)
              .outerjoin(ParentBag, Bag.parent_id == ParentBag.id)
              .where(Bag.code == bindparam("code")))


def child_row(code: str) -> ChildRow | None:
    row = sql().execute(_CHILD_ROW, {"code": code}).first()
    return ChildRow(*row) if row else None


def children_codes(parent_id: int) -> list[str]:
    """The parent's children, newest first."""
    stmt = (select(Bag.code).where(Bag.parent_id == parent_id)
            .order_by(Bag.linked_at.desc(), Bag.id.desc()))
    return list(db.session.scalars(stmt))


def last_links(parent_id: int, child_ids: list[int] | None = None) -> dict[str, rules.LinkRecord]:
    """For each child now in the parent (or those of `child_ids`), the last accepted event
    that put it there: a scan's link or a supervisor's move."""
    children = select(Bag.id).where(Bag.parent_id == parent_id)
    if child_ids is not None:
        children = children.where(Bag.id.in_(child_ids))
    rows = db.session.execute(
        select(ScanEvent.id, ScanEvent.bag_id, ScanEvent.user_id, User.username,
               ScanEvent.result, ScanEvent.created_at, Bag.code)
        .join(Bag, Bag.id == ScanEvent.bag_id)
        .outerjoin(User, User.id == ScanEvent.user_id)
        .where(ScanEvent.bag_id.in_(children), ScanEvent.parent_id == parent_id,
               ScanEvent.outcome == ACCEPTED, ScanEvent.result.in_(rules.INTO_PARENT))
        .order_by(ScanEvent.id)).all()
    links: dict[str, rules.LinkRecord] = {}
    for event_id, _bag_id, user_id, username, result, at, code in rows:
        links[code] = rules.LinkRecord(user_id, username, result, at, event_id)
    return links


# --- writing -------------------------------------------------------------------------------

def insert_bag_unless_taken(values: dict | None = None):
    """INSERT ... ON CONFLICT (code) DO NOTHING: two stations creating the same bag at the
    same moment get one row; the loser's RETURNING is empty and it reads the winner's row."""
    dialect = db.session.get_bind().dialect.name
    insert_bag = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert_bag(Bag)
    if values is not None:
        stmt = stmt.values(**values)
    return stmt.on_conflict_do_nothing(index_elements=["code"])


def record(user: User, action: str, result: str, code: str, *, outcome: str = ACCEPTED,
           bag_id: int | None = None, parent_id: int | None = None,
           parent_code: str | None = None, reason: str | None = None,
           scan_id: str | None = None, station: str | None = None,
           scanned_at: datetime | None = None, dispatch_id: int | None = None,
           site_id: int | None = None) -> None:
    """Append a scan event (Core, in the session's transaction). The parent's code is kept
    with it, so the history names the parent even after the parent is deleted; the time the
    scan was made is the client's `scanned_at` (already range-checked) or its arrival."""
    now = utcnow()
    sql().execute(insert(ScanEvent).values(
        created_at=now, made_at=scanned_at or now, user_id=user.id, action=action, outcome=outcome, result=result,
        code=code[:64], bag_id=bag_id, parent_id=parent_id, parent_code=parent_code,
        reason=reason[:MAX_REASON_LENGTH] if reason else None, scan_id=scan_id,
        station=station, client_scanned_at=scanned_at, dispatch_id=dispatch_id,
        **({"site_id": site_id} if site_id is not None else {})))
