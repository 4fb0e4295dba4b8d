"""Appeals: filed by the person or a caseworker, queued, decided by a human, seen by the person."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from fairshare.audit.model import Tag
from fairshare.audit.orm import access_log
from fairshare.bootstrap import Services
from fairshare.eligibility.model import (
    AppealClosed,
    AppealStatus,
    DecisionBasis,
    UnknownAppeal,
    UnknownDecision,
)
from fairshare.eligibility.orm import decisions, enrolments
from fairshare.eligibility.services import Eligibility
from fairshare.errors import InvalidInput
from fairshare.identity.model import Actor, Purpose, PurposeNotAllowed, Role
from tests.conftest import actor
from tests.integration.eligibility.conftest import REFERENCE, Population, medicine, pension


@pytest.fixture
def ran(eligibility: Eligibility, officer: Actor, population: Population) -> Population:
    """The pension published and run over the small registry."""
    eligibility.create_programme(officer, pension())
    eligibility.publish(officer, "old_age_pension")
    eligibility.run(officer, "old_age_pension", REFERENCE)
    return population


def citizen_of(population: Population, name: str) -> Actor:
    return actor(Role.CITIZEN, Purpose.SELF_SERVICE, person_id=population.people[name])


def decision_of(eligibility: Eligibility, citizen: Actor) -> str:
    assert citizen.person_id is not None
    [explanation] = eligibility.explain_decision(citizen, citizen.person_id)
    return explanation.decision.id


def test_full_appeal_flow_overturn(
    services: Services,
    eligibility: Eligibility,
    appeals_caseworker: Actor,
    officer: Actor,
    ran: Population,
) -> None:
    """File, queue, overturn; the person sees the outcome; both decisions are kept; logged."""
    citizen = citizen_of(ran, "p3")
    decision_id = decision_of(eligibility, citizen)
    appeal = eligibility.file_appeal(citizen, decision_id, "My income fell to 120 last month")
    assert appeal.status is AppealStatus.OPEN
    assert appeal.due_on == appeal.filed_at.date() + timedelta(days=30)
    [queued] = eligibility.appeal_queue(appeals_caseworker)
    assert queued.appeal.id == appeal.id and not queued.overdue
    assert queued.programme_name == "Old-age pension"
    decided = eligibility.decide_appeal(
        appeals_caseworker, appeal.id, "overturn", "Payslips show income of 120.00 since May"
    )
    assert decided.status is AppealStatus.OVERTURNED
    assert decided.decided_by == appeals_caseworker.username
    assert eligibility.appeal_queue(appeals_caseworker) == []
    [seen] = eligibility.appeals_for(citizen, ran.people["p3"])
    assert seen.appeal.status is AppealStatus.OVERTURNED
    assert seen.appeal.decision_reason == "Payslips show income of 120.00 since May"
    [explanation] = eligibility.explain_decision(citizen, ran.people["p3"])
    assert explanation.decision.eligible and explanation.superseded_by_human
    assert explanation.decision.basis is DecisionBasis.APPEAL
    assert explanation.decision.supersedes == decision_id
    assert explanation.lines[0].startswith("You are eligible for Old-age pension")
    assert "Payslips" in explanation.lines[1]
    with services.uow() as uow:
        kept = uow.connection.execute(
            select(decisions.c.basis, decisions.c.eligible).where(
                decisions.c.subject_id == ran.people["p3"]
            )
        ).all()
        enrolled = uow.connection.execute(
            select(enrolments.c.subject_id).where(enrolments.c.subject_id == ran.people["p3"])
        ).all()
        actions = {
            r.action
            for r in uow.connection.execute(
                select(access_log.c.action).where(access_log.c.subject_id == ran.people["p3"])
            )
        }
    assert sorted((r.basis, bool(r.eligible)) for r in kept) == [("appeal", True), ("rule", False)]
    assert len(enrolled) == 1
    assert {
        Tag.ELIGIBILITY_APPEAL_FILE,
        Tag.ELIGIBILITY_APPEAL_READ,
        Tag.ELIGIBILITY_APPEAL_DECIDE,
    } <= actions
    # The next run under the same rule version keeps the caseworker's decision in force.
    eligibility.run(officer, "old_age_pension", REFERENCE)
    [after] = eligibility.explain_decision(citizen, ran.people["p3"])
    assert after.decision.eligible and after.superseded_by_human


def test_uphold_keeps_the_decision(
    eligibility: Eligibility, appeals_caseworker: Actor, ran: Population
) -> None:
    """An upheld appeal leaves the automated decision in force, with the reviewer's reason."""
    citizen = citizen_of(ran, "p5")
    appeal = eligibility.file_appeal(citizen, decision_of(eligibility, citizen), "I am nearly 65")
    decided = eligibility.decide_appeal(
        appeals_caseworker, appeal.id, "uphold", "The pension starts at 65; you are 64"
    )
    assert decided.status is AppealStatus.UPHELD
    [explanation] = eligibility.explain_decision(citizen, ran.people["p5"])
    assert not explanation.decision.eligible and not explanation.superseded_by_human
    with pytest.raises(AppealClosed):
        eligibility.decide_appeal(appeals_caseworker, appeal.id, "overturn", "changed my mind")


def test_caseworker_files_for_a_person_and_overdue_is_flagged(
    eligibility: Eligibility, appeals_caseworker: Actor, ran: Population
) -> None:
    """A caseworker can file for someone; an appeal past its due date is flagged overdue."""
    [explanation] = eligibility.explain_decision(appeals_caseworker, ran.people["p8"])
    appeal = eligibility.file_appeal(
        appeals_caseworker, explanation.decision.id, "His income was never recorded"
    )
    late = appeal.due_on + timedelta(days=1)
    [queued] = eligibility.appeal_queue(appeals_caseworker, today=late)
    assert queued.overdue
    [on_time] = eligibility.appeal_queue(appeals_caseworker, today=appeal.due_on)
    assert not on_time.overdue
    short = Eligibility(eligibility.uow, eligibility.cipher, appeal_days=5)
    [other] = eligibility.explain_decision(appeals_caseworker, ran.people["p7"])
    quick = short.file_appeal(appeals_caseworker, other.decision.id, "Please check again")
    assert quick.due_on == quick.filed_at.date() + timedelta(days=5)
    queue = eligibility.appeal_queue(appeals_caseworker, today=quick.due_on + timedelta(days=1))
    assert queue[0].appeal.id == quick.id  # overdue first


def test_appeal_refusals(
    eligibility: Eligibility, appeals_caseworker: Actor, officer: Actor, ran: Population
) -> None:
    """No reason, someone else's decision, a second open appeal or the wrong role: refused."""
    citizen = citizen_of(ran, "p3")
    decision_id = decision_of(eligibility, citizen)
    with pytest.raises(InvalidInput, match="reason"):
        eligibility.file_appeal(citizen, decision_id, "")
    with pytest.raises(PurposeNotAllowed):
        eligibility.file_appeal(citizen_of(ran, "p1"), decision_id, "Not my decision at all")
    eligibility.file_appeal(citizen, decision_id, "My income fell")
    with pytest.raises(AppealClosed):
        eligibility.file_appeal(citizen, decision_id, "Again, my income fell")
    with pytest.raises(PurposeNotAllowed):
        eligibility.appeal_queue(officer)
    with pytest.raises(PurposeNotAllowed):
        eligibility.appeal_queue(citizen)
    [queued] = eligibility.appeal_queue(appeals_caseworker)
    with pytest.raises(PurposeNotAllowed):
        eligibility.decide_appeal(citizen, queued.appeal.id, "overturn", "I decide for myself")
    with pytest.raises(InvalidInput, match="uphold"):
        eligibility.decide_appeal(appeals_caseworker, queued.appeal.id, "maybe", "not sure")
    with pytest.raises(UnknownAppeal):
        eligibility.decide_appeal(appeals_caseworker, "no-such-appeal", "uphold", "none")
    with pytest.raises(UnknownDecision):
        eligibility.file_appeal(appeals_caseworker, "no-such-decision", "Some reason")


def test_health_appeals_are_handled_under_a_health_purpose(
    eligibility: Eligibility, officer: Actor, appeals_caseworker: Actor, population: Population
) -> None:
    """An appeal on a medicine decision is queued and decided only under health_assessment."""
    eligibility.create_programme(officer, medicine())
    eligibility.publish(officer, "chronic_medicine")
    eligibility.run(officer, "chronic_medicine", REFERENCE)
    citizen = citizen_of(population, "p3")
    appeal = eligibility.file_appeal(
        citizen, decision_of(eligibility, citizen), "I was diagnosed with asthma in April"
    )
    assert eligibility.appeal_queue(appeals_caseworker) == []
    with pytest.raises(PurposeNotAllowed, match="health_assessment"):
        eligibility.decide_appeal(appeals_caseworker, appeal.id, "overturn", "Asthma confirmed")
    health = actor(Role.CASEWORKER, Purpose.HEALTH_ASSESSMENT, username="nurse")
    [queued] = eligibility.appeal_queue(health)
    decided = eligibility.decide_appeal(health, queued.appeal.id, "overturn", "Asthma confirmed")
    assert decided.status is AppealStatus.OVERTURNED
    [seen] = eligibility.appeals_for(citizen, population.people["p3"])
    assert seen.appeal.decision_reason == "Asthma confirmed"
