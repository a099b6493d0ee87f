"""The statements every child scan runs (the user's row, the parent's lock, the new child with
its event), sent on the session's connection through the driver's cursor on PostgreSQL.

A Core statement that is reused still pays, on every execution, for its cache key, the
lookup of its compiled form, the binding of its parameters and the building of a Result:
about 45 us of CPU each, a sixth of a scan's Python (docs/PERFORMANCE.md, issue 25). Here the
statement is compiled once per dialect and executed with SQLAlchemy's own
`Connection._cursor_execute`, which keeps what matters of the Core path: the statement stays
in the session's transaction, `before_cursor_execute`/`after_cursor_execute` listeners see it
(the query budget test counts them), and a driver error is wrapped and handled as any other
(IntegrityError, OperationalError; a lost connection invalidates the pooled one). Other
databases (SQLite, the one-machine trial) take the ordinary Core path."""

from __future__ import annotations

from typing import Any

from psycopg.pq import ExecStatus

from app.extensions import db


class HotStatement:
    """A Core statement (select, text) with its PostgreSQL form compiled on first use."""

    __slots__ = ("statement", "_sql", "_defaults")

    def __init__(self, statement):
        self.statement = statement
        self._sql: str | None = None
        self._defaults: dict[str, Any] = {}

    def _compile(self, dialect) -> str:
        compiled = self.statement.compile(dialect=dialect)
        # Literal values the statement binds itself (kind = 'parent'), sent with each call.
        self._defaults = {name: value for name, value in compiled.params.items()
                          if value is not None}
        self._sql = compiled.string
        return self._sql

    def first(self, params: dict[str, Any]) -> tuple | None:
        """The first row as a plain tuple, or None."""
        connection = db.session.connection()
        if connection.dialect.name != "postgresql":
            row = connection.execute(self.statement, params).first()
            return tuple(row) if row is not None else None
        sql = self._sql or self._compile(connection.dialect)
        cursor = connection.connection.dbapi_connection.cursor()
        try:
            connection._cursor_execute(cursor, sql, {**self._defaults, **params})
            # Whether rows came back, from the result's status: cursor.description would
            # build a column object per column first (4 % of a scan's instructions).
            result = cursor.pgresult
            return cursor.fetchone() if result is not None and result.status == ExecStatus.TUPLES_OK \
                else None
        finally:
            cursor.close()

    def scalar(self, params: dict[str, Any]) -> Any:
        row = self.first(params)
        return row[0] if row is not None else None
