"""Names are personal data: they never reach a URL or a log line, and records appear only
in answer to a search."""

from __future__ import annotations

import logging
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

from fairshare.identity.model import Purpose, Role
from tests.integration.web.conftest import (
    FAMILY_NAMES,
    GIVEN_NAMES,
    Registered,
    UserFactory,
    log_in,
)


def test_search_page_shows_no_one_until_a_search_is_made(
    web: TestClient, make_user: UserFactory, registered: Registered
) -> None:
    """The search page lists no records; a query string does not search."""
    make_user(Role.CASEWORKER, "luis.caseworker")
    log_in(web, "luis.caseworker", Purpose.CASE_MANAGEMENT)
    page = web.get("/caseworker/search", params={"name": FAMILY_NAMES})
    assert FAMILY_NAMES not in page.text
    assert "results-title" not in page.text


def test_search_is_a_post_and_names_stay_out_of_urls(
    web: TestClient, make_user: UserFactory, registered: Registered
) -> None:
    """The search form posts; results come in the body; no URL on the way carries the name."""
    make_user(Role.CASEWORKER, "luis.caseworker")
    token = log_in(web, "luis.caseworker", Purpose.CASE_MANAGEMENT)
    form = web.get("/caseworker/search").text
    assert 'method="post" action="/caseworker/search"' in form
    answer = web.post("/caseworker/search", data={"csrf_token": token, "name": "zapatacruz"})
    assert answer.status_code == 200
    assert "2 people found" in answer.text and f"{FAMILY_NAMES}, {GIVEN_NAMES}" in answer.text
    urls = [str(r.url) for r in [*answer.history, answer]]
    urls += [r.headers.get("location", "") for r in answer.history]
    for url in urls:
        assert "zapatacruz" not in unquote(url).lower()
    for link in answer.text.split('href="')[1:]:
        assert FAMILY_NAMES.lower() not in unquote(link.split('"')[0]).lower()


def test_search_without_criteria_is_refused_next_to_the_field(
    web: TestClient, make_user: UserFactory
) -> None:
    """An empty search says what to give, and a bad date is named."""
    make_user(Role.CASEWORKER, "luis.caseworker")
    token = log_in(web, "luis.caseworker", Purpose.CASE_MANAGEMENT)
    empty = web.post("/caseworker/search", data={"csrf_token": token, "region": "Costa"})
    assert empty.status_code == 422
    assert 'id="f-name-error"' in empty.text and 'value="Costa"' in empty.text
    bad_date = web.post("/caseworker/search", data={"csrf_token": token, "date_of_birth": "9/4/61"})
    assert 'id="f-date-of-birth-error"' in bad_date.text


def test_no_personal_data_in_log_output(
    web: TestClient,
    make_user: UserFactory,
    registered: Registered,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Register, search, view, edit and fail forms with names: no log line holds a name."""
    caplog.set_level(logging.DEBUG)
    make_user(Role.CASEWORKER, "luis.caseworker")
    token = log_in(web, "luis.caseworker", Purpose.REGISTRATION)
    web.post(
        "/caseworker/households/new",
        data={
            "csrf_token": token,
            "household.region": "Costa",
            "household.address": "Av. del Mar 3",
            "member-0.given_names": "Wenceslaa",
            "member-0.family_names": "Quillahuaman",
            "member-0.date_of_birth": "1950-03-10",
            "member-0.sex": "female",
            "member-0.relationship_to_head": "head",
        },
    )
    web.post(
        "/caseworker/households/new",
        data={"csrf_token": token, "member-0.given_names": "Wenceslaa"},
    )
    web.post("/caseworker/search", data={"csrf_token": token, "name": "Quillahuaman"})
    web.post("/caseworker/search", data={"csrf_token": token, "name": FAMILY_NAMES})
    web.get(f"/caseworker/people/{registered.person_id}")
    web.post("/login", data={"csrf_token": "forged", "username": "Quillahuaman"})
    captured = capsys.readouterr()
    logged = "\n".join(
        [captured.out, captured.err, *(record.getMessage() for record in caplog.records)]
    ).lower()
    assert "web.login.succeeded" in logged  # the capture works
    for name in ("wenceslaa", "quillahuaman", "zapatacruz", "rosa elena"):
        assert name not in logged
