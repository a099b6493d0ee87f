"""The day's dispatch summary by e-mail (issue 20, item 5), against a real SMTP server
(aiosmtpd on a free local port): its text, HTML and attachments; once a day whoever looks;
an outage retried; no SMTP settings: logged, not sent; the CLI."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.dispatch import services as dispatching
from app.dispatch.queries import find_dispatch
from app.dispatch_docs import summary as summaries
from app.extensions import db
from app.jobs.queue import CHORES
from app.models import DailySend
from app.models.types import utcnow
from app.unit_of_work import run
from tests.dispatch.support import complete_parent, load, new_dispatch
from tests.dispatch_docs.support import (SmtpServer, attachments, dispatched, free_port,
                                         look_each_day)
from tests.helpers import ON_POSTGRES

TZ = "Asia/Kolkata"


def mail_app(make_app, url: str | None, **overrides):
    settings = {"SMTP_URL": url, "DISPATCH_SUMMARY_TO": "boss@example.com, gate@example.com",
                "MAIL_FROM": "TraceTrack <tt@warehouse.example>", "APP_TIMEZONE": TZ,
                "DISPATCH_SUMMARY_AT": "00:00", "DISPATCH_SUMMARY_RETRY_SECONDS": 300}
    return make_app(**{**settings, **overrides})


def a_day_of_dispatches(supervisor) -> None:
    """Two dispatched (one short, with a return), one still loading."""
    dispatched(supervisor, "D000001", ["SB00001", "SB00002"], children=3, driver="Anil",
               reference="LR-77")
    run(dispatching.return_parent, supervisor, "D000001", "SB00002", "torn sack")
    dispatched(supervisor, "D000002", ["SB00003"], expected=4, children=5,
               reason="two parents not ready")
    complete_parent(supervisor, "SB00004", children=2)
    new_dispatch(supervisor, "D000003", expected=10, destination="Pune depot")
    load(supervisor, "D000003", "SB00004")


def rows() -> list[DailySend]:
    db.session.rollback()
    return list(db.session.scalars(select(DailySend).order_by(DailySend.day)))


def test_the_summary_says_what_left_what_came_back_and_what_is_still_loading(
        make_app, supervisor):
    with SmtpServer() as server:
        app = mail_app(make_app, server.url, DISPATCH_SUMMARY_ATTACH=True)
        with app.app_context():
            a_day_of_dispatches(supervisor)
            assert summaries.run_daily_summary() == [(summaries.local_today(), "sent")]

    [message] = server.inbox.messages
    today = datetime.now(ZoneInfo(TZ)).date()
    assert message["Subject"] == (f"Dispatch summary {today.day} {today:%b %Y}: 2 dispatched, "
                                  "2 parents, 8 bags out")
    assert message["From"] == "TraceTrack <tt@warehouse.example>"
    assert message["Message-ID"] == f"<dispatch-summary.{today.isoformat()}@warehouse.example>"
    assert sorted(server.inbox.envelopes[0][1]) == ["boss@example.com", "gate@example.com"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for part in (text, html):
        for words in ("D000001", "D000002", "D000003", "MH12AB1234", "Nagpur depot",
                      "two parents not ready", "SB00002", "torn sack", "Pune depot", "LR-77"):
            assert words in part, words
    assert "Parents out: 2" in text and "Bags out: 8 (8 kg)" in text
    assert "Still loading: 1" in text and "Short dispatches: 1" in text
    assert "- D000002: 1 of 4 parents. Reason: two parents not ready" in text
    assert "<script" not in html and "<b>D000001</b>" in html
    files = attachments(message)
    assert sorted(files) == ["manifest-D000001.pdf", "manifest-D000002.pdf"]
    assert all(pdf.startswith(b"%PDF") for pdf in files.values())
    [row] = rows()
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)


def test_without_attach_there_are_no_attachments_and_an_empty_day_still_says_so(
        make_app):
    with SmtpServer() as server:
        app = mail_app(make_app, server.url)
        with app.app_context():
            summaries.run_daily_summary()
    [message] = server.inbox.messages
    assert attachments(message) == {}
    text = message.get_body(("plain",)).get_content()
    assert "No dispatch left today." in text and "Dispatched: 0" in text


def test_it_goes_once_a_day_however_often_runners_look(make_app, supervisor):
    with SmtpServer() as server:
        app = mail_app(make_app, server.url)
        with app.app_context():
            dispatched(supervisor, "D000001", ["SB00001"])
            assert summaries.run_daily_summary()
            for _ in range(3):
                assert summaries.run_daily_summary() == []
            # Another worker of another host, with its own app: finds the day's row.
            other = mail_app(make_app, server.url)
            with other.app_context():
                assert summaries.run_daily_summary() == []
    assert len(server.inbox.messages) == 1


def test_nothing_goes_before_the_time_of_day(make_app):
    with SmtpServer() as server:
        app = mail_app(make_app, server.url, DISPATCH_SUMMARY_AT="18:00")
        with app.app_context():
            zone = ZoneInfo(TZ)
            day = datetime(2026, 12, 5, tzinfo=zone)
            assert summaries.run_daily_summary(day.replace(hour=17, minute=59)) == []
            assert rows() == []
            assert summaries.run_daily_summary(day.replace(hour=18)) == [
                (day.date(), "sent")]
    assert len(server.inbox.messages) == 1
    assert "5 Dec 2026" in server.inbox.messages[0]["Subject"]


def test_an_smtp_outage_is_retried_until_the_message_goes_once(make_app, supervisor):
    port = free_port()  # nothing listens yet: the server is down
    app = mail_app(make_app, f"smtp://127.0.0.1:{port}")
    with app.app_context():
        dispatched(supervisor, "D000001", ["SB00001"])
        now = utcnow()
        assert summaries.run_daily_summary(now) == [(summaries.local_today(now), "retry")]
        [row] = rows()
        assert (row.status, row.attempts) == ("retry", 1)
        assert "Connection" in row.last_error
        assert row.next_attempt_at == now + timedelta(seconds=300)
        # Not before its time, even by another runner; then again, still down.
        assert summaries.run_daily_summary(now + timedelta(seconds=60)) == []
        later = row.next_attempt_at + timedelta(seconds=1)
        assert summaries.run_daily_summary(later)[0][1] == "retry"
        assert rows()[0].attempts == 2
        with SmtpServer(port) as server:  # the server is back
            again = rows()[0].next_attempt_at + timedelta(seconds=1)
            assert summaries.run_daily_summary(again)[0][1] == "sent"
            assert summaries.run_daily_summary(again + timedelta(hours=1)) == []
    assert len(server.inbox.messages) == 1
    [row] = rows()
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, None)


def test_yesterdays_failed_summary_is_still_retried_after_midnight(make_app):
    port = free_port()
    app = mail_app(make_app, f"smtp://127.0.0.1:{port}", DISPATCH_SUMMARY_AT="18:00")
    zone = ZoneInfo(TZ)
    evening = datetime(2026, 12, 4, 18, 30, tzinfo=zone)
    with app.app_context():
        assert summaries.run_daily_summary(evening)[0][1] == "retry"
        with SmtpServer(port) as server:
            after_midnight = datetime(2026, 12, 5, 0, 30, tzinfo=zone)
            assert summaries.run_daily_summary(after_midnight) == [
                (evening.date(), "sent")]
    assert "4 Dec 2026" in server.inbox.messages[0]["Subject"]


def test_a_sender_that_died_mid_send_is_taken_over_after_its_lease(make_app):
    with SmtpServer() as server:
        app = mail_app(make_app, server.url)
        with app.app_context():
            now = utcnow()
            day = summaries.local_today(now)
            assert summaries.claim_day(day, now, "dead-host:1:1", create=True) is not None
            assert summaries.run_daily_summary(now + timedelta(minutes=5)) == []
            taken = summaries.run_daily_summary(now + summaries.CLAIM_LEASE + timedelta(seconds=1))
            assert taken == [(day, "sent")]
    assert len(server.inbox.messages) == 1


def test_without_smtp_the_summary_is_logged_not_sent_and_readiness_stays_green(
        make_app, supervisor, capsys):
    app = mail_app(make_app, None)
    with app.app_context():
        dispatched(supervisor, "D000001", ["SB00001"])
        capsys.readouterr()
        assert summaries.run_daily_summary() == [(summaries.local_today(), "logged")]
        assert summaries.run_daily_summary() == []
        assert app.test_client().get("/health/ready").status_code == 200
    # One JSON line on stdout, as the app's other logs, at the default level (INFO).
    [line] = [json.loads(line) for line in capsys.readouterr().out.splitlines()
              if "dispatch summary" in line]
    assert line["level"] == "INFO" and line["logger"] == "tracetrack.dispatch_summary"
    assert "no SMTP_URL is set" in line["message"] and "D000001" in line["message"]
    assert rows()[0].status == "logged"


def test_the_job_runners_do_it_as_a_chore():
    function, every = CHORES["dispatch_summary"]
    assert function is summaries.daily_summary_chore and every == 60


# --- two runners at once, on PostgreSQL ---------------------------------------------------

@pytest.mark.pg_only
@pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL: set TEST_DATABASE_URL (CI does)")
def test_runners_racing_for_the_day_send_it_once(make_app):
    """Twenty days, four runners (threads with their own app and connections) looking at the
    same moment each day: each day's summary arrives exactly once."""
    zone = ZoneInfo(TZ)
    with SmtpServer() as server:
        apps = [mail_app(make_app, server.url, DISPATCH_SUMMARY_AT="18:00") for _ in range(4)]
        for offset in range(20):
            moment = datetime(2026, 11, 1, 18, 1, tzinfo=zone) + timedelta(days=offset)
            barrier = threading.Barrier(len(apps))
            outcomes, errors = [], []

            def look(application, moment=moment, barrier=barrier, outcomes=outcomes,
                     errors=errors):
                try:
                    with application.app_context():
                        barrier.wait(timeout=10)
                        outcomes.extend(summaries.run_daily_summary(moment))
                        db.session.remove()
                except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                    errors.append(exc)

            threads = [threading.Thread(target=look, args=(application,)) for application in apps]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert errors == []
            # Yesterday's row is already sent, so each look is about today only.
            assert [outcome for _day, outcome in outcomes] == ["sent"], (offset, outcomes)
    subjects = [message["Subject"] for message in server.inbox.messages]
    assert len(subjects) == 20 and len(set(subjects)) == 20


@pytest.mark.pg_only
@pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL: set TEST_DATABASE_URL (CI does)")
def test_processes_racing_for_the_day_send_it_once(database_url):
    """Three processes (as three workers or hosts), ten days, all looking at the same moment."""
    import multiprocessing

    zone = ZoneInfo(TZ)
    moments = [datetime(2026, 10, 1, 18, 2, tzinfo=zone) + timedelta(days=n) for n in range(10)]
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(3), context.Queue()
    with SmtpServer() as server:
        settings = {"SMTP_URL": server.url, "DISPATCH_SUMMARY_TO": "boss@example.com",
                    "APP_TIMEZONE": TZ, "DISPATCH_SUMMARY_AT": "18:00"}
        processes = [context.Process(target=look_each_day,
                                     args=(database_url, settings, moments, barrier, results))
                     for _ in range(3)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=120)
        assert [process.exitcode for process in processes] == [0, 0, 0]
        outcomes = []
        while not results.empty():
            outcomes.append(results.get(timeout=5))
    assert sorted(outcomes) == [(moment.date().isoformat(), "sent") for moment in moments]
    assert len(server.inbox.messages) == 10


# --- on demand ---------------------------------------------------------------------------

def test_the_cli_shows_or_sends_a_given_day(make_app, supervisor):
    with SmtpServer() as server:
        app = mail_app(make_app, server.url)
        with app.app_context():
            dispatched(supervisor, "D000001", ["SB00001"])
            today = summaries.local_today().isoformat()
            runner = app.test_cli_runner()

            shown = runner.invoke(args=["dispatch", "summary", "--date", today, "--show"])
            assert shown.exit_code == 0, shown.output
            assert "D000001" in shown.output and server.inbox.messages == []

            sent = runner.invoke(args=["dispatch", "summary", "--date", today])
            assert sent.exit_code == 0, sent.output
            assert "Sent the summary of" in sent.output

            other_day = runner.invoke(args=["dispatch", "summary", "--date", "2026-01-02"])
            assert other_day.exit_code == 0
            bad = runner.invoke(args=["dispatch", "summary", "--date", "yesterday"])
            assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output.replace("%Y-%m-%d",
                                                                               "YYYY-MM-DD")
    assert len(server.inbox.messages) == 2
    assert "No dispatch left today." in server.inbox.messages[1].get_body(
        ("plain",)).get_content()
    assert rows() == []  # on demand: the daily send still goes at its time


def test_the_cli_without_smtp_prints_it_and_says_why(make_app):
    app = mail_app(make_app, None)
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["dispatch", "summary"])
    assert result.exit_code == 0
    assert "Dispatched: 0" in result.output and "no SMTP_URL is set" in result.output


def test_the_cli_says_when_the_server_is_down(make_app):
    app = mail_app(make_app, f"smtp://127.0.0.1:{free_port()}")
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["dispatch", "summary"])
    assert result.exit_code == 1 and "The summary was not sent" in result.output


def test_times_in_the_message_are_local(make_app, supervisor):
    with SmtpServer() as server:
        app = mail_app(make_app, server.url)
        with app.app_context():
            dispatched(supervisor, "D000001", ["SB00001"])
            at = find_dispatch("D000001").dispatched_at
            summaries.run_daily_summary()
    local = at.astimezone(ZoneInfo(TZ))
    assert f"{local.day} {local:%b %Y, %H:%M}" in server.inbox.messages[0].get_body(
        ("plain",)).get_content()
    assert at.tzinfo is not None and at.astimezone(UTC) == at
