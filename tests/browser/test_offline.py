"""Scanning through a Wi-Fi drop: scans are kept in IndexedDB, survive a reload, and are sent
exactly once when the server is reachable again."""

from sqlalchemy import func, select

from app.extensions import db
from app.models import Bag, ScanEvent
from tests.browser.support import log_in_page, screenshot
from tests.helpers import PASSWORD

READ_QUEUE = """() => new Promise((resolve, reject) => {
  const open = indexedDB.open("tracetrack-station", 1);
  open.onsuccess = () => {
    const request = open.result.transaction("queue").objectStore("queue").getAll();
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  };
  open.onerror = () => reject(open.error);
})"""


def links_in(code: str) -> int:
    """Children of `code` as committed now: end whatever read transaction this test's
    session had open (on SQLite it would keep showing its old snapshot)."""
    db.session.rollback()
    parent = db.session.scalar(select(Bag).where(Bag.code == code))
    count = db.session.scalar(select(func.count()).where(Bag.parent_id == parent.id))
    db.session.commit()
    return count


def start_parent(page, base, code):
    page.goto(base + "/scan")
    page.keyboard.type(code + "\n")
    page.wait_for_selector(f"#parent-code:text-is('{code}')")


def test_offline_scans_survive_a_reload_and_are_sent_exactly_once(live_server, page_for, staff):
    page = page_for()
    log_in_page(page, live_server, staff.username, PASSWORD)
    start_parent(page, live_server, "SB00010")

    # The Wi-Fi drops: the API cannot be reached (the page itself still reloads from cache
    # or server, as a kiosk's would).
    page.route("**/api/v1/scans/**", lambda route: route.abort("internetdisconnected"))
    codes = [f"77{n:05d}" for n in range(1, 11)]
    for code in codes:
        page.keyboard.type(code + "\n")
    page.wait_for_selector("#waiting:text('10 waiting')", timeout=30_000)
    assert links_in("SB00010") == 0
    assert page.evaluate("document.activeElement.id") == "scan-input"
    screenshot(page, "station-offline-10-waiting")

    page.reload()
    page.wait_for_selector("#waiting:text('10 waiting')", timeout=10_000)
    queue = page.evaluate(READ_QUEUE)
    assert sorted(item["code"] for item in queue) == codes
    assert {item["parent"] for item in queue} == {"SB00010"}

    page.unroute("**/api/v1/scans/**")  # the connection is back
    page.wait_for_selector("#waiting", state="hidden", timeout=60_000)
    assert links_in("SB00010") == 10
    assert page.evaluate(READ_QUEUE) == []

    # A second replay of the same queue (same scan_ids) adds nothing.
    request = page.context.request
    token = page.get_attribute('meta[name="csrf-token"]', "content")
    for item in queue:
        answer = request.post(live_server + "/api/v1/scans/child", headers={"X-CSRFToken": token},
                              data={"parent": item["parent"], "code": item["code"],
                                    "scan_id": item["scan_id"], "scanned_at": item["scanned_at"]})
        assert answer.status == 200 and answer.json()["result"] == "replayed"
    assert links_in("SB00010") == 10
    events = db.session.scalars(select(ScanEvent).where(ScanEvent.result == "linked")).all()
    assert len(events) == 10 and all(event.client_scanned_at is not None for event in events)
    assert all(event.client_scanned_at <= event.created_at for event in events)
    assert page.problems == []


def test_browser_offline_mode_queues_and_drains_in_order(live_server, page_for, staff):
    page = page_for(360, 740)
    log_in_page(page, live_server, staff.username, PASSWORD)
    start_parent(page, live_server, "SB00011")
    page.context.set_offline(True)
    for n in range(1, 6):
        page.keyboard.type(f"78{n:05d}\n")
    page.wait_for_selector("#waiting:text('5 waiting')", timeout=10_000)
    assert page.locator("#children-list li.waiting-item").count() == 5
    assert "will be sent when the connection is back" in page.inner_text("#message")
    assert page.inner_text("#my-scans-today") == "0"
    page.context.set_offline(False)
    page.wait_for_selector("#waiting", state="hidden", timeout=30_000)
    assert links_in("SB00011") == 5
    # Right after the queue drains: the message says so, and "My scans today" counts them.
    page.wait_for_selector("#message:text('5 waiting scans were sent')", timeout=5_000)
    assert "will be sent" not in page.inner_text("#message")
    assert page.inner_text("#my-scans-today") == "5"
    assert page.inner_text("#count") == "5"
    order = db.session.scalars(
        select(ScanEvent.code).where(ScanEvent.result == "linked").order_by(ScanEvent.id)).all()
    assert order == [f"78{n:05d}" for n in range(1, 6)]
    assert page.locator("#children-list li.waiting-item").count() == 0


def test_a_scan_refused_on_replay_is_listed_not_dropped(live_server, page_for, staff, supervisor):
    page = page_for()
    log_in_page(page, live_server, staff.username, PASSWORD)
    start_parent(page, live_server, "SB00012")
    page.context.set_offline(True)
    page.keyboard.type("7900001\n")
    page.wait_for_selector("#waiting:text('1 waiting')")

    # Meanwhile the same bag went into another parent at another station.
    other = page.context.browser.new_context()
    other_page = other.new_page()
    log_in_page(other_page, live_server, supervisor.username, PASSWORD)
    token = other_page.get_attribute('meta[name="csrf-token"]', "content")
    for path, body in (("/api/v1/scans/parent", {"code": "SB00013"}),
                       ("/api/v1/scans/child", {"parent": "SB00013", "code": "7900001"})):
        assert other.request.post(live_server + path, headers={"X-CSRFToken": token}, data=body).ok
    other.close()

    page.context.set_offline(False)
    page.wait_for_selector("#refused-card:not(.d-none)", timeout=30_000)
    text = page.inner_text("#refused-list")
    assert "7900001" in text and "SB00013" in text
    assert links_in("SB00012") == 0
    page.reload()  # the list survives a reload until the worker has dealt with it
    page.wait_for_selector("#refused-card:not(.d-none)")
    page.click("#refused-list button")
    page.wait_for_selector("#refused-card", state="hidden")


def test_a_session_that_ended_during_the_outage_drains_after_login(live_server, page_for, staff):
    page = page_for()
    log_in_page(page, live_server, staff.username, PASSWORD)
    start_parent(page, live_server, "SB00014")
    page.context.set_offline(True)
    for n in range(1, 4):
        page.keyboard.type(f"79100{n:02d}\n")
    page.wait_for_selector("#waiting:text('3 waiting')")

    # Logging out asks first while scans wait; dismissing keeps the session.
    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.click("#logout-form button")
    assert dialogs and "3 scans are still waiting" in dialogs[0]
    assert "/scan" in page.url

    staff.end_all_sessions()  # e.g. a supervisor ended the session meanwhile
    db.session.commit()
    page.context.set_offline(False)
    page.wait_for_selector("#message a:text('Log in')", timeout=30_000)
    assert links_in("SB00014") == 0

    log_in_page(page, live_server, staff.username, PASSWORD)  # the station drains on load
    page.wait_for_function("() => localStorage.getItem('tracetrack.waiting') === '0'",
                           timeout=30_000)
    page.goto(live_server + "/scan?parent=SB00014")
    page.wait_for_selector("#count:text-is('3')", timeout=30_000)  # drained after login
    assert page.is_hidden("#waiting")
    assert links_in("SB00014") == 3


def test_scans_made_before_a_drop_count_in_the_hour_they_were_made(live_server, page_for,
                                                                     staff):
    """Issue 27: a scan queued during a drop keeps the time it was made; sent later, it counts
    in that hour (the dashboard's counts, scan_counts), not in the hour it arrived. The
    station's clock is set 90 minutes back while the connection is down."""
    from datetime import UTC, datetime, timedelta

    from app.models.events import ScanCount

    page = page_for()
    log_in_page(page, live_server, staff.username, PASSWORD)
    start_parent(page, live_server, "SB00020")

    made = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=90)
    page.route("**/api/v1/scans/**", lambda route: route.abort("internetdisconnected"))
    page.clock.set_fixed_time(made)
    codes = [f"78{n:05d}" for n in range(1, 4)]
    for code in codes:
        page.keyboard.type(code + "\n")
    page.wait_for_selector("#waiting:text('3 waiting')", timeout=30_000)

    page.unroute("**/api/v1/scans/**")  # the connection is back, 90 minutes later
    page.wait_for_selector("#waiting", state="hidden", timeout=60_000)
    assert links_in("SB00020") == 3
    events = db.session.scalars(select(ScanEvent).where(ScanEvent.result == "linked")).all()
    assert len(events) == 3
    for event in events:
        assert abs(event.made_at - made) < timedelta(seconds=5)
        assert event.created_at - event.made_at > timedelta(minutes=85)
    slot = made.replace(minute=made.minute - made.minute % 15, second=0)
    counts = db.session.execute(select(ScanCount.slot_start, ScanCount.count).where(
        ScanCount.kind == "linked", ScanCount.user_id == staff.id)).all()
    db.session.rollback()
    assert counts == [(slot, 3)], counts
    page.goto(live_server + "/bags/SB00020")
    assert page.locator("[data-testid=received-late]").count() == 3
    assert page.problems == []
