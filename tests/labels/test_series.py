"""Reserving parent code series (issue 22 item 1, DESIGN 8.3 and 8.7): through the API and
the /labels page, never a code twice, never a code a bag holds, refusals change nothing."""

from sqlalchemy import select

from app.extensions import db
from app.models import LabelCode, LabelSeries
from tests.helpers import assert_unchanged, audit_rows, bag, fill_parent, snapshot
from tests.labels.support import create_series


def test_a_series_answers_201_with_its_codes_and_download_links(client, boss):
    response = client.post("/api/v1/labels/series", json={"prefix": "SB", "count": 3})

    assert response.status_code == 201
    body = response.get_json()
    assert body["codes"] == ["SB00001", "SB00002", "SB00003"]
    assert body["pdf"] == f"http://localhost/labels/{body['id']}.pdf"
    assert body["zpl"] == f"http://localhost/labels/{body['id']}.zpl"
    series = db.session.get(LabelSeries, body["id"])
    assert (series.prefix, series.count, series.first_code, series.last_code) == (
        "SB", 3, "SB00001", "SB00003")
    assert series.created_by_id == boss.id
    [audit] = audit_rows("label.reserve")
    assert audit.after == {"prefix": "SB", "count": 3, "first": "SB00001", "last": "SB00003"}


def test_the_next_series_starts_where_the_last_one_stopped(client, boss):
    first = create_series(client, "SB", 2)
    second = create_series(client, "sb", 2)
    other = create_series(client, "M444-", 2)

    assert first["codes"] == ["SB00001", "SB00002"]
    assert second["codes"] == ["SB00003", "SB00004"]
    assert other["codes"] == ["M444-00001", "M444-00002"]


def test_codes_that_bags_hold_are_skipped(client, boss):
    fill_parent(boss, "SB00002")
    fill_parent(boss, "SB00004")
    first = create_series(client, "SB", 3)
    fill_parent(boss, "SB00006")  # scanned later, above the counter

    second = create_series(client, "SB", 2)

    assert first["codes"] == ["SB00001", "SB00003", "SB00005"]
    assert second["codes"] == ["SB00007", "SB00008"]


def test_a_reserved_code_scanned_for_the_first_time_becomes_a_parent(client, boss):
    codes = create_series(client, "SB", 1)["codes"]

    response = client.post("/api/v1/scans/parent", json={"code": codes[0]})

    assert response.status_code == 201
    assert response.get_json()["result"] == "parent_created"
    assert bag(codes[0]).kind == "parent"


def test_a_bad_prefix_or_count_is_422_invalid_input_and_changes_nothing(client, boss):
    before = snapshot()
    for body, field in [({"prefix": "XX", "count": 3}, "prefix"),
                        ({"prefix": "SB-", "count": 3}, "prefix"),
                        ({"prefix": "SB", "count": 0}, "count"),
                        ({"prefix": "SB", "count": 1001}, "count"),
                        ({"prefix": "SB", "count": "3"}, "count"),
                        ({"count": 3}, "prefix")]:
        response = client.post("/api/v1/labels/series", json=body)
        assert response.status_code == 422, body
        error = response.get_json()["error"]
        assert (error["code"], error["field"]) == ("invalid_input", field)
        assert "SB00001" in error["message"] or field == "count" or "letters" in error["message"]
    response = client.post("/api/v1/labels/series", json={"prefix": "SB", "count": 3, "x": 1})
    assert response.get_json()["error"]["code"] == "unknown_field"
    assert_unchanged(before, snapshot())


def test_staff_may_not_reserve(client, login_as, staff):
    login_as(staff)
    before = snapshot()
    response = client.post("/api/v1/labels/series", json={"prefix": "SB", "count": 3})
    assert response.status_code == 403
    assert_unchanged(before, snapshot())


def test_a_prefix_at_the_end_of_its_numbers_is_refused_whole(client, boss):
    from app.models import LabelCounter

    db.session.add(LabelCounter(prefix="SB", next_number=99_998))
    db.session.commit()
    before = snapshot()

    response = client.post("/api/v1/labels/series", json={"prefix": "SB", "count": 3})

    assert response.status_code == 409
    error = response.get_json()["error"]
    assert (error["code"], error["available"]) == ("prefix_exhausted", 2)
    assert_unchanged(before, snapshot())
    assert create_series(client, "SB", 2)["codes"] == ["SB99998", "SB99999"]


def test_the_database_refuses_a_code_handed_out_twice(client, boss):
    import pytest
    from sqlalchemy.exc import IntegrityError

    series_id = create_series(client, "SB", 1)["id"]
    db.session.add(LabelCode(code="SB00001", series_id=series_id, position=1))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_the_page_reserves_and_lists_the_series(client, boss):
    page = client.get("/labels")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "No codes reserved yet" in html
    assert "a4-3x8" in html and "70 x 37 mm" in html and "48.5 x 25.4 mm" in html

    response = client.post("/labels", data={"prefix": "sb", "count": "24"})
    assert response.status_code == 303
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Reserved 24 codes: SB00001 to SB00024." in html
    series = db.session.scalar(select(LabelSeries))
    assert f'id="series-{series.id}"' in html
    assert f"/labels/{series.id}.pdf" in html and f"/labels/{series.id}.zpl?dpi=300" in html
    assert "Send to printer" not in html  # no LABEL_PRINTER_URL here


def test_the_page_says_what_is_wrong_and_keeps_nothing(client, boss):
    before = snapshot()
    response = client.post("/labels", data={"prefix": "XX", "count": "5"})
    assert response.status_code == 422
    assert "No parent code starts with \u201cXX\u201d" in response.get_data(as_text=True)
    response = client.post("/labels", data={"prefix": "SB", "count": "5000"})
    assert response.status_code == 422
    assert "1 to 1,000" in response.get_data(as_text=True)
    assert_unchanged(before, snapshot())


def test_the_audit_log_shows_label_work_in_words(client, login_as, admin):
    login_as(admin)
    series = create_series(client, "SB", 2)
    client.get(f"/labels/{series['id']}.pdf")

    html = client.get("/audit?action=label.").get_data(as_text=True)

    assert "Parent codes reserved for labels" in html and "Labels downloaded" in html
    assert "SB00001" in html


def test_codes_that_bags_of_another_site_hold_are_skipped(client, boss):
    """Codes are unique across all sites (DESIGN 8.5): the series skipped only the current
    site's bags, and handed out SB00001 while FAR's parent had it."""
    from app.site_scope import using_site
    from tests.sites.support import make_site

    far = make_site()
    with using_site(far.id):
        fill_parent(boss, "SB00001")

    assert create_series(client, "SB", 2)["codes"] == ["SB00002", "SB00003"]
