"""Two-factor login in a real browser (issue 17): an admin without a second factor logs in,
scans the QR code (here: reads the key under it), types the app's code, sees the recovery
codes once, and lands on the dashboard; the next login asks for the code. The pages at
390 and 1366 px, with no console errors or CSP violations (the QR code is a data: image)."""

from __future__ import annotations

import time

import pyotp
import pytest

from tests.browser.support import screenshot
from tests.helpers import PASSWORD


@pytest.mark.parametrize("width", [390, 1366])
def test_an_admin_enrols_then_logs_in_with_the_code(app, live_server, page_for, admin, width):
    app.config["REQUIRE_2FA_ROLES"] = ("admin",)
    page = page_for(width, 844 if width == 390 else 900)
    page.goto(live_server + "/login")
    page.fill("#username", admin.username)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_url("**/login/two-factor/setup")
    qr = page.locator("[data-testid=two-factor-qr]")
    assert qr.is_visible()
    box = qr.bounding_box()
    assert box["width"] >= 150 and box["x"] + box["width"] <= width  # whole and scannable
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, f"two-factor-setup-{width}")
    secret = page.inner_text("[data-testid=two-factor-secret]").replace(" ", "")
    totp = pyotp.TOTP(secret)
    page.fill("#code", totp.now())
    page.click("#submit")
    page.wait_for_selector("[data-testid=recovery-codes]")
    assert len(page.locator("[data-testid=recovery-codes] li").all()) == 10
    screenshot(page, f"two-factor-recovery-codes-{width}")
    page.click("text=I have written them down")
    page.wait_for_url("**/dashboard")

    again = page_for(width, 844 if width == 390 else 900)
    again.goto(live_server + "/login")
    again.fill("#username", admin.username)
    again.fill("#password", PASSWORD)
    again.click("#submit")
    again.wait_for_url("**/login/two-factor")
    screenshot(again, f"two-factor-code-{width}")
    again.fill("#code", totp.at(time.time() + 30))
    again.click("#submit")
    again.wait_for_url("**/dashboard")
    assert page.problems == [] and again.problems == []
