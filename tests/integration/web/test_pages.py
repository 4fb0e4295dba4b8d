"""Each page renders for its role, and each flow does what the page says."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from fairshare.identity.model import Purpose, Role
from fairshare.web import auditor
from tests.integration.web.conftest import (
    FAMILY_NAMES,
    GIVEN_NAMES,
    Registered,
    UserFactory,
    log_in,
)

PAGES = [
    (Role.CASEWORKER, Purpose.REGISTRATION, "/caseworker/households/new", "Register a household"),
    (Role.CASEWORKER, Purpose.CASE_MANAGEMENT, "/caseworker/search", "Search people"),
    (Role.CASEWORKER, Purpose.CASE_MANAGEMENT, "/caseworker/people/{person}", GIVEN_NAMES),
    (
        Role.CASEWORKER,
        Purpose.CASE_MANAGEMENT,
        "/caseworker/people/{person}/edit",
        "Change the record",
    ),
    (
        Role.CASEWORKER,
        Purpose.CASE_MANAGEMENT,
        "/caseworker/people/{person}/history",
        "History of changes",
    ),
    (Role.CASEWORKER, Purpose.CASE_MANAGEMENT, "/caseworker/households/{household}", "Members"),
    (
        Role.CASEWORKER,
        Purpose.CORRECTION_HANDLING,
        "/caseworker/corrections",
        "Correction requests",
    ),
    (Role.CITIZEN, None, "/me", "Everything Fairshare holds about you"),
    (Role.CITIZEN, None, "/me/household", "My household"),
    (Role.CITIZEN, None, "/me/access", "Who accessed my record, and why"),
    (Role.CITIZEN, None, "/me/corrections", "Ask for a correction"),
    (Role.CITIZEN, None, "/me/consent", "Your consent to health information"),
    (Role.AUDITOR, None, "/auditor/log", "Search the access log"),
    (Role.AUDITOR, None, "/auditor/verify", "Verify the access log"),
    (Role.ADMINISTRATOR, Purpose.ADMINISTRATION, "/admin/catalogue", "Field catalogue"),
    (Role.ADMINISTRATOR, Purpose.ADMINISTRATION, "/admin/users", "User accounts"),
    (Role.PROGRAMME_OFFICER, Purpose.PROGRAMME_DESIGN, "/", "What would you like to do?"),
    (Role.PROGRAMME_OFFICER, Purpose.PROGRAMME_DESIGN, "/programmes", "Programmes"),
    (Role.PROGRAMME_OFFICER, Purpose.PROGRAMME_DESIGN, "/programmes/new", "New programme"),
    (Role.CITIZEN, None, "/me/entitlements", "My entitlements"),
    (Role.MERCHANT, None, "/", "What would you like to do?"),
    (Role.MERCHANT, None, "/merchant", "Point of sale"),
]


@pytest.mark.parametrize(("role", "purpose", "path", "heading"), PAGES)
def test_each_page_renders_for_its_role(
    web: TestClient,
    make_user: UserFactory,
    registered: Registered,
    role: Role,
    purpose: Purpose | None,
    path: str,
    heading: str,
) -> None:
    """The page answers 200 with its heading, in a layout with a skip link and one h1."""
    person = registered.person_id if role is Role.CITIZEN else None
    make_user(role, "someone", person_id=person)
    log_in(web, "someone", purpose)
    page = web.get(path.format(person=registered.person_id, household=registered.household_id))
    assert page.status_code == 200, page.text
    assert heading in page.text
    assert page.text.count("<h1") == 1
    assert 'href="#main"' in page.text and 'id="main"' in page.text


def test_public_page_lists_catalogue_statistics_and_red_lines(
    web: TestClient, registered: Registered
) -> None:
    """Without login: every field with its purpose, counts under 10 withheld, red lines named."""
    page = web.get("/transparency")
    assert page.status_code == 200
    for text in ("Given names", "identify the person", "Disability", "medicine programmes"):
        assert text in page.text
    assert "Sierra Central" in page.text and "&lt;10" in page.text
    for category in ("party membership", "religion or belief", "behaviour or loyalty score"):
        assert category in page.text
    assert FAMILY_NAMES not in page.text


def test_person_view_shows_health_only_under_a_health_purpose(
    web: TestClient, make_user: UserFactory, registered: Registered
) -> None:
    """Case management sees no health value; health assessment does."""
    make_user(Role.CASEWORKER, "luis.caseworker")
    token = log_in(web, "luis.caseworker", Purpose.CASE_MANAGEMENT)
    path = f"/caseworker/people/{registered.person_id}"
    assert "Psychosocial" not in web.get(path).text
    assert "Health information is not shown for your purpose" in web.get(path).text
    web.post("/purpose", data={"purpose": "health_assessment", "csrf_token": token})
    assert "Psychosocial" in web.get(path).text


def test_register_a_household_with_two_members(web: TestClient, make_user: UserFactory) -> None:
    """The catalogue-driven form registers the household and shows it."""
    make_user(Role.CASEWORKER, "luis.caseworker")
    token = log_in(web, "luis.caseworker", Purpose.REGISTRATION)
    form = {
        "csrf_token": token,
        "members": "1",
        "household.region": "Costa",
        "household.address": "Av. del Mar 3",
        "member-0.given_names": "Ana",
        "member-0.family_names": "Quispe",
        "member-0.date_of_birth": "1950-03-10",
        "member-0.sex": "female",
        "member-0.relationship_to_head": "head",
        "member-0.health_consent": "yes",
        "member-0.consent_method": "signed form",
        "member-0.chronic_illness": "diabetes",
    }
    grown = web.post("/caseworker/households/new", data={**form, "action": "add_member"})
    assert 'id="member-2"' in grown.text and 'value="Quispe"' in grown.text
    answer = web.post(
        "/caseworker/households/new",
        data={
            **form,
            "members": "2",
            "member-1.given_names": "Luz",
            "member-1.family_names": "Quispe",
            "member-1.date_of_birth": "2020-06-02",
            "member-1.sex": "female",
            "member-1.relationship_to_head": "grandchild",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    household = web.get(answer.headers["location"])
    assert "The household was registered." in household.text
    assert "Quispe, Ana" in household.text and "Quispe, Luz" in household.text


def test_edit_needs_a_reason_and_lands_in_the_history(
    web: TestClient, make_user: UserFactory, registered: Registered
) -> None:
    """A change without a reason is refused next to the reason; with one it is in the history."""
    make_user(Role.CASEWORKER, "luis.caseworker")
    token = log_in(web, "luis.caseworker", Purpose.CASE_MANAGEMENT)
    path = f"/caseworker/people/{registered.person_id}/edit"
    form = web.get(path).text
    assert 'name="version" value="1"' in form
    assert "disability" not in form  # no health field under case management
    values = {
        "csrf_token": token,
        "version": "1",
        "given_names": GIVEN_NAMES,
        "family_names": FAMILY_NAMES,
        "date_of_birth": "1961-04-09",
        "sex": "female",
        "relationship_to_head": "head",
        "monthly_income": "70.00",
        "phone": "+58 412 5550101",
    }
    refused = web.post(path, data={**values, "reason": ""})
    assert refused.status_code == 422
    assert 'id="f-reason-error"' in refused.text and 'value="+58 412 5550101"' in refused.text
    saved = web.post(path, data={**values, "reason": "new phone given at the office"})
    assert "The record was changed." in saved.text
    history = web.get(f"/caseworker/people/{registered.person_id}/history").text
    assert "+58 412 5550101" in history and "new phone given at the office" in history


def test_a_stale_edit_is_refused_with_advice(
    web: TestClient, make_user: UserFactory, registered: Registered
) -> None:
    """Saving over someone else's change is refused and says to reload."""
    make_user(Role.CASEWORKER, "luis.caseworker")
    token = log_in(web, "luis.caseworker", Purpose.CASE_MANAGEMENT)
    answer = web.post(
        f"/caseworker/people/{registered.person_id}/edit",
        data={"csrf_token": token, "version": "7", "phone": "+58 1", "reason": "because"},
    )
    assert answer.status_code == 422
    assert "Someone changed this record while you were editing it" in answer.text


def test_citizen_correction_is_decided_by_a_caseworker(
    services: object,
    web: TestClient,
    make_user: UserFactory,
    registered: Registered,
) -> None:
    """The citizen asks, the caseworker applies with a reason, the citizen sees the answer."""
    from tests.integration.web.conftest import new_client

    make_user(Role.CITIZEN, "rosa.citizen", person_id=registered.person_id)
    make_user(Role.CASEWORKER, "luis.caseworker")
    token = log_in(web, "rosa.citizen")
    missing = web.post(
        "/me/corrections", data={"csrf_token": token, "field": "phone", "value": "1"}
    )
    assert missing.status_code == 422 and 'id="f-reason-error"' in missing.text
    sent = web.post(
        "/me/corrections",
        data={
            "csrf_token": token,
            "field": "phone",
            "value": "+58 414 5550000",
            "reason": "new number",
        },
    )
    assert "Your request was sent." in sent.text
    with new_client(services) as caseworker:  # type: ignore[arg-type]
        worker_token = log_in(caseworker, "luis.caseworker", Purpose.CORRECTION_HANDLING)
        queue = caseworker.get("/caseworker/corrections").text
        assert "+58 414 5550000" in queue
        correction_id = queue.split("/caseworker/corrections/")[1].split("/decision")[0]
        no_reason = caseworker.post(
            f"/caseworker/corrections/{correction_id}/decision",
            data={"csrf_token": worker_token, "decision": "apply", "reason": ""},
        )
        assert (
            no_reason.status_code == 422 and f'id="reason-{correction_id}-error"' in no_reason.text
        )
        applied = caseworker.post(
            f"/caseworker/corrections/{correction_id}/decision",
            data={"csrf_token": worker_token, "decision": "apply", "reason": "checked the ID"},
        )
        assert "The correction was applied." in applied.text
    mine = web.get("/me/corrections").text
    assert "applied" in mine and "checked the ID" in mine


def test_citizen_sees_who_accessed_and_why(
    services: object, web: TestClient, make_user: UserFactory, registered: Registered
) -> None:
    """A caseworker's view appears in the citizen's access report with role and purpose."""
    from tests.integration.web.conftest import new_client

    make_user(Role.CITIZEN, "rosa.citizen", person_id=registered.person_id)
    make_user(Role.CASEWORKER, "luis.caseworker")
    with new_client(services) as caseworker:  # type: ignore[arg-type]
        log_in(caseworker, "luis.caseworker", Purpose.HEALTH_ASSESSMENT)
        caseworker.get(f"/caseworker/people/{registered.person_id}")
    log_in(web, "rosa.citizen")
    report = web.get("/me/access").text
    assert "luis.caseworker" in report
    assert "Health assessment" in report and "read the record" in report
    assert "ana.registrar" in report and "registered the person" in report


def test_citizen_downloads_everything_as_json(
    web: TestClient, make_user: UserFactory, registered: Registered
) -> None:
    """The download is a JSON attachment with every field and its purpose."""
    make_user(Role.CITIZEN, "rosa.citizen", person_id=registered.person_id)
    log_in(web, "rosa.citizen")
    download = web.get("/me/export")
    assert download.headers["content-type"].startswith("application/json")
    assert "attachment" in download.headers["content-disposition"]
    data = json.loads(download.text)
    fields = {f["field"]: f for f in data["fields"]}
    assert fields["family_names"]["value"] == FAMILY_NAMES
    assert fields["disability"]["purpose"] == "disability-related entitlements"


def test_withdrawing_consent_needs_confirmation_and_erases(
    web: TestClient, make_user: UserFactory, registered: Registered
) -> None:
    """Without the box ticked nothing happens; with it the health values are erased."""
    make_user(Role.CITIZEN, "rosa.citizen", person_id=registered.person_id)
    token = log_in(web, "rosa.citizen")
    unconfirmed = web.post("/me/consent/withdraw", data={"csrf_token": token})
    assert unconfirmed.status_code == 422 and 'id="confirm-error"' in unconfirmed.text
    assert "Psychosocial" in web.get("/me").text
    done = web.post("/me/consent/withdraw", data={"csrf_token": token, "confirm": "yes"})
    assert "1 health value was erased" in done.text
    assert "Psychosocial" not in web.get("/me").text


def test_auditor_searches_pages_and_verifies(
    web: TestClient, make_user: UserFactory, registered: Registered
) -> None:
    """Search by subject finds its entries; bad dates are named; verification says intact."""
    make_user(Role.AUDITOR, "olga.auditor")
    token = log_in(web, "olga.auditor")
    found = web.post(
        "/auditor/log",
        data={"csrf_token": token, "subject_id": registered.person_id, "page": "1"},
    )
    assert found.status_code == 200
    assert "registered the person" in found.text and "ana.registrar" in found.text
    bad = web.post("/auditor/log", data={"csrf_token": token, "since": "yesterday"})
    assert bad.status_code == 422 and 'id="f-since-error"' in bad.text
    assert 'value="yesterday"' in bad.text
    verified = web.post("/auditor/verify", data={"csrf_token": token})
    assert "The log is intact" in verified.text


def test_auditor_log_is_paginated(
    web: TestClient,
    make_user: UserFactory,
    registered: Registered,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """More than a page of entries offers the older page, which continues the list."""
    monkeypatch.setattr(auditor, "PAGE_SIZE", 2)
    make_user(Role.AUDITOR, "olga.auditor")
    token = log_in(web, "olga.auditor")
    first = web.post("/auditor/log", data={"csrf_token": token, "page": "1"})
    assert 'name="page" value="2"' in first.text
    second = web.post("/auditor/log", data={"csrf_token": token, "page": "2"})
    assert "Page 2" in second.text and 'name="page" value="1"' in second.text


def test_admin_declares_a_field_and_the_red_line_refuses_one(
    web: TestClient, make_user: UserFactory
) -> None:
    """A harmless field is declared; `partido_politico` is refused naming party membership."""
    make_user(Role.ADMINISTRATOR, "ada.admin")
    token = log_in(web, "ada.admin", Purpose.ADMINISTRATION)
    declared = web.post(
        "/admin/catalogue",
        data={
            "csrf_token": token,
            "name": "school_attendance",
            "label": "Attends school",
            "type": "boolean",
            "entity": "person",
            "purpose": "child benefit conditions",
            "sensitivity": "personal",
        },
    )
    assert "The field school_attendance was declared." in declared.text
    refused = web.post(
        "/admin/catalogue",
        data={
            "csrf_token": token,
            "name": "partido_politico",
            "label": "Partido",
            "type": "text",
            "entity": "person",
            "purpose": "to know",
            "sensitivity": "personal",
        },
    )
    assert refused.status_code == 422
    assert "Refused: party membership" in refused.text
    assert 'id="f-name-error"' in refused.text and 'value="partido_politico"' in refused.text
    assert "partido_politico" not in web.get("/transparency").text


def test_registration_form_shows_custom_fields(web: TestClient, make_user: UserFactory) -> None:
    """A declared custom field appears in the registration form."""
    make_user(Role.ADMINISTRATOR, "ada.admin")
    make_user(Role.CASEWORKER, "luis.caseworker")
    token = log_in(web, "ada.admin", Purpose.ADMINISTRATION)
    web.post(
        "/admin/catalogue",
        data={
            "csrf_token": token,
            "name": "water_source",
            "label": "Water source",
            "type": "enumeration",
            "entity": "household",
            "purpose": "housing conditions",
            "sensitivity": "personal",
            "choices": "piped\nwell\nriver",
        },
    )
    web.post("/logout", data={"csrf_token": token})
    log_in(web, "luis.caseworker", Purpose.REGISTRATION)
    form = web.get("/caseworker/households/new").text
    assert 'name="household.water_source"' in form and 'value="well"' in form


def test_admin_creates_unlocks_and_deactivates_users(
    web: TestClient, make_user: UserFactory, registered: Registered
) -> None:
    """Accounts are created with field errors shown, and can be deactivated and reactivated."""
    make_user(Role.ADMINISTRATOR, "ada.admin")
    token = log_in(web, "ada.admin", Purpose.ADMINISTRATION)
    weak = web.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "username": "rosa.citizen",
            "role": "citizen",
            "password": "short",
        },
    )
    assert weak.status_code == 422
    assert 'id="f-password-error"' in weak.text and 'id="f-person-id-error"' in weak.text
    assert 'value="rosa.citizen"' in weak.text
    created = web.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "username": "rosa.citizen",
            "role": "citizen",
            "password": "a long enough password",
            "person_id": registered.person_id,
        },
    )
    assert "The account was created." in created.text
    off = web.post(
        "/admin/users/deactivate", data={"csrf_token": token, "username": "rosa.citizen"}
    )
    assert "The account was deactivated" in off.text
    on = web.post("/admin/users/activate", data={"csrf_token": token, "username": "rosa.citizen"})
    assert "The account was reactivated." in on.text
    unlocked = web.post(
        "/admin/users/unlock", data={"csrf_token": token, "username": "rosa.citizen"}
    )
    assert "The account was unlocked." in unlocked.text
    self_off = web.post(
        "/admin/users/deactivate", data={"csrf_token": token, "username": "ada.admin"}
    )
    assert self_off.status_code == 422
