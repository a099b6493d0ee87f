"""/api/docs in a real browser (issue 19): the vendored Swagger UI renders the generated
document at 390 and 1366 px with no console error or CSP violation, and "Try it out" on a
logged-in page sends the scan with the page's CSRF token (the viewer's request interceptor,
static/js/api-docs.js)."""

import pytest

from tests.browser.support import log_in_page, screenshot
from tests.helpers import PASSWORD


@pytest.mark.parametrize("width", [390, 1366])
def test_the_reference_renders_every_operation(live_server, page_for, width):
    page = page_for(width, 900)

    page.goto(live_server + "/api/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=15000)

    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/v1/scans/child" in path for path in paths)
    assert any("/api/v1/openapi.json" in path for path in paths)
    screenshot(page, f"api-docs-{width}")
    assert page.problems == []


def test_try_it_out_scans_with_the_session_and_its_csrf_token(make_app, make_user,
                                                              browser):
    """CSRF stays on here (it is off in most tests): the interceptor must send it."""
    import threading

    from werkzeug.serving import make_server

    application = make_app(WTF_CSRF_ENABLED=True)
    with application.app_context():
        make_user("asha", "staff")
    server = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    try:
        page = context.new_page()
        log_in_page(page, base, "asha", PASSWORD)
        page.goto(base + "/api/docs#/scans/scan_parent")
        block = page.locator("#operations-scans-scan_parent")
        block.wait_for(timeout=15000)
        if "is-open" not in (block.get_attribute("class") or ""):
            block.locator(".opblock-summary").click()
        block.locator("button.try-out__btn").click()
        block.locator("textarea.body-param__text").fill('{"code": "SB00042"}')
        with page.expect_response("**/api/v1/scans/parent") as answer:
            block.locator("button.execute").click()
        assert answer.value.status == 201, answer.value.text()
        assert answer.value.json()["result"] == "parent_created"
    finally:
        context.close()
        server.shutdown()
        thread.join(timeout=5)
