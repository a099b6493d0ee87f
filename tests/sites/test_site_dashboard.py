"""Issue 21: the dashboard's figures per site, each in the site's time zone: MAIN in
Asia/Kolkata (+05:30), FAR in America/Sao_Paulo (-03:00), with scans just before and just
after each site's own midnight. "Today", the hour buckets and their times are the site's;
an admin sees both side by side, each with its own day."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from app.dashboard import services
from app.extensions import db
from app.models import ScanEvent, Site
from tests.helpers import log_in
from tests.sites.support import make_site

NOW = datetime(2026, 3, 10, 18, 45, tzinfo=UTC)  # 00:15 on 11 March in Kolkata, 15:45 on 10 March in São Paulo
SCANS = {
    "MAIN": [datetime(2026, 3, 10, 18, 20, tzinfo=UTC),   # 23:50 IST, 10 March: yesterday there
             datetime(2026, 3, 10, 18, 40, tzinfo=UTC)],  # 00:10 IST, 11 March: today
    "FAR": [datetime(2026, 3, 10, 2, 50, tzinfo=UTC),     # 23:50 BRT, 9 March: yesterday there
            datetime(2026, 3, 10, 3, 10, tzinfo=UTC),     # 00:10 BRT, 10 March: today
            datetime(2026, 3, 10, 18, 30, tzinfo=UTC)],   # 15:30 BRT: today, the last hour
}


@pytest.fixture
def two_zones(app, make_user, monkeypatch):
    db.session.execute(update(Site).where(Site.code == "MAIN").values(timezone="Asia/Kolkata"))
    far = make_site("FAR", "America/Sao_Paulo")
    people = {"MAIN": make_user("mainer", "supervisor"), "FAR": make_user("farer", "supervisor")}
    people["FAR"].memberships[0].site_id = far.id
    make_user("boss", "admin")
    db.session.commit()
    site_ids = dict(db.session.execute(select(Site.code, Site.id)).all())
    for code, moments in SCANS.items():
        for number, at in enumerate(moments):
            db.session.add(ScanEvent(user_id=people[code].id, created_at=at, made_at=at,
                                     action="child_scan", outcome="accepted", result="linked",
                                     code=f"{code[0]}{number:06d}", site_id=site_ids[code]))
    db.session.commit()
    monkeypatch.setattr(services, "utcnow", lambda: NOW)
    return people


def stats_as(app, username: str) -> dict:
    client = app.test_client()
    assert log_in(client, username).status_code == 302
    response = client.get("/api/v1/dashboard/stats")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def busy_hours(stats: dict) -> dict:
    return {bucket["hour"]: bucket["scans"] for bucket in stats["hourly"] if bucket["scans"]}


def test_kolkata_counts_its_own_day_and_hours(app, two_zones):
    stats = stats_as(app, "mainer")
    assert stats["timezone"] == "Asia/Kolkata"
    assert stats["scans"] == {"today": 1, "last_hour": 2}
    assert stats["generated_at"] == "2026-03-11T00:15:00+05:30"
    assert busy_hours(stats) == {"2026-03-10T23:00:00+05:30": 1, "2026-03-11T00:00:00+05:30": 1}
    assert [person["username"] for person in stats["people"]] == ["mainer"]


def test_sao_paulo_counts_its_own_day_and_hours(app, two_zones):
    stats = stats_as(app, "farer")
    assert stats["timezone"] == "America/Sao_Paulo"
    assert stats["scans"] == {"today": 2, "last_hour": 1}
    assert stats["generated_at"] == "2026-03-10T15:45:00-03:00"
    # Yesterday's last scan is in the last 24 hours' chart, not in today's count.
    assert busy_hours(stats) == {"2026-03-09T23:00:00-03:00": 1, "2026-03-10T00:00:00-03:00": 1,
                                 "2026-03-10T15:00:00-03:00": 1}
    assert stats["hourly"][0]["hour"] == "2026-03-09T16:00:00-03:00"
    assert [person["username"] for person in stats["people"]] == ["farer"]


def test_an_admin_sees_both_side_by_side_each_in_its_own_day(app, two_zones):
    client = app.test_client()
    assert log_in(client, "boss").status_code == 302

    items = client.get("/api/v1/dashboard/sites").get_json()["items"]

    by_site = {item["site"]["code"]: item["stats"] for item in items}
    assert {code: stats["scans"]["today"] for code, stats in by_site.items()} == {
        "FAR": 2, "MAIN": 1}
    assert by_site["MAIN"]["generated_at"].endswith("+05:30")
    assert by_site["FAR"]["generated_at"].endswith("-03:00")
    page = client.get("/dashboard/sites").get_data(as_text=True)
    assert 'data-figure="today"' in page and "America/Sao_Paulo" in page


def test_an_hour_later_kolkata_still_has_one_and_sao_paulo_crosses_no_midnight(
        app, two_zones, monkeypatch):
    later = datetime(2026, 3, 11, 2, 59, tzinfo=UTC)  # 08:29 IST; 23:59 BRT, still 10 March
    monkeypatch.setattr(services, "utcnow", lambda: later)
    assert stats_as(app, "mainer")["scans"]["today"] == 1
    assert stats_as(app, "farer")["scans"]["today"] == 2
    after_midnight = datetime(2026, 3, 11, 3, 1, tzinfo=UTC)  # 00:01 BRT, 11 March
    monkeypatch.setattr(services, "utcnow", lambda: after_midnight)
    assert stats_as(app, "farer")["scans"]["today"] == 0
