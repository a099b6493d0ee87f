"""The manifest of one dispatch as a PDF (issue 20, item 4): what the driver carries and the
warehouse files. Drawn from a plain Manifest (no database, no Flask) so that the layout is
tested on its own and the same data feeds the page, the e-mail attachment and the tests.

A4 portrait: the dispatch code and its QR (scanned at the gate or at the destination), the
truck's details, the totals against what was planned, every parent with its bag count
(the table goes on over as many pages as it needs, its header repeated), the parents
returned, and signature boxes for the loader and the driver, kept together on one page.

The words are in the request's language (English outside a request: the day's summary) and
set in Noto Sans with Noto Sans Devanagari (app/i18n_pdf.py), so Hindi words, and a
destination or a driver's name typed in Devanagari, print as written; a character neither
font has is left out rather than failing the document."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal
from flask_babel import get_locale
from flask_babel import gettext as _
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from app.display import exact
from app.domain import N_
from app.i18n_pdf import FAMILY, use_fonts
from app.pdfqr import draw_qr

MARGIN = 14.0
QR_SIZE = 34.0
ROW_HEIGHT = 6.2
# No., parent, bags, loaded at, loaded by: widths in mm, summing to the text width (182).
COLUMNS = ((N_("No."), 14.0, "R"), (N_("Parent"), 52.0, "L"), (N_("Bags"), 22.0, "R"),
           (N_("Loaded at"), 50.0, "L"), (N_("Loaded by"), 44.0, "L"))
SIGNATURE_HEIGHT = 44.0
GREY = (110, 110, 110)
RULE = (170, 170, 170)
STATUS_WORDS = {"loading": N_("Loading (not dispatched yet)"), "dispatched": N_("Dispatched"),
                "cancelled": N_("Cancelled"), "received": N_("Received")}


@dataclass(frozen=True)
class ManifestParent:
    code: str
    children: int
    loaded_at: datetime | None = None
    loaded_by: str | None = None


@dataclass(frozen=True)
class ManifestReturn:
    code: str
    children: int
    returned_at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Manifest:
    code: str
    status: str
    destination: str
    vehicle_number: str
    expected_parents: int
    child_weight_kg: float
    expected_weight_kg: float
    driver: str | None = None
    transporter: str | None = None
    reference: str | None = None
    short_reason: str | None = None
    created_at: datetime | None = None
    created_by: str | None = None
    dispatched_at: datetime | None = None
    dispatched_by: str | None = None
    parents: list[ManifestParent] = field(default_factory=list)
    returned: list[ManifestReturn] = field(default_factory=list)
    timezone: str = "UTC"
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def children(self) -> int:
        return sum(parent.children for parent in self.parents)

    @property
    def weight_kg(self) -> float:
        return self.children * self.child_weight_kg


def number(value: float) -> str:
    """1,200 or 1,200.5: a whole number without decimals; grouped as the request's language
    groups (12,34,567 in Hindi), Latin digits always."""
    value = float(value)
    shown = int(value) if value.is_integer() else round(value, 1)
    return format_decimal(shown, locale=get_locale() or "en", numbering_system="latn")


class ManifestPDF(FPDF):
    def __init__(self, manifest: Manifest):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.manifest = manifest
        self.zone = ZoneInfo(manifest.timezone)
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(auto=True, margin=18)
        use_fonts(self)
        self.set_title(_("Dispatch manifest %(code)s", code=manifest.code))
        self.set_author("TraceTrack")
        self.set_creation_date(manifest.generated_at)
        self.table_started = False

    def moment(self, value: datetime | None) -> str:
        return exact(value.astimezone(self.zone)) if value else ""

    def when_by(self, value: datetime | None, who: str | None) -> str:
        """"5 Dec 2026, 12:02 by asha", either part alone, or empty."""
        if value and who:
            return _("%(when)s by %(user)s", when=self.moment(value), user=who)
        return self.moment(value) or who or ""

    # -- every page ------------------------------------------------------------------------
    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_font(FAMILY, "B", 10)
        self.cell(0, 6, _("Dispatch %(code)s - %(vehicle)s to %(destination)s",
                          code=self.manifest.code, vehicle=self.manifest.vehicle_number,
                          destination=self.manifest.destination),
                  new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(2)
        if self.table_started:
            self.table_header()

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FAMILY, "", 8)
        self.set_text_color(*GREY)
        printed = exact(self.manifest.generated_at.astimezone(self.zone))
        self.cell(0, 5, _("Dispatch %(code)s   -   printed %(printed)s (%(zone)s)",
                          code=self.manifest.code, printed=printed,
                          zone=self.manifest.timezone), align="L")
        self.set_x(MARGIN)
        # {nb}: the number of pages, filled in by fpdf when the document is done.
        self.cell(0, 5, _("Page %(page)s of %(pages)s", page=self.page_no(), pages="{nb}"),
                  align="R")
        self.set_text_color(0, 0, 0)

    # -- first page --------------------------------------------------------------------------
    def title_block(self) -> None:
        m = self.manifest
        top = self.get_y()
        draw_qr(self, m.code, self.w - MARGIN - QR_SIZE, top - 2, QR_SIZE)
        self.set_font(FAMILY, "", 9)
        self.set_text_color(*GREY)
        self.cell(0, 5, _("DISPATCH MANIFEST"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0, 0, 0)
        self.set_font(FAMILY, "B", 24)
        self.cell(0, 12, m.code, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(FAMILY, "B", 11)
        self.cell(0, 6, _(STATUS_WORDS[m.status]) if m.status in STATUS_WORDS
                  else m.status.title(), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_y(max(self.get_y(), top + QR_SIZE - 4))
        self.ln(2)

    def details(self) -> None:
        m = self.manifest
        pairs = [
            (_("Vehicle"), m.vehicle_number), (_("Destination"), m.destination),
            (_("Driver"), m.driver or ""), (_("Transporter"), m.transporter or ""),
            (_("Reference (LR / invoice)"), m.reference or ""),
            (_("Expected"), _("%(parents)s parents, %(kg)s kg", parents=number(m.expected_parents),
                              kg=number(m.expected_weight_kg))),
            (_("Opened"), self.when_by(m.created_at, m.created_by)),
            (_("Dispatched"), self.when_by(m.dispatched_at, m.dispatched_by) or _("not yet")),
        ]
        half = (self.w - 2 * MARGIN) / 2
        for index in range(0, len(pairs), 2):
            y = self.get_y()
            for column, (label, value) in enumerate(pairs[index:index + 2]):
                self.set_xy(MARGIN + column * half, y)
                self.set_font(FAMILY, "", 8)
                self.set_text_color(*GREY)
                self.cell(half - 4, 4, label)
                self.set_xy(MARGIN + column * half, y + 4)
                self.set_text_color(0, 0, 0)
                self.set_font(FAMILY, "B", 11)
                self.cell(half - 4, 6, value[:60])
            self.set_xy(MARGIN, y + 11.5)
        if m.short_reason:
            self.set_font(FAMILY, "", 9)
            self.multi_cell(0, 5, _("Dispatched short: %(reason)s", reason=m.short_reason),
                            new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)

    def totals(self) -> None:
        m = self.manifest
        self.set_fill_color(238, 238, 238)
        self.set_font(FAMILY, "B", 12)
        text = "     ".join((
            _("%(loaded)s / %(expected)s parents", loaded=number(len(m.parents)),
              expected=number(m.expected_parents)),
            _("%(bags)s bags", bags=number(m.children)),
            _("%(kg)s kg of %(expected)s kg", kg=number(m.weight_kg),
              expected=number(m.expected_weight_kg))))
        self.cell(0, 10, text, fill=True, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(3)

    # -- the table ---------------------------------------------------------------------------
    def table_header(self) -> None:
        self.set_font(FAMILY, "B", 9)
        self.set_draw_color(*RULE)
        for title, width, align in COLUMNS:
            self.cell(width, ROW_HEIGHT, _(title), border="B", align=align)
        self.ln(ROW_HEIGHT)
        self.set_font(FAMILY, "", 10)

    def parent_rows(self) -> None:
        m = self.manifest
        self.table_header()
        self.table_started = True
        for position, parent in enumerate(m.parents, start=1):
            values = (str(position), parent.code, number(parent.children),
                      self.moment(parent.loaded_at), parent.loaded_by or "")
            for (_title, width, align), value in zip(COLUMNS, values, strict=True):
                self.cell(width, ROW_HEIGHT, value[:40], border="B", align=align)
            self.ln(ROW_HEIGHT)
        if not m.parents:
            self.set_font(FAMILY, "", 10)
            self.cell(0, ROW_HEIGHT, _("No parents are loaded."), new_x=XPos.LMARGIN,
                      new_y=YPos.NEXT)
        self.table_started = False
        self.set_font(FAMILY, "B", 10)
        widths = [width for _title, width, _align in COLUMNS]
        self.cell(widths[0] + widths[1], ROW_HEIGHT,
                  _("Total: %(count)s parents", count=number(len(m.parents))))
        self.cell(widths[2], ROW_HEIGHT, number(m.children), align="R")
        self.cell(0, ROW_HEIGHT, "   " + _("%(kg)s kg", kg=number(m.weight_kg)),
                  new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(3)

    def returned_rows(self) -> None:
        if not self.manifest.returned:
            return
        self.set_font(FAMILY, "B", 10)
        self.cell(0, 7, _("Returned to the warehouse (not on this truck)"),
                  new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(FAMILY, "", 9)
        for item in self.manifest.returned:
            line = "  ".join((item.code, "(" + _("%(bags)s bags", bags=number(item.children)) + ")",
                              self.moment(item.returned_at), item.reason or ""))
            self.multi_cell(0, 5, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(3)

    # -- signatures --------------------------------------------------------------------------
    def signatures(self) -> None:
        if self.get_y() + SIGNATURE_HEIGHT > self.h - 20:
            self.add_page()
        self.ln(2)
        top = self.get_y()
        gap = 8.0
        width = (self.w - 2 * MARGIN - gap) / 2
        self.set_draw_color(0, 0, 0)
        for index, who in enumerate((_("Loaded by (warehouse)"), _("Driver"))):
            x = MARGIN + index * (width + gap)
            self.rect(x, top, width, SIGNATURE_HEIGHT - 6)
            self.set_xy(x + 2, top + 1.5)
            self.set_font(FAMILY, "B", 10)
            self.cell(width - 4, 5, who)
            self.set_font(FAMILY, "", 8)
            self.set_text_color(*GREY)
            for line, label in enumerate((_("Name"), _("Signature"), _("Date and time"))):
                y = top + 14 + line * 8
                self.line(x + 24, y, x + width - 3, y)
                self.set_xy(x + 2, y - 4)
                self.cell(22, 4, label)
            self.set_text_color(0, 0, 0)
        self.set_y(top + SIGNATURE_HEIGHT)


def render_manifest(manifest: Manifest) -> bytes:
    pdf = ManifestPDF(manifest)
    pdf.add_page()
    pdf.title_block()
    pdf.details()
    pdf.totals()
    pdf.parent_rows()
    pdf.returned_rows()
    pdf.signatures()
    return bytes(pdf.output())
