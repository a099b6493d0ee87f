"""Browser tests: Debian's Chromium (never a browser downloaded by the test tool), driven by
Playwright, against the app served by a real HTTP server thread. Screenshots go to
test-artifacts/ (tests/browser/support.py). Without Chromium these tests skip with the
reason, unless REQUIRE_BROWSER=1 (CI), which turns that into a failure."""

from __future__ import annotations

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM:
        message = "needs Chromium: apt-get install chromium (or set CHROMIUM_PATH)"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(reason=message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def live_server(app):
    """The test app on a real socket, threaded like the production server."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def page_for(browser):
    """A fresh browser context and page; console errors and CSP violations are collected
    in page.problems and the test asserts there are none."""
    contexts = []

    def factory(width: int = 1280, height: int = 800):
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.problems = []
        page.on("console", lambda msg: _collect(page, msg))
        page.on("pageerror", lambda exc: page.problems.append(str(exc)))
        return page

    yield factory
    for context in contexts:
        context.close()


def _collect(page, message) -> None:
    """JavaScript errors and CSP violations are problems; an API refusal (409, 422...) that
    Chromium also logs as "Failed to load resource" is an answer the page handles."""
    if message.type != "error":
        return
    if message.text.startswith("Failed to load resource") and "/api/" in message.location.get("url", ""):
        return
    page.problems.append(message.text)
