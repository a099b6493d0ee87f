"""The manifest of one dispatch as a PDF (issue 20, item 4): what the driver carries and the
warehouse files. Drawn from a plain Manifest (no database, no Flask) so that the layout is
tested on its own and the same data feeds the page, the e-mail attachment and the tests.

A4 portrait: the dispatch code and its QR (scanned at the gate or at the destination), the
truck's details, the totals against what was planned, every parent with its bag count
(the table goes on over as many pages as it needs, its header repeated), the parents
returned, and signature boxes for the loader and the driver, kept together on one page.

Text is set in the PDF core font Helvetica (Latin-1): a character outside it prints as "?"
rather than failing the document; an embedded Devanagari font comes with the Hindi work."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from app.display import exact
from app.pdfqr import draw_qr

MARGIN = 14.0
QR_SIZE = 34.0
ROW_HEIGHT = 6.2
# No., parent, bags, loaded at, loaded by: widths in mm, summing to the text width (182).
COLUMNS = (("No.", 14.0, "R"), ("Parent", 52.0, "L"), ("Bags", 22.0, "R"),
           ("Loaded at", 50.0, "L"), ("Loaded by", 44.0, "L"))
SIGNATURE_HEIGHT = 44.0
GREY = (110, 110, 110)
RULE = (170, 170, 170)
STATUS_WORDS = {"loading": "Loading (not dispatched yet)", "dispatched": "Dispatched",
                "cancelled": "Cancelled", "received": "Received"}


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


# Typographic characters people paste from other documents, in the core font's nearest form.
_PLAIN = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'",
                        "\u201c": '"', "\u201d": '"', "\u2026": "...", "\u20b9": "Rs"})


def latin(text: object) -> str:
    """Text the core font can set: anything else outside Latin-1 becomes '?'."""
    return str(text).translate(_PLAIN).encode("latin-1", "replace").decode("latin-1")


def number(value: float) -> str:
    """1,200 or 1,200.5: a whole number without decimals."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


class ManifestPDF(FPDF):
    def __init__(self, manifest: Manifest):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.manifest = manifest
        self.zone = ZoneInfo(manifest.timezone)
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(auto=True, margin=18)
        self.set_title(latin(f"Dispatch manifest {manifest.code}"))
        self.set_author("TraceTrack")
        self.set_creation_date(manifest.generated_at)
        self.table_started = False

    def moment(self, value: datetime | None) -> str:
        return exact(value.astimezone(self.zone)) if value else ""

    # -- every page ------------------------------------------------------------------------
    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_font("Helvetica", "B", 10)
        self.cell(0, 6, latin(f"Dispatch {self.manifest.code} - "
                              f"{self.manifest.vehicle_number} to {self.manifest.destination}"),
                  new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(2)
        if self.table_started:
            self.table_header()

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(*GREY)
        printed = exact(self.manifest.generated_at.astimezone(self.zone))
        self.cell(0, 5, latin(f"Dispatch {self.manifest.code}   -   printed {printed} "
                              f"({self.manifest.timezone})"), align="L")
        self.set_x(MARGIN)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(0, 0, 0)

    # -- first page --------------------------------------------------------------------------
    def title_block(self) -> None:
        m = self.manifest
        top = self.get_y()
        draw_qr(self, m.code, self.w - MARGIN - QR_SIZE, top - 2, QR_SIZE)
        self.set_font("Helvetica", "", 9)
        self.set_text_color(*GREY)
        self.cell(0, 5, "DISPATCH MANIFEST", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0, 0, 0)
        self.set_font("Helvetica", "B", 24)
        self.cell(0, 12, latin(m.code), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font("Helvetica", "B", 11)
        self.cell(0, 6, latin(STATUS_WORDS.get(m.status, m.status.title())),
                  new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_y(max(self.get_y(), top + QR_SIZE - 4))
        self.ln(2)

    def details(self) -> None:
        m = self.manifest
        pairs = [
            ("Vehicle", m.vehicle_number), ("Destination", m.destination),
            ("Driver", m.driver or ""), ("Transporter", m.transporter or ""),
            ("Reference (LR / invoice)", m.reference or ""),
            ("Expected", f"{m.expected_parents:,} parents, {number(m.expected_weight_kg)} kg"),
            ("Opened", " by ".join(filter(None, [self.moment(m.created_at), m.created_by]))),
            ("Dispatched", " by ".join(filter(None, [self.moment(m.dispatched_at),
                                                     m.dispatched_by])) or "not yet"),
        ]
        half = (self.w - 2 * MARGIN) / 2
        for index in range(0, len(pairs), 2):
            y = self.get_y()
            for column, (label, value) in enumerate(pairs[index:index + 2]):
                self.set_xy(MARGIN + column * half, y)
                self.set_font("Helvetica", "", 8)
                self.set_text_color(*GREY)
                self.cell(half - 4, 4, latin(label))
                self.set_xy(MARGIN + column * half, y + 4)
                self.set_text_color(0, 0, 0)
                self.set_font("Helvetica", "B", 11)
                self.cell(half - 4, 6, latin(value)[:60])
            self.set_xy(MARGIN, y + 11.5)
        if m.short_reason:
            self.set_font("Helvetica", "", 9)
            self.multi_cell(0, 5, latin(f"Dispatched short: {m.short_reason}"),
                            new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)

    def totals(self) -> None:
        m = self.manifest
        self.set_fill_color(238, 238, 238)
        self.set_font("Helvetica", "B", 12)
        text = (f"{len(m.parents):,} / {m.expected_parents:,} parents     "
                f"{m.children:,} bags     {number(m.weight_kg)} kg of "
                f"{number(m.expected_weight_kg)} kg")
        self.cell(0, 10, latin(text), fill=True, align="C", new_x=XPos.LMARGIN,
                  new_y=YPos.NEXT)
        self.ln(3)

    # -- the table ---------------------------------------------------------------------------
    def table_header(self) -> None:
        self.set_font("Helvetica", "B", 9)
        self.set_draw_color(*RULE)
        for title, width, align in COLUMNS:
            self.cell(width, ROW_HEIGHT, title, border="B", align=align)
        self.ln(ROW_HEIGHT)
        self.set_font("Helvetica", "", 10)

    def parent_rows(self) -> None:
        m = self.manifest
        self.table_header()
        self.table_started = True
        for position, parent in enumerate(m.parents, start=1):
            values = (str(position), parent.code, f"{parent.children:,}",
                      self.moment(parent.loaded_at), parent.loaded_by or "")
            for (_title, width, align), value in zip(COLUMNS, values, strict=True):
                self.cell(width, ROW_HEIGHT, latin(value)[:40], border="B", align=align)
            self.ln(ROW_HEIGHT)
        if not m.parents:
            self.set_font("Helvetica", "I", 10)
            self.cell(0, ROW_HEIGHT, "No parents are loaded.", new_x=XPos.LMARGIN,
                      new_y=YPos.NEXT)
        self.table_started = False
        self.set_font("Helvetica", "B", 10)
        widths = [width for _title, width, _align in COLUMNS]
        self.cell(widths[0] + widths[1], ROW_HEIGHT, latin(f"Total: {len(m.parents):,} parents"))
        self.cell(widths[2], ROW_HEIGHT, f"{m.children:,}", align="R")
        self.cell(0, ROW_HEIGHT, latin(f"   {number(m.weight_kg)} kg"),
                  new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(3)

    def returned_rows(self) -> None:
        if not self.manifest.returned:
            return
        self.set_font("Helvetica", "B", 10)
        self.cell(0, 7, "Returned to the warehouse (not on this truck)",
                  new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font("Helvetica", "", 9)
        for item in self.manifest.returned:
            line = (f"{item.code}  ({item.children:,} bags)  {self.moment(item.returned_at)}"
                    f"  {item.reason or ''}")
            self.multi_cell(0, 5, latin(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
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
        for index, who in enumerate(("Loaded by (warehouse)", "Driver")):
            x = MARGIN + index * (width + gap)
            self.rect(x, top, width, SIGNATURE_HEIGHT - 6)
            self.set_xy(x + 2, top + 1.5)
            self.set_font("Helvetica", "B", 10)
            self.cell(width - 4, 5, who)
            self.set_font("Helvetica", "", 8)
            self.set_text_color(*GREY)
            for line, label in enumerate(("Name", "Signature", "Date and time")):
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
