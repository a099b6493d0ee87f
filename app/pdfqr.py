"""A QR code drawn into an fpdf2 page as vector rectangles (labels, manifests).

segno encodes (error correction M at least; it raises the level when the code has room), and
each row's runs of dark modules become one rectangle: the PDF stays small and sharp at any
printer resolution, with no bitmap. The quiet zone (4 modules, as ISO/IEC 18004 asks) is part
of `size`, so whatever is printed next to the code keeps its distance."""

from __future__ import annotations

import segno
from fpdf.enums import PathPaintRule

QUIET_ZONE = 4


def qr_modules(text: str) -> list[tuple[int, ...]]:
    """The symbol's rows including the quiet zone: 1 for a dark module, 0 for a light one."""
    return [tuple(row) for row in segno.make(text, error="m", micro=False).matrix_iter(border=QUIET_ZONE)]


def draw_qr(pdf, text: str, x: float, y: float, size: float) -> None:
    """Draw the QR of `text` in the square (x, y, size) of the page, in the page's unit.
    One filled path of rectangles: a rasteriser leaves no hairline seams between the rows
    (separate rectangles showed white seams that stopped zbar decoding at 150 dpi)."""
    rows = qr_modules(text)
    module = size / len(rows)
    with pdf.new_path() as path:
        path.style.fill_color = "#000000"
        path.style.stroke_color = None
        path.style.paint_rule = PathPaintRule.FILL_NONZERO
        for r, row in enumerate(rows):
            c = 0
            while c < len(row):
                if not row[c]:
                    c += 1
                    continue
                start = c
                while c < len(row) and row[c]:
                    c += 1
                path.rectangle(x + start * module, y + r * module, (c - start) * module, module)
