"""A scanner's shift end to end in Chromium: login, a parent filled to 30 / 30 with the
completion sound and colour, a conflict, Undo last; the input never loses focus."""

from tests.browser.support import log_in_page, screenshot
from tests.helpers import PASSWORD


def focused(page) -> str:
    return page.evaluate("document.activeElement.id")


def test_a_shift_from_login_to_a_completed_parent(live_server, page_for, staff):
    page = page_for(1280, 800)
    page.goto(live_server + "/login")
    screenshot(page, "login-1280")
    log_in_page(page, live_server, staff.username, PASSWORD)
    assert page.url.endswith("/scan")
    assert focused(page) == "scan-input"

    page.keyboard.type("SB00020\n")
    page.wait_for_selector("#parent-code:text-is('SB00020')")
    for number in range(1, 30):
        page.keyboard.type(f"55{number:05d}\n")
        assert focused(page) == "scan-input"
    page.wait_for_selector("#count:text-is('29')", timeout=20_000)
    assert page.get_attribute("#station", "data-last-tone") == "ok"
    screenshot(page, "station-scanning-1280")

    page.keyboard.type("5500030\n")
    page.wait_for_selector("#parent-status:text-is('complete')", timeout=10_000)
    assert page.inner_text("#count") == "30" and page.inner_text("#capacity") == "30"
    assert page.get_attribute("#station", "data-last-tone") == "complete"  # its own sound
    assert "msg-complete" in page.get_attribute("#message", "class")        # and colour
    assert focused(page) == "scan-input"

    # The next parent; a bag that is already in SB00020 names it and blocks nothing.
    page.keyboard.type("SB00021\n")
    page.wait_for_selector("#parent-code:text-is('SB00021')")
    page.keyboard.type("5500007\n")
    page.wait_for_selector("#message.msg-error")
    assert "5500007 is already in SB00020" in page.inner_text("#message")
    assert page.get_attribute("#station", "data-last-tone") == "error"
    assert focused(page) == "scan-input"
    page.keyboard.type("5600001\n")  # the next scan goes straight through
    page.keyboard.type("5600002\n")
    page.wait_for_selector("#count:text-is('2')")

    page.click("#undo-button")
    page.wait_for_selector("#count:text-is('1')")
    assert page.locator("#children-list li").all_inner_texts() == ["5600001"]
    page.wait_for_timeout(300)
    assert focused(page) == "scan-input"
    assert page.problems == []
