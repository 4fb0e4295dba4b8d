"""The registration page warns about likely duplicates and registers only once confirmed."""

from __future__ import annotations

from fastapi.testclient import TestClient

from fairshare.identity.model import Purpose, Role
from tests.integration.web.conftest import (
    FAMILY_NAMES,
    GIVEN_NAMES,
    Registered,
    UserFactory,
    log_in,
)


def _form(token: str) -> dict[str, str]:
    """The registered head of household typed again, accents left out."""
    return {
        "csrf_token": token,
        "members": "1",
        "household.region": "Sierra Central",
        "household.address": "Calle Los Alamos 12",
        "member-0.given_names": GIVEN_NAMES.upper(),
        "member-0.family_names": FAMILY_NAMES,
        "member-0.date_of_birth": "1961-04-09",
        "member-0.sex": "female",
        "member-0.relationship_to_head": "head",
        "action": "register",
    }


def test_likely_duplicate_is_shown_and_needs_a_reason(
    web: TestClient, make_user: UserFactory, registered: Registered
) -> None:
    """409 with the match linked; the tick needs a reason; then the household registers."""
    make_user(Role.CASEWORKER, "luis.caseworker")
    token = log_in(web, "luis.caseworker", Purpose.REGISTRATION)
    warned = web.post("/caseworker/households/new", data=_form(token))
    assert warned.status_code == 409, warned.text
    assert "This may be someone already registered" in warned.text
    assert f'href="/caseworker/people/{registered.person_id}"' in warned.text
    assert 'name="not_duplicate"' in warned.text and 'value="ROSA ELENA"' in warned.text

    no_reason = web.post(
        "/caseworker/households/new", data={**_form(token), "not_duplicate": "yes"}
    )
    assert no_reason.status_code == 422
    assert "Say how you know the person is not one of the people listed" in no_reason.text

    confirmed = web.post(
        "/caseworker/households/new",
        data={
            **_form(token),
            "not_duplicate": "yes",
            "not_duplicate_reason": "a different identity card, seen in person",
        },
        follow_redirects=False,
    )
    assert confirmed.status_code == 303, confirmed.text
    assert "The household was registered." in web.get(confirmed.headers["location"]).text


def test_warning_as_the_caseworker_types(
    web: TestClient, make_user: UserFactory, registered: Registered
) -> None:
    """The htmx check returns the warning fragment for a likely duplicate, nothing otherwise."""
    make_user(Role.CASEWORKER, "luis.caseworker")
    token = log_in(web, "luis.caseworker", Purpose.REGISTRATION)
    page = web.get("/caseworker/households/new").text
    assert 'hx-post="/caseworker/households/check"' in page and 'id="duplicate-check"' in page
    warned = web.post("/caseworker/households/check", data=_form(token))
    assert warned.status_code == 200
    assert "This may be someone already registered" in warned.text
    assert registered.person_id in warned.text and "<html" not in warned.text
    other = {**_form(token), "member-0.given_names": "Ana", "member-0.family_names": "Quispe"}
    assert web.post("/caseworker/households/check", data=other).text.strip() == ""
