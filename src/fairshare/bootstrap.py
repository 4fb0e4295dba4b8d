"""The one place that wires settings, storage, keys and services together."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import Connection, Engine

from fairshare import tables as _tables  # noqa: F401  (registers every table)
from fairshare.db import UnitOfWork, make_engine
from fairshare.keys import FieldCipher
from fairshare.registry.importing import Importer
from fairshare.registry.services import Registry
from fairshare.settings import Settings, get_settings


@dataclass
class Services:
    """Everything an entry point needs, built once per process (or per test)."""

    settings: Settings
    bind: Engine | Connection

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
        return FieldCipher.from_directory(self.settings.keys_path)

    @property
    def registry(self) -> Registry:
        return Registry(self.uow(), self.cipher)

    @property
    def importer(self) -> Importer:
        return Importer(self.uow(), self.cipher)


def bootstrap(
    settings: Settings | None = None, bind: Engine | Connection | None = None
) -> Services:
    settings = settings or get_settings()
    return Services(settings, bind if bind is not None else make_engine(settings.database_url))
