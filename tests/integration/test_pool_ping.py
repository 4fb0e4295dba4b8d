"""PostgreSQL connections are checked before use only after sitting idle (fairshare.db).

A connection whose server process has gone is replaced when it had been idle, and when it
had not, the one statement that meets it fails and the next unit of work gets a live one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from fairshare import db
from fairshare.db import UnitOfWork, make_engine
from tests.conftest import create_postgres_database, drop_postgres_database

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine_and_admin() -> Iterator[tuple[Engine, Engine]]:
    url, admin = create_postgres_database("fairshare_ping")
    engine = make_engine(url, pool_size=1, max_overflow=0)
    yield engine, admin
    engine.dispose()
    drop_postgres_database(url, admin)


def _backend_pid(engine: Engine) -> int:
    uow = UnitOfWork(engine)
    with uow:
        return int(uow.connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _kill(admin: Engine, pid: int) -> None:
    with admin.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})


def test_a_connection_idle_past_the_limit_is_pinged_and_replaced(
    engine_and_admin: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, admin = engine_and_admin
    first = _backend_pid(engine)
    _kill(admin, first)
    monkeypatch.setattr(db, "IDLE_SECONDS_BEFORE_PING", 0.0)
    assert _backend_pid(engine) != first  # no error: the ping found it gone


def test_a_busy_connection_is_not_pinged_and_a_dead_one_fails_once(
    engine_and_admin: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, admin = engine_and_admin
    monkeypatch.setattr(db, "IDLE_SECONDS_BEFORE_PING", 3600.0)
    first = _backend_pid(engine)
    assert _backend_pid(engine) == first  # the same connection, reused without a ping
    _kill(admin, first)
    with pytest.raises(Exception, match=r"terminat|closed|connection"):
        _backend_pid(engine)
    assert _backend_pid(engine) != first  # the pool was emptied; a new connection works
