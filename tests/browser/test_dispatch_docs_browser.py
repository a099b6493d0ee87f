"""In Debian's Chromium: the dashboard's dispatch card, kept fresh by the page's refresh, and
the manifest downloaded from it and read back (QR decoded from the rasterised page)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import pytest

from app.dashboard import routes as dashboard_routes
from tests.browser.support import log_in_page, screenshot
from tests.dispatch.support import complete_parent, load, new_dispatch
from tests.dispatch_docs.support import dispatched
from tests.dispatch_docs.test_dashboard_card import move
from tests.dispatch_docs.test_manifest import decoded_qr
from tests.helpers import PASSWORD


@pytest.fixture
def app(make_app):
    application = make_app(APP_TIMEZONE="Asia/Kolkata", STALE_DISPATCH_HOURS=2)
    with application.app_context():
        yield application


@pytest.mark.skipif(not (shutil.which("pdftoppm") and shutil.which("zbarimg")),
                    reason="pdftoppm (poppler-utils) and zbarimg (zbar-tools) are not "
                           "installed; .ci/run installs them")
def test_the_card_refreshes_and_the_manifest_downloads(live_server, page_for, supervisor,
                                                      monkeypatch, tmp_path):
    monkeypatch.setattr(dashboard_routes, "REFRESH_SECONDS", 1)
    dispatched(supervisor, "D000001", ["SB00001"], children=4)
    page = page_for(1366, 900)
    log_in_page(page, live_server, supervisor.username, PASSWORD)
    page.goto(live_server + "/dashboard")
    assert page.inner_text("#count-dispatch-dispatched") == "1"
    assert page.inner_text("#count-dispatch-bags-out") == "4"

    # A truck that has been loading for three hours appears without a reload.
    complete_parent(supervisor, "SB00002", children=2)
    new_dispatch(supervisor, "BILL/9", expected=4, destination="Pune depot")
    load(supervisor, "BILL/9", "SB00002")
    move("BILL/9", created_at=datetime.now(UTC) - timedelta(hours=3))
    link = page.locator("#stale-dispatches a", has_text="manifest")
    link.wait_for(timeout=10_000)
    assert page.inner_text("#count-dispatch-loading") == "1"
    screenshot(page, "dispatch-card-1366")

    with page.expect_download() as caught:
        link.click()
    download = caught.value
    assert download.suggested_filename == "manifest-BILL-9.pdf"
    pdf = (tmp_path / "download.pdf")
    download.save_as(pdf)
    assert decoded_qr(pdf.read_bytes(), tmp_path) == ["BILL/9"]
    assert page.problems == []

    phone = page_for(390, 844)
    log_in_page(phone, live_server, supervisor.username, PASSWORD)
    phone.goto(live_server + "/dashboard")
    phone.locator("[data-testid=dispatch-card]").scroll_into_view_if_needed()
    screenshot(phone, "dispatch-card-390")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
