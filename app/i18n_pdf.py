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
    return FAMILY
