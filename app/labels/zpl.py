"""ZPL II for Zebra label printers (DESIGN 8.3): one ^XA ... ^XZ block per code, a 50 x 30 mm
label with the QR of the bare code (^BQ, model 2, error correction M) and the code in large
text under it, at 203 or 300 dpi."""

from __future__ import annotations

from app.domain import DomainError, Text
from app.pdfqr import QUIET_ZONE, qr_modules

DPIS = (203, 300)
DOTS_PER_MM = {203: 8, 300: 12}  # 203 dpi is 8 dots/mm; 300 dpi is 11.8, printed as 12
MODULE_DOTS = {203: 6, 300: 9}   # 0.75 mm modules: read from 20 cm by a handheld imager
LABEL_MM = (50, 30)


def parse_dpi(raw: str | None) -> int:
    if raw in (None, ""):
        return 203
    if raw.strip() in ("203", "300"):
        return int(raw)
    raise DomainError("invalid_input", Text("dpi must be 203 or 300 (the printer's "
                                            "resolution)."), field="dpi")


def zpl_label(code: str, dpi: int = 203) -> str:
    """One label. Codes with ^ or ~ (ZPL's command characters) are refused: no bag code has
    them under the default patterns."""
    if "^" in code or "~" in code or not code.isprintable():
        raise DomainError("invalid_input", Text("%(code)s cannot be printed in ZPL.",
                                                code=repr(code)), field="code")
    dots, module = DOTS_PER_MM[dpi], MODULE_DOTS[dpi]
    width, height = LABEL_MM[0] * dots, LABEL_MM[1] * dots
    symbol = (len(qr_modules(code)) - 2 * QUIET_ZONE) * module
    x = max(0, (width - symbol) // 2)
    y = QUIET_ZONE * module // 2 + dots  # the label's edge is blank: half a quiet zone + 1 mm
    text_y = y + symbol + QUIET_ZONE * module // 2
    text_h = min(5 * dots, height - text_y - dots // 2)
    return (f"^XA\n^CI28\n^PW{width}\n^LL{height}\n^LH0,0\n"
            f"^FO{x},{y}^BQN,2,{module}^FDMA,{code}^FS\n"
            f"^FO0,{text_y}^FB{width},1,0,C,0^A0N,{text_h},{text_h}^FD{code}^FS\n"
            f"^XZ\n")


def zpl_labels(codes: list[str], dpi: int = 203) -> str:
    return "".join(zpl_label(code, dpi) for code in codes)
