"""PDF sheets read back by a real decoder (issue 22 item 2 and its round-trip test): each
label's area of the rasterised page decodes to its code, in sheet order, the skipped places
are empty, and the file is small (vectors, not bitmaps)."""

import pytest

from app.labels.sheets import LAYOUTS
from tests.helpers import assert_unchanged, audit_rows, fill_parent, snapshot
from tests.labels.support import create_series, needs_tools, read_places


@needs_tools
def test_a_3x8_sheet_of_24_codes_decodes_place_by_place(client, boss, tmp_path):
    series = create_series(client, "SB", 24)

    response = client.get(f"/labels/{series['id']}.pdf")

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert len(response.data) < 40_000, "vectors, not bitmaps"
    places = read_places(response.data, LAYOUTS["a4-3x8"], tmp_path)
    assert places == [[code] for code in series["codes"]]


@needs_tools
def test_skipped_places_stay_empty_and_the_rest_follows_in_order(client, boss, tmp_path):
    series = create_series(client, "M444-", 24)

    response = client.get(f"/labels/{series['id']}.pdf?layout=a4-3x8&skip=5")

    places = read_places(response.data, LAYOUTS["a4-3x8"], tmp_path)
    assert len(places) == 48  # two pages
    assert places[:5] == [[]] * 5
    assert places[5:29] == [[code] for code in series["codes"]]
    assert places[29:] == [[]] * 19


@needs_tools
def test_a_4x10_sheet_decodes_place_by_place(client, boss, tmp_path):
    series = create_series(client, "SB", 12)

    response = client.get(f"/labels/{series['id']}.pdf?layout=a4-4x10&skip=3")

    places = read_places(response.data, LAYOUTS["a4-4x10"], tmp_path)
    assert places == [[]] * 3 + [[code] for code in series["codes"]] + [[]] * 25


@needs_tools
def test_one_label_per_page_for_roll_printers(client, boss, tmp_path):
    series = create_series(client, "SB", 4)

    response = client.get(f"/labels/{series['id']}.pdf?layout=single")

    places = read_places(response.data, LAYOUTS["single"], tmp_path, dpi=300)
    assert places == [[code] for code in series["codes"]]


def test_a_full_series_of_1000_labels_stays_small(client, boss):
    series = create_series(client, "SB", 1000)

    response = client.get(f"/labels/{series['id']}.pdf")

    assert response.status_code == 200
    assert len(response.data) < 600_000, len(response.data)


def test_every_download_is_audited(client, boss):
    series = create_series(client, "SB", 3)
    client.get(f"/labels/{series['id']}.pdf?layout=a4-4x10&skip=7")
    client.get(f"/labels/{series['id']}.zpl?dpi=300")

    downloads = audit_rows("label.download")

    assert [(row.target_type, row.target, row.after) for row in downloads] == [
        ("label_series", str(series["id"]),
         {"format": "pdf", "layout": "a4-4x10", "skip": 7, "labels": 3}),
        ("label_series", str(series["id"]), {"format": "zpl", "dpi": 300, "labels": 3})]
    assert all(row.actor_id == boss.id for row in downloads)


@pytest.mark.parametrize("query", ["layout=a4-2x7", "skip=24", "skip=-1", "skip=x",
                                   "layout=single&skip=1", "skip=%EF%BC%91"])
def test_a_bad_layout_or_skip_is_refused_and_changes_nothing(client, boss, query):
    series = create_series(client, "SB", 3)
    before = snapshot()

    response = client.get(f"/labels/{series['id']}.pdf?{query}")

    assert response.status_code == 422
    assert 'data-error-code="invalid_input"' in response.get_data(as_text=True)
    assert_unchanged(before, snapshot())


def test_an_unknown_series_is_404(client, boss):
    assert client.get("/labels/999.pdf").status_code == 404
    assert client.get("/labels/999.zpl").status_code == 404


@needs_tools
def test_a_bag_label_is_one_label_of_its_code_and_audited_as_a_reprint(client, boss, tmp_path):
    fill_parent(boss, "SB00042", ["0016586"])

    for code in ("SB00042", "0016586"):
        response = client.get(f"/bags/{code.lower()}/label.pdf")
        assert response.status_code == 200
        assert read_places(response.data, LAYOUTS["single"], tmp_path / code, dpi=300) == [[code]]

    assert [(row.target_type, row.target) for row in audit_rows("label.reprint")] == [
        ("bag", "SB00042"), ("bag", "0016586")]
    assert client.get("/bags/SB09999/label.pdf").status_code == 404


def test_the_bag_page_links_its_label_for_supervisors_only(client, boss, login_as, staff):
    fill_parent(boss, "SB00042")
    assert "/bags/SB00042/label.pdf" in client.get("/bags/SB00042").get_data(as_text=True)
    client.post("/logout")
    login_as(staff)
    assert "/label.pdf" not in client.get("/bags/SB00042").get_data(as_text=True)


@needs_tools
def test_the_station_command_sheet_comes_from_the_label_code(client, boss, tmp_path):
    from app.scanning.commands import COMMANDS

    response = client.get("/scan/commands.pdf")

    assert response.status_code == 200
    places = read_places(response.data, LAYOUTS["a4-3x8"], tmp_path)
    assert places[:len(COMMANDS)] == [[command.code] for command in COMMANDS]
    assert places[len(COMMANDS):] == [[]] * (24 - len(COMMANDS))
    assert "/scan/commands.pdf" in client.get("/scan/commands").get_data(as_text=True)
