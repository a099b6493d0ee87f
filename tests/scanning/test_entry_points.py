"""One table of situations, run through every entry point that can meet it (issue 16): the
station's form, the JSON API, an import row, and the offline replay (a queued scan sent later
with its scan_id and the time it was made). Each row expects the same answer everywhere: the
refusal code (in the API's answer, and in the scan event every entry point records), and the
bags unchanged on refusal. The rule book (app/rules/bags.py) is what makes them agree."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

import async_handler
from app.extensions import db
from app.imports import report as imports
from app.models import Import, ScanEvent
from app.rules.codes import normalise_code
from app.scanning import services as scanning
from app.scanning.transaction import run_scan
from tests.helpers import PASSWORD
from tests.helpers import check_invariants

CAPACITY = 3
ENTRY_POINTS = ("form", "api", "import", "replay")

# (situation, parent field, child field, the answer, and where an entry point answers
# otherwise by design: {entry: (its answer, why)})
SITUATIONS = [
    ("new label", "SB00001", "0011111", "linked", {}),
    ("loose bag", "SB00001", "0055555", "linked", {}),
    ("already in this parent", "SB00001", "0016586", "already_linked", {}),
    ("in another parent", "SB00001", "0022222", "child_in_other_parent", {}),
    ("parent complete", "SB00003", "0011111", "parent_complete", {}),
    ("parent full", "SB00004", "0011111", "parent_full", {}),
    ("parent unknown", "SB09999", "0011111", "parent_not_found", {
        "import": ("linked", "a sheet's child row names its parent: the import creates a "
                             "missing parent as scanning its label would")}),
    ("parent field is a child's code", "0016586", "0011111", "code_is_child", {}),
    ("parent field could never be a parent", "NOPARENT", "0011111", "invalid_code", {}),
    ("child field is a parent's code", "SB00001", "SB00002", "code_is_parent", {
        "form": ("parent_opened", "the station switches to a parent scanned in place of a "
                                  "child (DESIGN section 4)")}),
    ("child field fails the pattern", "SB00001", "AB1", "invalid_code", {}),
    ("child label read twice", "SB00001", "00111110011111", "invalid_code", {}),
    ("Devanagari digits of a new label", "SB00001", "००११११२", "linked", {}),
]
ACCEPTED_RESULTS = ("linked", "already_linked", "parent_opened")
_numbers = itertools.count(1)


@pytest.fixture
def world(make_app, make_user):
    """SB00001 open holding 0016586; SB00002 holding 0022222; SB00003 complete; SB00004
    reopened when full (CAPACITY children); 0055555 a loose bag; all scanned by stella."""
    application = make_app(DEFAULT_PARENT_CAPACITY=CAPACITY)
    with application.app_context():
        staff = make_user("stella", "staff")
        supervisor = make_user("sam", "supervisor")
        for parent in ("SB00001", "SB00002", "SB00003", "SB00004", "SB00005"):
            run_scan(scanning.scan_parent, staff, parent)
        for parent, child in (("SB00001", "0016586"), ("SB00002", "0022222"),
                              ("SB00003", "0033333"), ("SB00004", "0044441"),
                              ("SB00004", "0044442"), ("SB00004", "0044443"),
                              ("SB00005", "0055555")):
            run_scan(scanning.scan_child, staff, parent, child)
        run_scan(scanning.complete_parent, staff, "SB00003", force=True)
        run_scan(scanning.reopen_parent, supervisor, "SB00004")
        run_scan(scanning.undo_scan, staff, raw_code="0055555")
        yield application


def bags() -> list[tuple]:
    rows = db.session.execute(text(
        "SELECT b.code, b.kind, b.status, b.child_count, p.code FROM bags b"
        " LEFT JOIN bags p ON p.id = b.parent_id ORDER BY b.code")).all()
    db.session.rollback()
    return [tuple(row) for row in rows]


def events() -> list[tuple]:
    rows = db.session.execute(
        select(ScanEvent.action, ScanEvent.outcome, ScanEvent.result)
        .where(ScanEvent.action.in_(("child_scan", "parent_scan"))).order_by(ScanEvent.id))
    db.session.rollback()
    return [tuple(row) for row in rows]


def run_jobs(app) -> None:
    db.session.commit()
    while async_handler.JobRunner(app).run_once():
        pass
    db.session.expire_all()


def import_row(app, client, parent: str, code: str) -> str:
    """Upload a one-row table, confirm it after its dry run, and read the row's outcome
    from the import's report (a refusal's code, or what it did)."""
    content = f"code,kind,parent_code\r\n{code},child,{parent}\r\n".encode()
    response = client.post("/imports", data={"file": (io.BytesIO(content), "rows.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    run_jobs(app)
    record = db.session.scalar(select(Import).order_by(Import.id.desc()).limit(1))
    db.session.commit()
    assert client.post(f"/imports/{record.id}/confirm").status_code == 302
    run_jobs(app)
    db.session.refresh(record)
    report = "".join(imports.report_chunks(record.import_job_id))
    db.session.rollback()
    row = list(csv.DictReader(io.StringIO(report)))[0]
    return row["reason"].split(":")[0] if row["outcome"] == "rejected" else row["outcome"]


def send(entry: str, app, client, parent: str, code: str) -> str | None:
    """The scan through one entry point; its answer where the entry point gives one."""
    if entry == "form":
        response = client.post("/scan", data={"parent": parent, "code": code})
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "Something went wrong" not in page
        return None
    if entry == "import":
        return import_row(app, client, parent, code)
    body = {"parent": parent, "code": code}
    if entry == "replay":  # made offline a minute ago, sent now with its queue's id
        body.update(scan_id=f"offline-{next(_numbers)}",
                    scanned_at=(datetime.now(UTC) - timedelta(minutes=1)).isoformat())
    answer = client.post("/api/v1/scans/child", json=body).get_json()
    return answer["error"]["code"] if "error" in answer else answer["result"]


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize(("situation", "parent", "code", "expected", "otherwise"), SITUATIONS,
                         ids=[row[0] for row in SITUATIONS])
def test_every_entry_point_gets_the_rule_books_answer(world, entry, situation, parent, code,
                                                      expected, otherwise):
    expected = otherwise.get(entry, (expected,))[0]
    client = world.test_client()
    user = "sam" if entry == "import" else "stella"  # imports are for supervisors
    assert client.post("/login", data={"username": user, "password": PASSWORD}).status_code == 302
    bags_before, events_before = bags(), events()

    answer = send(entry, world, client, parent, code)

    if answer is not None:
        assert answer == expected, (situation, entry, answer)
    new_events = events()[len(events_before):]
    if entry == "import" and expected == "already_linked":
        # A re-imported sheet records nothing for the rows already done (its report says).
        assert new_events == []
    else:
        assert new_events and new_events[-1][2] == expected, (situation, entry, new_events)
        accepted = expected in ACCEPTED_RESULTS
        assert new_events[-1][1] == ("accepted" if accepted else "rejected")
    if expected == "linked":
        child = normalise_code(code)
        linked_to = {row[0]: row[4] for row in bags()}
        assert linked_to[child] == parent
    else:
        assert bags() == bags_before, "the bags changed"
    check_invariants()
