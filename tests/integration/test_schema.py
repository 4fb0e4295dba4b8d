"""Migrations build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, text

from fairshare import schema
from fairshare.db import make_engine


def test_migrated_schema_matches_models(engine: Engine) -> None:
    """After `db upgrade` there is no difference between the database and the models."""
    assert schema.differences(engine) == []
    assert schema.current_revision(engine) == schema.head_revision()


def test_upgrade_is_idempotent(engine: Engine) -> None:
    """Running the upgrade again changes nothing."""
    schema.upgrade(engine)
    assert schema.current_revision(engine) == schema.head_revision()


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path: Path) -> None:
    """The embedded database uses WAL and enforces foreign keys."""
    engine = make_engine(f"sqlite:///{tmp_path / 'f.sqlite3'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_downgrade_to_base_and_back(tmp_path: Path) -> None:
    """The first migration can be undone and redone."""
    engine = make_engine(f"sqlite:///{tmp_path / 'd.sqlite3'}")
    schema.upgrade(engine)
    schema.downgrade(engine, "base")
    with engine.connect() as connection:
        tables = connection.execute(
            text("SELECT name FROM sqlite_master WHERE type='table' AND name='people'")
        ).all()
    assert tables == []
    schema.upgrade(engine)
    assert schema.differences(engine) == []
    engine.dispose()
