"""The two layouts as a stream of units, each a list of operations decided together:
- a plain table (code, kind, parent_code): every row is a unit of its own;
- the suppliers' sheet (Sr. No., QR Code): numbered rows are child labels, and the next row
  holding a parent code closes their batch: the unit is that parent and its labels."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from app.imports.parsing import CHILD, LABEL_NUMBER, PARENT, TABLE, TABLE_COLUMNS, Header
from app.rules.codes import CodeError, matches, normalise_code, printable


# --- operations ----------------------------------------------------------------------------

@dataclass(slots=True)
class Op:
    """One row as a scan: a parent, or a child into `parent`. `error` refuses the row before
    any lookup (it could not be read as a scan); such rows are reported, not recorded as scan
    events unless `scan` says the row was a real scan attempt."""

    row: int
    kind: str
    code: str
    parent: str | None = None
    parent_row: int | None = None
    error: tuple[str, str] | None = None
    scan: bool = True


@dataclass
class Unit:
    ops: list[Op] = field(default_factory=list)

    @property
    def first_row(self) -> int:
        return min(op.row for op in self.ops)

    @property
    def last_row(self) -> int:
        return max(op.row for op in self.ops)


def units(rows: Iterator[tuple[int, tuple]], header: Header, parent_pattern: str) -> Iterator[Unit]:
    if header.layout == TABLE:
        return _table_units(rows, header)
    return _supplier_units(rows, header, parent_pattern)


def _cell(values: tuple, index: int):
    value = values[index] if index < len(values) else None
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _number_refusal(row: int, kind: str, value) -> Op:
    return Op(row, kind, printable(value), error=(
        "code_is_number",
        "The code is stored as a number in the sheet, which loses leading zeros. Format the "
        "column as Text, type the code again, and import the row again."), scan=False)


def _table_units(rows, header: Header) -> Iterator[Unit]:
    code_at, kind_at, parent_at = (header.columns[name] for name in TABLE_COLUMNS)
    for number, values in rows:
        code, kind, parent = (_cell(values, index) for index in (code_at, kind_at, parent_at))
        if code is None and kind is None and parent is None:
            continue
        kind_text = kind.strip().lower() if isinstance(kind, str) else ""
        op_kind = PARENT if kind_text == PARENT else CHILD
        if code is None:
            op = Op(number, op_kind, "", error=(
                "missing_code", "The code cell is empty. Fill it in, or delete the row."),
                scan=False)
        elif not isinstance(code, str):
            op = _number_refusal(number, op_kind, code)
        elif kind_text not in (PARENT, CHILD):
            op = Op(number, op_kind, code, error=(
                "invalid_kind", f"kind must be parent or child, not "
                                f"{printable(kind) if kind is not None else 'empty'}."),
                scan=False)
        elif parent is not None and not isinstance(parent, str):
            op = _number_refusal(number, op_kind, parent)
        elif kind_text == PARENT and parent is not None:
            op = Op(number, PARENT, code, error=(
                "invalid_row", "A parent cannot go into another parent: clear its "
                               "parent_code, or mark the row as a child."), scan=False)
        elif kind_text == CHILD and parent is None:
            op = Op(number, CHILD, code, error=(
                "missing_parent_code", "A child needs its parent's code in parent_code."),
                scan=False)
        else:
            op = Op(number, op_kind, code, parent=parent)
        yield Unit([op])


def _parent_code(value, parent_pattern: str) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        code = normalise_code(value)
    except CodeError:
        return None
    return code if matches(parent_pattern, code) else None


def _is_number(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float | Decimal):
        return True
    return isinstance(value, str) and re.fullmatch(r"\s*\d+(\.0*)?\s*", value) is not None


def _supplier_units(rows, header: Header, parent_pattern: str) -> Iterator[Unit]:
    number_at, code_at = header.columns["sr_no"], header.columns["qr_code"]
    pending: list[Op] = []
    for number, values in rows:
        serial, label = _cell(values, number_at), _cell(values, code_at)
        if serial is None and label is None:
            continue  # blank rows are skipped
        parent = _parent_code(label, parent_pattern)
        if parent is None and not _is_number(serial):
            parent = _parent_code(serial, parent_pattern)
        if parent is not None:
            for child in pending:
                child.parent, child.parent_row = parent, number
            yield Unit([Op(number, PARENT, parent), *pending])
            pending = []
        elif _is_number(serial):
            pending.append(_label_op(number, label))
        else:
            yield _unreadable_row(number, label if label is not None else serial, pending,
                                  parent_pattern)
            pending = []
    if pending:
        for child in pending:
            if child.error is None:
                child.error = ("parent_not_found",
                               "No parent row follows this label: the file ends after its "
                               "batch. Add the parent's code below the batch and import the "
                               "file again.")
        yield Unit(pending)


def _label_op(number: int, label) -> Op:
    if label is None:
        return Op(number, CHILD, "", error=(
            "missing_code", "This numbered row has no QR Code. Fill it in, or delete the row."),
            scan=False)
    if not isinstance(label, str):
        return _number_refusal(number, CHILD, label)
    match = LABEL_NUMBER.search(label)
    return Op(number, CHILD, match.group(1) if match else label)


def _unreadable_row(number: int, value, pending: list[Op], parent_pattern: str) -> Unit:
    text = printable(value, 40)
    if not pending:
        return Unit([Op(number, PARENT, text, error=(
            "unreadable_row",
            "This row is neither a numbered label nor a parent code. Fix or delete it."),
            scan=False)])
    # The row that should close the batch names no parent: putting the labels above it into
    # the next parent would be wrong, so the batch is refused whole.
    closing = Op(number, PARENT, text, error=(
        "invalid_code",
        f"This row should close the batch of {len(pending)} labels above it with a parent "
        f"code, but {text!r} is not one (pattern {parent_pattern}). Fix the parent code and "
        "import the file again."))
    for child in pending:
        if child.error is None:
            child.error = ("parent_not_found",
                           f"The row closing this batch (row {number}) holds no parent code; "
                           "nothing in the batch was imported.")
    return Unit([closing, *pending])
