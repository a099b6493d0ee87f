"""Refusals in words on every page (issue 18, item 3, the pages' side): a reason stored
before the messages were reworded still carries "(pattern ^...$)"; no page and no dashboard
answer shows it."""

import re

from app.display import plain_reason
from app.extensions import db
from app.models import ScanEvent
from tests.helpers import fill_parent

OLD = r"XYZ is not a parent code. Parent codes look like SB00001 (pattern ^(SB\d{5}|M444-\d{5})$)."
REGEX = re.compile(r"\^\(|\\d|\{\d+\}|\)\$")


def test_plain_reason_keeps_the_words_and_drops_the_pattern():
    assert plain_reason(OLD) == "XYZ is not a parent code. Parent codes look like SB00001."
    assert plain_reason("SB00002 is full (30 / 30).") == "SB00002 is full (30 / 30)."
    assert plain_reason(None) == ""


def test_no_page_shows_a_stored_pattern(client, login_as, supervisor, staff):
    fill_parent(staff, "SB00001", ["0000001"])
    bag_id = db.session.scalar(db.text("SELECT id FROM bags WHERE code = '0000001'"))
    db.session.add(ScanEvent(user_id=staff.id, action="child_scan", outcome="rejected",
                             result="invalid_code", code="0000001", bag_id=bag_id, reason=OLD))
    db.session.commit()
    login_as(supervisor)
    stats = client.get("/api/v1/dashboard/stats").get_json()
    assert stats["exceptions"][0]["reason"] == plain_reason(OLD)
    activity = client.get("/api/v1/dashboard/activity").get_json()["items"]
    assert not any(REGEX.search(item["reason"] or "") for item in activity)
    for path in ("/dashboard", "/bags/0000001"):
        html = client.get(path).get_data(as_text=True)
        assert "Parent codes look like SB00001" in html, path
        assert not REGEX.search(html.split("<main", 1)[1]), path
