"""A Hindi station (issue 23): a worker whose setting is Hindi scans a parent and 30
children, a conflict and an undo with a wedge scanner. The messages are Hindi (no English
word left), and the tones and flashes are those of the English station, scan for scan.
Also the must-show screenshots: station, dashboard and a bag page in Hindi at 390 px."""

from __future__ import annotations

import re

from tests.browser.support import log_in_page, screenshot
from tests.helpers import PASSWORD

WATCH_TONES = """() => {
  window.__tones = [];
  const station = document.getElementById("station");
  const overlay = document.getElementById("flash-overlay");
  new MutationObserver(() => window.__tones.push(station.dataset.lastTone + "|" + overlay.className))
    .observe(station, { attributes: true, attributeFilter: ["data-last-tone"] });
}"""
ENGLISH_WORD = re.compile(r"\b[A-Za-z]{2,}\b")


def english_left(text: str) -> list[str]:
    """ASCII words in `text` other than codes (letters with digits) and TraceTrack."""
    words = []
    for token in re.findall(r"[A-Za-z0-9_:-]+", text):
        if not any(ch.isdigit() for ch in token) and token != "TraceTrack":
            words += ENGLISH_WORD.findall(token)
    return words


def a_shift(page, parent: str, other: str, prefix: str) -> dict:
    """Parent, 30 children (complete), a new parent, a child of the first (conflict), two
    new children, Undo last. Answers the tones heard and the messages read."""
    page.evaluate(WATCH_TONES)
    messages = []
    page.keyboard.type(parent + "\n")
    page.wait_for_selector(f"#parent-code:text-is('{parent}')")
    messages.append(page.inner_text("#message"))
    for number in range(1, 31):
        page.keyboard.type(f"{prefix}{number:05d}\n")
    page.wait_for_selector("#count:text-is('30')", timeout=20_000)
    page.wait_for_selector("#message.msg-complete")
    messages.append(page.inner_text("#message"))
    messages.append(page.inner_text("#parent-status"))

    page.keyboard.type(other + "\n")
    page.wait_for_selector(f"#parent-code:text-is('{other}')")
    page.keyboard.type(f"{prefix}00007\n")  # already in the first parent
    page.wait_for_selector("#message.msg-error")
    messages.append(page.inner_text("#message"))
    page.keyboard.type(f"{prefix}00031\n")
    page.keyboard.type(f"{prefix}00032\n")
    page.wait_for_selector("#count:text-is('2')")
    page.click("#undo-button")
    page.wait_for_selector("#count:text-is('1')")
    messages.append(page.inner_text("#message"))
    messages.append(page.inner_text("#step-label"))
    page.wait_for_timeout(500)  # the last flash fades
    return {"tones": page.evaluate("window.__tones"), "messages": messages,
            "results": page.inner_text("#results-list")}


def test_a_hindi_station_speaks_hindi_with_the_same_tones(live_server, page_for, make_user):
    english = make_user("ravi", "staff")
    hindi = make_user("rekha", "staff", language="hi")

    page = page_for(390, 844)
    log_in_page(page, live_server, english.username, PASSWORD)
    page.goto(live_server + "/scan")
    heard_in_english = a_shift(page, "SB00040", "SB00041", "44")

    page = page_for(390, 844)
    log_in_page(page, live_server, hindi.username, PASSWORD)
    page.goto(live_server + "/scan")
    assert page.get_attribute("html", "lang") == "hi"
    heard_in_hindi = a_shift(page, "SB00050", "SB00051", "45")
    screenshot(page, "hi-station-shift-390")

    # The same tones and flashes, scan for scan.
    assert [tone.split("|")[0] for tone in heard_in_hindi["tones"]] == \
        [tone.split("|")[0] for tone in heard_in_english["tones"]]
    assert heard_in_hindi["tones"] == [tone.replace("44", "45") for tone in heard_in_english["tones"]]
    assert "complete" in [tone.split("|")[0] for tone in heard_in_hindi["tones"]]
    assert "error" in [tone.split("|")[0] for tone in heard_in_hindi["tones"]]

    # Every message in Hindi: Devanagari, no English word; the conflict names the parent.
    for message in heard_in_hindi["messages"]:
        assert re.search(r"[\u0900-\u097F]", message), message
        assert english_left(message) == [], message
    assert "SB00050" in heard_in_hindi["messages"][3]   # the conflict names the other parent
    assert english_left(heard_in_hindi["results"]) == []
    assert "is already in SB00040" in heard_in_english["messages"][3]
    assert page.problems == []


def test_hindi_pages_at_390_px(live_server, page_for, make_user):
    """The must-show screenshots (test-artifacts/hi-*.png): Devanagari rendered, nothing
    wider than the phone."""
    boss = make_user("mukesh", "supervisor", language="hi", timezone="Asia/Kolkata")
    page = page_for(390, 844)
    log_in_page(page, live_server, boss.username, PASSWORD)
    page.goto(live_server + "/scan")
    page.keyboard.type("SB00060\n")
    page.wait_for_selector("#parent-code:text-is('SB00060')")
    for number in range(1, 4):
        page.keyboard.type(f"46{number:05d}\n")
    page.wait_for_selector("#count:text-is('3')")
    screenshot(page, "hi-station-390")
    for path, name in (("/dashboard", "hi-dashboard-390"), ("/bags/SB00060", "hi-bag-390"),
                       ("/bags", "hi-bags-390")):
        page.goto(live_server + path)
        page.wait_for_load_state("networkidle")
        assert page.get_attribute("html", "lang") == "hi"
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
        screenshot(page, name)
    assert page.problems == []
