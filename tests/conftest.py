"""Shared fixtures: both databases, migrated once per session, a rolled-back transaction per test.

PostgreSQL is found through FAIRSHARE_TEST_POSTGRES_URL (default: the local server). When it
does not answer, its tests are skipped with the reason, unless FAIRSHARE_REQUIRE_POSTGRES=1
(as in CI), where they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url

from fairshare import schema
from fairshare.bootstrap import Services
from fairshare.db import make_engine, normalise_url
from fairshare.identity.model import Actor, Purpose, Role
from fairshare.settings import Settings

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def postgres_admin_url() -> str:
    return normalise_url(os.environ.get("FAIRSHARE_TEST_POSTGRES_URL", DEFAULT_POSTGRES))


def _postgres_unavailable(reason: str) -> None:
    if os.environ.get("FAIRSHARE_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required (FAIRSHARE_REQUIRE_POSTGRES=1) but {reason}")
    pytest.skip(f"PostgreSQL tests skipped: {reason} (set FAIRSHARE_TEST_POSTGRES_URL)")


def create_postgres_database(prefix: str = "fairshare_test") -> tuple[str, Engine]:
    """A fresh, empty database on the test server; returns its URL and the admin engine."""
    admin_url = postgres_admin_url()
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        admin.dispose()
        _postgres_unavailable(
            f"the server at {make_url(admin_url).host} did not answer ({type(error).__name__})"
        )
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    return url, admin


def drop_postgres_database(url: str, admin: Engine) -> None:
    name = make_url(url).database
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path = tmp_path_factory.mktemp("sqlite") / "fairshare.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    schema.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgresql_engine() -> Iterator[Engine]:
    url, admin = create_postgres_database()
    engine = make_engine(url)
    schema.upgrade(engine)
    yield engine
    engine.dispose()
    drop_postgres_database(url, admin)


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest) -> Engine:
    """A migrated database of each kind; tests using it run once per backend."""
    return request.getfixturevalue(f"{request.param}_engine")  # type: ignore[no-any-return]


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    with engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture
def settings(tmp_path: Path, key_dir: Path) -> Settings:
    return Settings(
        environment="test",
        var_dir=tmp_path,
        key_dir=key_dir,
        database_url=f"sqlite:///{tmp_path / 'unused.sqlite3'}",
    )


@pytest.fixture
def services(settings: Settings, connection: Connection) -> Services:
    return Services(settings, connection)


def actor(
    role: Role, purpose: Purpose, person_id: str | None = None, username: str | None = None
) -> Actor:
    return Actor(username or f"test-{role.value}", role, purpose, person_id=person_id)


@pytest.fixture
def caseworker() -> Actor:
    return actor(Role.CASEWORKER, Purpose.REGISTRATION)


@pytest.fixture
def administrator() -> Actor:
    return actor(Role.ADMINISTRATOR, Purpose.ADMINISTRATION)
