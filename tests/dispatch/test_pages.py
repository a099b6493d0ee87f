"""The dispatch pages without JavaScript: the list (filters, counts, paging), a new dispatch,
and the loading station's forms (post, redirect, get); a bag's page names its dispatch."""

from __future__ import annotations

import re

from tests.dispatch.support import complete_parent, load, new_dispatch


def codes_in(html: str) -> list[str]:
    return re.findall(r'<a class="bag-code" href="/dispatches/[^"]+">([^<]+)</a>', html)


def test_the_list_shows_counts_per_status_newest_first_and_pages(client, login_as, supervisor):
    login_as(supervisor)
    for number in range(1, 4):
        new_dispatch(supervisor, f"D00000{number}", expected=1)
    complete_parent(supervisor, "SB00001")
    load(supervisor, "D000001", "SB00001")
    client.post("/dispatches/D000001/dispatch", data={})

    page = client.get("/dispatches?limit=2").get_data(as_text=True)
    loading = client.get("/dispatches?status=loading").get_data(as_text=True)

    assert codes_in(page) == ["D000003", "D000002"]
    assert 'id="next-page"' in page
    assert re.search(r'data-status="dispatched"[^>]*>Dispatched <span class="badge[^"]*">1<', page)
    assert codes_in(loading) == ["D000003", "D000002"]
    assert client.get("/dispatches?status=lost").status_code == 422


def test_a_supervisor_opens_a_dispatch_from_the_form(client, login_as, supervisor):
    login_as(supervisor)

    refused = client.post("/dispatches/new", data={"vehicle_number": "", "destination": "Pune",
                                                   "expected_parents": "2"})
    made = client.post("/dispatches/new", data={"vehicle_number": "mh12ab1234",
                                                "destination": "Pune", "expected_parents": "2"})

    assert refused.status_code == 422
    assert "Fill in the vehicle number" in refused.get_data(as_text=True)
    assert made.status_code == 303 and made.headers["Location"].endswith("/dispatches/D000001")
    station = client.get("/dispatches/D000001").get_data(as_text=True)
    assert "MH12AB1234 to Pune" in station
    assert 'id="scan-input"' in station and 'id="dispatch-button"' in station


def test_staff_load_and_unload_with_the_forms_but_see_no_supervisor_buttons(
        client, login_as, staff, supervisor):
    complete_parent(supervisor, "SB00001", children=3)
    new_dispatch(supervisor, "D000001", expected=40)
    login_as(staff)

    loaded = client.post("/dispatches/D000001/load", data={"load-code": "sb00001"},
                         follow_redirects=True).get_data(as_text=True)
    assert "SB00001 loaded onto D000001." in loaded
    assert re.search(r'id="loaded">1<.*id="expected">40<', loaded, re.S)
    assert '<span id="bags">3</span> bags, <span id="weight">3</span> kg of ' \
           '<span id="expected-weight">1,200</span> kg' in loaded
    assert 'id="dispatch-button"' not in loaded and 'id="cancel-box"' not in loaded

    refused = client.post("/dispatches/D000001/load", data={"load-code": "SB00404"},
                          follow_redirects=True).get_data(as_text=True)
    assert "There is no parent SB00404" in refused

    unloaded = client.post("/dispatches/D000001/unload", data={"unload-code": "SB00001"},
                           follow_redirects=True).get_data(as_text=True)
    assert "SB00001 was taken off D000001." in unloaded


def test_a_supervisor_dispatches_short_with_a_reason_then_takes_a_return(client, login_as,
                                                                        supervisor):
    complete_parent(supervisor, "SB00001")
    complete_parent(supervisor, "SB00002")
    new_dispatch(supervisor, "D000001", expected=3)
    load(supervisor, "D000001", "SB00001")
    load(supervisor, "D000001", "SB00002")
    login_as(supervisor)

    short = client.post("/dispatches/D000001/dispatch", data={},
                        follow_redirects=True).get_data(as_text=True)
    assert "has 2 of 3 parents. Say why it leaves short" in short
    sent = client.post("/dispatches/D000001/dispatch", data={"send-reason": "rain"},
                       follow_redirects=True).get_data(as_text=True)
    assert "D000001 has left: it is locked." in sent and "Left short: rain" in sent
    assert 'id="scan-input"' not in sent and 'id="returns-box"' in sent

    back = client.post("/dispatches/D000001/returns",
                       data={"returns-parent": "SB00002", "returns-reason": "torn sack"},
                       follow_redirects=True).get_data(as_text=True)
    assert "SB00002 is back in the warehouse" in back
    assert 'id="returned-card"' in back


def test_an_unknown_dispatch_is_a_404_page(client, login_as, staff):
    login_as(staff)
    assert client.get("/dispatches/D404404").status_code == 404
    assert client.post("/dispatches/D404404/load", data={"load-code": "SB00001"}).status_code \
        == 404


def test_the_bag_pages_name_the_dispatch(client, login_as, supervisor):
    complete_parent(supervisor, "SB00001")
    new_dispatch(supervisor, "D000001")
    load(supervisor, "D000001", "SB00001")
    login_as(supervisor)

    for code in ("SB00001", "00001000"):
        html = client.get(f"/bags/{code}").get_data(as_text=True)
        assert re.search(r'id="bag-dispatch"><a class="bag-code" href="/dispatches/D000001">'
                         r'D000001</a> <span class="badge dispatch-loading">loading', html)
        assert 'id="corrections"' not in html  # refused while it is on a dispatch
    history = client.get("/bags/SB00001").get_data(as_text=True)
    assert re.search(r'loaded · dispatch <a class="bag-code" href="/dispatches/D000001">', history)


def test_a_code_with_a_slash_has_its_page(client, login_as, supervisor):
    new_dispatch(supervisor, "LR/2026-17")
    login_as(supervisor)

    assert "LR/2026-17" in client.get("/dispatches/LR/2026-17").get_data(as_text=True)
    assert client.get("/api/v1/dispatches/lr/2026-17").get_json()["code"] == "LR/2026-17"
