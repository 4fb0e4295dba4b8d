"""A small registry whose eligibility is worked out by hand, and the programmes over it.

Reference date 2025-06-01. Ages and incomes sit on the edges of the demo rules:

| household | region | vehicle | person | sex    | born       | age | income | chronic   |
|-----------|--------|---------|--------|--------|------------|-----|--------|-----------|
| h1        | Costa  | no      | p1     | female | 1950-03-10 | 75  | 100.00 | diabetes  |
|           |        |         | p2     | male   | 2022-01-01 | 3   | -      |           |
| h2        | Sierra | yes     | p3     | male   | 1958-07-21 | 66  | 200.00 | none      |
|           |        |         | p4     | female | 1960-06-01 | 65  | 90.00  |           |
| h3        | Costa  | no      | p5     | female | 1960-06-02 | 64  | 50.00  |           |
|           |        |         | p6     | female | 2020-06-02 | 4   | -      |           |
|           |        |         | p7     | male   | 2015-01-01 | 10  | -      |           |
| h4        | Selva  | unknown | p8     | male   | 1940-01-01 | 85  | -      |           |

Old-age pension (age >= 65 && monthly_income < 150): p1, p4.
Food basket (a member under 5, income per person < 120): h1 (50.00), h3 (16.67).
Subsidised fuel (no vehicle, income per person < 200): h1, h3.
Chronic medicine (chronic_illness != "none"): p1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from fairshare.assets import to_minor_units
from fairshare.bootstrap import Services
from fairshare.eligibility.model import DeclaredField, ProgrammeSpec
from fairshare.eligibility.services import Eligibility
from fairshare.identity.model import Actor, Purpose, Role
from fairshare.registry.services import MemberInput
from tests.conftest import actor

REFERENCE = date(2025, 6, 1)
AGE = DeclaredField("date_of_birth", "age-based conditions are worked out from it")
INCOME = DeclaredField("monthly_income", "means test on own and household income")
PENSION_RULE = "age >= 65 && monthly_income < 150"


@dataclass(frozen=True)
class Population:
    people: dict[str, str]  # p1..p8 → person id
    households: dict[str, str]  # h1..h4 → household id


def _person(
    given: str, sex: str, born: str, relationship: str, income: str | None = None, **extra: Any
) -> MemberInput:
    values: dict[str, Any] = {
        "given_names": given,
        "family_names": "Prueba",
        "date_of_birth": born,
        "sex": sex,
        "relationship_to_head": relationship,
    }
    if income is not None:
        values["monthly_income"] = income
    consent = "chronic_illness" in extra
    values.update(extra)
    return MemberInput(values, health_consent=consent)


@pytest.fixture
def population(services: Services) -> Population:
    """The eight people in four households of the table above, registered by a caseworker."""
    registrar = actor(Role.CASEWORKER, Purpose.REGISTRATION)
    layout = {
        "h1": (
            {"region": "Costa", "address": "Calle 1", "owns_vehicle": "no"},
            [
                (
                    "p1",
                    _person(
                        "Ana", "female", "1950-03-10", "head", "100.00", chronic_illness="diabetes"
                    ),
                ),
                ("p2", _person("Beto", "male", "2022-01-01", "grandchild")),
            ],
        ),
        "h2": (
            {"region": "Sierra", "address": "Calle 2", "owns_vehicle": "yes"},
            [
                (
                    "p3",
                    _person(
                        "Carlos", "male", "1958-07-21", "head", "200.00", chronic_illness="none"
                    ),
                ),
                ("p4", _person("Dora", "female", "1960-06-01", "spouse_partner", "90.00")),
            ],
        ),
        "h3": (
            {"region": "Costa", "address": "Calle 3", "owns_vehicle": "no"},
            [
                ("p5", _person("Elena", "female", "1960-06-02", "head", "50.00")),
                ("p6", _person("Flor", "female", "2020-06-02", "child")),
                ("p7", _person("Gabo", "male", "2015-01-01", "child")),
            ],
        ),
        "h4": (
            {"region": "Selva", "address": "Calle 4"},
            [("p8", _person("Hugo", "male", "1940-01-01", "head"))],
        ),
    }
    people: dict[str, str] = {}
    households: dict[str, str] = {}
    for key, (values, members) in layout.items():
        household = services.registry.register_household(
            registrar, values, [member for _, member in members]
        )
        households[key] = household.id
        for (name, _), person in zip(members, household.members, strict=True):
            people[name] = person.id
    return Population(people, households)


@pytest.fixture
def eligibility(services: Services) -> Eligibility:
    return Eligibility(services.uow(), services.cipher)


@pytest.fixture
def officer() -> Actor:
    return actor(Role.PROGRAMME_OFFICER, Purpose.PROGRAMME_DESIGN, username="officer")


@pytest.fixture
def appeals_caseworker() -> Actor:
    return actor(Role.CASEWORKER, Purpose.APPEAL_REVIEW, username="reviewer")


def pension(**overrides: Any) -> ProgrammeSpec:
    values: dict[str, Any] = {
        "code": "old_age_pension",
        "name": "Old-age pension",
        "description": "For people aged 65 or more with little income",
        "target": "person",
        "asset": "local_currency",
        "amount": to_minor_units("local_currency", "130.00"),
        "period": "monthly",
        "declared": (AGE, INCOME),
        "rule": PENSION_RULE,
    }
    values.update(overrides)
    return ProgrammeSpec(**values)


def food_basket(**overrides: Any) -> ProgrammeSpec:
    values: dict[str, Any] = {
        "code": "food_basket",
        "name": "Food basket",
        "target": "household",
        "description": "",
        "asset": "food_basket",
        "amount": 1,
        "period": "monthly",
        "declared": (AGE, INCOME),
        "rule": "members.filter(m, m.age < 5).size() > 0 && income_per_person < 120",
    }
    values.update(overrides)
    return ProgrammeSpec(**values)


def fuel(**overrides: Any) -> ProgrammeSpec:
    values: dict[str, Any] = {
        "code": "subsidised_fuel",
        "name": "Subsidised fuel",
        "target": "household",
        "description": "",
        "asset": "fuel",
        "amount": to_minor_units("fuel", "40"),
        "period": "monthly",
        "declared": (
            DeclaredField("owns_vehicle", "the quota is for households without one"),
            INCOME,
        ),
        "rule": "owns_vehicle == false && income_per_person < 200",
    }
    values.update(overrides)
    return ProgrammeSpec(**values)


def medicine(**overrides: Any) -> ProgrammeSpec:
    values: dict[str, Any] = {
        "code": "chronic_medicine",
        "name": "Chronic-illness medicine",
        "target": "person",
        "description": "",
        "asset": "medicine_pack",
        "amount": 1,
        "period": "monthly",
        "declared": (DeclaredField("chronic_illness", "the pack is for people who are ill"),),
        "rule": 'chronic_illness != "none"',
    }
    values.update(overrides)
    return ProgrammeSpec(**values)
