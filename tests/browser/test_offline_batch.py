"""Issue 19 item 4: the station's offline replay sends its queue through POST
/api/v1/scans/batch (static/js/station/replay.js), with the same outcomes as one by one: the
waiting scans in one batch, in order; one refused on the way is listed under "Not saved"
while the others are saved."""

import json

from tests.browser.support import log_in_page, screenshot
from tests.browser.test_offline import links_in, start_parent
from tests.helpers import PASSWORD


def _batches(page):
    sent = []
    page.on("request", lambda request: sent.append(json.loads(request.post_data))
            if request.url.endswith("/api/v1/scans/batch") else None)
    return sent


def test_the_waiting_scans_go_in_one_batch_in_order(live_server, page_for, staff):
    page = page_for()
    log_in_page(page, live_server, staff.username, PASSWORD)
    start_parent(page, live_server, "SB00030")
    sent = _batches(page)
    page.context.set_offline(True)
    codes = [f"76{n:05d}" for n in range(1, 8)]
    for code in codes:
        page.keyboard.type(code + "\n")
    page.wait_for_selector("#waiting:text('7 waiting')", timeout=10_000)

    page.context.set_offline(False)
    page.wait_for_selector("#waiting", state="hidden", timeout=30_000)

    assert links_in("SB00030") == 7
    assert [[item["code"] for item in body["items"]] for body in sent] == [codes]
    assert all(item["scan_id"] and item["scanned_at"] for item in sent[0]["items"])
    page.wait_for_selector("#message:text('7 waiting scans were sent')", timeout=5_000)
    assert page.inner_text("#count") == "7"
    assert page.problems == []


def test_one_refused_in_the_batch_is_listed_and_the_others_are_saved(live_server, page_for,
                                                                     staff, supervisor):
    page = page_for(390, 844)
    log_in_page(page, live_server, staff.username, PASSWORD)
    start_parent(page, live_server, "SB00031")
    sent = _batches(page)
    page.context.set_offline(True)
    for code in ("7500001", "7500002", "7500003"):
        page.keyboard.type(code + "\n")
    page.wait_for_selector("#waiting:text('3 waiting')")

    other = page.context.browser.new_context()
    other_page = other.new_page()
    log_in_page(other_page, live_server, supervisor.username, PASSWORD)
    token = other_page.get_attribute('meta[name="csrf-token"]', "content")
    for path, body in (("/api/v1/scans/parent", {"code": "SB00032"}),
                       ("/api/v1/scans/child", {"parent": "SB00032", "code": "7500002"})):
        assert other.request.post(live_server + path, headers={"X-CSRFToken": token}, data=body).ok
    other.close()

    page.context.set_offline(False)
    page.wait_for_selector("#refused-card:not(.d-none)", timeout=30_000)
    page.wait_for_selector("#waiting", state="hidden", timeout=30_000)

    assert len(sent) == 1 and len(sent[0]["items"]) == 3
    listed = page.inner_text("#refused-list")
    assert "7500002" in listed and "SB00032" in listed
    assert "7500001" not in listed and "7500003" not in listed
    assert links_in("SB00031") == 2
    assert page.inner_text("#count") == "2"
    assert "7500002" not in page.inner_text("#children-list")  # it is not in this parent
    screenshot(page, "station-batch-one-refused-390")
