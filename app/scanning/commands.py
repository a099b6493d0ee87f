"""Command barcodes: codes a station reads like any scan that press its buttons, so a
station is run with the scanner alone (issue 18, item 4).

Every command code starts with "TT:". The colon is kept by the normaliser (it is neither
invisible nor a control character, and NFKC and upper-casing leave it alone) and refused
by every bag code pattern (parent codes are letters, digits and "-", child codes letters and
digits), so a command code is never taken for a bag code and no bag label can be read as a
command. The station checks for command codes before anything else; a deployment that
changes the code patterns must keep ":" out of them (tests/browser/test_commands.py holds
the defaults to that)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from app.domain import N_

PREFIX = "TT:"


@dataclass(frozen=True)
class Command:
    action: str   # what the station does: the form's action value
    code: str     # what the barcode holds
    word: str     # printed under the barcode and on the button
    help: str     # when to scan it


# word and help are English, marked for the catalogs; the page says them in its language.
COMMANDS = (
    Command("finish", PREFIX + "FINISH", N_("Finish"),
            N_("Finish the open parent. If it is not full, the station asks first.")),
    Command("finish_short", PREFIX + "CONFIRM", N_("Yes, finish short"),
            N_("Answers \u201cFinish it short?\u201d with yes. Does nothing otherwise.")),
    Command("cancel", PREFIX + "CANCEL", N_("Cancel"),
            N_("Answers \u201cFinish it short?\u201d with no: keep filling the parent.")),
    Command("undo", PREFIX + "UNDO", N_("Undo last"),
            N_("Takes the last bag scanned out of the open parent.")),
    Command("new_parent", PREFIX + "NEW", N_("New parent"),
            N_("Leaves the open parent as it is; then scan the next parent bag.")),
)

BY_CODE = {command.code: command for command in COMMANDS}


def command_for(normalised_code: str) -> Command | None:
    return BY_CODE.get(normalised_code)


@cache
def qr_data_uri(code: str) -> str:
    """The command's QR code as an SVG data URI (the CSP allows data: images)."""
    import segno

    return segno.make_qr(code, error="m").svg_data_uri(scale=6, border=2)


def command_sheet_pdf() -> bytes:
    """The printable sheet: the same label code as the parent labels (app/labels/sheets.py),
    on A4 3 x 8 stock, each label the command's QR with its word and its code under it."""
    from flask_babel import gettext

    from app.labels.sheets import LAYOUTS, Label, render_sheet

    # The word under each barcode in the reader's language (the fonts print Devanagari).
    labels = [Label(command.code, gettext(command.word), command.code) for command in COMMANDS]
    return render_sheet(labels, LAYOUTS["a4-3x8"], title=gettext("Station command barcodes"))
