"""The duplicate review pages: the queue, a pair side by side with its decision, merges and
their undo, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairshare.audit.model import Tag
from fairshare.audit.orm import access_log
from fairshare.bootstrap import Services
from fairshare.dedup.review import merged_people
from fairshare.identity.model import Purpose, Role
from tests.integration.planted_duplicates import Planted, plant
from tests.integration.web.conftest import UserFactory, log_in, new_client

REVIEWER = "rosa.revisora"


@pytest.fixture
def planted(services: Services) -> Planted:
    return plant(services)


@pytest.fixture
def reviewing(web: TestClient, make_user: UserFactory) -> str:
    """A caseworker logged in for duplicate review; returns the CSRF token."""
    make_user(Role.CASEWORKER, REVIEWER)
    return log_in(web, REVIEWER, Purpose.DUPLICATE_REVIEW)


def _logged(services: Services, tag: Tag) -> set[str]:
    with services.uow() as uow:
        return {
            row.subject_id
            for row in uow.connection.execute(
                select(access_log.c.subject_id).where(
                    (access_log.c.action == tag.value) & (access_log.c.actor == REVIEWER)
                )
            )
        }


def test_queue_lists_pairs_by_probability_with_links(
    web: TestClient, services: Services, planted: Planted, reviewing: str
) -> None:
    """The queue shows each pair's probability, most likely first, linking to the pair by
    its id only; the names listed are logged."""
    page = web.get("/caseworker/duplicates")
    assert page.status_code == 200
    assert "2 pairs are waiting for review." in page.text
    links = re.findall(r'href="/caseworker/duplicates/(\d+)"', page.text)
    assert links == [str(planted.likely_pair), str(planted.unlikely_pair)]
    assert page.text.index("97.0%") < page.text.index("84.0%")
    assert "Anacleta Quispewaman Mamani" in page.text
    assert set(planted.ids.values()) <= _logged(services, Tag.DEDUP_QUEUE_READ)


def test_pair_page_shows_records_side_by_side_with_words_and_markers(
    web: TestClient, services: Services, planted: Planted, reviewing: str
) -> None:
    """Both records in one table; each compared field says agree / partly / disagree /
    missing with a symbol, not by colour alone."""
    page = web.get(f"/caseworker/duplicates/{planted.likely_pair}")
    assert page.status_code == 200
    html = page.text
    assert "Quispewaman Mamani" in html and ">Quispewaman<" in html
    assert '<span aria-hidden="true">✓</span> Agree' in html
    assert '<span aria-hidden="true">≈</span> Partly agree' in html
    assert '<span aria-hidden="true">?</span> Missing' in html
    assert "second family name left out, same municipality" in html
    unlikely = web.get(f"/caseworker/duplicates/{planted.unlikely_pair}").text
    assert '<span aria-hidden="true">✗</span> Disagree' in unlikely
    assert {planted.ids["ana1"], planted.ids["ana2"]} <= _logged(services, Tag.DEDUP_QUEUE_READ)


def test_bad_decisions_are_shown_again_with_the_input_kept(
    web: TestClient, services: Services, planted: Planted, reviewing: str
) -> None:
    """No reason, no survivor or no confirmation: 422, each error beside its input, what was
    typed kept, and the pair still waits."""
    path = f"/caseworker/duplicates/{planted.likely_pair}/decision"
    answer = web.post(path, data={"csrf_token": reviewing, "decision": "accept", "reason": " "})
    assert answer.status_code == 422
    for error in ("decision", "survivor", "confirm", "reason"):
        if error != "decision":
            assert f'id="{error}-error"' in answer.text
    assert 'id="decision-accept" value="accept" checked' in answer.text
    kept = web.post(
        path,
        data={
            "csrf_token": reviewing,
            "decision": "accept",
            "survivor": planted.ids["ana1"],
            "reason": "same birth date and names",
        },
    )
    assert kept.status_code == 422
    assert "same birth date and names</textarea>" in kept.text
    assert 'id="confirm-error"' in kept.text and 'id="reason-error"' not in kept.text
    with services.uow() as uow:
        assert merged_people(uow) == set()


def test_accept_merges_then_unmerge_restores(
    web: TestClient, services: Services, planted: Planted, reviewing: str
) -> None:
    """Accepting with a survivor and the confirmation merges; deciding again is refused
    (409); the merges page undoes it only with a reason."""
    path = f"/caseworker/duplicates/{planted.likely_pair}/decision"
    decision = {
        "csrf_token": reviewing,
        "decision": "accept",
        "survivor": planted.ids["ana1"],
        "confirm": "yes",
        "reason": "same woman registered twice",
    }
    merged = web.post(path, data=decision, follow_redirects=False)
    assert merged.status_code == 303
    assert merged.headers["location"].startswith("/caseworker/merges?merged=")
    with services.uow() as uow:
        assert merged_people(uow) == {planted.ids["ana2"]}
    page = web.get(merged.headers["location"])
    assert "The two records were merged." in page.text
    merge_id = merged.headers["location"].split("=")[1]

    twice = web.post(path, data={**decision, "decision": "reject"})
    assert twice.status_code == 409
    assert "not waiting for review" in twice.text

    unmerge = f"/caseworker/merges/{merge_id}/unmerge"
    blank = web.post(unmerge, data={"csrf_token": reviewing, "reason": ""})
    assert blank.status_code == 422 and f'id="reason-{merge_id}-error"' in blank.text
    with services.uow() as uow:
        assert merged_people(uow) == {planted.ids["ana2"]}
    undone = web.post(unmerge, data={"csrf_token": reviewing, "reason": "two sisters"})
    assert undone.status_code == 200
    assert "The merge was undone" in undone.text
    with services.uow() as uow:
        assert merged_people(uow) == set()
    again = web.post(unmerge, data={"csrf_token": reviewing, "reason": "two sisters"})
    assert again.status_code == 409 and "undone already" in again.text
    assert planted.ids["ana2"] in _logged(services, Tag.DEDUP_PERSON_UNMERGE)


def test_reject_returns_to_the_queue_without_the_pair(
    web: TestClient, planted: Planted, reviewing: str
) -> None:
    """Rejecting a pair says so and the queue no longer lists it."""
    answer = web.post(
        f"/caseworker/duplicates/{planted.unlikely_pair}/decision",
        data={"csrf_token": reviewing, "decision": "reject", "reason": "a couple, two people"},
    )
    assert answer.status_code == 200
    assert "The pair was rejected" in answer.text
    assert f'href="/caseworker/duplicates/{planted.unlikely_pair}"' not in answer.text


def test_unknown_pair_is_404_and_other_purposes_are_offered_the_switch(
    web: TestClient, services: Services, make_user: UserFactory, planted: Planted
) -> None:
    """An unknown pair is a 404 page; under another purpose the page offers duplicate review
    instead of calling the service."""
    make_user(Role.CASEWORKER, "luis.caseworker")
    log_in(web, "luis.caseworker", Purpose.CASE_MANAGEMENT)
    prompt = web.get(f"/caseworker/duplicates/{planted.likely_pair}")
    assert prompt.status_code == 200 and 'value="duplicate_review"' in prompt.text
    assert "Quispewaman" not in prompt.text
    with new_client(services) as reviewer:
        log_in(reviewer, "luis.caseworker", Purpose.DUPLICATE_REVIEW)
        assert reviewer.get("/caseworker/duplicates/999999").status_code == 404
        assert reviewer.get("/caseworker/duplicates/not-a-number").status_code == 404


def test_pages_in_spanish(web: TestClient, planted: Planted, reviewing: str) -> None:
    """The queue, a pair and the merges page read in Spanish."""
    web.cookies.set("fairshare-language", "es")
    assert "Revisión de duplicados" in web.get("/caseworker/duplicates").text
    pair = web.get(f"/caseworker/duplicates/{planted.likely_pair}").text
    assert "¿Son la misma persona?" in pair and "Coinciden" in pair
    assert "Fusiones" in web.get("/caseworker/merges").text


def test_no_run_yet(web: TestClient, reviewing: str) -> None:
    """Before any duplicate search the queue says so."""
    page = web.get("/caseworker/duplicates")
    assert page.status_code == 200 and "No duplicate search has been run yet." in page.text
