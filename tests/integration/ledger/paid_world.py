"""A ledger world in a database of its own, for tests whose services run on an engine (as a
server's do): a SQLite file, or a fresh PostgreSQL database dropped afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from fairshare.bootstrap import Services
from fairshare.credentials.model import Authorisation, AuthorisationMethod
from fairshare.credentials.services import verify_in_person
from tests.conftest import create_postgres_database, drop_postgres_database
from tests.faults import ledger_world as world
from tests.faults.ledger_world import CHECKER, DISBURSER, MONEY

PERIOD, TODAY = "2025-06", date(2025, 6, 15)


@contextmanager
def paid_world(
    backend: str, tmp_path: Path, name: str, *, people: int, merchants: int, tills: int
) -> Iterator[Services]:
    """`ledger_world.build` on `backend` ("sqlite" or "postgresql") with the cash
    programme's PERIOD paid; the engine is disposed and a PostgreSQL database dropped after."""
    if backend == "sqlite":
        url, admin = f"sqlite:///{tmp_path / (name + '.sqlite3')}", None
    else:
        url, admin = create_postgres_database(f"fairshare_{name}")
    services = None
    try:
        info = world.build(url, tmp_path, people=people, merchants=merchants, tills=tills)
        services = world.services_for(info)
        services.cycles.run(DISBURSER, MONEY, PERIOD, today=TODAY)
        yield services
    finally:
        if services is not None:
            services.engine.dispose()
        if admin is not None:
            drop_postgres_database(url, admin)


def checked_in(services: Services) -> tuple[str, Authorisation]:
    """The first beneficiary of the cash programme, checked in person by a caseworker, and
    the authorisation that check gives a till."""
    person, _ = world.enrolled(services, MONEY)[0]
    verification = verify_in_person(
        services.uow(), CHECKER, person, "national_id_document", "seen the ID card"
    )
    return person, Authorisation(AuthorisationMethod.CASEWORKER, verification.id)
