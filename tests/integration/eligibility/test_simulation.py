"""Simulating a rule over the registry: counts, cost, breakdowns, gained and lost, charts."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from fairshare.audit.model import Tag
from fairshare.audit.orm import access_log
from fairshare.bootstrap import Services
from fairshare.eligibility.charts import breakdown_chart
from fairshare.eligibility.model import SUPPRESSED, BreakdownCell
from fairshare.eligibility.orm import decisions
from fairshare.eligibility.services import Eligibility
from fairshare.errors import InvalidInput
from fairshare.identity.model import Actor, Purpose, PurposeNotAllowed, Role
from tests.conftest import actor
from tests.integration.eligibility.conftest import (
    REFERENCE,
    Population,
    food_basket,
    fuel,
    medicine,
    pension,
)

CASEWORKER = actor(Role.CASEWORKER, Purpose.CASE_MANAGEMENT)


def cells(simulation: object, name: str) -> dict[str, str]:
    return {c.label: c.shown for c in simulation.breakdowns[name]}  # type: ignore[attr-defined]


def test_simulation_counts_match_the_hand_computed_registry(
    services: Services, eligibility: Eligibility, officer: Actor, population: Population
) -> None:
    """Each demo rule finds exactly the people and households worked out by hand."""
    for spec, expected, population_size in (
        (pension(), 2, 8),
        (food_basket(), 2, 4),
        (fuel(), 2, 4),
        (medicine(), 1, 8),
    ):
        eligibility.create_programme(officer, spec)
        simulation = eligibility.simulate(CASEWORKER, spec.code, reference_date=REFERENCE)
        assert (simulation.eligible, simulation.population) == (expected, population_size), (
            spec.code
        )
    with services.uow() as uow:
        assert uow.connection.execute(select(decisions.c.id)).first() is None  # dry run


def test_simulation_cost_and_breakdowns(
    eligibility: Eligibility, officer: Actor, population: Population
) -> None:
    """Cost is eligible × amount; breakdowns by region, age band, sex and household size."""
    eligibility.create_programme(officer, pension())
    simulation = eligibility.simulate(CASEWORKER, "old_age_pension", reference_date=REFERENCE)
    assert simulation.cost == 2 * 13000
    assert simulation.cost_text == "260.00 local currency monthly"
    assert cells(simulation, "region") == {"Costa": "1", "Sierra": "1"}
    assert cells(simulation, "age_band") == {"65+": "2"}
    assert cells(simulation, "sex") == {"female": "2"}
    assert cells(simulation, "household_size") == {"2": "2"}
    assert not simulation.suppressed


def test_household_breakdowns_use_the_household_and_its_head(
    eligibility: Eligibility, officer: Actor, population: Population
) -> None:
    """A household programme is broken down by region, size and the head's age and sex."""
    eligibility.create_programme(officer, food_basket())
    simulation = eligibility.simulate(CASEWORKER, "food_basket", reference_date=REFERENCE)
    assert cells(simulation, "region") == {"Costa": "2"}
    assert cells(simulation, "household_size") == {"2": "1", "3": "1"}
    assert cells(simulation, "age_band") == {"60-64": "1", "65+": "1"}
    assert cells(simulation, "sex") == {"female": "2"}


def test_the_reference_date_decides_birthdays(
    eligibility: Eligibility, officer: Actor, population: Population
) -> None:
    """p5 turns 65 on 2025-06-02: eligible from that day, not the day before."""
    eligibility.create_programme(officer, pension())
    before = eligibility.simulate(CASEWORKER, "old_age_pension", reference_date=REFERENCE)
    on_birthday = eligibility.simulate(
        CASEWORKER, "old_age_pension", reference_date=REFERENCE.replace(day=2)
    )
    assert (before.eligible, on_birthday.eligible) == (2, 3)


def test_programme_officers_see_small_cells_suppressed_and_no_people(
    eligibility: Eligibility, officer: Actor, population: Population
) -> None:
    """Cells under 10 show as "<10" and no subject id reaches a programme officer."""
    eligibility.create_programme(officer, pension())
    eligibility.publish(officer, "old_age_pension")
    eligibility.update_draft(officer, "old_age_pension", rule="age >= 60 && monthly_income < 95")
    simulation = eligibility.simulate(officer, "old_age_pension", reference_date=REFERENCE)
    assert simulation.suppressed
    assert cells(simulation, "region") == {"Costa": SUPPRESSED, "Sierra": SUPPRESSED}
    assert all(c.count is None for c in simulation.breakdowns["sex"])
    assert (simulation.gained, simulation.lost) == (1, 1)
    assert simulation.gained_ids is None and simulation.lost_ids is None


def test_gained_and_lost_against_the_published_version(
    eligibility: Eligibility, officer: Actor, population: Population
) -> None:
    """A caseworker sees who would gain and who would lose eligibility under the draft."""
    eligibility.create_programme(officer, pension())
    eligibility.publish(officer, "old_age_pension")
    simulation = eligibility.simulate(
        CASEWORKER,
        "old_age_pension",
        source="age >= 60 && monthly_income < 95",
        reference_date=REFERENCE,
    )
    assert simulation.compared_with == 1
    assert simulation.gained_ids == (population.people["p5"],)
    assert simulation.lost_ids == (population.people["p1"],)
    assert simulation.eligible == 2


def test_a_rule_tried_in_simulation_is_checked_like_a_saved_one(
    eligibility: Eligibility, officer: Actor, population: Population
) -> None:
    """Simulating a rule over an undeclared field is refused with the position."""
    eligibility.create_programme(officer, pension())
    with pytest.raises(InvalidInput, match="not declared"):
        eligibility.simulate(officer, "old_age_pension", source="owns_vehicle == false")


def test_merchant_cannot_simulate(
    services: Services, eligibility: Eligibility, officer: Actor, population: Population
) -> None:
    """A merchant is refused, and the refusal is in the access log."""
    eligibility.create_programme(officer, pension())
    merchant = actor(Role.MERCHANT, Purpose.REDEMPTION)
    with pytest.raises(PurposeNotAllowed):
        eligibility.simulate(merchant, "old_age_pension")
    with services.uow() as uow:
        last = uow.connection.execute(
            select(access_log).order_by(access_log.c.sequence.desc()).limit(1)
        ).one()
    assert (last.actor, last.outcome, last.action) == (
        merchant.username,
        "denied",
        Tag.ELIGIBILITY_PROGRAMME_SIMULATE,
    )


def test_simulating_a_health_programme_logs_each_health_read(
    services: Services, eligibility: Eligibility, officer: Actor, population: Population
) -> None:
    """Health values opened for a simulation are logged once per person, naming the field."""
    eligibility.create_programme(officer, medicine())
    simulation = eligibility.simulate(officer, "chronic_medicine", reference_date=REFERENCE)
    assert simulation.eligible == 1
    with services.uow() as uow:
        rows = uow.connection.execute(
            select(access_log.c.subject_id, access_log.c.fields).where(
                access_log.c.action == Tag.ELIGIBILITY_HEALTH_READ
            )
        ).all()
    assert sorted(r.subject_id for r in rows) == sorted(
        [population.people["p1"], population.people["p3"]]
    )
    assert all(r.fields == '["chronic_illness"]' for r in rows)


def test_charts_are_valid_svg_and_png(
    eligibility: Eligibility, officer: Actor, population: Population
) -> None:
    """Every breakdown draws as SVG (with a title) and as PNG."""
    eligibility.create_programme(officer, pension())
    simulation = eligibility.simulate(officer, "old_age_pension", reference_date=REFERENCE)
    for breakdown in ("region", "age_band", "sex", "household_size"):
        svg = breakdown_chart(simulation, breakdown, "svg")
        assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg
        assert b"Eligible by" in svg
        png = breakdown_chart(simulation, breakdown, "png")
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert b"&lt;10" in breakdown_chart(simulation, "region", "svg")
    with pytest.raises(InvalidInput, match="breakdown"):
        breakdown_chart(simulation, "religion", "svg")


def test_empty_breakdown_still_draws() -> None:
    """A chart with nobody eligible is still a valid image."""
    from fairshare.eligibility.charts import bar_chart

    assert b"<svg" in bar_chart((), title="Nobody", x_label="Region")
    assert b"<svg" in bar_chart((BreakdownCell("Costa", 12, "12"),), title="One", x_label="Region")


def test_simulating_over_an_empty_registry(eligibility: Eligibility, officer: Actor) -> None:
    """With nobody registered a simulation says zero, not an error."""
    eligibility.create_programme(officer, food_basket())
    simulation = eligibility.simulate(officer, "food_basket", reference_date=REFERENCE)
    assert (simulation.population, simulation.eligible, simulation.cost) == (0, 0, 0)
    assert all(cells == () for cells in simulation.breakdowns.values())
    assert b"<svg" in breakdown_chart(simulation, "region", "svg")
