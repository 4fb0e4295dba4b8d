"""A small registry with planted duplicates and a stored deduplication run, for the review
queue's API, pages and browser tests.

The run is written directly (as tests/integration/dedup/test_review.py does): Splink's scores
are tested in the linkage tests; here what matters is what the queue shows and decides.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from sqlalchemy import insert

from fairshare.audit.model import utc_now
from fairshare.bootstrap import Services
from fairshare.db import UnitOfWork
from fairshare.dedup.orm import dedup_pairs, dedup_runs
from fairshare.identity.model import Purpose, Role
from fairshare.registry.services import MemberInput
from tests.conftest import actor

# Real level names of the model (fairshare.dedup.comparisons), so the words are the real ones.
EVIDENCE_LIKELY = {
    "given_names": {"level": "exact", "match_weight": 6.2, "bayes_factor": 73.5},
    "family_names_and_address": {
        "level": "second family name left out, same municipality",
        "match_weight": 4.1,
        "bayes_factor": 17.1,
    },
    "date_of_birth": {"level": "exact", "match_weight": 8.1, "bayes_factor": 274.4},
    "sex": {"level": "same", "match_weight": 0.9, "bayes_factor": 1.9},
    "national_id": {"level": "missing", "match_weight": 0.0, "bayes_factor": 1.0},
}
EVIDENCE_UNLIKELY = {
    "given_names": {"level": "different", "match_weight": -6.6, "bayes_factor": 0.0106},
    "family_names_and_address": {
        "level": "same family names, same address",
        "match_weight": 9.0,
        "bayes_factor": 512.0,
    },
    "date_of_birth": {"level": "year off by one", "match_weight": 1.2, "bayes_factor": 2.3},
}

PEOPLE = (
    # key, given, family, born, sex
    ("ana1", "Anacleta", "Quispewaman Mamani", "1950-03-10", "female"),
    ("ana2", "Anacleta", "Quispewaman", "1950-03-10", "female"),
    ("carlos", "Carlos", "Rojasvilca", "1955-01-01", "male"),
    ("dora", "Dora", "Rojasvilca", "1956-01-01", "female"),
)


@dataclass(frozen=True)
class Planted:
    ids: dict[str, str]  # key -> person id, in registration order
    run_id: str
    likely_pair: int  # ana1 / ana2: the same woman registered twice
    unlikely_pair: int  # carlos / dora: a couple at one address


def store_run(
    uow: UnitOfWork, pairs: list[tuple[str, str, float, dict[str, object]]]
) -> tuple[str, list[int]]:
    """Write a finished run with these pending (person, person, probability, evidence) pairs;
    returns the run id and the pair ids in the same order."""
    run_id = str(uuid.uuid4())
    now = utc_now()
    with uow:
        connection = uow.connection
        connection.execute(
            insert(dedup_runs).values(
                id=run_id,
                started_at=now,
                finished_at=now,
                started_by="test",
                upper_threshold=0.99,
                lower_threshold=0.8,
                records=len(PEOPLE),
                pairs_linked=0,
                pairs_review=len(pairs),
                clusters=0,
                model="{}",
            )
        )
        ids = []
        for a, b, probability, evidence in pairs:
            result = connection.execute(
                insert(dedup_pairs).values(
                    run_id=run_id,
                    person_a=a,
                    person_b=b,
                    match_probability=probability,
                    match_weight=3.2,
                    evidence=json.dumps(evidence),
                    outcome="review",
                    review_status="pending",
                )
            )
            ids.append(int(result.inserted_primary_key[0]))
        uow.commit()
    return run_id, ids


def plant(services: Services) -> Planted:
    """Four people (Anacleta twice), registered by a caseworker, and a run with two pairs."""
    registrar = actor(Role.CASEWORKER, Purpose.REGISTRATION, username="ana.registrar")
    ids: dict[str, str] = {}
    for key, given, family, born, sex in PEOPLE:
        household = services.registry.register_household(
            registrar,
            {"region": "Sierra Central", "address": f"Calle {family.split()[0]} 7"},
            [
                MemberInput(
                    {
                        "given_names": given,
                        "family_names": family,
                        "date_of_birth": born,
                        "sex": sex,
                        "relationship_to_head": "head",
                    }
                )
            ],
        )
        ids[key] = household.members[0].id
    run_id, (likely, unlikely) = store_run(
        services.uow(),
        [
            (ids["ana1"], ids["ana2"], 0.97, EVIDENCE_LIKELY),
            (ids["carlos"], ids["dora"], 0.84, EVIDENCE_UNLIKELY),
        ],
    )
    return Planted(ids, run_id, likely, unlikely)
