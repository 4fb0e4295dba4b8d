"""Database schema management through Alembic: upgrade, check, current revision."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from fairshare.tables import metadata

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None, url: str = "") -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        config.set_main_option("sqlalchemy.url", url)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(bind: Engine | Connection, revision: str = "heads") -> None:
    """Bring the schema to `revision`; safe to run again."""
    if isinstance(bind, Engine):
        with bind.begin() as connection:
            command.upgrade(alembic_config(connection), revision)
    else:
        command.upgrade(alembic_config(bind), revision)


def downgrade(bind: Engine, revision: str) -> None:
    with bind.begin() as connection:
        command.downgrade(alembic_config(connection), revision)


def current_revision(bind: Engine) -> str:
    """The revision(s) the database is at, comma-separated ("" when empty)."""
    with bind.connect() as connection:
        return ",".join(sorted(MigrationContext.configure(connection).get_current_heads()))


def head_revision() -> str:
    """The newest revision(s) of the code, comma-separated; areas may branch from one base."""
    return ",".join(sorted(ScriptDirectory.from_config(alembic_config()).get_heads()))


def differences(bind: Engine) -> list[str]:
    """Differences between the live schema and the models; empty when they match."""
    with bind.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return [str(diff) for diff in compare_metadata(context, metadata)]
