"""The eligibility test registry with its four programmes published, run and funded, and a
shop, a pharmacy and a fuel station to redeem at.

Enrolled after the run on 2025-06-01: pension p1 and p4; food basket h1 and h3; fuel h1 and
h3; medicine p1 (see tests/integration/eligibility/conftest.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from fairshare.bootstrap import Services
from fairshare.credentials.model import Authorisation, AuthorisationMethod
from fairshare.credentials.services import verify_in_person
from fairshare.identity.model import Actor, Purpose, Role
from fairshare.ledger.cycles import Cycles
from fairshare.ledger.model import Merchant
from fairshare.ledger.services import Ledger
from tests.conftest import actor
from tests.integration.eligibility.conftest import (  # noqa: F401  (fixtures)
    REFERENCE,
    Population,
    food_basket,
    fuel,
    medicine,
    pension,
    population,
)

PERIOD = "2025-06"
IN_PERIOD = date(2025, 6, 15)
BUDGET = {
    "old_age_pension": 1_000_000,  # 10,000.00
    "food_basket": 100,
    "subsidised_fuel": 1_000_000,  # 1,000 litres
    "chronic_medicine": 100,
}


@dataclass(frozen=True)
class World:
    population: Population
    shop: Merchant
    pharmacy: Merchant
    station: Merchant


@pytest.fixture
def disburser() -> Actor:
    return actor(Role.PROGRAMME_OFFICER, Purpose.DISBURSEMENT, username="treasurer")


@pytest.fixture
def till() -> Actor:
    return actor(Role.MERCHANT, Purpose.REDEMPTION, username="shop-till")


@pytest.fixture
def ledger(services: Services) -> Ledger:
    return services.ledger


@pytest.fixture
def cycles(services: Services) -> Cycles:
    return services.cycles


@pytest.fixture
def world(
    services: Services,
    population: Population,  # noqa: F811  (the fixture imported above)
    disburser: Actor,
    ledger: Ledger,
) -> World:
    designer = actor(Role.PROGRAMME_OFFICER, Purpose.PROGRAMME_DESIGN, username="officer")
    programmes = services.eligibility
    for spec in (pension(), food_basket(), fuel(), medicine()):
        programmes.create_programme(designer, spec)
        programmes.publish(designer, spec.code)
        programmes.run(designer, spec.code, REFERENCE)
    for code, amount in BUDGET.items():
        ledger.fund(disburser, code, amount, f"budget-{code}", "2025 appropriation")
    admin = actor(Role.ADMINISTRATOR, Purpose.ADMINISTRATION)
    shop = ledger.register_merchant(
        admin,
        code="tienda-1",
        name="Tienda Peña",
        category="shop",
        region="Costa",
        iban="ES9121000418450200051332",
        bic="CAIXESBBXXX",
        usernames=["shop-till"],
    )
    pharmacy = ledger.register_merchant(
        admin,
        code="farmacia-1",
        name="Farmacia Central",
        category="pharmacy",
        region="Costa",
        iban="DE89370400440532013000",
        bic="COBADEFFXXX",
        usernames=["pharmacy-till"],
    )
    station = ledger.register_merchant(
        admin,
        code="gasolinera-1",
        name="Gasolinera Sur",
        category="fuel_station",
        region="Sierra",
        iban="GB82WEST12345698765432",
        bic="WESTGB2L",
        usernames=["station-till"],
    )
    return World(population, shop, pharmacy, station)


def checked_in(services: Services, person_id: str) -> Authorisation:
    """A caseworker's in-person check of this person, as a redemption authorisation."""
    checker = actor(Role.CASEWORKER, Purpose.IDENTITY_VERIFICATION, username="checker")
    verification = verify_in_person(
        services.uow(), checker, person_id, "national_id_document", "seen the ID card"
    )
    return Authorisation(AuthorisationMethod.CASEWORKER, verification.id)
