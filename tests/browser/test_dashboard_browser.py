"""The supervisor dashboard in Chromium: it shows the figures and the chart under the CSP,
refreshes them without reloading after scans arrive, says clearly when the server cannot be
reached, and stops asking while the tab is hidden."""

from __future__ import annotations

import pytest

from app.dashboard import routes as dashboard_routes
from tests.browser.support import log_in_page, screenshot
from tests.helpers import PASSWORD

STATS = "**/api/v1/dashboard/stats"


@pytest.fixture
def app(make_app):
    application = make_app(APP_TIMEZONE="Asia/Kolkata", STALE_PARENT_MINUTES=30)
    with application.app_context():
        yield application


@pytest.fixture
def fast_refresh(monkeypatch):
    """Refresh every second instead of ten, for the tests about failure and pausing."""
    monkeypatch.setattr(dashboard_routes, "REFRESH_SECONDS", 1)


def api(page, base_url: str, path: str, body: dict) -> int:
    """Scan through the JSON API with the page's own session cookie."""
    return page.request.post(base_url + "/api/v1" + path, data=body).status


def scan_some(page, base_url: str) -> None:
    assert api(page, base_url, "/scans/parent", {"code": "SB00001"}) == 201
    for number in range(1, 6):
        assert api(page, base_url, "/scans/child", {"parent": "SB00001", "code": f"001658{number}"}) == 201
    assert api(page, base_url, "/scans/parent", {"code": "SB00002"}) == 201
    assert api(page, base_url, "/scans/child", {"parent": "SB00002", "code": "0016581"}) == 409
    assert api(page, base_url, "/scans/child", {"parent": "SB00002", "code": "bad code!"}) == 422


def open_dashboard(page, base_url: str, user) -> None:
    log_in_page(page, base_url, user.username, PASSWORD)
    page.goto(base_url + "/dashboard")
    page.wait_for_selector("#hourly-chart")


def chart_drawn(page) -> bool:
    return page.evaluate(
        "() => { const c = document.getElementById('hourly-chart');"
        " return !!(window.Chart && window.Chart.getChart(c)) && c.width > 0 && c.height > 0; }")


def test_page_shows_counters_and_chart_and_refreshes_without_reloading(
        live_server, page_for, supervisor):
    page = page_for(1280, 900)
    open_dashboard(page, live_server, supervisor)
    assert page.inner_text("#count-scans-today") == "0"
    assert page.inner_text("#count-parents-open") == "0"
    assert chart_drawn(page)
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads
    updated = page.get_attribute("#updated-at time", "datetime")

    scan_some(page, live_server)
    # The page asks again every 10 s: the new figures arrive within one interval.
    page.wait_for_selector("#count-scans-today:text-is('5')", timeout=15_000)
    assert page.evaluate("window.__sameDocument") is True
    assert page.inner_text("#count-parents-open") == "2"
    assert page.inner_text("#count-children-linked") == "5"
    assert page.inner_text("#count-scans-last-hour") == "5"
    assert page.get_attribute("#updated-at time", "datetime") != updated
    assert page.locator("#people-body tr").all_inner_texts()[0].split() == [
        supervisor.username, "5", "0", "2"]
    exception_links = page.locator("#exceptions-list a")
    assert exception_links.first.get_attribute("href") == "/bags/BAD%20CODE!"
    assert "/bags/0016581" in [exception_links.nth(i).get_attribute("href")
                               for i in range(exception_links.count())]
    assert "put 0016585 into SB00001" in page.inner_text("#activity-list")
    assert page.evaluate(
        "window.Chart.getChart(document.getElementById('hourly-chart')).data.datasets[0].data"
        ".reduce((a, b) => a + b, 0)") == 5
    assert page.locator("#stale-banner").is_hidden()
    screenshot(page, "dashboard-1280")
    assert page.problems == []


def test_stale_banner_when_the_server_cannot_be_reached_then_recovers(
        live_server, page_for, supervisor, fast_refresh):
    page = page_for(360, 780)
    open_dashboard(page, live_server, supervisor)
    scan_some(page, live_server)
    page.wait_for_selector("#count-scans-today:text-is('5')", timeout=10_000)
    last_update = page.evaluate(
        "tracetrackTime.clock(new Date(document.querySelector('#updated-at time').dateTime))")

    page.route(STATS, lambda route: route.abort("connectionrefused"))
    banner = page.locator("#stale-banner")
    banner.wait_for(state="visible", timeout=10_000)
    text = banner.inner_text()
    assert text.startswith("Stale:")
    assert f"could not be reached since {last_update}" in text
    assert page.inner_text("#count-scans-today") == "5"  # the last figures stay, marked stale
    assert page.evaluate("document.getElementById('dashboard').classList.contains('is-stale')")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, "dashboard-stale-360")

    page.unroute(STATS)
    banner.wait_for(state="hidden", timeout=10_000)
    assert not page.evaluate("document.getElementById('dashboard').classList.contains('is-stale')")
    screenshot(page, "dashboard-360")
    assert page.problems == []


def test_refresh_pauses_while_the_tab_is_hidden(live_server, page_for, supervisor, fast_refresh):
    page = page_for()
    open_dashboard(page, live_server, supervisor)
    asked = []
    page.on("request", lambda request: asked.append(request.url) if "/dashboard/stats" in request.url else None)
    with page.expect_request(lambda request: "/dashboard/stats" in request.url, timeout=5_000):
        pass  # it asks every second while visible

    page.evaluate("""() => {
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    page.wait_for_timeout(1500)  # let a request already on its way finish
    count = len(asked)
    page.wait_for_timeout(3500)  # three refresh intervals
    assert len(asked) == count

    with page.expect_request(lambda request: "/dashboard/stats" in request.url, timeout=2_000):
        page.evaluate("""() => {
            Object.defineProperty(document, 'hidden', { configurable: true, get: () => false });
            document.dispatchEvent(new Event('visibilitychange'));
        }""")
    assert page.problems == []


def test_session_end_says_so_in_the_banner(live_server, page_for, supervisor, fast_refresh):
    page = page_for()
    open_dashboard(page, live_server, supervisor)
    page.context.clear_cookies()
    banner = page.locator("#stale-banner")
    banner.wait_for(state="visible", timeout=10_000)
    assert "Your session has ended: log in again to see current figures." in banner.inner_text()
    assert "/login" in page.get_attribute("#stale-banner a", "href")
    assert page.problems == []


def test_station_counts_my_scans_today(live_server, page_for, staff):
    page = page_for(360, 740)
    log_in_page(page, live_server, staff.username, PASSWORD)
    page.goto(live_server + "/scan")
    assert page.inner_text("#my-scans-today") == "0"
    page.keyboard.type("SB00031\n")
    page.wait_for_selector("#parent-code:text-is('SB00031')")
    for code in ("0020001\n", "0020002\n", "0020002\n"):  # the repeat is already_linked
        page.keyboard.type(code)
    page.wait_for_selector("#results-list li:has-text('0020002 already in')")
    assert page.inner_text("#my-scans-today") == "2"
    page.reload()
    assert page.inner_text("#my-scans-today") == "2"
    screenshot(page, "station-my-scans-360")
    assert page.problems == []
