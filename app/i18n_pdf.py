"""Fonts for the PDFs (labels, manifests) in every language (issue 23).

fpdf2's built-in fonts are Latin-1 only. `use_fonts(pdf)` adds Noto Sans (Latin) with Noto
Sans Devanagari as its fallback, both embedded (subset) from app/fonts/ (SIL Open Font
License, app/fonts/OFL.txt), and turns on text shaping (uharfbuzz): Devanagari needs it for
conjuncts and vowel signs (कि, क्ष), which would otherwise print as separate, broken letters.
Then `pdf.set_font(FAMILY, size=...)` (style "" or "B") writes English and Hindi alike."""

from __future__ import annotations

from pathlib import Path

FONTS = Path(__file__).resolve().parent / "fonts"
FAMILY = "NotoSans"
DEVANAGARI = "NotoSansDevanagari"


def use_fonts(pdf) -> str:
    """Add the fonts to `pdf` (an fpdf.FPDF), select the family, and answer its name."""
    for family, stem in ((FAMILY, "NotoSans"), (DEVANAGARI, "NotoSansDevanagari")):
        pdf.add_font(family, "", str(FONTS / f"{stem}-Regular.ttf"))
        pdf.add_font(family, "B", str(FONTS / f"{stem}-Bold.ttf"))
    pdf.set_fallback_fonts([DEVANAGARI], exact_match=False)
    pdf.set_text_shaping(True)
    pdf.set_font(FAMILY, size=10)
    _reselect_after_each_line(pdf)
    return FAMILY


def _reselect_after_each_line(pdf) -> None:
    """fpdf2 (2.8.9, py-pdf/fpdf2 issues 1488 and 1772) selects the fallback font inside a
    line's text object and then believes the page still has the main font: the next cell in
    the same font writes Noto Sans glyph numbers with Noto Sans Devanagari selected, so a
    "4" after "कुल: 2 बड़ी बोरियाँ" printed as ":" or not at all. After every line the
    page's font is taken as unknown, so the next line selects its font again (one Tf more
    per line; tests/documents/test_pdf_fonts.py holds it)."""
    render = pdf._render_styled_text_line

    def render_then_forget_the_font(*args, **kwargs):
        try:
            return render(*args, **kwargs)
        finally:
            pdf.current_font_is_set_on_page = False

    pdf._render_styled_text_line = render_then_forget_the_font
