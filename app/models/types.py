from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator

# SQLite only auto-increments an INTEGER PRIMARY KEY.
BigIntPK = BigInteger().with_variant(Integer, "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class _ReadableTime(ColumnElement):
    """A stored time column as SELECT reads it: on PostgreSQL a value Python cannot hold
    (after year 9999 or before year 1 in UTC) comes back as NULL instead of failing the whole
    query; elsewhere the column itself (SQLite never stored such a value: the bind refuses)."""

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]

    def __init__(self, column):
        self.column = column
        self.type = column.type


@compiles(_ReadableTime)
def _readable_time_default(element, compiler, **kw):
    return compiler.process(element.column, **kw)


@compiles(_ReadableTime, "postgresql")
def _readable_time_postgresql(element, compiler, **kw):
    column = compiler.process(element.column, **kw)
    return (f"CASE WHEN {column} BETWEEN TIMESTAMPTZ '0001-01-02 00:00:00+00' "
            f"AND TIMESTAMPTZ '9999-12-30 00:00:00+00' THEN {column} END")


class ClientDateTime(UTCDateTime):
    """A time a client reported (a scan's scanned_at). New values are range-checked on the
    way in (app/timeparse.py); rows written before that check may hold a time PostgreSQL
    keeps but Python cannot read (issue 17, finding 3): they read as unknown, so no stored
    time can make a page fail."""

    cache_ok = True

    def column_expression(self, column):
        return _ReadableTime(column)
