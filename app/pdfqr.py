"""A QR code drawn into an fpdf2 page as vector rectangles (labels, manifests).

segno encodes (error correction M at least; it raises the level when the code has room), and
each row's runs of dark modules become one rectangle: the PDF stays small and sharp at any
printer resolution, with no bitmap. The quiet zone (4 modules, as ISO/IEC 18004 asks) is part
of `size`, so whatever is printed next to the code keeps its distance."""

from __future__ import annotations

import segno

QUIET_ZONE = 4


def qr_modules(text: str) -> list[tuple[int, ...]]:
    """The symbol's rows including the quiet zone: 1 for a dark module, 0 for a light one."""
    return [tuple(row) for row in segno.make(text, error="m", micro=False).matrix_iter(border=QUIET_ZONE)]


def dark_rectangles(rows: list[tuple[int, ...]]) -> list[tuple[int, int, int, int]]:
    """The dark modules as few rectangles (column, row, width, height): each row's runs, and a
    run that repeats in the next row grows down instead of starting a new rectangle."""
    done: list[tuple[int, int, int, int]] = []
    growing: dict[tuple[int, int], list[int]] = {}  # (start, width) -> [top row, height]
    for r, row in enumerate(rows):
        runs, c = set(), 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            runs.add((start, c - start))
        for run in list(growing):
            if run not in runs:
                top, height = growing.pop(run)
                done.append((run[0], top, run[1], height))
        for run in runs:
            if run in growing:
                growing[run][1] += 1
            else:
                growing[run] = [r, 1]
    done += [(run[0], top, run[1], height) for run, (top, height) in growing.items()]
    return sorted(done, key=lambda rect: (rect[1], rect[0]))


def draw_qr(pdf, text: str, x: float, y: float, size: float) -> None:
    """Draw the QR of `text` in the square (x, y, size) of the page, in the page's unit.
    One filled path of rectangles: a rasteriser leaves no hairline seams between the rows
    (separate rectangles showed white seams that stopped zbar decoding at 150 dpi).

    The path is written as PDF operators into the page: fpdf2's drawing API deep-copies a
    path of hundreds of rectangles (about 6 ms per code, so 6 s for a sheet of 1,000 labels);
    written directly it is a fraction of that. Only the fill colour is set, inside q/Q."""
    rows = qr_modules(text)
    module = size / len(rows)
    k, page_height = pdf.k, pdf.h
    parts = ["q 0 g"]
    for column, row, width, height in dark_rectangles(rows):
        left = (x + column * module) * k
        bottom = (page_height - (y + (row + height) * module)) * k
        parts.append(f"{left:.3f} {bottom:.3f} {width * module * k:.3f} {height * module * k:.3f} re")
    parts.append("f Q")
    pdf._out(" ".join(parts))  # noqa: SLF001  fpdf2 has no public call for raw page content
