"""Imports told apart from floor work (issue 18, item 2): an import writes the events a
station would have written (station 'import:<job id>'), and none of them may count as the
uploader's own scans: not in people, the hourly chart, "Scans today", the last hour, the
exceptions, the activity, nor the station's "My scans today"."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

import async_handler
from app import create_app
from app.extensions import db
from app.models import ScanEvent
from app.models.events import ScanCount
from tests.helpers import (insert_event_at_an_old_revision, insert_user_at_an_old_revision,
                           pg_only)


def table_csv(rows) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["code", "kind", "parent_code"])
    writer.writerows(rows)
    return buffer.getvalue().encode()


def run_jobs(app) -> None:
    db.session.commit()
    while async_handler.JobRunner(app).run_once():
        pass
    db.session.expire_all()


def import_file(app, client, content: bytes) -> int:
    answer = client.post("/imports", data={"file": (io.BytesIO(content), "batch.csv")},
                         content_type="multipart/form-data")
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
    import_id = int(answer.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    run_jobs(app)
    assert client.post(f"/imports/{import_id}/confirm").status_code == 302
    run_jobs(app)
    return import_id


def my_scans_today(client) -> int:
    html = client.get("/scan").get_data(as_text=True)
    return int(re.search(r'data-testid="my-scans-today">(\d+)<', html).group(1))


def test_an_import_changes_no_floor_figure(app, client, login_as, supervisor):
    login_as(supervisor)
    # Floor work first: a parent, two bags, one refused scan.
    assert client.post("/api/v1/scans/parent", json={"code": "SB00001"}).status_code == 201
    for code in ("C0001", "C0002"):
        assert client.post("/api/v1/scans/child", json={"parent": "SB00001", "code": code}).status_code == 201
    assert client.post("/api/v1/scans/child", json={"parent": "SB00001", "code": "bad code"}).status_code == 422
    before = client.get("/api/v1/dashboard/stats").get_json()
    activity_before = client.get("/api/v1/dashboard/activity").get_json()["items"]
    assert before["scans"]["today"] == 2 and my_scans_today(client) == 2
    assert before["imports"] == []

    # An import of 2 parents and 5 bags, one of them refused (already in SB00001).
    rows = [("SB00002", "parent", ""), ("SB00003", "parent", "")]
    rows += [(f"D000{n}", "child", "SB00002") for n in range(1, 4)]
    rows += [("D0004", "child", "SB00003"), ("C0001", "child", "SB00003")]
    import_id = import_file(app, client, table_csv(rows))
    imported = db.session.scalars(select(ScanEvent).where(ScanEvent.station.like("import:%"))).all()
    assert {event.result for event in imported} >= {"linked", "child_in_other_parent"}

    after = client.get("/api/v1/dashboard/stats").get_json()
    for figure in ("scans", "hourly", "people", "exceptions"):
        assert after[figure] == before[figure], figure
    assert client.get("/api/v1/dashboard/activity").get_json()["items"] == activity_before
    assert my_scans_today(client) == 2
    # The import is listed on its own, with what it added.
    assert after["imports"] == [{
        "import_id": import_id, "file": "batch.csv", "at": after["imports"][0]["at"],
        "name": supervisor.username, "children_linked": 4, "parents_created": 2}]
    page = client.get("/dashboard").get_data(as_text=True)
    assert "batch.csv" in page and f"/imports/{import_id}" in page
    # Floor work after the import still counts.
    assert client.post("/api/v1/scans/child", json={"parent": "SB00001", "code": "C0003"}).status_code == 201
    assert client.get("/api/v1/dashboard/stats").get_json()["scans"]["today"] == 3
    assert my_scans_today(client) == 3


def _add(user_id: int, station: str | None, minutes: int) -> None:
    at = datetime(2026, 3, 10, 4, 0, tzinfo=UTC) + timedelta(minutes=minutes)
    insert_event_at_an_old_revision(user_id, "child_scan", "accepted", "linked", at, station)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pg_only)])
def test_the_migration_recounts_without_imports_and_back(tmp_path, request, backend):
    from flask_migrate import downgrade, upgrade

    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'floor.db'}"
    else:
        url = request.getfixturevalue("empty_postgres_url")
    application = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    with application.app_context():
        try:
            upgrade(revision="0007_import_upload_purge")
            user_id = insert_user_at_an_old_revision("mixed", "supervisor")
            db.session.commit()
            _add(user_id, None, 0)
            _add(user_id, "import:7", 1)
            _add(user_id, "dock 2", 2)
            db.session.commit()

            def counted() -> int:
                db.session.commit()
                return sum(db.session.scalars(select(ScanCount.count)))  # (no site_id before 0017)

            assert counted() == 3  # 0006 counted the import too
            upgrade(revision="0010_floor")
            assert counted() == 2
            _add(user_id, "import:8", 3)  # the trigger leaves imports out from now on
            _add(user_id, None, 4)
            db.session.commit()
            assert counted() == 3
            downgrade(revision="0007_import_upload_purge")
            assert counted() == 5
        finally:
            db.session.remove()
            db.engine.dispose()
