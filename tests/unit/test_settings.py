"""Settings: defaults under var/, and no placeholder secrets outside development."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from fairshare.settings import Settings


def test_default_database_is_sqlite_under_var(tmp_path: Path) -> None:
    """Without FAIRSHARE_DATABASE_URL the database is a SQLite file in the var directory."""
    settings = Settings(var_dir=tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path / 'fairshare.sqlite3'}"
    assert settings.keys_path == tmp_path / "keys"


@pytest.mark.parametrize("secret", ["", "changeme", "secret", "short-but-not-placeholder"])
def test_production_refuses_placeholder_secrets(secret: str) -> None:
    """Production refuses empty, placeholder or short secrets with a message saying what to do."""
    with pytest.raises(ValidationError, match="FAIRSHARE_SECRET_KEY"):
        Settings(environment="production", secret_key=secret)


def test_production_accepts_a_real_secret() -> None:
    """A long random secret is accepted in production."""
    settings = Settings(environment="production", secret_key="x7" * 24)
    assert settings.environment == "production"


def test_development_allows_the_development_secret() -> None:
    """Development runs with the built-in secret so `make demo` needs no set-up."""
    assert Settings(environment="development").secret_key.get_secret_value()


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """FAIRSHARE_* variables configure the settings."""
    monkeypatch.setenv("FAIRSHARE_DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("FAIRSHARE_KEY_DIR", str(tmp_path))
    settings = Settings()
    assert settings.database_url == "postgresql://u@h/db"
    assert settings.keys_path == tmp_path
