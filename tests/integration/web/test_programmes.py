"""The programme officer's pages: a draft with its rule checked as typed, simulation with
tables and charts (small cells hidden), publishing with confirmation, runs, and who may not."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from fairshare.bootstrap import Services
from fairshare.identity.model import Purpose, Role
from fairshare.registry.services import MemberInput
from tests.conftest import actor
from tests.integration.web.conftest import UserFactory, csrf_token, log_in

OFFICER = "pia.officer"


@pytest.fixture
def adults(services: Services) -> None:
    """Eleven adults living alone in Costa and one in Selva: a cell of 11 and a cell of 1."""
    registrar = actor(Role.CASEWORKER, Purpose.REGISTRATION)
    for number in range(12):
        region = "Selva" if number == 11 else "Costa"
        services.registry.register_household(
            registrar,
            {"region": region, "address": f"Calle {number}"},
            [
                MemberInput(
                    {
                        "given_names": f"Persona {number}",
                        "family_names": "Simulada",
                        "date_of_birth": f"{1950 + number}-01-01",
                        "sex": "female" if number % 2 else "male",
                        "relationship_to_head": "head",
                        "monthly_income": f"{50 + 10 * number}.00",
                    }
                )
            ],
        )


@pytest.fixture
def officer(web: TestClient, make_user: UserFactory) -> str:
    """The web client logged in as a programme officer; returns the CSRF token."""
    make_user(Role.PROGRAMME_OFFICER, OFFICER)
    return log_in(web, OFFICER, Purpose.PROGRAMME_DESIGN)


def draft(token: str, **changes: str) -> dict[str, Any]:
    form = {
        "csrf_token": token,
        "code": "adult_grant",
        "name": "Adult grant",
        "description": "A test grant for every adult",
        "target": "person",
        "asset": "local_currency",
        "amount": "10.00",
        "period": "monthly",
        "lines": "2",
        "field-0.name": "date_of_birth",
        "field-0.purpose": "age conditions are worked out from it",
        "field-1.name": "",
        "field-1.purpose": "",
        "depends_on": "",
        "rule": "age >= 18",
    }
    form.update(changes)
    return form


def test_a_rule_error_is_shown_next_to_the_rule_and_the_input_is_kept(
    web: TestClient, officer: str
) -> None:
    """An undeclared field is a compile error with line and column; nothing is saved."""
    answer = web.post(
        "/programmes/new", data=draft(officer, rule="age >= 18 &&\n  monthly_income < 100")
    )
    assert answer.status_code == 422
    html = answer.text
    assert 'id="f-rule-error"' in html
    assert "Line 2, column 3" in html and "monthly_income" in html
    assert 'value="Adult grant"' in html and "monthly_income &lt; 100</textarea>" in html
    assert 'value="10.00"' in html and "age conditions are worked out from it" in html
    assert "There is a problem" in html
    assert web.get("/programmes/adult_grant").status_code == 404


def test_every_error_of_the_form_is_shown_at_once(web: TestClient, officer: str) -> None:
    """A bad amount, a missing name and a rule error come back together, each at its field."""
    answer = web.post(
        "/programmes/new", data=draft(officer, name="", amount="10.123", rule="age >")
    )
    assert answer.status_code == 422
    html = answer.text
    assert 'id="f-amount-error"' in html and "2 decimal places" in html
    assert 'id="f-name-error"' in html
    assert 'id="f-rule-error"' in html and "Line 1, column" in html


def test_the_live_check_answers_with_the_error_or_what_the_rule_reads(
    web: TestClient, officer: str
) -> None:
    """The htmx endpoint returns a fragment: the first error with its position, or success."""
    form = web.get("/programmes/new").text
    assert 'hx-post="/programmes/check"' in form
    assert "/static/vendor/htmx.min.js?v=" in form
    assert "<script>" not in form  # the CSP forbids inline script; only script files
    bad = web.post("/programmes/check", data=draft(officer, rule='age > "abc"'))
    assert bad.status_code == 200
    assert "<html" not in bad.text and 'id="f-rule-error"' in bad.text
    assert "Line 1, column" in bad.text
    good = web.post("/programmes/check", data=draft(officer, rule="age >= 65"))
    assert "The rule is valid" in good.text and "date_of_birth" in good.text
    assert web.post("/programmes/check", data=draft(officer, rule="")).text.strip() == ""


def test_create_simulate_publish_and_run(web: TestClient, officer: str, adults: None) -> None:
    """The officer's main flow: the simulation shows counts, cost, hidden small cells and
    charts; publishing needs confirmation; a run's summary lands in the runs list."""
    created = web.post("/programmes/new", data=draft(officer), follow_redirects=False)
    assert created.status_code == 303, created.text
    assert created.headers["location"] == "/programmes/adult_grant?saved=created"
    listing = web.get("/programmes").text
    assert "adult_grant" in listing and "10.00 local currency monthly" in listing
    assert "not published" in listing

    simulated = web.post(
        "/programmes/adult_grant/simulate", data={"csrf_token": officer, "reference_date": ""}
    )
    assert simulated.status_code == 200, simulated.text
    html = simulated.text
    assert "<strong>12</strong>" in html and "120.00 local currency monthly" in html
    assert '<th scope="row">Costa</th><td class="number">11</td>' in html
    assert '<th scope="row">Selva</th><td class="number">&lt;10</td>' in html
    assert "There is no published version to compare with." in html
    assert 'src="/programmes/adult_grant/charts/region?reference_date=' in html
    chart = web.get("/programmes/adult_grant/charts/region")
    assert chart.status_code == 200 and chart.headers["content-type"] == "image/png"
    assert chart.content.startswith(b"\x89PNG")
    assert web.get("/programmes/adult_grant/charts/religion").status_code == 422

    unconfirmed = web.post("/programmes/adult_grant/publish", data={"csrf_token": officer})
    assert unconfirmed.status_code == 422 and 'id="confirm-error"' in unconfirmed.text
    published = web.post(
        "/programmes/adult_grant/publish",
        data={"csrf_token": officer, "confirm": "yes"},
        follow_redirects=False,
    )
    assert published.status_code == 303
    page = web.get(published.headers["location"]).text
    assert "The draft was published as a new version." in page
    again = web.post(
        "/programmes/adult_grant/publish", data={"csrf_token": officer, "confirm": "yes"}
    )
    assert again.status_code == 409 and "already says exactly this" in again.text

    ran = web.post(
        "/programmes/adult_grant/runs", data={"csrf_token": officer}, follow_redirects=False
    )
    assert ran.status_code == 303
    runs = web.get(ran.headers["location"]).text
    assert "The run finished: 12 eligible of 12 decided, costing 120.00 local currency" in runs
    assert web.get("/programmes").text.count('class="number">12</td>') == 1


def test_edit_the_draft_and_compare_with_the_published_version(
    web: TestClient, officer: str, adults: None
) -> None:
    """The edit form shows the amount in its entry unit; the simulation counts who would
    gain or lose against the published version."""
    web.post("/programmes/new", data=draft(officer))
    web.post("/programmes/adult_grant/publish", data={"csrf_token": officer, "confirm": "yes"})
    form = web.get("/programmes/adult_grant/edit").text
    assert 'value="10.00"' in form and "age &gt;= 18</textarea>" in form
    changed = web.post(
        "/programmes/adult_grant/edit",
        data=draft(officer, amount="12.50", rule="age >= 70"),
        follow_redirects=False,
    )
    assert changed.status_code == 303, changed.text
    assert "age &gt;= 70" in web.get("/programmes/adult_grant").text
    html = web.post("/programmes/adult_grant/simulate", data={"csrf_token": officer}).text
    assert "Compared with the published version 1" in html
    assert "0 would become eligible, 12 would stop being eligible" not in html
    assert "would stop being eligible" in html


def test_adding_a_field_line_keeps_what_was_typed(web: TestClient, officer: str) -> None:
    """Without JavaScript, "Add a field line" returns the form with one more line."""
    answer = web.post(
        "/programmes/new", data={**draft(officer, name="Keep me"), "action": "add_line"}
    )
    assert answer.status_code == 200
    assert 'name="field-2.name"' in answer.text and 'value="Keep me"' in answer.text


@pytest.mark.parametrize(
    ("role", "purpose", "path", "status"),
    [
        (Role.CITIZEN, None, "/programmes", 403),
        (Role.MERCHANT, None, "/programmes", 403),
        (Role.ADMINISTRATOR, Purpose.ADMINISTRATION, "/programmes", 403),
        (Role.CASEWORKER, Purpose.CASE_MANAGEMENT, "/programmes/new", 403),
        (Role.AUDITOR, None, "/programmes/new", 403),
        (Role.AUDITOR, None, "/programmes/adult_grant/simulate", 200),
        (Role.CASEWORKER, Purpose.CASE_MANAGEMENT, "/programmes", 200),
    ],
)
def test_who_may_open_the_programme_pages(
    web: TestClient,
    services: Services,
    make_user: UserFactory,
    role: Role,
    purpose: Purpose | None,
    path: str,
    status: int,
) -> None:
    """Designing is for programme officers; simulating also for caseworkers and auditors."""
    make_user(Role.PROGRAMME_OFFICER, OFFICER)
    officer_client = TestClient(web.app, base_url=str(web.base_url))
    token = log_in(officer_client, OFFICER, Purpose.PROGRAMME_DESIGN)
    officer_client.post("/programmes/new", data=draft(token))
    make_user(role, "someone", person_id=None if role is not Role.CITIZEN else _person(services))
    log_in(web, "someone", purpose)
    assert web.get(path).status_code == status


def _person(services: Services) -> str:
    household = services.registry.register_household(
        actor(Role.CASEWORKER, Purpose.REGISTRATION),
        {"region": "Costa", "address": "Calle 99"},
        [
            MemberInput(
                {
                    "given_names": "Citizen",
                    "family_names": "Tester",
                    "date_of_birth": "1980-01-01",
                    "sex": "female",
                    "relationship_to_head": "head",
                }
            )
        ],
    )
    return household.members[0].id


def test_the_draft_form_needs_a_csrf_token(web: TestClient, officer: str) -> None:
    """A forged form (no token) is refused before anything runs."""
    forged = draft(officer)
    forged.pop("csrf_token")
    assert web.post("/programmes/new", data=forged).status_code == 403
    assert csrf_token(web.get("/programmes/new").text) == officer


def test_the_programme_pages_speak_spanish(web: TestClient, officer: str) -> None:
    """The draft form and the live check answer in the visitor's language."""
    web.cookies.set("fairshare-language", "es")
    form = web.get("/programmes/new").text
    assert "Nuevo programa" in form and "Campos que lee la regla" in form
    check = web.post("/programmes/check", data=draft(officer, rule="age >"))
    assert "Línea 1, columna" in check.text
