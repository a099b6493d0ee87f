"""Parent code series (issue 22, DESIGN 8.3): which prefixes can carry parent codes, how wide
their numbers are, and which codes come next. Decisions only: the service reads the counter
and the codes already taken, and stores what this answers.

A series code is the prefix followed by a zero-padded number (SB00042, M444-00042). The width
is the smallest one for which the prefix with numbers of that width matches
PARENT_CODE_PATTERN; a prefix with no such width can never be a parent code and is refused."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from app.domain import DomainError, Text
from app.rules.codes import matches, printable

MAX_COUNT = 1000
MAX_COUNT_WORDS = f"{MAX_COUNT:,}"  # as a message writes it
MAX_WIDTH = 12
PREFIX_SHAPE = re.compile(r"[A-Z0-9][A-Z0-9-]{0,15}", re.ASCII)


@dataclass(frozen=True)
class SeriesPlan:
    prefix: str
    width: int
    count: int

    @property
    def last_number(self) -> int:
        return 10 ** self.width - 1

    def code(self, number: int) -> str:
        return f"{self.prefix}{number:0{self.width}d}"


def refuse(field: str, message: Text) -> DomainError:
    return DomainError("invalid_input", message, field=field)


def number_width(prefix: str, pattern: str) -> int | None:
    """The smallest width w for which prefix + w digits is a parent code, or None."""
    for width in range(1, MAX_WIDTH + 1):
        if matches(pattern, prefix + "0" * (width - 1) + "1") and matches(pattern, prefix + "9" * width):
            return width
    return None


def plan_series(raw_prefix: object, raw_count: object, pattern: str, example: str) -> SeriesPlan:
    """A checked request for `count` codes of `prefix`, or DomainError invalid_input naming
    the field. The prefix is read as a scanned code is: trimmed and upper-cased."""
    if not isinstance(raw_prefix, str) or not raw_prefix.strip():
        raise refuse("prefix", Text("Type the letters the codes start with, for example SB."))
    prefix = raw_prefix.strip().upper()
    if not PREFIX_SHAPE.fullmatch(prefix):
        raise refuse("prefix", Text("\u201c%(prefix)s\u201d cannot start a parent code: use up "
                                    "to 16 letters, digits and dashes, for example SB.",
                                    prefix=printable(prefix, 20)))
    width = number_width(prefix, pattern)
    if width is None:
        raise refuse("prefix", Text("No parent code starts with \u201c%(prefix)s\u201d followed "
                                    "by a number: parent codes look like %(example)s.",
                                    prefix=prefix, example=example))
    if isinstance(raw_count, bool) or not isinstance(raw_count, int):
        raise refuse("count", Text("Say how many labels: a whole number from 1 to %(most)s.",
                                   most=MAX_COUNT_WORDS))
    count = raw_count
    if not 1 <= count <= MAX_COUNT:
        raise refuse("count", Text("Ask for 1 to %(most)s labels at a time.",
                                   most=MAX_COUNT_WORDS))
    return SeriesPlan(prefix, width, count)


def candidates(plan: SeriesPlan, start: int, how_many: int) -> list[tuple[int, str]]:
    """The next `how_many` numbers from `start` with their codes (fewer at the end of the range)."""
    stop = min(plan.last_number, start + how_many - 1)
    return [(number, plan.code(number)) for number in range(max(start, 1), stop + 1)]


def pick_free(numbered: Iterable[tuple[int, str]], taken: set[str], wanted: int) -> list[tuple[int, str]]:
    """The first `wanted` codes that nobody holds, in number order."""
    free = []
    for number, code in numbered:
        if code not in taken:
            free.append((number, code))
            if len(free) == wanted:
                break
    return free


def exhausted(plan: SeriesPlan, found: int) -> DomainError:
    left = f"{found:,}"
    return DomainError(
        "prefix_exhausted",
        Text("Only %(found)s unused codes are left for %(prefix)s (up to %(last)s): ask for "
             "fewer, or use another prefix.", found=left, prefix=plan.prefix,
             last=plan.code(plan.last_number)),
        409, field="count", available=found)
