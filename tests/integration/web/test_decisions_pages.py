"""The decisions and appeals pages: the citizen reads and appeals, a caseworker decides."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from fairshare.assets import to_minor_units
from fairshare.bootstrap import Services
from fairshare.eligibility.model import DeclaredField, ProgrammeSpec
from fairshare.identity.model import Purpose, Role
from tests.conftest import actor
from tests.integration.web.conftest import Registered, UserFactory, log_in, new_client

# On this day the registered head of household is 64: the pension says no, which she appeals.
REFERENCE = date(2025, 6, 1)
AGE = DeclaredField("date_of_birth", "age-based conditions are worked out from it")
INCOME = DeclaredField("monthly_income", "means test on own and household income")
APPEAL_REASON = "I turn 65 next week and my income is 70.00"


@pytest.fixture
def decided(services: Services, registered: Registered, make_user: UserFactory) -> Registered:
    """The pension and the food basket published and run; accounts for both members."""
    officer = actor(Role.PROGRAMME_OFFICER, Purpose.PROGRAMME_DESIGN, username="olga.officer")
    for spec in (
        ProgrammeSpec(
            code="old_age_pension",
            name="Old-age pension",
            description="For people aged 65 or more with little income",
            target="person",
            asset="local_currency",
            amount=to_minor_units("local_currency", "130.00"),
            period="monthly",
            declared=(AGE, INCOME),
            rule="age >= 65 && monthly_income < 150",
        ),
        ProgrammeSpec(
            code="food_basket",
            name="Food basket",
            description="",
            target="household",
            asset="food_basket",
            amount=1,
            period="monthly",
            declared=(AGE, INCOME),
            rule="members.filter(m, m.age < 5).size() > 0 && income_per_person < 120",
        ),
    ):
        services.eligibility.create_programme(officer, spec)
        services.eligibility.publish(officer, spec.code)
        services.eligibility.run(officer, spec.code, REFERENCE)
    make_user(Role.CITIZEN, "rosa.citizen", person_id=registered.person_id)
    make_user(Role.CITIZEN, "tomas.citizen", person_id=registered.member_id)
    make_user(Role.CASEWORKER, "rita.reviewer")
    return registered


def decision_id(page: str, programme: str) -> str:
    """The id in the Appeal link of the programme's decision on the citizen's page."""
    section = page.split(f"{programme}: ")[1]
    return section.split("/me/decisions/")[1].split("/appeal")[0]


def test_citizen_sees_decisions_explained_in_english_and_spanish(
    web: TestClient, decided: Registered
) -> None:
    """Each decision in force with its outcome, plain-language reasons, rule version and date."""
    log_in(web, "rosa.citizen")
    page = web.get("/me/decisions")
    assert page.status_code == 200
    assert "Old-age pension: not eligible" in page.text
    assert "Food basket: not eligible" in page.text
    assert "You are not eligible for Old-age pension" in page.text
    assert "Your household is not eligible for Food basket" in page.text
    assert "Rule version" in page.text and "2025-" not in page.text.split("Rule version")[0]
    assert page.text.count('href="/me/decisions/') == 2
    spanish = web.get("/me/decisions", headers={"Accept-Language": "es"})
    assert "Mis decisiones" in spanish.text
    assert "Usted no tiene derecho a Old-age pension" in spanish.text
    assert "Su hogar no tiene derecho a Food basket" in spanish.text
    assert "Versión de la regla" in spanish.text


def test_citizen_appeals_and_bad_reasons_keep_the_input(
    web: TestClient, decided: Registered
) -> None:
    """A blank or too-long reason re-renders the form with the text kept and the error by it;
    a good one files the appeal, shown as waiting, and the decision cannot be appealed twice."""
    token = log_in(web, "rosa.citizen")
    pension = decision_id(web.get("/me/decisions").text, "Old-age pension")
    form = web.get(f"/me/decisions/{pension}/appeal")
    assert form.status_code == 200 and "You are not eligible for Old-age pension" in form.text
    blank = web.post(f"/me/decisions/{pension}/appeal", data={"csrf_token": token, "reason": "  "})
    assert blank.status_code == 422
    assert 'id="f-reason-error"' in blank.text and "is required" in blank.text
    long_reason = "My income changed. " + "x" * 490
    too_long = web.post(
        f"/me/decisions/{pension}/appeal", data={"csrf_token": token, "reason": long_reason}
    )
    assert too_long.status_code == 422
    assert "509 characters long; the limit is 500" in too_long.text
    assert "My income changed. xxxx" in too_long.text.split('id="f-reason"')[1]
    sent = web.post(
        f"/me/decisions/{pension}/appeal", data={"csrf_token": token, "reason": APPEAL_REASON}
    )
    assert sent.status_code == 200 and "Your appeal was sent." in sent.text
    assert APPEAL_REASON in sent.text and "waiting, to be decided by" in sent.text
    assert "appeal open" in sent.text
    again = web.post(
        f"/me/decisions/{pension}/appeal", data={"csrf_token": token, "reason": APPEAL_REASON}
    )
    assert again.status_code == 409


def test_citizen_cannot_see_or_appeal_someone_elses_decision(
    services: Services, web: TestClient, decided: Registered
) -> None:
    """Another person's decision: the form is not found, and filing is refused (403)."""
    log_in(web, "rosa.citizen")
    pension = decision_id(web.get("/me/decisions").text, "Old-age pension")
    with new_client(services) as other:
        token = log_in(other, "tomas.citizen")
        assert other.get(f"/me/decisions/{pension}/appeal").status_code == 404
        refused = other.post(
            f"/me/decisions/{pension}/appeal", data={"csrf_token": token, "reason": "not mine"}
        )
        assert refused.status_code == 403
        assert APPEAL_REASON not in other.get("/me/decisions").text
    assert "not mine" not in web.get("/me/decisions").text


def test_caseworker_overturns_and_the_citizen_sees_the_outcome(
    services: Services, web: TestClient, decided: Registered
) -> None:
    """Queue with decision, explanation and reason; overturn asks to confirm; the citizen sees
    the new decision and answer, and the caseworker's review in who accessed the record."""
    token = log_in(web, "rosa.citizen")
    pension = decision_id(web.get("/me/decisions").text, "Old-age pension")
    web.post(f"/me/decisions/{pension}/appeal", data={"csrf_token": token, "reason": APPEAL_REASON})
    with new_client(services) as caseworker:
        worker = log_in(caseworker, "rita.reviewer", Purpose.APPEAL_REVIEW)
        queue = caseworker.get("/caseworker/appeals")
        assert queue.status_code == 200
        assert APPEAL_REASON in queue.text
        assert "You are not eligible for Old-age pension" in queue.text
        appeal_id = queue.text.split("/caseworker/appeals/")[1].split("/decision")[0]
        blank = caseworker.post(
            f"/caseworker/appeals/{appeal_id}/decision",
            data={"csrf_token": worker, "outcome": "overturn", "reason": ""},
        )
        assert blank.status_code == 422 and f'id="reason-{appeal_id}-error"' in blank.text
        overturn = {
            "csrf_token": worker,
            "outcome": "overturn",
            "reason": "Birth certificate seen",
            "subject_type": "person",
        }
        wrong_subject = {**overturn, "subject_id": decided.member_id}
        assert (
            caseworker.post(
                f"/caseworker/appeals/{appeal_id}/decision", data=wrong_subject
            ).status_code
            == 404
        )
        confirm = caseworker.post(
            f"/caseworker/appeals/{appeal_id}/decision",
            data={**overturn, "subject_id": decided.person_id},
        )
        assert confirm.status_code == 200 and "Overturn the decision?" in confirm.text
        assert "The decision becomes: eligible for Old-age pension" in confirm.text
        assert APPEAL_REASON in caseworker.get("/caseworker/appeals").text  # nothing decided yet
        done = caseworker.post(
            f"/caseworker/appeals/{appeal_id}/decision",
            data={**overturn, "subject_id": decided.person_id, "confirm": "yes"},
        )
        assert "The decision was overturned." in done.text and "No open appeals." in done.text
        person = caseworker.get(f"/caseworker/people/{decided.person_id}/appeals")
        assert person.status_code == 200 and "Birth certificate seen" in person.text
        assert "overturned" in person.text
    mine = web.get("/me/decisions").text
    assert "Old-age pension: eligible" in mine
    assert "a caseworker, on appeal" in mine and "decision changed" in mine
    assert "Birth certificate seen" in mine
    report = web.get("/me/access").text
    assert "rita.reviewer" in report and "Appeal review" in report
    assert "read appeals" in report and "decided an appeal" in report
    assert "read eligibility decisions" in report


def test_household_appeal_is_shown_with_the_household_decision(
    services: Services, web: TestClient, decided: Registered
) -> None:
    """An appeal against a household's decision is queued with that decision's explanation and
    confirmed with it; keeping the decision needs no confirmation."""
    token = log_in(web, "rosa.citizen")
    basket = decision_id(web.get("/me/decisions").text, "Food basket")
    web.post(f"/me/decisions/{basket}/appeal", data={"csrf_token": token, "reason": "Food costs"})
    with new_client(services) as caseworker:
        worker = log_in(caseworker, "rita.reviewer", Purpose.APPEAL_REVIEW)
        queue = caseworker.get("/caseworker/appeals").text
        assert "Your household is not eligible for Food basket" in queue
        appeal_id = queue.split("/caseworker/appeals/")[1].split("/decision")[0]
        confirm = caseworker.post(
            f"/caseworker/appeals/{appeal_id}/decision",
            data={
                "csrf_token": worker,
                "outcome": "overturn",
                "reason": "Food costs noted",
                "subject_type": "household",
                "subject_id": decided.household_id,
            },
        )
        assert "The decision becomes: eligible for Food basket" in confirm.text
        kept = caseworker.post(
            f"/caseworker/appeals/{appeal_id}/decision",
            data={"csrf_token": worker, "outcome": "uphold", "reason": "No child under 5"},
        )
        assert "The decision was kept." in kept.text
    mine = web.get("/me/decisions").text
    assert "decision kept" in mine and "No child under 5" in mine


def test_caseworker_pages_need_an_appeal_purpose(
    services: Services, web: TestClient, decided: Registered
) -> None:
    """Under registration the queue offers a purpose switch instead of the appeals; under case
    management the person page links to the person's decisions and appeals."""
    log_in(web, "rita.reviewer", Purpose.REGISTRATION)
    queue = web.get("/caseworker/appeals")
    assert "Appeal review" in queue.text and "No open appeals." not in queue.text
    with new_client(services) as case:
        log_in(case, "rita.reviewer", Purpose.CASE_MANAGEMENT)
        person = case.get(f"/caseworker/people/{decided.person_id}").text
        assert f"/caseworker/people/{decided.person_id}/appeals" in person
        decisions = case.get(f"/caseworker/people/{decided.person_id}/appeals")
        assert decisions.status_code == 200
        assert "Old-age pension: not eligible" in decisions.text
        assert "You are not eligible for Old-age pension" in decisions.text
