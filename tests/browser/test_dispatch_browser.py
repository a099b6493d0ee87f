"""The dispatch loading station in Debian's Chromium (issue 20): a dispatch loaded with the
scanner alone (keyboard input only: a code, then Enter), a conflict that names the other
dispatch, an undo by command barcode, and a supervisor dispatching short with a reason."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Dispatch
from tests.browser.support import log_in_page, screenshot
from tests.dispatch.support import complete_parent, load, new_dispatch
from tests.helpers import PASSWORD


def _dispatch(code: str) -> Dispatch:
    db.session.rollback()
    found = db.session.scalar(select(Dispatch).where(Dispatch.code == code))
    db.session.commit()
    return found


def test_loaded_with_the_scanner_alone_then_dispatched_short_with_a_reason(
        live_server, page_for, supervisor):
    for number in range(1, 5):
        complete_parent(supervisor, f"SB0000{number}", children=3)
    new_dispatch(supervisor, "D000001", expected=5)
    new_dispatch(supervisor, "D000002", expected=2)
    load(supervisor, "D000002", "SB00004")
    db.session.commit()

    page = page_for(390, 900)
    log_in_page(page, live_server, supervisor.username, PASSWORD)
    page.goto(live_server + "/dispatches/D000001")
    assert page.evaluate("document.activeElement.id") == "scan-input"

    def read(code):  # what a wedge scanner does: type the code, then Enter
        page.keyboard.type(code + "\n")

    for code in ("SB00001", "sb00002", "SB00003"):
        read(code)
    page.wait_for_selector("#loaded:text-is('3')")
    assert page.inner_text("#totals") == "9 bags, 9 kg of 150 kg"
    assert page.locator("#parents-list tr").count() == 3

    read("SB00003")  # the same parent again
    page.wait_for_selector("#message:text('SB00003 is already on D000001')")
    assert page.get_attribute("#loading", "data-last-tone") == "duplicate"

    read("SB00004")  # on the other truck
    page.wait_for_selector("#message:text('already on dispatch D000002')")
    assert page.get_attribute("#loading", "data-last-tone") == "error"
    screenshot(page, "dispatch-conflict-390")

    read("TT:UNDO")  # takes the last parent loaded here back off
    page.wait_for_selector("#loaded:text-is('2')")
    assert page.locator("#parents-list tr").all_inner_texts()[-1].startswith("SB00002")

    read("TT:FINISH")  # dispatch: 2 of 5, so the page asks why
    page.wait_for_selector("#message:text('Say why it leaves short')")
    assert page.evaluate("document.activeElement.id") == "send-reason"
    assert _dispatch("D000001").status == "loading"

    page.keyboard.type("two parents still drying\n")
    page.wait_for_selector("#dispatch-status:text-is('dispatched')")
    page.wait_for_selector("#returns-box")  # the page reloaded as dispatched
    dispatch = _dispatch("D000001")
    assert (dispatch.status, dispatch.short_reason, dispatch.parents_loaded) == (
        "dispatched", "two parents still drying", 2)
    assert "Left short: two parents still drying" in page.inner_text("#message")
    screenshot(page, "dispatch-dispatched-390")
    assert page.problems == []


def test_the_pages_at_desk_and_phone_width(live_server, page_for, supervisor):
    complete_parent(supervisor, "SB00001", children=3)
    new_dispatch(supervisor, "D000001", expected=40, driver="Ravi", reference="LR-17")
    load(supervisor, "D000001", "SB00001")
    db.session.commit()

    page = page_for(1366, 900)
    log_in_page(page, live_server, supervisor.username, PASSWORD)
    for path, name in (("/dispatches", "dispatch-list-1366"),
                       ("/dispatches/new", "dispatch-new-1366"),
                       ("/dispatches/D000001", "dispatch-station-1366"),
                       ("/bags/SB00001", "dispatch-on-bag-page-1366")):
        page.goto(live_server + path)
        screenshot(page, name)
    phone = page_for(390, 800)
    log_in_page(phone, live_server, supervisor.username, PASSWORD)
    for path, name in (("/dispatches", "dispatch-list-390"), ("/dispatches/new", "dispatch-new-390")):
        phone.goto(live_server + path)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
        screenshot(phone, name)
    assert phone.problems == []
    page.goto(live_server + "/dispatches/D000001")
    assert page.inner_text("#counter").replace("\n", "") == "1 / 40 parents"
    assert page.inner_text("#totals") == "3 bags, 3 kg of 1,200 kg"
    assert page.problems == []
