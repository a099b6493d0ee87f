"""The dashboard's dispatch card (issue 20, item 6): loading now, dispatched today, parents
and bags out today, dispatches loading for longer than STALE_DISPATCH_HOURS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update

from app.dashboard import services as dashboard
from app.dispatch import services as dispatching
from app.extensions import db
from app.models import Dispatch
from app.unit_of_work import run
from tests.dispatch.support import complete_parent, load, new_dispatch
from tests.dispatch_docs.support import dispatched

TZ = "Asia/Kolkata"


def move(code: str, **times) -> None:
    db.session.execute(update(Dispatch).where(Dispatch.code == code).values(**times))
    db.session.commit()


def test_the_card_counts_today_and_lists_the_stale_ones(make_app, login_as, make_user):
    app = make_app(APP_TIMEZONE=TZ, STALE_DISPATCH_HOURS=6)
    with app.app_context():
        supervisor = make_user("boss", "supervisor")
        now = datetime.now(UTC)
        today_start = datetime.now(ZoneInfo(TZ)).replace(hour=0, minute=0, second=0,
                                                         microsecond=0).astimezone(UTC)
        # Out today: 2 parents of 3 and 4 bags, one of them returned (not out).
        dispatched(supervisor, "D000001", ["SB00001", "SB00002"], children=3)
        dispatched(supervisor, "D000002", ["SB00003", "SB00004"], children=4)
        run(dispatching.return_parent, supervisor, "D000002", "SB00004", "wet")
        # Out yesterday: not today's.
        dispatched(supervisor, "D000003", ["SB00005"], children=5)
        move("D000003", dispatched_at=today_start - timedelta(minutes=1))
        # Loading: one opened 7 hours ago (stale), one just now.
        complete_parent(supervisor, "SB00006", children=2)
        new_dispatch(supervisor, "D000004", expected=5, destination="Pune depot")
        load(supervisor, "D000004", "SB00006")
        move("D000004", created_at=now - timedelta(hours=7))
        new_dispatch(supervisor, "D000005", expected=2)

        figures = dashboard.dashboard_stats()["dispatches"]

        assert {key: figures[key] for key in ("loading", "dispatched_today",
                                               "parents_out_today", "bags_out_today",
                                               "stale_hours")} == {
            "loading": 2, "dispatched_today": 2, "parents_out_today": 3, "bags_out_today": 10,
            "stale_hours": 6}
        [stale] = figures["stale"]
        assert stale["code"] == "D000004" and stale["destination"] == "Pune depot"
        assert (stale["parents_loaded"], stale["expected_parents"]) == (1, 5)
        assert stale["created_at"].endswith("+05:30")

        client = app.test_client()
        login_as(supervisor, test_client=client)
        html = client.get("/dashboard").get_data(as_text=True)
        assert 'data-testid="count-dispatch-bags-out">10<' in html
        assert 'href="/dispatches/D000004/manifest.pdf"' in html
        assert client.get("/api/v1/dashboard/stats").get_json()["dispatches"] == figures


def test_an_empty_card_says_so(client, login_as, supervisor):
    login_as(supervisor)
    html = client.get("/dashboard").get_data(as_text=True)
    assert "No dispatch has been loading that long." in html
    assert 'data-testid="count-dispatch-loading">0<' in html
