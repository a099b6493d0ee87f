"""The station used as a warehouse worker uses it: a keyboard-wedge scanner types each code
and presses Enter, as fast as it reads labels."""

from sqlalchemy import func, select

from app.extensions import db
from app.models import Bag
from tests.browser.support import log_in_page, screenshot
from tests.helpers import PASSWORD


def scan(page, code: str, suffix: str = "\n") -> None:
    page.keyboard.type(code + suffix)


def test_parent_and_thirty_children_complete_by_themselves(live_server, page_for, staff):
    page = page_for(1280, 800)
    log_in_page(page, live_server, staff.username, PASSWORD)
    page.goto(live_server + "/scan")
    assert page.evaluate("document.activeElement.id") == "scan-input"

    scan(page, "sb00001")  # lower case, as a scanner in the wrong mode sends it
    page.wait_for_selector("#parent-code:text-is('SB00001')")
    for number in range(1, 31):
        # Scanners end with CR, LF or CR LF; all of them mean Enter.
        scan(page, f"00{number:05d}", "\r" if number % 2 else "\n")
    page.wait_for_selector("#count:text-is('30')", timeout=20_000)
    page.wait_for_selector("#parent-status:text-is('complete')")
    assert "complete" in page.inner_text("#message")
    assert page.evaluate("document.activeElement.id") == "scan-input"
    children = page.locator("#children-list li").all_inner_texts()
    assert children[0] == "0000030" and children[-1] == "0000001" and len(children) == 30
    screenshot(page, "station-complete-1280")

    parent = db.session.scalar(select(Bag).where(Bag.code == "SB00001"))
    db.session.refresh(parent)
    assert (parent.status, parent.child_count) == ("complete", 30)
    assert db.session.scalar(select(func.count()).where(Bag.parent_id == parent.id)) == 30
    assert page.problems == []


def test_conflict_names_the_other_parent_and_keeps_focus(live_server, page_for, staff):
    page = page_for(360, 740)
    log_in_page(page, live_server, staff.username, PASSWORD)
    page.goto(live_server + "/scan")
    scan(page, "SB00002")
    page.wait_for_selector("#parent-code:text-is('SB00002')")
    scan(page, "0016586")
    page.wait_for_selector("#count:text-is('1')")

    scan(page, "SB00003")  # scanning a parent while filling one switches to it
    page.wait_for_selector("#parent-code:text-is('SB00003')")
    scan(page, "0016586")
    page.wait_for_selector("#message.msg-error")
    message = page.inner_text("#message")
    assert "0016586 is already in SB00002" in message and "supervisor" in message
    assert page.inner_text("#count") == "0"

    page.click("h1, .counter")  # a click elsewhere must not steal the scanner's input
    page.wait_for_timeout(200)
    assert page.evaluate("document.activeElement.id") == "scan-input"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, "station-conflict-360")
    assert page.problems == []


def test_finish_short_asks_first_and_undo_takes_the_last_bag_out(live_server, page_for, staff):
    page = page_for()
    log_in_page(page, live_server, staff.username, PASSWORD)
    page.goto(live_server + "/scan")
    scan(page, "SB00004")
    page.wait_for_selector("#parent-code:text-is('SB00004')")
    for code in ("1110001", "1110002", "1110003"):
        scan(page, code)
    page.wait_for_selector("#count:text-is('3')")

    page.click("#undo-button")
    page.wait_for_selector("#count:text-is('2')")
    assert page.locator("#children-list li").all_inner_texts() == ["1110002", "1110001"]

    page.click("#finish-button")
    page.wait_for_selector("#confirm-finish:not(.d-none)")
    assert "2 of 30" in page.inner_text("#confirm-finish-text")
    page.click("#confirm-finish-yes")
    page.wait_for_selector("#parent-status:text-is('complete')")
    parent = db.session.scalar(select(Bag).where(Bag.code == "SB00004"))
    db.session.refresh(parent)
    assert (parent.status, parent.child_count) == ("complete", 2)
    assert page.problems == []


def test_station_works_without_javascript(live_server, browser, staff):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    log_in_page(page, live_server, staff.username, PASSWORD)
    page.goto(live_server + "/scan")
    page.fill("#scan-input", "SB00005")
    page.press("#scan-input", "Enter")
    page.wait_for_selector("#parent-code:text-is('SB00005')")
    page.fill("#scan-input", "2220001")
    page.press("#scan-input", "Enter")
    page.wait_for_selector("#count:text-is('1')")
    assert "2220001 added to SB00005" in page.inner_text("main")
    context.close()


def test_a_scan_while_finish_short_is_asked_keeps_filling_and_keeps_the_code(live_server, page_for, staff):
    """One stray tap on Finish, then normal scanning: the scanner's code + Enter must go to
    the scan input, cancel the question and be stored; the parent stays open."""
    page = page_for(390, 800)
    log_in_page(page, live_server, staff.username, PASSWORD)
    page.goto(live_server + "/scan")
    scan(page, "SB00006")
    page.wait_for_selector("#parent-code:text-is('SB00006')")
    for code in ("1120001", "1120002"):
        scan(page, code)
    page.wait_for_selector("#count:text-is('2')")

    page.click("#finish-button")
    page.wait_for_selector("#confirm-finish:not(.d-none)")
    assert page.evaluate("document.activeElement.id") == "scan-input"

    scan(page, "1120003")  # the scanner reads the next label as usual
    page.wait_for_selector("#count:text-is('3')")
    assert page.is_hidden("#confirm-finish")
    assert page.inner_text("#parent-status") == "open"
    assert page.evaluate("document.activeElement.id") == "scan-input"

    # An Enter alone (a scanner's empty read) does not answer the question either.
    page.click("#finish-button")
    page.wait_for_selector("#confirm-finish:not(.d-none)")
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)
    db.session.rollback()
    parent = db.session.scalar(select(Bag).where(Bag.code == "SB00006"))
    assert (parent.status, parent.child_count) == ("open", 3)
    assert db.session.scalar(select(Bag).where(Bag.code == "1120003")).parent_id == parent.id
    db.session.commit()
    screenshot(page, "station-finish-short-asked-390")
    assert page.problems == []


def test_a_complete_parent_scanned_while_filling_keeps_the_open_one(live_server, page_for, staff):
    from app.scanning import services as scanning
    from app.scanning.transaction import run_scan
    from tests.helpers import fill_parent

    fill_parent(staff, "SB00008", ["1130001"])
    run_scan(scanning.complete_parent, staff, "SB00008", force=True)
    page = page_for(390, 800)
    log_in_page(page, live_server, staff.username, PASSWORD)
    page.goto(live_server + "/scan")
    scan(page, "SB00007")
    page.wait_for_selector("#parent-code:text-is('SB00007')")
    scan(page, "1140001")
    page.wait_for_selector("#count:text-is('1')")

    scan(page, "SB00008")  # complete: the station stays on SB00007 and says so
    page.wait_for_selector("#message:text('SB00008 is already complete')")
    assert page.inner_text("#parent-code") == "SB00007"
    assert "Still filling SB00007 (1 / 30)" in page.inner_text("#message")

    scan(page, "SB00009")  # a new parent: allowed, and the part-filled one is named
    page.wait_for_selector("#parent-code:text-is('SB00009')")
    assert "SB00007 is left open at 1 / 30" in page.inner_text("#message")
    assert page.problems == []


def test_a_phone_typing_devanagari_digits_opens_the_same_parent(live_server, page_for, staff):
    """Issue 27: the station normalises like the server, every script's digits to ASCII, so
    SB१२३४५ is SB12345 (a parent, not a child scan of an unknown code)."""
    page = page_for(390, 844)
    log_in_page(page, live_server, staff.username, PASSWORD)
    page.goto(live_server + "/scan")
    scan(page, "SB12345")
    page.wait_for_selector("#parent-code:text-is('SB12345')")
    scan(page, "००१६५८६")
    page.wait_for_selector("#count:text-is('1')")
    scan(page, "SB००००१")  # another parent typed in Devanagari: the station switches
    page.wait_for_selector("#parent-code:text-is('SB00001')")
    scan(page, "SB१२३४५")
    page.wait_for_selector("#parent-code:text-is('SB12345')")
    assert page.inner_text("#count") == "1"
    codes = db.session.scalars(select(Bag.code).order_by(Bag.code)).all()
    db.session.rollback()
    assert codes == ["0016586", "SB00001", "SB12345"]
    assert page.problems == []


def test_a_scan_whose_id_was_used_before_goes_to_not_saved(live_server, page_for, staff):
    """Issue 26: a client whose scan ids repeat (here every scan is sent with the same id) is
    told 409 scan_id_reused for the second code; the station lists it under "Not saved",
    never drops it, and the bag is stored nowhere until it is scanned again."""
    import json

    page = page_for(390, 844)
    log_in_page(page, live_server, staff.username, PASSWORD)

    def same_id(route):
        body = json.loads(route.request.post_data)
        body["scan_id"] = "handheld-1"
        route.continue_(post_data=json.dumps(body))

    page.goto(live_server + "/scan")
    scan(page, "SB00001")
    page.wait_for_selector("#parent-code:text-is('SB00001')")
    page.route("**/api/v1/scans/child", same_id)
    scan(page, "0016586")
    page.wait_for_selector("#count:text-is('1')")
    scan(page, "0016587")
    page.wait_for_selector("#refused-list li")
    listed = page.inner_text("#refused-list")
    assert "0016587" in listed and "not saved" in listed.lower()
    assert page.inner_text("#count") == "1"
    assert db.session.scalar(select(Bag).where(Bag.code == "0016587")) is None
    db.session.rollback()
    screenshot(page, "station-scan-id-reused-390")
