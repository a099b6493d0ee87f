"""The /labels page in Chromium (issue 22): a supervisor reserves codes with the form, sees
the series, and downloads its sheet for a partly used 4 x 10 sheet with the page's own
controls; at phone and desktop widths nothing scrolls sideways. Screenshots go to
test-artifacts/labels-*.png."""

from __future__ import annotations

from tests.browser.support import log_in_page, screenshot
from tests.helpers import PASSWORD


def test_a_supervisor_reserves_a_series_and_downloads_its_sheet(live_server, page_for, supervisor):
    for width, height in ((390, 844), (1366, 900)):
        page = page_for(width, height)
        log_in_page(page, live_server, supervisor.username, PASSWORD)
        page.click("a.nav-link[href='/labels']") if width > 768 else page.goto(live_server + "/labels")
        page.wait_for_selector("#series-form")
        page.fill("#prefix", "sb")
        page.fill("#count", "12")
        page.click("#series-form [type=submit]")
        page.wait_for_selector(".alert-success")
        first = 1 if width == 390 else 13
        expected = f"Reserved 12 codes: SB{first:05d} to SB{first + 11:05d}."
        assert expected in page.inner_text(".alert-success")
        row = page.locator("#series-table tbody tr").first
        assert f"SB{first:05d}" in row.inner_text() and f"SB{first + 11:05d}" in row.inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        screenshot(page, f"labels-{width}")

        row.locator("select[name=layout]").select_option("a4-4x10")
        row.locator("input[name=skip]").fill("2")
        with page.expect_response(lambda response: ".pdf" in response.url) as answer:
            row.locator(".sheet-form [type=submit]").click()
        response = answer.value
        assert response.status == 200
        assert response.headers["content-type"] == "application/pdf"
        assert response.url.endswith("layout=a4-4x10&skip=2")
        assert page.problems == [], page.problems
