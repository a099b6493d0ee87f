"""The manifest PDF (issue 20, item 4): its text, its QR read back by a real decoder from the
rasterised page, the page that serves it."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from app.dispatch import services as dispatching
from app.dispatch_docs.manifest import Manifest, ManifestParent, ManifestReturn, render_manifest
from app.unit_of_work import run
from tests.dispatch.support import complete_parent, load, new_dispatch
from tests.dispatch_docs.support import dispatched

needs_poppler = pytest.mark.skipif(
    not shutil.which("pdftotext"),
    reason="pdftotext (poppler-utils) is not installed; .ci/run installs it")
needs_tools = pytest.mark.skipif(
    not (shutil.which("pdftoppm") and shutil.which("zbarimg")),
    reason="pdftoppm (poppler-utils) and zbarimg (zbar-tools) are not installed; .ci/run "
           "installs them")


def pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "manifest.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout


def decoded_qr(pdf: bytes, tmp_path) -> list[str]:
    path = tmp_path / "manifest.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", str(path),
                    str(tmp_path / "page")], check=True)
    [page] = sorted(tmp_path.glob("page-*.png"))
    return subprocess.run(["zbarimg", "-q", "--raw", str(page)], capture_output=True,
                          text=True, check=True).stdout.split()


def forty_parents() -> Manifest:
    start = datetime(2026, 12, 5, 6, 30, tzinfo=UTC)
    return Manifest(
        code="D000123", status="dispatched", destination="Kolkata depot \u2014 Howrah",
        vehicle_number="WB12AB3456", expected_parents=40, child_weight_kg=1.0,
        expected_weight_kg=1200, driver="Ramesh Kumar", transporter="Fast Freight",
        reference="LR-99812", created_at=start, created_by="the-supervisor",
        dispatched_at=start + timedelta(hours=2), dispatched_by="the-supervisor",
        parents=[ManifestParent(f"SB{n:05d}", 30, start + timedelta(minutes=2 * n), "loader1")
                 for n in range(1, 41)],
        returned=[ManifestReturn("SB00099", 28, start + timedelta(hours=3), "torn sack")],
        timezone="Asia/Kolkata")


@needs_poppler
def test_every_parent_with_its_bags_totals_and_signatures_are_printed(tmp_path):
    text = pdf_text(render_manifest(forty_parents()), tmp_path)

    for label in ("WB12AB3456", "Kolkata depot \u2014 Howrah", "Ramesh Kumar", "Fast Freight",
                  "LR-99812", "40 / 40 parents", "1,200 bags", "1,200 kg of 1,200 kg",
                  "Total: 40 parents", "Loaded by (warehouse)", "Driver", "Signature",
                  "SB00099", "torn sack", "Page 1 of 2", "Page 2 of 2"):
        assert label in text, label
    lines = [line.split() for line in text.splitlines()]
    rows = {parts[1]: parts[2] for parts in lines
            if len(parts) >= 3 and parts[0].isdigit() and parts[1].startswith("SB")}
    assert rows == {f"SB{n:05d}": "30" for n in range(1, 41)}
    assert "5 Dec 2026, 12:02" in text  # SB00001 loaded 06:32 UTC, shown in Asia/Kolkata


@needs_tools
def test_the_qr_of_the_dispatch_code_decodes_from_the_printed_page(tmp_path):
    assert decoded_qr(render_manifest(forty_parents()), tmp_path) == ["D000123"]


@needs_poppler
def test_a_destination_typed_in_devanagari_prints_as_typed(tmp_path):
    manifest = Manifest(code="D000001", status="loading", destination="\u0928\u093e\u0917\u092a\u0941\u0930",
                        vehicle_number="MH12AB1234", expected_parents=1, child_weight_kg=1.0,
                        expected_weight_kg=30)
    assert "\u0928\u093e\u0917\u092a\u0941\u0930" in pdf_text(render_manifest(manifest), tmp_path)


def test_a_character_no_font_has_is_left_out_instead_of_failing():
    manifest = Manifest(code="D000001", status="loading", destination="\u5317\u4eac \U0001f69a",
                        vehicle_number="MH12AB1234", expected_parents=1, child_weight_kg=1.0,
                        expected_weight_kg=30)
    assert render_manifest(manifest).startswith(b"%PDF")


# --- the page ------------------------------------------------------------------------------

@needs_tools
def test_staff_get_the_manifest_of_a_dispatch(app, client, login_as, supervisor, staff, tmp_path):
    dispatched(supervisor, "D000007", ["SB00001", "SB00002"], expected=3, children=4,
               reason="third parent not ready", driver="Anil", reference="INV-7")
    login_as(staff)

    response = client.get("/dispatches/d000007/manifest.pdf")

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert 'filename="manifest-D000007.pdf"' in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    assert decoded_qr(response.data, tmp_path) == ["D000007"]
    text = pdf_text(response.data, tmp_path)
    for label in ("SB00001", "SB00002", "2 / 3 parents", "8 bags", "Anil", "INV-7",
                  "Dispatched short: third parent not ready"):
        assert label in text, label


def test_a_code_with_a_slash_has_its_manifest(client, login_as, supervisor):
    complete_parent(supervisor, "SB00001")
    new_dispatch(supervisor, "BILL/2026/7", expected=1)
    load(supervisor, "BILL/2026/7", "SB00001")
    login_as(supervisor)

    response = client.get("/dispatches/BILL/2026/7/manifest.pdf")

    assert response.status_code == 200
    assert 'filename="manifest-BILL-2026-7.pdf"' in response.headers["Content-Disposition"]


def test_an_unknown_dispatch_is_a_404_that_says_so(client, login_as, staff):
    login_as(staff)
    response = client.get("/dispatches/D999999/manifest.pdf")
    assert response.status_code == 404
    assert "D999999" in response.get_data(as_text=True)


def test_a_cancelled_dispatch_prints_the_parents_it_had(client, login_as, supervisor, tmp_path):
    complete_parent(supervisor, "SB00001")
    new_dispatch(supervisor, "D000002", expected=2)
    load(supervisor, "D000002", "SB00001")
    run(dispatching.cancel_dispatch, supervisor, "D000002", "truck broke down")
    login_as(supervisor)

    response = client.get("/dispatches/D000002/manifest.pdf")

    assert response.status_code == 200
    if shutil.which("pdftotext"):
        text = pdf_text(response.data, tmp_path)
        assert "Cancelled" in text and "SB00001" in text
