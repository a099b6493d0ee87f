"""Normalising scanned codes (DESIGN.md section 4). Scanners add CR/LF/TAB suffixes, GS and
NUL bytes, and phone keyboards add zero-width and no-break spaces, full-width digits or the
digits of their own script (Devanagari, Arabic-Indic, ...). The station's JavaScript applies
the same steps before it decides whether a read is a parent, so both sides see one code."""

from __future__ import annotations

import functools
import re
import unicodedata

from app.domain import Text

MAX_RAW_LENGTH = 256  # far above any label; a 10 kB "code" is refused before any work

_INVISIBLE = dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00a0\u202f\u2007\u00ad"), None
)


def _ascii_digit(ch: str) -> str:
    """Every Unicode decimal digit as its ASCII digit: SB१२३४५ is SB12345. NFKC folds only
    the full-width forms; Python's \\d (and a label printer) would keep the others apart."""
    if ch.isascii() or unicodedata.category(ch) != "Nd":
        return ch
    return str(unicodedata.decimal(ch))


class CodeError(ValueError):
    pass


def normalise_code(raw: object) -> str:
    """The canonical form of a scanned code, or CodeError when nothing usable is left.
    Only strings are accepted: a number or boolean would lose leading zeros or meaning."""
    if not isinstance(raw, str):
        raise CodeError(Text("A code must be text, as the scanner types it."))
    if raw.isascii() and raw.isprintable() and len(raw) <= MAX_RAW_LENGTH:
        # Nearly every read: plain ASCII holds no control, invisible, full-width or other
        # script's characters, so stripping and upper-casing is all the steps below do.
        text = raw.strip().upper()
        if not text:
            raise CodeError(Text("Nothing was scanned: scan the code again."))
        return text
    return _normalise_every_step(raw)


def _normalise_every_step(raw: str) -> str:
    if len(raw) > MAX_RAW_LENGTH:
        raise CodeError(Text("The code is longer than %(count)s characters: scan it again.",
                             count=MAX_RAW_LENGTH))
    if any(unicodedata.category(ch) == "Cs" for ch in raw):
        # A lone surrogate is a broken character no label carries: dropping it could turn
        # the read into another real code, so the scan is refused.
        raise CodeError(Text("The code has a broken character in it: scan it again."))
    text = raw.translate(_INVISIBLE)
    text = unicodedata.normalize("NFKC", text)
    # Control characters (CR, LF, TAB, GS, NUL, ...) anywhere are scanner artefacts.
    text = "".join(_ascii_digit(ch) for ch in text if unicodedata.category(ch) != "Cc")
    text = text.strip().upper()
    if not text:
        raise CodeError(Text("Nothing was scanned: scan the code again."))
    return text


def printable(raw: object, limit: int = 64) -> str:
    """Raw input made safe to store and show: no control characters (PostgreSQL text cannot
    hold NUL), no lone surrogates (not encodable), at most `limit` characters."""
    text = raw if isinstance(raw, str) else repr(raw)
    return "".join(ch for ch in text[: limit * 4]
                   if unicodedata.category(ch) not in ("Cc", "Cs"))[:limit]


@functools.lru_cache(maxsize=32)
def _compiled(pattern: str) -> re.Pattern:
    # ASCII mode: \d is 0-9 and \w is [A-Za-z0-9_], whatever digits a phone typed.
    return re.compile(pattern, re.ASCII)


def matches(pattern: str, code: str) -> bool:
    return _compiled(pattern).fullmatch(code) is not None


def is_doubled_read(code: str, min_half: int = 6) -> bool:
    """A scanner that reads a label twice without Enter types the code twice
    (00165860016586). Real labels are not one code written twice."""
    half, rest = divmod(len(code), 2)
    return rest == 0 and half >= min_half and code[:half] == code[half:]
