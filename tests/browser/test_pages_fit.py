"""Every page as a phone and a desktop show it (issue 18, items 3, 5 and 6): at 360 and
390 px nothing scrolls sideways (tables are stacked cards), a refused scan's reason is
visible on the bag page, no visible text holds a raw ISO 8601 time or a regular expression.
Screenshots of every page at 390 and 1366 px go to test-artifacts/pages-*.png."""

from __future__ import annotations

import io
import re

import pytest

import async_handler
from app.auth.services import create_user
from app.extensions import db
from app.scanning import services as scanning
from app.scanning.services import ScanError
from app.scanning.transaction import run_scan
from tests.browser.support import log_in_page, screenshot
from tests.helpers import PASSWORD, fill_parent

ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
REGEX_SYNTAX = re.compile(r"\^\(|\\d|\\w|\{\d+(,\d*)?\}\)?\$|\[A-Z0-9\]|\(\?:")

# What overflows: the elements wider than the window, named for the failure message.
OVERFLOW = """(width) => Array.from(document.querySelectorAll("body *"))
  .filter((node) => { const box = node.getBoundingClientRect();
                      return box.width > 0 && box.right > width + 1 && getComputedStyle(node).position !== "fixed"; })
  .slice(0, 8).map((node) => node.tagName.toLowerCase() + (node.id ? "#" + node.id : "") +
                   (node.className && typeof node.className === "string" ? "." + node.className.split(" ").join(".") : ""))"""


@pytest.fixture
def every_page(app, staff, supervisor, admin):
    """A little of everything: parents open and complete, a refused scan, a correction, an
    import with its dry run, a parents' check, audit events. Returns the pages to visit."""
    fill_parent(staff, "SB00001", [f"00000{n:02d}" for n in range(1, 5)])
    fill_parent(staff, "SB00002", ["0000101"])
    try:  # a bag already in another parent: refused, with the reason in words
        run_scan(scanning.scan_child, staff, "SB00002", "0000001")
    except ScanError as error:
        scanning.record_rejection(staff, error)
    db.session.commit()
    create_user("dora", "staff", PASSWORD, "Dora Dock-Worker")
    db.session.commit()

    client = app.test_client()
    client.post("/login", data={"username": supervisor.username, "password": PASSWORD})
    rows = ("code,kind,parent_code\r\nSB00003,parent,\r\n0000201,child,SB00003\r\n"
            "0000001,child,SB00003\r\n")
    answer = client.post("/imports", data={"file": (io.BytesIO(rows.encode()), "supplier-lot-44.csv")},
                         content_type="multipart/form-data")
    import_id = int(answer.headers["Location"].rsplit("/", 1)[1])
    db.session.commit()
    while async_handler.JobRunner(app).run_once():
        pass
    client.post(f"/imports/{import_id}/confirm")
    client.post("/jobs/verify-bags")
    client.post("/api/v1/labels/series", json={"prefix": "M444-", "count": 24})
    db.session.commit()
    while async_handler.JobRunner(app).run_once():
        pass
    db.session.expire_all()
    return [
        ("scan", "/scan"), ("scan-filling", "/scan?parent=SB00001"),
        ("commands", "/scan/commands"), ("bags", "/bags"), ("bag-parent", "/bags/SB00001"),
        ("bag-child-refused", "/bags/0000001"), ("bag-not-found", "/bags/find?code=NOPE99"),
        ("dashboard", "/dashboard"), ("imports", "/imports"),
        ("import", f"/imports/{import_id}"), ("jobs", "/jobs"), ("job-import", "/jobs/2"),
        ("job-check", "/jobs/3"), ("users", "/users"), ("user-new", "/users/new"),
        ("user", "/users/dora"), ("account", "/account"), ("audit", "/audit"),
        ("error", "/jobs/999999"), ("labels", "/labels"),
    ]


def check_page(page, name: str, width: int) -> list[str]:
    problems = []
    page.wait_for_timeout(150)
    scroll = page.evaluate("document.documentElement.scrollWidth")
    if scroll > width:
        problems.append(f"{name} at {width}px is {scroll}px wide: {page.evaluate(OVERFLOW, width)}")
    text = page.inner_text("body")
    if ISO_TIME.search(text):
        problems.append(f"{name}: raw time {ISO_TIME.search(text).group(0)!r} shown")
    if REGEX_SYNTAX.search(text):
        problems.append(f"{name}: a pattern is shown: {REGEX_SYNTAX.search(text).group(0)!r}")
    return problems


def test_every_page_fits_a_phone_and_shows_times_and_refusals_in_words(
        live_server, page_for, every_page, admin):
    problems = []
    for width, height in ((360, 740), (390, 844), (1366, 900)):
        page = page_for(width, height)
        page.goto(live_server + "/login")
        problems += check_page(page, "login", width)
        if width != 360:
            screenshot(page, f"pages-login-{width}")
        log_in_page(page, live_server, admin.username, PASSWORD)
        for name, path in every_page:
            page.goto(live_server + path)
            if name in ("bag-not-found", "error"):  # the page's own 404, which is expected
                page.problems[:] = [p for p in page.problems if "status of 404" not in p]
            problems += check_page(page, name, width)
            if width != 360:
                screenshot(page, f"pages-{name}-{width}")
        if width < 576:
            # The refused scan's reason is on screen, not in a sideways scroller.
            page.goto(live_server + "/bags/0000001")
            refused = page.locator("#timeline tbody tr", has_text="rejected").first
            reason = refused.locator(".event-reason")
            assert reason.is_visible() and "already in SB00001" in reason.inner_text()
            box = reason.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= width
        assert page.problems == [], page.problems
    assert problems == []


def test_every_page_in_hindi_fits_a_phone(live_server, page_for, every_page, admin):
    """Hindi words run longer than English ones: the same pages for an admin who reads Hindi
    (issue 23), at phone widths, with the same checks; screenshots pages-hi-*-390.png."""
    admin.language = "hi"
    db.session.commit()
    problems = []
    for width, height in ((360, 740), (390, 844)):
        page = page_for(width, height)
        log_in_page(page, live_server, admin.username, PASSWORD)
        for name, path in every_page:
            page.goto(live_server + path)
            if name in ("bag-not-found", "error"):
                page.problems[:] = [p for p in page.problems if "status of 404" not in p]
            assert page.locator("html").get_attribute("lang") == "hi", f"{name} is not in Hindi"
            problems += check_page(page, name, width)
            if width == 390:
                screenshot(page, f"pages-hi-{name}-{width}")
        assert page.problems == [], page.problems
    assert problems == []
