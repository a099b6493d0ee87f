"""The bag pages in Chromium, as a supervisor and a worker use them: scan-to-find from the
navigation with a wedge scanner, the trace of a parent and a child, a move with a reason,
the list with filters and pages, and the not-found page, at 1280 and 360 px wide."""

from sqlalchemy import select

from app.extensions import db
from app.models import Bag
from tests.browser.support import log_in_page, screenshot
from tests.helpers import PASSWORD
from tests.helpers import fill_parent


def fits(page, width: int) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= width


def test_scan_to_find_trace_and_move_as_a_supervisor(live_server, page_for, staff, supervisor):
    fill_parent(staff, "SB00001", ["0000001", "0000002", "0000003"])
    fill_parent(staff, "SB00002", ["0000004"])
    page = page_for(1280, 900)
    log_in_page(page, live_server, supervisor.username, PASSWORD)
    page.goto(live_server + "/bags")

    page.click("#find-code")
    page.keyboard.type("sb00001\r")  # a wedge scanner: the code, then Enter
    page.wait_for_url("**/bags/SB00001")

    assert page.inner_text("#bag-status") == "open"
    assert page.inner_text("#bag-count") == "3 / 30"
    assert page.locator("#children-table tbody tr").count() == 3
    assert "stella" in page.inner_text("#children-table")
    assert page.locator("#timeline tbody tr").count() == 4
    assert page.locator("#complete-box").is_visible()
    screenshot(page, "bags-parent-1280")

    page.click("#children-table >> text=0000001")
    page.wait_for_url("**/bags/0000001")
    page.fill("#move-parent", "sb00002")
    page.fill("#move-reason", "put in the wrong sack")
    page.click("#move-submit")
    page.wait_for_selector(".alert-success")

    assert "0000001 moved from SB00001 to SB00002 (2 / 30)" in page.inner_text(".alert-success")
    assert "SB00002" in page.inner_text("#bag-parent")
    assert "moved in" in page.inner_text("#timeline")
    screenshot(page, "bags-child-moved-1280")
    child = db.session.scalar(select(Bag).where(Bag.code == "0000001"))
    db.session.refresh(child)
    assert child.parent_id == db.session.scalar(select(Bag.id).where(Bag.code == "SB00002"))
    assert page.problems == []


def test_child_page_with_corrections_fits_a_phone(live_server, page_for, staff, supervisor):
    fill_parent(staff, "SB00001", ["0000001"])
    page = page_for(360, 740)
    log_in_page(page, live_server, supervisor.username, PASSWORD)

    page.goto(live_server + "/bags/0000001")

    assert page.locator("#unlink-box").is_visible() and page.locator("#delete-box").is_visible()
    assert fits(page, 360)
    screenshot(page, "bags-child-360")
    assert page.problems == []


def test_list_filters_and_pages_on_a_phone(live_server, page_for, staff):
    for number in range(1, 5):
        fill_parent(staff, f"SB{number:05d}", [f"{number:03d}{c:04d}" for c in range(1, 4)])
    page = page_for(360, 740)
    log_in_page(page, live_server, staff.username, PASSWORD)

    page.goto(live_server + "/bags?limit=5")
    assert page.locator("#bag-table tbody tr").count() == 5
    assert fits(page, 360)
    assert page.locator("#export-csv").count() == 0  # staff: no exports
    screenshot(page, "bags-list-360")

    page.click("#next-page")
    page.wait_for_selector("#first-page")
    second = page.locator("#bag-table tbody tr td:first-child").all_inner_texts()
    assert len(second) == 5

    page.goto(live_server + "/bags")
    page.select_option("#kind", "parent")
    page.click("#submit")
    page.wait_for_url("**kind=parent**")
    assert page.locator("#bag-table tbody tr td:first-child").all_inner_texts() == [
        "SB00004", "SB00003", "SB00002", "SB00001"]
    assert page.problems == []


def test_list_and_exports_on_a_desktop(live_server, page_for, staff, supervisor):
    for number in range(1, 4):
        fill_parent(staff, f"SB{number:05d}", [f"{number:03d}{c:04d}" for c in range(1, 3)])
    page = page_for(1280, 800)
    log_in_page(page, live_server, supervisor.username, PASSWORD)

    page.goto(live_server + "/bags?status=linked")
    assert page.locator("#bag-table tbody tr").count() == 6
    with page.expect_download() as download:
        page.click("#export-csv")
    assert download.value.suggested_filename.endswith(".csv")
    lines = open(download.value.path(), encoding="utf-8").read().strip().splitlines()
    assert len(lines) == 7 and lines[0].startswith("code,kind,status")
    screenshot(page, "bags-list-1280")
    assert page.problems == []


def test_unknown_code_offers_the_nearest_ones(live_server, page_for, staff):
    fill_parent(staff, "SB00001", ["0016586", "0016599"])
    page = page_for(360, 740)
    log_in_page(page, live_server, staff.username, PASSWORD)

    response = page.goto(live_server + "/bags/0016587")

    assert response.status == 404
    assert page.locator("#suggestions a").all_inner_texts()[0] == "0016586"
    assert fits(page, 360)
    screenshot(page, "bags-not-found-360")
    # Chromium logs the document's own 404 status as a console error: that one is expected.
    assert [p for p in page.problems if "status of 404" not in p] == []
    page.problems.clear()
    page.click("#suggestions >> text=0016586")
    page.wait_for_url("**/bags/0016586")
    assert "SB00001" in page.inner_text("#bag-parent")
    assert page.problems == []
