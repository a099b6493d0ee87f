"""The one place where reads are limited to the current site (issue 21, DESIGN.md 8.5): a
`do_orm_execute` hook adds `with_loader_criteria` for every site-owned model to every ORM
statement of the session (SELECT, and ORM-enabled UPDATE and DELETE), so no view has to
remember a filter and another site's bag, dispatch, import, job, label series, scan event or
audit row reads as absent (404). A dispatch is seen at the site it leaves from and, for a
transfer, at its destination.

Core statements executed on a connection do not pass through the session's hook: the scan's
hot path (app/scanning/store.py) and the dashboard's snapshot (app/dashboard/services.py) add
the site through `site_condition()` below, the same condition.

Without a current site (the CLI, jobs before they take their site, tests that call services
directly) nothing is limited. A statement that must see every site (a visible object's own
history, which follows a bag across sites) says so with execution option all_sites=True."""

from __future__ import annotations

from sqlalchemy import event, or_
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from app.models.dispatch import Dispatch
from app.models.bag import Bag
from app.models.events import AuditEvent, ScanEvent
from app.models.imports import Import
from app.models.job import Job
from app.models.label import LabelSeries
from app.site_scope import ALL_SITES, current_site_id

SITE_OWNED = (Bag, Import, Job, LabelSeries, ScanEvent, AuditEvent)


def site_condition(model, site_id: int):
    """The condition that limits `model` (a site-owned model or an alias of one) to a site."""
    if model is Dispatch or getattr(model, "destination_site_id", None) is not None:
        return or_(model.site_id == site_id, model.destination_site_id == site_id)
    return model.site_id == site_id


def _limit_to_site(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.execution_options.get(ALL_SITES):
        return
    site_id = current_site_id()
    if site_id is None:
        return
    options = [with_loader_criteria(model, lambda cls: cls.site_id == site_id,
                                    include_aliases=True) for model in SITE_OWNED]
    options.append(with_loader_criteria(
        Dispatch, lambda cls: or_(cls.site_id == site_id, cls.destination_site_id == site_id),
        include_aliases=True))
    state.statement = state.statement.options(*options)


def init_scoping(session_class=Session) -> None:
    """Listen on every session (Flask-SQLAlchemy's scoped sessions included). Idempotent."""
    if not event.contains(session_class, "do_orm_execute", _limit_to_site):
        event.listen(session_class, "do_orm_execute", _limit_to_site)
