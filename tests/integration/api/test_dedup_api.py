"""The duplicate review API: queue, one pair side by side, decisions, merges and unmerges,
on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairshare.audit.model import Tag
from fairshare.audit.orm import access_log
from fairshare.bootstrap import Services
from fairshare.dedup.review import merged_people
from fairshare.identity.model import Role
from tests.integration.api.conftest import Headers, UserFactory
from tests.integration.planted_duplicates import Planted, plant

REVIEWS = "/api/v1/dedup/reviews"
MERGES = "/api/v1/dedup/merges"


@pytest.fixture
def planted(services: Services) -> Planted:
    return plant(services)


@pytest.fixture
def reviewer(user: UserFactory) -> Headers:
    return user(Role.CASEWORKER, "rosa.revisora", purpose="duplicate_review")


def _log(services: Services, tag: Tag) -> list[tuple[str, str]]:
    with services.uow() as uow:
        return [
            (row.subject_id, row.actor)
            for row in uow.connection.execute(
                select(access_log.c.subject_id, access_log.c.actor).where(
                    access_log.c.action == tag.value
                )
            )
        ]


def test_queue_lists_pending_pairs_most_likely_first_with_evidence_in_words(
    client: TestClient, services: Services, planted: Planted, reviewer: Headers
) -> None:
    """The queue pages through pending pairs by probability, each comparison's level in
    words, and logs a read of the names of each listed person."""
    answer = client.get(REVIEWS, headers=reviewer)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["run_id"] == planted.run_id
    assert body["total"] == 2
    assert [p["id"] for p in body["pairs"]] == [planted.likely_pair, planted.unlikely_pair]
    first = body["pairs"][0]
    assert first["names_a"] == "Anacleta Quispewaman Mamani"
    assert first["evidence"]["given_names"]["agreement"] == "agree"
    assert first["evidence"]["family_names_and_address"]["agreement"] == "partly"
    assert first["evidence"]["national_id"]["agreement"] == "missing"
    assert body["pairs"][1]["evidence"]["given_names"]["agreement"] == "disagree"

    second_page = client.get(REVIEWS, params={"limit": 1, "offset": 1}, headers=reviewer).json()
    assert [p["id"] for p in second_page["pairs"]] == [planted.unlikely_pair]
    assert second_page["total"] == 2
    logged = {subject for subject, _ in _log(services, Tag.DEDUP_QUEUE_READ)}
    assert set(planted.ids.values()) <= logged


def test_pair_shows_both_records_side_by_side(
    client: TestClient, services: Services, planted: Planted, reviewer: Headers
) -> None:
    """A pair shows the compared fields of both records, and no other personal field."""
    answer = client.get(f"{REVIEWS}/{planted.likely_pair}", headers=reviewer)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "pending"
    rows = {row["field"]: row for row in body["fields"]}
    assert rows["family_names"]["value_a"] == "Quispewaman Mamani"
    assert rows["family_names"]["value_b"] == "Quispewaman"
    assert rows["family_names"]["evidence"]["agreement"] == "partly"
    assert rows["date_of_birth"]["value_a"] == "1950-03-10"
    assert rows["address"]["evidence"] is None  # counted within the family-names comparison
    assert "monthly_income" not in rows and "relationship_to_head" not in rows
    assert (planted.ids["ana1"], "rosa.revisora") in _log(services, Tag.DEDUP_QUEUE_READ)


def test_accept_merges_into_the_chosen_survivor_and_unmerge_restores(
    client: TestClient, services: Services, planted: Planted, reviewer: Headers
) -> None:
    """Accepting with a survivor merges the other record into it; deciding again is a 409;
    the unmerge separates them again and a second unmerge is a 409."""
    survivor = planted.ids["ana2"]
    answer = client.post(
        f"{REVIEWS}/{planted.likely_pair}/decision",
        json={
            "decision": "accept",
            "reason": "same woman, same birth date",
            "survivor_id": survivor,
        },
        headers=reviewer,
    )
    assert answer.status_code == 200, answer.text
    merge = answer.json()["merge"]
    assert answer.json()["status"] == "accepted"
    assert (merge["survivor_id"], merge["merged_id"]) == (survivor, planted.ids["ana1"])
    with services.uow() as uow:
        assert merged_people(uow) == {planted.ids["ana1"]}

    again = client.post(
        f"{REVIEWS}/{planted.likely_pair}/decision",
        json={"decision": "reject", "reason": "changed my mind"},
        headers=reviewer,
    )
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert "not waiting for review" in again.json()["detail"]

    listed = client.get(MERGES, headers=reviewer).json()
    assert [m["id"] for m in listed["merges"]] == [merge["id"]]
    shown = client.get(f"{REVIEWS}/{planted.likely_pair}", headers=reviewer).json()
    assert shown["status"] == "accepted" and shown["merge"]["id"] == merge["id"]

    undone = client.post(
        f"{MERGES}/{merge['id']}/unmerge", json={"reason": "two sisters"}, headers=reviewer
    )
    assert undone.status_code == 200, undone.text
    assert undone.json()["unmerged_by"] == "rosa.revisora"
    with services.uow() as uow:
        assert merged_people(uow) == set()
    twice = client.post(
        f"{MERGES}/{merge['id']}/unmerge", json={"reason": "two sisters"}, headers=reviewer
    )
    assert twice.status_code == 409
    assert len(_log(services, Tag.DEDUP_PERSON_UNMERGE)) == 2


def test_reject_leaves_two_people(
    client: TestClient, services: Services, planted: Planted, reviewer: Headers
) -> None:
    """Rejecting records the decision and merges nothing; the pair leaves the queue."""
    answer = client.post(
        f"{REVIEWS}/{planted.unlikely_pair}/decision",
        json={"decision": "reject", "reason": "a couple at one address"},
        headers=reviewer,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "pair_id": planted.unlikely_pair,
        "status": "rejected",
        "merge": None,
    }
    assert [p["id"] for p in client.get(REVIEWS, headers=reviewer).json()["pairs"]] == [
        planted.likely_pair
    ]
    with services.uow() as uow:
        assert merged_people(uow) == set()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"decision": "reject", "reason": "  "}, "reason"),
        ({"decision": "maybe", "reason": "not sure"}, "decision"),
        ({"decision": "reject", "reason": "two people", "survivor_id": "x"}, ""),
        ({"decision": "accept", "reason": "same", "survivor_id": "not-of-the-pair"}, "survivor"),
    ],
)
def test_bad_decisions_are_422_and_change_nothing(
    client: TestClient,
    services: Services,
    planted: Planted,
    reviewer: Headers,
    body: dict[str, str],
    field: str,
) -> None:
    """A blank reason, an unknown decision or a survivor outside the pair: problem details
    naming the field, and the pair still waits."""
    answer = client.post(f"{REVIEWS}/{planted.likely_pair}/decision", json=body, headers=reviewer)
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["status"] == 422 and problem["detail"]
    assert field in {e["field"] for e in problem["errors"]}
    pending = [p["id"] for p in client.get(REVIEWS, headers=reviewer).json()["pairs"]]
    assert planted.likely_pair in pending


def test_unknown_pair_and_merge_are_404(
    client: TestClient, planted: Planted, reviewer: Headers
) -> None:
    """Unknown ids answer 404 problem details that say what to do."""
    answer = client.get(f"{REVIEWS}/999999", headers=reviewer)
    assert answer.status_code == 404
    assert "list the queue" in answer.json()["detail"]
    decided = client.post(
        f"{REVIEWS}/999999/decision",
        json={"decision": "reject", "reason": "x y z"},
        headers=reviewer,
    )
    assert decided.status_code == 404
    unmerged = client.post(f"{MERGES}/nope/unmerge", json={"reason": "x y z"}, headers=reviewer)
    assert unmerged.status_code == 404


def test_other_purposes_and_roles_are_refused_and_logged(
    client: TestClient, services: Services, planted: Planted, user: UserFactory
) -> None:
    """A caseworker acting for registration, and an auditor, are refused (403) and logged."""
    registering = user(Role.CASEWORKER, "luis.registra", purpose="registration")
    assert client.get(REVIEWS, headers=registering).status_code == 403
    auditor = user(Role.AUDITOR, "olga.audita")
    assert client.get(f"{REVIEWS}/{planted.likely_pair}", headers=auditor).status_code == 403
    assert client.get(MERGES, headers=auditor).status_code == 403
    with services.uow() as uow:
        denied = uow.connection.execute(
            select(access_log.c.actor).where(access_log.c.outcome == "denied")
        ).all()
    assert {"luis.registra", "olga.audita"} <= {row.actor for row in denied}


def test_no_run_yet_is_404(client: TestClient, reviewer: Headers) -> None:
    """Before any deduplication run the queue says to run one."""
    answer = client.get(REVIEWS, headers=reviewer)
    assert answer.status_code == 404
    assert "fairshare dedup run" in answer.json()["detail"]
