"""Tracing one code, scan-to-find, and browsing the bag list (DESIGN.md section 6):
the trace of a parent and of a child, the 404 with suggestions, the filters, and keyset
pagination that neither repeats nor loses a row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.lookup import queries as services
from app.models import Bag
from app.scanning import services as scanning
from app.scanning.services import ScanError
from app.scanning.transaction import run_scan
from tests.helpers import all_pages, fill_parent, page_codes, set_created_at


# --- trace ---------------------------------------------------------------------------------

def test_trace_of_a_parent_lists_children_with_who_and_when_and_the_whole_timeline(
        client, login_as, staff, make_user):
    other = make_user("otto", "staff")
    fill_parent(staff, "SB00001", ["0000001", "0000002"])
    run_scan(scanning.scan_child, other, "SB00001", "0000003")
    run_scan(scanning.undo_scan, other, raw_parent="SB00001")  # takes 0000003 out again
    with pytest.raises(ScanError):  # a refused scan against this parent stays on record
        run_scan(scanning.scan_child, staff, "SB00001", "SB00002")
    login_as(staff)

    response = client.get("/api/v1/bags/SB00001")

    assert response.status_code == 200
    body = response.get_json()
    assert {k: body[k] for k in ("code", "kind", "status", "capacity", "child_count",
                                 "created_by", "parent")} == {
        "code": "SB00001", "kind": "parent", "status": "open", "capacity": 30,
        "child_count": 2, "created_by": "stella", "parent": None}
    assert datetime.fromisoformat(body["created_at"]).utcoffset() == timedelta(0)
    assert [c["code"] for c in body["children"]] == ["0000002", "0000001"]
    assert {c["linked_by"] for c in body["children"]} == {"stella"}
    assert all(datetime.fromisoformat(c["linked_at"]).tzinfo for c in body["children"])
    timeline = [(e["user"], e["result"], e["code"], e["outcome"]) for e in body["events"]]
    assert timeline == [
        ("stella", "parent_created", "SB00001", "accepted"),
        ("stella", "linked", "0000001", "accepted"),
        ("stella", "linked", "0000002", "accepted"),
        ("otto", "linked", "0000003", "accepted"),
        ("otto", "unlinked", "0000003", "accepted"),
        ("stella", "code_is_parent", "SB00002", "rejected"),
    ]
    assert all(e["parent"] == "SB00001" for e in body["events"])
    assert "bag_id" not in body["events"][0]


def test_trace_of_a_child_names_its_parent_and_only_its_own_events(client, login_as, staff):
    fill_parent(staff, "SB00001", ["0000001", "0000002"])
    login_as(staff)

    body = client.get("/api/v1/bags/0000001").get_json()

    assert {k: body[k] for k in ("code", "kind", "status", "parent", "created_by")} == {
        "code": "0000001", "kind": "child", "status": "linked", "parent": "SB00001",
        "created_by": "stella"}
    assert body["children"] == []
    assert datetime.fromisoformat(body["linked_at"]).tzinfo is not None
    assert [(e["result"], e["code"], e["parent"]) for e in body["events"]] == [
        ("linked", "0000001", "SB00001")]


def test_the_code_is_normalised_before_the_lookup(client, login_as, staff):
    fill_parent(staff, "SB00001")
    login_as(staff)

    assert client.get("/api/v1/bags/%20sb00001%0D").get_json()["code"] == "SB00001"
    page = client.get("/bags/sb00001")
    assert page.status_code == 302 and page.headers["Location"].endswith("/bags/SB00001")
    html = client.get("/bags/SB00001").get_data(as_text=True)
    assert 'id="bag-code">SB00001<' in html and "parent_created".replace("_", " ") in html


def test_unknown_code_is_a_404_with_the_nearest_codes(client, login_as, staff):
    fill_parent(staff, "SB00001", ["0016586", "0016590", "1234567"])
    login_as(staff)

    response = client.get("/api/v1/bags/0016568")  # two digits swapped

    assert response.status_code == 404
    error = response.get_json()["error"]
    assert error["code"] == "bag_not_found"
    assert error["suggestions"][0] == "0016586"
    assert "1234567" not in error["suggestions"]
    assert "0016586" in error["message"] and "scan it again" in error["message"]

    page = client.get("/bags/0016587")  # one digit misread
    html = page.get_data(as_text=True)
    assert page.status_code == 404
    assert 'href="/bags/0016586"' in html and "Did you mean" in html


def test_nearest_codes_ranks_one_edit_first_then_the_longest_shared_prefix(app, staff):
    fill_parent(staff, "SB00001", ["0016586", "0016599", "0017000", "9016586", "5555555"])

    # 0016586 is one keystroke away; 0016599 and 0017000 share a long prefix; 9016586
    # (two keystrokes) and 5555555 share nothing.
    assert services.nearest_codes("0016580") == ["0016586", "0016599", "0017000"]
    assert services.nearest_codes("ZZZZ") == []


def test_nearest_codes_on_an_empty_table_and_odd_input(app):
    assert services.nearest_codes("0016586") == []
    assert services.nearest_codes("X" * 64) == []


def test_an_invalid_code_is_refused_without_a_500(client, login_as, staff):
    login_as(staff)

    api = client.get("/api/v1/bags/%E2%80%8B")  # a zero-width space: nothing left
    page = client.get("/bags/%E2%80%8B")

    assert api.status_code == 422 and api.get_json()["error"]["code"] == "invalid_code"
    assert page.status_code == 404 and "scan the code again" in page.get_data(as_text=True)


def test_lookup_needs_a_login(client):
    assert client.get("/api/v1/bags/SB00001").status_code == 401
    assert client.get("/api/v1/bags").status_code == 401
    page = client.get("/bags")
    assert page.status_code == 302 and "/login" in page.headers["Location"]


# --- scan-to-find --------------------------------------------------------------------------

def test_find_goes_straight_to_the_bag(client, login_as, staff):
    fill_parent(staff, "SB00001", ["0016586"])
    login_as(staff)

    response = client.get("/bags/find", query_string={"code": " 0016586\r\n"})

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/bags/0016586")


def test_find_of_an_unknown_code_shows_the_suggestions(client, login_as, staff):
    fill_parent(staff, "SB00001", ["0016586"])
    login_as(staff)

    response = client.get("/bags/find", query_string={"code": "0016587"})

    assert response.status_code == 404
    assert 'href="/bags/0016586"' in response.get_data(as_text=True)


def test_find_with_nothing_scanned_goes_back_to_the_list(client, login_as, staff):
    login_as(staff)

    response = client.get("/bags/find", query_string={"code": "  \r\n"}, follow_redirects=True)

    assert response.request.path == "/bags"
    assert "Nothing was scanned" in response.get_data(as_text=True)


def test_navigation_has_bags_and_the_find_box_for_staff(client, login_as, staff):
    login_as(staff)

    html = client.get("/bags").get_data(as_text=True)

    assert 'href="/bags"' in html and ">Bags</a>" in html
    assert 'action="/bags/find"' in html and 'name="code" id="find-code"' in html


# --- browsing ------------------------------------------------------------------------------

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture
def catalogue(staff, make_user, supervisor):
    """Parents open and complete, children linked and loose, by two people, on known days."""
    other = make_user("otto", "staff")
    fill_parent(staff, "SB00001", ["0000101", "0000102"])
    fill_parent(other, "SB00002", ["0000201"])
    run_scan(scanning.complete_parent, other, "SB00002", force=True)
    fill_parent(staff, "M444-00001", ["0000301"])
    run_scan(scanning.undo_scan, supervisor, raw_code="0000301")  # now a loose child
    days = {"SB00001": 0, "0000101": 0, "0000102": 0, "SB00002": 1, "0000201": 1,
            "M444-00001": 2, "0000301": 2}
    for offset, (code, day) in enumerate(days.items()):
        set_created_at(code, NOW - timedelta(days=day, minutes=offset))
    return days


def codes(client, **params) -> list[str]:
    return [item["code"] for item in all_pages(client, **params)]


def test_newest_first_with_every_field(client, login_as, staff, catalogue):
    login_as(staff)

    items = all_pages(client)

    assert [i["code"] for i in items] == [
        "SB00001", "0000101", "0000102", "SB00002", "0000201", "M444-00001", "0000301"]
    by_code = {i["code"]: i for i in items}
    assert by_code["SB00002"] == {
        "code": "SB00002", "kind": "parent", "status": "complete", "parent": None,
        "capacity": 30, "child_count": 1, "created_by": "otto",
        "created_at": (NOW - timedelta(days=1, minutes=3)).isoformat(), "linked_at": None}
    assert by_code["0000101"]["parent"] == "SB00001"
    assert by_code["0000301"]["status"] == "unlinked" and by_code["0000301"]["parent"] is None


@pytest.mark.parametrize("params, expected", [
    ({"kind": "parent"}, ["SB00001", "SB00002", "M444-00001"]),
    ({"kind": "child"}, ["0000101", "0000102", "0000201", "0000301"]),
    ({"status": "open"}, ["SB00001", "M444-00001"]),
    ({"status": "complete"}, ["SB00002"]),
    ({"status": "linked"}, ["0000101", "0000102", "0000201"]),
    ({"status": "unlinked"}, ["0000301"]),
    ({"q": "sb"}, ["SB00001", "SB00002"]),
    ({"q": "00001"}, ["0000101", "0000102"]),
    ({"q": "M444-"}, ["M444-00001"]),
    ({"user": "OTTO"}, ["SB00002", "0000201"]),
    ({"user": "nobody"}, []),
    ({"created_from": "2026-11-27"}, ["SB00001", "0000101", "0000102", "SB00002", "0000201"]),
    ({"created_to": "2026-11-27"}, ["SB00002", "0000201", "M444-00001", "0000301"]),
    ({"created_from": "2026-11-27", "created_to": "2026-11-27"}, ["SB00002", "0000201"]),
    ({"created_from": "2026-11-28T11:58:30+00:00"}, ["SB00001", "0000101"]),
    ({"created_to": "2026-11-28T17:28:00+05:30"}, ["0000102", "SB00002", "0000201",
                                                   "M444-00001", "0000301"]),
    ({"kind": "child", "status": "linked", "user": "stella", "q": "0000"},
     ["0000101", "0000102"]),
    ({"kind": "parent", "status": "linked"}, []),
])
def test_filters(client, login_as, staff, catalogue, params, expected):
    login_as(staff)

    assert codes(client, **params) == expected
    assert codes(client, limit=1, **params) == expected  # page by page, the same rows


@pytest.mark.parametrize("params, field", [
    ({"kind": "sack"}, "kind"), ({"status": "full"}, "status"),
    ({"created_from": "yesterday"}, "created_from"),
    ({"created_to": "2026-11-28T10:00:00"}, "created_to"),  # no offset: which zone?
    ({"limit": "0"}, "limit"), ({"limit": "201"}, "limit"), ({"limit": "ten"}, "limit"),
    ({"q": "\u200b"}, "q"),
])
def test_bad_filters_are_a_422_naming_the_field(client, login_as, staff, params, field):
    login_as(staff)

    api = client.get("/api/v1/bags", query_string=params)
    page = client.get("/bags", query_string=params)

    assert api.status_code == 422
    error = api.get_json()["error"]
    assert (error["code"], error["field"]) == ("invalid_filter", field)
    assert page.status_code == 422 and error["message"].split(".")[0] in page.get_data(as_text=True)


def test_the_page_and_the_api_return_the_same_rows(client, login_as, staff, catalogue):
    login_as(staff)

    for params in ({}, {"kind": "child"}, {"status": "open"}, {"q": "SB"}, {"limit": 2}):
        api = client.get("/api/v1/bags", query_string=params).get_json()
        html = client.get("/bags", query_string=params).get_data(as_text=True)
        assert page_codes(html) == [item["code"] for item in api["items"]], params


def test_the_page_walks_the_same_pages_as_the_api(client, login_as, staff, catalogue):
    login_as(staff)
    seen, url = [], "/bags?limit=3&kind=child"
    while url:
        html = client.get(url).get_data(as_text=True)
        seen.extend(page_codes(html))
        marker = 'id="next-page" href="'
        url = html.split(marker)[1].split('"')[0].replace("&amp;", "&") if marker in html else None

    assert seen == codes(client, kind="child")
    later = client.get("/bags?limit=3&kind=child&cursor=" + all_cursor(client))
    assert 'id="first-page"' in later.get_data(as_text=True)


def all_cursor(client) -> str:
    return client.get("/api/v1/bags", query_string={"limit": 1}).get_json()["next_cursor"]


def make_bags(user, parents: int, per_parent: int) -> list[str]:
    made = []
    for p in range(1, parents + 1):
        children = [f"{p:03d}{c:04d}" for c in range(1, per_parent + 1)]
        fill_parent(user, f"SB{p:05d}", children)
        made += [f"SB{p:05d}", *children]
    return made


def test_cursor_pagination_never_repeats_or_loses_a_row(client, login_as, staff):
    made = make_bags(staff, 4, 5)  # 24 bags
    # Ties on created_at are broken by id: give half of them one and the same time.
    for code in made[::2]:
        set_created_at(code, NOW)
    login_as(staff)

    everything = codes(client, limit=200)
    for limit in (1, 5, 7, 24, 25):
        walked = codes(client, limit=limit)
        assert walked == everything, limit
    assert sorted(everything) == sorted(made) and len(set(everything)) == len(made)

    ordered = db.session.execute(
        select(Bag.code).order_by(Bag.created_at.desc(), Bag.id.desc())).scalars().all()
    assert everything == ordered


def test_bags_added_while_paging_neither_repeat_nor_shift_rows(client, login_as, staff):
    made = make_bags(staff, 2, 9)  # 20 bags
    login_as(staff)
    first = client.get("/api/v1/bags", query_string={"limit": 8}).get_json()
    fill_parent(staff, "SB00099", ["0990001", "0990002"])  # newer than every row seen
    rest = all_pages(client, limit=8, cursor=first["next_cursor"])

    walked = [i["code"] for i in first["items"]] + [i["code"] for i in rest]
    assert sorted(walked) == sorted(made) and len(walked) == len(made)


@pytest.mark.parametrize("tamper", ["garbage", "unsigned", "signature", "payload"])
def test_a_tampered_cursor_is_a_422(client, login_as, staff, tamper):
    make_bags(staff, 1, 3)
    login_as(staff)
    good = all_cursor(client)
    payload, signature = good.split(".")
    cursor = {
        "garbage": "garbage",
        "unsigned": "W1siMjAyNi0xMS0yOFQxMjowMDowMCswMDowMCIsIDVdXQ",
        "signature": payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:],
        "payload": payload[:-2] + "xx." + signature,
    }[tamper]

    api = client.get("/api/v1/bags", query_string={"cursor": cursor})
    page = client.get("/bags", query_string={"cursor": cursor})

    assert api.status_code == 422
    error = api.get_json()["error"]
    assert error["code"] == "invalid_cursor" and "first page" in error["message"]
    assert page.status_code == 422 and "first page" in page.get_data(as_text=True)


def test_the_cursor_is_opaque(client, login_as, staff):
    make_bags(staff, 1, 3)
    login_as(staff)

    cursor = all_cursor(client)

    assert "2026" not in cursor and ":" not in cursor
    forged = services.encode_cursor(NOW, 1)
    assert services.decode_cursor(forged) == (NOW, 1)


def test_staff_can_browse_and_trace_but_sees_no_correction_or_export(client, login_as, staff,
                                                                     catalogue):
    login_as(staff)

    html = client.get("/bags/SB00001").get_data(as_text=True)
    listing = client.get("/bags").get_data(as_text=True)

    assert 'id="corrections"' not in html and 'name="unlink-reason"' not in html
    assert "Export CSV" not in listing


def test_supervisor_sees_the_corrections_and_exports(client, login_as, supervisor, catalogue):
    login_as(supervisor)

    parent = client.get("/bags/SB00001").get_data(as_text=True)
    child = client.get("/bags/0000101").get_data(as_text=True)
    full = client.get("/bags/SB00002").get_data(as_text=True)

    assert 'action="/bags/SB00001/complete"' in parent and "/delete" not in parent
    assert 'action="/bags/0000101/unlink"' in child and 'action="/bags/0000101/move"' in child
    assert 'action="/bags/0000101/delete"' in child
    assert 'action="/bags/SB00002/reopen"' in full
    assert "Export CSV" in client.get("/bags?kind=child").get_data(as_text=True)


def test_list_counts_match_the_table(client, login_as, staff, catalogue):
    login_as(staff)

    total = db.session.scalar(select(func.count()).select_from(Bag))

    assert len(all_pages(client, limit=2)) == total


# --- seeding -------------------------------------------------------------------------------

def test_seed_bags_adds_exactly_n_consistent_bags_with_their_events(runner, staff, supervisor):
    from sqlalchemy import text

    from app.models import ScanEvent
    from tests.helpers import check_invariants

    first = runner.invoke(args=["seed-bags", "500", "--days", "2"])
    second = runner.invoke(args=["seed-bags", "300", "--capacity", "4", "--seed", "9"])

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert "Seeded 500 bags" in first.output and "Child counts checked" in first.output
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Bag)) == 800
    check_invariants()
    parents = db.session.scalar(select(func.count()).where(Bag.kind == "parent"))
    linked = db.session.scalar(select(func.count()).where(Bag.status == "linked"))
    loose = db.session.scalar(select(func.count()).where(Bag.status == "unlinked"))
    complete = db.session.scalar(select(func.count()).where(Bag.status == "complete"))
    events = db.session.scalar(select(func.count()).select_from(ScanEvent))
    # One event per parent and per link, two per loose child, one per completion.
    assert events == parents + linked + 2 * loose + complete
    assert db.session.scalar(text(
        "SELECT count(*) FROM bags c JOIN bags p ON p.id = c.parent_id "
        "WHERE c.created_at < p.created_at")) == 0
    assert db.session.scalar(select(func.max(Bag.capacity))) == 30
    # Every seeded bag is traceable and listable like any other.
    newest = services.list_bags(services.parse_filters({"limit": "5"})).items
    assert len(newest) == 5
    assert services.trace_bag(newest[0]["code"])["events"]


def test_seed_bags_needs_a_user(runner):
    result = runner.invoke(args=["seed-bags", "10"])

    assert result.exit_code != 0 and "Create one first" in result.output
    assert db.session.scalar(select(func.count()).select_from(Bag)) == 0


@pytest.mark.parametrize("probe_rows", [0, 1, services.PREFIX_PROBE_ROWS])
def test_prefix_filter_gives_the_same_rows_whichever_plan(client, login_as, staff, catalogue,
                                                          monkeypatch, probe_rows):
    """Few matches are fetched by the code index first (PostgreSQL), many by the list's own
    order: the rows and the pages are the same either way."""
    monkeypatch.setattr(services, "PREFIX_PROBE_ROWS", probe_rows)
    login_as(staff)

    assert codes(client, q="0000") == ["0000101", "0000102", "0000201", "0000301"]
    assert codes(client, q="0000", limit=1) == ["0000101", "0000102", "0000201", "0000301"]
    assert codes(client, q="SB", kind="parent", status="open") == ["SB00001"]
