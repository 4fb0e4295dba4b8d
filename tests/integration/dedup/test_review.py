"""Review queue, decisions, merges and unmerges, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from fairshare.audit.model import Tag, utc_now
from fairshare.audit.orm import access_log
from fairshare.bootstrap import Services
from fairshare.dedup.orm import dedup_clusters, dedup_merges, dedup_pairs, dedup_runs
from fairshare.dedup.review import Review, merged_people, survivor_of
from fairshare.eligibility.orm import decisions, enrolments
from fairshare.errors import Conflict, InvalidInput
from fairshare.identity.model import Actor, Purpose, PurposeNotAllowed, Role
from fairshare.registry.orm import people, record_changes
from fairshare.registry.services import MemberInput
from tests.conftest import actor
from tests.integration.eligibility.conftest import pension

EVIDENCE = {
    "given_names": {"level": "exact", "match_weight": 6.2, "bayes_factor": 73.5},
    "date_of_birth": {"level": "exact", "match_weight": 8.1, "bayes_factor": 274.4},
    "national_id": {"level": "null", "match_weight": 0.0, "bayes_factor": 1.0},
}


@dataclass(frozen=True)
class World:
    ids: dict[str, str]  # name -> person id, in registration order
    run_id: str
    review_pair: int  # ana1 / ana2, pending
    other_pair: int  # carlos / dora, pending


@pytest.fixture
def reviewer() -> Actor:
    return actor(Role.CASEWORKER, Purpose.DUPLICATE_REVIEW, username="rosa.revisora")


def _member(given: str, family: str, born: str, income: str) -> MemberInput:
    return MemberInput(
        {
            "given_names": given,
            "family_names": family,
            "date_of_birth": born,
            "sex": "female",
            "relationship_to_head": "head",
            "monthly_income": income,
        }
    )


def _run(services: Services, pairs: list[tuple[str, str, str]], clusters: list[list[str]]) -> str:
    """Store a run by hand: (person, person, outcome) pairs and clusters of person ids."""
    run_id = str(uuid.uuid4())
    now = utc_now()
    with services.uow() as uow:
        connection = uow.connection
        connection.execute(
            insert(dedup_runs).values(
                id=run_id,
                started_at=now,
                finished_at=now,
                started_by="test",
                upper_threshold=0.99,
                lower_threshold=0.8,
                records=10,
                pairs_linked=sum(1 for p in pairs if p[2] == "linked"),
                pairs_review=sum(1 for p in pairs if p[2] == "review"),
                clusters=len(clusters),
                model="{}",
            )
        )
        for a, b, outcome in pairs:
            a, b = sorted((a, b))
            connection.execute(
                insert(dedup_pairs).values(
                    run_id=run_id,
                    person_a=a,
                    person_b=b,
                    match_probability=0.995 if outcome == "linked" else 0.9,
                    match_weight=7.5 if outcome == "linked" else 3.2,
                    evidence=json.dumps(EVIDENCE),
                    outcome=outcome,
                    review_status="automatic" if outcome == "linked" else "pending",
                )
            )
        for cluster in clusters:
            for person in cluster:
                connection.execute(
                    insert(dedup_clusters).values(
                        run_id=run_id, person_id=person, cluster_id=min(cluster)
                    )
                )
        uow.commit()
    return run_id


@pytest.fixture
def world(services: Services) -> World:
    """Five people (Ana twice), a pension decided over them, and a run with two pending pairs.

    Ana's first record earns too much for the pension; her second is eligible and enrolled.
    """
    registrar = actor(Role.CASEWORKER, Purpose.REGISTRATION)
    ids: dict[str, str] = {}
    layout = [
        ("ana1", "Ana", "Quispe", "1950-03-10", "200.00"),
        ("ana2", "Ana", "Quispe Mamani", "1950-03-10", "100.00"),
        ("carlos", "Carlos", "Rojas", "1955-01-01", "90.00"),
        ("dora", "Dora", "Rojas", "1956-01-01", "80.00"),
        ("eva", "Eva", "Luna", "1990-01-01", "80.00"),
    ]
    for name, given, family, born, income in layout:
        household = services.registry.register_household(
            registrar,
            {"region": "Costa", "address": f"Calle {name}"},
            [_member(given, family, born, income)],
        )
        ids[name] = household.members[0].id
    officer = actor(Role.PROGRAMME_OFFICER, Purpose.PROGRAMME_DESIGN, username="officer")
    services.eligibility.create_programme(officer, pension())
    services.eligibility.publish(officer, "old_age_pension")
    services.eligibility.run(officer, "old_age_pension", date(2025, 6, 1))
    run_id = _run(
        services,
        [(ids["ana1"], ids["ana2"], "review"), (ids["carlos"], ids["dora"], "review")],
        [],
    )
    with services.uow() as uow:
        pair_ids = dict(
            uow.connection.execute(select(dedup_pairs.c.person_a, dedup_pairs.c.id)).all()
        )
    return World(
        ids,
        run_id,
        pair_ids[min(ids["ana1"], ids["ana2"])],
        pair_ids[min(ids["carlos"], ids["dora"])],
    )


def review(services: Services) -> Review:
    return Review(services.uow(), services.cipher)


def snapshot(services: Services) -> dict[str, list[tuple[Any, ...]]]:
    with services.uow() as uow:
        c = uow.connection
        return {
            "decisions": [tuple(r) for r in c.execute(select(decisions).order_by(decisions.c.id))],
            "enrolments": [
                tuple(r)
                for r in c.execute(
                    select(enrolments).order_by(enrolments.c.programme, enrolments.c.subject_id)
                )
            ],
            "people": [tuple(r) for r in c.execute(select(people).order_by(people.c.id))],
        }


def count(services: Services, table: Any, *where: Any) -> int:
    with services.uow() as uow:
        query = select(func.count()).select_from(table)
        for condition in where:
            query = query.where(condition)
        return int(uow.connection.execute(query).scalar_one())


def subjects(services: Services, table: Any) -> list[str]:
    with services.uow() as uow:
        return [r[0] for r in uow.connection.execute(select(table.c.subject_id))]


def test_queue_shows_pending_pairs_with_evidence(
    services: Services, world: World, reviewer: Actor
) -> None:
    """The queue lists both records side by side, the evidence, and logs a read of each."""
    logged = count(services, access_log)
    queued = review(services).queue(reviewer)
    assert {q.id for q in queued} == {world.review_pair, world.other_pair}
    ana = next(q for q in queued if q.id == world.review_pair)
    names = {ana.person_a.values["family_names"], ana.person_b.values["family_names"]}
    assert names == {"Quispe", "Quispe Mamani"}
    assert ana.evidence["date_of_birth"]["level"] == "exact"
    assert ana.person_a.health == {} and ana.person_b.health == {}
    with services.uow() as uow:
        entries = uow.connection.execute(
            select(access_log).where(access_log.c.sequence > logged)
        ).all()
    assert len(entries) == 4 == count(services, access_log) - logged
    assert {e.subject_id for e in entries} == {
        world.ids[n] for n in ("ana1", "ana2", "carlos", "dora")
    }
    assert all(e.action == Tag.DEDUP_QUEUE_READ for e in entries)
    assert "given_names" in json.loads(entries[0].fields)


def test_reject_stores_reason(services: Services, world: World, reviewer: Actor) -> None:
    """A rejection is stored on the pair with who, when and why; nothing is merged."""
    before = snapshot(services)
    result = review(services).decide(
        reviewer, world.other_pair, accept=False, reason="siblings, different people"
    )
    assert result.merge is None
    with services.uow() as uow:
        pair = uow.connection.execute(
            select(dedup_pairs).where(dedup_pairs.c.id == world.other_pair)
        ).one()
    assert pair.review_status == "rejected"
    assert pair.reviewed_by == "rosa.revisora" and pair.reviewed_at is not None
    assert pair.review_reason == "siblings, different people"
    assert snapshot(services) == before
    assert count(services, dedup_merges) == 0
    assert [q.id for q in review(services).queue(reviewer)] == [world.review_pair]


def test_a_reason_is_required(services: Services, world: World, reviewer: Actor) -> None:
    """A decision without a reason is refused and the pair stays pending."""
    with pytest.raises(InvalidInput, match="reason"):
        review(services).decide(reviewer, world.review_pair, accept=True, reason=" ")
    assert count(services, dedup_pairs, dedup_pairs.c.review_status == "pending") == 2


def test_accept_merges_and_moves_decisions_to_the_survivor(
    services: Services, world: World, reviewer: Actor
) -> None:
    """Accepting merges the later record into the earlier one; its decisions follow."""
    ana1, ana2 = world.ids["ana1"], world.ids["ana2"]
    with services.uow() as uow:
        ana2_decisions = [
            r.id
            for r in uow.connection.execute(
                select(decisions.c.id).where(decisions.c.subject_id == ana2)
            )
        ]
    assert ana2_decisions and ana2 in subjects(services, enrolments)
    logged = count(services, access_log)

    result = review(services).decide(
        reviewer, world.review_pair, accept=True, reason="same ID card seen in person"
    )
    merge = result.merge
    assert merge is not None
    assert (merge.survivor_id, merge.merged_id) == (ana1, ana2)
    assert merge.moved["decisions"] == ana2_decisions
    assert merge.moved["enrolments"][0]["programme"] == "old_age_pension"
    assert ana2 not in subjects(services, decisions)
    assert ana2 not in subjects(services, enrolments) and ana1 in subjects(services, enrolments)
    with services.uow() as uow:
        assert merged_people(uow) == {ana2}
        assert survivor_of(uow, ana2) == ana1 and survivor_of(uow, ana1) == ana1
        history = uow.connection.execute(
            select(record_changes).where(record_changes.c.subject_id == ana2)
        ).all()
        entries = uow.connection.execute(
            select(access_log).where(access_log.c.sequence > logged)
        ).all()
    assert [(h.field, json.loads(h.new_value), h.reason) for h in history] == [
        ("merged_into", ana1, "same ID card seen in person")
    ]
    merge_entries = {e.subject_id for e in entries if e.action == Tag.DEDUP_PERSON_MERGE}
    assert merge_entries == {ana1, ana2}
    assert [h.field for h in services.registry.history(reviewer, ana2)] == ["merged_into"]


def test_chosen_survivor(services: Services, world: World, reviewer: Actor) -> None:
    """The caseworker may choose which record survives."""
    ana1, ana2 = world.ids["ana1"], world.ids["ana2"]
    result = review(services).decide(
        reviewer, world.review_pair, accept=True, reason="newer record is better", survivor_id=ana2
    )
    assert result.merge is not None
    assert (result.merge.survivor_id, result.merge.merged_id) == (ana2, ana1)


def test_unmerge_restores_exactly_and_nothing_is_deleted(
    services: Services, world: World, reviewer: Actor
) -> None:
    """After merge and unmerge, decisions, enrolments and people are as before; rows kept."""
    before = snapshot(services)
    people_before = count(services, people)
    result = review(services).decide(reviewer, world.review_pair, accept=True, reason="same person")
    assert result.merge is not None
    assert count(services, people) == people_before
    assert snapshot(services)["people"] == before["people"]

    undone = review(services).unmerge(reviewer, result.merge.id, "wrong: twins")
    assert undone.unmerged_by == "rosa.revisora"
    assert snapshot(services) == before
    assert count(services, dedup_merges) == 1
    assert count(services, dedup_merges, dedup_merges.c.unmerged_at.is_not(None)) == 1
    with services.uow() as uow:
        assert merged_people(uow) == set()
    history = services.registry.history(reviewer, world.ids["ana2"])
    assert [(h.field, h.old, h.new) for h in history] == [
        ("merged_into", None, world.ids["ana1"]),
        ("merged_into", world.ids["ana1"], None),
    ]
    assert count(services, access_log, access_log.c.action == Tag.DEDUP_PERSON_UNMERGE) == 2


def test_unmerging_twice_is_a_conflict(services: Services, world: World, reviewer: Actor) -> None:
    """A merge undone once cannot be undone again."""
    result = review(services).decide(reviewer, world.review_pair, accept=True, reason="same")
    assert result.merge is not None
    review(services).unmerge(reviewer, result.merge.id, "mistake")
    with pytest.raises(Conflict, match="undone already"):
        review(services).unmerge(reviewer, result.merge.id, "mistake again")


def test_double_decision_is_a_conflict(services: Services, world: World, reviewer: Actor) -> None:
    """A second decision on a decided pair is refused and changes nothing."""
    review(services).decide(reviewer, world.review_pair, accept=False, reason="different people")
    before = snapshot(services)
    with pytest.raises(Conflict, match="not waiting for review"):
        review(services).decide(reviewer, world.review_pair, accept=True, reason="same after all")
    assert snapshot(services) == before
    assert count(services, dedup_merges) == 0


def test_other_roles_and_purposes_are_refused_and_logged(services: Services, world: World) -> None:
    """A caseworker acting for registration, or an officer, is refused; each refusal logged."""
    clerk = actor(Role.CASEWORKER, Purpose.REGISTRATION)
    officer = actor(Role.PROGRAMME_OFFICER, Purpose.PROGRAMME_DESIGN)
    logged = count(services, access_log)
    with pytest.raises(PurposeNotAllowed):
        review(services).queue(clerk)
    with pytest.raises(PurposeNotAllowed):
        review(services).decide(clerk, world.review_pair, accept=True, reason="same")
    with pytest.raises(PurposeNotAllowed):
        review(services).merge_linked(officer)
    with pytest.raises(PurposeNotAllowed):
        review(services).unmerge(officer, "x", "because")
    assert count(services, access_log) == logged + 4
    assert count(services, access_log, access_log.c.outcome == "denied") >= 4
    assert count(services, dedup_pairs, dedup_pairs.c.review_status == "pending") == 2


def test_merge_linked_merges_clusters_into_their_earliest_member(
    services: Services, world: World, reviewer: Actor
) -> None:
    """Auto-linked clusters merge into their earliest member, once; reviewed merges are kept."""
    ids = world.ids
    review(services).decide(reviewer, world.other_pair, accept=True, reason="same person")
    # carlos absorbed dora; a run links dora with eva (dora already merged: skipped) and a
    # cluster of ana1, ana2 and eva.
    run_id = _run(
        services,
        [(ids["ana1"], ids["ana2"], "linked"), (ids["ana2"], ids["eva"], "linked")],
        [[ids["ana1"], ids["ana2"], ids["eva"]], [ids["dora"], ids["carlos"]]],
    )
    report = review(services).merge_linked(reviewer, run_id)
    assert report.run_id == run_id
    assert {(m.survivor_id, m.merged_id) for m in report.merges} == {
        (ids["ana1"], ids["ana2"]),
        (ids["ana1"], ids["eva"]),
    }
    assert all(m.pair_id is None for m in report.merges)
    assert report.skipped == 1
    with services.uow() as uow:
        assert merged_people(uow) == {ids["ana2"], ids["eva"], ids["dora"]}
    assert set(subjects(services, decisions)) == {ids["ana1"], ids["carlos"]}
    again = review(services).merge_linked(reviewer, run_id)
    assert again.merges == ()
    assert count(services, dedup_merges) == 3


def test_merged_records_are_left_out_of_eligibility_runs(
    services: Services, world: World, reviewer: Actor
) -> None:
    """After a merge, a new run decides about the survivor only, not the merged record."""
    ana1, ana2 = world.ids["ana1"], world.ids["ana2"]
    review(services).decide(reviewer, world.review_pair, accept=True, reason="same person")
    officer = actor(Role.PROGRAMME_OFFICER, Purpose.PROGRAMME_DESIGN, username="officer")
    run = services.eligibility.run(officer, "old_age_pension", date(2025, 7, 1))
    with services.uow() as uow:
        latest = (
            uow.connection.execute(
                select(decisions.c.subject_id).where(decisions.c.run_id == run.id)
            )
            .scalars()
            .all()
        )
    assert ana1 in latest
    assert ana2 not in latest
