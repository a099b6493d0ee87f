"""Label sheets as PDF (DESIGN 8.3, 8.7): A4 stock of 3 x 8 and 4 x 10 labels, and one
50 x 30 mm label per page for roll printers. Each label is the QR of the bare code (drawn as
vectors by app/pdfqr.py, quiet zone kept) with the code in large text under it. The station's
command sheet (/scan/commands.pdf) is drawn by the same code.

Places are filled row by row, left to right; `skip` leaves the first places of a partly used
sheet empty."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext
from fpdf import FPDF

from app.domain import N_, DomainError, Text
from app.i18n_pdf import FAMILY, use_fonts
from app.pdfqr import draw_qr

# Noto Sans with Noto Sans Devanagari (app/i18n_pdf.py): a label's words (a command's, on the
# station's sheet) print in any language; codes are Latin and print as they are.
FONT = FAMILY
PT = 25.4 / 72      # millimetres per point


@dataclass(frozen=True)
class Layout:
    name: str
    title: str
    page: tuple[float, float]          # width, height in mm
    label: tuple[float, float]
    grid: tuple[int, int]              # columns, rows
    origin: tuple[float, float]        # the first label's top-left corner
    gap: tuple[float, float] = (0, 0)  # between columns, between rows

    @property
    def places(self) -> int:
        return self.grid[0] * self.grid[1]

    def corner(self, place: int) -> tuple[float, float]:
        row, column = divmod(place, self.grid[0])
        return (self.origin[0] + column * (self.label[0] + self.gap[0]),
                self.origin[1] + row * (self.label[1] + self.gap[1]))


LAYOUTS = {
    layout.name: layout for layout in (
        Layout("a4-3x8", N_("A4, 3 x 8 labels of 70 x 37 mm"), (210, 297), (70, 37), (3, 8),
               (0, 0.5)),
        Layout("a4-4x10", N_("A4, 4 x 10 labels of 48.5 x 25.4 mm"), (210, 297), (48.5, 25.4),
               (4, 10), (8, 21.5)),
        Layout("single", N_("One 50 x 30 mm label per page (roll printers)"), (50, 30),
               (50, 30), (1, 1), (0, 0)),
    )
}
DEFAULT_LAYOUT = "a4-3x8"


@dataclass(frozen=True)
class Label:
    data: str                # what the QR holds
    text: str                # the large line under it
    small: str | None = None  # an optional second, smaller line


def parse_layout(raw: str | None) -> Layout:
    layout = LAYOUTS.get(raw or DEFAULT_LAYOUT)
    if layout is None:
        raise DomainError("invalid_input", Text("layout must be one of %(layouts)s.",
                                                layouts=", ".join(LAYOUTS)), field="layout")
    return layout


def parse_skip(raw: str | None, layout: Layout) -> int:
    """How many places of the first sheet are used already: 0 to places - 1."""
    if raw in (None, ""):
        return 0
    most = layout.places - 1
    if not raw.isascii() or not raw.isdigit() or int(raw) > most:
        raise DomainError("invalid_input",
                          Text("skip must be a whole number from 0 to %(most)s (places already "
                               "used on the first %(layout)s sheet).", most=most,
                               layout=layout.name), field="skip")
    return int(raw)


def label_geometry(width: float, height: float, small_line: bool = False) -> tuple[float, ...]:
    """(pad, text height, small text height, QR square with its quiet zone) in mm."""
    pad = min(1.5, height * 0.05)
    text_mm = height * (0.13 if small_line else 0.17)
    small_mm = height * 0.08 if small_line else 0
    return pad, text_mm, small_mm, min(height - text_mm - small_mm - pad, width - 2 * pad)


def draw_label(pdf: FPDF, label: Label, x: float, y: float, width: float, height: float) -> None:
    """The QR centred at the top of the label's box, the text centred under it."""
    pad, text_mm, small_mm, qr = label_geometry(width, height, bool(label.small))
    draw_qr(pdf, label.data, x + (width - qr) / 2, y + pad / 2, qr)
    top = y + pad / 2 + qr
    _centred_line(pdf, label.text, x, top, width, text_mm, bold=True)
    if label.small:
        _centred_line(pdf, label.small, x, top + text_mm, width, small_mm, bold=False)


def _centred_line(pdf: FPDF, text: str, x: float, y: float, width: float, height: float,
                  bold: bool) -> None:
    size = height / PT * 0.95
    pdf.set_font(FONT, "B" if bold else "", size)
    while size > 4 and pdf.get_string_width(text) > width - 3:
        size -= 0.5
        pdf.set_font_size(size)
    pdf.set_xy(x, y)
    pdf.cell(width, height, text, align="C")


def render_sheet(labels: list[Label], layout: Layout, skip: int = 0,
                 title: str | None = None) -> bytes:
    """The sheets as a PDF; `title` (the document's, in the request's language) defaults to
    "Labels"."""
    pdf = FPDF(unit="mm", format=layout.page)
    use_fonts(pdf)
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    stock = gettext(layout.title)
    pdf.set_title(f"{title or gettext('Labels')} ({stock})")
    pdf.set_subject(gettext("layout %(name)s: %(stock)s", name=layout.name, stock=stock))
    pdf.set_creator("TraceTrack")
    places: list[Label | None] = [None] * skip + list(labels)
    for index, label in enumerate(places):
        place = index % layout.places
        if place == 0:
            pdf.add_page()
        if label is not None:
            draw_label(pdf, label, *layout.corner(place), *layout.label)
    if not places:
        pdf.add_page()
    return bytes(pdf.output())


def code_labels(codes: list[str]) -> list[Label]:
    return [Label(code, code) for code in codes]
