"""Engine, shared metadata and the unit of work.

SQLite (the embedded default) runs in WAL mode with foreign keys on. Its transactions start
with BEGIN IMMEDIATE so that two writers never deadlock upgrading a read lock: the access-log
chain and (later) the ledger both read-then-write. PostgreSQL gets the same guarantees from
row locks taken by the repositories.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from psycopg.pq import TransactionStatus
from sqlalchemy import Connection, Engine, MetaData, Table, create_engine, event, insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def normalise_url(url: str) -> str:
    """Accept plain postgresql:// URLs and route them to psycopg 3."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions start (savepoints need it).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            # FULL: an acknowledged ledger transfer survives power loss, not only a crash.
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB: index pages of bulk imports
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # Straight to the driver: every transaction passes here, and SQLAlchemy's statement
        # handling would cost a ledger redemption a twentieth of its time.
        connection.connection.driver_connection.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for a SQLite or PostgreSQL URL, creating the SQLite folder if needed."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    ping = kwargs.pop("pool_pre_ping", None)  # None: ping connections that sat idle
    engine = create_engine(url, pool_pre_ping=bool(ping), **kwargs)
    if ping is None:
        _ping_when_idle(engine)
    return engine


# A pooled PostgreSQL connection is checked before use only when it has sat idle this long.
# SQLAlchemy's pool_pre_ping checks on every checkout, a round trip that cost a redemption
# about a tenth of its time; a connection used a moment ago is alive, or its failure is seen
# by the statement that uses it (SQLAlchemy then empties the pool, and the client retries).
IDLE_SECONDS_BEFORE_PING = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """The pessimistic disconnect check of SQLAlchemy's documentation, for idle connections."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["fairshare_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("fairshare_idle_since")
        if since is not None and time.monotonic() - since < IDLE_SECONDS_BEFORE_PING:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
            dbapi_connection.rollback()  # the ping's SELECT began a transaction
        except Exception as error:
            raise DisconnectionError("the pooled connection is gone; taking a new one") from error
        if not alive:
            raise DisconnectionError("the pooled connection is gone; taking a new one")


Bind = Engine | Connection


class _DriverSavepoint:
    """A savepoint of the connection's open transaction, set, released and rolled back with
    plain statements on the driver; the transaction object of a member unit of work."""

    _NAME = "fairshare_member"

    def __init__(self, connection: Connection) -> None:
        driver = connection.connection.driver_connection
        assert driver is not None  # a connection in a transaction has its driver's
        self._driver: Any = driver
        self._driver.execute(f"SAVEPOINT {self._NAME}")

    def commit(self) -> None:
        self._driver.execute(f"RELEASE {self._NAME}")

    def rollback(self) -> None:
        self._driver.execute(f"ROLLBACK TO {self._NAME}")
        self._driver.execute(f"RELEASE {self._NAME}")


class UnitOfWork:
    """One business transaction: `with uow: ...; uow.commit()`.

    Leaving the block without commit rolls everything back, so a failed operation leaves
    no partial state. Bound to an Engine it opens its own connection; bound to a Connection
    (tests, nested service calls) it works inside a savepoint of that connection.
    """

    def __init__(self, bind: Bind, *, driver_savepoint: bool = False) -> None:
        self.bind = bind
        # Inside another unit's transaction, a savepoint taken on the driver rather than by
        # SQLAlchemy's begin_nested, which costs about sixty times as much: for the many
        # short members of one group commit (decision 0029).
        self.driver_savepoint = driver_savepoint
        self._connection: Connection | None = None
        self._transaction: Any = None
        self._owns_connection = False
        self._committed = False

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("the unit of work is used outside its `with` block")
        return self._connection

    @property
    def dialect(self) -> str:
        return self.connection.dialect.name

    def __enter__(self) -> UnitOfWork:
        if isinstance(self.bind, Engine):
            self._connection = self.bind.connect()
            self._owns_connection = True
            self._transaction = self._connection.begin()
        else:
            self._connection = self.bind
            self._owns_connection = False
            if self.driver_savepoint and self.bind.in_transaction():
                self._transaction = _DriverSavepoint(self.bind)
            elif self.bind.in_transaction():
                self._transaction = self.bind.begin_nested()
            else:
                self._transaction = self.bind.begin()
        self._committed = False
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if not self._committed and self._transaction is not None:
                self._transaction.rollback()
        finally:
            if self._owns_connection and self._connection is not None:
                self._connection.close()
            self._connection = None
            self._transaction = None

    def commit(self) -> None:
        self._transaction.commit()
        self._committed = True

    @contextmanager
    def each_statement_commits(self) -> Iterator[bool]:
        """Let each statement of the block commit by itself (PostgreSQL's autocommit), for a
        hot path whose only write is one statement that is atomic on its own: it saves the
        BEGIN and COMMIT round trips. Yields False, changing nothing, where that cannot be
        done: SQLite, a unit of work inside another's connection, or a transaction begun."""
        raw: Any = self.connection.connection.dbapi_connection
        possible = (
            self._owns_connection
            and self.dialect == "postgresql"
            and raw is not None
            and raw.info.transaction_status == TransactionStatus.IDLE
        )
        if not possible:
            yield False
            return
        raw.autocommit = True
        try:
            yield True
        finally:
            if not raw.closed:
                raw.autocommit = False

    def rollback(self) -> None:
        self._transaction.rollback()
        self._committed = True  # nothing left to roll back on exit


UnitOfWorkFactory = Callable[[], UnitOfWork]


_COMPILED_INSERTS: dict[tuple[Table, tuple[str, ...]], str] = {}


def bulk_insert(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows (all with the same keys) in one executemany.

    On SQLite the values pass through each column type's bind processor and go straight to
    the driver, so they are stored exactly as `connection.execute(insert(table), rows)` would
    store them without SQLAlchemy's per-row parameter building (several times faster for
    bulk imports). Other databases take the ordinary path, which batches well already.
    """
    if not rows:
        return
    dialect = connection.dialect
    if dialect.name != "sqlite":
        connection.execute(insert(table), rows)
        return
    keys = set(rows[0])
    columns = [column.name for column in table.columns if column.name in keys]  # compiled order
    # Compiled once per table and set of columns: the access log appends one row per request.
    cache_key = (table, tuple(columns))
    statement = _COMPILED_INSERTS.get(cache_key)
    if statement is None:
        statement = str(insert(table).compile(dialect=dialect, column_keys=columns))
        _COMPILED_INSERTS[cache_key] = statement
    if statement.count("?") != len(columns):
        connection.execute(insert(table), rows)
        return
    # Column by column: one bind processor call per value and no per-row generator.
    values_by_column = []
    for name in columns:
        values = [row[name] for row in rows]
        processor = table.c[name].type._cached_bind_processor(dialect)
        if processor is not None:
            values = [None if value is None else processor(value) for value in values]
        values_by_column.append(values)
    connection.exec_driver_sql(statement, list(zip(*values_by_column, strict=True)))
