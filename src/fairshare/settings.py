"""Deployment settings, read once from the environment (prefix FAIRSHARE_)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET = "development-only-secret-do-not-use-in-production"  # noqa: S105 - refused outside development

# Values people paste from tutorials; none of them may reach a real deployment.
PLACEHOLDER_SECRETS = frozenset(
    {
        "",
        "changeme",
        "change-me",
        "change_me",
        "secret",
        "password",
        "please-change",
        "xxx",
        "todo",
        "default",
        DEVELOPMENT_SECRET,
    }
)


def _default_var_dir() -> Path:
    return Path.cwd() / "var"


class InsecureSettings(ValueError):
    """A setting is unsafe for the environment it was given for."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FAIRSHARE_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    var_dir: Path = Field(default_factory=_default_var_dir)
    database_url: str = ""
    key_dir: Path | None = None
    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    token_lifetime_hours: int = Field(default=12, ge=1, le=24 * 90)
    max_failed_logins: int = Field(default=5, ge=1)
    lockout_minutes: int = Field(default=15, ge=1)
    # Failed logins from one client address, over all accounts, within the window before that
    # address is refused (429) until the window has moved on.
    login_throttle_failures: int = Field(default=20, ge=1)
    login_throttle_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # Behind a reverse proxy: the header it sets to the client's address (X-Forwarded-For,
    # X-Real-IP). Empty: the connection's address. Set it only when every request comes through
    # that proxy, or clients could name any address they like.
    client_address_header: str = Field(default="", max_length=100)
    # Appeals not decided within this many days are flagged overdue.
    appeal_days: int = Field(default=30, ge=1, le=365)
    # Payout holds the bank has not answered within this many days are released.
    payout_hold_days: int = Field(default=30, ge=1, le=90)
    # Equity reports flag a group whose share of a benefit differs from its share of the
    # eligible population by more than this (0.05: five percentage points).
    equity_gap: float = Field(default=0.05, gt=0, lt=1)
    # The public transparency page's coverage statistics are recomputed at most this often
    # (anyone may open the page; at a million people a computation takes seconds). 0: always.
    public_statistics_seconds: int = Field(default=300, ge=0, le=86_400)
    # The paying agency's bank account, written as the debtor of merchant payout files.
    payer_name: str = "Fairshare programme office"
    payer_iban: str = "GB82WEST12345698765432"
    payer_bic: str = "WESTGB2L"
    currency: str = Field(default="XXX", pattern=r"^[A-Z]{3}$")
    # Printed on every card as its issuing office.
    card_office: str = Field(default="Fairshare programme office", max_length=80)

    @model_validator(mode="after")
    def _fill_paths_and_refuse_placeholders(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.var_dir / 'fairshare.sqlite3'}"
        if self.key_dir is None:
            self.key_dir = self.var_dir / "keys"
        secret = self.secret_key.get_secret_value()
        if self.environment == "production" and (
            secret.strip().lower() in PLACEHOLDER_SECRETS or len(secret) < 32
        ):
            raise InsecureSettings(
                "FAIRSHARE_SECRET_KEY is a placeholder or shorter than 32 characters; "
                "generate one with `python -c 'import secrets; print(secrets.token_urlsafe(48))'` "
                "before running in production"
            )
        return self

    @property
    def keys_path(self) -> Path:
        assert self.key_dir is not None  # filled by the validator
        return self.key_dir


@lru_cache
def get_settings() -> Settings:
    return Settings()
