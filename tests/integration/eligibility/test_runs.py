"""Running a published programme: stored decisions with their facts, explanations, enrolments."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from fairshare.audit.model import Tag
from fairshare.audit.orm import access_log
from fairshare.bootstrap import Services
from fairshare.eligibility.model import DecisionBasis, NotPublished
from fairshare.eligibility.orm import decisions, eligibility_runs, enrolments
from fairshare.eligibility.services import Eligibility
from fairshare.errors import InvalidInput
from fairshare.identity.model import Actor, Purpose, PurposeNotAllowed, Role
from fairshare.registry.model import UnknownPerson
from tests.conftest import actor
from tests.integration.eligibility.conftest import (
    REFERENCE,
    Population,
    food_basket,
    medicine,
    pension,
)

CASEWORKER = actor(Role.CASEWORKER, Purpose.CASE_MANAGEMENT)


def rows(services: Services, query: Any) -> list[Any]:
    with services.uow() as uow:
        return list(uow.connection.execute(query).all())


def logged(services: Services, action: str) -> list[Any]:
    return rows(services, select(access_log).where(access_log.c.action == action))


def test_run_needs_a_published_version(
    eligibility: Eligibility, officer: Actor, population: Population
) -> None:
    """A draft cannot be run: publish first."""
    eligibility.create_programme(officer, pension())
    with pytest.raises(NotPublished, match="publish"):
        eligibility.run(officer, "old_age_pension", REFERENCE)


def test_run_stores_one_decision_per_person_with_facts_and_version(
    services: Services, eligibility: Eligibility, officer: Actor, population: Population
) -> None:
    """Every person gets a decision carrying the rule version, its hash and the facts read."""
    eligibility.create_programme(officer, pension())
    version = eligibility.publish(officer, "old_age_pension")
    progress: list[tuple[int, int]] = []
    run = eligibility.run(
        officer, "old_age_pension", REFERENCE, lambda d, t: progress.append((d, t))
    )
    assert (run.subjects, run.eligible, run.cost) == (8, 2, 26000)
    assert progress[-1] == (8, 8)
    stored = rows(services, select(decisions).where(decisions.c.run_id == run.id))
    assert len(stored) == 8
    by_person = {r.subject_id: r for r in stored}
    p1 = by_person[population.people["p1"]]
    assert p1.eligible is True or p1.eligible == 1
    assert (p1.version, p1.content_hash, p1.basis) == (1, version.content_hash, "rule")
    facts = json.loads(p1.facts)
    assert facts["age"] == 75
    assert str(facts["monthly_income"]) in ("100.00", "100.0", "100")
    assert not by_person[population.people["p3"]].eligible
    assert not by_person[population.people["p8"]].eligible  # no income recorded: not assumed
    run_row = rows(services, select(eligibility_runs))[0]
    assert (run_row.version, run_row.reference_date) == (1, REFERENCE)


def test_run_writes_one_log_entry_per_decision(
    services: Services, eligibility: Eligibility, officer: Actor, population: Population
) -> None:
    """Each decision is in the access log under the officer's purpose, naming the fields."""
    eligibility.create_programme(officer, pension())
    eligibility.publish(officer, "old_age_pension")
    eligibility.run(officer, "old_age_pension", REFERENCE)
    entries = logged(services, Tag.ELIGIBILITY_DECISION_CREATE)
    assert sorted(e.subject_id for e in entries) == sorted(population.people.values())
    assert {e.purpose for e in entries} == {"programme_design"}
    assert {e.fields for e in entries} == {'["date_of_birth", "monthly_income"]'}
    assert len(logged(services, Tag.ELIGIBILITY_PROGRAMME_RUN)) == 1


def test_run_updates_enrolments(
    services: Services, eligibility: Eligibility, officer: Actor, population: Population
) -> None:
    """Enrolments follow the latest run: who stops qualifying is no longer enrolled."""
    eligibility.create_programme(officer, food_basket())
    eligibility.publish(officer, "food_basket")
    eligibility.run(officer, "food_basket", REFERENCE)
    enrolled = {r.subject_id for r in rows(services, select(enrolments))}
    assert enrolled == {population.households["h1"], population.households["h3"]}
    # A year on, p6 is five and p2 four: h3 no longer has a child under five.
    eligibility.run(officer, "food_basket", REFERENCE.replace(year=2026))
    enrolled = {r.subject_id for r in rows(services, select(enrolments))}
    assert enrolled == {population.households["h1"]}
    with services.uow() as uow:
        assert uow.connection.execute(select(func.count()).select_from(decisions)).scalar() == 8


def test_health_facts_are_sealed_and_each_person_logged_once(
    services: Services, eligibility: Eligibility, officer: Actor, population: Population
) -> None:
    """A health programme's facts are encrypted at rest; one log entry per person per run."""
    eligibility.create_programme(officer, medicine())
    eligibility.publish(officer, "chronic_medicine")
    run = eligibility.run(officer, "chronic_medicine", REFERENCE)
    assert run.eligible == 1
    stored = rows(services, select(decisions.c.facts, decisions.c.facts_sealed))
    assert all(r.facts_sealed for r in stored)
    assert not any("diabetes" in r.facts for r in stored)
    entries = logged(services, Tag.ELIGIBILITY_DECISION_CREATE)
    assert len(entries) == 8 == len({e.subject_id for e in entries})


def test_explanation_in_english_and_spanish(
    eligibility: Eligibility, officer: Actor, population: Population
) -> None:
    """A person's decision is explained clause by clause, with the values, in en and es."""
    eligibility.create_programme(officer, pension())
    eligibility.publish(officer, "old_age_pension")
    eligibility.run(officer, "old_age_pension", REFERENCE)
    person = population.people["p3"]
    [english] = eligibility.explain_decision(CASEWORKER, person, "old_age_pension")
    assert not english.decision.eligible
    assert english.lines[0] == "You are not eligible for Old-age pension."
    text = " ".join(english.lines)
    assert "66" in text and "200" in text and "150" in text
    [spanish] = eligibility.explain_decision(CASEWORKER, person, "old_age_pension", "es")
    assert spanish.lines[0] == "Usted no tiene derecho a Old-age pension."
    assert spanish.lines != english.lines
    assert english.decision.facts is not None and english.decision.facts["age"] == 66
    with pytest.raises(InvalidInput, match="en or es"):
        eligibility.explain_decision(CASEWORKER, person, language="fr")


def test_person_sees_own_and_household_decisions(
    eligibility: Eligibility, officer: Actor, population: Population
) -> None:
    """A citizen sees their own decisions and their household's, and no one else's."""
    for spec in (pension(), food_basket()):
        eligibility.create_programme(officer, spec)
        eligibility.publish(officer, spec.code)
        eligibility.run(officer, spec.code, REFERENCE)
    person = population.people["p1"]
    citizen = actor(Role.CITIZEN, Purpose.SELF_SERVICE, person_id=person)
    explanations = eligibility.explain_decision(citizen, person)
    assert {(e.decision.programme, e.decision.eligible) for e in explanations} == {
        ("old_age_pension", True),
        ("food_basket", True),
    }
    household = next(e for e in explanations if e.decision.programme == "food_basket")
    assert household.lines[0].startswith("Your household is eligible for Food basket")
    with pytest.raises(PurposeNotAllowed):
        eligibility.explain_decision(citizen, population.people["p3"])


def test_programme_officer_cannot_see_persons(
    eligibility: Eligibility, officer: Actor, population: Population
) -> None:
    """A programme officer runs programmes but cannot read any person's decision."""
    eligibility.create_programme(officer, pension())
    eligibility.publish(officer, "old_age_pension")
    run = eligibility.run(officer, "old_age_pension", REFERENCE)
    assert run.eligible == 2
    with pytest.raises(PurposeNotAllowed):
        eligibility.explain_decision(officer, population.people["p1"])


def test_health_decisions_are_shown_only_for_health_purposes(
    eligibility: Eligibility, officer: Actor, population: Population
) -> None:
    """A medicine decision reveals an illness: case management does not see it at all."""
    eligibility.create_programme(officer, medicine())
    eligibility.publish(officer, "chronic_medicine")
    eligibility.run(officer, "chronic_medicine", REFERENCE)
    person = population.people["p1"]
    assert eligibility.explain_decision(CASEWORKER, person) == []
    health = actor(Role.CASEWORKER, Purpose.HEALTH_ASSESSMENT)
    [shown] = eligibility.explain_decision(health, person)
    assert shown.decision.eligible
    assert "diabetes" in " ".join(shown.lines)
    assert shown.decision.facts == {"chronic_illness": "diabetes"}
    citizen = actor(Role.CITIZEN, Purpose.SELF_SERVICE, person_id=person)
    [own] = eligibility.explain_decision(citizen, person)
    assert own.decision.eligible


def test_decisions_of_an_unknown_person(eligibility: Eligibility) -> None:
    """Explaining decisions for a person who does not exist says so."""
    with pytest.raises(UnknownPerson):
        eligibility.explain_decision(CASEWORKER, "no-such-person")


def test_no_decision_yet_is_an_empty_list(eligibility: Eligibility, population: Population) -> None:
    """Before any run a person has no decisions, and that is not an error."""
    assert eligibility.explain_decision(CASEWORKER, population.people["p1"]) == []
    assert DecisionBasis.RULE.value == "rule"


def test_a_rule_may_name_another_programme_it_declares(
    eligibility: Eligibility, officer: Actor, population: Population
) -> None:
    """`!enrolled("old_age_pension")` reads the pension's current enrolments."""
    eligibility.create_programme(officer, pension())
    eligibility.publish(officer, "old_age_pension")
    eligibility.run(officer, "old_age_pension", REFERENCE)
    eligibility.create_programme(
        officer,
        pension(
            code="elderly_top_up",
            name="Top-up for the very old without a pension",
            rule='!enrolled("old_age_pension") && age >= 70',
            depends_on=("old_age_pension",),
        ),
    )
    eligibility.publish(officer, "elderly_top_up")
    run = eligibility.run(officer, "elderly_top_up", REFERENCE)
    assert run.eligible == 1  # p8 (85, no pension); p1 (75) already has the pension
    [explanation] = eligibility.explain_decision(
        CASEWORKER, population.people["p8"], "elderly_top_up"
    )
    assert explanation.decision.eligible
    assert "old_age_pension" in " ".join(explanation.lines)


def test_reading_a_decision_is_logged_with_the_fields_shown(
    services: Services, eligibility: Eligibility, officer: Actor, population: Population
) -> None:
    """Each explanation read is an access-log entry naming the declared fields shown."""
    eligibility.create_programme(officer, pension())
    eligibility.publish(officer, "old_age_pension")
    eligibility.run(officer, "old_age_pension", REFERENCE)
    eligibility.explain_decision(CASEWORKER, population.people["p1"])
    [entry] = logged(services, Tag.ELIGIBILITY_DECISION_READ)
    assert (entry.subject_id, entry.purpose) == (population.people["p1"], "case_management")
    assert entry.fields == '["date_of_birth", "monthly_income"]'
