"""Issue 21: an import writes into its own site (its job runs there), on SQLite and on
PostgreSQL (whose fast path writes with SQL of its own); a row naming another site's code is
refused with bag_at_other_site, like the same scan at a station."""

from __future__ import annotations

import async_handler
from sqlalchemy import select

from app.extensions import db
from app.imports import upload as imports
from app.imports.report import report_chunks
from app.models import Bag, Import, ScanEvent
from app.site_scope import using_site
from tests.sites.support import two_sites


def run_jobs(app) -> None:
    runner = async_handler.JobRunner(app)
    while runner.run_once():
        pass
    db.session.expire_all()
    db.session.rollback()


def test_an_import_at_far_writes_far_bags_and_refuses_mains(app, make_user):
    from app.imports import jobs as import_jobs  # noqa: F401 (its handlers)

    sites = two_sites(make_user, app)
    boss = make_user("far-boss", "supervisor")
    boss.memberships[0].site_id = sites.far.id
    db.session.commit()
    table = (b"code,kind,parent_code\nSB00088,parent,\n0088001,child,SB00088\n"
             b"0909001,child,SB00088\n")
    with using_site(sites.far.id):
        record = imports.store_upload(boss, "far.csv", table)
        db.session.commit()
    run_jobs(app)
    with using_site(sites.far.id):
        imports.confirm_import(boss, record.id)
        db.session.commit()
    run_jobs(app)

    rows = dict(db.session.execute(select(Bag.code, Bag.site_id).where(
        Bag.code.in_(["SB00088", "0088001", "0909001"]))).all())
    assert rows["SB00088"] == rows["0088001"] == sites.far.id
    assert rows["0909001"] == sites.here  # MAIN's child stays MAIN's, in its parent
    events = set(db.session.scalars(select(ScanEvent.site_id).where(
        ScanEvent.code.in_(["SB00088", "0088001"]))))
    assert events == {sites.far.id}
    record = db.session.get(Import, record.id)
    assert record.import_result["first_errors"][0]["result"] == "bag_at_other_site"
    report = "".join(report_chunks(record.import_job_id))
    assert "0909001" in report and "bag_at_other_site" in report
