"""The QR drawn into PDFs (app/pdfqr.py) is read back by a real decoder from the rasterised page."""

import shutil
import subprocess

import pytest
from fpdf import FPDF

from app.pdfqr import QUIET_ZONE, draw_qr, qr_modules

needs_tools = pytest.mark.skipif(
    not (shutil.which("pdftoppm") and shutil.which("zbarimg")),
    reason="pdftoppm (poppler-utils) and zbarimg (zbar-tools) are not installed; .ci/run installs them")


def test_the_quiet_zone_is_kept_around_the_symbol():
    rows = qr_modules("SB00001")
    assert all(not any(row) for row in rows[:QUIET_ZONE] + rows[-QUIET_ZONE:])
    assert all(not any(row[:QUIET_ZONE]) and not any(row[-QUIET_ZONE:]) for row in rows)
    assert any(any(row) for row in rows)


@needs_tools
def test_codes_drawn_as_vectors_decode_back(tmp_path):
    pdf = FPDF(unit="mm", format="A4")
    pdf.add_page()
    codes = ["SB00001", "M444-000123", "D000042"]
    for i, code in enumerate(codes):
        draw_qr(pdf, code, 20 + 60 * i, 20, 30)
    path = tmp_path / "codes.pdf"
    pdf.output(str(path))
    assert path.stat().st_size < 10_000, "vectors, not bitmaps"
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(path), str(tmp_path / "page")], check=True)
    found = subprocess.run(["zbarimg", "-q", "--raw", str(tmp_path / "page-1.png")],
                           capture_output=True, text=True, check=True).stdout.split()
    assert sorted(found) == sorted(codes)
