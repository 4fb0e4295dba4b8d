"""Statements run straight on the database driver, inside the unit of work's transaction.

For the few paths that run thousands of times a second (a redemption, the access-log append),
SQLAlchemy's per-call statement handling costs more than the database work itself. These
statements are written once, with `:name` parameters, and run on the DBAPI cursor of the same
connection, so they share its transaction. Values cross as the driver takes them; `bind` and
`to_date`/`to_datetime` convert the few date and time values the same way SQLAlchemy's column
types do, so rows written here read back through SQLAlchemy unchanged (a test checks).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, DateTime

_NAMED = re.compile(r"(?<![:\w]):(\w+)")
_DATETIME = DateTime(timezone=True)


class Sql:
    """One statement with `:name` parameters, for SQLite (named style) and psycopg (pyformat)."""

    __slots__ = ("pyformat", "text")

    def __init__(self, text: str) -> None:
        if "%" in text:
            raise ValueError("driver statements may not contain '%'")
        self.text = text
        self.pyformat = _NAMED.sub(r"%(\1)s", text)

    def run(self, connection: Connection, params: dict[str, Any] | None = None) -> Any:
        """Execute and return the DBAPI cursor (fetchone/fetchall/rowcount)."""
        raw = connection.connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()
        postgres = connection.dialect.name == "postgresql"
        cursor.execute(self.pyformat if postgres else self.text, params or {})
        return cursor

    def run_many(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        raw = connection.connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()
        postgres = connection.dialect.name == "postgresql"
        cursor.executemany(self.pyformat if postgres else self.text, rows)


def bind_datetime(connection: Connection, value: datetime | None) -> Any:
    """A timestamp as SQLAlchemy's DateTime(timezone=True) would send it to this driver."""
    if value is None:
        return None
    processor = _DATETIME._cached_bind_processor(connection.dialect)
    return processor(value) if processor is not None else value


def to_date(value: Any) -> date | None:
    """A DATE as read from either driver (SQLite hands back text)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def to_datetime(value: Any) -> datetime | None:
    """A TIMESTAMP as read from either driver (SQLite hands back text, without a zone)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
