"""The one place that wires settings, storage, keys and services together."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy import Connection, Engine, select

from fairshare import tables as _tables  # noqa: F401  (registers every table)
from fairshare.credentials.offline_sync import OfflineRedemption
from fairshare.credentials.services import Cards
from fairshare.db import UnitOfWork, make_engine
from fairshare.dedup.registration import DuplicateCheck
from fairshare.eligibility.services import Eligibility
from fairshare.keys import FieldCipher, KeyDirectoryError
from fairshare.ledger.cycles import Cycles
from fairshare.ledger.payouts import Payouts
from fairshare.ledger.reports import LedgerReports
from fairshare.ledger.services import Ledger
from fairshare.registry.importing import Importer
from fairshare.registry.orm import health_values
from fairshare.registry.services import Registry
from fairshare.reports.services import Reports
from fairshare.settings import Settings, get_settings


@dataclass
class Services:
    """Everything an entry point needs, built once per process (or per test)."""

    settings: Settings
    bind: Engine | Connection
    # Results kept for a while by entry points, e.g. the public page's statistics.
    memo: dict[str, tuple[float, Any]] = field(default_factory=dict, repr=False)

    @property
    def engine(self) -> Engine:
        """The engine, for schema work; services built on a test connection have none."""
        if not isinstance(self.bind, Engine):
            raise RuntimeError("these services run on a connection, not an engine")
        return self.bind

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.bind)

    @cached_property
    def cipher(self) -> FieldCipher:
        """The health-data keys. A first key is created only while nothing is sealed yet:
        a missing key directory in front of sealed values is an operator error, not a reset."""
        try:
            return FieldCipher.from_directory(self.settings.keys_path, create=False)
        except KeyDirectoryError:
            with self.uow() as uow:
                sealed = uow.connection.execute(select(health_values.c.person_id).limit(1)).first()
            if sealed is not None:
                raise KeyDirectoryError(
                    f"no health encryption key in {self.settings.keys_path}, but the database "
                    "holds encrypted health values: point FAIRSHARE_KEY_DIR at the key "
                    "directory (or restore it from backup); a new key would not open them"
                ) from None
            return FieldCipher.from_directory(self.settings.keys_path, create=True)

    @property
    def registry(self) -> Registry:
        return Registry(self.uow(), self.cipher)

    @property
    def importer(self) -> Importer:
        return Importer(self.uow(), self.cipher)

    @property
    def ledger(self) -> Ledger:
        return Ledger(self.uow(), hold_days=self.settings.payout_hold_days)

    @property
    def cards(self) -> Cards:
        return Cards(self.uow(), self.settings.keys_path)

    @property
    def offline(self) -> OfflineRedemption:
        return OfflineRedemption(self.uow(), self.settings.keys_path, lambda: self.ledger)

    @property
    def cycles(self) -> Cycles:
        return Cycles(self.uow())

    @property
    def payouts(self) -> Payouts:
        return Payouts(self.uow(), self.settings)

    @property
    def ledger_reports(self) -> LedgerReports:
        return LedgerReports(self.uow())

    @property
    def duplicate_check(self) -> DuplicateCheck:
        return DuplicateCheck(self.uow(), self.cipher)

    @property
    def reports(self) -> Reports:
        return Reports(self.uow(), self.cipher, threshold=self.settings.equity_gap)

    @property
    def eligibility(self) -> Eligibility:
        return Eligibility(self.uow(), self.cipher, appeal_days=self.settings.appeal_days)


def bootstrap(
    settings: Settings | None = None, bind: Engine | Connection | None = None
) -> Services:
    settings = settings or get_settings()
    return Services(settings, bind if bind is not None else make_engine(settings.database_url))
