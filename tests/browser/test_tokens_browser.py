"""/account/tokens in a real browser (issue 19): a supervisor makes a token (name, scopes,
expiry, password), sees it once, the token scans over HTTP with no cookie, and the revoke
button ends it; the pages at 390 and 1366 px with no console errors or CSP violations."""

import urllib.request
from urllib.error import HTTPError
import json

from tests.browser.support import log_in_page, screenshot
from tests.helpers import PASSWORD


def _api(base, path, token, body=None):
    request = urllib.request.Request(
        base + "/api/v1" + path, method="POST" if body is not None else "GET",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except HTTPError as error:
        return error.code, json.loads(error.read())


def test_make_see_once_use_and_revoke_a_token(live_server, page_for, supervisor):
    page = page_for(1366, 900)
    log_in_page(page, live_server, supervisor.username, PASSWORD)
    page.goto(live_server + "/account")
    page.click("text=API tokens")
    page.wait_for_url("**/account/tokens")
    labels = page.locator("input[name=scopes]").evaluate_all("els => els.map(e => e.value)")
    assert "users:admin" not in labels and "dashboard:read" in labels  # the role's scopes
    page.fill("#name", "Packing line handheld")
    page.check("input[name=scopes][value=scan]")
    page.fill("#expires_in_days", "10")
    page.fill("#current_password", PASSWORD)
    screenshot(page, "tokens-form-1366")
    page.click("#submit")

    page.wait_for_selector("[data-testid=new-token]")
    token = page.inner_text("[data-testid=new-token]").strip()
    assert token.startswith("tt_")
    screenshot(page, "tokens-once-1366")
    status, body = _api(live_server, "/scans/parent", token, {"code": "SB00041"})
    assert (status, body["result"]) == (201, "parent_created")
    status, body = _api(live_server, "/bags", token)
    assert status == 403 and body["error"]["scope"] == "bags:read"

    page.click("text=Done")
    page.wait_for_url("**/account/tokens")
    assert token not in page.content()
    row = page.locator("[data-testid^=token-]", has_text="Packing line handheld")
    assert "expires soon" in row.inner_text()  # 10 days: warned
    assert "Last used: never" not in row.inner_text()
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "tokens-list-390")
    row.locator("button:text('Revoke')").click()
    page.wait_for_selector("text=is revoked")
    assert _api(live_server, "/scans/parent", token, {"code": "SB00042"})[0] == 401
    assert page.problems == []
