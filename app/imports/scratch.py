"""Imports, the scratch space of one job run: the upload spooled to a temporary file, what a dry
run remembers of earlier rows (a scratch SQLite file), and slicing long lists for SQL."""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from sqlalchemy import (LargeBinary, func, select)

from app.extensions import db
from app.rules import bags as rules
from app.models.imports import Import


SQL_SLICE = 500            # rows per INSERT / codes per IN list: well under bind limits
CONTENT_SLICE = 1 << 20    # the upload is copied out of the database a MiB at a time


class BagState(rules.BagState):
    """What a code is (or, in a dry run, would be) while a chunk is decided: the rule book's
    state plus the row id and whether this chunk created the parent and has not reported it."""

    __slots__ = ("id", "new")

    def __init__(self, bag_id: int | None, code: str, kind: str, status: str,
                 parent: str | None = None, capacity: int | None = None,
                 count: int | None = None, new: bool = False, site: int | None = None):
        super().__init__(code, kind, status, parent, capacity, count, site=site)
        self.id = bag_id
        self.new = new


class DryRunMemory:
    """What the earlier rows of the file would have made of each code (a dry run writes no
    bags, so the database cannot tell), kept in a scratch SQLite file on local disk and not
    in a dict: the dry run's memory stays flat however many codes the file holds. The file
    belongs to this one job run and is removed at its end."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="tracetrack-dry-run-")
        self._db = sqlite3.connect(f"{self._folder.name}/codes.db", isolation_level=None)
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        # At most about 2 MiB of pages. Codes come a chunk at a time, mostly in label order:
        # on 160,000 codes an 8 MiB cache was no faster for those and saved 0.5 s when they
        # came in random order, for 6 MiB more that grew with the file up to its cap.
        self._db.execute("PRAGMA cache_size = -2000")
        self._db.execute(
            "CREATE TABLE codes (code TEXT PRIMARY KEY, id INTEGER, kind TEXT, status TEXT,"
            " parent TEXT, capacity INTEGER, count INTEGER, new INTEGER) WITHOUT ROWID")

    def recall(self, codes: set[str]) -> dict[str, BagState]:
        found: dict[str, BagState] = {}
        for piece in slices(sorted(codes)):
            rows = self._db.execute(
                f"SELECT * FROM codes WHERE code IN ({', '.join('?' * len(piece))})",  # noqa: S608
                piece)  # only ? placeholders are joined into the text
            for code, bag_id, kind, status, parent, capacity, count, new in rows:
                found[code] = BagState(bag_id, code, kind, status, parent, capacity, count, bool(new))
        return found

    def remember(self, states: dict[str, BagState]) -> None:
        self._db.execute("BEGIN")
        self._db.executemany(
            "INSERT OR REPLACE INTO codes VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(code, state.id, state.kind, state.status, state.parent, state.capacity,
              state.count, int(state.new)) for code, state in states.items()])
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()
        self._folder.cleanup()


def slices(items: list, size: int = SQL_SLICE) -> Iterator[list]:
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


@contextmanager
def spooled_content(import_id: int) -> Iterator[IO[bytes]]:
    """The upload in a temporary file, copied out of the database a slice at a time: the
    readers need a seekable file, and memory stays flat whatever the file's size. (SQLite
    would load the whole value to take a substr() of it: there the slices come through its
    incremental blob I/O.)"""
    handle = tempfile.TemporaryFile()
    try:
        connection = db.session.connection()
        if connection.dialect.name == "sqlite":
            # imports.id is the table's rowid (an INTEGER PRIMARY KEY).
            raw = connection.connection.driver_connection
            with raw.blobopen("imports", "content", import_id, readonly=True) as blob:
                while piece := blob.read(CONTENT_SLICE):
                    handle.write(piece)
        else:
            offset = 1
            while True:
                piece = db.session.scalar(
                    select(func.substr(Import.content, offset, CONTENT_SLICE,
                                       type_=LargeBinary))
                    .where(Import.id == import_id))
                if not piece:
                    break
                handle.write(piece)
                offset += len(piece)
        db.session.commit()
        handle.seek(0)
        yield handle
    finally:
        handle.close()

