"""A Hindi loading station in Chromium (issue 23 for the dispatch pages): a supervisor whose
setting is Hindi loads parents with the scanner alone, scans one twice, one that does not
exist, takes one back off with Undo last and dispatches short with a reason. Every message
the script writes (its own words and the API's refusals) is Hindi, and no English word is
left on the page; the status badge the script updates says रवाना."""

from __future__ import annotations

from app.extensions import db
from tests.browser.support import log_in_page, screenshot
from tests.browser.test_station_hindi import english_left
from tests.dispatch.support import complete_parent, new_dispatch
from tests.helpers import PASSWORD

# The username, the language switch's "English", and the documents' formats.
NAMES = {"mukesh", "English", "CSV", "Excel", "PDF"}


def test_a_hindi_supervisor_loads_and_dispatches_with_the_scanner_alone(
        live_server, page_for, make_user):
    boss = make_user("mukesh", "supervisor", language="hi")
    for code in ("SB00001", "SB00002", "SB00003"):
        complete_parent(boss, code, children=3)
    new_dispatch(boss, "D000001", expected=5, destination="नागपुर")
    db.session.commit()

    page = page_for(390, 900)
    log_in_page(page, live_server, boss.username, PASSWORD)
    page.goto(live_server + "/dispatches/D000001")
    assert page.get_attribute("html", "lang") == "hi"

    def read(code):  # a wedge scanner: the code, then Enter
        page.keyboard.type(code + "\n")

    messages = []
    read("SB00001")
    page.wait_for_selector("#loaded:text-is('1')")
    messages.append(page.inner_text("#message"))
    read("SB00001")
    page.wait_for_selector("#message.msg-warn")
    messages.append(page.inner_text("#message"))
    read("SB00099")
    page.wait_for_selector("#message.msg-error")
    messages.append(page.inner_text("#message"))
    read("SB00002")
    read("SB00003")
    page.wait_for_selector("#loaded:text-is('3')")
    read("TT:UNDO")
    page.wait_for_selector("#loaded:text-is('2')")
    messages.append(page.inner_text("#message"))
    read("TT:FINISH")
    page.wait_for_selector("#message:text('बताएँ कि कम माल क्यों जा रहा है')")
    messages.append(page.inner_text("#message"))
    results = page.inner_text("#results-list")

    assert messages[:4] == [
        "SB00001 लोड हुई (3 थैलियाँ)।",
        "SB00001 पहले से D000001 पर है।",
        "SB00099 नाम की कोई बड़ी बोरी नहीं। लेबल जाँचें।",
        "SB00003 को D000001 से उतारा गया।",
    ]
    assert messages[4].startswith("डिस्पैच D000001 पर 5 में से 2 बड़ी बोरियाँ हैं।")
    assert english_left(results) == []
    assert set(english_left(page.inner_text("body"))) <= NAMES

    page.keyboard.type("दो बोरियाँ अभी सूख रही हैं\n")
    page.wait_for_selector("#dispatch-status:text-is('रवाना')")
    page.wait_for_selector("#returns-box")  # the page reloaded as dispatched
    assert "कम माल के साथ गया: दो बोरियाँ अभी सूख रही हैं" in page.inner_text("#message")
    assert set(english_left(page.inner_text("body"))) <= NAMES
    screenshot(page, "hi-dispatch-390")
    assert page.problems == []
