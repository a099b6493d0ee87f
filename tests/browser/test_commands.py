"""Command barcodes (issue 18, item 4): the station run with the scanner alone. The first
tests need no browser; the last drives Chromium with keyboard input only, as a scanner."""

import pytest
from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import Bag, ScanEvent
from app.rules.codes import matches, normalise_code
from app.scanning.commands import COMMANDS
from tests.browser.support import log_in_page, screenshot
from tests.helpers import PASSWORD, fill_parent


def _parent(code):
    db.session.rollback()
    parent = db.session.scalar(select(Bag).where(Bag.code == code))
    db.session.commit()
    return parent


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: command.action)
def test_a_command_code_is_never_a_bag_code(app, command):
    assert normalise_code(command.code) == command.code
    for read in (command.code.lower(), command.code + "\r\n", "\u200b" + command.code + "\t"):
        assert normalise_code(read) == command.code  # a scanner's artefacts leave it a command
    for pattern in ("PARENT_CODE_PATTERN", "CHILD_CODE_PATTERN"):
        assert not matches(current_app.config[pattern], command.code)
    assert len({c.code for c in COMMANDS}) == len(COMMANDS)


def test_the_printable_sheet_has_a_qr_code_and_the_word_for_each_command(client, login_as, staff):
    assert client.get("/scan/commands").status_code == 302  # log in first
    login_as(staff)
    page = client.get("/scan/commands")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert html.count('src="data:image/svg+xml') == len(COMMANDS)
    for command in COMMANDS:
        assert command.word in html and f'data-code="{command.code}"' in html
    assert "/scan/commands" in client.get("/scan").get_data(as_text=True)  # the station's help


def test_command_codes_work_without_javascript(client, login_as, staff):
    login_as(staff)
    fill_parent(staff, "SB00030", ["3330001", "3330002"])
    # Confirm with no question asked finishes nothing.
    client.post("/scan", data={"parent": "SB00030", "code": "tt:confirm"})
    assert _parent("SB00030").status == "open"
    answer = client.post("/scan", data={"parent": "SB00030", "code": "TT:FINISH"})
    assert "confirm_finish=1" in answer.headers["Location"]
    assert _parent("SB00030").status == "open"
    client.post("/scan", data={"parent": "SB00030", "code": "TT:CONFIRM", "confirming": "1"})
    parent = _parent("SB00030")
    assert (parent.status, parent.child_count) == ("complete", 2)
    assert client.post("/scan", data={"parent": "SB00030", "code": "TT:NEW"}).headers["Location"].endswith("/scan")


def test_fill_undo_and_finish_short_with_command_barcodes_only(live_server, page_for, staff):
    page = page_for(390, 800)
    log_in_page(page, live_server, staff.username, PASSWORD)
    page.goto(live_server + "/scan")

    def read(code):  # what a scanner does: type the code, then Enter
        page.keyboard.type(code + "\n")

    read("SB00031")
    page.wait_for_selector("#parent-code:text-is('SB00031')")
    for code in ("3310001", "3310002", "3310003"):
        read(code)
    page.wait_for_selector("#count:text-is('3')")

    read("TT:UNDO")
    page.wait_for_selector("#count:text-is('2')")
    assert page.locator("#children-list li").all_inner_texts() == ["3310002", "3310001"]

    read("TT:FINISH")
    page.wait_for_selector("#confirm-finish:not(.d-none)")
    read("tt:cancel")  # a scanner in lower-case mode
    page.wait_for_selector("#confirm-finish", state="hidden")
    assert _parent("SB00031").status == "open"

    read("TT:CONFIRM")  # nothing asked: nothing confirmed
    page.wait_for_selector("#message:text('Nothing to confirm')")
    assert _parent("SB00031").status == "open"

    read("TT:FINISH")
    page.wait_for_selector("#confirm-finish:not(.d-none)")
    screenshot(page, "station-command-finish-asked-390")
    read("TT:CONFIRM")
    page.wait_for_selector("#parent-status:text-is('complete')")
    parent = _parent("SB00031")
    assert (parent.status, parent.child_count) == ("complete", 2)

    read("TT:NEW")
    page.wait_for_selector("#parent-code:text-is('No parent')")
    # No command code was ever sent to the server as a bag.
    db.session.rollback()
    assert db.session.scalar(select(Bag).where(Bag.code.like("TT:%"))) is None
    assert db.session.scalar(select(ScanEvent).where(ScanEvent.code.like("TT:%"))) is None
    assert page.evaluate("document.activeElement.id") == "scan-input"
    assert page.problems == []
