"""Hindi in the PDFs (issue 23, app/i18n_pdf.py): the fonts are embedded and the Devanagari
is shaped, so a text extractor reads back the words that were written, conjuncts and all."""

import shutil
import subprocess

import pytest
from fpdf import FPDF

from app.i18n_pdf import FAMILY, use_fonts

needs_poppler = pytest.mark.skipif(
    not (shutil.which("pdftotext") and shutil.which("pdffonts")),
    reason="pdftotext and pdffonts (poppler-utils) are not installed; .ci/run installs them")

LINE = "बड़ी बोरी SB00001 पूरी: 30 थैलियाँ, क्षमता 30"


@needs_poppler
def test_hindi_and_latin_are_embedded_and_read_back(tmp_path):
    pdf = FPDF(unit="mm", format="A4")
    pdf.add_page()
    assert use_fonts(pdf) == FAMILY
    pdf.set_font(FAMILY, size=14)
    pdf.cell(text=LINE)
    pdf.ln(10)
    pdf.set_font(FAMILY, "B", size=14)
    pdf.cell(text="TraceTrack मैनिफ़ेस्ट")
    path = tmp_path / "hindi.pdf"
    pdf.output(str(path))

    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True,  # noqa: S603,S607
                           check=True).stdout
    names = [line.split()[0].split("+")[-1] for line in fonts.splitlines()[2:]]
    assert any(name.startswith("NotoSansDevanagari") for name in names)
    assert any(name.startswith("NotoSans") and "Devanagari" not in name for name in names)
    assert all(line.split()[-5] == "yes" for line in fonts.splitlines()[2:])  # emb column
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,  # noqa: S603,S607
                          text=True, check=True).stdout
    squeezed = text.replace(" ", "")
    for word in ("बड़ी", "बोरी", "SB00001", "थैलियाँ", "क्षमता", "TraceTrack"):
        assert word in squeezed, (word, text)


def test_without_shaping_the_glyphs_differ():
    """uharfbuzz is what shapes: the same line laid out shaped and unshaped gives a different
    width (a conjunct is one glyph, a vowel sign moves)."""
    widths = []
    for shaping in (True, False):
        pdf = FPDF()
        pdf.add_page()
        use_fonts(pdf)
        pdf.set_text_shaping(shaping)
        pdf.set_font(FAMILY, size=14)
        widths.append(pdf.get_string_width("क्षमता कि"))
    assert widths[0] != widths[1]


@needs_poppler
def test_latin_text_after_a_devanagari_cell_in_the_same_font_prints(tmp_path):
    """fpdf2 leaves the fallback font selected after a Devanagari cell while believing the
    main one is: without app/i18n_pdf.py's reselection the "4" and the "SB00001" below came
    out as ":" or not at all (the manifest's total row)."""
    pdf = FPDF(unit="mm", format="A4")
    pdf.add_page()
    use_fonts(pdf)
    pdf.set_font(FAMILY, "B", size=10)
    pdf.cell(60, 6, "कुल: 2 बड़ी बोरियाँ")
    pdf.cell(20, 6, "4", align="R")
    pdf.cell(0, 6, "   4 kg", new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 6, "बड़ी", new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 6, "SB00001 x4y", new_x="LMARGIN", new_y="NEXT")
    path = tmp_path / "mixed.pdf"
    pdf.output(str(path))
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,  # noqa: S603,S607
                          text=True, check=True).stdout
    lines = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
    assert lines[0].endswith("4 4 kg"), lines
    assert lines[2] == "SB00001 x4y", lines
