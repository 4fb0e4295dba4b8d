"""The ledger test world (four programmes run, funded, three merchants) with the June cycle
posted and two redemptions; and a larger registry whose counts are not withheld.

Posted for 2025-06: pension p1, p4; food basket h1, h3; fuel h1, h3; medicine p1.
Redeemed: p1 50.00 of the pension at the shop; h1 its food basket at the shop.
"""

from __future__ import annotations

from datetime import date

import pytest

from fairshare.bootstrap import Services
from fairshare.identity.model import Actor, Purpose, Role
from fairshare.ledger.cycles import Cycles
from fairshare.ledger.services import Ledger
from fairshare.registry.services import MemberInput
from fairshare.reports.services import Reports
from tests.conftest import actor
from tests.integration.eligibility.conftest import REFERENCE, pension
from tests.integration.ledger.conftest import (  # noqa: F401  (fixtures)
    IN_PERIOD,
    PERIOD,
    World,
    checked_in,
    cycles,
    disburser,
    ledger,
    population,
    till,
    world,
)

PROGRAMMES = ("old_age_pension", "food_basket", "subsidised_fuel", "chronic_medicine")
TODAY = date(2025, 6, 20)


@pytest.fixture
def paid(
    world: World,  # noqa: F811 - the fixture imported above
    cycles: Cycles,  # noqa: F811
    disburser: Actor,  # noqa: F811
    ledger: Ledger,  # noqa: F811
    services: Services,
    till: Actor,  # noqa: F811
) -> World:
    for programme in PROGRAMMES:
        cycles.run(disburser, programme, PERIOD, today=IN_PERIOD)
    people, households = world.population.people, world.population.households
    ledger.redeem(
        till,
        key="report-1",
        beneficiary_id=people["p1"],
        programme="old_age_pension",
        asset="local_currency",
        amount=5000,
        authorisation=checked_in(services, people["p1"]),
        today=IN_PERIOD,
    )
    ledger.redeem(
        till,
        key="report-2",
        beneficiary_id=households["h1"],
        programme="food_basket",
        asset="food_basket",
        amount=1,
        authorisation=checked_in(services, people["p1"]),
        today=IN_PERIOD,
    )
    return world


@pytest.fixture
def reports(services: Services) -> Reports:
    return services.reports


@pytest.fixture
def officer() -> Actor:
    return actor(Role.PROGRAMME_OFFICER, Purpose.PROGRAMME_DESIGN, username="officer")


@pytest.fixture
def auditor() -> Actor:
    return actor(Role.AUDITOR, Purpose.AUDIT, username="auditor")


@pytest.fixture
def follow_up() -> Actor:
    return actor(Role.CASEWORKER, Purpose.CASE_MANAGEMENT, username="follow-up")


@pytest.fixture
def larger(
    services: Services,
    disburser: Actor,  # noqa: F811
    cycles: Cycles,  # noqa: F811
    ledger: Ledger,  # noqa: F811
) -> dict[str, list[str]]:
    """30 pensioners in Costa (20 women, 10 men), paid for June; then 12 men in Sierra
    registered and found eligible by a second run after the June cycle, so not paid."""
    registrar = actor(Role.CASEWORKER, Purpose.REGISTRATION)
    designer = actor(Role.PROGRAMME_OFFICER, Purpose.PROGRAMME_DESIGN, username="officer")
    ids: dict[str, list[str]] = {"costa": [], "sierra": []}

    def register(region: str, sexes: list[str]) -> None:
        for index, sex in enumerate(sexes):
            household = services.registry.register_household(
                registrar,
                {"region": region, "address": f"Calle {region} {index}"},
                [
                    MemberInput(
                        {
                            "given_names": f"Persona{index}",
                            "family_names": region,
                            "date_of_birth": "1950-01-01",
                            "sex": sex,
                            "relationship_to_head": "head",
                            "monthly_income": "10.00",
                        }
                    )
                ],
            )
            ids[region.lower()].append(household.members[0].id)

    register("Costa", ["female"] * 20 + ["male"] * 10)
    services.eligibility.create_programme(designer, pension())
    services.eligibility.publish(designer, "old_age_pension")
    services.eligibility.run(designer, "old_age_pension", REFERENCE)
    ledger.fund(disburser, "old_age_pension", 100_000_000, "budget-larger", "appropriation")
    cycles.run(disburser, "old_age_pension", PERIOD, today=IN_PERIOD)
    register("Sierra", ["male"] * 12)
    services.eligibility.run(designer, "old_age_pension", REFERENCE)
    return ids
